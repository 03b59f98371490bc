/* bench_report.c - turn the benchmark's raw records into results.md and the plots' data files.
 *
 * usage: rgc-bench-report RAW.tsv OUTDIR [HEADER.md]
 * RAW.tsv: lines "variant<TAB>workload<TAB>param<TAB>metric<TAB>value" (rgc_bench.c). Writes
 * OUTDIR/results.md (also printed on stdout) and OUTDIR/{a3,c,scaling,irq,incr}.dat for bench/plots.gp.
 * HEADER.md (optional) is copied in after the title (machine, commit, date: scripts/bench.sh writes it).
 * The figures are reported, never judged on a pass/fail basis: target lines say met or missed.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- raw records -------------------------------------------------------------------------------- */

struct rec {
    char v[32], w[32], p[32], m[48];
    double x;
};
static struct rec *recs;
static size_t nrecs, caprecs;

static void load(const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        struct rec r;
        if (sscanf(line, "%31[^\t]\t%31[^\t]\t%31[^\t]\t%47[^\t]\t%lf", r.v, r.w, r.p, r.m, &r.x) != 5)
            continue;
        if (nrecs == caprecs) {
            caprecs = caprecs ? 2 * caprecs : 256;
            recs = realloc(recs, caprecs * sizeof *recs);
            if (recs == NULL)
                exit(1);
        }
        recs[nrecs++] = r;
    }
    fclose(f);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Every record of this key, sorted; returns how many (at most 64). */
static size_t all_of(const char *v, const char *w, const char *p, const char *m, double xs[64]) {
    size_t n = 0;
    for (size_t i = 0; i < nrecs && n < 64; i++)
        if (!strcmp(recs[i].v, v) && !strcmp(recs[i].w, w) && !strcmp(recs[i].p, p) && !strcmp(recs[i].m, m))
            xs[n++] = recs[i].x;
    qsort(xs, n, sizeof xs[0], cmp_double);
    return n;
}

/* The median of every record of this key: scripts/bench.sh runs the throughput workloads in several
 * rounds, alternating the variants, so that a burst of load on the host moves one round only. */
static double get(const char *v, const char *w, const char *p, const char *m) {
    double xs[64];
    size_t n = all_of(v, w, p, m, xs);
    if (n == 0)
        return NAN;
    return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

/* The spread over the rounds: smallest and largest record of this key (NAN if none). */
static void spread(const char *v, const char *w, const char *p, const char *m, double *lo, double *hi, size_t *n) {
    double xs[64];
    *n = all_of(v, w, p, m, xs);
    *lo = *n ? xs[0] : NAN;
    *hi = *n ? xs[*n - 1] : NAN;
}

/* ---- output ------------------------------------------------------------------------------------- */

static FILE *md;

static void out(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(md, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
}

#define BUFLEN 80
/* Formatters return a pointer into a ring of buffers, so several may appear in one out() call. */
static char *buf(void) {
    static char ring[64][BUFLEN];
    static unsigned i;
    return ring[i++ % 64];
}

static const char *f_rate(double x) {
    char *b = buf();
    if (isnan(x))
        return "—";
    if (x >= 1e6)
        snprintf(b, BUFLEN, "%.2f M/s", x / 1e6);
    else
        snprintf(b, BUFLEN, "%.0f k/s", x / 1e3);
    return b;
}

static const char *f_ns(double x) {
    char *b = buf();
    if (isnan(x))
        return "—";
    if (x < 1e3)
        snprintf(b, BUFLEN, "%.0f ns", x);
    else if (x < 1e6)
        snprintf(b, BUFLEN, "%.2f µs", x / 1e3);
    else
        snprintf(b, BUFLEN, "%.2f ms", x / 1e6);
    return b;
}

static const char *f_ms(double x) {
    return isnan(x) ? "—" : f_ns(x * 1e6);
}

static const char *f_num(double x, int decimals) {
    char *b = buf();
    if (isnan(x))
        return "—";
    snprintf(b, BUFLEN, "%.*f", decimals, x);
    return b;
}

static const char *f_pair(const char *a, const char *b2) {
    char *b = buf();
    snprintf(b, BUFLEN, "%s / %s", a, b2);
    return b;
}

static const char *f_ratio(double x) {
    char *b = buf();
    if (isnan(x) || isinf(x))
        return "—";
    snprintf(b, BUFLEN, "%.2f×", x);
    return b;
}

#define TARGET_SCAN 64.0

/* ---- rgc vs py/gc.c: the cases, each a median over the rounds (or over one run's samples) ---------- */
struct vs_case {
    const char *name, *w, *p, *m;
    bool rate; /* higher is better (ops/s); otherwise a time */
};
static const struct vs_case vs_cases[] = {
    {"A1 alloc(16)+free", "A1", "-", "pairs_per_s", true},
    {"A1m alloc(U[16,512])+free", "A1m", "-", "pairs_per_s", true},
    {"A2 S=1024", "A2", "S=1024", "ops_per_s", true},
    {"A2 S=2048", "A2", "S=2048", "ops_per_s", true},
    {"A3 S=2048 alloc p50", "A3", "S=2048", "p50_ns", false},
    {"A3 S=2048 alloc p99", "A3", "S=2048", "p99_ns", false},
    /* C: the mean (issue #5's figure) and the median, which a host preemption during one sample
     * cannot move (the 1-block means are a few tens of ns: one preempted sample dominates them) */
    {"C fragmented, 2 blocks (mean)", "C", "frag-2block", "mean_ns", false},
    {"C fragmented, 2 blocks (p50)", "C", "frag-2block", "p50_ns", false},
    {"C fragmented, 1 block (p50)", "C", "frag-1block", "p50_ns", false},
    {"C empty, 2 blocks (p50)", "C", "empty-2block", "p50_ns", false},
    {"B1 collection", "B1", "-", "median_ms", false},
    {"B1top collection", "B1top", "-", "median_ms", false},
    {"B2 collection", "B2", "-", "median_ms", false},
    {"B3 collection", "B3", "-", "median_ms", false},
};
#define NVS (sizeof vs_cases / sizeof vs_cases[0])

/* rgc's speed over py/gc.c's: > 1 when rgc is faster */
static double vs_ratio(const struct vs_case *c, const char *rgc, const char *mp) {
    double a = get(rgc, c->w, c->p, c->m), b = get(mp, c->w, c->p, c->m);
    return c->rate ? a / b : b / a;
}

static const char *f_fig(const struct vs_case *c, double x) {
    return c->rate ? f_rate(x) : !strcmp(c->m, "median_ms") ? f_ms(x) : f_ns(x);
}

/* "median (min–max over n)" for the rounds, or the plain figure for a single run */
static const char *f_spread(const struct vs_case *c, const char *v) {
    double lo, hi;
    size_t n;
    spread(v, c->w, c->p, c->m, &lo, &hi, &n);
    char *b = buf();
    if (n == 0)
        return "—";
    if (n == 1)
        return f_fig(c, lo);
    snprintf(b, BUFLEN, "%s (%s–%s)", f_fig(c, get(v, c->w, c->p, c->m)), f_fig(c, lo), f_fig(c, hi));
    return b;
}

static const char *heaps[] = {"heap=64KiB", "heap=256KiB", "heap=1MiB", "heap=4MiB", "heap=16MiB", "heap=64MiB"};
static const double heap_kib[] = {64, 256, 1024, 4096, 16384, 65536};
#define NHEAPS 6

static void met(const char *what, bool ok, bool known, const char *detail) {
    out("- %s: **%s** — %s\n", what, !known ? "not measured" : ok ? "met" : "missed", detail);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s RAW.tsv OUTDIR [HEADER.md]\n", argv[0]);
        return 2;
    }
    load(argv[1]);
    const char *dir = argv[2];
    char path[4096];
    snprintf(path, sizeof path, "%s/results.md", dir);
    if ((md = fopen(path, "w")) == NULL) {
        perror(path);
        return 1;
    }
    out("# rgc benchmark results\n\n");
    if (argc > 3) {
        FILE *h = fopen(argv[3], "r");
        if (h != NULL) {
            char line[1024];
            while (fgets(line, sizeof line, h))
                out("%s", line);
            fclose(h);
            out("\n");
        }
    }
    out("Workload definitions: issue #5 and #13 (bench/rgc_bench.c repeats them). Heap 1 MiB unless stated. "
        "Latencies are one clock_gettime pair around one call (pair overhead %s, not subtracted). "
        "Table bytes scanned come from the search-statistics builds (RGC_SEARCH_STATS=1; for py/gc.c "
        "MPGC_SEARCH_STATS=1: from gc_last_free_atb_index to the table byte of the run's last block); \"—\" = "
        "not measured. rgc and py/gc.c zero every allocation (py/gc.c: MICROPY_GC_CONSERVATIVE_CLEAR); malloc "
        "does not. A1, A1m, A2 and B1–B3 of rgc, rgc 16 B, rgc single-context, py/gc.c (32 B, 16 B) and the "
        "malloc peers ran in rounds alternating the variants: each figure is the median over the rounds.\n\n",
        f_ns(get("rgc", "timer", "-", "overhead_p50_ns")));

    /* ---- rgc vs py/gc.c ---- */
    out("## rgc vs MicroPython's py/gc.c\n\n");
    if (isnan(get("mpgc", "A1", "-", "pairs_per_s"))) {
        out("py/gc.c was not built in this run (no MicroPython source: scripts/mp-fetch.sh).\n\n");
    } else {
        out("py/gc.c of MicroPython (version in the header), compiled from source in this run with the same "
            "compiler and flags, "
            "driven by the same harness and workload source (bench/mpgc: MICROPY_ENABLE_FINALISER=1, no split "
            "heap, blocks of rgc's size; roots passed with gc_collect_start/gc_collect_root/gc_collect_end: "
            "the stack and the harness's ranges, as rgc scans them). Median over the rounds (smallest–largest "
            "round in brackets; A3 and C are one run). Ratio = rgc's speed / py/gc.c's: above 1 rgc is faster.\n\n");
        const char *rv[2] = {"rgc", "rgc-b16"}, *mv[2] = {"mpgc", "mpgc-b16"};
        for (int b = 0; b < 2; b++) {
            out("%s blocks:\n\n", b == 0 ? "32-byte" : "16-byte");
            out("| case | py/gc.c | rgc | rgc speed / py/gc.c |\n|---|---|---|---|\n");
            for (size_t k = 0; k < NVS; k++)
                out("| %s | %s | %s | %s |\n", vs_cases[k].name, f_spread(&vs_cases[k], mv[b]),
                    f_spread(&vs_cases[k], rv[b]), f_ratio(vs_ratio(&vs_cases[k], rv[b], mv[b])));
            out("\n");
        }
        {
            int any = 0;
            for (size_t i = 0; i < nrecs; i++)
                if (!strcmp(recs[i].m, "auto_collections")) {
                    out("%s%s %s %s: %.0f", any ? "; " : "Collections an allocator ran by itself (a failed search) "
                                                         "inside a measured phase: ",
                        recs[i].v, recs[i].w, recs[i].p, recs[i].x);
                    any = 1;
                }
            out(any ? ".\n\n" : "No allocator collected by itself (a failed search) inside a measured phase.\n\n");
        }
        out("Adaptations: none to the workloads. py/gc.c's gc_alloc collects once on a failed allocation "
            "(rgc at level 0 too, its default policy); no workload fails one. B1top is there for py/gc.c's "
            "sweep, which stops after gc_last_used_block: the object near the top makes it sweep the whole "
            "pool. py/gc.c's A2/A3 stop at a 3 s cap (\"time cap\": ops done / time taken).\n\n");
    }

    /* ---- allocator workloads ---- */
    const char *cols[] = {"rgc", "mpgc", "rgc-b16", "mpgc-b16", "glibc", "jemalloc"};
    const char *stats_of[] = {"rgc-stats", "mpgc-stats", "rgc-b16-stats", "mpgc-b16-stats", NULL, NULL};
#define NCOLS 6
    out("## Allocation (A1–A3, C)\n\n");
    out("| workload | metric | rgc (32 B blocks) | py/gc.c (32 B) | rgc (16 B blocks) | py/gc.c (16 B) | glibc malloc "
        "| jemalloc |\n");
    out("|---|---|---|---|---|---|---|---|\n");
    const char *a1w[] = {"A1", "A1m"}, *a1n[] = {"A1 alloc(16)+free", "A1m alloc(U[16,512])+free"};
    for (int k = 0; k < 2; k++) {
        out("| %s | pairs/s |", a1n[k]);
        for (int c = 0; c < NCOLS; c++)
            out(" %s |", f_rate(get(cols[c], a1w[k], "-", "pairs_per_s")));
        out("\n");
    }
    const char *S[] = {"S=1024", "S=2048"};
    for (int s = 0; s < 2; s++) {
        out("| A2 %s | ops/s |", S[s]);
        for (int c = 0; c < NCOLS; c++)
            out(" %s%s |", f_rate(get(cols[c], "A2", S[s], "ops_per_s")),
                get(cols[c], "A2", S[s], "time_capped") == 1 ? " (time cap)" : "");
        out("\n| A2 %s | table bytes scanned / alloc |", S[s]);
        for (int c = 0; c < NCOLS; c++)
            out(" %s |", stats_of[c] ? f_num(get(stats_of[c], "A2", S[s], "scan_bytes_per_alloc"), 1) : "n/a");
        out("\n");
    }
    const char *pm[] = {"p50_ns", "p99_ns", "p999_ns", "max_ns"};
    const char *pn[] = {"p50", "p99", "p99.9", "max"};
    for (int k = 0; k < 4; k++) {
        out("| A3 S=2048 | alloc latency %s |", pn[k]);
        for (int c = 0; c < NCOLS; c++)
            out(" %s |", f_ns(get(cols[c], "A3", "S=2048", pm[k])));
        out("\n");
    }
    const char *cp[] = {"frag-2block", "frag-1block", "empty-2block", "empty-1block"};
    const char *cn[] = {"C fragmented, 2 blocks", "C fragmented, 1 block", "C empty heap, 2 blocks",
                        "C empty heap, 1 block"};
    for (int k = 0; k < 4; k++) {
        out("| %s | latency mean / p50 |", cn[k]);
        for (int c = 0; c < NCOLS; c++)
            out(" %s |", f_pair(f_ns(get(cols[c], "C", cp[k], "mean_ns")), f_ns(get(cols[c], "C", cp[k], "p50_ns"))));
        out("\n| %s | table bytes scanned / alloc |", cn[k]);
        for (int c = 0; c < NCOLS; c++)
            out(" %s |", stats_of[c] ? f_num(get(stats_of[c], "C", cp[k], "scan_bytes_per_alloc"), 1) : "n/a");
        out("\n");
    }
    out("\n");

    /* ---- collection ---- */
    const char *gv[] = {"rgc", "mpgc", "rgc-b16", "mpgc-b16", "rgc-single", "rgc-masked"};
    out("## Collection (B1–B3)\n\n");
    out("Median collection time (rgc_collect, or py/gc.c's gc_collect through bench/mpgc; list heads / arrays in "
        "a registered root range), and per pool block.\n\n");
    out("| workload | rgc (32 B) | py/gc.c (32 B) | rgc (16 B) | py/gc.c (16 B) | rgc single-context | rgc masked "
        "atomics |\n|---|---|---|---|---|---|---|\n");
    const char *bw[] = {"B1", "B1top", "B2", "B3"};
    const char *bn[] = {"B1 64 lists, 50% full", "B1top B1 + one object near the top", "B2 every other list dropped",
                        "B3 8 pointer arrays (mark-stack overflow) + 4096-node chain"};
    for (int b = 0; b < 4; b++) {
        out("| %s |", bn[b]);
        for (int c = 0; c < 6; c++) {
            double ms = get(gv[c], bw[b], "-", "median_ms"), per = get(gv[c], bw[b], "-", "ns_per_pool_block");
            if (isnan(ms))
                out(" — |");
            else
                out(" %s (%.1f ns/block) |", f_ms(ms), per);
        }
        out("\n");
    }
    double freed = get("rgc", "B2", "-", "freed_fraction");
    out("\nB2 freed %s%% of the used blocks in its one collection (rgc 32 B build; py/gc.c %s%%).\n\n",
        f_num(freed * 100, 1), f_num(get("mpgc", "B2", "-", "freed_fraction") * 100, 1));

    /* ---- price of reentrancy ---- */
    out("## Price of reentrancy (rgc vs the same algorithms built with RGC_SINGLE_CONTEXT=1)\n\n");
    out("| workload | rgc | rgc single-context | time ratio rgc / single |\n|---|---|---|---|\n");
    {
        double a, b;
        for (int k = 0; k < 2; k++) {
            a = get("rgc", a1w[k], "-", "pairs_per_s");
            b = get("rgc-single", a1w[k], "-", "pairs_per_s");
            out("| %s pairs/s | %s | %s | %s |\n", a1w[k], f_rate(a), f_rate(b), f_ratio(b / a));
        }
        for (int s = 0; s < 2; s++) {
            a = get("rgc", "A2", S[s], "ops_per_s");
            b = get("rgc-single", "A2", S[s], "ops_per_s");
            out("| A2 %s ops/s | %s | %s | %s |\n", S[s], f_rate(a), f_rate(b), f_ratio(b / a));
        }
        a = get("rgc", "B1", "-", "median_ms");
        b = get("rgc-single", "B1", "-", "median_ms");
        out("| B1 median collection | %s | %s | %s |\n\n", f_ms(a), f_ms(b), f_ratio(a / b));
    }

    /* ---- scaling ---- */
    out("## Scaling with heap size (rgc, 32 B blocks)\n\n");
    out("B1's live set (50%% full) and A2 with S = 2048 × heap / 1 MiB (the same fill as at 1 MiB).\n\n");
    out("| heap | pool blocks | B1 median collection | ns per pool block | A2 S | A2 ops/s | A2 table bytes scanned / alloc |\n");
    out("|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < NHEAPS; k++) {
        out("| %s | %s | %s | %s | %s | %s%s | %s |\n", heaps[k] + 5, f_num(get("rgc", "scaling-B1", heaps[k], "pool_blocks"), 0),
            f_ms(get("rgc", "scaling-B1", heaps[k], "median_ms")),
            f_num(get("rgc", "scaling-B1", heaps[k], "ns_per_pool_block"), 2),
            f_num(get("rgc", "scaling-A2", heaps[k], "S"), 0), f_rate(get("rgc", "scaling-A2", heaps[k], "ops_per_s")),
            get("rgc", "scaling-A2", heaps[k], "time_capped") == 1 ? " (time cap)" : "",
            f_num(get("rgc-stats", "scaling-A2", heaps[k], "scan_bytes_per_alloc"), 1));
    }
    out("\n");

    /* ---- interrupt latency ---- */
    out("## Interrupt latency (host simulator, rgc 32 B)\n\n");
    out("rgc_alloc(U[16,512]) + rgc_free in a level-1 handler raised every 50 µs by a POSIX timer; the "
        "latency is the rgc_alloc call alone. Foreground: idle (spinning), allocating (A2 churn, S=2048), "
        "collecting (B1 live set, rgc_collect in a loop).\n\n");
    out("| foreground | handler allocations | p50 | p99 | max | failed |\n|---|---|---|---|---|---|\n");
    const char *modes[] = {"idle", "allocating", "collecting"};
    for (int m = 0; m < 3; m++)
        out("| %s | %s | %s | %s | %s | %s |\n", modes[m], f_num(get("rgc", "IRQ", modes[m], "samples"), 0),
            f_ns(get("rgc", "IRQ", modes[m], "p50_ns")), f_ns(get("rgc", "IRQ", modes[m], "p99_ns")),
            f_ns(get("rgc", "IRQ", modes[m], "max_ns")), f_num(get("rgc", "IRQ", modes[m], "failed"), 0));
    out("| collecting: only the allocations that interrupted a collection | %s | %s | %s | %s | — |\n\n",
        f_num(get("rgc", "IRQ", "collecting", "samples_in_collection"), 0),
        f_ns(get("rgc", "IRQ", "collecting", "p50_ns_in_collection")),
        f_ns(get("rgc", "IRQ", "collecting", "p99_ns_in_collection")),
        f_ns(get("rgc", "IRQ", "collecting", "max_ns_in_collection")));
    {
        double coll = get("rgc", "IRQ", "collecting", "fg_collect_median_ns");
        double worst = get("rgc", "IRQ", "collecting", "max_ns_in_collection");
        double p99 = get("rgc", "IRQ", "collecting", "p99_ns_in_collection");
        double idle99 = get("rgc", "IRQ", "idle", "p99_ns");
        out("A foreground collection took %s (median of %s); handler allocations that interrupted one took "
            "%s at p99 (%s with the foreground idle) and %s at most. ",
            f_ns(coll), f_num(get("rgc", "IRQ", "collecting", "fg_collections"), 0), f_ns(p99), f_ns(idle99),
            f_ns(worst));
        if (!isnan(worst) && !isnan(coll))
            out("%s\n\n", worst < coll ? "Even the longest is shorter than the collection it preempted: a "
                                          "handler allocation never waits for a suspended collection."
                                        : "The longest is not shorter than a collection (host preemption or a "
                                          "slow search: compare p99 with the idle row).");
        else
            out("\n\n");
    }

    /* ---- masked window ---- */
    out("## Longest masked window (RGC_ATOMICS_VIA_MASK=1 build, host)\n\n");
    out("rgc_stats.longest_masked after each workload; the posix port's rgc_port_cycles() is CLOCK_MONOTONIC "
        "nanoseconds, so a figure includes one clock read and any host preemption inside the window. The "
        "lock-free build (the default on x86-64, ARMv7-M) masks nothing.\n\n");
    out("| workload | longest masked window | masked build's own figure |\n|---|---|---|\n");
    {
        double worst = NAN;
        struct {
            const char *w, *p, *name, *metric, *desc;
            int kind; /* 0 rate, 1 ms, 2 ns */
        } mw[] = {{"A2", "S=2048", "A2 S=2048", "ops_per_s", "ops/s", 0},
                  {"B1", "-", "B1", "median_ms", "median collection", 1},
                  {"C", "frag-2block", "C fragmented, 2 blocks", "mean_ns", "mean latency", 2},
                  {"IRQ", "idle", "IRQ, foreground idle", "p99_ns", "handler alloc p99", 2},
                  {"IRQ", "allocating", "IRQ, foreground allocating", "p99_ns", "handler alloc p99", 2},
                  {"IRQ", "collecting", "IRQ, foreground collecting", "p99_ns", "handler alloc p99", 2}};
        for (size_t i = 0; i < sizeof mw / sizeof mw[0]; i++) {
            double x = get("rgc-masked", mw[i].w, mw[i].p, "longest_masked_ns");
            double y = get("rgc-masked", mw[i].w, mw[i].p, mw[i].metric);
            if (!isnan(x) && (isnan(worst) || x > worst))
                worst = x;
            const char *fy = mw[i].kind == 0 ? f_rate(y) : mw[i].kind == 1 ? f_ms(y) : f_ns(y);
            out("| %s | %s | %s %s |\n", mw[i].name, f_ns(x), mw[i].desc, fy);
        }
        out("\nLongest over all: %s. On a loaded host the longest window is set by the scheduler preempting "
            "the process inside one; the instruction-exact figure is the QEMU masked-window test "
            "(CTest qemu.m3.window, qemu.m3basepri.window, qemu.m0.window; run `ctest -R window -V` in a gcc "
            "build): 0 ticks with LDREX/STREX on Cortex-M3, and with BASEPRI or PRIMASK masking a constant "
            "that the test asserts is the same across heap and request sizes.\n\n", f_ns(worst));
    }

    /* ---- incremental ---- */
    out("## Incremental collection (issue #6): rgc_collect_step(h, 256), rgc 32 B\n\n");
    if (isnan(get("rgc", "incr", "heap=1MiB", "median_step_ns"))) {
        out("Not measured in this run.\n\n");
    } else {
        out("B1's live set; between steps the foreground allocates two U[16,128] objects and stores them with "
            "rgc_write into a rooted ring of 64 slots (the previous occupants become garbage); %s collections "
            "per heap size. The first step of a collection also snapshots the roots. Step lengths in wall time "
            "and in thread CPU time (CLOCK_THREAD_CPUTIME_ID: without the time the host scheduler took the "
            "process away, which on a loaded host is whole 4 ms ticks). Full collection: B1's median from the "
            "scaling table.\n\n",
            f_num(get("rgc", "incr", "heap=1MiB", "collections"), 0));
        out("| heap | pool blocks | steps / collection | median step | p99.9 step | longest later step | CPU: median "
            "| CPU: p99.9 | CPU: longest later step | CPU: longest first step | full rgc_collect |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (int k = 0; k < NHEAPS; k++)
            out("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", heaps[k] + 5,
                f_num(get("rgc", "incr", heaps[k], "pool_blocks"), 0),
                f_num(get("rgc", "incr", heaps[k], "steps_per_collection"), 0),
                f_ns(get("rgc", "incr", heaps[k], "median_step_ns")), f_ns(get("rgc", "incr", heaps[k], "p999_step_ns")),
                f_ns(get("rgc", "incr", heaps[k], "longest_later_step_ns")),
                f_ns(get("rgc", "incr", heaps[k], "cpu_median_step_ns")),
                f_ns(get("rgc", "incr", heaps[k], "cpu_p999_step_ns")),
                f_ns(get("rgc", "incr", heaps[k], "cpu_longest_later_step_ns")),
                f_ns(get("rgc", "incr", heaps[k], "cpu_longest_first_step_ns")),
                f_ms(get("rgc", "scaling-B1", heaps[k], "median_ms")));
        out("\n");
    }

    /* ---- targets ---- */
    out("## Targets (issue #5)\n\n");
    char d[512];
    {
        double x = get("rgc", "A2", "S=2048", "ops_per_s"), m = get("mpgc", "A2", "S=2048", "ops_per_s");
        snprintf(d, sizeof d, "rgc %s vs py/gc.c %s in this run: %s", f_rate(x), f_rate(m), f_ratio(x / m));
        met("A2 S=2048 ≥ 10× MicroPython", x >= 10 * m, !isnan(x) && !isnan(m), d);
    }
    {
        double x = get("rgc", "C", "frag-2block", "mean_ns"), m = get("mpgc", "C", "frag-2block", "mean_ns");
        snprintf(d, sizeof d,
                 "rgc %s per 2-block allocation on the fragmented heap vs py/gc.c %s in this run: %s faster",
                 f_ns(x), f_ns(m), f_ratio(m / x));
        met("C ≥ 10× MicroPython", x * 10 <= m, !isnan(x) && !isnan(m), d);
    }
    {
        double a = get("rgc-stats", "A2", "S=1024", "scan_bytes_per_alloc");
        double b = get("rgc-stats", "A2", "S=2048", "scan_bytes_per_alloc");
        double c = get("rgc-stats", "C", "frag-2block", "scan_bytes_per_alloc");
        double e = get("rgc-stats", "C", "frag-1block", "scan_bytes_per_alloc");
        double worst = fmax(fmax(a, b), fmax(c, e));
        snprintf(d, sizeof d,
                 "32 B build: A2 S=1024 %s, A2 S=2048 %s (py/gc.c %s), C fragmented 2-block %s (py/gc.c %s), "
                 "C 1-block %s table bytes per allocation",
                 f_num(a, 1), f_num(b, 1), f_num(get("mpgc-stats", "A2", "S=2048", "scan_bytes_per_alloc"), 1),
                 f_num(c, 1), f_num(get("mpgc-stats", "C", "frag-2block", "scan_bytes_per_alloc"), 1), f_num(e, 1));
        met("≤ 64 table bytes scanned per allocation on average", worst <= TARGET_SCAN,
            !isnan(a) && !isnan(b) && !isnan(c) && !isnan(e), d);
    }
    for (int k = 0; k < 2; k++) {
        double x = get("rgc", a1w[k], "-", "pairs_per_s"), m = get("mpgc", a1w[k], "-", "pairs_per_s");
        snprintf(d, sizeof d, "rgc %s vs py/gc.c %s: %s", f_rate(x), f_rate(m), f_ratio(x / m));
        met(k == 0 ? "A1 ≥ MicroPython" : "A1m ≥ MicroPython", x >= m, !isnan(x) && !isnan(m), d);
    }
    for (int b = 0; b < 4; b++) {
        double x = get("rgc", bw[b], "-", "median_ms"), m = get("mpgc", bw[b], "-", "median_ms");
        char what[64];
        snprintf(what, sizeof what, "%s collection no slower than py/gc.c", bw[b]);
        snprintf(d, sizeof d, "rgc %s vs py/gc.c %s (32 B): speed ratio %s; rgc single-context %s", f_ms(x), f_ms(m),
                 f_ratio(m / x), f_ms(get("rgc-single", bw[b], "-", "median_ms")));
        met(what, x <= m, !isnan(x) && !isnan(m), d);
    }
    {
        double m0 = get("rgc", "incr", "heap=64KiB", "cpu_median_step_ns");
        double m1 = get("rgc", "incr", "heap=64MiB", "cpu_median_step_ns");
        double p0 = get("rgc", "incr", "heap=64KiB", "cpu_p999_step_ns");
        double p1 = get("rgc", "incr", "heap=64MiB", "cpu_p999_step_ns");
        double l0 = get("rgc", "incr", "heap=64KiB", "cpu_longest_later_step_ns");
        double l1 = get("rgc", "incr", "heap=64MiB", "cpu_longest_later_step_ns");
        if (!isnan(m0) && !isnan(m1))
            out("- Issue #6, step length flat in heap size (budget 256, thread CPU time), 64 KiB → 64 MiB: median "
                "%s → %s (%s), p99.9 %s → %s (%s), longest %s → %s (%s)\n",
                f_ns(m0), f_ns(m1), f_ratio(m1 / m0), f_ns(p0), f_ns(p1), f_ratio(p1 / p0), f_ns(l0), f_ns(l1),
                f_ratio(l1 / l0));
    }
    out("\n");
    fclose(md);

    /* ---- plot data ---- */
    FILE *f;
#define OPEN(name)                                                                                              \
    snprintf(path, sizeof path, "%s/" name, dir);                                                              \
    if ((f = fopen(path, "w")) == NULL) {                                                                      \
        perror(path);                                                                                          \
        return 1;                                                                                              \
    }
    OPEN("a3.dat")
    fprintf(f, "# allocator p50 p99 p99.9 max (ns), A3 S=2048\n");
    const char *label[] = {"rgc-32B", "py/gc.c-32B", "rgc-16B", "py/gc.c-16B", "glibc", "jemalloc"};
    for (int c = 0; c < NCOLS; c++)
        if (!isnan(get(cols[c], "A3", "S=2048", "p50_ns")))
            fprintf(f, "%s %g %g %g %g\n", label[c], get(cols[c], "A3", "S=2048", "p50_ns"),
                    get(cols[c], "A3", "S=2048", "p99_ns"), get(cols[c], "A3", "S=2048", "p999_ns"),
                    get(cols[c], "A3", "S=2048", "max_ns"));
    fclose(f);
    OPEN("c.dat")
    fprintf(f, "# allocator frag-2block frag-1block empty-2block empty-1block (mean ns)\n");
    for (int c = 0; c < NCOLS; c++)
        if (!isnan(get(cols[c], "C", "frag-2block", "mean_ns")))
            fprintf(f, "%s %g %g %g %g\n", label[c], get(cols[c], "C", cp[0], "mean_ns"), get(cols[c], "C", cp[1], "mean_ns"),
                    get(cols[c], "C", cp[2], "mean_ns"), get(cols[c], "C", cp[3], "mean_ns"));
    fclose(f);
    OPEN("vs_mpgc.dat")
    fprintf(f, "# case speed_ratio_32B speed_ratio_16B (rgc speed / py/gc.c speed; > 1: rgc faster)\n");
    int n_vs = 0;
    for (size_t k = 0; k < NVS; k++) {
        double r32 = vs_ratio(&vs_cases[k], "rgc", "mpgc"), r16 = vs_ratio(&vs_cases[k], "rgc-b16", "mpgc-b16");
        n_vs += !isnan(r32) || !isnan(r16);
        fprintf(f, "\"%s\" %g %g\n", vs_cases[k].name, r32, r16);
    }
    fclose(f);
    OPEN("scaling.dat")
    fprintf(f, "# heap_KiB B1_median_ms B1_ns_per_pool_block A2_ops_per_s A2_scan_bytes_per_alloc\n");
    for (int k = 0; k < NHEAPS; k++)
        fprintf(f, "%g %g %g %g %g\n", heap_kib[k], get("rgc", "scaling-B1", heaps[k], "median_ms"),
                get("rgc", "scaling-B1", heaps[k], "ns_per_pool_block"), get("rgc", "scaling-A2", heaps[k], "ops_per_s"),
                get("rgc-stats", "scaling-A2", heaps[k], "scan_bytes_per_alloc"));
    fclose(f);
    OPEN("irq.dat")
    fprintf(f, "# foreground p50 p99 max (ns), level-1 handler alloc latency\n");
    for (int m = 0; m < 3; m++)
        fprintf(f, "%s %g %g %g\n", modes[m], get("rgc", "IRQ", modes[m], "p50_ns"), get("rgc", "IRQ", modes[m], "p99_ns"),
                get("rgc", "IRQ", modes[m], "max_ns"));
    fclose(f);
    OPEN("incr.dat")
    fprintf(f, "# heap_KiB cpu_median cpu_p999 cpu_longest_first cpu_longest_later wall_longest_later "
               "full_collect (ns)\n");
    for (int k = 0; k < NHEAPS; k++)
        fprintf(f, "%g %g %g %g %g %g %g\n", heap_kib[k], get("rgc", "incr", heaps[k], "cpu_median_step_ns"),
                get("rgc", "incr", heaps[k], "cpu_p999_step_ns"), get("rgc", "incr", heaps[k], "cpu_longest_first_step_ns"),
                get("rgc", "incr", heaps[k], "cpu_longest_later_step_ns"),
                get("rgc", "incr", heaps[k], "longest_later_step_ns"),
                get("rgc", "scaling-B1", heaps[k], "median_ms") * 1e6);
    fclose(f);
    /* which plots have data (bench/plots.gp loads this) */
    int n_a3 = 0, n_c = 0, n_b1 = 0, n_scan = 0, n_irq = 0, n_incr = 0;
    for (int c = 0; c < NCOLS; c++) {
        n_a3 += !isnan(get(cols[c], "A3", "S=2048", "p50_ns"));
        n_c += !isnan(get(cols[c], "C", "frag-2block", "mean_ns"));
    }
    for (int k = 0; k < NHEAPS; k++) {
        n_b1 += !isnan(get("rgc", "scaling-B1", heaps[k], "ns_per_pool_block"));
        n_scan += get("rgc-stats", "scaling-A2", heaps[k], "scan_bytes_per_alloc") > 0;
        n_incr += get("rgc", "incr", heaps[k], "cpu_median_step_ns") > 0;
    }
    for (int m = 0; m < 3; m++)
        n_irq += get("rgc", "IRQ", modes[m], "p50_ns") > 0;
    OPEN("plot_flags.gp")
    fprintf(f, "# written by rgc-bench-report: data points available per plot\n");
    fprintf(f, "have_a3 = %d\nhave_c = %d\nhave_b1 = %d\nhave_scan = %d\nhave_irq = %d\nhave_incr = %d\n"
               "have_vs = %d\n",
            n_a3, n_c, n_b1, n_scan, n_irq, n_incr, n_vs);
    fclose(f);
    fprintf(stderr, "wrote %s/results.md\n", dir);
    return 0;
}
