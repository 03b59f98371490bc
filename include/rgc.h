/* rgc.h - a reentrant garbage-collected heap for interrupt-driven systems.
 *
 * Every function here may be called from thread code and from interrupt handlers of any priority,
 * nested to any depth, and may preempt any other rgc call (a collection included) at any instruction.
 * The heap is an explicit handle: declare a `rgc_heap` (static storage), give it memory with rgc_init.
 *
 * Execution levels: 0 = thread code, higher numbers = higher interrupt priorities (see rgc_port.h).
 * Bad input never corrupts the heap: it returns an error (or NULL) and is counted in rgc_stats.misuse.
 */
#ifndef RGC_H
#define RGC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rgc_config.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { RGC_OK = 0, RGC_EINVAL = -1, RGC_BUSY = -2, RGC_LOCKED = -3, RGC_ECORRUPT = -4 };
enum { RGC_FINALISER = 1u };                      /* rgc_alloc flags */
enum { RGC_AUTO_COLLECT = 1u, RGC_NO_ALLOC = 2u }; /* rgc_level_policy bits */

typedef struct rgc_heap rgc_heap;
typedef struct rgc_stats rgc_stats;
typedef void (*rgc_finaliser_fn)(void *obj);

/* Carve the allocation table, the finaliser table and the block pool out of [mem, mem+bytes).
 * RGC_EINVAL: h or mem NULL, mem not aligned to a pointer, or too small for one block and its tables.
 * Not reentrant with other calls on the same heap (initialise before enabling the interrupts that use it). */
int rgc_init(rgc_heap *h, void *mem, size_t bytes);
/* rgc_init as every caller compiles it: also RGC_EINVAL when the caller's rgc_heap is not the size
 * librgc was built with - rgc_config.h options that change the handle's layout (RGC_MAX_LEVELS,
 * RGC_MARK_STACK_DEPTH, ...) were given to one and not the other, which would otherwise let librgc
 * write past the caller's handle. */
int rgc_init_sized(rgc_heap *h, void *mem, size_t bytes, size_t handle_bytes);
#define rgc_init(h, mem, bytes) rgc_init_sized((h), (mem), (bytes), sizeof(rgc_heap))

/* n bytes of zeroed memory, aligned to the pool alignment (a block, capped at max_align_t), or NULL:
 * n == 0 or larger than the heap (counted as misuse), heap locked, level policy RGC_NO_ALLOC (misuse),
 * or no free run (counted as failed; collects first when the level's policy has RGC_AUTO_COLLECT and no
 * collection is running: it never waits for a collection it preempted). flags: RGC_FINALISER (other
 * bits: NULL, counted as misuse). */
void *rgc_alloc(rgc_heap *h, size_t n, unsigned flags);

/* Resize an object. p == NULL: rgc_alloc(n, 0). n == 0: rgc_free(p), returns NULL. Shrinks in place,
 * grows in place when the following blocks are free, otherwise moves when allow_move (copying and
 * keeping the RGC_FINALISER flag) or returns NULL leaving p untouched. p not an object: NULL + misuse.
 * While a collection is marking a shrink keeps its blocks; when a suspended context has published the
 * same block (see rgc_free) a shrink keeps them too and a grow always moves, leaving the old copy to
 * the collector. */
void *rgc_realloc(rgc_heap *h, void *p, size_t n, bool allow_move);

/* Return an object to the heap. NULL is ignored. A pointer that is not the start of a live object
 * (foreign, interior, already free) is counted as misuse and ignored. The release is left to the
 * collector (counted in deferred_frees) while a collection is marking (the object's children must
 * still be traced), and when a suspended context has published the same block (a racing double free,
 * or a block that context has just released and someone reused: rgc cannot tell which, so it touches
 * neither). Explicit frees never run the finaliser. */
void rgc_free(rgc_heap *h, void *p);

/* Usable bytes of the live object starting at p (a multiple of RGC_BLOCK_BYTES), else 0. */
size_t rgc_size(rgc_heap *h, const void *p);

/* Full collection from the calling level: roots are rgc_add_root ranges, rgc_port_scan_roots (registers
 * and every stack below the caller) and the objects other contexts are operating on.
 * RGC_BUSY: a collection is already running (at any level; returns at once). RGC_LOCKED: heap locked. */
int rgc_collect(rgc_heap *h);

/* Register [start, start+bytes) as a root range (globals). start must be pointer-aligned.
 * RGC_EINVAL when the table (RGC_MAX_ROOTS) is full or the range is bad. */
int rgc_add_root(rgc_heap *h, void *start, size_t bytes);

/* *slot = value, with the snapshot (deletion) barrier: while a collection is marking, the value being
 * overwritten is shaded so it survives this collection. Use it for every store of a heap pointer into an
 * existing object or root range that may run while a collection is suspended below it. */
void rgc_write(rgc_heap *h, void **slot, void *value);

/* rgc_write that also returns the value it replaced, in one atomic step: a context that swaps an
 * object out of a shared slot owns it alone (for lock-free tables shared between levels). */
void *rgc_swap(rgc_heap *h, void **slot, void *value);

/* The barrier in two halves, for a runtime that inlines it into its own pointer stores:
 *
 *     void *old = *slot; *slot = value; if (rgc_marking(h)) rgc_shade(h, old);
 *
 * and, before a bulk move or clear of n words (memmove, memset) of an existing object:
 *
 *     if (rgc_marking(h)) rgc_shade_range(h, words, n);
 *
 * Outside a marking this costs one load and a branch; rgc_write costs a call and an atomic exchange.
 * The inline form is exact when no level ABOVE the writer advances a collection that is in progress
 * (a handler may still run a whole collection that starts and ends in one call when none is in
 * progress): then the phase seen by rgc_marking cannot move from MARK to SWEEP before rgc_shade runs,
 * and a collection started above the writer snapshots the writer's registers. Step collections from
 * one level (e.g. thread code), or use rgc_write. rgc_shade and rgc_shade_range re-check the phase
 * and do nothing outside a marking. */
#if defined(__GNUC__)
#define RGC_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define RGC_ALWAYS_INLINE static inline
#endif
RGC_ALWAYS_INLINE bool rgc_marking(rgc_heap *h);
/* True while a collection is in progress (marking or sweeping; e.g. paused between steps). */
RGC_ALWAYS_INLINE bool rgc_collecting(rgc_heap *h);
void rgc_shade(rgc_heap *h, const void *p);
void rgc_shade_range(rgc_heap *h, void *const *words, size_t nwords);

/* Debug builds (RGC_VERIFY=1): called at the end of each marking for every marked object `holder`
 * whose word `word` refers to the unmarked object `target` - a store that missed the barrier. The
 * verifier then marks the target, so the collection stays safe and goes on. Called at the collector's
 * level; must not call rgc. Ignored (and never called) without RGC_VERIFY. */
typedef void (*rgc_verify_fn)(void *holder, size_t word, void *target);
void rgc_set_verify_hook(rgc_heap *h, rgc_verify_fn fn);

/* Forbid allocation (and collection) heap-wide; nests. rgc_unlock below zero is counted as misuse. */
void rgc_lock(rgc_heap *h);
void rgc_unlock(rgc_heap *h);

/* Called for each dead RGC_FINALISER object, from the sweep, at the collector's level, unmasked. */
void rgc_set_finaliser(rgc_heap *h, rgc_finaliser_fn fn);

/* Per-level policy bits. Defaults: level 0 RGC_AUTO_COLLECT, other levels 0 (may allocate, never
 * start a collection implicitly). A level >= RGC_MAX_LEVELS or unknown bits: ignored, counted as misuse.
 * Settings (policy, finaliser, threshold, pacing) may be changed from any level, including levels above
 * RGC_MAX_LEVELS (which may not otherwise use the heap: their rgc calls are refused and counted as
 * misuse, except that rgc_write/rgc_swap still perform the store, without the barrier). */
void rgc_level_policy(rgc_heap *h, unsigned level, unsigned policy);

/* ---- Step-wise collection (incremental, and MicroPython's start/root/end protocol) -------------
 * A collection may advance in steps. Between steps every level, the foreground included, runs,
 * allocates and mutates; pointer stores into existing objects and root ranges must go through
 * rgc_write (objects born during the collection are born marked). Any level may run the next step
 * (or finish the collection) when no step is executing; a call that finds a step executing below it
 * returns RGC_BUSY at once.
 *
 * A collection in progress only advances (step, finish, or rgc_collect / an automatic collection
 * finishing it) from a context with no rgc call suspended below it - no lower level inside rgc, no outer
 * rgc call at its own level - because such a call may hold a decision taken under the current phase
 * (the colour of the block it is claiming, whether to shade the value it swapped out, whether to defer a
 * free). Requests that would move it from there return RGC_BUSY at once; so does a step or
 * rgc_collect_start that would leave a new collection paused. A full collection that starts and ends
 * in one call (rgc_collect, an automatic one) may still run above busy contexts when none is in
 * progress. In practice: step from the foreground, or from handlers that preempt no rgc call.
 *
 * Work unit (budget): one block visited - a block of an object scanned while marking, a block examined
 * while rescanning for marked objects, a block swept or released (a dead object larger than the budget
 * is released in pieces). A step does at most about budget units plus one table byte's, so its length
 * does not depend on the heap size (finalisers, which run inside the sweep, are not counted). The first
 * step (rgc_collect_start) also scans the roots (registered ranges, in-progress objects, the stacks
 * below the caller): its cost is proportional to the roots, not to the heap. */

/* Begin a collection: snapshot the roots, and leave it open for rgc_collect_roots from the calling
 * level until that level's next rgc_collect_step or rgc_collect_finish. While it is open every other
 * collection request (other levels' steps, rgc_collect, automatic collections, pacing) returns
 * RGC_BUSY: none may finish marking before all roots are in. RGC_OK, RGC_BUSY (a collection is in
 * progress or running), RGC_LOCKED (heap locked). */
int rgc_collect_start(rgc_heap *h);
/* Add root words to the collection the calling level opened with rgc_collect_start (MicroPython's
 * gc_collect_root): marks what they refer to, and what those refer to (depth first, as py/gc.c).
 * RGC_EINVAL (counted as misuse) when no collection is
 * open for this level, or words is NULL or misaligned; RGC_LOCKED when locked; RGC_BUSY when a step
 * of that collection is executing below the caller. */
int rgc_collect_roots(rgc_heap *h, void *const *words, size_t nwords);
/* rgc_collect_roots that also marks, at once, what each object the words refer to refers to: the
 * snapshot then holds those objects' contents as they are now, so the program may go on mutating them
 * without the barrier while the collection runs in steps. For stacks that point at interpreter frames
 * kept in heap objects (MicroPython's generators and large function frames, which its VM updates with
 * plain stores). Costs the size of every object the words refer to. Returns as rgc_collect_roots. */
int rgc_collect_roots_deep(rgc_heap *h, void *const *words, size_t nwords);
/* Advance the collection in progress (starting one when none is) by at most `budget` units (0 is
 * taken as 1). Returns 1 while a collection is still in progress, 0 when this step finished it,
 * RGC_BUSY when a step or full collection is executing, when another level's collection is open for
 * roots, or when an rgc call is suspended below the caller (see above); RGC_LOCKED when locked. */
int rgc_collect_step(rgc_heap *h, size_t budget);
/* Run the collection in progress to its end (RGC_OK; also when none is in progress), RGC_BUSY or
 * RGC_LOCKED as rgc_collect_step. */
int rgc_collect_finish(rgc_heap *h);
/* Free every object, running the finalisers of RGC_FINALISER objects (MicroPython's gc_sweep_all, at
 * soft reset or exit) - except the objects other contexts have published as in progress (an operation
 * suspended below the caller, or a level's last call whose result may still be in its registers: one
 * per level and nesting depth, until that level's next rgc call), which freeing would break.
 * RGC_BUSY / RGC_LOCKED as rgc_collect. */
int rgc_sweep_all(rgc_heap *h);

/* Pacing (Baker-style): when work_per_block > 0, every allocation of n blocks at a level whose policy
 * has RGC_AUTO_COLLECT advances the collection in progress by n * work_per_block units, and one is
 * started once the allocation threshold (rgc_set_threshold) is crossed. 0 (default): off. */
void rgc_set_pacing(rgc_heap *h, unsigned work_per_block);

/* Allocation threshold (MicroPython's gc.threshold()): bytes requested at any level (rounded to blocks,
 * successful or not) count since the last collection started; an allocation at a level whose policy
 * has RGC_AUTO_COLLECT that brings the count to `bytes` or beyond collects first (or, with pacing,
 * starts an incremental collection). 0 (default): off. */
void rgc_set_threshold(rgc_heap *h, size_t bytes);

/* Reserve `bytes` (rounded up to blocks) at the top of the heap's last area for allocations at `level`
 * and above: code below `level` neither allocates nor grows objects there. Reserves of several levels
 * stack (the highest level's region is the topmost). Guarantee: an allocation at `level` of n blocks
 * succeeds whenever the objects that levels >= `level` hold in the region leave a free run of n
 * there - in particular any n <= the reserve while they hold nothing in it; allocations at `level`
 * use the shared part first, the region only when the shared part has no room. RGC_EINVAL: bad level
 * (0 has nothing below it) or the reserves would exceed the last area; RGC_BUSY when it preempts another
 * rgc_reserve or rgc_add_area, or any rgc call of a lower level (or an outer call of its own level):
 * an allocation suspended there searches under the limits it read before, so once rgc_reserve returns
 * RGC_OK no level below ever places a block in the region. Call it at start-up: objects already in
 * the region (or allocated there by higher levels while the call runs) stay until freed. bytes == 0
 * removes the level's reserve. */
int rgc_reserve(rgc_heap *h, unsigned level, size_t bytes);

/* Add a further memory area to the heap (MicroPython's split heap / gc_add): carved like rgc_init's,
 * with its own tables; searched after the areas added before it; collections cover all areas.
 * RGC_EINVAL: bad memory, too small, overlaps an area, or RGC_MAX_AREAS reached; RGC_BUSY when it
 * preempts another rgc_add_area or rgc_reserve. Other levels may allocate while it runs; the area is
 * used once the call has published it. */
int rgc_add_area(rgc_heap *h, void *mem, size_t bytes);

struct rgc_stats {
    size_t total_bytes;        /* pool bytes (blocks * RGC_BLOCK_BYTES) */
    size_t used_bytes;         /* bytes in HEAD/TAIL/MARK blocks */
    size_t free_bytes;         /* total_bytes - used_bytes */
    size_t largest_free_bytes; /* longest run of free blocks, in bytes */
    size_t objects;            /* live objects (HEAD or MARK blocks) */
    size_t blocks;             /* pool blocks */
    uint32_t collections;      /* completed collections */
    uint32_t busy_collections; /* collection requests refused with RGC_BUSY */
    uint32_t failed_allocs;    /* allocations that returned NULL for lack of memory or a lock */
    uint32_t misuse;           /* bad calls: foreign/interior/double free, bad sizes, bad levels ... */
    uint32_t claim_retries;    /* claims rolled back because another context took a block first */
    uint32_t deferred_frees;   /* frees turned into shading because a collection was marking */
    uint32_t longest_masked;   /* longest masked window, in rgc_port_cycles() units (0 without masks) */
    uint32_t collect_steps;    /* rgc_collect_step calls that did work */
    uint32_t collected_objects; /* objects the sweeps freed, in total (MicroPython's gc.collect() count) */
    size_t areas;              /* memory areas (1 + rgc_add_area calls that succeeded) */
    uint64_t searches;         /* allocation searches (only with RGC_SEARCH_STATS=1, else 0) */
    uint64_t search_bytes;     /* table bytes those searches read (only with RGC_SEARCH_STATS=1) */
    size_t one_block_objects;  /* objects of 1 block (MicroPython's gc_info num_1block) */
    size_t two_block_objects;  /* objects of 2 blocks (num_2block) */
    size_t largest_object_bytes; /* largest live object, in bytes (max_block) */
    uint32_t verify_reports;   /* black->white edges the verifier found (RGC_VERIFY builds only) */
};

/* Snapshot of the heap's figures. Computed by reading the table (no masking): exact when nothing above
 * the caller mutates the heap, otherwise a consistent-enough view (never negative, never > total). */
void rgc_get_stats(rgc_heap *h, rgc_stats *out);

/* rgc_get_stats without reading the tables: constant time, for a runtime that polls the counters often
 * (MicroPython's gc.collect() return value). Fills the cumulative counters (collections ...
 * verify_reports, searches), blocks, areas and total_bytes; the figures that take a pass over the
 * tables (used, free, largest, objects and the object counts by size) are 0. */
void rgc_get_counters(rgc_heap *h, rgc_stats *out);

/* > 0 while the calling context is inside an rgc call on h (e.g. a finaliser): a runtime must defer
 * asynchronous aborts (longjmp out of a handler) until it reads 0. */
unsigned rgc_busy_depth(rgc_heap *h);

/* RGC_OK or RGC_ECORRUPT after checking every structural invariant (docs/design.md: I1, I4-I6, I12).
 * Never writes. */
int rgc_check(rgc_heap *h);

/* Address of block 0 of memory area `area` (0: rgc_init's, then rgc_add_area's in order), or NULL when
 * there is no such area. For tools that print the heap map with object contents (rgc_dump's offsets
 * count from here). */
void *rgc_area_pool(rgc_heap *h, unsigned area);

/* Heap map as text, one character per block, 64 blocks per line:
 * '.' free, 'h' head, '=' tail, 'm' marked head, 'f' head with finaliser, 'M' marked with finaliser. */
void rgc_dump(rgc_heap *h, void (*print)(void *ctx, const char *s), void *ctx);

/* ---- The heap object ---------------------------------------------------------------------------
 * Storage for rgc's state, sized by the rgc_config.h options. Declare one per heap (static storage)
 * and pass its address; its contents are rgc's alone: `state` is public only so that rgc_marking can
 * be inlined into a runtime's pointer stores (never write it), the rest is opaque (its layout is
 * src/rgc_core.h, which checks this size against it). Words: the small fields (counters, the per-level
 * policy and depth bytes), the memory areas, the allocator's and collector's positions, per level a
 * limit, a reserve and RGC_MAX_NEST in-progress slots, the root ranges and the mark stack. */
#define RGC_HEAP_PRIVATE_WORDS                                                                     \
    ((12u + sizeof(size_t) - 1u) / sizeof(size_t) - 1u + 6u * RGC_MAX_AREAS + 23u +                 \
     (69u + 2u * RGC_MAX_LEVELS + sizeof(size_t) - 1u) / sizeof(size_t) +                           \
     RGC_MAX_LEVELS * (2u + RGC_MAX_NEST) + 2u * RGC_MAX_ROOTS + 4u + RGC_MARK_STACK_DEPTH)
struct rgc_heap {
    _Atomic unsigned state;                  /* collection phase: read by rgc_marking / rgc_collecting */
    size_t private_[RGC_HEAP_PRIVATE_WORDS]; /* opaque */
};

/* The collection phase lives in the low two bits of h->state; 1 is marking (checked in the core).
 * Always inlined: at -Os gcc called it out of line at every barrier (measurably more instructions
 * in MicroPython's generator benchmark). */
RGC_ALWAYS_INLINE bool rgc_marking(rgc_heap *h) {
    return (atomic_load_explicit(&h->state, memory_order_relaxed) & 3u) == 1u;
}
RGC_ALWAYS_INLINE bool rgc_collecting(rgc_heap *h) {
    return (atomic_load_explicit(&h->state, memory_order_relaxed) & 3u) != 0u;
}

#ifdef __cplusplus
}
#endif
#endif /* RGC_H */
