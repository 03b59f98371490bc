#include <rgc.h>
#include <stdio.h>

static _Alignas(16) unsigned char mem[4096];
static rgc_heap heap;

int main(void) {
    if (rgc_init(&heap, mem, sizeof mem) != RGC_OK)
        return 1;
    void *p = rgc_alloc(&heap, 100, 0);
    int ok = p != NULL && rgc_size(&heap, p) >= 100 && rgc_check(&heap) == RGC_OK;
    printf("consumer: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
