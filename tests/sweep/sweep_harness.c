/* sweep_harness.c - the test side of the preemption sweep (docs/design.md: I1-I7), shared by
 * the single-level sweep (sweep.c) and the nested sweep (sweep_nested.c).
 *
 * One run (run_one) of a scenario (a level-0 "victim" operation on a heap rebuilt from scratch):
 *   1. set up the heap (objects of level 0 and of the interrupt levels, rooted in one root range);
 *   2. run the victim with the sweep armed: at its point N a simulated level-1 interrupt body runs (and,
 *      in the nested sweep, at that body's point M a level-2 body runs on top of it). A body checks the
 *      heap as it finds it (rgc_check, every reachable object's canary, no overlap), then - in an order
 *      chosen by the driver - allocates (1, 3 with RGC_FINALISER, 5 blocks), moves pointers between root
 *      slots and out of heap slots and drops some, all through rgc_write (the snapshot barrier), frees
 *      objects it owns (one allocated before the victim started), grows and shrinks one with
 *      rgc_realloc, and collects (RGC_BUSY iff it preempted a collection, else a full nested
 *      collection), and checks again;
 *   3. after the victim returns: its result (zeroed, sized, no overlap, contents preserved, old copy
 *      released ...), rgc_check, every canary, exact block accounting (every used block belongs to an
 *      object the test knows), misuse 0; for collection victims the snapshot rules (what an interrupt
 *      dropped or freed while the collection was marking survives it and is gone after the next one)
 *      and the garbage rule (garbage at the start is gone after one more collection); then drop every
 *      root, collect twice at level 0 and once at every interrupt level, and require an empty heap and
 *      every finaliser run exactly once per dead RGC_FINALISER object (never for a live or explicitly
 *      freed one).
 * Operations in flight (an object being freed or resized, a slot being written) are tracked so that a
 * body running on top of them checks everything else exactly and leaves those alone.
 * The collector scans the stack conservatively, so the test keeps that stack deterministic: each phase
 * of a run starts on zeroed stack memory and with zeroed callee-saved registers, and the scanned stack
 * ends at the run's own frame. An injection point number therefore names the same instruction in every
 * run and every process.
 */
#define _POSIX_C_SOURCE 200809L

#include "sweep_harness.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rgc_internal.h" /* PHASE_MARK / PHASE_BITS: is the suspended collection marking? */
#include "rgc_port.h"

#define MAXADDR 1024
#define MAXMOVE 8
#define MAXSNAP 64
#define MEM_MAX (80 * 1024)

rgc_heap g_heap;
static _Alignas(64) unsigned char g_mem[MEM_MAX];
void *g_roots[NROOT];
int g_root_id[NROOT];
tobj g_obj[MAXOBJ];
int g_nobj;
static unsigned char *g_addr[MAXADDR]; /* every address an allocation returned in this run */
static int g_naddr;
unsigned char g_reach[MAXOBJ];

/* Per-run scenario data. */
static int g_move_roots[MAXMOVE], g_nmove_roots;
static int g_move_edges[MAXMOVE][2], g_nmove_edges;
static int g_drop_roots[MAXMOVE], g_ndrop_roots;
static int g_garbage[64], g_ngarbage;
static int g_V; /* the victim's object (free/realloc scenarios) */
static int g_next_low, g_next_high;
irq_level g_lv[SWEEP_MAX_LEVEL + 1];
/* Writes in flight, per level: a root slot (not compared, and not followed by compute_reach, while
 * in flight: the old value may already be gone) and an object's pointer slot (the same). */
static int g_inflight_root[SWEEP_MAX_LEVEL + 1];
static int g_inflight_obj[SWEEP_MAX_LEVEL + 1];
static unsigned g_inflight_k[SWEEP_MAX_LEVEL + 1];

/* Run context. */
const scenario *g_sc;
uint64_t g_N;
unsigned g_body;
uint64_t g_M;
uint64_t g_vpoints;
uint64_t g_l1points;
int g_verbose;
int g_run_fail;
char g_first_fail[600];
int g_nested;
int g_observe_only;
void (*g_extra_setup)(void);
/* Objects an interrupt dropped (overwrote the last reference to) or freed while a collection was
 * marking (suspended below it, or paused between steps): reachable at that collection's start, so it
 * must not free them; they go at the next one. `epoch` names the collection: the number of collections
 * completed before it, so the object is alive while at most epoch + 1 have completed; `collector` is
 * what was executing then (1 + its level, or 0 between steps), for messages. */
typedef struct {
    int id;
    unsigned collector;
    uint32_t epoch;
} snap_entry;
static snap_entry g_snap_dropped[MAXSNAP], g_snap_freed[MAXSNAP];
static int g_nsnap_dropped, g_nsnap_freed;

struct sweep_stats g_st;

static unsigned cur_level(void) { return rgc_port_level(); }
static irq_level *cur_lv(void) { return &g_lv[cur_level() <= SWEEP_MAX_LEVEL ? cur_level() : 0]; }

/* The rgc calls of an interrupt body's operations are the points counted for the nested injection
 * (sweep_count acts at level 1 only); the harness's own verification calls in between are not: they
 * are exact only when nothing preempts them. */
static void op_begin(void) { sweep_count(1); }
static void op_end(void) { sweep_count(0); }

void fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char where[40] = "";
    if (sweep_in_irq()) {
        snprintf(where, sizeof where, "[in the level-%u interrupt] ", rgc_port_level());
    }
    if (g_run_fail == 0) {
        snprintf(g_first_fail, sizeof g_first_fail, "%s%s", where, msg);
    }
    g_run_fail++;
    if (g_verbose) {
        printf("  FAIL: %s%s\n", where, msg);
    }
}

static uintptr_t tag_of(int id) { return ((uintptr_t)(unsigned)id << 16) | (uintptr_t)0x7A51u; }
static int id_of_tag(uintptr_t t)
{
    if ((t & 0xFFFFu) != 0x7A51u) {
        return -1;
    }
    uintptr_t id = t >> 16;
    return id < (uintptr_t)g_nobj ? (int)id : -1;
}
static uintptr_t canary(int id, size_t i)
{
    return ((uintptr_t)(unsigned)id * (uintptr_t)0x9E3779B1u + (uintptr_t)i * (uintptr_t)0x85EBCA77u) |
           (uintptr_t)1;
}
static uintptr_t *words(int id) { return (uintptr_t *)(void *)g_obj[id].p; }

static void addr_note(void *p)
{
    if (g_naddr < MAXADDR) {
        g_addr[g_naddr++] = p;
    } else {
        fail("harness: address table full");
    }
}

static uint64_t g_aseq; /* allocation sequence: every address an allocation or a move hands out */

/* Some object got address p after sequence number since (so after the copy that was there was
 * released): then rgc_size(p) describes that object, not the old copy. */
static bool addr_taken_by_other(const void *p, uint64_t since)
{
    for (int i = 0; i < g_nobj; i++) {
        if (g_obj[i].p == p && g_obj[i].aseq > since) {
            return true;
        }
    }
    return false;
}

static void fill_canary(int id, size_t from_word)
{
    uintptr_t *w = words(id);
    for (size_t i = from_word; i < g_obj[id].req / W; i++) {
        w[i] = canary(id, i);
    }
}

/* Allocate and register an object. Returns its id, or -1 when rgc_alloc returned NULL. */
int obj_new(size_t req, unsigned nslots, unsigned flags, int owner)
{
    if (g_nobj >= MAXOBJ) {
        fail("harness: object table full");
        return -1;
    }
    op_begin();
    unsigned char *p = rgc_alloc(&g_heap, req, flags);
    op_end();
    if (p == NULL) {
        return -1;
    }
    addr_note(p);
    size_t sz = rgc_size(&g_heap, p);
    if (sz < req || sz % B != 0) {
        fail("rgc_alloc(%zu) returned %p with rgc_size %zu", req, (void *)p, sz);
    }
    for (size_t i = 0; i < req; i++) {
        if (p[i] != 0) {
            fail("rgc_alloc(%zu) returned %p not zeroed at byte %zu", req, (void *)p, i);
            break;
        }
    }
    int id = g_nobj++;
    tobj *o = &g_obj[id];
    memset(o, 0, sizeof *o);
    o->p = p;
    o->aseq = ++g_aseq;
    o->req = req;
    o->nslots = nslots;
    o->flags = flags;
    o->owner = owner;
    for (int k = 0; k < MAXSLOTS; k++) {
        o->slot[k] = -1;
    }
    words(id)[0] = tag_of(id);
    fill_canary(id, 1 + nslots);
    return id;
}

void *ptr_of(int id) { return id >= 0 ? (void *)g_obj[id].p : NULL; }

static void dump_heap(const char *title);
static bool marking_now(void) { return (atomic_load(&g_heap.state) & PHASE_BITS) == PHASE_MARK; }
static unsigned phase_now(void) { return atomic_load(&g_heap.state) & PHASE_BITS; }
static uint32_t completed_now(void) { return atomic_load(&core_of(&g_heap)->collections); }

/* The object `old` is being dropped (its slot overwritten) by the calling level (0 too when `victim`). */
static void note_dropped(int old, bool victim)
{
    if (old >= 0 && marking_now() && (sweep_in_irq() || victim) && g_nsnap_dropped < MAXSNAP) {
        g_snap_dropped[g_nsnap_dropped].id = old;
        g_snap_dropped[g_nsnap_dropped].collector = atomic_load(&core_of(&g_heap)->collector);
        g_snap_dropped[g_nsnap_dropped].epoch = completed_now();
        g_nsnap_dropped++;
    }
}

static void note_overwritten(int old) { note_dropped(old, false); }

static bool root_in_flight(int s)
{
    for (unsigned l = 0; l <= SWEEP_MAX_LEVEL; l++) {
        if (g_inflight_root[l] == s) {
            return true;
        }
    }
    return false;
}

static bool edge_in_flight(int id, unsigned k)
{
    for (unsigned l = 0; l <= SWEEP_MAX_LEVEL; l++) {
        if (g_inflight_obj[l] == id && g_inflight_k[l] == k) {
            return true;
        }
    }
    return false;
}

void root_set(int slot, int id)
{
    unsigned l = cur_level();
    note_overwritten(g_root_id[slot]);
    g_inflight_root[l] = slot;
    op_begin();
    rgc_write(&g_heap, &g_roots[slot], ptr_of(id));
    op_end();
    g_inflight_root[l] = -1;
    g_root_id[slot] = id;
}

void edge_set(int parent, unsigned k, int child)
{
    unsigned l = cur_level();
    note_overwritten(g_obj[parent].slot[k]);
    g_inflight_obj[l] = parent;
    g_inflight_k[l] = k;
    op_begin();
    rgc_write(&g_heap, (void **)(void *)(g_obj[parent].p + W * (1 + k)), ptr_of(child));
    op_end();
    g_inflight_obj[l] = -1;
    g_obj[parent].slot[k] = child;
}

/* g_reach: reachable from the root slots through the pointer slots, neither followed where a write is
 * in flight (the old value may be gone already, the new one is reachable elsewhere or not yet). */
void compute_reach(void)
{
    static int stack[MAXOBJ * MAXSLOTS + NROOT];
    int sp = 0;
    memset(g_reach, 0, sizeof g_reach);
    for (int s = 0; s < NROOT; s++) {
        int id = g_root_id[s];
        if (id >= 0 && !g_reach[id] && !root_in_flight(s)) {
            g_reach[id] = 1;
            stack[sp++] = id;
        }
    }
    while (sp > 0) {
        int id = stack[--sp];
        for (unsigned k = 0; k < g_obj[id].nslots; k++) {
            int c = g_obj[id].slot[k];
            if (c >= 0 && !g_reach[c] && !edge_in_flight(id, k)) {
                g_reach[c] = 1;
                stack[sp++] = c;
            }
        }
    }
}

/* verify_obj, and the object's rgc_size in *size. */
static int verify_obj_size(int id, const char *where, size_t *size)
{
    tobj *o = &g_obj[id];
    size_t sz = rgc_size(&g_heap, o->p);
    *size = sz;
    if (sz < o->req || sz % B != 0) {
        fail("%s: object #%d at %p (req %zu) has rgc_size %zu", where, id, (void *)o->p, o->req, sz);
        return 0;
    }
    uintptr_t *w = words(id);
    if (w[0] != tag_of(id)) {
        fail("%s: object #%d at %p: tag clobbered (0x%lx)", where, id, (void *)o->p, (unsigned long)w[0]);
        return 0;
    }
    for (unsigned k = 0; k < o->nslots; k++) {
        if ((void *)w[1 + k] != ptr_of(o->slot[k]) && !edge_in_flight(id, k)) {
            fail("%s: object #%d at %p: slot %u is %p, expected %p (#%d)", where, id, (void *)o->p, k,
                 (void *)w[1 + k], ptr_of(o->slot[k]), o->slot[k]);
            return 0;
        }
    }
    for (size_t i = 1 + o->nslots; i < o->req / W; i++) {
        if (w[i] != canary(id, i)) {
            fail("%s: object #%d at %p (req %zu): canary word %zu clobbered (0x%lx)", where, id,
                 (void *)o->p, o->req, i, (unsigned long)w[i]);
            return 0;
        }
    }
    return 1;
}

int verify_obj(int id, const char *where)
{
    size_t size;
    return verify_obj_size(id, where, &size);
}

static int cmp_ptr_id(const void *a, const void *b)
{
    const unsigned char *pa = g_obj[*(const int *)a].p, *pb = g_obj[*(const int *)b].p;
    return pa < pb ? -1 : pa > pb ? 1 : 0;
}

void check_all(const char *where)
{
    static int live[MAXOBJ];
    static size_t size[MAXOBJ];
    int n = 0;
    if (rgc_check(&g_heap) != RGC_OK) {
        fail("%s: rgc_check reports corruption (phase %u, collector %u, sweep_pos %zu, sweep_done %zu)", where,
             phase_now(), atomic_load(&core_of(&g_heap)->collector), atomic_load(&core_of(&g_heap)->sweep_pos),
             atomic_load(&core_of(&g_heap)->sweep_done));
        dump_heap("rgc_check failed");
    }
    for (int s = 0; s < NROOT; s++) {
        if (!root_in_flight(s) && g_roots[s] != ptr_of(g_root_id[s])) {
            fail("%s: root slot %d is %p, expected %p", where, s, g_roots[s], ptr_of(g_root_id[s]));
        }
    }
    compute_reach();
    for (int id = 0; id < g_nobj; id++) {
        if (g_reach[id] && !g_obj[id].pinned) {
            if (verify_obj_size(id, where, &size[id])) {
                live[n++] = id;
            }
        }
    }
    qsort(live, (size_t)n, sizeof live[0], cmp_ptr_id);
    for (int i = 1; i < n; i++) {
        tobj *a = &g_obj[live[i - 1]], *b = &g_obj[live[i]];
        if (a->p + size[live[i - 1]] > b->p) {
            fail("%s: objects #%d at %p (+%zu) and #%d at %p overlap", where, live[i - 1], (void *)a->p,
                 size[live[i - 1]], live[i], (void *)b->p);
        }
    }
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    if (st.used_bytes > st.total_bytes || st.used_bytes + st.free_bytes != st.total_bytes ||
        st.largest_free_bytes > st.free_bytes || st.objects > st.blocks) {
        fail("%s: inconsistent stats: total %zu used %zu free %zu largest %zu objects %zu blocks %zu", where,
             st.total_bytes, st.used_bytes, st.free_bytes, st.largest_free_bytes, st.objects, st.blocks);
    }
}

static int cmp_addr(const void *a, const void *b)
{
    const unsigned char *pa = *(unsigned char *const *)a, *pb = *(unsigned char *const *)b;
    return pa < pb ? -1 : pa > pb ? 1 : 0;
}

/* Quiescent only: every used block belongs to an object that starts at an address some allocation of
 * this run returned (no leaked blocks, no untracked objects). */
static void check_accounting(const char *where)
{
    static unsigned char *a[MAXADDR];
    memcpy(a, g_addr, sizeof a[0] * (size_t)g_naddr);
    qsort(a, (size_t)g_naddr, sizeof a[0], cmp_addr);
    size_t used = 0, objects = 0;
    for (int i = 0; i < g_naddr; i++) {
        if (i > 0 && a[i] == a[i - 1]) {
            continue;
        }
        size_t sz = rgc_size(&g_heap, a[i]);
        used += sz;
        objects += sz != 0;
    }
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    if (st.used_bytes != used || st.objects != objects) {
        fail("%s: accounting: heap reports %zu used bytes in %zu objects, objects at known addresses "
             "hold %zu bytes in %zu objects (leaked or untracked blocks)",
             where, st.used_bytes, st.objects, used, objects);
    }
}

static void on_finaliser(void *obj)
{
    if (rgc_busy_depth(&g_heap) == 0) {
        fail("finaliser for %p runs with rgc_busy_depth 0", obj);
    }
    int id = id_of_tag(*(uintptr_t *)obj);
    if (id < 0) {
        fail("finaliser called for %p which is not a tracked object (word 0 = 0x%lx)", obj,
             (unsigned long)*(uintptr_t *)obj);
        return;
    }
    tobj *o = &g_obj[id];
    if ((void *)o->p != obj) {
        fail("finaliser called for %p, a stale copy of object #%d (now at %p)", obj, id, (void *)o->p);
        return;
    }
    if (!(o->flags & RGC_FINALISER)) {
        fail("finaliser called for object #%d at %p allocated without RGC_FINALISER", id, obj);
    }
    if (o->freed) {
        fail("finaliser called for object #%d at %p which was freed explicitly", id, obj);
    }
    if (o->pinned) {
        fail("finaliser called for object #%d at %p while an operation on it is in progress", id, obj);
    }
    compute_reach();
    if (g_reach[id]) {
        fail("finaliser called for object #%d at %p which is reachable", id, obj);
    }
    if (++o->fin_count > 1) {
        fail("finaliser ran %d times for object #%d at %p", o->fin_count, id, obj);
    }
}

/* Clear the dead stack below the caller so stale words do not retain objects (conservative scan). */
__attribute__((noinline)) void wipe_stack(void)
{
    unsigned char buf[16384];
    memset(buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static void print_line(void *ctx, const char *s)
{
    (void)ctx;
    fputs(s, stdout);
}

static void dump_heap(const char *title)
{
    if (!g_verbose) {
        return;
    }
    printf("  heap map (%s):\n", title);
    rgc_dump(&g_heap, print_line, NULL);
    printf("\n");
}

/* ------------------------------------------------------------------------------------------------ */
/* An interrupt body's operations, at its level (g_lv[rgc_port_level()])                              */
/* ------------------------------------------------------------------------------------------------ */
static uint64_t nested_fired(void)
{
    struct sweep_counters c;
    sweep_get_counters(&c);
    return c.nested_fired;
}

/* The seed of a level's choices: the level-1 body must not depend on M (its path up to point M must be
 * the one its counting run took). */
static uint64_t lv_seed(void) { return cur_level() >= 2 ? g_M : g_N; }
static bool lv_takes(const irq_level *lv, int i) { return (unsigned)i % lv->move_mod == lv->move_sel; }

static int irq_alloc(size_t req, unsigned nslots, unsigned flags)
{
    uint64_t above = nested_fired();
    int id = obj_new(req, nslots, flags, (int)cur_level());
    if (id < 0) {
        rgc_stats st;
        rgc_get_stats(&g_heap, &st);
        /* A body that ran above this call may have held the space when the call looked for it. */
        if (st.largest_free_bytes >= req && nested_fired() == above) {
            fail("level-%u rgc_alloc(%zu) returned NULL with a free run of %zu bytes", cur_level(), req,
                 st.largest_free_bytes);
        }
        g_st.irq_nulls++;
    }
    return id;
}

void irq_alloc_burst(void)
{
    irq_level *lv = cur_lv();
    lv->a1 = irq_alloc(B, 2, 0);
    if (lv->a1 >= 0) {
        root_set(lv->slot0 + 0, lv->a1);
    }
    lv->a2 = irq_alloc(3 * B, 1, RGC_FINALISER);
    if (lv->a2 >= 0) {
        root_set(lv->slot0 + 1, lv->a2);
    }
    lv->a3 = irq_alloc(4 * B + W, 3, 0);
    if (lv->a3 >= 0) {
        root_set(lv->slot0 + 2, lv->a3);
        if (lv->a1 >= 0) {
            edge_set(lv->a1, 0, lv->a3);
        }
    }
    if (lv->a2 >= 0) {
        /* a new (black) object referring to an old one */
        compute_reach();
        for (int id = 0; id < g_nobj; id++) {
            if (g_reach[id] && g_obj[id].owner == 0 && !g_obj[id].pinned) {
                edge_set(lv->a2, 0, id);
                break;
            }
        }
    }
}

static int next_move_dest(unsigned i)
{
    if ((i + lv_seed()) % 2 == 0 && g_next_low < R_L0) {
        return g_next_low++;
    }
    if (g_next_high < NROOT) {
        return g_next_high++;
    }
    if (g_next_low < R_L0) {
        return g_next_low++;
    }
    return -1;
}

/* Snapshot-barrier work: copy pointers into other slots, then overwrite the originals; drop some. Only
 * this level's share of the scenario's entries, and never a slot another level is writing. */
void irq_moves(void)
{
    irq_level *lv = cur_lv();
    unsigned i = 0;
    int first = 1;
    for (int m = 0; m < g_nmove_roots; m++, i++) {
        int s = g_move_roots[m];
        int id = g_root_id[s];
        if (!lv_takes(lv, m) || id < 0 || g_obj[id].pinned || root_in_flight(s)) {
            continue;
        }
        int d = next_move_dest(i);
        if (d < 0) {
            break;
        }
        root_set(d, id);
        compute_reach();
        root_set(s, (first && lv->a1 >= 0 && g_reach[lv->a1]) ? lv->a1 : -1);
        first = 0;
    }
    for (int m = 0; m < g_nmove_edges; m++, i++) {
        int parent = g_move_edges[m][0];
        unsigned k = (unsigned)g_move_edges[m][1];
        if (!lv_takes(lv, m)) {
            continue;
        }
        compute_reach();
        if (!g_reach[parent] || g_obj[parent].pinned || edge_in_flight(parent, k)) {
            continue;
        }
        int child = g_obj[parent].slot[k];
        if (child < 0) {
            continue;
        }
        if ((m + lv_seed()) % 2 == 0 && lv->a1 >= 0 && g_reach[lv->a1] && g_obj[lv->a1].slot[1] < 0) {
            edge_set(lv->a1, 1, child); /* into a heap slot of a new object */
        } else {
            int d = next_move_dest(i);
            if (d < 0) {
                continue;
            }
            root_set(d, child);
        }
        edge_set(parent, k, -1);
    }
    for (int m = 0; m < g_ndrop_roots; m++) {
        int s = g_drop_roots[m];
        if (lv_takes(lv, m) && g_root_id[s] >= 0 && !g_obj[g_root_id[s]].pinned && !root_in_flight(s)) {
            root_set(s, -1);
        }
    }
}

static void irq_free_one(int id)
{
    irq_level *lv = cur_lv();
    unsigned char *p = g_obj[id].p;
    rgc_stats before, after;
    rgc_get_stats(&g_heap, &before);
    g_obj[id].freed = 1;
    g_obj[id].pinned = 1;
    bool was_marking = marking_now();
    uint32_t epoch = completed_now();
    op_begin();
    rgc_free(&g_heap, p);
    op_end();
    g_obj[id].pinned = 0;
    rgc_get_stats(&g_heap, &after);
    /* Freed while marking and deferred: it must stay allocated until the collection after that one. */
    if (was_marking && rgc_size(&g_heap, p) != 0 && g_nsnap_freed < MAXSNAP) {
        g_snap_freed[g_nsnap_freed].id = id;
        g_snap_freed[g_nsnap_freed].collector = lv->collector;
        g_snap_freed[g_nsnap_freed].epoch = epoch;
        g_nsnap_freed++;
    }
    if (after.misuse != before.misuse) {
        fail("level-%u rgc_free of live object #%d at %p counted as misuse", cur_level(), id, (void *)p);
    }
    /* Still allocated: the core leaves an object to the collector when its release would be
     * ambiguous (a suspended context published the same block, e.g. while claiming it). That is
     * allowed (the cleanup's leak check proves it is collected later); no finaliser may run for it. */
    if (rgc_size(&g_heap, p) != 0) {
        if (lv->collector != 0) {
            g_st.irq_deferred++;
        } else {
            g_st.irq_left++;
        }
    }
}

void irq_free_own(void)
{
    irq_level *lv = cur_lv();
    /* a finaliser object freed explicitly at once: its finaliser must never run */
    int t = irq_alloc(2 * B, 0, RGC_FINALISER);
    if (t >= 0) {
        irq_free_one(t);
    }
    /* a pre-existing object: keep its child via another slot, then unroot and free it */
    if (lv->P >= 0 && g_root_id[lv->slot0 + 4] == lv->P && !g_obj[lv->P].freed) {
        int q = g_obj[lv->P].slot[0];
        if (q >= 0) {
            root_set(lv->slot0 + 5, q);
        }
        /* hold it on this stack between unrooting and freeing, as a real caller does (g_obj is not
         * scanned: without this the object is garbage there and a collection above may free it) */
        void *volatile held = g_obj[lv->P].p;
        root_set(lv->slot0 + 4, -1);
        irq_free_one(lv->P);
        (void)held;
    }
    /* one of this body's own new objects */
    if (lv->a2 >= 0 && g_root_id[lv->slot0 + 1] == lv->a2) {
        void *volatile held = g_obj[lv->a2].p; /* as above */
        root_set(lv->slot0 + 1, -1);
        irq_free_one(lv->a2);
        (void)held;
    }
}

void irq_realloc(void)
{
    irq_level *lv = cur_lv();
    int r = lv->R;
    if (r < 0 || g_root_id[lv->slot0 + 6] != r) {
        return;
    }
    unsigned char *old = g_obj[r].p;
    size_t grow = 6 * B;
    uint64_t above = nested_fired();
    g_obj[r].pinned = 1;
    op_begin();
    unsigned char *np = rgc_realloc(&g_heap, old, grow, true);
    op_end();
    g_obj[r].pinned = 0;
    if (np == NULL) {
        rgc_stats st;
        rgc_get_stats(&g_heap, &st);
        if (st.largest_free_bytes >= grow && nested_fired() == above) {
            fail("level-%u rgc_realloc(%p, %zu, move) returned NULL with a free run of %zu bytes",
                 cur_level(), (void *)old, grow, st.largest_free_bytes);
        }
        g_st.irq_nulls++;
        verify_obj(r, "interrupt realloc NULL");
        return;
    }
    addr_note(np);
    uint64_t oldseq = g_obj[r].aseq;
    g_obj[r].p = np;
    if (np != old) {
        g_obj[r].aseq = ++g_aseq;
    }
    verify_obj(r, "interrupt realloc grow (old contents)");
    if (rgc_size(&g_heap, np) < grow) {
        fail("level-%u realloc grow: rgc_size %zu < %zu", cur_level(), rgc_size(&g_heap, np), grow);
    }
    if (np != old && rgc_size(&g_heap, old) != 0 && !addr_taken_by_other(old, oldseq)) {
        if (lv->collector != 0) { /* old copy left to the collector (deferred, or ambiguous) */
            g_st.irq_deferred++;
        } else {
            g_st.irq_left++;
        }
    }
    root_set(lv->slot0 + 6, r);
    size_t oldreq = g_obj[r].req;
    g_obj[r].req = grow;
    fill_canary(r, oldreq / W);
    /* shrink in place */
    size_t shrink = B;
    g_obj[r].pinned = 1;
    op_begin();
    unsigned char *sp = rgc_realloc(&g_heap, np, shrink, true);
    op_end();
    g_obj[r].pinned = 0;
    if (sp != np) {
        fail("level-%u realloc shrink of %p to %zu returned %p (expected in place)", cur_level(), (void *)np,
             shrink, (void *)sp);
        if (sp == NULL) {
            return;
        }
        addr_note(sp);
        g_obj[r].p = sp;
        g_obj[r].aseq = ++g_aseq;
        root_set(lv->slot0 + 6, r);
    }
    g_obj[r].req = shrink;
    verify_obj(r, "interrupt realloc shrink");
}

void check_snapshot_kept(const char *where)
{
    char msg[200];
    uint32_t done = completed_now();
    compute_reach();
    for (int i = 0; i < g_nsnap_dropped; i++) {
        int id = g_snap_dropped[i].id;
        if (done <= g_snap_dropped[i].epoch + 1u && !g_reach[id] && !g_obj[id].freed && !g_obj[id].pinned) {
            snprintf(msg, sizeof msg, "%s: object dropped while collection #%u was marking (%u completed now)",
                     where, (unsigned)g_snap_dropped[i].epoch + 1u, (unsigned)done);
            verify_obj(id, msg);
        }
    }
    for (int i = 0; i < g_nsnap_freed; i++) {
        tobj *o = &g_obj[g_snap_freed[i].id];
        if (done <= g_snap_freed[i].epoch + 1u && rgc_size(&g_heap, o->p) == 0) {
            fail("%s: object #%d at %p freed while collection #%u was marking was released by it (%u completed "
                 "now; the release must be deferred to the next one)",
                 where, g_snap_freed[i].id, (void *)o->p, (unsigned)g_snap_freed[i].epoch + 1u, (unsigned)done);
        }
    }
}

/* A level below l is inside an rgc call (suspended in it). */
static bool below_in_call(unsigned l)
{
    for (unsigned k = 0; k < l; k++) {
        if (atomic_load(&core_of(&g_heap)->depth[k]) != 0) {
            return true;
        }
    }
    return false;
}

/* A collection request from level l must return RGC_BUSY (rgc.h) when a step or collection is
 * executing below it, when another level has a collection open for its roots (rgc_collect_start), or
 * when an rgc call is suspended below it and the request would move a collection in progress or
 * leave one paused (`leaves_paused`: a step or start; finish and rgc_collect run a new one to its end). */
static bool busy_expected_for(unsigned l, bool leaves_paused)
{
    unsigned owner = atomic_load(&core_of(&g_heap)->roots_owner);
    if (atomic_load(&core_of(&g_heap)->collector) != 0 || (owner != 0 && owner != l + 1u)) {
        return true;
    }
    return (leaves_paused || phase_now() != PHASE_IDLE) && below_in_call(l);
}

int irq_collect(void)
{
    irq_level *lv = cur_lv();
    unsigned l = cur_level();
    /* The heap's own counters, read directly (no rgc call, no points); collections that a body above
     * completed during this call count too. A collection paused between steps is finished first. */
    uint32_t done = atomic_load(&core_of(&g_heap)->collections), refused = atomic_load(&core_of(&g_heap)->busy_collections);
    uint64_t above = l < SWEEP_MAX_LEVEL ? g_st.irq_collected[l + 1] + g_st.irq_completed[l + 1] : 0;
    bool busy = busy_expected_for(l, false), paused = phase_now() != PHASE_IDLE;
    op_begin();
    int rc = rgc_collect(&g_heap);
    op_end();
    uint32_t done2 = atomic_load(&core_of(&g_heap)->collections), refused2 = atomic_load(&core_of(&g_heap)->busy_collections);
    uint64_t above2 = l < SWEEP_MAX_LEVEL ? g_st.irq_collected[l + 1] + g_st.irq_completed[l + 1] : 0;
    if (busy) {
        if (rc != RGC_BUSY) {
            fail("level-%u rgc_collect returned %d while a collection was running, open, or in progress above "
                 "a suspended rgc call (expected RGC_BUSY)", l, rc);
        } else {
            g_st.irq_busy[l]++;
        }
    } else if (rc != RGC_OK) {
        fail("level-%u rgc_collect returned %d with no collection running (expected RGC_OK)", l, rc);
    } else {
        uint32_t want = (paused ? 2u : 1u) + (uint32_t)(above2 - above);
        if (done2 - done != want) {
            fail("level-%u rgc_collect returned RGC_OK but the heap counted %u collections during it (expected "
                 "%u%s)",
                 l, done2 - done, want, paused ? ": the paused one and a full one" : "");
        }
        g_st.irq_collected[l]++;
        if (phase_now() != PHASE_IDLE) {
            fail("level-%u rgc_collect returned RGC_OK leaving phase %u", l, phase_now());
        }
    }
    check_snapshot_kept("after an interrupt's collection");
    if (rc == RGC_BUSY && refused2 == refused) {
        fail("level-%u rgc_collect returned RGC_BUSY but busy_collections did not count it", l);
    }
    (void)lv;
    return rc;
}

/* One rgc_collect_step(budget) at the body's level: RGC_BUSY at once when a step or collection executes
 * below (it must never wait for it) or another level's collection is open for roots; otherwise 1 while
 * a collection is in progress afterwards, 0 when this step completed it (starting one when none was). */
int irq_step(size_t budget)
{
    unsigned l = cur_level();
    uint32_t done = completed_now(), refused = atomic_load(&core_of(&g_heap)->busy_collections);
    uint64_t above = l < SWEEP_MAX_LEVEL ? g_st.irq_collected[l + 1] + g_st.irq_completed[l + 1] : 0;
    bool busy = busy_expected_for(l, true);
    op_begin();
    int rc = rgc_collect_step(&g_heap, budget);
    op_end();
    uint32_t done2 = completed_now(), refused2 = atomic_load(&core_of(&g_heap)->busy_collections);
    uint64_t above2 = l < SWEEP_MAX_LEVEL ? g_st.irq_collected[l + 1] + g_st.irq_completed[l + 1] : 0;
    uint32_t others = (uint32_t)(above2 - above);
    g_st.irq_steps[l]++;
    if (busy) {
        if (rc != RGC_BUSY) {
            fail("level-%u rgc_collect_step returned %d while a step or collection was executing, open for "
                 "roots, or an rgc call was suspended below (expected RGC_BUSY)", l, rc);
        } else {
            g_st.irq_busy[l]++;
        }
        if (refused2 == refused) {
            fail("level-%u rgc_collect_step returned RGC_BUSY but busy_collections did not count it", l);
        }
    } else if (rc == 0) {
        if (done2 - done != 1u + others) {
            fail("level-%u rgc_collect_step returned 0 but %u collections completed during it", l, done2 - done);
        }
        if (phase_now() != PHASE_IDLE) {
            fail("level-%u rgc_collect_step returned 0 leaving phase %u", l, phase_now());
        }
        g_st.irq_completed[l]++;
    } else if (rc == 1) {
        if (done2 - done != others) {
            fail("level-%u rgc_collect_step returned 1 but %u collections completed during it", l, done2 - done);
        }
        if (phase_now() == PHASE_IDLE) {
            fail("level-%u rgc_collect_step returned 1 (in progress) but the heap is idle", l);
        }
    } else {
        fail("level-%u rgc_collect_step returned %d (expected RGC_BUSY, 0 or 1)", l, rc);
    }
    check_snapshot_kept("after an interrupt's step");
    return rc;
}

/* Steps of a small budget until the collection in progress (or a new one) completes, or RGC_BUSY. */
void irq_steps_to_end(void)
{
    for (int n = 0; n < 100000; n++) {
        if (irq_step(2) != 1) {
            return;
        }
    }
    fail("level-%u: 100000 steps did not complete a collection", cur_level());
}

/* rgc_collect_finish at the body's level: RGC_BUSY as a step; else RGC_OK with the heap idle, one
 * collection completed if one was in progress. */
int irq_finish(void)
{
    unsigned l = cur_level();
    uint32_t done = completed_now();
    uint64_t above = l < SWEEP_MAX_LEVEL ? g_st.irq_collected[l + 1] + g_st.irq_completed[l + 1] : 0;
    bool busy = busy_expected_for(l, false), paused = phase_now() != PHASE_IDLE;
    op_begin();
    int rc = rgc_collect_finish(&g_heap);
    op_end();
    uint64_t above2 = l < SWEEP_MAX_LEVEL ? g_st.irq_collected[l + 1] + g_st.irq_completed[l + 1] : 0;
    if (busy) {
        if (rc != RGC_BUSY) {
            fail("level-%u rgc_collect_finish returned %d while a collection was running, open, or in progress "
                 "above a suspended rgc call (expected RGC_BUSY)", l, rc);
        } else {
            g_st.irq_busy[l]++;
        }
    } else if (rc != RGC_OK) {
        fail("level-%u rgc_collect_finish returned %d (expected RGC_OK)", l, rc);
    } else {
        if (completed_now() - done != (paused ? 1u : 0u) + (uint32_t)(above2 - above)) {
            fail("level-%u rgc_collect_finish: %u collections completed during it (one was %sin progress)", l,
                 completed_now() - done, paused ? "" : "not ");
        }
        if (phase_now() != PHASE_IDLE) {
            fail("level-%u rgc_collect_finish returned RGC_OK leaving phase %u", l, phase_now());
        }
        if (paused) {
            g_st.irq_completed[l]++;
        }
    }
    check_snapshot_kept("after an interrupt's rgc_collect_finish");
    return rc;
}

void irq_enter(void)
{
    unsigned l = cur_level();
    irq_level *lv = cur_lv();
    char where[40];
    lv->collector = atomic_load(&core_of(&g_heap)->collector);
    lv->marking = marking_now(); /* suspended below, or paused between steps */
    g_st.marking_irqs += (uint64_t)lv->marking;
    if (lv->collector != 0 && (lv->collector > l || (lv->collector == 1 && !g_sc->is_collect))) {
        fail("level-%u interrupt found a collection running (collector %u) though no level below it collects",
             l, lv->collector);
    }
    if (rgc_busy_depth(&g_heap) != 0) {
        fail("rgc_busy_depth is %u at level %u outside any rgc call", rgc_busy_depth(&g_heap), l);
    }
    snprintf(where, sizeof where, "level-%u interrupt entry", l);
    if (l == 1 && g_nested) {
        /* What the level-1 body finds is the same for every M of an N (level 2 has not run yet): checked
         * in the run without the nested injection. The dead stack below is wiped either way, so that
         * the body's later frames find the same stale words whether the check ran or not. */
        if (g_M == 0) {
            check_all(where);
        }
        wipe_stack();
        return;
    }
    check_all(where);
}

void irq_exit(void)
{
    unsigned l = cur_level();
    char where[40];
    snprintf(where, sizeof where, "level-%u interrupt exit", l);
    check_all(where);
    if (rgc_busy_depth(&g_heap) != 0) {
        fail("rgc_busy_depth is %u at level %u after the interrupt's rgc calls", rgc_busy_depth(&g_heap), l);
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Heap setup                                                                                          */
/* ------------------------------------------------------------------------------------------------ */
static size_t mem_for_blocks(size_t blocks)
{
    /* pool + 2 bits (ATB) + 1 bit (FTB) per block + alignment slack */
    return blocks * B + (blocks + 3) / 4 + (blocks + 7) / 8 + 2 * B;
}

static void heap_init(size_t blocks)
{
    size_t bytes = mem_for_blocks(blocks);
    memset(g_mem, 0, bytes);
    memset(g_roots, 0, sizeof g_roots);
    if (rgc_init(&g_heap, g_mem, bytes) != RGC_OK) {
        fail("rgc_init(%zu bytes) failed", bytes);
        return;
    }
    if (rgc_add_root(&g_heap, g_roots, sizeof g_roots) != RGC_OK) {
        fail("rgc_add_root failed");
    }
    rgc_set_finaliser(&g_heap, on_finaliser);
    for (int s = 0; s < NROOT; s++) {
        g_root_id[s] = -1;
    }
    g_nobj = 0;
    g_naddr = 0;
    g_nmove_roots = g_nmove_edges = g_ndrop_roots = g_ngarbage = 0;
    g_V = -1;
    for (unsigned l = 0; l <= SWEEP_MAX_LEVEL; l++) {
        irq_level *lv = &g_lv[l];
        memset(lv, 0, sizeof *lv);
        lv->slot0 = l >= 2 ? R_IRQ2 : R_IRQ;
        lv->P = lv->Q = lv->R = -1;
        lv->a1 = lv->a2 = lv->a3 = -1;
        lv->move_mod = 1;
        g_inflight_root[l] = -1;
        g_inflight_obj[l] = -1;
    }
    g_next_low = R_LOW;
    g_next_high = R_HIGH;
    g_nsnap_dropped = g_nsnap_freed = 0;
}

int must_new(size_t req, unsigned nslots, unsigned flags, int owner)
{
    int id = obj_new(req, nslots, flags, owner);
    if (id < 0) {
        fail("setup: rgc_alloc(%zu) returned NULL", req);
        if (g_nobj < MAXOBJ) {
            /* keep the harness consistent: a dummy, never dereferenced as an object */
            id = g_nobj++;
            memset(&g_obj[id], 0, sizeof g_obj[id]);
            for (int k = 0; k < MAXSLOTS; k++) {
                g_obj[id].slot[k] = -1;
            }
        }
    }
    return id;
}

void add_move_root(int s)
{
    if (g_nmove_roots < MAXMOVE) {
        g_move_roots[g_nmove_roots++] = s;
    }
}

void add_move_edge(int parent, int k)
{
    if (g_nmove_edges < MAXMOVE) {
        g_move_edges[g_nmove_edges][0] = parent;
        g_move_edges[g_nmove_edges][1] = k;
        g_nmove_edges++;
    }
}

void add_drop_root(int s)
{
    if (g_ndrop_roots < MAXMOVE) {
        g_drop_roots[g_ndrop_roots++] = s;
    }
}

void add_garbage(int id)
{
    if (g_ngarbage < (int)(sizeof g_garbage / sizeof g_garbage[0])) {
        g_garbage[g_ngarbage++] = id;
    }
}

void level_objects_setup(unsigned level)
{
    irq_level *lv = &g_lv[level];
    lv->P = must_new(B, 1, 0, (int)level);
    lv->Q = must_new(B, 0, 0, (int)level);
    edge_set(lv->P, 0, lv->Q);
    root_set(lv->slot0 + 4, lv->P);
    lv->R = must_new(2 * B, 0, 0, (int)level);
    root_set(lv->slot0 + 6, lv->R);
}

/* Objects present in every scenario (14 blocks, allocated first, contiguous on a fresh heap). */
static void base_setup(void)
{
    int n0 = must_new(B, 2, 0, 0), n1 = must_new(B, 2, 0, 0), n2 = must_new(B, 2, 0, 0);
    edge_set(n0, 0, n1);
    edge_set(n1, 0, n2);
    root_set(R_L0 + 0, n0);
    int f = must_new(2 * B, 1, RGC_FINALISER, 0); /* live finaliser object pointing at a live one */
    edge_set(f, 0, n2);
    root_set(R_L0 + 1, f);
    int d = must_new(2 * B, 0, 0, 0);
    root_set(R_L0 + 2, d);
    int m = must_new(B, 2, 0, 0), k = must_new(B, 0, 0, 0), f2 = must_new(B, 0, RGC_FINALISER, 0);
    edge_set(m, 0, k);
    edge_set(m, 1, f2);
    root_set(R_L0 + 3, m);
    level_objects_setup(1);
    add_move_root(R_L0 + 0);
    add_move_root(R_L0 + 1);
    add_move_edge(m, 0);
    add_drop_root(R_L0 + 2);
}

/* ------------------------------------------------------------------------------------------------ */
/* Scenarios                                                                                           */
/* ------------------------------------------------------------------------------------------------ */

static void victim_alloc_common(size_t req, unsigned flags)
{
    wipe_stack();
    sweep_arm(g_N);
    unsigned char *p = rgc_alloc(&g_heap, req, flags);
    g_vpoints = sweep_disarm();
    if (p == NULL) {
        rgc_stats st;
        rgc_get_stats(&g_heap, &st);
        fail("victim rgc_alloc(%zu) returned NULL (largest free run %zu)", req, st.largest_free_bytes);
        return;
    }
    addr_note(p);
    size_t sz = rgc_size(&g_heap, p);
    if (sz < req || sz % B != 0) {
        fail("victim rgc_alloc(%zu) = %p has rgc_size %zu", req, (void *)p, sz);
    }
    for (size_t i = 0; i < sz; i++) {
        if (p[i] != 0) {
            fail("victim rgc_alloc(%zu) = %p not zeroed at byte %zu", req, (void *)p, i);
            break;
        }
    }
    int id = g_nobj++;
    tobj *o = &g_obj[id];
    memset(o, 0, sizeof *o);
    for (int k = 0; k < MAXSLOTS; k++) {
        o->slot[k] = -1;
    }
    o->p = p;
    o->aseq = ++g_aseq;
    o->req = req;
    o->nslots = 1;
    o->flags = flags;
    words(id)[0] = tag_of(id);
    fill_canary(id, 2);
    root_set(VROOT, id);
    compute_reach();
    for (int c = 0; c < g_nobj; c++) {
        if (c != id && g_reach[c] && g_obj[c].owner == 0) {
            edge_set(id, 0, c);
            break;
        }
    }
}

/* S1: alloc on a fresh heap. */
static void setup_alloc_fresh(void) {}
static void victim_alloc_fresh(void) { victim_alloc_common(3 * B - W, 0); }

/* S2: alloc on a fragmented heap: 40 one-block holes between live blocks, the fit is past them. */
#define FRAG 80
static void setup_alloc_frag(void)
{
    int ids[FRAG];
    for (int i = 0; i < FRAG; i++) {
        ids[i] = must_new(B, 1, 0, 0);
    }
    for (int i = 0; i + 2 < FRAG; i += 2) {
        edge_set(ids[i], 0, ids[i + 2]);
    }
    root_set(R_L0 + 5, ids[0]);
    for (int i = 1; i < FRAG; i += 2) {
        g_obj[ids[i]].freed = 1;
        rgc_free(&g_heap, g_obj[ids[i]].p);
    }
    add_move_edge(ids[10], 0);
}
static void victim_alloc_frag(void) { victim_alloc_common(2 * B, 0); }

/* S3: alloc where the interrupt contends for the same blocks: small heap, holes of 3 and 2 blocks
 * first, the rest at the end. The victim claims the 3-block hole; the interrupt's first-fit goes there
 * too. */
static void setup_alloc_contend(void)
{
    int ha = must_new(3 * B, 0, 0, 0);
    int x1 = must_new(B, 0, 0, 0);
    int hb = must_new(2 * B, 0, 0, 0);
    int x2 = must_new(B, 0, 0, 0);
    root_set(R_L0 + 5, x1);
    root_set(R_L0 + 6, x2);
    g_obj[ha].freed = 1;
    rgc_free(&g_heap, g_obj[ha].p);
    g_obj[hb].freed = 1;
    rgc_free(&g_heap, g_obj[hb].p);
}
static void victim_alloc_contend(void) { victim_alloc_common(3 * B, RGC_FINALISER); }

/* S4: free of a multi-block finaliser object (no finaliser may run for it). */
static void setup_free(void)
{
    g_V = must_new(6 * B, 2, RGC_FINALISER, 0);
    edge_set(g_V, 0, g_root_id[R_L0 + 0]);
    edge_set(g_V, 1, g_root_id[R_L0 + 2]);
    int y = must_new(B, 0, 0, 0);
    root_set(VROOT, g_V);
    root_set(VROOT + 1, y);
}

/* The victim's call, passing the address straight from the object table (which is not scanned): with
 * `unref` no frame of the test holds the address while the call runs, so the argument is the object's
 * only reference (an object unlinked and then freed, a buffer held in a local and reallocated). */
__attribute__((noinline)) static void victim_free_call(int id) { rgc_free(&g_heap, g_obj[id].p); }
__attribute__((noinline)) static void *victim_realloc_call(int id, size_t n, bool allow_move)
{
    return rgc_realloc(&g_heap, g_obj[id].p, n, allow_move);
}

static void victim_free_common(int unref)
{
    int id = g_V;
    unsigned char *volatile held = unref ? NULL : g_obj[id].p; /* the caller's copy, or none */
    root_set(VROOT, -1);
    g_obj[id].freed = 1;
    g_obj[id].pinned = 1;
    rgc_stats before, after;
    rgc_get_stats(&g_heap, &before);
    bool marking = marking_now(); /* a collection paused between steps: the release is deferred */
    uint32_t epoch = completed_now();
    wipe_stack();
    sweep_arm(g_N);
    victim_free_call(id);
    g_vpoints = sweep_disarm();
    unsigned char *p = g_obj[id].p;
    (void)held;
    g_obj[id].pinned = 0;
    rgc_get_stats(&g_heap, &after);
    if (after.misuse != before.misuse) {
        fail("victim rgc_free(%p) counted as misuse", (void *)p);
    }
    if (rgc_size(&g_heap, p) != 0 && !addr_taken_by_other(p, g_obj[id].aseq)) {
        if (!marking) {
            fail("victim rgc_free(%p): object still allocated (rgc_size %zu)", (void *)p, rgc_size(&g_heap, p));
        } else if (g_nsnap_freed < MAXSNAP) {
            g_snap_freed[g_nsnap_freed].id = id;
            g_snap_freed[g_nsnap_freed].collector = 0;
            g_snap_freed[g_nsnap_freed].epoch = epoch;
            g_nsnap_freed++;
        }
    }
}
static void victim_free(void) { victim_free_common(0); }
static void victim_free_unref(void) { victim_free_common(1); }

/* S5: realloc grow in place (no move allowed): free blocks follow the object. */
static void setup_realloc_inplace(void)
{
    g_V = must_new(2 * B, 1, RGC_FINALISER, 0);
    edge_set(g_V, 0, g_root_id[R_L0 + 0]);
    root_set(VROOT, g_V);
}

/* expect: 0 grow in place (no move), 1 grow by moving, 2 shrink in place, 3 grow, move allowed.
 * unref: the object is unrooted during the call and the test holds no copy of its address. */
static void victim_realloc_common(size_t n, bool allow_move, int expect, int unref)
{
    int id = g_V;
    size_t oldsize = rgc_size(&g_heap, g_obj[id].p);
    unsigned char *volatile held = unref ? NULL : g_obj[id].p; /* the caller's copy, or none */
    if (unref) {
        root_set(VROOT, -1);
    }
    g_obj[id].pinned = 1;
    bool marking = marking_now(); /* a collection paused between steps: a moved-from copy is deferred */
    wipe_stack();
    sweep_arm(g_N);
    unsigned char *r = victim_realloc_call(id, n, allow_move);
    g_vpoints = sweep_disarm();
    /* an interrupt that finished the collection and stepped the next one into its mark phase: the
     * move's old copy may be left to that collection too */
    marking = marking || marking_now();
    unsigned char *p = g_obj[id].p;
    (void)held;
    g_obj[id].pinned = 0;
    if (r == NULL) {
        if (unref) {
            root_set(VROOT, id);
        }
        if (expect != 0 || g_N == 0) {
            fail("victim rgc_realloc(%p, %zu, %d) returned NULL", (void *)p, n, (int)allow_move);
        } else {
            g_st.null_victims++;
        }
        verify_obj(id, "victim realloc NULL: object untouched");
        if (rgc_size(&g_heap, p) != oldsize) {
            fail("victim rgc_realloc returned NULL but the size changed %zu -> %zu", oldsize,
                 rgc_size(&g_heap, p));
        }
        return;
    }
    addr_note(r);
    if (r != p && expect != 1 && expect != 3) {
        fail("victim rgc_realloc(%p, %zu, %d) moved the object to %p (expected in place)", (void *)p, n,
             (int)allow_move, (void *)r);
    }
    if (expect == 1 && g_N == 0 && r == p) {
        fail("harness: realloc_move scenario grew in place");
    }
    if (expect == 3 && g_N == 0 && r != p) {
        fail("victim rgc_realloc(%p, %zu, move) moved to %p though the following blocks are free",
             (void *)p, n, (void *)r);
    }
    size_t sz = rgc_size(&g_heap, r);
    size_t want = (n + B - 1) / B * B;
    if (expect == 2 && !marking ? sz != want : sz < n) {
        fail("victim rgc_realloc(%p, %zu) = %p has rgc_size %zu (expected %s%zu)", (void *)p, n, (void *)r, sz,
             expect == 2 ? "" : ">= ", expect == 2 ? want : n);
    }
    uint64_t oldseq = g_obj[id].aseq;
    g_obj[id].p = r;
    if (r != p) {
        g_obj[id].aseq = ++g_aseq;
    }
    if (n < g_obj[id].req) {
        g_obj[id].req = n;
    }
    verify_obj(id, "victim realloc: contents preserved");
    if (r != p && rgc_size(&g_heap, p) != 0 && !addr_taken_by_other(p, oldseq) && !marking) {
        fail("victim rgc_realloc moved %p to %p but the old copy is still allocated (rgc_size %zu)",
             (void *)p, (void *)r, rgc_size(&g_heap, p));
    }
    root_set(VROOT, id);
    size_t oldreq = g_obj[id].req;
    if (n > oldreq) {
        g_obj[id].req = n;
        fill_canary(id, oldreq / W);
    }
}

static void victim_realloc_inplace(void) { victim_realloc_common(5 * B, false, 0, 0); }
static void victim_realloc_grow(void) { victim_realloc_common(5 * B, true, 3, 0); }

/* S6: realloc grow by moving: a live object follows. The object has a finaliser (kept on move). */
static void setup_realloc_move(void)
{
    g_V = must_new(2 * B, 1, RGC_FINALISER, 0);
    edge_set(g_V, 0, g_root_id[R_L0 + 0]);
    int y = must_new(B, 0, 0, 0);
    root_set(VROOT, g_V);
    root_set(VROOT + 1, y);
}
static void victim_realloc_move(void) { victim_realloc_common(5 * B, true, 1, 0); }
static void victim_realloc_move_unref(void) { victim_realloc_common(5 * B, true, 1, 1); }

/* S7: realloc shrink in place. */
static void setup_realloc_shrink(void)
{
    g_V = must_new(6 * B, 2, RGC_FINALISER, 0);
    edge_set(g_V, 0, g_root_id[R_L0 + 0]);
    edge_set(g_V, 1, g_root_id[R_L0 + 3]);
    int y = must_new(B, 0, 0, 0);
    root_set(VROOT, g_V);
    root_set(VROOT + 1, y);
}
static void victim_realloc_shrink(void) { victim_realloc_common(2 * B, true, 2, 0); }

/* S8: full collection at level 0 over a graph: lists, a node wider than the mark stack, a chain,
 * garbage lists and cycles, finaliser objects dead and alive. */
static void setup_collect(void)
{
    /* list of 8 nodes, two of them holding live finaliser objects */
    int list[8];
    for (int i = 0; i < 8; i++) {
        list[i] = must_new(B, 2, 0, 0);
    }
    for (int i = 0; i + 1 < 8; i++) {
        edge_set(list[i], 0, list[i + 1]);
    }
    for (int i = 2; i < 8; i += 3) {
        int f = must_new(B, 0, RGC_FINALISER, 0);
        edge_set(list[i], 1, f);
    }
    root_set(R_L0 + 5, list[0]);
    /* garbage: a list of 5 (two with finalisers), a cycle, a dead finaliser object pointing at a live
     * one */
    int g[5];
    for (int i = 0; i < 5; i++) {
        g[i] = must_new(B, 1, (i % 2) ? RGC_FINALISER : 0u, 0);
        g_garbage[g_ngarbage++] = g[i];
    }
    for (int i = 0; i + 1 < 5; i++) {
        edge_set(g[i], 0, g[i + 1]);
    }
    /* a node wider than the mark stack (RGC_MARK_STACK_DEPTH), children with grandchildren */
    int wide = must_new((1 + 20) * W, 20, 0, 0);
    int kids[20];
    for (int i = 0; i < 20; i++) {
        kids[i] = must_new(B, 1, (i == 9) ? RGC_FINALISER : 0u, 0);
        edge_set(wide, (unsigned)i, kids[i]);
        if (i % 4 == 0) {
            int gc = must_new(B, 0, 0, 0);
            edge_set(kids[i], 0, gc);
        }
    }
    root_set(R_L0 + 6, wide);
    int c0 = must_new(B, 1, 0, 0), c1 = must_new(B, 1, RGC_FINALISER, 0);
    edge_set(c0, 0, c1);
    edge_set(c1, 0, c0);
    g_garbage[g_ngarbage++] = c0;
    g_garbage[g_ngarbage++] = c1;
    int df = must_new(2 * B, 1, RGC_FINALISER, 0);
    edge_set(df, 0, list[4]);
    g_garbage[g_ngarbage++] = df;
    /* a chain of 6 hanging off the last child */
    int prev = kids[19];
    for (int i = 0; i < 6; i++) {
        int c = must_new(B, 1, 0, 0);
        edge_set(prev, 0, c);
        prev = c;
    }
    add_move_root(R_L0 + 5);
    add_move_root(R_L0 + 6);
    add_move_edge(list[3], 0);
    add_move_edge(wide, 7);
    add_move_edge(wide, 0);
    add_move_edge(kids[19], 0);
}

/* S9: level-0 alloc that finds no room and collects (RGC_AUTO_COLLECT) before it succeeds: the heap is
 * full of garbage, some with finalisers. */
static void setup_alloc_autocollect(void)
{
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    size_t freeb = st.free_bytes / B;
    int i = 0;
    while (freeb > 3) {
        size_t nb = freeb - 3 >= 2 ? 2 : 1;
        int id = must_new(nb * B, 1, (i % 3 == 0) ? RGC_FINALISER : 0u, 0);
        if (i > 0 && i % 4 != 0) {
            edge_set(id, 0, g_garbage[g_ngarbage - 1]); /* garbage chains */
        }
        g_garbage[g_ngarbage++] = id;
        freeb -= nb;
        i++;
    }
}
static void victim_alloc_autocollect(void) { victim_alloc_common(4 * B, 0); }

/* S10: rgc_write of a root slot at level 0 (replaces the only reference to an object and its child). */
static void setup_write(void)
{
    int o = must_new(2 * B, 1, RGC_FINALISER, 0), c = must_new(B, 0, 0, 0);
    edge_set(o, 0, c);
    root_set(VROOT, o);
    g_V = must_new(B, 1, 0, 0);
    edge_set(g_V, 0, g_root_id[R_L0 + 3]);
    root_set(VROOT + 1, g_V);
}
static void victim_write(void)
{
    void *v = g_obj[g_V].p;
    g_root_id[VROOT] = -1; /* in flight: the old object is garbage from now on, the new one is rooted */
    g_inflight_root[0] = VROOT;
    wipe_stack();
    sweep_arm(g_N);
    rgc_write(&g_heap, &g_roots[VROOT], v);
    g_vpoints = sweep_disarm();
    g_inflight_root[0] = -1;
    g_root_id[VROOT] = g_V;
}

static void victim_collect(void)
{
    wipe_stack();
    sweep_arm(g_N);
    int rc = rgc_collect(&g_heap);
    g_vpoints = sweep_disarm();
    if (rc != RGC_OK) {
        fail("victim rgc_collect returned %d", rc);
    }
}


/* ---- step-wise collection (issue 6) ---------------------------------------------------------------- */
#define VSTEP_BUDGET 6

/* Set-up: start a collection at level 0 and advance it in steps of budget 1 until it is in `phase`,
 * then `more` steps in it: the victim runs with that collection paused between two steps. */
__attribute__((noinline)) static void pause_collection(unsigned phase, unsigned more)
{
    wipe_stack(); /* the first step scans this stack: no stale words of the set-up's calls */
    int rc = rgc_collect_step(&g_heap, 1);
    for (unsigned n = 0; rc == 1 && phase_now() != phase && n < 100000; n++) {
        rc = rgc_collect_step(&g_heap, 1);
    }
    for (unsigned k = 0; k < more && rc == 1; k++) {
        rc = rgc_collect_step(&g_heap, 1);
    }
    if (rc != 1 || phase_now() != phase) {
        fail("setup: could not pause a collection in phase %u (step returned %d, phase %u)", phase, rc,
             phase_now());
    }
}

static int atb_of(int id)
{
    size_t b = block_of_start(core_of(&g_heap), g_obj[id].p);
    return b == RGC_NONE ? -1 : (int)atb_state(core_of(&g_heap), b);
}

/* The victim step: 0 or 1 (level 0 never finds a step below it), consistent with the phase - unless
 * the interrupt ran after the step had decided (it may finish the collection, or start the next). */
static void victim_step(void)
{
    uint32_t done = completed_now();
    wipe_stack();
    sweep_arm(g_N);
    int rc = rgc_collect_step(&g_heap, VSTEP_BUDGET);
    g_vpoints = sweep_disarm();
    bool irq = sweep_run_fired() != 0;
    if (rc == 0) {
        if (completed_now() == done || (!irq && phase_now() != PHASE_IDLE)) {
            fail("victim rgc_collect_step returned 0 but phase is %u, %u collections completed", phase_now(),
                 completed_now() - done);
        }
    } else if (rc == 1) {
        if (!irq && phase_now() == PHASE_IDLE) {
            fail("victim rgc_collect_step returned 1 but the heap is idle");
        }
    } else {
        fail("victim rgc_collect_step returned %d at level 0 (expected 0 or 1)", rc);
    }
}

static void setup_step_mark(void)
{
    setup_collect();
    pause_collection(PHASE_MARK, 3);
}
static void setup_step_sweep(void)
{
    setup_collect();
    pause_collection(PHASE_SWEEP, 2);
}

static void victim_finish(void)
{
    wipe_stack();
    sweep_arm(g_N);
    int rc = rgc_collect_finish(&g_heap);
    g_vpoints = sweep_disarm();
    /* (an interrupt after the finish may have started the next collection with a step) */
    if (rc != RGC_OK || (phase_now() != PHASE_IDLE && !sweep_run_fired())) {
        fail("victim rgc_collect_finish returned %d, phase %u (expected RGC_OK, idle)", rc, phase_now());
    }
}

/* rgc_collect_start, then (not swept) the root words of an object nothing else refers to, and the
 * finish: the object survives that collection (and is garbage for the next one). */
static void *g_words[2]; /* not a root range */
static int g_E;
static void setup_start(void)
{
    setup_collect();
    g_E = must_new(2 * B, 0, 0, 0);
    g_words[0] = ptr_of(g_E);
    g_words[1] = NULL;
    add_garbage(g_E);
}
static void victim_start(void)
{
    uint32_t done = completed_now();
    wipe_stack();
    sweep_arm(g_N);
    int rc = rgc_collect_start(&g_heap);
    g_vpoints = sweep_disarm();
    /* An interrupt before the start may have collected already: E was garbage then (no root yet). */
    bool e_alive = completed_now() == done;
    if (rc == RGC_OK) {
        int rr = rgc_collect_roots(&g_heap, g_words, 2);
        if (rr != RGC_OK) {
            fail("rgc_collect_roots after the victim's rgc_collect_start returned %d", rr);
        }
        int rf = rgc_collect_finish(&g_heap);
        if (rf != RGC_OK) {
            fail("rgc_collect_finish after the victim's rgc_collect_start returned %d", rf);
        }
        if (e_alive) {
            verify_obj(g_E, "the object given to rgc_collect_roots, after that collection");
        }
    } else if (rc == RGC_BUSY && g_N != 0 && phase_now() != PHASE_IDLE) {
        /* the interrupt started a collection (a step from idle) that is still in progress */
        (void)rgc_collect_finish(&g_heap);
    } else {
        fail("victim rgc_collect_start returned %d (phase %u)", rc, phase_now());
    }
    g_words[0] = NULL;
}

/* rgc_write at level 0 with a collection paused in its mark phase: the only heap reference to o (in
 * an unscanned list node) is overwritten, o having been stored into a root slot after the roots were
 * scanned. Only the barrier's shade keeps o (and its child) alive. */
static int g_chain[4], g_wo;
static void setup_write_paused(void)
{
    for (int i = 0; i < 4; i++) {
        g_chain[i] = must_new(B, 2, 0, 0);
        if (i > 0) {
            edge_set(g_chain[i - 1], 0, g_chain[i]);
        }
    }
    g_wo = must_new(2 * B, 1, RGC_FINALISER, 0);
    edge_set(g_wo, 0, must_new(B, 0, 0, 0));
    edge_set(g_chain[3], 1, g_wo);
    root_set(R_L0 + 6, g_chain[0]);
    pause_collection(PHASE_MARK, 1);
    if (atb_of(g_wo) != AT_HEAD) {
        fail("setup: the object is already marked (state %d): the scenario tests nothing", atb_of(g_wo));
    }
    root_set(VROOT, g_wo); /* a root slot written after the snapshot of the roots */
}
static void victim_write_paused(void)
{
    int parent = g_chain[3];
    g_inflight_obj[0] = parent;
    g_inflight_k[0] = 1;
    note_dropped(g_wo, true);
    wipe_stack();
    sweep_arm(g_N);
    rgc_write(&g_heap, (void **)(void *)(g_obj[parent].p + W * 2), NULL);
    g_vpoints = sweep_disarm();
    g_inflight_obj[0] = -1;
    g_obj[parent].slot[1] = -1;
}

static void setup_alloc_paused(void) { pause_collection(PHASE_MARK, 1); }
static void setup_alloc_paused_sweep(void) { pause_collection(PHASE_SWEEP, 1); }
static void setup_free_paused(void)
{
    setup_free();
    pause_collection(PHASE_MARK, 1);
}
static void setup_realloc_grow_paused(void)
{
    setup_realloc_inplace();
    pause_collection(PHASE_MARK, 1);
}
static void setup_realloc_grow_paused_sweep(void)
{
    setup_realloc_inplace();
    pause_collection(PHASE_SWEEP, 1);
}
static void setup_realloc_paused(void)
{
    setup_realloc_move();
    pause_collection(PHASE_MARK, 1);
}

#define RUN_BLOCKS ((size_t)2u << RGC_NEXT_FIT_SHIFT) /* next fit for 2 blocks and more */
_Static_assert(RUN_BLOCKS * RGC_BLOCK_BYTES + RUN_BLOCKS + 4 * RGC_BLOCK_BYTES <= MEM_MAX, "MEM_MAX too small");
const scenario g_scenarios[] = {
    {"alloc_fresh", 64, 0, setup_alloc_fresh, victim_alloc_fresh, "rgc_alloc(3 blocks) on a fresh heap", 0},
    {"alloc_frag", 176, 0, setup_alloc_frag, victim_alloc_frag, "rgc_alloc(2 blocks) past 40 one-block holes", 0},
    /* RUN_BLOCKS: a heap large enough that small multi-block requests search next fit - rgc_alloc's
     * run fast path (one table-word update for the whole run) */
    {"alloc_run", RUN_BLOCKS, 0, setup_alloc_fresh, victim_alloc_fresh,
     "rgc_alloc(3 blocks) on a fresh heap of 2048 blocks (the multi-block fast path)", 0},
    {"alloc_contend", 48, 0, setup_alloc_contend, victim_alloc_contend,
     "rgc_alloc(3 blocks, FINALISER) into the hole the interrupt also takes", 0},
    {"free", 64, 0, setup_free, victim_free, "rgc_free of a 6-block finaliser object", 0},
    {"free_unref", 64, 0, setup_free, victim_free_unref,
     "rgc_free of a 6-block finaliser object whose only reference is the argument", 0},
    {"realloc_inplace", 64, 0, setup_realloc_inplace, victim_realloc_inplace,
     "rgc_realloc 2 -> 5 blocks in place, no move allowed", 0},
    {"realloc_move", 64, 0, setup_realloc_move, victim_realloc_move, "rgc_realloc 2 -> 5 blocks, moves", 0},
    {"realloc_unref", 64, 0, setup_realloc_move, victim_realloc_move_unref,
     "rgc_realloc 2 -> 5 blocks, moves, of an object whose only reference is the argument", 0},
    {"realloc_shrink", 64, 0, setup_realloc_shrink, victim_realloc_shrink, "rgc_realloc 6 -> 2 blocks", 0},
    {"realloc_grow", 64, 0, setup_realloc_inplace, victim_realloc_grow,
     "rgc_realloc 2 -> 5 blocks, free blocks follow, move allowed", 0},
    {"alloc_autocollect", 64, 1, setup_alloc_autocollect, victim_alloc_autocollect,
     "rgc_alloc(4 blocks) on a heap full of garbage: collects at level 0 inside the alloc", 0},
    {"write", 64, 0, setup_write, victim_write, "rgc_write of a root slot", 0},
    {"collect", 128, 1, setup_collect, victim_collect,
     "rgc_collect over lists, a 20-wide node (mark-stack overflow), a chain, garbage, finalisers", 0},
    /* step-wise collection (1): victims that step, start or finish; their interrupt bodies step, finish
     * and collect too (sweep.c bodies 4..8) */
    {"step_begin", 128, 1, setup_collect, victim_step,
     "rgc_collect_step(6) from idle: starts a collection over the collect graph", 1},
    {"step_mark", 128, 1, setup_step_mark, victim_step, "rgc_collect_step(6) of a collection paused while marking",
     1},
    {"step_sweep", 128, 1, setup_step_sweep, victim_step,
     "rgc_collect_step(6) of a collection paused while sweeping", 1},
    {"start", 128, 1, setup_start, victim_start,
     "rgc_collect_start (then roots and finish, not swept): the roots are open for level 0 only", 1},
    {"finish", 128, 1, setup_step_mark, victim_finish, "rgc_collect_finish of a collection paused while marking",
     1},
    /* victims that run while a collection is paused between steps, with the same bodies: a step from
     * above that ended the mark phase inside the victim's call left a block MARK outside a collection
     * (born colour, deferred free) or freed the value rgc_write had just swapped out before its shade;
     * since 88f05a4 such a request returns RGC_BUSY (checked by the bodies) */
    {"write_paused", 64, 1, setup_write_paused, victim_write_paused,
     "rgc_write dropping the only heap reference to an unscanned object while a collection is paused (marking)",
     1},
    {"alloc_paused", 64, 1, setup_alloc_paused, victim_alloc_fresh,
     "rgc_alloc(3 blocks) while a collection is paused (marking): born marked", 1},
    {"alloc_paused_sw", 64, 1, setup_alloc_paused_sweep, victim_alloc_fresh,
     "rgc_alloc(3 blocks) while a collection is paused (sweeping): born marked ahead of the sweeper", 1},
    {"alloc_run_paused", RUN_BLOCKS, 1, setup_alloc_paused, victim_alloc_fresh,
     "rgc_alloc(3 blocks, the multi-block fast path) while a collection is paused (marking)", 1},
    {"alloc_run_paused_sw", RUN_BLOCKS, 1, setup_alloc_paused_sweep, victim_alloc_fresh,
     "rgc_alloc(3 blocks, the multi-block fast path) while a collection is paused (sweeping)", 1},
    {"free_paused", 64, 1, setup_free_paused, victim_free,
     "rgc_free of a 6-block finaliser object while a collection is paused (marking): deferred", 1},
    /* rgc_realloc's fast path (growth inside the table word where the object ends) under a paused
     * collection: the object's new TAILs land while the collector marks or sweeps */
    {"realloc_grow_paused", 64, 1, setup_realloc_grow_paused, victim_realloc_grow,
     "rgc_realloc 2 -> 5 blocks, free blocks follow, while a collection is paused (marking)", 1},
    {"realloc_grow_paused_sw", 64, 1, setup_realloc_grow_paused_sweep, victim_realloc_grow,
     "rgc_realloc 2 -> 5 blocks, free blocks follow, while a collection is paused (sweeping)", 1},
    {"realloc_paused", 64, 1, setup_realloc_paused, victim_realloc_move,
     "rgc_realloc 2 -> 5 blocks, moves, while a collection is paused (marking)", 1},
};
const size_t g_nscenarios = sizeof g_scenarios / sizeof g_scenarios[0];

const scenario *find_scenario(const char *name)
{
    for (size_t i = 0; i < g_nscenarios; i++) {
        if (strcmp(g_scenarios[i].name, name) == 0) {
            return &g_scenarios[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------------ */
/* One run                                                                                             */
/* ------------------------------------------------------------------------------------------------ */
__attribute__((noinline)) static void run_setup(const scenario *sc)
{
    heap_init(sc->blocks);
    base_setup();
    sc->setup();
    if (g_extra_setup != NULL) {
        g_extra_setup();
    }
    /* The set-up is the same in every run of a scenario: checked in the uninjected runs (the victim's
     * phase starts on a wiped stack, so leaving the checks out does not change any injected run). */
    if (g_N == 0) {
        check_all("after setup");
        check_accounting("after setup");
    }
}

__attribute__((noinline)) static void run_victim(const scenario *sc)
{
    sc->victim();
    g_l1points = sweep_nested_points();
    if (g_N != 0 && !sweep_run_fired()) {
        fail("harness: injection point %llu not reached (victim had %llu points)", (unsigned long long)g_N,
             (unsigned long long)g_vpoints);
    }
    if (g_M != 0 && !sweep_run_fired2()) {
        fail("harness: nested injection point %llu not reached (the level-1 body had %llu points)",
             (unsigned long long)g_M, (unsigned long long)g_l1points);
    }
    if (sweep_mask_depth() != 0 || sweep_pending_now()) {
        fail("mask still held (depth %u) or interrupt pending (%d) after the victim returned",
             sweep_mask_depth(), sweep_pending_now());
    }
    if (rgc_busy_depth(&g_heap) != 0) {
        fail("rgc_busy_depth is %u at level 0 after the victim returned", rgc_busy_depth(&g_heap));
    }
    if (atomic_load(&core_of(&g_heap)->collector) != 0) {
        fail("a collection is still flagged running after the victim returned");
    }
    check_all("after victim");
    check_accounting("after victim");
    /* I3 (docs/design.md): what the interrupts dropped or freed while the collection was marking was
     * reachable at its start (or born during it): that collection must not have freed it. */
    check_snapshot_kept("after the victim");
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    g_st.retry_runs += st.claim_retries != 0;
    g_st.deferred_runs += st.deferred_frees != 0;
    if (st.misuse != 0) {
        fail("rgc_stats.misuse is %u after the victim (the test makes no bad calls)", st.misuse);
    }
}

/* Verbose diagnostics for a leak: what could still refer to p (in-progress slots, stack words). */
__attribute__((noinline)) static void diag_retention(const unsigned char *p)
{
    size_t blk = (size_t)(p - core_of(&g_heap)->areas[0].pool) / B;
    for (unsigned l = 0; l < RGC_MAX_LEVELS; l++) {
        for (unsigned d = 0; d < RGC_MAX_NEST; d++) {
            size_t v = atomic_load(&core_of(&g_heap)->in_progress[l][d]);
            if (v != 0) {
                printf("    in_progress[%u][%u] = 0x%zx (block %zu)%s\n", l, d, v, (v >> 1) - 1,
                       (v >> 1) - 1 == blk ? "  <== this object" : "");
            }
        }
    }
    printf("    state %u collector %u sweep_pos %zu sweep_done %zu hint %zu lock %u depth0 %u depth1 %u "
           "depth2 %u\n",
           atomic_load(&g_heap.state), atomic_load(&core_of(&g_heap)->collector), atomic_load(&core_of(&g_heap)->sweep_pos),
           atomic_load(&core_of(&g_heap)->sweep_done), atomic_load(&core_of(&g_heap)->hint), atomic_load(&core_of(&g_heap)->lock_depth),
           (unsigned)atomic_load(&core_of(&g_heap)->depth[0]), (unsigned)atomic_load(&core_of(&g_heap)->depth[1]),
           (unsigned)atomic_load(&core_of(&g_heap)->depth[2]));
    for (int s = 0; s < NROOT; s++) {
        if (g_roots[s] == p) {
            printf("    root slot %d refers to it\n", s);
        }
    }
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    for (uintptr_t a = here; a + sizeof(void *) <= sweep_stack_top(); a += sizeof(void *)) {
        if (*(const uintptr_t *)a == (uintptr_t)p) {
            printf("    stack word at frame+%lu refers to it\n", (unsigned long)(a - here));
        }
    }
}

/* After a collection victim, or when an interrupt dropped or freed something while a collection was
 * marking: one more quiescent collection. What was dropped or freed then is gone now; garbage at the
 * start of a collection victim is gone, each dead finaliser object finalised exactly once by then. */
__attribute__((noinline)) static void run_collect_followup(void)
{
    wipe_stack();
    int rc = rgc_collect(&g_heap);
    if (rc != RGC_OK) {
        fail("follow-up rgc_collect returned %d", rc);
    }
    check_all("after follow-up collection");
    check_accounting("after follow-up collection");
    compute_reach();
    for (int i = 0; i < g_nsnap_dropped; i++) {
        int id = g_snap_dropped[i].id;
        tobj *o = &g_obj[id];
        if (!g_reach[id] && rgc_size(&g_heap, o->p) != 0 && !addr_taken_by_other(o->p, o->aseq)) {
            fail("object #%d at %p dropped while collection #%u was marking survived the next collection too",
                 id, (void *)o->p, (unsigned)g_snap_dropped[i].epoch + 1u);
        }
    }
    for (int i = 0; i < g_nsnap_freed; i++) {
        int id = g_snap_freed[i].id;
        tobj *o = &g_obj[id];
        if (rgc_size(&g_heap, o->p) != 0 && !addr_taken_by_other(o->p, o->aseq)) {
            fail("object #%d at %p freed while collection #%u was marking is still allocated after the next "
                 "collection", id, (void *)o->p, (unsigned)g_snap_freed[i].epoch + 1u);
        }
    }
    for (int i = 0; i < g_ngarbage; i++) {
        int id = g_garbage[i];
        tobj *o = &g_obj[id];
        if (rgc_size(&g_heap, o->p) != 0 && !addr_taken_by_other(o->p, o->aseq)) {
            fail("garbage object #%d at %p survived the victim collection and one more", id, (void *)o->p);
            if (g_verbose) {
                dump_heap("garbage survived");
                diag_retention(o->p);
            }
        }
        if ((o->flags & RGC_FINALISER) && o->fin_count != 1) {
            fail("dead finaliser object #%d at %p finalised %d times after two collections", id,
                 (void *)o->p, o->fin_count);
        }
    }
}

__attribute__((noinline)) static void run_cleanup(void)
{
    for (int s = 0; s < NROOT; s++) {
        if (g_root_id[s] >= 0) {
            root_set(s, -1);
        }
    }
    /* Twice at level 0, then once at level 1 and at every level above that ran: a level's last call
     * leaves its in-progress slot published (stale, see ctx_leave) until its next call, which a
     * collection at that level is. (The nested sweep, whose cleanup has two collections above level 0
     * anyway, collects once at level 0.) */
    unsigned top = sweep_run_fired2() ? 2u : 1u, level0 = g_nested ? 1u : 2u;
    for (unsigned pass = 0; pass < level0 + top; pass++) {
        unsigned level = pass < level0 ? 0u : pass - level0 + 1u;
        wipe_stack();
        sweep_set_level(level);
        int rc = rgc_collect(&g_heap);
        sweep_set_level(0);
        if (rc != RGC_OK) {
            fail("cleanup rgc_collect #%u (level %u) returned %d", pass + 1, level, rc);
        }
    }
    if (rgc_check(&g_heap) != RGC_OK) {
        fail("cleanup: rgc_check reports corruption");
    }
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    if (st.used_bytes != 0 || st.objects != 0) {
        fail("leak: %zu bytes in %zu objects still used after dropping every root and collecting at "
             "level 0 and once at each interrupt level",
             st.used_bytes, st.objects);
        dump_heap("after cleanup");
        if (g_verbose) {
            for (int i = 0; i < g_naddr; i++) {
                size_t sz = rgc_size(&g_heap, g_addr[i]);
                if (sz != 0) {
                    int id = id_of_tag(*(uintptr_t *)(void *)g_addr[i]);
                    printf("  still allocated: %p (%zu bytes), tag says object #%d\n", (void *)g_addr[i], sz,
                           id);
                    diag_retention(g_addr[i]);
                }
            }
        }
    }
    if (st.misuse != 0) {
        fail("rgc_stats.misuse is %u after cleanup", st.misuse);
    }
    for (int id = 0; id < g_nobj; id++) {
        tobj *o = &g_obj[id];
        int want = ((o->flags & RGC_FINALISER) && !o->freed) ? 1 : 0;
        if (o->p != NULL && o->fin_count != want) {
            fail("finaliser of object #%d (%s%s) ran %d times, expected %d", id,
                 (o->flags & RGC_FINALISER) ? "finaliser" : "plain", o->freed ? ", freed explicitly" : "",
                 o->fin_count, want);
        }
    }
}

/* The collector scans the callee-saved registers too (rgc_port_scan_roots spills them). Functions that
 * do not use them leave whatever the driver's earlier calls (printf ...) put there; zero them before a
 * run so that the scanned words, and the victim's injection points, are the same in every run. The
 * clobbers make the compiler save and restore its own values around this. */
static inline __attribute__((always_inline)) void clear_callee_saved(void)
{
#if defined(__x86_64__)
    __asm__ volatile("xorl %%ebx, %%ebx\n\txorl %%r12d, %%r12d\n\txorl %%r13d, %%r13d\n\t"
                     "xorl %%r14d, %%r14d\n\txorl %%r15d, %%r15d"
                     :
                     :
                     : "rbx", "r12", "r13", "r14", "r15");
#elif defined(__aarch64__)
    __asm__ volatile("mov x19, xzr\n\tmov x20, xzr\n\tmov x21, xzr\n\tmov x22, xzr\n\tmov x23, xzr\n\t"
                     "mov x24, xzr\n\tmov x25, xzr\n\tmov x26, xzr\n\tmov x27, xzr\n\tmov x28, xzr"
                     :
                     :
                     : "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28");
#endif
}

/* One run's phases. Its frame is the top of the stack the collector scans (see sweep_stack_init) and
 * is created in memory run_one has just zeroed, so the scanned region holds the same words in every
 * run (uninitialised slots included). */
__attribute__((noinline)) static void run_phases(const scenario *sc)
{
    sweep_stack_init(__builtin_frame_address(0));
    run_setup(sc);
    if (g_run_fail == 0) {
        /* Each phase starts on a zeroed stack: its frames' uninitialised slots then hold no stale
         * pointers from the previous phase. */
        wipe_stack();
        run_victim(sc);
        if (g_observe_only) {
            return;
        }
        if (sc->is_collect || g_nsnap_dropped + g_nsnap_freed > 0) {
            wipe_stack();
            run_collect_followup();
        }
        wipe_stack();
        run_cleanup();
    }
}

__attribute__((noinline)) int run_one(const scenario *sc, uint64_t n, unsigned body, uint64_t m)
{
    g_sc = sc;
    g_N = n;
    g_body = body;
    g_M = m;
    g_run_fail = 0;
    g_first_fail[0] = 0;
    sweep_begin_run();
    sweep_arm_nested(m);
    wipe_stack();
    clear_callee_saved();
    run_phases(sc);
    if (g_run_fail != 0) {
        dump_heap("at end of failed run");
    }
    return g_run_fail;
}

/* ------------------------------------------------------------------------------------------------ */
/* Driver                                                                                              */
/* ------------------------------------------------------------------------------------------------ */
const char *g_argv0;
char g_repro[128];
uint64_t g_total_pass, g_total_fail;

static void on_runaway(uint64_t points)
{
    fprintf(stderr, "\nRUNAWAY: %llu points in one run of %s/%s (livelock?)\nreproduce: %s %s\n",
            (unsigned long long)points, SWEEP_VARIANT, g_sc ? g_sc->name : "?", g_argv0, g_repro);
    fflush(stderr);
}

static void on_crash(int sig)
{
    fprintf(stderr, "\nCRASH (signal %d) in %s/%s%s\nreproduce: %s %s\n", sig, SWEEP_VARIANT,
            g_sc ? g_sc->name : "?", sweep_in_irq() ? " inside an interrupt" : "", g_argv0, g_repro);
    fflush(stderr);
    signal(sig, SIG_DFL);
    raise(sig);
}

void driver_init(const char *argv0)
{
    g_argv0 = argv0;
    sweep_set_runaway(on_runaway, 200000000ull);
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGABRT, on_crash);
    signal(SIGILL, on_crash);
    signal(SIGFPE, on_crash);
    setvbuf(stdout, NULL, _IOLBF, 0);
}

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define MAXKINDS 16
static struct {
    char key[200];
    char first[600];
    char repro[128];
    uint64_t count;
} g_kinds[MAXKINDS];
static int g_nkinds;

void kinds_reset(void) { g_nkinds = 0; }

void kind_note(const char *repro_args)
{
    char key[200];
    size_t k = 0;
    for (const char *c = g_first_fail; *c != 0 && k + 1 < sizeof key; c++) {
        if (c[0] == '0' && c[1] == 'x') {
            c++;
            while (c[1] != 0 && ((c[1] >= '0' && c[1] <= '9') || (c[1] >= 'a' && c[1] <= 'f'))) {
                c++;
            }
            key[k++] = '#';
        } else if (*c >= '0' && *c <= '9') {
            while (c[1] >= '0' && c[1] <= '9') {
                c++;
            }
            key[k++] = '#';
        } else {
            key[k++] = *c;
        }
    }
    key[k] = 0;
    for (int i = 0; i < g_nkinds; i++) {
        if (strcmp(g_kinds[i].key, key) == 0) {
            g_kinds[i].count++;
            return;
        }
    }
    if (g_nkinds < MAXKINDS) {
        snprintf(g_kinds[g_nkinds].key, sizeof g_kinds[0].key, "%s", key);
        snprintf(g_kinds[g_nkinds].first, sizeof g_kinds[0].first, "%s", g_first_fail);
        snprintf(g_kinds[g_nkinds].repro, sizeof g_kinds[0].repro, "%s", repro_args);
        g_kinds[g_nkinds].count = 1;
        g_nkinds++;
    }
}

void kinds_print(void)
{
    for (int i = 0; i < g_nkinds; i++) {
        printf("         failure kind %d: %llu runs, first: %s\n           reproduce: %s %s\n", i + 1,
               (unsigned long long)g_kinds[i].count, g_kinds[i].first, g_argv0, g_kinds[i].repro);
    }
}

void stats_reset(void)
{
    struct sweep_stats z = {0};
    g_st = z;
    kinds_reset();
    sweep_reset_counters();
}

void stats_print(void)
{
    printf("         runs with claim retries (CAS conflict, rolled back) %llu, with deferred frees %llu, "
           "interrupts during marking %llu\n",
           (unsigned long long)g_st.retry_runs, (unsigned long long)g_st.deferred_runs,
           (unsigned long long)g_st.marking_irqs);
    if (g_st.null_victims || g_st.irq_nulls || g_st.irq_left || g_st.irq_deferred) {
        printf("         in-place realloc NULL %llu, justified irq NULL allocs %llu, irq frees left to the "
               "collector: %llu with no collection running, %llu during one\n",
               (unsigned long long)g_st.null_victims, (unsigned long long)g_st.irq_nulls,
               (unsigned long long)g_st.irq_left, (unsigned long long)g_st.irq_deferred);
    }
}
