/*
 * Shape ops: each output entry is a copy of one input entry, so each backward adds the
 * output gradient back at the source position.
 *   concat_cols: Y = [A_1 A_2 ... A_k] (same rows),  dA_k = dY[:, off_k : off_k + c_k]
 *   concat_rows: Y = [A_1; A_2; ...; A_k] (same cols), dA_k = dY[off_k : off_k + r_k, :]
 *   slice_cols:  Y = A[:, c0 : c0 + n],   dA[:, c0 : c0 + n] += dY
 *   slice_rows:  Y = A[r0 : r0 + n, :],   dA[r0 : r0 + n, :] += dY
 *   transpose:   Y = A^T,                 dA += dY^T
 * A concat may have more parts than a node has input slots (GP_NODE_MAX_IN), so the node keeps
 * a copy of the parts array in tape memory (p[0], count in i[0]); in[0] is only the part that
 * made the node worth recording.
 */
#include <string.h>

#include "internal.h"

/* ---- concatenation ---- */

/* Copy of parts in tape memory; the node input is the first part that needs a gradient. */
static gp_node *record_concat(gp_tape *t, const gp_op_info *op, gp_tensor *out, int count,
                              gp_tensor *const *parts)
{
    if (!gp_tape_recording(t)) return NULL;
    int first = 0;
    while (first < count && !gp_i_needs_grad(parts[first])) first++;
    if (first == count) return NULL;
    gp_tensor **copy = gp_tape_alloc(t, gp_i_mul_size((size_t)count, sizeof *copy));
    if (!copy) return NULL;
    memcpy(copy, parts, (size_t)count * sizeof *copy);
    gp_node *n = gp_i_record(t, op, out, 1, &parts[first]);
    if (n) {
        n->p[0] = copy;
        n->i[0] = count;
    }
    return n;
}

static bool begin_concat(gp_tape *t, const char *name, int count, gp_tensor *const *parts)
{
    if (!t) return gp_i_begin(t, 0, NULL); /* reports the NULL tape */
    if (gp_tape_status(t) != GP_OK) return false;
    if (count < 1 || !parts) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "%s: needs at least one part (count %d%s)", name, count,
                     parts ? "" : ", parts NULL");
        return false;
    }
    return gp_i_begin(t, count, parts);
}

static gp_status concat_cols_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *const *parts = n->p[0];
    int count = (int)n->i[0];
    int64_t rows = n->out->rows, cols = n->out->cols, off = 0;
    for (int k = 0; k < count; k++) {
        gp_tensor *x = parts[k];
        if (gp_i_needs_grad(x)) {
            float *gx = gp_i_grad(t, x);
            if (!gx) return GP_E_NOMEM;
            for (int64_t i = 0; i < rows; i++)
                for (int64_t j = 0; j < x->cols; j++)
                    gx[i * x->cols + j] += n->out->grad[i * cols + off + j];
        }
        off += x->cols;
    }
    return GP_OK;
}

static const gp_op_info concat_cols_op = {"concat_cols", concat_cols_backward};

gp_tensor *gp_concat_cols(gp_tape *t, int count, gp_tensor *const *parts)
{
    if (!begin_concat(t, "concat cols", count, parts)) return NULL;
    int64_t rows = parts[0]->rows, cols = 0;
    for (int k = 0; k < count; k++) {
        if (!GP_TAPE_CHECK(t, parts[k]->rows == rows,
                           "concat cols: part %d has %lld rows, part 0 has %lld", k,
                           (long long)parts[k]->rows, (long long)rows))
            return NULL;
        cols += parts[k]->cols;
    }
    gp_tensor *out = gp_i_out(t, rows, cols);
    if (!out) return NULL;
    int64_t off = 0;
    for (int k = 0; k < count; k++) {
        const gp_tensor *x = parts[k];
        if (x->cols > 0)
            for (int64_t i = 0; i < rows; i++)
                memcpy(out->data + i * cols + off, x->data + i * x->cols,
                       (size_t)x->cols * sizeof(float));
        off += x->cols;
    }
    record_concat(t, &concat_cols_op, out, count, parts);
    return gp_i_done(t, out);
}

static gp_status concat_rows_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *const *parts = n->p[0];
    int count = (int)n->i[0];
    const float *dy = n->out->grad;
    for (int k = 0; k < count; k++) {
        gp_tensor *x = parts[k];
        int64_t size = gp_tensor_size(x);
        if (gp_i_needs_grad(x)) {
            float *gx = gp_i_grad(t, x);
            if (!gx) return GP_E_NOMEM;
            for (int64_t i = 0; i < size; i++) gx[i] += dy[i];
        }
        dy += size;
    }
    return GP_OK;
}

static const gp_op_info concat_rows_op = {"concat_rows", concat_rows_backward};

gp_tensor *gp_concat_rows(gp_tape *t, int count, gp_tensor *const *parts)
{
    if (!begin_concat(t, "concat rows", count, parts)) return NULL;
    int64_t rows = 0, cols = parts[0]->cols;
    for (int k = 0; k < count; k++) {
        if (!GP_TAPE_CHECK(t, parts[k]->cols == cols,
                           "concat rows: part %d has %lld cols, part 0 has %lld", k,
                           (long long)parts[k]->cols, (long long)cols))
            return NULL;
        rows += parts[k]->rows;
    }
    gp_tensor *out = gp_i_out(t, rows, cols);
    if (!out) return NULL;
    float *dst = out->data;
    for (int k = 0; k < count; k++) {
        int64_t size = gp_tensor_size(parts[k]);
        if (size > 0) memcpy(dst, parts[k]->data, (size_t)size * sizeof(float));
        dst += size;
    }
    record_concat(t, &concat_rows_op, out, count, parts);
    return gp_i_done(t, out);
}

/* ---- slices ---- */

/* i[0] = first column, i[1] = first row of the slice in a. */
static gp_status slice_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0];
    if (!gp_i_needs_grad(a)) return GP_OK;
    bool assign;
    float *ga = gp_i_grad_acc(t, a, &assign);
    if (!ga) return GP_E_NOMEM;
    int64_t c0 = n->i[0], r0 = n->i[1], rows = n->out->rows, cols = n->out->cols;
    const float *g = n->out->grad;
    if (!assign) {
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) ga[(r0 + i) * a->cols + c0 + j] += g[i * cols + j];
        return GP_OK;
    }
    /* fresh buffer: copy the slice's gradient in, zero the rest, one pass */
    size_t left = (size_t)c0 * sizeof(float), right = (size_t)(a->cols - c0 - cols) * sizeof(float);
    for (int64_t r = 0; r < a->rows; r++) {
        float *row = ga + r * a->cols;
        if (r < r0 || r >= r0 + rows) {
            memset(row, 0, (size_t)a->cols * sizeof(float));
            continue;
        }
        memset(row, 0, left);
        memcpy(row + c0, g + (r - r0) * cols, (size_t)cols * sizeof(float));
        memset(row + c0 + cols, 0, right);
    }
    return GP_OK;
}

static const gp_op_info slice_cols_op = {"slice_cols", slice_backward};
static const gp_op_info slice_rows_op = {"slice_rows", slice_backward};

gp_tensor *gp_slice_cols(gp_tape *t, gp_tensor *a, int64_t c0, int64_t ncols)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    if (!GP_TAPE_CHECK(t, c0 >= 0 && ncols >= 0 && c0 <= a->cols && ncols <= a->cols - c0,
                       "slice cols: columns [%lld, %lld + %lld) out of range for %lld x %lld",
                       (long long)c0, (long long)c0, (long long)ncols, (long long)a->rows,
                       (long long)a->cols))
        return NULL;
    gp_tensor *out = gp_i_out(t, a->rows, ncols);
    if (!out) return NULL;
    if (ncols > 0)
        for (int64_t i = 0; i < a->rows; i++)
            memcpy(out->data + i * ncols, a->data + i * a->cols + c0, (size_t)ncols * sizeof(float));
    gp_node *n = gp_i_record(t, &slice_cols_op, out, 1, &a);
    if (n) {
        n->i[0] = c0;
        n->i[1] = 0;
    }
    return gp_i_done(t, out);
}

gp_tensor *gp_slice_rows(gp_tape *t, gp_tensor *a, int64_t r0, int64_t nrows)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    if (!GP_TAPE_CHECK(t, r0 >= 0 && nrows >= 0 && r0 <= a->rows && nrows <= a->rows - r0,
                       "slice rows: rows [%lld, %lld + %lld) out of range for %lld x %lld",
                       (long long)r0, (long long)r0, (long long)nrows, (long long)a->rows,
                       (long long)a->cols))
        return NULL;
    gp_tensor *out = gp_i_out(t, nrows, a->cols);
    if (!out) return NULL;
    int64_t size = nrows * a->cols;
    if (size > 0) memcpy(out->data, a->data + r0 * a->cols, (size_t)size * sizeof(float));
    gp_node *n = gp_i_record(t, &slice_rows_op, out, 1, &a);
    if (n) {
        n->i[0] = 0;
        n->i[1] = r0;
    }
    return gp_i_done(t, out);
}

/* ---- transpose ---- */

/* dst (cols x rows) += or = src^T (src rows x cols), in 32 x 32 tiles for cache reuse. */
static void transpose_into(float *dst, const float *src, int64_t rows, int64_t cols, bool add)
{
    enum { TILE = 32 };
    int nt = gp_i_threads();
    int64_t tiles = (cols + TILE - 1) / TILE;
    /* each thread owns whole tile-rows of dst (a range of src columns): no shared writes */
    GP_I_PARALLEL_FOR(rows * cols >= GP_PAR_MIN_WORK,
    for (int64_t tj = 0; tj < tiles; tj++)
        for (int64_t i0 = 0; i0 < rows; i0 += TILE)
            for (int64_t j = tj * TILE; j < cols && j < (tj + 1) * TILE; j++)
                for (int64_t i = i0; i < rows && i < i0 + TILE; i++) {
                    if (add) dst[j * rows + i] += src[i * cols + j];
                    else dst[j * rows + i] = src[i * cols + j];
                });
}

static gp_status transpose_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0];
    if (!gp_i_needs_grad(a)) return GP_OK;
    float *ga = gp_i_grad(t, a);
    if (!ga) return GP_E_NOMEM;
    /* dY is a->cols x a->rows; its transpose is added into dA */
    transpose_into(ga, n->out->grad, a->cols, a->rows, true);
    return GP_OK;
}

static const gp_op_info transpose_op = {"transpose", transpose_backward};

gp_tensor *gp_transpose(gp_tape *t, gp_tensor *a)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    gp_tensor *out = gp_i_out(t, a->cols, a->rows);
    if (!out) return NULL;
    transpose_into(out->data, a->data, a->rows, a->cols, false);
    gp_i_record(t, &transpose_op, out, 1, &a);
    return gp_i_done(t, out);
}
