/* mpgc.h - MicroPython's py/gc.c as a benchmark peer: the port side a MicroPython port would supply
 * (heap setup, root ranges, gc_collect over them and the stack), for bench/rgc_bench.c and bench/mcu.
 * py/gc.c's own entry points (gc_alloc, gc_free, gc_collect, gc_info) come from py/gc.h. */
#ifndef RGC_BENCH_MPGC_H
#define RGC_BENCH_MPGC_H

#include <stddef.h>

#include "py/gc.h"

#define MPGC_BLOCK_BYTES ((size_t)MICROPY_BYTES_PER_GC_BLOCK)

/* gc_init over [mem, mem + bytes) and forget every root range; returns the pool's blocks. */
size_t mpgc_init(void *mem, size_t bytes);
/* A root range (as rgc_add_root): gc_collect passes it to gc_collect_root. At most 16. */
int mpgc_add_root(void *start, size_t bytes);
/* gc_collect calls since start-up (gc_alloc's own on a failed search included). */
unsigned mpgc_collections(void);
/* Bytes in use (gc_info: walks the whole table; not for timed code). */
size_t mpgc_used_bytes(void);
/* The last free index py/gc.c searches from (table bytes), for search statistics. */
size_t mpgc_search_start(void);
/* Table byte index of a block pointer (for search statistics). */
size_t mpgc_atb_index(const void *p);

#endif
