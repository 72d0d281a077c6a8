/*
 * Inverted dropout (Srivastava et al. 2014):
 *   keep_i ~ Bernoulli(1 - p),  y_i = keep_i * x_i / (1 - p);   dx_i = keep_i * dy_i / (1 - p).
 * Identity (the input itself is returned) when the tape is not training or p == 0, so the
 * expected value of y equals x in both modes and eval needs no rescaling.
 * The mask is drawn serially from rng in row-major order (element i dropped when the i-th
 * uniform draw is < p), so the same seed gives the same mask for any thread count. It is kept
 * in tape memory (one byte per element) for the backward pass.
 */
#include "internal.h"

static gp_status dropout_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *a = n->in[0];
    if (!gp_i_needs_grad(a)) return GP_OK;
    bool assign;
    float *ga = gp_i_grad_acc(t, a, &assign);
    if (!ga) return GP_E_NOMEM;
    const unsigned char *keep = n->p[0];
    const float *dy = n->out->grad;
    float scale = n->f[0];
    int64_t size = gp_tensor_size(a);
    if (assign)
        for (int64_t i = 0; i < size; i++) ga[i] = dy[i] * ((float)keep[i] * scale); /* no branch */
    else
        for (int64_t i = 0; i < size; i++) ga[i] += dy[i] * ((float)keep[i] * scale);
    return GP_OK;
}

static const gp_op_info dropout_op = {"dropout", dropout_backward};

gp_tensor *gp_dropout(gp_tape *t, gp_tensor *a, float p, gp_rng *rng)
{
    if (!gp_i_begin(t, 1, &a)) return NULL;
    if (!(p >= 0.0f && p < 1.0f)) { /* also rejects NaN */
        GP_TAPE_FAIL(t, GP_E_INVALID, "dropout: probability %g is not in [0, 1)", (double)p);
        return NULL;
    }
    if (!gp_i_training(t) || p == 0.0f) return gp_i_done(t, a); /* identity */
    if (!rng) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "dropout: rng is NULL");
        return NULL;
    }
    int64_t size = gp_tensor_size(a);
    gp_tensor *out = gp_i_out(t, a->rows, a->cols);
    if (!out) return NULL;
    unsigned char *keep = gp_tape_alloc(t, (size_t)(size > 0 ? size : 1));
    if (!keep) return NULL;
    float scale = 1.0f / (1.0f - p);
    /* gp_rng_uniform(rng) >= p, i.e. (u >> 40) 2^-24 >= p, is exactly (u >> 40) >= p 2^24 in
     * float (both sides exact); the state stays in registers for the whole loop. */
    float threshold = p * 16777216.0f;
    uint64_t s[4] = {rng->s[0], rng->s[1], rng->s[2], rng->s[3]};
    for (int64_t i = 0; i < size; i++) { /* serial: the draw order defines the mask */
        keep[i] = (float)(gp_i_xoshiro_next(s) >> 40) >= threshold;
        out->data[i] = a->data[i] * ((float)keep[i] * scale); /* branch-free: the mask is random */
    }
    for (int k = 0; k < 4; k++) rng->s[k] = s[k];
    gp_node *n = gp_i_record(t, &dropout_op, out, 1, &a);
    if (n) {
        n->f[0] = scale;
        n->p[0] = keep;
    }
    return gp_i_done(t, out);
}
