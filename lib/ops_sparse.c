/*
 * Sparse ops on a graph's CSR adjacency A (entry k = (i, j): row i, column idx[k] = j) and on
 * sparse feature matrices. H heads split the dense columns into H blocks of d.
 *
 *   spmm:    Y_i[h] = sum_k e_kh X_j[h]
 *            dX_j[h] += sum_{k: col j} e_kh dY_i[h]   (row j of A^T: the cached transpose, whose
 *                                                    entry kt is entry perm[kt] of A)
 *            de_kh += <dY_i[h], X_j[h]>
 *   sddmm:   z_kh = <a_i[h], b_j[h]>
 *            da_i[h] += sum_{k in row i} dz_kh b_j[h],  db_j[h] += sum_{k: col j} dz_kh a_i[h]
 *   sparse_matmul (S constant, dropout mask m on its stored values, q = 1/(1-p)):
 *            Y = S' W with S'_k = m_k q S_k,  dW = S'^T dY
 *
 * Determinism: every parallel loop runs over output rows that one iteration owns (rows of A
 * for Y, de, da; rows of A^T for dX, db). dW = S'^T dY is a serial scatter over S's entries in
 * storage order: S is not a graph and has no cached transpose, and building one per step would
 * cost more than the scatter. Measured on a Cora-shaped S (2708 x 1433, 48.9k entries, n = 16,
 * one core, p = 0.5): forward 0.16 ms (mask draw and compaction 0.13 of it), backward scatter
 * 0.08 ms, 0.24 ms in all; 0.17 ms without dropout.
 *
 * The graph is taken const (callers pass cached graphs such as gp_graph_gcn_norm's); the
 * transpose cache behind it is logically const, LAGraph-style (absent or correct), so filling
 * it through a cast does not change the graph's value.
 *
 * Implicit graphs (copies sharing one structure, graph_copies.c): spmm with one head runs per copy
 * on the shared base graph (values, gradients and edge-value gradients equal to the explicit
 * graph's, entry for entry in the logical entry order); several heads and sddmm use the cached
 * explicit form.
 */

#include <math.h>
#include <string.h>

#include "internal.h"

/* The cached transpose of g; fails the tape on error. */
static bool graph_transpose(gp_tape *t, const char *op, const gp_graph *g, const gp_csr **tr,
                            const int64_t **perm)
{
    gp_status st = gp_graph_transpose(tr, perm, (gp_graph *)g);
    if (st == GP_OK) return true;
    GP_TAPE_FAIL(t, st, "%s: cannot build the transpose (%s)", op, gp_last_error_message());
    return false;
}

/* An explicit CSR with arrays, or an implicit graph (its structure in the copies descriptor). */
static bool check_graph(gp_tape *t, const char *op, const gp_graph *g)
{
    if (g && gp_i_graph_copies(g)) return true;
    if (g && g->adj.ptr && (g->adj.nnz == 0 || g->adj.idx)) return true;
    GP_TAPE_FAIL(t, GP_E_INVALID, "%s: graph is NULL or has no adjacency", op);
    return false;
}

/* ---- spmm ---- */

/* Y[rows x H*d] += A X with per-head values vals[k * heads + h] (H > 1 heads). */
static void spmm_heads(float *y, const gp_csr *m, const float *vals, int64_t heads,
                       const float *x, int64_t d)
{
    int64_t cols = heads * d;
    int nt = gp_i_threads();
    (void)nt;
    GP_I_PARALLEL_FOR(m->nnz * cols > GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < m->rows; i++) {
        float *yi = y + i * cols;
        for (int64_t k = m->ptr[i]; k < m->ptr[i + 1]; k++) {
            const float *xj = x + m->idx[k] * cols;
            for (int64_t h = 0; h < heads; h++) {
                float a = vals[k * heads + h];
                for (int64_t c = h * d; c < (h + 1) * d; c++) yi[c] += a * xj[c];
            }
        }
    });
}

/* dX += A^T dY: row j of the transpose tr gathers dY over the entries of column j of A.
 * vals (nnz x heads, in A's entry order, or NULL = all ones) is read through perm. */
static void spmm_transposed(float *dx, const gp_csr *tr, const int64_t *perm, const float *vals,
                            int64_t heads, const float *dy, int64_t d)
{
    int64_t cols = heads * d;
    int nt = gp_i_threads();
    (void)nt;
    GP_I_PARALLEL_FOR(tr->nnz * cols > GP_PAR_MIN_WORK,
    for (int64_t j = 0; j < tr->rows; j++) {
        float *gj = dx + j * cols;
        for (int64_t kt = tr->ptr[j]; kt < tr->ptr[j + 1]; kt++) {
            const float *di = dy + tr->idx[kt] * cols;
            const float *e = vals ? vals + perm[kt] * heads : NULL;
            for (int64_t h = 0; h < heads; h++) {
                float a = e ? e[h] : 1.0f;
                for (int64_t c = h * d; c < (h + 1) * d; c++) gj[c] += a * di[c];
            }
        }
    });
}

/* spmm backward on an implicit graph (one head): dX = A^T dY per copy on the transposed pack (the
 * base pack itself when symmetric and no edge values), edge values gathered through the pack's
 * perm; de_k = <dY_i, X_j> per copy. */
static gp_status spmm_copies_backward(gp_tape *t, gp_node *n)
{
    const gp_graph *g = n->p[0];
    const gp_i_copies *c = gp_i_graph_copies(g);
    gp_tensor *x = n->in[0], *ev = n->nin > 1 ? n->in[1] : NULL;
    int64_t d = x->cols;
    const float *dy = n->out->grad;
    if (gp_i_needs_grad(x)) {
        bool assign;
        float *gx = gp_i_grad_acc(t, x, &assign);
        if (!gx) return GP_E_NOMEM;
        const gp_i_pack *tp = n->p[1] ? n->p[1] : &c->base;
        float *tv = NULL;
        if (ev) { /* the edge values in transposed order, copy by copy */
            tv = gp_tape_alloc(t, gp_i_mul_size((size_t)(g->adj.nnz > 0 ? g->adj.nnz : 1), sizeof(float)));
            if (!tv) return GP_E_NOMEM;
            for (int64_t o = 0; o < g->num_graphs; o++) {
                int64_t p = c->base_of[o], e0 = tp->entry_ptr[p], k0 = c->edge_ptr[o];
                for (int64_t kt = 0; kt < tp->entry_ptr[p + 1] - e0; kt++)
                    tv[k0 + kt] = ev->data[k0 + tp->perm[e0 + kt]];
            }
        }
        gp_i_copies_spmm(gx, g, tp, tv, dy, d, assign);
    }
    if (gp_i_needs_grad(ev)) {
        float *ge = gp_i_grad(t, ev);
        if (!ge) return GP_E_NOMEM;
        int nt = gp_i_threads();
        (void)nt;
        GP_I_PARALLEL_FOR(g->adj.nnz * d > GP_PAR_MIN_WORK,
        for (int64_t o = 0; o < g->num_graphs; o++) {
            gp_csr v = gp_i_pack_view(&c->base, c->base_of[o]);
            int64_t s = g->graph_ptr[o];
            float *geo = ge + c->edge_ptr[o];
            for (int64_t i = 0; i < v.rows; i++) {
                const float *di = dy + (s + i) * d;
                for (int64_t k = v.ptr[i]; k < v.ptr[i + 1]; k++) {
                    const float *xj = x->data + (s + v.idx[k]) * d;
                    float dot = 0.0f;
                    for (int64_t col = 0; col < d; col++) dot += di[col] * xj[col];
                    geo[k] += dot;
                }
            }
        });
    }
    return GP_OK;
}

static gp_status spmm_backward(gp_tape *t, gp_node *n)
{
    const gp_graph *g = n->p[0];
    if (gp_i_graph_copies(g)) return spmm_copies_backward(t, n);
    const gp_csr *adj = &g->adj;
    gp_tensor *x = n->in[0], *ev = n->nin > 1 ? n->in[1] : NULL;
    int64_t heads = n->i[0], d = n->i[1], cols = x->cols;
    const float *dy = n->out->grad;
    const float *vals = ev ? ev->data : adj->val;
    if (gp_i_needs_grad(x)) {
        bool assign;
        float *gx = gp_i_grad_acc(t, x, &assign);
        if (!gx) return GP_E_NOMEM;
        const gp_csr *tr = n->p[1];
        const int64_t *perm = n->p[2];
        if (heads == 1) { /* the shared kernel on A^T */
            /* The graph's own values are already in transpose order in tr->val (a copy, or A
             * itself when symmetric, values included); edge_vals are gathered through perm. */
            float *tv = NULL;
            if (ev) {
                tv = gp_tape_alloc(t, gp_i_mul_size((size_t)(tr->nnz > 0 ? tr->nnz : 1), sizeof(float)));
                if (!tv) return GP_E_NOMEM;
                for (int64_t kt = 0; kt < tr->nnz; kt++) tv[kt] = ev->data[perm[kt]];
            }
            if (assign) gp_i_csr_spmm_set(gx, tr, tv, dy, d);
            else gp_csr_spmm(gx, tr, tv, dy, d);
        } else {
            if (assign) memset(gx, 0, (size_t)gp_tensor_size(x) * sizeof(float));
            spmm_transposed(gx, tr, perm, vals, heads, dy, d);
        }
    }
    if (gp_i_needs_grad(ev)) {
        float *ge = gp_i_grad(t, ev);
        if (!ge) return GP_E_NOMEM;
        int nt = gp_i_threads();
        (void)nt;
        GP_I_PARALLEL_FOR(adj->nnz * cols > GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < adj->rows; i++) {
            const float *di = dy + i * cols;
            for (int64_t k = adj->ptr[i]; k < adj->ptr[i + 1]; k++) {
                const float *xj = x->data + adj->idx[k] * cols;
                for (int64_t h = 0; h < heads; h++) {
                    float dot = 0.0f;
                    for (int64_t c = h * d; c < (h + 1) * d; c++) dot += di[c] * xj[c];
                    ge[k * heads + h] += dot;
                }
            }
        });
    }
    return GP_OK;
}

static const gp_op_info spmm_op = {"spmm", spmm_backward};

gp_tensor *gp_spmm(gp_tape *t, const gp_graph *g, gp_tensor *edge_vals, gp_tensor *x)
{
    if (!gp_i_begin(t, 1, &x)) return NULL;
    if (!check_graph(t, "spmm", g)) return NULL;
    int64_t heads = edge_vals ? edge_vals->cols : 1;
    if (heads > 1 && !(g = gp_i_graph_explicit_tape(t, "spmm", g))) return NULL;
    const gp_i_copies *copies = gp_i_graph_copies(g);
    const gp_csr *adj = &g->adj;
    if (!GP_TAPE_CHECK(t, x->rows == adj->cols,
                       "spmm: x has %lld rows, the graph has %lld nodes", (long long)x->rows,
                       (long long)adj->cols))
        return NULL;
    if (edge_vals &&
        !GP_TAPE_CHECK(t, edge_vals->rows == adj->nnz && heads >= 1 && x->cols % heads == 0,
                       "spmm: edge values are %lld x %lld, need %lld edges x H heads with H "
                       "dividing the %lld columns of x",
                       (long long)edge_vals->rows, (long long)edge_vals->cols,
                       (long long)adj->nnz, (long long)x->cols))
        return NULL;
    int64_t d = x->cols / heads;
    gp_tensor *out = heads == 1 ? gp_i_out(t, adj->rows, x->cols) : gp_i_out_zero(t, adj->rows, x->cols);
    if (!out) return NULL;
    if (copies) gp_i_copies_spmm(out->data, g, &copies->base, edge_vals ? edge_vals->data : NULL, x->data, d, true);
    else if (heads == 1) gp_i_csr_spmm_set(out->data, adj, edge_vals ? edge_vals->data : NULL, x->data, d);
    else spmm_heads(out->data, adj, edge_vals->data, heads, x->data, d);
    gp_tensor *in[2] = {x, edge_vals};
    gp_node *n = gp_i_record(t, &spmm_op, out, edge_vals ? 2 : 1, in);
    if (n) {
        n->p[0] = g;
        n->i[0] = heads;
        n->i[1] = d;
        if (gp_i_needs_grad(x) && copies) { /* the transposed pack, unless A^T = A is enough */
            const gp_i_pack *tp = NULL;
            if (!g->symmetric || edge_vals) {
                gp_status st = gp_i_copies_transpose(&tp, g);
                if (st != GP_OK) {
                    GP_TAPE_FAIL(t, st, "spmm: cannot build the transpose (%s)", gp_last_error_message());
                    return NULL;
                }
            }
            n->p[1] = tp;
        } else if (gp_i_needs_grad(x)) { /* built here so that backward cannot fail on it */
            const gp_csr *tr = NULL;
            const int64_t *perm = NULL;
            if (!graph_transpose(t, "spmm", g, &tr, &perm)) return NULL;
            n->p[1] = tr;
            n->p[2] = perm;
        }
    }
    return gp_i_done(t, out);
}

/* ---- sddmm ---- */

/* <a, b> over n floats in 8 interleaved partial sums (entry c goes to sum c mod 8), combined
 * pairwise in a fixed order: vectorisable, where one float sum is a single chain of dependent
 * additions, and the same bits on every machine and thread count (no FMA: ISO C). */
static inline float dot_lanes(const float *restrict a, const float *restrict b, int64_t n)
{
    float s[8] = {0};
    int64_t c = 0;
    for (; c + 8 <= n; c += 8)
        for (int l = 0; l < 8; l++) s[l] += a[c + l] * b[c + l];
    for (int l = 0; c < n; c++, l++) s[l] += a[c] * b[c];
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

static gp_status sddmm_backward(gp_tape *t, gp_node *n)
{
    const gp_graph *g = n->p[0];
    const gp_csr *adj = &g->adj;
    gp_tensor *a = n->in[0], *b = n->in[1];
    int64_t heads = n->i[0], d = n->i[1], cols = a->cols;
    const float *dz = n->out->grad;
    int nt = gp_i_threads();
    (void)nt;
    if (gp_i_needs_grad(a)) {
        float *ga = gp_i_grad(t, a);
        if (!ga) return GP_E_NOMEM;
        GP_I_PARALLEL_FOR(adj->nnz * cols > GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < adj->rows; i++) {
            float *gi = ga + i * cols;
            for (int64_t k = adj->ptr[i]; k < adj->ptr[i + 1]; k++) {
                const float *bj = b->data + adj->idx[k] * cols;
                for (int64_t h = 0; h < heads; h++) {
                    float w = dz[k * heads + h];
                    for (int64_t c = h * d; c < (h + 1) * d; c++) gi[c] += w * bj[c];
                }
            }
        });
    }
    if (gp_i_needs_grad(b)) {
        float *gb = gp_i_grad(t, b);
        if (!gb) return GP_E_NOMEM;
        /* db = A_dz^T a: the same transposed gather as spmm's dX, with dz as the values */
        spmm_transposed(gb, n->p[1], n->p[2], dz, heads, a->data, d);
    }
    return GP_OK;
}

static const gp_op_info sddmm_op = {"sddmm", sddmm_backward};

gp_tensor *gp_sddmm(gp_tape *t, const gp_graph *g, gp_tensor *a, gp_tensor *b, int64_t heads)
{
    gp_tensor *in[2] = {a, b};
    if (!gp_i_begin(t, 2, in)) return NULL;
    if (!check_graph(t, "sddmm", g)) return NULL;
    if (!(g = gp_i_graph_explicit_tape(t, "sddmm", g))) return NULL; /* entries needed one by one */
    const gp_csr *adj = &g->adj;
    if (!GP_TAPE_CHECK(t, heads >= 1 && a->cols == b->cols && a->cols % heads == 0,
                       "sddmm: a (%lld cols) and b (%lld cols) need the same columns, split "
                       "into %lld heads",
                       (long long)a->cols, (long long)b->cols, (long long)heads))
        return NULL;
    if (!GP_TAPE_CHECK(t, a->rows == adj->rows && b->rows == adj->cols,
                       "sddmm: a has %lld rows and b %lld, the graph has %lld nodes",
                       (long long)a->rows, (long long)b->rows, (long long)adj->rows))
        return NULL;
    int64_t cols = a->cols, d = cols / heads;
    gp_tensor *out = gp_i_out(t, adj->nnz, heads);
    if (!out) return NULL;
    int nt = gp_i_threads();
    (void)nt;
    GP_I_PARALLEL_FOR(adj->nnz * cols > GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < adj->rows; i++) {
        const float *ai = a->data + i * cols;
        for (int64_t k = adj->ptr[i]; k < adj->ptr[i + 1]; k++) {
            const float *bj = b->data + adj->idx[k] * cols;
            for (int64_t h = 0; h < heads; h++) out->data[k * heads + h] = dot_lanes(ai + h * d, bj + h * d, d);
        }
    });
    gp_node *n = gp_i_record(t, &sddmm_op, out, 2, in);
    if (n) {
        n->p[0] = g;
        n->i[0] = heads;
        n->i[1] = d;
        if (gp_i_needs_grad(b)) {
            const gp_csr *tr = NULL;
            const int64_t *perm = NULL;
            if (!graph_transpose(t, "sddmm", g, &tr, &perm)) return NULL;
            n->p[1] = tr;
            n->p[2] = perm;
        }
    }
    return gp_i_done(t, out);
}

/* ---- sparse features times dense weights ---- */

/* dW += S^T dY as a serial scatter over S's entries in storage order (deterministic). */
static void csr_transposed_times_dense(float *restrict dw, const gp_csr *s,
                                       const float *restrict dy, int64_t d)
{
    const int64_t *ptr = s->ptr, *idx = s->idx;
    const float *val = s->val;
    for (int64_t i = 0; i < s->rows; i++) {
        const float *restrict di = dy + i * d;
        for (int64_t k = ptr[i]; k < ptr[i + 1]; k++) {
            float *restrict gk = dw + idx[k] * d;
            float a = val ? val[k] : 1.0f;
#pragma omp simd
            for (int64_t c = 0; c < d; c++) gk[c] += a * di[c];
        }
    }
}

/*
 * S with dropout applied, in tape memory: the surviving entries only (scaled by 1/(1-p)), so
 * forward and backward touch (1-p) nnz entries. One uniform draw per stored entry in storage
 * order, entry dropped when the draw is < p (gp_dropout draws its mask differently, in
 * parallel blocks). The draw is compared as an integer: gp_rng_uniform is m 2^-24 with m the
 * top 24 bits of gp_rng_u64, and m 2^-24 >= p  <=>  m >= ceil(p 2^24) (exact: scaling by 2^24 is exact), which skips the float
 * conversion. The compaction is branchless: a branch on a random mask mispredicts half the time
 * and tripled the cost of this loop when measured.
 */
static const gp_csr *drop_entries(gp_tape *t, const gp_csr *s, float p, gp_rng *rng)
{
    gp_csr *d = gp_tape_alloc(t, sizeof *d);
    size_t cap = (size_t)(s->nnz > 0 ? s->nnz : 1);
    int64_t *ptr = gp_tape_alloc(t, gp_i_mul_size((size_t)s->rows + 1, sizeof(int64_t)));
    int64_t *idx = gp_tape_alloc(t, gp_i_mul_size(cap, sizeof(int64_t)));
    float *val = gp_tape_alloc(t, gp_i_mul_size(cap, sizeof(float)));
    if (!d || !ptr || !idx || !val) return NULL;
    float scale = 1.0f / (1.0f - p);
    uint64_t threshold = (uint64_t)ceilf(p * 0x1.0p24f);
    int64_t kept = 0;
    for (int64_t i = 0; i < s->rows; i++) {
        ptr[i] = kept;
        for (int64_t k = s->ptr[i]; k < s->ptr[i + 1]; k++) {
            uint64_t m = gp_rng_u64(rng) >> 40;
            idx[kept] = s->idx[k]; /* written always, kept only if the index advances */
            val[kept] = (s->val ? s->val[k] : 1.0f) * scale;
            kept += m >= threshold;
        }
    }
    ptr[s->rows] = kept;
    *d = (gp_csr){.rows = s->rows, .cols = s->cols, .nnz = kept, .ptr = ptr, .idx = idx, .val = val};
    return d;
}

static gp_status sparse_matmul_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *w = n->in[0];
    if (!gp_i_needs_grad(w)) return GP_OK;
    float *gw = gp_i_grad(t, w);
    if (!gw) return GP_E_NOMEM;
    csr_transposed_times_dense(gw, n->p[0], n->out->grad, w->cols);
    return GP_OK;
}

static const gp_op_info sparse_matmul_op = {"sparse_matmul", sparse_matmul_backward};

gp_tensor *gp_sparse_matmul(gp_tape *t, const gp_csr *s, gp_tensor *w, float dropout, gp_rng *rng)
{
    if (!gp_i_begin(t, 1, &w)) return NULL;
    if (!s || !s->ptr || (s->nnz > 0 && !s->idx)) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "sparse_matmul: sparse matrix is NULL or has no arrays");
        return NULL;
    }
    if (!GP_TAPE_CHECK(t, s->cols == w->rows,
                       "sparse_matmul: S is %lld x %lld but W has %lld rows", (long long)s->rows,
                       (long long)s->cols, (long long)w->rows))
        return NULL;
    if (!(dropout >= 0.0f && dropout < 1.0f)) { /* also rejects NaN */
        GP_TAPE_FAIL(t, GP_E_INVALID, "sparse_matmul: dropout %g is not in [0, 1)", (double)dropout);
        return NULL;
    }
    const gp_csr *used = s;
    if (gp_i_training(t) && dropout > 0.0f) {
        if (!rng) {
            GP_TAPE_FAIL(t, GP_E_INVALID, "sparse_matmul: dropout needs an rng");
            return NULL;
        }
        used = drop_entries(t, s, dropout, rng);
        if (!used) return NULL;
    }
    gp_tensor *out = gp_i_out_zero(t, s->rows, w->cols);
    if (!out) return NULL;
    gp_csr_spmm(out->data, used, NULL, w->data, w->cols);
    gp_node *n = gp_i_record(t, &sparse_matmul_op, out, 1, &w);
    if (n) n->p[0] = used;
    return gp_i_done(t, out);
}
