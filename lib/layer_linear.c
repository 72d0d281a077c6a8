/*
 * Linear layer and MLP builder.
 *   Linear:  Y = X W + b  (W in x out, Glorot uniform; b 1 x out, zero); sparse X: gp_sparse_matmul.
 *            Dense X runs as one fused gp_addmm (sgemm adds X W into rows of b: no zero-fill,
 *            no separate bias pass), gp_i_linear_residual as C + X W + b for a residual C.
 *            Gradients dW = X^T dY, db = column sums of dY, dX = dY W^T (from gp_addmm).
 *   MLP:     a stack (module.c) of linear layers with norm + activation between them and dropout
 *            before every layer but the first, as in the GIN paper's MLPs (Linear-BN-ReLU-Linear).
 */
#include "layer_affine.h"

static gp_tensor *linear_run(gp_module *m, gp_tape *t, gp_tensor *x, const gp_csr *xs, float dropout)
{
    gp_i_affine *l = m->impl;
    if (!xs) return gp_addmm(t, NULL, x, l->weight, l->bias);
    gp_tensor *y = gp_i_input_matmul(t, m, x, xs, dropout, l->weight);
    return l->bias ? gp_add(t, y, l->bias) : y;
}

static const gp_module_ops linear_ops;

gp_tensor *gp_i_linear_residual(gp_module *m, gp_tape *t, gp_tensor *c, gp_tensor *x)
{
    if (!t) return NULL;
    if (!m || m->ops != &linear_ops) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "linear residual: not a linear module");
        return NULL;
    }
    gp_i_affine *l = m->impl;
    return gp_addmm(t, c, x, l->weight, l->bias);
}

gp_tensor *gp_i_linear_gather_mul(gp_module *m, gp_tape *t, gp_tensor *a, const int64_t *ia,
                                  const int64_t *ib, int64_t n)
{
    if (!t) return NULL;
    if (!m || m->ops != &linear_ops) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "linear gather-multiply: not a linear module");
        return NULL;
    }
    gp_i_affine *l = m->impl;
    return gp_gather_mul_affine(t, a, ia, ib, n, l->weight, l->bias);
}

static gp_tensor *linear_forward(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    (void)g;
    return linear_run(m, t, x, NULL, 0.0f);
}

static gp_tensor *linear_forward_csr(gp_module *m, gp_tape *t, gp_graph *g, const gp_csr *x,
                                     float dropout)
{
    (void)g;
    return linear_run(m, t, NULL, x, dropout);
}

static const gp_module_ops linear_ops = {"linear", linear_forward, linear_forward_csr, NULL};

gp_status gp_i_affine_new(gp_module **out, const gp_module_ops *ops, int64_t in_dim, int64_t out_dim,
                          bool bias, gp_rng *rng)
{
    gp_status st = gp_module_alloc(out, ops, in_dim, out_dim, sizeof(gp_i_affine), rng);
    if (st != GP_OK) return st;
    gp_i_affine *l = (*out)->impl;
    GP_TRY(gp_i_add_weight(*out, &l->weight, "weight", in_dim, out_dim, rng));
    if (bias) GP_TRY(gp_module_add_param(*out, &l->bias, "bias", 1, out_dim));
    return GP_OK;
fail:
    gp_module_free(out);
    return st;
}

gp_status gp_linear_new(gp_module **out, int64_t in_dim, int64_t out_dim, bool bias, gp_rng *rng)
{
    return gp_i_affine_new(out, &linear_ops, in_dim, out_dim, bias, rng);
}

gp_status gp_mlp_new(gp_module **out, int64_t in_dim, int num_hidden, const int64_t *hidden,
                     int64_t out_dim, const gp_mlp_options *opt, gp_rng *rng)
{
    if (!out || !rng || num_hidden < 0 || (num_hidden > 0 && !hidden))
        return GP_ERR(GP_E_INVALID, "gp_mlp_new: bad arguments");
    *out = NULL;
    gp_mlp_options o = opt ? *opt : (gp_mlp_options){.act = GP_ACT_RELU};
    gp_stack_options so = {.act = o.act, .dropout = o.dropout, .norm = o.norm};
    gp_module *stack = NULL, *layer = NULL;
    gp_status st;
    GP_TRY(gp_stack_new(&stack, &so, rng));
    int64_t prev = in_dim;
    for (int l = 0; l <= num_hidden; l++) {
        int64_t next = l < num_hidden ? hidden[l] : out_dim;
        GP_TRY(gp_linear_new(&layer, prev, next, true, rng));
        GP_TRY(gp_stack_add(stack, &layer));
        prev = next;
    }
    *out = stack;
    return GP_OK;
fail:
    gp_module_free(&layer);
    gp_module_free(&stack);
    return st;
}
