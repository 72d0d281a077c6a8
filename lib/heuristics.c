/*
 * Link-prediction heuristics (formulas in graphpool/heuristics.h).
 *
 * Local scores (cn, aa, ra) merge the two sorted CSR rows: O(d(u) + d(v)) per pair, no n x n
 * matrix (igraph's cocitation / inverse_log_weighted return |vids| x n matrices, O(n^2) for
 * pairs spread over the graph). Jaccard uses igraph's pair function directly.
 *
 * Katz: pairs grouped by source u; x_0 = e_u, x_l = A x_{l-1} as sparse vectors (a dense
 * array plus the list of touched nodes) for l < L, acc = sum_{l<L} beta^l x_l, and the last hop
 * is evaluated only at the target: (A^L)_{uv} = sum_{w in N(v)} x_{L-1}[w].
 *
 * Rooted PageRank: power iteration x <- alpha e_s + (1 - alpha) A D^-1 x from x = e_s. For a
 * symmetric A every iterate satisfies x^{(u)}_v / d(v) = x^{(v)}_u / d(u) (since
 * D^-1 (A D^-1)^j = ((A D^-1)^j)^T D^-1), so ppr_v(u) = ppr_u(v) d(u) / d(v) and one power
 * iteration per source serves both terms: score = ppr_u(v) (1 + d(u) / d(v)). (A node without
 * neighbours keeps all mass: ppr_s = e_s, and it is reached from nowhere, so its terms are 0.)
 *
 * Spectral: randomised subspace iteration Q <- orth(A Q) from a Gaussian start, then the
 * Rayleigh-Ritz step B = Q^T A Q = V Lambda V^T (cyclic Jacobi on the r x r matrix), U = Q V,
 * score = sum_k lambda_k U_uk U_vk.
 *
 * Parallel loops give each thread whole pairs or whole source groups with private
 * workspaces; every score is computed by exactly one thread in a fixed order, so results do
 * not depend on the thread count.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cblas.h>
#include <igraph.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <graphpool/heuristics.h>

#include "internal.h"

void gp_heuristic_opts_default(gp_heuristic_opts *opts)
{
    if (!opts) return;
    opts->katz_beta = 0.01;
    opts->katz_hops = 4;
    opts->ppr_alpha = 0.15;
    opts->ppr_max_iters = 100;
    opts->ppr_tol = 1e-8;
    opts->svd_rank = 32;
    opts->svd_iters = 6;
    opts->seed = 1;
}

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Checks the arguments; *gp becomes the graph's explicit form (for implicit graphs) and *o (when
 * not NULL) the options, the defaults where opts is NULL. */
static gp_status check_args(gp_heuristic_opts *o, double *scores, const gp_graph **gp, int64_t count,
                            const int64_t *pairs, const gp_heuristic_opts *opts, const char *who)
{
    if (o) {
        gp_heuristic_opts_default(o);
        if (opts) *o = *opts;
    }
    if (!scores || !*gp || count < 0 || (count > 0 && !pairs))
        return GP_ERR(GP_E_INVALID, "%s: NULL or bad argument", who);
    GP_I_EXPLICIT(*gp);
    const gp_graph *g = *gp;
    if (!g->symmetric) return GP_ERR(GP_E_INVALID, "%s: the graph must be undirected (symmetric)", who);
    int64_t n = g->adj.rows;
    for (int64_t p = 0; p < count; p++)
        if (pairs[2 * p] < 0 || pairs[2 * p] >= n || pairs[2 * p + 1] < 0 || pairs[2 * p + 1] >= n)
            return GP_ERR(GP_E_RANGE, "%s: pair %lld (%lld, %lld) has a node outside [0, %lld)", who,
                          (long long)p, (long long)pairs[2 * p], (long long)pairs[2 * p + 1], (long long)n);
    return GP_OK;
}

static inline int64_t degree(const gp_csr *a, int64_t i) { return a->ptr[i + 1] - a->ptr[i]; }

/* ---- local scores: merge of sorted neighbour rows ---- */

typedef enum { LOCAL_CN, LOCAL_AA, LOCAL_RA } local_kind;

static double local_score(const gp_csr *a, int64_t u, int64_t v, local_kind kind)
{
    int64_t i = a->ptr[u], ie = a->ptr[u + 1], j = a->ptr[v], je = a->ptr[v + 1];
    double s = 0.0;
    while (i < ie && j < je) {
        int64_t x = a->idx[i], y = a->idx[j];
        if (x < y) {
            i++;
        } else if (y < x) {
            j++;
        } else {
            int64_t d = degree(a, x);
            if (kind == LOCAL_CN)
                s += 1.0;
            else if (kind == LOCAL_RA)
                s += 1.0 / (double)d;
            else if (d > 1)
                s += 1.0 / log((double)d);
            i++, j++;
        }
    }
    return s;
}

static gp_status local_heuristic(double *scores, const gp_graph *g, int64_t count,
                                 const int64_t *pairs, local_kind kind, const char *who)
{
    gp_status st = check_args(NULL, scores, &g, count, pairs, NULL, who);
    if (st != GP_OK) return st;
    const gp_csr *a = &g->adj;
    int nt = gp_i_threads();
    (void)nt;
    int64_t work = count * (a->rows > 0 ? 2 * a->nnz / a->rows + 1 : 1);
    GP_I_PARALLEL_FOR(work > GP_PAR_MIN_WORK,
    for (int64_t p = 0; p < count; p++) scores[p] = local_score(a, pairs[2 * p], pairs[2 * p + 1], kind););
    return GP_OK;
}

gp_status gp_heuristic_cn(double *scores, const gp_graph *g, int64_t count, const int64_t *pairs,
                          const gp_heuristic_opts *opts)
{
    (void)opts;
    return local_heuristic(scores, g, count, pairs, LOCAL_CN, "gp_heuristic_cn");
}

gp_status gp_heuristic_aa(double *scores, const gp_graph *g, int64_t count, const int64_t *pairs,
                          const gp_heuristic_opts *opts)
{
    (void)opts;
    return local_heuristic(scores, g, count, pairs, LOCAL_AA, "gp_heuristic_aa");
}

gp_status gp_heuristic_ra(double *scores, const gp_graph *g, int64_t count, const int64_t *pairs,
                          const gp_heuristic_opts *opts)
{
    (void)opts;
    return local_heuristic(scores, g, count, pairs, LOCAL_RA, "gp_heuristic_ra");
}

gp_status gp_heuristic_pa(double *scores, const gp_graph *g, int64_t count, const int64_t *pairs,
                          const gp_heuristic_opts *opts)
{
    (void)opts;
    gp_status st = check_args(NULL, scores, &g, count, pairs, NULL, "gp_heuristic_pa");
    if (st != GP_OK) return st;
    for (int64_t p = 0; p < count; p++)
        scores[p] = (double)degree(&g->adj, pairs[2 * p]) * (double)degree(&g->adj, pairs[2 * p + 1]);
    return GP_OK;
}

/* ---- Jaccard through igraph ---- */

gp_status gp_heuristic_jaccard(double *scores, const gp_graph *g, int64_t count, const int64_t *pairs,
                               const gp_heuristic_opts *opts)
{
    (void)opts;
    gp_status st = check_args(NULL, scores, &g, count, pairs, NULL, "gp_heuristic_jaccard");
    if (st != GP_OK) return st;
    if (count == 0) return GP_OK;
    const gp_csr *a = &g->adj;
    int64_t n = a->rows, m = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = a->ptr[i]; k < a->ptr[i + 1]; k++) m += a->idx[k] >= i;
    igraph_vector_int_t edges, pv;
    igraph_vector_t res;
    igraph_t ig;
    bool have_edges = false, have_pv = false, have_res = false, have_ig = false;
    igraph_error_t err = igraph_vector_int_init(&edges, 2 * m);
    if (err != IGRAPH_SUCCESS) goto foreign;
    have_edges = true;
    int64_t e = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = a->ptr[i]; k < a->ptr[i + 1]; k++)
            if (a->idx[k] >= i) {
                VECTOR(edges)[2 * e] = i;
                VECTOR(edges)[2 * e + 1] = a->idx[k];
                e++;
            }
    if ((err = igraph_create(&ig, &edges, n, IGRAPH_UNDIRECTED)) != IGRAPH_SUCCESS) goto foreign;
    have_ig = true;
    if ((err = igraph_vector_int_init(&pv, 2 * count)) != IGRAPH_SUCCESS) goto foreign;
    have_pv = true;
    for (int64_t i = 0; i < 2 * count; i++) VECTOR(pv)[i] = pairs[i];
    if ((err = igraph_vector_init(&res, count)) != IGRAPH_SUCCESS) goto foreign;
    have_res = true;
    if ((err = igraph_similarity_jaccard_pairs(&ig, &res, &pv, IGRAPH_ALL, false)) != IGRAPH_SUCCESS)
        goto foreign;
    for (int64_t p = 0; p < count; p++) scores[p] = VECTOR(res)[p];
    st = GP_OK;
    goto done;
foreign:
    st = GP_ERR(GP_E_FOREIGN, "gp_heuristic_jaccard: igraph failed (%s)", igraph_strerror(err));
done:
    if (have_res) igraph_vector_destroy(&res);
    if (have_pv) igraph_vector_int_destroy(&pv);
    if (have_ig) igraph_destroy(&ig);
    if (have_edges) igraph_vector_int_destroy(&edges);
    return st;
}

/* ---- grouping pairs by one endpoint ---- */

typedef struct keyed {
    int64_t key;
    int64_t pair;
} keyed;

static int by_key(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key) return (x->key > y->key) - (x->key < y->key);
    return (x->pair > y->pair) - (x->pair < y->pair);
}

/* The pairs grouped by their first node: group gi is order[start[gi] .. start[gi + 1]). */
typedef struct source_groups {
    keyed *order;   /* the count pairs sorted by their first node */
    int64_t *start; /* groups + 1 offsets (room for count + 1) */
    int64_t groups;
} source_groups;

static void source_groups_free(source_groups *sg)
{
    gp_i_free(sg->order);
    gp_i_free(sg->start);
    sg->order = NULL, sg->start = NULL;
}

static gp_status group_by_source(source_groups *sg, int64_t count, const int64_t *pairs)
{
    sg->order = gp_i_malloc(gp_i_mul_size((size_t)count, sizeof(keyed)));
    sg->start = gp_i_malloc(gp_i_mul_size((size_t)count + 1, sizeof(int64_t)));
    if (!sg->order || !sg->start) {
        source_groups_free(sg);
        return GP_ERR(GP_E_NOMEM, "heuristics: out of memory for %lld pairs", (long long)count);
    }
    keyed *order = sg->order;
    for (int64_t p = 0; p < count; p++) order[p] = (keyed){pairs[2 * p], p};
    qsort(order, (size_t)count, sizeof(keyed), by_key);
    int64_t ng = 0;
    for (int64_t p = 0; p < count; p++)
        if (p == 0 || order[p].key != order[p - 1].key) sg->start[ng++] = p;
    sg->start[ng] = count;
    sg->groups = ng;
    return GP_OK;
}

/* ---- truncated Katz ---- */

typedef struct sparse_vec {
    double *val;   /* n, zero outside the listed nodes */
    int64_t *list; /* touched nodes */
    int64_t len;
} sparse_vec;

/* y = A x (y empty on entry). */
static void sparse_hop(sparse_vec *y, const sparse_vec *x, const gp_csr *a)
{
    for (int64_t t = 0; t < x->len; t++) {
        int64_t w = x->list[t];
        double xw = x->val[w];
        for (int64_t k = a->ptr[w]; k < a->ptr[w + 1]; k++) {
            int64_t z = a->idx[k];
            if (y->val[z] == 0.0) y->list[y->len++] = z; /* walk counts are > 0 once touched */
            y->val[z] += xw;
        }
    }
}

static void sparse_clear(sparse_vec *x)
{
    for (int64_t t = 0; t < x->len; t++) x->val[x->list[t]] = 0.0;
    x->len = 0;
}

gp_status gp_heuristic_katz(double *scores, const gp_graph *g, int64_t count, const int64_t *pairs,
                            const gp_heuristic_opts *opts)
{
    gp_heuristic_opts o;
    gp_status st = check_args(&o, scores, &g, count, pairs, opts, "gp_heuristic_katz");
    if (st != GP_OK) return st;
    if (o.katz_hops < 1 || !(o.katz_beta > 0.0) || !isfinite(o.katz_beta))
        return GP_ERR(GP_E_INVALID, "gp_heuristic_katz: need hops >= 1 and finite beta > 0 (hops %d, beta %g)",
                      o.katz_hops, o.katz_beta);
    if (count == 0) return GP_OK;
    const gp_csr *a = &g->adj;
    int64_t n = a->rows;
    source_groups sg = {0};
    int nt = gp_i_threads();
    /* per thread: x, y (sparse, value + list) and acc (sparse values with x's... own list) */
    double *vals = NULL;
    int64_t *lists = NULL;
    GP_TRY(group_by_source(&sg, count, pairs));
    vals = gp_i_calloc(gp_i_mul_size((size_t)nt * 3, (size_t)n), sizeof(double));
    lists = gp_i_malloc(gp_i_mul_size((size_t)nt * 3 * (size_t)n, sizeof(int64_t)));
    if (!vals || !lists) {
        st = GP_ERR(GP_E_NOMEM, "gp_heuristic_katz: out of memory for %d workspaces of %lld nodes", nt,
                    (long long)n);
        goto fail;
    }
    int hops = o.katz_hops;
    double beta = o.katz_beta, beta_last = pow(beta, hops);
    if (!(beta_last >= DBL_MIN) || !isfinite(beta_last)) { /* keeps every touched entry > 0 */
        st = GP_ERR(GP_E_INVALID, "gp_heuristic_katz: beta^L = %g^%d under- or overflows", beta, hops);
        goto fail;
    }
    (void)nt;
    GP_I_PARALLEL_FOR(sg.groups * (n + a->nnz) > GP_PAR_MIN_WORK,
    for (int64_t gi = 0; gi < sg.groups; gi++) {
        size_t base = (size_t)thread_id() * 3 * (size_t)n;
        sparse_vec x = {vals + base, lists + base, 0};
        sparse_vec y = {vals + base + n, lists + base + n, 0};
        sparse_vec acc = {vals + base + 2 * n, lists + base + 2 * n, 0};
        int64_t s = sg.order[sg.start[gi]].key;
        x.val[s] = 1.0;
        x.list[x.len++] = s;
        double bl = 1.0;
        for (int l = 1; l < hops; l++) { /* acc += beta^l A^l e_s for l < L */
            sparse_hop(&y, &x, a);
            bl *= beta;
            for (int64_t t = 0; t < y.len; t++) {
                int64_t z = y.list[t];
                if (acc.val[z] == 0.0) acc.list[acc.len++] = z;
                acc.val[z] += bl * y.val[z];
            }
            sparse_clear(&x);
            sparse_vec tmp = x;
            x = y, y = tmp;
        }
        for (int64_t q = sg.start[gi]; q < sg.start[gi + 1]; q++) {
            int64_t p = sg.order[q].pair, v = pairs[2 * p + 1];
            double last = 0.0; /* (A^L)_{sv} = sum_{w in N(v)} x_{L-1}[w] */
            for (int64_t k = a->ptr[v]; k < a->ptr[v + 1]; k++) last += x.val[a->idx[k]];
            scores[p] = acc.val[v] + beta_last * last;
        }
        sparse_clear(&x);
        sparse_clear(&acc);
    });
    st = GP_OK;
fail:
    source_groups_free(&sg);
    gp_i_free(vals);
    gp_i_free(lists);
    return st;
}

/* ---- rooted PageRank ---- */

gp_status gp_heuristic_ppr(double *scores, const gp_graph *g, int64_t count, const int64_t *pairs,
                           const gp_heuristic_opts *opts)
{
    gp_heuristic_opts o;
    gp_status st = check_args(&o, scores, &g, count, pairs, opts, "gp_heuristic_ppr");
    if (st != GP_OK) return st;
    if (!(o.ppr_alpha > 0.0 && o.ppr_alpha <= 1.0) || o.ppr_max_iters < 1 || !(o.ppr_tol >= 0.0))
        return GP_ERR(GP_E_INVALID, "gp_heuristic_ppr: need alpha in (0, 1], iterations >= 1, tol >= 0 "
                      "(alpha %g, iterations %d, tol %g)", o.ppr_alpha, o.ppr_max_iters, o.ppr_tol);
    if (count == 0) return GP_OK;
    const gp_csr *a = &g->adj;
    int64_t n = a->rows;
    source_groups sg = {0};
    int nt = gp_i_threads();
    double *work = NULL, *inv_deg = gp_i_malloc(gp_i_mul_size((size_t)n, sizeof(double)));
    GP_TRY(group_by_source(&sg, count, pairs));
    work = gp_i_malloc(gp_i_mul_size((size_t)nt * 3, (size_t)n * sizeof(double)));
    if (!work || !inv_deg) {
        st = GP_ERR(GP_E_NOMEM, "gp_heuristic_ppr: out of memory for %d workspaces of %lld nodes", nt,
                    (long long)n);
        goto fail;
    }
    for (int64_t i = 0; i < n; i++) inv_deg[i] = degree(a, i) > 0 ? 1.0 / (double)degree(a, i) : 0.0;
    double alpha = o.ppr_alpha, tol = o.ppr_tol;
    int iters = o.ppr_max_iters;
    (void)nt;
    GP_I_PARALLEL_FOR(sg.groups * (n + a->nnz) > GP_PAR_MIN_WORK,
    for (int64_t gi = 0; gi < sg.groups; gi++) {
        double *x = work + (size_t)thread_id() * 3 * (size_t)n, *y = x + n, *xd = y + n;
        int64_t s = sg.order[sg.start[gi]].key;
        memset(x, 0, (size_t)n * sizeof(double));
        x[s] = 1.0;
        if (degree(a, s) > 0) {
            for (int it = 0; it < iters; it++) {
                for (int64_t i = 0; i < n; i++) xd[i] = x[i] * inv_deg[i];
                double change = 0.0;
                for (int64_t i = 0; i < n; i++) {
                    double sum = 0.0;
                    for (int64_t k = a->ptr[i]; k < a->ptr[i + 1]; k++) sum += xd[a->idx[k]];
                    y[i] = (1.0 - alpha) * sum + (i == s ? alpha : 0.0);
                    change += fabs(y[i] - x[i]);
                }
                double *t = x;
                x = y, y = t;
                if (change < tol) break;
            }
        }
        for (int64_t q = sg.start[gi]; q < sg.start[gi + 1]; q++) {
            int64_t p = sg.order[q].pair, v = pairs[2 * p + 1];
            if (v == s)
                scores[p] = 2.0 * x[s];
            else if (degree(a, v) == 0)
                scores[p] = 0.0;
            else
                scores[p] = x[v] * (1.0 + (double)degree(a, s) / (double)degree(a, v));
        }
    });
    st = GP_OK;
fail:
    source_groups_free(&sg);
    gp_i_free(work);
    gp_i_free(inv_deg);
    return st;
}

/* ---- spectral low-rank baseline ---- */

/* Y = A Q, column-major n x r. */
static void spmm_cols(double *y, const gp_csr *a, const double *q, int64_t r)
{
    int64_t n = a->rows;
    int nt = gp_i_threads();
    (void)nt;
    GP_I_PARALLEL_FOR(r * a->nnz > GP_PAR_MIN_WORK,
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < r; j++) {
            const double *qj = q + j * n;
            double sum = 0.0;
            for (int64_t k = a->ptr[i]; k < a->ptr[i + 1]; k++) sum += qj[a->idx[k]];
            y[i + j * n] = sum;
        });
}

/* Orthonormalise the r columns of q (column-major n x r) in place: modified Gram-Schmidt,
 * twice ("twice is enough"); a column that vanishes (rank deficiency) is redrawn at random. */
static void orthonormalise(double *q, int64_t n, int64_t r, gp_rng *rng)
{
    for (int64_t j = 0; j < r; j++) {
        double *qj = q + j * n;
        for (int attempt = 0;; attempt++) {
            double before = cblas_dnrm2((int)n, qj, 1);
            for (int pass = 0; pass < 2; pass++)
                for (int64_t i = 0; i < j; i++) {
                    double d = cblas_ddot((int)n, q + i * n, 1, qj, 1);
                    cblas_daxpy((int)n, -d, q + i * n, 1, qj, 1);
                }
            double after = cblas_dnrm2((int)n, qj, 1);
            if (after > 1e-10 * before && after > 1e-300) {
                cblas_dscal((int)n, 1.0 / after, qj, 1);
                break;
            }
            for (int64_t i = 0; i < n; i++) qj[i] = (double)gp_rng_normal(rng);
            (void)attempt;
        }
    }
}

/* Eigen-decomposition of the symmetric r x r matrix b (column-major, destroyed) by cyclic
 * Jacobi rotations: lambda[r] and v (column k = eigenvector k). */
static void jacobi_eigen(double *lambda, double *v, double *b, int64_t r)
{
    for (int64_t i = 0; i < r * r; i++) v[i] = 0.0;
    for (int64_t i = 0; i < r; i++) v[i * r + i] = 1.0;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0, total = 0.0;
        for (int64_t j = 0; j < r; j++)
            for (int64_t i = 0; i < r; i++) {
                total += b[i + j * r] * b[i + j * r];
                if (i != j) off += b[i + j * r] * b[i + j * r];
            }
        if (off <= 1e-30 * total || off == 0.0) break;
        for (int64_t p = 0; p < r - 1; p++)
            for (int64_t q = p + 1; q < r; q++) {
                double bpq = b[p + q * r];
                if (bpq == 0.0) continue;
                double theta = (b[q + q * r] - b[p + p * r]) / (2.0 * bpq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int64_t k = 0; k < r; k++) { /* columns p, q of b */
                    double bkp = b[k + p * r], bkq = b[k + q * r];
                    b[k + p * r] = c * bkp - s * bkq;
                    b[k + q * r] = s * bkp + c * bkq;
                }
                for (int64_t k = 0; k < r; k++) { /* rows p, q of b */
                    double bpk = b[p + k * r], bqk = b[q + k * r];
                    b[p + k * r] = c * bpk - s * bqk;
                    b[q + k * r] = s * bpk + c * bqk;
                }
                for (int64_t k = 0; k < r; k++) {
                    double vkp = v[k + p * r], vkq = v[k + q * r];
                    v[k + p * r] = c * vkp - s * vkq;
                    v[k + q * r] = s * vkp + c * vkq;
                }
            }
    }
    for (int64_t i = 0; i < r; i++) lambda[i] = b[i + i * r];
}

gp_status gp_heuristic_svd(double *scores, const gp_graph *g, int64_t count, const int64_t *pairs,
                           const gp_heuristic_opts *opts)
{
    gp_heuristic_opts o;
    gp_status st = check_args(&o, scores, &g, count, pairs, opts, "gp_heuristic_svd");
    if (st != GP_OK) return st;
    if (o.svd_rank < 1 || o.svd_iters < 0)
        return GP_ERR(GP_E_INVALID, "gp_heuristic_svd: need rank >= 1 and iterations >= 0 (rank %d, iterations %d)",
                      o.svd_rank, o.svd_iters);
    const gp_csr *a = &g->adj;
    int64_t n = a->rows, r = o.svd_rank < n ? o.svd_rank : n;
    if (count == 0 || n == 0) return GP_OK;
    if (n > INT32_MAX / (r > 0 ? r : 1))
        return GP_ERR(GP_E_UNSUPPORTED, "gp_heuristic_svd: %lld x %lld exceeds the BLAS int range", (long long)n,
                      (long long)r);
    double *q = gp_i_malloc(gp_i_mul_size((size_t)(n * r), sizeof(double)));
    double *y = gp_i_malloc(gp_i_mul_size((size_t)(n * r), sizeof(double)));
    double *b = gp_i_malloc(gp_i_mul_size((size_t)(r * r), sizeof(double)));
    double *v = gp_i_malloc(gp_i_mul_size((size_t)(r * r), sizeof(double)));
    double *lambda = gp_i_malloc(gp_i_mul_size((size_t)r, sizeof(double)));
    if (!q || !y || !b || !v || !lambda) {
        st = GP_ERR(GP_E_NOMEM, "gp_heuristic_svd: out of memory for rank %lld on %lld nodes", (long long)r,
                    (long long)n);
        goto done;
    }
    gp_rng rng;
    gp_rng_seed(&rng, o.seed);
    for (int64_t i = 0; i < n * r; i++) q[i] = (double)gp_rng_normal(&rng);
    orthonormalise(q, n, r, &rng);
    for (int it = 0; it < o.svd_iters; it++) {
        spmm_cols(y, a, q, r);
        double *t = q;
        q = y, y = t;
        orthonormalise(q, n, r, &rng);
    }
    spmm_cols(y, a, q, r);
    int ni = (int)n, ri = (int)r;
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, ri, ri, ni, 1.0, q, ni, y, ni, 0.0, b, ri);
    for (int64_t j = 0; j < r; j++) /* symmetrise away rounding */
        for (int64_t i = 0; i < j; i++) b[i + j * r] = b[j + i * r] = 0.5 * (b[i + j * r] + b[j + i * r]);
    jacobi_eigen(lambda, v, b, r);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, ni, ri, ri, 1.0, q, ni, v, ri, 0.0, y, ni); /* U */
    for (int64_t p = 0; p < count; p++) {
        int64_t u = pairs[2 * p], w = pairs[2 * p + 1];
        double s = 0.0;
        for (int64_t k = 0; k < r; k++) s += lambda[k] * y[u + k * n] * y[w + k * n];
        scores[p] = s;
    }
    st = GP_OK;
done:
    gp_i_free(q);
    gp_i_free(y);
    gp_i_free(b);
    gp_i_free(v);
    gp_i_free(lambda);
    return st;
}

/* ---- name lookup ---- */

static const gp_heuristic_info heuristic_table[] = {
    {"cn", "common neighbours", gp_heuristic_cn},
    {"jaccard", "Jaccard coefficient", gp_heuristic_jaccard},
    {"aa", "Adamic-Adar", gp_heuristic_aa},
    {"ra", "resource allocation", gp_heuristic_ra},
    {"pa", "preferential attachment", gp_heuristic_pa},
    {"katz", "truncated Katz", gp_heuristic_katz},
    {"ppr", "rooted PageRank", gp_heuristic_ppr},
    {"svd", "spectral low-rank (randomised subspace iteration)", gp_heuristic_svd},
};

static const struct {
    const char *alias;
    const char *name;
} heuristic_aliases[] = {
    {"common-neighbours", "cn"}, {"common-neighbors", "cn"}, {"adamic-adar", "aa"},
    {"resource-allocation", "ra"}, {"preferential-attachment", "pa"}, {"pagerank", "ppr"},
    {"rooted-pagerank", "ppr"}, {"spectral", "svd"},
};

int gp_heuristic_count(void) { return (int)(sizeof heuristic_table / sizeof heuristic_table[0]); }

const gp_heuristic_info *gp_heuristic_at(int i)
{
    return i >= 0 && i < gp_heuristic_count() ? &heuristic_table[i] : NULL;
}

const gp_heuristic_info *gp_heuristic_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof heuristic_aliases / sizeof heuristic_aliases[0]; i++)
        if (strcasecmp(name, heuristic_aliases[i].alias) == 0) {
            name = heuristic_aliases[i].name;
            break;
        }
    for (int i = 0; i < gp_heuristic_count(); i++)
        if (strcasecmp(name, heuristic_table[i].name) == 0) return &heuristic_table[i];
    return NULL;
}
