/* rgc_alloc.c - allocation, free and resize.
 *
 * Search without masking, claim with one atomic step per table byte, retry on conflict (the only
 * conflicts are preemptions that took the same blocks first, so every retry follows real progress of
 * another context; nothing here ever waits for a suspended one).
 *
 * Colour of a new object (docs/design.md section 5, I3): born MARK (black) while a collection is
 * marking, and while it sweeps when the HEAD lies at or after the sweep position; otherwise born HEAD
 * (white). The decision is race-free on one core: a collection below us cannot move while we run, and
 * one above us runs from start to end between two of our instructions, leaving the phase as it found
 * it (IDLE).
 */
#include "rgc_internal.h"

static unsigned born_state(rgc_heap *h, size_t s) {
    unsigned phase = phase_of(h);
    if (phase == PHASE_MARK)
        return AT_MARK;
    if (phase == PHASE_SWEEP && s >= sz_load(&h->sweep_pos))
        return AT_MARK;
    return AT_HEAD;
}

/* Search (no masking; the claim re-validates every block it takes).
 *
 * Where a search starts: 1-block requests from `hint`, the lowest free block (first fit: small objects
 * pack the holes, as in MicroPython); requests of 2 blocks up to 1/1024 of the heap (RGC_NEXT_FIT_SHIFT)
 * from `rover`, where the last such allocation ended (next fit: on a large heap they do not walk past
 * the small holes at the bottom every time); larger ones first fit from `hint` - next fit splits the big free runs they
 * need (a growing table: alloc N/4, free it, alloc N/4, alloc 5N/8 fails with 3N/4 free; MicroPython's
 * stress/dict_copy.py on a 48 KiB heap), and their first-fit search reads at most nblocks/4 <= 256 * nb
 * table bytes, a bounded multiple of the 16-32 * nb bytes they zero. A heap below 2048 blocks is first
 * fit throughout, exactly as MicroPython places objects. Both wrap once.
 * First-fit searches of 2 blocks or more start at their size class's hint (fit_class: 2, 3-4, 5-8,
 * 9-16, 17-32, 33+ blocks): no run of the class's least size starts below it. A search moves it to the
 * first such run it met; a release lowers it to the lowest block a run through the released blocks
 * could start at. Placement stays first fit; small heaps read 30-35% fewer table bytes (A2: 219 -> 155
 * per allocation at 64 KiB). The free map lets a search skip a full group of 64 blocks by reading one
 * bit, and 2048 blocks by one word; within a group it reads table bytes, four blocks each.
 *
 * Worst case: a request that fits nowhere reads every table byte of the non-full groups once.
 * Expected: next fit meets the free space ahead of the rover, so a steady mix of sizes reads a few
 * bytes per allocation (figures in bench/results). */

/* First run of nb free blocks of area a inside the global range [from, to), or RGC_NONE. *window
 * (when not RGC_NONE already) receives the start of the first run of `wmin` free blocks met. */
static size_t find_run_in_area(rgc_heap *h, const struct rgc_area *a, size_t from, size_t to,
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

/* First run of nb free blocks inside the global range [from, to), areas in order (*window: as for
 * find_run_in_area). */
static size_t find_run(rgc_heap *h, size_t from, size_t to, size_t nb, size_t wmin, size_t *window) {
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
static size_t search_range(rgc_heap *h, size_t lo, size_t hi, size_t nb, size_t start, size_t wmin,
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

/* Find and claim nb blocks for context c; returns the HEAD block or RGC_NONE. */
static size_t claim_somewhere(rgc_heap *h, const rgc_ctx *c, size_t nb) {
    size_t shared = level_limit(h, 0), mine = level_limit(h, c->level);
    for (;;) {
        /* Not enough free blocks anywhere: fail without a search (a full heap costs a handler that
         * keeps asking one load, not a scan). The count never undercounts (rgc_table.c). */
        if (sz_load(&h->free_blocks) < nb)
            return RGC_NONE;
        SEARCH_STAT(h, searches, 1u);
        size_t hint = sz_load(&h->hint);
        size_t start = hint, window = RGC_NONE, wmin = nb;
        unsigned k = 0;
        bool next_fit = nb > 1u && nb <= (sz_load(&h->nblocks) >> RGC_NEXT_FIT_SHIFT);
        if (next_fit) {
            size_t rover = sz_load(&h->rover);
            start = rover > hint ? rover : hint; /* nothing is free below the hint */
        } else if (nb > 1u) {
            k = fit_class(nb);
            wmin = fit_min(k);
            size_t from = sz_load(&h->fit_from[k - 1u]);
            start = from > hint ? from : hint; /* no run of the class's size starts below */
        }
        size_t s = search_range(h, 0, shared, nb, start, wmin, &window);
        /* First fit from the class hint: the first run of the class's least size met is where the
         * next search of this class may start (advisory, a plain store like the hint's). */
        if (!next_fit && k > 0 && window != RGC_NONE && window < shared)
            sz_store(&h->fit_from[k - 1u], window);
        if (s == RGC_NONE && mine > shared) /* this level's reserve (and those of levels below it) */
            s = search_range(h, shared, mine, nb, shared, nb, &window);
        if (s == RGC_NONE)
            return RGC_NONE;
        /* Publish before the first claim step: from here on a collection anywhere above us keeps the
         * object alive although we hold only its index. */
        ctx_publish(h, c, s, SLOT_CLAIM);
        if (rgc_atb_claim_run(h, s, nb, born_state(h, s))) {
            if (nb == 1u) {
                /* Advisory, a plain store (no window on masked cores): a release that lowered the
                 * hint since we read it is overwritten, and its block is found by the wrap pass. */
                if (s >= hint && s < shared)
                    sz_store(&h->hint, s + 1u);
            } else if (next_fit) {
                sz_store(&h->rover, s + nb);
            }
            return s;
        }
        stat_inc(h, &h->claim_retries);
    }
}

/* Count an allocation of nb blocks against the threshold; true when a collection is due. Every level's
 * allocations count; only levels whose policy collects act on it. */
static bool threshold_due(rgc_heap *h, size_t nb) {
    size_t threshold = sz_load(&h->threshold);
    if (threshold == 0)
        return false;
    return sz_add(h, &h->allocated, nb * RGC_BS) + nb * RGC_BS >= threshold;
}

/* Before an allocation at a level whose policy collects: pacing and the threshold. */
static void collect_before_alloc(rgc_heap *h, const rgc_ctx *c, size_t nb, bool due) {
    unsigned pacing = uns_load(&h->pacing);
    if (pacing != 0) {
        /* A step executing below us: just allocate (never wait; not a refused request either). */
        if ((due || phase_of(h) != PHASE_IDLE) && uns_load(&h->collector) == 0)
            (void)rgc_collect_step_in(h, c, nb * pacing, false);
    } else if (due) {
        (void)rgc_collect_run(h, c, COLLECT_FULL);
    }
}

void *rgc_alloc_blocks(rgc_heap *h, size_t nb, unsigned flags) {
    rgc_ctx c;
    if (!rgc_ctx_enter(h, &c))
        return NULL;
    void *result = NULL;
    unsigned policy = atomic_load_explicit(&h->policy[c.level], memory_order_relaxed);
    if (policy & RGC_NO_ALLOC) {
        stat_inc(h, &h->misuse);
        ctx_leave(h, &c);
        return NULL;
    }
    bool due = threshold_due(h, nb);
    if ((policy & RGC_AUTO_COLLECT) && uns_load(&h->lock_depth) == 0)
        collect_before_alloc(h, &c, nb, due);
    bool collected = false;
    while (uns_load(&h->lock_depth) == 0) {
        size_t s = claim_somewhere(h, &c, nb);
        if (s != RGC_NONE) {
            /* ours alone: published, so neither a stray free nor a collection above takes it */
            RGC_ASSERT(atb_state(h, s) == AT_HEAD || atb_state(h, s) == AT_MARK);
            result = block_addr(h, s);
            RGC_UNPOISON(result, nb * RGC_BS);
            __builtin_memset(result, 0, nb * RGC_BS);
            if (flags & RGC_FINALISER)
                ftb_set(h, s);
            break;
        }
        /* Never wait for a collection we preempted: rgc_collect_run returns RGC_BUSY at once. */
        if (collected || !(policy & RGC_AUTO_COLLECT) ||
            rgc_collect_run(h, &c, COLLECT_FOR_ALLOC) != RGC_OK)
            break;
        collected = true;
    }
    if (result == NULL)
        stat_inc(h, &h->failed_allocs);
    ctx_leave(h, &c);
    return result;
}

void *rgc_alloc(rgc_heap *h, size_t n, unsigned flags) {
    if (!heap_ok(h))
        return NULL;
    if (n == 0 || n > sz_load(&h->nblocks) * RGC_BS || (flags & ~(unsigned)RGC_FINALISER) != 0) {
        rgc_count_misuse(h);
        return NULL;
    }
    return rgc_alloc_blocks(h, (n + RGC_BS - 1u) / RGC_BS, flags);
}

void rgc_free_object(rgc_heap *h, size_t b) {
    ftb_clear(h, b); /* an explicit free never runs the finaliser, now or deferred */
    if (phase_of(h) == PHASE_MARK) {
        /* Freeing deletes every slot of the object at once: its children must still be traced, so
         * shade it (the barrier's rule) and leave the release to the next collection. */
        if (rgc_atb_transition(h, b, AT_HEAD, AT_MARK))
            (void)uns_or(h, &h->state, STATE_RESCAN);
        stat_inc(h, &h->deferred_frees);
        return;
    }
    rgc_atb_release_object(h, b, rgc_atb_run_length(h, b));
}

static bool is_object(unsigned state) {
    return state == AT_HEAD || state == AT_MARK;
}

void rgc_free(rgc_heap *h, void *p) {
    /* Until the block is published below, the caller's pointer may be the object's only reference, and
     * the compiler is free to keep just the block index: pin the pointer in this frame, where a
     * collection from an interrupt scans it (found on Cortex-M: the object was freed under us). */
    void *volatile pin = p;
    (void)pin;
    if (p == NULL || !heap_ok(h))
        return;
    size_t b = block_of_start(h, p);
    if (b == RGC_NONE) {
        rgc_count_misuse(h);
        return;
    }
    rgc_ctx c;
    if (!rgc_ctx_enter(h, &c))
        return;
    ctx_publish(h, &c, b, SLOT_OP); /* first publish, then look: see rgc_ctx_object_busy */
    if (!is_object(atb_state(h, b))) {
        stat_inc(h, &h->misuse); /* double or interior free */
    } else if (rgc_ctx_object_busy(h, &c, b)) {
        ftb_clear(h, b); /* left to the collector, but freed explicitly: no finaliser */
        stat_inc(h, &h->deferred_frees);
    } else {
        rgc_free_object(h, b);
        ctx_unpublish(h, &c);
    }
    ctx_leave(h, &c);
}

static void *realloc_object(rgc_heap *h, const rgc_ctx *c, size_t b, size_t nb, bool allow_move) {
    if (atomic_load_explicit(&h->policy[c->level], memory_order_relaxed) & RGC_NO_ALLOC) {
        stat_inc(h, &h->misuse);
        return NULL;
    }
    ctx_publish(h, c, b, SLOT_OP);
    if (!is_object(atb_state(h, b))) {
        stat_inc(h, &h->misuse);
        return NULL;
    }
    /* Ambiguous ownership (see rgc_ctx_object_busy): never release or extend b; a move copies it and
     * leaves the old copy to the collector. */
    bool busy = rgc_ctx_object_busy(h, c, b);
    void *p = block_addr(h, b);
    size_t cur = rgc_atb_run_length(h, b);
    if (nb <= cur) {
        /* While marking, the collector may be tracing the words we would release: keep them. */
        if (nb < cur && !busy && phase_of(h) != PHASE_MARK) {
            rgc_atb_release_tails(h, b + nb, b + cur);
            rgc_hint_lower(h, b + nb);
        }
        return p;
    }
    if (uns_load(&h->lock_depth) != 0) {
        stat_inc(h, &h->failed_allocs);
        return NULL;
    }
    /* In place only inside the area and below this level's limit (reserves of higher levels). */
    const struct rgc_area *a = area_of(h, b);
    if (!busy && b + nb <= area_end(a) && b + nb <= level_limit(h, c->level) &&
        rgc_atb_claim_tails(h, b + cur, b + nb)) {
        RGC_UNPOISON(block_addr(h, b + cur), (nb - cur) * RGC_BS);
        __builtin_memset(block_addr(h, b + cur), 0, (nb - cur) * RGC_BS);
        return p;
    }
    if (!allow_move)
        return NULL;
    void *q = rgc_alloc_blocks(h, nb, ftb_get(h, b) ? RGC_FINALISER : 0u);
    if (q == NULL)
        return NULL;
    __builtin_memcpy(q, p, cur * RGC_BS);
    if (busy) {
        ftb_clear(h, b); /* the finaliser moved with the contents */
        stat_inc(h, &h->deferred_frees);
    } else {
        rgc_free_object(h, b);
        ctx_unpublish(h, c);
    }
    return q;
}

void *rgc_realloc(rgc_heap *h, void *p, size_t n, bool allow_move) {
    void *volatile pin = p; /* see rgc_free */
    (void)pin;
    if (!heap_ok(h))
        return NULL;
    if (p == NULL)
        return rgc_alloc(h, n, 0);
    if (n == 0) {
        rgc_free(h, p);
        return NULL;
    }
    size_t b = block_of_start(h, p);
    if (b == RGC_NONE || n > sz_load(&h->nblocks) * RGC_BS) {
        rgc_count_misuse(h);
        return NULL;
    }
    rgc_ctx c;
    if (!rgc_ctx_enter(h, &c))
        return NULL;
    void *result = realloc_object(h, &c, b, (n + RGC_BS - 1u) / RGC_BS, allow_move);
    ctx_leave(h, &c);
    return result;
}

size_t rgc_size(rgc_heap *h, const void *p) {
    if (p == NULL || !heap_ok(h))
        return 0;
    size_t b = block_of_start(h, p);
    if (b == RGC_NONE || !is_object(atb_state(h, b)))
        return 0;
    return rgc_atb_run_length(h, b) * RGC_BS;
}

static void *exchange_slot(rgc_heap *h, void **slot, void *value) {
    _Atomic(void *) *aslot = (_Atomic(void *) *)slot;
#if RGC_SINGLE_CONTEXT
    (void)h;
    void *old = atomic_load_explicit(aslot, memory_order_relaxed);
    atomic_store_explicit(aslot, value, memory_order_relaxed);
    return old;
#elif RGC_ATOMICS_VIA_MASK
    rgc_window w = rgc_window_open();
    void *old = atomic_load_explicit(aslot, memory_order_relaxed);
    atomic_store_explicit(aslot, value, memory_order_relaxed);
    rgc_window_close(h, w);
    return old;
#elif RGC_X86_UP
    (void)h;
    void *old = atomic_load_explicit(aslot, memory_order_relaxed);
    int ok;
    do
        RGC_UNLOCKED_CAS(void *, aslot, &old, value, ok);
    while (!ok);
    return old;
#else
    (void)h;
    return atomic_exchange(aslot, value);
#endif
}

void *rgc_swap(rgc_heap *h, void **slot, void *value) {
    if (slot == NULL || ((uintptr_t)slot & (sizeof(void *) - 1u)) != 0) {
        if (heap_ok(h))
            rgc_count_misuse(h);
        return NULL;
    }
    rgc_ctx c;
    if (!heap_ok(h) || !rgc_ctx_enter_busy(h, &c)) { /* no heap to shade for: just the store */
        void *old = *slot;
        *slot = value;
        return old;
    }
    /* Inside a context (rgc_busy_depth > 0): an abort must not unwind between the exchange and the
     * shade, or out of a masked window. */
    void *old = exchange_slot(h, slot, value);
    /* Yuasa: the overwritten reference was part of the snapshot; it must survive this collection. */
    if (phase_of(h) == PHASE_MARK)
        rgc_shade_ref(h, old);
    ctx_leave(h, &c);
    return old;
}

void rgc_write(rgc_heap *h, void **slot, void *value) {
    (void)rgc_swap(h, slot, value);
}

/* The slow half of the inline barrier (rgc.h): inside a context, so that no collection advances
 * between the phase check and the shade (see ctx_below_busy). */
void rgc_shade(rgc_heap *h, const void *p) {
    rgc_ctx c;
    if (p == NULL || !heap_ok(h) || !rgc_ctx_enter_busy(h, &c))
        return;
    if (phase_of(h) == PHASE_MARK)
        rgc_shade_ref(h, p);
    ctx_leave(h, &c);
}

void rgc_shade_range(rgc_heap *h, void *const *words, size_t nwords) {
    if (words == NULL || ((uintptr_t)words & (sizeof(void *) - 1u)) != 0) {
        if (heap_ok(h) && nwords != 0)
            rgc_count_misuse(h);
        return;
    }
    rgc_ctx c;
    if (!heap_ok(h) || !rgc_ctx_enter_busy(h, &c))
        return;
    if (phase_of(h) == PHASE_MARK)
        rgc_shade_words(h, words, nwords);
    ctx_leave(h, &c);
}
