/* rgc_ctx.c - calling contexts: the out-of-line part (see rgc_ctx.h; docs/design.md section 4). */
#include "rgc_internal.h"

bool rgc_ctx_object_busy_slow(rgc_core *h, rgc_ctx c, size_t b) {
#if RGC_SINGLE_CONTEXT
    (void)h; (void)c; (void)b;
    return false;
#endif
    size_t op = SLOT_VALUE(b, SLOT_OP), claim = SLOT_VALUE(b, SLOT_CLAIM);
    for (unsigned level = 0; level <= c.level; level++) {
        unsigned depth = level == c.level
                             ? c.depth
                             : atomic_load_explicit(&h->depth[level], memory_order_relaxed);
        for (unsigned d = 0; d < depth && d < RGC_MAX_NEST; d++) {
            size_t v = sz_load(&h->in_progress[level][d]);
            if (v == op || v == claim)
                return true;
        }
    }
    return false;
}

void rgc_count_misuse(rgc_core *h) {
    rgc_ctx c;
    if (!rgc_ctx_enter(h, &c))
        return; /* counted there */
    stat_inc(h, &h->misuse);
    ctx_leave(h, &c);
}

