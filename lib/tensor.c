/* Long-lived tensors, parameters, views and initialisers. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static gp_status tensor_alloc(gp_tensor **out, const char *name, int64_t rows, int64_t cols,
                              bool param)
{
    if (!out) return GP_ERR(GP_E_INVALID, "tensor: out is NULL");
    *out = NULL;
    if (rows < 0 || cols < 0)
        return GP_ERR(GP_E_INVALID, "tensor: negative shape %lld x %lld", (long long)rows,
                      (long long)cols);
    gp_tensor *t = gp_i_calloc(1, sizeof *t);
    if (!t) return GP_ERR(GP_E_NOMEM, "tensor: out of memory");
    size_t n = gp_i_mul_size((size_t)rows, (size_t)cols);
    t->data = gp_i_calloc(n, sizeof(float));
    if (param) t->grad = gp_i_calloc(n, sizeof(float));
    if (!t->data || (param && !t->grad)) {
        gp_i_free(t->data);
        gp_i_free(t->grad);
        gp_i_free(t);
        return GP_ERR(GP_E_NOMEM, "tensor: out of memory for %lld x %lld", (long long)rows,
                      (long long)cols);
    }
    t->rows = rows;
    t->cols = cols;
    t->node = -1;
    t->flags = GP_TENSOR_OWNS_DATA | (param ? GP_TENSOR_PARAM | GP_TENSOR_REQUIRES_GRAD : 0);
    if (name) snprintf(t->name, sizeof t->name, "%s", name);
    *out = t;
    return GP_OK;
}

gp_status gp_tensor_new(gp_tensor **out, int64_t rows, int64_t cols)
{
    return tensor_alloc(out, NULL, rows, cols, false);
}

gp_status gp_param_new(gp_tensor **out, const char *name, int64_t rows, int64_t cols)
{
    return tensor_alloc(out, name, rows, cols, true);
}

void gp_tensor_free(gp_tensor **t)
{
    if (!t || !*t) return;
    if ((*t)->flags & GP_TENSOR_OWNS_DATA) {
        gp_i_free((*t)->data);
        gp_i_free((*t)->grad);
    }
    gp_i_free(*t);
    *t = NULL;
}

gp_tensor gp_tensor_view(float *data, int64_t rows, int64_t cols)
{
    gp_tensor v = {0};
    v.data = data;
    v.rows = rows;
    v.cols = cols;
    v.node = -1;
    return v;
}

gp_tensor gp_tensor_rows(const gp_tensor *t, int64_t r0, int64_t n)
{
    gp_tensor v = *t;
    v.data = t->data + r0 * t->cols;
    v.grad = t->grad ? t->grad + r0 * t->cols : NULL;
    v.rows = n;
    v.flags &= ~(uint32_t)GP_TENSOR_OWNS_DATA;
    v.node = -1;
    return v;
}

void gp_tensor_fill(gp_tensor *t, float value)
{
    int64_t n = gp_tensor_size(t);
    for (int64_t i = 0; i < n; i++) t->data[i] = value;
}

gp_status gp_tensor_copy(gp_tensor *dst, const gp_tensor *src)
{
    if (dst->rows != src->rows || dst->cols != src->cols)
        return GP_ERR(GP_E_SHAPE, "tensor copy: %lld x %lld into %lld x %lld",
                      (long long)src->rows, (long long)src->cols, (long long)dst->rows,
                      (long long)dst->cols);
    memmove(dst->data, src->data, (size_t)gp_tensor_size(src) * sizeof(float));
    return GP_OK;
}

void gp_tensor_zero_grad(gp_tensor *t)
{
    if (!t->grad) return;
    /* large tensors (the WalkPool classifier's 13 MB, cleared at every step) in one part per
     * thread, unless already inside a parallel region */
    int64_t n = gp_tensor_size(t);
    int nt = gp_i_in_parallel() ? 1 : gp_i_threads();
    GP_I_FOR_PARTS(n, n, lo, hi, memset(t->grad + lo, 0, (size_t)(hi - lo) * sizeof(float)););
}

gp_status gp_tensor_check_finite(const gp_tensor *t)
{
    int64_t n = gp_tensor_size(t);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(t->data[i]))
            return GP_ERR(GP_E_NUMERIC, "tensor '%s': non-finite value at row %lld, col %lld",
                          t->name, (long long)(i / t->cols), (long long)(i % t->cols));
    return GP_OK;
}

void gp_init_uniform(gp_tensor *w, gp_rng *rng, float lo, float hi)
{
    int64_t n = gp_tensor_size(w);
    for (int64_t i = 0; i < n; i++) w->data[i] = lo + (hi - lo) * gp_rng_uniform(rng);
}

static void init_normal(gp_tensor *w, gp_rng *rng, float std)
{
    int64_t n = gp_tensor_size(w);
    for (int64_t i = 0; i < n; i++) w->data[i] = std * gp_rng_normal(rng);
}

void gp_init_glorot_uniform(gp_tensor *w, gp_rng *rng, float gain)
{
    float a = gain * sqrtf(6.0f / (float)(w->rows + w->cols));
    gp_init_uniform(w, rng, -a, a);
}

void gp_init_glorot_normal(gp_tensor *w, gp_rng *rng, float gain)
{
    init_normal(w, rng, gain * sqrtf(2.0f / (float)(w->rows + w->cols)));
}

void gp_init_kaiming_uniform(gp_tensor *w, gp_rng *rng)
{
    float a = sqrtf(6.0f / (float)(w->rows > 0 ? w->rows : 1));
    gp_init_uniform(w, rng, -a, a);
}

void gp_init_kaiming_normal(gp_tensor *w, gp_rng *rng)
{
    init_normal(w, rng, sqrtf(2.0f / (float)(w->rows > 0 ? w->rows : 1)));
}
