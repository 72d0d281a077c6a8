/*
 * Link-prediction heuristics on the fixed 90/10 split 1 of the 8 SEAL / WalkPool networks:
 * the observed graph is built from train_pos only, test_pos and test_neg are scored with
 * every heuristic (default options), and the test ROC-AUC (%) is printed as a Markdown table
 * (stdout), with the time per heuristic summed over networks (stderr and a second table).
 *
 *   bench_heuristics [data_dir]     (default $GP_DATA_DIR)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <graphpool/graphpool.h>
#include <graphpool/heuristics.h>
#include <graphpool/io.h>
#include <graphpool/metrics.h>
#include <graphpool/splits.h>

static const char *const networks[] = {"USAir", "NS", "PB", "Yeast", "Celegans", "Power", "Router", "Ecoli"};
enum { NUM_NETWORKS = 8, MAX_HEURISTICS = 16 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Node count of a network from linkpred/meta.tsv ("# name nodes edges ..." header). */
static int64_t meta_nodes(const char *dir, const char *name)
{
    char path[1024], line[512];
    snprintf(path, sizeof path, "%s/linkpred/meta.tsv", dir);
    FILE *fp = fopen(path, "r");
    if (!fp) return -1;
    int64_t nodes = -1;
    while (fgets(line, sizeof line, fp)) {
        char n[128];
        long long v;
        if (line[0] == '#') continue;
        if (sscanf(line, "%127s %lld", n, &v) == 2 && strcmp(n, name) == 0) nodes = v;
    }
    fclose(fp);
    return nodes;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : getenv("GP_DATA_DIR");
    if (!dir || !*dir) {
        fprintf(stderr, "usage: bench_heuristics [data_dir] (or set GP_DATA_DIR)\n");
        return 2;
    }
    if (gp_init() != GP_OK) {
        fprintf(stderr, "gp_init: %s\n", gp_last_error());
        return 1;
    }
    int nh = gp_heuristic_count();
    double auc[NUM_NETWORKS][MAX_HEURISTICS], seconds[MAX_HEURISTICS] = {0};
    int64_t sizes[NUM_NETWORKS][4];
    int rc = 0;
    for (int d = 0; d < NUM_NETWORKS && rc == 0; d++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/linkpred/splits/test10/%s_split1.txt.gz", dir, networks[d]);
        int64_t n = meta_nodes(dir, networks[d]);
        gp_link_split *s = NULL;
        gp_graph *obs = NULL;
        if (n <= 0 || gp_link_split_read(&s, path, n) != GP_OK || gp_link_split_observed(&obs, s, false) != GP_OK) {
            fprintf(stderr, "%s: %s\n", networks[d], n <= 0 ? "not in linkpred/meta.tsv" : gp_last_error());
            gp_link_split_free(&s);
            rc = 1;
            break;
        }
        int64_t np = s->count[GP_LINK_TEST_POS], nn = s->count[GP_LINK_TEST_NEG];
        sizes[d][0] = n, sizes[d][1] = s->count[GP_LINK_TRAIN_POS], sizes[d][2] = np, sizes[d][3] = nn;
        double *sp = malloc((size_t)(np ? np : 1) * sizeof(double)), *sn = malloc((size_t)(nn ? nn : 1) * sizeof(double));
        for (int h = 0; h < nh && rc == 0; h++) {
            const gp_heuristic_info *hi = gp_heuristic_at(h);
            double t0 = now();
            if (hi->fn(sp, obs, np, s->pairs[GP_LINK_TEST_POS], NULL) != GP_OK ||
                hi->fn(sn, obs, nn, s->pairs[GP_LINK_TEST_NEG], NULL) != GP_OK ||
                gp_roc_auc_pn(&auc[d][h], np, sp, nn, sn) != GP_OK) {
                fprintf(stderr, "%s / %s: %s\n", networks[d], hi->name, gp_last_error());
                rc = 1;
            }
            double dt = now() - t0;
            seconds[h] += dt;
            fprintf(stderr, "%-9s %-8s AUC %6.2f %%  %8.3f s\n", networks[d], hi->name, 100 * auc[d][h], dt);
        }
        free(sp);
        free(sn);
        gp_graph_free(&obs);
        gp_link_split_free(&s);
    }
    if (rc == 0) {
        printf("| network | nodes | train edges | test pairs |");
        for (int h = 0; h < nh; h++) printf(" %s |", gp_heuristic_at(h)->name);
        printf("\n|---|---:|---:|---:|");
        for (int h = 0; h < nh; h++) printf("---:|");
        printf("\n");
        for (int d = 0; d < NUM_NETWORKS; d++) {
            printf("| %s | %lld | %lld | %lld + %lld |", networks[d], (long long)sizes[d][0], (long long)sizes[d][1],
                   (long long)sizes[d][2], (long long)sizes[d][3]);
            for (int h = 0; h < nh; h++) printf(" %.2f |", 100 * auc[d][h]);
            printf("\n");
        }
        printf("\n| time over all 8 networks (s) |");
        for (int h = 0; h < nh; h++) printf(" %s |", gp_heuristic_at(h)->name);
        printf("\n|---|");
        for (int h = 0; h < nh; h++) printf("---:|");
        printf("\n| %d thread(s) |", gp_get_threads());
        for (int h = 0; h < nh; h++) printf(" %.3f |", seconds[h]);
        printf("\n");
    }
    gp_finalize();
    return rc;
}
