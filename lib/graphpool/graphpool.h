/*
 * graphpool: graph neural networks and graph pooling in C.
 *
 * A training step in brief:
 *
 *   gp_init();
 *   gp_graph *g;   gp_graph_from_edges(&g, n, m, src, dst, NULL, GP_EDGES_SYMMETRISE);
 *   gp_tensor *w;  gp_param_new(&w, "w", d, k);  gp_init_glorot_uniform(w, &rng, 1.0f);
 *   gp_tape *t;    gp_tape_new(&t);
 *   gp_optim *opt; gp_adam_new(&opt, &w, 1, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f);
 *   for (...) {
 *       gp_tape_reset(t);
 *       const gp_graph *a; gp_graph_gcn_norm(&a, g);
 *       gp_tensor *h = gp_spmm(t, (gp_graph *)a, NULL, gp_matmul(t, x, w, false, false));
 *       gp_tensor *loss = gp_cross_entropy_loss(t, h, labels, GP_REDUCE_MEAN);
 *       if (gp_tape_backward(t, loss) != GP_OK) fprintf(stderr, "%s\n", gp_last_error());
 *       gp_optim_step(opt); gp_optim_zero_grad(opt);
 *   }
 */
#ifndef GRAPHPOOL_GRAPHPOOL_H
#define GRAPHPOOL_GRAPHPOOL_H

#include <graphpool/status.h>
#include <graphpool/rng.h>
#include <graphpool/arena.h>
#include <graphpool/tensor.h>
#include <graphpool/tape.h>
#include <graphpool/sparse.h>
#include <graphpool/graph.h>
#include <graphpool/ops.h>
#include <graphpool/optim.h>
#include <graphpool/module.h>
#include <graphpool/layers.h>
#include <graphpool/io.h>
#include <graphpool/linksplit.h>
#include <graphpool/splits.h>
#include <graphpool/metrics.h>
#include <graphpool/heuristics.h>
#include <graphpool/generators.h>
/* igraph / GraphBLAS conversions: <graphpool/interop.h> (pulls in the foreign headers). */
/* pooling operators: <graphpool/pool.h>, <graphpool/walkpool.h>, ... */

#endif
