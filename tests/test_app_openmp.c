/*
 * The apps re-execute themselves with GOMP_SPINCOUNT=30000 when they run several threads and
 * the user set no policy (apps/app_openmp.c). Check that the re-executed run behaves like
 * a run started with the policy already set: same exit status, same results (same seed and
 * thread count give identical numbers). argv[1]: the gp-nodeclass executable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_run.h"

/* Drop the lines that hold timings or memory (they differ run to run). */
static void keep_results(char *s)
{
    char *w = s;
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        if (strstr(line, "ms") || strstr(line, "rss")) continue;
        size_t n = strlen(line);
        memmove(w, line, n);
        w += n;
        *w++ = '\n';
    }
    *w = '\0';
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_app_openmp GP_NODECLASS\n");
        return 2;
    }
    static char with[65536], without[65536];
    /* env(1) sets the policy for one run and removes it for the other */
    char *set[] = {"env", "-u", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT=30000",
                   argv[1], "--epochs", "5", "--threads", "2", "--quiet", NULL};
    char *unset[] = {"env", "-u", "GOMP_SPINCOUNT", "-u", "OMP_WAIT_POLICY",
                     argv[1], "--epochs", "5", "--threads", "2", "--quiet", NULL};
    int rc1 = app_run(set, false, with, sizeof with);
    int rc2 = app_run(unset, false, without, sizeof without);
    if (rc1 != 0 || rc2 != 0) {
        fprintf(stderr, "exit status %d with the policy set, %d without\n", rc1, rc2);
        return 1;
    }
    keep_results(with);
    keep_results(without);
    if (strlen(with) < 20 || !strstr(with, "final_test_acc")) {
        fprintf(stderr, "no results printed:\n%s\n", with);
        return 1;
    }
    if (strcmp(with, without) != 0) {
        fprintf(stderr, "results differ:\n--- policy set\n%s--- re-executed\n%s", with, without);
        return 1;
    }
    printf("same results with and without GOMP_SPINCOUNT in the environment:\n%s", with);
    return 0;
}
