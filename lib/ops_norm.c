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
 * n - 1) for running_var, as PyTorch does. A training batch of fewer than 2 rows has no
 * variance to estimate (PyTorch raises an error): it is normalised with the running statistics,
 * as in eval mode (dx = r dxh), and leaves them unchanged, so that a minibatch that happens to
 * hold one node (GIN's MLP on a one-node graph) or one pair does not stop a training run. It
 * needs running_mean and running_var. Means and variances are accumulated in double,
 * two-pass (mean first, then squared deviations), and kept in tape memory for backward; layer
 * norm's elementwise work (normalise, scale, its backward) runs in float, and its backward
 * adds dgamma / dbeta in the same pass as dx (in fixed row parts, in parallel).
 */
#include <math.h>
#include <string.h>

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

/*
 * Row kernels, built three times from one macro: 2-double SSE2 vectors, 4-double AVX2 vectors
 * and 8-double AVX-512 vectors, the widest the CPU has chosen at run time (GP_SIMD, gp_i_simd_level;
 * AVX-512 over AVX2: GPN's PROTEINS epoch -6 ms of ~256 in paired runs, docs/benchmarks.md
 * "Session 16"). Row sums accumulate in double in NACC = 16
 * interleaved partial sums (entry j goes to partial sum j mod 16, each a vector lane in every
 * build), combined pairwise in a fixed order: all builds give the same bits (no FMA under
 * ISO C's -ffp-contract=off), the result is deterministic, and the dependency chains are
 * short enough not to stall (four partial sums, as before, left the double additions
 * latency-bound; the statistics differ from those in the last bits of a double). The
 * partial sums are vectors in registers, not a zero-initialised array (whose memset cost
 * more than a 128-wide row's arithmetic).
 */
#define NACC 16
typedef float v2f __attribute__((vector_size(8)));
typedef double v2d __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32))); /* v4f, v8f: internal.h */
typedef double v8d __attribute__((vector_size(64)));
#if defined(__GNUC__) && !defined(__clang__)
#define UNROLL_ACC _Pragma("GCC unroll 8")
#else
#define UNROLL_ACC
#endif

static double combine(const double *s)
{
    double t[NACC / 2];
    for (int q = 0; q < NACC / 2; q++) t[q] = s[q] + s[q + NACC / 2];
    return ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]));
}

/* L floats at p as a vector of L doubles (inlined into either build). */
static inline v2d load_cvt_v2d(const float *p)
{
    v2f v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, v2d);
}

#ifdef GP_I_VEC_WIDE
__attribute__((target("avx2"))) static inline v4d load_cvt_v4d(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, v4d);
}
__attribute__((target("avx512f"))) static inline v8d load_cvt_v8d(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, v8d);
}
#endif
#define LOAD_CVT(VF, VD, p) load_cvt_##VD(p)

/*
 * NAME_forward: statistics in double (mean first, then squared deviations), the normalisation
 * in float in one pass with gamma and beta (the same operations, in the same order, as three
 * passes).
 * NAME_backward: d = dy gamma, xh = (x - mu) r: dx (+)= r (d - mean(d) - xh mean(d xh)); the
 * two means in double, the rest in float (d and xh recomputed rather than stored). With acc_g
 * / acc_b (the accumulators of a part of the rows, layer_norm_backward) the row's terms of
 * dgamma and dbeta are added too, acc_g[j] += dy xh and acc_b[j] += dy in double, so x and dy
 * are read once instead of twice.
 */
#define DEFINE_LN_KERNELS(NAME, ATTR, VF, VD)                                                  \
    ATTR static void NAME##_forward(const float *x, float *y, int64_t cols, const float *gamma, \
                                    const float *beta, double eps, double *stats)              \
    {                                                                                          \
        enum { L = (int)(sizeof(VD) / sizeof(double)), A = NACC / L };                         \
        VD acc[A];                                                                             \
        double s[NACC];                                                                        \
        UNROLL_ACC for (int q = 0; q < A; q++) acc[q] = (VD){0};                               \
        int64_t j = 0;                                                                         \
        for (; j + NACC <= cols; j += NACC)                                                    \
            UNROLL_ACC for (int q = 0; q < A; q++) acc[q] += LOAD_CVT(VF, VD, x + j + q * L);  \
        UNROLL_ACC for (int q = 0; q < A; q++) memcpy(s + q * L, &acc[q], sizeof(VD));         \
        for (int64_t k = j; k < cols; k++) s[k % NACC] += x[k];                                \
        double mu = combine(s) / (double)cols;                                                 \
        VD muv = (VD){0} + mu;                                                                 \
        UNROLL_ACC for (int q = 0; q < A; q++) acc[q] = (VD){0};                               \
        for (j = 0; j + NACC <= cols; j += NACC)                                               \
            UNROLL_ACC for (int q = 0; q < A; q++) {                                           \
                VD d = LOAD_CVT(VF, VD, x + j + q * L) - muv;                                  \
                acc[q] += d * d;                                                               \
            }                                                                                  \
        UNROLL_ACC for (int q = 0; q < A; q++) memcpy(s + q * L, &acc[q], sizeof(VD));         \
        for (int64_t k = j; k < cols; k++) s[k % NACC] += ((double)x[k] - mu) * ((double)x[k] - mu); \
        double r = 1.0 / sqrt(combine(s) / (double)cols + eps);                                \
        stats[0] = mu;                                                                         \
        stats[1] = r;                                                                          \
        float muf = (float)mu, rf = (float)r;                                                  \
        if (gamma && beta)                                                                     \
            for (j = 0; j < cols; j++) y[j] = ((x[j] - muf) * rf) * gamma[j] + beta[j];        \
        else if (gamma)                                                                        \
            for (j = 0; j < cols; j++) y[j] = ((x[j] - muf) * rf) * gamma[j];                  \
        else if (beta)                                                                         \
            for (j = 0; j < cols; j++) y[j] = (x[j] - muf) * rf + beta[j];                     \
        else                                                                                   \
            for (j = 0; j < cols; j++) y[j] = (x[j] - muf) * rf;                               \
    }                                                                                          \
                                                                                               \
    ATTR static void NAME##_backward(const float *x, const float *dy, float *dx, int64_t cols, \
                                     const float *gamma, const double *stats, bool assign,     \
                                     double *acc_g, double *acc_b)                             \
    {                                                                                          \
        enum { L = (int)(sizeof(VD) / sizeof(double)), A = NACC / L };                         \
        float mu = (float)stats[0], r = (float)stats[1];                                       \
        VD as[A], ax[A];                                                                       \
        double s[NACC], sx[NACC];                                                              \
        UNROLL_ACC for (int q = 0; q < A; q++) as[q] = ax[q] = (VD){0};                        \
        int64_t j = 0;                                                                         \
        for (; j + NACC <= cols; j += NACC)                                                    \
            UNROLL_ACC for (int q = 0; q < A; q++) {                                           \
                VF dv, xv, gv;                                                                 \
                memcpy(&dv, dy + j + q * L, sizeof dv);                                        \
                memcpy(&xv, x + j + q * L, sizeof xv);                                         \
                VF xh = (xv - mu) * r;                                                         \
                if (acc_g) {                                                                   \
                    VD g0;                                                                     \
                    memcpy(&g0, acc_g + j + q * L, sizeof g0);                                 \
                    g0 += __builtin_convertvector(dv * xh, VD);                                \
                    memcpy(acc_g + j + q * L, &g0, sizeof g0);                                 \
                }                                                                              \
                if (acc_b) {                                                                   \
                    VD b0;                                                                     \
                    memcpy(&b0, acc_b + j + q * L, sizeof b0);                                 \
                    b0 += __builtin_convertvector(dv, VD);                                     \
                    memcpy(acc_b + j + q * L, &b0, sizeof b0);                                 \
                }                                                                              \
                if (gamma) {                                                                   \
                    memcpy(&gv, gamma + j + q * L, sizeof gv);                                 \
                    dv = dv * gv;                                                              \
                }                                                                              \
                as[q] += __builtin_convertvector(dv, VD);                                      \
                ax[q] += __builtin_convertvector(dv * xh, VD);                                 \
            }                                                                                  \
        UNROLL_ACC for (int q = 0; q < A; q++) {                                               \
            memcpy(s + q * L, &as[q], sizeof(VD));                                             \
            memcpy(sx + q * L, &ax[q], sizeof(VD));                                            \
        }                                                                                      \
        for (int64_t k = j; k < cols; k++) {                                                   \
            float xh = (x[k] - mu) * r, d = gamma ? dy[k] * gamma[k] : dy[k];                  \
            if (acc_g) acc_g[k] += (double)(dy[k] * xh);                                       \
            if (acc_b) acc_b[k] += (double)dy[k];                                              \
            s[k % NACC] += d;                                                                  \
            sx[k % NACC] += (double)(d * xh);                                                  \
        }                                                                                      \
        float mean_d = (float)(combine(s) / (double)cols);                                     \
        float mean_dx = (float)(combine(sx) / (double)cols);                                   \
        if (assign)                                                                            \
            for (j = 0; j < cols; j++) {                                                       \
                float d = gamma ? dy[j] * gamma[j] : dy[j];                                    \
                dx[j] = r * (d - mean_d - ((x[j] - mu) * r) * mean_dx);                        \
            }                                                                                  \
        else                                                                                   \
            for (j = 0; j < cols; j++) {                                                       \
                float d = gamma ? dy[j] * gamma[j] : dy[j];                                    \
                dx[j] += r * (d - mean_d - ((x[j] - mu) * r) * mean_dx);                       \
            }                                                                                  \
    }

DEFINE_LN_KERNELS(ln_sse2, , v2f, v2d)
#ifdef GP_I_VEC_WIDE
DEFINE_LN_KERNELS(ln_avx2, __attribute__((target("avx2"))), v4f, v4d)
DEFINE_LN_KERNELS(ln_avx512, __attribute__((target("avx512f"))), v8f, v8d)
#endif

typedef void (*ln_forward_fn)(const float *x, float *y, int64_t cols, const float *gamma,
                              const float *beta, double eps, double *stats);
typedef void (*ln_backward_fn)(const float *x, const float *dy, float *dx, int64_t cols,
                               const float *gamma, const double *stats, bool assign,
                               double *acc_g, double *acc_b);

static ln_forward_fn pick_ln_forward(void)
{
#ifdef GP_I_VEC_WIDE
    int level = gp_i_simd_level();
    if (level == GP_SIMD_AVX512) return ln_avx512_forward;
    if (level == GP_SIMD_AVX2) return ln_avx2_forward;
#endif
    return ln_sse2_forward;
}

static ln_backward_fn pick_ln_backward(void)
{
#ifdef GP_I_VEC_WIDE
    int level = gp_i_simd_level();
    if (level == GP_SIMD_AVX512) return ln_avx512_backward;
    if (level == GP_SIMD_AVX2) return ln_avx2_backward;
#endif
    return ln_sse2_backward;
}

/* Rows per partial sum of dgamma / dbeta in layer norm's backward: at least 64, and at most 32
 * parts (a function of the row count only, so the bits do not depend on the thread count). */
static int64_t ln_part_rows(int64_t rows)
{
    int64_t per = (rows + 31) / 32;
    return per < 64 ? 64 : per;
}

/*
 * dx row by row, and dgamma / dbeta in the same pass: the rows are cut into fixed parts
 * (ln_part_rows), each part adds its rows' terms in order into its own double accumulators,
 * and the parts are then added in order. The parts run in parallel; the result is the same
 * for every thread count (tests/test_determinism.c).
 */
static gp_status layer_norm_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0], *gamma = n->in[1], *beta = n->in[2];
    const double *stats = n->p[0];
    int64_t rows = a->rows, cols = a->cols;
    if (!gp_i_needs_grad(a)) return affine_backward(t, n, stats, true);
    bool assign;
    float *ga = gp_i_grad_acc(t, a, &assign);
    if (!ga) return GP_E_NOMEM;
    const float *g = gamma ? gamma->data : NULL, *dy = n->out->grad;
    int nt = gp_i_threads();
    bool parallel = nt > 1 && rows * cols >= GP_PAR_MIN_WORK;
    ln_backward_fn row_backward = pick_ln_backward();
    bool need_g = gp_i_needs_grad(gamma), need_b = gp_i_needs_grad(beta);
    if (!need_g && !need_b) {
        GP_I_PARALLEL_FOR(parallel,
        for (int64_t i = 0; i < rows; i++)
            row_backward(a->data + i * cols, dy + i * cols, ga + i * cols, cols, g, stats + 2 * i,
                         assign, NULL, NULL););
        return GP_OK;
    }
    float *gg = need_g ? gp_i_grad(t, gamma) : NULL;
    float *gb = need_b ? gp_i_grad(t, beta) : NULL;
    if ((need_g && !gg) || (need_b && !gb)) return GP_E_NOMEM;
    int64_t per = ln_part_rows(rows), parts = (rows + per - 1) / per;
    size_t cells = gp_i_mul_size((size_t)parts, (size_t)(2 * cols)); /* per part: dgamma, dbeta */
    double *acc = gp_i_calloc(cells > 0 ? cells : 1, sizeof(double));
    if (!acc) return GP_E_NOMEM;
    GP_I_PARALLEL_FOR(parallel && parts > 1,
    for (int64_t q = 0; q < parts; q++) {
        double *pg = acc + q * 2 * cols, *pb = pg + cols;
        int64_t hi = (q + 1) * per < rows ? (q + 1) * per : rows;
        for (int64_t i = q * per; i < hi; i++)
            row_backward(a->data + i * cols, dy + i * cols, ga + i * cols, cols, g, stats + 2 * i,
                         assign, need_g ? pg : NULL, need_b ? pb : NULL);
    });
    for (int64_t q = 1; q < parts; q++) /* parts added in order into part 0 */
        for (int64_t j = 0; j < 2 * cols; j++) acc[j] += acc[q * 2 * cols + j];
    for (int64_t j = 0; j < cols; j++) {
        if (gg) gg[j] += (float)acc[j];
        if (gb) gb[j] += (float)acc[cols + j];
    }
    gp_i_free(acc);
    return GP_OK;
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
        ln_forward_fn row_forward = pick_ln_forward();
        GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < rows; i++)
            row_forward(a->data + i * cols, out->data + i * cols, cols, g, b, eps,
                           stats + 2 * i););
    }
    gp_tensor *in[3] = {a, gamma, beta};
    gp_node *n = gp_i_record(t, &layer_norm_op, out, 3, in);
    if (n) n->p[0] = stats;
    return gp_i_done(t, out);
}

/* ---- batch norm ---- */

/* i[0]: 1 if the batch statistics were used (training, >= 2 rows), 0 for fixed running
 * statistics (eval mode, or a training batch of fewer than 2 rows). */
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
    bool training = gp_i_training(t), batch_stats = training && rows >= 2;
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
    if (!batch_stats && (!running_mean || !running_var)) {
        if (training)
            GP_TAPE_FAIL(t, GP_E_INVALID, "batch norm: a training batch of %lld row(s) has no variance to "
                         "estimate and is normalised with running_mean and running_var, which are NULL",
                         (long long)rows);
        else
            GP_TAPE_FAIL(t, GP_E_INVALID, "batch norm: eval mode needs running_mean and running_var");
        return NULL;
    }
    gp_tensor *out = gp_i_out(t, rows, cols);
    if (!out) return NULL;
    /* stats[2j] = mean, stats[2j+1] = 1 / sqrt(var + eps) of column j */
    double *stats = gp_tape_alloc(t, gp_i_mul_size((size_t)(cols > 0 ? cols : 1), 2 * sizeof(double)));
    if (!stats) return NULL;
    if (batch_stats) {
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
        n->i[0] = batch_stats;
    }
    return gp_i_done(t, out);
}
