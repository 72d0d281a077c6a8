/*
 * Benchmark of the library's fixed costs.
 *
 * 1. Per-op overhead of the tape and arena on tiny tensors (1x1 and 4x4): a chain
 *    h <- relu(h + b), i.e. alternating gp_add and gp_relu, CHAIN ops per step, the tape reset
 *    before each step, STEPS steps (about 1e6 ops per measurement). Reported in ns per op:
 *      raw C          the same arithmetic as plain C function calls writing into a
 *                     preallocated buffer (no tape, no arena: the floor)
 *      forward        ops with recording off (arena allocation + op, no node)
 *      record         forward with recording on (a node per op)
 *      forward+back   record, then sum_all and gp_tape_backward; per recorded op (CHAIN + 1)
 *    Also: the cost of one `#pragma omp parallel for ... if (false)` region (how the ops skip
 *    threading on small tensors) against a plain `if` around the pragma.
 * 2. gp_matmul against a raw cblas_sgemm on the same long-lived operands
 *    (2708x1433 @ 1433x16: Cora features times a GCN weight; 1000^3), also with A stored
 *    transposed. ratio = gp_matmul / sgemm; ~1 means the op adds no copy. The outputs are
 *    compared bit for bit.
 * Timing: median of 7 repetitions (part 1) or of >= 9 interleaved samples (part 2).
 *
 * Usage: bench_overhead [--threads T] [--quick] [out.md]  (markdown on stdout, and in out.md)
 * --quick runs 100x fewer ops and only the 2708x1433x16 products (a functional check).
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include <graphpool/graphpool.h>

#define CHAIN 1000
#define STEPS 1000
static int steps = STEPS; /* --quick: 10 (a functional run, e.g. under sanitizers) */
#define REPS 7

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

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct printer {
    FILE *out[2];
} printer;

static void emit(printer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(printer *p, const char *fmt, ...)
{
    for (int i = 0; i < 2; i++) {
        if (!p->out[i]) continue;
        va_list ap;
        va_start(ap, fmt);
        vfprintf(p->out[i], fmt, ap);
        va_end(ap);
        fflush(p->out[i]);
    }
}

/* The load average (other processes compete for the cores), for the record. */
static void emit_load(printer *p, const char *when)
{
    char buf[64] = "unknown";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f)) strcpy(buf, "unknown");
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
    emit(p, "Load average (/proc/loadavg) %s: %s\n\n", when, buf);
}


/* ---- part 1: tiny-op chains ---- */

/* The raw floor: out-of-line element loops, each op writing a fresh slot of a buffer. */
__attribute__((noinline)) static void raw_add(float *out, const float *a, const float *b, int n)
{
    for (int i = 0; i < n; i++) out[i] = a[i] + b[i];
}
__attribute__((noinline)) static void raw_relu(float *out, const float *a, int n)
{
    for (int i = 0; i < n; i++) out[i] = a[i] > 0.0f ? a[i] : 0.0f;
}

enum chain_mode { RAW, FORWARD, RECORD, FORWARD_BACKWARD };
static const char *const mode_names[] = {"raw C", "forward (recording off)",
                                         "forward (recording on)", "forward + backward"};

/* Seconds for `steps` steps; ops per step in *ops. NAN on failure. */
static double run_chain(enum chain_mode mode, int size, gp_tape *t, gp_tensor *x, gp_tensor *b,
                        float *scratch, int *ops)
{
    int n = size * size;
    *ops = mode == FORWARD_BACKWARD ? CHAIN + 1 : CHAIN;
    gp_tape_set_recording(t, mode != FORWARD);
    double t0 = now_seconds();
    for (int s = 0; s < steps; s++) {
        if (mode == RAW) {
            const float *h = x->data;
            for (int i = 0; i < CHAIN / 2; i++) {
                float *sum = scratch + (size_t)(2 * i) * (size_t)n;
                float *act = sum + n;
                raw_add(sum, h, b->data, n);
                raw_relu(act, sum, n);
                h = act;
            }
            continue;
        }
        gp_tape_reset(t);
        gp_tensor *h = x;
        for (int i = 0; i < CHAIN / 2; i++) h = gp_relu(t, gp_add(t, h, b));
        if (mode == FORWARD_BACKWARD && gp_tape_backward(t, gp_sum_all(t, h)) != GP_OK) h = NULL;
        if (!h) {
            fprintf(stderr, "chain failed: %s\n", gp_last_error());
            return NAN;
        }
    }
    return now_seconds() - t0;
}

static int bench_chains(printer *p)
{
    emit(p, "| tensor | mode | ops per step | ns per op (median) | min |\n");
    emit(p, "|---|---|---:|---:|---:|\n");
    gp_tape *t = NULL;
    if (gp_tape_new(&t) != GP_OK) return -1;
    float *scratch = malloc((size_t)CHAIN * 16 * sizeof *scratch);
    int rc = scratch ? 0 : -1;
    for (int size = 1; size <= 4 && !rc; size += 3) {
        gp_tensor *x = NULL, *b = NULL;
        if (gp_param_new(&x, "x", size, size) != GP_OK ||
            gp_param_new(&b, "b", size, size) != GP_OK)
            rc = -1;
        for (int i = 0; !rc && i < size * size; i++) {
            x->data[i] = 0.5f + 0.1f * (float)i;
            b->data[i] = 1e-3f;
        }
        for (int mode = RAW; mode <= FORWARD_BACKWARD && !rc; mode++) {
            double ns[REPS];
            int ops = 0;
            run_chain((enum chain_mode)mode, size, t, x, b, scratch, &ops); /* warm-up */
            for (int r = 0; r < REPS && !rc; r++) {
                double sec = run_chain((enum chain_mode)mode, size, t, x, b, scratch, &ops);
                if (isnan(sec)) rc = -1;
                ns[r] = sec * 1e9 / ((double)steps * ops);
            }
            if (rc) break;
            double med = median(ns, REPS);
            emit(p, "| %dx%d | %s | %d | %.1f | %.1f |\n", size, size, mode_names[mode], ops, med,
                 ns[0]);
        }
        gp_tensor_free(&x);
        gp_tensor_free(&b);
    }
    gp_tape_set_recording(t, true);
    emit(p, "\nTape arena after the last step: %zu bytes used, %zu reserved.\n\n",
         gp_arena_used(gp_tape_arena(t)), gp_arena_reserved(gp_tape_arena(t)));
    free(scratch);
    gp_tape_free(&t);
    return rc;
}

/* The cost of entering an OpenMP parallel loop whose if clause is false (the pattern the ops
 * use for small tensors): libgomp still starts a one-thread team. REGIONS regions of a
 * one-element loop, against the same loop without the pragma. */
#define REGIONS 1000000
static int regions = REGIONS; /* --quick: 10000 */
__attribute__((noinline)) static void region_if_false(float *v, int64_t n, int nt)
{
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt) if (n >= 32768)
    for (int64_t i = 0; i < n; i++) v[i] += 1.0f;
}
__attribute__((noinline)) static void region_guarded(float *v, int64_t n, int nt)
{
    if (nt > 1 && n >= 32768) {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t i = 0; i < n; i++) v[i] += 1.0f;
    } else {
        for (int64_t i = 0; i < n; i++) v[i] += 1.0f;
    }
}

static void bench_regions(printer *p)
{
    static const char *const names[] = {"`omp parallel for ... if (n >= 32768)`, n = 1",
                                        "plain `if` around the pragma, n = 1"};
    float v[1] = {0.0f};
    emit(p, "| loop | ns per call (median) | min |\n|---|---:|---:|\n");
    for (int kind = 0; kind < 2; kind++) {
        double ns[REPS];
        for (int r = 0; r < REPS; r++) {
            double t0 = now_seconds();
            for (int i = 0; i < regions; i++)
                (kind ? region_guarded : region_if_false)(v, 1, gp_get_threads());
            ns[r] = (now_seconds() - t0) * 1e9 / regions;
        }
        double med = median(ns, REPS);
        emit(p, "| %s | %.1f | %.1f |\n", names[kind], med, ns[0]);
    }
    emit(p, "\n");
}

/* ---- part 2: gp_matmul against cblas_sgemm ---- */

static int bench_matmul(printer *p, int64_t m, int64_t k, int64_t n, bool ta, int threads)
{
    gp_set_threads(threads);
    gp_tensor *a = NULL, *b = NULL;
    gp_tape *t = NULL;
    float *c = malloc((size_t)(m * n) * sizeof *c);
    int rc = -1;
    if (!c || gp_tensor_new(&a, ta ? k : m, ta ? m : k) != GP_OK ||
        gp_tensor_new(&b, k, n) != GP_OK || gp_tape_new(&t) != GP_OK)
        goto done;
    gp_rng rng;
    gp_rng_seed(&rng, 99);
    gp_init_uniform(a, &rng, -1.0f, 1.0f);
    gp_init_uniform(b, &rng, -1.0f, 1.0f);
    gp_tensor *out = NULL;
    double flops = 2.0 * (double)m * (double)k * (double)n;
    int samples = (int)(1.0 / (flops / 20e9)); /* ~1 s per variant at 20 GFLOP/s */
    samples = samples < 9 ? 9 : samples > 201 ? 201 : samples;
    double *ts = malloc((size_t)samples * sizeof *ts), *tg = malloc((size_t)samples * sizeof *tg);
    if (!ts || !tg) goto done2;
    for (int s = -1; s < samples; s++) { /* s = -1: warm-up; the order alternates */
        for (int turn = 0; turn < 2; turn++) {
            double t0 = now_seconds();
            if ((turn + s) % 2 == 0) {
                cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, CblasNoTrans,
                            (blasint)m, (blasint)n, (blasint)k, 1.0f, a->data, (blasint)a->cols,
                            b->data, (blasint)n, 0.0f, c, (blasint)n);
                if (s >= 0) ts[s] = now_seconds() - t0;
            } else {
                gp_tape_reset(t);
                out = gp_matmul(t, a, b, ta, false);
                if (!out) {
                    fprintf(stderr, "gp_matmul failed: %s\n", gp_last_error());
                    goto done2;
                }
                if (s >= 0) tg[s] = now_seconds() - t0;
            }
        }
    }
    bool same = memcmp(out->data, c, (size_t)(m * n) * sizeof *c) == 0;
    double ms_s = median(ts, samples) * 1e3, ms_g = median(tg, samples) * 1e3;
    emit(p, "| %lld x %lld x %lld | %s | %d | %.3f | %.3f | %.3f | %.1f | %s |\n", (long long)m,
         (long long)k, (long long)n, ta ? "A^T stored" : "-", threads, ms_s, ms_g, ms_g / ms_s,
         flops / (ms_g * 1e-3) * 1e-9, same ? "bit-identical" : "DIFFERENT");
    rc = same ? 0 : -1;
done2:
    free(ts);
    free(tg);
done:
    free(c);
    gp_tensor_free(&a);
    gp_tensor_free(&b);
    gp_tape_free(&t);
    gp_set_threads(1);
    return rc;
}

int main(int argc, char **argv)
{
    int max_threads = 2;
    bool quick = false;
    const char *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) max_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) steps = 10, regions = 10000, quick = true;
        else if (argv[i][0] != '-' && !out_path) out_path = argv[i];
        else {
            fprintf(stderr, "usage: %s [--threads T] [--quick] [out.md]\n", argv[0]);
            return 2;
        }
    }
    if (gp_init() != GP_OK) {
        fprintf(stderr, "gp_init: %s\n", gp_last_error());
        return 1;
    }
    printer p = {{stdout, NULL}};
    if (out_path && !(p.out[1] = fopen(out_path, "w"))) {
        fprintf(stderr, "cannot write %s\n", out_path);
        gp_finalize();
        return 1;
    }
    double t0 = now_seconds();
    gp_set_threads(1);
    emit_load(&p, "at start");
    int rc = bench_chains(&p);
    if (!rc) bench_regions(&p);
    if (!rc) {
        emit(&p, "| m x k x n | A | threads | cblas_sgemm ms | gp_matmul ms | ratio | "
                 "GFLOP/s (gp) | result |\n");
        emit(&p, "|---|---|---:|---:|---:|---:|---:|---|\n");
    }
    for (int nt = 1; nt <= max_threads && !rc; nt++) {
        rc = bench_matmul(&p, 2708, 1433, 16, false, nt);
        if (!rc) rc = bench_matmul(&p, 2708, 1433, 16, true, nt);
        if (!rc && !quick) rc = bench_matmul(&p, 1000, 1000, 1000, false, nt);
    }
    emit(&p, "\n");
    emit_load(&p, "at end");
    if (rc) fprintf(stderr, "bench_overhead failed\n");
    fprintf(stderr, "bench_overhead: %.0f s\n", now_seconds() - t0);
    if (p.out[1]) fclose(p.out[1]);
    gp_finalize();
    return rc ? 1 : 0;
}
