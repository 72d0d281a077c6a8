/*
 * A growable bump arena for per-step temporaries (activations, intermediate gradients,
 * index scratch). Allocation is a pointer bump; when a block is full a new, larger block is
 * added instead of failing. gp_arena_reset() makes all memory reusable at once: after the
 * first step a training loop allocates nothing from the system (the blocks are merged into
 * one block of the high-water size on reset).
 */
#ifndef GRAPHPOOL_ARENA_H
#define GRAPHPOOL_ARENA_H

#include <stddef.h>
#include <graphpool/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gp_arena gp_arena;

/* initial_bytes may be 0 (a default is used). */
GP_API gp_status gp_arena_new(gp_arena **out, size_t initial_bytes);
GP_API void gp_arena_free(gp_arena **arena);
/* 64-byte aligned, uninitialised memory; NULL (and last error set) only if the system is out
 * of memory. bytes == 0 returns a valid unique pointer. */
GP_API void *gp_arena_alloc(gp_arena *arena, size_t bytes);
/* Same, zero-filled. */
GP_API void *gp_arena_calloc(gp_arena *arena, size_t bytes);
GP_API void gp_arena_reset(gp_arena *arena);
/* Bytes handed out since the last reset, and bytes reserved from the system. */
GP_API size_t gp_arena_used(const gp_arena *arena);
GP_API size_t gp_arena_reserved(const gp_arena *arena);

#ifdef __cplusplus
}
#endif
#endif
