/* rgc_port.h - what a platform supplies to rgc. One small file per platform under port/.
 *
 * The core (src/) calls only these functions; a port, or a test's own port, replaces another without
 * touching the core. Every function must be callable at every level, nested, at any instant.
 */
#ifndef RGC_PORT_H
#define RGC_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "rgc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uintptr_t rgc_mask_state;

/* Hold off every interrupt that may use the heap; returns the previous state. Nests.
 * rgc masks only for single table read-modify-writes, and only when RGC_ATOMICS_VIA_MASK is 1. */
rgc_mask_state rgc_port_mask(void);
void rgc_port_unmask(rgc_mask_state s);

/* The calling context's execution level: 0 = thread, higher = higher interrupt priority. */
unsigned rgc_port_level(void);

/* Call scan(h, words, n) for the registers of the calling context and for every stack word below the
 * caller: the thread stack and the frames of every interrupted handler. Words need not be pointers. */
typedef void (*rgc_scan_fn)(rgc_heap *h, void *const *words, size_t nwords);
void rgc_port_scan_roots(rgc_heap *h, rgc_scan_fn scan);

/* A free-running cycle counter for the longest-masked-window statistic. Optional: the core has a weak
 * default returning 0. */
uint32_t rgc_port_cycles(void);

#ifdef __cplusplus
}
#endif
#endif /* RGC_PORT_H */
