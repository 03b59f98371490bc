/* compat/micropython/gc.c - MicroPython's py/gc.h implemented on rgc (a drop-in for py/gc.c).
 *
 * One global rgc heap (mp_rgc_heap) replaces MicroPython's mark-sweep heap; everything around it -
 * MicroPython's per-thread gc_lock depth, gc.disable(), gc.threshold(), the GC mutex of builds with
 * threads and no GIL, the port's gc_collect() - behaves as in py/gc.c of MicroPython 1.25:
 *
 *   gc_init / gc_add           rgc_init / rgc_add_area (rgc carves its own tables out of the memory)
 *   gc_collect_start           rgc_collect_start (snapshots rgc's roots and the caller's stack) +
 *                              rgc_collect_roots on MicroPython's root pointers in mp_state_ctx
 *   gc_collect_root            rgc_collect_roots
 *   gc_collect_end             rgc_collect_finish (mark, then sweep: finalisers run from the sweep)
 *   gc_sweep_all               rgc_sweep_all
 *   gc_alloc/free/realloc      rgc_alloc/free/realloc, with py/gc.c's collect-and-retry around them
 *   gc_nbytes                  rgc_size
 *   gc_info, gc_dump_info      rgc_get_stats
 *   gc_dump_alloc_table        rgc_dump's one-char-per-block map, printed in py/gc.c's format
 *
 * rgc's own allocation-failure collection is switched off (level 0 policy 0): a collection must go
 * through the port's gc_collect(), which is the only code that knows the roots MicroPython keeps
 * outside rgc's view (other threads' stacks, the pystack, registers). See README.md beside this file
 * for the differences from py/gc.c and what a port gains.
 *
 * Build: compile this file instead of py/gc.c with -I<rgc>/include and link librgc.a (a port providing
 * rgc_port_level / rgc_port_scan_roots / rgc_port_mask, e.g. rgc's posix port on the unix port).
 * Copyright: rgc project; the surrounding logic follows MicroPython's py/gc.c (MIT, Damien P. George).
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "py/gc.h"
#include "py/runtime.h"

#if MICROPY_ENABLE_GC

#include <rgc.h>
#include <rgc_port.h>

#define BYTES_PER_BLOCK (MICROPY_BYTES_PER_GC_BLOCK)

/* rgc and MicroPython must agree on the allocation granule: gc_nbytes, gc_info and mem_info report
 * blocks, and MicroPython sizes some buffers to whole blocks. Build librgc with -DRGC_BLOCK_BYTES=... */
_Static_assert(MICROPY_BYTES_PER_GC_BLOCK == RGC_BLOCK_BYTES,
    "MICROPY_BYTES_PER_GC_BLOCK must equal RGC_BLOCK_BYTES (build librgc with -DRGC_BLOCK_BYTES)");
#if MICROPY_ENABLE_FINALISER && !RGC_FINALISERS
#error "MICROPY_ENABLE_FINALISER needs librgc built with RGC_FINALISERS=1"
#endif
#if RGC_INTERIOR_POINTERS
#warning "rgc built with RGC_INTERIOR_POINTERS=1: more conservative than MicroPython's collector"
#endif
#if MICROPY_GC_SPLIT_HEAP_AUTO
#error "MICROPY_GC_SPLIT_HEAP_AUTO is not supported by the rgc compat layer (areas are never released)"
#endif

/* Incremental collection (MICROPY_GC_RGC_INCREMENTAL=1): automatic collections run as bounded steps
 * interleaved with thread code instead of one pause. Once STEP_START_DIVISOR-th of the heap has been
 * allocated since the last collection began (or gc.threshold() is reached), the allocator runs the
 * port's gc_collect() to take the root snapshot - stacks, registers, other threads, MicroPython's
 * root pointers - and leaves the collection paused; every later allocation at thread level advances it
 * by STEP_WORK units per block allocated (at least STEP_MIN; a unit is one block visited). An
 * allocation that fails finishes it and retries, then collects in full, as py/gc.c would. gc.collect()
 * is always a full collection. Sound because of the write barrier (patches/), objects born marked, and
 * deep stack roots: everything the stacks point at (interpreter frames in heap objects, which the VM
 * updates with plain stores) is scanned at the snapshot (rgc_collect_roots_deep). */
#ifndef MICROPY_GC_RGC_INCREMENTAL
#define MICROPY_GC_RGC_INCREMENTAL (0)
#endif
#if MICROPY_GC_RGC_INCREMENTAL && !MICROPY_GC_WRITE_BARRIER
#error "MICROPY_GC_RGC_INCREMENTAL needs MicroPython's write barrier (compat/micropython/patches, rgc.mk)"
#endif
#ifndef MICROPY_GC_RGC_STEP_WORK
#define MICROPY_GC_RGC_STEP_WORK (8)
#endif
#ifndef MICROPY_GC_RGC_STEP_MIN
#define MICROPY_GC_RGC_STEP_MIN (256)
#endif
#ifndef MICROPY_GC_RGC_STEP_START_DIVISOR
#define MICROPY_GC_RGC_STEP_START_DIVISOR (4)
#endif

/* The one heap. Public so that port code (interrupt dispatch, diagnostics) can use rgc directly. */
rgc_heap mp_rgc_heap;

#if MICROPY_PY_THREAD && !MICROPY_PY_THREAD_GIL
/* rgc is reentrant for nested interrupt levels of one core, not for truly parallel threads at the same
 * level: MicroPython's threads are serialised with py/gc.c's recursive mutex, exactly as there. */
#define GC_MUTEX_INIT() mp_thread_recursive_mutex_init(&MP_STATE_MEM(gc_mutex))
#define GC_ENTER() mp_thread_recursive_mutex_lock(&MP_STATE_MEM(gc_mutex), 1)
#define GC_EXIT() mp_thread_recursive_mutex_unlock(&MP_STATE_MEM(gc_mutex))
#else
#define GC_MUTEX_INIT()
#define GC_ENTER()
#define GC_EXIT()
#endif

#if MICROPY_GC_RGC_INCREMENTAL
static bool incr_pause;          /* the running gc_collect() is the allocator's: leave it paused */
static size_t incr_allocated;    /* blocks allocated at thread level since the last collection began */
static size_t incr_start_blocks; /* ... at which the allocator starts one */
#endif

/* ---- reading rgc_dump's map: "oooooooo: <one char per block>\n", 64 blocks a line ----------------- */

enum { K_FREE, K_HEAD, K_TAIL, K_MARK, K_NONE };

static int kind_of(char c) {
    switch (c) {
        case '.':
            return K_FREE;
        case 'h':
        case 'f':
            return K_HEAD;
        case '=':
            return K_TAIL;
        case 'm':
        case 'M':
            return K_MARK;
        default:
            return K_NONE;
    }
}

/* Calls each(ctx, area, block, kind) for every block of the map. Areas are separated by a "--" line
 * and their offsets restart at 0; a line whose offset does not follow the previous one's is taken as
 * a new area too. */
typedef void (*block_fn)(void *ctx, size_t area, size_t block, int kind);
typedef struct {
    block_fn each;
    void *ctx;
    size_t area;
    size_t next_block; /* block expected at the start of the next line */
    bool any;
} map_walk_t;

static void map_line(void *ctx, const char *s) {
    map_walk_t *w = ctx;
    if (s[0] == '-' && s[1] == '-') { /* "--": the next area, its offsets restart at 0 */
        if (w->any) {
            w->area++;
        }
        w->any = false;
        return;
    }
    size_t off = 0;
    const char *p = s;
    for (; *p && *p != ':'; p++) {
        char c = *p;
        unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;
        if (d == 16) {
            return; /* not a map line */
        }
        off = off * 16 + d;
    }
    if (*p != ':') {
        return;
    }
    p++;
    while (*p == ' ') {
        p++;
    }
    size_t block = off / BYTES_PER_BLOCK;
    if (w->any && block != w->next_block) {
        w->area++;
    }
    w->any = true;
    for (; *p && *p != '\n'; p++) {
        int k = kind_of(*p);
        if (k != K_NONE) {
            w->each(w->ctx, w->area, block++, k);
        }
    }
    w->next_block = block;
}

static void walk_map(block_fn each, void *ctx) {
    map_walk_t w = { each, ctx, 0, 0, false };
    rgc_dump(&mp_rgc_heap, map_line, &w);
}

/* ---- finalisers ------------------------------------------------------------------------------- */

#if MICROPY_ENABLE_FINALISER
/* py/gc.c's gc_sweep_run_finalisers, for one dead object: objects allocated with a finaliser start with
 * type == NULL until their constructor fills it in (rgc zeroes every allocation). */
static void run_finaliser(void *p) {
    mp_obj_base_t *obj = (mp_obj_base_t *)p;
    if (obj->type != NULL) {
        mp_obj_t dest[2];
        mp_load_method_maybe(MP_OBJ_FROM_PTR(obj), MP_QSTR___del__, dest);
        if (dest[0] != MP_OBJ_NULL) {
            #if MICROPY_ENABLE_SCHEDULER
            mp_sched_lock();
            #endif
            mp_call_function_1_protected(dest[0], dest[1]);
            #if MICROPY_ENABLE_SCHEDULER
            mp_sched_unlock();
            #endif
        }
    }
}
#endif

#if MICROPY_PY_GC_COLLECT_RETVAL
/* gc.collect()'s return value (objects freed): rgc counts the objects its sweeps free; the difference
 * across gc_collect needs no pass over the tables (rgc_get_counters: rgc_get_stats walks them all, which made
 * gc.collect() on an empty 2 MiB heap cost ~0.15 ms). */
static uint32_t collected_before;
static uint32_t collected_total(void) {
    rgc_stats st;
    rgc_get_counters(&mp_rgc_heap, &st);
    return st.collected_objects;
}
#endif

/* The tri-colour verifier's report (librgc built with RGC_VERIFY=1; never called otherwise): a marked
 * object refers to an unmarked one - a pointer store that missed the write barrier. The verifier marks
 * the target itself, so the program goes on; the report makes MicroPython's test outputs differ. */
static void verify_report(void *holder, size_t word, void *target) {
    mp_printf(&mp_plat_print, "rgc-verify: marked object %p (first word %p) word %u refers to unmarked %p (first word %p)\n",
        holder, *(void **)holder, (uint)word, target, *(void **)target);
}

/* ---- heap set-up ------------------------------------------------------------------------------ */

void gc_init(void *start, void *end) {
    end = (void *)((uintptr_t)end & (~(uintptr_t)(BYTES_PER_BLOCK - 1)));
    if (rgc_init(&mp_rgc_heap, start, (size_t)((byte *)end - (byte *)start)) == RGC_OK) {
        /* Collections only through the port's gc_collect() (it knows every root); level 0 never
         * collects implicitly inside rgc_alloc. Interrupt levels keep rgc's default: allocate, never
         * collect. */
        rgc_level_policy(&mp_rgc_heap, 0, 0);
    }
    #if MICROPY_ENABLE_FINALISER
    rgc_set_finaliser(&mp_rgc_heap, run_finaliser);
    #endif
    rgc_set_verify_hook(&mp_rgc_heap, verify_report);
    #if MICROPY_GC_RGC_INCREMENTAL
    incr_pause = false;
    incr_allocated = 0;
    incr_start_blocks = (size_t)((byte *)end - (byte *)start) / BYTES_PER_BLOCK / MICROPY_GC_RGC_STEP_START_DIVISOR;
    #endif

    MP_STATE_THREAD(gc_lock_depth) = 0;
    MP_STATE_MEM(gc_auto_collect_enabled) = 1;
    #if MICROPY_GC_ALLOC_THRESHOLD
    MP_STATE_MEM(gc_alloc_threshold) = (size_t)-1;
    MP_STATE_MEM(gc_alloc_amount) = 0;
    #endif
    GC_MUTEX_INIT();
}

#if MICROPY_GC_SPLIT_HEAP
void gc_add(void *start, void *end) {
    end = (void *)((uintptr_t)end & (~(uintptr_t)(BYTES_PER_BLOCK - 1)));
    rgc_add_area(&mp_rgc_heap, start, (size_t)((byte *)end - (byte *)start));
}
#endif

/* ---- locking (MicroPython's per-thread depth: micropython.heap_lock() reads and writes it) -------- */

void gc_lock(void) {
    MP_STATE_THREAD(gc_lock_depth) += (1 << GC_LOCK_DEPTH_SHIFT);
}

void gc_unlock(void) {
    MP_STATE_THREAD(gc_lock_depth) -= (1 << GC_LOCK_DEPTH_SHIFT);
}

bool gc_is_locked(void) {
    return MP_STATE_THREAD(gc_lock_depth) != 0;
}

/* ---- collection ------------------------------------------------------------------------------- */


/* Interrupt handlers (rgc_port_level() > 0) go straight to rgc: no GC mutex (the interrupted thread may
 * hold it), no collection (the port's gc_collect scans thread stacks; rgc's level policy decides what a
 * level may do - by default allocate, never collect), no threshold accounting. Only an explicit
 * gc_lock() (micropython.heap_lock()) still refuses. A collection suspended below the handler is no
 * obstacle: rgc allocates born-marked objects and defers frees while marking. */
static inline bool in_interrupt(void) {
    return rgc_port_level() > 0;
}

/* Per interrupt level (LIFO: a level's gc_collect runs from start to end before the level below
 * resumes): whether this level's gc_collect set the collect flag, and whether it owns the collection
 * it started. A hard-IRQ callback calling gc.collect() while the code it interrupted is collecting
 * neither clears that code's flag at its end nor feeds roots to a collection it does not own (rgc
 * would refuse them as misuse): its gc_collect does nothing. */
static bool collect_set_flag[RGC_MAX_LEVELS];
static bool collect_owner[RGC_MAX_LEVELS];

static unsigned collect_level(void) {
    unsigned level = rgc_port_level();
    return level < RGC_MAX_LEVELS ? level : RGC_MAX_LEVELS - 1u;
}

static void gc_collect_start_common(void) {
    /* Handlers never take the GC mutex: the thread they interrupted may hold it (a deadlock, found by
     * tests/irq_alloc.py's handler that calls gc.collect()). rgc needs no lock between levels. */
    if (!in_interrupt()) {
        GC_ENTER();
    }
    /* While the flag is set gc_alloc/gc_realloc return NULL (so a __del__ cannot allocate) and
     * gc_free still works, as in py/gc.c. */
    unsigned level = collect_level();
    collect_set_flag[level] = (MP_STATE_THREAD(gc_lock_depth) & GC_COLLECT_FLAG) == 0;
    assert(collect_set_flag[level] || level > 0);
    MP_STATE_THREAD(gc_lock_depth) |= GC_COLLECT_FLAG;
}

void gc_collect_start(void) {
    gc_collect_start_common();
    #if MICROPY_GC_ALLOC_THRESHOLD
    MP_STATE_MEM(gc_alloc_amount) = 0;
    #endif
    int rc = rgc_collect_start(&mp_rgc_heap);
    if (rc == RGC_BUSY && rgc_port_level() == 0) {
        /* a collection left unfinished (an exception escaped a gc_collect): finish it, start anew.
         * Never from an interrupt handler: thread code's inline write barrier (gc_write_barrier.h)
         * relies on no level above it advancing a collection it left in progress. */
        rgc_collect_finish(&mp_rgc_heap);
        rc = rgc_collect_start(&mp_rgc_heap);
    }
    collect_owner[collect_level()] = rc == RGC_OK;
    #if MICROPY_PY_GC_COLLECT_RETVAL
    collected_before = collected_total();
    #endif

    /* py/gc.c's roots in the state: from thread.dict_locals up to (not including) vm.qstr_last_chunk */
    void **ptrs = (void **)(void *)&mp_state_ctx;
    size_t root_start = offsetof(mp_state_ctx_t, thread.dict_locals);
    size_t root_end = offsetof(mp_state_ctx_t, vm.qstr_last_chunk);
    gc_collect_root(ptrs + root_start / sizeof(void *), (root_end - root_start) / sizeof(void *));

    #if MICROPY_ENABLE_PYSTACK
    ptrs = (void **)(void *)MP_STATE_THREAD(pystack_start);
    gc_collect_root(ptrs, (MP_STATE_THREAD(pystack_cur) - MP_STATE_THREAD(pystack_start)) / sizeof(void *));
    #endif
}

#if defined(__GNUC__) && (__GNUC__ > 4 || (__GNUC__ == 4 && __GNUC_MINOR__ >= 8))
__attribute__((no_sanitize_address))
#endif
void gc_collect_root(void **ptrs, size_t len) {
    if (len > 0 && collect_owner[collect_level()]) {
        #if MICROPY_GC_RGC_INCREMENTAL
        if (incr_pause) {
            rgc_collect_roots_deep(&mp_rgc_heap, (void *const *)ptrs, len);
            return;
        }
        #endif
        rgc_collect_roots(&mp_rgc_heap, (void *const *)ptrs, len);
    }
}

static void gc_collect_done(void) {
    #if MICROPY_PY_GC_COLLECT_RETVAL
    MP_STATE_MEM(gc_collected) = collected_total() - collected_before;
    #endif
    unsigned level = collect_level();
    collect_owner[level] = false;
    if (collect_set_flag[level]) {
        MP_STATE_THREAD(gc_lock_depth) &= ~GC_COLLECT_FLAG;
    }
    if (!in_interrupt()) {
        GC_EXIT();
    }
}

void gc_collect_end(void) {
    #if MICROPY_GC_RGC_INCREMENTAL
    if (incr_pause) {
        /* the roots are in: one step closes the collection for roots, the allocator does the rest */
        if (collect_owner[collect_level()]) {
            rgc_collect_step(&mp_rgc_heap, MICROPY_GC_RGC_STEP_MIN);
        }
        gc_collect_done();
        return;
    }
    #endif
    if (collect_owner[collect_level()]) {
        rgc_collect_finish(&mp_rgc_heap);
    }
    gc_collect_done();
}

#if MICROPY_GC_RGC_INCREMENTAL
/* Advance the paused collection by `units`, or to its end when units is 0 (thread level, GC mutex
 * held). The collect flag is set as during gc_collect: finalisers that run in the sweep cannot
 * allocate, as in py/gc.c. */
static void incr_step(size_t units) {
    MP_STATE_THREAD(gc_lock_depth) |= GC_COLLECT_FLAG;
    if (units == 0) {
        rgc_collect_finish(&mp_rgc_heap);
    } else {
        rgc_collect_step(&mp_rgc_heap, units);
    }
    MP_STATE_THREAD(gc_lock_depth) &= ~GC_COLLECT_FLAG;
}

/* Before a thread-level allocation of n_blocks: pace the collection in progress, or start one. */
static void incr_before_alloc(size_t n_blocks) {
    if (rgc_collecting(&mp_rgc_heap)) {
        size_t units = n_blocks * MICROPY_GC_RGC_STEP_WORK;
        incr_step(units > MICROPY_GC_RGC_STEP_MIN ? units : MICROPY_GC_RGC_STEP_MIN);
        return;
    }
    bool due = incr_allocated >= incr_start_blocks;
    #if MICROPY_GC_ALLOC_THRESHOLD
    due = due || MP_STATE_MEM(gc_alloc_amount) >= MP_STATE_MEM(gc_alloc_threshold);
    #endif
    if (due && MP_STATE_MEM(gc_auto_collect_enabled)) {
        GC_EXIT();
        incr_pause = true;
        gc_collect(); /* the port's: the root snapshot; gc_collect_end leaves it paused */
        incr_pause = false;
        incr_allocated = 0;
        GC_ENTER();
    }
}
#endif

void gc_sweep_all(void) {
    gc_collect_start_common();
    #if MICROPY_PY_GC_COLLECT_RETVAL
    collected_before = collected_total();
    #endif
    rgc_sweep_all(&mp_rgc_heap);
    gc_collect_done();
}

#if MICROPY_PY_THREAD && !MICROPY_PY_THREAD_GIL && MICROPY_GC_WRITE_BARRIER
/* The write barrier's shade (gc_write_barrier.h) from threads that may run on other cores: under the
 * GC mutex, like every other rgc call from thread code. Interrupt handlers preempt the thread that may
 * hold it: they call rgc directly. */
void gc_barrier_shade(const void *old) {
    if (rgc_port_level() > 0) {
        rgc_shade(&mp_rgc_heap, old);
        return;
    }
    GC_ENTER();
    rgc_shade(&mp_rgc_heap, old);
    GC_EXIT();
}

void gc_barrier_shade_range(void *const *words, size_t n) {
    if (rgc_port_level() > 0) {
        rgc_shade_range(&mp_rgc_heap, words, n);
        return;
    }
    GC_ENTER();
    rgc_shade_range(&mp_rgc_heap, words, n);
    GC_EXIT();
}
#endif

/* ---- allocation ------------------------------------------------------------------------------- */


static inline bool heap_locked_explicitly(void) {
    return (MP_STATE_THREAD(gc_lock_depth) >> GC_LOCK_DEPTH_SHIFT) != 0;
}

/* Thread code's allocation (ptr == NULL) or moving resize, as py/gc.c does it: a collection first when
 * the threshold is reached, then one more after a failure (unless auto-collection is off); the
 * threshold counts the blocks granted. rgc_realloc moves in one call and keeps the finaliser flag. */
static MP_NOINLINE void *alloc_collecting_slow(void *ptr, size_t n_bytes, unsigned flags, bool failed) {
    size_t n_blocks = (n_bytes + BYTES_PER_BLOCK - 1) / BYTES_PER_BLOCK;
    GC_ENTER();
    int collected = !MP_STATE_MEM(gc_auto_collect_enabled);
    #if MICROPY_GC_RGC_INCREMENTAL
    incr_before_alloc(n_blocks);
    #elif MICROPY_GC_ALLOC_THRESHOLD
    if (!collected && MP_STATE_MEM(gc_alloc_amount) >= MP_STATE_MEM(gc_alloc_threshold)) {
        GC_EXIT();
        gc_collect();
        collected = 1;
        failed = false; /* (another thread's allocations made it due): try again after it */
        GC_ENTER();
    }
    #endif
    void *p;
    for (;;) {
        /* zeroed: a finaliser object's type is NULL */
        p = failed ? NULL
            : ptr == NULL ? rgc_alloc(&mp_rgc_heap, n_bytes, flags)
            : rgc_realloc(&mp_rgc_heap, ptr, n_bytes, true);
        failed = false; /* the caller's attempt counts as this loop's first */
        if (p != NULL) {
            break;
        }
        #if MICROPY_GC_RGC_INCREMENTAL
        if (rgc_collecting(&mp_rgc_heap)) {
            incr_step(0); /* finish the paused collection: it may free enough */
            continue;
        }
        #endif
        GC_EXIT();
        if (collected) {
            return NULL;
        }
        gc_collect();
        collected = 1;
        GC_ENTER();
    }
    #if MICROPY_GC_ALLOC_THRESHOLD
    MP_STATE_MEM(gc_alloc_amount) += n_blocks;
    #endif
    #if MICROPY_GC_RGC_INCREMENTAL
    incr_allocated += n_blocks;
    #endif
    (void)n_blocks;
    GC_EXIT();
    return p;
}

/* The common case of alloc_collecting_slow, inlined into its callers: no collection due, and the
 * allocation succeeds - one lock, one rgc call, the threshold's count (collect-and-retry, and the
 * incremental build's steps, are the slow path's). */
static inline void *alloc_collecting(void *ptr, size_t n_bytes, unsigned flags) {
    #if !MICROPY_GC_RGC_INCREMENTAL
    GC_ENTER();
    #if MICROPY_GC_ALLOC_THRESHOLD
    if (!MP_STATE_MEM(gc_auto_collect_enabled) || MP_STATE_MEM(gc_alloc_amount) < MP_STATE_MEM(gc_alloc_threshold))
    #endif
    {
        void *p = ptr == NULL ? rgc_alloc(&mp_rgc_heap, n_bytes, flags) : rgc_realloc(&mp_rgc_heap, ptr, n_bytes, true);
        if (p != NULL) {
            #if MICROPY_GC_ALLOC_THRESHOLD
            MP_STATE_MEM(gc_alloc_amount) += (n_bytes + BYTES_PER_BLOCK - 1) / BYTES_PER_BLOCK;
            #endif
            GC_EXIT();
            return p;
        }
        GC_EXIT();
        return alloc_collecting_slow(ptr, n_bytes, flags, true);
    }
    #if MICROPY_GC_ALLOC_THRESHOLD
    GC_EXIT(); /* a collection is due first */
    #endif
    #endif
    return alloc_collecting_slow(ptr, n_bytes, flags, false);
}

void *gc_alloc(size_t n_bytes, unsigned int alloc_flags) {
    size_t n_blocks = (n_bytes + BYTES_PER_BLOCK - 1) / BYTES_PER_BLOCK;
    if (n_blocks == 0) {
        return NULL;
    }
    bool irq = in_interrupt();
    if (irq ? heap_locked_explicitly() : MP_STATE_THREAD(gc_lock_depth) > 0) {
        return NULL; /* locked, or thread code inside a collection (a finaliser) */
    }
    unsigned flags = 0;
    #if MICROPY_ENABLE_FINALISER
    if (alloc_flags & GC_ALLOC_FLAG_HAS_FINALISER) {
        flags |= RGC_FINALISER;
    }
    #else
    (void)alloc_flags;
    #endif
    if (irq) {
        return rgc_alloc(&mp_rgc_heap, n_bytes, flags);
    }

    return alloc_collecting(NULL, n_bytes, flags);
}

void gc_free(void *ptr) {
    if (MP_STATE_THREAD(gc_lock_depth) & ~GC_COLLECT_FLAG) {
        /* locked: the collector will reclaim it. A free deletes every reference the object holds
         * (m_renew's old copy, a rehashed table): while a collection is marking they must survive it,
         * as rgc_free would ensure. */
        if (ptr != NULL && rgc_marking(&mp_rgc_heap)) {
            rgc_shade(&mp_rgc_heap, ptr);
        }
        return;
    }
    if (ptr == NULL) {
        return;
    }
    if (in_interrupt()) {
        rgc_free(&mp_rgc_heap, ptr);
        return;
    }
    GC_ENTER();
    rgc_free(&mp_rgc_heap, ptr); /* never runs the finaliser, as py/gc.c */
    GC_EXIT();
}

size_t gc_nbytes(const void *ptr) {
    if (in_interrupt()) {
        return rgc_size(&mp_rgc_heap, ptr);
    }
    GC_ENTER();
    size_t n = rgc_size(&mp_rgc_heap, ptr);
    GC_EXIT();
    return n;
}

void *gc_realloc(void *ptr_in, size_t n_bytes, bool allow_move) {
    if (ptr_in == NULL) {
        return gc_alloc(n_bytes, false);
    }
    if (n_bytes == 0) {
        gc_free(ptr_in);
        return NULL;
    }
    if (in_interrupt()) {
        return heap_locked_explicitly() ? NULL : rgc_realloc(&mp_rgc_heap, ptr_in, n_bytes, allow_move);
    }
    if (MP_STATE_THREAD(gc_lock_depth) > 0) {
        return NULL;
    }

    GC_ENTER();
    /* shrink or grow in place */
    void *p = rgc_realloc(&mp_rgc_heap, ptr_in, n_bytes, false);
    GC_EXIT();
    if (p != NULL || !allow_move) {
        return p;
    }

    /* a move: py/gc.c does gc_alloc (threshold, collect-and-retry), copy, gc_free; rgc_realloc moves
     * in one call and keeps the finaliser flag */
    return alloc_collecting(ptr_in, n_bytes, 0);
}

/* ---- information ------------------------------------------------------------------------------ */

void gc_info(gc_info_t *info) {
    GC_ENTER();
    rgc_stats st;
    rgc_get_stats(&mp_rgc_heap, &st); /* one pass over the allocation tables */
    memset(info, 0, sizeof *info);
    info->total = st.total_bytes;
    info->used = st.used_bytes;
    info->free = st.free_bytes;
    info->max_free = st.largest_free_bytes / BYTES_PER_BLOCK; /* in blocks, as py/gc.c */
    info->num_1block = st.one_block_objects;
    info->num_2block = st.two_block_objects;
    info->max_block = st.largest_object_bytes / BYTES_PER_BLOCK;
    GC_EXIT();
}

void gc_dump_info(const mp_print_t *print) {
    gc_info_t info;
    gc_info(&info);
    mp_printf(print, "GC: total: %u, used: %u, free: %u",
        (uint)info.total, (uint)info.used, (uint)info.free);
    mp_printf(print, "\n No. of 1-blocks: %u, 2-blocks: %u, max blk sz: %u, max free sz: %u\n",
        (uint)info.num_1block, (uint)info.num_2block, (uint)info.max_block, (uint)info.max_free);
}

/* gc_dump_alloc_table: py/gc.c's format (64 blocks a line, runs of >= 2 free lines folded, a letter
 * for the type of each object's head), produced from rgc_dump's map in one pass. */
#define DUMP_BYTES_PER_LINE (64)

typedef struct {
    const mp_print_t *print;
    size_t area;
    bool started;
    size_t free_from; /* a free run that began at a line start is held back: (size_t)-1 when none */
    size_t next;      /* next block to print */
} dump_walk_t;

static char head_char(size_t area, size_t block) {
    byte *pool = rgc_area_pool(&mp_rgc_heap, (unsigned)area);
    if (pool == NULL) {
        return 'h';
    }
    void **ptr = (void **)(pool + block * BYTES_PER_BLOCK);
    if (*ptr == &mp_type_tuple) {
        return 'T';
    } else if (*ptr == &mp_type_list) {
        return 'L';
    } else if (*ptr == &mp_type_dict) {
        return 'D';
    } else if (*ptr == &mp_type_str || *ptr == &mp_type_bytes) {
        return 'S';
    }
    #if MICROPY_PY_BUILTINS_BYTEARRAY
    else if (*ptr == &mp_type_bytearray) {
        return 'A';
    }
    #endif
    #if MICROPY_PY_ARRAY
    else if (*ptr == &mp_type_array) {
        return 'A';
    }
    #endif
    #if MICROPY_PY_BUILTINS_FLOAT
    else if (*ptr == &mp_type_float) {
        return 'F';
    }
    #endif
    else if (*ptr == &mp_type_fun_bc) {
        return 'B';
    } else if (*ptr == &mp_type_module) {
        return 'M';
    }
    return 'h';
}

static void dump_put(dump_walk_t *w, size_t block, char c) {
    if (block % DUMP_BYTES_PER_LINE == 0) {
        mp_printf(w->print, "\n%08x: ", (uint)(block * BYTES_PER_BLOCK));
    }
    mp_printf(w->print, "%c", c);
}

/* Print the held-back free run [free_from, end). */
static void dump_flush_free(dump_walk_t *w, size_t end) {
    if (w->free_from == (size_t)-1) {
        return;
    }
    size_t bl = w->free_from;
    w->free_from = (size_t)-1;
    if (end - bl >= 2 * DUMP_BYTES_PER_LINE) {
        mp_printf(w->print, "\n       (%u lines all free)", (uint)(end - bl) / DUMP_BYTES_PER_LINE);
        bl = end & ~(size_t)(DUMP_BYTES_PER_LINE - 1);
    }
    for (; bl < end; bl++) {
        dump_put(w, bl, '.');
    }
}

static void dump_area_end(dump_walk_t *w) {
    if (w->started) {
        dump_flush_free(w, w->next);
        mp_print_str(w->print, "\n");
    }
}

static void dump_block(void *ctx, size_t area, size_t block, int kind) {
    dump_walk_t *w = ctx;
    if (!w->started || area != w->area) {
        dump_area_end(w);
        w->started = true;
        w->area = area;
        w->free_from = (size_t)-1;
        void *from = rgc_area_pool(&mp_rgc_heap, (unsigned)area);
        mp_printf(w->print, "GC memory layout; from %p:", from);
    }
    w->next = block + 1;
    if (kind == K_FREE) {
        if (w->free_from != (size_t)-1) {
            return;
        }
        if (block % DUMP_BYTES_PER_LINE == 0) {
            w->free_from = block;
            return;
        }
        dump_put(w, block, '.');
        return;
    }
    dump_flush_free(w, block);
    dump_put(w, block, kind == K_HEAD ? head_char(area, block) : kind == K_TAIL ? '=' : 'm');
}

void gc_dump_alloc_table(const mp_print_t *print) {
    GC_ENTER();
    dump_walk_t w = { print, 0, false, (size_t)-1, 0 };
    walk_map(dump_block, &w);
    dump_area_end(&w);
    GC_EXIT();
}

#endif /* MICROPY_ENABLE_GC */
