/*
 * Differentiable ops. Each takes the tape first, returns its output (a temporary in the
 * tape's arena) or NULL on error (sticky: see tape.h), and records itself for backward when
 * an input requires a gradient. Inputs are never modified.
 *
 * Shapes are rows x cols. "Broadcast" shapes for binary ops: each operand is r x c, 1 x c
 * (a row vector repeated down the rows), r x 1 (a column repeated across), or 1 x 1.
 */
#ifndef GRAPHPOOL_OPS_H
#define GRAPHPOOL_OPS_H

#include <stdbool.h>
#include <stdint.h>
#include <graphpool/graph.h>
#include <graphpool/rng.h>
#include <graphpool/sparse.h>
#include <graphpool/tape.h>

#ifdef __cplusplus
extern "C" {
#endif


/* ---- dense products (OpenBLAS sgemm, no copies of the operands) ---- */
/* op(A) op(B) with op = transpose when ta / tb. */
GP_API gp_tensor *gp_matmul(gp_tape *t, gp_tensor *a, gp_tensor *b, bool ta, bool tb);
/* Batched: a is (b*m) x k (or k x m per item when ta), b is (b*k) x n: b products. */
GP_API gp_tensor *gp_matmul_batched(gp_tape *t, gp_tensor *a, gp_tensor *b, int64_t batch, bool ta, bool tb);

/* ---- elementwise with broadcasting ---- */
GP_API gp_tensor *gp_add(gp_tape *t, gp_tensor *a, gp_tensor *b);
GP_API gp_tensor *gp_sub(gp_tape *t, gp_tensor *a, gp_tensor *b);
GP_API gp_tensor *gp_mul(gp_tape *t, gp_tensor *a, gp_tensor *b);
GP_API gp_tensor *gp_div(gp_tape *t, gp_tensor *a, gp_tensor *b);
GP_API gp_tensor *gp_scale(gp_tape *t, gp_tensor *a, float s);      /* s * a */
GP_API gp_tensor *gp_add_scalar(gp_tape *t, gp_tensor *a, float s); /* a + s */

/* ---- reductions ---- */
GP_API gp_tensor *gp_sum_all(gp_tape *t, gp_tensor *a);  /* 1 x 1 */
GP_API gp_tensor *gp_mean_all(gp_tape *t, gp_tensor *a); /* 1 x 1 */
GP_API gp_tensor *gp_sum_rows(gp_tape *t, gp_tensor *a);  /* rows x 1: the sum of each row */
GP_API gp_tensor *gp_mean_rows(gp_tape *t, gp_tensor *a); /* rows x 1 */
GP_API gp_tensor *gp_sum_cols(gp_tape *t, gp_tensor *a);  /* 1 x cols: the sum of each column */
GP_API gp_tensor *gp_mean_cols(gp_tape *t, gp_tensor *a); /* 1 x cols */

/* ---- activations and elementwise functions ---- */
GP_API gp_tensor *gp_relu(gp_tape *t, gp_tensor *a);
GP_API gp_tensor *gp_leaky_relu(gp_tape *t, gp_tensor *a, float slope);
GP_API gp_tensor *gp_elu(gp_tape *t, gp_tensor *a, float alpha);
GP_API gp_tensor *gp_sigmoid(gp_tape *t, gp_tensor *a);
GP_API gp_tensor *gp_tanh(gp_tape *t, gp_tensor *a);
GP_API gp_tensor *gp_exp(gp_tape *t, gp_tensor *a);
GP_API gp_tensor *gp_log(gp_tape *t, gp_tensor *a);      /* log of a positive input; GP_E_NUMERIC otherwise */
GP_API gp_tensor *gp_softplus(gp_tape *t, gp_tensor *a); /* log(1 + e^a), stable for large |a| */
GP_API gp_tensor *gp_abs(gp_tape *t, gp_tensor *a);      /* subgradient 0 at 0 */
/* a^p elementwise for a >= 0 (GP_E_NUMERIC on negative a). Safe at zero: 0^p = 0 for p > 0,
 * d/da = 0 where a = 0 and p < 1 (instead of infinity), d/dp = a^p log a = 0 at a = 0.
 * p is a tensor (1 x 1 or 1 x cols, broadcast) and receives a gradient. */
GP_API gp_tensor *gp_pow(gp_tape *t, gp_tensor *a, gp_tensor *p);
/* a^p with a constant exponent; for integer p, negative a are allowed. */
GP_API gp_tensor *gp_pow_scalar(gp_tape *t, gp_tensor *a, float p);
/* Square matrix power A^k (k >= 1) by repeated squaring, as a composition of gp_matmul. */
GP_API gp_tensor *gp_matrix_power(gp_tape *t, gp_tensor *a, int k);

/* ---- softmax family (over each row) ---- */
GP_API gp_tensor *gp_softmax(gp_tape *t, gp_tensor *a);
GP_API gp_tensor *gp_log_softmax(gp_tape *t, gp_tensor *a);

/* ---- regularisation and normalisation ---- */
/* Inverted dropout: zero with probability p, scale survivors by 1/(1-p); identity when the
 * tape is not training or p == 0. The mask is a function of one 64-bit draw from rng and the
 * element index (ops_dropout.c), the same for every thread count. */
GP_API gp_tensor *gp_dropout(gp_tape *t, gp_tensor *a, float p, gp_rng *rng);
/* Per row: (a - mean) / sqrt(var + eps) * gamma + beta (gamma, beta 1 x cols or NULL). */
GP_API gp_tensor *gp_layer_norm(gp_tape *t, gp_tensor *a, gp_tensor *gamma, gp_tensor *beta, float eps);
/*
 * Per column over the rows (Ioffe & Szegedy 2015). Training: batch mean and biased variance
 * normalise; running_mean/var (1 x cols, long-lived, not parameters) are updated as
 * r = (1 - momentum) r + momentum * batch (unbiased variance for running_var). Eval: running
 * statistics normalise. A training batch of fewer than 2 rows (no variance to estimate) is
 * normalised as in eval mode, with the running statistics, which it leaves unchanged; it needs
 * running_mean and running_var (GP_E_INVALID without them). gamma, beta may be NULL.
 */
GP_API gp_tensor *gp_batch_norm(gp_tape *t, gp_tensor *a, gp_tensor *gamma, gp_tensor *beta, gp_tensor *running_mean,
                          gp_tensor *running_var, float momentum, float eps);

/* ---- shape ---- */
GP_API gp_tensor *gp_concat_cols(gp_tape *t, int count, gp_tensor *const *parts); /* same rows */
GP_API gp_tensor *gp_concat_rows(gp_tape *t, int count, gp_tensor *const *parts); /* same cols */
GP_API gp_tensor *gp_slice_cols(gp_tape *t, gp_tensor *a, int64_t c0, int64_t ncols);
GP_API gp_tensor *gp_slice_rows(gp_tape *t, gp_tensor *a, int64_t r0, int64_t nrows);
GP_API gp_tensor *gp_transpose(gp_tape *t, gp_tensor *a);

/* ---- indexing (index arrays take no gradient) ---- */
/* out[i] = a[idx[i]], i < n. */
GP_API gp_tensor *gp_gather_rows(gp_tape *t, gp_tensor *a, const int64_t *idx, int64_t n);
/* out has out_rows rows, zero except out[idx[i]] += a[i]. */
GP_API gp_tensor *gp_scatter_add_rows(gp_tape *t, gp_tensor *a, const int64_t *idx, int64_t out_rows);

/*
 * Segment reductions over sorted segments: segment s is rows [seg_ptr[s], seg_ptr[s+1]) of a
 * (seg_ptr has num_segments + 1 entries, non-decreasing, seg_ptr[num_segments] = a->rows).
 * Output num_segments x cols; empty segments give 0. max/min backward routes the gradient to
 * the first arg-extremum of each column.
 */
GP_API gp_tensor *gp_segment_sum(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr, int64_t num_segments);
GP_API gp_tensor *gp_segment_mean(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr, int64_t num_segments);
GP_API gp_tensor *gp_segment_max(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr, int64_t num_segments);
GP_API gp_tensor *gp_segment_min(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr, int64_t num_segments);
/* Softmax within each segment, separately per column (e.g. over each node's incoming edges
 * with seg_ptr = adj.ptr, one column per attention head). Output has a's shape. */
GP_API gp_tensor *gp_segment_softmax(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr, int64_t num_segments);

/* ---- sparse ---- */
/*
 * Y = A X with A the adjacency of g (y_i = sum_k a_k x_{idx[k]} over row i).
 * Edge values: edge_vals (nnz x H tensor, differentiable) if given, else g->adj.val, else 1.
 * With H > 1 heads, X has H*d columns and head h uses column h of edge_vals on columns
 * [h*d, (h+1)*d) of X. Gradients flow to X (via the cached transpose) and to edge_vals.
 * g is const so that cached graphs (gp_graph_gcn_norm) can be passed directly; its transpose
 * cache is still filled on first use (gp_graph_transpose), which is not thread-safe.
 */
GP_API gp_tensor *gp_spmm(gp_tape *t, const gp_graph *g, gp_tensor *edge_vals, gp_tensor *x);
/* Per-edge dot products (SDDMM): out[k, h] = <a_i, b_j> over the columns of head h, for the
 * k-th stored edge (i, j) of g. a, b are n x (H*d); output nnz x H. */
GP_API gp_tensor *gp_sddmm(gp_tape *t, const gp_graph *g, gp_tensor *a, gp_tensor *b, int64_t heads);
/*
 * Sparse features times dense weights: S (rows x k, constant) times W (k x n) -> rows x n,
 * gradient to W only (dW = S^T dY); S is never densified. When the tape is training and
 * dropout > 0, each stored value of S is dropped with that probability and survivors scaled by
 * 1/(1-p) (the mask is drawn from rng in storage order).
 */
GP_API gp_tensor *gp_sparse_matmul(gp_tape *t, const gp_csr *s, gp_tensor *w, float dropout, gp_rng *rng);

/* ---- fused ops (fewer passes over memory than their compositions; tests/test_fused.c) ---- */
/*
 * Y = C + A B + bias: A m x k, B k x n, C m x n or NULL, bias 1 x n or NULL. The same values
 * as gp_add(gp_add(gp_matmul(A, B), C), bias) but summed as (C + bias) + A B (sgemm adds the
 * product into C + bias): bit-identical without C for k <= 320, last-bit differences
 * otherwise. Gradients to all four (dC = dY, dbias = column sums of dY).
 */
GP_API gp_tensor *gp_addmm(gp_tape *t, gp_tensor *c, gp_tensor *a, gp_tensor *b, gp_tensor *bias);
/* y_k = a[ia[k]] * b[ib[k]] elementwise, k < n (a, b same width; e.g. h_u * h_v per edge):
 * gp_mul(gp_gather_rows(a, ia, n), gp_gather_rows(b, ib, n)) without the gathered copies, with
 * the same bits forward and backward (a's gradient terms added before b's). GP_E_RANGE for an
 * index out of range. */
GP_API gp_tensor *gp_gather_mul(gp_tape *t, gp_tensor *a, const int64_t *ia, gp_tensor *b,
                                const int64_t *ib, int64_t n);
/* z_k = (a[ia[k]] * a[ib[k]]) W + bias, k < n (bias NULL: none): gp_addmm(NULL, gp_gather_mul(a,
 * ia, a, ib, n), W, bias) with the same forward bits, without keeping the n products, and with a
 * backward over the rows of dz that are not all zero only (rows without a gradient add nothing;
 * GPN's edge scorer: edges between clusters). With every row's gradient nonzero the gradients
 * have the unfused ops' bits; otherwise the products run over fewer rows (last-bit differences
 * in dW, and in dA with OpenBLAS's kernels). ia and ib must stay valid until backward.
 * GP_E_RANGE for an index out of range. */
GP_API gp_tensor *gp_gather_mul_affine(gp_tape *t, gp_tensor *a, const int64_t *ia, const int64_t *ib,
                                       int64_t n, gp_tensor *w, gp_tensor *bias);
/* gp_concat_cols(max, mean) of gp_segment_max / gp_segment_mean (mean_first: [mean | max]) in
 * one op: num_segments x 2 cols, the same bits forward and backward, one pass over a. */
GP_API gp_tensor *gp_segment_max_mean(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr,
                                      int64_t num_segments, bool mean_first);
/* gp_dropout(gp_relu(a), p, rng) in one op: the same mask (from the same rng state) and
 * output bits; gp_relu(a) when not training or p == 0. */
GP_API gp_tensor *gp_relu_dropout(gp_tape *t, gp_tensor *a, float p, gp_rng *rng);

/* ---- losses (reduction: mean over elements / rows, or sum) ---- */
typedef enum gp_reduction { GP_REDUCE_MEAN = 0, GP_REDUCE_SUM = 1 } gp_reduction;
/* (pred - target)^2. */
GP_API gp_tensor *gp_mse_loss(gp_tape *t, gp_tensor *pred, gp_tensor *target, gp_reduction r);
/* max(x,0) - x y + log(1 + e^-|x|), targets y in [0, 1]. */
GP_API gp_tensor *gp_bce_logits_loss(gp_tape *t, gp_tensor *logits, gp_tensor *target, gp_reduction r);
/* -logp[i, labels[i]] over rows (log-probabilities, e.g. from gp_log_softmax); mean over rows
 * or sum. Labels out of range give GP_E_RANGE. */
GP_API gp_tensor *gp_nll_loss(gp_tape *t, gp_tensor *logp, const int64_t *labels, gp_reduction r);
/* gp_nll_loss(gp_log_softmax(logits)). */
GP_API gp_tensor *gp_cross_entropy_loss(gp_tape *t, gp_tensor *logits, const int64_t *labels, gp_reduction r);

#ifdef __cplusplus
}
#endif
#endif
