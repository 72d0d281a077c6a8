/*
 * gp-nodeclass with bad input (suite "apps"): a tiny planetoid-layout dataset written to a
 * temporary data directory trains (exit 0); with a training node that has no label, an empty
 * training split or a split number that does not exist it fails with exit 1 and a message that
 * names the file or the split (not an error from inside the loss). Numbers that do not parse
 * (atoi wrapped 4294967304 to 8; a --seed of 'abc' was 0) or widths beyond 4096 are usage errors. The app path is argv[1].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app_run.h"

static char root[64] = "/tmp/gp_nodeclass_app_XXXXXX";

static void put(const char *name, const char *file, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/planetoid/%s", root, name);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/planetoid/%s/%s", root, name, file);
    FILE *f = fopen(path, "w");
    if (!f) exit(1);
    fputs(text, f);
    fclose(f);
}

/* A 6-node dataset (two triangles, 3 classes) under the name, with one file replaced (or none). */
static void dataset(const char *name, const char *file, const char *text)
{
    static const char *const files[][2] = {
        {"labels", "0\n1\n2\n0\n1\n2\n"}, {"edges", "0 1\n0 2\n1 2\n3 4\n3 5\n4 5\n"},
        {"features", "0 0 1\n1 1 1\n2 2 1\n3 0 1\n4 1 1\n5 2 1\n"}, {"train_idx", "0\n1\n2\n"},
        {"val_idx", "3\n"}, {"test_idx", "4\n5\n"}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        put(name, files[i][0], file && !strcmp(file, files[i][0]) ? text : files[i][1]);
}

/* Runs the app on dataset name (extra: one more option and its value, or NULL); 0 when the exit
 * status is want and the output holds expect. */
static int check(char *app, const char *name, const char *extra, const char *value, int want, const char *expect)
{
    static char out[1 << 16];
    char *argv[] = {app, "--data-dir", root, "--dataset", (char *)name, "--epochs", "2", "--quiet",
                    (char *)extra, (char *)value, NULL};
    int rc = app_run(argv, true, out, sizeof out);
    if (rc != want || !strstr(out, expect))
        return fprintf(stderr, "%s: exit %d (expected %d), output lacks '%s':\n%s\n", name, rc, want, expect, out), 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_nodeclass_app PATH-TO-gp-nodeclass\n");
        return 2;
    }
    char planetoid[128];
    if (!mkdtemp(root)) return 1;
    snprintf(planetoid, sizeof planetoid, "%s/planetoid", root);
    mkdir(planetoid, 0777);
    dataset("good", NULL, NULL);
    dataset("unlabelled", "labels", "0\n-1\n2\n0\n1\n2\n");
    dataset("notrain", "train_idx", "# none\n");
    int bad = check(argv[1], "good", NULL, NULL, 0, "final_test_acc") ||
              check(argv[1], "unlabelled", NULL, NULL, 1, "train_idx: entry 2: node 1 has no label") ||
              check(argv[1], "notrain", NULL, NULL, 1, "split 0 has no training nodes") ||
              check(argv[1], "good", "--split", "3", 1, "has no split of that number") ||
              check(argv[1], "good", "--hidden", "4294967304", 2, "bad value '4294967304' for --hidden") ||
              check(argv[1], "good", "--hidden", "5000", 2, "--hidden must be 1..4096 (got 5000)") ||
              check(argv[1], "good", "--dropout", "1", 2, "--dropout must be in [0, 1) (got 1)") ||
              check(argv[1], "good", "--epochs", "0", 2, "--epochs must be at least 1 (got 0)") ||
              check(argv[1], "good", "--seed", "abc", 2, "bad value 'abc' for --seed") ||
              check(argv[1], "good", "--seed", "-1", 2, "bad value '-1' for --seed") ||
              check(argv[1], "good", "--seed", "7x", 2, "bad value '7x' for --seed") ||
              check(argv[1], "good", "--save", "", 2, "--save: empty file name") ||
              check(argv[1], "good", "--lr", "9223372036854775808", 2, "--lr must be in (0, 10] (got 9.22337e+18)") ||
              check(argv[1], "good", "--save", "/nonexistent/dir/m.gpm", 2, "/nonexistent/dir is not a writable directory");
    /* the dataset as the one argument, as --dataset; two, or both forms, are usage errors */
    static char out[1 << 16];
    char *positional[] = {argv[1], "--data-dir", root, "--epochs", "2", "--quiet", "good", NULL};
    char *two[] = {argv[1], "--data-dir", root, "good", "good", NULL};
    char *both[] = {argv[1], "--data-dir", root, "--dataset", "good", "good", NULL};
    int rc;
    if (!bad && ((rc = app_run(positional, true, out, sizeof out)) != 0 || !strstr(out, "final_test_acc")))
        bad = fprintf(stderr, "positional dataset: exit %d\n%s\n", rc, out);
    if (!bad && ((rc = app_run(two, true, out, sizeof out)) != 2 || !strstr(out, "one dataset at most")))
        bad = fprintf(stderr, "two datasets: exit %d\n%s\n", rc, out);
    if (!bad && ((rc = app_run(both, true, out, sizeof out)) != 2 || !strstr(out, "give it or --dataset, not both")))
        bad = fprintf(stderr, "both forms: exit %d\n%s\n", rc, out);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
    return bad;
}
