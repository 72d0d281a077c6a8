/*
 * GraphConv layer (Morris et al. 2019, "Weisfeiler and Leman Go Neural: Higher-order Graph
 * Neural Networks"), the layer of the common SAGPool / top-k pooling benchmark model:
 *   y_i = x_i W_root + aggr_{j in N(i)} (a_ij x_j) W_rel + b
 *   sum:  A X W_rel (A with its edge weights)     mean: the sum divided by |N(i)| (0 if isolated)
 *   max:  elementwise max_j a_ij x_j, then W_rel  (0 for isolated nodes)
 * Sum and mean are linear and run as A (X W_rel); a sparse X goes through one product
 * X [W_root | W_rel] (input dropout draws one mask for both terms), a dense X through two
 * products (no copies of column slices; the root product adds into the aggregate and the bias,
 * gp_addmm; with sum aggregation all of it is one op, gp_i_graph_propagate, that keeps neither
 * X W_rel nor the aggregate); max aggregates X itself.
 * Gradients come from the ops used.
 */
#include <string.h>

#include "layer_common.h"

typedef struct graphconv_impl {
    gp_aggr aggr;
    gp_tensor *w_root, *w_rel, *bias;
} graphconv_impl;

static gp_tensor *graphconv_run(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x,
                                const gp_csr *xs, float dropout)
{
    graphconv_impl *l = m->impl;
    if (!gp_i_check_layer_graph(t, "graphconv", g, x ? x->rows : xs->rows)) return NULL;
    int64_t out = m->out_dim;
    gp_tensor *y;
    if (l->aggr == GP_AGGR_MAX) {
        y = gp_add(t, gp_matmul(t, x, l->w_root, false, false),
                   gp_matmul(t, gp_i_graph_aggregate_max(t, g, x, true), l->w_rel, false, false));
    } else if (x && l->aggr == GP_AGGR_SUM) { /* one op, X W_rel and the aggregate not kept */
        return gp_i_graph_propagate(t, g, x, l->w_rel, l->w_root, l->bias, false);
    } else if (x) { /* dense input: two products, no concatenation or slices to copy */
        gp_tensor *agg = gp_spmm(t, g, NULL, gp_matmul(t, x, l->w_rel, false, false));
        agg = gp_mul(t, agg, gp_i_graph_inverse_counts(t, g)); /* mean */
        return gp_addmm(t, agg, x, l->w_root, l->bias); /* agg + x W_root + b in one product */
    } else {
        gp_tensor *w = gp_concat_cols(t, 2, (gp_tensor *[]){l->w_root, l->w_rel});
        gp_tensor *xw = gp_i_input_matmul(t, m, x, xs, dropout, w);
        gp_tensor *agg = gp_spmm(t, g, NULL, gp_slice_cols(t, xw, out, out));
        if (l->aggr == GP_AGGR_MEAN) agg = gp_mul(t, agg, gp_i_graph_inverse_counts(t, g));
        y = gp_add(t, gp_slice_cols(t, xw, 0, out), agg);
    }
    return l->bias ? gp_add(t, y, l->bias) : y;
}

static gp_tensor *graphconv_forward(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    return graphconv_run(m, t, g, x, NULL, 0.0f);
}

static const gp_module_ops graphconv_csr_ops;

/* sum aggregation only (the max and mean ones are not one op) */
bool gp_i_graphconv_forward_relu(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x, gp_tensor **out)
{
    if (m->ops != &graphconv_csr_ops || ((graphconv_impl *)m->impl)->aggr != GP_AGGR_SUM) return false;
    graphconv_impl *l = m->impl;
    *out = gp_i_check_layer_graph(t, "graphconv", g, x->rows)
               ? gp_i_graph_propagate(t, g, x, l->w_rel, l->w_root, l->bias, true)
               : NULL;
    return true;
}

static gp_tensor *graphconv_forward_csr(gp_module *m, gp_tape *t, gp_graph *g, const gp_csr *x,
                                        float dropout)
{
    return graphconv_run(m, t, g, NULL, x, dropout);
}

static const gp_module_ops graphconv_ops = {"graphconv", graphconv_forward, NULL, NULL};
static const gp_module_ops graphconv_csr_ops = {"graphconv", graphconv_forward, graphconv_forward_csr, NULL};

gp_status gp_graphconv_new(gp_module **out, int64_t in_dim, int64_t out_dim, gp_aggr aggr, bool bias,
                           gp_rng *rng)
{
    if (aggr != GP_AGGR_SUM && aggr != GP_AGGR_MEAN && aggr != GP_AGGR_MAX) {
        if (out) *out = NULL;
        return GP_ERR(GP_E_INVALID, "gp_graphconv_new: unknown aggregation %d", (int)aggr);
    }
    gp_status st = gp_module_alloc(out, aggr == GP_AGGR_MAX ? &graphconv_ops : &graphconv_csr_ops,
                                   in_dim, out_dim, sizeof(graphconv_impl), rng);
    if (st != GP_OK) return st;
    graphconv_impl *l = (*out)->impl;
    l->aggr = aggr;
    GP_TRY(gp_i_add_weight(*out, &l->w_root, "root.weight", in_dim, out_dim, rng));
    GP_TRY(gp_i_add_weight(*out, &l->w_rel, "rel.weight", in_dim, out_dim, rng));
    if (bias) GP_TRY(gp_module_add_param(*out, &l->bias, "bias", 1, out_dim));
    return GP_OK;
fail:
    gp_module_free(out);
    return st;
}

gp_status gp_aggr_parse(gp_aggr *out, const char *name)
{
    if (!out || !name) return GP_ERR(GP_E_INVALID, "gp_aggr_parse: NULL argument");
    if (strcmp(name, "sum") == 0 || strcmp(name, "add") == 0) *out = GP_AGGR_SUM;
    else if (strcmp(name, "mean") == 0) *out = GP_AGGR_MEAN;
    else if (strcmp(name, "max") == 0) *out = GP_AGGR_MAX;
    else return GP_ERR(GP_E_INVALID, "unknown aggregation '%s' (sum, mean, max)", name);
    return GP_OK;
}
