/* rgc_heap.c - heap set-up and heap-wide settings: init, lock, level policy, finaliser, roots. */
#include "rgc_internal.h"

#include <stddef.h>

/* Objects start at pool + k * RGC_BLOCK_BYTES: aligning the pool to a block (capped at max_align_t)
 * makes every object suitable for any type. */
#define RGC_POOL_ALIGN (RGC_BS < _Alignof(max_align_t) ? RGC_BS : _Alignof(max_align_t))

int rgc_init(rgc_heap *h, void *mem, size_t bytes) {
    if (h == NULL || mem == NULL || ((uintptr_t)mem & (sizeof(void *) - 1u)) != 0)
        return RGC_EINVAL;
    /* Each block costs RGC_BS bytes + 2 ATB bits (+ 1 FTB bit): start from that ratio, then step down
     * until the rounded-up tables and the pool alignment fit too (a few steps at most). */
    const size_t bits_per_block = RGC_BS * 8u + 2u + (RGC_FINALISERS ? 1u : 0u);
    size_t n = bytes / bits_per_block * 8u + (bytes % bits_per_block) * 8u / bits_per_block;
    size_t atb_bytes = 0, ftb_bytes = 0, pool_off = 0;
    for (; n > 0; n--) {
        atb_bytes = (n + 3u) / 4u;
        ftb_bytes = RGC_FINALISERS ? (n + 7u) / 8u : 0u;
        uintptr_t tables_end = (uintptr_t)mem + atb_bytes + ftb_bytes;
        uintptr_t pool = (tables_end + RGC_POOL_ALIGN - 1u) & ~(uintptr_t)(RGC_POOL_ALIGN - 1u);
        pool_off = (size_t)(pool - (uintptr_t)mem);
        if (pool_off <= bytes && n <= (bytes - pool_off) / RGC_BS)
            break;
    }
    if (n == 0)
        return RGC_EINVAL;

    RGC_UNPOISON(mem, bytes); /* a previous heap's free blocks may lie anywhere in it */
    __builtin_memset(h, 0, sizeof *h);
    __builtin_memset(mem, 0, atb_bytes + ftb_bytes);
    h->atb = (_Atomic uint8_t *)mem;
    h->ftb = RGC_FINALISERS ? (_Atomic uint8_t *)mem + atb_bytes : NULL;
    h->pool = (uint8_t *)mem + pool_off;
    h->nblocks = n;
    h->atb_bytes = atb_bytes;
    h->sweep_done = n;
    atomic_store(&h->policy[0], (uint8_t)RGC_AUTO_COLLECT);
    atomic_store(&h->hint, 0);
    atomic_store(&h->state, PHASE_IDLE);
    RGC_POISON(h->pool, n * RGC_BS);
    h->magic = RGC_MAGIC;
    atomic_signal_fence(memory_order_seq_cst);
    return RGC_OK;
}

/* Settings below run inside a context too: with masked atomics their updates are masked windows, and
 * rgc_busy_depth() must cover them. */
void rgc_lock(rgc_heap *h) {
    rgc_ctx c;
    if (!heap_ok(h) || !rgc_ctx_enter(h, &c))
        return;
    (void)uns_add(h, &h->lock_depth, 1u);
    ctx_leave(h, &c);
}

void rgc_unlock(rgc_heap *h) {
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

void rgc_set_finaliser(rgc_heap *h, rgc_finaliser_fn fn) {
    if (heap_ok(h))
        atomic_store(&h->finaliser, fn);
}

void rgc_level_policy(rgc_heap *h, unsigned level, unsigned policy) {
    if (!heap_ok(h))
        return;
    if (level >= RGC_MAX_LEVELS || (policy & ~(unsigned)(RGC_AUTO_COLLECT | RGC_NO_ALLOC)) != 0) {
        rgc_count_misuse(h);
        return;
    }
    atomic_store(&h->policy[level], (uint8_t)policy);
}

static int add_root(rgc_heap *h, void *start, size_t bytes) {
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
    if (phase_of(h) == PHASE_MARK) {
        void *const *w = (void *const *)start;
        for (size_t i = 0; i < bytes / sizeof(void *); i++)
            rgc_shade_ref(h, w[i]);
    }
    return RGC_OK;
}

int rgc_add_root(rgc_heap *h, void *start, size_t bytes) {
    rgc_ctx c;
    if (!heap_ok(h) || !rgc_ctx_enter(h, &c))
        return RGC_EINVAL;
    int r = add_root(h, start, bytes);
    ctx_leave(h, &c);
    return r;
}

unsigned rgc_busy_depth(rgc_heap *h) {
    if (!heap_ok(h))
        return 0;
    unsigned level = rgc_port_level();
    return level < RGC_MAX_LEVELS ? atomic_load_explicit(&h->depth[level], memory_order_relaxed) : 0;
}
