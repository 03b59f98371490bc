/* sweep.c - systematic preemption sweep of rgc (DESIGN.md section 6, "Hazards").
 *
 * For each scenario (a level-0 "victim" operation on a heap rebuilt from scratch before every run):
 *   1. run it once without injection and count its injection points P;
 *   2. for every N in 1..P, rebuild the heap, run the victim and inject a simulated level-1 interrupt at
 *      point N (see sweep_port.c); the interrupt allocates, writes and drops pointers through rgc_write,
 *      frees, reallocs and collects, then checks the heap;
 *   3. after the victim returns, check its result, rgc_check, every canary and the exact block
 *      accounting, then drop everything, collect (twice at level 0, once at level 1) and require an
 *      empty heap and exactly-once finalisers.
 *
 * Usage: sweep_<variant> [scenario [N]]   (a single N runs verbosely: the reproduction command)
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rgc.h"
#include "rgc_port.h"
#include "sweep.h"

#ifndef SWEEP_VARIANT
#define SWEEP_VARIANT "cas"
#endif

#define B ((size_t)RGC_BLOCK_BYTES)
#define W (sizeof(void *))

/* Root table layout (one range registered with rgc_add_root). */
#define NROOT 64
#define R_LOW 0   /* 0..3: destinations of the interrupt's moves (scanned first, if scanned in order) */
#define R_L0 4    /* 4..39: level-0 objects */
#define R_IRQ 40  /* 40..47: the interrupt's own objects (some pre-existing) */
#define R_HIGH 56 /* 56..63: destinations of the interrupt's moves (scanned last) */

#define MAXOBJ 512
#define MAXSLOTS 24
#define MAXADDR 1024
#define MAXMOVE 8
#define MEM_MAX (64 * 1024)

/* ------------------------------------------------------------------------------------------------ */
/* Tracked objects: word 0 is a tag (odd: never looks like a block pointer), words 1..nslots are      */
/* pointer slots (shadowed by ids), the remaining words up to req are a canary derived from the id.    */
/* ------------------------------------------------------------------------------------------------ */
typedef struct {
    unsigned char *p;
    size_t req; /* bytes the test relies on (multiple of W) */
    unsigned nslots;
    unsigned flags;
    int owner;  /* 0 level 0, 1 the interrupt */
    int pinned; /* the victim operates on it: skipped by in-flight checks, never touched by the irq */
    int freed;  /* explicitly freed (no finaliser may run) */
    int fin_count;
    int slot[MAXSLOTS];
} tobj;

static rgc_heap g_heap;
static _Alignas(64) unsigned char g_mem[MEM_MAX];
static void *g_roots[NROOT];
static int g_root_id[NROOT];
static tobj g_obj[MAXOBJ];
static int g_nobj;
static unsigned char *g_addr[MAXADDR]; /* every address an allocation returned in this run */
static int g_naddr;
static unsigned char g_reach[MAXOBJ];

/* Per-run scenario data. */
static int g_move_roots[MAXMOVE], g_nmove_roots;
static int g_move_edges[MAXMOVE][2], g_nmove_edges;
static int g_drop_roots[MAXMOVE], g_ndrop_roots;
static int g_garbage[64], g_ngarbage;
static int g_P, g_Q, g_R; /* pre-existing objects owned by the interrupt */
static int g_V;           /* the victim's object (free/realloc scenarios) */
static int g_next_low, g_next_high;
static int g_a1, g_a2, g_a3; /* this run's interrupt allocations */

/* Run context. */
typedef struct scenario scenario;
static const scenario *g_sc;
static uint64_t g_N;          /* injection point of this run (0: none) */
static uint64_t g_vpoints;    /* points of this run's victim operation */
static int g_verbose;
static int g_run_fail;
static char g_first_fail[600];
static unsigned g_irq_collector; /* h->collector when the interrupt started */
static int g_irq_ran;

/* Scenario statistics. */
static uint64_t g_null_victims;   /* realloc without move that returned NULL (space taken by the irq) */
static uint64_t g_irq_nulls;      /* interrupt allocations that returned NULL (justified) */
static uint64_t g_irq_busy;       /* interrupt collections refused with RGC_BUSY */
static uint64_t g_irq_collected;  /* interrupt collections that ran */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_run_fail == 0) {
        snprintf(g_first_fail, sizeof g_first_fail, "%s%s", sweep_in_irq() ? "[in interrupt] " : "", msg);
    }
    g_run_fail++;
    if (g_verbose) {
        printf("  FAIL%s: %s\n", sweep_in_irq() ? " [in interrupt]" : "", msg);
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

/* Another tracked, not freed object (other than id) starts at p. */
static bool addr_taken_by_other(const void *p, int id)
{
    for (int i = 0; i < g_nobj; i++) {
        if (i != id && !g_obj[i].freed && g_obj[i].p == p) {
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
static int obj_new(size_t req, unsigned nslots, unsigned flags, int owner)
{
    if (g_nobj >= MAXOBJ) {
        fail("harness: object table full");
        return -1;
    }
    unsigned char *p = rgc_alloc(&g_heap, req, flags);
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

static void *ptr_of(int id) { return id >= 0 ? (void *)g_obj[id].p : NULL; }

static void root_set(int slot, int id)
{
    rgc_write(&g_heap, &g_roots[slot], ptr_of(id));
    g_root_id[slot] = id;
}

static void edge_set(int parent, unsigned k, int child)
{
    rgc_write(&g_heap, (void **)(void *)(g_obj[parent].p + W * (1 + k)), ptr_of(child));
    g_obj[parent].slot[k] = child;
}

static void compute_reach(void)
{
    static int stack[MAXOBJ * MAXSLOTS + NROOT];
    int sp = 0;
    memset(g_reach, 0, sizeof g_reach);
    for (int s = 0; s < NROOT; s++) {
        int id = g_root_id[s];
        if (id >= 0 && !g_reach[id]) {
            g_reach[id] = 1;
            stack[sp++] = id;
        }
    }
    while (sp > 0) {
        int id = stack[--sp];
        for (unsigned k = 0; k < g_obj[id].nslots; k++) {
            int c = g_obj[id].slot[k];
            if (c >= 0 && !g_reach[c]) {
                g_reach[c] = 1;
                stack[sp++] = c;
            }
        }
    }
}

static int verify_obj(int id, const char *where)
{
    tobj *o = &g_obj[id];
    size_t sz = rgc_size(&g_heap, o->p);
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
        if ((void *)w[1 + k] != ptr_of(o->slot[k])) {
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

static int cmp_ptr_id(const void *a, const void *b)
{
    const unsigned char *pa = g_obj[*(const int *)a].p, *pb = g_obj[*(const int *)b].p;
    return pa < pb ? -1 : pa > pb ? 1 : 0;
}

/* rgc_check, every reachable object intact, no overlap, sane stats. Exact at the highest level. */
static void check_all(const char *where)
{
    static int live[MAXOBJ];
    int n = 0;
    if (rgc_check(&g_heap) != RGC_OK) {
        fail("%s: rgc_check reports corruption", where);
    }
    for (int s = 0; s < NROOT; s++) {
        if (g_roots[s] != ptr_of(g_root_id[s])) {
            fail("%s: root slot %d is %p, expected %p", where, s, g_roots[s], ptr_of(g_root_id[s]));
        }
    }
    compute_reach();
    for (int id = 0; id < g_nobj; id++) {
        if (g_reach[id] && !g_obj[id].pinned) {
            if (verify_obj(id, where)) {
                live[n++] = id;
            }
        }
    }
    qsort(live, (size_t)n, sizeof live[0], cmp_ptr_id);
    for (int i = 1; i < n; i++) {
        tobj *a = &g_obj[live[i - 1]], *b = &g_obj[live[i]];
        if (a->p + rgc_size(&g_heap, a->p) > b->p) {
            fail("%s: objects #%d at %p (+%zu) and #%d at %p overlap", where, live[i - 1], (void *)a->p,
                 rgc_size(&g_heap, a->p), live[i], (void *)b->p);
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
        fail("finaliser called for object #%d at %p while the victim operates on it", id, obj);
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
__attribute__((noinline)) static void wipe_stack(void)
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
/* The simulated interrupt (level 1)                                                                  */
/* ------------------------------------------------------------------------------------------------ */
static int irq_alloc(size_t req, unsigned nslots, unsigned flags)
{
    int id = obj_new(req, nslots, flags, 1);
    if (id < 0) {
        rgc_stats st;
        rgc_get_stats(&g_heap, &st);
        if (st.largest_free_bytes >= req) {
            fail("interrupt rgc_alloc(%zu) returned NULL with a free run of %zu bytes", req,
                 st.largest_free_bytes);
        }
        g_irq_nulls++;
    }
    return id;
}

static void irq_alloc_burst(void)
{
    g_a1 = irq_alloc(B, 2, 0);
    if (g_a1 >= 0) {
        root_set(R_IRQ + 0, g_a1);
    }
    g_a2 = irq_alloc(3 * B, 1, RGC_FINALISER);
    if (g_a2 >= 0) {
        root_set(R_IRQ + 1, g_a2);
    }
    g_a3 = irq_alloc(4 * B + W, 3, 0);
    if (g_a3 >= 0) {
        root_set(R_IRQ + 2, g_a3);
        if (g_a1 >= 0) {
            edge_set(g_a1, 0, g_a3);
        }
    }
    if (g_a2 >= 0) {
        /* a new (black) object referring to an old one */
        compute_reach();
        for (int id = 0; id < g_nobj; id++) {
            if (g_reach[id] && g_obj[id].owner == 0 && !g_obj[id].pinned) {
                edge_set(g_a2, 0, id);
                break;
            }
        }
    }
}

static int next_move_dest(unsigned i)
{
    if ((i + g_N) % 2 == 0 && g_next_low < R_L0) {
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

/* Snapshot-barrier work: copy pointers into other slots, then overwrite the originals; drop some. */
static void irq_moves(void)
{
    unsigned i = 0;
    for (int m = 0; m < g_nmove_roots; m++, i++) {
        int s = g_move_roots[m];
        int id = g_root_id[s];
        if (id < 0 || g_obj[id].pinned) {
            continue;
        }
        int d = next_move_dest(i);
        if (d < 0) {
            break;
        }
        root_set(d, id);
        compute_reach();
        root_set(s, (m == 0 && g_a1 >= 0 && g_reach[g_a1]) ? g_a1 : -1);
    }
    for (int m = 0; m < g_nmove_edges; m++, i++) {
        int parent = g_move_edges[m][0];
        unsigned k = (unsigned)g_move_edges[m][1];
        compute_reach();
        if (!g_reach[parent] || g_obj[parent].pinned) {
            continue;
        }
        int child = g_obj[parent].slot[k];
        if (child < 0) {
            continue;
        }
        if ((m + g_N) % 2 == 0 && g_a1 >= 0 && g_reach[g_a1] && g_obj[g_a1].slot[1] < 0) {
            edge_set(g_a1, 1, child); /* into a heap slot of a new object */
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
        if (g_root_id[s] >= 0 && !g_obj[g_root_id[s]].pinned) {
            root_set(s, -1);
        }
    }
}

static void irq_free_one(int id)
{
    unsigned char *p = g_obj[id].p;
    rgc_stats before, after;
    rgc_get_stats(&g_heap, &before);
    g_obj[id].freed = 1;
    rgc_free(&g_heap, p);
    rgc_get_stats(&g_heap, &after);
    if (after.misuse != before.misuse) {
        fail("interrupt rgc_free of live object #%d at %p counted as misuse", id, (void *)p);
    }
    if (g_irq_collector == 0 && rgc_size(&g_heap, p) != 0) {
        fail("interrupt rgc_free of object #%d at %p: still allocated though no collection runs", id,
             (void *)p);
    }
}

static void irq_free_own(void)
{
    /* a finaliser object freed explicitly at once: its finaliser must never run */
    int t = irq_alloc(2 * B, 0, RGC_FINALISER);
    if (t >= 0) {
        irq_free_one(t);
    }
    /* a pre-existing object: keep its child via another slot, then unroot and free it */
    if (g_P >= 0 && g_root_id[R_IRQ + 4] == g_P && !g_obj[g_P].freed) {
        int q = g_obj[g_P].slot[0];
        if (q >= 0) {
            root_set(R_IRQ + 5, q);
        }
        root_set(R_IRQ + 4, -1);
        irq_free_one(g_P);
    }
    /* one of this interrupt's own new objects */
    if (g_a2 >= 0 && g_root_id[R_IRQ + 1] == g_a2) {
        root_set(R_IRQ + 1, -1);
        irq_free_one(g_a2);
    }
}

static void irq_realloc(void)
{
    int r = g_R;
    if (r < 0 || g_root_id[R_IRQ + 6] != r) {
        return;
    }
    unsigned char *old = g_obj[r].p;
    size_t grow = 6 * B;
    unsigned char *np = rgc_realloc(&g_heap, old, grow, true);
    if (np == NULL) {
        rgc_stats st;
        rgc_get_stats(&g_heap, &st);
        if (st.largest_free_bytes >= grow) {
            fail("interrupt rgc_realloc(%p, %zu, move) returned NULL with a free run of %zu bytes",
                 (void *)old, grow, st.largest_free_bytes);
        }
        g_irq_nulls++;
        verify_obj(r, "interrupt realloc NULL");
        return;
    }
    addr_note(np);
    g_obj[r].p = np;
    verify_obj(r, "interrupt realloc grow (old contents)");
    if (rgc_size(&g_heap, np) < grow) {
        fail("interrupt realloc grow: rgc_size %zu < %zu", rgc_size(&g_heap, np), grow);
    }
    if (np != old && g_irq_collector == 0 && rgc_size(&g_heap, old) != 0 &&
        !addr_taken_by_other(old, r)) {
        fail("interrupt realloc moved %p to %p but the old copy is still allocated", (void *)old,
             (void *)np);
    }
    root_set(R_IRQ + 6, r);
    size_t oldreq = g_obj[r].req;
    g_obj[r].req = grow;
    fill_canary(r, oldreq / W);
    /* shrink in place */
    size_t shrink = B;
    unsigned char *sp = rgc_realloc(&g_heap, np, shrink, true);
    if (sp != np) {
        fail("interrupt realloc shrink of %p to %zu returned %p (expected in place)", (void *)np, shrink,
             (void *)sp);
        if (sp == NULL) {
            return;
        }
        addr_note(sp);
        g_obj[r].p = sp;
        root_set(R_IRQ + 6, r);
    }
    g_obj[r].req = shrink;
    verify_obj(r, "interrupt realloc shrink");
}

static void irq_collect(void)
{
    int rc = rgc_collect(&g_heap);
    if (g_irq_collector != 0) {
        if (rc != RGC_BUSY) {
            fail("interrupt rgc_collect returned %d while a collection was suspended (expected RGC_BUSY)", rc);
        } else {
            g_irq_busy++;
        }
    } else {
        if (rc != RGC_OK) {
            fail("interrupt rgc_collect returned %d with no collection running (expected RGC_OK)", rc);
        } else {
            g_irq_collected++;
        }
    }
}

static int g_sc_is_collect;

static void irq_body(void)
{
    g_irq_ran = 1;
    g_irq_collector = atomic_load(&g_heap.collector);
    if (!g_sc_is_collect && g_irq_collector != 0) {
        fail("interrupt found a collection running (collector %u) though the victim is not one",
             g_irq_collector);
    }
    if (rgc_busy_depth(&g_heap) != 0) {
        fail("rgc_busy_depth is %u at level 1 outside any rgc call", rgc_busy_depth(&g_heap));
    }
    check_all("interrupt entry");
    switch (g_N % 4) {
    case 0:
        irq_alloc_burst();
        irq_moves();
        irq_free_own();
        irq_realloc();
        irq_collect();
        break;
    case 1:
        irq_collect();
        irq_alloc_burst();
        irq_moves();
        irq_realloc();
        irq_free_own();
        break;
    case 2:
        irq_moves();
        irq_free_own();
        irq_alloc_burst();
        irq_realloc();
        irq_collect();
        break;
    default:
        irq_realloc();
        irq_alloc_burst();
        irq_collect();
        irq_moves();
        irq_free_own();
        irq_collect();
        break;
    }
    check_all("interrupt exit");
    if (rgc_busy_depth(&g_heap) != 0) {
        fail("rgc_busy_depth is %u at level 1 after the interrupt's rgc calls", rgc_busy_depth(&g_heap));
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
    g_P = g_Q = g_R = g_V = -1;
    g_a1 = g_a2 = g_a3 = -1;
    g_next_low = R_LOW;
    g_next_high = R_HIGH;
    g_irq_ran = 0;
    g_irq_collector = 0;
}

static int must_new(size_t req, unsigned nslots, unsigned flags, int owner)
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

static void add_move_root(int s) { g_move_roots[g_nmove_roots++] = s; }
static void add_move_edge(int parent, int k)
{
    g_move_edges[g_nmove_edges][0] = parent;
    g_move_edges[g_nmove_edges][1] = k;
    g_nmove_edges++;
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
    g_P = must_new(B, 1, 0, 1);
    g_Q = must_new(B, 0, 0, 1);
    edge_set(g_P, 0, g_Q);
    root_set(R_IRQ + 4, g_P);
    g_R = must_new(2 * B, 0, 0, 1);
    root_set(R_IRQ + 6, g_R);
    add_move_root(R_L0 + 0);
    add_move_root(R_L0 + 1);
    add_move_edge(m, 0);
    g_drop_roots[g_ndrop_roots++] = R_L0 + 2;
}

/* ------------------------------------------------------------------------------------------------ */
/* Scenarios                                                                                           */
/* ------------------------------------------------------------------------------------------------ */
struct scenario {
    const char *name;
    size_t blocks;
    int is_collect;
    void (*setup)(void);
    void (*victim)(void);
    const char *what;
};

#define VROOT (R_L0 + 8) /* root slot for the victim's object */

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

/* S2: alloc on a fragmented heap: 20 one-block holes between live blocks, the fit is past them. */
static void setup_alloc_frag(void)
{
    int ids[40];
    for (int i = 0; i < 40; i++) {
        ids[i] = must_new(B, 1, 0, 0);
    }
    for (int i = 0; i + 2 < 40; i += 2) {
        edge_set(ids[i], 0, ids[i + 2]);
    }
    root_set(R_L0 + 5, ids[0]);
    for (int i = 1; i < 40; i += 2) {
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
static void victim_free(void)
{
    int id = g_V;
    unsigned char *p = g_obj[id].p;
    root_set(VROOT, -1);
    g_obj[id].freed = 1;
    g_obj[id].pinned = 1;
    rgc_stats before, after;
    rgc_get_stats(&g_heap, &before);
    wipe_stack();
    sweep_arm(g_N);
    rgc_free(&g_heap, p);
    g_vpoints = sweep_disarm();
    g_obj[id].pinned = 0;
    rgc_get_stats(&g_heap, &after);
    if (after.misuse != before.misuse) {
        fail("victim rgc_free(%p) counted as misuse", (void *)p);
    }
    if (rgc_size(&g_heap, p) != 0 && !addr_taken_by_other(p, id)) {
        fail("victim rgc_free(%p): object still allocated (rgc_size %zu)", (void *)p, rgc_size(&g_heap, p));
    }
}

/* S5: realloc grow in place (no move allowed): free blocks follow the object. */
static void setup_realloc_inplace(void)
{
    g_V = must_new(2 * B, 1, RGC_FINALISER, 0);
    edge_set(g_V, 0, g_root_id[R_L0 + 0]);
    root_set(VROOT, g_V);
}

static void victim_realloc_common(size_t n, bool allow_move, int expect)
{
    /* expect: 0 grow in place, 1 grow by moving, 2 shrink in place */
    int id = g_V;
    unsigned char *p = g_obj[id].p;
    size_t oldsize = rgc_size(&g_heap, p);
    g_obj[id].pinned = 1;
    wipe_stack();
    sweep_arm(g_N);
    unsigned char *r = rgc_realloc(&g_heap, p, n, allow_move);
    g_vpoints = sweep_disarm();
    g_obj[id].pinned = 0;
    if (r == NULL) {
        if (expect != 0 || g_N == 0) {
            fail("victim rgc_realloc(%p, %zu, %d) returned NULL", (void *)p, n, (int)allow_move);
        } else {
            g_null_victims++;
        }
        verify_obj(id, "victim realloc NULL: object untouched");
        if (rgc_size(&g_heap, p) != oldsize) {
            fail("victim rgc_realloc returned NULL but the size changed %zu -> %zu", oldsize,
                 rgc_size(&g_heap, p));
        }
        return;
    }
    addr_note(r);
    if (r != p && (expect != 1)) {
        fail("victim rgc_realloc(%p, %zu, %d) moved the object to %p (expected in place)", (void *)p, n,
             (int)allow_move, (void *)r);
    }
    if (expect == 1 && g_N == 0 && r == p) {
        fail("harness: realloc_move scenario grew in place");
    }
    size_t sz = rgc_size(&g_heap, r);
    size_t want = (n + B - 1) / B * B;
    if (expect == 2 ? sz != want : sz < n) {
        fail("victim rgc_realloc(%p, %zu) = %p has rgc_size %zu (expected %s%zu)", (void *)p, n, (void *)r, sz,
             expect == 2 ? "" : ">= ", expect == 2 ? want : n);
    }
    g_obj[id].p = r;
    if (n < g_obj[id].req) {
        g_obj[id].req = n;
    }
    verify_obj(id, "victim realloc: contents preserved");
    if (r != p && rgc_size(&g_heap, p) != 0 && !addr_taken_by_other(p, id)) {
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

static void victim_realloc_inplace(void) { victim_realloc_common(5 * B, false, 0); }

/* S6: realloc grow by moving: a live object follows. The object has a finaliser (kept on move). */
static void setup_realloc_move(void)
{
    g_V = must_new(2 * B, 1, RGC_FINALISER, 0);
    edge_set(g_V, 0, g_root_id[R_L0 + 0]);
    int y = must_new(B, 0, 0, 0);
    root_set(VROOT, g_V);
    root_set(VROOT + 1, y);
}
static void victim_realloc_move(void) { victim_realloc_common(5 * B, true, 1); }

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
static void victim_realloc_shrink(void) { victim_realloc_common(2 * B, true, 2); }

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

static const scenario g_scenarios[] = {
    {"alloc_fresh", 64, 0, setup_alloc_fresh, victim_alloc_fresh, "rgc_alloc(3 blocks) on a fresh heap"},
    {"alloc_frag", 112, 0, setup_alloc_frag, victim_alloc_frag, "rgc_alloc(2 blocks) past 20 one-block holes"},
    {"alloc_contend", 48, 0, setup_alloc_contend, victim_alloc_contend,
     "rgc_alloc(3 blocks, FINALISER) into the hole the interrupt also takes"},
    {"free", 64, 0, setup_free, victim_free, "rgc_free of a 6-block finaliser object"},
    {"realloc_inplace", 64, 0, setup_realloc_inplace, victim_realloc_inplace,
     "rgc_realloc 2 -> 5 blocks in place, no move allowed"},
    {"realloc_move", 64, 0, setup_realloc_move, victim_realloc_move, "rgc_realloc 2 -> 5 blocks, moves"},
    {"realloc_shrink", 64, 0, setup_realloc_shrink, victim_realloc_shrink, "rgc_realloc 6 -> 2 blocks"},
    {"collect", 128, 1, setup_collect, victim_collect,
     "rgc_collect over lists, a 20-wide node, garbage, finalisers (mark stack depth " "4)"},
};
#define NSCEN (sizeof g_scenarios / sizeof g_scenarios[0])

/* ------------------------------------------------------------------------------------------------ */
/* One run                                                                                             */
/* ------------------------------------------------------------------------------------------------ */
__attribute__((noinline)) static void run_setup(const scenario *sc)
{
    heap_init(sc->blocks);
    base_setup();
    sc->setup();
    check_all("after setup");
    check_accounting("after setup");
}

__attribute__((noinline)) static void run_victim(const scenario *sc)
{
    sc->victim();
    if (g_N != 0 && !sweep_run_fired()) {
        fail("harness: injection point %llu not reached (victim had %llu points)", (unsigned long long)g_N,
             (unsigned long long)g_vpoints);
    }
    if (sweep_mask_depth() != 0 || sweep_pending_now()) {
        fail("mask still held (depth %u) or interrupt pending (%d) after the victim returned",
             sweep_mask_depth(), sweep_pending_now());
    }
    if (rgc_busy_depth(&g_heap) != 0) {
        fail("rgc_busy_depth is %u at level 0 after the victim returned", rgc_busy_depth(&g_heap));
    }
    if (atomic_load(&g_heap.collector) != 0) {
        fail("a collection is still flagged running after the victim returned");
    }
    check_all("after victim");
    check_accounting("after victim");
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    if (st.misuse != 0) {
        fail("rgc_stats.misuse is %u after the victim (the test makes no bad calls)", st.misuse);
    }
}

/* Collection scenario: garbage at the victim's start must be gone after one more quiescent collection,
 * each dead finaliser object finalised exactly once by then. */
__attribute__((noinline)) static void run_collect_followup(void)
{
    wipe_stack();
    int rc = rgc_collect(&g_heap);
    if (rc != RGC_OK) {
        fail("follow-up rgc_collect returned %d", rc);
    }
    check_all("after follow-up collection");
    check_accounting("after follow-up collection");
    for (int i = 0; i < g_ngarbage; i++) {
        int id = g_garbage[i];
        tobj *o = &g_obj[id];
        if (rgc_size(&g_heap, o->p) != 0 && !addr_taken_by_other(o->p, id)) {
            fail("garbage object #%d at %p survived the victim collection and one more", id, (void *)o->p);
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
    for (int pass = 0; pass < 3; pass++) {
        wipe_stack();
        sweep_set_level(pass == 2 ? 1u : 0u);
        int rc = rgc_collect(&g_heap);
        sweep_set_level(0);
        if (rc != RGC_OK) {
            fail("cleanup rgc_collect #%d (level %d) returned %d", pass + 1, pass == 2, rc);
        }
    }
    if (rgc_check(&g_heap) != RGC_OK) {
        fail("cleanup: rgc_check reports corruption");
    }
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    if (st.used_bytes != 0 || st.objects != 0) {
        fail("leak: %zu bytes in %zu objects still used after dropping every root and collecting twice "
             "at level 0 and once at level 1",
             st.used_bytes, st.objects);
        dump_heap("after cleanup");
        if (g_verbose) {
            for (int i = 0; i < g_naddr; i++) {
                size_t sz = rgc_size(&g_heap, g_addr[i]);
                if (sz != 0) {
                    int id = id_of_tag(*(uintptr_t *)(void *)g_addr[i]);
                    printf("  still allocated: %p (%zu bytes), tag says object #%d\n", (void *)g_addr[i], sz,
                           id);
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

static int run_one(const scenario *sc, uint64_t n)
{
    g_sc = sc;
    g_N = n;
    g_run_fail = 0;
    g_first_fail[0] = 0;
    g_sc_is_collect = sc->is_collect;
    sweep_begin_run();
    run_setup(sc);
    if (g_run_fail == 0) {
        run_victim(sc);
        if (sc->is_collect) {
            run_collect_followup();
        }
        run_cleanup();
    }
    if (g_run_fail != 0) {
        dump_heap("at end of failed run");
    }
    return g_run_fail;
}

/* ------------------------------------------------------------------------------------------------ */
/* Driver                                                                                              */
/* ------------------------------------------------------------------------------------------------ */
static const char *g_argv0;

static void on_runaway(uint64_t points)
{
    fprintf(stderr, "\nRUNAWAY: %llu points in one run of %s/%s at N=%llu (livelock?)\nreproduce: %s %s %llu\n",
            (unsigned long long)points, SWEEP_VARIANT, g_sc ? g_sc->name : "?", (unsigned long long)g_N,
            g_argv0, g_sc ? g_sc->name : "?", (unsigned long long)g_N);
    fflush(stderr);
}

static void on_crash(int sig)
{
    fprintf(stderr, "\nCRASH (signal %d) in %s/%s at N=%llu%s\nreproduce: %s %s %llu\n", sig, SWEEP_VARIANT,
            g_sc ? g_sc->name : "?", (unsigned long long)g_N, sweep_in_irq() ? " inside the interrupt" : "",
            g_argv0, g_sc ? g_sc->name : "?", (unsigned long long)g_N);
    fflush(stderr);
    signal(sig, SIG_DFL);
    raise(sig);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t g_total_pass, g_total_fail;

static void sweep_scenario(const scenario *sc, uint64_t only)
{
    double t0 = now_s();
    g_null_victims = g_irq_nulls = g_irq_busy = g_irq_collected = 0;
    sweep_reset_counters();
    /* count the victim's points */
    int f0 = run_one(sc, 0);
    uint64_t points = g_vpoints;
    rgc_stats st;
    rgc_get_stats(&g_heap, &st);
    if (f0 != 0) {
        printf("FAIL %s/%s uninjected run: %s\n", SWEEP_VARIANT, sc->name, g_first_fail);
        g_total_fail++;
        return;
    }
    uint64_t lo = 1, hi = points, failed = 0, shown = 0, pend_runs = 0, done = 0;
    if (only != 0) {
        lo = hi = only;
        g_verbose = 1;
        printf("%s/%s: victim has %llu points; running N=%llu (interrupt body %llu)\n", SWEEP_VARIANT, sc->name,
               (unsigned long long)points, (unsigned long long)only, (unsigned long long)(only % 4));
    }
    for (uint64_t n = lo; n <= hi; n++) {
        int f = run_one(sc, n);
        done++;
        pend_runs += (uint64_t)sweep_run_pending();
        if (f != 0) {
            failed++;
            if (shown < 8 || only != 0) {
                shown++;
                printf("FAIL %s/%s N=%llu (interrupt body %llu%s): %s%s\n     reproduce: %s %s %llu\n",
                       SWEEP_VARIANT, sc->name, (unsigned long long)n, (unsigned long long)(n % 4),
                       sweep_run_pending() ? ", ran at unmask" : "", g_first_fail,
                       f > 1 ? " (and more)" : "", g_argv0, sc->name, (unsigned long long)n);
            }
        }
    }
    struct sweep_counters c;
    sweep_get_counters(&c);
    double dt = now_s() - t0;
    printf("[%s] %-16s %4zu blocks: %6llu points swept, %6llu injections (%llu pending at mask), "
           "irq collect ran %llu / busy %llu, max masked window %llu points, %.2f s: %s (%llu failed)\n",
           SWEEP_VARIANT, sc->name, st.blocks, (unsigned long long)done, (unsigned long long)c.fired,
           (unsigned long long)c.pending, (unsigned long long)g_irq_collected, (unsigned long long)g_irq_busy,
           (unsigned long long)c.max_masked, dt, failed ? "FAIL" : "ok", (unsigned long long)failed);
    if (g_null_victims || g_irq_nulls) {
        printf("         realloc-in-place NULL results %llu, justified interrupt NULL allocations %llu\n",
               (unsigned long long)g_null_victims, (unsigned long long)g_irq_nulls);
    }
    if (c.port_errors) {
        printf("FAIL %s/%s: %llu unbalanced rgc_port_unmask calls\n", SWEEP_VARIANT, sc->name,
               (unsigned long long)c.port_errors);
        failed++;
    }
    (void)pend_runs;
    g_total_fail += failed;
    g_total_pass += done - (failed > done ? done : failed);
}

int main(int argc, char **argv)
{
    sweep_stack_init(__builtin_frame_address(0));
    g_argv0 = argv[0];
    sweep_set_irq(irq_body);
    sweep_set_runaway(on_runaway, 200000000ull);
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGABRT, on_crash);
    signal(SIGILL, on_crash);
    signal(SIGFPE, on_crash);
    setvbuf(stdout, NULL, _IOLBF, 0);

    const char *only_sc = argc > 1 ? argv[1] : NULL;
    uint64_t only_n = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
    printf("rgc preemption sweep, variant %s (RGC_ATOMICS_VIA_MASK=%d, RGC_MARK_STACK_DEPTH=%d, block %zu)\n",
           SWEEP_VARIANT, RGC_ATOMICS_VIA_MASK, RGC_MARK_STACK_DEPTH, B);
    int matched = 0;
    for (size_t i = 0; i < NSCEN; i++) {
        if (only_sc != NULL && strcmp(only_sc, g_scenarios[i].name) != 0) {
            continue;
        }
        matched = 1;
        sweep_scenario(&g_scenarios[i], only_n);
    }
    if (!matched) {
        fprintf(stderr, "unknown scenario %s; scenarios:", only_sc);
        for (size_t i = 0; i < NSCEN; i++) {
            fprintf(stderr, " %s", g_scenarios[i].name);
        }
        fprintf(stderr, "\n");
        return 2;
    }
    printf("%llu passed, %llu failed\n", (unsigned long long)g_total_pass, (unsigned long long)g_total_fail);
    return g_total_fail != 0 ? 1 : 0;
}
