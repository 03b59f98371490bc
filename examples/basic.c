/* basic.c - rgc in ten lines of use: a heap, a root, garbage, a collection, the heap map. */
#include <rgc.h>
#include <stdio.h>
#include <string.h>

static _Alignas(16) unsigned char heap_memory[16 * 1024];
static rgc_heap heap;
static void *globals[8]; /* a root range: what is referenced from here survives */

static void print(void *ctx, const char *s) {
    (void)ctx;
    fputs(s, stdout);
}

struct node {
    struct node *next;
    char name[24];
};

static void report(const char *when) {
    rgc_stats st;
    rgc_get_stats(&heap, &st);
    printf("%-28s used %6zu / %zu bytes, %3zu objects, largest free run %zu bytes\n", when,
           st.used_bytes, st.total_bytes, st.objects, st.largest_free_bytes);
}

static void finalise(void *obj) {
    printf("  finaliser: %s\n", ((struct node *)obj)->name);
}

int main(void) {
    if (rgc_init(&heap, heap_memory, sizeof heap_memory) != RGC_OK)
        return 1;
    rgc_add_root(&heap, globals, sizeof globals);
    rgc_set_finaliser(&heap, finalise);

    /* a list of 5 nodes kept in globals[0], and 20 nodes dropped on the floor */
    struct node *head = NULL;
    for (int i = 0; i < 25; i++) {
        struct node *n = rgc_alloc(&heap, sizeof *n, i % 5 == 0 ? RGC_FINALISER : 0);
        snprintf(n->name, sizeof n->name, "node %d", i);
        if (i % 5 == 0) {
            n->next = head;
            head = n;
        }
    }
    rgc_write(&heap, &globals[0], head);
    head = NULL;
    report("after 25 allocations:");
    rgc_dump(&heap, print, NULL);

    rgc_collect(&heap);
    report("after collection:");
    rgc_dump(&heap, print, NULL);

    rgc_write(&heap, &globals[0], NULL); /* drop the list: its finalisers run at the next collection */
    rgc_collect(&heap);
    report("after dropping the list:");
    printf("rgc_check: %s\n", rgc_check(&heap) == RGC_OK ? "ok" : "CORRUPT");
    return rgc_check(&heap) == RGC_OK ? 0 : 1;
}
