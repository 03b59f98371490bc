/* rgc_alloc.c - allocation, free and resize.
 *
 * Search (rgc_place.c) without masking, claim with one atomic step per table byte, retry on conflict (the only
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

/* Called after publishing s and raising heads_end (I13), before the claim. While sweeping it also
 * reports s to h->claim_high, which the sweep's end uses to lower heads_end safely (rgc_collect.c,
 * heads_end_lower). */
static unsigned born_state_collecting(rgc_core *h, size_t s, unsigned phase);
RGC_HOT unsigned born_state(rgc_core *h, size_t s) {
    unsigned phase = phase_of(h);
    return phase == PHASE_IDLE ? AT_HEAD : born_state_collecting(h, s, phase);
}
static unsigned born_state_collecting(rgc_core *h, size_t s, unsigned phase) {
    if (phase == PHASE_MARK)
        return AT_MARK;
    if (phase == PHASE_SWEEP) {
        (void)u32_add(h, &h->sweep_claims, 1u); /* see sweep_run */
        size_t cur = sz_load(&h->claim_high);
        while (s >= cur && !sz_cas(h, &h->claim_high, &cur, s + 1u)) {
        }
        if (s >= sz_load(&h->sweep_pos))
            return AT_MARK;
    }
    return AT_HEAD;
}

/* Find and claim one block for context c; returns it or RGC_NONE. */
static size_t claim_one_somewhere(rgc_core *h, const rgc_ctx *c) {
    for (;;) {
        if (sz_load(&h->free_blocks) == 0)
            return RGC_NONE;
        SEARCH_STAT(h, searches, 1u);
        size_t shared = level_limit(h, 0);
        size_t hint = sz_load(&h->hint);
        /* The hint names the lowest free block; most of the time it still is free: one byte decides. */
        const struct rgc_area *a0 = &h->areas[0]; /* a0->first == 0 */
        size_t s = hint < a0->nblocks && hint < shared && atb_state_in(a0, hint) == AT_FREE
                       ? hint
                       : rgc_search_block(h, 0, shared, hint);
        if (s == RGC_NONE) {
            size_t mine = level_limit(h, c->level);
            if (mine > shared)
                s = rgc_search_block(h, shared, mine, shared);
            if (s == RGC_NONE)
                return RGC_NONE;
        }
        ctx_publish(h, c, s, SLOT_CLAIM); /* see claim_somewhere */
        heads_end_raise(h, s);
        if (rgc_atb_claim_block(h, s, born_state(h, s))) {
            if (s >= hint && s < shared) /* advisory: see claim_somewhere */
                sz_store(&h->hint, s + 1u);
            return s;
        }
        stat_inc(h, &h->claim_retries);
    }
}

/* Find and claim nb blocks for context c; returns the HEAD block or RGC_NONE. */
static size_t claim_somewhere(rgc_core *h, const rgc_ctx *c, size_t nb) {
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
        bool next_fit = nb > 1u && nb <= next_fit_max(sz_load(&h->nblocks));
        if (next_fit) {
            size_t rover = sz_load(&h->rover);
            start = rover > hint ? rover : hint; /* nothing is free below the hint */
        } else if (nb > 1u) {
            k = fit_class(nb);
            wmin = fit_min(k);
            size_t from = sz_load(&h->fit_from[k - 1u]);
            start = from > hint ? from : hint; /* no run of the class's size starts below */
        }
        size_t s = rgc_search_range(h, 0, shared, nb, start, wmin, &window);
        /* First fit from the class hint: the first run of the class's least size met is where the
         * next search of this class may start (advisory, a plain store like the hint's). */
        if (!next_fit && k > 0 && window != RGC_NONE && window < shared) {
            size_t reach = window + fit_min(k) - 1u; /* releases below it may lower this hint */
            if (reach > sz_load(&h->fit_ceiling))
                sz_store(&h->fit_ceiling, reach);
            sz_store(&h->fit_from[k - 1u], window);
        }
        if (s == RGC_NONE && mine > shared) /* this level's reserve (and those of levels below it) */
            s = rgc_search_range(h, shared, mine, nb, shared, nb, &window);
        if (s == RGC_NONE)
            return RGC_NONE;
        /* Publish before the first claim step: from here on a collection anywhere above us keeps the
         * object alive although we hold only its index. */
        ctx_publish(h, c, s, SLOT_CLAIM);
        heads_end_raise(h, s);
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
static bool threshold_due(rgc_core *h, size_t nb) {
    size_t threshold = sz_load(&h->threshold);
    if (threshold == 0)
        return false;
    return sz_add(h, &h->allocated, nb * RGC_BS) + nb * RGC_BS >= threshold;
}

/* Before an allocation at a level whose policy collects: pacing and the threshold. */
static void collect_before_alloc(rgc_core *h, const rgc_ctx *c, size_t nb, bool due) {
    unsigned pacing = uns_load(&h->pacing);
    if (pacing != 0) {
        /* A step executing below us: just allocate (never wait; not a refused request either). */
        if ((due || phase_of(h) != PHASE_IDLE) && uns_load(&h->collector) == 0)
            (void)rgc_collect_step_in(h, c, nb * pacing, false);
    } else if (due) {
        (void)rgc_collect_run(h, c, COLLECT_FULL);
    }
}

void *rgc_alloc_blocks(rgc_core *h, size_t nb, unsigned flags) {
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
        size_t s = nb == 1u ? claim_one_somewhere(h, &c) : claim_somewhere(h, &c, nb);
        if (s != RGC_NONE) {
            /* ours alone: published, so neither a stray free nor a collection above takes it */
            RGC_ASSERT(atb_state(h, s) == AT_HEAD || atb_state(h, s) == AT_MARK);
            result = block_addr(h, s);
            RGC_UNPOISON(result, nb * RGC_BS);
            if (nb == 1u) /* a constant size: a few stores instead of a call */
                zero_blocks(result, 1u);
            else
                zero_blocks(result, nb);
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

/* ---- the one-block fast paths ----------------------------------------------------------------
 * Most requests of a runtime are one block, and most of those find the hint's block free; most frees
 * are of one-block objects by a call with nothing below it. These paths do exactly the general
 * path's steps for that case (the same context entry, slot protocol and one atomic step per table
 * byte), with every check that would lead elsewhere done first and answered "not here": they then
 * return having changed nothing, and the general path takes the request. */

/* Level and depth of a new call without counting misuse (the general path will). */
RGC_HOT bool fast_reserve(rgc_core *h, rgc_ctx *c) {
#if RGC_SINGLE_CONTEXT
    c->level = 0;
#else
    c->level = rgc_port_level();
    if (c->level >= RGC_MAX_LEVELS)
        return false;
#endif
    c->depth = u8_load(&h->depth[c->level]);
    return c->depth < RGC_MAX_NEST;
}

/* The allocation fast paths' context: fast_reserve, and none of what the general path must handle -
 * a level that may not allocate, the heap locked, a threshold or pacing (they count every allocation
 * and may collect). */
RGC_HOT bool fast_alloc_reserve(rgc_core *h, rgc_ctx *c) {
    return fast_reserve(h, c) &&
           !(atomic_load_explicit(&h->policy[c->level], memory_order_relaxed) & RGC_NO_ALLOC) &&
           uns_load(&h->lock_depth) == 0 && sz_load(&h->threshold) == 0 && uns_load(&h->pacing) == 0;
}

/* The fast paths' end, once blocks [s, s + nb) of area 0 are claimed: count them, zero them, the
 * finaliser flag, leave the context. */
RGC_HOT void *fast_alloc_finish(rgc_core *h, const rgc_ctx *c, size_t s, size_t nb, unsigned flags) {
    atb_count_free(h, nb, 0);
    void *result = block_addr_in(&h->areas[0], s);
    RGC_UNPOISON(result, nb * RGC_BS);
    zero_blocks(result, nb);
    if (flags & RGC_FINALISER)
        ftb_set(h, s);
    ctx_leave(h, c);
    return result;
}

static void *alloc_block_fast(rgc_core *h, unsigned flags) {
    rgc_ctx c;
    if (!fast_alloc_reserve(h, &c))
        return NULL;
    size_t s = sz_load(&h->hint);
    const struct rgc_area *a = &h->areas[0]; /* a->first == 0 */
    if (s >= a->nblocks || s >= level_limit(h, 0))
        return NULL;
    _Atomic uint8_t *p = atb_byte(a, s);
    uint8_t cur = u8_load(p);
    SEARCH_STAT(h, searches, 1u); /* (the fast path's table reads count as a search's) */
    SEARCH_STAT(h, search_bytes, 1u);
    if (ATB_GET(cur, s) != AT_FREE) {
        /* The hint's block is taken: a free block later in the same table byte, else in the rest of
         * its aligned word of table bytes (16 blocks, where words are read), will do - a heap of
         * small objects with holes between them, as py/gc.c's search reads it. */
        size_t base = s & ~(size_t)3u;
        uint32_t free_pairs = ATB_FREE_PAIRS((uint32_t)cur) & 0x55u & (0xFFu << ATB_SHIFT(s));
#if ATB_WORDS
        if (free_pairs == 0 && (s & 12u) != 12u && (s | 15u) < a->nblocks) {
            base = s & ~(size_t)15u;
            uint32_t w = u32_load((_Atomic uint32_t *)(void *)atb_byte(a, base));
            SEARCH_STAT(h, search_bytes, 4u);
            free_pairs = ATB_FREE_PAIRS(w) & (0xFFFFFFFFu << (8u * (((unsigned)s >> 2) & 3u) + 8u));
        }
#endif
        if (free_pairs == 0)
            return NULL;
        size_t found = base + (size_t)__builtin_ctz(free_pairs) / 2u;
        if (found >= a->nblocks || found >= level_limit(h, 0))
            return NULL;
        if (ATB_INDEX(found) != ATB_INDEX(s)) { /* another byte of the word: read it */
            p = atb_byte(a, found);
            cur = u8_load(p);
            if (ATB_GET(cur, found) != AT_FREE) /* taken meanwhile */
                return NULL;
        }
        s = found;
    }
    /* rgc_ctx_enter, with the slot's new value stored at once instead of 0 (the collector reads every
     * slot, rgc_ctx_object_busy only those below depth: either way it names our claim) */
    ctx_publish(h, &c, s, SLOT_CLAIM);
    u8_store(&h->depth[c.level], (uint8_t)(c.depth + 1u));
    heads_end_raise(h, s);
    uint8_t bits = ATB_BITS(born_state(h, s), s);
    while (!u8_cas(h, p, &cur, (uint8_t)(cur | bits))) {
        if (ATB_GET(cur, s) != AT_FREE) { /* taken by a preempting context: search in the general path */
            ctx_leave(h, &c);
            return NULL;
        }
    }
    sz_store(&h->hint, s + 1u); /* advisory: see claim_somewhere */
    return fast_alloc_finish(h, &c, s, 1u, flags);
}

#if ATB_WORDS && !RGC_SMALL /* (RGC_SMALL: the general path takes every request of several blocks) */
/* A request of 2 .. 8 blocks in the common case: next fit (claim_somewhere's rule for its size; the
 * heap large enough that the size searches next fit) finds a run of free blocks in the aligned word
 * of table bytes that holds the rover, from the rover on. The run is claimed in one update of that
 * word - HEAD (or MARK) and TAILs at once, after the same publish, heads_end raise and colour
 * decision as claim_somewhere's. Anything else - no such run there, the word changed under us - and
 * the general path takes the request, nothing changed but a stale slot (as alloc_block_fast). */
static void *alloc_run_fast(rgc_core *h, size_t nb, unsigned flags) {
    rgc_ctx c;
    if (!fast_alloc_reserve(h, &c))
        return NULL;
    const struct rgc_area *a = &h->areas[0]; /* a->first == 0 */
    if (nb > next_fit_max(sz_load(&h->nblocks)))
        return NULL; /* first fit for this size: the general path */
    size_t rover = sz_load(&h->rover), hint = sz_load(&h->hint);
    size_t from = rover > hint ? rover : hint, base = from & ~(size_t)15u;
    if (base + 16u > a->nblocks || base + 16u > level_limit(h, 0))
        return NULL;
    _Atomic uint32_t *p = (_Atomic uint32_t *)(void *)atb_byte(a, base);
    uint32_t cur = u32_load(p);
    SEARCH_STAT(h, searches, 1u); /* (the fast path's table reads count as a search's) */
    SEARCH_STAT(h, search_bytes, 4u);
    /* Lanes k where blocks k .. k + nb - 1 are all free, from the rover's lane on. */
    uint32_t free_pairs = ATB_FREE_PAIRS(cur), runs = free_pairs & (0xFFFFFFFFu << (2u * (from & 15u)));
    for (unsigned i = 1; i < nb; i++)
        runs &= free_pairs >> (2u * i);
    if (runs == 0)
        return NULL;
    unsigned k = (unsigned)__builtin_ctz(runs) / 2u;
    size_t s = base + k;
    uint32_t lanes = ((1u << (2u * nb)) - 1u) << (2u * k); /* nb <= 8 */
    ctx_publish(h, &c, s, SLOT_CLAIM); /* as claim_somewhere: published before the claim */
    u8_store(&h->depth[c.level], (uint8_t)(c.depth + 1u));
    heads_end_raise(h, s);
    /* HEAD or MARK at k, TAIL (2) at k + 1 .. k + nb - 1 */
    uint32_t bits = ((uint32_t)born_state(h, s) | (0xAAAAAAAAu & (lanes >> (2u * k)) & ~3u)) << (2u * k);
    while (!u32_cas(h, p, &cur, cur | bits)) {
        if ((cur & lanes) != 0) { /* taken by a preempting context: search in the general path */
            ctx_leave(h, &c);
            return NULL;
        }
    }
    sz_store(&h->rover, s + nb); /* advisory, as claim_somewhere's */
    return fast_alloc_finish(h, &c, s, nb, flags);
}
#endif

void *rgc_alloc(rgc_heap *heap, size_t n, unsigned flags) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    if (!heap_ok(h))
        return NULL;
    if (n - 1u < RGC_BS && (flags & ~(unsigned)RGC_FINALISER) == 0) { /* 1 .. RGC_BS bytes */
        void *p = alloc_block_fast(h, flags);
        if (p != NULL)
            return p;
    }
#if ATB_WORDS && !RGC_SMALL
    else if (n - 1u < 8u * RGC_BS && (flags & ~(unsigned)RGC_FINALISER) == 0) { /* 2 .. 8 blocks */
        void *p = alloc_run_fast(h, (n + RGC_BS - 1u) / RGC_BS, flags);
        if (p != NULL)
            return p;
    }
#endif
    if (n == 0 || n > sz_load(&h->nblocks) * RGC_BS || (flags & ~(unsigned)RGC_FINALISER) != 0) {
        rgc_count_misuse(h);
        return NULL;
    }
    return rgc_alloc_blocks(h, (n + RGC_BS - 1u) / RGC_BS, flags);
}

void rgc_free_object(rgc_core *h, size_t b) {
    ftb_clear(h, b); /* an explicit free never runs the finaliser, now or deferred */
    if (phase_of(h) == PHASE_MARK) {
        /* Freeing deletes every slot of the object at once: its children must still be traced, so
         * shade it (the barrier's rule) and leave the release to the next collection. */
        if (rgc_atb_transition(h, b, AT_HEAD, AT_MARK))
            (void)uns_or(h, &h->state, STATE_RESCAN);
        stat_inc(h, &h->deferred_frees);
        return;
    }
    size_t n = rgc_atb_run_length(h, b);
    if (n == 1u)
        rgc_atb_release_block(h, b);
    else
        rgc_atb_release_object(h, b, n);
}

static bool is_object(unsigned state) {
    return state == AT_HEAD || state == AT_MARK;
}

/* Release the object of several blocks at HEAD b of area a (out of line: the one-block free's path
 * stays short). */
__attribute__((noinline)) static void release_run_in(rgc_core *h, const struct rgc_area *a, size_t b) {
    ftb_clear_in(h, a, b);
    rgc_atb_release_object_in(h, a, b, tail_run_end(a, b + 1u, area_end(a)) - b);
}

/* rgc_free's fast path: an object of area 0, no collection marking, no context below us working on
 * it. False (nothing changed) otherwise. */
static bool free_block_fast(rgc_core *h, size_t b) {
    const struct rgc_area *a = &h->areas[0];
    rgc_ctx c;
    if (b >= a->nblocks || !fast_reserve(h, &c))
        return false;
    ctx_publish(h, &c, b, SLOT_OP); /* rgc_ctx_enter with our slot's value at once (see alloc) */
    u8_store(&h->depth[c.level], (uint8_t)(c.depth + 1u));
    unsigned state = atb_state_in(a, b);
    bool fast = (state == AT_HEAD || state == AT_MARK) && phase_of(h) != PHASE_MARK &&
                !rgc_ctx_object_busy(h, &c, b);
    if (fast) { /* rgc_free_object's release, in area 0: no area lookups below */
        if (b + 1u < a->nblocks && atb_state_in(a, b + 1u) == AT_TAIL) {
            release_run_in(h, a, b);
        } else {
            ftb_clear_in(h, a, b);
            rgc_atb_release_block_in(h, a, b);
        }
        ctx_unpublish(h, &c);
    }
    ctx_leave(h, &c);
    return fast;
}

static void free_pinned(rgc_core *h, void *p) {
    if (p == NULL || !heap_ok(h))
        return;
    size_t b = block_of_start(h, p);
    if (b == RGC_NONE) {
        rgc_count_misuse(h);
        return;
    }
    if (free_block_fast(h, b))
        return;
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

/* Until the block is published, the caller's pointer may be the object's only reference, and the
 * compiler is free to keep just the block index: the pointer is pinned in this frame, where a
 * collection from an interrupt scans it (found on Cortex-M: the object was freed under us). The pin is
 * read again after the work, so this frame - and the pin in it - lives until the object is published
 * or gone: a pin that is only written may sit in the red zone of a frame that a tail call to the
 * rest of the function discards (found by torture.storm3 once the core's helpers were inlined:
 * rgc_free became a store below the stack pointer and a jump; 1 run in 20 counted a misuse). */
void rgc_free(rgc_heap *heap, void *p) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    void *volatile pin = p;
    free_pinned(h, p);
    (void)pin;
}

static void *realloc_object(rgc_core *h, const rgc_ctx *c, size_t b, size_t nb, bool allow_move) {
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

static void *realloc_pinned(rgc_core *h, void *p, size_t n, bool allow_move) {
    if (!heap_ok(h))
        return NULL;
    if (p == NULL)
        return rgc_alloc(heap_of(h), n, 0);
    if (n == 0) {
        rgc_free(heap_of(h), p);
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

#if ATB_WORDS && !RGC_SMALL /* (RGC_SMALL: the general path takes every resize) */
/* rgc_realloc's common case (a runtime's growing lists, strings, buffers): an object of area 0 that
 * keeps its size in blocks, or grows into the free blocks that follow it inside the aligned word of
 * table bytes where it ends - claimed as TAILs in one update of that word. The context, slot and
 * checks are realloc_object's for that case, in the order it does them; anything else (a shrink, a
 * busy object, a misuse, the blocks taken) and the general path takes the request, nothing changed but
 * a stale slot. */
static void *realloc_fast(rgc_core *h, void *p, size_t n) {
    const struct rgc_area *a = &h->areas[0]; /* a->first == 0 */
    uintptr_t off = (uintptr_t)p - (uintptr_t)a->pool;
    if (off >= (uintptr_t)a->nblocks * RGC_BS || (off & (RGC_BS - 1u)) != 0 || n - 1u >= (uintptr_t)a->nblocks * RGC_BS - off)
        return NULL; /* (a size of 0 or past the area: the general path's) */
    rgc_ctx c;
    if (!fast_reserve(h, &c) ||
        (atomic_load_explicit(&h->policy[c.level], memory_order_relaxed) & RGC_NO_ALLOC) ||
        uns_load(&h->lock_depth) != 0)
        return NULL;
    size_t b = (size_t)(off / RGC_BS), to = b + (n + RGC_BS - 1u) / RGC_BS;
    ctx_publish(h, &c, b, SLOT_OP);
    u8_store(&h->depth[c.level], (uint8_t)(c.depth + 1u));
    void *result = NULL;
    if (is_object(atb_state_in(a, b)) && !rgc_ctx_object_busy(h, &c, b)) {
        size_t e = tail_run_end(a, b + 1u, a->nblocks);
        if (to == e) {
            result = p;
        } else if (to > e && to <= level_limit(h, c.level) && ((e ^ (to - 1u)) & ~(size_t)15u) == 0) {
            /* the new TAILs [e, to) lie in e's table word: lanes e & 15 .. (to - 1) & 15 */
            unsigned k = (unsigned)(e & 15u), nt = (unsigned)(to - e); /* 1 <= nt <= 16 - k */
            uint32_t lanes = (uint32_t)((((uint64_t)1 << (2u * nt)) - 1u) << (2u * k));
            _Atomic uint32_t *w = (_Atomic uint32_t *)(void *)atb_byte(a, e & ~(size_t)15u);
            uint32_t cur = u32_load(w);
            while ((cur & lanes) == 0) {
                if (u32_cas(h, w, &cur, cur | (lanes & 0xAAAAAAAAu))) {
                    atb_count_free(h, nt, 0);
                    void *grown = block_addr_in(a, e);
                    RGC_UNPOISON(grown, nt * RGC_BS);
                    __builtin_memset(grown, 0, nt * RGC_BS);
                    result = p;
                    break;
                }
            }
        }
    }
    ctx_leave(h, &c);
    return result;
}
#endif

void *rgc_realloc(rgc_heap *heap, void *p, size_t n, bool allow_move) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    void *volatile pin = p; /* see rgc_free */
    void *result = NULL;
#if ATB_WORDS && !RGC_SMALL
    if (heap_ok(h))
        result = realloc_fast(h, p, n);
    if (result == NULL)
#endif
        result = realloc_pinned(h, p, n, allow_move);
    (void)pin;
    return result;
}

size_t rgc_size(rgc_heap *heap, const void *p) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    if (p == NULL || !heap_ok(h))
        return 0;
    size_t b = block_of_start(h, p);
    if (b == RGC_NONE || !is_object(atb_state(h, b)))
        return 0;
    return rgc_atb_run_length(h, b) * RGC_BS;
}

static void *exchange_slot(rgc_core *h, void **slot, void *value) {
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

void *rgc_swap(rgc_heap *heap, void **slot, void *value) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
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

void rgc_write(rgc_heap *heap, void **slot, void *value) {
    (void)rgc_swap(heap, slot, value);
}

/* The slow half of the inline barrier (rgc.h): inside a context, so that no collection advances
 * between the phase check and the shade (see ctx_below_busy). */
void rgc_shade(rgc_heap *heap, const void *p) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
    rgc_ctx c;
    if (p == NULL || !heap_ok(h) || !rgc_ctx_enter_busy(h, &c))
        return;
    if (phase_of(h) == PHASE_MARK)
        rgc_shade_ref(h, p);
    ctx_leave(h, &c);
}

void rgc_shade_range(rgc_heap *heap, void *const *words, size_t nwords) {
    rgc_core *h = core_of(heap);
    RGC_CHECK_ENTRY_AND_RETURN(h);
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
