/* board_nrf51.c - microbit (nRF51822, Cortex-M0): TIMER0/TIMER1 (IRQ 8, 9) in compare-and-clear mode as
 * interrupt sources, TIMER2 (capture) as a free-running 16 MHz up-counter. */
#include "board.h"

#define T(n) (0x40008000u + 0x1000u * (n))
#define TASKS_START(n) REG32(T(n) + 0x000u)
#define TASKS_STOP(n) REG32(T(n) + 0x004u)
#define TASKS_CLEAR(n) REG32(T(n) + 0x00Cu)
#define TASKS_CAPTURE0(n) REG32(T(n) + 0x040u)
#define EVENTS_COMPARE0(n) REG32(T(n) + 0x140u)
#define SHORTS(n) REG32(T(n) + 0x200u)
#define INTENSET(n) REG32(T(n) + 0x304u)
#define INTENCLR(n) REG32(T(n) + 0x308u)
#define MODE(n) REG32(T(n) + 0x504u)
#define BITMODE(n) REG32(T(n) + 0x508u)
#define PRESCALER(n) REG32(T(n) + 0x510u)
#define CC0(n) REG32(T(n) + 0x540u)

const uint32_t board_tick_hz = 16000000u;
static uint8_t free_running_started;

uint32_t board_ticks(void) {
    if (!free_running_started) {
        MODE(2) = 0;
        BITMODE(2) = 3; /* 32 bit */
        PRESCALER(2) = 0;
        TASKS_CLEAR(2) = 1;
        TASKS_START(2) = 1;
        free_running_started = 1;
    }
    TASKS_CAPTURE0(2) = 1;
    return CC0(2);
}

static void start(unsigned which, uint32_t ticks, unsigned prio8, uint32_t shorts) {
    TASKS_STOP(which) = 1;
    MODE(which) = 0;
    BITMODE(which) = 3;
    PRESCALER(which) = 0;
    TASKS_CLEAR(which) = 1;
    CC0(which) = ticks;
    EVENTS_COMPARE0(which) = 0;
    SHORTS(which) = shorts;
    INTENSET(which) = 1u << 16;
    nvic_enable(8u + which, prio8);
    TASKS_START(which) = 1;
}

void board_timer_start(unsigned which, uint32_t period_ticks, unsigned prio8) {
    start(which, period_ticks, prio8, 1u); /* COMPARE0 -> CLEAR */
}

void board_timer_oneshot(unsigned which, uint32_t delay_ticks, unsigned prio8) {
    start(which, delay_ticks + 1u, prio8, 1u | (1u << 8)); /* COMPARE0 -> CLEAR and STOP */
}

void board_timer_stop(unsigned which) {
    TASKS_STOP(which) = 1;
    INTENCLR(which) = 1u << 16;
    EVENTS_COMPARE0(which) = 0;
    REG32(0xE000E280u) = 1u << (8u + which);
}

void board_timer_ack(unsigned which) {
    EVENTS_COMPARE0(which) = 0;
    (void)EVENTS_COMPARE0(which); /* make the clear take effect before return */
}
