/* t_handler_collect.c - scenario 4, collections inside handlers at every level (torture.handler_collect).
 *
 * Objects held only in locals (volatile stack arrays: in no root range, in no heap object) of the
 * foreground and of interrupted handlers must survive a collection run by a handler above them: the
 * port scans every interrupted context's stack and registers.
 *   chain:  for each target level T = 1..N in turn, the foreground allocates HOLD objects into its
 *           stack, leaves garbage behind and raises level 1; level L < T does the same and raises
 *           L + 1 (delivered at once, nested); level T collects (must be RGC_OK: nothing else runs).
 *           Then every level, on the way back down, verifies its objects: canary intact, rgc_size
 *           unchanged. The garbage must have been freed (the collection did run).
 *   storm:  every level is raised at random at the host's maximum rate; each handler (and the
 *           foreground, in a loop) allocates a few stack-held objects, re-verifies them while it is
 *           likely to be preempted, collects now and then (RGC_OK, or RGC_BUSY when one runs), and
 *           verifies them once more at the end. Holds during which a collection completed above are
 *           counted per level.
 */
#define _GNU_SOURCE
#include <string.h>

#include "torture.h"

#define LEVELS 8
#define HOLD 4
#define HEAP_BYTES (128 * 1024)

static _Alignas(64) unsigned char heap_mem[HEAP_BYTES];
static uint64_t rngs[LEVELS + 1];
static volatile unsigned chain_target; /* 0: storm mode */
static _Atomic bool storm_on;

static _Atomic unsigned long chain_rounds[LEVELS + 1], chain_garbage_freed[LEVELS + 1], holds[LEVELS + 1],
    holds_across[LEVELS + 1], coll_ok[LEVELS + 1], coll_busy[LEVELS + 1], alloc_fail[LEVELS + 1],
    verified[LEVELS + 1];

/* Allocate HOLD objects into the caller's stack array; their sizes into size[]. */
static void hold_alloc(struct tobj *volatile *obj, size_t *size, unsigned level, uint64_t *rng) {
    for (int i = 0; i < HOLD; i++) {
        struct tobj *o = tobj_new(&tt_heap, 0, (size_t)tt_below(rng, 24));
        obj[i] = o;
        size[i] = o ? rgc_size(&tt_heap, o) : 0;
        if (o == NULL)
            atomic_fetch_add(&alloc_fail[level], 1);
    }
}

static bool hold_verify(struct tobj *volatile *obj, const size_t *size, unsigned level, const char *when) {
    bool ok = true;
    for (int i = 0; i < HOLD; i++) {
        struct tobj *o = obj[i];
        if (o == NULL)
            continue;
        int bad = tobj_verify(&tt_heap, o, 0);
        size_t sz = rgc_size(&tt_heap, o);
        if (bad != TT_OK || sz != size[i]) {
            tt_fail(when, level, (uintptr_t)o, bad != TT_OK ? (uintptr_t)bad : (uintptr_t)sz);
            ok = false;
        }
    }
    atomic_fetch_add(&verified[level], 1);
    return ok;
}

static void hold_release(struct tobj *volatile *obj, uint64_t *rng) {
    for (int i = 0; i < HOLD; i++) {
        if (obj[i] != NULL && tt_below(rng, 2))
            rgc_free(&tt_heap, obj[i]);
        obj[i] = NULL;
    }
}

static void garbage(uint64_t *rng) {
    for (int i = 0; i < 8; i++)
        (void)tobj_new(&tt_heap, 0, (size_t)tt_below(rng, 8));
}

static void collect(unsigned level) {
    int r = rgc_collect(&tt_heap);
    if (r == RGC_OK)
        atomic_fetch_add(&coll_ok[level], 1);
    else if (r == RGC_BUSY)
        atomic_fetch_add(&coll_busy[level], 1);
    else
        tt_fail("handler_collect: rgc_collect failed", level, (uintptr_t)r, 0);
}

/* One level of the chain (the foreground is level 0). */
static void chain_step(unsigned level) {
    unsigned target = chain_target;
    uint64_t *rng = &rngs[level];
    struct tobj *volatile obj[HOLD];
    size_t size[HOLD];
    hold_alloc(obj, size, level, rng);
    garbage(rng);
    if (level < target) {
        rgc_sim_pend(level + 1u);
    } else {
        rgc_stats before, after;
        rgc_get_stats(&tt_heap, &before);
        int r = rgc_collect(&tt_heap);
        rgc_get_stats(&tt_heap, &after);
        if (r != RGC_OK)
            tt_fail("handler_collect chain: the collection at the target level did not run", level,
                    (uintptr_t)r, 0);
        else
            atomic_fetch_add(&coll_ok[level], 1);
        atomic_fetch_add(&chain_rounds[level], 1);
        if (after.objects < before.objects)
            atomic_fetch_add(&chain_garbage_freed[level], before.objects - after.objects);
    }
    hold_verify(obj, size, level,
                "handler_collect chain: a stack-held object was freed or damaged by a "
                "collection above it (a = object, b = bad code or rgc_size)");
    hold_release(obj, rng);
}

/* Storm mode: hold, spin verifying (preemption window), maybe collect, verify. */
static void storm_step(unsigned level) {
    uint64_t *rng = &rngs[level];
    struct tobj *volatile obj[HOLD];
    size_t size[HOLD];
    uint32_t c0 = atomic_load_explicit(&core_of(&tt_heap)->collections, memory_order_relaxed);
    hold_alloc(obj, size, level, rng);
    unsigned passes = 1u + (unsigned)tt_below(rng, 4);
    for (unsigned p = 0; p < passes; p++) {
        if (!hold_verify(obj, size, level,
                         "handler_collect storm: a stack-held object was freed or damaged "
                         "while its level was preempted"))
            break;
        if (tt_below(rng, 8) == 0)
            collect(level);
    }
    garbage(rng);
    hold_verify(obj, size, level, "handler_collect storm: a stack-held object was freed or damaged");
    atomic_fetch_add(&holds[level], 1);
    if (atomic_load_explicit(&core_of(&tt_heap)->collections, memory_order_relaxed) != c0)
        atomic_fetch_add(&holds_across[level], 1);
    hold_release(obj, rng);
}

static void handler(unsigned level, void *arg) {
    (void)arg;
    if (chain_target != 0)
        chain_step(level);
    else if (atomic_load_explicit(&storm_on, memory_order_relaxed))
        storm_step(level);
}

int tt_handler_collect(void) {
    const char *name = "handler_collect";
    printf("torture.%s: %u levels, seed %ju, %.1f s, %s build\n", name, LEVELS, (uintmax_t)tt_opt.seed,
           tt_opt.seconds, RGC_ATOMICS_VIA_MASK ? "masked-atomics" : "compare-and-swap");
    memset(&tt_heap, 0, sizeof tt_heap);
    TT_CHECK(rgc_init(&tt_heap, heap_mem, sizeof heap_mem) == RGC_OK, "rgc_init");
    for (unsigned l = 1; l <= LEVELS; l++)
        rgc_level_policy(&tt_heap, l, RGC_AUTO_COLLECT);
    for (unsigned l = 0; l <= LEVELS; l++)
        rngs[l] = tt_seed_for(tt_opt.seed, l);
    if (tt_sim_init(LEVELS, LEVELS) != 0)
        return tt_summary(name);
    for (unsigned l = 1; l <= LEVELS; l++)
        rgc_sim_attach(l, handler, NULL);

    uint64_t t0 = tt_now_ns(), budget = (uint64_t)(tt_opt.seconds * 1e9), progress = 0;
    /* chain: a third of the time */
    uint64_t deadline = t0 + budget / 3;
    unsigned long rounds = 0;
    while (tt_time_left(deadline) || rounds < 4u * LEVELS) {
        chain_target = 1u + (unsigned)(rounds % LEVELS);
        chain_step(0);
        rounds++;
        if (rounds % 64 == 0)
            rgc_collect(&tt_heap); /* the chain's garbage that stale stack words kept */
    }
    chain_target = 0;
    uint64_t t_chain = tt_now_ns();

    /* storm: the rest */
    atomic_store(&storm_on, true);
    TT_CHECK(tt_storm_begin(1, LEVELS, tt_seed_for(tt_opt.seed, 99)) == 0, "storm start");
    deadline = t0 + budget;
    while (tt_time_left(deadline)) {
        storm_step(0);
        tt_mask_leaked("handler_collect foreground");
        if (tt_progress_due(&progress))
            printf("[%.0f s] holds %lu, failures %lu\n", tt_sec(tt_now_ns() - t0), atomic_load(&holds[0]),
                   tt_async_failures() + tt_failures);
    }
    uint64_t t_end = tt_now_ns();
    tt_quiesce();
    atomic_store(&storm_on, false);
    TT_CHECK(rgc_check(&tt_heap) == RGC_OK, "rgc_check at the end");

    printf("  chain (%.2f s, %lu rounds): collection at level T with levels 0..T-1 holding %d stack objects "
           "each\n  ",
           tt_sec(t_chain - t0), rounds, HOLD);
    for (unsigned l = 1; l <= LEVELS; l++)
        printf(" T=%u: %lu rounds, %lu freed;", l, atomic_load(&chain_rounds[l]),
               atomic_load(&chain_garbage_freed[l]));
    printf("\n  storm (%.2f s): level  holds  across-a-collection  collect ok/busy  failed allocs\n",
           tt_sec(t_end - t_chain));
    for (unsigned l = 0; l <= LEVELS; l++)
        printf("    L%u %9lu %9lu %12lu/%-8lu %lu\n", l, atomic_load(&holds[l]),
               atomic_load(&holds_across[l]), atomic_load(&coll_ok[l]), atomic_load(&coll_busy[l]),
               atomic_load(&alloc_fail[l]));
    tt_print_sim(tt_sec(t_end - t_chain));
    for (unsigned l = 1; l <= LEVELS; l++) {
        TT_CHECK(atomic_load(&chain_rounds[l]) > 0, "the chain never collected at level %u", l);
        TT_CHECK(atomic_load(&chain_garbage_freed[l]) > 0,
                 "collections at level %u never freed any garbage (did they run?)", l);
    }
    unsigned long across = 0;
    for (unsigned l = 0; l < LEVELS; l++)
        across += atomic_load(&holds_across[l]);
    TT_CHECK(across > 0, "no hold below level %u spanned a collection in the storm", LEVELS);
    return tt_summary(name);
}
