/*
 * Finite-difference gradient check shared by the op tests.
 *
 * forward(t, inputs, ctx) builds an output from parameter tensors (gp_param_new). The checked
 * scalar is L = sum(out .* R) with a fixed random R, so every output entry is exercised. The
 * analytic gradient comes from gp_tape_backward_from(out, R); the numerical one from central
 * differences (L(x + h) - L(x - h)) / 2h accumulated in double. forward must be deterministic
 * (reseed any rng inside it) and inputs should stay away from kinks (relu at 0, ties in max).
 */
#ifndef GP_TEST_GRADCHECK_H
#define GP_TEST_GRADCHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <graphpool/graphpool.h>

typedef gp_tensor *(*gc_forward)(gp_tape *t, gp_tensor **inputs, void *ctx);

static double gc_loss(gp_tensor *out, const float *r)
{
    double s = 0.0;
    for (int64_t i = 0; i < gp_tensor_size(out); i++) s += (double)out->data[i] * r[i];
    return s;
}

/* Returns the worst |analytic - numeric| / max(1, |numeric|) over all entries of all inputs
 * (or INFINITY if the forward failed); prints the first failing entry above tol. */
static double gc_check_eps(gc_forward f, void *ctx, gp_tensor **inputs, int n, double h, double tol)
{
    gp_tape *t = NULL;
    if (gp_tape_new(&t) != GP_OK) return INFINITY;
    for (int i = 0; i < n; i++) gp_tensor_zero_grad(inputs[i]);
    gp_tensor *out = f(t, inputs, ctx);
    if (!out) {
        fprintf(stderr, "gradcheck: forward failed: %s\n", gp_last_error());
        gp_tape_free(&t);
        return INFINITY;
    }
    int64_t m = gp_tensor_size(out);
    float *r = malloc((size_t)(m > 0 ? m : 1) * sizeof(float));
    gp_rng rng;
    gp_rng_seed(&rng, 12345);
    for (int64_t i = 0; i < m; i++) r[i] = gp_rng_uniform(&rng) * 2.0f - 1.0f;
    if (gp_tape_backward_from(t, out, r) != GP_OK) {
        fprintf(stderr, "gradcheck: backward failed: %s\n", gp_last_error());
        free(r);
        gp_tape_free(&t);
        return INFINITY;
    }
    double worst = 0.0;
    int reported = 0;
    for (int a = 0; a < n; a++) {
        gp_tensor *x = inputs[a];
        for (int64_t i = 0; i < gp_tensor_size(x); i++) {
            float saved = x->data[i];
            x->data[i] = (float)(saved + h);
            gp_tape_reset(t);
            double lp = gc_loss(f(t, inputs, ctx), r);
            x->data[i] = (float)(saved - h);
            gp_tape_reset(t);
            double lm = gc_loss(f(t, inputs, ctx), r);
            x->data[i] = saved;
            double num = (lp - lm) / (2.0 * h);
            double ana = x->grad[i];
            double err = fabs(num - ana) / fmax(1.0, fabs(num));
            if (err > worst) worst = err;
            if (err > tol && reported++ < 3)
                fprintf(stderr, "gradcheck: input %d entry %lld: analytic %.6g numeric %.6g\n", a,
                        (long long)i, ana, num);
        }
    }
    free(r);
    gp_tape_free(&t);
    return worst;
}

static double gc_check(gc_forward f, void *ctx, gp_tensor **inputs, int n)
{
    return gc_check_eps(f, ctx, inputs, n, 1e-2, 1e-2);
}

/* Fill a parameter with uniform values in [lo, hi). */
static void gc_fill(gp_tensor *x, gp_rng *rng, float lo, float hi)
{
    for (int64_t i = 0; i < gp_tensor_size(x); i++) x->data[i] = lo + (hi - lo) * gp_rng_uniform(rng);
}

/* A parameter (rows x cols) filled uniformly in [lo, hi); the test exits if it cannot be made. */
static inline gp_tensor *gc_param(gp_rng *rng, const char *name, int64_t rows, int64_t cols, float lo,
                                  float hi)
{
    gp_tensor *x = NULL;
    if (gp_param_new(&x, name, rows, cols) != GP_OK) {
        fprintf(stderr, "gc_param: %s\n", gp_last_error());
        exit(1);
    }
    gc_fill(x, rng, lo, hi);
    return x;
}

/* A parameter (rows x cols) filled uniformly in [-1, 1) from a generator seeded with seed. */
static inline gp_tensor *gc_param_seeded(const char *name, int64_t rows, int64_t cols, uint64_t seed)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    return gc_param(&rng, name, rows, cols, -1.0f, 1.0f);
}

/* A new tape; the test exits if it cannot be made. */
static inline gp_tape *gc_tape(void)
{
    gp_tape *t = NULL;
    if (gp_tape_new(&t) != GP_OK) {
        fprintf(stderr, "gc_tape: %s\n", gp_last_error());
        exit(1);
    }
    return t;
}

#endif
