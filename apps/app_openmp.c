/*
 * libgomp's default wait policy lets idle worker threads spin after every parallel region.
 * On the 2-vCPU VMs we measured, that made a 2-thread Cora GCN step 15x slower than with
 * OMP_WAIT_POLICY=passive (24 ms against 2.1 ms; docs/benchmarks.md, "Node classification").
 * libgomp reads the policy once, when it is loaded, so no library call can change it later:
 * the apps re-execute themselves with the passive policy instead, unless the user chose a
 * policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT set) or runs one thread (no workers to spin).
 */
#include <stdlib.h>
#include <unistd.h>

#include "app_openmp.h"

void app_prefer_passive_openmp(char **argv, int threads)
{
#ifdef __linux__
    if (threads <= 1 || getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
    unsetenv("OMP_WAIT_POLICY"); /* exec failed: carry on with the default policy */
#else
    (void)argv, (void)threads;
#endif
}
