/*
 * Graphs: construction from edge lists, degrees, self-loops, and the cached GCN normalisation
 * and transpose (absent or correct, never stale: a gp_graph's adjacency is immutable).
 * Implicit graphs (copies sharing one structure, graph_copies.c) are dispatched there; functions
 * that need explicit entries use the cached explicit form (gp_i_graph_explicit).
 */
#include <math.h>
#include <string.h>

#include "internal.h"

static gp_status set_single_batch(gp_graph *g)
{
    int64_t n = g->adj.rows;
    g->num_graphs = 1;
    g->graph_ptr = gp_i_malloc(2 * sizeof(int64_t));
    g->graph_of = gp_i_calloc((size_t)n, sizeof(int64_t));
    if (!g->graph_ptr || !g->graph_of) return GP_ERR(GP_E_NOMEM, "graph: out of memory");
    g->graph_ptr[0] = 0;
    g->graph_ptr[1] = n;
    return GP_OK;
}

gp_status gp_i_graph_wrap(gp_graph **out, gp_csr **adj, bool symmetric)
{
    *out = NULL;
    gp_graph *g = gp_i_calloc(1, sizeof *g);
    if (!g) return GP_ERR(GP_E_NOMEM, "graph: out of memory");
    g->cache = gp_i_calloc(1, sizeof *g->cache);
    if (!g->cache) {
        gp_i_free(g);
        return GP_ERR(GP_E_NOMEM, "graph: out of memory");
    }
    g->adj = **adj;
    g->symmetric = symmetric;
    gp_i_free(*adj); /* the struct only: its arrays now belong to g */
    *adj = NULL;
    gp_status st = set_single_batch(g);
    if (st != GP_OK) {
        gp_graph_free(&g);
        return st;
    }
    *out = g;
    return GP_OK;
}

gp_status gp_graph_from_csr(gp_graph **out, gp_csr **adj, bool symmetric)
{
    if (!out || !adj || !*adj) return GP_ERR(GP_E_INVALID, "gp_graph_from_csr: NULL argument");
    *out = NULL;
    if ((*adj)->rows != (*adj)->cols)
        return GP_ERR(GP_E_SHAPE, "gp_graph_from_csr: adjacency is %lld x %lld, not square",
                      (long long)(*adj)->rows, (long long)(*adj)->cols);
    gp_status st = gp_csr_check(*adj);
    if (st != GP_OK) return st;
    return gp_i_graph_wrap(out, adj, symmetric);
}

static void drop_cache(gp_graph *g)
{
    if (!g->cache) return;
    gp_graph_free(&g->cache->gcn);
    if (!g->cache->t_is_adj) gp_csr_free(&g->cache->t);
    g->cache->t = NULL;
    gp_i_free(g->cache->tperm);
    g->cache->tperm = NULL;
    gp_graph_free(&g->cache->explicit_form);
}

void gp_graph_free(gp_graph **g)
{
    if (!g || !*g) return;
    drop_cache(*g);
    bool borrowed = false; /* a cached GCN form of an implicit graph borrows the batch arrays */
    if ((*g)->cache && (*g)->cache->copies) {
        borrowed = (*g)->cache->copies->borrows_batch;
        gp_i_copies_free(&(*g)->cache->copies);
    }
    gp_i_free((*g)->cache);
    gp_i_free((*g)->adj.ptr);
    gp_i_free((*g)->adj.idx);
    gp_i_free((*g)->adj.val);
    if (!borrowed) {
        gp_i_free((*g)->graph_ptr);
        gp_i_free((*g)->graph_of);
    }
    gp_i_free(*g);
    *g = NULL;
}

/* Free the value array if every value is exactly 1 (unweighted storage). */
static void drop_unit_values(gp_csr *m)
{
    if (!m->val) return;
    for (int64_t k = 0; k < m->nnz; k++)
        if (m->val[k] != 1.0f) return;
    gp_i_free(m->val);
    m->val = NULL;
}

gp_status gp_graph_from_edges(gp_graph **out, int64_t n, int64_t m, const int64_t *src,
                              const int64_t *dst, const float *w, unsigned flags)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_graph_from_edges: out is NULL");
    *out = NULL;
    if (n < 0 || m < 0 || (m > 0 && (!src || !dst)))
        return GP_ERR(GP_E_INVALID, "gp_graph_from_edges: bad arguments (n=%lld, m=%lld)",
                      (long long)n, (long long)m);
    for (int64_t k = 0; k < m; k++) {
        if (src[k] < 0 || src[k] >= n || dst[k] < 0 || dst[k] >= n)
            return GP_ERR(GP_E_RANGE, "edge %lld: %lld -> %lld has a node id outside [0, %lld)",
                          (long long)k, (long long)src[k], (long long)dst[k], (long long)n);
        if (w && !isfinite(w[k]))
            return GP_ERR(GP_E_NUMERIC, "edge %lld: weight is not finite", (long long)k);
    }
    gp_status st = GP_OK;
    bool sym = flags & GP_EDGES_SYMMETRISE, drop_loops = flags & GP_EDGES_DROP_SELF_LOOPS;
    bool add_loops = flags & GP_EDGES_ADD_SELF_LOOPS;
    size_t cap = (size_t)m * (sym ? 2 : 1) + (add_loops ? (size_t)n : 0);
    int64_t *row = gp_i_malloc(gp_i_mul_size(cap, sizeof(int64_t)));
    int64_t *col = gp_i_malloc(gp_i_mul_size(cap, sizeof(int64_t)));
    float *val = gp_i_malloc(gp_i_mul_size(cap, sizeof(float)));
    bool *has_loop = add_loops ? gp_i_calloc((size_t)n, sizeof(bool)) : NULL;
    gp_csr *adj = NULL;
    if (!row || !col || !val || (add_loops && !has_loop)) {
        st = GP_ERR(GP_E_NOMEM, "gp_graph_from_edges: out of memory for %lld edges", (long long)m);
        goto fail;
    }
    int64_t e = 0;
    for (int64_t k = 0; k < m; k++) {
        int64_t u = src[k], v = dst[k];
        if (u == v) {
            if (drop_loops) continue;
            if (has_loop) has_loop[u] = true;
        }
        float wk = w ? w[k] : 1.0f;
        row[e] = v, col[e] = u, val[e++] = wk; /* row = destination: in-neighbours */
        if (sym && u != v) row[e] = u, col[e] = v, val[e++] = wk;
    }
    if (add_loops)
        for (int64_t i = 0; i < n; i++)
            if (!has_loop[i]) row[e] = i, col[e] = i, val[e++] = 1.0f;
    GP_TRY(gp_i_csr_build(&adj, n, n, e, row, col, val, flags & GP_EDGES_DROP_DUPLICATES));
    drop_unit_values(adj);
    GP_TRY(gp_i_graph_wrap(out, &adj, sym));
fail:
    gp_i_free(row);
    gp_i_free(col);
    gp_i_free(val);
    gp_i_free(has_loop);
    gp_csr_free(&adj);
    return st;
}

gp_status gp_graph_copy(gp_graph **out, const gp_graph *g)
{
    if (!out || !g) return GP_ERR(GP_E_INVALID, "gp_graph_copy: NULL argument");
    *out = NULL;
    gp_csr *adj = NULL;
    gp_graph *c = NULL;
    gp_status st;
    GP_TRY(gp_i_graph_explicit(&g, g)); /* an implicit graph is copied as its explicit form */
    GP_TRY(gp_csr_new(&adj, g->adj.rows, g->adj.cols, g->adj.nnz, g->adj.val != NULL));
    memcpy(adj->ptr, g->adj.ptr, (size_t)(g->adj.rows + 1) * sizeof(int64_t));
    memcpy(adj->idx, g->adj.idx, (size_t)g->adj.nnz * sizeof(int64_t));
    if (g->adj.val) memcpy(adj->val, g->adj.val, (size_t)g->adj.nnz * sizeof(float));
    GP_TRY(gp_i_graph_wrap(&c, &adj, g->symmetric));
    GP_TRY(gp_i_graph_set_batch(c, g->num_graphs, g->graph_ptr));
    *out = c;
    return GP_OK;
fail:
    gp_csr_free(&adj);
    gp_graph_free(&c);
    return st;
}

gp_status gp_i_graph_set_batch(gp_graph *g, int64_t num_graphs, const int64_t *graph_ptr)
{
    int64_t n = g->adj.rows;
    if (num_graphs < 1 || graph_ptr[0] != 0 || graph_ptr[num_graphs] != n)
        return GP_ERR(GP_E_INVALID, "graph batch: offsets do not cover the %lld nodes", (long long)n);
    /* Validate everything before writing graph_of, so that g is unchanged on error. */
    for (int64_t b = 0; b < num_graphs; b++)
        if (graph_ptr[b + 1] < graph_ptr[b])
            return GP_ERR(GP_E_INVALID, "graph batch: offsets decrease at graph %lld", (long long)b);
    int64_t *ptr = gp_i_malloc(gp_i_mul_size((size_t)num_graphs + 1, sizeof(int64_t)));
    if (!ptr) return GP_ERR(GP_E_NOMEM, "graph batch: out of memory");
    for (int64_t b = 0; b < num_graphs; b++)
        for (int64_t i = graph_ptr[b]; i < graph_ptr[b + 1]; i++) g->graph_of[i] = b;
    memcpy(ptr, graph_ptr, (size_t)(num_graphs + 1) * sizeof(int64_t));
    gp_i_free(g->graph_ptr);
    g->graph_ptr = ptr;
    g->num_graphs = num_graphs;
    return GP_OK;
}

void gp_graph_degrees(const gp_graph *g, float *deg)
{
    if (gp_i_graph_copies(g)) {
        gp_i_copies_degrees(g, deg);
        return;
    }
    const gp_csr *a = &g->adj;
    for (int64_t i = 0; i < a->rows; i++) {
        float d = 0.0f;
        if (a->val)
            for (int64_t k = a->ptr[i]; k < a->ptr[i + 1]; k++) d += a->val[k];
        else
            d = (float)(a->ptr[i + 1] - a->ptr[i]);
        deg[i] = d;
    }
}

gp_status gp_graph_add_self_loops(gp_graph **out, const gp_graph *g)
{
    if (!out || !g) return GP_ERR(GP_E_INVALID, "gp_graph_add_self_loops: NULL argument");
    *out = NULL;
    if (gp_i_graph_copies(g)) return gp_i_copies_add_self_loops(out, g);
    const gp_csr *a = &g->adj;
    int64_t n = a->rows, missing = 0;
    for (int64_t i = 0; i < n; i++) {
        bool found = false;
        for (int64_t k = a->ptr[i]; k < a->ptr[i + 1] && !found; k++) found = a->idx[k] == i;
        missing += !found;
    }
    gp_csr *b = NULL;
    gp_graph *r = NULL;
    gp_status st;
    GP_TRY(gp_csr_new(&b, n, n, a->nnz + missing, a->val != NULL));
    int64_t w = 0;
    for (int64_t i = 0; i < n; i++) {
        b->ptr[i] = w;
        bool placed = false;
        for (int64_t k = a->ptr[i]; k < a->ptr[i + 1]; k++) {
            if (!placed && a->idx[k] >= i) {
                if (a->idx[k] != i) { /* insert the loop before the first larger column */
                    b->idx[w] = i;
                    if (b->val) b->val[w] = 1.0f;
                    w++;
                }
                placed = true;
            }
            b->idx[w] = a->idx[k];
            if (b->val) b->val[w] = a->val[k];
            w++;
        }
        if (!placed) {
            b->idx[w] = i;
            if (b->val) b->val[w] = 1.0f;
            w++;
        }
    }
    b->ptr[n] = w;
    GP_TRY(gp_i_graph_wrap(&r, &b, g->symmetric));
    GP_TRY(gp_i_graph_set_batch(r, g->num_graphs, g->graph_ptr));
    *out = r;
    return GP_OK;
fail:
    gp_csr_free(&b);
    gp_graph_free(&r);
    return st;
}

gp_status gp_graph_gcn_norm(const gp_graph **out, gp_graph *g)
{
    if (!out || !g) return GP_ERR(GP_E_INVALID, "gp_graph_gcn_norm: NULL argument");
    *out = NULL;
    if (!g->cache->gcn && gp_i_graph_copies(g)) {
        gp_status st = gp_i_copies_gcn_norm(&g->cache->gcn, g);
        if (st != GP_OK) return st;
    }
    if (!g->cache->gcn) {
        gp_graph *h = NULL;
        gp_status st = gp_graph_add_self_loops(&h, g);
        if (st != GP_OK) return st;
        int64_t n = h->adj.rows;
        float *dinv = gp_i_malloc(gp_i_mul_size((size_t)n, sizeof(float)));
        float *val = h->adj.val ? h->adj.val : gp_i_malloc(gp_i_mul_size((size_t)h->adj.nnz, sizeof(float)));
        if (!dinv || !val) {
            gp_i_free(dinv);
            if (val != h->adj.val) gp_i_free(val);
            gp_graph_free(&h);
            return GP_ERR(GP_E_NOMEM, "gp_graph_gcn_norm: out of memory");
        }
        gp_graph_degrees(h, dinv);
        for (int64_t i = 0; i < n; i++) dinv[i] = dinv[i] > 0.0f ? 1.0f / sqrtf(dinv[i]) : 0.0f;
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = h->adj.ptr[i]; k < h->adj.ptr[i + 1]; k++)
                val[k] = (h->adj.val ? h->adj.val[k] : 1.0f) * dinv[i] * dinv[h->adj.idx[k]];
        h->adj.val = val;
        gp_i_free(dinv);
        g->cache->gcn = h;
    }
    *out = g->cache->gcn;
    return GP_OK;
}

gp_status gp_graph_transpose(const gp_csr **out, const int64_t **perm, gp_graph *g)
{
    if (!out || !g) return GP_ERR(GP_E_INVALID, "gp_graph_transpose: NULL argument");
    *out = NULL;
    if (perm) *perm = NULL;
    if (gp_i_graph_copies(g)) { /* the explicit form's transpose (owned by g's cache) */
        const gp_graph *e = NULL;
        gp_status st = gp_i_graph_explicit(&e, g);
        if (st != GP_OK) return st;
        return gp_graph_transpose(out, perm, (gp_graph *)e);
    }
    if (g->symmetric && !perm) { /* the graph itself, and no pairing asked for: nothing to build */
        *out = &g->adj;
        return GP_OK;
    }
    gp_graph_cache *c = g->cache;
    if (!c->tperm) {
        gp_csr *t = NULL;
        int64_t *p = NULL;
        gp_status st = gp_csr_transpose(&t, &p, &g->adj);
        if (st != GP_OK) return st;
        if (g->symmetric) { /* same matrix: keep only the entry pairing */
            gp_csr_free(&t);
            c->t = &g->adj;
            c->t_is_adj = true;
        } else {
            c->t = t;
        }
        c->tperm = p;
    }
    *out = c->t;
    if (perm) *perm = c->tperm;
    return GP_OK;
}

gp_status gp_graph_edge_list(int64_t **src, int64_t **dst, const gp_graph *g)
{
    if (!src || !dst || !g) return GP_ERR(GP_E_INVALID, "gp_graph_edge_list: NULL argument");
    *src = *dst = NULL;
    gp_status st = gp_i_graph_explicit(&g, g);
    if (st != GP_OK) return st;
    *src = gp_i_malloc(gp_i_mul_size((size_t)g->adj.nnz, sizeof(int64_t)));
    *dst = gp_i_malloc(gp_i_mul_size((size_t)g->adj.nnz, sizeof(int64_t)));
    if (!*src || !*dst) {
        gp_i_free(*src);
        gp_i_free(*dst);
        *src = *dst = NULL;
        return GP_ERR(GP_E_NOMEM, "gp_graph_edge_list: out of memory");
    }
    for (int64_t i = 0; i < g->adj.rows; i++)
        for (int64_t k = g->adj.ptr[i]; k < g->adj.ptr[i + 1]; k++) {
            (*src)[k] = g->adj.idx[k];
            (*dst)[k] = i;
        }
    return GP_OK;
}
