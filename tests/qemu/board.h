/* board.h - what the QEMU test images need from a board: startup, semihosting, timers, NVIC. */
#ifndef RGC_QEMU_BOARD_H
#define RGC_QEMU_BOARD_H

#include <stdint.h>

#define REG32(a) (*(volatile uint32_t *)(a))

/* semihosting (output on QEMU's stderr; exit status becomes QEMU's) */
void sh_puts(const char *s);
void sh_put_u32(const char *label, uint32_t v); /* "label v\n" */
_Noreturn void sh_exit(int code);
/* The command line given with -semihosting-config ...,arg=...; returns its length or 0. */
int sh_cmdline(char *buf, int size);

/* NVIC / SysTick */
void nvic_enable(unsigned irq, unsigned prio8);
void systick_start(uint32_t reload, unsigned prio8);
void systick_stop(void);

/* Board timers: a periodic interrupt source numbered 0 or 1, and a free-running up-counter. */
void board_timer_start(unsigned which, uint32_t period_ticks, unsigned prio8);
void board_timer_oneshot(unsigned which, uint32_t delay_ticks, unsigned prio8);
void board_timer_stop(unsigned which);
void board_timer_ack(unsigned which); /* call from its handler */
uint32_t board_ticks(void);           /* free-running, up */
extern const uint32_t board_tick_hz;

/* handlers the test defines */
void timer0_irq(void);
void timer1_irq(void);
void systick_irq(void);

extern uint32_t __stack_top[];
extern const char __rgc_text_start[], __rgc_text_end[];

#endif
