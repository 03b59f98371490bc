/* qemu_test.c - rgc on emulated Cortex-M hardware: real NVIC nesting, real exception entry, real
 * LDREX/STREX (M3) or masked table updates (M0).
 *
 * Modes (semihosting command line):
 *   seed            SysTick (lowest priority), TIMER0 (middle) and TIMER1 (highest) interrupt the
 *                   foreground at three rates; every handler allocates, stores through rgc_swap into a
 *                   shared root table, drops and frees; the lowest one sometimes collects; the highest
 *                   runs rgc_check on every tick; the foreground collects in a loop and keeps objects
 *                   only on its stack. Then 50 ms of a storm: TIMER0 at 50 kHz. Canaries everywhere.
 *   window          the longest masked window for small/large heaps and requests (constant, or 0).
 *   sweep FIRST N   for d in [FIRST, FIRST+N): rebuild a heap, arm a one-shot TIMER1 d ticks ahead, run a
 *                   victim sequence (alloc, free, realloc, collect); the interrupt records the preempted
 *                   PC, runs a nested sequence (alloc/swap/free/collect) and rgc_check. Under -icount one
 *                   tick moves the interrupt by about one instruction, so the sweep walks it through the
 *                   victim; the report counts distinct preempted PCs inside rgc.
 *   steps [nodes=BYTES] [BUDGET...]  the longest rgc_collect_step (default budgets 64 and 256) on B1's
 *                   live set at heap sizes 16 KiB ... 2 MiB (M3 only), the foreground mutating between
 *                   steps: a table of steps per collection, first / longest / median step, the longest
 *                   by phase; fails unless the longest is flat (see run_steps).
 * Exit status 0 when every check passed.
 */
#include <rgc.h>
#include <rgc_cortexm.h>
#include <rgc_port.h>
#include "../../src/rgc_core.h" /* white box: in-progress slots, the rescan position */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"

#ifndef HEAP_BYTES
#define HEAP_BYTES (16 * 1024)
#endif
#define TABLE 16
/* Largest chunk: the table's live set (TABLE * LARGE_MAX at worst) must stay below the heap, or every
 * allocation fails - and a failing allocation scans the whole table, which at storm rates starves the
 * collectors at lower priorities. */
#define LARGE_MAX (HEAP_BYTES / 24u)
#define PRIO_LOW 0xC0u  /* SysTick */
#define PRIO_MID 0x80u  /* TIMER0 */
#define PRIO_HIGH 0x40u /* TIMER1 */

static _Alignas(8) unsigned char heap_mem[HEAP_BYTES];
static rgc_heap heap;
static void *table[TABLE];
static volatile uint32_t failures, first_failure_line;

#define FAIL_IF(cond)                                                                                  \
    do {                                                                                               \
        if (cond) {                                                                                    \
            if (failures++ == 0)                                                                       \
                first_failure_line = __LINE__;                                                         \
        }                                                                                              \
    } while (0)

/* ---- objects with canaries ---- */
struct obj {
    uint32_t magic;
    uint32_t words; /* payload words */
    uint32_t seq;
    uint32_t payload[];
};
#define MAGIC 0xC0FFEE11u

static uint32_t pattern(uint32_t seq, uint32_t i) {
    return (seq * 2654435761u) ^ (i * 0x9E3779B9u);
}

static struct obj *make(uint32_t bytes, uint32_t seq) {
    struct obj *o = rgc_alloc(&heap, bytes, 0);
    if (o == NULL)
        return NULL;
    o->words = (uint32_t)((bytes - sizeof *o) / 4u);
    o->seq = seq;
    for (uint32_t i = 0; i < o->words; i++)
        o->payload[i] = pattern(seq, i);
    o->magic = MAGIC;
    return o;
}

static int intact(const struct obj *o) {
    if (o->magic != MAGIC || rgc_size(&heap, o) < sizeof *o + o->words * 4u)
        return 0;
    for (uint32_t i = 0; i < o->words; i++)
        if (o->payload[i] != pattern(o->seq, i))
            return 0;
    return 1;
}

static uint32_t xorshift(uint32_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Replace a random table entry; the context that swaps an object out owns it: checks it, then frees
 * it or drops it for the collector. */
static uint32_t seq_counter;
struct level_stats {
    uint32_t ticks, allocs, failed, frees, drops, collects, busy, checks;
};
static struct level_stats stats[4]; /* 0 foreground, 1 low, 2 mid, 3 high */

__attribute__((noinline)) static void table_churn(struct level_stats *st, uint32_t *rng, uint32_t min, uint32_t max) {
    uint32_t bytes = min + xorshift(rng) % (max - min + 1u);
    struct obj *o = make(bytes, ++seq_counter);
    if (o == NULL)
        st->failed++;
    else
        st->allocs++;
    struct obj *old = rgc_swap(&heap, &table[xorshift(rng) % TABLE], o);
    if (old != NULL) {
        FAIL_IF(!intact(old));
        if (xorshift(rng) & 1u) {
            rgc_free(&heap, old);
            st->frees++;
        } else {
            st->drops++;
        }
    }
}

/* ================================ seed scenario ================================ */

static volatile int running;
static uint32_t rng_low = 1, rng_mid = 2, rng_high = 3;

static void seed_low(void) { /* SysTick: large chunks, sometimes a collection inside the handler */
    struct level_stats *st = &stats[1];
    st->ticks++;
    table_churn(st, &rng_low, 256, LARGE_MAX);
    if (xorshift(&rng_low) % 2u == 0) {
        int r = rgc_collect(&heap);
        if (r == RGC_OK)
            st->collects++;
        else if (r == RGC_BUSY)
            st->busy++;
        else
            FAIL_IF(1);
    }
}

static volatile int storm; /* TIMER0 at 50 kHz: mostly ownership round trips, a small churn now and then */
static uint32_t storm_ticks;

static void seed_mid(void) { /* TIMER0: the fast one, small chunks */
    struct level_stats *st = &stats[2];
    st->ticks++;
    if (!storm) {
        table_churn(st, &rng_mid, 16, 128);
        return;
    }
    /* Cheap enough for 50 kHz even on a full heap (a failing allocation scans the whole table, so
     * only every 32nd tick allocates): take an object out of the table, check it, put it back. */
    storm_ticks++;
    void **slot = &table[xorshift(&rng_mid) % TABLE];
    struct obj *o = rgc_swap(&heap, slot, NULL);
    if (o != NULL) {
        FAIL_IF(o->magic != MAGIC || rgc_size(&heap, o) < sizeof *o + o->words * 4u);
        o = rgc_swap(&heap, slot, o);
        if (o != NULL) /* someone filled the slot meanwhile: ours now, free it */
            rgc_free(&heap, o);
    }
    if ((storm_ticks & 31u) == 0)
        table_churn(st, &rng_mid, 16, 64);
}

static void seed_high(void) { /* TIMER1: checks the heap on every tick */
    struct level_stats *st = &stats[3];
    st->ticks++;
    FAIL_IF(rgc_check(&heap) != RGC_OK);
    st->checks++;
    table_churn(st, &rng_high, 32, LARGE_MAX / 4u);
}

/* Objects held only on the foreground's stack across collections started here and in handlers. */
static void foreground_round(uint32_t *rng) {
    struct obj *mine[4];
    for (int i = 0; i < 4; i++) {
        mine[i] = make(64u + xorshift(rng) % 512u, ++seq_counter);
        if (mine[i] != NULL)
            stats[0].allocs++;
        else
            stats[0].failed++;
    }
    int r = rgc_collect(&heap);
    if (r == RGC_OK)
        stats[0].collects++;
    else if (r == RGC_BUSY)
        stats[0].busy++;
    /* idle a while holding them: the collections SysTick starts now see them only on this stack (2 ms:
     * with 0.5 ms a SysTick collection request mostly landed inside the foreground's own collection
     * and was refused RGC_BUSY - by design - so the "collections in SysTick" check flickered) */
    for (uint32_t t0 = board_ticks(); board_ticks() - t0 < board_tick_hz / 500u;) {
    }
    for (int i = 0; i < 4; i++)
        if (mine[i] != NULL) {
            FAIL_IF(!intact(mine[i]));
            rgc_free(&heap, mine[i]);
        }
}

static int run_seed(void) {
    rgc_init(&heap, heap_mem, sizeof heap_mem);
    rgc_add_root(&heap, table, sizeof table);
    rgc_cortexm_init(__stack_top, NULL);
    rgc_cortexm_set_cycle_counter(board_ticks);

    const uint32_t hz = board_tick_hz;
    running = 1;
    systick_start(hz / 200u - 1u, PRIO_LOW);              /* 200 Hz */
    board_timer_start(0, hz / 5000u, PRIO_MID);           /* 5 kHz */
    board_timer_start(1, hz / 100u, PRIO_HIGH);           /* 100 Hz, rgc_check each tick */
    uint32_t rng = 12345, start = board_ticks();
    const uint32_t duration = hz / 4u; /* 250 ms of emulated time at the seed's rates */
    while (board_ticks() - start < duration)
        foreground_round(&rng);
    storm = 1; /* then 50 ms of a fast storm (from when it starts: a long last round above does not
                * eat it) */
    board_timer_start(0, hz / 50000u, PRIO_MID);
    const uint32_t storm_start = board_ticks();
    while (board_ticks() - storm_start < hz / 20u)
        foreground_round(&rng);
    const uint32_t emulated_ms = (board_ticks() - start) / (hz / 1000u);
    systick_stop();
    board_timer_stop(0);
    board_timer_stop(1);
    running = 0;

    FAIL_IF(rgc_check(&heap) != RGC_OK);
    for (int i = 0; i < TABLE; i++)
        if (table[i] != NULL)
            FAIL_IF(!intact(table[i]));
    rgc_stats hs;
    rgc_get_stats(&heap, &hs);
    static const char *const names[4] = {"foreground", "systick(low)", "timer0(mid)", "timer1(high)"};
    for (int l = 0; l < 4; l++) {
        sh_puts(names[l]);
        sh_puts(":\n");
        sh_put_u32("  ticks", stats[l].ticks);
        sh_put_u32("  allocs", stats[l].allocs);
        sh_put_u32("  failed", stats[l].failed);
        sh_put_u32("  frees", stats[l].frees);
        sh_put_u32("  drops", stats[l].drops);
        sh_put_u32("  collections", stats[l].collects);
        sh_put_u32("  busy", stats[l].busy);
        sh_put_u32("  checks", stats[l].checks);
        sh_put_u32("  allocations per emulated second", stats[l].allocs * 1000u / emulated_ms);
    }
    sh_put_u32("storm ticks (TIMER0 at 50 kHz for 50 ms)", storm_ticks);
    sh_put_u32("heap collections", hs.collections);
    sh_put_u32("collections per emulated second", hs.collections * 1000u / emulated_ms);
    sh_put_u32("heap misuse", hs.misuse);
    sh_put_u32("claim retries", hs.claim_retries);
    sh_put_u32("deferred frees", hs.deferred_frees);
    sh_put_u32("longest masked window (ticks)", hs.longest_masked);
    FAIL_IF(hs.misuse != 0);
    /* every source ran at (nearly) its rate: a late lower-priority tick merges, as on hardware */
    FAIL_IF(stats[1].ticks < 40 || stats[2].ticks < 900 || stats[3].ticks < 20 || storm_ticks < 1500);
    /* Collections completed both in the foreground and in SysTick (how many depends on how loaded the
     * emulated core is: the M0 under the storm has little time left for the foreground). */
    FAIL_IF(stats[0].collects < 2 || stats[1].collects < 2);
    return 0;
}

/* ================================ sweep ================================ */

static uint8_t pc_seen[1024]; /* one bit per halfword of rgc's text (16 KiB) */
static uint32_t pcs_distinct, injections, inside_rgc, irq_collect_ok, irq_collect_busy;
static volatile int sweep_armed;
static struct obj *victim_keep[6];

static volatile int cleanup_armed;
static uint32_t current_delay; /* each delay's run depends on nothing but the delay */

void timer1_irq_sweep(uint32_t *frame) {
    board_timer_ack(1);
    if (cleanup_armed) { /* a collection at this level clears its stale in-progress slots */
        cleanup_armed = 0;
        FAIL_IF(rgc_collect(&heap) != RGC_OK);
        return;
    }
    if (!sweep_armed)
        return;
    sweep_armed = 0;
    injections++;
    uint32_t pc = frame[6];
    uintptr_t lo = (uintptr_t)__rgc_text_start, hi = (uintptr_t)__rgc_text_end;
    if (pc >= lo && pc < hi) {
        inside_rgc++;
        uint32_t idx = (uint32_t)(pc - lo) / 2u;
        if (idx / 8u < sizeof pc_seen && !(pc_seen[idx / 8u] & (1u << (idx % 8u)))) {
            pc_seen[idx / 8u] = (uint8_t)(pc_seen[idx / 8u] | (1u << (idx % 8u)));
            pcs_distinct++;
        }
    }
    /* the nested sequence */
    uint32_t rng = current_delay | 1u;
    table_churn(&stats[3], &rng, 16, 200);
    table_churn(&stats[3], &rng, 16, 200);
    int r = rgc_collect(&heap);
    if (r == RGC_OK)
        irq_collect_ok++;
    else if (r == RGC_BUSY)
        irq_collect_busy++;
    else
        FAIL_IF(1);
    table_churn(&stats[3], &rng, 100, 400);
    FAIL_IF(rgc_check(&heap) != RGC_OK);
    for (int i = 0; i < TABLE; i++)
        if (table[i] != NULL)
            FAIL_IF(!intact(table[i]));
    for (int i = 0; i < 6; i++)
        if (victim_keep[i] != NULL)
            FAIL_IF(!intact(victim_keep[i]));
}

/* The victim: a fixed sequence over every kind of operation, on a heap rebuilt the same way. */
__attribute__((noinline)) static void victim(void) {
    struct obj *a = make(40, 1), *b = make(300, 2), *c = make(100, 3);
    victim_keep[0] = a;
    victim_keep[1] = c;
    rgc_free(&heap, b);
    victim_keep[0] = NULL; /* a may move: the interrupt must not check it half-way */
    struct obj *g = rgc_realloc(&heap, a, 600, true); /* grow: in place or moved */
    if (g != NULL) {
        g->words = (uint32_t)((600 - sizeof *g) / 4u);
        for (uint32_t i = 0; i < g->words; i++)
            g->payload[i] = pattern(g->seq, i);
        victim_keep[0] = g;
    }
    (void)make(200, 4); /* garbage */
    int r = rgc_collect(&heap);
    FAIL_IF(r != RGC_OK && r != RGC_BUSY);
    for (int i = 0; i < 2; i++)
        if (victim_keep[i] != NULL)
            FAIL_IF(!intact(victim_keep[i]));
}

static void dump_line(void *ctx, const char *line) {
    (void)ctx;
    sh_puts(line);
}

static int run_sweep(uint32_t first, uint32_t count) {
    rgc_cortexm_init(__stack_top, NULL);
    for (uint32_t d = first; d < first + count; d++) {
        current_delay = d;
        seq_counter = 0;
        memset(table, 0, sizeof table);
        memset(victim_keep, 0, sizeof victim_keep);
        rgc_init(&heap, heap_mem, 4096);
        rgc_add_root(&heap, table, sizeof table);
        rgc_add_root(&heap, victim_keep, sizeof victim_keep);
        uint32_t rng = 99;
        for (int i = 0; i < 6; i++) /* some live objects and some garbage before the victim */
            table_churn(&stats[0], &rng, 16, 160);
        sweep_armed = 1;
        board_timer_oneshot(1, 16u + d, PRIO_HIGH); /* QEMU mis-handles periods of a few ticks */
        victim();
        board_timer_stop(1);
        sweep_armed = 0;
        FAIL_IF(rgc_check(&heap) != RGC_OK);
        /* no leak: drop everything; a collection at the interrupt's level (its stale in-progress slots)
         * and two in the foreground (deferred frees) empty the heap */
        memset(table, 0, sizeof table);
        memset(victim_keep, 0, sizeof victim_keep);
        cleanup_armed = 1;
        board_timer_oneshot(1, 16, PRIO_HIGH);
        while (cleanup_armed) {
        }
        board_timer_stop(1);
        rgc_collect(&heap);
        rgc_collect(&heap);
        rgc_stats hs;
        rgc_get_stats(&heap, &hs);
        FAIL_IF(hs.objects > 1 || hs.misuse != 0); /* 1: a stale callee-saved register may hold one */
        if (failures != 0) {
            sh_put_u32("first failing delay", d);
            sh_put_u32("objects left", (uint32_t)hs.objects);
            sh_put_u32("misuse", hs.misuse);
            rgc_dump(&heap, dump_line, NULL);
            for (unsigned l = 0; l < RGC_MAX_LEVELS; l++)
                for (unsigned k = 0; k < RGC_MAX_NEST; k++)
                    if (core_of(&heap)->in_progress[l][k] != 0) {
                        sh_put_u32("slot level", l);
                        sh_put_u32("  depth", k);
                        sh_put_u32("  value", (uint32_t)core_of(&heap)->in_progress[l][k]);
                    }
            break;
        }
    }
    sh_put_u32("delays swept", count);
    sh_put_u32("injections", injections);
    sh_put_u32("preempted inside rgc", inside_rgc);
    sh_put_u32("distinct rgc PCs preempted", pcs_distinct);
    sh_put_u32("rgc text bytes", (uint32_t)(__rgc_text_end - __rgc_text_start));
    sh_put_u32("irq collections ran", irq_collect_ok);
    sh_put_u32("irq collections busy", irq_collect_busy);
    return 0;
}

/* ================================ masked windows ================================ */

/* The longest masked window (rgc_stats.longest_masked, in board ticks, measured by the core around
 * every masked table update) for small and large heaps and requests. With compare-and-swap (M3) it must
 * be 0; with masked updates (M0, M3+BASEPRI) it must not grow with heap or request size. */
static uint32_t window_for(uint32_t heap_bytes, uint32_t request) {
    rgc_init(&heap, heap_mem, heap_bytes);
    rgc_level_policy(&heap, 0, 0);
    void *keep[4] = {0};
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 4; i++) {
            rgc_free(&heap, keep[i]);
            keep[i] = rgc_alloc(&heap, request, RGC_FINALISER);
        }
        void *q = rgc_realloc(&heap, keep[round & 3], request / 2u + 16u, true);
        if (q != NULL)
            keep[round & 3] = q;
        rgc_write(&heap, &keep[0], keep[0]);
        rgc_collect(&heap);
    }
    FAIL_IF(rgc_check(&heap) != RGC_OK);
    rgc_stats hs;
    rgc_get_stats(&heap, &hs);
    return hs.longest_masked;
}

static int run_window(void) {
    rgc_cortexm_init(__stack_top, NULL);
    rgc_cortexm_set_cycle_counter(board_ticks);
    /* calibration: an empty masked window, measured the way the core measures one */
    rgc_mask_state m = rgc_port_mask();
    uint32_t t0 = board_ticks(), empty = board_ticks() - t0;
    rgc_port_unmask(m);
    const uint32_t small_heap = HEAP_BYTES / 4u, large_heap = HEAP_BYTES;
    uint32_t w[4] = {window_for(small_heap, 16), window_for(small_heap, small_heap / 4u),
                     window_for(large_heap, 16), window_for(large_heap, large_heap / 2u)};
    sh_put_u32("board tick (ns)", 1000000000u / board_tick_hz);
    sh_put_u32("empty window (ticks)", empty);
    sh_put_u32("small heap bytes", small_heap);
    sh_put_u32("  16 B requests: longest masked window (ticks)", w[0]);
    sh_put_u32("  heap/4 requests: longest masked window (ticks)", w[1]);
    sh_put_u32("large heap bytes", large_heap);
    sh_put_u32("  16 B requests: longest masked window (ticks)", w[2]);
    sh_put_u32("  heap/2 requests: longest masked window (ticks)", w[3]);
    uint32_t lo = w[0], hi = w[0];
    for (int i = 1; i < 4; i++) {
        lo = w[i] < lo ? w[i] : lo;
        hi = w[i] > hi ? w[i] : hi;
    }
#if RGC_ATOMICS_VIA_MASK
    FAIL_IF(hi == 0);          /* the statistic works */
    FAIL_IF(hi > lo + empty + 2u); /* constant: independent of heap and request size */
#else
    FAIL_IF(hi != 0); /* LDREX/STREX: nothing is ever masked */
#endif
    return 0;
}

/* ================================ vectors and main ================================ */

static int sweep_mode;

void systick_irq(void) {
    if (running)
        seed_low();
}

void timer0_irq(void) {
    board_timer_ack(0);
    if (running)
        seed_mid();
}

void timer1_irq_seed(void) {
    board_timer_ack(1);
    if (running)
        seed_high();
}

void timer1_dispatch(uint32_t *frame) {
    if (sweep_mode)
        timer1_irq_sweep(frame);
    else
        timer1_irq_seed();
}

/* Hand the exception frame (on MSP: thread mode uses MSP here) to C. */
__attribute__((naked)) void timer1_irq(void) {
    __asm__ volatile("mrs r0, msp\n\t"
                     "ldr r1, =timer1_dispatch\n\t"
                     "bx r1\n\t"
                     ".ltorg");
}

static uint32_t parse_u32(const char **s) {
    uint32_t v = 0;
    while (**s == ' ')
        (*s)++;
    while (**s >= '0' && **s <= '9')
        v = v * 10u + (uint32_t)(*(*s)++ - '0');
    return v;
}

/* ================================ step lengths ================================ */

/* The longest rgc_collect_step for a fixed budget must not depend on the heap size (rgc.h: at most
 * `budget` blocks visited plus one block's words; the first step also scans the roots). On a host,
 * cache and TLB misses make tail step times grow with the heap; here (-icount, no caches) a tick is
 * a fixed number of instructions, so the figures are exact and repeatable.
 *
 * For each heap size (16 KiB ... STEPS_POOL_BYTES) and budget: rgc_init on that many bytes of a static
 * pool, B1's live set (64 singly linked lists in a registered root range, nodes of U[16,128] bytes,
 * word 0 = next, the rest odd non-pointer payload, until half the pool's blocks are used), one full
 * collection, then STEPS_COLLECTIONS complete collections by rgc_collect_step(budget). Between steps
 * the foreground allocates nodes (one per 128 units of budget), links them in with rgc_write and
 * unlinks nodes near the list heads with rgc_write (the live set stays at 50 %): floating garbage,
 * barrier shading and rescans, objects born marked, garbage spread over the pool. Each step is timed
 * with board_ticks() (25 MHz; the cost of an empty measurement is subtracted), and classified by what
 * the collection was doing when it began (trace, rescan pass, sweep). The smallest heap runs once more
 * for as many steps as the largest had (the longest of more samples tends to be a little longer).
 *
 * Asserted: at every heap size the longest later step (the first one also scans the roots) is at most
 * 1.5x the one at 16 KiB. Any work proportional to the heap would exceed that by orders of magnitude
 * at 2 MiB (128x the blocks); what is left is the mix of units (a 1-block node costs more per unit
 * than a long one). The step that sweeps a large dead object (steps_dead_object) is asserted flat too.
 * Option nodes=BYTES: every node that size (nodes=16: the most expensive unit B1 has, in every step). */
#ifdef STEPS_POOL_BYTES
#define STEPS_LISTS 64
#define STEPS_COLLECTIONS 3
#define STEPS_MAX_SAMPLES 65536u
#define STEPS_ALLOC_UNITS 128u
static _Alignas(16) unsigned char steps_pool[STEPS_POOL_BYTES];
static void *steps_lists[STEPS_LISTS];
static uint32_t step_samples[STEPS_MAX_SAMPLES];
static uint32_t steps_rng;
static size_t steps_live, steps_target;
static uint32_t steps_failed_allocs, steps_alloc_units, steps_alloc_credit;

enum { STEP_TRACE, STEP_RESCAN, STEP_SWEEP, STEP_KINDS };
struct steps_result {
    uint32_t heap_bytes, pool_blocks, collections, steps, first_max, later_max, later_median, failed;
    uint32_t kind_max[STEP_KINDS], kind_steps[STEP_KINDS], samples;
};

/* What the collection is doing when a step begins (read from the heap's private fields, for the
 * report only: phase 1 = marking, 2 = sweeping; rescan_pos != RGC_NONE: a rescan pass is running). */
static int step_kind(void) {
    unsigned phase = atomic_load(&heap.state) & 3u;
    if (phase == 2u)
        return STEP_SWEEP;
    return core_of(&heap)->rescan_pos != (size_t)-1 ? STEP_RESCAN : STEP_TRACE;
}

static uint32_t steps_node_min = 16, steps_node_max = 128;

static uintptr_t *steps_node(void) {
    uint32_t n = steps_node_min + xorshift(&steps_rng) % (steps_node_max - steps_node_min + 1u);
    uintptr_t *node = rgc_alloc(&heap, n, 0);
    if (node == NULL)
        return NULL;
    for (uint32_t k = 1; k < n / sizeof(uintptr_t); k++)
        node[k] = (uintptr_t)(xorshift(&steps_rng) | 1u); /* odd: never an object's start */
    steps_live += rgc_size(&heap, node) / RGC_BLOCK_BYTES;
    return node;
}

static void steps_push(uintptr_t *node, uint32_t list) {
    rgc_write(&heap, (void **)&node[0], steps_lists[list]);
    rgc_write(&heap, &steps_lists[list], node);
}

/* Unlink a node at depth 0..7 of a random list. */
static void steps_drop(void) {
    void **slot = &steps_lists[xorshift(&steps_rng) % STEPS_LISTS];
    for (uint32_t d = xorshift(&steps_rng) % 8u; d > 0 && *slot != NULL && *(void **)*slot != NULL; d--)
        slot = (void **)*slot; /* word 0 of the node: its next */
    void *victim = *slot;
    if (victim == NULL)
        return;
    steps_live -= rgc_size(&heap, victim) / RGC_BLOCK_BYTES;
    rgc_write(&heap, slot, *(void **)victim);
}

/* What the foreground does between two steps. */
static void steps_mutate(void) {
    /* one node per STEPS_ALLOC_UNITS units of budget (two per step at 256, one every other at 64):
     * the collector keeps up, the pool never fills (floating garbage lives one collection more) */
    for (steps_alloc_credit += steps_alloc_units; steps_alloc_credit >= STEPS_ALLOC_UNITS;
         steps_alloc_credit -= STEPS_ALLOC_UNITS) {
        uintptr_t *node = steps_node();
        if (node == NULL) {
            steps_failed_allocs++;
            continue;
        }
        steps_push(node, xorshift(&steps_rng) % STEPS_LISTS);
        for (int guard = 0; steps_live > steps_target && guard < 16; guard++)
            steps_drop();
    }
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void steps_measure(uint32_t heap_bytes, uint32_t budget, uint32_t colls, uint32_t overhead,
                          struct steps_result *out) {
    memset(out, 0, sizeof *out);
    FAIL_IF(rgc_init(&heap, steps_pool, heap_bytes) != RGC_OK);
    rgc_level_policy(&heap, 0, 0); /* a failing allocation must not finish the collection in progress */
    memset(steps_lists, 0, sizeof steps_lists);
    FAIL_IF(rgc_add_root(&heap, steps_lists, sizeof steps_lists) != RGC_OK);
    rgc_stats hs;
    rgc_get_stats(&heap, &hs);
    steps_rng = 0xB1B1B1B1u ^ heap_bytes;
    steps_live = 0;
    steps_target = hs.blocks / 2u;
    steps_failed_allocs = 0;
    steps_alloc_credit = 0;
    for (uint32_t nodes = 0; steps_live < steps_target; nodes++) { /* B1's live set */
        uintptr_t *node = steps_node();
        if (node == NULL) {
            FAIL_IF(1);
            break;
        }
        steps_push(node, nodes % STEPS_LISTS);
    }
    FAIL_IF(rgc_collect(&heap) != RGC_OK);
    uint32_t first_max = 0, later_max = 0, steps = 0, n = 0;
    for (uint32_t c = 0; c < colls; c++) {
        uint32_t s = 0, cap = 64u * ((uint32_t)hs.blocks / budget + 1u) + 1000u;
        int rc;
        do {
            int kind = step_kind();
            uint32_t t0 = board_ticks();
            rc = rgc_collect_step(&heap, budget);
            uint32_t t1 = board_ticks();
            uint32_t d = t1 - t0 - overhead;
            FAIL_IF(rc != 0 && rc != 1);
            if (s == 0) {
                first_max = d > first_max ? d : first_max;
            } else {
                later_max = d > later_max ? d : later_max;
                out->kind_max[kind] = d > out->kind_max[kind] ? d : out->kind_max[kind];
                out->kind_steps[kind]++;
                if (n < STEPS_MAX_SAMPLES)
                    step_samples[n++] = d;
            }
            s++;
            steps_mutate();
        } while (rc == 1 && s < cap);
        FAIL_IF(rc != 0); /* the collection ended */
        steps += s;
    }
    FAIL_IF(n == STEPS_MAX_SAMPLES); /* the median would cover only part of the steps */
    qsort(step_samples, n, sizeof step_samples[0], cmp_u32);
    rgc_stats after;
    rgc_get_stats(&heap, &after);
    FAIL_IF(rgc_check(&heap) != RGC_OK);
    FAIL_IF(after.collections != hs.collections + 1u + colls);
    FAIL_IF(after.misuse != 0);
    out->heap_bytes = heap_bytes;
    out->pool_blocks = (uint32_t)hs.blocks;
    out->collections = colls;
    out->samples = n;
    out->steps = steps;
    out->first_max = first_max;
    out->later_max = later_max;
    out->later_median = n ? step_samples[n / 2u] : 0;
    out->failed = steps_failed_allocs;
}

/* A dead object larger than the budget: the sweep releases it in pieces of at most the budget (it splits
 * the rest off as a dead object of its own; found unbounded by this test at first: 813,066 ticks at
 * 2 MiB for budget 64). A live object of heap/8 bytes, then a dead one of heap/4 bytes: the longest
 * later step of the collection. */
static void steps_dead_object(uint32_t heap_bytes, uint32_t budget, uint32_t overhead, uint32_t longest[STEP_KINDS]) {
    FAIL_IF(rgc_init(&heap, steps_pool, heap_bytes) != RGC_OK);
    rgc_level_policy(&heap, 0, 0);
    memset(steps_lists, 0, sizeof steps_lists);
    FAIL_IF(rgc_add_root(&heap, steps_lists, sizeof steps_lists) != RGC_OK);
    rgc_write(&heap, &steps_lists[1], rgc_alloc(&heap, heap_bytes / 8u, 0)); /* live, in front */
    void *big = rgc_alloc(&heap, heap_bytes / 4u, 0);
    FAIL_IF(big == NULL || steps_lists[1] == NULL || (uintptr_t)big < (uintptr_t)steps_lists[1]);
    rgc_write(&heap, &steps_lists[0], big);
    FAIL_IF(rgc_collect(&heap) != RGC_OK);
    rgc_write(&heap, &steps_lists[0], NULL);
    big = NULL;
    uint32_t s = 0;
    int rc;
    memset(longest, 0, STEP_KINDS * sizeof longest[0]);
    do {
        int kind = step_kind();
        uint32_t t0 = board_ticks();
        rc = rgc_collect_step(&heap, budget);
        uint32_t d = board_ticks() - t0 - overhead;
        if (s++ > 0) /* later steps */
            longest[kind] = d > longest[kind] ? d : longest[kind];
    } while (rc == 1);
    rgc_stats st;
    rgc_get_stats(&heap, &st);
    FAIL_IF(st.objects != 1 || rgc_check(&heap) != RGC_OK);
}

/* Right-aligned decimal in a field of `width` characters; `tenths`: v is in tenths, print "x.y". */
static char *put_num(char *p, uint32_t v, int width, int tenths) {
    char digits[12];
    int d = 0;
    if (tenths) {
        digits[d++] = (char)('0' + v % 10u);
        digits[d++] = '.';
        v /= 10u;
    }
    do {
        digits[d++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    for (int pad = width - d; pad > 0; pad--)
        *p++ = ' ';
    while (d > 0)
        *p++ = digits[--d];
    return p;
}

static uint32_t ticks_to_tenth_us(uint32_t ticks) { /* 25 MHz: 0.04 us per tick, rounded */
    return (uint32_t)(((uint64_t)ticks * 10000000u / board_tick_hz * 10u + 5u) / 10u);
}

static int run_steps(const char *args) {
    rgc_cortexm_init(__stack_top, NULL);
    /* The RAM the pool needs: QEMU's mps2-an385 maps 4 MiB of SSRAM at 0x20000000 (the linker script's
     * RAM, the stack at its top). Check the pool is real, distinct memory: markers at every power-of-two
     * offset read back (no mirroring inside it). */
    volatile uint32_t *base = (volatile uint32_t *)(void *)steps_pool;
    for (uint32_t off = 4; off < sizeof steps_pool; off <<= 1)
        base[off / 4u] = 0x5A000000u | off;
    base[0] = 0xA5A5A5A5u;
    for (uint32_t off = 4; off < sizeof steps_pool; off <<= 1)
        FAIL_IF(base[off / 4u] != (0x5A000000u | off));
    FAIL_IF(base[0] != 0xA5A5A5A5u);
    FAIL_IF((uintptr_t)(steps_pool + sizeof steps_pool) > (uintptr_t)__stack_top - 16u * 1024u);

    uint32_t budgets[4], nb = 0;
    const char *p = args;
    const char *fixed = strstr(args, "nodes=");
    if (fixed != NULL) { /* nodes=BYTES: every node that size (the worst case for one budget unit) */
        p = fixed + 6;
        steps_node_min = steps_node_max = parse_u32(&p);
    }
    while (nb < 4) {
        uint32_t b = parse_u32(&p);
        if (b == 0)
            break;
        budgets[nb++] = b;
    }
    if (nb == 0) {
        budgets[nb++] = 64;
        budgets[nb++] = 256;
    }
    uint32_t t0 = board_ticks(), overhead = board_ticks() - t0;
    static const uint32_t sizes[] = {16u << 10, 64u << 10, 256u << 10, 1u << 20, 2u << 20, 4u << 20};
    sh_put_u32("steps: pool bytes (static, in the 4 MiB SSRAM at 0x20000000)", (uint32_t)sizeof steps_pool);
    sh_put_u32("steps: empty measurement (ticks, subtracted)", overhead);
    for (uint32_t k = 0; k < nb; k++) {
        struct steps_result r[sizeof sizes / sizeof sizes[0] + 1];
        uint32_t nr = 0;
        steps_alloc_units = budgets[k];
        for (uint32_t i = 0; i < sizeof sizes / sizeof sizes[0] && sizes[i] <= sizeof steps_pool; i++)
            steps_measure(sizes[i], budgets[k], STEPS_COLLECTIONS, overhead, &r[nr++]);
        /* The smallest heap again, for as many later steps as the largest had: the longest of more
         * samples of the same bounded distribution tends to be a little longer. */
        uint32_t per_coll = r[0].samples / STEPS_COLLECTIONS;
        uint32_t matched = r[nr - 1u].samples / (per_coll ? per_coll : 1u) + 1u;
        steps_measure(sizes[0], budgets[k], matched, overhead, &r[nr]);
        sh_put_u32("\nrgc_collect_step budget (blocks)", budgets[k]);
        sh_put_u32("foreground: one allocation per budget units", STEPS_ALLOC_UNITS);
        sh_puts("  heap KiB  colls  later steps  steps/coll  first step  longest later  median later"
                "  | us: first longest median | longest by phase: trace rescan sweep | failed allocs\n");
        for (uint32_t i = 0; i <= nr; i++) {
            char line[200], *q = line;
            q = put_num(q, r[i].heap_bytes >> 10, 10, 0);
            q = put_num(q, r[i].collections, 7, 0);
            q = put_num(q, r[i].samples, 13, 0);
            q = put_num(q, r[i].steps / r[i].collections, 12, 0);
            q = put_num(q, r[i].first_max, 12, 0);
            q = put_num(q, r[i].later_max, 15, 0);
            q = put_num(q, r[i].later_median, 14, 0);
            q = put_num(q, ticks_to_tenth_us(r[i].first_max), 16, 1);
            q = put_num(q, ticks_to_tenth_us(r[i].later_max), 8, 1);
            q = put_num(q, ticks_to_tenth_us(r[i].later_median), 7, 1);
            q = put_num(q, r[i].kind_max[STEP_TRACE], 26, 0);
            q = put_num(q, r[i].kind_max[STEP_RESCAN], 7, 0);
            q = put_num(q, r[i].kind_max[STEP_SWEEP], 6, 0);
            q = put_num(q, r[i].failed, 16, 0);
            *q++ = '\n';
            *q = '\0';
            sh_puts(line);
        }
        sh_put_u32("  longest later step, largest heap / 16 KiB (x1000)",
                   (uint32_t)(1000u * (uint64_t)r[nr - 1u].later_max / r[0].later_max));
        sh_put_u32("  longest later step, largest heap / 16 KiB with as many steps (x1000)",
                   (uint32_t)(1000u * (uint64_t)r[nr - 1u].later_max / r[nr].later_max));
        /* Flatness: the longest later step at every heap size is at most 1.5x the one at 16 KiB. */
        for (uint32_t i = 1; i < nr; i++) {
            int flat = 2u * r[i].later_max <= 3u * r[0].later_max;
            FAIL_IF(!flat);
            if (!flat)
                sh_put_u32("  NOT FLAT: longest later step exceeds 1.5x the 16 KiB one at heap KiB",
                           r[i].heap_bytes >> 10);
        }
        for (uint32_t i = 0; i <= nr; i++)
            FAIL_IF(r[i].failed != 0);
        sh_puts("  a live object of heap/8 bytes, then a dead one of heap/4 (the sweep releases it in pieces\n"
                "  of at most the budget: its longest step is asserted flat too):\n"
                "  heap KiB  longest later step by phase (ticks): trace  sweep\n");
        uint32_t sweep_small = 0;
        for (uint32_t i = 0; i < nr; i++) {
            char line[80], *q = line;
            uint32_t longest[STEP_KINDS];
            steps_dead_object(r[i].heap_bytes, budgets[k], overhead, longest);
            if (i == 0)
                sweep_small = longest[STEP_SWEEP];
            FAIL_IF(longest[STEP_SWEEP] * 2u > sweep_small * 3u); /* <= 1.5x the 16 KiB heap's */
            q = put_num(q, r[i].heap_bytes >> 10, 10, 0);
            q = put_num(q, longest[STEP_TRACE], 45, 0);
            q = put_num(q, longest[STEP_SWEEP], 7, 0);
            *q++ = '\n';
            *q = '\0';
            sh_puts(line);
        }
    }
    return 0;
}
#else
static int run_steps(const char *args) {
    (void)args;
    sh_puts("steps: not built for this board (STEPS_POOL_BYTES)\n");
    FAIL_IF(1);
    return 0;
}
#endif

int main(void) {
    static char cmd[128];
    int n = sh_cmdline(cmd, sizeof cmd - 1);
    cmd[n > 0 ? n : 0] = '\0';
    const char *p = strstr(cmd, "sweep");
    if (p != NULL) {
        sweep_mode = 1;
        p += 5;
        uint32_t first = parse_u32(&p), count = parse_u32(&p);
        run_sweep(first, count ? count : 1000u);
    } else if (strstr(cmd, "window") != NULL) {
        run_window();
    } else if ((p = strstr(cmd, "steps")) != NULL) {
        run_steps(p + 5);
    } else {
        run_seed();
    }
    if (failures != 0) {
        sh_put_u32("FAILED checks", failures);
        sh_put_u32("first failure at line", first_failure_line);
        return 1;
    }
    sh_puts("qemu test: 1 passed, 0 failed\n");
    return 0;
}
