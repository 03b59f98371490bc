/* t_barrier_step.c - the snapshot barrier between steps (torture.barrier_step, issue 6).
 *
 * The cases of t_barrier.c, but the collection is paused between two steps instead of suspended below a
 * handler, and the foreground itself performs them. The heap holds one linked list (head in a root
 * range) of NODES holders [next, a, b]; every victim is referenced from exactly one a/b slot. The
 * foreground starts a collection with a small step and advances it in steps (budgets 1..32); timer
 * handlers at levels 1 and 2 run steps of it too (whichever level runs the next step). Marking traces
 * the list depth first, so between two steps the list splits into a scanned prefix and an unscanned
 * rest. Once per collection, between two steps and with levels 1..2 held off (so no step runs in the
 * middle of it), the foreground looks at the allocation table and picks an unscanned holder u (HEAD,
 * victims HEAD) and scanned holders s (MARK, next and victims MARK) with empty slots, and does one of
 *   move:    rgc_write(&s->slot, V); rgc_write(&u->slot, NULL)   (V checked MARK at once)
 *   free:    every victim of u into scanned holders, then rgc_free(u) with its slots still set, then
 *            unlink u (u checked MARK: shaded, release deferred)
 *   realloc: u2 = rgc_realloc(u, bigger, true); relink u2 (born black, never scanned: the victims
 *            survive only because the old copy is shaded; checked MARK)
 * One case per collection: nothing else shades during it (the handlers only step), so a missing shade
 * loses the victim. Every victim involved is logged with the collection's number; once that collection
 * has completed the foreground verifies each (canary, serial, rgc_size) and the whole structure, then -
 * between collections, held off - replenishes freed nodes, shrinks grown ones and reshuffles victims.
 */
#define _GNU_SOURCE
#include <string.h>

#include "rgc_port.h"
#include "barrier_common.h"

#define NODES 1200
#define HEAP_BYTES (256 * 1024)
#define LOG_SIZE 4096

static _Alignas(64) unsigned char heap_mem[HEAP_BYTES];
static void *roots[2]; /* roots[0]: list head */

static uint64_t rngs[3];
static unsigned long attempts[NCASES], happened[NCASES], survived[NCASES], no_candidates, realloc_in_place,
    realloc_failed, nodes_freed, log_overflow, fg_steps, fg_done, paused_collections;
static _Atomic unsigned long h_steps[3], h_done[3], h_busy[3], h_bad[3];

static struct {
    struct tobj *obj;
    uintptr_t serial;
    unsigned kase;
    uint32_t collection; /* the number of collections completed before the one it happened in */
} logbuf[LOG_SIZE];
static unsigned log_w, log_r;

static void log_victim(struct tobj *v, unsigned kase, uint32_t coll) {
    if (log_w - log_r >= LOG_SIZE) {
        log_overflow++;
        return;
    }
    logbuf[log_w % LOG_SIZE].obj = v;
    logbuf[log_w % LOG_SIZE].serial = v->serial;
    logbuf[log_w % LOG_SIZE].kase = kase;
    logbuf[log_w % LOG_SIZE].collection = coll;
    log_w++;
}

static uint32_t completed(void) { return atomic_load_explicit(&core_of(&tt_heap)->collections, memory_order_relaxed); }

/* One case, between two steps, with the handlers held off. True when it happened. */
static bool barrier_case(unsigned kase, uint64_t *rng) {
    uint32_t coll = completed();
    attempts[kase]++;
    unsigned long seen = 0;
    struct bl_cand c;
    bl_candidates(roots[0], &c, &seen, rng);
    if (c.nh == 0 || (kase != C_REALLOC && c.ne < 2)) {
        no_candidates++;
        return false;
    }
    unsigned pick = (unsigned)tt_below(rng, c.nh);
    struct node *u = c.hold[pick], *p = c.prev_of[pick];
    int bad, bad_slot = bl_corrupt_victim(u, &bad);
    if (bad_slot >= 0) {
        TT_CHECK(false, "barrier_step: victim %p corrupt before the case (%s)", (void *)u->slot[bad_slot],
                 tt_bad_name[bad]);
        return false;
    }
    unsigned e0, e1;
    bl_two_empty(&c, rng, &e0, &e1);
    if (kase == C_MOVE) {
        struct tobj *v = bl_move(u, c.empty[e0]);
        TT_CHECK(st(v) == AT_MARK, "move: overwriting the only reference between steps did not shade %p (state %d)",
                 (void *)v, st(v));
        log_victim(v, C_MOVE, coll);
    } else if (kase == C_FREE) {
        unsigned e = e0;
        for (int k = 0; k < 2; k++) {
            if (u->slot[k] != NULL) {
                rgc_write(&tt_heap, (void **)c.empty[e], u->slot[k]);
                log_victim(u->slot[k], C_FREE, coll);
                e = e1;
            }
        }
        struct node *n = u->next;
        rgc_free(&tt_heap, u);
        TT_CHECK(st(u) == AT_MARK, "free: rgc_free between steps did not shade and defer %p (state %d)", (void *)u,
                 st(u));
        rgc_write(&tt_heap, (void **)&p->next, n);
        nodes_freed++;
    } else {
        size_t size = rgc_size(&tt_heap, u);
        if (size > 8 * RGC_BLOCK_BYTES) {
            no_candidates++;
            return false;
        }
        struct node *u2 = rgc_realloc(&tt_heap, u, size + RGC_BLOCK_BYTES * (1 + tt_below(rng, 3)), true);
        if (u2 == NULL) {
            realloc_failed++;
            return false;
        }
        if (u2 == u) {
            realloc_in_place++;
            return false;
        }
        TT_CHECK(st(u) == AT_MARK, "realloc: the old copy %p was not shaded (state %d)", (void *)u, st(u));
        TT_CHECK(st(u2) == AT_MARK, "realloc: the new copy %p was not born marked (state %d)", (void *)u2, st(u2));
        for (int k = 0; k < 2; k++)
            if (u2->slot[k] != NULL)
                log_victim(u2->slot[k], C_REALLOC, coll);
        rgc_write(&tt_heap, (void **)&p->next, u2);
    }
    happened[kase]++;
    return true;
}

/* Levels 1 and 2: run a step of the paused collection now and then (never start one). RGC_BUSY when a
 * step executes below, or a lower level is inside any other rgc call (the phase must not move under it). */
static void handler(unsigned level, void *arg) {
    (void)arg;
    uint64_t *rng = &rngs[level];
    unsigned below = tt_collector(&tt_heap);
    if (tt_phase(&tt_heap) == PHASE_IDLE || tt_below(rng, 2) != 0)
        return;
    bool in_call = false;
    for (unsigned l = 0; l < level; l++)
        in_call |= atomic_load_explicit(&core_of(&tt_heap)->depth[l], memory_order_relaxed) != 0;
    int r = rgc_collect_step(&tt_heap, 1 + (size_t)tt_below(rng, 16));
    atomic_fetch_add(&h_steps[level], 1);
    if (r == 0)
        atomic_fetch_add(&h_done[level], 1);
    if (below != 0 || in_call ? r != RGC_BUSY : (r != 0 && r != 1)) {
        atomic_fetch_add(&h_bad[level], 1);
        tt_fail("barrier_step: handler step result", level, (uintptr_t)r, below);
    } else if (r == RGC_BUSY) {
        atomic_fetch_add(&h_busy[level], 1);
    }
}

/* ---- structure (between collections, with the handlers held off) ---- */

static struct tobj *victims_tmp[NODES];
static struct blist list = {.head = &roots[0], .nodes = NODES, .write_links = false, .tmp = victims_tmp};

/* Verify the logged victims of completed collections and the structure; returns the number of nodes. */
static size_t verify_all(void) {
    uint32_t done = completed();
    for (; log_r != log_w && logbuf[log_r % LOG_SIZE].collection < done; log_r++) {
        unsigned kase = logbuf[log_r % LOG_SIZE].kase;
        if (bl_verify_victim(logbuf[log_r % LOG_SIZE].obj, logbuf[log_r % LOG_SIZE].serial, kase))
            survived[kase]++;
    }
    return bl_verify_structure(&list);
}

/* No collection in progress (plain stores: nothing may be marking). */
static void maintain(uint64_t *rng) { bl_maintain(&list, verify_all(), rng); }

static bool all_cases_seen(void) {
    for (unsigned k = 0; k < NCASES; k++)
        if (happened[k] == 0 || survived[k] == 0)
            return false;
    return true;
}

/* The first step of a collection, from a scrubbed stack (stale words would be conservative roots). */
TT_NOINLINE static int first_step(size_t budget) {
    tt_scrub_stack();
    return rgc_collect_step(&tt_heap, budget);
}

static void run_rounds(uint64_t deadline, uint64_t *rng) {
    uint64_t next_progress = 0, t0 = tt_now_ns();
    while (tt_time_left(deadline)) {
        /* between collections: verify, maintain, start the next one (all held off) */
        rgc_mask_state m = rgc_port_mask();
        if (tt_phase(&tt_heap) != PHASE_IDLE)
            TT_CHECK(rgc_collect_finish(&tt_heap) == RGC_OK, "rgc_collect_finish");
        maintain(rng);
        uint32_t coll = completed();
        unsigned kase = coll % NCASES;
        int r = first_step(1);
        fg_steps++;
        rgc_port_unmask(m);
        TT_CHECK(r == 1, "the first step of a collection over %d nodes returned %d", NODES, r);
        bool done_case = false;
        paused_collections++;
        /* steps until it completes (whoever runs the last one); the case once, between two steps */
        while (completed() == coll) {
            if (!done_case && tt_phase(&tt_heap) == PHASE_MARK && tt_below(rng, 8) == 0) {
                m = rgc_port_mask();
                if (completed() == coll && tt_phase(&tt_heap) == PHASE_MARK)
                    done_case = barrier_case(kase, rng) || tt_below(rng, 4) == 0;
                rgc_port_unmask(m);
            }
            r = rgc_collect_step(&tt_heap, 1 + (size_t)tt_below(rng, 32));
            fg_steps++;
            if (r == 0)
                fg_done++;
            else if (r != 1)
                TT_CHECK(false, "foreground step returned %d", r);
            if (!tt_time_left(deadline + 2000000000u)) {
                TT_CHECK(false, "a collection did not complete");
                break;
            }
        }
        tt_mask_leaked("barrier_step foreground");
        if (tt_progress_due(&next_progress))
            printf("[%.0f s] cases %lu/%lu/%lu, failures %lu\n", tt_sec(tt_now_ns() - t0), happened[0], happened[1],
                   happened[2], tt_async_failures() + tt_failures);
    }
}

int tt_barrier_step(void) {
    const char *name = "barrier_step";
    bl_setup(&list, name, heap_mem, sizeof heap_mem, roots, sizeof roots, rngs, 3);
    if (tt_sim_init(2, 2) != 0)
        return tt_summary(name);
    rgc_sim_attach(1, handler, NULL);
    rgc_sim_attach(2, handler, NULL);
    rgc_sim_timer(1, 70000);
    rgc_sim_timer(2, 110000);

    /* Keep going (at most 3 budgets) until every case has happened and been verified. */
    uint64_t t0 = tt_now_ns(), t_end = t0;
    for (int budget = 0; budget < 3 && (budget == 0 || !all_cases_seen()); budget++) {
        run_rounds(tt_now_ns() + (uint64_t)(tt_opt.seconds * 1e9), &rngs[0]);
        t_end = tt_now_ns();
    }
    tt_quiesce();
    if (tt_phase(&tt_heap) != PHASE_IDLE)
        TT_CHECK(rgc_collect_finish(&tt_heap) == RGC_OK, "rgc_collect_finish at the end");
    (void)verify_all();
    TT_CHECK(log_r == log_w, "%u logged victims not verified", log_w - log_r);
    TT_CHECK(rgc_check(&tt_heap) == RGC_OK, "rgc_check at the end");
    {
        rgc_stats vs; /* RGC_VERIFY builds: no marked object ever referred to an unmarked one */
        rgc_get_stats(&tt_heap, &vs);
        TT_CHECK(vs.verify_reports == 0, "tri-colour verifier: %u black->white edges", (unsigned)vs.verify_reports);
    }
    rgc_stats hs;
    rgc_get_stats(&tt_heap, &hs);
    TT_CHECK(hs.misuse == 0, "misuse counted: %u", hs.misuse);

    double secs = tt_sec(t_end - t0);
    printf("  collections %u (%lu started by the foreground), steps: foreground %lu (%lu finished one), level 1 "
           "%lu (%lu finished, %lu busy), level 2 %lu (%lu finished, %lu busy)\n",
           hs.collections, paused_collections, fg_steps, fg_done, atomic_load(&h_steps[1]),
           atomic_load(&h_done[1]), atomic_load(&h_busy[1]), atomic_load(&h_steps[2]), atomic_load(&h_done[2]),
           atomic_load(&h_busy[2]));
    for (unsigned k = 0; k < NCASES; k++)
        printf("  %-20s attempted %6lu, happened %6lu, victims verified after the collection %lu\n", case_name[k],
               attempts[k], happened[k], survived[k]);
    printf("  no candidate %lu, realloc grew in place %lu, realloc failed %lu, nodes freed %lu, log overflow %lu, "
           "deferred frees %u\n",
           no_candidates, realloc_in_place, realloc_failed, nodes_freed, log_overflow, hs.deferred_frees);
    tt_print_sim(secs);
    for (unsigned k = 0; k < NCASES; k++)
        TT_CHECK(happened[k] > 0 && survived[k] > 0, "the %s case never happened (or was never verified)",
                 case_name[k]);
    TT_CHECK(atomic_load(&h_steps[1]) + atomic_load(&h_steps[2]) > 0, "the handlers never ran a step");
    TT_CHECK(log_overflow == 0, "log overflow");
    return tt_summary(name);
}
