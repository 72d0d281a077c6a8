/*
 * GIN layer (Xu, Hu, Leskovec & Jegelka 2019, "How Powerful are Graph Neural Networks?"):
 *   y_i = MLP((1 + eps) x_i + sum_{j in N(i)} a_ij x_j)
 * a_ij the edge weight (1 for unweighted graphs). eps is a constant, or a learnable 1 x 1
 * parameter (GIN-eps): (1 + eps) x = x + eps x with a broadcast product, so d eps = sum(dH .* x).
 * The MLP is any module (usually gp_mlp_new); the sum runs before it, so input must be dense.
 * An MLP with batch norm also trains on a minibatch of one node: gp_batch_norm then normalises
 * with its running statistics (ops_norm.c).
 */
#include "layer_common.h"

typedef struct gin_impl {
    float eps;
    gp_tensor *eps_param;
} gin_impl;

static gp_tensor *gin_forward(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    gin_impl *l = m->impl;
    if (!gp_i_check_layer_graph(t, "gin", g, x->rows)) return NULL;
    gp_tensor *self = l->eps_param ? gp_add(t, x, gp_mul(t, x, l->eps_param))
                                   : (l->eps == 0.0f ? x : gp_scale(t, x, 1.0f + l->eps));
    gp_tensor *h = gp_add(t, self, gp_spmm(t, g, NULL, x));
    return gp_module_forward(m->children[0], t, g, h);
}

static const gp_module_ops gin_ops = {"gin", gin_forward, NULL, NULL};

gp_status gp_gin_new(gp_module **out, gp_module **mlp, const gp_gin_options *opt, gp_rng *rng)
{
    if (!out || !mlp || !*mlp) {
        if (out) *out = NULL;
        return GP_ERR(GP_E_INVALID, "gp_gin_new: NULL argument");
    }
    gp_gin_options o = opt ? *opt : (gp_gin_options){0};
    gp_status st = gp_module_alloc(out, &gin_ops, (*mlp)->in_dim, (*mlp)->out_dim, sizeof(gin_impl), rng);
    if (st != GP_OK) return st;
    gin_impl *l = (*out)->impl;
    l->eps = o.eps;
    if (o.train_eps) {
        GP_TRY(gp_module_add_param(*out, &l->eps_param, "eps", 1, 1));
        l->eps_param->data[0] = o.eps;
    }
    GP_TRY(gp_module_add_child(*out, mlp));
    return GP_OK;
fail:
    gp_module_free(out);
    return st;
}
