/* asan_probe.c - in ASan builds, a write to a freed rgc object must be reported (rgc poisons free
 * blocks). Run by CTest expecting AddressSanitizer's report; not a test_* file on purpose. */
#include <rgc.h>
#include <stdio.h>

static _Alignas(16) unsigned char mem[4096];
static rgc_heap heap;

int main(void) {
    rgc_init(&heap, mem, sizeof mem);
    volatile char *p = rgc_alloc(&heap, 40, 0);
    p[39] = 1; /* fine: live */
    rgc_free(&heap, (void *)p);
    p[0] = 2; /* use after free: ASan must stop here */
    puts("use after free not detected");
    return 0;
}
