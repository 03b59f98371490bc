/* sweep.h - the preemption sweep's port and injection machinery (tests/sweep/sweep_port.c).
 *
 * The core is compiled a second time with clang's -fsanitize-coverage=trace-pc-guard,trace-loads,
 * trace-stores. Every callback the instrumented core makes is an "injection point". While the sweep is
 * armed (around the level-0 victim operation only), each point advances a counter; when it reaches the
 * target N, the registered interrupt body runs at level 1 (or, if the port's mask is held, is recorded as
 * pending and runs at the outermost rgc_port_unmask, as hardware would).
 */
#ifndef RGC_SWEEP_H
#define RGC_SWEEP_H

#include <stdint.h>

#include "rgc.h"

/* Record the top (exclusive) of the stack rgc_port_scan_roots scans: a frame address at or above
 * every frame that holds heap pointers. */
void sweep_stack_init(void *frame);
/* The recorded top (highest address, exclusive) of the scanned stack. */
uintptr_t sweep_stack_top(void);

/* The simulated interrupt (level 1). Called with no arguments; reads the test's globals. */
typedef void (*sweep_irq_fn)(void);
void sweep_set_irq(sweep_irq_fn fn);

/* Start counting points; inject at point number target (1-based); target 0: count only. */
void sweep_arm(uint64_t target);
/* Stop counting; returns the number of points counted since sweep_arm. */
uint64_t sweep_disarm(void);

struct sweep_counters {
    uint64_t fired;            /* injections (interrupt bodies started by the target point) */
    uint64_t pending;          /* of which found the mask held and ran at the outermost unmask */
    uint64_t max_masked;       /* most points seen inside one masked window (any level) */
    uint64_t masks;            /* masked windows entered (outermost) */
    uint64_t port_errors;      /* unbalanced or out-of-order rgc_port_unmask */
};
/* Counters since the last sweep_reset_counters(). */
void sweep_get_counters(struct sweep_counters *out);
void sweep_reset_counters(void);

/* Per-run state: clear the fired flag and the runaway guard. */
void sweep_begin_run(void);
/* 1 if the target point of the current run was reached (and the interrupt ran). */
int sweep_run_fired(void);
/* 1 if the current run's interrupt found the mask held (ran at unmask). */
int sweep_run_pending(void);

/* Current mask nesting depth and whether an interrupt is pending (both must be 0 at level 0 between
 * rgc calls). */
unsigned sweep_mask_depth(void);
int sweep_pending_now(void);
/* 1 while the simulated interrupt body runs. */
int sweep_in_irq(void);

/* Force the level rgc_port_level() reports (simulated level-1 context outside an injection). */
void sweep_set_level(unsigned level);

/* Called by the runaway guard (too many points in one run) with a description; set by the test. */
typedef void (*sweep_runaway_fn)(uint64_t points);
void sweep_set_runaway(sweep_runaway_fn fn, uint64_t limit);

#endif /* RGC_SWEEP_H */
