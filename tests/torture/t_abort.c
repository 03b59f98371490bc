/* t_abort.c - scenario 6, asynchronous aborts (torture.abort).
 *
 * A runtime-style foreground loop (level 0) works on the heap: a table of objects and a linked list,
 * each step written so that the structure is consistent at every instruction outside rgc calls
 * (allocate-then-publish, unpublish-then-free, in-place resizes never below what the canary claims).
 * Three simulator levels do their own table work and collect now and then; a fourth level is never
 * raised (see below). A thread of ours sends SIGINT to the core thread at random intervals (a raw
 * signal, not a simulator level: like a POSIX runtime's Ctrl-C handler it is not held off by rgc's
 * mask, and rgc_port_level() inside it is the level it interrupted). Its handler requests an abort:
 *   - when it interrupted level 0 and rgc_busy_depth(&heap) == 0, it unwinds at once with
 *     siglongjmp to the loop's top;
 *   - otherwise (inside an rgc call at level 0, or inside a handler) it only sets a flag, which the
 *     loop checks after each step (after the rgc call returned) and then aborts the same way.
 * After every abort the foreground checks: rgc_busy_depth is 0 and so is the level-0 call depth in the
 * handle, no collection was left running, the port's mask still works (a raised level is delivered at
 * once), and, with levels 1..3 held off, rgc_check is RGC_OK and every table object and list node is
 * intact (canary, rgc_size); every few aborts it also collects and checks again (nothing reachable was
 * lost). When the handler unwinds, it also looks at the interrupted context's signal mask: the
 * never-raised level is blocked only inside rgc_port_mask, so that tells an unwind out of an rgc masked
 * window (an rgc call that does not count in the busy depth) - a failure. The foreground also marks
 * which rgc call it is in (a flag around each call): unwinds with busy depth 0 while that flag was set
 * (the calls' own prologues/epilogues, harmless) are reported per call.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "rgc_port.h"
#include "torture.h"

#define LEVELS 3
#define SENTINEL (LEVELS + 1) /* a level that is never raised: see on_sigint */
#define HEAP_BYTES (96 * 1024)
#define FG_SLOTS 128
#define IRQ_SLOTS 64
#define LIST_MAX 64

static _Alignas(64) unsigned char heap_mem[HEAP_BYTES];
static void *fg_table[FG_SLOTS];
static void *irq_table[LEVELS + 1][IRQ_SLOTS];
static void *list_head[1];
static uint64_t rngs[LEVELS + 1];

/* ---- the abort ---- */
enum { IN_NONE, IN_ALLOC, IN_WRITE, IN_SWAP, IN_FREE, IN_REALLOC, IN_COLLECT, IN_SIZE, NIN };
static const char *const in_name[NIN] = {"(outside)", "rgc_alloc",   "rgc_write",   "rgc_swap",
                                         "rgc_free",  "rgc_realloc", "rgc_collect", "rgc_size"};
static volatile sig_atomic_t in_call; /* IN_*: the foreground is inside that rgc call (wrapper flag) */
static sigjmp_buf abort_env;
static volatile sig_atomic_t armed, abort_pending;
static _Atomic unsigned long sigints, jumps, jumps_masked, jumps_in_call[NIN], deferred_busy,
    deferred_handler, deferred_unarmed, deferred_taken;
static pid_t core_tid;

#define CALL(what, expr) (in_call = (what), atomic_signal_fence(memory_order_seq_cst), (expr))
#define DONE() (atomic_signal_fence(memory_order_seq_cst), in_call = IN_NONE)

static void on_sigint(int sig, siginfo_t *info, void *uc) {
    (void)sig;
    (void)info;
    (void)uc;
    atomic_fetch_add(&sigints, 1);
    unsigned level = rgc_port_level();
    unsigned depth = rgc_busy_depth(&tt_heap);
    if (armed && level == 0 && depth == 0) {
        atomic_fetch_add(&jumps, 1);
        atomic_fetch_add(&jumps_in_call[in_call < NIN ? in_call : 0], 1);
        /* The interrupted context's signal mask. Level SENTINEL is never raised and no handler's
         * signal mask includes it, only the port's mask (levels 1..ceiling) does: blocked there means
         * the foreground was inside rgc_port_mask, i.e. inside an rgc call, though the busy depth
         * read 0. (The highest level has the lowest signal number, SIGRTMIN.) */
        const ucontext_t *ctx = (const ucontext_t *)uc;
        if (sigismember(&ctx->uc_sigmask, SIGRTMIN)) {
            if (atomic_fetch_add(&jumps_masked, 1) == 0)
                tt_fail(
                    "abort: rgc_busy_depth() read 0 while level 0 was inside a masked window of an rgc call "
                    "(a = the call as the foreground marked it: 2 rgc_write, 3 rgc_swap, ...)",
                    0, (uintptr_t)in_call, 0);
        }
        armed = 0;
        siglongjmp(abort_env, 1);
    }
    abort_pending = 1;
    atomic_fetch_add(level != 0 ? &deferred_handler : depth != 0 ? &deferred_busy : &deferred_unarmed, 1);
}

static _Atomic bool abort_thread_on, sources_stopped;
static _Atomic uint64_t run_deadline = UINT64_MAX; /* when the foreground's loop should end */
static void *abort_thread(void *arg) {
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    uint64_t rng = tt_seed_for(tt_opt.seed, 77);
    while (atomic_load(&abort_thread_on)) {
        /* Handlers slower than their sources (the masked-atomics build on a loaded host: a level-1
         * collection takes milliseconds, the timers fire every 0.55-0.85 ms) can keep level 0 from
         * ever reaching its deadline check: half a second past the deadline, stop the storm and the
         * timers so that it can (reported; the checks do not depend on the sources). */
        uint64_t now = tt_now_ns(), deadline = atomic_load(&run_deadline);
        if (!atomic_load(&sources_stopped) && now > deadline && now - deadline > 500000000u) {
            atomic_store(&sources_stopped, true);
            rgc_sim_storm_stop();
            for (unsigned l = 1; l <= LEVELS; l++)
                rgc_sim_timer(l, 0);
        }
        struct timespec ts = {0, (long)(50000 + tt_below(&rng, 250000))};
        nanosleep(&ts, NULL);
        syscall(SYS_tgkill, getpid(), core_tid, SIGINT);
    }
    return NULL;
}

/* ---- the handlers' own work ---- */
static _Atomic unsigned long irq_ops[LEVELS + 1], irq_collect_ok, irq_collect_busy;

static void handler(unsigned level, void *arg) {
    (void)arg;
    uint64_t *rng = &rngs[level];
    for (int k = 0; k < 3; k++) {
        size_t i = (size_t)tt_below(rng, IRQ_SLOTS);
        struct tobj *o = rgc_swap(&tt_heap, &irq_table[level][i], NULL);
        if (o != NULL) {
            int bad = tobj_verify(&tt_heap, o, 0);
            if (bad != TT_OK)
                tt_fail("abort: a handler's object is corrupt", level, (uintptr_t)o, (uintptr_t)bad);
            else if (tt_below(rng, 2))
                rgc_free(&tt_heap, o);
        } else {
            o = tobj_new(&tt_heap, 0, (size_t)tt_below(rng, 20));
            if (o != NULL) {
                struct tobj *q = rgc_realloc(&tt_heap, o, tobj_bytes(0, tobj_nwords(o)) + 64, true);
                if (q != NULL)
                    o = q;
                rgc_write(&tt_heap, &irq_table[level][i], o);
            }
        }
        atomic_fetch_add(&irq_ops[level], 1);
    }
    if (tt_below(rng, 32) == 0) {
        int r = rgc_collect(&tt_heap);
        atomic_fetch_add(r == RGC_OK ? &irq_collect_ok : &irq_collect_busy, 1);
    }
}

/* ---- the foreground's steps: consistent at every instruction outside rgc calls ---- */
static unsigned long fg_steps, fg_collections;

static void step(uint64_t *rng) {
    size_t i = (size_t)tt_below(rng, FG_SLOTS);
    unsigned r = (unsigned)tt_below(rng, 100);
    struct tobj *o = fg_table[i];
    if (r < 30) { /* replace: allocate, fill, publish (the old object becomes garbage) */
        size_t nw = (size_t)tt_below(rng, 24);
        struct tobj *q = CALL(IN_ALLOC, rgc_alloc(&tt_heap, tobj_bytes(1, nw), 0));
        DONE();
        if (q != NULL) {
            tobj_fill(q, 1, nw, tt_serial());
            CALL(IN_WRITE, rgc_write(&tt_heap, &fg_table[i], q));
            DONE();
        }
    } else if (r < 45 && o != NULL) { /* unpublish, then free */
        struct tobj *t = CALL(IN_SWAP, rgc_swap(&tt_heap, &fg_table[i], NULL));
        DONE();
        if (t != NULL && tobj_verify(&tt_heap, t, 0) == TT_OK) {
            CALL(IN_FREE, rgc_free(&tt_heap, t));
            DONE();
        }
    } else if (r < 65 && o != NULL) { /* resize in place, never below what the canary claims (a canary
                                       * rewrite could be cut in half by an abort) */
        size_t claim = tobj_bytes(1, tobj_nwords(o)), n = tobj_bytes(1, (size_t)tt_below(rng, 40));
        (void)CALL(IN_REALLOC, rgc_realloc(&tt_heap, o, n > claim ? n : claim, false));
        DONE();
    } else if (r < 75 && o != NULL) { /* move by hand: copy, publish the copy, free the old one */
        size_t bytes = tobj_bytes(1, tobj_nwords(o));
        struct tobj *q = CALL(IN_ALLOC, rgc_alloc(&tt_heap, bytes, 0));
        DONE();
        if (q != NULL) {
            memcpy(q, o, bytes);
            CALL(IN_WRITE, rgc_write(&tt_heap, &fg_table[i], q));
            DONE();
            CALL(IN_FREE, rgc_free(&tt_heap, o));
            DONE();
        }
    } else if (r < 90) { /* list: push (new node refers to the old head) or pop */
        struct tobj *h = list_head[0];
        size_t len = 0;
        for (struct tobj *n = h; n != NULL && len <= LIST_MAX; n = n->link[0])
            len++;
        if (len < LIST_MAX && (len == 0 || tt_below(rng, 2))) {
            size_t nw = (size_t)tt_below(rng, 8);
            struct tobj *n = CALL(IN_ALLOC, rgc_alloc(&tt_heap, tobj_bytes(1, nw), 0));
            DONE();
            if (n != NULL) {
                tobj_fill(n, 1, nw, tt_serial());
                n->link[0] = h; /* a new object: no snapshot reference is overwritten */
                CALL(IN_WRITE, rgc_write(&tt_heap, &list_head[0], n));
                DONE();
            }
        } else if (h != NULL) {
            CALL(IN_WRITE, rgc_write(&tt_heap, &list_head[0], h->link[0]));
            DONE();
            CALL(IN_FREE, rgc_free(&tt_heap, h));
            DONE();
        }
    } else if (r < 92) {
        if (CALL(IN_COLLECT, rgc_collect(&tt_heap)) == RGC_OK)
            fg_collections++;
        DONE();
    } else if (o != NULL) {
        size_t sz = CALL(IN_SIZE, rgc_size(&tt_heap, o));
        DONE();
        if (sz < tobj_bytes(1, tobj_nwords(o))) /* (no stdio here: an abort may unwind at any point) */
            tt_fail("abort: rgc_size of a table object smaller than its contents", 0, (uintptr_t)o, sz);
    }
    fg_steps++;
}

/* ---- checks after an abort ---- */
static unsigned long aborts_checked, mask_broken;
static bool stop_run;

static size_t verify_reachable(const char *when) {
    size_t bad = 0, n = 0;
    for (size_t i = 0; i < FG_SLOTS; i++)
        if (fg_table[i] != NULL && (n++, tobj_verify(&tt_heap, fg_table[i], 0) != TT_OK))
            bad++;
    for (unsigned l = 1; l <= LEVELS; l++)
        for (size_t i = 0; i < IRQ_SLOTS; i++)
            if (irq_table[l][i] != NULL && (n++, tobj_verify(&tt_heap, irq_table[l][i], 0) != TT_OK))
                bad++;
    size_t len = 0;
    for (struct tobj *h = list_head[0]; h != NULL && len <= LIST_MAX; h = h->link[0], len++, n++)
        if (tobj_verify(&tt_heap, h, 0) != TT_OK)
            bad++;
    if (bad != 0 || len > LIST_MAX)
        TT_CHECK(false, "abort: %s: %zu of %zu reachable objects corrupt or freed, list length %zu", when,
                 bad, n, len);
    return n;
}

/* The port's mask must be balanced: a raised level runs at once. If not (an abort unwound out of a
 * masked window and the port's nesting count stays up), report, and unblock the simulator's signals at
 * the OS level so that quiescing can drain them (the signal frame of each handler restores this mask). */
static void unblock_levels(void) {
    sigset_t rt;
    sigemptyset(&rt);
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
        sigaddset(&rt, sig);
    pthread_sigmask(SIG_UNBLOCK, &rt, NULL);
}

static bool mask_balanced(const char *how) {
    struct rgc_sim_stats a, b;
    rgc_sim_get_stats(&a);
    rgc_sim_pend(1);
    rgc_sim_get_stats(&b);
    if (b.delivered[1] != a.delivered[1])
        return true;
    mask_broken++;
    TT_CHECK(false,
             "abort (%s): level 1 no longer runs when raised: an abort unwound out of a masked window "
             "(the port's mask stays held); longjmps while the foreground was inside rgc_write %lu, "
             "rgc_swap %lu (rgc_busy_depth read 0 there)",
             how, atomic_load(&jumps_in_call[IN_WRITE]), atomic_load(&jumps_in_call[IN_SWAP]));
    stop_run = true;
    unblock_levels();
    return false;
}

static void after_abort(const char *how) {
    aborts_checked++;
    /* Nothing of an rgc call may be left over: the busy depth (also read directly from the handle),
     * a running collection (handlers run to completion: at level 0's loop top none is running). */
    unsigned depth0 = atomic_load(&core_of(&tt_heap)->depth[0]), coll = tt_collector(&tt_heap);
    if (rgc_busy_depth(&tt_heap) != 0 || depth0 != 0 || coll != 0)
        TT_CHECK(false,
                 "abort (%s): at the loop's top rgc_busy_depth %u, level 0 call depth %u, collector %u: "
                 "an rgc call was unwound",
                 how, rgc_busy_depth(&tt_heap), depth0, coll);
    if (!mask_balanced(how))
        return;
    rgc_mask_state m = rgc_port_mask();
    TT_CHECK(rgc_check(&tt_heap) == RGC_OK, "abort (%s): rgc_check", how);
    (void)verify_reachable(how);
    if (aborts_checked % 8 == 0) {
        int r = tt_collect_clean();
        if (r != RGC_OK)
            TT_CHECK(false, "abort (%s): rgc_collect from level 0 returned %d after the abort", how, r);
        (void)verify_reachable("after an abort and a collection");
    }
    rgc_port_unmask(m);
}

static void run_loop(uint64_t deadline) {
    static uint64_t loop_deadline;
    loop_deadline = deadline;
    if (sigsetjmp(abort_env, 1) != 0) {
        in_call = IN_NONE;
        abort_pending = 0;
        after_abort("longjmp from the handler");
    }
    for (;;) {
        /* Past the deadline, go on (at most 4 s more) until an abort has unwound and one was deferred:
         * on a loaded host the handlers can take nearly all of level 0's time, and half a second
         * past the deadline the sources stop (abort_thread) - only the SIGINTs go on. */
        uint64_t now = tt_now_ns();
        if (stop_run || (now >= loop_deadline &&
                         ((atomic_load(&jumps) > 0 &&
                           atomic_load(&deferred_busy) + atomic_load(&deferred_handler) > 0) ||
                          now - loop_deadline > 4000000000u)))
            break;
        armed = 1;
        for (int j = 0; j < 32 && !stop_run; j++) {
            step(&rngs[0]);
            if (abort_pending) { /* the handler found us busy (or in a handler): abort here */
                armed = 0;
                abort_pending = 0;
                atomic_fetch_add(&deferred_taken, 1);
                after_abort("deferred, taken after the call returned");
                armed = 1;
            }
        }
    }
    armed = 0;
}

int tt_abort(void) {
    const char *name = "abort";
    printf("torture.%s: seed %ju, %.1f s, %s build\n", name, (uintmax_t)tt_opt.seed, tt_opt.seconds,
           RGC_ATOMICS_VIA_MASK ? "masked-atomics" : "compare-and-swap");
    memset(&tt_heap, 0, sizeof tt_heap);
    TT_CHECK(rgc_init(&tt_heap, heap_mem, sizeof heap_mem) == RGC_OK, "rgc_init");
    TT_CHECK(rgc_add_root(&tt_heap, fg_table, sizeof fg_table) == RGC_OK, "rgc_add_root");
    TT_CHECK(rgc_add_root(&tt_heap, irq_table, sizeof irq_table) == RGC_OK, "rgc_add_root");
    TT_CHECK(rgc_add_root(&tt_heap, list_head, sizeof list_head) == RGC_OK, "rgc_add_root");
    for (unsigned l = 0; l <= LEVELS; l++)
        rngs[l] = tt_seed_for(tt_opt.seed, l);
    rgc_level_policy(&tt_heap, 1, RGC_AUTO_COLLECT);
    core_tid = (pid_t)syscall(SYS_gettid);
    if (tt_sim_init(SENTINEL, SENTINEL) != 0)
        return tt_summary(name);
    for (unsigned l = 1; l <= LEVELS; l++) {
        rgc_sim_attach(l, handler, NULL);
        rgc_sim_timer(l, 400000u + 150000u * l);
    }
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigint;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask); /* nothing preempts the abort handler */
    sigaction(SIGINT, &sa, &old);
    /* a moderate storm: the foreground must get enough time for aborts to land in it */
    TT_CHECK(rgc_sim_storm_start(1, LEVELS, 20000, tt_seed_for(tt_opt.seed, 99)) == 0, "storm start");
    pthread_t thr;
    atomic_store(&abort_thread_on, true);
    TT_CHECK(pthread_create(&thr, NULL, abort_thread, NULL) == 0, "abort thread");

    uint64_t t0 = tt_now_ns();
    atomic_store(&run_deadline, t0 + (uint64_t)(tt_opt.seconds * 1e9));
    run_loop(atomic_load(&run_deadline));
    uint64_t t_end = tt_now_ns();
    atomic_store(&abort_thread_on, false);
    pthread_join(thr, NULL);
    if (!stop_run)
        (void)mask_balanced("at the end");
    if (stop_run)
        unblock_levels(); /* again: the port's mask may have been taken since */
    tt_quiesce();
    sigaction(SIGINT, &old, NULL);
    if (abort_pending) {
        abort_pending = 0;
        after_abort("deferred, at the end");
    }
    double secs = tt_sec(t_end - t0);
    TT_CHECK(rgc_check(&tt_heap) == RGC_OK, "rgc_check at the end");
    if (!stop_run) { /* (a stuck mask would hold off nothing any more: all sources are stopped) */
        tt_collect_clean();
        (void)verify_reachable("at the end, after a collection");
    }

    printf("  SIGINTs %lu (%.0f/s): unwound at once %lu, deferred %lu (busy in an rgc call at level 0 %lu, "
           "inside a handler %lu, between steps %lu), deferred aborts taken %lu; checks after aborts %lu\n",
           atomic_load(&sigints), atomic_load(&sigints) / secs, atomic_load(&jumps),
           atomic_load(&deferred_busy) + atomic_load(&deferred_handler) + atomic_load(&deferred_unarmed),
           atomic_load(&deferred_busy), atomic_load(&deferred_handler), atomic_load(&deferred_unarmed),
           atomic_load(&deferred_taken), aborts_checked);
    printf("  unwound with busy depth 0 while the foreground's wrapper flag said it was inside:");
    for (unsigned k = 1; k < NIN; k++)
        printf(" %s %lu", in_name[k], atomic_load(&jumps_in_call[k]));
    printf("; inside the port's mask: %lu", atomic_load(&jumps_masked));
    printf("\n  foreground steps %lu, collections %lu; handler ops %lu/%lu/%lu, handler collections %lu "
           "(busy %lu)\n",
           fg_steps, fg_collections, atomic_load(&irq_ops[1]), atomic_load(&irq_ops[2]),
           atomic_load(&irq_ops[3]), atomic_load(&irq_collect_ok), atomic_load(&irq_collect_busy));
    tt_print_sim(secs);
    if (atomic_load(&sources_stopped))
        printf("  level 0 was starved: it ran %.2f s past its deadline, the storm and the timers stopped 0.5 s "
               "after it\n", tt_sec(t_end - atomic_load(&run_deadline)));
    TT_CHECK(mask_broken == 0, "the port's mask stayed held after %lu aborts", mask_broken);
    TT_CHECK(atomic_load(&jumps) > 0, "no abort ever unwound");
    TT_CHECK(atomic_load(&deferred_busy) + atomic_load(&deferred_handler) > 0, "no abort was ever deferred");
    return tt_summary(name);
}
