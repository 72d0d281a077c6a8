/* Core: arena, rng, tensors, tape mechanics, matmul (gradients), CSR and graph basics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gradcheck.h"

static void test_arena_grows_and_resets(void **state)
{
    (void)state;
    gp_arena *a = NULL;
    assert_int_equal(gp_arena_new(&a, 128), GP_OK);
    char *p = gp_arena_alloc(a, 100);
    char *q = gp_arena_alloc(a, 1000); /* does not fit: a new block */
    assert_non_null(p);
    assert_non_null(q);
    assert_true(((uintptr_t)p % 64) == 0 && ((uintptr_t)q % 64) == 0);
    memset(q, 7, 1000);
    assert_true(gp_arena_reserved(a) >= 1128);
    size_t reserved = gp_arena_reserved(a);
    gp_arena_reset(a);
    assert_int_equal(gp_arena_used(a), 0);
    /* after reset one block of the full size serves the same requests without growth */
    assert_non_null(gp_arena_alloc(a, 100));
    assert_non_null(gp_arena_alloc(a, 1000));
    assert_int_equal(gp_arena_reserved(a), reserved);
    int *z = gp_arena_calloc(a, 64 * sizeof(int));
    for (int i = 0; i < 64; i++) assert_int_equal(z[i], 0);
    gp_arena_free(&a);
    assert_null(a);
}

static void test_rng_deterministic(void **state)
{
    (void)state;
    gp_rng a, b;
    gp_rng_seed(&a, 42);
    gp_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++) assert_true(gp_rng_u64(&a) == gp_rng_u64(&b));
    /* known first output of xoshiro256** seeded by splitmix64(0): pins the algorithm */
    gp_rng_seed(&a, 0);
    uint64_t first = gp_rng_u64(&a);
    gp_rng_seed(&b, 0);
    assert_true(first == gp_rng_u64(&b));
    double mean = 0, var = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        float u = gp_rng_uniform(&a);
        assert_true(u >= 0.0f && u < 1.0f);
        float z = gp_rng_normal(&a);
        mean += z;
        var += (double)z * z;
    }
    mean /= n;
    var = var / n - mean * mean;
    assert_true(fabs(mean) < 0.02 && fabs(var - 1.0) < 0.02);
    int counts[5] = {0};
    for (int i = 0; i < 50000; i++) counts[gp_rng_below(&a, 5)]++;
    for (int i = 0; i < 5; i++) assert_true(counts[i] > 9500 && counts[i] < 10500);
    int64_t v[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    gp_rng_shuffle(&a, v, 10);
    int64_t sum = 0;
    for (int i = 0; i < 10; i++) sum += v[i];
    assert_int_equal(sum, 45);
}

static void test_tensor_basics(void **state)
{
    (void)state;
    gp_tensor *w = NULL;
    assert_int_equal(gp_param_new(&w, "w", 3, 4), GP_OK);
    assert_string_equal(w->name, "w");
    assert_non_null(w->grad);
    gp_rng rng;
    gp_rng_seed(&rng, 1);
    gp_init_glorot_uniform(w, &rng, 1.0f);
    float bound = sqrtf(6.0f / 7.0f);
    for (int i = 0; i < 12; i++) assert_true(fabsf(w->data[i]) <= bound);
    gp_tensor v = gp_tensor_rows(w, 1, 2);
    assert_ptr_equal(v.data, w->data + 4);
    assert_ptr_equal(v.grad, w->grad + 4);
    assert_int_equal(v.rows, 2);
    w->data[5] = NAN;
    assert_int_equal(gp_tensor_check_finite(w), GP_E_NUMERIC);
    assert_non_null(strstr(gp_last_error(), "row 1, col 1"));
    /* the message for users: the same text without the library's "file.c:line: " */
    const char *full = gp_last_error(), *msg = gp_last_error_message();
    assert_true(strncmp(full, "tensor.c:", 9) == 0 && msg > full && msg[-2] == ':' && msg[-1] == ' ');
    assert_string_equal(full + strlen(full) - strlen(msg), msg);
    assert_null(strstr(msg, ".c:"));
    assert_non_null(strstr(msg, "row 1, col 1"));
    gp_clear_error();
    assert_string_equal(gp_last_error_message(), "");
    gp_tensor_free(&w);
    assert_null(w);
    gp_tensor *bad = NULL;
    assert_int_equal(gp_tensor_new(&bad, -1, 2), GP_E_INVALID);
    assert_null(bad);
    /* copy: same shape only */
    gp_tensor *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(gp_tensor_new(&a, 2, 3), GP_OK);
    assert_int_equal(gp_tensor_new(&b, 2, 3), GP_OK);
    assert_int_equal(gp_tensor_new(&c, 3, 2), GP_OK);
    for (int i = 0; i < 6; i++) a->data[i] = (float)i - 2.5f, b->data[i] = 9.0f;
    assert_int_equal(gp_tensor_copy(b, a), GP_OK);
    assert_memory_equal(b->data, a->data, 6 * sizeof(float));
    assert_int_equal(gp_tensor_copy(c, a), GP_E_SHAPE);
    assert_non_null(strstr(gp_last_error_message(), "2 x 3 into 3 x 2"));
    for (int i = 0; i < 6; i++) assert_true(c->data[i] == 0.0f); /* untouched (zeroed by new) */
    gp_tensor_free(&a);
    gp_tensor_free(&b);
    gp_tensor_free(&c);
}

/* Status names and the thread setting as the public API reports them. */
static void test_status_names_and_threads(void **state)
{
    (void)state;
    assert_string_equal(gp_status_name(GP_OK), "GP_OK");
    assert_string_equal(gp_status_name(GP_E_SHAPE), "GP_E_SHAPE");
    assert_string_equal(gp_status_name(GP_E_UNSUPPORTED), "GP_E_UNSUPPORTED");
    assert_string_equal(gp_status_name((gp_status)12345), "GP_E_UNKNOWN");
    int before = gp_get_threads();
    gp_set_threads(3);
    assert_int_equal(gp_get_threads(), 3);
    gp_set_threads(0); /* below 1: one thread */
    assert_int_equal(gp_get_threads(), 1);
    gp_set_threads(before);
    assert_int_equal(gp_get_threads(), before);
}

typedef struct {
    bool ta, tb;
    int64_t batch;
} mm_ctx;

static gp_tensor *mm_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    mm_ctx *c = ctx;
    return gp_matmul_batched(t, in[0], in[1], c->batch, c->ta, c->tb);
}

static void test_matmul_gradients(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 7);
    for (int batch = 1; batch <= 3; batch += 2)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int64_t m = 3, k = 4, n = 5;
                gp_tensor *a = NULL, *b = NULL;
                gp_param_new(&a, "a", batch * (ta ? k : m), ta ? m : k);
                gp_param_new(&b, "b", batch * (tb ? n : k), tb ? k : n);
                gc_fill(a, &rng, -1, 1);
                gc_fill(b, &rng, -1, 1);
                mm_ctx c = {ta, tb, batch};
                gp_tensor *in[2] = {a, b};
                assert_true(gc_check(mm_forward, &c, in, 2) < 1e-2);
                /* value check against a naive loop */
                gp_tape *t = NULL;
                gp_tape_new(&t);
                gp_tensor *y = mm_forward(t, in, &c);
                for (int s = 0; s < batch; s++)
                    for (int64_t i = 0; i < m; i++)
                        for (int64_t j = 0; j < n; j++) {
                            double ref = 0;
                            for (int64_t l = 0; l < k; l++) {
                                float av = ta ? a->data[s * k * m + l * m + i] : a->data[s * m * k + i * k + l];
                                float bv = tb ? b->data[s * n * k + j * k + l] : b->data[s * k * n + l * n + j];
                                ref += (double)av * bv;
                            }
                            assert_true(fabs(y->data[s * m * n + i * n + j] - ref) < 1e-5);
                        }
                gp_tape_free(&t);
                gp_tensor_free(&a);
                gp_tensor_free(&b);
            }
}

static void test_tape_sticky_errors(void **state)
{
    (void)state;
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tensor *a = gp_tape_tensor(t, 2, 3), *b = gp_tape_tensor(t, 2, 3);
    gp_tensor *bad = gp_matmul(t, a, b, false, false); /* 2x3 * 2x3: inner sizes differ */
    assert_null(bad);
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    assert_non_null(strstr(gp_last_error(), "inner sizes differ"));
    /* later ops propagate NULL without replacing the first error */
    assert_null(gp_matmul(t, bad, b, false, false));
    assert_int_equal(gp_tape_backward(t, bad), GP_E_SHAPE);
    gp_tape_reset(t);
    assert_int_equal(gp_tape_status(t), GP_OK);
    /* no parameter involved: nothing recorded */
    assert_non_null(gp_matmul(t, gp_tape_tensor(t, 2, 3), gp_tape_tensor(t, 3, 2), false, false));
    assert_int_equal(gp_tape_size(t), 0);
    /* recording off: parameters do not record either */
    gp_tensor *w = NULL;
    gp_param_new(&w, "w", 3, 2);
    gp_tape_set_recording(t, false);
    assert_non_null(gp_matmul(t, gp_tape_tensor(t, 2, 3), w, false, false));
    assert_int_equal(gp_tape_size(t), 0);
    gp_tape_set_recording(t, true);
    gp_tensor *y = gp_matmul(t, gp_tape_tensor(t, 2, 3), w, false, false);
    assert_int_equal(gp_tape_size(t), 1);
    assert_string_equal(gp_tape_node_name(t, 0), "matmul");
    assert_int_equal(gp_tape_backward(t, y), GP_E_SHAPE); /* 2x2 is not a scalar loss */
    gp_tensor_free(&w);
    gp_tape_free(&t);
}

/* A chain of steps h <- tanh(h + tanh(h) W) (addmm hands its C gradient down without a copy)
 * and h <- tanh(h + tanh(h)) (so does add). */
typedef struct chain_ctx {
    int steps;
    gp_tensor *mid; /* the output of step steps / 2 */
} chain_ctx;

static gp_tensor *chain_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    chain_ctx *c = ctx;
    gp_tensor *h = in[0], *w = in[1];
    for (int s = 0; s < c->steps; s++) {
        h = gp_tanh(t, s % 2 ? gp_addmm(t, h, gp_tanh(t, h), w, NULL) : gp_add(t, h, gp_tanh(t, h)));
        if (s == c->steps / 2) c->mid = h;
    }
    return h;
}

/* Backward reuses the gradient buffers of nodes it has passed: gradients stay right, the
 * arena grows by a few buffers instead of one per node, intermediate gradients are cleared
 * (tape.h: only parameters' and leaves' gradients are meant to be read), and a second pass on
 * the same tape computes the same parameter gradient again (no stale intermediate gradient). */
static void test_tape_reuses_gradient_buffers(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 3);
    gp_tensor *x = gc_param(&rng, "x", 4, 3, -1, 1), *w = gc_param(&rng, "w", 3, 3, -0.5f, 0.5f);
    gp_tensor *in[2] = {x, w};
    chain_ctx small = {6, NULL}; /* a small step: the chain is strongly curved */
    assert_true(gc_check_eps(chain_forward, &small, in, 2, 2e-3, 1e-2) < 1e-2);
    gp_tensor_free(&x);
    gp_tensor_free(&w);

    enum { R = 512, C = 64 };
    x = gc_param(&rng, "x", R, C, -1, 1);
    w = gc_param(&rng, "w", C, C, -0.1f, 0.1f);
    gp_tensor *in2[2] = {x, w};
    chain_ctx big = {12, NULL};
    gp_tape *t = gc_tape();
    gp_tensor *y = chain_forward(t, in2, &big);
    assert_non_null(y);
    float *r = malloc(R * C * sizeof(float));
    assert_non_null(r);
    for (int i = 0; i < R * C; i++) r[i] = 1.0f;
    size_t before = gp_arena_used(gp_tape_arena(t)), one = R * C * sizeof(float);
    assert_int_equal(gp_tape_backward_from(t, y, r), GP_OK);
    size_t grown = gp_arena_used(gp_tape_arena(t)) - before;
    /* 36 node outputs get gradients; only a few are alive at a time */
    assert_true(grown <= 4 * (one + 64));
    assert_null(big.mid->grad);
    assert_null(y->grad);
    /* a second pass on the same tape computes the same gradient again, bit for bit */
    float *once = malloc(R * C * sizeof(float));
    assert_non_null(once);
    memcpy(once, x->grad, R * C * sizeof(float));
    gp_tensor_zero_grad(x);
    gp_tensor_zero_grad(w);
    assert_int_equal(gp_tape_backward_from(t, y, r), GP_OK);
    assert_memory_equal(x->grad, once, R * C * sizeof(float));
    free(once);
    gp_tape_free(&t);
    free(r);
    gp_tensor_free(&x);
    gp_tensor_free(&w);
}

static void test_matrix_power(void **state)
{
    (void)state;
    gp_tape *t = NULL;
    gp_tape_new(&t);
    float a[4] = {1, 1, 0, 1}; /* [[1,1],[0,1]]^k = [[1,k],[0,1]] */
    gp_tensor *p = gp_matrix_power(t, gp_tape_constant(t, a, 2, 2), 7);
    assert_non_null(p);
    assert_true(p->data[0] == 1 && p->data[1] == 7 && p->data[2] == 0 && p->data[3] == 1);
    gp_tape_free(&t);
}

static void test_csr_from_coo_and_transpose(void **state)
{
    (void)state;
    int64_t r[] = {2, 0, 2, 1, 0, 2};
    int64_t c[] = {1, 3, 0, 1, 3, 1};
    float v[] = {1, 2, 3, 4, 5, 6};
    gp_csr *m = NULL, *t = NULL;
    assert_int_equal(gp_csr_from_coo(&m, 3, 4, 6, r, c, v), GP_OK);
    assert_int_equal(gp_csr_check(m), GP_OK);
    assert_int_equal(m->nnz, 4); /* (0,3) and (2,1) appear twice: summed */
    float *d = NULL;
    gp_csr_to_dense(&d, m);
    float expect[12] = {0, 0, 0, 7, 0, 4, 0, 0, 3, 7, 0, 0};
    for (int i = 0; i < 12; i++) assert_true(d[i] == expect[i]);
    int64_t *perm = NULL;
    assert_int_equal(gp_csr_transpose(&t, &perm, m), GP_OK);
    assert_int_equal(gp_csr_check(t), GP_OK);
    for (int64_t j = 0; j < t->rows; j++)
        for (int64_t k = t->ptr[j]; k < t->ptr[j + 1]; k++) {
            assert_true(d[t->idx[k] * 4 + j] == t->val[k]);
            assert_true(m->val[perm[k]] == t->val[k]);
        }
    gp_free(perm);
    gp_free(d);
    gp_csr_free(&t);
    gp_csr_free(&m);
    int64_t br[] = {0, 5};
    assert_int_equal(gp_csr_from_coo(&m, 3, 4, 2, br, c, v), GP_E_RANGE);
    assert_null(m);
}

static void test_graph_from_edges_and_gcn_norm(void **state)
{
    (void)state;
    /* path 0-1-2 plus a duplicate 1-0, a self loop at 2 and isolated node 3 */
    int64_t src[] = {0, 1, 1, 2};
    int64_t dst[] = {1, 2, 0, 2};
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_edges(&g, 4, 4, src, dst, NULL,
                                         GP_EDGES_SYMMETRISE | GP_EDGES_DROP_DUPLICATES |
                                             GP_EDGES_DROP_SELF_LOOPS),
                     GP_OK);
    assert_int_equal(gp_graph_nodes(g), 4);
    assert_int_equal(gp_graph_edges(g), 4);
    assert_null(g->adj.val);
    assert_true(g->symmetric);
    const gp_graph *h = NULL;
    assert_int_equal(gp_graph_gcn_norm(&h, g), GP_OK);
    float *dense = NULL;
    gp_csr_to_dense(&dense, &h->adj);
    /* degrees with self loops: 2, 3, 2, 1 */
    float deg[4] = {2, 3, 2, 1};
    float a[16] = {1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            assert_float_equal(dense[i * 4 + j], a[i * 4 + j] / sqrtf(deg[i] * deg[j]), 1e-6);
    const gp_graph *h2 = NULL;
    gp_graph_gcn_norm(&h2, g);
    assert_ptr_equal(h, h2); /* cached */
    gp_free(dense);
    const gp_csr *t = NULL;
    const int64_t *perm = NULL;
    assert_true(g->symmetric);
    assert_int_equal(gp_graph_transpose(&t, NULL, g), GP_OK); /* no pairing asked: g itself */
    assert_ptr_equal(t, &g->adj);
    assert_int_equal(gp_graph_transpose(&t, &perm, g), GP_OK);
    for (int64_t j = 0; j < t->rows; j++)
        for (int64_t k = t->ptr[j]; k < t->ptr[j + 1]; k++) {
            int64_t e = perm[k]; /* entry e of adj is (row i, col j') with i = t->idx[k], j' = j */
            assert_int_equal(g->adj.idx[e], j);
            assert_true(e >= g->adj.ptr[t->idx[k]] && e < g->adj.ptr[t->idx[k] + 1]);
        }
    gp_graph_free(&g);
    int64_t bad[] = {0, 9};
    assert_int_equal(gp_graph_from_edges(&g, 4, 2, bad, bad, NULL, 0), GP_E_RANGE);
    assert_non_null(strstr(gp_last_error(), "edge 1"));
    assert_null(g);
}

static void test_directed_weighted_duplicates(void **state)
{
    (void)state;
    int64_t src[] = {0, 0, 1};
    int64_t dst[] = {1, 1, 1};
    float w[] = {2, 3, 4};
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_edges(&g, 2, 3, src, dst, w, GP_EDGES_ADD_SELF_LOOPS), GP_OK);
    /* row 1: 0->1 summed (5), loop 1->1 kept (4); row 0 gets a new loop of weight 1 */
    assert_int_equal(g->adj.nnz, 3);
    assert_false(g->symmetric);
    float *d = NULL;
    gp_csr_to_dense(&d, &g->adj);
    assert_true(d[0] == 1 && d[1] == 0 && d[2] == 5 && d[3] == 4);
    gp_free(d);
    gp_graph_free(&g);
    assert_int_equal(gp_graph_from_edges(&g, 2, 3, src, dst, w, GP_EDGES_DROP_DUPLICATES), GP_OK);
    gp_csr_to_dense(&d, &g->adj);
    assert_true(d[2] == 2 && d[3] == 4); /* first copy kept */
    gp_free(d);
    gp_graph_free(&g);
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_grows_and_resets),
        cmocka_unit_test(test_rng_deterministic),
        cmocka_unit_test(test_tensor_basics),
        cmocka_unit_test(test_status_names_and_threads),
        cmocka_unit_test(test_matmul_gradients),
        cmocka_unit_test(test_tape_sticky_errors),
        cmocka_unit_test(test_tape_reuses_gradient_buffers),
        cmocka_unit_test(test_matrix_power),
        cmocka_unit_test(test_csr_from_coo_and_transpose),
        cmocka_unit_test(test_graph_from_edges_and_gcn_norm),
        cmocka_unit_test(test_directed_weighted_duplicates),
    };
    int rc = cmocka_run_group_tests_name("core", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
