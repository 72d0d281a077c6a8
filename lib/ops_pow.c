/*
 * Powers with a tensor exponent (gp_pow) or a constant one (gp_pow_scalar).
 *
 *   y = a^p                 p is 1 x 1 or 1 x cols, broadcast down the rows (gp_pow)
 *   da = g p a^(p-1)        but 0 where a = 0 and p < 1 (the true value is infinite there)
 *   dp = sum g a^p log a    over the entries p was broadcast to; a = 0 contributes 0
 *
 * gp_pow needs a >= 0. gp_pow_scalar also allows negative a when p is an integer; for
 * non-integer p negative a has no real power and gives GP_E_NUMERIC. 0^p = 0 for p > 0 (and
 * powf's 1 for p = 0, infinity for p < 0).
 */
#include <math.h>

#include "internal.h"

/* d(a^p)/da with the safe value 0 at a = 0 for p < 1. */
static float pow_grad(float a, float p)
{
    if (a == 0.0f && p < 1.0f) return 0.0f;
    return p == 2.0f ? 2.0f * a : p * powf(a, p - 1.0f);
}

static float pow_value(float a, float p) { return p == 2.0f ? a * a : powf(a, p); }

/* Index of the first entry that is negative or NaN, or -1. */
static int64_t first_negative(const gp_tensor *a)
{
    for (int64_t i = 0; i < gp_tensor_size(a); i++)
        if (!(a->data[i] >= 0.0f)) return i;
    return -1;
}

static bool check_nonnegative(gp_tape *t, const gp_tensor *a, const char *what)
{
    int64_t bad = first_negative(a);
    if (bad < 0) return true;
    GP_TAPE_FAIL(t, GP_E_NUMERIC, "%s: base at row %lld, col %lld is %g (must be >= 0)", what,
                 (long long)(bad / a->cols), (long long)(bad % a->cols), (double)a->data[bad]);
    return false;
}

/* ---- tensor exponent ---- */

static gp_status pow_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0], *p = n->in[1], *y = n->out;
    int64_t rows = a->rows, cols = a->cols;
    bool per_col = p->cols > 1;
    const float *g = y->grad;
    if (gp_i_needs_grad(a)) {
        float *ga = gp_i_grad(t, a);
        if (!ga) return GP_E_NOMEM;
        int nt = gp_i_threads();
        GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                int64_t k = i * cols + j;
                ga[k] += g[k] * pow_grad(a->data[k], p->data[per_col ? j : 0]);
            });
    }
    if (gp_i_needs_grad(p)) {
        float *gp = gp_i_grad(t, p);
        double *acc = gp_tape_alloc(t, (size_t)p->cols * sizeof(double));
        if (!gp || !acc) return GP_E_NOMEM;
        for (int64_t j = 0; j < p->cols; j++) acc[j] = 0.0;
        for (int64_t i = 0; i < rows; i++) /* serial: a fixed summation order */
            for (int64_t j = 0; j < cols; j++) {
                int64_t k = i * cols + j;
                if (a->data[k] != 0.0f)
                    acc[per_col ? j : 0] += (double)g[k] * y->data[k] * log((double)a->data[k]);
            }
        for (int64_t j = 0; j < p->cols; j++) gp[j] += (float)acc[j];
    }
    return GP_OK;
}

static const gp_op_info pow_op = {"pow", pow_backward};

gp_tensor *gp_pow(gp_tape *t, gp_tensor *a, gp_tensor *p)
{
    gp_tensor *in[2] = {a, p};
    if (!gp_i_begin(t, 2, in)) return NULL;
    if (!GP_TAPE_CHECK(t, p->rows == 1 && (p->cols == 1 || p->cols == a->cols),
                       "pow: exponent is %lld x %lld, needs 1 x 1 or 1 x %lld",
                       (long long)p->rows, (long long)p->cols, (long long)a->cols))
        return NULL;
    if (!check_nonnegative(t, a, "pow")) return NULL;
    gp_tensor *y = gp_i_out(t, a->rows, a->cols);
    if (!y) return NULL;
    int64_t rows = a->rows, cols = a->cols;
    bool per_col = p->cols > 1;
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            y->data[i * cols + j] = pow_value(a->data[i * cols + j], p->data[per_col ? j : 0]););
    gp_i_record(t, &pow_op, y, 2, in);
    return gp_i_done(t, y);
}

/* ---- constant exponent ---- */

static gp_status pow_scalar_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0];
    float *ga = gp_i_grad(t, a);
    if (!ga) return GP_E_NOMEM;
    const float *g = n->out->grad;
    float p = n->f[0];
    int64_t size = gp_tensor_size(a);
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(size >= GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < size; i++) ga[i] += g[i] * pow_grad(a->data[i], p););
    return GP_OK;
}

static const gp_op_info pow_scalar_op = {"pow_scalar", pow_scalar_backward};

gp_tensor *gp_pow_scalar(gp_tape *t, gp_tensor *a, float p)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    bool integer = isfinite(p) && nearbyintf(p) == p;
    if (!integer && !check_nonnegative(t, a, "pow_scalar (non-integer exponent)")) return NULL;
    gp_tensor *y = gp_i_out(t, a->rows, a->cols);
    if (!y) return NULL;
    int64_t size = gp_tensor_size(a);
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(size >= GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < size; i++) y->data[i] = pow_value(a->data[i], p););
    gp_node *n = gp_i_record(t, &pow_scalar_op, y, 1, &a);
    if (n) n->f[0] = p;
    return gp_i_done(t, y);
}
