/* link_api.c - what a firmware links of an allocator for MicroPython's core GC API (bench/mcu/run.sh:
 * linked with --gc-sections, the allocator's kept sections summed from the link map). Built once on
 * rgc (the core API as rgc names it) and once, with LINK_MPGC=1, on py/gc.c. Never run. */
#include <stdbool.h>
#include <stddef.h>

#if LINK_MPGC
#include <stdint.h>

#include "mpgc.h"
#include "py/gc.h"
uint32_t __stack_top[1]; /* the firmware's linker script defines it (bench/mpgc/mpgc_port.c) */
static unsigned char mem[8192] __attribute__((aligned(16)));
void link_entry(void);
void link_entry(void) {
    gc_init(mem, mem + sizeof mem);
    void *p = gc_alloc(16, 0);
    p = gc_realloc(p, 64, true);
    (void)gc_nbytes(p);
    gc_free(p);
    gc_lock();
    gc_unlock();
    gc_collect_start();
    gc_collect_root(&p, 1);
    gc_collect_end();
    gc_sweep_all();
}
#else
#include <rgc.h>
#include <rgc_cortexm.h>
static rgc_heap heap;
static unsigned char mem[8192] __attribute__((aligned(16)));
extern unsigned link_stack_top[1];
unsigned link_stack_top[1];
void link_entry(void);
void link_entry(void) {
    rgc_cortexm_init(link_stack_top, NULL);
    rgc_init(&heap, mem, sizeof mem);
    void *p = rgc_alloc(&heap, 16, 0);
    p = rgc_realloc(&heap, p, 64, true);
    (void)rgc_size(&heap, p);
    rgc_free(&heap, p);
    rgc_lock(&heap);
    rgc_unlock(&heap);
    rgc_collect_start(&heap);
    rgc_collect_roots(&heap, (void *const *)&p, 1);
    rgc_collect_finish(&heap);
    rgc_sweep_all(&heap);
}
#endif
