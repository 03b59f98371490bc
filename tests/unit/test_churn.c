/* test_churn.c - 10^6 random operations against a model: alloc (random sizes and RGC_FINALISER), free,
 * realloc (grow/shrink, allow_move random, n == 0), rgc_write of pointers between live objects, and
 * occasional collections, on a 64 KiB heap whose live objects are all referenced from one registered
 * root table of 512 handles.
 *
 * Every object carries a canary derived from its serial number in all bytes but word 0 (word 0 is a
 * pointer slot written with rgc_write). Since every live object is rooted and nothing else is ever
 * allocated, the figures are exact at all times: used_bytes == sum of the model's sizes, objects ==
 * live handles, a collection frees nothing and never runs the finaliser, and an allocation that returns
 * NULL really had no run of free blocks long enough. At the end everything is dropped and collected:
 * exactly the live finaliser objects are finalised, and used_bytes returns to 0. */
#include <time.h>

#include "rgc_test.h"

#define HEAP_BYTES (64 * 1024)
#define NH 512
#define OPS 1000000L
#define CHECK_ALL_UNTIL 10000L
#define CHECK_EVERY 1000L
#define VERIFY_EVERY 10000L
#define MAXN (4 * RGC_BLOCK_BYTES * 8)

static rgc_heap heap;
static _Alignas(64) unsigned char region[HEAP_BYTES];
static void *handles[NH]; /* the registered root table */

static struct {
    size_t size;    /* rgc_size */
    uint32_t serial;
    int fin;
    void *slot;     /* what word 0 holds */
} meta[NH];

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint64_t next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Du;
}
static size_t below(size_t n)
{
    return (size_t)(next() % n);
}

static size_t nfin;
static void fin(void *obj)
{
    (void)obj;
    nfin++;
}

static unsigned char canary(uint32_t serial, size_t k)
{
    return (unsigned char)((serial * 2654435761u) >> 24 ^ (uint32_t)k * 31u ^ 0x5Au);
}

static void paint(void *p, uint32_t serial, size_t from, size_t to)
{
    unsigned char *c = p;
    for (size_t k = from < sizeof(void *) ? sizeof(void *) : from; k < to; k++)
        c[k] = canary(serial, k);
}

/* Bytes in [from, to) (outside word 0) that differ from the canary. */
static size_t canary_errors(const void *p, uint32_t serial, size_t from, size_t to)
{
    const unsigned char *c = p;
    size_t bad = 0;
    for (size_t k = from < sizeof(void *) ? sizeof(void *) : from; k < to; k++)
        bad += c[k] != canary(serial, k);
    return bad;
}

static size_t zero_errors(const void *p, size_t from, size_t to)
{
    const unsigned char *c = p;
    size_t bad = 0;
    for (size_t k = from < sizeof(void *) ? sizeof(void *) : from; k < to; k++)
        bad += c[k] != 0;
    return bad;
}

static long op;
static size_t model_used, model_objects, model_fin;
static uint32_t serials;
static long n_alloc, n_alloc_null, n_free, n_realloc, n_realloc_null, n_realloc_moved, n_write,
    n_collect, n_verify, n_heap_checks;

static void report(const char *what, size_t i)
{
    fprintf(stderr, "  op %ld: %s (handle %zu, %p, size %zu, serial %u)\n", op, what, i, handles[i],
            meta[i].size, (unsigned)meta[i].serial);
}

static void verify(size_t i)
{
    void *p = handles[i];
    size_t sz = rgc_size(&heap, p);
    size_t bad = canary_errors(p, meta[i].serial, 0, meta[i].size);
    void *slot = *(void **)p;
    if (sz != meta[i].size || bad != 0 || slot != meta[i].slot)
        report("object damaged", i);
    CHECK_EQ(sz, meta[i].size);
    CHECK_EQ(bad, 0);
    CHECK_PTR(slot, meta[i].slot);
    n_verify++;
}

static size_t pick_size(void)
{
    return below(4) ? 1 + below(2 * RGC_BLOCK_BYTES) : 1 + below(MAXN);
}

static void do_alloc(size_t i)
{
    size_t n = pick_size();
    int f = below(4) == 0;
    void *p = rgc_alloc(&heap, n, f ? RGC_FINALISER : 0);
    n_alloc++;
    if (!p) {
        n_alloc_null++;
        /* with everything rooted, NULL means no free run was long enough */
        CHECK(rgct_stats(&heap).largest_free_bytes < rgct_round(n));
        return;
    }
    CHECK_EQ(rgc_size(&heap, p), rgct_round(n));
    CHECK_EQ(zero_errors(p, 0, rgct_round(n)) + (*(void **)p != NULL), 0);
    meta[i].size = rgct_round(n);
    meta[i].serial = ++serials;
    meta[i].fin = f;
    meta[i].slot = NULL;
    paint(p, meta[i].serial, 0, meta[i].size);
    if (below(2))
        handles[i] = p;
    else
        rgc_write(&heap, &handles[i], p);
    model_used += meta[i].size;
    model_objects++;
    model_fin += f;
}

static void forget(size_t i)
{
    model_used -= meta[i].size;
    model_objects--;
    model_fin -= meta[i].fin;
    handles[i] = NULL;
    memset(&meta[i], 0, sizeof meta[i]);
}

static void do_free(size_t i)
{
    verify(i);
    rgc_free(&heap, handles[i]);
    CHECK_EQ(rgc_size(&heap, handles[i]), 0);
    forget(i);
    n_free++;
}

static void do_realloc(size_t i)
{
    verify(i);
    void *p = handles[i];
    if (below(50) == 0) { /* n == 0: a free */
        CHECK(rgc_realloc(&heap, p, 0, below(2)) == NULL);
        CHECK_EQ(rgc_size(&heap, p), 0);
        forget(i);
        n_free++;
        return;
    }
    size_t n = pick_size();
    bool move = below(2);
    void *q = rgc_realloc(&heap, p, n, move);
    n_realloc++;
    size_t old = meta[i].size, nsz = rgct_round(n);
    if (!q) {
        n_realloc_null++;
        CHECK(nsz > old); /* shrinking never fails */
        if (move)
            CHECK(rgct_stats(&heap).largest_free_bytes < nsz);
        verify(i); /* untouched */
        return;
    }
    if (nsz <= old)
        CHECK_PTR(q, p); /* shrinks in place */
    if (q != p) {
        n_realloc_moved++;
        CHECK(move);
        CHECK_EQ(rgc_size(&heap, p), 0);
    }
    CHECK_EQ(rgc_size(&heap, q), nsz);
    size_t keep = old < nsz ? old : nsz;
    size_t bad = canary_errors(q, meta[i].serial, 0, keep) + zero_errors(q, keep, nsz) +
                 (*(void **)q != meta[i].slot);
    if (bad)
        report("realloc lost contents", i);
    CHECK_EQ(bad, 0);
    paint(q, meta[i].serial, keep, nsz);
    handles[i] = q;
    model_used = model_used - old + nsz;
    meta[i].size = nsz;
}

static void do_write(size_t i)
{
    void *target = handles[below(NH)]; /* a live object or NULL */
    rgc_write(&heap, (void **)handles[i], target);
    meta[i].slot = target;
    CHECK_PTR(*(void **)handles[i], target);
    n_write++;
}

static void verify_all(void)
{
    for (size_t i = 0; i < NH; i++)
        if (handles[i])
            verify(i);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.used_bytes, model_used);
    CHECK_EQ(s.objects, model_objects);
    CHECK_EQ(s.free_bytes, s.total_bytes - model_used);
    CHECK_EQ(s.misuse, 0);
    CHECK_EQ(s.deferred_frees, 0);
    /* one 'f' per live finaliser object in the map */
    static struct rgct_text t;
    static char map[HEAP_BYTES / RGC_BLOCK_BYTES + 2];
    const char *m = rgct_dump_map(&heap, &t, map, sizeof map);
    CHECK(m != NULL);
    if (m) {
        size_t fs = 0;
        for (const char *c = m; *c; c++)
            fs += *c == 'f';
        CHECK_EQ(fs, model_fin);
    }
}

static void do_collect(void)
{
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    n_collect++;
    CHECK_EQ(nfin, 0); /* everything is rooted */
    CHECK_EQ(rgct_stats(&heap).used_bytes, model_used);
}

static void *final_fin[NH]; /* not a root range */

static RGCT_NOINLINE size_t drop_all(void)
{
    size_t k = 0;
    for (size_t i = 0; i < NH; i++) {
        if (handles[i] && meta[i].fin)
            final_fin[k++] = handles[i];
        handles[i] = NULL;
    }
    return k;
}

static void *fin_seen[NH];
static size_t nseen;
static void fin_record(void *obj)
{
    if (nseen < NH)
        fin_seen[nseen] = obj;
    nseen++;
}

static void churn(void)
{
    CHECK_EQ(rgct_fresh(&heap, region, HEAP_BYTES), RGC_OK);
    CHECK_EQ(rgc_add_root(&heap, handles, sizeof handles), RGC_OK);
    rgc_set_finaliser(&heap, fin);
    for (op = 0; op < OPS; op++) {
        if (op == OPS / 2)
            rgc_level_policy(&heap, 0, 0); /* second half: no automatic collections */
        size_t i = below(NH);
        unsigned r = (unsigned)below(1000);
        if (r == 0)
            do_collect();
        else if (!handles[i])
            do_alloc(i);
        else if (r < 300)
            do_free(i);
        else if (r < 550)
            do_realloc(i);
        else if (r < 850)
            do_write(i);
        else
            verify(i);
        if (op < CHECK_ALL_UNTIL || op % CHECK_EVERY == 0) {
            CHECK_HEAP(&heap);
            n_heap_checks++;
        }
        if (op % VERIFY_EVERY == 0)
            verify_all();
        if (rgct_failures > 50) {
            fprintf(stderr, "too many failures, stopping at op %ld\n", op);
            break;
        }
    }
    verify_all();
    do_collect();
    verify_all();
    rgc_stats s = rgct_stats(&heap);
    printf("churn: %ld operations: %ld alloc (%ld NULL), %ld free, %ld realloc (%ld NULL, %ld moved), "
           "%ld write, %ld collect (%u in total), %ld object verifications, %ld rgc_check calls; "
           "%zu live objects, %zu bytes\n",
           op, n_alloc, n_alloc_null, n_free, n_realloc, n_realloc_null, n_realloc_moved, n_write,
           n_collect, s.collections, n_verify, n_heap_checks, model_objects, model_used);
    /* the mix did happen (a heap full enough to refuse allocations: with the default block size) */
    CHECK((n_alloc_null > 0 || RGC_BLOCK_BYTES < 32) && n_realloc_moved > 0 && model_objects > 0);
    /* every NULL from rgc_alloc is a failed allocation; a refused realloc may count too */
    CHECK(s.failed_allocs >= (uint32_t)n_alloc_null);
    CHECK(s.failed_allocs <= (uint32_t)(n_alloc_null + n_realloc_null));
}

/* Run after churn() has returned (its frame may hold heap addresses in spill slots): drop everything,
 * exactly the live finaliser objects are finalised, once each, and the heap is empty. */
static void drop_and_collect(void)
{
    rgc_set_finaliser(&heap, fin_record);
    size_t k = drop_all();
    CHECK_EQ(k, model_fin);
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(nseen, k);
    rgct_sort_ptrs(final_fin, k);
    size_t found = 0;
    for (size_t j = 0; j < nseen && j < NH; j++)
        found += bsearch(&fin_seen[j], final_fin, k, sizeof final_fin[0], rgct_ptr_cmp) != NULL;
    CHECK_EQ(found, k);
    rgct_sort_ptrs(fin_seen, nseen < NH ? nseen : NH);
    size_t dup = 0;
    for (size_t j = 1; j < nseen && j < NH; j++)
        dup += fin_seen[j] == fin_seen[j - 1];
    CHECK_EQ(dup, 0);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.used_bytes, 0);
    CHECK_EQ(s.objects, 0);
    CHECK_EQ(s.largest_free_bytes, s.total_bytes);
    CHECK_EQ(s.misuse, 0);
    CHECK_HEAP(&heap);
}

int main(void)
{
    clock_t t0 = clock();
    /* RGCT_SEQUENTIAL: drop_and_collect works on what churn left (one CTest for the file) */
    RGCT_RUN(churn);
    RGCT_RUN(drop_and_collect);
    printf("churn: %.2f s CPU, %lu checks\n", (double)(clock() - t0) / CLOCKS_PER_SEC, rgct_checks);
    return rgct_summary("test_churn");
}
