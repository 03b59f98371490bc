/* sweep.h - the preemption sweep's port and injection machinery (tests/sweep/sweep_port.c).
 *
 * The core is compiled a second time with clang's -fsanitize-coverage=trace-pc-guard,trace-loads,
 * trace-stores. Every callback the instrumented core makes is an "injection point". While the sweep is
 * armed (around the level-0 victim operation only), each point advances a counter; when it reaches the
 * target N, the registered interrupt body runs at level 1 (or, if the port's mask is held, is recorded as
 * pending and runs at the outermost rgc_port_unmask, as hardware would).
 *
 * Nested injection: a level-1 body may count its own points too (only inside the rgc calls it brackets
 * with sweep_count(1) / sweep_count(0), never inside its verification calls), from 0 at the start of the
 * body; when that counter reaches the nested target M, the level-2 body runs (or is pending until the
 * outermost unmask). rgc_port_level() reports the level of the innermost running body.
 */
#ifndef RGC_SWEEP_H
#define RGC_SWEEP_H

#include <stdint.h>

#include "rgc.h"

/* Highest simulated interrupt level. */
#define SWEEP_MAX_LEVEL 2u

/* Record the top (exclusive) of the stack rgc_port_scan_roots scans: a frame address at or above
 * every frame that holds heap pointers. */
void sweep_stack_init(void *frame);
/* The recorded top (highest address, exclusive) of the scanned stack. */
uintptr_t sweep_stack_top(void);

/* The simulated interrupt bodies. Called with no arguments; they read the test's globals. */
typedef void (*sweep_irq_fn)(void);
void sweep_set_irq(sweep_irq_fn fn); /* level 1 */
void sweep_set_irq_level(unsigned level, sweep_irq_fn fn); /* level 1..SWEEP_MAX_LEVEL */

/* Start counting level-0 points; inject level 1 at point number target (1-based); target 0: count only. */
void sweep_arm(uint64_t target);
/* Stop counting; returns the number of level-0 points counted since sweep_arm. */
uint64_t sweep_disarm(void);

/* The nested target of this run: inside the level-1 body, at its point number target (counted while
 * the body has counting on), the level-2 body runs. 0: count only. Reset by sweep_begin_run. */
void sweep_arm_nested(uint64_t target);
/* Inside a level-1 body: count (and inject at) the points of the calls that follow (1) or not (0).
 * Ignored at other levels. Counting is off at the start of every body. */
void sweep_count(int on);
/* Level-1 points counted in the current run. */
uint64_t sweep_nested_points(void);

struct sweep_counters {
    uint64_t fired;          /* level-1 injections (bodies started by the level-0 target point) */
    uint64_t pending;        /* of which found the mask held and ran at the outermost unmask */
    uint64_t nested_fired;   /* level-2 injections (bodies started by the level-1 target point) */
    uint64_t nested_pending; /* of which found the mask held and ran at the outermost unmask */
    uint64_t max_masked;     /* most points seen inside one masked window (any level) */
    uint64_t masks;          /* masked windows entered (outermost) */
    uint64_t port_errors;    /* unbalanced or out-of-order rgc_port_unmask */
};
/* Counters since the last sweep_reset_counters(). */
void sweep_get_counters(struct sweep_counters *out);
void sweep_reset_counters(void);

/* Per-run state: clear the fired flags, the targets and the runaway guard. */
void sweep_begin_run(void);
/* 1 if the level-1 target point of the current run was reached (and the level-1 body ran). */
int sweep_run_fired(void);
/* 1 if the current run's level-1 body found the mask held (ran at unmask). */
int sweep_run_pending(void);
/* The same for the nested (level-2) injection. */
int sweep_run_fired2(void);
int sweep_run_pending2(void);

/* Current mask nesting depth and whether an interrupt is pending (both must be 0 at level 0 between
 * rgc calls). */
unsigned sweep_mask_depth(void);
int sweep_pending_now(void);
/* 1 while an injected interrupt body runs (at any level). */
int sweep_in_irq(void);

/* Force the level rgc_port_level() reports (a simulated interrupt context outside an injection). */
void sweep_set_level(unsigned level);

/* Called by the runaway guard (too many points in one run) with a description; set by the test. */
typedef void (*sweep_runaway_fn)(uint64_t points);
void sweep_set_runaway(sweep_runaway_fn fn, uint64_t limit);

#endif /* RGC_SWEEP_H */
