/* torture_common.c - canary objects, failure records, checks and simulator helpers of the torture suite. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>

#include "torture.h"

struct tt_opts tt_opt;
rgc_heap tt_heap;
unsigned long tt_checks, tt_failures;

uint64_t tt_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- canary objects ---- */

uintptr_t tt_mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    /* odd: never the start of a block, so never a reference for the conservative scan */
    return (uintptr_t)x | 1u;
}

static _Atomic uintptr_t serial_counter = 1;
uintptr_t tt_serial(void) { return atomic_fetch_add_explicit(&serial_counter, 1, memory_order_relaxed); }

static uintptr_t tag_of(uintptr_t serial, uintptr_t meta) {
    return tt_mix((uint64_t)serial * 0x100000001B3ull ^ (uint64_t)meta ^ 0x7467630000000000ull);
}
static uintptr_t word_of(uintptr_t serial, size_t i) {
    return tt_mix((uint64_t)serial * 0xD6E8FEB86659FD93ull + (uint64_t)i);
}

void tobj_fill(struct tobj *o, unsigned nlinks, size_t nwords, uintptr_t serial) {
    o->meta = ((uintptr_t)nwords << 8) | nlinks;
    o->serial = serial;
    uintptr_t *pay = tobj_pay(o);
    for (size_t i = 0; i < nwords; i++)
        pay[i] = word_of(serial, i);
    o->tag = tag_of(serial, o->meta);
}

/* Multi-area runs: set when an object was placed outside area 0 (any level; see tt_areas_check). */
static _Atomic bool placed_beyond_area0;

struct tobj *tobj_new(rgc_heap *h, unsigned nlinks, size_t nwords) {
    struct tobj *o = rgc_alloc(h, tobj_bytes(nlinks, nwords), 0);
    if (o != NULL) {
        tobj_fill(o, nlinks, nwords, tt_serial());
        const struct rgc_area *a0 = &core_of(h)->areas[0];
        if ((uintptr_t)o - (uintptr_t)a0->pool >= (uintptr_t)a0->nblocks * RGC_BLOCK_BYTES)
            atomic_store_explicit(&placed_beyond_area0, true, memory_order_relaxed);
    }
    return o;
}

const char *const tt_bad_name[] = {"ok", "rgc_size too small (freed?)", "tag", "meta", "payload", "serial"};

static int verify_words(rgc_heap *h, const struct tobj *o, uintptr_t serial, size_t limit_bytes) {
    size_t size = rgc_size(h, o);
    if (size < TT_HDR_WORDS * sizeof(uintptr_t))
        return TT_BAD_SIZE;
    uintptr_t meta = o->meta;
    if (o->tag != tag_of(o->serial, meta))
        return TT_BAD_TAG;
    if (serial != 0 && o->serial != serial)
        return TT_BAD_SERIAL;
    /* the tag covers meta: from here on meta is the one the owner wrote */
    if ((meta & 0xffu) > 8u)
        return TT_BAD_META;
    if ((meta >> 8) > ((uintptr_t)1 << 20))
        return TT_BAD_META;
    size_t bytes = tobj_bytes((unsigned)(meta & 0xffu), (size_t)(meta >> 8));
    size_t n = (size_t)(meta >> 8);
    size_t first = TT_HDR_WORDS + (size_t)(meta & 0xffu);
    if (limit_bytes < bytes) { /* a prefix only (after a shrinking realloc) */
        bytes = limit_bytes;
        n = limit_bytes / sizeof(uintptr_t) > first ? limit_bytes / sizeof(uintptr_t) - first : 0;
    }
    if (bytes > size)
        return TT_BAD_SIZE;
    const uintptr_t *pay = (const uintptr_t *)(const void *)o + first;
    for (size_t i = 0; i < n; i++)
        if (pay[i] != word_of(o->serial, i))
            return TT_BAD_PAYLOAD;
    return TT_OK;
}

int tobj_verify(rgc_heap *h, const struct tobj *o, uintptr_t serial) {
    return verify_words(h, o, serial, SIZE_MAX);
}

int tobj_verify_prefix(rgc_heap *h, const struct tobj *o, size_t bytes) {
    return verify_words(h, o, 0, bytes);
}

/* ---- failures recorded from any level ---- */

#define TT_FAIL_RECORDS 16
static _Atomic unsigned long fail_count;
static struct {
    const char *_Atomic what;
    unsigned level;
    uintptr_t a, b;
    uint64_t t;
} fail_rec[TT_FAIL_RECORDS];
static uint64_t fail_t0;

void tt_fail(const char *what, unsigned level, uintptr_t a, uintptr_t b) {
    unsigned long i = atomic_fetch_add(&fail_count, 1);
    if (i < TT_FAIL_RECORDS) {
        fail_rec[i].level = level;
        fail_rec[i].a = a;
        fail_rec[i].b = b;
        fail_rec[i].t = tt_now_ns();
        atomic_store(&fail_rec[i].what, what);
    }
}

unsigned long tt_async_failures(void) { return atomic_load(&fail_count); }

unsigned long tt_report_async(void) {
    unsigned long n = atomic_load(&fail_count);
    for (unsigned long i = 0; i < n && i < TT_FAIL_RECORDS; i++) {
        const char *what = atomic_load(&fail_rec[i].what);
        fprintf(stderr, "FAIL (level %u, t=%.3f s): %s [0x%jx, 0x%jx]\n", fail_rec[i].level,
                tt_sec(fail_rec[i].t - fail_t0), what ? what : "(record incomplete)",
                (uintmax_t)fail_rec[i].a, (uintmax_t)fail_rec[i].b);
    }
    if (n > TT_FAIL_RECORDS)
        fprintf(stderr, "... and %lu more failures\n", n - TT_FAIL_RECORDS);
    return n;
}

/* ---- foreground checks ---- */

void tt_check_at(bool ok, const char *file, int line, const char *fmt, ...) {
    tt_checks++;
    if (ok)
        return;
    tt_failures++;
    fprintf(stderr, "%s:%d: FAIL: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void tt_minimum(double value, double minimum, const char *what) {
    if (tt_opt.minimums) {
        TT_CHECK(value >= minimum, "%s: %.0f, the spec's minimum is %.0f", what, value, minimum);
    } else if (value < minimum) {
        printf("  note: %s %.0f below the spec's %.0f (enforced only in optimised compare-and-swap builds "
               "without sanitizers)\n",
               what, value, minimum);
    }
}

int tt_summary(const char *name) {
    unsigned long async = tt_report_async();
    tt_checks++;
    if (async != 0) {
        tt_failures++;
        fprintf(stderr, "FAIL: %lu failures recorded inside handlers (seed %ju)\n", async,
                (uintmax_t)tt_opt.seed);
    }
    if (tt_failures != 0)
        fprintf(stderr, "reproduce: rgc_torture %s --seed %ju --seconds %g\n", name, (uintmax_t)tt_opt.seed,
                tt_opt.seconds);
    printf("torture.%s: %lu passed, %lu failed\n", name, tt_checks - tt_failures, tt_failures);
    fflush(stdout);
    return tt_failures == 0 ? 0 : 1;
}

/* ---- simulator helpers ---- */

static struct rgc_sim_stats sim_base;

int tt_sim_init(unsigned levels, unsigned ceiling) {
    fail_t0 = tt_now_ns();
    if (rgc_sim_init(levels, ceiling) != 0) {
        fprintf(stderr, "rgc_sim_init(%u, %u) failed: no real-time signals?\n", levels, ceiling);
        return -1;
    }
    /* A raised level must run before rgc_sim_pend returns. It does not when the per-user queue of
     * real-time signals (RLIMIT_SIGPENDING, shared by every process of the user) is full: tgkill then
     * fails and the simulator cannot tell. Say so instead of failing obscurely. */
    struct rgc_sim_stats a, b;
    rgc_sim_get_stats(&a);
    rgc_sim_pend(1);
    rgc_sim_get_stats(&b);
    if (b.delivered[1] == a.delivered[1]) {
        char line[128] = "SigQ: ?";
        FILE *f = fopen("/proc/self/status", "r");
        while (f != NULL && fgets(line, sizeof line, f) != NULL && strncmp(line, "SigQ:", 5) != 0) {
        }
        if (f != NULL)
            fclose(f);
        fprintf(stderr,
                "simulator: a raised level was not delivered; is the real-time signal queue full "
                "(another process of this user holding queued signals)? %s\n",
                line);
        TT_CHECK(false, "the interrupt simulator does not deliver");
        return -1;
    }
    rgc_sim_get_stats(&sim_base);
    return 0;
}

int tt_storm_begin(unsigned lo, unsigned hi, uint64_t seed) { return rgc_sim_storm_start(lo, hi, 0, seed); }

static void idle_handler(unsigned level, void *arg) {
    (void)level;
    (void)arg;
}

double tt_calibrate(unsigned levels, double seconds) {
    for (unsigned l = 1; l <= levels; l++)
        rgc_sim_attach(l, idle_handler, NULL);
    uint64_t d0 = tt_delivered_total(), t0 = tt_now_ns();
    if (rgc_sim_storm_start(1, levels, 0, 12345) != 0)
        return 0;
    uint64_t until = t0 + (uint64_t)(seconds * 1e9);
    while (tt_now_ns() < until) {
    }
    uint64_t d1 = tt_delivered_total(), t1 = tt_now_ns();
    rgc_sim_quiesce();
    for (unsigned l = 1; l <= levels; l++)
        rgc_sim_attach(l, NULL, NULL);
    rgc_sim_get_stats(&sim_base);
    return (double)(d1 - d0) / tt_sec(t1 - t0);
}

double tt_thread_cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long mask_leaks;

bool tt_mask_leaked(const char *where) {
    unsigned levels = rgc_sim_levels();
    if (levels == 0)
        return false;
    sigset_t cur, leaked;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    sigemptyset(&leaked);
    bool any = false;
    for (unsigned l = 0; l < levels; l++) {
        if (sigismember(&cur, SIGRTMIN + (int)l)) {
            sigaddset(&leaked, SIGRTMIN + (int)l);
            any = true;
        }
    }
    if (!any)
        return false;
    if (mask_leaks++ == 0) {
        char bits[64] = "";
        size_t n = 0;
        for (unsigned l = 1; l <= levels && n + 4 < sizeof bits; l++)
            if (sigismember(&cur, SIGRTMIN + (int)(levels - l)))
                n += (size_t)snprintf(bits + n, sizeof bits - n, " %u", l);
        TT_CHECK(false, "%s: levels%s are blocked at level 0 outside any masked window (a leaked port mask)",
                 where, bits);
    }
    pthread_sigmask(SIG_UNBLOCK, &leaked, NULL);
    return true;
}

unsigned long tt_mask_leaks(void) { return mask_leaks; }

void tt_quiesce(void) {
    tt_mask_leaked("before quiescing");
    rgc_sim_quiesce();
    if (mask_leaks > 1)
        fprintf(stderr, "FAIL: the simulator's levels were found blocked at level 0 %lu times\n", mask_leaks);
}

uint64_t tt_delivered_total(void) {
    struct rgc_sim_stats s;
    rgc_sim_get_stats(&s);
    uint64_t n = 0;
    for (unsigned l = 1; l <= RGC_SIM_MAX_LEVELS; l++)
        n += s.delivered[l] - sim_base.delivered[l];
    return n;
}

void tt_print_sim(double seconds) {
    struct rgc_sim_stats s;
    rgc_sim_get_stats(&s);
    uint64_t total = 0;
    printf("  interrupts per level:");
    for (unsigned l = 1; l <= rgc_sim_levels(); l++) {
        uint64_t d = s.delivered[l] - sim_base.delivered[l];
        total += d;
        printf(" L%u %ju", l, (uintmax_t)d);
    }
    printf("\n  interrupts: %ju in %.2f s = %.0f/s, deepest nesting %u, outermost masks %ju\n",
           (uintmax_t)total, seconds, seconds > 0 ? (double)total / seconds : 0.0, s.max_nesting,
           (uintmax_t)(s.masks - sim_base.masks));
    if (s.storm_holds != sim_base.storm_holds)
        printf("  the storm waited for level 0 to run %ju times (handlers slower than the storm)\n",
               (uintmax_t)(s.storm_holds - sim_base.storm_holds));
}

/* Overwrite the stack area below the caller. Not instrumented by AddressSanitizer (its redzones would
 * keep stale words). */
TT_NOASAN static void wipe_deep(void) {
    volatile unsigned char buf[16384];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = 0;
}
TT_NOASAN void tt_scrub_stack(void) {
    volatile uintptr_t near[16];
    for (size_t i = 0; i < 16; i++)
        near[i] = 0;
    wipe_deep();
    (void)near[0];
}

bool tt_progress_due(uint64_t *next) {
    if (!tt_opt.soak)
        return false;
    uint64_t now = tt_now_ns();
    if (*next == 0) {
        *next = now + 10000000000ull;
        return false;
    }
    if (now < *next)
        return false;
    *next = now + 10000000000ull;
    return true;
}

TT_NOINLINE int tt_collect_clean(void) {
    tt_scrub_stack();
    return rgc_collect(&tt_heap);
}

unsigned long tt_foreground_rounds(const char *who, void (*maintain)(uint64_t *rng), uint64_t *rng,
                                   void (*progress)(double elapsed), uint64_t *t0, uint64_t *t_end) {
    *t0 = tt_now_ns();
    uint64_t deadline = *t0 + (uint64_t)(tt_opt.seconds * 1e9), next_progress = 0;
    unsigned long collections = 0;
    while (tt_time_left(deadline)) {
        rgc_mask_state m = rgc_port_mask();
        maintain(rng);
        rgc_port_unmask(m);
        if (tt_collect_clean() == RGC_OK)
            collections++;
        tt_mask_leaked(who);
        for (uint64_t until = tt_now_ns() + 300000; tt_now_ns() < until;) {
        }
        if (tt_progress_due(&next_progress))
            progress(tt_sec(tt_now_ns() - *t0));
    }
    *t_end = tt_now_ns();
    return collections;
}

int tt_heap_init(rgc_heap *h, unsigned char *mem, size_t bytes) {
    unsigned n = tt_opt.areas > 1 ? tt_opt.areas : 1;
    if (n == 1)
        return rgc_init(h, mem, bytes);
    /* area 0 a small share, so that the scenario's objects spill into the others (whatever the placement) */
    size_t first = (bytes / (2u * n)) & ~(size_t)63u, rest = ((bytes - first) / (n - 1)) & ~(size_t)63u;
    int r = rgc_init(h, mem, first);
    for (unsigned i = 1; i < n && r == RGC_OK; i++) {
        size_t off = first + (i - 1) * rest + 256;
        r = rgc_add_area(h, mem + off, rest - 256);
    }
    return r;
}

static unsigned areas_seen_max;

void tt_areas_sample(rgc_heap *h) {
    unsigned n = atomic_load(&core_of(h)->nareas), used = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct rgc_area *a = &core_of(h)->areas[i];
        for (size_t k = 0; k < (a->nblocks + 3u) / 4u; k++) {
            if (atomic_load_explicit(&a->atb[k], memory_order_relaxed) != 0) {
                used++;
                break;
            }
        }
    }
    if (used > areas_seen_max)
        areas_seen_max = used;
}

void tt_areas_check(void) {
    tt_areas_sample(&tt_heap); /* once more at the end: a starved foreground (ASan) samples rarely */
    if (tt_opt.areas > 1) {
        bool beyond = atomic_load(&placed_beyond_area0);
        printf("  areas: %u, objects seen in up to %u at once (sampled), placed beyond area 0: %s\n", tt_opt.areas,
               areas_seen_max, beyond ? "yes" : "no");
        /* sampling alone depends on when the (starved, under ASan) foreground looks */
        TT_CHECK(areas_seen_max >= 2 || beyond, "objects in more than one area");
    }
}
