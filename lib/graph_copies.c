/*
 * Batches of copies of graphs that share one structure (relational pooling, k,l-labelling:
 * every labelled / permuted copy of a graph has the same edges, only the features differ).
 *
 * Layout (as for explicit copies): copies[b] copies of graph b of the input batch, copy-major:
 * the n_b nodes of a copy contiguous, the copies of one graph consecutive, the graph order kept;
 * output graph o has nodes [s_o, s_o + n_o), s_o = graph_ptr[o]. Row-wise code (features,
 * gathers, readouts over graph_ptr / graph_of) cannot tell the two forms apart.
 *
 * Implicit form: adj.rows / cols / nnz hold the sizes of the block-diagonal matrix, but
 * adj.ptr = adj.idx = adj.val = NULL; the cache holds a gp_i_copies descriptor: a pack of the
 * base graphs (the input graphs with at least one copy), each a CSR in local coordinates, and
 * base_of[o], the base graph of output graph o. Memory: one copy of each base graph plus 8 bytes
 * per output graph, instead of (n_b + 1 + nnz_b) indices (+ nnz_b values) per copy; graph_ptr /
 * graph_of are kept (row-wise code reads them).
 *
 *   spmm:    Y[s_o + i] = sum_{k in row i of A_p} a_k X[s_o + idx_k]        (p = base_of[o])
 *   backward dX[s_o + j] = sum_{k in row j of A_p^T} a_k dY[s_o + tidx_k]  (the pack's transpose;
 *            a symmetric graph is its own transpose, values included, as in gp_graph_transpose)
 *   degrees, GCN normalisation D^-1/2 (A + I) D^-1/2: a copy's degrees are its base graph's, so
 *            normalising the pack normalises every copy (the cached GCN form is implicit too).
 *
 * Why a pack in local coordinates, not a pointer into the input batch's CSR:
 *  - each copy's product is the library's own kernel (gp_i_csr_spmm_set / gp_csr_spmm) on a CSR
 *    view of its base graph, with X and Y offset to the copy's first node: the same kernel and
 *    summation order as on the explicit copy, hence the same bits. A view into the input CSR would
 *    have row offsets not starting at 0 (spmm.c's thread split assumes ptr[0] = 0) and columns
 *    needing negative offsets of X for copies placed before their base graph;
 *  - the copies own their structure: they do not depend on the input graph's lifetime or cache,
 *    and graphs with no copy are left out.
 * Logical entry order (edge values, materialisation): copy by copy, row by row, each row in its
 * base row's order = the entry order of the explicit block-diagonal CSR, so per-entry values and
 * gradients agree entry for entry with the explicit form.
 * Code that needs explicit entries (GAT, max aggregation, sddmm, transpose, copies, edge lists)
 * uses gp_i_graph_explicit: the explicit CSR, built on first use and cached in the graph.
 */
#include <math.h>
#include <string.h>

#include "internal.h"

/* Threads across copies only from this many multiply-adds in all, and only while every copy
 * stays below it: each copy's product then runs serially inside the loop (spmm.c threads a single
 * product from the same 2^20 up; a larger copy is threaded by spmm.c instead). */
#define COPIES_PAR_MIN_WORK ((int64_t)1 << 20)

/* ---- packs ---- */

static void pack_free(gp_i_pack *pk)
{
    gp_i_free(pk->node_ptr);
    gp_i_free(pk->entry_ptr);
    gp_i_free(pk->ptr);
    gp_i_free(pk->idx);
    gp_i_free(pk->val);
    gp_i_free(pk->perm);
    *pk = (gp_i_pack){0};
}

/* Arrays for `count` base graphs with `nodes` nodes and `nnz` entries in all. */
static gp_status pack_alloc(gp_i_pack *pk, int64_t count, int64_t nodes, int64_t nnz, bool weighted,
                            bool with_perm)
{
    *pk = (gp_i_pack){.count = count};
    pk->node_ptr = gp_i_malloc(gp_i_mul_size((size_t)count + 1, sizeof(int64_t)));
    pk->entry_ptr = gp_i_malloc(gp_i_mul_size((size_t)count + 1, sizeof(int64_t)));
    pk->ptr = gp_i_malloc(gp_i_mul_size((size_t)(nodes + count), sizeof(int64_t)));
    pk->idx = gp_i_malloc(gp_i_mul_size((size_t)nnz, sizeof(int64_t)));
    pk->val = weighted ? gp_i_malloc(gp_i_mul_size((size_t)nnz, sizeof(float))) : NULL;
    pk->perm = with_perm ? gp_i_malloc(gp_i_mul_size((size_t)nnz, sizeof(int64_t))) : NULL;
    if (!pk->node_ptr || !pk->entry_ptr || !pk->ptr || !pk->idx || (weighted && !pk->val) ||
        (with_perm && !pk->perm)) {
        pack_free(pk);
        return GP_ERR(GP_E_NOMEM, "graph copies: out of memory for %lld shared entries", (long long)nnz);
    }
    pk->node_ptr[0] = pk->entry_ptr[0] = 0;
    return GP_OK;
}

static int64_t pack_max_nodes(const gp_i_pack *pk)
{
    int64_t m = 0;
    for (int64_t p = 0; p < pk->count; p++)
        if (pk->node_ptr[p + 1] - pk->node_ptr[p] > m) m = pk->node_ptr[p + 1] - pk->node_ptr[p];
    return m;
}

static void pack_set_max_nnz(gp_i_pack *pk)
{
    pk->max_nnz = 0;
    for (int64_t p = 0; p < pk->count; p++)
        if (pk->entry_ptr[p + 1] - pk->entry_ptr[p] > pk->max_nnz)
            pk->max_nnz = pk->entry_ptr[p + 1] - pk->entry_ptr[p];
}

/* The transposed pack, with perm: per base graph a counting sort over the rows in increasing
 * order, the order of gp_csr_transpose on the explicit block-diagonal CSR. */
static gp_status pack_transpose(gp_i_pack *t, const gp_i_pack *a)
{
    int64_t count = a->count, nodes = a->node_ptr[count], nnz = a->entry_ptr[count];
    gp_status st = pack_alloc(t, count, nodes, nnz, a->val != NULL, true);
    if (st != GP_OK) return st;
    int64_t *fill = gp_i_malloc(gp_i_mul_size((size_t)pack_max_nodes(a) + 1, sizeof(int64_t)));
    if (!fill) {
        pack_free(t);
        return GP_ERR(GP_E_NOMEM, "graph copies: out of memory for the transpose");
    }
    memcpy(t->node_ptr, a->node_ptr, (size_t)(count + 1) * sizeof(int64_t));
    memcpy(t->entry_ptr, a->entry_ptr, (size_t)(count + 1) * sizeof(int64_t));
    t->max_nnz = a->max_nnz;
    for (int64_t p = 0; p < count; p++) {
        gp_csr v = gp_i_pack_view(a, p);
        int64_t *tp = t->ptr + t->node_ptr[p] + p, e0 = t->entry_ptr[p];
        memset(tp, 0, (size_t)(v.rows + 1) * sizeof(int64_t));
        for (int64_t k = 0; k < v.nnz; k++) tp[v.idx[k] + 1]++;
        for (int64_t j = 0; j < v.rows; j++) tp[j + 1] += tp[j];
        memcpy(fill, tp, (size_t)v.rows * sizeof(int64_t));
        for (int64_t i = 0; i < v.rows; i++)
            for (int64_t k = v.ptr[i]; k < v.ptr[i + 1]; k++) {
                int64_t q = e0 + fill[v.idx[k]]++;
                t->idx[q] = i;
                if (v.val) t->val[q] = v.val[k];
                t->perm[q] = k;
            }
    }
    gp_i_free(fill);
    return GP_OK;
}

/* A + I per base graph, as gp_graph_add_self_loops: a loop of weight 1 inserted before the first
 * larger column of every row that lacks one. with_values: store values even for an unweighted
 * pack (all ones), for the GCN normalisation to overwrite. */
static gp_status pack_add_loops(gp_i_pack *out, const gp_i_pack *a, bool with_values)
{
    int64_t count = a->count, nodes = a->node_ptr[count], missing = 0;
    for (int64_t p = 0; p < count; p++) {
        gp_csr v = gp_i_pack_view(a, p);
        for (int64_t i = 0; i < v.rows; i++) {
            bool found = false;
            for (int64_t k = v.ptr[i]; k < v.ptr[i + 1] && !found; k++) found = v.idx[k] == i;
            missing += !found;
        }
    }
    bool weighted = a->val != NULL || with_values;
    gp_status st = pack_alloc(out, count, nodes, a->entry_ptr[count] + missing, weighted, false);
    if (st != GP_OK) return st;
    memcpy(out->node_ptr, a->node_ptr, (size_t)(count + 1) * sizeof(int64_t));
    for (int64_t p = 0; p < count; p++) {
        gp_csr v = gp_i_pack_view(a, p);
        int64_t *op = out->ptr + out->node_ptr[p] + p, *oi = out->idx + out->entry_ptr[p];
        float *ov = weighted ? out->val + out->entry_ptr[p] : NULL;
        int64_t w = 0;
        for (int64_t i = 0; i < v.rows; i++) {
            op[i] = w;
            bool placed = false;
            for (int64_t k = v.ptr[i]; k < v.ptr[i + 1]; k++) {
                if (!placed && v.idx[k] >= i) {
                    if (v.idx[k] != i) {
                        oi[w] = i;
                        if (ov) ov[w] = 1.0f;
                        w++;
                    }
                    placed = true;
                }
                oi[w] = v.idx[k];
                if (ov) ov[w] = v.val ? v.val[k] : 1.0f;
                w++;
            }
            if (!placed) {
                oi[w] = i;
                if (ov) ov[w] = 1.0f;
                w++;
            }
        }
        op[v.rows] = w;
        out->entry_ptr[p + 1] = out->entry_ptr[p] + w;
    }
    pack_set_max_nnz(out);
    return GP_OK;
}

/* ---- implicit graphs ---- */

void gp_i_copies_free(gp_i_copies **c)
{
    if (!c || !*c) return;
    pack_free(&(*c)->base);
    if ((*c)->tr) pack_free((*c)->tr);
    gp_i_free((*c)->tr);
    gp_i_free((*c)->base_of);
    gp_i_free((*c)->edge_ptr);
    gp_i_free(*c);
    *c = NULL;
}

/*
 * An implicit graph over the pack *pk with num_graphs output graphs. Takes ownership of pk's
 * arrays, base_of, and (unless borrow_batch) graph_ptr and graph_of (graph_of NULL: built here),
 * freeing them on failure too. borrow_batch: graph_ptr / graph_of belong to a graph that
 * outlives this one (the cached GCN form of an implicit graph).
 */
static gp_status implicit_graph(gp_graph **out, gp_i_pack *pk, int64_t *base_of, int64_t num_graphs,
                                int64_t *graph_ptr, int64_t *graph_of, bool borrow_batch, bool symmetric)
{
    *out = NULL;
    gp_graph *g = gp_i_calloc(1, sizeof *g);
    gp_graph_cache *cache = gp_i_calloc(1, sizeof *cache);
    gp_i_copies *c = gp_i_calloc(1, sizeof *c);
    int64_t *edge_ptr = gp_i_malloc(gp_i_mul_size((size_t)num_graphs + 1, sizeof(int64_t)));
    if (!g || !cache || !c || !edge_ptr) {
        gp_i_free(g);
        gp_i_free(cache);
        gp_i_free(c);
        gp_i_free(edge_ptr);
        pack_free(pk);
        gp_i_free(base_of);
        if (!borrow_batch) {
            gp_i_free(graph_ptr);
            gp_i_free(graph_of);
        }
        return GP_ERR(GP_E_NOMEM, "graph copies: out of memory");
    }
    g->cache = cache;
    cache->copies = c;
    c->base = *pk;
    *pk = (gp_i_pack){0};
    c->base_of = base_of;
    c->edge_ptr = edge_ptr;
    c->borrows_batch = borrow_batch;
    g->graph_ptr = graph_ptr;
    g->graph_of = graph_of;
    g->num_graphs = num_graphs;
    g->symmetric = symmetric;
    edge_ptr[0] = 0;
    for (int64_t o = 0; o < num_graphs; o++) {
        int64_t p = base_of[o];
        edge_ptr[o + 1] = edge_ptr[o] + c->base.entry_ptr[p + 1] - c->base.entry_ptr[p];
    }
    int64_t n = graph_ptr[num_graphs];
    g->adj = (gp_csr){.rows = n, .cols = n, .nnz = edge_ptr[num_graphs]};
    if (!graph_of) {
        g->graph_of = gp_i_malloc(gp_i_mul_size((size_t)n, sizeof(int64_t)));
        if (!g->graph_of) {
            gp_graph_free(&g);
            return GP_ERR(GP_E_NOMEM, "graph copies: out of memory for %lld nodes", (long long)n);
        }
        for (int64_t o = 0; o < num_graphs; o++)
            for (int64_t i = graph_ptr[o]; i < graph_ptr[o + 1]; i++) g->graph_of[i] = o;
    }
    *out = g;
    return GP_OK;
}

/* Sizes of the copies; GP_E_INVALID for an edge leaving its graph, a negative count, no copy. */
static gp_status check_copies(const gp_graph *g, const int64_t *copies, int64_t *nodes, int64_t *nnz,
                              int64_t *graphs)
{
    const gp_csr *a = &g->adj;
    const int64_t *gptr = g->graph_ptr;
    *nodes = *nnz = *graphs = 0;
    for (int64_t b = 0; b < g->num_graphs; b++) {
        int64_t n = gptr[b + 1] - gptr[b], e = a->ptr[gptr[b + 1]] - a->ptr[gptr[b]];
        for (int64_t k = a->ptr[gptr[b]]; k < a->ptr[gptr[b + 1]]; k++)
            if (a->idx[k] < gptr[b] || a->idx[k] >= gptr[b + 1])
                return GP_ERR(GP_E_INVALID, "graph copies: an edge leaves graph %lld of the batch",
                              (long long)b);
        if (copies[b] < 0)
            return GP_ERR(GP_E_INVALID, "graph copies: negative copy count %lld for graph %lld",
                          (long long)copies[b], (long long)b);
        *nodes += copies[b] * n;
        *nnz += copies[b] * e;
        *graphs += copies[b];
    }
    if (*graphs < 1) return GP_ERR(GP_E_INVALID, "graph copies: no copies");
    return GP_OK;
}

/* Explicit copies: a new block-diagonal CSR with every copy's entries. */
static gp_status copies_explicit(gp_graph **out, const gp_graph *g, const int64_t *copies,
                                 int64_t nodes, int64_t nnz, int64_t graphs)
{
    const gp_csr *a = &g->adj;
    const int64_t *gptr = g->graph_ptr;
    gp_status st;
    gp_csr *adj = NULL;
    int64_t *ptr = gp_i_malloc(gp_i_mul_size((size_t)graphs + 1, sizeof(int64_t)));
    if (!ptr) return GP_ERR(GP_E_NOMEM, "graph copies: out of memory for %lld copies", (long long)graphs);
    GP_TRY(gp_csr_new(&adj, nodes, nodes, nnz, a->val != NULL));
    int64_t row = 0, k_out = 0, c_out = 0;
    adj->ptr[0] = 0;
    ptr[0] = 0;
    for (int64_t b = 0; b < g->num_graphs; b++) {
        int64_t first = gptr[b], n = gptr[b + 1] - first;
        for (int64_t c = 0; c < copies[b]; c++) {
            int64_t shift = row - first; /* output node = input node + shift */
            for (int64_t i = first; i < first + n; i++) {
                for (int64_t k = a->ptr[i]; k < a->ptr[i + 1]; k++, k_out++) {
                    adj->idx[k_out] = a->idx[k] + shift;
                    if (a->val) adj->val[k_out] = a->val[k];
                }
                adj->ptr[++row] = k_out;
            }
            ptr[++c_out] = row;
        }
    }
    GP_TRY(gp_i_graph_wrap(out, &adj, g->symmetric));
    GP_TRY(gp_i_graph_set_batch(*out, graphs, ptr));
    gp_i_free(ptr);
    return GP_OK;
fail:
    gp_csr_free(&adj);
    gp_graph_free(out);
    gp_i_free(ptr);
    return st;
}

/* Implicit copies: the pack of the graphs with at least one copy. */
static gp_status copies_shared(gp_graph **out, const gp_graph *g, const int64_t *copies, int64_t graphs)
{
    const gp_csr *a = &g->adj;
    const int64_t *gptr = g->graph_ptr;
    int64_t count = 0, bnodes = 0, bnnz = 0;
    for (int64_t b = 0; b < g->num_graphs; b++)
        if (copies[b] > 0) {
            count++;
            bnodes += gptr[b + 1] - gptr[b];
            bnnz += a->ptr[gptr[b + 1]] - a->ptr[gptr[b]];
        }
    gp_i_pack pk;
    gp_status st = pack_alloc(&pk, count, bnodes, bnnz, a->val != NULL, false);
    if (st != GP_OK) return st;
    int64_t *base_of = gp_i_malloc(gp_i_mul_size((size_t)graphs, sizeof(int64_t)));
    int64_t *graph_ptr = gp_i_malloc(gp_i_mul_size((size_t)graphs + 1, sizeof(int64_t)));
    if (!base_of || !graph_ptr) {
        pack_free(&pk);
        gp_i_free(base_of);
        gp_i_free(graph_ptr);
        return GP_ERR(GP_E_NOMEM, "graph copies: out of memory for %lld copies", (long long)graphs);
    }
    int64_t p = 0, o = 0;
    graph_ptr[0] = 0;
    for (int64_t b = 0; b < g->num_graphs; b++) {
        if (copies[b] <= 0) continue;
        int64_t first = gptr[b], n = gptr[b + 1] - first, k0 = a->ptr[first];
        int64_t e = a->ptr[first + n] - k0, e0 = pk.entry_ptr[p];
        int64_t *lp = pk.ptr + pk.node_ptr[p] + p;
        for (int64_t i = 0; i <= n; i++) lp[i] = a->ptr[first + i] - k0;
        for (int64_t k = 0; k < e; k++) pk.idx[e0 + k] = a->idx[k0 + k] - first;
        if (a->val) memcpy(pk.val + e0, a->val + k0, (size_t)e * sizeof(float));
        pk.node_ptr[p + 1] = pk.node_ptr[p] + n;
        pk.entry_ptr[p + 1] = e0 + e;
        for (int64_t c = 0; c < copies[b]; c++, o++) {
            base_of[o] = p;
            graph_ptr[o + 1] = graph_ptr[o] + n;
        }
        p++;
    }
    pack_set_max_nnz(&pk);
    return implicit_graph(out, &pk, base_of, graphs, graph_ptr, NULL, false, g->symmetric);
}

gp_status gp_i_graph_copies_new(gp_graph **out, const gp_graph *g, const int64_t *copies, bool shared)
{
    *out = NULL;
    gp_status st = gp_i_graph_explicit(&g, g);
    if (st != GP_OK) return st;
    int64_t nodes, nnz, graphs;
    if ((st = check_copies(g, copies, &nodes, &nnz, &graphs)) != GP_OK) return st;
    return shared ? copies_shared(out, g, copies, graphs)
                  : copies_explicit(out, g, copies, nodes, nnz, graphs);
}

gp_status gp_graph_copies(gp_graph **out, const gp_graph *g, const int64_t *copies, bool shared)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_graph_copies: out is NULL");
    *out = NULL;
    if (!g || !copies) return GP_ERR(GP_E_INVALID, "gp_graph_copies: NULL argument");
    return gp_i_graph_copies_new(out, g, copies, shared);
}

/* ---- the explicit form ---- */

static gp_status materialise(gp_graph **out, const gp_graph *g)
{
    const gp_i_copies *c = g->cache->copies;
    int64_t n = g->adj.rows;
    gp_csr *adj = NULL;
    gp_graph *e = NULL;
    gp_status st;
    GP_TRY(gp_csr_new(&adj, n, n, g->adj.nnz, c->base.val != NULL));
    adj->ptr[0] = 0;
    for (int64_t o = 0; o < g->num_graphs; o++) {
        gp_csr v = gp_i_pack_view(&c->base, c->base_of[o]);
        int64_t s = g->graph_ptr[o], k0 = c->edge_ptr[o];
        for (int64_t k = 0; k < v.nnz; k++) adj->idx[k0 + k] = v.idx[k] + s;
        if (v.val) memcpy(adj->val + k0, v.val, (size_t)v.nnz * sizeof(float));
        for (int64_t i = 0; i < v.rows; i++) adj->ptr[s + i + 1] = k0 + v.ptr[i + 1];
    }
    GP_TRY(gp_i_graph_wrap(&e, &adj, g->symmetric));
    GP_TRY(gp_i_graph_set_batch(e, g->num_graphs, g->graph_ptr));
    *out = e;
    return GP_OK;
fail:
    gp_csr_free(&adj);
    gp_graph_free(&e);
    return st;
}

gp_status gp_i_graph_explicit(const gp_graph **out, const gp_graph *g)
{
    if (!gp_i_graph_copies(g)) {
        *out = g;
        return GP_OK;
    }
    if (!g->cache->explicit_form) {
        gp_graph *e = NULL;
        gp_status st = materialise(&e, g);
        if (st != GP_OK) return st;
        g->cache->explicit_form = e;
    }
    *out = g->cache->explicit_form;
    return GP_OK;
}

const gp_graph *gp_i_graph_explicit_tape(gp_tape *t, const char *op, const gp_graph *g)
{
    if (!g) {
        GP_TAPE_FAIL(t, GP_E_INVALID, "%s: graph is NULL", op);
        return NULL;
    }
    const gp_graph *e = NULL;
    gp_status st = gp_i_graph_explicit(&e, g);
    if (st == GP_OK) return e;
    GP_TAPE_FAIL(t, st, "%s: cannot build the explicit adjacency of the shared copies (%s)", op,
                 gp_last_error_message());
    return NULL;
}

/* ---- operations on implicit graphs ---- */

gp_status gp_i_copies_transpose(const gp_i_pack **out, const gp_graph *g)
{
    gp_i_copies *c = g->cache->copies;
    if (!c->tr) {
        gp_i_pack *t = gp_i_calloc(1, sizeof *t);
        if (!t) return GP_ERR(GP_E_NOMEM, "graph copies: out of memory for the transpose");
        gp_status st = pack_transpose(t, &c->base);
        if (st != GP_OK) {
            gp_i_free(t);
            return st;
        }
        c->tr = t;
    }
    *out = c->tr;
    return GP_OK;
}

static void copy_product(float *y, const gp_graph *g, const gp_i_pack *pk, const float *vals,
                         const float *x, int64_t d, bool set, int64_t o)
{
    const gp_i_copies *c = g->cache->copies;
    gp_csr v = gp_i_pack_view(pk, c->base_of[o]);
    if (v.rows == 0) return;
    int64_t s = g->graph_ptr[o];
    const float *vv = vals ? vals + c->edge_ptr[o] : NULL;
    if (set) gp_i_csr_spmm_set(y + s * d, &v, vv, x + s * d, d);
    else gp_csr_spmm(y + s * d, &v, vv, x + s * d, d);
}

void gp_i_copies_spmm(float *y, const gp_graph *g, const gp_i_pack *pack, const float *vals,
                      const float *x, int64_t d, bool set)
{
    int64_t graphs = g->num_graphs;
    int nt = gp_i_threads();
    (void)nt;
    GP_I_PARALLEL_FOR(graphs > 1 && g->adj.nnz * d >= COPIES_PAR_MIN_WORK &&
                          pack->max_nnz * d < COPIES_PAR_MIN_WORK,
    for (int64_t o = 0; o < graphs; o++) copy_product(y, g, pack, vals, x, d, set, o););
}

void gp_i_copies_degrees(const gp_graph *g, float *deg)
{
    const gp_i_copies *c = g->cache->copies;
    for (int64_t o = 0; o < g->num_graphs; o++) {
        gp_csr v = gp_i_pack_view(&c->base, c->base_of[o]);
        float *dg = deg + g->graph_ptr[o];
        for (int64_t i = 0; i < v.rows; i++) {
            float s = 0.0f;
            if (v.val)
                for (int64_t k = v.ptr[i]; k < v.ptr[i + 1]; k++) s += v.val[k];
            else
                s = (float)(v.ptr[i + 1] - v.ptr[i]);
            dg[i] = s;
        }
    }
}

/* base_of of g, copied. */
static int64_t *copy_base_of(const gp_graph *g)
{
    int64_t *b = gp_i_malloc(gp_i_mul_size((size_t)g->num_graphs, sizeof(int64_t)));
    if (b) memcpy(b, g->cache->copies->base_of, (size_t)g->num_graphs * sizeof(int64_t));
    return b;
}

gp_status gp_i_copies_add_self_loops(gp_graph **out, const gp_graph *g)
{
    *out = NULL;
    gp_i_pack pk;
    gp_status st = pack_add_loops(&pk, &g->cache->copies->base, false);
    if (st != GP_OK) return st;
    int64_t *base_of = copy_base_of(g);
    int64_t *graph_ptr = gp_i_malloc(gp_i_mul_size((size_t)g->num_graphs + 1, sizeof(int64_t)));
    if (!base_of || !graph_ptr) {
        pack_free(&pk);
        gp_i_free(base_of);
        gp_i_free(graph_ptr);
        return GP_ERR(GP_E_NOMEM, "gp_graph_add_self_loops: out of memory");
    }
    memcpy(graph_ptr, g->graph_ptr, (size_t)(g->num_graphs + 1) * sizeof(int64_t));
    return implicit_graph(out, &pk, base_of, g->num_graphs, graph_ptr, NULL, false, g->symmetric);
}

/* As gp_graph_gcn_norm on the explicit form: degrees of A + I in row order (the entry count when
 * unweighted), dinv = 1 / sqrt(deg) (0 if deg = 0), value (a or 1) * dinv_i * dinv_j. */
gp_status gp_i_copies_gcn_norm(gp_graph **out, const gp_graph *g)
{
    *out = NULL;
    const gp_i_pack *base = &g->cache->copies->base;
    bool weighted = base->val != NULL;
    gp_i_pack pk;
    gp_status st = pack_add_loops(&pk, base, true);
    if (st != GP_OK) return st;
    float *dinv = gp_i_malloc(gp_i_mul_size((size_t)pack_max_nodes(&pk), sizeof(float)));
    int64_t *base_of = copy_base_of(g);
    if (!dinv || !base_of) {
        pack_free(&pk);
        gp_i_free(dinv);
        gp_i_free(base_of);
        return GP_ERR(GP_E_NOMEM, "gp_graph_gcn_norm: out of memory");
    }
    for (int64_t p = 0; p < pk.count; p++) {
        gp_csr v = gp_i_pack_view(&pk, p);
        for (int64_t i = 0; i < v.rows; i++) {
            float s = 0.0f;
            if (weighted)
                for (int64_t k = v.ptr[i]; k < v.ptr[i + 1]; k++) s += v.val[k];
            else
                s = (float)(v.ptr[i + 1] - v.ptr[i]);
            dinv[i] = s > 0.0f ? 1.0f / sqrtf(s) : 0.0f;
        }
        for (int64_t i = 0; i < v.rows; i++)
            for (int64_t k = v.ptr[i]; k < v.ptr[i + 1]; k++)
                v.val[k] = (weighted ? v.val[k] : 1.0f) * dinv[i] * dinv[v.idx[k]];
    }
    gp_i_free(dinv);
    return implicit_graph(out, &pk, base_of, g->num_graphs, g->graph_ptr, g->graph_of, true,
                          g->symmetric);
}
