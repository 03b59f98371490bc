/* fuzz_port.h - the fuzz target's own rgc port: simulated levels and "interrupt at preemption point N".
 *
 * The mechanism of the preemption sweep (tests/sweep/sweep_port.c), generalised to any number of
 * nested levels: the core is compiled with clang's -fsanitize-coverage=trace-pc-guard,trace-loads,
 * trace-stores,no-prune, so it calls back at every basic block and before every load and store; each
 * callback is a preemption point. A caller running at level L arms an injection for the rgc call it is
 * about to make (fuzz_arm); the points the core executes at level L are counted (points of bodies
 * running above it are not), and at point N a body runs at level `to` > L, on the same stack, nested
 * below the preempted frames. Injections that fall inside a masked window (RGC_ATOMICS_VIA_MASK=1)
 * run at the outermost rgc_port_unmask, as hardware would.
 *
 * libFuzzer defines __sanitizer_cov_trace_pc_guard itself (FuzzerTracePC.cpp), so the fuzz binaries
 * link with -Wl,--wrap=__sanitizer_cov_trace_pc_guard{,_init}: the core's calls reach this port's
 * __wrap_ versions (FUZZ_WRAP_GUARD=1); a standalone build (coverage replay) defines the plain names.
 */
#ifndef RGC_FUZZ_PORT_H
#define RGC_FUZZ_PORT_H

#include <stdint.h>

/* Levels the port simulates: 0..FUZZ_MAX_LEVEL (beyond RGC_MAX_LEVELS - 1 on purpose: bad levels). */
#define FUZZ_MAX_LEVEL 17u

typedef void (*fuzz_body_fn)(void *arg);

/* Per input: levels back to 0, nothing armed, counters cleared, mask depth must be 0. */
void fuzz_port_reset(void);
/* Top (exclusive) of the stack rgc_port_scan_roots scans: a frame at or above every frame that holds
 * heap pointers. */
void fuzz_set_stack_top(void *frame);
/* The level rgc_port_level() reports; fuzz_set_level forces it (code running at a level without
 * preempting anything). */
unsigned fuzz_level(void);
void fuzz_set_level(unsigned level);
/* Arm an injection for the next rgc call at the current level: at its point n (1-based), fn(arg)
 * runs at level `to` (> the current level). */
void fuzz_arm(uint64_t n, unsigned to, fuzz_body_fn fn, void *arg);
/* Disarm the current level; returns 1 if the injection ran (or was left pending: never at return). */
int fuzz_disarm(void);
/* Points counted since fuzz_port_reset (all levels; the budget of one input). */
uint64_t fuzz_points(void);
/* Mask nesting, pending injection, unbalanced unmask calls (port errors). */
unsigned fuzz_mask_depth(void);
int fuzz_pending(void);
uint64_t fuzz_port_errors(void);
/* Injections that ran, and of those that ran at an unmask. */
uint64_t fuzz_fired(void);
uint64_t fuzz_fired_at_unmask(void);

#endif /* RGC_FUZZ_PORT_H */
