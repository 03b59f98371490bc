/* rgc_diag.c - statistics, the invariant checker and the heap map. Read-only on the heap: safe at any
 * level and instant (exact when nothing above the caller mutates the heap). */
#include "rgc_internal.h"

__attribute__((weak)) uint32_t rgc_port_cycles(void) {
    return 0;
}

void rgc_get_counters(rgc_heap *heap, rgc_stats *out) {
    rgc_core *h = core_of(heap);
    if (out == NULL)
        return;
    __builtin_memset(out, 0, sizeof *out);
    if (!heap_ok(h))
        return;
    unsigned n = heap_areas(h);
    size_t nblocks = 0;
    for (unsigned i = 0; i < n; i++)
        nblocks += h->areas[i].nblocks;
    out->blocks = nblocks;
    out->areas = n;
    out->total_bytes = nblocks * RGC_BS;
    out->collections = u32_load(&h->collections);
    out->busy_collections = u32_load(&h->busy_collections);
    out->failed_allocs = u32_load(&h->failed_allocs);
    out->misuse = u32_load(&h->misuse);
    out->claim_retries = u32_load(&h->claim_retries);
    out->deferred_frees = u32_load(&h->deferred_frees);
    out->longest_masked = u32_load(&h->longest_masked);
    out->collect_steps = u32_load(&h->collect_steps);
    out->collected_objects = u32_load(&h->collected_objects);
    out->verify_reports = u32_load(&h->verify_reports);
    out->searches = h->searches;
    out->search_bytes = h->search_bytes;
}

void rgc_get_stats(rgc_heap *heap, rgc_stats *out) {
    rgc_core *h = core_of(heap);
    rgc_get_counters(heap, out);
    if (out == NULL || !heap_ok(h))
        return;
    size_t used = 0, objects = 0, longest = 0, ones = 0, twos = 0, largest = 0, nblocks = 0;
    unsigned n = heap_areas(h);
    for (unsigned i = 0; i < n; i++) {
        const struct rgc_area *a = &h->areas[i];
        size_t run = 0, obj = 0;
        nblocks += a->nblocks;
        for (size_t b = a->first; b < area_end(a); b++) {
            unsigned st = atb_state_in(a, b);
            if (st != AT_TAIL && obj != 0) { /* the object before b ends here */
                ones += obj == 1u;
                twos += obj == 2u;
                largest = obj > largest ? obj : largest;
                obj = 0;
            }
            if (st == AT_FREE) {
                if (++run > longest)
                    longest = run;
                continue;
            }
            run = 0;
            used++;
            if (st != AT_TAIL) {
                objects++;
                obj = 1;
            } else if (obj != 0) {
                obj++;
            }
        }
        ones += obj == 1u;
        twos += obj == 2u;
        largest = obj > largest ? obj : largest;
    }
    out->blocks = nblocks; /* the areas this walk saw (one may have been added since the counters) */
    out->areas = n;
    out->total_bytes = nblocks * RGC_BS;
    out->used_bytes = used * RGC_BS;
    out->free_bytes = out->total_bytes - out->used_bytes;
    out->largest_free_bytes = longest * RGC_BS;
    out->objects = objects;
    out->one_block_objects = ones;
    out->two_block_objects = twos;
    out->largest_object_bytes = largest * RGC_BS;
}

static bool area_ok(const rgc_core *h, unsigned i) {
    const struct rgc_area *a = &h->areas[i];
    if (a->atb == NULL || a->pool == NULL || a->nblocks == 0 || a->free_map == NULL ||
        (a->first & 63u) != 0 || (RGC_FINALISERS && a->ftb == NULL))
        return false;
    return i == 0 ? a->first == 0 : a->first >= area_end(&h->areas[i - 1u]);
}

/* Nothing is in the middle of an rgc call anywhere: the free map is exact then. */
static bool all_quiet(rgc_core *h) {
    for (unsigned level = 0; level < RGC_MAX_LEVELS; level++)
        if (atomic_load_explicit(&h->depth[level], memory_order_relaxed) != 0)
            return false;
    return uns_load(&h->collector) == 0;
}

static int check_area(rgc_core *h, const struct rgc_area *a, unsigned phase, size_t sweep_done,
                      bool quiet, size_t *heads_seen, size_t *free_blocks) {
    /* I1: well-formed runs. I5: no MARK outside marking except not yet swept. I12: FTB bits. I6 below.
     * I13: *heads_seen receives the end of the highest HEAD or MARK block (checked by the caller). */
    unsigned prev = AT_FREE;
    bool group_has_free = false;
    for (size_t b = a->first; b < area_end(a); b++) {
        unsigned st = atb_state_in(a, b);
        if (st == AT_TAIL && prev == AT_FREE)
            return RGC_ECORRUPT;
        if (st == AT_MARK && (phase == PHASE_IDLE || (phase == PHASE_SWEEP && b < sweep_done)))
            return RGC_ECORRUPT;
        if (ftb_get(h, b) && st != AT_HEAD && st != AT_MARK)
            return RGC_ECORRUPT; /* finaliser bit on a block that starts no object */
        if ((st == AT_HEAD || st == AT_MARK) && b >= *heads_seen)
            *heads_seen = b + 1u;
        group_has_free |= st == AT_FREE;
        *free_blocks += st == AT_FREE;
        if ((b + 1u - a->first) % 64u == 0 || b + 1u == area_end(a)) {
            /* Free map: a group with a free block has its bit set. */
            if (quiet && group_has_free && !map_get(a, (b - a->first) >> 6))
                return RGC_ECORRUPT;
            group_has_free = false;
        }
        prev = st;
    }
    /* Table bits past the last block stay FREE / clear. */
    for (size_t k = a->nblocks; k < ((a->nblocks + 3u) & ~(size_t)3u); k++)
        if (ATB_GET(u8_load(&a->atb[ATB_INDEX(k)]), k) != AT_FREE)
            return RGC_ECORRUPT;
#if RGC_FINALISERS
    for (size_t k = a->nblocks; k < ((a->nblocks + 7u) & ~(size_t)7u); k++)
        if (u8_load(&a->ftb[FTB_INDEX(k)]) & FTB_BIT(k))
            return RGC_ECORRUPT;
#endif
    return RGC_OK;
}

/* The handle's invariants, without the tables: constant time, and true at every instant (each value
 * is read before the one it is compared with can have moved past it), so RGC_DEBUG builds check them
 * at the start and the end of every public function (RGC_CHECK_ENTRY_AND_RETURN). */
bool rgc_core_sane(rgc_core *h) {
    if (h == NULL || h->magic != RGC_MAGIC)
        return false;
    unsigned n = heap_areas(h);
    if (n == 0 || n > RGC_MAX_AREAS)
        return false;
    unsigned state = uns_load(&h->state);
    if ((state & PHASE_BITS) > PHASE_SWEEP || (state & ~(unsigned)(PHASE_BITS | STATE_RESCAN)) != 0)
        return false;
    if (uns_load(&h->collector) > RGC_MAX_LEVELS || uns_load(&h->roots_owner) > RGC_MAX_LEVELS ||
        uns_load(&h->root_count) > RGC_MAX_ROOTS)
        return false;
    /* free_blocks <= nblocks (I4: releases add before releasing what was counted in nblocks; an area
     * adds its blocks to nblocks first); heads_end <= end (I13: raised to the end of a claimed block) */
    size_t free_blocks = sz_load(&h->free_blocks), heads_end = sz_load(&h->heads_end);
    if (free_blocks > sz_load(&h->nblocks) || heads_end > sz_load(&h->end))
        return false;
    size_t end = sz_load(&h->end);
    for (unsigned level = 0; level < RGC_MAX_LEVELS; level++) {
        if (atomic_load_explicit(&h->depth[level], memory_order_relaxed) > RGC_MAX_NEST)
            return false;
        size_t lim = sz_load(&h->limit[level]);
        if (lim > end || (level > 0 && lim < sz_load(&h->limit[level - 1u])))
            return false;
    }
    for (unsigned i = 0; i < RGC_MAX_ROOTS; i++) {
        void *start = atomic_load_explicit(&h->roots[i].start, memory_order_relaxed);
        if (((uintptr_t)start & (sizeof(void *) - 1u)) != 0)
            return false;
    }
    return true;
}

int rgc_check(rgc_heap *heap) {
    rgc_core *h = core_of(heap);
    if (!rgc_core_sane(h))
        return RGC_ECORRUPT;
    unsigned n = heap_areas(h);
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!area_ok(h, i))
            return RGC_ECORRUPT;
        total += h->areas[i].nblocks;
    }
    /* Totals lag the area count while rgc_add_area publishes (found by the fuzzer). */
    if (uns_load(&h->config_busy) == 0 &&
        (total != sz_load(&h->nblocks) || sz_load(&h->end) != area_end(&h->areas[n - 1u])))
        return RGC_ECORRUPT;
    unsigned phase = uns_load(&h->state) & PHASE_BITS;
    size_t sweep_done = sz_load(&h->sweep_done);
    bool quiet = all_quiet(h);
    size_t free_blocks = 0;
    /* I13: every HEAD and MARK lies below heads_end, except while a collector lowers it (see
     * heads_end_lower). A claim raises it before claiming, a lowering keeps what exists: read before
     * and after the table, the larger value covers every head the table showed. (A collection
     * run from start to end inside this check, between the reads, that freed such a head and lowered
     * the mark could make this a false report: it takes a preemption of rgc_check itself.) */
    bool no_collector = uns_load(&h->collector) == 0;
    size_t heads_end_before = sz_load(&h->heads_end), heads_seen = 0;
    for (unsigned i = 0; i < n; i++)
        if (check_area(h, &h->areas[i], phase, sweep_done, quiet, &heads_seen, &free_blocks) != RGC_OK)
            return RGC_ECORRUPT;
    size_t heads_end_after = sz_load(&h->heads_end);
    if (no_collector && uns_load(&h->collector) == 0 &&
        heads_seen > (heads_end_before > heads_end_after ? heads_end_before : heads_end_after))
        return RGC_ECORRUPT;
    /* The free-block count is exact when nothing is in progress (and never below the truth). */
    if (quiet && sz_load(&h->free_blocks) != free_blocks)
        return RGC_ECORRUPT;
    return RGC_OK;
}

static char *put_hex(char *out, size_t v, unsigned digits) {
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = digits; i-- > 0;)
        *out++ = hex[(v >> (4u * i)) & 15u];
    return out;
}

void *rgc_area_pool(rgc_heap *heap, unsigned area) {
    rgc_core *h = core_of(heap);
    if (!heap_ok(h) || area >= heap_areas(h))
        return NULL;
    return h->areas[area].pool;
}

void rgc_dump(rgc_heap *heap, void (*print)(void *ctx, const char *s), void *ctx) {
    rgc_core *h = core_of(heap);
    if (print == NULL)
        return;
    if (!heap_ok(h)) {
        print(ctx, "rgc: not an initialised heap\n");
        return;
    }
    char line[8 + 2 + 64 + 2];
    unsigned n = heap_areas(h);
    for (unsigned i = 0; i < n; i++) {
        const struct rgc_area *a = &h->areas[i];
        if (i > 0)
            print(ctx, "--\n"); /* the next area; offsets restart at its pool */
        for (size_t b = a->first; b < area_end(a); b += 64u) {
            char *p = put_hex(line, (b - a->first) * RGC_BS, 8);
            *p++ = ':';
            *p++ = ' ';
            for (size_t j = b; j < b + 64u && j < area_end(a); j++) {
                unsigned st = atb_state_in(a, j);
                bool fin = ftb_get(h, j);
                *p++ = st == AT_FREE   ? '.'
                       : st == AT_TAIL ? '='
                       : st == AT_HEAD ? (fin ? 'f' : 'h')
                                       : (fin ? 'M' : 'm');
            }
            *p++ = '\n';
            *p = '\0';
            print(ctx, line);
        }
    }
}
