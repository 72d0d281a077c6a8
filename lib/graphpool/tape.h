/*
 * The tape: reverse-mode automatic differentiation.
 *
 * Every op (ops.h) allocates its output in the tape's arena and, if any input requires a
 * gradient and recording is on, appends one node (op, inputs, output, saved arguments) to the
 * tape. gp_tape_backward(loss) seeds d loss / d loss = 1 and walks the nodes in reverse; each
 * node's backward adds into its inputs' gradients. Parameters accumulate into their own grad
 * buffers; temporaries get gradient buffers from the arena on first use, and once backward has
 * passed the node that produced a temporary, its grad is NULL again and the buffer is reused
 * for later ones (so backward can run twice on one tape: parameters and leaves accumulate both
 * passes, temporaries start afresh). Only the gradients of parameters and of leaf tensors are
 * meant to be read after backward: an intermediate tensor's grad may also share its buffer with
 * the output's gradient (add, sub, add_scalar and addmm hand their output gradient down without
 * a copy) and then hold other contributions too.
 *
 * Errors are sticky: an op that fails (bad shape, out of memory) returns NULL, records the
 * first error in the tape, and every later op given a NULL input returns NULL without a new
 * error. So a forward pass can be written as a chain of calls and checked once at the end
 * with gp_tape_status() (or by the NULL loss). gp_tape_reset() clears the error.
 *
 * Index arrays passed to ops (gather indices, segment offsets, graphs) are not copied: they
 * must stay valid and unchanged until the tape is reset.
 *
 * One training step: gp_tape_reset, forward, gp_tape_backward, optimiser step.
 */
#ifndef GRAPHPOOL_TAPE_H
#define GRAPHPOOL_TAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <graphpool/arena.h>
#include <graphpool/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gp_tape gp_tape;

GP_API gp_status gp_tape_new(gp_tape **out);
GP_API void gp_tape_free(gp_tape **tape);
/* Forget all nodes and temporaries (memory is kept for the next step); clears the error. */
GP_API void gp_tape_reset(gp_tape *tape);

/* Training mode (default true): dropout active, batch norm uses and updates batch statistics. */
GP_API void gp_tape_set_training(gp_tape *tape, bool training);
GP_API bool gp_tape_training(const gp_tape *tape);
/* Recording (default true). With recording off ops compute values only (inference). */
GP_API void gp_tape_set_recording(gp_tape *tape, bool recording);
GP_API bool gp_tape_recording(const gp_tape *tape);

/* First error since the last reset (GP_OK if none). */
GP_API gp_status gp_tape_status(const gp_tape *tape);

/* A zero-filled temporary in the arena (a constant: no gradient). */
GP_API gp_tensor *gp_tape_tensor(gp_tape *tape, int64_t rows, int64_t cols);
/* A temporary holding a copy of data (a constant input such as features or targets). */
GP_API gp_tensor *gp_tape_constant(gp_tape *tape, const float *data, int64_t rows, int64_t cols);
/* Raw arena memory that lives until the next reset (NULL and sticky error on failure). */
GP_API void *gp_tape_alloc(gp_tape *tape, size_t bytes);
GP_API gp_arena *gp_tape_arena(gp_tape *tape);

/* Back-propagate from a 1x1 loss. Returns the sticky error if the forward pass failed. */
GP_API gp_status gp_tape_backward(gp_tape *tape, gp_tensor *loss);
/* Back-propagate with an explicit output gradient (same shape as out). */
GP_API gp_status gp_tape_backward_from(gp_tape *tape, gp_tensor *out, const float *out_grad);

/* Number of recorded nodes, and the name of node i's op (for debugging and tests). */
GP_API size_t gp_tape_size(const gp_tape *tape);
GP_API const char *gp_tape_node_name(const gp_tape *tape, size_t i);

#ifdef __cplusplus
}
#endif
#endif
