/* rgc_collect.c - the collector: snapshot-at-the-beginning mark, then sweep.
 *
 * Tri-colour invariant and barrier (enforced here and in rgc_write / rgc_free_object):
 *   white = HEAD, grey = MARK and not yet scanned (on the mark stack, or anywhere while a rescan is
 *   requested), black = MARK and scanned. A collection keeps every object that was reachable when it
 *   set PHASE_MARK (the snapshot) plus every object born during it:
 *   - objects are born MARK while marking (black: they hold only snapshot objects or newer ones);
 *   - a reference overwritten while marking is shaded first (rgc_write: Yuasa deletion barrier), and
 *     so is an object freed while marking (freeing deletes all its references at once);
 *   - shading from another context only sets MARK and STATE_RESCAN, it never touches the mark stack;
 *     the collector rescans every MARK block's children while STATE_RESCAN is set, and leaves the mark
 *     phase with one compare-and-swap from exactly PHASE_MARK, so no shade is ever missed.
 * Higher levels run to completion while we are suspended; lower levels are frozen while we run, so
 * their stacks and in-progress slots are constant roots for the whole collection.
 *
 * Steps (rgc_collect_step): the collection is a state machine the collector role advances - roots
 * (first step only), drain the mark stack (an object is scanned at most `budget` blocks at a time: the
 * rest is pushed back as a continuation), rescan marked blocks from rescan_pos while a rescan is
 * requested, leave MARK with the compare-and-swap, sweep byte by byte. Between steps nothing is
 * executing it: any level may take the role (CAS on h->collector) and run the next step. Nothing is
 * released while marking (frees and shrinks are deferred), so a continuation block stays the object's.
 * Between steps lower levels run too; the snapshot still holds: their stores go through rgc_write,
 * their new objects are born MARK, and the stacks were part of the snapshot when the first step began
 * (anything they load later was reachable then, or is new).
 *
 * Sweep (one table byte at a time): sweep_pos is the first block of the byte being swept. A HEAD found
 * at or after sweep_pos is garbage (everything live there is MARK: reachable, or born MARK because it
 * lies at/after sweep_pos). After moving sweep_pos on, the byte is checked once more for objects born
 * MARK there meanwhile when a claim came in (sweep_run); then sweep_done advances (I5: no MARK below
 * it). The sweep ends at heads_end (I13: no HEAD or MARK above it), and lowers it to the end of the
 * last live object (heads_end_lower): a collection costs what the heap uses, not its size.
 */
#include "rgc_internal.h"

/* Block of the object a word refers to, or RGC_NONE. */
static size_t ref_block(rgc_core *h, uintptr_t w) {
    size_t off;
    size_t b = block_of_addr(h, w, &off);
    if (b == RGC_NONE)
        return RGC_NONE;
#if RGC_INTERIOR_POINTERS
    const struct rgc_area *a = area_of(h, b);
    while (b > a->first && atb_state_in(a, b) == AT_TAIL)
        b--;
#else
    if (off != 0)
        return RGC_NONE;
#endif
    return b;
}

/* Only the collector clears STATE_RESCAN, and it rescans from block 0 after clearing it: a request
 * that finds the flag already set is covered by that rescan (the block was marked before the load).
 * Skipping the read-modify-write matters on mark-stack overflow, where every further push asks. */
static void request_rescan(rgc_core *h) {
    if ((uns_load(&h->state) & STATE_RESCAN) == 0)
        (void)uns_or(h, &h->state, STATE_RESCAN);
}

void rgc_shade_ref(rgc_core *h, const void *p) {
    size_t b = ref_block(h, (uintptr_t)p);
    if (b != RGC_NONE && rgc_atb_transition(h, b, AT_HEAD, AT_MARK))
        request_rescan(h);
}

RGC_NO_ASAN void rgc_shade_words(rgc_core *h, void *const *words, size_t nwords) {
    const _Atomic uintptr_t *w = (const _Atomic uintptr_t *)(const void *)words;
    for (size_t i = 0; i < nwords; i++)
        rgc_shade_ref(h, (const void *)atomic_load_explicit(&w[i], memory_order_relaxed));
}

static void mark_push(rgc_core *h, size_t b) {
    if (h->mark_sp < RGC_MARK_STACK_DEPTH)
        h->mark_stack[h->mark_sp++] = b;
    else
        request_rescan(h); /* overflow: found again by the rescan of MARK blocks */
}

/* HEAD -> MARK, inline (the marking loop's one read-modify-write per object); false if b is anything
 * else by the time we look. */
static inline bool mark_transition(rgc_core *h, size_t b) {
    const struct rgc_area *a = area_of(h, b);
    if (a == NULL)
        return false;
    _Atomic uint8_t *p = atb_byte(a, b);
    uint8_t cur = u8_load(p);
    while (ATB_GET(cur, b) == AT_HEAD)
        if (u8_cas(h, p, &cur, (uint8_t)(cur | ATB_BITS(AT_MARK, b))))
            return true;
    return false;
}

static void mark_block(rgc_core *h, size_t b) {
    if (mark_transition(h, b))
        mark_push(h, b);
}

static void drain_mark_stack(rgc_core *h);
static size_t trace_stack(rgc_core *h, size_t budget);

/* Conservative scan: any word that refers to an object marks it. Reads stacks (ASan redzones) and
 * words other contexts may be storing to (hence the relaxed atomic loads). Most words are no pointer
 * into the heap: area 0's bounds live in registers, so such a word costs a subtract and a compare
 * (py/gc.c's VERIFY_PTR); other areas are looked up only when there are any. */
RGC_NO_ASAN static void scan_words(rgc_core *h, void *const *words, size_t nwords) {
    const _Atomic uintptr_t *w = (const _Atomic uintptr_t *)(const void *)words;
    const struct rgc_area *a0 = &h->areas[0];
    const uintptr_t pool = (uintptr_t)a0->pool, bytes = (uintptr_t)a0->nblocks * RGC_BS;
    const bool more_areas = heap_areas(h) > 1u;
    for (size_t i = 0; i < nwords; i++) {
        uintptr_t v = atomic_load_explicit(&w[i], memory_order_relaxed);
        uintptr_t off = v - pool;
        size_t b;
        if (off < bytes) {
#if RGC_INTERIOR_POINTERS
            b = ref_block(h, v);
#else
            if ((off & (RGC_BS - 1u)) != 0)
                continue;
            b = (size_t)(off / RGC_BS);
#endif
        } else if (!more_areas) {
            /* One area (the common heap): no further test for the words that miss it. */
            while (++i < nwords) {
                v = atomic_load_explicit(&w[i], memory_order_relaxed);
                if (v - pool < bytes)
                    break;
            }
            if (i == nwords)
                break;
            i--; /* look at it again from the top */
            continue;
        } else {
            b = ref_block(h, v);
            if (b == RGC_NONE)
                continue;
        }
        mark_block(h, b);
        if (h->drain_roots && h->mark_sp > RGC_MARK_STACK_DEPTH / 2u)
            drain_mark_stack(h);
    }
}

/* Root scans of a collection that runs to its end in this call mark depth first, as py/gc.c does
 * after each root: when the mark stack is half full, what it holds is traced at once. Pushing every
 * root first would overflow a small stack on a few dozen roots, and an overflow costs a rescan of
 * every marked object. (Steps push and return: the work is theirs to pace.) */
static void drain_mark_stack(rgc_core *h) {
    h->drain_roots = false;
    (void)trace_stack(h, RGC_NONE);
    h->drain_roots = true;
}

/* HEAD -> MARK of area 0's block b (the common heap: no area lookup), inline in the tracing loop. */
RGC_HOT bool mark_in_area0(rgc_core *h, const struct rgc_area *a0, size_t b) {
    _Atomic uint8_t *p = &a0->atb[ATB_INDEX(b)];
    uint8_t cur = u8_load(p);
    while (ATB_GET(cur, b) == AT_HEAD)
        if (u8_cas(h, p, &cur, (uint8_t)(cur | ATB_BITS(AT_MARK, b))))
            return true;
    return false;
}

/* Trace: pop objects off the mark stack and scan them until it is empty or `budget` blocks were
 * scanned - an object at most the budget left (at least its HEAD; a longer one's rest goes back on
 * the stack as its next TAIL). The loop of every marking, shaped as py/gc.c's gc_mark_subtree: one
 * function, the pool's bounds in registers, the HEAD -> MARK update inline. Nothing is released
 * while marking, so the extent read here stays the object's. Returns the blocks scanned. */
#if !RGC_SMALL
RGC_NO_ASAN static size_t trace_stack_all_area0(rgc_core *h);
#endif
RGC_NO_ASAN static size_t trace_stack(rgc_core *h, size_t budget) {
    const struct rgc_area *a0 = &h->areas[0];
    const uintptr_t pool = (uintptr_t)a0->pool, bytes = (uintptr_t)a0->nblocks * RGC_BS;
    const bool more_areas = heap_areas(h) > 1u;
#if !RGC_SMALL /* (RGC_SMALL: the general loop, one copy of it) */
    if (budget == RGC_NONE && !more_areas && !RGC_INTERIOR_POINTERS)
        return trace_stack_all_area0(h);
#endif
    size_t work = 0;
    while (h->mark_sp > 0 && work < budget) {
        size_t b = h->mark_stack[--h->mark_sp];
        const struct rgc_area *a = area_of(h, b);
        size_t end = area_end(a), most = budget - work;
        size_t e = tail_run_end(a, b + 1u, most < end - b ? b + most : end);
        if (e < end && e - b == most && atb_state_in(a, e) == AT_TAIL)
            mark_push(h, e); /* continuation: a TAIL of the same object */
        work += e - b;
        void *const *words = (void *const *)(void *)block_addr_in(a, b);
        const size_t nwords = (e - b) * RGC_WORDS_PER_BLOCK;
        if (more_areas || RGC_INTERIOR_POINTERS) {
            scan_words(h, words, nwords);
            continue;
        }
        /* One area: a word that is no block address of it costs a load, a subtract, a compare. */
        const _Atomic uintptr_t *w = (const _Atomic uintptr_t *)(const void *)words, *w_end = w + nwords;
        for (; w < w_end; w++) {
            uintptr_t off = atomic_load_explicit(w, memory_order_relaxed) - pool;
            if (off < bytes && (off & (RGC_BS - 1u)) == 0 && mark_in_area0(h, a0, (size_t)(off / RGC_BS)))
                mark_push(h, (size_t)(off / RGC_BS));
        }
    }
    return work;
}

#if !RGC_SMALL
/* trace_stack for its most common case - no budget (a collection that runs to its end: MicroPython's,
 * every rgc_collect), one area, no interior pointers - as py/gc.c's gc_mark_subtree runs it: the stack
 * pointer in a register, the object's extent from its HEAD to the area's end, the push inline (an
 * overflow still requests the rescan). Returns the blocks scanned. */
__attribute__((noinline)) RGC_SPEED RGC_NO_ASAN static size_t trace_stack_all_area0(rgc_core *h) {
    const struct rgc_area *a0 = &h->areas[0]; /* a0->first == 0 */
    const size_t nblocks = a0->nblocks;
    const uintptr_t pool = (uintptr_t)a0->pool, bytes = (uintptr_t)nblocks * RGC_BS;
    size_t sp = h->mark_sp, work = 0;
    bool overflow = false;
    while (sp > 0) {
        size_t b = h->mark_stack[--sp];
        size_t e = tail_run_end(a0, b + 1u, nblocks);
        work += e - b;
        const _Atomic uintptr_t *w = (const _Atomic uintptr_t *)(const void *)block_addr_in(a0, b);
        const _Atomic uintptr_t *w_end = w + (e - b) * RGC_WORDS_PER_BLOCK;
        for (; w < w_end; w++) {
            uintptr_t off = atomic_load_explicit(w, memory_order_relaxed) - pool;
            if (off < bytes && (off & (RGC_BS - 1u)) == 0 && mark_in_area0(h, a0, (size_t)(off / RGC_BS))) {
                if (sp < RGC_MARK_STACK_DEPTH)
                    h->mark_stack[sp++] = (size_t)(off / RGC_BS);
                else
                    overflow = true;
            }
        }
    }
    h->mark_sp = 0;
    if (overflow)
        request_rescan(h); /* the MARK blocks not traced are found again by the rescan */
    return work;
}
#endif

/* Objects other contexts are in the middle of claiming, freeing or resizing (I7, docs/design.md 4). */
static void scan_slots(rgc_core *h) {
    for (unsigned level = 0; level < RGC_MAX_LEVELS; level++) {
        for (unsigned d = 0; d < RGC_MAX_NEST; d++) {
            size_t v = sz_load(&h->in_progress[level][d]);
            if (v != 0 && area_of(h, SLOT_BLOCK(v)) != NULL)
                mark_block(h, SLOT_BLOCK(v));
        }
    }
}

enum { ROOTS_ALL, ROOTS_SLOTS_ONLY };

/* The port's stack scan calls back with the user's handle (rgc_port.h). */
RGC_NO_ASAN static void scan_port_words(rgc_heap *heap, void *const *words, size_t nwords) {
    scan_words(core_of(heap), words, nwords);
}

/* Enter the mark phase and snapshot the roots. Caller holds the collector role, phase is IDLE. */
static void begin_collection(rgc_core *h, int roots, bool drain) {
    h->mark_sp = 0;
    h->drain_roots = drain;
    h->rescan_pos = RGC_NONE;
    sz_store(&h->allocated, 0);
    sz_store(&h->sweep_pos, 0);
    sz_store(&h->sweep_done, 0);
    h->sweep_high = 0;
    sz_store(&h->claim_high, 0);
    uns_store(&h->state, PHASE_MARK);
    if (roots != ROOTS_SLOTS_ONLY) {
        /* The stacks first: the port scans from its own frame up, through the collector's frames,
         * whose unused words still hold whatever calls made below them left there. Before any
         * marking call has run below this frame, those words cannot hold a heap address the
         * collector itself computed (a pool's first block, kept alive by its own residue). */
        rgc_port_scan_roots(heap_of(h), scan_port_words);
        for (unsigned i = 0; i < RGC_MAX_ROOTS; i++) {
            void *start = atomic_load_explicit(&h->roots[i].start, memory_order_seq_cst);
            if (start != NULL)
                scan_words(h, (void *const *)start, h->roots[i].words);
        }
    }
    scan_slots(h);
    h->drain_roots = false;
}

/* Next global block at or after b that lies in an area, or RGC_NONE past the last area. */
static size_t next_block(rgc_core *h, size_t b) {
    unsigned n = heap_areas(h);
    for (unsigned i = 0; i < n; i++) {
        const struct rgc_area *a = &h->areas[i];
        if (b < area_end(a))
            return b > a->first ? b : a->first;
    }
    return RGC_NONE;
}

/* Table bytes a sweep or rescan passes over in one go when they hold nothing for it (the work they
 * count is still 4 blocks per byte: budgets mean the same). */
#define SKIP_BYTES_MAX 64u

/* Rescan: push the MARK blocks of the next table byte from rescan_pos that has any (the stack is empty
 * here), passing over at most `limit` blocks; returns the blocks passed over. */
static size_t rescan_bytes(rgc_core *h, size_t limit) {
    size_t b = next_block(h, h->rescan_pos);
    if (b == RGC_NONE || b >= sz_load(&h->heads_end)) { /* no MARK at or above heads_end (I13) */
        h->rescan_pos = RGC_NONE;
        return 1u;
    }
    const struct rgc_area *a = area_of(h, b);
    size_t start = b, end = area_end(a), stop = b + 4u * SKIP_BYTES_MAX;
    if (limit < 4u * SKIP_BYTES_MAX)
        stop = b + (limit < 4u ? 4u : limit & ~(size_t)3u); /* at least the one byte */
    stop = stop < end ? stop : end; /* (an infinite loop at the area's end before: the fuzzer) */
    for (;;) {
        uint8_t byte = u8_load(atb_byte(a, b));
        size_t byte_end = b + 4u < end ? b + 4u : end;
        if ((byte & (byte >> 1) & 0x55u) != 0) { /* a MARK among these four blocks */
            for (size_t k = b; k < byte_end; k++)
                if (atb_state_in(a, k) == AT_MARK)
                    mark_push(h, k);
        }
        b = byte_end;
        if ((byte & (byte >> 1) & 0x55u) != 0 || b >= stop)
            break;
    }
    h->rescan_pos = b;
    return b - start > 4u ? b - start : 4u;
}

/* Return (at most `chunk` blocks of) the dead object at HEAD b, finaliser first; returns the blocks
 * released. Published so that a stray free of the same object from an interrupt is refused instead of
 * racing us. A longer object is split: its TAIL at b + chunk becomes the HEAD of the rest (a
 * well-formed run, unmarked, ahead of the sweeper: garbage the sweep reaches later), so a step never
 * releases more than its budget, however large the dead object. */
static size_t release_garbage(rgc_core *h, const rgc_ctx *c, const struct rgc_area *a, size_t b, size_t chunk) {
    ctx_publish(h, c, b, SLOT_OP);
    /* Re-check after publishing: a stray free from above may have taken b before we published. An
     * unmarked HEAD at or after sweep_pos is garbage, whichever object it is. */
    if (atb_state_in(a, b) != AT_HEAD)
        return 0;
#if RGC_FINALISERS
    if (ftb_get_in(a, b)) {
        ftb_clear_in(h, a, b); /* exactly once, whatever the finaliser does */
        rgc_finaliser_fn fn = atomic_load_explicit(&h->finaliser, memory_order_relaxed);
        if (fn != NULL)
            fn(block_addr_in(a, b));
    }
#endif
    size_t end = area_end(a), most = chunk > 1u ? chunk : 1u; /* the HEAD at least */
    size_t e = tail_run_end(a, b + 1u, most < end - b ? b + most : end);
    bool split = false;
    if (e < end && e - b == chunk) {
        heads_end_raise(h, e); /* the rest's new HEAD: the sweep must reach it */
        split = rgc_atb_transition_in(h, a, e, AT_TAIL, AT_HEAD);
    }
    rgc_atb_release_object_in(h, a, b, e - b);
    ctx_unpublish(h, c);
    if (!split)
        stat_inc(h, &h->collected_objects);
    return e - b;
}

/* Sweep block b of area a: unmark it, or release it if it is garbage. Returns the blocks released. */
static size_t sweep_block(rgc_core *h, const rgc_ctx *c, const struct rgc_area *a, size_t b, size_t chunk) {
    size_t released = 0;
    for (;;) {
        unsigned st = atb_state_in(a, b);
        if (st == AT_MARK) {
            if (rgc_atb_transition_in(h, a, b, AT_MARK, AT_HEAD))
                return released;
            continue; /* changed under us: look again */
        }
        if (st != AT_HEAD)
            return released;
        released += release_garbage(h, c, a, b, chunk);
        /* b is FREE now, or an object born MARK there meanwhile: look again */
    }
}

/* MARK -> HEAD for every MARK block of one table byte (nblk 4) or an aligned word of four table bytes
 * (nblk 16, ATB_WORDS), in one update (the same as one transition per block: nothing else there
 * changes). With heads_too false, a byte or word holding an unmarked HEAD is left alone (that HEAD is
 * garbage the caller must release first): false then. */
RGC_HOT bool unmark_marks(rgc_core *h, _Atomic uint8_t *p, unsigned nblk, bool heads_too) {
    const uint32_t even = nblk == 16u ? 0x55555555u : 0x55u;
    _Atomic uint32_t *pw = (_Atomic uint32_t *)(void *)p; /* nblk == 16 only */
    uint32_t cur = nblk == 16u ? u32_load(pw) : u8_load(p);
    for (;;) {
        uint32_t marks = cur & (cur >> 1) & even;
        if (!heads_too && (cur & ~(cur >> 1) & even) != 0)
            return false;
        if (marks == 0)
            return true;
        if (nblk == 16u) {
            if (u32_cas(h, pw, &cur, cur & ~(marks << 1)))
                return true;
        } else {
            uint8_t cur8 = (uint8_t)cur;
            if (u8_cas(h, p, &cur8, (uint8_t)(cur8 & ~(marks << 1))))
                return true;
            cur = cur8;
        }
    }
}
static bool unmark_whole_byte(rgc_core *h, _Atomic uint8_t *p, bool heads_too) {
    return unmark_marks(h, p, 4u, heads_too);
}

/* Unmark the blocks of the table bytes of [from, to) (objects born MARK behind the sweeper; the range
 * lies in one area). Blocks of a byte beyond the area's end are FREE: the whole byte may be updated. */
static void unmark_range(rgc_core *h, size_t from, size_t to) {
    const struct rgc_area *a = area_of(h, from);
    if (a == NULL)
        return;
    for (size_t b = from & ~(size_t)3u; b < to; b += 4u)
        (void)unmark_whole_byte(h, atb_byte(a, b), true);
}

/* Bit k of the low 16 bits to bit 2k: finaliser bits (one per block) onto table lanes (two per block). */
RGC_HOT uint32_t spread_bits(uint32_t x) {
    x &= 0xFFFFu;
    x = (x | (x << 8)) & 0x00FF00FFu;
    x = (x | (x << 4)) & 0x0F0F0F0Fu;
    x = (x | (x << 2)) & 0x33333333u;
    return (x | (x << 1)) & 0x55555555u;
}

/* The number of bits set in x, whose bits are all at even positions (one per table lane): a few
 * instructions where the core has no population count (Cortex-M; x86-64 before POPCNT calls libgcc). */
RGC_HOT uint32_t count_lanes(uint32_t x) {
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0F0F0F0Fu;
    return (x * 0x01010101u) >> 24;
}

/* The common garbage - objects without a finaliser that lie wholly inside a table byte (nblk 4) or,
 * where words are read (ATB_WORDS), an aligned word of four table bytes (nblk 16: far fewer objects
 * straddle it), the block after each also inside (so the update sees that it is no TAIL: the object
 * cannot have grown meanwhile) - released in one update of that byte or word; when no other garbage is
 * left there, the same update unmarks the live objects. One atomic step covers every block it decides
 * on: a stray free or realloc (or any claim) of those blocks from an interrupt lands before it (the
 * update fails and re-reads) or after it (it finds them FREE: misuse). Returns the blocks released;
 * *rest: unmarked HEADs are left (an object that goes on past the byte or word or ends at its last
 * block, or has a finaliser) for the caller's next, finer pass, which also unmarks. Forced inline into
 * the two callers below, each specialised for its width. */
RGC_HOT size_t sweep_inside_at_once(rgc_core *h, const struct rgc_area *a, size_t first, unsigned nblk,
                                    bool *rest) {
    *rest = true;
    if (first + nblk > area_end(a))
        return 0;
    const uint32_t even = nblk == 16u ? 0x55555555u : 0x55u;
    _Atomic uint8_t *p = atb_byte(a, first);
    _Atomic uint32_t *pw = (_Atomic uint32_t *)(void *)p; /* nblk == 16 only */
    uint32_t cur = nblk == 16u ? u32_load(pw) : u8_load(p);
    for (;;) {
#if RGC_FINALISERS /* the blocks' finaliser bits: half of one FTB byte, or two bytes */
        _Atomic uint8_t *f = &a->ftb[FTB_INDEX(first - a->first)];
        const uint32_t finalisers = nblk == 16u ? (uint32_t)u8_load(f) | (uint32_t)u8_load(f + 1) << 8
                                                : (uint32_t)u8_load(f) >> ((first - a->first) & 7u);
#else
        const uint32_t finalisers = 0;
#endif
        uint32_t lo = cur & even, hi = (cur >> 1) & even;
        uint32_t heads = lo & ~hi, tails = hi & ~lo, marks = lo & hi;
        /* Every object at once, by carry propagation: the garbage HEADs without a finaliser (g) and
         * every TAIL, both bits of their 2-bit lanes set (x); adding g's low bits starts a carry at
         * each such HEAD that runs through the lanes of its TAILs and stops at the first block after
         * the object (no TAIL: its lane is 0 in x, or is the next such HEAD, where the carry and that
         * HEAD's own bit go on the same way). The lanes the carries cleared, plus the HEADs', are the
         * objects' blocks. A carry out of the top: the highest object may go on past the byte or word -
         * left for the finer pass, as are the HEADs with a finaliser. */
        uint32_t g = heads & ~spread_bits(finalisers);
        uint64_t x = (uint64_t)(tails * 3u | g * 3u), z = x + g;
        uint32_t clear = (uint32_t)(x & ~z) | g * 3u;
        if ((z >> (2u * nblk)) != 0) {
            uint32_t below = ((uint32_t)1u << (31 - __builtin_clz(g))) - 1u; /* below the highest */
            g &= below;
            clear &= below;
        }
        uint32_t left = heads & ~g, objects = count_lanes(g);
        size_t n = count_lanes(clear & even);
        if (n == 0)
            return 0;
        uint32_t next = cur & ~clear;
        if (left == 0)
            next &= ~(marks << 1); /* nothing else to release: unmark too */
        for (unsigned k = 0; k < nblk; k++)
            if ((clear >> (2u * k)) & 3u)
                RGC_POISON(block_addr_in(a, first + k), RGC_BS); /* poisoned while still owned */
        (void)sz_add(h, &h->free_blocks, n); /* before the release: the count never undercounts */
        bool done;
        if (nblk == 16u) {
            done = u32_cas(h, pw, &cur, next);
        } else {
            uint8_t cur8 = (uint8_t)cur;
            done = u8_cas(h, p, &cur8, (uint8_t)next);
            cur = cur8;
        }
        if (done) {
            map_set(h, a, (first - a->first) >> 6);
            rgc_hint_lower(h, first + (size_t)__builtin_ctz(clear) / 2u);
            (void)u32_add(h, &h->collected_objects, objects);
            *rest = left != 0;
            return n;
        }
        (void)sz_add(h, &h->free_blocks, (size_t)0 - n);
        for (unsigned k = 0; k < nblk; k++) /* changed under us: whatever is not free stays usable */
            if (((cur >> (2u * k)) & 3u) != AT_FREE)
                RGC_UNPOISON(block_addr_in(a, first + k), RGC_BS);
    }
}
static size_t sweep_byte_at_once(rgc_core *h, const struct rgc_area *a, size_t first, bool *rest) {
    return sweep_inside_at_once(h, a, first, 4u, rest);
}
#if ATB_WORDS
static size_t sweep_word_at_once(rgc_core *h, const struct rgc_area *a, size_t first, bool *rest) {
    return sweep_inside_at_once(h, a, first, 16u, rest);
}
#endif

/* What the one update left in a table byte (nblk 4) or an aligned word of four bytes (nblk 16): its
 * garbage HEADs one by one, in order (released, published, I7; a TAIL or FREE block needs nothing),
 * then its MARKs - and any object born MARK meanwhile - in one update. Each block is looked at once,
 * in order, as block by block; the table is read again for each (a release split at the budget
 * leaves the rest's new HEAD further on, garbage too). Returns the blocks released. */
RGC_HOT size_t sweep_heads_in_order(rgc_core *h, const rgc_ctx *c, const struct rgc_area *a, size_t first,
                                    unsigned nblk, size_t budget) {
    _Atomic uint8_t *p = atb_byte(a, first);
    const uint32_t even = nblk == 16u ? 0x55555555u : 0x55u;
    size_t end = area_end(a) - first > nblk ? first + nblk : area_end(a), released = 0;
    for (unsigned k = 0; first + k < end;) {
        uint32_t cur = nblk == 16u ? u32_load((_Atomic uint32_t *)(void *)p) : u8_load(p);
        uint32_t heads = (cur & ~(cur >> 1) & even) >> (2u * k);
        if (heads == 0)
            break;
        k += (unsigned)__builtin_ctz(heads) / 2u;
        if (first + k >= end)
            break;
        size_t r = sweep_block(h, c, a, first + k, budget);
        released += r;
        budget = budget > r ? budget - r : 1u;
        k++;
    }
    (void)unmark_marks(h, p, nblk, true);
    return released;
}

/* End of a sweep: lower heads_end to where the last live object ends (I13) - the highest the sweep
 * left live (h->sweep_high) or a claim made during the sweep reported (h->claim_high, see
 * born_state) - so the next collection stops there. Claims publish their block, raise heads_end
 * (reading it), report to claim_high while the phase is SWEEP, then claim. Against that order:
 *  (1) a context below us that has published a block at or above the target may have read the old
 *      mark and found no raise needed: keep the mark (stale slots only make this conservative);
 *  (2) lower the mark with one compare-and-swap (a context that raised it since it was read: keep);
 *  (3) a claim that preempted us between reading the target and (2) found the old mark high enough
 *      but reported to claim_high: read it again and raise to it.
 * Constant work: the slots, two loads and a compare-and-swap or two. */
static void heads_end_lower(rgc_core *h) {
    size_t claimed = sz_load(&h->claim_high);
    size_t target = h->sweep_high > claimed ? h->sweep_high : claimed, cur = sz_load(&h->heads_end);
    if (target >= cur)
        return;
    for (unsigned level = 0; level < RGC_MAX_LEVELS; level++) {
        for (unsigned d = 0; d < RGC_MAX_NEST; d++) {
            size_t v = sz_load(&h->in_progress[level][d]);
            if (v != 0 && SLOT_BLOCK(v) >= target)
                return;
        }
    }
    if (!sz_cas(h, &h->heads_end, &cur, target))
        return;
    claimed = sz_load(&h->claim_high);
    if (claimed > target)
        heads_end_raise(h, claimed - 1u);
}

/* The last part of a sweep, once it has passed every head (sweep_pos reached heads_end as read): a
 * claim that came in since that read, at or after sweep_pos, was born MARK. sweep_finish moves
 * sweep_pos past every block (from then on nothing is born MARK), reads heads_end again - every such
 * claim raised it before deciding its colour - and unmarks [first, that end) in steps like the sweep
 * (h->unmark_pos .. h->unmark_end; empty unless a claim came in during those few instructions). */
static bool unmark_tail(rgc_core *h, size_t chunk, size_t *work) {
    size_t b = h->unmark_pos, end = h->unmark_end, done = 0;
    while (b < end && done < chunk) {
        b = next_block(h, b);
        if (b == RGC_NONE || b >= end)
            break;
        const struct rgc_area *a = area_of(h, b);
        (void)unmark_whole_byte(h, atb_byte(a, b), true);
        b = (b & ~(size_t)3u) + 4u;
        done += 4u;
    }
    *work += done > 0 ? done : 1u;
    if (b != RGC_NONE && b < end) {
        h->unmark_pos = b;
        sz_store(&h->sweep_done, b);
        return true;
    }
    sz_store(&h->sweep_done, sz_load(&h->end));
    heads_end_lower(h);
    uns_store(&h->state, PHASE_IDLE);
    return false;
}

static bool sweep_finish(rgc_core *h, size_t first, size_t chunk, size_t *work) {
    sz_store(&h->sweep_pos, RGC_NONE);
    size_t now = sz_load(&h->heads_end);
    h->unmark_pos = first;
    h->unmark_end = first != RGC_NONE && now > first ? now : 0;
    return unmark_tail(h, chunk, work);
}

/* Sweep from sweep_pos: release dead objects (in pieces of at most the budget) and unmark live ones,
 * table byte by table byte, passing over bytes of FREE and TAIL blocks a word of bytes at a time, for
 * at most `chunk` units (4 per byte plus the blocks released; at least one byte); *work grows by them.
 * False when the sweep is complete.
 * After each byte sweep_pos moves past it; a claim that came in while the byte was being swept lies at
 * or after sweep_pos, so it was born MARK and may have been missed: every such claim counts itself in
 * h->sweep_claims before deciding its colour (born_state), so when the count moved the byte is
 * unmarked once more (rare: a claim during those few instructions). */
static bool sweep_run(rgc_core *h, const rgc_ctx *c, size_t chunk, size_t *work) {
    size_t pos = sz_load(&h->sweep_pos);
    if (pos == RGC_NONE) /* past every head: see sweep_finish */
        return unmark_tail(h, chunk, work);
    uint32_t claims = u32_load(&h->sweep_claims);
    size_t spent = 0;
    const size_t word_blocks = 4u * sizeof(uintptr_t);
    for (;;) {
        size_t heads_end = sz_load(&h->heads_end);
        size_t first = next_block(h, pos);
        if (first == RGC_NONE || first >= heads_end) { /* no head at or after first */
            sz_store(&h->sweep_done, first != RGC_NONE ? first : pos);
            *work += spent;
            return sweep_finish(h, first, chunk > spent ? chunk - spent : 1u, work);
        }
        if (spent >= chunk)
            break;
        if (first != pos) { /* the gap between two areas */
            pos = first;
            sz_store(&h->sweep_pos, pos);
        }
        const struct rgc_area *a = area_of(h, pos);
        size_t stop = area_end(a) < heads_end ? area_end(a) : heads_end;
        while (pos < stop && spent < chunk) {
#if ATB_WORDS
            /* An aligned word of four table bytes, when the budget allows: the garbage wholly inside it
             * in one update (and the whole word done when nothing else is left), then what straddles it
             * object by object and the word's MARKs in one more update; live objects alone are
             * unmarked in one update. */
            if (((pos - a->first) & 15u) == 0 && stop - pos >= 16u && chunk - spent >= 16u) {
                _Atomic uint8_t *p = atb_byte(a, pos);
                uint32_t w = u32_load((_Atomic uint32_t *)(void *)p);
                size_t freed = 0;
                bool whole = false;
                if ((w & ~(w >> 1) & 0x55555555u) != 0) { /* an unmarked HEAD: garbage */
                    bool rest;
                    freed = sweep_word_at_once(h, a, pos, &rest);
                    if (rest) { /* what straddles the word, or has a finaliser: object by object */
                        size_t left = chunk - spent - 16u;
                        freed += sweep_heads_in_order(h, c, a, pos, 16u, left > freed ? left - freed : 1u);
                    }
                    whole = true;
                } else if ((w & (w >> 1) & 0x55555555u) != 0) { /* live objects alone: unmark them */
                    whole = unmark_marks(h, p, 16u, false);
                }
                if (whole) {
                    size_t next = pos + 16u;
                    if ((u32_load((_Atomic uint32_t *)(void *)p) & 0x55555555u) != 0)
                        h->sweep_high = next; /* a live object (or one born since) stays here */
                    sz_store(&h->sweep_pos, next);
                    uint32_t now = u32_load(&h->sweep_claims);
                    if (now != claims) { /* claims came in meanwhile: those born MARK in [pos, next) */
                        unmark_range(h, pos, next);
                        claims = now;
                    }
                    spent += 16u + freed;
                    pos = next;
                    continue;
                }
                spent += freed; /* the rest byte by byte */
            }
#endif
            _Atomic uint8_t *p = atb_byte(a, pos);
            uint8_t byte = u8_load(p);
            size_t next = pos + 4u, released = 0;
            if ((byte & 0x55u) == 0) {
                /* Only FREE and TAIL blocks: pass over such bytes, within the budget. */
                size_t skip_stop = chunk - spent < stop - pos ? pos + ((chunk - spent) & ~(size_t)3u) : stop;
                while (next < skip_stop) {
                    size_t local = next - a->first;
                    if ((local & (word_blocks - 1u)) == 0 && next + word_blocks <= skip_stop) {
                        uintptr_t w = atomic_load_explicit(
                            (const _Atomic uintptr_t *)(const void *)&a->atb[local >> 2], memory_order_relaxed);
                        if ((w & (UINTPTR_MAX / 3u)) == 0) { /* 0x55..55: no HEAD or MARK */
                            next += word_blocks;
                            continue;
                        }
                    }
                    if ((u8_load(atb_byte(a, next)) & 0x55u) != 0)
                        break;
                    next += 4u;
                }
            } else {
                if (!unmark_whole_byte(h, p, false)) {
                    /* Some HEAD: garbage to release (live blocks alone took one update for the byte,
                     * above), in one update too when it is all one-block objects, else block by block. */
                    bool rest;
                    released = sweep_byte_at_once(h, a, pos, &rest);
                    if (rest)
                        released += sweep_heads_in_order(h, c, a, pos, 4u, chunk - spent);
                }
                if ((u8_load(p) & 0x55u) != 0) /* a live object (or one born since) stays here */
                    h->sweep_high = next;
            }
            sz_store(&h->sweep_pos, next);
            uint32_t now = u32_load(&h->sweep_claims);
            if (now != claims) { /* claims came in meanwhile: those born MARK in [pos, next) */
                unmark_range(h, pos, next);
                claims = now;
            }
            spent += next - pos + released;
            pos = next;
        }
    }
    sz_store(&h->sweep_done, pos);
    *work += spent;
    return true;
}

#if RGC_VERIFY
/* The tri-colour verifier (debug builds): with the mark stack empty and no rescan pending, every
 * object reachable from a marked one must be marked. A marked object referring to an unmarked one is
 * a store that missed the barrier (the unmarked object would be freed while still referenced): report
 * it, then mark and push the target so that this collection stays safe. Returns true if it pushed
 * anything (marking goes on). Walks every block: unbounded, debug only. Higher levels may run
 * meanwhile; they cannot create such an edge legitimately (what they store is marked or born MARK). */
RGC_NO_ASAN static bool verify_marking(rgc_core *h) {
    bool found = false;
    rgc_verify_fn hook = atomic_load_explicit(&h->verify_hook, memory_order_relaxed);
    unsigned n = heap_areas(h);
    for (unsigned i = 0; i < n; i++) {
        const struct rgc_area *a = &h->areas[i];
        size_t end = area_end(a);
        for (size_t b = a->first; b < end; b++) {
            if (atb_state_in(a, b) != AT_MARK)
                continue;
            size_t e = b + rgc_atb_run_length(h, b);
            const _Atomic uintptr_t *w = (const _Atomic uintptr_t *)(const void *)block_addr_in(a, b);
            for (size_t k = 0; k < (e - b) * RGC_WORDS_PER_BLOCK; k++) {
                size_t t = ref_block(h, atomic_load_explicit(&w[k], memory_order_relaxed));
                if (t == RGC_NONE || atb_state(h, t) != AT_HEAD)
                    continue;
                stat_inc(h, &h->verify_reports);
                if (hook != NULL)
                    hook(block_addr_in(a, b), k, block_addr(h, t));
                mark_block(h, t);
                found = true;
            }
            b = e - 1u;
        }
    }
    return found;
}
#endif

/* Advance the collection by at most budget units (RGC_NONE: to the end). True when it finished. */
static bool advance(rgc_core *h, const rgc_ctx *c, size_t budget) {
    size_t work = 0;
    while (work < budget) {
        if (phase_of(h) == PHASE_SWEEP) {
            if (!sweep_run(h, c, budget == RGC_NONE ? RGC_NONE : budget - work, &work)) {
                stat_inc(h, &h->collections);
                return true;
            }
            continue;
        }
        if (h->mark_sp > 0) {
            work += trace_stack(h, budget == RGC_NONE ? RGC_NONE : budget - work);
            continue;
        }
        if (h->rescan_pos != RGC_NONE) {
            work += rescan_bytes(h, budget == RGC_NONE ? RGC_NONE : budget - work);
            continue;
        }
#if RGC_VERIFY
        if ((uns_load(&h->state) & STATE_RESCAN) == 0 && verify_marking(h))
            continue;
#endif
        RGC_ASSERT(h->mark_sp == 0); /* the marking ends with everything pushed traced */
        unsigned expected = PHASE_MARK;
        if (uns_cas(h, &h->state, &expected, PHASE_SWEEP))
            continue;
        /* Someone shaded a block (or the stack overflowed): trace every MARK block's children. */
        (void)uns_and(h, &h->state, ~(unsigned)STATE_RESCAN);
        h->rescan_pos = 0;
        work++;
    }
    return false;
}

/* What a request does with the collection: RUNS_TO_END requests start and finish one in this call
 * (allowed above busy contexts when none is in progress), LEAVES_PAUSED ones may leave one paused,
 * MARKS_ONLY ones (roots) move no phase. `opener`: may continue a collection its own level opened with
 * rgc_collect_start (which closes it for roots). */
enum { LEAVES_PAUSED = 0, RUNS_TO_END = 1, MARKS_ONLY = 2 };

/* Take the collector role for context c; RGC_OK, RGC_LOCKED or RGC_BUSY. */
static int acquire(rgc_core *h, const rgc_ctx *c, bool opener, int how) {
    if (uns_load(&h->lock_depth) != 0)
        return RGC_LOCKED;
    unsigned none = 0;
    if (!uns_cas(h, &h->collector, &none, c->level + 1u)) {
        stat_inc(h, &h->busy_collections);
        return RGC_BUSY;
    }
    unsigned owner = uns_load(&h->roots_owner);
    bool refused = owner != 0 && !(opener && owner == c->level + 1u); /* roots still coming in */
    if (!refused && how != MARKS_ONLY && (phase_of(h) != PHASE_IDLE || how == LEAVES_PAUSED))
        refused = ctx_below_busy(h, c); /* see ctx_below_busy */
    if (refused) {
        uns_store(&h->collector, 0);
        stat_inc(h, &h->busy_collections);
        return RGC_BUSY;
    }
    /* Our own stale slots (this depth and deeper) describe nothing in progress any more. */
    for (unsigned d = c->depth; d < RGC_MAX_NEST; d++)
        sz_store(&h->in_progress[c->level][d], 0);
    return RGC_OK;
}

static void release_role(rgc_core *h) {
    uns_store(&h->collector, 0);
}

int rgc_collect_run(rgc_core *h, const rgc_ctx *c, int how) {
    int r = acquire(h, c, how == COLLECT_FINISH, RUNS_TO_END);
    if (r != RGC_OK)
        return r;
    uns_store(&h->roots_owner, 0);
    bool was_running = phase_of(h) != PHASE_IDLE;
    if (was_running)
        (void)advance(h, c, RGC_NONE);
    /* A full collection frees everything unreachable now; an allocation is content with the end of
     * the collection that was in progress. */
    if (how == COLLECT_FULL || (how == COLLECT_FOR_ALLOC && !was_running)) {
        begin_collection(h, ROOTS_ALL, true);
        (void)advance(h, c, RGC_NONE);
    }
    release_role(h);
    return RGC_OK;
}

int rgc_collect_step_in(rgc_core *h, const rgc_ctx *c, size_t budget, bool explicit_step) {
    int r = acquire(h, c, explicit_step, LEAVES_PAUSED);
    if (r != RGC_OK)
        return r;
    uns_store(&h->roots_owner, 0);
    if (budget == 0)
        budget = 1u;
    if (phase_of(h) == PHASE_IDLE)
        begin_collection(h, ROOTS_ALL, false);
    bool done = advance(h, c, budget);
    stat_inc(h, &h->collect_steps);
    release_role(h);
    return done ? 0 : 1;
}

/* ---- public entry points -------------------------------------------------------------------- */

static int start_in(rgc_core *h, const rgc_ctx *c) {
    int r = acquire(h, c, false, LEAVES_PAUSED);
    if (r != RGC_OK)
        return r;
    if (phase_of(h) == PHASE_IDLE) {
        begin_collection(h, ROOTS_ALL, false);
        uns_store(&h->roots_owner, c->level + 1u);
    } else {
        r = RGC_BUSY; /* one is in progress: step or finish it */
    }
    release_role(h);
    return r;
}

/* Deep roots: each object the words refer to is marked and its words are scanned now. */
RGC_NO_ASAN static void scan_words_deep(rgc_core *h, void *const *words, size_t nwords) {
    const _Atomic uintptr_t *w = (const _Atomic uintptr_t *)(const void *)words;
    for (size_t i = 0; i < nwords; i++) {
        size_t b = ref_block(h, atomic_load_explicit(&w[i], memory_order_relaxed));
        if (b == RGC_NONE)
            continue;
        const struct rgc_area *a = area_of(h, b);
        unsigned st = atb_state_in(a, b);
        if (st != AT_HEAD && st != AT_MARK)
            continue;
        mark_block(h, b);
        size_t words_in_object = rgc_atb_run_length(h, b) * RGC_WORDS_PER_BLOCK;
        scan_words(h, (void *const *)(void *)block_addr_in(a, b), words_in_object);
    }
}

static int roots_in(rgc_core *h, const rgc_ctx *c, void *const *words, size_t nwords, bool deep) {
    if (words == NULL || ((uintptr_t)words & (sizeof(void *) - 1u)) != 0 ||
        uns_load(&h->roots_owner) != c->level + 1u) {
        stat_inc(h, &h->misuse); /* bad range, or no collection open for this level */
        return RGC_EINVAL;
    }
    int r = acquire(h, c, true, MARKS_ONLY); /* marking moves no phase: fine above busy contexts */
    if (r == RGC_OK) {
        if (deep) { /* the marking cannot have ended: roots are open */
            scan_words_deep(h, words, nwords);
        } else { /* depth first, as py/gc.c's gc_collect_root (see drain_mark_stack) */
            h->drain_roots = true;
            scan_words(h, words, nwords);
            h->drain_roots = false;
        }
        release_role(h);
    }
    return r;
}

static int sweep_all_in(rgc_core *h, const rgc_ctx *c) {
    int r = acquire(h, c, false, RUNS_TO_END);
    if (r != RGC_OK)
        return r;
    if (phase_of(h) != PHASE_IDLE)
        (void)advance(h, c, RGC_NONE);
    /* No roots but the objects suspended contexts are operating on: freeing those under them would
     * break the table (a resumed claim would add TAILs behind a FREE block). */
    begin_collection(h, ROOTS_SLOTS_ONLY, false);
    (void)advance(h, c, RGC_NONE);
    release_role(h);
    return RGC_OK;
}

enum { ENTRY_FULL, ENTRY_STEP, ENTRY_FINISH, ENTRY_START, ENTRY_ROOTS, ENTRY_ROOTS_DEEP, ENTRY_SWEEP_ALL };

/* Every public collection call runs in a context of its own (rgc_busy_depth covers it), between the
 * handle checks of RGC_DEBUG builds. */
static int entry(rgc_core *h, int which, size_t budget, void *const *words, size_t nwords) {
    RGC_CHECK_ENTRY_AND_RETURN(h);
    if (!heap_ok(h))
        return RGC_EINVAL;
    rgc_ctx c;
    if (!rgc_ctx_enter(h, &c))
        return RGC_EINVAL;
    int r;
    switch (which) {
    case ENTRY_FULL: r = rgc_collect_run(h, &c, COLLECT_FULL); break;
    case ENTRY_STEP: r = rgc_collect_step_in(h, &c, budget, true); break;
    case ENTRY_FINISH: r = rgc_collect_run(h, &c, COLLECT_FINISH); break;
    case ENTRY_START: r = start_in(h, &c); break;
    case ENTRY_ROOTS: r = roots_in(h, &c, words, nwords, false); break;
    case ENTRY_ROOTS_DEEP: r = roots_in(h, &c, words, nwords, true); break;
    default: r = sweep_all_in(h, &c); break;
    }
    ctx_leave(h, &c);
    return r;
}

int rgc_collect(rgc_heap *heap) { return entry(core_of(heap), ENTRY_FULL, 0, NULL, 0); }
int rgc_collect_step(rgc_heap *heap, size_t budget) { return entry(core_of(heap), ENTRY_STEP, budget, NULL, 0); }
int rgc_collect_finish(rgc_heap *heap) { return entry(core_of(heap), ENTRY_FINISH, 0, NULL, 0); }
int rgc_collect_start(rgc_heap *heap) { return entry(core_of(heap), ENTRY_START, 0, NULL, 0); }
int rgc_sweep_all(rgc_heap *heap) { return entry(core_of(heap), ENTRY_SWEEP_ALL, 0, NULL, 0); }
int rgc_collect_roots(rgc_heap *heap, void *const *words, size_t nwords) {
    return entry(core_of(heap), ENTRY_ROOTS, 0, words, nwords);
}
int rgc_collect_roots_deep(rgc_heap *heap, void *const *words, size_t nwords) {
    return entry(core_of(heap), ENTRY_ROOTS_DEEP, 0, words, nwords);
}
