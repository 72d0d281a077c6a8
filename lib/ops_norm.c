/*
 * Layer and batch normalisation. With statistics mu, var over a set S of n entries
 * (layer norm: the row, over columns; batch norm: the column, over rows):
 *   r = 1 / sqrt(var + eps),  xh = (x - mu) r,  y = xh gamma + beta
 * (gamma, beta 1 x cols, per column; NULL means 1 and 0). With dxh = dy gamma:
 *   dx = r (dxh - mean_S(dxh) - xh mean_S(dxh xh))    (statistics computed from x)
 *   dx = r dxh                                         (batch norm eval: fixed running stats)
 *   dgamma_j = sum_i dy_ij xh_ij,  dbeta_j = sum_i dy_ij.
 * var is the biased variance (divide by n). Batch norm in training also updates the running
 * statistics, r = (1 - momentum) r + momentum * batch, with the unbiased variance (divide by
 * n - 1) for running_var, as PyTorch does. Means and variances are accumulated in double,
 * two-pass (mean first, then squared deviations), and kept in tape memory for backward; layer
 * norm's elementwise work (normalise, scale, its backward) runs in float.
 */
#include <math.h>

#include "internal.h"

/* ---- shared checks ---- */

static bool check_affine(gp_tape *t, const char *op, const gp_tensor *v, const char *what,
                         int64_t cols)
{
    return GP_TAPE_CHECK(t, !v || (v->rows == 1 && v->cols == cols),
                         "%s: %s is %lld x %lld, expected 1 x %lld", op, what,
                         v ? (long long)v->rows : 0LL, v ? (long long)v->cols : 0LL,
                         (long long)cols);
}

/* dgamma_j += sum_i dy_ij xh_ij and dbeta_j += sum_i dy_ij, where xh_ij = (x_ij - mu) r with
 * (mu, r) = stats[2i], stats[2i+1] per row (by_row) or stats[2j], stats[2j+1] per column.
 * Accumulated down the rows in double, one accumulator per column (a fixed order). */
static gp_status affine_backward(gp_tape *t, gp_node *n, const double *stats, bool by_row)
{
    gp_tensor *a = n->in[0], *gamma = n->in[1], *beta = n->in[2];
    bool need_g = gp_i_needs_grad(gamma), need_b = gp_i_needs_grad(beta);
    if (!need_g && !need_b) return GP_OK;
    float *gg = need_g ? gp_i_grad(t, gamma) : NULL;
    float *gb = need_b ? gp_i_grad(t, beta) : NULL;
    if ((need_g && !gg) || (need_b && !gb)) return GP_E_NOMEM;
    int64_t rows = a->rows, cols = a->cols;
    double *acc_g = gp_i_calloc((size_t)(2 * cols > 0 ? 2 * cols : 1), sizeof(double));
    if (!acc_g) return GP_E_NOMEM;
    double *acc_b = acc_g + cols;
    const float *dy = n->out->grad;
    for (int64_t i = 0; i < rows; i++) { /* serial over rows: fixed summation order */
        const float *xi = a->data + i * cols, *di = dy + i * cols;
        if (by_row) {
            float mu = (float)stats[2 * i], r = (float)stats[2 * i + 1];
            for (int64_t j = 0; j < cols; j++) {
                acc_g[j] += (double)(di[j] * ((xi[j] - mu) * r));
                acc_b[j] += (double)di[j];
            }
        } else {
            for (int64_t j = 0; j < cols; j++) {
                float xh = (xi[j] - (float)stats[2 * j]) * (float)stats[2 * j + 1];
                acc_g[j] += (double)(di[j] * xh);
                acc_b[j] += (double)di[j];
            }
        }
    }
    for (int64_t j = 0; j < cols; j++) {
        if (gg) gg[j] += (float)acc_g[j];
        if (gb) gb[j] += (float)acc_b[j];
    }
    gp_i_free(acc_g);
    return GP_OK;
}

/* ---- layer norm ---- */

/* Sums of x and of x * y over a row in double, with four interleaved accumulators (a fixed
 * order, and four independent dependency chains instead of one). */
static double sum4(const float *x, int64_t n)
{
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t j = 0;
    for (; j + 4 <= n; j += 4)
        for (int q = 0; q < 4; q++) s[q] += x[j + q];
    for (; j < n; j++) s[0] += x[j];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static double sum_sq_dev4(const float *x, int64_t n, double mu)
{
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t j = 0;
    for (; j + 4 <= n; j += 4)
        for (int q = 0; q < 4; q++) {
            double d = (double)x[j + q] - mu;
            s[q] += d * d;
        }
    for (; j < n; j++) s[0] += ((double)x[j] - mu) * ((double)x[j] - mu);
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* Statistics in double; the normalisation itself in float (vectorisable). */
static void layer_norm_row(const float *x, float *y, int64_t cols, const float *gamma,
                           const float *beta, double eps, double *stats)
{
    double mu = sum4(x, cols) / (double)cols;
    double r = 1.0 / sqrt(sum_sq_dev4(x, cols, mu) / (double)cols + eps);
    stats[0] = mu;
    stats[1] = r;
    float muf = (float)mu, rf = (float)r;
    for (int64_t j = 0; j < cols; j++) y[j] = (x[j] - muf) * rf;
    if (gamma)
        for (int64_t j = 0; j < cols; j++) y[j] *= gamma[j];
    if (beta)
        for (int64_t j = 0; j < cols; j++) y[j] += beta[j];
}

/* d = dy gamma, xh = (x - mu) r: dx += r (d - mean(d) - xh mean(d xh)); the two means in
 * double (interleaved accumulators), the rest in float (d and xh are recomputed in the second
 * pass rather than stored). */
static void layer_norm_row_backward(const float *x, const float *dy, float *dx, int64_t cols,
                                    const float *gamma, const double *stats, bool assign)
{
    float mu = (float)stats[0], r = (float)stats[1];
    double s[4] = {0.0, 0.0, 0.0, 0.0}, sx[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t j = 0;
    for (; j + 4 <= cols; j += 4)
        for (int q = 0; q < 4; q++) {
            float d = gamma ? dy[j + q] * gamma[j + q] : dy[j + q];
            s[q] += d;
            sx[q] += (double)(d * ((x[j + q] - mu) * r));
        }
    for (; j < cols; j++) {
        float d = gamma ? dy[j] * gamma[j] : dy[j];
        s[0] += d;
        sx[0] += (double)(d * ((x[j] - mu) * r));
    }
    float mean_d = (float)(((s[0] + s[1]) + (s[2] + s[3])) / (double)cols);
    float mean_dx = (float)(((sx[0] + sx[1]) + (sx[2] + sx[3])) / (double)cols);
    for (int64_t k = 0; k < cols; k++) {
        float d = gamma ? dy[k] * gamma[k] : dy[k];
        float v = r * (d - mean_d - ((x[k] - mu) * r) * mean_dx);
        dx[k] = assign ? v : dx[k] + v;
    }
}

static gp_status layer_norm_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0], *gamma = n->in[1];
    const double *stats = n->p[0];
    int64_t rows = a->rows, cols = a->cols;
    if (gp_i_needs_grad(a)) {
        bool assign;
        float *ga = gp_i_grad_acc(t, a, &assign);
        if (!ga) return GP_E_NOMEM;
        const float *g = gamma ? gamma->data : NULL, *dy = n->out->grad;
        int nt = gp_i_threads();
        GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < rows; i++)
            layer_norm_row_backward(a->data + i * cols, dy + i * cols, ga + i * cols, cols, g,
                                    stats + 2 * i, assign););
    }
    return affine_backward(t, n, stats, true);
}

static const gp_op_info layer_norm_op = {"layer_norm", layer_norm_backward};

gp_tensor *gp_layer_norm(gp_tape *t, gp_tensor *a, gp_tensor *gamma, gp_tensor *beta, float eps)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    if (!check_affine(t, "layer norm", gamma, "gamma", a->cols) ||
        !check_affine(t, "layer norm", beta, "beta", a->cols))
        return NULL;
    if (!(eps >= 0.0f)) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "layer norm: eps %g is negative or NaN", (double)eps);
        return NULL;
    }
    int64_t rows = a->rows, cols = a->cols;
    gp_tensor *out = gp_i_out(t, rows, cols);
    if (!out) return NULL;
    double *stats = gp_tape_alloc(t, gp_i_mul_size((size_t)(rows > 0 ? rows : 1), 2 * sizeof(double)));
    if (!stats) return NULL;
    if (cols > 0) {
        const float *g = gamma ? gamma->data : NULL, *b = beta ? beta->data : NULL;
        int nt = gp_i_threads();
        GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < rows; i++)
            layer_norm_row(a->data + i * cols, out->data + i * cols, cols, g, b, eps,
                           stats + 2 * i););
    }
    gp_tensor *in[3] = {a, gamma, beta};
    gp_node *n = gp_i_record(t, &layer_norm_op, out, 3, in);
    if (n) n->p[0] = stats;
    return gp_i_done(t, out);
}

/* ---- batch norm ---- */

/* i[0]: 1 if the batch statistics were used (training), 0 for fixed running statistics. */
static gp_status batch_norm_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0], *gamma = n->in[1];
    const double *stats = n->p[0];
    bool batch_stats = n->i[0];
    int64_t rows = a->rows, cols = a->cols;
    const float *g = gamma ? gamma->data : NULL, *dy = n->out->grad;
    if (gp_i_needs_grad(a)) {
        float *ga = gp_i_grad(t, a);
        if (!ga) return GP_E_NOMEM;
        /* per column: mean of dxh and of dxh * xh over the rows (zero in eval mode) */
        double *mean_d = gp_i_calloc((size_t)(2 * cols > 0 ? 2 * cols : 1), sizeof(double));
        if (!mean_d) return GP_E_NOMEM;
        double *mean_dx = mean_d + cols;
        if (batch_stats) {
            for (int64_t i = 0; i < rows; i++)
                for (int64_t j = 0; j < cols; j++) {
                    double d = g ? (double)dy[i * cols + j] * g[j] : dy[i * cols + j];
                    mean_d[j] += d;
                    mean_dx[j] += d * ((double)a->data[i * cols + j] - stats[2 * j]) * stats[2 * j + 1];
                }
            for (int64_t j = 0; j < cols; j++) {
                mean_d[j] /= (double)rows;
                mean_dx[j] /= (double)rows;
            }
        }
        int nt = gp_i_threads();
        GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                double d = g ? (double)dy[i * cols + j] * g[j] : dy[i * cols + j];
                double xh = ((double)a->data[i * cols + j] - stats[2 * j]) * stats[2 * j + 1];
                ga[i * cols + j] += (float)(stats[2 * j + 1] * (d - mean_d[j] - xh * mean_dx[j]));
            });
        gp_i_free(mean_d);
    }
    return affine_backward(t, n, stats, false);
}

static const gp_op_info batch_norm_op = {"batch_norm", batch_norm_backward};

gp_tensor *gp_batch_norm(gp_tape *t, gp_tensor *a, gp_tensor *gamma, gp_tensor *beta,
                         gp_tensor *running_mean, gp_tensor *running_var, float momentum, float eps)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    int64_t rows = a->rows, cols = a->cols;
    bool training = gp_i_training(t);
    if (!check_affine(t, "batch norm", gamma, "gamma", cols) ||
        !check_affine(t, "batch norm", beta, "beta", cols) ||
        !check_affine(t, "batch norm", running_mean, "running_mean", cols) ||
        !check_affine(t, "batch norm", running_var, "running_var", cols))
        return NULL;
    if (!(eps >= 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f)) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "batch norm: need eps >= 0 and momentum in [0, 1] (got %g, %g)",
                     (double)eps, (double)momentum);
        return NULL;
    }
    if (!training && (!running_mean || !running_var)) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "batch norm: eval mode needs running_mean and running_var");
        return NULL;
    }
    if (!GP_TAPE_CHECK(t, !training || rows >= 2,
                       "batch norm: training needs at least 2 rows to estimate a variance "
                       "(got %lld rows; use eval mode for single samples)",
                       (long long)rows))
        return NULL;
    gp_tensor *out = gp_i_out(t, rows, cols);
    if (!out) return NULL;
    /* stats[2j] = mean, stats[2j+1] = 1 / sqrt(var + eps) of column j */
    double *stats = gp_tape_alloc(t, gp_i_mul_size((size_t)(cols > 0 ? cols : 1), 2 * sizeof(double)));
    if (!stats) return NULL;
    if (training) {
        for (int64_t j = 0; j < 2 * cols; j++) stats[j] = 0.0;
        for (int64_t i = 0; i < rows; i++) /* serial over rows: fixed summation order */
            for (int64_t j = 0; j < cols; j++) stats[2 * j] += a->data[i * cols + j];
        for (int64_t j = 0; j < cols; j++) stats[2 * j] /= (double)rows;
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                double dev = (double)a->data[i * cols + j] - stats[2 * j];
                stats[2 * j + 1] += dev * dev; /* sum of squared deviations for now */
            }
        for (int64_t j = 0; j < cols; j++) {
            double ss = stats[2 * j + 1];
            if (running_mean)
                running_mean->data[j] = (float)((1.0 - momentum) * running_mean->data[j] +
                                                (double)momentum * stats[2 * j]);
            if (running_var)
                running_var->data[j] = (float)((1.0 - momentum) * running_var->data[j] +
                                               (double)momentum * ss / (double)(rows - 1));
            stats[2 * j + 1] = 1.0 / sqrt(ss / (double)rows + eps);
        }
    } else {
        for (int64_t j = 0; j < cols; j++) {
            double var = (double)running_var->data[j] + eps;
            if (!(var > 0.0) || !isfinite(var)) {
                GP_TAPE_FAIL(t, GP_E_NUMERIC,
                             "batch norm: running_var + eps of column %lld is %g (must be > 0)",
                             (long long)j, var);
                return NULL;
            }
            stats[2 * j] = running_mean->data[j];
            stats[2 * j + 1] = 1.0 / sqrt(var);
        }
    }
    const float *g = gamma ? gamma->data : NULL, *b = beta ? beta->data : NULL;
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) {
            double v = ((double)a->data[i * cols + j] - stats[2 * j]) * stats[2 * j + 1];
            if (g) v *= g[j];
            if (b) v += b[j];
            out->data[i * cols + j] = (float)v;
        });
    gp_tensor *in[3] = {a, gamma, beta};
    gp_node *n = gp_i_record(t, &batch_norm_op, out, 3, in);
    if (n) {
        n->p[0] = stats;
        n->i[0] = training;
    }
    return gp_i_done(t, out);
}
