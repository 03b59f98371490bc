/* rgc_core.h - the heap object's layout. Users see only `struct rgc_heap` (include/rgc.h): the phase
 * word the inline barrier reads and opaque storage of RGC_HEAP_PRIVATE_WORDS words; the core views the
 * same memory as `rgc_core` (core_of). The static asserts below tie the two together, so a field
 * added here without its share in RGC_HEAP_PRIVATE_WORDS does not compile.
 *
 * Ownership: fields marked "collector" belong to the context that holds the collector role (at most
 * one at a time, I9); everything else is _Atomic and changed only by the protocol its comment names.
 * The fields every call reads come first (short load offsets on Thumb), then the counters and the
 * per-level bytes in one run (padding: at most a word after each group of small fields). */
#ifndef RGC_CORE_H
#define RGC_CORE_H

#include <stddef.h>

#include "rgc.h"

struct rgc_root_range {
    void *_Atomic start; /* NULL: slot unused */
    size_t words;
};

/* One memory area: its own tables and pool. Blocks have global indices: area i's block k is
 * first + k, with first a multiple of 64 (table bytes and free-map bits never straddle areas). */
struct rgc_area {
    _Atomic uint8_t *atb;       /* 2 bits per block: FREE, HEAD, TAIL, MARK */
    _Atomic uint8_t *ftb;       /* 1 bit per block: finaliser */
    _Atomic uint32_t *free_map; /* 1 bit per 64 blocks: the group may hold a free block */
    uint8_t *pool;
    size_t first;
    size_t nblocks;
};

typedef struct rgc_core {
    _Atomic unsigned state;        /* collection phase | rescan request: rgc_heap.state (rgc.h) */
    uint32_t magic;
    _Atomic unsigned nareas;
    struct rgc_area areas[RGC_MAX_AREAS];
    _Atomic size_t nblocks;        /* blocks in all areas */
    _Atomic size_t free_blocks;    /* >= the FREE blocks at every instant (a request larger fails at once) */
    _Atomic size_t end;            /* global index past the last area's last block */
    _Atomic size_t hint;           /* advisory: lowest free block (1-block searches start here) */
    _Atomic size_t rover;          /* advisory: where the next multi-block search starts (next fit) */
    _Atomic size_t fit_from[6];    /* advisory: no run of 2, 3, 5, 9, 17, 33 free blocks starts below */
    _Atomic size_t fit_ceiling;    /* advisory: a release at or above it lowers no fit_from */
    _Atomic size_t heads_end;      /* no HEAD or MARK block at or above it: sweeps and rescans stop there */
    _Atomic size_t claim_high;     /* end of the highest block claimed while sweeping */
    _Atomic size_t sweep_pos;      /* first block whose byte the sweeper has not finished */
    _Atomic size_t sweep_done;     /* every block below is swept (no MARK left there) */
    _Atomic size_t threshold;      /* bytes allocated between automatic collections (0: off) */
    _Atomic size_t allocated;      /* bytes allocated since the last collection started */
    size_t sweep_high, unmark_pos, unmark_end; /* collector: see rgc_collect.c */
    rgc_finaliser_fn _Atomic finaliser;
    rgc_verify_fn _Atomic verify_hook;
    _Atomic unsigned collector;    /* 0, or 1 + level of the step or collection executing */
    _Atomic unsigned roots_owner;  /* 0, or 1 + level that opened a collection for rgc_collect_roots */
    _Atomic unsigned config_busy;  /* rgc_add_area / rgc_reserve in progress */
    _Atomic unsigned lock_depth;
    _Atomic unsigned pacing;       /* work units per allocated block (0: off) */
    _Atomic unsigned root_count;
    _Atomic uint32_t sweep_claims; /* claims made while sweeping (any count: the sweep compares) */
    _Atomic uint32_t collections, busy_collections, failed_allocs, misuse, claim_retries,
        deferred_frees, longest_masked, collect_steps, collected_objects, verify_reports;
    bool drain_roots;                                      /* collector */
    _Atomic uint8_t policy[RGC_MAX_LEVELS];
    _Atomic uint8_t depth[RGC_MAX_LEVELS];                 /* rgc calls in progress per level */
    _Atomic size_t limit[RGC_MAX_LEVELS]; /* allocations at a level stay below its limit (reserves) */
    size_t reserve_blocks[RGC_MAX_LEVELS];
    _Atomic size_t in_progress[RGC_MAX_LEVELS][RGC_MAX_NEST]; /* 1 + block being operated on, or 0 */
    struct rgc_root_range roots[RGC_MAX_ROOTS];
    size_t mark_sp;                /* collector, from here on */
    size_t rescan_pos;
    size_t mark_stack[RGC_MARK_STACK_DEPTH];
    size_t searches, search_bytes; /* RGC_SEARCH_STATS only (plain counters, approximate) */
} rgc_core;

_Static_assert(offsetof(rgc_core, state) == 0 && offsetof(struct rgc_heap, state) == 0,
               "rgc_marking (rgc.h) reads the phase where the core keeps it");
_Static_assert(sizeof(rgc_core) == sizeof(struct rgc_heap),
               "RGC_HEAP_PRIVATE_WORDS (rgc.h) must count this layout's words: recount it");
_Static_assert(_Alignof(rgc_core) <= _Alignof(struct rgc_heap), "rgc_heap is under-aligned for the core");

/* The core's view of a user's handle (the same memory; NULL stays NULL). */
static inline rgc_core *core_of(rgc_heap *heap) {
    return (rgc_core *)(void *)heap;
}
static inline rgc_heap *heap_of(rgc_core *h) {
    return (rgc_heap *)(void *)h;
}

#endif /* RGC_CORE_H */
