/*
 * The AVX-512 product kernel (lib/gemm_avx512.c), compiled into this test directly (its
 * symbols are internal to the library): C = alpha op(A) op(B) + beta C against a naive
 * double-precision reference for every transposition case, tile and block tails (m, n, k around
 * the 12-row tile, the 32-column panel, the 512 inner block and the 256-column block; B rows
 * short enough to be read in place and long ones that are packed; few rows of A, where long B
 * rows are read in place too and transposed B is summed as dot products), padded
 * leading dimensions, and alpha / beta cases; C outside the product is never touched, C is
 * not read when beta = 0 (NaN there stays out); rows cut anywhere give the same bits as the
 * whole product, and so do columns (what makes products independent of the thread count); with k <= 512 a
 * beta = 1 product is bit for bit the beta = 0 product plus C (what gp_addmm relies on); the
 * default shape rule. Skipped on processors without AVX-512F.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cblas.h>

#include <cmocka.h>

#include "internal.h"

static unsigned lcg = 12345u;
static float next_value(void)
{
    lcg = lcg * 1664525u + 1013904223u;
    return (float)((lcg >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

typedef struct problem {
    bool ta, tb;
    int64_t m, n, k, lda, ldb, ldc;
    float *a, *b, *c;
} problem;

static void problem_make(problem *p, bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t pad)
{
    p->ta = ta, p->tb = tb, p->m = m, p->n = n, p->k = k;
    int64_t arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
    p->lda = acols + pad, p->ldb = bcols + pad, p->ldc = n + pad;
    p->a = malloc((size_t)(arows * p->lda) * sizeof(float));
    p->b = malloc((size_t)(brows * p->ldb) * sizeof(float));
    p->c = malloc((size_t)(m * p->ldc) * sizeof(float));
    assert_non_null(p->a), assert_non_null(p->b), assert_non_null(p->c);
    for (int64_t i = 0; i < arows * p->lda; i++) p->a[i] = next_value();
    for (int64_t i = 0; i < brows * p->ldb; i++) p->b[i] = next_value();
    for (int64_t i = 0; i < m * p->ldc; i++) p->c[i] = next_value();
}

static void problem_free(problem *p)
{
    free(p->a), free(p->b), free(p->c);
}

static double op_a(const problem *p, int64_t i, int64_t q)
{
    return p->ta ? p->a[q * p->lda + i] : p->a[i * p->lda + q];
}

static double op_b(const problem *p, int64_t q, int64_t j)
{
    return p->tb ? p->b[j * p->ldb + q] : p->b[q * p->ldb + j];
}

/* The kernel on the problem, C copied first; returns the result (m x ldc, caller frees). */
static float *run(const problem *p, float alpha, float beta, const float *c_in)
{
    float *c = malloc((size_t)(p->m * p->ldc) * sizeof(float));
    assert_non_null(c);
    memcpy(c, c_in, (size_t)(p->m * p->ldc) * sizeof(float));
    assert_true(gp_i_sgemm_avx512(p->ta, p->tb, p->m, p->m, p->n, p->k, alpha, p->a, p->lda, p->b,
                                  p->ldb, beta, c, p->ldc));
    return c;
}

static void check_against_reference(const problem *p, float alpha, float beta)
{
    float *c_in = malloc((size_t)(p->m * p->ldc) * sizeof(float));
    assert_non_null(c_in);
    memcpy(c_in, p->c, (size_t)(p->m * p->ldc) * sizeof(float));
    if (beta == 0.0f) /* must not be read */
        for (int64_t i = 0; i < p->m; i++)
            for (int64_t j = 0; j < p->n; j++) c_in[i * p->ldc + j] = NAN;
    float *c = run(p, alpha, beta, c_in);
    for (int64_t i = 0; i < p->m; i++) {
        for (int64_t j = 0; j < p->n; j++) {
            double sum = 0, mag = 0;
            for (int64_t q = 0; q < p->k; q++) {
                double t = op_a(p, i, q) * op_b(p, q, j);
                sum += t, mag += fabs(t);
            }
            double old = beta == 0.0f ? 0.0 : (double)beta * p->c[i * p->ldc + j];
            double want = (double)alpha * sum + old, got = c[i * p->ldc + j];
            double tol = 1e-6 * (fabs((double)alpha) * mag + fabs(old)) + 1e-30;
            if (!(fabs(got - want) <= 4 * tol * (1 + sqrt((double)p->k))))
                fail_msg("%c%c m %lld n %lld k %lld alpha %g beta %g: C[%lld][%lld] = %.9g, expected %.9g",
                         p->ta ? 'T' : 'N', p->tb ? 'T' : 'N', (long long)p->m, (long long)p->n,
                         (long long)p->k, (double)alpha, (double)beta, (long long)i, (long long)j,
                         got, want);
        }
        for (int64_t j = p->n; j < p->ldc; j++) /* padding untouched */
            assert_memory_equal(&c[i * p->ldc + j], &c_in[i * p->ldc + j], sizeof(float));
    }
    free(c), free(c_in);
}

static bool have_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

static void test_values_against_reference(void **state)
{
    (void)state;
    if (!have_avx512()) skip();
    const int64_t ms[] = {1, 5, 12, 13, 37, 61}; /* 61: above the dot-product and in-place limits */
    const int64_t ns[] = {1, 15, 16, 17, 32, 33, 100, 300, 600}; /* 600: B packed, 3 column blocks */
    const int64_t ks[] = {1, 7, 129, 513, 1100};
    const float ab[][2] = {{1, 0}, {1, 1}, {0.5f, -2}};
    int cases = 0;
    for (int t = 0; t < 4; t++)
        for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
            for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
                for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
                    if (ms[mi] * ns[ni] * ks[ki] > 2000000) continue;
                    problem p;
                    problem_make(&p, t & 1, t & 2, ms[mi], ns[ni], ks[ki], (int64_t)((mi + ni + ki) % 3));
                    for (int s = 0; s < 3; s++) check_against_reference(&p, ab[s][0], ab[s][1]);
                    problem_free(&p);
                    cases++;
                }
    assert_true(cases > 500);
}

/* Rows lo..hi computed alone (told that they belong to the whole product) equal the same rows
 * of the whole product, bit for bit; 61 rows use the panels, 45 the dot products when B is
 * transposed. */
static void test_row_cuts_same_bits(void **state)
{
    (void)state;
    if (!have_avx512()) skip();
    for (int t = 0; t < 8; t++) {
        problem p;
        int64_t m = t < 4 ? 61 : 45;
        problem_make(&p, t & 1, t & 2, m, 45, 600, 1);
        float *whole = run(&p, 1.0f, 0.0f, p.c);
        const int64_t cuts[][2] = {{0, 1}, {1, 13}, {5, 29}, {29, m}, {m - 1, m}};
        for (int ci = 0; ci < 5; ci++) {
            int64_t lo = cuts[ci][0], hi = cuts[ci][1];
            float *part = malloc((size_t)(p.m * p.ldc) * sizeof(float));
            assert_non_null(part);
            memcpy(part, p.c, (size_t)(p.m * p.ldc) * sizeof(float));
            const float *a = p.ta ? p.a + lo : p.a + lo * p.lda;
            assert_true(gp_i_sgemm_avx512(p.ta, p.tb, hi - lo, p.m, p.n, p.k, 1.0f, a, p.lda, p.b,
                                          p.ldb, 0.0f, part + lo * p.ldc, p.ldc));
            for (int64_t i = lo; i < hi; i++)
                assert_memory_equal(part + i * p.ldc, whole + i * p.ldc, (size_t)p.n * sizeof(float));
            free(part);
        }
        free(whole);
        problem_free(&p);
    }
}

/* Columns lo..hi computed alone equal the same columns of the whole product, bit for bit, for
 * A and B untransposed or transposed (gp_i_gemm splits the columns of products with few rows
 * over the threads); B read in place (200 columns) and packed (600, more than one column
 * block, and always when transposed). */
static void test_column_cuts_same_bits(void **state)
{
    (void)state;
    if (!have_avx512()) skip();
    for (int t = 0; t < 8; t++) {
        problem p;
        int64_t n = t & 2 ? 600 : 200;
        bool tb = t & 4; /* B transposed: 61 rows, above the dot products' 48 */
        problem_make(&p, t & 1, tb, tb ? 61 : 32, n, 700, 1);
        float *whole = run(&p, 1.0f, 0.0f, p.c);
        const int64_t cuts[][2] = {{0, 32}, {32, 96}, {64, n}, {n - 40, n}, {17, 50}};
        for (int ci = 0; ci < 5; ci++) {
            int64_t lo = cuts[ci][0], hi = cuts[ci][1];
            float *part = malloc((size_t)(p.m * p.ldc) * sizeof(float));
            assert_non_null(part);
            memcpy(part, p.c, (size_t)(p.m * p.ldc) * sizeof(float));
            const float *b = tb ? p.b + lo * p.ldb : p.b + lo;
            assert_true(gp_i_sgemm_avx512(p.ta, tb, p.m, p.m, hi - lo, p.k, 1.0f, p.a, p.lda, b, p.ldb, 0.0f,
                                          part + lo, p.ldc));
            for (int64_t i = 0; i < p.m; i++)
                assert_memory_equal(part + i * p.ldc + lo, whole + i * p.ldc + lo, (size_t)(hi - lo) * sizeof(float));
            free(part);
        }
        free(whole);
        problem_free(&p);
    }
}

/* k <= 512: alpha 1, beta 1 gives round(A B + C) = (A B, rounded) + C, as gp_addmm assumes. */
static void test_accumulate_equals_product_plus_c(void **state)
{
    (void)state;
    if (!have_avx512()) skip();
    for (int t = 0; t < 4; t++) {
        problem p;
        problem_make(&p, t & 1, t & 2, 30, 70, 300, 0);
        float *prod = run(&p, 1.0f, 0.0f, p.c), *acc = run(&p, 1.0f, 1.0f, p.c);
        for (int64_t i = 0; i < p.m * p.ldc; i++) {
            float want = prod[i] + p.c[i];
            assert_memory_equal(&acc[i], &want, sizeof(float));
        }
        free(prod), free(acc);
        problem_free(&p);
    }
}

static void test_default_rule(void **state)
{
    (void)state;
    if (!have_avx512()) {
        assert_false(gp_i_gemm_use_avx512(1000, 128, 128, false, false));
        skip();
    }
    assert_true(gp_i_gemm_select(GP_GEMM_AUTO));
    /* OpenBLAS's generic SSE3 kernels (a processor it does not know): this kernel everywhere.
     * meson runs this test with OPENBLAS_CORETYPE=Prescott and =Haswell too, for both rules. */
    const char *core = openblas_get_corename();
    if (core && strcasecmp(core, "Prescott") == 0) {
        assert_true(gp_i_gemm_use_avx512(2340, 2, 64, false, false));
        assert_true(gp_i_gemm_use_avx512(2340, 128, 4, false, false));
        assert_true(gp_i_gemm_use_avx512(56, 1440, 1440, false, true));
        return;
    }
    if (!core || strcasecmp(core, "Haswell") != 0) skip(); /* other cores: rule not pinned here */
    assert_true(gp_i_gemm_use_avx512(2340, 128, 256, false, false));
    assert_false(gp_i_gemm_use_avx512(2340, 2, 64, false, false));  /* narrow output: OpenBLAS */
    assert_false(gp_i_gemm_use_avx512(2340, 128, 4, false, false)); /* inner dimension below 8 */
    assert_true(gp_i_gemm_use_avx512(32, 1440, 1440, false, true));  /* dot products */
    assert_false(gp_i_gemm_use_avx512(32, 720, 72, false, true));    /* too short for them */
    assert_false(gp_i_gemm_use_avx512(56, 1440, 1440, false, true)); /* neither dots nor panels */
    assert_true(gp_i_gemm_use_avx512(64, 1440, 1440, false, true));  /* panels */
    assert_true(gp_i_gemm_select(GP_GEMM_BLAS));
    assert_false(gp_i_gemm_use_avx512(2340, 128, 256, false, false));
    assert_true(gp_i_gemm_select(GP_GEMM_AVX512));
    assert_true(gp_i_gemm_use_avx512(2340, 2, 64, false, false));
    assert_true(gp_i_gemm_select(GP_GEMM_AUTO));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_against_reference),
        cmocka_unit_test(test_row_cuts_same_bits),
        cmocka_unit_test(test_column_cuts_same_bits),
        cmocka_unit_test(test_accumulate_equals_product_plus_c),
        cmocka_unit_test(test_default_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
