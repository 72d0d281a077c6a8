/*
 * Reproducibility: the same seed and thread count give bit-identical parameters after
 * training a GCN with dropout for several steps (1 thread and 2 threads, each run twice).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_same_seed_same_threads_bit_identical)};
    int rc = cmocka_run_group_tests_name("determinism", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
