/*
 * Losses, each a 1 x 1 output L = s * sum_i l_i with s = 1/N (GP_REDUCE_MEAN) or 1 (SUM):
 *   mse:  l = (p - y)^2 per element (N = elements);              dp = s g 2 (p - y)
 *   bce:  l = max(x, 0) - x y + log(1 + e^-|x|) per element      dx = s g (sigmoid(x) - y)
 *         (the stable form of -y log sigmoid(x) - (1-y) log(1 - sigmoid(x)); N = elements)
 *   nll:  l_i = -logp[i, y_i] per row (N = rows);                dlogp[i, y_i] = -s g
 *   cross entropy, fused log-softmax + nll per row (N = rows):
 *         l_i = lse_i - x[i, y_i],  lse_i = m_i + log sum_j e^(x_ij - m_i),  m_i = max_j x_ij
 *         dx_ij = s g (e^(x_ij - lse_i) - [j == y_i])
 * g is the incoming gradient of L. Targets and labels are constants: gradients flow only to
 * pred / logits / logp. A target tensor that requires grad is deliberately ignored (it is not
 * a node input, so it neither triggers recording nor receives a gradient). Sums accumulate in
 * double; a mean over zero elements or rows is GP_E_SHAPE.
 */
#include <math.h>

#include "internal.h"

/* The reduction factor s, or a negative value (and a sticky error) when invalid. */
static float reduction_scale(gp_tape *t, const char *name, gp_reduction r, int64_t count)
{
    if (r == GP_REDUCE_SUM) return 1.0f;
    if (r != GP_REDUCE_MEAN) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "%s: unknown reduction %d", name, (int)r);
        return -1.0f;
    }
    if (count == 0) {
        GP_TAPE_FAIL(t, GP_E_SHAPE, "%s: mean over an empty input", name);
        return -1.0f;
    }
    return (float)(1.0 / (double)count);
}

static gp_tensor *scalar_out(gp_tape *t, double value)
{
    gp_tensor *out = gp_i_out(t, 1, 1);
    if (out) out->data[0] = (float)value;
    return out;
}

/* A node whose only input is x (targets stay out of the node on purpose). */
static void record_loss(gp_tape *t, const gp_op_info *op, gp_tensor *out, gp_tensor *x,
                        float scale, const void *target)
{
    gp_node *n = gp_i_record(t, op, out, 1, &x);
    if (n) {
        n->f[0] = scale;
        n->p[0] = target;
    }
}

/* Labels for a rows x classes input: NULL only when rows == 0, each in [0, classes). */
static bool check_labels(gp_tape *t, const char *name, const int64_t *labels, int64_t rows,
                         int64_t classes)
{
    if (rows > 0 && !labels) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "%s: labels is NULL", name);
        return false;
    }
    for (int64_t i = 0; i < rows; i++)
        if (labels[i] < 0 || labels[i] >= classes) {
            GP_TAPE_FAIL(t, GP_E_RANGE, "%s: label %lld of row %lld is outside [0, %lld)", name,
                         (long long)labels[i], (long long)i, (long long)classes);
            return false;
        }
    return true;
}

/* ---- mean squared error ---- */

static gp_status mse_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *pred = n->in[0];
    const gp_tensor *target = n->p[0];
    float *gp = gp_i_grad(t, pred);
    if (!gp) return GP_E_NOMEM;
    float k = 2.0f * n->f[0] * n->out->grad[0];
    int64_t size = gp_tensor_size(pred);
    for (int64_t i = 0; i < size; i++) gp[i] += k * (pred->data[i] - target->data[i]);
    return GP_OK;
}

static const gp_op_info mse_op = {"mse_loss", mse_backward};

gp_tensor *gp_mse_loss(gp_tape *t, gp_tensor *pred, gp_tensor *target, gp_reduction r)
{
    gp_tensor *in[2] = {pred, target};
    if (!gp_i_begin(t, 2, in)) return NULL;
    if (!GP_TAPE_CHECK(t, pred->rows == target->rows && pred->cols == target->cols,
                       "mse loss: pred is %lld x %lld, target %lld x %lld", (long long)pred->rows,
                       (long long)pred->cols, (long long)target->rows, (long long)target->cols))
        return NULL;
    int64_t size = gp_tensor_size(pred);
    float scale = reduction_scale(t, "mse loss", r, size);
    if (scale < 0.0f) return NULL;
    double sum = 0.0;
    for (int64_t i = 0; i < size; i++) {
        double d = (double)pred->data[i] - target->data[i];
        sum += d * d;
    }
    gp_tensor *out = scalar_out(t, sum * scale);
    if (!out) return NULL;
    record_loss(t, &mse_op, out, pred, scale, target);
    return gp_i_done(t, out);
}

/* ---- binary cross entropy on logits ---- */

static double sigmoid(double x)
{
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

static gp_status bce_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *x = n->in[0];
    const gp_tensor *target = n->p[0];
    float *gx = gp_i_grad(t, x);
    if (!gx) return GP_E_NOMEM;
    double k = (double)n->f[0] * n->out->grad[0];
    int64_t size = gp_tensor_size(x);
    for (int64_t i = 0; i < size; i++)
        gx[i] += (float)(k * (sigmoid(x->data[i]) - target->data[i]));
    return GP_OK;
}

static const gp_op_info bce_op = {"bce_logits_loss", bce_backward};

gp_tensor *gp_bce_logits_loss(gp_tape *t, gp_tensor *logits, gp_tensor *target, gp_reduction r)
{
    gp_tensor *in[2] = {logits, target};
    if (!gp_i_begin(t, 2, in)) return NULL;
    if (!GP_TAPE_CHECK(t, logits->rows == target->rows && logits->cols == target->cols,
                       "bce loss: logits are %lld x %lld, target %lld x %lld",
                       (long long)logits->rows, (long long)logits->cols, (long long)target->rows,
                       (long long)target->cols))
        return NULL;
    int64_t size = gp_tensor_size(logits);
    for (int64_t i = 0; i < size; i++) {
        float y = target->data[i];
        if (!(y >= 0.0f && y <= 1.0f)) {
            GP_TAPE_FAIL(t, GP_E_RANGE, "bce loss: target %g at row %lld, col %lld is not in [0, 1]",
                         (double)y, (long long)(i / target->cols), (long long)(i % target->cols));
            return NULL;
        }
    }
    float scale = reduction_scale(t, "bce loss", r, size);
    if (scale < 0.0f) return NULL;
    double sum = 0.0;
    for (int64_t i = 0; i < size; i++) {
        double x = logits->data[i], y = target->data[i];
        sum += fmax(x, 0.0) - x * y + log1p(exp(-fabs(x)));
    }
    gp_tensor *out = scalar_out(t, sum * scale);
    if (!out) return NULL;
    record_loss(t, &bce_op, out, logits, scale, target);
    return gp_i_done(t, out);
}

/* ---- negative log-likelihood ---- */

static gp_status nll_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *logp = n->in[0];
    const int64_t *labels = n->p[0];
    float *gl = gp_i_grad(t, logp);
    if (!gl) return GP_E_NOMEM;
    float k = n->f[0] * n->out->grad[0];
    for (int64_t i = 0; i < logp->rows; i++) gl[i * logp->cols + labels[i]] -= k;
    return GP_OK;
}

static const gp_op_info nll_op = {"nll_loss", nll_backward};

gp_tensor *gp_nll_loss(gp_tape *t, gp_tensor *logp, const int64_t *labels, gp_reduction r)
{
    if (!gp_i_begin(t, 1, &logp)) return NULL;
    if (!check_labels(t, "nll loss", labels, logp->rows, logp->cols)) return NULL;
    float scale = reduction_scale(t, "nll loss", r, logp->rows);
    if (scale < 0.0f) return NULL;
    double sum = 0.0;
    for (int64_t i = 0; i < logp->rows; i++) sum -= logp->data[i * logp->cols + labels[i]];
    gp_tensor *out = scalar_out(t, sum * scale);
    if (!out) return NULL;
    record_loss(t, &nll_op, out, logp, scale, labels);
    return gp_i_done(t, out);
}

/* ---- cross entropy (fused log-softmax + nll) ---- */

static double row_logsumexp(const float *x, int64_t cols)
{
    float m = x[0];
    for (int64_t j = 1; j < cols; j++)
        if (x[j] > m) m = x[j];
    double s = 0.0;
    for (int64_t j = 0; j < cols; j++) s += exp((double)x[j] - m);
    return m + log(s);
}

/* p[0] = labels, p[1] = log-sum-exp of each row (double, tape memory). */
static gp_status cross_entropy_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *x = n->in[0];
    const int64_t *labels = n->p[0];
    const double *lse = n->p[1];
    float *gx = gp_i_grad(t, x);
    if (!gx) return GP_E_NOMEM;
    double k = (double)n->f[0] * n->out->grad[0];
    int64_t rows = x->rows, cols = x->cols;
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < rows; i++) {
        const float *xi = x->data + i * cols;
        float *gi = gx + i * cols;
        for (int64_t j = 0; j < cols; j++)
            gi[j] += (float)(k * (exp((double)xi[j] - lse[i]) - (j == labels[i] ? 1.0 : 0.0)));
    });
    return GP_OK;
}

static const gp_op_info cross_entropy_op = {"cross_entropy_loss", cross_entropy_backward};

gp_tensor *gp_cross_entropy_loss(gp_tape *t, gp_tensor *logits, const int64_t *labels, gp_reduction r)
{
    if (!gp_i_begin(t, 1, &logits)) return NULL;
    int64_t rows = logits->rows, cols = logits->cols;
    if (!check_labels(t, "cross entropy loss", labels, rows, cols)) return NULL;
    float scale = reduction_scale(t, "cross entropy loss", r, rows);
    if (scale < 0.0f) return NULL;
    double *lse = gp_tape_alloc(t, gp_i_mul_size((size_t)(rows > 0 ? rows : 1), sizeof(double)));
    if (!lse) return NULL;
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < rows; i++) lse[i] = row_logsumexp(logits->data + i * cols, cols););
    double sum = 0.0; /* serial: the same sum for every thread count */
    for (int64_t i = 0; i < rows; i++) sum += lse[i] - logits->data[i * cols + labels[i]];
    gp_tensor *out = scalar_out(t, sum * scale);
    if (!out) return NULL;
    gp_node *n = gp_i_record(t, &cross_entropy_op, out, 1, &logits);
    if (n) {
        n->f[0] = scale;
        n->p[0] = labels;
        n->p[1] = lse;
    }
    return gp_i_done(t, out);
}
