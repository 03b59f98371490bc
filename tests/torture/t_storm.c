/* t_storm.c - scenario 1, storms (torture.storm3, torture.storm8).
 *
 * N levels (3 or 8) plus the foreground share one root table of SLOTS pointer slots. The storm thread
 * raises random levels (paced at 50k/s by default, see --storm-rate) and every level has a periodic
 * timer too (6k/s in all). Every
 * context (handlers at every level and the foreground) repeats random operations on the table:
 *   - take a slot's object with rgc_swap (it is then exclusively ours), verify its canary and its
 *     child's (header + payload pattern, rgc_size covering it);
 *   - then free it (child first, after unlinking it with rgc_write), drop it (garbage for the
 *     collector), resize it (rgc_realloc, moving or not; the preserved prefix is verified), replace its
 *     child (rgc_swap on the child slot, the old child verified and freed or dropped), or put it back;
 *   - into an empty slot: allocate a new object (sometimes with a child);
 *   - each swap into the table returns what someone else put there meanwhile: verified and disposed of.
 * Half of the operations go to a few hot slots, so that levels contend for the same objects.
 * Handlers sometimes call rgc_collect (RGC_OK, or RGC_BUSY when one runs: both counted); the
 * foreground collects too, and allocations collect automatically at levels 0 and 1 (RGC_AUTO_COLLECT).
 * The top level runs rgc_check at random instants (exact there) and must get RGC_OK; at the end no
 * misuse may have been counted (every object is freed once, by its one owner).
 * At handler entry core_of(h)->collector is sampled: a collection running below the handler means the interrupt
 * landed inside it (counted per phase).
 */
#define _GNU_SOURCE
#include <string.h>

#include "torture.h"

#define SLOTS 1024
#define HOT_SLOTS 16
#define HEAP_BYTES (320 * 1024)

static _Alignas(64) unsigned char heap_mem[HEAP_BYTES];
static void *table[SLOTS];
static unsigned top_level;

struct lvl_stats {
    _Atomic uint64_t runs, ops, allocs, alloc_fail, frees, drops, reallocs, moves, realloc_fail, child_ops,
        coll_ok, coll_busy, checks, in_mark, in_sweep, in_other;
};
static struct lvl_stats st[TT_MAX_LEVELS];
static uint64_t rngs[TT_MAX_LEVELS];
static _Atomic bool handlers_on;

static inline void inc(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }

static size_t random_words(uint64_t *rng) {
    uint64_t r = tt_below(rng, 100);
    if (r < 75)
        return (size_t)tt_below(rng, 7);
    if (r < 98)
        return 7 + (size_t)tt_below(rng, 58);
    return 65 + (size_t)tt_below(rng, 200);
}

/* Verify an object we own and its child. false: corrupt (recorded; the object is then left alone). */
static bool owned_ok(struct tobj *o, unsigned level) {
    int bad = tobj_verify(&tt_heap, o, 0);
    if (bad != TT_OK) {
        tt_fail("storm: canary of an owned object", level, (uintptr_t)o, (uintptr_t)bad);
        return false;
    }
    struct tobj *c = o->link[0];
    if (c != NULL && (bad = tobj_verify(&tt_heap, c, 0)) != TT_OK) {
        tt_fail("storm: canary of an owned object's child", level, (uintptr_t)c, (uintptr_t)bad);
        return false;
    }
    return true;
}

static void dispose(struct tobj *o, unsigned level, uint64_t *rng, struct lvl_stats *s) {
    (void)level;
    if (tt_below(rng, 3) == 0) { /* drop: the collector's */
        inc(&s->drops);
        return;
    }
    struct tobj *c = o->link[0];
    if (c != NULL) {
        rgc_write(&tt_heap, &o->link[0], NULL);
        rgc_free(&tt_heap, c);
        inc(&s->ops);
        inc(&s->ops);
    }
    rgc_free(&tt_heap, o);
    inc(&s->frees);
    inc(&s->ops);
}

/* Put o into slot i; whatever was there is now ours. */
static void put(size_t i, struct tobj *o, unsigned level, uint64_t *rng, struct lvl_stats *s) {
    struct tobj *old = rgc_swap(&tt_heap, &table[i], o);
    inc(&s->ops);
    if (old != NULL && owned_ok(old, level))
        dispose(old, level, rng, s);
}

static struct tobj *new_obj(unsigned level, uint64_t *rng, struct lvl_stats *s) {
    struct tobj *o = tobj_new(&tt_heap, 1, random_words(rng));
    inc(&s->ops);
    if (o == NULL) {
        inc(&s->alloc_fail);
        return NULL;
    }
    inc(&s->allocs);
    (void)level;
    return o;
}

static struct tobj *resize(struct tobj *o, unsigned level, uint64_t *rng, struct lvl_stats *s) {
    size_t old_bytes = tobj_bytes(1, tobj_nwords(o));
    void *child = o->link[0];
    size_t nw = random_words(rng), nb = tobj_bytes(1, nw);
    bool move = tt_below(rng, 4) != 0;
    struct tobj *q = rgc_realloc(&tt_heap, o, nb, move);
    inc(&s->ops);
    inc(&s->reallocs);
    if (q == NULL) {
        inc(&s->realloc_fail);
        if (owned_ok(o, level))
            return o; /* a failed realloc leaves the object untouched */
        return NULL;
    }
    if (q != o) {
        inc(&s->moves);
        if (!move)
            tt_fail("storm: rgc_realloc moved with allow_move false", level, (uintptr_t)o, (uintptr_t)q);
    }
    int bad = tobj_verify_prefix(&tt_heap, q, old_bytes < nb ? old_bytes : nb);
    if (bad != TT_OK || q->link[0] != child || rgc_size(&tt_heap, q) < nb) {
        tt_fail("storm: realloc lost contents or size", level, (uintptr_t)q, (uintptr_t)bad);
        return NULL;
    }
    tobj_fill(q, 1, nw, tt_serial());
    return q;
}

static void storm_op(unsigned level, uint64_t *rng, struct lvl_stats *s) {
    /* half the operations on a few hot slots: levels contend for the same objects */
    size_t i = (size_t)(tt_below(rng, 2) ? tt_below(rng, HOT_SLOTS) : tt_below(rng, SLOTS));
    struct tobj *o = rgc_swap(&tt_heap, &table[i], NULL);
    inc(&s->ops);
    if (o != NULL && !owned_ok(o, level))
        return; /* corrupt: recorded, left to the collector */
    unsigned r = (unsigned)tt_below(rng, 100);
    if (o == NULL) {
        o = new_obj(level, rng, s);
        if (o == NULL)
            return;
        if (r < 30) {
            struct tobj *c = new_obj(level, rng, s);
            if (c != NULL)
                rgc_write(&tt_heap, &o->link[0], c);
        }
        put(i, o, level, rng, s);
    } else if (r < 25) {
        dispose(o, level, rng, s);
    } else if (r < 55) {
        o = resize(o, level, rng, s);
        if (o != NULL)
            put(i, o, level, rng, s);
    } else if (r < 75) {
        struct tobj *c = r < 70 ? new_obj(level, rng, s) : NULL;
        struct tobj *old = rgc_swap(&tt_heap, &o->link[0], c);
        inc(&s->ops);
        inc(&s->child_ops);
        if (old != NULL) {
            if (tt_below(rng, 2)) {
                rgc_free(&tt_heap, old);
                inc(&s->ops);
                inc(&s->frees);
            } else {
                inc(&s->drops);
            }
        }
        put(i, o, level, rng, s);
    } else {
        put(i, o, level, rng, s);
    }
}

static void collect(struct lvl_stats *s, unsigned level) {
    int r = rgc_collect(&tt_heap);
    inc(&s->ops);
    if (r == RGC_OK)
        inc(&s->coll_ok);
    else if (r == RGC_BUSY)
        inc(&s->coll_busy);
    else
        tt_fail("storm: rgc_collect returned neither RGC_OK nor RGC_BUSY", level, (uintptr_t)r, 0);
}

static void storm_handler(unsigned level, void *arg) {
    (void)arg;
    struct lvl_stats *s = &st[level];
    unsigned c = tt_collector(&tt_heap);
    if (c != 0 && c - 1u < level) {
        unsigned ph = tt_phase(&tt_heap);
        inc(ph == PHASE_MARK ? &s->in_mark : ph == PHASE_SWEEP ? &s->in_sweep : &s->in_other);
    }
    inc(&s->runs);
    if (!atomic_load_explicit(&handlers_on, memory_order_relaxed))
        return;
    uint64_t *rng = &rngs[level];
    if (level == top_level && tt_below(rng, 16) == 0) {
        inc(&s->checks);
        int r = rgc_check(&tt_heap);
        if (r != RGC_OK)
            tt_fail("storm: rgc_check from the top level", level, (uintptr_t)r, 0);
    }
    unsigned k = 1u + (unsigned)tt_below(rng, 3);
    for (unsigned j = 0; j < k; j++)
        storm_op(level, rng, s);
    if (tt_below(rng, 512) == 0)
        collect(s, level);
}

static uint64_t sum(_Atomic uint64_t *field0, unsigned levels) {
    /* field0 points into st[0]; the same field of every level */
    size_t off = (size_t)((char *)field0 - (char *)&st[0]);
    uint64_t n = 0;
    for (unsigned l = 0; l <= levels; l++)
        n += atomic_load((_Atomic uint64_t *)(void *)((char *)&st[l] + off));
    return n;
}

int tt_storm(unsigned levels) {
    char name[16];
    snprintf(name, sizeof name, "storm%u", levels);
    printf("torture.%s: %u levels + foreground, seed %ju, %.1f s, %s build\n", name, levels,
           (uintmax_t)tt_opt.seed, tt_opt.seconds,
           RGC_ATOMICS_VIA_MASK ? "masked-atomics" : "compare-and-swap");
    top_level = levels;
    memset(&tt_heap, 0, sizeof tt_heap);
    TT_CHECK(tt_heap_init(&tt_heap, heap_mem, sizeof heap_mem) == RGC_OK, "rgc_init (+ areas)");
    TT_CHECK(rgc_add_root(&tt_heap, table, sizeof table) == RGC_OK, "rgc_add_root");
    rgc_level_policy(&tt_heap, 1, RGC_AUTO_COLLECT); /* level 0 has it by default */
    for (unsigned l = 0; l <= levels; l++)
        rngs[l] = tt_seed_for(tt_opt.seed, l);
    if (tt_sim_init(levels, levels) != 0)
        return tt_summary(name);
    double capacity = tt_calibrate(levels, 0.5);
    for (unsigned l = 1; l <= levels; l++)
        rgc_sim_attach(l, storm_handler, NULL);
    atomic_store(&handlers_on, true);
    double cpu0 = tt_thread_cpu();

    uint64_t t0 = tt_now_ns(), deadline = t0 + (uint64_t)(tt_opt.seconds * 1e9), progress = 0;
    for (unsigned l = 1; l <= levels; l++)
        rgc_sim_timer(l, 1000000000u / (6000u / levels)); /* 6k/s in all */
    /* The storm thread paced (--storm-rate, default 50k/s; 0 = as fast as it can): one delivered
     * interrupt costs the core thread some 10-15 us on a VM, so at the maximum rate the handlers take
     * all of its time and the foreground, which does most of the operations, starves. */
    TT_CHECK(rgc_sim_storm_start(1, levels, tt_opt.storm_rate, tt_seed_for(tt_opt.seed, 99)) == 0,
             "storm start");

    uint64_t *rng = &rngs[0];
    while (tt_time_left(deadline)) {
        tt_areas_sample(&tt_heap);
        for (int j = 0; j < 64; j++) {
            storm_op(0, rng, &st[0]);
            if (tt_below(rng, 4096) == 0)
                collect(&st[0], 0);
        }
        tt_mask_leaked("storm foreground");
        if (tt_progress_due(&progress)) {
            rgc_stats hs;
            rgc_get_stats(&tt_heap, &hs);
            printf("[%.0f s] ops %ju, interrupts %ju, collections %u, failures %lu\n",
                   tt_sec(tt_now_ns() - t0), (uintmax_t)sum(&st[0].ops, levels),
                   (uintmax_t)tt_delivered_total(), hs.collections, tt_async_failures());
            fflush(stdout);
        }
    }
    uint64_t t_end = tt_now_ns();
    double cpu = tt_thread_cpu() - cpu0;
    tt_quiesce();
    double secs = tt_sec(t_end - t0);
    atomic_store(&handlers_on, false);

    /* Final state: everything still in the table is intact; the heap is consistent. */
    size_t live = 0, bad = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        struct tobj *o = table[i];
        if (o == NULL)
            continue;
        live++;
        if (tobj_verify(&tt_heap, o, 0) != TT_OK ||
            (o->link[0] != NULL && tobj_verify(&tt_heap, o->link[0], 0) != TT_OK))
            bad++;
    }
    TT_CHECK(bad == 0, "%zu of %zu objects left in the table are corrupt", bad, live);
    TT_CHECK(rgc_check(&tt_heap) == RGC_OK, "rgc_check after the storm");
    rgc_stats hs;
    rgc_get_stats(&tt_heap, &hs);
    TT_CHECK(hs.misuse == 0, "misuse counted: %u (every object is freed once, by its owner)", hs.misuse);
    /* RGC_VERIFY builds: no marking ended with a marked object referring to an unmarked one */
    TT_CHECK(hs.verify_reports == 0, "tri-colour verifier: %u black->white edges", (unsigned)hs.verify_reports);

    /* Figures. */
    uint64_t ops = sum(&st[0].ops, levels), irq = tt_delivered_total();
    uint64_t in_coll =
        sum(&st[0].in_mark, levels) + sum(&st[0].in_sweep, levels) + sum(&st[0].in_other, levels);
    printf("  level   runs        ops      ops/s   allocs  failed  reallocs (moved)  frees   drops"
           "  collect ok/busy  in-coll mark/sweep\n");
    for (unsigned l = 0; l <= levels; l++) {
        struct lvl_stats *s = &st[l];
        printf("  L%-2u %9ju %10ju %10.0f %8ju %7ju %9ju (%6ju) %7ju %7ju %8ju/%-8ju %7ju/%ju\n", l,
               (uintmax_t)atomic_load(&s->runs), (uintmax_t)atomic_load(&s->ops),
               (double)atomic_load(&s->ops) / secs, (uintmax_t)atomic_load(&s->allocs),
               (uintmax_t)atomic_load(&s->alloc_fail), (uintmax_t)atomic_load(&s->reallocs),
               (uintmax_t)atomic_load(&s->moves), (uintmax_t)atomic_load(&s->frees),
               (uintmax_t)atomic_load(&s->drops), (uintmax_t)atomic_load(&s->coll_ok),
               (uintmax_t)atomic_load(&s->coll_busy), (uintmax_t)atomic_load(&s->in_mark),
               (uintmax_t)atomic_load(&s->in_sweep));
    }
    tt_print_sim(secs);
    printf("  total: %ju ops (%.0f/s), %u collections (%.1f/s; %u refused busy), %u failed allocations,"
           " %ju interrupts landed inside a running collection, %ju top-level rgc_checks\n",
           (uintmax_t)ops, (double)ops / secs, hs.collections, hs.collections / secs, hs.busy_collections,
           hs.failed_allocs, (uintmax_t)in_coll, (uintmax_t)atomic_load(&st[top_level].checks));
    printf("  heap: %zu live objects in the table, %zu B used of %zu, claim retries %u, deferred frees %u,"
           " longest masked window %u ns\n",
           live, hs.used_bytes, hs.total_bytes, hs.claim_retries, hs.deferred_frees, hs.longest_masked);

    /* What the run must have exercised. */
    TT_CHECK(sum(&st[0].coll_ok, levels) > 0 && sum(&st[0].coll_busy, levels) > 0,
             "explicit collections: ok %ju, busy %ju (both expected)", (uintmax_t)sum(&st[0].coll_ok, levels),
             (uintmax_t)sum(&st[0].coll_busy, levels));
    TT_CHECK(in_coll > 0, "no interrupt landed inside a collection");
    TT_CHECK(atomic_load(&st[top_level].checks) > 0, "the top level never ran rgc_check");
    for (unsigned l = 0; l <= levels; l++)
        TT_CHECK(atomic_load(&st[l].ops) > 0, "level %u did no operation", l);
    /* The spec's minimums, enforced in optimised compare-and-swap builds without sanitizers (in the
     * masked-atomics build every table update costs two signal-mask system calls: reported only):
     * - >= 50k interrupts/s. The rate is bounded by the host (signal delivery in a VM is costly, and
     *   other load takes the CPUs): the bare simulator's capacity was measured first; the storm must
     *   reach 50k/s, or half of that capacity when the host cannot deliver 100k/s.
     * - >= 10^7 operations in the CI run of storm3 + storm8 (8 s each): 625k/s, per second of CPU the
     *   core thread got (on a host busy with other work it gets less than the wall time). */
    double need_irq = capacity / 2 < 50000 ? capacity / 2 : 50000;
    printf("  host: bare simulator storm capacity %.0f interrupts/s; storm with work %.0f/s (required %.0f);"
           " core thread CPU %.2f s of %.2f s (%.0f%%), %.0f ops per CPU second\n",
           capacity, (double)irq / secs, need_irq, cpu, secs, 100 * cpu / secs, (double)ops / cpu);
    tt_minimum((double)irq / secs, need_irq, "interrupts per second");
    tt_minimum((double)ops / (cpu < secs ? cpu : secs), 5e6 / 8.0,
               "operations per CPU second of the core thread (10^7 in the 2 x 8 s CI run)");
    tt_areas_check();
    return tt_summary(name);
}
