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
 * Backward (reverse mode through the same recurrences, whose vectors the forward pass keeps in
 * the tape's arena: (6 T + 10) n + 3 m doubles per link and head, reused across steps):
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
    double *state;            /* forward chains of every task (kept for backward) */
    double *adj_state;        /* backward: adjoints, same layout */
    const int64_t *state_off; /* per task offset into state */
    size_t state_total;
} wp_ctx;

/* Doubles of forward state (chains, logits, P+, P-) of a task with n nodes and m entries; the
 * backward's adjoints take as many. */
static size_t task_state_size(int T, int64_t n, int64_t m)
{
    return (size_t)(4 * (T + 2) + 2 * (T + 1)) * (size_t)n + 3 * (size_t)m;
}

/* r' = r P over the local block (rows v0 .. v0+n, entries from e0). */
static void row_step(double *out, const double *in, const double *p, const gp_csr *adj, int64_t v0,
                     int64_t n, int64_t e0)
{
    memset(out, 0, (size_t)n * sizeof(double));
    for (int64_t v = 0; v < n; v++) {
        double r = in[v];
        if (r == 0.0) continue;
        for (int64_t k = adj->ptr[v0 + v]; k < adj->ptr[v0 + v + 1]; k++)
            out[adj->idx[k] - v0] += r * p[k - e0];
    }
}

/* c' = P c. */
static void col_step(double *out, const double *in, const double *p, const gp_csr *adj, int64_t v0,
                     int64_t n, int64_t e0)
{
    for (int64_t v = 0; v < n; v++) {
        double s = 0.0;
        for (int64_t k = adj->ptr[v0 + v]; k < adj->ptr[v0 + v + 1]; k++)
            s += p[k - e0] * in[adj->idx[k] - v0];
        out[v] = s;
    }
}

/* Reverse of r' = r P: adj_in += P adj_out, dp += r[v] adj_out[col]. */
static void row_step_back(double *adj_in, double *dp, const double *in, const double *adj_out,
                          const double *p, const gp_csr *adj, int64_t v0, int64_t n, int64_t e0)
{
    for (int64_t v = 0; v < n; v++) {
        double s = 0.0, r = in[v];
        for (int64_t k = adj->ptr[v0 + v]; k < adj->ptr[v0 + v + 1]; k++) {
            double g = adj_out[adj->idx[k] - v0];
            s += p[k - e0] * g;
            dp[k - e0] += r * g;
        }
        adj_in[v] += s;
    }
}

/* Reverse of c' = P c: adj_in[col] += P adj_out[v], dp += adj_out[v] c[col]. */
static void col_step_back(double *adj_in, double *dp, const double *in, const double *adj_out,
                          const double *p, const gp_csr *adj, int64_t v0, int64_t n, int64_t e0)
{
    for (int64_t v = 0; v < n; v++) {
        double g = adj_out[v];
        if (g == 0.0) continue;
        for (int64_t k = adj->ptr[v0 + v]; k < adj->ptr[v0 + v + 1]; k++) {
            int64_t u = adj->idx[k] - v0;
            adj_in[u] += p[k - e0] * g;
            dp[k - e0] += g * in[u];
        }
    }
}

/* Softmax of row v's logits, skipping entry `skip` (local, -1 for none); zero row if empty. */
static void row_softmax(double *p, const double *s, const gp_csr *adj, int64_t v0, int64_t v,
                        int64_t e0, int64_t skip)
{
    int64_t k0 = adj->ptr[v0 + v] - e0, k1 = adj->ptr[v0 + v + 1] - e0;
    double mx = -INFINITY, sum = 0.0;
    for (int64_t k = k0; k < k1; k++)
        if (k != skip && s[k] > mx) mx = s[k];
    for (int64_t k = k0; k < k1; k++) {
        p[k] = k == skip ? 0.0 : exp(s[k] - mx);
        sum += p[k];
    }
    for (int64_t k = k0; k < k1; k++) p[k] = sum > 0.0 ? p[k] / sum : 0.0;
}

/* ds += softmax backward of row v (entries except skip). */
static void row_softmax_back(double *ds, const double *p, const double *dp, const gp_csr *adj,
                             int64_t v0, int64_t v, int64_t e0, int64_t skip)
{
    int64_t k0 = adj->ptr[v0 + v] - e0, k1 = adj->ptr[v0 + v + 1] - e0;
    double dot = 0.0;
    for (int64_t k = k0; k < k1; k++)
        if (k != skip) dot += p[k] * dp[k];
    for (int64_t k = k0; k < k1; k++)
        if (k != skip) ds[k] += p[k] * (dp[k] - dot);
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/*
 * One (link, head): features into feat (row of the output, float) when grad == NULL;
 * otherwise the backward with upstream gradient row `grad`, adding into dlogits.
 */
static void walk_task(const wp_ctx *c, int64_t l, int64_t h, const float *logits, float *feat,
                      const float *grad, float *dlogits)
{
    const gp_csr *adj = c->adj;
    const int64_t H = c->heads, T = c->T, TT = T + 2;
    int64_t v0 = c->graph_ptr[l], n = c->graph_ptr[l + 1] - v0;
    int64_t e0 = adj->ptr[v0], m = adj->ptr[v0 + n] - e0;
    int64_t a = c->pairs[2 * l] - v0, b = c->pairs[2 * l + 1] - v0;
    int64_t kab = c->target_entry[2 * l] - e0, kba = c->target_entry[2 * l + 1] - e0;
    int64_t xs[2] = {a, b};
    /* forward state: 2 row chains R (P-) and 2 column chains C (P+) of T+2 vectors, 2 W chains of
     * T+1 vectors, then s, P+, P- over the entries; adjoints: the same layout with dP+, dP-, ds
     * in place of s, P+, P-. */
    size_t fsize = task_state_size(c->T, n, m);
    double *fwd = c->state + c->state_off[l * H + h];
    double *adjbuf = c->adj_state ? c->adj_state + c->state_off[l * H + h] : NULL;
    if (grad) memset(adjbuf, 0, fsize * sizeof(double)); /* the forward's chains are in fwd */
    else memset(fwd, 0, fsize * sizeof(double));
    double *R = fwd;                 /* R[(x*TT + i)*n] */
    double *C = R + 2 * TT * n;      /* C[(x*TT + i)*n] */
    double *W = C + 2 * TT * n;      /* W[(x*(T+1) + j)*n] */
    double *s = W + 2 * (T + 1) * n;
    double *pp = s + m, *pm = pp + m;
#define RV(x, i) (R + ((x) * TT + (i)) * n)
#define CV(x, i) (C + ((x) * TT + (i)) * n)
#define WV(x, j) (W + ((x) * (T + 1) + (j)) * n)
    /* column offsets of the blocks */
    const int64_t o_graph = 0, o_omega = H * T, o_np = H * T + H, o_nm = o_np + H * T,
                  o_lp = o_nm + H * T, o_lm = o_lp + H * T;
    if (!grad) {
        for (int64_t k = 0; k < m; k++) s[k] = logits[(e0 + k) * H + h];
        for (int64_t v = 0; v < n; v++) {
            row_softmax(pp, s, adj, v0, v, e0, -1);
            if (v == a || v == b) row_softmax(pm, s, adj, v0, v, e0, v == a ? kba : kab);
            else memcpy(pm + adj->ptr[v0 + v] - e0, pp + adj->ptr[v0 + v] - e0,
                        (size_t)(adj->ptr[v0 + v + 1] - adj->ptr[v0 + v]) * sizeof(double));
        }
        for (int x = 0; x < 2; x++) {
            RV(x, 0)[xs[x]] = 1.0;
            for (int64_t i = 0; i + 1 < TT; i++) row_step(RV(x, i + 1), RV(x, i), pm, adj, v0, n, e0);
            CV(x, 0)[xs[x]] = 1.0;
            for (int64_t i = 0; i + 1 < TT; i++) col_step(CV(x, i + 1), CV(x, i), pp, adj, v0, n, e0);
            for (int64_t k = adj->ptr[v0 + xs[x]]; k < adj->ptr[v0 + xs[x] + 1]; k++)
                WV(x, 0)[adj->idx[k] - v0] = pp[k - e0] - pm[k - e0];
            for (int64_t j = 0; j < T; j++) row_step(WV(x, j + 1), WV(x, j), pm, adj, v0, n, e0);
        }
        for (int64_t i = 0; i < T; i++) {
            int64_t tau = i + 2, col = h * T + i;
            feat[o_np + col] = (float)(CV(0, tau)[a] + CV(1, tau)[b]);
            feat[o_lp + col] = (float)(CV(1, tau)[a] + CV(0, tau)[b]);
            feat[o_nm + col] = (float)(RV(0, tau)[a] + RV(1, tau)[b]);
            feat[o_lm + col] = (float)(RV(0, tau)[b] + RV(1, tau)[a]);
            double d = 0.0;
            for (int x = 0; x < 2; x++)
                for (int64_t ii = 0; ii <= tau - 1; ii++) {
                    const double *wv = WV(x, tau - 1 - ii), *cv = CV(x, ii);
                    for (int64_t v = 0; v < n; v++) d += wv[v] * cv[v];
                }
            feat[o_graph + col] = (float)d;
        }
        feat[o_omega + h] = (float)(sigmoid(s[kab]) + sigmoid(s[kba]));
        return;
    }
    double *aR = adjbuf, *aC = aR + 2 * TT * n, *aW = aC + 2 * TT * n;
    double *dpp = aW + 2 * (T + 1) * n, *dpm = dpp + m, *ds = dpm + m;
#define ARV(x, i) (aR + ((x) * TT + (i)) * n)
#define ACV(x, i) (aC + ((x) * TT + (i)) * n)
#define AWV(x, j) (aW + ((x) * (T + 1) + (j)) * n)
    for (int64_t i = 0; i < T; i++) {
        int64_t tau = i + 2, col = h * T + i;
        double gnp = grad[o_np + col], gnm = grad[o_nm + col], glp = grad[o_lp + col],
               glm = grad[o_lm + col], gd = grad[o_graph + col];
        ACV(0, tau)[a] += gnp; ACV(1, tau)[b] += gnp;
        ACV(1, tau)[a] += glp; ACV(0, tau)[b] += glp;
        ARV(0, tau)[a] += gnm; ARV(1, tau)[b] += gnm;
        ARV(0, tau)[b] += glm; ARV(1, tau)[a] += glm;
        if (gd != 0.0)
            for (int x = 0; x < 2; x++)
                for (int64_t ii = 0; ii <= tau - 1; ii++) {
                    int64_t j = tau - 1 - ii;
                    const double *wv = WV(x, j), *cv = CV(x, ii);
                    double *awv = AWV(x, j), *acv = ACV(x, ii);
                    for (int64_t v = 0; v < n; v++) {
                        awv[v] += gd * cv[v];
                        acv[v] += gd * wv[v];
                    }
                }
    }
    for (int x = 0; x < 2; x++) {
        for (int64_t j = T - 1; j >= 0; j--)
            row_step_back(AWV(x, j), dpm, WV(x, j), AWV(x, j + 1), pm, adj, v0, n, e0);
        for (int64_t k = adj->ptr[v0 + xs[x]]; k < adj->ptr[v0 + xs[x] + 1]; k++) {
            double g = AWV(x, 0)[adj->idx[k] - v0];
            dpp[k - e0] += g;
            dpm[k - e0] -= g;
        }
        for (int64_t i = TT - 2; i >= 0; i--)
            col_step_back(ACV(x, i), dpp, CV(x, i), ACV(x, i + 1), pp, adj, v0, n, e0);
        for (int64_t i = TT - 2; i >= 0; i--)
            row_step_back(ARV(x, i), dpm, RV(x, i), ARV(x, i + 1), pm, adj, v0, n, e0);
    }
    for (int64_t v = 0; v < n; v++) {
        if (v == a || v == b) {
            row_softmax_back(ds, pm, dpm, adj, v0, v, e0, v == a ? kba : kab);
        } else {
            for (int64_t k = adj->ptr[v0 + v] - e0; k < adj->ptr[v0 + v + 1] - e0; k++) dpp[k] += dpm[k];
        }
        row_softmax_back(ds, pp, dpp, adj, v0, v, e0, -1);
    }
    double go = grad[o_omega + h];
    double sab = sigmoid(s[kab]), sba = sigmoid(s[kba]);
    ds[kab] += go * sab * (1.0 - sab);
    ds[kba] += go * sba * (1.0 - sba);
    for (int64_t k = 0; k < m; k++) dlogits[(e0 + k) * H + h] += (float)ds[k];
#undef RV
#undef WV
#undef CV
#undef ARV
#undef AWV
#undef ACV
}

/* Run all (link, head) tasks; each owns its output entries, so the result does not depend on
 * the thread count or the schedule (dynamic: subgraph sizes vary widely). */
static void run_tasks(const wp_ctx *c, const float *logits, float *feat, const float *grad,
                      float *dlogits, int64_t fdim)
{
    int64_t tasks = c->links * c->heads;
    int nt = gp_i_threads();
    int64_t work = c->adj->nnz * c->heads * (c->T + 2) * 8;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1 && work > GP_PAR_MIN_WORK)
    for (int64_t q = 0; q < tasks; q++) {
        int64_t l = q / c->heads, h = q % c->heads;
        walk_task(c, l, h, logits, feat ? feat + l * fdim : NULL, grad ? grad + l * fdim : NULL, dlogits);
    }
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
    *c = (wp_ctx){adj, g->graph_ptr, pairs, te, L, H, walk_len, NULL, NULL, NULL, 0};
    /* per-task scratch from the arena (reused across steps: no page faults, no malloc) */
    int64_t *off = gp_tape_alloc(t, (size_t)(L * H + 1) * sizeof(int64_t));
    if (!off) return NULL;
    size_t total = 0;
    for (int64_t l = 0; l < L; l++) {
        int64_t v0 = g->graph_ptr[l], v1 = g->graph_ptr[l + 1];
        size_t one = task_state_size(walk_len, v1 - v0, adj->ptr[v1] - adj->ptr[v0]);
        for (int64_t h = 0; h < H; h++) {
            off[l * H + h] = (int64_t)total;
            total += one;
        }
    }
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
