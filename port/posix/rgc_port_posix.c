/* rgc_port_posix.c - root scanning and cycle counter of the posix port (mask and level live with the
 * interrupt simulator, rgc_sim.c).
 *
 * Roots: callee-saved registers spilled by __builtin_unwind_init, then the stack from below this frame
 * up to the thread's stack top (signal frames, holding interrupted registers, live inside that range).
 */
#define _GNU_SOURCE
#include "rgc_port.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

static void *stack_top(void) {
    static _Thread_local void *top;
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

__attribute__((noinline)) static void scan_stack(rgc_heap *h, rgc_scan_fn scan) {
    void *volatile here = NULL;
    uintptr_t lo = ((uintptr_t)&here) & ~(uintptr_t)(sizeof(void *) - 1u);
    uintptr_t hi = (uintptr_t)stack_top();
    if (hi > lo)
        scan(h, (void *const *)lo, (size_t)(hi - lo) / sizeof(void *));
}

void rgc_port_scan_roots(rgc_heap *h, rgc_scan_fn scan) {
    volatile int keep_frame = 0;
    __builtin_unwind_init(); /* spill callee-saved registers into this frame, above scan_stack's */
    scan_stack(h, scan);
    (void)keep_frame; /* a volatile read after the call: no tail call, so this frame stays put */
}

uint32_t rgc_port_cycles(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
}
