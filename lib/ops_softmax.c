/*
 * Softmax and log-softmax over each row, with the row maximum m subtracted first so that
 * exp never overflows (inputs of 1000 are fine):
 *   softmax:      y_j = e^(x_j - m) / s,        s = sum_k e^(x_k - m)
 *                 dx_j = y_j (g_j - sum_k g_k y_k)
 *   log_softmax:  y_j = x_j - m - log s
 *                 dx_j = g_j - e^(y_j) sum_k g_k
 * Rows are independent and each is owned by one thread; row sums accumulate in double.
 */
#include <math.h>

#include "internal.h"

static gp_status softmax_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0], *y = n->out;
    float *ga = gp_i_grad(t, a);
    if (!ga) return GP_E_NOMEM;
    bool log_space = n->i[0];
    int64_t rows = a->rows, cols = a->cols;
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < rows; i++) {
        const float *yr = y->data + i * cols, *gr = y->grad + i * cols;
        float *dx = ga + i * cols;
        double dot = 0.0; /* sum_k g_k y_k, or sum_k g_k for log_softmax */
        for (int64_t j = 0; j < cols; j++) dot += log_space ? gr[j] : (double)gr[j] * yr[j];
        float d = (float)dot;
        if (log_space)
            for (int64_t j = 0; j < cols; j++) dx[j] += gr[j] - expf(yr[j]) * d;
        else
            for (int64_t j = 0; j < cols; j++) dx[j] += yr[j] * (gr[j] - d);
    });
    return GP_OK;
}

static const gp_op_info softmax_op = {"softmax", softmax_backward};
static const gp_op_info log_softmax_op = {"log_softmax", softmax_backward};

static gp_tensor *softmax_rows(gp_tape *t, gp_tensor *a, bool log_space)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    gp_tensor *y = gp_i_out(t, a->rows, a->cols);
    if (!y) return NULL;
    int64_t rows = a->rows, cols = a->cols;
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < rows; i++) {
        const float *x = a->data + i * cols;
        float *yr = y->data + i * cols;
        float m = -INFINITY;
        for (int64_t j = 0; j < cols; j++) m = x[j] > m ? x[j] : m; /* not fmaxf: a libm call */
        if (m == -INFINITY) m = 0.0f; /* all -inf: avoid inf - inf */
        double s = 0.0;
        for (int64_t j = 0; j < cols; j++) {
            float e = expf(x[j] - m);
            s += e;
            if (!log_space) yr[j] = e;
        }
        if (log_space) {
            float log_s = (float)log(s); /* (x - m) first: exact for x near m */
            for (int64_t j = 0; j < cols; j++) yr[j] = (x[j] - m) - log_s;
        } else {
            float inv = (float)(1.0 / s);
            for (int64_t j = 0; j < cols; j++) yr[j] *= inv;
        }
    });
    gp_node *n = gp_i_record(t, log_space ? &log_softmax_op : &softmax_op, y, 1, &a);
    if (n) n->i[0] = log_space;
    return gp_i_done(t, y);
}

gp_tensor *gp_softmax(gp_tape *t, gp_tensor *a) { return softmax_rows(t, a, false); }
gp_tensor *gp_log_softmax(gp_tape *t, gp_tensor *a) { return softmax_rows(t, a, true); }
