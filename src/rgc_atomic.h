/* rgc_atomic.h - the atomic step every table and bookkeeping change is made of, per build: lock-free
 * (C11 atomics; unlocked cmpxchg on one x86 core), inside the port's mask (RGC_ATOMICS_VIA_MASK), or
 * plain (RGC_SINGLE_CONTEXT); and the AddressSanitizer poisoning of free blocks. Included by
 * rgc_internal.h. */
#ifndef RGC_ATOMIC_H
#define RGC_ATOMIC_H
#ifndef RGC_INTERNAL_H
#error "include rgc_internal.h, not this file"
#endif

/* ---- atomic primitives ---------------------------------------------------------------------- */

#if RGC_ATOMICS_VIA_MASK && !RGC_SINGLE_CONTEXT
typedef struct {
    rgc_mask_state saved;
    uint32_t t0;
} rgc_window;

RGC_HOT rgc_window rgc_window_open(void) {
    rgc_window w;
    w.saved = rgc_port_mask();
    atomic_signal_fence(memory_order_seq_cst);
    w.t0 = rgc_port_cycles();
    return w;
}
RGC_HOT void rgc_window_close(rgc_core *h, rgc_window w) {
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
    RGC_HOT T name##_load(_Atomic T *p) { return atomic_load_explicit(p, memory_order_relaxed); } \
    RGC_HOT void name##_store(_Atomic T *p, T v) { atomic_store_explicit(p, v, memory_order_relaxed); } \
    RGC_HOT int name##_cas(rgc_core *h, _Atomic T *p, T *expected, T desired) {            \
        (void)h;                                                                                 \
        T cur = atomic_load_explicit(p, memory_order_relaxed);                                   \
        if (cur != *expected) {                                                                  \
            *expected = cur;                                                                     \
            return 0;                                                                            \
        }                                                                                        \
        atomic_store_explicit(p, desired, memory_order_relaxed);                                 \
        return 1;                                                                                \
    }                                                                                            \
    RGC_HOT T name##_or(rgc_core *h, _Atomic T *p, T v) { (void)h; RGC_PLAIN_RMW(p, T, old_ | v); } \
    RGC_HOT T name##_and(rgc_core *h, _Atomic T *p, T v) { (void)h; RGC_PLAIN_RMW(p, T, old_ & v); } \
    RGC_HOT T name##_add(rgc_core *h, _Atomic T *p, T v) { (void)h; RGC_PLAIN_RMW(p, T, old_ + v); }
#elif RGC_ATOMICS_VIA_MASK
#define RGC_DEFINE_ATOMICS(name, T)                                                              \
    RGC_HOT T name##_load(_Atomic T *p) { return atomic_load_explicit(p, memory_order_relaxed); } \
    RGC_HOT void name##_store(_Atomic T *p, T v) { RGC_CORE_STORE(p, v); } \
    RGC_HOT int name##_cas(rgc_core *h, _Atomic T *p, T *expected, T desired) {            \
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
    RGC_HOT T name##_or(rgc_core *h, _Atomic T *p, T v) { RGC_MASKED_RMW(h, p, T, old_ | v); } \
    RGC_HOT T name##_and(rgc_core *h, _Atomic T *p, T v) { RGC_MASKED_RMW(h, p, T, old_ & v); } \
    RGC_HOT T name##_add(rgc_core *h, _Atomic T *p, T v) { RGC_MASKED_RMW(h, p, T, old_ + v); }
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
    RGC_HOT T name##_load(_Atomic T *p) { return atomic_load_explicit(p, memory_order_relaxed); } \
    RGC_HOT void name##_store(_Atomic T *p, T v) { RGC_CORE_STORE(p, v); } \
    RGC_HOT int name##_cas(rgc_core *h, _Atomic T *p, T *expected, T desired) {            \
        (void)h;                                                                                 \
        int ok_;                                                                                 \
        RGC_UNLOCKED_CAS(T, p, expected, desired, ok_);                                          \
        return ok_;                                                                              \
    }                                                                                            \
    RGC_HOT T name##_or(rgc_core *h, _Atomic T *p, T v) {                                  \
        T old_ = atomic_load_explicit(p, memory_order_relaxed);                                 \
        while (!name##_cas(h, p, &old_, (T)(old_ | v))) {                                        \
        }                                                                                        \
        return old_;                                                                             \
    }                                                                                            \
    RGC_HOT T name##_and(rgc_core *h, _Atomic T *p, T v) {                                 \
        T old_ = atomic_load_explicit(p, memory_order_relaxed);                                 \
        while (!name##_cas(h, p, &old_, (T)(old_ & v))) {                                        \
        }                                                                                        \
        return old_;                                                                             \
    }                                                                                            \
    RGC_HOT T name##_add(rgc_core *h, _Atomic T *p, T v) {                                 \
        (void)h;                                                                                 \
        __asm__ __volatile__("xadd %0, %1" : "+q"(v), "+m"(*(T *)(void *)p) : : "memory");         \
        return v;                                                                                \
    }
#elif !RGC_SMP
/* One core (Cortex-M and the like): LDREX/STREX (or the port's masked helpers on ARMv6-M) are atomic
 * with respect to every context that can preempt this one, and one core sees its own accesses in
 * program order, so the read-modify-writes need no memory barrier (a seq_cst one costs a DMB before
 * and after on ARMv7-M). A compiler fence on each side keeps the compiler from moving other accesses
 * across them, as the publishing stores' fences do. */
#define RGC_UP_RMW(expr)                                                                         \
    do {                                                                                        \
        atomic_signal_fence(memory_order_seq_cst);                                              \
        T_ r_ = (expr);                                                                         \
        atomic_signal_fence(memory_order_seq_cst);                                              \
        return r_;                                                                              \
    } while (0)
#define RGC_DEFINE_ATOMICS(name, T)                                                              \
    RGC_HOT T name##_load(_Atomic T *p) { return atomic_load_explicit(p, memory_order_relaxed); } \
    RGC_HOT void name##_store(_Atomic T *p, T v) { RGC_CORE_STORE(p, v); } \
    RGC_HOT int name##_cas(rgc_core *h, _Atomic T *p, T *expected, T desired) {            \
        (void)h;                                                                                 \
        typedef int T_;                                                                          \
        RGC_UP_RMW(atomic_compare_exchange_strong_explicit(p, expected, desired, memory_order_relaxed, \
                                                          memory_order_relaxed));                \
    }                                                                                            \
    RGC_HOT T name##_or(rgc_core *h, _Atomic T *p, T v) {                                  \
        (void)h;                                                                                 \
        typedef T T_;                                                                            \
        RGC_UP_RMW(atomic_fetch_or_explicit(p, v, memory_order_relaxed));                        \
    }                                                                                            \
    RGC_HOT T name##_and(rgc_core *h, _Atomic T *p, T v) {                                 \
        (void)h;                                                                                 \
        typedef T T_;                                                                            \
        RGC_UP_RMW(atomic_fetch_and_explicit(p, v, memory_order_relaxed));                       \
    }                                                                                            \
    RGC_HOT T name##_add(rgc_core *h, _Atomic T *p, T v) {                                 \
        (void)h;                                                                                 \
        typedef T T_;                                                                            \
        RGC_UP_RMW(atomic_fetch_add_explicit(p, v, memory_order_relaxed));                       \
    }
#else
#define RGC_DEFINE_ATOMICS(name, T)                                                              \
    RGC_HOT T name##_load(_Atomic T *p) { return atomic_load_explicit(p, memory_order_relaxed); } \
    RGC_HOT void name##_store(_Atomic T *p, T v) { RGC_CORE_STORE(p, v); } \
    RGC_HOT int name##_cas(rgc_core *h, _Atomic T *p, T *expected, T desired) {            \
        (void)h;                                                                                 \
        return atomic_compare_exchange_strong(p, expected, desired);                             \
    }                                                                                            \
    RGC_HOT T name##_or(rgc_core *h, _Atomic T *p, T v) { (void)h; return atomic_fetch_or(p, v); } \
    RGC_HOT T name##_and(rgc_core *h, _Atomic T *p, T v) { (void)h; return atomic_fetch_and(p, v); } \
    RGC_HOT T name##_add(rgc_core *h, _Atomic T *p, T v) { (void)h; return atomic_fetch_add(p, v); }
#endif

RGC_DEFINE_ATOMICS(u8, uint8_t)
RGC_DEFINE_ATOMICS(uns, unsigned)
RGC_DEFINE_ATOMICS(sz, size_t)
RGC_DEFINE_ATOMICS(u32, uint32_t)

RGC_HOT void stat_inc(rgc_core *h, _Atomic uint32_t *counter) {
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

#endif /* RGC_ATOMIC_H */
