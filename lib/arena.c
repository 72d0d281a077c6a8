/*
 * Growable bump arena. Blocks form a list; the newest block is the current one. When a
 * request does not fit, a new block of max(2 * last, request) bytes is added. On reset, a
 * multi-block arena is replaced by a single block of its total size, so a steady training
 * loop settles on one block and allocates nothing from the system per step.
 */
#include <string.h>

#include "internal.h"

#define ALIGN 64
#define DEFAULT_BYTES (1u << 20)

typedef struct block {
    struct block *prev;
    size_t size; /* usable bytes after the header */
    size_t used;
    unsigned char *base; /* ALIGN-aligned start of usable memory */
} block;

struct gp_arena {
    block *head;
    size_t used_total;     /* bytes handed out since reset (in all blocks) */
    size_t reserved_total; /* usable bytes of all blocks */
};

static block *block_new(size_t size)
{
    size_t bytes = sizeof(block) + ALIGN + size;
    if (bytes < size) return NULL;
    block *b = gp_i_malloc(bytes);
    if (!b) return NULL;
    uintptr_t start = ((uintptr_t)(b + 1) + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
    b->base = (unsigned char *)start;
    gp_i_advise_huge(b->base, size); /* fewer first-touch faults on large blocks */
    b->size = size;
    b->used = 0;
    b->prev = NULL;
    return b;
}

gp_status gp_arena_new(gp_arena **out, size_t initial_bytes)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_arena_new: out is NULL");
    *out = NULL;
    gp_arena *a = gp_i_calloc(1, sizeof *a);
    if (!a) return GP_ERR(GP_E_NOMEM, "gp_arena_new: out of memory");
    a->head = block_new(initial_bytes ? initial_bytes : DEFAULT_BYTES);
    if (!a->head) {
        gp_i_free(a);
        return GP_ERR(GP_E_NOMEM, "gp_arena_new: out of memory");
    }
    a->reserved_total = a->head->size;
    *out = a;
    return GP_OK;
}

static void free_blocks(block *b)
{
    while (b) {
        block *prev = b->prev;
        gp_i_free(b);
        b = prev;
    }
}

void gp_arena_free(gp_arena **arena)
{
    if (!arena || !*arena) return;
    free_blocks((*arena)->head);
    gp_i_free(*arena);
    *arena = NULL;
}

void *gp_arena_alloc(gp_arena *a, size_t bytes)
{
    size_t need = (bytes + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need < bytes) {
        GP_ERR(GP_E_NOMEM, "arena: request of %zu bytes overflows", bytes);
        return NULL;
    }
    block *b = a->head;
    if (b->size - b->used < need) {
        size_t size = b->size * 2 > need ? b->size * 2 : need;
        block *nb = block_new(size);
        if (!nb) {
            GP_ERR(GP_E_NOMEM, "arena: out of memory growing by %zu bytes", size);
            return NULL;
        }
        nb->prev = b;
        a->head = b = nb;
        a->reserved_total += size;
    }
    void *p = b->base + b->used;
    b->used += need;
    a->used_total += need;
    return p;
}

void *gp_arena_calloc(gp_arena *a, size_t bytes)
{
    void *p = gp_arena_alloc(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void gp_arena_reset(gp_arena *a)
{
    if (a->head->prev) {
        /* Merge into one block of the total size; keep the blocks if that fails. */
        block *merged = block_new(a->reserved_total);
        if (merged) {
            free_blocks(a->head);
            a->head = merged;
        } else {
            for (block *b = a->head; b; b = b->prev) b->used = 0;
        }
    }
    a->head->used = 0;
    a->used_total = 0;
}

bool gp_i_arena_release_from(gp_arena *a, const void *p)
{
    block *b = a->head;
    const unsigned char *q = p;
    if (!q || q < b->base || q >= b->base + b->used) return false;
    size_t off = (size_t)(q - b->base);
    a->used_total -= b->used - off;
    b->used = off;
    return true;
}

size_t gp_arena_used(const gp_arena *a) { return a->used_total; }
size_t gp_arena_reserved(const gp_arena *a) { return a->reserved_total; }
