/* rgc_heap.c - heap set-up and heap-wide settings: init, lock, level policy, finaliser, roots. */
#include "rgc_internal.h"

#include <stddef.h>

/* Objects start at pool + k * RGC_BLOCK_BYTES: aligning the pool to a block (capped at max_align_t)
 * makes every object suitable for any type. */
#define RGC_POOL_ALIGN (RGC_BS < _Alignof(max_align_t) ? RGC_BS : _Alignof(max_align_t))

/* Carve [mem, mem+bytes) into tables and pool for area a (a->first is set by the caller).
 * False when it cannot hold one block with its tables. */
static bool carve_area(struct rgc_area *a, void *mem, size_t bytes) {
    if (mem == NULL || ((uintptr_t)mem & (sizeof(void *) - 1u)) != 0)
        return false;
    /* Each block costs RGC_BS bytes + 2 ATB bits (+ 1 FTB bit) + 1/64 map bit: start from that ratio
     * (in 1/64 bits, without overflowing size_t), then step down until the rounded-up tables and the
     * pool alignment fit (a few steps). */
    const size_t per_block = (RGC_BS * 8u + 2u + (RGC_FINALISERS ? 1u : 0u)) * 64u + 1u;
    size_t n = bytes / per_block * 512u + (bytes % per_block) * 512u / per_block;
    size_t pool_off = 0;
    for (; n > 0; n--) {
        uintptr_t tables_end = (uintptr_t)mem + area_table_bytes(n);
        uintptr_t pool = (tables_end + RGC_POOL_ALIGN - 1u) & ~(uintptr_t)(RGC_POOL_ALIGN - 1u);
        pool_off = (size_t)(pool - (uintptr_t)mem);
        if (pool_off <= bytes && n <= (bytes - pool_off) / RGC_BS)
            break;
    }
    if (n == 0)
        return false;
    size_t atb_bytes = (n + 3u) / 4u, ftb_bytes = RGC_FINALISERS ? (n + 7u) / 8u : 0u;
    size_t map_off = (atb_bytes + ftb_bytes + 3u) & ~(size_t)3u;
    RGC_UNPOISON(mem, bytes); /* a previous heap's free blocks may lie anywhere in it */
    __builtin_memset(mem, 0, area_table_bytes(n));
    a->atb = (_Atomic uint8_t *)mem;
    a->ftb = RGC_FINALISERS ? (_Atomic uint8_t *)mem + atb_bytes : NULL;
    a->free_map = (_Atomic uint32_t *)(void *)((uint8_t *)mem + map_off);
    for (size_t g = 0; g < (n + 63u) / 64u; g++) /* every group starts free */
        atomic_store_explicit(&a->free_map[g >> 5],
                              atomic_load_explicit(&a->free_map[g >> 5], memory_order_relaxed) |
                                  (uint32_t)1u << (g & 31u),
                              memory_order_relaxed);
    a->pool = (uint8_t *)mem + pool_off;
    a->nblocks = n;
    RGC_POISON(a->pool, n * RGC_BS);
    return true;
}

/* Limits of every level from the reserves: level l may use blocks below end - (reserves above l).
 * Readers (allocations at any level) may look at any instant: limits stay non-decreasing in the level
 * at every step because lowered limits are written bottom-up and raised ones top-down. */
static void update_limits(rgc_core *h) {
    size_t end = sz_load(&h->end);
    size_t want[RGC_MAX_LEVELS], above = 0;
    for (unsigned level = RGC_MAX_LEVELS; level-- > 0;) {
        want[level] = end - above;
        above += h->reserve_blocks[level];
    }
    for (unsigned level = 0; level < RGC_MAX_LEVELS; level++) /* lowered: bottom-up */
        if (want[level] < sz_load(&h->limit[level]))
            sz_store(&h->limit[level], want[level]);
    for (unsigned level = RGC_MAX_LEVELS; level-- > 0;) /* raised: top-down */
        if (want[level] > sz_load(&h->limit[level]))
            sz_store(&h->limit[level], want[level]);
}

/* rgc_add_area and rgc_reserve change the heap's shape: one at a time (a second one, preempting the
 * first, gets RGC_BUSY instead of mixing its limits with the first one's). */
static bool config_begin(rgc_core *h) {
    unsigned none = 0;
    return uns_cas(h, &h->config_busy, &none, 1u);
}
static void config_end(rgc_core *h) {
    uns_store(&h->config_busy, 0);
}

int (rgc_init)(rgc_heap *heap, void *mem, size_t bytes) {
    return rgc_init_sized(heap, mem, bytes, sizeof *heap);
}

int rgc_init_sized(rgc_heap *heap, void *mem, size_t bytes, size_t handle_bytes) {
    rgc_core *h = core_of(heap); /* no entry check: the memory is not a heap yet (rgc_check at the end) */
    if (h == NULL || handle_bytes != sizeof *heap)
        return RGC_EINVAL;
    struct rgc_area area;
    area.first = 0;
    if (!carve_area(&area, mem, bytes))
        return RGC_EINVAL;
    __builtin_memset(heap, 0, sizeof *heap);
    h->areas[0] = area;
    atomic_store(&h->nareas, 1u);
    atomic_store(&h->nblocks, area.nblocks);
    atomic_store(&h->free_blocks, area.nblocks);
    atomic_store(&h->end, area.nblocks);
    atomic_store(&h->sweep_done, area.nblocks);
    atomic_store(&h->policy[0], (uint8_t)RGC_AUTO_COLLECT);
    atomic_store(&h->hint, 0);
    atomic_store(&h->rover, 0);
    atomic_store(&h->state, PHASE_IDLE);
    h->rescan_pos = RGC_NONE;
    update_limits(h);
    h->magic = RGC_MAGIC;
    atomic_signal_fence(memory_order_seq_cst);
    RGC_ASSERT(rgc_check(heap) == RGC_OK);
    return RGC_OK;
}

static bool overlaps(const void *mem, size_t bytes, const struct rgc_area *a) {
    uintptr_t lo = (uintptr_t)mem, hi = lo + bytes;
    uintptr_t alo = (uintptr_t)a->atb, ahi = (uintptr_t)(a->pool + a->nblocks * RGC_BS);
    return lo < ahi && alo < hi;
}

static int add_area(rgc_core *h, void *mem, size_t bytes) {
    unsigned n = heap_areas(h);
    bool bad = n >= RGC_MAX_AREAS || mem == NULL || bytes == 0 || (uintptr_t)mem + bytes < (uintptr_t)mem;
    for (unsigned i = 0; i < n && !bad; i++)
        bad = overlaps(mem, bytes, &h->areas[i]);
    struct rgc_area area;
    if (!bad) {
        area.first = (area_end(&h->areas[n - 1u]) + 63u) & ~(size_t)63u;
        bad = !carve_area(&area, mem, bytes);
    }
    if (bad) {
        stat_inc(h, &h->misuse);
        return RGC_EINVAL;
    }
    /* Publish: the area first, then the count readers loop to; limits last (until then no level
     * allocates there). The previous last area's reserves move to the new last area. */
    h->areas[n] = area;
    atomic_store_explicit(&h->nareas, n + 1u, memory_order_release);
    (void)sz_add(h, &h->nblocks, area.nblocks);
    (void)sz_add(h, &h->free_blocks, area.nblocks);
    sz_store(&h->end, area_end(&area));
    update_limits(h);
    return RGC_OK;
}

static int reserve(rgc_core *h, unsigned level, size_t bytes) {
    if (level == 0 || level >= RGC_MAX_LEVELS) {
        stat_inc(h, &h->misuse);
        return RGC_EINVAL;
    }
    const struct rgc_area *last = &h->areas[heap_areas(h) - 1u];
    size_t want = bytes / RGC_BS + (bytes % RGC_BS != 0), others = 0;
    for (unsigned l = 1; l < RGC_MAX_LEVELS; l++)
        others += l == level ? 0 : h->reserve_blocks[l];
    if (want > last->nblocks || others + want >= last->nblocks) { /* the shared part keeps a block */
        stat_inc(h, &h->misuse);
        return RGC_EINVAL;
    }
    h->reserve_blocks[level] = want;
    update_limits(h);
    return RGC_OK;
}

enum { CONFIG_AREA, CONFIG_RESERVE };

/* In a context (rgc_busy_depth covers the masked updates), one shape change at a time. */
static int configure(rgc_core *h, int which, void *mem, size_t bytes, unsigned level) {
    rgc_ctx c;
    if (!heap_ok(h) || !rgc_ctx_enter(h, &c))
        return RGC_EINVAL;
    int r = RGC_BUSY;
    /* A reserve raised above a suspended allocation would not bind it: that search read the limits
     * before, and may claim blocks of the new reserve after we return. */
    bool refused = which == CONFIG_RESERVE && level != 0 && level < RGC_MAX_LEVELS && ctx_below_busy(h, &c);
    if (!refused && config_begin(h)) {
        r = which == CONFIG_AREA ? add_area(h, mem, bytes) : reserve(h, level, bytes);
        config_end(h);
    }
    ctx_leave(h, &c);
    return r;
}

int rgc_add_area(rgc_heap *heap, void *mem, size_t bytes) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    return configure(h, CONFIG_AREA, mem, bytes, 0);
}

int rgc_reserve(rgc_heap *heap, unsigned level, size_t bytes) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    return configure(h, CONFIG_RESERVE, NULL, bytes, level);
}

void rgc_set_threshold(rgc_heap *heap, size_t bytes) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    if (heap_ok(h))
        sz_store(&h->threshold, bytes);
}

void rgc_set_pacing(rgc_heap *heap, unsigned work_per_block) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    if (heap_ok(h))
        uns_store(&h->pacing, work_per_block);
}

/* Settings below run inside a context too: with masked atomics their updates are masked windows, and
 * rgc_busy_depth() must cover them. */
void rgc_lock(rgc_heap *heap) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    rgc_ctx c;
    if (!heap_ok(h) || !rgc_ctx_enter(h, &c))
        return;
    (void)uns_add(h, &h->lock_depth, 1u);
    ctx_leave(h, &c);
}

void rgc_unlock(rgc_heap *heap) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    rgc_ctx c;
    if (!heap_ok(h) || !rgc_ctx_enter(h, &c))
        return;
    unsigned cur = uns_load(&h->lock_depth);
    do {
        if (cur == 0) {
            stat_inc(h, &h->misuse);
            break;
        }
    } while (!uns_cas(h, &h->lock_depth, &cur, cur - 1u));
    ctx_leave(h, &c);
}

void rgc_set_finaliser(rgc_heap *heap, rgc_finaliser_fn fn) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    if (heap_ok(h))
        atomic_store(&h->finaliser, fn);
}

void rgc_set_verify_hook(rgc_heap *heap, rgc_verify_fn fn) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    if (heap_ok(h))
        atomic_store(&h->verify_hook, fn);
}

void rgc_level_policy(rgc_heap *heap, unsigned level, unsigned policy) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    if (!heap_ok(h))
        return;
    if (level >= RGC_MAX_LEVELS || (policy & ~(unsigned)(RGC_AUTO_COLLECT | RGC_NO_ALLOC)) != 0) {
        rgc_count_misuse(h);
        return;
    }
    atomic_store(&h->policy[level], (uint8_t)policy);
}

static int add_root(rgc_core *h, void *start, size_t bytes) {
    if (start == NULL || ((uintptr_t)start & (sizeof(void *) - 1u)) != 0 || bytes < sizeof(void *)) {
        stat_inc(h, &h->misuse);
        return RGC_EINVAL;
    }
    /* Reserve an entry; fill it; publish it by storing start last (the collector skips NULL). */
    unsigned idx = uns_load(&h->root_count);
    do {
        if (idx >= RGC_MAX_ROOTS) {
            stat_inc(h, &h->misuse);
            return RGC_EINVAL;
        }
    } while (!uns_cas(h, &h->root_count, &idx, idx + 1u));
    h->roots[idx].words = bytes / sizeof(void *);
    atomic_store_explicit(&h->roots[idx].start, start, memory_order_seq_cst);
    /* Registered while a collection is marking: the range was not part of its snapshot, so whatever
     * it refers to is shaded now, as the barrier would have done for each store. */
    if (phase_of(h) == PHASE_MARK)
        rgc_shade_words(h, (void *const *)start, bytes / sizeof(void *));
    return RGC_OK;
}

int rgc_add_root(rgc_heap *heap, void *start, size_t bytes) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    rgc_ctx c;
    if (!heap_ok(h) || !rgc_ctx_enter(h, &c))
        return RGC_EINVAL;
    int r = add_root(h, start, bytes);
    ctx_leave(h, &c);
    return r;
}

unsigned rgc_busy_depth(rgc_heap *heap) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    if (!heap_ok(h))
        return 0;
    unsigned level = rgc_port_level();
    return level < RGC_MAX_LEVELS ? atomic_load_explicit(&h->depth[level], memory_order_relaxed) : 0;
}
