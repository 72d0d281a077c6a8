/*
 * Thread settings that must be in the environment before the process starts, because the
 * libraries read them once, when they are loaded; the apps re-execute themselves with them
 * (once: the second start finds them set), unless the user chose a value:
 *
 * - GOMP_SPINCOUNT=30000, when the app runs several threads and no OpenMP wait policy is set.
 *   libgomp's default lets an idle worker spin for ~300 000 iterations after every parallel
 *   region before it sleeps. On a 2-vCPU machine that also runs another job, spinning workers
 *   hold the cores the other threads need: with two other jobs running, a 2-thread GPN epoch
 *   took 2.9-8.3 s, against 1.5-1.6 s with OMP_WAIT_POLICY=passive and 1.3 s with
 *   GOMP_SPINCOUNT=30000 (docs/benchmarks.md, "One thread pool"). On an idle machine never
 *   spinning (passive) costs a futex wake-up per region: top-k 21 % and GPN 6 % slower than the
 *   short spin (WalkPool within noise). The short spin was the best compromise there.
 * - OPENBLAS_NUM_THREADS=1, when unset. The library runs OpenBLAS at one thread per call
 *   (gp_set_threads; products are split over OpenMP threads), but Debian's pthread OpenBLAS
 *   starts one worker per core when it is loaded, and each spins in sched_yield for ~0.1 s
 *   (2^28 cycles) before it sleeps: a 0.1 s gp-graphclass run used 0.08-0.11 s of system time
 *   on the other core for nothing, and its cpu_ms column doubled. A second start costs ~10 ms.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "app_openmp.h"

void app_settle_thread_env(char **argv, int threads)
{
#ifdef __linux__
    bool again = false;
    if (threads > 1 && !getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT"))
        again |= setenv("GOMP_SPINCOUNT", "30000", 1) == 0;
    if (!getenv("OPENBLAS_NUM_THREADS") && !getenv("GOTO_NUM_THREADS"))
        again |= setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0;
    if (!again) return;
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the settings the process started with */
    unsetenv("GOMP_SPINCOUNT");
    unsetenv("OPENBLAS_NUM_THREADS");
#else
    (void)argv, (void)threads;
#endif
}
