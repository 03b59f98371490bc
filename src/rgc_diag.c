/* rgc_diag.c - statistics, the invariant checker and the heap map. Read-only on the heap: safe at any
 * level and instant (exact when nothing above the caller mutates the heap). */
#include "rgc_internal.h"

__attribute__((weak)) uint32_t rgc_port_cycles(void) {
    return 0;
}

void rgc_get_stats(rgc_heap *h, rgc_stats *out) {
    if (out == NULL)
        return;
    __builtin_memset(out, 0, sizeof *out);
    if (!heap_ok(h))
        return;
    size_t used = 0, objects = 0, run = 0, longest = 0;
    for (size_t b = 0; b < h->nblocks; b++) {
        unsigned st = atb_state(h, b);
        if (st == AT_FREE) {
            if (++run > longest)
                longest = run;
            continue;
        }
        run = 0;
        used++;
        if (st != AT_TAIL)
            objects++;
    }
    out->blocks = h->nblocks;
    out->total_bytes = h->nblocks * RGC_BS;
    out->used_bytes = used * RGC_BS;
    out->free_bytes = out->total_bytes - out->used_bytes;
    out->largest_free_bytes = longest * RGC_BS;
    out->objects = objects;
    out->collections = u32_load(&h->collections);
    out->busy_collections = u32_load(&h->busy_collections);
    out->failed_allocs = u32_load(&h->failed_allocs);
    out->misuse = u32_load(&h->misuse);
    out->claim_retries = u32_load(&h->claim_retries);
    out->deferred_frees = u32_load(&h->deferred_frees);
    out->longest_masked = u32_load(&h->longest_masked);
}

int rgc_check(rgc_heap *h) {
    if (h == NULL || h->magic != RGC_MAGIC || h->atb == NULL || h->pool == NULL || h->nblocks == 0 ||
        h->atb_bytes != (h->nblocks + 3u) / 4u)
        return RGC_ECORRUPT;
    unsigned state = uns_load(&h->state);
    unsigned phase = state & PHASE_BITS;
    if (phase > PHASE_SWEEP || (state & ~(unsigned)(PHASE_BITS | STATE_RESCAN)) != 0)
        return RGC_ECORRUPT;
    if (uns_load(&h->collector) > RGC_MAX_LEVELS || uns_load(&h->root_count) > RGC_MAX_ROOTS)
        return RGC_ECORRUPT;
    size_t sweep_done = sz_load(&h->sweep_done);

    /* Invariant 1: well-formed runs. Invariant 5: no MARK outside marking except not yet swept. */
    unsigned prev = AT_FREE;
    for (size_t b = 0; b < h->nblocks; b++) {
        unsigned st = atb_state(h, b);
        if (st == AT_TAIL && prev == AT_FREE)
            return RGC_ECORRUPT;
        if (st == AT_MARK && (phase == PHASE_IDLE || (phase == PHASE_SWEEP && b < sweep_done)))
            return RGC_ECORRUPT;
        if (ftb_get(h, b) && st != AT_HEAD && st != AT_MARK)
            return RGC_ECORRUPT; /* finaliser bit on a block that starts no object */
        prev = st;
    }
    /* Table bits past the last block stay FREE / clear. */
    for (size_t b = h->nblocks; b < h->atb_bytes * 4u; b++)
        if (atb_state(h, b) != AT_FREE)
            return RGC_ECORRUPT;
#if RGC_FINALISERS
    for (size_t b = h->nblocks; b < ((h->nblocks + 7u) & ~(size_t)7u); b++)
        if (ftb_get(h, b))
            return RGC_ECORRUPT;
#endif
    for (unsigned level = 0; level < RGC_MAX_LEVELS; level++)
        if (atomic_load_explicit(&h->depth[level], memory_order_relaxed) > RGC_MAX_NEST)
            return RGC_ECORRUPT;
    for (unsigned i = 0; i < RGC_MAX_ROOTS; i++) {
        void *start = atomic_load_explicit(&h->roots[i].start, memory_order_relaxed);
        if (((uintptr_t)start & (sizeof(void *) - 1u)) != 0)
            return RGC_ECORRUPT;
    }
    return RGC_OK;
}

static char *put_hex(char *out, size_t v, unsigned digits) {
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = digits; i-- > 0;)
        *out++ = hex[(v >> (4u * i)) & 15u];
    return out;
}

void rgc_dump(rgc_heap *h, void (*print)(void *ctx, const char *s), void *ctx) {
    if (print == NULL)
        return;
    if (!heap_ok(h)) {
        print(ctx, "rgc: not an initialised heap\n");
        return;
    }
    char line[8 + 2 + 64 + 2];
    for (size_t b = 0; b < h->nblocks; b += 64u) {
        char *p = put_hex(line, b * RGC_BS, 8);
        *p++ = ':';
        *p++ = ' ';
        for (size_t j = b; j < b + 64u && j < h->nblocks; j++) {
            unsigned st = atb_state(h, j);
            bool fin = ftb_get(h, j);
            *p++ = st == AT_FREE ? '.' : st == AT_TAIL ? '=' : st == AT_HEAD ? (fin ? 'f' : 'h')
                                                                            : (fin ? 'M' : 'm');
        }
        *p++ = '\n';
        *p = '\0';
        print(ctx, line);
    }
}
