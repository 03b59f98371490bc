/* mpgc_port.c - the port side of py/gc.c for the benchmark: what a MicroPython port supplies.
 *
 * gc_collect does what a port's does (ports/unix/gccollect.c, ports/stm32/gccollect.c): gc_collect_start,
 * then gc_collect_root over the callee-saved registers and the stack from here to its top, then over the
 * harness's root ranges (rgc_add_root's counterpart), then gc_collect_end. rgc's ports scan the same:
 * registers spilled by __builtin_unwind_init and the stack up to its top, plus the registered ranges.
 */
#define _GNU_SOURCE
#include "mpgc.h"

#include <string.h>

#include "py/runtime.h"

#if defined(__arm__) && !defined(__linux__)
extern uint32_t __stack_top[]; /* tests/qemu/mps2_an385.ld */
static void *stack_top(void) {
    return __stack_top;
}
#else
#include <pthread.h>
static void *stack_top(void) {
    static void *top;
    if (top == NULL) {
        pthread_attr_t attr;
        void *addr = NULL;
        size_t size = 0;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            pthread_attr_getstack(&attr, &addr, &size);
            pthread_attr_destroy(&attr);
        }
        top = (char *)addr + size;
    }
    return top;
}
#endif

mp_state_ctx_t mp_state_ctx;

static struct {
    void **start;
    size_t words;
} roots[16];
static unsigned nroots, ncollections;

size_t mpgc_init(void *mem, size_t bytes) {
    gc_init(mem, (char *)mem + bytes);
    nroots = 0;
    return MP_STATE_MEM(area).gc_alloc_table_byte_len * 4u;
}

int mpgc_add_root(void *start, size_t bytes) {
    if (nroots == sizeof roots / sizeof roots[0])
        return -1;
    roots[nroots].start = start;
    roots[nroots].words = bytes / sizeof(void *);
    nroots++;
    return 0;
}

unsigned mpgc_collections(void) {
    return ncollections;
}

size_t mpgc_used_bytes(void) {
    gc_info_t info;
    gc_info(&info);
    return info.used;
}

size_t mpgc_search_start(void) {
    return MP_STATE_MEM(area).gc_last_free_atb_index;
}

size_t mpgc_atb_index(const void *p) {
    return (size_t)((const byte *)p - MP_STATE_MEM(area).gc_pool_start) / MPGC_BLOCK_BYTES / 4u;
}

__attribute__((noinline)) static void scan_stack(void) {
    void *volatile here = NULL;
    uintptr_t lo = (uintptr_t)&here & ~(uintptr_t)(sizeof(void *) - 1u);
    uintptr_t hi = (uintptr_t)stack_top();
    if (hi > lo)
        gc_collect_root((void **)lo, (hi - lo) / sizeof(void *));
}

void gc_collect(void) {
    volatile int keep_frame = 0;
    gc_collect_start();
    __builtin_unwind_init(); /* callee-saved registers into this frame, above scan_stack's */
    scan_stack();
    for (unsigned i = 0; i < nroots; i++)
        gc_collect_root(roots[i].start, roots[i].words);
    gc_collect_end();
    ncollections++;
    (void)keep_frame;
}

/* ---- what py/gc.c references and the benchmark never reaches --------------------------------------- */

const int mp_type_tuple, mp_type_list, mp_type_dict, mp_type_str, mp_type_bytes, mp_type_fun_bc, mp_type_module;

static void discard(void *data, const char *str, size_t len) {
    (void)data, (void)str, (void)len;
}
const mp_print_t mp_plat_print = {NULL, discard};

int mp_print_str(const mp_print_t *print, const char *str) {
    (void)print, (void)str;
    return 0;
}

int mp_printf(const mp_print_t *print, const char *fmt, ...) {
    (void)print, (void)fmt;
    return 0;
}

void mp_load_method_maybe(mp_obj_t base, qstr attr, mp_obj_t *dest) {
    (void)base, (void)attr, (void)dest;
    __builtin_trap(); /* only for blocks with a finaliser, which the benchmark never allocates */
}

mp_obj_t mp_call_function_1_protected(mp_obj_t fun, mp_obj_t arg) {
    (void)fun, (void)arg;
    __builtin_trap();
}
