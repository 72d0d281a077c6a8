/*
 * Elementwise binary ops with 2-D broadcasting, and scalar scale / shift.
 *
 *   y = a (op) b. Each operand is r x c, 1 x c, r x 1 or 1 x 1; y takes the larger size in
 *   each dimension (numpy rules: sizes must be equal or one of them 1).
 *   add: da = g,      db = g
 *   sub: da = g,      db = -g
 *   mul: da = g b,    db = g a
 *   div: da = g / b,  db = -g a / b^2 = -g y / b
 *   The gradient of a broadcast operand is summed over the dimensions it was repeated along.
 *   scale: y = s a, da = s g.   add_scalar: y = a + s, da = g.
 *
 * Fast paths: operands that are full-size or 1 x 1 are processed as flat arrays in chunks;
 * otherwise row by row, with the row pointer of a 1 x c operand fixed (bias add). The inner
 * loops are plain stride-0/1 loops, open to vectorisation. Every output element and every
 * summed gradient is produced by one thread in a fixed order, so results do not depend on
 * the thread count.
 * Pass-through: the backward of add, of sub's left side and of add_scalar hands a full-size
 * input that has no gradient buffer yet the output's own buffer (x->grad = y->grad) instead of
 * copying it (lib/internal.h): one pass less per residual or bias add.
 */
#include <string.h>

#include "internal.h"

#define CHUNK 4096     /* elements per parallel work item in flat loops */
#define COL_BLOCK 16   /* columns per work item in column sums (a 64-byte line of floats) */

typedef enum bin_kind { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV } bin_kind;

typedef struct operand {
    const float *data;
    int64_t rows, cols;
} operand;

static operand as_operand(const gp_tensor *x) { return (operand){x->data, x->rows, x->cols}; }

static int64_t min64(int64_t x, int64_t y) { return x < y ? x : y; }

/* The broadcast size of one dimension, or -1 if the two sizes do not broadcast. */
static int64_t broadcast_dim(int64_t x, int64_t y)
{
    if (x == y || y == 1) return x;
    if (x == 1) return y;
    return -1;
}

#define BIN_ROW_LOOPS(OP)                                                                  \
    do {                                                                                   \
        if (sx && sy)                                                                      \
            for (int64_t j = 0; j < n; j++) out[j] = x[j] OP y[j];                         \
        else if (sx)                                                                       \
            for (int64_t j = 0; j < n; j++) out[j] = x[j] OP y0;                           \
        else if (sy)                                                                       \
            for (int64_t j = 0; j < n; j++) out[j] = x0 OP y[j];                           \
        else                                                                               \
            for (int64_t j = 0; j < n; j++) out[j] = x0 OP y0;                             \
    } while (0)

/* out[j] = x[j * sx] (op) y[j * sy] for j < n, with strides 0 or 1. out may alias x or y
 * when its stride is 1. */
GP_I_CLONES static void bin_row(bin_kind k, float *out, const float *x, bool sx, const float *y,
                                bool sy, int64_t n)
{
    if (n <= 0) return;
    const float x0 = x[0], y0 = y[0];
    switch (k) {
    case BIN_ADD: BIN_ROW_LOOPS(+); break;
    case BIN_SUB: BIN_ROW_LOOPS(-); break;
    case BIN_MUL: BIN_ROW_LOOPS(*); break;
    case BIN_DIV: BIN_ROW_LOOPS(/); break;
    }
}

/* out (rows x cols) = x (op) y, each operand broadcast to rows x cols. */
static void bin_map(bin_kind k, float *out, int64_t rows, int64_t cols, operand x, operand y)
{
    int64_t n = rows * cols;
    int nt = gp_i_threads();
    bool x_full = x.rows == rows && x.cols == cols, y_full = y.rows == rows && y.cols == cols;
    bool x_flat = x_full || (x.rows == 1 && x.cols == 1);
    bool y_flat = y_full || (y.rows == 1 && y.cols == 1);
    if (x_flat && y_flat) {
        int64_t chunks = (n + CHUNK - 1) / CHUNK;
        GP_I_PARALLEL_FOR(n >= GP_PAR_MIN_WORK,
        for (int64_t c = 0; c < chunks; c++) {
            int64_t lo = c * CHUNK;
            bin_row(k, out + lo, x.data + (x_full ? lo : 0), x_full, y.data + (y_full ? lo : 0),
                    y_full, min64(CHUNK, n - lo));
        });
        return;
    }
    bool sx = x.cols == cols, sy = y.cols == cols;
    GP_I_PARALLEL_FOR(n >= GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < rows; i++)
        bin_row(k, out + i * cols, x.data + (x.rows == 1 ? 0 : i * x.cols), sx,
                y.data + (y.rows == 1 ? 0 : i * y.cols), sy, cols););
}

/*
 * Columns [j0, j1) of the column sums: dst[j] (= 0 if assign) += sign src[i][j] for i = 0, 1, ...
 * in order, one float accumulator per column. Blocks of 4 vectors of columns keep their sums
 * in registers down all the rows (one load of src per vector, none of dst); the columns left
 * over are summed one at a time. Every build adds the same terms in the same order: the same
 * bits (ISO C, no FMA). Built for 4-, 8- and 16-float vectors (gp_i_simd_level).
 */
#define DEFINE_COLUMN_SUMS(NAME, ATTR, VT)                                                     \
    ATTR static void NAME(float *restrict dst, const float *restrict src, int64_t rows,        \
                          int64_t cols, int64_t j0, int64_t j1, float sign, bool assign)       \
    {                                                                                          \
        enum { L = (int)(sizeof(VT) / sizeof(float)), NV = 4 };                                \
        int64_t j = j0;                                                                        \
        for (; j + NV * L <= j1; j += NV * L) {                                                \
            VT acc[NV];                                                                        \
            for (int q = 0; q < NV; q++) {                                                     \
                if (assign) acc[q] = (VT){0};                                                  \
                else memcpy(&acc[q], dst + j + q * L, sizeof(VT));                             \
            }                                                                                  \
            for (int64_t i = 0; i < rows; i++) {                                               \
                const float *r = src + i * cols + j;                                           \
                for (int q = 0; q < NV; q++) {                                                 \
                    VT v;                                                                      \
                    memcpy(&v, r + q * L, sizeof v);                                           \
                    acc[q] += sign * v;                                                        \
                }                                                                              \
            }                                                                                  \
            for (int q = 0; q < NV; q++) memcpy(dst + j + q * L, &acc[q], sizeof(VT));         \
        }                                                                                      \
        for (; j < j1; j++) {                                                                  \
            float a = assign ? 0.0f : dst[j];                                                  \
            for (int64_t i = 0; i < rows; i++) a += sign * src[i * cols + j];                  \
            dst[j] = a;                                                                        \
        }                                                                                      \
    }

DEFINE_COLUMN_SUMS(column_sums_v4, , v4f)
#ifdef GP_I_VEC_WIDE
DEFINE_COLUMN_SUMS(column_sums_avx2, __attribute__((target("avx2"))), v8f)
DEFINE_COLUMN_SUMS(column_sums_avx512, __attribute__((target("avx512f"))), v16f)
#endif

void gp_i_column_sums(float *dst, const float *src, int64_t rows, int64_t cols, float sign, bool assign)
{
    void (*kernel)(float *restrict, const float *restrict, int64_t, int64_t, int64_t, int64_t, float,
                   bool) = column_sums_v4;
#ifdef GP_I_VEC_WIDE
    int level = gp_i_simd_level();
    if (level == GP_SIMD_AVX512) kernel = column_sums_avx512;
    else if (level == GP_SIMD_AVX2) kernel = column_sums_avx2;
#endif
    int nt = gp_i_threads();
    int64_t blocks = (cols + COL_BLOCK - 1) / COL_BLOCK; /* each thread a range of whole blocks */
    int64_t parts = blocks < nt ? blocks : nt;
    GP_I_PARALLEL_FOR(parts > 1 && rows * cols >= GP_PAR_MIN_WORK,
    for (int64_t p = 0; p < parts; p++) {
        int64_t j0 = blocks * p / parts * COL_BLOCK, j1 = min64(cols, blocks * (p + 1) / parts * COL_BLOCK);
        kernel(dst, src, rows, cols, j0, j1, sign, assign);
    });
}

/* dst (to_rows x to_cols, broadcast to rows x cols) += sign * src summed over the broadcast
 * dimensions. Full-size targets add elementwise; row sums and totals accumulate in double;
 * column sums accumulate down the rows in float, each column block owned by one thread. */
static void reduce_into(float *dst, int64_t to_rows, int64_t to_cols, const float *src,
                        int64_t rows, int64_t cols, float sign, bool assign)
{
    int64_t n = rows * cols;
    int nt = gp_i_threads();
    if (to_rows == rows && to_cols == cols) {
        if (assign) {
            GP_I_PARALLEL_FOR(n >= GP_PAR_MIN_WORK,
            for (int64_t i = 0; i < n; i++) dst[i] = sign * src[i];);
        } else {
            GP_I_PARALLEL_FOR(n >= GP_PAR_MIN_WORK,
            for (int64_t i = 0; i < n; i++) dst[i] += sign * src[i];);
        }
    } else if (to_rows == rows) { /* r x 1: sum each row */
        GP_I_PARALLEL_FOR(n >= GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < rows; i++) {
            float s = sign * (float)gp_i_sum_double(src + i * cols, cols);
            dst[i] = assign ? s : dst[i] + s;
        });
    } else if (to_cols == cols) { /* 1 x c: sum each column */
        gp_i_column_sums(dst, src, rows, cols, sign, assign);
    } else { /* 1 x 1 */
        float s = sign * (float)gp_i_sum_double(src, n);
        dst[0] = assign ? s : dst[0] + s;
    }
}

/* gx += g * dy/dx (gx = ... when assign) when x, the other operand and y all have the same
 * shape (one pass). */
static void same_shape_grad(bin_kind k, int side, float *gx, const float *g, const float *a,
                            const float *b, const float *y, int64_t n, bool assign)
{
    int nt = gp_i_threads();
    const float *other = side == 0 ? b : a;
    if (k == BIN_MUL && assign) {
        GP_I_PARALLEL_FOR(n >= GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < n; i++) gx[i] = g[i] * other[i];);
        return;
    }
    if (assign) memset(gx, 0, (size_t)n * sizeof(float)); /* division: rare on large tensors */
    if (k == BIN_MUL) {
        GP_I_PARALLEL_FOR(n >= GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < n; i++) gx[i] += g[i] * other[i];);
    } else if (side == 0) { /* div, numerator */
        GP_I_PARALLEL_FOR(n >= GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < n; i++) gx[i] += g[i] / b[i];);
    } else { /* div, denominator */
        GP_I_PARALLEL_FOR(n >= GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < n; i++) gx[i] -= g[i] * y[i] / b[i];);
    }
}

static gp_status binary_backward(gp_tape *t, gp_node *n)
{
    bin_kind k = (bin_kind)n->i[0];
    gp_tensor *a = n->in[0], *b = n->in[1], *y = n->out;
    int64_t rows = y->rows, cols = y->cols, size = rows * cols;
    if (size == 0) return GP_OK;
    operand g = {y->grad, rows, cols};
    float *term = NULL; /* g * dy/dx before summing over broadcast dimensions */
    /* pass-through: a full-size operand of +a (add, or sub's left side) without a gradient yet
     * takes the output's gradient buffer itself instead of a copy. Only one side (two tensors
     * sharing one buffer could still receive different later contributions), and after the
     * other side has read g (if both sides are one tensor, that side's buffer exists by then
     * and the alias is not taken). */
    int alias = -1;
    for (int side = 0; side < 2 && alias < 0; side++) {
        gp_tensor *x = n->in[side];
        if (gp_i_needs_grad(x) && !x->grad && (k == BIN_ADD || (k == BIN_SUB && side == 0)) &&
            x->rows == rows && x->cols == cols)
            alias = side;
    }
    for (int pass = 0; pass < 2; pass++) {
        int side = alias == 0 ? 1 - pass : pass; /* the alias side comes last */
        gp_tensor *x = n->in[side];
        if (!gp_i_needs_grad(x)) continue;
        if (side == alias && !x->grad) {
            x->grad = y->grad;
            continue;
        }
        bool assign;
        float *gx = gp_i_grad_acc(t, x, &assign);
        if (!gx) return GP_E_NOMEM;
        if (k == BIN_ADD || k == BIN_SUB) {
            reduce_into(gx, x->rows, x->cols, g.data, rows, cols,
                        side == 1 && k == BIN_SUB ? -1.0f : 1.0f, assign);
            continue;
        }
        gp_tensor *other = n->in[1 - side];
        if (gp_tensor_size(x) == size && gp_tensor_size(other) == size) {
            same_shape_grad(k, side, gx, g.data, a->data, b->data, y->data, size, assign);
            continue;
        }
        if (!term && !(term = gp_tape_alloc(t, (size_t)size * sizeof(float)))) return GP_E_NOMEM;
        float sign = 1.0f;
        if (k == BIN_MUL) {
            bin_map(BIN_MUL, term, rows, cols, g, as_operand(other));
        } else if (side == 0) {
            bin_map(BIN_DIV, term, rows, cols, g, as_operand(b));
        } else {
            bin_map(BIN_MUL, term, rows, cols, g, as_operand(y));
            bin_map(BIN_DIV, term, rows, cols, (operand){term, rows, cols}, as_operand(b));
            sign = -1.0f;
        }
        reduce_into(gx, x->rows, x->cols, term, rows, cols, sign, assign);
    }
    return GP_OK;
}

static const gp_op_info binary_ops[] = {
    [BIN_ADD] = {"add", binary_backward},
    [BIN_SUB] = {"sub", binary_backward},
    [BIN_MUL] = {"mul", binary_backward},
    [BIN_DIV] = {"div", binary_backward},
};

static gp_tensor *binary(gp_tape *t, bin_kind k, gp_tensor *a, gp_tensor *b)
{
    gp_tensor *in[2] = {a, b};
    if (!gp_i_begin(t, 2, in)) return NULL;
    int64_t rows = broadcast_dim(a->rows, b->rows), cols = broadcast_dim(a->cols, b->cols);
    if (!GP_TAPE_CHECK(t, rows >= 0 && cols >= 0,
                       "%s: shapes %lld x %lld and %lld x %lld do not broadcast",
                       binary_ops[k].name, (long long)a->rows, (long long)a->cols,
                       (long long)b->rows, (long long)b->cols))
        return NULL;
    gp_tensor *y = gp_i_out(t, rows, cols);
    if (!y) return NULL;
    bin_map(k, y->data, rows, cols, as_operand(a), as_operand(b));
    gp_node *n = gp_i_record(t, &binary_ops[k], y, 2, in);
    if (n) n->i[0] = k;
    return gp_i_done(t, y);
}

gp_tensor *gp_add(gp_tape *t, gp_tensor *a, gp_tensor *b) { return binary(t, BIN_ADD, a, b); }
gp_tensor *gp_sub(gp_tape *t, gp_tensor *a, gp_tensor *b) { return binary(t, BIN_SUB, a, b); }
gp_tensor *gp_mul(gp_tape *t, gp_tensor *a, gp_tensor *b) { return binary(t, BIN_MUL, a, b); }
gp_tensor *gp_div(gp_tape *t, gp_tensor *a, gp_tensor *b) { return binary(t, BIN_DIV, a, b); }

/* ---- scale and shift by a constant: y = s a (da = s g) or y = a + s (da = g) ---- */

static gp_status scale_backward(gp_tape *t, gp_node *n)
{
    if (n->f[0] == 1.0f && !n->in[0]->grad) { /* add_scalar: pass the buffer through */
        n->in[0]->grad = n->out->grad;
        return GP_OK;
    }
    bool assign;
    float *ga = gp_i_grad_acc(t, n->in[0], &assign);
    if (!ga) return GP_E_NOMEM;
    reduce_into(ga, n->out->rows, n->out->cols, n->out->grad, n->out->rows, n->out->cols, n->f[0],
                assign);
    return GP_OK;
}

static const gp_op_info scale_op = {"scale", scale_backward};
static const gp_op_info add_scalar_op = {"add_scalar", scale_backward};

/* y = mul * a + add with mul = 1 or add = 0 (scale or shift); backward scales by mul. */
static gp_tensor *affine(gp_tape *t, const gp_op_info *op, gp_tensor *a, float mul, float add)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    gp_tensor *y = gp_i_out(t, a->rows, a->cols);
    if (!y) return NULL;
    int64_t n = gp_tensor_size(a);
    const float *x = a->data;
    int nt = gp_i_threads();
    if (add == 0.0f) {
        GP_I_PARALLEL_FOR(n >= GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < n; i++) y->data[i] = mul * x[i];);
    } else {
        GP_I_PARALLEL_FOR(n >= GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < n; i++) y->data[i] = x[i] + add;);
    }
    gp_node *node = gp_i_record(t, op, y, 1, &a);
    if (node) node->f[0] = mul;
    return gp_i_done(t, y);
}

gp_tensor *gp_scale(gp_tape *t, gp_tensor *a, float s) { return affine(t, &scale_op, a, s, 0.0f); }
gp_tensor *gp_add_scalar(gp_tape *t, gp_tensor *a, float s)
{
    return affine(t, &add_scalar_op, a, 1.0f, s);
}
