/* test_realloc.c - rgc_realloc: NULL/0 cases, shrink, grow in place, blocked growth with and without
 * moving, the finaliser flag across a move, and bad pointers. */
#include "rgc_test.h"

#define HEAP_BYTES 16384
#define MAXOBJ (HEAP_BYTES / RGC_BLOCK_BYTES + 1)

static rgc_heap heap;
static _Alignas(64) unsigned char region[HEAP_BYTES];
static void *roots[MAXOBJ]; /* registered root range */
static size_t nblocks;

/* Not a root range: the collector never sees these (used to follow objects expected to die). */
static void *track[8];

static int nfinalised;
static void *finalised_at[64];
static void fin(void *obj)
{
    if (nfinalised < 64)
        finalised_at[nfinalised] = obj;
    nfinalised++;
}

static void setup(void)
{
    CHECK_EQ(rgct_fresh(&heap, region, HEAP_BYTES), RGC_OK);
    memset(roots, 0, sizeof roots);
    memset(track, 0, sizeof track);
    CHECK_EQ(rgc_add_root(&heap, roots, sizeof roots), RGC_OK);
    rgc_level_policy(&heap, 0, 0);
    rgc_set_finaliser(&heap, fin);
    nfinalised = 0;
    nblocks = rgct_stats(&heap).blocks;
    CHECK(nblocks > 200 && nblocks < MAXOBJ);
}

/* Fill the heap with 1-block objects in roots[], sorted by address. */
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
    CHECK_EQ(n, nblocks);
    return n;
}

static void pattern(void *p, size_t n, unsigned seed)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        c[i] = (unsigned char)(seed * 13 + i * 7 + 1);
}

static size_t pattern_errors(const void *p, size_t n, unsigned seed)
{
    const unsigned char *c = p;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += c[i] != (unsigned char)(seed * 13 + i * 7 + 1);
    return bad;
}

static size_t nonzero_bytes(const void *p, size_t n)
{
    const unsigned char *c = p;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += c[i] != 0;
    return k;
}

static int same_heap(const rgc_stats *a, const rgc_stats *b)
{
    return a->used_bytes == b->used_bytes && a->free_bytes == b->free_bytes &&
           a->largest_free_bytes == b->largest_free_bytes && a->objects == b->objects;
}

static void test_null_and_zero(void)
{
    setup();
    unsigned char *p = rgc_realloc(&heap, NULL, 3 * RGC_BLOCK_BYTES - 3, false);
    roots[0] = p;
    CHECK(p != NULL);
    CHECK_EQ(rgc_size(&heap, p), 3 * RGC_BLOCK_BYTES);
    CHECK_EQ(nonzero_bytes(p, 3 * RGC_BLOCK_BYTES), 0);
    unsigned char *q = rgc_realloc(&heap, NULL, 1, true);
    roots[1] = q;
    CHECK(q != NULL && q != p);
    CHECK_EQ(rgc_size(&heap, q), RGC_BLOCK_BYTES);
    /* realloc(NULL) allocates without a finaliser: the map shows 'h', never 'f' */
    static struct rgct_text t;
    static char map[HEAP_BYTES / RGC_BLOCK_BYTES + 2];
    const char *m = rgct_dump_map(&heap, &t, map, sizeof map);
    CHECK(m != NULL);
    if (m) {
        CHECK(strchr(m, 'f') == NULL);
        size_t heads = 0;
        for (const char *c = m; *c; c++)
            heads += *c == 'h';
        CHECK_EQ(heads, 2);
    }
    rgc_stats s0 = rgct_stats(&heap);
    CHECK_EQ(s0.used_bytes, 4 * RGC_BLOCK_BYTES);
    /* n == 0 frees and returns NULL, no misuse */
    CHECK(rgc_realloc(&heap, p, 0, true) == NULL);
    CHECK_EQ(rgc_size(&heap, p), 0);
    CHECK(rgc_realloc(&heap, q, 0, false) == NULL);
    CHECK_EQ(rgc_size(&heap, q), 0);
    rgc_stats s1 = rgct_stats(&heap);
    CHECK_EQ(s1.used_bytes, 0);
    CHECK_EQ(s1.objects, 0);
    CHECK_EQ(s1.misuse, 0);
    /* NULL and 0: nothing to allocate */
    CHECK(rgc_realloc(&heap, NULL, 0, true) == NULL);
    CHECK_EQ(rgct_stats(&heap).used_bytes, 0);
    CHECK_HEAP(&heap);
}

static void test_same_and_shrink(void)
{
    setup();
    unsigned char *x = rgc_alloc(&heap, 4 * RGC_BLOCK_BYTES, 0);
    CHECK(x != NULL);
    if (!x)
        return;
    roots[0] = x;
    size_t n = 1;
    while (n < MAXOBJ && (roots[n] = rgc_alloc(&heap, 1, 0)) != NULL)
        n++;
    CHECK_EQ(n, nblocks - 3);
    pattern(x, 4 * RGC_BLOCK_BYTES, 1);
    /* same size (and a size rounding to the same blocks): same pointer, nothing changes */
    CHECK_PTR(rgc_realloc(&heap, x, 4 * RGC_BLOCK_BYTES, false), x);
    CHECK_PTR(rgc_realloc(&heap, x, 3 * RGC_BLOCK_BYTES + 1, true), x);
    CHECK_EQ(rgc_size(&heap, x), 4 * RGC_BLOCK_BYTES);
    CHECK_EQ(pattern_errors(x, 4 * RGC_BLOCK_BYTES, 1), 0);
    /* shrink to 2 blocks, then to 1: same pointer, contents kept */
    rgc_stats s0 = rgct_stats(&heap);
    CHECK_PTR(rgc_realloc(&heap, x, RGC_BLOCK_BYTES + 1, false), x);
    CHECK_EQ(rgc_size(&heap, x), 2 * RGC_BLOCK_BYTES);
    CHECK_EQ(pattern_errors(x, 2 * RGC_BLOCK_BYTES, 1), 0);
    CHECK_PTR(rgc_realloc(&heap, x, 1, true), x);
    CHECK_EQ(rgc_size(&heap, x), RGC_BLOCK_BYTES);
    CHECK_EQ(pattern_errors(x, RGC_BLOCK_BYTES, 1), 0);
    rgc_stats s1 = rgct_stats(&heap);
    CHECK_EQ(s1.used_bytes, s0.used_bytes - 3 * RGC_BLOCK_BYTES);
    CHECK_EQ(s1.largest_free_bytes, 3 * RGC_BLOCK_BYTES);
    CHECK_EQ(s1.objects, s0.objects);
    CHECK_EQ(s1.misuse, 0);
    CHECK_HEAP(&heap);
    /* the released blocks are allocatable: the only 3-block run starts right after x */
    unsigned char *r = rgc_alloc(&heap, 3 * RGC_BLOCK_BYTES, 0);
    CHECK_PTR(r, x + RGC_BLOCK_BYTES);
    CHECK_EQ(nonzero_bytes(r, 3 * RGC_BLOCK_BYTES), 0); /* released bytes come back zeroed */
    CHECK(rgc_alloc(&heap, 1, 0) == NULL);
    CHECK_EQ(rgc_size(&heap, x), RGC_BLOCK_BYTES);
    CHECK_HEAP(&heap);
}

static void test_grow_in_place(void)
{
    setup();
    size_t n = fill_one_block();
    if (n < 100)
        return;
    unsigned char *a = roots[20];
    pattern(a, RGC_BLOCK_BYTES, 2);
    memset(roots[21], 0xEE, RGC_BLOCK_BYTES);
    memset(roots[22], 0xEE, RGC_BLOCK_BYTES);
    rgc_free(&heap, roots[21]);
    rgc_free(&heap, roots[22]);
    CHECK_PTR(rgc_realloc(&heap, a, 2 * RGC_BLOCK_BYTES + 1, false), a);
    CHECK_EQ(rgc_size(&heap, a), 3 * RGC_BLOCK_BYTES);
    CHECK_EQ(pattern_errors(a, RGC_BLOCK_BYTES, 2), 0);
    CHECK_EQ(nonzero_bytes(a + RGC_BLOCK_BYTES, 2 * RGC_BLOCK_BYTES), 0);
    CHECK_EQ(rgc_size(&heap, roots[21]), 0);
    CHECK_EQ(rgct_stats(&heap).free_bytes, 0);
    /* with allow_move, growth still happens in place when it can */
    unsigned char *b = roots[60];
    pattern(b, RGC_BLOCK_BYTES, 3);
    memset(roots[61], 0xEE, RGC_BLOCK_BYTES);
    rgc_free(&heap, roots[61]);
    CHECK_PTR(rgc_realloc(&heap, b, 2 * RGC_BLOCK_BYTES, true), b);
    CHECK_EQ(rgc_size(&heap, b), 2 * RGC_BLOCK_BYTES);
    CHECK_EQ(pattern_errors(b, RGC_BLOCK_BYTES, 3), 0);
    CHECK_EQ(nonzero_bytes(b + RGC_BLOCK_BYTES, RGC_BLOCK_BYTES), 0);
    /* grow, shrink, grow again over the blocks just released */
    CHECK_PTR(rgc_realloc(&heap, b, 1, false), b);
    rgct_scribble(b + RGC_BLOCK_BYTES, 0xEE, RGC_BLOCK_BYTES); /* dirty the released (free) block */
    CHECK_PTR(rgc_realloc(&heap, b, 2 * RGC_BLOCK_BYTES, false), b);
    CHECK_EQ(nonzero_bytes(b + RGC_BLOCK_BYTES, RGC_BLOCK_BYTES), 0);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.used_bytes, s.total_bytes);
    CHECK_EQ(s.objects, n - 3);
    CHECK_EQ(s.misuse, 0);
    CHECK_HEAP(&heap);
}

static void test_grow_blocked(void)
{
    setup();
    size_t n = fill_one_block();
    if (n < 120)
        return;
    unsigned char *a = roots[40];
    pattern(a, RGC_BLOCK_BYTES, 4);
    rgc_stats s0 = rgct_stats(&heap);
    /* next block taken, no room anywhere */
    CHECK(rgc_realloc(&heap, a, 2 * RGC_BLOCK_BYTES, false) == NULL);
    CHECK(rgc_realloc(&heap, a, 2 * RGC_BLOCK_BYTES, true) == NULL);
    CHECK_EQ(rgc_size(&heap, a), RGC_BLOCK_BYTES);
    CHECK_EQ(pattern_errors(a, RGC_BLOCK_BYTES, 4), 0);
    rgc_stats s1 = rgct_stats(&heap);
    CHECK(same_heap(&s0, &s1));
    CHECK_EQ(s1.misuse, 0);
    CHECK_HEAP(&heap);
    /* room elsewhere (a 3-block run), but not after a */
    for (int i = 100; i < 103; i++) {
        memset(roots[i], 0xEE, RGC_BLOCK_BYTES);
        rgc_free(&heap, roots[i]);
    }
    CHECK(rgc_realloc(&heap, a, 3 * RGC_BLOCK_BYTES, false) == NULL);
    CHECK_EQ(rgc_size(&heap, a), RGC_BLOCK_BYTES);
    CHECK_EQ(pattern_errors(a, RGC_BLOCK_BYTES, 4), 0);
    /* a 4-block request fits nowhere even when moving */
    CHECK(rgc_realloc(&heap, a, 4 * RGC_BLOCK_BYTES, true) == NULL);
    CHECK_EQ(rgc_size(&heap, a), RGC_BLOCK_BYTES);
    CHECK_EQ(pattern_errors(a, RGC_BLOCK_BYTES, 4), 0);
    /* moving: copied, rest zeroed, old copy freed */
    unsigned char *m = rgc_realloc(&heap, a, 3 * RGC_BLOCK_BYTES, true);
    CHECK_PTR(m, roots[100]);
    if (!m)
        return;
    roots[40] = m;
    CHECK_EQ(rgc_size(&heap, m), 3 * RGC_BLOCK_BYTES);
    CHECK_EQ(pattern_errors(m, RGC_BLOCK_BYTES, 4), 0);
    CHECK_EQ(nonzero_bytes(m + RGC_BLOCK_BYTES, 2 * RGC_BLOCK_BYTES), 0);
    CHECK_EQ(rgc_size(&heap, a), 0);
    rgc_stats s2 = rgct_stats(&heap);
    CHECK_EQ(s2.free_bytes, RGC_BLOCK_BYTES);
    CHECK_EQ(s2.objects, n - 3); /* 3 freed; the move freed one and made one */
    CHECK_EQ(s2.misuse, 0);
    CHECK_HEAP(&heap);
    /* the old block is the only free one */
    CHECK_PTR(rgc_alloc(&heap, 1, 0), a);
    /* the moved object shrinks in place as any other */
    CHECK_PTR(rgc_realloc(&heap, m, RGC_BLOCK_BYTES, true), m);
    CHECK_EQ(pattern_errors(m, RGC_BLOCK_BYTES, 4), 0);
    CHECK_HEAP(&heap);
}

/* Keeps the results of the moving part in `track` only (not on this frame). */
static RGCT_NOINLINE void finaliser_move_setup(void)
{
    size_t n = fill_one_block();
    if (n < 120)
        return;
    /* put a finaliser object at roots[5]'s place and a plain one at roots[7]'s */
    void *f_old = roots[5], *p_old = roots[7];
    rgc_free(&heap, roots[5]);
    CHECK_PTR(rgc_alloc(&heap, RGC_BLOCK_BYTES, RGC_FINALISER), f_old);
    pattern(f_old, RGC_BLOCK_BYTES, 5);
    rgc_free(&heap, roots[7]);
    CHECK_PTR(rgc_alloc(&heap, RGC_BLOCK_BYTES, 0), p_old);
    /* room for both to move */
    for (int i = 100; i < 103; i++)
        rgc_free(&heap, roots[i]);
    for (int i = 200; i < 203; i++)
        rgc_free(&heap, roots[i]);
    track[0] = f_old;
    track[1] = rgc_realloc(&heap, f_old, 3 * RGC_BLOCK_BYTES, true);
    track[2] = p_old;
    track[3] = rgc_realloc(&heap, p_old, 3 * RGC_BLOCK_BYTES, true);
    CHECK(track[1] != NULL && track[1] != f_old);
    CHECK(track[3] != NULL && track[3] != p_old);
    CHECK_EQ(pattern_errors(track[1], RGC_BLOCK_BYTES, 5), 0);
    roots[5] = track[1];
    roots[7] = track[3];
    for (int i = 100; i < 103; i++)
        roots[i] = NULL;
    for (int i = 200; i < 203; i++)
        roots[i] = NULL;
}

static RGCT_NOINLINE size_t tsize(size_t k)
{
    return rgc_size(&heap, track[k]);
}

static RGCT_NOINLINE int moved_ok(void)
{
    return track[1] != NULL && track[3] != NULL;
}

static RGCT_NOINLINE int finalised_at_track(size_t j, size_t k)
{
    return finalised_at[j] == track[k];
}

static RGCT_NOINLINE void drop_all_roots_but(size_t keep)
{
    for (size_t i = 0; i < MAXOBJ; i++)
        if (i != keep)
            roots[i] = NULL;
}

/* Heap addresses are handled by the helpers only: this frame holds none when it collects. */
static void finaliser_kept_checks(void);
static void test_finaliser_kept_when_moving(void)
{
    setup();
    finaliser_move_setup();
    if (!moved_ok())
        return;
    /* A fresh frame on a scrubbed stack: with shrink-wrapping, this function's own frame grows over
     * the slots finaliser_move_setup's callees used (rgc_realloc's pinned pointers). */
    rgct_scrub_stack();
    finaliser_kept_checks();
}

static RGCT_NOINLINE void finaliser_kept_checks(void)
{
    /* the map shows the moved finaliser object as 'f' + 2 tails */
    static struct rgct_text t;
    static char map[HEAP_BYTES / RGC_BLOCK_BYTES + 2];
    const char *m = rgct_dump_map(&heap, &t, map, sizeof map);
    CHECK(m != NULL);
    if (m) {
        size_t fs = 0;
        for (const char *c = m; *c; c++)
            fs += *c == 'f';
        CHECK_EQ(fs, 1);
    }
    /* reachable: never finalised */
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(nfinalised, 0);
    CHECK_EQ(tsize(1), 3 * RGC_BLOCK_BYTES);
    /* everything but the moved finaliser object dies: plain objects are not finalised */
    drop_all_roots_but(5);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(nfinalised, 0);
    CHECK_EQ(tsize(1), 3 * RGC_BLOCK_BYTES);
    CHECK_EQ(tsize(3), 0);
    CHECK_EQ(rgct_stats(&heap).used_bytes, 3 * RGC_BLOCK_BYTES);
    /* now it dies: finalised once, at its new address */
    roots[5] = NULL;
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(nfinalised, 1);
    CHECK(finalised_at_track(0, 1)); /* at its new address */
    CHECK_EQ(rgct_stats(&heap).used_bytes, 0);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(nfinalised, 1);
    CHECK_HEAP(&heap);
}

static unsigned expected_misuse;

static void expect_realloc_misuse(void *p, size_t n, bool move, int line)
{
    expected_misuse++;
    rgc_stats a = rgct_stats(&heap);
    void *r = rgc_realloc(&heap, p, n, move);
    rgc_stats b = rgct_stats(&heap);
    if (r != NULL || b.misuse != a.misuse + 1 || !same_heap(&a, &b))
        fprintf(stderr, "  (rgc_realloc(%p, %zu, %d) from line %d returned %p, misuse %u -> %u)\n", p, n,
                (int)move, line, r, a.misuse, b.misuse);
    CHECK(r == NULL);
    CHECK_EQ(b.misuse, a.misuse + 1);
    CHECK(same_heap(&a, &b));
    CHECK_HEAP(&heap);
}

static void test_bad_pointers(void)
{
    setup();
    expected_misuse = 0;
    unsigned char *a = rgc_alloc(&heap, 2 * RGC_BLOCK_BYTES, 0);
    roots[0] = a;
    pattern(a, 2 * RGC_BLOCK_BYTES, 6);
    int local = 0;
    static long global;
    expect_realloc_misuse(&local, 16, true, __LINE__);
    expect_realloc_misuse(&global, 16, false, __LINE__);
    expect_realloc_misuse(region + HEAP_BYTES, 16, true, __LINE__);
    expect_realloc_misuse(a + 8, 16, true, __LINE__);
    expect_realloc_misuse(a + RGC_BLOCK_BYTES, 3 * RGC_BLOCK_BYTES, true, __LINE__);
    expect_realloc_misuse(a + RGC_BLOCK_BYTES, 1, false, __LINE__);
    expect_realloc_misuse(a + RGC_BLOCK_BYTES, 0, false, __LINE__); /* n == 0: a bad free */
    unsigned char *f = rgc_alloc(&heap, RGC_BLOCK_BYTES, 0);
    rgc_free(&heap, f);
    expect_realloc_misuse(f, 16, true, __LINE__); /* freed */
    expect_realloc_misuse(f, 0, true, __LINE__);
    CHECK_EQ(rgc_size(&heap, a), 2 * RGC_BLOCK_BYTES);
    CHECK_EQ(pattern_errors(a, 2 * RGC_BLOCK_BYTES, 6), 0);
    CHECK_EQ(rgct_stats(&heap).misuse, expected_misuse);
    /* an impossible size leaves p as it was */
    rgc_stats s0 = rgct_stats(&heap);
    CHECK(rgc_realloc(&heap, a, SIZE_MAX, true) == NULL);
    CHECK(rgc_realloc(&heap, a, SIZE_MAX - 1, false) == NULL);
    CHECK(rgc_realloc(&heap, a, s0.total_bytes + 1, true) == NULL);
    rgc_stats s1 = rgct_stats(&heap);
    CHECK(same_heap(&s0, &s1));
    CHECK_EQ(rgc_size(&heap, a), 2 * RGC_BLOCK_BYTES);
    CHECK_EQ(pattern_errors(a, 2 * RGC_BLOCK_BYTES, 6), 0);
    CHECK_HEAP(&heap);
}

int main(void)
{
    RGCT_RUN(test_null_and_zero);
    RGCT_RUN(test_same_and_shrink);
    RGCT_RUN(test_grow_in_place);
    RGCT_RUN(test_grow_blocked);
    RGCT_RUN(test_finaliser_kept_when_moving);
    RGCT_RUN(test_bad_pointers);
    return rgct_summary("test_realloc");
}
