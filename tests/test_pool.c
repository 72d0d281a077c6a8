/*
 * Pooling operators (suite "pool"):
 * - readouts sum/mean/max/min/meanmax/maxmean: hand-computed values on a batch with a one-node
 *   graph and a graph without edges, gradient checks, invariance under node permutations;
 * - GNP: reduces to sum (p=1,q=0), mean (p=1,q=1), max (p=50) and min (p=-50) of positive values,
 *   sums signed values exactly, double-precision reference for arbitrary (p, q) per channel,
 *   gradient checks for features and (p, q) (shared and per channel, positive and negative p),
 *   finite gradients at zero, neighbourhood aggregation against a naive reference, the GNP layer;
 * - top-k and SAGPool: hand-computed selection, gating and pooled graph; ties broken by node
 *   index; one-node graphs and graphs without edges; min_score mode; gradient checks (features and
 *   parameters, through the gate); equivariance (pooled features and graph permute with nodes);
 *   the hand induced-subgraph kernel against gp_graph_induced; the backward's vector builds and
 *   1 / 2 threads bit for bit;
 * - the interface: registry errors (unknown name / option / bad value), parameters of a pool module
 *   (SAGPool's child GCN), a class registered at run time with expand + grouped readouts.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <graphpool/layers.h>
#include <graphpool/pool.h>

#include "gradcheck.h"
#include "pool_fixtures.h"

/* ---- helpers ---- */

/* Batch of three graphs: a path on 4 nodes, a single node, 3 nodes without edges. */
static gp_graph *small_batch(void)
{
    gp_graph *gs[3];
    gs[0] = undirected(4, 3, (int64_t[]){0, 1, 1, 2, 2, 3});
    gs[1] = undirected(1, 0, NULL);
    gs[2] = undirected(3, 0, NULL);
    return batch_of(3, gs);
}

/*
 * Random batch: graphs of sizes sizes[i] with about 1.5 n random undirected edges each; perm
 * (optional) relabels: node v of graph i becomes node perm[v] (a permutation within the graph,
 * offsets of the batch). Node v keeps its features: x_new[perm[v]] = x[v].
 */
static gp_graph *random_batch(int count, const int64_t *sizes, uint64_t seed, const int64_t *perm)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    gp_graph *gs[8];
    int64_t off = 0;
    for (int i = 0; i < count; i++) {
        int64_t n = sizes[i], pairs[128];
        int m = n > 1 ? (int)(3 * n / 2) : 0;
        for (int k = 0; k < m; k++) {
            int64_t u = (int64_t)gp_rng_below(&rng, (uint64_t)n), v = (int64_t)gp_rng_below(&rng, (uint64_t)n);
            if (u == v) v = (u + 1) % n;
            pairs[2 * k] = perm ? perm[off + u] - off : u;
            pairs[2 * k + 1] = perm ? perm[off + v] - off : v;
        }
        gs[i] = undirected(n, m, pairs);
        off += n;
    }
    return batch_of(count, gs);
}

static gp_tensor *param_from(int64_t rows, int64_t cols, const float *v)
{
    gp_tensor *p = NULL;
    assert_int_equal(gp_param_new(&p, "x", rows, cols), GP_OK);
    if (v) memcpy(p->data, v, (size_t)(rows * cols) * sizeof(float));
    return p;
}

/* A random relabelling within each graph of a batch (graph i has sizes[i] nodes): node v becomes
 * perm[v], a node of the same graph. */
static void permute_within_graphs(int64_t *perm, int count, const int64_t *sizes, uint64_t seed)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    int64_t off = 0;
    for (int i = 0; i < count; i++) {
        for (int64_t v = 0; v < sizes[i]; v++) perm[off + v] = off + v;
        gp_rng_shuffle(&rng, perm + off, sizes[i]);
        off += sizes[i];
    }
}

/* The features of the relabelled batch: row perm[v] is row v of x (a new parameter). */
static gp_tensor *permuted_rows(const gp_tensor *x, const int64_t *perm)
{
    gp_tensor *xp = param_from(x->rows, x->cols, NULL);
    for (int64_t v = 0; v < x->rows; v++)
        memcpy(xp->data + perm[v] * x->cols, x->data + v * x->cols, (size_t)x->cols * sizeof(float));
    return xp;
}

static void assert_near(const char *what, double got, double want, double tol)
{
    if (fabs(got - want) > tol * fmax(1.0, fabs(want)))
        fail_msg("%s: got %.9g, want %.9g", what, got, want);
}

/* ---- readouts ---- */

static void test_readout_values(void **state)
{
    (void)state;
    gp_graph *g = small_batch();
    /* 8 nodes x 2 features */
    const float xv[16] = {1, -2, 3, 0, -1, 5, 2, 2, /* graph 0 */ 7, -7, /* graph 1 */
                          0, 1, 4, -3, 2, 0};       /* graph 2 */
    gp_tensor *x = param_from(8, 2, xv);
    const char *names[] = {"sum", "mean", "max", "min", "meanmax", "maxmean"};
    const double want[6][3][4] = {
        {{5, 5}, {7, -7}, {6, -2}},
        {{1.25, 1.25}, {7, -7}, {2, -2.0 / 3}},
        {{3, 5}, {7, -7}, {4, 1}},
        {{-1, -2}, {7, -7}, {0, -3}},
        {{1.25, 1.25, 3, 5}, {7, -7, 7, -7}, {2, -2.0 / 3, 4, 1}},
        {{3, 5, 1.25, 1.25}, {7, -7, 7, -7}, {4, 1, 2, -2.0 / 3}},
    };
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    for (int k = 0; k < 6; k++) {
        gp_module *m = pool_new(names[k], 2, 1);
        assert_true(gp_pool_caps(m) & GP_POOL_READOUT);
        gp_tape_reset(t);
        gp_pool_batch b = gp_pool_batch_of(g, x);
        gp_tensor *r = gp_pool_readout(m, t, &b);
        assert_non_null(r);
        int64_t w = k >= 4 ? 4 : 2;
        assert_int_equal(r->rows, 3);
        assert_int_equal(r->cols, w);
        assert_int_equal(gp_pool_readout_dim(m), w);
        for (int gi = 0; gi < 3; gi++)
            for (int c = 0; c < w; c++) assert_near(names[k], r->data[gi * w + c], want[k][gi][c], 1e-6);
        /* gp_module_forward is the readout */
        gp_tensor *r2 = gp_module_forward(m, t, g, x);
        assert_non_null(r2);
        assert_memory_equal(r->data, r2->data, (size_t)(3 * w) * sizeof(float));
        gp_module_free(&m);
    }
    gp_tape_free(&t);
    gp_tensor_free(&x);
    gp_graph_free(&g);
}

typedef struct pool_ctx {
    gp_module *m;
    gp_graph *g;
    int which; /* 0: readout, 1: coarsen (features), 2: coarsen then sum readout */
} pool_ctx;

/* The coarsened batch of the latest pool_forward (its graph lives until the next call). */
static gp_pool_batch last_out;

static gp_tensor *pool_forward(gp_tape *t, gp_tensor **in, void *vctx)
{
    pool_ctx *c = vctx;
    gp_pool_batch b = gp_pool_batch_of(c->g, in[0]);
    if (c->which == 0) return gp_pool_readout(c->m, t, &b);
    gp_pool_batch_release(&last_out); /* the previous evaluation's tape has been reset */
    if (gp_pool_coarsen(c->m, t, &b, &last_out) != GP_OK) return NULL;
    return last_out.x;
}

static void fill_separated(gp_tensor *x, uint64_t seed)
{
    /* distinct values at least 0.05 apart and away from 0, so max/min/top-k do not flip under
     * the finite-difference step */
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    int64_t n = gp_tensor_size(x);
    for (int64_t i = 0; i < n; i++) x->data[i] = (float)(0.2 + 0.05 * (double)i);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)gp_rng_below(&rng, (uint64_t)i + 1);
        float tmp = x->data[i];
        x->data[i] = x->data[j];
        x->data[j] = tmp;
    }
    for (int64_t i = 0; i < n; i++)
        if (gp_rng_uniform(&rng) < 0.4f) x->data[i] = -x->data[i];
}

static void test_readout_gradcheck_and_invariance(void **state)
{
    (void)state;
    const int64_t sizes[3] = {6, 1, 5};
    int64_t perm[12];
    permute_within_graphs(perm, 3, sizes, 9);
    gp_graph *g = random_batch(3, sizes, 5, NULL);
    gp_graph *gp = random_batch(3, sizes, 5, perm);
    const char *names[] = {"sum", "mean", "max", "min", "meanmax", "maxmean", "gnp",
                           "gnp:per_channel=true,p=2.5,q=0.5"};
    gp_tensor *x = param_from(12, 3, NULL);
    fill_separated(x, 3);
    gp_tensor *xp = permuted_rows(x, perm);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    for (int k = 0; k < 8; k++) {
        gp_module *m = pool_new(names[k], 3, 2);
        pool_ctx c = {m, g, 0};
        double err = gc_check(pool_forward, &c, &x, 1);
        if (err > 1e-2) fail_msg("%s: gradient error %g", names[k], err);
        gp_tape_reset(t);
        gp_pool_batch b = gp_pool_batch_of(g, x), bp = gp_pool_batch_of(gp, xp);
        gp_tensor *r = gp_pool_readout(m, t, &b), *rp = gp_pool_readout(m, t, &bp);
        assert_non_null(r);
        assert_non_null(rp);
        for (int64_t i = 0; i < gp_tensor_size(r); i++) assert_near(names[k], rp->data[i], r->data[i], 1e-5);
        gp_module_free(&m);
    }
    gp_tape_free(&t);
    gp_tensor_free(&x);
    gp_tensor_free(&xp);
    gp_graph_free(&g);
    gp_graph_free(&gp);
}

/* ---- GNP ---- */

/* Double-precision reference of one part: n^-q (sum a^p)^(1/p) over a = relu(sign x) (+eps if p<0). */
static double ref_part(const double *v, int n, double sign, double p, double q)
{
    if (n == 0) return 0.0;
    double s = 0.0;
    int terms = 0;
    for (int i = 0; i < n; i++) {
        double a = sign * v[i] > 0 ? sign * v[i] : 0.0;
        if (p < 0) a += 1e-6;
        else if (a == 0.0) continue;
        s += pow(a, p);
        terms++;
    }
    if (terms == 0) return 0.0;
    return pow((double)n, -q) * pow(s, 1.0 / p);
}

static gp_tensor *gnp_with(gp_tape *t, gp_tensor *x, const int64_t *ptr, int64_t segs, float pp,
                           float qp, float pn, float qn, gp_tensor **params_out)
{
    gp_tensor *prm = param_from(4, 1, (float[]){pp, qp, pn, qn});
    gp_tensor *y = gp_gnp_segments(t, x, prm, ptr, segs);
    if (params_out) *params_out = prm;
    else gp_tensor_free(&prm);
    return y;
}

static void test_gnp_special_cases(void **state)
{
    (void)state;
    const float pos[6] = {1.0f, 0.5f, 0.3f, 0.7f, /* seg 1 */ 2.0f, 0.25f};
    const int64_t ptr[4] = {0, 4, 4, 6}; /* segment 1 empty */
    gp_tensor *x = param_from(6, 1, pos);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tensor *y = gnp_with(t, x, ptr, 3, 1, 0, 1, 0, NULL);
    assert_near("sum", y->data[0], 2.5, 1e-6);
    assert_near("sum empty", y->data[1], 0.0, 1e-12);
    assert_near("sum", y->data[2], 2.25, 1e-6);
    y = gnp_with(t, x, ptr, 3, 1, 1, 1, 1, NULL);
    assert_near("mean", y->data[0], 0.625, 1e-6);
    assert_near("mean", y->data[2], 1.125, 1e-6);
    y = gnp_with(t, x, ptr, 3, 50, 0, 50, 0, NULL);
    assert_near("max", y->data[0], 1.0, 1e-3);
    assert_near("max", y->data[2], 2.0, 1e-3);
    y = gnp_with(t, x, ptr, 3, 1000, 0, 1000, 0, NULL); /* clamped to 50: still finite */
    assert_near("max clamped", y->data[0], 1.0, 1e-3);
    y = gnp_with(t, x, ptr, 3, -50, 0, -50, 0, NULL);
    assert_near("min", y->data[0], 0.3, 1e-2);
    assert_near("min", y->data[2], 0.25, 1e-2);
    /* signed values: p = 1, q = 0 is the exact sum; q = 1 the exact mean */
    const float sv[5] = {1.5f, -2.0f, 0.0f, 4.0f, -0.5f};
    gp_tensor *xs = param_from(5, 1, sv);
    const int64_t p1[2] = {0, 5};
    y = gnp_with(t, xs, p1, 1, 1, 0, 1, 0, NULL);
    assert_near("signed sum", y->data[0], 3.0, 1e-6);
    y = gnp_with(t, xs, p1, 1, 1, 1, 1, 1, NULL);
    assert_near("signed mean", y->data[0], 0.6, 1e-6);
    /* large magnitudes and large p: log-domain form stays finite and equals the max */
    const float big[3] = {1e30f, 3e30f, 2e30f};
    gp_tensor *xb = param_from(3, 1, big);
    y = gnp_with(t, xb, (int64_t[]){0, 3}, 1, 40, 0, 40, 0, NULL);
    assert_near("max of large values", y->data[0], 3e30, 1e-2);
    gp_tensor_free(&x);
    gp_tensor_free(&xs);
    gp_tensor_free(&xb);
    gp_tape_free(&t);
}

static void test_gnp_reference_per_channel(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 4);
    enum { R = 9, C = 3 };
    const int64_t ptr[4] = {0, 4, 5, 9};
    gp_tensor *x = param_from(R, C, NULL);
    gc_fill(x, &rng, -2.0f, 2.0f);
    x->data[0] = 0.0f; /* an exact zero */
    const float pv[4 * C] = {2.5f, 1.0f, 7.0f, /* p+ */ 0.3f, 1.0f, -0.5f, /* q+ */
                             -3.0f, 1.5f, 0.4f, /* p- (0.4 -> 1 by the clamp) */ 0.0f, 0.8f, 1.5f};
    gp_tensor *prm = param_from(4, C, pv);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tensor *y = gp_gnp_segments(t, x, prm, ptr, 3);
    assert_non_null(y);
    for (int s = 0; s < 3; s++)
        for (int c = 0; c < C; c++) {
            double v[R];
            int n = (int)(ptr[s + 1] - ptr[s]);
            for (int i = 0; i < n; i++) v[i] = x->data[(ptr[s] + i) * C + c];
            double pn = pv[2 * C + c];
            if (fabs(pn) < 1.0) pn = pn < 0 ? -1.0 : 1.0;
            double want = ref_part(v, n, 1.0, pv[c], pv[C + c]) - ref_part(v, n, -1.0, pn, pv[3 * C + c]);
            assert_near("gnp per channel", y->data[s * C + c], want, 1e-5);
        }
    gp_tape_free(&t);
    gp_tensor_free(&x);
    gp_tensor_free(&prm);
}

typedef struct gnp_ctx {
    const int64_t *ptr;
    int64_t segs;
} gnp_ctx;

static gp_tensor *gnp_forward(gp_tape *t, gp_tensor **in, void *vctx)
{
    gnp_ctx *c = vctx;
    return gp_gnp_segments(t, in[0], in[1], c->ptr, c->segs);
}

static void test_gnp_gradcheck(void **state)
{
    (void)state;
    enum { R = 8, C = 2 };
    const int64_t ptr[3] = {0, 5, 8};
    gnp_ctx ctx = {ptr, 2};
    gp_tensor *x = param_from(R, C, NULL);
    fill_separated(x, 11);
    /* shared (p+, q+, p-, q-) away from the clamps, then per channel with a min-like part */
    gp_tensor *shared = param_from(4, 1, (float[]){2.3f, 0.4f, 1.7f, 0.8f});
    gp_tensor *in1[2] = {x, shared};
    double err = gc_check_eps(gnp_forward, &ctx, in1, 2, 1e-3, 1e-2);
    if (err > 1e-2) fail_msg("gnp shared: gradient error %g", err);
    gp_tensor *per = param_from(4, C, (float[]){3.1f, 1.6f, 0.2f, 1.1f, -2.4f, 4.0f, 0.6f, -0.3f});
    /* make the second segment's column 0 all negative so the p- = -2.4 part has no eps terms */
    for (int64_t r = 5; r < 8; r++) x->data[r * C] = -fabsf(x->data[r * C]);
    gp_tensor *in2[2] = {x, per};
    err = gc_check_eps(gnp_forward, &ctx, in2, 2, 1e-3, 1e-2);
    if (err > 1e-2) fail_msg("gnp per channel: gradient error %g", err);
    /* gradients at exact zeros are finite (0 for the zero entries) */
    gp_tensor *z = param_from(R, C, NULL);
    z->data[3] = 0.5f;
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tensor *zin[2] = {z, shared};
    gp_tensor *y = gnp_forward(t, zin, &ctx);
    assert_non_null(y);
    float ones[2 * C] = {1, 1, 1, 1};
    gp_tensor_zero_grad(z);
    assert_int_equal(gp_tape_backward_from(t, y, ones), GP_OK);
    for (int64_t i = 0; i < R * C; i++) {
        assert_true(isfinite(z->grad[i]));
        if (i != 3) assert_true(z->grad[i] == 0.0f);
    }
    assert_true(z->grad[3] > 0.0f);
    for (int i = 0; i < 4; i++) assert_true(isfinite(shared->grad[i]));
    gp_tape_free(&t);
    gp_tensor_free(&z);
    gp_tensor_free(&x);
    gp_tensor_free(&shared);
    gp_tensor_free(&per);
}

typedef struct agg_ctx {
    gp_graph *g;
    gp_module *layer;
} agg_ctx;

static gp_tensor *agg_forward(gp_tape *t, gp_tensor **in, void *vctx)
{
    agg_ctx *c = vctx;
    return gp_gnp_aggregate(t, c->g, in[0], in[1]);
}

static gp_tensor *layer_forward(gp_tape *t, gp_tensor **in, void *vctx)
{
    agg_ctx *c = vctx;
    return gp_module_forward(c->layer, t, c->g, in[0]);
}

static void test_gnp_aggregate_and_layer(void **state)
{
    (void)state;
    const int64_t sizes[2] = {6, 4};
    gp_graph *g = random_batch(2, sizes, 21, NULL);
    gp_tensor *x = param_from(10, 2, NULL);
    fill_separated(x, 5);
    gp_tensor *prm = param_from(4, 1, (float[]){2.2f, 0.3f, 1.4f, 0.9f});
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tensor *in[2] = {x, prm};
    gp_tensor *y = agg_forward(t, in, &(agg_ctx){g, NULL});
    assert_non_null(y);
    const gp_csr *a = &g->adj;
    for (int64_t i = 0; i < 10; i++)
        for (int c = 0; c < 2; c++) {
            double v[16];
            int n = 0;
            for (int64_t e = a->ptr[i]; e < a->ptr[i + 1]; e++) v[n++] = x->data[a->idx[e] * 2 + c];
            double want = ref_part(v, n, 1.0, 2.2, 0.3) - ref_part(v, n, -1.0, 1.4, 0.9);
            assert_near("gnp aggregate", y->data[i * 2 + c], want, 1e-5);
        }
    agg_ctx ctx = {g, NULL};
    double err = gc_check_eps(agg_forward, &ctx, in, 2, 1e-3, 1e-2);
    if (err > 1e-2) fail_msg("gnp aggregate: gradient error %g", err);
    gp_rng rng;
    gp_rng_seed(&rng, 2);
    assert_int_equal(gp_gnpconv_new(&ctx.layer, 2, 3, true, 1.5f, 0.2f, &rng), GP_OK);
    gp_param_list pl;
    assert_int_equal(gp_module_params(&pl, ctx.layer, false), GP_OK);
    assert_int_equal(pl.count, 4);
    gp_tensor *lin[5] = {x};
    for (int i = 0; i < pl.count; i++) lin[1 + i] = pl.tensors[i];
    err = gc_check_eps(layer_forward, &ctx, lin, 5, 1e-3, 1e-2);
    if (err > 1e-2) fail_msg("gnpconv: gradient error %g", err);
    gp_param_list_free(&pl);
    gp_module_free(&ctx.layer);
    gp_tape_free(&t);
    gp_tensor_free(&x);
    gp_tensor_free(&prm);
    gp_graph_free(&g);
}

/* ---- node drop ---- */

static void test_topk_hand_computed(void **state)
{
    (void)state;
    gp_graph *g = small_batch();
    /* graph 0 scores (p = (3, 4), |p| = 5): 0.6, 0.8, 1.4, -0.6; graph 1: 1.2; graph 2: 0, 0, 0.6 */
    const float xv[16] = {1, 0, 0, 1, 1, 1, -1, 0, 2, 0, 0, 0, 0, 0, 1, 0};
    gp_tensor *x = param_from(8, 2, xv);
    gp_module *m = pool_new("topk:ratio=0.5", 2, 1);
    assert_int_equal(gp_pool_node_dim(m), 2);
    m->params[0]->data[0] = 3.0f;
    m->params[0]->data[1] = 4.0f;
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_pool_batch in = gp_pool_batch_of(g, x), out;
    assert_int_equal(gp_pool_coarsen(m, t, &in, &out), GP_OK);
    const int64_t want_kept[5] = {1, 2, 4, 5, 7}; /* node 5 beats node 6 on the tie */
    assert_int_equal(out.graph->adj.rows, 5);
    assert_memory_equal(out.kept, want_kept, sizeof want_kept);
    const int64_t want_ptr[4] = {0, 2, 3, 5};
    assert_int_equal(out.graph->num_graphs, 3);
    assert_memory_equal(out.graph->graph_ptr, want_ptr, sizeof want_ptr);
    const double gate[5] = {tanh(0.8), tanh(1.4), tanh(1.2), tanh(0.0), tanh(0.6)};
    for (int i = 0; i < 5; i++)
        for (int c = 0; c < 2; c++)
            assert_near("topk x'", out.x->data[i * 2 + c], xv[want_kept[i] * 2 + c] * gate[i], 1e-6);
    /* pooled graph: only the edge 1-2 of graph 0 survives, as 0-1 */
    assert_int_equal(out.graph->adj.nnz, 2);
    assert_int_equal(out.graph->adj.idx[0], 1);
    assert_int_equal(out.graph->adj.idx[1], 0);
    assert_true(out.graph->symmetric);
    gp_pool_batch_release(&out);
    /* min_score mode: softmax within graphs, the best node always survives */
    gp_module *ms = pool_new("topk:min_score=0.3", 2, 1);
    ms->params[0]->data[0] = 3.0f;
    ms->params[0]->data[1] = 4.0f;
    gp_tape_reset(t);
    assert_int_equal(gp_pool_coarsen(ms, t, &in, &out), GP_OK);
    /* graph 0 raw scores 3,4,7,-3: softmax -> node 2 (0.94) only; graph 1: its node (1.0);
     * graph 2 raw 0,0,3: softmax 0.045,0.045,0.91 -> node 7 */
    const int64_t want_ms[3] = {2, 4, 7};
    assert_int_equal(out.graph->adj.rows, 3);
    assert_memory_equal(out.kept, want_ms, sizeof want_ms);
    double e0 = exp(3) + exp(4) + exp(7) + exp(-3);
    assert_near("min_score gate", out.x->data[0], exp(7) / e0, 1e-5);
    assert_near("min_score gate", out.x->data[2], 2.0, 1e-5);
    gp_pool_batch_release(&out);
    gp_module_free(&ms);
    /* ties everywhere: all scores 0 -> the first ceil(ratio n) nodes of each graph */
    memset(x->data, 0, sizeof xv);
    gp_tape_reset(t);
    assert_int_equal(gp_pool_coarsen(m, t, &in, &out), GP_OK);
    const int64_t want_ties[5] = {0, 1, 4, 5, 6};
    assert_memory_equal(out.kept, want_ties, sizeof want_ties);
    gp_pool_batch_release(&out);
    gp_module_free(&m);
    gp_tape_free(&t);
    gp_tensor_free(&x);
    gp_graph_free(&g);
}

static void check_equivariant(const char *spec)
{
    const int64_t sizes[3] = {7, 1, 6};
    int64_t perm[14];
    permute_within_graphs(perm, 3, sizes, 77);
    gp_graph *g = random_batch(3, sizes, 8, NULL), *gp = random_batch(3, sizes, 8, perm);
    gp_tensor *x = param_from(14, 3, NULL);
    fill_separated(x, 6);
    gp_tensor *xp = permuted_rows(x, perm);
    gp_module *m = pool_new(spec, 3, 3);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_pool_batch in = gp_pool_batch_of(g, x), inp = gp_pool_batch_of(gp, xp), out, outp;
    assert_int_equal(gp_pool_coarsen(m, t, &in, &out), GP_OK);
    assert_int_equal(gp_pool_coarsen(m, t, &inp, &outp), GP_OK);
    int64_t k = out.graph->adj.rows;
    assert_int_equal(outp.graph->adj.rows, k);
    assert_memory_equal(out.graph->graph_ptr, outp.graph->graph_ptr, 4 * sizeof(int64_t));
    /* row i of the permuted output is old node inv[kept'[i]]; find it in the original output */
    int64_t inv[14], where[14];
    for (int64_t v = 0; v < 14; v++) inv[perm[v]] = v, where[v] = -1;
    for (int64_t i = 0; i < k; i++) where[out.kept[i]] = i;
    int64_t map[14];
    for (int64_t i = 0; i < k; i++) {
        int64_t j = where[inv[outp.kept[i]]];
        if (j < 0) fail_msg("%s: permuted run kept a node the original dropped", spec);
        map[i] = j;
        for (int c = 0; c < 3; c++)
            assert_near(spec, outp.x->data[i * 3 + c], out.x->data[j * 3 + c], 1e-5);
    }
    float *da = NULL, *dp = NULL;
    assert_int_equal(gp_csr_to_dense(&da, &out.graph->adj), GP_OK);
    assert_int_equal(gp_csr_to_dense(&dp, &outp.graph->adj), GP_OK);
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < k; j++) assert_true(dp[i * k + j] == da[map[i] * k + map[j]]);
    gp_free(da);
    gp_free(dp);
    gp_pool_batch_release(&out);
    gp_pool_batch_release(&outp);
    gp_module_free(&m);
    gp_tape_free(&t);
    gp_tensor_free(&x);
    gp_tensor_free(&xp);
    gp_graph_free(&g);
    gp_graph_free(&gp);
}

static void test_nodedrop_equivariance(void **state)
{
    (void)state;
    check_equivariant("topk:ratio=0.6");
    check_equivariant("topk:ratio=0.3");
    check_equivariant("sagpool:ratio=0.5");
    check_equivariant("sagpool:ratio=0.7,gnn=graphconv");
}

static gp_tensor *coarsen_sum_forward(gp_tape *t, gp_tensor **in, void *vctx)
{
    /* the sum readout of the coarsened features: exercises every gradient path */
    pool_ctx *c = vctx;
    gp_tensor *y = pool_forward(t, in, vctx);
    return c->which == 2 && y ? gp_sum_rows(t, y) : y;
}

static void gradcheck_nodedrop(const char *spec)
{
    const int64_t sizes[3] = {5, 1, 4};
    gp_graph *g = random_batch(3, sizes, 12, NULL);
    gp_tensor *x = param_from(10, 3, NULL);
    fill_separated(x, 13);
    gp_module *m = pool_new(spec, 3, 4);
    gp_param_list pl;
    assert_int_equal(gp_module_params(&pl, m, false), GP_OK);
    assert_true(pl.count >= 1);
    gp_tensor *in[8] = {x};
    for (int i = 0; i < pl.count; i++) in[1 + i] = pl.tensors[i];
    for (int which = 1; which <= 2; which++) {
        pool_ctx c = {m, g, which};
        double err = gc_check_eps(coarsen_sum_forward, &c, in, 1 + pl.count, 1e-3, 1e-2);
        if (err > 1e-2) fail_msg("%s: gradient error %g", spec, err);
    }
    gp_pool_batch_release(&last_out);
    gp_param_list_free(&pl);
    gp_module_free(&m);
    gp_tensor_free(&x);
    gp_graph_free(&g);
}

static void test_nodedrop_gradcheck(void **state)
{
    (void)state;
    gradcheck_nodedrop("topk:ratio=0.5");
    gradcheck_nodedrop("topk:ratio=0.8,multiplier=2");
    gradcheck_nodedrop("topk:min_score=0.05");
    gradcheck_nodedrop("sagpool:ratio=0.5");
    gradcheck_nodedrop("sagpool:ratio=0.6,gnn=graphconv");
}

/* Top-k's backward through the gather and gate (graphpool/nodedrop_select.c: 4- and 8-float
 * builds, rows split over the threads) gives the same bits for GP_SIMD=sse2 and the widest
 * build, 1 and 2 threads: at a width above the parallel threshold, with a tail, and below 8. */
static const int64_t bits_sizes[8] = {40, 33, 1, 41, 12, 40, 38, 39}; /* 244 nodes */

static void topk_backward_bits(int64_t d, float *out)
{
    gp_graph *g = random_batch(8, bits_sizes, 21, NULL);
    int64_t n = g->adj.rows;
    gp_tensor *x = NULL;
    assert_int_equal(gp_param_new(&x, "x", n, d), GP_OK);
    gp_rng rng;
    gp_rng_seed(&rng, 22);
    gc_fill(x, &rng, -1.0f, 1.0f);
    gp_module *m = pool_new("topk:ratio=0.8", d, 4);
    gp_param_list pl;
    assert_int_equal(gp_module_params(&pl, m, false), GP_OK);
    gp_tape *t = gc_tape();
    gp_pool_batch b = gp_pool_batch_of(g, x), o;
    assert_int_equal(gp_pool_coarsen(m, t, &b, &o), GP_OK);
    float *r = malloc((size_t)gp_tensor_size(o.x) * sizeof(float));
    for (int64_t i = 0; i < gp_tensor_size(o.x); i++) r[i] = gp_rng_uniform(&rng) - 0.5f;
    assert_int_equal(gp_tape_backward_from(t, o.x, r), GP_OK);
    memcpy(out, x->grad, (size_t)(n * d) * sizeof(float));
    memcpy(out + n * d, pl.tensors[0]->grad, (size_t)d * sizeof(float)); /* p */
    free(r);
    gp_pool_batch_release(&o);
    gp_tape_free(&t);
    gp_param_list_free(&pl);
    gp_module_free(&m);
    gp_tensor_free(&x);
    gp_graph_free(&g);
}

static void test_topk_backward_builds(void **state)
{
    (void)state;
    static const int64_t widths[] = {400, 131, 5}; /* 400: ~200 kept rows x 400 > GP_PAR_MIN_WORK */
    int64_t n = 0;
    for (int i = 0; i < 8; i++) n += bits_sizes[i];
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        int64_t d = widths[w];
        size_t len = (size_t)(n * d + d);
        float *want = malloc(len * sizeof(float)), *got = malloc(len * sizeof(float));
        setenv("GP_SIMD", "sse2", 1);
        topk_backward_bits(d, want);
        unsetenv("GP_SIMD");
        for (int nt = 1; nt <= 2; nt++) {
            gp_set_threads(nt);
            topk_backward_bits(d, got);
            gp_set_threads(1);
            assert_memory_equal(want, got, len * sizeof(float));
        }
        double norm = 0.0;
        for (size_t i = 0; i < len; i++) norm += fabs(want[i]);
        assert_true(norm > 0.0);
        free(want);
        free(got);
    }
}

static void test_sagpool_scores_from_gcn(void **state)
{
    (void)state;
    const int64_t sizes[2] = {6, 5};
    gp_graph *g = random_batch(2, sizes, 31, NULL);
    gp_tensor *x = param_from(11, 2, NULL);
    fill_separated(x, 32);
    gp_module *m = pool_new("sagpool:ratio=0.5", 2, 5);
    assert_int_equal(m->num_children, 1);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tensor *z = gp_module_forward(m->children[0], t, g, x);
    assert_non_null(z);
    /* reference selection: top 3 of each graph by z */
    bool keep[11] = {false};
    for (int gi = 0; gi < 2; gi++) {
        int64_t p0 = g->graph_ptr[gi], n = g->graph_ptr[gi + 1] - p0;
        for (int r = 0; r < 3; r++) {
            int64_t best = -1;
            for (int64_t j = 0; j < n; j++)
                if (!keep[p0 + j] && (best < 0 || z->data[p0 + j] > z->data[best])) best = p0 + j;
            keep[best] = true;
        }
    }
    gp_pool_batch in = gp_pool_batch_of(g, x), out;
    assert_int_equal(gp_pool_coarsen(m, t, &in, &out), GP_OK);
    assert_int_equal(out.graph->adj.rows, 6);
    for (int64_t i = 0; i < 6; i++) {
        int64_t v = out.kept[i];
        assert_true(keep[v]);
        for (int c = 0; c < 2; c++)
            assert_near("sagpool x'", out.x->data[i * 2 + c], x->data[v * 2 + c] * tanh(z->data[v]), 1e-6);
    }
    gp_pool_batch_release(&out);
    gp_module_free(&m);
    gp_tape_free(&t);
    gp_tensor_free(&x);
    gp_graph_free(&g);
}

static void test_induced_kernel_matches_library(void **state)
{
    (void)state;
    const int64_t sizes[4] = {9, 1, 12, 7};
    gp_graph *g = random_batch(4, sizes, 41, NULL);
    gp_rng rng;
    gp_rng_seed(&rng, 42);
    float score[29];
    for (int i = 0; i < 29; i++) score[i] = (float)gp_rng_below(&rng, 5); /* many ties */
    int64_t kept[29], k, ptr[5];
    assert_int_equal(gp_nodedrop_select(kept, &k, ptr, score, 4, g->graph_ptr, 0.5, -1.0), GP_OK);
    int64_t want_k = 5 + 1 + 6 + 4;
    assert_int_equal(k, want_k);
    /* brute-force reference: node v is kept iff fewer than k_g nodes of its graph rank before it
     * (higher score, or equal score and smaller index) */
    int64_t pos = 0;
    for (int gi = 0; gi < 4; gi++) {
        int64_t p0 = g->graph_ptr[gi], n = g->graph_ptr[gi + 1] - p0;
        int64_t kg = (int64_t)ceil(0.5 * (double)n);
        for (int64_t v = p0; v < p0 + n; v++) {
            int64_t before = 0;
            for (int64_t u = p0; u < p0 + n; u++)
                before += score[u] > score[v] || (score[u] == score[v] && u < v);
            if (before < kg) assert_int_equal(kept[pos++], v);
        }
        assert_int_equal(ptr[gi + 1], pos);
    }
    gp_graph *a = NULL, *b = NULL;
    assert_int_equal(gp_nodedrop_induced(&a, g, k, kept, ptr), GP_OK);
    assert_int_equal(gp_graph_induced(&b, g, k, kept), GP_OK);
    assert_int_equal(a->adj.nnz, b->adj.nnz);
    assert_memory_equal(a->adj.ptr, b->adj.ptr, (size_t)(k + 1) * sizeof(int64_t));
    assert_memory_equal(a->adj.idx, b->adj.idx, (size_t)a->adj.nnz * sizeof(int64_t));
    assert_memory_equal(a->graph_ptr, b->graph_ptr, 5 * sizeof(int64_t));
    assert_memory_equal(a->graph_of, b->graph_of, (size_t)k * sizeof(int64_t));
    assert_int_equal(gp_csr_check(&a->adj), GP_OK);
    /* errors: decreasing kept, wrong offsets, bad ratio */
    gp_graph *c = NULL;
    int64_t bad[2] = {3, 1}, bad_ptr[5] = {0, 2, 2, 2, 2};
    assert_int_equal(gp_nodedrop_induced(&c, g, 2, bad, bad_ptr), GP_E_INVALID);
    assert_null(c);
    assert_int_equal(gp_nodedrop_select(kept, &k, ptr, score, 4, g->graph_ptr, 0.0, -1.0), GP_E_INVALID);
    gp_graph_free(&a);
    gp_graph_free(&b);
    gp_graph_free(&g);
}

/* ---- the interface ---- */

static gp_status dup_init(gp_module *m, void **state, const gp_pool_options *opt, gp_rng *rng,
                          int64_t *readout_dim, int64_t *node_dim)
{
    (void)state, (void)opt, (void)rng;
    *readout_dim = m->in_dim;
    *node_dim = m->in_dim;
    return GP_OK;
}

/* A toy expansion: every graph becomes two copies, the second with features doubled. */
static gp_status dup_expand(gp_module *m, void *state, gp_tape *t, const gp_pool_batch *in,
                            gp_pool_batch *out)
{
    (void)m, (void)state;
    const gp_graph *g = in->graph;
    int64_t b = g->num_graphs, n = g->adj.rows;
    gp_graph *parts[16];
    const gp_graph *cparts[16];
    assert_true(b <= 8);
    int64_t *rows = gp_tape_alloc(t, (size_t)(2 * n) * sizeof(int64_t));
    int64_t *groups = gp_tape_alloc(t, (size_t)(b + 1) * sizeof(int64_t));
    gp_tensor *scale = gp_tape_tensor(t, 2 * n, 1);
    int64_t r = 0;
    for (int64_t i = 0; i < b; i++) {
        int64_t p0 = g->graph_ptr[i], len = g->graph_ptr[i + 1] - p0;
        int64_t nodes[64];
        for (int64_t j = 0; j < len; j++) nodes[j] = p0 + j;
        for (int copy = 0; copy < 2; copy++) {
            /* the induced subgraph keeps the batch's graph ids: rebuild it as one graph */
            gp_graph *sub = NULL;
            int64_t *src = NULL, *dst = NULL;
            assert_int_equal(gp_graph_induced(&sub, g, len, nodes), GP_OK);
            assert_int_equal(gp_graph_edge_list(&src, &dst, sub), GP_OK);
            assert_int_equal(gp_graph_from_edges(&parts[2 * i + copy], len, sub->adj.nnz, src, dst, NULL, 0), GP_OK);
            gp_free(src);
            gp_free(dst);
            gp_graph_free(&sub);
            cparts[2 * i + copy] = parts[2 * i + copy];
            for (int64_t j = 0; j < len; j++) {
                rows[r] = p0 + j;
                scale->data[r++] = copy ? 2.0f : 1.0f;
            }
        }
        groups[i] = 2 * i;
    }
    groups[b] = 2 * b;
    gp_graph *big = NULL;
    gp_status st = gp_graph_batch(&big, 2 * b, cparts);
    for (int64_t i = 0; i < 2 * b; i++) gp_graph_free(&parts[i]);
    if (st != GP_OK) return st;
    out->graph = big;
    out->owns_graph = true;
    out->x = gp_mul(t, gp_gather_rows(t, in->x, rows, 2 * n), scale);
    out->num_groups = b;
    out->group_ptr = groups;
    return gp_tape_status(t);
}

static const gp_pool_class dup_class = {"testdup", "test expansion", GP_POOL_EXPAND, dup_init,
                                        NULL, NULL, dup_expand, NULL};

static void test_interface(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 1);
    gp_module *m = NULL;
    assert_int_equal(gp_pool_new(&m, "nosuchpool", 4, &rng), GP_E_INVALID);
    assert_non_null(strstr(gp_last_error(), "topk"));
    assert_int_equal(gp_pool_new(&m, "topk:ratio=1.5", 4, &rng), GP_E_INVALID);
    assert_non_null(strstr(gp_last_error(), "ratio"));
    assert_int_equal(gp_pool_new(&m, "topk:ratoi=0.5", 4, &rng), GP_E_INVALID);
    assert_non_null(strstr(gp_last_error(), "ratoi"));
    assert_int_equal(gp_pool_new(&m, "topk:ratio", 4, &rng), GP_E_INVALID);
    assert_int_equal(gp_pool_new(&m, "sagpool:gnn=gat", 4, &rng), GP_E_INVALID);
    assert_int_equal(gp_pool_new(&m, "sum", 0, &rng), GP_E_INVALID);
    assert_null(m);
    /* options separated by ':' or ',' */
    assert_int_equal(gp_pool_new(&m, "topk:ratio=0.25:multiplier=3", 4, &rng), GP_OK);
    assert_string_equal(gp_pool_spec(m), "topk:ratio=0.25:multiplier=3");
    assert_string_equal(gp_pool_class_of(m)->name, "topk");
    gp_module_free(&m);
    /* SAGPool's parameters include its child GCN; a coarsen-only op refuses readout */
    m = pool_new("sagpool", 4, 2);
    gp_param_list pl;
    assert_int_equal(gp_module_params(&pl, m, false), GP_OK);
    assert_int_equal(pl.count, 2);
    assert_string_equal(pl.names[0], "0.weight");
    gp_param_list_free(&pl);
    gp_graph *g = small_batch();
    gp_tensor *x = param_from(8, 4, NULL);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_pool_batch in = gp_pool_batch_of(g, x), out;
    assert_null(gp_pool_readout(m, t, &in));
    assert_int_equal(gp_tape_status(t), GP_E_UNSUPPORTED);
    gp_tape_reset(t);
    gp_tensor *narrow = param_from(8, 3, NULL);
    gp_pool_batch bad = gp_pool_batch_of(g, narrow);
    assert_int_equal(gp_pool_coarsen(m, t, &bad, &out), GP_E_SHAPE);
    assert_null(out.graph);
    gp_module_free(&m);
    /* run-time registration, expand, and readouts over groups */
    assert_int_equal(gp_pool_register(&dup_class), GP_OK);
    assert_int_equal(gp_pool_register(&dup_class), GP_E_INVALID);
    m = pool_new("testdup", 4, 1);
    gp_module *sum = pool_new("sum", 4, 1), *mx = pool_new("max", 4, 1);
    gp_rng_seed(&rng, 3);
    gc_fill(x, &rng, -1.0f, 1.0f);
    gp_tape_reset(t);
    assert_int_equal(gp_pool_expand(m, t, &in, &out), GP_OK);
    assert_int_equal(gp_pool_batch_samples(&out), 3);
    assert_int_equal(out.graph->num_graphs, 6);
    gp_tensor *r = gp_pool_readout(sum, t, &out), *r0 = gp_pool_readout(sum, t, &in);
    gp_tensor *rm = gp_pool_readout(mx, t, &out), *rm0 = gp_pool_readout(mx, t, &in);
    assert_non_null(r);
    assert_int_equal(r->rows, 3);
    for (int64_t i = 0; i < 12; i++) {
        assert_near("group mean of sums", r->data[i], 1.5 * r0->data[i], 1e-6);
        assert_near("group mean of maxes", rm->data[i], 1.5 * rm0->data[i], 1e-6);
    }
    gp_pool_batch_release(&out);
    gp_module_free(&m);
    gp_module_free(&sum);
    gp_module_free(&mx);
    gp_tape_free(&t);
    gp_tensor_free(&x);
    gp_tensor_free(&narrow);
    gp_graph_free(&g);
}

int main(void)
{
    if (gp_init() != GP_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readout_values),
        cmocka_unit_test(test_readout_gradcheck_and_invariance),
        cmocka_unit_test(test_gnp_special_cases),
        cmocka_unit_test(test_gnp_reference_per_channel),
        cmocka_unit_test(test_gnp_gradcheck),
        cmocka_unit_test(test_gnp_aggregate_and_layer),
        cmocka_unit_test(test_topk_hand_computed),
        cmocka_unit_test(test_nodedrop_equivariance),
        cmocka_unit_test(test_nodedrop_gradcheck),
        cmocka_unit_test(test_topk_backward_builds),
        cmocka_unit_test(test_sagpool_scores_from_gcn),
        cmocka_unit_test(test_induced_kernel_matches_library),
        cmocka_unit_test(test_interface),
    };
    int rc = cmocka_run_group_tests_name("pool", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
