/* t_reserve.c - reserves under a foreground allocation flood (torture.reserve, issue 6).
 *
 * The foreground allocates without pause (random sizes into a ring of root slots, replacing - dropping -
 * what was there); when an allocation fails it goes on with one-block requests until one of those fails
 * too, so the shared part is completely full, and only then collects (level 0 has no RGC_AUTO_COLLECT
 * here); the handlers that run during that collection's marking find no free block. Handlers at levels 1..3, raised by a storm and timers, hold up to HOLD objects of OBJ_BYTES each
 * (in a root table of their own), allocating one when they hold fewer, else freeing one. Two phases of
 * the same workload:
 *   A  no reserve: the handlers' allocations fail whenever they land while the heap is full;
 *   B  rgc_reserve(2, (HOLD(2) + HOLD(3)) * OBJ_BYTES): levels 2 and 3 (the reserve's level and above)
 *      may use that region; level 1 stays without a reserve.
 * Printed: the fraction of handler allocations that failed, per level, in both phases. Asserted in B:
 * no allocation of level 2 or 3 fails. rgc.h's guarantee covers the objects that levels >= 2 hold in
 * the region: the handlers' objects are one block each (so a free block is a free run - with larger
 * objects a claim preempted between its HEAD and its TAILs can make a higher level's object straddle two
 * slots), and while levels 2 and 3 together hold at most as many objects as the region has blocks there
 * is always a free one. Two rules keep what they "hold" exact: they never drop an object (only rgc_free it), and
 * they postpone a free while a collection is marking (a free then is deferred to the next collection,
 * so the block stays taken). Phase B must also show that the region was used (allocations that landed
 * in it), i.e. that the flood really filled the shared part while the handlers allocated.
 */
#define _GNU_SOURCE
#include <string.h>

#include "torture.h"

#define LEVELS 3
#define HEAP_BYTES (128 * 1024)
#define RING 256
#define OBJ_WORDS 1 /* + 3 header words: one block */
#define HOLD_MAX 32
static const unsigned hold_of[LEVELS + 1] = {0, 24, 24, 16};

static _Alignas(64) unsigned char heap_mem[HEAP_BYTES];
static void *ring[RING];                   /* root range: the foreground's live set */
static void *held[LEVELS + 1][HOLD_MAX];   /* root range: the handlers' objects */
static unsigned nheld[LEVELS + 1];         /* each written by its own level only */

struct phase_counts {
    _Atomic uint64_t runs, allocs, failed, in_region, frees, postponed, bad;
};
static struct phase_counts pc[2][LEVELS + 1];
static _Atomic int cur_phase = -1;
static uint64_t rngs[LEVELS + 1];
static size_t region_lo; /* first block of the reserve region (phase B) */

static inline void inc(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }

static size_t obj_bytes(void) { return tobj_bytes(0, OBJ_WORDS); }

static void handler(unsigned level, void *arg) {
    (void)arg;
    int ph = atomic_load_explicit(&cur_phase, memory_order_relaxed);
    if (ph < 0)
        return;
    struct phase_counts *c = &pc[ph][level];
    uint64_t *rng = &rngs[level];
    inc(&c->runs);
    /* check what we hold (exact: only this level touches these objects) */
    for (unsigned k = 0; k < nheld[level]; k++) {
        if (tobj_verify(&tt_heap, held[level][k], 0) != TT_OK) {
            inc(&c->bad);
            tt_fail("reserve: a held object's canary", level, (uintptr_t)held[level][k], 0);
        }
    }
    bool take = nheld[level] < hold_of[level] && (nheld[level] == 0 || tt_below(rng, 3) != 0);
    if (take) {
        struct tobj *o = tobj_new(&tt_heap, 0, OBJ_WORDS);
        inc(&c->allocs);
        if (o == NULL) {
            inc(&c->failed);
            return;
        }
        if (ph == 1 && tt_block(&tt_heap, o) >= region_lo)
            inc(&c->in_region);
        rgc_write(&tt_heap, &held[level][nheld[level]], o);
        nheld[level]++;
        return;
    }
    if (nheld[level] == 0)
        return;
    if (tt_phase(&tt_heap) == PHASE_MARK) { /* the free would be deferred: keep it for now */
        inc(&c->postponed);
        return;
    }
    unsigned k = (unsigned)tt_below(rng, nheld[level]);
    struct tobj *o = held[level][k];
    rgc_write(&tt_heap, &held[level][k], held[level][nheld[level] - 1]);
    rgc_write(&tt_heap, &held[level][nheld[level] - 1], NULL);
    nheld[level]--;
    rgc_free(&tt_heap, o);
    inc(&c->frees);
}

static unsigned long fg_allocs, fg_failed, fg_collections;

/* Allocate until even a one-block request fails (the shared part is then completely full), then
 * collect: the handlers that run during that collection's marking find no free block outside a reserve. */
static void flood(uint64_t deadline, uint64_t *rng) {
    bool small_only = false;
    while (tt_time_left(deadline)) {
        for (int j = 0; j < 64; j++) {
            size_t nw = small_only || tt_below(rng, 4) != 0 ? (size_t)tt_below(rng, 12) : 16 + (size_t)tt_below(rng, 100);
            if (small_only)
                nw = 1;
            struct tobj *o = tobj_new(&tt_heap, 0, nw);
            fg_allocs++;
            if (o == NULL) {
                fg_failed++;
                if (small_only) {
                    int r = tt_collect_clean();
                    if (r != RGC_OK)
                        TT_CHECK(false, "reserve: foreground rgc_collect returned %d", r);
                    fg_collections++;
                }
                small_only = !small_only;
                continue;
            }
            struct tobj *old = rgc_swap(&tt_heap, &ring[tt_below(rng, RING)], o); /* dropped */
            if (old != NULL && tobj_verify(&tt_heap, old, 0) != TT_OK)
                TT_CHECK(false, "reserve: a flood object's canary (%p)", (void *)old);
        }
        tt_mask_leaked("reserve foreground");
    }
}

/* Release everything the handlers hold (quiesced). */
static void release_held(void) {
    for (unsigned l = 1; l <= LEVELS; l++) {
        for (unsigned k = 0; k < nheld[l]; k++) {
            if (tobj_verify(&tt_heap, held[l][k], 0) != TT_OK)
                TT_CHECK(false, "reserve: level %u object %p corrupt at the end of a phase", l, held[l][k]);
            rgc_free(&tt_heap, held[l][k]);
            held[l][k] = NULL;
        }
        nheld[l] = 0;
    }
}

static double frac(uint64_t failed, uint64_t allocs) { return allocs ? (double)failed / (double)allocs : 0.0; }

int tt_reserve(void) {
    const char *name = "reserve";
    printf("torture.%s: levels 1..%u + flooding foreground, seed %ju, %.1f s, %s build\n", name, LEVELS,
           (uintmax_t)tt_opt.seed, tt_opt.seconds, RGC_ATOMICS_VIA_MASK ? "masked-atomics" : "compare-and-swap");
    memset(&tt_heap, 0, sizeof tt_heap);
    TT_CHECK(rgc_init(&tt_heap, heap_mem, sizeof heap_mem) == RGC_OK, "rgc_init");
    TT_CHECK(rgc_add_root(&tt_heap, ring, sizeof ring) == RGC_OK, "rgc_add_root ring");
    TT_CHECK(rgc_add_root(&tt_heap, held, sizeof held) == RGC_OK, "rgc_add_root held");
    rgc_level_policy(&tt_heap, 0, 0); /* the flood collects when it decides to */
    for (unsigned l = 0; l <= LEVELS; l++)
        rngs[l] = tt_seed_for(tt_opt.seed, l);
    size_t ob = obj_bytes(), obj_blocks = (ob + RGC_BLOCK_BYTES - 1) / RGC_BLOCK_BYTES;
    size_t reserve_bytes = (size_t)(hold_of[2] + hold_of[3]) * obj_blocks * RGC_BLOCK_BYTES;
    if (tt_sim_init(LEVELS, LEVELS) != 0)
        return tt_summary(name);
    for (unsigned l = 1; l <= LEVELS; l++) {
        rgc_sim_attach(l, handler, NULL);
        rgc_sim_timer(l, 1000000000u / 2000u);
    }
    TT_CHECK(rgc_sim_storm_start(1, LEVELS, tt_opt.storm_rate / 2, tt_seed_for(tt_opt.seed, 99)) == 0,
             "storm start");

    rgc_stats s_start, s_mid, s_end;
    rgc_get_stats(&tt_heap, &s_start);
    uint64_t t0 = tt_now_ns();
    double half = tt_opt.seconds / 2;
    unsigned long fg_a[2], fg_f[2], fg_c[2];
    for (int ph = 0; ph < 2; ph++) {
        rgc_mask_state m = rgc_port_mask();
        if (ph == 1) {
            /* between the phases: nothing held, then the reserve (start-up call: held off) */
            release_held();
            TT_CHECK(rgc_reserve(&tt_heap, 2, reserve_bytes) == RGC_OK, "rgc_reserve(2, %zu)", reserve_bytes);
            region_lo = core_of(&tt_heap)->areas[0].nblocks - reserve_bytes / RGC_BLOCK_BYTES;
            /* the flood's objects may sit in the region from phase A: collect them out of it */
            memset(ring, 0, sizeof ring);
            tt_collect_clean();
            tt_collect_clean();
            size_t used = 0;
            for (size_t b = region_lo; b < core_of(&tt_heap)->areas[0].nblocks; b++) {
                uint8_t byte = atomic_load(&core_of(&tt_heap)->areas[0].atb[ATB_INDEX(b)]);
                used += ATB_GET(byte, b) != AT_FREE;
            }
            TT_CHECK(used == 0, "%zu blocks of the reserve region still used by phase A's garbage", used);
        }
        fg_allocs = fg_failed = fg_collections = 0;
        atomic_store(&cur_phase, ph);
        rgc_port_unmask(m);
        flood(tt_now_ns() + (uint64_t)(half * 1e9), &rngs[0]);
        /* Phase B asserts that the reserve was used: on a slow build (sanitizers, RGC_DEBUG's checks
         * at every call) the flood may not have filled the shared part while levels 2/3 allocated in
         * the time given - flood on, a few more slices at most, until it has. */
        for (int extra = 0; ph == 1 && extra < 6 && pc[1][2].in_region + pc[1][3].in_region == 0; extra++)
            flood(tt_now_ns() + (uint64_t)(half * 1e9), &rngs[0]);
        m = rgc_port_mask();
        atomic_store(&cur_phase, -1);
        rgc_port_unmask(m);
        fg_a[ph] = fg_allocs;
        fg_f[ph] = fg_failed;
        fg_c[ph] = fg_collections;
        if (ph == 0)
            rgc_get_stats(&tt_heap, &s_mid);
    }
    uint64_t t_end = tt_now_ns();
    tt_quiesce();
    rgc_get_stats(&tt_heap, &s_end);
    if (tt_phase(&tt_heap) != PHASE_IDLE)
        TT_CHECK(rgc_collect_finish(&tt_heap) == RGC_OK, "rgc_collect_finish");
    release_held();
    TT_CHECK(rgc_check(&tt_heap) == RGC_OK, "rgc_check at the end");
    TT_CHECK(s_end.misuse == 0, "misuse counted: %u", s_end.misuse);

    static const char *const phase_name[2] = {"A, no reserve", "B, reserve for level 2"};
    for (int ph = 0; ph < 2; ph++) {
        uint32_t colls = ph == 0 ? s_mid.collections - s_start.collections : s_end.collections - s_mid.collections;
        printf("  phase %s: foreground %lu allocations (%lu NULL: heap full), %lu collections on a full heap "
               "(%u in all)\n",
               phase_name[ph], fg_a[ph], fg_f[ph], fg_c[ph], colls);
        for (unsigned l = 1; l <= LEVELS; l++) {
            struct phase_counts *c = &pc[ph][l];
            printf("    L%u (holds <= %u x %zu B): %7ju runs, %7ju allocations, %6ju failed (%.2f%%), %6ju in the "
                   "region, %6ju frees, %6ju postponed (marking)\n",
                   l, hold_of[l], ob, (uintmax_t)c->runs, (uintmax_t)c->allocs, (uintmax_t)c->failed,
                   100 * frac(c->failed, c->allocs), (uintmax_t)c->in_region, (uintmax_t)c->frees,
                   (uintmax_t)c->postponed);
        }
    }
    uint64_t a_alloc = pc[0][2].allocs + pc[0][3].allocs, a_fail = pc[0][2].failed + pc[0][3].failed;
    uint64_t b_alloc = pc[1][2].allocs + pc[1][3].allocs, b_fail = pc[1][2].failed + pc[1][3].failed;
    uint64_t b_region = pc[1][2].in_region + pc[1][3].in_region;
    printf("  levels 2+3 handler allocations failed: without reserve %ju of %ju (%.2f%%), with a %zu B reserve "
           "%ju of %ju (%.2f%%); level 1 (never reserved) %.2f%% / %.2f%%\n",
           (uintmax_t)a_fail, (uintmax_t)a_alloc, 100 * frac(a_fail, a_alloc), reserve_bytes, (uintmax_t)b_fail,
           (uintmax_t)b_alloc, 100 * frac(b_fail, b_alloc), 100 * frac(pc[0][1].failed, pc[0][1].allocs),
           100 * frac(pc[1][1].failed, pc[1][1].allocs));
    tt_print_sim(tt_sec(t_end - t0));

    TT_CHECK(b_fail == 0, "%ju allocations of levels 2/3 failed with the reserve (they hold at most %u objects of "
                          "%zu B in a %zu B region)",
             (uintmax_t)b_fail, hold_of[2] + hold_of[3], ob, reserve_bytes);
    TT_CHECK(b_alloc > 0 && a_alloc > 0, "the handlers allocated nothing");
    TT_CHECK(b_region > 0, "no allocation of levels 2/3 landed in the reserve region (the flood never filled "
                           "the shared part while they allocated)");
    TT_CHECK(s_end.collections - s_start.collections >= 4, "the flood did not make level 0 collect");
    return tt_summary(name);
}
