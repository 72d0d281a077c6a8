/*
 * Graph propagation with a dense input as one op (GCN, Kipf & Welling 2017; GraphConv with sum
 * aggregation, Morris et al. 2019), optionally followed by ReLU:
 *   Y = A (X W) [+ X W_root] + b          (GCN: A = Â = D^-1/2 (A + I) D^-1/2, no root term)
 *   [Y = max(Y, 0): dY is first masked by Y > 0, the bits of gp_relu's forward and backward]
 *   db_j += sum_i dY_ij,  dW_root += X^T dY,  T' = A^T dY,  dW += X^T T',
 *   dX += dY W_root^T + T' W^T
 * with the kernels of the ops it replaces, in their order, so values and gradients have the
 * same bits: GCN was gp_add(gp_spmm(A, gp_matmul(X, W)), b), GraphConv
 * gp_addmm(gp_spmm(A, gp_matmul(X, W)), X, W_root, b). What it saves is memory: T = X W and
 * the aggregate are dead once Y is formed (no backward needs their values), but as ops' outputs
 * they stayed in the tape's arena until the step ended. Here T is allocated after Y and handed
 * back to the arena at once (gp_i_tape_release_from), the aggregate is formed in Y itself, and
 * T' in backward is also handed back: one n x d tensor per layer where there were three, or four
 * with the ReLU (its input is dead too: its backward reads the output). DD peak RSS, GPN preset
 * 526 -> 474 MB, top-k with GCN 401 -> 354 MB (docs/benchmarks.md, session 14).
 *
 * Aggregating first: with an input that gets no gradient (the data, e.g. one-hot labels) and
 * fewer input than output columns, Y = (A X) W [+ X W_root] + b instead: the SpMM runs on din
 * columns instead of dout, A X (rows x din) is kept, and backward needs no SpMM (dW = (A X)^T dY,
 * and X needs no gradient). Values and gradients have the bits of
 * gp_addmm(gp_matmul(gp_spmm(A, X), W), X, W_root, b) (GCN: gp_add(gp_matmul(gp_spmm(Â, X), W),
 * b)), which differ from the other order's in the last bits. Top-k's PROTEINS model (3 input
 * columns, 128 output): docs/benchmarks.md, "Session 16".
 *
 * Graphs whose copies share one structure (implicit adjacency) go through the ops.
 */
#include <string.h>

#include "internal.h"

/* The ReLU passes (GP_I_CLONES: AVX-512 / AVX2 / x86-64 builds, the same bits); the bias rows
 * go through gp_i_rows_plus_bias (ops_matmul.c). */
/* masked = dY where Y > 0, else 0 (gp_relu's backward) */
GP_I_CLONES static void relu_mask(float *restrict masked, const float *restrict dy,
                                  const float *restrict y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) masked[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* Y = max(Y, 0) in place (gp_relu's forward) */
GP_I_CLONES static void relu_in_place(float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
}

static gp_status propagate_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *x = n->in[0], *w = n->in[1], *w_root = n->in[2], *bias = n->in[3], *y = n->out;
    const gp_csr *tr = n->p[1];
    bool relu = n->i[0];
    int64_t rows = y->rows, din = x->cols, dout = y->cols;
    const float *dy = y->grad;
    /* every gradient buffer first: the scratch allocated after them is handed back at the end */
    float *gx = NULL, *gw = NULL, *gr = NULL, *gb = NULL;
    bool assign_x = false, assign_w = false, assign_r = false, assign_b = false;
    if (gp_i_needs_grad(x) && !(gx = gp_i_grad_acc(t, x, &assign_x))) return GP_E_NOMEM;
    if (gp_i_needs_grad(w) && !(gw = gp_i_grad_acc(t, w, &assign_w))) return GP_E_NOMEM;
    if (gp_i_needs_grad(w_root) && !(gr = gp_i_grad_acc(t, w_root, &assign_r))) return GP_E_NOMEM;
    if (gp_i_needs_grad(bias) && !(gb = gp_i_grad_acc(t, bias, &assign_b))) return GP_E_NOMEM;
    size_t bytes = gp_i_mul_size((size_t)(rows * dout > 0 ? rows * dout : 1), sizeof(float));
    float *scratch = NULL; /* arena memory from here on is handed back at the end */
    if (relu) { /* dY masked by Y > 0: gp_relu's backward into a fresh gradient */
        float *masked = scratch = gp_tape_alloc(t, bytes);
        if (!masked) return GP_E_NOMEM;
        int64_t size = rows * dout;
        int nt = gp_i_threads();
        GP_I_FOR_PARTS(size, size, lo, hi, relu_mask(masked + lo, dy + lo, y->data + lo, hi - lo););
        dy = masked;
    }
    if (w_root) { /* addmm's backward: x, then W_root, then the bias */
        if (gx) gp_i_gemm(false, true, rows, din, dout, 1.0f, dy, dout, w_root->data, dout, assign_x ? 0.0f : 1.0f, gx, din);
        assign_x = false;
        if (gr) gp_i_gemm(true, false, din, dout, rows, 1.0f, x->data, din, dy, dout, assign_r ? 0.0f : 1.0f, gr, dout);
    }
    if (gb) gp_i_column_sums(gb, dy, rows, dout, 1.0f, assign_b); /* gp_add's and addmm's bits */
    const float *ax = n->p[2];
    if (ax) { /* aggregated first: dW = (A X)^T dY (matmul's backward); X has no gradient */
        if (gw) gp_i_gemm(true, false, din, dout, rows, 1.0f, ax, din, dy, dout, assign_w ? 0.0f : 1.0f, gw, dout);
    } else if (gx || gw) {
        float *dt = gp_tape_alloc(t, bytes);
        if (!dt) return GP_E_NOMEM;
        if (!scratch) scratch = dt;
        gp_i_csr_spmm_set(dt, tr, NULL, dy, dout); /* T' = A^T dY */
        if (gx) gp_i_gemm(false, true, rows, din, dout, 1.0f, dt, dout, w->data, dout, assign_x ? 0.0f : 1.0f, gx, din);
        if (gw) gp_i_gemm(true, false, din, dout, rows, 1.0f, x->data, din, dt, dout, assign_w ? 0.0f : 1.0f, gw, dout);
    }
    if (scratch) gp_i_tape_release_from(t, scratch);
    return GP_OK;
}

static const gp_op_info propagate_op = {"graph_propagate", propagate_backward};

gp_tensor *gp_i_graph_propagate(gp_tape *t, const gp_graph *g, gp_tensor *x, gp_tensor *w,
                                gp_tensor *w_root, gp_tensor *bias, bool relu)
{
    gp_tensor *xw[2] = {x, w};
    if (!gp_i_begin(t, 2, xw)) return NULL;
    if (gp_i_graph_copies(g)) { /* the per-copy kernels live in the spmm op */
        gp_tensor *agg = gp_spmm(t, g, NULL, gp_matmul(t, x, w, false, false));
        gp_tensor *y = w_root ? gp_addmm(t, agg, x, w_root, bias) : bias ? gp_add(t, agg, bias) : agg;
        return relu ? gp_relu(t, y) : y;
    }
    const gp_csr *adj = &g->adj;
    if (!GP_TAPE_CHECK(t, x->cols == w->rows && x->rows == adj->cols && adj->rows == adj->cols &&
                              (!w_root || (w_root->rows == w->rows && w_root->cols == w->cols)) &&
                              (!bias || (bias->rows == 1 && bias->cols == w->cols)),
                       "graph propagation: shapes x %lld x %lld, W %lld x %lld, graph of %lld nodes",
                       (long long)x->rows, (long long)x->cols, (long long)w->rows,
                       (long long)w->cols, (long long)adj->rows))
        return NULL;
    int64_t rows = x->rows, din = x->cols, dout = w->cols;
    gp_tensor *y = gp_i_out(t, rows, dout);
    if (!y) return NULL;
    float *ax = NULL; /* A X, kept, when aggregating first */
    if (!gp_i_needs_grad(x) && din < dout) {
        ax = gp_tape_alloc(t, gp_i_mul_size((size_t)(rows * din > 0 ? rows * din : 1), sizeof(float)));
        if (!ax) return NULL;
        gp_i_csr_spmm_set(ax, adj, NULL, x->data, din);
        gp_i_gemm(false, false, rows, dout, din, 1.0f, ax, din, w->data, dout, 0.0f, y->data, dout);
    } else {
        float *xw_data = gp_tape_alloc(t, gp_i_mul_size((size_t)(rows * dout > 0 ? rows * dout : 1), sizeof(float)));
        if (!xw_data) return NULL;
        gp_i_gemm(false, false, rows, dout, din, 1.0f, x->data, din, w->data, dout, 0.0f, xw_data, dout);
        gp_i_csr_spmm_set(y->data, adj, NULL, xw_data, dout); /* the aggregate, in Y */
        gp_i_tape_release_from(t, xw_data);
    }
    if (bias) gp_i_rows_plus_bias(y->data, y->data, bias->data, rows, dout); /* Y += b */
    if (w_root) /* Y += X W_root: addmm's product onto its addend */
        gp_i_gemm(false, false, rows, dout, din, 1.0f, x->data, din, w_root->data, dout, 1.0f, y->data, dout);
    if (relu) { /* in place: gp_relu's forward */
        int nt = gp_i_threads();
        GP_I_FOR_PARTS(rows * dout, rows * dout, lo, hi, relu_in_place(y->data + lo, hi - lo););
    }
    gp_tensor *in[4] = {x, w, w_root, bias};
    gp_node *n = gp_i_record(t, &propagate_op, y, 4, in);
    if (n) {
        n->p[0] = g;
        n->p[2] = ax;
        n->i[0] = relu;
        if (!ax && (gp_i_needs_grad(x) || gp_i_needs_grad(w))) { /* built here so that backward cannot fail on it */
            const gp_csr *tr = NULL; /* a symmetric graph is its own: nothing built */
            gp_status st = gp_graph_transpose(&tr, NULL, (gp_graph *)g);
            if (st != GP_OK) {
                GP_TAPE_FAIL(t, st, "graph propagation: cannot build the transpose (%s)", gp_last_error_message());
                return NULL;
            }
            n->p[1] = tr;
        }
    }
    return gp_i_done(t, y);
}
