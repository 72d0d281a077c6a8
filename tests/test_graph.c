/*
 * Graph construction and transformation against dense brute-force references: batching
 * (block-diagonal), induced subgraphs, k-hop neighbourhoods (with seeded caps), self-loops,
 * copies, degrees, edge lists, CSR wrapping; igraph and GraphBLAS round trips (and a GrB_mxm
 * product against gp_csr_spmm); edge cases (n = 0, no edges, isolated nodes, self-loops).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <graphpool/graphpool.h>
#include <graphpool/interop.h>

#include "failing_alloc.h"

/* ---- helpers ---- */

/* Random graph: each ordered pair (or unordered, if symmetric) is an edge with probability p,
 * self-loops only if loops; weights in [0.5, 1.5) if weighted (never exactly 1 or 0). */
static gp_graph *random_graph(gp_rng *rng, int64_t n, float p, bool weighted, bool symmetric,
                              bool loops)
{
    int64_t cap = n * n + 1, m = 0;
    int64_t *src = malloc((size_t)cap * sizeof(int64_t));
    int64_t *dst = malloc((size_t)cap * sizeof(int64_t));
    float *w = malloc((size_t)cap * sizeof(float));
    for (int64_t u = 0; u < n; u++)
        for (int64_t v = symmetric ? u : 0; v < n; v++) {
            if (u == v && !loops) continue;
            if (gp_rng_uniform(rng) >= p) continue;
            src[m] = u, dst[m] = v;
            w[m++] = 0.5f + gp_rng_uniform(rng) * 0.999f;
            if (w[m - 1] == 1.0f) w[m - 1] = 1.25f;
        }
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_edges(&g, n, m, src, dst, weighted ? w : NULL,
                                         symmetric ? GP_EDGES_SYMMETRISE : 0),
                     GP_OK);
    assert_int_equal(g->symmetric, symmetric);
    assert_true(weighted == (g->adj.val != NULL) || m == 0);
    free(src);
    free(dst);
    free(w);
    return g;
}

static float *dense_of(const gp_graph *g)
{
    float *d = NULL;
    assert_int_equal(gp_csr_to_dense(&d, &g->adj), GP_OK);
    return d;
}

static void check_graph_struct(const gp_graph *g)
{
    assert_int_equal(gp_csr_check(&g->adj), GP_OK);
    assert_int_equal(g->adj.rows, g->adj.cols);
    assert_true(g->num_graphs >= 1);
    assert_int_equal(g->graph_ptr[0], 0);
    assert_int_equal(g->graph_ptr[g->num_graphs], g->adj.rows);
    for (int64_t b = 0; b < g->num_graphs; b++)
        for (int64_t i = g->graph_ptr[b]; i < g->graph_ptr[b + 1]; i++)
            assert_int_equal(g->graph_of[i], b);
}

static bool contains(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* ---- batch ---- */

static void test_batch_block_diagonal(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 1);
    gp_graph *g0 = random_graph(&rng, 5, 0.4f, true, false, true); /* weighted, directed */
    gp_graph *ge = random_graph(&rng, 0, 0.5f, false, true, false); /* empty */
    gp_graph *g2 = random_graph(&rng, 4, 0.6f, false, true, true);  /* unweighted, symmetric */
    gp_graph *g3 = NULL;                                             /* a batch of two */
    const gp_graph *inner[] = {g2, g0};
    assert_int_equal(gp_graph_batch(&g3, 2, inner), GP_OK);
    assert_int_equal(g3->num_graphs, 2);
    check_graph_struct(g3);

    const gp_graph *parts[] = {g0, ge, g2, g3};
    gp_graph *b = NULL;
    assert_int_equal(gp_graph_batch(&b, 4, parts), GP_OK);
    check_graph_struct(b);
    int64_t n = 5 + 0 + 4 + 9;
    assert_int_equal(b->adj.rows, n);
    assert_int_equal(b->adj.nnz, g0->adj.nnz * 2 + g2->adj.nnz * 2);
    assert_non_null(b->adj.val); /* g0 is weighted: ones materialised for the others */
    assert_false(b->symmetric);
    /* batches nest flat: 1 + 1 + 1 + 2 graphs */
    assert_int_equal(b->num_graphs, 5);
    int64_t want_ptr[] = {0, 5, 5, 9, 13, 18};
    for (int i = 0; i < 6; i++) assert_int_equal(b->graph_ptr[i], want_ptr[i]);

    /* block-diagonal dense reference */
    float *ref = calloc((size_t)(n * n), sizeof(float));
    const gp_graph *blocks[] = {g0, g2, g2, g0};
    int64_t off = 0;
    for (int q = 0; q < 4; q++) {
        float *d = dense_of(blocks[q]);
        int64_t k = blocks[q]->adj.rows;
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < k; j++) ref[(off + i) * n + off + j] = d[i * k + j];
        off += k;
        gp_free(d);
    }
    float *got = dense_of(b);
    for (int64_t i = 0; i < n * n; i++) assert_true(got[i] == ref[i]);
    gp_free(got);
    free(ref);
    gp_graph_free(&b);

    /* all symmetric and unweighted: stays so */
    const gp_graph *sym[] = {g2, ge, g2};
    assert_int_equal(gp_graph_batch(&b, 3, sym), GP_OK);
    assert_true(b->symmetric);
    assert_null(b->adj.val);
    assert_int_equal(b->num_graphs, 3);
    check_graph_struct(b);
    gp_graph_free(&b);

    /* a batch of only empty graphs */
    const gp_graph *empties[] = {ge, ge};
    assert_int_equal(gp_graph_batch(&b, 2, empties), GP_OK);
    assert_int_equal(b->adj.rows, 0);
    assert_int_equal(b->num_graphs, 2);
    check_graph_struct(b);
    gp_graph_free(&b);

    /* errors */
    b = (gp_graph *)1;
    assert_int_equal(gp_graph_batch(&b, 0, parts), GP_E_INVALID);
    assert_null(b);
    assert_int_equal(gp_graph_batch(&b, 2, NULL), GP_E_INVALID);
    const gp_graph *with_null[] = {g0, NULL};
    assert_int_equal(gp_graph_batch(&b, 2, with_null), GP_E_INVALID);
    assert_true(contains(gp_last_error(), "graphs[1] is NULL"));
    assert_int_equal(gp_graph_batch(NULL, 2, parts), GP_E_INVALID);

    gp_graph_free(&g0);
    gp_graph_free(&ge);
    gp_graph_free(&g2);
    gp_graph_free(&g3);
}

/* ---- induced ---- */

static void check_induced(const gp_graph *g, int64_t k, const int64_t *nodes)
{
    gp_graph *s = NULL;
    assert_int_equal(gp_graph_induced(&s, g, k, nodes), GP_OK);
    check_graph_struct(s);
    assert_int_equal(s->adj.rows, k);
    assert_int_equal(s->symmetric, g->symmetric);
    assert_int_equal(s->adj.val != NULL, g->adj.val != NULL);
    int64_t n = g->adj.rows;
    float *a = dense_of(g), *d = dense_of(s);
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < k; j++) assert_true(d[i * k + j] == a[nodes[i] * n + nodes[j]]);
    gp_free(a);
    gp_free(d);
    gp_graph_free(&s);
}

static void test_induced_matches_dense(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 2);
    int64_t *perm = malloc(200 * sizeof(int64_t));
    for (int trial = 0; trial < 60; trial++) {
        int64_t n = 1 + (int64_t)gp_rng_below(&rng, trial < 50 ? 40 : 150);
        float p = trial < 50 ? 0.05f + 0.4f * gp_rng_uniform(&rng) : 0.7f; /* dense: long rows */
        bool weighted = trial % 2, symmetric = (trial / 2) % 2, loops = (trial / 4) % 2;
        gp_graph *g = random_graph(&rng, n, p, weighted, symmetric, loops);
        for (int64_t i = 0; i < n; i++) perm[i] = i;
        gp_rng_shuffle(&rng, perm, n);
        int64_t k = (int64_t)gp_rng_below(&rng, (uint64_t)n + 1);
        check_induced(g, k, perm);
        check_induced(g, n, perm); /* all nodes: a permutation of g */
        for (int64_t i = 0; i < n; i++) perm[i] = i;
        check_induced(g, n, perm); /* identity: g itself */
        gp_graph_free(&g);
    }
    free(perm);
}

static void test_induced_graph_ids_and_errors(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 3);
    gp_graph *parts[3];
    for (int i = 0; i < 3; i++) parts[i] = random_graph(&rng, 4 + i, 0.5f, i == 1, true, false);
    gp_graph *b = NULL;
    assert_int_equal(gp_graph_batch(&b, 3, (const gp_graph *const *)parts), GP_OK);
    /* graphs: [0,4) [4,9) [9,15). Select graph 0 and graph 2 only, shuffled within graphs. */
    int64_t sel[] = {2, 0, 3, 14, 9, 11};
    gp_graph *s = NULL;
    assert_int_equal(gp_graph_induced(&s, b, 6, sel), GP_OK);
    check_graph_struct(s);
    assert_int_equal(s->num_graphs, 3);
    int64_t want_ptr[] = {0, 3, 3, 6};
    for (int i = 0; i < 4; i++) assert_int_equal(s->graph_ptr[i], want_ptr[i]);
    for (int i = 0; i < 6; i++) assert_int_equal(s->graph_of[i], b->graph_of[sel[i]]);
    check_induced(b, 6, sel);
    gp_graph_free(&s);
    /* not contiguous by graph: a single graph */
    int64_t mixed[] = {10, 1, 5};
    assert_int_equal(gp_graph_induced(&s, b, 3, mixed), GP_OK);
    check_graph_struct(s);
    assert_int_equal(s->num_graphs, 1);
    gp_graph_free(&s);

    /* errors name the offending id; *out is NULL */
    int64_t dup[] = {1, 3, 2, 3};
    s = (gp_graph *)1;
    assert_int_equal(gp_graph_induced(&s, b, 4, dup), GP_E_INVALID);
    assert_null(s);
    assert_true(contains(gp_last_error(), "node 3 appears twice"));
    int64_t bad[] = {1, 15};
    assert_int_equal(gp_graph_induced(&s, b, 2, bad), GP_E_RANGE);
    assert_true(contains(gp_last_error(), "nodes[1] = 15"));
    int64_t neg[] = {-1};
    assert_int_equal(gp_graph_induced(&s, b, 1, neg), GP_E_RANGE);
    assert_int_equal(gp_graph_induced(&s, b, -1, sel), GP_E_INVALID);
    assert_int_equal(gp_graph_induced(&s, b, 2, NULL), GP_E_INVALID);
    assert_int_equal(gp_graph_induced(&s, NULL, 2, sel), GP_E_INVALID);
    assert_int_equal(gp_graph_induced(NULL, b, 2, sel), GP_E_INVALID);
    /* k = 0: an empty graph */
    assert_int_equal(gp_graph_induced(&s, b, 0, NULL), GP_OK);
    assert_int_equal(s->adj.rows, 0);
    check_graph_struct(s);
    gp_graph_free(&s);
    gp_graph_free(&b);
    for (int i = 0; i < 3; i++) gp_graph_free(&parts[i]);
}

/* ---- k-hop ---- */

static int cmp_i64(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return (a > b) - (a < b);
}

/* Brute force on the dense matrix: hop h = nodes not yet seen that have an entry to or from
 * a node of hop h-1, scanned in increasing id order; a cap keeps a uniform sample (partial
 * Fisher-Yates over the sorted candidates, then sorted), the rest stay seen. */
static int64_t ref_khop(int64_t *out, int64_t *hop_ptr, const float *a, int64_t n, int64_t ns,
                        const int64_t *seeds, int hops, int64_t cap, gp_rng *rng)
{
    bool *seen = calloc((size_t)n + 1, sizeof(bool));
    int64_t len = 0;
    for (int64_t i = 0; i < ns; i++)
        if (!seen[seeds[i]]) seen[seeds[i]] = true, out[len++] = seeds[i];
    hop_ptr[0] = 0, hop_ptr[1] = len;
    int64_t begin = 0;
    for (int h = 1; h <= hops; h++) {
        int64_t end = len;
        for (int64_t v = 0; v < n; v++) {
            if (seen[v]) continue;
            bool adjacent = false;
            for (int64_t q = begin; q < end && !adjacent; q++)
                adjacent = a[out[q] * n + v] != 0.0f || a[v * n + out[q]] != 0.0f;
            if (adjacent) seen[v] = true, out[len++] = v;
        }
        int64_t found = len - end;
        if (cap > 0 && found > cap) {
            int64_t *c = out + end;
            for (int64_t i = 0; i < cap; i++) {
                int64_t j = i + (int64_t)gp_rng_below(rng, (uint64_t)(found - i));
                int64_t t = c[i];
                c[i] = c[j];
                c[j] = t;
            }
            qsort(c, (size_t)cap, sizeof(int64_t), cmp_i64);
            len = end + cap;
        }
        hop_ptr[h + 1] = len;
        begin = end;
    }
    free(seen);
    return len;
}

static void test_khop_matches_bfs(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 4);
    for (int trial = 0; trial < 120; trial++) {
        int64_t n = 1 + (int64_t)gp_rng_below(&rng, 60);
        bool symmetric = trial % 2;
        gp_graph *g = random_graph(&rng, n, 0.01f + 0.12f * gp_rng_uniform(&rng), trial % 3 == 0,
                                   symmetric, trial % 4 == 0);
        float *a = dense_of(g);
        int64_t ns = 1 + (int64_t)gp_rng_below(&rng, 4), seeds[4];
        for (int64_t i = 0; i < ns; i++) seeds[i] = (int64_t)gp_rng_below(&rng, (uint64_t)n);
        int hops = (int)gp_rng_below(&rng, 4);
        int64_t cap = trial % 3 == 1 ? 1 + (int64_t)gp_rng_below(&rng, 3) : 0;
        uint64_t seed = gp_rng_u64(&rng);
        gp_rng r1, r2;
        gp_rng_seed(&r1, seed);
        gp_rng_seed(&r2, seed);
        int64_t *want = malloc((size_t)n * sizeof(int64_t));
        int64_t want_ptr[6], got_ptr[6];
        int64_t want_count = ref_khop(want, want_ptr, a, n, ns, seeds, hops, cap, &r1);
        int64_t *got = NULL, count = -1;
        assert_int_equal(gp_graph_khop(&got, &count, got_ptr, g, ns, seeds, hops, cap, &r2), GP_OK);
        assert_int_equal(count, want_count);
        for (int64_t i = 0; i < count; i++) assert_int_equal(got[i], want[i]);
        for (int h = 0; h <= hops + 1; h++) assert_int_equal(got_ptr[h], want_ptr[h]);
        for (int h = 1; h <= hops && cap > 0; h++) assert_true(got_ptr[h + 1] - got_ptr[h] <= cap);
        /* same seed, same sample; hop_ptr optional */
        int64_t *again = NULL, count2 = -1;
        gp_rng_seed(&r2, seed);
        assert_int_equal(gp_graph_khop(&again, &count2, NULL, g, ns, seeds, hops, cap, &r2), GP_OK);
        assert_int_equal(count2, count);
        assert_memory_equal(again, got, (size_t)count * sizeof(int64_t));
        gp_free(again);
        gp_free(got);
        free(want);
        gp_free(a);
        gp_graph_free(&g);
    }
}

static void test_khop_directions_sampling_errors(void **state)
{
    (void)state;
    /* directed path 0 -> 1 -> 2 -> 3: in- and out-neighbours are both followed */
    int64_t src[] = {0, 1, 2}, dst[] = {1, 2, 3};
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_edges(&g, 5, 3, src, dst, NULL, 0), GP_OK);
    int64_t *nodes = NULL, count = 0, hp[4];
    int64_t seeds[] = {2, 2, 0};
    assert_int_equal(gp_graph_khop(&nodes, &count, hp, g, 3, seeds, 2, 0, NULL), GP_OK);
    int64_t want[] = {2, 0, 1, 3}; /* seeds (repeat dropped), then hop 1 = {1, 3}; hop 2 empty */
    assert_int_equal(count, 4);
    assert_memory_equal(nodes, want, sizeof want);
    assert_int_equal(hp[0], 0);
    assert_int_equal(hp[1], 2);
    assert_int_equal(hp[2], 4);
    assert_int_equal(hp[3], 4);
    gp_free(nodes);
    /* node 4 is isolated: only itself, at every depth */
    int64_t iso[] = {4};
    assert_int_equal(gp_graph_khop(&nodes, &count, hp, g, 1, iso, 2, 0, NULL), GP_OK);
    assert_int_equal(count, 1);
    assert_int_equal(nodes[0], 4);
    assert_true(hp[1] == 1 && hp[2] == 1 && hp[3] == 1);
    gp_free(nodes);
    /* no seeds: nothing, still a freeable block */
    assert_int_equal(gp_graph_khop(&nodes, &count, hp, g, 0, NULL, 2, 0, NULL), GP_OK);
    assert_int_equal(count, 0);
    assert_non_null(nodes);
    assert_true(hp[0] == 0 && hp[1] == 0 && hp[3] == 0);
    gp_free(nodes);
    /* errors */
    gp_rng rng;
    gp_rng_seed(&rng, 5);
    assert_int_equal(gp_graph_khop(&nodes, &count, NULL, g, 1, iso, 2, 3, NULL), GP_E_INVALID);
    assert_null(nodes);
    int64_t far[] = {0, 5};
    assert_int_equal(gp_graph_khop(&nodes, &count, NULL, g, 2, far, 1, 0, NULL), GP_E_RANGE);
    assert_true(contains(gp_last_error(), "seeds[1] = 5"));
    assert_int_equal(gp_graph_khop(&nodes, &count, NULL, g, 1, iso, -1, 0, NULL), GP_E_INVALID);
    assert_int_equal(gp_graph_khop(&nodes, &count, NULL, g, 1, iso, 1, -2, &rng), GP_E_INVALID);
    assert_int_equal(gp_graph_khop(&nodes, &count, NULL, NULL, 1, iso, 1, 0, NULL), GP_E_INVALID);
    assert_int_equal(gp_graph_khop(&nodes, &count, NULL, g, 2, NULL, 1, 0, NULL), GP_E_INVALID);
    gp_graph_free(&g);

    /* uniform sampling: star with 10 leaves, cap 3 -> each leaf kept with probability 0.3 */
    int64_t s2[10], d2[10];
    for (int i = 0; i < 10; i++) s2[i] = 0, d2[i] = i + 1;
    assert_int_equal(gp_graph_from_edges(&g, 11, 10, s2, d2, NULL, GP_EDGES_SYMMETRISE), GP_OK);
    int hits[11] = {0};
    int64_t centre[] = {0};
    for (int run = 0; run < 3000; run++) {
        assert_int_equal(gp_graph_khop(&nodes, &count, NULL, g, 1, centre, 1, 3, &rng), GP_OK);
        assert_int_equal(count, 4);
        assert_true(nodes[1] < nodes[2] && nodes[2] < nodes[3]);
        for (int i = 1; i < 4; i++) hits[nodes[i]]++;
        gp_free(nodes);
    }
    for (int i = 1; i <= 10; i++) assert_true(hits[i] > 800 && hits[i] < 1000); /* sd ~ 25 */
    gp_graph_free(&g);
}

/* ---- basics: self-loops, copy, degrees, edge list, from_csr ---- */

static void test_graph_basics(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 6);
    for (int trial = 0; trial < 24; trial++) {
        int64_t n = (int64_t)gp_rng_below(&rng, 20);
        gp_graph *g = random_graph(&rng, n, 0.3f, trial % 2, (trial / 2) % 2, (trial / 4) % 2);
        float *a = dense_of(g);

        gp_graph *l = NULL;
        assert_int_equal(gp_graph_add_self_loops(&l, g), GP_OK);
        check_graph_struct(l);
        assert_int_equal(l->symmetric, g->symmetric);
        float *d = dense_of(l);
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                float want = a[i * n + j];
                if (i == j && want == 0.0f) want = 1.0f;
                assert_true(d[i * n + j] == want);
            }
        gp_free(d);
        gp_graph_free(&l);

        gp_graph *c = NULL;
        assert_int_equal(gp_graph_copy(&c, g), GP_OK);
        check_graph_struct(c);
        assert_true(c->adj.idx != g->adj.idx);
        assert_int_equal(c->symmetric, g->symmetric);
        assert_int_equal(c->adj.val != NULL, g->adj.val != NULL);
        d = dense_of(c);
        if (n > 0) assert_memory_equal(d, a, (size_t)(n * n) * sizeof(float));
        gp_free(d);
        gp_graph_free(&c);

        float *deg = malloc((size_t)(n + 1) * sizeof(float));
        gp_graph_degrees(g, deg);
        for (int64_t i = 0; i < n; i++) {
            float s = 0.0f;
            for (int64_t j = 0; j < n; j++) s += a[i * n + j];
            assert_float_equal(deg[i], s, 1e-5f * (1.0f + s));
        }
        free(deg);

        int64_t *src = NULL, *dst = NULL;
        assert_int_equal(gp_graph_edge_list(&src, &dst, g), GP_OK);
        float *e = calloc((size_t)(n * n + 1), sizeof(float));
        for (int64_t k = 0; k < g->adj.nnz; k++) {
            assert_true(src[k] >= 0 && src[k] < n && dst[k] >= 0 && dst[k] < n);
            e[dst[k] * n + src[k]] += g->adj.val ? g->adj.val[k] : 1.0f; /* row = dst */
        }
        for (int64_t i = 0; i < n * n; i++) assert_true(e[i] == a[i]);
        free(e);
        gp_free(src);
        gp_free(dst);
        gp_free(a);
        gp_graph_free(&g);
    }

    /* copy and self-loops keep batches */
    gp_graph *p0 = random_graph(&rng, 3, 0.5f, false, true, false);
    gp_graph *p1 = random_graph(&rng, 4, 0.5f, false, true, false);
    const gp_graph *parts[] = {p0, p1};
    gp_graph *b = NULL, *c = NULL, *l = NULL;
    assert_int_equal(gp_graph_batch(&b, 2, parts), GP_OK);
    assert_int_equal(gp_graph_copy(&c, b), GP_OK);
    assert_int_equal(gp_graph_add_self_loops(&l, b), GP_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c->graph_ptr[i], b->graph_ptr[i]);
        assert_int_equal(l->graph_ptr[i], b->graph_ptr[i]);
    }
    check_graph_struct(c);
    check_graph_struct(l);
    gp_graph_free(&b);
    gp_graph_free(&c);
    gp_graph_free(&l);
    gp_graph_free(&p0);
    gp_graph_free(&p1);
}

static void test_graph_from_csr(void **state)
{
    (void)state;
    gp_csr *m = NULL;
    gp_graph *g = NULL;
    /* non-square: rejected, ownership stays with the caller */
    assert_int_equal(gp_csr_new(&m, 2, 3, 0, false), GP_OK);
    assert_int_equal(gp_graph_from_csr(&g, &m, false), GP_E_SHAPE);
    assert_non_null(m);
    assert_null(g);
    gp_csr_free(&m);
    /* unsorted columns */
    assert_int_equal(gp_csr_new(&m, 2, 2, 2, false), GP_OK);
    m->ptr[1] = 2, m->ptr[2] = 2, m->idx[0] = 1, m->idx[1] = 0;
    assert_int_equal(gp_graph_from_csr(&g, &m, false), GP_E_INVALID);
    assert_non_null(m);
    /* duplicate column */
    m->idx[0] = 1, m->idx[1] = 1;
    assert_int_equal(gp_graph_from_csr(&g, &m, false), GP_E_INVALID);
    /* column out of range */
    m->idx[0] = 0, m->idx[1] = 2;
    assert_int_equal(gp_graph_from_csr(&g, &m, false), GP_E_RANGE);
    /* valid: ownership moves */
    m->idx[0] = 0, m->idx[1] = 1;
    assert_int_equal(gp_graph_from_csr(&g, &m, false), GP_OK);
    assert_null(m);
    check_graph_struct(g);
    assert_int_equal(g->adj.nnz, 2);
    gp_graph_free(&g);
    assert_null(g);
    assert_int_equal(gp_graph_from_csr(&g, NULL, false), GP_E_INVALID);
    /* non-finite values */
    assert_int_equal(gp_csr_new(&m, 1, 1, 1, true), GP_OK);
    m->ptr[1] = 1, m->idx[0] = 0, m->val[0] = NAN;
    assert_int_equal(gp_graph_from_csr(&g, &m, true), GP_E_NUMERIC);
    gp_csr_free(&m);
}

static void test_edge_cases(void **state)
{
    (void)state;
    /* n = 0 */
    gp_graph *g = NULL, *r = NULL;
    assert_int_equal(gp_graph_from_edges(&g, 0, 0, NULL, NULL, NULL, 0), GP_OK);
    check_graph_struct(g);
    assert_int_equal(gp_graph_add_self_loops(&r, g), GP_OK);
    assert_int_equal(r->adj.rows, 0);
    gp_graph_free(&r);
    assert_int_equal(gp_graph_copy(&r, g), GP_OK);
    gp_graph_free(&r);
    assert_int_equal(gp_graph_induced(&r, g, 0, NULL), GP_OK);
    assert_int_equal(r->adj.rows, 0);
    gp_graph_free(&r);
    int64_t *nodes = NULL, count = -1, hp[3];
    assert_int_equal(gp_graph_khop(&nodes, &count, hp, g, 0, NULL, 1, 0, NULL), GP_OK);
    assert_int_equal(count, 0);
    gp_free(nodes);
    int64_t *src = NULL, *dst = NULL;
    assert_int_equal(gp_graph_edge_list(&src, &dst, g), GP_OK);
    gp_free(src);
    gp_free(dst);
    const gp_graph *one[] = {g};
    assert_int_equal(gp_graph_batch(&r, 1, one), GP_OK);
    check_graph_struct(r);
    gp_graph_free(&r);
    gp_graph_free(&g);

    /* nodes but no edges */
    assert_int_equal(gp_graph_from_edges(&g, 6, 0, NULL, NULL, NULL, GP_EDGES_SYMMETRISE), GP_OK);
    int64_t seeds[] = {5, 1};
    assert_int_equal(gp_graph_khop(&nodes, &count, hp, g, 2, seeds, 1, 0, NULL), GP_OK);
    assert_int_equal(count, 2);
    assert_true(nodes[0] == 5 && nodes[1] == 1 && hp[1] == 2 && hp[2] == 2);
    gp_free(nodes);
    assert_int_equal(gp_graph_induced(&r, g, 2, seeds), GP_OK);
    assert_int_equal(r->adj.nnz, 0);
    gp_graph_free(&r);
    gp_graph_free(&g);

    /* self-loops: kept by induced, not re-visited by khop */
    int64_t s[] = {0, 1, 1, 2}, d[] = {0, 1, 2, 2};
    float w[] = {2, 3, 4, 5};
    assert_int_equal(gp_graph_from_edges(&g, 3, 4, s, d, w, 0), GP_OK);
    int64_t sel[] = {2, 1};
    assert_int_equal(gp_graph_induced(&r, g, 2, sel), GP_OK);
    float *dn = dense_of(r);
    /* node 0 of r = old 2 (loop 5, in-edge from old 1 = new 1 with 4); node 1 = old 1 (loop 3) */
    assert_true(dn[0] == 5 && dn[1] == 4 && dn[2] == 0 && dn[3] == 3);
    gp_free(dn);
    gp_graph_free(&r);
    int64_t seed0[] = {0};
    assert_int_equal(gp_graph_khop(&nodes, &count, hp, g, 1, seed0, 1, 0, NULL), GP_OK);
    assert_int_equal(count, 1); /* 0 only has its loop */
    gp_free(nodes);
    gp_graph_free(&g);
}

/* ---- igraph ---- */

static int cmp_pair(const void *pa, const void *pb)
{
    const int64_t *a = pa, *b = pb;
    if (a[0] != b[0]) return (a[0] > b[0]) - (a[0] < b[0]);
    return (a[1] > b[1]) - (a[1] < b[1]);
}

/* Sorted (from, to) pairs of an igraph graph; (min, max) for undirected graphs. */
static int64_t *igraph_pairs(const igraph_t *ig)
{
    igraph_vector_int_t el;
    assert_int_equal(igraph_vector_int_init(&el, 0), IGRAPH_SUCCESS);
    assert_int_equal(igraph_get_edgelist(ig, &el, false), IGRAPH_SUCCESS);
    int64_t m = igraph_ecount(ig);
    int64_t *p = malloc((size_t)(2 * m + 1) * sizeof(int64_t));
    for (int64_t e = 0; e < m; e++) {
        int64_t u = VECTOR(el)[2 * e], v = VECTOR(el)[2 * e + 1];
        if (!igraph_is_directed(ig) && u > v) {
            int64_t t = u;
            u = v, v = t;
        }
        p[2 * e] = u, p[2 * e + 1] = v;
    }
    qsort(p, (size_t)m, 2 * sizeof(int64_t), cmp_pair);
    igraph_vector_int_destroy(&el);
    return p;
}

/* ig -> gp -> igraph: same vertices, directedness and edge multiset (ig has no multi-edges);
 * gp's dense adjacency has a_vu = 1 for every edge u -> v (and a_uv too if undirected). */
static void check_igraph_round_trip(const igraph_t *ig)
{
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_igraph(&g, ig, 0), GP_OK);
    check_graph_struct(g);
    int64_t n = igraph_vcount(ig), m = igraph_ecount(ig);
    bool directed = igraph_is_directed(ig);
    assert_int_equal(g->adj.rows, n);
    assert_int_equal(g->symmetric, !directed);
    float *a = dense_of(g), *want = calloc((size_t)(n * n + 1), sizeof(float));
    int64_t *pairs = igraph_pairs(ig);
    for (int64_t e = 0; e < m; e++) {
        int64_t u = pairs[2 * e], v = pairs[2 * e + 1];
        want[v * n + u] = 1.0f;
        if (!directed) want[u * n + v] = 1.0f;
    }
    for (int64_t i = 0; i < n * n; i++) assert_true(a[i] == want[i]);
    igraph_t back;
    assert_int_equal(gp_graph_to_igraph(&back, g), GP_OK);
    assert_int_equal(igraph_vcount(&back), n);
    assert_int_equal(igraph_ecount(&back), m);
    assert_int_equal(igraph_is_directed(&back), directed);
    int64_t *pairs2 = igraph_pairs(&back);
    if (m > 0) assert_memory_equal(pairs, pairs2, (size_t)(2 * m) * sizeof(int64_t));
    free(pairs);
    free(pairs2);
    free(want);
    gp_free(a);
    igraph_destroy(&back);
    gp_graph_free(&g);
}

static void test_igraph_round_trips(void **state)
{
    (void)state;
    igraph_t ig;
    assert_int_equal(igraph_famous(&ig, "Zachary"), IGRAPH_SUCCESS);
    assert_int_equal(igraph_ecount(&ig), 78);
    check_igraph_round_trip(&ig);
    igraph_destroy(&ig);
    for (int directed = 0; directed < 2; directed++) {
        assert_int_equal(igraph_ring(&ig, 10, directed, false, true), IGRAPH_SUCCESS);
        check_igraph_round_trip(&ig);
        igraph_destroy(&ig);
        igraph_rng_seed(igraph_rng_default(), 42 + (igraph_uint_t)directed);
        for (int loops = 0; loops < 2; loops++) {
            assert_int_equal(igraph_erdos_renyi_game_gnm(&ig, 30, 70, directed, loops), IGRAPH_SUCCESS);
            check_igraph_round_trip(&ig);
            igraph_destroy(&ig);
        }
        /* n = 0 and n > 0 without edges */
        assert_int_equal(igraph_empty(&ig, 0, directed), IGRAPH_SUCCESS);
        check_igraph_round_trip(&ig);
        igraph_destroy(&ig);
        assert_int_equal(igraph_empty(&ig, 7, directed), IGRAPH_SUCCESS);
        check_igraph_round_trip(&ig);
        igraph_destroy(&ig);
    }
    /* ring orientation: edge i -> i+1 is entry (i+1, i) */
    assert_int_equal(igraph_ring(&ig, 4, true, false, false), IGRAPH_SUCCESS);
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_igraph(&g, &ig, 0), GP_OK);
    assert_int_equal(g->adj.ptr[1] - g->adj.ptr[0], 0); /* node 0 has no in-neighbour */
    assert_int_equal(g->adj.idx[g->adj.ptr[1]], 0);     /* node 1's in-neighbour is 0 */
    gp_graph_free(&g);
    igraph_destroy(&ig);

    /* multi-edges and loops follow the flags */
    igraph_vector_int_t ev;
    igraph_integer_t e[] = {0, 1, 1, 0, 1, 2, 2, 2};
    igraph_vector_int_view(&ev, e, 8);
    assert_int_equal(igraph_create(&ig, &ev, 3, false), IGRAPH_SUCCESS);
    assert_int_equal(gp_graph_from_igraph(&g, &ig, 0), GP_OK);
    float *a = dense_of(g);
    assert_true(a[1] == 2 && a[3] == 2 && a[5] == 1 && a[7] == 1 && a[8] == 1);
    gp_free(a);
    gp_graph_free(&g);
    assert_int_equal(gp_graph_from_igraph(&g, &ig, GP_EDGES_DROP_DUPLICATES | GP_EDGES_DROP_SELF_LOOPS),
                     GP_OK);
    assert_null(g->adj.val);
    assert_int_equal(g->adj.nnz, 4);
    a = dense_of(g);
    assert_true(a[1] == 1 && a[3] == 1 && a[8] == 0);
    gp_free(a);
    /* symmetric gp with a loop -> one undirected edge per pair and per loop */
    gp_graph_free(&g);
    assert_int_equal(gp_graph_from_igraph(&g, &ig, GP_EDGES_DROP_DUPLICATES), GP_OK);
    igraph_t back;
    assert_int_equal(gp_graph_to_igraph(&back, g), GP_OK);
    assert_false(igraph_is_directed(&back));
    assert_int_equal(igraph_ecount(&back), 3); /* {0,1}, {1,2}, {2,2} */
    igraph_destroy(&back);
    gp_graph_free(&g);
    igraph_destroy(&ig);

    /* igraph errors map to GP_E_FOREIGN with igraph's reason (a hand-made invalid graph with
     * a negative node id makes igraph_create fail) */
    int64_t ptr[] = {0, 1, 1}, idx[] = {-5};
    gp_graph bad = {.adj = {2, 2, 1, ptr, idx, NULL}, .symmetric = false};
    assert_int_equal(gp_graph_to_igraph(&back, &bad), GP_E_FOREIGN);
    assert_true(contains(gp_last_error(), "igraph_create"));
    assert_true(contains(gp_last_error(), "igraph:"));
    assert_int_equal(gp_graph_from_igraph(NULL, &ig, 0), GP_E_INVALID);
    assert_int_equal(gp_graph_from_igraph(&g, NULL, 0), GP_E_INVALID);
    assert_int_equal(gp_graph_to_igraph(&back, NULL), GP_E_INVALID);
}

/* ---- GraphBLAS ---- */

static gp_csr *random_csr(gp_rng *rng, int64_t rows, int64_t cols, int64_t nnz, bool weighted)
{
    int64_t *r = malloc((size_t)(nnz + 1) * sizeof(int64_t));
    int64_t *c = malloc((size_t)(nnz + 1) * sizeof(int64_t));
    float *v = malloc((size_t)(nnz + 1) * sizeof(float));
    for (int64_t k = 0; k < nnz; k++) {
        r[k] = (int64_t)gp_rng_below(rng, (uint64_t)rows);
        c[k] = (int64_t)gp_rng_below(rng, (uint64_t)cols);
        v[k] = gp_rng_uniform(rng) * 2.0f - 1.0f;
    }
    gp_csr *m = NULL;
    assert_int_equal(gp_csr_from_coo(&m, rows, cols, nnz, r, c, v), GP_OK);
    if (!weighted) {
        gp_free(m->val);
        m->val = NULL;
    }
    free(r);
    free(c);
    free(v);
    return m;
}

static void check_same_csr(const gp_csr *a, const gp_csr *b)
{
    assert_int_equal(a->rows, b->rows);
    assert_int_equal(a->cols, b->cols);
    assert_int_equal(a->nnz, b->nnz);
    for (int64_t i = 0; i <= a->rows; i++) assert_int_equal(a->ptr[i], b->ptr[i]);
    for (int64_t k = 0; k < a->nnz; k++) {
        assert_int_equal(a->idx[k], b->idx[k]);
        float va = a->val ? a->val[k] : 1.0f, vb = b->val ? b->val[k] : 1.0f;
        assert_true(va == vb);
    }
}

/* Dense row-major copy of a GrB matrix (absent entries 0). */
static float *grb_dense(GrB_Matrix m, int64_t rows, int64_t cols)
{
    GrB_Index nv = 0;
    assert_int_equal(GrB_Matrix_nvals(&nv, m), GrB_SUCCESS);
    GrB_Index *I = malloc((nv + 1) * sizeof(GrB_Index)), *J = malloc((nv + 1) * sizeof(GrB_Index));
    float *X = malloc((nv + 1) * sizeof(float));
    assert_int_equal(GrB_Matrix_extractTuples_FP32(I, J, X, &nv, m), GrB_SUCCESS);
    float *d = calloc((size_t)(rows * cols + 1), sizeof(float));
    for (GrB_Index k = 0; k < nv; k++) d[I[k] * (GrB_Index)cols + J[k]] = X[k];
    free(I);
    free(J);
    free(X);
    return d;
}

static void test_graphblas_round_trip_and_mxm(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 7);
    int64_t shapes[][3] = {{20, 15, 60}, {1, 1, 1}, {0, 0, 0}, {3, 5, 0}, {50, 50, 400}};
    for (int s = 0; s < 5; s++)
        for (int weighted = 0; weighted < 2; weighted++) {
            gp_csr *m = random_csr(&rng, shapes[s][0], shapes[s][1], shapes[s][2], weighted);
            GrB_Matrix A = NULL;
            assert_int_equal(gp_csr_to_grb(&A, m), GP_OK);
            GrB_Index nr = 0, nc = 0, nv = 0;
            GrB_Matrix_nrows(&nr, A);
            GrB_Matrix_ncols(&nc, A);
            GrB_Matrix_nvals(&nv, A);
            assert_true((int64_t)nr == m->rows && (int64_t)nc == m->cols && (int64_t)nv == m->nnz);
            gp_csr *back = NULL;
            assert_int_equal(gp_csr_from_grb(&back, A), GP_OK);
            assert_non_null(back->val);
            check_same_csr(m, back);
            gp_csr_free(&back);

            /* Y = A X with GraphBLAS against gp_csr_spmm */
            int64_t n = m->rows, k = m->cols, d = 4;
            float *x = malloc((size_t)(k * d + 1) * sizeof(float));
            GrB_Index *I = malloc((size_t)(k * d + 1) * sizeof(GrB_Index));
            GrB_Index *J = malloc((size_t)(k * d + 1) * sizeof(GrB_Index));
            for (int64_t i = 0; i < k * d; i++) {
                x[i] = gp_rng_uniform(&rng) + 0.1f;
                I[i] = (GrB_Index)(i / d), J[i] = (GrB_Index)(i % d);
            }
            GrB_Matrix X = NULL, Y = NULL;
            assert_int_equal(GrB_Matrix_new(&X, GrB_FP32, (GrB_Index)k, (GrB_Index)d), GrB_SUCCESS);
            assert_int_equal(GrB_Matrix_build_FP32(X, I, J, x, (GrB_Index)(k * d), GrB_PLUS_FP32),
                             GrB_SUCCESS);
            assert_int_equal(GrB_Matrix_new(&Y, GrB_FP32, (GrB_Index)n, (GrB_Index)d), GrB_SUCCESS);
            assert_int_equal(GrB_mxm(Y, NULL, NULL, GrB_PLUS_TIMES_SEMIRING_FP32, A, X, NULL),
                             GrB_SUCCESS);
            float *yg = grb_dense(Y, n, d);
            float *y = calloc((size_t)(n * d + 1), sizeof(float));
            gp_csr_spmm(y, m, NULL, x, d);
            for (int64_t i = 0; i < n * d; i++)
                assert_float_equal(yg[i], y[i], 1e-5f * (1.0f + fabsf(y[i])));
            free(y);
            free(yg);
            free(x);
            free(I);
            free(J);
            GrB_Matrix_free(&X);
            GrB_Matrix_free(&Y);
            GrB_Matrix_free(&A);
            gp_csr_free(&m);
        }

    /* other types are cast to float; column-major storage comes back row-sorted */
    GrB_Matrix B = NULL;
    GrB_Index bi[] = {2, 0, 1, 0}, bj[] = {0, 2, 1, 0};
    int32_t bx[] = {3, -2, 7, 5};
    assert_int_equal(GrB_Matrix_new(&B, GrB_INT32, 3, 3), GrB_SUCCESS);
    assert_int_equal(GxB_Matrix_Option_set_INT32(B, GxB_FORMAT, GxB_BY_COL), GrB_SUCCESS);
    assert_int_equal(GrB_Matrix_build_INT32(B, bi, bj, bx, 4, GrB_PLUS_INT32), GrB_SUCCESS);
    gp_csr *c = NULL;
    assert_int_equal(gp_csr_from_grb(&c, B), GP_OK);
    assert_int_equal(gp_csr_check(c), GP_OK);
    float *dc = NULL;
    assert_int_equal(gp_csr_to_dense(&dc, c), GP_OK);
    float want[] = {5, 0, -2, 0, 7, 0, 3, 0, 0};
    assert_memory_equal(dc, want, sizeof want);
    gp_free(dc);
    gp_csr_free(&c);
    GrB_Matrix_free(&B);

    /* a user-defined type cannot be cast: GP_E_FOREIGN naming GraphBLAS's reason */
    GrB_Type pair_t = NULL;
    assert_int_equal(GxB_Type_new(&pair_t, 2 * sizeof(double), "gp_test_pair", NULL), GrB_SUCCESS);
    assert_int_equal(GrB_Matrix_new(&B, pair_t, 2, 2), GrB_SUCCESS);
    double pv[2] = {1, 2};
    assert_int_equal(GrB_Matrix_setElement_UDT(B, pv, 0, 1), GrB_SUCCESS);
    assert_int_equal(gp_csr_from_grb(&c, B), GP_E_FOREIGN);
    assert_null(c);
    assert_true(contains(gp_last_error(), "GrB_DOMAIN_MISMATCH"));
    GrB_Matrix_free(&B);
    GrB_Type_free(&pair_t);

    /* invalid CSR is refused before GraphBLAS sees it */
    gp_csr *u = NULL;
    assert_int_equal(gp_csr_new(&u, 1, 3, 2, false), GP_OK);
    u->ptr[1] = 2, u->idx[0] = 2, u->idx[1] = 0;
    GrB_Matrix A = NULL;
    assert_int_equal(gp_csr_to_grb(&A, u), GP_E_INVALID);
    assert_null(A);
    gp_csr_free(&u);
    assert_int_equal(gp_csr_to_grb(&A, NULL), GP_E_INVALID);
    assert_int_equal(gp_csr_from_grb(&c, NULL), GP_E_INVALID);
}

/* ---- out of memory: every allocation failure ends in GP_E_NOMEM and leaks nothing ---- */

/* Batch, induced subgraph (long rows), k-hop on a directed batch (transpose cache, set growth). */
static gp_status graph_workload(void *ctx)
{
    (void)ctx;
    enum { N = 40 };
    int64_t src[3 * N], dst[3 * N], sel[N], seeds[12];
    for (int i = 0; i < N; i++) {
        src[3 * i] = i, dst[3 * i] = (i + 1) % N;
        src[3 * i + 1] = i, dst[3 * i + 1] = (i * 7 + 3) % N;
        src[3 * i + 2] = 0, dst[3 * i + 2] = i; /* node 0 is a hub: a row longer than 32 */
        sel[i] = (i * 13 + 5) % N;              /* a permutation */
    }
    for (int i = 0; i < 12; i++) seeds[i] = i * 3;
    gp_rng rng;
    gp_rng_seed(&rng, 9);
    gp_graph *g = NULL, *h = NULL, *b = NULL, *s = NULL;
    int64_t *nodes = NULL, count = 0, hp[4];
    gp_status st = gp_graph_from_edges(&g, N, 3 * N, src, dst, NULL, 0);
    if (st == GP_OK) st = gp_graph_from_edges(&h, N, 3 * N, src, dst, NULL, GP_EDGES_SYMMETRISE);
    if (st == GP_OK) st = gp_graph_batch(&b, 2, (const gp_graph *const[]){g, h});
    if (st == GP_OK) st = gp_graph_induced(&s, h, N, sel);
    if (st == GP_OK) st = gp_graph_khop(&nodes, &count, hp, b, 12, seeds, 2, 0, NULL);
    gp_free(nodes);
    nodes = NULL;
    if (st == GP_OK) st = gp_graph_khop(&nodes, &count, hp, g, 12, seeds, 2, 5, &rng);
    gp_free(nodes);
    gp_graph_free(&g);
    gp_graph_free(&h);
    gp_graph_free(&b);
    gp_graph_free(&s);
    return st;
}

static void test_out_of_memory(void **state)
{
    (void)state;
    gp_set_allocator(fa_allocator());
    fa_reset(-1);
    fa_result r = fa_every_failure("graph workload", graph_workload, NULL);
    gp_set_allocator(NULL);
    assert_true(r.first_ok >= 20); /* the workload really allocates: 20 failures before one is survived */
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_block_diagonal),
        cmocka_unit_test(test_induced_matches_dense),
        cmocka_unit_test(test_induced_graph_ids_and_errors),
        cmocka_unit_test(test_khop_matches_bfs),
        cmocka_unit_test(test_khop_directions_sampling_errors),
        cmocka_unit_test(test_graph_basics),
        cmocka_unit_test(test_graph_from_csr),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_igraph_round_trips),
        cmocka_unit_test(test_graphblas_round_trip_and_mxm),
        cmocka_unit_test(test_out_of_memory),
    };
    int rc = cmocka_run_group_tests_name("graph", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
