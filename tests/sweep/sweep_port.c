/* sweep_port.c - the preemption sweep's own rgc port and its injection machinery.
 *
 * This file is NOT instrumented. The core linked into the sweep executables is compiled with
 * -fsanitize-coverage=trace-pc-guard,trace-loads,trace-stores,no-prune, so it calls the callbacks below
 * at every basic block and before every load and store. Each call is an injection point; so is the
 * instant just before rgc_port_mask takes effect.
 *
 * Port semantics (single core, simulated):
 *  - rgc_port_level(): 0 for the test's thread code, 1 while the injected interrupt body runs (or when
 *    the test forces level 1 with sweep_set_level).
 *  - rgc_port_mask()/rgc_port_unmask(): a nesting counter. An injection that falls inside a masked window
 *    is recorded as pending and the interrupt runs at the outermost unmask, exactly as hardware would.
 *  - rgc_port_scan_roots(): callee-saved registers (spilled by __builtin_unwind_init into this frame)
 *    and the whole stack from a local of a non-inlined helper up to the frame the test registered with
 *    sweep_stack_init (the frame that runs one sweep run; everything the test keeps is below it).
 *    The injected interrupt runs on the same stack, nested below the interrupted level-0 frames, so a
 *    collection started inside it scans the interrupted frames too.
 */
#include <stdint.h>
#include <stdlib.h>

#include "rgc.h"
#include "rgc_port.h"
#include "sweep.h"

/* ---- state ---- */
static uint64_t g_points;       /* points counted since sweep_arm */
static uint64_t g_target;       /* 0: never inject */
static int g_armed;             /* counting (level-0 victim operation in progress) */
static int g_in_irq;            /* the interrupt body is running */
static unsigned g_level;        /* what rgc_port_level reports */
static unsigned g_mask_depth;   /* rgc_port_mask nesting */
static int g_pending;           /* an injection found the mask held */
static int g_run_fired, g_run_pending;
static uint64_t g_run_total;    /* every callback of this run (runaway guard) */
static uint64_t g_run_limit = UINT64_MAX;
static sweep_runaway_fn g_runaway;
static uint64_t g_window_points; /* points inside the current outermost masked window */
static struct sweep_counters g_ctr;
static sweep_irq_fn g_irq;
static uintptr_t g_stack_top;

/* ---- the interrupt ---- */
static void run_irq(void)
{
    int was_armed = g_armed;
    unsigned was_level = g_level;
    g_armed = 0;
    g_in_irq = 1;
    g_level = 1;
    g_run_fired = 1;
    g_ctr.fired++;
    if (g_irq != NULL) {
        g_irq();
    }
    g_level = was_level;
    g_in_irq = 0;
    g_armed = was_armed;
}

static void point_slow(void)
{
    /* Reached the target: inject (no recursion: g_armed is 0 inside the interrupt). */
    g_target = 0;
    if (g_mask_depth > 0) {
        g_pending = 1;
        g_run_pending = 1;
        g_ctr.pending++;
        return;
    }
    run_irq();
}

static inline void point(void)
{
    if (++g_run_total > g_run_limit) {
        uint64_t n = g_run_total;
        g_run_limit = UINT64_MAX;
        if (g_runaway != NULL) {
            g_runaway(n);
        }
        abort();
    }
    if (g_mask_depth > 0) {
        g_window_points++;
    }
    if (g_armed && ++g_points == g_target) {
        point_slow();
    }
}

/* ---- clang 14 SanitizerCoverage callbacks ---- */
void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop);
void __sanitizer_cov_trace_pc_guard(uint32_t *guard);
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

void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop)
{
    static uint32_t n;
    if (start == stop || *start != 0) {
        return;
    }
    for (uint32_t *g = start; g < stop; g++) {
        *g = ++n;
    }
}

void __sanitizer_cov_trace_pc_guard(uint32_t *guard)
{
    (void)guard;
    point();
}

void __sanitizer_cov_load1(void *addr) { (void)addr; point(); }
void __sanitizer_cov_load2(void *addr) { (void)addr; point(); }
void __sanitizer_cov_load4(void *addr) { (void)addr; point(); }
void __sanitizer_cov_load8(void *addr) { (void)addr; point(); }
void __sanitizer_cov_load16(void *addr) { (void)addr; point(); }
void __sanitizer_cov_store1(void *addr) { (void)addr; point(); }
void __sanitizer_cov_store2(void *addr) { (void)addr; point(); }
void __sanitizer_cov_store4(void *addr) { (void)addr; point(); }
void __sanitizer_cov_store8(void *addr) { (void)addr; point(); }
void __sanitizer_cov_store16(void *addr) { (void)addr; point(); }

/* ---- the port ---- */
rgc_mask_state rgc_port_mask(void)
{
    /* An interrupt may arrive at the instruction before the mask takes effect: one more point (on a
     * core built with RGC_ATOMICS_VIA_MASK this is the window between reading a table byte and the
     * masked read-modify-write that re-validates it). */
    if (g_mask_depth == 0) {
        point();
        g_window_points = 0;
        g_ctr.masks++;
    }
    return (rgc_mask_state)g_mask_depth++;
}

void rgc_port_unmask(rgc_mask_state s)
{
    if (g_mask_depth == 0 || s != (rgc_mask_state)(g_mask_depth - 1)) {
        g_ctr.port_errors++;
        if (g_mask_depth == 0) {
            return;
        }
    }
    g_mask_depth--;
    if (g_mask_depth == 0) {
        if (g_window_points > g_ctr.max_masked) {
            g_ctr.max_masked = g_window_points;
        }
        if (g_pending) {
            g_pending = 0;
            run_irq();
        }
    }
}

unsigned rgc_port_level(void)
{
    return g_level;
}

uint32_t rgc_port_cycles(void)
{
    return (uint32_t)g_run_total;
}

__attribute__((noinline)) static void scan_stack(rgc_heap *h, rgc_scan_fn scan)
{
    void *volatile marker = NULL;
    uintptr_t lo = (uintptr_t)&marker & ~(uintptr_t)(sizeof(void *) - 1);
    uintptr_t hi = g_stack_top & ~(uintptr_t)(sizeof(void *) - 1);
    if (hi > lo) {
        scan(h, (void *const *)lo, (size_t)(hi - lo) / sizeof(void *));
    }
    (void)marker;
}

void rgc_port_scan_roots(rgc_heap *h, rgc_scan_fn scan)
{
    __builtin_unwind_init(); /* spill the callee-saved registers into this frame */
    scan_stack(h, scan);
    __asm__ volatile("" ::: "memory"); /* no tail call: this frame must stay live during the scan */
}

/* ---- control ---- */
void sweep_stack_init(void *frame)
{
    /* The scanned stack ends at this frame address (exclusive; the frame's locals lie below it).
     * The test sets it to the frame of the function that runs one injection run: every heap pointer
     * the test holds lives in that frame or below, the region is wiped before each phase of the run,
     * so its contents and the collector's point count are the same in every run and every process,
     * and an injection point number reproduces exactly. (Not the true top of the stack: the distance
     * from main to it varies with argv, the environment and stack randomisation.) */
    g_stack_top = (uintptr_t)frame;
}

uintptr_t sweep_stack_top(void) { return g_stack_top; }

void sweep_set_irq(sweep_irq_fn fn) { g_irq = fn; }

void sweep_arm(uint64_t target)
{
    g_points = 0;
    g_target = target;
    g_armed = 1;
}

uint64_t sweep_disarm(void)
{
    g_armed = 0;
    g_target = 0;
    return g_points;
}

void sweep_get_counters(struct sweep_counters *out) { *out = g_ctr; }

void sweep_reset_counters(void)
{
    struct sweep_counters z = {0};
    g_ctr = z;
}

void sweep_begin_run(void)
{
    g_run_fired = 0;
    g_run_pending = 0;
    g_run_total = 0;
    g_pending = 0;
    g_points = 0;
    g_target = 0;
    g_armed = 0;
}

int sweep_run_fired(void) { return g_run_fired; }
int sweep_run_pending(void) { return g_run_pending; }
unsigned sweep_mask_depth(void) { return g_mask_depth; }
int sweep_pending_now(void) { return g_pending; }
int sweep_in_irq(void) { return g_in_irq; }
void sweep_set_level(unsigned level) { g_level = level; }

void sweep_set_runaway(sweep_runaway_fn fn, uint64_t limit)
{
    g_runaway = fn;
    g_run_limit = limit;
}
