/*
 * Reproducibility: the same seed and thread count give bit-identical parameters after
 * training a GCN with dropout for several steps (1 thread and 2 threads, each run twice).
 * Dense products are split over the threads by blocks of whole rows of the result, or of
 * columns when it has few rows (the AVX-512 kernel sums every element alike in any block;
 * products on OpenBLAS are cut into the same blocks for every thread count), so their values and gradients are the same bits for 1 and 2
 * threads, whatever OpenBLAS's core type, including narrow products (one output column: the
 * top-k score and its weight gradient, where OpenBLAS's small-matrix kernels took the halves of
 * a product a whole product did not), and match a double-precision reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cblas.h>
#include <strings.h>

#include <graphpool/graphpool.h>

enum { N = 3000, F = 64, H = 32, C = 4, STEPS = 5 };

/* Trains from seed and returns the final first-layer weights (caller frees). */
static float *train(uint64_t seed)
{
    static int64_t src[4 * N], dst[4 * N], labels[N];
    static float feat[N * F];
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 4; k++) src[4 * i + k] = i, dst[4 * i + k] = (int64_t)gp_rng_below(&rng, N);
        labels[i] = (int64_t)gp_rng_below(&rng, C);
        for (int f = 0; f < F; f++) feat[i * F + f] = gp_rng_normal(&rng);
    }
    gp_graph *g = NULL;
    const gp_graph *a = NULL;
    gp_tensor *w1 = NULL, *w2 = NULL;
    gp_tape *t = NULL;
    gp_optim *opt = NULL;
    assert_int_equal(gp_graph_from_edges(&g, N, 4 * N, src, dst, NULL,
                                         GP_EDGES_SYMMETRISE | GP_EDGES_DROP_SELF_LOOPS), GP_OK);
    assert_int_equal(gp_graph_gcn_norm(&a, g), GP_OK);
    gp_param_new(&w1, "w1", F, H);
    gp_param_new(&w2, "w2", H, C);
    gp_init_glorot_uniform(w1, &rng, 1.0f);
    gp_init_glorot_uniform(w2, &rng, 1.0f);
    gp_tensor *params[2] = {w1, w2};
    assert_int_equal(gp_adam_new(&opt, params, 2, 0.01f, 0.9f, 0.999f, 1e-8f, 5e-4f), GP_OK);
    gp_tape_new(&t);
    for (int step = 0; step < STEPS; step++) {
        gp_tape_reset(t);
        gp_tensor *x = gp_tape_constant(t, feat, N, F);
        gp_tensor *h = gp_relu(t, gp_spmm(t, a, NULL, gp_matmul(t, gp_dropout(t, x, 0.5f, &rng), w1, false, false)));
        gp_tensor *z = gp_spmm(t, a, NULL, gp_matmul(t, gp_dropout(t, h, 0.5f, &rng), w2, false, false));
        gp_tensor *loss = gp_cross_entropy_loss(t, z, labels, GP_REDUCE_MEAN);
        assert_int_equal(gp_tape_backward(t, loss), GP_OK);
        assert_int_equal(gp_optim_step(opt), GP_OK);
        gp_optim_zero_grad(opt);
    }
    float *out = malloc(sizeof(float) * F * H);
    memcpy(out, w1->data, sizeof(float) * F * H);
    gp_tape_free(&t);
    gp_optim_free(&opt);
    gp_tensor_free(&w1);
    gp_tensor_free(&w2);
    gp_graph_free(&g);
    return out;
}

static void test_same_seed_same_threads_bit_identical(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 2; threads++) {
        gp_set_threads(threads);
        float *a = train(11), *b = train(11), *c = train(12);
        assert_memory_equal(a, b, sizeof(float) * F * H);
        assert_memory_not_equal(a, c, sizeof(float) * F * H);
        free(a);
        free(b);
        free(c);
    }
    gp_set_threads(1);
}

/* y = op(a) op(b) (+ c + bias with addmm) and the gradients of sum(y .* r); outputs written
 * into out (y, then da, db, dc, dbias), returns the number of floats written. */
static size_t product(bool addmm, bool ta, bool tb, int64_t m, int64_t n, int64_t k, uint64_t seed,
                      float *out)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    gp_tensor *a = NULL, *b = NULL, *c = NULL, *bias = NULL;
    gp_param_new(&a, "a", ta ? k : m, ta ? m : k);
    gp_param_new(&b, "b", tb ? n : k, tb ? k : n);
    gp_param_new(&c, "c", m, n);
    gp_param_new(&bias, "bias", 1, n);
    gp_tensor *all[4] = {a, b, c, bias};
    for (int i = 0; i < 4; i++)
        for (int64_t j = 0; j < all[i]->rows * all[i]->cols; j++) all[i]->data[j] = gp_rng_normal(&rng);
    float *r = malloc(sizeof(float) * (size_t)(m * n));
    for (int64_t j = 0; j < m * n; j++) r[j] = gp_rng_normal(&rng);
    gp_tape *t = NULL;
    gp_tape_new(&t);
    gp_tensor *y = addmm ? gp_addmm(t, c, a, b, bias) : gp_matmul(t, a, b, ta, tb);
    assert_non_null(y);
    assert_int_equal(gp_tape_backward(t, gp_sum_all(t, gp_mul(t, y, gp_tape_constant(t, r, m, n)))), GP_OK);
    size_t at = 0;
    memcpy(out + at, y->data, sizeof(float) * (size_t)(m * n)), at += (size_t)(m * n);
    for (int i = 0; i < (addmm ? 4 : 2); i++) {
        size_t len = (size_t)(all[i]->rows * all[i]->cols);
        memcpy(out + at, all[i]->grad, sizeof(float) * len), at += len;
    }
    if (m * n * k <= 300 * 300 * 40) { /* the value against a double-precision product */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double ref = addmm ? (double)c->data[i * n + j] + bias->data[j] : 0.0, mag = fabs(ref);
                for (int64_t l = 0; l < k; l++) {
                    double p = (double)a->data[ta ? l * m + i : i * k + l] * b->data[tb ? j * k + l : l * n + j];
                    ref += p, mag += fabs(p);
                }
                assert_true(fabs(y->data[i * n + j] - ref) <= 1e-5 * mag + 1e-6);
            }
    }
    free(r);
    gp_tape_free(&t);
    for (int i = 0; i < 4; i++) gp_tensor_free(&all[i]);
    return at;
}

static void test_products_same_bits_for_any_thread_count(void **state)
{
    (void)state;
    /* Tall, wide, k long (a weight gradient's shape), sizes that are not multiples of the
     * split's 12-row blocks, below the split threshold, one output column; few rows (WalkPool's
     * classifier: a batch of 32 by 1440 x 1440, split by columns, or as dot products by 4-row
     * tiles when B is transposed), and a few-row product whose columns are not whole panels. */
    const int64_t shapes[][3] = {{3001, 128, 128}, {128, 2999, 64}, {128, 128, 5000}, {70, 33, 600},
                                 {17, 17, 17}, {300, 300, 40}, {10000, 1, 128}, {128, 1, 10000},
                                 {32, 1440, 1440}, {20, 1000, 700}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int v = 0; v < 5; v++) {
            bool addmm = v == 4, ta = v & 1, tb = v & 2;
            int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
            size_t cap = (size_t)(2 * m * n + m * k + k * n + n);
            float *one = malloc(sizeof(float) * cap), *two = malloc(sizeof(float) * cap);
            gp_set_threads(1);
            size_t len = product(addmm, ta, tb, m, n, k, 5 + s, one);
            gp_set_threads(2);
            assert_int_equal(product(addmm, ta, tb, m, n, k, 5 + s, two), len);
            size_t diff = 0;
            while (diff < len && one[diff] == two[diff]) diff++;
            if (diff < len)
                print_error("shape %lld x %lld x %lld, %s ta=%d tb=%d: first difference at %zu of %zu\n",
                            (long long)m, (long long)n, (long long)k, addmm ? "addmm" : "matmul",
                            ta, tb, diff, len);
            assert_memory_equal(one, two, sizeof(float) * len);
            free(one);
            free(two);
        }
    gp_set_threads(1);
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_same_seed_same_threads_bit_identical),
                                       cmocka_unit_test(test_products_same_bits_for_any_thread_count)};
    int rc = cmocka_run_group_tests_name("determinism", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
