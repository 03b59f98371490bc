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
 * Sweep (one table byte at a time): sweep_pos is the first block of the byte being swept. A HEAD found
 * at or after sweep_pos is garbage (everything live there is MARK: reachable, or born MARK because it
 * lies at/after sweep_pos). After moving sweep_pos on, the previous byte is checked once more for
 * objects born MARK there meanwhile; then sweep_done advances (invariant 5: no MARK below it).
 */
#include "rgc_internal.h"

/* Block of the object a word refers to, or RGC_NONE. */
static size_t ref_block(rgc_heap *h, uintptr_t w) {
    uintptr_t base = (uintptr_t)h->pool;
    if (w < base)
        return RGC_NONE;
    uintptr_t off = w - base;
    if (off >= (uintptr_t)h->nblocks * RGC_BS)
        return RGC_NONE;
    size_t b = (size_t)(off / RGC_BS);
#if RGC_INTERIOR_POINTERS
    while (b > 0 && atb_state(h, b) == AT_TAIL)
        b--;
#else
    if ((off & (RGC_BS - 1u)) != 0)
        return RGC_NONE;
#endif
    return b;
}

static void request_rescan(rgc_heap *h) {
    (void)uns_or(h, &h->state, STATE_RESCAN);
}

void rgc_shade_ref(rgc_heap *h, const void *p) {
    size_t b = ref_block(h, (uintptr_t)p);
    if (b != RGC_NONE && rgc_atb_transition(h, b, AT_HEAD, AT_MARK))
        request_rescan(h);
}

static void mark_block(rgc_heap *h, size_t b) {
    if (!rgc_atb_transition(h, b, AT_HEAD, AT_MARK))
        return;
    if (h->mark_sp < RGC_MARK_STACK_DEPTH)
        h->mark_stack[h->mark_sp++] = b;
    else
        request_rescan(h); /* overflow: found again by the rescan of MARK blocks */
}

/* Conservative scan: any word that refers to an object marks it. Reads stacks (ASan redzones) and
 * words other contexts may be storing to (hence the relaxed atomic loads). */
RGC_NO_ASAN static void scan_words(rgc_heap *h, void *const *words, size_t nwords) {
    const _Atomic uintptr_t *w = (const _Atomic uintptr_t *)(const void *)words;
    for (size_t i = 0; i < nwords; i++) {
        size_t b = ref_block(h, atomic_load_explicit(&w[i], memory_order_relaxed));
        if (b != RGC_NONE)
            mark_block(h, b);
    }
}

static void scan_object(rgc_heap *h, size_t b) {
    size_t j = b;
    do {
        scan_words(h, (void *const *)(void *)block_addr(h, j), RGC_WORDS_PER_BLOCK);
    } while (++j < h->nblocks && atb_state(h, j) == AT_TAIL);
}

static void drain(rgc_heap *h) {
    while (h->mark_sp > 0)
        scan_object(h, h->mark_stack[--h->mark_sp]);
}

/* Trace the children of every MARK object: finds shaded objects and mark-stack overflow. */
static void rescan_heap(rgc_heap *h) {
    for (size_t k = 0; k < h->atb_bytes; k++) {
        uint8_t byte = u8_load(&h->atb[k]);
        if ((byte & (byte >> 1) & 0x55u) == 0) /* no MARK in these four blocks */
            continue;
        for (size_t b = k << 2; b < (k << 2) + 4u && b < h->nblocks; b++) {
            if (atb_state(h, b) == AT_MARK) {
                scan_object(h, b);
                drain(h);
            }
        }
    }
}

static void scan_roots(rgc_heap *h) {
    for (unsigned i = 0; i < RGC_MAX_ROOTS; i++) {
        void *start = atomic_load_explicit(&h->roots[i].start, memory_order_seq_cst);
        if (start != NULL)
            scan_words(h, (void *const *)start, h->roots[i].words);
    }
    /* Objects other contexts are in the middle of claiming, freeing or resizing (DESIGN 6). */
    for (unsigned level = 0; level < RGC_MAX_LEVELS; level++) {
        for (unsigned d = 0; d < RGC_MAX_NEST; d++) {
            size_t v = sz_load(&h->in_progress[level][d]);
            if (v != 0 && SLOT_BLOCK(v) < h->nblocks)
                mark_block(h, SLOT_BLOCK(v));
        }
    }
    rgc_port_scan_roots(h, scan_words);
}

static void mark_phase(rgc_heap *h) {
    h->mark_sp = 0;
    sz_store(&h->sweep_pos, 0);
    sz_store(&h->sweep_done, 0);
    uns_store(&h->state, PHASE_MARK);
    scan_roots(h);
    for (;;) {
        drain(h);
        unsigned expected = PHASE_MARK;
        if (uns_cas(h, &h->state, &expected, PHASE_SWEEP))
            return;
        (void)uns_and(h, &h->state, ~(unsigned)STATE_RESCAN);
        rescan_heap(h);
    }
}

/* Return a dead object at HEAD b (finaliser first). Published so that a stray free of the same
 * object from an interrupt is refused instead of racing us. */
static void release_garbage(rgc_heap *h, const rgc_ctx *c, size_t b) {
    ctx_publish(h, c, b, SLOT_OP);
    /* Re-check after publishing: a stray free from above may have taken b before we published. An
     * unmarked HEAD at or after sweep_pos is garbage, whichever object it is. */
    if (atb_state(h, b) != AT_HEAD)
        return;
#if RGC_FINALISERS
    if (ftb_get(h, b)) {
        ftb_clear(h, b); /* exactly once, whatever the finaliser does */
        rgc_finaliser_fn fn = atomic_load_explicit(&h->finaliser, memory_order_relaxed);
        if (fn != NULL)
            fn(block_addr(h, b));
    }
#endif
    size_t n = rgc_atb_run_length(h, b);
    rgc_atb_release_tails(h, b + 1u, b + n);
    rgc_atb_release_head(h, b);
    ctx_unpublish(h, c);
}

static void sweep_block(rgc_heap *h, const rgc_ctx *c, size_t b) {
    for (;;) {
        unsigned st = atb_state(h, b);
        if (st == AT_MARK) {
            if (rgc_atb_transition(h, b, AT_MARK, AT_HEAD))
                return;
            continue; /* changed under us: look again */
        }
        if (st != AT_HEAD)
            return;
        release_garbage(h, c, b);
        /* b is FREE now, or an object born MARK there meanwhile: look again */
    }
}

static void unmark_byte(rgc_heap *h, size_t k) {
    uint8_t byte = u8_load(&h->atb[k]);
    if ((byte & (byte >> 1) & 0x55u) == 0)
        return;
    for (size_t b = k << 2; b < (k << 2) + 4u && b < h->nblocks; b++)
        (void)rgc_atb_transition(h, b, AT_MARK, AT_HEAD);
}

static void sweep_phase(rgc_heap *h, const rgc_ctx *c) {
    for (size_t k = 0; k < h->atb_bytes; k++) {
        size_t first = k << 2;
        sz_store(&h->sweep_pos, first);
        if (k > 0) {
            unmark_byte(h, k - 1u);
            sz_store(&h->sweep_done, first);
        }
        for (size_t b = first; b < first + 4u && b < h->nblocks; b++)
            sweep_block(h, c, b);
    }
    sz_store(&h->sweep_pos, h->atb_bytes << 2);
    unmark_byte(h, h->atb_bytes - 1u);
    sz_store(&h->sweep_done, h->nblocks);
    uns_store(&h->state, PHASE_IDLE);
}

int rgc_collect_full(rgc_heap *h, const rgc_ctx *c) {
    if (uns_load(&h->lock_depth) != 0)
        return RGC_LOCKED;
    unsigned none = 0;
    if (!uns_cas(h, &h->collector, &none, c->level + 1u)) {
        stat_inc(h, &h->busy_collections);
        return RGC_BUSY;
    }
    /* Our own stale slots (this depth and deeper) describe nothing in progress any more. */
    for (unsigned d = c->depth; d < RGC_MAX_NEST; d++)
        sz_store(&h->in_progress[c->level][d], 0);
    mark_phase(h);
    sweep_phase(h, c);
    stat_inc(h, &h->collections);
    uns_store(&h->collector, 0);
    return RGC_OK;
}

int rgc_collect(rgc_heap *h) {
    if (!heap_ok(h))
        return RGC_EINVAL;
    rgc_ctx c;
    if (!rgc_ctx_enter(h, &c))
        return RGC_EINVAL;
    int r = rgc_collect_full(h, &c);
    ctx_leave(h, &c);
    return r;
}
