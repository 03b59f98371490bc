/* gc_write_barrier.h - MicroPython's write barrier (MP_GC_WRITE, MP_GC_SHADE, MP_GC_SHADE_RANGE in
 * py/obj.h, added by patches/) on rgc. rgc.mk puts this directory on the include path and defines
 * MICROPY_GC_WRITE_BARRIER=1.
 *
 * rgc marks a snapshot of the heap (Yuasa deletion barrier): while a collection is marking - suspended
 * below an interrupt handler, or paused between the steps of an incremental collection - every
 * reference that a store overwrites must be shaded, or an object reachable only through a slot that
 * was already moved elsewhere would be freed. Outside a marking each barrier is one load and a branch.
 *
 * The inline form is exact because in MicroPython collections advance only at thread level: a hard IRQ
 * handler may run a whole collection when none is in progress (it starts and ends inside the handler),
 * never finish or step one that thread code left open (compat gc.c refuses that). See rgc.h. */
#ifndef RGC_MP_GC_WRITE_BARRIER_H
#define RGC_MP_GC_WRITE_BARRIER_H

#include <rgc.h>

extern rgc_heap mp_rgc_heap;

/* The slow halves. rgc serves the interrupt levels of one core; MicroPython's threads without a GIL
 * run on several cores and call rgc under the GC mutex (compat gc.c), so there the shade takes it too
 * (gc_barrier_shade*, in gc.c). */
#if MICROPY_PY_THREAD && !MICROPY_PY_THREAD_GIL
void gc_barrier_shade(const void *old);
void gc_barrier_shade_range(void *const *words, size_t n);
#define RGC_MP_SHADE(old) gc_barrier_shade(old)
#define RGC_MP_SHADE_RANGE(words, n) gc_barrier_shade_range((words), (n))
#else
#define RGC_MP_SHADE(old) rgc_shade(&mp_rgc_heap, (old))
#define RGC_MP_SHADE_RANGE(words, n) rgc_shade_range(&mp_rgc_heap, (words), (n))
#endif

#define MP_GC_SHADE(old)                                                                          \
    do {                                                                                          \
        if (rgc_marking(&mp_rgc_heap))                                                            \
            RGC_MP_SHADE((const void *)(old));                                                    \
    } while (0)

#define MP_GC_SHADE_RANGE(words, n)                                                               \
    do {                                                                                          \
        if (rgc_marking(&mp_rgc_heap))                                                            \
            RGC_MP_SHADE_RANGE((void *const *)(const void *)(words), (n));                       \
    } while (0)

#define MP_GC_WRITE(slot, value)                                                                  \
    do {                                                                                          \
        const void *mp_gc_old_ = (const void *)*(slot);                                           \
        *(slot) = (value);                                                                        \
        if (rgc_marking(&mp_rgc_heap))                                                            \
            RGC_MP_SHADE(mp_gc_old_);                                                             \
    } while (0)

#endif
