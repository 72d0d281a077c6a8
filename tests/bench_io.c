/*
 * Edge-list reader throughput (docs/benchmarks.md, "Edge-list reader").
 *
 * Writes a generated edge list to /tmp (default 5 M edges "u v" over 1 M nodes, drawn with a
 * seeded xoshiro256** stream: a uniform endpoint and a preferential one, so degrees are
 * skewed as in real graphs), plus a gzip copy, then times (best of --reps runs, warm page
 * cache; rates from process CPU time, user + system, so that other load on the machine does
 * not distort them; wall time is shown too):
 *   gp_edgelist_read            plain text, undirected, repeat check (the default options)
 *   gp_edgelist_read            the same edges sorted and distinct (the repeat check's fast path)
 *   gp_edgelist_read            the random-order bytes gzipped
 *   gp_edgelist_read labels     ids kept as strings in the hash map (GP_READ_LABELS)
 *   gp_graph_read_edgelist      read + symmetric CSR
 *   fscanf loop                 "%lld %lld" into arrays: the naive C baseline
 *   igraph_read_graph_edgelist  igraph 0.10's reader, for comparison
 * Usage: bench_io [--edges N] [--reps R] [--keep]   (files removed unless --keep)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include <igraph.h>
#include <graphpool/graphpool.h>
#include <graphpool/interop.h>
#include <graphpool/io.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Process CPU time (user + system): on a shared machine other processes do not inflate it. */
static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)ru.ru_stime.tv_usec;
}

static const char *plain = "/tmp/gp_bench_edges.txt", *gz = "/tmp/gp_bench_edges.txt.gz",
                  *sorted = "/tmp/gp_bench_edges_sorted.txt";

static int cmp_pair(const void *a, const void *b)
{
    const long long *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static int generate(long long m, long long n)
{
    FILE *f = fopen(plain, "w");
    gzFile g = gzopen(gz, "wb1");
    if (!f || !g) return -1;
    gp_rng rng;
    gp_rng_seed(&rng, 2024);
    long long *ends = malloc((size_t)m * 2 * sizeof(long long));
    if (!ends) return -1;
    char line[64];
    for (long long k = 0; k < m; k++) {
        long long u = (long long)gp_rng_below(&rng, (uint64_t)n);
        /* preferential: an endpoint of an earlier edge half of the time */
        long long v = k > 0 && gp_rng_uniform(&rng) < 0.5f ? ends[gp_rng_below(&rng, (uint64_t)(2 * k))]
                                                          : (long long)gp_rng_below(&rng, (uint64_t)n);
        ends[2 * k] = u, ends[2 * k + 1] = v;
        int len = snprintf(line, sizeof line, "%lld %lld\n", u, v);
        fwrite(line, 1, (size_t)len, f);
        gzwrite(g, line, (unsigned)len);
    }
    fclose(f);
    gzclose(g);
    /* the same edges as a sorted list of distinct pairs u < v (loops dropped) */
    for (long long k = 0; k < m; k++)
        if (ends[2 * k] > ends[2 * k + 1]) {
            long long t = ends[2 * k];
            ends[2 * k] = ends[2 * k + 1], ends[2 * k + 1] = t;
        }
    qsort(ends, (size_t)m, 2 * sizeof(long long), cmp_pair);
    f = fopen(sorted, "w");
    if (!f) return -1;
    for (long long k = 0; k < m; k++) {
        if (ends[2 * k] == ends[2 * k + 1] || (k > 0 && !cmp_pair(ends + 2 * k, ends + 2 * k - 2))) continue;
        int len = snprintf(line, sizeof line, "%lld %lld\n", ends[2 * k], ends[2 * k + 1]);
        fwrite(line, 1, (size_t)len, f);
    }
    fclose(f);
    free(ends);
    return 0;
}

static double file_mb(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (double)sb.st_size / 1e6 : 0.0;
}

typedef int (*run_fn)(long long *edges);

static int run_read_plain(long long *edges)
{
    gp_edgelist *e = NULL;
    if (gp_edgelist_read(&e, plain, NULL) != GP_OK) return -1;
    *edges = e->data_lines;
    gp_edgelist_free(&e);
    return 0;
}
static int run_read_sorted(long long *edges)
{
    gp_edgelist *e = NULL;
    if (gp_edgelist_read(&e, sorted, NULL) != GP_OK) return -1;
    *edges = e->data_lines;
    gp_edgelist_free(&e);
    return 0;
}
static int run_read_gz(long long *edges)
{
    gp_edgelist *e = NULL;
    if (gp_edgelist_read(&e, gz, NULL) != GP_OK) return -1;
    *edges = e->data_lines;
    gp_edgelist_free(&e);
    return 0;
}
static int run_read_labels(long long *edges)
{
    gp_edgelist *e = NULL;
    gp_edgelist_options o = {GP_READ_LABELS, 0, 0, 0};
    if (gp_edgelist_read(&e, plain, &o) != GP_OK) return -1;
    *edges = e->data_lines;
    gp_edgelist_free(&e);
    return 0;
}
static int run_graph(long long *edges)
{
    gp_graph *g = NULL;
    if (gp_graph_read_edgelist(&g, NULL, plain, NULL) != GP_OK) return -1;
    *edges = gp_graph_edges(g);
    gp_graph_free(&g);
    return 0;
}
static int run_fscanf(long long *edges)
{
    FILE *f = fopen(plain, "r");
    if (!f) return -1;
    size_t cap = 1 << 20, m = 0;
    long long *a = malloc(cap * 2 * sizeof(long long)), u, v;
    while (a && fscanf(f, "%lld %lld", &u, &v) == 2) {
        if (m == cap) {
            cap *= 2;
            long long *b = realloc(a, cap * 2 * sizeof(long long));
            if (!b) break;
            a = b;
        }
        a[2 * m] = u, a[2 * m + 1] = v;
        m++;
    }
    fclose(f);
    free(a);
    *edges = (long long)m;
    return 0;
}
static int run_igraph(long long *edges)
{
    FILE *f = fopen(plain, "r");
    if (!f) return -1;
    igraph_t g;
    igraph_error_t err = igraph_read_graph_edgelist(&g, f, 0, false);
    fclose(f);
    if (err != IGRAPH_SUCCESS) return -1;
    *edges = (long long)igraph_ecount(&g);
    igraph_destroy(&g);
    return 0;
}

int main(int argc, char **argv)
{
    long long m = 5000000;
    int reps = 3, keep = 0;
    static const struct option opts[] = {{"edges", required_argument, 0, 'e'},
                                          {"reps", required_argument, 0, 'r'},
                                          {"keep", no_argument, 0, 'k'},
                                          {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "e:r:k", opts, NULL)) != -1;) {
        switch (c) {
        case 'e': m = atoll(optarg); break;
        case 'r': reps = atoi(optarg); break;
        case 'k': keep = 1; break;
        default: fprintf(stderr, "usage: bench_io [--edges N] [--reps R] [--keep]\n"); return 2;
        }
    }
    if (m < 1 || reps < 1) {
        fprintf(stderr, "bench_io: --edges and --reps must be positive\n");
        return 2;
    }
    if (gp_init() != GP_OK) return 1;
    long long n = m / 5 > 1 ? m / 5 : 1;
    fprintf(stderr, "writing %lld edges over %lld nodes to %s and %s\n", m, n, plain, gz);
    if (generate(m, n) != 0) {
        fprintf(stderr, "bench_io: cannot write the input files\n");
        return 1;
    }
    double mb = file_mb(plain), mbgz = file_mb(gz), mbs = file_mb(sorted);
    static const struct {
        const char *name;
        run_fn fn;
        int file; /* 0 plain, 1 gzip, 2 sorted */
    } runs[] = {{"gp_edgelist_read, plain text", run_read_plain, 0},
                {"gp_edgelist_read, sorted distinct pairs (no hash check)", run_read_sorted, 2},
                {"gp_edgelist_read, gzip", run_read_gz, 1},
                {"gp_edgelist_read, GP_READ_LABELS", run_read_labels, 0},
                {"gp_graph_read_edgelist (read + CSR)", run_graph, 0},
                {"fscanf loop (baseline)", run_fscanf, 0},
                {"igraph_read_graph_edgelist", run_igraph, 0}};
    printf("%lld edges, %lld nodes; text %.1f MB, gzip %.1f MB; best of %d runs, 1 thread\n\n", m, n, mb,
           mbgz, reps);
    fflush(stdout);
    printf("| reader | CPU s | wall s | M edges/s | MB/s (file) |\n|---|---:|---:|---:|---:|\n");
    int rc = 0;
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        double best = 1e30, best_wall = 1e30;
        long long got = 0, lines = m;
        for (int r = 0; r < reps; r++) {
            double t0 = now(), c0 = cpu();
            if (runs[i].fn(&got) != 0) {
                fprintf(stderr, "bench_io: %s failed: %s\n", runs[i].name, gp_last_error());
                rc = 1;
                break;
            }
            double t = cpu() - c0, w = now() - t0;
            if (runs[i].file == 2) lines = got;
            if (t < best) best = t;
            if (w < best_wall) best_wall = w;
        }
        double size = runs[i].file == 1 ? mbgz : runs[i].file == 2 ? mbs : mb;
        printf("| %s | %.3f | %.3f | %.2f | %.0f |\n", runs[i].name, best, best_wall, (double)lines / best / 1e6,
               size / best);
    }
    if (!keep) {
        remove(plain);
        remove(gz);
        remove(sorted);
    }
    gp_finalize();
    return rc;
}
