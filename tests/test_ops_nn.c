/* NN ops: dropout, layer/batch norm, shape ops and losses (gradients, values, errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gradcheck.h"

/* ================= dropout ================= */

typedef struct {
    float p;
} dropout_ctx;

static gp_tensor *dropout_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    gp_rng rng;
    gp_rng_seed(&rng, 99); /* reseeded: the same mask on every evaluation */
    return gp_dropout(t, in[0], ((dropout_ctx *)ctx)->p, &rng);
}

static void test_dropout_gradient(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 1);
    gp_tensor *a = gc_param(&rng, "a", 6, 7, -1, 1);
    dropout_ctx c = {0.4f};
    assert_true(gc_check(dropout_forward, &c, &a, 1) < 1e-2);
    /* exact backward: dA = mask / (1 - p) for an all-ones output gradient */
    gp_tape *t = gc_tape();
    gp_tensor *y = dropout_forward(t, &a, &c);
    assert_non_null(y);
    float ones[42];
    for (int i = 0; i < 42; i++) ones[i] = 1.0f;
    gp_tensor_zero_grad(a);
    assert_int_equal(gp_tape_backward_from(t, y, ones), GP_OK);
    int dropped = 0;
    for (int i = 0; i < 42; i++) {
        if (y->data[i] == 0.0f) {
            dropped++;
            assert_true(a->grad[i] == 0.0f);
        } else {
            assert_float_equal(a->grad[i], 1.0f / 0.6f, 1e-6);
        }
    }
    assert_true(dropped > 0 && dropped < 42);
    assert_string_equal(gp_tape_node_name(t, 0), "dropout");
    gp_tape_free(&t);
    gp_tensor_free(&a);
}

/* Naive reference of the dropout mask (ops_dropout.c): one draw from rng seeds the mask; block b
 * of 8192 elements runs four xoshiro256** generators whose 16 state words are splitmix64
 * outputs 16 b .. 16 b + 15; step k's output of generator l decides elements 8 k + 2 l (low 32
 * bits) and 8 k + 2 l + 1 (high 32 bits) of the block: kept when >= ceil(p 2^32). */
static uint64_t ref_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool ref_keep(uint64_t seed, int64_t i, float p)
{
    int64_t block = i / 8192, j = i % 8192, step = j / 8, lane = (j % 8) / 2;
    uint64_t x = seed + (uint64_t)block * 16u * 0x9e3779b97f4a7c15ull, s[4] = {0, 0, 0, 0};
    for (int l = 0; l <= lane; l++)
        for (int w = 0; w < 4; w++) s[w] = ref_splitmix(&x);
    uint64_t u = 0;
    for (int64_t k = 0; k <= step; k++) {
        uint64_t r = s[1] * 5;
        u = ((r << 7) | (r >> 57)) * 9;
        uint64_t t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = (s[3] << 45) | (s[3] >> 19);
    }
    uint64_t half = j % 2 ? u >> 32 : u & 0xffffffffu;
    return half >= (uint64_t)ceil((double)p * 4294967296.0);
}

static void test_dropout_statistics(void **state)
{
    (void)state;
    const int64_t rows = 200, cols = 500, n = rows * cols;
    const float p = 0.3f;
    gp_tape *t = gc_tape();
    gp_tensor *x = gp_tape_tensor(t, rows, cols);
    assert_non_null(x);
    for (int64_t i = 0; i < n; i++) x->data[i] = 1.0f + (float)(i % 7);
    gp_rng rng, again, ref;
    gp_rng_seed(&rng, 5);
    gp_rng_seed(&again, 5);
    gp_rng_seed(&ref, 5);
    gp_tensor *y = gp_dropout(t, x, p, &rng);
    gp_tensor *y2 = gp_dropout(t, x, p, &again);
    assert_non_null(y);
    assert_non_null(y2);
    uint64_t seed = gp_rng_u64(&ref); /* the op takes one draw */
    assert_memory_equal(rng.s, ref.s, sizeof rng.s);
    int64_t dropped = 0;
    float scale = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; i++) { /* n = 100 000: 13 blocks, the last one partial */
        bool keep = ref_keep(seed, i, p);
        assert_true(y->data[i] == y2->data[i]); /* same seed, same mask */
        if (keep) {
            assert_true(y->data[i] == x->data[i] * scale);
        } else {
            assert_true(y->data[i] == 0.0f);
            dropped++;
        }
    }
    /* the dropped fraction has std sqrt(p(1-p)/n) ~ 0.0015: 0.01 is ~7 sigma */
    assert_true(fabs((double)dropped / (double)n - p) < 0.01);
    /* the mean is preserved in expectation */
    double mean_x = 0, mean_y = 0;
    for (int64_t i = 0; i < n; i++) {
        mean_x += x->data[i];
        mean_y += y->data[i];
    }
    assert_true(fabs(mean_y / mean_x - 1.0) < 0.02);
    /* a different seed gives a different mask */
    gp_rng_seed(&rng, 6);
    gp_tensor *y3 = gp_dropout(t, x, p, &rng);
    int64_t differ = 0;
    for (int64_t i = 0; i < n; i++) differ += (y3->data[i] == 0.0f) != (y->data[i] == 0.0f);
    assert_true(differ > n / 10);
    gp_tape_free(&t);
}

static void test_dropout_identity_and_errors(void **state)
{
    (void)state;
    gp_rng rng, before;
    gp_rng_seed(&rng, 3);
    gp_tensor *w = gc_param(&rng, "w", 3, 4, -1, 1);
    before = rng;
    gp_tape *t = gc_tape();
    /* eval mode: the input itself, no rng draw, no node */
    gp_tape_set_training(t, false);
    assert_ptr_equal(gp_dropout(t, w, 0.5f, &rng), w);
    assert_ptr_equal(gp_dropout(t, w, 0.5f, NULL), w); /* no rng needed */
    assert_true(memcmp(&rng, &before, sizeof rng) == 0);
    assert_int_equal(gp_tape_size(t), 0);
    /* p == 0 in training: identity too; gradient flows straight through */
    gp_tape_set_training(t, true);
    gp_tensor *y = gp_dropout(t, w, 0.0f, &rng);
    assert_ptr_equal(y, w);
    assert_true(memcmp(&rng, &before, sizeof rng) == 0);
    /* invalid probabilities, in either mode */
    const float bad[] = {1.0f, -0.1f, 1.5f, NAN};
    for (int k = 0; k < 4; k++)
        for (int mode = 0; mode < 2; mode++) {
            gp_tape_reset(t);
            gp_tape_set_training(t, mode);
            assert_null(gp_dropout(t, w, bad[k], &rng));
            assert_int_equal(gp_tape_status(t), GP_E_INVALID);
            assert_non_null(strstr(gp_last_error(), "not in [0, 1)"));
        }
    gp_tape_reset(t);
    gp_tape_set_training(t, true);
    assert_null(gp_dropout(t, w, 0.5f, NULL));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    assert_null(gp_dropout(t, NULL, 0.5f, &rng));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    assert_null(gp_dropout(NULL, w, 0.5f, &rng));
    gp_tape_free(&t);
    gp_tensor_free(&w);
}

/* ================= layer norm ================= */

typedef struct {
    bool affine;
    float eps;
} norm_ctx;

static gp_tensor *layer_norm_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    norm_ctx *c = ctx;
    return gp_layer_norm(t, in[0], c->affine ? in[1] : NULL, c->affine ? in[2] : NULL, c->eps);
}

/* Naive per-row layer norm in double. */
static void layer_norm_ref(double *out, const gp_tensor *a, const float *g, const float *b, double eps)
{
    for (int64_t i = 0; i < a->rows; i++) {
        double mu = 0, var = 0;
        for (int64_t j = 0; j < a->cols; j++) mu += gp_tensor_at(a, i, j);
        mu /= (double)a->cols;
        for (int64_t j = 0; j < a->cols; j++) var += pow(gp_tensor_at(a, i, j) - mu, 2);
        var /= (double)a->cols;
        for (int64_t j = 0; j < a->cols; j++)
            out[i * a->cols + j] =
                (gp_tensor_at(a, i, j) - mu) / sqrt(var + eps) * (g ? g[j] : 1.0) + (b ? b[j] : 0.0);
    }
}

static void test_layer_norm(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 11);
    gp_tensor *a = gc_param(&rng, "a", 5, 6, -2, 2);
    gp_tensor *g = gc_param(&rng, "gamma", 1, 6, 0.5f, 1.5f);
    gp_tensor *b = gc_param(&rng, "beta", 1, 6, -1, 1);
    gp_tensor *in[3] = {a, g, b};
    for (int affine = 0; affine < 2; affine++) {
        norm_ctx c = {affine, 1e-5f};
        assert_true(gc_check(layer_norm_forward, &c, in, affine ? 3 : 1) < 1e-2);
        gp_tape *t = gc_tape();
        gp_tensor *y = layer_norm_forward(t, in, &c);
        assert_non_null(y);
        double ref[30];
        layer_norm_ref(ref, a, affine ? g->data : NULL, affine ? b->data : NULL, 1e-5);
        for (int i = 0; i < 30; i++) assert_true(fabs(y->data[i] - ref[i]) < 1e-5);
        gp_tape_free(&t);
    }
    /* a constant row normalises to beta (0 / sqrt(eps)) */
    gp_tape *t = gc_tape();
    float constant[3] = {2, 2, 2};
    gp_tensor *y = gp_layer_norm(t, gp_tape_constant(t, constant, 1, 3), NULL, NULL, 1e-5f);
    assert_non_null(y);
    for (int j = 0; j < 3; j++) assert_true(y->data[j] == 0.0f);
    /* errors */
    gp_tensor *wrong = gp_tape_tensor(t, 1, 5);
    assert_null(gp_layer_norm(t, a, wrong, NULL, 1e-5f));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    assert_non_null(strstr(gp_last_error(), "gamma is 1 x 5, expected 1 x 6"));
    gp_tape_reset(t);
    assert_null(gp_layer_norm(t, a, NULL, gp_tape_tensor(t, 6, 1), 1e-5f));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    assert_null(gp_layer_norm(t, a, NULL, NULL, -1.0f));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_free(&t);
    gp_tensor_free(&a);
    gp_tensor_free(&g);
    gp_tensor_free(&b);
}

/* ================= batch norm ================= */

typedef struct {
    bool affine, training;
    gp_tensor *rm, *rv;
} bn_ctx;

static gp_tensor *batch_norm_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    bn_ctx *c = ctx;
    gp_tape_set_training(t, c->training);
    return gp_batch_norm(t, in[0], c->affine ? in[1] : NULL, c->affine ? in[2] : NULL, c->rm,
                         c->rv, 0.1f, 1e-5f);
}

static void test_batch_norm_gradients(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 21);
    gp_tensor *a = gc_param(&rng, "a", 6, 4, -2, 2);
    gp_tensor *g = gc_param(&rng, "gamma", 1, 4, 0.5f, 1.5f);
    gp_tensor *b = gc_param(&rng, "beta", 1, 4, -1, 1);
    gp_tensor *rm = NULL, *rv = NULL;
    gp_tensor_new(&rm, 1, 4);
    gp_tensor_new(&rv, 1, 4);
    gc_fill(rm, &rng, -0.5f, 0.5f);
    gc_fill(rv, &rng, 0.5f, 2.0f);
    gp_tensor *in[3] = {a, g, b};
    for (int training = 0; training < 2; training++)
        for (int affine = 0; affine < 2; affine++) {
            float saved_rm[4], saved_rv[4];
            memcpy(saved_rm, rm->data, sizeof saved_rm);
            memcpy(saved_rv, rv->data, sizeof saved_rv);
            bn_ctx c = {affine, training, rm, rv};
            /* training with no running statistics is allowed (nothing tracked) */
            bn_ctx untracked = {affine, training, NULL, NULL};
            assert_true(gc_check(batch_norm_forward, &c, in, affine ? 3 : 1) < 1e-2);
            if (training) assert_true(gc_check(batch_norm_forward, &untracked, in, affine ? 3 : 1) < 1e-2);
            memcpy(rm->data, saved_rm, sizeof saved_rm); /* undo the gradcheck's updates */
            memcpy(rv->data, saved_rv, sizeof saved_rv);
            /* values against a naive per-column formula */
            gp_tape *t = gc_tape();
            gp_tensor *y = batch_norm_forward(t, in, &c);
            assert_non_null(y);
            for (int64_t j = 0; j < 4; j++) {
                double mu = 0, var = 0;
                for (int64_t i = 0; i < 6; i++) mu += gp_tensor_at(a, i, j);
                mu /= 6;
                for (int64_t i = 0; i < 6; i++) var += pow(gp_tensor_at(a, i, j) - mu, 2);
                var /= 6;
                if (!training) {
                    mu = saved_rm[j];
                    var = saved_rv[j];
                }
                for (int64_t i = 0; i < 6; i++) {
                    double ref = (gp_tensor_at(a, i, j) - mu) / sqrt(var + 1e-5);
                    if (affine) ref = ref * g->data[j] + b->data[j];
                    assert_true(fabs(gp_tensor_at(y, i, j) - ref) < 1e-5);
                }
            }
            /* eval mode leaves the running statistics alone */
            if (!training) assert_true(memcmp(rm->data, saved_rm, sizeof saved_rm) == 0);
            memcpy(rm->data, saved_rm, sizeof saved_rm);
            memcpy(rv->data, saved_rv, sizeof saved_rv);
            gp_tape_free(&t);
        }
    gp_tensor_free(&a);
    gp_tensor_free(&g);
    gp_tensor_free(&b);
    gp_tensor_free(&rm);
    gp_tensor_free(&rv);
}

static void test_batch_norm_running_stats_and_errors(void **state)
{
    (void)state;
    gp_tensor *rm = NULL, *rv = NULL;
    gp_tensor_new(&rm, 1, 2);
    gp_tensor_new(&rv, 1, 2);
    gp_tensor_fill(rv, 1.0f);
    gp_tape *t = gc_tape();
    float data[8] = {1, 2, 2, 4, 3, 6, 4, 8}; /* columns {1,2,3,4} and {2,4,6,8} */
    gp_tensor *x = gp_tape_constant(t, data, 4, 2);
    gp_tensor *y = gp_batch_norm(t, x, NULL, NULL, rm, rv, 0.1f, 0.0f);
    assert_non_null(y);
    /* batch means 2.5, 5; unbiased variances 5/3, 20/3 */
    assert_float_equal(rm->data[0], 0.25f, 1e-6);
    assert_float_equal(rm->data[1], 0.5f, 1e-6);
    assert_float_equal(rv->data[0], 0.9f + 0.1f * 5.0f / 3.0f, 1e-6);
    assert_float_equal(rv->data[1], 0.9f + 0.1f * 20.0f / 3.0f, 1e-6);
    /* normalised with the biased variances 1.25 and 5: both columns give the same values */
    const float z[4] = {-1.5f / sqrtf(1.25f), -0.5f / sqrtf(1.25f), 0.5f / sqrtf(1.25f),
                        1.5f / sqrtf(1.25f)};
    for (int i = 0; i < 4; i++) {
        assert_float_equal(y->data[2 * i], z[i], 1e-5);
        assert_float_equal(y->data[2 * i + 1], z[i], 1e-5);
    }
    /* eval mode with the updated statistics */
    gp_tape_set_training(t, false);
    y = gp_batch_norm(t, gp_tape_constant(t, data, 1, 2), NULL, NULL, rm, rv, 0.1f, 0.0f);
    assert_non_null(y); /* a single row is fine in eval mode */
    assert_float_equal(y->data[0], (1.0f - 0.25f) / sqrtf(rv->data[0]), 1e-5);
    assert_float_equal(y->data[1], (2.0f - 0.5f) / sqrtf(rv->data[1]), 1e-5);
    assert_null(gp_batch_norm(t, x, NULL, NULL, NULL, rv, 0.1f, 1e-5f));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    rv->data[1] = -1.0f;
    x = gp_tape_constant(t, data, 4, 2);
    assert_null(gp_batch_norm(t, x, NULL, NULL, rm, rv, 0.1f, 1e-5f));
    assert_int_equal(gp_tape_status(t), GP_E_NUMERIC);
    assert_non_null(strstr(gp_last_error(), "column 1"));
    /* one row in training: no variance to estimate; without running statistics to fall back
     * on it is an error (test_batch_norm_one_row: with them) */
    gp_tape_reset(t);
    gp_tape_set_training(t, true);
    assert_null(gp_batch_norm(t, gp_tape_constant(t, data, 1, 2), NULL, NULL, NULL, NULL, 0.1f, 1e-5f));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    assert_non_null(strstr(gp_last_error(), "training batch of 1 row(s) has no variance"));
    /* shape and argument errors */
    gp_tape_reset(t);
    x = gp_tape_constant(t, data, 4, 2);
    assert_null(gp_batch_norm(t, x, gp_tape_tensor(t, 1, 3), NULL, rm, rv, 0.1f, 1e-5f));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    x = gp_tape_constant(t, data, 4, 2);
    assert_null(gp_batch_norm(t, x, NULL, NULL, rm, rv, 1.5f, 1e-5f));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_free(&t);
    gp_tensor_free(&rm);
    gp_tensor_free(&rv);
}

/* A training batch of one row (GIN's MLP on a one-node minibatch) is normalised with the
 * running statistics, exactly as in eval mode, and leaves them unchanged; its gradients are
 * those of the eval formula (gradcheck). (GIN training on one node: test_layers.c.) */
static void test_batch_norm_one_row(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 23);
    gp_tensor *a = gc_param(&rng, "a", 1, 4, -2, 2);
    gp_tensor *g = gc_param(&rng, "gamma", 1, 4, 0.5f, 1.5f);
    gp_tensor *b = gc_param(&rng, "beta", 1, 4, -1, 1);
    gp_tensor *rm = NULL, *rv = NULL;
    gp_tensor_new(&rm, 1, 4);
    gp_tensor_new(&rv, 1, 4);
    gc_fill(rm, &rng, -0.5f, 0.5f);
    gc_fill(rv, &rng, 0.5f, 2.0f);
    float saved_rm[4], saved_rv[4];
    memcpy(saved_rm, rm->data, sizeof saved_rm);
    memcpy(saved_rv, rv->data, sizeof saved_rv);
    gp_tensor *in[3] = {a, g, b};
    bn_ctx train = {true, true, rm, rv}, eval = {true, false, rm, rv};
    gp_tape *t = gc_tape();
    gp_tensor *y = batch_norm_forward(t, in, &train);
    assert_non_null(y);
    gp_tensor *ye = batch_norm_forward(t, in, &eval);
    assert_non_null(ye);
    for (int64_t j = 0; j < 4; j++) {
        double ref = (a->data[j] - saved_rm[j]) / sqrt(saved_rv[j] + 1e-5) * g->data[j] + b->data[j];
        assert_true(fabs(y->data[j] - ref) < 1e-5);
        assert_true(y->data[j] == ye->data[j]); /* the same bits as eval mode */
    }
    assert_true(memcmp(rm->data, saved_rm, sizeof saved_rm) == 0);
    assert_true(memcmp(rv->data, saved_rv, sizeof saved_rv) == 0);
    gp_tape_free(&t);
    assert_true(gc_check(batch_norm_forward, &train, in, 3) < 1e-2);
    assert_true(memcmp(rm->data, saved_rm, sizeof saved_rm) == 0);

    gp_tensor_free(&a);
    gp_tensor_free(&g);
    gp_tensor_free(&b);
    gp_tensor_free(&rm);
    gp_tensor_free(&rv);
}

/* ================= shape ops ================= */

typedef struct {
    int which; /* 0 concat cols, 1 concat rows, 2 slice cols, 3 slice rows, 4 transpose */
    int count;
} shape_ctx;

static gp_tensor *shape_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    shape_ctx *c = ctx;
    switch (c->which) {
    case 0: return gp_concat_cols(t, c->count, in);
    case 1: return gp_concat_rows(t, c->count, in);
    case 2: return gp_slice_cols(t, in[0], 1, 3);
    case 3: return gp_slice_rows(t, in[0], 2, 2);
    default: return gp_transpose(t, in[0]);
    }
}

static void test_shape_gradients_and_values(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 31);
    /* 6 parts (more than a node's input slots) of 3 rows with 1..6 cols */
    gp_tensor *cparts[6], *rparts[6];
    char name[8];
    for (int k = 0; k < 6; k++) {
        snprintf(name, sizeof name, "c%d", k);
        cparts[k] = gc_param(&rng, name, 3, k + 1, -1, 1);
        snprintf(name, sizeof name, "r%d", k);
        rparts[k] = gc_param(&rng, name, k + 1, 2, -1, 1);
    }
    shape_ctx cc = {0, 6}, cr = {1, 6};
    assert_true(gc_check(shape_forward, &cc, cparts, 6) < 1e-2);
    assert_true(gc_check(shape_forward, &cr, rparts, 6) < 1e-2);
    gp_tensor *a = gc_param(&rng, "a", 5, 4, -1, 1);
    for (int which = 2; which <= 4; which++) {
        shape_ctx c = {which, 1};
        assert_true(gc_check(shape_forward, &c, &a, 1) < 1e-2);
    }
    gp_tape *t = gc_tape();
    gp_tensor *y = gp_concat_cols(t, 6, cparts);
    assert_int_equal(y->rows, 3);
    assert_int_equal(y->cols, 21);
    for (int64_t i = 0; i < 3; i++) {
        int64_t off = 0;
        for (int k = 0; k < 6; k++) {
            for (int64_t j = 0; j <= k; j++)
                assert_true(gp_tensor_at(y, i, off + j) == gp_tensor_at(cparts[k], i, j));
            off += k + 1;
        }
    }
    y = gp_concat_rows(t, 6, rparts);
    assert_int_equal(y->rows, 21);
    assert_int_equal(y->cols, 2);
    int64_t off = 0;
    for (int k = 0; k < 6; k++) {
        for (int64_t i = 0; i <= k; i++)
            for (int64_t j = 0; j < 2; j++)
                assert_true(gp_tensor_at(y, off + i, j) == gp_tensor_at(rparts[k], i, j));
        off += k + 1;
    }
    y = gp_slice_cols(t, a, 1, 3);
    for (int64_t i = 0; i < 5; i++)
        for (int64_t j = 0; j < 3; j++) assert_true(gp_tensor_at(y, i, j) == gp_tensor_at(a, i, j + 1));
    y = gp_slice_rows(t, a, 2, 2);
    for (int64_t i = 0; i < 2; i++)
        for (int64_t j = 0; j < 4; j++) assert_true(gp_tensor_at(y, i, j) == gp_tensor_at(a, i + 2, j));
    y = gp_transpose(t, a);
    assert_int_equal(y->rows, 4);
    for (int64_t i = 0; i < 5; i++)
        for (int64_t j = 0; j < 4; j++) assert_true(gp_tensor_at(y, j, i) == gp_tensor_at(a, i, j));
    /* a larger transpose crosses the 32 x 32 tiles */
    gp_tensor *big = gp_tape_tensor(t, 70, 45);
    for (int64_t i = 0; i < 70 * 45; i++) big->data[i] = (float)i;
    y = gp_transpose(t, big);
    for (int64_t i = 0; i < 70; i++)
        for (int64_t j = 0; j < 45; j++) assert_true(gp_tensor_at(y, j, i) == gp_tensor_at(big, i, j));
    /* empty slices are valid */
    assert_int_equal(gp_slice_cols(t, a, 4, 0)->cols, 0);
    assert_int_equal(gp_slice_rows(t, a, 0, 0)->rows, 0);
    assert_int_equal(gp_tape_status(t), GP_OK);
    gp_tape_free(&t);
    for (int k = 0; k < 6; k++) {
        gp_tensor_free(&cparts[k]);
        gp_tensor_free(&rparts[k]);
    }
    gp_tensor_free(&a);
}

static void test_concat_grad_reaches_late_part(void **state)
{
    (void)state;
    /* only the 6th part needs a gradient: the node must still be recorded */
    gp_tape *t = gc_tape();
    gp_tensor *w = NULL;
    gp_param_new(&w, "w", 2, 1);
    gp_tensor *parts[6];
    for (int k = 0; k < 5; k++) parts[k] = gp_tape_tensor(t, 2, 1);
    parts[5] = w;
    gp_tensor *y = gp_concat_cols(t, 6, parts);
    assert_non_null(y);
    assert_int_equal(gp_tape_size(t), 1);
    float dy[12];
    for (int i = 0; i < 12; i++) dy[i] = (float)i;
    assert_int_equal(gp_tape_backward_from(t, y, dy), GP_OK);
    assert_true(w->grad[0] == 5.0f && w->grad[1] == 11.0f);
    /* with recording off nothing is recorded */
    gp_tape_reset(t);
    gp_tape_set_recording(t, false);
    for (int k = 0; k < 5; k++) parts[k] = gp_tape_tensor(t, 2, 1);
    assert_non_null(gp_concat_rows(t, 6, parts));
    assert_int_equal(gp_tape_size(t), 0);
    gp_tape_free(&t);
    gp_tensor_free(&w);
}

static void test_shape_errors(void **state)
{
    (void)state;
    gp_tape *t = gc_tape();
    gp_tensor *a = gp_tape_tensor(t, 3, 4), *b = gp_tape_tensor(t, 2, 4);
    gp_tensor *ab[2] = {a, b};
    assert_null(gp_concat_cols(t, 2, ab));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    assert_non_null(strstr(gp_last_error(), "part 1 has 2 rows"));
    gp_tape_reset(t);
    a = gp_tape_tensor(t, 3, 4);
    b = gp_tape_tensor(t, 3, 2);
    ab[0] = a;
    ab[1] = b;
    assert_null(gp_concat_rows(t, 2, ab));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    assert_null(gp_concat_rows(t, 0, ab));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    assert_null(gp_concat_cols(t, 1, NULL));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    gp_tensor *with_null[2] = {gp_tape_tensor(t, 1, 1), NULL};
    assert_null(gp_concat_cols(t, 2, with_null));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    assert_null(gp_concat_cols(NULL, 2, ab));
    const int64_t bad[][2] = {{-1, 2}, {3, 2}, {0, 5}, {4, 1}, {1, -1}, {2, INT64_MAX}};
    for (int k = 0; k < 6; k++) {
        gp_tape_reset(t);
        a = gp_tape_tensor(t, 4, 4);
        assert_null(gp_slice_cols(t, a, bad[k][0], bad[k][1]));
        assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
        assert_non_null(strstr(gp_last_error(), "out of range"));
        gp_tape_reset(t);
        a = gp_tape_tensor(t, 4, 4);
        assert_null(gp_slice_rows(t, a, bad[k][0], bad[k][1]));
        assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    }
    gp_tape_reset(t);
    assert_null(gp_transpose(t, NULL));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_free(&t);
}

/* ================= losses ================= */

typedef struct {
    int which; /* 0 mse, 1 bce, 2 nll, 3 cross entropy */
    gp_reduction r;
    gp_tensor *target;
    const int64_t *labels;
} loss_ctx;

static gp_tensor *loss_forward(gp_tape *t, gp_tensor **in, void *ctx)
{
    loss_ctx *c = ctx;
    switch (c->which) {
    case 0: return gp_mse_loss(t, in[0], c->target, c->r);
    case 1: return gp_bce_logits_loss(t, in[0], c->target, c->r);
    case 2: return gp_nll_loss(t, in[0], c->labels, c->r);
    default: return gp_cross_entropy_loss(t, in[0], c->labels, c->r);
    }
}

/* Naive references in double. */
static double naive_loss(const loss_ctx *c, const gp_tensor *x)
{
    int64_t n = gp_tensor_size(x);
    double sum = 0;
    if (c->which <= 1) {
        for (int64_t i = 0; i < n; i++) {
            double v = x->data[i], y = c->target->data[i];
            if (c->which == 0) {
                sum += (v - y) * (v - y);
            } else {
                double s = 1.0 / (1.0 + exp(-v));
                sum += -y * log(s) - (1 - y) * log(1 - s);
            }
        }
        return c->r == GP_REDUCE_MEAN ? sum / (double)n : sum;
    }
    for (int64_t i = 0; i < x->rows; i++) {
        if (c->which == 2) {
            sum -= gp_tensor_at(x, i, c->labels[i]);
        } else {
            double z = 0;
            for (int64_t j = 0; j < x->cols; j++) z += exp(gp_tensor_at(x, i, j));
            sum -= log(exp(gp_tensor_at(x, i, c->labels[i])) / z);
        }
    }
    return c->r == GP_REDUCE_MEAN ? sum / (double)x->rows : sum;
}

static void test_loss_gradients_and_values(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 41);
    gp_tensor *x = gc_param(&rng, "x", 5, 4, -3, 3);
    gp_tensor *target = NULL;
    gp_tensor_new(&target, 5, 4);
    gc_fill(target, &rng, 0, 1);
    const int64_t labels[5] = {0, 3, 1, 1, 2};
    for (int which = 0; which < 4; which++)
        for (int r = 0; r < 2; r++) {
            loss_ctx c = {which, (gp_reduction)r, target, labels};
            assert_true(gc_check(loss_forward, &c, &x, 1) < 1e-2);
            gp_tape *t = gc_tape();
            gp_tensor *l = loss_forward(t, &x, &c);
            assert_non_null(l);
            assert_true(l->rows == 1 && l->cols == 1);
            double ref = naive_loss(&c, x);
            assert_true(fabs(l->data[0] - ref) < 1e-5 * fmax(1.0, fabs(ref)));
            gp_tape_free(&t);
        }
    gp_tensor_free(&x);
    gp_tensor_free(&target);
}

static float loss_value(gp_tape *t, int which, gp_reduction r, const float *x, int64_t rows,
                        int64_t cols, const float *y, const int64_t *labels)
{
    gp_tensor *xt = gp_tape_constant(t, x, rows, cols);
    gp_tensor *yt = y ? gp_tape_constant(t, y, rows, cols) : NULL;
    loss_ctx c = {which, r, yt, labels};
    gp_tensor *l = loss_forward(t, &xt, &c);
    assert_non_null(l);
    return l->data[0];
}

static void test_loss_hand_values(void **state)
{
    (void)state;
    gp_tape *t = gc_tape();
    const float pred[4] = {1, 2, 3, 4}, tgt[4] = {0, 2, 5, 1}; /* squares 1, 0, 4, 9 */
    assert_float_equal(loss_value(t, 0, GP_REDUCE_SUM, pred, 2, 2, tgt, NULL), 14.0f, 1e-6);
    assert_float_equal(loss_value(t, 0, GP_REDUCE_MEAN, pred, 2, 2, tgt, NULL), 3.5f, 1e-6);
    /* bce: log 2, 2 + log(1 + e^-2), 1.5 + log(1 + e^-3) */
    const float logit[3] = {0, 2, -3}, y[3] = {1, 0, 0.5f};
    assert_float_equal(loss_value(t, 1, GP_REDUCE_SUM, logit, 1, 3, y, NULL), 4.36866254f, 1e-5);
    assert_float_equal(loss_value(t, 1, GP_REDUCE_MEAN, logit, 3, 1, y, NULL), 1.45622085f, 1e-5);
    /* bce stays finite for huge logits: log(1 + e^-100) ~ 0 */
    const float huge[2] = {100, -100}, hy[2] = {0, 1};
    assert_float_equal(loss_value(t, 1, GP_REDUCE_SUM, huge, 1, 2, hy, NULL), 200.0f, 1e-3);
    /* nll: -(logp[0,2] + logp[1,0]) */
    const float logp[6] = {-1, -2, -0.5f, -0.25f, -3, -4};
    const int64_t lab[2] = {2, 0};
    assert_float_equal(loss_value(t, 2, GP_REDUCE_SUM, logp, 2, 3, NULL, lab), 0.75f, 1e-6);
    assert_float_equal(loss_value(t, 2, GP_REDUCE_MEAN, logp, 2, 3, NULL, lab), 0.375f, 1e-6);
    /* cross entropy: log(e + e^2 + e^3) - 3 and log 3 */
    const float logits[6] = {1, 2, 3, 1, 1, 1};
    assert_float_equal(loss_value(t, 3, GP_REDUCE_SUM, logits, 2, 3, NULL, lab), 1.50621825f, 1e-5);
    assert_float_equal(loss_value(t, 3, GP_REDUCE_MEAN, logits, 2, 3, NULL, lab), 0.75310913f, 1e-5);
    /* stable for large logits (a naive exp would overflow) */
    const float big[4] = {1000, 0, -1000, 50};
    const int64_t blab[2] = {1, 1};
    assert_float_equal(loss_value(t, 3, GP_REDUCE_SUM, big, 2, 2, NULL, blab), 1000.0f, 1e-3);
    assert_int_equal(gp_tape_status(t), GP_OK);
    /* cross entropy backward: (softmax - onehot) / rows */
    gp_tensor *w = NULL;
    gp_param_new(&w, "w", 2, 3);
    memcpy(w->data, logits, sizeof logits);
    gp_tensor *l = gp_cross_entropy_loss(t, w, lab, GP_REDUCE_MEAN);
    assert_int_equal(gp_tape_backward(t, l), GP_OK);
    double z0 = exp(1) + exp(2) + exp(3);
    const double expect[6] = {exp(1) / z0 / 2, exp(2) / z0 / 2, (exp(3) / z0 - 1) / 2,
                              (1.0 / 3 - 1) / 2, 1.0 / 6, 1.0 / 6};
    for (int i = 0; i < 6; i++) assert_true(fabs(w->grad[i] - expect[i]) < 1e-6);
    assert_string_equal(gp_tape_node_name(t, 0), "cross_entropy_loss");
    assert_int_equal(gp_tape_size(t), 1); /* one fused node */
    gp_tensor_free(&w);
    gp_tape_free(&t);
}

static void test_loss_targets_take_no_gradient(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 51);
    gp_tensor *pred = gc_param(&rng, "pred", 3, 2, -1, 1);
    gp_tensor *target = gc_param(&rng, "target", 3, 2, 0, 1);
    gp_tape *t = gc_tape();
    for (int which = 0; which < 2; which++) {
        gp_tape_reset(t);
        gp_tensor_zero_grad(pred);
        gp_tensor_zero_grad(target);
        gp_tensor *l = which ? gp_bce_logits_loss(t, pred, target, GP_REDUCE_MEAN)
                             : gp_mse_loss(t, pred, target, GP_REDUCE_MEAN);
        assert_int_equal(gp_tape_backward(t, l), GP_OK);
        double gsum = 0;
        for (int i = 0; i < 6; i++) {
            assert_true(target->grad[i] == 0.0f);
            gsum += fabs(pred->grad[i]);
        }
        assert_true(gsum > 0);
        /* a target alone requiring grad records nothing */
        gp_tape_reset(t);
        gp_tensor *c = gp_tape_constant(t, pred->data, 3, 2);
        l = which ? gp_bce_logits_loss(t, c, target, GP_REDUCE_SUM) : gp_mse_loss(t, c, target, GP_REDUCE_SUM);
        assert_non_null(l);
        assert_int_equal(gp_tape_size(t), 0);
    }
    gp_tape_free(&t);
    gp_tensor_free(&pred);
    gp_tensor_free(&target);
}

static void test_loss_errors(void **state)
{
    (void)state;
    gp_tape *t = gc_tape();
    gp_tensor *x = gp_tape_tensor(t, 3, 4);
    const int64_t labels[3] = {0, 4, 1};
    assert_null(gp_nll_loss(t, x, labels, GP_REDUCE_MEAN));
    assert_int_equal(gp_tape_status(t), GP_E_RANGE);
    assert_non_null(strstr(gp_last_error(), "label 4 of row 1"));
    gp_tape_reset(t);
    x = gp_tape_tensor(t, 3, 4);
    const int64_t negative[3] = {0, 1, -1};
    assert_null(gp_cross_entropy_loss(t, x, negative, GP_REDUCE_SUM));
    assert_int_equal(gp_tape_status(t), GP_E_RANGE);
    assert_non_null(strstr(gp_last_error(), "row 2"));
    gp_tape_reset(t);
    x = gp_tape_tensor(t, 3, 4);
    assert_null(gp_cross_entropy_loss(t, x, NULL, GP_REDUCE_SUM));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    x = gp_tape_tensor(t, 3, 4);
    assert_null(gp_mse_loss(t, x, gp_tape_tensor(t, 4, 3), GP_REDUCE_MEAN));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    x = gp_tape_tensor(t, 1, 2);
    const float out_of_range[2] = {0.5f, 1.5f};
    assert_null(gp_bce_logits_loss(t, x, gp_tape_constant(t, out_of_range, 1, 2), GP_REDUCE_MEAN));
    assert_int_equal(gp_tape_status(t), GP_E_RANGE);
    assert_non_null(strstr(gp_last_error(), "row 0, col 1"));
    gp_tape_reset(t);
    x = gp_tape_tensor(t, 0, 4);
    assert_null(gp_mse_loss(t, x, gp_tape_tensor(t, 0, 4), GP_REDUCE_MEAN));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    x = gp_tape_tensor(t, 0, 4); /* sum over nothing is 0 */
    gp_tensor *l = gp_nll_loss(t, x, NULL, GP_REDUCE_SUM);
    assert_non_null(l);
    assert_true(l->data[0] == 0.0f);
    x = gp_tape_tensor(t, 3, 4);
    assert_null(gp_nll_loss(t, x, labels + 0, (gp_reduction)7));
    assert_int_equal(gp_tape_status(t), GP_E_RANGE); /* labels are checked first */
    gp_tape_reset(t);
    x = gp_tape_tensor(t, 1, 4);
    assert_null(gp_nll_loss(t, x, labels, (gp_reduction)7));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_free(&t);
}

/* ================= threads ================= */

/* Forward and backward of the row-parallel ops on a tensor above GP_PAR_MIN_WORK. */
static void run_parallel_ops(float *values, float *grads, gp_tensor *a, const int64_t *labels)
{
    gp_tape *t = gc_tape();
    gp_tensor_zero_grad(a);
    gp_tensor *ln = gp_layer_norm(t, a, NULL, NULL, 1e-5f);
    gp_tensor *bn = gp_batch_norm(t, ln, NULL, NULL, NULL, NULL, 0.1f, 1e-5f);
    gp_tensor *tr = gp_transpose(t, bn);
    gp_tensor *back = gp_transpose(t, tr);
    gp_tensor *l = gp_cross_entropy_loss(t, back, labels, GP_REDUCE_MEAN);
    assert_int_equal(gp_tape_backward(t, l), GP_OK);
    memcpy(values, back->data, (size_t)gp_tensor_size(back) * sizeof(float));
    values[gp_tensor_size(back)] = l->data[0];
    memcpy(grads, a->grad, (size_t)gp_tensor_size(a) * sizeof(float));
    gp_tape_free(&t);
}

static void test_parallel_bit_identical(void **state)
{
    (void)state;
    enum { ROWS = 300, COLS = 128, N = ROWS * COLS };
    gp_rng rng;
    gp_rng_seed(&rng, 61);
    gp_tensor *a = gc_param(&rng, "a", ROWS, COLS, -2, 2);
    int64_t *labels = malloc(ROWS * sizeof *labels);
    for (int i = 0; i < ROWS; i++) labels[i] = (int64_t)gp_rng_below(&rng, COLS);
    float *v1 = malloc((N + 1) * sizeof(float)), *g1 = malloc(N * sizeof(float));
    float *v3 = malloc((N + 1) * sizeof(float)), *g3 = malloc(N * sizeof(float));
    run_parallel_ops(v1, g1, a, labels);
    gp_set_threads(3);
    run_parallel_ops(v3, g3, a, labels);
    gp_set_threads(1);
    assert_true(memcmp(v1, v3, (N + 1) * sizeof(float)) == 0);
    assert_true(memcmp(g1, g3, N * sizeof(float)) == 0);
    double gsum = 0;
    for (int i = 0; i < N; i++) gsum += fabs(g1[i]);
    assert_true(gsum > 0);
    free(v1);
    free(g1);
    free(v3);
    free(g3);
    free(labels);
    gp_tensor_free(&a);
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropout_gradient),
        cmocka_unit_test(test_dropout_statistics),
        cmocka_unit_test(test_dropout_identity_and_errors),
        cmocka_unit_test(test_layer_norm),
        cmocka_unit_test(test_batch_norm_gradients),
        cmocka_unit_test(test_batch_norm_running_stats_and_errors),
        cmocka_unit_test(test_batch_norm_one_row),
        cmocka_unit_test(test_shape_gradients_and_values),
        cmocka_unit_test(test_concat_grad_reaches_late_part),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_loss_gradients_and_values),
        cmocka_unit_test(test_loss_hand_values),
        cmocka_unit_test(test_loss_targets_take_no_gradient),
        cmocka_unit_test(test_loss_errors),
        cmocka_unit_test(test_parallel_bit_identical),
    };
    int rc = cmocka_run_group_tests_name("ops_nn", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
