/*
 * Sparse graphs and batches of graphs.
 *
 * A gp_graph is a square CSR adjacency where row i lists the in-neighbours of node i:
 * message passing computes y_i = sum_{j in row i} a_ij x_j. An undirected graph stores both
 * directions (symmetric = true). A batch of graphs is one block-diagonal graph with
 * graph_ptr (node offsets, num_graphs + 1) and graph_of (graph id per node); a single graph is
 * a batch of one.
 *
 * Cached derived data (GCN normalisation, transpose) follows the LAGraph rule: a cache entry
 * is either absent or correct. Getters fill the cache on first use (so the first call is not
 * thread-safe on a shared graph; call it once before parallel use).
 *
 * Implicit adjacency: a batch of copies that share one structure (gp_graph_copies with
 * shared = true, and the batches made by the expanding pooling operators rp and klgnn unless
 * given shared=0) has adj.ptr == adj.idx == adj.val == NULL, while adj.rows, adj.cols, adj.nnz,
 * symmetric, num_graphs, graph_ptr and graph_of describe the block-diagonal graph as usual; the
 * structure lives in the private cache. gp_spmm (one head), gp_graph_degrees,
 * gp_graph_add_self_loops, gp_graph_gcn_norm (both give implicit graphs) and the GIN, GCN,
 * GraphConv (sum, mean) and SAGE (mean) layers work on it directly, with the same results as on
 * the explicit graph; gp_spmm with several heads, gp_sddmm, gp_graph_transpose, gp_graph_copy
 * (an explicit copy), gp_graph_edge_list, GAT and max aggregation use an explicit form built on
 * first use and cached in the graph; so do the library's other readers of adj's arrays
 * (gp_graph_batch, gp_graph_induced, gp_graph_khop, the heuristics, random link splits, igraph
 * conversion, WalkPool, GNP aggregation, coarsening pooling, the GPN readout). Code outside
 * the library that reads adj's arrays itself must check adj.ptr != NULL (or call gp_graph_copy
 * first).
 */
#ifndef GRAPHPOOL_GRAPH_H
#define GRAPHPOOL_GRAPH_H

#include <stdbool.h>
#include <stdint.h>
#include <graphpool/rng.h>
#include <graphpool/sparse.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gp_graph_cache gp_graph_cache;

typedef struct gp_graph {
    gp_csr adj;          /* n x n; adj.val NULL = unweighted; adj.ptr NULL = implicit (above) */
    bool symmetric;      /* adj equals its transpose (values included) */
    int64_t num_graphs;  /* >= 1 */
    int64_t *graph_ptr;  /* num_graphs + 1 node offsets */
    int64_t *graph_of;   /* n graph ids */
    gp_graph_cache *cache;
} gp_graph;

static inline int64_t gp_graph_nodes(const gp_graph *g) { return g->adj.rows; }
static inline int64_t gp_graph_edges(const gp_graph *g) { return g->adj.nnz; }

/* Options for building from an edge list. */
enum {
    GP_EDGES_SYMMETRISE = 1u << 0,      /* add (v,u) for every (u,v): undirected graph */
    GP_EDGES_DROP_DUPLICATES = 1u << 1, /* keep one copy of repeated edges (first weight);
                                           otherwise duplicate weights are summed */
    GP_EDGES_DROP_SELF_LOOPS = 1u << 2,
    GP_EDGES_ADD_SELF_LOOPS = 1u << 3,  /* ensure (i,i) for every node, weight 1 */
};

/*
 * Build a graph of n nodes from m directed edges src[k] -> dst[k] (weights w may be NULL).
 * Ids must be in [0, n): GP_E_RANGE otherwise, naming the edge. Complexity O(n + m).
 */
GP_API gp_status gp_graph_from_edges(gp_graph **out, int64_t n, int64_t m, const int64_t *src,
                                     const int64_t *dst, const float *w, unsigned flags);
/* Take ownership of a square CSR (*adj set to NULL on success). */
GP_API gp_status gp_graph_from_csr(gp_graph **out, gp_csr **adj, bool symmetric);
GP_API void gp_graph_free(gp_graph **g);
/* Deep copy (without caches). */
GP_API gp_status gp_graph_copy(gp_graph **out, const gp_graph *g);

/*
 * Copies of the graphs of batch g: copies[b] >= 0 copies of graph b, copy-major (the nodes of a
 * copy contiguous, the copies of one graph consecutive, graph order kept), as one batch of
 * sum(copies) >= 1 graphs: output node s_o + i of copy o of graph b is input node
 * g->graph_ptr[b] + i. Every edge of g must stay inside its graph. shared = true: the copies
 * share one structure (implicit adjacency, above): memory O(n + m) of the graphs with a copy plus
 * O(copies + total nodes), instead of O(total nodes + total edges). GP_E_INVALID for NULL
 * arguments, a negative count, no copy at all or an edge between graphs. An implicit g is read
 * through its explicit form (built and cached in g).
 */
GP_API gp_status gp_graph_copies(gp_graph **out, const gp_graph *g, const int64_t *copies, bool shared);

/* In-degrees (row sums of adj, weighted if val present) into deg[n]. */
GP_API void gp_graph_degrees(const gp_graph *g, float *deg);
/* The graph with a self-loop of weight 1 added at every node that lacks one. */
GP_API gp_status gp_graph_add_self_loops(gp_graph **out, const gp_graph *g);

/* Cached D^-1/2 (A + I) D^-1/2 (Kipf & Welling 2017), D the degrees of A + I; the returned
 * graph is owned by g. */
GP_API gp_status gp_graph_gcn_norm(const gp_graph **out, gp_graph *g);
/* Cached transpose: row i lists out-neighbours of i; perm maps transpose entry -> entry of g.
 * For a symmetric graph the transpose is g itself with the permutation pairing (i,j)<->(j,i);
 * with perm NULL (the pairing not wanted) it is returned without building anything. */
GP_API gp_status gp_graph_transpose(const gp_csr **out, const int64_t **perm, gp_graph *g);

/*
 * Block-diagonal union of graphs (each may itself be a batch: batches nest flat, graph_ptr
 * and graph_of are concatenated). Weighted if any input is (unweighted inputs give ones);
 * symmetric iff all inputs are. count < 1, graphs NULL or a NULL graph: GP_E_INVALID.
 * Complexity O(total n + total m).
 */
GP_API gp_status gp_graph_batch(gp_graph **out, int64_t count, const gp_graph *const *graphs);
/*
 * Induced subgraph on k distinct nodes, in the given order: node i of the result is
 * nodes[i] of g (unlike igraph, which sorts). Out-of-range ids give GP_E_RANGE, duplicates
 * GP_E_INVALID, both naming the id. Keeps edge values and the symmetric flag.
 * Graph ids: if g->graph_of[nodes[i]] never decreases along nodes, the result keeps g's
 * num_graphs and graph_of[i] = g->graph_of[nodes[i]] (graphs with no selected node are
 * empty); otherwise the graphs are not contiguous and the result is a single graph.
 * Expected O(k + edges of the selected rows), independent of n (hash map, no O(n) scratch),
 * so it suits one call per target link. Thread-safe on a shared g.
 */
GP_API gp_status gp_graph_induced(gp_graph **out, const gp_graph *g, int64_t k, const int64_t *nodes);
/*
 * Nodes within `hops` hops of the seeds, in BFS order (seeds first, in the given order, then
 * hop 1, ...), following edges in both directions. Repeated seeds are kept once (first
 * occurrence). Within a hop, nodes are in increasing id order. If max_per_hop > 0, each hop
 * keeps at most that many new nodes, a uniform sample drawn with rng (required then, else
 * GP_E_INVALID; the rng is used only at hops with more candidates than the cap); the
 * candidates left out are dropped for good, as in SEAL's k_hop_subgraph. max_per_hop = 0: no
 * cap. *nodes is allocated (gp_free), *count its length, hop_ptr (optional, hops + 2 entries)
 * the hop boundaries: hop h is nodes[hop_ptr[h] .. hop_ptr[h+1]).
 * Out-of-range seeds: GP_E_RANGE. Expected O(visited nodes' degrees + c log c) per hop with
 * c new nodes, independent of n. A directed graph needs its out-neighbours: the transpose
 * cache is filled on first use (call gp_graph_transpose once before calling this from several
 * threads on the same graph); symmetric graphs need no cache.
 */
GP_API gp_status gp_graph_khop(int64_t **nodes, int64_t *count, int64_t *hop_ptr, const gp_graph *g,
                               int64_t num_seeds, const int64_t *seeds, int hops,
                               int64_t max_per_hop, gp_rng *rng);

/* The edges as (src, dst) arrays in CSR order (dst = row): caller frees with gp_free. */
GP_API gp_status gp_graph_edge_list(int64_t **src, int64_t **dst, const gp_graph *g);

#ifdef __cplusplus
}
#endif
#endif
