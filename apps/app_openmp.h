/* Thread settings the apps put in their environment (see app_openmp.c). */
#ifndef GP_APP_OPENMP_H
#define GP_APP_OPENMP_H

/* Re-execute the program (argv as given to main) with GOMP_SPINCOUNT=30000 when threads > 1
 * and the user set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT, and with OPENBLAS_NUM_THREADS=1
 * when neither it nor GOTO_NUM_THREADS is set (app_openmp.c says why). Returns when there is
 * nothing to set or it cannot re-execute. */
void app_settle_thread_env(char **argv, int threads);

#endif
