/*
 * WalkPool (Pan, Shi & Dokmanic, "Neural Link Prediction with Walk Pooling", ICLR 2022):
 * walk-profile features of enclosing subgraphs from attention logits.
 *
 * For each subgraph (G+, the target link (a, b) present) and head h, with logits s(u->v) on
 * its directed edges:
 *   P+[v,u] = softmax of s(u'->v) over v's incoming edges, at u;
 *   P-      = the same logits renormalised without the edges a->b and b->a (a row left with no
 *             edge is zero);
 * and for tau = 2 .. walk_len + 1:
 *   node±  = P±^tau[a,a] + P±^tau[b,b],   link± = P±^tau[a,b] + P±^tau[b,a],
 *   graph  = tr P+^tau - tr P-^tau,        omega = sigmoid(s(a->b)) + sigmoid(s(b->a)).
 * Everything is symmetric in a <-> b.
 */
#ifndef GRAPHPOOL_WALKPOOL_H
#define GRAPHPOOL_WALKPOOL_H

#include <stdint.h>
#include <graphpool/graph.h>
#include <graphpool/tape.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of features per link: (5 walk_len + 1) heads. */
static inline int64_t gp_walkpool_dim(int walk_len, int64_t heads)
{
    return (5 * (int64_t)walk_len + 1) * heads;
}

/*
 * Walk-profile features of a batch of L = g->num_graphs subgraphs (one block per link of the
 * block-diagonal g, e.g. from gp_graph_batch). Row v of g->adj lists the sources u of the
 * edges u -> v of G+; logits is nnz x H (H heads, e.g. from gp_sddmm), entry k the logit of
 * the k-th stored edge. pairs holds 2L batch node ids (a_l, b_l): both inside block l,
 * a_l != b_l, and both edges a_l -> b_l and b_l -> a_l stored.
 * Output L x (5 walk_len + 1) H, column blocks in the reference code's order
 *   [graph (H T) | omega (H) | node+ (H T) | node- (H T) | link+ (H T) | link- (H T)],
 * head-major inside a block (column h T + tau - 2), T = walk_len.
 * Differentiable in logits. g and pairs are borrowed until the tape is reset.
 * Errors (NULL, sticky on the tape): shape mismatch (GP_E_SHAPE), walk_len < 1, a pair outside
 * its block, a == b or a missing target edge (GP_E_INVALID, naming the link).
 * Complexity O(H T (nnz + T N)) time, N = nodes of g (rows a, b of the powers are propagated along
 * the edges; the trace difference uses tr(P+^tau - P-^tau) = sum_{i+j=tau-1} tr(P+^i (P+ - P-)
 * P-^j), whose middle factor has only rows a and b); no dense n x n matrix is formed. Memory:
 * about 6 (T + 2) n + 3 m doubles per link and head in the tape's arena (twice that during
 * backward). Parallel over links with bit-identical results for any thread count.
 */
GP_API gp_tensor *gp_walkpool(gp_tape *t, const gp_graph *g, gp_tensor *logits, const int64_t *pairs,
                              int walk_len);

#ifdef __cplusplus
}
#endif
#endif
