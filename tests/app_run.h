/*
 * Running an app binary from a test program: fork/exec with an argument vector (no shell), its
 * output captured into a buffer, its exit status returned. Also a look-up of a number in the
 * app's JSON output. Header-only (static inline) so that a test that does not use it compiles
 * without unused-function warnings.
 */
#ifndef GP_TESTS_APP_RUN_H
#define GP_TESTS_APP_RUN_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run argv[0] (a path, or a name searched in PATH) with argv, NULL-terminated. Its stdout, and
 * its stderr too when with_stderr (otherwise stderr stays the test's), go into buf: at most
 * cap - 1 bytes kept and NUL-terminated, the rest read and dropped so that the child never
 * blocks on a full pipe. Returns the exit status (127: the program could not be executed), or
 * -1 when it could not be started or did not exit normally (killed by a signal). */
static inline int app_run(char *const argv[], bool with_stderr, char *buf, size_t cap)
{
    int fd[2];
    if (cap == 0 || pipe(fd) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]);
        close(fd[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        if (with_stderr) dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t used = 0;
    for (;;) {
        char drop[4096];
        bool room = used + 1 < cap;
        ssize_t got = room ? read(fd[0], buf + used, cap - 1 - used) : read(fd[0], drop, sizeof drop);
        if (got <= 0) break;
        if (room) used += (size_t)got;
    }
    buf[used] = '\0';
    close(fd[0]);
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

/* The number after the first occurrence of key (e.g. "\"mean\"") and its colon in the JSON
 * text s, or -1.0 when the key is absent. */
static inline double app_json_number(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    if (!p) return -1.0;
    p = strchr(p, ':');
    return p ? atof(p + 1) : -1.0;
}

#endif
