/*
 * Sums and means over all entries, along each row, or down each column.
 *
 *   sum_all:  y = sum_ij a_ij (1 x 1)          da_ij = g
 *   sum_rows: y_i = sum_j a_ij (rows x 1)      da_ij = g_i
 *   sum_cols: y_j = sum_i a_ij (1 x cols)      da_ij = g_j
 *   means divide y by the number of summed entries and da by the same count.
 *
 * Sums accumulate in double in a fixed order (row-major), so they are deterministic and
 * independent of the thread count: rows and column blocks are each owned by one thread. A
 * mean over zero entries is a GP_E_SHAPE error rather than a silent NaN.
 */
#include "internal.h"

#define COL_BLOCK 256 /* columns per work item in column sums (a local double buffer) */

typedef enum reduce_kind { REDUCE_ALL, REDUCE_ROWS, REDUCE_COLS } reduce_kind;

static gp_status reduce_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0];
    float *ga = gp_i_grad(t, a);
    if (!ga) return GP_E_NOMEM;
    reduce_kind k = (reduce_kind)n->i[0];
    float scale = n->f[0];
    const float *g = n->out->grad;
    int64_t rows = a->rows, cols = a->cols;
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < rows; i++) {
        float *gr = ga + i * cols;
        if (k == REDUCE_COLS) {
            for (int64_t j = 0; j < cols; j++) gr[j] += scale * g[j];
        } else {
            float v = scale * g[k == REDUCE_ROWS ? i : 0];
            for (int64_t j = 0; j < cols; j++) gr[j] += v;
        }
    });
    return GP_OK;
}

static const gp_op_info reduce_ops[2][3] = {
    {{"sum_all", reduce_backward}, {"sum_rows", reduce_backward}, {"sum_cols", reduce_backward}},
    {{"mean_all", reduce_backward}, {"mean_rows", reduce_backward}, {"mean_cols", reduce_backward}},
};

static gp_tensor *reduce(gp_tape *t, gp_tensor *a, reduce_kind k, bool mean)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    const gp_op_info *op = &reduce_ops[mean][k];
    int64_t rows = a->rows, cols = a->cols;
    int64_t out_rows = k == REDUCE_COLS ? 1 : rows, out_cols = k == REDUCE_ROWS ? 1 : cols;
    if (k == REDUCE_ALL) out_rows = out_cols = 1;
    int64_t count = k == REDUCE_ALL ? rows * cols : k == REDUCE_ROWS ? cols : rows;
    if (!GP_TAPE_CHECK(t, !mean || count > 0 || out_rows * out_cols == 0,
                       "%s: mean over zero entries of a %lld x %lld tensor", op->name,
                       (long long)rows, (long long)cols))
        return NULL;
    gp_tensor *y = gp_i_out(t, out_rows, out_cols);
    if (!y) return NULL;
    double divisor = mean && count > 0 ? (double)count : 1.0;
    const float *x = a->data;
    int nt = gp_i_threads();
    if (k == REDUCE_ALL) {
        y->data[0] = (float)(gp_i_sum_double(x, rows * cols) / divisor);
    } else if (k == REDUCE_ROWS) {
        GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < rows; i++)
            y->data[i] = (float)(gp_i_sum_double(x + i * cols, cols) / divisor););
    } else {
        int64_t blocks = (cols + COL_BLOCK - 1) / COL_BLOCK;
        GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
        for (int64_t b = 0; b < blocks; b++) {
            int64_t j0 = b * COL_BLOCK, width = cols - j0 < COL_BLOCK ? cols - j0 : COL_BLOCK;
            double s[COL_BLOCK] = {0};
            for (int64_t i = 0; i < rows; i++)
                for (int64_t j = 0; j < width; j++) s[j] += x[i * cols + j0 + j];
            for (int64_t j = 0; j < width; j++) y->data[j0 + j] = (float)(s[j] / divisor);
        });
    }
    gp_node *n = gp_i_record(t, op, y, 1, &a);
    if (n) {
        n->i[0] = k;
        n->f[0] = (float)(1.0 / divisor);
    }
    return gp_i_done(t, y);
}

gp_tensor *gp_sum_all(gp_tape *t, gp_tensor *a) { return reduce(t, a, REDUCE_ALL, false); }
gp_tensor *gp_mean_all(gp_tape *t, gp_tensor *a) { return reduce(t, a, REDUCE_ALL, true); }
gp_tensor *gp_sum_rows(gp_tape *t, gp_tensor *a) { return reduce(t, a, REDUCE_ROWS, false); }
gp_tensor *gp_mean_rows(gp_tape *t, gp_tensor *a) { return reduce(t, a, REDUCE_ROWS, true); }
gp_tensor *gp_sum_cols(gp_tape *t, gp_tensor *a) { return reduce(t, a, REDUCE_COLS, false); }
gp_tensor *gp_mean_cols(gp_tape *t, gp_tensor *a) { return reduce(t, a, REDUCE_COLS, true); }
