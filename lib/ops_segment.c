/*
 * Reductions over sorted segments: segment s is rows [p_s, p_{s+1}) of a, n_s = p_{s+1} - p_s.
 *   sum:     y_s = sum_r a_r                          da_r += dy_s
 *   mean:    y_s = (1/n_s) sum_r a_r                  da_r += dy_s / n_s
 *   max/min: y_sc = a_{r*,c}, r* = first arg-extremum  da_{r*,c} += dy_sc
 *   max_mean: [max | mean] (or [mean | max]) side by side, one pass over a, one op (the readout
 *            of the top-k / SAGPool model) instead of two reductions and a concat
 *   softmax: y_rc = exp(a_rc - m_sc) / sum_r' exp(a_r'c - m_sc)  (m_sc = segment max: stable)
 *            da_rc += y_rc (dy_rc - sum_r' y_r'c dy_r'c)
 * Empty segments give 0 and pass no gradient. Every loop runs over segments, and segment s
 * owns output row s and input rows [p_s, p_{s+1}), so the parallel loops are deterministic.
 * max/min keep the arg-extremum of each (segment, column), as a row offset within the segment
 * (int32), in tape memory when a gradient is recorded.
 */
#include <math.h>
#include <string.h>

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

/* Rows [r0, r1) of g (cols wide) set to (assign) or increased by w * d. */
static inline void spread_rows(float *g, int64_t r0, int64_t r1, int64_t cols, float w,
                               const float *d, bool assign)
{
    for (int64_t r = r0; r < r1; r++) {
        float *gr = g + r * cols;
        if (assign)
            for (int64_t c = 0; c < cols; c++) gr[c] = w * d[c];
        else
            for (int64_t c = 0; c < cols; c++) gr[c] += w * d[c];
    }
}

/* Arg-extremum offsets are stored as int32: every segment must have at most 2^31 - 1 rows. */
static bool check_int32_segments(gp_tape *t, const char *op, const int64_t *seg_ptr, int64_t segs)
{
    for (int64_t s = 0; s < segs; s++)
        if (!GP_TAPE_CHECK(t, seg_ptr[s + 1] - seg_ptr[s] <= INT32_MAX,
                           "%s: segment %lld has more than 2^31 - 1 rows", op, (long long)s))
            return false;
    return true;
}

/* The arg-extremum buffer (count offsets, tape memory) when a gradient will be asked of a;
 * *arg NULL otherwise. false when out of memory (the tape's status is set). */
static bool alloc_args(gp_tape *t, const gp_tensor *a, size_t count, int32_t **arg)
{
    *arg = NULL;
    if (!gp_tape_recording(t) || !gp_i_needs_grad(a)) return true;
    *arg = gp_tape_alloc(t, gp_i_mul_size(count > 0 ? count : 1, sizeof(int32_t)));
    return *arg != NULL;
}

/* Record the node (when a gradient is asked) with what every backward here reads: p[0] seg_ptr,
 * p[1] arg-extremum offsets (or NULL), i[0] the number of segments, i[1] an op flag; then
 * finish the op. */
static gp_tensor *record_segment_op(gp_tape *t, const gp_op_info *op, gp_tensor *out, gp_tensor *a,
                                    const int64_t *seg_ptr, const int32_t *arg, int64_t segs,
                                    int64_t flag)
{
    gp_node *n = gp_i_record(t, op, out, 1, &a);
    if (n) {
        n->p[0] = seg_ptr;
        n->p[1] = arg;
        n->i[0] = segs;
        n->i[1] = flag;
    }
    return gp_i_done(t, out);
}

/* ---- sum and mean ---- */

static gp_status segment_sum_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0];
    if (!gp_i_needs_grad(a)) return GP_OK;
    bool assign; /* segments cover every row: a fresh buffer is written, not zeroed first */
    float *ga = gp_i_grad_acc(t, a, &assign);
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
        spread_rows(ga, ptr[s], ptr[s + 1], cols, mean ? 1.0f / (float)len : 1.0f, dy + s * cols,
                    assign);
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
    return record_segment_op(t, kind == SEG_MEAN ? &segment_mean_op : &segment_sum_op, out, a, seg_ptr,
                             NULL, segs, kind);
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
    const int64_t *ptr = n->p[0];
    const int32_t *arg = n->p[1]; /* segs x cols row offsets in the segment, -1 if empty */
    int64_t segs = n->i[0], cols = a->cols;
    const float *dy = n->out->grad;
    /* Each (segment, column) routes to its own entry of a: no two writes meet. */
    for (int64_t s = 0; s < segs; s++)
        for (int64_t c = 0; c < cols; c++) {
            int32_t off = arg[s * cols + c];
            if (off >= 0) ga[(ptr[s] + off) * cols + c] += dy[s * cols + c];
        }
    return GP_OK;
}

static const gp_op_info segment_max_op = {"segment_max", segment_extremum_backward};
static const gp_op_info segment_min_op = {"segment_min", segment_extremum_backward};

/*
 * One segment: len rows of x (cols wide) -> y (cols) and, when as is given, the row offset of
 * the first extremum of each column. Without as the select loop vectorises by itself; with as
 * gcc turns the two selects back into branches (random outcomes: mispredicted), so the
 * columns are taken in explicit vector blocks whose running extremum and offset stay in
 * registers over the rows (a strictly better entry replaces them: a tie keeps the earlier
 * row, and a NaN never compares better, as in the scalar rule). Bitwise selects give the same
 * bits as the scalar code.
 */
typedef int32_t v4i __attribute__((vector_size(16))); /* v4f, v8f: internal.h */
#ifdef GP_I_VEC_WIDE
typedef int32_t v8i __attribute__((vector_size(32)));
#endif

/* With sum (not NULL) the column sums are accumulated in the same pass, from 0 and in row
 * order: the bits of segment_sum's loop. */
#define ARG_BLOCKS(VT, VI, CMP)                                                                \
    for (; c0 + (int64_t)(sizeof(VT) / sizeof(float)) <= cols; c0 += (int64_t)(sizeof(VT) / 4)) { \
        VT yv, xv, sv = {0};                                                                   \
        VI av = {0};                                                                           \
        memcpy(&yv, x + c0, sizeof yv);                                                        \
        sv += yv;                                                                              \
        for (int64_t r = 1; r < len; r++) {                                                    \
            memcpy(&xv, x + r * cols + c0, sizeof xv);                                         \
            VI m = xv CMP yv;                                                                  \
            yv = (VT)(((VI)xv & m) | ((VI)yv & ~m));                                           \
            av = ((av ^ (int32_t)r) & ~m) ^ (int32_t)r;                                        \
            sv += xv;                                                                          \
        }                                                                                      \
        memcpy(y + c0, &yv, sizeof yv);                                                        \
        memcpy(as + c0, &av, sizeof av);                                                       \
        if (sum) memcpy(sum + c0, &sv, sizeof sv);                                             \
    }

#define DEFINE_ARG_EXTREMUM(NAME, ATTR, VT, VI)                                                \
    ATTR static void NAME(float *restrict y, int32_t *restrict as, float *restrict sum,        \
                          const float *restrict x, int64_t len, int64_t cols, bool is_max)     \
    {                                                                                          \
        int64_t c0 = 0;                                                                        \
        if (is_max) {                                                                          \
            ARG_BLOCKS(VT, VI, >)                                                              \
        } else {                                                                               \
            ARG_BLOCKS(VT, VI, <)                                                              \
        }                                                                                      \
        for (int64_t c = c0; c < cols; c++) {                                                  \
            float v = x[c], t = 0.0f + x[c];                                                   \
            int32_t a = 0;                                                                     \
            for (int64_t r = 1; r < len; r++) {                                                \
                float xr = x[r * cols + c];                                                    \
                if (is_max ? xr > v : xr < v) v = xr, a = (int32_t)r;                          \
                t += xr;                                                                       \
            }                                                                                  \
            y[c] = v;                                                                          \
            as[c] = a;                                                                         \
            if (sum) sum[c] = t;                                                               \
        }                                                                                      \
    }

DEFINE_ARG_EXTREMUM(arg_extremum_v4, , v4f, v4i)
#ifdef GP_I_VEC_WIDE
DEFINE_ARG_EXTREMUM(arg_extremum_avx2, __attribute__((target("avx2"))), v8f, v8i)
#endif

typedef void (*arg_extremum_fn)(float *restrict y, int32_t *restrict as, float *restrict sum,
                                const float *restrict x, int64_t len, int64_t cols, bool is_max);

/* AVX2 where the processor has it (gp_i_simd_level; GP_SIMD=sse2 picks the 4-lane build, so
 * the tests compare the two: the same bits) */
static arg_extremum_fn pick_arg_extremum(void)
{
#ifdef GP_I_VEC_WIDE
    if (gp_i_simd_level() >= GP_SIMD_AVX2) return arg_extremum_avx2;
#endif
    return arg_extremum_v4;
}

static void extremum_segment(float *restrict y, int32_t *restrict as, const float *restrict x,
                             int64_t len, int64_t cols, bool is_max, arg_extremum_fn with_arg)
{
    if (len == 0) {
        for (int64_t c = 0; c < cols; c++) y[c] = 0.0f;
        if (as)
            for (int64_t c = 0; c < cols; c++) as[c] = -1;
        return;
    }
    if (as) {
        with_arg(y, as, NULL, x, len, cols, is_max);
        return;
    }
    for (int64_t c = 0; c < cols; c++) y[c] = x[c];
    for (int64_t r = 1; r < len; r++) {
        const float *xr = x + r * cols;
        if (is_max)
            for (int64_t c = 0; c < cols; c++) y[c] = xr[c] > y[c] ? xr[c] : y[c];
        else
            for (int64_t c = 0; c < cols; c++) y[c] = xr[c] < y[c] ? xr[c] : y[c];
    }
}

static gp_tensor *segment_extremum(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr, int64_t segs,
                                   int kind)
{
    bool is_max = kind == SEG_MAX;
    if (!gp_i_begin(t, 1, &a)) return NULL;
    const char *name = is_max ? "segment_max" : "segment_min";
    if (!check_segments(t, name, a, seg_ptr, segs) || !check_int32_segments(t, name, seg_ptr, segs))
        return NULL;
    int64_t cols = a->cols;
    gp_tensor *out = gp_i_out(t, segs, cols);
    if (!out) return NULL;
    /* the arg-extremum (row offset within its segment) only when a gradient will be asked */
    int32_t *arg;
    if (!alloc_args(t, a, (size_t)gp_tensor_size(out), &arg)) return NULL;
    arg_extremum_fn with_arg = pick_arg_extremum();
    int nt = gp_i_threads();
    (void)nt;
    GP_I_PARALLEL_FOR(parallel_worth(nt, a),
    for (int64_t s = 0; s < segs; s++)
        extremum_segment(out->data + s * cols, arg ? arg + s * cols : NULL,
                         a->data + seg_ptr[s] * cols, seg_ptr[s + 1] - seg_ptr[s], cols, is_max,
                         with_arg););
    return record_segment_op(t, is_max ? &segment_max_op : &segment_min_op, out, a, seg_ptr, arg, segs, 0);
}

gp_tensor *gp_segment_max(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr, int64_t num_segments)
{
    return segment_extremum(t, a, seg_ptr, num_segments, SEG_MAX);
}

gp_tensor *gp_segment_min(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr, int64_t num_segments)
{
    return segment_extremum(t, a, seg_ptr, num_segments, SEG_MIN);
}

/* ---- max and mean side by side (the max || mean readout) ---- */

/* i[0] segments, i[1] 1 if mean comes first; p[0] seg_ptr, p[1] arg offsets (int32). The
 * terms are added in the order of the unfused ops' backward: the part recorded last (the
 * second of the concat) first. Into a fresh buffer the mean's terms are written first (the
 * sum dmax + w dmean is the same either way). */
static gp_status segment_max_mean_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0];
    if (!gp_i_needs_grad(a)) return GP_OK;
    bool assign; /* segments cover every row: a fresh buffer is written by the mean's terms */
    float *ga = gp_i_grad_acc(t, a, &assign);
    if (!ga) return GP_E_NOMEM;
    const int64_t *ptr = n->p[0];
    const int32_t *arg = n->p[1];
    int64_t segs = n->i[0], cols = a->cols;
    bool mean_first = n->i[1];
    const float *dy = n->out->grad;
    int nt = gp_i_threads();
    (void)nt;
    GP_I_PARALLEL_FOR(parallel_worth(nt, a),
    for (int64_t s = 0; s < segs; s++) {
        int64_t len = ptr[s + 1] - ptr[s];
        if (len == 0) continue;
        const float *dmax = dy + s * 2 * cols + (mean_first ? cols : 0);
        const float *dmean = dy + s * 2 * cols + (mean_first ? 0 : cols);
        float w = 1.0f / (float)len;
        const int32_t *as = arg + s * cols;
        bool max_first = mean_first && !assign; /* into a fresh buffer the order is moot */
        if (max_first)
            for (int64_t c = 0; c < cols; c++) ga[(ptr[s] + as[c]) * cols + c] += dmax[c];
        spread_rows(ga, ptr[s], ptr[s + 1], cols, w, dmean, assign);
        if (!max_first)
            for (int64_t c = 0; c < cols; c++) ga[(ptr[s] + as[c]) * cols + c] += dmax[c];
    });
    return GP_OK;
}

static const gp_op_info segment_max_mean_op = {"segment_max_mean", segment_max_mean_backward};

gp_tensor *gp_segment_max_mean(gp_tape *t, gp_tensor *a, const int64_t *seg_ptr,
                               int64_t num_segments, bool mean_first)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    if (!check_segments(t, "segment_max_mean", a, seg_ptr, num_segments) ||
        !check_int32_segments(t, "segment_max_mean", seg_ptr, num_segments))
        return NULL;
    int64_t segs = num_segments, cols = a->cols;
    gp_tensor *out = gp_i_out(t, segs, 2 * cols);
    if (!out) return NULL;
    int32_t *arg;
    if (!alloc_args(t, a, (size_t)(segs * cols), &arg)) return NULL;
    arg_extremum_fn with_arg = pick_arg_extremum();
    int nt = gp_i_threads();
    (void)nt;
    GP_I_PARALLEL_FOR(parallel_worth(nt, a),
    for (int64_t s = 0; s < segs; s++) {
        float *ymax = out->data + s * 2 * cols + (mean_first ? cols : 0);
        float *ymean = out->data + s * 2 * cols + (mean_first ? 0 : cols);
        const float *x = a->data + seg_ptr[s] * cols;
        int64_t len = seg_ptr[s + 1] - seg_ptr[s];
        if (len == 0) {
            for (int64_t c = 0; c < cols; c++) ymax[c] = ymean[c] = 0.0f;
            if (arg)
                for (int64_t c = 0; c < cols; c++) arg[s * cols + c] = -1;
            continue;
        }
        if (arg) {
            with_arg(ymax, arg + s * cols, ymean, x, len, cols, true);
        } else {
            extremum_segment(ymax, NULL, x, len, cols, true, with_arg);
            for (int64_t c = 0; c < cols; c++) ymean[c] = 0.0f;
            for (int64_t r = 0; r < len; r++)
                for (int64_t c = 0; c < cols; c++) ymean[c] += x[r * cols + c];
        }
        for (int64_t c = 0; c < cols; c++) ymean[c] /= (float)len;
    });
    return record_segment_op(t, &segment_max_mean_op, out, a, seg_ptr, arg, segs, mean_first);
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
    return record_segment_op(t, &segment_softmax_op, out, a, seg_ptr, NULL, num_segments, 0);
}
