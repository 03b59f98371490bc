/* rgc_sim.h - a virtual interrupt controller for POSIX hosts (part of the posix port).
 *
 * Levels 1..levels are interrupt priorities mapped onto real-time signals delivered to the thread that
 * called rgc_sim_init (the "core"); level 0 is that thread's own code. A handler at level L runs with
 * its own and every lower level's signal blocked, so a higher level preempts it and a lower one never
 * does: the NVIC rule. The highest level gets the lowest signal number (Linux delivers the lowest pending
 * signal first, so pending levels nest one frame at a time).
 *
 * rgc_port_mask() blocks levels 1..ceiling only, as BASEPRI does on Cortex-M: levels above the ceiling
 * are "system" levels that rgc never holds off; they must not use the heap (rgc_sim_apply_ceiling sets
 * RGC_NO_ALLOC there, so an attempt is refused and counted as misuse).
 *
 * Sources: a periodic POSIX timer per level, rgc_sim_pend() from anywhere, and a storm thread that sends
 * queued real-time signals with tgkill as fast as asked.
 */
#ifndef RGC_SIM_H
#define RGC_SIM_H

#include <stdint.h>

#include "rgc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RGC_SIM_MAX_LEVELS 15

typedef void (*rgc_sim_handler)(unsigned level, void *arg);

struct rgc_sim_stats {
    uint64_t delivered[RGC_SIM_MAX_LEVELS + 1]; /* handler runs per level */
    unsigned max_nesting;                       /* deepest stack of interrupted levels seen */
    uint64_t masks;                             /* outermost rgc_port_mask calls */
    uint64_t storm_holds;                       /* times the storm waited for level 0 to run */
};

/* Call from the thread that becomes level 0 (the one interrupts preempt). levels: 1..15. ceiling:
 * highest level rgc_port_mask holds off (<= levels). Returns 0, or -1 with bad arguments or when the
 * host lacks real-time signals. */
int rgc_sim_init(unsigned levels, unsigned ceiling);
/* Handler for a level (NULL detaches). */
int rgc_sim_attach(unsigned level, rgc_sim_handler fn, void *arg);
/* Periodic interrupt at a level; period 0 stops it. Timer signals merge when late (as a real
 * interrupt flag would). */
int rgc_sim_timer(unsigned level, uint64_t period_ns);
/* Raise a level once, from any thread or level (queued: a burst is not merged). */
void rgc_sim_pend(unsigned level);
/* A thread raising random levels in [lo, hi] at `per_second` (0: as fast as it can). It never starves
 * level 0 for good: when the core thread has not been seen at level 0 for 2 ms, it holds off until
 * level 0 has run (counted in storm_holds). */
int rgc_sim_storm_start(unsigned lo, unsigned hi, unsigned per_second, uint64_t seed);
void rgc_sim_storm_stop(void);
/* Stop every source and wait until nothing is pending or running. */
void rgc_sim_quiesce(void);
/* RGC_NO_ALLOC on the levels above the ceiling. */
void rgc_sim_apply_ceiling(rgc_heap *h);
void rgc_sim_get_stats(struct rgc_sim_stats *out);
unsigned rgc_sim_levels(void);
unsigned rgc_sim_ceiling(void);

#ifdef __cplusplus
}
#endif
#endif /* RGC_SIM_H */
