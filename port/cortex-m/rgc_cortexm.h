/* rgc_cortexm.h - the Cortex-M port of rgc (ARMv6-M, ARMv7-M, ARMv8-M mainline).
 *
 * Levels: thread mode = 0; an exception's level grows with its urgency: with P implemented priority
 * bits, priority value v (top P bits of the 8-bit field) gives level 2^P - v, so the lowest priority
 * is level 1 and priority 0 is level 2^P. NMI and HardFault (fixed negative priorities) are above all.
 * rgc_level_policy therefore works per NVIC priority.
 *
 * Mask: PRIMASK by default. Define RGC_CORTEXM_BASEPRI=<value> (ARMv7-M and up) to mask with BASEPRI
 * instead: priorities more urgent than <value> (numerically lower) are never held off - they must not
 * use the heap (give their levels RGC_NO_ALLOC).
 * Atomics: ARMv7-M/ARMv8-M mainline use LDREX/STREX (C11 atomics, nothing masked); ARMv6-M (M0/M0+)
 * has no exclusives, so rgc_config.h selects RGC_ATOMICS_VIA_MASK there and every table update is a
 * masked load-compare-store of one byte.
 * Roots: r4-r11 and the main stack from the current SP to its top (every interrupted frame lives there),
 * plus the process stack from PSP to its top when thread mode runs on PSP.
 */
#ifndef RGC_CORTEXM_H
#define RGC_CORTEXM_H

#include <stdint.h>

#ifndef RGC_CORTEXM_PRIO_BITS
#define RGC_CORTEXM_PRIO_BITS 3 /* implemented NVIC priority bits (AN385: 3, nRF51: 2) */
#endif

/* Tell the port where the stacks end (their highest address, exclusive). psp_top may be NULL when
 * thread mode uses the main stack. Call before the first collection. */
void rgc_cortexm_init(void *msp_top, void *psp_top);

/* Optional: a free-running up-counter for the longest-masked-window statistic (default: DWT->CYCCNT
 * when the core has one and it runs, else 0). */
void rgc_cortexm_set_cycle_counter(uint32_t (*counter)(void));

#endif /* RGC_CORTEXM_H */
