/*
 * Self-attention graph pooling (Lee, Lee, Kang 2019, "Self-Attention Graph Pooling"):
 *   z   = GNN_{F->1}(X, A)        a one-output GCN layer (D^-1/2 (A+I) D^-1/2 X theta + b) as in
 *                                  the paper, or GraphConv (gnn=graphconv, PyG's default)
 *   idx = top ceil(ratio n_g) nodes of each graph by z (ties: smaller node index)
 *   X'  = multiplier * X[idx] * tanh(z[idx]),  A' = A[idx, idx]
 * min_score mode as top-k (softmax of z within each graph). Selection and gating are shared with
 * top-k (nodedrop_select.c); gradients reach theta through the gate.
 * Options: ratio (default 0.5), gnn=gcn|graphconv, min_score (default off), multiplier (1).
 */
#include <string.h>

#include "pool_internal.h"

typedef struct sag_state {
    double ratio, min_score, multiplier;
} sag_state;

static gp_status sag_init(gp_module *m, void **state, const gp_pool_options *opt, gp_rng *rng,
                          int64_t *readout_dim, int64_t *node_dim)
{
    (void)readout_dim;
    gp_status st;
    gp_module *gnn = NULL;
    const char *kind = NULL;
    sag_state *s = gp_i_calloc(1, sizeof *s);
    if (!s) return GP_ERR(GP_E_NOMEM, "sagpool: out of memory");
    *state = s;
    GP_TRY(gp_pool_opt_double(opt, "sagpool", "ratio", 0.5, 1e-6, 1.0, &s->ratio));
    GP_TRY(gp_pool_opt_double(opt, "sagpool", "min_score", -1.0, -1.0, 1.0, &s->min_score));
    GP_TRY(gp_pool_opt_double(opt, "sagpool", "multiplier", 1.0, -1e6, 1e6, &s->multiplier));
    GP_TRY(gp_pool_opt_string(opt, "sagpool", "gnn", "gcn", &kind));
    if (!strcmp(kind, "gcn")) {
        GP_TRY(gp_gcn_new(&gnn, m->in_dim, 1, true, rng));
    } else if (!strcmp(kind, "graphconv")) {
        GP_TRY(gp_graphconv_new(&gnn, m->in_dim, 1, GP_AGGR_SUM, true, rng));
    } else {
        st = GP_ERR(GP_E_INVALID, "sagpool: option gnn=%s: expected gcn or graphconv", kind);
        goto fail;
    }
    GP_TRY(gp_module_add_child(m, &gnn));
    *node_dim = m->in_dim;
fail:
    gp_module_free(&gnn);
    return st;
}

static gp_status sag_coarsen(gp_module *m, void *state, gp_tape *t, const gp_pool_batch *in,
                             gp_pool_batch *out)
{
    sag_state *s = state;
    gp_tensor *score = gp_module_forward(m->children[0], t, in->graph, in->x);
    return gp_i_nodedrop_coarsen(t, "sagpool", in, out, score, s->ratio, s->min_score,
                                 (float)s->multiplier);
}

const gp_pool_class gp_i_pool_sagpool = {
    "sagpool", "SAGPool: ratio=0.5, gnn=gcn|graphconv, min_score=off, multiplier=1",
    GP_POOL_COARSEN, sag_init, NULL, sag_coarsen, NULL, NULL};
