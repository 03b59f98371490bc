/* t_incremental.c - incremental collection under storms (torture.incremental, issue 6).
 *
 * The foreground (level 0) and every storm level 1..LEVELS own linked structures: lists of canary nodes
 * [next, aux] whose heads live in root ranges, each node optionally holding an aux child. Each owner
 * mutates only its own lists (a level never preempts itself, so its bookkeeping - length and serial sum
 * of every list - is exact whenever it runs), with every pointer store into an existing object or root
 * through rgc_write / rgc_swap:
 *   push (new node, maybe with a new child), append at the tail, pop (then free node and child, or
 *   drop them), splice (cut a list and append its rest to another), move an aux child from one node to
 *   another (rgc_swap), resize a node with rgc_realloc (moving: the predecessor is relinked), drop a
 *   whole list, verify a list (every canary, the length and serial sum against the bookkeeping);
 * plus a shared table of objects handed between levels with rgc_swap (take, verify, put back / free /
 * drop). Collections advance in steps: the foreground runs rgc_collect_step(budget) after every
 * operation (budgets 1..256), the handlers run steps too (RGC_BUSY exactly when they preempted a step or
 * collection, else 0 or 1), now and then a full rgc_collect or rgc_collect_finish, and level-0
 * allocations are paced (rgc_set_pacing + rgc_set_threshold). The top level runs rgc_check at random
 * instants. At the end every list of every owner is verified, the heap checked, no misuse counted, and
 * once everything is dropped two collections leave (almost) nothing.
 */
#define _GNU_SOURCE
#include <string.h>

#include "torture.h"

#define LEVELS 6
#define HEAP_BYTES (384 * 1024)
#define FG_LISTS 24
#define FG_MAXLEN 48
#define LV_LISTS 4
#define LV_MAXLEN 10
#define SHARED 128
#define MAX_LISTS FG_LISTS

static _Alignas(64) unsigned char heap_mem[HEAP_BYTES];
static void *heads[LEVELS + 1][MAX_LISTS]; /* root range: every owner's list heads */
static void *shared[SHARED];               /* root range: objects handed between levels (rgc_swap) */

struct owner {
    unsigned level, nlists, maxlen;
    size_t len[MAX_LISTS];
    uintptr_t sum[MAX_LISTS]; /* serials of the nodes and their aux children */
    uint64_t rng;
};
static struct owner owners[LEVELS + 1];

struct counters {
    _Atomic uint64_t runs, ops, allocs, alloc_fail, frees, drops, splices, aux_moves, reallocs, moves,
        verifies, steps, step_done, step_busy, step_busy_expected, collects, collect_busy, finishes, checks,
        shared_ops, in_step, refused_in_call;
};
static struct counters cnt[LEVELS + 1];
static _Atomic bool handlers_on;

static inline void inc(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }

static const size_t budgets[] = {1, 4, 16, 64, 256};

/* A level below `level` is suspended inside an rgc call. A step (or finish, or full collection finishing
 * a paused one) from above must not move the collection's phase under such a call - it may hold a
 * decision taken under the current phase (born colour, whether to shade what rgc_swap has just swapped
 * out, whether to defer a free); before the core refused that, this scenario crashed within a few runs
 * (masked-atomics build: an interrupt pending during the exchange's masked window runs right between
 * the exchange and the shade). rgc.h: such requests return RGC_BUSY. */
static bool lower_level_in_call(unsigned level) {
    for (unsigned l = 0; l < level; l++)
        if (atomic_load_explicit(&core_of(&tt_heap)->depth[l], memory_order_relaxed) != 0)
            return true;
    return false;
}

/* ---- nodes ---- */
#define NODE_LINKS 2u

static size_t rand_words(uint64_t *rng) {
    return tt_below(rng, 8) == 0 ? 8 + (size_t)tt_below(rng, 40) : (size_t)tt_below(rng, 6);
}

static struct tobj *new_node(struct owner *w, struct counters *c) {
    struct tobj *n = tobj_new(&tt_heap, NODE_LINKS, rand_words(&w->rng));
    inc(&c->ops);
    if (n == NULL) {
        inc(&c->alloc_fail);
        return NULL;
    }
    inc(&c->allocs);
    if (tt_below(&w->rng, 3) == 0) {
        struct tobj *a = tobj_new(&tt_heap, 0, rand_words(&w->rng));
        inc(&c->ops);
        if (a != NULL) {
            inc(&c->allocs);
            n->link[1] = a; /* a store into an object just allocated: no barrier needed */
        } else {
            inc(&c->alloc_fail);
        }
    }
    return n;
}

static uintptr_t node_sum(const struct tobj *n) {
    const struct tobj *a = n->link[1];
    return n->serial + (a != NULL ? a->serial : 0);
}

static bool node_ok(const struct owner *w, const struct tobj *n, const char *where) {
    int bad = tobj_verify(&tt_heap, n, 0);
    if (bad == TT_OK && tobj_nlinks(n) != NODE_LINKS)
        bad = TT_BAD_META;
    const struct tobj *a = bad == TT_OK ? n->link[1] : NULL;
    if (bad == TT_OK && a != NULL && (bad = tobj_verify(&tt_heap, a, 0)) != TT_OK) {
        tt_fail(where, w->level, (uintptr_t)a, (uintptr_t)bad);
        return false;
    }
    if (bad != TT_OK) {
        tt_fail(where, w->level, (uintptr_t)n, (uintptr_t)bad);
        return false;
    }
    return true;
}

/* Walk list i: every canary, length and serial sum as booked. */
static bool verify_list(struct owner *w, unsigned i) {
    size_t len = 0;
    uintptr_t sum = 0;
    for (struct tobj *n = heads[w->level][i]; n != NULL; n = n->link[0]) {
        if (!node_ok(w, n, "incremental: node or aux canary in a list"))
            return false;
        sum += node_sum(n);
        if (++len > 4 * (size_t)w->maxlen + 4)
            break;
    }
    if (len != w->len[i] || sum != w->sum[i]) {
        tt_fail("incremental: list length or serial sum differs from the owner's bookkeeping", w->level,
                (uintptr_t)len, (uintptr_t)w->len[i]);
        return false;
    }
    return true;
}

/* The slot that refers to node number k (0: the head slot) of list i. */
static void **slot_of(struct owner *w, unsigned i, size_t k) {
    void **s = &heads[w->level][i];
    for (size_t j = 0; j < k && *s != NULL; j++)
        s = &((struct tobj *)*s)->link[0];
    return s;
}

static void dispose(struct owner *w, struct tobj *n, struct counters *c) {
    if (tt_below(&w->rng, 3) == 0) {
        inc(&c->drops); /* node and child: garbage */
        return;
    }
    struct tobj *a = n->link[1];
    if (a != NULL) {
        rgc_write(&tt_heap, &n->link[1], NULL);
        rgc_free(&tt_heap, a);
        inc(&c->frees);
    }
    rgc_free(&tt_heap, n);
    inc(&c->frees);
    inc(&c->ops);
}

static void owner_op(struct owner *w, struct counters *c) {
    uint64_t *rng = &w->rng;
    unsigned i = (unsigned)tt_below(rng, w->nlists);
    void **head = &heads[w->level][i];
    unsigned r = (unsigned)tt_below(rng, 100);
    if (r < 30 && w->len[i] < w->maxlen) { /* push */
        struct tobj *n = new_node(w, c);
        if (n == NULL)
            return;
        n->link[0] = *head; /* new object */
        rgc_write(&tt_heap, head, n);
        w->len[i]++;
        w->sum[i] += node_sum(n);
    } else if (r < 40 && w->len[i] < w->maxlen) { /* append */
        struct tobj *n = new_node(w, c);
        if (n == NULL)
            return;
        void **tail = slot_of(w, i, w->len[i]);
        rgc_write(&tt_heap, tail, n);
        w->len[i]++;
        w->sum[i] += node_sum(n);
    } else if (r < 58) { /* pop */
        struct tobj *n = *head;
        if (n == NULL)
            return;
        if (!node_ok(w, n, "incremental: popped node"))
            return;
        rgc_write(&tt_heap, head, n->link[0]);
        w->len[i]--;
        w->sum[i] -= node_sum(n);
        dispose(w, n, c);
    } else if (r < 66) { /* splice: the rest of list i after k nodes goes to the end of list j */
        unsigned j = (unsigned)tt_below(rng, w->nlists);
        if (j == i || w->len[i] == 0)
            return;
        size_t k = (size_t)tt_below(rng, w->len[i]);
        void **cut = slot_of(w, i, k);
        struct tobj *rest = *cut;
        size_t moved = 0;
        uintptr_t msum = 0;
        for (struct tobj *n = rest; n != NULL; n = n->link[0]) {
            moved++;
            msum += node_sum(n);
        }
        if (w->len[j] + moved > 2 * (size_t)w->maxlen)
            return;
        rgc_write(&tt_heap, cut, NULL); /* the only reference to `rest` is our local now */
        void **tail = slot_of(w, j, w->len[j]);
        rgc_write(&tt_heap, tail, rest);
        w->len[i] -= moved;
        w->sum[i] -= msum;
        w->len[j] += moved;
        w->sum[j] += msum;
        inc(&c->splices);
        inc(&c->ops);
    } else if (r < 76) { /* move an aux child from node a to node b (any of this owner's lists) */
        unsigned j = (unsigned)tt_below(rng, w->nlists);
        if (w->len[i] == 0 || w->len[j] == 0)
            return;
        size_t ka = (size_t)tt_below(rng, w->len[i]), kb = (size_t)tt_below(rng, w->len[j]);
        struct tobj *a = *slot_of(w, i, ka), *b = *slot_of(w, j, kb);
        if (a == b || a->link[1] == NULL)
            return;
        struct tobj *child = a->link[1];
        w->sum[i] -= child->serial;
        struct tobj *old = rgc_swap(&tt_heap, &b->link[1], child); /* b's old child is ours now */
        w->sum[j] += child->serial;
        rgc_write(&tt_heap, &a->link[1], NULL);
        if (old != NULL) {
            w->sum[j] -= old->serial;
            if (tobj_verify(&tt_heap, old, 0) != TT_OK)
                tt_fail("incremental: replaced aux child corrupt", w->level, (uintptr_t)old, 0);
            else if (tt_below(rng, 2))
                rgc_free(&tt_heap, old);
        }
        inc(&c->aux_moves);
        inc(&c->ops);
    } else if (r < 84) { /* resize a node (moving: relink its predecessor) */
        if (w->len[i] == 0)
            return;
        size_t k = (size_t)tt_below(rng, w->len[i]);
        void **s = slot_of(w, i, k);
        struct tobj *n = *s;
        size_t size = rgc_size(&tt_heap, n);
        size_t want = tt_below(rng, 2) && size > 2 * RGC_BLOCK_BYTES
                          ? tobj_bytes(NODE_LINKS, tobj_nwords(n))
                          : size + RGC_BLOCK_BYTES * (1 + tt_below(rng, 3));
        struct tobj *q = rgc_realloc(&tt_heap, n, want, true);
        inc(&c->reallocs);
        inc(&c->ops);
        if (q == NULL) {
            inc(&c->alloc_fail);
            return;
        }
        if (q != n) {
            inc(&c->moves);
            rgc_write(&tt_heap, s, q);
        }
        if (!node_ok(w, q, "incremental: node after rgc_realloc"))
            return;
    } else if (r < 88) { /* drop a whole list now and then */
        if (w->len[i] == 0 || tt_below(rng, 4) != 0)
            return;
        rgc_write(&tt_heap, head, NULL);
        w->len[i] = 0;
        w->sum[i] = 0;
        inc(&c->drops);
    } else if (r < 94) {
        (void)verify_list(w, i);
        inc(&c->verifies);
    } else { /* the shared table: take an object, check it, put it back, free it or drop it */
        size_t s = (size_t)tt_below(rng, SHARED);
        struct tobj *o = rgc_swap(&tt_heap, &shared[s], NULL);
        inc(&c->shared_ops);
        if (o == NULL) {
            o = tobj_new(&tt_heap, 0, rand_words(rng));
            if (o == NULL) {
                inc(&c->alloc_fail);
                return;
            }
            inc(&c->allocs);
        } else if (tobj_verify(&tt_heap, o, 0) != TT_OK) {
            tt_fail("incremental: shared object corrupt", w->level, (uintptr_t)o, 0);
            return;
        } else if (tt_below(rng, 3) == 0) {
            rgc_free(&tt_heap, o);
            inc(&c->frees);
            return;
        } else if (tt_below(rng, 3) == 0) {
            inc(&c->drops);
            return;
        }
        struct tobj *old = rgc_swap(&tt_heap, &shared[s], o);
        if (old != NULL && tobj_verify(&tt_heap, old, 0) != TT_OK)
            tt_fail("incremental: shared object corrupt (put back)", w->level, (uintptr_t)old, 0);
    }
}

/* A step (or full collection, or finish) from a handler: RGC_BUSY exactly when it preempted one, or when
 * a lower level is inside an rgc call and the request would move a collection in progress or leave one
 * paused (a step always may; finish and rgc_collect only when one is in progress). */
static void handler_collect(unsigned level, unsigned below, struct counters *c, uint64_t *rng) {
    unsigned r = (unsigned)tt_below(rng, 64);
    bool in_call = lower_level_in_call(level), in_progress = tt_phase(&tt_heap) != PHASE_IDLE;
    bool busy = below != 0 || (in_call && (r < 56 || in_progress));
    int rc;
    if (r < 56) {
        rc = rgc_collect_step(&tt_heap, budgets[tt_below(rng, 3)]);
        inc(&c->steps);
        if (rc == 0)
            inc(&c->step_done);
    } else if (r < 60) {
        rc = rgc_collect_finish(&tt_heap);
        inc(&c->finishes);
    } else {
        rc = rgc_collect(&tt_heap);
        inc(&c->collects);
    }
    if (busy) {
        inc(&c->step_busy_expected);
        if (below == 0)
            inc(&c->refused_in_call);
        if (rc != RGC_BUSY)
            tt_fail(below != 0 ? "incremental: a collection request above a running step did not return RGC_BUSY"
                               : "incremental: a collection request above a suspended rgc call that would move the "
                                 "collection did not return RGC_BUSY",
                    level, (uintptr_t)rc, below);
        else
            inc(&c->step_busy);
    } else if (rc == RGC_BUSY || rc < 0 || (r >= 56 && rc != RGC_OK)) {
        tt_fail("incremental: a collection request with none running below returned an error", level,
                (uintptr_t)rc, r);
    }
}

static void handler(unsigned level, void *arg) {
    (void)arg;
    struct counters *c = &cnt[level];
    unsigned below = tt_collector(&tt_heap); /* constant while we run: levels below are frozen */
    inc(&c->runs);
    if (below != 0)
        inc(&c->in_step);
    if (!atomic_load_explicit(&handlers_on, memory_order_relaxed))
        return;
    struct owner *w = &owners[level];
    if (level == LEVELS && tt_below(&w->rng, 16) == 0) {
        inc(&c->checks);
        int r = rgc_check(&tt_heap);
        if (r != RGC_OK)
            tt_fail("incremental: rgc_check from the top level", level, (uintptr_t)r, 0);
    }
    unsigned k = 1 + (unsigned)tt_below(&w->rng, 3);
    for (unsigned j = 0; j < k; j++)
        owner_op(w, c);
    if (tt_below(&w->rng, 4) == 0)
        handler_collect(level, below, c, &w->rng);
}

static unsigned cleanup_ok;
static void cleanup_handler(unsigned level, void *arg) {
    (void)level;
    (void)arg;
    cleanup_ok += rgc_collect(&tt_heap) == RGC_OK;
}

static uint64_t total(size_t off) {
    uint64_t n = 0;
    for (unsigned l = 0; l <= LEVELS; l++)
        n += atomic_load((_Atomic uint64_t *)(void *)((char *)&cnt[l] + off));
    return n;
}
#define TOTAL(field) total(offsetof(struct counters, field))

/* A frame of its own, whatever the optimiser does (no inlining, no cloning). */
#if defined(__clang__)
#define OUT_OF_LINE __attribute__((noinline))
#else
#define OUT_OF_LINE __attribute__((noinline, noclone))
#endif

/* The foreground's operations and steps until the deadline. Out of line (never inlined, never cloned)
 * on purpose: owner_op is inlined into whatever calls it, and its spill slots (the node just pushed,
 * the rest of a splice, the target of an aux move) still hold heap pointers when the loop ends. In
 * tt_incremental's own frame - live during the final collections - they were conservative roots: with
 * -O3 (Release) one stale node kept the rest of its level-0 list, 5 to 50 objects, and the "nothing
 * left" check failed in most runs. Here they die with this frame, which tt_collect_clean scrubs. */
OUT_OF_LINE static unsigned long foreground(uint64_t *t0_out, uint64_t *t_end_out) {
    struct owner *fg = &owners[0];
    struct counters *c0 = &cnt[0];
    uint64_t t0 = tt_now_ns(), deadline = t0 + (uint64_t)(tt_opt.seconds * 1e9), progress = 0;
    unsigned long bad_step = 0;
    /* A step must finish a collection at least once: on a loaded host (the ASan build under the storm)
     * the starved foreground may not get there in one budget - keep going, at most 3 budgets. */
    const uint64_t extended = deadline + 2u * (deadline - t0);
    while (tt_time_left(deadline) || (TOTAL(step_done) == 0 && tt_time_left(extended))) {
        tt_areas_sample(&tt_heap);
        for (int j = 0; j < 32; j++) {
            owner_op(fg, c0);
            size_t budget = budgets[tt_below(&fg->rng, sizeof budgets / sizeof budgets[0])];
            int rc = rgc_collect_step(&tt_heap, budget);
            inc(&c0->steps);
            if (rc == 0)
                inc(&c0->step_done);
            else if (rc != 1)
                bad_step++; /* nothing runs below level 0: never RGC_BUSY */
            if (tt_below(&fg->rng, 2048) == 0) {
                TT_CHECK(rgc_collect(&tt_heap) == RGC_OK, "foreground rgc_collect");
                inc(&c0->collects);
            }
        }
        if (tt_below(&fg->rng, 8) == 0) {
            for (unsigned i = 0; i < fg->nlists; i++)
                (void)verify_list(fg, i);
            inc(&c0->verifies);
        }
        tt_mask_leaked("incremental foreground");
        if (tt_progress_due(&progress)) {
            rgc_stats hs;
            rgc_get_stats(&tt_heap, &hs);
            printf("[%.0f s] ops %ju, steps %u, collections %u, failures %lu\n", tt_sec(tt_now_ns() - t0),
                   (uintmax_t)TOTAL(ops), hs.collect_steps, hs.collections, tt_async_failures());
            fflush(stdout);
        }
    }
    *t0_out = t0;
    *t_end_out = tt_now_ns();
    return bad_step;
}

/* Every owner's lists and the shared table, from level 0 with nothing running: exact. Out of line for
 * the same reason as foreground(): the list walks leave node pointers in registers and spill slots. */
OUT_OF_LINE static void verify_all(size_t *nodes_out, size_t *shared_out) {
    size_t nodes = 0;
    for (unsigned l = 0; l <= LEVELS; l++) {
        for (unsigned i = 0; i < owners[l].nlists; i++) {
            (void)verify_list(&owners[l], i);
            nodes += owners[l].len[i];
        }
    }
    size_t shared_live = 0;
    for (size_t s = 0; s < SHARED; s++) {
        if (shared[s] == NULL)
            continue;
        shared_live++;
        if (tobj_verify(&tt_heap, shared[s], 0) != TT_OK)
            tt_fail("incremental: shared object corrupt at the end", 0, (uintptr_t)shared[s], 0);
    }
    *nodes_out = nodes;
    *shared_out = shared_live;
}

int tt_incremental(void) {
    const char *name = "incremental";
    printf("torture.%s: %u levels + foreground, seed %ju, %.1f s, %s build\n", name, LEVELS,
           (uintmax_t)tt_opt.seed, tt_opt.seconds, RGC_ATOMICS_VIA_MASK ? "masked-atomics" : "compare-and-swap");
    memset(&tt_heap, 0, sizeof tt_heap);
    TT_CHECK(tt_heap_init(&tt_heap, heap_mem, sizeof heap_mem) == RGC_OK, "rgc_init (+ areas)");
    TT_CHECK(rgc_add_root(&tt_heap, heads, sizeof heads) == RGC_OK, "rgc_add_root heads");
    TT_CHECK(rgc_add_root(&tt_heap, shared, sizeof shared) == RGC_OK, "rgc_add_root shared");
    rgc_set_threshold(&tt_heap, HEAP_BYTES / 4);
    rgc_set_pacing(&tt_heap, 4);
    for (unsigned l = 0; l <= LEVELS; l++) {
        owners[l].level = l;
        owners[l].nlists = l == 0 ? FG_LISTS : LV_LISTS;
        owners[l].maxlen = l == 0 ? FG_MAXLEN : LV_MAXLEN;
        owners[l].rng = tt_seed_for(tt_opt.seed, l);
    }
    if (tt_sim_init(LEVELS, LEVELS) != 0)
        return tt_summary(name);
    for (unsigned l = 1; l <= LEVELS; l++)
        rgc_sim_attach(l, handler, NULL);
    atomic_store(&handlers_on, true);
    for (unsigned l = 1; l <= LEVELS; l++)
        rgc_sim_timer(l, 1000000000u / (6000u / LEVELS)); /* 6k/s in all */
    TT_CHECK(rgc_sim_storm_start(1, LEVELS, tt_opt.storm_rate, tt_seed_for(tt_opt.seed, 99)) == 0,
             "storm start");

    uint64_t t0, t_end;
    unsigned long bad_step = foreground(&t0, &t_end);
    tt_quiesce();
    atomic_store(&handlers_on, false);
    double secs = tt_sec(t_end - t0);
    TT_CHECK(bad_step == 0, "%lu foreground steps returned neither 0 nor 1", bad_step);

    /* Every owner's lists and the shared table (out of line: see foreground). */
    size_t nodes, shared_live;
    verify_all(&nodes, &shared_live);
    TT_CHECK(rgc_check(&tt_heap) == RGC_OK, "rgc_check at the end");
    {
        rgc_stats vs; /* RGC_VERIFY builds: no marked object ever referred to an unmarked one */
        rgc_get_stats(&tt_heap, &vs);
        TT_CHECK(vs.verify_reports == 0, "tri-colour verifier: %u black->white edges", (unsigned)vs.verify_reports);
    }
    rgc_stats hs;
    rgc_get_stats(&tt_heap, &hs);
    TT_CHECK(hs.misuse == 0, "misuse counted: %u", hs.misuse);
    /* a collection in progress is finished by the foreground; then everything is dropped */
    TT_CHECK(rgc_collect_finish(&tt_heap) == RGC_OK, "rgc_collect_finish at the end");
    memset(heads, 0, sizeof heads);
    memset(shared, 0, sizeof shared);
    /* each level's last call left its in-progress slots published (stale, see ctx_leave): a collection
     * at that level clears them; then nothing but conservative stack words can keep anything */
    for (unsigned l = 1; l <= LEVELS; l++)
        rgc_sim_attach(l, cleanup_handler, NULL);
    for (unsigned l = 1; l <= LEVELS; l++)
        rgc_sim_pend(l);
    tt_collect_clean();
    tt_collect_clean();
    rgc_stats after;
    rgc_get_stats(&tt_heap, &after);
    TT_CHECK(rgc_check(&tt_heap) == RGC_OK, "rgc_check after dropping everything");
    TT_CHECK(cleanup_ok == LEVELS, "cleanup collections at levels 1..%u: %u returned RGC_OK", LEVELS, cleanup_ok);
    TT_CHECK(after.objects <= 4, "%zu objects left after dropping every root and collecting at every level",
             after.objects);

    printf("  level   runs       ops    allocs  failed   frees   drops  splices auxmv reallocs(moved)  steps "
           "(done/busy)  full/finish  in-step\n");
    for (unsigned l = 0; l <= LEVELS; l++) {
        struct counters *c = &cnt[l];
        printf("  L%-2u %8ju %9ju %9ju %7ju %7ju %7ju %7ju %6ju %7ju(%6ju) %7ju (%ju/%ju) %5ju/%-5ju %7ju\n", l,
               (uintmax_t)c->runs, (uintmax_t)c->ops, (uintmax_t)c->allocs, (uintmax_t)c->alloc_fail,
               (uintmax_t)c->frees, (uintmax_t)c->drops, (uintmax_t)c->splices, (uintmax_t)c->aux_moves,
               (uintmax_t)c->reallocs, (uintmax_t)c->moves, (uintmax_t)c->steps, (uintmax_t)c->step_done,
               (uintmax_t)c->step_busy, (uintmax_t)c->collects, (uintmax_t)c->finishes, (uintmax_t)c->in_step);
    }
    tt_print_sim(secs);
    printf("  handler collection requests refused (RGC_BUSY) because a lower level was inside an rgc call: %ju\n",
           (uintmax_t)TOTAL(refused_in_call));
    printf("  heap: %u collections (%.1f/s), %u steps (%.0f per collection), %u refused busy, deferred frees %u, "
           "failed allocs %u; at the end %zu list nodes + %zu shared objects live, %zu B used of %zu; after "
           "dropping everything %zu objects\n",
           hs.collections, hs.collections / secs, hs.collect_steps,
           hs.collections ? (double)hs.collect_steps / hs.collections : 0.0, hs.busy_collections,
           hs.deferred_frees, hs.failed_allocs, nodes, shared_live, hs.used_bytes, hs.total_bytes, after.objects);

    /* What the run must have exercised. */
    TT_CHECK(hs.collections >= 10, "only %u collections completed", hs.collections);
    TT_CHECK(TOTAL(step_done) > 0, "no step ever finished a collection");
    uint64_t handler_steps = TOTAL(steps) - atomic_load(&cnt[0].steps);
    TT_CHECK(handler_steps > 0, "the handlers never ran a step");
    TT_CHECK(TOTAL(step_busy) > 0, "no handler ever preempted a running step (RGC_BUSY never seen)");
    TT_CHECK(TOTAL(splices) > 0 && TOTAL(aux_moves) > 0 && TOTAL(moves) > 0, "splices/aux moves/moving reallocs");
    for (unsigned l = 0; l <= LEVELS; l++)
        TT_CHECK(atomic_load(&cnt[l].ops) > 0, "level %u did no operation", l);
    TT_CHECK(atomic_load(&cnt[LEVELS].checks) > 0, "the top level never ran rgc_check");
    tt_areas_check();
    return tt_summary(name);
}
