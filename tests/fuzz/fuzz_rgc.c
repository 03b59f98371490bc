/* fuzz_rgc.c - libFuzzer target: the whole rgc API driven by the input, as a program.
 *
 * Input layout (every byte past the end reads as 0, so any input is a valid program):
 *   header   cfg, heap size (2 bytes), heap offset, finaliser mode, area count; per extra area a mode
 *            byte and a size (2 bytes): fresh memory, misaligned, overlapping the heap or the previous
 *            area, NULL / zero / wrapping, too small - the core must accept exactly the good ones;
 *   program  ops until the input ends (at most MAX_TOP_OPS): alloc (sizes 0, 1, block-1, block,
 *            the whole heap, beyond it, SIZE_MAX; RGC_FINALISER and invalid flag bits), realloc
 *            (grow/shrink, move or not, to 0, of stale/interior/foreign pointers, SIZE_MAX), free
 *            (valid, double, interior, foreign, stale, NULL), root-table stores through rgc_write /
 *            rgc_swap, links between objects (object graphs; take = rgc_swap a pointer out of an
 *            object into a handle, fetch = copy one into a handle), collect / collect_step(budget) /
 *            collect_start / collect_roots / collect_finish / sweep_all, lock/unlock (unbalanced too),
 *            level policy, threshold, pacing, reserve, add_root (good, NULL, misaligned, short, table
 *            full), reserve / add_area at run time and from interrupts, diagnostics, calls on bad
 *            heaps, finaliser behaviour (free its object, allocate, collect), the level the next ops run
 *            at (bad levels >= RGC_MAX_LEVELS too), and INJECT: "at preemption point N of the next
 *            call, run this nested program at a higher level" (nested up to MAX_DEPTH bodies deep;
 *            fuzz_port.c counts the points of the instrumented core).
 *
 * The model: objects live in a handle table registered with rgc_add_root (g_roots) and in each other's
 * pointer slots (rgc_write). An object is tracked while it is reachable from the table (or in use by
 * an operation in flight); an object the program drops is forgotten and may die. Operations in flight
 * pin their objects and slots, and nested programs leave pinned things alone (a real program that
 * frees an object in one handler while another level is using it is wrong in ways rgc cannot fix).
 *
 * Checked after every op at every level: rgc_check == RGC_OK; every tracked object's rgc_size,
 * pointer slots and canary bytes; no two tracked objects overlap; each lies inside one area's pool;
 * rgc_get_stats consistent (used <= total, used + free == total, counters monotone, used covers the
 * tracked objects); the root table holds what the program stored; rgc_stats.misuse grew by exactly
 * what the op's own bad input accounts for (nested bodies' and finalisers' misuse is subtracted);
 * return codes (RGC_BUSY exactly when a collection executes below, roots are open for another level,
 * or a collection in progress would move above a suspended call; RGC_LOCKED; RGC_EINVAL with misuse); new memory zeroed, aligned, inside an area, below the level's
 * reserve limit; a failed allocation at top level really had no free run; finalisers run only for
 * dead objects that had one, with rgc_busy_depth > 0. At the end of an input: every root dropped,
 * collections at every level used, and the heap must be empty with every finaliser run.
 *
 * FUZZ_RGC_VERBOSE=1 in the environment logs every op (replay a crash file to read its program);
 * FUZZ_RGC_STATS=1 prints totals at exit (interrupt bodies per level, collections, claim retries ...).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_port.h"
#include "rgc.h"
#include "rgc_internal.h" /* read-only white-box checks: phase, collector, limits, table states */

#define B ((size_t)RGC_BLOCK_BYTES)
#define W (sizeof(void *))
#define NH 32          /* handle table (registered root range) */
#define NX 16          /* extra root range: only ever holds copies and junk */
#define MAXOBJ 512
#define MAXSLOT 4
#define MAXSTALE 64
#define MAXFIN 1024
#define MAXHIT 64
#define MAX_TOP_OPS 400
#define MAX_BODY_OPS 48
#define MAX_DEPTH 4
#define POINT_BUDGET 40000000ull
#define MAIN_MAX (64 * 1024)
#define AREA_MAX (16 * 1024)
#define AREA_REGION0 (MAIN_MAX + 1024)
#define AREA_STRIDE (AREA_MAX + 1024)
#define MEM_BYTES (AREA_REGION0 + 4 * AREA_STRIDE)
#define NLEVELS (FUZZ_MAX_LEVEL + 1u)

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif
#endif

/* ------------------------------------------------------------------------------------------------ */
/* state                                                                                             */
/* ------------------------------------------------------------------------------------------------ */

static _Alignas(64) unsigned char g_mem[MEM_BYTES];
static rgc_heap g_heap;
static rgc_heap g_badheap; /* never initialised (zeros or junk) */
static void *g_roots[NH];
static void *g_xroots[NX];
static void *g_scratch[8]; /* not a root range */
/* Base pointers of the objects operations in flight use (a registered root range): a real caller
 * holds them in live variables; here the compiler may keep only a derived pointer (a slot address),
 * which is no reference without RGC_INTERIOR_POINTERS. */
#define NPINS 64
static void *g_pins[NPINS];
static unsigned g_npins;
static unsigned char g_foreign[64];

typedef struct {
    int id;
    uint32_t gen;
    void *raw; /* what the word holds (may be stale) */
} ref;

typedef struct {
    unsigned char *p;
    size_t req;  /* bytes of slots + canary the test relies on */
    size_t size; /* rgc_size when last resized */
    unsigned nslots, flags;
    uint32_t gen, seed;
    int live, pin;
    size_t dirty_lo, dirty_hi; /* bytes that may still hold pointers of slots cut off by a shrink */
    ref slot[MAXSLOT];
} fobj;

static fobj g_obj[MAXOBJ];
static ref g_root[NH];
static int g_slot_pin[NH];
static void *g_stale[MAXSTALE];
static unsigned g_nstale;
static void *g_inflight[MAX_DEPTH * 4 + 8];
static unsigned g_ninflight;

/* Finaliser bookkeeping: addresses of objects whose finaliser is owed. UNCERTAIN: a nested stale
 * free/realloc may have cleared its finaliser bit (or not) - either outcome is accepted. */
enum { FIN_NONE = 0, FIN_OWED = 1, FIN_UNCERTAIN = 2 };
static struct {
    void *p;
    int st;
} g_fin[MAXFIN];
static unsigned g_nfin;
static bool g_fin_exact;
static struct {
    void *p;
    uint64_t seq;
} g_hit[MAXHIT];
static unsigned g_nhit;
static uint64_t g_seq;

static struct {
    unsigned char *mem;
    size_t bytes;
} g_area_in[RGC_MAX_AREAS]; /* memory given to accepted areas */
static unsigned g_nareas, g_area_attempts;

static unsigned g_fin_mode;
static unsigned g_sweep_all_depth;
static uint32_t g_nested_misuse; /* misuse counted by bodies and finalisers inside the current op */
static uint32_t g_misuse_seen, g_collections_seen;
static uint32_t g_levels_used;
static bool g_pool_root; /* a root range inside the pool was registered: no leak check */
static bool g_budget_out;
static unsigned g_fin_allocs; /* objects finalisers allocated (and dropped) */
static int g_verbose = -1;
static uint64_t g_inputs;
/* FUZZ_RGC_STATS=1: totals over all inputs, printed at exit (what the inputs exercised). */
static struct {
    uint64_t ops, bodies, bodies_by_level[NLEVELS], claim_retries, deferred_frees, busy, collections, steps,
        misuse, failed, finalisers, areas, fired_unmask;
} g_tot;

/* ------------------------------------------------------------------------------------------------ */
/* log and failure                                                                                   */
/* ------------------------------------------------------------------------------------------------ */

#define LOGN 48
static char g_log[LOGN][160];
static unsigned g_nlog;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    char *line = g_log[g_nlog++ % LOGN];
    int n = snprintf(line, 160, "[L%u f%u] ", fuzz_level(), g_ninflight); /* level, ops in flight */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, (size_t)(160 - n), fmt, ap);
    va_end(ap);
    if (g_verbose > 0)
        fprintf(stderr, "  %s\n", line);
}
#define LOG(...) logf_(__VA_ARGS__)

static void print_err(void *ctx, const char *s)
{
    (void)ctx;
    fputs(s, stderr);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    fprintf(stderr, "\n==== rgc fuzz: FAILURE (level %u, input #%llu) ====\n", fuzz_level(),
            (unsigned long long)g_inputs);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n---- last ops (oldest first) ----\n");
    unsigned from = g_nlog > LOGN ? g_nlog - LOGN : 0;
    for (unsigned i = from; i < g_nlog; i++)
        fprintf(stderr, "  %s\n", g_log[i % LOGN]);
    fprintf(stderr, "---- heap: state 0x%x (phase %u), collector %u, roots owner %u, lock %u, sweep_pos %zu, "
                    "sweep_done %zu, hint %zu, rover %zu; depth[0..3] %u %u %u %u ----\n",
            atomic_load(&g_heap.state), atomic_load(&g_heap.state) & PHASE_BITS, atomic_load(&core_of(&g_heap)->collector),
            atomic_load(&core_of(&g_heap)->roots_owner), atomic_load(&core_of(&g_heap)->lock_depth), atomic_load(&core_of(&g_heap)->sweep_pos),
            atomic_load(&core_of(&g_heap)->sweep_done), atomic_load(&core_of(&g_heap)->hint), atomic_load(&core_of(&g_heap)->rover),
            atomic_load(&core_of(&g_heap)->depth[0]), atomic_load(&core_of(&g_heap)->depth[1]), atomic_load(&core_of(&g_heap)->depth[2]),
            atomic_load(&core_of(&g_heap)->depth[3]));
    rgc_dump(&g_heap, print_err, NULL);
    fflush(stderr);
    abort();
}

/* ------------------------------------------------------------------------------------------------ */
/* input                                                                                             */
/* ------------------------------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
} rd;

static unsigned u8(rd *r) { return r->p < r->end ? *r->p++ : 0u; }
static unsigned u16(rd *r)
{
    unsigned a = u8(r);
    return a | (u8(r) << 8);
}
static bool rd_eof(const rd *r) { return r->p >= r->end; }

/* ------------------------------------------------------------------------------------------------ */
/* heap internals (read only)                                                                        */
/* ------------------------------------------------------------------------------------------------ */

static size_t total_bytes(void) { return atomic_load(&core_of(&g_heap)->nblocks) * B; }
static uint32_t misuse_now(void) { return atomic_load(&core_of(&g_heap)->misuse); }
static unsigned phase_now(void) { return atomic_load(&g_heap.state) & PHASE_BITS; }
static unsigned lock_now(void) { return atomic_load(&core_of(&g_heap)->lock_depth); }
static bool bad_level(void) { return fuzz_level() >= RGC_MAX_LEVELS; }
static bool below_busy(void);

/* Misuse accounting of one core call: what it counted itself, minus what bodies and finalisers that
 * ran inside it counted. expect: 0 or 1 exactly, -1: either. */
typedef struct {
    uint32_t saved, m0;
} acct;
static acct acct_begin(void)
{
    acct a = {g_nested_misuse, misuse_now()};
    g_nested_misuse = 0;
    return a;
}
static uint32_t acct_end(acct a, int expect, const char *what)
{
    uint32_t m1 = misuse_now();
    uint32_t own = m1 - a.m0 - g_nested_misuse;
    if ((expect >= 0 && own != (uint32_t)expect) || own > 1)
        fail("%s: rgc_stats.misuse counted %u for this call (misuse %u -> %u, %u by nested code), "
             "expected %d",
             what, own, a.m0, m1, g_nested_misuse, expect);
    g_nested_misuse = a.saved;
    return own;
}

/* ------------------------------------------------------------------------------------------------ */
/* model                                                                                             */
/* ------------------------------------------------------------------------------------------------ */

static bool ref_ok(ref r)
{
    return r.id >= 0 && g_obj[r.id].live && g_obj[r.id].gen == r.gen;
}
static ref ref_to(int id)
{
    ref r = {-1, 0, NULL};
    if (id >= 0) {
        r.id = id;
        r.gen = g_obj[id].gen;
        r.raw = g_obj[id].p;
    }
    return r;
}
static ref ref_raw(void *raw)
{
    ref r = {-1, 0, raw};
    return r;
}

static uint8_t canary(const fobj *o, size_t i)
{
    uint32_t x = (o->seed + (uint32_t)i) * 0x9E3779B1u;
    return (uint8_t)(x >> 24);
}

static void fill_canary(fobj *o, size_t from)
{
    /* Words that may still hold pointers (slots a shrink cut off without clearing them) are cleared
     * through the barrier first: a plain store over them would be an unbarriered deletion. */
    if (o->dirty_hi > o->dirty_lo && from < o->dirty_hi && o->req > o->dirty_lo) {
        for (size_t w = o->dirty_lo / W; w < o->dirty_hi / W && (w + 1) * W <= o->size; w++) {
            acct a = acct_begin();
            rgc_write(&g_heap, (void **)(void *)o->p + w, NULL);
            acct_end(a, fuzz_level() >= RGC_MAX_LEVELS ? 1 : 0, "rgc_write (clear a cut-off slot)");
        }
        o->dirty_lo = o->dirty_hi = 0;
    }
    for (size_t i = from; i < o->req; i++)
        o->p[i] = canary(o, i);
}

static void untrack(int id)
{
    g_obj[id].live = 0;
    g_obj[id].gen++;
}

static int obj_new(unsigned char *p, size_t req, unsigned nslots, unsigned flags)
{
    static uint32_t seed;
    for (int i = 0; i < MAXOBJ; i++) {
        fobj *o = &g_obj[i];
        if (o->live || o->pin)
            continue;
        uint32_t gen = o->gen + 1u;
        memset(o, 0, sizeof *o);
        o->gen = gen;
        o->live = 1;
        o->p = p;
        o->req = req;
        o->size = rgc_size(&g_heap, p);
        o->nslots = nslots;
        if (o->nslots * W > req)
            o->nslots = (unsigned)(req / W);
        o->flags = flags;
        o->seed = ++seed * 2654435761u;
        for (unsigned k = 0; k < MAXSLOT; k++)
            o->slot[k] = ref_raw(NULL);
        fill_canary(o, o->nslots * W);
        return i;
    }
    return -1;
}

static void pin(int id)
{
    g_obj[id].pin++;
    g_pins[g_npins++ % NPINS] = g_obj[id].p;
}
static void unpin(int id)
{
    g_obj[id].pin--;
    g_pins[--g_npins % NPINS] = NULL; /* plain store: the object is tracked, or nothing needs it */
}

static void stale_add(void *p)
{
    g_stale[g_nstale++ % MAXSTALE] = p;
}
static int tracked_at(const void *p)
{
    for (int i = 0; i < MAXOBJ; i++)
        if (g_obj[i].live && g_obj[i].p == p)
            return i;
    return -1;
}
static bool inflight(const void *p)
{
    for (unsigned i = 0; i < g_ninflight; i++)
        if (g_inflight[i] == p)
            return true;
    return false;
}
static void inflight_push(void *p)
{
    if (g_ninflight < sizeof g_inflight / sizeof g_inflight[0])
        g_inflight[g_ninflight] = p;
    g_ninflight++;
}
static void inflight_pop(void) { g_ninflight--; }

/* ---- finalisers owed ---- */
static int fin_find(const void *p)
{
    for (unsigned i = 0; i < g_nfin; i++)
        if (g_fin[i].p == p)
            return (int)i;
    return -1;
}
static void fin_remove(const void *p)
{
    int i = fin_find(p);
    if (i >= 0)
        g_fin[i] = g_fin[--g_nfin];
}
static void fin_add(void *p, int st)
{
    fin_remove(p);
    if (g_nfin < MAXFIN) {
        g_fin[g_nfin].p = p;
        g_fin[g_nfin].st = st;
        g_nfin++;
    } else {
        g_fin_exact = false;
    }
}
static void fin_move(void *from, void *to)
{
    int i = fin_find(from);
    if (i >= 0) {
        int st = g_fin[i].st;
        fin_remove(from);
        fin_add(to, st);
    }
}
static void hit_note(void *p)
{
    g_hit[g_nhit % MAXHIT].p = p;
    g_hit[g_nhit % MAXHIT].seq = ++g_seq;
    g_nhit++;
}
/* Was p the target of a stale free/realloc after sequence number since? (Its finaliser bit may have
 * been cleared while this op was claiming it.) */
static bool hit_since(const void *p, uint64_t since)
{
    unsigned n = g_nhit < MAXHIT ? g_nhit : MAXHIT;
    for (unsigned i = 0; i < n; i++)
        if (g_hit[i].p == p && g_hit[i].seq > since)
            return true;
    return false;
}

/* Forget every tracked object no longer reachable from the table, the pinned objects and their
 * slots: the program dropped it, the collector may free it. */
static void reach(void)
{
    static unsigned char seen[MAXOBJ];
    static int stack[MAXOBJ];
    int sp = 0;
    memset(seen, 0, sizeof seen);
    for (int s = 0; s < NH; s++) {
        if (ref_ok(g_root[s]) && !seen[g_root[s].id]) {
            seen[g_root[s].id] = 1;
            stack[sp++] = g_root[s].id;
        }
    }
    for (int i = 0; i < MAXOBJ; i++) {
        if (g_obj[i].live && g_obj[i].pin > 0 && !seen[i]) {
            seen[i] = 1;
            stack[sp++] = i;
        }
    }
    while (sp > 0) {
        fobj *o = &g_obj[stack[--sp]];
        for (unsigned k = 0; k < o->nslots; k++) {
            ref c = o->slot[k];
            if (ref_ok(c) && !seen[c.id]) {
                seen[c.id] = 1;
                stack[sp++] = c.id;
            }
        }
    }
    for (int i = 0; i < MAXOBJ; i++)
        if (g_obj[i].live && !seen[i])
            untrack(i);
}

/* ------------------------------------------------------------------------------------------------ */
/* checks                                                                                            */
/* ------------------------------------------------------------------------------------------------ */

static const struct rgc_area *pool_area(const void *p, size_t bytes)
{
    unsigned n = atomic_load(&core_of(&g_heap)->nareas);
    for (unsigned i = 0; i < n; i++) {
        const struct rgc_area *a = &core_of(&g_heap)->areas[i];
        const unsigned char *lo = a->pool, *hi = a->pool + a->nblocks * B;
        if ((const unsigned char *)p >= lo && (const unsigned char *)p < hi)
            return (const unsigned char *)p + bytes <= hi && ((size_t)((const unsigned char *)p - lo) % B) == 0
                       ? a
                       : NULL;
    }
    return NULL;
}

static void check_object(int id, const char *where)
{
    fobj *o = &g_obj[id];
    size_t sz = rgc_size(&g_heap, o->p);
    if (sz != o->size)
        fail("%s: object #%d at %p: rgc_size %zu, expected %zu", where, id, (void *)o->p, sz, o->size);
    if (pool_area(o->p, sz) == NULL)
        fail("%s: object #%d at %p (+%zu) is not inside one area's pool", where, id, (void *)o->p, sz);
    for (unsigned k = 0; k < o->nslots; k++) {
        void *w = ((void **)(void *)o->p)[k];
        if (w != o->slot[k].raw)
            fail("%s: object #%d at %p: pointer slot %u holds %p, expected %p", where, id, (void *)o->p, k,
                 w, o->slot[k].raw);
    }
    for (size_t i = o->nslots * W; i < o->req; i++)
        if (o->p[i] != canary(o, i))
            fail("%s: object #%d at %p (req %zu, size %zu): canary byte %zu is 0x%02x, expected 0x%02x",
                 where, id, (void *)o->p, o->req, o->size, i, o->p[i], canary(o, i));
}

static int cmp_obj(const void *a, const void *b)
{
    const unsigned char *x = g_obj[*(const int *)a].p, *y = g_obj[*(const int *)b].p;
    return x < y ? -1 : x > y;
}

static void check_all(const char *where)
{
    static int ids[MAXOBJ];
    int n = 0;
    if (rgc_check(&g_heap) != RGC_OK)
        fail("%s: rgc_check reports corruption", where);
    for (int s = 0; s < NH; s++)
        if (!g_slot_pin[s] && g_roots[s] != g_root[s].raw)
            fail("%s: handle slot %d holds %p, expected %p", where, s, g_roots[s], g_root[s].raw);
    size_t tracked_bytes = 0;
    for (int i = 0; i < MAXOBJ; i++) {
        if (!g_obj[i].live || g_obj[i].pin)
            continue;
        check_object(i, where);
        ids[n++] = i;
        tracked_bytes += g_obj[i].size;
    }
    qsort(ids, (size_t)n, sizeof ids[0], cmp_obj);
    for (int i = 1; i < n; i++) {
        fobj *a = &g_obj[ids[i - 1]], *b = &g_obj[ids[i]];
        if (a->p + a->size > b->p)
            fail("%s: objects #%d at %p (+%zu) and #%d at %p overlap", where, ids[i - 1], (void *)a->p,
                 a->size, ids[i], (void *)b->p);
    }
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    /* rgc_add_area suspended below publishes the area before the block total: the areas' sum may lead
     * the total until it returns (the count of areas is read after the stats, so it may lead too). */
    bool shaping = atomic_load(&core_of(&g_heap)->config_busy) != 0;
    size_t nblocks_now = atomic_load(&core_of(&g_heap)->nblocks);
    if (st.total_bytes != st.blocks * B || st.used_bytes > st.total_bytes ||
        st.used_bytes + st.free_bytes != st.total_bytes || st.largest_free_bytes > st.free_bytes ||
        st.objects > st.blocks || st.areas != atomic_load(&core_of(&g_heap)->nareas) || st.areas < g_nareas ||
        (shaping ? st.blocks < nblocks_now : st.blocks != nblocks_now) ||
        st.one_block_objects + st.two_block_objects > st.objects || st.largest_object_bytes > st.used_bytes ||
        st.largest_object_bytes % B != 0 || st.used_bytes < tracked_bytes || st.objects < (size_t)n)
        fail("%s: inconsistent stats: total %zu used %zu free %zu largest free %zu objects %zu blocks %zu "
             "areas %zu (expected %u) 1-block %zu 2-block %zu largest object %zu; tracked: %d objects, %zu "
             "bytes",
             where, st.total_bytes, st.used_bytes, st.free_bytes, st.largest_free_bytes, st.objects,
             st.blocks, st.areas, g_nareas, st.one_block_objects, st.two_block_objects,
             st.largest_object_bytes, n, tracked_bytes);
    if (st.misuse < g_misuse_seen || st.collections < g_collections_seen)
        fail("%s: counters went backwards: misuse %u -> %u, collections %u -> %u", where, g_misuse_seen,
             st.misuse, g_collections_seen, st.collections);
    g_misuse_seen = st.misuse;
    g_collections_seen = st.collections;
    if (fuzz_port_errors() != 0)
        fail("%s: unbalanced rgc_port_mask/unmask", where);
}

/* A block run a successful allocation (or move) returned: aligned, sized, zeroed, inside an area, below
 * the level's limit (reserves of higher levels). */
static void check_new(const unsigned char *p, size_t nb, size_t zero_from, const char *what)
{
    size_t align = B < _Alignof(max_align_t) ? B : _Alignof(max_align_t);
    if ((uintptr_t)p % align != 0)
        fail("%s returned %p, not aligned to %zu", what, (const void *)p, align);
    size_t sz = rgc_size(&g_heap, p);
    if (sz != nb * B)
        fail("%s returned %p with rgc_size %zu, expected %zu", what, (const void *)p, sz, nb * B);
    if (pool_area(p, sz) == NULL)
        fail("%s returned %p (+%zu): not inside one area's pool", what, (const void *)p, sz);
    for (size_t i = zero_from; i < sz; i++)
        if (p[i] != 0)
            fail("%s returned %p: byte %zu is 0x%02x, not zeroed", what, (const void *)p, i, p[i]);
    unsigned l = fuzz_level();
    size_t b = block_of_start(core_of(&g_heap), p);
    if (l < RGC_MAX_LEVELS && b + nb > atomic_load(&core_of(&g_heap)->limit[l]))
        fail("%s at level %u returned blocks %zu..%zu, beyond the level's limit %zu (a higher level's "
             "reserve)",
             what, l, b, b + nb - 1, atomic_load(&core_of(&g_heap)->limit[l]));
}

/* A free run of nb blocks inside [lo, hi) of one area? */
static bool free_run(size_t nb, size_t lo, size_t hi)
{
    unsigned n = atomic_load(&core_of(&g_heap)->nareas);
    for (unsigned i = 0; i < n; i++) {
        const struct rgc_area *a = &core_of(&g_heap)->areas[i];
        size_t from = lo > a->first ? lo : a->first, to = hi < area_end(a) ? hi : area_end(a), run = 0;
        for (size_t b = from; b < to; b++) {
            run = atb_state_in(a, b) == AT_FREE ? run + 1 : 0;
            if (run >= nb)
                return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------------------------------------ */
/* ops                                                                                               */
/* ------------------------------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t n;
    unsigned depth;
} body_arg;

typedef struct {
    rd *r;
    unsigned depth; /* 0: the top-level program */
    int inj;        /* an injection is pending for the next core call */
    uint64_t inj_n;
    unsigned inj_to;
    body_arg inj_body;
} octx;

static void run_program(rd *r, unsigned depth, unsigned max_ops);

/* Core bugs this target found: inputs in tests/fuzz/regressions/ (fixed) and tests/fuzz/open-bugs/
 * (open), deterministic scenarios in tests/fuzz/regress_findings.c. Open: an interrupt inside
 * rgc_add_area sees the new area published before nblocks/end (rgc_check fails). With
 * FUZZ_AVOID_OPEN_BUGS (the default while it is open) rgc_add_area is never interrupted. */
#ifndef FUZZ_AVOID_OPEN_BUGS
#define FUZZ_AVOID_OPEN_BUGS 0 /* the add-area bug is fixed: rgc_add_area is interrupted too */
#endif

static void body_fn(void *arg)
{
    body_arg *b = (body_arg *)arg;
    unsigned l = fuzz_level();
    uint32_t m0 = misuse_now();
    uint32_t saved = g_nested_misuse;
    g_nested_misuse = 0;
    if (l < 32)
        g_levels_used |= 1u << l;
    LOG("-> body at level %u (%zu bytes)", l, b->n);
    g_tot.bodies++;
    g_tot.bodies_by_level[l < NLEVELS ? l : NLEVELS - 1]++;
    if (l < RGC_MAX_LEVELS && rgc_busy_depth(&g_heap) != 0)
        fail("a level-%u interrupt body finds rgc_busy_depth %u at entry", l, rgc_busy_depth(&g_heap));
    check_all("interrupt entry");
    rd r = {b->p, b->p + b->n};
    run_program(&r, b->depth, MAX_BODY_OPS);
    check_all("interrupt exit");
    LOG("<- body at level %u", l);
    g_nested_misuse = saved + (misuse_now() - m0);
}

/* Arm the pending injection (if any) around the op's one core call. */
static void call_begin(octx *c)
{
    if (c->inj)
        fuzz_arm(c->inj_n, c->inj_to, body_fn, &c->inj_body);
}
static bool call_end(octx *c)
{
    if (!c->inj)
        return false;
    c->inj = 0;
    return fuzz_disarm() != 0;
}

static size_t dec_size(rd *r)
{
    unsigned k = u8(r);
    size_t total = total_bytes();
    switch (k % 16) {
    case 0: return 0;
    case 1: return 1;
    case 2: return W - 1;
    case 3: return W;
    case 4: return B - 1;
    case 5: return B;
    case 6: return B + 1;
    case 7: return 2 * B + (u8(r) % B);
    case 8: return 1 + u8(r);
    case 9: return 1 + u16(r) % 2048;
    case 10: return 1 + u16(r) % 8192;
    case 11: return total;
    case 12: return total + 1 + u8(r);
    case 13: return SIZE_MAX;
    case 14: return SIZE_MAX - B + 2;
    default: return total / 2 + 1;
    }
}

/* A tracked object nested code may use (not pinned); -1 if none. need_slots: with >= 1 pointer slot. */
static int pick_obj(rd *r, bool need_slots)
{
    static int ids[MAXOBJ];
    int n = 0;
    unsigned sel = u8(r);
    for (int i = 0; i < MAXOBJ; i++)
        if (g_obj[i].live && !g_obj[i].pin && (!need_slots || g_obj[i].nslots > 0))
            ids[n++] = i;
    return n == 0 ? -1 : ids[sel % (unsigned)n];
}

/* rgc_write of the handle slot s (an auxiliary call: no injection). */
static void root_store(unsigned s, ref v, const char *what)
{
    acct a = acct_begin();
    g_slot_pin[s]++;
    rgc_write(&g_heap, &g_roots[s], v.raw);
    g_slot_pin[s]--;
    acct_end(a, 0, what);
    g_root[s] = v;
}

static int expect_alloc_misuse(size_t n, unsigned flags, bool *pure)
{
    unsigned l = fuzz_level();
    *pure = true;
    if (l >= RGC_MAX_LEVELS || n == 0 || (flags & ~(unsigned)RGC_FINALISER) != 0)
        return 1;
    if (n > total_bytes()) {
        *pure = false; /* an interrupt may add an area */
        return 1;
    }
    *pure = false; /* depends on the policy, which nested code may change */
    return (atomic_load(&core_of(&g_heap)->policy[l]) & RGC_NO_ALLOC) ? 1 : 0;
}

static void false_oom_check(size_t n, const char *what)
{
    unsigned l = fuzz_level();
    size_t nb = (n + B - 1) / B;
    size_t shared = atomic_load(&core_of(&g_heap)->limit[0]), mine = atomic_load(&core_of(&g_heap)->limit[l]);
    if (free_run(nb, 0, shared) || (mine > shared && free_run(nb, shared, mine)))
        fail("%s(%zu) at level %u returned NULL although a free run of %zu blocks exists below the "
             "level's limit (shared limit %zu, level limit %zu)",
             what, n, l, nb, shared, mine);
}

static void op_alloc(octx *c)
{
    unsigned s = u8(c->r) % NH;
    size_t n = dec_size(c->r);
    unsigned fl = u8(c->r);
    unsigned flags = (fl & 1u) ? (unsigned)RGC_FINALISER : 0u;
    if (fl & 0x80u)
        flags |= 1u << (1u + (fl >> 1) % 31u);
    unsigned nslots = (fl >> 1) & 7u;
    if (nslots > MAXSLOT)
        nslots = MAXSLOT;
    if (g_slot_pin[s])
        return;
    bool pure;
    int expect = expect_alloc_misuse(n, flags, &pure);
    unsigned l = fuzz_level();
    uint64_t seq = ++g_seq;
    LOG("alloc(%zu, 0x%x) -> slot %u", n, flags, s);
    g_slot_pin[s]++;
    acct a = acct_begin();
    call_begin(c);
    unsigned char *p = rgc_alloc(&g_heap, n, flags);
    bool fired = call_end(c);
    acct_end(a, fired && !pure ? -1 : expect, "rgc_alloc");
    g_slot_pin[s]--;
    LOG("  = %p%s", (void *)p, fired ? " (interrupted)" : "");
    if (p == NULL) {
        if (c->depth == 0 && !fired && expect == 0 && lock_now() == 0)
            false_oom_check(n, "rgc_alloc");
        return;
    }
    if (expect == 1 && pure)
        fail("rgc_alloc(%zu, 0x%x) at level %u is bad input but returned %p", n, flags, l, (void *)p);
    size_t nb = (n + B - 1) / B;
    /* An interrupt between the call's last step (its context left: nothing is in progress) and its
     * return may free the new object through a stale pointer to the same block - a program's bug
     * (the ABA of a stale pointer), which rgc cannot tell from a free of a live object. */
    if (fired && hit_since(p, seq) && rgc_size(&g_heap, p) == 0) {
        LOG("  (freed by a stale free from an interrupt after the call's context ended: left untracked)");
        g_fin_exact = false;
        return;
    }
    check_new(p, nb, 0, "rgc_alloc");
    if (inflight(p)) { /* an outer op's target address: the outer op will act on it */
        LOG("  (address in flight below: left untracked)");
        g_fin_exact = false;
        return;
    }
    int id = obj_new(p, n < 65536 ? n : 65536, nslots, flags);
    if (id < 0) {
        g_fin_exact = false; /* model full: dropped untracked */
        return;
    }
    if (flags & RGC_FINALISER)
        fin_add(p, hit_since(p, seq) ? FIN_UNCERTAIN : FIN_OWED);
    pin(id);
    root_store(s, ref_to(id), "rgc_write (store new object)");
    unpin(id);
}

static void op_free(octx *c)
{
    int id = pick_obj(c->r, false);
    unsigned mode = u8(c->r);
    if (id < 0) {
        LOG("free(NULL)");
        acct a = acct_begin();
        call_begin(c);
        rgc_free(&g_heap, NULL);
        call_end(c);
        acct_end(a, -1, "rgc_free(NULL)"); /* 0 itself; -1 lets an injection (never fires) pass */
        return;
    }
    fobj *o = &g_obj[id];
    unsigned char *p = o->p;
    if (bad_level()) { /* refused: the object stays */
        LOG("free(#%d %p) at a bad level", id, (void *)p);
        pin(id);
        acct a = acct_begin();
        call_begin(c);
        rgc_free(&g_heap, p);
        call_end(c);
        acct_end(a, 1, "rgc_free at a level >= RGC_MAX_LEVELS");
        unpin(id);
        return;
    }
    LOG("free(#%d %p)%s", id, (void *)p, (mode & 1) ? " after dropping its handles" : "");
    if (mode & 1) {
        for (unsigned s = 0; s < NH; s++)
            if (!g_slot_pin[s] && ref_ok(g_root[s]) && g_root[s].id == id)
                root_store(s, ref_raw(NULL), "rgc_write (drop before free)");
    }
    untrack(id);
    fin_remove(p);
    reach();
    inflight_push(p);
    acct a = acct_begin();
    call_begin(c);
    rgc_free(&g_heap, p);
    call_end(c);
    acct_end(a, 0, "rgc_free of a live object");
    inflight_pop();
    stale_add(p);
}

/* A pointer that is not the start of a live object, for misuse: returns it, and its expected misuse
 * (1, 0 for the start of an untracked object, -1 unknown), or false if nothing fits. */
static bool bad_pointer(rd *r, void **out, int *expect, int *pinned_id, const char **kind)
{
    unsigned k = u8(r) % 8u;
    *pinned_id = -1;
    *expect = 1;
    switch (k) {
    case 0: *out = g_foreign + (u8(r) % 8u) * W; *kind = "foreign"; return true;
    case 1: { /* interior of a live object */
        int id = pick_obj(r, false);
        if (id < 0)
            return false;
        size_t off = 1 + u8(r) % (g_obj[id].size - 1 ? g_obj[id].size - 1 : 1);
        if (off >= g_obj[id].size)
            return false;
        *out = g_obj[id].p + off;
        *pinned_id = id;
        *kind = "interior";
        return true;
    }
    case 2:
    case 3: { /* stale: freed, dropped or moved-from */
        if (g_nstale == 0)
            return false;
        unsigned n = g_nstale < MAXSTALE ? g_nstale : MAXSTALE;
        void *p = g_stale[u8(r) % n];
        if (tracked_at(p) >= 0 || inflight(p))
            return false; /* reused by a live object: that would be a real operation on it */
        *out = p;
        *expect = rgc_size(&g_heap, p) == 0 ? 1 : 0;
        *kind = "stale";
        return true;
    }
    case 4: *out = core_of(&g_heap)->areas[0].atb; *kind = "table"; return true;
    case 5: { /* one past the last pool */
        const struct rgc_area *a = &core_of(&g_heap)->areas[atomic_load(&core_of(&g_heap)->nareas) - 1u];
        *out = a->pool + a->nblocks * B;
        *kind = "past the pool";
        return true;
    }
    case 6: { /* misaligned, inside a pool */
        const struct rgc_area *a = &core_of(&g_heap)->areas[u8(r) % atomic_load(&core_of(&g_heap)->nareas)];
        *out = a->pool + (u16(r) % a->nblocks) * B + 1 + u8(r) % (B - 1);
        *kind = "misaligned";
        return true;
    }
    default: *out = g_scratch; *kind = "global"; return true;
    }
}

static void op_free_bad(octx *c)
{
    void *p;
    int expect, pid;
    const char *kind;
    if (!bad_pointer(c->r, &p, &expect, &pid, &kind))
        return;
    if (bad_level())
        expect = 1;
    bool live_target = expect == 0;
    LOG("free(%s %p)%s", kind, p, live_target ? " (an untracked object)" : "");
    if (pid >= 0)
        pin(pid);
    inflight_push(p);
    acct a = acct_begin();
    call_begin(c);
    rgc_free(&g_heap, p);
    bool fired = call_end(c);
    acct_end(a, fired && pid < 0 ? -1 : expect, "rgc_free of a bad pointer");
    inflight_pop();
    if (pid >= 0)
        unpin(pid);
    if (live_target || fired) {
        hit_note(p);
        fin_remove(p); /* an explicit free clears the finaliser bit */
    }
}

static void op_realloc(octx *c)
{
    int id = pick_obj(c->r, false);
    size_t n = dec_size(c->r);
    unsigned mode = u8(c->r);
    bool move = mode & 1u;
    if (id < 0)
        return;
    fobj *o = &g_obj[id];
    unsigned char *p = o->p;
    size_t old_size = o->size;
    if (bad_level()) {
        LOG("realloc(#%d %p, %zu) at a bad level", id, (void *)p, n);
        pin(id);
        acct a = acct_begin();
        call_begin(c);
        void *q = rgc_realloc(&g_heap, p, n, move);
        call_end(c);
        acct_end(a, 1, "rgc_realloc at a level >= RGC_MAX_LEVELS");
        unpin(id);
        if (q != NULL)
            fail("rgc_realloc at level %u returned %p", fuzz_level(), q);
        return;
    }
    if (n == 0) { /* documented as rgc_free */
        LOG("realloc(#%d %p, 0) = free", id, (void *)p);
        untrack(id);
        fin_remove(p);
        reach();
        inflight_push(p);
        acct a = acct_begin();
        call_begin(c);
        void *q = rgc_realloc(&g_heap, p, 0, move);
        call_end(c);
        acct_end(a, 0, "rgc_realloc(p, 0)");
        inflight_pop();
        stale_add(p);
        if (q != NULL)
            fail("rgc_realloc(%p, 0) returned %p, expected NULL", (void *)p, q);
        return;
    }
    bool too_big = n > total_bytes();
    int expect = too_big ? 1 : ((atomic_load(&core_of(&g_heap)->policy[fuzz_level()]) & RGC_NO_ALLOC) ? 1 : 0);
    /* The bytes the test relies on after the call: the slots and canary the new size keeps. Slots cut
     * off are cleared through the barrier first (the program drops those references), then their bytes
     * become canary. */
    if (!too_big) {
        if (n < o->req)
            o->req = n;
        if (o->nslots * W > o->req) {
            unsigned keep = (unsigned)(o->req / W);
            if (mode & 2u) { /* the program clears the slots it cuts off first */
                pin(id);
                for (unsigned k = keep; k < o->nslots; k++) {
                    if (o->slot[k].raw != NULL) {
                        acct a = acct_begin();
                        rgc_write(&g_heap, (void **)(void *)o->p + k, NULL);
                        acct_end(a, 0, "rgc_write (clear a slot before shrinking)");
                        o->slot[k] = ref_raw(NULL);
                    }
                }
                unpin(id);
                o->nslots = keep;
                fill_canary(o, keep * W);
            } else { /* it just truncates: the cut-off words keep their pointers (unchecked) */
                o->dirty_lo = keep * W;
                o->dirty_hi = o->nslots * W;
                for (unsigned k = keep; k < o->nslots; k++)
                    o->slot[k] = ref_raw(NULL);
                o->nslots = keep;
                o->req = keep * W;
            }
            reach();
        }
    }
    /* The handles that hold the object: a moved object is stored back into them (p = realloc(p)). */
    unsigned held[NH], nheld = 0;
    for (unsigned s = 0; s < NH; s++)
        if (ref_ok(g_root[s]) && g_root[s].id == id)
            held[nheld++] = s;
    LOG("realloc(#%d %p size %zu, %zu, %s)", id, (void *)p, old_size, n, move ? "move" : "in place");
    pin(id);
    inflight_push(p);
    acct a = acct_begin();
    call_begin(c);
    unsigned char *q = rgc_realloc(&g_heap, p, n, move);
    bool fired = call_end(c);
    acct_end(a, fired ? -1 : expect, "rgc_realloc");
    inflight_pop();
    unpin(id);
    LOG("  = %p%s", (void *)q, fired ? " (interrupted)" : "");
    size_t nb = (n + B - 1) / B;
    if (q == NULL) {
        size_t sz = rgc_size(&g_heap, p);
        if (sz != old_size)
            fail("rgc_realloc(%p, %zu) returned NULL but the object's size changed %zu -> %zu", (void *)p, n,
                 old_size, sz);
        if (nb * B <= old_size && expect == 0 && !fired)
            fail("rgc_realloc(%p, %zu) shrinking returned NULL", (void *)p, n);
        return;
    }
    if (expect == 1 && !fired)
        fail("rgc_realloc(%p, %zu) is bad input (expected NULL) but returned %p", (void *)p, n, (void *)q);
    if (nb * B <= old_size && q != p)
        fail("rgc_realloc(%p, %zu) shrinking moved the object to %p", (void *)p, n, (void *)q);
    if (q == p) {
        size_t sz = rgc_size(&g_heap, p);
        if (nb * B <= old_size) {
            if (sz != nb * B && sz != old_size)
                fail("rgc_realloc(%p) shrinking %zu -> %zu bytes in place: rgc_size %zu", (void *)p, old_size,
                     n, sz);
        } else {
            if (sz != nb * B)
                fail("rgc_realloc(%p) growing %zu -> %zu in place: rgc_size %zu", (void *)p, old_size, n, sz);
            for (size_t i = old_size; i < sz; i++)
                if (p[i] != 0)
                    fail("rgc_realloc(%p) grew in place: new byte %zu is 0x%02x, not zeroed", (void *)p, i,
                         p[i]);
            size_t blk = block_of_start(core_of(&g_heap), p);
            if (blk + nb > atomic_load(&core_of(&g_heap)->limit[fuzz_level()]))
                fail("rgc_realloc(%p) grew in place beyond the level's limit", (void *)p);
        }
        o->size = sz;
    } else {
        if (!move)
            fail("rgc_realloc(%p, %zu, allow_move=false) moved the object to %p", (void *)p, n, (void *)q);
        check_new(q, nb, old_size, "rgc_realloc (moved)");
        o->p = q;
        o->size = nb * B;
        o->gen++; /* references to the old address are stale now */
        for (unsigned i = 0; i < nheld; i++)
            g_root[held[i]] = ref_raw(g_root[held[i]].raw); /* until stored back below */
        stale_add(p);
        fin_move(p, q);
        if (inflight(q)) {
            LOG("  (new address in flight below: object left untracked)");
            g_fin_exact = false;
            untrack(id);
            return;
        }
    }
    /* grown: extend the canary over the new bytes */
    size_t want = n < 65536 ? n : 65536;
    if (want > o->req && want <= o->size) {
        size_t from = o->req;
        o->req = want;
        fill_canary(o, from);
    }
    if (q != p) {
        pin(id);
        for (unsigned i = 0; i < nheld; i++)
            if (!g_slot_pin[held[i]])
                root_store(held[i], ref_to(id), "rgc_write (store moved object)");
        unpin(id);
    }
}

static void op_realloc_bad(octx *c)
{
    unsigned kind = u8(c->r) % 4u;
    unsigned move = u8(c->r) & 1u;
    if (kind == 0) { /* SIZE_MAX (or beyond the heap) on a live object: NULL, untouched */
        int id = pick_obj(c->r, false);
        if (id < 0)
            return;
        size_t n = (u8(c->r) & 1u) ? SIZE_MAX : total_bytes() + 1;
        fobj *o = &g_obj[id];
        LOG("realloc(#%d %p, %zu)", id, (void *)o->p, n);
        pin(id);
        acct a = acct_begin();
        call_begin(c);
        void *q = rgc_realloc(&g_heap, o->p, n, move);
        bool fired = call_end(c);
        acct_end(a, fired && n != SIZE_MAX ? -1 : 1, "rgc_realloc to more than the heap");
        unpin(id);
        if (q != NULL && !fired)
            fail("rgc_realloc(%p, %zu) returned %p", (void *)o->p, n, q);
        if (q != NULL) { /* an interrupt added an area: a real resize after all; leave the model */
            untrack(id);
            g_fin_exact = false;
        }
        return;
    }
    if (kind == 1) { /* NULL pointer: rgc_alloc(n, 0); the result is dropped */
        size_t n = dec_size(c->r);
        bool pure;
        int expect = expect_alloc_misuse(n, 0, &pure);
        LOG("realloc(NULL, %zu)", n);
        acct a = acct_begin();
        call_begin(c);
        unsigned char *q = rgc_realloc(&g_heap, NULL, n, move);
        bool fired = call_end(c);
        acct_end(a, fired && !pure ? -1 : expect, "rgc_realloc(NULL, n)");
        if (q != NULL) {
            if (expect == 1 && pure)
                fail("rgc_realloc(NULL, %zu) is bad input but returned %p", n, (void *)q);
            check_new(q, (n + B - 1) / B, 0, "rgc_realloc(NULL, n)");
            stale_add(q);
        }
        return;
    }
    void *p;
    int expect, pid;
    const char *what;
    if (!bad_pointer(c->r, &p, &expect, &pid, &what))
        return;
    size_t n = 1 + u8(c->r) * (kind == 2 ? 1u : (unsigned)B);
    if (bad_level() || n > total_bytes() || (atomic_load(&core_of(&g_heap)->policy[fuzz_level()]) & RGC_NO_ALLOC))
        expect = 1;
    bool live_target = expect == 0;
    LOG("realloc(%s %p, %zu)", what, p, n);
    if (pid >= 0)
        pin(pid);
    inflight_push(p);
    acct a = acct_begin();
    call_begin(c);
    unsigned char *q = rgc_realloc(&g_heap, p, n, move);
    bool fired = call_end(c);
    acct_end(a, fired ? -1 : expect, "rgc_realloc of a bad pointer");
    inflight_pop();
    if (pid >= 0)
        unpin(pid);
    if (live_target || fired) {
        hit_note(p);
        if (q != NULL && q != p) {
            fin_move(p, q);
            stale_add(q);
        }
    }
    if (q != NULL && !live_target && !fired)
        fail("rgc_realloc of a %s pointer %p returned %p", what, p, (void *)q);
}

static void op_drop(octx *c)
{
    unsigned s = u8(c->r) % NH;
    if (g_slot_pin[s] || bad_level())
        return;
    LOG("drop slot %u (%p)", s, g_roots[s]);
    if (g_roots[s] != NULL && tracked_at(g_roots[s]) < 0)
        stale_add(g_roots[s]);
    else if (g_roots[s] != NULL)
        stale_add(g_roots[s]); /* may die now */
    g_slot_pin[s]++;
    acct a = acct_begin();
    call_begin(c);
    rgc_write(&g_heap, &g_roots[s], NULL);
    call_end(c);
    acct_end(a, 0, "rgc_write NULL");
    g_slot_pin[s]--;
    g_root[s] = ref_raw(NULL);
}

static void op_move(octx *c, bool swap)
{
    unsigned from = u8(c->r) % NH, to = u8(c->r) % NH;
    if (g_slot_pin[from] || g_slot_pin[to] || bad_level())
        return;
    ref v = g_root[from];
    int id = ref_ok(v) ? v.id : -1;
    LOG("%s slot %u (%p) -> slot %u (%p)", swap ? "swap" : "copy", from, v.raw, to, g_roots[to]);
    void *old_expected = g_roots[to];
    g_slot_pin[from]++;
    g_slot_pin[to]++;
    if (id >= 0)
        pin(id);
    acct a = acct_begin();
    call_begin(c);
    void *old = NULL;
    if (swap)
        old = rgc_swap(&g_heap, &g_roots[to], v.raw);
    else
        rgc_write(&g_heap, &g_roots[to], v.raw);
    call_end(c);
    acct_end(a, 0, swap ? "rgc_swap" : "rgc_write");
    if (id >= 0)
        unpin(id);
    g_slot_pin[from]--;
    g_slot_pin[to]--;
    if (swap && old != old_expected)
        fail("rgc_swap returned %p, the slot held %p", old, old_expected);
    ref prev = g_root[to];
    g_root[to] = v;
    if (swap) { /* the old value goes to the source slot (a second, plain-rgc_write store) */
        if (!g_slot_pin[from]) {
            if (ref_ok(prev))
                pin(prev.id);
            root_store(from, prev, "rgc_write (swap back)");
            if (ref_ok(prev))
                unpin(prev.id);
        }
    }
}

static void op_link(octx *c)
{
    int a_id = pick_obj(c->r, true);
    unsigned k = u8(c->r), mode = u8(c->r) % 7u;
    bool inline_barrier = (k & 0x80u) != 0; /* a plain write takes rgc.h's inline form instead */
    if (a_id < 0 || bad_level())
        return;
    fobj *A = &g_obj[a_id];
    k %= A->nslots;
    if (mode == 6) { /* fetch: copy the slot's pointer into a handle (insertion only: no barrier needed) */
        unsigned to = u8(c->r) % NH;
        if (g_slot_pin[to])
            return;
        LOG("fetch #%d.%u (%p) -> slot %u", a_id, k, A->slot[k].raw, to);
        ref v = A->slot[k];
        pin(a_id);
        acct a = acct_begin();
        call_begin(c);
        g_slot_pin[to]++;
        rgc_write(&g_heap, &g_roots[to], ((void **)(void *)A->p)[k]);
        g_slot_pin[to]--;
        call_end(c);
        acct_end(a, 0, "rgc_write (fetch into a handle)");
        unpin(a_id);
        g_root[to] = v;
        return;
    }
    ref v = ref_raw(NULL);
    if (mode <= 1) {
        int b_id = pick_obj(c->r, false);
        if (b_id >= 0)
            v = ref_to(b_id);
    } else if (mode == 2) {
        v = ref_to(a_id); /* a cycle of one */
    } else if (mode == 3 && g_nstale > 0) {
        void *p = g_stale[u8(c->r) % (g_nstale < MAXSTALE ? g_nstale : MAXSTALE)];
        int t = tracked_at(p);
        v = t >= 0 ? ref_to(t) : ref_raw(p); /* a dangling (conservative) reference */
    }
    bool swap = (u8(c->r) & 1u) || mode == 5;
    unsigned take_to = mode == 5 ? u8(c->r) % NH : 0; /* take the old value out, keep it in this handle */
    LOG("%s #%d.%u (%p) = %p%s", mode == 5 ? "take" : "link", a_id, k, A->slot[k].raw, v.raw,
        swap ? " (swap)" : "");
    ref taken = A->slot[k];
    void *old_expected = A->slot[k].raw;
    pin(a_id);
    if (ref_ok(v))
        pin(v.id);
    acct a = acct_begin();
    call_begin(c);
    void *old = NULL;
    void **slot = (void **)(void *)A->p + k;
    if (swap) {
        old = rgc_swap(&g_heap, slot, v.raw);
    } else if (inline_barrier) {
        /* rgc_marking + rgc_shade, as a runtime inlines it (MicroPython's MP_GC_WRITE) */
        void *prev = atomic_exchange((_Atomic(void *) *)(void *)slot, v.raw);
        if (rgc_marking(&g_heap))
            rgc_shade(&g_heap, prev);
    } else {
        rgc_write(&g_heap, slot, v.raw);
    }
    call_end(c);
    acct_end(a, 0, inline_barrier && !swap ? "rgc_shade (inline barrier)" : "rgc_write into an object");
    if (ref_ok(v))
        unpin(v.id);
    unpin(a_id);
    if (swap && old != old_expected)
        fail("rgc_swap on object #%d slot %u returned %p, the slot held %p", a_id, k, old, old_expected);
    A->slot[k] = v;
    /* Ownership hand-over (rgc.h: the swapper owns what it took): root it. Nothing but the value
     * rgc_swap returned referred to it in between (no pin: that is what is being tested). */
    if (mode == 5 && !g_slot_pin[take_to]) {
        bool live = ref_ok(taken);
        if (live)
            pin(taken.id);
        root_store(take_to, live ? taken : ref_raw(old), "rgc_write (keep what rgc_swap took)");
        if (live)
            unpin(taken.id);
    }
}

/* Is an rgc call suspended below the caller (a lower level inside rgc, or an outer call at its own
 * level)? Then a collection in progress must not move (rgc.h, step-wise collection). */
static bool below_busy(void)
{
    unsigned l = fuzz_level();
    for (unsigned k = 0; k <= l && k < RGC_MAX_LEVELS; k++)
        if (atomic_load(&core_of(&g_heap)->depth[k]) != 0)
            return true;
    return false;
}

/* What a collection request does to the phase (as rgc.h describes): runs a collection to its end in
 * the call, may leave one paused, or only marks (roots). */
enum { RUNS_TO_END, LEAVES_PAUSED, MARKS_ONLY };

/* Return code of a collection request made now at this level (opener: may continue a collection
 * its level opened with rgc_collect_start). */
static int expect_rc(bool opener, int how)
{
    unsigned l = fuzz_level();
    if (lock_now() != 0)
        return RGC_LOCKED;
    if (atomic_load(&core_of(&g_heap)->collector) != 0)
        return RGC_BUSY;
    unsigned owner = atomic_load(&core_of(&g_heap)->roots_owner);
    if (owner != 0 && !(opener && owner == l + 1u))
        return RGC_BUSY;
    if (how != MARKS_ONLY && (phase_now() != PHASE_IDLE || how == LEAVES_PAUSED) && below_busy())
        return RGC_BUSY;
    return RGC_OK;
}

enum { C_FULL, C_STEP, C_START, C_FINISH, C_SWEEP_ALL };
static const char *const c_names[] = {"rgc_collect", "rgc_collect_step", "rgc_collect_start",
                                      "rgc_collect_finish", "rgc_sweep_all"};

static void op_collect(octx *c, int how)
{
    size_t budget = 0;
    if (how == C_STEP) {
        unsigned k = u8(c->r);
        budget = k < 200 ? k : (size_t)(k - 199) * 64u;
    }
    bool bad = bad_level();
    int want = bad ? RGC_EINVAL
                   : expect_rc(how == C_STEP || how == C_FINISH,
                               how == C_STEP || how == C_START ? LEAVES_PAUSED : RUNS_TO_END);
    if (!bad && want == RGC_OK && how == C_START && phase_now() != PHASE_IDLE)
        want = RGC_BUSY;
    unsigned l = fuzz_level();
    LOG("%s(%zu) expecting %d (phase %u, collector %u, roots owner %u, lock %u)", c_names[how], budget, want,
        phase_now(), atomic_load(&core_of(&g_heap)->collector), atomic_load(&core_of(&g_heap)->roots_owner), lock_now());
    if (how == C_SWEEP_ALL) {
        /* Everything goes but what operations in flight hold: an interrupt during the call must not
         * rely on any other object. */
        g_sweep_all_depth++;
        if (want == RGC_OK)
            for (int i = 0; i < MAXOBJ; i++)
                if (g_obj[i].live && !g_obj[i].pin)
                    untrack(i);
        reach();
    }
    unsigned fin_allocs0 = g_fin_allocs;
    acct a = acct_begin();
    call_begin(c);
    int r;
    switch (how) {
    case C_FULL: r = rgc_collect(&g_heap); break;
    case C_STEP: r = rgc_collect_step(&g_heap, budget); break;
    case C_START: r = rgc_collect_start(&g_heap); break;
    case C_FINISH: r = rgc_collect_finish(&g_heap); break;
    default: r = rgc_sweep_all(&g_heap); break;
    }
    bool fired = call_end(c);
    acct_end(a, bad ? 1 : 0, c_names[how]);
    if (how == C_SWEEP_ALL)
        g_sweep_all_depth--;
    LOG("  = %d%s", r, fired ? " (interrupted)" : "");
    if (!bad && l < 32)
        g_levels_used |= 1u << l;
    bool ok_rc = how == C_STEP ? (r == 0 || r == 1) : r == RGC_OK;
    if (!fired || bad) {
        if (want == RGC_OK ? !ok_rc : r != want)
            fail("%s(%zu) at level %u returned %d, expected %s%d", c_names[how], budget, l, r,
                 want == RGC_OK ? "success, " : "", want);
    } else if (!ok_rc && r != RGC_BUSY && r != RGC_LOCKED) {
        fail("%s at level %u returned %d", c_names[how], l, r);
    }
    if (!ok_rc)
        return;
    unsigned ph = phase_now(), owner = atomic_load(&core_of(&g_heap)->roots_owner);
    if (fired) /* what an interrupt did after the collection let go of its role is its own */
        ph = PHASE_BITS;
    if (ph == PHASE_BITS) {
        /* no post-conditions */
    } else if ((how == C_FULL || how == C_FINISH || how == C_SWEEP_ALL || (how == C_STEP && r == 0)) &&
               (ph != PHASE_IDLE || owner != 0))
        fail("%s returned %d but the phase is %u and roots are open for %u", c_names[how], r, ph, owner);
    else if (how == C_STEP && r == 1 && ph == PHASE_IDLE)
        fail("rgc_collect_step returned 1 (in progress) but the phase is idle");
    else if (how == C_START && (ph != PHASE_MARK || owner != l + 1u))
        fail("rgc_collect_start returned OK but phase %u, roots owner %u", ph, owner);
    if (how == C_SWEEP_ALL) {
        /* Everything is gone but what operations in flight hold (and what interrupts allocated during
         * the call); clear the table. */
        for (int i = 0; i < MAXOBJ; i++)
            if (g_obj[i].live && !g_obj[i].pin)
                untrack(i);
        for (unsigned s = 0; s < NH; s++)
            if (!g_slot_pin[s] && g_roots[s] != NULL)
                root_store(s, ref_raw(NULL), "rgc_write (clear after sweep_all)");
        if (c->depth == 0 && !fired) {
            /* Survivors: only objects named by in-progress slots (stale ones included) and what they
             * reach, and what finalisers allocated during the sweep. With no slot published: none. */
            size_t slots = 0;
            for (unsigned lv = 0; lv < RGC_MAX_LEVELS; lv++)
                for (unsigned d = 0; d < RGC_MAX_NEST; d++)
                    slots += atomic_load(&core_of(&g_heap)->in_progress[lv][d]) != 0;
            rgc_stats st;
            rgc_get_stats(&g_heap, &st);
            if (slots == 0 && st.objects > g_fin_allocs - fin_allocs0)
                fail("rgc_sweep_all left %zu objects (no in-progress slot, %u finaliser allocations)", st.objects,
                     g_fin_allocs - fin_allocs0);
        }
    }
}

static void op_roots(octx *c)
{
    unsigned raw = u8(c->r), kind = raw % 6u;
    bool deep = (raw / 6u) & 1u; /* rgc_collect_roots_deep: the same contract, more marked at once */
    void *local[8];
    void *const *words = NULL;
    size_t n = 0;
    int pid = -1;
    switch (kind) {
    case 0: {
        unsigned i = u8(c->r) % NH;
        words = &g_roots[i];
        n = u8(c->r) % (NH - i + 1);
        break;
    }
    case 1:
        for (unsigned i = 0; i < 8; i++)
            local[i] = g_roots[u8(c->r) % NH];
        words = local;
        n = 8;
        break;
    case 2: words = NULL; n = u8(c->r); break;
    case 3: words = (void *const *)(void *)((char *)g_roots + 1 + u8(c->r) % (W - 1)); n = 1; break;
    case 4:
        pid = pick_obj(c->r, false);
        if (pid < 0)
            return;
        words = (void *const *)(void *)g_obj[pid].p;
        n = g_obj[pid].size / W;
        break;
    default: words = (void *const *)g_xroots; n = NX; break;
    }
    bool bad = bad_level() || words == NULL || ((uintptr_t)words % W) != 0 ||
               atomic_load(&core_of(&g_heap)->roots_owner) != fuzz_level() + 1u;
    int want = bad ? RGC_EINVAL : expect_rc(true, MARKS_ONLY);
    LOG("collect_roots%s(%p, %zu) expecting %d", deep ? "_deep" : "", (const void *)words, n, want);
    if (pid >= 0)
        pin(pid);
    acct a = acct_begin();
    call_begin(c);
    int r = deep ? rgc_collect_roots_deep(&g_heap, words, n) : rgc_collect_roots(&g_heap, words, n);
    bool fired = call_end(c);
    acct_end(a, fired && !bad_level() && words != NULL && ((uintptr_t)words % W) == 0 ? -1 : (bad ? 1 : 0),
             "rgc_collect_roots");
    if (pid >= 0)
        unpin(pid);
    (void)local;
    if (!fired && r != want)
        fail("rgc_collect_roots returned %d, expected %d", r, want);
    if (r == RGC_EINVAL && !bad && !fired)
        fail("rgc_collect_roots: RGC_EINVAL for good input");
}

static void op_lock(octx *c, bool lock)
{
    bool bad = bad_level();
    int expect = bad ? 1 : (lock ? 0 : (lock_now() == 0 ? 1 : 0));
    LOG("%s (depth %u)", lock ? "lock" : "unlock", lock_now());
    unsigned before = lock_now();
    acct a = acct_begin();
    call_begin(c);
    if (lock)
        rgc_lock(&g_heap);
    else
        rgc_unlock(&g_heap);
    bool fired = call_end(c);
    acct_end(a, fired && !bad ? -1 : expect, lock ? "rgc_lock" : "rgc_unlock");
    if (!fired) {
        unsigned after = lock_now(), want = bad ? before : lock ? before + 1 : (before ? before - 1 : 0);
        if (after != want)
            fail("%s: lock depth %u -> %u, expected %u", lock ? "rgc_lock" : "rgc_unlock", before, after, want);
    }
}

static void op_policy(octx *c)
{
    unsigned level = u8(c->r) % (RGC_MAX_LEVELS + 2u), bits = u8(c->r) % 8u;
    int expect = (level >= RGC_MAX_LEVELS || (bits & ~3u) != 0) ? 1 : 0;
    LOG("level_policy(%u, %u)", level, bits);
    acct a = acct_begin();
    call_begin(c);
    rgc_level_policy(&g_heap, level, bits);
    bool fired = call_end(c);
    acct_end(a, expect, "rgc_level_policy");
    if (expect == 0 && !fired && atomic_load(&core_of(&g_heap)->policy[level]) != bits)
        fail("rgc_level_policy(%u, %u) did not take", level, bits);
}

static void op_setting(octx *c, bool pacing)
{
    unsigned k = u8(c->r);
    if (pacing) {
        unsigned v = k < 240 ? k % 9u : 1000u * (k - 239);
        LOG("set_pacing(%u)", v);
        call_begin(c);
        rgc_set_pacing(&g_heap, v);
        call_end(c);
    } else {
        size_t v = k < 64 ? 0 : k < 128 ? (size_t)(k - 63) * B : k < 250 ? (size_t)u16(c->r) : SIZE_MAX;
        LOG("set_threshold(%zu)", v);
        call_begin(c);
        rgc_set_threshold(&g_heap, v);
        call_end(c);
    }
}

static void op_reserve(octx *c)
{
    unsigned level = u8(c->r) % (RGC_MAX_LEVELS + 2u);
    unsigned k = u8(c->r);
    size_t bytes = k < 200 ? (size_t)k * (B / 2) : k < 250 ? (size_t)u16(c->r) : SIZE_MAX - k;
    const struct rgc_area *last = &core_of(&g_heap)->areas[atomic_load(&core_of(&g_heap)->nareas) - 1u];
    size_t blocks = bytes / B + (bytes % B != 0), others = 0;
    bool bad = level == 0 || level >= RGC_MAX_LEVELS;
    if (!bad) {
        for (unsigned l = 1; l < RGC_MAX_LEVELS; l++)
            others += l == level ? 0 : core_of(&g_heap)->reserve_blocks[l];
        bad = blocks > last->nblocks || others + blocks >= last->nblocks;
    }
    /* rgc_reserve and rgc_add_area run one at a time: preempting one gets RGC_BUSY; so does a reserve
     * for a valid level above a suspended rgc call (an allocation there searches under the old limits) */
    bool busy = atomic_load(&core_of(&g_heap)->config_busy) != 0 ||
                (level != 0 && level < RGC_MAX_LEVELS && !bad_level() && below_busy());
    int want = bad_level() || (!busy && bad) ? RGC_EINVAL : busy ? RGC_BUSY : RGC_OK;
    LOG("reserve(%u, %zu) expecting %d", level, bytes, want);
    acct a = acct_begin();
    call_begin(c);
    int r = rgc_reserve(&g_heap, level, bytes);
    bool fired = call_end(c);
    uint32_t own = acct_end(a, fired ? -1 : want == RGC_EINVAL ? 1 : 0, "rgc_reserve");
    if ((r == RGC_EINVAL) != (own == 1) || (!fired && r != want))
        fail("rgc_reserve(%u, %zu) returned %d (misuse counted %u), expected %d", level, bytes, r, own, want);
}

static void op_add_root(octx *c)
{
    unsigned kind = u8(c->r) % 7u;
    void *start = NULL;
    size_t bytes = 0;
    switch (kind) {
    case 0: start = g_xroots; bytes = sizeof g_xroots; break;
    case 1: {
        unsigned i = u8(c->r) % NX;
        start = &g_xroots[i];
        bytes = (NX - i) * W;
        break;
    }
    case 2: start = NULL; bytes = W; break;
    case 3: start = (char *)g_xroots + 1 + u8(c->r) % (W - 1); bytes = 2 * W; break;
    case 4: start = g_xroots; bytes = u8(c->r) % W; break;
    case 5: {
        int id = pick_obj(c->r, false);
        if (id < 0)
            return;
        start = g_obj[id].p;
        bytes = g_obj[id].size;
        break;
    }
    default: start = g_roots; bytes = sizeof g_roots; break;
    }
    bool bad = bad_level() || start == NULL || ((uintptr_t)start % W) != 0 || bytes < W;
    unsigned count = atomic_load(&core_of(&g_heap)->root_count);
    bool full = count >= RGC_MAX_ROOTS;
    LOG("add_root(%p, %zu) (%u registered)", start, bytes, count);
    acct a = acct_begin();
    call_begin(c);
    int r = rgc_add_root(&g_heap, start, bytes);
    bool fired = call_end(c);
    uint32_t own = acct_end(a, fired && !bad ? -1 : (bad || full ? 1 : 0), "rgc_add_root");
    if ((r == RGC_EINVAL) != (own == 1) || (r != RGC_OK && r != RGC_EINVAL))
        fail("rgc_add_root returned %d with %u misuse counted", r, own);
    if (!fired && r != (bad || full ? RGC_EINVAL : RGC_OK))
        fail("rgc_add_root(%p, %zu) returned %d", start, bytes, r);
    if (r == RGC_OK && kind == 5)
        g_pool_root = true;
}

static void op_write_bad(octx *c)
{
    unsigned kind = u8(c->r) % 5u;
    void *v = g_nstale ? g_stale[u8(c->r) % (g_nstale < MAXSTALE ? g_nstale : MAXSTALE)] : (void *)g_foreign;
    void **word = &g_scratch[c->depth % 4u]; /* a word of this nesting depth's own */
    void **mis = (void **)(void *)((char *)word + 1 + u8(c->r) % (W - 1));
    LOG("write misuse kind %u", kind);
    void *before = *word;
    acct a = acct_begin();
    call_begin(c);
    void *old = NULL;
    switch (kind) {
    case 0: rgc_write(&g_heap, NULL, v); break;
    case 1: rgc_write(&g_heap, mis, v); break;
    case 2: old = rgc_swap(&g_heap, NULL, v); break;
    case 3: rgc_write(&g_heap, word, v); break;
    default: old = rgc_swap(&g_heap, word, v); break;
    }
    call_end(c);
    acct_end(a, kind <= 2 || bad_level() ? 1 : 0, "rgc_write/rgc_swap misuse");
    if (kind <= 2 && (old != NULL || *word != before))
        fail("rgc_write/rgc_swap to a bad slot stored something or returned %p", old);
    if (kind >= 3 && *word != v)
        fail("rgc_write/rgc_swap into a plain word did not store");
    if (kind == 4 && old != before)
        fail("rgc_swap returned %p, the word held %p", old, before);
}

/* ---- heap map ---- */
static struct {
    char buf[16384];
    size_t len;
    int over;
} g_text;
static void text_print(void *ctx, const char *s)
{
    (void)ctx;
    size_t n = strlen(s);
    if (g_text.len + n >= sizeof g_text.buf) {
        g_text.over = 1;
        return;
    }
    memcpy(g_text.buf + g_text.len, s, n + 1);
    g_text.len += n;
}

static void op_diag(octx *c)
{
    unsigned kind = u8(c->r) % 4u;
    LOG("diagnostics %u", kind);
    unsigned l = fuzz_level();
    if (l < RGC_MAX_LEVELS && c->depth == 0 && rgc_busy_depth(&g_heap) != 0)
        fail("rgc_busy_depth %u between calls", rgc_busy_depth(&g_heap));
    if (kind == 0) { /* the map: areas separated, one character per block, used blocks counted */
        g_text.len = 0;
        g_text.over = 0;
        g_text.buf[0] = 0;
        rgc_dump(&g_heap, text_print, NULL);
        if (g_text.over)
            return;
        rgc_stats st;
        rgc_get_stats(&g_heap, &st);
        size_t blocks = 0, used = 0, seps = 0;
        for (char *line = g_text.buf; *line;) {
            char *nl = strchr(line, '\n');
            if (nl == NULL)
                fail("rgc_dump: line without newline");
            *nl = 0;
            if (strcmp(line, "--") == 0) {
                seps++;
            } else {
                char *m = strstr(line, ": ");
                if (m == NULL || m - line != 8)
                    fail("rgc_dump: malformed line '%s'", line);
                for (m += 2; *m; m++, blocks++) {
                    if (!strchr(".h=mfM", *m))
                        fail("rgc_dump: bad map character '%c'", *m);
                    used += *m != '.';
                }
            }
            line = nl + 1;
        }
        if (blocks != st.blocks || used * B != st.used_bytes || seps + 1 != st.areas)
            fail("rgc_dump shows %zu blocks (%zu used) in %zu areas; stats: %zu blocks, %zu used bytes, %zu "
                 "areas",
                 blocks, used, seps + 1, st.blocks, st.used_bytes, st.areas);
    } else if (kind == 1) { /* rgc_size of things that are not objects */
        int id = pick_obj(c->r, false);
        if (rgc_size(&g_heap, g_foreign) != 0 || rgc_size(&g_heap, NULL) != 0 ||
            (id >= 0 && g_obj[id].size > 1 && rgc_size(&g_heap, g_obj[id].p + 1) != 0))
            fail("rgc_size of a foreign, NULL or interior pointer is not 0");
    } else if (kind == 2) {
        rgc_get_stats(&g_heap, NULL);
        rgc_dump(&g_heap, NULL, NULL);
    } else {
        g_text.len = 0;
        rgc_dump(&g_badheap, text_print, NULL);
        if (strcmp(g_text.buf, "rgc: not an initialised heap\n") != 0)
            fail("rgc_dump of an uninitialised heap printed '%s'", g_text.buf);
    }
}

static void op_xfill(octx *c)
{
    unsigned i = u8(c->r) % NX, kind = u8(c->r) % 4u;
    void *v = NULL;
    int id = pick_obj(c->r, false);
    if (kind == 0 && id >= 0)
        v = g_obj[id].p;
    else if (kind == 1 && id >= 0)
        v = g_obj[id].p + g_obj[id].size / 2;
    else if (kind == 2 && g_nstale)
        v = g_stale[u8(c->r) % (g_nstale < MAXSTALE ? g_nstale : MAXSTALE)];
    LOG("xroots[%u] = %p", i, v);
    g_xroots[i] = v; /* never the only reference to anything tracked: no barrier needed */
}

/* Calls on a heap that was never initialised, and with NULL: errors, nothing stored, nothing counted. */
static void bad_heap_calls(rgc_heap *bh, unsigned which)
{
    rgc_stats st;
    void *v = g_foreign;
    g_scratch[5] = NULL;
    switch (which % 12u) {
    case 0:
        if (rgc_alloc(bh, 16, 0) != NULL || rgc_realloc(bh, NULL, 16, true) != NULL ||
            rgc_realloc(bh, g_foreign, 16, true) != NULL)
            fail("allocation on an uninitialised heap succeeded");
        break;
    case 1: rgc_free(bh, g_foreign); rgc_free(bh, NULL); break;
    case 2:
        if (rgc_collect(bh) != RGC_EINVAL || rgc_collect_step(bh, 1) != RGC_EINVAL ||
            rgc_collect_start(bh) != RGC_EINVAL || rgc_collect_finish(bh) != RGC_EINVAL ||
            rgc_sweep_all(bh) != RGC_EINVAL || rgc_collect_roots(bh, (void *const *)g_xroots, 1) != RGC_EINVAL)
            fail("a collection call on an uninitialised heap did not return RGC_EINVAL");
        break;
    case 3:
        if (rgc_add_root(bh, g_xroots, sizeof g_xroots) != RGC_EINVAL || rgc_reserve(bh, 1, 64) != RGC_EINVAL ||
            rgc_add_area(bh, g_mem + AREA_REGION0, 4096) != RGC_EINVAL)
            fail("rgc_add_root/rgc_reserve/rgc_add_area on an uninitialised heap did not return RGC_EINVAL");
        break;
    case 4:
        rgc_write(bh, &g_scratch[5], v);
        if (g_scratch[5] != v || rgc_swap(bh, &g_scratch[5], NULL) != v || g_scratch[5] != NULL)
            fail("rgc_write/rgc_swap without a heap must still store");
        break;
    case 5:
        rgc_lock(bh);
        rgc_unlock(bh);
        rgc_unlock(bh);
        rgc_set_finaliser(bh, NULL);
        rgc_level_policy(bh, 0, RGC_NO_ALLOC);
        rgc_level_policy(bh, 99, 99);
        rgc_set_pacing(bh, 3);
        rgc_set_threshold(bh, 100);
        break;
    case 6:
        memset(&st, 0xA5, sizeof st);
        rgc_get_stats(bh, &st);
        if (st.total_bytes || st.used_bytes || st.blocks || st.misuse || st.collections || st.areas)
            fail("rgc_get_stats of an uninitialised heap is not all zero");
        break;
    case 7:
        if (rgc_check(bh) != RGC_ECORRUPT || rgc_busy_depth(bh) != 0 || rgc_size(bh, g_foreign) != 0)
            fail("rgc_check/rgc_busy_depth/rgc_size of an uninitialised heap");
        break;
    case 8:
        if (rgc_init(NULL, g_mem, 4096) != RGC_EINVAL)
            fail("rgc_init(NULL heap) did not return RGC_EINVAL");
        break;
    case 9: rgc_dump(bh, NULL, NULL); break;
    case 10:
        if (rgc_alloc(bh, 0, 0) != NULL || rgc_alloc(bh, SIZE_MAX, 7) != NULL)
            fail("rgc_alloc on an uninitialised heap");
        break;
    default:
        if (rgc_collect_roots(bh, NULL, 0) != RGC_EINVAL)
            fail("rgc_collect_roots on an uninitialised heap");
        break;
    }
}

static void op_badheap(octx *c)
{
    unsigned which = u8(c->r), h = u8(c->r) & 1u;
    LOG("bad-heap call %u on %s", which % 12u, h ? "NULL" : "an uninitialised heap");
    uint32_t m0 = misuse_now();
    bad_heap_calls(h ? NULL : &g_badheap, which);
    if (misuse_now() != m0)
        fail("a call on another (bad) heap changed this heap's misuse counter");
}

/* ---- areas ---- */
static bool overlaps_area(const unsigned char *mem, size_t bytes, const struct rgc_area *a)
{
    uintptr_t lo = (uintptr_t)mem, hi = lo + bytes;
    uintptr_t alo = (uintptr_t)a->atb, ahi = (uintptr_t)(a->pool + a->nblocks * B);
    return lo < ahi && alo < hi;
}

static void add_area(rd *r, octx *c)
{
    unsigned mode = u8(r), sz = u16(r);
    unsigned idx = g_area_attempts++ % 4u;
    unsigned char *mem = g_mem + AREA_REGION0 + (size_t)idx * AREA_STRIDE;
    size_t bytes = sz % AREA_MAX;
    bool maybe_small = false;
    switch (mode % 8u) {
    case 4: mem += 1 + mode / 8u % (W - 1); break; /* misaligned */
    case 5: mem = core_of(&g_heap)->areas[0].pool + (mode / 8u) * W; break; /* overlaps the first area */
    case 6: {
        const struct rgc_area *a = &core_of(&g_heap)->areas[atomic_load(&core_of(&g_heap)->nareas) - 1u];
        mem = (unsigned char *)a->atb + (size_t)(mode / 8u) * W; /* overlaps the last area */
        break;
    }
    case 7:
        switch (mode / 8u % 4u) {
        case 0: mem = NULL; break;
        case 1: bytes = 0; break;
        case 2: bytes = SIZE_MAX - 16; break; /* wraps around */
        default: bytes = sz % (3 * B); maybe_small = true; break;
        }
        break;
    default: break;
    }
    unsigned n = atomic_load(&core_of(&g_heap)->nareas);
    bool wraps = mem != NULL && (uintptr_t)mem + bytes < (uintptr_t)mem;
    if (mem != NULL && !wraps && (uintptr_t)mem + bytes > (uintptr_t)(g_mem + MEM_BYTES))
        return; /* would extend past g_mem: never hand rgc memory it may write and we do not own */
    bool bad = n >= RGC_MAX_AREAS || mem == NULL || bytes == 0 || wraps || ((uintptr_t)mem % W) != 0;
    for (unsigned i = 0; i < n && !bad; i++)
        bad = overlaps_area(mem, bytes, &core_of(&g_heap)->areas[i]);
    /* Too small is decided by the carving: below ~2 blocks anything goes, from 4 blocks on it must fit.
     * A call at a bad level is refused; one that preempts another rgc_add_area/rgc_reserve gets
     * RGC_BUSY. */
    bool busy = atomic_load(&core_of(&g_heap)->config_busy) != 0, badlvl = bad_level();
    bool unsure = !bad && !busy && !badlvl && (maybe_small || bytes < 4 * B + 64);
    int want = badlvl || (!busy && bad) ? RGC_EINVAL : busy ? RGC_BUSY : RGC_OK;
    LOG("add_area(%p, %zu) mode %u expecting %d%s", (void *)mem, bytes, mode % 8u, want, unsure ? " (or EINVAL)" : "");
    rgc_stats s0;
    rgc_get_stats(&g_heap, &s0);
    if (FUZZ_AVOID_OPEN_BUGS)
        c->inj = 0; /* open bug: see the top */
    acct a = acct_begin();
    call_begin(c);
    int rc = rgc_add_area(&g_heap, mem, bytes);
    bool fired = call_end(c);
    uint32_t own = acct_end(a, unsure || fired ? -1 : want == RGC_EINVAL ? 1 : 0, "rgc_add_area");
    if ((rc == RGC_EINVAL) != (own == 1) || (rc != RGC_OK && rc != RGC_EINVAL && rc != RGC_BUSY) ||
        (!unsure && !fired && rc != want))
        fail("rgc_add_area(%p, %zu) returned %d (misuse counted %u), expected %d", (void *)mem, bytes, rc, own,
             want);
    if (rc != RGC_OK)
        return;
    /* the new area (a body may have added one before this call began: look it up by its memory) */
    const struct rgc_area *na = NULL;
    for (unsigned i = 1; i < atomic_load(&core_of(&g_heap)->nareas); i++)
        if ((unsigned char *)core_of(&g_heap)->areas[i].atb >= mem && (unsigned char *)core_of(&g_heap)->areas[i].atb < mem + bytes)
            na = &core_of(&g_heap)->areas[i];
    if (na == NULL)
        fail("rgc_add_area(%p, %zu) returned RGC_OK but no area lies in that memory", (void *)mem, bytes);
    n = (unsigned)(na - core_of(&g_heap)->areas);
    if ((unsigned char *)na->atb < mem || na->pool + na->nblocks * B > mem + bytes || (na->first & 63u) != 0 ||
        na->first < area_end(&core_of(&g_heap)->areas[n - 1u]))
        fail("rgc_add_area(%p, %zu): the area's tables/pool [%p, %p) (first block %zu) leave its memory or "
             "follow the previous area badly",
             (void *)mem, bytes, (void *)na->atb, (void *)(na->pool + na->nblocks * B), na->first);
    for (unsigned i = 0; i < n; i++)
        if (overlaps_area((unsigned char *)na->atb, (size_t)(na->pool + na->nblocks * B - (unsigned char *)na->atb),
                          &core_of(&g_heap)->areas[i]))
            fail("rgc_add_area: new area overlaps area %u", i);
    g_area_in[g_nareas].mem = mem;
    g_area_in[g_nareas].bytes = bytes;
    g_nareas++;
    rgc_stats s1;
    rgc_get_stats(&g_heap, &s1);
    if (!fired && (s1.areas != g_nareas || s1.blocks != s0.blocks + na->nblocks ||
                   s1.free_bytes != s0.free_bytes + na->nblocks * B))
        fail("rgc_add_area: stats after adding %zu blocks: areas %zu blocks %zu -> %zu free %zu -> %zu",
             na->nblocks, s1.areas, s0.blocks, s1.blocks, s0.free_bytes, s1.free_bytes);
}

/* ---- finaliser ---- */
static void on_finalise(void *obj)
{
    unsigned l = fuzz_level();
    uint32_t m0 = misuse_now(), saved = g_nested_misuse;
    g_nested_misuse = 0;
    if (l < RGC_MAX_LEVELS && rgc_busy_depth(&g_heap) == 0)
        fail("finaliser for %p runs with rgc_busy_depth 0", obj);
    if (rgc_size(&g_heap, obj) == 0)
        fail("finaliser called for %p, which is not an object", obj);
    int t = tracked_at(obj);
    if (t >= 0 && (g_obj[t].pin || g_sweep_all_depth == 0))
        fail("finaliser called for %p, object #%d, which is reachable%s", obj, t, g_obj[t].pin ? " (in use)" : "");
    if (g_fin_exact && fin_find(obj) < 0)
        fail("finaliser called for %p, which has no finaliser owed (never had one, freed explicitly, or "
             "finalised before)",
             obj);
    fin_remove(obj);
    g_tot.finalisers++;
    LOG("finaliser(%p) mode %u", obj, g_fin_mode);
    if (g_fin_mode == 1) { /* free the object being finalised: it is in use (deferred), not misuse */
        acct a = acct_begin();
        rgc_free(&g_heap, obj);
        acct_end(a, 0, "rgc_free from a finaliser of its object");
    } else if (g_fin_mode == 2) {
        bool pure;
        int expect = expect_alloc_misuse(3 * W, 0, &pure);
        acct a = acct_begin();
        void *p = rgc_alloc(&g_heap, 3 * W, 0);
        acct_end(a, expect, "rgc_alloc from a finaliser");
        if (p != NULL)
            g_fin_allocs++;
    } else if (g_fin_mode == 3) {
        acct a = acct_begin();
        int r = rgc_collect(&g_heap);
        acct_end(a, 0, "rgc_collect from a finaliser");
        if (r != RGC_BUSY && r != RGC_LOCKED)
            fail("rgc_collect inside a finaliser (inside a collection) returned %d, expected RGC_BUSY", r);
    }
    g_nested_misuse = saved + (misuse_now() - m0);
}

static void op_finmode(octx *c)
{
    unsigned k = u8(c->r) % 6u;
    LOG("finaliser mode %u", k);
    if (k < 4) {
        g_fin_mode = k;
    } else if (k == 4) {
        rgc_set_finaliser(&g_heap, NULL);
        g_fin_exact = false;
    } else {
        rgc_set_finaliser(&g_heap, on_finalise);
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* the program                                                                                       */
/* ------------------------------------------------------------------------------------------------ */

enum {
    OP_ALLOC, OP_FREE, OP_FREE_BAD, OP_REALLOC, OP_REALLOC_BAD, OP_DROP, OP_COPY, OP_SWAP, OP_LINK,
    OP_COLLECT, OP_STEP, OP_START, OP_ROOTS, OP_FINISH, OP_SWEEP_ALL, OP_LOCK, OP_UNLOCK, OP_POLICY,
    OP_THRESHOLD, OP_PACING, OP_RESERVE, OP_ADD_ROOT, OP_WRITE_BAD, OP_LEVEL, OP_INJECT, OP_ADD_AREA,
    OP_DIAG, OP_XFILL, OP_FINMODE, OP_BADHEAP, OP_COUNT
};
/* Opcode bytes beyond OP_COUNT weight the common operations. */
static const unsigned char g_extra_ops[] = {OP_ALLOC, OP_ALLOC, OP_ALLOC, OP_FREE,  OP_LINK,
                                            OP_INJECT, OP_INJECT, OP_STEP, OP_REALLOC, OP_DROP};

/* Before every op: the dead stack below and the callee-saved registers hold no stale copies of
 * pointers the program dropped (they would keep garbage alive and hide a missing barrier). */
__attribute__((noinline, no_sanitize_address)) static void wipe_dead_stack(void)
{
    volatile unsigned char buf[4096];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = 0;
}
static inline __attribute__((always_inline)) void clear_callee_saved(void);

static void run_program(rd *r, unsigned depth, unsigned max_ops)
{
    octx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.depth = depth;
    for (unsigned ops = 0; ops < max_ops && !rd_eof(r) && !g_budget_out; ops++) {
        wipe_dead_stack();
        clear_callee_saved();
        unsigned b = u8(r) % (OP_COUNT + sizeof g_extra_ops);
        unsigned op = b < OP_COUNT ? b : g_extra_ops[b - OP_COUNT];
        unsigned l = fuzz_level();
        if (l < 32)
            g_levels_used |= 1u << l;
        switch (op) {
        case OP_ALLOC: op_alloc(&c); break;
        case OP_FREE: op_free(&c); break;
        case OP_FREE_BAD: op_free_bad(&c); break;
        case OP_REALLOC: op_realloc(&c); break;
        case OP_REALLOC_BAD: op_realloc_bad(&c); break;
        case OP_DROP: op_drop(&c); break;
        case OP_COPY: op_move(&c, false); break;
        case OP_SWAP: op_move(&c, true); break;
        case OP_LINK: op_link(&c); break;
        case OP_COLLECT: op_collect(&c, C_FULL); break;
        case OP_STEP: op_collect(&c, C_STEP); break;
        case OP_START: op_collect(&c, C_START); break;
        case OP_ROOTS: op_roots(&c); break;
        case OP_FINISH: op_collect(&c, C_FINISH); break;
        case OP_SWEEP_ALL:
            /* Rarer: it empties the heap; and only at top level (soft reset / exit): from an interrupt
             * it would free what the interrupted code is using. */
            if (u8(r) % 4u == 0 && depth == 0)
                op_collect(&c, C_SWEEP_ALL);
            break;
        case OP_LOCK: op_lock(&c, true); break;
        case OP_UNLOCK: op_lock(&c, false); break;
        case OP_POLICY: op_policy(&c); break;
        case OP_THRESHOLD: op_setting(&c, false); break;
        case OP_PACING: op_setting(&c, true); break;
        case OP_RESERVE: op_reserve(&c); break;
        case OP_ADD_ROOT: op_add_root(&c); break;
        case OP_WRITE_BAD: op_write_bad(&c); break;
        case OP_LEVEL: {
            unsigned nl = u8(r) % (FUZZ_MAX_LEVEL + 1u);
            if (depth == 0 && !c.inj) {
                LOG("top level now runs at level %u", nl);
                fuzz_set_level(nl);
            }
            break;
        }
        case OP_INJECT: {
            unsigned k = u8(r), up = 1u + u8(r) % 3u, len = u8(r) % 96u;
            uint64_t n = 1u + k;
            if (k >= 160)
                n += (uint64_t)u16(r) << ((k - 160) % 8u);
            const uint8_t *body = r->p;
            size_t avail = (size_t)(r->end - r->p);
            size_t blen = len < avail ? len : avail;
            r->p += blen;
            unsigned to = l + up;
            if (depth + 1 < MAX_DEPTH && l < FUZZ_MAX_LEVEL) {
                c.inj = 1;
                c.inj_n = n;
                c.inj_to = to > FUZZ_MAX_LEVEL ? FUZZ_MAX_LEVEL : to;
                c.inj_body.p = body;
                c.inj_body.n = blen;
                c.inj_body.depth = depth + 1;
                LOG("inject at point %llu of the next call: %zu bytes at level %u", (unsigned long long)n, blen,
                    c.inj_to);
            }
            continue; /* applies to the next op */
        }
        case OP_ADD_AREA: add_area(r, &c); break;
        case OP_DIAG: op_diag(&c); break;
        case OP_XFILL: op_xfill(&c); break;
        case OP_FINMODE: op_finmode(&c); break;
        default: op_badheap(&c); break;
        }
        c.inj = 0;
        g_tot.ops++;
        reach();
        check_all(depth == 0 ? "after a top-level op" : "after a nested op");
        if (fuzz_mask_depth() != 0 || fuzz_pending())
            fail("mask depth %u / pending injection after an op", fuzz_mask_depth());
        if (fuzz_points() > POINT_BUDGET)
            g_budget_out = true;
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* one input                                                                                         */
/* ------------------------------------------------------------------------------------------------ */

__attribute__((noinline, no_sanitize_address)) static void wipe_stack(void)
{
    volatile unsigned char buf[32768];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = 0;
}

static inline __attribute__((always_inline)) void clear_callee_saved(void)
{
#if defined(__x86_64__)
    __asm__ volatile("xorl %%ebx, %%ebx\n\txorl %%r12d, %%r12d\n\txorl %%r13d, %%r13d\n\t"
                     "xorl %%r14d, %%r14d\n\txorl %%r15d, %%r15d"
                     :
                     :
                     : "rbx", "r12", "r13", "r14", "r15");
#elif defined(__aarch64__)
    __asm__ volatile("mov x19, xzr\n\tmov x20, xzr\n\tmov x21, xzr\n\tmov x22, xzr\n\tmov x23, xzr\n\t"
                     "mov x24, xzr\n\tmov x25, xzr\n\tmov x26, xzr\n\tmov x27, xzr\n\tmov x28, xzr"
                     :
                     :
                     : "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28");
#endif
}

static void reset_state(void)
{
#ifdef FUZZ_ASAN
    __asan_unpoison_memory_region(g_mem, sizeof g_mem);
#endif
    fuzz_port_reset();
    memset(g_roots, 0, sizeof g_roots);
    memset(g_xroots, 0, sizeof g_xroots);
    memset(g_scratch, 0, sizeof g_scratch);
    memset(g_pins, 0, sizeof g_pins);
    g_npins = 0;
    for (int i = 0; i < MAXOBJ; i++) {
        g_obj[i].live = 0;
        g_obj[i].pin = 0;
        g_obj[i].gen++;
    }
    for (int s = 0; s < NH; s++) {
        g_root[s] = ref_raw(NULL);
        g_slot_pin[s] = 0;
    }
    g_nstale = g_ninflight = g_nfin = g_nhit = 0;
    g_fin_exact = true;
    g_nareas = g_area_attempts = 0;
    g_fin_mode = 0;
    g_sweep_all_depth = 0;
    g_nested_misuse = g_misuse_seen = g_collections_seen = 0;
    g_levels_used = 1;
    g_pool_root = false;
    g_budget_out = false;
    g_fin_allocs = 0;
    g_nlog = 0;
}

/* Header: returns false when the heap could not be initialised (the bad-heap checks ran instead). */
static bool setup(rd *r)
{
    unsigned cfg = u8(r), sz = u16(r), off = u8(r), fin = u8(r), nareas = u8(r) % 6u;
    /* Small heaps mostly (every check walks the whole table, every point is a callback); cfg bit 7
     * asks for up to 64 KiB. */
    size_t bytes = (cfg & 0x80u) ? (size_t)sz % (AREA_MAX + 1) * 4u : (size_t)sz % 4097u;
    unsigned char *mem = g_mem + (off % 64u) * W;
    unsigned fill = (cfg & 0x40u) ? 0xA5 : 0x00;
    memset((void *)&g_heap, (int)fill, sizeof g_heap);
    memset((void *)&g_badheap, (int)fill, sizeof g_badheap);
    bool expect_ok = bytes >= 8 * B + 64;
    if ((cfg & 3u) == 3u) { /* a bad init on purpose */
        switch (off % 4u) {
        case 0: mem = NULL; break;
        case 1: mem += 1 + off / 4u % (W - 1); break;
        case 2: bytes = off % (B + 2); break;
        default: bytes = 0; break;
        }
        expect_ok = false;
    }
    LOG("init(%p, %zu)", (void *)mem, bytes);
    int rc = rgc_init(&g_heap, mem, bytes);
    if (rc != RGC_OK && rc != RGC_EINVAL)
        fail("rgc_init returned %d", rc);
    if ((cfg & 3u) == 3u && rc == RGC_OK)
        fail("rgc_init(%p, %zu) accepted bad memory", (void *)mem, bytes);
    if (expect_ok && rc != RGC_OK)
        fail("rgc_init(%p, %zu) rejected good memory", (void *)mem, bytes);
    if (rc != RGC_OK) {
        for (unsigned i = 0; i < 12; i++)
            bad_heap_calls(&g_heap, i);
        return false;
    }
    g_area_in[0].mem = mem;
    g_area_in[0].bytes = bytes;
    g_nareas = 1;
    if (rgc_add_root(&g_heap, g_roots, sizeof g_roots) != RGC_OK ||
        rgc_add_root(&g_heap, g_pins, sizeof g_pins) != RGC_OK)
        fail("rgc_add_root of the handle table failed");
    if (cfg & 0x20u)
        (void)rgc_add_root(&g_heap, g_xroots, sizeof g_xroots);
    if (fin & 1u)
        rgc_set_finaliser(&g_heap, on_finalise);
    else
        g_fin_exact = false; /* dead RGC_FINALISER objects are released without a call */
    g_fin_mode = (fin >> 1) % 4u;
    octx c0;
    memset(&c0, 0, sizeof c0);
    c0.r = r;
    for (unsigned i = 0; i < nareas; i++)
        add_area(r, &c0);
    check_all("after set-up");
    return true;
}

/* Drop everything, collect at every level used; the heap must end empty, every finaliser run. */
__attribute__((noinline)) static void final_cleanup(void)
{
    fuzz_set_level(0);
    while (lock_now() != 0)
        rgc_unlock(&g_heap);
    unsigned owner = atomic_load(&core_of(&g_heap)->roots_owner);
    if (owner != 0) {
        fuzz_set_level(owner - 1u);
        if (rgc_collect_finish(&g_heap) != RGC_OK)
            fail("cleanup: rgc_collect_finish by the level that opened the collection failed");
        fuzz_set_level(0);
    }
    if (rgc_collect_finish(&g_heap) != RGC_OK)
        fail("cleanup: rgc_collect_finish failed");
    for (unsigned s = 0; s < NH; s++)
        rgc_write(&g_heap, &g_roots[s], NULL);
    memset(g_xroots, 0, sizeof g_xroots);
    memset(g_scratch, 0, sizeof g_scratch);
    for (int i = 0; i < MAXOBJ; i++)
        if (g_obj[i].live)
            untrack(i);
    for (int s = 0; s < NH; s++)
        g_root[s] = ref_raw(NULL);
    check_all("cleanup");
    if (g_pool_root)
        return; /* a root range inside the pool may keep a cycle of garbage alive */
    rgc_stats st;
    for (int round = 0; round < 4; round++) {
        for (unsigned l = RGC_MAX_LEVELS; l-- > 0;) {
            if (!(g_levels_used & (1u << l)))
                continue;
            fuzz_set_level(l);
            wipe_stack();
            clear_callee_saved();
            int rc = rgc_collect(&g_heap);
            if (rc != RGC_OK)
                fail("cleanup: rgc_collect at level %u returned %d", l, rc);
        }
        fuzz_set_level(0);
        rgc_get_stats(&g_heap, &st);
        if (st.objects == 0)
            break;
    }
    if (st.objects != 0)
        fail("leak: %zu objects (%zu bytes) survive dropping every root and collecting at every level used "
             "(mask 0x%x)",
             st.objects, st.used_bytes, g_levels_used);
    if (g_fin_exact)
        for (unsigned i = 0; i < g_nfin; i++)
            if (g_fin[i].st == FIN_OWED)
                fail("the finaliser of %p never ran (the heap is empty)", g_fin[i].p);
    check_all("end");
}

static void add_totals(void)
{
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    g_tot.claim_retries += st.claim_retries;
    g_tot.deferred_frees += st.deferred_frees;
    g_tot.busy += st.busy_collections;
    g_tot.collections += st.collections;
    g_tot.steps += st.collect_steps;
    g_tot.misuse += st.misuse;
    g_tot.failed += st.failed_allocs;
    g_tot.areas += st.areas > 1;
}

static void print_totals(void)
{
    fprintf(stderr,
            "fuzz_rgc totals: %llu inputs, %llu ops, %llu interrupt bodies (%llu ran at an unmask; by level "
            "1..4: %llu %llu %llu %llu, >= %u: %llu), %llu inputs with extra areas; core counters: %llu "
            "collections, %llu steps, %llu RGC_BUSY, %llu claim retries, %llu deferred frees, %llu failed "
            "allocations, %llu misuse; %llu finalisers\n",
            (unsigned long long)g_inputs, (unsigned long long)g_tot.ops, (unsigned long long)g_tot.bodies,
            (unsigned long long)fuzz_fired_at_unmask(), (unsigned long long)g_tot.bodies_by_level[1],
            (unsigned long long)g_tot.bodies_by_level[2], (unsigned long long)g_tot.bodies_by_level[3],
            (unsigned long long)g_tot.bodies_by_level[4], RGC_MAX_LEVELS,
            (unsigned long long)(g_tot.bodies_by_level[RGC_MAX_LEVELS] + g_tot.bodies_by_level[NLEVELS - 1]),
            (unsigned long long)g_tot.areas, (unsigned long long)g_tot.collections,
            (unsigned long long)g_tot.steps, (unsigned long long)g_tot.busy,
            (unsigned long long)g_tot.claim_retries, (unsigned long long)g_tot.deferred_frees,
            (unsigned long long)g_tot.failed, (unsigned long long)g_tot.misuse,
            (unsigned long long)g_tot.finalisers);
}

__attribute__((noinline)) static void run_input(const uint8_t *data, size_t size)
{
    fuzz_set_stack_top(__builtin_frame_address(0));
    reset_state();
    wipe_stack();
    clear_callee_saved();
    rd r = {data, data + size};
    if (setup(&r)) {
        run_program(&r, 0, MAX_TOP_OPS);
        wipe_stack();
        clear_callee_saved();
        final_cleanup();
        add_totals();
    }
    fuzz_set_level(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (g_verbose < 0) {
        const char *v = getenv("FUZZ_RGC_VERBOSE");
        g_verbose = v != NULL && *v != '0';
        v = getenv("FUZZ_RGC_STATS");
        if (v != NULL && *v != '0')
            atexit(print_totals);
    }
    g_inputs++;
    run_input(data, size);
    return 0;
}

#ifdef FUZZ_STANDALONE_MAIN
/* Replay without libFuzzer (coverage builds): every file named, or every file in a directory named. */
#include <dirent.h>
#include <sys/stat.h>

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return 1;
    static uint8_t buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            while (d != NULL && (e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.')
                    continue;
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                files += replay_file(path) == 0;
            }
            if (d != NULL)
                closedir(d);
        } else {
            files += replay_file(argv[i]) == 0;
        }
    }
    printf("replayed %d inputs\n", files);
    return 0;
}
#endif
