/*
 * GAT layer (Veličković et al. 2018, "Graph Attention Networks"), H heads of width F:
 *   Z = X W                                  (n x H*F; head h = columns [hF, (h+1)F))
 *   s_i[h] = a_dst[h] . Z_i[h],  r_j[h] = a_src[h] . Z_j[h]
 *   e_ij[h] = LeakyReLU(s_i[h] + r_j[h], 0.2)     over the entries (i, j) of A + I
 *   alpha_ij[h] = exp(e_ij[h]) / sum_{k in N(i) + i} exp(e_ik[h])   (gp_segment_softmax on adj.ptr)
 *   Y_i[h] = sum_j dropout(alpha_ij[h]) Z_j[h]    (gp_spmm with nnz x H edge values)
 *   Y = concat_h Y[h] (H*F wide) or (1/H) sum_h Y[h] (F wide), + b
 * A + I is the structure of gp_graph_gcn_norm(g) (cached on the graph with its transpose, so
 * nothing is rebuilt per step); its values are not used. The per-head dots are
 * (Z .* a) B with B the H*F x H block matrix of ones; the edge terms are row gathers.
 * Gradients come from the ops used (matmul, mul, gather, leaky_relu, segment softmax,
 * dropout, spmm to both Z and the edge values).
 */
#include <math.h>

#include "layer_common.h"

typedef struct gat_impl {
    gp_gat_options opt;
    gp_tensor *weight, *att_src, *att_dst, *bias;
    gp_tensor *last_alpha;        /* attention of the last forward (tape temporary) */
    const gp_graph *last_graph;
} gat_impl;

static gp_tensor *gat_run(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x, const gp_csr *xs,
                          float dropout)
{
    gat_impl *l = m->impl;
    l->last_alpha = NULL;
    l->last_graph = NULL;
    if (!gp_i_check_layer_graph(t, "gat", g, x ? x->rows : xs->rows)) return NULL;
    const gp_graph *loops = NULL;
    gp_status st = gp_graph_gcn_norm(&loops, g);
    if (st != GP_OK) {
        GP_TAPE_FAIL(t, st, "gat: cannot add self-loops (%s)", gp_last_error_message());
        return NULL;
    }
    /* attention needs every entry: an implicit graph's explicit form (cached) */
    if (!(loops = gp_i_graph_explicit_tape(t, "gat", loops))) return NULL;
    const gp_csr *adj = &loops->adj;
    int64_t H = l->opt.heads, F = l->weight->cols / H, n = adj->rows;
    gp_tensor *z = gp_i_input_matmul(t, m, x, xs, dropout, l->weight);
    gp_tensor *blocks = gp_tape_tensor(t, H * F, H);
    const int64_t *rows = gp_i_entry_rows(t, adj);
    if (!blocks || !rows || !z) return NULL;
    for (int64_t h = 0; h < H; h++)
        for (int64_t c = h * F; c < (h + 1) * F; c++) blocks->data[c * H + h] = 1.0f;
    gp_tensor *s = gp_matmul(t, gp_mul(t, z, l->att_dst), blocks, false, false);
    gp_tensor *r = gp_matmul(t, gp_mul(t, z, l->att_src), blocks, false, false);
    gp_tensor *e = gp_add(t, gp_gather_rows(t, s, rows, adj->nnz), gp_gather_rows(t, r, adj->idx, adj->nnz));
    gp_tensor *alpha = gp_segment_softmax(t, gp_leaky_relu(t, e, l->opt.negative_slope), adj->ptr, n);
    l->last_alpha = alpha;
    l->last_graph = loops;
    gp_tensor *y = gp_spmm(t, loops, gp_dropout(t, alpha, l->opt.attn_dropout, &m->rng), z);
    if (!l->opt.concat && H > 1) {
        gp_tensor *avg = gp_tape_tensor(t, H * F, F);
        if (!avg) return NULL;
        for (int64_t h = 0; h < H; h++)
            for (int64_t c = 0; c < F; c++) avg->data[(h * F + c) * F + c] = 1.0f / (float)H;
        y = gp_matmul(t, y, avg, false, false);
    }
    return l->bias ? gp_add(t, y, l->bias) : y;
}

static gp_tensor *gat_forward(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    return gat_run(m, t, g, x, NULL, 0.0f);
}

static gp_tensor *gat_forward_csr(gp_module *m, gp_tape *t, gp_graph *g, const gp_csr *x, float dropout)
{
    return gat_run(m, t, g, NULL, x, dropout);
}

static const gp_module_ops gat_ops = {"gat", gat_forward, gat_forward_csr, NULL};

gp_status gp_gat_new(gp_module **out, int64_t in_dim, int64_t out_per_head, const gp_gat_options *opt,
                     gp_rng *rng)
{
    gp_gat_options o = opt ? *opt
                           : (gp_gat_options){.heads = 1, .concat = true, .negative_slope = 0.2f, .bias = true};
    if (o.heads < 1 || out_per_head < 1 || !(o.attn_dropout >= 0.0f && o.attn_dropout < 1.0f) ||
        !isfinite(o.negative_slope)) {
        if (out) *out = NULL;
        return GP_ERR(GP_E_INVALID, "gp_gat_new: need heads >= 1 (%d), width >= 1 (%lld), "
                      "attention dropout in [0, 1) (%g)", o.heads, (long long)out_per_head,
                      (double)o.attn_dropout);
    }
    int64_t HF = (int64_t)o.heads * out_per_head, width = o.concat ? HF : out_per_head;
    gp_status st = gp_module_alloc(out, &gat_ops, in_dim, width, sizeof(gat_impl), rng);
    if (st != GP_OK) return st;
    gat_impl *l = (*out)->impl;
    l->opt = o;
    GP_TRY(gp_i_add_weight(*out, &l->weight, "weight", in_dim, HF, rng));
    /* Glorot over each head's F x 1 attention vector, as PyG's glorot on (1, H, F) */
    float bound = sqrtf(6.0f / (float)(o.heads + out_per_head));
    GP_TRY(gp_module_add_param(*out, &l->att_src, "att_src", 1, HF));
    gp_init_uniform(l->att_src, rng, -bound, bound);
    GP_TRY(gp_module_add_param(*out, &l->att_dst, "att_dst", 1, HF));
    gp_init_uniform(l->att_dst, rng, -bound, bound);
    if (o.bias) GP_TRY(gp_module_add_param(*out, &l->bias, "bias", 1, width));
    return GP_OK;
fail:
    gp_module_free(out);
    return st;
}

gp_status gp_gat_last_attention(gp_tensor **alpha, const gp_graph **graph, const gp_module *gat)
{
    if (!alpha || !graph || !gat) return GP_ERR(GP_E_INVALID, "gp_gat_last_attention: NULL argument");
    if (gat->ops != &gat_ops || !((gat_impl *)gat->impl)->last_alpha)
        return GP_ERR(GP_E_STATE, "gp_gat_last_attention: not a GAT layer, or no forward has run");
    *alpha = ((gat_impl *)gat->impl)->last_alpha;
    *graph = ((gat_impl *)gat->impl)->last_graph;
    return GP_OK;
}
