/* t_barrier.c - scenario 2, the snapshot barrier (torture.barrier).
 *
 * The heap holds one linked list (head in a root range) of NODES holder objects [next, a, b]; every
 * victim object is referenced from exactly one a/b slot of one node. The collector traces the list
 * depth first (LIFO mark stack), so while it is marking the list splits into a scanned prefix and an
 * unscanned rest. Collections run at level 0 (the foreground, in a loop), level 1 and level 2 (timer
 * handlers, when no collection runs). The storm raises level 3, whose handler, when it finds a
 * collection marking below it, looks at the allocation table and picks
 *   - an unscanned holder u: HEAD (white: not even reached), holding victims that are HEAD too (so no
 *     stack word of a suspended context refers to them: those were all marked before tracing began);
 *   - scanned holders s: MARK with their `next` and victim MARK (the collector has been through them),
 *     with an empty slot,
 * and does one of:
 *   move:    rgc_write(&s->slot, V); rgc_write(&u->slot, NULL)   (only the barrier can save V now; the
 *            old slot's store must shade V at once: its table state is checked right after)
 *   free:    every victim V of u into scanned holders with rgc_write, then rgc_free(u) without clearing
 *            u's slots, then unlink u (rgc_write on its predecessor's next). Freeing deletes u's slots
 *            at once: rgc_free must shade u and defer the release (u checked MARK right after).
 *   realloc: u2 = rgc_realloc(u, bigger, true); when it moved, relink u2. u2 is born black and never
 *            scanned: V survives only because the old copy is shaded (checked MARK right after).
 * Every victim involved is logged; once that collection has ended the foreground verifies each one
 * (canary, serial, rgc_size) and the whole structure (every node and victim intact, the victim count
 * and serial sum unchanged), replenishes freed nodes, shrinks grown ones and reshuffles the victims.
 */
#define _GNU_SOURCE
#include <string.h>

#include "rgc_port.h"
#include "barrier_common.h"

#define NODES 1500
#define HEAP_BYTES (1024 * 1024)
#define LOG_SIZE 8192
#define PER_COLLECTION 48 /* barrier cases attempted per collection */

static _Alignas(64) unsigned char heap_mem[HEAP_BYTES];
static void *roots[2]; /* roots[0]: list head */

static uint64_t rngs[4];
static _Atomic unsigned long attempts[NCASES], happened[NCASES], survived[NCASES], by_collector[4][NCASES];
static _Atomic unsigned long realloc_in_place, realloc_failed, no_candidates, marking_hits, collect_ok[4],
    collect_busy[4], log_overflow;
static _Atomic long nodes_freed; /* by level 3 (free case) */

static struct {
    struct tobj *obj;
    uintptr_t serial;
    unsigned kase;
} logbuf[LOG_SIZE];
static _Atomic unsigned log_w; /* written by level 3 only */
static unsigned log_r;         /* foreground only */

static void log_victim(struct tobj *v, unsigned kase) {
    unsigned w = atomic_load_explicit(&log_w, memory_order_relaxed);
    if (w - log_r >= LOG_SIZE) {
        atomic_fetch_add(&log_overflow, 1);
        return;
    }
    logbuf[w % LOG_SIZE].obj = v;
    logbuf[w % LOG_SIZE].serial = v->serial;
    logbuf[w % LOG_SIZE].kase = kase;
    atomic_store_explicit(&log_w, w + 1, memory_order_release);
}

static void barrier_case(unsigned level, uint64_t *rng) {
    unsigned coll = tt_collector(&tt_heap) - 1u;
    /* One case per collection: then nothing but that case's own shading can request the rescan that
     * would find a moved victim anyway, so a missing shade loses the victim (checked after the
     * collection), not only the table-state check below. */
    unsigned kase = (atomic_load_explicit(&core_of(&tt_heap)->collections, memory_order_relaxed) + coll) % NCASES;
    atomic_fetch_add(&attempts[kase], 1);
    /* Candidates: scanned holders' empty slots, white holders (with their predecessor). */
    static unsigned long seen; /* white holders seen, over every call */
    struct bl_cand c;
    bl_candidates(roots[0], &c, &seen, rng);
    if (c.nh == 0 || (kase != C_REALLOC && c.ne < 2)) {
        atomic_fetch_add(&no_candidates, 1);
        return;
    }
    unsigned pick = (unsigned)tt_below(rng, c.nh);
    struct node *u = c.hold[pick], *p = c.prev_of[pick];
    int bad, bad_slot = bl_corrupt_victim(u, &bad);
    if (bad_slot >= 0) {
        tt_fail("barrier: victim corrupt before the move", level, (uintptr_t)u->slot[bad_slot], (uintptr_t)bad);
        return;
    }
    unsigned e0, e1; /* two different empty slots (move and free cases: ne >= 2) */
    bl_two_empty(&c, rng, &e0, &e1);
    if (kase == C_MOVE) {
        struct tobj *v = bl_move(u, c.empty[e0]);
        if (st(v) != AT_MARK)
            tt_fail("barrier: overwriting the only reference during marking did not shade it", level,
                    (uintptr_t)v, (uintptr_t)st(v));
        log_victim(v, C_MOVE);
    } else if (kase == C_FREE) {
        unsigned e = e0;
        for (int k = 0; k < 2; k++) {
            if (u->slot[k] != NULL) {
                rgc_write(&tt_heap, (void **)c.empty[e], u->slot[k]);
                log_victim(u->slot[k], C_FREE);
                e = e1;
            }
        }
        struct node *n = u->next;
        rgc_free(&tt_heap, u); /* its slots still refer to the victims */
        if (st(u) != AT_MARK)
            tt_fail("barrier: rgc_free during marking did not shade and defer", level, (uintptr_t)u,
                    (uintptr_t)st(u));
        rgc_write(&tt_heap, (void **)&p->next, n);
        atomic_fetch_add(&nodes_freed, 1);
    } else {
        size_t size = rgc_size(&tt_heap, u);
        if (size > 8 * RGC_BLOCK_BYTES) {
            atomic_fetch_add(&no_candidates, 1);
            return;
        }
        struct node *u2 = rgc_realloc(&tt_heap, u, size + RGC_BLOCK_BYTES * (1 + tt_below(rng, 3)), true);
        if (u2 == NULL) {
            atomic_fetch_add(&realloc_failed, 1);
            return;
        }
        if (u2 == u) {
            atomic_fetch_add(&realloc_in_place, 1);
            return;
        }
        if (st(u) != AT_MARK)
            tt_fail("barrier: realloc-move during marking did not shade the old copy", level, (uintptr_t)u,
                    (uintptr_t)st(u));
        for (int k = 0; k < 2; k++)
            if (u2->slot[k] != NULL)
                log_victim(u2->slot[k], C_REALLOC);
        rgc_write(&tt_heap, (void **)&p->next, u2);
    }
    atomic_fetch_add(&happened[kase], 1);
    if (coll < 4)
        atomic_fetch_add(&by_collector[coll][kase], 1);
}

static void handler(unsigned level, void *arg) {
    (void)arg;
    uint64_t *rng = &rngs[level];
    if (level == 3) {
        if (tt_collection_below(&tt_heap, level) && tt_phase(&tt_heap) == PHASE_MARK) {
            atomic_fetch_add(&marking_hits, 1);
            /* A few cases per collection: each walks the list, and a storm of them would starve the
             * collection below (in slow builds it would never leave its rescans). */
            static uint32_t id;
            static unsigned budget;
            uint32_t now = atomic_load_explicit(&core_of(&tt_heap)->collections, memory_order_relaxed);
            if (now != id) {
                id = now;
                budget = PER_COLLECTION;
            }
            if (budget > 0) {
                budget--;
                barrier_case(level, rng);
            }
        }
        return;
    }
    /* levels 1 and 2: collect now and then (the level-3 handler then preempts that collection) */
    if (tt_collector(&tt_heap) == 0 && tt_below(rng, level == 1 ? 4 : 8) == 0) {
        int r = rgc_collect(&tt_heap);
        if (r == RGC_OK)
            atomic_fetch_add(&collect_ok[level], 1);
        else if (r == RGC_BUSY)
            atomic_fetch_add(&collect_busy[level], 1);
        else
            tt_fail("barrier: rgc_collect failed", level, (uintptr_t)r, 0);
    }
}

/* ---- foreground (every structural step runs with levels 1..3 held off) ---- */

static struct tobj *victims_tmp[NODES];
static struct blist list = {.head = &roots[0], .nodes = NODES, .write_links = true, .tmp = victims_tmp};

/* Verify the log and the structure; returns the number of nodes. */
static size_t verify_all(void) {
    unsigned w = atomic_load_explicit(&log_w, memory_order_acquire);
    for (; log_r != w; log_r++) {
        unsigned kase = logbuf[log_r % LOG_SIZE].kase;
        if (bl_verify_victim(logbuf[log_r % LOG_SIZE].obj, logbuf[log_r % LOG_SIZE].serial, kase))
            atomic_fetch_add(&survived[kase], 1);
    }
    return bl_verify_structure(&list);
}

/* Append nodes up to NODES, shrink grown ones, then deal the victims out again (one per node, slot a,
 * in random order). No allocation after the victims leave their slots (no collection can run). */
static void maintain(uint64_t *rng) { bl_maintain(&list, verify_all(), rng); }

static bool all_cases_seen(void) {
    for (unsigned k = 0; k < NCASES; k++)
        if (atomic_load(&happened[k]) == 0 || atomic_load(&survived[k]) == 0)
            return false;
    return true;
}

static void report_progress(double elapsed) {
    printf("[%.0f s] cases %lu/%lu/%lu, failures %lu\n", elapsed, atomic_load(&happened[0]),
           atomic_load(&happened[1]), atomic_load(&happened[2]), tt_async_failures() + tt_failures);
}

int tt_barrier(void) {
    const char *name = "barrier";
    bl_setup(&list, name, heap_mem, sizeof heap_mem, roots, sizeof roots, rngs, 4);
    if (tt_sim_init(3, 3) != 0)
        return tt_summary(name);
    for (unsigned l = 1; l <= 3; l++)
        rgc_sim_attach(l, handler, NULL);
    rgc_sim_timer(1, 700000);
    rgc_sim_timer(2, 1100000);
    TT_CHECK(tt_storm_begin(3, 3, tt_seed_for(tt_opt.seed, 99)) == 0, "storm start");

    /* The cases need a collection suspended at the right moment: on a loaded host a short budget can
     * miss one, so keep going (at most 3 budgets) until each has happened and been verified. */
    uint64_t t0 = 0, t_end = 0;
    unsigned long fg_collections = 0;
    for (int budget = 0; budget < 3 && !all_cases_seen(); budget++) {
        uint64_t start;
        fg_collections +=
            tt_foreground_rounds("barrier foreground", maintain, &rngs[0], report_progress, &start, &t_end);
        if (budget == 0)
            t0 = start;
    }
    tt_quiesce();
    double secs = tt_sec(t_end - t0);
    (void)verify_all();
    TT_CHECK(rgc_check(&tt_heap) == RGC_OK, "rgc_check at the end");
    {
        rgc_stats vs; /* RGC_VERIFY builds: no marked object ever referred to an unmarked one */
        rgc_get_stats(&tt_heap, &vs);
        TT_CHECK(vs.verify_reports == 0, "tri-colour verifier: %u black->white edges", (unsigned)vs.verify_reports);
    }

    printf("  collections: level 0 %lu, level 1 %lu (busy %lu), level 2 %lu (busy %lu); level-3 "
           "interrupts that found a collection marking below: %lu\n",
           fg_collections, atomic_load(&collect_ok[1]), atomic_load(&collect_busy[1]),
           atomic_load(&collect_ok[2]), atomic_load(&collect_busy[2]), atomic_load(&marking_hits));
    for (unsigned k = 0; k < NCASES; k++)
        printf("  %-20s attempted %6lu, happened %6lu (collector at level 0/1/2: %lu/%lu/%lu), victims "
               "verified after the collection %lu\n",
               case_name[k], atomic_load(&attempts[k]), atomic_load(&happened[k]),
               atomic_load(&by_collector[0][k]), atomic_load(&by_collector[1][k]),
               atomic_load(&by_collector[2][k]), atomic_load(&survived[k]));
    printf("  no candidate %lu, realloc grew in place %lu, realloc failed %lu, nodes freed %ld, log "
           "overflow %lu\n",
           atomic_load(&no_candidates), atomic_load(&realloc_in_place), atomic_load(&realloc_failed),
           atomic_load(&nodes_freed), atomic_load(&log_overflow));
    tt_print_sim(secs);
    for (unsigned k = 0; k < NCASES; k++)
        TT_CHECK(atomic_load(&happened[k]) > 0 && atomic_load(&survived[k]) > 0,
                 "the %s case never happened (or was never verified)", case_name[k]);
    TT_CHECK(atomic_load(&log_overflow) == 0, "log overflow");
    return tt_summary(name);
}
