/* sweep_harness.h - the test side of the preemption sweep, shared by the single-level sweep (sweep.c)
 * and the nested sweep (sweep_nested.c): tracked objects and their checks, the operations an interrupt
 * body performs at its level, heap set-up, the level-0 victim scenarios, one deterministic run, and
 * the driver's failure bookkeeping. See sweep_harness.c for what a run checks.
 */
#ifndef RGC_SWEEP_HARNESS_H
#define RGC_SWEEP_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rgc.h"
#include "sweep.h"

#ifndef SWEEP_VARIANT
#define SWEEP_VARIANT "cas"
#endif

#define B ((size_t)RGC_BLOCK_BYTES)
#define W (sizeof(void *))

/* Root table layout (one range registered with rgc_add_root). */
#define NROOT 64
#define R_LOW 0   /* 0..3: destinations of the interrupts' moves (scanned first, if scanned in order) */
#define R_L0 4    /* 4..39: level-0 objects */
#define R_IRQ 40  /* 40..47: the level-1 interrupt's own objects (some pre-existing) */
#define R_IRQ2 48 /* 48..55: the level-2 interrupt's own objects (nested sweep) */
#define R_HIGH 56 /* 56..63: destinations of the interrupts' moves (scanned last) */
#define VROOT (R_L0 + 8) /* root slot for the victim's object */

#define MAXOBJ 512
#define MAXSLOTS 24

/* ---- tracked objects ---- */
/* Word 0 is a tag (odd: never looks like a block pointer), words 1..nslots are pointer slots (shadowed
 * by ids), the remaining words up to req are a canary derived from the id. */
typedef struct {
    unsigned char *p;
    size_t req; /* bytes the test relies on (multiple of W) */
    unsigned nslots;
    unsigned flags;
    int owner;  /* the level that allocated it */
    int pinned; /* an operation on it is in progress: skipped by in-flight checks, never touched by others */
    int freed;  /* explicitly freed (no finaliser may run) */
    int fin_count;
    uint64_t aseq; /* allocation sequence number of the current address (alloc or moving realloc) */
    int slot[MAXSLOTS];
} tobj;

extern rgc_heap g_heap;
extern void *g_roots[NROOT];
extern int g_root_id[NROOT];
extern tobj g_obj[MAXOBJ];
extern int g_nobj;
extern unsigned char g_reach[MAXOBJ];

/* ---- what each interrupt level owns and saw ---- */
typedef struct {
    int slot0;      /* its 8 root slots: +0..+2 this run's allocations, +4 P, +5 P's child, +6 R */
    int P, Q, R;    /* pre-existing objects it owns (P refers to Q; R is resized), -1: none */
    int a1, a2, a3; /* this run's allocations */
    unsigned collector; /* core_of(h)->collector when the body started (0, or 1 + level of the collection) */
    int marking;        /* ... and that collection was marking */
    /* The move/drop entries of the scenario this level takes: index % move_mod == move_sel (the nested
     * sweep splits them between levels 1 and 2 so that no two levels write the same slot). */
    unsigned move_mod, move_sel;
} irq_level;
extern irq_level g_lv[SWEEP_MAX_LEVEL + 1];

/* ---- per-run context and statistics ---- */
typedef struct scenario scenario;
struct scenario {
    const char *name;
    size_t blocks;
    int is_collect; /* the victim is (or may start) a collection: 1 = followup garbage check too */
    void (*setup)(void);
    void (*victim)(void);
    const char *what;
    int step_bodies; /* 0: classic; 1: step-wise collection (bodies 4..8 that step, finish and collect);
                      * 2: the same bodies, races pending a core fix (sweep.c --races; none now) */
};
extern const scenario g_scenarios[];
extern const size_t g_nscenarios;
const scenario *find_scenario(const char *name);

extern const scenario *g_sc;
extern uint64_t g_N;      /* level-0 injection point of this run (0: none) */
extern unsigned g_body;   /* which level-1 body */
extern uint64_t g_M;      /* nested (level-2) injection point of this run (0: none) */
extern uint64_t g_vpoints; /* points of this run's victim operation */
extern uint64_t g_l1points; /* points the level-1 body counted in this run (see sweep_count) */
extern int g_verbose;
extern int g_run_fail;
extern char g_first_fail[600];
extern int g_nested;      /* the nested sweep: level-1 bodies are swept for a level-2 injection too */
extern void (*g_extra_setup)(void); /* run after the scenario's setup (nested: level-2 objects) */
extern int g_observe_only; /* the interrupt only looks: end the run after the victim's checks */

struct sweep_stats {
    uint64_t null_victims;  /* realloc without move that returned NULL (space taken by an interrupt) */
    uint64_t irq_nulls;     /* interrupt allocations that returned NULL (justified) */
    uint64_t irq_busy[SWEEP_MAX_LEVEL + 1];      /* interrupt collections refused with RGC_BUSY, per level */
    uint64_t irq_collected[SWEEP_MAX_LEVEL + 1]; /* interrupt collections that ran, per level */
    uint64_t irq_steps[SWEEP_MAX_LEVEL + 1];     /* interrupt rgc_collect_step calls, per level */
    uint64_t irq_completed[SWEEP_MAX_LEVEL + 1]; /* collections an interrupt's step or finish completed */
    uint64_t irq_left;      /* interrupt frees (or moved-from copies) left to the collector */
    uint64_t irq_deferred;  /* the same while a collection was suspended below */
    uint64_t retry_runs;    /* runs in which a claim was rolled back and retried (CAS conflict) */
    uint64_t marking_irqs;  /* interrupts that preempted a collection while it was marking */
    uint64_t deferred_runs; /* runs in which rgc_stats.deferred_frees counted something */
};
extern struct sweep_stats g_st;

void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- object operations (each rgc call a level-1 body makes through these is counted for the nested
 * injection; the harness's own verification calls are not) ---- */
int obj_new(size_t req, unsigned nslots, unsigned flags, int owner);
void *ptr_of(int id);
void root_set(int slot, int id);
void edge_set(int parent, unsigned k, int child);
void compute_reach(void);
int verify_obj(int id, const char *where);
/* rgc_check, every reachable object intact, no overlap, sane stats. Exact at the highest level. */
void check_all(const char *where);

/* ---- set-up helpers (level 0, before the victim) ---- */
int must_new(size_t req, unsigned nslots, unsigned flags, int owner); /* obj_new; NULL fails the run */
void add_move_root(int slot);          /* a root slot whose object the interrupts move elsewhere */
void add_move_edge(int parent, int k); /* a pointer slot whose target the interrupts move elsewhere */
void add_drop_root(int slot);          /* a root slot the interrupts clear */
void add_garbage(int id);              /* garbage at the start of a collection victim: gone after it + 1 */
void level_objects_setup(unsigned level); /* the level's pre-existing P -> Q and R, rooted in its slots */

/* ---- an interrupt body's steps at its level (rgc_port_level()) ---- */
/* Entry: record the collection it preempted, check the heap. Exit: check again. */
void irq_enter(void);
void irq_exit(void);
void irq_alloc_burst(void); /* 1, 3 (RGC_FINALISER) and 5 blocks, rooted and linked */
void irq_moves(void);       /* the snapshot barrier's work on its share of the scenario's moves */
void irq_free_own(void);    /* free a new finaliser object, its pre-existing P and its new a2 */
void irq_realloc(void);     /* grow its R by moving (or in place), then shrink it in place */
int irq_collect(void);      /* RGC_BUSY iff a collection was running (or open for roots) when called */
int irq_step(size_t budget); /* rgc_collect_step: RGC_BUSY iff one executes below (or is open), else 0/1 */
void irq_steps_to_end(void); /* small steps until the collection in progress (or a new one) completes */
int irq_finish(void);        /* rgc_collect_finish: RGC_BUSY as a step, else RGC_OK and idle */
/* What was dropped or freed while a collection was marking survives until that collection has ended:
 * checked whenever at most one more collection has completed since (any time). */
void check_snapshot_kept(const char *where);

/* ---- runs ---- */
__attribute__((noinline)) void wipe_stack(void);
/* One run of scenario sc with injection at level-0 point n (0: none) into level-1 body `body`, and at
 * level-1 point m (0: none) into the level-2 body. Returns the number of failed checks. */
int run_one(const scenario *sc, uint64_t n, unsigned body, uint64_t m);

/* ---- driver ---- */
extern const char *g_argv0;
extern uint64_t g_total_pass, g_total_fail;
void driver_init(const char *argv0);
double now_s(void);
/* Failure kinds of one scenario: the message with numbers and addresses blanked, a count and the first
 * occurrence with its reproduction arguments. */
void kinds_reset(void);
/* Reset g_st, the failure kinds and the port's counters (start of a scenario); print the common
 * statistics lines of g_st. */
void stats_reset(void);
void stats_print(void);
void kind_note(const char *repro_args);
void kinds_print(void);
/* The reproduction arguments of the current run (for crash and runaway reports). */
extern char g_repro[128];

#endif /* RGC_SWEEP_HARNESS_H */
