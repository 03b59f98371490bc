/* rgc_port_cortexm.c - rgc port for Cortex-M (see rgc_cortexm.h). */
#include "rgc_cortexm.h"

#include <stdatomic.h>
#include <stddef.h>

#include "rgc_port.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SCB_SHPR(n) REG32(0xE000ED18u + 4u * (n)) /* system handler priorities 4..15, 4 per word */
#define NVIC_IPR(n) REG32(0xE000E400u + 4u * (n)) /* IRQ priorities, 4 per word (word access: M0) */
#define DWT_CTRL REG32(0xE0001000u)
#define DWT_CYCCNT REG32(0xE0001004u)

static void *msp_stack_top, *psp_stack_top;
static uint32_t (*cycle_counter)(void);

void rgc_cortexm_init(void *msp_top, void *psp_top) {
    msp_stack_top = msp_top;
    psp_stack_top = psp_top;
}

void rgc_cortexm_set_cycle_counter(uint32_t (*counter)(void)) {
    cycle_counter = counter;
}

uint32_t rgc_port_cycles(void) {
    if (cycle_counter != NULL)
        return cycle_counter();
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__)
    if ((DWT_CTRL & (1u << 25)) == 0) /* NOCYCCNT clear: a cycle counter exists */
        return DWT_CYCCNT;
#endif
    return 0;
}

rgc_mask_state rgc_port_mask(void) {
    uint32_t old;
#ifdef RGC_CORTEXM_BASEPRI
    __asm__ volatile("mrs %0, basepri\n\tmsr basepri_max, %1" : "=&r"(old) : "r"((uint32_t)RGC_CORTEXM_BASEPRI) : "memory");
#else
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(old)::"memory");
#endif
    return old;
}

void rgc_port_unmask(rgc_mask_state s) {
#ifdef RGC_CORTEXM_BASEPRI
    __asm__ volatile("msr basepri, %0" ::"r"((uint32_t)s) : "memory");
#else
    __asm__ volatile("msr primask, %0" ::"r"((uint32_t)s) : "memory");
#endif
}

static unsigned priority_of_exception(uint32_t exc) {
    uint32_t prio8;
    if (exc >= 16u)
        prio8 = (NVIC_IPR((exc - 16u) >> 2) >> (8u * ((exc - 16u) & 3u))) & 0xFFu;
    else if (exc >= 4u)
        prio8 = (SCB_SHPR((exc - 4u) >> 2) >> (8u * (exc & 3u))) & 0xFFu;
    else
        return 0xFFFFu; /* NMI, HardFault: above every configurable priority */
    return prio8 >> (8u - RGC_CORTEXM_PRIO_BITS);
}

unsigned rgc_port_level(void) {
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    ipsr &= 0x1FFu;
    if (ipsr == 0)
        return 0;
    unsigned prio = priority_of_exception(ipsr);
    if (prio == 0xFFFFu)
        return (1u << RGC_CORTEXM_PRIO_BITS) + 1u;
    return (1u << RGC_CORTEXM_PRIO_BITS) - prio;
}

static void scan_range(rgc_heap *h, rgc_scan_fn scan, uintptr_t lo, void *top) {
    uintptr_t hi = (uintptr_t)top;
    lo = (lo + 3u) & ~(uintptr_t)3u;
    if (top != NULL && hi > lo)
        scan(h, (void *const *)lo, (hi - lo) / sizeof(void *));
}

__attribute__((noinline)) static void scan_stacks(rgc_heap *h, rgc_scan_fn scan) {
    uint32_t sp, control, ipsr;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    __asm__ volatile("mrs %0, control" : "=r"(control));
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    if ((control & 2u) != 0 && (ipsr & 0x1FFu) == 0) {
        scan_range(h, scan, sp, psp_stack_top); /* thread code running on PSP */
        return;
    }
    scan_range(h, scan, sp, msp_stack_top); /* this handler and every frame it interrupted */
    if (psp_stack_top != NULL) {             /* thread mode's frames are on the process stack */
        uint32_t psp;
        __asm__ volatile("mrs %0, psp" : "=r"(psp));
        scan_range(h, scan, psp, psp_stack_top);
    }
}

void rgc_port_scan_roots(rgc_heap *h, rgc_scan_fn scan) {
    volatile int keep_frame = 0;
    __builtin_unwind_init(); /* r4-r11 pushed into this frame, which lies above scan_stacks' SP */
    scan_stacks(h, scan);
    (void)keep_frame; /* no tail call: this frame must stay while scan_stacks runs */
}
