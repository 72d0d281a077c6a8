/*
 * Dense elementwise ops, reductions, activations, powers and softmax: finite-difference
 * gradients, values against naive double-precision formulas, broadcasting in every shape
 * combination, error cases, the safe-at-zero rules of pow, softmax stability, and results
 * that do not depend on the thread count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gradcheck.h"

#define assert_close(got, want, tol)                                                         \
    do {                                                                                     \
        double got_ = (got), want_ = (want);                                                 \
        if (!(fabs(got_ - want_) <= (tol) * fmax(1.0, fabs(want_))))                         \
            fail_msg("%s = %.9g, expected %.9g (line %d)", #got, got_, want_, __LINE__);     \
    } while (0)

static gp_tensor *new_param(int64_t rows, int64_t cols, gp_rng *rng, float lo, float hi)
{
    gp_tensor *x = NULL;
    assert_int_equal(gp_param_new(&x, "x", rows, cols), GP_OK);
    gc_fill(x, rng, lo, hi);
    return x;
}

/* A parameter holding values (rows x cols of them; zeros when values is NULL). */
static gp_tensor *param_with(const char *name, int64_t rows, int64_t cols, const float *values)
{
    gp_tensor *x = NULL;
    assert_int_equal(gp_param_new(&x, name, rows, cols), GP_OK);
    if (values) memcpy(x->data, values, (size_t)(rows * cols) * sizeof(float));
    return x;
}

static gp_tape *new_tape(void)
{
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    return t;
}

/* |x| >= min_abs keeps finite differences off kinks (relu, abs) and poles. */
static void keep_away_from_zero(gp_tensor *x, float min_abs)
{
    for (int64_t i = 0; i < gp_tensor_size(x); i++) {
        float v = x->data[i];
        if (fabsf(v) < min_abs) x->data[i] = v < 0.0f ? v - min_abs : v + min_abs;
    }
}

/* Back-propagate with an explicit output gradient; asserts success. */
static void backward_with(gp_tape *t, gp_tensor *y, const float *g)
{
    assert_non_null(y);
    assert_int_equal(gp_tape_backward_from(t, y, g), GP_OK);
}

/* ================= binary ops with broadcasting ================= */

typedef gp_tensor *(*binary_fn)(gp_tape *, gp_tensor *, gp_tensor *);
typedef struct binary_case {
    const char *name;
    binary_fn op;
} binary_case;

static const binary_case binary_cases[] = {
    {"add", gp_add}, {"sub", gp_sub}, {"mul", gp_mul}, {"div", gp_div}};

static double binary_ref(int k, double x, double y)
{
    switch (k) {
    case 0: return x + y;
    case 1: return x - y;
    case 2: return x * y;
    default: return x / y;
    }
}

static gp_tensor *binary_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    const binary_case *c = ctx;
    return c->op(t, in[0], in[1]);
}

/* Operand for op k: divisors have magnitude in [1, 2] with mixed signs. */
static gp_tensor *binary_operand(int k, bool divisor, int64_t rows, int64_t cols, gp_rng *rng)
{
    if (!(k == 3 && divisor)) return new_param(rows, cols, rng, -1.0f, 1.0f);
    gp_tensor *x = new_param(rows, cols, rng, 1.0f, 2.0f);
    for (int64_t i = 0; i < gp_tensor_size(x); i += 2) x->data[i] = -x->data[i];
    return x;
}

static float bcast_at(const gp_tensor *x, int64_t i, int64_t j)
{
    return x->data[(x->rows == 1 ? 0 : i) * x->cols + (x->cols == 1 ? 0 : j)];
}

static void test_binary_broadcast_all_shapes(void **state)
{
    (void)state;
    enum { R = 3, C = 4 };
    const int64_t shapes[4][2] = {{R, C}, {1, C}, {R, 1}, {1, 1}};
    gp_rng rng;
    gp_rng_seed(&rng, 11);
    for (int k = 0; k < 4; k++)
        for (int sa = 0; sa < 4; sa++)
            for (int sb = 0; sb < 4; sb++) {
                gp_tensor *a = binary_operand(k, false, shapes[sa][0], shapes[sa][1], &rng);
                gp_tensor *b = binary_operand(k, true, shapes[sb][0], shapes[sb][1], &rng);
                gp_tensor *in[2] = {a, b};
                double err = gc_check(binary_forward, (void *)&binary_cases[k], in, 2);
                if (err > 1e-2)
                    fail_msg("%s %lldx%lld by %lldx%lld: gradient error %g", binary_cases[k].name,
                             (long long)a->rows, (long long)a->cols, (long long)b->rows,
                             (long long)b->cols, err);
                gp_tape *t = new_tape();
                gp_tensor *y = binary_cases[k].op(t, a, b);
                assert_non_null(y);
                int64_t rows = a->rows > b->rows ? a->rows : b->rows;
                int64_t cols = a->cols > b->cols ? a->cols : b->cols;
                assert_int_equal(y->rows, rows);
                assert_int_equal(y->cols, cols);
                for (int64_t i = 0; i < rows; i++)
                    for (int64_t j = 0; j < cols; j++)
                        assert_close(y->data[i * cols + j],
                                     binary_ref(k, bcast_at(a, i, j), bcast_at(b, i, j)), 1e-6);
                assert_int_equal(gp_tape_size(t), 1);
                assert_string_equal(gp_tape_node_name(t, 0), binary_cases[k].name);
                gp_tape_free(&t);
                gp_tensor_free(&a);
                gp_tensor_free(&b);
            }
}

/* Forward and backward of a broadcast op on big tensors (past the chunk size and the
 * parallel threshold): values and gradients against naive loops, then bit-identical results
 * with 4 threads. */
typedef struct binary_run {
    float *y, *ga, *gb;
} binary_run;

static binary_run run_binary(int k, gp_tensor *a, gp_tensor *b, const float *g)
{
    gp_tape *t = new_tape();
    gp_tensor_zero_grad(a);
    gp_tensor_zero_grad(b);
    gp_tensor *y = binary_cases[k].op(t, a, b);
    backward_with(t, y, g);
    binary_run r = {malloc((size_t)gp_tensor_size(y) * sizeof(float)),
                    malloc((size_t)gp_tensor_size(a) * sizeof(float)),
                    malloc((size_t)gp_tensor_size(b) * sizeof(float))};
    memcpy(r.y, y->data, (size_t)gp_tensor_size(y) * sizeof(float));
    memcpy(r.ga, a->grad, (size_t)gp_tensor_size(a) * sizeof(float));
    memcpy(r.gb, b->grad, (size_t)gp_tensor_size(b) * sizeof(float));
    gp_tape_free(&t);
    return r;
}

static void free_run(binary_run *r)
{
    free(r->y);
    free(r->ga);
    free(r->gb);
}

static void test_binary_large_and_threads(void **state)
{
    (void)state;
    enum { R = 300, C = 250 };
    /* same shape, bias row on the right, column on the left, scalar on the right */
    const int64_t shapes[4][2][2] = {{{R, C}, {R, C}}, {{R, C}, {1, C}}, {{R, 1}, {R, C}},
                                     {{R, C}, {1, 1}}};
    gp_rng rng;
    gp_rng_seed(&rng, 5);
    float *g = malloc((size_t)R * C * sizeof(float));
    for (int64_t i = 0; i < R * C; i++) g[i] = 2.0f * gp_rng_uniform(&rng) - 1.0f;
    double *ref_ga = malloc((size_t)R * C * sizeof(double));
    double *ref_gb = malloc((size_t)R * C * sizeof(double));
    for (int k = 0; k < 4; k++)
        for (int s = 0; s < 4; s++) {
            gp_tensor *a = binary_operand(k, false, shapes[s][0][0], shapes[s][0][1], &rng);
            gp_tensor *b = binary_operand(k, true, shapes[s][1][0], shapes[s][1][1], &rng);
            binary_run r1 = run_binary(k, a, b, g);
            memset(ref_ga, 0, (size_t)R * C * sizeof(double));
            memset(ref_gb, 0, (size_t)R * C * sizeof(double));
            for (int64_t i = 0; i < R; i++)
                for (int64_t j = 0; j < C; j++) {
                    double x = bcast_at(a, i, j), z = bcast_at(b, i, j), gij = g[i * C + j];
                    assert_close(r1.y[i * C + j], binary_ref(k, x, z), 1e-6);
                    double dx = k == 2 ? z : k == 3 ? 1.0 / z : 1.0;
                    double dz = k == 0 ? 1.0 : k == 1 ? -1.0 : k == 2 ? x : -x / (z * z);
                    ref_ga[(a->rows == 1 ? 0 : i) * a->cols + (a->cols == 1 ? 0 : j)] += gij * dx;
                    ref_gb[(b->rows == 1 ? 0 : i) * b->cols + (b->cols == 1 ? 0 : j)] += gij * dz;
                }
            for (int64_t i = 0; i < gp_tensor_size(a); i++) assert_close(r1.ga[i], ref_ga[i], 1e-4);
            for (int64_t i = 0; i < gp_tensor_size(b); i++) assert_close(r1.gb[i], ref_gb[i], 1e-4);
            gp_set_threads(4);
            binary_run r4 = run_binary(k, a, b, g);
            gp_set_threads(1);
            assert_memory_equal(r1.y, r4.y, (size_t)R * C * sizeof(float));
            assert_memory_equal(r1.ga, r4.ga, (size_t)gp_tensor_size(a) * sizeof(float));
            assert_memory_equal(r1.gb, r4.gb, (size_t)gp_tensor_size(b) * sizeof(float));
            free_run(&r1);
            free_run(&r4);
            gp_tensor_free(&a);
            gp_tensor_free(&b);
        }
    free(ref_ga);
    free(ref_gb);
    free(g);
}

/* The same tensor as both operands: both gradient contributions land in one buffer. */
static gp_tensor *binary_self_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    const binary_case *c = ctx;
    return c->op(t, in[0], in[0]);
}

static void test_binary_same_operand_twice(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 23);
    for (int k = 0; k < 4; k++) {
        gp_tensor *x = new_param(3, 4, &rng, 1.0f, 2.0f);
        assert_true(gc_check(binary_self_forward, (void *)&binary_cases[k], &x, 1) < 1e-2);
        gp_tensor_free(&x);
    }
}

static void test_binary_shape_errors(void **state)
{
    (void)state;
    const int64_t bad[][4] = {{3, 4, 2, 4}, {3, 4, 3, 2}, {2, 3, 3, 2}, {3, 1, 4, 1}, {1, 3, 1, 4}};
    for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++)
        for (int k = 0; k < 4; k++) {
            gp_tape *t = new_tape();
            gp_tensor *a = gp_tape_tensor(t, bad[c][0], bad[c][1]);
            gp_tensor *b = gp_tape_tensor(t, bad[c][2], bad[c][3]);
            assert_null(binary_cases[k].op(t, a, b));
            assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
            assert_non_null(strstr(gp_last_error(), "do not broadcast"));
            assert_non_null(strstr(gp_last_error(), binary_cases[k].name));
            /* sticky: later ops return NULL and keep the first error */
            assert_null(gp_relu(t, NULL));
            assert_null(binary_cases[k].op(t, a, a));
            assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
            gp_tape_free(&t);
        }
    gp_tape *t = new_tape();
    gp_tensor *a = gp_tape_tensor(t, 2, 2);
    assert_null(gp_add(NULL, a, a));
    assert_null(gp_mul(t, a, NULL));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    /* empty tensors broadcast like numpy: 0 x 3 with 1 x 3 gives 0 x 3 */
    gp_tensor *y = gp_add(t, gp_tape_tensor(t, 0, 3), gp_tape_tensor(t, 1, 3));
    assert_non_null(y);
    assert_int_equal(y->rows, 0);
    assert_int_equal(y->cols, 3);
    gp_tape_free(&t);
}

/* ================= unary ops: activations, scale, shift, constant powers ================= */

static gp_tensor *leaky_relu_02(gp_tape *t, gp_tensor *a) { return gp_leaky_relu(t, a, 0.2f); }
static gp_tensor *elu_15(gp_tape *t, gp_tensor *a) { return gp_elu(t, a, 1.5f); }
static gp_tensor *scale_m25(gp_tape *t, gp_tensor *a) { return gp_scale(t, a, -2.5f); }
static gp_tensor *add_scalar_07(gp_tape *t, gp_tensor *a) { return gp_add_scalar(t, a, 0.7f); }
static gp_tensor *pow_2(gp_tape *t, gp_tensor *a) { return gp_pow_scalar(t, a, 2.0f); }
static gp_tensor *pow_3(gp_tape *t, gp_tensor *a) { return gp_pow_scalar(t, a, 3.0f); }
static gp_tensor *pow_m2(gp_tape *t, gp_tensor *a) { return gp_pow_scalar(t, a, -2.0f); }
static gp_tensor *pow_05(gp_tape *t, gp_tensor *a) { return gp_pow_scalar(t, a, 0.5f); }
static gp_tensor *pow_17(gp_tape *t, gp_tensor *a) { return gp_pow_scalar(t, a, 1.7f); }

static double relu_ref(double x) { return x > 0 ? x : 0; }
static double leaky_ref(double x) { return x > 0 ? x : 0.2 * x; }
static double elu_ref(double x) { return x > 0 ? x : 1.5 * expm1(x); }
static double sigmoid_ref(double x) { return 1.0 / (1.0 + exp(-x)); }
static double softplus_ref(double x) { return log1p(exp(x)); }
static double scale_ref(double x) { return -2.5 * x; }
static double add_scalar_ref(double x) { return x + 0.7; }
static double pow2_ref(double x) { return x * x; }
static double pow3_ref(double x) { return x * x * x; }
static double pow_m2_ref(double x) { return 1.0 / (x * x); }
static double pow05_ref(double x) { return sqrt(x); }
static double pow17_ref(double x) { return pow(x, 1.7); }

typedef struct unary_case {
    const char *name;
    gp_tensor *(*op)(gp_tape *, gp_tensor *);
    double (*ref)(double);
    float lo, hi, min_abs; /* input range; |x| >= min_abs */
} unary_case;

static const unary_case unary_cases[] = {
    {"relu", gp_relu, relu_ref, -2, 2, 0.05f},
    {"leaky_relu", leaky_relu_02, leaky_ref, -2, 2, 0.05f},
    {"elu", elu_15, elu_ref, -3, 2, 0.05f},
    {"sigmoid", gp_sigmoid, sigmoid_ref, -4, 4, 0},
    {"tanh", gp_tanh, tanh, -3, 3, 0},
    {"exp", gp_exp, exp, -2, 2, 0},
    {"log", gp_log, log, 0.2f, 3, 0},
    {"softplus", gp_softplus, softplus_ref, -5, 5, 0},
    {"abs", gp_abs, fabs, -2, 2, 0.05f},
    {"scale", scale_m25, scale_ref, -2, 2, 0},
    {"add_scalar", add_scalar_07, add_scalar_ref, -2, 2, 0},
    {"pow_scalar", pow_2, pow2_ref, -2, 2, 0},
    {"pow_scalar", pow_3, pow3_ref, -2, 2, 0},
    {"pow_scalar", pow_m2, pow_m2_ref, -2, 2, 0.5f},
    {"pow_scalar", pow_05, pow05_ref, 0.3f, 2, 0},
    {"pow_scalar", pow_17, pow17_ref, 0.2f, 2, 0},
};

static gp_tensor *unary_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    const unary_case *c = ctx;
    return c->op(t, in[0]);
}

static void test_unary_gradients_and_values(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 3);
    for (size_t c = 0; c < sizeof unary_cases / sizeof unary_cases[0]; c++) {
        const unary_case *u = &unary_cases[c];
        gp_tensor *a = new_param(5, 7, &rng, u->lo, u->hi);
        keep_away_from_zero(a, u->min_abs);
        double err = gc_check(unary_forward, (void *)u, &a, 1);
        if (err > 1e-2) fail_msg("%s (case %zu): gradient error %g", u->name, c, err);
        gp_tape *t = new_tape();
        gp_tensor *y = u->op(t, a);
        assert_non_null(y);
        assert_int_equal(y->rows, 5);
        assert_int_equal(y->cols, 7);
        for (int64_t i = 0; i < 35; i++) assert_close(y->data[i], u->ref(a->data[i]), 1e-5);
        assert_string_equal(gp_tape_node_name(t, 0), u->name);
        gp_tape_free(&t);
        gp_tensor_free(&a);
    }
}

static void test_unary_large_and_threads(void **state)
{
    (void)state;
    enum { N = 70001 }; /* past the parallel threshold, not a multiple of the chunk */
    gp_rng rng;
    gp_rng_seed(&rng, 8);
    gp_tensor *a = new_param(1, N, &rng, 0.1f, 3.0f);
    float *g = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) g[i] = gp_rng_uniform(&rng) - 0.5f;
    float *y1 = malloc(N * sizeof(float)), *g1 = malloc(N * sizeof(float));
    for (size_t c = 0; c < sizeof unary_cases / sizeof unary_cases[0]; c++) {
        const unary_case *u = &unary_cases[c];
        for (int threads = 1; threads <= 4; threads += 3) {
            gp_set_threads(threads);
            gp_tape *t = new_tape();
            gp_tensor_zero_grad(a);
            gp_tensor *y = u->op(t, a);
            backward_with(t, y, g);
            if (threads == 1) {
                memcpy(y1, y->data, N * sizeof(float));
                memcpy(g1, a->grad, N * sizeof(float));
                for (int i = 0; i < N; i += 997) assert_close(y->data[i], u->ref(a->data[i]), 1e-5);
            } else {
                assert_memory_equal(y1, y->data, N * sizeof(float));
                assert_memory_equal(g1, a->grad, N * sizeof(float));
            }
            gp_tape_free(&t);
        }
    }
    gp_set_threads(1);
    free(y1);
    free(g1);
    free(g);
    gp_tensor_free(&a);
}

static void test_activation_edge_cases(void **state)
{
    (void)state;
    gp_tape *t = new_tape();
    const float big[5] = {-100, -20, 0, 20, 100};
    gp_tensor *x = param_with("x", 1, 5, big);
    const float ones[5] = {1, 1, 1, 1, 1};
    /* softplus and sigmoid stay finite and accurate for large |x| */
    gp_tensor *sp = gp_softplus(t, x), *sg = gp_sigmoid(t, x);
    assert_non_null(sp);
    assert_non_null(sg);
    for (int i = 0; i < 5; i++) {
        assert_true(isfinite(sp->data[i]) && isfinite(sg->data[i]));
        assert_close(sp->data[i], softplus_ref(big[i]), 1e-6);
        assert_close(sg->data[i], sigmoid_ref(big[i]), 1e-6);
    }
    backward_with(t, sp, ones);
    for (int i = 0; i < 5; i++) assert_close(x->grad[i], sigmoid_ref(big[i]), 1e-6);
    /* relu and abs have subgradient 0 at exactly 0 */
    gp_tape_reset(t);
    const float at_zero[5] = {-1, 0, 0, 0, 2};
    memcpy(x->data, at_zero, sizeof at_zero);
    gp_tensor_zero_grad(x);
    backward_with(t, gp_relu(t, x), ones);
    const float relu_grad[5] = {0, 0, 0, 0, 1};
    assert_memory_equal(x->grad, relu_grad, sizeof relu_grad);
    gp_tape_reset(t); /* a second backward on the same tape would revisit the relu node */
    gp_tensor_zero_grad(x);
    backward_with(t, gp_abs(t, x), ones);
    const float abs_grad[5] = {-1, 0, 0, 0, 1};
    assert_memory_equal(x->grad, abs_grad, sizeof abs_grad);
    /* log of a non-positive entry is a numeric error that names the entry */
    gp_tape_reset(t);
    assert_null(gp_log(t, x));
    assert_int_equal(gp_tape_status(t), GP_E_NUMERIC);
    assert_non_null(strstr(gp_last_error(), "row 0, col 0"));
    assert_non_null(strstr(gp_last_error(), "not positive"));
    gp_tape_reset(t);
    x->data[0] = 1.0f;
    assert_null(gp_log(t, x)); /* first offender is now the 0 at col 1 */
    assert_non_null(strstr(gp_last_error(), "col 1"));
    gp_tape_reset(t);
    x->data[1] = NAN;
    assert_null(gp_log(t, x));
    assert_int_equal(gp_tape_status(t), GP_E_NUMERIC);
    /* constants only: values computed, nothing recorded */
    gp_tape_reset(t);
    assert_non_null(gp_tanh(t, gp_tape_constant(t, big, 1, 5)));
    assert_int_equal(gp_tape_size(t), 0);
    gp_tensor_free(&x);
    gp_tape_free(&t);
}

/* ================= reductions ================= */

typedef gp_tensor *(*reduce_fn)(gp_tape *, gp_tensor *);
typedef struct reduce_case {
    const char *name;
    reduce_fn op;
    int axis; /* 0: all, 1: each row (rows x 1), 2: each column (1 x cols) */
    bool mean;
} reduce_case;

static const reduce_case reduce_cases[] = {
    {"sum_all", gp_sum_all, 0, false},   {"mean_all", gp_mean_all, 0, true},
    {"sum_rows", gp_sum_rows, 1, false}, {"mean_rows", gp_mean_rows, 1, true},
    {"sum_cols", gp_sum_cols, 2, false}, {"mean_cols", gp_mean_cols, 2, true},
};

static gp_tensor *reduce_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    const reduce_case *c = ctx;
    return c->op(t, in[0]);
}

/* Naive reduction of a in double into out (sized for the result). */
static void reduce_ref(const reduce_case *c, const gp_tensor *a, double *out)
{
    int64_t r = a->rows, k = a->cols;
    int64_t n_out = c->axis == 0 ? 1 : c->axis == 1 ? r : k;
    for (int64_t i = 0; i < n_out; i++) out[i] = 0.0;
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < k; j++)
            out[c->axis == 0 ? 0 : c->axis == 1 ? i : j] += a->data[i * k + j];
    double count = c->axis == 0 ? (double)(r * k) : c->axis == 1 ? (double)k : (double)r;
    if (c->mean)
        for (int64_t i = 0; i < n_out; i++) out[i] /= count;
}

static void test_reductions(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 21);
    double ref[300];
    for (size_t c = 0; c < sizeof reduce_cases / sizeof reduce_cases[0]; c++) {
        const reduce_case *rc = &reduce_cases[c];
        gp_tensor *a = new_param(4, 5, &rng, -2, 2);
        assert_true(gc_check(reduce_forward, (void *)rc, &a, 1) < 1e-3);
        gp_tensor_free(&a);
        /* values: small, and large with 4 threads bit-identical to 1 */
        const int64_t sizes[2][2] = {{4, 5}, {300, 250}};
        for (int s = 0; s < 2; s++) {
            a = new_param(sizes[s][0], sizes[s][1], &rng, -2, 2);
            gp_tape *t = new_tape();
            gp_tensor *y = rc->op(t, a);
            assert_non_null(y);
            assert_int_equal(y->rows, rc->axis == 2 ? 1 : rc->axis == 1 ? a->rows : 1);
            assert_int_equal(y->cols, rc->axis == 1 ? 1 : rc->axis == 2 ? a->cols : 1);
            assert_string_equal(gp_tape_node_name(t, 0), rc->name);
            reduce_ref(rc, a, ref);
            for (int64_t i = 0; i < gp_tensor_size(y); i++) assert_close(y->data[i], ref[i], 1e-6);
            gp_set_threads(4);
            gp_tape *t4 = new_tape();
            gp_tensor *y4 = rc->op(t4, a);
            gp_set_threads(1);
            assert_memory_equal(y->data, y4->data, (size_t)gp_tensor_size(y) * sizeof(float));
            gp_tape_free(&t4);
            gp_tape_free(&t);
            gp_tensor_free(&a);
        }
    }
}

static void test_reductions_accumulate_in_double(void **state)
{
    (void)state;
    /* 1e8, a thousand ones, -1e8: a float accumulator loses every one */
    enum { N = 1002 };
    float *v = malloc(N * sizeof(float));
    v[0] = 1e8f;
    for (int i = 1; i < N - 1; i++) v[i] = 1.0f;
    v[N - 1] = -1e8f;
    gp_tape *t = new_tape();
    gp_tensor *row = gp_tape_constant(t, v, 1, N), *col = gp_tape_constant(t, v, N, 1);
    assert_true(gp_sum_all(t, row)->data[0] == 1000.0f);
    assert_true(gp_sum_rows(t, row)->data[0] == 1000.0f);
    assert_true(gp_sum_cols(t, col)->data[0] == 1000.0f);
    assert_true(gp_mean_all(t, col)->data[0] == (float)(1000.0 / N));
    /* means over zero entries are errors, empty outputs are not */
    gp_tensor *empty_rows = gp_tape_tensor(t, 0, 3), *empty_cols = gp_tape_tensor(t, 3, 0);
    assert_true(gp_sum_all(t, empty_rows)->data[0] == 0.0f);
    assert_int_equal(gp_mean_rows(t, empty_rows)->rows, 0);
    assert_int_equal(gp_mean_cols(t, empty_cols)->cols, 0);
    assert_null(gp_mean_all(t, empty_rows));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    assert_non_null(strstr(gp_last_error(), "mean over zero entries"));
    gp_tape_reset(t);
    assert_null(gp_mean_rows(t, gp_tape_tensor(t, 3, 0)));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    assert_null(gp_mean_cols(t, gp_tape_tensor(t, 0, 3)));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_free(&t);
    free(v);
}

/* ================= pow with a tensor exponent ================= */

static gp_tensor *pow_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    (void)ctx;
    return gp_pow(t, in[0], in[1]);
}

static void test_pow_gradients_and_values(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 17);
    for (int per_col = 0; per_col < 2; per_col++) {
        gp_tensor *a = new_param(4, 3, &rng, 0.5f, 2.0f);
        gp_tensor *p = new_param(1, per_col ? 3 : 1, &rng, -1.5f, 2.5f);
        gp_tensor *in[2] = {a, p};
        double err = gc_check(pow_forward, NULL, in, 2);
        if (err > 1e-2) fail_msg("pow (per_col %d): gradient error %g", per_col, err);
        gp_tape *t = new_tape();
        gp_tensor *y = gp_pow(t, a, p);
        assert_non_null(y);
        for (int64_t i = 0; i < 4; i++)
            for (int64_t j = 0; j < 3; j++)
                assert_close(y->data[i * 3 + j],
                             pow(a->data[i * 3 + j], p->data[per_col ? j : 0]), 1e-5);
        assert_string_equal(gp_tape_node_name(t, 0), "pow");
        gp_tape_free(&t);
        gp_tensor_free(&a);
        gp_tensor_free(&p);
    }
}

static void test_pow_safe_at_zero(void **state)
{
    (void)state;
    gp_tape *t = new_tape();
    const float exps[5] = {0.25f, 0.5f, 1.0f, 2.0f, 3.0f};
    gp_tensor *a = param_with("a", 2, 5, NULL); /* all zero */
    gp_tensor *p = param_with("p", 1, 5, exps);
    const float ones[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    gp_tensor *y = gp_pow(t, a, p);
    backward_with(t, y, ones);
    for (int i = 0; i < 10; i++) {
        assert_true(y->data[i] == 0.0f);                              /* 0^p = 0 for p > 0 */
        assert_true(a->grad[i] == (exps[i % 5] == 1.0f ? 1.0f : 0.0f)); /* 0, not inf, for p < 1 */
    }
    for (int j = 0; j < 5; j++) assert_true(p->grad[j] == 0.0f); /* a^p log a = 0 at a = 0 */
    /* mixed zeros and positives with a 1 x 1 exponent 0.5 */
    const float bv[4] = {0.0f, 0.25f, 0.0f, 4.0f};
    gp_tensor *b = param_with("b", 1, 4, bv), *h = param_with("h", 1, 1, (const float[]){0.5f});
    gp_tape_reset(t);
    y = gp_pow(t, b, h);
    backward_with(t, y, ones);
    const float want_y[4] = {0.0f, 0.5f, 0.0f, 2.0f}, want_gb[4] = {0.0f, 1.0f, 0.0f, 0.25f};
    for (int i = 0; i < 4; i++) {
        assert_close(y->data[i], want_y[i], 1e-6);
        assert_close(b->grad[i], want_gb[i], 1e-6);
    }
    assert_close(h->grad[0], 0.5 * log(0.25) + 2.0 * log(4.0), 1e-6);
    /* constant exponent: the same rule */
    const float scalar_exps[4] = {0.3f, 0.5f, 1.0f, 3.0f};
    for (int e = 0; e < 4; e++) {
        gp_tape_reset(t);
        gp_tensor_zero_grad(a);
        y = gp_pow_scalar(t, a, scalar_exps[e]);
        backward_with(t, y, ones);
        for (int i = 0; i < 10; i++) {
            assert_true(y->data[i] == 0.0f);
            assert_true(a->grad[i] == (scalar_exps[e] == 1.0f ? 1.0f : 0.0f));
        }
    }
    gp_tensor_free(&a);
    gp_tensor_free(&p);
    gp_tensor_free(&b);
    gp_tensor_free(&h);
    gp_tape_free(&t);
}

static void test_pow_errors_and_negative_bases(void **state)
{
    (void)state;
    gp_tape *t = new_tape();
    const float av[4] = {1.0f, -2.0f, 0.5f, 3.0f};
    gp_tensor *a = gp_tape_constant(t, av, 2, 2);
    gp_tensor *p = gp_tape_tensor(t, 1, 1);
    assert_null(gp_pow(t, a, p)); /* negative base */
    assert_int_equal(gp_tape_status(t), GP_E_NUMERIC);
    assert_non_null(strstr(gp_last_error(), "row 0, col 1"));
    gp_tape_reset(t);
    a = gp_tape_constant(t, av, 2, 2);
    assert_null(gp_pow_scalar(t, a, 0.5f)); /* non-integer exponent, negative base */
    assert_int_equal(gp_tape_status(t), GP_E_NUMERIC);
    /* integer exponents accept negative bases, value and gradient */
    gp_tape_reset(t);
    gp_tensor *x = param_with("x", 2, 2, av);
    const float ones[4] = {1, 1, 1, 1};
    const float exps[3] = {3.0f, -1.0f, 2.0f};
    for (int e = 0; e < 3; e++) {
        gp_tape_reset(t);
        gp_tensor_zero_grad(x);
        gp_tensor *y = gp_pow_scalar(t, x, exps[e]);
        backward_with(t, y, ones);
        assert_close(y->data[1], pow(-2.0, exps[e]), 1e-6);
        assert_close(x->grad[1], exps[e] * pow(-2.0, exps[e] - 1.0), 1e-6);
    }
    /* exponent shapes: 1 x 1 or 1 x cols only */
    const int64_t bad_p[3][2] = {{2, 1}, {1, 3}, {2, 2}};
    for (int s = 0; s < 3; s++) {
        gp_tape_reset(t);
        gp_tensor *pos = gp_tape_tensor(t, 2, 2);
        assert_null(gp_pow(t, pos, gp_tape_tensor(t, bad_p[s][0], bad_p[s][1])));
        assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
        assert_non_null(strstr(gp_last_error(), "exponent"));
    }
    gp_tensor_free(&x);
    gp_tape_free(&t);
}

/* ================= softmax ================= */

static gp_tensor *softmax_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    return *(const bool *)ctx ? gp_log_softmax(t, in[0]) : gp_softmax(t, in[0]);
}

/* Naive softmax of one row in double, without max subtraction (inputs must be moderate). */
static void softmax_ref(const float *x, int64_t n, double *out)
{
    double s = 0.0;
    for (int64_t j = 0; j < n; j++) s += exp(x[j]);
    for (int64_t j = 0; j < n; j++) out[j] = exp(x[j]) / s;
}

static void test_softmax_gradients_and_values(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 99);
    double ref[6];
    for (int log_space = 0; log_space < 2; log_space++) {
        bool ls = log_space;
        gp_tensor *a = new_param(4, 6, &rng, -3, 3);
        assert_true(gc_check(softmax_forward, &ls, &a, 1) < 1e-2);
        gp_tape *t = new_tape();
        gp_tensor *y = softmax_forward(t, &a, &ls);
        assert_non_null(y);
        for (int64_t i = 0; i < 4; i++) {
            softmax_ref(a->data + i * 6, 6, ref);
            double row_sum = 0.0;
            for (int64_t j = 0; j < 6; j++) {
                float v = y->data[i * 6 + j];
                assert_close(v, ls ? log(ref[j]) : ref[j], 1e-6);
                row_sum += ls ? exp(v) : v;
            }
            assert_close(row_sum, 1.0, 1e-6);
        }
        assert_string_equal(gp_tape_node_name(t, 0), ls ? "log_softmax" : "softmax");
        gp_tape_free(&t);
        gp_tensor_free(&a);
    }
}

static void test_softmax_large_inputs(void **state)
{
    (void)state;
    /* rows far beyond exp's range; each equals the softmax of the row minus its maximum */
    const float x[3][4] = {
        {1000, 999, 998, 1000}, {-1000, 0, 1000, 500}, {-1000, -1001, -1003, -1000}};
    gp_tensor *a = param_with("a", 3, 4, &x[0][0]);
    float g[12];
    for (int i = 0; i < 12; i++) g[i] = (float)(i % 5) - 2.0f;
    gp_tape *t = new_tape();
    for (int log_space = 0; log_space < 2; log_space++) {
        gp_tape_reset(t);
        gp_tensor_zero_grad(a);
        bool ls = log_space;
        gp_tensor *y = softmax_forward(t, &a, &ls);
        backward_with(t, y, g);
        for (int i = 0; i < 3; i++) {
            float m = x[i][0];
            for (int j = 1; j < 4; j++) m = fmaxf(m, x[i][j]);
            float shifted[4];
            for (int j = 0; j < 4; j++) shifted[j] = x[i][j] - m;
            double ref[4], lse = 0.0;
            softmax_ref(shifted, 4, ref);
            for (int j = 0; j < 4; j++) lse += exp(shifted[j]);
            lse = log(lse);
            double grad_sum = 0.0;
            for (int j = 0; j < 4; j++) {
                float v = y->data[i * 4 + j];
                assert_true(isfinite(v) && isfinite(a->grad[i * 4 + j]));
                if (ls) assert_close(v, shifted[j] - lse, 1e-6);
                else assert_close(v, ref[j], 1e-6);
                grad_sum += a->grad[i * 4 + j];
            }
            if (!ls) assert_close(grad_sum, 0.0, 1e-5); /* softmax gradients sum to 0 per row */
        }
    }
    gp_tape_free(&t);
    gp_tensor_free(&a);
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_broadcast_all_shapes),
        cmocka_unit_test(test_binary_large_and_threads),
        cmocka_unit_test(test_binary_same_operand_twice),
        cmocka_unit_test(test_binary_shape_errors),
        cmocka_unit_test(test_unary_gradients_and_values),
        cmocka_unit_test(test_unary_large_and_threads),
        cmocka_unit_test(test_activation_edge_cases),
        cmocka_unit_test(test_reductions),
        cmocka_unit_test(test_reductions_accumulate_in_double),
        cmocka_unit_test(test_pow_gradients_and_values),
        cmocka_unit_test(test_pow_safe_at_zero),
        cmocka_unit_test(test_pow_errors_and_negative_bases),
        cmocka_unit_test(test_softmax_gradients_and_values),
        cmocka_unit_test(test_softmax_large_inputs),
    };
    int rc = cmocka_run_group_tests_name("ops_dense", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
