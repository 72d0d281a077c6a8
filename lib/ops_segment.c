/*
 * Reductions over sorted segments: segment s is rows [p_s, p_{s+1}) of a, n_s = p_{s+1} - p_s.
 *   sum:     y_s = sum_r a_r                          da_r += dy_s
 *   mean:    y_s = (1/n_s) sum_r a_r                  da_r += dy_s / n_s
 *   max/min: y_sc = a_{r*,c}, r* = first arg-extremum  da_{r*,c} += dy_sc
 *   softmax: y_rc = exp(a_rc - m_sc) / sum_r' exp(a_r'c - m_sc)  (m_sc = segment max: stable)
 *            da_rc += y_rc (dy_rc - sum_r' y_r'c dy_r'c)
 * Empty segments give 0 and pass no gradient. Every loop runs over segments, and segment s
 * owns output row s and input rows [p_s, p_{s+1}), so the parallel loops are deterministic.
 * max/min keep the arg-extremum row of each (segment, column) in tape memory.
 */
#include <math.h>

#include "internal.h"

enum { SEG_SUM, SEG_MEAN, SEG_MAX, SEG_MIN };

static bool check_segments(gp_tape *t, const char *op, const gp_tensor *a, const int64_t *seg_ptr,
                           int64_t num_segments)
{
    if (num_segments < 0 || !seg_ptr) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "%s: %s", op,
                     !seg_ptr ? "seg_ptr is NULL" : "negative number of segments");
        return false;
    }
    if (seg_ptr[0] != 0) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "%s: seg_ptr[0] = %lld, expected 0", op,
                     (long long)seg_ptr[0]);
        return false;
    }
    for (int64_t s = 0; s < num_segments; s++)
        if (seg_ptr[s + 1] < seg_ptr[s]) {
            GP_TAPE_FAIL(t, GP_E_INVALID, "%s: seg_ptr decreases at segment %lld (%lld > %lld)",
                         op, (long long)s, (long long)seg_ptr[s], (long long)seg_ptr[s + 1]);
            return false;
        }
    return GP_TAPE_CHECK(t, seg_ptr[num_segments] == a->rows,
                         "%s: segments cover %lld rows but the input has %lld", op,
                         (long long)seg_ptr[num_segments], (long long)a->rows);
}

static bool parallel_worth(int nt, const gp_tensor *a)
{
    return nt > 1 && gp_tensor_size(a) > GP_PAR_MIN_WORK;
}

/* ---- sum and mean ---- */

static gp_status segment_sum_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0];
    if (!gp_i_needs_grad(a)) return GP_OK;
    float *ga = gp_i_grad(t, a);
    if (!ga) return GP_E_NOMEM;
    const int64_t *ptr = n->p[0];
    int64_t segs = n->i[0], cols = a->cols;
    bool mean = n->i[1] == SEG_MEAN;
    const float *dy = n->out->grad;
    int nt = gp_i_threads();
    (void)nt;
    GP_I_PARALLEL_FOR(parallel_worth(nt, a),
    for (int64_t s = 0; s < segs; s++) {
        int64_t len = ptr[s + 1] - ptr[s];
        if (len == 0) continue;
        float w = mean ? 1.0f / (float)len : 1.0f;
        const float *d = dy + s * cols;
        for (int64_t r = ptr[s]; r < ptr[s + 1]; r++)
            for (int64_t c = 0; c < cols; c++) ga[r * cols + c] += w * d[c];
    });
    return GP_OK;
}

static const gp_op_info segment_sum_op = {"segment_sum", segment_sum_backward};
static const gp_op_info segment_mean_op = {"segment_mean", segment_sum_backward};

static gp_tensor *segment_sum_mean(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr,
                                   int64_t segs, int kind)
{
    const char *name = kind == SEG_MEAN ? "segment_mean" : "segment_sum";
    if (!gp_i_begin(t, 1, &a)) return NULL;
    if (!check_segments(t, name, a, seg_ptr, segs)) return NULL;
    int64_t cols = a->cols;
    gp_tensor *out = gp_i_out_zero(t, segs, cols);
    if (!out) return NULL;
    int nt = gp_i_threads();
    (void)nt;
    GP_I_PARALLEL_FOR(parallel_worth(nt, a),
    for (int64_t s = 0; s < segs; s++) {
        float *y = out->data + s * cols;
        for (int64_t r = seg_ptr[s]; r < seg_ptr[s + 1]; r++)
            for (int64_t c = 0; c < cols; c++) y[c] += a->data[r * cols + c];
        int64_t len = seg_ptr[s + 1] - seg_ptr[s];
        if (kind == SEG_MEAN && len > 0)
            for (int64_t c = 0; c < cols; c++) y[c] /= (float)len;
    });
    gp_node *n = gp_i_record(t, kind == SEG_MEAN ? &segment_mean_op : &segment_sum_op, out, 1, &a);
    if (n) {
        n->p[0] = seg_ptr;
        n->i[0] = segs;
        n->i[1] = kind;
    }
    return gp_i_done(t, out);
}

gp_tensor *gp_segment_sum(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr, int64_t num_segments)
{
    return segment_sum_mean(t, a, seg_ptr, num_segments, SEG_SUM);
}

gp_tensor *gp_segment_mean(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr, int64_t num_segments)
{
    return segment_sum_mean(t, a, seg_ptr, num_segments, SEG_MEAN);
}

/* ---- max and min ---- */

static gp_status segment_extremum_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0];
    if (!gp_i_needs_grad(a)) return GP_OK;
    float *ga = gp_i_grad(t, a);
    if (!ga) return GP_E_NOMEM;
    const int64_t *arg = n->p[1]; /* segs x cols rows of a, -1 for empty segments */
    int64_t size = gp_tensor_size(n->out), cols = a->cols;
    const float *dy = n->out->grad;
    /* Each (segment, column) routes to its own entry of a: no two writes meet. */
    for (int64_t e = 0; e < size; e++)
        if (arg[e] >= 0) ga[arg[e] * cols + e % cols] += dy[e];
    return GP_OK;
}

static const gp_op_info segment_max_op = {"segment_max", segment_extremum_backward};
static const gp_op_info segment_min_op = {"segment_min", segment_extremum_backward};

static gp_tensor *segment_extremum(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr, int64_t segs,
                                   int kind)
{
    bool is_max = kind == SEG_MAX;
    if (!gp_i_begin(t, 1, &a)) return NULL;
    if (!check_segments(t, is_max ? "segment_max" : "segment_min", a, seg_ptr, segs)) return NULL;
    int64_t cols = a->cols;
    gp_tensor *out = gp_i_out(t, segs, cols);
    if (!out) return NULL;
    size_t count = (size_t)gp_tensor_size(out);
    int64_t *arg = gp_tape_alloc(t, gp_i_mul_size(count > 0 ? count : 1, sizeof(int64_t)));
    if (!arg) return NULL;
    int nt = gp_i_threads();
    (void)nt;
    GP_I_PARALLEL_FOR(parallel_worth(nt, a),
    for (int64_t s = 0; s < segs; s++) {
        float *y = out->data + s * cols;
        int64_t *as = arg + s * cols;
        int64_t r0 = seg_ptr[s], r1 = seg_ptr[s + 1];
        if (r0 == r1) {
            for (int64_t c = 0; c < cols; c++) y[c] = 0.0f, as[c] = -1;
            continue;
        }
        for (int64_t c = 0; c < cols; c++) y[c] = a->data[r0 * cols + c], as[c] = r0;
        /* strict comparison: a tie keeps the earlier row */
        for (int64_t r = r0 + 1; r < r1; r++) {
            const float *x = a->data + r * cols;
            for (int64_t c = 0; c < cols; c++)
                if (is_max ? x[c] > y[c] : x[c] < y[c]) y[c] = x[c], as[c] = r;
        }
    });
    gp_node *n = gp_i_record(t, is_max ? &segment_max_op : &segment_min_op, out, 1, &a);
    if (n) {
        n->p[0] = seg_ptr;
        n->p[1] = arg;
        n->i[0] = segs;
    }
    return gp_i_done(t, out);
}

gp_tensor *gp_segment_max(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr, int64_t num_segments)
{
    return segment_extremum(t, a, seg_ptr, num_segments, SEG_MAX);
}

gp_tensor *gp_segment_min(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr, int64_t num_segments)
{
    return segment_extremum(t, a, seg_ptr, num_segments, SEG_MIN);
}

/* ---- softmax ---- */

static gp_status segment_softmax_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0];
    if (!gp_i_needs_grad(a)) return GP_OK;
    float *ga = gp_i_grad(t, a);
    if (!ga) return GP_E_NOMEM;
    const int64_t *ptr = n->p[0];
    int64_t segs = n->i[0], cols = a->cols;
    const float *y = n->out->data, *dy = n->out->grad;
    int nt = gp_i_threads();
    (void)nt;
    GP_I_PARALLEL_FOR(parallel_worth(nt, a),
    for (int64_t s = 0; s < segs; s++)
        for (int64_t c = 0; c < cols; c++) {
            float dot = 0.0f;
            for (int64_t r = ptr[s]; r < ptr[s + 1]; r++) dot += y[r * cols + c] * dy[r * cols + c];
            for (int64_t r = ptr[s]; r < ptr[s + 1]; r++)
                ga[r * cols + c] += y[r * cols + c] * (dy[r * cols + c] - dot);
        });
    return GP_OK;
}

static const gp_op_info segment_softmax_op = {"segment_softmax", segment_softmax_backward};

gp_tensor *gp_segment_softmax(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr, int64_t num_segments)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    if (!check_segments(t, "segment_softmax", a, seg_ptr, num_segments)) return NULL;
    int64_t cols = a->cols;
    gp_tensor *out = gp_i_out(t, a->rows, cols);
    if (!out) return NULL;
    const float *x = a->data;
    float *y = out->data;
    int nt = gp_i_threads();
    (void)nt;
    /* Segments are contiguous row blocks, so the column-strided walks stay in a small block. */
    GP_I_PARALLEL_FOR(parallel_worth(nt, a),
    for (int64_t s = 0; s < num_segments; s++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t r0 = seg_ptr[s], r1 = seg_ptr[s + 1];
            if (r0 == r1) continue;
            float m = x[r0 * cols + c];
            for (int64_t r = r0 + 1; r < r1; r++) m = fmaxf(m, x[r * cols + c]);
            float sum = 0.0f;
            for (int64_t r = r0; r < r1; r++) {
                float e = expf(x[r * cols + c] - m);
                y[r * cols + c] = e;
                sum += e;
            }
            float inv = 1.0f / sum; /* sum >= 1: the maximum contributes exp(0) */
            for (int64_t r = r0; r < r1; r++) y[r * cols + c] *= inv;
        });
    gp_node *n = gp_i_record(t, &segment_softmax_op, out, 1, &a);
    if (n) {
        n->p[0] = seg_ptr;
        n->i[0] = num_segments;
    }
    return gp_i_done(t, out);
}
