/*
 * Internal declarations shared by the pooling operator files (not installed).
 * The registry table in pool.c lists the classes declared here: a new operator adds its
 * `extern const gp_pool_class gp_i_pool_NAME;` line below and one entry in that table.
 */
#ifndef GP_POOL_INTERNAL_H
#define GP_POOL_INTERNAL_H

#include <graphpool/layers.h>
#include <graphpool/pool.h>

#include "internal.h"

/* ---- classes (one file each) ---- */
extern const gp_pool_class gp_i_pool_sum, gp_i_pool_mean, gp_i_pool_max, gp_i_pool_min,
    gp_i_pool_meanmax, gp_i_pool_maxmean; /* readout.c */
extern const gp_pool_class gp_i_pool_gnp;     /* gnp.c */
extern const gp_pool_class gp_i_pool_topk;    /* topk.c */
extern const gp_pool_class gp_i_pool_sagpool; /* sagpool.c */
extern const gp_pool_class gp_i_pool_gpn;     /* gpn.c */
extern const gp_pool_class gp_i_pool_rp;      /* rp.c */
extern const gp_pool_class gp_i_pool_rplocal; /* rp_local.c */
extern const gp_pool_class gp_i_pool_klgnn;   /* klgnn.c */

/* Fail the tape unless in is a batch whose features match the graph (and width, if > 0). */
bool gp_i_pool_check_batch(gp_tape *t, const char *op, const gp_pool_batch *in, int64_t width);

/* Per-graph readouts reduced per group when the batch is grouped (mean over the copies). */
gp_tensor *gp_i_pool_group_mean(gp_tape *t, const gp_pool_batch *in, gp_tensor *per_graph);

/*
 * Node-drop coarsening shared by top-k and SAGPool. score: n x 1 raw node scores (a tape
 * tensor, differentiable). Without min_score (< 0): select by score, gate = tanh(score).
 * With min_score >= 0: s = softmax of score within each graph, select by the threshold rule,
 * gate = s. Then x' = multiplier * x[kept] * gate[kept], graph' = induced subgraph (hand
 * kernel), out->kept / score set, groups passed through, out->owns_graph.
 */
gp_status gp_i_nodedrop_coarsen(gp_tape *t, const char *op, const gp_pool_batch *in,
                                 gp_pool_batch *out, gp_tensor *score, double ratio,
                                 double min_score, float multiplier);

#endif
