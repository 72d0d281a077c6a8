/*
 * GraphSAGE layer (Hamilton, Ying & Leskovec 2017, "Inductive Representation Learning on Large
 * Graphs"), in PyTorch Geometric's SAGEConv form:
 *   y_i = W_l aggr_{j in N(i)} x_j + W_r x_i + b,   optionally  y_i <- y_i / sqrt(||y_i||^2 + 1e-12)
 *   mean:  aggr = (1/|N(i)|) sum_j x_j   (unweighted; 0 for isolated nodes)
 *   max:   aggr = elementwise max_j x_j  (0 for isolated nodes; gradient to the first arg-max)
 * Mean is linear, so it is computed as D^-1 A (X W_l) (narrower than X when out < in), and a
 * sparse X is accepted (X [W_l | W_r] in one product, so input dropout draws one mask); max
 * must aggregate X itself and needs dense input.
 * Gradients come from the ops used (matmul, spmm, gather + segment max, mul, pow, div).
 */
#include "layer_common.h"

typedef struct sage_impl {
    gp_sage_options opt;
    gp_tensor *w_neigh, *w_root, *bias;
} sage_impl;

static gp_tensor *sage_run(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x, const gp_csr *xs,
                           float dropout)
{
    sage_impl *l = m->impl;
    if (!gp_i_check_layer_graph(t, "sage", g, x ? x->rows : xs->rows)) return NULL;
    int64_t out = m->out_dim;
    gp_tensor *y;
    if (l->opt.aggr == GP_AGGR_MEAN) {
        /* one product X [W_l | W_r]: a sparse X then sees one dropout mask in both terms */
        gp_tensor *w = l->w_root ? gp_concat_cols(t, 2, (gp_tensor *[]){l->w_neigh, l->w_root})
                                 : l->w_neigh;
        gp_tensor *xw = gp_i_input_matmul(t, m, x, xs, dropout, w);
        gp_tensor *neigh = l->w_root ? gp_slice_cols(t, xw, 0, out) : xw;
        gp_tensor *ones = NULL;
        if (gp_i_graph_weighted(g)) { /* ignore edge weights: explicit unit values */
            ones = gp_tape_tensor(t, gp_graph_edges(g), 1);
            if (ones) gp_tensor_fill(ones, 1.0f);
        }
        y = gp_mul(t, gp_spmm(t, g, ones, neigh), gp_i_graph_inverse_counts(t, g));
        if (l->w_root) y = gp_add(t, y, gp_slice_cols(t, xw, out, out));
    } else {
        y = gp_matmul(t, gp_i_graph_aggregate_max(t, g, x, false), l->w_neigh, false, false);
        if (l->w_root) y = gp_add(t, y, gp_matmul(t, x, l->w_root, false, false));
    }
    if (l->bias) y = gp_add(t, y, l->bias);
    if (l->opt.normalize) {
        gp_tensor *sq = gp_add_scalar(t, gp_sum_rows(t, gp_mul(t, y, y)), 1e-12f);
        y = gp_div(t, y, gp_pow_scalar(t, sq, 0.5f));
    }
    return y;
}

static gp_tensor *sage_forward(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    return sage_run(m, t, g, x, NULL, 0.0f);
}

static gp_tensor *sage_forward_csr(gp_module *m, gp_tape *t, gp_graph *g, const gp_csr *x, float dropout)
{
    return sage_run(m, t, g, NULL, x, dropout);
}

static const gp_module_ops sage_ops = {"sage", sage_forward, NULL, NULL};
static const gp_module_ops sage_csr_ops = {"sage", sage_forward, sage_forward_csr, NULL};

gp_status gp_sage_new(gp_module **out, int64_t in_dim, int64_t out_dim, const gp_sage_options *opt,
                      gp_rng *rng)
{
    gp_sage_options o = opt ? *opt
                            : (gp_sage_options){.aggr = GP_AGGR_MEAN, .root_weight = true, .bias = true};
    if (o.aggr != GP_AGGR_MEAN && o.aggr != GP_AGGR_MAX) {
        if (out) *out = NULL;
        return GP_ERR(GP_E_INVALID, "gp_sage_new: aggregation must be mean or max");
    }
    gp_status st = gp_module_alloc(out, o.aggr == GP_AGGR_MEAN ? &sage_csr_ops : &sage_ops, in_dim,
                                   out_dim, sizeof(sage_impl), rng);
    if (st != GP_OK) return st;
    sage_impl *l = (*out)->impl;
    l->opt = o;
    GP_TRY(gp_i_add_weight(*out, &l->w_neigh, "neigh.weight", in_dim, out_dim, rng));
    if (o.root_weight) GP_TRY(gp_i_add_weight(*out, &l->w_root, "root.weight", in_dim, out_dim, rng));
    if (o.bias) GP_TRY(gp_module_add_param(*out, &l->bias, "bias", 1, out_dim));
    return GP_OK;
fail:
    gp_module_free(out);
    return st;
}
