/* rgc_ctx.h - calling contexts: which level and nesting depth a public call runs at, and the in-progress
 * slots it publishes (docs/design.md section 4, I7). Included by rgc_internal.h. */
#ifndef RGC_CTX_H
#define RGC_CTX_H
#ifndef RGC_INTERNAL_H
#error "include rgc_internal.h, not this file"
#endif

/* In-progress slots (docs/design.md section 4, I7): each context publishes the block it is working on
 * before touching it.
 * The collector treats every published block as a root; operations that modify an existing object
 * refuse an object another suspended context is modifying. Encoding: (1 + block) << 1 | kind. */
enum { SLOT_OP = 0u, SLOT_CLAIM = 1u };
#define SLOT_VALUE(b, kind) ((((size_t)(b) + 1u) << 1) | (kind))
#define SLOT_BLOCK(v) (((v) >> 1) - 1u)

/* ---- calling contexts ----------------------------------------------------------------------- */

/* One public call at one level and nesting depth. Only code at `level` writes depth[level] and
 * in_progress[level][*]; contexts at the same level never preempt each other, so plain atomic
 * load/store suffice there. */
typedef struct {
    unsigned level;
    unsigned depth;
} rgc_ctx;

RGC_HOT void ctx_leave(rgc_core *h, const rgc_ctx *c) {
    /* Only this level's own calls change its depth, and they nest: ours is the innermost. */
    RGC_ASSERT(u8_load(&h->depth[c->level]) == c->depth + 1u);
    /* The slot stays published (stale): the result may still live only in a register of the caller,
     * so a collection right now must keep it. It is overwritten by the next call at this depth. */
    u8_store(&h->depth[c->level], (uint8_t)c->depth);
}
RGC_HOT void ctx_publish(rgc_core *h, const rgc_ctx *c, size_t b, unsigned kind) {
#if RGC_SINGLE_CONTEXT
    (void)h; (void)c; (void)b; (void)kind; /* nothing can run in the middle of an operation */
#else
    sz_store(&h->in_progress[c->level][c->depth], SLOT_VALUE(b, kind));
#endif
}
/* The object is released: nothing is in progress on it any more, and the block may be someone
 * else's object a moment from now (keeping SLOT_OP would make their free look like a double free). */
RGC_HOT void ctx_unpublish(rgc_core *h, const rgc_ctx *c) {
#if RGC_SINGLE_CONTEXT
    (void)h; (void)c;
#else
    sz_store(&h->in_progress[c->level][c->depth], 0);
#endif
}
/* Level and depth of a new call, or false (counted as misuse) when either is out of range. */
RGC_HOT bool ctx_reserve(rgc_core *h, rgc_ctx *c) {
#if RGC_SINGLE_CONTEXT
    unsigned level = 0;
#else
    unsigned level = rgc_port_level();
#endif
    if (level >= RGC_MAX_LEVELS) {
        stat_inc(h, &h->misuse);
        return false;
    }
    unsigned depth = atomic_load_explicit(&h->depth[level], memory_order_relaxed);
    if (depth >= RGC_MAX_NEST) {
        stat_inc(h, &h->misuse);
        return false;
    }
    c->level = level;
    c->depth = depth;
    return true;
}

RGC_HOT bool rgc_ctx_enter(rgc_core *h, rgc_ctx *c) {
    if (!ctx_reserve(h, c))
        return false;
    /* Clear the previous call's stale slot before the depth says it is live, so that no one takes
     * it for an operation in progress (rgc_ctx_object_busy reads slots below depth). */
    ctx_unpublish(h, c);
    u8_store(&h->depth[c->level], (uint8_t)(c->depth + 1u));
    return true;
}

/* Only raise the busy depth (rgc_busy_depth) for a call that publishes nothing (rgc_swap): the slot
 * at this depth keeps the previous call's stale value, which may still be the only trace of its
 * result. A stale value read as "in progress" only defers a free to the collector. */
RGC_HOT bool rgc_ctx_enter_busy(rgc_core *h, rgc_ctx *c) {
    if (!ctx_reserve(h, c))
        return false;
    u8_store(&h->depth[c->level], (uint8_t)(c->depth + 1u));
    return true;
}

/* True when a context below c (a lower level, or an outer call at c's level) is inside an rgc call.
 * Such a context may hold a decision taken under the current state - the colour of the object it is
 * claiming, the limit it searches below, whether to defer a free - so that state must not move under
 * it: a collection in progress does not advance, a reserve is not raised (RGC_BUSY instead). */
RGC_HOT bool ctx_below_busy(rgc_core *h, const rgc_ctx *c) {
    if (c->depth > 0)
        return true;
    for (unsigned level = 0; level < c->level; level++)
        if (atomic_load_explicit(&h->depth[level], memory_order_relaxed) != 0)
            return true;
    return false;
}

/* True if a suspended context (a lower level, or an outer call of this level) has published block b.
 * Then the caller cannot know whether b is still the object it means: that context may be freeing or
 * resizing it (a racing double free - misuse), may be claiming it, or may just have released it so
 * that b is a new object (the caller's legitimate one). Whichever it is, the caller must not release
 * or extend b: it leaves b to the collector, which frees it once unreachable. */
/* (c by value: a context whose address escaped would be reloaded after every publishing store's
 * compiler fence) */
bool rgc_ctx_object_busy_slow(rgc_core *h, rgc_ctx c, size_t b);
RGC_HOT bool rgc_ctx_object_busy(rgc_core *h, const rgc_ctx *c, size_t b) {
    /* The outermost call of thread level has no context below it: nothing to look at. */
    return (c->level | c->depth) != 0 && rgc_ctx_object_busy_slow(h, *c, b);
}

/* Count a misuse from inside a context, so that rgc_busy_depth() covers the (possibly masked)
 * counter update: a runtime never unwinds out of it. */
void rgc_count_misuse(rgc_core *h);


#endif /* RGC_CTX_H */
