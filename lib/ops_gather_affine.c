/*
 * Gather-multiply and affine map as one op:  Z = (A[ia] * A[ib]) W + b   (n x out), the first
 * layer of GPN's edge scorer on h_u * h_v (Song et al. 2024; graphpool/gpn.c).
 *
 * Forward: the n x in products P = A[ia] * A[ib] are a temporary, handed back after the
 * product; Z has the bits of gp_addmm(NULL, gp_gather_mul(t, A, ia, A, ib, n), W, b) (b copied
 * into Z, then Z += P W by the same product kernel).
 * Backward, over the rows R of dZ that are not all zero only (in GPN an edge between two
 * clusters gets no gradient: 44 % of PROTEINS' edges), with P_R recomputed from A:
 *   dP_R = dZ_R W^T,   dW += P_R^T dZ_R,   db += the column sums of dZ_R (rows in order),
 *   dA[ia[k]] += dP_k * A[ib[k]],  dA[ib[k]] += dP_k * A[ia[k]]   (gp_i_scatter_products).
 * When every row has a gradient these are the products and sums of the two unfused ops' backward,
 * in their order, with their bits; otherwise the products run over fewer rows and round
 * differently (dW; dA too with OpenBLAS's kernels, not with gemm_avx512.c's). Nothing but Z
 * stays on the tape (the unfused pair kept P as well).
 */
#include <string.h>

#include "internal.h"

static gp_status gather_mul_affine_backward(gp_tape *t, gp_node *node)
{
    gp_tensor *a = node->in[0], *w = node->in[1], *bias = node->in[2], *z = node->out;
    const int64_t *ia = node->p[0], *ib = node->p[1];
    int64_t n = z->rows, din = a->cols, dout = z->cols;
    const float *dz = z->grad;
    /* gradient buffers first: the scratch allocated after them is handed back at the end */
    float *ga = NULL, *gw = NULL, *gb = NULL;
    bool assign_w = false, assign_b = false;
    if (gp_i_needs_grad(a) && !(ga = gp_i_grad(t, a))) return GP_E_NOMEM;
    if (gp_i_needs_grad(w) && !(gw = gp_i_grad_acc(t, w, &assign_w))) return GP_E_NOMEM;
    if (gp_i_needs_grad(bias) && !(gb = gp_i_grad_acc(t, bias, &assign_b))) return GP_E_NOMEM;
    int64_t *rows = gp_tape_alloc(t, (size_t)(n > 0 ? n : 1) * sizeof *rows);
    unsigned char *has = gp_tape_alloc(t, (size_t)(n > 0 ? n : 1));
    if (!rows || !has) return GP_E_NOMEM;
    int nt = gp_i_threads();
    /* which rows have a gradient (reading all of dZ: in parallel), then their list in order */
    GP_I_FOR_PARTS(n * dout, n, lo, hi,
        for (int64_t k = lo; k < hi; k++) has[k] = !gp_i_all_zero(dz + k * dout, dout););
    int64_t count = 0;
    for (int64_t k = 0; k < n; k++)
        if (has[k]) rows[count++] = k;
    const float *dzr = dz;
    const int64_t *ja = ia, *jb = ib;
    if (count < n) { /* the rows with a gradient, compacted */
        float *d = gp_tape_alloc(t, gp_i_mul_size((size_t)(count > 0 ? count : 1), (size_t)dout * sizeof(float)));
        int64_t *ca = gp_tape_alloc(t, (size_t)(count > 0 ? count : 1) * sizeof *ca);
        int64_t *cb = gp_tape_alloc(t, (size_t)(count > 0 ? count : 1) * sizeof *cb);
        if (!d || !ca || !cb) return GP_E_NOMEM;
        GP_I_FOR_PARTS(count * dout, count, lo, hi,
            for (int64_t i = lo; i < hi; i++) {
                memcpy(d + i * dout, dz + rows[i] * dout, (size_t)dout * sizeof(float));
                ca[i] = ia[rows[i]], cb[i] = ib[rows[i]];
            });
        dzr = d, ja = ca, jb = cb;
    }
    float *p = gp_tape_alloc(t, gp_i_mul_size((size_t)(count > 0 ? count : 1), (size_t)din * sizeof(float)));
    if (!p) return GP_E_NOMEM;
    gp_i_gather_products(p, a->data, ja, a->data, jb, count, din);
    gp_status st = GP_OK;
    if (ga) { /* gp_addmm's dX (into a fresh buffer), then gather_mul's backward */
        float *dp = gp_tape_alloc(t, gp_i_mul_size((size_t)(count > 0 ? count : 1), (size_t)din * sizeof(float)));
        if (!dp) return GP_E_NOMEM;
        gp_i_gemm(false, true, count, din, dout, 1.0f, dzr, dout, w->data, dout, 0.0f, dp, din);
        gp_i_product_terms l0 = {ja, jb, a->data}, l1 = {jb, ja, a->data};
        st = gp_i_scatter_products(t, ga, a->rows, dp, count, din, &l0, &l1);
    }
    if (st == GP_OK && gw)
        gp_i_gemm(true, false, din, dout, count, 1.0f, p, din, dzr, dout, assign_w ? 0.0f : 1.0f, gw, dout);
    if (st == GP_OK && gb) gp_i_column_sums(gb, dzr, count, dout, 1.0f, assign_b); /* gp_addmm's bits */
    gp_i_tape_release_from(t, rows);
    return st;
}

static const gp_op_info gather_mul_affine_op = {"gather_mul_affine", gather_mul_affine_backward};

gp_tensor *gp_gather_mul_affine(gp_tape *t, gp_tensor *a, const int64_t *ia, const int64_t *ib,
                                int64_t n, gp_tensor *w, gp_tensor *bias)
{
    gp_tensor *aw[2] = {a, w};
    if (!gp_i_begin(t, 2, aw)) return NULL;
    if (n < 0) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "gather_mul_affine: negative count %lld", (long long)n);
        return NULL;
    }
    int64_t din = a->cols, dout = w->cols;
    if (!GP_TAPE_CHECK(t, w->rows == din && (!bias || (bias->rows == 1 && bias->cols == dout)),
                       "gather_mul_affine: A has %lld columns, W is %lld x %lld, bias %lld x %lld",
                       (long long)din, (long long)w->rows, (long long)dout,
                       bias ? (long long)bias->rows : 0LL, bias ? (long long)bias->cols : 0LL))
        return NULL;
    if (!gp_i_check_indices(t, "gather_mul_affine", ia, n, a->rows) ||
        !gp_i_check_indices(t, "gather_mul_affine", ib, n, a->rows))
        return NULL;
    gp_tensor *z = gp_i_out(t, n, dout);
    if (!z) return NULL;
    float *p = gp_tape_alloc(t, gp_i_mul_size((size_t)(n > 0 ? n : 1), (size_t)din * sizeof(float)));
    if (!p) return NULL;
    gp_i_gather_products(p, a->data, ia, a->data, ib, n, din);
    float *zd = z->data;
    gp_i_rows_plus_bias(zd, NULL, bias ? bias->data : NULL, n, dout); /* gp_addmm's prefill */
    gp_i_gemm(false, false, n, dout, din, 1.0f, p, din, w->data, dout, bias ? 1.0f : 0.0f, zd, dout);
    gp_i_tape_release_from(t, p);
    gp_tensor *in[3] = {a, w, bias};
    gp_node *node = gp_i_record(t, &gather_mul_affine_op, z, 3, in);
    if (node) {
        node->p[0] = ia;
        node->p[1] = ib;
    }
    return gp_i_done(t, z);
}
