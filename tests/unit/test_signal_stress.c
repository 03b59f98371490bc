/* test_signal_stress.c - real asynchronous preemption on the host: a POSIX timer signal (level 1)
 * lands at arbitrary instructions of the foreground's (level 0) alloc/free/realloc/write/collect and
 * itself allocates, frees, writes, collects (or gets RGC_BUSY) and runs rgc_check, which from the
 * highest level in use is exact. Every object carries a canary checked by both levels.
 *
 * This is a stress test (random instants); the systematic proof over every instruction is
 * tests/sweep. The seed-scenario simulator with nested levels is a later issue.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "rgc_test.h"

void rgc_posix_set_level(unsigned level); /* from port/posix */

#define SLOTS 64 /* 0..31 owned by level 0, 32..63 by the handler */
#define MAGIC 0x5a17c0deu

static _Alignas(16) unsigned char mem[48 * 1024];
static rgc_heap heap;
static void *slots[SLOTS];

static _Atomic unsigned long handler_runs, handler_collects, handler_busy, handler_allocs,
    handler_failures, main_ops, main_collects;

struct obj {
    uintptr_t canary;
    size_t words;
    uintptr_t payload[];
};

static uintptr_t canary_for(const struct obj *o, size_t i) {
    return ((uintptr_t)o * 2654435761u) ^ (i * 0x9e3779b9u) ^ MAGIC;
}

static void fill(struct obj *o, size_t bytes) {
    o->words = (bytes - sizeof *o) / sizeof(uintptr_t);
    for (size_t i = 0; i < o->words; i++)
        o->payload[i] = canary_for(o, i);
    o->canary = canary_for(o, SIZE_MAX);
}

static int intact(const struct obj *o) {
    if (o->canary != canary_for(o, SIZE_MAX))
        return 0;
    for (size_t i = 0; i < o->words; i++)
        if (o->payload[i] != canary_for(o, i))
            return 0;
    return rgc_size(&heap, o) >= sizeof *o + o->words * sizeof(uintptr_t);
}

#define PERIOD_NS 50000 /* between the end of one interrupt and the next */
static timer_t timer;

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t random_size(uint64_t *rng) {
    return sizeof(struct obj) + (size_t)(rng_next(rng) % 600);
}

/* The handler checks everything published in slots: both levels publish an object only after
 * filling it and unpublish it before freeing it. */
static int all_intact(void) {
    for (int i = 0; i < SLOTS; i++) {
        struct obj *o = atomic_load((_Atomic(void *) *)&slots[i]);
        if (o != NULL && !intact(o))
            return 0;
    }
    return 1;
}

static void on_timer(int sig) {
    (void)sig;
    static uint64_t rng = 0x243f6a8885a308d3u;
    rgc_posix_set_level(1);
    atomic_fetch_add(&handler_runs, 1);
    if (rgc_check(&heap) != RGC_OK || !all_intact())
        atomic_fetch_add(&handler_failures, 1);
    for (int k = 0; k < 3; k++) {
        int i = 32 + (int)(rng_next(&rng) % 32);
        struct obj *o = slots[i];
        if (o != NULL) {
            rgc_write(&heap, &slots[i], NULL);
            if (rng_next(&rng) & 1)
                rgc_free(&heap, o);
        } else {
            size_t n = random_size(&rng);
            o = rgc_alloc(&heap, n, 0);
            if (o != NULL) {
                fill(o, n);
                rgc_write(&heap, &slots[i], o);
                atomic_fetch_add(&handler_allocs, 1);
            }
        }
    }
    if (rng_next(&rng) % 16 == 0) {
        int r = rgc_collect(&heap);
        if (r == RGC_OK)
            atomic_fetch_add(&handler_collects, 1);
        else if (r == RGC_BUSY)
            atomic_fetch_add(&handler_busy, 1);
        else
            atomic_fetch_add(&handler_failures, 1);
    }
    if (rgc_check(&heap) != RGC_OK || !all_intact())
        atomic_fetch_add(&handler_failures, 1);
    rgc_posix_set_level(0);
    /* Re-arm one-shot: however slow the handler (ASan -O0), the foreground gets time to run. */
    struct itimerspec next = {{0, 0}, {0, PERIOD_NS}};
    timer_settime(timer, 0, &next, NULL);
}

int main(void) {
    CHECK_EQ(rgc_init(&heap, mem, sizeof mem), RGC_OK);
    CHECK_EQ(rgc_add_root(&heap, slots, sizeof slots), RGC_OK);
    rgc_level_policy(&heap, 1, RGC_AUTO_COLLECT); /* the handler may collect on failure too */

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_timer;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGRTMIN, &sa, NULL);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGRTMIN;
    CHECK_EQ(timer_create(CLOCK_MONOTONIC, &sev, &timer), 0);
    struct itimerspec its = {{0, 0}, {0, PERIOD_NS}};
    CHECK_EQ(timer_settime(timer, 0, &its, NULL), 0);

    uint64_t rng = 0x13198a2e03707344u;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long main_failures = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000000000L + (now.tv_nsec - t0.tv_nsec) > 1500000000L)
            break;
        for (int rep = 0; rep < 64; rep++) {
            int i = (int)(rng_next(&rng) % 32);
            struct obj *o = slots[i];
            uint64_t op = rng_next(&rng) % 8;
            if (o != NULL && !intact(o))
                main_failures++;
            if (o == NULL) {
                size_t n = random_size(&rng);
                o = rgc_alloc(&heap, n, 0);
                if (o != NULL) {
                    fill(o, n);
                    rgc_write(&heap, &slots[i], o);
                }
            } else if (op < 3) {
                rgc_write(&heap, &slots[i], NULL);
                rgc_free(&heap, o);
            } else if (op < 5) {
                /* unpublish while resizing (the handler would see a half-resized object); the
                 * object stays reachable from this frame */
                size_t n = random_size(&rng);
                rgc_write(&heap, &slots[i], NULL);
                struct obj *q = rgc_realloc(&heap, o, n, op == 4);
                if (q != NULL) {
                    fill(q, n);
                    rgc_write(&heap, &slots[i], q);
                } else {
                    if (!intact(o)) /* a failed realloc leaves the object untouched */
                        main_failures++;
                    rgc_write(&heap, &slots[i], o);
                }
            } else if (op == 5) {
                rgc_write(&heap, &slots[i], NULL); /* drop: garbage for the collector */
            }
            atomic_fetch_add(&main_ops, 1);
        }
        if (rng_next(&rng) % 8 == 0 && rgc_collect(&heap) == RGC_OK)
            atomic_fetch_add(&main_collects, 1);
    }
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &block, NULL);
    timer_delete(timer);

    CHECK_EQ(main_failures, 0);
    CHECK_EQ(atomic_load(&handler_failures), 0);
    CHECK_HEAP(&heap);
    CHECK(all_intact());
    CHECK(atomic_load(&handler_runs) > 100);
    CHECK(atomic_load(&handler_collects) > 0);

    /* everything dropped: two collections return the heap to empty but for conservative leftovers */
    memset(slots, 0, sizeof slots);
    rgc_collect(&heap);
    rgc_collect(&heap);
    rgc_stats st;
    rgc_get_stats(&heap, &st);
    CHECK_EQ(st.misuse, 0);
    CHECK(st.objects <= 4);
    printf("handler runs %lu (allocs %lu, collections %lu, busy %lu); main ops %lu, collections %lu; "
           "claim retries %u, deferred frees %u, left %zu objects\n",
           atomic_load(&handler_runs), atomic_load(&handler_allocs), atomic_load(&handler_collects),
           atomic_load(&handler_busy), atomic_load(&main_ops), atomic_load(&main_collects),
           st.claim_retries, st.deferred_frees, st.objects);
    return rgct_summary("test_signal_stress");
}
