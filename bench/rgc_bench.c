/* rgc_bench.c - the benchmark of issue #5 (MicroPython's workloads), with MicroPython's py/gc.c as a
 * column (issue #13), and the incremental-collection figure of issue #6. A benchmark, not a test: it
 * never passes or fails on time. Each run appends raw records to a TSV file (variant, workload,
 * parameter, metric, value); bench_report.c turns them into bench/results/results.md and the plots'
 * data; scripts/bench.sh runs everything.
 *
 * The same source builds every variant (see bench/CMakeLists.txt): BENCH_VARIANT names it, BENCH_PEER=1
 * runs the allocator workloads (A1-A3, C) on malloc/free instead of rgc (glibc, or jemalloc when the
 * executable is linked with -ljemalloc), BENCH_MPGC=1 runs the allocator and collection workloads
 * (A1-A3, C, B1-B3) on py/gc.c through its own API (gc_alloc, gc_free, gc_collect: bench/mpgc).
 *
 * Workloads (exact definitions from issue #5; heap 1 MiB unless stated; fixed seeds, xorshift64*):
 *   A1  alloc(16) immediately followed by free, 5M pairs, empty heap - pairs/s
 *   A1m the same with alloc(U[16,512]) (issue #5's A1)
 *   A2  live set of S slots (S = 1024, 2048); each op frees a random slot and refills it with
 *       U[16,512]; 2M ops - ops/s and table bytes scanned per allocation (RGC_SEARCH_STATS builds)
 *   A3  per-call alloc latency in A2's steady state at S = 2048 - p50/p99/p99.9/max
 *   B1  64 singly linked lists, node size U[16,128], word 0 = next, rest non-pointer payload, filled to
 *       50% of the pool; 50 collections - median collect time. The list heads are a root range
 *       registered with rgc_add_root.
 *   B2  the same with every other list root dropped before one collection (frees ~50%); median of 50
 *   B1top  B1 plus one live 1-block object within 16 blocks of the pool's top (every free block but 16
 *       filled with 1-block objects, the highest kept, the others freed); median of 50
 *   B3  8 pointer arrays to 1-block leaves (mark-stack overflow) and a chain of 4096 1-block nodes, each
 *       new node pointing to the previous one, together 50% of the pool; median of 50 collections
 *   C   1-block objects fill 90% of the pool, every other one freed, then 1000 allocations of 2 blocks
 *       and then 1000 of 1 block - mean/p50 latency; the same on an empty heap
 *   Scaling  B1 and A2 at heap sizes 64 KiB ... 64 MiB (A2 with S = 2048 * heap / 1 MiB, the same fill)
 *   IRQ  alloc latency inside a level-1 handler of the host interrupt simulator (timer every 50 us)
 *        while the foreground is idle, allocating (A2 churn) and collecting (B1 live set, rgc_collect
 *        in a loop)
 *   Masked window  rgc_stats.longest_masked after each workload in RGC_ATOMICS_VIA_MASK builds
 *        (posix port: rgc_port_cycles() is CLOCK_MONOTONIC nanoseconds)
 *   Incremental  B1 live set at 64 KiB ... 64 MiB, rgc_collect_step(h, 256) until the collection ends,
 *        the foreground allocating (2 objects of U[16,128], stored with rgc_write) between steps:
 *        longest step, steps per collection
 * Latencies are clock_gettime(CLOCK_MONOTONIC) pairs around one call (the pair's own cost is reported
 * as timer overhead and not subtracted).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#ifndef BENCH_VARIANT
#define BENCH_VARIANT "rgc"
#endif
#ifndef BENCH_PEER
#define BENCH_PEER 0
#endif

#ifndef BENCH_MPGC
#define BENCH_MPGC 0
#endif
/* BENCH_RGC: rgc itself; BENCH_GC: a collector (rgc or py/gc.c), so the B workloads apply */
#define BENCH_RGC (!BENCH_PEER && !BENCH_MPGC)
#define BENCH_GC (!BENCH_PEER)

#if BENCH_PEER
#if defined(BENCH_JEMALLOC) && BENCH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
#define BLOCK ((size_t)32) /* the block size of the rgc build the peers are compared with */
#define BENCH_SEARCH_STATS 0
#elif BENCH_MPGC
#include "mpgc.h"
#define BLOCK MPGC_BLOCK_BYTES
#ifndef MPGC_SEARCH_STATS
#define MPGC_SEARCH_STATS 0
#endif
#define BENCH_SEARCH_STATS MPGC_SEARCH_STATS
#else
#include "rgc.h"
#include "rgc_sim.h"
#define BLOCK ((size_t)RGC_BLOCK_BYTES)
#define BENCH_SEARCH_STATS RGC_SEARCH_STATS
#endif

#define KiB ((size_t)1024)
#define MiB (KiB * KiB)
#define MAX_HEAP (64 * MiB)
#define MAX_SLOTS ((size_t)2048 * 64) /* A2's S at 64 MiB */
#define NLISTS 64
#define NARRAYS 8
#define RING 64

/* ---- utilities ---------------------------------------------------------------------------------- */

static FILE *g_out;
static bool g_quick;

static void note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%s] ", BENCH_VARIANT);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void die(const char *what) {
    note("error: %s", what);
    exit(1);
}

/* One raw record: variant, workload, parameter ("-" for none), metric, value. */
static void rec(const char *workload, const char *param, const char *metric, double value) {
    fprintf(g_out, "%s\t%s\t%s\t%s\t%.9g\n", BENCH_VARIANT, workload, param[0] ? param : "-", metric, value);
    fflush(g_out);
}

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct {
    uint64_t s;
} rng_t;

static inline uint64_t rng_next(rng_t *r) { /* xorshift64* */
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline size_t rng_range(rng_t *r, size_t lo, size_t hi) {
    return lo + (size_t)(rng_next(r) % (uint64_t)(hi - lo + 1u));
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const uint32_t *sorted, size_t n, double q) {
    if (n == 0)
        return NAN;
    size_t i = (size_t)ceil(q * (double)n);
    if (i < 1)
        i = 1;
    if (i > n)
        i = n;
    return sorted[i - 1];
}

static double mean_u32(const uint32_t *a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i];
    return n ? s / (double)n : NAN;
}

static uint32_t clamp32(uint64_t v) {
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n, size);
    if (p == NULL)
        die("out of host memory");
    return p;
}

static void *volatile g_sink; /* keeps malloc/free pairs from being elided */

/* ---- the allocator under test -------------------------------------------------------------------- */

static void *g_slots[MAX_SLOTS];

#if BENCH_PEER
static inline void *b_alloc(size_t n) {
    return malloc(n);
}
static inline void b_free(void *p) {
    free(p);
}
static size_t heap_reset(size_t bytes) {
    return bytes / BLOCK;
}
static void add_root(void *p, size_t bytes) {
    (void)p;
    (void)bytes;
}
static unsigned b_collections(void) {
    return 0;
}
typedef struct {
    uint64_t searches, bytes;
    uint32_t masked;
} snap_t;
static snap_t snap(void) {
    snap_t s = {0, 0, 0};
    return s;
}
#elif BENCH_MPGC
/* MicroPython's py/gc.c through its own API (bench/mpgc: the port side, as a MicroPython port has it).
 * gc_alloc zeroes the whole allocation (MICROPY_GC_CONSERVATIVE_CLEAR, the default), as rgc_alloc
 * does; on failure it collects once and retries (gc_collect: the stack and the registered ranges). */
static unsigned char *g_mem;
static uint64_t g_searches, g_search_bytes;

static inline void *b_alloc(size_t n) {
#if MPGC_SEARCH_STATS
    /* py/gc.c scans table bytes from gc_last_free_atb_index up to the byte of the run's last block */
    size_t from = mpgc_search_start();
    void *p = gc_alloc(n, 0);
    if (p != NULL) {
        g_searches++;
        g_search_bytes += mpgc_atb_index((char *)p + n - 1) - from + 1u;
    }
    return p;
#else
    return gc_alloc(n, 0);
#endif
}
static inline void b_free(void *p) {
    gc_free(p);
}
static size_t heap_reset(size_t bytes) {
    if (bytes > MAX_HEAP)
        die("heap too large");
    return mpgc_init(g_mem, bytes);
}
static void add_root(void *p, size_t bytes) {
    if (mpgc_add_root(p, bytes) != 0)
        die("mpgc_add_root");
}
static int b_collect(void) {
    gc_collect();
    return 0;
}
static size_t b_used_bytes(void) {
    return mpgc_used_bytes();
}
static unsigned b_collections(void) {
    return mpgc_collections();
}
typedef struct {
    uint64_t searches, bytes;
    uint32_t masked;
} snap_t;
static snap_t snap(void) {
    snap_t s = {g_searches, g_search_bytes, 0};
    return s;
}
#else
static rgc_heap g_heap;
static unsigned char *g_mem;

static inline void *b_alloc(size_t n) {
    return rgc_alloc(&g_heap, n, 0);
}
static inline void b_free(void *p) {
    rgc_free(&g_heap, p);
}
/* A fresh heap of `bytes` (the memory handed to rgc_init); returns its pool blocks. */
static size_t heap_reset(size_t bytes) {
    if (bytes > MAX_HEAP || rgc_init(&g_heap, g_mem, bytes) != RGC_OK)
        die("rgc_init");
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    return st.blocks;
}
static void add_root(void *p, size_t bytes) {
    if (rgc_add_root(&g_heap, p, bytes) != RGC_OK)
        die("rgc_add_root");
}
static int b_collect(void) {
    return rgc_collect(&g_heap);
}
static size_t b_used_bytes(void) {
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    return st.used_bytes;
}
static unsigned b_collections(void) {
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    return st.collections;
}
typedef struct {
    uint64_t searches, bytes;
    uint32_t masked;
} snap_t;
static snap_t snap(void) {
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    snap_t s = {st.searches, st.search_bytes, st.longest_masked};
    return s;
}
#endif

/* Search statistics of a measured phase (only builds with RGC_SEARCH_STATS=1 / MPGC_SEARCH_STATS=1). */
static void rec_search(const char *w, const char *param, snap_t a, snap_t b, uint64_t allocs) {
#if BENCH_SEARCH_STATS
    if (allocs > 0 && b.searches > a.searches) {
        rec(w, param, "scan_bytes_per_alloc", (double)(b.bytes - a.bytes) / (double)allocs);
        rec(w, param, "searches_per_alloc", (double)(b.searches - a.searches) / (double)allocs);
    }
#else
    (void)w, (void)param, (void)a, (void)b, (void)allocs;
#endif
}

/* Collections the allocator ran by itself (a failed search) during a measured phase: recorded when any. */
static void rec_auto(const char *w, const char *param, unsigned before) {
    unsigned n = b_collections() - before;
    if (n != 0) {
        rec(w, param, "auto_collections", n);
        note("%s %s: %u automatic collections during the measurement", w, param, n);
    }
}

/* Longest masked window since the heap's rgc_init (RGC_ATOMICS_VIA_MASK builds). */
static void rec_masked(const char *w, const char *param) {
#if BENCH_RGC && RGC_ATOMICS_VIA_MASK
    rec(w, param, "longest_masked_ns", snap().masked);
#else
    (void)w, (void)param;
#endif
}

/* ---- parameters ---------------------------------------------------------------------------------- */

static struct {
    uint64_t a1_pairs, a2_ops, a3_ops, scale_a2_ops, a2_cap_ns, scale_cap_ns;
    unsigned b_colls, c_reps, irq_ms, incr_colls;
} P;

static void set_params(void) {
    if (g_quick) {
        P.a1_pairs = 200000;
        P.a2_ops = 100000;
        P.a3_ops = 50000;
        P.scale_a2_ops = 5000;
        P.a2_cap_ns = 400000000u;
        P.scale_cap_ns = 100000000u;
        P.b_colls = 5;
        P.c_reps = 1;
        P.irq_ms = 200;
        P.incr_colls = 1;
    } else {
        P.a1_pairs = 5000000;
        P.a2_ops = 2000000;
        P.a3_ops = 1000000;
        P.scale_a2_ops = 200000;
        P.a2_cap_ns = 15000000000u;
        P.scale_cap_ns = 3000000000u;
        P.b_colls = 50;
        P.c_reps = 5;
        P.irq_ms = 2000;
        P.incr_colls = 5;
#if BENCH_MPGC
        /* py/gc.c's A2/A3 run at a few hundred k ops/s: 2M ops would take ~8 s per run and round; the
         * cap stops them after 3 s (the figure is then ops done / time taken, marked "time cap") */
        P.a2_cap_ns = 3000000000u;
#endif
    }
}

/* ---- timer overhead ------------------------------------------------------------------------------ */

static void wl_timer(void) {
    enum { N = 100000 };
    static uint32_t lat[N];
    for (unsigned i = 0; i < N; i++) {
        uint64_t t0 = now_ns();
        uint64_t t1 = now_ns();
        lat[i] = clamp32(t1 - t0);
    }
    qsort(lat, N, sizeof lat[0], cmp_u32);
    rec("timer", "", "overhead_p50_ns", pct(lat, N, 0.5));
    note("timer: clock_gettime pair p50 %.0f ns", pct(lat, N, 0.5));
}

/* ---- A1 ------------------------------------------------------------------------------------------ */

/* alloc(U[lo,hi]) + free pairs on an empty heap (the size drawn outside the allocator for A1 too). */
static void a1_run(const char *w, size_t lo, size_t hi) {
    heap_reset(MiB);
    rng_t r = {0xA1A1A1A1DEADBEEFull};
    for (unsigned i = 0; i < 100000; i++) {
        void *p = b_alloc(rng_range(&r, lo, hi));
        g_sink = p;
        b_free(p);
    }
    uint64_t fails = 0, n = P.a1_pairs;
    unsigned c0 = b_collections();
    snap_t s0 = snap();
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        void *p = b_alloc(rng_range(&r, lo, hi));
        g_sink = p;
        fails += p == NULL;
        b_free(p);
    }
    uint64_t t1 = now_ns();
    snap_t s1 = snap();
    double secs = (double)(t1 - t0) / 1e9;
    rec(w, "", "pairs_per_s", (double)n / secs);
    rec(w, "", "ns_per_pair", (double)(t1 - t0) / (double)n);
    rec(w, "", "failed", (double)fails);
    rec_search(w, "", s0, s1, n);
    rec_auto(w, "", c0);
    rec_masked(w, "");
    note("%s: %.2f M pairs/s (%.1f ns/pair), %" PRIu64 " failed", w, (double)n / secs / 1e6,
         (double)(t1 - t0) / (double)n, fails);
}

static void wl_a1(void) {
    a1_run("A1", 16, 16);   /* A1: alloc(16) + free */
    a1_run("A1m", 16, 512); /* A1m: alloc(U[16,512]) + free */
}

/* ---- A2 / A3 ------------------------------------------------------------------------------------- */

struct a2_res {
    double ops_per_s;
    uint64_t ops, fails;
    bool capped; /* stopped by the time cap before `ops` */
    unsigned collections; /* automatic collections during the measured ops */
    snap_t s0, s1;
};

/* One A2 operation: free a random slot, refill it with U[16,512]. */
static inline void a2_op(rng_t *r, size_t S, uint64_t *fails) {
    size_t j = (size_t)(rng_next(r) % S);
    b_free(g_slots[j]);
    void *p = b_alloc(rng_range(r, 16, 512));
    *fails += p == NULL;
    g_slots[j] = p;
}

/* S slots on a fresh heap of heap_bytes, warm-up, then up to `ops` measured operations, stopped after
 * cap_ns (so that a slow search cannot make the run unbounded: the rate is ops done / time taken).
 * lat: per-call allocation latencies (room for `ops`). */
static void a2_run(size_t heap_bytes, size_t S, uint64_t ops, uint64_t cap_ns, uint32_t *lat, struct a2_res *o,
                   uint64_t seed) {
    heap_reset(heap_bytes);
    memset(g_slots, 0, S * sizeof g_slots[0]);
    add_root(g_slots, S * sizeof g_slots[0]);
    rng_t r = {seed};
    for (size_t i = 0; i < S; i++)
        g_slots[i] = b_alloc(rng_range(&r, 16, 512));
    uint64_t warm = ops / 10 > S ? ops / 10 : S, fails = 0;
    uint64_t warm_end = now_ns() + cap_ns / 5;
    for (uint64_t i = 0; i < warm; i++) {
        a2_op(&r, S, &fails);
        if ((i & 255u) == 255u && now_ns() > warm_end)
            break;
    }
    fails = 0;
    uint64_t done = 0;
    unsigned c0 = b_collections();
    o->s0 = snap();
    uint64_t t0 = now_ns(), end = t0 + cap_ns;
    if (lat == NULL) {
        while (done < ops) {
            uint64_t chunk = ops - done < 256 ? ops - done : 256;
            for (uint64_t i = 0; i < chunk; i++)
                a2_op(&r, S, &fails);
            done += chunk;
            if (now_ns() > end)
                break;
        }
    } else {
        for (; done < ops; done++) {
            size_t j = (size_t)(rng_next(&r) % S);
            b_free(g_slots[j]);
            size_t n = rng_range(&r, 16, 512);
            uint64_t a = now_ns();
            void *p = b_alloc(n);
            uint64_t b = now_ns();
            lat[done] = clamp32(b - a);
            fails += p == NULL;
            g_slots[j] = p;
            if (b > end) {
                done++;
                break;
            }
        }
    }
    uint64_t t1 = now_ns();
    o->s1 = snap();
    o->collections = b_collections() - c0;
    o->ops = done;
    o->capped = done < ops;
    o->ops_per_s = (double)done / ((double)(t1 - t0) / 1e9);
    o->fails = fails;
    for (size_t i = 0; i < S; i++) {
#if BENCH_PEER
        free(g_slots[i]);
#endif
        g_slots[i] = NULL;
    }
}

static void rec_a2(const char *w, const char *param, const struct a2_res *o) {
    rec(w, param, "ops_per_s", o->ops_per_s);
    rec(w, param, "ops", (double)o->ops);
    rec(w, param, "failed", (double)o->fails);
    if (o->capped)
        rec(w, param, "time_capped", 1);
    rec_search(w, param, o->s0, o->s1, o->ops);
    if (o->collections != 0)
        rec(w, param, "auto_collections", o->collections);
    rec_masked(w, param);
    double scan = o->s1.searches > o->s0.searches ? (double)(o->s1.bytes - o->s0.bytes) / (double)o->ops : NAN;
    note("%s %s: %.0f k ops/s (%" PRIu64 " ops%s), %" PRIu64 " failed, table bytes/alloc %.1f", w, param,
         o->ops_per_s / 1e3, o->ops, o->capped ? ", time cap" : "", o->fails, scan);
}

static void wl_a2(void) {
    static const size_t sizes[] = {1024, 2048};
    for (unsigned k = 0; k < 2; k++) {
        char param[32];
        snprintf(param, sizeof param, "S=%zu", sizes[k]);
        struct a2_res o;
        a2_run(MiB, sizes[k], P.a2_ops, P.a2_cap_ns, NULL, &o, 0xA2A2A2A2ull + sizes[k]);
        rec_a2("A2", param, &o);
    }
}

static void wl_a3(void) {
    uint32_t *lat = xcalloc(P.a3_ops, sizeof *lat);
    struct a2_res o;
    a2_run(MiB, 2048, P.a3_ops, P.a2_cap_ns, lat, &o, 0xA3A3A3A3ull);
    size_t n = o.ops;
    qsort(lat, n, sizeof *lat, cmp_u32);
    double p50 = pct(lat, n, 0.5), p99 = pct(lat, n, 0.99), p999 = pct(lat, n, 0.999), mx = lat[n - 1];
    rec("A3", "S=2048", "p50_ns", p50);
    rec("A3", "S=2048", "p99_ns", p99);
    rec("A3", "S=2048", "p999_ns", p999);
    rec("A3", "S=2048", "max_ns", mx);
    rec("A3", "S=2048", "mean_ns", mean_u32(lat, n));
    rec("A3", "S=2048", "samples", (double)n);
    note("A3 S=2048: p50 %.0f p99 %.0f p99.9 %.0f max %.0f ns", p50, p99, p999, mx);
    free(lat);
}

/* ---- C: fragmented heap --------------------------------------------------------------------------- */

static void c_phase(const char *param, void **dst, size_t nb, unsigned count, uint32_t *lat) {
    unsigned c0 = b_collections();
    snap_t s0 = snap();
    for (unsigned k = 0; k < count; k++) {
        uint64_t a = now_ns();
        void *p = b_alloc(nb * BLOCK);
        uint64_t b = now_ns();
        lat[k] = clamp32(b - a);
        dst[k] = p;
    }
    snap_t s1 = snap();
    rec_search("C", param, s0, s1, count);
    rec_auto("C", param, c0);
}

static void wl_c(void) {
    enum { COUNT = 1000 };
    const char *names[4] = {"frag-2block", "frag-1block", "empty-2block", "empty-1block"};
    unsigned reps = P.c_reps;
    uint32_t *lat[4];
    for (unsigned k = 0; k < 4; k++)
        lat[k] = xcalloc((size_t)COUNT * reps, sizeof(uint32_t));
    size_t nblocks = MiB / BLOCK + 1;
    void **big = xcalloc(nblocks + 2u * COUNT, sizeof(void *));
    for (unsigned rep = 0; rep < reps; rep++) {
        for (int empty = 0; empty <= 1; empty++) {
            nblocks = heap_reset(MiB);
            size_t nfill = empty ? 0 : nblocks * 9u / 10u;
            memset(big, 0, (nfill + 2u * COUNT) * sizeof(void *));
            add_root(big, (nfill + 2u * COUNT) * sizeof(void *));
            for (size_t i = 0; i < nfill; i++)
                big[i] = b_alloc(BLOCK);
            for (size_t i = 1; i < nfill; i += 2) {
                b_free(big[i]);
                big[i] = NULL;
            }
            c_phase(names[2 * empty], big + nfill, 2, COUNT, lat[2 * empty] + (size_t)rep * COUNT);
            c_phase(names[2 * empty + 1], big + nfill + COUNT, 1, COUNT, lat[2 * empty + 1] + (size_t)rep * COUNT);
            rec_masked("C", names[2 * empty]);
            size_t fails = 0;
            for (size_t i = nfill; i < nfill + 2u * COUNT; i++)
                fails += big[i] == NULL;
            if (rep == 0)
                rec("C", names[2 * empty], "failed", (double)fails);
#if BENCH_PEER
            for (size_t i = 0; i < nfill + 2u * COUNT; i++)
                free(big[i]);
#endif
        }
    }
    for (unsigned k = 0; k < 4; k++) {
        size_t n = (size_t)COUNT * reps;
        double mean = mean_u32(lat[k], n);
        qsort(lat[k], n, sizeof(uint32_t), cmp_u32);
        rec("C", names[k], "mean_ns", mean);
        rec("C", names[k], "p50_ns", pct(lat[k], n, 0.5));
        rec("C", names[k], "max_ns", lat[k][n - 1]);
        note("C %s: mean %.0f ns, p50 %.0f ns", names[k], mean, pct(lat[k], n, 0.5));
        free(lat[k]);
    }
    free(big);
}

#if BENCH_GC
/* ---- B1-B3: collection ---------------------------------------------------------------------------- */

static void *g_lists[NLISTS];
static void *g_arrays[NARRAYS + 1]; /* B3: the arrays, then the chain's head */
static void *g_top;                 /* B1top: the object near the heap's top */

/* B1's live set: 64 lists of U[16,128] nodes until 50% of the pool's blocks are used. */
static size_t build_lists(size_t nblocks, rng_t *r) {
    size_t used = 0, nodes = 0;
    while (used < nblocks / 2) {
        size_t n = rng_range(r, 16, 128);
        uintptr_t *node = b_alloc(n);
        if (node == NULL)
            die("B1 build: allocation failed");
        size_t l = nodes % NLISTS;
        node[0] = (uintptr_t)g_lists[l];
        for (size_t k = 1; k < n / sizeof(uintptr_t); k++)
            node[k] = (uintptr_t)rng_next(r); /* payload: random words, never a pool address */
        g_lists[l] = node;
        used += (n + BLOCK - 1) / BLOCK;
        nodes++;
    }
    return nodes;
}

/* Fresh heap + B1 live set, lists rooted in a registered range. Returns pool blocks. */
static size_t b1_setup(size_t heap_bytes, uint64_t seed) {
    size_t nblocks = heap_reset(heap_bytes);
    memset(g_lists, 0, sizeof g_lists);
    add_root(g_lists, sizeof g_lists);
    rng_t r = {seed};
    build_lists(nblocks, &r);
    return nblocks;
}

static uint64_t timed_collect(void) {
    uint64_t t0 = now_ns();
    int rc = b_collect();
    uint64_t t1 = now_ns();
    if (rc != 0)
        die("collect");
    return t1 - t0;
}

struct coll_res {
    double median_ns, min_ns, max_ns;
    size_t blocks, live_blocks;
};

static void coll_summary(uint32_t *t, unsigned n, struct coll_res *o) {
    qsort(t, n, sizeof t[0], cmp_u32);
    o->median_ns = pct(t, n, 0.5);
    o->min_ns = t[0];
    o->max_ns = t[n - 1];
}

/* B1 at heap_bytes: median of ncoll collections after two warm-up collections. */
static void b1_measure(size_t heap_bytes, unsigned ncoll, struct coll_res *o) {
    o->blocks = b1_setup(heap_bytes, 0xB1B1B1B1ull);
    uint32_t *t = xcalloc(ncoll, sizeof *t);
    timed_collect();
    timed_collect();
    for (unsigned i = 0; i < ncoll; i++)
        t[i] = clamp32(timed_collect());
    o->live_blocks = b_used_bytes() / BLOCK;
    coll_summary(t, ncoll, o);
    free(t);
}

/* B1top's extra object: fill every free block but 16 with 1-block objects (no allocation fails, so
 * nothing collects meanwhile), keep the highest-addressed one (rooted in g_top), free the others.
 * A sweep that stops after the last used block (py/gc.c's gc_last_used_block) now runs to the top. */
static void place_top_object(size_t nblocks) {
    size_t used = b_used_bytes() / BLOCK, n = nblocks > used + 16u ? nblocks - used - 16u : 0, top = 0;
    void **fill = xcalloc(n ? n : 1, sizeof *fill);
    for (size_t i = 0; i < n; i++) {
        if ((fill[i] = b_alloc(BLOCK)) == NULL)
            die("B1top fill: allocation failed");
        if ((uintptr_t)fill[i] > (uintptr_t)fill[top])
            top = i;
    }
    g_top = n ? fill[top] : NULL;
    add_root(&g_top, sizeof g_top);
    for (size_t i = 0; i < n; i++)
        if (i != top)
            b_free(fill[i]);
    free(fill);
}

static void rec_coll(const char *w, const char *param, const struct coll_res *o) {
    rec(w, param, "median_ms", o->median_ns / 1e6);
    rec(w, param, "min_ms", o->min_ns / 1e6);
    rec(w, param, "max_ms", o->max_ns / 1e6);
    rec(w, param, "ns_per_pool_block", o->median_ns / (double)o->blocks);
    rec(w, param, "ns_per_live_block", o->median_ns / (double)(o->live_blocks ? o->live_blocks : 1));
    rec(w, param, "pool_blocks", (double)o->blocks);
    rec(w, param, "live_blocks", (double)o->live_blocks);
    note("%s %s: median %.3f ms (min %.3f, max %.3f), %.2f ns per pool block, %zu/%zu blocks live", w, param,
         o->median_ns / 1e6, o->min_ns / 1e6, o->max_ns / 1e6, o->median_ns / (double)o->blocks,
         o->live_blocks, o->blocks);
}

static void wl_b(void) {
    struct coll_res o;
    b1_measure(MiB, P.b_colls, &o);
    rec_coll("B1", "", &o);
    rec_masked("B1", "");

    /* B1top: B1 plus one live 1-block object within 16 blocks of the pool's top. */
    {
        size_t nblocks = b1_setup(MiB, 0xB1B1B1B1ull);
        place_top_object(nblocks);
        uint32_t *tt = xcalloc(P.b_colls, sizeof *tt);
        timed_collect();
        timed_collect();
        for (unsigned i = 0; i < P.b_colls; i++)
            tt[i] = clamp32(timed_collect());
        o.blocks = nblocks;
        o.live_blocks = b_used_bytes() / BLOCK;
        coll_summary(tt, P.b_colls, &o);
        rec_coll("B1top", "", &o);
        /* blocks between the object and the end of the memory (both pools end there, give or take a block) */
        rec("B1top", "", "blocks_above_top_object",
            (double)(MiB - ((uintptr_t)g_top - (uintptr_t)g_mem)) / (double)BLOCK - 1.0);
        free(tt);
    }

    /* B2: every other list dropped, one collection per fresh heap. */
    uint32_t *t = xcalloc(P.b_colls, sizeof *t);
    double freed = 0;
    for (unsigned i = 0; i < P.b_colls; i++) {
        o.blocks = b1_setup(MiB, 0xB2B2B2B2ull + i);
        for (unsigned l = 1; l < NLISTS; l += 2)
            g_lists[l] = NULL;
        size_t a = b_used_bytes();
        t[i] = clamp32(timed_collect());
        size_t b = b_used_bytes();
        freed += 1.0 - (double)b / (double)a;
        o.live_blocks = b / BLOCK;
    }
    coll_summary(t, P.b_colls, &o);
    rec_coll("B2", "", &o);
    rec("B2", "", "freed_fraction", freed / P.b_colls);
    rec_masked("B2", "");

    /* B3: 8 arrays of K pointers to 1-block leaves, then a chain of CHAIN 1-block nodes (each new node
     * points to the previous one: the head is the highest, the links point down); arrays + leaves +
     * chain = 50% of the pool. */
    enum { CHAIN = 4096 };
    size_t nblocks = heap_reset(MiB);
    memset(g_arrays, 0, sizeof g_arrays);
    add_root(g_arrays, sizeof g_arrays);
    size_t K = (size_t)((double)(nblocks / 2 - CHAIN) / (NARRAYS * (1.0 + (double)sizeof(void *) / (double)BLOCK)));
    for (unsigned a = 0; a < NARRAYS; a++)
        if ((g_arrays[a] = b_alloc(K * sizeof(void *))) == NULL)
            die("B3 arrays");
    for (size_t k = 0; k < K; k++)
        for (unsigned a = 0; a < NARRAYS; a++)
            if ((((void **)g_arrays[a])[k] = b_alloc(BLOCK)) == NULL)
                die("B3 leaves");
    for (unsigned k = 0; k < CHAIN; k++) {
        void **node = b_alloc(BLOCK);
        if (node == NULL)
            die("B3 chain");
        node[0] = g_arrays[NARRAYS];
        g_arrays[NARRAYS] = node;
    }
    timed_collect();
    timed_collect();
    for (unsigned i = 0; i < P.b_colls; i++)
        t[i] = clamp32(timed_collect());
    o.blocks = nblocks;
    o.live_blocks = b_used_bytes() / BLOCK;
    coll_summary(t, P.b_colls, &o);
    rec_coll("B3", "", &o);
    rec_masked("B3", "");
    free(t);
}

#if BENCH_RGC
/* ---- Scaling --------------------------------------------------------------------------------------- */

static void param_heap(char *buf, size_t len, size_t bytes) {
    if (bytes >= MiB)
        snprintf(buf, len, "heap=%zuMiB", bytes / MiB);
    else
        snprintf(buf, len, "heap=%zuKiB", bytes / KiB);
}

static const size_t heap_sizes[] = {64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB, 64 * MiB};
#define NSIZES (sizeof heap_sizes / sizeof heap_sizes[0])

/* with_b1 false: only the A2 half (search-statistics builds). */
static void wl_scaling(bool with_b1) {
    for (unsigned k = 0; k < NSIZES; k++) {
        char param[32];
        param_heap(param, sizeof param, heap_sizes[k]);
        struct coll_res o;
        if (with_b1) {
            unsigned ncoll = P.b_colls;
            if (heap_sizes[k] >= 16 * MiB && ncoll > 20)
                ncoll = heap_sizes[k] >= 64 * MiB ? 10 : 20;
            b1_measure(heap_sizes[k], ncoll, &o);
            rec_coll("scaling-B1", param, &o);
        }

        size_t S = 2048 * heap_sizes[k] / MiB;
        struct a2_res a;
        a2_run(heap_sizes[k], S, P.scale_a2_ops, P.scale_cap_ns, NULL, &a, 0x5CA1Eull + k);
        rec("scaling-A2", param, "S", (double)S);
        rec_a2("scaling-A2", param, &a);
    }
}

/* ---- Interrupt latency (host simulator) ------------------------------------------------------------ */

#if !RGC_SINGLE_CONTEXT
static struct {
    atomic_int armed;
    uint32_t *lat;
    unsigned char *during; /* the sample interrupted a foreground collection */
    size_t cap;
    volatile size_t n;
    volatile uint64_t fails;
    rng_t r;
} g_irq;
static volatile sig_atomic_t g_fg_collecting;

static void irq_handler(unsigned level, void *arg) {
    (void)level;
    (void)arg;
    if (!atomic_load(&g_irq.armed))
        return;
    size_t n = rng_range(&g_irq.r, 16, 512);
    unsigned char during = (unsigned char)g_fg_collecting;
    uint64_t a = now_ns();
    void *p = rgc_alloc(&g_heap, n, 0);
    uint64_t b = now_ns();
    size_t i = g_irq.n;
    if (i < g_irq.cap) {
        g_irq.lat[i] = clamp32(b - a);
        g_irq.during[i] = during;
        g_irq.n = i + 1;
    }
    if (p == NULL)
        g_irq.fails = g_irq.fails + 1;
    else
        rgc_free(&g_heap, p);
}

static void irq_stats(const char *mode, const char *suffix, uint32_t *v, size_t n) {
    char m[64];
    qsort(v, n, sizeof v[0], cmp_u32);
    snprintf(m, sizeof m, "samples%s", suffix);
    rec("IRQ", mode, m, (double)n);
    if (n == 0)
        return;
    snprintf(m, sizeof m, "p50_ns%s", suffix);
    rec("IRQ", mode, m, pct(v, n, 0.5));
    snprintf(m, sizeof m, "p99_ns%s", suffix);
    rec("IRQ", mode, m, pct(v, n, 0.99));
    snprintf(m, sizeof m, "max_ns%s", suffix);
    rec("IRQ", mode, m, v[n - 1]);
}

static void wl_irq(void) {
    static bool sim_ready;
    if (!sim_ready) {
        if (rgc_sim_init(2, 2) != 0)
            die("rgc_sim_init");
        sim_ready = true;
    }
    const uint64_t period_ns = 50000;
    g_irq.cap = (size_t)P.irq_ms * 1000000u / period_ns * 2u + 1000u;
    g_irq.lat = xcalloc(g_irq.cap, sizeof(uint32_t));
    g_irq.during = xcalloc(g_irq.cap, 1);
    uint32_t *sub = xcalloc(g_irq.cap, sizeof(uint32_t));
    rgc_sim_attach(1, irq_handler, NULL);
    static const char *modes[3] = {"idle", "allocating", "collecting"};
    for (unsigned mode = 0; mode < 3; mode++) {
        heap_reset(MiB);
        memset(g_slots, 0, 2048 * sizeof g_slots[0]);
        add_root(g_slots, 2048 * sizeof g_slots[0]);
        memset(g_lists, 0, sizeof g_lists);
        add_root(g_lists, sizeof g_lists);
        rng_t r = {0x1E0F00Dull + mode};
        size_t nblocks = 0;
        rgc_stats st;
        rgc_get_stats(&g_heap, &st);
        nblocks = st.blocks;
        if (mode == 1)
            for (size_t i = 0; i < 2048; i++)
                g_slots[i] = rgc_alloc(&g_heap, rng_range(&r, 16, 512), 0);
        if (mode == 2)
            build_lists(nblocks, &r);
        uint32_t *colls = xcalloc(100000, sizeof(uint32_t));
        size_t ncolls = 0;
        uint64_t fg_ops = 0;
        g_irq.n = 0;
        g_irq.fails = 0;
        g_irq.r.s = 0x1CEB00DAull + mode;
        atomic_store(&g_irq.armed, 1);
        rgc_sim_timer(1, period_ns);
        uint64_t end = now_ns() + (uint64_t)P.irq_ms * 1000000u;
        while (now_ns() < end) {
            if (mode == 0) {
                for (unsigned k = 0; k < 1000; k++)
                    g_sink = &r;
            } else if (mode == 1) {
                for (unsigned k = 0; k < 64; k++) {
                    size_t j = (size_t)(rng_next(&r) % 2048);
                    rgc_free(&g_heap, g_slots[j]);
                    g_slots[j] = rgc_alloc(&g_heap, rng_range(&r, 16, 512), 0);
                    fg_ops++;
                }
            } else {
                g_fg_collecting = 1;
                uint64_t t = timed_collect();
                g_fg_collecting = 0;
                if (ncolls < 100000)
                    colls[ncolls++] = clamp32(t);
            }
        }
        atomic_store(&g_irq.armed, 0);
        rgc_sim_timer(1, 0);
        rgc_sim_quiesce();
        size_t n = g_irq.n, nd = 0;
        for (size_t i = 0; i < n; i++)
            if (g_irq.during[i])
                sub[nd++] = g_irq.lat[i];
        irq_stats(modes[mode], "", g_irq.lat, n);
        rec("IRQ", modes[mode], "failed", (double)g_irq.fails);
        if (mode == 2) {
            irq_stats(modes[mode], "_in_collection", sub, nd);
            struct coll_res o;
            coll_summary(colls, (unsigned)ncolls, &o);
            rec("IRQ", modes[mode], "fg_collections", (double)ncolls);
            rec("IRQ", modes[mode], "fg_collect_median_ns", o.median_ns);
            rec("IRQ", modes[mode], "fg_collect_max_ns", o.max_ns);
            note("IRQ %s: %zu samples (%zu inside a suspended collection), p50 %.0f p99 %.0f max %.0f ns; "
                 "foreground collection median %.0f us",
                 modes[mode], n, nd, pct(g_irq.lat, n, 0.5), pct(g_irq.lat, n, 0.99), n ? (double)g_irq.lat[n - 1] : NAN,
                 o.median_ns / 1e3);
        } else {
            if (mode == 1)
                rec("IRQ", modes[mode], "fg_ops_per_s", (double)fg_ops / (P.irq_ms / 1e3));
            note("IRQ %s: %zu samples, p50 %.0f p99 %.0f max %.0f ns, %" PRIu64 " failed", modes[mode], n,
                 pct(g_irq.lat, n, 0.5), pct(g_irq.lat, n, 0.99), n ? (double)g_irq.lat[n - 1] : NAN, g_irq.fails);
        }
        rec_masked("IRQ", modes[mode]);
        free(colls);
    }
    rgc_sim_attach(1, NULL, NULL);
    free(sub);
    free(g_irq.lat);
    free(g_irq.during);
}
#endif /* !RGC_SINGLE_CONTEXT */

/* ---- Incremental collection (issue #6) ------------------------------------------------------------- */

/* Thread CPU time: excludes the time the host scheduler takes the thread away (a loaded 2-core host
 * preempts for whole 4 ms ticks), so it shows the step's own length. */
static inline uint64_t cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *g_ring[RING];

static void wl_incr(void) {
    const size_t budget = 256;
    for (unsigned k = 0; k < NSIZES; k++) {
        char param[32];
        param_heap(param, sizeof param, heap_sizes[k]);
        size_t nblocks = b1_setup(heap_sizes[k], 0x1C1C1C1Cull);
        memset(g_ring, 0, sizeof g_ring);
        add_root(g_ring, sizeof g_ring);
        rng_t r = {0x5E9ull + k};
        timed_collect(); /* warm-up */
        size_t cap = 4096, n = 0;
        uint32_t *t = xcalloc(cap, sizeof *t), *tc = xcalloc(cap, sizeof *tc);
        uint32_t first_wall = 0, later_wall = 0, first_cpu = 0, later_cpu = 0;
        uint64_t steps = 0, fails = 0, total_ns = 0;
        unsigned colls = 0;
        bool broken = false;
        for (unsigned c = 0; c < P.incr_colls && !broken; c++) {
            uint64_t cap_steps = 64u * (nblocks / budget + 1u) + 10000u, s = 0;
            int rc;
            do {
                uint64_t a = now_ns(), ca = cpu_ns();
                rc = rgc_collect_step(&g_heap, budget);
                uint64_t cb = cpu_ns(), b = now_ns();
                if (rc < 0) {
                    note("incremental %s: rgc_collect_step returned %d", param, rc);
                    broken = true;
                    break;
                }
                uint32_t d = clamp32(b - a), dc = clamp32(cb - ca);
                total_ns += b - a;
                if (s == 0) {
                    first_wall = d > first_wall ? d : first_wall;
                    first_cpu = dc > first_cpu ? dc : first_cpu;
                } else {
                    later_wall = d > later_wall ? d : later_wall;
                    later_cpu = dc > later_cpu ? dc : later_cpu;
                }
                if (n == cap) {
                    cap *= 2;
                    uint32_t *nt = realloc(t, cap * sizeof *t), *nc = realloc(tc, cap * sizeof *tc);
                    if (nt == NULL || nc == NULL)
                        die("out of host memory");
                    t = nt;
                    tc = nc;
                }
                t[n] = d;
                tc[n++] = dc;
                s++;
                /* the foreground allocates between steps: new objects replace ring entries */
                for (unsigned j = 0; j < 2; j++) {
                    void *p = rgc_alloc(&g_heap, rng_range(&r, 16, 128), 0);
                    fails += p == NULL;
                    rgc_write(&g_heap, &g_ring[rng_next(&r) % RING], p);
                }
            } while (rc == 1 && s < cap_steps);
            if (rc == 1) {
                note("incremental %s: no end after %" PRIu64 " steps", param, s);
                broken = true;
            }
            steps += s;
            colls += !broken;
        }
        if (colls == 0)
            colls = 1;
        qsort(t, n, sizeof *t, cmp_u32);
        qsort(tc, n, sizeof *tc, cmp_u32);
        rec("incr", param, "budget", (double)budget);
        rec("incr", param, "pool_blocks", (double)nblocks);
        rec("incr", param, "collections", (double)colls);
        rec("incr", param, "steps_per_collection", (double)steps / colls);
        rec("incr", param, "median_step_ns", pct(t, n, 0.5));
        rec("incr", param, "p999_step_ns", pct(t, n, 0.999));
        rec("incr", param, "longest_first_step_ns", first_wall);
        rec("incr", param, "longest_later_step_ns", later_wall);
        rec("incr", param, "cpu_median_step_ns", pct(tc, n, 0.5));
        rec("incr", param, "cpu_p999_step_ns", pct(tc, n, 0.999));
        rec("incr", param, "cpu_longest_first_step_ns", first_cpu);
        rec("incr", param, "cpu_longest_later_step_ns", later_cpu);
        rec("incr", param, "total_ms_per_collection", (double)total_ns / colls / 1e6);
        rec("incr", param, "failed", (double)fails);
        if (broken)
            rec("incr", param, "broken", 1);
        note("incremental %s budget %zu: %.0f steps/collection; wall: median %.0f ns, p99.9 %.0f, longest first "
             "%u, later %u; thread CPU: median %.0f, p99.9 %.0f, longest first %u, later %u",
             param, budget, (double)steps / colls, pct(t, n, 0.5), pct(t, n, 0.999), first_wall, later_wall,
             pct(tc, n, 0.5), pct(tc, n, 0.999), first_cpu, later_cpu);
        free(t);
        free(tc);
    }
}
#endif /* BENCH_RGC */
#endif /* BENCH_GC */

/* ---- main ------------------------------------------------------------------------------------------ */

static void usage(FILE *f) {
    fprintf(f, "usage: rgc-bench-%s [--quick] [--out FILE] [workload ...]\n"
               "workloads: timer a1 a2 a3 c"
#if BENCH_GC
               " b"
#endif
#if BENCH_RGC
               " scaling scaling-a2 irq incr"
#endif
               " (default: all that apply to this build)\n"
               "Appends raw records (variant, workload, parameter, metric, value; tab-separated) to FILE\n"
               "(default: stdout); progress goes to stderr.\n",
            BENCH_VARIANT);
}

int main(int argc, char **argv) {
    const char *out = NULL;
    const char *list[16];
    int nlist = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            g_quick = true;
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] != '-' && nlist < 16)
            list[nlist++] = argv[i];
        else {
            usage(stderr);
            return 2;
        }
    }
    g_out = stdout;
    if (out != NULL && (g_out = fopen(out, "a")) == NULL) {
        perror(out);
        return 1;
    }
    set_params();
#if !BENCH_PEER
    g_mem = mmap(NULL, MAX_HEAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g_mem == MAP_FAILED)
        die("mmap");
    memset(g_mem, 0, MAX_HEAP); /* fault every page in before anything is timed */
#endif
#if BENCH_PEER && defined(BENCH_JEMALLOC) && BENCH_JEMALLOC
    {
        const char *v = NULL;
        size_t sz = sizeof v;
        if (mallctl("version", (void *)&v, &sz, NULL, 0) != 0)
            die("jemalloc's mallctl failed: malloc is not jemalloc's");
        note("jemalloc %s", v);
    }
#endif
    static const char *all[] = {"timer", "a1", "a2", "a3", "c",
#if BENCH_GC
                                "b",
#endif
#if BENCH_RGC
                                "scaling", "irq", "incr"
#endif
    };
    if (nlist == 0)
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            list[nlist++] = all[i];
    for (int i = 0; i < nlist; i++) {
        const char *w = list[i];
        if (strcmp(w, "timer") == 0)
            wl_timer();
        else if (strcmp(w, "a1") == 0)
            wl_a1();
        else if (strcmp(w, "a2") == 0)
            wl_a2();
        else if (strcmp(w, "a3") == 0)
            wl_a3();
        else if (strcmp(w, "c") == 0)
            wl_c();
#if BENCH_GC
        else if (strcmp(w, "b") == 0)
            wl_b();
#endif
#if BENCH_RGC
        else if (strcmp(w, "scaling") == 0)
            wl_scaling(true);
        else if (strcmp(w, "scaling-a2") == 0)
            wl_scaling(false);
        else if (strcmp(w, "incr") == 0)
            wl_incr();
        else if (strcmp(w, "irq") == 0) {
#if RGC_SINGLE_CONTEXT
            note("irq: a single-context build must never be entered from an interrupt, skipped");
#else
            wl_irq();
#endif
        }
#endif
        else {
            fprintf(stderr, "unknown workload '%s'\n", w);
            usage(stderr);
            return 2;
        }
    }
    if (g_out != stdout)
        fclose(g_out);
    return 0;
}
