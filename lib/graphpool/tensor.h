/*
 * Dense float32 tensors, row-major, 2-D (rows x cols). A batch of b small m x k matrices is
 * stored as one (b*m) x k tensor; ops that need batch semantics take b explicitly.
 *
 * Three kinds of tensor share this struct:
 * - long-lived tensors (gp_tensor_new): own their data, freed with gp_tensor_free;
 * - parameters (gp_param_new): long-lived, with a gradient buffer of the same shape that
 *   gp_tape_backward accumulates into until the optimiser zeroes it;
 * - tape temporaries (made by ops or gp_tape_tensor): live in the tape's arena until the
 *   tape is reset; never freed one by one.
 * A view (gp_tensor_view, gp_tensor_rows) points into memory it does not own.
 */
#ifndef GRAPHPOOL_TENSOR_H
#define GRAPHPOOL_TENSOR_H

#include <stdbool.h>
#include <stdint.h>
#include <graphpool/rng.h>
#include <graphpool/status.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    GP_TENSOR_OWNS_DATA = 1u << 0,     /* data (and grad) freed by gp_tensor_free */
    GP_TENSOR_PARAM = 1u << 1,         /* a trainable parameter: grad is its own buffer */
    GP_TENSOR_REQUIRES_GRAD = 1u << 2, /* gradients flow into this tensor */
};

typedef struct gp_tensor {
    float *data;      /* rows * cols values, row-major, contiguous */
    float *grad;      /* same shape, or NULL (allocated lazily for temporaries) */
    int64_t rows;
    int64_t cols;
    uint32_t flags;
    int32_t node;     /* index of the tape node that produced it, -1 for leaves */
    char name[48];    /* parameters: name used in checkpoints; may be empty */
} gp_tensor;

static inline int64_t gp_tensor_size(const gp_tensor *t) { return t->rows * t->cols; }
static inline float gp_tensor_at(const gp_tensor *t, int64_t i, int64_t j)
{
    return t->data[i * t->cols + j];
}

/* Long-lived zero-filled tensor. */
GP_API gp_status gp_tensor_new(gp_tensor **out, int64_t rows, int64_t cols);
/* Long-lived trainable parameter with a zeroed gradient buffer. name may be NULL. */
GP_API gp_status gp_param_new(gp_tensor **out, const char *name, int64_t rows, int64_t cols);
/* Frees a long-lived tensor or parameter and sets *t = NULL. NULL-safe. Must not be called on
 * tape temporaries or views. */
GP_API void gp_tensor_free(gp_tensor **t);

/* A non-owning view of caller memory (no gradient). */
GP_API gp_tensor gp_tensor_view(float *data, int64_t rows, int64_t cols);
/* A non-owning view of rows [r0, r0 + n) of t; the view shares data and, if present, grad. */
GP_API gp_tensor gp_tensor_rows(const gp_tensor *t, int64_t r0, int64_t n);

GP_API void gp_tensor_fill(gp_tensor *t, float value);
GP_API gp_status gp_tensor_copy(gp_tensor *dst, const gp_tensor *src); /* same shape */
GP_API void gp_tensor_zero_grad(gp_tensor *t);
/* GP_E_NUMERIC if any value is NaN or infinite. */
GP_API gp_status gp_tensor_check_finite(const gp_tensor *t);

/*
 * Initialisers for a fan_in x fan_out weight (X W convention: rows = fan_in, cols = fan_out).
 * Glorot/Xavier (Glorot & Bengio 2010): uniform on +-sqrt(6/(fan_in+fan_out)) * gain, or
 * normal with std gain*sqrt(2/(fan_in+fan_out)). Kaiming/He (He et al. 2015, fan_in mode,
 * ReLU gain sqrt(2)): uniform on +-sqrt(6/fan_in), or normal with std sqrt(2/fan_in).
 */
GP_API void gp_init_glorot_uniform(gp_tensor *w, gp_rng *rng, float gain);
GP_API void gp_init_glorot_normal(gp_tensor *w, gp_rng *rng, float gain);
GP_API void gp_init_kaiming_uniform(gp_tensor *w, gp_rng *rng);
GP_API void gp_init_kaiming_normal(gp_tensor *w, gp_rng *rng);
GP_API void gp_init_uniform(gp_tensor *w, gp_rng *rng, float lo, float hi);

#ifdef __cplusplus
}
#endif
#endif
