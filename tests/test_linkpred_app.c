/* gp-linkpred end to end (the app's path is argv[1]): learns on the generated network, predict
 * and recommend outputs are well-formed and exclude existing edges, save -> load reproduces the
 * scores exactly, bad input fails cleanly without leaving an output file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <graphpool/generators.h>
#include <graphpool/graphpool.h>

static const char *app_path;
static char dir[256];

/* Run the app with args (stdout -> dir/out.txt, stderr -> dir/err.txt); the exit status. */
static int run(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s/out.txt' 2>'%s/err.txt'", app_path, args, dir, dir);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *slurp(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

static bool exists(const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static bool has_edge(const gp_graph *g, int64_t u, int64_t v)
{
    for (int64_t k = g->adj.ptr[v]; k < g->adj.ptr[v + 1]; k++)
        if (g->adj.idx[k] == u) return true;
    return false;
}

static void test_learns_and_saves(void **state)
{
    (void)state;
    char args[1024];
    write_file("pairs.txt", "0 1\n5 150\n# comment\n10 200\n3 4\n");
    snprintf(args, sizeof args,
             "--epochs 4 --lr 1e-3 --hidden 16 --walk-len 4 --quiet --json --save-model '%s/m.ckpt'", dir);
    assert_int_equal(run(args), 0);
    char *out = slurp("out.txt");
    assert_non_null(out);
    char *p = strstr(out, "\"test_auc\": ");
    assert_non_null(p);
    double auc = atof(p + strlen("\"test_auc\": "));
    assert_true(auc > 0.8); /* clearly better than random (0.5) */
    assert_non_null(strstr(out, "\"method\": \"walkpool\""));
    free(out);
    assert_true(exists("m.ckpt"));
    /* load -> the same scores, byte for byte, as a second load */
    snprintf(args, sizeof args, "--quiet --load-model '%s/m.ckpt' --predict '%s/pairs.txt' --output '%s/p1.txt'", dir,
             dir, dir);
    assert_int_equal(run(args), 0);
    snprintf(args, sizeof args, "--quiet --load-model '%s/m.ckpt' --predict '%s/pairs.txt' --output '%s/p2.txt'", dir,
             dir, dir);
    assert_int_equal(run(args), 0);
    char *p1 = slurp("p1.txt"), *p2 = slurp("p2.txt");
    assert_non_null(p1);
    assert_non_null(p2);
    assert_string_equal(p1, p2);
    /* four lines "u<TAB>v<TAB>score[<TAB>(existing edge)]", scores in [0, 1] */
    int lines = 0;
    for (char *line = strtok(p1, "\n"); line; line = strtok(NULL, "\n")) {
        char u[64], v[64];
        double s;
        assert_int_equal(sscanf(line, "%63s %63s %lf", u, v, &s), 3);
        assert_true(s >= 0.0 && s <= 1.0); /* printed with 6 digits: may round to 1 */
        lines++;
    }
    assert_int_equal(lines, 4);
    free(p1);
    free(p2);
}

/* The model trained in one run scores exactly as the saved model in the next. */
static void test_save_load_exact(void **state)
{
    (void)state;
    char args[1024];
    write_file("pairs2.txt", "0 2\n7 9\n100 250\n");
    snprintf(args, sizeof args,
             "--epochs 2 --hidden 16 --walk-len 4 --quiet --save-model '%s/m2.ckpt' --predict '%s/pairs2.txt' --output '%s/a.txt'", dir, dir,
             dir);
    assert_int_equal(run(args), 0);
    snprintf(args, sizeof args, "--quiet --load-model '%s/m2.ckpt' --predict '%s/pairs2.txt' --output '%s/b.txt'",
             dir, dir, dir);
    assert_int_equal(run(args), 0);
    char *a = slurp("a.txt"), *b = slurp("b.txt");
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void test_recommend(void **state)
{
    (void)state;
    gp_graph *g = NULL;
    assert_int_equal(gp_gen_watts_strogatz(&g, 300, 3, 0.1, 1), GP_OK); /* the app's default network */
    char args[1024];
    snprintf(args, sizeof args, "--quiet --load-model '%s/m.ckpt' --recommend 15 --output '%s/rec.txt'", dir, dir);
    assert_int_equal(run(args), 0);
    char *rec = slurp("rec.txt");
    assert_non_null(rec);
    int lines = 0;
    double last = 2.0;
    for (char *line = strtok(rec, "\n"); line; line = strtok(NULL, "\n")) {
        long rank, u, v;
        double s;
        assert_int_equal(sscanf(line, "%ld %ld %ld %lf", &rank, &u, &v, &s), 4);
        assert_int_equal(rank, lines + 1);
        assert_true(u >= 0 && u < 300 && v >= 0 && v < 300 && u != v);
        assert_false(has_edge(g, u, v)); /* existing edges are never recommended */
        assert_true(s <= last);          /* ranked by score */
        last = s;
        lines++;
    }
    assert_int_equal(lines, 15);
    free(rec);
    /* --for: pairs of one node only, JSON */
    snprintf(args, sizeof args, "--quiet --load-model '%s/m.ckpt' --recommend 5 --for 17 --json", dir);
    assert_int_equal(run(args), 0);
    char *out = slurp("out.txt");
    int count = 0;
    for (char *p = strstr(out, "\"u\": \"17\""); p; p = strstr(p + 1, "\"u\": \"17\"")) count++;
    assert_int_equal(count, 5);
    assert_non_null(strstr(out, "\"recommendations\""));
    free(out);
    gp_graph_free(&g);
}

/* Labelled edge list: labels in, labels out; heuristics run the same way. */
static void test_labels_and_heuristics(void **state)
{
    (void)state;
    char text[8192] = "";
    for (int i = 0; i < 40; i++) { /* a ring of 40 cities with chords */
        char line[128];
        snprintf(line, sizeof line, "city%d city%d\ncity%d city%d\n", i, (i + 1) % 40, i, (i + 2) % 40);
        strcat(text, line);
    }
    write_file("cities.txt", text);
    write_file("cpairs.txt", "city0 city3\ncity5 city20\n");
    char args[1024];
    snprintf(args, sizeof args, "--quiet --method aa '%s/cities.txt' --predict '%s/cpairs.txt'", dir, dir);
    assert_int_equal(run(args), 0);
    char *out = slurp("out.txt");
    assert_non_null(strstr(out, "city0\tcity3\t"));
    assert_non_null(strstr(out, "city5\tcity20\t0\n")); /* no common neighbour */
    free(out);
    snprintf(args, sizeof args, "--quiet --compare=aa,cn --epochs 1 '%s/cities.txt'", dir);
    assert_int_equal(run(args), 0);
    out = slurp("out.txt");
    assert_non_null(strstr(out, "walkpool"));
    assert_non_null(strstr(out, "\naa "));
    assert_non_null(strstr(out, "\ncn "));
    free(out);
}

static void test_bad_input(void **state)
{
    (void)state;
    char args[1024];
    /* missing file */
    snprintf(args, sizeof args, "--quiet '%s/nope.txt'", dir);
    assert_int_equal(run(args), 1);
    char *err = slurp("err.txt");
    assert_non_null(strstr(err, "nope.txt"));
    free(err);
    /* malformed edge list */
    write_file("bad.txt", "1 2\n2 x3\n");
    snprintf(args, sizeof args, "--quiet --one-based --split-file '%s/bad.txt' '%s/bad.txt'", dir, dir);
    assert_int_equal(run(args), 1);
    /* unknown node in the pairs file: error with file:line, no output file */
    write_file("badpairs.txt", "0 1\n2 nosuchnode\n");
    snprintf(args, sizeof args,
             "--quiet --load-model '%s/m.ckpt' --predict '%s/badpairs.txt' --output '%s/never.txt'", dir, dir, dir);
    assert_int_equal(run(args), 1);
    err = slurp("err.txt");
    assert_non_null(strstr(err, "badpairs.txt:2"));
    free(err);
    assert_false(exists("never.txt"));
    /* a corrupt model */
    write_file("junk.ckpt", "not a model");
    snprintf(args, sizeof args, "--quiet --load-model '%s/junk.ckpt'", dir);
    assert_int_equal(run(args), 1);
    /* usage errors */
    assert_int_equal(run("--no-such-option"), 2);
    assert_int_equal(run("--method nosuch"), 2);
    assert_int_equal(run("--epochs -3"), 2);
    assert_int_equal(run("--for 3"), 2);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_linkpred_app PATH-TO-gp-linkpred\n");
        return 2;
    }
    app_path = argv[1];
    snprintf(dir, sizeof dir, "/tmp/gp_linkpred_app_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    gp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learns_and_saves),
        cmocka_unit_test(test_save_load_exact),
        cmocka_unit_test(test_recommend),
        cmocka_unit_test(test_labels_and_heuristics),
        cmocka_unit_test(test_bad_input),
    };
    int rc = cmocka_run_group_tests_name("linkpred_app", tests, NULL, NULL);
    gp_finalize();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
