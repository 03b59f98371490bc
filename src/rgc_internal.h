/* rgc_internal.h - the block layout, the table primitives and the per-context bookkeeping shared by
 * the core's sources. Nothing here is public.
 *
 * Each memory area (rgc_init's, then rgc_add_area's) is carved as
 *
 *     [ ATB: 2 bits/block ][ FTB: 1 bit/block ][ free map: 1 bit/64 blocks ][ pad ][ pool ]
 *
 * Blocks are named by a global index: area a's block k is a->first + k, where a->first is a multiple
 * of 64, so an ATB byte, an FTB byte and a free-map bit always belong to one area. Indices between
 * areas name no block. Objects never span areas.
 *
 * ATB (allocation table) byte k describes blocks 4k..4k+3, block b in bits 2*(b%4)..2*(b%4)+1:
 *   FREE (0)  the block is unused
 *   HEAD (1)  first block of an object
 *   TAIL (2)  further block of the object whose HEAD precedes it
 *   MARK (3)  a HEAD the running collection has marked (reachable or born during it)
 * An object is a run HEAD TAIL*. I1 (docs/design.md) - a TAIL never follows a FREE - holds at every instant:
 * runs are claimed HEAD first then TAILs in order, and released TAILs last-first, HEAD last.
 *
 * Free map bit g of an area: its blocks 64g..64g+63 may hold a FREE block. Invariant: a group with a
 * FREE block has its bit set (a set bit over a full group only costs a look). Every release sets the
 * bit after freeing the blocks; a search that finds a group full clears the bit, then looks at the
 * group again and sets the bit back if a block was freed meanwhile - so no release is ever hidden.
 * Searches skip groups whose bit is clear: a full heap region costs one bit per 64 blocks.
 *
 * FTB (finaliser table) bit b: the object whose HEAD is block b has a finaliser. It is set only while
 * the block is HEAD/MARK (set after the claim, cleared before the release).
 *
 * Every change to a table byte is one atomic step (compare-and-swap, fetch-or, fetch-and) so that
 * several blocks' owners can change the same byte from different levels. With RGC_ATOMICS_VIA_MASK the
 * step is a read-modify-write inside the port's mask: a window of constant length.
 */
#ifndef RGC_INTERNAL_H
#define RGC_INTERNAL_H

#include "rgc.h"
#include "rgc_port.h"

#define RGC_MAGIC 0x72676331u /* "rgc1" */

/* Internal invariants, checked with RGC_DEBUG=1 (tests; o1heap's habit): a failed one stops the program
 * at once (__builtin_trap: the core has no stdio), where a debugger or the sanitizers show it.
 * Without RGC_DEBUG the condition is not evaluated. */
#if RGC_DEBUG
#define RGC_ASSERT(cond)                                                                          \
    do {                                                                                          \
        if (!(cond))                                                                              \
            __builtin_trap();                                                                     \
    } while (0)
#else
#define RGC_ASSERT(cond) ((void)0)
#endif
#define RGC_NONE ((size_t)-1)
#define RGC_BS ((size_t)RGC_BLOCK_BYTES)
#define RGC_WORDS_PER_BLOCK (RGC_BS / sizeof(void *))

_Static_assert((RGC_BLOCK_BYTES & (RGC_BLOCK_BYTES - 1)) == 0, "RGC_BLOCK_BYTES must be a power of 2");
_Static_assert(RGC_BLOCK_BYTES % sizeof(void *) == 0, "RGC_BLOCK_BYTES must hold whole pointers");
_Static_assert(RGC_MAX_LEVELS >= 1 && RGC_MAX_LEVELS <= 255, "RGC_MAX_LEVELS out of range");
_Static_assert(RGC_MAX_NEST >= 2 && RGC_MAX_NEST <= 255, "RGC_MAX_NEST out of range");
_Static_assert(RGC_MARK_STACK_DEPTH >= 1, "RGC_MARK_STACK_DEPTH must be positive");
_Static_assert(sizeof(_Atomic(void *)) == sizeof(void *), "atomic pointers must be plain pointers");

enum { AT_FREE = 0u, AT_HEAD = 1u, AT_TAIL = 2u, AT_MARK = 3u };

#define ATB_INDEX(b) ((b) >> 2)
#define ATB_SHIFT(b) ((unsigned)(((b)&3u) << 1))
#define ATB_GET(byte, b) (((unsigned)(byte) >> ATB_SHIFT(b)) & 3u)
#define ATB_BITS(state, b) ((uint8_t)((unsigned)(state) << ATB_SHIFT(b)))
#define FTB_INDEX(b) ((b) >> 3)
#define FTB_BIT(b) ((uint8_t)(1u << ((b)&7u)))

/* h->state: collection phase in the low bits, plus a rescan request set by anyone who marks a block
 * without pushing it (the barrier, deferred frees, mark-stack overflow). The collector leaves MARK for
 * SWEEP with one compare-and-swap from exactly PHASE_MARK, so a request can never be lost. */
enum { PHASE_IDLE = 0u, PHASE_MARK = 1u, PHASE_SWEEP = 2u, PHASE_BITS = 3u, STATE_RESCAN = 4u };
_Static_assert(PHASE_IDLE == 0u && PHASE_MARK == 1u && PHASE_BITS == 3u,
               "rgc_marking and rgc_collecting (rgc.h) read the phase this way");

/* In-progress slots (docs/design.md section 4, I7): each context publishes the block it is working on
 * before touching it.
 * The collector treats every published block as a root; operations that modify an existing object
 * refuse an object another suspended context is modifying. Encoding: (1 + block) << 1 | kind. */
enum { SLOT_OP = 0u, SLOT_CLAIM = 1u };
#define SLOT_VALUE(b, kind) ((((size_t)(b) + 1u) << 1) | (kind))
#define SLOT_BLOCK(v) (((v) >> 1) - 1u)

/* ---- atomic primitives ---------------------------------------------------------------------- */

#if RGC_ATOMICS_VIA_MASK && !RGC_SINGLE_CONTEXT
typedef struct {
    rgc_mask_state saved;
    uint32_t t0;
} rgc_window;

static inline rgc_window rgc_window_open(void) {
    rgc_window w;
    w.saved = rgc_port_mask();
    atomic_signal_fence(memory_order_seq_cst);
    w.t0 = rgc_port_cycles();
    return w;
}
static inline void rgc_window_close(rgc_heap *h, rgc_window w) {
    uint32_t dt = rgc_port_cycles() - w.t0;
    if (dt > atomic_load_explicit(&h->longest_masked, memory_order_relaxed))
        atomic_store_explicit(&h->longest_masked, dt, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    rgc_port_unmask(w.saved);
}
#define RGC_MASKED_RMW(h, p, T, expr)                                                          \
    do {                                                                                        \
        rgc_window w_ = rgc_window_open();                                                      \
        T old_ = atomic_load_explicit(p, memory_order_relaxed);                                 \
        atomic_store_explicit(p, (T)(expr), memory_order_relaxed);                              \
        rgc_window_close(h, w_);                                                                \
        return old_;                                                                            \
    } while (0)
#endif

/* Publishing stores (in-progress slots, depths, the sweeper's position, phases). The readers that
 * matter are contexts preempting this one on the same core, which see its stores in program order
 * once the compiler keeps them there: a compiler fence on each side is all a uniprocessor needs, and
 * costs nothing (a seq_cst store is a locked exchange on x86). RGC_SMP=1 makes them seq_cst. */
#if RGC_SMP
#define RGC_CORE_STORE(p, v) atomic_store_explicit((p), (v), memory_order_seq_cst)
#else
#define RGC_CORE_STORE(p, v)                                                                       \
    do {                                                                                        \
        atomic_signal_fence(memory_order_seq_cst);                                              \
        atomic_store_explicit((p), (v), memory_order_relaxed);                                  \
        atomic_signal_fence(memory_order_seq_cst);                                              \
    } while (0)
#endif

#if !RGC_SMP && !RGC_SINGLE_CONTEXT && !RGC_ATOMICS_VIA_MASK && (defined(__x86_64__) || defined(__i386__)) && \
    defined(__GNUC__)
#define RGC_X86_UP 1 /* read-modify-writes without the lock prefix: see below */
#else
#define RGC_X86_UP 0
#endif

/* name_load (relaxed: readers re-validate with a CAS), name_store (seq_cst: publishes), name_cas
 * (strong; on failure *expected receives the current value), name_or/and/add (return the old value). */
#if RGC_SINGLE_CONTEXT
/* One context only: plain loads and stores (relaxed atomics compile to ordinary moves). */
#define RGC_PLAIN_RMW(p, T, expr)                                                                \
    do {                                                                                        \
        T old_ = atomic_load_explicit(p, memory_order_relaxed);                                 \
        atomic_store_explicit(p, (T)(expr), memory_order_relaxed);                              \
        return old_;                                                                            \
    } while (0)
#define RGC_DEFINE_ATOMICS(name, T)                                                              \
    static inline T name##_load(_Atomic T *p) { return atomic_load_explicit(p, memory_order_relaxed); } \
    static inline void name##_store(_Atomic T *p, T v) { atomic_store_explicit(p, v, memory_order_relaxed); } \
    static inline int name##_cas(rgc_heap *h, _Atomic T *p, T *expected, T desired) {            \
        (void)h;                                                                                 \
        T cur = atomic_load_explicit(p, memory_order_relaxed);                                   \
        if (cur != *expected) {                                                                  \
            *expected = cur;                                                                     \
            return 0;                                                                            \
        }                                                                                        \
        atomic_store_explicit(p, desired, memory_order_relaxed);                                 \
        return 1;                                                                                \
    }                                                                                            \
    static inline T name##_or(rgc_heap *h, _Atomic T *p, T v) { (void)h; RGC_PLAIN_RMW(p, T, old_ | v); } \
    static inline T name##_and(rgc_heap *h, _Atomic T *p, T v) { (void)h; RGC_PLAIN_RMW(p, T, old_ & v); } \
    static inline T name##_add(rgc_heap *h, _Atomic T *p, T v) { (void)h; RGC_PLAIN_RMW(p, T, old_ + v); }
#elif RGC_ATOMICS_VIA_MASK
#define RGC_DEFINE_ATOMICS(name, T)                                                              \
    static inline T name##_load(_Atomic T *p) { return atomic_load_explicit(p, memory_order_relaxed); } \
    static inline void name##_store(_Atomic T *p, T v) { RGC_CORE_STORE(p, v); } \
    static inline int name##_cas(rgc_heap *h, _Atomic T *p, T *expected, T desired) {            \
        rgc_window w = rgc_window_open();                                                        \
        T cur = atomic_load_explicit(p, memory_order_relaxed);                                   \
        int ok = cur == *expected;                                                               \
        if (ok)                                                                                  \
            atomic_store_explicit(p, desired, memory_order_relaxed);                             \
        rgc_window_close(h, w);                                                                  \
        if (!ok)                                                                                 \
            *expected = cur;                                                                     \
        return ok;                                                                               \
    }                                                                                            \
    static inline T name##_or(rgc_heap *h, _Atomic T *p, T v) { RGC_MASKED_RMW(h, p, T, old_ | v); } \
    static inline T name##_and(rgc_heap *h, _Atomic T *p, T v) { RGC_MASKED_RMW(h, p, T, old_ & v); } \
    static inline T name##_add(rgc_heap *h, _Atomic T *p, T v) { RGC_MASKED_RMW(h, p, T, old_ + v); }
#elif RGC_X86_UP
/* One core on x86: an instruction is never interrupted half-way, so cmpxchg and xadd WITHOUT the lock
 * prefix are atomic with respect to every context that can preempt this one (interrupts, signals on
 * this thread) - the uniprocessor guarantee LDREX/STREX gives on Cortex-M. The lock prefix would only
 * add ordering against other cores (a full barrier: ~20 cycles each), which RGC_SMP=0 rules out.
 * (A heap shared by threads on several cores needs RGC_SMP=1.) */
#define RGC_UNLOCKED_CAS(T, p, expected, desired, ok)                                               \
    do {                                                                                        \
        T prev_ = *(expected);                                                                  \
        __asm__ __volatile__("cmpxchg %3, %1"                                                   \
                             : "+a"(prev_), "+m"(*(T *)(void *)(p)), "=@ccz"(ok)                  \
                             : "q"(desired)                                                     \
                             : "memory");                                                       \
        *(expected) = prev_;                                                                    \
    } while (0)
#define RGC_DEFINE_ATOMICS(name, T)                                                              \
    static inline T name##_load(_Atomic T *p) { return atomic_load_explicit(p, memory_order_relaxed); } \
    static inline void name##_store(_Atomic T *p, T v) { RGC_CORE_STORE(p, v); } \
    static inline int name##_cas(rgc_heap *h, _Atomic T *p, T *expected, T desired) {            \
        (void)h;                                                                                 \
        int ok_;                                                                                 \
        RGC_UNLOCKED_CAS(T, p, expected, desired, ok_);                                          \
        return ok_;                                                                              \
    }                                                                                            \
    static inline T name##_or(rgc_heap *h, _Atomic T *p, T v) {                                  \
        T old_ = atomic_load_explicit(p, memory_order_relaxed);                                 \
        while (!name##_cas(h, p, &old_, (T)(old_ | v))) {                                        \
        }                                                                                        \
        return old_;                                                                             \
    }                                                                                            \
    static inline T name##_and(rgc_heap *h, _Atomic T *p, T v) {                                 \
        T old_ = atomic_load_explicit(p, memory_order_relaxed);                                 \
        while (!name##_cas(h, p, &old_, (T)(old_ & v))) {                                        \
        }                                                                                        \
        return old_;                                                                             \
    }                                                                                            \
    static inline T name##_add(rgc_heap *h, _Atomic T *p, T v) {                                 \
        (void)h;                                                                                 \
        __asm__ __volatile__("xadd %0, %1" : "+q"(v), "+m"(*(T *)(void *)p) : : "memory");         \
        return v;                                                                                \
    }
#else
#define RGC_DEFINE_ATOMICS(name, T)                                                              \
    static inline T name##_load(_Atomic T *p) { return atomic_load_explicit(p, memory_order_relaxed); } \
    static inline void name##_store(_Atomic T *p, T v) { RGC_CORE_STORE(p, v); } \
    static inline int name##_cas(rgc_heap *h, _Atomic T *p, T *expected, T desired) {            \
        (void)h;                                                                                 \
        return atomic_compare_exchange_strong(p, expected, desired);                             \
    }                                                                                            \
    static inline T name##_or(rgc_heap *h, _Atomic T *p, T v) { (void)h; return atomic_fetch_or(p, v); } \
    static inline T name##_and(rgc_heap *h, _Atomic T *p, T v) { (void)h; return atomic_fetch_and(p, v); } \
    static inline T name##_add(rgc_heap *h, _Atomic T *p, T v) { (void)h; return atomic_fetch_add(p, v); }
#endif

RGC_DEFINE_ATOMICS(u8, uint8_t)
RGC_DEFINE_ATOMICS(uns, unsigned)
RGC_DEFINE_ATOMICS(sz, size_t)
RGC_DEFINE_ATOMICS(u32, uint32_t)

static inline void stat_inc(rgc_heap *h, _Atomic uint32_t *counter) {
    (void)u32_add(h, counter, 1u);
}

/* ---- AddressSanitizer: free blocks are poisoned, so a use after free in a handler is reported even
 * though the pool is one user array. Blocks are poisoned while still owned (before their release) and
 * unpoisoned once claimed; the collector's conservative scan is exempt (RGC_NO_ASAN). */
#if defined(__SANITIZE_ADDRESS__)
#define RGC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RGC_ASAN 1
#endif
#endif
#ifdef RGC_ASAN
void __asan_poison_memory_region(void const volatile *addr, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#define RGC_POISON(p, n) __asan_poison_memory_region((p), (n))
#define RGC_UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define RGC_POISON(p, n) ((void)(p), (void)(n))
#define RGC_UNPOISON(p, n) ((void)(p), (void)(n))
#endif
#if defined(__clang__) || defined(__GNUC__)
#define RGC_NO_ASAN __attribute__((no_sanitize_address))
#else
#define RGC_NO_ASAN
#endif

/* ---- areas and table access ---------------------------------------------------------------- */

static inline bool heap_ok(const rgc_heap *h) {
    return h != NULL && h->magic == RGC_MAGIC;
}

static inline unsigned heap_areas(rgc_heap *h) {
    return atomic_load_explicit(&h->nareas, memory_order_acquire);
}

/* The area holding global block b, or NULL (a gap between areas, or past the end). Area 0 (the only
 * one in most heaps, and first == 0) is decided inline; the others out of line. */
const struct rgc_area *rgc_area_of_slow(rgc_heap *h, size_t b);
static inline const struct rgc_area *area_of(rgc_heap *h, size_t b) {
    if (b < h->areas[0].nblocks)
        return &h->areas[0];
    return rgc_area_of_slow(h, b);
}
static inline size_t area_end(const struct rgc_area *a) {
    return a->first + a->nblocks;
}

/* Table byte holding block b of area a (b inside a). */
static inline _Atomic uint8_t *atb_byte(const struct rgc_area *a, size_t b) {
    return &a->atb[ATB_INDEX(b - a->first)];
}
static inline unsigned atb_state_in(const struct rgc_area *a, size_t b) {
    return ATB_GET(u8_load(atb_byte(a, b)), b);
}
/* State of global block b; FREE for an index that names no block. */
static inline unsigned atb_state(rgc_heap *h, size_t b) {
    const struct rgc_area *a = area_of(h, b);
    return a != NULL ? atb_state_in(a, b) : AT_FREE;
}

static inline uint8_t *block_addr_in(const struct rgc_area *a, size_t b) {
    return a->pool + (b - a->first) * RGC_BS;
}
static inline uint8_t *block_addr(rgc_heap *h, size_t b) {
    return block_addr_in(area_of(h, b), b);
}

/* Global block of the word w if it points into a pool (the block it points into), else RGC_NONE;
 * *offset receives w's offset inside that block. Area 0 inline, the others out of line. */
size_t rgc_block_of_addr_slow(rgc_heap *h, uintptr_t w, size_t *offset);
static inline size_t block_of_addr(rgc_heap *h, uintptr_t w, size_t *offset) {
    const struct rgc_area *a = &h->areas[0];
    uintptr_t off = w - (uintptr_t)a->pool;
    if (w >= (uintptr_t)a->pool && off < (uintptr_t)a->nblocks * RGC_BS) {
        *offset = (size_t)(off & (RGC_BS - 1u));
        return (size_t)(off / RGC_BS);
    }
    return heap_areas(h) > 1u ? rgc_block_of_addr_slow(h, w, offset) : RGC_NONE;
}

/* Block index of p if p is the first byte of a block of a pool, else RGC_NONE. */
static inline size_t block_of_start(rgc_heap *h, const void *p) {
    size_t off;
    size_t b = block_of_addr(h, (uintptr_t)p, &off);
    return b != RGC_NONE && off == 0 ? b : RGC_NONE;
}

/* Number of blocks of the object whose HEAD is b (HEAD plus the TAILs that follow). */
size_t rgc_atb_run_length(rgc_heap *h, size_t b);
/* Claim [s, s+n) (inside one area) for the calling context: HEAD (as head_state) first, then the
 * TAILs one table byte at a time. On conflict everything claimed is released again and false is
 * returned. */
bool rgc_atb_claim_run(rgc_heap *h, size_t s, size_t n, unsigned head_state);
/* Claim [from, to) as TAILs of an object that ends at from-1; all or nothing. */
bool rgc_atb_claim_tails(rgc_heap *h, size_t from, size_t to);
/* Release the blocks [from, to) (TAILs of one object) last first, one table byte at a time. */
void rgc_atb_release_tails(rgc_heap *h, size_t from, size_t to);
/* Release the object of n blocks at HEAD b: TAILs last first, then the HEAD. */
void rgc_atb_release_object(rgc_heap *h, size_t b, size_t n);
/* CAS block b from state `from` to `to`; false if b was not in state `from`. */
bool rgc_atb_transition(rgc_heap *h, size_t b, unsigned from, unsigned to);
/* First-fit size classes: class k > 0 holds requests of 2^(k-1)+1 .. 2^k blocks (the last one every
 * larger size), and h->fit_from[k-1] is advisory: no run of fit_min(k) free blocks starts below it,
 * so a first-fit search for such a request may start there (class 0, one block, uses h->hint). */
#define RGC_FIT_CLASSES 7u
static inline unsigned fit_class(size_t nb) {
    if (nb <= 1u)
        return 0;
    unsigned k = (unsigned)(sizeof(unsigned long long) * 8u) - (unsigned)__builtin_clzll((unsigned long long)(nb - 1u));
    return k < RGC_FIT_CLASSES - 1u ? k : RGC_FIT_CLASSES - 1u; /* ceil(log2(nb)), at most the last */
}
static inline size_t fit_min(unsigned k) {
    return k == 0 ? 1u : ((size_t)1u << (k - 1u)) + 1u;
}

/* Blocks from b on were released: lower the advisory search hints to cover the runs that may now
 * start at or before b (a run of m free blocks that includes b starts at b - m + 1 or later). */
void rgc_hint_lower(rgc_heap *h, size_t b);

/* Free map (see the top of this file). */
static inline bool map_get(const struct rgc_area *a, size_t group) {
    return (atomic_load_explicit(&a->free_map[group >> 5], memory_order_relaxed) >> (group & 31u)) & 1u;
}
static inline void map_set(rgc_heap *h, const struct rgc_area *a, size_t group) {
    if (!map_get(a, group)) /* already set: a search that clears it re-checks the group afterwards */
        (void)u32_or(h, &a->free_map[group >> 5], (uint32_t)1u << (group & 31u));
}
/* A search found group `group` full: clear its bit unless a block is free by the time it is clear. */
void rgc_map_clear_full(rgc_heap *h, const struct rgc_area *a, size_t group);

#if RGC_FINALISERS
static inline bool ftb_get(rgc_heap *h, size_t b) {
    const struct rgc_area *a = area_of(h, b);
    return a != NULL && (u8_load(&a->ftb[FTB_INDEX(b - a->first)]) & FTB_BIT(b)) != 0;
}
static inline void ftb_set(rgc_heap *h, size_t b) {
    const struct rgc_area *a = area_of(h, b);
    (void)u8_or(h, &a->ftb[FTB_INDEX(b - a->first)], FTB_BIT(b));
}
static inline void ftb_clear(rgc_heap *h, size_t b) {
    const struct rgc_area *a = area_of(h, b);
    _Atomic uint8_t *p = &a->ftb[FTB_INDEX(b - a->first)];
    if (u8_load(p) & FTB_BIT(b)) /* only the owner sets or clears its bit: no window when clear */
        (void)u8_and(h, p, (uint8_t)~FTB_BIT(b));
}
#else
static inline bool ftb_get(rgc_heap *h, size_t b) { (void)h; (void)b; return false; }
static inline void ftb_set(rgc_heap *h, size_t b) { (void)h; (void)b; }
static inline void ftb_clear(rgc_heap *h, size_t b) { (void)h; (void)b; }
#endif

/* Bytes of tables carved in front of an area's pool of n blocks (before alignment padding). */
static inline size_t area_table_bytes(size_t n) {
    size_t atb = (n + 3u) / 4u, ftb = RGC_FINALISERS ? (n + 7u) / 8u : 0u;
    size_t map_words = (n + 2047u) / 2048u;
    return ((atb + ftb + 3u) & ~(size_t)3u) + map_words * 4u;
}

/* ---- calling contexts ----------------------------------------------------------------------- */

/* One public call at one level and nesting depth. Only code at `level` writes depth[level] and
 * in_progress[level][*]; contexts at the same level never preempt each other, so plain atomic
 * load/store suffice there. */
typedef struct {
    unsigned level;
    unsigned depth;
} rgc_ctx;

bool rgc_ctx_enter(rgc_heap *h, rgc_ctx *c);
/* Only raise the busy depth (rgc_busy_depth) for a call that publishes nothing (rgc_swap): the slot
 * at this depth keeps the previous call's stale value, which may still be the only trace of its
 * result. A stale value read as "in progress" only defers a free to the collector. */
bool rgc_ctx_enter_busy(rgc_heap *h, rgc_ctx *c);
static inline void ctx_leave(rgc_heap *h, const rgc_ctx *c) {
    /* Only this level's own calls change its depth, and they nest: ours is the innermost. */
    RGC_ASSERT(u8_load(&h->depth[c->level]) == c->depth + 1u);
    /* The slot stays published (stale): the result may still live only in a register of the caller,
     * so a collection right now must keep it. It is overwritten by the next call at this depth. */
    u8_store(&h->depth[c->level], (uint8_t)c->depth);
}
static inline void ctx_publish(rgc_heap *h, const rgc_ctx *c, size_t b, unsigned kind) {
#if RGC_SINGLE_CONTEXT
    (void)h; (void)c; (void)b; (void)kind; /* nothing can run in the middle of an operation */
#else
    sz_store(&h->in_progress[c->level][c->depth], SLOT_VALUE(b, kind));
#endif
}
/* The object is released: nothing is in progress on it any more, and the block may be someone
 * else's object a moment from now (keeping SLOT_OP would make their free look like a double free). */
static inline void ctx_unpublish(rgc_heap *h, const rgc_ctx *c) {
#if RGC_SINGLE_CONTEXT
    (void)h; (void)c;
#else
    sz_store(&h->in_progress[c->level][c->depth], 0);
#endif
}
/* True when a context below c (a lower level, or an outer call at c's level) is inside an rgc call.
 * Such a context may hold a decision taken under the current state - the colour of the object it is
 * claiming, the limit it searches below, whether to defer a free - so that state must not move under
 * it: a collection in progress does not advance, a reserve is not raised (RGC_BUSY instead). */
static inline bool ctx_below_busy(rgc_heap *h, const rgc_ctx *c) {
    if (c->depth > 0)
        return true;
    for (unsigned level = 0; level < c->level; level++)
        if (atomic_load_explicit(&h->depth[level], memory_order_relaxed) != 0)
            return true;
    return false;
}

/* True if a suspended context (a lower level, or an outer call of this level) has published block b.
 * Then the caller cannot know whether b is still the object it means: that context may be freeing or
 * resizing it (a racing double free - misuse), may be claiming it, or may just have released it so
 * that b is a new object (the caller's legitimate one). Whichever it is, the caller must not release
 * or extend b: it leaves b to the collector, which frees it once unreachable. */
bool rgc_ctx_object_busy(rgc_heap *h, const rgc_ctx *c, size_t b);

/* Count a misuse from inside a context, so that rgc_busy_depth() covers the (possibly masked)
 * counter update: a runtime never unwinds out of it. */
void rgc_count_misuse(rgc_heap *h);

static inline unsigned phase_of(rgc_heap *h) {
    return uns_load(&h->state) & PHASE_BITS;
}

/* ---- cross-file entry points ---------------------------------------------------------------- */

/* Allocation of nb blocks in a context of its own (nested when called from realloc). */
void *rgc_alloc_blocks(rgc_heap *h, size_t nb, unsigned flags);
/* Free (or, while marking, shade) the object at HEAD b, which the caller has published as SLOT_OP. */
void rgc_free_object(rgc_heap *h, size_t b);
/* Collections run by context c (rgc_collect.c). Each takes the collector role for its duration and
 * returns RGC_BUSY at once when another step or collection is executing (below c: never waits). */
enum { COLLECT_FULL, COLLECT_FINISH, COLLECT_FOR_ALLOC };
int rgc_collect_run(rgc_heap *h, const rgc_ctx *c, int how);
/* One step of at most budget units (starting a collection when none is in progress): 1 while one is
 * in progress afterwards, 0 when done, RGC_BUSY / RGC_LOCKED. explicit_step: rgc_collect_step (may
 * close a collection its level opened), not pacing. */
int rgc_collect_step_in(rgc_heap *h, const rgc_ctx *c, size_t budget, bool explicit_step);
/* The snapshot barrier's shade: mark the object p refers to (if unmarked) and request a rescan. */
void rgc_shade_ref(rgc_heap *h, const void *p);
/* Shade every word of a root range (read like the collector reads roots: any memory, even pool
 * blocks another context has just freed). */
void rgc_shade_words(rgc_heap *h, void *const *words, size_t nwords);
/* Blocks levels below `level` may not use: the limit of allocations at level (reserves). */
static inline size_t level_limit(rgc_heap *h, unsigned level) {
    return sz_load(&h->limit[level]);
}

#if RGC_SEARCH_STATS
#define SEARCH_STAT(h, field, n) ((h)->field += (n))
#else
#define SEARCH_STAT(h, field, n) ((void)0)
#endif

#endif /* RGC_INTERNAL_H */
