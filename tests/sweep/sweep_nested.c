/* sweep_nested.c - systematic preemption sweep of rgc with nested interrupts (docs/design.md, I7 and section 4:
 * "every public function may be entered at every level, nested to any depth").
 *
 * The single-level sweep (sweep.c) interrupts a level-0 victim with one level-1 body. Here that level-1
 * body is itself interrupted: the victim at level 0 is suspended at its point N, a level-1 body starts
 * there, and at the level-1 body's point M (counted from its start, inside its own rgc calls only) a
 * level-2 body runs. This reaches what needs two suspended levels: a level-1 collection whose roots
 * include level 0's published in-progress slot while level 2 allocates (born marked or not against the
 * level-1 sweeper), writes through the barrier, frees and reallocs during its mark and sweep phases;
 * rgc_ctx_object_busy at level 2 walking the in-progress slots of levels 0 and 1; a level-2 collection
 * over a level-0 and a level-1 operation both half done; a level-0 collection with both levels above
 * it mutating.
 *
 * Scenarios: a victim of the shared harness (alloc, free, realloc that moves, collect) x a level-1 body:
 *   gc   allocates (1, 3 with RGC_FINALISER, 5 blocks) and links the new objects, moves and drops
 *        pointers through rgc_write, then runs a full rgc_collect: M covers every phase of a level-1
 *        collection whose roots include level 0's published slot, and the rgc calls before it;
 *   mut  grows (moving if it must) and shrinks its object with rgc_realloc, allocates as above, frees
 *        objects it owns (one allocated just before), moves and drops pointers: no collection at level 1,
 *        so level 2 collects on top of two half-done operations.
 * The level-2 body allocates, moves and drops pointers through rgc_write, frees its own objects,
 * reallocs, calls rgc_collect (RGC_BUSY iff level 0 or level 1 is collecting, else a full collection)
 * and checks rgc_check and every tracked object's canary on entry and exit. Every run also gets the
 * harness's checks after the victim, a quiescent follow-up collection (the snapshot rules for what was
 * dropped or freed while a collection was marking) and the cleanup's leak check.
 *
 * For each scenario and each selected N, M runs over every point of that level-1 body (counted in a run
 * without the nested injection; every injection is checked to fire). Which N: every point of the victim
 * with --all-n. By default a deterministic selection that fits the time budget: a probe runs as the
 * level-1 body at every point of the victim (one cheap run each) and records what an interrupt there
 * finds - table bytes, finaliser bits, in-progress slots and depths, phase, collector, sweep position,
 * hint, root words, pool words, and the heap blocks the conservatively scanned stack refers to. The
 * victim's points fall into segments of equal state, and the segments into phases (collection phase and
 * rescan request, collector, level-0 depth, lock). Per segment the sweep takes its last unmasked point
 * (the instant before the victim's next step, where it holds values it loaded earlier) and, for the
 * cheaper mut scenarios, its first one too. If there are more segments than the scenario's cap allows,
 * every phase keeps its first segment and the rest of the budget is spread over the phases in
 * proportion to their segments, evenly within each: every phase of the victim is interrupted. The
 * output lists the N values and says which selection was made.
 *
 * Usage: sweep_nested_<variant> [--all-n] [scenario [N [M]]]
 *   scenario N     every M for that N;  scenario N M   that single run, verbosely (the reproduction)
 *   SWEEP_SEGMENTS=1 in the environment: print each scenario's default N selection and stop.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rgc.h"
#include "rgc_port.h"
#include "../../src/rgc_core.h" /* white box: the handle's fields */
#include "sweep.h"
#include "sweep_harness.h"

enum { L1_GC = 0, L1_MUT = 1 };
static const char *const k_l1_names[] = {"gc", "mut"};

/* ------------------------------------------------------------------------------------------------ */
/* The interrupt bodies                                                                                */
/* ------------------------------------------------------------------------------------------------ */
static void l1_body(void)
{
    if (rgc_port_level() != 1) {
        fail("the level-1 body runs at level %u", rgc_port_level());
    }
    irq_enter();
    if (g_body == L1_GC) {
        irq_alloc_burst();
        irq_moves();
        irq_collect();
    } else {
        irq_realloc();
        irq_alloc_burst();
        irq_free_own();
        irq_moves();
    }
    irq_exit();
}

static void l2_body(void)
{
    if (rgc_port_level() != 2) {
        fail("the level-2 body runs at level %u", rgc_port_level());
    }
    irq_enter();
    irq_alloc_burst();
    irq_moves();
    irq_free_own();
    irq_realloc();
    irq_collect();
    irq_exit();
}

/* ------------------------------------------------------------------------------------------------ */
/* Set-up                                                                                              */
/* ------------------------------------------------------------------------------------------------ */
/* After the scenario's own set-up: level 2's pre-existing objects, and the scenario's moves and drops
 * split between the two levels (level 1 the even entries, level 2 the odd ones), plus one more edge and
 * one more drop so that level 2 has its share in every scenario. */
static void nested_setup(void)
{
    int n0 = g_root_id[R_L0 + 0]; /* base set-up: n0 -> n1 -> n2 */
    if (n0 >= 0) {
        add_move_edge(n0, 0);
    }
    int x = must_new(B, 0, 0, 0);
    root_set(R_L0 + 7, x);
    add_drop_root(R_L0 + 7);
    level_objects_setup(2);
    g_lv[1].move_mod = 2;
    g_lv[1].move_sel = 0;
    g_lv[2].move_mod = 2;
    g_lv[2].move_sel = 1;
}

/* A smaller collection victim than the single-level sweep's (its points multiply by the level-1 body's
 * here): a list with a live finaliser object, a node wider than the mark stack (RGC_MARK_STACK_DEPTH),
 * garbage with finalisers and a cycle. */
static void setup_collect_small(void)
{
    int list[4];
    for (int i = 0; i < 4; i++) {
        list[i] = must_new(B, 2, 0, 0);
    }
    for (int i = 0; i + 1 < 4; i++) {
        edge_set(list[i], 0, list[i + 1]);
    }
    edge_set(list[2], 1, must_new(B, 0, RGC_FINALISER, 0));
    root_set(R_L0 + 5, list[0]);
    int wide = must_new((1 + 6) * W, 6, 0, 0);
    for (unsigned i = 0; i < 6; i++) {
        edge_set(wide, i, must_new(B, 0, i == 4 ? RGC_FINALISER : 0u, 0));
    }
    root_set(R_L0 + 6, wide);
    int g[3];
    for (int i = 0; i < 3; i++) {
        g[i] = must_new(B, 1, i == 1 ? RGC_FINALISER : 0u, 0);
        add_garbage(g[i]);
    }
    edge_set(g[0], 0, g[1]);
    edge_set(g[1], 0, g[2]);
    int c0 = must_new(B, 1, 0, 0), c1 = must_new(B, 1, RGC_FINALISER, 0);
    edge_set(c0, 0, c1);
    edge_set(c1, 0, c0);
    add_garbage(c0);
    add_garbage(c1);
    add_move_root(R_L0 + 5);
    add_move_root(R_L0 + 6);
    add_move_edge(list[1], 0);
    add_move_edge(wide, 3);
}

/* ------------------------------------------------------------------------------------------------ */
/* Scenarios                                                                                           */
/* ------------------------------------------------------------------------------------------------ */
typedef struct {
    const char *name;
    const char *victim;  /* the harness scenario whose victim (and set-up, unless overridden) runs */
    unsigned l1;         /* level-1 body */
    size_t blocks;       /* heap blocks (0: the harness scenario's) */
    void (*setup)(void); /* NULL: the harness scenario's */
    unsigned per_segment; /* N values per state segment of the victim: 1 (last point) or 2 (first, last) */
    unsigned ncap;        /* most N values by default */
} nested_scenario;

static const nested_scenario k_nested[] = {
    {"alloc.gc", "alloc_fresh", L1_GC, 0, NULL, 1, 8},
    {"free.gc", "free", L1_GC, 0, NULL, 1, 5},
    {"realloc.gc", "realloc_move", L1_GC, 0, NULL, 1, 5},
    {"alloc.mut", "alloc_fresh", L1_MUT, 0, NULL, 2, 12},
    {"free.mut", "free", L1_MUT, 0, NULL, 2, 12},
    {"realloc.mut", "realloc_move", L1_MUT, 0, NULL, 2, 12},
    {"collect.mut", "collect", L1_MUT, 96, setup_collect_small, 1, 16},
};
#define NNESTED (sizeof k_nested / sizeof k_nested[0])

/* ------------------------------------------------------------------------------------------------ */
/* Selecting N: segments of equal interrupt-visible state                                             */
/* ------------------------------------------------------------------------------------------------ */
/* What an interrupt at level-0 point n finds, recorded by a probe that runs as the level-1 body of a run
 * injected at n (so it sees exactly what the real body would, at the unmask where n is masked). */
#define MAXP0 20000
static uint64_t g_fine[MAXP0 + 1], g_coarse[MAXP0 + 1];
static unsigned char g_masked[MAXP0 + 1]; /* the injection at n waited for the unmask */

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h * 0xFF51AFD7ED558CCDull;
}

/* Heap blocks the words of [lo, hi) refer to (exact block starts), folded into a hash. */
static uint64_t stack_refs(uintptr_t lo, uintptr_t hi)
{
    static unsigned char seen[4096];
    size_t nb = core_of(&g_heap)->areas[0].nblocks < sizeof seen ? core_of(&g_heap)->areas[0].nblocks : sizeof seen;
    uintptr_t base = (uintptr_t)core_of(&g_heap)->areas[0].pool, end = base + nb * B;
    memset(seen, 0, nb);
    for (uintptr_t a = lo & ~(uintptr_t)(W - 1); a + W <= hi; a += W) {
        uintptr_t v = *(const volatile uintptr_t *)a;
        if (v >= base && v < end && (v - base) % B == 0) {
            seen[(v - base) / B] = 1;
        }
    }
    uint64_t h = 0;
    for (size_t b = 0; b < nb; b++) {
        if (seen[b]) {
            h = mix(h, b + 1);
        }
    }
    return h;
}

/* coarse: the victim's phase (collection phase and rescan request, collector, level-0 depth, lock);
 * fine: everything else an interrupt can observe, including what a conservative scan of the stack
 * below it finds (registers spilled into this frame). */
static void probe_record(uint64_t refs)
{
    uint64_t n = g_N;
    if (n == 0 || n > MAXP0) {
        return;
    }
    rgc_heap *h = &g_heap;
    uint64_t c = 0;
    c = mix(c, atomic_load(&h->state));
    c = mix(c, atomic_load(&core_of(h)->collector));
    c = mix(c, atomic_load(&core_of(h)->lock_depth));
    c = mix(c, atomic_load(&core_of(h)->depth[0]));
    uint64_t f = mix(c, refs);
    f = mix(f, atomic_load(&core_of(h)->sweep_pos));
    f = mix(f, atomic_load(&core_of(h)->sweep_done));
    f = mix(f, atomic_load(&core_of(h)->hint));
    for (unsigned l = 0; l <= SWEEP_MAX_LEVEL; l++) {
        f = mix(f, atomic_load(&core_of(h)->depth[l]));
        for (unsigned d = 0; d < RGC_MAX_NEST; d++) {
            f = mix(f, atomic_load(&core_of(h)->in_progress[l][d]));
        }
    }
    for (size_t k = 0; k < (core_of(h)->areas[0].nblocks + 3) / 4; k++) {
        f = mix(f, atomic_load(&core_of(h)->areas[0].atb[k]));
    }
    for (size_t k = 0; k < (core_of(h)->areas[0].nblocks + 7) / 8; k++) {
        f = mix(f, atomic_load(&core_of(h)->areas[0].ftb[k]));
    }
    for (int s = 0; s < NROOT; s++) {
        f = mix(f, (uintptr_t)g_roots[s]);
    }
    const uintptr_t *pool = (const uintptr_t *)(const void *)core_of(h)->areas[0].pool;
    for (size_t i = 0; i < core_of(h)->areas[0].nblocks * B / W; i++) {
        f = mix(f, pool[i]);
    }
    g_fine[n] = f;
    g_coarse[n] = c;
    g_masked[n] = (unsigned char)sweep_run_pending();
}

__attribute__((noinline)) static void probe_body(void)
{
    __builtin_unwind_init();
    void *volatile marker = NULL;
    probe_record(stack_refs((uintptr_t)&marker, sweep_stack_top()));
}

typedef struct {
    uint64_t *n;
    size_t count;
    size_t segments, segments_used;
    int all_segments; /* every segment (else the phase starts and the rest spread by phase) */
} n_selection;

static void select_all(n_selection *sel, uint64_t points)
{
    sel->n = malloc(sizeof *sel->n * (size_t)(points + 1));
    sel->count = 0;
    for (uint64_t n = 1; n <= points; n++) {
        sel->n[sel->count++] = n;
    }
    sel->segments = sel->segments_used = 0;
    sel->all_segments = 1;
}

/* Segments of equal fine state over the unmasked points (an injection at a masked point runs at the
 * unmask, where another point is); per_segment 1: the last point of each (the instant before the
 * victim's next step), 2: the first and the last. Beyond cap points: see below. */
static void select_segments(n_selection *sel, uint64_t points, unsigned per_segment, unsigned cap)
{
    uint64_t p = points < MAXP0 ? points : MAXP0;
    uint64_t *first = malloc(sizeof *first * (size_t)(p + 1));
    uint64_t *last = malloc(sizeof *last * (size_t)(p + 1));
    int *keep = malloc(sizeof *keep * (size_t)(p + 1));
    size_t nseg = 0;
    uint64_t prev_coarse = 0;
    for (uint64_t n = 1; n <= p; n++) {
        if (g_masked[n]) {
            continue;
        }
        if (nseg == 0 || g_fine[n] != g_fine[last[nseg - 1]]) {
            keep[nseg] = nseg == 0 || g_coarse[n] != prev_coarse; /* a phase starts here */
            first[nseg] = n;
            nseg++;
        }
        last[nseg - 1] = n;
        prev_coarse = g_coarse[n];
    }
    size_t budget = cap / per_segment;
    if (nseg > budget) {
        /* Phases: runs of segments from one coarse change to the next. Each phase gets its first
         * segment (evenly spaced phases if they alone exceed the budget); the rest of the budget goes
         * to the phases in proportion to their other segments, evenly spaced within each phase. */
        size_t *phase_start = malloc(sizeof *phase_start * (nseg + 1));
        size_t nphase = 0;
        for (size_t i = 0; i < nseg; i++) {
            if (keep[i]) {
                phase_start[nphase++] = i;
            }
            keep[i] = 0;
        }
        phase_start[nphase] = nseg;
        size_t firsts = nphase < budget ? nphase : budget, rest = budget - firsts;
        size_t others = nseg - nphase, cum = 0;
        for (size_t ph = 0; ph < nphase; ph++) {
            size_t lo = phase_start[ph], inner = phase_start[ph + 1] - lo - 1;
            if (ph * firsts / nphase != (ph + 1) * firsts / nphase) {
                keep[lo] = 1;
            }
            size_t quota = others != 0 ? (cum + inner) * rest / others - cum * rest / others : 0;
            cum += inner;
            for (size_t j = 0; j < quota; j++) {
                keep[lo + 1 + (2 * j + 1) * inner / (2 * quota)] = 1;
            }
        }
        free(phase_start);
    } else {
        for (size_t i = 0; i < nseg; i++) {
            keep[i] = 1;
        }
    }
    sel->n = malloc(sizeof *sel->n * (2 * nseg + 1));
    sel->count = 0;
    sel->segments = nseg;
    sel->segments_used = 0;
    sel->all_segments = nseg <= budget;
    for (size_t i = 0; i < nseg; i++) {
        if (!keep[i]) {
            continue;
        }
        sel->segments_used++;
        if (per_segment > 1 && first[i] != last[i]) {
            sel->n[sel->count++] = first[i];
        }
        sel->n[sel->count++] = last[i];
    }
    free(first);
    free(last);
    free(keep);
}

/* ------------------------------------------------------------------------------------------------ */
/* Driver                                                                                              */
/* ------------------------------------------------------------------------------------------------ */
static void make_scenario(const nested_scenario *ns, scenario *sc)
{
    const scenario *base = find_scenario(ns->victim);
    *sc = *base;
    sc->name = ns->name;
    if (ns->blocks != 0) {
        sc->blocks = ns->blocks;
    }
    if (ns->setup != NULL) {
        sc->setup = ns->setup;
    }
}

static void set_repro(const char *name, uint64_t n, uint64_t m)
{
    snprintf(g_repro, sizeof g_repro, "%s %llu %llu", name, (unsigned long long)n, (unsigned long long)m);
}

/* only_n == 0: the selected N values (every M each); only_n != 0: that N, every M, or only_m verbosely. */
static void sweep_nested(const nested_scenario *ns, int all_n, uint64_t only_n, uint64_t only_m)
{
    scenario sc;
    make_scenario(ns, &sc);
    double t0 = now_s();
    g_verbose = only_m != 0;
    stats_reset();
    /* The victim's points: a warm-up run, then the counting run (see sweep.c). */
    set_repro(sc.name, 0, 0);
    int f0 = run_one(&sc, 0, ns->l1, 0);
    f0 |= run_one(&sc, 0, ns->l1, 0);
    uint64_t points = g_vpoints;
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    if (f0 != 0) {
        printf("FAIL %s/%s uninjected run: %s\n", SWEEP_VARIANT, sc.name, g_first_fail);
        g_total_fail++;
        return;
    }
    /* What an interrupt finds at each point: one run per point with the probe as the level-1 body. */
    uint64_t probe_fail = 0;
    if (only_n == 0 && !all_n) {
        sweep_set_irq_level(1, probe_body);
        g_observe_only = 1;
        for (uint64_t n = 1; n <= points && n <= MAXP0; n++) {
            set_repro(sc.name, n, 0);
            if (run_one(&sc, n, ns->l1, 0) != 0) {
                kind_note(g_repro);
                if (probe_fail++ < 3) {
                    printf("FAIL %s/%s N=%llu (the level-1 body only probing, reading the heap): %s\n"
                           "     closest reproduction (the real level-1 body): %s %s\n",
                           SWEEP_VARIANT, sc.name, (unsigned long long)n, g_first_fail, g_argv0, g_repro);
                }
            }
        }
        sweep_set_irq_level(1, l1_body);
        g_observe_only = 0;
        if (points > MAXP0) {
            points = MAXP0;
        }
    }
    n_selection sel;
    if (getenv("SWEEP_SEGMENTS") != NULL) { /* diagnostics: the selection only */
        select_segments(&sel, points, ns->per_segment, ns->ncap);
        printf("%s: %llu points, %zu segments, %zu used:", sc.name, (unsigned long long)points, sel.segments,
               sel.segments_used);
        for (size_t i = 0; i < sel.count; i++) {
            printf(" %llu", (unsigned long long)sel.n[i]);
        }
        printf("\n");
        free(sel.n);
        return;
    }
    if (only_n != 0) {
        sel.n = malloc(sizeof *sel.n);
        sel.n[0] = only_n;
        sel.count = 1;
        sel.segments = sel.segments_used = 0;
        sel.all_segments = 1;
    } else if (all_n) {
        select_all(&sel, points);
    } else {
        select_segments(&sel, points, ns->per_segment, ns->ncap);
    }
    if (only_n != 0) {
        printf("%s/%s (level-1 body %s; victim: %s): victim has %llu points; N=%llu\n", SWEEP_VARIANT, sc.name,
               k_l1_names[ns->l1], sc.what, (unsigned long long)points, (unsigned long long)only_n);
    }
    uint64_t probe_runs = only_n == 0 && !all_n ? (points < MAXP0 ? points : MAXP0) : 0;
    uint64_t runs = probe_runs, failed = probe_fail, shown = probe_fail, mtotal = 0, mmin = UINT64_MAX, mmax = 0;
    for (size_t i = 0; i < sel.count; i++) {
        uint64_t n = sel.n[i];
        /* the level-1 body's points at this N (no nested injection) */
        set_repro(sc.name, n, 0);
        int fc = run_one(&sc, n, ns->l1, 0);
        uint64_t mpoints = g_l1points;
        runs++;
        if (fc != 0) {
            failed++;
            kind_note(g_repro);
            if (shown++ < 3) {
                printf("FAIL %s/%s N=%llu (no nested injection): %s\n     reproduce: %s %s\n", SWEEP_VARIANT,
                       sc.name, (unsigned long long)n, g_first_fail, g_argv0, g_repro);
            }
        }
        mtotal += mpoints;
        mmin = mpoints < mmin ? mpoints : mmin;
        mmax = mpoints > mmax ? mpoints : mmax;
        uint64_t mlo = 1, mhi = mpoints;
        if (only_m != 0) {
            mlo = mhi = only_m;
            printf(" N=%llu: level-1 body has %llu points; M=%llu:\n", (unsigned long long)n,
                   (unsigned long long)mpoints, (unsigned long long)only_m);
        }
        for (uint64_t m = mlo; m <= mhi; m++) {
            set_repro(sc.name, n, m);
            int f = run_one(&sc, n, ns->l1, m);
            runs++;
            if (f != 0) {
                failed++;
                kind_note(g_repro);
                if (shown++ < 3 || only_m != 0) {
                    printf("FAIL %s/%s N=%llu M=%llu%s%s: %s%s\n     reproduce: %s %s\n", SWEEP_VARIANT, sc.name,
                           (unsigned long long)n, (unsigned long long)m,
                           sweep_run_pending() ? " (level 1 ran at unmask)" : "",
                           sweep_run_pending2() ? " (level 2 ran at unmask)" : "", g_first_fail,
                           f > 1 ? " (and more)" : "", g_argv0, g_repro);
                }
            }
        }
    }
    struct sweep_counters c;
    sweep_get_counters(&c);
    double dt = now_s() - t0;
    char nsel[160];
    if (only_n != 0) {
        snprintf(nsel, sizeof nsel, "N=%llu only", (unsigned long long)only_n);
    } else if (all_n) {
        snprintf(nsel, sizeof nsel, "every N");
    } else if (sel.all_segments) {
        snprintf(nsel, sizeof nsel, "%s point of each of %zu state segments",
                 ns->per_segment > 1 ? "first+last" : "last", sel.segments);
    } else {
        snprintf(nsel, sizeof nsel, "%s point of %zu of %zu state segments: phase starts + spread by phase",
                 ns->per_segment > 1 ? "first+last" : "last", sel.segments_used, sel.segments);
    }
    printf("[%s] %-12s %3zu blocks: N %zu of %llu (%s); M %llu points (%llu..%llu per N)\n", SWEEP_VARIANT,
           sc.name, st.blocks, sel.count, (unsigned long long)points, nsel, (unsigned long long)mtotal,
           (unsigned long long)(sel.count ? mmin : 0), (unsigned long long)mmax);
    if (all_n) {
        printf("         N = 1..%llu\n", (unsigned long long)points);
    } else {
        printf("         N =");
        for (size_t i = 0; i < sel.count; i++) {
            printf("%s%llu", i ? "," : " ", (unsigned long long)sel.n[i]);
        }
        printf("\n");
    }
    printf("         %llu runs (%llu probing), injections: level 1 %llu (%llu at unmask), level 2 %llu (%llu at "
           "unmask); "
           "collections at level 1 ran %llu / busy %llu, at level 2 ran %llu / busy %llu; %.2f s: %s",
           (unsigned long long)runs, (unsigned long long)probe_runs, (unsigned long long)c.fired,
           (unsigned long long)c.pending,
           (unsigned long long)c.nested_fired, (unsigned long long)c.nested_pending,
           (unsigned long long)g_st.irq_collected[1], (unsigned long long)g_st.irq_busy[1],
           (unsigned long long)g_st.irq_collected[2], (unsigned long long)g_st.irq_busy[2], dt,
           failed ? "FAIL" : "ok");
    if (failed) {
        printf(" (%llu of %llu runs failed)", (unsigned long long)failed, (unsigned long long)runs);
    }
    printf("\n");
    kinds_print();
    stats_print();
    if (c.port_errors) {
        printf("FAIL %s/%s: %llu unbalanced rgc_port_unmask calls\n", SWEEP_VARIANT, sc.name,
               (unsigned long long)c.port_errors);
        failed++;
        runs++;
    }
    free(sel.n);
    g_total_fail += failed;
    g_total_pass += runs - failed;
}

int main(int argc, char **argv)
{
    driver_init(argv[0]);
    sweep_set_irq_level(1, l1_body);
    sweep_set_irq_level(2, l2_body);
    g_extra_setup = nested_setup;
    g_nested = 1;

    int all_n = 0, a = 1;
    if (a < argc && strcmp(argv[a], "--all-n") == 0) {
        all_n = 1;
        a++;
    }
    const char *only_sc = a < argc ? argv[a] : NULL;
    uint64_t only_n = a + 1 < argc ? strtoull(argv[a + 1], NULL, 10) : 0;
    uint64_t only_m = a + 2 < argc ? strtoull(argv[a + 2], NULL, 10) : 0;
    printf("rgc nested preemption sweep, variant %s (RGC_ATOMICS_VIA_MASK=%d, RGC_MARK_STACK_DEPTH=%d, "
           "block %zu): level 0 suspended at N, level 1 at M, level 2 on top\n",
           SWEEP_VARIANT, RGC_ATOMICS_VIA_MASK, RGC_MARK_STACK_DEPTH, B);
    double t0 = now_s();
    int matched = 0;
    for (size_t i = 0; i < NNESTED; i++) {
        if (only_sc != NULL && strcmp(only_sc, k_nested[i].name) != 0) {
            continue;
        }
        matched = 1;
        sweep_nested(&k_nested[i], all_n, only_n, only_m);
    }
    if (!matched) {
        fprintf(stderr, "unknown scenario %s; scenarios:", only_sc);
        for (size_t i = 0; i < NNESTED; i++) {
            fprintf(stderr, " %s", k_nested[i].name);
        }
        fprintf(stderr, "\n");
        return 2;
    }
    printf("total %.1f s\n", now_s() - t0);
    printf("%llu passed, %llu failed\n", (unsigned long long)g_total_pass, (unsigned long long)g_total_fail);
    return g_total_fail != 0 ? 1 : 0;
}
