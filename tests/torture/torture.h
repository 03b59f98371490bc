/* torture.h - shared pieces of the preemption torture suite (tests/torture, one executable
 * rgc_torture with a sub-command per scenario, see torture_main.c).
 *
 * Every scenario runs on the posix port's virtual interrupt controller (rgc_sim.h): real signals that
 * land at arbitrary instructions, nested NVIC-style. Handlers never print: a failure seen inside a
 * handler is recorded (tt_fail) and reported by the foreground once the sources are quiet. The
 * foreground's own assertions go through TT_CHECK, which counts passed and failed checks for the final
 * "N passed, M failed" line.
 *
 * The suite reads a few fields of the heap handle (collector, state, sweep_pos, atb, pool) to classify
 * what a handler is preempting; the constants come from the core's rgc_internal.h. It never writes them.
 */
#ifndef RGC_TORTURE_H
#define RGC_TORTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rgc.h"
#include "rgc_internal.h"
#include "rgc_sim.h"

/* ---- build flavour: speed minimums of the spec apply to optimised, unsanitised builds only ---- */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TT_SANITIZED 1
#endif
#endif
#ifndef TT_SANITIZED
#define TT_SANITIZED 0
#endif
#if defined(__OPTIMIZE__) && !TT_SANITIZED
#define TT_OPTIMIZED 1
#else
#define TT_OPTIMIZED 0
#endif
/* Table updates through the port's mask (two signal-mask system calls each): far slower. */
#define TT_FAST_BUILD (TT_OPTIMIZED && !RGC_ATOMICS_VIA_MASK)

#define TT_NOINLINE __attribute__((noinline))
#define TT_NOASAN __attribute__((noinline, no_sanitize_address))
#define TT_MAX_LEVELS 16

/* ---- options ---- */
struct tt_opts {
    double seconds; /* time budget of the scenario (CI default per scenario, or --seconds/--soak) */
    bool soak;      /* --soak: long run, progress line every 10 s */
    uint64_t seed;  /* --seed, else time based (printed) */
    bool minimums;  /* enforce the spec's speed minimums (TT_FAST_BUILD, unless --no-minimums) */
    bool verbose;
    unsigned storm_rate; /* storm scenarios: the storm thread's pace, interrupts/s (0: maximum) */
    unsigned areas;      /* --areas N: storm/incremental heaps split into N areas (rgc_add_area) */
};
extern struct tt_opts tt_opt;
extern rgc_heap tt_heap;

/* rgc_init on [mem, mem+bytes), split into tt_opt.areas areas of decreasing size (rgc_add_area for all
 * but the first; a gap of 256 bytes between areas), so objects land in several areas and never span
 * two. Returns RGC_OK or the failing call's result. */
int tt_heap_init(rgc_heap *h, unsigned char *mem, size_t bytes);
/* Sample how many areas hold an object now (foreground only); tt_areas_check at the end asserts that,
 * with --areas N > 1, objects were seen in more than one area. */
void tt_areas_sample(rgc_heap *h);
void tt_areas_check(void);

/* ---- time ---- */
uint64_t tt_now_ns(void);
static inline double tt_sec(uint64_t ns) { return (double)ns / 1e9; }

/* ---- random numbers (xorshift64*, one state per level: a level never preempts itself) ---- */
static inline uint64_t tt_rng(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}
static inline uint64_t tt_below(uint64_t *s, uint64_t n) { return n ? tt_rng(s) % n : 0; }
static inline uint64_t tt_seed_for(uint64_t seed, unsigned stream) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z ? z : 1;
}

/* ---- canary objects ----
 * [tag][meta = nwords << 8 | nlinks][serial][link 0 .. nlinks-1][payload 0 .. nwords-1]
 * tag and payload are functions of serial and meta; links are pointer slots (not covered). Payload
 * words are hash values: they never look like pointers into the pool. */
struct tobj {
    uintptr_t tag;
    uintptr_t meta;
    uintptr_t serial;
    void *link[];
};
#define TT_HDR_WORDS 3u

static inline unsigned tobj_nlinks(const struct tobj *o) { return (unsigned)(o->meta & 0xffu); }
static inline size_t tobj_nwords(const struct tobj *o) { return (size_t)(o->meta >> 8); }
static inline uintptr_t *tobj_pay(struct tobj *o) { return (uintptr_t *)(void *)&o->link[tobj_nlinks(o)]; }
static inline size_t tobj_bytes(unsigned nlinks, size_t nwords) {
    return (TT_HDR_WORDS + nlinks + nwords) * sizeof(uintptr_t);
}
uintptr_t tt_mix(uint64_t x);
uintptr_t tt_serial(void);
/* Fill header and payload (links are left as they are: zero after rgc_alloc). */
void tobj_fill(struct tobj *o, unsigned nlinks, size_t nwords, uintptr_t serial);
/* Allocate and fill; NULL when rgc_alloc fails. */
struct tobj *tobj_new(rgc_heap *h, unsigned nlinks, size_t nwords);

enum tt_bad { TT_OK = 0, TT_BAD_SIZE, TT_BAD_TAG, TT_BAD_META, TT_BAD_PAYLOAD, TT_BAD_SERIAL };
extern const char *const tt_bad_name[];
/* Canary of o intact and rgc_size(o) covers it. serial: expected serial or 0 for any. */
int tobj_verify(rgc_heap *h, const struct tobj *o, uintptr_t serial);
/* After a realloc to `bytes`: the header and the payload words that fit in `bytes` are intact. */
int tobj_verify_prefix(rgc_heap *h, const struct tobj *o, size_t bytes);

/* ---- heap internals (read only) ---- */
static inline unsigned tt_collector(rgc_heap *h) {
    return atomic_load_explicit(&core_of(h)->collector, memory_order_relaxed);
}
static inline unsigned tt_phase(rgc_heap *h) {
    return atomic_load_explicit(&h->state, memory_order_relaxed) & PHASE_BITS;
}
static inline size_t tt_sweep_pos(rgc_heap *h) {
    return atomic_load_explicit(&core_of(h)->sweep_pos, memory_order_relaxed);
}
/* Block index of an object start, or (size_t)-1. */
static inline size_t tt_block(rgc_heap *h, const void *p) {
    uintptr_t a = (uintptr_t)p, base = (uintptr_t)core_of(h)->areas[0].pool;
    if (a < base || a >= base + core_of(h)->areas[0].nblocks * (uintptr_t)RGC_BLOCK_BYTES)
        return (size_t)-1;
    return (size_t)((a - base) / RGC_BLOCK_BYTES);
}
/* ATB state (AT_FREE/HEAD/TAIL/MARK) of the block p starts, or -1 outside the pool. */
static inline int tt_atb(rgc_heap *h, const void *p) {
    size_t b = tt_block(h, p);
    if (b == (size_t)-1)
        return -1;
    uint8_t byte = atomic_load_explicit(&core_of(h)->areas[0].atb[ATB_INDEX(b)], memory_order_relaxed);
    return (int)ATB_GET(byte, b);
}
/* A collection is running at a level below `level` (suspended under the caller). */
static inline bool tt_collection_below(rgc_heap *h, unsigned level) {
    unsigned c = tt_collector(h);
    return c != 0 && c - 1u < level;
}

/* ---- failures recorded from any level (async-signal-safe) ---- */
void tt_fail(const char *what, unsigned level, uintptr_t a, uintptr_t b);
unsigned long tt_async_failures(void);
/* Print the recorded failures (first few in detail); returns how many there were. */
unsigned long tt_report_async(void);

/* ---- foreground checks ---- */
extern unsigned long tt_checks, tt_failures;
void tt_check_at(bool ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define TT_CHECK(cond, ...) tt_check_at((cond), __FILE__, __LINE__, __VA_ARGS__)
/* A speed minimum of the spec: enforced in optimised builds (tt_opt.minimums), else reported only. */
void tt_minimum(double value, double minimum, const char *what);
int tt_summary(const char *name);

/* ---- simulator helpers ---- */
/* Level 0 is the caller; init the simulator with `levels` levels (ceiling), fail the run if the host
 * lacks real-time signals. */
int tt_sim_init(unsigned levels, unsigned ceiling);
/* Stop every source and wait until nothing is pending (after tt_mask_leaked). */
void tt_quiesce(void);
/* Called by the foreground between operations (level 0, outside any masked window): are some of the
 * simulator's levels still blocked? That is a leaked mask (the port's save slot clobbered, or a window
 * left by a longjmp): reported as a failure (first time, with `where`), counted, and the levels are
 * unblocked again so that the run goes on and quiescing cannot hang. */
bool tt_mask_leaked(const char *where);
unsigned long tt_mask_leaks(void);
uint64_t tt_delivered_total(void);
/* The simulator's storm thread raising random levels in [lo, hi] as fast as the host delivers them. */
int tt_storm_begin(unsigned lo, unsigned hi, uint64_t seed);
/* The host's capacity: interrupts per second the bare simulator delivers (storm at max rate over
 * 1..levels, handlers that do nothing, the foreground spinning) over `seconds`. Handlers are detached
 * afterwards and the delivery counts restart from zero. */
double tt_calibrate(unsigned levels, double seconds);
/* CPU time of the calling thread, in seconds (the core thread: foreground plus every handler). */
double tt_thread_cpu(void);
void tt_print_sim(double seconds);

/* Wipe the stack below the caller (stale heap addresses there would be conservative roots). */
void tt_scrub_stack(void);
/* rgc_collect from a scrubbed stack, so stale words of dead frames keep nothing alive. */
int tt_collect_clean(void);
/* The barrier / born-black foreground until `seconds` pass: maintain() with the port's mask held, a
 * collection from a clean stack, then 300 us without one so the handler levels collect too; progress()
 * every 10 s. Sets *t0 and *t_end (tt_now_ns) and returns the foreground collections that ran. */
unsigned long tt_foreground_rounds(const char *who, void (*maintain)(uint64_t *rng), uint64_t *rng,
                                   void (*progress)(double elapsed), uint64_t *t0, uint64_t *t_end);

/* Deadline loop helper. */
static inline bool tt_time_left(uint64_t deadline) { return tt_now_ns() < deadline; }
/* --soak progress: prints "[t s] ..." every 10 s when soaking. */
bool tt_progress_due(uint64_t *next);

/* ---- scenarios ---- */
int tt_storm(unsigned levels);
int tt_barrier(void);
int tt_born_black(void);
int tt_handler_collect(void);
int tt_policy_lock(void);
int tt_abort(void);
int tt_incremental(void);
int tt_barrier_step(void);
int tt_reserve(void);

#endif /* RGC_TORTURE_H */
