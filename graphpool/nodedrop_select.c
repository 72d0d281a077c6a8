/*
 * Node-drop selection and the induced batch, shared by top-k (Cangea et al. 2018) and SAGPool
 * (Lee et al. 2019):
 *   idx_g = the top k_g = ceil(ratio n_g) nodes of graph g by score (ties: smaller node index)
 *           or, with min_score, { i : s_i > min(min_score, max_g s - 1e-7) }, s = softmax_g(score)
 *   x'    = multiplier * x[idx] * gate[idx],  gate = tanh(score) (or s with min_score)
 *   A'    = A[idx, idx]
 * The gate is what gives the scorer a gradient: dx'/dx = gate (rows kept), dx'/dgate = x.
 * Gradients come from tanh / segment_softmax / gather ops and the fused gather-gate op below
 * (dx[idx_i] += gate_i dy_i, dgate_i += <dy_i, x[idx_i]>, the dot product with eight partial sums);
 * the selection is a constant index set. Kept nodes stay in increasing order (graph ids never decrease), so the
 * induced subgraph is a linear-time hand kernel: a node -> new id map, then each kept row's
 * entries whose column is kept, relabelled (the map is monotone, so columns stay sorted).
 * docs/benchmarks.md compares it with gp_graph_induced.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

/*
 * Selection key of node j (local index) with score s: ascending keys = descending scores, then
 * ascending index. The float is mapped to an order-preserving unsigned integer (flip all bits of
 * negatives, the sign bit of positives; -0 and +0 equal), inverted so larger scores come first;
 * NaN maps to the largest key (ranked last). Keys are unique (the index is in the low bits), so the
 * k smallest form one well-defined set: quickselect finds it in expected O(n).
 */
static inline uint64_t select_key(float s, int64_t j)
{
    uint32_t u;
    if (isnan(s)) {
        u = 0;
    } else {
        if (s == 0.0f) s = 0.0f; /* -0 -> +0 */
        memcpy(&u, &s, sizeof u);
        u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    }
    return ((uint64_t)~u << 32) | (uint64_t)j;
}

/* Rearrange a[0..n) so that a[0..k) are its k smallest values (k in [1, n)). */
static void select_smallest(uint64_t *a, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        /* median of three as pivot */
        int64_t mid = lo + (hi - lo) / 2;
        uint64_t x = a[lo], y = a[mid], z = a[hi];
        uint64_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                uint64_t tmp = a[i];
                a[i] = a[j];
                a[j] = tmp;
                i++, j--;
            }
        }
        /* now a[lo..j] <= pivot <= a[i..hi] */
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
}

gp_status gp_nodedrop_select(int64_t *kept, int64_t *num_kept, int64_t *new_ptr, const float *score,
                             int64_t num_graphs, const int64_t *graph_ptr, double ratio,
                             double min_score)
{
    if (!kept || !num_kept || !new_ptr || !score || !graph_ptr || num_graphs < 1)
        return GP_ERR(GP_E_INVALID, "gp_nodedrop_select: NULL argument or no graphs");
    if (!(ratio > 0.0 && ratio <= 1.0))
        return GP_ERR(GP_E_INVALID, "gp_nodedrop_select: ratio %g outside (0, 1]", ratio);
    int64_t max_n = 0;
    for (int64_t g = 0; g < num_graphs; g++) {
        int64_t n = graph_ptr[g + 1] - graph_ptr[g];
        if (n < 0) return GP_ERR(GP_E_INVALID, "gp_nodedrop_select: offsets decrease at graph %lld", (long long)g);
        if (n > max_n) max_n = n;
    }
    uint64_t *keys = gp_i_malloc(gp_i_mul_size((size_t)(max_n > 0 ? max_n : 1), sizeof *keys));
    unsigned char *keep = gp_i_malloc((size_t)(max_n > 0 ? max_n : 1));
    if (!keys || !keep) {
        gp_i_free(keys);
        gp_i_free(keep);
        return GP_ERR(GP_E_NOMEM, "gp_nodedrop_select: out of memory");
    }
    int64_t out = 0;
    new_ptr[0] = 0;
    for (int64_t g = 0; g < num_graphs; g++) {
        int64_t p0 = graph_ptr[g], n = graph_ptr[g + 1] - p0;
        if (n > 0 && min_score < 0.0) {
            int64_t k = (int64_t)ceil(ratio * (double)n - 1e-9);
            if (k < 1) k = 1;
            if (k >= n) {
                for (int64_t j = 0; j < n; j++) kept[out++] = p0 + j;
            } else {
                for (int64_t j = 0; j < n; j++) keys[j] = select_key(score[p0 + j], j);
                select_smallest(keys, n, k);
                memset(keep, 0, (size_t)n);
                for (int64_t j = 0; j < k; j++) keep[keys[j] & 0xffffffffu] = 1;
                for (int64_t j = 0; j < n; j++)
                    if (keep[j]) kept[out++] = p0 + j;
            }
        } else if (n > 0) {
            int64_t best = 0;
            uint64_t best_key = select_key(score[p0], 0);
            for (int64_t j = 1; j < n; j++) {
                uint64_t key = select_key(score[p0 + j], j);
                if (key < best_key) best_key = key, best = j;
            }
            double thr = fmin(min_score, (double)score[p0 + best] - 1e-7);
            for (int64_t j = 0; j < n; j++)
                if (j == best || (double)score[p0 + j] > thr) kept[out++] = p0 + j;
        }
        new_ptr[g + 1] = out;
    }
    *num_kept = out;
    gp_i_free(keys);
    gp_i_free(keep);
    return GP_OK;
}

gp_status gp_nodedrop_induced(gp_graph **out, const gp_graph *g, int64_t num_kept,
                              const int64_t *kept, const int64_t *new_ptr)
{
    if (!out || !g || (!kept && num_kept > 0) || !new_ptr)
        return GP_ERR(GP_E_INVALID, "gp_nodedrop_induced: NULL argument");
    *out = NULL;
    const gp_csr *a = &g->adj;
    int64_t n = a->rows;
    if (num_kept < 0 || num_kept > n || new_ptr[g->num_graphs] != num_kept)
        return GP_ERR(GP_E_INVALID, "gp_nodedrop_induced: %lld kept nodes of %lld, offsets end at %lld",
                      (long long)num_kept, (long long)n, (long long)new_ptr[g->num_graphs]);
    gp_status st = GP_OK;
    gp_csr *c = NULL;
    gp_graph *r = NULL;
    int64_t *map = gp_i_malloc(gp_i_mul_size((size_t)(n > 0 ? n : 1), sizeof(int64_t)));
    if (!map) return GP_ERR(GP_E_NOMEM, "gp_nodedrop_induced: out of memory");
    for (int64_t i = 0; i < n; i++) map[i] = -1;
    for (int64_t i = 0; i < num_kept; i++) {
        int64_t v = kept[i];
        if (v < 0 || v >= n || (i > 0 && v <= kept[i - 1])) {
            st = GP_ERR(GP_E_INVALID, "gp_nodedrop_induced: kept[%lld] = %lld is out of range or not increasing",
                        (long long)i, (long long)v);
            goto fail;
        }
        map[v] = i;
    }
    int64_t nnz = 0;
    for (int64_t i = 0; i < num_kept; i++)
        for (int64_t e = a->ptr[kept[i]]; e < a->ptr[kept[i] + 1]; e++) nnz += map[a->idx[e]] >= 0;
    GP_TRY(gp_csr_new(&c, num_kept, num_kept, nnz, a->val != NULL));
    int64_t pos = 0;
    c->ptr[0] = 0;
    for (int64_t i = 0; i < num_kept; i++) {
        for (int64_t e = a->ptr[kept[i]]; e < a->ptr[kept[i] + 1]; e++) {
            int64_t j = map[a->idx[e]];
            if (j < 0) continue;
            c->idx[pos] = j;
            if (a->val) c->val[pos] = a->val[e];
            pos++;
        }
        c->ptr[i + 1] = pos;
    }
    GP_TRY(gp_i_graph_wrap(&r, &c, g->symmetric));
    GP_TRY(gp_i_graph_set_batch(r, g->num_graphs, new_ptr));
    *out = r;
    r = NULL;
fail:
    gp_graph_free(&r);
    gp_csr_free(&c);
    gp_i_free(map);
    return st;
}

/*
 * Fused gather and gate: out_i = x[kept_i] * g_i (k x d, g k x 1).
 * Backward: dx[kept_i] += g_i dy_i (kept distinct: each input row has at most one writer, so the
 * loop over i parallelises without conflicts); dg_i += <dy_i, x[kept_i]>.
 * One op instead of gather + broadcast multiply: no k x d intermediate and no gradient buffer for it.
 */
/* dg_i (=, or += unless set) <dy_i, x[kept_i]> for rows i in [lo, hi), each with eight partial
 * sums (lane q takes the entries c = q mod 8) combined pairwise: a fixed order, so deterministic
 * (a single running sum was a chain of dependent scalar additions, 4 cycles each; its rounding
 * differs from this one). Four rows at a time, so that four independent chains of vector
 * additions overlap. Built for 4- and 8-float vectors (one row's eight sums in two or one
 * vector): the same sums in the same order, the same bits. (Writing dx in the same pass was
 * slower: perf, top-k PROTEINS, 2.9 % of the epoch against 2.6 % for the two passes.) */
static float combine8(const float *s)
{
    return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

#define DEFINE_GATE_DOTS(NAME, ATTR, VT)                                                       \
    ATTR static void NAME(float *gg, bool set, const float *dy, const float *x,                \
                          const int64_t *kept, int64_t lo, int64_t hi, int64_t d)              \
    {                                                                                          \
        enum { L = (int)(sizeof(VT) / sizeof(float)), V = 8 / L, R = 4 };                      \
        for (int64_t i0 = lo; i0 < hi; i0 += R) {                                              \
            int rows = hi - i0 < R ? (int)(hi - i0) : R;                                       \
            const float *a[R], *b[R];                                                          \
            VT acc[R][V];                                                                      \
            for (int r = 0; r < R; r++) {                                                      \
                int64_t i = r < rows ? i0 + r : i0; /* short group: row i0 again, unused */    \
                a[r] = dy + i * d, b[r] = x + kept[i] * d;                                     \
                for (int v = 0; v < V; v++) acc[r][v] = (VT){0};                               \
            }                                                                                  \
            int64_t c = 0;                                                                     \
            for (; c + 8 <= d; c += 8)                                                         \
                for (int r = 0; r < R; r++)                                                    \
                    for (int v = 0; v < V; v++) {                                              \
                        VT p, q;                                                               \
                        memcpy(&p, a[r] + c + v * L, sizeof p);                                \
                        memcpy(&q, b[r] + c + v * L, sizeof q);                                \
                        acc[r][v] += p * q;                                                    \
                    }                                                                          \
            for (int r = 0; r < rows; r++) {                                                   \
                float s[8];                                                                    \
                memcpy(s, acc[r], sizeof s);                                                   \
                for (int64_t e = c; e < d; e++) s[e & 7] += a[r][e] * b[r][e];                 \
                float dot = combine8(s);                                                       \
                gg[i0 + r] = set ? dot : gg[i0 + r] + dot;                                     \
            }                                                                                  \
        }                                                                                      \
    }

DEFINE_GATE_DOTS(gate_dots_v4, , v4f)
#ifdef GP_I_VEC_WIDE
DEFINE_GATE_DOTS(gate_dots_avx2, __attribute__((target("avx2"))), v8f)
#endif

static gp_status gather_gate_backward(gp_tape *t, gp_node *n)
{
    gp_tensor *x = n->in[0], *g = n->in[1];
    const int64_t *kept = n->p[0];
    int64_t k = n->out->rows, d = x->cols;
    const float *dy = n->out->grad;
    float *gx = NULL, *gg = NULL;
    bool set_x = false, set_g = false;
    if (gp_i_needs_grad(x) && !(gx = gp_i_grad_acc(t, x, &set_x))) return GP_E_NOMEM;
    if (gp_i_needs_grad(g) && !(gg = gp_i_grad_acc(t, g, &set_g))) return GP_E_NOMEM;
    if (set_x) { /* fresh buffer: zero only the dropped rows; kept rows are written below */
        unsigned char *is_kept = gp_tape_alloc(t, (size_t)x->rows);
        if (!is_kept) return GP_E_NOMEM;
        memset(is_kept, 0, (size_t)x->rows);
        for (int64_t i = 0; i < k; i++) is_kept[kept[i]] = 1;
        for (int64_t r = 0; r < x->rows; r++)
            if (!is_kept[r]) memset(gx + r * d, 0, (size_t)d * sizeof(float));
    }
    int nt = gp_i_threads();
    if (gx) /* kept rows are distinct: row kept[i] gets this one term */
        GP_I_PARALLEL_FOR(k * d > GP_PAR_MIN_WORK,
        for (int64_t i = 0; i < k; i++) {
            const float *dyi = dy + i * d;
            float gi = g->data[i], *gxi = gx + kept[i] * d;
            if (set_x)
                for (int64_t c = 0; c < d; c++) gxi[c] = gi * dyi[c];
            else
                for (int64_t c = 0; c < d; c++) gxi[c] += gi * dyi[c];
        });
    if (gg) {
        void (*dots)(float *, bool, const float *, const float *, const int64_t *, int64_t, int64_t,
                     int64_t) = gate_dots_v4;
#ifdef GP_I_VEC_WIDE
        if (gp_i_simd_level() >= GP_SIMD_AVX2) dots = gate_dots_avx2;
#endif
        GP_I_FOR_PARTS(k * d, k, lo, hi, dots(gg, set_g, dy, x->data, kept, lo, hi, d););
    }
    return GP_OK;
}

static const gp_op_info gather_gate_op = {"nodedrop_gather_gate", gather_gate_backward};

static gp_tensor *gather_gate(gp_tape *t, gp_tensor *x, const int64_t *kept, int64_t k, gp_tensor *g)
{
    gp_tensor *in[2] = {x, g};
    if (!gp_i_begin(t, 2, in)) return NULL;
    if (!GP_TAPE_CHECK(t, g->rows == k && g->cols == 1, "nodedrop: gate is %lld x %lld for %lld rows",
                       (long long)g->rows, (long long)g->cols, (long long)k))
        return NULL;
    int64_t d = x->cols;
    gp_tensor *out = gp_i_out(t, k, d);
    if (!out) return NULL;
    int nt = gp_i_threads();
    GP_I_PARALLEL_FOR(k * d > GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < k; i++) {
        const float *xi = x->data + kept[i] * d;
        float gi = g->data[i], *yi = out->data + i * d;
        for (int64_t c = 0; c < d; c++) yi[c] = xi[c] * gi;
    });
    gp_node *n = gp_i_record(t, &gather_gate_op, out, 2, in);
    if (n) n->p[0] = kept;
    return gp_i_done(t, out);
}

gp_status gp_i_nodedrop_coarsen(gp_tape *t, const char *op, const gp_pool_batch *in,
                                gp_pool_batch *out, gp_tensor *score, double ratio,
                                double min_score, float multiplier)
{
    memset(out, 0, sizeof *out);
    if (!score) return gp_tape_status(t);
    const gp_graph *g = in->graph;
    int64_t n = g->adj.rows, b = g->num_graphs;
    if (!GP_TAPE_CHECK(t, score->rows == n && score->cols == 1, "%s: score is %lld x %lld for %lld nodes",
                       op, (long long)score->rows, (long long)score->cols, (long long)n))
        return gp_tape_status(t);
    gp_tensor *gate = min_score >= 0.0 ? gp_segment_softmax(t, score, g->graph_ptr, b) : score;
    int64_t *kept = gp_tape_alloc(t, gp_i_mul_size((size_t)(n > 0 ? n : 1), sizeof(int64_t)));
    int64_t *new_ptr = gp_tape_alloc(t, gp_i_mul_size((size_t)b + 1, sizeof(int64_t)));
    if (!gate || !kept || !new_ptr) return gp_tape_status(t);
    int64_t k = 0;
    gp_status st = gp_nodedrop_select(kept, &k, new_ptr, gate->data, b, g->graph_ptr, ratio, min_score);
    if (st != GP_OK) return GP_TAPE_FAIL(t, st, "%s: %s", op, gp_last_error_message());
    gp_graph *pooled = NULL;
    st = gp_nodedrop_induced(&pooled, g, k, kept, new_ptr);
    if (st != GP_OK) return GP_TAPE_FAIL(t, st, "%s: %s", op, gp_last_error_message());
    gp_tensor *gk = gp_gather_rows(t, gate, kept, k);
    if (min_score < 0.0) gk = gp_tanh(t, gk);
    gp_tensor *x = gather_gate(t, in->x, kept, k, gk);
    if (multiplier != 1.0f) x = gp_scale(t, x, multiplier);
    out->graph = pooled;
    out->owns_graph = true;
    out->x = x;
    out->kept = kept;
    out->score = gk;
    out->num_groups = in->num_groups;
    out->group_ptr = in->group_ptr;
    return gp_tape_status(t);
}
