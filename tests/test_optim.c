/*
 * Optimisers, gradient clipping, learning-rate schedules and weight initialisers.
 *
 * SGD is run on f(w) = 0.5 w^2 (grad = w) and compared with the hand-derived recurrences in
 * double precision; Adam/AdamW steps are compared with double-precision recurrences written
 * here, plus closed forms (constant gradient: every bias-corrected step moves by lr sign(g)).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <math.h>

#include <graphpool/graphpool.h>

#include "failing_alloc.h"

#define NW 3
static const double w_start[NW] = {1.0, -2.0, 0.5};

static gp_tensor *param_with(const char *name, const double *values, int n)
{
    gp_tensor *p = NULL;
    assert_int_equal(gp_param_new(&p, name, 1, n), GP_OK);
    for (int i = 0; i < n; i++) p->data[i] = (float)values[i];
    return p;
}

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol * (1.0 + fabs(want)))) {
        fprintf(stderr, "got %.9g, want %.9g (tol %g)\n", got, want, tol);
        fail();
    }
}

static bool contains(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* ---- SGD on f(w) = 0.5 w^2 ---- */

/* Run `steps` SGD steps with grad = w and compare every step with the double recurrence
 * g = w + wd w; v = mu v + g; w -= lr (nesterov ? g + mu v : v). */
static void check_sgd_trajectory(float lr, float mu, float wd, bool nesterov, int steps)
{
    gp_tensor *w = param_with("w", w_start, NW);
    gp_optim *opt = NULL;
    assert_int_equal(gp_sgd_new(&opt, &w, 1, lr, mu, wd, nesterov), GP_OK);
    double ref[NW], buf[NW] = {0};
    memcpy(ref, w_start, sizeof ref);
    for (int s = 0; s < steps; s++) {
        for (int i = 0; i < NW; i++) w->grad[i] = w->data[i];
        assert_int_equal(gp_optim_step(opt), GP_OK);
        for (int i = 0; i < NW; i++) {
            double g = ref[i] + (double)wd * ref[i];
            buf[i] = mu * buf[i] + g;
            ref[i] -= lr * (nesterov ? g + mu * buf[i] : buf[i]);
            assert_close(w->data[i], ref[i], 1e-5);
        }
        gp_optim_zero_grad(opt);
    }
    gp_optim_free(&opt);
    assert_null(opt);
    gp_tensor_free(&w);
}

static void test_sgd_plain_closed_form(void **state)
{
    (void)state;
    /* no momentum: w_t = (1 - lr)^t w_0 */
    gp_tensor *w = param_with("w", w_start, NW);
    gp_optim *opt = NULL;
    assert_int_equal(gp_sgd_new(&opt, &w, 1, 0.1f, 0.0f, 0.0f, false), GP_OK);
    for (int t = 1; t <= 8; t++) {
        for (int i = 0; i < NW; i++) w->grad[i] = w->data[i];
        assert_int_equal(gp_optim_step(opt), GP_OK);
        for (int i = 0; i < NW; i++) assert_close(w->data[i], pow(0.9, t) * w_start[i], 1e-6);
    }
    gp_optim_free(&opt);
    gp_tensor_free(&w);
    check_sgd_trajectory(0.1f, 0.0f, 0.0f, false, 8);
}

static void test_sgd_momentum(void **state)
{
    (void)state;
    /* by hand, w0 = 1, lr 0.1, mu 0.9: v1 = 1, w1 = 0.9; v2 = 0.9 + 0.9 = 1.8, w2 = 0.72;
     * v3 = 1.62 + 0.72 = 2.34, w3 = 0.72 - 0.234 = 0.486 */
    const double one = 1.0;
    gp_tensor *w = param_with("w", &one, 1);
    gp_optim *opt = NULL;
    assert_int_equal(gp_sgd_new(&opt, &w, 1, 0.1f, 0.9f, 0.0f, false), GP_OK);
    const double want[3] = {0.9, 0.72, 0.486};
    for (int t = 0; t < 3; t++) {
        w->grad[0] = w->data[0];
        assert_int_equal(gp_optim_step(opt), GP_OK);
        assert_close(w->data[0], want[t], 1e-6);
    }
    gp_optim_free(&opt);
    gp_tensor_free(&w);
    check_sgd_trajectory(0.1f, 0.9f, 0.0f, false, 10);
}

static void test_sgd_nesterov(void **state)
{
    (void)state;
    /* by hand, w0 = 1, lr 0.1, mu 0.9: g = 1, v1 = 1, w1 = 1 - 0.1 (1 + 0.9) = 0.81;
     * g = 0.81, v2 = 0.9 + 0.81 = 1.71, w2 = 0.81 - 0.1 (0.81 + 1.539) = 0.5751 */
    const double one = 1.0;
    gp_tensor *w = param_with("w", &one, 1);
    gp_optim *opt = NULL;
    assert_int_equal(gp_sgd_new(&opt, &w, 1, 0.1f, 0.9f, 0.0f, true), GP_OK);
    const double want[2] = {0.81, 0.5751};
    for (int t = 0; t < 2; t++) {
        w->grad[0] = w->data[0];
        assert_int_equal(gp_optim_step(opt), GP_OK);
        assert_close(w->data[0], want[t], 1e-6);
    }
    gp_optim_free(&opt);
    gp_tensor_free(&w);
    check_sgd_trajectory(0.1f, 0.9f, 0.0f, true, 10);
}

static void test_sgd_weight_decay(void **state)
{
    (void)state;
    /* no momentum: g = (1 + wd) w, so w_t = (1 - lr (1 + wd))^t w_0 */
    gp_tensor *w = param_with("w", w_start, NW);
    gp_optim *opt = NULL;
    assert_int_equal(gp_sgd_new(&opt, &w, 1, 0.05f, 0.0f, 0.2f, false), GP_OK);
    for (int t = 1; t <= 6; t++) {
        for (int i = 0; i < NW; i++) w->grad[i] = w->data[i];
        assert_int_equal(gp_optim_step(opt), GP_OK);
        for (int i = 0; i < NW; i++)
            assert_close(w->data[i], pow(1.0 - 0.05 * 1.2, t) * w_start[i], 1e-6);
    }
    gp_optim_free(&opt);
    gp_tensor_free(&w);
    /* decay acts on w even with a zero gradient: one step gives w (1 - lr wd) */
    w = param_with("w", w_start, NW);
    assert_int_equal(gp_sgd_new(&opt, &w, 1, 0.05f, 0.0f, 0.2f, false), GP_OK);
    assert_int_equal(gp_optim_step(opt), GP_OK);
    for (int i = 0; i < NW; i++) assert_close(w->data[i], w_start[i] * (1.0 - 0.01), 1e-7);
    gp_optim_free(&opt);
    gp_tensor_free(&w);
    check_sgd_trajectory(0.05f, 0.9f, 0.01f, false, 10);
    check_sgd_trajectory(0.05f, 0.5f, 0.1f, true, 10);
}

/* ---- Adam / AdamW ---- */

typedef struct adam_ref {
    double w[NW], m[NW], v[NW];
    int t;
} adam_ref;

/* One reference step in double. decoupled: AdamW (w -= lr wd w first, no L2 term). */
static void adam_ref_step(adam_ref *r, const double *grad, double lr, double b1, double b2,
                          double eps, double wd, bool decoupled)
{
    r->t++;
    for (int i = 0; i < NW; i++) {
        double g = grad[i] + (decoupled ? 0.0 : wd * r->w[i]);
        if (decoupled) r->w[i] -= lr * wd * r->w[i];
        r->m[i] = b1 * r->m[i] + (1 - b1) * g;
        r->v[i] = b2 * r->v[i] + (1 - b2) * g * g;
        double mhat = r->m[i] / (1 - pow(b1, r->t));
        double vhat = r->v[i] / (1 - pow(b2, r->t));
        r->w[i] -= lr * mhat / (sqrt(vhat) + eps);
    }
}

static void check_adam_against_ref(bool decoupled, double wd)
{
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const double grads[4][NW] = {
        {0.3, -4.0, 1e-3}, {0.1, 2.0, -0.5}, {-0.7, 0.0, 0.25}, {0.05, -1.0, 3.0}};
    gp_tensor *w = param_with("w", w_start, NW);
    gp_optim *opt = NULL;
    if (decoupled)
        assert_int_equal(gp_adamw_new(&opt, &w, 1, (float)lr, (float)b1, (float)b2, (float)eps,
                                      (float)wd),
                         GP_OK);
    else
        assert_int_equal(gp_adam_new(&opt, &w, 1, (float)lr, (float)b1, (float)b2, (float)eps,
                                     (float)wd),
                         GP_OK);
    adam_ref r = {0};
    memcpy(r.w, w_start, sizeof r.w);
    for (int s = 0; s < 4; s++) {
        for (int i = 0; i < NW; i++) w->grad[i] = (float)grads[s][i];
        assert_int_equal(gp_optim_step(opt), GP_OK);
        adam_ref_step(&r, grads[s], lr, b1, b2, eps, wd, decoupled);
        for (int i = 0; i < NW; i++) assert_close(w->data[i], r.w[i], 2e-6);
        gp_optim_zero_grad(opt);
    }
    gp_optim_free(&opt);
    gp_tensor_free(&w);
}

static void test_adam_first_steps(void **state)
{
    (void)state;
    /* first step by hand: mhat = g, vhat = g^2, so w1 = w0 - lr g / (|g| + eps) */
    const double g[NW] = {0.3, -4.0, 1e-3};
    gp_tensor *w = param_with("w", w_start, NW);
    gp_optim *opt = NULL;
    assert_int_equal(gp_adam_new(&opt, &w, 1, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f), GP_OK);
    for (int i = 0; i < NW; i++) w->grad[i] = (float)g[i];
    assert_int_equal(gp_optim_step(opt), GP_OK);
    for (int i = 0; i < NW; i++)
        assert_close(w->data[i], w_start[i] - 0.01 * g[i] / (fabs(g[i]) + 1e-8), 1e-6);
    gp_optim_free(&opt);
    gp_tensor_free(&w);
    check_adam_against_ref(false, 0.0);
    check_adam_against_ref(false, 0.1);
}

static void test_adam_bias_correction(void **state)
{
    (void)state;
    /* constant gradient: m_t = g (1 - b1^t), v_t = g^2 (1 - b2^t), so the corrected step is
     * lr g / (|g| + eps) every time; without correction step 1 would be lr (1-b1)/sqrt(1-b2)
     * ~ 0.316 lr. */
    const double g[NW] = {0.5, -3.0, 2e-2};
    gp_tensor *w = param_with("w", w_start, NW);
    gp_optim *opt = NULL;
    assert_int_equal(gp_adam_new(&opt, &w, 1, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f), GP_OK);
    for (int t = 1; t <= 5; t++) {
        for (int i = 0; i < NW; i++) w->grad[i] = (float)g[i];
        assert_int_equal(gp_optim_step(opt), GP_OK);
        for (int i = 0; i < NW; i++)
            assert_close(w->data[i], w_start[i] - t * 0.01 * (g[i] > 0 ? 1.0 : -1.0), 1e-5);
    }
    gp_optim_free(&opt);
    gp_tensor_free(&w);
}

static void test_adam_l2_vs_adamw_decoupled(void **state)
{
    (void)state;
    /* zero gradient, wd 0.1, lr 0.01. Adam (L2): g = wd w, first step moves by lr sign(w).
     * AdamW: w (1 - lr wd) then a zero Adam update. */
    gp_tensor *w = param_with("w", w_start, NW);
    gp_optim *opt = NULL;
    assert_int_equal(gp_adam_new(&opt, &w, 1, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f), GP_OK);
    assert_int_equal(gp_optim_step(opt), GP_OK);
    for (int i = 0; i < NW; i++)
        assert_close(w->data[i], w_start[i] - 0.01 * (w_start[i] > 0 ? 1.0 : -1.0), 1e-6);
    gp_optim_free(&opt);
    gp_tensor_free(&w);

    w = param_with("w", w_start, NW);
    assert_int_equal(gp_adamw_new(&opt, &w, 1, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f), GP_OK);
    assert_int_equal(gp_optim_step(opt), GP_OK);
    for (int i = 0; i < NW; i++) assert_close(w->data[i], w_start[i] * (1.0 - 0.001), 1e-7);
    gp_optim_free(&opt);
    gp_tensor_free(&w);

    check_adam_against_ref(true, 0.0);
    check_adam_against_ref(true, 0.1);
    check_adam_against_ref(true, 0.5);
}

/* ---- optimiser housekeeping ---- */

/* The state accessors: Adam run 5 steps equals Adam run 2 steps whose step count and moments
 * are copied into a fresh optimiser that runs 3 more (bit for bit); plain SGD keeps no moments. */
static void test_state_transfer(void **state)
{
    (void)state;
    gp_tensor *a = param_with("a", w_start, NW), *b = param_with("b", w_start, NW), *c = param_with("c", w_start, NW);
    gp_optim *oa = NULL, *ob = NULL, *oc = NULL;
    assert_int_equal(gp_adam_new(&oa, &a, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f), GP_OK);
    assert_int_equal(gp_adam_new(&ob, &b, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f), GP_OK);
    assert_int_equal(gp_adam_new(&oc, &c, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f), GP_OK);
    for (int s = 0; s < 5; s++) {
        for (int i = 0; i < NW; i++) a->grad[i] = a->data[i] * a->data[i] - 0.3f; /* a nonlinear gradient */
        assert_int_equal(gp_optim_step(oa), GP_OK);
        if (s < 2) {
            for (int i = 0; i < NW; i++) b->grad[i] = b->data[i] * b->data[i] - 0.3f;
            assert_int_equal(gp_optim_step(ob), GP_OK);
        }
    }
    assert_int_equal(gp_optim_get_step(oa), 5);
    assert_int_equal(gp_optim_get_step(ob), 2);
    memcpy(c->data, b->data, NW * sizeof(float));
    gp_optim_set_step(oc, gp_optim_get_step(ob));
    for (int which = 0; which < 2; which++)
        memcpy(gp_optim_moment(oc, which, 0), gp_optim_moment(ob, which, 0), NW * sizeof(float));
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < NW; i++) c->grad[i] = c->data[i] * c->data[i] - 0.3f;
        assert_int_equal(gp_optim_step(oc), GP_OK);
    }
    assert_memory_equal(a->data, c->data, NW * sizeof(float));
    assert_null(gp_optim_moment(oc, 2, 0));
    assert_null(gp_optim_moment(oc, 0, 1));
    gp_optim *sgd = NULL;
    assert_int_equal(gp_sgd_new(&sgd, &a, 1, 0.1f, 0.0f, 0.0f, false), GP_OK);
    assert_null(gp_optim_moment(sgd, 0, 0));
    assert_null(gp_optim_moment(sgd, 1, 0));
    gp_optim_free(&sgd);
    gp_optim_free(&oa);
    gp_optim_free(&ob);
    gp_optim_free(&oc);
    gp_tensor_free(&a);
    gp_tensor_free(&b);
    gp_tensor_free(&c);
}

static void test_zero_grad_and_lr(void **state)
{
    (void)state;
    gp_tensor *a = param_with("a", w_start, NW);
    gp_tensor *b = param_with("b", w_start, 2);
    gp_tensor *ps[2] = {a, b};
    gp_optim *opt = NULL;
    assert_int_equal(gp_sgd_new(&opt, ps, 2, 0.25f, 0.0f, 0.0f, false), GP_OK);
    assert_true(gp_optim_get_lr(opt) == 0.25f);
    for (int i = 0; i < NW; i++) a->grad[i] = 1.0f + (float)i;
    b->grad[0] = -1.0f, b->grad[1] = 2.0f;
    gp_optim_zero_grad(opt);
    for (int i = 0; i < NW; i++) assert_true(a->grad[i] == 0.0f);
    assert_true(b->grad[0] == 0.0f && b->grad[1] == 0.0f);

    /* the new rate is used by the next step */
    gp_optim_set_lr(opt, 0.5f);
    assert_true(gp_optim_get_lr(opt) == 0.5f);
    for (int i = 0; i < NW; i++) a->grad[i] = 1.0f;
    assert_int_equal(gp_optim_step(opt), GP_OK);
    for (int i = 0; i < NW; i++) assert_close(a->data[i], w_start[i] - 0.5, 1e-7);
    assert_close(b->data[0], w_start[0], 0.0); /* zero gradient: unchanged */

    /* invalid rates are ignored with a message */
    gp_clear_error();
    gp_optim_set_lr(opt, -1.0f);
    assert_true(gp_optim_get_lr(opt) == 0.5f);
    assert_true(contains(gp_last_error(), "learning rate"));
    gp_optim_set_lr(opt, NAN);
    assert_true(gp_optim_get_lr(opt) == 0.5f);

    /* lr 0 leaves the weights alone */
    gp_optim_set_lr(opt, 0.0f);
    float before = a->data[0];
    assert_int_equal(gp_optim_step(opt), GP_OK);
    assert_true(a->data[0] == before);

    /* NULL-safe */
    gp_optim_zero_grad(NULL);
    gp_optim_set_lr(NULL, 1.0f);
    assert_true(gp_optim_get_lr(NULL) == 0.0f);
    assert_int_equal(gp_optim_step(NULL), GP_E_INVALID);
    gp_optim_free(&opt);
    gp_optim_free(&opt);
    gp_optim_free(NULL);
    gp_tensor_free(&a);
    gp_tensor_free(&b);
}

static void test_nonfinite_gradient_rejected(void **state)
{
    (void)state;
    const float bad[2] = {NAN, INFINITY};
    for (int k = 0; k < 2; k++) {
        gp_tensor *a = param_with("alpha", w_start, NW);
        gp_tensor *b = param_with("beta", w_start, NW);
        gp_tensor *ps[2] = {a, b};
        gp_optim *opt = NULL;
        assert_int_equal(gp_adam_new(&opt, ps, 2, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f), GP_OK);
        for (int i = 0; i < NW; i++) a->grad[i] = b->grad[i] = 0.5f;
        b->grad[2] = bad[k];
        gp_clear_error();
        assert_int_equal(gp_optim_step(opt), GP_E_NUMERIC);
        assert_true(contains(gp_last_error(), "'beta'"));
        /* no partial update: the earlier parameter is untouched too */
        for (int i = 0; i < NW; i++) {
            assert_true(a->data[i] == (float)w_start[i]);
            assert_true(b->data[i] == (float)w_start[i]);
        }
        /* nor the state: after fixing the gradient the step is a first step (t = 1) */
        b->grad[2] = 0.5f;
        assert_int_equal(gp_optim_step(opt), GP_OK);
        for (int i = 0; i < NW; i++) {
            assert_close(a->data[i], w_start[i] - 0.01, 1e-6);
            assert_close(b->data[i], w_start[i] - 0.01, 1e-6);
        }
        gp_optim_free(&opt);
        gp_tensor_free(&a);
        gp_tensor_free(&b);
    }
    /* a large gradient is scanned over the threads: the message names the first bad element,
     * in whichever thread's part it lies, as a serial scan does */
    enum { ROWS = 1000, COLS = 300 };
    gp_tensor *big = NULL;
    assert_int_equal(gp_param_new(&big, "big", ROWS, COLS), GP_OK);
    gp_optim *bopt = NULL;
    assert_int_equal(gp_adam_new(&bopt, &big, 1, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f), GP_OK);
    static const int64_t firsts[] = {7, ROWS * COLS / 2 + 3, ROWS * COLS - 1};
    for (int threads = 1; threads <= 3; threads++) {
        gp_set_threads(threads);
        for (int f = 0; f < 3; f++) {
            memset(big->grad, 0, sizeof(float) * ROWS * COLS);
            big->grad[firsts[f]] = NAN;
            big->grad[ROWS * COLS - 1] = INFINITY; /* a later one (or the same) */
            gp_clear_error();
            assert_int_equal(gp_optim_step(bopt), GP_E_NUMERIC);
            char want[64];
            snprintf(want, sizeof want, "at row %lld, col %lld", (long long)(firsts[f] / COLS),
                     (long long)(firsts[f] % COLS));
            if (!contains(gp_last_error(), want)) fail_msg("%d threads: %s", threads, gp_last_error());
        }
    }
    /* ... and zeroed over the threads: every element */
    for (int threads = 1; threads <= 3; threads++) {
        gp_set_threads(threads);
        for (int64_t i = 0; i < ROWS * COLS; i++) big->grad[i] = 1.0f;
        gp_optim_zero_grad(bopt);
        int64_t nonzero = 0;
        for (int64_t i = 0; i < ROWS * COLS; i++) nonzero += big->grad[i] != 0.0f;
        assert_int_equal(nonzero, 0);
    }
    gp_set_threads(1);
    gp_optim_free(&bopt);
    gp_tensor_free(&big);
    /* SGD too */
    gp_tensor *w = param_with("w", w_start, NW);
    gp_optim *opt = NULL;
    assert_int_equal(gp_sgd_new(&opt, &w, 1, 0.1f, 0.9f, 0.0f, false), GP_OK);
    w->grad[1] = -INFINITY;
    assert_int_equal(gp_optim_step(opt), GP_E_NUMERIC);
    assert_true(contains(gp_last_error(), "'w'"));
    for (int i = 0; i < NW; i++) assert_true(w->data[i] == (float)w_start[i]);
    gp_optim_free(&opt);
    gp_tensor_free(&w);
}

static void test_invalid_construction(void **state)
{
    (void)state;
    gp_tensor *p = param_with("p", w_start, NW);
    gp_tensor *plain = NULL;
    assert_int_equal(gp_tensor_new(&plain, 2, 2), GP_OK);
    snprintf(plain->name, sizeof plain->name, "%s", "not_a_param");
    gp_optim *opt = (gp_optim *)&opt; /* must be reset to NULL on failure */

    gp_tensor *mixed[2] = {p, plain};
    assert_int_equal(gp_sgd_new(&opt, mixed, 2, 0.1f, 0.0f, 0.0f, false), GP_E_INVALID);
    assert_null(opt);
    assert_true(contains(gp_last_error(), "'not_a_param'"));
    opt = (gp_optim *)&opt;
    assert_int_equal(gp_adam_new(&opt, mixed, 2, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f),
                     GP_E_INVALID);
    assert_null(opt);
    assert_true(contains(gp_last_error(), "'not_a_param'"));
    assert_int_equal(gp_adamw_new(&opt, mixed, 2, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f),
                     GP_E_INVALID);

    /* a parameter whose gradient buffer is missing */
    float *saved = p->grad;
    p->grad = NULL;
    assert_int_equal(gp_sgd_new(&opt, &p, 1, 0.1f, 0.0f, 0.0f, false), GP_E_INVALID);
    assert_true(contains(gp_last_error(), "'p'"));
    p->grad = saved;

    gp_tensor *dup[2] = {p, p};
    assert_int_equal(gp_sgd_new(&opt, dup, 2, 0.1f, 0.0f, 0.0f, false), GP_E_INVALID);
    gp_tensor *with_null[2] = {p, NULL};
    assert_int_equal(gp_sgd_new(&opt, with_null, 2, 0.1f, 0.0f, 0.0f, false), GP_E_INVALID);
    assert_int_equal(gp_sgd_new(&opt, NULL, 1, 0.1f, 0.0f, 0.0f, false), GP_E_INVALID);
    assert_int_equal(gp_sgd_new(&opt, &p, 0, 0.1f, 0.0f, 0.0f, false), GP_E_INVALID);
    assert_int_equal(gp_sgd_new(NULL, &p, 1, 0.1f, 0.0f, 0.0f, false), GP_E_INVALID);

    /* hyperparameters */
    assert_int_equal(gp_sgd_new(&opt, &p, 1, -0.1f, 0.0f, 0.0f, false), GP_E_INVALID);
    assert_int_equal(gp_sgd_new(&opt, &p, 1, NAN, 0.0f, 0.0f, false), GP_E_INVALID);
    assert_int_equal(gp_sgd_new(&opt, &p, 1, 0.1f, -0.5f, 0.0f, false), GP_E_INVALID);
    assert_int_equal(gp_sgd_new(&opt, &p, 1, 0.1f, 0.0f, -1.0f, false), GP_E_INVALID);
    assert_int_equal(gp_sgd_new(&opt, &p, 1, 0.1f, 0.0f, 0.0f, true), GP_E_INVALID);
    assert_int_equal(gp_adam_new(&opt, &p, 1, 0.1f, 1.0f, 0.999f, 1e-8f, 0.0f), GP_E_INVALID);
    assert_int_equal(gp_adam_new(&opt, &p, 1, 0.1f, 0.9f, -0.1f, 1e-8f, 0.0f), GP_E_INVALID);
    assert_int_equal(gp_adam_new(&opt, &p, 1, 0.1f, 0.9f, 0.999f, -1e-8f, 0.0f), GP_E_INVALID);
    assert_int_equal(gp_adamw_new(&opt, &p, 1, 0.1f, 0.9f, 0.999f, 1e-8f, -0.1f), GP_E_INVALID);
    assert_null(opt);

    gp_tensor_free(&plain);
    gp_tensor_free(&p);
}

/* Failing allocator: every construction failure is GP_E_NOMEM with nothing leaked. */
struct optim_oom {
    int kind; /* 0 sgd, 1 adam, 2 adamw */
    gp_tensor **params;
};

/* Construct one optimiser; when that succeeds, take a step (with no allocation failing) and free it. */
static gp_status construct_and_step(void *ctx)
{
    const struct optim_oom *c = ctx;
    gp_tensor **ps = c->params;
    gp_optim *opt = NULL;
    gp_status st = c->kind == 0   ? gp_sgd_new(&opt, ps, 2, 0.1f, 0.9f, 0.0f, false)
                   : c->kind == 1 ? gp_adam_new(&opt, ps, 2, 0.1f, 0.9f, 0.99f, 1e-8f, 0.0f)
                                  : gp_adamw_new(&opt, ps, 2, 0.1f, 0.9f, 0.99f, 1e-8f, 0.f);
    if (st != GP_OK) {
        assert_null(opt);
        assert_true(contains(gp_last_error(), "out of memory"));
        return st;
    }
    fa_state.fail_at = -1;
    assert_int_equal(gp_optim_step(opt), GP_OK);
    gp_optim_free(&opt);
    return GP_OK;
}

static void test_out_of_memory(void **state)
{
    (void)state;
    gp_set_allocator(fa_allocator());
    fa_reset(-1);
    gp_tensor *a = param_with("a", w_start, NW);
    gp_tensor *b = param_with("b", w_start, 2);
    gp_tensor *ps[2] = {a, b};
    /* the parameters stay alive across the loop: it checks the live count returns to theirs */
    for (int kind = 0; kind < 3; kind++) {
        struct optim_oom c = {kind, ps};
        fa_result r = fa_every_failure(kind == 0 ? "sgd" : kind == 1 ? "adam" : "adamw", construct_and_step, &c);
        assert_true(r.first_ok > 0); /* at least one allocation was made and failed before */
    }
    gp_tensor_free(&a);
    gp_tensor_free(&b);
    assert_int_equal(fa_state.live, 0);
    gp_set_allocator(NULL);
}

/* ---- clipping ---- */

static void test_clip_grad_norm(void **state)
{
    (void)state;
    gp_tensor *a = param_with("a", w_start, 2);
    gp_tensor *b = param_with("b", w_start, 1);
    gp_tensor *ps[2] = {a, b};
    a->grad[0] = 3.0f, a->grad[1] = 0.0f, b->grad[0] = 4.0f;

    /* under the limit: norm returned, nothing changes */
    assert_close(gp_clip_grad_norm(ps, 2, 10.0f), 5.0, 1e-7);
    assert_true(a->grad[0] == 3.0f && a->grad[1] == 0.0f && b->grad[0] == 4.0f);
    assert_close(gp_clip_grad_norm(ps, 2, 5.0f), 5.0, 1e-7); /* exactly at the limit */
    assert_true(a->grad[0] == 3.0f && b->grad[0] == 4.0f);

    /* over the limit: scaled by max_norm / norm, the norm before clipping is returned */
    assert_close(gp_clip_grad_norm(ps, 2, 1.0f), 5.0, 1e-7);
    assert_close(a->grad[0], 0.6, 1e-6);
    assert_true(a->grad[1] == 0.0f);
    assert_close(b->grad[0], 0.8, 1e-6);
    assert_close(gp_clip_grad_norm(ps, 2, 1.0f), 1.0, 1e-6);

    /* the sum of squares is taken in double: 1e20^2 overflows float but not double */
    a->grad[0] = 3e20f, a->grad[1] = 0.0f, b->grad[0] = -4e20f;
    assert_close(gp_clip_grad_norm(ps, 2, 2.0f), 5e20, 1e-6);
    assert_close(a->grad[0], 1.2, 1e-6);
    assert_close(b->grad[0], -1.6, 1e-6);

    /* max_norm 0 zeroes the gradients */
    gp_clip_grad_norm(ps, 2, 0.0f);
    assert_true(a->grad[0] == 0.0f && b->grad[0] == 0.0f);

    /* a non-finite gradient gives a non-finite norm and no scaling */
    a->grad[0] = 1.0f, b->grad[0] = INFINITY;
    assert_true(isinf(gp_clip_grad_norm(ps, 2, 1.0f)));
    assert_true(a->grad[0] == 1.0f);
    b->grad[0] = NAN;
    assert_true(isnan(gp_clip_grad_norm(ps, 2, 1.0f)));
    assert_true(a->grad[0] == 1.0f);

    /* invalid arguments: NaN with a message, nothing changed */
    b->grad[0] = 0.0f;
    gp_clear_error();
    assert_true(isnan(gp_clip_grad_norm(ps, 2, -1.0f)));
    assert_true(contains(gp_last_error(), "clip_grad_norm"));
    assert_true(isnan(gp_clip_grad_norm(NULL, 2, 1.0f)));
    assert_true(a->grad[0] == 1.0f);
    assert_true(gp_clip_grad_norm(ps, 0, 1.0f) == 0.0f);

    gp_tensor_free(&a);
    gp_tensor_free(&b);
}

/* ---- schedules ---- */

static void test_lr_step_decay(void **state)
{
    (void)state;
    assert_close(gp_lr_step_decay(0.1f, 0, 10, 0.5f), 0.1, 1e-7);
    assert_close(gp_lr_step_decay(0.1f, 9, 10, 0.5f), 0.1, 1e-7);
    assert_close(gp_lr_step_decay(0.1f, 10, 10, 0.5f), 0.05, 1e-7);
    assert_close(gp_lr_step_decay(0.1f, 19, 10, 0.5f), 0.05, 1e-7);
    assert_close(gp_lr_step_decay(0.1f, 20, 10, 0.5f), 0.025, 1e-7);
    assert_close(gp_lr_step_decay(1.0f, 300, 100, 0.1f), 1e-3, 1e-6);
    /* gamma 1: constant; step_size <= 0 or negative step: no decay */
    assert_close(gp_lr_step_decay(0.3f, 1000, 7, 1.0f), 0.3, 1e-7);
    assert_close(gp_lr_step_decay(0.3f, 50, 0, 0.5f), 0.3, 1e-7);
    assert_close(gp_lr_step_decay(0.3f, -5, 2, 0.5f), 0.3, 1e-7);
}

static void test_lr_cosine(void **state)
{
    (void)state;
    const float base = 1.0f, min_lr = 0.1f;
    const long warm = 10, total = 110;
    /* linear warm-up from 0, reaching base at step == warmup */
    assert_true(gp_lr_cosine(base, 0, warm, total, min_lr) == 0.0f);
    assert_close(gp_lr_cosine(base, 1, warm, total, min_lr), 0.1, 1e-7);
    assert_close(gp_lr_cosine(base, 5, warm, total, min_lr), 0.5, 1e-7);
    assert_close(gp_lr_cosine(base, 9, warm, total, min_lr), 0.9, 1e-7);
    assert_close(gp_lr_cosine(base, 10, warm, total, min_lr), 1.0, 1e-7);
    /* cosine: halfway (step 60) is the midpoint; quarter (step 35) by formula */
    assert_close(gp_lr_cosine(base, 60, warm, total, min_lr), 0.55, 1e-6);
    assert_close(gp_lr_cosine(base, 35, warm, total, min_lr),
                 0.1 + 0.9 * 0.5 * (1 + cos(M_PI * 0.25)), 1e-6);
    assert_close(gp_lr_cosine(base, 109, warm, total, min_lr),
                 0.1 + 0.9 * 0.5 * (1 + cos(M_PI * 0.99)), 1e-6);
    /* min_lr at total and clamped beyond */
    assert_close(gp_lr_cosine(base, 110, warm, total, min_lr), 0.1, 1e-7);
    assert_close(gp_lr_cosine(base, 1000, warm, total, min_lr), 0.1, 1e-7);
    /* monotone after the warm-up */
    for (long s = warm; s < total; s++)
        assert_true(gp_lr_cosine(base, s + 1, warm, total, min_lr) <=
                    gp_lr_cosine(base, s, warm, total, min_lr));
    /* no warm-up: base at step 0; negative step counts as 0 */
    assert_close(gp_lr_cosine(0.5f, 0, 0, 100, 0.0f), 0.5, 1e-7);
    assert_close(gp_lr_cosine(0.5f, 50, 0, 100, 0.0f), 0.25, 1e-6);
    assert_close(gp_lr_cosine(0.5f, 100, 0, 100, 0.0f), 0.0, 1e-7);
    assert_true(gp_lr_cosine(base, -3, warm, total, min_lr) == 0.0f);
    /* total <= warmup: warm-up, then min_lr */
    assert_close(gp_lr_cosine(base, 5, 10, 10, min_lr), 0.5, 1e-7);
    assert_close(gp_lr_cosine(base, 10, 10, 10, min_lr), 0.1, 1e-7);
}

/* ---- initialisers (tensor.c) ---- */

typedef struct sample_stats {
    double mean, var, max_abs, frac_within_std;
} sample_stats;

static sample_stats stats_of(const gp_tensor *w, double std)
{
    sample_stats s = {0};
    int64_t n = gp_tensor_size(w);
    double sum = 0, sum_sq = 0;
    long within = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = w->data[i];
        sum += x;
        sum_sq += x * x;
        if (fabs(x) > s.max_abs) s.max_abs = fabs(x);
        if (fabs(x) < std) within++;
    }
    s.mean = sum / (double)n;
    s.var = sum_sq / (double)n - s.mean * s.mean;
    s.frac_within_std = (double)within / (double)n;
    return s;
}

enum { FAN_IN = 300, FAN_OUT = 500 };

/* mean ~ 0 and variance within 3% (sampling error of the variance is < 0.4% here) */
static void check_moments(const sample_stats *s, double var)
{
    double n = (double)FAN_IN * FAN_OUT;
    assert_true(fabs(s->mean) < 6.0 * sqrt(var / n));
    if (!(fabs(s->var / var - 1.0) < 0.03)) {
        fprintf(stderr, "variance %g, want %g\n", s->var, var);
        fail();
    }
}

static void test_initialisers(void **state)
{
    (void)state;
    gp_tensor *w = NULL;
    assert_int_equal(gp_param_new(&w, "w", FAN_IN, FAN_OUT), GP_OK);
    gp_rng rng;
    sample_stats s;

    /* Glorot uniform: U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)), variance a^2 / 3 */
    double gain = 1.5;
    double a = gain * sqrt(6.0 / (FAN_IN + FAN_OUT));
    gp_rng_seed(&rng, 11);
    gp_init_glorot_uniform(w, &rng, (float)gain);
    s = stats_of(w, 1.0);
    assert_true(s.max_abs <= a * (1 + 1e-6) && s.max_abs > 0.999 * a);
    check_moments(&s, a * a / 3.0);

    /* Glorot normal: std gain sqrt(2 / (fan_in + fan_out)) */
    gain = 2.0;
    double std = gain * sqrt(2.0 / (FAN_IN + FAN_OUT));
    gp_rng_seed(&rng, 12);
    gp_init_glorot_normal(w, &rng, (float)gain);
    s = stats_of(w, std);
    check_moments(&s, std * std);
    assert_true(fabs(s.frac_within_std - 0.682689) < 0.01);
    assert_true(s.max_abs > 3.0 * std); /* a normal, not a bounded law */

    /* Kaiming uniform: U(-a, a), a = sqrt(6 / fan_in), variance 2 / fan_in */
    a = sqrt(6.0 / FAN_IN);
    gp_rng_seed(&rng, 13);
    gp_init_kaiming_uniform(w, &rng);
    s = stats_of(w, 1.0);
    assert_true(s.max_abs <= a * (1 + 1e-6) && s.max_abs > 0.999 * a);
    check_moments(&s, 2.0 / FAN_IN);

    /* Kaiming normal: std sqrt(2 / fan_in) */
    std = sqrt(2.0 / FAN_IN);
    gp_rng_seed(&rng, 14);
    gp_init_kaiming_normal(w, &rng);
    s = stats_of(w, std);
    check_moments(&s, std * std);
    assert_true(fabs(s.frac_within_std - 0.682689) < 0.01);

    gp_tensor_free(&w);
}

static void test_initialisers_reproducible(void **state)
{
    (void)state;
    gp_tensor *w1 = NULL, *w2 = NULL;
    assert_int_equal(gp_param_new(&w1, "w1", 40, 30), GP_OK);
    assert_int_equal(gp_param_new(&w2, "w2", 40, 30), GP_OK);
    size_t bytes = 40 * 30 * sizeof(float);
    gp_rng r1, r2;
    for (int kind = 0; kind < 4; kind++) {
        gp_rng_seed(&r1, 77);
        gp_rng_seed(&r2, 77);
        gp_tensor *ws[2] = {w1, w2};
        gp_rng *rs[2] = {&r1, &r2};
        for (int j = 0; j < 2; j++) {
            switch (kind) {
            case 0: gp_init_glorot_uniform(ws[j], rs[j], 1.0f); break;
            case 1: gp_init_glorot_normal(ws[j], rs[j], 1.0f); break;
            case 2: gp_init_kaiming_uniform(ws[j], rs[j]); break;
            default: gp_init_kaiming_normal(ws[j], rs[j]); break;
            }
        }
        assert_memory_equal(w1->data, w2->data, bytes);
        /* a different seed gives different values */
        gp_rng_seed(&r2, 78);
        switch (kind) {
        case 0: gp_init_glorot_uniform(w2, &r2, 1.0f); break;
        case 1: gp_init_glorot_normal(w2, &r2, 1.0f); break;
        case 2: gp_init_kaiming_uniform(w2, &r2); break;
        default: gp_init_kaiming_normal(w2, &r2); break;
        }
        assert_memory_not_equal(w1->data, w2->data, bytes);
    }
    gp_tensor_free(&w1);
    gp_tensor_free(&w2);
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_plain_closed_form),
        cmocka_unit_test(test_sgd_momentum),
        cmocka_unit_test(test_sgd_nesterov),
        cmocka_unit_test(test_sgd_weight_decay),
        cmocka_unit_test(test_adam_first_steps),
        cmocka_unit_test(test_adam_bias_correction),
        cmocka_unit_test(test_adam_l2_vs_adamw_decoupled),
        cmocka_unit_test(test_state_transfer),
        cmocka_unit_test(test_zero_grad_and_lr),
        cmocka_unit_test(test_nonfinite_gradient_rejected),
        cmocka_unit_test(test_invalid_construction),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_clip_grad_norm),
        cmocka_unit_test(test_lr_step_decay),
        cmocka_unit_test(test_lr_cosine),
        cmocka_unit_test(test_initialisers),
        cmocka_unit_test(test_initialisers_reproducible),
    };
    int rc = cmocka_run_group_tests_name("optim", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
