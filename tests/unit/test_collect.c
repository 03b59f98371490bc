/* test_collect.c - rgc_collect: reachability from root ranges, heap chains and the stack, interior
 * pointers, mark-stack overflow (long lists, combs, wide arrays), finalisers (exactly once, never while
 * reachable, allocation/free/collect from inside one), rgc_add_root and rgc_write.
 *
 * Objects expected to die are followed through `track`/`nodes`, which are NOT root ranges, and every
 * collection runs through rgct_collect (clean stack), so the checks are exact. The test functions that
 * expect objects to die never load a heap address themselves (a spill slot or callee-saved register of
 * theirs would be a conservative root): the noinline helpers below do, and their frames are dead and
 * wiped by the time rgct_collect runs. */
#include "rgc_test.h"

#define HEAP_BYTES (128 * 1024)
#define NROOTS 64
#define MAXNODES 2100
#define MASK ((uintptr_t)0x5A5A5A5A5A5A5A5Au)

static rgc_heap heap;
static _Alignas(64) unsigned char region[HEAP_BYTES];
static void *groots[NROOTS]; /* registered root range */
static void *track[64];      /* not a root range */
static void *nodes[MAXNODES];  /* not a root range */

/* ---- finaliser bookkeeping ---- */
static size_t nfin;
static void *fin_at[MAXNODES];
static size_t fin_bad_pattern;
static unsigned fin_busy_depth_min = ~0u;
static int fin_collect_rc = 1;
static int fin_check_rc = 1;
static int fin_mode; /* 0 record only, 1 alloc+free inside, 2 collect inside, 3 check + dump inside */
static size_t fin_victim = NROOTS;
static size_t fin_alloc_failures;
static struct rgct_text fin_text;
static char fin_map[HEAP_BYTES / RGC_BLOCK_BYTES + 2];
static const char *fin_map_ok;

static void fin(void *obj)
{
    if (nfin < MAXNODES)
        fin_at[nfin] = obj;
    nfin++;
    /* the object is still there while its finaliser runs: word 1 holds its own address ^ MASK */
    if (((uintptr_t *)obj)[1] != ((uintptr_t)obj ^ MASK))
        fin_bad_pattern++;
    unsigned d = rgc_busy_depth(&heap);
    if (d < fin_busy_depth_min)
        fin_busy_depth_min = d;
    if (fin_mode == 1) {
        /* allocate: one object rooted, one not (it must survive this collection only) */
        void *r = rgc_alloc(&heap, 2 * RGC_BLOCK_BYTES, 0);
        void *u = rgc_alloc(&heap, RGC_BLOCK_BYTES, 0);
        if (!r || !u)
            fin_alloc_failures++;
        for (size_t i = 40; i < NROOTS; i++)
            if (!groots[i]) {
                groots[i] = r;
                break;
            }
        for (size_t i = 32; i < 64; i++)
            if (!track[i]) {
                track[i] = u;
                break;
            }
        /* free a live, rooted object */
        if (fin_victim < NROOTS && groots[fin_victim]) {
            rgc_free(&heap, groots[fin_victim]);
            groots[fin_victim] = NULL;
            fin_victim++;
        }
    } else if (fin_mode == 2) {
        fin_collect_rc = rgc_collect(&heap);
    } else if (fin_mode == 3) {
        fin_check_rc = rgc_check(&heap);
        fin_map_ok = rgct_dump_map(&heap, &fin_text, fin_map, sizeof fin_map);
    }
}

static void fin_reset(void)
{
    nfin = 0;
    fin_bad_pattern = 0;
    fin_busy_depth_min = ~0u;
    fin_mode = 0;
    fin_victim = NROOTS;
    fin_alloc_failures = 0;
}

static void setup(void)
{
    CHECK_EQ(rgct_fresh(&heap, region, HEAP_BYTES), RGC_OK);
    memset(groots, 0, sizeof groots);
    memset(track, 0, sizeof track);
    memset(nodes, 0, sizeof nodes);
    CHECK_EQ(rgc_add_root(&heap, groots, sizeof groots), RGC_OK);
    rgc_level_policy(&heap, 0, 0); /* collections only when the test asks */
    rgc_set_finaliser(&heap, fin);
    fin_reset();
}

/* An object whose word 1 identifies it (address ^ MASK); word 0 is free for a pointer. */
static RGCT_NOINLINE void *obj(size_t n, unsigned flags)
{
    uintptr_t *p = rgc_alloc(&heap, n, flags);
    CHECK(p != NULL);
    if (p)
        p[1] = (uintptr_t)p ^ MASK;
    return p;
}

static RGCT_NOINLINE size_t alive(void *const *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += v[i] && rgc_size(&heap, v[i]) > 0;
    return k;
}

static RGCT_NOINLINE size_t used(void)
{
    return rgct_stats(&heap).used_bytes;
}

/* rgc_size of track[k] */
static RGCT_NOINLINE size_t tsize(size_t k)
{
    return rgc_size(&heap, track[k]);
}

/* How many times track[k] was finalised (fin_at[0..nfin)). */
static RGCT_NOINLINE int finalised_times(size_t k)
{
    int n = 0;
    for (size_t i = 0; i < nfin && i < MAXNODES; i++)
        n += fin_at[i] == track[k];
    return n;
}

/* groots[k] = a new object of n bytes */
static RGCT_NOINLINE void root_new(size_t k, size_t n, unsigned flags)
{
    groots[k] = obj(n, flags);
}

/* ---- basic reachability ---- */

static RGCT_NOINLINE void make_garbage(size_t n)
{
    for (size_t i = 0; i < n && i < 64; i++)
        track[i] = obj(1 + (i % 5) * RGC_BLOCK_BYTES, i % 2 ? RGC_FINALISER : 0);
}

static void test_unreachable(void)
{
    setup();
    CHECK_EQ(rgct_collect(&heap), RGC_OK); /* empty heap */
    CHECK_EQ(rgct_stats(&heap).collections, 1);
    make_garbage(40);
    CHECK(used() > 0);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.collections, 2);
    CHECK_EQ(s.busy_collections, 0);
    CHECK_EQ(s.used_bytes, 0);
    CHECK_EQ(s.objects, 0);
    CHECK_EQ(s.largest_free_bytes, s.total_bytes);
    CHECK_EQ(alive(track, 40), 0);
    CHECK_EQ(nfin, 20);
    CHECK_EQ(fin_bad_pattern, 0);
    CHECK_HEAP(&heap);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(nfin, 20);
    CHECK_EQ(rgct_stats(&heap).collections, 3);
}

static RGCT_NOINLINE void build_chain(void)
{
    /* groots[0] -> A -> B -> C; D unreachable; E only from the word after a registered range */
    track[0] = obj(2 * RGC_BLOCK_BYTES, 0);
    track[1] = obj(RGC_BLOCK_BYTES, RGC_FINALISER);
    track[2] = obj(3 * RGC_BLOCK_BYTES, 0);
    track[3] = obj(RGC_BLOCK_BYTES, 0);
    track[4] = obj(RGC_BLOCK_BYTES, 0);
    track[5] = obj(RGC_BLOCK_BYTES, 0);
    *(void **)track[0] = track[1];
    *(void **)track[1] = track[2];
    groots[0] = track[0];
}

static void *edge[4]; /* registered with 3 words only */

static RGCT_NOINLINE void set_edge(void)
{
    edge[2] = track[5]; /* last word of the range: a root */
    edge[3] = track[4]; /* just past it: not a root */
}

static RGCT_NOINLINE void check_chain_contents(void)
{
    CHECK_PTR(*(void **)track[0], track[1]);
    CHECK_PTR(*(void **)track[1], track[2]);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(((uintptr_t *)track[i])[1], (uintptr_t)track[i] ^ MASK);
}

static RGCT_NOINLINE void cut_chain(void)
{
    *(void **)track[1] = NULL;
}

static void test_roots_and_chains(void)
{
    setup();
    build_chain();
    memset(edge, 0, sizeof edge);
    CHECK_EQ(rgc_add_root(&heap, edge, 3 * sizeof(void *)), RGC_OK);
    set_edge();
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(tsize(0), 2 * RGC_BLOCK_BYTES);
    CHECK_EQ(tsize(1), RGC_BLOCK_BYTES);
    CHECK_EQ(tsize(2), 3 * RGC_BLOCK_BYTES);
    CHECK_EQ(tsize(3), 0);
    CHECK_EQ(tsize(4), 0);
    CHECK_EQ(tsize(5), RGC_BLOCK_BYTES);
    CHECK_EQ(used(), 7 * RGC_BLOCK_BYTES);
    CHECK_EQ(nfin, 0);
    /* contents untouched by the collection */
    check_chain_contents();
    CHECK_HEAP(&heap);
    /* cut the chain in the middle: C dies, A and B stay */
    cut_chain();
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(tsize(2), 0);
    CHECK_EQ(tsize(1), RGC_BLOCK_BYTES);
    CHECK_EQ(nfin, 0);
    /* drop everything */
    groots[0] = NULL;
    edge[2] = NULL;
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(used(), 0);
    CHECK_EQ(nfin, 1);
    CHECK_EQ(finalised_times(1), 1);
    CHECK_HEAP(&heap);
}

static RGCT_NOINLINE void build_interior(void)
{
    track[0] = obj(2 * RGC_BLOCK_BYTES, 0);
    track[1] = obj(2 * RGC_BLOCK_BYTES, 0);
    track[2] = obj(2 * RGC_BLOCK_BYTES, 0);
    groots[1] = (unsigned char *)track[0] + 8;
    groots[2] = (unsigned char *)track[1] + RGC_BLOCK_BYTES;
    groots[3] = (unsigned char *)track[2] + 2 * RGC_BLOCK_BYTES - 1;
}

static void test_interior_pointers(void)
{
    setup();
    build_interior();
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
#if RGC_INTERIOR_POINTERS
    CHECK_EQ(alive(track, 3), 3);
#else
    /* off by default: a pointer inside an object is no reference */
    CHECK_EQ(alive(track, 3), 0);
    CHECK_EQ(used(), 0);
#endif
    CHECK_HEAP(&heap);
}

/* ---- conservative stack scanning ---- */

static RGCT_NOINLINE void *alloc_tagged(size_t n)
{
    return obj(n, RGC_FINALISER);
}

static RGCT_NOINLINE void stack_inner(void)
{
    void *volatile mine = alloc_tagged(RGC_BLOCK_BYTES);
    track[11] = mine;
    CHECK_EQ(rgc_collect(&heap), RGC_OK);
    CHECK_EQ(rgc_size(&heap, mine), RGC_BLOCK_BYTES);
    CHECK_EQ(tsize(10), 2 * RGC_BLOCK_BYTES);
}

static RGCT_NOINLINE void stack_outer(void)
{
    /* referenced only from this frame, two frames above the collector's caller */
    void *volatile outer = alloc_tagged(2 * RGC_BLOCK_BYTES);
    track[10] = outer;
    stack_inner();
    CHECK_EQ(rgc_size(&heap, outer), 2 * RGC_BLOCK_BYTES);
}

static RGCT_NOINLINE void stack_hidden(void)
{
    /* a disguised pointer is no reference */
    volatile uintptr_t hid = (uintptr_t)alloc_tagged(RGC_BLOCK_BYTES) ^ MASK;
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(rgc_size(&heap, (void *)(hid ^ MASK)), 0);
}

static void test_stack(void)
{
    setup();
    stack_outer();
    CHECK_EQ(nfin, 0);
    /* both frames are gone: both die */
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(tsize(10), 0);
    CHECK_EQ(tsize(11), 0);
    CHECK_EQ(nfin, 2);
    RGCT_RUN(stack_hidden);
    CHECK_EQ(nfin, 3);
    CHECK_EQ(used(), 0);
    CHECK_HEAP(&heap);
}

/* ---- mark-stack overflow ---- */

/* A list of n 1-block nodes; word 0 = next. descending: each node points at a lower address. */
static RGCT_NOINLINE void build_list(size_t n, int descending, unsigned flags)
{
    for (size_t i = 0; i < n; i++)
        nodes[i] = obj(RGC_BLOCK_BYTES, flags);
    rgct_sort_ptrs(nodes, n);
    for (size_t i = 0; i < n; i++) {
        if (descending)
            *(void **)nodes[i] = i ? nodes[i - 1] : NULL;
        else
            *(void **)nodes[i] = i + 1 < n ? nodes[i + 1] : NULL;
    }
    groots[0] = descending ? nodes[n - 1] : nodes[0];
}

/* Links of a descending list that do not point at the next lower node. */
static RGCT_NOINLINE size_t list_broken(size_t n)
{
    size_t broken = 0;
    for (size_t i = 1; i < n; i++)
        broken += *(void **)nodes[i] != nodes[i - 1];
    return broken;
}

/* A comb: spine nodes (2 blocks: word 0 next, word 2 leaf, word 3 next again) with one leaf each. */
static RGCT_NOINLINE void build_comb(size_t n)
{
    for (size_t i = 0; i < n; i++) {
        nodes[2 * i] = obj(2 * RGC_BLOCK_BYTES, 0);
        nodes[2 * i + 1] = obj(RGC_BLOCK_BYTES, RGC_FINALISER);
    }
    for (size_t i = 0; i < n; i++) {
        void **s = nodes[2 * i];
        void *next = i + 1 < n ? nodes[2 * i + 2] : NULL;
        s[0] = next;
        s[2] = nodes[2 * i + 1];
        s[3] = next;
    }
    groots[0] = nodes[0];
}

/* One array of n pointers to n children (each child: 1 block, word 0 -> a 1-block grandchild when
 * grand, placed at a lower address than the array when possible). */
static RGCT_NOINLINE size_t build_wide(size_t n, int grand, unsigned flags)
{
    size_t k = 0;
    if (grand)
        for (size_t i = 0; i < n; i++)
            nodes[k++] = obj(RGC_BLOCK_BYTES, flags); /* grandchildren first: lowest addresses */
    void **arr = rgc_alloc(&heap, n * sizeof(void *), 0);
    CHECK(arr != NULL);
    if (!arr)
        return 0;
    nodes[k++] = arr;
    for (size_t i = 0; i < n; i++) {
        void **c = obj(RGC_BLOCK_BYTES, flags);
        nodes[k++] = c;
        arr[i] = c;
        if (grand)
            c[0] = nodes[i];
    }
    groots[0] = arr;
    return k;
}

/* 40 arrays of 40 pointers under one array of 40 pointers. */
static RGCT_NOINLINE size_t build_nested(void)
{
    size_t k = 0;
    void **top = rgc_alloc(&heap, 40 * sizeof(void *), 0);
    CHECK(top != NULL);
    if (!top)
        return 0;
    nodes[k++] = top;
    for (size_t i = 0; i < 40; i++) {
        void **mid = rgc_alloc(&heap, 40 * sizeof(void *), 0);
        CHECK(mid != NULL);
        if (!mid)
            return k;
        nodes[k++] = mid;
        top[39 - i] = mid;
        for (size_t j = 0; j < 40; j++) {
            mid[j] = obj(RGC_BLOCK_BYTES, 0);
            nodes[k++] = mid[j];
        }
    }
    groots[0] = top;
    return k;
}

/* Collect twice with the structure rooted (all n alive, none finalised), then drop it. */
static RGCT_NOINLINE void check_structure(const char *what, size_t n, size_t nfinobj)
{
    size_t before = used();
    for (int round = 0; round < 2; round++) {
        CHECK_EQ(rgct_collect(&heap), RGC_OK);
        size_t a = alive(nodes, n);
        if (a != n)
            fprintf(stderr, "  %s: %zu of %zu objects alive after collection %d\n", what, a, n, round);
        CHECK_EQ(a, n);
        CHECK_EQ(used(), before);
        CHECK_EQ(nfin, 0);
        CHECK_HEAP(&heap);
    }
    groots[0] = NULL;
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(alive(nodes, n), 0);
    CHECK_EQ(used(), 0);
    CHECK_EQ(nfin, nfinobj);
    CHECK_EQ(fin_bad_pattern, 0);
    CHECK_HEAP(&heap);
}

static void test_mark_overflow(void)
{
    setup();
    build_list(1000, 0, 0);
    RGCT_CALL(check_structure, "ascending list", 1000, 0);
    /* list links intact after collecting */
    setup();
    build_list(1000, 1, RGC_FINALISER);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(list_broken(1000), 0);
    RGCT_CALL(check_structure, "descending list", 1000, 1000);
    setup();
    build_comb(500);
    RGCT_CALL(check_structure, "comb", 1000, 500);
    setup();
    size_t n = build_wide(300, 0, 0);
    CHECK_EQ(n, 301);
    RGCT_CALL(check_structure, "wide array", n, 0);
    setup();
    n = build_wide(300, 1, RGC_FINALISER);
    CHECK_EQ(n, 601);
    RGCT_CALL(check_structure, "wide array with grandchildren", n, 600);
    setup();
    n = build_nested();
    CHECK_EQ(n, 1 + 40 + 1600);
    RGCT_CALL(check_structure, "nested arrays", n, 0);
}

/* ---- finalisers ---- */

static RGCT_NOINLINE void build_fin_set(void)
{
    /* track[0..9]: finaliser objects, track[10..19]: plain; even ones rooted */
    for (size_t i = 0; i < 20; i++) {
        track[i] = obj(RGC_BLOCK_BYTES * (1 + i % 3), i < 10 ? RGC_FINALISER : 0);
        if (i % 2 == 0)
            groots[i] = track[i];
    }
}

static RGCT_NOINLINE void alloc_and_free_fin(void)
{
    void *f = rgc_alloc(&heap, 1, RGC_FINALISER);
    CHECK(f != NULL);
    rgc_free(&heap, f);
}

static void test_finalisers(void)
{
    setup();
    build_fin_set();
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(nfin, 5);
    size_t once = 0;
    for (size_t i = 1; i < 10; i += 2)
        once += finalised_times(i) == 1;
    CHECK_EQ(once, 5);
    CHECK_EQ(fin_bad_pattern, 0);
    CHECK(fin_busy_depth_min > 0 && fin_busy_depth_min != ~0u);
    CHECK_EQ(alive(track, 20), 10);
    /* collecting again finalises nothing */
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(nfin, 5);
    CHECK_EQ(alive(track, 20), 10);
    /* drop the rest */
    memset(groots, 0, sizeof groots);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(nfin, 10);
    once = 0;
    for (size_t i = 0; i < 10; i++)
        once += finalised_times(i) == 1;
    CHECK_EQ(once, 10);
    size_t plain = 0;
    for (size_t i = 10; i < 20; i++)
        plain += finalised_times(i);
    CHECK_EQ(plain, 0);
    CHECK_EQ(used(), 0);
    CHECK_EQ(rgc_busy_depth(&heap), 0);
    CHECK_HEAP(&heap);
    /* an explicitly freed finaliser object is never finalised */
    alloc_and_free_fin();
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(nfin, 10);
    /* no finaliser set: finaliser objects die quietly */
    rgc_set_finaliser(&heap, NULL);
    make_garbage(10);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(nfin, 10);
    CHECK_EQ(used(), 0);
    rgc_set_finaliser(&heap, fin);
    CHECK_HEAP(&heap);
}

static RGCT_NOINLINE void build_fin_alloc(void)
{
    for (size_t i = 0; i < 8; i++)
        track[i] = obj(RGC_BLOCK_BYTES, RGC_FINALISER); /* dead */
    for (size_t i = 0; i < 8; i++)
        groots[20 + i] = track[8 + i] = obj(3 * RGC_BLOCK_BYTES, 0); /* live victims */
}

/* Victims' root slots cleared; the dead objects' and victims' blocks are free, or reused by the objects
 * the finalisers allocated (first fit reuses them at once). */
static RGCT_NOINLINE size_t victims_cleared(void)
{
    size_t k = 0;
    for (size_t i = 20; i < 28; i++)
        k += groots[i] == NULL;
    return k;
}

static RGCT_NOINLINE size_t gone_or_reused(void)
{
    size_t gone = 0;
    for (size_t i = 0; i < 16; i++) {
        int reused = 0;
        for (size_t j = 0; j < 8; j++)
            reused |= track[i] == groots[40 + j] || track[i] == track[32 + j];
        gone += rgc_size(&heap, track[i]) == 0 || reused;
    }
    return gone;
}

static void test_finaliser_alloc_free(void)
{
    setup();
    build_fin_alloc();
    fin_mode = 1;
    fin_victim = 20;
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    fin_mode = 0;
    CHECK_EQ(nfin, 8);
    CHECK_EQ(fin_alloc_failures, 0);
    CHECK_EQ(fin_victim, 28); /* every victim freed by a finaliser */
    CHECK_EQ(victims_cleared(), 8);
    CHECK_EQ(gone_or_reused(), 16);
    CHECK_EQ(alive(groots + 40, 8), 8); /* rooted allocations */
    CHECK_EQ(alive(track + 32, 8), 8);  /* unrooted allocations survive the collection they were born in */
    CHECK_EQ(used(), 8 * 2 * RGC_BLOCK_BYTES + 8 * RGC_BLOCK_BYTES);
    CHECK_HEAP(&heap);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(alive(groots + 40, 8), 8);
    CHECK_EQ(alive(track + 32, 8), 0);
    CHECK_EQ(used(), 8 * 2 * RGC_BLOCK_BYTES);
    CHECK_EQ(nfin, 8);
    CHECK_HEAP(&heap);
}

static void test_finaliser_collect_check(void)
{
    setup();
    make_garbage(6); /* 3 finaliser objects */
    root_new(0, RGC_BLOCK_BYTES, 0);
    fin_mode = 2;
    fin_collect_rc = 1;
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(nfin, 3);
    CHECK_EQ(fin_collect_rc, RGC_BUSY);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.busy_collections, 3);
    CHECK_EQ(s.collections, 1);
    CHECK_EQ(s.used_bytes, RGC_BLOCK_BYTES);
    /* rgc_check and rgc_dump from inside the sweep */
    fin_reset();
    make_garbage(2);
    fin_mode = 3;
    fin_check_rc = 1;
    fin_map_ok = NULL;
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(nfin, 1);
    CHECK_EQ(fin_check_rc, RGC_OK);
    CHECK(fin_map_ok != NULL);
    if (fin_map_ok) {
        size_t bad = 0;
        for (const char *c = fin_map; *c; c++)
            bad += strchr(".h=mfM", *c) == NULL;
        CHECK_EQ(bad, 0);
        CHECK_EQ(strlen(fin_map), rgct_stats(&heap).blocks);
    }
    fin_mode = 0;
    CHECK_EQ(rgc_busy_depth(&heap), 0);
    CHECK_HEAP(&heap);
}

/* ---- rgc_add_root ---- */

static rgc_heap heap2;
static void *ranges[RGC_MAX_ROOTS + 1][2];

static RGCT_NOINLINE void fill_ranges(void)
{
    for (size_t i = 0; i <= RGC_MAX_ROOTS; i++)
        ranges[i][1] = rgc_alloc(&heap2, RGC_BLOCK_BYTES, 0);
}

static RGCT_NOINLINE size_t ranges_alive(size_t from, size_t to)
{
    size_t a = 0;
    for (size_t i = from; i < to; i++)
        a += rgc_size(&heap2, ranges[i][1]) == RGC_BLOCK_BYTES;
    return a;
}

static void test_add_root(void)
{
    static _Alignas(64) unsigned char mem2[8192];
    CHECK_EQ(rgct_fresh(&heap2, mem2, sizeof mem2), RGC_OK);
    rgc_level_policy(&heap2, 0, 0);
    CHECK_EQ(rgc_add_root(&heap2, NULL, 16), RGC_EINVAL);
    CHECK_EQ(rgc_add_root(&heap2, NULL, 0), RGC_EINVAL);
    CHECK_EQ(rgc_add_root(&heap2, (unsigned char *)ranges + 1, 16), RGC_EINVAL);
    CHECK_EQ(rgc_add_root(&heap2, (unsigned char *)ranges + sizeof(void *) / 2, 16), RGC_EINVAL);
    memset(ranges, 0, sizeof ranges);
    for (size_t i = 0; i < RGC_MAX_ROOTS; i++)
        CHECK_EQ(rgc_add_root(&heap2, ranges[i], sizeof ranges[i]), RGC_OK);
    CHECK_EQ(rgc_add_root(&heap2, ranges[RGC_MAX_ROOTS], sizeof ranges[RGC_MAX_ROOTS]), RGC_EINVAL);
    CHECK_EQ(rgct_stats(&heap2).misuse, 5); /* bad input is counted */
    /* every accepted range is a root, the refused one is not */
    fill_ranges();
    CHECK_EQ(rgct_collect(&heap2), RGC_OK);
    CHECK_EQ(ranges_alive(0, RGC_MAX_ROOTS), RGC_MAX_ROOTS);
    CHECK_EQ(ranges_alive(RGC_MAX_ROOTS, RGC_MAX_ROOTS + 1), 0);
    CHECK_EQ(rgct_stats(&heap2).used_bytes, RGC_MAX_ROOTS * RGC_BLOCK_BYTES);
    CHECK_HEAP(&heap2);
}

/* ---- rgc_write ---- */

static RGCT_NOINLINE void build_write(void)
{
    track[0] = obj(2 * RGC_BLOCK_BYTES, 0);
    track[1] = obj(RGC_BLOCK_BYTES, 0);
    track[2] = obj(RGC_BLOCK_BYTES, 0);
    groots[0] = track[0];
    rgc_write(&heap, (void **)track[0], track[1]);
    rgc_write(&heap, &groots[1], track[2]);
}

static RGCT_NOINLINE void check_written(void)
{
    CHECK_PTR(*(void **)track[0], track[1]);
    CHECK_PTR(groots[1], track[2]);
}

static RGCT_NOINLINE void overwrite_refs(void)
{
    rgc_write(&heap, (void **)track[0], NULL);
    rgc_write(&heap, &groots[1], NULL);
}

static RGCT_NOINLINE void write_null_slot(void)
{
    rgc_write(&heap, NULL, track[0]);
}

static void test_write(void)
{
    setup();
    void *slot = NULL;
    int x;
    rgc_write(&heap, &slot, &x);
    CHECK_PTR(slot, &x);
    rgc_write(&heap, &slot, NULL);
    CHECK_PTR(slot, NULL);
    build_write();
    check_written();
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(alive(track, 3), 3);
    /* overwrite both references through rgc_write: outside a collection no shading is left behind */
    overwrite_refs();
    CHECK_HEAP(&heap);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(tsize(0), 2 * RGC_BLOCK_BYTES);
    CHECK_EQ(tsize(1), 0);
    CHECK_EQ(tsize(2), 0);
    /* a NULL slot is misuse, not a crash */
    unsigned m = rgct_stats(&heap).misuse;
    write_null_slot();
    CHECK_EQ(rgct_stats(&heap).misuse, m + 1);
    CHECK_HEAP(&heap);
}

int main(void)
{
    RGCT_RUN(test_unreachable);
    RGCT_RUN(test_roots_and_chains);
    RGCT_RUN(test_interior_pointers);
    RGCT_RUN(test_stack);
    RGCT_RUN(test_mark_overflow);
    RGCT_RUN(test_finalisers);
    RGCT_RUN(test_finaliser_alloc_free);
    RGCT_RUN(test_finaliser_collect_check);
    RGCT_RUN(test_add_root);
    RGCT_RUN(test_write);
    return rgct_summary("test_collect");
}
