/*
 * Relational pooling operators (suite "pool"): rp (RP-GIN position ids) and klgnn (k,l-labelling).
 * - rp expansion values: original features kept, every copy's ids are a permutation mod width,
 *   exact inference enumerates all n! distinct permutations (grouped per graph), pi-SGD training
 *   shares the input graph and draws a fresh permutation per step;
 * - exact averaging over all permutations gives the same output for a relabelled copy of a graph
 *   (RP + GIN + readout), one sampled permutation does not; sampled averages converge to the
 *   exact one as the number of permutations grows;
 * - klgnn expansion values (labels per copy, tuple counts for l = 1, 2, 3 with and without the
 *   distance bound) and readout values (sum per copy, mean / max across copies) against naive
 *   references; invariance of the l = 2 model under relabelling;
 * - two 1-WL-equivalent CSL graphs (41 nodes, skip lengths 2 and 3, built with igraph): plain GIN
 *   with random weights gives the same output, the l = 1 node-marking model different outputs;
 * - gradient checks (features; label embeddings; through GIN and the readouts);
 * - determinism with a fixed seed (training-time sampling of permutations and tuples), the
 *   sampling fraction, and errors (bad options, wrong feature width);
 * - shared structure (shared=1, the default: implicit graph) against replicated copies (shared=0)
 *   for rp and klgnn in inference and training, on a batch with an empty graph, a weighted graph
 *   and isolated nodes: GIN, GCN, SAGE (mean) and GAT (through the explicit form) followed by the
 *   readout give bit-identical outputs and gradients (features, layer and label parameters).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <graphpool/interop.h>
#include <graphpool/layers.h>
#include <graphpool/pool.h>

#include "gradcheck.h"
#include "pool_fixtures.h"

/* ---- helpers ---- */

/* The graph with node i renamed sigma[i]. */
static gp_graph *relabel(int64_t n, int m, const int64_t *pairs, const int64_t *sigma)
{
    int64_t p[256];
    for (int k = 0; k < 2 * m; k++) p[k] = sigma[pairs[k]];
    return undirected(n, m, p);
}

/* Circulant skip-link graph (CSL): cycle on n nodes plus edges i -- i + skip (igraph). */
static gp_graph *csl_graph(int64_t n, int64_t skip)
{
    igraph_t ig;
    assert_int_equal(igraph_ring(&ig, n, false, false, true), IGRAPH_SUCCESS);
    igraph_vector_int_t e;
    assert_int_equal(igraph_vector_int_init(&e, 2 * n), IGRAPH_SUCCESS);
    for (int64_t i = 0; i < n; i++) {
        VECTOR(e)[2 * i] = i;
        VECTOR(e)[2 * i + 1] = (i + skip) % n;
    }
    assert_int_equal(igraph_add_edges(&ig, &e, NULL), IGRAPH_SUCCESS);
    igraph_vector_int_destroy(&e);
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_igraph(&g, &ig, GP_EDGES_DROP_DUPLICATES), GP_OK);
    igraph_destroy(&ig);
    return g;
}

/* A 5-node graph with a triangle and a tail: 0-1, 1-2, 2-0, 2-3, 3-4. */
static const int64_t tail_pairs[] = {0, 1, 1, 2, 2, 0, 2, 3, 3, 4};

/* ---- rp: expansion values ---- */

static void test_rp_expand_values(void **state)
{
    (void)state;
    gp_graph *gs[2] = {undirected(3, 2, (int64_t[]){0, 1, 1, 2}), undirected(1, 0, NULL)};
    gp_graph *g = batch_of(2, gs);
    gp_module *rp = pool_new("rp:width=2,exact=3", 2, 7);
    assert_int_equal(gp_pool_node_dim(rp), 4);
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    /* inference: exact, 3! copies of graph 0, 1 of graph 1 */
    gp_tape_set_training(t, false);
    gp_pool_batch in = gp_pool_batch_of(g, gp_tape_constant(t, x, 4, 2)), out;
    assert_int_equal(gp_pool_expand(rp, t, &in, &out), GP_OK);
    assert_int_equal(out.graph->num_graphs, 7);
    assert_int_equal(out.num_groups, 2);
    assert_int_equal(out.group_ptr[0], 0);
    assert_int_equal(out.group_ptr[1], 6);
    assert_int_equal(out.group_ptr[2], 7);
    assert_int_equal(out.x->rows, 19);
    assert_int_equal(gp_graph_edges(out.graph), 6 * 4);
    /* width 3: the ids of each copy are a permutation; width 2: the same ids mod 2 */
    gp_module *rp3 = pool_new("rp:width=3,exact=3", 2, 7);
    gp_pool_batch out3;
    assert_int_equal(gp_pool_expand(rp3, t, &in, &out3), GP_OK);
    int seen[6] = {0};
    for (int64_t c = 0; c < 6; c++) {
        int code = 0, used = 0;
        for (int64_t i = 0; i < 3; i++) {
            const float *row = out3.x->data + (c * 3 + i) * 5;
            assert_float_equal(row[0], x[2 * i], 0); /* features copied */
            assert_float_equal(row[1], x[2 * i + 1], 0);
            int id = -1, ones = 0;
            for (int k = 0; k < 3; k++)
                if (row[2 + k] == 1.0f) id = k, ones++;
            assert_int_equal(ones, 1);
            used |= 1 << id;
            code = code * 3 + id;
            /* width 2: id mod 2 */
            const float *row2 = out.x->data + (c * 3 + i) * 4;
            assert_float_equal(row2[2 + id % 2], 1.0f, 0);
            assert_float_equal(row2[2 + 1 - id % 2], 0.0f, 0);
        }
        assert_int_equal(used, 7); /* a permutation */
        for (int k = 0; k < c; k++) assert_int_not_equal(seen[k], code); /* all distinct */
        seen[c] = code;
    }
    /* the one-node graph: id 0 */
    assert_float_equal(out3.x->data[18 * 5 + 2], 1.0f, 0);
    /* training: one permutation per graph, graph shared, fresh permutations per step */
    gp_pool_batch_release(&out);
    gp_pool_batch_release(&out3);
    gp_tape_reset(t);
    gp_tape_set_training(t, true);
    in = gp_pool_batch_of(g, gp_tape_constant(t, x, 4, 2));
    int codes[40];
    for (int step = 0; step < 40; step++) {
        assert_int_equal(gp_pool_expand(rp3, t, &in, &out3), GP_OK);
        assert_ptr_equal(out3.graph, g);
        assert_false(out3.owns_graph);
        assert_null(out3.group_ptr);
        assert_int_equal(out3.x->rows, 4);
        int code = 0;
        for (int64_t i = 0; i < 3; i++)
            for (int k = 0; k < 3; k++)
                if (out3.x->data[i * 5 + 2 + k] == 1.0f) code = code * 3 + k;
        codes[step] = code;
        gp_pool_batch_release(&out3);
    }
    int distinct = 0;
    for (int a = 0; a < 40; a++) {
        bool fresh = true;
        for (int b = 0; b < a; b++) fresh &= codes[b] != codes[a];
        distinct += fresh;
    }
    assert_int_equal(distinct, 6); /* 40 draws see all 3! permutations */
    gp_tape_free(&t);
    gp_module_free(&rp);
    gp_module_free(&rp3);
    gp_graph_free(&g);
}

/* ---- rp: exact averaging is invariant; sampled averages converge ---- */

static void test_rp_exact_invariance(void **state)
{
    (void)state;
    const int64_t n = 5, d = 3;
    const int64_t sigma[5] = {3, 0, 4, 1, 2};
    gp_graph *g = undirected(n, 5, tail_pairs), *h = relabel(n, 5, tail_pairs, sigma);
    float *x = random_features(n, d, 11), *xs = malloc((size_t)(n * d) * sizeof(float));
    for (int64_t i = 0; i < n; i++) memcpy(xs + sigma[i] * d, x + i * d, (size_t)d * sizeof(float));
    gp_module *rp = pool_new("rp:width=4,exact=5", d, 3), *sum = pool_new("sum", 8, 3);
    gin_net net;
    gin_net_init(&net, 3, d + 4, 8, 5);
    int64_t rows;
    float *a = run_model(rp, &net, sum, g, x, d, false, &rows);
    float *b = run_model(rp, &net, sum, h, xs, d, false, &rows);
    assert_int_equal(rows, 1);
    assert_true(rel_diff(a, b, 8) < 1e-5);
    /* one sampled permutation (training mode) is not invariant: outputs vary between steps */
    float *first = run_model(rp, &net, sum, g, x, d, true, &rows);
    double spread = 0;
    for (int step = 0; step < 4; step++) {
        float *q = run_model(rp, &net, sum, g, x, d, true, &rows);
        spread = fmax(spread, rel_diff(first, q, 8));
        free(q);
    }
    assert_true(spread > 1e-2);
    free(first);
    /* sampled averages (exact=0) approach the exact average */
    double err[3];
    int64_t counts[3] = {4, 64, 4096};
    for (int k = 0; k < 3; k++) {
        char spec[64];
        snprintf(spec, sizeof spec, "rp:width=4,exact=0,perms=%lld", (long long)counts[k]);
        gp_module *sampled = pool_new(spec, d, 3);
        float *s = run_model(sampled, &net, sum, g, x, d, false, &rows);
        err[k] = rel_diff(a, s, 8);
        free(s);
        gp_module_free(&sampled);
    }
    assert_true(err[2] < err[0]);
    assert_true(err[2] < err[1] * 1.5);
    assert_true(err[2] < 0.02);
    /* batched with another graph, the graph's output is unchanged */
    gp_graph *gs[2] = {undirected(2, 1, (int64_t[]){0, 1}), undirected(n, 5, tail_pairs)};
    gp_graph *bg = batch_of(2, gs);
    float *bx = random_features(n + 2, d, 12);
    memcpy(bx + 2 * d, x, (size_t)(n * d) * sizeof(float));
    float *bo = run_model(rp, &net, sum, bg, bx, d, false, &rows);
    assert_int_equal(rows, 2);
    assert_true(rel_diff(a, bo + 8, 8) < 1e-5);
    free(bo), free(bx);
    gp_graph_free(&bg);
    free(a), free(b), free(x), free(xs);
    gin_net_free(&net);
    gp_module_free(&rp);
    gp_module_free(&sum);
    gp_graph_free(&g);
    gp_graph_free(&h);
}

/* ---- rp: gradients and determinism ---- */

static void test_rp_gradcheck(void **state)
{
    (void)state;
    const int64_t d = 2;
    gp_graph *gs[2] = {undirected(4, 3, (int64_t[]){0, 1, 1, 2, 2, 3}), undirected(3, 3, (int64_t[]){0, 1, 1, 2, 2, 0})};
    gp_graph *g = batch_of(2, gs);
    gp_tensor *x = gc_param_seeded("x", 7, d, 21);
    gin_net net;
    gin_net_init(&net, 2, d + 3, 6, 8);
    gp_module *rp = pool_new("rp:width=3,exact=4", d, 1), *mean = pool_new("mean", 6, 1);
    fwd_ctx c = {g, rp, mean, &net, NULL, false};
    assert_true(gc_check(expand_gin_readout, &c, &x, 1) < 1e-2);
    c.training = true; /* pi-SGD step: one permutation, re-created from the same seed */
    c.spec = "rp:width=3";
    assert_true(gc_check(expand_gin_readout, &c, &x, 1) < 1e-2);
    c.spec = "rp:width=3,train_perms=3"; /* several permutations per step (copies) */
    assert_true(gc_check(expand_gin_readout, &c, &x, 1) < 1e-2);
    pending_flush();
    gp_tensor_free(&x);
    gin_net_free(&net);
    gp_module_free(&rp);
    gp_module_free(&mean);
    gp_graph_free(&g);
}

static void test_rp_determinism(void **state)
{
    (void)state;
    const int64_t n = 5, d = 3;
    gp_graph *g = undirected(n, 5, tail_pairs);
    float *x = random_features(n, d, 4);
    gin_net net;
    gin_net_init(&net, 2, d + 5, 6, 2);
    gp_module *a = pool_new("rp:width=5", d, 42), *b = pool_new("rp:width=5", d, 42);
    gp_module *o = pool_new("rp:width=5", d, 43), *sum = pool_new("sum", 6, 1);
    int64_t rows;
    float *outs[3][4];
    for (int step = 0; step < 4; step++) {
        outs[0][step] = run_model(a, &net, sum, g, x, d, true, &rows);
        outs[1][step] = run_model(b, &net, sum, g, x, d, true, &rows);
        outs[2][step] = run_model(o, &net, sum, g, x, d, true, &rows);
    }
    int differ_seed = 0, differ_step = 0;
    for (int step = 0; step < 4; step++) {
        assert_memory_equal(outs[0][step], outs[1][step], 6 * sizeof(float));
        differ_seed += memcmp(outs[0][step], outs[2][step], 6 * sizeof(float)) != 0;
        if (step) differ_step += memcmp(outs[0][step], outs[0][0], 6 * sizeof(float)) != 0;
    }
    assert_true(differ_seed > 0);
    assert_true(differ_step > 0);
    /* inference is deterministic and independent of the training history */
    float *e1 = run_model(a, &net, sum, g, x, d, false, &rows);
    float *e2 = run_model(o, &net, sum, g, x, d, false, &rows); /* different seed, exact: same */
    assert_true(rel_diff(e1, e2, 6) < 1e-6);
    for (int k = 0; k < 3; k++)
        for (int step = 0; step < 4; step++) free(outs[k][step]);
    free(e1), free(e2), free(x);
    gin_net_free(&net);
    gp_module_free(&a), gp_module_free(&b), gp_module_free(&o), gp_module_free(&sum);
    gp_graph_free(&g);
}

/* ---- klgnn ---- */

static void test_klgnn_expand_values(void **state)
{
    (void)state;
    gp_graph *g = undirected(4, 3, (int64_t[]){0, 1, 1, 2, 2, 3}); /* path 0-1-2-3 */
    float x[4] = {1, 2, 3, 4};
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tape_set_training(t, false);
    gp_pool_batch in = gp_pool_batch_of(g, gp_tape_constant(t, x, 4, 1)), out;
    struct {
        const char *spec;
        int64_t copies;
    } cases[] = {{"klgnn:l=1,emb=2", 4},          {"klgnn:l=2,emb=2", 12},
                 {"klgnn:l=2,dist=1,emb=2", 6},   {"klgnn:l=3,emb=2", 24},
                 {"klgnn:l=3,dist=1,emb=2", 4},   {"klgnn:l=2,dist=2,emb=2", 10},
                 {"klgnn:l=1,emb=2,max_tuples=3", 3}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        gp_module *m = pool_new(cases[k].spec, 1, 5);
        gp_tensor *E = NULL;
        gp_param_list pl;
        assert_int_equal(gp_module_params(&pl, m, false), GP_OK);
        assert_int_equal(pl.count, 1);
        E = pl.tensors[0];
        gp_param_list_free(&pl);
        assert_int_equal(gp_pool_expand(m, t, &in, &out), GP_OK);
        assert_int_equal(out.num_groups, 1);
        assert_int_equal(out.graph->num_graphs, cases[k].copies);
        assert_int_equal(out.group_ptr[1], cases[k].copies);
        assert_int_equal(out.x->cols, 3);
        int64_t l = E->rows - 1;
        for (int64_t c = 0; c < cases[k].copies; c++) {
            int64_t count[4] = {0}, marked[3] = {-1, -1, -1};
            for (int64_t i = 0; i < 4; i++) {
                const float *row = out.x->data + (c * 4 + i) * 3;
                assert_float_equal(row[0], x[i], 0);
                int64_t lab = -1;
                for (int64_t j = 0; j <= l; j++)
                    if (row[1] == E->data[j * 2] && row[2] == E->data[j * 2 + 1]) lab = j;
                assert_true(lab >= 0);
                count[lab]++;
                if (lab > 0) marked[lab - 1] = i;
            }
            for (int64_t j = 1; j <= l; j++) assert_int_equal(count[j], 1); /* distinct labels */
            if (strstr(cases[k].spec, "dist=1"))
                for (int64_t j = 1; j < l; j++) /* within one hop of the root */
                    assert_true(llabs(marked[j] - marked[0]) == 1);
            if (!strstr(cases[k].spec, "max") && l == 1) assert_int_equal(marked[0], c); /* root order */
        }
        gp_pool_batch_release(&out);
        gp_module_free(&m);
    }
    gp_tape_free(&t);
    gp_graph_free(&g);
}

static void test_klgnn_readout_values(void **state)
{
    (void)state;
    gp_graph *gs[3] = {undirected(2, 1, (int64_t[]){0, 1}), undirected(1, 0, NULL),
                       undirected(2, 0, NULL)};
    gp_graph *g = batch_of(3, gs); /* three copies: groups {0, 1}, {2} */
    const float h[10] = {1, -2, 3, 4, 0.5f, 7, 2, 2, -1, 1};
    const int64_t groups[3] = {0, 2, 3};
    for (int mx = 0; mx < 2; mx++) {
        gp_module *m = pool_new(mx ? "klgnn:across=max" : "klgnn:across=mean", 2, 1);
        assert_int_equal(gp_pool_readout_dim(m), 2);
        gp_tape *t = NULL;
        assert_int_equal(gp_tape_new(&t), GP_OK);
        gp_pool_batch b = gp_pool_batch_of(g, gp_tape_constant(t, h, 5, 2));
        gp_tensor *plain = gp_pool_readout(m, t, &b); /* ungrouped: the sum per graph */
        const float sums[6] = {4, 2, 0.5f, 7, 1, 3};
        assert_int_equal(plain->rows, 3);
        for (int i = 0; i < 6; i++) assert_float_equal(plain->data[i], sums[i], 1e-6);
        b.num_groups = 2;
        b.group_ptr = groups;
        gp_tensor *r = gp_pool_readout(m, t, &b);
        assert_int_equal(r->rows, 2);
        const float want[2][4] = {{2.25f, 4.5f, 1, 3}, {4, 7, 1, 3}};
        for (int i = 0; i < 4; i++) assert_float_equal(r->data[i], want[mx][i], 1e-6);
        gp_tape_free(&t);
        gp_module_free(&m);
    }
    gp_graph_free(&g);
}

static void test_klgnn_csl_expressivity(void **state)
{
    (void)state;
    const int64_t n = 41;
    gp_graph *a = csl_graph(n, 2), *b = csl_graph(n, 3);
    assert_int_equal(gp_graph_edges(a), 4 * n);
    assert_int_equal(gp_graph_edges(b), 4 * n);
    float *ones = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) ones[i] = 1.0f;
    int64_t rows;
    /* plain GIN: 1-WL cannot tell them apart */
    gin_net plain;
    gin_net_init(&plain, 3, 1, 16, 17);
    gp_module *sum = pool_new("sum", 16, 1);
    float *pa = run_model(NULL, &plain, sum, a, ones, 1, false, &rows);
    float *pb = run_model(NULL, &plain, sum, b, ones, 1, false, &rows);
    assert_true(rel_diff(pa, pb, 16) < 1e-5);
    /* node marking (l = 1): different outputs with random weights */
    gp_module *mark = pool_new("klgnn:l=1,emb=4", 1, 3), *ro = pool_new("klgnn", 16, 3);
    gin_net net;
    gin_net_init(&net, 3, 5, 16, 17);
    float *ma = run_model(mark, &net, ro, a, ones, 1, false, &rows);
    float *mb = run_model(mark, &net, ro, b, ones, 1, false, &rows);
    assert_int_equal(rows, 1);
    assert_true(rel_diff(ma, mb, 16) > 1e-3);
    /* and l = 2 with both labels on adjacent nodes (distance bound 1) */
    gp_module *near = pool_new("klgnn:l=2,dist=1,emb=4", 1, 3);
    float *na = run_model(near, &net, ro, a, ones, 1, false, &rows);
    float *nb = run_model(near, &net, ro, b, ones, 1, false, &rows);
    assert_true(rel_diff(na, nb, 16) > 1e-3);
    free(na), free(nb), free(pa), free(pb), free(ma), free(mb), free(ones);
    gin_net_free(&plain);
    gin_net_free(&net);
    gp_module_free(&sum), gp_module_free(&mark), gp_module_free(&ro), gp_module_free(&near);
    gp_graph_free(&a);
    gp_graph_free(&b);
}

static void test_klgnn_invariance(void **state)
{
    (void)state;
    const int64_t n = 5, d = 2;
    const int64_t sigma[5] = {4, 2, 0, 1, 3};
    gp_graph *g = undirected(n, 5, tail_pairs), *h = relabel(n, 5, tail_pairs, sigma);
    float *x = random_features(n, d, 3), *xs = malloc((size_t)(n * d) * sizeof(float));
    for (int64_t i = 0; i < n; i++) memcpy(xs + sigma[i] * d, x + i * d, (size_t)d * sizeof(float));
    const char *specs[] = {"klgnn:l=2,emb=3", "klgnn:l=3,dist=1,emb=3,across=max"};
    for (int k = 0; k < 2; k++) {
        gp_module *m = pool_new(specs[k], d, 9), *ro = pool_new(specs[k], 8, 9);
        gin_net net;
        gin_net_init(&net, 2, d + 3, 8, 4);
        int64_t rows;
        float *a = run_model(m, &net, ro, g, x, d, false, &rows);
        float *b = run_model(m, &net, ro, h, xs, d, false, &rows);
        assert_true(rel_diff(a, b, 8) < 1e-5);
        free(a), free(b);
        gin_net_free(&net);
        gp_module_free(&m), gp_module_free(&ro);
    }
    free(x), free(xs);
    gp_graph_free(&g);
    gp_graph_free(&h);
}

typedef struct kl_ctx {
    gp_graph *g;
    gp_module *pool, *readout;
    gin_net *net;
} kl_ctx;

/* inputs: x, the label table (copied into the operator's parameter) */
static gp_tensor *kl_forward(gp_tape *t, gp_tensor **in, void *vctx)
{
    kl_ctx *c = vctx;
    fwd_ctx f = {c->g, c->pool, c->readout, c->net, NULL, false};
    return expand_gin_readout(t, in, &f);
}

static void test_klgnn_gradcheck(void **state)
{
    (void)state;
    const int64_t d = 2;
    gp_graph *gs[2] = {undirected(4, 3, (int64_t[]){0, 1, 1, 2, 2, 3}), undirected(3, 2, (int64_t[]){0, 1, 1, 2})};
    gp_graph *g = batch_of(2, gs);
    gp_tensor *x = gc_param_seeded("x", 7, d, 5);
    const char *specs[] = {"klgnn:l=1,emb=2", "klgnn:l=2,dist=1,emb=2,across=max"};
    for (int k = 0; k < 2; k++) {
        gp_module *m = pool_new(specs[k], d, 2), *ro = pool_new(specs[k], 5, 2);
        gin_net net;
        gin_net_init(&net, 2, d + 2, 5, 6);
        gp_param_list pl;
        assert_int_equal(gp_module_params(&pl, m, false), GP_OK);
        gp_tensor *inputs[2] = {x, pl.tensors[0]};
        kl_ctx c = {g, m, ro, &net};
        double err = gc_check_eps(kl_forward, &c, inputs, 2, 1e-3, 1e-2);
        assert_true(err < 1e-2);
        pending_flush();
        gp_param_list_free(&pl);
        gin_net_free(&net);
        gp_module_free(&m), gp_module_free(&ro);
    }
    gp_tensor_free(&x);
    gp_graph_free(&g);
}

static void test_klgnn_sampling_determinism(void **state)
{
    (void)state;
    const int64_t n = 41;
    gp_graph *g = csl_graph(n, 5);
    float *ones = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) ones[i] = 1.0f;
    gp_module *a = pool_new("klgnn:frac=0.25", 1, 8), *b = pool_new("klgnn:frac=0.25", 1, 8);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_pool_batch in = gp_pool_batch_of(g, gp_tape_constant(t, ones, n, 1)), oa, ob;
    int64_t total = 0, prev = -1, changed = 0;
    for (int step = 0; step < 20; step++) {
        assert_int_equal(gp_pool_expand(a, t, &in, &oa), GP_OK);
        assert_int_equal(gp_pool_expand(b, t, &in, &ob), GP_OK);
        assert_int_equal(oa.graph->num_graphs, ob.graph->num_graphs);
        assert_true(oa.graph->num_graphs >= 1 && oa.graph->num_graphs <= n);
        assert_memory_equal(oa.x->data, ob.x->data, (size_t)gp_tensor_size(oa.x) * sizeof(float));
        total += oa.graph->num_graphs;
        changed += prev >= 0 && prev != oa.graph->num_graphs;
        prev = oa.graph->num_graphs;
        gp_pool_batch_release(&oa);
        gp_pool_batch_release(&ob);
    }
    double mean = (double)total / 20;
    assert_true(mean > 0.25 * n * 0.6 && mean < 0.25 * n * 1.4);
    assert_true(changed > 0);
    /* inference keeps every tuple */
    gp_tape_set_training(t, false);
    assert_int_equal(gp_pool_expand(a, t, &in, &oa), GP_OK);
    assert_int_equal(oa.graph->num_graphs, n);
    gp_pool_batch_release(&oa);
    gp_tape_free(&t);
    free(ones);
    gp_module_free(&a), gp_module_free(&b);
    gp_graph_free(&g);
}

/* ---- shared structure against replicated copies ---- */

typedef struct shared_run {
    float *out, *gx, *gp[16];
    int64_t out_size, gp_size[16];
    int np;
    bool implicit;
} shared_run;

/* expand (spec) -> one layer (kind: 0 GIN, 1 GCN, 2 SAGE mean, 3 GAT) -> ReLU -> readout ->
 * backward; everything compared is copied out. */
static shared_run shared_model(const char *spec, int kind, bool training, gp_graph *g, gp_tensor *x,
                               uint64_t seed)
{
    shared_run res = {0};
    gp_module *pool = pool_new(spec, x->cols, seed), *layer = NULL, *readout = NULL;
    int64_t in = gp_pool_node_dim(pool), hid = 6;
    gp_rng rng;
    gp_rng_seed(&rng, 31);
    if (kind == 0) {
        gp_module *mlp = NULL;
        gp_mlp_options mo = {GP_ACT_RELU, 0.0f, GP_NORM_NONE};
        assert_int_equal(gp_mlp_new(&mlp, in, 1, (int64_t[]){hid}, hid, &mo, &rng), GP_OK);
        assert_int_equal(gp_gin_new(&layer, &mlp, &(gp_gin_options){0.1f, false}, &rng), GP_OK);
    } else if (kind == 1) {
        assert_int_equal(gp_gcn_new(&layer, in, hid, true, &rng), GP_OK);
    } else if (kind == 2) {
        assert_int_equal(gp_sage_new(&layer, in, hid, NULL, &rng), GP_OK);
    } else {
        gp_gat_options go = {2, true, 0.2f, 0.0f, true};
        assert_int_equal(gp_gat_new(&layer, in, hid / 2, &go, &rng), GP_OK);
    }
    readout = strncmp(spec, "klgnn", 5) == 0 ? pool_new(spec, hid, seed) : pool_new("mean", hid, 1);
    gp_param_list pl, pp;
    assert_int_equal(gp_module_params(&pl, layer, false), GP_OK);
    assert_int_equal(gp_module_params(&pp, pool, false), GP_OK);
    for (int i = 0; i < pl.count; i++) gp_tensor_zero_grad(pl.tensors[i]);
    for (int i = 0; i < pp.count; i++) gp_tensor_zero_grad(pp.tensors[i]);
    gp_tensor_zero_grad(x);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tape_set_training(t, training);
    gp_pool_batch in_b = gp_pool_batch_of(g, x), ex;
    assert_int_equal(gp_pool_expand(pool, t, &in_b, &ex), GP_OK);
    res.implicit = ex.graph->adj.ptr == NULL;
    gp_pool_batch h = ex;
    h.x = gp_relu(t, gp_module_forward(layer, t, ex.graph, ex.x));
    gp_tensor *r = gp_pool_readout(readout, t, &h);
    if (!r) fail_msg("%s: %s", spec, gp_last_error());
    int64_t m = gp_tensor_size(r);
    res.out = malloc((size_t)m * sizeof(float));
    res.out_size = m;
    memcpy(res.out, r->data, (size_t)m * sizeof(float));
    float *seed_grad = random_features(m, 1, 3);
    assert_int_equal(gp_tape_backward_from(t, r, seed_grad), GP_OK);
    free(seed_grad);
    res.gx = malloc((size_t)gp_tensor_size(x) * sizeof(float));
    memcpy(res.gx, x->grad, (size_t)gp_tensor_size(x) * sizeof(float));
    assert_true(pl.count + pp.count <= 16);
    for (int i = 0; i < pl.count + pp.count; i++) {
        gp_tensor *p = i < pl.count ? pl.tensors[i] : pp.tensors[i - pl.count];
        res.gp_size[i] = gp_tensor_size(p);
        res.gp[i] = malloc((size_t)gp_tensor_size(p) * sizeof(float));
        memcpy(res.gp[i], p->grad, (size_t)gp_tensor_size(p) * sizeof(float));
    }
    res.np = pl.count + pp.count;
    gp_pool_batch_release(&ex);
    gp_tape_free(&t);
    gp_param_list_free(&pl), gp_param_list_free(&pp);
    gp_module_free(&pool), gp_module_free(&layer), gp_module_free(&readout);
    return res;
}

static void test_shared_vs_replicated(void **state)
{
    (void)state;
    gp_graph *gs[4] = {undirected(5, 5, tail_pairs), undirected(0, 0, NULL), NULL,
                       undirected(3, 2, (int64_t[]){0, 1, 1, 2})};
    /* weighted: a triangle 0-1-2 plus an isolated node 3 */
    assert_int_equal(gp_graph_from_edges(&gs[2], 4, 3, (int64_t[]){0, 1, 2}, (int64_t[]){1, 2, 0},
                                         (float[]){0.5f, 2.0f, 1.5f}, GP_EDGES_SYMMETRISE), GP_OK);
    gp_graph *g = batch_of(4, gs);
    gp_tensor *x = gc_param_seeded("x", 12, 2, 8);
    const struct {
        const char *spec;
        bool training;
    } specs[] = {{"rp:width=3,exact=3", false},          {"rp:width=3,exact=0,perms=5", false},
                 {"rp:width=3,train_perms=4", true},      {"klgnn:l=1,emb=2", false},
                 {"klgnn:l=2,dist=1,emb=2,across=max", false}, {"klgnn:l=1,emb=2,frac=0.5", true}};
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++)
        for (int kind = 0; kind < 4; kind++) {
            char a[96], b[96];
            snprintf(a, sizeof a, "%s,shared=1", specs[k].spec);
            snprintf(b, sizeof b, "%s,shared=0", specs[k].spec);
            shared_run sa = shared_model(a, kind, specs[k].training, g, x, 5);
            shared_run sb = shared_model(b, kind, specs[k].training, g, x, 5);
            shared_run sd = shared_model(specs[k].spec, kind, specs[k].training, g, x, 5);
            assert_true(sa.implicit);
            assert_false(sb.implicit);
            assert_true(sd.implicit); /* shared by default */
            assert_int_equal(sa.out_size, 4 * 6); /* one row per input graph */
            assert_int_equal(sb.out_size, sa.out_size);
            assert_memory_equal(sa.out, sb.out, (size_t)sa.out_size * sizeof(float));
            assert_memory_equal(sa.out, sd.out, (size_t)sa.out_size * sizeof(float));
            assert_memory_equal(sa.gx, sb.gx, 12 * 2 * sizeof(float));
            assert_int_equal(sa.np, sb.np);
            for (int i = 0; i < sa.np; i++) {
                assert_int_equal(sa.gp_size[i], sb.gp_size[i]);
                assert_memory_equal(sa.gp[i], sb.gp[i], (size_t)sa.gp_size[i] * sizeof(float));
                free(sa.gp[i]), free(sb.gp[i]), free(sd.gp[i]);
            }
            free(sa.out), free(sb.out), free(sd.out), free(sa.gx), free(sb.gx), free(sd.gx);
        }
    gp_tensor_free(&x);
    gp_graph_free(&g);
}

static void test_rp_errors(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 1);
    gp_module *m = NULL;
    const char *bad[] = {"rp:width=0", "rp:exact=9", "rp:perms=x", "rp:bogus=1", "klgnn:l=4",
                         "klgnn:across=sum", "klgnn:frac=0", "klgnn:frac=1.5", "klgnn:dist=-1"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(gp_pool_new(&m, bad[k], 3, &rng), GP_E_INVALID);
        assert_null(m);
    }
    gp_graph *g = undirected(3, 2, (int64_t[]){0, 1, 1, 2});
    gp_module *rp = pool_new("rp", 3, 1), *kl = pool_new("klgnn", 3, 1);
    assert_int_equal(gp_pool_caps(rp), GP_POOL_EXPAND);
    assert_int_equal(gp_pool_caps(kl), GP_POOL_EXPAND | GP_POOL_READOUT);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_pool_batch in = gp_pool_batch_of(g, gp_tape_tensor(t, 3, 2)), out; /* 2 wide, not 3 */
    assert_int_not_equal(gp_pool_expand(rp, t, &in, &out), GP_OK);
    assert_int_not_equal(gp_tape_status(t), GP_OK);
    assert_null(out.graph);
    gp_tape_reset(t);
    in = gp_pool_batch_of(g, gp_tape_tensor(t, 3, 2));
    assert_int_not_equal(gp_pool_expand(kl, t, &in, &out), GP_OK);
    gp_tape_reset(t);
    in = gp_pool_batch_of(g, gp_tape_tensor(t, 3, 2));
    assert_null(gp_pool_readout(kl, t, &in));
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    in = gp_pool_batch_of(g, gp_tape_tensor(t, 3, 3));
    assert_null(gp_pool_readout(rp, t, &in)); /* no readout */
    assert_int_equal(gp_tape_status(t), GP_E_UNSUPPORTED);
    gp_tape_free(&t);
    gp_module_free(&rp), gp_module_free(&kl);
    gp_graph_free(&g);
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rp_expand_values),
        cmocka_unit_test(test_rp_exact_invariance),
        cmocka_unit_test(test_rp_gradcheck),
        cmocka_unit_test(test_rp_determinism),
        cmocka_unit_test(test_klgnn_expand_values),
        cmocka_unit_test(test_klgnn_readout_values),
        cmocka_unit_test(test_klgnn_csl_expressivity),
        cmocka_unit_test(test_klgnn_invariance),
        cmocka_unit_test(test_klgnn_gradcheck),
        cmocka_unit_test(test_klgnn_sampling_determinism),
        cmocka_unit_test(test_shared_vs_replicated),
        cmocka_unit_test(test_rp_errors),
    };
    int rc = cmocka_run_group_tests_name("rp", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
