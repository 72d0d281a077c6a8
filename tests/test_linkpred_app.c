/* gp-linkpred end to end (the app's path is argv[1]): learns on the generated network (also as
 * the no-argument demo), predict and recommend outputs are well-formed and exclude existing
 * edges, save -> load reproduces the scores exactly, labelled split files and node feature
 * files work, bad input fails cleanly without leaving an output file; --curve writes one line
 * per epoch and leaves the reported result unchanged. */
#include <math.h>
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

/* Occurrences of needle in s. */
static int count_str(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
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

/* The reported test AUC of the JSON output */
static double reported_test_auc(void)
{
    char *out = slurp("out.txt");
    assert_non_null(out);
    char *p = strstr(out, "\"test_auc\": ");
    assert_non_null(p);
    double auc = atof(p + strlen("\"test_auc\": "));
    free(out);
    return auc;
}

/* --curve: the same result as without it; one line per epoch with a test AUC; the line marked
 * best is the first with the highest validation AUC and carries the reported test AUC. */
static void test_curve(void **state)
{
    (void)state;
    const char *common = "--epochs 5 --lr 1e-3 --hidden 16 --walk-len 4 --quiet --json";
    char args[1024];
    assert_int_equal(run(common), 0);
    double plain = reported_test_auc();
    snprintf(args, sizeof args, "%s --curve '%s/curve.tsv'", common, dir);
    assert_int_equal(run(args), 0);
    double with_curve = reported_test_auc();
    assert_true(plain == with_curve);
    /* the progress lines (not a terminal: one per epoch) give the time left but at the last */
    assert_int_equal(run("--epochs 3 --lr 1e-3 --hidden 16 --walk-len 4 --json"), 0);
    char *err = slurp("err.txt");
    char *e1 = strstr(err, "epoch   1/3 "), *e2 = strstr(err, "epoch   2/3 "), *e3 = strstr(err, "epoch   3/3 ");
    if (!e1 || !e2 || !e3) fail_msg("%s", err);
    char *end1 = strchr(e1, '\n'), *end3 = strchr(e3, '\n');
    *end1 = *end3 = '\0';
    if (!strstr(e1, "s left") || !strstr(e1, "  ~") || strstr(e3, "left")) fail_msg("%s / %s", e1, e3);
    free(err);
    char *c = slurp("curve.tsv");
    assert_non_null(c);
    const char *header = "epoch\tloss\tval_auc\tval_ap\ttest_auc\ttest_ap\tbest\tseconds\n";
    assert_true(strncmp(c, header, strlen(header)) == 0);
    int lines = 0, best_epoch = 0;
    double best_val = -1, best_test = -1, last_marked_test = -1;
    for (char *line = strtok(strchr(c, '\n') + 1, "\n"); line; line = strtok(NULL, "\n")) {
        int ep, best;
        double loss, va, vp, ta, tp, sec;
        assert_int_equal(sscanf(line, "%d %lf %lf %lf %lf %lf %d %lf", &ep, &loss, &va, &vp, &ta, &tp, &best, &sec), 8);
        assert_int_equal(ep, ++lines);
        assert_true(ta >= 0 && ta <= 1 && tp >= 0 && tp <= 1 && va >= 0 && va <= 1);
        assert_int_equal(best, va > best_val);
        if (va > best_val) best_val = va, best_test = ta, best_epoch = ep, last_marked_test = ta;
    }
    assert_int_equal(lines, 5);
    assert_true(best_epoch >= 1);
    assert_true(fabs(best_test - with_curve) < 1e-6 && last_marked_test == best_test);
    free(c);
    /* --curve without training is a usage error, and writes nothing */
    snprintf(args, sizeof args, "--method cn --curve '%s/curve_bad.tsv'", dir);
    assert_int_equal(run(args), 2);
    assert_false(exists("curve_bad.tsv"));
}

/* --resume: a run stopped after 2 of 4 epochs and run again with 4 ends with the same result
 * and the same model (its predictions) as an uninterrupted run; a finished state gives the result
 * again; another run's state is refused and kept; --resume without training is a usage error. */
static void test_resume(void **state)
{
    (void)state;
    const char *common = "--lr 1e-3 --hidden 16 --walk-len 4 --quiet --json";
    char args[1024], cmd[1024];
    snprintf(args, sizeof args, "%s --epochs 4 --save-model '%s/whole.gpm'", common, dir);
    assert_int_equal(run(args), 0);
    double whole = reported_test_auc();
    snprintf(args, sizeof args, "%s --epochs 2 --resume '%s/state.gps'", common, dir);
    assert_int_equal(run(args), 0);
    assert_true(exists("state.gps"));
    for (int again = 0; again < 2; again++) { /* continued, then finished */
        snprintf(args, sizeof args, "%s --epochs 4 --resume '%s/state.gps' --save-model '%s/resumed.gpm'", common, dir,
                 dir);
        assert_int_equal(run(args), 0);
        assert_true(reported_test_auc() == whole);
        char *out = slurp("out.txt");
        assert_non_null(strstr(out, again ? "\"resumed_epochs\": 4" : "\"resumed_epochs\": 2"));
        free(out);
        snprintf(cmd, sizeof cmd, "cmp -s '%s/whole.gpm' '%s/resumed.gpm'", dir, dir);
        assert_int_equal(system(cmd), 0); /* the same weights, options and data checksum */
    }
    snprintf(cmd, sizeof cmd, "cp '%s/state.gps' '%s/state.bak'", dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(args, sizeof args, "%s --epochs 4 --seed 2 --resume '%s/state.gps'", common, dir);
    assert_int_equal(run(args), 1);
    char *err = slurp("err.txt");
    if (!strstr(err, "holds the state of another run")) fail_msg("%s", err);
    free(err);
    snprintf(cmd, sizeof cmd, "cmp -s '%s/state.gps' '%s/state.bak'", dir, dir);
    assert_int_equal(system(cmd), 0); /* unchanged */
    snprintf(args, sizeof args, "--method cn --resume '%s/state2.gps'", dir);
    assert_int_equal(run(args), 2);
    assert_false(exists("state2.gps"));
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
    /* --max-candidates keeps the pairs with the most common neighbours and says so: with cn as
     * the score the top 5 keep their scores (the cut only drops lower ones) */
    char *full = NULL;
    for (int cap = 0; cap < 2; cap++) {
        snprintf(args, sizeof args, "--method cn --recommend 5 %s --output '%s/rec_cn.txt'",
                 cap ? "--max-candidates 20" : "", dir);
        assert_int_equal(run(args), 0);
        char *err = slurp("err.txt");
        if (cap != (strstr(err, "scoring the 20 with the most common neighbours") != NULL)) fail_msg("%s", err);
        free(err);
        char *got = slurp("rec_cn.txt"), *scores = calloc(1, strlen(got) + 1);
        for (char *line = strtok(got, "\n"); line; line = strtok(NULL, "\n")) /* the score column */
            strcat(strcat(scores, strrchr(line, '\t') + 1), " ");
        free(got);
        if (!cap) full = scores;
        else {
            assert_string_equal(scores, full);
            free(scores);
        }
    }
    free(full);
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
    /* comments, a blank line, a comma, CRLF and a byte-order mark are accepted in pair files */
    write_file("cpairs.txt", "\xEF\xBB\xBF" "city0 city3\n# labels as in cities.txt\n\n% pair two\n  city5,\tcity20\r\n");
    char args[2048];
    snprintf(args, sizeof args, "--quiet --method aa '%s/cities.txt' --predict '%s/cpairs.txt'", dir, dir);
    assert_int_equal(run(args), 0);
    char *out = slurp("out.txt");
    assert_non_null(strstr(out, "city0\tcity3\t"));
    assert_non_null(strstr(out, "city5\tcity20\t0\n")); /* no common neighbour */
    /* the same links with a weight and a timestamp column: read over, said on stderr, same scores */
    char wtext[12288] = "";
    for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
        size_t n = strcspn(l, "\n"), len = strlen(wtext);
        snprintf(wtext + len, sizeof wtext - len, "%.*s %d 17%zu\n", (int)n, l, (int)(len % 5) + 1, len);
    }
    write_file("cities_w.txt", wtext);
    snprintf(args, sizeof args, "--method aa '%s/cities_w.txt' --predict '%s/cpairs.txt'", dir, dir);
    assert_int_equal(run(args), 0);
    char *wout = slurp("out.txt"), *werr = slurp("err.txt");
    assert_string_equal(wout, out);
    if (!strstr(werr, "cities_w.txt: columns after 'u v' (from line 1) are ignored")) fail_msg("%s", werr);
    free(wout);
    free(werr);
    /* the same links as CSV under a header line: skipped (said on stderr), the same scores;
     * --no-header reads it as a link between nodes 'source' and 'target' */
    char ctext[16384] = "source,target,weight\n";
    for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
        size_t n = strcspn(l, "\n"), len = strlen(ctext);
        snprintf(ctext + len, sizeof ctext - len, "%.*s,0.5\n", (int)n, l);
        *strchr(ctext + len, ' ') = ',';
    }
    write_file("cities.csv", ctext);
    snprintf(args, sizeof args, "--method aa '%s/cities.csv' --predict '%s/cpairs.txt'", dir, dir);
    assert_int_equal(run(args), 0);
    char *cout = slurp("out.txt"), *cerr = slurp("err.txt");
    assert_string_equal(cout, out);
    if (!strstr(cerr, "cities.csv: line 1 holds column names: skipped")) fail_msg("%s", cerr);
    free(cout);
    free(cerr);
    snprintf(args, sizeof args, "--quiet --json --method aa --no-header '%s/cities.csv'", dir);
    assert_int_equal(run(args), 0);
    cout = slurp("out.txt");
    if (!strstr(cout, "\"nodes\": 42, \"edges\": 81,")) fail_msg("%s", cout);
    free(cout);
    /* names the automatic rule cannot tell from labels: a note suggests --header, which works */
    char htext[12288] = "source target\n";
    strcat(htext, text);
    write_file("cities_h.txt", htext);
    snprintf(args, sizeof args, "--method aa '%s/cities_h.txt' --predict '%s/cpairs.txt'", dir, dir);
    assert_int_equal(run(args), 0);
    cerr = slurp("err.txt");
    if (!strstr(cerr, "the first edge joins nodes 'source' and 'target': if that line holds column names, give --header"))
        fail_msg("%s", cerr);
    free(cerr);
    snprintf(args, sizeof args, "--quiet --method aa --header '%s/cities_h.txt' --predict '%s/cpairs.txt'", dir, dir);
    assert_int_equal(run(args), 0);
    cout = slurp("out.txt");
    assert_string_equal(cout, out);
    free(cout);
    free(out);
    /* a MATLAB MAT-file (SEAL's format; fixture of tests/test_io_mat.c): its 6 nodes and 6 links */
    char mat[512];
    snprintf(mat, sizeof mat, "%s", __FILE__);
    char *slash = strrchr(mat, '/');
    snprintf(slash ? slash + 1 : mat, sizeof mat - (size_t)(slash ? slash + 1 - mat : 0), "fixtures/mat_net.mat");
    snprintf(args, sizeof args, "--quiet --json --method cn --test-ratio 0.2 --val-ratio 0 '%s'", mat);
    assert_int_equal(run(args), 0);
    out = slurp("out.txt");
    if (!strstr(out, "\"nodes\": 6, \"edges\": 6,")) fail_msg("%s", out);
    free(out);
    /* ... with its WalkPool-style split file (1-based pairs in MATLAB variables) */
    char split[600];
    snprintf(split, sizeof split, "%.*s/mat_split.mat", (int)(strrchr(mat, '/') - mat), mat);
    snprintf(args, sizeof args, "--quiet --json --method cn --val-ratio 0 '%s' --split-file '%s'", mat, split);
    assert_int_equal(run(args), 0);
    out = slurp("out.txt");
    if (!strstr(out, "\"split\": {\"train\": 4, \"val\": 0, \"test\": 2}")) fail_msg("%s", out);
    free(out);
    snprintf(args, sizeof args, "--quiet --compare=aa,cn --epochs 1 '%s/cities.txt'", dir);
    assert_int_equal(run(args), 0);
    out = slurp("out.txt");
    assert_non_null(strstr(out, "walkpool"));
    assert_non_null(strstr(out, "\naa "));
    assert_non_null(strstr(out, "\ncn "));
    free(out);
    /* labels that are not UTF-8 (Latin-1 \xe9) or hold a quote stay valid JSON: \ufffd, \" */
    write_file("latin1.txt", "caf\xe9 city1\nsay\"hi city2\ncity1 city2\ncity2 city3\ncity3 city1\n");
    write_file("lpairs.txt", "caf\xe9 city2\nsay\"hi city1\n");
    snprintf(args, sizeof args, "--quiet --json --method cn --test-ratio 0.2 --val-ratio 0 '%s/latin1.txt' --predict '%s/lpairs.txt'",
             dir, dir);
    assert_int_equal(run(args), 0);
    out = slurp("out.txt");
    if (!strstr(out, "\"u\": \"caf\\ufffd\"") || !strstr(out, "\"u\": \"say\\\"hi\"") || strchr(out, '\xe9'))
        fail_msg("%s", out);
    free(out);
}

/* A heuristic's validation AUC is measured with the validation edges hidden, like its test
 * AUC: katz on the observed graph (which holds them) would score ~1. */
static void test_heuristic_validation_hidden(void **state)
{
    (void)state;
    assert_int_equal(run("--quiet --json --method katz"), 0);
    char *out = slurp("out.txt");
    assert_non_null(out);
    char *p = strstr(out, "\"val_auc\": ");
    assert_non_null(p);
    double val = atof(p + strlen("\"val_auc\": "));
    p = strstr(out, "\"test_auc\": ");
    assert_non_null(p);
    double test = atof(p + strlen("\"test_auc\": "));
    assert_true(val > 0.5 && val < 0.99);
    assert_true(fabs(val - test) < 0.2); /* the same kind of measurement */
    free(out);
}

/* With no input at all: the documented demo (generated network, DEMO_EPOCHS epochs of the
 * paper's model) finishes and learns. */
static void test_demo_default(void **state)
{
    (void)state;
    assert_int_equal(run("--quiet --json"), 0);
    char *out = slurp("out.txt");
    assert_non_null(out);
    assert_non_null(strstr(out, "\"data\": \"watts-strogatz(n=300,k=3,p=0.1,seed=1)\""));
    char *p = strstr(out, "\"test_auc\": ");
    assert_non_null(p);
    assert_true(atof(p + strlen("\"test_auc\": ")) > 0.8);
    p = strstr(out, "\"best_epoch\": ");
    assert_non_null(p);
    int best = atoi(p + strlen("\"best_epoch\": "));
    assert_true(best >= 1 && best <= 3); /* 3 demo epochs */
    free(out);
}

/* A ring of n labelled cities with chords (labels city0 .. city{n-1}). */
static void write_cities(const char *name, int n)
{
    size_t cap = (size_t)n * 64 + 1;
    char *text = calloc(cap, 1);
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "city%d city%d\ncity%d city%d\n", i, (i + 1) % n, i, (i + 2) % n);
    write_file(name, text);
    free(text);
}

/* --split-file names nodes by the edge list's labels; outputs keep them. */
static void test_labelled_split(void **state)
{
    (void)state;
    write_cities("ring.txt", 60);
    char text[16384] = "# part u v, labels as in ring.txt\n";
    size_t len = strlen(text);
    for (int i = 0; i < 60; i++) { /* test: 6 ring edges, validation: 3 chords, the rest training */
        const char *part = i % 10 == 0 ? "test_pos" : "train_pos";
        len += (size_t)snprintf(text + len, sizeof text - len, "%s city%d city%d\n", part, i, (i + 1) % 60);
        part = i % 20 == 5 ? "val_pos" : "train_pos";
        len += (size_t)snprintf(text + len, sizeof text - len, "%s city%d, city%d\n", part, (i + 2) % 60, i);
        /* negatives: pairs 30 apart (never adjacent) */
        part = i % 10 == 0 ? "test_neg" : i % 20 == 5 ? "val_neg" : "train_neg";
        if (i < 30) len += (size_t)snprintf(text + len, sizeof text - len, "%s city%d city%d\n", part, i, i + 30);
        part = i % 10 == 0 ? "test_neg" : "train_neg";
        if (i < 29) len += (size_t)snprintf(text + len, sizeof text - len, "%s city%d city%d\n", part, i, i + 31);
    }
    write_file("ring_split.txt", text);
    write_file("ring_pairs.txt", "city7 city9\ncity3 city33\n");
    char args[1024];
    snprintf(args, sizeof args,
             "--quiet --json --epochs 1 --hidden 8 --walk-len 3 --split-file '%s/ring_split.txt' '%s/ring.txt'", dir, dir);
    assert_int_equal(run(args), 0);
    char *out = slurp("out.txt");
    assert_non_null(out);
    assert_non_null(strstr(out, "\"nodes\": 60"));
    assert_non_null(strstr(out, "\"split\": {\"train\": 111, \"val\": 3, \"test\": 6}"));
    free(out);
    /* heuristics on the same labelled split, and labelled predictions */
    snprintf(args, sizeof args, "--quiet --method cn --split-file '%s/ring_split.txt' --predict '%s/ring_pairs.txt' '%s/ring.txt'",
             dir, dir, dir);
    assert_int_equal(run(args), 0);
    out = slurp("out.txt");
    assert_non_null(strstr(out, "city7\tcity9\t"));
    assert_non_null(strstr(out, "city3\tcity33\t0\n"));
    free(out);
    /* an unknown label in the split file: error naming file and line */
    write_file("ring_bad.txt", "train_pos city1 city2\ntest_pos city1 atlantis\n");
    snprintf(args, sizeof args, "--quiet --epochs 1 --split-file '%s/ring_bad.txt' '%s/ring.txt'", dir, dir);
    assert_int_equal(run(args), 1);
    char *err = slurp("err.txt");
    assert_non_null(strstr(err, "ring_bad.txt:2"));
    assert_non_null(strstr(err, "atlantis"));
    free(err);
}

/* --features: node attributes by label replace the constant features; the model records
 * their width; malformed files fail cleanly. */
static void test_features(void **state)
{
    (void)state;
    write_cities("fring.txt", 40);
    char text[8192] = "";
    size_t len = 0;
    for (int i = 39; i >= 0; i--) /* any order, labels as in the edge list */
        len += (size_t)snprintf(text + len, sizeof text - len, "city%d %d %g, %g\n", i, i % 2, 0.1 * (i % 5),
                                i < 20 ? 1.0 : -1.0);
    write_file("feat.txt", text);
    write_file("fpairs.txt", "city0 city3\ncity5 city20\n");
    char args[2048];
    snprintf(args, sizeof args,
             "--quiet --json --epochs 2 --hidden 8 --walk-len 3 --features '%s/feat.txt' --save-model '%s/f.ckpt' '%s/fring.txt'",
             dir, dir, dir);
    assert_int_equal(run(args), 0);
    char *out = slurp("out.txt");
    assert_non_null(strstr(out, "\"features\": 3"));
    free(out);
    /* the saved model scores with the same features; without them it refuses */
    snprintf(args, sizeof args, "--quiet --load-model '%s/f.ckpt' --features '%s/feat.txt' --predict '%s/fpairs.txt' '%s/fring.txt'",
             dir, dir, dir, dir);
    assert_int_equal(run(args), 0);
    out = slurp("out.txt");
    assert_non_null(strstr(out, "city0\tcity3\t"));
    /* the same features under a line of column names: skipped (said on stderr), same scores */
    char htext[8400] = "node,parity,x,sign\n";
    strcat(htext, text);
    write_file("feat_h.txt", htext);
    snprintf(args, sizeof args, "--load-model '%s/f.ckpt' --features '%s/feat_h.txt' --predict '%s/fpairs.txt' '%s/fring.txt'",
             dir, dir, dir, dir);
    assert_int_equal(run(args), 0);
    char *hout = slurp("out.txt"), *err = slurp("err.txt");
    assert_string_equal(hout, out);
    if (!strstr(err, "feat_h.txt: line 1 names no node and holds no number: read as column names")) fail_msg("%s", err);
    free(hout);
    free(err);
    free(out);
    snprintf(args, sizeof args, "--quiet --load-model '%s/f.ckpt' --predict '%s/fpairs.txt' '%s/fring.txt'", dir, dir, dir);
    assert_int_equal(run(args), 1);
    err = slurp("err.txt");
    assert_non_null(strstr(err, "3 node features"));
    free(err);
    /* a node without features, a bad number, a ragged row */
    write_file("feat_missing.txt", "city0 1\ncity1 2\n");
    snprintf(args, sizeof args, "--quiet --epochs 1 --features '%s/feat_missing.txt' '%s/fring.txt'", dir, dir);
    assert_int_equal(run(args), 1);
    err = slurp("err.txt");
    assert_non_null(strstr(err, "38 of 40 nodes have no features"));
    free(err);
    write_file("feat_bad.txt", "city0 1 2\ncity1 1 zz\n");
    snprintf(args, sizeof args, "--quiet --epochs 1 --features '%s/feat_bad.txt' '%s/fring.txt'", dir, dir);
    assert_int_equal(run(args), 1);
    err = slurp("err.txt");
    assert_non_null(strstr(err, "feat_bad.txt:2"));
    free(err);
    write_file("feat_huge.txt", "city0 1 2\ncity1 1e39 2\n"); /* finite as a double, not as a float */
    snprintf(args, sizeof args, "--quiet --epochs 1 --features '%s/feat_huge.txt' '%s/fring.txt'", dir, dir);
    assert_int_equal(run(args), 1);
    err = slurp("err.txt");
    assert_non_null(strstr(err, "feat_huge.txt:2: bad number '1e39'"));
    assert_int_equal(count_str(err, "feat_huge.txt"), 1); /* was "feat_huge.txt: .../feat_huge.txt:2: ..." */
    free(err);
    write_file("feat_ragged.txt", "city0 1 2\ncity1 1\n");
    snprintf(args, sizeof args, "--quiet --epochs 1 --features '%s/feat_ragged.txt' '%s/fring.txt'", dir, dir);
    assert_int_equal(run(args), 1);
    err = slurp("err.txt");
    assert_non_null(strstr(err, "feat_ragged.txt:2"));
    free(err);
}

/* The pair files of --predict and --split-file (one reader in the app; comments and blank lines:
 * test_labels_and_heuristics): numeric ids are range checked (--one-based shifts them), and a wrong
 * number of fields, an unknown label or id, an unknown part and a self-loop fail with the
 * file:line and leave no output file. Heuristic scoring only: no training. */
static void test_pair_files(void **state)
{
    (void)state;
    /* labelled pairs go with pring.txt, numeric ones with the generated network (300 nodes:
     * pn_zero's line 1 is in range with --one-based, its line 2 is not) */
    write_cities("pring.txt", 30);
    char args[2048];
    static const struct {
        const char *file, *text, *opts, *line, *what;
        bool labelled;
    } bad[] = {
        {"pp_three.txt", "city0 city3\ncity1 city2 city4\n", "--predict", ":2:", "expected two node labels", true},
        {"pp_one.txt", "city0\n", "--predict", ":1:", "expected two node labels", true},
        {"pp_label.txt", "city0 city3\n\ncity1 atlantis\n", "--predict", ":3:", "'atlantis'", true},
        {"pp_labels.txt", "source target\nsource target\n", "--predict", ":2:", "'source'", true}, /* header once */
        {"pp_self.txt", "city4 city4\n", "--predict", ":1:", "self-loop", true},
        {"pn_range.txt", "0 1\n5 300\n", "--predict", ":2:", "'300'", false},
        {"pn_zero.txt", "1 300\n0 5\n", "--one-based --predict", ":2:", "'0'", false},
        {"ps_part.txt", "train_pos city1 city2\ntrain city1 city2\n", "--split-file", ":2:", "unknown part 'train'", true},
        {"ps_two.txt", "train_pos city1 city2\ntest_pos city1\n", "--split-file", ":2:", "expected '<part> u v'", true},
        {"ps_self.txt", "# part u v\ntest_pos city3 city3\n", "--split-file", ":2:", "self-loop", true},
        {"ps_zero.txt", "train_pos 1 2\ntest_pos 0 5\n", "--one-based --split-file", ":2:", "'0'", false},
        {"pp_long.txt", "# a comment of 9000 bytes\n", "--predict", ":1:", "line longer than", true},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(bad[i].file, bad[i].text);
        if (strstr(bad[i].file, "long")) { /* the line grows to 9000 bytes (read in pieces, the rest was a new line) */
            char long_line[9100];
            memset(long_line, 'x', 9000);
            snprintf(long_line + 9000, sizeof long_line - 9000, " city1 city2\n");
            long_line[0] = '#';
            write_file(bad[i].file, long_line);
        }
        size_t len = (size_t)snprintf(args, sizeof args, "--quiet --method cn %s '%s/%s'", bad[i].opts, dir, bad[i].file);
        if (strstr(bad[i].opts, "--predict"))
            len += (size_t)snprintf(args + len, sizeof args - len, " --output '%s/never.txt'", dir);
        if (bad[i].labelled) snprintf(args + len, sizeof args - len, " '%s/pring.txt'", dir);
        assert_int_equal(run(args), 1);
        char *err = slurp("err.txt");
        char where[64];
        snprintf(where, sizeof where, "%s%s", bad[i].file, bad[i].line);
        if (!strstr(err, where) || !strstr(err, bad[i].what)) fail_msg("%s: %s", bad[i].file, err);
        free(err);
        assert_false(exists("never.txt"));
    }
    /* --one-based: the split file's ids are 1-based too (n is a node, 0 is not: above) */
    write_file("ring1.txt", "1 2\n2 3\n3 4\n4 5\n5 6\n6 1\n1 3\n4 6\n");
    write_file("ring1_split.txt", "train_pos 1 2\ntrain_pos 2 3\ntrain_pos 4 5\ntest_pos 5 6\ntest_pos 6 1\n"
                                  "train_neg 1 4\ntrain_neg 2 5\ntrain_neg 2 6\ntest_neg 3 6\ntest_neg 1 5\n");
    snprintf(args, sizeof args, "--quiet --json --method cn --val-ratio 0 --one-based --split-file '%s/ring1_split.txt' '%s/ring1.txt'",
             dir, dir);
    assert_int_equal(run(args), 0);
    char *out = slurp("out.txt");
    if (!strstr(out, "\"split\": {\"train\": 3, \"val\": 0, \"test\": 2}")) fail_msg("%s", out);
    free(out);
    /* a first line of column names (no known node, no part) is skipped, said on stderr; the
     * same split as without it */
    write_file("ring1_split_h.txt", "part,u,v\ntrain_pos 1 2\ntrain_pos 2 3\ntrain_pos 4 5\ntest_pos 5 6\n"
                                    "test_pos 6 1\ntrain_neg 1 4\ntrain_neg 2 5\ntrain_neg 2 6\ntest_neg 3 6\ntest_neg 1 5\n");
    snprintf(args, sizeof args, "--json --method cn --val-ratio 0 --one-based --split-file '%s/ring1_split_h.txt' '%s/ring1.txt'",
             dir, dir);
    assert_int_equal(run(args), 0);
    out = slurp("out.txt");
    char *err = slurp("err.txt");
    if (!strstr(out, "\"split\": {\"train\": 3, \"val\": 0, \"test\": 2}")) fail_msg("%s", out);
    if (!strstr(err, "ring1_split_h.txt: line 1 names no node and no part: read as column names and skipped"))
        fail_msg("%s", err);
    free(out);
    free(err);
    write_file("pp_header.txt", "\xEF\xBB\xBF# pairs (a byte-order mark first)\nsource,target\ncity0 city3\n");
    snprintf(args, sizeof args, "--method cn --predict '%s/pp_header.txt' '%s/pring.txt'", dir, dir);
    assert_int_equal(run(args), 0);
    out = slurp("out.txt");
    err = slurp("err.txt");
    if (strncmp(out, "city0\tcity3\t", 12) != 0 || strchr(out, '\n') != out + strlen(out) - 1) fail_msg("%s", out);
    if (!strstr(err, "pp_header.txt: line 2 names no node: read as column names and skipped")) fail_msg("%s", err);
    free(out);
    free(err);
    /* a split that contradicts the graph: a training positive that is no edge, a negative that is one */
    static const struct {
        const char *text, *what;
    } contra[] = {{"train_pos 1 2\ntrain_pos 1 4\ntest_pos 5 6\ntrain_neg 2 5\ntest_neg 3 6\n", "train_pos pair 1 4 is not an edge"},
                  {"train_pos 1 2\ntest_pos 5 6\ntrain_neg 2 5\ntest_neg 6 1\n", "test_neg pair 1 6 is an edge"}};
    for (int i = 0; i < 2; i++) {
        write_file("ring1_contra.txt", contra[i].text);
        snprintf(args, sizeof args, "--quiet --method cn --one-based --split-file '%s/ring1_contra.txt' '%s/ring1.txt'", dir, dir);
        assert_int_equal(run(args), 1);
        err = slurp("err.txt");
        if (!strstr(err, "ring1_contra.txt: ") || !strstr(err, contra[i].what)) fail_msg("%s", err);
        free(err);
    }
}

/* A bad --predict file or --for node fails before WalkPool trains (it used to fail only after
 * training, minutes later on a real graph): no epoch line on stderr, no output file. */
static void test_fails_before_training(void **state)
{
    (void)state;
    write_cities("early.txt", 30);
    write_file("early_pairs.txt", "city0 city3\ncity1 atlantis\n");
    char args[2048];
    static const char *bad[][2] = {{"--predict '%s/early_pairs.txt'", "early_pairs.txt:2: unknown node 'atlantis'"},
                                   {"--recommend 3 --for atlantis", "--for: unknown node 'atlantis'"}};
    for (int i = 0; i < 2; i++) {
        char opt[512];
        snprintf(opt, sizeof opt, bad[i][0], dir);
        snprintf(args, sizeof args, "--epochs 3 --test-ratio 0.1 %s --output '%s/never.txt' '%s/early.txt'", opt, dir, dir);
        assert_int_equal(run(args), 1);
        char *err = slurp("err.txt");
        if (!strstr(err, bad[i][1]) || strstr(err, "epoch")) fail_msg("%s: %s", bad[i][0], err);
        free(err);
        assert_false(exists("never.txt"));
    }
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
    /* malformed edge list: the path named once, the hint phrased for users (not a bare flag name) */
    write_file("bad.txt", "1 2\n2 x3\n");
    snprintf(args, sizeof args, "--quiet --one-based --split-file '%s/bad.txt' '%s/bad.txt'", dir, dir);
    assert_int_equal(run(args), 1);
    err = slurp("err.txt");
    if (count_str(err, "bad.txt") != 1 || !strstr(err, "bad.txt:2: bad number 'x3'") ||
        !strstr(err, "names that are not numbers must be read as labels"))
        fail_msg("%s", err);
    free(err);
    write_file("big.txt", "1 2\n2 99999999999\n");
    snprintf(args, sizeof args, "--quiet --one-based '%s/big.txt'", dir);
    assert_int_equal(run(args), 1);
    err = slurp("err.txt");
    if (count_str(err, "big.txt") != 1 || !strstr(err, "is above 2147483647, the largest id read without a node count"))
        fail_msg("%s", err);
    free(err);
    /* unknown node in the pairs file: error with file:line, no output file */
    write_file("badpairs.txt", "0 1\n2 nosuchnode\n");
    snprintf(args, sizeof args,
             "--quiet --load-model '%s/m.ckpt' --predict '%s/badpairs.txt' --output '%s/never.txt'", dir, dir, dir);
    assert_int_equal(run(args), 1);
    err = slurp("err.txt");
    assert_non_null(strstr(err, "badpairs.txt:2"));
    free(err);
    assert_false(exists("never.txt"));
    /* no edge left once self-loops are dropped */
    write_file("loops.txt", "a a\nb b\n");
    snprintf(args, sizeof args, "--quiet --method cn '%s/loops.txt'", dir);
    assert_int_equal(run(args), 1);
    err = slurp("err.txt");
    assert_non_null(strstr(err, "loops.txt: no edges"));
    free(err);
    /* --output: a directory fails, and so does --save-model in a missing directory, before any
     * training; a symbolic link (like /dev/stdout) is written through, not replaced by a regular
     * file */
    write_cities("oring.txt", 20);
    snprintf(args, sizeof args, "--quiet --method cn --recommend 3 --output '%s' '%s/oring.txt'", dir, dir);
    assert_int_equal(run(args), 2);
    err = slurp("err.txt");
    assert_non_null(strstr(err, "is a directory"));
    free(err);
    snprintf(args, sizeof args, "--quiet --method cn --predict '%s' '%s/oring.txt'", dir, dir); /* a directory as input */
    assert_int_equal(run(args), 1);
    err = slurp("err.txt");
    assert_non_null(strstr(err, "read error (Is a directory)"));
    free(err);
    snprintf(args, sizeof args, "--quiet --save-model '%s/nodir/m.ckpt' '%s/oring.txt'", dir, dir);
    assert_int_equal(run(args), 2);
    err = slurp("err.txt");
    assert_non_null(strstr(err, "nodir is not a writable directory"));
    free(err);
    char target[512], link[512];
    snprintf(target, sizeof target, "%s/target.txt", dir);
    snprintf(link, sizeof link, "%s/link.txt", dir);
    assert_int_equal(symlink(target, link), 0);
    snprintf(args, sizeof args, "--quiet --method cn --recommend 3 --output '%s' '%s/oring.txt'", link, dir);
    assert_int_equal(run(args), 0);
    struct stat sb;
    assert_int_equal(lstat(link, &sb), 0);
    assert_true(S_ISLNK(sb.st_mode));
    char *rec = slurp("target.txt");
    assert_non_null(rec);
    assert_non_null(strstr(rec, "1\tcity"));
    free(rec);
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

/* Contradictory or impossible options are usage errors, reported before anything is loaded
 * (--split 1 without --dataset used to fail only after loading; --test-ratio 0 gave exit 0 with
 * NaN results); a split that leaves no test pairs is an error, not a NaN table. */
static void test_option_conflicts(void **state)
{
    (void)state;
    static const struct {
        const char *args, *what;
    } bad[] = {
        {"--split 1", "--split K needs --dataset"},
        {"--dataset USAir --split 1 --test-percent 20", "--test-percent must be 10 or 50"},
        {"--test-percent 50", "--test-percent needs --split"},
        {"--dataset USAir --split 1 --test-ratio 0.2", "--test-ratio is for random splits"},
        {"--test-ratio 0", "--test-ratio must be above 0"},
        {"--test-ratio 0.5 --val-ratio 0.5", "leave no training pairs"},
        {"--seed abc", "bad value 'abc' for --seed"},
        {"--seed -1", "bad value '-1' for --seed"},
        {"--seed 1.5", "bad value '1.5' for --seed"},
        {"--hidden 0", "bad value '0' for --hidden (an integer from 1 to 4096)"},
        {"--epochs 2.5", "bad value '2.5' for --epochs (an integer from 1 to 100000)"},
        {"--epochs 0", "bad value '0' for --epochs (an integer from 1 to 100000)"},
        {"--dropout 1", "bad value '1' for --dropout (a number from 0 to 0.99)"},
        {"--save-model ''", "--save-model: empty file name"},
        {"--dataset USAir --header", "--header is for an edge list EDGES"},
        {"--no-header", "--no-header is for an edge list EDGES"},
        /* the option named is the one given (options after --resume in the table were named
         * by their neighbour: --recommend as --predict) */
        {"--recommend -1", "bad value '-1' for --recommend (an integer from 1 to 1e+09)"},
        {"--max-candidates 0", "bad value '0' for --max-candidates (an integer from 1 to 1e+12)"},
        {"--hidden 0x10", "bad value '0x10' for --hidden"},
        {"--curve /nonexistent/dir/c.tsv", "--curve /nonexistent/dir/c.tsv: /nonexistent/dir is not a writable directory"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[512];
        snprintf(args, sizeof args, "--quiet --data-dir '%s/no-such-dir' %s", dir, bad[i].args); /* never loaded */
        assert_int_equal(run(args), 2);
        char *err = slurp("err.txt");
        if (!strstr(err, bad[i].what)) fail_msg("%s: %s", bad[i].args, err);
        free(err);
    }
    /* 5 edges: a 10% test part rounds to no pair */
    write_file("five.txt", "a b\nb c\nc d\nd e\ne a\n");
    char args[512];
    snprintf(args, sizeof args, "--quiet --method cn '%s/five.txt'", dir);
    assert_int_equal(run(args), 1);
    char *err = slurp("err.txt");
    if (!strstr(err, "no test pairs")) fail_msg("%s", err);
    free(err);
    /* --test-ratio 0 is fine for --recommend: trained on every edge, the links are listed */
    write_cities("all.txt", 30);
    snprintf(args, sizeof args, "--quiet --json --epochs 1 --hidden 8 --walk-len 2 --test-ratio 0 --recommend 3 '%s/all.txt'",
             dir);
    assert_int_equal(run(args), 0);
    char *out = slurp("out.txt");
    assert_non_null(strstr(out, "\"recommendations\""));
    assert_non_null(strstr(out, "\"rank\": 3"));
    free(out);
}

/* --dataset Power / PB / Ecoli take the paper's hops / per-hop cap unless given; the app says
 * so on stderr (here before the load fails on a missing data directory). */
static void test_paper_settings(void **state)
{
    (void)state;
    static const struct {
        const char *args, *note; /* note NULL: no setting applied */
    } cases[] = {
        {"--dataset Power --split 1", "Power: 3 hops, as in the paper"},
        {"--dataset power --split 1", "power: 3 hops, as in the paper"},
        {"--dataset Power --split 1 --hops 2", NULL},
        {"--dataset PB --split 1", "PB: at most 100 new nodes per hop, as in the paper"},
        {"--dataset Ecoli", "Ecoli: at most 100 new nodes per hop"},
        {"--dataset PB --max-nodes-per-hop 0", NULL},
        {"--dataset USAir --split 1", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[512];
        snprintf(args, sizeof args, "--data-dir '%s/no-such-dir' %s", dir, cases[i].args);
        assert_int_equal(run(args), 1); /* the data directory does not exist */
        char *err = slurp("err.txt");
        if (cases[i].note ? !strstr(err, cases[i].note) : strstr(err, "as in the paper") != NULL)
            fail_msg("%s: %s", cases[i].args, err);
        free(err);
    }
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
        cmocka_unit_test(test_curve),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_recommend),
        cmocka_unit_test(test_labels_and_heuristics),
        cmocka_unit_test(test_demo_default),
        cmocka_unit_test(test_heuristic_validation_hidden),
        cmocka_unit_test(test_labelled_split),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_pair_files),
        cmocka_unit_test(test_fails_before_training),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_option_conflicts),
        cmocka_unit_test(test_paper_settings),
    };
    int rc = cmocka_run_group_tests_name("linkpred_app", tests, NULL, NULL);
    gp_finalize();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
