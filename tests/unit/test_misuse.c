/* test_misuse.c - misuse by design: every public function with bad input returns the documented
 * error (or NULL), never corrupts the heap (rgc_check, and a canary object that must stay intact), and
 * is counted in rgc_stats.misuse where rgc.h says bad input is counted - from thread code, from a
 * level >= RGC_MAX_LEVELS, and from a simulated interrupt (port/posix/rgc_sim.h) while a collection is
 * suspended below it: executing (the interrupt is raised from a finaliser, inside the sweep) or in
 * progress between steps (opened by rgc_collect_start at level 0).
 *
 * Each expectation is one EXPECT_MISUSE(n, statement): the statement runs, rgc_stats.misuse must grow
 * by exactly n, rgc_check must pass and the canary object must be intact afterwards.
 *
 * Behaviour the header does not spell out (pinned here as the core does it, listed in the report of
 * issue 8): invalid rgc_alloc flag bits and invalid rgc_level_policy bits are counted as misuse;
 * settings calls (rgc_level_policy with good arguments, rgc_set_threshold, rgc_set_pacing,
 * rgc_set_finaliser) do not look at the calling level (rgc_reserve and rgc_add_area do); rgc_write/rgc_swap from a level
 * >= RGC_MAX_LEVELS still store (without the barrier) and count the misuse; rgc_collect_roots returns
 * RGC_LOCKED / RGC_BUSY (not counted) when its level's collection is open but the heap is locked or a
 * step executes below.
 * rgc_sweep_all keeps the objects other contexts have published as in progress - a level's last call's
 * stale slot included (documented since 4d0a985, after this test found it): checked too.
 */
#define _GNU_SOURCE
#include "rgc_test.h"

#include "rgc_port.h"
#include "rgc_sim.h"

void rgc_posix_set_level(unsigned level); /* port/posix: the level rgc_port_level() reports */

#define HEAP_BYTES (32 * 1024)
#define CANARY_WORDS 16

static rgc_heap heap;
static rgc_heap never_inited;                     /* zeroed static storage, never rgc_init'ed */
static _Alignas(64) unsigned char region[HEAP_BYTES + 4096];
static _Alignas(64) unsigned char area_mem[3][4096];
static void *roots[16]; /* registered */
static void *extra_roots[4];
static void *slot_word; /* not a root */
static unsigned long foreign_word;

/* ---- the canary object: rooted, full of odd words; checked after every expectation ---- */
static uintptr_t canary_value(size_t i) { return ((uintptr_t)i * 0x9E3779B1u) | 1u; }

static void canary_make(void)
{
    uintptr_t *p = rgc_alloc(&heap, CANARY_WORDS * sizeof(uintptr_t), 0);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    for (size_t i = 0; i < CANARY_WORDS; i++)
        p[i] = canary_value(i);
    roots[0] = p;
}

static int canary_intact(void)
{
    const uintptr_t *p = roots[0];
    if (p == NULL || rgc_size(&heap, p) < CANARY_WORDS * sizeof(uintptr_t))
        return 0;
    for (size_t i = 0; i < CANARY_WORDS; i++)
        if (p[i] != canary_value(i))
            return 0;
    return 1;
}

static uint32_t misuse_count(void) { return rgct_stats(&heap).misuse; }

static void expect_after(uint32_t before, uint32_t n, const char *what, int line)
{
    uint32_t after = misuse_count();
    if (after - before != n)
        fprintf(stderr, "  (line %d: %s counted %u misuse, expected %u)\n", line, what, after - before, n);
    CHECK_EQ(after - before, n);
    CHECK_HEAP(&heap);
    CHECK(canary_intact());
}
#define EXPECT_MISUSE(n, stmt)                                                                         \
    do {                                                                                               \
        uint32_t before_ = misuse_count();                                                            \
        stmt;                                                                                          \
        expect_after(before_, (n), #stmt, __LINE__);                                                   \
    } while (0)

static void fresh(void)
{
    CHECK_EQ(rgct_fresh(&heap, region, HEAP_BYTES), RGC_OK);
    memset(roots, 0, sizeof roots);
    memset(extra_roots, 0, sizeof extra_roots);
    CHECK_EQ(rgc_add_root(&heap, roots, sizeof roots), RGC_OK);
    canary_make();
    CHECK_EQ(misuse_count(), 0);
}

/* ---- a heap that was never initialised, and NULL: errors, NULL, nothing else ---- */
static void test_uninitialised_and_null(void)
{
    rgc_heap junk;
    memset(&junk, 0xA5, sizeof junk);
    rgc_heap *bad[3] = {&never_inited, &junk, NULL};
    for (int i = 0; i < 3; i++) {
        rgc_heap *h = bad[i];
        rgc_stats st;
        CHECK(rgc_alloc(h, 16, 0) == NULL);
        CHECK(rgc_alloc(h, 0, 0) == NULL);
        CHECK(rgc_realloc(h, NULL, 16, true) == NULL);
        CHECK(rgc_realloc(h, &foreign_word, 16, true) == NULL);
        rgc_free(h, &foreign_word);
        rgc_free(h, NULL);
        CHECK_EQ(rgc_size(h, &foreign_word), 0);
        CHECK_EQ(rgc_collect(h), RGC_EINVAL);
        CHECK_EQ(rgc_collect_start(h), RGC_EINVAL);
        CHECK_EQ(rgc_collect_roots(h, (void *const *)roots, 1), RGC_EINVAL);
        CHECK_EQ(rgc_collect_step(h, 1), RGC_EINVAL);
        CHECK_EQ(rgc_collect_finish(h), RGC_EINVAL);
        CHECK_EQ(rgc_sweep_all(h), RGC_EINVAL);
        CHECK_EQ(rgc_add_root(h, extra_roots, sizeof extra_roots), RGC_EINVAL);
        CHECK_EQ(rgc_reserve(h, 1, 64), RGC_EINVAL);
        CHECK_EQ(rgc_add_area(h, area_mem[0], sizeof area_mem[0]), RGC_EINVAL);
        slot_word = NULL;
        rgc_write(h, &slot_word, &foreign_word); /* no heap to shade for: just the store */
        CHECK_PTR(slot_word, &foreign_word);
        CHECK_PTR(rgc_swap(h, &slot_word, NULL), &foreign_word);
        CHECK_PTR(slot_word, NULL);
        rgc_write(h, NULL, &foreign_word);
        rgc_lock(h);
        rgc_unlock(h);
        rgc_unlock(h);
        rgc_set_finaliser(h, NULL);
        rgc_level_policy(h, 0, RGC_NO_ALLOC);
        rgc_level_policy(h, 1000, 1000);
        rgc_set_pacing(h, 5);
        rgc_set_threshold(h, 100);
        memset(&st, 0x5A, sizeof st);
        rgc_get_stats(h, &st);
        CHECK_EQ(st.total_bytes + st.used_bytes + st.blocks + st.objects + st.areas + st.misuse, 0);
        rgc_get_stats(h, NULL);
        CHECK_EQ(rgc_busy_depth(h), 0);
        CHECK_EQ(rgc_check(h), RGC_ECORRUPT);
        struct rgct_text *t = malloc(sizeof *t);
        if (t != NULL) {
            memset(t, 0, sizeof *t);
            rgc_dump(h, rgct_text_print, t);
            CHECK(strcmp(t->buf, "rgc: not an initialised heap\n") == 0);
            free(t);
        }
        rgc_dump(h, NULL, NULL);
    }
    /* the never-initialised heap is untouched by all of it */
    static const rgc_heap zero;
    CHECK(memcmp(&never_inited, &zero, sizeof zero) == 0);
    /* rgc_init's own checks */
    CHECK_EQ(rgc_init(NULL, region, HEAP_BYTES), RGC_EINVAL);
    CHECK_EQ(rgc_init(&junk, NULL, HEAP_BYTES), RGC_EINVAL);
    CHECK_EQ(rgc_init(&junk, region + 1, HEAP_BYTES), RGC_EINVAL);
    CHECK_EQ(rgc_init(&junk, region, RGC_BLOCK_BYTES), RGC_EINVAL);
    CHECK_EQ(rgc_check(&junk), RGC_ECORRUPT); /* a failed init leaves the handle as it was */
}

/* ---- rgc_alloc / rgc_realloc / rgc_free / rgc_size ---- */
static RGCT_NOINLINE void test_alloc_free_realloc(void)
{
    fresh();
    size_t total = rgct_stats(&heap).total_bytes;
    void *p;
    EXPECT_MISUSE(1, CHECK(rgc_alloc(&heap, 0, 0) == NULL));
    EXPECT_MISUSE(1, CHECK(rgc_alloc(&heap, total + 1, 0) == NULL));
    EXPECT_MISUSE(1, CHECK(rgc_alloc(&heap, SIZE_MAX, 0) == NULL));
    EXPECT_MISUSE(1, CHECK(rgc_alloc(&heap, SIZE_MAX - RGC_BLOCK_BYTES + 2, 0) == NULL)); /* rounding overflow */
    EXPECT_MISUSE(1, CHECK(rgc_alloc(&heap, 16, 2u) == NULL));                          /* unknown flag */
    EXPECT_MISUSE(1, CHECK(rgc_alloc(&heap, 16, RGC_FINALISER | 0x80000000u) == NULL));
    /* the whole heap is a size, not misuse (it fails: the canary is in it) */
    EXPECT_MISUSE(0, CHECK(rgc_alloc(&heap, total, 0) == NULL));
    /* policy RGC_NO_ALLOC: misuse, for alloc and for realloc (even a shrink) */
    roots[1] = rgc_alloc(&heap, 4 * RGC_BLOCK_BYTES, 0);
    CHECK(roots[1] != NULL);
    rgc_level_policy(&heap, 0, RGC_NO_ALLOC);
    EXPECT_MISUSE(1, CHECK(rgc_alloc(&heap, 16, 0) == NULL));
    EXPECT_MISUSE(1, CHECK(rgc_realloc(&heap, roots[1], RGC_BLOCK_BYTES, true) == NULL));
    EXPECT_MISUSE(1, CHECK(rgc_realloc(&heap, NULL, 16, true) == NULL));
    CHECK_EQ(rgc_size(&heap, roots[1]), 4 * RGC_BLOCK_BYTES);
    rgc_level_policy(&heap, 0, RGC_AUTO_COLLECT);
    /* a lock is no misuse: failed */
    rgc_lock(&heap);
    uint32_t failed0 = rgct_stats(&heap).failed_allocs;
    EXPECT_MISUSE(0, CHECK(rgc_alloc(&heap, 16, 0) == NULL));
    EXPECT_MISUSE(0, CHECK(rgc_realloc(&heap, roots[1], 64 * RGC_BLOCK_BYTES, true) == NULL));
    CHECK_EQ(rgct_stats(&heap).failed_allocs, failed0 + 2);
    rgc_unlock(&heap);

    /* rgc_free: NULL is ignored; foreign, interior, table, past the pool, double: counted, ignored */
    unsigned char *obj = rgc_alloc(&heap, 3 * RGC_BLOCK_BYTES, RGC_FINALISER);
    roots[2] = obj;
    CHECK(obj != NULL);
    EXPECT_MISUSE(0, rgc_free(&heap, NULL));
    EXPECT_MISUSE(1, rgc_free(&heap, &foreign_word));
    EXPECT_MISUSE(1, rgc_free(&heap, obj + 1));
    EXPECT_MISUSE(1, rgc_free(&heap, obj + RGC_BLOCK_BYTES)); /* a TAIL block's start */
    EXPECT_MISUSE(1, rgc_free(&heap, region));              /* the tables */
    EXPECT_MISUSE(1, rgc_free(&heap, region + HEAP_BYTES)); /* past the pool */
    EXPECT_MISUSE(1, rgc_free(&heap, (char *)roots[0] + 3));
    CHECK_EQ(rgc_size(&heap, obj), 3 * RGC_BLOCK_BYTES);
    p = roots[1];
    roots[1] = NULL;
    EXPECT_MISUSE(0, rgc_free(&heap, p));
    EXPECT_MISUSE(1, rgc_free(&heap, p)); /* double */
    EXPECT_MISUSE(1, rgc_free(&heap, p)); /* and again */
    /* rgc_size of anything that is not the start of a live object: 0, not counted */
    EXPECT_MISUSE(0, CHECK_EQ(rgc_size(&heap, p), 0));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_size(&heap, obj + 1), 0));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_size(&heap, &foreign_word), 0));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_size(&heap, NULL), 0));

    /* rgc_realloc of a freed, interior or foreign pointer: NULL + misuse; SIZE_MAX: NULL + misuse and
     * the object untouched; 0: rgc_free; NULL: rgc_alloc */
    EXPECT_MISUSE(1, CHECK(rgc_realloc(&heap, p, 16, true) == NULL));
    EXPECT_MISUSE(1, CHECK(rgc_realloc(&heap, p, 16, false) == NULL));
    EXPECT_MISUSE(1, CHECK(rgc_realloc(&heap, obj + 8, 16, true) == NULL));
    EXPECT_MISUSE(1, CHECK(rgc_realloc(&heap, obj + RGC_BLOCK_BYTES, 16, true) == NULL));
    EXPECT_MISUSE(1, CHECK(rgc_realloc(&heap, &foreign_word, 16, true) == NULL));
    EXPECT_MISUSE(1, CHECK(rgc_realloc(&heap, obj, SIZE_MAX, true) == NULL));
    EXPECT_MISUSE(1, CHECK(rgc_realloc(&heap, obj, total + 1, true) == NULL));
    CHECK_EQ(rgc_size(&heap, obj), 3 * RGC_BLOCK_BYTES);
    EXPECT_MISUSE(1, CHECK(rgc_realloc(&heap, NULL, 0, true) == NULL)); /* = rgc_alloc(0) */
    EXPECT_MISUSE(1, CHECK(rgc_realloc(&heap, p, 0, true) == NULL));    /* = rgc_free(freed) */
    roots[2] = NULL;
    EXPECT_MISUSE(0, CHECK(rgc_realloc(&heap, obj, 0, true) == NULL)); /* = rgc_free */
    EXPECT_MISUSE(0, CHECK_EQ(rgc_size(&heap, obj), 0));
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_HEAP(&heap);
    CHECK(canary_intact());
}

/* ---- roots, barrier, lock, policy, reserve, areas, collection protocol ---- */
static void test_settings_and_roots(void)
{
    fresh();
    /* rgc_add_root: NULL, misaligned, shorter than a word: EINVAL + misuse; a full table too */
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_root(&heap, NULL, 64), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_root(&heap, (char *)extra_roots + 1, 16), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_root(&heap, extra_roots, 0), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_root(&heap, extra_roots, sizeof(void *) - 1), RGC_EINVAL));
    int added = 1; /* roots[] */
    while (added < RGC_MAX_ROOTS) {
        EXPECT_MISUSE(0, CHECK_EQ(rgc_add_root(&heap, extra_roots, sizeof extra_roots), RGC_OK));
        added++;
    }
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_root(&heap, extra_roots, sizeof extra_roots), RGC_EINVAL)); /* full */
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_root(&heap, extra_roots, sizeof extra_roots), RGC_EINVAL));

    /* rgc_write / rgc_swap: NULL or misaligned slot: misuse, nothing stored */
    slot_word = &foreign_word;
    EXPECT_MISUSE(1, rgc_write(&heap, NULL, roots[0]));
    EXPECT_MISUSE(1, rgc_write(&heap, (void **)(void *)((char *)&slot_word + 1), roots[0]));
    EXPECT_MISUSE(1, CHECK(rgc_swap(&heap, NULL, roots[0]) == NULL));
    CHECK_PTR(slot_word, &foreign_word);
    EXPECT_MISUSE(0, CHECK_PTR(rgc_swap(&heap, &slot_word, NULL), &foreign_word));

    /* rgc_unlock below zero: misuse (and the lock stays usable) */
    EXPECT_MISUSE(1, rgc_unlock(&heap));
    EXPECT_MISUSE(0, rgc_lock(&heap));
    EXPECT_MISUSE(0, rgc_unlock(&heap));
    EXPECT_MISUSE(1, rgc_unlock(&heap));
    EXPECT_MISUSE(0, CHECK(rgc_alloc(&heap, 16, 0) != NULL));

    /* rgc_level_policy: a level >= RGC_MAX_LEVELS, unknown bits: misuse, policy unchanged */
    EXPECT_MISUSE(1, rgc_level_policy(&heap, RGC_MAX_LEVELS, 0));
    EXPECT_MISUSE(1, rgc_level_policy(&heap, 0xFFFFFFFFu, RGC_AUTO_COLLECT));
    EXPECT_MISUSE(1, rgc_level_policy(&heap, 0, 4u));
    EXPECT_MISUSE(1, rgc_level_policy(&heap, 0, RGC_NO_ALLOC | 0x100u));
    EXPECT_MISUSE(0, CHECK(rgc_alloc(&heap, 16, 0) != NULL)); /* level 0 kept RGC_AUTO_COLLECT, not NO_ALLOC */

    /* rgc_reserve: level 0, a level >= RGC_MAX_LEVELS, more than the last area: EINVAL + misuse */
    EXPECT_MISUSE(1, CHECK_EQ(rgc_reserve(&heap, 0, 64), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_reserve(&heap, RGC_MAX_LEVELS, 64), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_reserve(&heap, 1, SIZE_MAX), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_reserve(&heap, 1, HEAP_BYTES), RGC_EINVAL));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_reserve(&heap, 1, 1024), RGC_OK));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_reserve(&heap, 2, rgct_stats(&heap).total_bytes - 1024), RGC_EINVAL));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_reserve(&heap, 1, 0), RGC_OK));

    /* settings never fail: pacing, threshold, finaliser */
    EXPECT_MISUSE(0, rgc_set_pacing(&heap, 0xFFFFFFFFu));
    EXPECT_MISUSE(0, rgc_set_threshold(&heap, SIZE_MAX));
    EXPECT_MISUSE(0, rgc_set_pacing(&heap, 0));
    EXPECT_MISUSE(0, rgc_set_threshold(&heap, 0));
    EXPECT_MISUSE(0, rgc_set_finaliser(&heap, NULL));

    /* rgc_get_stats / rgc_dump with NULL outputs */
    rgc_get_stats(&heap, NULL);
    rgc_dump(&heap, NULL, NULL);
    CHECK_HEAP(&heap);
}

static void test_collection_protocol(void)
{
    fresh();
    void *words[4] = {roots[0], NULL, NULL, NULL};
    /* rgc_collect_roots with no collection open: EINVAL + misuse; NULL / misaligned words too */
    EXPECT_MISUSE(1, CHECK_EQ(rgc_collect_roots(&heap, words, 4), RGC_EINVAL));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_collect_start(&heap), RGC_OK));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_collect_roots(&heap, NULL, 4), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_collect_roots(&heap, (void *const *)(void *)((char *)words + 1), 2), RGC_EINVAL));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_collect_roots(&heap, words, 4), RGC_OK));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_collect_roots(&heap, words, 0), RGC_OK));
    /* a second start while one is open: RGC_BUSY, not misuse; so is rgc_collect and rgc_sweep_all */
    EXPECT_MISUSE(0, CHECK_EQ(rgc_collect_start(&heap), RGC_BUSY));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_collect(&heap), RGC_BUSY));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_sweep_all(&heap), RGC_BUSY));
    /* locked: RGC_LOCKED (not misuse) from every collection request, rgc_collect_roots included */
    rgc_lock(&heap);
    EXPECT_MISUSE(0, CHECK_EQ(rgc_collect_roots(&heap, words, 4), RGC_LOCKED));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_collect_step(&heap, 1), RGC_LOCKED));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_collect_finish(&heap), RGC_LOCKED));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_collect(&heap), RGC_LOCKED));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_sweep_all(&heap), RGC_LOCKED));
    rgc_unlock(&heap);
    EXPECT_MISUSE(0, CHECK_EQ(rgc_collect_finish(&heap), RGC_OK));
    /* after the collection closed: collect_roots is misuse again; finish with none in progress: OK */
    EXPECT_MISUSE(1, CHECK_EQ(rgc_collect_roots(&heap, words, 4), RGC_EINVAL));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_collect_finish(&heap), RGC_OK));
    /* a collection begun by a step is not open for roots */
    EXPECT_MISUSE(0, CHECK_EQ(rgc_collect_step(&heap, 1), 1));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_collect_roots(&heap, words, 4), RGC_EINVAL));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_collect_start(&heap), RGC_BUSY));
    EXPECT_MISUSE(0, CHECK_EQ(rgc_collect_finish(&heap), RGC_OK));
    CHECK(canary_intact());
}

/* ---- rgc_add_area: overlapping, too small, misaligned, NULL, wrapping, too many ---- */
static void test_add_area_misuse(void)
{
    fresh();
    size_t blocks0 = rgct_stats(&heap).blocks;
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_area(&heap, NULL, 4096), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_area(&heap, area_mem[0], 0), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_area(&heap, area_mem[0] + 1, 2048), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_area(&heap, area_mem[0], RGC_BLOCK_BYTES), RGC_EINVAL)); /* too small */
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_area(&heap, area_mem[0], 1), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_area(&heap, area_mem[0], SIZE_MAX), RGC_EINVAL)); /* wraps around */
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_area(&heap, region, 4096), RGC_EINVAL));          /* the first area */
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_area(&heap, region + HEAP_BYTES / 2, 4096), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_area(&heap, (unsigned char *)roots[0] - 8, 4096), RGC_EINVAL));
    CHECK_EQ(rgct_stats(&heap).blocks, blocks0);
    CHECK_EQ(rgct_stats(&heap).areas, 1);
    /* good ones up to RGC_MAX_AREAS, then "too many"; overlapping an added area too */
    EXPECT_MISUSE(0, CHECK_EQ(rgc_add_area(&heap, area_mem[0], sizeof area_mem[0]), RGC_OK));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_area(&heap, area_mem[0] + 512, 1024), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_area(&heap, area_mem[0], sizeof area_mem[0]), RGC_EINVAL)); /* twice */
    unsigned n = 2;
    for (unsigned i = 1; i < 3 && n < RGC_MAX_AREAS; i++, n++)
        EXPECT_MISUSE(0, CHECK_EQ(rgc_add_area(&heap, area_mem[i], sizeof area_mem[i]), RGC_OK));
    if (n == RGC_MAX_AREAS) {
        static _Alignas(64) unsigned char one_more[4096];
        EXPECT_MISUSE(1, CHECK_EQ(rgc_add_area(&heap, one_more, sizeof one_more), RGC_EINVAL)); /* too many */
    }
    CHECK_EQ(rgct_stats(&heap).areas, n);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK(canary_intact());
}

/* ---- a level >= RGC_MAX_LEVELS: every call that enters the heap is refused and counted ---- */
static void test_bad_level(void)
{
    fresh();
    void *obj = rgc_alloc(&heap, 2 * RGC_BLOCK_BYTES, 0);
    roots[3] = obj;
    rgc_posix_set_level(RGC_MAX_LEVELS);
    EXPECT_MISUSE(1, CHECK(rgc_alloc(&heap, 16, 0) == NULL));
    EXPECT_MISUSE(1, CHECK(rgc_alloc(&heap, 0, 0) == NULL)); /* counted once */
    EXPECT_MISUSE(1, rgc_free(&heap, obj));
    EXPECT_MISUSE(1, CHECK(rgc_realloc(&heap, obj, 16, true) == NULL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_collect(&heap), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_collect_step(&heap, 1), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_collect_start(&heap), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_collect_finish(&heap), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_sweep_all(&heap), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_collect_roots(&heap, (void *const *)roots, 1), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_root(&heap, extra_roots, sizeof extra_roots), RGC_EINVAL));
    EXPECT_MISUSE(1, rgc_lock(&heap));
    EXPECT_MISUSE(1, rgc_unlock(&heap));
    CHECK_EQ(rgc_busy_depth(&heap), 0);
    /* rgc_write still stores (a program's data structure must not silently miss a store) */
    slot_word = NULL;
    EXPECT_MISUSE(1, rgc_write(&heap, &slot_word, &foreign_word));
    CHECK_PTR(slot_word, &foreign_word);
    EXPECT_MISUSE(1, CHECK_EQ(rgc_reserve(&heap, 1, 64), RGC_EINVAL));
    EXPECT_MISUSE(1, CHECK_EQ(rgc_add_area(&heap, area_mem[0], sizeof area_mem[0]), RGC_EINVAL));
    CHECK_EQ(rgct_stats(&heap).areas, 1);
    /* the plain settings do not look at the caller's level */
    EXPECT_MISUSE(0, rgc_level_policy(&heap, 1, 0));
    EXPECT_MISUSE(1, rgc_level_policy(&heap, RGC_MAX_LEVELS, 0));
    rgc_posix_set_level(0);
    CHECK_EQ(rgc_size(&heap, obj), 2 * RGC_BLOCK_BYTES); /* the refused free left it */
    CHECK_EQ(rgct_stats(&heap).objects, 2);
}

/* ---- misuse from an interrupt while a collection is suspended below it ---- */
static unsigned char *int_obj;        /* rooted (roots[4]), 3 blocks */
static void *int_freed;               /* freed before the interrupt */
static int int_ran, int_level;
static uint32_t int_counted, int_expected;
static int int_busy, int_checks_ok, int_mode;
static int int_rc[8];

/* The handler: a list of misuse calls, each counted; collection requests get RGC_BUSY. */
static void misuse_handler(unsigned level, void *arg)
{
    (void)arg;
    int_ran++;
    int_level = (int)level;
    uint32_t m0 = rgct_stats(&heap).misuse, busy0 = rgct_stats(&heap).busy_collections;
    int_checks_ok = rgc_check(&heap) == RGC_OK && canary_intact();
    void *words[2] = {roots[0], NULL};
    uint32_t n = 0;
    rgc_free(&heap, &foreign_word), n++;
    rgc_free(&heap, int_obj + 1), n++;
    rgc_free(&heap, int_obj + RGC_BLOCK_BYTES), n++;
    rgc_free(&heap, int_freed), n++;
    n += rgc_realloc(&heap, int_freed, 32, true) == NULL;
    n += rgc_realloc(&heap, int_obj, SIZE_MAX, true) == NULL;
    n += rgc_alloc(&heap, 0, 0) == NULL;
    n += rgc_alloc(&heap, SIZE_MAX, 0) == NULL;
    n += rgc_alloc(&heap, 16, 0x40u) == NULL;
    rgc_unlock(&heap), n++; /* nothing locked */
    rgc_level_policy(&heap, RGC_MAX_LEVELS + 3u, 0), n++;
    rgc_level_policy(&heap, level, 0x10u), n++;
    n += rgc_collect_roots(&heap, words, 2) == RGC_EINVAL; /* no collection open for this level */
    n += rgc_add_root(&heap, NULL, 16) == RGC_EINVAL;
    n += rgc_add_root(&heap, (char *)extra_roots + 2, 16) == RGC_EINVAL;
    rgc_write(&heap, NULL, roots[0]), n++;
    n += rgc_swap(&heap, (void **)(void *)((char *)&slot_word + 3), NULL) == NULL;
    n += rgc_reserve(&heap, 0, 64) == RGC_EINVAL;
    int_expected = n;
    int_counted = rgct_stats(&heap).misuse - m0;
    if (int_mode == 1) { /* nothing executes the collection below: this level may run it */
        int_rc[0] = rgc_collect(&heap);
        int_checks_ok &= rgc_check(&heap) == RGC_OK && canary_intact();
        return;
    }
    /* collection requests from above a suspended collection: RGC_BUSY at once, not misuse */
    int_rc[0] = rgc_collect(&heap);
    int_rc[1] = rgc_collect_step(&heap, 10);
    int_rc[2] = rgc_collect_start(&heap);
    int_rc[3] = rgc_collect_finish(&heap);
    int_rc[4] = rgc_sweep_all(&heap);
    int_busy = (int)(rgct_stats(&heap).busy_collections - busy0);
    int_checks_ok &= rgc_check(&heap) == RGC_OK && canary_intact() && rgc_size(&heap, int_obj) == 3 * RGC_BLOCK_BYTES;
    int_checks_ok &= rgct_stats(&heap).misuse - m0 == int_counted; /* RGC_BUSY is not misuse */
}

static int fin_raise; /* the finaliser raises the interrupt once */
static void raising_finaliser(void *obj)
{
    (void)obj;
    if (fin_raise) {
        fin_raise = 0;
        rgc_sim_pend(1); /* runs now, on top of the sweep */
    }
}

static RGCT_NOINLINE void make_dead_finaliser_objects(int n)
{
    for (int i = 0; i < n; i++)
        (void)rgc_alloc(&heap, RGC_BLOCK_BYTES, RGC_FINALISER);
}

static RGCT_NOINLINE void interrupt_setup(int mode)
{
    fresh();
    int_mode = mode;
    if (mode == 2) /* before int_freed: they must not take its block */
        RGCT_CALL(make_dead_finaliser_objects, 8);
    int_obj = rgc_alloc(&heap, 3 * RGC_BLOCK_BYTES, 0);
    roots[4] = int_obj;
    int_freed = rgc_alloc(&heap, RGC_BLOCK_BYTES, 0);
    rgc_free(&heap, int_freed);
    int_ran = 0;
    memset(int_rc, 0x7F, sizeof int_rc);
}

static void check_interrupt_result(const char *what, int busy_expected)
{
    CHECK_EQ(int_ran, 1);
    CHECK_EQ(int_level, 1);
    CHECK(int_checks_ok);
    if (int_counted != int_expected)
        fprintf(stderr, "  (%s: the interrupt's misuse calls counted %u, expected %u)\n", what, int_counted,
                int_expected);
    CHECK_EQ(int_counted, int_expected);
    CHECK_EQ(int_expected, 18);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(int_rc[i], RGC_BUSY);
    CHECK_EQ(int_busy, busy_expected);
    CHECK_HEAP(&heap);
    CHECK(canary_intact());
    CHECK_EQ(rgc_size(&heap, int_obj), 3 * RGC_BLOCK_BYTES);
}

static void test_interrupt_during_executing_collection(void)
{
    interrupt_setup(2);
    rgc_set_finaliser(&heap, raising_finaliser);
    uint32_t m0 = misuse_count();
    fin_raise = 1;
    CHECK_EQ(rgct_collect(&heap), RGC_OK); /* the sweep's finaliser raises level 1 */
    CHECK_EQ(fin_raise, 0);
    check_interrupt_result("during an executing collection", 5);
    CHECK_EQ(misuse_count() - m0, int_expected);
    rgc_set_finaliser(&heap, NULL);
}

static void test_interrupt_during_open_collection(void)
{
    interrupt_setup(0);
    uint32_t m0 = misuse_count();
    CHECK_EQ(rgc_collect_start(&heap), RGC_OK); /* open for level 0's roots, marking */
    rgc_sim_pend(1);
    check_interrupt_result("during a collection open at level 0", 5);
    /* level 0's collection is intact: its roots still go in, it finishes */
    void *words[1] = {int_obj};
    CHECK_EQ(rgc_collect_roots(&heap, words, 1), RGC_OK);
    CHECK_EQ(rgc_collect_finish(&heap), RGC_OK);
    CHECK_EQ(misuse_count() - m0, int_expected);
    CHECK_HEAP(&heap);
    CHECK(canary_intact());
}

static void test_interrupt_during_stepped_collection(void)
{
    interrupt_setup(1);
    CHECK_EQ(rgc_collect_step(&heap, 1), 1); /* in progress (marking), nobody executing it */
    rgc_sim_pend(1);
    CHECK_EQ(int_ran, 1);
    CHECK(int_checks_ok);
    CHECK_EQ(int_counted, int_expected);
    /* nothing executes the collection and no roots are open: the handler's requests ran it */
    CHECK_EQ(int_rc[0], RGC_OK);
    CHECK_EQ(rgc_collect_finish(&heap), RGC_OK);
    CHECK_HEAP(&heap);
    CHECK(canary_intact());
    CHECK_EQ(rgc_size(&heap, int_obj), 3 * RGC_BLOCK_BYTES);
}

static RGCT_NOINLINE void alloc_at_level_1(void)
{
    rgc_posix_set_level(1);
    (void)rgc_alloc(&heap, 64, 0); /* level 1's last call: its in-progress slot names the object */
    rgc_posix_set_level(0);
}

/* rgc_sweep_all frees every object but those published as in progress: level 1's last call still
 * names its object, so that object survives; after level 1's next call it goes too. */
static void test_sweep_all_keeps_published(void)
{
    fresh();
    rgct_scrub_stack();
    alloc_at_level_1();
    CHECK_EQ(rgc_sweep_all(&heap), RGC_OK);
    CHECK_EQ(rgct_stats(&heap).objects, 1);
    rgc_posix_set_level(1);
    CHECK_EQ(rgc_collect_finish(&heap), RGC_OK); /* a call in a context clears the level's slot */
    rgc_posix_set_level(0);
    CHECK_EQ(rgc_sweep_all(&heap), RGC_OK);
    CHECK_EQ(rgct_stats(&heap).objects, 0);
    CHECK_HEAP(&heap);
    canary_make(); /* the canary went with everything else */
}

int main(void)
{
    CHECK_EQ(rgc_sim_init(2, 2), 0);
    CHECK_EQ(rgc_sim_attach(1, misuse_handler, NULL), 0);
    RGCT_RUN(test_uninitialised_and_null);
    RGCT_RUN(test_alloc_free_realloc);
    RGCT_RUN(test_settings_and_roots);
    RGCT_RUN(test_collection_protocol);
    RGCT_RUN(test_add_area_misuse);
    RGCT_RUN(test_bad_level);
    RGCT_RUN(test_interrupt_during_executing_collection);
    RGCT_RUN(test_interrupt_during_open_collection);
    RGCT_RUN(test_interrupt_during_stepped_collection);
    RGCT_RUN(test_sweep_all_keeps_published);
    rgc_sim_quiesce();
    return rgct_summary("test_misuse");
}
