/* t_born_black.c - scenario 3, born-black allocation (torture.born_black).
 *
 * Collections run at level 0 (foreground loop) and level 1 (timer handler). The storm raises levels 2
 * and 3, whose handlers, when a collection is running below them, allocate objects and store them with
 * rgc_write into a root table (whose scan that collection has already done: only the colour the object
 * was born with keeps it). Each allocation is classified by the collector's phase and sweep position:
 *   mark          phase MARK: must be born MARK (black);
 *   sweep-before  phase SWEEP, HEAD block before core_of(h)->sweep_pos: born HEAD (the sweeper has passed);
 *   sweep-after   phase SWEEP, at or after core_of(h)->sweep_pos: born MARK (the sweeper has yet to pass it).
 * The table state is checked right after the allocation; after the collection ends the foreground
 * verifies every such object (canary, serial, rgc_size) and frees it. Small requests land in the holes
 * the sweep leaves behind it, large ones in the free space ahead of it, so both sweep cases occur.
 * The foreground also churns a live set and leaves garbage behind, so that the sweep has work to do.
 */
#define _GNU_SOURCE
#include <string.h>

#include "rgc_port.h"
#include "torture.h"

#define HEAP_BYTES (1024 * 1024)
#define LIVE 4096
#define BORN 2048 /* per allocating level */

enum { B_MARK, B_BEFORE, B_AFTER, NCASES };
static const char *const case_name[NCASES] = {"mark", "sweep-before", "sweep-after"};

static _Alignas(64) unsigned char heap_mem[HEAP_BYTES];
static void *live[LIVE];
static void *born[2][BORN]; /* levels 2 and 3 */
static struct {
    uintptr_t serial;
    unsigned kase;
} born_info[2][BORN];
static unsigned born_n[2]; /* written by that level's handler, reset by the masked foreground */
/* At most PER_COLLECTION allocations per level and collection (a slow collection, as in -O0 builds,
 * would otherwise let the handlers fill the heap before it ends). */
#define PER_COLLECTION 24
static uint32_t last_collection[2];
static unsigned this_collection[2];

static uint64_t rngs[4];
static _Atomic unsigned long happened[NCASES], survived[NCASES], by_collector[2][NCASES], failed_allocs,
    collect_ok1, collect_busy1, table_full;

static void handler(unsigned level, void *arg) {
    (void)arg;
    uint64_t *rng = &rngs[level];
    if (level == 1) {
        if (tt_collector(&tt_heap) == 0 && tt_below(rng, 3) == 0) {
            int r = rgc_collect(&tt_heap);
            if (r == RGC_OK)
                atomic_fetch_add(&collect_ok1, 1);
            else if (r == RGC_BUSY)
                atomic_fetch_add(&collect_busy1, 1);
            else
                tt_fail("born_black: rgc_collect failed", level, (uintptr_t)r, 0);
        }
        return;
    }
    if (!tt_collection_below(&tt_heap, level))
        return;
    unsigned coll = tt_collector(&tt_heap) - 1u, t = level - 2u;
    uint32_t id = atomic_load_explicit(&core_of(&tt_heap)->collections, memory_order_relaxed); /* the running one's */
    if (id != last_collection[t]) {
        last_collection[t] = id;
        this_collection[t] = 0;
    }
    for (int k = 0; k < 2 && this_collection[t] < PER_COLLECTION; k++, this_collection[t]++) {
        unsigned ph = tt_phase(&tt_heap);
        if (ph != PHASE_MARK && ph != PHASE_SWEEP)
            return;
        if (born_n[t] >= BORN) {
            atomic_fetch_add(&table_full, 1);
            return;
        }
        size_t nw = tt_below(rng, 2) ? (size_t)tt_below(rng, 8) : 60 + (size_t)tt_below(rng, 140);
        struct tobj *o = tobj_new(&tt_heap, 0, nw);
        if (o == NULL) {
            atomic_fetch_add(&failed_allocs, 1);
            return;
        }
        /* Nothing below us moves while we run: phase and sweep position are those of the allocation. */
        size_t b = tt_block(&tt_heap, o), pos = tt_sweep_pos(&tt_heap);
        unsigned kase = ph == PHASE_MARK ? B_MARK : b >= pos ? B_AFTER : B_BEFORE;
        int want = kase == B_BEFORE ? AT_HEAD : AT_MARK, got = tt_atb(&tt_heap, o);
        if (got != want)
            tt_fail(kase == B_MARK    ? "born_black: allocated during marking but not born MARK"
                    : kase == B_AFTER ? "born_black: allocated ahead of the sweep but not born MARK"
                                      : "born_black: allocated behind the sweep but not born HEAD",
                    level, (uintptr_t)o, (uintptr_t)got);
        unsigned i = born_n[t]++;
        born_info[t][i].serial = o->serial;
        born_info[t][i].kase = kase;
        rgc_write(&tt_heap, &born[t][i], o);
        atomic_fetch_add(&happened[kase], 1);
        if (coll < 2)
            atomic_fetch_add(&by_collector[coll][kase], 1);
    }
}

/* With levels 1..3 held off: verify and free what was born, churn the live set, leave garbage. */
static void maintain(uint64_t *rng) {
    for (unsigned t = 0; t < 2; t++) {
        for (unsigned i = 0; i < born_n[t]; i++) {
            struct tobj *o = born[t][i];
            int bad = tobj_verify(&tt_heap, o, born_info[t][i].serial);
            if (bad != TT_OK)
                TT_CHECK(false, "%s: object %p born during a collection did not survive it (%s, atb %d)",
                         case_name[born_info[t][i].kase], (void *)o, tt_bad_name[bad], tt_atb(&tt_heap, o));
            if (bad == TT_OK) {
                atomic_fetch_add(&survived[born_info[t][i].kase], 1);
                rgc_free(&tt_heap, o);
            }
            born[t][i] = NULL;
        }
        born_n[t] = 0;
    }
    size_t bad_live = 0;
    for (unsigned j = 0; j < LIVE / 8; j++) {
        size_t i = (size_t)tt_below(rng, LIVE);
        struct tobj *o = live[i];
        if (o != NULL) {
            if (tobj_verify(&tt_heap, o, 0) != TT_OK) {
                bad_live++;
                TT_CHECK(false, "live object %p corrupt", (void *)o);
            }
            live[i] = NULL;
            if (tt_below(rng, 2))
                rgc_free(&tt_heap, o);
        }
        live[i] = tobj_new(&tt_heap, 0, (size_t)tt_below(rng, 6));
        for (int g = 0; g < 2; g++) /* garbage between the live objects */
            (void)tobj_new(&tt_heap, 0, (size_t)tt_below(rng, 4));
    }
}

static void report_progress(double elapsed) {
    printf("[%.0f s] mark %lu, sweep-before %lu, sweep-after %lu, failures %lu\n", elapsed,
           atomic_load(&happened[0]), atomic_load(&happened[1]), atomic_load(&happened[2]),
           tt_async_failures() + tt_failures);
}

int tt_born_black(void) {
    const char *name = "born_black";
    printf("torture.%s: seed %ju, %.1f s, %s build\n", name, (uintmax_t)tt_opt.seed, tt_opt.seconds,
           RGC_ATOMICS_VIA_MASK ? "masked-atomics" : "compare-and-swap");
    memset(&tt_heap, 0, sizeof tt_heap);
    TT_CHECK(rgc_init(&tt_heap, heap_mem, sizeof heap_mem) == RGC_OK, "rgc_init");
    TT_CHECK(rgc_add_root(&tt_heap, live, sizeof live) == RGC_OK, "rgc_add_root");
    TT_CHECK(rgc_add_root(&tt_heap, born, sizeof born) == RGC_OK, "rgc_add_root");
    for (unsigned l = 0; l < 4; l++)
        rngs[l] = tt_seed_for(tt_opt.seed, l);
    for (size_t i = 0; i < LIVE; i++) {
        live[i] = tobj_new(&tt_heap, 0, (size_t)tt_below(&rngs[0], 6));
        (void)tobj_new(&tt_heap, 0, (size_t)tt_below(&rngs[0], 4));
    }
    if (tt_sim_init(3, 3) != 0)
        return tt_summary(name);
    for (unsigned l = 1; l <= 3; l++)
        rgc_sim_attach(l, handler, NULL);
    rgc_sim_timer(1, 900000);
    TT_CHECK(tt_storm_begin(2, 3, tt_seed_for(tt_opt.seed, 99)) == 0, "storm start");

    /* Each case needs an allocation landing in the right phase of a collection: on a loaded host (the
     * ASan build under a 50k/s storm leaves the foreground little time to collect) one budget can
     * miss one, so keep going - at most 3 budgets - until each has happened. */
    uint64_t t0, t_end, t_more;
    unsigned long fg_collections =
        tt_foreground_rounds("born_black foreground", maintain, &rngs[0], report_progress, &t0, &t_end);
    for (int budget = 1; budget < 3; budget++) {
        bool all = true;
        for (unsigned k = 0; k < NCASES; k++)
            all = all && atomic_load(&happened[k]) > 0;
        if (all)
            break;
        fg_collections += tt_foreground_rounds("born_black foreground", maintain, &rngs[0],
                                               report_progress, &t_more, &t_end);
    }
    tt_quiesce();
    double secs = tt_sec(t_end - t0);
    maintain(&rngs[0]);
    TT_CHECK(rgc_check(&tt_heap) == RGC_OK, "rgc_check at the end");
    {
        rgc_stats vs; /* RGC_VERIFY builds: no marked object ever referred to an unmarked one */
        rgc_get_stats(&tt_heap, &vs);
        TT_CHECK(vs.verify_reports == 0, "tri-colour verifier: %u black->white edges", (unsigned)vs.verify_reports);
    }

    printf("  collections: level 0 %lu, level 1 %lu (busy %lu); allocations by levels 2-3 during them "
           "that failed %lu (table full %lu)\n",
           fg_collections, atomic_load(&collect_ok1), atomic_load(&collect_busy1),
           atomic_load(&failed_allocs), atomic_load(&table_full));
    for (unsigned k = 0; k < NCASES; k++)
        printf("  born %-13s %7lu (collector at level 0/1: %lu/%lu), verified after the collection %lu\n",
               case_name[k], atomic_load(&happened[k]), atomic_load(&by_collector[0][k]),
               atomic_load(&by_collector[1][k]), atomic_load(&survived[k]));
    tt_print_sim(secs);
    for (unsigned k = 0; k < NCASES; k++)
        TT_CHECK(atomic_load(&happened[k]) > 0 && atomic_load(&survived[k]) == atomic_load(&happened[k]),
                 "born %s: happened %lu, survived %lu", case_name[k], atomic_load(&happened[k]),
                 atomic_load(&survived[k]));
    return tt_summary(name);
}
