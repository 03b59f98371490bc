/* mpconfigport.h - the configuration py/gc.c is built with as a benchmark peer (bench/mpgc/README.md).
 * Only the memory manager: everything else keeps mpconfig.h's defaults (ROM level "core features", so
 * MICROPY_GC_ALLOC_THRESHOLD=1 and MICROPY_GC_CONSERVATIVE_CLEAR=1, as in MicroPython's ports). */
#include <stdint.h>

#define MICROPY_ENABLE_GC (1)
/* rgc keeps a finaliser table and its sweep consults it; MicroPython's ports build with finalisers. The
 * workloads allocate without the finaliser flag, so no finaliser ever runs. */
#define MICROPY_ENABLE_FINALISER (1)
#define MICROPY_GC_SPLIT_HEAP (0)
/* MICROPY_BYTES_PER_GC_BLOCK: the build passes the RGC_BLOCK_BYTES of the rgc column it is compared
 * with; mpconfig.h's default (4 words: 32 B on 64-bit hosts, 16 B on Cortex-M) is rgc's default too. */
#define MICROPY_ENABLE_SCHEDULER (0)
#define MICROPY_PY_THREAD (0)
#define MICROPY_ENABLE_PYSTACK (0)
#define MICROPY_PY_GC_COLLECT_RETVAL (0)
#define MICROPY_DEBUG_VERBOSE (0)
#define MICROPY_PY_BUILTINS_FLOAT (0)
#define MICROPY_PY_BUILTINS_BYTEARRAY (0)
#define MICROPY_PY_ARRAY (0)

typedef intptr_t mp_int_t;
typedef uintptr_t mp_uint_t;
typedef long mp_off_t;
#define MP_SSIZE_MAX INTPTR_MAX
#define MICROPY_HW_BOARD_NAME "rgc-bench"
#define MICROPY_HW_MCU_NAME "host"
