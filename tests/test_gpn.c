/*
 * Graph Parsing Networks (graphpool/gpn.c, suite "pool"):
 * - parsing: clusters equal the weakly connected components of the dominant-edge graph computed by
 *   a brute-force reference (naive dominant edges, label propagation to a fixpoint), on random
 *   graphs with tied scores (quantised), self-loops, isolated nodes and NaN scores; exact numbering
 *   (clusters in order of their smallest node); out-of-range edges rejected;
 * - pooled graph: equals the dense 1[offdiag(S^T A S) > 0], symmetric, batch offsets follow the
 *   clusters; a cluster spanning two graphs is rejected;
 * - permutation equivariance of the parse without ties (edge scores and whole module);
 * - termination: connected graphs end as one node, the node count strictly decreases, levels <= n;
 *   a disconnected graph ends with one node per component; JSON of a hierarchy;
 * - the operator: finite-difference gradient check of the readout w.r.t. features and every
 *   parameter (the parser only gets a gradient through the gate, checked non-zero), for sum and
 *   levelmean readouts, gnn2=identity and ds_layers=3, on a batch with a one-node graph and an edgeless graph;
 *   the hand-computed value of one level (one edge: gate 2 sigma, DeepSets of the two nodes);
 *   batch rows equal single-graph readouts; errors (directed graph, bad option, not a gpn module).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <graphpool/gpn.h>
#include <graphpool/layers.h>
#include <graphpool/pool.h>

#include "failing_alloc.h"
#include "gradcheck.h"

/* ---- helpers ---- */

static gp_graph *undirected(int64_t n, int64_t m, const int64_t *u, const int64_t *v)
{
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_edges(&g, n, m, u, v, NULL,
                                         GP_EDGES_SYMMETRISE | GP_EDGES_DROP_DUPLICATES |
                                             GP_EDGES_DROP_SELF_LOOPS),
                     GP_OK);
    return g;
}

/* Random graph: the first n - iso nodes get about `deg` n random edges; last iso nodes isolated.
 * connected: a random spanning tree first. */
static gp_graph *random_graph(int64_t n, int64_t iso, double deg, bool connected, uint64_t seed)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    int64_t core = n - iso, m = 0, cap = (int64_t)(deg * (double)n) + n + 1;
    int64_t *u = malloc((size_t)cap * sizeof(int64_t)), *v = malloc((size_t)cap * sizeof(int64_t));
    if (connected)
        for (int64_t i = 1; i < core; i++) u[m] = i, v[m] = (int64_t)gp_rng_below(&rng, (uint64_t)i), m++;
    int64_t extra = core > 1 ? (int64_t)(deg * (double)core) : 0;
    for (int64_t k = 0; k < extra && m < cap; k++) {
        int64_t a = (int64_t)gp_rng_below(&rng, (uint64_t)core), b = (int64_t)gp_rng_below(&rng, (uint64_t)core);
        if (a != b) u[m] = a, v[m] = b, m++;
    }
    gp_graph *g = undirected(n, m, u, v);
    free(u);
    free(v);
    return g;
}

/* Undirected edges {u < v} of g in CSR order (the order gpn.c numbers them). */
static int64_t edges_of(const gp_graph *g, int64_t *eu, int64_t *ev)
{
    int64_t m = 0;
    for (int64_t v = 0; v < g->adj.rows; v++)
        for (int64_t k = g->adj.ptr[v]; k < g->adj.ptr[v + 1]; k++)
            if (g->adj.idx[k] < v) eu[m] = g->adj.idx[k], ev[m] = v, m++;
    return m;
}

/* Brute force: dominant edge per node by a full scan (ties: smaller index, NaN lowest), then
 * components by label propagation (min label) to a fixpoint, numbered by smallest node. */
static int64_t reference_parse(int64_t *cluster, int64_t n, int64_t m, const int64_t *eu,
                               const int64_t *ev, const float *s)
{
    int64_t *dom = malloc((size_t)(n + 1) * sizeof(int64_t)), *label = malloc((size_t)(n + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) {
        dom[i] = -1;
        for (int64_t k = 0; k < m; k++) {
            if (eu[k] == ev[k] || (eu[k] != i && ev[k] != i)) continue;
            int64_t other = eu[k] == i ? ev[k] : eu[k];
            if (dom[i] < 0) {
                dom[i] = other, label[i] = k;
                continue;
            }
            float best = s[label[i]], cur = s[k];
            bool better = !isnan(cur) && (isnan(best) || cur > best);
            if (better) dom[i] = other, label[i] = k;
        }
    }
    for (int64_t i = 0; i < n; i++) label[i] = i;
    for (bool changed = true; changed;) {
        changed = false;
        for (int64_t i = 0; i < n; i++) {
            if (dom[i] < 0) continue;
            int64_t j = dom[i], l = label[i] < label[j] ? label[i] : label[j];
            if (label[i] != l || label[j] != l) label[i] = label[j] = l, changed = true;
        }
    }
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) cluster[i] = -1;
    int64_t *id = malloc((size_t)(n + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) id[i] = -1;
    for (int64_t i = 0; i < n; i++) {
        if (id[label[i]] < 0) id[label[i]] = c++;
        cluster[i] = id[label[i]];
    }
    free(id);
    free(dom);
    free(label);
    return c;
}

/* Same partition up to relabelling, with node i of a being node p[i] of b. */
static void assert_same_partition(const int64_t *a, const int64_t *b, const int64_t *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            assert_int_equal(a[i] == a[j], b[p ? p[i] : i] == b[p ? p[j] : j]);
}

/* ---- parsing ---- */

static void test_parse_matches_bruteforce(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 7);
    for (int trial = 0; trial < 60; trial++) {
        int64_t n = 1 + (int64_t)gp_rng_below(&rng, 40), iso = (int64_t)gp_rng_below(&rng, 4);
        if (iso > n) iso = n;
        gp_graph *g = random_graph(n, iso, 0.5 + trial % 4, trial % 2 == 0, 100 + (uint64_t)trial);
        int64_t eu[512], ev[512];
        int64_t m = edges_of(g, eu, ev);
        /* add self-loops (ignored by the parse) */
        if (m < 500 && n > 0) eu[m] = ev[m] = n - 1, m++;
        float s[512];
        for (int64_t k = 0; k < m; k++) {
            /* trials 0-39: quantised (many ties); then continuous; a few NaN */
            s[k] = trial < 40 ? (float)gp_rng_below(&rng, 3) : gp_rng_uniform(&rng);
            if (trial % 7 == 3 && k % 5 == 0) s[k] = NAN;
        }
        int64_t got[64], want[64], c = -1;
        assert_int_equal(gp_gpn_parse_edges(got, &c, n, m, eu, ev, s), GP_OK);
        int64_t cw = reference_parse(want, n, m, eu, ev, s);
        assert_int_equal(c, cw);
        for (int64_t i = 0; i < n; i++) assert_int_equal(got[i], want[i]);
        /* isolated nodes are singletons */
        for (int64_t i = n - iso; i < n - 1; i++) assert_int_not_equal(got[i], got[i + 1]);
        gp_graph_free(&g);
    }
    /* hand example: path 0-1-2-3, scores .9 .1 .8: dominant 0->1, 1->0, 2->3, 3->2 -> {0,1},{2,3};
     * tie at 1: scores .5 .5 .1 -> node 1 keeps edge 0 -> {0,1,2}? no: node 2 keeps edge 1 (its
     * best), so {0,1,2} and node 3 joins 2 -> one cluster. */
    int64_t pu[3] = {0, 1, 2}, pv[3] = {1, 2, 3}, cl[4], c;
    assert_int_equal(gp_gpn_parse_edges(cl, &c, 4, 3, pu, pv, (float[]){0.9f, 0.1f, 0.8f}), GP_OK);
    assert_int_equal(c, 2);
    assert_int_equal(cl[0], 0), assert_int_equal(cl[1], 0), assert_int_equal(cl[2], 1), assert_int_equal(cl[3], 1);
    assert_int_equal(gp_gpn_parse_edges(cl, &c, 4, 3, pu, pv, (float[]){0.5f, 0.5f, 0.1f}), GP_OK);
    assert_int_equal(c, 1);
    /* errors */
    int64_t bad[1] = {4};
    assert_int_equal(gp_gpn_parse_edges(cl, &c, 4, 1, bad, pv, (float[]){1.0f}), GP_E_RANGE);
    assert_int_equal(gp_gpn_parse_edges(NULL, &c, 4, 1, pu, pv, (float[]){1.0f}), GP_E_INVALID);
    assert_int_equal(gp_gpn_parse_edges(cl, &c, 0, 0, NULL, NULL, NULL), GP_OK);
    assert_int_equal(c, 0);
}

static void test_pooled_graph_dense(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 11);
    for (int trial = 0; trial < 20; trial++) {
        gp_graph *parts[3];
        int64_t sizes[3] = {1 + (int64_t)gp_rng_below(&rng, 12), 1, 2 + (int64_t)gp_rng_below(&rng, 12)};
        for (int i = 0; i < 3; i++) parts[i] = random_graph(sizes[i], i == 2 ? 1 : 0, 1.5, false, 500 + (uint64_t)(3 * trial + i));
        gp_graph *g = NULL;
        assert_int_equal(gp_graph_batch(&g, 3, (const gp_graph *const *)parts), GP_OK);
        for (int i = 0; i < 3; i++) gp_graph_free(&parts[i]);
        int64_t n = g->adj.rows, eu[512], ev[512], m = edges_of(g, eu, ev), cl[64], c;
        float s[512];
        for (int64_t k = 0; k < m; k++) s[k] = gp_rng_uniform(&rng);
        assert_int_equal(gp_gpn_parse_edges(cl, &c, n, m, eu, ev, s), GP_OK);
        gp_graph *p = NULL;
        assert_int_equal(gp_gpn_pooled_graph(&p, g, cl, c), GP_OK);
        assert_int_equal(p->adj.rows, c);
        assert_true(p->symmetric);
        /* dense S^T A S */
        double *dense = calloc((size_t)(c * c), sizeof(double));
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = g->adj.ptr[i]; k < g->adj.ptr[i + 1]; k++) dense[cl[i] * c + cl[g->adj.idx[k]]] += 1.0;
        float *got = NULL;
        assert_int_equal(gp_csr_to_dense(&got, &p->adj), GP_OK);
        for (int64_t a = 0; a < c; a++)
            for (int64_t b = 0; b < c; b++)
                assert_true(got[a * c + b] == ((a != b && dense[a * c + b] > 0) ? 1.0f : 0.0f));
        /* batch offsets: cluster ranges per graph */
        assert_int_equal(p->num_graphs, 3);
        for (int64_t i = 0; i < n; i++) {
            int64_t gi = g->graph_of[i];
            assert_true(cl[i] >= p->graph_ptr[gi] && cl[i] < p->graph_ptr[gi + 1]);
        }
        gp_free(got);
        free(dense);
        gp_graph_free(&p);
        gp_graph_free(&g);
    }
    /* a cluster spanning two graphs is rejected */
    gp_graph *parts[2] = {random_graph(2, 0, 1, true, 1), random_graph(2, 0, 1, true, 2)}, *g = NULL, *p = NULL;
    assert_int_equal(gp_graph_batch(&g, 2, (const gp_graph *const *)parts), GP_OK);
    assert_int_equal(gp_gpn_pooled_graph(&p, g, (int64_t[]){0, 1, 1, 2}, 3), GP_E_INVALID);
    assert_int_equal(gp_gpn_pooled_graph(&p, g, (int64_t[]){0, 0, 1, 3}, 3), GP_E_RANGE);
    assert_null(p);
    gp_graph_free(&parts[0]);
    gp_graph_free(&parts[1]);
    gp_graph_free(&g);
}

/* ---- the module ---- */

static gp_module *new_gpn(const char *spec, int64_t d, uint64_t seed)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    gp_module *m = NULL;
    assert_int_equal(gp_pool_new(&m, spec, d, &rng), GP_OK);
    return m;
}

static gp_tensor *random_features(int64_t n, int64_t d, uint64_t seed)
{
    gp_tensor *x = NULL;
    assert_int_equal(gp_tensor_new(&x, n, d), GP_OK);
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    gc_fill(x, &rng, -1.0f, 1.0f);
    return x;
}

static void test_parse_equivariance(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 21);
    for (int trial = 0; trial < 10; trial++) {
        int64_t n = 30, eu[512], ev[512], pu[512], pv[512], p[30], a[30], b[30], ca, cb;
        gp_graph *g = random_graph(n, 2, 1.5, false, 900 + (uint64_t)trial);
        int64_t m = edges_of(g, eu, ev);
        float s[512], ps[512];
        for (int64_t i = 0; i < n; i++) p[i] = i;
        gp_rng_shuffle(&rng, p, n);
        int64_t order[512];
        for (int64_t k = 0; k < m; k++) order[k] = k, s[k] = gp_rng_uniform(&rng);
        gp_rng_shuffle(&rng, order, m); /* edge order permuted too */
        for (int64_t k = 0; k < m; k++) {
            int64_t e = order[k];
            pu[k] = p[ev[e]], pv[k] = p[eu[e]], ps[k] = s[e];
        }
        assert_int_equal(gp_gpn_parse_edges(a, &ca, n, m, eu, ev, s), GP_OK);
        assert_int_equal(gp_gpn_parse_edges(b, &cb, n, m, pu, pv, ps), GP_OK);
        assert_int_equal(ca, cb);
        assert_same_partition(a, b, p, n);

        /* the whole module: relabelled graph and features give the same first-level partition */
        gp_graph *gp = undirected(n, m, pu, pv);
        gp_tensor *x = random_features(n, 6, 40 + (uint64_t)trial), *px = random_features(n, 6, 1);
        for (int64_t i = 0; i < n; i++) memcpy(px->data + p[i] * 6, x->data + i * 6, 6 * sizeof(float));
        gp_module *mod = new_gpn("gpn", 6, 3);
        gp_gpn_hierarchy h1, h2;
        assert_int_equal(gp_gpn_parse(&h1, mod, g, x), GP_OK);
        assert_int_equal(gp_gpn_parse(&h2, mod, gp, px), GP_OK);
        assert_true(h1.num_levels >= 1);
        assert_int_equal(h1.num_nodes[1], h2.num_nodes[1]);
        assert_same_partition(h1.cluster[0], h2.cluster[0], p, n);
        gp_gpn_hierarchy_free(&h1);
        gp_gpn_hierarchy_free(&h2);
        gp_module_free(&mod);
        gp_tensor_free(&x);
        gp_tensor_free(&px);
        gp_graph_free(&gp);
        gp_graph_free(&g);
    }
}

static void test_termination_and_json(void **state)
{
    (void)state;
    gp_module *mod = new_gpn("gpn:gnn_layers=1", 4, 5);
    for (int trial = 0; trial < 12; trial++) {
        int64_t n = 2 + 13 * trial;
        gp_graph *g = random_graph(n, 0, trial % 3, true, 70 + (uint64_t)trial);
        gp_tensor *x = random_features(n, 4, (uint64_t)trial);
        gp_gpn_hierarchy h;
        assert_int_equal(gp_gpn_parse(&h, mod, g, x), GP_OK);
        assert_true(h.num_levels >= 1 && h.num_levels <= n);
        assert_int_equal(h.num_nodes[0], n);
        assert_int_equal(h.num_nodes[h.num_levels], 1);
        for (int l = 0; l < h.num_levels; l++) {
            assert_true(h.num_nodes[l + 1] < h.num_nodes[l]);
            for (int64_t i = 0; i < h.num_nodes[l]; i++)
                assert_true(h.cluster[l][i] >= 0 && h.cluster[l][i] < h.num_nodes[l + 1]);
        }
        gp_gpn_hierarchy_free(&h);
        gp_tensor_free(&x);
        gp_graph_free(&g);
    }
    /* disconnected: two paths and an isolated node end as three nodes */
    gp_graph *g = undirected(7, 4, (int64_t[]){0, 1, 3, 4}, (int64_t[]){1, 2, 4, 5});
    gp_tensor *x = random_features(7, 4, 9);
    gp_gpn_hierarchy h;
    assert_int_equal(gp_gpn_parse(&h, mod, g, x), GP_OK);
    assert_int_equal(h.num_nodes[h.num_levels], 3);
    /* JSON: a 3-node path parsed in one level (each end's only edge is dominant) */
    gp_graph *path = undirected(3, 2, (int64_t[]){0, 1}, (int64_t[]){1, 2});
    gp_gpn_hierarchy hp;
    assert_int_equal(gp_gpn_parse(&hp, mod, path, x), GP_E_SHAPE);
    assert_null(hp.cluster);
    gp_tensor *x3 = random_features(3, 4, 9);
    assert_int_equal(gp_gpn_parse(&hp, mod, path, x3), GP_OK);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(gp_gpn_hierarchy_write_json(&hp, f), GP_OK);
    rewind(f);
    char buf[256] = {0};
    assert_true(fread(buf, 1, sizeof buf - 1, f) > 0);
    fclose(f);
    assert_string_equal(buf, "{\"levels\": 1, \"num_nodes\": [3, 1], \"cluster\": [[0, 0, 0]]}\n");
    /* errors: directed graph, not a gpn module */
    gp_graph *dir = NULL;
    assert_int_equal(gp_graph_from_edges(&dir, 3, 1, (int64_t[]){0}, (int64_t[]){1}, NULL, 0), GP_OK);
    gp_gpn_hierarchy herr;
    assert_int_equal(gp_gpn_parse(&herr, mod, dir, x3), GP_E_INVALID);
    gp_module *sum = new_gpn("sum", 4, 1);
    assert_int_equal(gp_gpn_parse(&herr, sum, path, x3), GP_E_INVALID);
    assert_int_equal(herr.num_levels, 0);
    gp_module *bad = NULL;
    gp_rng rng;
    gp_rng_seed(&rng, 1);
    assert_int_equal(gp_pool_new(&bad, "gpn:gnn2=nope", 4, &rng), GP_E_INVALID);
    assert_int_equal(gp_pool_new(&bad, "gpn:readout=max", 4, &rng), GP_E_INVALID);
    assert_int_equal(gp_pool_new(&bad, "gpn:recompute=maybe", 4, &rng), GP_E_INVALID);
    assert_int_equal(gp_pool_new(&bad, "gpn:ratio=0.5", 4, &rng), GP_E_INVALID);
    assert_null(bad);
    assert_int_equal(gp_pool_caps(mod), GP_POOL_READOUT);
    assert_int_equal(gp_pool_readout_dim(mod), 4);
    /* readout on a directed graph fails the tape */
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_pool_batch b = gp_pool_batch_of(dir, x3);
    assert_null(gp_pool_readout(mod, t, &b));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_free(&t);
    gp_module_free(&sum);
    gp_graph_free(&dir);
    gp_tensor_free(&x3);
    gp_gpn_hierarchy_free(&hp);
    gp_graph_free(&path);
    gp_gpn_hierarchy_free(&h);
    gp_tensor_free(&x);
    gp_graph_free(&g);
    gp_module_free(&mod);
}

/* Batch: a 5-node graph (cycle + chord), one node, 3 nodes without edges, a 4-node path. */
static gp_graph *test_batch(void)
{
    gp_graph *parts[4] = {
        undirected(5, 6, (int64_t[]){0, 1, 2, 3, 4, 0}, (int64_t[]){1, 2, 3, 4, 0, 2}),
        undirected(1, 0, NULL, NULL),
        undirected(3, 0, NULL, NULL),
        undirected(4, 3, (int64_t[]){0, 1, 2}, (int64_t[]){1, 2, 3}),
    };
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_batch(&g, 4, (const gp_graph *const *)parts), GP_OK);
    for (int i = 0; i < 4; i++) gp_graph_free(&parts[i]);
    return g;
}

/* The dropout streams of a module tree, depth first. */
static int tree_rngs(gp_module *m, gp_rng **out, int cap, int k)
{
    if (k < cap) out[k] = &m->rng;
    k++;
    for (int c = 0; c < m->num_children; c++) k = tree_rngs(m->children[c], out, cap, k);
    return k;
}

enum { MAX_TREE_RNGS = 32 };

typedef struct gc_ctx {
    gp_module *mod;
    gp_graph *g;
    gp_rng *rngs[MAX_TREE_RNGS]; /* with dropout: every forward starts from these states, so */
    gp_rng start[MAX_TREE_RNGS]; /* that finite differences see the same masks */
    int num_rngs;
} gc_ctx;

static gp_tensor *readout_forward(gp_tape *t, gp_tensor **inputs, void *ctx)
{
    gc_ctx *c = ctx;
    for (int r = 0; r < c->num_rngs; r++) *c->rngs[r] = c->start[r];
    gp_pool_batch b = gp_pool_batch_of(c->g, inputs[0]);
    return gp_pool_readout(c->mod, t, &b);
}

/* random_bias: biases drawn in [-0.5, 0.5] instead of their zero initialisation, so that no ReLU
 * of a stacked MLP sits exactly at its kink (a zero input row plus a zero bias) */
static void gradcheck_graph(gp_graph *g, const char *spec, bool random_bias)
{
    gp_module *mod = new_gpn(spec, 3, 17);
    gp_param_list pl;
    assert_int_equal(gp_module_params(&pl, mod, false), GP_OK);
    gp_tensor *inputs[64];
    gp_tensor *x = NULL;
    assert_int_equal(gp_param_new(&x, "x", g->adj.rows, 3), GP_OK);
    gp_rng rng;
    gp_rng_seed(&rng, 99);
    gc_fill(x, &rng, -1.0f, 1.0f);
    inputs[0] = x;
    assert_true(pl.count < 63);
    for (int i = 0; i < pl.count; i++) {
        inputs[i + 1] = pl.tensors[i];
        if (random_bias && !strcmp(pl.tensors[i]->name, "bias")) gc_fill(pl.tensors[i], &rng, -0.5f, 0.5f);
    }
    gc_ctx ctx = {.mod = mod, .g = g};
    ctx.num_rngs = tree_rngs(mod, ctx.rngs, MAX_TREE_RNGS, 0);
    assert_true(ctx.num_rngs <= MAX_TREE_RNGS);
    for (int r = 0; r < ctx.num_rngs; r++) ctx.start[r] = *ctx.rngs[r];
    (void)gc_check;
    double err = gc_check_eps(readout_forward, &ctx, inputs, pl.count + 1, 1e-3, 2e-2);
    fprintf(stderr, "gpn %s (%lld nodes): gradcheck worst relative error %.3g\n", spec,
            (long long)g->adj.rows, err);
    assert_true(err <= 2e-2);
    gp_param_list_free(&pl);
    gp_tensor_free(&x);
    gp_module_free(&mod);
    gp_graph_free(&g);
}

static void gradcheck_spec(const char *spec, bool random_bias) { gradcheck_graph(test_batch(), spec, random_bias); }

static void test_gradcheck(void **state)
{
    (void)state;
    gradcheck_spec("gpn", false);
    gradcheck_spec("gpn:readout=levelmean,gnn_layers=1", false);
    gradcheck_spec("gpn:gnn2=identity,act_final=true", false);
    gradcheck_spec("gpn:ds_layers=3,gnn_layers=1", true); /* DeepSets MLPs of 3 layers (NCI1 preset) */
    /* scorer and DeepSets recomputed in 2- and 3-row chunks, with dropout (the same masks in
     * every forward: the gradient is right only if backward replays them) */
    gradcheck_spec("gpn:score_chunk=2,recompute=true", false);
    gradcheck_spec("gpn:dropout=0.3,score_chunk=2,recompute=true", false);
    gradcheck_spec("gpn:dropout=0.3,ds_layers=3,gnn_layers=1,score_chunk=3,recompute=true", true);
    gradcheck_spec("gpn:dropout=0.3,gnn2=identity,score_chunk=2,recompute=true", false);
    /* a graph whose parse leaves edges between clusters in most chunks: backward recomputes only
     * the chunks' edges inside clusters (the others get no gradient), with the chunk's dropout
     * masks for those rows (wrong masks fail this check) */
    gradcheck_graph(random_graph(40, 2, 2.0, false, 23), "gpn:dropout=0.3,gnn_layers=1,score_chunk=6,recompute=true", false);
}

/* The edge scorer and DeepSets recomputed in backward (recompute=true) against kept
 * (recompute=false): the same readout and gradients (parameters and input) to rounding, less tape
 * memory, and the dropout streams as the forward left them (the recomputation puts them back).
 * Two training steps on a 300-node graph in 50- or 64-row chunks. */
static void recompute_case(const char *spec, bool compare)
{
    enum { D = 8, STEPS = 2 };
    char recomputed[128], kept[128];
    snprintf(recomputed, sizeof recomputed, "%s,recompute=true", spec);
    snprintf(kept, sizeof kept, "%s,recompute=false", spec);
    gp_graph *g = random_graph(300, 4, 3.0, true, 41);
    gp_module *mods[2] = {new_gpn(recomputed, D, 7), new_gpn(kept, D, 7)};
    gp_tensor *xs[2] = {NULL, NULL};
    gp_tape *tapes[2] = {NULL, NULL};
    gp_param_list pls[2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(gp_param_new(&xs[k], "x", g->adj.rows, D), GP_OK);
        gp_rng rng;
        gp_rng_seed(&rng, 5);
        gc_fill(xs[k], &rng, -1.0f, 1.0f);
        assert_int_equal(gp_tape_new(&tapes[k]), GP_OK);
        assert_int_equal(gp_module_params(&pls[k], mods[k], false), GP_OK);
    }
    assert_int_equal(pls[0].count, pls[1].count);
    for (int step = 0; step < STEPS; step++) {
        gp_tensor *r[2];
        size_t used[2];
        for (int k = 0; k < 2; k++) {
            gp_tape_reset(tapes[k]);
            for (int i = 0; i < pls[k].count; i++) gp_tensor_zero_grad(pls[k].tensors[i]);
            gp_tensor_zero_grad(xs[k]);
            gp_pool_batch b = gp_pool_batch_of(g, xs[k]);
            r[k] = gp_pool_readout(mods[k], tapes[k], &b);
            assert_non_null(r[k]);
            used[k] = gp_arena_used(gp_tape_arena(tapes[k]));
            gp_rng *rngs[MAX_TREE_RNGS], after_forward[MAX_TREE_RNGS];
            int nr = tree_rngs(mods[k], rngs, MAX_TREE_RNGS, 0);
            assert_true(nr <= MAX_TREE_RNGS);
            for (int q = 0; q < nr; q++) after_forward[q] = *rngs[q];
            float out_grad[D];
            for (int j = 0; j < D; j++) out_grad[j] = (float)(j + 1) / D - 0.4f;
            assert_int_equal(gp_tape_backward_from(tapes[k], r[k], out_grad), GP_OK);
            for (int q = 0; q < nr; q++) assert_memory_equal(rngs[q], &after_forward[q], sizeof(gp_rng));
        }
        assert_true(used[0] < used[1]);
        if (!compare) continue;
        assert_int_equal(r[0]->rows * r[0]->cols, r[1]->rows * r[1]->cols);
        for (int64_t e = 0; e < gp_tensor_size(r[0]); e++)
            assert_true(fabs(r[0]->data[e] - r[1]->data[e]) <= 1e-5 * (1.0 + fabs(r[1]->data[e])));
        double worst = 0.0, norm = 0.0;
        for (int i = 0; i <= pls[0].count; i++) {
            const gp_tensor *a = i < pls[0].count ? pls[0].tensors[i] : xs[0];
            const gp_tensor *c = i < pls[1].count ? pls[1].tensors[i] : xs[1];
            for (int64_t e = 0; e < gp_tensor_size(a); e++) {
                double diff = fabs((double)a->grad[e] - c->grad[e]) / (1.0 + fabs(c->grad[e]));
                worst = diff > worst ? diff : worst;
                norm += fabs(a->grad[e]);
            }
        }
        fprintf(stderr, "%s step %d: tape %zu against %zu bytes, worst gradient difference %.3g\n",
                spec, step, used[0], used[1], worst);
        assert_true(norm > 0.0);
        assert_true(worst <= 1e-5);
    }
    for (int k = 0; k < 2; k++) {
        gp_param_list_free(&pls[k]);
        gp_tape_free(&tapes[k]);
        gp_tensor_free(&xs[k]);
        gp_module_free(&mods[k]);
    }
    gp_graph_free(&g);
}

static void test_recompute_matches_stored(void **state)
{
    (void)state;
    recompute_case("gpn:gnn_layers=1,score_chunk=64", true);
    recompute_case("gpn:gnn_layers=1,ds_layers=3,score_chunk=64", true); /* DeepSets MLPs */
    recompute_case("gpn:gnn2=identity,score_chunk=50", true);            /* DeepSets of the input */
    /* with dropout the chunks draw other masks than one whole pass: streams and memory only */
    recompute_case("gpn:dropout=0.3,gnn_layers=1,ds_layers=3,score_chunk=64", false);
}

/* Out of memory anywhere in a GPN training step with the edge scorer and DeepSets recomputed
 * (scratch tape, chunk forward and recomputation, dropout replay) and in the parse of one graph:
 * every failing allocation ends in GP_E_NOMEM with a message and leaves nothing allocated. */
static gp_status gpn_oom_scenario(void *ctx)
{
    (void)ctx;
    gp_status st = GP_OK;
    gp_rng rng;
    gp_rng_seed(&rng, 9);
    int64_t u[] = {0, 1, 2, 3, 4, 0, 5, 6, 7, 8}, v[] = {1, 2, 3, 4, 0, 2, 6, 7, 8, 5};
    gp_graph *g = NULL;
    gp_module *mod = NULL;
    gp_tensor *x = NULL;
    gp_tape *t = NULL;
    gp_gpn_hierarchy h = {0};
    if ((st = gp_graph_from_edges(&g, 10, 10, u, v, NULL, GP_EDGES_SYMMETRISE)) != GP_OK) goto done;
    if ((st = gp_pool_new(&mod, "gpn:gnn_layers=1,ds_layers=2,dropout=0.2,recompute=true,score_chunk=3", 3, &rng)) != GP_OK)
        goto done;
    if ((st = gp_param_new(&x, "x", 10, 3)) != GP_OK || (st = gp_tape_new(&t)) != GP_OK) goto done;
    for (int64_t i = 0; i < 30; i++) x->data[i] = (float)((i * 7) % 11) / 11.0f - 0.4f;
    gp_pool_batch b = gp_pool_batch_of(g, x);
    gp_tensor *r = gp_pool_readout(mod, t, &b);
    if ((st = gp_tape_backward(t, gp_sum_all(t, r))) != GP_OK) goto done;
    st = gp_gpn_parse(&h, mod, g, x);
done:
    if (st != GP_OK && !*gp_last_error()) st = GP_E_STATE; /* an error must come with a message */
    gp_gpn_hierarchy_free(&h);
    gp_tape_free(&t);
    gp_tensor_free(&x);
    gp_module_free(&mod);
    gp_graph_free(&g);
    return st;
}

static void test_gpn_out_of_memory(void **state)
{
    (void)state;
    gp_set_allocator(fa_allocator());
    fa_reset(-1);
    fa_result r = fa_every_failure("gpn scenario", gpn_oom_scenario, NULL);
    gp_set_allocator(NULL);
    printf("gpn out of memory: %ld allocations, %ld failure points ended in GP_E_NOMEM\n", r.total, r.failures);
    assert_true(r.failures > 20);
}

/* The scorer (child gnn_layers, the parser MLP) gets a gradient, which can only come through the
 * gate; batch rows equal single-graph readouts; done graphs read out their input features. */
static void test_gate_gradient_reaches_parser(void **state)
{
    (void)state;
    gp_graph *g = test_batch();
    gp_module *mod = new_gpn("gpn:gnn_layers=1", 3, 4);
    gp_tensor *x = random_features(g->adj.rows, 3, 5);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_pool_batch b = gp_pool_batch_of(g, x);
    gp_tensor *r = gp_pool_readout(mod, t, &b);
    assert_non_null(r);
    assert_int_equal(r->rows, 4);
    assert_int_equal(gp_tape_backward(t, gp_sum_all(t, r)), GP_OK);
    gp_module *parser = mod->children[1];
    gp_param_list pl;
    assert_int_equal(gp_module_params(&pl, parser, false), GP_OK);
    double norm = 0.0;
    for (int i = 0; i < pl.count; i++)
        for (int64_t k = 0; k < gp_tensor_size(pl.tensors[i]); k++) norm += fabs(pl.tensors[i]->grad[k]);
    assert_true(norm > 0.0);
    gp_param_list_free(&pl);
    /* batch rows equal single-graph readouts (graphs pool independently) */
    for (int64_t gi = 0; gi < 4; gi++) {
        int64_t lo = g->graph_ptr[gi], cnt = g->graph_ptr[gi + 1] - lo, nodes[8];
        for (int64_t i = 0; i < cnt; i++) nodes[i] = lo + i;
        gp_graph *sub = NULL;
        assert_int_equal(gp_graph_induced(&sub, g, cnt, nodes), GP_OK);
        gp_tensor xv = gp_tensor_rows(x, lo, cnt);
        gp_tape *t2 = NULL;
        assert_int_equal(gp_tape_new(&t2), GP_OK);
        gp_pool_batch b2 = gp_pool_batch_of(sub, &xv);
        gp_tensor *r2 = gp_pool_readout(mod, t2, &b2);
        assert_non_null(r2); /* sub keeps the batch's 4 graph ids (the others empty) */
        assert_int_equal(r2->rows, 4);
        for (int64_t j = 0; j < 3; j++)
            assert_true(fabs(r2->data[gi * 3 + j] - r->data[gi * 3 + j]) <= 1e-4 * (1.0 + fabs(r->data[gi * 3 + j])));
        gp_tape_free(&t2);
        gp_graph_free(&sub);
    }
    /* one-node and edgeless graphs read out the sum of their input features */
    for (int64_t gi = 1; gi <= 2; gi++)
        for (int64_t j = 0; j < 3; j++) {
            double want = 0.0;
            for (int64_t i = g->graph_ptr[gi]; i < g->graph_ptr[gi + 1]; i++) want += x->data[i * 3 + j];
            assert_true(fabs(r->data[gi * 3 + j] - want) <= 1e-5);
        }
    gp_tape_free(&t);
    gp_tensor_free(&x);
    gp_module_free(&mod);
    gp_graph_free(&g);
}

/* LayerNorm of one row (no affine: gamma 1, beta 0 as initialised). */
static void layer_norm_row(double *y, const double *x, int64_t d)
{
    double mean = 0.0, var = 0.0;
    for (int64_t j = 0; j < d; j++) mean += x[j];
    mean /= (double)d;
    for (int64_t j = 0; j < d; j++) var += (x[j] - mean) * (x[j] - mean);
    var /= (double)d;
    for (int64_t j = 0; j < d; j++) y[j] = (x[j] - mean) / sqrt(var + 1e-5);
}

/* x W + b for a linear child (params "weight" d x out, "bias" 1 x out). */
static void linear_row(double *y, const gp_module *lin, const double *x)
{
    const gp_tensor *w = lin->params[0], *bias = lin->params[1];
    for (int64_t o = 0; o < w->cols; o++) {
        double s = bias->data[o];
        for (int64_t j = 0; j < w->rows; j++) s += x[j] * w->data[j * w->cols + o];
        y[o] = s;
    }
}

static void test_one_level_value(void **state)
{
    (void)state;
    /* one edge, gnn_layers=0 and a one-layer parser: sigma = sigmoid((x0*x1) w + b); the pair
     * merges, then the single node is done: readout = 2 sigma DS_post(DS_pre(x0) + DS_pre(x1)). */
    enum { D = 4 };
    gp_module *mod = new_gpn("gpn:gnn_layers=0,parser_layers=1", D, 8);
    gp_graph *g = undirected(2, 1, (int64_t[]){0}, (int64_t[]){1});
    gp_tensor *x = random_features(2, D, 3);
    gp_module *parser = mod->children[0], *pre = mod->children[1], *post = mod->children[2];
    while (parser->num_params == 0) parser = parser->children[0]; /* the MLP's linear layer */
    double prod[D], z[1], xi[D], a[D], sum[D] = {0}, want[D];
    for (int64_t j = 0; j < D; j++) prod[j] = (double)x->data[j] * x->data[D + j];
    linear_row(z, parser, prod);
    double sigma = 1.0 / (1.0 + exp(-z[0]));
    for (int i = 0; i < 2; i++) {
        for (int64_t j = 0; j < D; j++) xi[j] = x->data[i * D + j];
        linear_row(a, pre, xi);
        for (int64_t j = 0; j < D; j++) a[j] += xi[j];
        layer_norm_row(a, a, D);
        for (int64_t j = 0; j < D; j++) sum[j] += a[j];
    }
    linear_row(a, post, sum);
    for (int64_t j = 0; j < D; j++) a[j] += sum[j];
    layer_norm_row(want, a, D);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_pool_batch b = gp_pool_batch_of(g, x);
    gp_tensor *r = gp_pool_readout(mod, t, &b);
    assert_non_null(r);
    for (int64_t j = 0; j < D; j++) assert_true(fabs(r->data[j] - 2.0 * sigma * want[j]) <= 1e-5 * (1.0 + fabs(want[j])));
    gp_tape_free(&t);
    gp_tensor_free(&x);
    gp_graph_free(&g);
    gp_module_free(&mod);
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_matches_bruteforce),
        cmocka_unit_test(test_pooled_graph_dense),
        cmocka_unit_test(test_parse_equivariance),
        cmocka_unit_test(test_termination_and_json),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_recompute_matches_stored),
        cmocka_unit_test(test_gpn_out_of_memory),
        cmocka_unit_test(test_gate_gradient_reaches_parser),
        cmocka_unit_test(test_one_level_value),
    };
    int rc = cmocka_run_group_tests_name("gpn", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
