/* test_alloc_free.c - rgc_alloc, rgc_free and rgc_size: sizes, alignment, zeroing, exhaustion,
 * fragmentation and every kind of bad pointer. */
#include "rgc_test.h"

#define HEAP_BYTES 16384
#define MAXOBJ (HEAP_BYTES / RGC_BLOCK_BYTES + 1)

static rgc_heap heap;
static _Alignas(64) unsigned char region[HEAP_BYTES];
static void *roots[MAXOBJ]; /* registered root range: keeps objects alive whatever the policy */
static size_t nblocks;
static const size_t ALIGN = RGCT_MIN(RGCT_BB, _Alignof(max_align_t));

static void setup(unsigned policy)
{
    CHECK_EQ(rgct_fresh(&heap, region, HEAP_BYTES), RGC_OK);
    memset(roots, 0, sizeof roots);
    CHECK_EQ(rgc_add_root(&heap, roots, sizeof roots), RGC_OK);
    rgc_level_policy(&heap, 0, policy);
    nblocks = rgct_stats(&heap).blocks;
    CHECK(nblocks > 100 && nblocks < MAXOBJ);
}

static int in_region(const void *p, size_t n)
{
    const unsigned char *c = p;
    return c >= region && c + n <= region + HEAP_BYTES;
}

static size_t nonzero_bytes(const void *p, size_t n)
{
    const unsigned char *c = p;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += c[i] != 0;
    return k;
}

/* Fill the heap with 1-block objects kept in roots[]; returns how many, sorted by address. */
static size_t fill_one_block(void)
{
    size_t n = 0;
    while (n < MAXOBJ) {
        void *p = rgc_alloc(&heap, 1, 0);
        if (!p)
            break;
        roots[n++] = p;
    }
    rgct_sort_ptrs(roots, n);
    return n;
}

static void test_sizes_alignment(void)
{
    setup(0);
    static const size_t ns[] = {1, 2, 7, 8, RGC_BLOCK_BYTES - 1, RGC_BLOCK_BYTES, RGC_BLOCK_BYTES + 1,
                                2 * RGC_BLOCK_BYTES, 3 * RGC_BLOCK_BYTES + 5, 1000, 4096};
    size_t used = 0;
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        unsigned char *p = rgc_alloc(&heap, ns[i], i % 2 ? RGC_FINALISER : 0);
        roots[i] = p;
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK_EQ(rgc_size(&heap, p), rgct_round(ns[i]));
        CHECK_EQ((uintptr_t)p % ALIGN, 0);
        CHECK(in_region(p, rgct_round(ns[i])));
        CHECK_EQ(nonzero_bytes(p, rgct_round(ns[i])), 0);
        used += rgct_round(ns[i]);
        memset(p, 0x5A, rgct_round(ns[i])); /* writable through the whole usable size */
    }
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.used_bytes, used);
    CHECK_EQ(s.objects, sizeof ns / sizeof ns[0]);
    CHECK_EQ(s.free_bytes, s.total_bytes - used);
    CHECK_EQ(s.misuse, 0);
    CHECK_EQ(s.failed_allocs, 0);
    CHECK_HEAP(&heap);
    /* the whole pool as one object */
    setup(0);
    rgc_stats e = rgct_stats(&heap);
    unsigned char *all = rgc_alloc(&heap, e.total_bytes, 0);
    CHECK(all != NULL);
    CHECK_EQ(rgc_size(&heap, all), e.total_bytes);
    CHECK(in_region(all, e.total_bytes));
    CHECK(rgc_alloc(&heap, 1, 0) == NULL);
    rgc_free(&heap, all);
    CHECK_EQ(rgct_stats(&heap).used_bytes, 0);
    CHECK_HEAP(&heap);
}

static void test_zeroed(void)
{
    setup(0);
    /* dirty, free, allocate the same size again: zero */
    unsigned char *p = rgc_alloc(&heap, 3 * RGC_BLOCK_BYTES, 0);
    CHECK(p != NULL);
    memset(p, 0xEE, 3 * RGC_BLOCK_BYTES);
    rgc_free(&heap, p);
    unsigned char *q = rgc_alloc(&heap, 3 * RGC_BLOCK_BYTES, 0);
    CHECK(q != NULL);
    CHECK_EQ(nonzero_bytes(q, 3 * RGC_BLOCK_BYTES), 0);
    rgc_free(&heap, q);
    /* dirty the whole pool through objects of mixed sizes, free them all, allocate everything again */
    size_t n = 0;
    for (;;) {
        size_t sz = 1 + (n * 37) % (3 * RGC_BLOCK_BYTES);
        unsigned char *o = rgc_alloc(&heap, sz, n % 3 == 0 ? RGC_FINALISER : 0);
        if (!o)
            break;
        memset(o, 0xEE, rgc_size(&heap, o));
        roots[n++] = o;
    }
    CHECK(n > 50);
    for (size_t i = 0; i < n; i++) {
        rgc_free(&heap, roots[i]);
        roots[i] = NULL;
    }
    CHECK_EQ(rgct_stats(&heap).used_bytes, 0);
    size_t m = 0, dirty = 0;
    for (;;) {
        unsigned char *o = rgc_alloc(&heap, 1 + (m * 11) % (2 * RGC_BLOCK_BYTES), 0);
        if (!o)
            break;
        dirty += nonzero_bytes(o, rgc_size(&heap, o));
        roots[m++] = o;
    }
    CHECK(m > 50);
    CHECK_EQ(dirty, 0);
    CHECK_HEAP(&heap);
}

static void test_bad_sizes(void)
{
    setup(RGC_AUTO_COLLECT);
    void *keep = rgc_alloc(&heap, 2 * RGC_BLOCK_BYTES, 0);
    roots[0] = keep;
    rgc_stats s0 = rgct_stats(&heap);
    CHECK(rgc_alloc(&heap, 0, 0) == NULL);
    rgc_stats s1 = rgct_stats(&heap);
    CHECK_EQ(s1.misuse, s0.misuse + 1);
    CHECK_EQ(s1.failed_allocs, s0.failed_allocs);
    CHECK_EQ(s1.used_bytes, s0.used_bytes);
    const size_t big[] = {s0.total_bytes + 1, s0.total_bytes + RGC_BLOCK_BYTES, 2 * s0.total_bytes,
                          SIZE_MAX / 2, SIZE_MAX - RGC_BLOCK_BYTES + 2, SIZE_MAX - 1, SIZE_MAX};
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        rgc_stats a = rgct_stats(&heap);
        CHECK(rgc_alloc(&heap, big[i], 0) == NULL);
        CHECK(rgc_alloc(&heap, big[i], RGC_FINALISER) == NULL);
        rgc_stats b = rgct_stats(&heap);
        /* "larger than the heap": counted (as misuse by the header; failed would be tolerable) */
        CHECK_EQ((b.misuse - a.misuse) + (b.failed_allocs - a.failed_allocs), 2);
        CHECK_EQ(b.misuse - a.misuse, 2);
        CHECK_EQ(b.used_bytes, s0.used_bytes);
        CHECK_EQ(b.objects, s0.objects);
        CHECK_HEAP(&heap);
    }
    CHECK_EQ(rgc_size(&heap, keep), 2 * RGC_BLOCK_BYTES);
    /* still usable */
    void *p = rgc_alloc(&heap, 1, 0);
    CHECK(p != NULL);
    rgc_free(&heap, p);
}

static void test_exhaust(void)
{
    setup(0);
    size_t n = fill_one_block();
    CHECK_EQ(n, nblocks);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.failed_allocs, 1);
    CHECK_EQ(s.used_bytes, s.total_bytes);
    CHECK_EQ(s.free_bytes, 0);
    CHECK_EQ(s.largest_free_bytes, 0);
    CHECK_EQ(s.objects, nblocks);
    CHECK_EQ(s.collections, 0);
    CHECK(rgc_alloc(&heap, 1, 0) == NULL);
    CHECK(rgc_alloc(&heap, 1, RGC_FINALISER) == NULL);
    CHECK_EQ(rgct_stats(&heap).failed_allocs, 3);
    CHECK_EQ(rgct_stats(&heap).misuse, 0);
    /* no overlap: consecutive addresses are a block apart; patterns survive */
    size_t overlap = 0;
    for (size_t i = 1; i < n; i++)
        overlap += (size_t)((unsigned char *)roots[i] - (unsigned char *)roots[i - 1]) < RGC_BLOCK_BYTES;
    CHECK_EQ(overlap, 0);
    for (size_t i = 0; i < n; i++)
        memset(roots[i], (int)(i * 7 + 1), RGC_BLOCK_BYTES);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char *c = roots[i];
        for (size_t k = 0; k < RGC_BLOCK_BYTES; k++)
            bad += c[k] != (unsigned char)(i * 7 + 1);
    }
    CHECK_EQ(bad, 0);
    CHECK_HEAP(&heap);
    /* with automatic collection on, a full heap of live objects still fails, after collecting */
    rgc_level_policy(&heap, 0, RGC_AUTO_COLLECT);
    CHECK(rgct_alloc_clean(&heap, 1, 0) == NULL);
    rgc_stats t = rgct_stats(&heap);
    CHECK_EQ(t.failed_allocs, 4);
    CHECK_EQ(t.collections, 1);
    CHECK_EQ(t.objects, nblocks);
    size_t alive = 0;
    for (size_t i = 0; i < n; i++)
        alive += rgc_size(&heap, roots[i]) == RGC_BLOCK_BYTES;
    CHECK_EQ(alive, n);
}

static void test_fragmented(void)
{
    setup(0);
    size_t n = fill_one_block();
    CHECK_EQ(n, nblocks);
    static void *freed[MAXOBJ];
    size_t nf = 0;
    for (size_t i = 0; i < n; i += 2) {
        rgc_free(&heap, roots[i]);
        CHECK_EQ(rgc_size(&heap, roots[i]), 0);
        freed[nf++] = roots[i];
        roots[i] = NULL;
    }
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.largest_free_bytes, RGC_BLOCK_BYTES);
    CHECK_EQ(s.free_bytes, nf * RGC_BLOCK_BYTES);
    CHECK_EQ(s.objects, n - nf);
    CHECK(rgc_alloc(&heap, RGC_BLOCK_BYTES + 1, 0) == NULL);
    CHECK(rgc_alloc(&heap, 2 * RGC_BLOCK_BYTES, 0) == NULL);
    CHECK_EQ(rgct_stats(&heap).failed_allocs, s.failed_allocs + 2);
    CHECK_HEAP(&heap);
    /* exactly the freed single blocks come back */
    size_t got = 0, known = 0;
    for (size_t i = 0; i < n; i += 2) {
        void *p = rgc_alloc(&heap, RGC_BLOCK_BYTES, 0);
        CHECK(p != NULL);
        if (!p)
            break;
        roots[i] = p;
        got++;
        known += bsearch(&p, freed, nf, sizeof freed[0], rgct_ptr_cmp) != NULL;
    }
    CHECK_EQ(got, nf);
    CHECK_EQ(known, nf);
    CHECK(rgc_alloc(&heap, 1, 0) == NULL);
    CHECK_HEAP(&heap);
}

/* Stats that a refused call must leave as they were. */
static int same_heap(const rgc_stats *a, const rgc_stats *b)
{
    return a->used_bytes == b->used_bytes && a->free_bytes == b->free_bytes &&
           a->largest_free_bytes == b->largest_free_bytes && a->objects == b->objects &&
           a->failed_allocs == b->failed_allocs;
}

static unsigned expected_misuse;

static void expect_free_misuse(void *p, int line)
{
    expected_misuse++;
    rgc_stats a = rgct_stats(&heap);
    rgc_free(&heap, p);
    rgc_stats b = rgct_stats(&heap);
    if (b.misuse != a.misuse + 1 || !same_heap(&a, &b))
        fprintf(stderr, "  (rgc_free(%p) called from line %d: misuse %u -> %u, used %zu -> %zu)\n", p,
                line, a.misuse, b.misuse, a.used_bytes, b.used_bytes);
    CHECK_EQ(b.misuse, a.misuse + 1);
    CHECK(same_heap(&a, &b));
    CHECK_HEAP(&heap);
}

static void test_free(void)
{
    setup(0);
    expected_misuse = 0;
    unsigned char *a = rgc_alloc(&heap, 2 * RGC_BLOCK_BYTES, 0);
    unsigned char *b = rgc_alloc(&heap, RGC_BLOCK_BYTES, RGC_FINALISER);
    roots[0] = a;
    roots[1] = b;
    CHECK(a && b);
    /* NULL is ignored and is no misuse */
    rgc_stats s0 = rgct_stats(&heap);
    rgc_free(&heap, NULL);
    rgc_stats s1 = rgct_stats(&heap);
    CHECK_EQ(s1.misuse, s0.misuse);
    CHECK(same_heap(&s0, &s1));
    /* foreign pointers */
    int local = 0;
    static int global;
    expect_free_misuse(&local, __LINE__);
    expect_free_misuse(&global, __LINE__);
    if (rgc_size(&heap, region) == 0)
        expect_free_misuse(region, __LINE__); /* the region start: tables, or a free pool block */
    expect_free_misuse(region + HEAP_BYTES, __LINE__);     /* just past the region */
    expect_free_misuse(region + HEAP_BYTES - 1, __LINE__); /* last byte of the region */
    /* interior pointers into the 2-block object */
    expect_free_misuse(a + 1, __LINE__);
    expect_free_misuse(a + 8, __LINE__);
    expect_free_misuse(a + RGC_BLOCK_BYTES, __LINE__);
    expect_free_misuse(a + 2 * RGC_BLOCK_BYTES - 1, __LINE__);
    CHECK_EQ(rgc_size(&heap, a), 2 * RGC_BLOCK_BYTES);
    CHECK_EQ(rgc_size(&heap, a + 8), 0);
    CHECK_EQ(rgc_size(&heap, a + RGC_BLOCK_BYTES), 0);
    CHECK_EQ(rgc_size(&heap, &local), 0);
    CHECK_EQ(rgc_size(&heap, NULL), 0);
    CHECK_EQ(rgc_size(&heap, region + HEAP_BYTES), 0);
    /* a block-aligned pointer into free pool space */
    unsigned char *c = rgc_alloc(&heap, RGC_BLOCK_BYTES, 0);
    CHECK(c != NULL);
    rgc_free(&heap, c);
    CHECK_EQ(rgc_size(&heap, c), 0);
    expect_free_misuse(c, __LINE__); /* double free */
    expect_free_misuse(c, __LINE__);
    /* b is freed, a untouched */
    rgc_free(&heap, b);
    CHECK_EQ(rgc_size(&heap, b), 0);
    CHECK_EQ(rgc_size(&heap, a), 2 * RGC_BLOCK_BYTES);
    expect_free_misuse(b, __LINE__);
    rgc_stats s2 = rgct_stats(&heap);
    CHECK_EQ(s2.used_bytes, 2 * RGC_BLOCK_BYTES);
    CHECK_EQ(s2.objects, 1);
    CHECK_EQ(s2.misuse, expected_misuse);
    rgc_free(&heap, a);
    CHECK_EQ(rgct_stats(&heap).used_bytes, 0);
    CHECK_HEAP(&heap);
}

static void test_free_reuse(void)
{
    setup(0);
    size_t n = fill_one_block();
    CHECK_EQ(n, nblocks);
    /* freeing one block of a full heap makes exactly that block allocatable */
    void *mid = roots[n / 2];
    /* a pointer just past the pool end (computed from the highest object) is foreign */
    unsigned char *end = (unsigned char *)roots[n - 1] + RGC_BLOCK_BYTES;
    expect_free_misuse(end, __LINE__);
    expect_free_misuse((unsigned char *)roots[0] - RGC_BLOCK_BYTES, __LINE__); /* just before it */
    rgc_free(&heap, mid);
    CHECK_EQ(rgc_size(&heap, mid), 0);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.free_bytes, RGC_BLOCK_BYTES);
    CHECK_EQ(s.largest_free_bytes, RGC_BLOCK_BYTES);
    void *again = rgc_alloc(&heap, RGC_BLOCK_BYTES, 0);
    CHECK_PTR(again, mid);
    CHECK(rgc_alloc(&heap, 1, 0) == NULL);
    /* free three neighbours: a 3-block request fits exactly there */
    rgc_free(&heap, roots[10]);
    rgc_free(&heap, roots[11]);
    rgc_free(&heap, roots[12]);
    CHECK_EQ(rgct_stats(&heap).largest_free_bytes, 3 * RGC_BLOCK_BYTES);
    void *three = rgc_alloc(&heap, 3 * RGC_BLOCK_BYTES, 0);
    CHECK_PTR(three, roots[10]);
    CHECK_EQ(rgc_size(&heap, three), 3 * RGC_BLOCK_BYTES);
    CHECK_EQ(rgc_size(&heap, roots[11]), 0); /* now a TAIL of `three` */
    expect_free_misuse(roots[11], __LINE__);
    CHECK_EQ(rgc_size(&heap, three), 3 * RGC_BLOCK_BYTES);
    CHECK_HEAP(&heap);
}

int main(void)
{
    RGCT_RUN(test_sizes_alignment);
    RGCT_RUN(test_zeroed);
    RGCT_RUN(test_bad_sizes);
    RGCT_RUN(test_exhaust);
    RGCT_RUN(test_fragmented);
    RGCT_RUN(test_free);
    RGCT_RUN(test_free_reuse);
    return rgct_summary("test_alloc_free");
}
