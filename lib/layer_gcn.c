/*
 * GCN layer (Kipf & Welling 2017, "Semi-Supervised Classification with Graph Convolutional
 * Networks"):
 *   Y = Â (X W) + b,   Â = D^-1/2 (A + I) D^-1/2,  D_ii = sum_j (A + I)_ij
 * Â comes from gp_graph_gcn_norm (cached on the graph, edge weights included when present;
 * a node's existing self-loop is kept as is). X W is computed first because the output is
 * narrower than the input on the usual first layer; a sparse X (gp_module_forward_csr) goes
 * through gp_sparse_matmul, so bag-of-words features are never densified and input dropout
 * touches only their stored values.
 * Gradients: dW = X^T Â^T dY, db = column sums of dY, dX = Â^T dY W^T. A dense X goes
 * through gp_i_graph_propagate (ops_propagate.c: one op, X W not kept), a sparse X through the ops
 * gp_sparse_matmul, gp_spmm and gp_add.
 */
#include "layer_affine.h"

static gp_tensor *gcn_run(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x, const gp_csr *xs,
                          float dropout, bool relu)
{
    gp_i_affine *l = m->impl;
    if (!gp_i_check_layer_graph(t, "gcn", g, x ? x->rows : xs->rows)) return NULL;
    const gp_graph *norm = NULL;
    gp_status st = gp_graph_gcn_norm(&norm, g);
    if (st != GP_OK) {
        GP_TAPE_FAIL(t, st, "gcn: cannot normalise the graph (%s)", gp_last_error_message());
        return NULL;
    }
    if (x) return gp_i_graph_propagate(t, norm, x, l->weight, NULL, l->bias, relu); /* keeps no X W */
    gp_tensor *xw = gp_i_input_matmul(t, m, NULL, xs, dropout, l->weight);
    gp_tensor *y = gp_spmm(t, norm, NULL, xw);
    y = l->bias ? gp_add(t, y, l->bias) : y;
    return relu ? gp_relu(t, y) : y;
}

static gp_tensor *gcn_forward(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    return gcn_run(m, t, g, x, NULL, 0.0f, false);
}

static const gp_module_ops gcn_ops;

bool gp_i_gcn_forward_relu(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x, gp_tensor **out)
{
    if (m->ops != &gcn_ops) return false;
    *out = gcn_run(m, t, g, x, NULL, 0.0f, true);
    return true;
}

static gp_tensor *gcn_forward_csr(gp_module *m, gp_tape *t, gp_graph *g, const gp_csr *x, float dropout)
{
    return gcn_run(m, t, g, NULL, x, dropout, false);
}

static const gp_module_ops gcn_ops = {"gcn", gcn_forward, gcn_forward_csr, NULL};

gp_status gp_gcn_new(gp_module **out, int64_t in_dim, int64_t out_dim, bool bias, gp_rng *rng)
{
    return gp_i_affine_new(out, &gcn_ops, in_dim, out_dim, bias, rng);
}
