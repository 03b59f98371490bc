/* demo.c - rgc-demo: the seed scenario on the host's virtual interrupt controller (port/posix/rgc_sim.h).
 *
 * Timer interrupts at 1 Hz, 10 Hz and 1 kHz on priority levels 1, 2 and 3 allocate chunks of 256 B to
 * 8 KiB, store some into a shared name -> object table (a root range, every store through rgc_swap),
 * drop others (the collector reclaims them) and free others with rgc_free. The foreground (level 0)
 * collects in a loop. A "system" level above rgc's mask ceiling ticks at 2 kHz and is never held off by
 * rgc; its one allocation attempt per second must be refused. Every object carries a canary (header +
 * payload pattern) that its owner checks before dropping or freeing it; the top heap level runs
 * rgc_check at random instants. Any violation is reported at the end and the exit status is 1.
 *
 * With --incremental[=BUDGET] the foreground collects in steps of at most BUDGET work units
 * (rgc_collect_step) instead of full collections, and the handlers run a step now and then too (RGC_BUSY
 * when they preempt one); the summary reports the longest step seen, the longest one no interrupt landed
 * in, and the steps per collection.
 *
 * Handlers call only rgc and async-signal-safe functions: results are recorded in atomics and fixed
 * buffers and printed by the foreground. `rgc-demo --help` lists the options.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <rgc.h>
#include <rgc_port.h>
#include <rgc_sim.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#ifdef RGC_DEMO_PNG
#include <png.h>
#endif

#define MAX_HEAP_LEVELS 14 /* + the system level = RGC_SIM_MAX_LEVELS */
#define TABLE_SLOTS 32
#define MAX_VIOLATIONS 64
#define SYSTEM_HZ 2000.0
#define CHECK_PERCENT 5        /* rgc_check on this share of the top heap level's ticks */
#define COLLECT_PAUSE_NS 1000000L
#define STATUS_NS 200000000L   /* live line refresh (terminal) */
#define SNAPSHOT_NS 50000000L  /* heap map row for --map */
#define ROW_BUDGET (16u << 20) /* bytes of buffered map rows: keeps the PNG to a few MB */
#define DEFAULT_BUDGET 64      /* --incremental without a value: work units per step */
#define HANDLER_STEP_PERCENT 25 /* --incremental: share of the heap levels' ticks that run a step */

_Static_assert(MAX_HEAP_LEVELS + 1 <= RGC_SIM_MAX_LEVELS, "too many levels for the simulator");
_Static_assert(MAX_HEAP_LEVELS + 2 <= RGC_MAX_LEVELS, "too many levels for rgc");

/* ---- configuration ------------------------------------------------------------------------------ */

static struct {
    double duration;
    unsigned levels; /* heap levels 1..levels; levels + 1 is the system level */
    double rates[MAX_HEAP_LEVELS + 1];
    unsigned nrates;
    size_t heap_bytes;
    uint64_t seed;
    const char *map_path;
    bool storm, quiet, map_text;
    size_t min_size, max_size;
    size_t budget; /* --incremental: work units per step; 0: full collections */
} cfg;

static rgc_heap heap;
static unsigned char *heap_mem;
static unsigned top_level, system_level;

/* The shared name -> object table: a root range; every store through rgc_swap. */
static void *table[TABLE_SLOTS];
static char table_names[TABLE_SLOTS][16];

/* ---- per-level counters (each written by its own level only, read by the foreground) ------------ */

struct level_stats {
    _Atomic uint64_t ticks, allocs, failed, frees, drops, stores, checks, violations;
    _Atomic uint64_t steps, steps_busy, steps_done; /* --incremental: this level's rgc_collect_step calls */
    _Atomic uint64_t in_collection; /* ticks that preempted the foreground's rgc_collect */
    uint64_t rng; /* xorshift state: only this level's handler touches it (a level never nests in itself) */
};
static struct level_stats lv[RGC_SIM_MAX_LEVELS + 1];
static _Atomic uint64_t sys_ticks, sys_attempts, sys_refused;
static struct timespec sys_next_attempt; /* system handler only */
static _Atomic uint64_t next_seq = 1;

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static uint64_t splitmix(uint64_t x) {
    x += 0x9E3779B97F4A7C15u;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
    return x ^ (x >> 31);
}

/* ---- violations: recorded by handlers into a fixed array, printed by the foreground ------------ */

enum vkind {
    V_HEADER,    /* canary header damaged */
    V_PAYLOAD,   /* canary payload damaged */
    V_SIZE,      /* rgc_size disagrees: the object is not (or no longer) a live object of its size */
    V_CHECK,     /* rgc_check != RGC_OK */
    V_LEVEL,     /* rgc_port_level() != the level the handler was attached to */
    V_SYSALLOC,  /* an allocation above the mask ceiling succeeded */
    V_COLLECT,   /* rgc_collect / rgc_collect_step returned something it must not */
    V_MISUSE,    /* misuse count differs from the refused system allocations */
};
static const char *const vkind_name[] = {"canary header", "canary payload", "rgc_size",   "rgc_check",
                                         "level",         "system alloc",   "collection",  "misuse"};

struct violation {
    enum vkind kind;
    unsigned level;   /* where it was detected (0 = foreground / final checks) */
    int slot;         /* table slot the object came from, or -1 */
    const void *obj;
    uint64_t seq;     /* from the header */
    size_t size;      /* from the header */
    size_t offset;    /* first bad byte */
    uint64_t expected, got;
    double when;      /* seconds since start */
    _Atomic bool ready;
};
static struct violation violations[MAX_VIOLATIONS];
static _Atomic unsigned nviolations;
static char *viol_map;  /* heap map at the first violation */
static size_t viol_map_cap, viol_map_len;
static struct timespec t_start;

static double elapsed_since(const struct timespec *t0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) * 1e-9;
}

static void map_capture(void *ctx, const char *s) {
    (void)ctx;
    size_t n = strlen(s);
    if (viol_map_len + n >= viol_map_cap)
        n = viol_map_cap - viol_map_len - 1;
    memcpy(viol_map + viol_map_len, s, n);
    viol_map_len += n;
    viol_map[viol_map_len] = '\0';
}

static void violation(enum vkind kind, unsigned level, int slot, const void *obj, uint64_t seq, size_t size,
                      size_t offset, uint64_t expected, uint64_t got) {
    atomic_fetch_add_explicit(&lv[level].violations, 1, memory_order_relaxed);
    unsigned i = atomic_fetch_add(&nviolations, 1);
    if (i == 0 && viol_map != NULL)
        rgc_dump(&heap, map_capture, NULL); /* read-only and async-signal-safe */
    if (i >= MAX_VIOLATIONS)
        return;
    struct violation *v = &violations[i];
    v->kind = kind;
    v->level = level;
    v->slot = slot;
    v->obj = obj;
    v->seq = seq;
    v->size = size;
    v->offset = offset;
    v->expected = expected;
    v->got = got;
    v->when = elapsed_since(&t_start);
    atomic_store(&v->ready, true);
}

/* ---- canaries ------------------------------------------------------------------------------------ */

#define CANARY_MAGIC 0x43474352u /* "RGCC" */
struct canary {
    uint32_t magic;
    uint16_t size;  /* requested bytes, header included */
    uint8_t level;  /* allocating level */
    uint8_t check;  /* hash of the fields */
    uint64_t seq;   /* global allocation sequence number */
};
_Static_assert(sizeof(struct canary) == 16, "canary header is 16 bytes");

static uint8_t canary_check_byte(uint64_t seq, size_t size, unsigned level) {
    return (uint8_t)(splitmix(seq ^ ((uint64_t)size << 40) ^ ((uint64_t)level << 56)) >> 56);
}
static uint64_t pattern_word(uint64_t base, size_t i) {
    return base + (uint64_t)i * 0xD1B54A32D192ED03u;
}

static void canary_fill(void *p, size_t size, unsigned level) {
    struct canary *c = p;
    uint64_t seq = atomic_fetch_add_explicit(&next_seq, 1, memory_order_relaxed);
    c->magic = CANARY_MAGIC;
    c->size = (uint16_t)size;
    c->level = (uint8_t)level;
    c->seq = seq;
    c->check = canary_check_byte(seq, size, level);
    uint64_t base = splitmix(seq);
    size_t payload = size - sizeof *c, words = payload / 8;
    uint64_t *w = (uint64_t *)(c + 1);
    for (size_t i = 0; i < words; i++)
        w[i] = pattern_word(base, i);
    uint8_t *tail = (uint8_t *)(w + words);
    uint64_t last = pattern_word(base, words);
    for (size_t j = 0; j < payload % 8; j++)
        tail[j] = (uint8_t)(last >> (8 * j));
}

/* The owner's check of an object it holds alone: header, rgc_size, then every payload byte. */
static bool canary_ok(const void *p, unsigned level, int slot) {
    const struct canary *c = p;
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)heap_mem, hi = lo + cfg.heap_bytes;
    uint64_t seq_now = atomic_load_explicit(&next_seq, memory_order_relaxed);
    if (a < lo || a + sizeof *c > hi || a % sizeof(uint64_t) != 0) {
        violation(V_HEADER, level, slot, p, 0, 0, 0, lo, a); /* not even a pointer into the pool */
        return false;
    }
    if (c->magic != CANARY_MAGIC || c->size < sizeof *c || c->size > cfg.max_size || c->level == 0 ||
        c->level > cfg.levels || c->seq == 0 || c->seq >= seq_now ||
        c->check != canary_check_byte(c->seq, c->size, c->level) || a + c->size > hi) {
        uint64_t w0;
        memcpy(&w0, c, 8); /* magic, size, level, check */
        violation(V_HEADER, level, slot, p, c->seq, c->size, 0, CANARY_MAGIC, w0);
        return false;
    }
    size_t usable = rgc_size(&heap, p);
    size_t want = (c->size + RGC_BLOCK_BYTES - 1u) / RGC_BLOCK_BYTES * RGC_BLOCK_BYTES;
    if (usable != want) {
        violation(V_SIZE, level, slot, p, c->seq, c->size, 0, want, usable);
        return false;
    }
    uint64_t base = splitmix(c->seq);
    size_t payload = c->size - sizeof *c, words = payload / 8;
    const uint64_t *w = (const uint64_t *)(c + 1);
    for (size_t i = 0; i < words; i++)
        if (w[i] != pattern_word(base, i)) {
            violation(V_PAYLOAD, level, slot, p, c->seq, c->size, sizeof *c + 8 * i, pattern_word(base, i), w[i]);
            return false;
        }
    const uint8_t *tail = (const uint8_t *)(w + words);
    uint64_t last = pattern_word(base, words);
    for (size_t j = 0; j < payload % 8; j++)
        if (tail[j] != (uint8_t)(last >> (8 * j))) {
            violation(V_PAYLOAD, level, slot, p, c->seq, c->size, sizeof *c + 8 * words + j,
                      (uint8_t)(last >> (8 * j)), tail[j]);
            return false;
        }
    return true;
}

/* ---- heap map snapshots (--map) ---------------------------------------------------------------- */

enum { PX_FREE, PX_HEAD, PX_TAIL, PX_MHEAD, PX_MTAIL, PX_TICK, PX_MARGIN, PX_COLOURS };

static uint8_t *rows;      /* rows_max rows of nblocks pixel codes */
static size_t nblocks, rows_max;
static struct row_meta {
    double t;        /* seconds since start */
    bool collecting; /* taken while the foreground's collection was suspended below */
} *row_meta;
static _Atomic size_t rows_taken;
/* Snapshot requests from the foreground: SNAP_INSIDE asks the top level to take the row while a
 * collection is in progress below it (so marking and sweeping show), SNAP_ANY at its next tick. */
enum { SNAP_NONE, SNAP_INSIDE, SNAP_ANY };
static _Atomic unsigned snap_request;
static _Atomic bool in_collect; /* the foreground is inside rgc_collect */
static long snapshot_ns = SNAPSHOT_NS;

struct snap_ctx {
    uint8_t *row;
    size_t pos;
    bool marked; /* the object being walked has a marked head: its tails are drawn as marked */
};

static void snap_line(void *ctx, const char *s) {
    struct snap_ctx *c = ctx;
    const char *p = strchr(s, ':');
    if (p == NULL)
        return;
    for (p += 2; *p != '\0' && *p != '\n' && c->pos < nblocks; p++) {
        uint8_t px;
        switch (*p) {
        case 'h':
        case 'f':
            px = PX_HEAD;
            c->marked = false;
            break;
        case 'm':
        case 'M':
            px = PX_MHEAD;
            c->marked = true;
            break;
        case '=':
            px = c->marked ? PX_MTAIL : PX_TAIL;
            break;
        default:
            px = PX_FREE;
            c->marked = false;
        }
        c->row[c->pos++] = px;
    }
}

/* One row: from the top heap level's handler (so collections in progress show as marked objects) or,
 * if that level runs too rarely, from the foreground. Never concurrently: the taker claims the request,
 * and a handler runs to completion before the foreground resumes. */
static void take_snapshot(bool collecting) {
    size_t n = atomic_load(&rows_taken);
    if (n >= rows_max)
        return;
    struct snap_ctx c = {rows + n * nblocks, 0, false};
    rgc_dump(&heap, snap_line, &c);
    row_meta[n].t = elapsed_since(&t_start);
    row_meta[n].collecting = collecting;
    atomic_store(&rows_taken, n + 1);
}

/* ---- handlers ------------------------------------------------------------------------------------ */

static void heap_handler(unsigned level, void *arg) {
    (void)arg;
    struct level_stats *s = &lv[level];
    atomic_fetch_add_explicit(&s->ticks, 1, memory_order_relaxed);
    if (rgc_port_level() != level)
        violation(V_LEVEL, level, -1, NULL, 0, 0, 0, level, rgc_port_level());
    bool collecting = atomic_load_explicit(&in_collect, memory_order_relaxed);
    if (collecting)
        atomic_fetch_add_explicit(&s->in_collection, 1, memory_order_relaxed);

    uint64_t r = xorshift(&s->rng);
    size_t size = cfg.min_size + (size_t)(r % (cfg.max_size - cfg.min_size + 1u));
    void *p = rgc_alloc(&heap, size, 0);
    if (p == NULL) {
        atomic_fetch_add_explicit(&s->failed, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&s->allocs, 1, memory_order_relaxed);
        canary_fill(p, size, level);
        unsigned action = (unsigned)((r >> 32) % 100u);
        if (action < 50) {
            /* Store into the table; whatever it replaces is ours alone now. */
            int slot = (int)((r >> 40) % TABLE_SLOTS);
            void *old = rgc_swap(&heap, &table[slot], p);
            atomic_fetch_add_explicit(&s->stores, 1, memory_order_relaxed);
            if (old != NULL && canary_ok(old, level, slot)) {
                if (r & (1u << 20)) {
                    rgc_free(&heap, old);
                    atomic_fetch_add_explicit(&s->frees, 1, memory_order_relaxed);
                } else {
                    atomic_fetch_add_explicit(&s->drops, 1, memory_order_relaxed);
                }
            }
        } else if (canary_ok(p, level, -1)) {
            if (action < 75) {
                atomic_fetch_add_explicit(&s->drops, 1, memory_order_relaxed);
            } else {
                rgc_free(&heap, p);
                atomic_fetch_add_explicit(&s->frees, 1, memory_order_relaxed);
            }
        }
        p = NULL;
    }

    /* --incremental: any level may run the next step of the collection in progress (or start one); it
     * returns RGC_BUSY at once when a step executes below us, or when we preempted another rgc call (the
     * collection's phase must not move under it) */
    if (cfg.budget != 0 && xorshift(&s->rng) % 100u < HANDLER_STEP_PERCENT) {
        int rc = rgc_collect_step(&heap, cfg.budget);
        atomic_fetch_add_explicit(&s->steps, 1, memory_order_relaxed);
        if (rc == RGC_BUSY)
            atomic_fetch_add_explicit(&s->steps_busy, 1, memory_order_relaxed);
        else if (rc == 0)
            atomic_fetch_add_explicit(&s->steps_done, 1, memory_order_relaxed);
        else if (rc != 1)
            violation(V_COLLECT, level, -1, NULL, 0, 0, 0, 1, (uint64_t)(int64_t)rc);
    }

    if (level == top_level) {
        unsigned req = atomic_load_explicit(&snap_request, memory_order_relaxed);
        if ((req == SNAP_ANY || (req == SNAP_INSIDE && collecting)) &&
            atomic_compare_exchange_strong(&snap_request, &req, SNAP_NONE))
            take_snapshot(collecting);
        if (xorshift(&s->rng) % 100u < CHECK_PERCENT) {
            atomic_fetch_add_explicit(&s->checks, 1, memory_order_relaxed);
            int rc = rgc_check(&heap);
            if (rc != RGC_OK)
                violation(V_CHECK, level, -1, NULL, 0, 0, 0, RGC_OK, (uint64_t)(int64_t)rc);
        }
    }
}

/* Above the mask ceiling: a counter, and once a second an allocation that must be refused. */
static void system_handler(unsigned level, void *arg) {
    (void)arg;
    atomic_fetch_add_explicit(&sys_ticks, 1, memory_order_relaxed);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > sys_next_attempt.tv_sec ||
        (now.tv_sec == sys_next_attempt.tv_sec && now.tv_nsec >= sys_next_attempt.tv_nsec)) {
        sys_next_attempt.tv_sec = now.tv_sec + 1;
        sys_next_attempt.tv_nsec = now.tv_nsec;
        atomic_fetch_add_explicit(&sys_attempts, 1, memory_order_relaxed);
        void *p = rgc_alloc(&heap, 64, 0);
        if (p == NULL)
            atomic_fetch_add_explicit(&sys_refused, 1, memory_order_relaxed);
        else
            violation(V_SYSALLOC, level, -1, p, 0, 64, 0, 0, (uint64_t)(uintptr_t)p);
    }
}

/* ---- options ------------------------------------------------------------------------------------- */

static const char *prog = "rgc-demo";

static void usage(FILE *f) {
    fprintf(f,
            "usage: %s [options]\n"
            "  Timer interrupts on levels 1..N allocate, store into a shared table (rgc_swap), drop and\n"
            "  free canary-checked objects while the foreground collects; a system level above the mask\n"
            "  ceiling must never be able to allocate. Exit status 0: no violation; 1: violations; 2: usage.\n"
            "options:\n"
            "  -d, --duration SECONDS  run time (default 10)\n"
            "  -r, --rates R1,R2,...   timer rate in Hz of levels 1, 2, ... (default 1,10,1000; 0 = no timer)\n"
            "  -l, --levels N          heap levels, 1..%d (default 3, or 8 with --storm)\n"
            "  -H, --heap BYTES        heap size, suffix K or M allowed (default 512K; 32K..1024M)\n"
            "  -s, --seed N            random seed (default: from the clock; printed)\n"
            "  -m, --map FILE.png      write the heap over time as a PNG: one pixel per block, a snapshot every\n"
            "                          50 ms as lines of at most 4084 blocks (the picture is at most 4096 px\n"
            "                          wide), a legend at the top\n"
            "  -t, --map-text          print the heap map at the end of the run as text (one char per block)\n"
            "  -S, --storm             8 heap levels raised by a signal storm as fast as the host sustains,\n"
            "                          16..512 B allocations (timers on levels 1..3 keep running)\n"
            "  -i, --incremental[=N]   collect in steps of at most N work units (blocks; default %d) instead of\n"
            "                          full collections; the handlers run steps too; reports the longest step\n"
            "  -q, --quiet             no live status line\n"
            "  -h, --help              this text\n"
            "example: %s --heap 128K --map heap.png   (a small heap: fragmentation and failed allocations)\n",
            prog, MAX_HEAP_LEVELS, DEFAULT_BUDGET, prog);
}

static _Noreturn void bad_usage(const char *fmt, const char *arg) {
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    usage(stderr);
    exit(2);
}

static bool parse_double(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_u64(const char *s, uint64_t *out, char **endp) {
    char *end;
    if (*s == '-' || *s == '+' || *s == ' ')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s)
        return false;
    *out = v;
    *endp = end;
    return true;
}

static bool parse_size(const char *s, size_t *out) {
    uint64_t v;
    char *end;
    if (!parse_u64(s, &v, &end))
        return false;
    uint64_t mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024, end++;
    if (mul != 1 && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
        end += strlen(end);
    if (*end != '\0' || v > UINT64_MAX / mul)
        return false;
    *out = (size_t)(v * mul);
    return true;
}

static void parse_options(int argc, char **argv) {
    static const struct option longopts[] = {
        {"duration", required_argument, NULL, 'd'}, {"rates", required_argument, NULL, 'r'},
        {"levels", required_argument, NULL, 'l'},   {"heap", required_argument, NULL, 'H'},
        {"seed", required_argument, NULL, 's'},     {"map", required_argument, NULL, 'm'},
        {"storm", no_argument, NULL, 'S'},          {"quiet", no_argument, NULL, 'q'},
        {"incremental", optional_argument, NULL, 'i'}, {"help", no_argument, NULL, 'h'},
        {"map-text", no_argument, NULL, 't'},
        {NULL, 0, NULL, 0}};
    const char *rates_arg = NULL;
    bool have_seed = false, have_levels = false;
    cfg.duration = 10;
    cfg.heap_bytes = 512 * 1024;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":d:r:l:H:s:m:Sqi::ht", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (!parse_double(optarg, 0.001, 7 * 86400.0, &cfg.duration))
                bad_usage("--duration wants seconds in (0, 604800], not '%s'", optarg);
            break;
        case 'r':
            rates_arg = optarg;
            break;
        case 'l': {
            double v;
            if (!parse_double(optarg, 1, MAX_HEAP_LEVELS, &v) || v != floor(v))
                bad_usage("--levels wants a whole number of heap levels in 1..14, not '%s'", optarg);
            cfg.levels = (unsigned)v;
            have_levels = true;
            break;
        }
        case 'H':
            if (!parse_size(optarg, &cfg.heap_bytes) || cfg.heap_bytes < 32 * 1024 ||
                cfg.heap_bytes > (size_t)1024 * 1024 * 1024)
                bad_usage("--heap wants bytes in 32K..1024M (suffix K or M), not '%s'", optarg);
            break;
        case 's': {
            char *end;
            if (!parse_u64(optarg, &cfg.seed, &end) || *end != '\0')
                bad_usage("--seed wants an unsigned integer, not '%s'", optarg);
            have_seed = true;
            break;
        }
        case 'm':
            cfg.map_path = optarg;
            break;
        case 'S':
            cfg.storm = true;
            break;
        case 't':
            cfg.map_text = true;
            break;
        case 'q':
            cfg.quiet = true;
            break;
        case 'i': {
            uint64_t v = DEFAULT_BUDGET;
            char *end = NULL;
            if (optarg != NULL && (!parse_u64(optarg, &v, &end) || *end != '\0' || v == 0 || v > (1u << 30)))
                bad_usage("--incremental wants a budget of work units per step in 1..2^30, not '%s'", optarg);
            cfg.budget = (size_t)v;
            break;
        }
        case 'h':
            usage(stdout);
            exit(0);
        case ':':
            bad_usage("option '%s' needs a value", argv[optind - 1]);
        default:
            bad_usage("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        bad_usage("unexpected argument '%s'", argv[optind]);
    if (!have_levels)
        cfg.levels = cfg.storm ? 8 : 3;

    /* Rates: one per timer level. Default 1, 10, 1000 Hz on levels 1..3; without --storm, more levels
     * spread geometrically between 1 Hz and 1 kHz. With --storm, unlisted levels have no timer. */
    static const double defaults[] = {1, 10, 1000};
    if (rates_arg == NULL) {
        unsigned timers = cfg.storm ? (cfg.levels < 3 ? cfg.levels : 3) : cfg.levels;
        for (unsigned i = 0; i < timers; i++)
            cfg.rates[i + 1] = cfg.levels == 3 || cfg.storm ? defaults[i]
                               : cfg.levels == 1        ? 1000
                                                        : pow(1000.0, (double)i / (cfg.levels - 1));
        cfg.nrates = timers;
    } else {
        const char *p = rates_arg;
        unsigned n = 0;
        for (;;) {
            char buf[64];
            size_t len = strcspn(p, ",");
            if (len == 0 || len >= sizeof buf || n >= MAX_HEAP_LEVELS)
                bad_usage("--rates wants comma-separated rates in Hz, one per level (e.g. 1,10,1000), not '%s'",
                          rates_arg);
            memcpy(buf, p, len);
            buf[len] = '\0';
            if (!parse_double(buf, 0, 100000, &cfg.rates[++n]))
                bad_usage("--rates: each rate must be a number of Hz in 0..100000, got '%s'", rates_arg);
            if (p[len] == '\0')
                break;
            p += len + 1;
        }
        if (cfg.storm ? n > cfg.levels : n != cfg.levels) {
            static char msg[160];
            snprintf(msg, sizeof msg, "--rates lists %u rate(s) for %u heap level(s) ('%%s')", n, cfg.levels);
            bad_usage(msg, rates_arg);
        }
        cfg.nrates = n;
    }
    if (!have_seed)
        cfg.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    cfg.min_size = cfg.storm ? 16 : 256;
    cfg.max_size = cfg.storm ? 512 : 8192;
#ifndef RGC_DEMO_PNG
    if (cfg.map_path != NULL) {
        fprintf(stderr,
                "%s: --map needs libpng, and this build has no PNG support "
                "(install libpng-dev, e.g. apt-get install libpng-dev, and rebuild)\n",
                prog);
        exit(2);
    }
#endif
}

/* ---- PNG ----------------------------------------------------------------------------------------- */

#define MARGIN 12     /* left margin: a tick every second, red where the row shows a collection in progress */
#define MAX_WIDTH 4096 /* the picture's width: a snapshot longer than one line wraps onto several */

#ifdef RGC_DEMO_PNG
/* A 3x5 pixel font for the legend (drawn at twice the size): the letters it needs, rows top to bottom,
 * bit 2 = left column. */
static const struct glyph {
    char c;
    uint8_t rows[5];
} font[] = {
    {'A', {2, 5, 7, 5, 5}}, {'C', {3, 4, 4, 4, 3}}, {'D', {6, 5, 5, 5, 6}}, {'E', {7, 4, 6, 4, 7}},
    {'F', {7, 4, 6, 4, 4}}, {'G', {3, 4, 5, 5, 3}}, {'H', {5, 5, 7, 5, 5}}, {'I', {7, 2, 2, 2, 7}},
    {'K', {5, 5, 6, 5, 5}}, {'L', {4, 4, 4, 4, 7}}, {'M', {5, 7, 7, 5, 5}}, {'N', {6, 5, 5, 5, 5}},
    {'O', {2, 5, 5, 5, 2}}, {'P', {6, 5, 6, 4, 4}}, {'R', {6, 5, 6, 5, 5}}, {'S', {3, 4, 2, 1, 6}},
    {'T', {7, 2, 2, 2, 2}}, {'W', {5, 5, 7, 7, 5}}, {'1', {2, 6, 2, 2, 7}}, {':', {0, 2, 0, 2, 0}},
    {'/', {1, 1, 2, 4, 4}},
};
#define LEGEND_ROWS 16 /* text 10 px high, 3 px above and below */

/* The legend: colour swatches with their names, on the background colour. */
static void legend_row(uint8_t *px, size_t width, unsigned y) {
    static const struct {
        unsigned colour;
        const char *name;
    } items[] = {{PX_FREE, "FREE"},           {PX_HEAD, "HEAD"},     {PX_TAIL, "TAIL"},
                 {PX_MHEAD, "MARKED HEAD"},    {PX_MTAIL, "MARKED TAIL"}, {PX_TICK, "MARGIN: 1 S TICKS"},
                 {PX_MHEAD, "MARGIN: COLLECTING"}};
    memset(px, PX_MARGIN, width);
    size_t x = 4;
    for (size_t i = 0; i < sizeof items / sizeof items[0] && x + 12 < width; i++) {
        for (size_t k = 0; k < 10 && y >= 3 && y < 13; k++)
            px[x + k] = (uint8_t)items[i].colour; /* the swatch */
        x += 14;
        for (const char *c = items[i].name; *c != '\0' && x + 8 < width; c++, x += 8) {
            const struct glyph *g = NULL;
            for (size_t j = 0; j < sizeof font / sizeof font[0]; j++)
                if (font[j].c == *c)
                    g = &font[j];
            if (g == NULL || y < 3 || y >= 13)
                continue; /* a space, or the rows above and below the text */
            unsigned bits = g->rows[(y - 3) / 2];
            for (unsigned col = 0; col < 3; col++)
                if (bits & (4u >> col))
                    px[x + 2 * col] = px[x + 2 * col + 1] = PX_TICK;
        }
        x += 16;
    }
}

/* Snapshot y as lines of `per_line` blocks after the margin; a line of margin colour after it. */
static void png_rows(png_structp png, uint8_t *line, uint8_t *px, size_t width, size_t nrows, size_t per_line) {
    for (unsigned y = 0; y < LEGEND_ROWS; y++) {
        legend_row(px, width, y);
        memset(line, 0, (width + 1) / 2);
        for (size_t x = 0; x < width; x++)
            line[x / 2] |= (uint8_t)(px[x] << (x % 2 ? 0 : 4));
        png_write_row(png, line);
    }
    double next_tick = 0;
    for (size_t y = 0; y < nrows; y++) {
        const uint8_t *src = rows + y * nblocks;
        bool marking = row_meta[y].collecting;
        bool tick = row_meta[y].t >= next_tick;
        if (tick)
            next_tick = floor(row_meta[y].t) + 1.0;
        for (size_t from = 0; from <= nblocks; from += per_line) {
            bool last = from >= nblocks; /* the separator line */
            for (size_t x = 0; x < width; x++) {
                size_t b = from + (x - MARGIN);
                px[x] = last ? PX_MARGIN
                        : x < 8 ? (tick ? PX_TICK : marking ? PX_MHEAD : PX_MARGIN)
                        : x < MARGIN ? PX_MARGIN
                        : b < nblocks && x - MARGIN < per_line ? src[b]
                                                               : PX_MARGIN;
            }
            memset(line, 0, (width + 1) / 2);
            for (size_t x = 0; x < width; x++)
                line[x / 2] |= (uint8_t)(px[x] << (x % 2 ? 0 : 4));
            png_write_row(png, line);
            if (last)
                break;
            if (from + per_line >= nblocks)
                from = nblocks - per_line; /* next round: the separator */
        }
    }
}

static int write_png(FILE *f, size_t nrows) {
    size_t per_line = nblocks < MAX_WIDTH - MARGIN ? nblocks : MAX_WIDTH - MARGIN;
    size_t width = per_line + MARGIN, lines = (nblocks + per_line - 1) / per_line;
    uint8_t *line = malloc((width + 1) / 2), *px = malloc(width);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (line == NULL || px == NULL || png == NULL || info == NULL) {
        png_destroy_write_struct(&png, &info);
        free(line);
        free(px);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(line);
        free(px);
        return -1;
    }
    static const png_color palette[PX_COLOURS] = {
        [PX_FREE] = {24, 26, 40},     /* free: dark blue-grey */
        [PX_HEAD] = {120, 255, 120},  /* head: bright green */
        [PX_TAIL] = {40, 150, 70},    /* tail: the same, dimmer */
        [PX_MHEAD] = {255, 40, 40},   /* marked head: red */
        [PX_MTAIL] = {170, 30, 30},   /* tail of a marked object: dimmer red */
        [PX_TICK] = {255, 255, 255},  /* margin: one white row per second; the legend's text */
        [PX_MARGIN] = {70, 70, 70},
    };
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)(LEGEND_ROWS + nrows * (lines + 1)), 4,
                 PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_PLTE(png, info, palette, PX_COLOURS);
    png_set_compression_level(png, 9);
    png_write_info(png, info);
    png_rows(png, line, px, width, nrows, per_line);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(line);
    free(px);
    return 0;
}
#endif

/* ---- foreground ---------------------------------------------------------------------------------- */

static void print_stdout(void *ctx, const char *s) {
    (void)ctx;
    fputs(s, stdout);
}

static char *human(char *buf, size_t cap, double v) {
    if (v < 10000)
        snprintf(buf, cap, "%.0f", v);
    else if (v < 10e6)
        snprintf(buf, cap, "%.1fk", v / 1e3);
    else
        snprintf(buf, cap, "%.1fM", v / 1e6);
    return buf;
}

static const char *rate_str(char *buf, size_t cap, double hz) {
    snprintf(buf, cap, hz == floor(hz) ? "%.0f" : "%.3g", hz);
    return buf;
}

static uint64_t ld(_Atomic uint64_t *p) {
    return atomic_load_explicit(p, memory_order_relaxed);
}

static uint64_t delivered_heap_levels(void) {
    struct rgc_sim_stats ss;
    rgc_sim_get_stats(&ss);
    uint64_t n = 0;
    for (unsigned l = 1; l <= cfg.levels; l++)
        n += ss.delivered[l];
    return n;
}

/* Every interrupt delivered (heap levels and the system level): did one land inside a step? */
static uint64_t delivered_all(void) {
    struct rgc_sim_stats ss;
    rgc_sim_get_stats(&ss);
    uint64_t n = 0;
    for (unsigned l = 1; l <= system_level; l++)
        n += ss.delivered[l];
    return n;
}

/* --incremental: the foreground's steps, timed. Wall clock: an interrupt inside a step lengthens it, so
 * the longest step with no interrupt inside is kept apart; and the host may deschedule the thread in the
 * middle of one, so that step's thread CPU time is kept too - the collector's own pause. */
#define HIST_NS 100    /* histogram of the steps with no interrupt inside: 0.1 us buckets ... */
#define HIST_N 5000    /* ... up to 500 us, the last bucket collecting the rest */
static struct {
    uint64_t steps, total_ns, max_ns, clean, max_clean_ns, max_clean_cpu_ns, done;
    uint32_t hist[HIST_N];
} fgs;

/* Upper edge (us) of the histogram bucket holding the given fraction of the clean steps. */
static double clean_percentile(double q) {
    uint64_t want = (uint64_t)ceil(q * (double)fgs.clean), seen = 0;
    for (unsigned k = 0; k < HIST_N; k++) {
        seen += fgs.hist[k];
        if (seen >= want && want > 0)
            return k + 1 < HIST_N ? (double)(k + 1) * HIST_NS / 1e3 : (double)fgs.max_clean_ns / 1e3;
    }
    return 0;
}

static uint64_t ns_between(const struct timespec *a, const struct timespec *b) {
    return (uint64_t)((b->tv_sec - a->tv_sec) * 1000000000L + (b->tv_nsec - a->tv_nsec));
}

static int foreground_step(void) {
    struct timespec a, b, ca, cb;
    uint64_t i0 = delivered_all();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ca);
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = rgc_collect_step(&heap, cfg.budget);
    clock_gettime(CLOCK_MONOTONIC, &b);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
    uint64_t i1 = delivered_all(), ns = ns_between(&a, &b), cpu = ns_between(&ca, &cb);
    fgs.steps++;
    fgs.total_ns += ns;
    if (ns > fgs.max_ns)
        fgs.max_ns = ns;
    if (i1 == i0) {
        fgs.clean++;
        if (ns > fgs.max_clean_ns)
            fgs.max_clean_ns = ns;
        if (cpu > fgs.max_clean_cpu_ns)
            fgs.max_clean_cpu_ns = cpu;
        fgs.hist[ns / HIST_NS < HIST_N ? ns / HIST_NS : HIST_N - 1]++;
    }
    if (rc == 0)
        fgs.done++;
    return rc;
}

static void status_line(bool tty, unsigned term_cols, double t, uint64_t collections, double irq_rate) {
    rgc_stats st;
    rgc_get_stats(&heap, &st);
    char line[512], a[16], b[16];
    int n = snprintf(line, sizeof line, "%6.1fs  coll %s", t, human(a, sizeof a, (double)collections));
    for (unsigned l = 1; l <= cfg.levels && n < (int)sizeof line; l++)
        n += snprintf(line + n, sizeof line - (size_t)n, "  L%u %s/%s", l, human(a, sizeof a, (double)ld(&lv[l].allocs)),
                      human(b, sizeof b, (double)ld(&lv[l].failed)));
    if (n < (int)sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, "  used %zuK/%zuK  free-run %zuK  masked %" PRIu32,
                      st.used_bytes / 1024, st.total_bytes / 1024, st.largest_free_bytes / 1024, st.longest_masked);
    if (cfg.budget != 0 && n < (int)sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, "  step max %.0f us (no irq: %.0f us, cpu %.0f us)",
                      (double)fgs.max_ns / 1e3, (double)fgs.max_clean_ns / 1e3, (double)fgs.max_clean_cpu_ns / 1e3);
    if (cfg.storm && n < (int)sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, "  irq %s/s", human(a, sizeof a, irq_rate));
    if (tty) {
        if (term_cols > 1 && strlen(line) >= term_cols)
            line[term_cols - 1] = '\0';
        printf("\r%s\033[K", line);
    } else {
        printf("%s\n", line);
    }
    fflush(stdout);
}

static void sleep_until(const struct timespec *t) {
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR) {
    }
}

static void add_ns(struct timespec *t, long ns) {
    t->tv_nsec += ns;
    t->tv_sec += t->tv_nsec / 1000000000L;
    t->tv_nsec %= 1000000000L;
}

int main(int argc, char **argv) {
    if (argc > 0 && argv[0] != NULL && strrchr(argv[0], '/') != NULL)
        prog = strrchr(argv[0], '/') + 1;
    parse_options(argc, argv);
    top_level = cfg.levels;
    system_level = cfg.levels + 1;

    FILE *map_file = NULL;
    if (cfg.map_path != NULL && (map_file = fopen(cfg.map_path, "wb")) == NULL) {
        fprintf(stderr, "%s: cannot write %s: %s\n", prog, cfg.map_path, strerror(errno));
        return 1;
    }

    /* The heap, its table root and the snapshot buffers: all before any interrupt is enabled. */
    size_t mem_bytes = (cfg.heap_bytes + 63u) & ~(size_t)63u;
    heap_mem = aligned_alloc(64, mem_bytes);
    if (heap_mem == NULL || rgc_init(&heap, heap_mem, mem_bytes) != RGC_OK) {
        fprintf(stderr, "%s: cannot set up a heap of %zu bytes\n", prog, mem_bytes);
        return 1;
    }
    cfg.heap_bytes = mem_bytes;
    rgc_add_root(&heap, table, sizeof table);
    {
        static const char *const groups[] = {"sensor", "adc", "uart", "can"};
        for (int i = 0; i < TABLE_SLOTS; i++)
            snprintf(table_names[i], sizeof table_names[i], "%s-%d", groups[i / 8], i % 8);
    }
    rgc_stats st0;
    rgc_get_stats(&heap, &st0);
    nblocks = st0.blocks;
    viol_map_cap = (nblocks / 64 + 1) * 80 + 1;
    viol_map = malloc(viol_map_cap);
    if (viol_map != NULL)
        viol_map[0] = '\0';
    if (map_file != NULL) {
        size_t want = (size_t)(cfg.duration * 1e9 / SNAPSHOT_NS) + 2;
        size_t cap = ROW_BUDGET / nblocks;
        rows_max = want < cap ? want : cap;
        if (rows_max < 2)
            rows_max = 2;
        if (rows_max < want)
            snapshot_ns = (long)(cfg.duration * 1e9 / (double)(rows_max - 1));
        rows = calloc(rows_max, nblocks);
        row_meta = calloc(rows_max, sizeof *row_meta);
        if (rows == NULL || row_meta == NULL) {
            fprintf(stderr, "%s: no memory for %zu map rows of %zu blocks\n", prog, rows_max, nblocks);
            return 1;
        }
    }
    for (unsigned l = 0; l <= RGC_SIM_MAX_LEVELS; l++)
        lv[l].rng = splitmix(cfg.seed + 0x1000u * l) | 1u;

    if (rgc_sim_init(system_level, cfg.levels) != 0) {
        fprintf(stderr, "%s: the interrupt simulator needs %u real-time signals\n", prog, system_level);
        return 1;
    }
    rgc_sim_apply_ceiling(&heap);

    bool tty = isatty(STDOUT_FILENO) && !cfg.quiet;
    unsigned term_cols = 0;
    struct winsize ws;
    if (tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
        term_cols = ws.ws_col;

    printf("rgc-demo: heap %zu KiB (%zu blocks of %d B), heap levels 1..%u (", cfg.heap_bytes / 1024, nblocks,
           RGC_BLOCK_BYTES, cfg.levels);
    char a[16];
    for (unsigned l = 1; l <= cfg.nrates; l++)
        printf("%s%s", l > 1 ? "/" : "", rate_str(a, sizeof a, cfg.rates[l]));
    printf(" Hz timers%s), system level %u at %g Hz above the mask ceiling, chunks %zu..%zu B, %g s, seed %" PRIu64
           "%s\n",
           cfg.storm ? " + storm" : "", system_level, SYSTEM_HZ, cfg.min_size, cfg.max_size, cfg.duration, cfg.seed,
           cfg.budget != 0 ? ", incremental" : "");
    fflush(stdout);

    /* Go. */
    clock_gettime(CLOCK_MONOTONIC, &t_start);
    sys_next_attempt = t_start;
    add_ns(&sys_next_attempt, 500000000L);
    for (unsigned l = 1; l <= cfg.levels; l++)
        rgc_sim_attach(l, heap_handler, NULL);
    rgc_sim_attach(system_level, system_handler, NULL);
    bool timers_ok = rgc_sim_timer(system_level, (uint64_t)(1e9 / SYSTEM_HZ)) == 0;
    for (unsigned l = 1; l <= cfg.nrates; l++)
        if (cfg.rates[l] > 0)
            timers_ok = timers_ok && rgc_sim_timer(l, (uint64_t)(1e9 / cfg.rates[l])) == 0;
    if (!timers_ok) {
        fprintf(stderr, "%s: cannot start the periodic timers (timer_create/timer_settime failed)\n", prog);
        return 1;
    }
    if (cfg.storm && rgc_sim_storm_start(1, cfg.levels, 0, cfg.seed) != 0) {
        fprintf(stderr, "%s: cannot start the storm thread\n", prog);
        return 1;
    }

    uint64_t collections = 0, busy = 0;
    struct timespec next_status = t_start, next_snap = t_start, next;
    double last_status_t = 0, snap_requested_at = -1;
    uint64_t last_irqs = 0;
    long status_ns = tty ? STATUS_NS : 1000000000L;
    add_ns(&next_status, status_ns);
    for (;;) {
        double t = elapsed_since(&t_start);
        if (t >= cfg.duration)
            break;
        atomic_store(&in_collect, true);
        int rc = cfg.budget != 0 ? foreground_step() : rgc_collect(&heap);
        atomic_store(&in_collect, false);
        bool pause = true; /* between full collections; with --incremental only once one is complete */
        if (cfg.budget != 0) {
            if (rc == 0)
                collections++;
            else if (rc == 1)
                pause = false;
            else /* nothing runs below level 0, and nobody opens a collection for roots: never busy */
                violation(V_COLLECT, 0, -1, NULL, 0, 0, 0, 1, (uint64_t)(int64_t)rc);
        } else if (rc == RGC_OK) {
            collections++;
        } else if (rc == RGC_BUSY) {
            busy++;
        } else {
            violation(V_COLLECT, 0, -1, NULL, 0, 0, 0, RGC_OK, (uint64_t)(int64_t)rc);
        }

        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (map_file != NULL) {
            double waited = t - snap_requested_at;
            if (snap_requested_at >= 0 && atomic_load(&snap_request) == SNAP_NONE)
                snap_requested_at = -1; /* served by the top level */
            else if (snap_requested_at >= 0 && waited > 2e-9 * (double)snapshot_ns &&
                     atomic_exchange(&snap_request, SNAP_NONE) != SNAP_NONE) {
                take_snapshot(false); /* the top level runs too rarely: take it here, between collections */
                snap_requested_at = -1;
            } else if (snap_requested_at >= 0 && waited > 0.5e-9 * (double)snapshot_ns) {
                unsigned inside = SNAP_INSIDE; /* no tick landed inside a collection: take the next one */
                atomic_compare_exchange_strong(&snap_request, &inside, SNAP_ANY);
            }
            if (now.tv_sec > next_snap.tv_sec || (now.tv_sec == next_snap.tv_sec && now.tv_nsec >= next_snap.tv_nsec)) {
                add_ns(&next_snap, snapshot_ns);
                if (snap_requested_at < 0) {
                    snap_requested_at = t;
                    atomic_store(&snap_request, SNAP_INSIDE);
                }
            }
        }
        if (!cfg.quiet &&
            (now.tv_sec > next_status.tv_sec || (now.tv_sec == next_status.tv_sec && now.tv_nsec >= next_status.tv_nsec))) {
            add_ns(&next_status, status_ns);
            uint64_t irqs = delivered_heap_levels();
            double rate = t > last_status_t ? (double)(irqs - last_irqs) / (t - last_status_t) : 0;
            last_irqs = irqs;
            last_status_t = t;
            status_line(tty, term_cols, t, collections, rate);
        }
        if (pause) {
            next = now;
            add_ns(&next, COLLECT_PAUSE_NS);
            sleep_until(&next);
        }
    }

    /* Stop every source, then check everything from level 0 with nothing above us. */
    rgc_sim_quiesce();
    double run_time = elapsed_since(&t_start);
    if (tty)
        printf("\n");
    struct rgc_sim_stats ss;
    rgc_sim_get_stats(&ss);
    if (map_file != NULL)
        take_snapshot(false);
    int final_check = rgc_check(&heap);
    if (final_check != RGC_OK)
        violation(V_CHECK, 0, -1, NULL, 0, 0, 0, RGC_OK, (uint64_t)(int64_t)final_check);
    unsigned occupied = 0, table_ok = 0;
    size_t table_bytes = 0;
    for (int i = 0; i < TABLE_SLOTS; i++) {
        if (table[i] == NULL)
            continue;
        occupied++;
        if (canary_ok(table[i], 0, i)) {
            table_ok++;
            table_bytes += ((const struct canary *)table[i])->size;
        }
    }
    rgc_stats end_st;
    rgc_get_stats(&heap, &end_st);
    if (cfg.map_text) {
        printf("\nheap map at the end of the run ('.' free, 'h' head, '=' tail, 'm' marked):\n");
        rgc_dump(&heap, print_stdout, NULL);
    }

    /* Release everything and collect: only conservative leftovers (stale stack words) may remain. */
    for (int i = 0; i < TABLE_SLOTS; i++)
        rgc_write(&heap, &table[i], NULL);
    int rc1 = rgc_collect(&heap), rc2 = rgc_collect(&heap);
    if (rc1 == RGC_OK)
        collections++;
    if (rc2 == RGC_OK)
        collections++;
    int release_check = rgc_check(&heap);
    if (release_check != RGC_OK)
        violation(V_CHECK, 0, -1, NULL, 0, 0, 0, RGC_OK, (uint64_t)(int64_t)release_check);
    rgc_stats rel_st;
    rgc_get_stats(&heap, &rel_st);
    if (rel_st.misuse != ld(&sys_refused))
        violation(V_MISUSE, 0, -1, NULL, 0, 0, 0, ld(&sys_refused), rel_st.misuse);

    int png_rc = 0;
    size_t nrows = atomic_load(&rows_taken);
#ifdef RGC_DEMO_PNG
    if (map_file != NULL) {
        png_rc = write_png(map_file, nrows);
        if (fclose(map_file) != 0)
            png_rc = -1;
    }
#endif

    /* Summary. */
    printf("\n== rgc-demo summary: %.1f s, seed %" PRIu64 "%s ==\n", run_time, cfg.seed, cfg.storm ? ", storm" : "");
    printf("level  source               interrupts     allocs     failed      frees      drops     stores  checks  viol\n");
    uint64_t tot[8] = {0}, inside = 0;
    for (unsigned l = 1; l <= cfg.levels; l++) {
        struct level_stats *s = &lv[l];
        char src[32];
        if (l <= cfg.nrates && cfg.rates[l] > 0)
            snprintf(src, sizeof src, "%stimer %s Hz", cfg.storm ? "storm+" : "", rate_str(a, sizeof a, cfg.rates[l]));
        else
            snprintf(src, sizeof src, "%s", cfg.storm ? "storm" : "-");
        uint64_t v[8] = {ss.delivered[l], ld(&s->allocs), ld(&s->failed),  ld(&s->frees),
                         ld(&s->drops),   ld(&s->stores), ld(&s->checks), ld(&s->violations)};
        printf("%5u  %-19s %11" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64
               " %7" PRIu64 " %5" PRIu64 "\n",
               l, src, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
        for (int k = 0; k < 8; k++)
            tot[k] += v[k];
        inside += ld(&s->in_collection);
    }
    printf("%5s  %-19s %11" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %7" PRIu64
           " %5" PRIu64 "\n",
           "all", "heap levels", tot[0], tot[1], tot[2], tot[3], tot[4], tot[5], tot[6], tot[7]);
    printf("%5u  system %-12s %11" PRIu64 "   alloc attempts %" PRIu64 ", refused %" PRIu64
           " (above the mask ceiling: RGC_NO_ALLOC)\n",
           system_level, "2000 Hz", ss.delivered[system_level], ld(&sys_attempts), ld(&sys_refused));
    printf("%5u  foreground: final checks, %" PRIu64 " violation(s)\n", 0u, ld(&lv[0].violations));
    printf("interrupts    %" PRIu64 " on heap levels (%s/s), %" PRIu64 " in all; max nesting depth %u\n", tot[0],
           human(a, sizeof a, (double)tot[0] / run_time), tot[0] + ss.delivered[system_level], ss.max_nesting);
    printf("preemptions   %" PRIu64 " heap-level interrupts landed inside the foreground's %s\n", inside,
           cfg.budget != 0 ? "steps" : "rgc_collect");
    if (cfg.budget == 0) {
        printf("collections   %" PRIu64 " (%.0f/s), busy %" PRIu32 "; deferred frees %" PRIu32 ", claim retries %" PRIu32
               "\n",
               collections, (double)collections / run_time, rel_st.busy_collections, rel_st.deferred_frees,
               rel_st.claim_retries);
    } else {
        uint64_t hsteps = 0, hbusy = 0, hdone = 0;
        for (unsigned l = 1; l <= cfg.levels; l++) {
            hsteps += ld(&lv[l].steps);
            hbusy += ld(&lv[l].steps_busy);
            hdone += ld(&lv[l].steps_done);
        }
        uint32_t colls = end_st.collections;
        printf("collections   %" PRIu32 " (%.0f/s) in %" PRIu32 " steps: %.1f steps per collection; completed by the "
               "foreground %" PRIu64 ", by handlers %" PRIu64 "; deferred frees %" PRIu32 ", claim retries %" PRIu32 "\n",
               colls, (double)colls / run_time, end_st.collect_steps,
               colls ? (double)end_st.collect_steps / colls : 0.0, fgs.done, hdone, rel_st.deferred_frees,
               rel_st.claim_retries);
        printf("incremental   budget %zu units; foreground steps %" PRIu64 ": mean %.2f us, longest %.1f us; the %" PRIu64
               " with no interrupt inside: median <= %.1f us, 99%% <= %.1f us, 99.9%% <= %.1f us, longest %.1f us "
               "(thread CPU %.1f us; the host preempts too); handler steps %" PRIu64 ", %" PRIu64
               " refused busy (a step executing, or an rgc call suspended, below)\n",
               cfg.budget, fgs.steps, fgs.steps ? (double)fgs.total_ns / (double)fgs.steps / 1e3 : 0.0,
               (double)fgs.max_ns / 1e3, fgs.clean, clean_percentile(0.5), clean_percentile(0.99),
               clean_percentile(0.999), (double)fgs.max_clean_ns / 1e3, (double)fgs.max_clean_cpu_ns / 1e3, hsteps,
               hbusy);
    }
    printf("heap          %zu B in %zu blocks; at the end: used %zu B, %zu objects, largest free run %zu B, "
           "failed allocs %" PRIu32 "\n",
           end_st.total_bytes, end_st.blocks, end_st.used_bytes, end_st.objects, end_st.largest_free_bytes,
           end_st.failed_allocs);
    printf("              after releasing the table and collecting: used %zu B, %zu objects%s\n", rel_st.used_bytes,
           rel_st.objects,
           rel_st.objects == 0 ? ""
                               : "\n              (not leaks: conservative leftovers - stale words on the demo's stacks and"
                                 " each level's\n              last in-progress slot still look like references)");
    printf("table         %u of %d entries occupied (%zu B), %u canaries intact\n", occupied, TABLE_SLOTS, table_bytes,
           table_ok);
    printf("misuse        %" PRIu32 " (expected %" PRIu64 ": the refused system-level allocations)\n", rel_st.misuse,
           ld(&sys_refused));
    printf("masked        longest masked window %" PRIu32 " (rgc_port_cycles units: ns here; 0 = nothing masked), "
           "%" PRIu64 " masks\n",
           rel_st.longest_masked, ss.masks);
    printf("rgc_check     %" PRIu64 " runs at random instants on level %u; final: %s, after release: %s\n", tot[6],
           top_level, final_check == RGC_OK ? "ok" : "CORRUPT", release_check == RGC_OK ? "ok" : "CORRUPT");
    if (map_file != NULL)
        printf("map           %s: %zu rows x %zu blocks%s\n", cfg.map_path, nrows, nblocks,
               png_rc == 0 ? "" : " -- WRITE FAILED");

    unsigned nv = atomic_load(&nviolations);
    printf("violations    %u\nresult        %s\n", nv, nv == 0 && png_rc == 0 ? "OK" : "FAILED");
    fflush(stdout);
    if (png_rc != 0)
        fprintf(stderr, "%s: writing %s failed\n", prog, cfg.map_path);
    if (nv != 0) {
        fprintf(stderr, "%s: %u violation(s), seed %" PRIu64 ":\n", prog, nv, cfg.seed);
        for (unsigned i = 0; i < nv && i < MAX_VIOLATIONS; i++) {
            struct violation *v = &violations[i];
            if (!atomic_load(&v->ready))
                continue;
            fprintf(stderr,
                    "  #%u at %.3f s, level %u: %s; slot %d%s%s, object %p, seq %" PRIu64 ", size %zu, offset %zu, "
                    "expected 0x%" PRIx64 ", got 0x%" PRIx64 "\n",
                    i, v->when, v->level, vkind_name[v->kind], v->slot, v->slot >= 0 ? " " : "",
                    v->slot >= 0 ? table_names[v->slot] : "", v->obj, v->seq, v->size, v->offset, v->expected,
                    v->got);
        }
        if (viol_map != NULL && viol_map[0] != '\0')
            fprintf(stderr, "heap map at the first violation:\n%s", viol_map);
    }
    free(rows);
    free(row_meta);
    free(viol_map);
    free(heap_mem);
    return nv == 0 && png_rc == 0 ? 0 : 1;
}
