/*
 * Synthetic graphs with known structure, for tests and demos. Every result is an undirected
 * (symmetric), unweighted gp_graph without self-loops or multi-edges, fully determined by its
 * arguments and seed (the same on every platform for the generators that use graphpool's own
 * RNG; Barabasi-Albert and Watts-Strogatz use igraph's PCG32 generator seeded from `seed`, the
 * same for a given igraph version).
 */
#ifndef GRAPHPOOL_GENERATORS_H
#define GRAPHPOOL_GENERATORS_H

#include <stdbool.h>
#include <stdint.h>
#include <graphpool/graph.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Stochastic block model: blocks of sizes[0..num_blocks) consecutive nodes; each pair u < v in
 * blocks a, b is an edge independently with probability p[a * num_blocks + b] (p symmetric,
 * entries in [0, 1]). block_of (optional, n entries) receives each node's block.
 * Complexity O(n + m + B^2) (geometric skipping over the pairs, Batagelj & Brandes 2005).
 */
GP_API gp_status gp_gen_sbm(gp_graph **out, int64_t *block_of, int64_t num_blocks,
                            const int64_t *sizes, const double *p, uint64_t seed);

/* Erdos-Renyi G(n, p): the one-block stochastic block model. */
GP_API gp_status gp_gen_erdos_renyi(gp_graph **out, int64_t n, double p, uint64_t seed);

/*
 * Square lattice of rows x cols nodes (node r * cols + c), edges to the right and below;
 * periodic wraps both directions (a torus; needs rows, cols >= 3 so that no multi-edge
 * arises). Interior degree 4 (all nodes when periodic).
 */
GP_API gp_status gp_gen_square_lattice(gp_graph **out, int64_t rows, int64_t cols, bool periodic);

/*
 * Triangular lattice: the square lattice plus the diagonal (r, c)-(r + 1, c + 1) in every
 * cell. Interior degree 6 (all nodes when periodic; rows, cols >= 3).
 */
GP_API gp_status gp_gen_triangle_lattice(gp_graph **out, int64_t rows, int64_t cols, bool periodic);

/*
 * Barabasi-Albert preferential attachment (igraph_barabasi_game, linear, psumtree: no
 * multi-edges): node t >= 1 links to min(t, m) distinct earlier nodes, so the graph has
 * m (m - 1) / 2 + (n - m) m edges for n >= m. n >= 1, m >= 1.
 */
GP_API gp_status gp_gen_barabasi_albert(gp_graph **out, int64_t n, int64_t m, uint64_t seed);

/*
 * Watts-Strogatz small world (igraph_watts_strogatz_game): a ring of n nodes each linked to
 * its k nearest neighbours on either side, every edge rewired with probability p (no loops,
 * no multi-edges); n k edges. n > 2 k, k >= 1, p in [0, 1].
 */
GP_API gp_status gp_gen_watts_strogatz(gp_graph **out, int64_t n, int64_t k, double p, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
