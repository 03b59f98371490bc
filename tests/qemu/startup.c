/* startup.c - vector table, reset, semihosting and NVIC helpers shared by the QEMU test images. */
#include <stddef.h>
#include <string.h>

#include "board.h"

extern uint32_t __data_load[], __data_start[], __data_end[], __bss_start[], __bss_end[];
int main(void);

_Noreturn void reset_handler(void) {
    memcpy(__data_start, __data_load, (size_t)((char *)__data_end - (char *)__data_start));
    memset(__bss_start, 0, (size_t)((char *)__bss_end - (char *)__bss_start));
    sh_exit(main());
}

static void hard_fault(void) {
    sh_puts("HardFault\n");
    sh_exit(3);
}

static void unexpected(void) {
    sh_puts("unexpected exception\n");
    sh_exit(4);
}

typedef void (*vector)(void);
__attribute__((section(".vectors"), used)) static const vector vectors[16 + 32] = {
    [0] = (vector)(uintptr_t)__stack_top,
    [1] = (vector)reset_handler,
    [2] = unexpected, /* NMI */
    [3] = hard_fault,
    [4] = hard_fault, [5] = hard_fault, [6] = hard_fault,
    [11] = unexpected, [14] = unexpected,
    [15] = systick_irq,
    [16 + 8] = timer0_irq,
    [16 + 9] = timer1_irq,
};

/* ---- semihosting ---- */
static int sh_call(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void sh_puts(const char *s) {
    sh_call(0x04, s); /* SYS_WRITE0 */
}

void sh_put_u32(const char *label, uint32_t v) {
    char buf[96];
    size_t n = strlen(label);
    if (n > 80)
        n = 80;
    memcpy(buf, label, n);
    buf[n++] = ' ';
    char digits[11];
    int d = 0;
    do {
        digits[d++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    while (d > 0)
        buf[n++] = digits[--d];
    buf[n++] = '\n';
    buf[n] = '\0';
    sh_puts(buf);
}

_Noreturn void sh_exit(int code) {
    uint32_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)code};
    sh_call(0x20, block); /* SYS_EXIT_EXTENDED */
    for (;;) {
    }
}

int sh_cmdline(char *buf, int size) {
    struct {
        char *buf;
        int len;
    } block = {buf, size};
    if (sh_call(0x15, &block) != 0) /* SYS_GET_CMDLINE */
        return 0;
    return block.len;
}

/* ---- NVIC and SysTick (word accesses only: ARMv6-M has no byte access to these) ---- */
static void set_priority_byte(uint32_t word_addr, unsigned byte, unsigned prio8) {
    uint32_t v = REG32(word_addr);
    v &= ~(0xFFu << (8u * byte));
    v |= (uint32_t)(prio8 & 0xFFu) << (8u * byte);
    REG32(word_addr) = v;
}

void nvic_enable(unsigned irq, unsigned prio8) {
    set_priority_byte(0xE000E400u + 4u * (irq >> 2), irq & 3u, prio8);
    REG32(0xE000E100u) = 1u << irq;
}

void systick_start(uint32_t reload, unsigned prio8) {
    set_priority_byte(0xE000ED20u, 3, prio8); /* SHPR3[31:24] = SysTick */
    REG32(0xE000E014u) = reload;
    REG32(0xE000E018u) = 0;
    REG32(0xE000E010u) = 7u; /* core clock, interrupt, enable */
}

void systick_stop(void) {
    REG32(0xE000E010u) = 0;
}
