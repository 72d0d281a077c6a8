/*
 * Layers and modules: for every layer (GCN, SAGE mean/max, GIN fixed/learnable eps, GAT
 * concat/mean, GraphConv sum/mean/max, linear) a finite-difference gradient check of the whole
 * layer (input and every parameter), outputs against a dense double-precision reference written
 * here from the layer's formula on a small random weighted directed graph with isolated nodes,
 * an explicit self-loop and an empty row, node-permutation equivariance, isolated-node values,
 * block-diagonal batches (each graph's own output) and sparse-input equivalence. GAT
 * attention sums to 1 over each node's in-edges. Stacks: jumping knowledge, residuals, norms
 * (gradients), width errors. Checkpoints: bit-identical
 * round trip, truncated / altered / wrong-shape / wrong-model files rejected with the module
 * unchanged, no temporary file left behind. Out of memory: every allocation of building,
 * running, saving and loading a stack fails in turn, with a clean GP_E_NOMEM and no leak.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <graphpool/layers.h>

#include "failing_alloc.h"
#include "gradcheck.h"

enum { N = 9, IN = 4 };

/* ---- helpers ---- */

static void assert_close(const char *what, const float *got, const double *ref, int64_t count,
                         double tol)
{
    for (int64_t i = 0; i < count; i++) {
        double err = fabs((double)got[i] - ref[i]);
        if (err > tol * fmax(1.0, fabs(ref[i])))
            fail_msg("%s: entry %lld is %.9g, reference %.9g", what, (long long)i, (double)got[i],
                     ref[i]);
    }
}

/*
 * Directed weighted graph on N nodes: random edges among nodes 1..N-3 (so nodes N-2 and N-1 are
 * isolated and no edge enters node 0 except its self-loop 0 -> 0 of weight 1.5), plus edge
 * 0 -> 1. Duplicates are summed by gp_graph_from_edges.
 */
static gp_graph *test_graph(uint64_t seed, bool weighted)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    enum { M = 20 };
    int64_t src[M + 2], dst[M + 2];
    float w[M + 2];
    for (int k = 0; k < M; k++) {
        src[k] = 1 + (int64_t)gp_rng_below(&rng, N - 3);
        dst[k] = 1 + (int64_t)gp_rng_below(&rng, N - 3);
        w[k] = 0.5f + gp_rng_uniform(&rng);
    }
    src[M] = 0, dst[M] = 0, w[M] = 1.5f;
    src[M + 1] = 0, dst[M + 1] = 1, w[M + 1] = 0.75f;
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_edges(&g, N, M + 2, src, dst, weighted ? w : NULL, 0), GP_OK);
    return g;
}

/* Dense view of a graph: value a[i][j] (0 if absent) and stored-structure mask s[i][j]. */
typedef struct dense_graph {
    double a[N][N];
    bool s[N][N];
} dense_graph;

static void densify(dense_graph *d, const gp_graph *g)
{
    memset(d, 0, sizeof *d);
    const gp_csr *m = &g->adj;
    assert_int_equal(m->rows, N);
    for (int64_t i = 0; i < N; i++)
        for (int64_t k = m->ptr[i]; k < m->ptr[i + 1]; k++) {
            d->a[i][m->idx[k]] = m->val ? m->val[k] : 1.0;
            d->s[i][m->idx[k]] = true;
        }
}

static const gp_tensor *get(const gp_module *m, const char *name)
{
    gp_param_list l;
    assert_int_equal(gp_module_params(&l, m, true), GP_OK);
    const gp_tensor *found = NULL;
    for (int i = 0; i < l.count; i++)
        if (strcmp(l.names[i], name) == 0) found = l.tensors[i];
    gp_param_list_free(&l);
    if (!found) fail_msg("no tensor named %s", name);
    return found;
}

/* out (n x c) = a (n x k, double) W (k x c) [+ b]. */
static void ref_linear(double *out, const double *a, int64_t n, int64_t k, const gp_tensor *w,
                       const gp_tensor *b)
{
    assert_int_equal(w->rows, k);
    int64_t c = w->cols;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < c; j++) {
            double s = b ? b->data[j] : 0.0;
            for (int64_t q = 0; q < k; q++) s += a[i * k + q] * w->data[q * c + j];
            out[i * c + j] = s;
        }
}

static void add_into(double *y, const double *x, int64_t count)
{
    for (int64_t i = 0; i < count; i++) y[i] += x[i];
}

/* agg_i = sum_j f(a_ij) x_j (sum / mean over stored neighbours) or max_j a_ij x_j (0 if none). */
static void ref_aggregate(double *agg, const dense_graph *d, const double *x, int64_t k, gp_aggr aggr,
                          bool weighted)
{
    for (int64_t i = 0; i < N; i++) {
        int count = 0;
        for (int64_t q = 0; q < k; q++) agg[i * k + q] = aggr == GP_AGGR_MAX ? -INFINITY : 0.0;
        for (int64_t j = 0; j < N; j++) {
            if (!d->s[i][j]) continue;
            count++;
            double w = weighted ? d->a[i][j] : 1.0;
            for (int64_t q = 0; q < k; q++) {
                double v = w * x[j * k + q];
                if (aggr == GP_AGGR_MAX) agg[i * k + q] = fmax(agg[i * k + q], v);
                else agg[i * k + q] += v;
            }
        }
        for (int64_t q = 0; q < k; q++) {
            if (count == 0) agg[i * k + q] = 0.0;
            else if (aggr == GP_AGGR_MEAN) agg[i * k + q] /= count;
        }
    }
}

/* ---- references, one per layer, from the formulas in the layer files ---- */

typedef void (*ref_fn)(double *y, const gp_module *m, const dense_graph *d, const double *x);

static void ref_gcn(double *y, const gp_module *m, const dense_graph *d, const double *x)
{
    double at[N][N], deg[N] = {0};
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            at[i][j] = d->a[i][j];
            if (i == j && !d->s[i][i]) at[i][j] = 1.0; /* A + I, existing loops kept */
            deg[i] += at[i][j];
        }
    double ax[N * IN];
    for (int i = 0; i < N; i++)
        for (int q = 0; q < IN; q++) {
            double s = 0.0;
            for (int j = 0; j < N; j++) s += at[i][j] / sqrt(deg[i] * deg[j]) * x[j * IN + q];
            ax[i * IN + q] = s;
        }
    ref_linear(y, ax, N, IN, get(m, "weight"), get(m, "bias"));
}

static void ref_sage(double *y, const gp_module *m, const dense_graph *d, const double *x, gp_aggr aggr,
                     bool normalize)
{
    double agg[N * IN], root[N * 8];
    int64_t c = m->out_dim;
    ref_aggregate(agg, d, x, IN, aggr, false);
    ref_linear(y, agg, N, IN, get(m, "neigh.weight"), get(m, "bias"));
    ref_linear(root, x, N, IN, get(m, "root.weight"), NULL);
    add_into(y, root, N * c);
    if (normalize)
        for (int i = 0; i < N; i++) {
            double s = 1e-12;
            for (int64_t q = 0; q < c; q++) s += y[i * c + q] * y[i * c + q];
            for (int64_t q = 0; q < c; q++) y[i * c + q] /= sqrt(s);
        }
}

static void ref_sage_mean(double *y, const gp_module *m, const dense_graph *d, const double *x)
{
    ref_sage(y, m, d, x, GP_AGGR_MEAN, true);
}

static void ref_sage_max(double *y, const gp_module *m, const dense_graph *d, const double *x)
{
    ref_sage(y, m, d, x, GP_AGGR_MAX, false);
}

static void ref_gin(double *y, const gp_module *m, const dense_graph *d, const double *x, double eps)
{
    double h[N * IN], h1[N * 5];
    ref_aggregate(h, d, x, IN, GP_AGGR_SUM, true);
    for (int i = 0; i < N * IN; i++) h[i] += (1.0 + eps) * x[i];
    ref_linear(h1, h, N, IN, get(m, "0.0.weight"), get(m, "0.0.bias"));
    for (int i = 0; i < N * 5; i++) h1[i] = fmax(h1[i], 0.0);
    ref_linear(y, h1, N, 5, get(m, "0.1.weight"), get(m, "0.1.bias"));
}

static void ref_gin_learned(double *y, const gp_module *m, const dense_graph *d, const double *x)
{
    ref_gin(y, m, d, x, get(m, "eps")->data[0]);
}

static void ref_gin_fixed(double *y, const gp_module *m, const dense_graph *d, const double *x)
{
    ref_gin(y, m, d, x, 0.25);
}

static void ref_gat(double *y, const gp_module *m, const dense_graph *d, const double *x, int64_t H,
                    bool concat)
{
    const gp_tensor *as = get(m, "att_src"), *ad = get(m, "att_dst"), *b = get(m, "bias");
    int64_t HF = as->cols, F = HF / H;
    double z[N * 16], s[N][4], r[N][4];
    ref_linear(z, x, N, IN, get(m, "weight"), NULL);
    for (int i = 0; i < N; i++)
        for (int64_t h = 0; h < H; h++) {
            s[i][h] = r[i][h] = 0.0;
            for (int64_t c = h * F; c < (h + 1) * F; c++) {
                s[i][h] += ad->data[c] * z[i * HF + c];
                r[i][h] += as->data[c] * z[i * HF + c];
            }
        }
    int64_t width = concat ? HF : F;
    for (int i = 0; i < N; i++) {
        for (int64_t c = 0; c < width; c++) y[i * width + c] = b->data[c];
        for (int64_t h = 0; h < H; h++) {
            double e[N], mx = -INFINITY, den = 0.0;
            for (int j = 0; j < N; j++) {
                if (!(d->s[i][j] || i == j)) continue;
                double v = s[i][h] + r[j][h];
                e[j] = v > 0 ? v : 0.2 * v;
                mx = fmax(mx, e[j]);
            }
            for (int j = 0; j < N; j++)
                if (d->s[i][j] || i == j) den += exp(e[j] - mx);
            for (int j = 0; j < N; j++) {
                if (!(d->s[i][j] || i == j)) continue;
                double alpha = exp(e[j] - mx) / den;
                for (int64_t c = 0; c < F; c++) {
                    double v = alpha * z[j * HF + h * F + c];
                    if (concat) y[i * width + h * F + c] += v;
                    else y[i * width + c] += v / (double)H;
                }
            }
        }
    }
}

static void ref_gat_concat(double *y, const gp_module *m, const dense_graph *d, const double *x)
{
    ref_gat(y, m, d, x, 3, true);
}

static void ref_gat_mean(double *y, const gp_module *m, const dense_graph *d, const double *x)
{
    ref_gat(y, m, d, x, 2, false);
}

static void ref_graphconv(double *y, const gp_module *m, const dense_graph *d, const double *x, gp_aggr aggr)
{
    double agg[N * IN], rel[N * 8];
    ref_aggregate(agg, d, x, IN, aggr, true);
    ref_linear(y, x, N, IN, get(m, "root.weight"), get(m, "bias"));
    ref_linear(rel, agg, N, IN, get(m, "rel.weight"), NULL);
    add_into(y, rel, N * m->out_dim);
}

static void ref_graphconv_sum(double *y, const gp_module *m, const dense_graph *d, const double *x)
{
    ref_graphconv(y, m, d, x, GP_AGGR_SUM);
}

static void ref_graphconv_mean(double *y, const gp_module *m, const dense_graph *d, const double *x)
{
    ref_graphconv(y, m, d, x, GP_AGGR_MEAN);
}

static void ref_graphconv_max(double *y, const gp_module *m, const dense_graph *d, const double *x)
{
    ref_graphconv(y, m, d, x, GP_AGGR_MAX);
}

static void ref_linear_layer(double *y, const gp_module *m, const dense_graph *d, const double *x)
{
    (void)d;
    ref_linear(y, x, N, IN, get(m, "weight"), get(m, "bias"));
}

/* ---- the layer cases ---- */

static gp_module *make(int kind, gp_rng *rng)
{
    gp_module *m = NULL;
    switch (kind) {
    case 0: assert_int_equal(gp_gcn_new(&m, IN, 3, true, rng), GP_OK); break;
    case 1: {
        gp_sage_options o = {.aggr = GP_AGGR_MEAN, .root_weight = true, .normalize = true, .bias = true};
        assert_int_equal(gp_sage_new(&m, IN, 3, &o, rng), GP_OK);
        break;
    }
    case 2: {
        gp_sage_options o = {.aggr = GP_AGGR_MAX, .root_weight = true, .bias = true};
        assert_int_equal(gp_sage_new(&m, IN, 3, &o, rng), GP_OK);
        break;
    }
    case 3:
    case 4: {
        gp_module *mlp = NULL;
        int64_t hidden = 5;
        gp_mlp_options mo = {.act = GP_ACT_RELU};
        assert_int_equal(gp_mlp_new(&mlp, IN, 1, &hidden, 3, &mo, rng), GP_OK);
        gp_gin_options o = {.eps = kind == 3 ? 0.3f : 0.25f, .train_eps = kind == 3};
        assert_int_equal(gp_gin_new(&m, &mlp, &o, rng), GP_OK);
        assert_null(mlp);
        break;
    }
    case 5:
    case 6: {
        gp_gat_options o = {.heads = kind == 5 ? 3 : 2, .concat = kind == 5, .negative_slope = 0.2f,
                            .bias = true};
        assert_int_equal(gp_gat_new(&m, IN, 2, &o, rng), GP_OK);
        /* a nonzero bias so that the reference checks it */
        gc_fill((gp_tensor *)get(m, "bias"), rng, -0.5f, 0.5f);
        break;
    }
    case 7: assert_int_equal(gp_graphconv_new(&m, IN, 3, GP_AGGR_SUM, true, rng), GP_OK); break;
    case 8: assert_int_equal(gp_graphconv_new(&m, IN, 3, GP_AGGR_MEAN, true, rng), GP_OK); break;
    case 9: assert_int_equal(gp_graphconv_new(&m, IN, 3, GP_AGGR_MAX, true, rng), GP_OK); break;
    case 10: assert_int_equal(gp_linear_new(&m, IN, 3, true, rng), GP_OK); break;
    default: fail();
    }
    /* biases start at zero: give them values so that the references check them */
    gp_param_list l;
    assert_int_equal(gp_module_params(&l, m, false), GP_OK);
    for (int i = 0; i < l.count; i++)
        if (strstr(l.names[i], "bias")) gc_fill(l.tensors[i], rng, -0.5f, 0.5f);
    gp_param_list_free(&l);
    return m;
}

static const struct {
    const char *name;
    ref_fn ref;
    bool max_like;   /* max aggregation or ReLU MLP: finite differences need a smaller step */
    bool sparse_ok;  /* accepts gp_module_forward_csr */
} cases[] = {
    {"gcn", ref_gcn, false, true},
    {"sage-mean", ref_sage_mean, false, true},
    {"sage-max", ref_sage_max, true, false},
    {"gin-learned-eps", ref_gin_learned, true, false},
    {"gin-fixed-eps", ref_gin_fixed, true, false},
    {"gat-concat", ref_gat_concat, false, true},
    {"gat-mean", ref_gat_mean, false, true},
    {"graphconv-sum", ref_graphconv_sum, false, true},
    {"graphconv-mean", ref_graphconv_mean, false, true},
    {"graphconv-max", ref_graphconv_max, true, false},
    {"linear", ref_linear_layer, false, true},
};
enum { NUM_CASES = sizeof cases / sizeof cases[0] };

static gp_tensor *random_input(gp_rng *rng)
{
    gp_tensor *x = NULL;
    assert_int_equal(gp_param_new(&x, "x", N, IN), GP_OK);
    gc_fill(x, rng, -1.0f, 1.0f);
    return x;
}

/* ---- value against the dense reference, isolated nodes ---- */

static void test_layers_match_reference(void **state)
{
    (void)state;
    gp_graph *g = test_graph(7, true);
    dense_graph d;
    densify(&d, g);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    for (int c = 0; c < NUM_CASES; c++) {
        gp_rng rng;
        gp_rng_seed(&rng, 100 + (uint64_t)c);
        gp_module *m = make(c, &rng);
        gp_tensor *x = random_input(&rng);
        double xd[N * IN], ref[N * 16];
        for (int i = 0; i < N * IN; i++) xd[i] = x->data[i];
        gp_tape_reset(t);
        gp_tensor *y = gp_module_forward(m, t, g, x);
        if (!y) fail_msg("%s: forward failed: %s", cases[c].name, gp_last_error());
        assert_int_equal(y->rows, N);
        assert_int_equal(y->cols, m->out_dim);
        cases[c].ref(ref, m, &d, xd);
        assert_close(cases[c].name, y->data, ref, N * m->out_dim, 1e-5);
        /* isolated node N-1: no neighbour term (only its own self-loop for GCN / GAT) */
        if (c != 10) {
            double iso[16];
            dense_graph empty;
            memset(&empty, 0, sizeof empty);
            cases[c].ref(ref, m, &empty, xd);
            for (int64_t q = 0; q < m->out_dim; q++) iso[q] = ref[(N - 1) * m->out_dim + q];
            assert_close("isolated node", y->data + (N - 1) * m->out_dim, iso, m->out_dim, 1e-5);
        }
        gp_tensor_free(&x);
        gp_module_free(&m);
    }
    gp_tape_free(&t);
    gp_graph_free(&g);
}

/* ---- gradient check of each whole layer ---- */

typedef struct layer_ctx {
    gp_module *m;
    gp_graph *g;
} layer_ctx;

static gp_tensor *layer_fwd(gp_tape *t, gp_tensor **in, void *ctx)
{
    layer_ctx *c = ctx;
    return gp_module_forward(c->m, t, c->g, in[0]);
}

/* Evaluation mode: the stack's dropout is off, so repeated forwards agree. */
static gp_tensor *eval_fwd(gp_tape *t, gp_tensor **in, void *ctx)
{
    gp_tape_set_training(t, false);
    return layer_fwd(t, in, ctx);
}

static void test_layers_gradcheck(void **state)
{
    (void)state;
    for (int weighted = 0; weighted < 2; weighted++) {
        gp_graph *g = test_graph(11 + (uint64_t)weighted, weighted);
        for (int c = 0; c < NUM_CASES; c++) {
            gp_rng rng;
            gp_rng_seed(&rng, 200 + (uint64_t)c);
            gp_module *m = make(c, &rng);
            gp_tensor *x = random_input(&rng);
            gp_param_list l;
            assert_int_equal(gp_module_params(&l, m, false), GP_OK);
            gp_tensor *inputs[16] = {x};
            assert_true(l.count < 16);
            for (int i = 0; i < l.count; i++) inputs[1 + i] = l.tensors[i];
            layer_ctx ctx = {m, g};
            /* small steps: LeakyReLU / ReLU kinks and max ties must not be crossed */
            double err = gc_check_eps(layer_fwd, &ctx, inputs, 1 + l.count,
                                      cases[c].max_like ? 1e-3 : 3e-3, 1e-2);
            if (!(err < 1e-2)) fail_msg("%s (weighted %d): gradient error %g", cases[c].name, weighted, err);
            gp_param_list_free(&l);
            gp_tensor_free(&x);
            gp_module_free(&m);
        }
        gp_graph_free(&g);
    }
}

/* ---- permutation equivariance ---- */

static void test_layers_permutation_equivariant(void **state)
{
    (void)state;
    gp_graph *g = test_graph(21, true);
    int64_t *src = NULL, *dst = NULL;
    assert_int_equal(gp_graph_edge_list(&src, &dst, g), GP_OK);
    int64_t m_edges = g->adj.nnz, perm[N];
    for (int64_t i = 0; i < N; i++) perm[i] = i;
    gp_rng prng;
    gp_rng_seed(&prng, 5);
    gp_rng_shuffle(&prng, perm, N);
    int64_t *ps = malloc((size_t)m_edges * sizeof *ps), *pd = malloc((size_t)m_edges * sizeof *pd);
    for (int64_t k = 0; k < m_edges; k++) ps[k] = perm[src[k]], pd[k] = perm[dst[k]];
    gp_graph *gp_ = NULL;
    assert_int_equal(gp_graph_from_edges(&gp_, N, m_edges, ps, pd, g->adj.val, 0), GP_OK);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    for (int c = 0; c < NUM_CASES; c++) {
        gp_rng rng;
        gp_rng_seed(&rng, 300 + (uint64_t)c);
        gp_module *m = make(c, &rng);
        gp_tensor *x = random_input(&rng), *xp = NULL;
        assert_int_equal(gp_tensor_new(&xp, N, IN), GP_OK);
        for (int64_t i = 0; i < N; i++)
            memcpy(xp->data + perm[i] * IN, x->data + i * IN, IN * sizeof(float));
        gp_tape_reset(t);
        gp_tensor *y = gp_module_forward(m, t, g, x);
        gp_tensor *yp = gp_module_forward(m, t, gp_, xp);
        assert_non_null(y);
        assert_non_null(yp);
        int64_t w = m->out_dim;
        double ref[16];
        for (int64_t i = 0; i < N; i++) {
            for (int64_t q = 0; q < w; q++) ref[q] = y->data[i * w + q];
            assert_close(cases[c].name, yp->data + perm[i] * w, ref, w, 1e-5);
        }
        gp_tensor_free(&x);
        gp_tensor_free(&xp);
        gp_module_free(&m);
    }
    gp_tape_free(&t);
    free(ps);
    free(pd);
    gp_free(src);
    gp_free(dst);
    gp_graph_free(&gp_);
    gp_graph_free(&g);
}

/* ---- batches: a block-diagonal batch gives each graph's own output ---- */

static void test_layers_on_batches(void **state)
{
    (void)state;
    gp_graph *g1 = test_graph(91, true), *g2 = test_graph(92, false), *b = NULL;
    const gp_graph *parts[2] = {g1, g2};
    assert_int_equal(gp_graph_batch(&b, 2, parts), GP_OK);
    assert_int_equal(b->num_graphs, 2);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    for (int c = 0; c < NUM_CASES; c++) {
        gp_rng rng;
        gp_rng_seed(&rng, 500 + (uint64_t)c);
        gp_module *m = make(c, &rng);
        gp_tensor *x1 = random_input(&rng), *x2 = random_input(&rng), *xb = NULL;
        assert_int_equal(gp_tensor_new(&xb, 2 * N, IN), GP_OK);
        memcpy(xb->data, x1->data, N * IN * sizeof(float));
        memcpy(xb->data + N * IN, x2->data, N * IN * sizeof(float));
        gp_tape_reset(t);
        gp_tensor *y1 = gp_module_forward(m, t, g1, x1), *y2 = gp_module_forward(m, t, g2, x2);
        gp_tensor *yb = gp_module_forward(m, t, b, xb);
        assert_non_null(y1);
        assert_non_null(y2);
        assert_non_null(yb);
        int64_t w = m->out_dim;
        double ref[2 * N * 16];
        for (int64_t i = 0; i < N * w; i++) ref[i] = y1->data[i], ref[N * w + i] = y2->data[i];
        assert_close(cases[c].name, yb->data, ref, 2 * N * w, 1e-5);
        gp_tensor_free(&x1);
        gp_tensor_free(&x2);
        gp_tensor_free(&xb);
        gp_module_free(&m);
    }
    gp_tape_free(&t);
    gp_graph_free(&b);
    gp_graph_free(&g1);
    gp_graph_free(&g2);
}

/* ---- GCN and GraphConv (sum) as one op (ops_propagate.c) against the ops it replaces ---- */

/* The layer's output and gradients (x, the weights, b) have the bits of the ops it replaces,
 * gp_add(gp_spmm(Â, X W), b) for GCN and gp_addmm(gp_spmm(A, X W_rel), X, W_root, b) for
 * GraphConv, followed by gp_relu with gp_module_forward_relu, and its tape keeps less memory;
 * with a data input (x_const: no gradient) narrower than the output, those of the aggregate-first
 * order, gp_matmul(gp_spmm(A, X), W). Directed weighted graphs (A^T != A), the small test
 * graph and a 300-node one with widths that are not multiples of the product kernel's tiles. */
static void gcn_fused_case_x(gp_graph *g, int64_t din, int64_t dout, uint64_t seed, bool graphconv, bool relu,
                             bool x_const)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    gp_module *m = NULL;
    if (graphconv) assert_int_equal(gp_graphconv_new(&m, din, dout, GP_AGGR_SUM, true, &rng), GP_OK);
    else assert_int_equal(gp_gcn_new(&m, din, dout, true, &rng), GP_OK);
    gp_tensor *bias = m->params[m->num_params - 1];
    gc_fill(bias, &rng, -0.5f, 0.5f); /* a nonzero bias */
    gp_tensor *x = NULL;
    if (x_const) assert_int_equal(gp_tensor_new(&x, g->adj.rows, din), GP_OK); /* data: no gradient */
    else assert_int_equal(gp_param_new(&x, "x", g->adj.rows, din), GP_OK);
    gc_fill(x, &rng, -1.0f, 1.0f);
    bool first = x_const && din < dout; /* the op aggregates first: (A X) W */
    int64_t ny = g->adj.rows * dout;
    float *dy = malloc((size_t)ny * sizeof(float)), *keep[2][5];
    for (int64_t i = 0; i < ny; i++) dy[i] = gp_rng_uniform(&rng) - 0.5f;
    /* output, x, then the parameters (GCN: weight, bias; GraphConv: root, rel, bias) */
    gp_tensor *vals[5] = {NULL, x, m->params[0], m->params[1], graphconv ? m->params[2] : NULL};
    int nv = graphconv ? 5 : 4;
    size_t used[2];
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    for (int run = 0; run < 2; run++) {
        gp_tape_reset(t);
        for (int k = x_const ? 2 : 1; k < nv; k++) gp_tensor_zero_grad(vals[k]);
        gp_tensor *y;
        if (run == 0) {
            y = relu ? gp_module_forward_relu(m, t, g, x) : gp_module_forward(m, t, g, x);
            assert_int_equal(gp_tape_size(t), 1); /* one op, ReLU included */
        } else if (graphconv) {
            gp_tensor *agg = first ? gp_matmul(t, gp_spmm(t, g, NULL, x), m->params[1], false, false)
                                   : gp_spmm(t, g, NULL, gp_matmul(t, x, m->params[1], false, false));
            y = gp_addmm(t, agg, x, m->params[0], bias);
        } else {
            const gp_graph *norm = NULL;
            assert_int_equal(gp_graph_gcn_norm(&norm, g), GP_OK);
            gp_tensor *agg = first ? gp_matmul(t, gp_spmm(t, norm, NULL, x), m->params[0], false, false)
                                   : gp_spmm(t, norm, NULL, gp_matmul(t, x, m->params[0], false, false));
            y = gp_add(t, agg, bias);
        }
        if (run == 1 && relu) y = gp_relu(t, y);
        assert_non_null(y);
        used[run] = gp_arena_used(gp_tape_arena(t));
        assert_int_equal(gp_tape_backward_from(t, y, dy), GP_OK);
        vals[0] = y;
        for (int k = 0; k < nv; k++) {
            size_t bytes = (size_t)gp_tensor_size(vals[k]) * sizeof(float);
            keep[run][k] = malloc(bytes);
            if (k == 1 && x_const) assert_null(x->grad);
            else memcpy(keep[run][k], k == 0 ? vals[k]->data : vals[k]->grad, bytes);
        }
    }
    for (int k = 0; k < nv; k++) {
        if (k == 1 && x_const) {
            free(keep[0][k]);
            free(keep[1][k]);
            continue;
        }
        int64_t count = k == 0 ? ny : gp_tensor_size(vals[k]);
        assert_memory_equal(keep[0][k], keep[1][k], (size_t)count * sizeof(float));
        free(keep[0][k]);
        free(keep[1][k]);
    }
    assert_true(used[0] < used[1]);
    free(dy);
    gp_tape_free(&t);
    gp_tensor_free(&x);
    gp_module_free(&m);
}

static void gcn_fused_case(gp_graph *g, int64_t din, int64_t dout, uint64_t seed, bool graphconv, bool relu)
{
    gcn_fused_case_x(g, din, dout, seed, graphconv, relu, false);
}

static void test_gcn_fused_matches_ops(void **state)
{
    (void)state;
    gp_graph *small = test_graph(17, true);
    gcn_fused_case(small, IN, 3, 1, false, false);
    gcn_fused_case(small, IN, 3, 4, true, false);
    gcn_fused_case(small, IN, 3, 7, false, true);
    gcn_fused_case(small, IN, 3, 8, true, true);
    gp_rng rng;
    gp_rng_seed(&rng, 33);
    enum { BN = 300, BM = 1500 };
    int64_t src[BM], dst[BM];
    float w[BM];
    for (int k = 0; k < BM; k++) {
        src[k] = (int64_t)gp_rng_below(&rng, BN);
        dst[k] = (int64_t)gp_rng_below(&rng, BN);
        w[k] = 0.25f + gp_rng_uniform(&rng);
    }
    gp_graph *big = NULL;
    assert_int_equal(gp_graph_from_edges(&big, BN, BM, src, dst, w, 0), GP_OK);
    gcn_fused_case(big, 37, 33, 2, false, false);
    gcn_fused_case(big, 37, 33, 5, true, false);
    gcn_fused_case(big, 37, 33, 9, true, true);
    gcn_fused_case(big, 130, 128, 3, false, false);
    gcn_fused_case(big, 130, 128, 6, true, false);
    gcn_fused_case(big, 130, 128, 10, false, true);
    /* data input (no gradient) narrower than the output: aggregated first, (A X) W; wider: not */
    gcn_fused_case_x(big, 3, 128, 12, true, true, true);
    gcn_fused_case_x(big, 5, 33, 13, false, false, true);
    gcn_fused_case_x(small, IN, 3 * IN + 1, 14, true, false, true);
    gcn_fused_case_x(big, 130, 128, 15, true, true, true);
    /* layers without a fused form: gp_module_forward_relu is gp_relu of the forward */
    gp_rng rng2;
    gp_rng_seed(&rng2, 11);
    gp_module *mean = NULL;
    assert_int_equal(gp_graphconv_new(&mean, IN, 3, GP_AGGR_MEAN, true, &rng2), GP_OK);
    gp_tensor *xs = random_input(&rng2);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tensor *y1 = gp_module_forward_relu(mean, t, small, xs);
    gp_tensor *y2 = gp_relu(t, gp_module_forward(mean, t, small, xs));
    assert_non_null(y1);
    assert_non_null(y2);
    assert_memory_equal(y1->data, y2->data, (size_t)gp_tensor_size(y1) * sizeof(float));
    assert_null(gp_module_forward_relu(mean, t, small, gp_tape_tensor(t, N, IN + 1))); /* width error */
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_free(&t);
    gp_tensor_free(&xs);
    gp_module_free(&mean);
    gp_graph_free(&big);
    gp_graph_free(&small);
}

/* ---- sparse input: same values as dense, dropout only while training ---- */

static void test_layers_sparse_input(void **state)
{
    (void)state;
    gp_graph *g = test_graph(31, true);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    for (int c = 0; c < NUM_CASES; c++) {
        gp_rng rng;
        gp_rng_seed(&rng, 400 + (uint64_t)c);
        gp_module *m = make(c, &rng);
        gp_tensor *x = random_input(&rng);
        /* sparsify: about half the entries zero */
        int64_t row[N * IN], col[N * IN], nnz = 0;
        float val[N * IN];
        for (int64_t i = 0; i < N * IN; i++) {
            if (gp_rng_uniform(&rng) < 0.5f) x->data[i] = 0.0f;
            else row[nnz] = i / IN, col[nnz] = i % IN, val[nnz++] = x->data[i];
        }
        gp_csr *xs = NULL;
        assert_int_equal(gp_csr_from_coo(&xs, N, IN, nnz, row, col, val), GP_OK);
        gp_tape_reset(t);
        assert_int_equal(gp_module_accepts_csr(m), cases[c].sparse_ok);
        gp_tensor *ys = gp_module_forward_csr(m, t, g, xs, 0.0f);
        if (!cases[c].sparse_ok) {
            assert_null(ys);
            assert_int_equal(gp_tape_status(t), GP_E_UNSUPPORTED);
        } else {
            gp_tensor *y = gp_module_forward(m, t, g, x);
            assert_non_null(ys);
            assert_non_null(y);
            double ref[N * 16];
            for (int64_t i = 0; i < gp_tensor_size(y); i++) ref[i] = y->data[i];
            assert_close(cases[c].name, ys->data, ref, gp_tensor_size(y), 1e-5);
            /* input dropout: changes the output while training, not in evaluation */
            gp_tensor *yd = gp_module_forward_csr(m, t, g, xs, 0.5f);
            assert_non_null(yd);
            assert_true(memcmp(yd->data, ys->data, (size_t)gp_tensor_size(y) * sizeof(float)) != 0);
            gp_tape_set_training(t, false);
            yd = gp_module_forward_csr(m, t, g, xs, 0.5f);
            assert_non_null(yd);
            assert_memory_equal(yd->data, ys->data, (size_t)gp_tensor_size(y) * sizeof(float));
            gp_tape_set_training(t, true);
        }
        gp_csr_free(&xs);
        gp_tensor_free(&x);
        gp_module_free(&m);
    }
    gp_tape_free(&t);
    gp_graph_free(&g);
}

/* ---- GAT attention ---- */

static void test_gat_attention_normalised(void **state)
{
    (void)state;
    gp_graph *g = test_graph(41, false);
    gp_rng rng;
    gp_rng_seed(&rng, 9);
    gp_gat_options o = {.heads = 4, .concat = true, .negative_slope = 0.2f, .attn_dropout = 0.5f, .bias = true};
    gp_module *m = NULL;
    assert_int_equal(gp_gat_new(&m, IN, 3, &o, &rng), GP_OK);
    gp_tensor *alpha = NULL;
    const gp_graph *loops = NULL;
    assert_int_equal(gp_gat_last_attention(&alpha, &loops, m), GP_E_STATE);
    gp_tensor *x = random_input(&rng);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    assert_non_null(gp_module_forward(m, t, g, x)); /* training: attention dropout active */
    assert_int_equal(gp_gat_last_attention(&alpha, &loops, m), GP_OK);
    assert_int_equal(alpha->rows, loops->adj.nnz);
    assert_int_equal(alpha->cols, 4);
    for (int64_t i = 0; i < N; i++) {
        bool has_loop = false;
        for (int64_t h = 0; h < 4; h++) {
            double s = 0.0;
            for (int64_t k = loops->adj.ptr[i]; k < loops->adj.ptr[i + 1]; k++) {
                s += alpha->data[k * 4 + h];
                has_loop |= loops->adj.idx[k] == i;
                assert_true(alpha->data[k * 4 + h] > 0.0f);
            }
            assert_true(fabs(s - 1.0) < 1e-5);
        }
        assert_true(has_loop); /* every node attends to itself */
    }
    /* an isolated node attends only to itself: weight exactly 1 */
    int64_t k = loops->adj.ptr[N - 1];
    assert_int_equal(loops->adj.ptr[N] - k, 1);
    assert_true(alpha->data[k * 4] == 1.0f);
    /* attention dropout: active while training only */
    gp_tape_reset(t);
    gp_tensor *y1 = gp_module_forward(m, t, g, x), *y2 = gp_module_forward(m, t, g, x);
    assert_true(memcmp(y1->data, y2->data, (size_t)gp_tensor_size(y1) * sizeof(float)) != 0);
    gp_tape_set_training(t, false);
    y1 = gp_module_forward(m, t, g, x);
    y2 = gp_module_forward(m, t, g, x);
    assert_memory_equal(y1->data, y2->data, (size_t)gp_tensor_size(y1) * sizeof(float));
    /* non-GAT modules are rejected */
    gp_module *lin = NULL;
    assert_int_equal(gp_linear_new(&lin, IN, 2, true, &rng), GP_OK);
    assert_int_equal(gp_gat_last_attention(&alpha, &loops, lin), GP_E_STATE);
    gp_module_free(&lin);
    gp_tensor_free(&x);
    gp_tape_free(&t);
    gp_module_free(&m);
    gp_graph_free(&g);
}

/* ---- errors ---- */

static void test_layer_errors(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 3);
    gp_graph *g = test_graph(51, false);
    gp_module *m = NULL;
    assert_int_equal(gp_gcn_new(&m, IN, 3, true, &rng), GP_OK);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tensor *wide = gp_tape_tensor(t, N, IN + 1);
    assert_null(gp_module_forward(m, t, g, wide));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    assert_non_null(strstr(gp_last_error(), "5 columns"));
    gp_tape_reset(t);
    assert_null(gp_module_forward(m, t, NULL, gp_tape_tensor(t, N, IN)));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_tape_reset(t);
    assert_null(gp_module_forward(m, t, g, gp_tape_tensor(t, N - 1, IN)));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    assert_null(gp_module_forward(NULL, t, g, gp_tape_tensor(t, N, IN)));
    assert_int_equal(gp_tape_status(t), GP_E_INVALID);
    gp_module_free(&m);

    /* bad options */
    gp_gat_options bad = {.heads = 0};
    assert_int_equal(gp_gat_new(&m, IN, 2, &bad, &rng), GP_E_INVALID);
    assert_null(m);
    gp_sage_options sbad = {.aggr = GP_AGGR_SUM};
    assert_int_equal(gp_sage_new(&m, IN, 2, &sbad, &rng), GP_E_INVALID);
    assert_int_equal(gp_graphconv_new(&m, IN, 2, (gp_aggr)7, true, &rng), GP_E_INVALID);
    assert_int_equal(gp_gin_new(&m, NULL, NULL, &rng), GP_E_INVALID);
    gp_aggr a;
    assert_int_equal(gp_aggr_parse(&a, "add"), GP_OK);
    assert_int_equal(a, GP_AGGR_SUM);
    assert_int_equal(gp_aggr_parse(&a, "median"), GP_E_INVALID);
    gp_activation act;
    assert_int_equal(gp_activation_parse(&act, "elu"), GP_OK);
    assert_int_equal(act, GP_ACT_ELU);
    assert_int_equal(gp_activation_parse(&act, "swish"), GP_E_INVALID);

    /* stacks: width mismatch, empty stack, sparse input with X in the concatenation */
    gp_module *s = NULL, *l1 = NULL;
    assert_int_equal(gp_stack_new(&s, NULL, &rng), GP_OK);
    gp_tape_reset(t);
    assert_null(gp_module_forward(s, t, g, gp_tape_tensor(t, N, 0)));
    assert_int_equal(gp_tape_status(t), GP_E_STATE);
    assert_int_equal(gp_gcn_new(&l1, IN, 3, true, &rng), GP_OK);
    assert_int_equal(gp_stack_add(s, &l1), GP_OK);
    assert_int_equal(gp_gcn_new(&l1, 4, 3, true, &rng), GP_OK);
    assert_int_equal(gp_stack_add(s, &l1), GP_E_SHAPE);
    assert_non_null(l1); /* still the caller's */
    gp_module_free(&l1);
    gp_module_free(&s);
    gp_stack_options jo = {.act = GP_ACT_RELU, .jk_concat = true};
    assert_int_equal(gp_stack_new(&s, &jo, &rng), GP_OK);
    assert_int_equal(gp_gcn_new(&l1, IN, 3, true, &rng), GP_OK);
    assert_int_equal(gp_stack_add(s, &l1), GP_OK);
    gp_csr *xs = NULL;
    int64_t r0 = 0, c0 = 1;
    assert_int_equal(gp_csr_from_coo(&xs, N, IN, 1, &r0, &c0, NULL), GP_OK);
    gp_tape_reset(t);
    assert_null(gp_module_forward_csr(s, t, g, xs, 0.0f));
    assert_int_equal(gp_tape_status(t), GP_E_UNSUPPORTED);
    gp_csr_free(&xs);
    gp_module_free(&s);
    gp_tape_free(&t);
    gp_graph_free(&g);
}

/* ---- stacks ---- */

/* A stack with ReLU and dropout between layers runs them as one relu_dropout op (no separate
 * relu and dropout outputs): training values equal to the layers run by hand with the same rng
 * state (relu, then dropout), gradients equal (up to the sign of zeros); with a residual the two
 * stay separate (the residual reads the ReLU's output). */
static void test_stack_relu_dropout_fused(void **state)
{
    (void)state;
    gp_graph *g = test_graph(63, true);
    for (int residual = 0; residual < 2; residual++) {
        gp_rng rng;
        gp_rng_seed(&rng, 64);
        gp_stack_options o = {.act = GP_ACT_RELU, .dropout = 0.4f, .residual = residual == 1};
        gp_module *s = NULL, *l = NULL;
        assert_int_equal(gp_stack_new(&s, &o, &rng), GP_OK);
        for (int k = 0; k < 3; k++) {
            assert_int_equal(gp_linear_new(&l, k == 0 ? IN : 5, 5, true, &rng), GP_OK);
            gc_fill(l->params[1], &rng, -0.5f, 0.5f);
            assert_int_equal(gp_stack_add(s, &l), GP_OK);
        }
        gp_tensor *x = NULL;
        assert_int_equal(gp_param_new(&x, "x", N, IN), GP_OK);
        gc_fill(x, &rng, -1.0f, 1.0f);
        gp_param_list pl;
        assert_int_equal(gp_module_params(&pl, s, false), GP_OK);
        gp_tape *t = NULL;
        assert_int_equal(gp_tape_new(&t), GP_OK);
        float *grads[2][8];
        gp_tensor *ys[2];
        gp_rng start = s->rng;
        for (int run = 0; run < 2; run++) {
            s->rng = start;
            gp_tensor_zero_grad(x);
            for (int i = 0; i < pl.count; i++) gp_tensor_zero_grad(pl.tensors[i]);
            size_t before = gp_tape_size(t);
            gp_tensor *y;
            if (run == 0) {
                y = gp_module_forward(s, t, g, x);
            } else { /* by hand */
                gp_tensor *h = x;
                for (int k = 0; k < 3; k++) {
                    gp_tensor *in = k == 0 ? h : gp_dropout(t, h, 0.4f, &s->rng);
                    gp_tensor *z = gp_module_forward(s->children[k], t, g, in);
                    if (k < 2) z = gp_relu(t, z);
                    if (residual && k > 0) z = gp_add(t, z, h);
                    h = z;
                }
                y = h;
            }
            assert_non_null(y);
            int fused = 0;
            for (size_t i = before; i < gp_tape_size(t); i++) fused += !strcmp(gp_tape_node_name(t, i), "relu_dropout");
            assert_int_equal(fused, run == 0 && !residual ? 2 : 0);
            ys[run] = y;
            assert_int_equal(gp_tape_backward(t, gp_sum_all(t, gp_mul(t, y, y))), GP_OK);
            assert_true(pl.count + 1 <= 8);
            for (int i = 0; i <= pl.count; i++) {
                const gp_tensor *p = i < pl.count ? pl.tensors[i] : x;
                grads[run][i] = malloc((size_t)gp_tensor_size(p) * sizeof(float));
                memcpy(grads[run][i], p->grad, (size_t)gp_tensor_size(p) * sizeof(float));
            }
        }
        assert_memory_equal(ys[0]->data, ys[1]->data, (size_t)gp_tensor_size(ys[0]) * sizeof(float));
        for (int i = 0; i <= pl.count; i++) {
            const gp_tensor *p = i < pl.count ? pl.tensors[i] : x;
            for (int64_t e = 0; e < gp_tensor_size(p); e++) assert_true(grads[0][i][e] == grads[1][i][e]);
            free(grads[0][i]);
            free(grads[1][i]);
        }
        gp_param_list_free(&pl);
        gp_tape_free(&t);
        gp_tensor_free(&x);
        gp_module_free(&s);
    }
    gp_graph_free(&g);
}

static void test_stack_jk_residual(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 61);
    gp_graph *g = test_graph(61, true);
    gp_stack_options o = {.act = GP_ACT_TANH, .dropout = 0.5f, .input_dropout = 0.5f,
                          .residual = true, .jk_concat = true};
    gp_module *s = NULL, *l = NULL;
    assert_int_equal(gp_stack_new(&s, &o, &rng), GP_OK);
    assert_int_equal(gp_gcn_new(&l, IN, 3, true, &rng), GP_OK);
    assert_int_equal(gp_stack_add(s, &l), GP_OK);
    assert_int_equal(gp_sage_new(&l, 3, 3, NULL, &rng), GP_OK);
    assert_int_equal(gp_stack_add(s, &l), GP_OK);
    assert_int_equal(gp_stack_size(s), 2);
    assert_int_equal(s->in_dim, IN);
    assert_int_equal(s->out_dim, IN + 3 + 3);
    gp_tensor *x = random_input(&rng);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tape_set_training(t, false); /* no dropout: compare with the layers run by hand */
    gp_tensor *y = gp_module_forward(s, t, g, x);
    assert_non_null(y);
    gp_tensor *h1 = gp_tanh(t, gp_module_forward(s->children[0], t, g, x)); /* 4 -> 3: no residual */
    gp_tensor *h2 = gp_add(t, gp_module_forward(s->children[1], t, g, h1), h1); /* last: no act */
    assert_non_null(h2);
    for (int64_t i = 0; i < N; i++) {
        const float *row = y->data + i * y->cols;
        assert_memory_equal(row, x->data + i * IN, IN * sizeof(float));
        assert_memory_equal(row + IN, h1->data + i * 3, 3 * sizeof(float));
        assert_memory_equal(row + IN + 3, h2->data + i * 3, 3 * sizeof(float));
    }
    /* gradients through the concatenation and the residual (tanh: no kinks) */
    gp_param_list gl;
    assert_int_equal(gp_module_params(&gl, s, false), GP_OK);
    gp_tensor *inputs[8] = {x};
    for (int i = 0; i < gl.count; i++) inputs[1 + i] = gl.tensors[i];
    layer_ctx ctx = {s, g};
    double err = gc_check(eval_fwd, &ctx, inputs, 1 + gl.count);
    if (!(err < 1e-2)) fail_msg("jk stack: gradient error %g", err);
    gp_param_list_free(&gl);
    /* names are unique and prefixed by the layer index */
    gp_param_list pl;
    assert_int_equal(gp_module_params(&pl, s, true), GP_OK);
    assert_int_equal(pl.count, 2 + 3); /* gcn weight, bias; sage neigh, root, bias */
    assert_string_equal(pl.names[0], "0.weight");
    assert_string_equal(pl.names[2], "1.neigh.weight");
    gp_param_list_free(&pl);
    assert_int_equal(gp_module_num_weights(s), IN * 3 + 3 + 3 * 3 * 2 + 3);
    gp_tensor_free(&x);
    gp_tape_free(&t);
    gp_module_free(&s);
    gp_graph_free(&g);
}

static gp_tensor *mlp_fwd(gp_tape *t, gp_tensor **in, void *ctx)
{
    return gp_module_forward(ctx, t, NULL, in[0]);
}

static void test_mlp_norms_gradcheck(void **state)
{
    (void)state;
    for (int norm = GP_NORM_BATCH; norm <= GP_NORM_LAYER; norm++) {
        gp_rng rng;
        gp_rng_seed(&rng, 71 + (uint64_t)norm);
        int64_t hidden[2] = {5, 4};
        gp_mlp_options o = {.act = GP_ACT_TANH, .norm = (gp_norm_kind)norm};
        gp_module *m = NULL;
        assert_int_equal(gp_mlp_new(&m, IN, 2, hidden, 2, &o, &rng), GP_OK);
        gp_param_list l;
        assert_int_equal(gp_module_params(&l, m, true), GP_OK);
        /* 3 linears (6) + 2 norms (gamma, beta) [+ 2 x 2 running statistics] */
        assert_int_equal(l.count, 6 + 4 + (norm == GP_NORM_BATCH ? 4 : 0));
        gp_param_list_free(&l);
        assert_int_equal(gp_module_params(&l, m, false), GP_OK);
        assert_int_equal(l.count, 10);
        gp_tensor *x = random_input(&rng);
        gp_tensor *inputs[16] = {x};
        for (int i = 0; i < l.count; i++) {
            inputs[1 + i] = l.tensors[i];
            gc_fill(l.tensors[i], &rng, -1.0f, 1.0f);
        }
        /* a small step: layer norm over 4-5 columns is strongly curved */
        double err = gc_check_eps(mlp_fwd, m, inputs, 1 + l.count, 1e-3, 1e-2);
        if (!(err < 1e-2)) fail_msg("mlp norm %d: gradient error %g", norm, err);
        gp_param_list_free(&l);
        gp_tensor_free(&x);
        gp_module_free(&m);
    }
}

/* ---- checkpoints ---- */

static gp_module *ckpt_model(uint64_t seed, int64_t hidden)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    gp_stack_options o = {.act = GP_ACT_RELU, .norm = GP_NORM_BATCH};
    gp_module *s = NULL, *l = NULL;
    assert_int_equal(gp_stack_new(&s, &o, &rng), GP_OK);
    assert_int_equal(gp_gcn_new(&l, IN, hidden, true, &rng), GP_OK);
    assert_int_equal(gp_stack_add(s, &l), GP_OK);
    gp_gat_options go = {.heads = 2, .concat = false, .negative_slope = 0.2f, .bias = true};
    assert_int_equal(gp_gat_new(&l, hidden, 3, &go, &rng), GP_OK);
    assert_int_equal(gp_stack_add(s, &l), GP_OK);
    return s;
}

static gp_tensor *eval_output(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    gp_tape_reset(t);
    gp_tape_set_training(t, false);
    gp_tensor *y = gp_module_forward(m, t, g, x);
    gp_tape_set_training(t, true);
    assert_non_null(y);
    return y;
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* GIN with a batch-norm MLP on a minibatch of one node (a one-node graph): the training steps
 * run (batch norm falls back to the running statistics, which stay as they are) and move the
 * parameters; it used to fail the run with "training needs at least 2 rows". */
static void test_gin_batch_norm_one_node(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 91);
    gp_graph *g = NULL;
    int64_t none[1] = {0};
    assert_int_equal(gp_graph_from_edges(&g, 1, 0, none, none, NULL, 0), GP_OK);
    gp_module *mlp = NULL, *m = NULL;
    int64_t hidden = 4;
    gp_mlp_options mo = {.act = GP_ACT_RELU, .norm = GP_NORM_BATCH};
    assert_int_equal(gp_mlp_new(&mlp, 3, 1, &hidden, 2, &mo, &rng), GP_OK);
    assert_int_equal(gp_gin_new(&m, &mlp, NULL, &rng), GP_OK);
    gp_param_list pl, all;
    assert_int_equal(gp_module_params(&pl, m, false), GP_OK);
    assert_int_equal(gp_module_params(&all, m, true), GP_OK);
    assert_int_equal(all.count, pl.count + 2); /* the buffers (after the parameters): running mean and var */
    float before[256], buffers[2][4];
    int64_t np = 0;
    for (int i = 0; i < pl.count; i++) {
        int64_t k = pl.tensors[i]->rows * pl.tensors[i]->cols;
        assert_true(np + k <= 256);
        memcpy(before + np, pl.tensors[i]->data, sizeof(float) * (size_t)k);
        np += k;
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(all.tensors[pl.count + i]->cols, 4);
        memcpy(buffers[i], all.tensors[pl.count + i]->data, sizeof buffers[i]);
    }
    gp_optim *opt = NULL;
    assert_int_equal(gp_adam_new(&opt, pl.tensors, pl.count, 0.05f, 0.9f, 0.999f, 1e-8f, 0.0f), GP_OK);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tape_set_training(t, true);
    float xv[3] = {0.5f, -1.0f, 2.0f};
    int64_t label[1] = {1};
    for (int step = 0; step < 3; step++) {
        gp_tape_reset(t);
        gp_tensor *out = gp_module_forward(m, t, g, gp_tape_constant(t, xv, 1, 3));
        if (!out) fail_msg("GIN on one node: %s", gp_last_error());
        assert_int_equal(gp_tape_backward(t, gp_cross_entropy_loss(t, out, label, GP_REDUCE_MEAN)), GP_OK);
        assert_int_equal(gp_optim_step(opt), GP_OK);
        gp_optim_zero_grad(opt);
    }
    bool moved = false; /* the parameters took optimiser steps */
    np = 0;
    for (int i = 0; i < pl.count; i++) {
        int64_t k = pl.tensors[i]->rows * pl.tensors[i]->cols;
        moved |= memcmp(before + np, pl.tensors[i]->data, sizeof(float) * (size_t)k) != 0;
        np += k;
    }
    assert_true(moved);
    for (int i = 0; i < 2; i++) assert_true(memcmp(buffers[i], all.tensors[pl.count + i]->data, sizeof buffers[i]) == 0);
    gp_tape_free(&t);
    gp_optim_free(&opt);
    gp_param_list_free(&pl);
    gp_param_list_free(&all);
    gp_module_free(&m);
    gp_graph_free(&g);
}

static void test_checkpoint_round_trip_and_damage(void **state)
{
    (void)state;
    char dir[] = "/tmp/gp_test_ckpt_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], bad[256];
    snprintf(path, sizeof path, "%s/model.gpc", dir);
    snprintf(bad, sizeof bad, "%s/bad.gpc", dir);
    gp_graph *g = test_graph(81, true);
    gp_rng rng;
    gp_rng_seed(&rng, 81);
    gp_tensor *x = random_input(&rng);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);

    /* a few training steps so that weights and running statistics are not the initial ones */
    gp_module *m = ckpt_model(1, 6);
    gp_param_list pl;
    assert_int_equal(gp_module_params(&pl, m, false), GP_OK);
    gp_optim *opt = NULL;
    assert_int_equal(gp_adam_new(&opt, pl.tensors, pl.count, 0.05f, 0.9f, 0.999f, 1e-8f, 0.0f), GP_OK);
    int64_t labels[N] = {0, 1, 2, 0, 1, 2, 0, 1, 2};
    for (int step = 0; step < 5; step++) {
        gp_tape_reset(t);
        gp_tensor *loss = gp_cross_entropy_loss(t, gp_module_forward(m, t, g, x), labels, GP_REDUCE_MEAN);
        assert_int_equal(gp_tape_backward(t, loss), GP_OK);
        assert_int_equal(gp_optim_step(opt), GP_OK);
        gp_optim_zero_grad(opt);
    }
    gp_optim_free(&opt);
    gp_param_list_free(&pl);

    assert_int_equal(gp_module_save(m, path), GP_OK);
    float ref[N * 3];
    memcpy(ref, eval_output(m, t, g, x)->data, sizeof ref);

    /* round trip into a differently initialised model: bit-identical outputs */
    gp_module *m2 = ckpt_model(2, 6);
    assert_true(memcmp(eval_output(m2, t, g, x)->data, ref, sizeof ref) != 0);
    assert_int_equal(gp_module_load(m2, path), GP_OK);
    assert_memory_equal(eval_output(m2, t, g, x)->data, ref, sizeof ref);
    /* saving again gives the same bytes */
    assert_int_equal(gp_module_save(m2, bad), GP_OK);
    long len = file_size(path);
    assert_int_equal(file_size(bad), len);

    unsigned char *bytes = malloc((size_t)len);
    FILE *f = fopen(path, "rb");
    assert_int_equal(fread(bytes, 1, (size_t)len, f), (size_t)len);
    fclose(f);

    /* truncated at every length, and every 7th byte altered: rejected, model unchanged */
    gp_module *m3 = ckpt_model(3, 6);
    float before[N * 3];
    memcpy(before, eval_output(m3, t, g, x)->data, sizeof before);
    for (long cut = 0; cut < len; cut += (cut < 64 ? 1 : 37)) {
        f = fopen(bad, "wb");
        fwrite(bytes, 1, (size_t)cut, f);
        fclose(f);
        gp_status st = gp_module_load(m3, bad);
        if (st != GP_E_PARSE) fail_msg("truncated at %ld: status %s", cut, gp_status_name(st));
    }
    for (long pos = 0; pos < len; pos += 7) {
        bytes[pos] ^= 0x10;
        f = fopen(bad, "wb");
        fwrite(bytes, 1, (size_t)len, f);
        fclose(f);
        bytes[pos] ^= 0x10;
        gp_status st = gp_module_load(m3, bad);
        if (st != GP_E_PARSE) fail_msg("byte %ld altered: status %s", pos, gp_status_name(st));
    }
    assert_non_null(strstr(gp_last_error(), "checksum"));
    assert_memory_equal(eval_output(m3, t, g, x)->data, before, sizeof before);
    /* trailing garbage */
    f = fopen(bad, "wb");
    fwrite(bytes, 1, (size_t)len, f);
    fputc(0, f);
    fclose(f);
    assert_int_equal(gp_module_load(m3, bad), GP_E_PARSE);

    /* wrong shape (hidden 5 instead of 6) and a different model (no GAT layer) */
    gp_module *m4 = ckpt_model(4, 5);
    assert_int_equal(gp_module_load(m4, path), GP_E_SHAPE);
    assert_non_null(strstr(gp_last_error(), "0.weight"));
    gp_module *m5 = NULL, *l = NULL;
    gp_stack_options so = {.act = GP_ACT_RELU, .norm = GP_NORM_BATCH};
    assert_int_equal(gp_stack_new(&m5, &so, &rng), GP_OK);
    assert_int_equal(gp_gcn_new(&l, IN, 6, true, &rng), GP_OK);
    assert_int_equal(gp_stack_add(m5, &l), GP_OK);
    assert_int_equal(gp_module_load(m5, path), GP_E_INVALID);
    assert_memory_equal(eval_output(m3, t, g, x)->data, before, sizeof before);
    /* missing file, unwritable destination */
    assert_int_equal(gp_module_load(m3, "/nonexistent/dir/model.gpc"), GP_E_IO);
    assert_int_equal(gp_module_save(m3, "/nonexistent/dir/model.gpc"), GP_E_IO);

    /* no temporary files left behind */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp > /dev/null", dir);
    assert_int_not_equal(system(cmd), 0);

    free(bytes);
    unlink(path);
    unlink(bad);
    rmdir(dir);
    gp_module_free(&m);
    gp_module_free(&m2);
    gp_module_free(&m3);
    gp_module_free(&m4);
    gp_module_free(&m5);
    gp_tensor_free(&x);
    gp_tape_free(&t);
    gp_graph_free(&g);
}

/* ---- out of memory: every allocation failing in turn ---- */

/* Build a stack (GCN, GAT with batch norm, GIN with an MLP), run a step, save and load. */
static gp_status oom_scenario(void *ctx)
{
    const char *path = ctx;
    gp_status st = GP_OK;
    gp_rng rng;
    gp_rng_seed(&rng, 1);
    int64_t src[] = {0, 1, 2, 3, 4}, dst[] = {1, 2, 3, 4, 0}, labels[6] = {0, 1, 0, 1, 0, 1};
    gp_graph *g = NULL;
    gp_module *s = NULL, *l = NULL, *mlp = NULL;
    gp_tape *t = NULL;
    gp_tensor *x = NULL;
    gp_param_list pl = {0};
    gp_stack_options so = {.act = GP_ACT_RELU, .norm = GP_NORM_BATCH, .dropout = 0.5f, .jk_concat = true};
    gp_gat_options go = {.heads = 2, .concat = true, .negative_slope = 0.2f, .bias = true};
    int64_t hidden = 3;
    if ((st = gp_graph_from_edges(&g, 6, 5, src, dst, NULL, GP_EDGES_SYMMETRISE)) != GP_OK) goto done;
    if ((st = gp_stack_new(&s, &so, &rng)) != GP_OK) goto done;
    if ((st = gp_gcn_new(&l, 2, 4, true, &rng)) != GP_OK || (st = gp_stack_add(s, &l)) != GP_OK) goto done;
    if ((st = gp_gat_new(&l, 4, 2, &go, &rng)) != GP_OK || (st = gp_stack_add(s, &l)) != GP_OK) goto done;
    if ((st = gp_mlp_new(&mlp, 4, 1, &hidden, 2, NULL, &rng)) != GP_OK) goto done;
    if ((st = gp_gin_new(&l, &mlp, &(gp_gin_options){.train_eps = true}, &rng)) != GP_OK ||
        (st = gp_stack_add(s, &l)) != GP_OK)
        goto done;
    if ((st = gp_param_new(&x, "x", 6, 2)) != GP_OK || (st = gp_tape_new(&t)) != GP_OK) goto done;
    gp_tensor_fill(x, 0.5f);
    x->data[3] = -1.0f;
    gp_tensor *loss = gp_cross_entropy_loss(t, gp_module_forward(s, t, g, x), labels, GP_REDUCE_MEAN);
    if ((st = gp_tape_backward(t, loss)) != GP_OK) goto done;
    if ((st = gp_module_params(&pl, s, true)) != GP_OK) goto done;
    if ((st = gp_module_save(s, path)) != GP_OK) goto done;
    st = gp_module_load(s, path);
done:
    if (st != GP_OK && !*gp_last_error()) st = GP_E_STATE; /* an error must come with a message */
    gp_param_list_free(&pl);
    gp_tape_free(&t);
    gp_tensor_free(&x);
    gp_module_free(&l);
    gp_module_free(&mlp);
    gp_module_free(&s);
    gp_graph_free(&g);
    return st;
}

static void test_layers_out_of_memory(void **state)
{
    (void)state;
    char path[] = "/tmp/gp_test_oom_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    gp_set_allocator(fa_allocator());
    fa_reset(-1);
    fa_result r = fa_every_failure("layers scenario", oom_scenario, path);
    gp_set_allocator(NULL);
    printf("out of memory: %ld failure points\n", r.first_ok);
    assert_true(r.first_ok > 50); /* the scenario did allocate: every failure point was visited */
    unlink(path);
}

int main(void)
{
    if (gp_init() != GP_OK) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layers_match_reference),
        cmocka_unit_test(test_layers_gradcheck),
        cmocka_unit_test(test_layers_permutation_equivariant),
        cmocka_unit_test(test_layers_on_batches),
        cmocka_unit_test(test_gcn_fused_matches_ops),
        cmocka_unit_test(test_layers_sparse_input),
        cmocka_unit_test(test_gat_attention_normalised),
        cmocka_unit_test(test_layer_errors),
        cmocka_unit_test(test_stack_jk_residual),
        cmocka_unit_test(test_stack_relu_dropout_fused),
        cmocka_unit_test(test_mlp_norms_gradcheck),
        cmocka_unit_test(test_gin_batch_norm_one_node),
        cmocka_unit_test(test_checkpoint_round_trip_and_damage),
        cmocka_unit_test(test_layers_out_of_memory),
    };
    int rc = cmocka_run_group_tests_name("layers", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
