/* modrgcqemu.c - hard interrupts with Python callbacks on MicroPython's qemu port, MPS2 AN385
 * (Cortex-M3, 3 NVIC priority bits), on the board's real peripherals as QEMU models them.
 *
 *   rgcqemu.start(id, freq_hz, callback, priority)  periodic interrupt calling callback(n)
 *       id 0: CMSDK APB TIMER0 (0x40000000, IRQ 8), 1: TIMER1 (0x40001000, IRQ 9), 2: the dual timer's
 *       first counter (0x40002000, IRQ 10). priority: NVIC priority 0 (most urgent) .. 7; a more urgent
 *       timer preempts a less urgent one's callback (nesting). On rgc the level rgc sees is 8 - priority.
 *   rgcqemu.stop(id), rgcqemu.stop_all()
 *   rgcqemu.stats(id) -> (runs, exceptions, MemoryErrors, runs that preempted a gc_collect,
 *       runs while rgc had a collection in progress, ... while it was marking, runs that preempted
 *       another callback, rgc level (0 on stock))
 *   rgcqemu.first_exception(id)  the first exception that escaped that callback, or None
 *   rgcqemu.ticks(), rgcqemu.ticks_diff(a, b), rgcqemu.TICKS_HZ  the dual timer's second counter,
 *       free running at 25 MHz of emulated time, 30 bits (wraps after 42.9 s)
 *   rgcqemu.irq_ticks()  ticks spent in callbacks (outermost ones: nested time counted once), 30 bits
 *   rgcqemu.uart_irq(on, priority=7)  the UART0 RX interrupt: a received interrupt character (Ctrl-C
 *       while pyexec runs code) raises KeyboardInterrupt through mp_sched_keyboard_interrupt; other
 *       bytes are counted and dropped (the port's stdin polls the UART: only while this is off)
 *   rgcqemu.uart_stats() -> (bytes received, interrupt characters, ... that arrived while the thread
 *       was inside gc_collect, ... while rgc had a collection in progress, ... while a callback ran,
 *       other bytes)
 *   rgcqemu.collect_if_idle()  from a callback: gc_collect() at interrupt level (rgc only) unless the
 *       thread is inside one; rgcqemu.irq_collect_stats() -> (ran, refused by rgc, skipped)
 *   rgcqemu.memerr_info()  the first MemoryError of a callback on rgc: (1 + timer id, free bytes,
 *       largest free run, bit 0: thread inside gc_collect, 1: rgc collecting, 2: marking, ticks),
 *       zeros if none; rgcqemu.note_memerr(id) from a callback that caught one
 *   rgcqemu.gc_state() -> (thread inside gc_collect, rgc collection in progress)
 *   rgcqemu.heap()  rgc's view (collections, failed allocations, misuse, rgc_check: 0 = consistent,
 *       verifier reports), None on stock
 *   rgcqemu.on_rgc  True when built on rgc (compat/micropython/gc.c)
 *
 * A callback runs as shared/runtime/mpirq.c runs a hard IRQ callback - scheduler locked, under
 * nlr_push, exceptions recorded - but on rgc without gc_lock(): it may allocate. On stock py/gc.c the
 * heap is locked as mpirq.c does (py/gc.c is not reentrant), so every allocation raises MemoryError.
 */
#include <string.h>

#include "py/gc.h"
#include "py/mpstate.h"
#include "py/nlr.h"
#include "py/runtime.h"
#include "shared/runtime/interrupt_char.h"

#if RGCQEMU_RGC
#include <rgc.h>
#include <rgc_cortexm.h>
#include <rgc_port.h>
extern rgc_heap mp_rgc_heap;
#endif

#define REG32(a) (*(volatile uint32_t *)(a))
/* CMSDK APB timer: CTRL bit 0 enable, bit 3 interrupt enable; INTCLEAR write 1 */
#define TMR_CTRL(b) REG32((b) + 0x00u)
#define TMR_VALUE(b) REG32((b) + 0x04u)
#define TMR_RELOAD(b) REG32((b) + 0x08u)
#define TMR_INTCLEAR(b) REG32((b) + 0x0Cu)
/* CMSDK APB dual timer (SP804-like): counter 1 at +0x00, counter 2 at +0x20 */
#define DT1 0x40002000u
#define DT2 0x40002020u
#define DT_LOAD(b) REG32((b) + 0x00u)
#define DT_VALUE(b) REG32((b) + 0x04u)
#define DT_CTRL(b) REG32((b) + 0x08u)
#define DT_INTCLR(b) REG32((b) + 0x0Cu)
#define DT_EN 0x80u
#define DT_PERIODIC 0x40u
#define DT_INTEN 0x20u
#define DT_32BIT 0x02u
/* CMSDK APB UART0: STATE bit 1 RX full; CTRL bit 3 RX interrupt enable; INTSTATUS bit 1 RX (write 1) */
#define UART0_DATA REG32(0x40004000u)
#define UART0_STATE REG32(0x40004004u)
#define UART0_CTRL REG32(0x40004008u)
#define UART0_INTSTATUS REG32(0x4000400Cu)
#define UART_CTRL_RXINTEN 0x8u
#define UART_IRQ 0u
/* NVIC */
#define NVIC_ISER REG32(0xE000E100u)
#define NVIC_ICER REG32(0xE000E180u)
#define NVIC_ICPR REG32(0xE000E280u)
#define NVIC_IPR8(n) (*(volatile uint8_t *)(0xE000E400u + (n)))

#define TICKS_HZ 25000000u /* the AN385's peripheral clock in QEMU (SYSCLK_FRQ) */
#define TICKS_MASK 0x3FFFFFFFu
#define N_TIMERS 3

static const uint8_t timer_irq[N_TIMERS] = { 8, 9, 10 };
static const uint32_t timer_base[N_TIMERS] = { 0x40000000u, 0x40001000u, DT1 };

typedef struct {
    volatile uint32_t runs, exceptions, memory_errors, in_gc, in_collection, in_marking, preempted;
    volatile uint32_t level;
} timer_stats_t;

static timer_stats_t tstats[N_TIMERS];
static volatile uint32_t cb_depth;                /* callbacks in progress (nesting) */
static volatile uint32_t irq_ticks_total, irq_outer_start;
static volatile uint32_t uart_rx, uart_ctrl_c, uart_in_gc, uart_in_collection, uart_in_cb, uart_other;
static volatile uint32_t collect_ran, collect_refused, collect_skipped;
/* the first MemoryError a callback raised on rgc: 1 + timer id, free bytes, largest free run, where the
 * thread was (bit 0 inside gc_collect, bit 1 rgc collecting, bit 2 marking), ticks */
static volatile uint32_t memerr_info[5];

/* ---- ticks: the dual timer's second counter, free running (down-counting, 32 bits) -------------- */

static void ticks_init(void) {
    if ((DT_CTRL(DT2) & DT_EN) == 0) {
        DT_LOAD(DT2) = 0xFFFFFFFFu;
        DT_CTRL(DT2) = DT_EN | DT_32BIT; /* free-running mode, no interrupt */
    }
}

static inline uint32_t ticks_raw(void) {
    return ~DT_VALUE(DT2);
}

static bool thread_in_gc(void) {
    #if GC_COLLECT_FLAG
    return (MP_STATE_THREAD(gc_lock_depth) & GC_COLLECT_FLAG) != 0;
    #else
    return false;
    #endif
}

/* The heap as the first MemoryError of a callback found it (on rgc; nothing on stock). */
static void note_memerr(unsigned i) {
    #if RGCQEMU_RGC
    if (memerr_info[0] == 0) {
        rgc_stats st;
        rgc_get_stats(&mp_rgc_heap, &st);
        memerr_info[0] = 1u + i;
        memerr_info[1] = st.free_bytes;
        memerr_info[2] = st.largest_free_bytes;
        memerr_info[3] = (thread_in_gc() ? 1u : 0u) | (rgc_collecting(&mp_rgc_heap) ? 2u : 0u) |
            (rgc_marking(&mp_rgc_heap) ? 4u : 0u);
        memerr_info[4] = ticks_raw();
    }
    #else
    (void)i;
    #endif
}

/* ---- the callbacks --------------------------------------------------------------------------- */

static void timer_dispatch(unsigned i) {
    mp_obj_t cb = MP_STATE_PORT(rgcqemu_callbacks)[i];
    if (cb == MP_OBJ_NULL || cb == mp_const_none) {
        return;
    }
    timer_stats_t *t = &tstats[i];
    /* handlers nest strictly (a preempting one returns first): the outermost one's span is the time
     * the thread lost to callbacks */
    uint32_t t0 = ticks_raw();
    if (cb_depth++ == 0) {
        irq_outer_start = t0;
    } else {
        t->preempted++;
    }
    t->runs++;
    if (thread_in_gc()) {
        t->in_gc++; /* the thread (or a callback below) was inside gc_collect */
    }
    #if RGCQEMU_RGC
    t->level = rgc_port_level();
    if (rgc_collecting(&mp_rgc_heap)) {
        t->in_collection++;
    }
    if (rgc_marking(&mp_rgc_heap)) {
        t->in_marking++; /* the window rgc's write barrier covers */
    }
    #endif
    /* as mpirq.c: no scheduled callbacks and no pending exception (KeyboardInterrupt) raised inside a
     * hard IRQ callback - mp_sched_unlock re-arms a pending one for the thread */
    mp_sched_lock();
    #if !RGCQEMU_RGC
    gc_lock(); /* py/gc.c is not reentrant: the heap is locked in hard IRQs, as mpirq.c does */
    #endif
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_call_function_1(cb, MP_OBJ_NEW_SMALL_INT(t->runs & TICKS_MASK));
        nlr_pop();
    } else {
        t->exceptions++;
        if (MP_STATE_PORT(rgcqemu_first_exc)[i] == MP_OBJ_NULL) {
            /* a root pointer store while a collection may be marking below: the barrier */
            MP_GC_WRITE(&MP_STATE_PORT(rgcqemu_first_exc)[i], MP_OBJ_FROM_PTR(nlr.ret_val));
        }
        if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(((mp_obj_base_t *)nlr.ret_val)->type),
                MP_OBJ_FROM_PTR(&mp_type_MemoryError))) {
            t->memory_errors++;
            note_memerr(i);
        }
    }
    #if !RGCQEMU_RGC
    gc_unlock();
    #endif
    mp_sched_unlock();
    if (--cb_depth == 0) {
        irq_ticks_total += ticks_raw() - irq_outer_start;
    }
}

/* Each handler clears its source first: an expiry during the callback pends the IRQ again (expiries
 * beyond one while it runs coalesce, as on hardware). Handlers of the port's vector table, weak there
 * (compat/micropython/qemu/0001-qemu-mps2-irq-vectors.patch). */
void TIMER0_Handler(void) {
    TMR_INTCLEAR(timer_base[0]) = 1u;
    timer_dispatch(0);
}

void TIMER1_Handler(void) {
    TMR_INTCLEAR(timer_base[1]) = 1u;
    timer_dispatch(1);
}

void DUALTIMER_Handler(void) {
    DT_INTCLR(DT1) = 1u;
    timer_dispatch(2);
}

/* UART0 RX: the interrupt character raises KeyboardInterrupt the way every port does it - a pending
 * exception the VM raises between bytecodes (never inside a C function such as gc_collect, never
 * inside a callback: they run with the scheduler locked). Counted: where the thread was when it came. */
void UART0RX_Handler(void) {
    UART0_INTSTATUS = 2u; /* clear before reading: a byte QEMU delivers on the read pends it again */
    while (UART0_STATE & 2u) {
        int c = (int)(UART0_DATA & 0xFFu);
        uart_rx++;
        if (c == mp_interrupt_char) {
            uart_ctrl_c++;
            if (thread_in_gc()) {
                uart_in_gc++;
            }
            #if RGCQEMU_RGC
            if (rgc_collecting(&mp_rgc_heap)) {
                uart_in_collection++;
            }
            #endif
            if (cb_depth != 0) {
                uart_in_cb++;
            }
            mp_sched_keyboard_interrupt();
        } else {
            uart_other++;
        }
    }
}

static void nvic_setup(unsigned irq, mp_int_t prio) {
    NVIC_IPR8(irq) = (uint8_t)(prio << 5); /* 3 implemented bits: the top ones */
    NVIC_ICPR = 1u << irq;
    NVIC_ISER = 1u << irq;
}

static void timer_stop(unsigned i) {
    NVIC_ICER = 1u << timer_irq[i];
    if (i < 2) {
        TMR_CTRL(timer_base[i]) = 0;
        TMR_INTCLEAR(timer_base[i]) = 1u;
    } else {
        DT_CTRL(DT1) = 0;
        DT_INTCLR(DT1) = 1u;
    }
    NVIC_ICPR = 1u << timer_irq[i];
    MP_STATE_PORT(rgcqemu_callbacks)[i] = MP_OBJ_NULL;
}

static mp_obj_t rgcqemu_start(size_t n_args, const mp_obj_t *args) {
    mp_int_t id = mp_obj_get_int(args[0]);
    mp_int_t freq = mp_obj_get_int(args[1]);
    mp_int_t prio = mp_obj_get_int(args[3]);
    if (id < 0 || id >= N_TIMERS || freq < 1 || freq > 100000 || prio < 0 || prio > 7) {
        mp_raise_ValueError(MP_ERROR_TEXT("id 0..2, freq 1..100000 Hz, priority 0..7"));
    }
    ticks_init();
    #if RGCQEMU_RGC
    extern uint32_t _estack;
    rgc_cortexm_init(&_estack, NULL); /* the port runs everything on the main stack */
    #endif
    unsigned i = (unsigned)id;
    timer_stop(i);
    memset((void *)&tstats[i], 0, sizeof tstats[i]);
    MP_STATE_PORT(rgcqemu_first_exc)[i] = MP_OBJ_NULL;
    MP_STATE_PORT(rgcqemu_callbacks)[i] = args[2];
    uint32_t period = TICKS_HZ / (uint32_t)freq;
    if (i < 2) {
        TMR_RELOAD(timer_base[i]) = period - 1u;
        TMR_VALUE(timer_base[i]) = period - 1u;
        TMR_INTCLEAR(timer_base[i]) = 1u;
        nvic_setup(timer_irq[i], prio);
        TMR_CTRL(timer_base[i]) = 0x9u; /* enable, interrupt enable */
    } else {
        DT_LOAD(DT1) = period;
        DT_INTCLR(DT1) = 1u;
        nvic_setup(timer_irq[i], prio);
        DT_CTRL(DT1) = DT_EN | DT_PERIODIC | DT_INTEN | DT_32BIT;
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(rgcqemu_start_obj, 4, 4, rgcqemu_start);

static mp_obj_t rgcqemu_stop(mp_obj_t id_in) {
    mp_int_t id = mp_obj_get_int(id_in);
    if (id < 0 || id >= N_TIMERS) {
        mp_raise_ValueError(MP_ERROR_TEXT("id 0..2"));
    }
    timer_stop((unsigned)id);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(rgcqemu_stop_obj, rgcqemu_stop);

static mp_obj_t rgcqemu_stop_all(void) {
    for (unsigned i = 0; i < N_TIMERS; i++) {
        timer_stop(i);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(rgcqemu_stop_all_obj, rgcqemu_stop_all);

static mp_obj_t rgcqemu_stats(mp_obj_t id_in) {
    mp_int_t id = mp_obj_get_int(id_in);
    if (id < 0 || id >= N_TIMERS) {
        mp_raise_ValueError(MP_ERROR_TEXT("id 0..2"));
    }
    timer_stats_t *t = &tstats[id];
    mp_obj_t v[8] = {
        mp_obj_new_int_from_uint(t->runs), mp_obj_new_int_from_uint(t->exceptions),
        mp_obj_new_int_from_uint(t->memory_errors), mp_obj_new_int_from_uint(t->in_gc),
        mp_obj_new_int_from_uint(t->in_collection), mp_obj_new_int_from_uint(t->in_marking),
        mp_obj_new_int_from_uint(t->preempted), mp_obj_new_int_from_uint(t->level),
    };
    return mp_obj_new_tuple(8, v);
}
static MP_DEFINE_CONST_FUN_OBJ_1(rgcqemu_stats_obj, rgcqemu_stats);

static mp_obj_t rgcqemu_first_exception(mp_obj_t id_in) {
    mp_int_t id = mp_obj_get_int(id_in);
    if (id < 0 || id >= N_TIMERS) {
        mp_raise_ValueError(MP_ERROR_TEXT("id 0..2"));
    }
    mp_obj_t e = MP_STATE_PORT(rgcqemu_first_exc)[id];
    return e == MP_OBJ_NULL ? mp_const_none : e;
}
static MP_DEFINE_CONST_FUN_OBJ_1(rgcqemu_first_exception_obj, rgcqemu_first_exception);

static mp_obj_t rgcqemu_ticks(void) {
    ticks_init();
    return MP_OBJ_NEW_SMALL_INT(ticks_raw() & TICKS_MASK);
}
static MP_DEFINE_CONST_FUN_OBJ_0(rgcqemu_ticks_obj, rgcqemu_ticks);

static mp_obj_t rgcqemu_ticks_diff(mp_obj_t a, mp_obj_t b) {
    return MP_OBJ_NEW_SMALL_INT(((uint32_t)mp_obj_get_int(b) - (uint32_t)mp_obj_get_int(a)) & TICKS_MASK);
}
static MP_DEFINE_CONST_FUN_OBJ_2(rgcqemu_ticks_diff_obj, rgcqemu_ticks_diff);

static mp_obj_t rgcqemu_irq_ticks(void) {
    return MP_OBJ_NEW_SMALL_INT(irq_ticks_total & TICKS_MASK);
}
static MP_DEFINE_CONST_FUN_OBJ_0(rgcqemu_irq_ticks_obj, rgcqemu_irq_ticks);

static mp_obj_t rgcqemu_uart_irq(size_t n_args, const mp_obj_t *args) {
    mp_int_t prio = n_args > 1 ? mp_obj_get_int(args[1]) : 7;
    if (prio < 0 || prio > 7) {
        mp_raise_ValueError(MP_ERROR_TEXT("priority 0..7"));
    }
    if (mp_obj_is_true(args[0])) {
        uart_rx = uart_ctrl_c = uart_in_gc = uart_in_collection = uart_in_cb = uart_other = 0;
        UART0_INTSTATUS = 2u;
        nvic_setup(UART_IRQ, prio);
        UART0_CTRL |= UART_CTRL_RXINTEN;
        if (UART0_STATE & 2u) {
            /* a byte already waiting: QEMU sets the RX interrupt only when one arrives, and delivers
             * no further byte until this one is read - pend the IRQ by hand (NVIC_ISPR) */
            *(volatile uint32_t *)0xE000E200u = 1u << UART_IRQ;
        }
    } else {
        UART0_CTRL &= ~UART_CTRL_RXINTEN;
        NVIC_ICER = 1u << UART_IRQ;
        UART0_INTSTATUS = 2u;
        NVIC_ICPR = 1u << UART_IRQ;
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(rgcqemu_uart_irq_obj, 1, 2, rgcqemu_uart_irq);

static mp_obj_t rgcqemu_uart_stats(void) {
    mp_obj_t v[6] = {
        mp_obj_new_int_from_uint(uart_rx), mp_obj_new_int_from_uint(uart_ctrl_c),
        mp_obj_new_int_from_uint(uart_in_gc), mp_obj_new_int_from_uint(uart_in_collection),
        mp_obj_new_int_from_uint(uart_in_cb), mp_obj_new_int_from_uint(uart_other),
    };
    return mp_obj_new_tuple(6, v);
}
static MP_DEFINE_CONST_FUN_OBJ_0(rgcqemu_uart_stats_obj, rgcqemu_uart_stats);

/* A whole collection from a callback (rgc only: on stock a hard IRQ must not touch py/gc.c). Not while
 * the thread is inside gc_collect or rgc has a collection in progress: the compat layer's collect flag
 * lives in the thread state, which an interrupt-level gc_collect would clear under the thread's own.
 * rgc itself refuses (RGC_BUSY, the compat layer then does nothing) when the interrupted code is inside
 * any rgc call, e.g. an allocation: counted as refused. */
static mp_obj_t rgcqemu_collect_if_idle(void) {
    #if RGCQEMU_RGC
    if (thread_in_gc() || rgc_collecting(&mp_rgc_heap)) {
        collect_skipped++;
        return mp_const_false;
    }
    rgc_stats st;
    rgc_get_stats(&mp_rgc_heap, &st);
    uint32_t before = st.collections;
    gc_collect();
    rgc_get_stats(&mp_rgc_heap, &st);
    if (st.collections != before) {
        collect_ran++;
        return mp_const_true;
    }
    collect_refused++;
    #else
    collect_skipped++;
    #endif
    return mp_const_false;
}
static MP_DEFINE_CONST_FUN_OBJ_0(rgcqemu_collect_if_idle_obj, rgcqemu_collect_if_idle);

/* (thread inside gc_collect, rgc collection in progress): after a KeyboardInterrupt both must be
 * False - an exception that unwound out of gc_collect would leave the collect flag set and rgc's
 * collection unfinished */
static mp_obj_t rgcqemu_gc_state(void) {
    mp_obj_t v[2] = { mp_obj_new_bool(thread_in_gc()),
                      #if RGCQEMU_RGC
                      mp_obj_new_bool(rgc_collecting(&mp_rgc_heap)),
                      #else
                      mp_const_false,
                      #endif
    };
    return mp_obj_new_tuple(2, v);
}
static MP_DEFINE_CONST_FUN_OBJ_0(rgcqemu_gc_state_obj, rgcqemu_gc_state);

static mp_obj_t rgcqemu_memerr_info(void) {
    mp_obj_t v[5];
    for (int k = 0; k < 5; k++) {
        v[k] = mp_obj_new_int_from_uint(k == 4 ? memerr_info[k] & TICKS_MASK : memerr_info[k]);
    }
    return mp_obj_new_tuple(5, v);
}
static MP_DEFINE_CONST_FUN_OBJ_0(rgcqemu_memerr_info_obj, rgcqemu_memerr_info);

/* A callback that caught MemoryError itself reports it here (for memerr_info); allocates nothing. */
static mp_obj_t rgcqemu_note_memerr(mp_obj_t id_in) {
    note_memerr((unsigned)mp_obj_get_int(id_in) % N_TIMERS);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(rgcqemu_note_memerr_obj, rgcqemu_note_memerr);

static mp_obj_t rgcqemu_irq_collect_stats(void) {
    mp_obj_t v[3] = {
        mp_obj_new_int_from_uint(collect_ran), mp_obj_new_int_from_uint(collect_refused),
        mp_obj_new_int_from_uint(collect_skipped),
    };
    return mp_obj_new_tuple(3, v);
}
static MP_DEFINE_CONST_FUN_OBJ_0(rgcqemu_irq_collect_stats_obj, rgcqemu_irq_collect_stats);

static mp_obj_t rgcqemu_heap(void) {
    #if RGCQEMU_RGC
    /* interrupts masked: a callback allocating during the check would be seen half-way */
    rgc_stats st;
    uint32_t primask;
    __asm__ volatile ("mrs %0, primask\n\tcpsid i" : "=r" (primask) : : "memory");
    rgc_get_stats(&mp_rgc_heap, &st);
    int check = rgc_check(&mp_rgc_heap);
    __asm__ volatile ("msr primask, %0" : : "r" (primask) : "memory");
    mp_obj_t v[5] = {
        mp_obj_new_int_from_uint(st.collections), mp_obj_new_int_from_uint(st.failed_allocs),
        mp_obj_new_int_from_uint(st.misuse), MP_OBJ_NEW_SMALL_INT(check),
        mp_obj_new_int_from_uint(st.verify_reports),
    };
    return mp_obj_new_tuple(5, v);
    #else
    return mp_const_none;
    #endif
}
static MP_DEFINE_CONST_FUN_OBJ_0(rgcqemu_heap_obj, rgcqemu_heap);

static const mp_rom_map_elem_t rgcqemu_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_rgcqemu) },
    { MP_ROM_QSTR(MP_QSTR_start), MP_ROM_PTR(&rgcqemu_start_obj) },
    { MP_ROM_QSTR(MP_QSTR_stop), MP_ROM_PTR(&rgcqemu_stop_obj) },
    { MP_ROM_QSTR(MP_QSTR_stop_all), MP_ROM_PTR(&rgcqemu_stop_all_obj) },
    { MP_ROM_QSTR(MP_QSTR_stats), MP_ROM_PTR(&rgcqemu_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_first_exception), MP_ROM_PTR(&rgcqemu_first_exception_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks), MP_ROM_PTR(&rgcqemu_ticks_obj) },
    { MP_ROM_QSTR(MP_QSTR_ticks_diff), MP_ROM_PTR(&rgcqemu_ticks_diff_obj) },
    { MP_ROM_QSTR(MP_QSTR_irq_ticks), MP_ROM_PTR(&rgcqemu_irq_ticks_obj) },
    { MP_ROM_QSTR(MP_QSTR_TICKS_HZ), MP_ROM_INT(TICKS_HZ) },
    { MP_ROM_QSTR(MP_QSTR_uart_irq), MP_ROM_PTR(&rgcqemu_uart_irq_obj) },
    { MP_ROM_QSTR(MP_QSTR_uart_stats), MP_ROM_PTR(&rgcqemu_uart_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_collect_if_idle), MP_ROM_PTR(&rgcqemu_collect_if_idle_obj) },
    { MP_ROM_QSTR(MP_QSTR_irq_collect_stats), MP_ROM_PTR(&rgcqemu_irq_collect_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_heap), MP_ROM_PTR(&rgcqemu_heap_obj) },
    { MP_ROM_QSTR(MP_QSTR_memerr_info), MP_ROM_PTR(&rgcqemu_memerr_info_obj) },
    { MP_ROM_QSTR(MP_QSTR_note_memerr), MP_ROM_PTR(&rgcqemu_note_memerr_obj) },
    { MP_ROM_QSTR(MP_QSTR_gc_state), MP_ROM_PTR(&rgcqemu_gc_state_obj) },
    #if RGCQEMU_RGC
    { MP_ROM_QSTR(MP_QSTR_on_rgc), MP_ROM_TRUE },
    #else
    { MP_ROM_QSTR(MP_QSTR_on_rgc), MP_ROM_FALSE },
    #endif
};
static MP_DEFINE_CONST_DICT(rgcqemu_globals, rgcqemu_globals_table);

const mp_obj_module_t rgcqemu_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&rgcqemu_globals,
};

MP_REGISTER_MODULE(MP_QSTR_rgcqemu, rgcqemu_module);
MP_REGISTER_ROOT_POINTER(mp_obj_t rgcqemu_callbacks[3]);
MP_REGISTER_ROOT_POINTER(mp_obj_t rgcqemu_first_exc[3]);
