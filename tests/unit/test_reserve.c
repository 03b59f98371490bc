/* test_reserve.c - rgc_reserve (issue 6): memory only allocations at a level or above may use.
 *
 * Handler code runs at its real level on the posix port's interrupt simulator: the foreground raises
 * the level with rgc_sim_pend and the handler (attached to levels 1..3) runs the job the foreground
 * set, before rgc_sim_pend returns. Checked, as rgc.h documents:
 *   - a level-0 flood (until NULL) leaves exactly the reserved blocks free, all of them in the region at
 *     the top of the heap; then an allocation at the reserve's level of up to the reserve succeeds (one
 *     object of the whole reserve, or many small ones), one block more fails; levels below it get
 *     nothing, levels above it may use it;
 *   - a level-0 rgc_realloc does not grow into a reserve (in place or by moving), the same realloc at the
 *     reserve's level does;
 *   - with RGC_AUTO_COLLECT a level-0 allocation collects instead of dipping into the reserve;
 *   - reserves stack: each level's region lies above the lower levels', a level may use its own and the
 *     lower levels' regions, never a higher level's;
 *   - "bytes" is a promise about a free run: holes left by the level's own objects are what it gets;
 *   - bad arguments (level 0, a level >= RGC_MAX_LEVELS, more than the heap) are RGC_EINVAL + misuse;
 *     bytes == 0 removes the reserve.
 * No collection runs unless a test asks for one (level 0 has no RGC_AUTO_COLLECT during the floods).
 */
#define _GNU_SOURCE
#include "rgc_test.h"
#include "../../src/rgc_core.h" /* white box: the handle's fields */

#include "rgc_port.h"
#include "rgc_sim.h"

#define HEAP_BYTES (32 * 1024)
#define MAXOBJ 2048

static rgc_heap heap;
static _Alignas(64) unsigned char region[HEAP_BYTES];
static void *objs[MAXOBJ]; /* the foreground's flood (not a root range: nothing collects it) */
static int nobjs;

/* ---- running code at a level ---- */
static void (*job)(void);
static unsigned job_ran_at = ~0u;
static size_t job_bytes;
static long job_limit;
static void *job_ptr;
static void *job_out[MAXOBJ];
static long job_count;

static void handler(unsigned level, void *arg) {
    (void)level;
    (void)arg;
    job_ran_at = rgc_port_level();
    if (job != NULL)
        job();
}

/* Run fn at `level` (1..3) through the simulator; checks that it ran there. */
static void at_level(unsigned level, void (*fn)(void)) {
    job = fn;
    job_ran_at = ~0u;
    rgc_sim_pend(level);
    CHECK_EQ(job_ran_at, level);
    job = NULL;
}

/* Jobs: allocate job_bytes objects until NULL (at most job_limit), or one; realloc job_ptr in place. */
static void job_alloc_until_null(void) {
    job_count = 0;
    while (job_count < job_limit && job_count < MAXOBJ) {
        void *p = rgc_alloc(&heap, job_bytes, 0);
        if (p == NULL)
            break;
        job_out[job_count++] = p;
    }
}
static void job_alloc_one(void) {
    job_ptr = rgc_alloc(&heap, job_bytes, 0);
}
static void job_realloc_in_place(void) {
    job_ptr = rgc_realloc(&heap, job_ptr, job_bytes, false);
}
static void job_realloc_move(void) {
    job_ptr = rgc_realloc(&heap, job_ptr, job_bytes, true);
}
static void job_free_out(void) {
    for (long k = 0; k < job_count; k++)
        rgc_free(&heap, job_out[k]);
    job_count = 0;
}

/* Allocate at `level` (0: here) objects of `bytes` until NULL; returns how many succeeded. The
 * objects are left in job_out (levels >= 1) or appended to objs (level 0). */
static long fill_at(unsigned level, size_t bytes) {
    if (level == 0) {
        long n = 0;
        while (nobjs < MAXOBJ) {
            void *p = rgc_alloc(&heap, bytes, 0);
            if (p == NULL)
                break;
            objs[nobjs++] = p;
            n++;
        }
        return n;
    }
    job_bytes = bytes;
    job_limit = MAXOBJ;
    at_level(level, job_alloc_until_null);
    return job_count;
}

static void *alloc_at(unsigned level, size_t bytes) {
    if (level == 0)
        return rgc_alloc(&heap, bytes, 0);
    job_bytes = bytes;
    at_level(level, job_alloc_one);
    return job_ptr;
}

static size_t block_of(const void *p) {
    return (size_t)((const unsigned char *)p - core_of(&heap)->areas[0].pool) / RGCT_BB;
}

static size_t nblocks(void) {
    return core_of(&heap)->areas[0].nblocks;
}

static size_t blocks_for(size_t bytes) {
    return (bytes + RGCT_BB - 1) / RGCT_BB;
}

static void fresh(void) {
    CHECK_EQ(rgct_fresh(&heap, region, sizeof region), RGC_OK);
    rgc_level_policy(&heap, 0, 0); /* the floods must not collect */
    nobjs = 0;
    job_count = 0;
}

/* The whole shared part full (big objects first, then single blocks until NULL). */
static void flood_level0(void) {
    (void)fill_at(0, 8 * RGCT_BB);
    (void)fill_at(0, RGCT_BB);
}

static void free_level0(void) {
    for (int k = 0; k < nobjs; k++)
        rgc_free(&heap, objs[k]);
    nobjs = 0;
}

/* ---- one reserve --------------------------------------------------------------------------------- */

static void test_one_reserve(void) {
    fresh();
    const size_t rbytes = 40 * RGCT_BB + 5; /* rounded up to 41 blocks */
    const size_t rblocks = 41;
    CHECK_EQ(rgc_reserve(&heap, 2, rbytes), RGC_OK);
    flood_level0();
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.free_bytes, rblocks * RGCT_BB);       /* the flood left exactly the reserve */
    CHECK_EQ(s.largest_free_bytes, rblocks * RGCT_BB); /* ... as one run at the top */
    size_t lo = nblocks() - rblocks;
    int below = 0;
    for (int k = 0; k < nobjs; k++)
        below += block_of(objs[k]) + blocks_for(rgc_size(&heap, objs[k])) <= lo;
    CHECK_EQ(below, nobjs);
    CHECK_EQ(s.failed_allocs, 2); /* the two floods' last attempts */

    /* level 1 is below the reserve's level: nothing */
    CHECK_PTR(alloc_at(1, RGCT_BB), NULL);
    /* level 2: the whole reserve as one object, inside the region */
    void *p = alloc_at(2, rbytes);
    CHECK(p != NULL);
    if (p != NULL) {
        CHECK_EQ(block_of(p), lo);
        CHECK_EQ(rgc_size(&heap, p), rblocks * RGCT_BB);
    }
    CHECK_PTR(alloc_at(2, RGCT_BB), NULL); /* one block more: no */
    rgc_free(&heap, p);
    /* ... or as many small objects: exactly the reserve's blocks */
    CHECK_EQ(fill_at(2, RGCT_BB), (long)rblocks);
    at_level(2, job_free_out);
    /* a level above may use it */
    CHECK_EQ(fill_at(3, 2 * RGCT_BB), (long)(rblocks / 2));
    at_level(3, job_free_out);
    /* the foreground still gets nothing */
    CHECK_PTR(alloc_at(0, RGCT_BB), NULL);
    CHECK_EQ(rgct_stats(&heap).misuse, 0);
    CHECK_HEAP(&heap);

    /* a handler allocates while the shared part has room: the shared part first */
    rgc_free(&heap, objs[0]);
    void *q = alloc_at(2, RGCT_BB);
    CHECK_PTR(q, objs[0]);
    free_level0();
    rgc_free(&heap, q);
    CHECK_EQ(rgct_stats(&heap).objects, 0);

    /* bytes == 0 removes the reserve: level 0 fills the whole heap */
    CHECK_EQ(rgc_reserve(&heap, 2, 0), RGC_OK);
    flood_level0();
    CHECK_EQ(rgct_stats(&heap).free_bytes, 0);
    free_level0();
    CHECK_HEAP(&heap);
}

/* ---- realloc at level 0 does not grow into a reserve -------------------------------------------- */

static void test_realloc(void) {
    fresh();
    const size_t rblocks = 16;
    CHECK_EQ(rgc_reserve(&heap, 1, rblocks * RGCT_BB), RGC_OK);
    (void)fill_at(0, RGCT_BB); /* one-block objects, lowest first: the last one ends the shared part */
    size_t lo = nblocks() - rblocks;
    CHECK_EQ(rgct_stats(&heap).free_bytes, rblocks * RGCT_BB);
    void *last = NULL;
    for (int k = 0; k < nobjs; k++)
        if (block_of(objs[k]) == lo - 1)
            last = objs[k];
    CHECK(last != NULL);
    if (last == NULL)
        return;
    /* level 0: in place would take reserve blocks; by moving there is no room outside the reserve */
    CHECK_PTR(rgc_realloc(&heap, last, 2 * RGCT_BB, false), NULL);
    CHECK_PTR(rgc_realloc(&heap, last, 2 * RGCT_BB, true), NULL);
    CHECK_EQ(rgc_size(&heap, last), RGCT_BB); /* untouched */
    /* growth in place at level 0 inside the shared part still works */
    void *mover = objs[0];
    rgc_free(&heap, objs[1]);
    rgc_free(&heap, objs[2]); /* two free blocks after objs[0]: grows in place */
    CHECK_PTR(rgc_realloc(&heap, mover, 3 * RGCT_BB, false), mover);
    CHECK_EQ(rgct_stats(&heap).free_bytes, rblocks * RGCT_BB);
    /* the same growth at the reserve's level goes into the reserve in place */
    job_ptr = last;
    job_bytes = 3 * RGCT_BB;
    at_level(1, job_realloc_in_place);
    CHECK_PTR(job_ptr, last);
    CHECK_EQ(rgc_size(&heap, last), 3 * RGCT_BB);
    /* and a moving realloc at the reserve's level may move into it */
    void *victim = objs[10];
    job_ptr = victim;
    job_bytes = 5 * RGCT_BB;
    at_level(1, job_realloc_move);
    CHECK(job_ptr != NULL && job_ptr != victim);
    if (job_ptr != NULL && job_ptr != victim) {
        CHECK(block_of(job_ptr) >= lo);
        CHECK_EQ(rgc_size(&heap, victim), 0);
        objs[10] = job_ptr;
    }
    CHECK_EQ(rgct_stats(&heap).misuse, 0);
    CHECK_HEAP(&heap);
}

/* ---- RGC_AUTO_COLLECT at level 0: collects instead of dipping into the reserve ------------------ */

static void test_autocollect(void) {
    fresh();
    const size_t rblocks = 24;
    CHECK_EQ(rgc_reserve(&heap, 1, rblocks * RGCT_BB), RGC_OK);
    flood_level0(); /* garbage: objs is not a root range */
    CHECK_EQ(rgct_stats(&heap).free_bytes, rblocks * RGCT_BB);
    nobjs = 0;
    memset(objs, 0, sizeof objs);
    rgc_level_policy(&heap, 0, RGC_AUTO_COLLECT);
    uint32_t c0 = rgct_stats(&heap).collections;
    void *p = rgct_alloc_clean(&heap, 4 * RGCT_BB, 0);
    CHECK(p != NULL);
    CHECK_EQ(rgct_stats(&heap).collections, c0 + 1);
    if (p != NULL)
        CHECK(block_of(p) < nblocks() - rblocks);
    CHECK_HEAP(&heap);
}

/* ---- reserves of several levels stack ----------------------------------------------------------- */

static void test_stacked(void) {
    fresh();
    const size_t r1 = 20, r2 = 12, r3 = 8;
    CHECK_EQ(rgc_reserve(&heap, 1, r1 * RGCT_BB), RGC_OK);
    CHECK_EQ(rgc_reserve(&heap, 2, r2 * RGCT_BB), RGC_OK);
    CHECK_EQ(rgc_reserve(&heap, 3, r3 * RGCT_BB), RGC_OK);
    flood_level0();
    CHECK_EQ(rgct_stats(&heap).free_bytes, (r1 + r2 + r3) * RGCT_BB);
    size_t n = nblocks();
    /* each level's whole reserve as one object, in its own region (level 1 lowest, level 3 topmost) */
    void *p1 = alloc_at(1, r1 * RGCT_BB), *p2 = alloc_at(2, r2 * RGCT_BB), *p3 = alloc_at(3, r3 * RGCT_BB);
    CHECK(p1 != NULL && p2 != NULL && p3 != NULL);
    if (p1 != NULL && p2 != NULL && p3 != NULL) {
        CHECK_EQ(block_of(p1), n - r3 - r2 - r1);
        CHECK_EQ(block_of(p2), n - r3 - r2);
        CHECK_EQ(block_of(p3), n - r3);
    }
    CHECK_EQ(rgct_stats(&heap).free_bytes, 0);
    rgc_free(&heap, p1);
    rgc_free(&heap, p2);
    rgc_free(&heap, p3);
    /* level 1 gets its region only */
    CHECK_EQ(fill_at(1, RGCT_BB), (long)r1);
    at_level(1, job_free_out);
    /* level 2 gets its own and level 1's region, never level 3's */
    CHECK_EQ(fill_at(2, RGCT_BB), (long)(r1 + r2));
    at_level(2, job_free_out);
    /* level 3 gets all three */
    CHECK_EQ(fill_at(3, RGCT_BB), (long)(r1 + r2 + r3));
    at_level(3, job_free_out);
    /* a level's allocation takes the lowest region it may use that has room: level 2's object of its
     * whole reserve lands in level 1's region, and level 1 is left the rest of it (documented: the
     * guarantee holds while the levels >= the reserve's level leave a free run there) */
    void *full2 = alloc_at(2, r2 * RGCT_BB);
    CHECK(full2 != NULL && block_of(full2) == n - r3 - r2 - r1);
    CHECK_EQ(fill_at(1, RGCT_BB), (long)(r1 - r2));
    at_level(1, job_free_out);
    /* with level 1's region full (of level 1's objects), level 2 gets its own region whole */
    rgc_free(&heap, full2);
    void *own1 = alloc_at(1, r1 * RGCT_BB);
    full2 = alloc_at(2, r2 * RGCT_BB);
    CHECK(own1 != NULL && full2 != NULL && block_of(full2) == n - r3 - r2);
    CHECK_PTR(alloc_at(2, RGCT_BB), NULL);
    rgc_free(&heap, own1);
    rgc_free(&heap, full2);
    CHECK_EQ(rgct_stats(&heap).misuse, 0);
    CHECK_HEAP(&heap);
}

/* ---- fragmentation: the promise is a free run ----------------------------------------------------- */

static void test_fragmented(void) {
    fresh();
    const size_t r = 16;
    CHECK_EQ(rgc_reserve(&heap, 2, r * RGCT_BB), RGC_OK);
    flood_level0();
    CHECK_EQ(fill_at(2, RGCT_BB), (long)r);
    /* the level frees every other block of its region: 8 one-block holes */
    static void *held[64];
    long nheld = 0;
    for (long k = 0; k < job_count; k++) {
        if (k % 2 == 0)
            rgc_free(&heap, job_out[k]);
        else
            held[nheld++] = job_out[k];
    }
    job_count = 0;
    CHECK_EQ(rgct_stats(&heap).free_bytes, r / 2 * RGCT_BB);
    CHECK_PTR(alloc_at(2, 2 * RGCT_BB), NULL); /* no free run of 2 */
    CHECK_EQ(fill_at(2, RGCT_BB), (long)(r / 2)); /* every hole */
    at_level(2, job_free_out);
    for (long k = 0; k < nheld; k++)
        rgc_free(&heap, held[k]);
    void *whole = alloc_at(2, r * RGCT_BB); /* once the level holds nothing there: all of it */
    CHECK(whole != NULL);
    rgc_free(&heap, whole);
    CHECK_HEAP(&heap);
}

/* ---- bad arguments -------------------------------------------------------------------------------- */

static void test_bad_arguments(void) {
    fresh();
    size_t total = rgct_stats(&heap).total_bytes;
    uint32_t m = rgct_stats(&heap).misuse;
    CHECK_EQ(rgc_reserve(&heap, 0, 64), RGC_EINVAL);
    CHECK_EQ(rgct_stats(&heap).misuse, m + 1);
    CHECK_EQ(rgc_reserve(&heap, RGC_MAX_LEVELS, 64), RGC_EINVAL);
    CHECK_EQ(rgct_stats(&heap).misuse, m + 2);
    CHECK_EQ(rgc_reserve(&heap, 1, total + RGCT_BB), RGC_EINVAL);
    CHECK_EQ(rgct_stats(&heap).misuse, m + 3);
    CHECK_EQ(rgc_reserve(&heap, 1, total), RGC_EINVAL); /* the shared part keeps a block */
    CHECK_EQ(rgct_stats(&heap).misuse, m + 4);
    CHECK_EQ(rgc_reserve(&heap, 1, SIZE_MAX), RGC_EINVAL);
    CHECK_EQ(rgct_stats(&heap).misuse, m + 5);
    /* together too large */
    CHECK_EQ(rgc_reserve(&heap, 1, total / 2), RGC_OK);
    CHECK_EQ(rgc_reserve(&heap, 2, total / 2), RGC_EINVAL);
    CHECK_EQ(rgct_stats(&heap).misuse, m + 6);
    CHECK_EQ(rgc_reserve(&heap, 2, total / 4), RGC_OK);
    /* re-reserving a level replaces its reserve */
    CHECK_EQ(rgc_reserve(&heap, 1, total / 2 + RGCT_BB), RGC_OK);
    CHECK_EQ(rgc_reserve(&heap, 1, total - total / 4), RGC_EINVAL);
    CHECK_EQ(rgct_stats(&heap).misuse, m + 7);
    CHECK_EQ(rgc_reserve(NULL, 1, 64), RGC_EINVAL);
    /* the largest reserve that leaves the shared part one block */
    CHECK_EQ(rgc_reserve(&heap, 1, 0), RGC_OK);
    CHECK_EQ(rgc_reserve(&heap, 2, 0), RGC_OK);
    CHECK_EQ(rgc_reserve(&heap, 3, total - RGCT_BB), RGC_OK);
    flood_level0();
    CHECK_EQ(nobjs, 1);
    CHECK_EQ(rgct_stats(&heap).free_bytes, total - RGCT_BB);
    CHECK_HEAP(&heap);
}

int main(void) {
    if (rgc_sim_init(3, 3) != 0) {
        fprintf(stderr, "test_reserve: rgc_sim_init failed (no real-time signals?)\n");
        return 1;
    }
    for (unsigned l = 1; l <= 3; l++)
        rgc_sim_attach(l, handler, NULL);
    RGCT_RUN(test_one_reserve);
    RGCT_RUN(test_realloc);
    RGCT_RUN(test_autocollect);
    RGCT_RUN(test_stacked);
    RGCT_RUN(test_fragmented);
    RGCT_RUN(test_bad_arguments);
    return rgct_summary("test_reserve");
}
