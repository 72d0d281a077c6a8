/*
 * Seeded synthetic graphs.
 *
 * SBM / Erdos-Renyi by geometric skipping (Batagelj & Brandes 2005): in a run of pairs each
 * present with probability p, the gap to the next present pair is Geometric(p),
 * skip = floor(ln(1 - U) / ln(1 - p)), so the work is O(pairs present), not O(pairs).
 * Within a block the pairs (v, w), w < v, are walked row by row; across blocks a and b the
 * n_a n_b pairs are indexed linearly.
 *
 * Barabasi-Albert and Watts-Strogatz come from igraph. igraph draws from its default RNG, so
 * a private PCG32 generator seeded with `seed` is installed as the default for the call and
 * the previous default restored afterwards (igraph's own stream is left untouched).
 */
#include <math.h>

#include <igraph.h>

#include <graphpool/generators.h>

#include "internal.h"

/* ---- growable edge list ---- */

typedef struct edge_buf {
    int64_t *src, *dst;
    int64_t len, cap;
} edge_buf;

static gp_status edge_push(edge_buf *b, int64_t u, int64_t v)
{
    if (b->len == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 1024;
        int64_t *s = gp_i_realloc(b->src, gp_i_mul_size((size_t)cap, sizeof(int64_t)));
        if (!s) return GP_ERR(GP_E_NOMEM, "generator: out of memory for %lld edges", (long long)cap);
        b->src = s;
        int64_t *d = gp_i_realloc(b->dst, gp_i_mul_size((size_t)cap, sizeof(int64_t)));
        if (!d) return GP_ERR(GP_E_NOMEM, "generator: out of memory for %lld edges", (long long)cap);
        b->dst = d;
        b->cap = cap;
    }
    b->src[b->len] = u;
    b->dst[b->len] = v;
    b->len++;
    return GP_OK;
}

static gp_status edges_to_graph(gp_graph **out, int64_t n, edge_buf *b)
{
    gp_status st = gp_graph_from_edges(out, n, b->len, b->src, b->dst, NULL,
                                       GP_EDGES_SYMMETRISE | GP_EDGES_DROP_DUPLICATES | GP_EDGES_DROP_SELF_LOOPS);
    gp_i_free(b->src);
    gp_i_free(b->dst);
    b->src = b->dst = NULL;
    return st;
}

/* Uniform double in [0, 1) from the top 53 bits. */
static double uniform01(gp_rng *rng) { return (double)(gp_rng_u64(rng) >> 11) * 0x1.0p-53; }

/* Gap to the next present pair: Geometric(p) on {0, 1, ...}; p in (0, 1). */
static int64_t geometric_skip(gp_rng *rng, double log_q)
{
    double skip = floor(log(1.0 - uniform01(rng)) / log_q);
    return skip > 9.0e18 ? INT64_MAX / 2 : (int64_t)skip;
}

/* Pairs (base + w, base + v), 0 <= w < v < na, each with probability p. */
static gp_status within_block(edge_buf *b, int64_t base, int64_t na, double p, gp_rng *rng)
{
    if (p <= 0.0 || na < 2) return GP_OK;
    gp_status st;
    if (p >= 1.0) {
        for (int64_t v = 1; v < na; v++)
            for (int64_t w = 0; w < v; w++)
                if ((st = edge_push(b, base + w, base + v)) != GP_OK) return st;
        return GP_OK;
    }
    double log_q = log(1.0 - p);
    int64_t v = 1, w = -1;
    while (v < na) {
        w += 1 + geometric_skip(rng, log_q);
        while (w >= v && v < na) {
            w -= v;
            v++;
        }
        if (v < na && (st = edge_push(b, base + w, base + v)) != GP_OK) return st;
    }
    return GP_OK;
}

/* Pairs (base_a + i, base_b + j), i < na, j < nb, each with probability p. */
static gp_status across_blocks(edge_buf *b, int64_t base_a, int64_t na, int64_t base_b, int64_t nb,
                               double p, gp_rng *rng)
{
    if (p <= 0.0 || na == 0 || nb == 0) return GP_OK;
    gp_status st;
    int64_t total = na * nb;
    if (p >= 1.0) {
        for (int64_t t = 0; t < total; t++)
            if ((st = edge_push(b, base_a + t / nb, base_b + t % nb)) != GP_OK) return st;
        return GP_OK;
    }
    double log_q = log(1.0 - p);
    for (int64_t t = geometric_skip(rng, log_q); t < total; t += 1 + geometric_skip(rng, log_q))
        if ((st = edge_push(b, base_a + t / nb, base_b + t % nb)) != GP_OK) return st;
    return GP_OK;
}

gp_status gp_gen_sbm(gp_graph **out, int64_t *block_of, int64_t num_blocks, const int64_t *sizes,
                     const double *p, uint64_t seed)
{
    if (!out || !sizes || !p || num_blocks < 1) return GP_ERR(GP_E_INVALID, "gp_gen_sbm: NULL or bad argument");
    *out = NULL;
    int64_t n = 0;
    for (int64_t a = 0; a < num_blocks; a++) {
        if (sizes[a] < 0 || sizes[a] > ((int64_t)1 << 31))
            return GP_ERR(GP_E_INVALID, "gp_gen_sbm: block %lld has size %lld", (long long)a, (long long)sizes[a]);
        n += sizes[a];
        for (int64_t c = 0; c < num_blocks; c++) {
            double pac = p[a * num_blocks + c];
            if (!(pac >= 0.0 && pac <= 1.0))
                return GP_ERR(GP_E_INVALID, "gp_gen_sbm: p[%lld][%lld] = %g outside [0, 1]", (long long)a,
                              (long long)c, pac);
            if (pac != p[c * num_blocks + a])
                return GP_ERR(GP_E_INVALID, "gp_gen_sbm: p is not symmetric at [%lld][%lld]", (long long)a,
                              (long long)c);
        }
    }
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    edge_buf b = {0};
    gp_status st = GP_OK;
    for (int64_t a = 0, base_a = 0; a < num_blocks; base_a += sizes[a], a++) {
        GP_TRY(within_block(&b, base_a, sizes[a], p[a * num_blocks + a], &rng));
        for (int64_t c = a + 1, base_c = base_a + sizes[a]; c < num_blocks; base_c += sizes[c], c++)
            GP_TRY(across_blocks(&b, base_a, sizes[a], base_c, sizes[c], p[a * num_blocks + c], &rng));
    }
    if (block_of)
        for (int64_t a = 0, i = 0; a < num_blocks; a++)
            for (int64_t k = 0; k < sizes[a]; k++) block_of[i++] = a;
    return edges_to_graph(out, n, &b);
fail:
    gp_i_free(b.src);
    gp_i_free(b.dst);
    return st;
}

gp_status gp_gen_erdos_renyi(gp_graph **out, int64_t n, double p, uint64_t seed)
{
    if (n < 0) return GP_ERR(GP_E_INVALID, "gp_gen_erdos_renyi: n = %lld < 0", (long long)n);
    return gp_gen_sbm(out, NULL, 1, &n, &p, seed);
}

/* ---- lattices ---- */

static gp_status lattice(gp_graph **out, int64_t rows, int64_t cols, bool periodic, bool diagonal,
                         const char *who)
{
    if (!out) return GP_ERR(GP_E_INVALID, "%s: out is NULL", who);
    *out = NULL;
    if (rows < 1 || cols < 1 || (periodic && (rows < 3 || cols < 3)))
        return GP_ERR(GP_E_INVALID, "%s: %lld x %lld is too small%s", who, (long long)rows, (long long)cols,
                      periodic ? " (periodic needs >= 3 x 3)" : "");
    edge_buf b = {0};
    gp_status st = GP_OK;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t u = r * cols + c;
            bool right = periodic || c + 1 < cols, down = periodic || r + 1 < rows;
            int64_t cr = (c + 1) % cols, rd = (r + 1) % rows;
            if (right) GP_TRY(edge_push(&b, u, r * cols + cr));
            if (down) GP_TRY(edge_push(&b, u, rd * cols + c));
            if (diagonal && right && down) GP_TRY(edge_push(&b, u, rd * cols + cr));
        }
    return edges_to_graph(out, rows * cols, &b);
fail:
    gp_i_free(b.src);
    gp_i_free(b.dst);
    return st;
}

gp_status gp_gen_square_lattice(gp_graph **out, int64_t rows, int64_t cols, bool periodic)
{
    return lattice(out, rows, cols, periodic, false, "gp_gen_square_lattice");
}

gp_status gp_gen_triangle_lattice(gp_graph **out, int64_t rows, int64_t cols, bool periodic)
{
    return lattice(out, rows, cols, periodic, true, "gp_gen_triangle_lattice");
}

/* ---- igraph generators ---- */

/* Run after an igraph generator: convert ig (destroyed here) to a gp_graph. */
static gp_status from_igraph(gp_graph **out, igraph_t *ig, const char *who)
{
    igraph_vector_int_t el;
    gp_status st = GP_OK;
    if (igraph_vector_int_init(&el, 0) != IGRAPH_SUCCESS) {
        igraph_destroy(ig);
        return GP_ERR(GP_E_NOMEM, "%s: out of memory", who);
    }
    igraph_integer_t n = igraph_vcount(ig);
    igraph_error_t err = igraph_get_edgelist(ig, &el, 0);
    if (err != IGRAPH_SUCCESS) {
        st = GP_ERR(GP_E_FOREIGN, "%s: igraph_get_edgelist failed (%s)", who, igraph_strerror(err));
    } else {
        int64_t m = igraph_vector_int_size(&el) / 2;
        edge_buf b = {0};
        for (int64_t e = 0; e < m && st == GP_OK; e++)
            st = edge_push(&b, VECTOR(el)[2 * e], VECTOR(el)[2 * e + 1]);
        if (st == GP_OK)
            st = edges_to_graph(out, n, &b);
        else
            gp_i_free(b.src), gp_i_free(b.dst);
    }
    igraph_vector_int_destroy(&el);
    igraph_destroy(ig);
    return st;
}

/* A private seeded PCG32 generator as igraph's default while it lives. */
typedef struct seeded_igraph_rng {
    igraph_rng_t rng;
    igraph_rng_t *previous;
} seeded_igraph_rng;

static gp_status seeded_rng_begin(seeded_igraph_rng *s, uint64_t seed, const char *who)
{
    igraph_error_t err = igraph_rng_init(&s->rng, &igraph_rngtype_pcg32);
    if (err != IGRAPH_SUCCESS) return GP_ERR(GP_E_FOREIGN, "%s: igraph_rng_init failed (%s)", who, igraph_strerror(err));
    igraph_rng_seed(&s->rng, (igraph_uint_t)seed);
    s->previous = igraph_rng_default();
    igraph_rng_set_default(&s->rng);
    return GP_OK;
}

static void seeded_rng_end(seeded_igraph_rng *s)
{
    igraph_rng_set_default(s->previous);
    igraph_rng_destroy(&s->rng);
}

gp_status gp_gen_barabasi_albert(gp_graph **out, int64_t n, int64_t m, uint64_t seed)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_gen_barabasi_albert: out is NULL");
    *out = NULL;
    if (n < 1 || m < 1)
        return GP_ERR(GP_E_INVALID, "gp_gen_barabasi_albert: need n >= 1, m >= 1 (n = %lld, m = %lld)",
                      (long long)n, (long long)m);
    seeded_igraph_rng s;
    gp_status st = seeded_rng_begin(&s, seed, "gp_gen_barabasi_albert");
    if (st != GP_OK) return st;
    igraph_t ig;
    igraph_error_t err = igraph_barabasi_game(&ig, n, 1.0, m, NULL, false, 1.0, IGRAPH_UNDIRECTED,
                                              IGRAPH_BARABASI_PSUMTREE, NULL);
    seeded_rng_end(&s);
    if (err != IGRAPH_SUCCESS)
        return GP_ERR(GP_E_FOREIGN, "gp_gen_barabasi_albert: igraph_barabasi_game failed (%s)", igraph_strerror(err));
    return from_igraph(out, &ig, "gp_gen_barabasi_albert");
}

gp_status gp_gen_watts_strogatz(gp_graph **out, int64_t n, int64_t k, double p, uint64_t seed)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_gen_watts_strogatz: out is NULL");
    *out = NULL;
    if (k < 1 || n <= 2 * k || !(p >= 0.0 && p <= 1.0))
        return GP_ERR(GP_E_INVALID, "gp_gen_watts_strogatz: need k >= 1, n > 2k, p in [0, 1] (n = %lld, k = %lld, p = %g)",
                      (long long)n, (long long)k, p);
    seeded_igraph_rng s;
    gp_status st = seeded_rng_begin(&s, seed, "gp_gen_watts_strogatz");
    if (st != GP_OK) return st;
    igraph_t ig;
    igraph_error_t err = igraph_watts_strogatz_game(&ig, 1, n, k, p, false, false);
    seeded_rng_end(&s);
    if (err != IGRAPH_SUCCESS)
        return GP_ERR(GP_E_FOREIGN, "gp_gen_watts_strogatz: igraph_watts_strogatz_game failed (%s)",
                      igraph_strerror(err));
    return from_igraph(out, &ig, "gp_gen_watts_strogatz");
}
