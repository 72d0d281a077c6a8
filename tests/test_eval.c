/*
 * Evaluation: metrics (AUC vs a brute-force pair count, AP vs hand-computed examples),
 * link splits and k-fold splits (disjointness, ratios, stratification, reproducibility,
 * index files), heuristics (hand-computed values, dense references, igraph cross-checks) and
 * the synthetic generators (structure and reproducibility).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <math.h>

#include <igraph.h>

#include <graphpool/generators.h>
#include <graphpool/graphpool.h>
#include <graphpool/heuristics.h>
#include <graphpool/metrics.h>
#include <graphpool/splits.h>

/* ------------------------------------------------------------------ helpers */

static bool has_edge(const gp_graph *g, int64_t u, int64_t v)
{
    for (int64_t k = g->adj.ptr[u]; k < g->adj.ptr[u + 1]; k++)
        if (g->adj.idx[k] == v) return true;
    return false;
}

static int64_t deg(const gp_graph *g, int64_t u) { return g->adj.ptr[u + 1] - g->adj.ptr[u]; }

static gp_graph *graph_from_pairs(int64_t n, int64_t m, const int64_t *pairs)
{
    int64_t *src = malloc((size_t)(m ? m : 1) * sizeof(int64_t)), *dst = malloc((size_t)(m ? m : 1) * sizeof(int64_t));
    for (int64_t e = 0; e < m; e++) src[e] = pairs[2 * e], dst[e] = pairs[2 * e + 1];
    gp_graph *g = NULL;
    assert_int_equal(gp_graph_from_edges(&g, n, m, src, dst, NULL, GP_EDGES_SYMMETRISE | GP_EDGES_DROP_DUPLICATES),
                     GP_OK);
    free(src);
    free(dst);
    return g;
}

static bool same_graph(const gp_graph *a, const gp_graph *b)
{
    if (a->adj.rows != b->adj.rows || a->adj.nnz != b->adj.nnz) return false;
    return memcmp(a->adj.ptr, b->adj.ptr, (size_t)(a->adj.rows + 1) * sizeof(int64_t)) == 0 &&
           memcmp(a->adj.idx, b->adj.idx, (size_t)a->adj.nnz * sizeof(int64_t)) == 0;
}

static const char *data_dir(void)
{
    const char *d = getenv("GP_DATA_DIR");
    return d && *d ? d : NULL;
}

/* ------------------------------------------------------------------ metrics */

static void test_auc_matches_brute_force(void **state)
{
    (void)state;
    gp_rng rng;
    gp_rng_seed(&rng, 7);
    enum { N = 600 };
    double s[N];
    int64_t y[N];
    for (int trial = 0; trial < 5; trial++) {
        int levels = trial == 0 ? 2 : 3 + 4 * trial; /* few score levels: many ties */
        for (int i = 0; i < N; i++) {
            s[i] = (double)gp_rng_below(&rng, (uint64_t)levels) * 0.5;
            y[i] = gp_rng_uniform(&rng) < 0.3f ? 1 : 0;
            if (y[i]) s[i] += (double)gp_rng_below(&rng, 2) * 0.5; /* positives a bit higher */
        }
        double wins = 0.0, np = 0.0, nn = 0.0;
        for (int i = 0; i < N; i++) np += (double)y[i], nn += (double)(1 - y[i]);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                if (y[i] == 1 && y[j] == 0) wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
        double brute = wins / (np * nn), auc = -1.0;
        assert_int_equal(gp_roc_auc(&auc, N, s, y), GP_OK);
        assert_true(fabs(auc - brute) < 1e-12);
        /* the positive / negative list form gives the same number */
        double pos[N], neg[N];
        int64_t p = 0, q = 0;
        for (int i = 0; i < N; i++) {
            if (y[i])
                pos[p++] = s[i];
            else
                neg[q++] = s[i];
        }
        double auc2 = -1.0;
        assert_int_equal(gp_roc_auc_pn(&auc2, p, pos, q, neg), GP_OK);
        assert_true(fabs(auc2 - brute) < 1e-12);
    }
    /* closed cases: perfect, reversed, all tied */
    double a = 0, sp[3] = {3, 4, 5}, sn[2] = {1, 2}, tied[2] = {4, 4};
    assert_int_equal(gp_roc_auc_pn(&a, 3, sp, 2, sn), GP_OK);
    assert_true(a == 1.0);
    assert_int_equal(gp_roc_auc_pn(&a, 2, sn, 3, sp), GP_OK);
    assert_true(a == 0.0);
    assert_int_equal(gp_roc_auc_pn(&a, 2, tied, 2, tied), GP_OK);
    assert_true(a == 0.5);
    /* errors */
    int64_t bad[3] = {1, 2, 0}, none[3] = {0, 0, 0};
    double three[3] = {1, 2, 3}, with_nan[3] = {1, NAN, 3};
    int64_t ok[3] = {1, 0, 1};
    assert_int_equal(gp_roc_auc(&a, 3, three, bad), GP_E_INVALID);
    assert_int_equal(gp_roc_auc(&a, 3, three, none), GP_E_INVALID);
    assert_non_null(strstr(gp_last_error(), "undefined"));
    assert_int_equal(gp_roc_auc(&a, 3, with_nan, ok), GP_E_NUMERIC);
    assert_int_equal(gp_roc_auc(NULL, 3, three, ok), GP_E_INVALID);
}

static void test_average_precision_by_hand(void **state)
{
    (void)state;
    double ap = -1;
    /* scikit-learn's documented example: scores .1 .4 .35 .8, labels 0 0 1 1.
     * Descending: .8(+) .4(-) .35(+) .1(-). Thresholds: .8: P=1, R=1/2 -> 1/2 * 1;
     * .4: R unchanged -> 0; .35: P=2/3, R=1 -> 1/2 * 2/3; .1: R unchanged. AP = 5/6. */
    double s1[4] = {0.1, 0.4, 0.35, 0.8};
    int64_t y1[4] = {0, 0, 1, 1};
    assert_int_equal(gp_average_precision(&ap, 4, s1, y1), GP_OK);
    assert_true(fabs(ap - 5.0 / 6.0) < 1e-12);
    /* ties enter together: .9(+) {.5(+) .5(-)} .1(+); 3 positives.
     * .9: P=1, R=1/3 -> 1/3; .5: P=2/3, R=2/3 -> 1/3 * 2/3 = 2/9; .1: P=3/4, R=1 -> 1/4.
     * AP = 1/3 + 2/9 + 1/4 = 29/36. */
    double s2[4] = {0.9, 0.5, 0.5, 0.1};
    int64_t y2[4] = {1, 1, 0, 1};
    assert_int_equal(gp_average_precision(&ap, 4, s2, y2), GP_OK);
    assert_true(fabs(ap - 29.0 / 36.0) < 1e-12);
    /* one tie group holding everything: P = 2/4 at R = 1 -> AP = 1/2 */
    double s3[4] = {0.5, 0.5, 0.5, 0.5};
    int64_t y3[4] = {1, 0, 1, 0};
    assert_int_equal(gp_average_precision(&ap, 4, s3, y3), GP_OK);
    assert_true(fabs(ap - 0.5) < 1e-12);
    /* list form: positives {.8, .35}, negatives {.1, .4} = the first example */
    double pos[2] = {0.8, 0.35}, neg[2] = {0.1, 0.4};
    assert_int_equal(gp_average_precision_pn(&ap, 2, pos, 2, neg), GP_OK);
    assert_true(fabs(ap - 5.0 / 6.0) < 1e-12);
    int64_t none[4] = {0, 0, 0, 0};
    assert_int_equal(gp_average_precision(&ap, 4, s1, none), GP_E_INVALID);
}

static void test_accuracy_confusion_mean_std(void **state)
{
    (void)state;
    int64_t truth[6] = {0, 1, 2, 2, 1, 0}, pred[6] = {0, 2, 2, 2, 1, 1};
    double acc = 0;
    assert_int_equal(gp_accuracy(&acc, 6, pred, truth), GP_OK);
    assert_true(fabs(acc - 4.0 / 6.0) < 1e-15);
    int64_t cm[9];
    assert_int_equal(gp_confusion_matrix(cm, 3, 6, pred, truth), GP_OK);
    int64_t expect[9] = {1, 1, 0, /* truth 0 */ 0, 1, 1, /* truth 1 */ 0, 0, 2 /* truth 2 */};
    assert_memory_equal(cm, expect, sizeof expect);
    pred[3] = 3;
    assert_int_equal(gp_confusion_matrix(cm, 3, 6, pred, truth), GP_E_RANGE);
    assert_non_null(strstr(gp_last_error(), "item 3"));
    double scores[4] = {0.9, 0.2, 0.6, 0.4};
    int64_t labels[4] = {1, 0, 0, 1};
    assert_int_equal(gp_binary_accuracy(&acc, 4, scores, labels, 0.5), GP_OK);
    assert_true(acc == 0.5);
    double runs[4] = {1, 2, 3, 4}, mean = 0, sd = 0;
    assert_int_equal(gp_mean_std(&mean, &sd, 4, runs), GP_OK);
    assert_true(fabs(mean - 2.5) < 1e-15 && fabs(sd - sqrt(5.0 / 3.0)) < 1e-12);
    assert_int_equal(gp_mean_std(&mean, &sd, 1, runs), GP_OK);
    assert_true(mean == 1.0 && sd == 0.0);
    assert_int_equal(gp_mean_std(&mean, &sd, 0, runs), GP_E_INVALID);
}

/* ------------------------------------------------------------------ link splits */

static uint64_t key(int64_t n, const int64_t *p) { return (uint64_t)p[0] * (uint64_t)n + (uint64_t)p[1]; }

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Checks every property of a split of g; returns the number of negatives that are edges of g.
 * all_distinct: all 2m pairs differ (negatives avoid every edge); otherwise positives and
 * negatives are each distinct (a negative may equal a held-out positive). */
static int64_t check_link_split_mode(const gp_link_split *s, const gp_graph *g, double val_ratio,
                                     double test_ratio, bool all_distinct)
{
    int64_t n = gp_graph_nodes(g), m = gp_graph_edges(g) / 2;
    assert_int_equal(s->num_nodes, n);
    assert_int_equal(s->count[GP_LINK_TEST_POS], (int64_t)(test_ratio * (double)m));
    assert_int_equal(s->count[GP_LINK_VAL_POS], (int64_t)(val_ratio * (double)m));
    assert_int_equal(s->count[GP_LINK_TRAIN_POS] + s->count[GP_LINK_VAL_POS] + s->count[GP_LINK_TEST_POS], m);
    for (int part = 0; part < 3; part++) assert_int_equal(s->count[2 * part], s->count[2 * part + 1]);
    /* all pairs u < v; positives are edges; all 2m pairs distinct across parts */
    uint64_t *keys = malloc((size_t)(2 * m) * sizeof(uint64_t));
    int64_t w = 0, neg_edges = 0;
    for (int p = 0; p < GP_LINK_PARTS; p++)
        for (int64_t i = 0; i < s->count[p]; i++) {
            const int64_t *q = s->pairs[p] + 2 * i;
            assert_true(q[0] >= 0 && q[0] < q[1] && q[1] < n);
            bool edge = has_edge(g, q[0], q[1]);
            if (p % 2 == 0)
                assert_true(edge);
            else
                neg_edges += edge;
            keys[w++] = key(n, q) * 2 + (all_distinct ? 0 : (uint64_t)(p % 2));
        }
    assert_int_equal(w, 2 * m);
    qsort(keys, (size_t)w, sizeof(uint64_t), cmp_u64);
    for (int64_t i = 1; i < w; i++) assert_true(keys[i] != keys[i - 1]);
    free(keys);
    return neg_edges;
}

static int64_t check_link_split(const gp_link_split *s, const gp_graph *g, double val_ratio, double test_ratio)
{
    return check_link_split_mode(s, g, val_ratio, test_ratio, true);
}

static bool same_split(const gp_link_split *a, const gp_link_split *b)
{
    for (int p = 0; p < GP_LINK_PARTS; p++) {
        if (a->count[p] != b->count[p]) return false;
        if (a->count[p] && memcmp(a->pairs[p], b->pairs[p], (size_t)a->count[p] * 2 * sizeof(int64_t))) return false;
    }
    return true;
}

static void test_link_split_random(void **state)
{
    (void)state;
    gp_graph *g = NULL;
    assert_int_equal(gp_gen_erdos_renyi(&g, 300, 0.03, 11), GP_OK);
    gp_link_split *s = NULL, *t = NULL, *u = NULL;
    assert_int_equal(gp_link_split_random(&s, g, 0.05, 0.10, GP_NEG_AVOID_ALL_EDGES, 5), GP_OK);
    assert_int_equal(check_link_split(s, g, 0.05, 0.10), 0); /* negatives are non-edges */
    /* observed graph: exactly the training positives (+ validation on request) */
    gp_graph *obs = NULL;
    assert_int_equal(gp_link_split_observed(&obs, s, false), GP_OK);
    assert_true(obs->symmetric);
    assert_int_equal(gp_graph_edges(obs), 2 * s->count[GP_LINK_TRAIN_POS]);
    for (int64_t i = 0; i < s->count[GP_LINK_TRAIN_POS]; i++)
        assert_true(has_edge(obs, s->pairs[GP_LINK_TRAIN_POS][2 * i], s->pairs[GP_LINK_TRAIN_POS][2 * i + 1]));
    for (int p = GP_LINK_VAL_POS; p <= GP_LINK_TEST_POS; p += 2)
        for (int64_t i = 0; i < s->count[p]; i++) assert_false(has_edge(obs, s->pairs[p][2 * i], s->pairs[p][2 * i + 1]));
    gp_graph_free(&obs);
    assert_int_equal(gp_link_split_observed(&obs, s, true), GP_OK);
    assert_int_equal(gp_graph_edges(obs), 2 * (s->count[GP_LINK_TRAIN_POS] + s->count[GP_LINK_VAL_POS]));
    for (int64_t i = 0; i < s->count[GP_LINK_TEST_POS]; i++)
        assert_false(has_edge(obs, s->pairs[GP_LINK_TEST_POS][2 * i], s->pairs[GP_LINK_TEST_POS][2 * i + 1]));
    gp_graph_free(&obs);
    /* same seed -> same split; different seed -> different */
    assert_int_equal(gp_link_split_random(&t, g, 0.05, 0.10, GP_NEG_AVOID_ALL_EDGES, 5), GP_OK);
    assert_true(same_split(s, t));
    assert_int_equal(gp_link_split_random(&u, g, 0.05, 0.10, GP_NEG_AVOID_ALL_EDGES, 6), GP_OK);
    assert_false(same_split(s, u));
    gp_link_split_free(&t);
    gp_link_split_free(&u);
    /* negatives avoiding only training edges: never a training positive */
    assert_int_equal(gp_link_split_random(&t, g, 0.0, 0.5, GP_NEG_AVOID_TRAIN_EDGES, 5), GP_OK);
    /* some negatives hit held-out (test) edges: expected ~ 1345 * 672 / 44177 = 20 */
    assert_true(check_link_split_mode(t, g, 0.0, 0.5, false) > 0);
    assert_int_equal(gp_link_split_observed(&obs, t, false), GP_OK);
    for (int p = 1; p < GP_LINK_PARTS; p += 2)
        for (int64_t i = 0; i < t->count[p]; i++) assert_false(has_edge(obs, t->pairs[p][2 * i], t->pairs[p][2 * i + 1]));
    gp_graph_free(&obs);
    gp_link_split_free(&t);
    /* move 5 % of training pairs to validation */
    int64_t tr = s->count[GP_LINK_TRAIN_POS], va = s->count[GP_LINK_VAL_POS];
    int64_t trn = s->count[GP_LINK_TRAIN_NEG], van = s->count[GP_LINK_VAL_NEG];
    int64_t first_val[2] = {s->pairs[GP_LINK_VAL_POS][0], s->pairs[GP_LINK_VAL_POS][1]};
    assert_int_equal(gp_link_split_move_to_val(s, 0.05, 3), GP_OK);
    int64_t moved = (int64_t)(0.05 * (double)tr);
    assert_true(moved > 0);
    assert_int_equal(s->count[GP_LINK_TRAIN_POS], tr - moved);
    assert_int_equal(s->count[GP_LINK_VAL_POS], va + moved);
    assert_int_equal(s->count[GP_LINK_TRAIN_NEG], trn - (int64_t)(0.05 * (double)trn));
    assert_int_equal(s->count[GP_LINK_VAL_NEG], van + (int64_t)(0.05 * (double)trn));
    assert_true(s->pairs[GP_LINK_VAL_POS][0] == first_val[0] && s->pairs[GP_LINK_VAL_POS][1] == first_val[1]);
    /* still a partition of the edges, with the same ratios of test pairs */
    int64_t m = gp_graph_edges(g) / 2;
    check_link_split(s, g, (double)(va + moved) / (double)m + 1e-9, 0.10);
    gp_link_split_free(&s);
    /* errors */
    assert_int_equal(gp_link_split_random(&s, g, 0.6, 0.6, GP_NEG_AVOID_ALL_EDGES, 1), GP_E_INVALID);
    assert_null(s);
    gp_graph_free(&g);
}

static void test_link_split_dense_and_errors(void **state)
{
    (void)state;
    gp_graph *g = NULL;
    /* 40 nodes, p = 0.3: ~234 edges, 546 non-edges: the enumeration path (need > allowed / 4) */
    assert_int_equal(gp_gen_erdos_renyi(&g, 40, 0.3, 2), GP_OK);
    gp_link_split *s = NULL, *t = NULL;
    assert_int_equal(gp_link_split_random(&s, g, 0.1, 0.2, GP_NEG_AVOID_ALL_EDGES, 9), GP_OK);
    assert_int_equal(check_link_split(s, g, 0.1, 0.2), 0);
    assert_int_equal(gp_link_split_random(&t, g, 0.1, 0.2, GP_NEG_AVOID_ALL_EDGES, 9), GP_OK);
    assert_true(same_split(s, t));
    gp_link_split_free(&s);
    gp_link_split_free(&t);
    gp_graph_free(&g);
    /* too dense: more edges than non-edges */
    assert_int_equal(gp_gen_erdos_renyi(&g, 30, 0.7, 2), GP_OK);
    assert_int_equal(gp_link_split_random(&s, g, 0.0, 0.1, GP_NEG_AVOID_ALL_EDGES, 1), GP_E_INVALID);
    assert_non_null(strstr(gp_last_error(), "non-edge"));
    gp_graph_free(&g);
    /* a directed graph is refused */
    int64_t src[2] = {0, 1}, dst[2] = {1, 2};
    assert_int_equal(gp_graph_from_edges(&g, 3, 2, src, dst, NULL, 0), GP_OK);
    assert_int_equal(gp_link_split_random(&s, g, 0.0, 0.5, GP_NEG_AVOID_ALL_EDGES, 1), GP_E_INVALID);
    gp_graph_free(&g);
    /* the plain object */
    int64_t count[GP_LINK_PARTS] = {2, 0, 1, 1, 0, 3};
    assert_int_equal(gp_link_split_new(&s, 10, count), GP_OK);
    assert_non_null(s->pairs[0]);
    assert_null(s->pairs[1]);
    assert_int_equal(s->count[5], 3);
    gp_link_split_free(&s);
    assert_null(s);
    count[2] = -1;
    assert_int_equal(gp_link_split_new(&s, 10, count), GP_E_INVALID);
}

/* ------------------------------------------------------------------ k-fold */

static void check_folds(const gp_cv_folds *f, int64_t n, const int64_t *labels, int64_t num_classes, double val_ratio,
                        bool test_covers)
{
    int *in_test = calloc((size_t)n, sizeof(int));
    int *mark = malloc((size_t)n * sizeof(int));
    for (int64_t k = 0; k < f->k; k++) {
        for (int64_t i = 0; i < n; i++) mark[i] = 0;
        int64_t total = 0;
        for (int p = 0; p < GP_CV_PARTS; p++)
            for (int64_t i = 0; i < f->count[k][p]; i++) {
                int64_t x = f->idx[k][p][i];
                assert_true(x >= 0 && x < n);
                assert_int_equal(mark[x], 0); /* disjoint parts */
                mark[x] = 1;
                if (i) assert_true(f->idx[k][p][i - 1] < x); /* ascending */
                if (p == GP_CV_TEST) in_test[x]++;
                total++;
            }
        assert_int_equal(total, n); /* train + val + test = everything */
        int64_t trval = f->count[k][GP_CV_TRAIN] + f->count[k][GP_CV_VAL];
        assert_int_equal(f->count[k][GP_CV_VAL], (int64_t)(val_ratio * (double)trval));
        if (labels) { /* validation is stratified: per class within 1 of val_ratio x count */
            for (int64_t c = 0; c < num_classes; c++) {
                int64_t in_val = 0, in_trval = 0;
                for (int p = GP_CV_TRAIN; p <= GP_CV_VAL; p++)
                    for (int64_t i = 0; i < f->count[k][p]; i++)
                        if (labels[f->idx[k][p][i]] == c) {
                            in_trval++;
                            in_val += p == GP_CV_VAL;
                        }
                assert_true(fabs((double)in_val - val_ratio * (double)in_trval) <= 1.0 + 1e-9);
            }
        }
    }
    if (test_covers)
        for (int64_t i = 0; i < n; i++) assert_int_equal(in_test[i], 1); /* test folds partition */
    free(in_test);
    free(mark);
}

static bool same_folds(const gp_cv_folds *a, const gp_cv_folds *b)
{
    if (a->k != b->k) return false;
    for (int64_t k = 0; k < a->k; k++)
        for (int p = 0; p < GP_CV_PARTS; p++)
            if (a->count[k][p] != b->count[k][p] ||
                memcmp(a->idx[k][p], b->idx[k][p], (size_t)a->count[k][p] * sizeof(int64_t)))
                return false;
    return true;
}

static void test_kfold_stratified(void **state)
{
    (void)state;
    enum { N = 137, K = 10 };
    int64_t labels[N];
    gp_rng rng;
    gp_rng_seed(&rng, 3);
    for (int i = 0; i < N; i++) { /* unbalanced classes ~ 60 % / 30 % / 10 % in random order */
        float u = gp_rng_uniform(&rng);
        labels[i] = u < 0.6f ? 0 : u < 0.9f ? 1 : 2;
    }
    gp_cv_folds *f = NULL, *f2 = NULL, *f3 = NULL;
    assert_int_equal(gp_cv_stratified(&f, N, labels, K, 0.1, 42), GP_OK);
    assert_int_equal(f->k, K);
    check_folds(f, N, labels, 3, 0.1, true);
    /* stratification: per class, test-fold counts differ by at most 1; fold sizes too */
    for (int64_t c = 0; c < 3; c++) {
        int64_t lo = N, hi = 0;
        for (int64_t k = 0; k < K; k++) {
            int64_t cnt = 0;
            for (int64_t i = 0; i < f->count[k][GP_CV_TEST]; i++) cnt += labels[f->idx[k][GP_CV_TEST][i]] == c;
            lo = cnt < lo ? cnt : lo;
            hi = cnt > hi ? cnt : hi;
        }
        assert_true(hi - lo <= 1);
    }
    for (int64_t k = 0; k < K; k++) assert_true(f->count[k][GP_CV_TEST] == N / K || f->count[k][GP_CV_TEST] == N / K + 1);
    assert_int_equal(gp_cv_stratified(&f2, N, labels, K, 0.1, 42), GP_OK);
    assert_true(same_folds(f, f2));
    assert_int_equal(gp_cv_stratified(&f3, N, labels, K, 0.1, 43), GP_OK);
    assert_false(same_folds(f, f3));
    gp_cv_folds_free(&f);
    gp_cv_folds_free(&f2);
    gp_cv_folds_free(&f3);
    assert_null(f);
    /* no validation */
    assert_int_equal(gp_cv_stratified(&f, N, labels, 5, 0.0, 1), GP_OK);
    check_folds(f, N, labels, 3, 0.0, true);
    gp_cv_folds_free(&f);
    /* errors */
    assert_int_equal(gp_cv_stratified(&f, N, labels, 1, 0.1, 1), GP_E_INVALID);
    assert_int_equal(gp_cv_stratified(&f, N, labels, K, 1.0, 1), GP_E_INVALID);
    labels[5] = -1;
    assert_int_equal(gp_cv_stratified(&f, N, labels, K, 0.1, 1), GP_E_RANGE);
    assert_non_null(strstr(gp_last_error(), "item 5"));
    assert_null(f);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void test_kfold_files(void **state)
{
    (void)state;
    /* small hand-made fold files: 6 items, 2 folds */
    char dir[] = "/tmp/gp_eval_foldsXXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/train_idx-1.txt", dir);
    write_file(path, "0\n1\n2\n");
    snprintf(path, sizeof path, "%s/test_idx-1.txt", dir);
    write_file(path, "3\n4\n5\n");
    snprintf(path, sizeof path, "%s/train_idx-2.txt", dir);
    write_file(path, "3\n4\n5\n");
    snprintf(path, sizeof path, "%s/test_idx-2.txt", dir);
    write_file(path, "2\n1\n0\n\n");
    gp_cv_folds *f = NULL;
    int64_t labels[6] = {0, 1, 0, 1, 0, 1};
    assert_int_equal(gp_cv_read_folds(&f, dir, 2, 6, labels, 0.0, 1), GP_OK);
    check_folds(f, 6, labels, 2, 0.0, true);
    assert_int_equal(f->count[1][GP_CV_TEST], 3);
    assert_int_equal(f->idx[1][GP_CV_TEST][0], 0); /* sorted */
    gp_cv_folds_free(&f);
    /* a missing fold file */
    assert_int_equal(gp_cv_read_folds(&f, dir, 3, 6, labels, 0.0, 1), GP_E_IO);
    assert_non_null(strstr(gp_last_error(), "train_idx-3.txt"));
    /* a bad number on line 2 */
    snprintf(path, sizeof path, "%s/test_idx-2.txt", dir);
    write_file(path, "2\nx1\n0\n");
    assert_int_equal(gp_cv_read_folds(&f, dir, 2, 6, labels, 0.0, 1), GP_E_PARSE);
    assert_non_null(strstr(gp_last_error(), "test_idx-2.txt:2:"));
    assert_non_null(strstr(gp_last_error(), "got \"x1\"")); /* without the line end */
    /* an index out of range on line 3 */
    write_file(path, "2\n1\n6\n");
    assert_int_equal(gp_cv_read_folds(&f, dir, 2, 6, labels, 0.0, 1), GP_E_RANGE);
    assert_non_null(strstr(gp_last_error(), "test_idx-2.txt:3:"));
    /* negative index */
    write_file(path, "-1\n");
    assert_int_equal(gp_cv_read_folds(&f, dir, 2, 6, labels, 0.0, 1), GP_E_RANGE);
    /* an index in both train and test */
    write_file(path, "2\n1\n3\n");
    assert_int_equal(gp_cv_read_folds(&f, dir, 2, 6, labels, 0.0, 1), GP_E_PARSE);
    assert_non_null(strstr(gp_last_error(), "both"));
    assert_null(f);
    for (int k = 1; k <= 2; k++) {
        snprintf(path, sizeof path, "%s/train_idx-%d.txt", dir, k);
        unlink(path);
        snprintf(path, sizeof path, "%s/test_idx-%d.txt", dir, k);
        unlink(path);
    }
    rmdir(dir);

    /* the real DGCNN/GIN files of PROTEINS (1113 graphs) */
    const char *dd = data_dir();
    if (!dd) skip();
    char labels_path[512], folds_dir[512];
    snprintf(labels_path, sizeof labels_path, "%s/tu/PROTEINS/PROTEINS_graph_labels.txt", dd);
    snprintf(folds_dir, sizeof folds_dir, "%s/tu/PROTEINS/10fold_idx", dd);
    FILE *fp = fopen(labels_path, "r");
    if (!fp) skip();
    int64_t *y = malloc(1113 * sizeof(int64_t));
    for (int i = 0; i < 1113; i++) {
        long long v;
        assert_int_equal(fscanf(fp, "%lld", &v), 1);
        y[i] = v - 1; /* PROTEINS labels are 1/2 */
    }
    fclose(fp);
    assert_int_equal(gp_cv_read_folds(&f, folds_dir, 10, 1113, y, 0.1, 7), GP_OK);
    check_folds(f, 1113, y, 2, 0.1, false);
    int64_t tested = 0;
    for (int64_t k = 0; k < 10; k++) tested += f->count[k][GP_CV_TEST];
    assert_int_equal(tested, 1113 - 3); /* README: 3 PROTEINS graphs are in no test fold */
    gp_cv_folds_free(&f);
    free(y);
}

/* ------------------------------------------------------------------ heuristics */

/*
 * The hand graph (5 nodes):    0 - 1 - 3 - 4
 *                               \  |  /
 *                                 2
 * edges 0-1 0-2 1-2 1-3 2-3 3-4; degrees d0 = 2, d1 = d2 = d3 = 3, d4 = 1.
 *
 * pair   N(u)      N(v)      common  CN  Jaccard  AA                 RA        PA
 * (0,3)  {1,2}     {1,2,4}   {1,2}   2   2/3      2/ln3              2/3       6
 * (1,2)  {0,2,3}   {0,1,3}   {0,3}   2   2/4      1/ln2 + 1/ln3      1/2+1/3   9
 * (0,4)  {1,2}     {3}       {}      0   0        0                  0         2
 * (2,4)  {0,1,3}   {3}       {3}     1   1/3      1/ln3              1/3       3
 *
 * Katz with beta = 0.1: walks 0 -> 3 of length 2: 2 (via 1, via 2); length 3: sum over
 * w in N(3) = {1,2,4} of walks(0 -> w, 2) = 1 + 1 + 0 = 2 (0-2-1-3, 0-1-2-3), so
 * L = 3: 0.01 * 2 + 0.001 * 2 = 0.022. For (0,4): walks of length 3: walks(0 -> 3, 2) = 2,
 * length 4: walks(0 -> 3, 3) = 2: L = 3 gives 0.002, L = 4 gives 0.002 + 0.0001 * 2 = 0.0022.
 */
static const int64_t hand_edges[12] = {0, 1, 0, 2, 1, 2, 1, 3, 2, 3, 3, 4};
static const int64_t hand_pairs[8] = {0, 3, 1, 2, 0, 4, 2, 4};

static void test_heuristics_by_hand(void **state)
{
    (void)state;
    gp_graph *g = graph_from_pairs(5, 6, hand_edges);
    double s[4];
    const double l2 = log(2.0), l3 = log(3.0);
    const double cn[4] = {2, 2, 0, 1}, jac[4] = {2.0 / 3, 0.5, 0, 1.0 / 3};
    const double aa[4] = {2 / l3, 1 / l2 + 1 / l3, 0, 1 / l3}, ra[4] = {2.0 / 3, 5.0 / 6, 0, 1.0 / 3};
    const double pa[4] = {6, 9, 2, 3};
    struct {
        gp_heuristic_fn fn;
        const double *expect;
    } cases[] = {{gp_heuristic_cn, cn}, {gp_heuristic_jaccard, jac}, {gp_heuristic_aa, aa},
                 {gp_heuristic_ra, ra}, {gp_heuristic_pa, pa}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        assert_int_equal(cases[c].fn(s, g, 4, hand_pairs, NULL), GP_OK);
        for (int i = 0; i < 4; i++) assert_true(fabs(s[i] - cases[c].expect[i]) < 1e-12);
    }
    gp_heuristic_opts o;
    gp_heuristic_opts_default(&o);
    o.katz_beta = 0.1;
    o.katz_hops = 3;
    assert_int_equal(gp_heuristic_katz(s, g, 4, hand_pairs, &o), GP_OK);
    assert_true(fabs(s[0] - 0.022) < 1e-15 && fabs(s[2] - 0.002) < 1e-15);
    o.katz_hops = 4;
    assert_int_equal(gp_heuristic_katz(s, g, 4, hand_pairs, &o), GP_OK);
    assert_true(fabs(s[2] - 0.0022) < 1e-15);
    gp_graph_free(&g);

    /* rooted PageRank on one edge 0-1 (+ isolated node 2): the walk from 0 restarts with
     * alpha, else crosses. x0 = alpha + (1-alpha) x1, x1 = (1-alpha) x0
     * => x1 = alpha (1-alpha) / (1 - (1-alpha)^2); score(0,1) = 2 x1 (symmetric);
     * alpha = 0.15: 2 * 0.1275 / 0.2775 = 0.918918... Node 2 is reached from nowhere: 0. */
    int64_t e01[2] = {0, 1}, pp[4] = {0, 1, 0, 2};
    g = graph_from_pairs(3, 1, e01);
    o.ppr_alpha = 0.15;
    o.ppr_tol = 0.0;
    o.ppr_max_iters = 400;
    assert_int_equal(gp_heuristic_ppr(s, g, 2, pp, &o), GP_OK);
    assert_true(fabs(s[0] - 2 * 0.1275 / 0.2775) < 1e-12);
    assert_true(s[1] == 0.0);
    gp_graph_free(&g);
}

/* Dense references on a random graph: CN/AA/RA/PA/Jaccard by set arithmetic, Katz by dense
 * matrix powers, PPR by solving (I - (1-alpha) A D^-1) x = alpha e_s for both endpoints. */
static void test_heuristics_dense_reference(void **state)
{
    (void)state;
    gp_graph *g = NULL;
    assert_int_equal(gp_gen_barabasi_albert(&g, 60, 2, 4), GP_OK);
    const int64_t n = 60;
    double *a = calloc((size_t)(n * n), sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = g->adj.ptr[i]; k < g->adj.ptr[i + 1]; k++) a[i * n + g->adj.idx[k]] = 1.0;
    enum { P = 300 };
    int64_t pairs[2 * P];
    gp_rng rng;
    gp_rng_seed(&rng, 8);
    for (int p = 0; p < P; p++) {
        pairs[2 * p] = (int64_t)gp_rng_below(&rng, (uint64_t)n);
        pairs[2 * p + 1] = (int64_t)gp_rng_below(&rng, (uint64_t)n);
    }
    double s[P];
    /* local scores */
    double cn[P], aa[P], ra[P], pa[P], jac[P];
    for (int p = 0; p < P; p++) {
        int64_t u = pairs[2 * p], v = pairs[2 * p + 1];
        double c = 0, x = 0, r = 0, uni = 0;
        for (int64_t w = 0; w < n; w++) {
            bool in_u = a[u * n + w] != 0, in_v = a[v * n + w] != 0;
            if (in_u && in_v) c += 1, x += 1 / log((double)deg(g, w)), r += 1.0 / (double)deg(g, w);
            uni += in_u || in_v;
        }
        cn[p] = c, aa[p] = x, ra[p] = r, pa[p] = (double)deg(g, u) * (double)deg(g, v);
        jac[p] = uni > 0 ? c / uni : 0.0;
    }
    assert_int_equal(gp_heuristic_cn(s, g, P, pairs, NULL), GP_OK);
    for (int p = 0; p < P; p++) assert_true(s[p] == cn[p]);
    assert_int_equal(gp_heuristic_aa(s, g, P, pairs, NULL), GP_OK);
    for (int p = 0; p < P; p++) assert_true(fabs(s[p] - aa[p]) < 1e-12);
    assert_int_equal(gp_heuristic_ra(s, g, P, pairs, NULL), GP_OK);
    for (int p = 0; p < P; p++) assert_true(fabs(s[p] - ra[p]) < 1e-12);
    assert_int_equal(gp_heuristic_pa(s, g, P, pairs, NULL), GP_OK);
    for (int p = 0; p < P; p++) assert_true(s[p] == pa[p]);
    assert_int_equal(gp_heuristic_jaccard(s, g, P, pairs, NULL), GP_OK);
    for (int p = 0; p < P; p++) assert_true(fabs(s[p] - jac[p]) < 1e-12);

    /* Katz: sum_{l=1..L} beta^l A^l by dense products */
    gp_heuristic_opts o;
    gp_heuristic_opts_default(&o);
    double *pw = malloc((size_t)(n * n) * sizeof(double)), *tmp = malloc((size_t)(n * n) * sizeof(double));
    double *katz = calloc((size_t)(n * n), sizeof(double));
    memcpy(pw, a, (size_t)(n * n) * sizeof(double));
    double bl = o.katz_beta;
    for (int l = 1; l <= o.katz_hops; l++) {
        for (int64_t i = 0; i < n * n; i++) katz[i] += bl * pw[i];
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                double t = 0;
                for (int64_t k = 0; k < n; k++) t += pw[i * n + k] * a[k * n + j];
                tmp[i * n + j] = t;
            }
        memcpy(pw, tmp, (size_t)(n * n) * sizeof(double));
        bl *= o.katz_beta;
    }
    assert_int_equal(gp_heuristic_katz(s, g, P, pairs, &o), GP_OK);
    for (int p = 0; p < P; p++) {
        double ref = katz[pairs[2 * p] * n + pairs[2 * p + 1]];
        assert_true(fabs(s[p] - ref) <= 1e-12 * fabs(ref) + 1e-300);
    }

    /* PPR: dense solve per source, both endpoints explicitly (no symmetry shortcut) */
    double *ppr = malloc((size_t)(n * n) * sizeof(double)); /* ppr[s * n + t] = ppr_s(t) */
    double *m = malloc((size_t)(n * n) * sizeof(double)), rhs[60];
    for (int64_t src = 0; src < n; src++) {
        for (int64_t i = 0; i < n; i++) {
            for (int64_t j = 0; j < n; j++)
                m[i * n + j] = (i == j) - (1 - o.ppr_alpha) * a[i * n + j] / (double)deg(g, j);
            rhs[i] = i == src ? o.ppr_alpha : 0.0;
        }
        for (int64_t c = 0; c < n; c++) { /* Gaussian elimination with partial pivoting */
            int64_t piv = c;
            for (int64_t r = c + 1; r < n; r++)
                if (fabs(m[r * n + c]) > fabs(m[piv * n + c])) piv = r;
            for (int64_t j = 0; j < n; j++) {
                double t = m[c * n + j];
                m[c * n + j] = m[piv * n + j];
                m[piv * n + j] = t;
            }
            double t = rhs[c];
            rhs[c] = rhs[piv], rhs[piv] = t;
            for (int64_t r = c + 1; r < n; r++) {
                double f = m[r * n + c] / m[c * n + c];
                for (int64_t j = c; j < n; j++) m[r * n + j] -= f * m[c * n + j];
                rhs[r] -= f * rhs[c];
            }
        }
        for (int64_t r = n - 1; r >= 0; r--) {
            double t = rhs[r];
            for (int64_t j = r + 1; j < n; j++) t -= m[r * n + j] * ppr[src * n + j];
            ppr[src * n + r] = t / m[r * n + r];
        }
    }
    o.ppr_tol = 1e-13;
    o.ppr_max_iters = 1000;
    assert_int_equal(gp_heuristic_ppr(s, g, P, pairs, &o), GP_OK);
    for (int p = 0; p < P; p++) {
        int64_t u = pairs[2 * p], v = pairs[2 * p + 1];
        double ref = ppr[u * n + v] + ppr[v * n + u];
        assert_true(fabs(s[p] - ref) < 1e-10);
    }
    free(ppr);
    free(m);
    free(pw);
    free(tmp);
    free(katz);
    free(a);
    gp_graph_free(&g);
}

/* igraph's own similarity functions agree with the merge kernels. */
static void test_heuristics_match_igraph(void **state)
{
    (void)state;
    gp_graph *g = NULL;
    assert_int_equal(gp_gen_watts_strogatz(&g, 200, 4, 0.2, 5), GP_OK);
    int64_t n = 200;
    igraph_vector_int_t el;
    igraph_vector_int_init(&el, 0);
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = g->adj.ptr[i]; k < g->adj.ptr[i + 1]; k++)
            if (g->adj.idx[k] > i) {
                igraph_vector_int_push_back(&el, i);
                igraph_vector_int_push_back(&el, g->adj.idx[k]);
            }
    igraph_t ig;
    assert_int_equal(igraph_create(&ig, &el, n, IGRAPH_UNDIRECTED), IGRAPH_SUCCESS);
    igraph_matrix_t cocit, aa;
    igraph_matrix_init(&cocit, 0, 0);
    igraph_matrix_init(&aa, 0, 0);
    assert_int_equal(igraph_cocitation(&ig, &cocit, igraph_vss_all()), IGRAPH_SUCCESS);
    assert_int_equal(igraph_similarity_inverse_log_weighted(&ig, &aa, igraph_vss_all(), IGRAPH_ALL), IGRAPH_SUCCESS);
    int64_t pairs[2 * 400];
    double s_cn[400], s_aa[400];
    gp_rng rng;
    gp_rng_seed(&rng, 1);
    for (int p = 0; p < 400; p++) {
        pairs[2 * p] = (int64_t)gp_rng_below(&rng, (uint64_t)n);
        do pairs[2 * p + 1] = (int64_t)gp_rng_below(&rng, (uint64_t)n);
        while (pairs[2 * p + 1] == pairs[2 * p]); /* igraph leaves the diagonal at 0 */
    }
    assert_int_equal(gp_heuristic_cn(s_cn, g, 400, pairs, NULL), GP_OK);
    assert_int_equal(gp_heuristic_aa(s_aa, g, 400, pairs, NULL), GP_OK);
    for (int p = 0; p < 400; p++) {
        assert_true(s_cn[p] == MATRIX(cocit, pairs[2 * p], pairs[2 * p + 1]));
        assert_true(fabs(s_aa[p] - MATRIX(aa, pairs[2 * p], pairs[2 * p + 1])) < 1e-12);
    }
    igraph_matrix_destroy(&cocit);
    igraph_matrix_destroy(&aa);
    igraph_destroy(&ig);
    igraph_vector_int_destroy(&el);
    gp_graph_free(&g);
}

/* The spectral baseline reconstructs A exactly when its rank is at most r. */
static void test_heuristic_svd_low_rank(void **state)
{
    (void)state;
    /* K_{3,3} (nodes 0-2 vs 3-5): eigenvalues +3, -3 and four zeros, so rank 2 */
    int64_t e[18], w = 0;
    for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 3; j < 6; j++) e[w++] = i, e[w++] = j;
    gp_graph *g = graph_from_pairs(6, 9, e);
    int64_t pairs[2 * 36];
    for (int64_t i = 0; i < 6; i++)
        for (int64_t j = 0; j < 6; j++) pairs[2 * (i * 6 + j)] = i, pairs[2 * (i * 6 + j) + 1] = j;
    double s[36];
    gp_heuristic_opts o;
    gp_heuristic_opts_default(&o);
    o.svd_rank = 2;
    assert_int_equal(gp_heuristic_svd(s, g, 36, pairs, &o), GP_OK);
    for (int64_t i = 0; i < 6; i++)
        for (int64_t j = 0; j < 6; j++) assert_true(fabs(s[i * 6 + j] - ((i < 3) != (j < 3) ? 1.0 : 0.0)) < 1e-9);
    gp_graph_free(&g);
    /* full rank on the hand graph: the default rank is capped at n = 5, exact again */
    g = graph_from_pairs(5, 6, hand_edges);
    int64_t p5[2 * 25];
    for (int64_t i = 0; i < 5; i++)
        for (int64_t j = 0; j < 5; j++) p5[2 * (i * 5 + j)] = i, p5[2 * (i * 5 + j) + 1] = j;
    assert_int_equal(gp_heuristic_svd(s, g, 25, p5, NULL), GP_OK);
    for (int64_t i = 0; i < 5; i++)
        for (int64_t j = 0; j < 5; j++) assert_true(fabs(s[i * 5 + j] - (has_edge(g, i, j) ? 1.0 : 0.0)) < 1e-9);
    gp_graph_free(&g);
}

static void test_heuristic_lookup_and_errors(void **state)
{
    (void)state;
    assert_int_equal(gp_heuristic_count(), 8);
    const char *names[8] = {"cn", "jaccard", "aa", "ra", "pa", "katz", "ppr", "svd"};
    for (int i = 0; i < 8; i++) {
        const gp_heuristic_info *h = gp_heuristic_at(i);
        assert_non_null(h);
        assert_string_equal(h->name, names[i]);
        assert_ptr_equal(gp_heuristic_find(names[i]), h);
    }
    assert_null(gp_heuristic_at(8));
    assert_ptr_equal(gp_heuristic_find("AA")->fn, gp_heuristic_aa);
    assert_ptr_equal(gp_heuristic_find("adamic-adar")->fn, gp_heuristic_aa);
    assert_ptr_equal(gp_heuristic_find("PageRank")->fn, gp_heuristic_ppr);
    assert_null(gp_heuristic_find("nope"));
    assert_null(gp_heuristic_find(NULL));
    gp_graph *g = graph_from_pairs(5, 6, hand_edges);
    int64_t bad[4] = {0, 1, 2, 5};
    double s[2];
    for (int i = 0; i < 8; i++) {
        assert_int_equal(gp_heuristic_at(i)->fn(s, g, 2, bad, NULL), GP_E_RANGE);
        assert_non_null(strstr(gp_last_error(), "pair 1"));
    }
    gp_heuristic_opts o;
    gp_heuristic_opts_default(&o);
    o.katz_hops = 0;
    assert_int_equal(gp_heuristic_katz(s, g, 1, hand_pairs, &o), GP_E_INVALID);
    o.katz_hops = 3;
    o.katz_beta = 1e-200;
    assert_int_equal(gp_heuristic_katz(s, g, 1, hand_pairs, &o), GP_E_INVALID);
    gp_heuristic_opts_default(&o);
    o.ppr_alpha = 0.0;
    assert_int_equal(gp_heuristic_ppr(s, g, 1, hand_pairs, &o), GP_E_INVALID);
    gp_graph_free(&g);
    int64_t src[1] = {0}, dst[1] = {1};
    assert_int_equal(gp_graph_from_edges(&g, 2, 1, src, dst, NULL, 0), GP_OK); /* directed */
    assert_int_equal(gp_heuristic_cn(s, g, 1, src, NULL), GP_E_INVALID);
    gp_graph_free(&g);
}

/* ------------------------------------------------------------------ generators */

static void check_simple_undirected(const gp_graph *g)
{
    assert_true(g->symmetric);
    for (int64_t i = 0; i < gp_graph_nodes(g); i++)
        for (int64_t k = g->adj.ptr[i]; k < g->adj.ptr[i + 1]; k++) {
            assert_true(g->adj.idx[k] != i);
            if (k > g->adj.ptr[i]) assert_true(g->adj.idx[k] > g->adj.idx[k - 1]);
            assert_true(has_edge(g, g->adj.idx[k], i));
        }
}

static void test_generator_sbm(void **state)
{
    (void)state;
    int64_t sizes[3] = {150, 100, 120}, block[370];
    double p[9] = {0.20, 0.02, 0.01, 0.02, 0.30, 0.05, 0.01, 0.05, 0.10};
    gp_graph *g = NULL, *h = NULL;
    assert_int_equal(gp_gen_sbm(&g, block, 3, sizes, p, 123), GP_OK);
    check_simple_undirected(g);
    assert_int_equal(block[0], 0);
    assert_int_equal(block[150], 1);
    assert_int_equal(block[369], 2);
    /* block-pair densities within 5 standard deviations of p */
    double cnt[9] = {0};
    for (int64_t i = 0; i < 370; i++)
        for (int64_t k = g->adj.ptr[i]; k < g->adj.ptr[i + 1]; k++)
            if (g->adj.idx[k] > i) cnt[block[i] * 3 + block[g->adj.idx[k]]] += 1;
    for (int a = 0; a < 3; a++)
        for (int b = a; b < 3; b++) {
            double pairs = a == b ? sizes[a] * (sizes[a] - 1) / 2.0 : (double)sizes[a] * (double)sizes[b];
            double c = a == b ? cnt[a * 3 + a] : cnt[a * 3 + b] + cnt[b * 3 + a];
            double mean = pairs * p[a * 3 + b], sd = sqrt(pairs * p[a * 3 + b] * (1 - p[a * 3 + b]));
            assert_true(fabs(c - mean) < 5 * sd);
        }
    assert_int_equal(gp_gen_sbm(&h, NULL, 3, sizes, p, 123), GP_OK);
    assert_true(same_graph(g, h));
    gp_graph_free(&h);
    assert_int_equal(gp_gen_sbm(&h, NULL, 3, sizes, p, 124), GP_OK);
    assert_false(same_graph(g, h));
    gp_graph_free(&h);
    gp_graph_free(&g);
    /* p = 1 within, 0 across: two cliques */
    int64_t s2[2] = {5, 4};
    double p2[4] = {1, 0, 0, 1};
    assert_int_equal(gp_gen_sbm(&g, NULL, 2, s2, p2, 1), GP_OK);
    assert_int_equal(gp_graph_edges(g), 2 * (10 + 6));
    gp_graph_free(&g);
    /* Erdos-Renyi edge count near p n (n-1) / 2 */
    assert_int_equal(gp_gen_erdos_renyi(&g, 1000, 0.01, 9), GP_OK);
    check_simple_undirected(g);
    double m = (double)gp_graph_edges(g) / 2, mean = 0.01 * 1000 * 999 / 2;
    assert_true(fabs(m - mean) < 5 * sqrt(mean));
    gp_graph_free(&g);
    double bad[4] = {0.5, 0.1, 0.2, 0.5};
    assert_int_equal(gp_gen_sbm(&g, NULL, 2, s2, bad, 1), GP_E_INVALID); /* not symmetric */
    assert_null(g);
}

static void test_generator_lattices(void **state)
{
    (void)state;
    gp_graph *g = NULL;
    /* 4 x 5 square grid: r(c-1) + c(r-1) = 16 + 15 = 31 edges; corner 2, border 3, inner 4 */
    assert_int_equal(gp_gen_square_lattice(&g, 4, 5, false), GP_OK);
    check_simple_undirected(g);
    assert_int_equal(gp_graph_edges(g), 2 * 31);
    assert_int_equal(deg(g, 0), 2);
    assert_int_equal(deg(g, 2), 3);
    assert_int_equal(deg(g, 1 * 5 + 2), 4);
    gp_graph_free(&g);
    assert_int_equal(gp_gen_square_lattice(&g, 4, 5, true), GP_OK); /* torus: all degree 4 */
    check_simple_undirected(g);
    for (int64_t i = 0; i < 20; i++) assert_int_equal(deg(g, i), 4);
    gp_graph_free(&g);
    /* triangular: + (r-1)(c-1) = 12 diagonals = 43 edges; inner degree 6, corner (0,0) 3 */
    assert_int_equal(gp_gen_triangle_lattice(&g, 4, 5, false), GP_OK);
    check_simple_undirected(g);
    assert_int_equal(gp_graph_edges(g), 2 * 43);
    assert_int_equal(deg(g, 0), 3);
    assert_int_equal(deg(g, 4), 2); /* corner (0, 4): right and diagonal missing */
    assert_int_equal(deg(g, 1 * 5 + 2), 6);
    assert_true(has_edge(g, 0, 6));
    gp_graph_free(&g);
    assert_int_equal(gp_gen_triangle_lattice(&g, 4, 5, true), GP_OK);
    for (int64_t i = 0; i < 20; i++) assert_int_equal(deg(g, i), 6);
    assert_int_equal(gp_graph_edges(g), 2 * 60);
    gp_graph_free(&g);
    assert_int_equal(gp_gen_square_lattice(&g, 2, 5, true), GP_E_INVALID);
}

static void test_generator_igraph_models(void **state)
{
    (void)state;
    gp_graph *g = NULL, *h = NULL;
    /* BA: m(m-1)/2 + (n-m) m = 3 + 197 * 3 = 594 edges, min degree >= 1 */
    assert_int_equal(gp_gen_barabasi_albert(&g, 200, 3, 77), GP_OK);
    check_simple_undirected(g);
    assert_int_equal(gp_graph_edges(g), 2 * 594);
    for (int64_t i = 0; i < 200; i++) assert_true(deg(g, i) >= 1);
    assert_int_equal(gp_gen_barabasi_albert(&h, 200, 3, 77), GP_OK);
    assert_true(same_graph(g, h));
    gp_graph_free(&h);
    assert_int_equal(gp_gen_barabasi_albert(&h, 200, 3, 78), GP_OK);
    assert_false(same_graph(g, h));
    gp_graph_free(&h);
    gp_graph_free(&g);
    /* WS: n k edges; p = 0 is the ring lattice with degree 2k */
    assert_int_equal(gp_gen_watts_strogatz(&g, 100, 3, 0.0, 1), GP_OK);
    check_simple_undirected(g);
    for (int64_t i = 0; i < 100; i++) assert_int_equal(deg(g, i), 6);
    assert_true(has_edge(g, 0, 99) && has_edge(g, 0, 3) && !has_edge(g, 0, 4));
    gp_graph_free(&g);
    assert_int_equal(gp_gen_watts_strogatz(&g, 100, 3, 0.2, 5), GP_OK);
    check_simple_undirected(g);
    assert_int_equal(gp_graph_edges(g), 2 * 300);
    assert_int_equal(gp_gen_watts_strogatz(&h, 100, 3, 0.2, 5), GP_OK);
    assert_true(same_graph(g, h));
    gp_graph_free(&h);
    assert_int_equal(gp_gen_watts_strogatz(&h, 100, 3, 0.2, 6), GP_OK);
    assert_false(same_graph(g, h));
    gp_graph_free(&h);
    gp_graph_free(&g);
    assert_int_equal(gp_gen_watts_strogatz(&g, 6, 3, 0.2, 5), GP_E_INVALID);
    assert_int_equal(gp_gen_barabasi_albert(&g, 0, 3, 5), GP_E_INVALID);
}

int main(void)
{
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auc_matches_brute_force),
        cmocka_unit_test(test_average_precision_by_hand),
        cmocka_unit_test(test_accuracy_confusion_mean_std),
        cmocka_unit_test(test_link_split_random),
        cmocka_unit_test(test_link_split_dense_and_errors),
        cmocka_unit_test(test_kfold_stratified),
        cmocka_unit_test(test_kfold_files),
        cmocka_unit_test(test_heuristics_by_hand),
        cmocka_unit_test(test_heuristics_dense_reference),
        cmocka_unit_test(test_heuristics_match_igraph),
        cmocka_unit_test(test_heuristic_svd_low_rank),
        cmocka_unit_test(test_heuristic_lookup_and_errors),
        cmocka_unit_test(test_generator_sbm),
        cmocka_unit_test(test_generator_lattices),
        cmocka_unit_test(test_generator_igraph_models),
    };
    int rc = cmocka_run_group_tests_name("eval", tests, NULL, NULL);
    gp_finalize();
    return rc;
}
