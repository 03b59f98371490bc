/* rgc_table.c - allocation-table primitives and per-context bookkeeping.
 *
 * Every table change is one atomic step on one table byte. Claims go HEAD first, then TAILs in block
 * order; releases go last TAIL first, HEAD last. Between any two steps the table is a sequence of
 * well-formed runs (I1), so a context preempted between steps leaves nothing a collection or
 * another allocation could misread: at worst an object that is a few TAILs shorter than it will be.
 *
 * Worst case per call: one CAS per table byte of the run, plus one retry per preemption that changed
 * the same byte (other blocks in it) - never a wait for a suspended context.
 */
#include "rgc_internal.h"

const struct rgc_area *rgc_area_of_slow(rgc_heap *h, size_t b) {
    unsigned n = heap_areas(h);
    for (unsigned i = 1; i < n; i++)
        if (b - h->areas[i].first < h->areas[i].nblocks)
            return &h->areas[i];
    return NULL;
}

size_t rgc_block_of_addr_slow(rgc_heap *h, uintptr_t w, size_t *offset) {
    unsigned n = heap_areas(h);
    for (unsigned i = 1; i < n; i++) {
        const struct rgc_area *a = &h->areas[i];
        uintptr_t off = w - (uintptr_t)a->pool;
        if (w >= (uintptr_t)a->pool && off < (uintptr_t)a->nblocks * RGC_BS) {
            *offset = (size_t)(off & (RGC_BS - 1u));
            return a->first + (size_t)(off / RGC_BS);
        }
    }
    return RGC_NONE;
}

size_t rgc_atb_run_length(rgc_heap *h, size_t b) {
    const struct rgc_area *a = area_of(h, b);
    if (a == NULL)
        return 0;
    size_t e = b + 1, end = area_end(a);
    while (e < end && atb_state_in(a, e) == AT_TAIL)
        e++;
    return e - b;
}

/* Bits covering blocks [from, to) within table byte ATB_INDEX(from); to <= next byte boundary. */
static uint8_t byte_mask(size_t from, size_t to) {
    uint8_t m = 0;
    for (size_t b = from; b < to; b++)
        m = (uint8_t)(m | ATB_BITS(3u, b));
    return m;
}
static uint8_t byte_tails(size_t from, size_t to) {
    uint8_t m = 0;
    for (size_t b = from; b < to; b++)
        m = (uint8_t)(m | ATB_BITS(AT_TAIL, b));
    return m;
}

bool rgc_atb_transition(rgc_heap *h, size_t b, unsigned from, unsigned to) {
    const struct rgc_area *a = area_of(h, b);
    if (a == NULL)
        return false;
    _Atomic uint8_t *p = atb_byte(a, b);
    uint8_t cur = u8_load(p);
    for (;;) {
        if (ATB_GET(cur, b) != from)
            return false;
        uint8_t next = (uint8_t)((cur & ~ATB_BITS(3u, b)) | ATB_BITS(to, b));
        if (u8_cas(h, p, &cur, next))
            return true;
        /* another block of the same byte changed under us: re-decide on the fresh value */
    }
}

/* The free-block counter never undercounts: releases add before releasing, claims subtract after
 * claiming, so at every instant it is at least the number of FREE blocks (found by the preemption
 * sweep: adding after the release let an interrupt inside a sweep's release fail an allocation that
 * had a free run). A request for more blocks than it says fails without a search, always rightly; an
 * overcount only costs a search. The *_raw primitives leave it alone; the public ones keep it. */
static void count_free(rgc_heap *h, size_t claimed, size_t released) {
    (void)sz_add(h, &h->free_blocks, released - claimed); /* wraps correctly for claims */
}

static void release_tails_raw(rgc_heap *h, size_t from, size_t to) {
    if (from >= to)
        return;
    const struct rgc_area *a = area_of(h, from);
    size_t b = to;
    size_t group = RGC_NONE;
    while (b > from) {
        size_t byte_start = ATB_INDEX(b - 1u) << 2;
        size_t lo = from > byte_start ? from : byte_start;
        RGC_POISON(block_addr_in(a, lo), (b - lo) * RGC_BS);
        (void)u8_and(h, atb_byte(a, lo), (uint8_t)~byte_mask(lo, b));
        if (((lo - a->first) >> 6) != group) { /* after the release: see the free map's rule */
            group = (lo - a->first) >> 6;
            map_set(h, a, group);
        }
        b = lo;
    }
}

static void release_head_raw(rgc_heap *h, size_t b) {
    const struct rgc_area *a = area_of(h, b);
    RGC_POISON(block_addr_in(a, b), RGC_BS);
    (void)u8_and(h, atb_byte(a, b), (uint8_t)~ATB_BITS(3u, b));
    map_set(h, a, (b - a->first) >> 6);
    rgc_hint_lower(h, b);
}

/* Claim the TAILs [from, to) one table byte at a time; on conflict release what this call claimed
 * (last first) and report failure. [from-1, to) lies in one area. */
static bool claim_tails_raw(rgc_heap *h, size_t from, size_t to) {
    if (from >= to)
        return true;
    const struct rgc_area *a = area_of(h, from);
    if (a == NULL || to > area_end(a))
        return false;
    size_t b = from;
    while (b < to) {
        size_t byte_end = (ATB_INDEX(b) + 1u) << 2;
        size_t hi = to < byte_end ? to : byte_end;
        uint8_t mask = byte_mask(b, hi), tails = byte_tails(b, hi);
        _Atomic uint8_t *p = atb_byte(a, b);
        uint8_t cur = u8_load(p);
        for (;;) {
            if ((cur & mask) != 0) {
                release_tails_raw(h, from, b);
                return false;
            }
            if (u8_cas(h, p, &cur, (uint8_t)(cur | tails)))
                break;
        }
        b = hi;
    }
    return true;
}

bool rgc_atb_claim_tails(rgc_heap *h, size_t from, size_t to) {
    if (!claim_tails_raw(h, from, to))
        return false;
    if (to > from)
        count_free(h, to - from, 0);
    return true;
}

bool rgc_atb_claim_run(rgc_heap *h, size_t s, size_t n, unsigned head_state) {
    if (!rgc_atb_transition(h, s, AT_FREE, head_state))
        return false;
    if (claim_tails_raw(h, s + 1u, s + n)) {
        count_free(h, n, 0);
        return true;
    }
    release_head_raw(h, s);
    return false;
}

void rgc_atb_release_tails(rgc_heap *h, size_t from, size_t to) {
    if (to > from)
        count_free(h, 0, to - from);
    release_tails_raw(h, from, to);
    if (to > from)
        rgc_hint_lower(h, from);
}

void rgc_atb_release_object(rgc_heap *h, size_t b, size_t n) {
    count_free(h, 0, n);
    release_tails_raw(h, b + 1u, b + n);
    release_head_raw(h, b);
}

void rgc_map_clear_full(rgc_heap *h, const struct rgc_area *a, size_t group) {
    (void)u32_and(h, &a->free_map[group >> 5], ~((uint32_t)1u << (group & 31u)));
    /* A block released before the clear but after our search looked at it must not stay hidden. */
    size_t lo = group << 6, hi = lo + 64u < a->nblocks ? lo + 64u : a->nblocks;
    for (size_t k = lo; k < hi; k++) {
        if (ATB_GET(u8_load(&a->atb[ATB_INDEX(k)]), k) == AT_FREE) {
            map_set(h, a, group);
            return;
        }
    }
}

void rgc_hint_lower(rgc_heap *h, size_t b) {
    size_t cur = sz_load(&h->hint);
    while (b < cur && !sz_cas(h, &h->hint, &cur, b)) {
    }
    /* The class hints take plain stores (no read-modify-write on this path): a preemption between
     * the load and the store may lose a lowering, which costs first-fit exactness, never a block -
     * every search that fails from its hint wraps around from the bottom. */
    /* Classes wholly below the next-fit limit never search from their hint: left alone. */
    unsigned k = fit_class((sz_load(&h->nblocks) >> RGC_NEXT_FIT_SHIFT) + 1u);
    for (k = k > 0 ? k : 1u; k < RGC_FIT_CLASSES; k++) {
        size_t low = b >= fit_min(k) - 1u ? b - (fit_min(k) - 1u) : 0;
        if (low < sz_load(&h->fit_from[k - 1u]))
            sz_store(&h->fit_from[k - 1u], low);
    }
}

/* Level and depth of a new call, or false (counted as misuse) when either is out of range. */
static bool ctx_reserve(rgc_heap *h, rgc_ctx *c) {
#if RGC_SINGLE_CONTEXT
    unsigned level = 0;
#else
    unsigned level = rgc_port_level();
#endif
    if (level >= RGC_MAX_LEVELS) {
        stat_inc(h, &h->misuse);
        return false;
    }
    unsigned depth = atomic_load_explicit(&h->depth[level], memory_order_relaxed);
    if (depth >= RGC_MAX_NEST) {
        stat_inc(h, &h->misuse);
        return false;
    }
    c->level = level;
    c->depth = depth;
    return true;
}

bool rgc_ctx_enter(rgc_heap *h, rgc_ctx *c) {
    if (!ctx_reserve(h, c))
        return false;
    /* Clear the previous call's stale slot before the depth says it is live, so that no one takes
     * it for an operation in progress (rgc_ctx_object_busy reads slots below depth). */
    ctx_unpublish(h, c);
    u8_store(&h->depth[c->level], (uint8_t)(c->depth + 1u));
    return true;
}

bool rgc_ctx_enter_busy(rgc_heap *h, rgc_ctx *c) {
    if (!ctx_reserve(h, c))
        return false;
    u8_store(&h->depth[c->level], (uint8_t)(c->depth + 1u));
    return true;
}

bool rgc_ctx_object_busy(rgc_heap *h, const rgc_ctx *c, size_t b) {
#if RGC_SINGLE_CONTEXT
    (void)h; (void)c; (void)b;
    return false;
#endif
    size_t op = SLOT_VALUE(b, SLOT_OP), claim = SLOT_VALUE(b, SLOT_CLAIM);
    for (unsigned level = 0; level <= c->level; level++) {
        unsigned depth = level == c->level
                             ? c->depth
                             : atomic_load_explicit(&h->depth[level], memory_order_relaxed);
        for (unsigned d = 0; d < depth && d < RGC_MAX_NEST; d++) {
            size_t v = sz_load(&h->in_progress[level][d]);
            if (v == op || v == claim)
                return true;
        }
    }
    return false;
}

void rgc_count_misuse(rgc_heap *h) {
    rgc_ctx c;
    if (!rgc_ctx_enter(h, &c))
        return; /* counted there */
    stat_inc(h, &h->misuse);
    ctx_leave(h, &c);
}
