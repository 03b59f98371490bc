/* barrier_common.c - the list of holders shared by the snapshot-barrier scenarios (barrier_common.h). */
#define _GNU_SOURCE
#include <string.h>

#include "barrier_common.h"

const char *const case_name[NCASES] = {"move", "free holder", "realloc-move holder"};

bool bl_scanned(struct node *s) {
    if (st(s) != AT_MARK || s->next == NULL || st(s->next) != AT_MARK)
        return false;
    for (int k = 0; k < 2; k++)
        if (s->slot[k] != NULL && st(s->slot[k]) != AT_MARK)
            return false;
    return true;
}

bool bl_white_holder(struct node *u) {
    if (st(u) != AT_HEAD || (u->slot[0] == NULL && u->slot[1] == NULL))
        return false;
    for (int k = 0; k < 2; k++)
        if (u->slot[k] != NULL && st(u->slot[k]) != AT_HEAD)
            return false;
    return true;
}

void bl_candidates(struct node *first, struct bl_cand *c, unsigned long *seen, uint64_t *rng) {
    c->ne = c->nh = 0;
    struct node *prev = NULL;
    for (struct node *n = first; n != NULL; prev = n, n = n->next) {
        if (c->ne < MAX_CAND && bl_scanned(n)) {
            for (int k = 0; k < 2 && c->ne < MAX_CAND; k++)
                if (n->slot[k] == NULL)
                    c->empty[c->ne++] = &n->slot[k];
        } else if (prev != NULL && bl_white_holder(n)) {
            /* reservoir sample among white holders */
            (*seen)++;
            if (c->nh < MAX_CAND) {
                c->prev_of[c->nh] = prev;
                c->hold[c->nh++] = n;
            } else {
                uint64_t j = tt_below(rng, *seen);
                if (j < MAX_CAND) {
                    c->prev_of[j] = prev;
                    c->hold[j] = n;
                }
            }
        }
    }
}

int bl_corrupt_victim(const struct node *u, int *bad) {
    for (int k = 0; k < 2; k++) {
        *bad = u->slot[k] ? tobj_verify(&tt_heap, u->slot[k], 0) : TT_OK;
        if (*bad != TT_OK)
            return k;
    }
    return -1;
}

void bl_two_empty(const struct bl_cand *c, uint64_t *rng, unsigned *e0, unsigned *e1) {
    *e0 = *e1 = 0;
    if (c->ne >= 2) {
        *e0 = (unsigned)tt_below(rng, c->ne);
        *e1 = (*e0 + 1u + (unsigned)tt_below(rng, c->ne - 1u)) % c->ne;
    }
}

struct tobj *bl_move(struct node *u, struct tobj **to) {
    int k = u->slot[0] != NULL ? 0 : 1;
    struct tobj *v = u->slot[k];
    rgc_write(&tt_heap, (void **)to, v);
    rgc_write(&tt_heap, (void **)&u->slot[k], NULL);
    return v;
}

bool bl_verify_victim(struct tobj *v, uintptr_t serial, unsigned kase) {
    int bad = tobj_verify(&tt_heap, v, serial);
    if (bad != TT_OK)
        TT_CHECK(false, "%s case: victim %p lost by the collection (%s, atb state %d)", case_name[kase], (void *)v,
                 tt_bad_name[bad], st(v));
    return bad == TT_OK;
}

size_t bl_verify_structure(const struct blist *l) {
    size_t nodes = 0, bad_nodes = 0, bad_victims = 0;
    unsigned long count = 0;
    uintptr_t sum = 0;
    for (struct node *n = *l->head; n != NULL; n = n->next) {
        nodes++;
        if (tobj_verify(&tt_heap, (struct tobj *)n, 0) != TT_OK)
            bad_nodes++;
        for (int k = 0; k < 2; k++) {
            if (n->slot[k] == NULL)
                continue;
            count++;
            sum += n->slot[k]->serial;
            if (tobj_verify(&tt_heap, n->slot[k], 0) != TT_OK)
                bad_victims++;
        }
        if (nodes > 4 * l->nodes)
            break;
    }
    if (bad_nodes || bad_victims || count != l->victim_count || sum != l->victim_serial_sum)
        TT_CHECK(false,
                 "structure: %zu corrupt nodes, %zu corrupt victims, %lu victims (expected %lu), serial sum %s",
                 bad_nodes, bad_victims, count, l->victim_count, sum == l->victim_serial_sum ? "ok" : "wrong");
    return nodes;
}

static struct node *new_node(uint64_t *rng) {
    return (struct node *)tobj_new(&tt_heap, NODE_LINKS, (size_t)tt_below(rng, 4));
}

static void link_next(const struct blist *l, struct node *last, struct node *n) {
    if (l->write_links)
        rgc_write(&tt_heap, (void **)&last->next, n);
    else
        last->next = n;
}

void bl_maintain(struct blist *l, size_t nodes, uint64_t *rng) {
    struct node *last = *l->head;
    while (last != NULL && last->next != NULL)
        last = last->next;
    for (; nodes < l->nodes; nodes++) {
        struct node *n = new_node(rng);
        if (n == NULL)
            break;
        link_next(l, last, n);
        last = n;
    }
    size_t nv = 0;
    for (struct node *n = *l->head; n != NULL; n = n->next) {
        size_t want = tobj_bytes(NODE_LINKS, tobj_nwords((struct tobj *)n));
        if (rgc_size(&tt_heap, n) > want + RGC_BLOCK_BYTES)
            (void)rgc_realloc(&tt_heap, n, want, false); /* shrink in place */
        for (int k = 0; k < 2; k++) {
            if (n->slot[k] != NULL && nv < l->nodes) {
                l->tmp[nv++] = n->slot[k];
                n->slot[k] = NULL;
            }
        }
    }
    for (size_t i = nv; i > 1; i--) {
        size_t j = (size_t)tt_below(rng, i);
        struct tobj *t = l->tmp[i - 1];
        l->tmp[i - 1] = l->tmp[j];
        l->tmp[j] = t;
    }
    size_t i = 0;
    for (struct node *n = *l->head; n != NULL && i < nv; n = n->next)
        n->slot[0] = l->tmp[i++];
    memset(l->tmp, 0, l->nodes * sizeof *l->tmp);
}

TT_NOINLINE void bl_build(struct blist *l, uint64_t *rng) {
    struct node *head = new_node(rng), *last = head;
    rgc_write(&tt_heap, l->head, head);
    for (size_t i = 1; i < l->nodes && last != NULL; i++) {
        struct node *n = new_node(rng);
        link_next(l, last, n);
        last = n;
    }
    for (struct node *n = *l->head; n != NULL; n = n->next) {
        struct tobj *v = tobj_new(&tt_heap, 0, 1 + (size_t)tt_below(rng, 6));
        if (v == NULL)
            break;
        n->slot[0] = v;
        l->victim_count++;
        l->victim_serial_sum += v->serial;
    }
}

void bl_setup(struct blist *l, const char *name, unsigned char *mem, size_t bytes, void *roots, size_t roots_bytes,
              uint64_t *rngs, unsigned nrngs) {
    printf("torture.%s: seed %ju, %.1f s, %s build\n", name, (uintmax_t)tt_opt.seed, tt_opt.seconds,
           RGC_ATOMICS_VIA_MASK ? "masked-atomics" : "compare-and-swap");
    memset(&tt_heap, 0, sizeof tt_heap);
    TT_CHECK(rgc_init(&tt_heap, mem, bytes) == RGC_OK, "rgc_init");
    TT_CHECK(rgc_add_root(&tt_heap, roots, roots_bytes) == RGC_OK, "rgc_add_root");
    for (unsigned lv = 0; lv < nrngs; lv++)
        rngs[lv] = tt_seed_for(tt_opt.seed, lv);
    bl_build(l, &rngs[0]);
    TT_CHECK(l->victim_count == l->nodes, "built %lu victims", l->victim_count);
}
