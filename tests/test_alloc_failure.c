/*
 * Out-of-memory loop (SQLite style): run a representative training step (graph construction,
 * GCN normalisation, parameters, a 2-layer GCN forward with dropout, cross-entropy, backward,
 * Adam step, teardown) with an allocator that fails the n-th allocation, for every n until
 * the step completes. Every run must end in a clean error status with a message, and leave
 * zero live allocations behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <graphpool/graphpool.h>

#include "failing_alloc.h"

/* One training step from nothing; returns the first error status (GP_OK on success). */
static gp_status training_step(void *ctx)
{
    (void)ctx;
    enum { N = 24, F = 5, H = 8, C = 3 };
    int64_t src[2 * N], dst[2 * N], labels[N];
    float feat[N * F];
    gp_rng rng;
    gp_rng_seed(&rng, 3);
    for (int i = 0; i < N; i++) {
        src[2 * i] = i, dst[2 * i] = (i + 1) % N;
        src[2 * i + 1] = i, dst[2 * i + 1] = (i + 5) % N;
        labels[i] = i % C;
        for (int f = 0; f < F; f++) feat[i * F + f] = gp_rng_normal(&rng);
    }
    gp_graph *g = NULL;
    gp_tensor *w1 = NULL, *b1 = NULL, *w2 = NULL;
    gp_tape *t = NULL;
    gp_optim *opt = NULL;
    const gp_graph *a = NULL;
    gp_status st;
    if ((st = gp_graph_from_edges(&g, N, 2 * N, src, dst, NULL, GP_EDGES_SYMMETRISE)) != GP_OK) goto done;
    if ((st = gp_graph_gcn_norm(&a, g)) != GP_OK) goto done;
    if ((st = gp_param_new(&w1, "w1", F, H)) != GP_OK) goto done;
    if ((st = gp_param_new(&b1, "b1", 1, H)) != GP_OK) goto done;
    if ((st = gp_param_new(&w2, "w2", H, C)) != GP_OK) goto done;
    gp_init_glorot_uniform(w1, &rng, 1.0f);
    gp_init_glorot_uniform(w2, &rng, 1.0f);
    gp_tensor *params[3] = {w1, b1, w2};
    if ((st = gp_adam_new(&opt, params, 3, 0.01f, 0.9f, 0.999f, 1e-8f, 5e-4f)) != GP_OK) goto done;
    if ((st = gp_tape_new(&t)) != GP_OK) goto done;
    for (int step = 0; step < 2; step++) {
        gp_tape_reset(t);
        gp_graph *an = (gp_graph *)a;
        gp_tensor *x = gp_tape_constant(t, feat, N, F);
        gp_tensor *h = gp_spmm(t, an, NULL, gp_matmul(t, gp_dropout(t, x, 0.5f, &rng), w1, false, false));
        h = gp_relu(t, gp_add(t, h, b1));
        gp_tensor *z = gp_spmm(t, an, NULL, gp_matmul(t, gp_dropout(t, h, 0.5f, &rng), w2, false, false));
        gp_tensor *loss = gp_cross_entropy_loss(t, z, labels, GP_REDUCE_MEAN);
        if ((st = gp_tape_backward(t, loss)) != GP_OK) goto done;
        if ((st = gp_optim_step(opt)) != GP_OK) goto done;
        gp_optim_zero_grad(opt);
    }
done:
    gp_tape_free(&t);
    gp_optim_free(&opt);
    gp_tensor_free(&w1);
    gp_tensor_free(&b1);
    gp_tensor_free(&w2);
    gp_graph_free(&g);
    return st;
}

static void test_every_allocation_failure_is_clean(void **state)
{
    (void)state;
    gp_set_allocator(fa_allocator());
    fa_reset(-1);
    fa_result r = fa_every_failure("training step", training_step, NULL);
    gp_set_allocator(NULL);
    assert_true(r.total > 10);
    /* a few failures are absorbed by design (e.g. the arena keeps its blocks when merging
     * them fails), but most must surface as errors */
    assert_true(r.failures > r.total / 2);
    print_message("%ld allocations, %ld failures surfaced as GP_E_NOMEM, no leaks\n", r.total, r.failures);
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_allocation_failure_is_clean)};
    int rc = cmocka_run_group_tests_name("alloc_failure", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
