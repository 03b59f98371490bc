/* test_areas.c - heaps of several areas (rgc_add_area) and the allocation threshold.
 *
 * Areas: allocation fills the areas in order (first fit from the first area); an object never spans two
 * areas (a request larger than every area fails even when the free bytes would add up); a collection
 * frees garbage in every area and keeps what the roots reach, pointers from one area into another
 * included, finalisers run in every area; rgc_dump prints each area's map after a "--" line with its
 * own offsets; rgc_get_stats sums over the areas (and a free run never spans two); an area added
 * while a step-wise collection is in progress joins it.
 * Threshold: with RGC_AUTO_COLLECT at the allocating level, the allocation that brings the bytes
 * allocated since the last collection to the threshold collects first (as tests/unit/test_incremental.c
 * pins it); at a level without RGC_AUTO_COLLECT it never does, but its allocations count (the next
 * allocation at a level that collects does); a locked heap never collects; areas make no difference.
 *
 * Exactness (see rgc_test.h): objects are followed through `track` (not a root range), allocated and
 * inspected in noinline helpers; collections run through rgct_collect / rgct_alloc_clean.
 * */
#define _GNU_SOURCE
#include "rgc_test.h"

#include "../../src/rgc_internal.h" /* read only: the collection phase */

void rgc_posix_set_level(unsigned level); /* port/posix: the level rgc_port_level() reports */

#define NAREAS 4
#define MAXT 4096
#define NROOTS 512

static rgc_heap heap;
/* area sizes that are no multiple of a block or of 64 blocks */
static _Alignas(64) unsigned char mem0[6000];
static _Alignas(64) unsigned char mem1[4100];
static _Alignas(64) unsigned char mem2[9000];
static _Alignas(64) unsigned char mem3[2500];
static unsigned char *const mems[NAREAS] = {mem0, mem1, mem2, mem3};
static const size_t mem_bytes[NAREAS] = {sizeof mem0, sizeof mem1, sizeof mem2, sizeof mem3};
static size_t area_blocks[NAREAS];
static unsigned nareas;

static void *roots[NROOTS]; /* registered */
static void *track[MAXT];   /* not registered */
static int ntrack;

static uintptr_t tag(int i, size_t w) { return ((uintptr_t)(unsigned)i * 0x9E3779B1u + w * 0x85EBCA77u) | 1u; }

/* The area whose memory holds [p, p + bytes), or -1 (outside every area, or spanning two). */
static int mem_area(const void *p, size_t bytes)
{
    const unsigned char *c = p;
    for (unsigned i = 0; i < nareas; i++)
        if (c >= mems[i] && c + bytes <= mems[i] + mem_bytes[i])
            return (int)i;
    return -1;
}

static void setup(unsigned n, unsigned policy0)
{
    CHECK_EQ(rgct_fresh(&heap, mem0, sizeof mem0), RGC_OK);
    memset(roots, 0, sizeof roots);
    memset(track, 0, sizeof track);
    ntrack = 0;
    CHECK_EQ(rgc_add_root(&heap, roots, sizeof roots), RGC_OK);
    rgc_level_policy(&heap, 0, policy0);
    nareas = 1;
    area_blocks[0] = rgct_stats(&heap).blocks;
    for (unsigned i = 1; i < n; i++) {
        size_t before = rgct_stats(&heap).blocks;
        CHECK_EQ(rgc_add_area(&heap, mems[i], mem_bytes[i]), RGC_OK);
        area_blocks[i] = rgct_stats(&heap).blocks - before;
        CHECK(area_blocks[i] > 0);
        CHECK(area_blocks[i] * RGC_BLOCK_BYTES <= mem_bytes[i]);
        nareas++;
    }
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.areas, n);
    CHECK_EQ(s.used_bytes, 0);
    CHECK_HEAP(&heap);
}

/* Allocate an object of `blocks` blocks, tagged with its track index, kept in track[] only. */
static RGCT_NOINLINE int alloc_tracked(size_t blocks, unsigned flags)
{
    if (ntrack >= MAXT)
        return -1;
    uintptr_t *p = rgc_alloc(&heap, blocks * RGC_BLOCK_BYTES, flags);
    if (p == NULL)
        return -1;
    int i = ntrack++;
    track[i] = p;
    for (size_t w = 0; w < blocks * RGC_BLOCK_BYTES / sizeof(uintptr_t); w++)
        p[w] = tag(i, w);
    return i;
}

static RGCT_NOINLINE int intact(int i, size_t blocks)
{
    const uintptr_t *p = track[i];
    if (rgc_size(&heap, p) != blocks * RGC_BLOCK_BYTES)
        return 0;
    for (size_t w = 0; w < blocks * RGC_BLOCK_BYTES / sizeof(uintptr_t); w++)
        if (p[w] != tag(i, w) && !(w == 0 && p[w] != 0 && mem_area((void *)p[w], 1) >= 0))
            return 0;
    return 1;
}

static RGCT_NOINLINE int area_of_tracked(int i, size_t blocks) { return mem_area(track[i], blocks * RGC_BLOCK_BYTES); }
static RGCT_NOINLINE size_t size_of_tracked(int i) { return rgc_size(&heap, track[i]); }
static RGCT_NOINLINE void root_tracked(int slot, int i) { rgc_write(&heap, &roots[slot], i >= 0 ? track[i] : NULL); }
/* Word 0 of object i refers to object j. */
static RGCT_NOINLINE void link_tracked(int i, int j) { rgc_write(&heap, (void **)track[i], track[j]); }

/* ---- the heap map ---- */
struct map_info {
    unsigned areas;
    size_t blocks[NAREAS + 1];
    size_t used[NAREAS + 1];
    int offsets_ok;
};

static void dump_areas(struct map_info *mi)
{
    struct rgct_text *t = malloc(sizeof *t);
    memset(mi, 0, sizeof *mi);
    mi->offsets_ok = 1;
    if (t == NULL)
        return;
    memset(t, 0, sizeof *t);
    rgc_dump(&heap, rgct_text_print, t);
    CHECK(!t->overflow);
    unsigned a = 0;
    size_t expect_off = 0;
    for (char *line = t->buf; *line;) {
        char *nl = strchr(line, '\n');
        CHECK(nl != NULL);
        if (nl == NULL)
            break;
        *nl = 0;
        if (strcmp(line, "--") == 0) {
            a++;
            expect_off = 0;
        } else if (a <= NAREAS) {
            char *m = strstr(line, ": ");
            CHECK(m != NULL && m - line == 8);
            if (m == NULL)
                break;
            if (strtoul(line, NULL, 16) != expect_off)
                mi->offsets_ok = 0;
            size_t n = strlen(m + 2);
            CHECK(n >= 1 && n <= 64);
            expect_off += n * RGC_BLOCK_BYTES;
            mi->blocks[a] += n;
            for (char *c = m + 2; *c; c++) {
                CHECK(strchr(".h=mfM", *c) != NULL);
                mi->used[a] += *c != '.';
            }
        }
        line = nl + 1;
    }
    mi->areas = a + 1;
    free(t);
}

/* ---- fill order, spanning, stats, dump ---- */
static void test_fill_in_order(void)
{
    setup(NAREAS, 0);
    size_t total_blocks = rgct_stats(&heap).blocks;
    int last = 0, out_of_order = 0, spanning = 0;
    size_t per_area[NAREAS] = {0};
    int i;
    while ((i = alloc_tracked(1, 0)) >= 0) {
        int a = area_of_tracked(i, 1);
        if (a < 0) {
            spanning++;
            continue;
        }
        out_of_order += a < last;
        last = a;
        per_area[a]++;
    }
    CHECK_EQ(spanning, 0);
    CHECK_EQ(out_of_order, 0);
    for (unsigned a = 0; a < NAREAS; a++)
        CHECK_EQ(per_area[a], area_blocks[a]); /* every block of every area, in area order */
    CHECK_EQ((size_t)ntrack, total_blocks);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.used_bytes, s.total_bytes);
    CHECK_EQ(s.free_bytes, 0);
    CHECK_EQ(s.largest_free_bytes, 0);
    CHECK_EQ(s.objects, total_blocks);
    CHECK_EQ(s.one_block_objects, total_blocks);
    CHECK_EQ(s.blocks, area_blocks[0] + area_blocks[1] + area_blocks[2] + area_blocks[3]);
    CHECK_EQ(s.total_bytes, s.blocks * RGC_BLOCK_BYTES);
    struct map_info mi;
    dump_areas(&mi);
    CHECK_EQ(mi.areas, NAREAS);
    CHECK(mi.offsets_ok); /* each area's offsets restart at its pool */
    for (unsigned a = 0; a < NAREAS; a++) {
        CHECK_EQ(mi.blocks[a], area_blocks[a]);
        CHECK_EQ(mi.used[a], area_blocks[a]);
    }
    /* everything is garbage (track[] is no root): one collection empties every area */
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    s = rgct_stats(&heap);
    CHECK_EQ(s.used_bytes, 0);
    CHECK_EQ(s.objects, 0);
    CHECK_EQ(s.free_bytes, s.total_bytes);
    size_t biggest = 0;
    for (unsigned a = 0; a < NAREAS; a++)
        biggest = area_blocks[a] > biggest ? area_blocks[a] : biggest;
    CHECK_EQ(s.largest_free_bytes, biggest * RGC_BLOCK_BYTES); /* a free run never spans two areas */
    dump_areas(&mi);
    for (unsigned a = 0; a < NAREAS; a++)
        CHECK_EQ(mi.used[a], 0);
    CHECK_HEAP(&heap);
}

static void test_never_spans(void)
{
    for (size_t k = 1; k <= 9; k++) {
        setup(NAREAS, 0);
        int i, spanning = 0, n = 0;
        while ((i = alloc_tracked(k, 0)) >= 0) {
            n++;
            spanning += area_of_tracked(i, k) < 0;
            CHECK_EQ(size_of_tracked(i), k * RGC_BLOCK_BYTES);
        }
        CHECK(n > 0);
        CHECK_EQ(spanning, 0);
        rgc_stats s = rgct_stats(&heap);
        CHECK(s.largest_free_bytes < k * RGC_BLOCK_BYTES); /* NULL only when no area has k free blocks */
        /* the tail of each area that is too short for k blocks stays free */
        struct map_info mi;
        dump_areas(&mi);
        for (unsigned a = 0; a < NAREAS; a++)
            CHECK(area_blocks[a] - mi.used[a] < k);
        CHECK_HEAP(&heap);
    }
    /* more than the largest area but less than the heap: no area holds it - NULL, no misuse */
    setup(NAREAS, 0);
    size_t biggest = 0;
    for (unsigned a = 0; a < NAREAS; a++)
        biggest = area_blocks[a] > biggest ? area_blocks[a] : biggest;
    rgc_stats s0 = rgct_stats(&heap);
    CHECK(s0.free_bytes > (biggest + 1) * RGC_BLOCK_BYTES);
    CHECK(rgc_alloc(&heap, (biggest + 1) * RGC_BLOCK_BYTES, 0) == NULL);
    CHECK(rgc_alloc(&heap, biggest * RGC_BLOCK_BYTES, 0) != NULL); /* exactly the largest area fits */
    rgc_stats s1 = rgct_stats(&heap);
    CHECK_EQ(s1.failed_allocs, s0.failed_allocs + 1);
    CHECK_EQ(s1.misuse, 0);
    CHECK_HEAP(&heap);
}

/* ---- collections over all areas ---- */
static int fin_calls[NAREAS + 1];
static void count_finaliser(void *obj)
{
    int a = mem_area(obj, RGC_BLOCK_BYTES);
    fin_calls[a < 0 ? NAREAS : a]++;
}

static void test_collect_all_areas(void)
{
    setup(NAREAS, 0);
    rgc_set_finaliser(&heap, count_finaliser);
    memset(fin_calls, 0, sizeof fin_calls);
    int i, rooted = 0, fin_garbage[NAREAS] = {0};
    size_t rooted_in[NAREAS] = {0};
    while ((i = alloc_tracked(1, (ntrack % 7 == 3) ? RGC_FINALISER : 0)) >= 0) {
        int a = area_of_tracked(i, 1);
        if (i % 5 == 0 && rooted < NROOTS) {
            root_tracked(rooted++, i);
            rooted_in[a]++;
        } else if (i % 7 == 3) {
            fin_garbage[a]++;
        }
    }
    for (unsigned a = 0; a < NAREAS; a++)
        CHECK(rooted_in[a] > 0 && fin_garbage[a] > 0);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.objects, (size_t)rooted);
    CHECK_EQ(s.used_bytes, (size_t)rooted * RGC_BLOCK_BYTES);
    int bad = 0;
    for (int k = 0; k < ntrack; k++)
        if (k % 5 == 0 && !intact(k, 1))
            bad++;
    CHECK_EQ(bad, 0);
    for (unsigned a = 0; a < NAREAS; a++)
        CHECK_EQ(fin_calls[a], fin_garbage[a]); /* each dead finaliser object, in every area, once */
    CHECK_EQ(fin_calls[NAREAS], 0);
    struct map_info mi;
    dump_areas(&mi);
    for (unsigned a = 0; a < NAREAS; a++)
        CHECK_EQ(mi.used[a], rooted_in[a]);
    /* drop the roots: everything goes, in every area */
    for (int r = 0; r < rooted; r++)
        root_tracked(r, -1);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(rgct_stats(&heap).objects, 0);
    rgc_set_finaliser(&heap, NULL);
    CHECK_HEAP(&heap);
}

/* A chain root -> area 3 -> area 0 -> area 2 -> area 1 -> area 3 (a cycle back into the first area of
 * the chain's start), every other object garbage: the collection keeps exactly the chain. */
static RGCT_NOINLINE void build_chain(int chain[NAREAS])
{
    int i;
    for (unsigned a = 0; a < NAREAS; a++)
        chain[a] = -1;
    while ((i = alloc_tracked(2, 0)) >= 0) {
        int a = area_of_tracked(i, 2);
        if (a >= 0 && chain[a] < 0)
            chain[a] = i;
    }
}

static void test_pointers_between_areas(void)
{
    setup(NAREAS, 0);
    int chain[NAREAS];
    build_chain(chain);
    for (unsigned a = 0; a < NAREAS; a++)
        CHECK(chain[a] >= 0);
    if (chain[0] < 0 || chain[1] < 0 || chain[2] < 0 || chain[3] < 0)
        return;
    link_tracked(chain[3], chain[0]);
    link_tracked(chain[0], chain[2]);
    link_tracked(chain[2], chain[1]);
    link_tracked(chain[1], chain[3]);
    root_tracked(0, chain[3]);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.objects, NAREAS);
    CHECK_EQ(s.used_bytes, NAREAS * 2 * RGC_BLOCK_BYTES);
    for (unsigned a = 0; a < NAREAS; a++) {
        CHECK(intact(chain[a], 2));
        CHECK_EQ(area_of_tracked(chain[a], 2), a);
    }
    /* cut the chain between area 2 and area 1: areas 1 and 3's objects stay (the cycle reaches 3 from
     * the root), area 1's object is reachable only through area 2 -> dropped link */
    rgc_write(&heap, (void **)track[chain[2]], NULL);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(rgct_stats(&heap).objects, 3);
    CHECK_EQ(size_of_tracked(chain[1]), 0);
    CHECK(intact(chain[3], 2) && intact(chain[0], 2));
    root_tracked(0, -1);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(rgct_stats(&heap).objects, 0);
    CHECK_HEAP(&heap);
}

/* An area added while a step-wise collection is marking, and while it sweeps: objects allocated in it
 * are born marked (they survive), the collection covers it, the next one frees its garbage. */
static RGCT_NOINLINE int step_until_sweeping(void)
{
    for (int k = 0; k < 100000; k++) {
        if ((atomic_load(&heap.state) & PHASE_BITS) == PHASE_SWEEP)
            return 1;
        if (rgc_collect_step(&heap, 1) == 0)
            return 0;
    }
    return 0;
}

static void test_area_added_during_collection(void)
{
    for (int when = 0; when < 2; when++) {
        setup(2, 0);
        int i;
        while ((i = alloc_tracked(1, 0)) >= 0) {
            if (i % 3 == 0 && i / 3 < NROOTS)
                root_tracked(i / 3, i);
        }
        int filled = ntrack;
        rgct_scrub_stack();
        CHECK_EQ(rgc_collect_step(&heap, 1), 1); /* marking */
        if (when == 1)
            CHECK(step_until_sweeping());
        CHECK_EQ(rgc_add_area(&heap, mem2, sizeof mem2), RGC_OK);
        nareas = 3;
        area_blocks[2] = rgct_stats(&heap).blocks - area_blocks[0] - area_blocks[1];
        int born = 0, in_new = 0, first_new = ntrack;
        while (born < 50 && (i = alloc_tracked(1, 0)) >= 0) {
            born++;
            in_new += area_of_tracked(i, 1) == 2;
        }
        CHECK(in_new > 0);
        CHECK_HEAP(&heap);
        CHECK_EQ(rgc_collect_finish(&heap), RGC_OK);
        CHECK_HEAP(&heap);
        for (int k = 0; k < filled; k += 3)
            CHECK(intact(k, 1));
        for (int k = first_new; k < ntrack; k++)
            CHECK(intact(k, 1)); /* born during the collection: kept by it */
        CHECK_EQ(rgct_collect(&heap), RGC_OK);
        rgc_stats s = rgct_stats(&heap);
        CHECK_EQ(s.objects, (size_t)(filled + 2) / 3); /* only the rooted ones */
        CHECK_EQ(s.areas, 3);
    }
}

/* ---- threshold ---- */
static RGCT_NOINLINE long allocs_until_collection(long limit, size_t bytes)
{
    uint32_t c0 = rgct_stats(&heap).collections;
    for (long k = 1; k <= limit; k++) {
        if (rgct_alloc_clean(&heap, bytes, 0) == NULL)
            return -1;
        if (rgct_stats(&heap).collections != c0)
            return k;
    }
    return 0;
}

static void test_threshold(void)
{
    const long per = 24;
    setup(NAREAS, RGC_AUTO_COLLECT);
    rgc_set_threshold(&heap, (size_t)per * RGC_BLOCK_BYTES);
    /* the allocation that brings the bytes allocated since the last collection to the threshold
     * collects first; then again every `per` blocks - across area boundaries too */
    for (int round = 0; round < 12; round++)
        CHECK_EQ(allocs_until_collection(10 * per, RGC_BLOCK_BYTES), per);
    /* requests count in whole blocks: 3 blocks (a byte more than 2) at a time */
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(allocs_until_collection(10 * per, 2 * RGC_BLOCK_BYTES + 1), per / 3);
    /* an explicit collection restarts the count */
    CHECK_EQ(allocs_until_collection(per / 2, RGC_BLOCK_BYTES), 0);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(allocs_until_collection(10 * per, RGC_BLOCK_BYTES), per);
    /* objects are spread over all areas by now (garbage collected behind) */
    CHECK_EQ(rgct_stats(&heap).misuse, 0);

    /* level 0 without RGC_AUTO_COLLECT: never */
    rgc_level_policy(&heap, 0, 0);
    CHECK_EQ(allocs_until_collection(5 * per, RGC_BLOCK_BYTES), 0);
    /* a level without RGC_AUTO_COLLECT (level 1's default): never */
    rgc_posix_set_level(1);
    CHECK_EQ(allocs_until_collection(5 * per, RGC_BLOCK_BYTES), 0);
    /* the same level with RGC_AUTO_COLLECT: counted from its first allocation */
    rgc_level_policy(&heap, 1, RGC_AUTO_COLLECT);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(allocs_until_collection(10 * per, RGC_BLOCK_BYTES), per);
    rgc_level_policy(&heap, 1, 0);
    rgc_posix_set_level(0);

    /* a locked heap neither allocates nor collects */
    rgc_level_policy(&heap, 0, RGC_AUTO_COLLECT);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    uint32_t c0 = rgct_stats(&heap).collections;
    rgc_lock(&heap);
    for (long k = 0; k < 3 * per; k++)
        CHECK(rgc_alloc(&heap, RGC_BLOCK_BYTES, 0) == NULL);
    rgc_unlock(&heap);
    CHECK_EQ(rgct_stats(&heap).collections, c0);
    /* threshold 0: off */
    rgc_set_threshold(&heap, 0);
    CHECK_EQ(allocs_until_collection(5 * per, RGC_BLOCK_BYTES), 0);
    CHECK_HEAP(&heap);

    /* rgc.h: "after `bytes` have been allocated since the last collection, the next allocation at a
     * level whose policy has RGC_AUTO_COLLECT collects first" - bytes allocated at level 1 (no
     * RGC_AUTO_COLLECT) count too (the core counted only collecting levels' bytes before a3ba5b7) */
    rgc_set_threshold(&heap, (size_t)per * RGC_BLOCK_BYTES);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    rgc_posix_set_level(1);
    CHECK_EQ(allocs_until_collection(per, RGC_BLOCK_BYTES), 0);
    rgc_posix_set_level(0);
    CHECK_EQ(allocs_until_collection(1, RGC_BLOCK_BYTES), 1);
}

int main(void)
{
    RGCT_RUN(test_fill_in_order);
    RGCT_RUN(test_never_spans);
    RGCT_RUN(test_collect_all_areas);
    RGCT_RUN(test_pointers_between_areas);
    RGCT_RUN(test_area_added_during_collection);
    RGCT_RUN(test_threshold);
    return rgct_summary("test_areas");
}
