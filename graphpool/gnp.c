/*
 * GNP, generalised norm-based pooling (Ko, Kwon, Shin, Lee 2021, "Learning to Pool in Graph
 * Neural Networks for Extrapolation", arXiv 2106.06210), as a readout ("gnp"), a segment op
 * (gp_gnp_segments), a neighbourhood aggregation (gp_gnp_aggregate) and a layer (gp_gnpconv_new).
 *
 * Per segment (graph, or a node's in-neighbours) of n rows and per feature column:
 *   GNP(x) = G_{p+,q+}(relu(x)) - G_{p-,q-}(relu(-x)),   G_{p,q}(a) = n^-q (sum_i a_i^p)^(1/p)
 * Positive and negative parts are pooled separately with their own (p, q), so signs survive
 * (p = 1, q = 0 gives sum exactly; q = 1 mean; p -> +inf max of each part).
 *
 * Parameterisation: params is a 4 x C parameter (rows p+, q+, p-, q-; C = 1 shared by all
 * features, or one column per feature). Initialisation p = 1, q = 0 (sum) unless given: the
 * sum is the most expressive start (Xu et al. 2019) and moves to mean (q -> 1) or max (p grows).
 * Learning rate: trained at the other weights' rate (Adam, 0.005) p and q hardly leave the sum;
 * at 0.2 the readout learns p ~ 2.3, q ~ 1 and extrapolates better than sum and mean on every
 * seed (docs/benchmarks.md, "GNP extrapolation"). The parameter is named "gnp" so that callers
 * can give it its own optimiser (gp-graphclass --gnp-lr).
 * Clamps applied in the forward pass:
 *   |p| in [1, 50]: below 1, (sum a^p)^(1/p) grows like n^(1/p) and overflows float for large
 *     graphs; above 50 the result equals the max to within n^(1/50) and exp(p log a) would lose
 *     the smaller terms anyway. Inside (-1, 1) p is replaced by sign(p) (0 counts as +) with a
 *     straight-through gradient, so a raw p can cross zero from max-like to min-like; beyond
 *     +-50 the gradient is 0.
 *   q in [-1, 2] (hard clamp, gradient 0 outside): enough for sum (0), mean (1) and
 *     "more than mean" normalisations, and bounds n^-q.
 * Stability: computed in double in the log domain, L = log sum_i exp(p log a_i) via the max
 * (log-sum-exp), G = exp(L/p - q log n); no overflow for any |p| <= 50.
 * Zeros: for p > 0, a_i = 0 contributes 0 (skipped; exact: sum and mean stay exact and a part with
 * no positive entry gives 0). For p < 0 (min-like) a_i + 1e-6 is used, so a zero gives a finite
 * (tiny) minimum. Gradients at x = 0 are 0 (relu's subgradient), never infinite.
 * Gradients, with w_i = exp(p log a_i - L) (the weights, summing to 1):
 *   dG/da_i = G w_i / a_i
 *   dG/dp   = G ( -L / p^2 + (1/p) sum_i w_i log a_i )
 *   dG/dq   = -G log n
 * and dx_i = dy (dG+/da_i [x_i > 0] + dG-/da_i [x_i < 0]); the negative part's p, q receive the
 * gradient with a minus sign. Empty segments give 0 and no gradient.
 */
#include <math.h>
#include <string.h>

#include "layer_common.h"
#include "pool_internal.h"

#define GNP_P_MIN 1.0
#define GNP_P_MAX 50.0
#define GNP_Q_MIN (-1.0)
#define GNP_Q_MAX 2.0
#define GNP_EPS 1e-6

/* Effective p and the factor d p_eff / d p_raw (straight-through in the gap, 0 past the max). */
static double eff_p(float raw, double *dp)
{
    double a = fabs((double)raw), sg = raw < 0.0f ? -1.0 : 1.0;
    if (a > GNP_P_MAX) {
        *dp = 0.0;
        return sg * GNP_P_MAX;
    }
    *dp = 1.0;
    return a < GNP_P_MIN ? sg * GNP_P_MIN : (double)raw;
}

static double eff_q(float raw, double *dq)
{
    *dq = (raw >= GNP_Q_MIN && raw <= GNP_Q_MAX) ? 1.0 : 0.0;
    return raw < GNP_Q_MIN ? GNP_Q_MIN : raw > GNP_Q_MAX ? GNP_Q_MAX : (double)raw;
}

/* a for row value v of a part with exponent p; false if the row contributes nothing. */
static inline bool part_value(double v, double p, double *a)
{
    double pos = v > 0.0 ? v : 0.0;
    if (p < 0.0) {
        *a = pos + GNP_EPS;
        return true;
    }
    *a = pos;
    return pos > 0.0;
}

/* G and L = log sum exp(p log a) of one part (sign +1 / -1) of column c of rows [r0, r1). */
static void part_forward(const float *x, int64_t cols, int64_t r0, int64_t r1, int64_t c,
                         double sign, double p, double q, double *g_out, double *l_out)
{
    double m = -INFINITY, a;
    int64_t terms = 0;
    for (int64_t r = r0; r < r1; r++)
        if (part_value(sign * x[r * cols + c], p, &a)) {
            double z = p * log(a);
            if (z > m) m = z;
            terms++;
        }
    if (terms == 0) {
        *g_out = 0.0;
        *l_out = -INFINITY;
        return;
    }
    double s = 0.0;
    for (int64_t r = r0; r < r1; r++)
        if (part_value(sign * x[r * cols + c], p, &a)) s += exp(p * log(a) - m);
    double l = m + log(s);
    *l_out = l;
    *g_out = exp(l / p - q * log((double)(r1 - r0)));
}

typedef struct gnp_saved {
    double *g; /* segs x cols x 2: G+ and G- */
    double *l; /* same layout: L+ and L- */
} gnp_saved;

static void part_backward(const float *x, float *gx, int64_t cols, int64_t r0, int64_t r1,
                          int64_t c, double sign, double p, double up, double g, double l,
                          double *dp_eff, double *dq_eff)
{
    *dp_eff = *dq_eff = 0.0;
    if (g == 0.0 || up == 0.0) return;
    double a, wl = 0.0;
    for (int64_t r = r0; r < r1; r++) {
        double v = sign * x[r * cols + c];
        if (!part_value(v, p, &a)) continue;
        double la = log(a), w = exp(p * la - l);
        wl += w * la;
        if (gx && v > 0.0) gx[r * cols + c] += (float)(up * sign * g * w / a);
    }
    *dp_eff = up * g * (-l / (p * p) + wl / p);
    *dq_eff = -up * g * log((double)(r1 - r0));
}

static gp_status gnp_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *x = n->in[0], *prm = n->in[1];
    const int64_t *ptr = n->p[0];
    const gnp_saved *sv = n->p[1];
    int64_t segs = n->i[0], cols = x->cols, pc = prm->cols;
    float *gx = NULL, *gp = NULL;
    if (gp_i_needs_grad(x) && !(gx = gp_i_grad(t, x))) return GP_E_NOMEM;
    if (gp_i_needs_grad(prm) && !(gp = gp_i_grad(t, prm))) return GP_E_NOMEM;
    const float *dy = n->out->grad;
    for (int64_t s = 0; s < segs; s++) {
        if (ptr[s + 1] == ptr[s]) continue;
        for (int64_t c = 0; c < cols; c++) {
            int64_t j = pc == 1 ? 0 : c;
            double up = dy[s * cols + c];
            for (int part = 0; part < 2; part++) {
                double fp, fq;
                double p = eff_p(prm->data[(2 * part) * pc + j], &fp);
                (void)eff_q(prm->data[(2 * part + 1) * pc + j], &fq);
                double sign = part ? -1.0 : 1.0, dpe, dqe;
                size_t k = (size_t)(s * cols + c) * 2 + (size_t)part;
                /* out = G+ - G-: the negative part's upstream gradient is -dy. */
                part_backward(x->data, gx, cols, ptr[s], ptr[s + 1], c, sign, p, sign * up,
                              sv->g[k], sv->l[k], &dpe, &dqe);
                if (gp) {
                    gp[(2 * part) * pc + j] += (float)(dpe * fp);
                    gp[(2 * part + 1) * pc + j] += (float)(dqe * fq);
                }
            }
        }
    }
    return GP_OK;
}

static const gp_op_info gnp_op = {"gnp", gnp_backward};

gp_tensor *gp_gnp_segments(gp_tape *t, gp_tensor *x, gp_tensor *params, const int64_t *seg_ptr,
                           int64_t num_segments)
{
    gp_tensor *in[2] = {x, params};
    if (!gp_i_begin(t, 2, in)) return NULL;
    int64_t cols = x->cols;
    if (!GP_TAPE_CHECK(t, params->rows == 4 && (params->cols == 1 || params->cols == cols),
                       "gnp: params are %lld x %lld, expected 4 x 1 or 4 x %lld",
                       (long long)params->rows, (long long)params->cols, (long long)cols))
        return NULL;
    if (!seg_ptr || num_segments < 0 || seg_ptr[0] != 0 || seg_ptr[num_segments] != x->rows) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "gnp: segment offsets do not cover the %lld rows",
                     (long long)x->rows);
        return NULL;
    }
    for (int64_t s = 0; s < num_segments; s++)
        if (seg_ptr[s + 1] < seg_ptr[s]) {
            GP_TAPE_FAIL(t, GP_E_INVALID, "gnp: segment offsets decrease at %lld", (long long)s);
            return NULL;
        }
    gp_tensor *out = gp_i_out(t, num_segments, cols);
    size_t cells = (size_t)(num_segments * cols) * 2;
    gnp_saved *sv = gp_tape_alloc(t, sizeof *sv);
    if (!out || !sv) return NULL;
    sv->g = gp_tape_alloc(t, gp_i_mul_size(cells ? cells : 1, sizeof(double)));
    sv->l = gp_tape_alloc(t, gp_i_mul_size(cells ? cells : 1, sizeof(double)));
    if (!sv->g || !sv->l) return NULL;
    int64_t pc = params->cols;
    for (int64_t s = 0; s < num_segments; s++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t j = pc == 1 ? 0 : c;
            double y = 0.0;
            for (int part = 0; part < 2; part++) {
                size_t k = (size_t)(s * cols + c) * 2 + (size_t)part;
                sv->g[k] = 0.0;
                sv->l[k] = -INFINITY;
                if (seg_ptr[s + 1] == seg_ptr[s]) continue;
                double d;
                double p = eff_p(params->data[(2 * part) * pc + j], &d);
                double q = eff_q(params->data[(2 * part + 1) * pc + j], &d);
                part_forward(x->data, cols, seg_ptr[s], seg_ptr[s + 1], c, part ? -1.0 : 1.0, p, q,
                             &sv->g[k], &sv->l[k]);
                y += part ? -sv->g[k] : sv->g[k];
            }
            out->data[s * cols + c] = (float)y;
        }
    if (!GP_TAPE_CHECK(t, gp_tensor_check_finite(out) == GP_OK, "gnp: result not finite"))
        return NULL;
    gp_node *n = gp_i_record(t, &gnp_op, out, 2, in);
    if (n) {
        n->p[0] = seg_ptr;
        n->p[1] = sv;
        n->i[0] = num_segments;
    }
    return gp_i_done(t, out);
}

gp_tensor *gp_gnp_aggregate(gp_tape *t, const gp_graph *g, gp_tensor *x, gp_tensor *params)
{
    if (!gp_i_begin(t, 2, (gp_tensor *[]){x, params})) return NULL;
    if (!g) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "gnp aggregate: NULL graph");
        return NULL;
    }
    if (!(g = gp_i_graph_explicit_tape(t, "gnp aggregate", g))) return NULL;
    if (!GP_TAPE_CHECK(t, x->rows == g->adj.cols, "gnp aggregate: %lld feature rows for %lld nodes",
                       (long long)x->rows, (long long)g->adj.cols))
        return NULL;
    gp_tensor *msg = gp_gather_rows(t, x, g->adj.idx, g->adj.nnz);
    return gp_gnp_segments(t, msg, params, g->adj.ptr, g->adj.rows);
}

void gp_gnp_init_params(gp_tensor *params, float p0, float q0)
{
    if (!params || params->rows != 4) return;
    for (int64_t c = 0; c < params->cols; c++) {
        params->data[0 * params->cols + c] = p0;
        params->data[1 * params->cols + c] = q0;
        params->data[2 * params->cols + c] = p0;
        params->data[3 * params->cols + c] = q0;
    }
}

/* ---- the readout class "gnp" ---- */

typedef struct gnp_state {
    gp_tensor *params;
} gnp_state;

static gp_status gnp_init(gp_module *m, void **state, const gp_pool_options *opt, gp_rng *rng,
                          int64_t *readout_dim, int64_t *node_dim)
{
    (void)rng, (void)node_dim;
    gp_status st;
    bool per_channel;
    double p0, q0;
    gnp_state *s = gp_i_calloc(1, sizeof *s);
    if (!s) return GP_ERR(GP_E_NOMEM, "gnp: out of memory");
    *state = s;
    GP_TRY(gp_pool_opt_bool(opt, "gnp", "per_channel", false, &per_channel));
    GP_TRY(gp_pool_opt_double(opt, "gnp", "p", 1.0, -GNP_P_MAX, GNP_P_MAX, &p0));
    GP_TRY(gp_pool_opt_double(opt, "gnp", "q", 0.0, GNP_Q_MIN, GNP_Q_MAX, &q0));
    GP_TRY(gp_module_add_param(m, &s->params, "gnp", 4, per_channel ? m->in_dim : 1));
    gp_gnp_init_params(s->params, (float)p0, (float)q0);
    *readout_dim = m->in_dim;
fail:
    return st;
}

static gp_tensor *gnp_readout(gp_module *m, void *state, gp_tape *t, const gp_pool_batch *in)
{
    (void)m;
    gnp_state *s = state;
    const gp_graph *g = in->graph;
    return gp_i_pool_group_mean(t, in, gp_gnp_segments(t, in->x, s->params, g->graph_ptr, g->num_graphs));
}

const gp_pool_class gp_i_pool_gnp = {
    "gnp", "GNP readout: per_channel=false, p=1, q=0 (initial values)", GP_POOL_READOUT,
    gnp_init, gnp_readout, NULL, NULL, NULL};

/* ---- the GNP message-passing layer ---- */

typedef struct gnpconv_impl {
    gp_tensor *params, *w_root, *w_rel, *bias;
} gnpconv_impl;

static gp_tensor *gnpconv_forward(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    gnpconv_impl *l = m->impl;
    if (!gp_i_check_layer_graph(t, "gnpconv", g, x ? x->rows : 0)) return NULL;
    gp_tensor *agg = gp_gnp_aggregate(t, g, x, l->params);
    gp_tensor *y = gp_add(t, gp_matmul(t, x, l->w_root, false, false),
                          gp_matmul(t, agg, l->w_rel, false, false));
    return gp_add(t, y, l->bias);
}

static const gp_module_ops gnpconv_ops = {"gnpconv", gnpconv_forward, NULL, NULL};

gp_status gp_gnpconv_new(gp_module **out, int64_t in_dim, int64_t out_dim, bool per_channel,
                         float p0, float q0, gp_rng *rng)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_gnpconv_new: NULL output");
    *out = NULL;
    if (in_dim < 1 || out_dim < 1)
        return GP_ERR(GP_E_INVALID, "gp_gnpconv_new: sizes %lld -> %lld", (long long)in_dim,
                      (long long)out_dim);
    gp_module *m = NULL;
    gp_status st;
    GP_TRY(gp_module_alloc(&m, &gnpconv_ops, in_dim, out_dim, sizeof(gnpconv_impl), rng));
    gnpconv_impl *l = m->impl;
    GP_TRY(gp_module_add_param(m, &l->params, "gnp", 4, per_channel ? in_dim : 1));
    gp_gnp_init_params(l->params, p0, q0);
    GP_TRY(gp_i_add_weight(m, &l->w_root, "root.weight", in_dim, out_dim, rng));
    GP_TRY(gp_i_add_weight(m, &l->w_rel, "rel.weight", in_dim, out_dim, rng));
    GP_TRY(gp_module_add_param(m, &l->bias, "bias", 1, out_dim));
    *out = m;
    return GP_OK;
fail:
    gp_module_free(&m);
    return st;
}
