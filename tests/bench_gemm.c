/*
 * Benchmark of the AVX-512 product kernel (lib/gemm_avx512.c) against OpenBLAS's cblas_sgemm,
 * one thread, at the shapes the models run (docs/benchmarks.md, "Dense products: AVX-512
 * kernel"). Each shape is timed alternately (kernel, sgemm, kernel, ...) over 9 samples of
 * >= 20 ms each; the table gives the median GFLOP/s of each and the time ratio sgemm / kernel
 * (> 1: the kernel is faster), plus the largest difference between the two results relative
 * to the largest |C| element. The last column says which one gp_i_gemm uses by default for
 * that shape (after the rule in gemm_avx512.c).
 *
 * Usage: bench_gemm [--quick] [--only TEXT] [out.md]   (markdown on stdout, and in out.md)
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "internal.h"

typedef struct shape {
    const char *what;
    bool ta, tb;
    int64_t m, n, k;
} shape;

static const shape shapes[] = {
    {"top-k GraphConv forward, X [W1;W2]", false, false, 2340, 128, 256},
    {"top-k GraphConv dX = dY W^T", false, true, 2340, 256, 128},
    {"top-k GraphConv dW = X^T dY", true, false, 256, 128, 2340},
    {"GPN level, n x 128 by 128 x 128", false, false, 5000, 128, 128},
    {"GPN dX", false, true, 5000, 128, 128},
    {"GPN dW", true, false, 128, 128, 5000},
    {"GPN edge scorer, E x 128", false, false, 11000, 128, 128},
    {"NCI1 preset, width 256", false, false, 7500, 256, 256},
    {"WalkPool encoder, width 32", false, false, 5000, 32, 48},
    {"WalkPool classifier 1440 x 1440", false, false, 32, 1440, 1440},
    {"WalkPool classifier dX", false, true, 32, 1440, 1440},
    {"WalkPool classifier dW", true, false, 1440, 1440, 32},
    {"WalkPool classifier 72 -> 1440", false, false, 32, 1440, 72},
    {"WalkPool classifier, one thread's 12 rows", false, false, 12, 1440, 1440},
    {"WalkPool classifier, one thread's 20 rows", false, false, 20, 1440, 1440},
    {"WalkPool classifier dX, one thread's 12 rows", false, true, 12, 1440, 1440},
    {"WalkPool classifier dX, one thread's 20 rows", false, true, 20, 1440, 1440},
    {"WalkPool classifier 1440 -> 720, 20 rows", false, false, 20, 720, 1440},
    {"WalkPool classifier 1440 -> 720 dX", false, true, 32, 1440, 720},
    {"WalkPool classifier 720 -> 72 dX", false, true, 32, 720, 72},
    {"batch 32 dX, width 128", false, true, 32, 128, 128},
    {"batch 16 dX, 8 inputs", false, true, 16, 64, 8},
    {"MLP head, batch 60", false, false, 60, 128, 256},
    {"WalkPool classifier dX, batch 64", false, true, 64, 1440, 1440},
    {"WalkPool classifier dX, batch 128", false, true, 128, 1440, 1440},
    {"input layer, 4 features", false, false, 2340, 128, 4},
    {"input layer, 12 features", false, false, 2340, 128, 12},
    {"8 rows", false, false, 8, 128, 128},
    {"16 columns", false, false, 2340, 16, 128},
    {"24 columns, B transposed", false, true, 2340, 24, 64},
    {"narrow output (2 classes)", false, false, 2340, 2, 64},
    {"scorer output (1 column)", false, false, 11000, 1, 128},
    {"odd sizes", false, false, 1001, 77, 129},
    {"square 1000", false, false, 1000, 1000, 1000},
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void fill(float *x, int64_t n, unsigned seed)
{
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) & 0xFFFF) / 65536.0f - 0.5f;
    }
}

static void run(bool avx, const shape *s, const float *a, const float *b, float *c)
{
    int64_t lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    if (avx) {
        if (!gp_i_sgemm_avx512(s->ta, s->tb, s->m, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n))
            abort();
    } else {
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
                    (blasint)s->m, (blasint)s->n, (blasint)s->k, 1.0f, a, (blasint)lda, b,
                    (blasint)ldb, 0.0f, c, (blasint)s->n);
    }
}

/* Seconds per call: repeat until >= min_seconds. */
static double time_one(bool avx, const shape *s, const float *a, const float *b, float *c,
                       double min_seconds)
{
    int64_t reps = 0;
    double t0 = now_seconds(), t;
    do {
        run(avx, s, a, b, c);
        reps++;
    } while ((t = now_seconds() - t0) < min_seconds);
    return t / (double)reps;
}

int main(int argc, char **argv)
{
    bool quick = false;
    const char *only = NULL; /* --only TEXT: the shapes whose description contains TEXT */
    const char *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = true;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else out_path = argv[i];
    }
    openblas_set_num_threads(1);
    if (!__builtin_cpu_supports("avx512f")) {
        printf("this processor has no AVX-512F: gp_i_gemm always uses OpenBLAS; nothing to compare\n");
        return 0;
    }
    char *table = NULL;
    size_t table_len = 0;
    FILE *md = open_memstream(&table, &table_len);
    if (!md) return 1;
    fprintf(md, "| shape (m x n x k) | op | OpenBLAS GFLOP/s | AVX-512 kernel GFLOP/s | ratio | max diff / max abs | default |\n");
    fprintf(md, "|---|---|---:|---:|---:|---:|---|\n");
    int samples = quick ? 1 : 9;
    double min_seconds = quick ? 0.0 : 0.02;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const shape *s = &shapes[si];
        if (only && !strstr(s->what, only)) continue;
        int64_t asz = s->m * s->k, bsz = s->k * s->n, csz = s->m * s->n;
        float *a = aligned_alloc(64, (size_t)(asz + 16) * 4), *b = aligned_alloc(64, (size_t)(bsz + 16) * 4);
        float *c1 = aligned_alloc(64, (size_t)(csz + 16) * 4), *c2 = aligned_alloc(64, (size_t)(csz + 16) * 4);
        if (!a || !b || !c1 || !c2) return 1;
        fill(a, asz, 1u + (unsigned)si);
        fill(b, bsz, 77u + (unsigned)si);
        double tk[9], tb[9];
        for (int r = 0; r < samples; r++) {
            tk[r] = time_one(true, s, a, b, c1, min_seconds);
            tb[r] = time_one(false, s, a, b, c2, min_seconds);
        }
        qsort(tk, (size_t)samples, sizeof(double), cmp_double);
        qsort(tb, (size_t)samples, sizeof(double), cmp_double);
        double mk = tk[samples / 2], mb = tb[samples / 2], flops = 2.0 * (double)s->m * s->n * s->k;
        double maxdiff = 0, maxabs = 0;
        for (int64_t i = 0; i < csz; i++) {
            maxdiff = fmax(maxdiff, fabs((double)c1[i] - c2[i]));
            maxabs = fmax(maxabs, fabs((double)c2[i]));
        }
        fprintf(md, "| %s (%lld x %lld x %lld) | %s%s | %.1f | %.1f | %.2f | %.1e | %s |\n", s->what,
                (long long)s->m, (long long)s->n, (long long)s->k, s->ta ? "T" : "N", s->tb ? "T" : "N",
                flops / mb * 1e-9, flops / mk * 1e-9, mb / mk, maxdiff / (maxabs > 0 ? maxabs : 1),
                gp_i_gemm_use_avx512(s->m, s->n, s->k, s->ta, s->tb) ? "kernel" : "OpenBLAS");
        free(a), free(b), free(c1), free(c2);
    }
    fclose(md);
    fputs(table, stdout);
    if (out_path) {
        FILE *f = fopen(out_path, "w");
        if (!f || fputs(table, f) < 0 || fclose(f) != 0) {
            fprintf(stderr, "bench_gemm: cannot write %s\n", out_path);
            return 1;
        }
    }
    free(table);
    return 0;
}
