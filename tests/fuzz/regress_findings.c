/* regress_findings.c - deterministic reproductions of the core bugs the fuzzer found:
 *  1. (fixed in 88f05a4; group "steps", CTest fuzz.regress.steps) a level-1 handler that ADVANCES or
 *     STARTS a step-wise collection while level 0 is suspended inside an rgc call, between the call's
 *     look at the collection phase and the table change it decided on: scenarios swap, free, alloc
 *     failed before the fix (shrink and move passed); since the fix such requests return RGC_BUSY;
 *  2. (fixed in 94bcf39; group "reserve", CTest fuzz.regress.reserve) a level-1 handler that runs while
 *     level 0 is inside rgc_reserve found the per-level limits half updated (not monotone: rgc_check
 *     failed in the handler, 14 of 220 points).
 *  3. (fixed in e6e6793; scenario "area", CTest fuzz.regress.area) a level-1 handler that runs while
 *     level 0 is inside rgc_add_area finds the new area published (nareas) before nblocks and end are
 *     updated: rgc_check reported corruption in the handler (the totals may lag during the change).
 *  4. (fixed this commit; scenario "reserve_below", CTest fuzz.regress.reserve_below) a level-1 handler
 *     that calls rgc_reserve while level 0 is inside rgc_alloc: the reserve returned RGC_OK, and the
 *     allocation, which had read the limits before, claimed blocks of the new reserve. Since the fix
 *     rgc_reserve above a suspended rgc call returns RGC_BUSY.
 *
 * Mechanism: the fuzz port (fuzz_port.c, FUZZ_WRAP_GUARD=0) and the core compiled with the preemption
 * sweep's callbacks; for every preemption point N of the level-0 victim call, the scenario is rebuilt
 * from scratch and a level-1 body runs at point N. After the victim: rgc_check, the victim's result
 * intact, every reachable object alive; then the collection is finished, two more full collections
 * run, and rgc_check / liveness / no-leak are checked again.
 *
 * Scenarios (level 0 victim; the collection state it starts from; the level-1 bodies):
 *   swap    rgc_swap(&H->slot, NULL) takes O (reachable only through H's third block, not yet
 *           scanned: the collection was begun by rgc_collect_step(1)) and keeps it in a root
 *           (ownership hand-over, as rgc.h documents for rgc_swap); bodies: finish / full / 4 steps /
 *           finish and allocate
 *   free    rgc_free(X) while the collection is marking (X was rooted when it began; the victim
 *           drops it first); bodies: finish / full / 4 steps / finish and allocate
 *   alloc   rgc_alloc from an idle heap, the result then stored in a root with rgc_write; bodies:
 *           step(1) (starts a collection and leaves it marking) / start and run to the end / start
 *           and allocate
 *   shrink  rgc_realloc(X, smaller) from an idle heap; bodies as alloc
 *   move    rgc_realloc(X, larger, move) from an idle heap, X full of references; bodies as alloc
 *   reserve rgc_reserve(3, 40 blocks) at level 0 on an idle heap; body 7: rgc_check, and a level-1
 *           allocation must stay below level 1's limit (the shared part)
 *   area    rgc_add_area(4 KiB) at level 0 on a one-area heap; body 7 as for reserve
 *   reserve_below  rgc_alloc(3 blocks) at level 0 on a heap whose top 3 blocks alone are free; body 8:
 *           rgc_reserve(2, 3 blocks) must return RGC_BUSY, and the allocation stays below level 0's
 *           limit
 *
 * Usage: regress_findings [steps|reserve|<scenario> [N [body]]]   (a single N prints what happened)
 * Exit status 1 when any run fails.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_port.h"
#include "rgc.h"
#include "rgc_internal.h"

#define B ((size_t)RGC_BLOCK_BYTES)
#define W (sizeof(void *))

static rgc_heap g_heap;
static _Alignas(64) unsigned char g_mem[16384];
static void *g_roots[8]; /* registered */
static void *g_keep[8];  /* NOT registered: what the test follows */
static int g_fail, g_verbose;
static char g_first[300];
static unsigned g_body;
static uint64_t g_victim_points; /* preemption points of the victim call without injection */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_fail++ == 0)
        snprintf(g_first, sizeof g_first, "%s", msg);
    if (g_verbose)
        printf("  FAIL: %s\n", msg);
}

static unsigned phase(void) { return atomic_load(&g_heap.state) & PHASE_BITS; }

static void check(const char *where)
{
    if (rgc_check(&g_heap) != RGC_OK)
        fail("%s: rgc_check reports corruption (state 0x%x, sweep_done %zu)", where, atomic_load(&g_heap.state),
             atomic_load(&core_of(&g_heap)->sweep_done));
}

/* An object of `blocks` blocks whose words are all `fill` (a pointer, or an odd tag). */
static void *obj(size_t blocks, void *fill)
{
    void **p = rgc_alloc(&g_heap, blocks * B, 0);
    if (p == NULL) {
        fail("set-up allocation failed");
        return NULL;
    }
    for (size_t i = 0; i < blocks * B / W; i++)
        p[i] = fill;
    return p;
}

static void *tag(unsigned k) { return (void *)(uintptr_t)(0x7A510001u + 2u * k); }

static int intact(void *p, size_t blocks, void *fill)
{
    if (p == NULL || rgc_size(&g_heap, p) < blocks * B)
        return 0;
    for (size_t i = 0; i < blocks * B / W; i++)
        if (((void **)p)[i] != fill)
            return 0;
    return 1;
}

/* ---- level-1 bodies ---- */
static void body(void *arg)
{
    (void)arg;
    switch (g_body) {
    case 0: (void)rgc_collect_finish(&g_heap); break;
    case 1: (void)rgc_collect(&g_heap); break;
    case 2:
        for (int i = 0; i < 4; i++)
            (void)rgc_collect_step(&g_heap, 1);
        break;
    case 3: /* leave a collection marking */
        if (phase() == PHASE_IDLE)
            (void)rgc_collect_step(&g_heap, 1);
        break;
    case 4: /* start one and run it to the end */
        if (phase() == PHASE_IDLE)
            (void)rgc_collect_step(&g_heap, 1);
        while (rgc_collect_step(&g_heap, 3) == 1) {
        }
        break;
    case 8: { /* reserve the top while level 0 is inside rgc_alloc */
        int inside = atomic_load(&core_of(&g_heap)->depth[0]) != 0; /* the first and last points are outside */
        int r = rgc_reserve(&g_heap, 2, 3 * B);
        if (r != (inside ? RGC_BUSY : RGC_OK))
            fail("in the interrupt: rgc_reserve %s a suspended rgc_alloc returned %d", inside ? "above" : "outside",
                 r);
        break;
    }
    case 7: { /* look at the heap and allocate at level 1 */
        if (rgc_check(&g_heap) != RGC_OK)
            fail("in the interrupt: rgc_check reports corruption (limits %zu %zu %zu %zu)",
                 atomic_load(&core_of(&g_heap)->limit[0]), atomic_load(&core_of(&g_heap)->limit[1]), atomic_load(&core_of(&g_heap)->limit[2]),
                 atomic_load(&core_of(&g_heap)->limit[3]));
        void *p = rgc_alloc(&g_heap, B, 0);
        size_t b = p != NULL ? block_of_start(core_of(&g_heap), p) : 0;
        if (p != NULL && b >= atomic_load(&core_of(&g_heap)->limit[1]))
            fail("in the interrupt: a level-1 allocation got block %zu, at or above level 1's limit %zu", b,
                 atomic_load(&core_of(&g_heap)->limit[1]));
        g_keep[5] = p;
        break;
    }
    default: /* finish (body 5) or start (body 6) a collection, then allocate into freed blocks */
        if (g_body == 5)
            (void)rgc_collect_finish(&g_heap);
        else if (phase() == PHASE_IDLE)
            (void)rgc_collect_step(&g_heap, 1);
        for (int i = 0; i < 2; i++) { /* 1 block first: it goes to the lowest free block */
            void **p = rgc_alloc(&g_heap, (size_t)(i + 1) * B, 0);
            if (p != NULL)
                for (size_t k = 0; k < (size_t)(i + 1) * B / W; k++)
                    p[k] = tag(40 + (unsigned)i);
            rgc_write(&g_heap, &g_roots[6 + i], p);
            g_keep[6 + i] = p;
        }
        break;
    }
}

/* ---- scenarios ---- */
enum { SC_SWAP, SC_FREE, SC_ALLOC, SC_SHRINK, SC_MOVE, SC_RESERVE, SC_AREA, SC_RESERVE_BELOW, SC_COUNT };
static const char *const sc_name[] = {"swap", "free", "alloc", "shrink", "move", "reserve", "area", "reserve_below"};
static const unsigned sc_bodies[][2] = {{0, 5}, {0, 5}, {3, 6}, {3, 6}, {3, 6}, {7, 7}, {7, 7}, {8, 8}};
static _Alignas(64) unsigned char g_area_mem[4096];

static void setup(int sc)
{
    memset((void *)&g_heap, 0, sizeof g_heap);
    memset(g_roots, 0, sizeof g_roots);
    memset(g_keep, 0, sizeof g_keep);
    if (rgc_init(&g_heap, g_mem, sizeof g_mem) != RGC_OK || rgc_add_root(&g_heap, g_roots, sizeof g_roots) != RGC_OK)
        fail("init");
    rgc_level_policy(&g_heap, 0, 0);
    switch (sc) {
    case SC_SWAP: {
        /* H: 4 blocks, its third block holds O; many rooted objects first, so that the first step
         * (budget 1) leaves H unscanned. */
        for (int i = 0; i < 4; i++)
            g_roots[2 + i] = obj(1, tag(10 + (unsigned)i));
        void *o = obj(2, tag(1));
        void **h = obj(4, tag(2));
        h[2 * B / W] = o;
        g_keep[0] = o;
        g_keep[1] = h;
        g_roots[0] = h;
        break;
    }
    case SC_FREE: /* X is rooted when the collection begins; the victim drops it, then frees it */
        g_roots[3] = g_keep[0] = obj(2, tag(3));
        g_keep[1] = obj(1, tag(4));
        g_roots[1] = g_keep[1];
        break;
    case SC_ALLOC: g_roots[1] = g_keep[1] = obj(1, tag(4)); break;
    case SC_SHRINK: g_roots[0] = g_keep[0] = obj(6, tag(5)); break;
    case SC_RESERVE:
        /* level 1's allocations may reach the top unless a reserve of a higher level is there; fill the
         * shared part so that the interrupt's allocation goes to the top */
        while (rgc_alloc(&g_heap, B, 0) != NULL) {
        }
        (void)rgc_reserve(&g_heap, 2, 20 * B);
        break;
    case SC_RESERVE_BELOW: { /* everything taken but the top 3 blocks */
        while (rgc_alloc(&g_heap, B, 0) != NULL) {
        }
        size_t top = atomic_load(&core_of(&g_heap)->nblocks);
        for (size_t k = 1; k <= 3; k++)
            rgc_free(&g_heap, block_addr(core_of(&g_heap), top - k));
        break;
    }
    default: {
        void *c = obj(1, tag(6)); /* X's child, reachable only through X */
        g_keep[1] = c;
        g_roots[0] = g_keep[0] = obj(2, c);
        break;
    }
    }
}

/* The victim call at level 0 (armed with the injection at point n, or counting only with n == 0).
 * Returns its number of points. */
static uint64_t victim(int sc, uint64_t n)
{
    uint64_t p0 = fuzz_points();
    if (n != 0)
        fuzz_arm(n, 1, body, NULL);
    switch (sc) {
    case SC_SWAP: {
        void **h = g_keep[1];
        void *o = rgc_swap(&g_heap, &h[2 * B / W], NULL);
        fuzz_disarm();
        if (o != g_keep[0])
            fail("rgc_swap returned %p, the slot held %p", o, g_keep[0]);
        rgc_write(&g_heap, &g_roots[1], o); /* the swapper owns O now */
        break;
    }
    case SC_FREE:
        fuzz_disarm();
        rgc_write(&g_heap, &g_roots[3], NULL);
        if (n != 0)
            fuzz_arm(n, 1, body, NULL);
        p0 = fuzz_points();
        rgc_free(&g_heap, g_keep[0]);
        fuzz_disarm();
        break;
    case SC_ALLOC: {
        void *p = rgc_alloc(&g_heap, 3 * B, 0);
        fuzz_disarm();
        if (p != NULL)
            memset(p, 0x5B, 3 * B);
        g_keep[2] = p;
        rgc_write(&g_heap, &g_roots[2], p);
        break;
    }
    case SC_RESERVE:
        (void)rgc_reserve(&g_heap, 3, 40 * B);
        fuzz_disarm();
        break;
    case SC_RESERVE_BELOW: {
        /* A reserve made at the call's last points (after it left its context) finds the object
         * already there: it stays (rgc.h); one made at the first points binds the whole search. */
        size_t before = atomic_load(&core_of(&g_heap)->limit[0]);
        void *p = rgc_alloc(&g_heap, 3 * B, 0);
        fuzz_disarm();
        size_t b = p != NULL ? block_of_start(core_of(&g_heap), p) : 0;
        size_t limit = n > g_victim_points / 2 ? before : atomic_load(&core_of(&g_heap)->limit[0]);
        if (p != NULL && b + 3u > limit)
            fail("level 0's allocation got blocks %zu..%zu, beyond its limit %zu (a reserve set meanwhile)", b,
                 b + 2u, limit);
        g_keep[2] = p;
        break;
    }
    case SC_AREA:
        if (rgc_add_area(&g_heap, g_area_mem, sizeof g_area_mem) != RGC_OK)
            fail("rgc_add_area failed");
        fuzz_disarm();
        break;
    case SC_SHRINK: {
        void *p = rgc_realloc(&g_heap, g_keep[0], 2 * B, false);
        fuzz_disarm();
        if (p != g_keep[0])
            fail("shrinking realloc returned %p for %p", p, g_keep[0]);
        break;
    }
    default: {
        void *p = rgc_realloc(&g_heap, g_keep[0], 8 * B, true);
        fuzz_disarm();
        if (p == NULL) {
            fail("moving realloc returned NULL");
            break;
        }
        g_keep[0] = p;
        rgc_write(&g_heap, &g_roots[0], p);
        break;
    }
    }
    return fuzz_points() - p0;
}

static void expectations(int sc, const char *where)
{
    check(where);
    for (int i = 0; i < 2; i++)
        if (g_keep[6 + i] != NULL && !intact(g_keep[6 + i], (size_t)i + 1, tag(40 + (unsigned)i)))
            fail("%s: an object the interrupt allocated (rooted) is freed or overwritten", where);
    switch (sc) {
    case SC_SWAP:
        if (!intact(g_keep[0], 2, tag(1)))
            fail("%s: O, which the swapper owns (rooted), is freed or overwritten", where);
        break;
    case SC_FREE:
    case SC_ALLOC:
        if (!intact(g_keep[1], 1, tag(4)))
            fail("%s: a rooted object is freed or overwritten", where);
        if (sc == SC_ALLOC && g_keep[2] != NULL) {
            unsigned char *p = g_keep[2];
            if (rgc_size(&g_heap, p) < 3 * B || p[0] != 0x5B || p[3 * B - 1] != 0x5B)
                fail("%s: the new object (rooted) is freed or overwritten", where);
        }
        break;
    case SC_SHRINK:
        if (!intact(g_keep[0], 2, tag(5)))
            fail("%s: the shrunk object is freed or overwritten", where);
        break;
    case SC_RESERVE:
    case SC_AREA:
    case SC_RESERVE_BELOW: break;
    default:
        if (rgc_size(&g_heap, g_keep[0]) < 8 * B || !intact(g_keep[1], 1, tag(6)))
            fail("%s: the moved object or its child is freed or overwritten", where);
        break;
    }
}

__attribute__((noinline, no_sanitize_address)) static void wipe(void)
{
    volatile unsigned char buf[8192];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = 0;
}

__attribute__((noinline)) static uint64_t run(int sc, uint64_t n, unsigned b)
{
    fuzz_set_stack_top(__builtin_frame_address(0));
    fuzz_port_reset();
    g_fail = 0;
    g_first[0] = 0;
    g_body = b;
    setup(sc);
    wipe();
    /* The collection the victim meets is begun here, after set-up's frame is gone: the stack holds no
     * reference to the scenario's objects (only the registered root range does). */
    if (sc == SC_SWAP || sc == SC_FREE)
        (void)rgc_collect_step(&g_heap, 1);
    uint64_t points = victim(sc, n);
    expectations(sc, "after the victim");
    fuzz_set_level(0);
    if (rgc_collect_finish(&g_heap) != RGC_OK)
        fail("rgc_collect_finish failed");
    expectations(sc, "after finishing the collection");
    for (int i = 0; i < 2; i++) {
        wipe();
        if (rgc_collect(&g_heap) != RGC_OK)
            fail("rgc_collect failed");
        expectations(sc, "after two more collections");
    }
    if (sc == SC_FREE && rgc_size(&g_heap, g_keep[0]) != 0)
        fail("the freed object is still allocated after finishing and two more collections");
    return points;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    int only = -1, group = 0; /* group 1: steps (bug 1); "reserve" is a scenario of its own (bug 2) */
    uint64_t only_n = 0;
    int only_b = -1;
    if (argc > 1) {
        for (int s = 0; s < SC_COUNT; s++)
            if (strcmp(argv[1], sc_name[s]) == 0)
                only = s;
        group = strcmp(argv[1], "steps") == 0 ? 1 : 0;
        if (only < 0 && group == 0) {
            fprintf(stderr, "usage: %s [steps|swap|free|alloc|shrink|move|reserve|area|reserve_below [N [body]]]\n",
                    argv[0]);
            return 2;
        }
    }
    if (argc > 2) {
        only_n = strtoull(argv[2], NULL, 10);
        g_verbose = 1;
    }
    if (argc > 3)
        only_b = atoi(argv[3]);
    int bad = 0;
    for (int sc = 0; sc < SC_COUNT; sc++) {
        if ((only >= 0 && sc != only) || (only < 0 && sc >= SC_AREA) || (group == 1 && sc >= SC_RESERVE))
            continue;
        g_victim_points = 0;
        uint64_t points = run(sc, 0, 0);
        g_victim_points = points;
        if (g_fail)
            printf("%s: FAILS WITHOUT INJECTION: %s\n", sc_name[sc], g_first);
        uint64_t failed = 0, runs = 0, body_failed[9] = {0};
        char first[400] = "", body_first[9][400];
        for (uint64_t n = only_n ? only_n : 1; n <= (only_n ? only_n : points); n++) {
            for (unsigned b = sc_bodies[sc][0]; b <= sc_bodies[sc][1]; b++) {
                if (only_b >= 0 && (int)b != only_b)
                    continue;
                run(sc, n, b);
                runs++;
                if (g_fail) {
                    if (failed++ == 0)
                        snprintf(first, sizeof first, "N=%llu body %u: %s", (unsigned long long)n, b, g_first);
                    if (body_failed[b]++ == 0)
                        snprintf(body_first[b], sizeof body_first[b], "N=%llu: %s", (unsigned long long)n, g_first);
                }
            }
        }
        printf("%-6s victim %llu points, %llu runs, %llu failed%s%s\n", sc_name[sc], (unsigned long long)points,
               (unsigned long long)runs, (unsigned long long)failed, failed ? "; first: " : "", first);
        for (unsigned b = 0; b < 9; b++)
            if (body_failed[b])
                printf("         body %u: %llu failed, first %s\n", b, (unsigned long long)body_failed[b],
                       body_first[b]);
        bad |= failed != 0;
    }
    return bad;
}
