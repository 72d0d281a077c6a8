/*
 * k-ary / local relational pooling (Murphy, Srinivasan, Rao, Ribeiro, ICML 2019, section 4:
 * "k-ary relational pooling"): the permutation-sensitive function (base GNN on RP position ids)
 * is applied to small node subsets and pooled over the subsets,
 *
 *   f(G) = 1/|S| sum_{s in S} 1/|P_s| sum_{pi in P_s} sum_{u in s} GNN(A[s,s], [X_s, I_pi])_u
 *
 * S: node subsets of G, A[s,s] / X_s the subgraph induced by s and its features, I_pi[i] =
 * onehot(pi(i) mod width) the position id of the i-th node of s (s in increasing node order).
 *
 *   subsets (mode=subset): all k-subsets when C(n, k) <= samples, else `samples` uniformly random
 *     k-subsets (independent draws, so repeats are possible: an unbiased estimate of the mean).
 *   subsets (mode=neighbourhood): one per root node (all roots when n <= samples, else `samples`
 *     distinct random roots): the root and its 1-hop neighbours, truncated to k nodes by a
 *     uniform sample of k - 1 neighbours (no truncation when deg <= k - 1; subsets may then be
 *     smaller than k).
 *   a graph with n < k nodes: its one subset is the whole graph; an empty graph: one empty copy.
 *   orderings: training (pi-SGD) one random ordering per subset; inference P orderings per
 *     subset, P = kmax! (every ordering: exact) if kmax! <= perms, else perms (kmax: the largest
 *     subset of the graph). A subset of m nodes with m! dividing P cycles through all of its m!
 *     orderings (each P / m! times, so every subset keeps the same weight); otherwise P random
 *     orderings. Inference draws come from a generator re-seeded at every call (deterministic).
 *
 *   expand:  one copy per (subset, ordering): the induced subgraph, x'_u = [x_u | e_{pi(i) mod
 *            width}] (node_dim = in_dim + width); the copies of input graph b (or input group)
 *            form one output group. The structure is built per copy (k nodes each, only the
 *            induced edges), never the whole graph.
 *   readout: h_G = mean over the copies c of G of sum_{u in c} h_u (segment sum, segment mean).
 *
 * Gradients (tape ops): dx_u = sum over the copies holding u of the first in_dim columns of dx'
 * (gather_rows backward; the ids are constants); readout: dh_u = dh_G / (copies of G).
 * Options: k=3 (1..8), mode=subset|neighbourhood, samples=32, width=k, perms=6.
 */
#include <string.h>

#include "rp_internal.h"

typedef struct rplocal_state {
    int64_t k, samples, width, perms;
    bool neighbourhood;
    gp_rng rng;         /* training draws */
    uint64_t eval_seed; /* inference draws */
} rplocal_state;

static int64_t factorial(int64_t n)
{
    int64_t f = 1;
    for (int64_t i = 2; i <= n; i++) f *= i;
    return f;
}

/* C(n, m), or cap + 1 if it exceeds cap (cap <= 1e6, so no overflow for n < 2^43). */
static int64_t binom_capped(int64_t n, int64_t m, int64_t cap)
{
    int64_t c = 1;
    for (int64_t i = 1; i <= m; i++) {
        c = c * (n - m + i) / i; /* C(n - m + i, i), exact */
        if (c > cap) return cap + 1;
    }
    return c;
}

/* Next permutation in lexicographic order; after the last one, p is reset to sorted. */
static void next_permutation(int64_t *p, int64_t n)
{
    int64_t i = n - 2;
    while (i >= 0 && p[i] >= p[i + 1]) i--;
    if (i >= 0) {
        int64_t j = n - 1;
        while (p[j] <= p[i]) j--;
        int64_t tmp = p[i];
        p[i] = p[j], p[j] = tmp;
    }
    for (int64_t a = i + 1, b = n - 1; a < b; a++, b--) {
        int64_t tmp = p[a];
        p[a] = p[b], p[b] = tmp;
    }
}

static void sort_small(int64_t *v, int64_t n)
{
    for (int64_t i = 1; i < n; i++)
        for (int64_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int64_t tmp = v[j];
            v[j] = v[j - 1], v[j - 1] = tmp;
        }
}

/* m distinct uniform values of pool[0..n) into out (partial Fisher-Yates, undone afterwards so
 * pool is unchanged; swap: m scratch entries). */
static void sample_distinct(gp_rng *rng, int64_t *pool, int64_t n, int64_t m, int64_t *out,
                            int64_t *swap)
{
    for (int64_t i = 0; i < m; i++) {
        int64_t j = i + (int64_t)gp_rng_below(rng, (uint64_t)(n - i));
        swap[i] = j;
        int64_t tmp = pool[i];
        pool[i] = pool[j], pool[j] = tmp;
        out[i] = pool[i];
    }
    for (int64_t i = m - 1; i >= 0; i--) {
        int64_t j = swap[i], tmp = pool[i];
        pool[i] = pool[j], pool[j] = tmp;
    }
}

static bool push_subset(i64_list *nodes, i64_list *len, const int64_t *s, int64_t m)
{
    for (int64_t i = 0; i < m; i++)
        if (!list_push(nodes, s[i])) return false;
    return list_push(len, m);
}

static gp_status rplocal_init(gp_module *m, void **state, const gp_pool_options *opt, gp_rng *rng,
                              int64_t *readout_dim, int64_t *node_dim)
{
    gp_status st;
    rplocal_state *s = gp_i_calloc(1, sizeof *s);
    if (!s) return GP_ERR(GP_E_NOMEM, "rplocal: out of memory");
    *state = s;
    const char *mode = NULL;
    GP_TRY(gp_pool_opt_int(opt, "rplocal", "k", 3, 1, 8, &s->k));
    GP_TRY(gp_pool_opt_string(opt, "rplocal", "mode", "subset", &mode));
    if (strcmp(mode, "subset") != 0 && strcmp(mode, "neighbourhood") != 0 &&
        strcmp(mode, "neighborhood") != 0) {
        st = GP_ERR(GP_E_INVALID, "rplocal: option mode=%s: expected subset or neighbourhood", mode);
        goto fail;
    }
    s->neighbourhood = strcmp(mode, "subset") != 0;
    GP_TRY(gp_pool_opt_int(opt, "rplocal", "samples", 32, 1, 1000000, &s->samples));
    GP_TRY(gp_pool_opt_int(opt, "rplocal", "width", s->k, 1, 1 << 20, &s->width));
    GP_TRY(gp_pool_opt_int(opt, "rplocal", "perms", 6, 1, 1000000, &s->perms));
    gp_rng_split(&s->rng, rng);
    s->eval_seed = gp_rng_u64(rng);
    *node_dim = m->in_dim + s->width;
    *readout_dim = m->in_dim;
fail:
    return st;
}

/* Subsets of graph [first, first + n) appended to nodes / len (local ids, increasing in each
 * subset); *kmax receives the largest subset size. Scratch (max_n >= n, max degree + 1): pool
 * (max_n) = identity on entry and on return, work (2 max_n), swap (max_n + 8). */
static gp_status graph_subsets(gp_tape *t, const rplocal_state *s, gp_rng *rng, const gp_csr *a,
                               int64_t first, int64_t n, i64_list *nodes, i64_list *len,
                               int64_t *kmax, int64_t *pool, int64_t *work, int64_t *swap)
{
    int64_t pick[8], sub[8];
    *kmax = 0;
    if (!s->neighbourhood) {
        int64_t m = n < s->k ? n : s->k;
        *kmax = m;
        if (binom_capped(n, m, s->samples) <= s->samples) { /* every m-subset, lexicographic */
            for (int64_t i = 0; i < m; i++) sub[i] = i;
            for (;;) {
                if (!push_subset(nodes, len, sub, m)) goto nomem;
                int64_t i = m - 1;
                while (i >= 0 && sub[i] == n - m + i) i--;
                if (i < 0) break;
                sub[i]++;
                for (int64_t j = i + 1; j < m; j++) sub[j] = sub[j - 1] + 1;
            }
        } else {
            for (int64_t r = 0; r < s->samples; r++) {
                sample_distinct(rng, pool, n, m, sub, swap);
                sort_small(sub, m);
                if (!push_subset(nodes, len, sub, m)) goto nomem;
            }
        }
        return GP_OK;
    }
    int64_t roots = n <= s->samples ? n : s->samples;
    int64_t *root = work; /* roots, then reused below for the neighbours of each root */
    if (roots == n)
        for (int64_t v = 0; v < n; v++) root[v] = v;
    else
        sample_distinct(rng, pool, n, roots, root, swap);
    for (int64_t r = 0; r < roots; r++) {
        int64_t v = root[r], deg = 0;
        int64_t *nb = work + n; /* capacity: max degree */
        for (int64_t e = a->ptr[first + v]; e < a->ptr[first + v + 1]; e++) {
            int64_t u = a->idx[e] - first;
            if (u < 0 || u >= n)
                return GP_TAPE_FAIL(t, GP_E_INVALID, "rplocal: an edge leaves its graph of the batch");
            if (u != v && (deg == 0 || nb[deg - 1] != u)) nb[deg++] = u;
        }
        int64_t take = deg < s->k - 1 ? deg : s->k - 1;
        if (take < deg) {
            sample_distinct(rng, nb, deg, take, pick, swap);
        } else {
            for (int64_t i = 0; i < take; i++) pick[i] = nb[i];
        }
        sub[0] = v;
        for (int64_t i = 0; i < take; i++) sub[i + 1] = pick[i];
        sort_small(sub, take + 1);
        if (take + 1 > *kmax) *kmax = take + 1;
        if (!push_subset(nodes, len, sub, take + 1)) goto nomem;
    }
    return GP_OK;
nomem:
    return GP_TAPE_FAIL(t, GP_E_NOMEM, "rplocal: out of memory for the subsets");
}

static gp_status rplocal_expand(gp_module *m, void *state, gp_tape *t, const gp_pool_batch *in,
                                gp_pool_batch *out)
{
    (void)m;
    rplocal_state *s = state;
    const gp_graph *g = in->graph;
    const gp_csr *a = &g->adj;
    const int64_t graphs = g->num_graphs, *gptr = g->graph_ptr;
    bool training = gp_tape_training(t);
    gp_rng eval_rng, *rng = &s->rng;
    if (!training) {
        gp_rng_seed(&eval_rng, s->eval_seed);
        rng = &eval_rng;
    }
    gp_status st = GP_OK;
    i64_list sub_nodes = {0}, sub_len = {0};
    gp_csr *adj = NULL;
    gp_graph *rep = NULL;
    int64_t *scratch = NULL, *ptr = NULL, *sub_nnz = NULL;
    int64_t *copies = gp_tape_alloc(t, (size_t)graphs * sizeof(int64_t));
    int64_t *reps = gp_tape_alloc(t, (size_t)graphs * sizeof(int64_t));
    int64_t *nsub = gp_tape_alloc(t, (size_t)graphs * sizeof(int64_t));
    int64_t max_n = 1;
    for (int64_t b = 0; b < graphs; b++) {
        int64_t n = gptr[b + 1] - gptr[b];
        if (n > max_n) max_n = n;
        for (int64_t v = gptr[b]; v < gptr[b + 1]; v++)
            if (a->ptr[v + 1] - a->ptr[v] + 1 > max_n) max_n = a->ptr[v + 1] - a->ptr[v] + 1;
    }
    scratch = gp_i_malloc((size_t)(5 * max_n + 8) * sizeof(int64_t));
    if (!copies || !reps || !nsub || !scratch) {
        st = GP_TAPE_FAIL(t, GP_E_NOMEM, "rplocal: out of memory");
        goto done;
    }
    /* pool: identity (sampling); mark: -1 or the position of a node in the current subset;
     * work: 2 * max_n (roots and neighbours); swap: max_n + 8 */
    int64_t *pool = scratch, *mark = scratch + max_n, *work = scratch + 2 * max_n;
    int64_t *swap = scratch + 4 * max_n;
    for (int64_t i = 0; i < max_n; i++) pool[i] = i, mark[i] = -1;
    /* 1. subsets and orderings per graph */
    int64_t total_graphs = 0;
    for (int64_t b = 0; b < graphs; b++) {
        int64_t first = gptr[b], n = gptr[b + 1] - first, before = sub_len.n, kmax = 0;
        if (n == 0) {
            if (!list_push(&sub_len, 0)) {
                st = GP_TAPE_FAIL(t, GP_E_NOMEM, "rplocal: out of memory");
                goto done;
            }
        } else if ((st = graph_subsets(t, s, rng, a, first, n, &sub_nodes, &sub_len, &kmax, pool,
                                       work, swap)) != GP_OK) {
            goto done;
        }
        nsub[b] = sub_len.n - before;
        int64_t all_orderings = factorial(kmax);
        reps[b] = training ? 1 : all_orderings <= s->perms ? all_orderings : s->perms;
        copies[b] = nsub[b] * reps[b];
        total_graphs += copies[b];
    }
    /* 2. induced edges per subset, totals */
    sub_nnz = gp_i_malloc((size_t)(sub_len.n > 0 ? sub_len.n : 1) * sizeof(int64_t));
    if (!sub_nnz) {
        st = GP_TAPE_FAIL(t, GP_E_NOMEM, "rplocal: out of memory");
        goto done;
    }
    int64_t total_nodes = 0, total_nnz = 0;
    for (int64_t b = 0, si = 0, off = 0; b < graphs; b++) {
        int64_t first = gptr[b], n = gptr[b + 1] - first;
        for (int64_t j = 0; j < nsub[b]; j++, si++) {
            const int64_t *sn = sub_nodes.v + off;
            int64_t mlen = sub_len.v[si], e_count = 0;
            for (int64_t i = 0; i < mlen; i++) mark[sn[i]] = i;
            for (int64_t i = 0; i < mlen; i++)
                for (int64_t e = a->ptr[first + sn[i]]; e < a->ptr[first + sn[i] + 1]; e++) {
                    int64_t u = a->idx[e] - first;
                    if (u < 0 || u >= n) {
                        for (int64_t q = 0; q < mlen; q++) mark[sn[q]] = -1;
                        st = GP_TAPE_FAIL(t, GP_E_INVALID,
                                          "rplocal: an edge leaves graph %lld of the batch", (long long)b);
                        goto done;
                    }
                    e_count += mark[u] >= 0;
                }
            for (int64_t i = 0; i < mlen; i++) mark[sn[i]] = -1;
            sub_nnz[si] = e_count;
            total_nodes += mlen * reps[b];
            total_nnz += e_count * reps[b];
            off += mlen;
        }
    }
    /* 3. the copies: structure, source nodes, position ids */
    int64_t *src = gp_tape_alloc(t, (size_t)(total_nodes > 0 ? total_nodes : 1) * sizeof(int64_t));
    gp_tensor *ids = gp_tape_tensor(t, total_nodes, s->width);
    ptr = gp_i_malloc((size_t)(total_graphs + 1) * sizeof(int64_t));
    if (!src || !ids || !ptr) {
        st = GP_TAPE_FAIL(t, GP_E_NOMEM, "rplocal: out of memory for %lld copied nodes",
                          (long long)total_nodes);
        goto done;
    }
    if ((st = gp_csr_new(&adj, total_nodes, total_nodes, total_nnz, a->val != NULL)) != GP_OK) {
        GP_TAPE_FAIL(t, st, "rplocal: %s", gp_last_error_message());
        goto done;
    }
    int64_t row = 0, k_out = 0, c_out = 0, perm[8];
    adj->ptr[0] = 0;
    ptr[0] = 0;
    for (int64_t b = 0, si = 0, off = 0; b < graphs; b++) {
        int64_t first = gptr[b];
        for (int64_t j = 0; j < nsub[b]; j++, si++) {
            const int64_t *sn = sub_nodes.v + off;
            int64_t mlen = sub_len.v[si];
            bool cyclic = reps[b] % factorial(mlen) == 0; /* every ordering, equally often */
            for (int64_t i = 0; i < mlen; i++) mark[sn[i]] = i, perm[i] = i;
            for (int64_t c = 0; c < reps[b]; c++) {
                if (!cyclic) gp_rng_shuffle(rng, perm, mlen);
                else if (c > 0) next_permutation(perm, mlen);
                int64_t base = row;
                for (int64_t i = 0; i < mlen; i++) {
                    int64_t v = first + sn[i];
                    for (int64_t e = a->ptr[v]; e < a->ptr[v + 1]; e++) {
                        int64_t pos = mark[a->idx[e] - first];
                        if (pos < 0) continue;
                        adj->idx[k_out] = base + pos;
                        if (a->val) adj->val[k_out] = a->val[e];
                        k_out++;
                    }
                    src[row] = v;
                    ids->data[row * s->width + perm[i] % s->width] = 1.0f;
                    adj->ptr[++row] = k_out;
                }
                ptr[++c_out] = row;
            }
            for (int64_t i = 0; i < mlen; i++) mark[sn[i]] = -1;
            off += mlen;
        }
    }
    if ((st = gp_i_graph_wrap(&rep, &adj, g->symmetric)) != GP_OK ||
        (st = gp_i_graph_set_batch(rep, total_graphs, ptr)) != GP_OK) {
        GP_TAPE_FAIL(t, st, "rplocal: %s", gp_last_error_message());
        goto done;
    }
    out->graph = rep;
    out->owns_graph = true;
    rep = NULL;
    if ((st = gp_i_rp_groups(t, in, copies, out)) != GP_OK) goto done;
    gp_tensor *x = gp_gather_rows(t, in->x, src, total_nodes);
    out->x = gp_concat_cols(t, 2, (gp_tensor *[]){x, ids});
    st = gp_tape_status(t);
done:
    gp_csr_free(&adj);
    gp_graph_free(&rep);
    gp_i_free(ptr);
    gp_i_free(sub_nnz);
    gp_i_free(sub_nodes.v);
    gp_i_free(sub_len.v);
    gp_i_free(scratch);
    return st;
}

static gp_tensor *rplocal_readout(gp_module *m, void *state, gp_tape *t, const gp_pool_batch *in)
{
    (void)m;
    (void)state;
    const gp_graph *g = in->graph;
    gp_tensor *per_copy = gp_segment_sum(t, in->x, g->graph_ptr, g->num_graphs);
    return gp_i_pool_group_mean(t, in, per_copy);
}

const gp_pool_class gp_i_pool_rplocal = {
    "rplocal",
    "k-ary / local relational pooling: k=3, mode=subset|neighbourhood, samples=32, width=k, "
    "perms=6; readout: sum per copy, mean over the copies of a graph",
    GP_POOL_EXPAND | GP_POOL_READOUT, rplocal_init, rplocal_readout, NULL, rplocal_expand, NULL};
