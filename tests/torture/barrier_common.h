/* barrier_common.h - the list of holders shared by the snapshot-barrier scenarios (t_barrier.c, which
 * suspends a collection below a handler, and t_barrier_step.c, which pauses it between two steps).
 *
 * The heap holds one linked list (head in a root range) of holder nodes [next, a, b]; every victim is
 * referenced from exactly one a/b slot of one node. These helpers build the list, find the case
 * candidates (scanned holders' empty slots, white holders), verify victims and the whole structure, and
 * replenish / shrink / reshuffle between collections. The scenario keeps the cases and the counters.
 */
#ifndef RGC_BARRIER_COMMON_H
#define RGC_BARRIER_COMMON_H

#include "torture.h"

enum { C_MOVE, C_FREE, C_REALLOC, NCASES };
extern const char *const case_name[NCASES];

struct node {
    uintptr_t tag, meta, serial;
    struct node *next;
    struct tobj *slot[2];
    /* payload words follow */
};
#define NODE_LINKS 3u
#define MAX_CAND 64

/* One scenario's list. */
struct blist {
    void **head;        /* the root slot holding the first node */
    size_t nodes;       /* nodes kept in the list (NODES) */
    bool write_links;   /* link nodes with rgc_write (else plain stores: nothing may be marking) */
    struct tobj **tmp;  /* `nodes` entries of scratch for the reshuffle */
    unsigned long victim_count;
    uintptr_t victim_serial_sum;
};

/* ATB state of the block p starts (tt_heap). */
static inline int st(const void *p) { return tt_atb(&tt_heap, p); }

/* Scanned: MARK, and what its scan marks (next, victims) is MARK. */
bool bl_scanned(struct node *s);
/* Unscanned holder with only white victims (at least one). */
bool bl_white_holder(struct node *u);

/* Candidates: scanned holders' empty slots, white holders (with their predecessor). */
struct bl_cand {
    struct tobj **empty[MAX_CAND];
    struct node *hold[MAX_CAND], *prev_of[MAX_CAND];
    unsigned ne, nh;
};
/* Walk the list from `first`; white holders are reservoir sampled, *seen counts them. */
void bl_candidates(struct node *first, struct bl_cand *c, unsigned long *seen, uint64_t *rng);
/* The slot (0 or 1) of u whose victim fails tobj_verify (*bad set), or -1 when both are intact. */
int bl_corrupt_victim(const struct node *u, int *bad);
/* Two different empty slots e0, e1 (both 0 unless c->ne >= 2). */
void bl_two_empty(const struct bl_cand *c, uint64_t *rng, unsigned *e0, unsigned *e1);
/* The move case's stores: u's (first) victim V into the empty slot `to`, then u's slot cleared (both with
 * rgc_write); returns V. */
struct tobj *bl_move(struct node *u, struct tobj **to);

/* A logged victim of the `kase` case with its serial: intact (true), else a failed check. */
bool bl_verify_victim(struct tobj *v, uintptr_t serial, unsigned kase);
/* Verify the whole structure (every node and victim intact, the victim count and serial sum
 * unchanged); returns the number of nodes. */
size_t bl_verify_structure(const struct blist *l);
/* Append nodes up to l->nodes (nodes: the current count), shrink grown ones, then deal the victims out
 * again (one per node, slot a, in random order). No allocation after the victims leave their slots. */
void bl_maintain(struct blist *l, size_t nodes, uint64_t *rng);
/* Start of a scenario `name`: the banner line, tt_heap on mem (roots registered), nrngs level random
 * streams seeded, the list built on level 0's stream and its victim count checked. */
void bl_setup(struct blist *l, const char *name, unsigned char *mem, size_t bytes, void *roots, size_t roots_bytes,
              uint64_t *rngs, unsigned nrngs);
/* Build the list of l->nodes nodes with a victim each (counted in victim_count / victim_serial_sum). */
void bl_build(struct blist *l, uint64_t *rng);

#endif /* RGC_BARRIER_COMMON_H */
