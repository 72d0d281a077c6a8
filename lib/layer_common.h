/*
 * Helpers shared by the layer files (layer_*.c; defined in module.c). Not installed.
 */
#ifndef GP_LAYER_COMMON_H
#define GP_LAYER_COMMON_H

#include <graphpool/layers.h>

#include "internal.h"

/* x W for a dense x, or S W (gp_sparse_matmul, dropout on S's stored values with m->rng) when
 * x is NULL and xs is given. */
gp_tensor *gp_i_input_matmul(gp_tape *t, gp_module *m, gp_tensor *x, const gp_csr *xs,
                             float dropout, gp_tensor *w);
/* ReLU(layer(x)) as one op when m is a GCN (gcn.c) / GraphConv with sum aggregation
 * (graphconv.c) layer: true and *out set (NULL on a tape error); false for other modules. */
bool gp_i_gcn_forward_relu(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x, gp_tensor **out);
bool gp_i_graphconv_forward_relu(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x, gp_tensor **out);
/* Fails the tape unless g is a graph with `rows` nodes. */
bool gp_i_check_layer_graph(gp_tape *t, const char *kind, const gp_graph *g, int64_t rows);
/* n x 1 constant: 1 / (number of stored entries of row i), 0 for empty rows. */
gp_tensor *gp_i_inverse_counts(gp_tape *t, const gp_csr *adj);
/* The row of every stored entry (nnz values, tape memory). */
const int64_t *gp_i_entry_rows(gp_tape *t, const gp_csr *adj);
/* y_i = max over the stored entries (i, j) of w_ij x_j (w = adj->val, or 1 when NULL or
 * !weighted); 0 for empty rows. */
gp_tensor *gp_i_aggregate_max(gp_tape *t, const gp_csr *adj, gp_tensor *x, bool weighted);
/* Glorot-initialised parameter (rows = fan_in) / zero parameter. */
gp_status gp_i_add_weight(gp_module *m, gp_tensor **out, const char *name, int64_t rows,
                          int64_t cols, gp_rng *rng);

#endif
