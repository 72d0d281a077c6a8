/*
 * Layers (modules, see module.h): linear and MLP, and the message-passing layers GCN,
 * GraphSAGE, GIN, GAT and GraphConv. Each constructor draws its weights from rng (Glorot
 * uniform unless stated; biases start at zero) and returns a module to run with
 * gp_module_forward. Graph convention (graph.h): row i of g->adj lists the in-neighbours j of
 * node i, so "neighbours of i" below means the stored entries of row i; an undirected graph
 * stores both directions. Each layer file starts with its formula and paper.
 *
 * Sparse input (gp_module_forward_csr): linear, GCN, GAT, SAGE (mean) and GraphConv (sum,
 * mean) accept it; GIN and max aggregation do not (GP_E_UNSUPPORTED).
 */
#ifndef GRAPHPOOL_LAYERS_H
#define GRAPHPOOL_LAYERS_H

#include <graphpool/module.h>

#ifdef __cplusplus
extern "C" {
#endif

/* y = x W + b (W in_dim x out_dim "weight", b 1 x out_dim "bias"). */
GP_API gp_status gp_linear_new(gp_module **out, int64_t in_dim, int64_t out_dim, bool bias, gp_rng *rng);

/* MLP: in -> hidden[0] -> ... -> hidden[n-1] -> out, linear layers with bias; after every layer
 * but the last: norm then act; dropout before every layer but the first. A stack (module.h). */
typedef struct gp_mlp_options {
    gp_activation act;
    float dropout;
    gp_norm_kind norm;
} gp_mlp_options;
GP_API gp_status gp_mlp_new(gp_module **out, int64_t in_dim, int num_hidden, const int64_t *hidden,
                            int64_t out_dim, const gp_mlp_options *opt, gp_rng *rng);

/* Aggregation of neighbour messages. */
typedef enum gp_aggr { GP_AGGR_SUM = 0, GP_AGGR_MEAN, GP_AGGR_MAX } gp_aggr;
/* "sum"/"add", "mean", "max" -> GP_AGGR_*. */
GP_API gp_status gp_aggr_parse(gp_aggr *out, const char *name);

/* GCN: Y = D^-1/2 (A + I) D^-1/2 X W + b, from gp_graph_gcn_norm (cached on the graph; edge
 * weights are used when the graph has them; existing self-loops are kept, not doubled). */
GP_API gp_status gp_gcn_new(gp_module **out, int64_t in_dim, int64_t out_dim, bool bias, gp_rng *rng);

/* GraphSAGE: y_i = W_l aggr_{j in N(i)} x_j + [W_r x_i] + b, then optionally y_i / ||y_i||_2.
 * aggr mean (unweighted mean over the stored neighbours; 0 for isolated nodes) or max
 * (elementwise, 0 for isolated nodes). A self-loop counts as a neighbour. */
typedef struct gp_sage_options {
    gp_aggr aggr;     /* GP_AGGR_MEAN or GP_AGGR_MAX */
    bool root_weight; /* add W_r x_i */
    bool normalize;   /* L2-normalise each output row: y / sqrt(||y||^2 + 1e-12) */
    bool bias;
} gp_sage_options;
/* opt NULL: mean, root weight, no normalisation, bias. */
GP_API gp_status gp_sage_new(gp_module **out, int64_t in_dim, int64_t out_dim,
                             const gp_sage_options *opt, gp_rng *rng);

/* GIN: y_i = MLP((1 + eps) x_i + sum_{j in N(i)} a_ij x_j) (a_ij the edge weight, 1 if none).
 * mlp's ownership moves (*mlp = NULL on success); its in_dim is the layer's. With train_eps,
 * eps is a 1 x 1 parameter "eps" starting at opt->eps. */
typedef struct gp_gin_options {
    float eps;
    bool train_eps;
} gp_gin_options;
GP_API gp_status gp_gin_new(gp_module **out, gp_module **mlp, const gp_gin_options *opt, gp_rng *rng);

/* GAT: per head h, z = x W_h; e_ij = LeakyReLU(a_dst . z_i + a_src . z_j) over the edges of
 * A + I (self-loops added where missing, as gp_graph_gcn_norm's structure); alpha_ij = softmax
 * over the in-neighbours j of i; y_i[h] = sum_j alpha_ij z_j; heads concatenated (out_dim =
 * heads * out_per_head) or averaged (out_dim = out_per_head); + b. Edge weights are ignored. */
typedef struct gp_gat_options {
    int heads;            /* >= 1 */
    bool concat;          /* concatenate heads (else average) */
    float negative_slope; /* of the LeakyReLU, 0.2 in the paper */
    float attn_dropout;   /* dropout on alpha while training, [0, 1) */
    bool bias;
} gp_gat_options;
/* opt NULL: 1 head, concat, slope 0.2, no attention dropout, bias. */
GP_API gp_status gp_gat_new(gp_module **out, int64_t in_dim, int64_t out_per_head,
                            const gp_gat_options *opt, gp_rng *rng);
/*
 * The attention of the last forward (before attention dropout): *alpha is nnz x heads over the
 * entries of *graph (A + I as used), rows of each node's in-edges sum to 1. Tape temporaries:
 * valid until that tape is reset. GP_E_STATE if the module has not run (or is not a GAT).
 */
GP_API gp_status gp_gat_last_attention(gp_tensor **alpha, const gp_graph **graph, const gp_module *gat);

/* GraphConv (Morris et al. 2019): y_i = x_i W_root + aggr_{j in N(i)} (a_ij x_j) W_rel + b, aggr
 * sum, mean (divided by the number of stored neighbours) or max (elementwise; 0 for isolated
 * nodes); a_ij the edge weight (1 if none). Parameters "root.weight", "rel.weight", "bias". */
GP_API gp_status gp_graphconv_new(gp_module **out, int64_t in_dim, int64_t out_dim, gp_aggr aggr,
                                  bool bias, gp_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
