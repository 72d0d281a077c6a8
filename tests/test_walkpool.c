/* WalkPool walk profile (graphpool/walkpool.h): values and gradients against a dense
 * brute-force computation of the matrix powers, symmetry in (a, b), errors, threads. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <graphpool/walkpool.h>

#include "gradcheck.h"

/* A batch of random subgraphs with target pairs; node a of every second link is attached to b
 * only, so it loses all its edges in G-. */
typedef struct fixture {
    gp_graph *g;
    int64_t links;
    int64_t pairs[16];
} fixture;

static void make_fixture(fixture *f, int64_t links, uint64_t seed)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    gp_graph *parts[8];
    int64_t off = 0;
    f->links = links;
    for (int64_t l = 0; l < links; l++) {
        int64_t n = 5 + (int64_t)gp_rng_below(&rng, 6);
        int64_t src[200], dst[200], m = 0;
        int64_t a = (int64_t)gp_rng_below(&rng, (uint64_t)n), b = (a + 1 + (int64_t)gp_rng_below(&rng, (uint64_t)n - 1)) % n;
        bool lonely = (l % 2) == 0;
        for (int64_t u = 0; u < n; u++)
            for (int64_t v = u + 1; v < n; v++) {
                bool target = (u == a && v == b) || (u == b && v == a);
                bool touches_a = u == a || v == a;
                if (target || (!(lonely && touches_a) && gp_rng_uniform(&rng) < 0.45f)) {
                    src[m] = u;
                    dst[m] = v;
                    m++;
                }
            }
        assert_int_equal(gp_graph_from_edges(&parts[l], n, m, src, dst, NULL, GP_EDGES_SYMMETRISE), GP_OK);
        f->pairs[2 * l] = off + a;
        f->pairs[2 * l + 1] = off + b;
        off += n;
    }
    assert_int_equal(gp_graph_batch(&f->g, links, (const gp_graph *const *)parts), GP_OK);
    for (int64_t l = 0; l < links; l++) gp_graph_free(&parts[l]);
}

/* Dense reference for one link and head, double precision: features in the op's layout. */
static void dense_features(double *feat, const gp_graph *g, const double *logits, int64_t H,
                           const int64_t *pairs, int64_t l, int64_t h, int T)
{
    int64_t v0 = g->graph_ptr[l], n = g->graph_ptr[l + 1] - v0;
    int64_t a = pairs[2 * l] - v0, b = pairs[2 * l + 1] - v0;
    double *P[2], *M[2], *tmp = calloc((size_t)(n * n), sizeof(double));
    for (int s = 0; s < 2; s++) {
        P[s] = calloc((size_t)(n * n), sizeof(double));
        M[s] = calloc((size_t)(n * n), sizeof(double));
    }
    double sab = 0, sba = 0;
    for (int64_t v = 0; v < n; v++) {
        for (int s = 0; s < 2; s++) {
            double sum = 0;
            for (int64_t k = g->adj.ptr[v0 + v]; k < g->adj.ptr[v0 + v + 1]; k++) {
                int64_t u = g->adj.idx[k] - v0;
                bool removed = s == 1 && ((v == b && u == a) || (v == a && u == b));
                if (!removed) sum += exp(logits[k * H + h]);
            }
            for (int64_t k = g->adj.ptr[v0 + v]; k < g->adj.ptr[v0 + v + 1]; k++) {
                int64_t u = g->adj.idx[k] - v0;
                bool removed = s == 1 && ((v == b && u == a) || (v == a && u == b));
                if (!removed) P[s][v * n + u] = exp(logits[k * H + h]) / sum;
                if (s == 0 && v == b && u == a) sab = logits[k * H + h];
                if (s == 0 && v == a && u == b) sba = logits[k * H + h];
            }
        }
    }
    for (int s = 0; s < 2; s++) memcpy(M[s], P[s], (size_t)(n * n) * sizeof(double));
    int64_t oo = H * T, onp = oo + H, onm = onp + H * T, olp = onm + H * T, olm = olp + H * T;
    for (int i = 0; i < T; i++) {
        for (int s = 0; s < 2; s++) { /* M = P M */
            for (int64_t r = 0; r < n; r++)
                for (int64_t q = 0; q < n; q++) {
                    double acc = 0;
                    for (int64_t k = 0; k < n; k++) acc += P[s][r * n + k] * M[s][k * n + q];
                    tmp[r * n + q] = acc;
                }
            memcpy(M[s], tmp, (size_t)(n * n) * sizeof(double));
        }
        int64_t col = h * T + i;
        double tr[2] = {0, 0};
        for (int s = 0; s < 2; s++)
            for (int64_t v = 0; v < n; v++) tr[s] += M[s][v * n + v];
        feat[col] = tr[0] - tr[1];
        feat[onp + col] = M[0][a * n + a] + M[0][b * n + b];
        feat[onm + col] = M[1][a * n + a] + M[1][b * n + b];
        feat[olp + col] = M[0][a * n + b] + M[0][b * n + a];
        feat[olm + col] = M[1][a * n + b] + M[1][b * n + a];
    }
    feat[oo + h] = 1 / (1 + exp(-sab)) + 1 / (1 + exp(-sba));
    for (int s = 0; s < 2; s++) {
        free(P[s]);
        free(M[s]);
    }
    free(tmp);
}

static void dense_all(double *out, const fixture *f, const double *logits, int64_t H, int T)
{
    int64_t F = gp_walkpool_dim(T, H);
    double *row = calloc((size_t)F, sizeof(double));
    for (int64_t l = 0; l < f->links; l++) {
        memset(row, 0, (size_t)F * sizeof(double));
        for (int64_t h = 0; h < H; h++) {
            double tmp[512];
            memset(tmp, 0, sizeof(tmp));
            dense_features(tmp, f->g, logits, H, f->pairs, l, h, T);
            for (int64_t c = 0; c < F; c++) row[c] += tmp[c]; /* only head h's columns are set */
        }
        memcpy(out + l * F, row, (size_t)F * sizeof(double));
    }
    free(row);
}

static void random_logits(gp_tensor **out, const fixture *f, int64_t H, uint64_t seed)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    assert_int_equal(gp_param_new(out, "logits", f->g->adj.nnz, H), GP_OK);
    gc_fill(*out, &rng, -1.5f, 1.5f);
}

static void check_values(int64_t links, int64_t H, int T, uint64_t seed)
{
    fixture f;
    make_fixture(&f, links, seed);
    gp_tensor *s = NULL;
    random_logits(&s, &f, H, seed + 1);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tensor *out = gp_walkpool(t, f.g, s, f.pairs, T);
    assert_non_null(out);
    int64_t F = gp_walkpool_dim(T, H);
    assert_int_equal(out->rows, links);
    assert_int_equal(out->cols, F);
    double *ls = malloc((size_t)gp_tensor_size(s) * sizeof(double));
    for (int64_t i = 0; i < gp_tensor_size(s); i++) ls[i] = s->data[i];
    double *ref = calloc((size_t)(links * F), sizeof(double));
    dense_all(ref, &f, ls, H, T);
    for (int64_t i = 0; i < links * F; i++)
        assert_true(fabs(out->data[i] - ref[i]) <= 1e-5 * fmax(1.0, fabs(ref[i])));
    free(ref);
    free(ls);
    gp_tape_free(&t);
    gp_tensor_free(&s);
    gp_graph_free(&f.g);
}

static void test_values_match_dense(void **state)
{
    (void)state;
    check_values(4, 1, 3, 11);
    check_values(5, 2, 7, 21);
    check_values(3, 3, 5, 31);
}

typedef struct gc_ctx {
    fixture *f;
    int T;
} gc_ctx;

static gp_tensor *wp_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    gc_ctx *c = ctx;
    return gp_walkpool(t, c->f->g, in[0], c->f->pairs, c->T);
}

static void test_gradcheck(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, 4, 7);
    gp_tensor *s = NULL;
    random_logits(&s, &f, 2, 8);
    gc_ctx c = {&f, 4};
    double err = gc_check(wp_forward, &c, &s, 1);
    assert_true(err < 1e-2);
    gp_tensor_free(&s);
    gp_graph_free(&f.g);
}

/* The analytic gradient against central differences of the dense double reference (H = 1 and
 * 2 use the kernels specialised for them, H = 3 the generic ones). */
static void check_gradient(int64_t H, int T, int64_t links, uint64_t seed)
{
    fixture f;
    make_fixture(&f, links, seed);
    gp_tensor *s = NULL;
    random_logits(&s, &f, H, seed + 1);
    int64_t F = gp_walkpool_dim(T, H), L = f.links, N = gp_tensor_size(s);
    gp_rng rng;
    gp_rng_seed(&rng, 5);
    float *r = malloc((size_t)(L * F) * sizeof(float));
    for (int64_t i = 0; i < L * F; i++) r[i] = gp_rng_uniform(&rng) * 2 - 1;
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tensor *out = gp_walkpool(t, f.g, s, f.pairs, T);
    assert_non_null(out);
    assert_int_equal(gp_tape_backward_from(t, out, r), GP_OK);
    double *ls = malloc((size_t)N * sizeof(double)), *ref = malloc((size_t)(L * F) * sizeof(double));
    for (int64_t i = 0; i < N; i++) ls[i] = s->data[i];
    double worst = 0;
    for (int64_t i = 0; i < N; i++) {
        const double hstep = 1e-5;
        double lp = 0, lm = 0, saved = ls[i];
        ls[i] = saved + hstep;
        dense_all(ref, &f, ls, H, T);
        for (int64_t k = 0; k < L * F; k++) lp += ref[k] * r[k];
        ls[i] = saved - hstep;
        dense_all(ref, &f, ls, H, T);
        for (int64_t k = 0; k < L * F; k++) lm += ref[k] * r[k];
        ls[i] = saved;
        double num = (lp - lm) / (2 * hstep);
        double err = fabs(num - s->grad[i]) / fmax(1.0, fabs(num));
        if (err > worst) worst = err;
    }
    assert_true(worst < 1e-4);
    free(ls);
    free(ref);
    free(r);
    gp_tape_free(&t);
    gp_tensor_free(&s);
    gp_graph_free(&f.g);
}

static void test_gradient_matches_dense(void **state)
{
    (void)state;
    check_gradient(2, 6, 4, 99);
    check_gradient(1, 4, 3, 7);
    check_gradient(3, 3, 2, 55);
}

static void test_symmetric_in_pair(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, 5, 3);
    gp_tensor *s = NULL;
    random_logits(&s, &f, 2, 4);
    int64_t swapped[16];
    for (int64_t l = 0; l < f.links; l++) {
        swapped[2 * l] = f.pairs[2 * l + 1];
        swapped[2 * l + 1] = f.pairs[2 * l];
    }
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tensor *x = gp_walkpool(t, f.g, s, f.pairs, 7);
    gp_tensor *y = gp_walkpool(t, f.g, s, swapped, 7);
    assert_non_null(x);
    assert_non_null(y);
    for (int64_t i = 0; i < gp_tensor_size(x); i++)
        assert_true(fabs(x->data[i] - y->data[i]) <= 1e-6 * fmax(1.0, fabs(x->data[i])));
    gp_tape_free(&t);
    gp_tensor_free(&s);
    gp_graph_free(&f.g);
}

/* Row sums: P+ rows are stochastic, so node+ + link+ never exceeds 2 (mass stays within the
 * walk); a node isolated in G- gives node- = P-^tau[b,b] only. Checked through the dense
 * reference above; here the degenerate case of a two-node subgraph (a-b only) is exact:
 * P+ = [[0,1],[1,0]], P- = 0, so node+ = 2 for even tau, link+ = 2 for odd tau, graph = tr P+^tau. */
static void test_two_node_subgraph(void **state)
{
    (void)state;
    int64_t src[1] = {0}, dst[1] = {1};
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_edges(&g, 2, 1, src, dst, NULL, GP_EDGES_SYMMETRISE), GP_OK);
    gp_tensor *s = NULL;
    assert_int_equal(gp_param_new(&s, "s", 2, 1), GP_OK);
    s->data[0] = 0.3f;
    s->data[1] = -0.7f;
    int64_t pairs[2] = {1, 0};
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    const int T = 4;
    gp_tensor *x = gp_walkpool(t, g, s, pairs, T);
    assert_non_null(x);
    for (int i = 0; i < T; i++) {
        int tau = i + 2;
        float even = tau % 2 == 0 ? 2.0f : 0.0f;
        assert_float_equal(x->data[i], even, 1e-6);              /* graph */
        assert_float_equal(x->data[T + 1 + i], even, 1e-6);      /* node+ */
        assert_float_equal(x->data[2 * T + 1 + i], 0.0f, 1e-6);  /* node- */
        assert_float_equal(x->data[3 * T + 1 + i], 2.0f - even, 1e-6); /* link+ */
        assert_float_equal(x->data[4 * T + 1 + i], 0.0f, 1e-6);  /* link- */
    }
    float omega = (float)(1 / (1 + exp(-0.3)) + 1 / (1 + exp(0.7)));
    assert_float_equal(x->data[T], omega, 1e-6);
    gp_tape_free(&t);
    gp_tensor_free(&s);
    gp_graph_free(&g);
}

static void test_errors(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, 2, 5);
    gp_tensor *s = NULL;
    random_logits(&s, &f, 2, 6);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    int64_t bad[4] = {f.pairs[0], f.pairs[0], f.pairs[2], f.pairs[3]}; /* a == b */
    assert_null(gp_walkpool(t, f.g, s, bad, 3));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    assert_non_null(strstr(gp_last_error(), "link 0"));
    gp_tape_reset(t);
    int64_t outside[4] = {f.pairs[0], f.pairs[3], f.pairs[2], f.pairs[3]}; /* b in block 1 */
    assert_null(gp_walkpool(t, f.g, s, outside, 3));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    /* a non-edge pair: find two nodes of block 0 that are not linked */
    int64_t v0 = f.g->graph_ptr[0], v1 = f.g->graph_ptr[1], na = -1, nb = -1;
    for (int64_t u = v0; u < v1 && na < 0; u++)
        for (int64_t v = u + 1; v < v1 && na < 0; v++) {
            bool linked = false;
            for (int64_t k = f.g->adj.ptr[v]; k < f.g->adj.ptr[v + 1]; k++) linked |= f.g->adj.idx[k] == u;
            if (!linked) {
                na = u;
                nb = v;
            }
        }
    assert_true(na >= 0);
    int64_t nonedge[4] = {na, nb, f.pairs[2], f.pairs[3]};
    assert_null(gp_walkpool(t, f.g, s, nonedge, 3));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    assert_non_null(strstr(gp_last_error(), "G+"));
    gp_tape_reset(t);
    assert_null(gp_walkpool(t, f.g, s, f.pairs, 0));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    gp_tensor *wrong = gp_tape_tensor(t, 3, 2);
    assert_null(gp_walkpool(t, f.g, wrong, f.pairs, 3));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    assert_null(gp_walkpool(t, NULL, s, f.pairs, 3));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_free(&t);
    gp_tensor_free(&s);
    gp_graph_free(&f.g);
}

/* Same values and gradients with 1 and 3 threads and with the walk kernels' base build
 * (GP_SIMD=sse2) instead of the AVX2 one, bit for bit; recording off: same values. */
static void test_threads_bit_identical(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, 8, 41);
    gp_tensor *s = NULL;
    random_logits(&s, &f, 2, 42);
    int64_t F = gp_walkpool_dim(7, 2);
    float *vals[3], *grads[3];
    for (int run = 0; run < 3; run++) {
        gp_set_threads(run == 1 ? 3 : 1);
        if (run == 2) setenv("GP_SIMD", "sse2", 1);
        gp_tensor_zero_grad(s);
        gp_tape *t = NULL;
        assert_int_equal(gp_tape_new(&t), GP_OK);
        gp_tensor *out = gp_walkpool(t, f.g, s, f.pairs, 7);
        assert_non_null(out);
        assert_int_equal(gp_tape_backward(t, gp_sum_all(t, gp_mul(t, out, out))), GP_OK);
        vals[run] = malloc((size_t)(f.links * F) * sizeof(float));
        grads[run] = malloc((size_t)gp_tensor_size(s) * sizeof(float));
        memcpy(vals[run], out->data, (size_t)(f.links * F) * sizeof(float));
        memcpy(grads[run], s->grad, (size_t)gp_tensor_size(s) * sizeof(float));
        gp_tape_free(&t);
        unsetenv("GP_SIMD");
    }
    gp_set_threads(1);
    assert_memory_equal(vals[0], vals[1], (size_t)(f.links * F) * sizeof(float));
    assert_memory_equal(vals[0], vals[2], (size_t)(f.links * F) * sizeof(float));
    assert_memory_equal(grads[0], grads[2], (size_t)gp_tensor_size(s) * sizeof(float));
    /* inference (recording off) computes the same values */
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tape_set_recording(t, false);
    gp_tensor *plain = gp_walkpool(t, f.g, s, f.pairs, 7);
    assert_non_null(plain);
    assert_int_equal(gp_tape_size(t), 0);
    assert_memory_equal(plain->data, vals[0], (size_t)(f.links * F) * sizeof(float));
    gp_tape_free(&t);
    assert_memory_equal(grads[0], grads[1], (size_t)gp_tensor_size(s) * sizeof(float));
    for (int run = 0; run < 3; run++) {
        free(vals[run]);
        free(grads[run]);
    }
    gp_tensor_free(&s);
    gp_graph_free(&f.g);
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_match_dense),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_gradient_matches_dense),
        cmocka_unit_test(test_symmetric_in_pair),
        cmocka_unit_test(test_two_node_subgraph),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_threads_bit_identical),
    };
    int rc = cmocka_run_group_tests_name("walkpool", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
