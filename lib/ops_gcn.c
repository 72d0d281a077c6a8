/*
 * The GCN propagation as one op (Kipf & Welling 2017):
 *   Y = Â (X W) + b
 *   db_j += sum_i dY_ij,   T' = Â^T dY,   dW += X^T T',   dX += T' W^T
 * with the same kernels, in the same order, as the three ops it replaces (gp_matmul, gp_spmm,
 * gp_add of the bias), so values and gradients have the same bits. What it saves is memory:
 * T = X W is dead once Y is formed (no backward needs it), but as a separate op's output it
 * stayed in the tape's arena until the step ended, next to the bias add's output. Here T is
 * allocated after Y and handed back to the arena at once (gp_i_tape_release_from), and T' in
 * backward likewise: a GCN layer keeps one n x d tensor per layer where it kept three (DD,
 * GPN preset: 64 of the step's 325 MB of arena; docs/benchmarks.md, session 14).
 *
 * Graphs whose copies share one structure (implicit adjacency) go through the three ops.
 */
#include <string.h>

#include "internal.h"

/* db_j += sum_i dy_ij, down the rows in float (gp_add's broadcast backward: the same bits). */
static void add_column_sums(float *db, const float *dy, int64_t rows, int64_t cols)
{
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) db[j] += dy[i * cols + j];
}

static gp_status gcn_propagate_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *x = n->in[0], *w = n->in[1], *bias = n->in[2], *y = n->out;
    const gp_csr *tr = n->p[1];
    int64_t rows = y->rows, din = x->cols, dout = y->cols;
    const float *dy = y->grad;
    if (gp_i_needs_grad(bias)) {
        float *gb = gp_i_grad(t, bias);
        if (!gb) return GP_E_NOMEM;
        add_column_sums(gb, dy, rows, dout);
    }
    if (!gp_i_needs_grad(x) && !gp_i_needs_grad(w)) return GP_OK;
    bool assign_x = false, assign_w = false;
    float *gx = gp_i_needs_grad(x) ? gp_i_grad_acc(t, x, &assign_x) : NULL;
    float *gw = gp_i_needs_grad(w) ? gp_i_grad_acc(t, w, &assign_w) : NULL;
    if ((gp_i_needs_grad(x) && !gx) || (gp_i_needs_grad(w) && !gw)) return GP_E_NOMEM;
    float *dt = gp_tape_alloc(t, gp_i_mul_size((size_t)(rows * dout > 0 ? rows * dout : 1), sizeof(float)));
    if (!dt) return GP_E_NOMEM;
    gp_i_csr_spmm_set(dt, tr, NULL, dy, dout); /* T' = Â^T dY */
    if (gx) gp_i_gemm(false, true, rows, din, dout, 1.0f, dt, dout, w->data, dout, assign_x ? 0.0f : 1.0f, gx, din);
    if (gw) gp_i_gemm(true, false, din, dout, rows, 1.0f, x->data, din, dt, dout, assign_w ? 0.0f : 1.0f, gw, dout);
    gp_i_tape_release_from(t, dt);
    return GP_OK;
}

static const gp_op_info gcn_propagate_op = {"gcn_propagate", gcn_propagate_backward};

gp_tensor *gp_i_gcn_propagate(gp_tape *t, const gp_graph *norm, gp_tensor *x, gp_tensor *w,
                              gp_tensor *bias)
{
    gp_tensor *in[3] = {x, w, bias};
    if (!gp_i_begin(t, 2, in)) return NULL;
    if (gp_i_graph_copies(norm)) { /* the per-copy kernels live in the spmm op */
        gp_tensor *y = gp_spmm(t, norm, NULL, gp_matmul(t, x, w, false, false));
        return bias ? gp_add(t, y, bias) : y;
    }
    const gp_csr *adj = &norm->adj;
    if (!GP_TAPE_CHECK(t, x->cols == w->rows && x->rows == adj->cols && adj->rows == adj->cols &&
                              (!bias || (bias->rows == 1 && bias->cols == w->cols)),
                       "gcn: shapes x %lld x %lld, W %lld x %lld, graph of %lld nodes",
                       (long long)x->rows, (long long)x->cols, (long long)w->rows,
                       (long long)w->cols, (long long)adj->rows))
        return NULL;
    int64_t rows = x->rows, din = x->cols, dout = w->cols;
    gp_tensor *y = gp_i_out(t, rows, dout);
    if (!y) return NULL;
    float *xw = gp_tape_alloc(t, gp_i_mul_size((size_t)(rows * dout > 0 ? rows * dout : 1), sizeof(float)));
    if (!xw) return NULL;
    gp_i_gemm(false, false, rows, dout, din, 1.0f, x->data, din, w->data, dout, 0.0f, xw, dout);
    gp_i_csr_spmm_set(y->data, adj, NULL, xw, dout);
    gp_i_tape_release_from(t, xw);
    if (bias) {
        int nt = gp_i_threads();
        (void)nt;
        GP_I_PARALLEL_FOR(rows * dout >= GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < dout; j++) y->data[i * dout + j] += bias->data[j];);
    }
    gp_node *n = gp_i_record(t, &gcn_propagate_op, y, 3, in);
    if (n) {
        n->p[0] = norm;
        if (gp_i_needs_grad(x) || gp_i_needs_grad(w)) { /* built here so that backward cannot fail on it */
            const gp_csr *tr = NULL;
            const int64_t *perm = NULL;
            gp_status st = gp_graph_transpose(&tr, &perm, (gp_graph *)norm);
            if (st != GP_OK) {
                GP_TAPE_FAIL(t, st, "gcn: cannot build the transpose (%s)", gp_last_error_message());
                return NULL;
            }
            n->p[1] = tr;
        }
    }
    return gp_i_done(t, y);
}
