/* rgc_test.h - tiny shared harness for the rgc unit tests (tests/unit/test_*.c).
 *
 * CHECK(cond) counts a check and, when it fails, prints file:line and the condition.
 * CHECK_EQ(a, b) does the same for two integers (printed as unsigned) and CHECK_PTR(a, b) for pointers.
 * CHECK_HEAP(h) checks rgc_check(h) == RGC_OK. rgct_summary() prints "N passed, M failed" and gives the
 * exit status of main.
 *
 * Exact collection tests: the port scans the stack (and callee-saved registers) conservatively, so any
 * stale copy of a heap address on the stack keeps its object alive; heaps are re-initialised at the same
 * address test after test, so even an old test's address can pin a new object. The rules that keep
 * "this object is freed" checks exact with gcc and clang, -O0 to -O2, with and without ASan:
 *   - main runs each test through RGCT_RUN (a wiped stack, never inlined into main);
 *   - collections go through rgct_collect(h) (and automatic ones through rgct_alloc_clean), which wipe
 *     the stack below the caller first, then collect;
 *   - a function that collects and expects objects to die never loads a heap address itself (clang -O0
 *     spills loads into its frame; -O2 keeps them in callee-saved registers): noinline helpers do, and
 *     follow the objects through static arrays that are not root ranges;
 *   - a helper that collects after its caller called others is entered through RGCT_CALL.
 * CHECK_EQ/CHECK_PTR pass their values to a function for the same reason.
 */
#ifndef RGC_TEST_H
#define RGC_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rgc.h"

#define RGCT_NOINLINE __attribute__((noinline, unused))

static unsigned long rgct_checks;
static unsigned long rgct_failures;

static inline void rgct_fail(const char *file, int line, const char *what)
{
    rgct_failures++;
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what);
}

#define CHECK(cond)                                                                                   \
    do {                                                                                              \
        rgct_checks++;                                                                                \
        if (!(cond))                                                                                  \
            rgct_fail(__FILE__, __LINE__, #cond);                                                     \
    } while (0)

/* The compared values are passed to functions rather than held in locals of the test's frame: a heap
 * pointer left in a live frame would be a conservative root and keep its object alive. */
static RGCT_NOINLINE void rgct_check_eq(uintmax_t a, uintmax_t b, const char *file, int line,
                                        const char *ea, const char *eb)
{
    rgct_checks++;
    if (a != b) {
        rgct_failures++;
        fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%ju != %ju; signed %jd != %jd)\n", file, line, ea,
                eb, a, b, (intmax_t)a, (intmax_t)b);
    }
}

static RGCT_NOINLINE void rgct_check_ptr(const void *a, const void *b, const char *file, int line,
                                         const char *ea, const char *eb)
{
    rgct_checks++;
    if (a != b) {
        rgct_failures++;
        fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%p != %p)\n", file, line, ea, eb, a, b);
    }
}

#define CHECK_EQ(a, b) rgct_check_eq((uintmax_t)(a), (uintmax_t)(b), __FILE__, __LINE__, #a, #b)
#define CHECK_PTR(a, b) rgct_check_ptr((const void *)(a), (const void *)(b), __FILE__, __LINE__, #a, #b)

/* rgc_check(h) == RGC_OK */
#define CHECK_HEAP(h) CHECK_EQ((intmax_t)rgc_check(h), (intmax_t)RGC_OK)

static int rgct_cases_run;
static inline int rgct_summary(const char *name)
{
    const char *only = getenv("RGCT_ONLY");
    if (only != NULL && *only != '\0' && rgct_cases_run == 0) {
        printf("%s: no test case named %s\n", name, only);
        return 1;
    }
    printf("%s: %lu passed, %lu failed\n", name, rgct_checks - rgct_failures, rgct_failures);
    return rgct_failures == 0 ? 0 : 1;
}

/* ---- helpers ---- */

/* In ASan builds rgc poisons free blocks. Tests that dirty free memory on purpose (to prove that
 * allocation zeroes it) unpoison it first. */
#if defined(__SANITIZE_ADDRESS__)
#define RGCT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RGCT_ASAN 1
#endif
#endif
#ifdef RGCT_ASAN
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif
static inline void rgct_scribble(void *p, int c, size_t n)
{
#ifdef RGCT_ASAN
    __asan_unpoison_memory_region(p, n);
#endif
    memset(p, c, n);
}

#define RGCT_BB ((size_t)RGC_BLOCK_BYTES)
#define RGCT_MIN(a, b) ((a) < (b) ? (a) : (b))

/* Bytes rgc_size reports for a request of n bytes. */
static inline size_t rgct_round(size_t n)
{
    return (n + RGCT_BB - 1) / RGCT_BB * RGCT_BB;
}

static inline rgc_stats rgct_stats(rgc_heap *h)
{
    rgc_stats s;
    memset(&s, 0, sizeof s);
    rgc_get_stats(h, &s);
    return s;
}

/* Zero the handle (so no root ranges or policies survive from an earlier test) and initialise it. */
static inline int rgct_fresh(rgc_heap *h, void *mem, size_t bytes)
{
    memset((void *)h, 0, sizeof *h);
    return rgc_init(h, mem, bytes);
}

/* Overwrite the stack area below the caller (where rgc_collect's frames will go). Not instrumented by
 * AddressSanitizer: its redzones around a stack array are never written, so stale heap addresses would
 * survive in them. The outer frame zeroes the words right below the caller's frame, the inner one the
 * next 16 KiB; frame headers get return addresses and frame pointers, never heap addresses. */
#define RGCT_NOASAN __attribute__((noinline, unused, no_sanitize_address))
static RGCT_NOASAN void rgct_wipe_stack(void)
{
    volatile unsigned char buf[16384];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = 0;
    /* and the alignment padding between buf and the saved frame pointer (a stale heap address
     * survived in such 8 bytes once the core's code changed the callers' frames). Only when
     * optimising: at -O0 the loop's own variable lives in that part of the frame. */
#ifdef __OPTIMIZE__
    for (volatile unsigned char *q = buf + sizeof buf; q < (volatile unsigned char *)__builtin_frame_address(0); q++)
        *q = 0;
#endif
}
static RGCT_NOASAN void rgct_scrub_stack(void)
{
    volatile uintptr_t near[16];
    for (size_t i = 0; i < 16; i++)
        near[i] = 0;
#ifdef __OPTIMIZE__
    for (volatile unsigned char *q = (volatile unsigned char *)(near + 16); /* padding, as in rgct_wipe_stack */
         q < (volatile unsigned char *)__builtin_frame_address(0); q++)
        *q = 0;
#endif
    rgct_wipe_stack();
    (void)near[0];
}

/* rgc_collect from a clean stack: the caller's dead callees' frames are wiped first (from the caller's
 * depth), then again below the frame that calls rgc_collect. */
static RGCT_NOINLINE int rgct_collect_inner(rgc_heap *h)
{
    rgct_scrub_stack();
    return rgc_collect(h);
}
#define rgct_collect(h) (rgct_scrub_stack(), rgct_collect_inner(h))

/* rgc_alloc from a clean stack (for allocations that may trigger an automatic collection). */
static RGCT_NOINLINE void *rgct_alloc_clean_inner(rgc_heap *h, size_t n, unsigned flags)
{
    rgct_scrub_stack();
    return rgc_alloc(h, n, flags);
}
#define rgct_alloc_clean(h, n, flags) (rgct_scrub_stack(), rgct_alloc_clean_inner((h), (n), (flags)))

/* Run a test function on a wiped stack: its frame's uninitialised slots cannot hold heap addresses left
 * by an earlier test (heaps are re-initialised at the same addresses). */
/* RGCT_ONLY=<case> in the environment runs only that case (CTest registers one test per case:
 * unit.<file>.<case>, so a failure names it). */
static RGCT_NOINLINE void rgct_run(void (*fn)(void), const char *name)
{
    static int depth; /* a case may run helpers through RGCT_RUN: those always run */
    const char *only = getenv("RGCT_ONLY");
    if (depth == 0 && only != NULL && *only != '\0' && strcmp(only, name) != 0)
        return;
    rgct_cases_run++;
    void (*volatile call)(void) = fn; /* never inlined into the caller (main) */
    rgct_scrub_stack();
    depth++;
    call();
    depth--;
}
#define RGCT_RUN(fn) rgct_run(fn, #fn)
/* The same for a helper that collects and expects objects to die (its frame overlays dead callees'). */
#define RGCT_CALL(fn, ...) (rgct_scrub_stack(), fn(__VA_ARGS__))

static inline int rgct_ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return x < y ? -1 : x > y;
}

/* Sort an array of pointers by address. */
static inline void rgct_sort_ptrs(void **v, size_t n)
{
    qsort(v, n, sizeof v[0], rgct_ptr_cmp);
}

/* Collects the text of rgc_dump into a buffer. */
struct rgct_text {
    char buf[65536];
    size_t len;
    int overflow;
};

static inline void rgct_text_print(void *ctx, const char *s)
{
    struct rgct_text *t = (struct rgct_text *)ctx;
    size_t n = strlen(s);
    if (t->len + n >= sizeof t->buf) {
        t->overflow = 1;
        n = sizeof t->buf - 1 - t->len;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = 0;
}

/* The map characters of the dump, or NULL when it does not have the documented shape: lines of exactly
 * 64 map characters (the last one 1..64) from ".h=mfM", each ended by '\n' (the final '\n' optional),
 * each optionally preceded by a label ending in ": " (the core prints the pool offset, "00000800: "). */
static inline const char *rgct_dump_map(rgc_heap *h, struct rgct_text *t, char *map, size_t mapsize)
{
    memset(t, 0, sizeof *t);
    rgc_dump(h, rgct_text_print, t);
    if (t->overflow)
        return NULL;
    size_t m = 0;
    const char *line = t->buf;
    while (*line) {
        const char *nl = strchr(line, '\n');
        const char *end = nl ? nl : line + strlen(line);
        const char *label = strstr(line, ": ");
        const char *c = label && label < end ? label + 2 : line;
        size_t len = (size_t)(end - c);
        if (len == 0 || len > 64 || m + len >= mapsize)
            return NULL;
        for (size_t i = 0; i < len; i++)
            if (!strchr(".h=mfM", c[i]) || c[i] == 0)
                return NULL;
        if (len < 64 && *end && end[1]) /* a short line that is not the last one */
            return NULL;
        memcpy(map + m, c, len);
        m += len;
        line = *end ? end + 1 : end;
    }
    map[m] = 0;
    return map;
}

#endif /* RGC_TEST_H */
