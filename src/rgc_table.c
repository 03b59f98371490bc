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

const struct rgc_area *rgc_area_of_slow(rgc_core *h, size_t b) {
    unsigned n = heap_areas(h);
    for (unsigned i = 1; i < n; i++)
        if (b - h->areas[i].first < h->areas[i].nblocks)
            return &h->areas[i];
    return NULL;
}

size_t rgc_block_of_addr_slow(rgc_core *h, uintptr_t w, size_t *offset) {
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


/* Bits covering blocks [from, to) within table byte ATB_INDEX(from); from < to <= next byte boundary.
 * Constant time: (to - from) bit pairs from from's pair on. */
static uint8_t byte_mask(size_t from, size_t to) {
    return (uint8_t)(((1u << (2u * (unsigned)(to - from))) - 1u) << ATB_SHIFT(from));
}
/* The same blocks as TAILs (bit pairs 10). */
static uint8_t byte_tails(size_t from, size_t to) {
    return (uint8_t)(byte_mask(from, to) & 0xAAu);
}

static void release_tails_raw_in(rgc_core *h, const struct rgc_area *a, size_t from, size_t to) {
    if (from >= to)
        return;
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
static void release_tails_raw(rgc_core *h, size_t from, size_t to) {
    if (from < to)
        release_tails_raw_in(h, area_of(h, from), from, to);
}


/* Claim the TAILs [from, to) one table byte at a time; on conflict release what this call claimed
 * (last first) and report failure. [from-1, to) lies in one area. */
static bool claim_tails_raw(rgc_core *h, size_t from, size_t to) {
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

bool rgc_atb_claim_tails(rgc_core *h, size_t from, size_t to) {
    if (!claim_tails_raw(h, from, to))
        return false;
    if (to > from)
        atb_count_free(h, to - from, 0);
    return true;
}

bool rgc_atb_claim_run(rgc_core *h, size_t s, size_t n, unsigned head_state) {
    if (!rgc_atb_transition(h, s, AT_FREE, head_state))
        return false;
    if (claim_tails_raw(h, s + 1u, s + n)) {
        atb_count_free(h, n, 0);
        return true;
    }
    atb_release_head_raw(h, s);
    return false;
}


void rgc_atb_release_tails(rgc_core *h, size_t from, size_t to) {
    if (to > from)
        atb_count_free(h, 0, to - from);
    release_tails_raw(h, from, to);
    if (to > from)
        rgc_hint_lower(h, from);
}

void rgc_atb_release_object_in(rgc_core *h, const struct rgc_area *a, size_t b, size_t n) {
    atb_count_free(h, 0, n);
    release_tails_raw_in(h, a, b + 1u, b + n);
    atb_release_head_raw_in(h, a, b);
}
void rgc_atb_release_object(rgc_core *h, size_t b, size_t n) {
    rgc_atb_release_object_in(h, area_of(h, b), b, n);
}

void rgc_map_clear_full(rgc_core *h, const struct rgc_area *a, size_t group) {
    (void)u32_and(h, &a->free_map[group >> 5], ~((uint32_t)1u << (group & 31u)));
    /* A block released before the clear but after our search looked at it must not stay hidden. */
    size_t lo = group << 6, hi = lo + 64u < a->nblocks ? lo + 64u : a->nblocks, k = lo;
#if ATB_WORDS /* sixteen blocks a read */
    for (; k + 16u <= hi; k += 16u) {
        if (ATB_FREE_PAIRS(u32_load((_Atomic uint32_t *)(void *)&a->atb[ATB_INDEX(k)])) != 0) {
            map_set(h, a, group);
            return;
        }
    }
#endif
    for (; k < hi; k++) {
        if (ATB_GET(u8_load(&a->atb[ATB_INDEX(k)]), k) == AT_FREE) {
            map_set(h, a, group);
            return;
        }
    }
}


