/*
 * Link-prediction heuristics: a score for each node pair (u, v) of an undirected graph,
 * higher = more likely linked. Pairs are 2 * count ids (u0, v0, u1, v1, ...) as in
 * gp_link_split. The graph must be symmetric; edge values are ignored (structure only).
 * Graphs are expected without self-loops (observed graphs from gp_link_split_observed have
 * none); a self-loop, if present, counts as a neighbour, except in jaccard, where igraph
 * drops it. N(x) = neighbours of x, d(x) = |N(x)|.
 *
 *   cn       common neighbours      |N(u) ∩ N(v)|
 *   jaccard  Jaccard                |N(u) ∩ N(v)| / |N(u) ∪ N(v)| (0 if both isolated; igraph)
 *   aa       Adamic-Adar            sum_{w ∈ N(u) ∩ N(v)} 1 / ln d(w)   (d(w) >= 2 there)
 *   ra       resource allocation    sum_{w ∈ N(u) ∩ N(v)} 1 / d(w)
 *   pa       preferential attach.   d(u) d(v)
 *   katz     truncated Katz         sum_{l=1..L} beta^l (A^l)_{uv}
 *   ppr      rooted PageRank        ppr_u(v) + ppr_v(u), ppr_s the stationary distribution of
 *                                   the walk that restarts at s with probability alpha and
 *                                   otherwise moves to a uniform neighbour (a node without
 *                                   neighbours returns to s)
 *   svd      spectral low rank      sum_k lambda_k U_uk U_vk: the rank-r truncated
 *                                   eigendecomposition of A (largest |lambda|) from randomised
 *                                   subspace iteration; the dot product of the embeddings
 *                                   U |Lambda|^1/2 and U sign(Lambda) |Lambda|^1/2
 *
 * Complexity (P pairs, m edges): cn/aa/ra O(sum of d(u) + d(v)); jaccard the same plus an
 * O(n + m) conversion to igraph; pa O(P); katz O(S * work of L - 1 sparse hops) for S distinct
 * sources; ppr O(S' * iters * (n + m)) for S' distinct endpoints; svd O(iters * r * (m + n r)).
 * Pair ids outside [0, n) give GP_E_RANGE naming the pair.
 */
#ifndef GRAPHPOOL_HEURISTICS_H
#define GRAPHPOOL_HEURISTICS_H

#include <stdint.h>
#include <graphpool/graph.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gp_heuristic_opts {
    double katz_beta; /* 0.01: the damping of SEAL's Katz */
    int katz_hops;    /* L = 4 */
    double ppr_alpha; /* restart probability 0.15 */
    int ppr_max_iters; /* 100 power iterations at most */
    double ppr_tol;   /* stop when the L1 change is below 1e-8 */
    int svd_rank;     /* r = 32 (capped at n) */
    int svd_iters;    /* 6 subspace iterations */
    uint64_t seed;    /* random start of the subspace iteration (1) */
} gp_heuristic_opts;

/* The defaults listed above. */
GP_API void gp_heuristic_opts_default(gp_heuristic_opts *opts);

/* scores[count] for the pairs; opts NULL = defaults. */
typedef gp_status (*gp_heuristic_fn)(double *scores, const gp_graph *g, int64_t count,
                                     const int64_t *pairs, const gp_heuristic_opts *opts);

GP_API gp_status gp_heuristic_cn(double *scores, const gp_graph *g, int64_t count,
                                 const int64_t *pairs, const gp_heuristic_opts *opts);
GP_API gp_status gp_heuristic_jaccard(double *scores, const gp_graph *g, int64_t count,
                                      const int64_t *pairs, const gp_heuristic_opts *opts);
GP_API gp_status gp_heuristic_aa(double *scores, const gp_graph *g, int64_t count,
                                 const int64_t *pairs, const gp_heuristic_opts *opts);
GP_API gp_status gp_heuristic_ra(double *scores, const gp_graph *g, int64_t count,
                                 const int64_t *pairs, const gp_heuristic_opts *opts);
GP_API gp_status gp_heuristic_pa(double *scores, const gp_graph *g, int64_t count,
                                 const int64_t *pairs, const gp_heuristic_opts *opts);
GP_API gp_status gp_heuristic_katz(double *scores, const gp_graph *g, int64_t count,
                                   const int64_t *pairs, const gp_heuristic_opts *opts);
GP_API gp_status gp_heuristic_ppr(double *scores, const gp_graph *g, int64_t count,
                                  const int64_t *pairs, const gp_heuristic_opts *opts);
GP_API gp_status gp_heuristic_svd(double *scores, const gp_graph *g, int64_t count,
                                  const int64_t *pairs, const gp_heuristic_opts *opts);

/* The table of heuristics, for apps (`--method aa`). */
typedef struct gp_heuristic_info {
    const char *name;        /* "cn", "jaccard", "aa", "ra", "pa", "katz", "ppr", "svd" */
    const char *description; /* e.g. "Adamic-Adar" */
    gp_heuristic_fn fn;
} gp_heuristic_info;

/* Number of heuristics and the i-th (NULL if i is out of range), in the order above. */
GP_API int gp_heuristic_count(void);
GP_API const gp_heuristic_info *gp_heuristic_at(int i);
/* Look up by name (case-insensitive; also accepts "adamic-adar", "common-neighbours",
 * "resource-allocation", "preferential-attachment", "pagerank"); NULL if unknown. */
GP_API const gp_heuristic_info *gp_heuristic_find(const char *name);

#ifdef __cplusplus
}
#endif
#endif
