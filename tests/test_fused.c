/*
 * Fused and rewritten ops of the speed work (docs/benchmarks.md, "Epoch speed, session 3"):
 * gp_addmm, gp_relu_dropout, gp_gather_mul (and its backward on two threads), gp_gather_mul_affine
 * (session 15: its backward over the rows with a gradient only), the dropout mask, the gradient pass-through of
 * add / sub / add_scalar / addmm, vectorised segment max / min, ReLU's backward from its
 * output, layer norm's fused serial backward, and (session 16) the SSE2 / AVX2 / AVX-512 builds of
 * layer norm and of the column sums. Each against a naive reference (values) and
 * finite differences (gradients), the fused ops also bit for bit against the unfused
 * compositions where they promise it, and the parallel paths against one thread.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gradcheck.h"

static void assert_close(const char *what, const float *got, const double *want, int64_t n,
                         double tol)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= tol * fmax(1.0, fabs(want[i]))))
            fail_msg("%s: entry %lld is %.9g, expected %.9g", what, (long long)i, (double)got[i],
                     want[i]);
}

/* ================= addmm ================= */

typedef struct {
    bool with_c, with_bias;
} addmm_ctx;

/* in: a (m x k), b (k x n), c (m x n), bias (1 x n). C goes through an op (2 c) so that it is
 * a temporary without a gradient buffer: the backward's pass-through path is exercised. */
static gp_tensor *addmm_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    addmm_ctx *c = ctx;
    gp_tensor *cc = c->with_c ? gp_scale(t, in[2], 2.0f) : NULL;
    gp_tensor *y = gp_addmm(t, cc, in[0], in[1], c->with_bias ? in[3] : NULL);
    return gp_mul(t, y, y); /* a non-linear use, so the output gradient differs per entry */
}

/* u + u W + b with u = tanh(x) a temporary: C and A are one tensor (DeepSets' residual) */
static gp_tensor *residual_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    (void)ctx;
    gp_tensor *u = gp_tanh(t, in[0]);
    gp_tensor *y = gp_addmm(t, u, u, in[1], in[2]);
    return gp_mul(t, y, y);
}

/* gp_addmm's product with C prefilled has the bits of the product plus C when the AVX-512
 * kernel sums it (k <= 512, lib/gemm_avx512.c), which it does for these shapes (n >= 16; k = 3
 * too unless OpenBLAS runs AVX2 kernels, whose single inner block gives the same bits) unless
 * GP_GEMM=blas or the processor lacks AVX-512. Other OpenBLAS bits depend on how its kernels
 * block the inner dimension (its generic "Prescott" kernels differ): there only values are checked. */
static bool addmm_bits_promised(void)
{
    const char *env = getenv("GP_GEMM");
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && !(env && strcmp(env, "blas") == 0);
}

static void test_addmm_values_and_gradients(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 3);
    const int64_t ks[3] = {3, 128, 300};
    for (int ki = 0; ki < 3; ki++) {
        int64_t m = 7, k = ks[ki], n = 17;
        gp_tensor *a = gc_param(&rng, "a", m, k, -1, 1), *b = gc_param(&rng, "b", k, n, -1, 1);
        gp_tensor *c = gc_param(&rng, "c", m, n, -1, 1), *bias = gc_param(&rng, "bias", 1, n, -1, 1);
        for (int combo = 0; combo < 4; combo++) {
            bool with_c = combo & 1, with_bias = combo & 2;
            gp_tape *t = gc_tape();
            gp_tensor *y = gp_addmm(t, with_c ? c : NULL, a, b, with_bias ? bias : NULL);
            assert_non_null(y);
            assert_true(y->rows == m && y->cols == n);
            double want[7 * 17];
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    double s = 0;
                    for (int64_t q = 0; q < k; q++) s += (double)a->data[i * k + q] * b->data[q * n + j];
                    if (with_c) s += c->data[i * n + j];
                    if (with_bias) s += bias->data[j];
                    want[i * n + j] = s;
                }
            assert_close("addmm", y->data, want, m * n, 1e-5);
            if (!with_c && addmm_bits_promised()) { /* the bits of matmul + bias add */
                gp_tensor *ref = gp_matmul(t, a, b, false, false);
                if (with_bias) ref = gp_add(t, ref, bias);
                assert_memory_equal(y->data, ref->data, (size_t)(m * n) * sizeof(float));
            }
            gp_tape_free(&t);
            if (k > 128) continue; /* finite differences on the smaller products */
            addmm_ctx ctx = {with_c, with_bias};
            gp_tensor *in[4] = {a, b, c, bias};
            assert_true(gc_check(addmm_forward, &ctx, in, 4) < 1e-2);
        }
        gp_tensor_free(&a);
        gp_tensor_free(&b);
        gp_tensor_free(&c);
        gp_tensor_free(&bias);
    }
    gp_tensor *x = gc_param(&rng, "x", 6, 6, -1, 1), *w = gc_param(&rng, "w", 6, 6, -1, 1);
    gp_tensor *bias = gc_param(&rng, "bias", 1, 6, -1, 1);
    gp_tensor *in[3] = {x, w, bias};
    assert_true(gc_check(residual_forward, NULL, in, 3) < 1e-2);
    gp_tensor_free(&x);
    gp_tensor_free(&w);
    gp_tensor_free(&bias);
}

static void test_addmm_errors(void **state)
{
    (void)state;
    gp_tape *t = gc_tape();
    gp_tensor *a = gp_tape_tensor(t, 4, 3), *b = gp_tape_tensor(t, 3, 2);
    gp_tensor *bad_b = gp_tape_tensor(t, 4, 2), *c = gp_tape_tensor(t, 4, 2);
    gp_tensor *bad_c = gp_tape_tensor(t, 2, 4), *bias = gp_tape_tensor(t, 1, 2);
    gp_tensor *bad_bias = gp_tape_tensor(t, 2, 2);
    assert_non_null(gp_addmm(t, c, a, b, bias));
    assert_null(gp_addmm(t, NULL, a, bad_b, NULL));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    a = gp_tape_tensor(t, 4, 3), b = gp_tape_tensor(t, 3, 2), bad_c = gp_tape_tensor(t, 2, 4);
    assert_null(gp_addmm(t, bad_c, a, b, NULL));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    a = gp_tape_tensor(t, 4, 3), b = gp_tape_tensor(t, 3, 2), bad_bias = gp_tape_tensor(t, 2, 2);
    assert_null(gp_addmm(t, NULL, a, b, bad_bias));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    assert_null(gp_addmm(t, NULL, NULL, gp_tape_tensor(t, 3, 2), NULL));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    assert_null(gp_addmm(NULL, NULL, a, b, NULL));
    gp_tape_free(&t);
}

/* ================= dropout mask, relu_dropout ================= */

static gp_tensor *relu_dropout_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    (void)ctx;
    gp_rng rng;
    gp_rng_seed(&rng, 42); /* the same mask on every evaluation */
    return gp_relu_dropout(t, in[0], 0.3f, &rng);
}

static void test_relu_dropout_matches_unfused(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 8);
    enum { R = 37, C = 29, N = R * C }; /* not a multiple of 8: a partial mask step */
    gp_tensor *x = gc_param(&rng, "x", R, C, -1, 1);
    x->data[0] = 0.0f, x->data[1] = -0.0f, x->data[2] = NAN;
    float *r = malloc(N * sizeof(float)), *g_fused = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) r[i] = gp_rng_uniform(&rng) * 2.0f - 1.0f;
    gp_tape *t = gc_tape();
    gp_rng d1, d2;
    gp_rng_seed(&d1, 77);
    gp_rng_seed(&d2, 77);
    gp_tensor *fused = gp_relu_dropout(t, x, 0.3f, &d1);
    assert_non_null(fused);
    assert_string_equal(gp_tape_node_name(t, 0), "relu_dropout");
    assert_int_equal(gp_tape_backward_from(t, fused, r), GP_OK);
    memcpy(g_fused, x->grad, N * sizeof(float));
    float *y_fused = malloc(N * sizeof(float)); /* the arena is reused after the reset */
    memcpy(y_fused, fused->data, N * sizeof(float));
    gp_tape_reset(t);
    gp_tensor_zero_grad(x);
    gp_tensor *plain = gp_dropout(t, gp_relu(t, x), 0.3f, &d2);
    assert_memory_equal(d1.s, d2.s, sizeof d1.s); /* the same rng advance */
    assert_memory_equal(y_fused, plain->data, N * sizeof(float)); /* forward: same bits */
    free(y_fused);
    assert_int_equal(gp_tape_backward_from(t, plain, r), GP_OK);
    int64_t zeros = 0;
    for (int i = 0; i < N; i++) {
        /* the same gradients; only the sign of a zero may differ (== ignores it) */
        assert_true(g_fused[i] == x->grad[i] || (isnan(x->data[i]) && g_fused[i] == 0.0f));
        zeros += plain->data[i] == 0.0f;
    }
    assert_true(zeros > N / 3 && zeros < N); /* ReLU and dropout both zero entries */
    gp_tape_free(&t);
    /* finite differences, away from the kink */
    for (int i = 0; i < N; i++)
        if (fabsf(x->data[i]) < 0.05f || isnan(x->data[i])) x->data[i] = 0.5f;
    assert_true(gc_check(relu_dropout_forward, NULL, &x, 1) < 1e-2);
    free(r);
    free(g_fused);
    gp_tensor_free(&x);
}

static void test_relu_dropout_eval_and_errors(void **state)
{
    (void)state;
    gp_tape *t = gc_tape();
    gp_tensor *x = gp_tape_constant(t, (float[]){-1, 2, -3, 4}, 2, 2);
    gp_rng rng;
    gp_rng_seed(&rng, 1);
    gp_tensor *y = gp_relu_dropout(t, x, 0.0f, &rng); /* p = 0: ReLU */
    assert_non_null(y);
    assert_true(y->data[0] == 0 && y->data[1] == 2 && y->data[2] == 0 && y->data[3] == 4);
    gp_tape_set_training(t, false);
    y = gp_relu_dropout(t, x, 0.9f, NULL); /* eval: ReLU, no rng needed */
    assert_non_null(y);
    assert_true(y->data[1] == 2 && y->data[3] == 4);
    gp_tape_set_training(t, true);
    const float bad[3] = {-0.1f, 1.0f, NAN};
    for (int k = 0; k < 3; k++) {
        gp_tape_reset(t);
        x = gp_tape_constant(t, (float[]){1, 2}, 1, 2);
        assert_null(gp_relu_dropout(t, x, bad[k], &rng));
        assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    }
    gp_tape_reset(t);
    x = gp_tape_constant(t, (float[]){1, 2}, 1, 2);
    assert_null(gp_relu_dropout(t, x, 0.5f, NULL));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_free(&t);
}

/* Masks above the parallel threshold: the same for 1 and 3 threads and for the generator's
 * scalar and AVX2 builds (GP_SIMD=sse2 picks the scalar one), and about p dropped. */
static void test_dropout_mask_threads(void **state)
{
    (void)state;
    enum { R = 2500, C = 128, N = R * C };
    gp_tape *t = gc_tape();
    gp_tensor *x = gp_tape_tensor(t, R, C);
    for (int i = 0; i < N; i++) x->data[i] = 1.0f;
    gp_rng r1, r3, rs;
    gp_rng_seed(&r1, 11);
    gp_rng_seed(&r3, 11);
    gp_rng_seed(&rs, 11);
    gp_tensor *y1 = gp_dropout(t, x, 0.25f, &r1);
    gp_set_threads(3);
    gp_tensor *y3 = gp_dropout(t, x, 0.25f, &r3);
    gp_set_threads(1);
    setenv("GP_SIMD", "sse2", 1);
    gp_tensor *ys = gp_dropout(t, x, 0.25f, &rs);
    unsetenv("GP_SIMD");
    assert_non_null(y1);
    assert_non_null(y3);
    assert_non_null(ys);
    assert_memory_equal(y1->data, y3->data, N * sizeof(float));
    assert_memory_equal(y1->data, ys->data, N * sizeof(float));
    int64_t dropped = 0;
    for (int i = 0; i < N; i++) dropped += y1->data[i] == 0.0f;
    /* std of the fraction sqrt(p(1-p)/N) ~ 0.00077: 0.005 is ~6 sigma */
    assert_true(fabs((double)dropped / N - 0.25) < 0.005);
    /* consecutive blocks and lanes are not copies of each other */
    assert_true(memcmp(y1->data, y1->data + 8192, 8192 * sizeof(float)) != 0);
    assert_true(memcmp(y1->data, y1->data + 2, 64 * sizeof(float)) != 0);
    gp_tape_free(&t);
}

/* ================= gather_mul ================= */

static const int64_t gm_ia[9] = {0, 3, 3, 1, 4, 0, 2, 4, 1};
static const int64_t gm_ib[9] = {2, 0, 3, 1, 4, 4, 0, 0, 3};

static gp_tensor *gather_mul_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    bool same = ctx != NULL;
    return gp_gather_mul(t, in[0], gm_ia, same ? in[0] : in[1], gm_ib, 9);
}

static void test_gather_mul(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 21);
    enum { C = 11 };
    gp_tensor *a = gc_param(&rng, "a", 5, C, -1, 1), *b = gc_param(&rng, "b", 5, C, -1, 1);
    gp_tensor *in[2] = {a, b};
    assert_true(gc_check(gather_mul_forward, NULL, in, 2) < 1e-2);
    assert_true(gc_check(gather_mul_forward, (void *)1, in, 1) < 1e-2); /* a with itself */
    /* values against a naive loop, and bits against the unfused ops (one tensor, as in GPN) */
    float r[9 * C];
    for (int i = 0; i < 9 * C; i++) r[i] = gp_rng_uniform(&rng) - 0.5f;
    gp_tape *t = gc_tape();
    gp_tensor_zero_grad(a);
    gp_tensor *y = gp_gather_mul(t, a, gm_ia, a, gm_ib, 9);
    assert_non_null(y);
    double want[9 * C];
    for (int k = 0; k < 9; k++)
        for (int c = 0; c < C; c++) want[k * C + c] = (double)a->data[gm_ia[k] * C + c] * a->data[gm_ib[k] * C + c];
    assert_close("gather_mul", y->data, want, 9 * C, 1e-6);
    assert_int_equal(gp_tape_backward_from(t, y, r), GP_OK);
    float g_fused[5 * C], y_fused[9 * C];
    memcpy(g_fused, a->grad, sizeof g_fused);
    memcpy(y_fused, y->data, sizeof y_fused); /* the arena is reused after the reset */
    gp_tape_reset(t);
    gp_tensor_zero_grad(a);
    gp_tensor *gb = gp_gather_rows(t, a, gm_ib, 9); /* recorded first: a's terms come first */
    gp_tensor *ga = gp_gather_rows(t, a, gm_ia, 9);
    gp_tensor *ref = gp_mul(t, ga, gb);
    assert_memory_equal(y_fused, ref->data, sizeof y_fused);
    assert_int_equal(gp_tape_backward_from(t, ref, r), GP_OK);
    assert_memory_equal(g_fused, a->grad, sizeof g_fused);
    /* errors */
    gp_tape_reset(t);
    const int64_t bad[1] = {5};
    assert_null(gp_gather_mul(t, a, bad, b, gm_ib, 1));
    assert_int_equal(gp_tape_status(t), GP_E_RANGE);
    gp_tape_reset(t);
    assert_null(gp_gather_mul(t, a, gm_ia, gp_tape_tensor(t, 5, C + 1), gm_ib, 9));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    assert_null(gp_gather_mul(t, a, gm_ia, b, gm_ib, -1));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_free(&t);
    gp_tensor_free(&a);
    gp_tensor_free(&b);
}

/* ================= gradient pass-through ================= */

/* Compositions where a tensor that takes an add's gradient buffer gets later contributions
 * from its other consumers, both sides of one add are the same tensor, and sub / add_scalar. */
static gp_tensor *passthrough_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    (void)ctx;
    gp_tensor *x = in[0], *b = in[1];
    gp_tensor *u = gp_tanh(t, x);                 /* a temporary: no grad buffer yet */
    gp_tensor *v = gp_add(t, u, b);               /* u takes v's buffer... */
    gp_tensor *w = gp_mul(t, u, v);               /* ...and u also feeds w */
    gp_tensor *z = gp_add(t, w, w);               /* both sides one tensor */
    gp_tensor *d = gp_sub(t, gp_add_scalar(t, z, 0.5f), gp_sigmoid(t, u));
    gp_tensor *e = gp_sub(t, d, d);               /* zero, with a gradient path */
    return gp_add(t, gp_add(t, d, e), gp_mul(t, v, v));
}

/* gather_mul's backward above the parallel threshold: rows of the gradient split over the threads,
 * each summing its terms in the serial order (a's, then b's, ascending k), so 1 and 2 threads
 * give the same bits; against a naive double-precision scatter. One tensor (as in GPN) and two. */
static void gather_mul_grads(bool same, int threads, float *ga, float *gb, int64_t rows, int64_t m,
                             int64_t cols, const int64_t *ia, const int64_t *ib, gp_tensor *a,
                             gp_tensor *b, const float *r)
{
    gp_set_threads(threads);
    gp_tape *t = gc_tape();
    gp_tensor_zero_grad(a);
    gp_tensor_zero_grad(b);
    gp_tensor *y = gp_gather_mul(t, a, ia, same ? a : b, ib, m);
    assert_non_null(y);
    assert_int_equal(gp_tape_backward_from(t, y, r), GP_OK);
    memcpy(ga, a->grad, sizeof(float) * (size_t)(rows * cols));
    if (!same) memcpy(gb, b->grad, sizeof(float) * (size_t)(rows * cols));
    gp_tape_free(&t);
    gp_set_threads(1);
}

static void test_gather_mul_threads(void **state)
{
    (void)state;
    enum { ROWS = 700, M = 3000, C = 96 }; /* M x C above GP_PAR_MIN_WORK */
    gp_rng rng;
    gp_rng_seed(&rng, 8);
    gp_tensor *a = gc_param(&rng, "a", ROWS, C, -1, 1), *b = gc_param(&rng, "b", ROWS, C, -1, 1);
    int64_t *ia = malloc(M * sizeof *ia), *ib = malloc(M * sizeof *ib);
    float *r = malloc(M * C * sizeof *r);
    for (int k = 0; k < M; k++) /* skewed: some rows take many terms, some none */
        ia[k] = (int64_t)(gp_rng_uniform(&rng) * gp_rng_uniform(&rng) * ROWS), ib[k] = (int64_t)(gp_rng_uniform(&rng) * ROWS);
    for (int i = 0; i < M * C; i++) r[i] = gp_rng_uniform(&rng) - 0.5f;
    float *g[2][2];
    double *want = malloc(2 * ROWS * C * sizeof *want);
    for (int same = 1; same >= 0; same--) {
        for (int k = 0; k < 2; k++) {
            g[k][0] = malloc(ROWS * C * sizeof(float));
            g[k][1] = malloc(ROWS * C * sizeof(float));
            gather_mul_grads(same, k + 1, g[k][0], g[k][1], ROWS, M, C, ia, ib, a, b, r);
        }
        memset(want, 0, 2 * ROWS * C * sizeof *want);
        double *wa = want, *wb = same ? want : want + ROWS * C;
        const float *bd = same ? a->data : b->data;
        for (int k = 0; k < M; k++)
            for (int c = 0; c < C; c++) {
                wa[ia[k] * C + c] += (double)r[k * C + c] * bd[ib[k] * C + c];
                wb[ib[k] * C + c] += (double)r[k * C + c] * a->data[ia[k] * C + c];
            }
        assert_memory_equal(g[0][0], g[1][0], ROWS * C * sizeof(float));
        assert_close("gather_mul dA", g[0][0], want, ROWS * C, 1e-5);
        if (!same) {
            assert_memory_equal(g[0][1], g[1][1], ROWS * C * sizeof(float));
            assert_close("gather_mul dB", g[0][1], want + ROWS * C, ROWS * C, 1e-5);
        }
        for (int k = 0; k < 2; k++) free(g[k][0]), free(g[k][1]);
    }
    free(want);
    free(r);
    free(ia);
    free(ib);
    gp_tensor_free(&a);
    gp_tensor_free(&b);
}

/* ================= gather_mul_affine ================= */

typedef struct {
    const int64_t *ia, *ib;
    int64_t n;
    const float *mask; /* n x out: rows of zeros give the backward rows without a gradient */
} gma_ctx;

static gp_tensor *gma_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    gma_ctx *c = ctx;
    gp_tensor *z = gp_gather_mul_affine(t, in[0], c->ia, c->ib, c->n, in[1], in[2]);
    if (!z || !c->mask) return z;
    return gp_mul(t, gp_mul(t, z, z), gp_tape_constant(t, c->mask, z->rows, z->cols));
}

/* gradients of sum(z .* r) through the fused op (fused) or gp_addmm(gp_gather_mul) into g
 * (a, w, bias in order); the forward values into y */
static void gma_grads(bool fused, gp_tensor *a, gp_tensor *w, gp_tensor *bias, const int64_t *ia,
                      const int64_t *ib, int64_t n, const float *r, float *y, float *g)
{
    gp_tape *t = gc_tape();
    gp_tensor *in[3] = {a, w, bias};
    for (int i = 0; i < 3; i++) gp_tensor_zero_grad(in[i]);
    gp_tensor *z = fused ? gp_gather_mul_affine(t, a, ia, ib, n, w, bias)
                         : gp_addmm(t, NULL, gp_gather_mul(t, a, ia, a, ib, n), w, bias);
    assert_non_null(z);
    memcpy(y, z->data, sizeof(float) * (size_t)gp_tensor_size(z));
    assert_int_equal(gp_tape_backward_from(t, z, r), GP_OK);
    for (int i = 0; i < 3; i++) {
        memcpy(g, in[i]->grad, sizeof(float) * (size_t)gp_tensor_size(in[i]));
        g += gp_tensor_size(in[i]);
    }
    gp_tape_free(&t);
}

/* values and gradients of the fused op against gp_gather_mul + gp_addmm: forward bit for bit;
 * with every output row weighted, gradients bit for bit; with rows of r zero (skipped in the
 * backward), dbias bit for bit, dA and dW to rounding (products over fewer rows) */
static void gma_compare(int64_t rows, int64_t din, int64_t dout, int64_t n, uint64_t seed, int threads)
{
    gp_set_threads(threads);
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    gp_tensor *a = gc_param(&rng, "a", rows, din, -1, 1), *w = gc_param(&rng, "w", din, dout, -1, 1);
    gp_tensor *bias = gc_param(&rng, "bias", 1, dout, -1, 1);
    int64_t *ia = malloc((size_t)n * sizeof *ia), *ib = malloc((size_t)n * sizeof *ib);
    float *r = malloc(sizeof(float) * (size_t)(n * dout));
    size_t ny = (size_t)(n * dout), ng = (size_t)(rows * din + din * dout + dout);
    float *y[2] = {malloc(ny * sizeof(float)), malloc(ny * sizeof(float))};
    float *g[2] = {malloc(ng * sizeof(float)), malloc(ng * sizeof(float))};
    for (int64_t k = 0; k < n; k++)
        ia[k] = (int64_t)(gp_rng_uniform(&rng) * rows), ib[k] = (int64_t)(gp_rng_uniform(&rng) * rows);
    for (int zero_rows = 0; zero_rows < 2; zero_rows++) {
        for (int64_t k = 0; k < n; k++)
            for (int64_t j = 0; j < dout; j++)
                r[k * dout + j] = zero_rows && k % 3 != 1 ? 0.0f : gp_rng_uniform(&rng) - 0.5f;
        for (int f = 0; f < 2; f++) gma_grads(f == 1, a, w, bias, ia, ib, n, r, y[f], g[f]);
        assert_memory_equal(y[0], y[1], ny * sizeof(float));
        size_t na = (size_t)(rows * din), nw = (size_t)(din * dout);
        if (!zero_rows) {
            assert_memory_equal(g[0], g[1], ng * sizeof(float));
        } else {
            assert_memory_equal(g[0] + na + nw, g[1] + na + nw, (size_t)dout * sizeof(float)); /* dbias */
            for (size_t i = 0; i < na + nw; i++) /* dA, dW: products over other rows (OpenBLAS: dA too) */
                assert_true(fabsf(g[0][i] - g[1][i]) <= 1e-5f * (1.0f + fabsf(g[0][i])));
        }
    }
    for (int f = 0; f < 2; f++) free(y[f]), free(g[f]);
    free(r);
    free(ia);
    free(ib);
    gp_tensor_free(&a);
    gp_tensor_free(&w);
    gp_tensor_free(&bias);
    gp_set_threads(1);
}

static void test_gather_mul_affine(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 31);
    gp_tensor *a = gc_param(&rng, "a", 5, 6, -1, 1), *w = gc_param(&rng, "w", 6, 4, -1, 1);
    gp_tensor *bias = gc_param(&rng, "bias", 1, 4, -1, 1);
    gp_tensor *in[3] = {a, w, bias};
    float mask[9 * 4];
    for (int k = 0; k < 9; k++)
        for (int j = 0; j < 4; j++) mask[k * 4 + j] = k == 2 || k == 5 || k == 6 ? 0.0f : 1.0f;
    gma_ctx dense = {gm_ia, gm_ib, 9, NULL}, some = {gm_ia, gm_ib, 9, mask};
    assert_true(gc_check(gma_forward, &dense, in, 3) < 1e-2);
    assert_true(gc_check(gma_forward, &some, in, 3) < 1e-2); /* rows 2, 5, 6 without a gradient */
    gma_compare(5, 6, 4, 9, 3, 1);
    gma_compare(700, 40, 48, 2500, 4, 1); /* dW over several 512-row blocks */
    gma_compare(700, 40, 48, 2500, 4, 2); /* threads: the products split, the scatter by rows */
    /* errors */
    gp_tape *t = gc_tape();
    const int64_t bad[1] = {5};
    assert_null(gp_gather_mul_affine(t, a, bad, gm_ib, 1, w, bias));
    assert_int_equal(gp_tape_status(t), GP_E_RANGE);
    gp_tape_reset(t);
    assert_null(gp_gather_mul_affine(t, a, gm_ia, gm_ib, 9, bias, NULL));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    assert_null(gp_gather_mul_affine(t, a, gm_ia, gm_ib, -1, w, bias));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_free(&t);
    for (int i = 0; i < 3; i++) gp_tensor_free(&in[i]);
}

static void test_passthrough_gradients(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 5);
    gp_tensor *x = gc_param(&rng, "x", 4, 6, -1, 1), *b = gc_param(&rng, "b", 1, 6, -1, 1);
    gp_tensor *in[2] = {x, b};
    assert_true(gc_check(passthrough_forward, NULL, in, 2) < 1e-2);
    gp_tensor_free(&x);
    gp_tensor_free(&b);
}

/* ================= segment max / min ================= */

/* Values and gradients against a plain loop, with the arg-extremum kernel's AVX2 build and its
 * 4-lane build (GP_SIMD=sse2). */
static void test_segment_extremum(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 13);
    const int64_t widths[3] = {3, 13, 128}; /* scalar tail only, vectors + tail, vectors only */
    const int64_t ptr[6] = {0, 4, 4, 5, 16, 23}; /* an empty and a one-row segment */
    for (int build = 0; build < 2; build++)
    for (int wi = 0; wi < 3; wi++) {
        if (build == 1) setenv("GP_SIMD", "sse2", 1);
        int64_t cols = widths[wi], rows = 23;
        gp_tensor *a = gc_param(&rng, "a", rows, cols, -1, 1);
        /* ties (a later equal row must not win) and NaN (never larger or smaller) */
        for (int64_t c = 0; c < cols; c++) a->data[10 * cols + c] = a->data[8 * cols + c] = 2.0f;
        a->data[17 * cols] = NAN;
        for (int is_max = 0; is_max < 2; is_max++) {
            gp_tape *t = gc_tape();
            gp_tensor *y = is_max ? gp_segment_max(t, a, ptr, 5) : gp_segment_min(t, a, ptr, 5);
            assert_non_null(y);
            float *g = malloc((size_t)(5 * cols) * sizeof(float));
            for (int64_t i = 0; i < 5 * cols; i++) g[i] = (float)(i + 1);
            gp_tensor_zero_grad(a);
            assert_int_equal(gp_tape_backward_from(t, y, g), GP_OK);
            double *gwant = calloc((size_t)(rows * cols), sizeof(double));
            for (int64_t s = 0; s < 5; s++)
                for (int64_t c = 0; c < cols; c++) {
                    float best = 0.0f;
                    int64_t arg = -1;
                    for (int64_t r = ptr[s]; r < ptr[s + 1]; r++) {
                        float v = a->data[r * cols + c];
                        if (arg < 0 || (is_max ? v > best : v < best)) best = v, arg = r;
                    }
                    float got = y->data[s * cols + c];
                    assert_true(got == best || (isnan(got) && isnan(best)));
                    if (arg >= 0) gwant[arg * cols + c] += g[s * cols + c];
                }
            assert_close("segment extremum gradient", a->grad, gwant, rows * cols, 0.0);
            /* without recording (no arg kept): the same values */
            gp_tape_reset(t);
            gp_tape_set_recording(t, false);
            gp_tensor *y2 = is_max ? gp_segment_max(t, a, ptr, 5) : gp_segment_min(t, a, ptr, 5);
            assert_memory_equal(y->data, y2->data, (size_t)(5 * cols) * sizeof(float));
            free(gwant);
            free(g);
            gp_tape_free(&t);
        }
        gp_tensor_free(&a);
        unsetenv("GP_SIMD");
    }
}

/* ================= segment max || mean ================= */

static const int64_t mm_ptr[5] = {0, 3, 3, 4, 10}; /* an empty and a one-row segment */

typedef struct {
    bool mean_first, fused, extra; /* extra: the input also feeds another op (accumulation) */
} max_mean_ctx;

static gp_tensor *max_mean_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    max_mean_ctx *c = ctx;
    gp_tensor *x = gp_tanh(t, in[0]); /* a temporary, as a pooled batch is */
    gp_tensor *r;
    if (c->fused) {
        r = gp_segment_max_mean(t, x, mm_ptr, 4, c->mean_first);
    } else { /* the unfused readout, parts recorded in concat order */
        gp_tensor *first = c->mean_first ? gp_segment_mean(t, x, mm_ptr, 4) : gp_segment_max(t, x, mm_ptr, 4);
        gp_tensor *second = c->mean_first ? gp_segment_max(t, x, mm_ptr, 4) : gp_segment_mean(t, x, mm_ptr, 4);
        r = gp_concat_cols(t, 2, (gp_tensor *[]){first, second});
    }
    if (c->extra) r = gp_add(t, gp_sum_all(t, gp_mul(t, x, x)), gp_sum_rows(t, r)); /* after r */
    return r;
}

static void test_segment_max_mean(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 31);
    for (int wi = 0; wi < 2; wi++) {
        int64_t cols = wi ? 21 : 4;
        gp_tensor *a = gc_param(&rng, "a", 10, cols, -2, 2);
        for (int64_t c = 0; c < cols; c++) { /* distinct values 0.3 apart: no near-ties */
            int64_t perm[10];
            for (int i = 0; i < 10; i++) perm[i] = i;
            gp_rng_shuffle(&rng, perm, 10);
            for (int i = 0; i < 10; i++) a->data[i * cols + c] = 0.3f * (float)perm[i] - 1.35f;
        }
        for (int combo = 0; combo < 4; combo++) {
            max_mean_ctx fused = {combo & 1, true, combo & 2}, plain = {combo & 1, false, combo & 2};
            assert_true(gc_check(max_mean_forward, &fused, &a, 1) < 1e-2);
            /* bits: forward and backward equal the unfused readout */
            gp_tape *t = gc_tape();
            gp_tensor *y = max_mean_forward(t, &a, &fused);
            assert_non_null(y);
            int64_t n = gp_tensor_size(y);
            float *r = malloc((size_t)n * sizeof(float)), *yf = malloc((size_t)n * sizeof(float));
            float *gf = malloc((size_t)(10 * cols) * sizeof(float));
            for (int64_t i = 0; i < n; i++) r[i] = gp_rng_uniform(&rng) - 0.5f;
            memcpy(yf, y->data, (size_t)n * sizeof(float));
            gp_tensor_zero_grad(a);
            assert_int_equal(gp_tape_backward_from(t, y, r), GP_OK);
            memcpy(gf, a->grad, (size_t)(10 * cols) * sizeof(float));
            gp_tape_reset(t);
            gp_tensor *y2 = max_mean_forward(t, &a, &plain);
            assert_memory_equal(yf, y2->data, (size_t)n * sizeof(float));
            gp_tensor_zero_grad(a);
            assert_int_equal(gp_tape_backward_from(t, y2, r), GP_OK);
            assert_memory_equal(gf, a->grad, (size_t)(10 * cols) * sizeof(float));
            free(r);
            free(yf);
            free(gf);
            gp_tape_free(&t);
        }
        gp_tensor_free(&a);
    }
    gp_tape *t = gc_tape();
    gp_tensor *x = gp_tape_tensor(t, 10, 3);
    const int64_t bad[5] = {0, 3, 2, 4, 10};
    assert_null(gp_segment_max_mean(t, x, bad, 4, false));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_free(&t);
}

/* The row-parallel loops of the new ops (above GP_PAR_MIN_WORK). Without sgemm, 3 threads give
 * the bits of 1; with gp_addmm (multi-threaded OpenBLAS sums differently), two runs with 3
 * threads agree. */
static void run_parallel_new_ops(float *out, gp_tensor *a, gp_tensor *w, gp_tensor *bias,
                                 const int64_t *ptr, const int64_t *ia, const int64_t *ib, bool mm)
{
    gp_tape *t = gc_tape();
    gp_tensor_zero_grad(a);
    gp_tensor_zero_grad(w);
    gp_tensor_zero_grad(bias);
    gp_tensor *h = mm ? gp_addmm(t, a, a, w, bias) : gp_add(t, a, bias); /* a + a W + b */
    gp_rng rng;
    gp_rng_seed(&rng, 4);
    gp_tensor *d = gp_relu_dropout(t, h, 0.2f, &rng);
    gp_tensor *e = gp_gather_mul(t, d, ia, d, ib, a->rows);
    gp_tensor *r = gp_segment_max_mean(t, e, ptr, 30, false);
    gp_tensor *l = gp_sum_all(t, gp_mul(t, r, r));
    assert_non_null(l);
    assert_int_equal(gp_tape_backward(t, l), GP_OK);
    int64_t n = gp_tensor_size(a), nr = gp_tensor_size(r);
    memcpy(out, r->data, (size_t)nr * sizeof(float));
    memcpy(out + nr, a->grad, (size_t)n * sizeof(float));
    memcpy(out + nr + n, bias->grad, (size_t)bias->cols * sizeof(float));
    gp_tape_free(&t);
}

static void test_parallel_new_ops(void **state)
{
    (void)state;
    enum { R = 3000, C = 96, SEGS = 30 };
    gp_rng rng;
    gp_rng_seed(&rng, 19);
    gp_tensor *a = gc_param(&rng, "a", R, C, -1, 1), *w = gc_param(&rng, "w", C, C, -0.2f, 0.2f);
    gp_tensor *bias = gc_param(&rng, "bias", 1, C, -0.5f, 0.5f);
    int64_t *ptr = malloc((SEGS + 1) * sizeof *ptr), *ia = malloc(R * sizeof *ia), *ib = malloc(R * sizeof *ib);
    for (int s = 0; s <= SEGS; s++) ptr[s] = (int64_t)s * R / SEGS;
    for (int i = 0; i < R; i++) ia[i] = (int64_t)gp_rng_below(&rng, R), ib[i] = (int64_t)gp_rng_below(&rng, R);
    size_t len = (size_t)(SEGS * 2 * C + R * C + C);
    float *o1 = malloc(len * sizeof(float)), *o3 = malloc(len * sizeof(float));
    run_parallel_new_ops(o1, a, w, bias, ptr, ia, ib, false);
    gp_set_threads(3);
    run_parallel_new_ops(o3, a, w, bias, ptr, ia, ib, false);
    assert_memory_equal(o1, o3, len * sizeof(float));
    run_parallel_new_ops(o1, a, w, bias, ptr, ia, ib, true);
    run_parallel_new_ops(o3, a, w, bias, ptr, ia, ib, true);
    gp_set_threads(1);
    assert_memory_equal(o1, o3, len * sizeof(float));
    free(o1);
    free(o3);
    free(ptr);
    free(ia);
    free(ib);
    gp_tensor_free(&a);
    gp_tensor_free(&w);
    gp_tensor_free(&bias);
}

/* ================= ReLU backward from its output ================= */

static void test_relu_backward(void **state)
{
    (void)state;
    enum { N = 4103 }; /* chunks of 4096 and a short tail */
    gp_rng rng;
    gp_rng_seed(&rng, 17);
    gp_tensor *x = gc_param(&rng, "x", 1, N, -1, 1);
    x->data[0] = 0.0f, x->data[1] = -0.0f, x->data[2] = NAN, x->data[3] = INFINITY;
    float *g = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) g[i] = gp_rng_uniform(&rng) - 0.5f;
    for (int acc = 0; acc < 2; acc++) { /* fresh buffer (a temporary), then accumulating (a param) */
        gp_tape *t = gc_tape();
        gp_tensor_zero_grad(x);
        gp_tensor *in = acc ? x : gp_scale(t, x, 1.0f);
        gp_tensor *y = gp_relu(t, in);
        assert_int_equal(gp_tape_backward_from(t, y, g), GP_OK);
        for (int i = 0; i < N; i++) {
            float want = x->data[i] > 0.0f ? g[i] : 0.0f;
            assert_true(x->grad[i] == want);
        }
        gp_tape_free(&t);
    }
    free(g);
    gp_tensor_free(&x);
}

/* ================= layer norm: serial fused backward = parallel path ================= */

static void run_layer_norm(float *out, gp_tensor *a, gp_tensor *gamma, gp_tensor *beta, const float *r)
{
    gp_tape *t = gc_tape();
    gp_tensor_zero_grad(a);
    gp_tensor_zero_grad(gamma);
    gp_tensor_zero_grad(beta);
    gp_tensor *y = gp_layer_norm(t, a, gamma, beta, 1e-5f);
    assert_non_null(y);
    assert_int_equal(gp_tape_backward_from(t, y, r), GP_OK);
    int64_t n = gp_tensor_size(a), c = a->cols;
    memcpy(out, y->data, (size_t)n * sizeof(float));
    memcpy(out + n, a->grad, (size_t)n * sizeof(float));
    memcpy(out + 2 * n, gamma->grad, (size_t)c * sizeof(float));
    memcpy(out + 2 * n + c, beta->grad, (size_t)c * sizeof(float));
    gp_tape_free(&t);
}

static void test_layer_norm_threads(void **state)
{
    (void)state;
    enum { R = 2100, C = 131, N = R * C }; /* above the parallel threshold; odd width */
    gp_rng rng;
    gp_rng_seed(&rng, 23);
    gp_tensor *a = gc_param(&rng, "a", R, C, -3, 3);
    gp_tensor *gamma = gc_param(&rng, "gamma", 1, C, 0.5f, 1.5f);
    gp_tensor *beta = gc_param(&rng, "beta", 1, C, -1, 1);
    float *r = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) r[i] = gp_rng_uniform(&rng) - 0.5f;
    size_t len = (size_t)(2 * N + 2 * C);
    float *o1 = malloc(len * sizeof(float)), *o3 = malloc(len * sizeof(float));
    run_layer_norm(o1, a, gamma, beta, r);
    gp_set_threads(3);
    run_layer_norm(o3, a, gamma, beta, r);
    gp_set_threads(1);
    assert_memory_equal(o1, o3, len * sizeof(float));
    /* dbeta is the column sum of r, dgamma the column sum of r * xh (double references) */
    double *want = calloc(2 * C, sizeof(double));
    for (int64_t i = 0; i < R; i++) {
        double mu = 0, var = 0;
        for (int64_t j = 0; j < C; j++) mu += a->data[i * C + j];
        mu /= C;
        for (int64_t j = 0; j < C; j++) var += (a->data[i * C + j] - mu) * (a->data[i * C + j] - mu);
        double inv = 1.0 / sqrt(var / C + 1e-5);
        for (int64_t j = 0; j < C; j++) {
            want[j] += r[i * C + j] * (a->data[i * C + j] - mu) * inv;
            want[C + j] += r[i * C + j];
        }
    }
    assert_close("layer norm dgamma, dbeta", o1 + 2 * N, want, 2 * C, 1e-4);
    free(want);
    free(o1);
    free(o3);
    free(r);
    gp_tensor_free(&a);
    gp_tensor_free(&gamma);
    gp_tensor_free(&beta);
}

/* The SSE2, AVX2 and AVX-512 row kernels (GP_SIMD, lib/ops_norm.c) give the same bits
 * (forward, dx, dgamma, dbeta): at a multiple of their 16 partial sums, with a tail, and
 * narrower than 16. */
static void test_layer_norm_kernels(void **state)
{
    (void)state;
    static const int64_t widths[] = {128, 131, 7};
    static const char *const builds[] = {"avx2", "avx512"};
    const bool have[] = {__builtin_cpu_supports("avx2"), __builtin_cpu_supports("avx512f")};
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        int64_t R = 300, C = widths[w], N = R * C;
        gp_rng rng;
        gp_rng_seed(&rng, 31 + (uint64_t)w);
        gp_tensor *a = gc_param(&rng, "a", R, C, -3, 3);
        gp_tensor *gamma = gc_param(&rng, "gamma", 1, C, 0.5f, 1.5f);
        gp_tensor *beta = gc_param(&rng, "beta", 1, C, -1, 1);
        float *r = malloc((size_t)N * sizeof(float));
        for (int64_t i = 0; i < N; i++) r[i] = gp_rng_uniform(&rng) - 0.5f;
        size_t len = (size_t)(2 * N + 2 * C);
        float *want = malloc(len * sizeof(float)), *got = malloc(len * sizeof(float));
        setenv("GP_SIMD", "sse2", 1);
        run_layer_norm(want, a, gamma, beta, r);
        for (int k = 0; k < 2; k++) {
            if (!have[k]) continue; /* the processor lacks it: nothing to compare */
            setenv("GP_SIMD", builds[k], 1);
            run_layer_norm(got, a, gamma, beta, r);
            assert_memory_equal(want, got, len * sizeof(float));
        }
        unsetenv("GP_SIMD");
        if (w == 0) print_message("layer norm: SSE2 compared with%s%s\n", have[0] ? " AVX2" : "",
                                  have[1] ? " AVX-512" : " (no wider build on this processor)");
        free(want);
        free(got);
        free(r);
        gp_tensor_free(&a);
        gp_tensor_free(&gamma);
        gp_tensor_free(&beta);
    }
}

/* Column sums (the bias gradient of x + bias, lib/ops_elementwise.c): the SSE2, AVX2 and AVX-512
 * builds give the same bits, and the sums match a double reference; widths with whole register
 * blocks, with columns left over, and narrower than one block; 1 and 2 threads. */
static void bias_gradient(float *out, gp_tensor *x, gp_tensor *bias, const float *r)
{
    gp_tape *t = gc_tape();
    gp_tensor_zero_grad(bias);
    gp_tensor *y = gp_add(t, x, bias);
    assert_non_null(y);
    assert_int_equal(gp_tape_backward_from(t, y, r), GP_OK);
    memcpy(out, bias->grad, (size_t)bias->cols * sizeof(float));
    gp_tape_free(&t);
}

static void test_column_sums_kernels(void **state)
{
    (void)state;
    static const int64_t widths[] = {128, 131, 7, 200};
    static const char *const builds[] = {"sse2", "avx2", "avx512"};
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        int64_t R = 700, C = widths[w], N = R * C; /* some above the parallel threshold */
        gp_rng rng;
        gp_rng_seed(&rng, 41 + (uint64_t)w);
        gp_tensor *x = gc_param(&rng, "x", R, C, -1, 1);
        gp_tensor *bias = gc_param(&rng, "bias", 1, C, -1, 1);
        float *r = malloc((size_t)N * sizeof(float));
        for (int64_t i = 0; i < N; i++) r[i] = gp_rng_uniform(&rng) - 0.5f;
        float *want = malloc((size_t)C * sizeof(float)), *got = malloc((size_t)C * sizeof(float));
        double *ref = calloc((size_t)C, sizeof(double));
        for (int64_t i = 0; i < R; i++)
            for (int64_t j = 0; j < C; j++) ref[j] += r[i * C + j];
        setenv("GP_SIMD", "sse2", 1);
        bias_gradient(want, x, bias, r);
        assert_close("column sums", want, ref, C, 1e-5);
        for (int b = 0; b < 3; b++)
            for (int nt = 1; nt <= 2; nt++) {
                setenv("GP_SIMD", builds[b], 1); /* capped at what the processor has */
                gp_set_threads(nt);
                bias_gradient(got, x, bias, r);
                gp_set_threads(1);
                assert_memory_equal(want, got, (size_t)C * sizeof(float));
            }
        unsetenv("GP_SIMD");
        free(ref);
        free(want);
        free(got);
        free(r);
        gp_tensor_free(&x);
        gp_tensor_free(&bias);
    }
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addmm_values_and_gradients),
        cmocka_unit_test(test_addmm_errors),
        cmocka_unit_test(test_relu_dropout_matches_unfused),
        cmocka_unit_test(test_relu_dropout_eval_and_errors),
        cmocka_unit_test(test_dropout_mask_threads),
        cmocka_unit_test(test_gather_mul),
        cmocka_unit_test(test_gather_mul_threads),
        cmocka_unit_test(test_gather_mul_affine),
        cmocka_unit_test(test_passthrough_gradients),
        cmocka_unit_test(test_segment_extremum),
        cmocka_unit_test(test_segment_max_mean),
        cmocka_unit_test(test_parallel_new_ops),
        cmocka_unit_test(test_relu_backward),
        cmocka_unit_test(test_layer_norm_threads),
        cmocka_unit_test(test_layer_norm_kernels),
        cmocka_unit_test(test_column_sums_kernels),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    gp_finalize();
    return failed;
}
