/*
 * Copies of graphs that share one structure (gp_graph_copies, implicit adjacency; lib/graph_copies.c)
 * against the explicit replicated batch and against dense references computed here. The batches
 * hold an empty graph, graphs with isolated nodes and self-loops, weighted and unweighted,
 * symmetric and directed graphs; copy counts include 0, 1 and 17.
 * - structure: sizes, graph_ptr / graph_of, the materialised explicit form (gp_graph_copy), edge
 *   lists, transpose and self-loops equal to the explicit copies array for array; the explicit
 *   copies equal the dense block-diagonal reference;
 * - gp_spmm (no edge values, one head of edge values, two heads through the explicit form):
 *   values bit-identical to the explicit graph and within 1e-5 of the dense reference; gradients
 *   (x and edge values) bit-identical; finite-difference gradient checks on the implicit graph;
 * - degrees (bit-identical), gp_graph_gcn_norm (implicit, cached; bit-identical products, dense
 *   reference);
 * - layers GIN (learned eps), GCN, GraphConv (sum, mean, max), SAGE (mean, max), GAT (2 heads):
 *   forward and backward (output, input gradient, every parameter gradient) BIT-IDENTICAL on the
 *   implicit and the explicit batch (GAT and max aggregation through the cached explicit form);
 * - sddmm and gp_gnp_aggregate through the explicit form (bit-identical); copies of an implicit
 *   batch; the public functions that read adj's arrays (heuristics, induced subgraph, k-hop,
 *   batching, random link split, top-k / SAGPool coarsening, GPN readout) give the same results
 *   on the implicit and the explicit graph;
 * - errors (NULL, negative counts, no copy, an edge between graphs) and every allocation failing
 *   in turn (construction, GCN form, explicit form, spmm forward and backward).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <graphpool/graphpool.h>
#include <graphpool/pool.h>

#include "failing_alloc.h"
#include "gradcheck.h"

/* ---- helpers ---- */

/* Random graph on n nodes: m random edges among the first n - 1 nodes (node n - 1 isolated when
 * n > 1; self-loops and duplicates possible, duplicates kept once), weights in [0.5, 1.5). */
static gp_graph *random_graph(gp_rng *rng, int64_t n, int64_t m, bool weighted, bool symmetric)
{
    int64_t src[64], dst[64];
    float w[64];
    assert_true(m <= 64);
    if (n < 2) m = 0;
    for (int64_t k = 0; k < m; k++) {
        src[k] = (int64_t)gp_rng_below(rng, (uint64_t)(n - 1));
        dst[k] = (int64_t)gp_rng_below(rng, (uint64_t)(n - 1));
        w[k] = 0.5f + gp_rng_uniform(rng);
    }
    unsigned flags = GP_EDGES_DROP_DUPLICATES | (symmetric ? GP_EDGES_SYMMETRISE : 0);
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_edges(&g, n, m, src, dst, weighted ? w : NULL, flags), GP_OK);
    return g;
}

typedef struct batch_case {
    const char *name;
    bool weighted, symmetric;
} batch_case;

static const batch_case cases[] = {
    {"symmetric weighted", true, true},
    {"directed unweighted", false, false},
    {"directed weighted", true, false},
    {"symmetric unweighted", false, true},
};
#define NUM_CASES ((int)(sizeof cases / sizeof cases[0]))

/* Six graphs: 5 nodes, empty, 7 nodes, 1 node, 4 nodes, 6 nodes; copy counts 3, 2, 0, 17, 1, 4. */
#define NUM_GRAPHS 6
static const int64_t sizes[NUM_GRAPHS] = {5, 0, 7, 1, 4, 6};
static const int64_t edges[NUM_GRAPHS] = {6, 0, 9, 0, 5, 4};
static const int64_t copy_counts[NUM_GRAPHS] = {3, 2, 0, 17, 1, 4};

static gp_graph *random_batch(const batch_case *bc, uint64_t seed)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    gp_graph *gs[NUM_GRAPHS], *b = NULL;
    for (int i = 0; i < NUM_GRAPHS; i++) gs[i] = random_graph(&rng, sizes[i], edges[i], bc->weighted, bc->symmetric);
    /* an all-unweighted batch stays unweighted: gp_graph_batch gives ones only next to weights */
    assert_int_equal(gp_graph_batch(&b, NUM_GRAPHS, (const gp_graph *const *)gs), GP_OK);
    for (int i = 0; i < NUM_GRAPHS; i++) gp_graph_free(&gs[i]);
    return b;
}

/* Both forms of the copies of g. */
static void make_copies(const gp_graph *g, const int64_t *copies, gp_graph **ex, gp_graph **sh)
{
    assert_int_equal(gp_graph_copies(ex, g, copies, false), GP_OK);
    assert_int_equal(gp_graph_copies(sh, g, copies, true), GP_OK);
}

/* Dense block-diagonal matrix of the copies, built from the input graph (rows x rows, double). */
static double *dense_copies(const gp_graph *g, const int64_t *copies, int64_t *rows_out)
{
    int64_t rows = 0;
    for (int64_t b = 0; b < g->num_graphs; b++) rows += copies[b] * (g->graph_ptr[b + 1] - g->graph_ptr[b]);
    double *d = calloc((size_t)(rows * rows > 0 ? rows * rows : 1), sizeof(double));
    int64_t s = 0;
    for (int64_t b = 0; b < g->num_graphs; b++) {
        int64_t f = g->graph_ptr[b], n = g->graph_ptr[b + 1] - f;
        for (int64_t c = 0; c < copies[b]; c++, s += n)
            for (int64_t i = f; i < f + n; i++)
                for (int64_t k = g->adj.ptr[i]; k < g->adj.ptr[i + 1]; k++)
                    d[(s + i - f) * rows + s + g->adj.idx[k] - f] += g->adj.val ? g->adj.val[k] : 1.0;
    }
    *rows_out = rows;
    return d;
}

static void assert_same_csr(const char *what, const gp_csr *a, const gp_csr *b)
{
    if (a->rows != b->rows || a->cols != b->cols || a->nnz != b->nnz)
        fail_msg("%s: shapes differ", what);
    assert_non_null(a->ptr);
    assert_non_null(b->ptr);
    assert_memory_equal(a->ptr, b->ptr, (size_t)(a->rows + 1) * sizeof(int64_t));
    if (a->nnz > 0) assert_memory_equal(a->idx, b->idx, (size_t)a->nnz * sizeof(int64_t));
    assert_true((a->val == NULL) == (b->val == NULL));
    if (a->val && a->nnz > 0) assert_memory_equal(a->val, b->val, (size_t)a->nnz * sizeof(float));
}

static void assert_same_batch(const gp_graph *a, const gp_graph *b)
{
    assert_int_equal(a->num_graphs, b->num_graphs);
    assert_int_equal(a->adj.rows, b->adj.rows);
    assert_memory_equal(a->graph_ptr, b->graph_ptr, (size_t)(a->num_graphs + 1) * sizeof(int64_t));
    if (a->adj.rows > 0)
        assert_memory_equal(a->graph_of, b->graph_of, (size_t)a->adj.rows * sizeof(int64_t));
}

static void assert_implicit(const gp_graph *g)
{
    assert_null(g->adj.ptr);
    assert_null(g->adj.idx);
    assert_null(g->adj.val);
}

/* |got - ref| <= tol * max(1, |ref|) everywhere. */
static void assert_close(const char *what, const float *got, const double *ref, int64_t count, double tol)
{
    for (int64_t i = 0; i < count; i++)
        if (fabs((double)got[i] - ref[i]) > tol * fmax(1.0, fabs(ref[i])))
            fail_msg("%s: entry %lld is %.9g, reference %.9g", what, (long long)i, (double)got[i], ref[i]);
}

static void assert_bits(const char *what, const float *a, const float *b, int64_t count)
{
    if (count > 0 && memcmp(a, b, (size_t)count * sizeof(float)) != 0)
        for (int64_t i = 0; i < count; i++)
            if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
                fail_msg("%s: entry %lld differs: %.9g vs %.9g", what, (long long)i, (double)a[i], (double)b[i]);
}

static float *random_floats(int64_t n, uint64_t seed)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    float *r = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) r[i] = gp_rng_uniform(&rng) * 2.0f - 1.0f;
    return r;
}

static float *copy_floats(const float *src, int64_t n)
{
    float *r = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (n > 0) memcpy(r, src, (size_t)n * sizeof(float));
    return r;
}

/* ---- structure ---- */

static void test_copies_structure(void **state)
{
    (void)state;
    for (int c = 0; c < NUM_CASES; c++) {
        gp_graph *g = random_batch(&cases[c], 10 + (uint64_t)c), *ex = NULL, *sh = NULL;
        make_copies(g, copy_counts, &ex, &sh);
        assert_implicit(sh);
        assert_non_null(ex->adj.ptr);
        assert_int_equal(sh->adj.rows, ex->adj.rows);
        assert_int_equal(sh->adj.cols, ex->adj.cols);
        assert_int_equal(gp_graph_edges(sh), gp_graph_edges(ex));
        assert_int_equal(sh->symmetric, cases[c].symmetric);
        assert_int_equal(ex->symmetric, cases[c].symmetric);
        assert_int_equal(sh->num_graphs, 3 + 2 + 17 + 1 + 4);
        assert_same_batch(sh, ex);
        /* explicit copies = dense block-diagonal reference */
        int64_t rows;
        double *ref = dense_copies(g, copy_counts, &rows);
        assert_int_equal(rows, ex->adj.rows);
        float *dense = NULL;
        assert_int_equal(gp_csr_to_dense(&dense, &ex->adj), GP_OK);
        assert_close("explicit copies", dense, ref, rows * rows, 0);
        gp_free(dense);
        free(ref);
        /* the explicit form of the implicit copies is the explicit copies, array for array */
        gp_graph *cp = NULL;
        assert_int_equal(gp_graph_copy(&cp, sh), GP_OK);
        assert_same_csr(cases[c].name, &cp->adj, &ex->adj);
        assert_same_batch(cp, ex);
        assert_int_equal(cp->symmetric, ex->symmetric);
        gp_graph_free(&cp);
        /* degrees, edge list, transpose, self-loops */
        float *da = malloc((size_t)rows * sizeof(float) + 1), *db = malloc((size_t)rows * sizeof(float) + 1);
        gp_graph_degrees(sh, da);
        gp_graph_degrees(ex, db);
        assert_bits("degrees", da, db, rows);
        free(da), free(db);
        int64_t *sa, *ta, *sb, *tb;
        assert_int_equal(gp_graph_edge_list(&sa, &ta, sh), GP_OK);
        assert_int_equal(gp_graph_edge_list(&sb, &tb, ex), GP_OK);
        int64_t m = gp_graph_edges(ex);
        if (m > 0) {
            assert_memory_equal(sa, sb, (size_t)m * sizeof(int64_t));
            assert_memory_equal(ta, tb, (size_t)m * sizeof(int64_t));
        }
        gp_free(sa), gp_free(ta), gp_free(sb), gp_free(tb);
        const gp_csr *tra, *trb;
        const int64_t *pa, *pb;
        assert_int_equal(gp_graph_transpose(&tra, &pa, sh), GP_OK);
        assert_int_equal(gp_graph_transpose(&trb, &pb, ex), GP_OK);
        assert_same_csr("transpose", tra, trb);
        if (m > 0) assert_memory_equal(pa, pb, (size_t)m * sizeof(int64_t));
        gp_graph *la = NULL, *lb = NULL, *lc = NULL;
        assert_int_equal(gp_graph_add_self_loops(&la, sh), GP_OK);
        assert_int_equal(gp_graph_add_self_loops(&lb, ex), GP_OK);
        assert_implicit(la);
        assert_int_equal(gp_graph_edges(la), gp_graph_edges(lb));
        assert_int_equal(gp_graph_copy(&lc, la), GP_OK);
        assert_same_csr("self-loops", &lc->adj, &lb->adj);
        assert_same_batch(la, lb);
        gp_graph_free(&la), gp_graph_free(&lb), gp_graph_free(&lc);
        gp_graph_free(&ex), gp_graph_free(&sh), gp_graph_free(&g);
    }
}

/* ---- spmm ---- */

/* Y = A X in double with the dense copies matrix (edge values ev: one head, in CSR order of the
 * explicit copies, replacing the graph's values). */
static double *dense_spmm(const gp_graph *ex, const float *ev, const float *x, int64_t d)
{
    int64_t n = ex->adj.rows;
    double *y = calloc((size_t)(n * d > 0 ? n * d : 1), sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = ex->adj.ptr[i]; k < ex->adj.ptr[i + 1]; k++) {
            double a = ev ? ev[k] : ex->adj.val ? ex->adj.val[k] : 1.0;
            for (int64_t c = 0; c < d; c++) y[i * d + c] += a * x[ex->adj.idx[k] * d + c];
        }
    return y;
}

/* spmm on g with param x (and edge values ev, or NULL); output values and both gradients copied
 * into *y, *gx, *ge (caller frees). */
static void spmm_run(gp_graph *g, gp_tensor *x, gp_tensor *ev, const float *r, float **y, float **gx,
                     float **ge)
{
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tensor_zero_grad(x);
    if (ev) gp_tensor_zero_grad(ev);
    gp_tensor *out = gp_spmm(t, g, ev, x);
    if (!out) fail_msg("spmm failed: %s", gp_last_error());
    *y = copy_floats(out->data, gp_tensor_size(out));
    assert_int_equal(gp_tape_backward_from(t, out, r), GP_OK);
    *gx = copy_floats(x->grad, gp_tensor_size(x));
    *ge = ev ? copy_floats(ev->grad, gp_tensor_size(ev)) : NULL;
    gp_tape_free(&t);
}

static void test_copies_spmm(void **state)
{
    (void)state;
    const int64_t widths[] = {1, 3, 19, 32};
    for (int c = 0; c < NUM_CASES; c++) {
        gp_graph *g = random_batch(&cases[c], 20 + (uint64_t)c), *ex = NULL, *sh = NULL;
        make_copies(g, copy_counts, &ex, &sh);
        int64_t n = ex->adj.rows, m = gp_graph_edges(ex);
        for (int w = 0; w < 4; w++) {
            int64_t d = widths[w];
            gp_tensor *x = gc_param_seeded("x", n, d, 100 + (uint64_t)w);
            gp_tensor *ev1 = gc_param_seeded("ev1", m, 1, 200 + (uint64_t)w), *ev2 = gc_param_seeded("ev2", m, 2, 300);
            float *r = random_floats(n * d, 7);
            for (int mode = 0; mode < 3; mode++) { /* no edge values, one head, two heads */
                gp_tensor *ev = mode == 0 ? NULL : mode == 1 ? ev1 : ev2;
                if (mode == 2 && d % 2) continue;
                float *ya, *gxa, *gea, *yb, *gxb, *geb;
                spmm_run(sh, x, ev, r, &ya, &gxa, &gea);
                spmm_run(ex, x, ev, r, &yb, &gxb, &geb);
                assert_bits("spmm values", ya, yb, n * d);
                assert_bits("spmm dx", gxa, gxb, n * d);
                if (ev) assert_bits("spmm d edge values", gea, geb, gp_tensor_size(ev));
                if (mode < 2) {
                    double *ref = dense_spmm(ex, ev ? ev->data : NULL, x->data, d);
                    assert_close("spmm vs dense", ya, ref, n * d, 1e-5);
                    free(ref);
                }
                free(ya), free(gxa), free(gea), free(yb), free(gxb), free(geb);
            }
            free(r);
            gp_tensor_free(&x), gp_tensor_free(&ev1), gp_tensor_free(&ev2);
        }
        gp_graph_free(&ex), gp_graph_free(&sh), gp_graph_free(&g);
    }
}

typedef struct spmm_ctx {
    gp_graph *g;
    bool with_values;
} spmm_ctx;

static gp_tensor *spmm_forward(gp_tape *t, gp_tensor **in, void *vctx)
{
    spmm_ctx *c = vctx;
    return gp_spmm(t, c->g, c->with_values ? in[1] : NULL, in[0]);
}

static void test_copies_spmm_gradcheck(void **state)
{
    (void)state;
    const int64_t few[NUM_GRAPHS] = {2, 1, 0, 3, 1, 1}; /* keep the finite differences small */
    for (int c = 0; c < NUM_CASES; c++) {
        gp_graph *g = random_batch(&cases[c], 30 + (uint64_t)c), *sh = NULL;
        assert_int_equal(gp_graph_copies(&sh, g, few, true), GP_OK);
        int64_t n = gp_graph_nodes(sh), m = gp_graph_edges(sh);
        gp_tensor *x = gc_param_seeded("x", n, 3, 1);
        spmm_ctx ctx = {sh, false};
        assert_true(gc_check(spmm_forward, &ctx, &x, 1) < 1e-2);
        for (int heads = 1; heads <= 3; heads += 2) {
            gp_tensor *ev = gc_param_seeded("ev", m, heads, 2);
            ctx.with_values = true;
            gp_tensor *in[2] = {x, ev};
            assert_true(gc_check(spmm_forward, &ctx, in, 2) < 1e-2);
            gp_tensor_free(&ev);
        }
        gp_tensor_free(&x);
        gp_graph_free(&sh), gp_graph_free(&g);
    }
}

/* ---- degrees-derived forms ---- */

static void test_copies_gcn_norm(void **state)
{
    (void)state;
    for (int c = 0; c < NUM_CASES; c++) {
        gp_graph *g = random_batch(&cases[c], 40 + (uint64_t)c), *ex = NULL, *sh = NULL;
        make_copies(g, copy_counts, &ex, &sh);
        const gp_graph *na = NULL, *nb = NULL, *again = NULL;
        assert_int_equal(gp_graph_gcn_norm(&na, sh), GP_OK);
        assert_int_equal(gp_graph_gcn_norm(&nb, ex), GP_OK);
        assert_int_equal(gp_graph_gcn_norm(&again, sh), GP_OK);
        assert_ptr_equal(na, again); /* cached */
        assert_implicit(na);
        assert_same_batch(na, nb);
        gp_graph *cp = NULL;
        assert_int_equal(gp_graph_copy(&cp, na), GP_OK);
        assert_same_csr("gcn norm", &cp->adj, &nb->adj);
        gp_graph_free(&cp);
        /* dense reference: D^-1/2 (A + I) D^-1/2, an existing self-loop kept as is */
        int64_t n;
        double *a = dense_copies(g, copy_counts, &n), *deg = calloc((size_t)n + 1, sizeof(double));
        for (int64_t i = 0; i < n; i++) {
            if (a[i * n + i] == 0.0) a[i * n + i] = 1.0;
            for (int64_t j = 0; j < n; j++) deg[i] += a[i * n + j];
        }
        gp_tensor *x = gc_param_seeded("x", n, 5, 3);
        double *ref = calloc((size_t)(n * 5 > 0 ? n * 5 : 1), sizeof(double));
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++)
                if (a[i * n + j] != 0.0)
                    for (int64_t k = 0; k < 5; k++)
                        ref[i * 5 + k] += a[i * n + j] / sqrt(deg[i] * deg[j]) * x->data[j * 5 + k];
        float *r = random_floats(n * 5, 4), *ya, *gxa, *gea, *yb, *gxb, *geb;
        spmm_run((gp_graph *)na, x, NULL, r, &ya, &gxa, &gea);
        spmm_run((gp_graph *)nb, x, NULL, r, &yb, &gxb, &geb);
        assert_bits("normalised spmm", ya, yb, n * 5);
        assert_bits("normalised spmm dx", gxa, gxb, n * 5);
        assert_close("normalised spmm vs dense", ya, ref, n * 5, 1e-5);
        free(ya), free(gxa), free(yb), free(gxb), free(r), free(ref), free(a), free(deg);
        gp_tensor_free(&x);
        gp_graph_free(&ex), gp_graph_free(&sh), gp_graph_free(&g);
    }
}

/* ---- layers ---- */

enum { L_GIN, L_GCN, L_GC_SUM, L_GC_MEAN, L_GC_MAX, L_SAGE_MEAN, L_SAGE_MAX, L_GAT, NUM_LAYERS };
static const char *const layer_names[NUM_LAYERS] = {"gin", "gcn", "graphconv sum", "graphconv mean",
                                                    "graphconv max", "sage mean", "sage max", "gat"};

static gp_module *make_layer(int kind, int64_t in, int64_t out)
{
    gp_rng rng;
    gp_rng_seed(&rng, 77 + (uint64_t)kind);
    gp_module *m = NULL, *mlp = NULL;
    gp_sage_options so = {GP_AGGR_MEAN, true, false, true};
    gp_gat_options go = {2, true, 0.2f, 0.0f, true};
    gp_mlp_options mo = {GP_ACT_RELU, 0.0f, GP_NORM_NONE};
    switch (kind) {
    case L_GIN:
        assert_int_equal(gp_mlp_new(&mlp, in, 1, (int64_t[]){out}, out, &mo, &rng), GP_OK);
        assert_int_equal(gp_gin_new(&m, &mlp, &(gp_gin_options){0.3f, true}, &rng), GP_OK);
        break;
    case L_GCN: assert_int_equal(gp_gcn_new(&m, in, out, true, &rng), GP_OK); break;
    case L_GC_SUM: assert_int_equal(gp_graphconv_new(&m, in, out, GP_AGGR_SUM, true, &rng), GP_OK); break;
    case L_GC_MEAN: assert_int_equal(gp_graphconv_new(&m, in, out, GP_AGGR_MEAN, true, &rng), GP_OK); break;
    case L_GC_MAX: assert_int_equal(gp_graphconv_new(&m, in, out, GP_AGGR_MAX, true, &rng), GP_OK); break;
    case L_SAGE_MEAN: assert_int_equal(gp_sage_new(&m, in, out, &so, &rng), GP_OK); break;
    case L_SAGE_MAX:
        so.aggr = GP_AGGR_MAX;
        assert_int_equal(gp_sage_new(&m, in, out, &so, &rng), GP_OK);
        break;
    default: assert_int_equal(gp_gat_new(&m, in, out / 2, &go, &rng), GP_OK); break;
    }
    return m;
}

typedef struct layer_result {
    float *y, *gx;
    float *gp[16];
    int np;
} layer_result;

static layer_result layer_run(gp_module *m, gp_graph *g, gp_tensor *x, const float *r)
{
    layer_result res = {0};
    gp_param_list pl;
    assert_int_equal(gp_module_params(&pl, m, false), GP_OK);
    assert_true(pl.count <= 16);
    for (int i = 0; i < pl.count; i++) gp_tensor_zero_grad(pl.tensors[i]);
    gp_tensor_zero_grad(x);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tensor *y = gp_module_forward(m, t, g, x);
    if (!y) fail_msg("%s forward failed: %s", m->ops->kind, gp_last_error());
    res.y = copy_floats(y->data, gp_tensor_size(y));
    assert_int_equal(gp_tape_backward_from(t, y, r), GP_OK);
    res.gx = copy_floats(x->grad, gp_tensor_size(x));
    res.np = pl.count;
    for (int i = 0; i < pl.count; i++) res.gp[i] = copy_floats(pl.tensors[i]->grad, gp_tensor_size(pl.tensors[i]));
    gp_tape_free(&t);
    gp_param_list_free(&pl);
    return res;
}

static void layer_result_free(layer_result *r)
{
    free(r->y), free(r->gx);
    for (int i = 0; i < r->np; i++) free(r->gp[i]);
}

static void test_copies_layers(void **state)
{
    (void)state;
    const int64_t in = 3, out = 4;
    for (int c = 0; c < NUM_CASES; c++) {
        gp_graph *g = random_batch(&cases[c], 50 + (uint64_t)c), *ex = NULL, *sh = NULL;
        make_copies(g, copy_counts, &ex, &sh);
        int64_t n = gp_graph_nodes(ex);
        gp_tensor *x = gc_param_seeded("x", n, in, 5);
        float *r = random_floats(n * out, 6);
        for (int kind = 0; kind < NUM_LAYERS; kind++) {
            gp_module *m = make_layer(kind, in, out);
            layer_result a = layer_run(m, sh, x, r), b = layer_run(m, ex, x, r);
            assert_bits(layer_names[kind], a.y, b.y, n * out);
            assert_bits(layer_names[kind], a.gx, b.gx, n * in);
            assert_int_equal(a.np, b.np);
            gp_param_list pl;
            assert_int_equal(gp_module_params(&pl, m, false), GP_OK);
            for (int i = 0; i < a.np; i++) assert_bits(pl.names[i], a.gp[i], b.gp[i], gp_tensor_size(pl.tensors[i]));
            gp_param_list_free(&pl);
            if (kind == L_GAT) { /* attention over the explicit form, owned by the implicit graph */
                gp_tensor *alpha = NULL;
                const gp_graph *ag = NULL;
                gp_tape *t = NULL;
                assert_int_equal(gp_tape_new(&t), GP_OK);
                assert_non_null(gp_module_forward(m, t, sh, x));
                assert_int_equal(gp_gat_last_attention(&alpha, &ag, m), GP_OK);
                assert_non_null(ag->adj.ptr);
                assert_int_equal(alpha->rows, gp_graph_edges(ag));
                gp_tape_free(&t);
            }
            layer_result_free(&a), layer_result_free(&b);
            gp_module_free(&m);
        }
        free(r);
        gp_tensor_free(&x);
        gp_graph_free(&ex), gp_graph_free(&sh), gp_graph_free(&g);
    }
}

/* ---- explicit entries, nesting, errors ---- */

/* Public functions that read adj's arrays take implicit graphs through their explicit form. */
static void test_copies_public_readers(void **state)
{
    (void)state;
    gp_graph *g = random_batch(&cases[3], 61), *ex = NULL, *sh = NULL; /* symmetric unweighted */
    make_copies(g, copy_counts, &ex, &sh);
    int64_t n = gp_graph_nodes(ex);
    int64_t pairs[2 * 40];
    gp_rng rng;
    gp_rng_seed(&rng, 7);
    for (int i = 0; i < 80; i++) pairs[i] = (int64_t)gp_rng_below(&rng, (uint64_t)n);
    gp_status (*heur[])(double *, const gp_graph *, int64_t, const int64_t *, const gp_heuristic_opts *) = {
        gp_heuristic_cn, gp_heuristic_ra, gp_heuristic_pa, gp_heuristic_katz};
    for (int h = 0; h < 4; h++) {
        double sa[40], sb[40];
        assert_int_equal(heur[h](sa, sh, 40, pairs, NULL), GP_OK);
        assert_int_equal(heur[h](sb, ex, 40, pairs, NULL), GP_OK);
        assert_memory_equal(sa, sb, sizeof sa);
    }
    int64_t pick[] = {0, 3, 4, 9, 12, 20, n - 1};
    gp_graph *ia = NULL, *ib = NULL;
    assert_int_equal(gp_graph_induced(&ia, sh, 7, pick), GP_OK);
    assert_int_equal(gp_graph_induced(&ib, ex, 7, pick), GP_OK);
    assert_same_csr("induced", &ia->adj, &ib->adj);
    int64_t *ka = NULL, *kb = NULL, ca = 0, cb = 0, hpa[4], hpb[4];
    assert_int_equal(gp_graph_khop(&ka, &ca, hpa, sh, 2, pick, 2, 0, NULL), GP_OK);
    assert_int_equal(gp_graph_khop(&kb, &cb, hpb, ex, 2, pick, 2, 0, NULL), GP_OK);
    assert_int_equal(ca, cb);
    assert_memory_equal(ka, kb, (size_t)ca * sizeof(int64_t));
    gp_graph *ba = NULL, *bb = NULL;
    assert_int_equal(gp_graph_batch(&ba, 2, (const gp_graph *const[]){sh, ex}), GP_OK);
    assert_int_equal(gp_graph_batch(&bb, 2, (const gp_graph *const[]){ex, ex}), GP_OK);
    assert_same_csr("batch", &ba->adj, &bb->adj);
    gp_link_split *la = NULL, *lb = NULL;
    assert_int_equal(gp_link_split_random(&la, sh, 0.1, 0.2, GP_NEG_AVOID_ALL_EDGES, 5), GP_OK);
    assert_int_equal(gp_link_split_random(&lb, ex, 0.1, 0.2, GP_NEG_AVOID_ALL_EDGES, 5), GP_OK);
    for (int p = 0; p < GP_LINK_PARTS; p++) {
        assert_int_equal(la->count[p], lb->count[p]);
        if (la->count[p]) assert_memory_equal(la->pairs[p], lb->pairs[p], (size_t)(2 * la->count[p]) * sizeof(int64_t));
    }
    gp_link_split_free(&la), gp_link_split_free(&lb);
    /* pooling operators that read edges (top-k coarsening, GPN readout) on an implicit batch */
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tensor *x = gc_param_seeded("x", n, 6, 9);
    const char *specs[] = {"topk:ratio=0.5", "sagpool:ratio=0.5", "gpn"};
    for (int k = 0; k < 3; k++) {
        gp_module *pm = NULL;
        gp_rng prng;
        gp_rng_seed(&prng, 3);
        assert_int_equal(gp_pool_new(&pm, specs[k], 6, &prng), GP_OK);
        gp_pool_batch sb = gp_pool_batch_of(sh, x), eb = gp_pool_batch_of(ex, x);
        const float *ya, *yb;
        int64_t size;
        gp_pool_batch oa, ob;
        memset(&oa, 0, sizeof oa), memset(&ob, 0, sizeof ob);
        if (gp_pool_caps(pm) & GP_POOL_COARSEN) {
            assert_int_equal(gp_pool_coarsen(pm, t, &sb, &oa), GP_OK);
            assert_int_equal(gp_pool_coarsen(pm, t, &eb, &ob), GP_OK);
            assert_same_csr(specs[k], &oa.graph->adj, &ob.graph->adj);
            ya = oa.x->data, yb = ob.x->data, size = gp_tensor_size(ob.x);
        } else {
            gp_tensor *ra = gp_pool_readout(pm, t, &sb), *rb = gp_pool_readout(pm, t, &eb);
            assert_non_null(ra);
            assert_non_null(rb);
            ya = ra->data, yb = rb->data, size = gp_tensor_size(rb);
        }
        assert_bits(specs[k], ya, yb, size);
        gp_pool_batch_release(&oa), gp_pool_batch_release(&ob);
        gp_tape_reset(t);
        gp_module_free(&pm);
    }
    gp_tensor_free(&x);
    gp_tape_free(&t);
    gp_graph_free(&ba), gp_graph_free(&bb), gp_graph_free(&ia), gp_graph_free(&ib);
    gp_free(ka), gp_free(kb);
    gp_graph_free(&ex), gp_graph_free(&sh), gp_graph_free(&g);
}

static void test_copies_explicit_readers(void **state)
{
    (void)state;
    gp_graph *g = random_batch(&cases[2], 60), *ex = NULL, *sh = NULL;
    make_copies(g, copy_counts, &ex, &sh);
    int64_t n = gp_graph_nodes(ex);
    gp_tensor *a = gc_param_seeded("a", n, 4, 1), *b = gc_param_seeded("b", n, 4, 2);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    /* sddmm reads entries one by one: through the explicit form, same values */
    gp_tensor *za = gp_sddmm(t, sh, a, b, 2), *zb = gp_sddmm(t, ex, a, b, 2);
    assert_non_null(za);
    assert_bits("sddmm", za->data, zb->data, gp_tensor_size(zb));
    /* an op that reads adj's arrays itself goes through the explicit form too */
    gp_tensor *params = gc_param_seeded("gnp", 4, 4, 3);
    gp_gnp_init_params(params, 1.0f, 0.0f);
    gp_tensor *ga = gp_gnp_aggregate(t, sh, a, params), *gb = gp_gnp_aggregate(t, ex, a, params);
    assert_non_null(ga);
    assert_non_null(gb);
    assert_bits("gnp aggregate", ga->data, gb->data, gp_tensor_size(gb));
    /* copies of an implicit batch equal copies of the explicit one */
    const int64_t again[] = {2, 0, 1, 1, 0, 3, 1};
    int64_t copies_of_copies[27];
    for (int64_t i = 0; i < sh->num_graphs; i++) copies_of_copies[i] = again[i % 7];
    gp_graph *s2 = NULL, *e2 = NULL, *c2 = NULL;
    assert_int_equal(gp_graph_copies(&s2, sh, copies_of_copies, true), GP_OK);
    assert_int_equal(gp_graph_copies(&e2, ex, copies_of_copies, false), GP_OK);
    assert_int_equal(gp_graph_copy(&c2, s2), GP_OK);
    assert_same_csr("copies of copies", &c2->adj, &e2->adj);
    assert_same_batch(s2, e2);
    gp_graph_free(&s2), gp_graph_free(&e2), gp_graph_free(&c2);
    gp_tape_free(&t);
    gp_tensor_free(&a), gp_tensor_free(&b), gp_tensor_free(&params);
    gp_graph_free(&ex), gp_graph_free(&sh), gp_graph_free(&g);
}

static void test_copies_errors(void **state)
{
    (void)state;
    gp_graph *g = random_batch(&cases[0], 70), *out = NULL;
    for (int shared = 0; shared < 2; shared++) {
        assert_int_equal(gp_graph_copies(NULL, g, copy_counts, shared), GP_E_INVALID);
        assert_int_equal(gp_graph_copies(&out, NULL, copy_counts, shared), GP_E_INVALID);
        assert_null(out);
        assert_int_equal(gp_graph_copies(&out, g, NULL, shared), GP_E_INVALID);
        const int64_t negative[NUM_GRAPHS] = {1, 1, -1, 1, 1, 1}, none[NUM_GRAPHS] = {0};
        assert_int_equal(gp_graph_copies(&out, g, negative, shared), GP_E_INVALID);
        assert_non_null(strstr(gp_last_error(), "negative"));
        assert_int_equal(gp_graph_copies(&out, g, none, shared), GP_E_INVALID);
        assert_null(out);
    }
    /* a "batch" whose edge joins its two graphs */
    gp_graph *cross = NULL;
    assert_int_equal(gp_graph_from_edges(&cross, 4, 2, (int64_t[]){0, 1}, (int64_t[]){1, 3}, NULL,
                                         GP_EDGES_SYMMETRISE), GP_OK);
    int64_t *ptr = malloc(3 * sizeof(int64_t)), *of = malloc(4 * sizeof(int64_t));
    ptr[0] = 0, ptr[1] = 2, ptr[2] = 4;
    of[0] = of[1] = 0, of[2] = of[3] = 1;
    free(cross->graph_ptr), free(cross->graph_of); /* the default allocator is malloc / free */
    cross->graph_ptr = ptr, cross->graph_of = of, cross->num_graphs = 2;
    assert_int_equal(gp_graph_copies(&out, cross, (int64_t[]){1, 2}, true), GP_E_INVALID);
    assert_non_null(strstr(gp_last_error(), "leaves graph 0"));
    gp_graph_free(&cross);
    gp_graph_free(&g);
}

/* construction, GCN form, explicit form and spmm forward / backward (directed, edge values:
 * the transposed pack) with allocation n failing */
static gp_status oom_workload(void *ctx)
{
    const gp_graph *g = ctx;
    gp_graph *sh = NULL, *cp = NULL;
    gp_tape *t = NULL;
    gp_tensor *x = NULL, *ev = NULL;
    const gp_graph *norm = NULL;
    gp_status st;
    if ((st = gp_graph_copies(&sh, g, copy_counts, true)) != GP_OK) goto done;
    if ((st = gp_graph_gcn_norm(&norm, sh)) != GP_OK) goto done;
    if ((st = gp_graph_copy(&cp, norm)) != GP_OK) goto done;
    if ((st = gp_param_new(&x, "x", gp_graph_nodes(sh), 3)) != GP_OK) goto done;
    if ((st = gp_param_new(&ev, "ev", gp_graph_edges(sh), 1)) != GP_OK) goto done;
    if ((st = gp_tape_new(&t)) != GP_OK) goto done;
    gp_tensor *y = gp_add(t, gp_spmm(t, sh, ev, x), gp_spmm(t, norm, NULL, x));
    st = y ? gp_tape_backward(t, gp_sum_all(t, y)) : gp_tape_status(t);
done:
    gp_tape_free(&t);
    gp_tensor_free(&x), gp_tensor_free(&ev);
    gp_graph_free(&cp), gp_graph_free(&sh);
    return st;
}

static void test_copies_alloc_failure(void **state)
{
    (void)state;
    gp_graph *g = random_batch(&cases[2], 80);
    gp_set_allocator(fa_allocator());
    fa_reset(-1);
    fa_result r = fa_every_failure("graph copies", oom_workload, g);
    gp_set_allocator(NULL);
    assert_true(r.total > 10);
    assert_true(r.failures > 0);
    gp_graph_free(&g);
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copies_structure),
        cmocka_unit_test(test_copies_spmm),
        cmocka_unit_test(test_copies_spmm_gradcheck),
        cmocka_unit_test(test_copies_gcn_norm),
        cmocka_unit_test(test_copies_layers),
        cmocka_unit_test(test_copies_explicit_readers),
        cmocka_unit_test(test_copies_public_readers),
        cmocka_unit_test(test_copies_errors),
        cmocka_unit_test(test_copies_alloc_failure),
    };
    int rc = cmocka_run_group_tests_name("graph_copies", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
