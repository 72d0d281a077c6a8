/*
 * Splits: link-prediction splits (random, observed graph, train -> validation moves) and
 * k-fold cross-validation for graph classification (stratified, or read from index files).
 *
 * Negative sampling draws u, v independently and uniformly in [0, n), rejects u == v, orders
 * the pair and rejects avoided or already drawn pairs: each accepted pair is uniform over the
 * allowed unordered pairs. When the negatives needed exceed a quarter of the allowed pairs,
 * rejection would crawl, so the allowed pairs are enumerated and a partial Fisher-Yates
 * shuffle picks them (the same distribution).
 *
 * Stratified folds: classes in turn, items of a class shuffled, dealt round-robin with the
 * deal continuing across classes: position i -> fold i mod k. n_c consecutive positions cover
 * each residue floor(n_c / k) or ceil(n_c / k) times, so per-class counts per fold differ by
 * at most 1. A validation set is carved by the same idea: training items ordered by class
 * (shuffled within), position i is validation iff floor((i + 1) r) > floor(i r).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include <graphpool/splits.h>

#include "internal.h"

/* ---- gp_link_split object ---- */

gp_status gp_link_split_new(gp_link_split **out, int64_t num_nodes, const int64_t count[GP_LINK_PARTS])
{
    if (!out || !count) return GP_ERR(GP_E_INVALID, "gp_link_split_new: NULL argument");
    *out = NULL;
    if (num_nodes < 0) return GP_ERR(GP_E_INVALID, "gp_link_split_new: num_nodes %lld < 0", (long long)num_nodes);
    for (int p = 0; p < GP_LINK_PARTS; p++)
        if (count[p] < 0)
            return GP_ERR(GP_E_INVALID, "gp_link_split_new: count[%d] = %lld < 0", p, (long long)count[p]);
    gp_link_split *s = gp_i_calloc(1, sizeof *s);
    if (!s) return GP_ERR(GP_E_NOMEM, "gp_link_split_new: out of memory");
    s->num_nodes = num_nodes;
    for (int p = 0; p < GP_LINK_PARTS; p++) {
        s->count[p] = count[p];
        if (count[p] == 0) continue;
        s->pairs[p] = gp_i_malloc(gp_i_mul_size((size_t)count[p], 2 * sizeof(int64_t)));
        if (!s->pairs[p]) {
            gp_link_split_free(&s);
            return GP_ERR(GP_E_NOMEM, "gp_link_split_new: out of memory for %lld pairs", (long long)count[p]);
        }
    }
    *out = s;
    return GP_OK;
}

void gp_link_split_free(gp_link_split **s)
{
    if (!s || !*s) return;
    for (int p = 0; p < GP_LINK_PARTS; p++) gp_i_free((*s)->pairs[p]);
    gp_i_free(*s);
    *s = NULL;
}

/* ---- a set of unordered pairs (open addressing, key u * n + v with u < v) ---- */

typedef struct pair_set {
    uint64_t *keys; /* EMPTY_KEY marks a free slot */
    uint64_t mask;
    int64_t size;
} pair_set;

#define EMPTY_KEY UINT64_MAX

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static gp_status pair_set_init(pair_set *s, int64_t capacity)
{
    uint64_t slots = 16;
    while (slots < 2 * (uint64_t)capacity + 16) slots <<= 1;
    s->keys = gp_i_malloc(gp_i_mul_size((size_t)slots, sizeof(uint64_t)));
    if (!s->keys) return GP_ERR(GP_E_NOMEM, "split: out of memory for a set of %lld pairs", (long long)capacity);
    memset(s->keys, 0xff, (size_t)slots * sizeof(uint64_t));
    s->mask = slots - 1;
    s->size = 0;
    return GP_OK;
}

/* Insert key; true if it was new. The caller sized the set for every insertion. */
static bool pair_set_add(pair_set *s, uint64_t key)
{
    uint64_t h = mix64(key) & s->mask;
    while (s->keys[h] != EMPTY_KEY) {
        if (s->keys[h] == key) return false;
        h = (h + 1) & s->mask;
    }
    s->keys[h] = key;
    s->size++;
    return true;
}

static bool pair_set_has(const pair_set *s, uint64_t key)
{
    uint64_t h = mix64(key) & s->mask;
    while (s->keys[h] != EMPTY_KEY) {
        if (s->keys[h] == key) return true;
        h = (h + 1) & s->mask;
    }
    return false;
}

/* ---- random link split ---- */

/* Draw `need` distinct pairs u < v outside `avoid` into out (2 * need ids). */
static gp_status sample_negatives(int64_t *out, int64_t need, int64_t n, const pair_set *avoid,
                                  gp_rng *rng)
{
    if (need == 0) return GP_OK;
    double total = (double)n * (double)(n - 1) / 2.0;
    double allowed = total - (double)avoid->size;
    if ((double)need > allowed)
        return GP_ERR(GP_E_INVALID, "split: %lld negatives requested but only %.0f non-edge pairs exist",
                      (long long)need, allowed);
    gp_status st = GP_OK;
    if (4.0 * (double)need > allowed && total <= (double)(1 << 26)) {
        /* dense: enumerate the allowed pairs, partial Fisher-Yates */
        int64_t count = (int64_t)allowed, w = 0;
        int64_t *cand = gp_i_malloc(gp_i_mul_size((size_t)count, 2 * sizeof(int64_t)));
        if (!cand) return GP_ERR(GP_E_NOMEM, "split: out of memory for %lld candidate pairs", (long long)count);
        for (int64_t u = 0; u < n; u++)
            for (int64_t v = u + 1; v < n; v++)
                if (!pair_set_has(avoid, (uint64_t)u * (uint64_t)n + (uint64_t)v)) {
                    cand[2 * w] = u;
                    cand[2 * w + 1] = v;
                    w++;
                }
        for (int64_t i = 0; i < need; i++) {
            int64_t j = i + (int64_t)gp_rng_below(rng, (uint64_t)(count - i));
            int64_t a = cand[2 * j], b = cand[2 * j + 1];
            cand[2 * j] = cand[2 * i], cand[2 * j + 1] = cand[2 * i + 1];
            out[2 * i] = a, out[2 * i + 1] = b;
            cand[2 * i] = a, cand[2 * i + 1] = b;
        }
        gp_i_free(cand);
        return GP_OK;
    }
    pair_set drawn = {0};
    if ((st = pair_set_init(&drawn, need)) != GP_OK) return st;
    for (int64_t i = 0; i < need;) {
        int64_t u = (int64_t)gp_rng_below(rng, (uint64_t)n), v = (int64_t)gp_rng_below(rng, (uint64_t)n);
        if (u == v) continue;
        if (u > v) {
            int64_t t = u;
            u = v, v = t;
        }
        uint64_t key = (uint64_t)u * (uint64_t)n + (uint64_t)v;
        if (pair_set_has(avoid, key) || !pair_set_add(&drawn, key)) continue;
        out[2 * i] = u, out[2 * i + 1] = v;
        i++;
    }
    gp_i_free(drawn.keys);
    return GP_OK;
}

gp_status gp_link_split_random(gp_link_split **out, const gp_graph *g, double val_ratio,
                               double test_ratio, gp_neg_mode neg_mode, uint64_t seed)
{
    if (!out || !g) return GP_ERR(GP_E_INVALID, "gp_link_split_random: NULL argument");
    *out = NULL;
    if (!g->symmetric)
        return GP_ERR(GP_E_INVALID, "gp_link_split_random: the graph must be undirected (symmetric)");
    if (!(val_ratio >= 0.0 && test_ratio >= 0.0 && val_ratio + test_ratio <= 1.0))
        return GP_ERR(GP_E_INVALID, "gp_link_split_random: ratios val %g, test %g must be >= 0 with sum <= 1",
                      val_ratio, test_ratio);
    if (neg_mode != GP_NEG_AVOID_ALL_EDGES && neg_mode != GP_NEG_AVOID_TRAIN_EDGES)
        return GP_ERR(GP_E_INVALID, "gp_link_split_random: unknown negative mode %d", (int)neg_mode);
    GP_I_EXPLICIT(g);
    const gp_csr *a = &g->adj;
    int64_t n = a->rows, m = 0;
    if (n > (int64_t)UINT32_MAX) return GP_ERR(GP_E_UNSUPPORTED, "gp_link_split_random: more than 2^32 nodes");
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = a->ptr[i]; k < a->ptr[i + 1]; k++) m += a->idx[k] > i;
    gp_status st = GP_OK;
    int64_t *edges = gp_i_malloc(gp_i_mul_size((size_t)m, 2 * sizeof(int64_t)));
    int64_t *perm = gp_i_malloc(gp_i_mul_size((size_t)m, sizeof(int64_t)));
    int64_t *neg = gp_i_malloc(gp_i_mul_size((size_t)m, 2 * sizeof(int64_t)));
    pair_set avoid = {0};
    gp_link_split *s = NULL;
    if (!edges || !perm || !neg) {
        st = GP_ERR(GP_E_NOMEM, "gp_link_split_random: out of memory for %lld edges", (long long)m);
        goto fail;
    }
    int64_t e = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = a->ptr[i]; k < a->ptr[i + 1]; k++)
            if (a->idx[k] > i) edges[2 * e] = i, edges[2 * e + 1] = a->idx[k], e++;
    for (int64_t i = 0; i < m; i++) perm[i] = i;
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    gp_rng_shuffle(&rng, perm, m);

    int64_t n_test = (int64_t)(test_ratio * (double)m), n_val = (int64_t)(val_ratio * (double)m);
    if (n_test + n_val > m) n_val = m - n_test; /* rounding guard */
    int64_t n_train = m - n_test - n_val;
    /* perm order: test first, then validation, then training */
    int64_t first[3] = {n_test + n_val, n_test, 0}, num[3] = {n_train, n_val, n_test};

    GP_TRY(pair_set_init(&avoid, neg_mode == GP_NEG_AVOID_ALL_EDGES ? m : n_train));
    for (int64_t i = 0; i < m; i++) {
        bool is_train = i >= n_test + n_val;
        if (neg_mode == GP_NEG_AVOID_ALL_EDGES || is_train) {
            const int64_t *p = edges + 2 * perm[i];
            pair_set_add(&avoid, (uint64_t)p[0] * (uint64_t)n + (uint64_t)p[1]);
        }
    }
    GP_TRY(sample_negatives(neg, m, n, &avoid, &rng));

    int64_t count[GP_LINK_PARTS] = {n_train, n_train, n_val, n_val, n_test, n_test};
    GP_TRY(gp_link_split_new(&s, n, count));
    int64_t neg_at = 0;
    for (int part = 0; part < 3; part++) {
        int64_t *pos_out = s->pairs[2 * part], *neg_out = s->pairs[2 * part + 1];
        for (int64_t i = 0; i < num[part]; i++) {
            const int64_t *p = edges + 2 * perm[first[part] + i];
            pos_out[2 * i] = p[0], pos_out[2 * i + 1] = p[1];
            neg_out[2 * i] = neg[2 * neg_at], neg_out[2 * i + 1] = neg[2 * neg_at + 1];
            neg_at++;
        }
    }
    *out = s;
    s = NULL;
fail:
    gp_i_free(edges);
    gp_i_free(perm);
    gp_i_free(neg);
    gp_i_free(avoid.keys);
    gp_link_split_free(&s);
    return st;
}

gp_status gp_link_split_observed(gp_graph **out, const gp_link_split *s, bool with_val)
{
    if (!out || !s) return GP_ERR(GP_E_INVALID, "gp_link_split_observed: NULL argument");
    *out = NULL;
    int64_t ntr = s->count[GP_LINK_TRAIN_POS], nva = with_val ? s->count[GP_LINK_VAL_POS] : 0;
    int64_t m = ntr + nva;
    int64_t *src = gp_i_malloc(gp_i_mul_size((size_t)m, sizeof(int64_t)));
    int64_t *dst = gp_i_malloc(gp_i_mul_size((size_t)m, sizeof(int64_t)));
    gp_status st;
    if (!src || !dst) {
        st = GP_ERR(GP_E_NOMEM, "gp_link_split_observed: out of memory for %lld edges", (long long)m);
        goto done;
    }
    for (int64_t i = 0; i < m; i++) {
        const int64_t *p = i < ntr ? s->pairs[GP_LINK_TRAIN_POS] + 2 * i : s->pairs[GP_LINK_VAL_POS] + 2 * (i - ntr);
        src[i] = p[0], dst[i] = p[1];
    }
    st = gp_graph_from_edges(out, s->num_nodes, m, src, dst, NULL,
                             GP_EDGES_SYMMETRISE | GP_EDGES_DROP_DUPLICATES | GP_EDGES_DROP_SELF_LOOPS);
done:
    gp_i_free(src);
    gp_i_free(dst);
    return st;
}

/* Move floor(fraction * count) random pairs of part `from` to the end of part `to`. */
static gp_status move_pairs(gp_link_split *s, int from, int to, double fraction, gp_rng *rng)
{
    int64_t nf = s->count[from], nt = s->count[to];
    int64_t k = (int64_t)(fraction * (double)nf);
    if (k == 0) return GP_OK;
    int64_t *perm = gp_i_malloc(gp_i_mul_size((size_t)nf, sizeof(int64_t)));
    bool *moved = gp_i_calloc((size_t)nf, sizeof(bool));
    int64_t *keep = gp_i_malloc(gp_i_mul_size((size_t)(nf - k), 2 * sizeof(int64_t)));
    int64_t *grown = gp_i_malloc(gp_i_mul_size((size_t)(nt + k), 2 * sizeof(int64_t)));
    if (!perm || !moved || !keep || !grown) {
        gp_i_free(perm), gp_i_free(moved), gp_i_free(keep), gp_i_free(grown);
        return GP_ERR(GP_E_NOMEM, "gp_link_split_move_to_val: out of memory");
    }
    for (int64_t i = 0; i < nf; i++) perm[i] = i;
    gp_rng_shuffle(rng, perm, nf);
    if (nt) memcpy(grown, s->pairs[to], (size_t)nt * 2 * sizeof(int64_t));
    for (int64_t i = 0; i < k; i++) {
        moved[perm[i]] = true;
        grown[2 * (nt + i)] = s->pairs[from][2 * perm[i]];
        grown[2 * (nt + i) + 1] = s->pairs[from][2 * perm[i] + 1];
    }
    int64_t w = 0;
    for (int64_t i = 0; i < nf; i++)
        if (!moved[i]) keep[2 * w] = s->pairs[from][2 * i], keep[2 * w + 1] = s->pairs[from][2 * i + 1], w++;
    gp_i_free(s->pairs[from]);
    gp_i_free(s->pairs[to]);
    s->pairs[from] = keep;
    s->pairs[to] = grown;
    s->count[from] = nf - k;
    s->count[to] = nt + k;
    gp_i_free(perm);
    gp_i_free(moved);
    return GP_OK;
}

gp_status gp_link_split_move_to_val(gp_link_split *s, double fraction, uint64_t seed)
{
    if (!s) return GP_ERR(GP_E_INVALID, "gp_link_split_move_to_val: NULL split");
    if (!(fraction >= 0.0 && fraction <= 1.0))
        return GP_ERR(GP_E_INVALID, "gp_link_split_move_to_val: fraction %g outside [0, 1]", fraction);
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    gp_status st = move_pairs(s, GP_LINK_TRAIN_POS, GP_LINK_VAL_POS, fraction, &rng);
    if (st != GP_OK) return st;
    return move_pairs(s, GP_LINK_TRAIN_NEG, GP_LINK_VAL_NEG, fraction, &rng);
}

/* ---- k-fold cross-validation ---- */

void gp_cv_folds_free(gp_cv_folds **f)
{
    if (!f || !*f) return;
    if ((*f)->idx)
        for (int64_t i = 0; i < (*f)->k; i++)
            for (int p = 0; p < GP_CV_PARTS; p++) gp_i_free((*f)->idx[i][p]);
    gp_i_free((*f)->idx);
    gp_i_free((*f)->count);
    gp_i_free(*f);
    *f = NULL;
}

static gp_status folds_alloc(gp_cv_folds **out, int64_t k, int64_t n)
{
    gp_cv_folds *f = gp_i_calloc(1, sizeof *f);
    if (!f) return GP_ERR(GP_E_NOMEM, "folds: out of memory");
    f->k = k;
    f->num_items = n;
    f->count = gp_i_calloc((size_t)k, sizeof *f->count);
    f->idx = gp_i_calloc((size_t)k, sizeof *f->idx);
    if (!f->count || !f->idx) {
        gp_cv_folds_free(&f);
        return GP_ERR(GP_E_NOMEM, "folds: out of memory");
    }
    *out = f;
    return GP_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Order items by class (labels may be NULL: one class), shuffled within each class, into
 * out[0..m). Counting sort by class, then a shuffle of each class's run. */
static gp_status order_by_class(int64_t *out, const int64_t *items, int64_t m, const int64_t *labels,
                                int64_t num_classes, gp_rng *rng)
{
    if (!labels || num_classes <= 1) {
        memcpy(out, items, (size_t)m * sizeof(int64_t));
        gp_rng_shuffle(rng, out, m);
        return GP_OK;
    }
    int64_t *start = gp_i_calloc((size_t)num_classes + 1, sizeof(int64_t));
    if (!start) return GP_ERR(GP_E_NOMEM, "folds: out of memory");
    for (int64_t i = 0; i < m; i++) start[labels[items[i]] + 1]++;
    for (int64_t c = 0; c < num_classes; c++) start[c + 1] += start[c];
    for (int64_t i = 0; i < m; i++) out[start[labels[items[i]]]++] = items[i];
    /* start[c] now is the end of class c's run */
    for (int64_t c = 0, b = 0; c < num_classes; c++) {
        gp_rng_shuffle(rng, out + b, start[c] - b);
        b = start[c];
    }
    gp_i_free(start);
    return GP_OK;
}

/* Split fold f's training items (train[0..m)) into its train and validation parts. */
static gp_status carve_validation(gp_cv_folds *folds, int64_t f, const int64_t *train, int64_t m,
                                  const int64_t *labels, int64_t num_classes, double val_ratio,
                                  gp_rng *rng)
{
    int64_t nval = (int64_t)(val_ratio * (double)m);
    int64_t *ordered = gp_i_malloc(gp_i_mul_size((size_t)m, sizeof(int64_t)));
    int64_t *tr = gp_i_malloc(gp_i_mul_size((size_t)(m - nval), sizeof(int64_t)));
    int64_t *va = gp_i_malloc(gp_i_mul_size((size_t)nval, sizeof(int64_t)));
    gp_status st = GP_OK;
    if (!ordered || !tr || !va) {
        st = GP_ERR(GP_E_NOMEM, "folds: out of memory");
        goto fail;
    }
    GP_TRY(order_by_class(ordered, train, m, labels, num_classes, rng));
    int64_t wt = 0, wv = 0;
    for (int64_t i = 0; i < m; i++) {
        bool to_val = (int64_t)((double)(i + 1) * val_ratio) > (int64_t)((double)i * val_ratio);
        if (to_val && wv < nval)
            va[wv++] = ordered[i];
        else
            tr[wt++] = ordered[i];
    }
    if (wv != nval) { /* floating-point edge: fill from the training end (keeps the count exact) */
        while (wv < nval) va[wv++] = tr[--wt];
    }
    qsort(tr, (size_t)wt, sizeof(int64_t), cmp_i64);
    qsort(va, (size_t)wv, sizeof(int64_t), cmp_i64);
    folds->idx[f][GP_CV_TRAIN] = tr;
    folds->idx[f][GP_CV_VAL] = va;
    folds->count[f][GP_CV_TRAIN] = wt;
    folds->count[f][GP_CV_VAL] = wv;
    gp_i_free(ordered);
    return GP_OK;
fail:
    gp_i_free(ordered);
    gp_i_free(tr);
    gp_i_free(va);
    return st;
}

static gp_status count_classes(int64_t *num_classes, int64_t n, const int64_t *labels, const char *who)
{
    int64_t c = 1;
    if (labels)
        for (int64_t i = 0; i < n; i++) {
            if (labels[i] < 0 || labels[i] >= n) /* classes are 0..C-1 with C <= n */
                return GP_ERR(GP_E_RANGE, "%s: label %lld of item %lld is outside [0, %lld)", who,
                              (long long)labels[i], (long long)i, (long long)n);
            if (labels[i] + 1 > c) c = labels[i] + 1;
        }
    *num_classes = c;
    return GP_OK;
}

gp_status gp_cv_stratified(gp_cv_folds **out, int64_t n, const int64_t *labels, int64_t k,
                           double val_ratio, uint64_t seed)
{
    if (!out || !labels) return GP_ERR(GP_E_INVALID, "gp_cv_stratified: NULL argument");
    *out = NULL;
    if (k < 2 || k > n)
        return GP_ERR(GP_E_INVALID, "gp_cv_stratified: need 2 <= k <= n (k = %lld, n = %lld)",
                      (long long)k, (long long)n);
    if (!(val_ratio >= 0.0 && val_ratio < 1.0))
        return GP_ERR(GP_E_INVALID, "gp_cv_stratified: val_ratio %g outside [0, 1)", val_ratio);
    int64_t num_classes = 0;
    gp_status st = count_classes(&num_classes, n, labels, "gp_cv_stratified");
    if (st != GP_OK) return st;
    gp_cv_folds *folds = NULL;
    int64_t *all = gp_i_malloc(gp_i_mul_size((size_t)n, sizeof(int64_t)));
    int64_t *ordered = gp_i_malloc(gp_i_mul_size((size_t)n, sizeof(int64_t)));
    int64_t *fold_of = gp_i_malloc(gp_i_mul_size((size_t)n, sizeof(int64_t)));
    int64_t *train = gp_i_malloc(gp_i_mul_size((size_t)n, sizeof(int64_t)));
    if (!all || !ordered || !fold_of || !train) {
        st = GP_ERR(GP_E_NOMEM, "gp_cv_stratified: out of memory");
        goto fail;
    }
    GP_TRY(folds_alloc(&folds, k, n));
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    for (int64_t i = 0; i < n; i++) all[i] = i;
    GP_TRY(order_by_class(ordered, all, n, labels, num_classes, &rng));
    for (int64_t i = 0; i < n; i++) fold_of[ordered[i]] = i % k;
    for (int64_t f = 0; f < k; f++) {
        int64_t nt = n / k + (f < n % k), w = 0, m = 0;
        int64_t *test = gp_i_malloc(gp_i_mul_size((size_t)nt, sizeof(int64_t)));
        if (!test) {
            st = GP_ERR(GP_E_NOMEM, "gp_cv_stratified: out of memory");
            goto fail;
        }
        for (int64_t i = 0; i < n; i++) {
            if (fold_of[i] == f)
                test[w++] = i;
            else
                train[m++] = i;
        }
        folds->idx[f][GP_CV_TEST] = test;
        folds->count[f][GP_CV_TEST] = w;
        GP_TRY(carve_validation(folds, f, train, m, labels, num_classes, val_ratio, &rng));
    }
    *out = folds;
    folds = NULL;
fail:
    gp_i_free(all);
    gp_i_free(ordered);
    gp_i_free(fold_of);
    gp_i_free(train);
    gp_cv_folds_free(&folds);
    return st;
}

/* Read one index file into a new array; checks syntax and range. */
static gp_status read_index_file(int64_t **out, int64_t *count, const char *path, int64_t num_items)
{
    *out = NULL;
    *count = 0;
    gzFile fp = gzopen(path, "rb");
    if (!fp) return GP_ERR(GP_E_IO, "cannot open fold file %s: %s", path, strerror(errno ? errno : ENOENT));
    gp_status st = GP_OK;
    int64_t cap = 256, n = 0, line = 0;
    int64_t *v = gp_i_malloc((size_t)cap * sizeof(int64_t));
    char buf[256];
    if (!v) {
        st = GP_ERR(GP_E_NOMEM, "fold file %s: out of memory", path);
        goto fail;
    }
    while (gzgets(fp, buf, (int)sizeof buf)) {
        line++;
        size_t len = strlen(buf);
        if (len == sizeof buf - 1 && buf[len - 1] != '\n') {
            st = GP_ERR(GP_E_PARSE, "%s:%lld: line too long", path, (long long)line);
            goto fail;
        }
        char *p = buf;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (*p == '\0') continue; /* blank line */
        errno = 0;
        char *end;
        long long x = strtoll(p, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') end++;
        if (end == p || *end != '\0' || errno == ERANGE) {
            p[strcspn(p, "\r\n")] = '\0'; /* the line without its end, in the message */
            st = GP_ERR(GP_E_PARSE, "%s:%lld: expected one integer index, got \"%.40s\"", path,
                        (long long)line, p);
            goto fail;
        }
        if (x < 0 || x >= num_items) {
            st = GP_ERR(GP_E_RANGE, "%s:%lld: index %lld outside [0, %lld)", path, (long long)line, x,
                        (long long)num_items);
            goto fail;
        }
        if (n == cap) {
            int64_t *bigger = gp_i_realloc(v, gp_i_mul_size((size_t)cap * 2, sizeof(int64_t)));
            if (!bigger) {
                st = GP_ERR(GP_E_NOMEM, "fold file %s: out of memory", path);
                goto fail;
            }
            v = bigger;
            cap *= 2;
        }
        v[n++] = x;
    }
    int errnum = 0;
    const char *msg = gzerror(fp, &errnum);
    if (errnum != Z_OK && errnum != Z_STREAM_END) {
        st = GP_ERR(GP_E_IO, "fold file %s: read error after line %lld (%s)", path, (long long)line, msg);
        goto fail;
    }
    gzclose(fp);
    *out = v;
    *count = n;
    return GP_OK;
fail:
    gzclose(fp);
    gp_i_free(v);
    return st;
}

gp_status gp_cv_read_folds(gp_cv_folds **out, const char *dir, int64_t k, int64_t num_items,
                           const int64_t *labels, double val_ratio, uint64_t seed)
{
    if (!out || !dir) return GP_ERR(GP_E_INVALID, "gp_cv_read_folds: NULL argument");
    *out = NULL;
    if (k < 1 || num_items < 1)
        return GP_ERR(GP_E_INVALID, "gp_cv_read_folds: k = %lld and num_items = %lld must be >= 1",
                      (long long)k, (long long)num_items);
    if (!(val_ratio >= 0.0 && val_ratio < 1.0))
        return GP_ERR(GP_E_INVALID, "gp_cv_read_folds: val_ratio %g outside [0, 1)", val_ratio);
    int64_t num_classes = 0;
    gp_status st = count_classes(&num_classes, num_items, labels, "gp_cv_read_folds");
    if (st != GP_OK) return st;
    gp_cv_folds *folds = NULL;
    int64_t *train = NULL, *test = NULL;
    unsigned char *seen = gp_i_malloc((size_t)num_items);
    size_t plen = strlen(dir) + 64;
    char *path = gp_i_malloc(plen);
    if (!seen || !path) {
        st = GP_ERR(GP_E_NOMEM, "gp_cv_read_folds: out of memory");
        goto fail;
    }
    GP_TRY(folds_alloc(&folds, k, num_items));
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    for (int64_t f = 0; f < k; f++) {
        int64_t ntrain, ntest;
        snprintf(path, plen, "%s/train_idx-%lld.txt", dir, (long long)(f + 1));
        GP_TRY(read_index_file(&train, &ntrain, path, num_items));
        snprintf(path, plen, "%s/test_idx-%lld.txt", dir, (long long)(f + 1));
        GP_TRY(read_index_file(&test, &ntest, path, num_items));
        memset(seen, 0, (size_t)num_items);
        for (int64_t i = 0; i < ntrain; i++) {
            if (seen[train[i]]) {
                st = GP_ERR(GP_E_PARSE, "%s/train_idx-%lld.txt: index %lld appears twice", dir,
                            (long long)(f + 1), (long long)train[i]);
                goto fail;
            }
            seen[train[i]] = 1;
        }
        for (int64_t i = 0; i < ntest; i++) {
            if (seen[test[i]]) {
                st = GP_ERR(GP_E_PARSE, "%s: fold %lld: index %lld is %s", dir, (long long)(f + 1),
                            (long long)test[i],
                            seen[test[i]] == 1 ? "in both train_idx and test_idx" : "twice in test_idx");
                goto fail;
            }
            seen[test[i]] = 2;
        }
        qsort(test, (size_t)ntest, sizeof(int64_t), cmp_i64);
        folds->idx[f][GP_CV_TEST] = test;
        folds->count[f][GP_CV_TEST] = ntest;
        test = NULL;
        GP_TRY(carve_validation(folds, f, train, ntrain, labels, num_classes, val_ratio, &rng));
        gp_i_free(train);
        train = NULL;
    }
    *out = folds;
    folds = NULL;
fail:
    gp_i_free(seen);
    gp_i_free(path);
    gp_i_free(train);
    gp_i_free(test);
    gp_cv_folds_free(&folds);
    return st;
}
