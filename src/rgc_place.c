/* rgc_place.c - placement: where an allocation's search starts and how it reads the tables (no
 * masking; the claim in rgc_alloc.c re-validates every block it takes), and the advisory hints. */
#include "rgc_internal.h"

/* Search (no masking; the claim re-validates every block it takes).
 *
 * Where a search starts: 1-block requests from `hint`, the lowest free block (first fit: small objects
 * pack the holes, as in MicroPython); requests of 2 blocks up to next_fit_max
 * (1/1024 of the heap, and up to 32 blocks but at most 1/256 of the heap: rgc_config.h) from `rover`, where the last such allocation ended (next fit: on a large heap they do not walk past
 * the small holes at the bottom every time); larger ones first fit from `hint` - next fit splits the big free runs they
 * need (a growing table: alloc N/4, free it, alloc N/4, alloc 5N/8 fails with 3N/4 free; MicroPython's
 * stress/dict_copy.py on a 48 KiB heap), and their first-fit search reads at most nblocks/4 <= 256 * nb
 * table bytes, a bounded multiple of the 16-32 * nb bytes they zero. A heap below 512 blocks is first
 * fit throughout, exactly as MicroPython places objects. Both wrap once.
 * First-fit searches of 2 blocks or more start at their size class's hint (fit_class: 2, 3-4, 5-8,
 * 9-16, 17-32, 33+ blocks): no run of the class's least size starts below it. A search moves it to the
 * first such run it met; a release lowers it to the lowest block a run through the released blocks
 * could start at. Placement stays first fit; small heaps read about a third fewer table bytes (A2 at
 * 64 KiB; bench/results). The free map lets a search skip a full group of 64 blocks by reading one
 * bit, and 2048 blocks by one word; within a group it reads table bytes, four blocks each.
 *
 * Worst case: a request that fits nowhere reads every table byte of the non-full groups once.
 * Expected: next fit meets the free space ahead of the rover, so a steady mix of sizes reads a few
 * bytes per allocation (figures in bench/results). */

/* First run of nb free blocks of area a inside the global range [from, to), or RGC_NONE. *window
 * (when not RGC_NONE already) receives the start of the first run of `wmin` free blocks met. */
static size_t find_run_in_area(rgc_core *h, const struct rgc_area *a, size_t from, size_t to,
                               size_t nb, size_t wmin, size_t *window) {
    size_t lo = from > a->first ? from - a->first : 0; /* local indices from here on */
    size_t hi = to - a->first < a->nblocks ? to - a->first : a->nblocks;
    size_t run = 0, b = lo;
    size_t group_from = (lo & 63u) == 0 ? lo : RGC_NONE; /* a group we look at from its start */
    bool group_free = false;
    size_t reads = 0;
    while (b < hi) {
        if ((b & 63u) == 0) {
            if (group_from != RGC_NONE && group_from + 64u == b && !group_free)
                rgc_map_clear_full(h, a, group_from >> 6);
            uint32_t word = atomic_load_explicit(&a->free_map[b >> 11], memory_order_relaxed);
            reads += 4u;
            if ((word >> ((b >> 6) & 31u)) == 0) { /* no free block in this word's remaining groups */
                run = 0;
                b = ((b >> 11) + 1u) << 11;
                group_from = RGC_NONE;
                continue;
            }
            if (((word >> ((b >> 6) & 31u)) & 1u) == 0) { /* this group is full */
                run = 0;
                b += 64u;
                group_from = RGC_NONE;
                continue;
            }
            group_from = b;
            group_free = false;
        }
        uint8_t byte = u8_load(&a->atb[ATB_INDEX(b)]);
        reads++;
        if ((b & 3u) == 0 && b + 4u <= hi) {
            if (byte == 0) { /* four free blocks */
                group_free = true;
                if (run + 4u >= wmin) { /* wmin <= nb: the common path pays one compare */
                    if (*window == RGC_NONE)
                        *window = a->first + b - run;
                    if (run + 4u >= nb) {
                        SEARCH_STAT(h, search_bytes, reads);
                        return a->first + b - run;
                    }
                }
                run += 4u;
                b += 4u;
                continue;
            }
            if (((byte | (byte >> 1)) & 0x55u) == 0x55u) { /* no free block in this byte */
                run = 0;
                b += 4u;
                continue;
            }
        }
        if (ATB_GET(byte, b) == AT_FREE) {
            group_free = true;
            if (++run >= wmin && *window == RGC_NONE)
                *window = a->first + b + 1u - run;
            if (run == nb) {
                SEARCH_STAT(h, search_bytes, reads);
                return a->first + b + 1u - nb;
            }
        } else {
            run = 0;
        }
        b++;
    }
    SEARCH_STAT(h, search_bytes, reads);
    return RGC_NONE;
}

/* One-block requests (most of a runtime's: MicroPython's small objects and cells fit one block) take
 * a search of their own: no run to count, one table byte tells which of its four blocks is free.
 * First FREE block of area a inside the global range [from, to), or RGC_NONE. Reads one free-map word
 * per group entered and one table byte per four blocks (the same worst case as find_run_in_area). */
static size_t find_block_in_area(rgc_core *h, const struct rgc_area *a, size_t from, size_t to) {
    size_t b = from > a->first ? from - a->first : 0; /* local indices from here on */
    size_t hi = to - a->first < a->nblocks ? to - a->first : a->nblocks;
    size_t reads = 0;
    while (b < hi) {
        size_t group = b >> 6;
        uint32_t word = atomic_load_explicit(&a->free_map[group >> 5], memory_order_relaxed) >> (group & 31u);
        reads += 4u;
        if (word == 0) { /* no free block in this word's remaining groups */
            b = ((b >> 11) + 1u) << 11;
            continue;
        }
        if ((word & 1u) == 0) { /* this group is full */
            b = (group + 1u) << 6;
            continue;
        }
        bool whole_group = (b & 63u) == 0;
        size_t group_end = (group + 1u) << 6 < hi ? (group + 1u) << 6 : hi;
        /* Blocks of the first byte below b count as used. */
        unsigned below = ((1u << ((b & 3u) << 1)) - 1u) & 0x55u;
        for (b &= ~(size_t)3u; b < group_end; b += 4u, below = 0) {
#if ATB_WORDS /* from an aligned word of table bytes on: sixteen blocks a read */
            if ((b & 15u) == 0 && b + 16u <= group_end && below == 0) {
                uint32_t free_pairs = ATB_FREE_PAIRS(u32_load((_Atomic uint32_t *)(void *)&a->atb[ATB_INDEX(b)]));
                reads += 4u;
                if (free_pairs != 0) {
                    SEARCH_STAT(h, search_bytes, reads);
                    return a->first + b + ((unsigned)__builtin_ctz(free_pairs) >> 1);
                }
                b += 12u; /* and 4 more by the loop */
                continue;
            }
#endif
            unsigned byte = u8_load(&a->atb[ATB_INDEX(b)]);
            reads++;
            unsigned free_bits = ~(byte | (byte >> 1) | below) & 0x55u; /* bit 2i: block b+i is FREE */
            if (free_bits != 0) {
                size_t k = b + ((unsigned)__builtin_ctz(free_bits) >> 1);
                if (k < group_end) {
                    SEARCH_STAT(h, search_bytes, reads);
                    return a->first + k;
                }
            }
        }
        b = group_end;
        if (whole_group && group_end == ((group + 1u) << 6))
            rgc_map_clear_full(h, a, group);
    }
    SEARCH_STAT(h, search_bytes, reads);
    return RGC_NONE;
}

static size_t find_block(rgc_core *h, size_t from, size_t to) {
    const struct rgc_area *a = &h->areas[0];
    size_t s = from < area_end(a) ? find_block_in_area(h, a, from, to) : RGC_NONE;
    for (unsigned i = 1, n = heap_areas(h); s == RGC_NONE && i < n; i++) {
        a = &h->areas[i];
        if (area_end(a) > from && a->first < to)
            s = find_block_in_area(h, a, from, to);
    }
    return s;
}

/* A FREE block in [lo, hi): from start (the hint) up, then from lo around. */
size_t rgc_search_block(rgc_core *h, size_t lo, size_t hi, size_t start) {
    if (start < lo || start >= hi)
        start = lo;
    size_t s = find_block(h, start, hi);
    if (s == RGC_NONE && start > lo)
        s = find_block(h, lo, start);
    return s;
}

/* First run of nb free blocks inside the global range [from, to), areas in order (*window: as for
 * find_run_in_area). */
static size_t find_run(rgc_core *h, size_t from, size_t to, size_t nb, size_t wmin, size_t *window) {
    unsigned n = heap_areas(h);
    for (unsigned i = 0; i < n; i++) {
        const struct rgc_area *a = &h->areas[i];
        if (area_end(a) <= from || a->first >= to || a->nblocks < nb)
            continue;
        size_t s = find_run_in_area(h, a, from, to, nb, wmin, window);
        if (s != RGC_NONE)
            return s;
    }
    return RGC_NONE;
}

/* Run of nb free blocks in [lo, hi): from the size's start position to hi, then from lo around.
 * *window: the first run of wmin free blocks the pass from `start` met (RGC_NONE if none). */
size_t rgc_search_range(rgc_core *h, size_t lo, size_t hi, size_t nb, size_t start, size_t wmin,
                        size_t *window) {
    if (start < lo || start >= hi)
        start = lo;
    *window = RGC_NONE;
    size_t s = find_run(h, start, hi, nb, wmin, window);
    if (s == RGC_NONE && start > lo) {
        size_t wrap_to = start + nb - 1u < hi ? start + nb - 1u : hi, ignored = 0;
        s = find_run(h, lo, wrap_to, nb, nb, &ignored);
    }
    return s;
}

void rgc_hint_lower_classes(rgc_core *h, size_t b) {
    /* The class hints take plain stores (no read-modify-write on this path): a preemption between
     * the load and the store may lose a lowering, which costs first-fit exactness, never a block -
     * every search that fails from its hint wraps around from the bottom. The same holds for the
     * ceiling recomputed here from what this call saw. */
    size_t ceiling = 0;
    for (unsigned k = 1; k < RGC_FIT_CLASSES; k++) {
        size_t reach = fit_min(k) - 1u;
        size_t low = b >= reach ? b - reach : 0;
        size_t from = sz_load(&h->fit_from[k - 1u]);
        if (low < from) {
            sz_store(&h->fit_from[k - 1u], low);
            from = low;
        }
        if (from != 0 && from + reach > ceiling)
            ceiling = from + reach;
    }
    sz_store(&h->fit_ceiling, ceiling);
}
