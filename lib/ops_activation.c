/*
 * Elementwise activations y = f(x); backward adds g * f'(x), written with whichever of x
 * and y is cheaper:
 *   relu      y = max(x, 0)                          f' = [x > 0] = [y > 0]
 *   leaky     y = x > 0 ? x : s x                    f' = x > 0 ? 1 : s
 *   elu       y = x > 0 ? x : alpha (e^x - 1)        f' = x > 0 ? 1 : y + alpha
 *   sigmoid   y = 1 / (1 + e^-x)                     f' = y (1 - y)
 *   tanh      y = tanh x                             f' = 1 - y^2
 *   exp       y = e^x                                f' = y
 *   log       y = log x (x > 0, else GP_E_NUMERIC)   f' = 1 / x
 *   softplus  y = max(x, 0) + log1p(e^-|x|)          f' = sigmoid(x)
 *   abs       y = |x|                                f' = sign(x) (0 at 0)
 *
 * Each op supplies two loop kernels over a contiguous range; one shared driver does the tape
 * bookkeeping and runs the kernels over fixed chunks in parallel. Kernels are called once per
 * chunk, not per element, so their loops stay inlinable and vectorisable.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

#define CHUNK 4096

/* y[i] = f(x[i]) for i < n, with the op's parameter p. */
typedef void (*unary_fwd)(float *y, const float *x, int64_t n, float p);
/* gx[i] += gy[i] * f'(x[i]) given input x and output y. */
typedef void (*unary_bwd)(float *gx, const float *gy, const float *x, const float *y, int64_t n,
                          float p);

typedef struct unary_def {
    gp_op_info info;
    unary_fwd forward;
    unary_bwd backward;
    unary_bwd backward_set; /* optional: gx[i] = gy[i] f'(x[i]) into a fresh buffer */
} unary_def;

static gp_status unary_backward(gp_tape *t, gp_node *n)
{
    const unary_def *def = n->p[0];
    gp_tensor *a = n->in[0], *y = n->out;
    bool assign;
    float *ga = gp_i_grad_acc(t, a, &assign);
    if (!ga) return GP_E_NOMEM;
    int64_t size = gp_tensor_size(a), chunks = (size + CHUNK - 1) / CHUNK;
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(size >= GP_PAR_MIN_WORK,
    for (int64_t c = 0; c < chunks; c++) {
        int64_t lo = c * CHUNK, len = size - lo < CHUNK ? size - lo : CHUNK;
        /* a fresh gradient is zeroed chunk by chunk, while the chunk is in L1 */
        if (assign && def->backward_set) {
            def->backward_set(ga + lo, y->grad + lo, a->data + lo, y->data + lo, len, n->f[0]);
            continue;
        }
        if (assign) memset(ga + lo, 0, (size_t)len * sizeof(float));
        def->backward(ga + lo, y->grad + lo, a->data + lo, y->data + lo, len, n->f[0]);
    });
    return GP_OK;
}

static gp_tensor *unary(gp_tape *t, gp_tensor *a, const unary_def *def, float p)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    gp_tensor *y = gp_i_out(t, a->rows, a->cols);
    if (!y) return NULL;
    int64_t size = gp_tensor_size(a), chunks = (size + CHUNK - 1) / CHUNK;
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(size >= GP_PAR_MIN_WORK,
    for (int64_t c = 0; c < chunks; c++) {
        int64_t lo = c * CHUNK, len = size - lo < CHUNK ? size - lo : CHUNK;
        def->forward(y->data + lo, a->data + lo, len, p);
    });
    gp_node *n = gp_i_record(t, &def->info, y, 1, &a);
    if (n) {
        n->p[0] = def;
        n->f[0] = p;
    }
    return gp_i_done(t, y);
}

#define UNARY_DEF(name) \
    static const unary_def name##_def = {{#name, unary_backward}, name##_fwd, name##_bwd, NULL}

/* ---- kernels ---- */

static void relu_fwd(float *y, const float *x, int64_t n, float p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
/* y > 0 exactly where x > 0 (NaN and -0 give y = 0): the output is read because it is the
 * more recently touched of the two in a backward pass (the next op's backward read it). */
static void relu_bwd(float *gx, const float *gy, const float *x, const float *y, int64_t n, float p)
{
    (void)x, (void)p;
    for (int64_t i = 0; i < n; i++) {
        float g = gy[i]; /* loaded unconditionally: a conditional load kept gcc from vectorising */
        gx[i] += y[i] > 0.0f ? g : 0.0f;
    }
}
static void relu_bwd_set(float *gx, const float *gy, const float *x, const float *y, int64_t n, float p)
{
    (void)x, (void)p;
    for (int64_t i = 0; i < n; i++) {
        float g = gy[i];
        gx[i] = y[i] > 0.0f ? g : 0.0f;
    }
}
/* ReLU is the most used activation: its fresh-gradient case skips the zero-fill entirely */
static const unary_def relu_def = {{"relu", unary_backward}, relu_fwd, relu_bwd, relu_bwd_set};

static void leaky_relu_fwd(float *y, const float *x, int64_t n, float slope)
{
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : slope * x[i];
}
static void leaky_relu_bwd(float *gx, const float *gy, const float *x, const float *y, int64_t n,
                           float slope)
{
    (void)y;
    for (int64_t i = 0; i < n; i++) {
        float g = gy[i];
        gx[i] += x[i] > 0.0f ? g : slope * g;
    }
}
UNARY_DEF(leaky_relu);

static void elu_fwd(float *y, const float *x, int64_t n, float alpha)
{
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : alpha * expm1f(x[i]);
}
static void elu_bwd(float *gx, const float *gy, const float *x, const float *y, int64_t n,
                    float alpha)
{
    for (int64_t i = 0; i < n; i++) {
        float g = gy[i], yi = y[i];
        gx[i] += x[i] > 0.0f ? g : g * (yi + alpha);
    }
}
UNARY_DEF(elu);

static float sigmoidf(float x) /* never overflows: e^-|x| <= 1 */
{
    float e = expf(-fabsf(x));
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

static void sigmoid_fwd(float *y, const float *x, int64_t n, float p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++) y[i] = sigmoidf(x[i]);
}
static void sigmoid_bwd(float *gx, const float *gy, const float *x, const float *y, int64_t n,
                        float p)
{
    (void)x, (void)p;
    for (int64_t i = 0; i < n; i++) gx[i] += gy[i] * y[i] * (1.0f - y[i]);
}
UNARY_DEF(sigmoid);

static void tanh_fwd(float *y, const float *x, int64_t n, float p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}
static void tanh_bwd(float *gx, const float *gy, const float *x, const float *y, int64_t n, float p)
{
    (void)x, (void)p;
    for (int64_t i = 0; i < n; i++) gx[i] += gy[i] * (1.0f - y[i] * y[i]);
}
UNARY_DEF(tanh);

static void exp_fwd(float *y, const float *x, int64_t n, float p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]);
}
static void exp_bwd(float *gx, const float *gy, const float *x, const float *y, int64_t n, float p)
{
    (void)x, (void)p;
    for (int64_t i = 0; i < n; i++) gx[i] += gy[i] * y[i];
}
UNARY_DEF(exp);

static void log_fwd(float *y, const float *x, int64_t n, float p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++) y[i] = logf(x[i]);
}
static void log_bwd(float *gx, const float *gy, const float *x, const float *y, int64_t n, float p)
{
    (void)y, (void)p;
    for (int64_t i = 0; i < n; i++) gx[i] += gy[i] / x[i];
}
UNARY_DEF(log);

static void softplus_fwd(float *y, const float *x, int64_t n, float p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++)
        y[i] = (x[i] > 0.0f ? x[i] : 0.0f) + log1pf(expf(-fabsf(x[i])));
}
static void softplus_bwd(float *gx, const float *gy, const float *x, const float *y, int64_t n,
                         float p)
{
    (void)y, (void)p;
    for (int64_t i = 0; i < n; i++) gx[i] += gy[i] * sigmoidf(x[i]);
}
UNARY_DEF(softplus);

static void abs_fwd(float *y, const float *x, int64_t n, float p)
{
    (void)p;
    for (int64_t i = 0; i < n; i++) y[i] = fabsf(x[i]);
}
static void abs_bwd(float *gx, const float *gy, const float *x, const float *y, int64_t n, float p)
{
    (void)y, (void)p;
    for (int64_t i = 0; i < n; i++) {
        float g = gy[i];
        gx[i] += x[i] > 0.0f ? g : x[i] < 0.0f ? -g : 0.0f;
    }
}
UNARY_DEF(abs);

/* ---- public ops ---- */

gp_tensor *gp_relu(gp_tape *t, gp_tensor *a) { return unary(t, a, &relu_def, 0.0f); }
gp_tensor *gp_leaky_relu(gp_tape *t, gp_tensor *a, float slope)
{
    return unary(t, a, &leaky_relu_def, slope);
}
gp_tensor *gp_elu(gp_tape *t, gp_tensor *a, float alpha) { return unary(t, a, &elu_def, alpha); }
gp_tensor *gp_sigmoid(gp_tape *t, gp_tensor *a) { return unary(t, a, &sigmoid_def, 0.0f); }
gp_tensor *gp_tanh(gp_tape *t, gp_tensor *a) { return unary(t, a, &tanh_def, 0.0f); }
gp_tensor *gp_exp(gp_tape *t, gp_tensor *a) { return unary(t, a, &exp_def, 0.0f); }
gp_tensor *gp_softplus(gp_tape *t, gp_tensor *a) { return unary(t, a, &softplus_def, 0.0f); }
gp_tensor *gp_abs(gp_tape *t, gp_tensor *a) { return unary(t, a, &abs_def, 0.0f); }

gp_tensor *gp_log(gp_tape *t, gp_tensor *a)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    for (int64_t i = 0; i < gp_tensor_size(a); i++)
        if (!(a->data[i] > 0.0f)) { /* also rejects NaN */
            GP_TAPE_FAIL(t, GP_E_NUMERIC, "log: input at row %lld, col %lld is %g, not positive",
                         (long long)(i / a->cols), (long long)(i % a->cols), (double)a->data[i]);
            return NULL;
        }
    return unary(t, a, &log_def, 0.0f);
}
