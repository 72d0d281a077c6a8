/*
 * How many CPUs the machine gives two threads right now: the same fixed compute-bound work
 * (register-only multiply-adds, no memory traffic) is timed on one thread, then on two
 * threads at once (each doing the whole amount); effective CPUs = 2 t1 / t2. Two cores of
 * their own give ~2.0; two vCPUs that share one physical core's time give ~1.0.
 *
 * Why: the 2-vCPU VMs this project is measured on have phases in which two threads run little
 * faster than one (docs/benchmarks.md, "Session 17": top-k PROTEINS with two threads at 0.144 s
 * instead of 0.087 s, one thread unchanged), so a two-thread figure means little without this
 * number next to it. tests/bench_headline.sh runs it before every job and reports it.
 *
 * It also prints the one-thread time of that work (ms, median): a slower core (the host's
 * clock or load) shows there, since one-thread epochs slow down with it while the ratio does not.
 *
 * Usage: bench_cpus [ROUNDS]   (default 5; prints "CPUS MS", medians, e.g. "1.97 21.3")
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

/* About 20 ms of dependent multiply-adds in 8 independent chains (no memory traffic). */
static double spin_work(long iters)
{
    double a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (long i = 0; i < iters; i++)
        for (int j = 0; j < 8; j++) a[j] = a[j] * 0.999999 + 1e-7;
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    if (rounds < 1 || rounds > 1000) {
        fprintf(stderr, "usage: bench_cpus [ROUNDS 1-1000]\n");
        return 2;
    }
    const long iters = 12000000;
    volatile double sink = 0.0;
    double ratio[1000], one[1000];
    for (int r = 0; r < rounds; r++) {
        double s = omp_get_wtime();
        sink += spin_work(iters);
        double t1 = omp_get_wtime() - s;
        s = omp_get_wtime();
#pragma omp parallel num_threads(2)
        {
            double v = spin_work(iters);
#pragma omp atomic
            sink += v;
        }
        double t2 = omp_get_wtime() - s;
        ratio[r] = 2.0 * t1 / t2;
        one[r] = 1e3 * t1;
    }
    qsort(ratio, (size_t)rounds, sizeof ratio[0], cmp_double);
    qsort(one, (size_t)rounds, sizeof one[0], cmp_double);
    printf("%.2f %.1f\n", ratio[rounds / 2], one[rounds / 2]);
    return sink == 12345.0; /* keeps the work; never true */
}
