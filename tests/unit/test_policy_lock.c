/* test_policy_lock.c - rgc_lock/rgc_unlock nesting and misuse, RGC_LOCKED, per-level policies
 * (RGC_NO_ALLOC, RGC_AUTO_COLLECT, defaults, bad levels). rgc_port_level() is 0 here. */
#include "rgc_test.h"

#define HEAP_BYTES 16384
#define MAXOBJ (HEAP_BYTES / RGC_BLOCK_BYTES + 1)

static rgc_heap heap;
static _Alignas(64) unsigned char region[HEAP_BYTES];
static void *roots[8]; /* registered */
static void *track[8]; /* not registered */
static size_t nblocks;

static void setup(int set_policy, unsigned policy)
{
    CHECK_EQ(rgct_fresh(&heap, region, HEAP_BYTES), RGC_OK);
    memset(roots, 0, sizeof roots);
    memset(track, 0, sizeof track);
    CHECK_EQ(rgc_add_root(&heap, roots, sizeof roots), RGC_OK);
    if (set_policy)
        rgc_level_policy(&heap, 0, policy);
    nblocks = rgct_stats(&heap).blocks;
    CHECK(nblocks > 100);
}

/* Fill the whole heap with unreferenced 1-block objects (exactly nblocks allocations, none fails). */
static RGCT_NOINLINE size_t fill_garbage(void)
{
    size_t n = 0;
    for (size_t i = 0; i < nblocks; i++)
        n += rgc_alloc(&heap, RGC_BLOCK_BYTES, i % 3 ? 0 : RGC_FINALISER) != NULL;
    return n;
}

static void test_lock(void)
{
    setup(1, 0);
    roots[0] = rgc_alloc(&heap, RGC_BLOCK_BYTES, 0);
    CHECK(roots[0] != NULL);
    rgc_stats s0 = rgct_stats(&heap);

    rgc_lock(&heap);
    CHECK(rgc_alloc(&heap, 1, 0) == NULL);
    CHECK(rgc_alloc(&heap, 1, RGC_FINALISER) == NULL);
    CHECK(rgc_realloc(&heap, NULL, 1, true) == NULL); /* = rgc_alloc */
    CHECK_EQ(rgc_collect(&heap), RGC_LOCKED);
    rgc_stats s1 = rgct_stats(&heap);
    CHECK_EQ(s1.failed_allocs, s0.failed_allocs + 3); /* "NULL for lack of memory or a lock" */
    CHECK_EQ(s1.misuse, s0.misuse);
    CHECK_EQ(s1.collections, s0.collections);
    CHECK_EQ(s1.used_bytes, s0.used_bytes);
    /* nested */
    rgc_lock(&heap);
    rgc_unlock(&heap);
    CHECK(rgc_alloc(&heap, 1, 0) == NULL);
    CHECK_EQ(rgc_collect(&heap), RGC_LOCKED);
    rgc_lock(&heap);
    rgc_lock(&heap);
    rgc_unlock(&heap);
    rgc_unlock(&heap);
    CHECK(rgc_alloc(&heap, 1, 0) == NULL);
    CHECK_EQ(rgc_collect(&heap), RGC_LOCKED);
    /* locked heaps still free, size and check */
    CHECK_EQ(rgc_size(&heap, roots[0]), RGC_BLOCK_BYTES);
    CHECK_HEAP(&heap);
    rgc_unlock(&heap);
    /* unlocked */
    roots[1] = rgc_alloc(&heap, 1, 0);
    CHECK(roots[1] != NULL);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    rgc_stats s2 = rgct_stats(&heap);
    CHECK_EQ(s2.collections, s0.collections + 1);
    CHECK_EQ(s2.misuse, s0.misuse);
    /* unlock below zero: misuse, and the depth does not wrap */
    rgc_unlock(&heap);
    rgc_stats s3 = rgct_stats(&heap);
    CHECK_EQ(s3.misuse, s2.misuse + 1);
    roots[2] = rgc_alloc(&heap, 1, 0);
    CHECK(roots[2] != NULL);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    rgc_lock(&heap);
    CHECK(rgc_alloc(&heap, 1, 0) == NULL);
    CHECK_EQ(rgc_collect(&heap), RGC_LOCKED);
    rgc_unlock(&heap);
    roots[3] = rgc_alloc(&heap, 1, 0);
    CHECK(roots[3] != NULL);
    CHECK_EQ(rgct_stats(&heap).misuse, s3.misuse);
    CHECK_EQ(rgc_busy_depth(&heap), 0);
    CHECK_HEAP(&heap);
}

static void test_lock_free(void)
{
    setup(1, 0);
    track[0] = rgc_alloc(&heap, 2 * RGC_BLOCK_BYTES, 0);
    rgc_lock(&heap);
    rgc_free(&heap, track[0]); /* freeing is not allocating */
    CHECK_EQ(rgc_size(&heap, track[0]), 0);
    CHECK_EQ(rgct_stats(&heap).used_bytes, 0);
    CHECK_EQ(rgct_stats(&heap).misuse, 0);
    rgc_unlock(&heap);
    CHECK_HEAP(&heap);
}

static void test_lock_realloc(void)
{
    setup(1, 0);
    roots[0] = rgc_alloc(&heap, 2 * RGC_BLOCK_BYTES, 0);
    CHECK(roots[0] != NULL);
    memset(roots[0], 0x3C, 2 * RGC_BLOCK_BYTES);
    rgc_lock(&heap);
    /* growing needs blocks: refused while locked (the following blocks are free), p untouched */
    CHECK(rgc_realloc(&heap, roots[0], 4 * RGC_BLOCK_BYTES, false) == NULL);
    CHECK(rgc_realloc(&heap, roots[0], 4 * RGC_BLOCK_BYTES, true) == NULL);
    CHECK_EQ(rgc_size(&heap, roots[0]), 2 * RGC_BLOCK_BYTES);
    CHECK_EQ(((unsigned char *)roots[0])[2 * RGC_BLOCK_BYTES - 1], 0x3C);
    /* shrinking allocates nothing */
    CHECK_PTR(rgc_realloc(&heap, roots[0], RGC_BLOCK_BYTES, false), roots[0]);
    CHECK_EQ(rgc_size(&heap, roots[0]), RGC_BLOCK_BYTES);
    rgc_unlock(&heap);
    CHECK_PTR(rgc_realloc(&heap, roots[0], 4 * RGC_BLOCK_BYTES, false), roots[0]);
    CHECK_EQ(rgct_stats(&heap).misuse, 0);
    CHECK_HEAP(&heap);
}

static void test_lock_no_auto_collect(void)
{
    setup(1, RGC_AUTO_COLLECT);
    CHECK_EQ(fill_garbage(), nblocks);
    rgc_lock(&heap);
    CHECK(rgct_alloc_clean(&heap, 1, 0) == NULL);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.collections, 0); /* a locked heap never collects */
    CHECK_EQ(s.used_bytes, s.total_bytes);
    CHECK_EQ(s.failed_allocs, 1);
    rgc_unlock(&heap);
    CHECK(rgct_alloc_clean(&heap, 1, 0) != NULL);
    CHECK_EQ(rgct_stats(&heap).collections, 1);
}

static void test_no_alloc(void)
{
    setup(1, RGC_NO_ALLOC);
    rgc_stats s0 = rgct_stats(&heap);
    CHECK(rgc_alloc(&heap, 1, 0) == NULL);
    CHECK(rgc_alloc(&heap, RGC_BLOCK_BYTES, RGC_FINALISER) == NULL);
    rgc_stats s1 = rgct_stats(&heap);
    CHECK_EQ(s1.misuse, s0.misuse + 2);
    CHECK_EQ(s1.failed_allocs, s0.failed_allocs); /* not a lack of memory nor a lock */
    CHECK_EQ(s1.used_bytes, 0);
    CHECK(rgc_realloc(&heap, NULL, 1, true) == NULL);
    CHECK_EQ(rgct_stats(&heap).used_bytes, 0);
    /* NO_ALLOC wins over AUTO_COLLECT, and nothing is collected */
    rgc_level_policy(&heap, 0, RGC_NO_ALLOC | RGC_AUTO_COLLECT);
    CHECK(rgc_alloc(&heap, 1, 0) == NULL);
    CHECK_EQ(rgct_stats(&heap).collections, 0);
    /* explicit collection is still allowed at a NO_ALLOC level */
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    /* other levels' policies do not affect level 0 */
    rgc_level_policy(&heap, 0, 0);
    rgc_level_policy(&heap, 1, RGC_NO_ALLOC);
    rgc_level_policy(&heap, RGC_MAX_LEVELS - 1, RGC_NO_ALLOC);
    unsigned m = rgct_stats(&heap).misuse;
    roots[0] = rgc_alloc(&heap, 1, 0);
    CHECK(roots[0] != NULL);
    CHECK_EQ(rgct_stats(&heap).misuse, m);
    /* bad levels */
    rgc_level_policy(&heap, RGC_MAX_LEVELS, 0);
    CHECK_EQ(rgct_stats(&heap).misuse, m + 1);
    rgc_level_policy(&heap, ~0u, RGC_NO_ALLOC);
    CHECK_EQ(rgct_stats(&heap).misuse, m + 2);
    roots[1] = rgc_alloc(&heap, 1, 0); /* level 0 untouched by the refused calls */
    CHECK(roots[1] != NULL);
    CHECK_HEAP(&heap);
}

/* roots[k] = rgc_alloc(n) from a clean stack (it may collect); run through RGCT_CALL. */
static RGCT_NOINLINE int alloc_root_clean(size_t k, size_t n)
{
    roots[k] = rgct_alloc_clean(&heap, n, 0);
    return roots[k] != NULL;
}

static RGCT_NOINLINE size_t root_size(size_t k)
{
    return rgc_size(&heap, roots[k]);
}

/* The test functions below hold no heap address themselves (the helpers do): nothing on their frames
 * can keep garbage alive. */
static void test_auto_collect_on_off(void)
{
    /* policy off: an allocation on a heap full of garbage fails without collecting */
    setup(1, 0);
    CHECK_EQ(fill_garbage(), nblocks);
    CHECK_EQ(RGCT_CALL(alloc_root_clean, 1, 1), 0);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.failed_allocs, 1);
    CHECK_EQ(s.collections, 0);
    CHECK_EQ(s.used_bytes, s.total_bytes);
    /* policy on: the same allocation collects and succeeds */
    rgc_level_policy(&heap, 0, RGC_AUTO_COLLECT);
    CHECK_EQ(RGCT_CALL(alloc_root_clean, 0, 3 * RGC_BLOCK_BYTES), 1);
    s = rgct_stats(&heap);
    CHECK_EQ(s.collections, 1);
    CHECK_EQ(s.failed_allocs, 1);
    CHECK_EQ(s.used_bytes, 3 * RGC_BLOCK_BYTES); /* everything else was garbage */
    CHECK_EQ(s.objects, 1);
    CHECK_HEAP(&heap);
}

static void test_auto_collect_default(void)
{
    /* the default policy of level 0 is RGC_AUTO_COLLECT */
    setup(0, 0);
    CHECK_EQ(fill_garbage(), nblocks);
    CHECK_EQ(rgct_stats(&heap).collections, 0);
    CHECK_EQ(RGCT_CALL(alloc_root_clean, 0, rgct_stats(&heap).total_bytes / 2), 1);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.collections, 1);
    CHECK_EQ(s.failed_allocs, 0);
    CHECK_EQ(s.objects, 1);
    CHECK_HEAP(&heap);
}

static void test_auto_collect_live(void)
{
    /* live objects: the collection does not help, the allocation fails and is counted */
    setup(1, RGC_AUTO_COLLECT);
    CHECK_EQ(RGCT_CALL(alloc_root_clean, 0, (nblocks - 2) * RGC_BLOCK_BYTES), 1);
    CHECK_EQ(RGCT_CALL(alloc_root_clean, 2, 3 * RGC_BLOCK_BYTES), 0);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.collections, 1);
    CHECK_EQ(s.failed_allocs, 1);
    CHECK_EQ(root_size(0), (nblocks - 2) * RGC_BLOCK_BYTES);
    CHECK_EQ(RGCT_CALL(alloc_root_clean, 1, 2 * RGC_BLOCK_BYTES), 1); /* fits without collecting */
    CHECK_EQ(rgct_stats(&heap).collections, 1);
    CHECK_EQ(rgct_stats(&heap).used_bytes, rgct_stats(&heap).total_bytes);
    CHECK_HEAP(&heap);
}

int main(void)
{
    RGCT_RUN(test_lock);
    RGCT_RUN(test_lock_free);
    RGCT_RUN(test_lock_realloc);
    RGCT_RUN(test_lock_no_auto_collect);
    RGCT_RUN(test_no_alloc);
    RGCT_RUN(test_auto_collect_on_off);
    RGCT_RUN(test_auto_collect_default);
    RGCT_RUN(test_auto_collect_live);
    return rgct_summary("test_policy_lock");
}
