/* rgc_table.h - the block layout and the allocation-table primitives (included by rgc_internal.h).
 *
 * Each memory area (rgc_init's, then rgc_add_area's) is carved as
 *
 *     [ ATB: 2 bits/block ][ FTB: 1 bit/block ][ free map: 1 bit/64 blocks ][ pad ][ pool ]
 *
 * Blocks are named by a global index: area a's block k is a->first + k, where a->first is a multiple
 * of 64, so an ATB byte, an FTB byte and a free-map bit always belong to one area. Indices between
 * areas name no block. Objects never span areas.
 *
 * ATB (allocation table) byte k describes blocks 4k..4k+3, block b in bits 2*(b%4)..2*(b%4)+1:
 *   FREE (0)  the block is unused
 *   HEAD (1)  first block of an object
 *   TAIL (2)  further block of the object whose HEAD precedes it
 *   MARK (3)  a HEAD the running collection has marked (reachable or born during it)
 * An object is a run HEAD TAIL*. I1 (docs/design.md) - a TAIL never follows a FREE - holds at every instant:
 * runs are claimed HEAD first then TAILs in order, and released TAILs last-first, HEAD last.
 *
 * Free map bit g of an area: its blocks 64g..64g+63 may hold a FREE block. Invariant: a group with a
 * FREE block has its bit set (a set bit over a full group only costs a look). Every release sets the
 * bit after freeing the blocks; a search that finds a group full clears the bit, then looks at the
 * group again and sets the bit back if a block was freed meanwhile - so no release is ever hidden.
 * Searches skip groups whose bit is clear: a full heap region costs one bit per 64 blocks.
 *
 * FTB (finaliser table) bit b: the object whose HEAD is block b has a finaliser. It is set only while
 * the block is HEAD/MARK (set after the claim, cleared before the release).
 *
 * Every change to a table byte is one atomic step (compare-and-swap, fetch-or, fetch-and) so that
 * several blocks' owners can change the same byte from different levels. With RGC_ATOMICS_VIA_MASK the
 * step is a read-modify-write inside the port's mask: a window of constant length.
 */
#ifndef RGC_TABLE_H
#define RGC_TABLE_H
#ifndef RGC_INTERNAL_H
#error "include rgc_internal.h, not this file"
#endif

enum { AT_FREE = 0u, AT_HEAD = 1u, AT_TAIL = 2u, AT_MARK = 3u };

#define ATB_INDEX(b) ((b) >> 2)
#define ATB_SHIFT(b) ((unsigned)(((b)&3u) << 1))
#define ATB_GET(byte, b) (((unsigned)(byte) >> ATB_SHIFT(b)) & 3u)
#define ATB_BITS(state, b) ((uint8_t)((unsigned)(state) << ATB_SHIFT(b)))
#define FTB_INDEX(b) ((b) >> 3)
#define FTB_BIT(b) ((uint8_t)(1u << ((b)&7u)))

/* An aligned word of four table bytes holds 16 blocks, block k at bits 2k on little-endian cores (every
 * Cortex-M rgc targets, x86): the sweep and the one-block fast path read (and the sweep updates) 16
 * blocks at once there. The table's start is pointer-aligned (carve_area). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ATB_WORDS 1
#else
#define ATB_WORDS 0
#endif
/* Per 2-bit pair of a table word or byte: 1 in the pair's low bit where the block is FREE. */
#define ATB_FREE_PAIRS(x) (~((x) | ((x) >> 1)) & 0x55555555u)

/* ---- areas and table access ---------------------------------------------------------------- */

RGC_HOT bool heap_ok(const rgc_core *h) {
    return h != NULL && h->magic == RGC_MAGIC;
}

RGC_HOT unsigned heap_areas(rgc_core *h) {
    return atomic_load_explicit(&h->nareas, memory_order_acquire);
}

/* The area holding global block b, or NULL (a gap between areas, or past the end). Area 0 (the only
 * one in most heaps, and first == 0) is decided inline; the others out of line. */
const struct rgc_area *rgc_area_of_slow(rgc_core *h, size_t b);
RGC_HOT const struct rgc_area *area_of(rgc_core *h, size_t b) {
    if (b < h->areas[0].nblocks)
        return &h->areas[0];
    return rgc_area_of_slow(h, b);
}
RGC_HOT size_t area_end(const struct rgc_area *a) {
    return a->first + a->nblocks;
}

/* Table byte holding block b of area a (b inside a). */
RGC_HOT _Atomic uint8_t *atb_byte(const struct rgc_area *a, size_t b) {
    return &a->atb[ATB_INDEX(b - a->first)];
}
RGC_HOT unsigned atb_state_in(const struct rgc_area *a, size_t b) {
    return ATB_GET(u8_load(atb_byte(a, b)), b);
}
/* State of global block b; FREE for an index that names no block. */
RGC_HOT unsigned atb_state(rgc_core *h, size_t b) {
    const struct rgc_area *a = area_of(h, b);
    return a != NULL ? atb_state_in(a, b) : AT_FREE;
}

RGC_HOT uint8_t *block_addr_in(const struct rgc_area *a, size_t b) {
    return a->pool + (b - a->first) * RGC_BS;
}
RGC_HOT uint8_t *block_addr(rgc_core *h, size_t b) {
    return block_addr_in(area_of(h, b), b);
}

/* Global block of the word w if it points into a pool (the block it points into), else RGC_NONE;
 * *offset receives w's offset inside that block. Area 0 inline, the others out of line. */
size_t rgc_block_of_addr_slow(rgc_core *h, uintptr_t w, size_t *offset);
RGC_HOT size_t block_of_addr(rgc_core *h, uintptr_t w, size_t *offset) {
    const struct rgc_area *a = &h->areas[0];
    uintptr_t off = w - (uintptr_t)a->pool;
    if (w >= (uintptr_t)a->pool && off < (uintptr_t)a->nblocks * RGC_BS) {
        *offset = (size_t)(off & (RGC_BS - 1u));
        return (size_t)(off / RGC_BS);
    }
    return heap_areas(h) > 1u ? rgc_block_of_addr_slow(h, w, offset) : RGC_NONE;
}

/* Block index of p if p is the first byte of a block of a pool, else RGC_NONE. */
RGC_HOT size_t block_of_start(rgc_core *h, const void *p) {
    size_t off;
    size_t b = block_of_addr(h, (uintptr_t)p, &off);
    return b != RGC_NONE && off == 0 ? b : RGC_NONE;
}

/* The first block at or after b that is not a TAIL, or limit if all of [b, limit) are (limit <= the
 * area's end). A table byte per step, as py/gc.c's sweep reads them: its TAIL blocks are the bit pairs
 * 10; a sentinel bit past the byte ends the count there. */
RGC_HOT size_t tail_run_end(const struct rgc_area *a, size_t b, size_t limit) {
    while (b < limit) {
        unsigned byte = u8_load(atb_byte(a, b));
        unsigned not_tail = ((~((byte >> 1) & ~byte) & 0x55u) | 0x100u) >> ATB_SHIFT(b);
        size_t run = (size_t)__builtin_ctz(not_tail) / 2u; /* TAILs from b within this byte */
        b += run;
        if ((b & 3u) != 0 || run == 0) /* a block of this byte is no TAIL */
            break;
    }
    return b < limit ? b : limit;
}

/* Number of blocks of the object whose HEAD is b (HEAD plus the TAILs that follow). */
RGC_HOT size_t rgc_atb_run_length(rgc_core *h, size_t b) {
    const struct rgc_area *a = area_of(h, b);
    if (a == NULL)
        return 0;
    return tail_run_end(a, b + 1u, area_end(a)) - b;
}
/* Claim [s, s+n) (inside one area) for the calling context: HEAD (as head_state) first, then the
 * TAILs one table byte at a time. On conflict everything claimed is released again and false is
 * returned. */
bool rgc_atb_claim_run(rgc_core *h, size_t s, size_t n, unsigned head_state);
/* Claim [from, to) as TAILs of an object that ends at from-1; all or nothing. */
bool rgc_atb_claim_tails(rgc_core *h, size_t from, size_t to);
/* Release the blocks [from, to) (TAILs of one object) last first, one table byte at a time. */
void rgc_atb_release_tails(rgc_core *h, size_t from, size_t to);
/* Release the object of n blocks at HEAD b: TAILs last first, then the HEAD. */
void rgc_atb_release_object(rgc_core *h, size_t b, size_t n);
void rgc_atb_release_object_in(rgc_core *h, const struct rgc_area *a, size_t b, size_t n);
/* CAS block b from state `from` to `to`; false if b was not in state `from`. */
RGC_HOT bool rgc_atb_transition_in(rgc_core *h, const struct rgc_area *a, size_t b, unsigned from, unsigned to) {
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
RGC_HOT bool rgc_atb_transition(rgc_core *h, size_t b, unsigned from, unsigned to) {
    const struct rgc_area *a = area_of(h, b);
    return a != NULL && rgc_atb_transition_in(h, a, b, from, to);
}
/* First-fit size classes: class k > 0 holds requests of 2^(k-1)+1 .. 2^k blocks (the last one every
 * larger size), and h->fit_from[k-1] is advisory: no run of fit_min(k) free blocks starts below it,
 * so a first-fit search for such a request may start there (class 0, one block, uses h->hint). */
#define RGC_FIT_CLASSES 7u
RGC_HOT unsigned fit_class(size_t nb) {
    if (nb <= 1u)
        return 0;
    unsigned k = (unsigned)(sizeof(unsigned long long) * 8u) - (unsigned)__builtin_clzll((unsigned long long)(nb - 1u));
    return k < RGC_FIT_CLASSES - 1u ? k : RGC_FIT_CLASSES - 1u; /* ceil(log2(nb)), at most the last */
}
RGC_HOT size_t fit_min(unsigned k) {
    return k == 0 ? 1u : ((size_t)1u << (k - 1u)) + 1u;
}

/* Blocks from b on were released: lower the advisory search hints to cover the runs that may now
 * start at or before b (a run of m free blocks that includes b starts at b - m + 1 or later). The
 * size classes' hints only when b lies below h->fit_ceiling: no class hint needs lowering at or above
 * it (advisory too: see rgc_hint_lower_classes), so a release above every class hint - the common
 * case, and every release while no multi-block search has run - costs one load. */
void rgc_hint_lower_classes(rgc_core *h, size_t b);
RGC_HOT void rgc_hint_lower(rgc_core *h, size_t b) {
    size_t cur = sz_load(&h->hint);
    while (b < cur && !sz_cas(h, &h->hint, &cur, b)) {
    }
    if (b < sz_load(&h->fit_ceiling))
        rgc_hint_lower_classes(h, b);
}

/* Free map (see the top of this file). */
RGC_HOT bool map_get(const struct rgc_area *a, size_t group) {
    return (atomic_load_explicit(&a->free_map[group >> 5], memory_order_relaxed) >> (group & 31u)) & 1u;
}
RGC_HOT void map_set(rgc_core *h, const struct rgc_area *a, size_t group) {
    if (!map_get(a, group)) /* already set: a search that clears it re-checks the group afterwards */
        (void)u32_or(h, &a->free_map[group >> 5], (uint32_t)1u << (group & 31u));
}
/* A search found group `group` full: clear its bit unless a block is free by the time it is clear. */
void rgc_map_clear_full(rgc_core *h, const struct rgc_area *a, size_t group);

#if RGC_FINALISERS
RGC_HOT bool ftb_get_in(const struct rgc_area *a, size_t b) {
    return (u8_load(&a->ftb[FTB_INDEX(b - a->first)]) & FTB_BIT(b)) != 0;
}
RGC_HOT bool ftb_get(rgc_core *h, size_t b) {
    const struct rgc_area *a = area_of(h, b);
    return a != NULL && ftb_get_in(a, b);
}
RGC_HOT void ftb_set(rgc_core *h, size_t b) {
    const struct rgc_area *a = area_of(h, b);
    (void)u8_or(h, &a->ftb[FTB_INDEX(b - a->first)], FTB_BIT(b));
}
RGC_HOT void ftb_clear_in(rgc_core *h, const struct rgc_area *a, size_t b) {
    _Atomic uint8_t *p = &a->ftb[FTB_INDEX(b - a->first)];
    if (u8_load(p) & FTB_BIT(b)) /* only the owner sets or clears its bit: no window when clear */
        (void)u8_and(h, p, (uint8_t)~FTB_BIT(b));
}
#else
RGC_HOT bool ftb_get_in(const struct rgc_area *a, size_t b) { (void)a; (void)b; return false; }
RGC_HOT bool ftb_get(rgc_core *h, size_t b) { (void)h; (void)b; return false; }
RGC_HOT void ftb_set(rgc_core *h, size_t b) { (void)h; (void)b; }
RGC_HOT void ftb_clear_in(rgc_core *h, const struct rgc_area *a, size_t b) { (void)h; (void)a; (void)b; }
#endif
RGC_HOT void ftb_clear(rgc_core *h, size_t b) {
    ftb_clear_in(h, area_of(h, b), b);
}

/* The free-block counter never undercounts: releases add before releasing, claims subtract after
 * claiming, so at every instant it is at least the number of FREE blocks (found by the preemption
 * sweep: adding after the release let an interrupt inside a sweep's release fail an allocation that
 * had a free run). A request for more blocks than it says fails without a search, always rightly; an
 * overcount only costs a search. The *_raw primitives leave it alone; the public ones keep it. */
RGC_HOT void atb_count_free(rgc_core *h, size_t claimed, size_t released) {
    (void)sz_add(h, &h->free_blocks, released - claimed); /* wraps correctly for claims */
}

/* Release the one block (a HEAD or the last block left of an object) b: free map and hints after. */
RGC_HOT void atb_release_head_raw_in(rgc_core *h, const struct rgc_area *a, size_t b) {
    RGC_POISON(block_addr_in(a, b), RGC_BS);
    (void)u8_and(h, atb_byte(a, b), (uint8_t)~ATB_BITS(3u, b));
    map_set(h, a, (b - a->first) >> 6);
    rgc_hint_lower(h, b);
}
RGC_HOT void atb_release_head_raw(rgc_core *h, size_t b) {
    atb_release_head_raw_in(h, area_of(h, b), b);
}

/* Claim the one-block object s (FREE -> head_state); false if s was not FREE. */
RGC_HOT bool rgc_atb_claim_block(rgc_core *h, size_t s, unsigned head_state) {
    if (!rgc_atb_transition(h, s, AT_FREE, head_state))
        return false;
    atb_count_free(h, 1u, 0);
    return true;
}

/* Release the one-block object at HEAD b. */
RGC_HOT void rgc_atb_release_block_in(rgc_core *h, const struct rgc_area *a, size_t b) {
    atb_count_free(h, 0, 1u);
    atb_release_head_raw_in(h, a, b);
}
RGC_HOT void rgc_atb_release_block(rgc_core *h, size_t b) {
    rgc_atb_release_block_in(h, area_of(h, b), b);
}

/* The heads' high-water mark (I13, docs/design.md): every HEAD and MARK block lies below h->heads_end,
 * so a sweep or a rescan stops there - a collection costs what the heap has used, not its size, like
 * py/gc.c's gc_last_used_block. Whoever makes block b a HEAD raises the mark to b + 1 first, after
 * publishing b (the collector's lowering, rgc_collect.c, relies on that order). A raise is a load and
 * a compare unless b is the highest head yet. */
RGC_HOT void heads_end_raise(rgc_core *h, size_t b) {
    size_t cur = sz_load(&h->heads_end);
    while (b >= cur && !sz_cas(h, &h->heads_end, &cur, b + 1u)) {
    }
}

/* Bytes of tables carved in front of an area's pool of n blocks (before alignment padding). */
RGC_HOT size_t area_table_bytes(size_t n) {
    size_t atb = (n + 3u) / 4u, ftb = RGC_FINALISERS ? (n + 7u) / 8u : 0u;
    size_t map_words = (n + 2047u) / 2048u;
    return ((atb + ftb + 3u) & ~(size_t)3u) + map_words * 4u;
}

#endif /* RGC_TABLE_H */
