/* The pluggable allocator every library allocation goes through (tests plug in a failing one). */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

static gp_allocator current = {malloc, calloc, realloc, free};

void gp_set_allocator(const gp_allocator *allocator)
{
    if (allocator)
        current = *allocator;
    else
        current = (gp_allocator){malloc, calloc, realloc, free};
}

void *gp_i_malloc(size_t size) { return current.malloc_fn(size ? size : 1); }
void *gp_i_calloc(size_t count, size_t size)
{
    if (count == 0 || size == 0) return current.calloc_fn(1, 1);
    return current.calloc_fn(count, size);
}
void *gp_i_realloc(void *p, size_t size) { return current.realloc_fn(p, size ? size : 1); }
void gp_i_free(void *p)
{
    if (p) current.free_fn(p);
}
void gp_free(void *p) { gp_i_free(p); }

size_t gp_i_mul_size(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return SIZE_MAX;
    return count * size;
}

void gp_i_advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (!p || n < 2 * huge) return;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1), hi = ((uintptr_t)p + n) & ~(huge - 1);
    if (hi > lo) madvise((void *)lo, (size_t)(hi - lo), MADV_HUGEPAGE); /* advice only: errors ignored */
#else
    (void)p, (void)n;
#endif
}
