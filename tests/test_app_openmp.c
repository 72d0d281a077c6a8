/*
 * The apps re-execute themselves with GOMP_SPINCOUNT=30000 when they run several threads and
 * the user set no policy, and with OPENBLAS_NUM_THREADS=1 when it is unset (apps/app_openmp.c).
 * Check that the re-executed run behaves like a run started with the settings already made:
 * same exit status, same results (same seed and thread count give identical numbers); and that
 * a one-thread run started without OPENBLAS_NUM_THREADS runs one thread (OpenBLAS started a
 * spinning worker per further core). argv[1]: the gp-nodeclass executable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Threads of a one-thread gp-nodeclass run started without OPENBLAS_NUM_THREADS, read from
 * /proc once it has printed its first line (after any re-execution: the same process); -1 on
 * failure. */
static int threads_of_one_thread_run(char *app)
{
    int fd[2];
    if (pipe(fd) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        unsetenv("OPENBLAS_NUM_THREADS");
        unsetenv("GOTO_NUM_THREADS");
        execl(app, app, "--epochs", "100", "--threads", "1", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *err = fdopen(fd[0], "r");
    char line[512];
    int threads = -1;
    if (err && fgets(line, sizeof line, err)) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        FILE *st = fopen(path, "r");
        while (st && fgets(line, sizeof line, st))
            if (sscanf(line, "Threads: %d", &threads) == 1) break;
        if (st) fclose(st);
    }
    while (err && fgets(line, sizeof line, err)) { /* drain, so that the child never blocks */
    }
    if (err) fclose(err);
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
    return threads;
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
    int threads = threads_of_one_thread_run(argv[1]);
    if (threads != 1) {
        fprintf(stderr, "a --threads 1 run without OPENBLAS_NUM_THREADS has %d threads, expected 1\n", threads);
        return 1;
    }
    printf("a --threads 1 run without OPENBLAS_NUM_THREADS runs 1 thread\n");
    return 0;
}
