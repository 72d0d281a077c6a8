/*
 * GPN parsing at scale (docs/benchmarks.md): one generated graph of ~10^6 nodes.
 *   1. gp_gpn_parse with a fresh "gpn" module (random weights, width d, eval mode): seconds,
 *      levels, nodes per level, peak RSS of the parse alone (VmHWM reset via clear_refs).
 *   2. The first level's kernels on random edge scores: gp_gpn_parse_edges, and the coarsening
 *      1[offdiag(S^T A S) > 0] by the hand kernel gp_gpn_pooled_graph versus GraphBLAS
 *      (S^T (A S) with GrB_mxm over ANY_PAIR, then GrB_select OFFDIAG; with and without the
 *      CSR <-> GrB conversions); both results must agree.
 * Times are process CPU seconds (wall time of the parse beside it).
 * Usage: bench_gpn [ba|lattice|tri] [n] [d] [threads]   (defaults: ba 1000000 16 1)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <graphpool/gpn.h>
#include <graphpool/graphpool.h>
#include <graphpool/interop.h>
#include <graphpool/pool.h>

/* Process CPU seconds (the machine may be shared: wall time is reported beside it). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmRSS or VmHWM of this process in MiB. */
static double proc_mib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double v = -1.0;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl)) v = atof(line + kl + 1) / 1024.0;
    if (f) fclose(f);
    return v;
}

static void reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

#define GRB_OK(call)                                                                                  \
    do {                                                                                           \
        if ((call) != GrB_SUCCESS) {                                                               \
            fprintf(stderr, "bench_gpn: GraphBLAS call failed: %s\n", #call);                      \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    const char *kind = argc > 1 ? argv[1] : "ba";
    int64_t n = argc > 2 ? atoll(argv[2]) : 1000000, d = argc > 3 ? atoll(argv[3]) : 16;
    int threads = argc > 4 ? atoi(argv[4]) : 1;
    if (gp_init() != GP_OK) return 1;
    gp_set_threads(threads);
    GxB_set(GxB_NTHREADS, threads);
    gp_graph *g = NULL;
    double t0 = now_s();
    gp_status st;
    if (!strcmp(kind, "lattice") || !strcmp(kind, "tri")) {
        int64_t side = 1;
        while ((side + 1) * (side + 1) <= n) side++;
        st = !strcmp(kind, "tri") ? gp_gen_triangle_lattice(&g, side, side, false)
                                  : gp_gen_square_lattice(&g, side, side, false);
    } else {
        st = gp_gen_barabasi_albert(&g, n, 2, 1);
    }
    if (st != GP_OK) {
        fprintf(stderr, "bench_gpn: %s\n", gp_last_error());
        return 1;
    }
    n = g->adj.rows;
    printf("graph %s: %lld nodes, %lld undirected edges, generated in %.2f s, RSS %.0f MiB\n", kind,
           (long long)n, (long long)(g->adj.nnz / 2), now_s() - t0, proc_mib("VmRSS:"));

    /* 1. the whole parse */
    gp_rng rng;
    gp_rng_seed(&rng, 1);
    gp_module *mod = NULL;
    gp_tensor *x = NULL;
    if (gp_pool_new(&mod, "gpn", d, &rng) != GP_OK || gp_tensor_new(&x, n, d) != GP_OK) return 1;
    for (int64_t i = 0; i < n * d; i++) x->data[i] = gp_rng_uniform(&rng) * 2.0f - 1.0f;
    double rss0 = proc_mib("VmRSS:");
    reset_peak();
    gp_gpn_hierarchy h;
    double w0 = wall_s();
    t0 = now_s();
    if (gp_gpn_parse(&h, mod, g, x) != GP_OK) {
        fprintf(stderr, "bench_gpn: %s\n", gp_last_error());
        return 1;
    }
    double secs = now_s() - t0, wsecs = wall_s() - w0, peak = proc_mib("VmHWM:");
    printf("gp_gpn_parse (d=%lld, %d thread(s)): %.2f s CPU (%.2f s wall), %d levels, nodes:",
           (long long)d, threads, secs, wsecs, h.num_levels);
    for (int l = 0; l <= h.num_levels; l++) printf(" %lld", (long long)h.num_nodes[l]);
    printf("\n  RSS before %.0f MiB, peak during parse %.0f MiB (+%.0f MiB; input graph + features "
           "%.0f MiB)\n",
           rss0, peak, peak - rss0,
           (double)(g->adj.nnz * 8 + (n + 1) * 8 + n * d * 4 + n * 8) / 1048576.0);
    gp_gpn_hierarchy_free(&h);

    /* 2. kernels of one level on random scores */
    int64_t *src = NULL, *dst = NULL, m = 0;
    if (gp_graph_edge_list(&src, &dst, g) != GP_OK) return 1;
    int64_t *eu = malloc((size_t)g->adj.nnz * sizeof(int64_t)), *ev = malloc((size_t)g->adj.nnz * sizeof(int64_t));
    for (int64_t k = 0; k < g->adj.nnz; k++)
        if (src[k] < dst[k]) eu[m] = src[k], ev[m] = dst[k], m++;
    float *score = malloc((size_t)m * sizeof(float));
    for (int64_t k = 0; k < m; k++) score[k] = gp_rng_uniform(&rng);
    int64_t *cluster = malloc((size_t)n * sizeof(int64_t)), nc = 0;
    t0 = now_s();
    if (gp_gpn_parse_edges(cluster, &nc, n, m, eu, ev, score) != GP_OK) return 1;
    double t_parse = now_s() - t0;
    gp_graph *pooled = NULL;
    t0 = now_s();
    if (gp_gpn_pooled_graph(&pooled, g, cluster, nc) != GP_OK) return 1;
    double t_hand = now_s() - t0;

    GrB_Matrix A = NULL, S = NULL, AS = NULL, C = NULL;
    GrB_Index *I = malloc((size_t)n * sizeof(GrB_Index)), *J = malloc((size_t)n * sizeof(GrB_Index));
    bool *X = malloc((size_t)n * sizeof(bool));
    for (int64_t i = 0; i < n; i++) I[i] = (GrB_Index)i, J[i] = (GrB_Index)cluster[i], X[i] = true;
    t0 = now_s();
    if (gp_csr_to_grb(&A, &g->adj) != GP_OK) return 1;
    GRB_OK(GrB_Matrix_new(&S, GrB_BOOL, (GrB_Index)n, (GrB_Index)nc));
    GRB_OK(GrB_Matrix_build_BOOL(S, I, J, X, (GrB_Index)n, GrB_LOR));
    GRB_OK(GrB_wait(A, GrB_MATERIALIZE));
    GRB_OK(GrB_wait(S, GrB_MATERIALIZE));
    double t1 = now_s();
    GRB_OK(GrB_Matrix_new(&AS, GrB_BOOL, (GrB_Index)n, (GrB_Index)nc));
    GRB_OK(GrB_Matrix_new(&C, GrB_BOOL, (GrB_Index)nc, (GrB_Index)nc));
    GRB_OK(GrB_mxm(AS, NULL, NULL, GxB_ANY_PAIR_BOOL, A, S, NULL));
    GRB_OK(GrB_mxm(C, NULL, NULL, GxB_ANY_PAIR_BOOL, S, AS, GrB_DESC_T0));
    GRB_OK(GrB_select(C, NULL, NULL, GrB_OFFDIAG, C, 0, NULL));
    GRB_OK(GrB_wait(C, GrB_MATERIALIZE));
    double t2 = now_s();
    gp_csr *back = NULL;
    if (gp_csr_from_grb(&back, C) != GP_OK) return 1;
    double t3 = now_s();
    bool same = back->nnz == pooled->adj.nnz &&
                !memcmp(back->ptr, pooled->adj.ptr, (size_t)(nc + 1) * sizeof(int64_t)) &&
                !memcmp(back->idx, pooled->adj.idx, (size_t)back->nnz * sizeof(int64_t));
    printf("one level on random scores: %lld -> %lld clusters, pooled nnz %lld\n", (long long)n,
           (long long)nc, (long long)pooled->adj.nnz);
    printf("  gp_gpn_parse_edges %.3f s; S^T A S hand kernel %.3f s; GraphBLAS mxm+select %.3f s "
           "(+ conversions %.3f s = %.3f s); results %s\n",
           t_parse, t_hand, t2 - t1, (t1 - t0) + (t3 - t2), t3 - t0, same ? "identical" : "DIFFER");
    GrB_Matrix_free(&A);
    GrB_Matrix_free(&S);
    GrB_Matrix_free(&AS);
    GrB_Matrix_free(&C);
    gp_csr_free(&back);
    free(I);
    free(J);
    free(X);
    free(cluster);
    free(score);
    free(eu);
    free(ev);
    gp_free(src);
    gp_free(dst);
    gp_graph_free(&pooled);
    gp_tensor_free(&x);
    gp_module_free(&mod);
    gp_graph_free(&g);
    gp_finalize();
    return same ? 0 : 1;
}
