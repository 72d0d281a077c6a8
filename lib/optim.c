/*
 * Optimisers (SGD, Adam, AdamW) and global gradient-norm clipping.
 *
 * With g = grad (+ wd * w where stated), step counter t = 1, 2, ...:
 *   SGD (PyTorch, dampening 0): g = grad + wd w; v = mu v + g; w -= lr v
 *     (Nesterov: w -= lr (g + mu v) with the updated v; mu = 0: w -= lr g, no buffer).
 *   Adam: g = grad + wd w; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *     w -= (lr / (1-b1^t)) m / (sqrt(v) / sqrt(1-b2^t) + eps)     (PyTorch's arrangement).
 *   AdamW: w -= lr wd w first, then the Adam update with g = grad (no L2 term).
 *   Clipping: norm = sqrt(sum over all parameters of grad^2) accumulated in double; if
 *     norm > max_norm every gradient is multiplied by max_norm / norm.
 * Bias corrections are computed in double once per step; the per-element update is float.
 * Every element is updated independently, so the parallel loops give bit-identical results.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

typedef enum optim_kind { OPTIM_SGD, OPTIM_ADAM, OPTIM_ADAMW } optim_kind;

struct gp_optim {
    optim_kind kind;
    int count;
    gp_tensor **params; /* borrowed; the array itself is owned */
    float **m;          /* SGD momentum buffer or Adam first moment, per parameter (or NULL) */
    float **v;          /* Adam second moment, per parameter (NULL for SGD) */
    float lr;
    float momentum;
    float weight_decay;
    float beta1;
    float beta2;
    float eps;
    bool nesterov;
    long step; /* completed updates */
};

static const char *kind_name(optim_kind k)
{
    switch (k) {
    case OPTIM_SGD: return "sgd";
    case OPTIM_ADAM: return "adam";
    case OPTIM_ADAMW: return "adamw";
    }
    return "optim";
}

/* A parameter must be a gp_param_new tensor (or a view of one) with a gradient buffer. */
static gp_status check_params(const char *who, gp_tensor *const *params, int count)
{
    if (count < 1) return GP_ERR(GP_E_INVALID, "%s: empty parameter list (count %d)", who, count);
    if (!params) return GP_ERR(GP_E_INVALID, "%s: params is NULL", who);
    for (int i = 0; i < count; i++) {
        const gp_tensor *p = params[i];
        if (!p) return GP_ERR(GP_E_INVALID, "%s: parameter %d is NULL", who, i);
        if (!(p->flags & GP_TENSOR_PARAM) || !p->grad)
            return GP_ERR(GP_E_INVALID,
                          "%s: parameter %d ('%s') is not a trainable parameter with a gradient "
                          "buffer (use gp_param_new)",
                          who, i, p->name);
        for (int j = 0; j < i; j++)
            if (params[j] == p || params[j]->data == p->data)
                return GP_ERR(GP_E_INVALID, "%s: parameter %d ('%s') repeats parameter %d", who, i,
                              p->name, j);
    }
    return GP_OK;
}

static bool nonneg_finite(float x) { return isfinite(x) && x >= 0.0f; }

/* Zeroed per-parameter state buffers. */
static float **state_new(gp_tensor *const *params, int count)
{
    float **s = gp_i_calloc((size_t)count, sizeof *s);
    if (!s) return NULL;
    for (int i = 0; i < count; i++) {
        s[i] = gp_i_calloc((size_t)gp_tensor_size(params[i]), sizeof(float));
        if (!s[i]) {
            for (int j = 0; j < i; j++) gp_i_free(s[j]);
            gp_i_free(s);
            return NULL;
        }
    }
    return s;
}

static void state_free(float **s, int count)
{
    if (!s) return;
    for (int i = 0; i < count; i++) gp_i_free(s[i]);
    gp_i_free(s);
}

/* Common constructor after hyperparameters are validated. */
static gp_status optim_new(gp_optim **out, optim_kind kind, gp_tensor *const *params, int count,
                           bool need_m, bool need_v)
{
    gp_optim *o = gp_i_calloc(1, sizeof *o);
    if (!o) goto nomem;
    o->kind = kind;
    o->count = count;
    o->params = gp_i_calloc((size_t)count, sizeof *o->params);
    if (!o->params) goto nomem;
    for (int i = 0; i < count; i++) o->params[i] = params[i];
    if (need_m && !(o->m = state_new(params, count))) goto nomem;
    if (need_v && !(o->v = state_new(params, count))) goto nomem;
    *out = o;
    return GP_OK;
nomem:
    gp_optim_free(&o);
    return GP_ERR(GP_E_NOMEM, "%s: out of memory for optimiser state", kind_name(kind));
}

gp_status gp_sgd_new(gp_optim **out, gp_tensor *const *params, int count, float lr,
                     float momentum, float weight_decay, bool nesterov)
{
    if (!out) return GP_ERR(GP_E_INVALID, "sgd: out is NULL");
    *out = NULL;
    gp_status st = check_params("sgd", params, count);
    if (st != GP_OK) return st;
    if (!nonneg_finite(lr)) return GP_ERR(GP_E_INVALID, "sgd: invalid learning rate %g", lr);
    if (!nonneg_finite(momentum))
        return GP_ERR(GP_E_INVALID, "sgd: invalid momentum %g", momentum);
    if (!nonneg_finite(weight_decay))
        return GP_ERR(GP_E_INVALID, "sgd: invalid weight decay %g", weight_decay);
    if (nesterov && momentum <= 0.0f)
        return GP_ERR(GP_E_INVALID, "sgd: Nesterov momentum requires momentum > 0");
    st = optim_new(out, OPTIM_SGD, params, count, momentum != 0.0f, false);
    if (st != GP_OK) return st;
    (*out)->lr = lr;
    (*out)->momentum = momentum;
    (*out)->weight_decay = weight_decay;
    (*out)->nesterov = nesterov;
    return GP_OK;
}

static gp_status adam_common_new(gp_optim **out, optim_kind kind, gp_tensor *const *params,
                                 int count, float lr, float beta1, float beta2, float eps,
                                 float weight_decay)
{
    const char *who = kind_name(kind);
    if (!out) return GP_ERR(GP_E_INVALID, "%s: out is NULL", who);
    *out = NULL;
    gp_status st = check_params(who, params, count);
    if (st != GP_OK) return st;
    if (!nonneg_finite(lr)) return GP_ERR(GP_E_INVALID, "%s: invalid learning rate %g", who, lr);
    if (!(beta1 >= 0.0f && beta1 < 1.0f))
        return GP_ERR(GP_E_INVALID, "%s: beta1 %g outside [0, 1)", who, beta1);
    if (!(beta2 >= 0.0f && beta2 < 1.0f))
        return GP_ERR(GP_E_INVALID, "%s: beta2 %g outside [0, 1)", who, beta2);
    if (!nonneg_finite(eps)) return GP_ERR(GP_E_INVALID, "%s: invalid eps %g", who, eps);
    if (!nonneg_finite(weight_decay))
        return GP_ERR(GP_E_INVALID, "%s: invalid weight decay %g", who, weight_decay);
    st = optim_new(out, kind, params, count, true, true);
    if (st != GP_OK) return st;
    (*out)->lr = lr;
    (*out)->beta1 = beta1;
    (*out)->beta2 = beta2;
    (*out)->eps = eps;
    (*out)->weight_decay = weight_decay;
    return GP_OK;
}

gp_status gp_adam_new(gp_optim **out, gp_tensor *const *params, int count, float lr,
                      float beta1, float beta2, float eps, float weight_decay)
{
    return adam_common_new(out, OPTIM_ADAM, params, count, lr, beta1, beta2, eps, weight_decay);
}

gp_status gp_adamw_new(gp_optim **out, gp_tensor *const *params, int count, float lr,
                       float beta1, float beta2, float eps, float weight_decay)
{
    return adam_common_new(out, OPTIM_ADAMW, params, count, lr, beta1, beta2, eps, weight_decay);
}

void gp_optim_free(gp_optim **o)
{
    if (!o || !*o) return;
    state_free((*o)->m, (*o)->count);
    state_free((*o)->v, (*o)->count);
    gp_i_free((*o)->params);
    gp_i_free(*o);
    *o = NULL;
}

static void sgd_update(const gp_optim *o, float *w, const float *grad, float *buf, int64_t n)
{
    const float lr = o->lr, mu = o->momentum, wd = o->weight_decay;
    const bool nesterov = o->nesterov;
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(n > GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < n; i++) {
        float g = grad[i] + wd * w[i];
        if (buf) {
            float v = mu * buf[i] + g;
            buf[i] = v;
            g = nesterov ? g + mu * v : v;
        }
        w[i] -= lr * g;
    });
}

/* Built for plain x86-64 and for AVX2 (gcc picks one at load time; sqrt and division are
 * correctly rounded in both: the same bits). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define UPDATE_KERNEL __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef UPDATE_KERNEL
#define UPDATE_KERNEL
#endif

UPDATE_KERNEL static void adam_update(const gp_optim *o, float *w, const float *grad, float *m,
                                      float *v, int64_t n)
{
    const double t = (double)o->step; /* already counts this update */
    const float step_size = (float)((double)o->lr / (1.0 - pow((double)o->beta1, t)));
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow((double)o->beta2, t)));
    const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
    const float l2 = o->kind == OPTIM_ADAM ? o->weight_decay : 0.0f;
    const float decay = o->kind == OPTIM_ADAMW ? 1.0f - o->lr * o->weight_decay : 1.0f;
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(n > GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < n; i++) {
        float wi = w[i];
        float g = grad[i] + l2 * wi;
        wi *= decay;
        float mi = b1 * m[i] + (1.0f - b1) * g;
        float vi = b2 * v[i] + (1.0f - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        w[i] = wi - step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    });
}

/* Index of the first non-finite value of x[0..n), or -1. Branch-free over blocks (an all-ones
 * exponent is Inf or NaN), so the common all-finite case runs at memory speed. */
static int64_t first_nonfinite(const float *x, int64_t n)
{
    enum { BLOCK = 1024 };
    for (int64_t b = 0; b < n; b += BLOCK) {
        int64_t e = n - b < BLOCK ? n - b : BLOCK;
        uint32_t bad = 0;
        for (int64_t k = 0; k < e; k++) {
            uint32_t bits;
            memcpy(&bits, x + b + k, sizeof bits);
            bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
        }
        if (bad)
            for (int64_t k = b; k < b + e; k++)
                if (!isfinite(x[k])) return k;
    }
    return -1;
}

/* first_nonfinite over the threads for large tensors (the WalkPool classifier's 3.3 M
 * gradients: a serial pass with the other thread waiting at every step): each part finds its
 * first, the smallest wins, so the answer is the serial one. */
static int64_t first_nonfinite_par(const float *x, int64_t n)
{
    enum { MAX_PARTS = 64 };
    int nt = gp_i_threads();
    int parts = nt < MAX_PARTS ? nt : MAX_PARTS;
    if (parts < 2 || n < GP_PAR_MIN_WORK) return first_nonfinite(x, n);
    int64_t first[MAX_PARTS];
    GP_I_PARALLEL_FOR(true,
    for (int p = 0; p < parts; p++) {
        int64_t lo = n * p / parts, hi = n * (p + 1) / parts, k = first_nonfinite(x + lo, hi - lo);
        first[p] = k < 0 ? -1 : lo + k;
    });
    for (int p = 0; p < parts; p++)
        if (first[p] >= 0) return first[p];
    return -1;
}

gp_status gp_optim_step(gp_optim *o)
{
    if (!o) return GP_ERR(GP_E_INVALID, "optim step: optimiser is NULL");
    /* all-or-nothing: reject before any parameter or state changes */
    for (int i = 0; i < o->count; i++) {
        const gp_tensor *p = o->params[i];
        int64_t k = first_nonfinite_par(p->grad, gp_tensor_size(p));
        if (k >= 0)
            return GP_ERR(GP_E_NUMERIC,
                          "%s step: non-finite gradient %g in parameter %d ('%s') at row "
                          "%lld, col %lld; no parameter was updated",
                          kind_name(o->kind), p->grad[k], i, p->name,
                          (long long)(k / p->cols), (long long)(k % p->cols));
    }
    o->step++;
    for (int i = 0; i < o->count; i++) {
        gp_tensor *p = o->params[i];
        int64_t n = gp_tensor_size(p);
        if (o->kind == OPTIM_SGD)
            sgd_update(o, p->data, p->grad, o->m ? o->m[i] : NULL, n);
        else
            adam_update(o, p->data, p->grad, o->m[i], o->v[i], n);
    }
    return GP_OK;
}

void gp_optim_zero_grad(gp_optim *o)
{
    if (!o) return;
    for (int i = 0; i < o->count; i++) gp_tensor_zero_grad(o->params[i]);
}

void gp_optim_set_lr(gp_optim *o, float lr)
{
    if (!o) return;
    if (!nonneg_finite(lr)) {
        /* no status to return: keep the old rate and leave a message */
        GP_ERR(GP_E_INVALID, "optim set_lr: invalid learning rate %g ignored", lr);
        return;
    }
    o->lr = lr;
}

float gp_optim_get_lr(const gp_optim *o) { return o ? o->lr : 0.0f; }

long gp_optim_get_step(const gp_optim *o) { return o ? o->step : 0; }

void gp_optim_set_step(gp_optim *o, long step)
{
    if (o && step >= 0) o->step = step;
}

float *gp_optim_moment(gp_optim *o, int which, int param)
{
    if (!o || param < 0 || param >= o->count) return NULL;
    float **s = which == 0 ? o->m : which == 1 ? o->v : NULL;
    return s ? s[param] : NULL;
}

float gp_clip_grad_norm(gp_tensor *const *params, int count, float max_norm)
{
    if (count < 0 || (count > 0 && !params) || isnan(max_norm) || max_norm < 0.0f) {
        GP_ERR(GP_E_INVALID, "clip_grad_norm: invalid arguments (count %d, max_norm %g)", count,
               max_norm);
        return NAN;
    }
    for (int i = 0; i < count; i++)
        if (!params[i] || !params[i]->grad) {
            GP_ERR(GP_E_INVALID, "clip_grad_norm: parameter %d ('%s') has no gradient buffer", i,
                   params[i] ? params[i]->name : "NULL");
            return NAN;
        }
    /* sequential double sum: the same result for every thread count */
    double sum_sq = 0.0;
    for (int i = 0; i < count; i++) {
        const float *g = params[i]->grad;
        int64_t n = gp_tensor_size(params[i]);
        for (int64_t k = 0; k < n; k++) sum_sq += (double)g[k] * g[k];
    }
    double norm = sqrt(sum_sq);
    /* a non-finite norm is returned unscaled so the following optimiser step rejects it */
    if (isfinite(norm) && norm > (double)max_norm) {
        float scale = (float)((double)max_norm / norm);
        for (int i = 0; i < count; i++) {
            float *g = params[i]->grad;
            int64_t n = gp_tensor_size(params[i]);
            for (int64_t k = 0; k < n; k++) g[k] *= scale;
        }
    }
    return (float)norm;
}
