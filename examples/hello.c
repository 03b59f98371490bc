/* hello.c - the README's "Using it" program (tests/readme checks that the two stay identical). */
#include <rgc.h>
#include <stdio.h>

struct msg {
    struct msg *next;
    int value;
};

static _Alignas(16) unsigned char heap_mem[64 * 1024];
static rgc_heap heap;
static struct msg *inbox; /* a root range: what it refers to survives collections */

/* Safe from an interrupt handler of any priority, preempting any rgc call, a collection included. */
static void on_event(int value) {
    struct msg *m = rgc_alloc(&heap, sizeof *m, 0); /* zeroed memory, or NULL */
    if (m == NULL)
        return;
    m->value = value;
    m->next = inbox;                      /* a store into a new object: no barrier needed */
    rgc_write(&heap, (void **)&inbox, m); /* a store into a root or an existing object: the barrier */
}

int main(void) {
    if (rgc_init(&heap, heap_mem, sizeof heap_mem) != RGC_OK) /* tables + pool carved from heap_mem */
        return 1;
    rgc_add_root(&heap, &inbox, sizeof inbox);
    for (int i = 1; i <= 1000; i++) {
        on_event(i);
        if (i % 100 == 0) { /* consume the inbox, drop it, collect */
            int sum = 0;
            for (struct msg *m = inbox; m != NULL; m = m->next)
                sum += m->value;
            rgc_write(&heap, (void **)&inbox, NULL);
            rgc_collect(&heap);
            if (i == 1000)
                printf("last batch sums to %d\n", sum);
        }
    }
    rgc_stats st;
    rgc_get_stats(&heap, &st);
    printf("%u collections, %zu bytes in use, heap %s\n", (unsigned)st.collections, st.used_bytes,
           rgc_check(&heap) == RGC_OK ? "consistent" : "CORRUPT");
    return rgc_check(&heap) == RGC_OK ? 0 : 1;
}
