/*
 * End-to-end check of gp-graphclass (suite "apps"): a 2-fold, 40-epoch run on MUTAG with top-k
 * pooling must exit 0 and its mean test accuracy must beat the majority-class rate it reports;
 * then the saved model must predict probabilities that sum to 1 for every MUTAG graph.
 * The app path is argv[1]; it is run with fork/exec (no shell) and its JSON output parsed here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run argv, capture stdout into buf (size cap); returns the exit status or -1. */
static int run(char *const argv[], char *buf, size_t cap)
{
    int fd[2];
    if (pipe(fd) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    size_t used = 0;
    ssize_t got;
    while (used + 1 < cap && (got = read(fd[0], buf + used, cap - 1 - used)) > 0) used += (size_t)got;
    buf[used] = '\0';
    close(fd[0]);
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

static double json_number(const char *s, const char *key)
{
    const char *p = strstr(s, key);
    if (!p) return -1.0;
    p = strchr(p, ':');
    return p ? atof(p + 1) : -1.0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_graphclass_app PATH-TO-gp-graphclass\n");
        return 2;
    }
    static char out[1 << 20];
    char model[] = "/tmp/gp_graphclass_test_XXXXXX";
    int mfd = mkstemp(model);
    if (mfd < 0) return 1;
    close(mfd);
    char *train[] = {argv[1], "--dataset", "MUTAG", "--folds", "2", "--epochs", "40", "--lr", "0.005",
                     "--hidden", "32", "--val-ratio", "0.2", "--seed", "1", "--pool", "topk",
                     "--quiet", "--json", "--save", model, NULL};
    int rc = run(train, out, sizeof out);
    if (rc != 0) {
        fprintf(stderr, "gp-graphclass exited with %d\n%s\n", rc, out);
        return 1;
    }
    double mean = json_number(out, "\"mean\""), majority = json_number(out, "\"majority_rate\"");
    printf("mean accuracy %.4f, majority rate %.4f\n", mean, majority);
    if (!(majority > 0.5 && mean > majority)) {
        fprintf(stderr, "accuracy does not beat the majority class\n%s\n", out);
        return 1;
    }
    char *pred[] = {argv[1], "--load", model, "--predict", "MUTAG", NULL};
    rc = run(pred, out, sizeof out);
    char meta[512];
    snprintf(meta, sizeof meta, "%s.meta", model);
    remove(model);
    remove(meta);
    if (rc != 0) {
        fprintf(stderr, "gp-graphclass --predict exited with %d\n", rc);
        return 1;
    }
    int lines = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (lines++ == 0) continue; /* header */
        int idx, cls;
        double p0, p1;
        if (sscanf(line, "%d %d %lf %lf", &idx, &cls, &p0, &p1) != 4 || idx != lines - 1 ||
            (cls != -1 && cls != 1) || p0 < 0 || p1 < 0 || p0 + p1 < 0.999 || p0 + p1 > 1.001) {
            fprintf(stderr, "bad prediction line: %s\n", line);
            return 1;
        }
    }
    if (lines != 189) {
        fprintf(stderr, "expected 188 predictions, got %d\n", lines - 1);
        return 1;
    }
    return 0;
}
