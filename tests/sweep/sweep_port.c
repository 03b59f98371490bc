/* sweep_port.c - the preemption sweep's own rgc port and its injection machinery.
 *
 * This file is NOT instrumented. The core linked into the sweep executables is compiled with
 * -fsanitize-coverage=trace-pc-guard,trace-loads,trace-stores,no-prune, so it calls the callbacks below
 * at every basic block and before every load and store. Each call is an injection point; so is the
 * instant just before rgc_port_mask takes effect.
 *
 * Port semantics (single core, simulated):
 *  - rgc_port_level(): 0 for the test's thread code, L while the injected level-L body runs (or what the
 *    test forces with sweep_set_level).
 *  - Counting: points at level 0 count while the test has armed the sweep (sweep_arm); points at level 1
 *    count while the level-1 body has counting on (sweep_count), from 0 at the body's start. The target
 *    point of level L starts the body of level L + 1 on top of it (nesting up to SWEEP_MAX_LEVEL); points
 *    at a level count only towards that level's counter, so the lower levels' counters stand still
 *    while a body above them runs, as their code does.
 *  - rgc_port_mask()/rgc_port_unmask(): a nesting counter. An injection that falls inside a masked window
 *    is recorded as pending and the interrupt runs at the outermost unmask, exactly as hardware would.
 *  - rgc_port_scan_roots(): callee-saved registers (spilled by __builtin_unwind_init into this frame)
 *    and the whole stack from a local of a non-inlined helper up to the frame the test registered with
 *    sweep_stack_init (the frame that runs one sweep run; everything the test keeps is below it).
 *    Injected interrupts run on the same stack, nested below the interrupted frames, so a collection
 *    started inside one scans the frames of every interrupted level too.
 */
#include <stdint.h>
#include <stdlib.h>

#include "rgc.h"
#include "rgc_port.h"
#include "sweep.h"

/* ---- state ---- */
/* Point counter of level L (0 .. SWEEP_MAX_LEVEL - 1); reaching its target starts level L + 1. */
static struct {
    uint64_t points;
    uint64_t target; /* 0: never inject */
    int armed;
} g_cnt[SWEEP_MAX_LEVEL];
static sweep_irq_fn g_body[SWEEP_MAX_LEVEL + 1];
static unsigned g_level;        /* what rgc_port_level reports */
static unsigned g_irq_depth;    /* injected bodies running */
static unsigned g_mask_depth;   /* rgc_port_mask nesting */
static unsigned g_pending;      /* level of the body an injection left pending (masked), or 0 */
static int g_run_fired[SWEEP_MAX_LEVEL + 1], g_run_pending[SWEEP_MAX_LEVEL + 1];
static uint64_t g_run_total;    /* every callback of this run (runaway guard) */
static uint64_t g_run_limit = UINT64_MAX;
static sweep_runaway_fn g_runaway;
static uint64_t g_window_points; /* points inside the current outermost masked window */
static struct sweep_counters g_ctr;
static uintptr_t g_stack_top;

/* ---- the interrupt ---- */
static void run_irq(unsigned level)
{
    unsigned was_level = g_level;
    g_level = level;
    g_irq_depth++;
    g_run_fired[level] = 1;
    if (level == 1) {
        g_ctr.fired++;
    } else {
        g_ctr.nested_fired++;
    }
    if (level < SWEEP_MAX_LEVEL) {
        /* counted from the start of this body, and only where the body turns counting on */
        g_cnt[level].points = 0;
        g_cnt[level].armed = 0;
    }
    if (g_body[level] != NULL) {
        g_body[level]();
    }
    if (level < SWEEP_MAX_LEVEL) {
        g_cnt[level].armed = 0;
    }
    g_irq_depth--;
    g_level = was_level;
}

static void point_slow(void)
{
    /* Reached the target of this level: the level above preempts it (once per run). */
    unsigned above = g_level + 1;
    g_cnt[g_level].target = 0;
    if (g_mask_depth > 0) {
        g_pending = above;
        g_run_pending[above] = 1;
        if (above == 1) {
            g_ctr.pending++;
        } else {
            g_ctr.nested_pending++;
        }
        return;
    }
    run_irq(above);
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
    if (g_level < SWEEP_MAX_LEVEL && g_cnt[g_level].armed && ++g_cnt[g_level].points == g_cnt[g_level].target) {
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
        if (g_pending != 0) {
            unsigned level = g_pending;
            g_pending = 0;
            run_irq(level);
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

void sweep_set_irq(sweep_irq_fn fn) { g_body[1] = fn; }

void sweep_set_irq_level(unsigned level, sweep_irq_fn fn)
{
    if (level >= 1 && level <= SWEEP_MAX_LEVEL) {
        g_body[level] = fn;
    }
}

void sweep_arm(uint64_t target)
{
    g_cnt[0].points = 0;
    g_cnt[0].target = target;
    g_cnt[0].armed = 1;
}

uint64_t sweep_disarm(void)
{
    g_cnt[0].armed = 0;
    g_cnt[0].target = 0;
    return g_cnt[0].points;
}

void sweep_arm_nested(uint64_t target) { g_cnt[1].target = target; }

void sweep_count(int on)
{
    if (g_level >= 1 && g_level < SWEEP_MAX_LEVEL) {
        g_cnt[g_level].armed = on;
    }
}

uint64_t sweep_nested_points(void) { return g_cnt[1].points; }

void sweep_get_counters(struct sweep_counters *out) { *out = g_ctr; }

void sweep_reset_counters(void)
{
    struct sweep_counters z = {0};
    g_ctr = z;
}

void sweep_begin_run(void)
{
    for (unsigned l = 0; l <= SWEEP_MAX_LEVEL; l++) {
        g_run_fired[l] = 0;
        g_run_pending[l] = 0;
    }
    for (unsigned l = 0; l < SWEEP_MAX_LEVEL; l++) {
        g_cnt[l].points = 0;
        g_cnt[l].target = 0;
        g_cnt[l].armed = 0;
    }
    g_run_total = 0;
    g_pending = 0;
}

int sweep_run_fired(void) { return g_run_fired[1]; }
int sweep_run_pending(void) { return g_run_pending[1]; }
int sweep_run_fired2(void) { return g_run_fired[2]; }
int sweep_run_pending2(void) { return g_run_pending[2]; }
unsigned sweep_mask_depth(void) { return g_mask_depth; }
int sweep_pending_now(void) { return g_pending != 0; }
int sweep_in_irq(void) { return g_irq_depth > 0; }
void sweep_set_level(unsigned level) { g_level = level; }

void sweep_set_runaway(sweep_runaway_fn fn, uint64_t limit)
{
    g_runaway = fn;
    g_run_limit = limit;
}
