/* rgc_internal.h - what the core's sources share; nothing here is public. The pieces, one concern each:
 *   rgc_core.h    the heap object's layout (rgc_core, behind the opaque rgc_heap)
 *   rgc_atomic.h  the atomic step (per build: lock-free, masked, single context) and ASan poisoning
 *   rgc_table.h   the block layout (ATB, FTB, free map) and the table primitives
 *   rgc_ctx.h     calling contexts and in-progress slots
 * and below: the collection phase word and the entry points one source file offers another.
 */
#ifndef RGC_INTERNAL_H
#define RGC_INTERNAL_H

#include "rgc.h"
#include "rgc_port.h"
#include "rgc_core.h"

#define RGC_MAGIC 0x72676331u /* "rgc1" */

/* Internal invariants, checked with RGC_DEBUG=1 (tests; o1heap's habit): a failed one stops the program
 * at once (__builtin_trap: the core has no stdio), where a debugger or the sanitizers show it.
 * Without RGC_DEBUG the condition is not evaluated. */
#if RGC_DEBUG
#define RGC_ASSERT(cond)                                                                          \
    do {                                                                                          \
        if (!(cond))                                                                              \
            __builtin_trap();                                                                     \
    } while (0)
#else
#define RGC_ASSERT(cond) ((void)0)
#endif
#define RGC_NONE ((size_t)-1)
#define RGC_BS ((size_t)RGC_BLOCK_BYTES)
#define RGC_WORDS_PER_BLOCK (RGC_BS / sizeof(void *))

_Static_assert((RGC_BLOCK_BYTES & (RGC_BLOCK_BYTES - 1)) == 0, "RGC_BLOCK_BYTES must be a power of 2");
_Static_assert(RGC_BLOCK_BYTES % sizeof(void *) == 0, "RGC_BLOCK_BYTES must hold whole pointers");
_Static_assert(RGC_MAX_LEVELS >= 1 && RGC_MAX_LEVELS <= 255, "RGC_MAX_LEVELS out of range");
_Static_assert(RGC_MAX_NEST >= 2 && RGC_MAX_NEST <= 255, "RGC_MAX_NEST out of range");
_Static_assert(RGC_MARK_STACK_DEPTH >= 1, "RGC_MARK_STACK_DEPTH must be positive");
_Static_assert(sizeof(_Atomic(void *)) == sizeof(void *), "atomic pointers must be plain pointers");

/* The table and context primitives are a few instructions each and sit on every path: inlined even
 * at -Os (a call costs as much as the body; -Os kept them out of line and doubled the one-block paths'
 * instruction counts). RGC_SMALL=1 leaves the choice to the compiler: the smallest library. Not at -O0:
 * GCC's AddressSanitizer then mis-scopes the forced inlines' locals (torture.barrier_step reported a
 * stack-use-after-scope in a test's own array on every run). */
/* The marking loop, compiled for speed in a -Os build too (GCC): at -Os GCC kept the pool's bounds and
 * the object's end on the stack, three loads per word scanned (Cortex-M3 B3: 1.12x the -O2 count, while
 * py/gc.c's loop gets shorter at -Os). RGC_SMALL=1 keeps -Os. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE_SIZE__) && !RGC_SMALL
#define RGC_SPEED __attribute__((optimize("O2")))
#else
#define RGC_SPEED
#endif

#if RGC_SMALL || !defined(__OPTIMIZE__) /* -O0 (debug, sanitizers): as written */
#define RGC_HOT static inline
#else
#define RGC_HOT RGC_ALWAYS_INLINE
#endif

#include "rgc_atomic.h"
#include "rgc_table.h"

/* h->state: collection phase in the low bits, plus a rescan request set by anyone who marks a block
 * without pushing it (the barrier, deferred frees, mark-stack overflow). The collector leaves MARK for
 * SWEEP with one compare-and-swap from exactly PHASE_MARK, so a request can never be lost. */
enum { PHASE_IDLE = 0u, PHASE_MARK = 1u, PHASE_SWEEP = 2u, PHASE_BITS = 3u, STATE_RESCAN = 4u };
_Static_assert(PHASE_IDLE == 0u && PHASE_MARK == 1u && PHASE_BITS == 3u,
               "rgc_marking and rgc_collecting (rgc.h) read the phase this way");
RGC_HOT unsigned phase_of(rgc_core *h) {
    return uns_load(&h->state) & PHASE_BITS;
}

#include "rgc_ctx.h"

/* o1heap's habit: every public function checks the handle's invariants (rgc_core_sane, rgc_diag.c:
 * constant time - the fields, not the tables) when it starts and again on every return, in RGC_DEBUG
 * builds. They hold at every instant, so the check is valid at any level, preempting anything; a heap
 * that is not initialised is left to the function's own misuse handling. */
bool rgc_core_sane(rgc_core *h); /* rgc_diag.c; rgc_check starts with it */
#if RGC_DEBUG && defined(__GNUC__)
static inline void rgc_check_on_return(rgc_core *const *hp) {
    RGC_ASSERT(!heap_ok(*hp) || rgc_core_sane(*hp));
}
#define RGC_CHECK_ENTRY_AND_RETURN(h)                                                              \
    RGC_ASSERT(!heap_ok(h) || rgc_core_sane(h));                                                   \
    rgc_core *const rgc_checked_on_return_ __attribute__((cleanup(rgc_check_on_return), unused)) = (h)
#else
#define RGC_CHECK_ENTRY_AND_RETURN(h) ((void)0)
#endif


/* ---- cross-file entry points ---------------------------------------------------------------- */

/* Placement (rgc_place.c). A FREE block in [lo, hi): from start (the hint) up, then from lo around. */
size_t rgc_search_block(rgc_core *h, size_t lo, size_t hi, size_t start);
/* A run of nb free blocks in [lo, hi): from start to hi, then from lo around; *window: the first run
 * of wmin free blocks the pass from start met (RGC_NONE if none). */
size_t rgc_search_range(rgc_core *h, size_t lo, size_t hi, size_t nb, size_t start, size_t wmin,
                        size_t *window);
/* Allocation of nb blocks in a context of its own (nested when called from realloc). */
void *rgc_alloc_blocks(rgc_core *h, size_t nb, unsigned flags);
/* Free (or, while marking, shade) the object at HEAD b, which the caller has published as SLOT_OP. */
void rgc_free_object(rgc_core *h, size_t b);
/* Collections run by context c (rgc_collect.c). Each takes the collector role for its duration and
 * returns RGC_BUSY at once when another step or collection is executing (below c: never waits). */
enum { COLLECT_FULL, COLLECT_FINISH, COLLECT_FOR_ALLOC };
int rgc_collect_run(rgc_core *h, const rgc_ctx *c, int how);
/* One step of at most budget units (starting a collection when none is in progress): 1 while one is
 * in progress afterwards, 0 when done, RGC_BUSY / RGC_LOCKED. explicit_step: rgc_collect_step (may
 * close a collection its level opened), not pacing. */
int rgc_collect_step_in(rgc_core *h, const rgc_ctx *c, size_t budget, bool explicit_step);
/* The snapshot barrier's shade: mark the object p refers to (if unmarked) and request a rescan. */
void rgc_shade_ref(rgc_core *h, const void *p);
/* Shade every word of a root range (read like the collector reads roots: any memory, even pool
 * blocks another context has just freed). */
void rgc_shade_words(rgc_core *h, void *const *words, size_t nwords);
/* Zero a new object of nb blocks. One block at -Os: word stores inline - GCC calls the C library's
 * memset for it there, and newlib-nano's is a byte loop (Cortex-M3 A1: 302 instructions a pair at -Os
 * against 264 at -O2). Relaxed atomic stores, as the collector reads object words, so that the compiler
 * does not turn the loop back into that call. */
RGC_HOT void zero_blocks(void *p, size_t nb) {
#if defined(__OPTIMIZE_SIZE__)
    if (nb == 1u) {
        _Atomic uintptr_t *w = (_Atomic uintptr_t *)p;
        for (size_t i = 0; i < RGC_BS / sizeof(uintptr_t); i++)
            atomic_store_explicit(&w[i], 0, memory_order_relaxed);
        return;
    }
#endif
    __builtin_memset(p, 0, nb * RGC_BS);
}

/* The largest request that searches next fit on a heap of nblocks blocks (rgc_config.h). */
RGC_HOT size_t next_fit_max(size_t nblocks) {
    size_t by_shift = nblocks >> RGC_NEXT_FIT_SHIFT, floor = nblocks >> 8;
    if (floor > RGC_NEXT_FIT_BLOCKS)
        floor = RGC_NEXT_FIT_BLOCKS;
    return by_shift > floor ? by_shift : floor;
}

/* Blocks levels below `level` may not use: the limit of allocations at level (reserves). */
RGC_HOT size_t level_limit(rgc_core *h, unsigned level) {
    return sz_load(&h->limit[level]);
}

#if RGC_SEARCH_STATS
#define SEARCH_STAT(h, field, n) ((h)->field += (n))
#else
#define SEARCH_STAT(h, field, n) ((void)0)
#endif

#endif /* RGC_INTERNAL_H */
