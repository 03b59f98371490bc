/* torture_main.c - rgc_torture: the preemption torture suite, one sub-command per scenario.
 *
 *   rgc_torture <scenario|all> [--seconds S] [--soak S] [--seed N] [--storm-rate N] [--no-minimums]
 *
 * Scenarios (issue 3, "Torture suite"): storm3, storm8, barrier, born_black, handler_collect,
 * policy_lock, abort; (issue 6) incremental, barrier_step, reserve. Each runs for a time budget (its CI default, or --seconds / --soak), prints its
 * figures and a final "torture.<name>: N passed, M failed" line, and exits non-zero on any failure.
 * `all` runs every scenario in a child process of its own (one simulator per process).
 * --soak S: run S seconds (per scenario) with a progress line every 10 s.
 * --seed N: the random operations' seed (interrupt timing is not reproducible; the seed and the
 *           scenario narrow a failure down). Default: time based, printed.
 * --storm-rate N: the storm scenarios' storm thread pace in interrupts/s (default 50000; 0: as fast
 *           as it can, which on a VM leaves the foreground little time).
 * --no-minimums: report the spec's speed minimums (50k interrupts/s, 10^7 storm operations) without
 *           enforcing them. They are enforced only in optimised compare-and-swap builds without
 *           sanitizers anyway (see t_storm.c).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "torture.h"

static int run_storm3(void) { return tt_storm(3); }
static int run_storm8(void) { return tt_storm(8); }

static const struct {
    const char *name;
    int (*fn)(void);
    double ci_seconds;
    const char *what;
} scenarios[] = {
    {"storm3", run_storm3, 8, "3 levels + foreground, random alloc/realloc/free/swap/collect"},
    {"storm8", run_storm8, 8, "8 levels + foreground, the same"},
    {"barrier", tt_barrier, 4, "snapshot barrier: moves, frees and realloc-moves during marking"},
    {"born_black", tt_born_black, 4, "allocations during marking and sweeping survive"},
    {"handler_collect", tt_handler_collect, 4, "collections inside handlers at every level"},
    {"policy_lock", tt_policy_lock, 3, "level policy, rgc_lock and the mask ceiling"},
    {"abort", tt_abort, 4, "asynchronous aborts deferred while rgc_busy_depth > 0"},
    {"incremental", tt_incremental, 6, "6 levels + foreground mutating lists, collection in steps at every level"},
    {"barrier_step", tt_barrier_step, 4, "snapshot barrier: moves, frees and realloc-moves between steps"},
    {"reserve", tt_reserve, 6, "handler allocations under a foreground flood, without and with rgc_reserve"},
};
#define NSCEN (sizeof scenarios / sizeof scenarios[0])

static void usage(FILE *f) {
    fprintf(f, "usage: rgc_torture <scenario|all> [--seconds S] [--soak S] [--seed N] [--storm-rate N] [--areas N]\n"
               "                   [--no-minimums]\n"
               "scenarios:\n");
    for (size_t i = 0; i < NSCEN; i++)
        fprintf(f, "  %-16s %s (CI: %.0f s)\n", scenarios[i].name, scenarios[i].what,
                scenarios[i].ci_seconds);
}

static bool parse_double(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v > 0) || v > 1e7)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *which = argv[1];
    double seconds = 0;
    bool have_seed = false;
    tt_opt.minimums = TT_FAST_BUILD;
    tt_opt.storm_rate = 50000;
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "--seconds") == 0 || strcmp(argv[i], "--soak") == 0) && i + 1 < argc) {
            if (!parse_double(argv[i + 1], &seconds)) {
                fprintf(stderr, "rgc_torture: bad duration '%s'\n", argv[i + 1]);
                return 2;
            }
            if (argv[i][2] == 's' && argv[i][3] == 'o')
                tt_opt.soak = true;
            i++;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            char *end;
            tt_opt.seed = strtoull(argv[i + 1], &end, 0);
            if (end == argv[i + 1] || *end != '\0') {
                fprintf(stderr, "rgc_torture: bad seed '%s'\n", argv[i + 1]);
                return 2;
            }
            have_seed = true;
            i++;
        } else if (strcmp(argv[i], "--storm-rate") == 0 && i + 1 < argc) {
            char *end;
            unsigned long r = strtoul(argv[i + 1], &end, 0);
            if (end == argv[i + 1] || *end != '\0' || r > 10000000ul) {
                fprintf(stderr, "rgc_torture: bad rate '%s'\n", argv[i + 1]);
                return 2;
            }
            tt_opt.storm_rate = (unsigned)r;
            i++;
        } else if (strcmp(argv[i], "--areas") == 0 && i + 1 < argc) {
            char *end;
            unsigned long a = strtoul(argv[i + 1], &end, 0);
            if (end == argv[i + 1] || *end != '\0' || a < 1 || a > RGC_MAX_AREAS) {
                fprintf(stderr, "rgc_torture: bad area count '%s'\n", argv[i + 1]);
                return 2;
            }
            tt_opt.areas = (unsigned)a;
            i++;
        } else if (strcmp(argv[i], "--no-minimums") == 0) {
            tt_opt.minimums = false;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            tt_opt.verbose = true;
        } else {
            fprintf(stderr, "rgc_torture: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!have_seed)
        tt_opt.seed = tt_now_ns() ^ ((uint64_t)getpid() << 32);

    if (strcmp(which, "list") == 0 || strcmp(which, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(which, "all") == 0) {
        int failed = 0;
        for (size_t i = 0; i < NSCEN; i++) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 1;
            }
            if (pid == 0) {
                tt_opt.seconds = seconds > 0 ? seconds : scenarios[i].ci_seconds;
                _exit(scenarios[i].fn());
            }
            int status = 0;
            waitpid(pid, &status, 0);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                failed++;
                printf("rgc_torture: %s FAILED (status 0x%x)\n", scenarios[i].name, status);
            }
        }
        printf("rgc_torture all: %zu scenarios, %d failed\n", NSCEN, failed);
        return failed ? 1 : 0;
    }
    for (size_t i = 0; i < NSCEN; i++) {
        if (strcmp(which, scenarios[i].name) == 0) {
            tt_opt.seconds = seconds > 0 ? seconds : scenarios[i].ci_seconds;
            return scenarios[i].fn();
        }
    }
    fprintf(stderr, "rgc_torture: unknown scenario '%s'\n", which);
    usage(stderr);
    return 2;
}
