/* rgc_config.h - compile-time options of rgc.
 *
 * Every option can be overridden on the compiler command line (-DRGC_BLOCK_BYTES=32) or by defining
 * RGC_CONFIG_FILE to a header of your own that is included first. Values here are the defaults.
 */
#ifndef RGC_CONFIG_H
#define RGC_CONFIG_H

#ifdef RGC_CONFIG_FILE
#include RGC_CONFIG_FILE
#endif

#include <stdint.h>

/* Bytes per block: the allocation granule. Must be a power of two and a multiple of the pointer size.
 * 16 on 32-bit targets, 32 on 64-bit targets (four pointer words per block, as in MicroPython). */
#ifndef RGC_BLOCK_BYTES
#if UINTPTR_MAX > 0xFFFFFFFFu
#define RGC_BLOCK_BYTES 32
#else
#define RGC_BLOCK_BYTES 16
#endif
#endif

/* 1: a word pointing anywhere inside an object keeps it alive (and rgc_free accepts only the start).
 * 0: only a pointer to the first byte of an object is a reference (MicroPython's default). */
#ifndef RGC_INTERIOR_POINTERS
#define RGC_INTERIOR_POINTERS 0
#endif

/* 1: RGC_FINALISER objects have their finaliser run when the sweep finds them dead. */
#ifndef RGC_FINALISERS
#define RGC_FINALISERS 1
#endif

/* Entries (block indices) in the collector's mark stack. On overflow the collector falls back to
 * rescanning the heap for marked blocks, so this bounds memory, not correctness. */
#ifndef RGC_MARK_STACK_DEPTH
#define RGC_MARK_STACK_DEPTH 64
#endif

/* Execution levels the heap distinguishes: 0 = thread, 1..RGC_MAX_LEVELS-1 = interrupt priorities.
 * A call from a level >= RGC_MAX_LEVELS is refused and counted as misuse. */
#ifndef RGC_MAX_LEVELS
#define RGC_MAX_LEVELS 16
#endif

/* Nesting of rgc calls within one level (realloc -> alloc -> collect -> finaliser -> free ...).
 * Each level keeps this many in-progress slots. Deeper nesting is refused and counted as misuse. */
#ifndef RGC_MAX_NEST
#define RGC_MAX_NEST 6
#endif

/* Root ranges registrable with rgc_add_root. */
#ifndef RGC_MAX_ROOTS
#define RGC_MAX_ROOTS 16
#endif

/* 1: table updates are done inside the port's mask (rgc_port_mask/unmask) with plain loads and stores,
 * for cores or toolchains without lock-free byte compare-and-swap. Each masked window is a single
 * read-modify-write of one table byte or one word: constant length.
 * 0: table updates are C11 compare-and-swap (lock-free), nothing is ever masked.
 * Default: 0 where the compiler reports lock-free byte atomics, else 1. */
#ifndef RGC_ATOMICS_VIA_MASK
#if defined(__GCC_ATOMIC_CHAR_LOCK_FREE) && __GCC_ATOMIC_CHAR_LOCK_FREE == 2 && \
    defined(__GCC_ATOMIC_POINTER_LOCK_FREE) && __GCC_ATOMIC_POINTER_LOCK_FREE == 2
#define RGC_ATOMICS_VIA_MASK 0
#else
#define RGC_ATOMICS_VIA_MASK 1
#endif
#endif

/* Placement: requests of 2 .. next-fit-max blocks search next fit (fast: they skip the small holes at
 * the bottom), all others first fit (as MicroPython: resists the fragmentation growing tables cause).
 * next-fit-max = the larger of heap blocks >> RGC_NEXT_FIT_SHIFT and RGC_NEXT_FIT_BLOCKS, the latter
 * capped at heap blocks / 256: on a small heap the common small objects (up to 32 blocks: 512 B with
 * 16-byte blocks) still skip the holes (a 256 KiB heap of 16-byte blocks: A2 11x py/gc.c instead of
 * 1.5x, bench/results/mcu.md), while nothing above 1/256 of the heap splits a large free run (a cap of
 * 1/64 or 1/128 failed MicroPython's stress/dict_copy.py on a 48 KiB heap; 1/256 passes, as first fit
 * does), and a heap under 512 blocks is first fit throughout, as MicroPython places objects.
 * RGC_NEXT_FIT_BLOCKS=0: only the shift's 1/1024. */
#ifndef RGC_NEXT_FIT_BLOCKS
#define RGC_NEXT_FIT_BLOCKS 32
#endif
#ifndef RGC_NEXT_FIT_SHIFT
#define RGC_NEXT_FIT_SHIFT 10
#endif

/* Memory areas one heap can span (rgc_init's plus rgc_add_area's). */
#ifndef RGC_MAX_AREAS
#define RGC_MAX_AREAS 4
#endif

/* 1: count allocation searches and the table bytes they read (rgc_stats.searches, .search_bytes), for
 * benchmarks. Costs a counter update per search. */
#ifndef RGC_SEARCH_STATS
#define RGC_SEARCH_STATS 0
#endif

/* 1: compile reentrancy out - plain loads and stores instead of atomics, no in-progress slots - for a
 * heap used from one context only (and for benchmarks: the price of reentrancy, same algorithms).
 * Such a build must never be entered from an interrupt. */
#ifndef RGC_SINGLE_CONTEXT
#define RGC_SINGLE_CONTEXT 0
#endif

/* 1: the smallest library (the compiler decides what to inline; slower one-block paths at -Os; no
 * fast path for requests of several blocks).
 * Default 1 on ARMv6-M (Cortex-M0/M0+), whose table updates are calls to the port's masked helpers
 * anyway: inlining the wrappers there only copies the calls (a quarter more .text, and slower under
 * QEMU's interrupt storm; bench/results/mcu.md); 0 elsewhere. */
#ifndef RGC_SMALL
#if defined(__ARM_ARCH_6M__)
#define RGC_SMALL 1
#else
#define RGC_SMALL 0
#endif
#endif

/* 1: publishing stores are sequentially consistent and read-modify-writes are SMP-atomic (for a future
 * multi-core rgc). 0 (default): one core - preempting contexts see a context's stores in program order,
 * so compiler fences suffice, and on x86 hosts the table updates are cmpxchg/xadd without the lock
 * prefix (atomic against interrupts and signals on the same thread, not against other cores). A heap
 * used by several threads needs a lock around every call (as MicroPython's GC mutex does) or
 * RGC_SMP=1. */
#ifndef RGC_SMP
#define RGC_SMP 0
#endif

/* 1: check internal invariants with RGC_ASSERT (src/rgc_internal.h: a failed one traps), and turn on
 * the tri-colour verifier (RGC_VERIFY below). Costly; for tests (CI's ASan build). */
#ifndef RGC_DEBUG
#define RGC_DEBUG 0
#endif

/* 1: the tri-colour verifier: at the end of every marking, walk the heap and report (rgc_set_verify_hook,
 * rgc_stats.verify_reports) each marked object that refers to an unmarked one - a pointer store that
 * missed the barrier. Walks the whole heap once per collection (a step becomes unbounded): for tests
 * and for finding a runtime's unbarriered stores. On by default with RGC_DEBUG. */
#ifndef RGC_VERIFY
#define RGC_VERIFY RGC_DEBUG
#endif

#endif /* RGC_CONFIG_H */
