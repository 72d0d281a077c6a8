/* WalkPool link prediction (graphpool/linkpred.h): subgraph extraction against a brute-force
 * BFS, the target link present and test links absent, DRNL labels, the compact sample storage
 * against khop + induced subgraph + gp_graph_batch built here (every id and label width),
 * training on a small graph, determinism, checkpoints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <graphpool/generators.h>
#include <graphpool/linkpred.h>
#include <graphpool/splits.h>

#include <math.h>
#include <stdlib.h>

#include <graphpool/graphpool.h>

static bool dense_has(const gp_graph *g, int64_t u, int64_t v)
{
    for (int64_t k = g->adj.ptr[v]; k < g->adj.ptr[v + 1]; k++)
        if (g->adj.idx[k] == u) return true;
    return false;
}

/* Brute force: distances from {a, b} by repeated relaxation over all edges. */
static void brute_dist(int64_t *dist, const gp_graph *g, int64_t a, int64_t b)
{
    int64_t n = gp_graph_nodes(g);
    for (int64_t v = 0; v < n; v++) dist[v] = -1;
    dist[a] = dist[b] = 0;
    for (bool changed = true; changed;) {
        changed = false;
        for (int64_t v = 0; v < n; v++)
            for (int64_t k = g->adj.ptr[v]; k < g->adj.ptr[v + 1]; k++) {
                int64_t u = g->adj.idx[k];
                if (dist[u] >= 0 && (dist[v] < 0 || dist[v] > dist[u] + 1)) {
                    dist[v] = dist[u] + 1;
                    changed = true;
                }
            }
    }
}

static void test_extraction_matches_bfs(void **state)
{
    (void)state;
    gp_graph *g = NULL;
    assert_int_equal(gp_gen_erdos_renyi(&g, 80, 0.05, 3), GP_OK);
    gp_linkpred_options opt;
    gp_linkpred_options_default(&opt);
    opt.drnl = true;
    int64_t pairs[2 * 20];
    gp_rng rng;
    gp_rng_seed(&rng, 9);
    for (int i = 0; i < 20; i++) {
        pairs[2 * i] = (int64_t)gp_rng_below(&rng, 80);
        do pairs[2 * i + 1] = (int64_t)gp_rng_below(&rng, 80);
        while (pairs[2 * i + 1] == pairs[2 * i]);
    }
    gp_linkpred_samples *s = NULL;
    assert_int_equal(gp_linkpred_extract(&s, g, 20, pairs, &opt), GP_OK);
    assert_int_equal(gp_linkpred_samples_count(s), 20);
    int64_t dist[80];
    for (int i = 0; i < 20; i++) {
        gp_graph *sg;
        int64_t *nodes, *z;
        assert_int_equal(gp_linkpred_sample(&sg, &nodes, &z, s, i), GP_OK);
        int64_t a = pairs[2 * i], b = pairs[2 * i + 1], n = gp_graph_nodes(sg);
        brute_dist(dist, g, a, b);
        int64_t expect = 0;
        for (int64_t v = 0; v < 80; v++) expect += dist[v] >= 0 && dist[v] <= 2;
        assert_int_equal(n, expect);
        assert_int_equal(nodes[0], a);
        assert_int_equal(nodes[1], b);
        for (int64_t v = 0; v < n; v++) assert_true(dist[nodes[v]] >= 0 && dist[nodes[v]] <= 2);
        /* edges: exactly the induced edges plus the target link, both directions */
        for (int64_t x = 0; x < n; x++)
            for (int64_t y = 0; y < n; y++) {
                bool target = (x == 0 && y == 1) || (x == 1 && y == 0);
                bool want = target || (x != y && dense_has(g, nodes[x], nodes[y]));
                assert_int_equal(dense_has(sg, x, y), want);
            }
        assert_true(sg->symmetric);
        assert_int_equal(z[0], 1);
        assert_int_equal(z[1], 1);
        for (int64_t v = 2; v < n; v++) assert_true(z[v] >= 0 && z[v] < opt.drnl_max_label);
        gp_graph_free(&sg);
        gp_free(nodes);
        gp_free(z);
    }
    gp_linkpred_samples_free(&s);
    /* bad pairs */
    int64_t bad[2] = {3, 3};
    assert_int_equal(gp_linkpred_extract(&s, g, 1, bad, &opt), GP_E_INVALID);
    assert_null(s);
    int64_t far[2] = {3, 80};
    assert_int_equal(gp_linkpred_extract(&s, g, 1, far, &opt), GP_E_RANGE);
    assert_non_null(strstr(gp_last_error(), "pair 0"));
    gp_graph_free(&g);
}

/* DRNL on a path 0 - 2 - 3 - 1 with target (0, 1): d_a(2)=1, d_b(2)=2 -> z = 1 + 1 + 1*(1+1-1) = 3. */
static void test_drnl_path(void **state)
{
    (void)state;
    int64_t src[3] = {0, 2, 3}, dst[3] = {2, 3, 1};
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_edges(&g, 5, 3, src, dst, NULL, GP_EDGES_SYMMETRISE), GP_OK);
    gp_linkpred_options opt;
    gp_linkpred_options_default(&opt);
    opt.drnl = true;
    opt.hops = 3;
    int64_t pair[2] = {0, 1};
    gp_linkpred_samples *s = NULL;
    assert_int_equal(gp_linkpred_extract(&s, g, 1, pair, &opt), GP_OK);
    int64_t *nodes, *z;
    gp_graph *sg;
    assert_int_equal(gp_linkpred_sample(&sg, &nodes, &z, s, 0), GP_OK);
    assert_int_equal(gp_graph_nodes(sg), 4); /* node 4 is isolated */
    for (int v = 0; v < 4; v++) {
        int64_t expect = nodes[v] < 2 ? 1 : 3; /* 2: (1, 2), 3: (2, 1) */
        assert_int_equal(z[v], expect);
    }
    gp_graph_free(&sg);
    gp_free(nodes);
    gp_free(z);
    gp_linkpred_samples_free(&s);
    gp_graph_free(&g);
}

/* ---- compact storage against the straightforward representation ---- */

/* Reference G+ of pair i, built as the header describes it: gp_graph_khop from {a, b} (the per-hop
 * sample drawn from the stream the library seeds with seed * 0x9E3779B97F4A7C15 + i + 1), the
 * induced subgraph, the target both ways, no self-loops; sorted rows (gp_graph_from_edges). */
static gp_graph *reference_plus(int64_t **nodes_out, const gp_graph *g, int64_t a, int64_t b,
                                const gp_linkpred_options *opt, int64_t i)
{
    gp_rng rng;
    gp_rng_seed(&rng, opt->seed * UINT64_C(0x9E3779B97F4A7C15) + (uint64_t)i + 1);
    int64_t seeds[2] = {a, b}, *nodes = NULL, count = 0;
    assert_int_equal(gp_graph_khop(&nodes, &count, NULL, g, 2, seeds, opt->hops, opt->max_nodes_per_hop,
                                   opt->max_nodes_per_hop > 0 ? &rng : NULL),
                     GP_OK);
    gp_graph *sub = NULL, *plus = NULL;
    assert_int_equal(gp_graph_induced(&sub, g, count, nodes), GP_OK);
    int64_t m = gp_graph_edges(sub) + 2;
    int64_t *src = malloc((size_t)m * sizeof(int64_t)), *dst = malloc((size_t)m * sizeof(int64_t)), e = 0;
    for (int64_t v = 0; v < count; v++)
        for (int64_t k = sub->adj.ptr[v]; k < sub->adj.ptr[v + 1]; k++) {
            src[e] = sub->adj.idx[k];
            dst[e++] = v;
        }
    src[e] = 0;
    dst[e++] = 1;
    src[e] = 1;
    dst[e++] = 0;
    assert_int_equal(gp_graph_from_edges(&plus, count, e, src, dst, NULL,
                                         GP_EDGES_SYMMETRISE | GP_EDGES_DROP_DUPLICATES | GP_EDGES_DROP_SELF_LOOPS),
                     GP_OK);
    free(src);
    free(dst);
    gp_graph_free(&sub);
    *nodes_out = nodes;
    return plus;
}

/* Distances from src over g without entering `blocked` (plain BFS), -1 = unreachable. */
static void bfs_blocked(int64_t *dist, const gp_graph *g, int64_t src, int64_t blocked)
{
    int64_t n = gp_graph_nodes(g), *queue = malloc((size_t)n * sizeof(int64_t)), head = 0, tail = 0;
    for (int64_t v = 0; v < n; v++) dist[v] = -1;
    dist[src] = 0;
    queue[tail++] = src;
    while (head < tail) {
        int64_t v = queue[head++];
        for (int64_t k = g->adj.ptr[v]; k < g->adj.ptr[v + 1]; k++) {
            int64_t u = g->adj.idx[k];
            if (u != blocked && dist[u] < 0) {
                dist[u] = dist[v] + 1;
                queue[tail++] = u;
            }
        }
    }
    free(queue);
}

/* SEAL's DRNL: z = 1 + min(da, db) + (d/2)(d/2 + d%2 - 1), d = da + db; 1 at the targets, 0 when
 * unreachable, clamped to max_label - 1. */
static void reference_drnl(int64_t *z, const gp_graph *plus, int64_t max_label)
{
    int64_t n = gp_graph_nodes(plus);
    int64_t *da = malloc((size_t)n * sizeof(int64_t)), *db = malloc((size_t)n * sizeof(int64_t));
    bfs_blocked(da, plus, 0, 1);
    bfs_blocked(db, plus, 1, 0);
    for (int64_t v = 0; v < n; v++) {
        int64_t lab = 0;
        if (v < 2)
            lab = 1;
        else if (da[v] >= 0 && db[v] >= 0) {
            int64_t d = da[v] + db[v];
            lab = 1 + (da[v] < db[v] ? da[v] : db[v]) + (d / 2) * (d / 2 + d % 2 - 1);
        }
        z[v] = lab < max_label ? lab : max_label - 1;
    }
    free(da);
    free(db);
}

/* gp_linkpred_batch of `which` equals gp_graph_batch of the reference G+ graphs (same CSR arrays,
 * graph offsets, flags), with the reference node ids and DRNL labels; single samples too. */
static void check_against_reference(const gp_graph *g, int64_t count, const int64_t *pairs,
                                    const gp_linkpred_options *opt, int64_t nwhich, const int64_t *which,
                                    int64_t min_nodes)
{
    gp_linkpred_samples *s = NULL;
    assert_int_equal(gp_linkpred_extract(&s, g, count, pairs, opt), GP_OK);
    assert_int_equal(gp_linkpred_samples_count(s), count);
    gp_graph **refs = calloc((size_t)nwhich, sizeof(gp_graph *));
    int64_t total_n = 0, max_n = 0;
    int64_t **ref_nodes = calloc((size_t)nwhich, sizeof(int64_t *)), **ref_z = calloc((size_t)nwhich, sizeof(int64_t *));
    for (int64_t j = 0; j < nwhich; j++) {
        int64_t i = which[j];
        refs[j] = reference_plus(&ref_nodes[j], g, pairs[2 * i], pairs[2 * i + 1], opt, i);
        int64_t n = gp_graph_nodes(refs[j]);
        ref_z[j] = malloc((size_t)n * sizeof(int64_t));
        reference_drnl(ref_z[j], refs[j], opt->drnl_max_label);
        total_n += n;
        if (n > max_n) max_n = n;
        int64_t sn = -1, se = -1;
        assert_int_equal(gp_linkpred_sample_size(&sn, &se, s, i), GP_OK);
        assert_int_equal(sn, n);
        assert_int_equal(se, gp_graph_edges(refs[j]));
        /* the sample alone */
        gp_graph *sg = NULL;
        int64_t *nodes = NULL, *z = NULL;
        assert_int_equal(gp_linkpred_sample(&sg, &nodes, &z, s, i), GP_OK);
        assert_int_equal(gp_graph_nodes(sg), n);
        assert_int_equal(gp_graph_edges(sg), gp_graph_edges(refs[j]));
        assert_memory_equal(sg->adj.ptr, refs[j]->adj.ptr, (size_t)(n + 1) * sizeof(int64_t));
        assert_memory_equal(sg->adj.idx, refs[j]->adj.idx, (size_t)gp_graph_edges(sg) * sizeof(int64_t));
        assert_true(dense_has(sg, 0, 1) && dense_has(sg, 1, 0));
        assert_memory_equal(nodes, ref_nodes[j], (size_t)n * sizeof(int64_t));
        if (opt->drnl)
            assert_memory_equal(z, ref_z[j], (size_t)n * sizeof(int64_t));
        else
            assert_null(z);
        gp_graph_free(&sg);
        gp_free(nodes);
        gp_free(z);
    }
    assert_true(max_n >= min_nodes); /* the id width under test is used */
    gp_graph *want = NULL, *got = NULL;
    assert_int_equal(gp_graph_batch(&want, nwhich, (const gp_graph *const *)refs), GP_OK);
    int64_t *nodes = NULL, *z = NULL;
    assert_int_equal(gp_linkpred_batch(&got, &nodes, &z, s, nwhich, which), GP_OK);
    int64_t n = gp_graph_nodes(want);
    assert_int_equal(gp_graph_nodes(got), n);
    assert_int_equal(n, total_n);
    assert_int_equal(gp_graph_edges(got), gp_graph_edges(want));
    assert_memory_equal(got->adj.ptr, want->adj.ptr, (size_t)(n + 1) * sizeof(int64_t));
    assert_memory_equal(got->adj.idx, want->adj.idx, (size_t)gp_graph_edges(want) * sizeof(int64_t));
    assert_null(got->adj.val);
    assert_null(want->adj.val);
    assert_true(got->symmetric && want->symmetric);
    assert_int_equal(got->num_graphs, nwhich);
    assert_int_equal(want->num_graphs, nwhich);
    assert_memory_equal(got->graph_ptr, want->graph_ptr, (size_t)(nwhich + 1) * sizeof(int64_t));
    assert_memory_equal(got->graph_of, want->graph_of, (size_t)n * sizeof(int64_t));
    for (int64_t j = 0; j < nwhich; j++) {
        int64_t o = want->graph_ptr[j], nj = want->graph_ptr[j + 1] - o;
        assert_memory_equal(nodes + o, ref_nodes[j], (size_t)nj * sizeof(int64_t));
        if (opt->drnl) assert_memory_equal(z + o, ref_z[j], (size_t)nj * sizeof(int64_t));
    }
    if (!opt->drnl) assert_null(z);
    /* the storage is smaller than the int64 CSR (row pointers, columns, node ids) it replaces */
    size_t csr_bytes = 0;
    for (int64_t i = 0; i < count; i++) {
        int64_t sn, se;
        assert_int_equal(gp_linkpred_sample_size(&sn, &se, s, i), GP_OK);
        csr_bytes += (size_t)(se + 2 * sn + 1) * sizeof(int64_t);
    }
    assert_true(gp_linkpred_samples_bytes(s) > 0 && gp_linkpred_samples_bytes(s) < csr_bytes / 2);
    gp_graph_free(&want);
    gp_graph_free(&got);
    gp_free(nodes);
    gp_free(z);
    for (int64_t j = 0; j < nwhich; j++) {
        gp_graph_free(&refs[j]);
        gp_free(ref_nodes[j]);
        free(ref_z[j]);
    }
    free(refs);
    free(ref_nodes);
    free(ref_z);
    gp_linkpred_samples_free(&s);
}

static void random_pairs(int64_t *pairs, int64_t count, int64_t n, uint64_t seed)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    for (int64_t i = 0; i < count; i++) {
        pairs[2 * i] = (int64_t)gp_rng_below(&rng, (uint64_t)n);
        do pairs[2 * i + 1] = (int64_t)gp_rng_below(&rng, (uint64_t)n);
        while (pairs[2 * i + 1] == pairs[2 * i]);
    }
}

static void test_compact_storage_matches_reference(void **state)
{
    (void)state;
    gp_linkpred_options opt;
    gp_linkpred_options_default(&opt);
    opt.drnl = true;
    /* small subgraphs (1-byte ids), with and without the per-hop cap; 5000 pairs = two blocks;
     * the batch in a shuffled order with a repeat, samples from both blocks */
    gp_graph *g = NULL;
    assert_int_equal(gp_gen_watts_strogatz(&g, 300, 3, 0.1, 5), GP_OK);
    int64_t count = 5000, *pairs = malloc((size_t)(2 * count) * sizeof(int64_t));
    random_pairs(pairs, count, 300, 11);
    int64_t which[] = {4999, 0, 1, 4096, 4095, 17, 0, 2500, 3, 4200};
    int64_t nw = (int64_t)(sizeof which / sizeof which[0]);
    check_against_reference(g, count, pairs, &opt, nw, which, 2);
    opt.max_nodes_per_hop = 4;
    opt.drnl = false;
    check_against_reference(g, count, pairs, &opt, nw, which, 2);
    gp_graph_free(&g);
    /* subgraphs of more than 256 nodes (2-byte ids), DRNL labels above 255 (2-byte labels):
     * a dense random graph, and a path 0 - 2 - 3 - ... - 40 - 1 with 20 hops */
    opt.max_nodes_per_hop = 0;
    opt.drnl = true;
    opt.drnl_max_label = 1000;
    assert_int_equal(gp_gen_erdos_renyi(&g, 500, 0.04, 7), GP_OK);
    random_pairs(pairs, 20, 500, 13);
    int64_t which2[] = {3, 0, 19, 7};
    check_against_reference(g, 20, pairs, &opt, 4, which2, 257);
    gp_graph_free(&g);
    int64_t src[41], dst[41];
    for (int64_t v = 0; v < 40; v++) {
        src[v] = v == 0 ? 0 : v + 1;
        dst[v] = v == 39 ? 1 : v + 2;
    }
    assert_int_equal(gp_graph_from_edges(&g, 41, 40, src, dst, NULL, GP_EDGES_SYMMETRISE), GP_OK);
    opt.hops = 20;
    int64_t path_pair[2] = {0, 1}, one = 0;
    check_against_reference(g, 1, path_pair, &opt, 1, &one, 41);
    gp_linkpred_samples *s = NULL;
    int64_t *z = NULL;
    assert_int_equal(gp_linkpred_extract(&s, g, 1, path_pair, &opt), GP_OK);
    assert_int_equal(gp_linkpred_sample(NULL, NULL, &z, s, 0), GP_OK);
    int64_t zmax = 0;
    for (int v = 0; v < 41; v++) zmax = z[v] > zmax ? z[v] : zmax;
    assert_int_equal(zmax, 401); /* the middle node: d = 40, z = 1 + 20 + 20 * 19 */
    gp_free(z);
    gp_linkpred_samples_free(&s);
    gp_graph_free(&g);
    /* more than 65 536 nodes (4-byte ids): a star, target (centre, leaf) */
    int64_t leaves = 70000, *ss = malloc((size_t)leaves * sizeof(int64_t)), *dd = malloc((size_t)leaves * sizeof(int64_t));
    for (int64_t v = 0; v < leaves; v++) {
        ss[v] = 0;
        dd[v] = v + 1;
    }
    assert_int_equal(gp_graph_from_edges(&g, leaves + 1, leaves, ss, dd, NULL, GP_EDGES_SYMMETRISE), GP_OK);
    opt.hops = 1;
    opt.drnl_max_label = 64;
    int64_t star_pairs[4] = {0, 5, 9, 0};
    int64_t which3[] = {1, 0};
    check_against_reference(g, 2, star_pairs, &opt, 2, which3, 65537);
    gp_graph_free(&g);
    free(ss);
    free(dd);
    free(pairs);
}

/* Extraction gives the same samples with 1 and 2 threads. */
static void test_extraction_same_for_threads(void **state)
{
    (void)state;
    gp_graph *g = NULL;
    assert_int_equal(gp_gen_barabasi_albert(&g, 400, 3, 21), GP_OK);
    gp_linkpred_options opt;
    gp_linkpred_options_default(&opt);
    opt.drnl = true;
    opt.max_nodes_per_hop = 30;
    int64_t count = 600, *pairs = malloc((size_t)(2 * count) * sizeof(int64_t)), *all = malloc((size_t)count * sizeof(int64_t));
    random_pairs(pairs, count, 400, 3);
    for (int64_t i = 0; i < count; i++) all[i] = count - 1 - i;
    gp_graph *bg[2] = {NULL, NULL};
    int64_t *nodes[2] = {NULL, NULL}, *z[2] = {NULL, NULL};
    for (int t = 0; t < 2; t++) {
        gp_set_threads(t + 1);
        gp_linkpred_samples *s = NULL;
        assert_int_equal(gp_linkpred_extract(&s, g, count, pairs, &opt), GP_OK);
        assert_int_equal(gp_linkpred_batch(&bg[t], &nodes[t], &z[t], s, count, all), GP_OK);
        gp_linkpred_samples_free(&s);
    }
    gp_set_threads(1);
    int64_t n = gp_graph_nodes(bg[0]);
    assert_int_equal(gp_graph_nodes(bg[1]), n);
    assert_int_equal(gp_graph_edges(bg[1]), gp_graph_edges(bg[0]));
    assert_memory_equal(bg[0]->adj.ptr, bg[1]->adj.ptr, (size_t)(n + 1) * sizeof(int64_t));
    assert_memory_equal(bg[0]->adj.idx, bg[1]->adj.idx, (size_t)gp_graph_edges(bg[0]) * sizeof(int64_t));
    assert_memory_equal(nodes[0], nodes[1], (size_t)n * sizeof(int64_t));
    assert_memory_equal(z[0], z[1], (size_t)n * sizeof(int64_t));
    /* argument errors */
    gp_linkpred_samples *s = NULL;
    assert_int_equal(gp_linkpred_extract(&s, g, 2, pairs, &opt), GP_OK);
    int64_t bad = 2;
    gp_graph *out = NULL;
    assert_int_equal(gp_linkpred_batch(&out, NULL, NULL, s, 1, &bad), GP_E_RANGE);
    assert_null(out);
    assert_int_equal(gp_linkpred_batch(&out, NULL, NULL, s, 0, all), GP_E_INVALID);
    assert_int_equal(gp_linkpred_sample(&out, NULL, NULL, s, -1), GP_E_RANGE);
    assert_int_equal(gp_linkpred_sample_size(NULL, NULL, s, 2), GP_E_RANGE);
    gp_linkpred_samples_free(&s);
    for (int t = 0; t < 2; t++) {
        gp_graph_free(&bg[t]);
        gp_free(nodes[t]);
        gp_free(z[t]);
    }
    free(pairs);
    free(all);
    gp_graph_free(&g);
}

static void small_options(gp_linkpred_options *opt)
{
    gp_linkpred_options_default(opt);
    opt->epochs = 6;
    opt->lr = 1e-3f;
    opt->hidden = 16;
    opt->walk_len = 4;
}

typedef struct fixture {
    gp_graph *g, *obs;
    gp_link_split *split;
} fixture;

static void make_fixture(fixture *f)
{
    assert_int_equal(gp_gen_watts_strogatz(&f->g, 150, 3, 0.1, 2), GP_OK);
    assert_int_equal(gp_link_split_random(&f->split, f->g, 0.05, 0.1, GP_NEG_AVOID_ALL_EDGES, 4), GP_OK);
    assert_int_equal(gp_link_split_observed(&f->obs, f->split, true), GP_OK);
}

static void free_fixture(fixture *f)
{
    gp_graph_free(&f->g);
    gp_graph_free(&f->obs);
    gp_link_split_free(&f->split);
}

/* No training subgraph's observed edges contain a test positive (only the target link is added). */
static void test_no_test_link_in_training_subgraphs(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f);
    gp_linkpred_options opt;
    small_options(&opt);
    int64_t ntrain = f.split->count[GP_LINK_TRAIN_POS] + f.split->count[GP_LINK_TRAIN_NEG];
    int64_t *pairs = malloc((size_t)(2 * ntrain) * sizeof(int64_t));
    memcpy(pairs, f.split->pairs[GP_LINK_TRAIN_POS], (size_t)(2 * f.split->count[GP_LINK_TRAIN_POS]) * sizeof(int64_t));
    memcpy(pairs + 2 * f.split->count[GP_LINK_TRAIN_POS], f.split->pairs[GP_LINK_TRAIN_NEG],
           (size_t)(2 * f.split->count[GP_LINK_TRAIN_NEG]) * sizeof(int64_t));
    gp_linkpred_samples *s = NULL;
    assert_int_equal(gp_linkpred_extract(&s, f.obs, ntrain, pairs, &opt), GP_OK);
    const int64_t *tp = f.split->pairs[GP_LINK_TEST_POS];
    int64_t checked = 0;
    for (int64_t i = 0; i < ntrain; i++) {
        gp_graph *sg;
        int64_t *nodes;
        assert_int_equal(gp_linkpred_sample(&sg, &nodes, NULL, s, i), GP_OK);
        assert_true(dense_has(sg, 0, 1) && dense_has(sg, 1, 0)); /* target present */
        for (int64_t v = 0; v < gp_graph_nodes(sg); v++)
            for (int64_t k = sg->adj.ptr[v]; k < sg->adj.ptr[v + 1]; k++) {
                int64_t x = nodes[sg->adj.idx[k]], y = nodes[v];
                for (int64_t j = 0; j < f.split->count[GP_LINK_TEST_POS]; j++) {
                    bool same = (tp[2 * j] == x && tp[2 * j + 1] == y) || (tp[2 * j] == y && tp[2 * j + 1] == x);
                    assert_false(same);
                }
                checked++;
            }
        gp_graph_free(&sg);
        gp_free(nodes);
    }
    assert_true(checked > 1000);
    free(pairs);
    gp_linkpred_samples_free(&s);
    free_fixture(&f);
}

static void test_training_learns_and_checkpoint(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f);
    gp_linkpred_options opt;
    small_options(&opt);
    gp_linkpred_model *m = NULL;
    assert_int_equal(gp_linkpred_model_new(&m, &opt, 0), GP_OK);
    gp_linkpred_result r;
    assert_int_equal(gp_linkpred_fit(&r, m, f.obs, f.split, NULL, NULL, NULL), GP_OK);
    assert_true(r.best_epoch >= 1 && r.best_epoch <= opt.epochs);
    assert_true(r.test_auc > 0.75); /* random is 0.5 */
    assert_true(r.mean_nodes > 2);
    /* scores: in (0, 1); the model is left at the best epoch, so test AUC is reproduced */
    int64_t np = f.split->count[GP_LINK_TEST_POS], nn = f.split->count[GP_LINK_TEST_NEG];
    int64_t *pairs = malloc((size_t)(2 * (np + nn)) * sizeof(int64_t));
    memcpy(pairs, f.split->pairs[GP_LINK_TEST_POS], (size_t)(2 * np) * sizeof(int64_t));
    memcpy(pairs + 2 * np, f.split->pairs[GP_LINK_TEST_NEG], (size_t)(2 * nn) * sizeof(int64_t));
    double *sc = malloc((size_t)(np + nn) * sizeof(double)), *sc2 = malloc((size_t)(np + nn) * sizeof(double));
    assert_int_equal(gp_linkpred_predict(sc, m, f.obs, np + nn, pairs, NULL), GP_OK);
    for (int64_t i = 0; i < np + nn; i++) assert_true(sc[i] > 0.0 && sc[i] < 1.0);
    /* save -> load: identical scores, options and checksum restored */
    char path[] = "/tmp/gp_linkpred_test_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const char *sha = "00ff0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab";
    assert_int_equal(gp_linkpred_model_save(m, path, sha), GP_OK);
    gp_linkpred_model *m2 = NULL;
    char sha2[65];
    assert_int_equal(gp_linkpred_model_load(&m2, sha2, path), GP_OK);
    assert_string_equal(sha2, sha);
    assert_int_equal(gp_linkpred_model_options(m2)->hidden, 16);
    assert_int_equal(gp_linkpred_model_options(m2)->walk_len, 4);
    assert_int_equal(gp_linkpred_predict(sc2, m2, f.obs, np + nn, pairs, NULL), GP_OK);
    assert_memory_equal(sc, sc2, (size_t)(np + nn) * sizeof(double));
    /* a corrupt file is rejected and nothing is returned */
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, 200, SEEK_SET);
    fputc(0x5a, fp);
    fclose(fp);
    gp_linkpred_model *m3 = NULL;
    assert_int_not_equal(gp_linkpred_model_load(&m3, NULL, path), GP_OK);
    assert_null(m3);
    assert_int_equal(gp_linkpred_model_load(&m3, NULL, "/nonexistent/model.ckpt"), GP_E_IO);
    remove(path);
    free(pairs);
    free(sc);
    free(sc2);
    gp_linkpred_model_free(&m);
    gp_linkpred_model_free(&m2);
    free_fixture(&f);
}

/* Same seed and thread count: identical results. With 2+ threads each batch runs as two halves
 * (the second with its own dropout stream), so 1 and 2 threads differ, but only slightly. */
static void test_deterministic(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f);
    gp_linkpred_options opt;
    small_options(&opt);
    opt.epochs = 2;
    opt.drnl = true;
    gp_linkpred_result r[4];
    for (int run = 0; run < 4; run++) {
        opt.threads = run >= 2 ? 2 : 1;
        gp_linkpred_model *m = NULL;
        assert_int_equal(gp_linkpred_model_new(&m, &opt, 0), GP_OK);
        assert_int_equal(gp_linkpred_fit(&r[run], m, f.obs, f.split, NULL, NULL, NULL), GP_OK);
        gp_linkpred_model_free(&m);
    }
    gp_set_threads(1);
    for (int k = 0; k < 4; k += 2) {
        assert_true(r[k].test_auc == r[k + 1].test_auc && r[k].val_auc == r[k + 1].val_auc);
        assert_true(r[k].test_ap == r[k + 1].test_ap);
        assert_true(r[k].best_epoch == r[k + 1].best_epoch);
    }
    print_message("test AUC 1 thread %.4f, 2 threads %.4f\n", r[0].test_auc, r[2].test_auc);
    assert_true(fabs(r[0].test_auc - r[2].test_auc) < 0.05);
    assert_true(r[2].test_auc > 0.7);
    free_fixture(&f);
}

/* Epochs reported through the progress callback, in order. */
typedef struct epoch_log {
    int count, epochs[16];
} epoch_log;

static void log_epoch(const gp_linkpred_epoch *e, void *user)
{
    epoch_log *l = user;
    if (l->count < 16) l->epochs[l->count++] = e->epoch;
}

static void assert_same_weights(gp_linkpred_model *a, gp_linkpred_model *b)
{
    gp_param_list pa, pb;
    assert_int_equal(gp_module_params(&pa, gp_linkpred_model_module(a), true), GP_OK);
    assert_int_equal(gp_module_params(&pb, gp_linkpred_model_module(b), true), GP_OK);
    assert_int_equal(pa.count, pb.count);
    for (int i = 0; i < pa.count; i++) {
        assert_string_equal(pa.names[i], pb.names[i]);
        assert_memory_equal(pa.tensors[i]->data, pb.tensors[i]->data,
                            (size_t)gp_tensor_size(pa.tensors[i]) * sizeof(float));
    }
    gp_param_list_free(&pa);
    gp_param_list_free(&pb);
}

static void assert_same_result(const gp_linkpred_result *a, const gp_linkpred_result *b)
{
    assert_int_equal(a->best_epoch, b->best_epoch);
    assert_true(a->val_auc == b->val_auc && a->val_ap == b->val_ap);
    assert_true(a->test_auc == b->test_auc && a->test_ap == b->test_ap);
}

static size_t file_bytes(const char *path, unsigned char **out)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc((size_t)n + 1);
    assert_int_equal(fread(*out, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return (size_t)n;
}

/* A run stopped after 2 of 4 epochs and continued from its state file ends exactly as the
 * uninterrupted run (selected epoch, AUC/AP, every weight), with 1 and 2 threads (the second
 * half's dropout stream); a finished state reproduces the result without training; a state of
 * another run (other seed, other thread count) or a damaged one is refused and left as it was. */
static void test_resume(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f);
    char path[] = "/tmp/gp_linkpred_state_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    for (int threads = 1; threads <= 2; threads++) {
        gp_linkpred_options opt;
        small_options(&opt);
        opt.epochs = 4;
        opt.drnl = true;
        opt.threads = threads;
        gp_linkpred_model *whole = NULL, *first = NULL, *rest = NULL, *again = NULL;
        gp_linkpred_result rw, r1, r2, r3;
        assert_int_equal(gp_linkpred_model_new(&whole, &opt, 0), GP_OK);
        assert_int_equal(gp_linkpred_fit(&rw, whole, f.obs, f.split, NULL, NULL, NULL), GP_OK);
        assert_int_equal(rw.resumed_epochs, 0);
        remove(path);
        opt.epochs = 2; /* the stopped run */
        assert_int_equal(gp_linkpred_model_new(&first, &opt, 0), GP_OK);
        epoch_log l1 = {0}, l2 = {0}, l3 = {0};
        assert_int_equal(gp_linkpred_fit_resumable(&r1, first, f.obs, f.split, NULL, log_epoch, &l1, path), GP_OK);
        assert_int_equal(l1.count, 2);
        opt.epochs = 4;
        assert_int_equal(gp_linkpred_model_new(&rest, &opt, 0), GP_OK);
        assert_int_equal(gp_linkpred_fit_resumable(&r2, rest, f.obs, f.split, NULL, log_epoch, &l2, path), GP_OK);
        assert_int_equal(r2.resumed_epochs, 2);
        assert_int_equal(l2.count, 2);
        assert_int_equal(l2.epochs[0], 3);
        assert_int_equal(l2.epochs[1], 4);
        assert_same_result(&rw, &r2);
        assert_same_weights(whole, rest);
        /* finished: the same result again, nothing trained */
        assert_int_equal(gp_linkpred_model_new(&again, &opt, 0), GP_OK);
        assert_int_equal(gp_linkpred_fit_resumable(&r3, again, f.obs, f.split, NULL, log_epoch, &l3, path), GP_OK);
        assert_int_equal(r3.resumed_epochs, 4);
        assert_int_equal(l3.count, 0);
        assert_same_result(&rw, &r3);
        assert_same_weights(whole, again);
        print_message("%d thread(s): resumed run best epoch %d, test AUC %.4f (whole run %.4f)\n", threads,
                      r2.best_epoch, r2.test_auc, rw.test_auc);
        gp_linkpred_model_free(&whole);
        gp_linkpred_model_free(&first);
        gp_linkpred_model_free(&rest);
        gp_linkpred_model_free(&again);
    }
    /* another run's options (seed) or thread count: refused, the file and the model unchanged */
    unsigned char *before = NULL, *after = NULL;
    size_t nbefore = file_bytes(path, &before);
    for (int k = 0; k < 2; k++) {
        gp_linkpred_options opt;
        small_options(&opt);
        opt.epochs = 4;
        opt.drnl = true;
        opt.threads = k == 0 ? 2 : 1;
        if (k == 0) opt.seed = 7;
        gp_linkpred_model *other = NULL, *fresh = NULL;
        assert_int_equal(gp_linkpred_model_new(&other, &opt, 0), GP_OK);
        assert_int_equal(gp_linkpred_model_new(&fresh, &opt, 0), GP_OK);
        gp_linkpred_result r;
        gp_status got = gp_linkpred_fit_resumable(&r, other, f.obs, f.split, NULL, NULL, NULL, path);
        assert_int_equal(got, GP_E_INVALID);
        assert_non_null(strstr(gp_last_error(), "holds the state of another run"));
        assert_same_weights(other, fresh);
        gp_linkpred_model_free(&other);
        gp_linkpred_model_free(&fresh);
    }
    size_t nafter = file_bytes(path, &after);
    assert_int_equal(nbefore, nafter);
    assert_memory_equal(before, after, nbefore);
    /* damaged: refused (checksum) */
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    fseek(fp, (long)(nbefore / 2), SEEK_SET);
    fputc(before[nbefore / 2] ^ 0x40, fp);
    fclose(fp);
    gp_linkpred_options opt;
    small_options(&opt);
    opt.epochs = 4;
    opt.drnl = true;
    opt.threads = 2;
    gp_linkpred_model *m = NULL;
    assert_int_equal(gp_linkpred_model_new(&m, &opt, 0), GP_OK);
    gp_linkpred_result r;
    assert_int_equal(gp_linkpred_fit_resumable(&r, m, f.obs, f.split, NULL, NULL, NULL, path), GP_E_PARSE);
    assert_non_null(strstr(gp_last_error(), "checksum mismatch"));
    fp = fopen(path, "wb"); /* undamaged again: a run of fewer epochs than the state holds is refused */
    assert_non_null(fp);
    assert_int_equal(fwrite(before, 1, nbefore, fp), nbefore);
    fclose(fp);
    gp_linkpred_model_free(&m);
    opt.epochs = 3;
    assert_int_equal(gp_linkpred_model_new(&m, &opt, 0), GP_OK);
    assert_int_equal(gp_linkpred_fit_resumable(&r, m, f.obs, f.split, NULL, NULL, NULL, path), GP_E_INVALID);
    assert_non_null(strstr(gp_last_error(), "holds 4 completed epochs, more than the 3 of this run"));
    assert_int_equal(gp_linkpred_fit_resumable(&r, m, f.obs, f.split, NULL, NULL, NULL, ""), GP_E_INVALID);
    gp_linkpred_model_free(&m);
    gp_set_threads(1);
    free(before);
    free(after);
    remove(path);
    free_fixture(&f);
}

/* Node attributes replace the constant features: they change the scores, the same attributes
 * give the same scores, and training with them runs and is deterministic. */
static void test_attributes_used(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f);
    gp_linkpred_options opt;
    small_options(&opt);
    opt.epochs = 1;
    int64_t n = gp_graph_nodes(f.g), d = 3;
    float *xa = malloc((size_t)(n * d) * sizeof(float)), *xb = malloc((size_t)(n * d) * sizeof(float));
    for (int64_t i = 0; i < n * d; i++) {
        xa[i] = (float)((i * 7) % 11) / 11.0f;
        xb[i] = (float)((i * 5) % 13) / 13.0f;
    }
    gp_linkpred_model *m = NULL;
    assert_int_equal(gp_linkpred_model_new(&m, &opt, d), GP_OK);
    assert_int_equal(gp_linkpred_model_attr_dim(m), d);
    int64_t pairs[8] = {0, 5, 10, 40, 3, 4, 100, 120};
    double sa[4], sa2[4], sb[4];
    assert_int_equal(gp_linkpred_predict(sa, m, f.obs, 4, pairs, xa), GP_OK);
    assert_int_equal(gp_linkpred_predict(sa2, m, f.obs, 4, pairs, xa), GP_OK);
    assert_int_equal(gp_linkpred_predict(sb, m, f.obs, 4, pairs, xb), GP_OK);
    assert_memory_equal(sa, sa2, sizeof sa);
    bool differ = false;
    for (int i = 0; i < 4; i++) differ |= sa[i] != sb[i];
    assert_true(differ);
    assert_int_equal(gp_linkpred_predict(sa, m, f.obs, 4, pairs, NULL), GP_E_INVALID);
    gp_linkpred_result r1, r2;
    assert_int_equal(gp_linkpred_fit(&r1, m, f.obs, f.split, xa, NULL, NULL), GP_OK);
    gp_linkpred_model_free(&m);
    assert_int_equal(gp_linkpred_model_new(&m, &opt, d), GP_OK);
    assert_int_equal(gp_linkpred_fit(&r2, m, f.obs, f.split, xa, NULL, NULL), GP_OK);
    assert_true(r1.test_auc == r2.test_auc && r1.val_auc == r2.val_auc);
    gp_linkpred_model_free(&m);
    free(xa);
    free(xb);
    free_fixture(&f);
}

/* ---- the whole model against a naive dense re-computation (eval mode) ---- */

static const gp_tensor *param_named(const gp_param_list *pl, const char *name)
{
    for (int i = 0; i < pl->count; i++)
        if (strcmp(pl->names[i], name) == 0) return pl->tensors[i];
    fail_msg("no parameter %s", name);
    return NULL;
}

/* y = x W (+ b), x n x W->rows, W row-major in x out; returns malloc'd n x out. */
static double *dense_affine(const double *x, int64_t n, const gp_tensor *w, const gp_tensor *b)
{
    int64_t in = w->rows, out = w->cols;
    double *y = calloc((size_t)(n * out), sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < out; o++) {
            double acc = b ? b->data[o] : 0.0;
            for (int64_t k = 0; k < in; k++) acc += x[i * in + k] * w->data[k * out + o];
            y[i * out + o] = acc;
        }
    return y;
}

/* One subgraph (local 0 = a, 1 = b), the model as the paper / reference code define it:
 * X = ones, H1 = Ahat X W0 + b0, H2 = Ahat relu(H1) W1 + b1 (Ahat = D^-1/2 (A + I) D^-1/2),
 * Z = [X | H1 | H2], Q/K = W2 lrelu(W1 Z + c1, 0.2) + c2, s(u->v) = <Q_h[u], K_h[v]> / sqrt(d),
 * P+ = softmax over v's incoming edges, P- without a->b and b->a, dense powers tau = 2..T+1,
 * batch norm with running statistics, MLP with ReLU; returns sigmoid(output). */
static double dense_model(const gp_graph *sg, const gp_param_list *pl, const gp_linkpred_options *o)
{
    int64_t n = gp_graph_nodes(sg), d = o->hidden, H = o->heads, T = o->walk_len, xd = o->ones_dim;
    int64_t zd = xd + 2 * d, F = (5 * T + 1) * H;
    double *A = calloc((size_t)(n * n), sizeof(double)), *dg = calloc((size_t)n, sizeof(double));
    for (int64_t v = 0; v < n; v++)
        for (int64_t k = sg->adj.ptr[v]; k < sg->adj.ptr[v + 1]; k++) A[v * n + sg->adj.idx[k]] = 1.0;
    for (int64_t v = 0; v < n; v++) {
        dg[v] = 1.0;
        for (int64_t u = 0; u < n; u++) dg[v] += A[v * n + u];
    }
    double *x = malloc((size_t)(n * xd) * sizeof(double)), *z = malloc((size_t)(n * zd) * sizeof(double));
    for (int64_t i = 0; i < n * xd; i++) x[i] = 1.0;
    double *h = x;
    int64_t hd = xd;
    for (int l = 0; l < 2; l++) {
        char wn[32], bn[32];
        snprintf(wn, sizeof wn, "%d.weight", l);
        snprintf(bn, sizeof bn, "%d.bias", l);
        double *in = malloc((size_t)(n * hd) * sizeof(double));
        for (int64_t i = 0; i < n * hd; i++) in[i] = l == 0 ? h[i] : (h[i] > 0.0 ? h[i] : 0.0);
        double *xw = dense_affine(in, n, param_named(pl, wn), NULL);
        const gp_tensor *bias = param_named(pl, bn);
        double *out = malloc((size_t)(n * d) * sizeof(double));
        for (int64_t v = 0; v < n; v++)
            for (int64_t c = 0; c < d; c++) {
                double acc = bias->data[c];
                for (int64_t u = 0; u < n; u++)
                    if (u == v || A[v * n + u] != 0.0) acc += xw[u * d + c] * ((u == v) + A[v * n + u]) / sqrt(dg[v] * dg[u]);
                out[v * d + c] = acc;
            }
        for (int64_t v = 0; v < n; v++)
            for (int64_t c = 0; c < d; c++) z[v * zd + xd + l * d + c] = out[v * d + c];
        free(in);
        free(xw);
        if (l == 1) free(h);
        h = out;
        hd = d;
    }
    free(h);
    free(x);
    for (int64_t v = 0; v < n; v++)
        for (int64_t c = 0; c < xd; c++) z[v * zd + c] = 1.0;
    double *qk[2];
    for (int side = 0; side < 2; side++) { /* children 2, 3: queries (sources); 4, 5: keys */
        char w1[32], b1[32], w2[32], b2[32];
        snprintf(w1, sizeof w1, "%d.weight", 2 + 2 * side);
        snprintf(b1, sizeof b1, "%d.bias", 2 + 2 * side);
        snprintf(w2, sizeof w2, "%d.weight", 3 + 2 * side);
        snprintf(b2, sizeof b2, "%d.bias", 3 + 2 * side);
        double *t1 = dense_affine(z, n, param_named(pl, w1), param_named(pl, b1));
        for (int64_t i = 0; i < n * d; i++)
            if (t1[i] < 0.0) t1[i] *= 0.2;
        qk[side] = dense_affine(t1, n, param_named(pl, w2), param_named(pl, b2));
        free(t1);
    }
    double *f = calloc((size_t)F, sizeof(double)), *P[2], *M[2], *tmp = malloc((size_t)(n * n) * sizeof(double));
    double *S = calloc((size_t)(n * n), sizeof(double));
    for (int s = 0; s < 2; s++) {
        P[s] = malloc((size_t)(n * n) * sizeof(double));
        M[s] = malloc((size_t)(n * n) * sizeof(double));
    }
    const int64_t a = 0, b = 1;
    for (int64_t hh = 0; hh < H; hh++) {
        for (int64_t v = 0; v < n; v++) /* S[v][u] = s(u -> v) */
            for (int64_t u = 0; u < n; u++) {
                double acc = 0.0;
                for (int64_t c = 0; c < d; c++) acc += qk[0][u * H * d + hh * d + c] * qk[1][v * H * d + hh * d + c];
                S[v * n + u] = acc / sqrt((double)d);
            }
        for (int s = 0; s < 2; s++) {
            for (int64_t v = 0; v < n; v++) {
                double sum = 0.0;
                for (int64_t u = 0; u < n; u++) {
                    bool keep = A[v * n + u] != 0.0 && !(s == 1 && ((v == b && u == a) || (v == a && u == b)));
                    P[s][v * n + u] = keep ? exp(S[v * n + u]) : 0.0;
                    sum += P[s][v * n + u];
                }
                for (int64_t u = 0; u < n; u++) P[s][v * n + u] = sum > 0.0 ? P[s][v * n + u] / sum : 0.0;
            }
            memcpy(M[s], P[s], (size_t)(n * n) * sizeof(double));
        }
        for (int64_t i = 0; i < T; i++) {
            for (int s = 0; s < 2; s++) {
                for (int64_t r = 0; r < n; r++)
                    for (int64_t c = 0; c < n; c++) {
                        double acc = 0.0;
                        for (int64_t k = 0; k < n; k++) acc += P[s][r * n + k] * M[s][k * n + c];
                        tmp[r * n + c] = acc;
                    }
                memcpy(M[s], tmp, (size_t)(n * n) * sizeof(double));
            }
            double tr[2] = {0.0, 0.0};
            for (int s = 0; s < 2; s++)
                for (int64_t v = 0; v < n; v++) tr[s] += M[s][v * n + v];
            int64_t col = hh * T + i, onp = H * T + H;
            f[col] = tr[0] - tr[1];
            f[onp + col] = M[0][a * n + a] + M[0][b * n + b];
            f[onp + H * T + col] = M[1][a * n + a] + M[1][b * n + b];
            f[onp + 2 * H * T + col] = M[0][a * n + b] + M[0][b * n + a];
            f[onp + 3 * H * T + col] = M[1][a * n + b] + M[1][b * n + a];
        }
        f[H * T + hh] = 1.0 / (1.0 + exp(-S[b * n + a])) + 1.0 / (1.0 + exp(-S[a * n + b]));
    }
    const gp_tensor *rm = param_named(pl, "bn.running_mean"), *rv = param_named(pl, "bn.running_var"),
                    *g = param_named(pl, "bn.weight"), *be = param_named(pl, "bn.bias");
    for (int64_t c = 0; c < F; c++) f[c] = (f[c] - rm->data[c]) / sqrt(rv->data[c] + 1e-5) * g->data[c] + be->data[c];
    double *cur = f;
    for (int l = 0; l < 5; l++) {
        char wn[32], bn[32];
        snprintf(wn, sizeof wn, "%d.weight", 2 + 4 + l);
        snprintf(bn, sizeof bn, "%d.bias", 2 + 4 + l);
        const gp_tensor *w = param_named(pl, wn);
        double *next = dense_affine(cur, 1, w, param_named(pl, bn));
        if (l < 4)
            for (int64_t i = 0; i < w->cols; i++) next[i] = next[i] > 0.0 ? next[i] : 0.0;
        free(cur);
        cur = next;
    }
    double p = 1.0 / (1.0 + exp(-cur[0]));
    free(cur);
    for (int s = 0; s < 2; s++) {
        free(P[s]);
        free(M[s]);
    }
    free(tmp);
    free(S);
    free(qk[0]);
    free(qk[1]);
    free(z);
    free(A);
    free(dg);
    return p;
}

/* The trained model's scores (eval mode) equal the dense re-computation of the reference
 * architecture, with either initialisation. */
static void test_model_matches_dense(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f);
    for (int torch = 0; torch < 2; torch++) {
        gp_linkpred_options opt;
        small_options(&opt);
        opt.epochs = 1;
        opt.torch_init = torch == 1;
        gp_linkpred_model *m = NULL;
        assert_int_equal(gp_linkpred_model_new(&m, &opt, 0), GP_OK);
        gp_linkpred_result r;
        assert_int_equal(gp_linkpred_fit(&r, m, f.obs, f.split, NULL, NULL, NULL), GP_OK);
        gp_param_list pl = {0};
        assert_int_equal(gp_module_params(&pl, gp_linkpred_model_module(m), true), GP_OK);
        int64_t np = f.split->count[GP_LINK_TEST_POS], nn = f.split->count[GP_LINK_TEST_NEG];
        int64_t cnt = (np < 8 ? np : 8) + (nn < 8 ? nn : 8);
        int64_t *pairs = malloc((size_t)(2 * cnt) * sizeof(int64_t));
        memcpy(pairs, f.split->pairs[GP_LINK_TEST_POS], (size_t)(2 * (np < 8 ? np : 8)) * sizeof(int64_t));
        memcpy(pairs + 2 * (np < 8 ? np : 8), f.split->pairs[GP_LINK_TEST_NEG], (size_t)(2 * (nn < 8 ? nn : 8)) * sizeof(int64_t));
        gp_linkpred_samples *s = NULL;
        assert_int_equal(gp_linkpred_extract(&s, f.obs, cnt, pairs, &opt), GP_OK);
        double *sc = malloc((size_t)cnt * sizeof(double));
        assert_int_equal(gp_linkpred_predict_samples(sc, m, s, NULL), GP_OK);
        for (int64_t i = 0; i < cnt; i++) {
            gp_graph *sg = NULL;
            assert_int_equal(gp_linkpred_sample(&sg, NULL, NULL, s, i), GP_OK);
            double ref = dense_model(sg, &pl, &opt);
            gp_graph_free(&sg);
            assert_true(fabs(sc[i] - ref) <= 1e-5);
        }
        free(sc);
        free(pairs);
        gp_linkpred_samples_free(&s);
        gp_param_list_free(&pl);
        gp_linkpred_model_free(&m);
    }
    free_fixture(&f);
}

/* Initialisation: by default the attention MLPs and the classifier start with Glorot weights and
 * zero biases; with torch_init as PyTorch's nn.Linear (weights and biases uniform in
 * +-1/sqrt(fan_in), fan_in = weight rows), the GCN layers staying Glorot with zero bias. */
static void test_torch_init(void **state)
{
    (void)state;
    for (int torch = 0; torch < 2; torch++) {
        gp_linkpred_options opt;
        gp_linkpred_options_default(&opt);
        opt.torch_init = torch == 1;
        gp_linkpred_model *m = NULL;
        assert_int_equal(gp_linkpred_model_new(&m, &opt, 0), GP_OK);
        gp_param_list pl = {0};
        assert_int_equal(gp_module_params(&pl, gp_linkpred_model_module(m), false), GP_OK);
        int linears = 0;
        for (int i = 0; i < pl.count; i++) {
            const char *name = pl.names[i];
            const char *dot = strchr(name, '.');
            if (!dot || name[0] < '0' || name[0] > '9') continue; /* bn.* */
            int child = atoi(name);
            bool is_weight = strcmp(dot, ".weight") == 0;
            const gp_tensor *w = is_weight ? pl.tensors[i] : pl.tensors[i - 1]; /* weight, then bias */
            double bound = 1.0 / sqrt((double)w->rows), glorot = sqrt(6.0 / (double)(w->rows + w->cols));
            double mx = 0.0, sum2 = 0.0;
            int64_t n = gp_tensor_size(pl.tensors[i]);
            for (int64_t k = 0; k < n; k++) {
                double v = fabs(pl.tensors[i]->data[k]);
                mx = v > mx ? v : mx;
                sum2 += v * v;
            }
            bool gcn = child < opt.gnn_layers, pytorch = torch && !gcn;
            if (is_weight) {
                double lim = pytorch ? bound : glorot;
                assert_true(mx <= lim * (1.0 + 1e-6));
                if (n >= 1000) /* uniform in +-lim: mean square lim^2 / 3 */
                    assert_true(fabs(sum2 / (double)n - lim * lim / 3.0) < 0.1 * lim * lim / 3.0);
                if (pytorch) linears++;
            } else if (pytorch) {
                assert_true(mx <= bound * (1.0 + 1e-6) && mx > 0.0);
            } else {
                assert_true(mx == 0.0); /* zero bias */
            }
        }
        assert_int_equal(linears, torch ? 4 + 5 : 0);
        gp_param_list_free(&pl);
        gp_linkpred_model_free(&m);
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    gp_linkpred_options opt;
    gp_linkpred_options_default(&opt);
    gp_linkpred_model *m = NULL;
    opt.heads = 0;
    assert_int_equal(gp_linkpred_model_new(&m, &opt, 0), GP_E_INVALID);
    assert_null(m);
    gp_linkpred_options_default(&opt);
    assert_int_equal(gp_linkpred_model_new(&m, &opt, 5), GP_OK);
    fixture f;
    make_fixture(&f);
    gp_linkpred_result r;
    /* the model wants attributes */
    assert_int_equal(gp_linkpred_fit(&r, m, f.obs, f.split, NULL, NULL, NULL), GP_E_INVALID);
    assert_non_null(strstr(gp_last_error(), "attributes"));
    gp_linkpred_model_free(&m);
    free_fixture(&f);
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extraction_matches_bfs),
        cmocka_unit_test(test_drnl_path),
        cmocka_unit_test(test_compact_storage_matches_reference),
        cmocka_unit_test(test_extraction_same_for_threads),
        cmocka_unit_test(test_no_test_link_in_training_subgraphs),
        cmocka_unit_test(test_training_learns_and_checkpoint),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_attributes_used),
        cmocka_unit_test(test_torch_init),
        cmocka_unit_test(test_model_matches_dense),
        cmocka_unit_test(test_bad_arguments),
    };
    int rc = cmocka_run_group_tests_name("linkpred", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
