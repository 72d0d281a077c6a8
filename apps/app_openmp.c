/*
 * libgomp's default wait policy lets an idle worker spin for ~300 000 iterations after every
 * parallel region before it sleeps. On a 2-vCPU machine that also runs another job, spinning
 * workers hold the cores the other threads need: with two other jobs running, a 2-thread GPN
 * epoch took 2.9-8.3 s, against 1.5-1.6 s with OMP_WAIT_POLICY=passive and 1.3 s with
 * GOMP_SPINCOUNT=30000 (docs/benchmarks.md, "One thread pool"). On an idle machine never spinning
 * (passive) costs a futex wake-up per region: top-k 21 % and GPN 6 % slower than the short spin
 * (WalkPool within noise). The short spin was the best compromise in those measurements. libgomp reads the setting
 * once, when it is loaded, so no library call can change it later: the apps re-execute
 * themselves with it, unless the user chose a policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT set)
 * or runs one thread (no workers to spin).
 */
#include <stdlib.h>
#include <unistd.h>

#include "app_openmp.h"

void app_prefer_short_openmp_spin(char **argv, int threads)
{
#ifdef __linux__
    if (threads <= 1 || getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("GOMP_SPINCOUNT", "30000", 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("GOMP_SPINCOUNT"); /* exec failed: carry on with the default policy */
#else
    (void)argv, (void)threads;
#endif
}
