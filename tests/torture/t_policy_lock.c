/* t_policy_lock.c - scenario 5, level policy, rgc_lock and the mask ceiling (torture.policy_lock).
 *
 * Six levels, mask ceiling 4: levels 5 and 6 are "system" levels (rgc_sim_apply_ceiling gives them
 * RGC_NO_ALLOC). Policies: levels 0, 1, 3 RGC_AUTO_COLLECT; levels 2 and 4 none.
 *   policy:  with the heap full of garbage and nothing else running, an allocation at level 2 or 4
 *            fails (NULL, failed_allocs + 1, no collection) and one at level 1 or 3 collects and
 *            succeeds (collections + 1).
 *   lock:    with the heap locked (from level 0, and from a handler while a higher level runs inside
 *            it; nested locks), allocation and realloc growth return NULL and rgc_collect returns
 *            RGC_LOCKED at every level 0..4, counted as failed allocations; unlocked they work again;
 *            rgc_unlock below zero is misuse.
 *   ceiling: levels 5 and 6 get NULL from rgc_alloc/rgc_realloc, each attempt counted as misuse;
 *            rgc_port_mask holds off levels 1..4 only.
 *   storm:   every level raised at random; levels 1-4 and the foreground allocate into their own
 *            table slots (never calling rgc_collect: collections are automatic only), sometimes
 *            holding rgc_lock while trying to allocate and collect; a handler that finds the heap
 *            locked by a level below must be refused too. Levels 5 and 6 sample core_of(h)->collector at entry
 *            (which level's collection they interrupted) and try to allocate (refused, misuse).
 *            Levels 2 and 4 must never be seen collecting.
 */
#define _GNU_SOURCE
#include <string.h>

#include "rgc_port.h"
#include "torture.h"

#define LEVELS 6
#define CEILING 4
#define HEAP_BYTES (48 * 1024)
#define PER_LEVEL 48

static _Alignas(64) unsigned char heap_mem[HEAP_BYTES];
static void *table[(CEILING + 1) * PER_LEVEL];
static void *keep[4]; /* objects the deterministic parts resize */
static uint64_t rngs[LEVELS + 1];

static bool policy_auto(unsigned level) { return level == 0 || level == 1 || level == 3; }

/* ---- deterministic parts: a command run at a level (directly at 0, else raised with rgc_sim_pend,
 * which delivers it before returning), its results checked by the foreground ---- */
static void (*volatile cmd)(unsigned level);
static struct {
    void *p, *q;
    int rc, rc2;
    rgc_stats before, after;
} res;

static void at_level(unsigned level, void (*fn)(unsigned)) {
    memset(&res, 0, sizeof res);
    if (level == 0) {
        fn(0);
        return;
    }
    cmd = fn;
    rgc_sim_pend(level);
    cmd = NULL;
}

static void cmd_alloc(unsigned level) {
    (void)level;
    rgc_get_stats(&tt_heap, &res.before);
    res.p = rgc_alloc(&tt_heap, 64, 0);
    rgc_get_stats(&tt_heap, &res.after);
}

static void cmd_locked(unsigned level) {
    (void)level;
    rgc_get_stats(&tt_heap, &res.before);
    res.p = rgc_alloc(&tt_heap, 64, 0);
    res.q = rgc_realloc(&tt_heap, keep[0], rgc_size(&tt_heap, keep[0]) + 512, true);
    res.rc = rgc_collect(&tt_heap);
    rgc_get_stats(&tt_heap, &res.after);
}

static void cmd_unlocked(unsigned level) {
    (void)level;
    res.p = rgc_alloc(&tt_heap, 64, 0);
    res.rc = rgc_collect(&tt_heap);
}

static void cmd_system(unsigned level) {
    (void)level;
    rgc_get_stats(&tt_heap, &res.before);
    res.p = rgc_alloc(&tt_heap, 64, 0);
    res.q = rgc_realloc(&tt_heap, NULL, 64, true);
    void *r = rgc_realloc(&tt_heap, keep[1], rgc_size(&tt_heap, keep[1]) + 64, true);
    res.rc = r == NULL ? 0 : -1;
    rgc_get_stats(&tt_heap, &res.after);
}

/* Fill the heap with garbage (no collection: level 0 policy cleared meanwhile). */
TT_NOINLINE static size_t fill_with_garbage(void) {
    rgc_level_policy(&tt_heap, 0, 0);
    size_t n = 0, limit = HEAP_BYTES / RGC_BLOCK_BYTES;
    rgc_stats s0, s1;
    rgc_get_stats(&tt_heap, &s0);
    while (n < limit && rgc_alloc(&tt_heap, 64, 0) != NULL)
        n++;
    while (n < limit && rgc_alloc(&tt_heap, RGC_BLOCK_BYTES, 0) != NULL)
        n++;
    rgc_get_stats(&tt_heap, &s1);
    TT_CHECK(n < limit && s1.collections == s0.collections,
             "policy: level 0 with its policy cleared collected (%u times) to keep allocating",
             s1.collections - s0.collections);
    rgc_level_policy(&tt_heap, 0, RGC_AUTO_COLLECT);
    return n;
}

static void check_policy(void) {
    for (unsigned level = 1; level <= CEILING; level++) {
        tt_scrub_stack();
        size_t n = fill_with_garbage();
        at_level(level, cmd_alloc);
        uint32_t dc = res.after.collections - res.before.collections;
        uint32_t df = res.after.failed_allocs - res.before.failed_allocs;
        if (policy_auto(level)) {
            TT_CHECK(res.p != NULL && dc == 1 && df == 0,
                     "policy: level %u (RGC_AUTO_COLLECT) on a heap full of garbage (%zu objects): got %p, "
                     "%u collections, %u failed",
                     level, n, res.p, dc, df);
        } else {
            TT_CHECK(res.p == NULL && dc == 0 && df == 1,
                     "policy: level %u (no automatic collection) on a heap full of garbage: got %p, "
                     "%u collections, %u failed (expected NULL, 0, 1)",
                     level, res.p, dc, df);
        }
        rgc_collect(&tt_heap);
    }
}

static void check_locked_everywhere(const char *how) {
    for (unsigned level = 0; level <= CEILING; level++) {
        size_t size0 = rgc_size(&tt_heap, keep[0]);
        at_level(level, cmd_locked);
        uint32_t df = res.after.failed_allocs - res.before.failed_allocs;
        TT_CHECK(res.p == NULL && res.q == NULL && res.rc == RGC_LOCKED && df == 2 &&
                     res.after.collections == res.before.collections,
                 "lock (%s): level %u got alloc %p, realloc %p, collect %d, %u failed, %u collections "
                 "(expected NULL, NULL, RGC_LOCKED, 2, 0)",
                 how, level, res.p, res.q, res.rc, df, res.after.collections - res.before.collections);
        TT_CHECK(rgc_size(&tt_heap, keep[0]) == size0 && tobj_verify(&tt_heap, keep[0], 0) == TT_OK,
                 "lock (%s): a refused realloc at level %u changed the object", how, level);
    }
}

static void check_unlocked_everywhere(const char *how) {
    for (unsigned level = 0; level <= CEILING; level++) {
        at_level(level, cmd_unlocked);
        TT_CHECK(res.p != NULL && res.rc == RGC_OK, "unlocked (%s): level %u got alloc %p, collect %d", how,
                 level, res.p, res.rc);
    }
}

static void check_lock(void) {
    rgc_lock(&tt_heap);
    check_locked_everywhere("locked at level 0");
    rgc_lock(&tt_heap);
    rgc_unlock(&tt_heap);
    check_locked_everywhere("locked twice, unlocked once");
    rgc_unlock(&tt_heap);
    check_unlocked_everywhere("after the last unlock");
    rgc_stats s0, s1;
    rgc_get_stats(&tt_heap, &s0);
    rgc_unlock(&tt_heap);
    rgc_get_stats(&tt_heap, &s1);
    TT_CHECK(s1.misuse == s0.misuse + 1, "rgc_unlock below zero: misuse %u -> %u", s0.misuse, s1.misuse);
}

/* The nested lock case: level L locks and raises L + 1, whose handler runs the same command: it finds
 * the heap locked (from below) and must be refused before locking in turn. Recorded per level. */
static _Atomic unsigned long nested_refused[LEVELS + 1], nested_wrong[LEVELS + 1];
static void cmd_nested(unsigned level);
static void cmd_nested(unsigned level) {
    if (atomic_load(&core_of(&tt_heap)->lock_depth) > 0) {
        void *p = rgc_alloc(&tt_heap, 64, 0);
        int rc = rgc_collect(&tt_heap);
        atomic_fetch_add(p == NULL && rc == RGC_LOCKED ? &nested_refused[level] : &nested_wrong[level], 1);
    }
    if (level < CEILING) {
        rgc_lock(&tt_heap);
        rgc_sim_pend(level + 1u);
        rgc_unlock(&tt_heap);
    }
}

static void check_ceiling(void) {
    for (unsigned level = CEILING + 1; level <= LEVELS; level++) {
        size_t size1 = rgc_size(&tt_heap, keep[1]);
        at_level(level, cmd_system);
        uint32_t dm = res.after.misuse - res.before.misuse;
        TT_CHECK(res.p == NULL && res.q == NULL && res.rc == 0 && dm == 3,
                 "ceiling: level %u (above the ceiling %u) got alloc %p, realloc(NULL) %p, realloc grow %s; "
                 "misuse +%u (expected NULL, NULL, NULL, +3)",
                 level, CEILING, res.p, res.q, res.rc == 0 ? "NULL" : "an object", dm);
        TT_CHECK(rgc_size(&tt_heap, keep[1]) == size1 && tobj_verify(&tt_heap, keep[1], 0) == TT_OK,
                 "ceiling: a refused realloc at level %u changed the object", level);
    }
    /* the port's mask holds off 1..ceiling, never the levels above */
    struct rgc_sim_stats a, b, c;
    rgc_mask_state m = rgc_port_mask();
    rgc_sim_get_stats(&a);
    rgc_sim_pend(CEILING + 1);
    rgc_sim_pend(CEILING);
    rgc_sim_pend(1);
    rgc_sim_get_stats(&b);
    rgc_port_unmask(m);
    rgc_sim_get_stats(&c);
    TT_CHECK(
        b.delivered[CEILING + 1] == a.delivered[CEILING + 1] + 1 &&
            b.delivered[CEILING] == a.delivered[CEILING] && b.delivered[1] == a.delivered[1],
        "mask: while masked, level %u ran %ju times (expected 1), level %u %ju and level 1 %ju (expected 0)",
        CEILING + 1, (uintmax_t)(b.delivered[CEILING + 1] - a.delivered[CEILING + 1]), CEILING,
        (uintmax_t)(b.delivered[CEILING] - a.delivered[CEILING]),
        (uintmax_t)(b.delivered[1] - a.delivered[1]));
    TT_CHECK(c.delivered[CEILING] == a.delivered[CEILING] + 1 && c.delivered[1] == a.delivered[1] + 1,
             "mask: the held-off levels did not run at unmask");
}

/* ---- storm ---- */
static _Atomic bool storm_on;
static _Atomic unsigned long seen_collector[LEVELS + 2], sys_attempts, sys_granted, ops[LEVELS + 1],
    failed[LEVELS + 1], lock_refused[LEVELS + 1], lock_wrong[LEVELS + 1], below_locked[LEVELS + 1];

static void storm_ops(unsigned level) {
    uint64_t *rng = &rngs[level];
    /* a lower level holds the lock: we must be refused */
    if (atomic_load(&core_of(&tt_heap)->lock_depth) > 0) {
        void *p = rgc_alloc(&tt_heap, 32, 0);
        int rc = rgc_collect(&tt_heap);
        atomic_fetch_add(p == NULL && rc == RGC_LOCKED ? &below_locked[level] : &lock_wrong[level], 1);
        if (p != NULL || rc != RGC_LOCKED)
            tt_fail("policy_lock storm: allocation or collection accepted while a lower level held the lock",
                    level, (uintptr_t)p, (uintptr_t)rc);
        return;
    }
    if (tt_below(rng, level == 0 ? 256 : 32) == 0) {
        rgc_lock(&tt_heap);
        void *p = rgc_alloc(&tt_heap, 32, 0);
        int rc = rgc_collect(&tt_heap);
        /* hold the lock a while: a window for higher levels to find it held */
        for (uint64_t until = tt_now_ns() + (level == 0 ? 200000u : 20000u); tt_now_ns() < until;) {
        }
        rgc_unlock(&tt_heap);
        atomic_fetch_add(p == NULL && rc == RGC_LOCKED ? &lock_refused[level] : &lock_wrong[level], 1);
        if (p != NULL || rc != RGC_LOCKED)
            tt_fail("policy_lock storm: allocation or collection accepted while locked", level, (uintptr_t)p,
                    (uintptr_t)rc);
        return;
    }
    for (int k = 0; k < 4; k++) {
        size_t i = level * PER_LEVEL + (size_t)tt_below(rng, PER_LEVEL);
        struct tobj *old = table[i];
        if (old != NULL && tobj_verify(&tt_heap, old, 0) != TT_OK)
            tt_fail("policy_lock storm: canary", level, (uintptr_t)old, 0);
        struct tobj *o = tobj_new(&tt_heap, 0, (size_t)tt_below(rng, 40));
        atomic_fetch_add(&ops[level], 1);
        if (o == NULL) {
            atomic_fetch_add(&failed[level], 1);
            continue;
        }
        rgc_write(&tt_heap, &table[i], o);
        if (old != NULL && tt_below(rng, 2))
            rgc_free(&tt_heap, old);
    }
}

static void handler(unsigned level, void *arg) {
    (void)arg;
    if (cmd != NULL) {
        cmd(level);
        return;
    }
    if (!atomic_load_explicit(&storm_on, memory_order_relaxed))
        return;
    if (level > CEILING) {
        unsigned c = tt_collector(&tt_heap);
        atomic_fetch_add(&seen_collector[c <= LEVELS ? c : LEVELS + 1], 1);
        if (tt_below(&rngs[level], 4) == 0) {
            atomic_fetch_add(&sys_attempts, 1);
            void *p = rgc_alloc(&tt_heap, 32, 0);
            if (p != NULL) {
                atomic_fetch_add(&sys_granted, 1);
                tt_fail("policy_lock storm: allocation granted above the ceiling", level, (uintptr_t)p, 0);
            }
        }
        return;
    }
    storm_ops(level);
}

int tt_policy_lock(void) {
    const char *name = "policy_lock";
    printf("torture.%s: %u levels, ceiling %u, seed %ju, %.1f s, %s build\n", name, LEVELS, CEILING,
           (uintmax_t)tt_opt.seed, tt_opt.seconds,
           RGC_ATOMICS_VIA_MASK ? "masked-atomics" : "compare-and-swap");
    memset(&tt_heap, 0, sizeof tt_heap);
    TT_CHECK(rgc_init(&tt_heap, heap_mem, sizeof heap_mem) == RGC_OK, "rgc_init");
    TT_CHECK(rgc_add_root(&tt_heap, table, sizeof table) == RGC_OK, "rgc_add_root");
    TT_CHECK(rgc_add_root(&tt_heap, keep, sizeof keep) == RGC_OK, "rgc_add_root");
    rgc_level_policy(&tt_heap, 1, RGC_AUTO_COLLECT);
    rgc_level_policy(&tt_heap, 2, 0);
    rgc_level_policy(&tt_heap, 3, RGC_AUTO_COLLECT);
    rgc_level_policy(&tt_heap, 4, 0);
    for (unsigned l = 0; l <= LEVELS; l++)
        rngs[l] = tt_seed_for(tt_opt.seed, l);
    keep[0] = tobj_new(&tt_heap, 0, 4);
    keep[1] = tobj_new(&tt_heap, 0, 4);
    if (tt_sim_init(LEVELS, CEILING) != 0)
        return tt_summary(name);
    rgc_sim_apply_ceiling(&tt_heap);
    for (unsigned l = 1; l <= LEVELS; l++)
        rgc_sim_attach(l, handler, NULL);

    uint64_t t0 = tt_now_ns();
    /* deterministic parts, repeated a few times */
    for (int rep = 0; rep < 3; rep++) {
        check_policy();
        check_lock();
        check_ceiling();
        cmd = cmd_nested;
        rgc_sim_pend(1);
        cmd = NULL;
    }
    for (unsigned l = 2; l <= CEILING; l++)
        TT_CHECK(atomic_load(&nested_refused[l]) == 3 && atomic_load(&nested_wrong[l]) == 0,
                 "lock held by level %u: level %u refused %lu of 3 times", l - 1, l,
                 atomic_load(&nested_refused[l]));
    uint64_t t_det = tt_now_ns();

    /* storm */
    rgc_stats s0;
    rgc_get_stats(&tt_heap, &s0);
    atomic_store(&storm_on, true);
    for (unsigned l = 1; l <= LEVELS; l++)
        rgc_sim_timer(l, 500000u + 100000u * l);
    TT_CHECK(tt_storm_begin(1, LEVELS, tt_seed_for(tt_opt.seed, 99)) == 0, "storm start");
    uint64_t deadline = t0 + (uint64_t)(tt_opt.seconds * 1e9), progress = 0;
    while (tt_time_left(deadline)) {
        for (int j = 0; j < 16; j++)
            storm_ops(0);
        tt_mask_leaked("policy_lock foreground");
        if (tt_progress_due(&progress))
            printf("[%.0f s] failures %lu\n", tt_sec(tt_now_ns() - t0), tt_async_failures() + tt_failures);
    }
    uint64_t t_end = tt_now_ns();
    tt_quiesce();
    atomic_store(&storm_on, false);
    rgc_stats s1;
    rgc_get_stats(&tt_heap, &s1);
    TT_CHECK(rgc_check(&tt_heap) == RGC_OK, "rgc_check at the end");

    double secs = tt_sec(t_end - t_det);
    printf("  deterministic part: %.2f s (policy, lock, nested locks, ceiling and mask checks, 3 rounds)\n",
           tt_sec(t_det - t0));
    printf("  storm (%.2f s): level  policy  allocs  failed  locked-refused  refused-below-a-lock  seen "
           "collecting\n",
           secs);
    for (unsigned l = 0; l <= CEILING; l++)
        printf("    L%u %-6s %9lu %7lu %9lu %14lu %12lu\n", l, policy_auto(l) ? "auto" : "none",
               atomic_load(&ops[l]), atomic_load(&failed[l]), atomic_load(&lock_refused[l]),
               atomic_load(&below_locked[l]), atomic_load(&seen_collector[l + 1]));
    printf("    system levels %u-%u: %lu allocation attempts (refused, misuse +%u), sampled no collection "
           "%lu times\n",
           CEILING + 1, LEVELS, atomic_load(&sys_attempts), s1.misuse - s0.misuse,
           atomic_load(&seen_collector[0]));
    printf("    collections %u, failed allocations %u\n", s1.collections - s0.collections,
           s1.failed_allocs - s0.failed_allocs);
    tt_print_sim(secs);
    TT_CHECK(atomic_load(&seen_collector[1 + 2]) == 0 && atomic_load(&seen_collector[1 + 4]) == 0,
             "levels without RGC_AUTO_COLLECT seen collecting: level 2 %lu times, level 4 %lu times",
             atomic_load(&seen_collector[3]), atomic_load(&seen_collector[5]));
    TT_CHECK(atomic_load(&seen_collector[1]) + atomic_load(&seen_collector[2]) +
                     atomic_load(&seen_collector[4]) >
                 0,
             "the system levels never saw a collection running (the observation is vacuous)");
    TT_CHECK(s1.misuse - s0.misuse == atomic_load(&sys_attempts) && atomic_load(&sys_granted) == 0,
             "misuse +%u for %lu refused system-level attempts", s1.misuse - s0.misuse,
             atomic_load(&sys_attempts));
    unsigned long refused = 0, wrong = 0;
    for (unsigned l = 0; l <= CEILING; l++) {
        refused += atomic_load(&lock_refused[l]) + atomic_load(&below_locked[l]);
        wrong += atomic_load(&lock_wrong[l]);
    }
    TT_CHECK(wrong == 0 && refused > 0, "locked heap: %lu refusals, %lu acceptances", refused, wrong);
    return tt_summary(name);
}
