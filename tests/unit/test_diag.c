/* test_diag.c - rgc_get_stats (exact figures), rgc_dump (format, characters), rgc_check (detects
 * deliberate ATB corruption, never writes) and rgc_busy_depth.
 *
 * Private access, to corrupt the heap on purpose: raw ATB bytes through the core's areas, and handle
 * fields (test_handle_checks: the checks RGC_DEBUG builds make at every public call). Encoding: 2 bits per block, block i in byte i/4 at bits (i%4)*2: FREE 0, HEAD 1, TAIL 2,
 * MARK 3. */
#include "rgc_test.h"

#include <sys/wait.h>
#include <unistd.h>

#include "../../src/rgc_core.h" /* white box: the handle's fields */

#define HEAP_BYTES 16384
#define MAXOBJ (HEAP_BYTES / RGC_BLOCK_BYTES + 1)

enum { A_FREE = 0, A_HEAD = 1, A_TAIL = 2, A_MARK = 3 };

static rgc_heap heap;
static _Alignas(64) unsigned char region[HEAP_BYTES];
static void *roots[MAXOBJ]; /* registered */
static size_t nblocks;
static struct rgct_text text;
static char map[MAXOBJ + 2];

static void setup(size_t bytes)
{
    CHECK_EQ(rgct_fresh(&heap, region, bytes), RGC_OK);
    memset(roots, 0, sizeof roots);
    CHECK_EQ(rgc_add_root(&heap, roots, sizeof roots), RGC_OK);
    rgc_level_policy(&heap, 0, 0);
    nblocks = rgct_stats(&heap).blocks;
}

static unsigned atb_get(size_t i)
{
    return (atomic_load(&core_of(&heap)->areas[0].atb[i / 4]) >> ((i % 4) * 2)) & 3u;
}

static void atb_set(size_t i, unsigned v)
{
    unsigned b = atomic_load(&core_of(&heap)->areas[0].atb[i / 4]);
    b = (b & ~(3u << ((i % 4) * 2))) | (v << ((i % 4) * 2));
    atomic_store(&core_of(&heap)->areas[0].atb[i / 4], (uint8_t)b);
}

/* Address of block 0, found by allocating one object in the (empty) heap and locating its HEAD. */
static unsigned char *pool_base(void)
{
    unsigned char *p = rgc_alloc(&heap, 1, 0);
    CHECK(p != NULL);
    size_t k = nblocks, heads = 0;
    for (size_t i = 0; i < nblocks; i++)
        if (atb_get(i) == A_HEAD) {
            k = i;
            heads++;
        }
    CHECK_EQ(heads, 1);
    rgc_free(&heap, p);
    CHECK_EQ(atb_get(k), A_FREE);
    return p - k * RGC_BLOCK_BYTES;
}

/* Fill with 1-block objects, sorted by address: roots[i] is block i. */
static size_t fill_one_block(void)
{
    size_t n = 0;
    while (n < MAXOBJ && (roots[n] = rgc_alloc(&heap, 1, 0)) != NULL)
        n++;
    rgct_sort_ptrs(roots, n);
    CHECK_EQ(n, nblocks);
    return n;
}

static size_t count_char(const char *s, char c)
{
    size_t k = 0;
    for (; *s; s++)
        k += *s == c;
    return k;
}

/* Heap addresses are handled by these helpers only, so that the test function's frame holds none when
 * it collects. */
static RGCT_NOINLINE void free_runs(size_t n)
{
    /* free runs of 5 (blocks 10..14), 3 (100..102) and the last block */
    for (size_t i = 10; i < 15; i++)
        rgc_free(&heap, roots[i]);
    for (size_t i = 100; i < 103; i++)
        rgc_free(&heap, roots[i]);
    rgc_free(&heap, roots[n - 1]);
}

static RGCT_NOINLINE void fill_runs(void)
{
    /* a 5-block finaliser object and a 3-block plain one fill the two runs exactly */
    void *f = rgc_alloc(&heap, 5 * RGC_BLOCK_BYTES, RGC_FINALISER);
    void *h3 = rgc_alloc(&heap, 2 * RGC_BLOCK_BYTES + 1, 0);
    CHECK_PTR(f, roots[10]);
    CHECK_PTR(h3, roots[100]);
}

static RGCT_NOINLINE void drop_first_line(void)
{
    for (size_t i = 0; i < 64; i++)
        roots[i] = NULL;
}

static void test_stats_and_dump(void)
{
    setup(HEAP_BYTES);
    /* empty heap */
    const char *m = rgct_dump_map(&heap, &text, map, sizeof map);
    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "  dump output not in the documented shape:\n%s\n", text.buf);
        return;
    }
    CHECK_EQ(strlen(m), nblocks);
    CHECK_EQ(count_char(m, '.'), nblocks);
    /* lines: ceil(blocks / 64) of them */
    CHECK_EQ(count_char(text.buf, '\n') + (text.len && text.buf[text.len - 1] != '\n'),
             (nblocks + 63) / 64);

    size_t n = fill_one_block();
    free_runs(n);
    rgc_stats s = rgct_stats(&heap);
    CHECK_EQ(s.blocks, n);
    CHECK_EQ(s.total_bytes, n * RGC_BLOCK_BYTES);
    CHECK_EQ(s.used_bytes, (n - 9) * RGC_BLOCK_BYTES);
    CHECK_EQ(s.free_bytes, 9 * RGC_BLOCK_BYTES);
    CHECK_EQ(s.largest_free_bytes, 5 * RGC_BLOCK_BYTES);
    CHECK_EQ(s.objects, n - 9);
    CHECK_EQ(s.collections, 0);
    CHECK_EQ(s.busy_collections, 0);
    CHECK_EQ(s.failed_allocs, 1);
    CHECK_EQ(s.misuse, 0);
    CHECK_EQ(s.claim_retries, 0);
    CHECK_EQ(s.deferred_frees, 0);
#if !RGC_ATOMICS_VIA_MASK
    CHECK_EQ(s.longest_masked, 0); /* nothing is ever masked with compare-and-swap */
#endif
    fill_runs();
    s = rgct_stats(&heap);
    CHECK_EQ(s.used_bytes, (n - 1) * RGC_BLOCK_BYTES);
    CHECK_EQ(s.free_bytes, RGC_BLOCK_BYTES);
    CHECK_EQ(s.largest_free_bytes, RGC_BLOCK_BYTES);
    CHECK_EQ(s.objects, n - 9 + 2);
    /* the exact map */
    static char want[MAXOBJ + 2];
    memset(want, 'h', n);
    want[n] = 0;
    memcpy(want + 10, "f====", 5);
    memcpy(want + 100, "h==", 3);
    want[n - 1] = '.';
    m = rgct_dump_map(&heap, &text, map, sizeof map);
    CHECK(m != NULL);
    if (m) {
        CHECK_EQ(strlen(m), n);
        CHECK(strcmp(m, want) == 0);
        if (strcmp(m, want) != 0)
            fprintf(stderr, "  dump:\n%s\n  expected map:\n%s\n", text.buf, want);
    }
    CHECK_HEAP(&heap);
    /* a collection with everything rooted: same figures, unmarked map */
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    rgc_stats t = rgct_stats(&heap);
    CHECK_EQ(t.used_bytes, s.used_bytes);
    CHECK_EQ(t.objects, s.objects);
    CHECK_EQ(t.collections, 1);
    m = rgct_dump_map(&heap, &text, map, sizeof map);
    CHECK(m != NULL && strcmp(m, want) == 0);
    /* drop roots[0..63]: the first line turns into free blocks; the finaliser object is in it */
    drop_first_line();
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    memset(want, '.', 64);
    m = rgct_dump_map(&heap, &text, map, sizeof map);
    CHECK(m != NULL && strcmp(m, want) == 0);
    t = rgct_stats(&heap);
    CHECK_EQ(t.objects, s.objects - 64 + 4); /* the 5-block object was 5 of the 64 blocks */
    CHECK_EQ(t.used_bytes, s.used_bytes - 64 * RGC_BLOCK_BYTES);
    CHECK_EQ(t.largest_free_bytes, 64 * RGC_BLOCK_BYTES);
    CHECK_HEAP(&heap);
}

static void test_dump_lines(void)
{
    /* a heap whose blocks are not a multiple of 64 */
    size_t bytes = 200 * RGC_BLOCK_BYTES + 200 / 4 + 200 / 8 + 64;
    setup(bytes);
    size_t b = nblocks;
    CHECK(b >= 200 && b < 256);
    const char *m = rgct_dump_map(&heap, &text, map, sizeof map);
    CHECK(m != NULL);
    if (m)
        CHECK_EQ(strlen(m), b);
    CHECK_EQ(count_char(text.buf, '\n') + (text.len && text.buf[text.len - 1] != '\n'), (b + 63) / 64);
    /* a 70-block object crosses a line: 'h' then 69 '=' */
    void *p = rgc_alloc(&heap, 70 * RGC_BLOCK_BYTES, 0);
    roots[0] = p;
    CHECK(p != NULL);
    m = rgct_dump_map(&heap, &text, map, sizeof map);
    CHECK(m != NULL);
    if (m) {
        CHECK_EQ(count_char(m, 'h'), 1);
        CHECK_EQ(count_char(m, '='), 69);
        CHECK_EQ(count_char(m, '.'), b - 70);
        const char *hp = strchr(m, 'h');
        CHECK(hp && strspn(hp + 1, "=") == 69);
    }
}

static void test_check_corruption(void)
{
    setup(4096);
    CHECK(nblocks >= 40);
    unsigned char *base = pool_base();
    size_t atb_bytes = (nblocks + 3) / 4;
    static uint8_t before[MAXOBJ], after[MAXOBJ];
    CHECK_HEAP(&heap);

    /* a TAIL after a FREE */
    atb_set(5, A_TAIL);
    CHECK_EQ(rgc_check(&heap), RGC_ECORRUPT);
    for (size_t i = 0; i < atb_bytes; i++)
        before[i] = atomic_load(&core_of(&heap)->areas[0].atb[i]);
    (void)rgc_check(&heap);
    for (size_t i = 0; i < atb_bytes; i++)
        after[i] = atomic_load(&core_of(&heap)->areas[0].atb[i]);
    CHECK(memcmp(before, after, atb_bytes) == 0); /* never writes */
    rgc_stats s = rgct_stats(&heap);
    CHECK(s.used_bytes <= s.total_bytes && s.free_bytes <= s.total_bytes);
    CHECK(s.largest_free_bytes <= s.free_bytes);
    CHECK(s.objects <= s.blocks);
    atb_set(5, A_FREE);
    CHECK_HEAP(&heap);

    /* a TAIL in block 0 */
    atb_set(0, A_TAIL);
    CHECK_EQ(rgc_check(&heap), RGC_ECORRUPT);
    atb_set(0, A_FREE);
    CHECK_HEAP(&heap);

    /* a TAIL in the last block after a FREE */
    atb_set(nblocks - 1, A_TAIL);
    CHECK_EQ(rgc_check(&heap), RGC_ECORRUPT);
    atb_set(nblocks - 1, A_FREE);
    CHECK_HEAP(&heap);

    /* a MARK outside a collection */
    atb_set(7, A_MARK);
    CHECK_EQ(rgc_check(&heap), RGC_ECORRUPT);
    atb_set(7, A_FREE);
    CHECK_HEAP(&heap);

    /* HEAD TAIL written by hand is a well-formed object: rgc sees it */
    atb_set(20, A_HEAD);
    atb_set(21, A_TAIL);
    atb_set(22, A_TAIL);
    atomic_fetch_sub(&core_of(&heap)->free_blocks, 3); /* as a real allocation would have counted it */
    /* I13: a HEAD at or above the heads' high-water mark (a sweep would never reach it) */
    CHECK_EQ(rgc_check(&heap), RGC_ECORRUPT);
    atomic_store(&core_of(&heap)->heads_end, 21); /* ... raised as a real allocation raises it */
    CHECK_HEAP(&heap);
    atomic_fetch_add(&core_of(&heap)->free_blocks, 3);
    CHECK_EQ(rgc_check(&heap), RGC_ECORRUPT); /* the free-block count no longer matches the table */
    atomic_fetch_sub(&core_of(&heap)->free_blocks, 3);
    CHECK_HEAP(&heap);
    s = rgct_stats(&heap);
    CHECK_EQ(s.objects, 1);
    CHECK_EQ(s.used_bytes, 3 * RGC_BLOCK_BYTES);
    CHECK_EQ(rgc_size(&heap, base + 20 * RGC_BLOCK_BYTES), 3 * RGC_BLOCK_BYTES);
    rgc_free(&heap, base + 20 * RGC_BLOCK_BYTES);
    CHECK_EQ(atb_get(20), A_FREE);
    CHECK_EQ(atb_get(21), A_FREE);
    CHECK_EQ(atb_get(22), A_FREE);
    CHECK_EQ(rgct_stats(&heap).misuse, 0);
    CHECK_HEAP(&heap);

    /* real objects: corrupt around them */
    unsigned char *p = rgc_alloc(&heap, 2 * RGC_BLOCK_BYTES, 0);
    unsigned char *q = rgc_alloc(&heap, 1, RGC_FINALISER);
    roots[0] = p;
    roots[1] = q;
    CHECK(p && q);
    if (!p || !q)
        return;
    size_t ip = (size_t)(p - base) / RGC_BLOCK_BYTES, iq = (size_t)(q - base) / RGC_BLOCK_BYTES;
    CHECK_EQ(atb_get(ip), A_HEAD);
    CHECK_EQ(atb_get(ip + 1), A_TAIL);
    CHECK_EQ(atb_get(iq), A_HEAD);
    /* the object's HEAD turned FREE leaves its TAIL after a FREE */
    atb_set(ip, A_FREE);
    CHECK_EQ(rgc_check(&heap), RGC_ECORRUPT);
    atb_set(ip, A_HEAD);
    CHECK_HEAP(&heap);
    /* an object's HEAD turned MARK */
    atb_set(iq, A_MARK);
    CHECK_EQ(rgc_check(&heap), RGC_ECORRUPT);
    atb_set(iq, A_HEAD);
    CHECK_HEAP(&heap);
    /* a TAIL after a gap following an object: find a FREE block followed by a FREE block */
    size_t g = nblocks;
    for (size_t i = 1; i + 1 < nblocks; i++)
        if (atb_get(i - 1) != A_FREE && atb_get(i) == A_FREE && atb_get(i + 1) == A_FREE) {
            g = i;
            break;
        }
    CHECK(g < nblocks);
    if (g < nblocks) {
        atb_set(g + 1, A_TAIL);
        CHECK_EQ(rgc_check(&heap), RGC_ECORRUPT);
        atb_set(g + 1, A_FREE);
    }
    CHECK_HEAP(&heap);
    CHECK_EQ(rgc_size(&heap, p), 2 * RGC_BLOCK_BYTES);
    CHECK_EQ(rgc_size(&heap, q), RGC_BLOCK_BYTES);
}

/* ---- busy depth and the map inside a finaliser ---- */

static unsigned depth_in_fin;
static int fin_calls;
static const char *fin_map;
static char fin_mapbuf[MAXOBJ + 2];
static struct rgct_text fin_text;
static int fin_check;

static void fin(void *obj)
{
    (void)obj;
    fin_calls++;
    depth_in_fin = rgc_busy_depth(&heap);
    fin_map = rgct_dump_map(&heap, &fin_text, fin_mapbuf, sizeof fin_mapbuf);
    fin_check = rgc_check(&heap);
}

static unsigned char *base; /* block 0: may be the dead object's address, so never on the stack */

static RGCT_NOINLINE void make_objects(void)
{
    base = pool_base();
    CHECK(rgc_alloc(&heap, RGC_BLOCK_BYTES, RGC_FINALISER) != NULL);  /* dead */
    roots[0] = rgc_alloc(&heap, 2 * RGC_BLOCK_BYTES, 0);           /* live plain */
    roots[1] = rgc_alloc(&heap, RGC_BLOCK_BYTES, RGC_FINALISER);   /* live finaliser object */
}

static RGCT_NOINLINE size_t block_of_root(size_t k)
{
    return roots[k] ? (size_t)((unsigned char *)roots[k] - base) / RGC_BLOCK_BYTES : (size_t)-1;
}

static void test_busy_depth(void)
{
    setup(HEAP_BYTES);
    CHECK_EQ(rgc_busy_depth(&heap), 0);
    rgc_set_finaliser(&heap, fin);
    make_objects();
    CHECK_EQ(rgc_busy_depth(&heap), 0);
    fin_calls = 0;
    fin_check = 1;
    CHECK_EQ(rgct_collect(&heap), RGC_OK);
    CHECK_EQ(fin_calls, 1);
    CHECK(depth_in_fin > 0);
    CHECK_EQ(rgc_busy_depth(&heap), 0);
    CHECK_EQ(fin_check, RGC_OK);
    CHECK(fin_map != NULL);
    size_t i0 = block_of_root(0), i1 = block_of_root(1);
    CHECK(i0 < nblocks && i1 < nblocks);
    if (fin_map && i0 < nblocks && i1 < nblocks) {
        /* live objects show as head or marked head of their kind, during the sweep */
        CHECK(fin_map[i0] == 'h' || fin_map[i0] == 'm');
        CHECK_EQ(fin_map[i0 + 1], '=');
        CHECK(fin_map[i1] == 'f' || fin_map[i1] == 'M');
        CHECK_EQ(strspn(fin_map, ".h=mfM"), strlen(fin_map));
        printf("map inside the finaliser (live objects at %zu, %zu): %.16s\n", i0, i1, fin_map);
    }
    /* after the collection: unmarked */
    const char *m = rgct_dump_map(&heap, &text, map, sizeof map);
    CHECK(m != NULL);
    if (m) {
        CHECK_EQ(count_char(m, 'm') + count_char(m, 'M'), 0);
        CHECK_EQ(count_char(m, 'h'), 1);
        CHECK_EQ(count_char(m, 'f'), 1);
        CHECK_EQ(count_char(m, '='), 1);
    }
    CHECK_HEAP(&heap);
}

/* The handle's invariants (rgc_core_sane) are checked by rgc_check always, and in RGC_DEBUG builds at
 * the start and on every return of each public function: a corrupted handle stops the program at the
 * next call (a trap, as o1heap's asserts), in a child process here. */
static void test_handle_checks(void)
{
    CHECK_EQ(rgc_init(&heap, region, sizeof region), RGC_OK);
    rgc_core *c = core_of(&heap);
    size_t end = atomic_load(&c->end);
    atomic_store(&c->heads_end, end + 1); /* I13: no head can lie at or above end */
    CHECK_EQ(rgc_check(&heap), RGC_ECORRUPT);
    atomic_store(&c->heads_end, 0);
    CHECK_HEAP(&heap);
    atomic_store(&c->depth[3], RGC_MAX_NEST + 1);
    CHECK_EQ(rgc_check(&heap), RGC_ECORRUPT);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        void *p = rgc_alloc(&heap, 16, 0); /* RGC_DEBUG: traps at the entry check */
        _exit(p != NULL ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
#if RGC_DEBUG
    CHECK(WIFSIGNALED(status)); /* __builtin_trap */
#else
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* no checks in the calls without RGC_DEBUG */
#endif
    atomic_store(&c->depth[3], 0);
    CHECK_HEAP(&heap);
}

/* rgc_get_counters: the counters and totals of rgc_get_stats without the table pass (table figures 0). */
static void test_counters(void)
{
    CHECK_EQ(rgc_init(&heap, region, sizeof region), RGC_OK);
    void *p = rgc_alloc(&heap, 3 * RGC_BLOCK_BYTES, 0);
    CHECK(p != NULL);
    rgc_free(&heap, (char *)p + 1); /* misuse */
    rgct_collect(&heap);
    rgc_stats full = rgct_stats(&heap), c;
    rgc_get_counters(&heap, &c);
    CHECK_EQ(c.collections, full.collections);
    CHECK_EQ(c.misuse, full.misuse);
    CHECK_EQ(c.misuse, 1);
    CHECK_EQ(c.collected_objects, full.collected_objects);
    CHECK_EQ(c.blocks, full.blocks);
    CHECK_EQ(c.total_bytes, full.total_bytes);
    CHECK_EQ(c.areas, 1);
    CHECK_EQ(c.used_bytes, 0);
    CHECK_EQ(c.objects, 0);
    rgc_get_counters(NULL, &c);
    CHECK_EQ(c.total_bytes, 0);
    rgc_get_counters(&heap, NULL); /* ignored */
    CHECK_HEAP(&heap);
}

int main(void)
{
    RGCT_RUN(test_stats_and_dump);
    RGCT_RUN(test_dump_lines);
    RGCT_RUN(test_check_corruption);
    RGCT_RUN(test_busy_depth);
    RGCT_RUN(test_handle_checks);
    RGCT_RUN(test_counters);
    return rgct_summary("test_diag");
}
