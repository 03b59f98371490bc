/* mcu_bench.c - instructions per operation on Cortex-M3 (QEMU mps2-an385, -icount shift=0): the host
 * benchmark's workloads (bench/rgc_bench.c: same definitions, seeds and generator) on a 256 KiB heap
 * with 16-byte blocks, on rgc or, built with MCU_MPGC=1, on MicroPython's py/gc.c (bench/mpgc).
 * bench/mcu/run.sh builds both firmwares at -O2 and -Os, runs them and writes bench/results/mcu.md.
 *
 * Counting: with -icount shift=0 QEMU advances its virtual clock by exactly 1 ns per executed
 * instruction, and the board's free-running counter (board_ticks, 25 MHz) reads that clock, so one tick
 * is 40 instructions and every figure is exact and repeatable. Allocator workloads are batches of many
 * operations; the same loop run with empty allocator functions (the harness: loop, generator, calls)
 * is measured too and run.sh subtracts it. Collections are single calls. Output, one line per figure:
 *   R <case> <ticks> <harness ticks> <operations>
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "board.h"

#ifndef HEAP_BYTES
#define HEAP_BYTES (256u * 1024u)
#endif

#if MCU_MPGC
#include "mpgc.h"
#define IMPL "py/gc.c"
#define BLOCK MPGC_BLOCK_BYTES
static size_t h_init(void *mem, size_t bytes) {
    return mpgc_init(mem, bytes);
}
static void *h_alloc(size_t n) {
    return gc_alloc(n, 0);
}
static void h_free(void *p) {
    gc_free(p);
}
static void h_collect(void) {
    gc_collect();
}
static int h_root(void *p, size_t bytes) {
    return mpgc_add_root(p, bytes);
}
static size_t h_used(void) {
    return mpgc_used_bytes();
}
static uint32_t h_collections(void) {
    return mpgc_collections();
}
#else
#include <rgc.h>
#include <rgc_cortexm.h>
#define IMPL "rgc"
#define BLOCK ((size_t)RGC_BLOCK_BYTES)
static rgc_heap heap;
static size_t h_init(void *mem, size_t bytes) {
    if (rgc_init(&heap, mem, bytes) != RGC_OK)
        return 0;
    rgc_stats st;
    rgc_get_stats(&heap, &st);
    return st.blocks;
}
static void *h_alloc(size_t n) {
    return rgc_alloc(&heap, n, 0);
}
static void h_free(void *p) {
    rgc_free(&heap, p);
}
static void h_collect(void) {
    if (rgc_collect(&heap) != RGC_OK)
        sh_puts("rgc_collect failed\n");
}
static int h_root(void *p, size_t bytes) {
    return rgc_add_root(&heap, p, bytes) == RGC_OK ? 0 : -1;
}
static size_t h_used(void) {
    rgc_stats st;
    rgc_get_stats(&heap, &st);
    return st.used_bytes;
}
static uint32_t h_collections(void) {
    rgc_stats st;
    rgc_get_stats(&heap, &st);
    return st.collections;
}
#endif

static _Alignas(16) unsigned char heap_mem[HEAP_BYTES];

void timer0_irq(void) {}
void timer1_irq(void) {}
void systick_irq(void) {}

_Noreturn static void fail(const char *what) {
    sh_puts("FAIL ");
    sh_puts(what);
    sh_puts("\n");
    sh_exit(1);
}

static char *put_u32(char *at, uint32_t v) {
    char digits[10];
    int d = 0;
    do {
        digits[d++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    *at++ = ' ';
    while (d > 0)
        *at++ = digits[--d];
    return at;
}

/* "<kind> <case> <a> <b> <c>" */
static void line3(char kind, const char *name, uint32_t a, uint32_t b, uint32_t c) {
    char line[96], *at = line;
    size_t n = strlen(name);
    if (n > 40)
        n = 40;
    *at++ = kind;
    *at++ = ' ';
    memcpy(at, name, n);
    at = put_u32(put_u32(put_u32(at + n, a), b), c);
    *at++ = '\n';
    *at = '\0';
    sh_puts(line);
}

/* "R <case> <ticks> <harness ticks> <operations>" */
static void report(const char *name, uint32_t ticks, uint32_t harness, uint32_t ops) {
    line3('R', name, ticks, harness, ops);
}

/* "N <case> <collections> 0 0": collections an allocator ran by itself during a measured loop */
static uint32_t colls_at_start;
static void loop_start(void) {
    colls_at_start = h_collections();
}
static void loop_end(const char *name) {
    uint32_t n = h_collections() - colls_at_start;
    if (n != 0)
        line3('N', name, n, 0, 0);
}

static size_t heap_reset(void) {
    size_t blocks = h_init(heap_mem, sizeof heap_mem);
    if (blocks == 0)
        fail("init");
    return blocks;
}

static void add_root(void *p, size_t bytes) {
    if (h_root(p, bytes) != 0)
        fail("add_root");
}

typedef struct {
    uint64_t s;
} rng_t;

static inline uint64_t rng_next(rng_t *r) { /* xorshift64*, as bench/rgc_bench.c */
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline size_t rng_range(rng_t *r, size_t lo, size_t hi) {
    return lo + (size_t)(rng_next(r) % (uint64_t)(hi - lo + 1u));
}

/* The allocator behind a measured loop: the real one, or empty functions for the harness figure. */
struct ops {
    void *(*alloc)(size_t n);
    void (*free)(void *p);
};
static unsigned char dummy_obj[16];
__attribute__((noinline)) static void *d_alloc(size_t n) {
    __asm__ volatile("" ::"r"(n));
    return dummy_obj;
}
__attribute__((noinline)) static void d_free(void *p) {
    __asm__ volatile("" ::"r"(p));
}
static const struct ops real = {h_alloc, h_free}, empty = {d_alloc, d_free};
static void *volatile sink;

/* ---- A1, A1m: alloc + free pairs on an empty heap ---- */
static uint32_t a1_loop(const struct ops *o, size_t lo, size_t hi, unsigned n) {
    rng_t r = {0xA1A1A1A1DEADBEEFull};
    uint32_t t0 = board_ticks();
    for (unsigned i = 0; i < n; i++) {
        void *p = o->alloc(rng_range(&r, lo, hi));
        sink = p;
        o->free(p);
    }
    return board_ticks() - t0;
}

static void wl_a1(const char *name, size_t lo, size_t hi) {
    enum { N = 4000 };
    heap_reset();
    a1_loop(&real, lo, hi, 200); /* warm-up */
    loop_start();
    uint32_t t = a1_loop(&real, lo, hi, N);
    loop_end(name);
    report(name, t, a1_loop(&empty, lo, hi, N), N);
}

/* ---- A2: S live slots, each op frees a random slot and refills it with U[16,512] ---- */
#define A2_S 512u /* 2048 x heap / 1 MiB: the host's S=2048 fill */
static void *slots[A2_S];

static uint32_t a2_loop(const struct ops *o, rng_t *r, unsigned n) {
    uint32_t t0 = board_ticks();
    for (unsigned i = 0; i < n; i++) {
        size_t j = (size_t)(rng_next(r) % A2_S);
        o->free(slots[j]);
        void *p = o->alloc(rng_range(r, 16, 512));
        if (o == &real)
            slots[j] = p;
    }
    return board_ticks() - t0;
}

static void wl_a2(void) {
    enum { N = 2000 };
    heap_reset();
    memset(slots, 0, sizeof slots);
    add_root(slots, sizeof slots);
    rng_t r = {0xA2A2A2A2ull + 2048};
    for (unsigned i = 0; i < A2_S; i++)
        slots[i] = h_alloc(rng_range(&r, 16, 512));
    a2_loop(&real, &r, 2 * A2_S); /* warm-up */
    rng_t r2 = r;
    loop_start();
    uint32_t t = a2_loop(&real, &r, N);
    loop_end("A2");
    unsigned fails = 0;
    for (unsigned i = 0; i < A2_S; i++)
        fails += slots[i] == NULL;
    if (fails)
        fail("A2 allocation failed");
    report("A2", t, a2_loop(&empty, &r2, N), N);
}

/* ---- C: 1-block objects fill 90% of the pool, every other freed; then 2-block allocations ---- */
static void *c_objs[16384];

static uint32_t c_loop(const struct ops *o, size_t nb, void **dst, unsigned n) {
    uint32_t t0 = board_ticks();
    for (unsigned k = 0; k < n; k++)
        dst[k] = o->alloc(nb * BLOCK);
    return board_ticks() - t0;
}

static void wl_c(void) {
    enum { COUNT = 200 };
    size_t nblocks = heap_reset(), nfill = nblocks * 9u / 10u;
    if (nfill + 2u * COUNT > sizeof c_objs / sizeof c_objs[0])
        fail("C: too many blocks");
    memset(c_objs, 0, sizeof c_objs);
    add_root(c_objs, (nfill + 2u * COUNT) * sizeof(void *));
    for (size_t i = 0; i < nfill; i++)
        c_objs[i] = h_alloc(BLOCK);
    for (size_t i = 1; i < nfill; i += 2) {
        h_free(c_objs[i]);
        c_objs[i] = NULL;
    }
    static void *scratch[COUNT];
    loop_start();
    uint32_t t2 = c_loop(&real, 2, c_objs + nfill, COUNT);
    uint32_t t1 = c_loop(&real, 1, c_objs + nfill + COUNT, COUNT);
    loop_end("C");
    uint32_t e = c_loop(&empty, 2, scratch, COUNT);
    for (size_t i = nfill; i < nfill + 2u * COUNT; i++)
        if (c_objs[i] == NULL)
            fail("C allocation failed");
    report("C-frag-2block", t2, e, COUNT);
    report("C-frag-1block", t1, e, COUNT);
}

/* ---- B1-B3: collections ---- */
#define NLISTS 64
#define NARRAYS 8
static void *lists[NLISTS];
static void *arrays[NARRAYS + 1];
static void *top_obj;

static void build_lists(size_t nblocks, rng_t *r) {
    size_t used = 0, nodes = 0;
    while (used < nblocks / 2) {
        size_t n = rng_range(r, 16, 128);
        uintptr_t *node = h_alloc(n);
        if (node == NULL)
            fail("B1 build");
        size_t l = nodes % NLISTS;
        node[0] = (uintptr_t)lists[l];
        for (size_t k = 1; k < n / sizeof(uintptr_t); k++)
            node[k] = (uintptr_t)rng_next(r);
        lists[l] = node;
        used += (n + BLOCK - 1) / BLOCK;
        nodes++;
    }
}

static size_t b1_setup(uint64_t seed) {
    size_t nblocks = heap_reset();
    memset(lists, 0, sizeof lists);
    add_root(lists, sizeof lists);
    rng_t r = {seed};
    build_lists(nblocks, &r);
    return nblocks;
}

static uint32_t timed_collect(void) {
    uint32_t t0 = board_ticks();
    h_collect();
    return board_ticks() - t0;
}

static void b_steady(const char *name) { /* two warm-up collections, then the measured one */
    timed_collect();
    timed_collect();
    report(name, timed_collect(), 0, 1);
}

static void wl_b(void) {
    size_t nblocks = b1_setup(0xB1B1B1B1ull);
    b_steady("B1");

    /* B1top: every free block but 16 filled with 1-block objects, the highest kept, the rest freed */
    nblocks = b1_setup(0xB1B1B1B1ull);
    {
        size_t used = h_used() / BLOCK, n = nblocks - used - 16u, top = 0;
        if (n > sizeof c_objs / sizeof c_objs[0])
            fail("B1top: too many blocks");
        for (size_t i = 0; i < n; i++) {
            if ((c_objs[i] = h_alloc(BLOCK)) == NULL)
                fail("B1top fill");
            if ((uintptr_t)c_objs[i] > (uintptr_t)c_objs[top])
                top = i;
        }
        top_obj = c_objs[top];
        add_root(&top_obj, sizeof top_obj);
        for (size_t i = 0; i < n; i++)
            if (i != top)
                h_free(c_objs[i]);
        memset(c_objs, 0, n * sizeof c_objs[0]);
    }
    b_steady("B1top");

    /* B2: every other list dropped, one collection */
    b1_setup(0xB2B2B2B2ull);
    for (unsigned l = 1; l < NLISTS; l += 2)
        lists[l] = NULL;
    report("B2", timed_collect(), 0, 1);

    /* B3: 8 pointer arrays to 1-block leaves + a 4096-node chain, 50% of the pool */
    enum { CHAIN = 4096 };
    nblocks = heap_reset();
    memset(arrays, 0, sizeof arrays);
    add_root(arrays, sizeof arrays);
    size_t half = nblocks / 2 > CHAIN ? nblocks / 2 - CHAIN : 0;
    size_t K = half * BLOCK / (NARRAYS * (BLOCK + sizeof(void *)));
    for (unsigned a = 0; a < NARRAYS; a++)
        if ((arrays[a] = h_alloc(K * sizeof(void *))) == NULL)
            fail("B3 arrays");
    for (size_t k = 0; k < K; k++)
        for (unsigned a = 0; a < NARRAYS; a++)
            if ((((void **)arrays[a])[k] = h_alloc(BLOCK)) == NULL)
                fail("B3 leaves");
    for (unsigned k = 0; k < CHAIN; k++) {
        void **node = h_alloc(BLOCK);
        if (node == NULL)
            fail("B3 chain");
        node[0] = arrays[NARRAYS];
        arrays[NARRAYS] = node;
    }
    b_steady("B3");
}

/* 2 instructions per iteration (subs, bne): run.sh checks 40 instructions per tick against it */
static void calibrate(void) {
    uint32_t n = 100000u, t0 = board_ticks();
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+l"(n)::"cc");
    report("calibration", board_ticks() - t0, 0, 200000u);
}

int main(void) {
#if !MCU_MPGC
    rgc_cortexm_init(__stack_top, NULL);
#endif
    sh_puts("impl " IMPL "\n");
    sh_put_u32("block_bytes", (uint32_t)BLOCK);
    sh_put_u32("heap_bytes", (uint32_t)HEAP_BYTES);
    sh_put_u32("pool_blocks", (uint32_t)heap_reset());
    sh_put_u32("tick_hz", board_tick_hz);
    calibrate();
    wl_a1("A1", 16, 16);
    wl_a1("A1m", 16, 512);
    wl_a2();
    wl_c();
    wl_b();
    sh_puts("done\n");
    return 0;
}
