/*
 * Index, segment and sparse ops: values and gradients against dense references computed here
 * (double precision), finite-difference gradient checks for every op (edge values included),
 * segment max/min tie routing, segment softmax normalisation, sparse_matmul dropout (mask
 * replayed from the same seed, statistics, scaling), thread-count independence and errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gradcheck.h"

/* ---- helpers ---- */

/* |got - ref| <= tol * max(1, |ref|) everywhere; reports the first mismatch. */
static void assert_close(const char *what, const float *got, const double *ref, int64_t count,
                         double tol)
{
    for (int64_t i = 0; i < count; i++) {
        double err = fabs((double)got[i] - ref[i]);
        if (err > tol * fmax(1.0, fabs(ref[i])))
            fail_msg("%s: entry %lld is %.9g, reference %.9g", what, (long long)i, (double)got[i],
                     ref[i]);
    }
}

static gp_tensor *param(const char *name, int64_t rows, int64_t cols, gp_rng *rng)
{
    gp_tensor *p = NULL;
    assert_int_equal(gp_param_new(&p, name, rows, cols), GP_OK);
    gc_fill(p, rng, -1.0f, 1.0f);
    return p;
}

static float *random_floats(int64_t n, gp_rng *rng)
{
    float *r = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) r[i] = gp_rng_uniform(rng) * 2.0f - 1.0f;
    return r;
}

/*
 * Random graph on n nodes from m random edges. Nodes n-2 and n-1 are isolated; in the
 * directed case no edge enters node 0, so row 0 is empty. Duplicates and self-loops may occur
 * (duplicates are summed by gp_graph_from_edges).
 */
static gp_graph *random_graph(uint64_t seed, int64_t n, int64_t m, bool weighted, bool symmetric)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    int64_t *src = malloc((size_t)m * sizeof(int64_t)), *dst = malloc((size_t)m * sizeof(int64_t));
    float *w = malloc((size_t)m * sizeof(float));
    for (int64_t k = 0; k < m; k++) {
        src[k] = (int64_t)gp_rng_below(&rng, (uint64_t)(n - 2));
        dst[k] = symmetric ? (int64_t)gp_rng_below(&rng, (uint64_t)(n - 2))
                           : 1 + (int64_t)gp_rng_below(&rng, (uint64_t)(n - 3));
        w[k] = 0.5f + gp_rng_uniform(&rng);
    }
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_edges(&g, n, m, src, dst, weighted ? w : NULL,
                                         symmetric ? GP_EDGES_SYMMETRISE : 0),
                     GP_OK);
    free(src);
    free(dst);
    free(w);
    return g;
}

/* Row of stored entry k (entries are stored row by row). */
static int64_t entry_row(const gp_csr *m, int64_t k)
{
    int64_t i = 0;
    while (m->ptr[i + 1] <= k) i++;
    return i;
}

/* Dense n x n matrix of head h: A[i][j] = value of entry (i, j), from ev (nnz x heads), the
 * adjacency values, or 1. */
static double *dense_head(const gp_csr *adj, const float *ev, int64_t heads, int64_t h)
{
    double *a = calloc((size_t)(adj->rows * adj->cols), sizeof(double));
    for (int64_t i = 0; i < adj->rows; i++)
        for (int64_t k = adj->ptr[i]; k < adj->ptr[i + 1]; k++)
            a[i * adj->cols + adj->idx[k]] += ev ? ev[k * heads + h] : adj->val ? adj->val[k] : 1.0;
    return a;
}

/* ---- gather / scatter ---- */

typedef struct {
    const int64_t *idx;
    int64_t n;
} idx_ctx;

static gp_tensor *gather_fwd(gp_tape *t, gp_tensor **in, void *ctx)
{
    idx_ctx *c = ctx;
    return gp_gather_rows(t, in[0], c->idx, c->n);
}

static gp_tensor *scatter_fwd(gp_tape *t, gp_tensor **in, void *ctx)
{
    idx_ctx *c = ctx;
    return gp_scatter_add_rows(t, in[0], c->idx, c->n);
}

static void test_gather_scatter(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 1);
    int64_t rows = 5, cols = 3;
    int64_t idx[] = {4, 0, 4, 2, 4, 0}; /* duplicates; rows 1 and 3 never used */
    int64_t n = 6;
    gp_tensor *a = param("a", rows, cols, &rng);
    gp_tape *t = NULL;
    gp_tape_new(&t);

    /* gather: values and the accumulating backward */
    gp_tensor *y = gp_gather_rows(t, a, idx, n);
    assert_non_null(y);
    assert_int_equal(y->rows, n);
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < cols; c++) assert_true(y->data[i * cols + c] == a->data[idx[i] * cols + c]);
    float *r = random_floats(n * cols, &rng);
    assert_int_equal(gp_tape_backward_from(t, y, r), GP_OK);
    double *ref = calloc((size_t)(rows * cols), sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < cols; c++) ref[idx[i] * cols + c] += r[i * cols + c];
    assert_close("gather backward", a->grad, ref, rows * cols, 1e-6);
    assert_true(a->grad[1 * cols] == 0.0f && a->grad[3 * cols + 2] == 0.0f);
    free(r);
    free(ref);

    /* scatter-add: values (duplicates accumulate) and the gathering backward */
    gp_tape_reset(t);
    gp_tensor_zero_grad(a);
    int64_t sidx[] = {2, 2, 0, 6, 2}; /* a has 5 rows; out has 7 */
    gp_tensor *s = gp_scatter_add_rows(t, a, sidx, 7);
    assert_non_null(s);
    ref = calloc(7 * (size_t)cols, sizeof(double));
    for (int64_t i = 0; i < rows; i++)
        for (int64_t c = 0; c < cols; c++) ref[sidx[i] * cols + c] += a->data[i * cols + c];
    assert_close("scatter_add", s->data, ref, 7 * cols, 1e-6);
    r = random_floats(7 * cols, &rng);
    assert_int_equal(gp_tape_backward_from(t, s, r), GP_OK);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t c = 0; c < cols; c++) assert_true(a->grad[i * cols + c] == r[sidx[i] * cols + c]);
    free(r);
    free(ref);
    gp_tape_free(&t);

    idx_ctx gc = {idx, n}, sc = {sidx, 7};
    assert_true(gc_check(gather_fwd, &gc, &a, 1) < 1e-3);
    assert_true(gc_check(scatter_fwd, &sc, &a, 1) < 1e-3);
    gp_tensor_free(&a);
}

static void test_index_errors(void **state)
{
    (void)state;
    gp_tape *t = NULL;
    gp_tape_new(&t);
    gp_tensor *a = gp_tape_tensor(t, 3, 2);
    int64_t bad[] = {0, 3};
    assert_null(gp_gather_rows(t, a, bad, 2));
    assert_int_equal(gp_tape_status(t), GP_E_RANGE);
    assert_non_null(strstr(gp_last_error(), "index 3 at position 1"));
    gp_tape_reset(t);
    a = gp_tape_tensor(t, 3, 2);
    int64_t neg[] = {-1};
    assert_null(gp_gather_rows(t, a, neg, 1));
    assert_int_equal(gp_tape_status(t), GP_E_RANGE);
    gp_tape_reset(t);
    a = gp_tape_tensor(t, 3, 2);
    assert_null(gp_gather_rows(t, a, NULL, 2));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    a = gp_tape_tensor(t, 3, 2);
    int64_t sidx[] = {0, 1, 4};
    assert_null(gp_scatter_add_rows(t, a, sidx, 4)); /* 4 is outside [0, 4) */
    assert_int_equal(gp_tape_status(t), GP_E_RANGE);
    gp_tape_reset(t);
    a = gp_tape_tensor(t, 3, 2);
    assert_null(gp_scatter_add_rows(t, a, sidx, -1));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    /* sticky: a NULL input after the error returns NULL without a new error */
    assert_null(gp_gather_rows(t, NULL, bad, 1));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    /* empty gather is fine */
    a = gp_tape_tensor(t, 3, 2);
    gp_tensor *e = gp_gather_rows(t, a, NULL, 0);
    assert_non_null(e);
    assert_int_equal(e->rows, 0);
    gp_tape_free(&t);
}

/* ---- segments ---- */

/* 5 segments over 9 rows: empty first, middle and last segments. */
static const int64_t seg_ptr9[] = {0, 0, 3, 3, 9, 9};
enum { SEGS9 = 5, ROWS9 = 9 };

typedef struct {
    int kind; /* 0 sum, 1 mean, 2 max, 3 min, 4 softmax */
} seg_ctx;

static gp_tensor *seg_fwd(gp_tape *t, gp_tensor **in, void *ctx)
{
    seg_ctx *c = ctx;
    switch (c->kind) {
    case 0: return gp_segment_sum(t, in[0], seg_ptr9, SEGS9);
    case 1: return gp_segment_mean(t, in[0], seg_ptr9, SEGS9);
    case 2: return gp_segment_max(t, in[0], seg_ptr9, SEGS9);
    case 3: return gp_segment_min(t, in[0], seg_ptr9, SEGS9);
    default: return gp_segment_softmax(t, in[0], seg_ptr9, SEGS9);
    }
}

/* Values spaced 0.1 apart in shuffled order: no ties, no kinks within the FD step. */
static void fill_distinct(gp_tensor *a, gp_rng *rng)
{
    int64_t n = gp_tensor_size(a);
    int64_t *p = malloc((size_t)n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) p[i] = i;
    gp_rng_shuffle(rng, p, n);
    for (int64_t i = 0; i < n; i++) a->data[i] = 0.1f * (float)p[i] - 0.05f * (float)n;
    free(p);
}

static void test_segment_values_and_gradients(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 2);
    int64_t cols = 3;
    gp_tensor *a = param("a", ROWS9, cols, &rng);
    fill_distinct(a, &rng);
    double ref[ROWS9 * 3], gref[ROWS9 * 3];
    for (int kind = 0; kind < 5; kind++) {
        gp_tape *t = NULL;
        gp_tape_new(&t);
        gp_tensor_zero_grad(a);
        seg_ctx c = {kind};
        gp_tensor *y = seg_fwd(t, &a, &c);
        assert_non_null(y);
        int64_t out_rows = kind == 4 ? ROWS9 : SEGS9;
        assert_int_equal(y->rows, out_rows);
        float *r = random_floats(out_rows * cols, &rng);
        assert_int_equal(gp_tape_backward_from(t, y, r), GP_OK);
        memset(gref, 0, sizeof gref);
        for (int64_t s = 0; s < SEGS9; s++)
            for (int64_t col = 0; col < cols; col++) {
                int64_t r0 = seg_ptr9[s], r1 = seg_ptr9[s + 1], len = r1 - r0;
                double sum = 0, best = 0, m = -INFINITY, z = 0, dot = 0;
                int64_t arg = -1;
                for (int64_t q = r0; q < r1; q++) {
                    double v = a->data[q * cols + col];
                    sum += v;
                    if (arg < 0 || (kind == 2 ? v > best : v < best)) best = v, arg = q;
                    m = fmax(m, v);
                }
                for (int64_t q = r0; q < r1; q++) z += exp(a->data[q * cols + col] - m);
                double dy = kind == 4 ? 0 : r[s * cols + col];
                switch (kind) {
                case 0:
                    ref[s * cols + col] = sum;
                    for (int64_t q = r0; q < r1; q++) gref[q * cols + col] = dy;
                    break;
                case 1:
                    ref[s * cols + col] = len ? sum / (double)len : 0.0;
                    for (int64_t q = r0; q < r1; q++) gref[q * cols + col] = dy / (double)len;
                    break;
                case 2:
                case 3:
                    ref[s * cols + col] = len ? best : 0.0;
                    if (len) gref[arg * cols + col] = dy;
                    break;
                default:
                    for (int64_t q = r0; q < r1; q++) {
                        double p = exp(a->data[q * cols + col] - m) / z;
                        ref[q * cols + col] = p;
                        dot += p * r[q * cols + col];
                    }
                    for (int64_t q = r0; q < r1; q++)
                        gref[q * cols + col] = ref[q * cols + col] * (r[q * cols + col] - dot);
                }
            }
        assert_close("segment value", y->data, ref, out_rows * cols, 1e-5);
        assert_close("segment gradient", a->grad, gref, ROWS9 * cols, 1e-5);
        free(r);
        gp_tape_free(&t);
        double worst = gc_check(seg_fwd, &c, &a, 1);
        if (worst >= 1e-2) fail_msg("segment kind %d: gradcheck error %g", kind, worst);
    }
    gp_tensor_free(&a);
}

static void test_segment_ties_and_empty(void **state)
{
    (void)state;
    gp_tensor *a = NULL;
    gp_param_new(&a, "a", 5, 2);
    /* segment 0: rows 0-2, segment 1 empty, segment 2: rows 3-4 */
    float v[] = {1, 7, 3, 7, 3, 2, /* column 0 max 3 at rows 1,2; column 1 max 7 at rows 0,1 */
                 -4, 5, -4, 5};    /* both columns tie within segment 2 */
    memcpy(a->data, v, sizeof v);
    int64_t ptr[] = {0, 3, 3, 5};
    float ones[6] = {1, 1, 1, 1, 1, 1};
    for (int kind = 0; kind < 2; kind++) {
        gp_tape *t = NULL;
        gp_tape_new(&t);
        gp_tensor_zero_grad(a);
        gp_tensor *y = kind == 0 ? gp_segment_max(t, a, ptr, 3) : gp_segment_min(t, a, ptr, 3);
        assert_non_null(y);
        assert_int_equal(gp_tape_backward_from(t, y, ones), GP_OK);
        if (kind == 0) {
            float expect[] = {3, 7, 0, 0, -4, 5};
            for (int i = 0; i < 6; i++) assert_true(y->data[i] == expect[i]);
            /* first arg-max: (row 1, col 0), (row 0, col 1), (row 3, cols 0 and 1) */
            float g[] = {0, 1, 1, 0, 0, 0, 1, 1, 0, 0};
            for (int i = 0; i < 10; i++) assert_true(a->grad[i] == g[i]);
        } else {
            float expect[] = {1, 2, 0, 0, -4, 5};
            for (int i = 0; i < 6; i++) assert_true(y->data[i] == expect[i]);
            float g[] = {1, 0, 0, 0, 0, 1, 1, 1, 0, 0};
            for (int i = 0; i < 10; i++) assert_true(a->grad[i] == g[i]);
        }
        gp_tape_free(&t);
    }
    gp_tensor_free(&a);
}

static void test_segment_softmax_normalised_and_stable(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 3);
    int64_t rows = 40, cols = 4;
    int64_t ptr[] = {0, 1, 1, 10, 25, 25, 40};
    int64_t segs = 6;
    gp_tape *t = NULL;
    gp_tape_new(&t);
    gp_tensor *a = gp_tape_tensor(t, rows, cols);
    for (int64_t i = 0; i < rows * cols; i++) /* large logits: exp would overflow unshifted */
        a->data[i] = 1000.0f * (gp_rng_uniform(&rng) - 0.5f) + (i % 2 ? 500.0f : -500.0f);
    gp_tensor *y = gp_segment_softmax(t, a, ptr, segs);
    assert_non_null(y);
    for (int64_t s = 0; s < segs; s++)
        for (int64_t c = 0; c < cols; c++) {
            double sum = 0;
            for (int64_t r = ptr[s]; r < ptr[s + 1]; r++) {
                float p = y->data[r * cols + c];
                assert_true(isfinite(p) && p >= 0.0f && p <= 1.0f);
                sum += p;
            }
            if (ptr[s + 1] > ptr[s]) assert_true(fabs(sum - 1.0) < 1e-5);
        }
    assert_true(y->data[0] == 1.0f); /* a one-row segment */
    gp_tape_free(&t);
}

static void test_segment_errors(void **state)
{
    (void)state;
    gp_tape *t = NULL;
    gp_tape_new(&t);
    gp_tensor *a = gp_tape_tensor(t, 4, 2);
    int64_t decreasing[] = {0, 3, 2, 4};
    assert_null(gp_segment_sum(t, a, decreasing, 3));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    assert_non_null(strstr(gp_last_error(), "decreases at segment 1"));
    gp_tape_reset(t);
    a = gp_tape_tensor(t, 4, 2);
    int64_t late_start[] = {1, 2, 4};
    assert_null(gp_segment_max(t, a, late_start, 2));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    a = gp_tape_tensor(t, 4, 2);
    int64_t short_end[] = {0, 2, 3};
    assert_null(gp_segment_softmax(t, a, short_end, 2));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    assert_non_null(strstr(gp_last_error(), "cover 3 rows"));
    gp_tape_reset(t);
    a = gp_tape_tensor(t, 4, 2);
    assert_null(gp_segment_mean(t, a, NULL, 2));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    a = gp_tape_tensor(t, 4, 2);
    int64_t ok[] = {0, 4};
    assert_null(gp_segment_min(t, a, ok, -1));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    /* zero segments over zero rows is valid */
    a = gp_tape_tensor(t, 0, 2);
    int64_t zero[] = {0};
    gp_tensor *y = gp_segment_sum(t, a, zero, 0);
    assert_non_null(y);
    assert_int_equal(y->rows, 0);
    gp_tape_free(&t);
}

/* ---- spmm ---- */

typedef struct {
    const gp_graph *g;
    bool use_ev;
    int64_t heads;
} sp_ctx;

static gp_tensor *spmm_fwd(gp_tape *t, gp_tensor **in, void *ctx)
{
    sp_ctx *c = ctx;
    return gp_spmm(t, c->g, c->use_ev ? in[1] : NULL, in[0]);
}

/* Values and both gradients of gp_spmm on g against dense per-head products. */
static void check_spmm_dense(const gp_graph *g, bool use_ev, int64_t heads, gp_rng *rng)
{
    const gp_csr *adj = &g->adj;
    int64_t n = adj->rows, d = 2, cols = heads * d;
    gp_tensor *x = param("x", n, cols, rng);
    gp_tensor *ev = use_ev ? param("ev", adj->nnz, heads, rng) : NULL;
    gp_tape *t = NULL;
    gp_tape_new(&t);
    gp_tensor *y = gp_spmm(t, g, ev, x);
    assert_non_null(y);
    assert_int_equal(y->rows, n);
    assert_int_equal(y->cols, cols);
    float *r = random_floats(n * cols, rng);
    assert_int_equal(gp_tape_backward_from(t, y, r), GP_OK);
    double *yref = calloc((size_t)(n * cols), sizeof(double));
    double *xref = calloc((size_t)(n * cols), sizeof(double));
    double *eref = calloc((size_t)(adj->nnz * heads + 1), sizeof(double));
    for (int64_t h = 0; h < heads; h++) {
        double *a = dense_head(adj, ev ? ev->data : NULL, heads, h);
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++)
                for (int64_t c = h * d; c < (h + 1) * d; c++) {
                    yref[i * cols + c] += a[i * n + j] * x->data[j * cols + c];
                    xref[j * cols + c] += a[i * n + j] * r[i * cols + c]; /* A^T dY */
                }
        for (int64_t k = 0; k < adj->nnz; k++) { /* dE_kh = (dY_h X_h^T)[i][j] */
            int64_t i = entry_row(adj, k), j = adj->idx[k];
            for (int64_t c = h * d; c < (h + 1) * d; c++)
                eref[k * heads + h] += (double)r[i * cols + c] * x->data[j * cols + c];
        }
        free(a);
    }
    assert_close("spmm value", y->data, yref, n * cols, 1e-5);
    assert_close("spmm dX", x->grad, xref, n * cols, 1e-5);
    if (ev) assert_close("spmm dE", ev->grad, eref, adj->nnz * heads, 1e-5);
    free(r);
    free(yref);
    free(xref);
    free(eref);
    gp_tape_free(&t);

    sp_ctx c = {g, use_ev, heads};
    gp_tensor *in[2] = {x, ev};
    double worst = gc_check(spmm_fwd, &c, in, use_ev ? 2 : 1);
    if (worst >= 1e-2) fail_msg("spmm gradcheck error %g", worst);
    gp_tensor_free(&x);
    gp_tensor_free(&ev);
}

static void test_spmm(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 4);
    for (int weighted = 0; weighted < 2; weighted++)
        for (int symmetric = 0; symmetric < 2; symmetric++) {
            gp_graph *g = random_graph(100 + 2 * (uint64_t)weighted + (uint64_t)symmetric, 12, 20,
                                       weighted, symmetric);
            int64_t n = g->adj.rows; /* isolated last node; directed: no edge enters node 0 */
            assert_true(g->adj.ptr[n] == g->adj.ptr[n - 1]);
            if (!symmetric) assert_true(g->adj.ptr[1] == 0);
            check_spmm_dense(g, false, 1, &rng); /* adjacency values or ones */
            check_spmm_dense(g, true, 1, &rng);
            check_spmm_dense(g, true, 3, &rng);
            gp_graph_free(&g);
        }
}

static void test_spmm_gcn_graph(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 5);
    gp_graph *g = random_graph(7, 10, 15, false, true);
    const gp_graph *h = NULL;
    assert_int_equal(gp_graph_gcn_norm(&h, g), GP_OK);
    assert_non_null(h->adj.val);
    check_spmm_dense(h, false, 1, &rng); /* a const cached graph: its transpose gets cached */
    gp_graph_free(&g);
}

/* ---- sddmm ---- */

typedef struct {
    const gp_graph *g;
    int64_t heads;
} sd_ctx;

static gp_tensor *sddmm_fwd(gp_tape *t, gp_tensor **in, void *ctx)
{
    sd_ctx *c = ctx;
    return gp_sddmm(t, c->g, in[0], in[1], c->heads);
}

static void test_sddmm(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 6);
    for (int symmetric = 0; symmetric < 2; symmetric++)
        for (int64_t heads = 1; heads <= 3; heads += 2) {
            gp_graph *g = random_graph(200 + (uint64_t)symmetric, 11, 25, true, symmetric);
            const gp_csr *adj = &g->adj;
            int64_t n = adj->rows, d = 2, cols = heads * d, nnz = adj->nnz;
            gp_tensor *a = param("a", n, cols, &rng), *b = param("b", n, cols, &rng);
            gp_tape *t = NULL;
            gp_tape_new(&t);
            gp_tensor *z = gp_sddmm(t, g, a, b, heads);
            assert_non_null(z);
            assert_int_equal(z->rows, nnz);
            assert_int_equal(z->cols, heads);
            float *r = random_floats(nnz * heads, &rng);
            assert_int_equal(gp_tape_backward_from(t, z, r), GP_OK);
            /* dense reference: Z_h = (a_h b_h^T) masked by the pattern; dZ as a dense matrix
             * per head, da_h = dZ_h b_h, db_h = dZ_h^T a_h */
            double *zref = calloc((size_t)(nnz * heads + 1), sizeof(double));
            double *aref = calloc((size_t)(n * cols), sizeof(double));
            double *bref = calloc((size_t)(n * cols), sizeof(double));
            double *dz = malloc((size_t)(n * n) * sizeof(double));
            for (int64_t h = 0; h < heads; h++) {
                memset(dz, 0, (size_t)(n * n) * sizeof(double));
                for (int64_t k = 0; k < nnz; k++) {
                    int64_t i = entry_row(adj, k), j = adj->idx[k];
                    for (int64_t c = h * d; c < (h + 1) * d; c++)
                        zref[k * heads + h] += (double)a->data[i * cols + c] * b->data[j * cols + c];
                    dz[i * n + j] = r[k * heads + h];
                }
                for (int64_t i = 0; i < n; i++)
                    for (int64_t j = 0; j < n; j++)
                        for (int64_t c = h * d; c < (h + 1) * d; c++) {
                            aref[i * cols + c] += dz[i * n + j] * b->data[j * cols + c];
                            bref[j * cols + c] += dz[i * n + j] * a->data[i * cols + c];
                        }
            }
            assert_close("sddmm value", z->data, zref, nnz * heads, 1e-5);
            assert_close("sddmm da", a->grad, aref, n * cols, 1e-5);
            assert_close("sddmm db", b->grad, bref, n * cols, 1e-5);
            free(zref);
            free(aref);
            free(bref);
            free(dz);
            free(r);
            gp_tape_free(&t);
            sd_ctx c = {g, heads};
            gp_tensor *in[2] = {a, b};
            double worst = gc_check(sddmm_fwd, &c, in, 2);
            if (worst >= 1e-2) fail_msg("sddmm gradcheck error %g", worst);
            gp_tensor_free(&a);
            gp_tensor_free(&b);
            gp_graph_free(&g);
        }
}

/* ---- sparse features times dense weights ---- */

/* rows x k sparse matrix with about density * rows * k entries; binary (val NULL) or valued.
 * Row 1 is left empty. */
static gp_csr *random_features(gp_rng *rng, int64_t rows, int64_t k, double density, bool binary)
{
    int64_t cap = (int64_t)(density * (double)(rows * k)) + 1;
    int64_t *ri = malloc((size_t)cap * sizeof(int64_t)), *ci = malloc((size_t)cap * sizeof(int64_t));
    float *v = malloc((size_t)cap * sizeof(float));
    int64_t m = 0;
    for (int64_t e = 0; e < cap; e++) {
        int64_t i = (int64_t)gp_rng_below(rng, (uint64_t)rows);
        if (i == 1) continue;
        ri[m] = i;
        ci[m] = (int64_t)gp_rng_below(rng, (uint64_t)k);
        v[m++] = 0.5f + gp_rng_uniform(rng);
    }
    gp_csr *s = NULL;
    assert_int_equal(gp_csr_from_coo(&s, rows, k, m, ri, ci, v), GP_OK);
    if (binary) {
        gp_free(s->val);
        s->val = NULL;
    }
    free(ri);
    free(ci);
    free(v);
    return s;
}

typedef struct {
    const gp_csr *s;
    float p;
} sm_ctx;

static gp_tensor *sparse_matmul_fwd(gp_tape *t, gp_tensor **in, void *ctx)
{
    sm_ctx *c = ctx;
    gp_rng rng;
    gp_rng_seed(&rng, 77); /* the same mask on every evaluation */
    return gp_sparse_matmul(t, c->s, in[0], c->p, &rng);
}

/* Y = S' W and dW = S'^T R against dense products, S' = S with the given per-entry values. */
static void check_sparse_matmul(const gp_csr *s, const float *eff, gp_tensor *w, gp_tensor *y,
                                const float *r)
{
    int64_t rows = s->rows, k = s->cols, n = w->cols;
    double *dense = calloc((size_t)(rows * k), sizeof(double));
    for (int64_t i = 0; i < rows; i++)
        for (int64_t e = s->ptr[i]; e < s->ptr[i + 1]; e++) dense[i * k + s->idx[e]] += eff[e];
    double *yref = calloc((size_t)(rows * n), sizeof(double));
    double *wref = calloc((size_t)(k * n), sizeof(double));
    for (int64_t i = 0; i < rows; i++)
        for (int64_t l = 0; l < k; l++)
            for (int64_t c = 0; c < n; c++) {
                yref[i * n + c] += dense[i * k + l] * w->data[l * n + c];
                wref[l * n + c] += dense[i * k + l] * r[i * n + c];
            }
    assert_close("sparse_matmul value", y->data, yref, rows * n, 1e-5);
    assert_close("sparse_matmul dW", w->grad, wref, k * n, 1e-5);
    free(dense);
    free(yref);
    free(wref);
}

static void test_sparse_matmul_dense_reference(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 8);
    for (int binary = 0; binary < 2; binary++) {
        gp_csr *s = random_features(&rng, 9, 7, 0.3, binary);
        gp_tensor *w = param("w", 7, 4, &rng);
        float *ones = malloc((size_t)s->nnz * sizeof(float));
        for (int64_t e = 0; e < s->nnz; e++) ones[e] = s->val ? s->val[e] : 1.0f;
        for (int training = 0; training < 2; training++) {
            /* without dropout (or in eval mode with it) S is used as is */
            gp_tape *t = NULL;
            gp_tape_new(&t);
            gp_tape_set_training(t, training);
            gp_tensor_zero_grad(w);
            gp_rng before = rng;
            gp_tensor *y = gp_sparse_matmul(t, s, w, training ? 0.0f : 0.5f, &rng);
            assert_non_null(y);
            assert_memory_equal(&before, &rng, sizeof rng); /* no mask drawn */
            float *r = random_floats(9 * 4, &rng);
            assert_int_equal(gp_tape_backward_from(t, y, r), GP_OK);
            check_sparse_matmul(s, ones, w, y, r);
            free(r);
            gp_tape_free(&t);
        }
        sm_ctx c = {s, 0.0f};
        assert_true(gc_check(sparse_matmul_fwd, &c, &w, 1) < 1e-2);
        c.p = 0.4f;
        assert_true(gc_check(sparse_matmul_fwd, &c, &w, 1) < 1e-2);
        free(ones);
        gp_tensor_free(&w);
        gp_csr_free(&s);
    }
}

static void test_sparse_matmul_dropout(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 9);
    float p = 0.3f;
    for (int binary = 0; binary < 2; binary++) {
        gp_csr *s = random_features(&rng, 200, 150, 1.5, binary);
        gp_tensor *w = param("w", 150, 3, &rng);
        gp_tape *t = NULL;
        gp_tape_new(&t);
        gp_rng drop, replay;
        gp_rng_seed(&drop, 2024);
        gp_rng_seed(&replay, 2024);
        gp_tensor *y = gp_sparse_matmul(t, s, w, p, &drop);
        assert_non_null(y);
        /* replay the mask: entry e (storage order) dropped when the e-th draw is < p */
        float *eff = malloc((size_t)s->nnz * sizeof(float));
        int64_t dropped = 0;
        double kept_mass = 0, mass = 0;
        for (int64_t e = 0; e < s->nnz; e++) {
            bool keep = gp_rng_uniform(&replay) >= p;
            float v = s->val ? s->val[e] : 1.0f;
            dropped += !keep;
            eff[e] = keep ? v / (1.0f - p) : 0.0f;
            kept_mass += eff[e];
            mass += v;
        }
        assert_memory_equal(&drop, &replay, sizeof drop); /* exactly nnz draws consumed */
        float *r = random_floats(200 * 3, &rng);
        assert_int_equal(gp_tape_backward_from(t, y, r), GP_OK);
        check_sparse_matmul(s, eff, w, y, r);
        /* statistics: the dropped fraction is p; scaling keeps the total mass unbiased */
        double frac = (double)dropped / (double)s->nnz, sd = sqrt(p * (1 - p) / (double)s->nnz);
        assert_true(s->nnz > 20000);
        if (fabs(frac - p) > 5 * sd) fail_msg("dropped fraction %g, expected %g", frac, (double)p);
        assert_true(fabs(kept_mass / mass - 1.0) < 0.03);
        /* the same seed gives the same output (y's arena memory is reused after the reset) */
        float *first = malloc((size_t)(200 * 3) * sizeof(float));
        memcpy(first, y->data, (size_t)(200 * 3) * sizeof(float));
        gp_tape_reset(t);
        gp_rng_seed(&drop, 2024);
        gp_tensor *y2 = gp_sparse_matmul(t, s, w, p, &drop);
        assert_non_null(y2);
        assert_memory_equal(first, y2->data, (size_t)(200 * 3) * sizeof(float));
        gp_rng_seed(&drop, 2025); /* another seed: another mask */
        gp_tensor *y3 = gp_sparse_matmul(t, s, w, p, &drop);
        assert_memory_not_equal(first, y3->data, (size_t)(200 * 3) * sizeof(float));
        free(first);
        free(r);
        free(eff);
        gp_tape_free(&t);
        gp_tensor_free(&w);
        gp_csr_free(&s);
    }
}

/* ---- threads ---- */

static void test_thread_count_independent(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 10);
    gp_graph *g = random_graph(300, 3000, 30000, true, false);
    int64_t n = g->adj.rows, heads = 2, cols = 16;
    gp_tensor *x = param("x", n, cols, &rng), *ev = param("ev", g->adj.nnz, heads, &rng);
    gp_tensor *b = param("b", n, cols, &rng);
    float *r = random_floats(n * cols, &rng);
    float *res[2][4];
    for (int run = 0; run < 2; run++) {
        gp_set_threads(run == 0 ? 1 : 2);
        gp_tensor_zero_grad(x);
        gp_tensor_zero_grad(ev);
        gp_tensor_zero_grad(b);
        gp_tape *t = NULL;
        gp_tape_new(&t);
        gp_tensor *y = gp_spmm(t, g, ev, x);
        gp_tensor *z = gp_sddmm(t, g, y, b, heads);
        gp_tensor *sm = gp_segment_softmax(t, z, g->adj.ptr, n);
        gp_tensor *y2 = gp_spmm(t, g, sm, x); /* attention-style aggregation */
        assert_non_null(y2);
        assert_int_equal(gp_tape_backward_from(t, y2, r), GP_OK);
        res[run][0] = malloc((size_t)(n * cols) * sizeof(float));
        memcpy(res[run][0], y2->data, (size_t)(n * cols) * sizeof(float));
        res[run][1] = malloc((size_t)(n * cols) * sizeof(float));
        memcpy(res[run][1], x->grad, (size_t)(n * cols) * sizeof(float));
        res[run][2] = malloc((size_t)(g->adj.nnz * heads) * sizeof(float));
        memcpy(res[run][2], ev->grad, (size_t)(g->adj.nnz * heads) * sizeof(float));
        res[run][3] = malloc((size_t)(n * cols) * sizeof(float));
        memcpy(res[run][3], b->grad, (size_t)(n * cols) * sizeof(float));
        gp_tape_free(&t);
    }
    gp_set_threads(1);
    assert_memory_equal(res[0][0], res[1][0], (size_t)(n * cols) * sizeof(float));
    assert_memory_equal(res[0][1], res[1][1], (size_t)(n * cols) * sizeof(float));
    assert_memory_equal(res[0][2], res[1][2], (size_t)(g->adj.nnz * heads) * sizeof(float));
    assert_memory_equal(res[0][3], res[1][3], (size_t)(n * cols) * sizeof(float));
    for (int run = 0; run < 2; run++)
        for (int i = 0; i < 4; i++) free(res[run][i]);
    free(r);
    gp_tensor_free(&x);
    gp_tensor_free(&ev);
    gp_tensor_free(&b);
    gp_graph_free(&g);
}

/* ---- errors ---- */

static void test_sparse_errors(void **state)
{
    (void)state;
    gp_graph *g = random_graph(11, 6, 8, false, false);
    gp_tape *t = NULL;
    gp_tape_new(&t);
    int64_t nnz = g->adj.nnz;

    assert_null(gp_spmm(t, g, NULL, gp_tape_tensor(t, 5, 2)));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    assert_non_null(strstr(gp_last_error(), "x has 5 rows, the graph has 6 nodes"));
    gp_tape_reset(t);
    assert_null(gp_spmm(t, g, gp_tape_tensor(t, nnz + 1, 1), gp_tape_tensor(t, 6, 2)));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    assert_null(gp_spmm(t, g, gp_tape_tensor(t, nnz, 3), gp_tape_tensor(t, 6, 4))); /* 3 heads, 4 columns */
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    assert_null(gp_spmm(t, NULL, NULL, gp_tape_tensor(t, 6, 2)));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    assert_null(gp_spmm(t, g, NULL, NULL));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    assert_null(gp_spmm(NULL, g, NULL, NULL)); /* no tape: reported, no crash */
    gp_tape_reset(t);

    assert_null(gp_sddmm(t, g, gp_tape_tensor(t, 6, 4), gp_tape_tensor(t, 6, 6), 1));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    assert_null(gp_sddmm(t, g, gp_tape_tensor(t, 6, 4), gp_tape_tensor(t, 6, 4), 3));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    assert_null(gp_sddmm(t, g, gp_tape_tensor(t, 6, 4), gp_tape_tensor(t, 6, 4), 0));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    assert_null(gp_sddmm(t, g, gp_tape_tensor(t, 7, 4), gp_tape_tensor(t, 7, 4), 2));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);

    gp_rng rng;
    gp_rng_seed(&rng, 1);
    gp_csr *s = random_features(&rng, 4, 5, 0.5, false);
    assert_null(gp_sparse_matmul(t, s, gp_tape_tensor(t, 4, 2), 0.0f, NULL));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    assert_non_null(strstr(gp_last_error(), "S is 4 x 5 but W has 4 rows"));
    gp_tape_reset(t);
    assert_null(gp_sparse_matmul(t, s, gp_tape_tensor(t, 5, 2), 1.0f, &rng));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    assert_null(gp_sparse_matmul(t, s, gp_tape_tensor(t, 5, 2), NAN, &rng));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    assert_null(gp_sparse_matmul(t, s, gp_tape_tensor(t, 5, 2), 0.5f, NULL)); /* needs an rng */
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    assert_null(gp_sparse_matmul(t, NULL, gp_tape_tensor(t, 5, 2), 0.0f, NULL));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    gp_tape_set_training(t, false); /* eval: dropout is off, no rng needed */
    assert_non_null(gp_sparse_matmul(t, s, gp_tape_tensor(t, 5, 2), 0.5f, NULL));
    gp_csr_free(&s);
    gp_tape_free(&t);
    gp_graph_free(&g);
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gather_scatter),
        cmocka_unit_test(test_index_errors),
        cmocka_unit_test(test_segment_values_and_gradients),
        cmocka_unit_test(test_segment_ties_and_empty),
        cmocka_unit_test(test_segment_softmax_normalised_and_stable),
        cmocka_unit_test(test_segment_errors),
        cmocka_unit_test(test_spmm),
        cmocka_unit_test(test_spmm_gcn_graph),
        cmocka_unit_test(test_sddmm),
        cmocka_unit_test(test_sparse_matmul_dense_reference),
        cmocka_unit_test(test_sparse_matmul_dropout),
        cmocka_unit_test(test_thread_count_independent),
        cmocka_unit_test(test_sparse_errors),
    };
    int rc = cmocka_run_group_tests_name("ops_sparse", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
