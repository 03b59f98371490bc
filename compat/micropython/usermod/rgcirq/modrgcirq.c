/* modrgcirq.c - hard interrupts for MicroPython's unix port, on rgc's interrupt simulator.
 *
 * rgcirq.start(level, period_us, callback, gc_locked=False) runs callback(n) from a periodic interrupt
 * at `level` (a real-time signal handler on the main thread: it preempts Python code, the VM and rgc at
 * any instruction, collections included), as shared/runtime/mpirq.c runs a hard IRQ callback (under
 * nlr_push) - but without gc_lock(), so the callback may allocate. With
 * gc_locked=True the heap is locked as mpirq.c does (every allocation raises MemoryError).
 * rgcirq.stop() stops it; rgcirq.stats() returns (runs, runs that preempted a collection, exceptions,
 * MemoryErrors, runs that preempted a marking). rgcirq.hold(True) makes the interrupts that come return at once without calling the
 * callback (not counted as runs) until rgcirq.hold(False): the main loop's "interrupts disabled" for
 * reading the callback's data consistently.
 */
#include <string.h>

#include "py/gc.h"
#include "py/mpstate.h"
#include "py/nlr.h"
#include "py/mperrno.h"
#include "py/runtime.h"

#include <rgc.h>
#include <rgc_sim.h>

extern rgc_heap mp_rgc_heap;

static volatile unsigned irq_level;
static volatile bool irq_gc_locked, irq_held;
static volatile size_t n_runs, n_in_collection, n_in_marking, n_exceptions, n_memory_errors;

static void irq_handler(unsigned level, void *arg) {
    (void)level;
    (void)arg;
    mp_obj_t cb = MP_STATE_PORT(rgcirq_callback);
    if (cb == MP_OBJ_NULL || cb == mp_const_none || irq_held) {
        return;
    }
    n_runs++;
    if (MP_STATE_THREAD(gc_lock_depth) & GC_COLLECT_FLAG) {
        n_in_collection++; /* the thread was inside gc_collect when this interrupt came */
    }
    if (rgc_marking(&mp_rgc_heap)) {
        n_in_marking++; /* ... and it was marking: the window the write barrier covers */
    }
    /* mpirq.c also calls mp_sched_lock() here; on the unix port that takes a pthread mutex (its atomic
     * section), which an interrupt must not wait for: this test schedules nothing, so it is left out. */
    if (irq_gc_locked) {
        gc_lock();
    }
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_call_function_1(cb, MP_OBJ_NEW_SMALL_INT(n_runs));
        nlr_pop();
    } else {
        n_exceptions++;
        if (MP_STATE_PORT(rgcirq_first_exc) == MP_OBJ_NULL) {
            MP_GC_WRITE(&MP_STATE_PORT(rgcirq_first_exc), MP_OBJ_FROM_PTR(nlr.ret_val));
        }
        if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(((mp_obj_base_t *)nlr.ret_val)->type),
                MP_OBJ_FROM_PTR(&mp_type_MemoryError))) {
            n_memory_errors++;
        }
    }
    if (irq_gc_locked) {
        gc_unlock();
    }
}

static mp_obj_t rgcirq_start(size_t n_args, const mp_obj_t *args) {
    mp_int_t level = mp_obj_get_int(args[0]);
    mp_int_t period_us = mp_obj_get_int(args[1]);
    if (level < 1 || level > 3 || period_us < 10) {
        mp_raise_ValueError(MP_ERROR_TEXT("level 1..3, period >= 10 us"));
    }
    static bool initialised;
    if (!initialised) {
        if (rgc_sim_init(3, 3) != 0) {
            mp_raise_OSError(MP_ENODEV);
        }
        initialised = true;
    }
    n_runs = n_in_collection = n_in_marking = n_exceptions = n_memory_errors = 0;
    irq_held = false;
    MP_STATE_PORT(rgcirq_first_exc) = MP_OBJ_NULL;
    irq_gc_locked = n_args > 3 && mp_obj_is_true(args[3]);
    MP_STATE_PORT(rgcirq_callback) = args[2];
    irq_level = (unsigned)level;
    rgc_sim_attach(irq_level, irq_handler, NULL);
    rgc_sim_timer(irq_level, (uint64_t)period_us * 1000u);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(rgcirq_start_obj, 3, 4, rgcirq_start);

static mp_obj_t rgcirq_stop(void) {
    if (irq_level != 0) {
        rgc_sim_quiesce();
        rgc_sim_attach(irq_level, NULL, NULL);
        irq_level = 0;
    }
    MP_STATE_PORT(rgcirq_callback) = MP_OBJ_NULL;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(rgcirq_stop_obj, rgcirq_stop);

static mp_obj_t rgcirq_stats(void) {
    mp_obj_t t[5] = {
        mp_obj_new_int_from_uint(n_runs), mp_obj_new_int_from_uint(n_in_collection),
        mp_obj_new_int_from_uint(n_exceptions), mp_obj_new_int_from_uint(n_memory_errors),
        mp_obj_new_int_from_uint(n_in_marking),
    };
    return mp_obj_new_tuple(5, t);
}
static MP_DEFINE_CONST_FUN_OBJ_0(rgcirq_stats_obj, rgcirq_stats);

/* rgc's own view: (collections, failed allocations, misuse, consistency check 0 = ok, black->white
 * edges the tri-colour verifier found - always 0 unless librgc is built with RGC_VERIFY=1) */
static mp_obj_t rgcirq_heap(void) {
    rgc_stats st;
    rgc_get_stats(&mp_rgc_heap, &st);
    mp_obj_t t[5] = {
        mp_obj_new_int_from_uint(st.collections), mp_obj_new_int_from_uint(st.failed_allocs),
        mp_obj_new_int_from_uint(st.misuse), MP_OBJ_NEW_SMALL_INT(rgc_check(&mp_rgc_heap)),
        mp_obj_new_int_from_uint(st.verify_reports),
    };
    return mp_obj_new_tuple(5, t);
}
static MP_DEFINE_CONST_FUN_OBJ_0(rgcirq_heap_obj, rgcirq_heap);

/* The first exception a callback raised since start() (None if none), for the test's report. */
static mp_obj_t rgcirq_first_exception(void) {
    mp_obj_t e = MP_STATE_PORT(rgcirq_first_exc);
    return e == MP_OBJ_NULL ? mp_const_none : e;
}
static MP_DEFINE_CONST_FUN_OBJ_0(rgcirq_first_exception_obj, rgcirq_first_exception);

static mp_obj_t rgcirq_hold(mp_obj_t on) {
    irq_held = mp_obj_is_true(on);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(rgcirq_hold_obj, rgcirq_hold);

static const mp_rom_map_elem_t rgcirq_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_rgcirq) },
    { MP_ROM_QSTR(MP_QSTR_start), MP_ROM_PTR(&rgcirq_start_obj) },
    { MP_ROM_QSTR(MP_QSTR_stop), MP_ROM_PTR(&rgcirq_stop_obj) },
    { MP_ROM_QSTR(MP_QSTR_stats), MP_ROM_PTR(&rgcirq_stats_obj) },
    { MP_ROM_QSTR(MP_QSTR_hold), MP_ROM_PTR(&rgcirq_hold_obj) },
    { MP_ROM_QSTR(MP_QSTR_first_exception), MP_ROM_PTR(&rgcirq_first_exception_obj) },
    { MP_ROM_QSTR(MP_QSTR_heap), MP_ROM_PTR(&rgcirq_heap_obj) },
};
static MP_DEFINE_CONST_DICT(rgcirq_globals, rgcirq_globals_table);

const mp_obj_module_t rgcirq_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&rgcirq_globals,
};

MP_REGISTER_MODULE(MP_QSTR_rgcirq, rgcirq_module);
MP_REGISTER_ROOT_POINTER(mp_obj_t rgcirq_callback);
MP_REGISTER_ROOT_POINTER(mp_obj_t rgcirq_first_exc);
