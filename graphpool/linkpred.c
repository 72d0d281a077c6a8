/*
 * WalkPool link prediction: subgraph extraction, model, training (linkpred.h).
 *
 * Forward per batch of B links (block-diagonal G+, nodes of link l at [o_l, o_l + n_l), a = o_l,
 * b = o_l + 1):
 *   X = [ones | attributes] (| DRNL embedding E[z]),   H1 = GCN1(X),
 *   H_{i+1} = GCN_{i+1}(dropout(relu(H_i))),          Z = [X | H1 | ... | HL]
 *   Q = W2 dropout(lrelu(W1 Z + c1)) + c2 (same shape for K),   s_h(u->v) = <Q_h[u], K_h[v]>/sqrt(d)
 *   F = gp_walkpool(s),  y = MLP(BN(F)),  loss = mean (sigmoid(y) - label)^2  or BCE(y, label).
 * Gradients come from the ops used. The three stages (encoder, walk profile, classifier) run on
 * separate tapes chained by gp_tape_backward_from, so each stage's forward + backward time is
 * measured exactly. With 2+ threads a batch is cut in two halves whose encoder + walk profile
 * run on one thread each (library serial inside; the second half trains a replica of the
 * encoder's weights, synchronised before the batch, whose gradients are added to the model's
 * afterwards), and the classifier runs on the whole batch.
 * Subgraphs: G+ is built from the induced subgraph's sorted rows by inserting the target's two
 * entries (O(n + m), no sort), then stored compactly (its upper triangle and node ids as narrow
 * unsigned integers, see "Compact storage" below); each batch's block-diagonal G+ is rebuilt
 * from that form, the same graph gp_graph_batch of the samples' G+ would give.
 *
 * DRNL (Zhang & Chen 2018), on G- inside the subgraph: d_a = distance to a without b,
 * d_b = distance to b without a, d = d_a + d_b, z = 1 + min(d_a, d_b) + (d/2)(d/2 + d%2 - 1),
 * z(a) = z(b) = 1, unreachable 0.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <graphpool/graphpool.h>
#include <graphpool/layers.h>
#include <graphpool/linkpred.h>
#include <graphpool/metrics.h>
#include <graphpool/walkpool.h>

#include "internal.h"

void gp_linkpred_options_default(gp_linkpred_options *opt)
{
    if (!opt) return;
    *opt = (gp_linkpred_options){
        .hops = 2,
        .max_nodes_per_hop = 0,
        .ones_dim = 16,
        .drnl = false,
        .drnl_dim = 32,
        .drnl_max_label = 64,
        .gnn_layers = 2,
        .hidden = 32,
        .heads = 2,
        .walk_len = 7,
        .dropout = 0.5f,
        .torch_init = false,
        .bce = false,
        .lr = 5e-5f,
        .batch_size = 32,
        .epochs = 50,
        .seed = 1,
        .threads = 0,
    };
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ======================================================================================== */
/* Subgraph extraction                                                                      */

/*
 * Compact storage. Each sample is kept as a few packed arrays of unsigned integers of the
 * smallest width (1, 2, 4 or 8 bytes) that holds their values, inside one pool block per chunk
 * of LP_CHUNK samples:
 *   nodes   n values: observed-graph id of each local node (width from the observed node count)
 *   drnl    n values: DRNL labels < drnl_max_label (only with opt->drnl)
 *   up_deg  n values: entries of row v of G+ with column > v
 *   up_idx  m/2 values: those columns, ascending per row
 * (the last two with the width that holds n - 1). G+ is symmetric without self-loops and its rows
 * are sorted, so its upper triangle determines it: row v is {u < v : v in up(u)} in increasing u,
 * then up(v) (rebuilt per batch, O(n + m); see rebuild_*). Values are read and written with
 * memcpy, so nothing needs alignment.
 */
typedef struct lp_rec {
    const unsigned char *data; /* in a pool block */
    int64_t n, m;              /* nodes, stored entries of G+ (both directions) */
} lp_rec;

#define LP_CHUNK 4096 /* samples extracted (in parallel) before they are packed into one block */

struct gp_linkpred_samples {
    int64_t count;
    lp_rec *rec;
    int nodes_w, drnl_w;     /* widths in bytes; drnl_w = 0 without labels */
    int64_t nblocks;
    unsigned char **blocks;
    size_t bytes;            /* blocks + records */
};

/* Bytes per value for values in [0, max]. */
static int uint_width(uint64_t max)
{
    return max <= UINT8_MAX ? 1 : max <= UINT16_MAX ? 2 : max <= UINT32_MAX ? 4 : 8;
}

static void put_uint(unsigned char *p, int w, int64_t i, uint64_t v)
{
    switch (w) {
    case 1: p[i] = (uint8_t)v; break;
    case 2: { uint16_t x = (uint16_t)v; memcpy(p + 2 * i, &x, 2); } break;
    case 4: { uint32_t x = (uint32_t)v; memcpy(p + 4 * i, &x, 4); } break;
    default: memcpy(p + 8 * i, &v, 8); break;
    }
}

/* dst[0..n) = the n values of width w at src. */
static void decode_uint(int64_t *dst, const unsigned char *src, int w, int64_t n)
{
    switch (w) {
    case 1:
        for (int64_t i = 0; i < n; i++) dst[i] = src[i];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++) {
            uint16_t x;
            memcpy(&x, src + 2 * i, 2);
            dst[i] = x;
        }
        break;
    case 4:
        for (int64_t i = 0; i < n; i++) {
            uint32_t x;
            memcpy(&x, src + 4 * i, 4);
            dst[i] = x;
        }
        break;
    default:
        for (int64_t i = 0; i < n; i++) {
            uint64_t x;
            memcpy(&x, src + 8 * i, 8);
            dst[i] = (int64_t)x;
        }
        break;
    }
}

static int rec_id_width(const lp_rec *r) { return uint_width((uint64_t)(r->n - 1)); }
static size_t rec_bytes(const gp_linkpred_samples *s, const lp_rec *r)
{
    int iw = rec_id_width(r);
    return (size_t)r->n * (size_t)(s->nodes_w + s->drnl_w + iw) + (size_t)(r->m / 2) * (size_t)iw;
}
static const unsigned char *rec_nodes(const lp_rec *r) { return r->data; }
static const unsigned char *rec_drnl(const gp_linkpred_samples *s, const lp_rec *r)
{
    return r->data + r->n * s->nodes_w;
}
static const unsigned char *rec_deg(const gp_linkpred_samples *s, const lp_rec *r)
{
    return r->data + r->n * (s->nodes_w + s->drnl_w);
}

/*
 * Rows [0, n) of one sample's G+ into a block-diagonal CSR: ptr = the batch's row pointers from
 * the sample's first row, idx = the batch's column array, local node v = batch node node_off + v,
 * first entry at edge_off; cur: n scratch. Counting pass (lower entries per row), row pointers,
 * then one pass over u ascending: row u's lower part is complete when u is reached, so up(u) goes
 * after it, and u goes to the end of the lower part of each v in up(u).
 */
#define LP_DEFINE_REBUILD(NAME, T)                                                                 \
    static void NAME(int64_t *ptr, int64_t *idx, int64_t *cur, const unsigned char *deg,           \
                     const unsigned char *up, int64_t n, int64_t node_off, int64_t edge_off)        \
    {                                                                                              \
        T d, x;                                                                                    \
        int64_t k = 0;                                                                             \
        for (int64_t v = 0; v < n; v++) cur[v] = 0;                                               \
        for (int64_t v = 0; v < n; v++) {                                                         \
            memcpy(&d, deg + (size_t)v * sizeof(T), sizeof(T));                                    \
            for (int64_t j = 0; j < (int64_t)d; j++, k++) {                                        \
                memcpy(&x, up + (size_t)k * sizeof(T), sizeof(T));                                 \
                cur[x]++;                                                                          \
            }                                                                                      \
        }                                                                                          \
        int64_t e = edge_off;                                                                      \
        for (int64_t v = 0; v < n; v++) {                                                         \
            memcpy(&d, deg + (size_t)v * sizeof(T), sizeof(T));                                    \
            int64_t lower = cur[v];                                                                \
            ptr[v] = cur[v] = e;                                                                   \
            e += lower + (int64_t)d;                                                               \
        }                                                                                          \
        k = 0;                                                                                     \
        for (int64_t u = 0; u < n; u++) {                                                         \
            memcpy(&d, deg + (size_t)u * sizeof(T), sizeof(T));                                    \
            int64_t cu = cur[u]; /* x > u below: cur[u] is not touched meanwhile */                \
            for (int64_t j = 0; j < (int64_t)d; j++, k++) {                                        \
                memcpy(&x, up + (size_t)k * sizeof(T), sizeof(T));                                 \
                idx[cu++] = node_off + (int64_t)x;                                                 \
                idx[cur[x]++] = node_off + u;                                                      \
            }                                                                                      \
        }                                                                                          \
    }
LP_DEFINE_REBUILD(rebuild_u8, uint8_t)
LP_DEFINE_REBUILD(rebuild_u16, uint16_t)
LP_DEFINE_REBUILD(rebuild_u32, uint32_t)
LP_DEFINE_REBUILD(rebuild_u64, uint64_t)
#undef LP_DEFINE_REBUILD

/*
 * The block-diagonal G+ of samples which[0..count) (count >= 1, ids checked by the caller):
 * the same graph as gp_graph_batch of their G+ graphs (unweighted, symmetric, sample j's nodes
 * at graph_ptr[j]).
 */
static gp_status block_graph(gp_graph **out, const gp_linkpred_samples *s, const int64_t *which, int64_t count)
{
    *out = NULL;
    int64_t n = 0, m = 0, maxn = 1;
    for (int64_t i = 0; i < count; i++) {
        const lp_rec *r = &s->rec[which[i]];
        n += r->n;
        m += r->m;
        if (r->n > maxn) maxn = r->n;
    }
    gp_status st = GP_OK;
    gp_csr *adj = NULL;
    gp_graph *g = NULL;
    int64_t *graph_ptr = gp_i_malloc((size_t)(count + 1) * sizeof(int64_t));
    int64_t *cur = gp_i_malloc((size_t)maxn * sizeof(int64_t));
    if (!graph_ptr || !cur) GP_TRY(GP_ERR(GP_E_NOMEM, "linkpred: out of memory (batch)"));
    GP_TRY(gp_csr_new(&adj, n, n, m, false));
    int64_t node_off = 0, edge_off = 0;
    for (int64_t i = 0; i < count; i++) {
        const lp_rec *r = &s->rec[which[i]];
        const unsigned char *deg = rec_deg(s, r);
        int iw = rec_id_width(r);
        const unsigned char *up = deg + r->n * iw;
        int64_t *ptr = adj->ptr + node_off;
        graph_ptr[i] = node_off;
        switch (iw) {
        case 1: rebuild_u8(ptr, adj->idx, cur, deg, up, r->n, node_off, edge_off); break;
        case 2: rebuild_u16(ptr, adj->idx, cur, deg, up, r->n, node_off, edge_off); break;
        case 4: rebuild_u32(ptr, adj->idx, cur, deg, up, r->n, node_off, edge_off); break;
        default: rebuild_u64(ptr, adj->idx, cur, deg, up, r->n, node_off, edge_off); break;
        }
        node_off += r->n;
        edge_off += r->m;
    }
    adj->ptr[n] = m;
    graph_ptr[count] = n;
    GP_TRY(gp_i_graph_wrap(&g, &adj, true));
    GP_TRY(gp_i_graph_set_batch(g, count, graph_ptr));
    *out = g;
    g = NULL;
fail:
    gp_csr_free(&adj);
    gp_graph_free(&g);
    gp_i_free(graph_ptr);
    gp_i_free(cur);
    return st;
}

/* BFS distances from src in g (local), never entering `blocked`; -1 = unreachable. */
static void bfs_without(int64_t *dist, int64_t *queue, const gp_graph *g, int64_t src, int64_t blocked)
{
    int64_t n = gp_graph_nodes(g), head = 0, tail = 0;
    for (int64_t v = 0; v < n; v++) dist[v] = -1;
    dist[src] = 0;
    queue[tail++] = src;
    while (head < tail) {
        int64_t v = queue[head++];
        for (int64_t k = g->adj.ptr[v]; k < g->adj.ptr[v + 1]; k++) {
            int64_t u = g->adj.idx[k];
            if (u == blocked || dist[u] >= 0) continue;
            dist[u] = dist[v] + 1;
            queue[tail++] = u;
        }
    }
}

static gp_status drnl_labels(int64_t **out, const gp_graph *g, int64_t max_label)
{
    int64_t n = gp_graph_nodes(g);
    int64_t *z = gp_i_malloc((size_t)n * sizeof(int64_t));
    int64_t *da = gp_i_malloc((size_t)n * sizeof(int64_t)), *db = gp_i_malloc((size_t)n * sizeof(int64_t));
    int64_t *q = gp_i_malloc((size_t)n * sizeof(int64_t));
    if (!z || !da || !db || !q) {
        gp_i_free(z);
        gp_i_free(da);
        gp_i_free(db);
        gp_i_free(q);
        return GP_ERR(GP_E_NOMEM, "linkpred: out of memory (DRNL)");
    }
    bfs_without(da, q, g, 0, 1);
    bfs_without(db, q, g, 1, 0);
    for (int64_t v = 0; v < n; v++) {
        int64_t lab;
        if (v < 2) lab = 1;
        else if (da[v] < 0 || db[v] < 0) lab = 0;
        else {
            int64_t d = da[v] + db[v], h = d / 2;
            lab = 1 + (da[v] < db[v] ? da[v] : db[v]) + h * (h + d % 2 - 1);
        }
        z[v] = lab < max_label ? lab : max_label - 1;
    }
    gp_i_free(da);
    gp_i_free(db);
    gp_i_free(q);
    *out = z;
    return GP_OK;
}

/* G+ from the induced subgraph (sorted rows, symmetric): the same entries without self-loops or
 * values, plus 0 -> 1 and 1 -> 0 (local 0 = a, 1 = b) when absent. O(n + m), no sorting. */
static gp_status plus_graph(gp_graph **out, const gp_graph *sub)
{
    const gp_csr *s = &sub->adj;
    int64_t n = s->rows;
    bool has01 = false;
    for (int64_t k = s->ptr[0]; k < s->ptr[1]; k++) has01 |= s->idx[k] == 1;
    gp_csr *c = NULL;
    gp_status st = gp_csr_new(&c, n, n, s->nnz + (has01 ? 0 : 2), false);
    if (st != GP_OK) return st;
    int64_t w = 0;
    for (int64_t v = 0; v < n; v++) {
        c->ptr[v] = w;
        int64_t add = has01 || v > 1 ? -1 : 1 - v; /* the target's column to insert in row v */
        for (int64_t k = s->ptr[v]; k < s->ptr[v + 1]; k++) {
            int64_t u = s->idx[k];
            if (add >= 0 && u > add) {
                c->idx[w++] = add;
                add = -1;
            }
            if (u != v) c->idx[w++] = u;
        }
        if (add >= 0) c->idx[w++] = add;
    }
    c->ptr[n] = w;
    c->nnz = w;
    st = gp_graph_from_csr(out, &c, true);
    gp_csr_free(&c);
    return st;
}

/* The packed form of one sample (layout above) in a new buffer *out; r->n, r->m set. g: G+ with
 * sorted rows, symmetric, no self-loops (checked: an error otherwise, as the rebuild would
 * differ). */
static gp_status pack_sample(unsigned char **out, lp_rec *r, const gp_graph *g, const int64_t *nodes,
                             const int64_t *drnl, int nodes_w, int drnl_w)
{
    const gp_csr *a = &g->adj;
    int64_t n = a->rows, up = 0;
    for (int64_t v = 0; v < n; v++)
        for (int64_t k = a->ptr[v]; k < a->ptr[v + 1]; k++) {
            if (k > a->ptr[v] && a->idx[k] <= a->idx[k - 1])
                return GP_ERR(GP_E_STATE, "linkpred: subgraph row %lld is not sorted", (long long)v);
            up += a->idx[k] > v;
        }
    if (2 * up != a->nnz)
        return GP_ERR(GP_E_STATE, "linkpred: subgraph is not symmetric without self-loops");
    r->n = n;
    r->m = a->nnz;
    int iw = rec_id_width(r);
    unsigned char *p = gp_i_malloc((size_t)n * (size_t)(nodes_w + drnl_w + iw) + (size_t)up * (size_t)iw);
    if (!p) return GP_ERR(GP_E_NOMEM, "linkpred: out of memory (sample)");
    unsigned char *pz = p + n * nodes_w, *deg = pz + n * drnl_w, *ui = deg + n * iw;
    int64_t w = 0;
    for (int64_t v = 0; v < n; v++) {
        put_uint(p, nodes_w, v, (uint64_t)nodes[v]);
        if (drnl_w) put_uint(pz, drnl_w, v, (uint64_t)drnl[v]);
        int64_t d = 0;
        for (int64_t k = a->ptr[v]; k < a->ptr[v + 1]; k++)
            if (a->idx[k] > v) {
                put_uint(ui, iw, w++, (uint64_t)a->idx[k]);
                d++;
            }
        put_uint(deg, iw, v, (uint64_t)d);
    }
    *out = p;
    return GP_OK;
}

static gp_status extract_one(unsigned char **out, lp_rec *r, const gp_linkpred_samples *s, const gp_graph *obs,
                             int64_t a, int64_t b, const gp_linkpred_options *opt, int64_t index)
{
    gp_status st = GP_OK;
    gp_graph *sub = NULL, *plus = NULL;
    int64_t *nodes = NULL, *drnl = NULL;
    int64_t count = 0;
    gp_rng rng;
    gp_rng_seed(&rng, opt->seed * UINT64_C(0x9E3779B97F4A7C15) + (uint64_t)index + 1);
    int64_t seeds[2] = {a, b};
    GP_TRY(gp_graph_khop(&nodes, &count, NULL, obs, 2, seeds, opt->hops, opt->max_nodes_per_hop,
                         opt->max_nodes_per_hop > 0 ? &rng : NULL));
    GP_TRY(gp_graph_induced(&sub, obs, count, nodes));
    GP_TRY(plus_graph(&plus, sub));
    gp_graph_free(&sub);
    if (opt->drnl) GP_TRY(drnl_labels(&drnl, plus, opt->drnl_max_label));
    GP_TRY(pack_sample(out, r, plus, nodes, drnl, s->nodes_w, s->drnl_w));
fail:
    gp_graph_free(&sub);
    gp_graph_free(&plus);
    gp_free(nodes);
    gp_i_free(drnl);
    return st;
}

static gp_status check_options(const gp_linkpred_options *o)
{
    if (!o) return GP_ERR(GP_E_INVALID, "linkpred: NULL options");
    if (o->hops < 1 || o->max_nodes_per_hop < 0 || o->ones_dim < 1 || o->gnn_layers < 1 ||
        o->gnn_layers > 8 || o->hidden < 1 || o->heads < 1 || o->walk_len < 1 || o->batch_size < 1 ||
        o->epochs < 0 || !(o->dropout >= 0.0f && o->dropout < 1.0f) || !(o->lr > 0.0f) ||
        (o->drnl && (o->drnl_dim < 1 || o->drnl_max_label < 2)))
        return GP_ERR(GP_E_INVALID,
                      "linkpred: invalid options (hops %d, cap %lld, layers %d, hidden %lld, heads %d, "
                      "walk_len %d, batch %lld, epochs %d, dropout %g, lr %g)",
                      o->hops, (long long)o->max_nodes_per_hop, o->gnn_layers, (long long)o->hidden,
                      o->heads, o->walk_len, (long long)o->batch_size, o->epochs, (double)o->dropout,
                      (double)o->lr);
    return GP_OK;
}

gp_status gp_linkpred_extract(gp_linkpred_samples **out, const gp_graph *observed, int64_t count,
                              const int64_t *pairs, const gp_linkpred_options *opt)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_linkpred_extract: NULL output");
    *out = NULL;
    if (!observed || (count > 0 && !pairs) || count < 0)
        return GP_ERR(GP_E_INVALID, "gp_linkpred_extract: NULL argument or negative count");
    gp_status st = check_options(opt);
    if (st != GP_OK) return st;
    if (!observed->symmetric)
        return GP_ERR(GP_E_INVALID, "gp_linkpred_extract: the observed graph must be undirected");
    GP_I_EXPLICIT(observed);
    int64_t n = gp_graph_nodes(observed);
    for (int64_t i = 0; i < count; i++) {
        int64_t a = pairs[2 * i], b = pairs[2 * i + 1];
        if (a < 0 || a >= n || b < 0 || b >= n)
            return GP_ERR(GP_E_RANGE, "gp_linkpred_extract: pair %lld (%lld, %lld) outside [0, %lld)",
                          (long long)i, (long long)a, (long long)b, (long long)n);
        if (a == b)
            return GP_ERR(GP_E_INVALID, "gp_linkpred_extract: pair %lld joins node %lld to itself",
                          (long long)i, (long long)a);
    }
    int64_t chunk = count < LP_CHUNK ? (count > 0 ? count : 1) : LP_CHUNK;
    int64_t nblocks = (count + LP_CHUNK - 1) / LP_CHUNK;
    gp_linkpred_samples *s = gp_i_calloc(1, sizeof *s);
    gp_status *sts = gp_i_calloc((size_t)chunk, sizeof(gp_status));
    unsigned char **bufs = gp_i_calloc((size_t)chunk, sizeof(unsigned char *));
    char *first_msg = gp_i_calloc(512, 1);
    if (s) {
        s->rec = gp_i_calloc((size_t)(count > 0 ? count : 1), sizeof(lp_rec));
        s->blocks = gp_i_calloc((size_t)(nblocks > 0 ? nblocks : 1), sizeof(unsigned char *));
    }
    if (!s || !s->rec || !s->blocks || !sts || !bufs || !first_msg) {
        gp_i_free(sts);
        gp_i_free(bufs);
        gp_i_free(first_msg);
        gp_linkpred_samples_free(&s);
        return GP_ERR(GP_E_NOMEM, "gp_linkpred_extract: out of memory");
    }
    s->count = count;
    s->nodes_w = uint_width((uint64_t)(n > 0 ? n - 1 : 0));
    s->drnl_w = opt->drnl ? uint_width((uint64_t)(opt->drnl_max_label - 1)) : 0;
    s->bytes = (size_t)count * sizeof(lp_rec);
    int nt = gp_i_threads();
    int64_t first_bad = -1;
    for (int64_t c0 = 0; c0 < count && first_bad < 0; c0 += chunk) {
        int64_t c = count - c0 < chunk ? count - c0 : chunk;
        /* dynamic schedule (subgraph sizes vary); each pair owns its slot and its rng stream, so
         * the result is independent of threads and schedule */
#pragma omp parallel for schedule(dynamic, 8) num_threads(nt) if (nt > 1 && c > 16)
        for (int64_t j = 0; j < c; j++) {
            int64_t i = c0 + j;
            sts[j] = extract_one(&bufs[j], &s->rec[i], s, observed, pairs[2 * i], pairs[2 * i + 1], opt, i);
            if (sts[j] != GP_OK) {
#pragma omp critical(gp_linkpred_extract_err)
                {
                    if (first_bad < 0 || i < first_bad) {
                        first_bad = i;
                        snprintf(first_msg, 512, "%s", gp_last_error_message());
                    }
                }
            }
        }
        if (first_bad >= 0) {
            st = GP_ERR(sts[first_bad - c0], "gp_linkpred_extract: pair %lld: %s", (long long)first_bad, first_msg);
        } else { /* the chunk's samples into one block, in order */
            size_t bytes = 0;
            for (int64_t j = 0; j < c; j++) bytes += rec_bytes(s, &s->rec[c0 + j]);
            unsigned char *block = gp_i_malloc(bytes);
            if (!block) {
                st = GP_ERR(GP_E_NOMEM, "gp_linkpred_extract: out of memory (%zu bytes of subgraphs)", bytes);
                first_bad = c0;
            } else {
                s->blocks[s->nblocks++] = block;
                s->bytes += bytes;
                for (int64_t j = 0; j < c; j++) {
                    lp_rec *r = &s->rec[c0 + j];
                    size_t b = rec_bytes(s, r);
                    memcpy(block, bufs[j], b);
                    r->data = block;
                    block += b;
                }
            }
        }
        for (int64_t j = 0; j < c; j++) {
            gp_i_free(bufs[j]);
            bufs[j] = NULL;
        }
    }
    if (first_bad >= 0) gp_linkpred_samples_free(&s);
    gp_i_free(sts);
    gp_i_free(bufs);
    gp_i_free(first_msg);
    *out = s;
    return st;
}

void gp_linkpred_samples_free(gp_linkpred_samples **s)
{
    if (!s || !*s) return;
    for (int64_t b = 0; b < (*s)->nblocks; b++) gp_i_free((*s)->blocks[b]);
    gp_i_free((*s)->blocks);
    gp_i_free((*s)->rec);
    gp_i_free(*s);
    *s = NULL;
}

int64_t gp_linkpred_samples_count(const gp_linkpred_samples *s) { return s ? s->count : 0; }

size_t gp_linkpred_samples_bytes(const gp_linkpred_samples *s) { return s ? sizeof *s + s->bytes : 0; }

gp_status gp_linkpred_sample_size(int64_t *nodes, int64_t *edges, const gp_linkpred_samples *s, int64_t i)
{
    if (!s || i < 0 || i >= s->count)
        return GP_ERR(GP_E_RANGE, "gp_linkpred_sample_size: index %lld out of range", (long long)i);
    if (nodes) *nodes = s->rec[i].n;
    if (edges) *edges = s->rec[i].m;
    return GP_OK;
}

gp_status gp_linkpred_batch(gp_graph **g, int64_t **nodes, int64_t **drnl, const gp_linkpred_samples *s,
                            int64_t count, const int64_t *which)
{
    if (g) *g = NULL;
    if (nodes) *nodes = NULL;
    if (drnl) *drnl = NULL;
    if (!s || !which || count < 1) return GP_ERR(GP_E_INVALID, "gp_linkpred_batch: NULL argument or no sample");
    int64_t n = 0;
    for (int64_t i = 0; i < count; i++) {
        if (which[i] < 0 || which[i] >= s->count)
            return GP_ERR(GP_E_RANGE, "gp_linkpred_batch: which[%lld] = %lld outside [0, %lld)", (long long)i,
                          (long long)which[i], (long long)s->count);
        n += s->rec[which[i]].n;
    }
    gp_status st = GP_OK;
    gp_graph *bg = NULL;
    int64_t *bn = NULL, *bz = NULL;
    if (g) GP_TRY(block_graph(&bg, s, which, count));
    if (nodes && !(bn = gp_i_malloc((size_t)n * sizeof(int64_t))))
        GP_TRY(GP_ERR(GP_E_NOMEM, "gp_linkpred_batch: out of memory"));
    if (drnl && s->drnl_w && !(bz = gp_i_malloc((size_t)n * sizeof(int64_t))))
        GP_TRY(GP_ERR(GP_E_NOMEM, "gp_linkpred_batch: out of memory"));
    for (int64_t i = 0, o = 0; i < count; i++) {
        const lp_rec *r = &s->rec[which[i]];
        if (bn) decode_uint(bn + o, rec_nodes(r), s->nodes_w, r->n);
        if (bz) decode_uint(bz + o, rec_drnl(s, r), s->drnl_w, r->n);
        o += r->n;
    }
    if (g) *g = bg;
    if (nodes) *nodes = bn;
    if (drnl) *drnl = bz;
    return GP_OK;
fail:
    gp_graph_free(&bg);
    gp_i_free(bn);
    gp_i_free(bz);
    return st;
}

gp_status gp_linkpred_sample(gp_graph **g, int64_t **nodes, int64_t **drnl, const gp_linkpred_samples *s,
                             int64_t i)
{
    if (g) *g = NULL;
    if (nodes) *nodes = NULL;
    if (drnl) *drnl = NULL;
    if (!s || i < 0 || i >= s->count)
        return GP_ERR(GP_E_RANGE, "gp_linkpred_sample: index %lld out of range", (long long)i);
    return gp_linkpred_batch(g, nodes, drnl, s, 1, &i);
}

/* ======================================================================================== */
/* The model                                                                                */

#define LP_CLS_LAYERS 5
#define LP_CONFIG_LEN 24

struct gp_linkpred_model {
    gp_linkpred_options opt;
    int64_t attr_dim, x_dim, in_dim, z_dim, fdim;
    gp_module *root;
    gp_tensor *drnl_emb;
    gp_module *gnn[8];
    gp_module *q1, *q2, *k1, *k2;
    gp_tensor *bn_gamma, *bn_beta, *bn_mean, *bn_var;
    gp_module *cls[LP_CLS_LAYERS];
    gp_tensor *config, *data_sha;
};

static gp_tensor *root_forward(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    (void)m;
    (void)g;
    (void)x;
    GP_TAPE_FAIL(t, GP_E_UNSUPPORTED, "linkpred model: use gp_linkpred_fit / gp_linkpred_predict");
    return NULL;
}

static const gp_module_ops root_ops = {"linkpred", root_forward, NULL, NULL};

/* PyTorch's nn.Linear initialisation (kaiming_uniform with a = sqrt(5), and its bias rule):
 * weight and bias uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)], fan_in = in_dim (the weight's
 * rows here). Replaces the layer's Glorot / zero start. */
static gp_status torch_linear_init(gp_module *lin, gp_rng *rng)
{
    gp_param_list pl = {0};
    gp_status st = gp_module_params(&pl, lin, false);
    if (st != GP_OK) return st;
    if (pl.count < 1) {
        gp_param_list_free(&pl);
        return GP_ERR(GP_E_STATE, "linkpred: linear layer without weight");
    }
    float bound = 1.0f / sqrtf((float)(pl.tensors[0]->rows > 0 ? pl.tensors[0]->rows : 1));
    for (int i = 0; i < pl.count; i++) gp_init_uniform(pl.tensors[i], rng, -bound, bound);
    gp_param_list_free(&pl);
    return GP_OK;
}

static gp_status add_child(gp_module *root, gp_module **keep, gp_module *child)
{
    *keep = child;
    gp_module *tmp = child;
    gp_status st = gp_module_add_child(root, &tmp);
    if (st != GP_OK) {
        gp_module_free(&tmp);
        *keep = NULL;
    }
    return st;
}

/* Options that fix the architecture, stored in the checkpoint. */
static void config_write(float *c, const gp_linkpred_options *o, int64_t attr_dim)
{
    memset(c, 0, LP_CONFIG_LEN * sizeof(float));
    c[0] = 1.0f; /* config version */
    c[1] = (float)o->hops;
    c[2] = (float)o->max_nodes_per_hop;
    c[3] = (float)o->ones_dim;
    c[4] = o->drnl ? 1.0f : 0.0f;
    c[5] = (float)o->drnl_dim;
    c[6] = (float)o->drnl_max_label;
    c[7] = (float)o->gnn_layers;
    c[8] = (float)o->hidden;
    c[9] = (float)o->heads;
    c[10] = (float)o->walk_len;
    c[11] = o->dropout;
    c[12] = o->bce ? 1.0f : 0.0f;
    c[13] = o->lr;
    c[14] = (float)o->batch_size;
    c[15] = (float)o->epochs;
    c[16] = (float)(o->seed & 0xffffff);
    c[17] = (float)attr_dim;
}

static void config_read(gp_linkpred_options *o, int64_t *attr_dim, const float *c)
{
    gp_linkpred_options_default(o);
    o->hops = (int)c[1];
    o->max_nodes_per_hop = (int64_t)c[2];
    o->ones_dim = (int64_t)c[3];
    o->drnl = c[4] != 0.0f;
    o->drnl_dim = (int64_t)c[5];
    o->drnl_max_label = (int64_t)c[6];
    o->gnn_layers = (int)c[7];
    o->hidden = (int64_t)c[8];
    o->heads = (int)c[9];
    o->walk_len = (int)c[10];
    o->dropout = c[11];
    o->bce = c[12] != 0.0f;
    o->lr = c[13];
    o->batch_size = (int64_t)c[14];
    o->epochs = (int)c[15];
    o->seed = (uint64_t)c[16];
    *attr_dim = (int64_t)c[17];
}

gp_status gp_linkpred_model_new(gp_linkpred_model **out, const gp_linkpred_options *opt, int64_t attr_dim)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_linkpred_model_new: NULL output");
    *out = NULL;
    gp_status st = check_options(opt);
    if (st != GP_OK) return st;
    if (attr_dim < 0) return GP_ERR(GP_E_INVALID, "gp_linkpred_model_new: negative attribute width");
    gp_linkpred_model *m = gp_i_calloc(1, sizeof *m);
    if (!m) return GP_ERR(GP_E_NOMEM, "gp_linkpred_model_new: out of memory");
    m->opt = *opt;
    m->attr_dim = attr_dim;
    m->x_dim = attr_dim > 0 ? attr_dim : opt->ones_dim;
    m->in_dim = m->x_dim + (opt->drnl ? opt->drnl_dim : 0);
    m->z_dim = m->in_dim + opt->gnn_layers * opt->hidden;
    m->fdim = gp_walkpool_dim(opt->walk_len, opt->heads);
    gp_rng rng;
    gp_rng_seed(&rng, opt->seed);
    GP_TRY(gp_module_alloc(&m->root, &root_ops, m->in_dim, 1, 0, &rng));
    GP_TRY(gp_module_add_buffer(m->root, &m->config, "config", 1, LP_CONFIG_LEN));
    config_write(m->config->data, opt, attr_dim);
    GP_TRY(gp_module_add_buffer(m->root, &m->data_sha, "data_sha256", 1, 16));
    if (opt->drnl) {
        GP_TRY(gp_module_add_param(m->root, &m->drnl_emb, "drnl.weight", opt->drnl_max_label, opt->drnl_dim));
        for (int64_t i = 0; i < gp_tensor_size(m->drnl_emb); i++) m->drnl_emb->data[i] = gp_rng_normal(&rng);
    }
    int64_t H = opt->heads, d = opt->hidden;
    GP_TRY(gp_module_add_param(m->root, &m->bn_gamma, "bn.weight", 1, m->fdim));
    GP_TRY(gp_module_add_param(m->root, &m->bn_beta, "bn.bias", 1, m->fdim));
    GP_TRY(gp_module_add_buffer(m->root, &m->bn_mean, "bn.running_mean", 1, m->fdim));
    GP_TRY(gp_module_add_buffer(m->root, &m->bn_var, "bn.running_var", 1, m->fdim));
    gp_tensor_fill(m->bn_gamma, 1.0f);
    gp_tensor_fill(m->bn_var, 1.0f);
    gp_module *tmp = NULL;
    for (int l = 0; l < opt->gnn_layers; l++) {
        GP_TRY(gp_gcn_new(&tmp, l == 0 ? m->in_dim : d, d, true, &rng));
        GP_TRY(add_child(m->root, &m->gnn[l], tmp));
    }
    GP_TRY(gp_linear_new(&tmp, m->z_dim, d, true, &rng));
    GP_TRY(add_child(m->root, &m->q1, tmp));
    GP_TRY(gp_linear_new(&tmp, d, H * d, true, &rng));
    GP_TRY(add_child(m->root, &m->q2, tmp));
    GP_TRY(gp_linear_new(&tmp, m->z_dim, d, true, &rng));
    GP_TRY(add_child(m->root, &m->k1, tmp));
    GP_TRY(gp_linear_new(&tmp, d, H * d, true, &rng));
    GP_TRY(add_child(m->root, &m->k2, tmp));
    int64_t F = m->fdim, widths[LP_CLS_LAYERS + 1] = {F, 20 * F, 20 * F, 10 * F, F, 1};
    for (int l = 0; l < LP_CLS_LAYERS; l++) {
        GP_TRY(gp_linear_new(&tmp, widths[l], widths[l + 1], true, &rng));
        GP_TRY(add_child(m->root, &m->cls[l], tmp));
    }
    if (opt->torch_init) {
        gp_module *lins[4 + LP_CLS_LAYERS] = {m->q1, m->q2, m->k1, m->k2};
        for (int l = 0; l < LP_CLS_LAYERS; l++) lins[4 + l] = m->cls[l];
        for (int i = 0; i < 4 + LP_CLS_LAYERS; i++) GP_TRY(torch_linear_init(lins[i], &rng));
    }
    *out = m;
    return GP_OK;
fail:
    gp_linkpred_model_free(&m);
    return st;
}

void gp_linkpred_model_free(gp_linkpred_model **m)
{
    if (!m || !*m) return;
    gp_module_free(&(*m)->root);
    gp_i_free(*m);
    *m = NULL;
}

const gp_linkpred_options *gp_linkpred_model_options(const gp_linkpred_model *m) { return m ? &m->opt : NULL; }
int64_t gp_linkpred_model_attr_dim(const gp_linkpred_model *m) { return m ? m->attr_dim : 0; }
gp_module *gp_linkpred_model_module(gp_linkpred_model *m) { return m ? m->root : NULL; }

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

gp_status gp_linkpred_model_save(const gp_linkpred_model *m, const char *path, const char *data_sha256)
{
    if (!m || !path) return GP_ERR(GP_E_INVALID, "gp_linkpred_model_save: NULL argument");
    /* 16 floats of 16 bits each; entry 0 of a recorded checksum is offset by 1 so that all
     * zeros means "none" */
    float *c = m->data_sha->data;
    memset(c, 0, 16 * sizeof(float));
    if (data_sha256 && strlen(data_sha256) == 64) {
        for (int i = 0; i < 16; i++) {
            int v = 0;
            for (int j = 0; j < 4; j++) {
                int h = hexval(data_sha256[4 * i + j]);
                if (h < 0) return GP_ERR(GP_E_INVALID, "gp_linkpred_model_save: bad checksum text");
                v = v * 16 + h;
            }
            c[i] = (float)v + (i == 0 ? 1.0f : 0.0f);
        }
    }
    return gp_module_save(m->root, path);
}

/* Read the "config" tensor from a checkpoint without building a model (format in module.h). */
static gp_status read_config(float *config, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return GP_ERR(GP_E_IO, "%s: cannot open the model file", path);
    gp_status st = GP_E_PARSE;
    char magic[8];
    uint32_t version, count;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "GPCKPT\r\n", 8) != 0 || fread(&version, 4, 1, f) != 1 ||
        fread(&count, 4, 1, f) != 1) {
        fclose(f);
        return GP_ERR(GP_E_PARSE, "%s: not a graphpool model file", path);
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len;
        char name[256];
        int64_t rows, cols;
        if (fread(&len, 4, 1, f) != 1 || len >= sizeof name || fread(name, 1, len, f) != len ||
            fread(&rows, 8, 1, f) != 1 || fread(&cols, 8, 1, f) != 1 || rows < 0 || cols < 0)
            break;
        name[len] = '\0';
        if (strcmp(name, "config") == 0 && rows == 1 && cols == LP_CONFIG_LEN) {
            if (fread(config, sizeof(float), LP_CONFIG_LEN, f) == LP_CONFIG_LEN) st = GP_OK;
            break;
        }
        if (fseek(f, (long)(rows * cols * (int64_t)sizeof(float)), SEEK_CUR) != 0) break;
    }
    fclose(f);
    if (st != GP_OK) return GP_ERR(st, "%s: not a gp-linkpred model file (no valid config)", path);
    return GP_OK;
}

gp_status gp_linkpred_model_load(gp_linkpred_model **out, char *data_sha256, const char *path)
{
    if (!out || !path) return GP_ERR(GP_E_INVALID, "gp_linkpred_model_load: NULL argument");
    *out = NULL;
    float config[LP_CONFIG_LEN];
    gp_status st = read_config(config, path);
    if (st != GP_OK) return st;
    if (config[0] != 1.0f) return GP_ERR(GP_E_PARSE, "%s: unknown model config version", path);
    gp_linkpred_options opt;
    int64_t attr_dim;
    config_read(&opt, &attr_dim, config);
    gp_linkpred_model *m = NULL;
    st = gp_linkpred_model_new(&m, &opt, attr_dim);
    if (st != GP_OK) return GP_ERR(st, "%s: bad model config (%s)", path, gp_last_error_message());
    st = gp_module_load(m->root, path);
    if (st != GP_OK) {
        gp_linkpred_model_free(&m);
        return st;
    }
    if (data_sha256) {
        data_sha256[0] = '\0';
        const float *c = m->data_sha->data;
        if (c[0] != 0.0f) {
            for (int i = 0; i < 16; i++) {
                unsigned v = (unsigned)c[i] - (i == 0 ? 1u : 0u);
                snprintf(data_sha256 + 4 * i, 5, "%04x", v & 0xffffu);
            }
        }
    }
    *out = m;
    return GP_OK;
}

/* ======================================================================================== */
/* Batches and the forward pass                                                             */

/* One batch; the arrays are kept and grown across batches (no per-batch malloc of the feature
 * matrix; only the block-diagonal graph is rebuilt). */
typedef struct lp_batch {
    gp_graph *g;      /* block-diagonal G+ */
    int64_t count;
    int64_t *pairs;   /* 2 * count batch ids */
    float *x;         /* nodes x x_dim */
    int64_t *z;       /* DRNL labels, or NULL */
    int64_t *ids;     /* observed-graph id per node (with attributes), or NULL */
    float *y;         /* count labels */
    int64_t cap_nodes, cap_count, ones_rows; /* capacities; rows of x already all ones */
} lp_batch;

static void batch_free(lp_batch *b)
{
    gp_graph_free(&b->g);
    gp_i_free(b->pairs);
    gp_i_free(b->x);
    gp_i_free(b->z);
    gp_i_free(b->ids);
    gp_i_free(b->y);
    memset(b, 0, sizeof *b);
}

static gp_status batch_build(lp_batch *b, const gp_linkpred_model *m, const gp_linkpred_samples *s,
                             const int64_t *which, int64_t count, const int64_t *labels, const float *attr)
{
    gp_status st = GP_OK;
    gp_graph_free(&b->g);
    GP_TRY(block_graph(&b->g, s, which, count));
    int64_t n = gp_graph_nodes(b->g), xd = m->x_dim;
    b->count = count;
    if (count > b->cap_count) {
        gp_i_free(b->pairs);
        gp_i_free(b->y);
        b->pairs = gp_i_malloc((size_t)(2 * count) * sizeof(int64_t));
        b->y = gp_i_malloc((size_t)count * sizeof(float));
        b->cap_count = b->pairs && b->y ? count : 0;
        if (!b->cap_count) GP_TRY(GP_ERR(GP_E_NOMEM, "linkpred: out of memory"));
    }
    if (n > b->cap_nodes) {
        int64_t cap = n + n / 4 + 1;
        gp_i_free(b->x);
        gp_i_free(b->z);
        gp_i_free(b->ids);
        b->z = b->ids = NULL;
        b->ones_rows = 0;
        b->x = gp_i_malloc((size_t)cap * (size_t)xd * sizeof(float));
        if (m->opt.drnl) b->z = gp_i_malloc((size_t)cap * sizeof(int64_t));
        if (m->attr_dim > 0) b->ids = gp_i_malloc((size_t)cap * sizeof(int64_t));
        b->cap_nodes = b->x && (!m->opt.drnl || b->z) && (m->attr_dim == 0 || b->ids) ? cap : 0;
        if (!b->cap_nodes) GP_TRY(GP_ERR(GP_E_NOMEM, "linkpred: out of memory"));
    }
    if (m->attr_dim == 0 && b->ones_rows < n) { /* constant features: filled once */
        for (int64_t i = b->ones_rows * xd; i < n * xd; i++) b->x[i] = 1.0f;
        b->ones_rows = n;
    }
    for (int64_t i = 0; i < count; i++) {
        const lp_rec *r = &s->rec[which[i]];
        int64_t o = b->g->graph_ptr[i], ni = r->n;
        b->pairs[2 * i] = o;
        b->pairs[2 * i + 1] = o + 1;
        b->y[i] = labels ? (float)labels[which[i]] : 0.0f;
        if (m->attr_dim > 0) {
            decode_uint(b->ids + o, rec_nodes(r), s->nodes_w, ni);
            for (int64_t v = 0; v < ni; v++)
                memcpy(b->x + (o + v) * xd, attr + b->ids[o + v] * xd, (size_t)xd * sizeof(float));
        }
        if (m->opt.drnl) decode_uint(b->z + o, rec_drnl(s, r), s->drnl_w, ni);
    }
fail:
    if (st != GP_OK) batch_free(b);
    return st;
}

typedef struct lp_tapes {
    gp_tape *enc, *walk, *cls;
} lp_tapes;

typedef struct lp_timing {
    double encoder, walk, classifier;             /* wall clock */
    double encoder_cpu, walk_cpu, classifier_cpu; /* CPU time of this thread */
} lp_timing;

static double thread_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A copy of x on tape t that is a gradient leaf (when recording). */
static gp_tensor *leaf_copy(gp_tape *t, const gp_tensor *x)
{
    if (!x) return NULL;
    gp_tensor *c = gp_tape_constant(t, x->data, x->rows, x->cols);
    if (c && gp_tape_recording(t)) c->flags |= GP_TENSOR_REQUIRES_GRAD;
    return c;
}

static gp_status tape_error(gp_tape *t, const char *stage)
{
    gp_status st = gp_tape_status(t);
    if (st == GP_OK) st = GP_E_STATE;
    return GP_ERR(st, "linkpred: %s failed: %s", stage, gp_last_error_message());
}

/* The encoder's weights: the model's own, or a replica that a second thread trains on its half
 * of the batch (its gradients are added to the model's afterwards, in a fixed order). */
typedef struct lp_enc {
    gp_tensor *drnl_emb;
    gp_module *gnn[8], *q1, *q2, *k1, *k2;
    gp_rng *rng;
} lp_enc;

static void enc_of_model(lp_enc *e, gp_linkpred_model *m)
{
    memset(e, 0, sizeof *e);
    e->drnl_emb = m->drnl_emb;
    for (int l = 0; l < m->opt.gnn_layers; l++) e->gnn[l] = m->gnn[l];
    e->q1 = m->q1;
    e->q2 = m->q2;
    e->k1 = m->k1;
    e->k2 = m->k2;
    e->rng = &m->root->rng;
}

/* One half (or all) of a batch through encoder and walk profile: its tapes and outputs. */
typedef struct lp_part {
    const lp_enc *enc;
    lp_tapes *tp;     /* enc and walk tapes used */
    lp_batch *b;
    gp_tensor *logits, *lw, *feat;
    lp_timing tm;
    gp_status st;
    char msg[256];
} lp_part;

static gp_status part_forward(gp_linkpred_model *m, lp_part *pt, bool train)
{
    const gp_linkpred_options *o = &m->opt;
    const lp_enc *e = pt->enc;
    lp_tapes *tp = pt->tp;
    lp_batch *b = pt->b;
    gp_tape *tapes[2] = {tp->enc, tp->walk};
    for (int i = 0; i < 2; i++) {
        gp_tape_reset(tapes[i]);
        gp_tape_set_training(tapes[i], train);
        gp_tape_set_recording(tapes[i], train);
    }
    double t0 = now_seconds(), c0 = thread_cpu_seconds();
    /* encoder */
    gp_tape *t = tp->enc;
    int64_t n = gp_graph_nodes(b->g);
    gp_tensor *x = gp_tape_constant(t, b->x, n, m->x_dim);
    if (o->drnl) {
        gp_tensor *parts[2] = {x, gp_gather_rows(t, e->drnl_emb, b->z, n)};
        x = gp_concat_cols(t, 2, parts);
    }
    gp_tensor *zparts[9];
    zparts[0] = x;
    gp_tensor *h = x;
    for (int l = 0; l < o->gnn_layers; l++) {
        gp_tensor *in = l == 0 ? h : gp_dropout(t, gp_relu(t, h), o->dropout, e->rng);
        h = gp_module_forward(e->gnn[l], t, b->g, in);
        zparts[l + 1] = h;
    }
    gp_tensor *z = gp_concat_cols(t, o->gnn_layers + 1, zparts);
    gp_tensor *q = gp_module_forward(
        e->q2, t, NULL, gp_dropout(t, gp_leaky_relu(t, gp_module_forward(e->q1, t, NULL, z), 0.2f), o->dropout, e->rng));
    gp_tensor *k = gp_module_forward(
        e->k2, t, NULL, gp_dropout(t, gp_leaky_relu(t, gp_module_forward(e->k1, t, NULL, z), 0.2f), o->dropout, e->rng));
    /* row v, column u: <K[v], Q[u]> = s(u -> v) */
    pt->logits = gp_scale(t, gp_sddmm(t, b->g, k, q, o->heads), 1.0f / sqrtf((float)o->hidden));
    if (!pt->logits) return tape_error(t, "encoder");
    double t1 = now_seconds(), c1 = thread_cpu_seconds();
    /* walk profile */
    pt->lw = leaf_copy(tp->walk, pt->logits);
    pt->feat = gp_walkpool(tp->walk, b->g, pt->lw, b->pairs, o->walk_len);
    if (!pt->feat) return tape_error(tp->walk, "walk profile");
    double t2 = now_seconds(), c2 = thread_cpu_seconds();
    pt->tm.encoder += t1 - t0;
    pt->tm.walk += t2 - t1;
    pt->tm.encoder_cpu += c1 - c0;
    pt->tm.walk_cpu += c2 - c1;
    return GP_OK;
}

static gp_status part_backward(lp_part *pt, const float *grad)
{
    double t4 = now_seconds(), c4 = thread_cpu_seconds();
    if (gp_tape_backward_from(pt->tp->walk, pt->feat, grad) != GP_OK) return tape_error(pt->tp->walk, "walk backward");
    double t5 = now_seconds(), c5 = thread_cpu_seconds();
    if (gp_tape_backward_from(pt->tp->enc, pt->logits, pt->lw->grad) != GP_OK)
        return tape_error(pt->tp->enc, "encoder backward");
    double t6 = now_seconds(), c6 = thread_cpu_seconds();
    pt->tm.walk += t5 - t4;
    pt->tm.encoder += t6 - t5;
    pt->tm.walk_cpu += c5 - c4;
    pt->tm.encoder_cpu += c6 - c5;
    return GP_OK;
}

/* Run part_forward (backward when grad != NULL) of np parts; two parts run on two threads with
 * the library serial inside each (each part owns its tapes, graph and weights' gradients, so
 * the result does not depend on the schedule). */
static gp_status parts_run(gp_linkpred_model *m, lp_part *parts, int np, bool train, const float *grad)
{
    if (np == 1) return grad ? part_backward(&parts[0], grad) : part_forward(m, &parts[0], train);
    int nt = gp_i_threads();
    int64_t F = m->fdim;
    gp_set_threads(1);
#pragma omp parallel for schedule(static, 1) num_threads(2)
    for (int i = 0; i < np; i++) {
        lp_part *pt = &parts[i];
        pt->st = grad ? part_backward(pt, grad + (i == 0 ? 0 : parts[0].b->count) * F) : part_forward(m, pt, train);
        if (pt->st != GP_OK) snprintf(pt->msg, sizeof pt->msg, "%s", gp_last_error_message());
    }
    gp_set_threads(nt);
    for (int i = 0; i < np; i++)
        if (parts[i].st != GP_OK) return GP_ERR(parts[i].st, "%s", parts[i].msg);
    return GP_OK;
}

/*
 * Forward (and with `train` the backward) of one batch given as np (1 or 2) parts: encoder and
 * walk profile per part, then the classifier on all rows (batch norm sees the whole batch).
 * logits_out receives the outputs (pre-sigmoid, parts in order), *loss_out the loss when training.
 */
static gp_status run_batch(gp_linkpred_model *m, gp_tape *tc, lp_part *parts, int np, bool train, float *logits_out,
                           double *loss_out, lp_timing *tm)
{
    const gp_linkpred_options *o = &m->opt;
    gp_tape_reset(tc);
    gp_tape_set_training(tc, train);
    gp_tape_set_recording(tc, train);
    for (int i = 0; i < np; i++) memset(&parts[i].tm, 0, sizeof parts[i].tm);
    gp_status st = parts_run(m, parts, np, train, NULL);
    if (st != GP_OK) return st;
    double t2 = now_seconds(), c2 = thread_cpu_seconds();
    /* classifier */
    int64_t count = 0, F = m->fdim;
    for (int i = 0; i < np; i++) count += parts[i].b->count;
    gp_tensor *fc;
    if (np == 1) {
        fc = leaf_copy(tc, parts[0].feat);
    } else {
        float *rows = gp_tape_alloc(tc, (size_t)(count * F) * sizeof(float));
        if (!rows) return tape_error(tc, "classifier input");
        memcpy(rows, parts[0].feat->data, (size_t)(parts[0].b->count * F) * sizeof(float));
        memcpy(rows + parts[0].b->count * F, parts[1].feat->data, (size_t)(parts[1].b->count * F) * sizeof(float));
        fc = gp_tape_constant(tc, rows, count, F);
        if (fc && gp_tape_recording(tc)) fc->flags |= GP_TENSOR_REQUIRES_GRAD;
    }
    gp_tensor *y = gp_batch_norm(tc, fc, m->bn_gamma, m->bn_beta, m->bn_mean, m->bn_var, 0.1f, 1e-5f);
    for (int l = 0; l < LP_CLS_LAYERS; l++) {
        if (l == LP_CLS_LAYERS - 1) y = gp_dropout(tc, y, o->dropout, &m->root->rng);
        y = gp_module_forward(m->cls[l], tc, NULL, y);
        if (l < LP_CLS_LAYERS - 1) y = gp_relu(tc, y);
    }
    if (!y) return tape_error(tc, "classifier");
    for (int64_t i = 0; i < count; i++) logits_out[i] = y->data[i];
    double t3 = now_seconds(), c3 = thread_cpu_seconds();
    if (!train) {
        tm->classifier += t3 - t2;
        tm->classifier_cpu += c3 - c2;
    } else {
        float *labels = gp_tape_alloc(tc, (size_t)count * sizeof(float));
        if (!labels) return tape_error(tc, "labels");
        memcpy(labels, parts[0].b->y, (size_t)parts[0].b->count * sizeof(float));
        if (np == 2) memcpy(labels + parts[0].b->count, parts[1].b->y, (size_t)parts[1].b->count * sizeof(float));
        gp_tensor *target = gp_tape_constant(tc, labels, count, 1);
        gp_tensor *loss = o->bce ? gp_bce_logits_loss(tc, y, target, GP_REDUCE_MEAN)
                                 : gp_mse_loss(tc, gp_sigmoid(tc, y), target, GP_REDUCE_MEAN);
        if (!loss) return tape_error(tc, "loss");
        *loss_out = loss->data[0];
        if (gp_tape_backward(tc, loss) != GP_OK) return tape_error(tc, "classifier backward");
        double t4 = now_seconds(), c4 = thread_cpu_seconds();
        tm->classifier += t4 - t2;
        tm->classifier_cpu += c4 - c2;
        if ((st = parts_run(m, parts, np, train, fc->grad)) != GP_OK) return st;
    }
    /* stage times: those of the first part (parts run at the same time) */
    tm->encoder += parts[0].tm.encoder;
    tm->walk += parts[0].tm.walk;
    tm->encoder_cpu += parts[0].tm.encoder_cpu;
    tm->walk_cpu += parts[0].tm.walk_cpu;
    return GP_OK;
}

static gp_status tapes_new(lp_tapes *tp)
{
    memset(tp, 0, sizeof *tp);
    if (gp_tape_new(&tp->enc) != GP_OK || gp_tape_new(&tp->walk) != GP_OK || gp_tape_new(&tp->cls) != GP_OK) {
        gp_tape_free(&tp->enc);
        gp_tape_free(&tp->walk);
        gp_tape_free(&tp->cls);
        return GP_ERR(GP_E_NOMEM, "linkpred: out of memory (tapes)");
    }
    return GP_OK;
}

static void tapes_free(lp_tapes *tp)
{
    gp_tape_free(&tp->enc);
    gp_tape_free(&tp->walk);
    gp_tape_free(&tp->cls);
}

static double sigmoid_d(double v) { return 1.0 / (1.0 + exp(-v)); }

/*
 * What one training or scoring run keeps across batches: the tapes, the batch buffers and, with
 * two or more threads, a second part (each batch is cut in two halves that run encoder and walk
 * profile on one thread each; for training the second half uses a replica of the encoder's
 * weights, synchronised before every batch, whose gradients are added to the model's after it).
 */
typedef struct lp_runner {
    int parts;
    lp_tapes tp[2];
    lp_batch b[2];
    lp_enc enc[2];
    gp_module *rep_root;        /* the replica's modules (training with 2 parts) */
    gp_rng rep_rng;
    int nparams;
    gp_tensor **mine, **theirs; /* replica / model encoder parameters, same order */
} lp_runner;

static void runner_free(lp_runner *r)
{
    for (int i = 0; i < 2; i++) {
        tapes_free(&r->tp[i]);
        batch_free(&r->b[i]);
    }
    gp_module_free(&r->rep_root);
    gp_i_free(r->mine);
    gp_i_free(r->theirs);
    memset(r, 0, sizeof *r);
}

/* Encoder parameters of e (DRNL table, GCN layers, attention MLPs) in a fixed order; *count
 * only counts when out is NULL. */
static gp_status enc_params(gp_tensor **out, int *count, const lp_enc *e, int layers)
{
    int c = 0;
    if (e->drnl_emb) {
        if (out) out[c] = e->drnl_emb;
        c++;
    }
    gp_module *mods[12];
    int nm = 0;
    for (int l = 0; l < layers; l++) mods[nm++] = e->gnn[l];
    mods[nm++] = e->q1;
    mods[nm++] = e->q2;
    mods[nm++] = e->k1;
    mods[nm++] = e->k2;
    for (int i = 0; i < nm; i++) {
        gp_param_list pl = {0};
        gp_status st = gp_module_params(&pl, mods[i], false);
        if (st != GP_OK) return st;
        for (int j = 0; j < pl.count; j++) {
            if (out) out[c] = pl.tensors[j];
            c++;
        }
        gp_param_list_free(&pl);
    }
    *count = c;
    return GP_OK;
}

static gp_status replica_new(lp_runner *r, gp_linkpred_model *m)
{
    const gp_linkpred_options *o = &m->opt;
    gp_status st = GP_OK;
    gp_rng init;
    gp_rng_seed(&init, o->seed ^ UINT64_C(0xA5A5A5A5DEADBEEF));
    gp_rng_seed(&r->rep_rng, o->seed ^ UINT64_C(0x3C6EF372FE94F82B)); /* dropout of the second half */
    lp_enc *e = &r->enc[1];
    memset(e, 0, sizeof *e);
    e->rng = &r->rep_rng;
    GP_TRY(gp_module_alloc(&r->rep_root, &root_ops, m->in_dim, 1, 0, &init));
    if (o->drnl) GP_TRY(gp_module_add_param(r->rep_root, &e->drnl_emb, "drnl.weight", o->drnl_max_label, o->drnl_dim));
    gp_module *tmp = NULL;
    for (int l = 0; l < o->gnn_layers; l++) {
        GP_TRY(gp_gcn_new(&tmp, l == 0 ? m->in_dim : o->hidden, o->hidden, true, &init));
        GP_TRY(add_child(r->rep_root, &e->gnn[l], tmp));
    }
    int64_t H = o->heads, d = o->hidden;
    GP_TRY(gp_linear_new(&tmp, m->z_dim, d, true, &init));
    GP_TRY(add_child(r->rep_root, &e->q1, tmp));
    GP_TRY(gp_linear_new(&tmp, d, H * d, true, &init));
    GP_TRY(add_child(r->rep_root, &e->q2, tmp));
    GP_TRY(gp_linear_new(&tmp, m->z_dim, d, true, &init));
    GP_TRY(add_child(r->rep_root, &e->k1, tmp));
    GP_TRY(gp_linear_new(&tmp, d, H * d, true, &init));
    GP_TRY(add_child(r->rep_root, &e->k2, tmp));
    int c0 = 0, c1 = 0;
    GP_TRY(enc_params(NULL, &c0, &r->enc[0], o->gnn_layers));
    GP_TRY(enc_params(NULL, &c1, &r->enc[1], o->gnn_layers));
    if (c0 != c1) GP_TRY(GP_ERR(GP_E_STATE, "linkpred: encoder replica mismatch"));
    r->mine = gp_i_malloc((size_t)c0 * sizeof(gp_tensor *));
    r->theirs = gp_i_malloc((size_t)c0 * sizeof(gp_tensor *));
    if (!r->mine || !r->theirs) GP_TRY(GP_ERR(GP_E_NOMEM, "linkpred: out of memory"));
    GP_TRY(enc_params(r->theirs, &c0, &r->enc[0], o->gnn_layers));
    GP_TRY(enc_params(r->mine, &c1, &r->enc[1], o->gnn_layers));
    r->nparams = c0;
    for (int i = 0; i < c0; i++)
        if (gp_tensor_size(r->mine[i]) != gp_tensor_size(r->theirs[i]))
            GP_TRY(GP_ERR(GP_E_STATE, "linkpred: encoder replica mismatch"));
fail:
    return st;
}

/* parts = 2 when the library runs 2+ threads (train: with the replica). */
static gp_status runner_new(lp_runner *r, gp_linkpred_model *m, bool train)
{
    memset(r, 0, sizeof *r);
    r->parts = gp_i_threads() >= 2 ? 2 : 1;
    enc_of_model(&r->enc[0], m);
    r->enc[1] = r->enc[0]; /* scoring: both halves read the model's weights */
    gp_status st = GP_OK;
    for (int i = 0; i < r->parts && st == GP_OK; i++) st = tapes_new(&r->tp[i]);
    if (st == GP_OK && r->parts == 2 && train) st = replica_new(r, m);
    if (st != GP_OK) runner_free(r);
    return st;
}

/* Replica weights := the model's (before a batch). */
static void replica_sync(lp_runner *r)
{
    for (int i = 0; i < r->nparams; i++)
        memcpy(r->mine[i]->data, r->theirs[i]->data, (size_t)gp_tensor_size(r->mine[i]) * sizeof(float));
}

/* Model gradients += replica gradients; replica gradients := 0 (after a batch). */
static void replica_reduce(lp_runner *r)
{
    for (int i = 0; i < r->nparams; i++) {
        float *g = r->theirs[i]->grad, *h = r->mine[i]->grad;
        if (!g || !h) continue;
        for (int64_t k = 0; k < gp_tensor_size(r->mine[i]); k++) g[k] += h[k];
        gp_tensor_zero_grad(r->mine[i]);
    }
}

/* Build the batch of pairs which[0..count) as r->parts parts and run it. */
static gp_status runner_batch(lp_runner *r, gp_linkpred_model *m, const gp_linkpred_samples *s, const int64_t *which,
                              int64_t count, const int64_t *labels, const float *attr, bool train, float *out,
                              double *loss, lp_timing *tm, double *batch_s)
{
    int np = r->parts == 2 && count >= 2 ? 2 : 1;
    int64_t c0 = count;
    if (np == 2) { /* split where the stored edges (the work) are about halved */
        int64_t total = 0, acc = 0;
        for (int64_t i = 0; i < count; i++) total += s->rec[which[i]].m + 1;
        for (c0 = 0; c0 < count - 1 && 2 * acc < total; c0++) acc += s->rec[which[c0]].m + 1;
        if (c0 < 1) c0 = 1;
    }
    lp_part parts[2];
    double t0 = now_seconds();
    for (int i = 0; i < np; i++) {
        gp_status st = batch_build(&r->b[i], m, s, which + (i ? c0 : 0), i ? count - c0 : c0, labels, attr);
        if (st != GP_OK) return st;
        memset(&parts[i], 0, sizeof parts[i]);
        parts[i].enc = &r->enc[np == 2 && r->rep_root && train ? i : 0]; /* the replica is synced for training */
        parts[i].tp = &r->tp[i];
        parts[i].b = &r->b[i];
    }
    if (batch_s) *batch_s += now_seconds() - t0;
    bool replica = np == 2 && r->rep_root && train;
    if (replica) replica_sync(r);
    gp_status st = run_batch(m, r->tp[0].cls, parts, np, train, out, loss, tm);
    if (replica) replica_reduce(r);
    return st;
}

/* Eval-mode scores of samples [0, count) of s, batches of 64. */
static gp_status score_samples(double *scores, gp_linkpred_model *m, lp_runner *r, const gp_linkpred_samples *s,
                               int64_t first, int64_t count, const float *attr, lp_timing *tm, double *batch_s)
{
    gp_status st = GP_OK;
    const int64_t B = 64;
    int64_t which[64];
    float out[64];
    for (int64_t i = 0; i < count; i += B) {
        int64_t c = count - i < B ? count - i : B;
        for (int64_t j = 0; j < c; j++) which[j] = first + i + j;
        st = runner_batch(r, m, s, which, c, NULL, attr, false, out, NULL, tm, batch_s);
        if (st != GP_OK) break;
        for (int64_t j = 0; j < c; j++) scores[i + j] = sigmoid_d(out[j]);
    }
    return st;
}

static gp_status check_attr(const gp_linkpred_model *m, const float *attr)
{
    if (m->attr_dim > 0 && !attr)
        return GP_ERR(GP_E_INVALID, "linkpred: the model expects %lld-d node attributes", (long long)m->attr_dim);
    return GP_OK;
}

gp_status gp_linkpred_predict_samples(double *scores, gp_linkpred_model *m, const gp_linkpred_samples *s,
                                      const float *attr)
{
    if (!scores || !m || !s) return GP_ERR(GP_E_INVALID, "gp_linkpred_predict_samples: NULL argument");
    gp_status st = check_attr(m, attr);
    if (st != GP_OK) return st;
    lp_runner r;
    if ((st = runner_new(&r, m, false)) != GP_OK) return st;
    lp_timing tm = {0};
    st = score_samples(scores, m, &r, s, 0, s->count, attr, &tm, NULL);
    runner_free(&r);
    return st;
}

gp_status gp_linkpred_predict(double *scores, gp_linkpred_model *m, const gp_graph *observed, int64_t count,
                              const int64_t *pairs, const float *attr)
{
    if (!scores || !m || !observed || (count > 0 && !pairs))
        return GP_ERR(GP_E_INVALID, "gp_linkpred_predict: NULL argument");
    gp_status st = check_attr(m, attr);
    if (st != GP_OK) return st;
    const int64_t chunk = 4096; /* bounded memory for many candidate pairs */
    for (int64_t i = 0; i < count && st == GP_OK; i += chunk) {
        int64_t c = count - i < chunk ? count - i : chunk;
        gp_linkpred_samples *s = NULL;
        st = gp_linkpred_extract(&s, observed, c, pairs + 2 * i, &m->opt);
        if (st == GP_OK) st = gp_linkpred_predict_samples(scores + i, m, s, attr);
        gp_linkpred_samples_free(&s);
    }
    return st;
}

/* ======================================================================================== */
/* Training                                                                                 */

static gp_status eval_part(double *auc, double *ap, gp_linkpred_model *m, lp_runner *tp,
                           const gp_linkpred_samples *s, int64_t first, int64_t npos, int64_t nneg,
                           const float *attr, double *scores, lp_timing *tm, double *batch_s)
{
    *auc = *ap = NAN;
    if (npos + nneg == 0) return GP_OK;
    gp_status st = score_samples(scores, m, tp, s, first, npos + nneg, attr, tm, batch_s);
    if (st != GP_OK) return st;
    if (npos > 0 && nneg > 0) {
        if ((st = gp_roc_auc_pn(auc, npos, scores, nneg, scores + npos)) != GP_OK) return st;
        if ((st = gp_average_precision_pn(ap, npos, scores, nneg, scores + npos)) != GP_OK) return st;
    }
    return GP_OK;
}

/* ---- resumable training: what identifies a run, and its random streams ---- */

static void hash_i64(gp_sha256 *h, int64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)v >> (8 * i));
    gp_sha256_update(h, b, 8);
}

static void hash_f64(gp_sha256 *h, double x)
{
    int64_t v;
    memcpy(&v, &x, 8);
    hash_i64(h, v);
}

/* SHA-256 of everything a training run's numbers depend on except the number of epochs (a
 * state can be continued by a longer run) and test_every_epoch (evaluation only): options,
 * thread count, observed graph, split, attributes and the tensors' values at the start. */
static gp_status run_fingerprint(uint8_t out[32], const gp_linkpred_model *m, const gp_graph *observed,
                                 const gp_link_split *split, const float *attr, const gp_param_list *all)
{
    GP_I_EXPLICIT(observed);
    const gp_linkpred_options *o = &m->opt;
    gp_sha256 h;
    gp_sha256_init(&h);
    gp_sha256_update(&h, "graphpool linkpred training state 1", 35);
    const int64_t ints[] = {o->hops, o->max_nodes_per_hop, o->ones_dim, o->drnl, o->drnl_dim, o->drnl_max_label,
                            o->gnn_layers, o->hidden, o->heads, o->walk_len, o->torch_init, o->bce, o->batch_size,
                            (int64_t)o->seed, m->attr_dim, gp_i_threads()};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) hash_i64(&h, ints[i]);
    hash_f64(&h, o->dropout);
    hash_f64(&h, o->lr);
    const gp_csr *a = &observed->adj;
    hash_i64(&h, a->rows);
    hash_i64(&h, a->nnz);
    for (int64_t v = 0; v <= a->rows; v++) hash_i64(&h, a->ptr[v]);
    for (int64_t k = 0; k < a->nnz; k++) hash_i64(&h, a->idx[k]);
    for (int p = 0; p < GP_LINK_PARTS; p++) {
        hash_i64(&h, split->count[p]);
        for (int64_t k = 0; k < 2 * split->count[p]; k++) hash_i64(&h, split->pairs[p][k]);
    }
    if (attr) gp_sha256_update(&h, attr, (size_t)(a->rows * m->attr_dim) * sizeof(float));
    for (int i = 0; i < all->count; i++)
        gp_sha256_update(&h, all->tensors[i]->data, (size_t)gp_tensor_size(all->tensors[i]) * sizeof(float));
    gp_sha256_final(&h, out);
    return GP_OK;
}

/* The model's tensors without the constant records (options, data checksum): what training
 * changes, what the best epoch keeps and what a training state stores. */
static void drop_records(gp_param_list *all, const gp_linkpred_model *m)
{
    int k = 0;
    for (int i = 0; i < all->count; i++) {
        if (all->tensors[i] == m->config || all->tensors[i] == m->data_sha) {
            gp_i_free(all->names[i]);
            continue;
        }
        all->tensors[k] = all->tensors[i];
        all->names[k++] = all->names[i];
    }
    all->count = k;
}

static gp_status fit(gp_linkpred_result *res, gp_linkpred_model *m, const gp_graph *observed,
                     const gp_link_split *split, const float *attr, gp_linkpred_progress_fn progress, void *user,
                     const char *state_path);

gp_status gp_linkpred_fit(gp_linkpred_result *res, gp_linkpred_model *m, const gp_graph *observed,
                          const gp_link_split *split, const float *attr, gp_linkpred_progress_fn progress,
                          void *user)
{
    return fit(res, m, observed, split, attr, progress, user, NULL);
}

gp_status gp_linkpred_fit_resumable(gp_linkpred_result *res, gp_linkpred_model *m, const gp_graph *observed,
                                    const gp_link_split *split, const float *attr,
                                    gp_linkpred_progress_fn progress, void *user, const char *state_path)
{
    if (!state_path || !*state_path) return GP_ERR(GP_E_INVALID, "gp_linkpred_fit_resumable: no state file");
    return fit(res, m, observed, split, attr, progress, user, state_path);
}

static gp_status fit(gp_linkpred_result *res, gp_linkpred_model *m, const gp_graph *observed,
                     const gp_link_split *split, const float *attr, gp_linkpred_progress_fn progress, void *user,
                     const char *state_path)
{
    if (!res || !m || !observed || !split) return GP_ERR(GP_E_INVALID, "gp_linkpred_fit: NULL argument");
    memset(res, 0, sizeof *res);
    res->val_auc = res->val_ap = res->test_auc = res->test_ap = NAN;
    gp_status st = check_attr(m, attr);
    if (st != GP_OK) return st;
    if (split->count[GP_LINK_TRAIN_POS] + split->count[GP_LINK_TRAIN_NEG] == 0)
        return GP_ERR(GP_E_INVALID, "gp_linkpred_fit: no training pairs");
    if (split->num_nodes > gp_graph_nodes(observed))
        return GP_ERR(GP_E_INVALID, "gp_linkpred_fit: the split has %lld nodes, the graph %lld",
                      (long long)split->num_nodes, (long long)gp_graph_nodes(observed));
    const gp_linkpred_options *o = &m->opt;
    if (o->threads > 0) gp_set_threads(o->threads);
    /* all pairs in one array: train pos, train neg, val pos, val neg, test pos, test neg */
    int64_t total = 0, start[GP_LINK_PARTS + 1];
    for (int p = 0; p < GP_LINK_PARTS; p++) {
        start[p] = total;
        total += split->count[p];
    }
    start[GP_LINK_PARTS] = total;
    int64_t *pairs = gp_i_malloc((size_t)(2 * total + 2) * sizeof(int64_t));
    int64_t *labels = gp_i_malloc((size_t)(total + 1) * sizeof(int64_t));
    int64_t *order = gp_i_malloc((size_t)(total + 1) * sizeof(int64_t));
    double *scores = gp_i_malloc((size_t)(total + 1) * sizeof(double));
    gp_linkpred_samples *s = NULL;
    gp_optim *opt = NULL;
    gp_param_list params = {0}, all = {0};
    float *best = NULL;
    lp_runner tp = {0};
    bool have_tapes = false;
    gp_i_train_state ts = {0};
    gp_rng **rngs = NULL;
    if (!pairs || !labels || !order || !scores) GP_TRY(GP_ERR(GP_E_NOMEM, "gp_linkpred_fit: out of memory"));
    for (int p = 0; p < GP_LINK_PARTS; p++) {
        if (split->count[p] > 0)
            memcpy(pairs + 2 * start[p], split->pairs[p], (size_t)(2 * split->count[p]) * sizeof(int64_t));
        for (int64_t i = start[p]; i < start[p + 1]; i++) labels[i] = p % 2 == 0 ? 1 : 0;
    }
    double t0 = now_seconds();
    GP_TRY(gp_linkpred_extract(&s, observed, total, pairs, o));
    res->extract_seconds = now_seconds() - t0;
    res->subgraphs = total;
    for (int64_t i = 0; i < total; i++) {
        res->mean_nodes += (double)s->rec[i].n;
        res->mean_edges += (double)s->rec[i].m;
    }
    if (total > 0) {
        res->mean_nodes /= (double)total;
        res->mean_edges /= (double)total;
    }
    GP_TRY(gp_module_params(&params, m->root, false));
    GP_TRY(gp_module_params(&all, m->root, true));
    drop_records(&all, m);
    GP_TRY(gp_adam_new(&opt, params.tensors, params.count, o->lr, 0.9f, 0.999f, 1e-8f, 0.0f));
    int64_t nweights = 0;
    for (int i = 0; i < all.count; i++) nweights += gp_tensor_size(all.tensors[i]);
    best = gp_i_malloc((size_t)nweights * sizeof(float));
    if (!best) GP_TRY(GP_ERR(GP_E_NOMEM, "gp_linkpred_fit: out of memory"));
    GP_TRY(runner_new(&tp, m, true));
    have_tapes = true;
    gp_rng shuffle;
    gp_rng_seed(&shuffle, o->seed ^ UINT64_C(0x5DEECE66D));
    int64_t ntrain = start[GP_LINK_VAL_POS];
    for (int64_t i = 0; i < ntrain; i++) order[i] = i;
    double best_val = -INFINITY;
    int first_epoch = 1;
    if (state_path) { /* continue from the state file when it holds this run, then save after every epoch */
        int nrngs = 1;
        gp_i_module_rngs(m->root, NULL, 0, &nrngs);
        gp_i_module_rngs(tp.rep_root, NULL, 0, &nrngs);
        rngs = gp_i_malloc((size_t)(nrngs + 1) * sizeof *rngs);
        if (!rngs) GP_TRY(GP_ERR(GP_E_NOMEM, "gp_linkpred_fit: out of memory"));
        for (int i = 0; i < params.count; i++) /* the state's moments follow all's first entries */
            if (i >= all.count || all.tensors[i] != params.tensors[i])
                GP_TRY(GP_ERR(GP_E_STATE, "gp_linkpred_fit: parameter order differs from the optimiser's"));
        ts = (gp_i_train_state){.all = &all, .nparams = params.count, .opt = opt, .best = best, .order = order,
                                .count = ntrain, .rngs = rngs, .best_val = best_val, .max_epoch = o->epochs};
        rngs[ts.nrngs++] = &shuffle;
        if (tp.rep_root) rngs[ts.nrngs++] = &tp.rep_rng;
        gp_i_module_rngs(m->root, rngs, nrngs + 1, &ts.nrngs);
        gp_i_module_rngs(tp.rep_root, rngs, nrngs + 1, &ts.nrngs);
        GP_TRY(run_fingerprint(ts.fingerprint, m, observed, split, attr, &all));
        FILE *f = fopen(state_path, "rb");
        if (!f && errno != ENOENT)
            GP_TRY(GP_ERR(GP_E_IO, "cannot open the training state %s (%s)", state_path, strerror(errno)));
        if (f) {
            fclose(f);
            GP_TRY(gp_i_train_state_load(&ts, state_path));
            first_epoch = ts.epoch + 1;
            best_val = ts.best_val;
            res->resumed_epochs = ts.epoch;
            res->best_epoch = ts.best_epoch;
            res->val_auc = ts.val_auc;
            res->val_ap = ts.val_ap;
            res->test_auc = ts.test_auc;
            res->test_ap = ts.test_ap;
        }
    }
    lp_timing tm = {0};
    double train_start = now_seconds(), cpu_start = cpu_seconds();
    for (int epoch = first_epoch; epoch <= o->epochs; epoch++) {
        double e0 = now_seconds();
        gp_rng_shuffle(&shuffle, order, ntrain);
        double loss_sum = 0.0;
        int64_t nb = 0;
        for (int64_t i = 0; i < ntrain; i += o->batch_size) {
            int64_t c = ntrain - i < o->batch_size ? ntrain - i : o->batch_size;
            float out[1024];
            float *outp = c <= 1024 ? out : gp_i_malloc((size_t)c * sizeof(float));
            double loss = 0.0;
            st = outp ? runner_batch(&tp, m, s, order + i, c, labels, attr, true, outp, &loss, &tm, &res->batch_seconds)
                      : GP_ERR(GP_E_NOMEM, "out of memory");
            if (outp != out) gp_i_free(outp);
            if (st != GP_OK) goto fail;
            double a0 = now_seconds(), ac = thread_cpu_seconds();
            GP_TRY(gp_optim_step(opt));
            gp_optim_zero_grad(opt);
            tm.classifier += now_seconds() - a0;
            tm.classifier_cpu += thread_cpu_seconds() - ac;
            loss_sum += loss;
            nb++;
        }
        gp_linkpred_epoch ep = {.epoch = epoch, .epochs = o->epochs, .loss = nb ? loss_sum / (double)nb : NAN,
                                .mean_nodes = res->mean_nodes};
        GP_TRY(eval_part(&ep.val_auc, &ep.val_ap, m, &tp, s, start[GP_LINK_VAL_POS], split->count[GP_LINK_VAL_POS],
                         split->count[GP_LINK_VAL_NEG], attr, scores, &tm, &res->batch_seconds));
        ep.test_auc = ep.test_ap = NAN;
        double v = isnan(ep.val_auc) ? (double)epoch : ep.val_auc; /* no validation: the last epoch */
        /* the test part is scored where it can be reported (a new best epoch), or everywhere for
         * learning curves; evaluation draws no random numbers, so training is the same */
        if (v > best_val || o->test_every_epoch)
            GP_TRY(eval_part(&ep.test_auc, &ep.test_ap, m, &tp, s, start[GP_LINK_TEST_POS],
                             split->count[GP_LINK_TEST_POS], split->count[GP_LINK_TEST_NEG], attr, scores, &tm,
                             &res->batch_seconds));
        if (v > best_val) {
            best_val = v;
            ep.best = true;
            res->best_epoch = epoch;
            res->val_auc = ep.val_auc;
            res->val_ap = ep.val_ap;
            res->test_auc = ep.test_auc;
            res->test_ap = ep.test_ap;
            float *p = best;
            for (int i = 0; i < all.count; i++) {
                memcpy(p, all.tensors[i]->data, (size_t)gp_tensor_size(all.tensors[i]) * sizeof(float));
                p += gp_tensor_size(all.tensors[i]);
            }
        }
        if (state_path) {
            ts.epoch = epoch;
            ts.best_epoch = res->best_epoch;
            ts.best_val = best_val;
            ts.val_auc = res->val_auc;
            ts.val_ap = res->val_ap;
            ts.test_auc = res->test_auc;
            ts.test_ap = res->test_ap;
            GP_TRY(gp_i_train_state_save(&ts, state_path));
        }
        ep.seconds = now_seconds() - e0;
        if (progress) progress(&ep, user);
    }
    int ran = o->epochs - first_epoch + 1;
    res->train_seconds = now_seconds() - train_start;
    res->epoch_seconds = ran > 0 ? res->train_seconds / ran : 0.0;
    res->epoch_cpu_seconds = ran > 0 ? (cpu_seconds() - cpu_start) / ran : 0.0;
    res->encoder_seconds = tm.encoder;
    res->walk_seconds = tm.walk;
    res->classifier_seconds = tm.classifier;
    res->encoder_cpu_seconds = tm.encoder_cpu;
    res->walk_cpu_seconds = tm.walk_cpu;
    res->classifier_cpu_seconds = tm.classifier_cpu;
    if (res->best_epoch > 0) { /* leave the model at the selected epoch */
        const float *p = best;
        for (int i = 0; i < all.count; i++) {
            memcpy(all.tensors[i]->data, p, (size_t)gp_tensor_size(all.tensors[i]) * sizeof(float));
            p += gp_tensor_size(all.tensors[i]);
        }
    }
fail:
    if (have_tapes) runner_free(&tp);
    gp_optim_free(&opt);
    gp_param_list_free(&params);
    gp_param_list_free(&all);
    gp_linkpred_samples_free(&s);
    gp_i_free(best);
    gp_i_free(rngs);
    gp_i_free(pairs);
    gp_i_free(labels);
    gp_i_free(order);
    gp_i_free(scores);
    return st;
}
