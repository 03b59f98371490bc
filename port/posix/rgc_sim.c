/* rgc_sim.c - the virtual interrupt controller of the posix port, and the port functions that depend
 * on it: rgc_port_mask/unmask (hold off levels 1..ceiling) and rgc_port_level.
 * See rgc_sim.h for the model. Handlers run on the core thread's own stack (no sigaltstack), so the
 * frames and saved registers of every interrupted level lie between the running handler's stack
 * pointer and the thread's stack top: rgc_port_scan_roots covers them without knowing about levels.
 */
#define _GNU_SOURCE
#include "rgc_sim.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rgc_port.h"

static unsigned sim_levels;  /* 0 until rgc_sim_init */
static unsigned sim_ceiling;
static pid_t core_pid, core_tid;
static sigset_t masked_set;  /* signals of levels 1..ceiling */
static sigset_t sim_set;     /* signals of every level */

static _Atomic unsigned current_level;
static _Atomic unsigned nesting;
static _Atomic unsigned max_nesting;
static _Atomic uint64_t delivered[RGC_SIM_MAX_LEVELS + 1];
static _Atomic uint64_t outermost_masks;
static _Atomic uint64_t tkill_delivered; /* deliveries of signals sent with tgkill */

static struct {
    _Atomic(rgc_sim_handler) fn;
    void *_Atomic arg;
    timer_t timer;
    bool has_timer;
} level_table[RGC_SIM_MAX_LEVELS + 1];

static int level_signal(unsigned level) {
    return SIGRTMIN + (int)(sim_levels - level);
}

static void on_signal(int sig, siginfo_t *info, void *uc) {
    (void)uc;
    int saved_errno = errno;
    unsigned level = sim_levels - (unsigned)(sig - SIGRTMIN);
    unsigned interrupted = atomic_load(&current_level);
    atomic_store(&current_level, level);
    unsigned depth = atomic_fetch_add(&nesting, 1) + 1;
    unsigned seen = atomic_load(&max_nesting);
    while (depth > seen && !atomic_compare_exchange_weak(&max_nesting, &seen, depth)) {
    }
    atomic_fetch_add(&delivered[level], 1);
    if (info != NULL && info->si_code == SI_TKILL) /* sent by tgkill: the storm or rgc_sim_pend */
        atomic_fetch_add(&tkill_delivered, 1);
    rgc_sim_handler fn = atomic_load(&level_table[level].fn);
    if (fn != NULL)
        fn(level, atomic_load(&level_table[level].arg));
    atomic_fetch_sub(&nesting, 1);
    atomic_store(&current_level, interrupted);
    errno = saved_errno;
}

int rgc_sim_init(unsigned levels, unsigned ceiling) {
    if (levels == 0 || levels > RGC_SIM_MAX_LEVELS || ceiling > levels ||
        SIGRTMIN + (int)levels - 1 > SIGRTMAX)
        return -1;
    sim_levels = levels;
    sim_ceiling = ceiling;
    core_pid = getpid();
    core_tid = (pid_t)syscall(SYS_gettid);
    sigemptyset(&masked_set);
    sigemptyset(&sim_set);
    for (unsigned l = 1; l <= levels; l++) {
        sigaddset(&sim_set, level_signal(l));
        if (l <= ceiling)
            sigaddset(&masked_set, level_signal(l));
    }
    for (unsigned l = 1; l <= levels; l++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_signal;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        for (unsigned lower = 1; lower <= l; lower++) /* its own level and every lower one */
            sigaddset(&sa.sa_mask, level_signal(lower));
        if (sigaction(level_signal(l), &sa, NULL) != 0)
            return -1;
    }
    pthread_sigmask(SIG_UNBLOCK, &sim_set, NULL);
    return 0;
}

int rgc_sim_attach(unsigned level, rgc_sim_handler fn, void *arg) {
    if (level == 0 || level > sim_levels)
        return -1;
    atomic_store(&level_table[level].arg, arg);
    atomic_store(&level_table[level].fn, fn);
    return 0;
}

int rgc_sim_timer(unsigned level, uint64_t period_ns) {
    if (level == 0 || level > sim_levels)
        return -1;
    if (level_table[level].has_timer) {
        timer_delete(level_table[level].timer);
        level_table[level].has_timer = false;
    }
    if (period_ns == 0)
        return 0;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = level_signal(level);
    sev._sigev_un._tid = core_tid;
    if (timer_create(CLOCK_MONOTONIC, &sev, &level_table[level].timer) != 0)
        return -1;
    level_table[level].has_timer = true;
    struct itimerspec its;
    its.it_interval.tv_sec = (time_t)(period_ns / 1000000000u);
    its.it_interval.tv_nsec = (long)(period_ns % 1000000000u);
    its.it_value = its.it_interval;
    return timer_settime(level_table[level].timer, 0, &its, NULL);
}

void rgc_sim_pend(unsigned level) {
    if (level >= 1 && level <= sim_levels)
        syscall(SYS_tgkill, core_pid, core_tid, level_signal(level));
}

/* ---- storm -------------------------------------------------------------------------------------- */

static pthread_t storm_thread;
static _Atomic bool storm_running;
static struct {
    unsigned lo, hi, per_second;
    uint64_t seed;
} storm_cfg;

static _Atomic uint64_t storm_holds;

static uint64_t mono_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* A storm faster than the handlers can take it would keep the core thread in handlers for good (the
 * masked-atomics build on a loaded host: a level-1 handler's full collection then takes milliseconds,
 * and 64 queued signals are always waiting) - a livelock of the test, not of rgc, and a test whose
 * deadline is checked at level 0 never ends. So when level 0 has not been seen for 2 ms, wait until it
 * has run (a real interrupt source would not wait; the preemption it gives is the same). */
static void storm_let_level0_run(uint64_t *busy_since) {
    if (atomic_load(&current_level) == 0) {
        *busy_since = 0;
        return;
    }
    uint64_t now = mono_ns();
    if (*busy_since == 0) {
        *busy_since = now;
        return;
    }
    if (now - *busy_since < 2000000u)
        return;
    atomic_fetch_add(&storm_holds, 1);
    struct timespec pause = {0, 50000};
    while (atomic_load(&storm_running) && atomic_load(&current_level) != 0)
        nanosleep(&pause, NULL);
    pause.tv_nsec = 200000; /* then let it run a while */
    nanosleep(&pause, NULL);
    *busy_since = 0;
}

static void *storm_main(void *unused) {
    (void)unused;
    uint64_t busy_since = 0;
    pthread_sigmask(SIG_BLOCK, &sim_set, NULL); /* they are for the core thread only */
    uint64_t rng = storm_cfg.seed | 1u, sent = 0, base = atomic_load(&tkill_delivered);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    const uint64_t batch = 16;
    while (atomic_load(&storm_running)) {
        storm_let_level0_run(&busy_since);
        /* Keep only a few signals in flight: the core thread must still get time at level 0, and the
         * per-user queue of real-time signals (RLIMIT_SIGPENDING) must never fill up. Timer signals
         * are not counted here (they merge); rgc_sim_pend's are, which only errs on the safe side. */
        int64_t in_flight = (int64_t)(sent - (atomic_load(&tkill_delivered) - base));
        if (in_flight >= 64) {
            sched_yield();
            continue;
        }
        for (uint64_t i = 0; i < batch; i++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            unsigned level = storm_cfg.lo + (unsigned)(rng % (storm_cfg.hi - storm_cfg.lo + 1u));
            if (syscall(SYS_tgkill, core_pid, core_tid, level_signal(level)) == 0)
                sent++;
        }
        if (storm_cfg.per_second != 0) {
            uint64_t ns = batch * 1000000000u / storm_cfg.per_second;
            next.tv_nsec += (long)(ns % 1000000000u);
            next.tv_sec += (time_t)(ns / 1000000000u) + next.tv_nsec / 1000000000L;
            next.tv_nsec %= 1000000000L;
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        }
    }
    return NULL;
}

int rgc_sim_storm_start(unsigned lo, unsigned hi, unsigned per_second, uint64_t seed) {
    if (lo == 0 || lo > hi || hi > sim_levels || atomic_load(&storm_running))
        return -1;
    storm_cfg.lo = lo;
    storm_cfg.hi = hi;
    storm_cfg.per_second = per_second;
    storm_cfg.seed = seed;
    atomic_store(&storm_running, true);
    if (pthread_create(&storm_thread, NULL, storm_main, NULL) != 0) {
        atomic_store(&storm_running, false);
        return -1;
    }
    return 0;
}

void rgc_sim_storm_stop(void) {
    if (atomic_exchange(&storm_running, false))
        pthread_join(storm_thread, NULL);
}

void rgc_sim_quiesce(void) {
    rgc_sim_storm_stop();
    for (unsigned l = 1; l <= sim_levels; l++)
        rgc_sim_timer(l, 0);
    /* Let everything already queued run (from level 0, signals unblocked). */
    for (;;) {
        sigset_t pending;
        sigpending(&pending);
        bool any = false;
        for (unsigned l = 1; l <= sim_levels; l++)
            any = any || sigismember(&pending, level_signal(l));
        if (!any)
            break;
        sched_yield();
    }
}

void rgc_sim_apply_ceiling(rgc_heap *h) {
    for (unsigned l = sim_ceiling + 1u; l <= sim_levels; l++)
        rgc_level_policy(h, l, RGC_NO_ALLOC);
}

void rgc_sim_get_stats(struct rgc_sim_stats *out) {
    memset(out, 0, sizeof *out);
    for (unsigned l = 0; l <= RGC_SIM_MAX_LEVELS; l++)
        out->delivered[l] = atomic_load(&delivered[l]);
    out->max_nesting = atomic_load(&max_nesting);
    out->masks = atomic_load(&outermost_masks);
    out->storm_holds = atomic_load(&storm_holds);
}

unsigned rgc_sim_levels(void) {
    return sim_levels;
}
unsigned rgc_sim_ceiling(void) {
    return sim_ceiling;
}

/* ---- port functions ------------------------------------------------------------------------------ */

static _Thread_local unsigned mask_depth;
static _Thread_local sigset_t mask_saved;

/* Before rgc_sim_init there are no levels to tell apart: hold off every signal. */
rgc_mask_state rgc_port_mask(void) {
    sigset_t all, old;
    const sigset_t *set = &masked_set;
    if (sim_levels == 0) {
        sigfillset(&all);
        set = &all;
    }
    pthread_sigmask(SIG_BLOCK, set, &old);
    if (mask_depth++ == 0) {
        mask_saved = old;
        atomic_fetch_add_explicit(&outermost_masks, 1, memory_order_relaxed);
    }
    atomic_signal_fence(memory_order_seq_cst);
    return (rgc_mask_state)mask_depth;
}

void rgc_port_unmask(rgc_mask_state s) {
    (void)s;
    atomic_signal_fence(memory_order_seq_cst);
    /* Copy first: once the depth reads 0, a level above the ceiling may mask and overwrite the save
     * slot before we restore from it. */
    sigset_t restore = mask_saved;
    if (--mask_depth == 0)
        pthread_sigmask(SIG_SETMASK, &restore, NULL);
}

unsigned rgc_port_level(void) {
    return atomic_load_explicit(&current_level, memory_order_relaxed);
}

/* For tests that play levels by hand in their own signal handlers. */
void rgc_posix_set_level(unsigned level) {
    atomic_store(&current_level, level);
}
