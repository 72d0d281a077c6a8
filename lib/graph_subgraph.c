/*
 * Subgraphs: induced subgraphs and k-hop neighbourhoods.
 *
 * Induced: with S = (s_0, ..., s_{k-1}) distinct nodes, the result is B = A[S, S], i.e.
 * b_ij = a_{s_i s_j}: node i of B is node s_i of A (the caller's order is kept; igraph sorts).
 *
 * k-hop: H_0 = the seeds (duplicates dropped, first kept), H_h = the nodes adjacent to H_{h-1}
 * in either direction (in-neighbours from adj rows, out-neighbours from the transpose) and in
 * no earlier H or candidate set, in increasing id order. With a cap c and |H_h| > c, a
 * uniform sample of c of them is kept (in increasing id order); the others are dropped for
 * good, as in SEAL's k_hop_subgraph (Zhang & Chen 2018), so they never reappear later.
 *
 * Both are called once per target link by WalkPool, so neither touches O(n) memory per call:
 * node ids map through a small open-addressing hash table sized by the subgraph, giving
 * O(k + edges touched) expected time however large the graph is.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- id map: open addressing, linear probing, Fibonacci hashing; key -1 = empty ---- */
typedef struct id_map {
    int64_t *key;
    int64_t *val; /* NULL for a set */
    size_t cap;   /* power of two >= 16 */
    int shift;    /* 64 - log2(cap) */
    size_t count;
} id_map;

static gp_status map_alloc(id_map *m, size_t cap, bool with_values)
{
    int bits = 0;
    while (((size_t)1 << bits) < cap) bits++;
    m->cap = (size_t)1 << bits;
    m->shift = 64 - bits;
    m->count = 0;
    m->key = gp_i_malloc(gp_i_mul_size(m->cap, sizeof(int64_t)));
    m->val = with_values ? gp_i_malloc(gp_i_mul_size(m->cap, sizeof(int64_t))) : NULL;
    if (!m->key || (with_values && !m->val)) {
        gp_i_free(m->key);
        gp_i_free(m->val);
        m->key = m->val = NULL;
        return GP_ERR(GP_E_NOMEM, "subgraph: out of memory for a map of %zu ids", cap);
    }
    memset(m->key, 0xff, m->cap * sizeof(int64_t)); /* all -1 */
    return GP_OK;
}

/* A table with room for `expected` keys at load factor <= 1/2. */
static gp_status map_init(id_map *m, int64_t expected, bool with_values)
{
    size_t cap = 16;
    while (cap < 2 * (size_t)expected) cap *= 2;
    return map_alloc(m, cap, with_values);
}

static void map_free(id_map *m)
{
    gp_i_free(m->key);
    gp_i_free(m->val);
    m->key = m->val = NULL;
}

/* The slot holding key, or the empty slot where it would go. */
static inline size_t map_slot(const id_map *m, int64_t key)
{
    size_t s = (size_t)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> m->shift);
    while (m->key[s] != -1 && m->key[s] != key) s = (s + 1) & (m->cap - 1);
    return s;
}

/* Value stored for key, or -1. */
static inline int64_t map_get(const id_map *m, int64_t key)
{
    size_t s = map_slot(m, key);
    return m->key[s] == key ? m->val[s] : -1;
}

/* Insert key into a set that grows as needed; *added tells whether it was new. */
static gp_status set_add(id_map *m, int64_t key, bool *added)
{
    size_t s = map_slot(m, key);
    *added = m->key[s] != key;
    if (!*added) return GP_OK;
    m->key[s] = key;
    m->count++;
    if (2 * m->count <= m->cap) return GP_OK;
    id_map big;
    gp_status st = map_alloc(&big, 2 * m->cap, false);
    if (st != GP_OK) return st;
    for (size_t i = 0; i < m->cap; i++)
        if (m->key[i] != -1) big.key[map_slot(&big, m->key[i])] = m->key[i];
    big.count = m->count;
    map_free(m);
    *m = big;
    return GP_OK;
}

/* ---- sorting (columns with their values; candidate ids) ---- */
static inline void swap_entry(int64_t *idx, float *val, int64_t a, int64_t b)
{
    int64_t t = idx[a];
    idx[a] = idx[b];
    idx[b] = t;
    if (val) {
        float v = val[a];
        val[a] = val[b];
        val[b] = v;
    }
}

static void sift_down(int64_t *idx, float *val, int64_t root, int64_t n)
{
    for (;;) {
        int64_t c = 2 * root + 1;
        if (c >= n) return;
        if (c + 1 < n && idx[c + 1] > idx[c]) c++;
        if (idx[root] >= idx[c]) return;
        swap_entry(idx, val, root, c);
        root = c;
    }
}

/* Sort idx[0..n) ascending, moving val (may be NULL) along: O(n) when already sorted,
 * insertion sort for short rows, heapsort (O(n log n), in place) for long ones. */
static void sort_entries(int64_t *idx, float *val, int64_t n)
{
    int64_t i = 1;
    while (i < n && idx[i - 1] < idx[i]) i++;
    if (i >= n) return;
    if (n <= 32) {
        for (i = 1; i < n; i++) {
            int64_t c = idx[i];
            float v = val ? val[i] : 0.0f;
            int64_t j = i;
            for (; j > 0 && idx[j - 1] > c; j--) {
                idx[j] = idx[j - 1];
                if (val) val[j] = val[j - 1];
            }
            idx[j] = c;
            if (val) val[j] = v;
        }
        return;
    }
    for (i = n / 2 - 1; i >= 0; i--) sift_down(idx, val, i, n);
    for (int64_t end = n - 1; end > 0; end--) {
        swap_entry(idx, val, 0, end);
        sift_down(idx, val, 0, end);
    }
}

/* ---- induced subgraph ---- */

/* Graph ids of the result: graph_of[i] = g->graph_of[nodes[i]] when those ids never
 * decrease (then graph_ptr is valid, with empty graphs where nothing was selected);
 * otherwise the result stays the single graph gp_i_graph_wrap made. */
static gp_status induced_graph_ids(gp_graph *r, const gp_graph *g, int64_t k, const int64_t *nodes)
{
    if (g->num_graphs == 1) return GP_OK;
    for (int64_t i = 1; i < k; i++)
        if (g->graph_of[nodes[i]] < g->graph_of[nodes[i - 1]]) return GP_OK;
    int64_t *ptr = gp_i_calloc((size_t)g->num_graphs + 1, sizeof(int64_t));
    if (!ptr) return GP_ERR(GP_E_NOMEM, "gp_graph_induced: out of memory");
    for (int64_t i = 0; i < k; i++) ptr[g->graph_of[nodes[i]] + 1]++;
    for (int64_t b = 0; b < g->num_graphs; b++) ptr[b + 1] += ptr[b];
    gp_status st = gp_i_graph_set_batch(r, g->num_graphs, ptr);
    gp_i_free(ptr);
    return st;
}

gp_status gp_graph_induced(gp_graph **out, const gp_graph *g, int64_t k, const int64_t *nodes)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_graph_induced: out is NULL");
    *out = NULL;
    if (!g || k < 0 || (k > 0 && !nodes))
        return GP_ERR(GP_E_INVALID, "gp_graph_induced: bad arguments (g %s, k = %lld, nodes %s)",
                      g ? "set" : "NULL", (long long)k, nodes ? "set" : "NULL");
    GP_I_EXPLICIT(g);
    const gp_csr *a = &g->adj;
    int64_t n = a->rows;
    gp_status st;
    id_map map = {0};
    gp_csr *s = NULL;
    gp_graph *r = NULL;
    GP_TRY(map_init(&map, k, true)); /* old id -> new id */
    int64_t bound = 0;
    for (int64_t i = 0; i < k; i++) {
        int64_t v = nodes[i];
        if (v < 0 || v >= n) {
            st = GP_ERR(GP_E_RANGE, "gp_graph_induced: nodes[%lld] = %lld is outside [0, %lld)",
                        (long long)i, (long long)v, (long long)n);
            goto fail;
        }
        size_t slot = map_slot(&map, v);
        if (map.key[slot] == v) {
            st = GP_ERR(GP_E_INVALID, "gp_graph_induced: node %lld appears twice (nodes[%lld] and nodes[%lld])",
                        (long long)v, (long long)map.val[slot], (long long)i);
            goto fail;
        }
        map.key[slot] = v;
        map.val[slot] = i;
        bound += a->ptr[v + 1] - a->ptr[v];
    }
    /* One pass into arrays sized by the edges touched, then shrink to the edges kept. */
    GP_TRY(gp_csr_new(&s, k, k, bound, a->val != NULL));
    int64_t w = 0;
    for (int64_t i = 0; i < k; i++) {
        int64_t u = nodes[i], start = w;
        s->ptr[i] = w;
        for (int64_t p = a->ptr[u]; p < a->ptr[u + 1]; p++) {
            int64_t j = map_get(&map, a->idx[p]);
            if (j < 0) continue;
            s->idx[w] = j;
            if (s->val) s->val[w] = a->val[p];
            w++;
        }
        sort_entries(s->idx + start, s->val ? s->val + start : NULL, w - start);
    }
    s->ptr[k] = w;
    s->nnz = w;
    if (w < bound) { /* shrinking cannot lose data; on failure keep the larger block */
        int64_t *idx = gp_i_realloc(s->idx, gp_i_mul_size((size_t)w, sizeof(int64_t)));
        if (idx) s->idx = idx;
        if (s->val) {
            float *val = gp_i_realloc(s->val, gp_i_mul_size((size_t)w, sizeof(float)));
            if (val) s->val = val;
        }
    }
    GP_TRY(gp_i_graph_wrap(&r, &s, g->symmetric));
    GP_TRY(induced_graph_ids(r, g, k, nodes));
    map_free(&map);
    *out = r;
    return GP_OK;
fail:
    map_free(&map);
    gp_csr_free(&s);
    gp_graph_free(&r);
    return st;
}

/* ---- k-hop neighbourhood ---- */

static int cmp_id(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return (a > b) - (a < b);
}

typedef struct id_list {
    int64_t *v;
    int64_t len, cap;
} id_list;

static gp_status list_push(id_list *l, int64_t x)
{
    if (l->len == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        int64_t *v = gp_i_realloc(l->v, gp_i_mul_size((size_t)cap, sizeof(int64_t)));
        if (!v) return GP_ERR(GP_E_NOMEM, "gp_graph_khop: out of memory for %lld nodes", (long long)cap);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->len++] = x;
    return GP_OK;
}

/* Append the unseen nodes of row u of m to the list, marking them seen. */
static gp_status add_row(id_list *l, id_map *seen, const gp_csr *m, int64_t u)
{
    for (int64_t p = m->ptr[u]; p < m->ptr[u + 1]; p++) {
        bool added;
        gp_status st = set_add(seen, m->idx[p], &added);
        if (st != GP_OK) return st;
        if (added && (st = list_push(l, m->idx[p])) != GP_OK) return st;
    }
    return GP_OK;
}

gp_status gp_graph_khop(int64_t **nodes, int64_t *count, int64_t *hop_ptr, const gp_graph *g,
                        int64_t num_seeds, const int64_t *seeds, int hops, int64_t max_per_hop,
                        gp_rng *rng)
{
    if (!nodes || !count) return GP_ERR(GP_E_INVALID, "gp_graph_khop: nodes or count is NULL");
    *nodes = NULL;
    *count = 0;
    if (!g || num_seeds < 0 || (num_seeds > 0 && !seeds) || hops < 0 || max_per_hop < 0)
        return GP_ERR(GP_E_INVALID,
                      "gp_graph_khop: bad arguments (g %s, num_seeds = %lld, seeds %s, hops = %d, "
                      "max_per_hop = %lld)",
                      g ? "set" : "NULL", (long long)num_seeds, seeds ? "set" : "NULL", hops,
                      (long long)max_per_hop);
    if (max_per_hop > 0 && !rng)
        return GP_ERR(GP_E_INVALID, "gp_graph_khop: max_per_hop = %lld needs an rng",
                      (long long)max_per_hop);
    GP_I_EXPLICIT(g);
    int64_t n = g->adj.rows;
    for (int64_t i = 0; i < num_seeds; i++)
        if (seeds[i] < 0 || seeds[i] >= n)
            return GP_ERR(GP_E_RANGE, "gp_graph_khop: seeds[%lld] = %lld is outside [0, %lld)",
                          (long long)i, (long long)seeds[i], (long long)n);
    gp_status st;
    const gp_csr *t = NULL; /* out-neighbours; NULL for a symmetric graph (rows suffice) */
    if (!g->symmetric && hops > 0) {
        /* Fills g's transpose cache on first use: g is logically const (see graph.h). */
        st = gp_graph_transpose(&t, NULL, (gp_graph *)g);
        if (st != GP_OK) return st;
    }
    id_map seen = {0};
    id_list l = {0};
    GP_TRY(map_init(&seen, num_seeds, false));
    for (int64_t i = 0; i < num_seeds; i++) {
        bool added;
        GP_TRY(set_add(&seen, seeds[i], &added));
        if (added) GP_TRY(list_push(&l, seeds[i]));
    }
    if (hop_ptr) hop_ptr[0] = 0, hop_ptr[1] = l.len;
    int64_t begin = 0; /* the previous hop is l.v[begin, end) */
    for (int h = 1; h <= hops; h++) {
        int64_t end = l.len;
        if (begin == end) { /* nothing left to expand: the remaining hops are empty */
            if (hop_ptr)
                for (; h <= hops; h++) hop_ptr[h + 1] = end;
            break;
        }
        for (int64_t q = begin; q < end; q++) {
            GP_TRY(add_row(&l, &seen, &g->adj, l.v[q]));
            if (t) GP_TRY(add_row(&l, &seen, t, l.v[q]));
        }
        int64_t found = l.len - end;
        int64_t *cand = l.v + end;
        qsort(cand, (size_t)found, sizeof(int64_t), cmp_id);
        if (max_per_hop > 0 && found > max_per_hop) {
            /* Partial Fisher-Yates over the sorted candidates: a uniform max_per_hop-subset. */
            for (int64_t i = 0; i < max_per_hop; i++) {
                int64_t j = i + (int64_t)gp_rng_below(rng, (uint64_t)(found - i));
                int64_t tmp = cand[i];
                cand[i] = cand[j];
                cand[j] = tmp;
            }
            qsort(cand, (size_t)max_per_hop, sizeof(int64_t), cmp_id);
            l.len = end + max_per_hop;
        }
        if (hop_ptr) hop_ptr[h + 1] = l.len;
        begin = end;
    }
    map_free(&seen);
    int64_t len = l.len;
    if (!l.v) GP_TRY(list_push(&l, 0)); /* a block the caller can gp_free even when empty */
    *nodes = l.v;
    *count = len;
    return GP_OK;
fail:
    map_free(&seen);
    gp_i_free(l.v);
    return st;
}
