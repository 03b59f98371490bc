/* board_mps2.c - mps2-an385 (Cortex-M3): CMSDK APB TIMER0/TIMER1 (IRQ 8, 9) as interrupt sources and
 * the dual timer's first counter as a free-running 25 MHz up-counter (deterministic under -icount). */
#include "board.h"

#define TIMER_BASE(n) (0x40000000u + 0x1000u * (n))
#define TIMER_CTRL(n) REG32(TIMER_BASE(n) + 0x0u)
#define TIMER_VALUE(n) REG32(TIMER_BASE(n) + 0x4u)
#define TIMER_RELOAD(n) REG32(TIMER_BASE(n) + 0x8u)
#define TIMER_INTCLEAR(n) REG32(TIMER_BASE(n) + 0xCu)
#define DUAL_LOAD REG32(0x40002000u)
#define DUAL_VALUE REG32(0x40002004u)
#define DUAL_CTRL REG32(0x40002008u)

const uint32_t board_tick_hz = 25000000u;
static uint8_t oneshot[2];

static void start_free_running(void) {
    if ((DUAL_CTRL & 0x80u) == 0) {
        DUAL_LOAD = 0xFFFFFFFFu;
        DUAL_CTRL = 0x82u; /* enable, 32-bit, free-running, no interrupt */
    }
}

uint32_t board_ticks(void) {
    start_free_running();
    return ~DUAL_VALUE;
}

void board_timer_start(unsigned which, uint32_t period_ticks, unsigned prio8) {
    oneshot[which] = 0;
    TIMER_CTRL(which) = 0;
    TIMER_RELOAD(which) = period_ticks - 1u;
    TIMER_VALUE(which) = period_ticks - 1u;
    TIMER_INTCLEAR(which) = 1u;
    nvic_enable(8u + which, prio8);
    TIMER_CTRL(which) = 0x9u; /* enable, interrupt */
}

void board_timer_oneshot(unsigned which, uint32_t delay_ticks, unsigned prio8) {
    board_timer_start(which, delay_ticks + 2u, prio8); /* a reload of 0 stops QEMU's CMSDK timer */
    oneshot[which] = 1;
}

void board_timer_stop(unsigned which) {
    TIMER_CTRL(which) = 0;
    TIMER_INTCLEAR(which) = 1u;
    REG32(0xE000E280u) = 1u << (8u + which); /* clear pending */
}

void board_timer_ack(unsigned which) {
    if (oneshot[which])
        TIMER_CTRL(which) = 0; /* stop first: a short period would raise it again before the clear */
    TIMER_INTCLEAR(which) = 1u;
}
