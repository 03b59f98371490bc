/* test_init.c - rgc_init argument checking, sizing, table placement, and calls on an uninitialised heap. */
#include "rgc_test.h"

#define CANARY_BYTES 256
#define CANARY 0xC5

static rgc_heap heap;
static _Alignas(64) unsigned char region[65536 + 64 + CANARY_BYTES];

static void test_bad_arguments(void)
{
    CHECK_EQ(rgc_init(NULL, region, 4096), RGC_EINVAL);
    memset((void *)&heap, 0, sizeof heap);
    CHECK_EQ(rgc_init(&heap, NULL, 4096), RGC_EINVAL);
    CHECK_EQ(rgc_init(&heap, NULL, 0), RGC_EINVAL);
    /* mem not aligned to a pointer */
    for (size_t off = 1; off < sizeof(void *); off++)
        CHECK_EQ(rgc_init(&heap, region + off, 4096), RGC_EINVAL);
    /* too small */
    CHECK_EQ(rgc_init(&heap, region, 0), RGC_EINVAL);
    CHECK_EQ(rgc_init(&heap, region, 1), RGC_EINVAL);
    CHECK_EQ(rgc_init(&heap, region, 2), RGC_EINVAL);
    CHECK_EQ(rgc_init(&heap, region, sizeof(void *)), RGC_EINVAL);
    CHECK_EQ(rgc_init(&heap, region, RGC_BLOCK_BYTES - 1), RGC_EINVAL);
    /* One block needs the block plus its table bytes, so RGC_BLOCK_BYTES alone is too small. */
    CHECK_EQ(rgc_init(&heap, region, RGC_BLOCK_BYTES), RGC_EINVAL);
    /* A caller built with other layout options than librgc (its rgc_heap of another size) */
    CHECK_EQ(rgc_init_sized(&heap, region, 4096, sizeof heap - sizeof(void *)), RGC_EINVAL);
    CHECK_EQ(rgc_init_sized(&heap, region, 4096, sizeof heap + 64), RGC_EINVAL);
    /* A failed init leaves a heap that refuses work. */
    CHECK(rgc_alloc(&heap, 1, 0) == NULL);
    CHECK(rgc_collect(&heap) != RGC_OK);
    /* the function itself (not the macro) works as before */
    CHECK_EQ((rgc_init)(&heap, region, 4096), RGC_OK);
    CHECK_HEAP(&heap);
}

/* Figures right after a successful init of `bytes` at `mem`. */
static void check_fresh_figures(void *mem, size_t bytes)
{
    rgc_stats s = rgct_stats(&heap);
    CHECK(s.blocks >= 1);
    CHECK_EQ(s.total_bytes, s.blocks * RGC_BLOCK_BYTES);
    CHECK(s.total_bytes <= bytes);
    /* the tables (2 + 1 bits per block) fit next to the pool */
    CHECK(s.total_bytes + (s.blocks + 3) / 4 + (s.blocks + 7) / 8 <= bytes);
    CHECK_EQ(s.used_bytes, 0);
    CHECK_EQ(s.free_bytes, s.total_bytes);
    CHECK_EQ(s.largest_free_bytes, s.total_bytes);
    CHECK_EQ(s.objects, 0);
    CHECK_EQ(s.collections, 0);
    CHECK_EQ(s.busy_collections, 0);
    CHECK_EQ(s.failed_allocs, 0);
    CHECK_EQ(s.misuse, 0);
    CHECK_EQ(s.deferred_frees, 0);
    CHECK_HEAP(&heap);
    CHECK_EQ(rgc_busy_depth(&heap), 0);
    (void)mem;
}

static void test_smallest(void)
{
    size_t smallest = 0;
    for (size_t n = 0; n <= 16 * RGC_BLOCK_BYTES; n++) {
        memset((void *)&heap, 0, sizeof heap);
        if (rgc_init(&heap, region, n) == RGC_OK) {
            smallest = n;
            break;
        }
    }
    CHECK(smallest > 0);
    if (smallest == 0)
        return;
    printf("smallest heap: %zu bytes (RGC_BLOCK_BYTES %d)\n", smallest, RGC_BLOCK_BYTES);
    check_fresh_figures(region, smallest);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.blocks, 1);
    /* 3 bits of tables need at least one byte; alignment may cost a little more */
    CHECK(smallest >= RGC_BLOCK_BYTES + 1);
    /* the one block is usable, zeroed, inside the region */
    rgct_scribble(region, 0xAB, sizeof region);
    rgct_fresh(&heap, region, smallest);
    rgc_level_policy(&heap, 0, 0);
    unsigned char *p = rgc_alloc(&heap, RGC_BLOCK_BYTES, 0);
    CHECK(p != NULL);
    if (p) {
        CHECK(p >= region && p + RGC_BLOCK_BYTES <= region + smallest);
        size_t nz = 0;
        for (size_t i = 0; i < RGC_BLOCK_BYTES; i++)
            nz += p[i] != 0;
        CHECK_EQ(nz, 0);
        CHECK_EQ(rgc_size(&heap, p), RGC_BLOCK_BYTES);
        CHECK(rgc_alloc(&heap, 1, 0) == NULL);
    }
    CHECK_HEAP(&heap);
    /* every size between the smallest and a few blocks works too, and never claims more than given */
    for (size_t n = smallest; n < smallest + 8 * RGC_BLOCK_BYTES; n++) {
        CHECK_EQ(rgct_fresh(&heap, region, n), RGC_OK);
        rgc_stats t = rgct_stats(&heap);
        CHECK(t.blocks >= 1 && t.total_bytes == t.blocks * RGC_BLOCK_BYTES && t.total_bytes <= n);
    }
}

/* Fill every block of a heap of `bytes` at `mem` with 0xFF through the API and check that the canary
 * after the region is intact and the tables were not overwritten. */
static void fill_and_check(unsigned char *mem, size_t bytes)
{
    rgct_scribble(region, CANARY, sizeof region);
    CHECK_EQ(rgct_fresh(&heap, mem, bytes), RGC_OK);
    check_fresh_figures(mem, bytes);
    rgc_level_policy(&heap, 0, 0); /* no automatic collection: nothing refers to the objects */
    rgc_stats s = rgct_stats(&heap);
    size_t count = 0, bytes_seen = 0;
    unsigned char *lo = NULL, *hi = NULL;
    for (;;) {
        unsigned char *p = rgc_alloc(&heap, 1, 0);
        if (!p)
            break;
        count++;
        size_t sz = rgc_size(&heap, p);
        CHECK_EQ(sz, RGC_BLOCK_BYTES);
        /* inside the region and aligned to the pool alignment */
        CHECK(p >= mem && p + sz <= mem + bytes);
        CHECK_EQ((uintptr_t)p % RGCT_MIN(RGCT_BB, _Alignof(max_align_t)), 0);
        memset(p, 0xFF, sz);
        bytes_seen += sz;
        if (!lo || p < lo)
            lo = p;
        if (!hi || p + sz > hi)
            hi = p + sz;
        if (count > s.blocks)
            break;
    }
    CHECK_EQ(count, s.blocks);
    CHECK_EQ(bytes_seen, s.total_bytes);
    CHECK(lo != NULL && (size_t)(hi - lo) == s.total_bytes); /* the pool is one contiguous range */
    /* canary after the region intact */
    size_t bad = 0;
    for (size_t i = 0; i < CANARY_BYTES; i++)
        bad += mem[bytes + i] != CANARY;
    CHECK_EQ(bad, 0);
    /* nor before it (when the region starts after the start of the buffer) */
    bad = 0;
    for (unsigned char *c = region; c < mem; c++)
        bad += *c != CANARY;
    CHECK_EQ(bad, 0);
    /* 0xFF everywhere in the pool did not touch the tables */
    CHECK_HEAP(&heap);
    rgc_stats t = rgct_stats(&heap);
    CHECK_EQ(t.used_bytes, t.total_bytes);
    CHECK_EQ(t.free_bytes, 0);
    CHECK_EQ(t.largest_free_bytes, 0);
    CHECK_EQ(t.objects, s.blocks);
    CHECK_EQ(t.failed_allocs, 1);
    CHECK_EQ(t.misuse, 0);
    /* table bytes + pool fit inside the region: everything between mem and the pool start or after
     * the pool end (the tables) plus the pool is at most `bytes` */
    CHECK(lo >= mem && hi <= mem + bytes);
}

static void test_sizes_and_canary(void)
{
    static const size_t sizes[] = {64, 100, 257, 1000, 4096, 4097, 4099, 12345, 65536};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (sizes[i] < 2 * RGC_BLOCK_BYTES) /* (a non-default, larger block) */
            continue;
        fill_and_check(region, sizes[i]);
        /* pointer-aligned but not block- or 16-aligned start */
        fill_and_check(region + sizeof(void *), sizes[i]);
        fill_and_check(region + 3 * sizeof(void *), sizes[i] - 3);
    }
    /* overhead: MicroPython-like 3 bits per block + 1 free-map bit per 64 blocks, alignment aside */
    CHECK_EQ(rgct_fresh(&heap, region, 65536), RGC_OK);
    rgc_stats s = rgct_stats(&heap);
    size_t ideal = 65536u * 8u * 64u / ((8 * RGC_BLOCK_BYTES + 3) * 64u + 1u);
    printf("65536 bytes -> %zu blocks (ideal %zu)\n", s.blocks, ideal);
    CHECK(s.blocks + 4 >= ideal);
    CHECK(s.blocks <= ideal);
}

static void test_reinit(void)
{
    /* rgc_init on a used handle starts afresh */
    CHECK_EQ(rgct_fresh(&heap, region, 8192), RGC_OK);
    rgc_level_policy(&heap, 0, 0);
    for (int i = 0; i < 10; i++)
        CHECK(rgc_alloc(&heap, 3 * RGC_BLOCK_BYTES, 0) != NULL);
    CHECK_EQ(rgc_init(&heap, region, 8192), RGC_OK);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.used_bytes, 0);
    CHECK_EQ(s.objects, 0);
    CHECK_EQ(s.largest_free_bytes, s.total_bytes);
    CHECK_HEAP(&heap);
}

static int finalised;
static void count_fin(void *obj)
{
    (void)obj;
    finalised++;
}

/* Every call on a zeroed handle that never went through rgc_init must be refused without crashing. */
static void test_uninitialised(void)
{
    static rgc_heap z; /* all zero */
    int local = 0;
    CHECK(rgc_alloc(&z, 16, 0) == NULL);
    CHECK(rgc_alloc(&z, 16, RGC_FINALISER) == NULL);
    CHECK(rgc_realloc(&z, NULL, 16, true) == NULL);
    CHECK(rgc_realloc(&z, &local, 16, true) == NULL);
    rgc_free(&z, NULL);
    rgc_free(&z, &local);
    CHECK_EQ(rgc_size(&z, &local), 0);
    CHECK_EQ(rgc_size(&z, NULL), 0);
    CHECK_EQ(rgc_collect(&z), RGC_EINVAL);
    int c = rgc_check(&z);
    CHECK(c == RGC_ECORRUPT || c == RGC_EINVAL);
    void *slot = NULL;
    rgc_write(&z, &slot, &local);
    CHECK_PTR(slot, &local); /* still a store: the caller's data must not be lost */
    rgc_lock(&z);
    rgc_unlock(&z);
    rgc_unlock(&z);
    rgc_set_finaliser(&z, count_fin);
    rgc_level_policy(&z, 0, RGC_AUTO_COLLECT);
    rgc_level_policy(&z, RGC_MAX_LEVELS, 0);
    static void *globals[4];
    (void)rgc_add_root(&z, globals, sizeof globals);
    rgc_stats s;
    memset(&s, 0, sizeof s);
    rgc_get_stats(&z, &s);
    CHECK_EQ(s.total_bytes, 0);
    CHECK_EQ(s.used_bytes, 0);
    CHECK_EQ(s.objects, 0);
    CHECK_EQ(rgc_busy_depth(&z), 0);
    struct rgct_text *t = malloc(sizeof *t);
    memset(t, 0, sizeof *t);
    rgc_dump(&z, rgct_text_print, t);
    static char map[64];
    const char *m = rgct_dump_map(&z, t, map, sizeof map);
    CHECK(m == NULL || m[0] == 0); /* no heap map (a message is fine) */
    free(t);
    CHECK_EQ(rgc_collect(&z), RGC_EINVAL);
    CHECK(rgc_alloc(&z, 16, 0) == NULL);
    CHECK_EQ(finalised, 0);
}

int main(void)
{
    RGCT_RUN(test_bad_arguments);
    RGCT_RUN(test_smallest);
    RGCT_RUN(test_sizes_and_canary);
    RGCT_RUN(test_reinit);
    RGCT_RUN(test_uninitialised);
    return rgct_summary("test_init");
}
