/*
 * Node-drop kernels on real batches (docs/benchmarks.md): PROTEINS in batches of 60 graphs,
 * random scores, keep ceil(0.8 n) per graph. Times gp_nodedrop_select, the hand induced-subgraph
 * kernel gp_nodedrop_induced (O(n + kept rows' entries), no hashing, no sorting) and the general
 * gp_graph_induced (hash map + per-row sort) on the same kept sets; checks that both agree.
 * Usage: bench_pool [repeats] (data from $GP_DATA_DIR).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <graphpool/graphpool.h>
#include <graphpool/io.h>
#include <graphpool/pool.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 20;
    if (gp_init() != GP_OK) return 1;
    char *dir = NULL;
    gp_graph_dataset *ds = NULL;
    if (gp_data_dir(&dir, NULL) != GP_OK || gp_data_read_tu(&ds, dir, "PROTEINS") != GP_OK) {
        fprintf(stderr, "bench_pool: %s\n", gp_last_error());
        return 1;
    }
    gp_minibatch *mb = NULL;
    if (gp_minibatch_new(&mb, ds, ds->num_graphs, NULL, 60, false, 1) != GP_OK) {
        /* NULL indices are not accepted by every version: use all graphs explicitly */
        int64_t *idx = malloc((size_t)ds->num_graphs * sizeof(int64_t));
        for (int64_t i = 0; i < ds->num_graphs; i++) idx[i] = i;
        if (gp_minibatch_new(&mb, ds, ds->num_graphs, idx, 60, false, 1) != GP_OK) return 1;
        free(idx);
    }
    gp_rng rng;
    gp_rng_seed(&rng, 1);
    double t_sel = 0, t_hand = 0, t_lib = 0;
    int64_t batches = 0, nodes = 0;
    for (int r = 0; r < repeats; r++) {
        gp_minibatch_reset(mb);
        for (;;) {
            gp_graph *g = NULL;
            if (gp_minibatch_next(&g, NULL, mb) != GP_OK || !g) break;
            int64_t n = gp_graph_nodes(g), k = 0;
            float *score = malloc((size_t)n * sizeof(float));
            int64_t *kept = malloc((size_t)n * sizeof(int64_t));
            int64_t *ptr = malloc((size_t)(g->num_graphs + 1) * sizeof(int64_t));
            for (int64_t i = 0; i < n; i++) score[i] = gp_rng_uniform(&rng);
            double t0 = now_ms();
            gp_nodedrop_select(kept, &k, ptr, score, g->num_graphs, g->graph_ptr, 0.8, -1.0);
            double t1 = now_ms();
            gp_graph *a = NULL, *b = NULL;
            double t2, t3;
            if (batches % 2 == 0) { /* alternate the order so neither kernel warms the cache for the other */
                gp_nodedrop_induced(&a, g, k, kept, ptr);
                t2 = now_ms();
                gp_graph_induced(&b, g, k, kept);
                t3 = now_ms();
            } else {
                gp_graph_induced(&b, g, k, kept);
                double tm = now_ms();
                gp_nodedrop_induced(&a, g, k, kept, ptr);
                t3 = now_ms();
                t2 = t1 + (t3 - tm);
                t3 = t2 + (tm - t1);
            }
            if (!a || !b || a->adj.nnz != b->adj.nnz ||
                memcmp(a->adj.idx, b->adj.idx, (size_t)a->adj.nnz * sizeof(int64_t))) {
                fprintf(stderr, "bench_pool: kernels disagree\n");
                return 1;
            }
            t_sel += t1 - t0, t_hand += t2 - t1, t_lib += t3 - t2;
            batches++, nodes += n;
            gp_graph_free(&a);
            gp_graph_free(&b);
            gp_graph_free(&g);
            free(score);
            free(kept);
            free(ptr);
        }
    }
    printf("PROTEINS, batches of 60 graphs, ratio 0.8: %lld batches, %.0f nodes per batch\n",
           (long long)batches, (double)nodes / (double)batches);
    printf("per epoch (%lld batches): select %.3f ms, induced hand kernel %.3f ms, gp_graph_induced %.3f ms\n",
           (long long)(batches / repeats), t_sel / repeats, t_hand / repeats, t_lib / repeats);
    gp_minibatch_free(&mb);
    gp_graph_dataset_free(&ds);
    gp_free(dir);
    gp_finalize();
    return 0;
}
