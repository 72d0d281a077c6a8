/*
 * k-ary / local relational pooling, `rplocal` (suite "pool"; graphpool/rp_local.c):
 * - expansion values (mode=subset): every k-subset once per ordering, grouped per input graph,
 *   features of the subset's nodes, one-hot ids forming a permutation of each subset (exact
 *   inference: all k! orderings, distinct), the induced edges against a naive reference;
 *   training: one ordering per subset; a graph with fewer than k nodes is taken whole;
 * - expansion values (mode=neighbourhood): one subset per root, the root plus min(deg, k - 1) of
 *   its neighbours, induced edges; sizes and the root-sampling cap;
 * - readout values against a naive reference (sum per copy, mean per group);
 * - with all subsets and all orderings the output of expand -> GIN -> readout is the same for a
 *   relabelled copy of the graph (k = 3 and 4), and batching with another graph does not change it;
 * - sampled subsets / orderings: the error against the exact average shrinks as samples grow;
 * - gradient checks (inference, pi-SGD training, neighbourhood mode);
 * - determinism with a fixed seed; errors (bad options with a message, wrong width);
 * - run with an argument (the gp-graphclass path; suite "apps"): a 1-fold (of 5), 40-epoch MUTAG
 *   run with --pool rplocal:k=3,mode=neighbourhood beats the majority class.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <graphpool/layers.h>
#include <graphpool/pool.h>

#include "app_run.h"
#include "gradcheck.h"
#include "pool_fixtures.h"

/* ---- helpers ---- */

static bool has_edge(const gp_graph *g, int64_t u, int64_t v)
{
    for (int64_t e = g->adj.ptr[u]; e < g->adj.ptr[u + 1]; e++)
        if (g->adj.idx[e] == v) return true;
    return false;
}

/* 6 nodes: a triangle 0-1-2 with a tail 2-3-4 and a pendant 1-5. */
static const int64_t six_pairs[] = {0, 1, 1, 2, 2, 0, 2, 3, 3, 4, 1, 5};
enum { SIX_N = 6, SIX_M = 6 };

/*
 * Checks every copy of an expanded batch against the input graph g (features d wide, in_x):
 * each copy's nodes are distinct nodes of one input graph in increasing order (recovered from
 * the features, which are distinct per node), its edges are exactly the induced ones, its ids
 * one-hot (width w) and a permutation of 0..m-1 when w >= m. Returns the copies' input nodes
 * (caller frees; copies x kmax, -1 padded) via *nodes_out.
 */
static void check_copies(const gp_pool_batch *ex, const gp_graph *g, const float *in_x, int64_t d,
                         int64_t w, int64_t kmax, int64_t **nodes_out)
{
    const gp_graph *o = ex->graph;
    int64_t copies = o->num_graphs, n_in = gp_graph_nodes(g);
    int64_t *nodes = malloc((size_t)(copies * kmax) * sizeof(int64_t));
    for (int64_t c = 0; c < copies; c++) {
        int64_t first = o->graph_ptr[c], m = o->graph_ptr[c + 1] - first, used = 0;
        assert_true(m <= kmax);
        for (int64_t i = 0; i < kmax; i++) nodes[c * kmax + i] = -1;
        for (int64_t i = 0; i < m; i++) {
            const float *row = ex->x->data + (first + i) * (d + w);
            int64_t src = -1;
            for (int64_t v = 0; v < n_in && src < 0; v++)
                if (!memcmp(row, in_x + v * d, (size_t)d * sizeof(float))) src = v;
            assert_true(src >= 0);
            nodes[c * kmax + i] = src;
            if (i > 0) assert_true(src > nodes[c * kmax + i - 1]);
            assert_int_equal(g->graph_of[src], g->graph_of[nodes[c * kmax]]);
            int id = -1, ones = 0;
            for (int64_t k = 0; k < w; k++) {
                if (row[d + k] == 1.0f) id = (int)k, ones++;
                else assert_float_equal(row[d + k], 0.0f, 0);
            }
            assert_int_equal(ones, 1);
            if (w >= m) {
                assert_true(id < m);
                assert_false(used & (1 << id));
                used |= 1 << id;
            }
        }
        /* induced edges */
        int64_t count = 0;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < m; j++) {
                bool want = has_edge(g, nodes[c * kmax + i], nodes[c * kmax + j]);
                assert_int_equal(has_edge(o, first + i, first + j), want);
                count += want;
            }
        assert_int_equal(o->adj.ptr[first + m] - o->adj.ptr[first], count);
    }
    *nodes_out = nodes;
}

/* ---- expansion values ---- */

static void test_subset_expand_values(void **state)
{
    (void)state;
    const int64_t d = 2;
    /* graph 0: the six-node graph; graph 1: a 2-node edge (fewer than k nodes: taken whole) */
    gp_graph *gs[2] = {undirected(SIX_N, SIX_M, six_pairs), undirected(2, 1, (int64_t[]){0, 1})};
    gp_graph *g = batch_of(2, gs);
    float *x = random_features(8, d, 3);
    gp_module *rl = pool_new("rplocal:k=3,samples=20,perms=6", d, 7);
    assert_int_equal(gp_pool_node_dim(rl), d + 3);
    assert_int_equal(gp_pool_readout_dim(rl), d);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tape_set_training(t, false);
    gp_pool_batch in = gp_pool_batch_of(g, gp_tape_constant(t, x, 8, d)), ex;
    assert_int_equal(gp_pool_expand(rl, t, &in, &ex), GP_OK);
    assert_true(ex.owns_graph);
    /* C(6,3) = 20 subsets x 3! orderings; the 2-node graph: 1 subset x 2! orderings */
    assert_int_equal(ex.graph->num_graphs, 20 * 6 + 2);
    assert_int_equal(ex.num_groups, 2);
    assert_int_equal(ex.group_ptr[1], 120);
    assert_int_equal(ex.group_ptr[2], 122);
    assert_int_equal(ex.x->rows, 120 * 3 + 2 * 2);
    int64_t *nodes = NULL;
    check_copies(&ex, g, x, d, 3, 3, &nodes);
    /* every 3-subset appears exactly 6 times, with 6 distinct orderings */
    int count[64] = {0};
    for (int64_t c = 0; c < 120; c++) {
        int mask = 0;
        for (int i = 0; i < 3; i++) mask |= 1 << nodes[c * 3 + i];
        count[mask]++;
        if (c % 6 == 0) { /* the 6 copies of a subset are consecutive, ids all distinct */
            int codes[6];
            for (int r = 0; r < 6; r++) {
                codes[r] = 0;
                for (int64_t i = 0; i < 3; i++)
                    for (int k = 0; k < 3; k++)
                        if (ex.x->data[(ex.graph->graph_ptr[c + r] + i) * (d + 3) + d + k] == 1.0f)
                            codes[r] = codes[r] * 3 + k;
                for (int q = 0; q < r; q++) assert_int_not_equal(codes[q], codes[r]);
            }
        }
    }
    int subsets = 0;
    for (int mask = 0; mask < 64; mask++) {
        if (count[mask]) subsets++, assert_int_equal(count[mask], 6);
    }
    assert_int_equal(subsets, 20);
    /* the 2-node graph: both copies are the whole graph with its edge */
    assert_int_equal(nodes[120 * 3], 6);
    assert_int_equal(nodes[120 * 3 + 1], 7);
    assert_int_equal(nodes[121 * 3], 6);
    free(nodes);
    gp_pool_batch_release(&ex);
    /* training: one ordering per subset; samples < C(6,3): 5 sampled subsets of graph 0 */
    gp_module *tr = pool_new("rplocal:k=3,samples=5", d, 8);
    gp_tape_reset(t);
    gp_tape_set_training(t, true);
    in = gp_pool_batch_of(g, gp_tape_constant(t, x, 8, d));
    assert_int_equal(gp_pool_expand(tr, t, &in, &ex), GP_OK);
    assert_int_equal(ex.graph->num_graphs, 5 + 1);
    assert_int_equal(ex.group_ptr[1], 5);
    check_copies(&ex, g, x, d, 3, 3, &nodes);
    free(nodes);
    gp_pool_batch_release(&ex);
    /* width 2 < k: ids modulo 2; k = 1: single nodes, every node once */
    gp_module *w2 = pool_new("rplocal:k=3,width=2,samples=20", d, 9);
    assert_int_equal(gp_pool_expand(w2, t, &in, &ex), GP_OK);
    check_copies(&ex, g, x, d, 2, 3, &nodes);
    free(nodes);
    gp_pool_batch_release(&ex);
    gp_module *k1 = pool_new("rplocal:k=1,samples=100", d, 9);
    assert_int_equal(gp_pool_node_dim(k1), d + 1);
    assert_int_equal(gp_pool_expand(k1, t, &in, &ex), GP_OK);
    assert_int_equal(ex.graph->num_graphs, 8);
    assert_int_equal(gp_graph_edges(ex.graph), 0);
    gp_pool_batch_release(&ex);
    gp_tape_free(&t);
    gp_module_free(&rl), gp_module_free(&tr), gp_module_free(&w2), gp_module_free(&k1);
    free(x);
    gp_graph_free(&g);
}

static void test_neighbourhood_expand_values(void **state)
{
    (void)state;
    const int64_t d = 1;
    gp_graph *g = undirected(SIX_N, SIX_M, six_pairs); /* degrees 2 3 3 2 1 1 */
    float x[SIX_N] = {0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f};
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_tape_set_training(t, true);
    gp_pool_batch in = gp_pool_batch_of(g, gp_tape_constant(t, x, SIX_N, d)), ex;
    gp_module *nb = pool_new("rplocal:k=3,mode=neighbourhood", d, 4);
    static const int64_t deg[SIX_N] = {2, 3, 3, 2, 1, 1};
    for (int step = 0; step < 5; step++) {
        assert_int_equal(gp_pool_expand(nb, t, &in, &ex), GP_OK);
        assert_int_equal(ex.graph->num_graphs, SIX_N); /* one subset per root */
        int64_t *nodes = NULL;
        check_copies(&ex, g, x, d, 3, 3, &nodes);
        for (int64_t r = 0; r < SIX_N; r++) {
            int64_t m = ex.graph->graph_ptr[r + 1] - ex.graph->graph_ptr[r];
            assert_int_equal(m, deg[r] + 1 < 3 ? deg[r] + 1 : 3);
            bool root_in = false;
            for (int64_t i = 0; i < m; i++) {
                int64_t u = nodes[r * 3 + i];
                root_in |= u == r;
                assert_true(u == r || has_edge(g, r, u));
            }
            assert_true(root_in);
        }
        free(nodes);
        gp_pool_batch_release(&ex);
    }
    /* inference, exact orderings: root 4 (deg 1) has 2 nodes, its 2 orderings cycle 3 times to
     * weigh as much as the 3-node subsets (P = 3! = 6 copies per subset) */
    gp_tape_set_training(t, false);
    assert_int_equal(gp_pool_expand(nb, t, &in, &ex), GP_OK);
    assert_int_equal(ex.graph->num_graphs, SIX_N * 6);
    gp_pool_batch_release(&ex);
    /* samples caps the roots */
    gp_module *cap = pool_new("rplocal:k=2,mode=neighbourhood,samples=3,perms=1", d, 4);
    assert_int_equal(gp_pool_expand(cap, t, &in, &ex), GP_OK);
    assert_int_equal(ex.graph->num_graphs, 3);
    int64_t *nodes = NULL;
    check_copies(&ex, g, x, d, 2, 2, &nodes);
    free(nodes);
    gp_pool_batch_release(&ex);
    gp_tape_free(&t);
    gp_module_free(&nb), gp_module_free(&cap);
    gp_graph_free(&g);
}

static void test_readout_values(void **state)
{
    (void)state;
    /* 5 graphs (copies) of 2, 1, 3, 2, 2 nodes in 2 groups: {0, 1}, {2, 3, 4} */
    gp_graph *gs[5] = {undirected(2, 1, (int64_t[]){0, 1}), undirected(1, 0, NULL),
                       undirected(3, 1, (int64_t[]){0, 2}), undirected(2, 0, NULL),
                       undirected(2, 1, (int64_t[]){0, 1})};
    gp_graph *g = batch_of(5, gs);
    float *x = random_features(10, 3, 5);
    gp_module *ro = pool_new("rplocal", 3, 1);
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    int64_t group_ptr[3] = {0, 2, 5};
    gp_pool_batch b = gp_pool_batch_of(g, gp_tape_constant(t, x, 10, 3));
    b.num_groups = 2;
    b.group_ptr = group_ptr;
    gp_tensor *r = gp_pool_readout(ro, t, &b);
    assert_non_null(r);
    assert_int_equal(r->rows, 2);
    for (int s = 0; s < 2; s++)
        for (int c = 0; c < 3; c++) {
            double want = 0;
            for (int64_t gi = group_ptr[s]; gi < group_ptr[s + 1]; gi++)
                for (int64_t v = g->graph_ptr[gi]; v < g->graph_ptr[gi + 1]; v++) want += x[v * 3 + c];
            want /= (double)(group_ptr[s + 1] - group_ptr[s]);
            assert_float_equal(r->data[s * 3 + c], want, 1e-5);
        }
    /* ungrouped: one sum per graph */
    b.num_groups = 0;
    b.group_ptr = NULL;
    r = gp_pool_readout(ro, t, &b);
    assert_int_equal(r->rows, 5);
    assert_float_equal(r->data[2 * 3], x[3 * 3] + x[4 * 3] + x[5 * 3], 1e-5);
    gp_tape_free(&t);
    gp_module_free(&ro);
    free(x);
    gp_graph_free(&g);
}

/* ---- invariance and convergence ---- */

static void test_exact_invariance(void **state)
{
    (void)state;
    const int64_t d = 3, hid = 8;
    const int64_t sigma[SIX_N] = {4, 0, 5, 2, 1, 3};
    int64_t p[2 * SIX_M];
    for (int k = 0; k < 2 * SIX_M; k++) p[k] = sigma[six_pairs[k]];
    float *x = random_features(SIX_N, d, 11), xs[SIX_N * 3];
    for (int64_t i = 0; i < SIX_N; i++) memcpy(xs + sigma[i] * d, x + i * d, (size_t)d * sizeof(float));
    const char *specs[] = {"rplocal:k=3,samples=20,perms=6", "rplocal:k=4,samples=15,perms=24",
                           "rplocal:k=4,mode=neighbourhood,perms=24"};
    for (int sp = 0; sp < 3; sp++) {
        gp_graph *g = undirected(SIX_N, SIX_M, six_pairs), *h = undirected(SIX_N, SIX_M, p);
        gp_module *rl = pool_new(specs[sp], d, 5), *ro = pool_new(specs[sp], hid, 6);
        gin_net net;
        gin_net_init(&net, 2, gp_pool_node_dim(rl), hid, 12);
        int64_t rows;
        float *a = run_model(rl, &net, ro, g, x, d, false, &rows);
        assert_int_equal(rows, 1);
        float *b = run_model(rl, &net, ro, h, xs, d, false, &rows);
        /* neighbourhood mode with k = 4: no degree exceeds k - 1, so no truncation */
        assert_true(rel_diff(a, b, hid) < 1e-5);
        /* one sampled ordering per subset (training) is not invariant */
        float *c = run_model(rl, &net, ro, g, x, d, true, &rows);
        assert_true(rel_diff(a, c, hid) > 1e-4);
        /* batched behind another graph: unchanged (exact enumeration draws nothing) */
        {
            gp_graph *gs[2] = {undirected(2, 1, (int64_t[]){0, 1}), undirected(SIX_N, SIX_M, six_pairs)};
            gp_graph *bg = batch_of(2, gs);
            float *bx = random_features(SIX_N + 2, d, 13);
            memcpy(bx + 2 * d, x, (size_t)(SIX_N * d) * sizeof(float));
            float *bo = run_model(rl, &net, ro, bg, bx, d, false, &rows);
            assert_int_equal(rows, 2);
            assert_true(rel_diff(a, bo + hid, hid) < 1e-5);
            free(bo), free(bx);
            gp_graph_free(&bg);
        }
        free(a), free(b), free(c);
        gin_net_free(&net);
        gp_module_free(&rl), gp_module_free(&ro);
        gp_graph_free(&g), gp_graph_free(&h);
    }
    free(x);
}

static void test_sampled_convergence(void **state)
{
    (void)state;
    /* 12 nodes: a cycle with three chords; C(12, 3) = 220 subsets, 4! = 24 orderings for k = 4 */
    const int64_t n = 12, d = 2, hid = 6;
    int64_t pairs[2 * 15];
    for (int64_t i = 0; i < n; i++) pairs[2 * i] = i, pairs[2 * i + 1] = (i + 1) % n;
    const int64_t chords[6] = {0, 5, 2, 9, 4, 7};
    memcpy(pairs + 2 * n, chords, sizeof chords);
    gp_graph *g = undirected(n, 15, pairs);
    float *x = random_features(n, d, 21);
    gin_net net;
    gin_net_init(&net, 2, d + 3, hid, 22);
    gp_module *ex = pool_new("rplocal:k=3,samples=220", d, 1), *ro = pool_new("rplocal", hid, 1);
    int64_t rows;
    float *exact = run_model(ex, &net, ro, g, x, d, false, &rows);
    /* subsets: 4, 16, 64 samples (orderings exact), mean error over 6 seeds */
    const int64_t counts[3] = {4, 16, 64};
    double err[3];
    for (int i = 0; i < 3; i++) {
        err[i] = 0;
        for (uint64_t seed = 0; seed < 6; seed++) {
            char spec[64];
            snprintf(spec, sizeof spec, "rplocal:k=3,samples=%lld", (long long)counts[i]);
            gp_module *m = pool_new(spec, d, 100 + seed);
            float *o = run_model(m, &net, ro, g, x, d, false, &rows);
            err[i] += rel_diff(exact, o, hid) / 6;
            free(o);
            gp_module_free(&m);
        }
    }
    print_message("subset sampling: rel. error %.4f (4), %.4f (16), %.4f (64)\n", err[0], err[1], err[2]);
    assert_true(err[2] < err[0]);
    assert_true(err[1] < err[0]);
    assert_true(err[2] < 0.05);
    gin_net_free(&net);
    /* orderings (k = 4, all 495 subsets): 2, 8 sampled of 24 against all 24 */
    gin_net_init(&net, 2, d + 4, hid, 23);
    gp_module *ex4 = pool_new("rplocal:k=4,samples=495,perms=24", d, 1);
    float *exact4 = run_model(ex4, &net, ro, g, x, d, false, &rows);
    double e2 = 0, e8 = 0;
    for (uint64_t seed = 0; seed < 4; seed++) {
        gp_module *m2 = pool_new("rplocal:k=4,samples=495,perms=2", d, 200 + seed);
        gp_module *m8 = pool_new("rplocal:k=4,samples=495,perms=8", d, 300 + seed);
        float *o2 = run_model(m2, &net, ro, g, x, d, false, &rows);
        float *o8 = run_model(m8, &net, ro, g, x, d, false, &rows);
        e2 += rel_diff(exact4, o2, hid) / 4, e8 += rel_diff(exact4, o8, hid) / 4;
        free(o2), free(o8);
        gp_module_free(&m2), gp_module_free(&m8);
    }
    print_message("ordering sampling: rel. error %.5f (2), %.5f (8)\n", e2, e8);
    assert_true(e8 < e2);
    assert_true(e8 < 0.02);
    free(exact), free(exact4), free(x);
    gin_net_free(&net);
    gp_module_free(&ex), gp_module_free(&ex4), gp_module_free(&ro);
    gp_graph_free(&g);
}

/* ---- gradients and determinism ---- */

static void test_gradcheck(void **state)
{
    (void)state;
    const int64_t d = 2;
    gp_graph *gs[2] = {undirected(5, 4, (int64_t[]){0, 1, 1, 2, 2, 3, 3, 4}),
                       undirected(4, 4, (int64_t[]){0, 1, 1, 2, 2, 0, 2, 3})};
    gp_graph *g = batch_of(2, gs);
    gp_tensor *x = NULL;
    assert_int_equal(gp_param_new(&x, "x", 9, d), GP_OK);
    gp_rng rng;
    gp_rng_seed(&rng, 31);
    gc_fill(x, &rng, -1.0f, 1.0f);
    gin_net net;
    gin_net_init(&net, 2, d + 3, 5, 8);
    gp_module *ro = pool_new("rplocal", 5, 1), *ro_alone = pool_new("rplocal", d + 3, 1);
    const char *specs[] = {"rplocal:k=3,samples=10", "rplocal:k=3,samples=3",
                           "rplocal:k=3,mode=neighbourhood,samples=3,perms=4"};
    for (int sp = 0; sp < 3; sp++)
        for (int training = 0; training < 2; training++) {
            /* the operator alone (expand -> readout, linear in x), then through a GIN (h = 1e-3:
             * the ReLUs have kinks within 1e-2 of some inputs) */
            fwd_ctx alone = {g, NULL, ro_alone, NULL, specs[sp], training};
            assert_true(gc_check(expand_gin_readout, &alone, &x, 1) < 1e-3);
            pending_flush();
            fwd_ctx c = {g, NULL, ro, &net, specs[sp], training};
            double err = gc_check_eps(expand_gin_readout, &c, &x, 1, 1e-3, 1e-2);
            if (err >= 1e-2) print_error("%s training=%d: gradcheck error %g\n", specs[sp], training, err);
            assert_true(err < 1e-2);
            pending_flush();
        }
    gp_tensor_free(&x);
    gin_net_free(&net);
    gp_module_free(&ro), gp_module_free(&ro_alone);
    gp_graph_free(&g);
}

static void test_determinism(void **state)
{
    (void)state;
    const int64_t n = 12, d = 2;
    int64_t pairs[2 * 12];
    for (int64_t i = 0; i < n; i++) pairs[2 * i] = i, pairs[2 * i + 1] = (i + 1) % n;
    gp_graph *g = undirected(n, 12, pairs);
    float *x = random_features(n, d, 2);
    const char *specs[] = {"rplocal:k=3,samples=8", "rplocal:k=3,mode=neighbourhood,samples=5"};
    for (int sp = 0; sp < 2; sp++) {
        gp_module *a = pool_new(specs[sp], d, 42), *b = pool_new(specs[sp], d, 42);
        gp_module *o = pool_new(specs[sp], d, 43);
        gp_tape *t = NULL;
        assert_int_equal(gp_tape_new(&t), GP_OK);
        gp_pool_batch in = gp_pool_batch_of(g, gp_tape_constant(t, x, n, d)), ea, eb, eo;
        int differ_seed = 0, differ_step = 0;
        static float prev[4096];
        for (int step = 0; step < 6; step++) {
            gp_tape_set_training(t, step < 4);
            assert_int_equal(gp_pool_expand(a, t, &in, &ea), GP_OK);
            assert_int_equal(gp_pool_expand(b, t, &in, &eb), GP_OK);
            assert_int_equal(gp_pool_expand(o, t, &in, &eo), GP_OK);
            size_t bytes = (size_t)gp_tensor_size(ea.x) * sizeof(float);
            assert_true(bytes <= sizeof prev);
            assert_int_equal(gp_tensor_size(ea.x), gp_tensor_size(eb.x));
            assert_memory_equal(ea.x->data, eb.x->data, bytes);
            assert_memory_equal(ea.graph->adj.idx, eb.graph->adj.idx,
                                (size_t)gp_graph_edges(ea.graph) * sizeof(int64_t));
            differ_seed += gp_tensor_size(ea.x) != gp_tensor_size(eo.x) ||
                           memcmp(ea.x->data, eo.x->data, bytes) != 0;
            if (step > 0 && step < 4) differ_step += memcmp(prev, ea.x->data, bytes) != 0;
            if (step == 5) assert_memory_equal(prev, ea.x->data, bytes); /* inference: fixed */
            memcpy(prev, ea.x->data, bytes);
            gp_pool_batch_release(&ea), gp_pool_batch_release(&eb), gp_pool_batch_release(&eo);
        }
        assert_true(differ_seed > 0);
        assert_true(differ_step > 0);
        gp_tape_free(&t);
        gp_module_free(&a), gp_module_free(&b), gp_module_free(&o);
    }
    free(x);
    gp_graph_free(&g);
}

/* ---- errors ---- */

static void test_errors(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 1);
    const char *bad[] = {"rplocal:k=0",         "rplocal:k=9",       "rplocal:k=three",
                         "rplocal:mode=ring",   "rplocal:samples=0", "rplocal:width=0",
                         "rplocal:perms=0",     "rplocal:perms=-3",  "rplocal:kk=3",
                         "rplocal:k=3,k=4",     "rplocal:k"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gp_module *m = NULL;
        assert_int_equal(gp_pool_new(&m, bad[i], 4, &rng), GP_E_INVALID);
        assert_null(m);
        const char *msg = gp_last_error();
        assert_non_null(msg);
        if (i < 9) assert_non_null(strstr(msg, "rplocal"));
    }
    assert_non_null(strstr((gp_pool_new(&(gp_module *){NULL}, "rplocal:mode=ring", 4, &rng), gp_last_error()),
                           "expected subset or neighbourhood"));
    assert_non_null(gp_pool_class_find("rplocal"));
    /* wrong feature width: the tape fails, nothing is returned */
    gp_module *m = pool_new("rplocal:k=2", 3, 1);
    gp_graph *g = undirected(3, 2, (int64_t[]){0, 1, 1, 2});
    gp_tape *t = NULL;
    assert_int_equal(gp_tape_new(&t), GP_OK);
    gp_pool_batch in = gp_pool_batch_of(g, gp_tape_tensor(t, 3, 2)), out;
    assert_int_not_equal(gp_pool_expand(m, t, &in, &out), GP_OK);
    assert_null(out.graph);
    assert_int_equal(gp_tape_status(t), GP_E_SHAPE);
    gp_tape_reset(t);
    in = gp_pool_batch_of(g, gp_tape_tensor(t, 2, 3)); /* rows != nodes */
    assert_int_not_equal(gp_pool_expand(m, t, &in, &out), GP_OK);
    gp_tape_free(&t);
    gp_module_free(&m);
    gp_graph_free(&g);
}

/* ---- the app (argv[1]: gp-graphclass) ---- */

static int app_test(char *app)
{
    static char out[1 << 20];
    /* mode=neighbourhood: on MUTAG (n ~ 18) most random 3-subsets are disconnected triples, and
     * subset mode lands at 68-84 % on this fold depending on the seed; the 3-node neighbourhoods
     * keep the local structure (79-84 % on seeds 1-4 at 40 epochs; majority 66.5 %). ~2 s. */
    char *args[] = {app, "--dataset", "MUTAG", "--pool", "rplocal:k=3,mode=neighbourhood", "--layer",
                    "gin", "--hidden", "32", "--blocks", "3", "--mlp", "32", "--dropout", "0",
                    "--folds", "5", "--max-folds", "1", "--epochs", "40", "--patience", "0", "--lr",
                    "0.005", "--batch-size", "16", "--seed", "1", "--quiet", "--json", NULL};
    int rc = app_run(args, false, out, sizeof out);
    if (rc != 0) {
        fprintf(stderr, "gp-graphclass exited with %d\n%s\n", rc, out);
        return 1;
    }
    double mean = app_json_number(out, "\"mean\""), majority = app_json_number(out, "\"majority_rate\"");
    printf("rplocal MUTAG (1 of 5 folds): accuracy %.4f, majority rate %.4f\n", mean, majority);
    if (!(majority > 0.5 && mean > majority)) {
        fprintf(stderr, "accuracy does not beat the majority class\n%s\n", out);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1) return app_test(argv[1]);
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subset_expand_values),
        cmocka_unit_test(test_neighbourhood_expand_values),
        cmocka_unit_test(test_readout_values),
        cmocka_unit_test(test_exact_invariance),
        cmocka_unit_test(test_sampled_convergence),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_errors),
    };
    int rc = cmocka_run_group_tests_name("rp_local", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
