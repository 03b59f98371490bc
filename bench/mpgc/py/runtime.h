/* py/runtime.h (shadow) - what py/gc.c needs from MicroPython's runtime headers, and nothing else.
 * bench/mpgc is searched before MicroPython's tree, so py/gc.c's #include "py/runtime.h" lands here;
 * py/gc.h, py/mpconfig.h, py/misc.h and py/mpprint.h are MicroPython's own. The state structure keeps
 * the fields py/gc.c reads, with the names and the order of py/mpstate.h (the root-pointer section runs
 * from thread.dict_locals to vm.qstr_last_chunk, as gc_collect_start expects). */
#ifndef RGC_BENCH_MPGC_RUNTIME_H
#define RGC_BENCH_MPGC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "py/misc.h"
#include "py/mpconfig.h"
#include "py/mpprint.h"

typedef void *mp_obj_t;
typedef struct _mp_obj_base_t {
    const void *type;
} mp_obj_base_t;
typedef size_t qstr;
#define MP_OBJ_NULL ((mp_obj_t)NULL)
#define MP_OBJ_FROM_PTR(p) ((mp_obj_t)(p))
#define MP_QSTR___del__ ((qstr)1)

/* Finalisers: py/gc.c calls these only for blocks whose finaliser bit is set; the workloads never set
 * one, so the stubs (bench/mpgc/mpgc_port.c) abort if reached. */
void mp_load_method_maybe(mp_obj_t base, qstr attr, mp_obj_t *dest);
mp_obj_t mp_call_function_1_protected(mp_obj_t fun, mp_obj_t arg);

/* gc_dump_alloc_table compares head words with these addresses; never called by the benchmark. */
extern const int mp_type_tuple, mp_type_list, mp_type_dict, mp_type_str, mp_type_bytes, mp_type_fun_bc,
    mp_type_module;

/* py/mpstate.h's lock-depth encoding */
#if MICROPY_ENABLE_FINALISER
#define GC_COLLECT_FLAG 1
#define GC_LOCK_DEPTH_SHIFT 1
#else
#define GC_COLLECT_FLAG 0
#define GC_LOCK_DEPTH_SHIFT 0
#endif

typedef struct _mp_state_mem_area_t {
    byte *gc_alloc_table_start;
    size_t gc_alloc_table_byte_len;
#if MICROPY_ENABLE_FINALISER
    byte *gc_finaliser_table_start;
#endif
    byte *gc_pool_start;
    byte *gc_pool_end;
    size_t gc_last_free_atb_index;
    size_t gc_last_used_block;
} mp_state_mem_area_t;

typedef struct _mp_state_mem_t {
    mp_state_mem_area_t area;
    int gc_stack_overflow;
    MICROPY_GC_STACK_ENTRY_TYPE gc_block_stack[MICROPY_ALLOC_GC_STACK_SIZE];
    uint16_t gc_auto_collect_enabled;
#if MICROPY_GC_ALLOC_THRESHOLD
    size_t gc_alloc_amount;
    size_t gc_alloc_threshold;
#endif
} mp_state_mem_t;

typedef struct _mp_state_vm_t {
    void *root_pointers[4]; /* stands for MicroPython's root-pointer section (always NULL here) */
    void *qstr_last_chunk;
} mp_state_vm_t;

typedef struct _mp_state_thread_t {
    char *stack_top;
    uint16_t gc_lock_depth;
    void *dict_locals;
    void *dict_globals;
    void *nlr_top;
} mp_state_thread_t;

typedef struct _mp_state_ctx_t {
    mp_state_thread_t thread;
    mp_state_vm_t vm;
    mp_state_mem_t mem;
} mp_state_ctx_t;

extern mp_state_ctx_t mp_state_ctx;

#define MP_STATE_VM(x) (mp_state_ctx.vm.x)
#define MP_STATE_MEM(x) (mp_state_ctx.mem.x)
#define MP_STATE_THREAD(x) (mp_state_ctx.thread.x)

#endif
