/*
 * WalkPool walk profile (Pan, Shi & Dokmanic, ICLR 2022), one tape op: logits -> features.
 *
 * Per link (a, b) and head, on its subgraph (n nodes, m stored edges), in double precision:
 *   P+ = row softmax of the logits (row v = v's incoming edges), P- = the same without the
 *   entries (b, a) and (a, b) (rows a and b renormalised; empty -> zero row).
 *   Column chains C^x_i = P+^i e_x,  row chains R^x_i = e_x^T P-^i   (x in {a, b}, i <= T+1)
 *   node+_tau = C^a_tau[a] + C^b_tau[b],  link+_tau = C^b_tau[a] + C^a_tau[b],
 *   node-_tau = R^a_tau[a] + R^b_tau[b],  link-_tau = R^a_tau[b] + R^b_tau[a].
 *   P+ - P- = sum_x e_x d_x with d_x = row x of (P+ - P-) (only rows a, b differ), so
 *   tr P+^tau - tr P-^tau = sum_{i+j=tau-1} tr(P+^i (P+ - P-) P-^j)
 *                         = sum_x sum_{i+j=tau-1} <W^x_j, C^x_i>,   W^x_j = d_x P-^j (j <= T).
 *   (An exact identity, like the determinant-lemma route, with plain inner products instead of a
 *   power-series logarithm.)  omega = sigmoid(s_ab) + sigmoid(s_ba).
 * Cost O(m T + n T^2) per link and head (6 vector chains) instead of dense O(n^3 T).
 *
 * All chains of one link advance together, interleaved per node (the 2 R and 2 W chains of every
 * head over P-, the 2 C chains of every head over P+), so one pass over the entries serves 4H
 * (resp. 2H) vectors; the work is parallel over links.
 * Backward (reverse mode through the same recurrences, whose vectors the forward pass keeps in
 * the tape's arena: 6 (T + 2) n + 3 m doubles per link and head, reused across steps):
 *   row chain r' = r P:     adj r[v] += sum_{k in row v} P_k adj r'[col_k],  dP_k += r[v] adj r'[col_k]
 *   column chain c' = P c:  adj c[col_k] += P_k adj c'[v],                  dP_k += adj c'[v] c[col_k]
 *   W^x_0 = d_x: dP+_k += adj W^x_0[col_k], dP-_k -= adj W^x_0[col_k] over row x.
 *   Rows other than a, b of P- equal P+, so their dP- joins dP+; row softmax backward
 *   ds_k = p_k (dP_k - sum_row p dP), for P- rows a, b over the remaining entries only;
 *   omega: ds += g sigma (1 - sigma).
 */
#include <math.h>
#include <string.h>

#include <graphpool/walkpool.h>

#include "internal.h"

typedef struct wp_ctx {
    const gp_csr *adj;
    const int64_t *graph_ptr;
    const int64_t *pairs;
    const int64_t *target_entry; /* 2 per link: entry (row b, col a), entry (row a, col b) */
    int64_t links, heads;
    int T;
    double *state;            /* forward chains of every link (kept for backward) */
    double *adj_state;        /* backward: adjoints, same layout */
    const int64_t *state_off; /* per link offset into state */
    size_t state_total;
    int32_t *index;           /* per link: local CSR and its transpose (see link_index) */
    const int64_t *index_off; /* per link offset into index */
} wp_ctx;

/*
 * Layout of one link's state (n nodes, m entries, H heads, TT = T + 2 steps): all chains of a
 * kind advance together, interleaved per node, so one pass over the entries serves every head
 * and source:
 *   RB_i[v][j], j < 4H: j = x H + h is R^x_i (head h), j = 2H + x H + h is W^x_i;
 *                       (W only needs i <= T; its last step is computed and never read)
 *   CB_i[v][j], j < 2H: j = x H + h is C^x_i;
 *   then s, P+, P- as [entry][head], then P+ and P- in transpose order.
 * The backward's adjoints use the same layout (dP+, dP-, ds in place of s, P+, P-).
 * Every kernel is a gather over rows (of the local CSR or of its transpose): sums stay in
 * registers, no scatter, no zeroing of outputs.
 */
static size_t link_state_size(int T, int64_t n, int64_t m, int64_t H)
{
    return (size_t)(T + 2) * (size_t)n * (size_t)(6 * H) + 5 * (size_t)m * (size_t)H;
}

/* int32 entries of a link's index: ptr (n+1), idx (m), tptr (n+1), tidx (m), tperm (m). */
static size_t link_index_size(int64_t n, int64_t m) { return 2 * (size_t)(n + 1) + 3 * (size_t)m; }

/* out[v][j] = sum_{k in row v} p[k][j mod H] in[idx_k][j]   (J = q H interleaved vectors).
 * Inlined with constant H, J for the common cases. */
static inline __attribute__((always_inline)) void gather_fwd(double *restrict out, const double *restrict in,
                                                             const double *restrict p, const int32_t *ptr,
                                                             const int32_t *idx, int64_t n, int64_t H, int64_t J)
{
    for (int64_t v = 0; v < n; v++) {
        double *acc = out + v * J;
        for (int64_t j = 0; j < J; j++) acc[j] = 0.0;
        for (int64_t k = ptr[v]; k < ptr[v + 1]; k++) {
            const double *c = in + (int64_t)idx[k] * J;
            const double *pk = p + k * H;
            for (int64_t q = 0; q < J; q += H)
                for (int64_t h = 0; h < H; h++) acc[q + h] += pk[h] * c[q + h];
        }
    }
}

/* Reverse of out[u] = sum_{k in column u} p[k] in[row_k], written as a gather over rows:
 *   adj_in[v][j] += sum_{k in row v} p[k][h] adj_out[idx_k][j],
 *   dp[perm ? perm[k] : k][h] += sum_q in[v][qH+h] adj_out[idx_k][qH+h]. */
static inline __attribute__((always_inline)) void gather_back(double *restrict adj_in, double *restrict dp,
                                                              const double *restrict in,
                                                              const double *restrict adj_out,
                                                              const double *restrict p, const int32_t *ptr,
                                                              const int32_t *idx, const int32_t *perm, int64_t n,
                                                              int64_t H, int64_t J)
{
    for (int64_t v = 0; v < n; v++) {
        const double *r = in + v * J;
        double *acc = adj_in + v * J;
        for (int64_t k = ptr[v]; k < ptr[v + 1]; k++) {
            const double *g = adj_out + (int64_t)idx[k] * J;
            const double *pk = p + k * H;
            double *dk = dp + (perm ? (int64_t)perm[k] : k) * H;
            for (int64_t q = 0; q < J; q += H)
                for (int64_t h = 0; h < H; h++) {
                    acc[q + h] += pk[h] * g[q + h];
                    dk[h] += r[q + h] * g[q + h];
                }
        }
    }
}

/* The kernels for H heads and J = q H vectors; H = 1 and 2 get constant-folded copies, compiled
 * twice (baseline and AVX2, chosen at run time like spmm.c; the same operations in the same order,
 * so both give identical results). */
#define DEFINE_WALK_KERNELS(SUFFIX, ATTR)                                                              \
    ATTR static void fwd_##SUFFIX(double *out, const double *in, const double *p, const int32_t *ptr,  \
                                  const int32_t *idx, int64_t n, int64_t H, int64_t q)                 \
    {                                                                                                  \
        if (H == 2 && q == 4) gather_fwd(out, in, p, ptr, idx, n, 2, 8);                               \
        else if (H == 2 && q == 2) gather_fwd(out, in, p, ptr, idx, n, 2, 4);                          \
        else if (H == 1 && q == 4) gather_fwd(out, in, p, ptr, idx, n, 1, 4);                          \
        else if (H == 1 && q == 2) gather_fwd(out, in, p, ptr, idx, n, 1, 2);                          \
        else gather_fwd(out, in, p, ptr, idx, n, H, q * H);                                            \
    }                                                                                                  \
    ATTR static void back_##SUFFIX(double *adj_in, double *dp, const double *in, const double *adj_out, \
                                   const double *p, const int32_t *ptr, const int32_t *idx,            \
                                   const int32_t *perm, int64_t n, int64_t H, int64_t q)               \
    {                                                                                                  \
        if (H == 2 && q == 4) gather_back(adj_in, dp, in, adj_out, p, ptr, idx, perm, n, 2, 8);        \
        else if (H == 2 && q == 2) gather_back(adj_in, dp, in, adj_out, p, ptr, idx, perm, n, 2, 4);   \
        else if (H == 1 && q == 4) gather_back(adj_in, dp, in, adj_out, p, ptr, idx, perm, n, 1, 4);   \
        else if (H == 1 && q == 2) gather_back(adj_in, dp, in, adj_out, p, ptr, idx, perm, n, 1, 2);   \
        else gather_back(adj_in, dp, in, adj_out, p, ptr, idx, perm, n, H, q * H);                     \
    }

DEFINE_WALK_KERNELS(base, )
#if defined(__x86_64__) && defined(__GNUC__)
DEFINE_WALK_KERNELS(avx2, __attribute__((target("avx2"))))
#endif

typedef void (*fwd_fn)(double *, const double *, const double *, const int32_t *, const int32_t *, int64_t,
                       int64_t, int64_t);
typedef void (*back_fn)(double *, double *, const double *, const double *, const double *, const int32_t *,
                        const int32_t *, const int32_t *, int64_t, int64_t, int64_t);

#if defined(__x86_64__) && defined(__GNUC__)
/* GP_SIMD=sse2 picks the base build (gp_i_simd_level), so the tests compare the two */
static bool use_avx2(void) { return gp_i_simd_level() >= GP_SIMD_AVX2; }
#endif

/* Local CSR of link l's block and its transpose (counting sort; tperm: transpose entry ->
 * entry). */
static void link_index(int32_t *ix, const gp_csr *adj, int64_t v0, int64_t n)
{
    int64_t e0 = adj->ptr[v0], m = adj->ptr[v0 + n] - e0;
    int32_t *ptr = ix, *idx = ptr + n + 1, *tptr = idx + m, *tidx = tptr + n + 1, *tperm = tidx + m;
    for (int64_t v = 0; v <= n; v++) ptr[v] = (int32_t)(adj->ptr[v0 + v] - e0);
    for (int64_t k = 0; k < m; k++) idx[k] = (int32_t)(adj->idx[e0 + k] - v0);
    memset(tptr, 0, (size_t)(n + 1) * sizeof(int32_t));
    for (int64_t k = 0; k < m; k++) tptr[idx[k] + 1]++;
    for (int64_t v = 0; v < n; v++) tptr[v + 1] += tptr[v];
    for (int64_t v = 0; v < n; v++)
        for (int64_t k = ptr[v]; k < ptr[v + 1]; k++) {
            int32_t t = tptr[idx[k]]++;
            tidx[t] = (int32_t)v;
            tperm[t] = (int32_t)k;
        }
    for (int64_t v = n; v > 0; v--) tptr[v] = tptr[v - 1];
    tptr[0] = 0;
}

/* Softmax of row v's logits for head h (stride H), skipping entry `skip` (local, -1 for none);
 * zero row if empty. */
static void row_softmax(double *p, const double *s, const gp_csr *adj, int64_t v0, int64_t v,
                        int64_t e0, int64_t skip, int64_t H, int64_t h)
{
    int64_t k0 = adj->ptr[v0 + v] - e0, k1 = adj->ptr[v0 + v + 1] - e0;
    double mx = -INFINITY, sum = 0.0;
    for (int64_t k = k0; k < k1; k++)
        if (k != skip && s[k * H + h] > mx) mx = s[k * H + h];
    for (int64_t k = k0; k < k1; k++) {
        p[k * H + h] = k == skip ? 0.0 : exp(s[k * H + h] - mx);
        sum += p[k * H + h];
    }
    for (int64_t k = k0; k < k1; k++) p[k * H + h] = sum > 0.0 ? p[k * H + h] / sum : 0.0;
}

/* ds += softmax backward of row v, head h (entries except skip). */
static void row_softmax_back(double *ds, const double *p, const double *dp, const gp_csr *adj,
                             int64_t v0, int64_t v, int64_t e0, int64_t skip, int64_t H, int64_t h)
{
    int64_t k0 = adj->ptr[v0 + v] - e0, k1 = adj->ptr[v0 + v + 1] - e0;
    double dot = 0.0;
    for (int64_t k = k0; k < k1; k++)
        if (k != skip) dot += p[k * H + h] * dp[k * H + h];
    for (int64_t k = k0; k < k1; k++)
        if (k != skip) ds[k * H + h] += p[k * H + h] * (dp[k * H + h] - dot);
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/*
 * One link, all heads: features into feat (row of the output, float) when grad == NULL;
 * otherwise the backward with upstream gradient row `grad`, adding into dlogits.
 */
static void walk_link(const wp_ctx *c, int64_t l, const float *logits, float *feat, const float *grad,
                      float *dlogits)
{
    const gp_csr *adj = c->adj;
    const int64_t H = c->heads, T = c->T, TT = T + 2, JR = 4 * H, JC = 2 * H;
    int64_t v0 = c->graph_ptr[l], n = c->graph_ptr[l + 1] - v0;
    int64_t e0 = adj->ptr[v0], m = adj->ptr[v0 + n] - e0;
    int64_t a = c->pairs[2 * l] - v0, b = c->pairs[2 * l + 1] - v0;
    int64_t kab = c->target_entry[2 * l] - e0, kba = c->target_entry[2 * l + 1] - e0;
    int64_t xs[2] = {a, b};
    double *fwd = c->state + c->state_off[l];
    double *RB = fwd;                /* RB[i * n * JR] */
    double *CB = RB + TT * n * JR;   /* CB[i * n * JC] */
    double *s = CB + TT * n * JC;
    double *pp = s + m * H, *pm = pp + m * H, *ppt = pm + m * H, *pmt = ppt + m * H;
    int32_t *ix = c->index + c->index_off[l];
    const int32_t *lptr = ix, *lidx = lptr + n + 1, *tptr = lidx + m, *tidx = tptr + n + 1, *tperm = tidx + m;
#if defined(__x86_64__) && defined(__GNUC__)
    const bool avx2 = use_avx2();
    const fwd_fn fwd_h = avx2 ? fwd_avx2 : fwd_base;
    const back_fn back_h = avx2 ? back_avx2 : back_base;
#else
    const fwd_fn fwd_h = fwd_base;
    const back_fn back_h = back_base;
#endif
#define RBV(i) (RB + (i) * n * JR)
#define CBV(i) (CB + (i) * n * JC)
    /* column offsets of the blocks */
    const int64_t o_graph = 0, o_omega = H * T, o_np = H * T + H, o_nm = o_np + H * T,
                  o_lp = o_nm + H * T, o_lm = o_lp + H * T;
    if (!grad) {
        for (int64_t k = 0; k < m * H; k++) s[k] = logits[e0 * H + k];
        for (int64_t h = 0; h < H; h++)
            for (int64_t v = 0; v < n; v++) {
                row_softmax(pp, s, adj, v0, v, e0, -1, H, h);
                if (v == a || v == b) row_softmax(pm, s, adj, v0, v, e0, v == a ? kba : kab, H, h);
            }
        for (int64_t v = 0; v < n; v++)
            if (v != a && v != b)
                memcpy(pm + (adj->ptr[v0 + v] - e0) * H, pp + (adj->ptr[v0 + v] - e0) * H,
                       (size_t)((adj->ptr[v0 + v + 1] - adj->ptr[v0 + v]) * H) * sizeof(double));
        memset(RBV(0), 0, (size_t)(n * JR) * sizeof(double));
        memset(CBV(0), 0, (size_t)(n * JC) * sizeof(double));
        for (int x = 0; x < 2; x++)
            for (int64_t h = 0; h < H; h++) {
                RBV(0)[xs[x] * JR + x * H + h] = 1.0;
                CBV(0)[xs[x] * JC + x * H + h] = 1.0;
                for (int64_t k = adj->ptr[v0 + xs[x]]; k < adj->ptr[v0 + xs[x] + 1]; k++)
                    RBV(0)[(adj->idx[k] - v0) * JR + 2 * H + x * H + h] = pp[(k - e0) * H + h] - pm[(k - e0) * H + h];
            }
        link_index(ix, adj, v0, n);
        for (int64_t t = 0; t < m; t++)
            for (int64_t h = 0; h < H; h++) {
                ppt[t * H + h] = pp[tperm[t] * H + h];
                pmt[t * H + h] = pm[tperm[t] * H + h];
            }
        /* R' = R P- (a gather over the transpose), C' = P+ C */
        for (int64_t i = 0; i + 1 < TT; i++) {
            fwd_h(RBV(i + 1), RBV(i), pmt, tptr, tidx, n, H, 4);
            fwd_h(CBV(i + 1), CBV(i), pp, lptr, lidx, n, H, 2);
        }
        for (int64_t i = 0; i < T; i++) {
            int64_t tau = i + 2;
            const double *rt = RBV(tau), *ct = CBV(tau);
            for (int64_t h = 0; h < H; h++) {
                int64_t col = h * T + i;
                feat[o_np + col] = (float)(ct[a * JC + h] + ct[b * JC + H + h]);
                feat[o_lp + col] = (float)(ct[a * JC + H + h] + ct[b * JC + h]);
                feat[o_nm + col] = (float)(rt[a * JR + h] + rt[b * JR + H + h]);
                feat[o_lm + col] = (float)(rt[b * JR + h] + rt[a * JR + H + h]);
                double d = 0.0;
                for (int x = 0; x < 2; x++)
                    for (int64_t ii = 0; ii <= tau - 1; ii++) {
                        const double *wv = RBV(tau - 1 - ii) + 2 * H + x * H + h, *cv = CBV(ii) + x * H + h;
                        for (int64_t v = 0; v < n; v++) d += wv[v * JR] * cv[v * JC];
                    }
                feat[o_graph + col] = (float)d;
            }
        }
        for (int64_t h = 0; h < H; h++)
            feat[o_omega + h] = (float)(sigmoid(s[kab * H + h]) + sigmoid(s[kba * H + h]));
        return;
    }
    double *adjbuf = c->adj_state + c->state_off[l];
    double *aRB = adjbuf, *aCB = aRB + TT * n * JR;
    double *dpp = aCB + TT * n * JC, *dpm = dpp + m * H, *ds = dpm + m * H;
    memset(aRB, 0, (size_t)(TT * n * (JR + JC) + 3 * m * H) * sizeof(double));
#define ARBV(i) (aRB + (i) * n * JR)
#define ACBV(i) (aCB + (i) * n * JC)
    for (int64_t i = 0; i < T; i++) {
        int64_t tau = i + 2;
        double *art = ARBV(tau), *act = ACBV(tau);
        for (int64_t h = 0; h < H; h++) {
            int64_t col = h * T + i;
            double gnp = grad[o_np + col], gnm = grad[o_nm + col], glp = grad[o_lp + col],
                   glm = grad[o_lm + col], gd = grad[o_graph + col];
            act[a * JC + h] += gnp;
            act[b * JC + H + h] += gnp;
            act[a * JC + H + h] += glp;
            act[b * JC + h] += glp;
            art[a * JR + h] += gnm;
            art[b * JR + H + h] += gnm;
            art[b * JR + h] += glm;
            art[a * JR + H + h] += glm;
            if (gd != 0.0)
                for (int x = 0; x < 2; x++)
                    for (int64_t ii = 0; ii <= tau - 1; ii++) {
                        int64_t j = tau - 1 - ii, wo = 2 * H + x * H + h, co = x * H + h;
                        const double *wv = RBV(j), *cv = CBV(ii);
                        double *awv = ARBV(j), *acv = ACBV(ii);
                        for (int64_t v = 0; v < n; v++) {
                            awv[v * JR + wo] += gd * cv[v * JC + co];
                            acv[v * JC + co] += gd * wv[v * JR + wo];
                        }
                    }
        }
    }
    for (int64_t i = TT - 2; i >= 0; i--) {
        back_h(ARBV(i), dpm, RBV(i), ARBV(i + 1), pm, lptr, lidx, NULL, n, H, 4);
        back_h(ACBV(i), dpp, CBV(i), ACBV(i + 1), ppt, tptr, tidx, tperm, n, H, 2);
    }
    /* W^x_0 = row x of (P+ - P-) */
    for (int x = 0; x < 2; x++)
        for (int64_t k = adj->ptr[v0 + xs[x]]; k < adj->ptr[v0 + xs[x] + 1]; k++)
            for (int64_t h = 0; h < H; h++) {
                double g = ARBV(0)[(adj->idx[k] - v0) * JR + 2 * H + x * H + h];
                dpp[(k - e0) * H + h] += g;
                dpm[(k - e0) * H + h] -= g;
            }
    for (int64_t v = 0; v < n; v++) {
        if (v == a || v == b) {
            for (int64_t h = 0; h < H; h++) row_softmax_back(ds, pm, dpm, adj, v0, v, e0, v == a ? kba : kab, H, h);
        } else {
            for (int64_t k = (adj->ptr[v0 + v] - e0) * H; k < (adj->ptr[v0 + v + 1] - e0) * H; k++) dpp[k] += dpm[k];
        }
        for (int64_t h = 0; h < H; h++) row_softmax_back(ds, pp, dpp, adj, v0, v, e0, -1, H, h);
    }
    for (int64_t h = 0; h < H; h++) {
        double go = grad[o_omega + h];
        double sab = sigmoid(s[kab * H + h]), sba = sigmoid(s[kba * H + h]);
        ds[kab * H + h] += go * sab * (1.0 - sab);
        ds[kba * H + h] += go * sba * (1.0 - sba);
    }
    for (int64_t k = 0; k < m * H; k++) dlogits[e0 * H + k] += (float)ds[k];
#undef RBV
#undef CBV
#undef ARBV
#undef ACBV
}

/* Run all links; each owns its output entries, so the result does not depend on the thread
 * count or the schedule (dynamic: subgraph sizes vary widely). */
static void run_tasks(const wp_ctx *c, const float *logits, float *feat, const float *grad,
                      float *dlogits, int64_t fdim)
{
    int64_t links = c->links;
    int nt = gp_i_threads();
    int64_t work = c->adj->nnz * c->heads * (c->T + 2) * 8;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1 && links > 1 && work > GP_PAR_MIN_WORK)
    for (int64_t l = 0; l < links; l++)
        walk_link(c, l, logits, feat ? feat + l * fdim : NULL, grad ? grad + l * fdim : NULL, dlogits);
}

static gp_status walkpool_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *logits = n->in[0];
    if (!gp_i_needs_grad(logits)) return GP_OK;
    float *gl = gp_i_grad(t, logits);
    if (!gl) return GP_E_NOMEM;
    wp_ctx *c = (wp_ctx *)n->p[0];
    c->adj_state = gp_arena_alloc(gp_tape_arena(t), (c->state_total ? c->state_total : 1) * sizeof(double));
    if (!c->adj_state) return GP_E_NOMEM;
    run_tasks(c, logits->data, NULL, n->out->grad, gl, n->out->cols);
    return GP_OK;
}

static const gp_op_info walkpool_op = {"walkpool", walkpool_backward};

/* Entry of row v with column u, or -1 (columns are sorted within a row). */
static int64_t find_entry(const gp_csr *adj, int64_t v, int64_t u)
{
    int64_t lo = adj->ptr[v], hi = adj->ptr[v + 1];
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (adj->idx[mid] < u) lo = mid + 1;
        else hi = mid;
    }
    return lo < adj->ptr[v + 1] && adj->idx[lo] == u ? lo : -1;
}

gp_tensor *gp_walkpool(gp_tape *t, const gp_graph *g, gp_tensor *logits, const int64_t *pairs,
                       int walk_len)
{
    if (!gp_i_begin(t, 1, &logits)) return NULL;
    if (!g || !pairs) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "walkpool: NULL graph or pairs");
        return NULL;
    }
    if (walk_len < 1) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "walkpool: walk_len must be >= 1 (got %d)", walk_len);
        return NULL;
    }
    if (!(g = gp_i_graph_explicit_tape(t, "walkpool", g))) return NULL;
    const gp_csr *adj = &g->adj;
    if (!GP_TAPE_CHECK(t, logits->rows == adj->nnz && logits->cols >= 1,
                       "walkpool: logits are %lld x %lld, the graph has %lld edges",
                       (long long)logits->rows, (long long)logits->cols, (long long)adj->nnz))
        return NULL;
    int64_t L = g->num_graphs, H = logits->cols;
    int64_t *te = gp_tape_alloc(t, (size_t)(2 * L + 1) * sizeof(int64_t));
    wp_ctx *c = gp_tape_alloc(t, sizeof(wp_ctx));
    if (!te || !c) return NULL;
    for (int64_t l = 0; l < L; l++) {
        int64_t v0 = g->graph_ptr[l], v1 = g->graph_ptr[l + 1], a = pairs[2 * l], b = pairs[2 * l + 1];
        if (a < v0 || a >= v1 || b < v0 || b >= v1 || a == b) {
            GP_TAPE_FAIL(t, GP_E_INVALID,
                         "walkpool: link %lld: pair (%lld, %lld) must be two distinct nodes of its "
                         "subgraph [%lld, %lld)",
                         (long long)l, (long long)a, (long long)b, (long long)v0, (long long)v1);
            return NULL;
        }
        te[2 * l] = find_entry(adj, b, a);
        te[2 * l + 1] = find_entry(adj, a, b);
        if (te[2 * l] < 0 || te[2 * l + 1] < 0) {
            GP_TAPE_FAIL(t, GP_E_INVALID,
                         "walkpool: link %lld: the target edges %lld->%lld and %lld->%lld must both "
                         "be in the subgraph (G+)",
                         (long long)l, (long long)a, (long long)b, (long long)b, (long long)a);
            return NULL;
        }
    }
    *c = (wp_ctx){adj, g->graph_ptr, pairs, te, L, H, walk_len, NULL, NULL, NULL, 0, NULL, NULL};
    /* per-link state from the arena (reused across steps: no page faults, no malloc) */
    int64_t *off = gp_tape_alloc(t, (size_t)(2 * L + 1) * sizeof(int64_t)), *ioff = off ? off + L : NULL;
    if (!off) return NULL;
    size_t total = 0, itotal = 0;
    for (int64_t l = 0; l < L; l++) {
        int64_t v0 = g->graph_ptr[l], v1 = g->graph_ptr[l + 1], ml = adj->ptr[v1] - adj->ptr[v0];
        if (!GP_TAPE_CHECK(t, ml < INT32_MAX && v1 - v0 < INT32_MAX,
                           "walkpool: link %lld: subgraph with %lld edges is too large", (long long)l, (long long)ml))
            return NULL;
        off[l] = (int64_t)total;
        ioff[l] = (int64_t)itotal;
        total += link_state_size(walk_len, v1 - v0, ml, H);
        itotal += link_index_size(v1 - v0, ml);
    }
    c->index = gp_tape_alloc(t, (itotal ? itotal : 1) * sizeof(int32_t));
    if (!c->index) return NULL;
    c->index_off = ioff;
    c->state = gp_tape_alloc(t, (total ? total : 1) * sizeof(double));
    if (!c->state) return NULL;
    c->state_off = off;
    c->state_total = total;
    int64_t fdim = gp_walkpool_dim(walk_len, H);
    gp_tensor *out = gp_i_out_zero(t, L, fdim);
    if (!out) return NULL;
    run_tasks(c, logits->data, out->data, NULL, NULL, fdim);
    gp_node *n = gp_i_record(t, &walkpool_op, out, 1, &logits);
    if (n) n->p[0] = c;
    return gp_i_done(t, out);
}
