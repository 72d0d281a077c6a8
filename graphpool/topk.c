/*
 * Top-k node-drop pooling (Cangea, Velickovic, Jovanovic, Kipf, Lio 2018, "Towards Sparse
 * Hierarchical Graph Classifiers"; gPool of Gao & Ji 2019 with a tanh gate):
 *   y   = X p / ||p||_2                      (p: in_dim x 1 parameter "weight", U(+-1/sqrt(F)))
 *   idx = top ceil(ratio n_g) nodes of each graph by y (ties: smaller node index)
 *   X'  = multiplier * X[idx] * tanh(y[idx]),  A' = A[idx, idx]
 * min_score mode (PyG's TopKPooling): s = softmax_g(X p) without the norm, keep s > min(min_score,
 * max_g s - 1e-7), X' = X[idx] * s[idx].
 * Gradients (tape ops): dX gets gate-scaled rows plus dy p^T/||p||; dp = sum_i dy_i (x_i/||p|| -
 * y_i p/||p||^2) via the norm's ops.
 * Options: ratio (default 0.5), min_score (default off), multiplier (default 1).
 */
#include <math.h>

#include "pool_internal.h"

typedef struct topk_state {
    double ratio, min_score, multiplier;
    gp_tensor *weight;
} topk_state;

static gp_status topk_init(gp_module *m, void **state, const gp_pool_options *opt, gp_rng *rng,
                           int64_t *readout_dim, int64_t *node_dim)
{
    (void)readout_dim;
    gp_status st;
    topk_state *s = gp_i_calloc(1, sizeof *s);
    if (!s) return GP_ERR(GP_E_NOMEM, "topk: out of memory");
    *state = s;
    GP_TRY(gp_pool_opt_double(opt, "topk", "ratio", 0.5, 1e-6, 1.0, &s->ratio));
    GP_TRY(gp_pool_opt_double(opt, "topk", "min_score", -1.0, -1.0, 1.0, &s->min_score));
    GP_TRY(gp_pool_opt_double(opt, "topk", "multiplier", 1.0, -1e6, 1e6, &s->multiplier));
    GP_TRY(gp_module_add_param(m, &s->weight, "weight", m->in_dim, 1));
    float bound = 1.0f / sqrtf((float)m->in_dim);
    gp_init_uniform(s->weight, rng, -bound, bound);
    *node_dim = m->in_dim;
fail:
    return st;
}

static gp_status topk_coarsen(gp_module *m, void *state, gp_tape *t, const gp_pool_batch *in,
                              gp_pool_batch *out)
{
    (void)m;
    topk_state *s = state;
    gp_tensor *raw = gp_matmul(t, in->x, s->weight, false, false);
    gp_tensor *score = raw;
    if (s->min_score < 0.0) {
        gp_tensor *inv_norm = gp_pow_scalar(t, gp_sum_all(t, gp_mul(t, s->weight, s->weight)), -0.5f);
        score = gp_mul(t, raw, inv_norm);
    }
    return gp_i_nodedrop_coarsen(t, "topk", in, out, score, s->ratio, s->min_score,
                                 (float)s->multiplier);
}

const gp_pool_class gp_i_pool_topk = {
    "topk", "top-k node drop: ratio=0.5, min_score=off, multiplier=1", GP_POOL_COARSEN,
    topk_init, NULL, topk_coarsen, NULL, NULL};
