/* repro_fragmentation.c - rgc's next-fit placement of multi-block objects fragments a heap that
 * MicroPython's first-fit gc.c keeps whole (found by compat/micropython: stress/dict_copy.py and
 * stress/dict_create.py pass on the stock unix port with -X heapsize=48k and fail on rgc).
 *
 * The pattern is a growing table (dict/list rehash): allocate the new table, free the old one.
 *   a = alloc(N/4); free(a); b = alloc(N/4); c = alloc(5N/8)
 * First fit puts b where a was (block 0), leaving 3N/4 free in one run: c fits.
 * Next fit starts b's search at the rover (after a), leaving N/4 + N/2 in two runs: c does not fit,
 * although 3N/4 blocks are free and no other object exists.
 *
 * Build: cc -std=c11 -I include compat/micropython/repro_fragmentation.c build/mp-rgc/librgc.a -lpthread
 * Exit 0 when c was allocated (first-fit behaviour), 1 when it was not. */
#include <rgc.h>
#include <stdio.h>

static _Alignas(64) unsigned char mem[64 * 1024];
static rgc_heap heap;

int main(void) {
    if (rgc_init(&heap, mem, sizeof mem) != RGC_OK)
        return 2;
    rgc_level_policy(&heap, 0, 0); /* no collection: nothing here is garbage anyway */
    rgc_stats st;
    rgc_get_stats(&heap, &st);
    size_t n = st.blocks, bs = RGC_BLOCK_BYTES;
    void *a = rgc_alloc(&heap, n / 4 * bs, 0);
    rgc_free(&heap, a);
    void *b = rgc_alloc(&heap, n / 4 * bs, 0);
    void *c = rgc_alloc(&heap, 5 * n / 8 * bs, 0);
    rgc_get_stats(&heap, &st);
    printf("heap %zu blocks: a=%p b=%p (%s a) c(%zu blocks)=%p; free %zu blocks, largest run %zu\n", n, a,
        b, a == b ? "reuses" : "does not reuse", 5 * n / 8, c, st.free_bytes / bs, st.largest_free_bytes / bs);
    return c != NULL ? 0 : 1;
}
