/*
 * Graph Parsing Networks (Song et al., ICLR 2024): the parsing step, the pooled graph and the
 * whole parse hierarchy of one graph. The trainable operator itself is the pooling class "gpn"
 * (pool.h, graphpool/gpn.c); these calls expose what it computes so that users can look at the
 * structure it found.
 */
#ifndef GRAPHPOOL_GPN_H
#define GRAPHPOOL_GPN_H

#include <stdint.h>
#include <stdio.h>
#include <graphpool/module.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One parsing step on n nodes and m undirected edges {eu[k], ev[k]} with scores score[k]:
 * every node keeps its dominant edge (its highest-scoring incident edge; ties: the smaller edge
 * index k; NaN scores rank below every number; self-loops are ignored), and the clusters are the
 * weakly connected components of the dominant-edge graph (union-find). Nodes without an edge are
 * singletons. cluster[i] (n entries) receives the cluster of node i; clusters are numbered
 * 0..*num_clusters-1 in the order of their smallest node, so a cluster never precedes a cluster
 * of an earlier node (batches keep their graph order). Out-of-range ids: GP_E_RANGE.
 * O(n + m alpha(n)) time, 2 n int64 of scratch.
 */
GP_API gp_status gp_gpn_parse_edges(int64_t *cluster, int64_t *num_clusters, int64_t n, int64_t m,
                                    const int64_t *eu, const int64_t *ev, const float *score);

/*
 * The pooled graph 1[offdiag(S^T A S) > 0] for the hard assignment S[i, cluster[i]] = 1:
 * clusters c != d are adjacent iff an edge of g joins them; unweighted, symmetric, no
 * self-loops. The batch structure follows the clusters (cluster c belongs to the graph of its
 * nodes): clusters spanning two graphs, or graph ids that decrease along the clusters, give
 * GP_E_INVALID. A hand kernel (marker array per cluster), O(n + nnz(A) + num_clusters) plus
 * sorting the rows of the result. *out is the caller's (gp_graph_free).
 */
GP_API gp_status gp_gpn_pooled_graph(gp_graph **out, const gp_graph *g, const int64_t *cluster,
                                     int64_t num_clusters);

/* The parse hierarchy of one graph: level l maps the num_nodes[l] nodes of level l onto the
 * num_nodes[l + 1] nodes of level l + 1 (cluster[l][i]). Level 0 is the input graph. */
typedef struct gp_gpn_hierarchy {
    int num_levels;     /* pooling steps that merged something */
    int64_t *num_nodes; /* num_levels + 1 */
    int64_t **cluster;  /* num_levels arrays of num_nodes[l] entries */
} gp_gpn_hierarchy;

/*
 * Run a "gpn" pooling module (gp_pool_new(&m, "gpn...", d, rng)) in evaluation mode on g
 * (undirected; a batch is parsed as one graph whose components pool separately) with node
 * features x (n x d), and record the cluster membership of every level until no edge is left.
 * Memory stays linear in the graph: each level's temporaries are released before the next, and
 * edge scores are computed in chunks. Errors: not a gpn module, shape mismatch, directed graph
 * (GP_E_INVALID / GP_E_SHAPE). Free with gp_gpn_hierarchy_free.
 */
GP_API gp_status gp_gpn_parse(gp_gpn_hierarchy *out, gp_module *gpn, gp_graph *g, const gp_tensor *x);
GP_API void gp_gpn_hierarchy_free(gp_gpn_hierarchy *h);

/*
 * Write h as one JSON object:
 *   {"levels": L, "num_nodes": [n0, ..., nL], "cluster": [[...n0 ids...], ..., [...]]}
 * where cluster[l][i] is the node of level l+1 containing node i of level l. GP_E_IO on a write
 * error.
 */
GP_API gp_status gp_gpn_hierarchy_write_json(const gp_gpn_hierarchy *h, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
