/* fuzz_port.c - the fuzz target's rgc port and preemption-point injection (see fuzz_port.h).
 *
 * Adapted from tests/sweep/sweep_port.c: the same callbacks and masking rules, with a counter per
 * level instead of two fixed ones. Not instrumented itself (only the core is).
 */
#include "fuzz_port.h"

#include <stddef.h>
#include <stdint.h>

#include "rgc.h"
#include "rgc_port.h"

#ifndef FUZZ_WRAP_GUARD
#define FUZZ_WRAP_GUARD 1
#endif

static struct {
    uint64_t points, target; /* target 0: nothing armed */
    fuzz_body_fn fn;
    void *arg;
    unsigned to;
    int fired;
} g_cnt[FUZZ_MAX_LEVEL + 1];

static unsigned g_level;
static unsigned g_mask_depth;
static struct {
    int on;
    unsigned from;
} g_pending;
static uint64_t g_total, g_errors, g_fired, g_fired_unmask;
static uintptr_t g_stack_top;

static void run_body(unsigned from)
{
    fuzz_body_fn fn = g_cnt[from].fn;
    void *arg = g_cnt[from].arg;
    unsigned to = g_cnt[from].to, was = g_level;
    g_cnt[from].target = 0;
    g_cnt[from].fired = 1;
    g_fired++;
    if (to > FUZZ_MAX_LEVEL)
        to = FUZZ_MAX_LEVEL;
    g_level = to;
    if (fn != NULL)
        fn(arg);
    g_level = was;
}

static inline void point(void)
{
    g_total++;
    unsigned l = g_level;
    if (g_cnt[l].target != 0 && ++g_cnt[l].points == g_cnt[l].target) {
        g_cnt[l].target = 0;
        if (g_mask_depth > 0) {
            g_pending.on = 1;
            g_pending.from = l;
            return;
        }
        run_body(l);
    }
}

/* Coverage builds (tests/fuzz/coverage.sh, FUZZ_SKIP_PROFILE_COUNTERS=1): the core's profile counter
 * updates are loads and stores too; they are not points, so that injections fall where they fall in
 * the fuzz binaries. */
#if FUZZ_SKIP_PROFILE_COUNTERS
extern char __start___llvm_prf_cnts[] __attribute__((weak));
extern char __stop___llvm_prf_cnts[] __attribute__((weak));
#define MEM_POINT(addr)                                                                              \
    do {                                                                                            \
        if ((char *)(addr) < __start___llvm_prf_cnts || (char *)(addr) >= __stop___llvm_prf_cnts)   \
            point();                                                                                \
    } while (0)
#else
#define MEM_POINT(addr) ((void)(addr), point())
#endif

/* ---- clang 14 SanitizerCoverage callbacks ---- */
#if FUZZ_WRAP_GUARD
#define GUARD_FN __wrap___sanitizer_cov_trace_pc_guard
#define GUARD_INIT_FN __wrap___sanitizer_cov_trace_pc_guard_init
#else
#define GUARD_FN __sanitizer_cov_trace_pc_guard
#define GUARD_INIT_FN __sanitizer_cov_trace_pc_guard_init
#endif
void GUARD_INIT_FN(uint32_t *start, uint32_t *stop);
void GUARD_FN(uint32_t *guard);
void __sanitizer_cov_load1(void *addr);
void __sanitizer_cov_load2(void *addr);
void __sanitizer_cov_load4(void *addr);
void __sanitizer_cov_load8(void *addr);
void __sanitizer_cov_load16(void *addr);
void __sanitizer_cov_store1(void *addr);
void __sanitizer_cov_store2(void *addr);
void __sanitizer_cov_store4(void *addr);
void __sanitizer_cov_store8(void *addr);
void __sanitizer_cov_store16(void *addr);

void GUARD_INIT_FN(uint32_t *start, uint32_t *stop)
{
    static uint32_t n;
    if (start == stop || *start != 0)
        return;
    for (uint32_t *g = start; g < stop; g++)
        *g = ++n;
}
void GUARD_FN(uint32_t *guard) { (void)guard; point(); }
void __sanitizer_cov_load1(void *addr) { MEM_POINT(addr); }
void __sanitizer_cov_load2(void *addr) { MEM_POINT(addr); }
void __sanitizer_cov_load4(void *addr) { MEM_POINT(addr); }
void __sanitizer_cov_load8(void *addr) { MEM_POINT(addr); }
void __sanitizer_cov_load16(void *addr) { MEM_POINT(addr); }
void __sanitizer_cov_store1(void *addr) { MEM_POINT(addr); }
void __sanitizer_cov_store2(void *addr) { MEM_POINT(addr); }
void __sanitizer_cov_store4(void *addr) { MEM_POINT(addr); }
void __sanitizer_cov_store8(void *addr) { MEM_POINT(addr); }
void __sanitizer_cov_store16(void *addr) { MEM_POINT(addr); }

/* ---- the port ---- */
rgc_mask_state rgc_port_mask(void)
{
    if (g_mask_depth == 0)
        point(); /* an interrupt may arrive at the instruction before the mask takes effect */
    return (rgc_mask_state)g_mask_depth++;
}

void rgc_port_unmask(rgc_mask_state s)
{
    if (g_mask_depth == 0 || s != (rgc_mask_state)(g_mask_depth - 1)) {
        g_errors++;
        if (g_mask_depth == 0)
            return;
    }
    if (--g_mask_depth == 0 && g_pending.on) {
        g_pending.on = 0;
        g_fired_unmask++;
        run_body(g_pending.from);
    }
}

unsigned rgc_port_level(void) { return g_level; }

uint32_t rgc_port_cycles(void) { return (uint32_t)g_total; }

__attribute__((noinline)) static void scan_stack(rgc_heap *h, rgc_scan_fn scan)
{
    void *volatile marker = NULL;
    uintptr_t lo = (uintptr_t)&marker & ~(uintptr_t)(sizeof(void *) - 1);
    uintptr_t hi = g_stack_top & ~(uintptr_t)(sizeof(void *) - 1);
    if (hi > lo)
        scan(h, (void *const *)lo, (size_t)(hi - lo) / sizeof(void *));
    (void)marker;
}

void rgc_port_scan_roots(rgc_heap *h, rgc_scan_fn scan)
{
    __builtin_unwind_init(); /* spill the callee-saved registers into this frame */
    scan_stack(h, scan);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame stays live during the scan */
}

/* ---- control ---- */
void fuzz_port_reset(void)
{
    for (unsigned l = 0; l <= FUZZ_MAX_LEVEL; l++) {
        g_cnt[l].points = 0;
        g_cnt[l].target = 0;
        g_cnt[l].fired = 0;
        g_cnt[l].fn = NULL;
    }
    g_level = 0;
    g_pending.on = 0;
    g_total = 0;
    g_errors = 0;
}

void fuzz_set_stack_top(void *frame) { g_stack_top = (uintptr_t)frame; }
unsigned fuzz_level(void) { return g_level; }
void fuzz_set_level(unsigned level) { g_level = level > FUZZ_MAX_LEVEL ? FUZZ_MAX_LEVEL : level; }

void fuzz_arm(uint64_t n, unsigned to, fuzz_body_fn fn, void *arg)
{
    unsigned l = g_level;
    g_cnt[l].points = 0;
    g_cnt[l].target = n;
    g_cnt[l].fn = fn;
    g_cnt[l].arg = arg;
    g_cnt[l].to = to;
    g_cnt[l].fired = 0;
}

int fuzz_disarm(void)
{
    unsigned l = g_level;
    int fired = g_cnt[l].fired;
    g_cnt[l].target = 0;
    g_cnt[l].fired = 0;
    return fired;
}

uint64_t fuzz_points(void) { return g_total; }
unsigned fuzz_mask_depth(void) { return g_mask_depth; }
int fuzz_pending(void) { return g_pending.on; }
uint64_t fuzz_port_errors(void) { return g_errors; }
uint64_t fuzz_fired(void) { return g_fired; }
uint64_t fuzz_fired_at_unmask(void) { return g_fired_unmask; }
