/* OpenMP wait policy for the apps (see app_openmp.c). */
#ifndef GP_APP_OPENMP_H
#define GP_APP_OPENMP_H

/* When threads > 1 and the user set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT, re-execute
 * the program with GOMP_SPINCOUNT=30000 (argv as given to main). Returns if it cannot. */
void app_prefer_short_openmp_spin(char **argv, int threads);

#endif
