/*
 * Row indexing (index arrays are constants and take no gradient):
 *   gather:       y_i = a_{idx[i]},                      da_r += sum_{i: idx[i] = r} dy_i
 *   scatter-add:  y_r = sum_{i: idx[i] = r} a_i,         da_i += dy_{idx[i]}
 *   gather-mul:   y_k = a_{ia[k]} * b_{ib[k]} (elementwise), da_{ia[k]} += dy_k * b_{ib[k]},
 *                 db_{ib[k]} += dy_k * a_{ia[k]}
 * A scatter into rows that several i may share is done serially in index order, so repeated
 * indices accumulate in a fixed order and results never depend on the thread count. Gathers
 * (each output row owned by one iteration) run in parallel.
 * gather-mul (the per-edge products h_u * h_v of edge scorers) is gp_mul(gp_gather_rows(a,
 * ia), gp_gather_rows(b, ib)) without the two gathered copies and their gradient buffers: the
 * same bits forward, and backward the same terms added in the same order when b's gather is
 * recorded before a's (all of a's terms, by k, then all of b's).
 */
#include <string.h>

#include "internal.h"

/* Every idx[i] (i < n) in [0, limit); otherwise fail the tape with GP_E_RANGE. */
bool gp_i_check_indices(gp_tape *t, const char *op, const int64_t *idx, int64_t n, int64_t limit)
{
    if (n > 0 && !idx) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "%s: index array is NULL", op);
        return false;
    }
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= limit) {
            GP_TAPE_FAIL(t, GP_E_RANGE, "%s: index %lld at position %lld is outside [0, %lld)",
                         op, (long long)idx[i], (long long)i, (long long)limit);
            return false;
        }
    return true;
}

/* dst_i (+)= src_{idx[i]} for i < n: every iteration owns its destination row. */
static void gather(float *dst, const float *src, const int64_t *idx, int64_t n, int64_t cols,
                   bool accumulate)
{
    int nt = gp_i_threads();
    (void)nt;
    GP_I_PARALLEL_FOR(n * cols > GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < n; i++) {
        float *d = dst + i * cols;
        const float *s = src + idx[i] * cols;
        if (accumulate)
            for (int64_t c = 0; c < cols; c++) d[c] += s[c];
        else
            memcpy(d, s, (size_t)cols * sizeof(float));
    });
}

/* dst_{idx[i]} += src_i for i < n, serially (rows of dst may repeat). */
static void scatter_add(float *dst, const float *src, const int64_t *idx, int64_t n, int64_t cols)
{
    for (int64_t i = 0; i < n; i++) {
        float *d = dst + idx[i] * cols;
        const float *s = src + i * cols;
        for (int64_t c = 0; c < cols; c++) d[c] += s[c];
    }
}

static gp_status gather_rows_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0];
    if (!gp_i_needs_grad(a)) return GP_OK;
    float *ga = gp_i_grad(t, a);
    if (!ga) return GP_E_NOMEM;
    scatter_add(ga, n->out->grad, n->p[0], n->out->rows, a->cols);
    return GP_OK;
}

static const gp_op_info gather_rows_op = {"gather_rows", gather_rows_backward};

gp_tensor *gp_gather_rows(gp_tape *t, gp_tensor *a, const int64_t *idx, int64_t n)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    if (n < 0) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "gather_rows: negative count %lld", (long long)n);
        return NULL;
    }
    if (!gp_i_check_indices(t, "gather_rows", idx, n, a->rows)) return NULL;
    gp_tensor *out = gp_i_out(t, n, a->cols);
    if (!out) return NULL;
    gather(out->data, a->data, idx, n, a->cols, false);
    gp_node *node = gp_i_record(t, &gather_rows_op, out, 1, &a);
    if (node) node->p[0] = idx;
    return gp_i_done(t, out);
}

static gp_status scatter_add_rows_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0];
    if (!gp_i_needs_grad(a)) return GP_OK;
    float *ga = gp_i_grad(t, a);
    if (!ga) return GP_E_NOMEM;
    gather(ga, n->out->grad, n->p[0], a->rows, a->cols, true);
    return GP_OK;
}

static const gp_op_info scatter_add_rows_op = {"scatter_add_rows", scatter_add_rows_backward};

gp_tensor *gp_scatter_add_rows(gp_tape *t, gp_tensor *a, const int64_t *idx, int64_t out_rows)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    if (out_rows < 0) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "scatter_add_rows: negative output rows %lld",
                     (long long)out_rows);
        return NULL;
    }
    if (!gp_i_check_indices(t, "scatter_add_rows", idx, a->rows, out_rows)) return NULL;
    gp_tensor *out = gp_i_out_zero(t, out_rows, a->cols);
    if (!out) return NULL;
    scatter_add(out->data, a->data, idx, a->rows, a->cols);
    gp_node *node = gp_i_record(t, &scatter_add_rows_op, out, 1, &a);
    if (node) node->p[0] = idx;
    return gp_i_done(t, out);
}

/* ---- gather-mul ---- */

/* dst_{idx[k]} += dy_k * other_{oidx[k]} for k < n, serially in k order. */
static void scatter_product(float *dst, const int64_t *idx, const float *dy, const float *other,
                            const int64_t *oidx, int64_t n, int64_t cols)
{
    for (int64_t k = 0; k < n; k++) {
        float *d = dst + idx[k] * cols;
        const float *g = dy + k * cols, *o = other + oidx[k] * cols;
        for (int64_t c = 0; c < cols; c++) d[c] += g[c] * o[c];
    }
}

/* The sources of each row of a scatter, in ascending order: the k with idx[k] == v are
 * src[start[v] .. start[v + 1]) (a stable counting sort). false on out of memory. */
static bool sources_by_row(gp_tape *t, const int64_t *idx, int64_t n, int64_t rows, int64_t **start,
                           int64_t **src)
{
    *start = gp_tape_alloc(t, (size_t)(rows + 1) * sizeof **start);
    *src = gp_tape_alloc(t, (size_t)(n > 0 ? n : 1) * sizeof **src);
    if (!*start || !*src) return false;
    int64_t *st = *start;
    memset(st, 0, (size_t)(rows + 1) * sizeof *st);
    for (int64_t k = 0; k < n; k++) st[idx[k] + 1]++;
    for (int64_t v = 0; v < rows; v++) st[v + 1] += st[v];
    int64_t *fill = gp_tape_alloc(t, (size_t)(rows > 0 ? rows : 1) * sizeof *fill);
    if (!fill) return false;
    memcpy(fill, st, (size_t)rows * sizeof *fill);
    for (int64_t k = 0; k < n; k++) (*src)[fill[idx[k]]++] = k;
    return true;
}

/* gather_mul's backward into dst (internal.h): with threads the rows of dst are split, each row
 * taking its terms of list 0 in ascending k, then list 1's, the serial order of its additions,
 * so the bits do not depend on the thread count. */
gp_status gp_i_scatter_products(gp_tape *t, float *dst, int64_t rows, const float *dy, int64_t n,
                                int64_t cols, const gp_i_product_terms *l0, const gp_i_product_terms *l1)
{
    int nt = gp_i_threads();
    if (nt < 2 || n * cols <= GP_PAR_MIN_WORK) {
        scatter_product(dst, l0->idx, dy, l0->other, l0->oidx, n, cols);
        if (l1) scatter_product(dst, l1->idx, dy, l1->other, l1->oidx, n, cols);
        return GP_OK;
    }
    const gp_i_product_terms *lists[2] = {l0, l1};
    int64_t *start[2] = {NULL, NULL}, *src[2] = {NULL, NULL};
    int nl = l1 ? 2 : 1;
    for (int l = 0; l < nl; l++)
        if (!sources_by_row(t, lists[l]->idx, n, rows, &start[l], &src[l])) return GP_E_NOMEM;
    GP_I_PARALLEL_FOR(true,
    for (int64_t v = 0; v < rows; v++) {
        float *d = dst + v * cols;
        for (int l = 0; l < nl; l++)
            for (int64_t q = start[l][v]; q < start[l][v + 1]; q++) {
                int64_t k = src[l][q];
                const float *g = dy + k * cols, *o = lists[l]->other + lists[l]->oidx[k] * cols;
                for (int64_t c = 0; c < cols; c++) d[c] += g[c] * o[c];
            }
    });
    return GP_OK;
}

static gp_status gather_mul_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0], *b = n->in[1];
    const int64_t *ia = n->p[0], *ib = n->p[1];
    int64_t m = n->out->rows, cols = n->out->cols;
    const float *dy = n->out->grad;
    /* a's terms first, then b's: the order of the unfused ops when b's gather is recorded
     * first (as gcc evaluates gp_mul(t, gp_gather_rows(a..), gp_gather_rows(b..)): right to
     * left), which matters when a and b are one tensor */
    gp_i_product_terms ta = {ia, ib, b->data}, tb = {ib, ia, a->data};
    float *ga = NULL, *gb = NULL;
    if (gp_i_needs_grad(a) && !(ga = gp_i_grad(t, a))) return GP_E_NOMEM;
    if (gp_i_needs_grad(b) && !(gb = gp_i_grad(t, b))) return GP_E_NOMEM;
    if (ga && ga == gb) return gp_i_scatter_products(t, ga, a->rows, dy, m, cols, &ta, &tb);
    gp_status st = ga ? gp_i_scatter_products(t, ga, a->rows, dy, m, cols, &ta, NULL) : GP_OK;
    if (st == GP_OK && gb) st = gp_i_scatter_products(t, gb, b->rows, dy, m, cols, &tb, NULL);
    return st;
}

static const gp_op_info gather_mul_op = {"gather_mul", gather_mul_backward};

void gp_i_gather_products(float *y, const float *a, const int64_t *ia, const float *b,
                          const int64_t *ib, int64_t n, int64_t cols)
{
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(n * cols > GP_PAR_MIN_WORK,
    for (int64_t k = 0; k < n; k++) {
        const float *x = a + ia[k] * cols, *z = b + ib[k] * cols;
        float *yk = y + k * cols;
        for (int64_t c = 0; c < cols; c++) yk[c] = x[c] * z[c];
    });
}

gp_tensor *gp_gather_mul(gp_tape *t, gp_tensor *a, const int64_t *ia, gp_tensor *b,
                         const int64_t *ib, int64_t n)
{
    gp_tensor *in[2] = {a, b};
    if (!gp_i_begin(t, 2, in)) return NULL;
    if (n < 0) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "gather_mul: negative count %lld", (long long)n);
        return NULL;
    }
    if (!GP_TAPE_CHECK(t, a->cols == b->cols, "gather_mul: %lld and %lld columns differ",
                       (long long)a->cols, (long long)b->cols))
        return NULL;
    if (!gp_i_check_indices(t, "gather_mul", ia, n, a->rows) ||
        !gp_i_check_indices(t, "gather_mul", ib, n, b->rows))
        return NULL;
    int64_t cols = a->cols;
    gp_tensor *out = gp_i_out(t, n, cols);
    if (!out) return NULL;
    gp_i_gather_products(out->data, a->data, ia, b->data, ib, n, cols);
    gp_node *node = gp_i_record(t, &gather_mul_op, out, 2, in);
    if (node) {
        node->p[0] = ia;
        node->p[1] = ib;
    }
    return gp_i_done(t, out);
}
