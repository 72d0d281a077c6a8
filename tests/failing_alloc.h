/*
 * Failing, counting allocator for out-of-memory tests (SQLite style), shared by the tests.
 *
 * fa_allocator() returns a gp_allocator whose malloc/calloc/realloc count every call in
 * fa_state.count (0-based ordinal) and return NULL for the call numbered fa_state.fail_at
 * (-1: never fail); fa_state.live counts the blocks allocated and not yet freed (realloc of NULL
 * is an allocation). fa_reset(n) arms failure n and zeroes both counters.
 *
 * fa_every_failure(what, workload, ctx) runs the whole loop: one run that fails nothing (it must
 * succeed; its allocation count is the total), then one run with each allocation 0..total-1
 * failing in turn. Every run must end either in GP_OK (a failure the library absorbs by design)
 * or in GP_E_NOMEM with a non-empty gp_last_error(), and must leave fa_state.live where it was
 * before the run (zero after fa_reset; tests that keep blocks of their own alive across the loop
 * compare against that). The caller installs the allocator (gp_set_allocator(fa_allocator()))
 * around the call; the workload frees everything it made, also on success, and may check more.
 */
#ifndef GP_TEST_FAILING_ALLOC_H
#define GP_TEST_FAILING_ALLOC_H

#include <stdbool.h>
#include <stdlib.h>

#include <graphpool/graphpool.h>

static struct {
    long fail_at; /* ordinal of the allocation to fail, -1: never */
    long count;   /* allocations attempted since the last reset */
    long live;    /* blocks allocated and not yet freed */
} fa_state = {-1, 0, 0};

static inline void fa_reset(long fail_at)
{
    fa_state.fail_at = fail_at;
    fa_state.count = 0;
    fa_state.live = 0;
}

static inline bool fa_should_fail(void) { return fa_state.count++ == fa_state.fail_at; }

static inline void *fa_malloc(size_t n)
{
    if (fa_should_fail()) return NULL;
    void *p = malloc(n);
    if (p) fa_state.live++;
    return p;
}

static inline void *fa_calloc(size_t count, size_t size)
{
    if (fa_should_fail()) return NULL;
    void *p = calloc(count, size);
    if (p) fa_state.live++;
    return p;
}

static inline void *fa_realloc(void *p, size_t n)
{
    if (fa_should_fail()) return NULL;
    void *q = realloc(p, n);
    if (q && !p) fa_state.live++;
    return q;
}

static inline void fa_free(void *p)
{
    if (p) fa_state.live--;
    free(p);
}

static inline const gp_allocator *fa_allocator(void)
{
    static const gp_allocator allocator = {fa_malloc, fa_calloc, fa_realloc, fa_free};
    return &allocator;
}

typedef gp_status (*fa_workload)(void *ctx);

typedef struct fa_result {
    long total;    /* allocations made by the run that fails none */
    long failures; /* runs (of total) that ended in GP_E_NOMEM */
    long first_ok; /* the first failing allocation the workload survived (total if none) */
} fa_result;

/* The loop described at the top; fails the cmocka test on the first unclean run. Needs
 * <cmocka.h> (and its prerequisites) included before this header. */
static inline fa_result fa_every_failure(const char *what, fa_workload workload, void *ctx)
{
    fa_result res = {0, 0, -1};
    long base = fa_state.live;
    fa_state.fail_at = -1, fa_state.count = 0;
    gp_clear_error();
    gp_status st = workload(ctx);
    if (st != GP_OK)
        fail_msg("%s: fails with no allocation failing: %s: %s", what, gp_status_name(st), gp_last_error());
    if (fa_state.live != base)
        fail_msg("%s: leaves %ld blocks alive with no allocation failing", what, fa_state.live - base);
    res.total = fa_state.count;
    for (long n = 0; n < res.total; n++) {
        fa_state.fail_at = n, fa_state.count = 0;
        gp_clear_error();
        st = workload(ctx);
        if (fa_state.live != base)
            fail_msg("%s: allocation %ld of %ld failing leaves %ld blocks alive", what, n, res.total,
                     fa_state.live - base);
        if (st == GP_OK) {
            if (res.first_ok < 0) res.first_ok = n;
            continue;
        }
        if (st != GP_E_NOMEM || gp_last_error()[0] == '\0')
            fail_msg("%s: allocation %ld of %ld failing gives %s: '%s'", what, n, res.total,
                     gp_status_name(st), gp_last_error());
        res.failures++;
    }
    if (res.first_ok < 0) res.first_ok = res.total;
    fa_state.fail_at = -1;
    return res;
}

#endif
