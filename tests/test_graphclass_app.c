/*
 * End-to-end check of gp-graphclass (suite "apps"): a 2-fold, 40-epoch run on MUTAG with top-k
 * pooling must exit 0 and its mean test accuracy must beat the majority-class rate it reports;
 * then the saved model must predict probabilities that sum to 1 for every MUTAG graph.
 * --grid: every fold reports one of the grid's configurations, and its test accuracy equals that
 * of a run with that configuration alone (same folds and seeds); bad grids are usage errors.
 * --select acc: the kept epoch has the best validation accuracy of the epochs run (ties: the
 * lowest validation loss); --select loss (default): the lowest validation loss.
 * --fold-range A-B: the folds run alone report the accuracies they have in the full run.
 * --resume FILE: a chunk logs its folds; the whole run then trains only the others and reports
 * the whole run's accuracies; a third run trains nothing; other options do not take the logged
 * folds; --final-runs accuracies come back to the digit; a corrupt line is an error naming the
 * file and line, a cut last line is ignored; --resume with --save is a usage error
 * (check_resume).
 * --blocks 0 --encoder=mlp --mlp-norm layer (the official GPN layout): trains, saves, and the
 * loaded model rebuilds the same architecture and predicts; --blocks 0 with a coarsening
 * operator and bad --encoder / --mlp-norm values are usage errors. That run uses --features all
 * (MUTAG: labels+degree), so the saved description names a combination of feature parts; a part
 * twice or one the dataset lacks is a usage error.
 * Bad --predict input (a corrupt model description, unwritable --output) fails with exit 1; bad
 * or huge numbers in options are usage errors (a --seed of 'abc' was seed 0).
 * A dataset whose graphs all have one label is an error (exit 1) naming it.
 * --save writes the model and PATH.meta both or neither (check_save_pair).
 * --preset topk-NAME sets Cangea et al.'s width and epochs, overridable (check_topk_preset).
 * --gnp-lr changes a GNP readout's training and nothing else (check_gnp_lr).
 * --eval-batch-size changes no validation or test result; 0 is a usage error (check_eval_batch).
 * --final-runs R: each fold's accuracy is the mean of its R runs; without a grid run 1 is the
 * fold's ordinary run and the others differ; with a grid the runs are fresh trainings of the
 * selected configuration (runs 2.. of it alone); bad values are usage errors (check_final_runs).
 * The app path is argv[1]; it is run with fork/exec (no shell) and its JSON output parsed here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app_run.h"

/* The i-th number of the JSON array after key, or -1. */
static double json_array_item(const char *s, const char *key, int i)
{
    const char *p = strstr(s, key);
    if (!p || !(p = strchr(p, '['))) return -1.0;
    for (p++; i > 0; i--)
        if (!(p = strchr(p, ','))) return -1.0;
        else p++;
    return atof(p);
}

/* The i-th string of the JSON array after key into buf, or "" */
static void json_array_string(char *buf, size_t size, const char *s, const char *key, int i)
{
    buf[0] = '\0';
    const char *p = strstr(s, key);
    if (!p || !(p = strchr(p, '['))) return;
    for (int k = 0; k <= i; k++) {
        if (!(p = strchr(p + 1, '"'))) return;
        const char *end = strchr(p + 1, '"');
        if (!end) return;
        if (k == i) snprintf(buf, size, "%.*s", (int)(end - p - 1), p + 1);
        p = end;
    }
}

static int check_grid(char *app)
{
    static char out[1 << 16], single[1 << 16];
    char *grid[] = {app, "--dataset", "MUTAG", "--folds", "2", "--epochs", "4", "--hidden", "16",
                    "--seed", "3", "--pool", "topk", "--grid", "lr=5e-3/5e-5", "--quiet", "--json", NULL};
    int rc = app_run(grid, false, out, sizeof out);
    if (rc != 0) return fprintf(stderr, "--grid run exited with %d\n%s\n", rc, out), 1;
    for (int f = 0; f < 2; f++) {
        char sel[64];
        json_array_string(sel, sizeof sel, out, "\"selected\"", f);
        if (strcmp(sel, "lr=5e-3") && strcmp(sel, "lr=5e-5"))
            return fprintf(stderr, "fold %d: selected '%s' is not in the grid\n%s\n", f + 1, sel, out), 1;
        char *one[] = {app, "--dataset", "MUTAG", "--folds", "2", "--epochs", "4", "--hidden", "16",
                       "--seed", "3", "--pool", "topk", "--lr", sel + 3, "--quiet", "--json", NULL};
        if ((rc = app_run(one, false, single, sizeof single)) != 0)
            return fprintf(stderr, "single run exited with %d\n", rc), 1;
        double a = json_array_item(out, "\"fold_acc\"", f), b = json_array_item(single, "\"fold_acc\"", f);
        printf("fold %d: selected %s, test accuracy %.6f (alone: %.6f)\n", f + 1, sel, a, b);
        if (a < 0 || a != b) return fprintf(stderr, "the grid run does not report the selected model\n"), 1;
    }
    const char *bad[] = {"lr=-1/5e-3", "lr", "foo=1", "hidden=3x", "lr=1/2,lr=3"};
    for (int i = 0; i < 5; i++) {
        char *argv_bad[] = {app, "--dataset", "MUTAG", "--grid", (char *)bad[i], "--quiet", NULL};
        if ((rc = app_run(argv_bad, false, out, sizeof out)) != 2)
            return fprintf(stderr, "--grid %s: exit %d, expected 2\n", bad[i], rc), 1;
    }
    /* a readout that is not one (or no operator at all) and an unknown layer, given or in the
     * grid: usage errors before loading (they used to fail in fold 1 with exit status 1); a
     * --ratio that a pool spec's own ratio= would override (it was ignored without a word) */
    const char *bad_readout[][2] = {{"--readout", "topk"}, {"--readout", "nosuch"}, {"--grid", "readout=sum/topk"},
                                    {"--layer", "nosuch"}, {"--grid", "layer=gcn/nosuch"},
                                    {"--ratio", "0.8"}, {"--grid", "ratio=0.5/0.8"}}; /* last two: a spec sets ratio= */
    for (int i = 0; i < 7; i++) {
        char *argv_bad[] = {app, "--dataset", "MUTAG", (char *)bad_readout[i][0], (char *)bad_readout[i][1],
                            i >= 5 ? "--pool" : "--quiet", i >= 5 ? "topk:ratio=0.5" : NULL, "--quiet", NULL};
        if ((rc = app_run(argv_bad, false, out, sizeof out)) != 2)
            return fprintf(stderr, "%s %s: exit %d, expected 2\n", bad_readout[i][0], bad_readout[i][1], rc), 1;
    }
    return 0;
}

/* Runs 2 folds of 12 epochs with --select sel (progress on stderr captured) and checks the
 * reported best epoch of each fold against the per-epoch validation figures printed. */
static int check_select(char *app, char *sel)
{
    static char out[1 << 16];
    char *argv[] = {app, "--dataset", "MUTAG", "--folds", "2", "--epochs", "12", "--patience", "0",
                    "--hidden", "16", "--lr", "0.005", "--val-ratio", "0.2", "--seed", "2", "--pool", "topk",
                    "--select", sel, NULL};
    int rc = app_run(argv, true, out, sizeof out);
    if (rc != 0) return fprintf(stderr, "--select %s exited with %d\n%s\n", sel, rc, out), 1;
    bool by_acc = !strcmp(sel, "acc");
    for (int f = 1; f <= 2; f++) {
        double loss[13], acc[13];
        int seen = 0, best = -1;
        for (const char *p = out; (p = strstr(p, " fold ")); p++) {
            int ff, ep, b, n;
            double tl, vl, va;
            if (sscanf(p, " fold %d epoch %d train_loss %lf val_loss %lf val_acc %lf", &ff, &ep, &tl, &vl, &va) == 5) {
                if (ff == f && ep >= 1 && ep <= 12) loss[ep] = vl, acc[ep] = va, seen++;
            } else if (sscanf(p, " fold %d: test_acc %*f (best epoch %d of %d", &ff, &b, &n) == 3 && ff == f) {
                best = b;
            }
        }
        if (seen != 12 || best < 1 || best > 12)
            return fprintf(stderr, "fold %d: %d epochs parsed, best epoch %d\n%s\n", f, seen, best, out), 1;
        for (int ep = 1; ep <= 12; ep++) { /* printed to 4 decimals: compare with that slack */
            bool beats = by_acc ? acc[ep] > acc[best] + 1e-4 ||
                                      (fabs(acc[ep] - acc[best]) < 1e-4 && loss[ep] < loss[best] - 1e-4)
                                : loss[ep] < loss[best] - 1e-4;
            if (beats)
                return fprintf(stderr, "--select %s, fold %d: epoch %d (loss %.4f acc %.4f) beats the kept "
                                       "epoch %d (loss %.4f acc %.4f)\n", sel, f, ep, loss[ep], acc[ep], best,
                               loss[best], acc[best]), 1;
        }
        printf("--select %s, fold %d: kept epoch %d (val loss %.4f, val acc %.4f)\n", sel, f, best, loss[best],
               acc[best]);
    }
    return 0;
}

/* 3 folds run whole, then folds 2-3 and fold 3 alone: the same accuracy per fold */
static int check_fold_range(char *app)
{
    static char whole[1 << 16], part[1 << 16];
    char *argv_whole[] = {app, "--dataset", "MUTAG", "--folds", "3", "--epochs", "4", "--hidden", "16",
                          "--seed", "5", "--pool", "topk", "--quiet", "--json", NULL};
    int rc = app_run(argv_whole, false, whole, sizeof whole);
    if (rc != 0) return fprintf(stderr, "3-fold run exited with %d\n%s\n", rc, whole), 1;
    const char *ranges[] = {"2-3", "3"};
    for (int i = 0; i < 2; i++) {
        char *argv_part[] = {app, "--dataset", "MUTAG", "--folds", "3", "--epochs", "4", "--hidden", "16",
                             "--seed", "5", "--pool", "topk", "--quiet", "--json", "--fold-range",
                             (char *)ranges[i], NULL};
        if ((rc = app_run(argv_part, false, part, sizeof part)) != 0)
            return fprintf(stderr, "--fold-range %s exited with %d\n%s\n", ranges[i], rc, part), 1;
        int first = ranges[i][0] - '0';
        for (int f = first; f <= 3; f++) {
            double a = json_array_item(whole, "\"fold_acc\"", f - 1);
            double b = json_array_item(part, "\"fold_acc\"", f - first);
            double id = json_array_item(part, "\"fold_ids\"", f - first);
            printf("--fold-range %s: fold %d accuracy %.6f (whole run: %.6f)\n", ranges[i], (int)id, b, a);
            if (a < 0 || a != b || id != f)
                return fprintf(stderr, "--fold-range %s: fold %d differs from the whole run\n%s\n", ranges[i], f,
                               part), 1;
        }
    }
    const char *bad[] = {"0-1", "3-2", "x", "2-", "2-4"};
    for (int i = 0; i < 5; i++) {
        char *argv_bad[] = {app, "--dataset", "MUTAG", "--folds", "3", "--fold-range", (char *)bad[i], "--quiet", NULL};
        rc = app_run(argv_bad, true, part, sizeof part);
        if (rc == 0 || !strstr(part, "--fold-range"))
            return fprintf(stderr, "--fold-range %s: exit %d, expected an error\n%s\n", bad[i], rc, part), 1;
    }
    return 0;
}

static int count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    int n = 0, ch;
    if (!f) return -1;
    while ((ch = fgetc(f)) != EOF) n += ch == '\n';
    fclose(f);
    return n;
}

/* The text of out from key to the first "]]" (the --final-runs array), into buf. */
static void run_acc_text(char *buf, size_t size, const char *out)
{
    const char *p = strstr(out, "\"run_acc\""), *e = p ? strstr(p, "]]") : NULL;
    snprintf(buf, size, "%.*s", p && e ? (int)(e - p) : 0, p ? p : "");
}

static int check_resume(char *app)
{
    static char whole[1 << 16], out[1 << 16];
    char log[] = "/tmp/gp_graphclass_resume_XXXXXX";
    int fd = mkstemp(log);
    if (fd < 0) return 1;
    close(fd);
    remove(log); /* a missing log is an empty one */
#define RUN_ARGS app, "--dataset", "MUTAG", "--folds", "3", "--epochs", "4", "--hidden", "16", "--seed", "5", "--json"
    char *argv_whole[] = {RUN_ARGS, "--quiet", NULL};
    char *argv_chunk[] = {RUN_ARGS, "--quiet", "--fold-range", "2-3", "--resume", log, NULL};
    char *argv_resume[] = {RUN_ARGS, "--resume", log, NULL};
    char *argv_other[] = {RUN_ARGS, "--lr", "0.001", "--max-folds", "1", "--resume", log, NULL};
    char *argv_save[] = {RUN_ARGS, "--resume", log, "--save", log, NULL};
    int rc = app_run(argv_whole, false, whole, sizeof whole), bad = 0;
    if (rc != 0) return fprintf(stderr, "3-fold run exited with %d\n%s\n", rc, whole), 1;
    if ((rc = app_run(argv_chunk, false, out, sizeof out)) != 0 || count_lines(log) != 2)
        bad = fprintf(stderr, "--fold-range 2-3 --resume: exit %d, %d lines logged\n%s\n", rc, count_lines(log), out);
    for (int round = 1; round <= 2 && !bad; round++) { /* trains fold 1, then nothing */
        if ((rc = app_run(argv_resume, true, out, sizeof out)) != 0) {
            bad = fprintf(stderr, "--resume, round %d: exit %d\n%s\n", round, rc, out);
            break;
        }
        const char *json = strstr(out, "{\"dataset\"");
        for (int f = 0; f < 3 && json; f++) {
            double a = json_array_item(whole, "\"fold_acc\"", f), b = json_array_item(json, "\"fold_acc\"", f);
            printf("--resume, round %d: fold %d accuracy %.6f (whole run: %.6f)\n", round, f + 1, b, a);
            if (a < 0 || a != b) bad = fprintf(stderr, "--resume: fold %d differs from the whole run\n", f + 1);
        }
        bool trained = strstr(out, "topk fold 1 epoch") != NULL;
        if (!json || trained != (round == 1) || !strstr(out, round == 1 ? "2 of 3 fold" : "3 of 3 fold") ||
            count_lines(log) != 3)
            bad = fprintf(stderr, "--resume, round %d: wrong folds trained or logged\n%s\n", round, out);
    }
    if (!bad && ((rc = app_run(argv_other, true, out, sizeof out)) != 0 || !strstr(out, "0 of 1 fold run(s) logged (3 line") ||
                 !strstr(out, "topk fold 1 epoch")))
        bad = fprintf(stderr, "--resume with other options: exit %d, expected a fresh fold 1\n%s\n", rc, out);
    if (!bad && (rc = app_run(argv_save, true, out, sizeof out)) != 2)
        bad = fprintf(stderr, "--resume with --save: exit %d, expected 2\n%s\n", rc, out);
    /* --final-runs: the logged runs come back with every digit the output shows */
    static char first[1 << 16];
    char a[4096], b[4096];
    char *argv_runs[] = {RUN_ARGS, "--quiet", "--max-folds", "1", "--final-runs", "2", "--resume", log, NULL};
    if (!bad && ((rc = app_run(argv_runs, false, first, sizeof first)) != 0 ||
                 (rc = app_run(argv_runs, false, out, sizeof out)) != 0))
        bad = fprintf(stderr, "--final-runs 2 --resume: exit %d\n", rc);
    run_acc_text(a, sizeof a, first);
    run_acc_text(b, sizeof b, out);
    if (!bad && (!a[0] || strcmp(a, b) != 0 || count_lines(log) != 5))
        bad = fprintf(stderr, "--final-runs 2 --resume: '%s' then '%s'\n", a, b);
    /* a corrupt line (here the second) is an error naming file and line; a last line cut short
     * (a writer stopped mid-line) is ignored */
    FILE *f = fopen(log, "a");
    if (f) fputs("{\"key\": \"cut", f), fclose(f);
    if (!bad && (rc = app_run(argv_resume, true, out, sizeof out)) != 0)
        bad = fprintf(stderr, "--resume with a cut last line: exit %d\n%s\n", rc, out);
    char expect[256];
    snprintf(expect, sizeof expect, "%s:2: not a fold log line", log);
    static char line1[1 << 14];
    line1[0] = '\0';
    if ((f = fopen(log, "r"))) {
        if (!fgets(line1, sizeof line1, f)) line1[0] = '\0';
        fclose(f);
    }
    if ((f = fopen(log, "w"))) fprintf(f, "%s{\"key\": \"x\", \"pool\": \"topk\", \"fold\": 1}\n\n", line1), fclose(f);
    if (!bad && ((rc = app_run(argv_resume, true, out, sizeof out)) != 1 || !strstr(out, expect)))
        bad = fprintf(stderr, "--resume with a corrupt line: exit %d, expected 1 and '%s'\n%s\n", rc, expect, out);
#undef RUN_ARGS
    remove(log);
    return bad != 0;
}

/* --preset topk-NAME: the run trains every epoch of the preset (20 for DD: "best epoch N of 20")
 * with its width (the saved description says hidden 64), options after it override it (--hidden
 * 16), and --preset topk on a dataset without a preset is a usage error naming the choices. */
static int check_topk_preset(char *app)
{
    static char out[1 << 16];
    char model[] = "/tmp/gp_graphclass_tp_XXXXXX";
    int mfd = mkstemp(model);
    if (mfd < 0) return 1;
    close(mfd);
    char meta[512];
    snprintf(meta, sizeof meta, "%s.meta", model);
    const char *widths[2] = {NULL, "16"};
    for (int v = 0; v < 2; v++) {
        char *train[] = {app, "--dataset", "MUTAG", "--preset", "topk-DD", "--folds", "2", "--max-folds", "1",
                         "--save", model, v ? "--hidden" : NULL, (char *)widths[v], NULL};
        int rc = app_run(train, true, out, sizeof out);
        char want[64], line[256];
        bool epochs_ok = strstr(out, "of 20,") != NULL, hidden_ok = false;
        snprintf(want, sizeof want, "hidden %s\n", v ? "16" : "64");
        FILE *f = fopen(meta, "r");
        while (f && fgets(line, sizeof line, f)) hidden_ok |= !strcmp(line, want);
        if (f) fclose(f);
        remove(model), remove(meta);
        if (rc != 0 || !epochs_ok || !hidden_ok)
            return fprintf(stderr, "--preset topk-DD%s: exit %d, 20 epochs %d, %s%d\n%s\n", v ? " --hidden 16" : "",
                           rc, epochs_ok, want, hidden_ok, out), 1;
    }
    char *none[] = {app, "--dataset", "MUTAG", "--preset", "topk", NULL};
    int rc = app_run(none, true, out, sizeof out);
    if (rc != 2 || !strstr(out, "no top-k preset for 'MUTAG'"))
        return fprintf(stderr, "--preset topk on MUTAG: exit %d, expected 2\n%s\n", rc, out), 1;
    printf("--preset topk-DD: 20 epochs, width 64 (16 with --hidden 16); none for MUTAG\n");
    return 0;
}

/* The epoch-3 training loss of a 2-fold, 3-epoch MUTAG run with --pool POOL [--gnp-lr LR]. */
static double epoch3_loss(char *app, const char *pool, const char *gnp_lr)
{
    static char out[1 << 16];
    char *argv_run[] = {app, "--dataset", "MUTAG", "--pool", (char *)pool, "--folds", "2", "--max-folds", "1",
                        "--epochs", "3", "--patience", "0", gnp_lr ? "--gnp-lr" : NULL, (char *)gnp_lr, NULL};
    if (app_run(argv_run, true, out, sizeof out) != 0) return -1.0;
    const char *p = strstr(out, "epoch   3  train_loss ");
    return p ? atof(p + strlen("epoch   3  train_loss ")) : -1.0;
}

/* --gnp-lr moves GNP's p and q to their own optimiser: it changes a GNP readout's training and
 * leaves a model without GNP bit for bit alone; a negative rate is a usage error. */
static int check_gnp_lr(char *app)
{
    double g0 = epoch3_loss(app, "gnp", NULL), g1 = epoch3_loss(app, "gnp", "0.2");
    double m0 = epoch3_loss(app, "mean", NULL), m1 = epoch3_loss(app, "mean", "0.2");
    if (g0 < 0 || g1 < 0 || m0 < 0 || m1 < 0 || g0 == g1 || m0 != m1)
        return fprintf(stderr, "--gnp-lr: epoch-3 losses gnp %g / %g (should differ), mean %g / %g (should not)\n",
                       g0, g1, m0, m1), 1;
    static char out[1 << 12];
    char *neg[] = {app, "--dataset", "MUTAG", "--pool", "gnp", "--gnp-lr", "-1", "--quiet", NULL};
    int rc = app_run(neg, false, out, sizeof out);
    if (rc != 2) return fprintf(stderr, "--gnp-lr -1: exit %d, expected 2\n", rc), 1;
    printf("--gnp-lr 0.2: GNP epoch-3 loss %.4f (%.4f without), mean readout unchanged (%.4f)\n", g1, g0, m1);
    return 0;
}

/* --eval-batch-size only changes how many graphs are scored at once: the validation lines of
 * every epoch (loss and accuracy) and the test accuracies are those of the default (256). */
static int check_eval_batch(char *app)
{
    static char out[1 << 16], sig[2][1 << 14];
    const char *sizes[2] = {"256", "7"};
    const char *keys[] = {"val_loss ", "val_acc ", "test_acc ", "\"fold_acc\": ["};
    for (int k = 0; k < 2; k++) {
        char *argv_run[] = {app, "--dataset", "MUTAG", "--folds", "2", "--epochs", "4", "--patience", "0",
                            "--hidden", "16", "--eval-batch-size", (char *)sizes[k], "--json", NULL};
        if (app_run(argv_run, true, out, sizeof out) != 0)
            return fprintf(stderr, "--eval-batch-size %s failed\n%s\n", sizes[k], out), 1;
        /* the signature: every validation loss and accuracy, test accuracy and fold accuracy list */
        size_t n = 0;
        for (const char *q = out; *q; q++)
            for (int j = 0; j < 4; j++) {
                size_t len = strlen(keys[j]);
                if (strncmp(q, keys[j], len) != 0) continue;
                const char *v = q + len; /* a number, or the list up to its ']' */
                while (*v && (j == 3 ? *v != ']' : (*v == '.' || (*v >= '0' && *v <= '9'))) && n + 2 < sizeof sig[k])
                    sig[k][n++] = *v++;
                sig[k][n++] = '|';
            }
        sig[k][n] = '\0';
    }
    if (strlen(sig[0]) < 40 || strcmp(sig[0], sig[1]) != 0)
        return fprintf(stderr, "--eval-batch-size 7 changed the results:\n%s\n%s\n", sig[0], sig[1]), 1;
    static char err[1 << 12];
    char *bad[] = {app, "--dataset", "MUTAG", "--eval-batch-size", "0", "--quiet", NULL};
    int rc = app_run(bad, false, err, sizeof err);
    if (rc != 2) return fprintf(stderr, "--eval-batch-size 0: exit %d, expected 2\n", rc), 1;
    printf("--eval-batch-size 7: the same validation and test results as 256 (%s)\n", sig[1]);
    return 0;
}

/* The j-th number of the i-th inner array of the JSON array of arrays after key, or -1. */
static double json_nested_item(const char *s, const char *key, int i, int j)
{
    const char *p = strstr(s, key);
    if (!p || !(p = strchr(p, '['))) return -1.0;
    for (int k = 0; k <= i; k++)
        if (!(p = strchr(p + 1, '['))) return -1.0;
    for (p++; j > 0; j--) { /* the next comma, if it comes before the inner array's end */
        const char *comma = strchr(p, ','), *end = strchr(p, ']');
        if (!comma || !end || end < comma) return -1.0;
        p = comma + 1;
    }
    return atof(p);
}

static int check_final_runs(char *app)
{
    static char one[1 << 14], three[1 << 14], grid[1 << 14], alone_out[1 << 14];
    char *a1[] = {app, "--dataset", "MUTAG", "--folds", "2", "--epochs", "4", "--hidden", "16", "--seed", "3",
                  "--pool", "topk", "--quiet", "--json", NULL};
    char *a3[] = {app, "--dataset", "MUTAG", "--folds", "2", "--epochs", "4", "--hidden", "16", "--seed", "3",
                  "--pool", "topk", "--final-runs", "3", "--quiet", "--json", NULL};
    char *ag[] = {app, "--dataset", "MUTAG", "--folds", "2", "--epochs", "4", "--hidden", "16", "--seed", "3",
                  "--pool", "topk", "--final-runs", "2", "--grid", "lr=5e-3/5e-5", "--quiet", "--json", NULL};
    int rc;
    if ((rc = app_run(a1, false, one, sizeof one)) != 0 || (rc = app_run(a3, false, three, sizeof three)) != 0 ||
        (rc = app_run(ag, false, grid, sizeof grid)) != 0)
        return fprintf(stderr, "--final-runs: a run exited with %d\n", rc), 1;
    bool differ = false;
    for (int f = 0; f < 2; f++) {
        double r[3], mean = 0;
        for (int k = 0; k < 3; k++) mean += (r[k] = json_nested_item(three, "\"run_acc\"", f, k)) / 3;
        double acc = json_array_item(three, "\"fold_acc\"", f), base = json_array_item(one, "\"fold_acc\"", f);
        printf("--final-runs 3, fold %d: runs %.4f %.4f %.4f, fold accuracy %.4f (single run %.4f)\n", f + 1,
               r[0], r[1], r[2], acc, base);
        if (r[0] < 0 || r[1] < 0 || r[2] < 0 || fabs(acc - mean) > 2e-6 || r[0] != base)
            return fprintf(stderr, "--final-runs 3: fold %d is not the mean of its runs, or run 1 is not the "
                                   "fold's ordinary run\n%s\n", f + 1, three), 1;
        differ = differ || r[1] != r[0] || r[2] != r[0];
        double g0 = json_nested_item(grid, "\"run_acc\"", f, 0), g1 = json_nested_item(grid, "\"run_acc\"", f, 1);
        double ga = json_array_item(grid, "\"fold_acc\"", f);
        if (g0 < 0 || g1 < 0 || fabs(ga - (g0 + g1) / 2) > 2e-6)
            return fprintf(stderr, "--final-runs 2 --grid: fold %d is not the mean of its runs\n%s\n", f + 1, grid), 1;
        /* with a grid the runs are fresh: the selected configuration alone, runs 2 and 3 */
        char sel[64];
        json_array_string(sel, sizeof sel, grid, "\"selected\"", f);
        char *alone[] = {app, "--dataset", "MUTAG", "--folds", "2", "--epochs", "4", "--hidden", "16",
                         "--seed", "3", "--pool", "topk", "--lr", sel + 3, "--final-runs", "3", "--quiet",
                         "--json", NULL};
        if (strncmp(sel, "lr=", 3) != 0 || (rc = app_run(alone, false, alone_out, sizeof alone_out)) != 0)
            return fprintf(stderr, "--final-runs 2 --grid: selected '%s', its run alone exited with %d\n", sel, rc), 1;
        double s2 = json_nested_item(alone_out, "\"run_acc\"", f, 1), s3 = json_nested_item(alone_out, "\"run_acc\"", f, 2);
        if (g0 != s2 || g1 != s3)
            return fprintf(stderr, "--final-runs 2 --grid, fold %d: runs %.6f %.6f are not the fresh runs %.6f %.6f "
                                   "of %s alone\n", f + 1, g0, g1, s2, s3, sel), 1;
    }
    if (!differ) return fprintf(stderr, "--final-runs 3: the extra runs repeat run 1 (same seed?)\n%s\n", three), 1;
    const char *bad[] = {"0", "17", "abc"};
    for (int i = 0; i < 3; i++) {
        char *b[] = {app, "--dataset", "MUTAG", "--final-runs", (char *)bad[i], "--quiet", NULL};
        if ((rc = app_run(b, false, one, sizeof one)) != 2)
            return fprintf(stderr, "--final-runs %s: exit %d, expected 2\n", bad[i], rc), 1;
    }
    return 0;
}

static int check_blocks0(char *app)
{
    static char out[1 << 20];
    char model[] = "/tmp/gp_graphclass_b0_XXXXXX";
    int mfd = mkstemp(model);
    if (mfd < 0) return 1;
    close(mfd);
    char *train[] = {app, "--dataset", "MUTAG", "--preset", "gpn-PROTEINS", "--blocks", "0", "--encoder=mlp",
                     "--mlp-norm", "layer", "--hidden", "16", "--mlp", "16", "--folds", "2", "--max-folds", "1",
                     "--epochs", "3", "--patience", "0", "--features", "all", "--quiet", "--json", "--save", model,
                     NULL};
    int rc = app_run(train, false, out, sizeof out);
    char meta[512];
    snprintf(meta, sizeof meta, "%s.meta", model);
    if (rc != 0 || !strstr(out, "\"features\": \"labels+degree\"")) {
        remove(model), remove(meta);
        return fprintf(stderr, "--blocks 0 --features all run exited with %d (MUTAG: labels+degree)\n%s\n", rc, out), 1;
    }
    char *pred[] = {app, "--load", model, "--predict", "MUTAG", NULL};
    rc = app_run(pred, false, out, sizeof out);
    remove(model);
    remove(meta);
    if (rc != 0) return fprintf(stderr, "--blocks 0 model: --predict exited with %d\n%s\n", rc, out), 1;
    int lines = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        double p0, p1;
        if (lines++ == 0) continue;
        if (sscanf(line, "%*d %*d %lf %lf", &p0, &p1) != 2 || fabs(p0 + p1 - 1) > 1e-3)
            return fprintf(stderr, "--blocks 0 model: bad prediction line %s\n", line), 1;
    }
    if (lines != 189) return fprintf(stderr, "--blocks 0 model: %d predictions\n", lines - 1), 1;
    printf("--blocks 0 --encoder=mlp --mlp-norm layer --features all: saved, loaded, 188 predictions\n");
    char *bad[][8] = {{app, "--dataset", "MUTAG", "--blocks", "0", "--pool", "topk", NULL},
                      {app, "--dataset", "MUTAG", "--encoder=deep", NULL},
                      {app, "--dataset", "MUTAG", "--mlp-norm", "batchy", NULL},
                      {app, "--dataset", "MUTAG", "--features", "labels+labels", NULL},
                      {app, "--dataset", "MUTAG", "--features", "labels+attr", NULL}}; /* MUTAG: no attributes */
    for (int i = 0; i < 5; i++)
        if ((rc = app_run(bad[i], false, out, sizeof out)) != 2)
            return fprintf(stderr, "bad option set %d: exit %d, expected 2\n", i, rc), 1;
    return 0;
}

/* --predict with bad input: a model description with out-of-range settings (blocks beyond the
 * model's fixed arrays) is refused, --output in a missing directory or on a full device fails
 * with exit 1 and leaves no file. The saved model of main is at model. */
static int check_bad_predict(char *app, const char *model)
{
    static char out[1 << 16];
    char meta[512], bad[512], bad_meta[512], missing[512];
    snprintf(meta, sizeof meta, "%s.meta", model);
    snprintf(bad, sizeof bad, "%s.bad", model);
    snprintf(bad_meta, sizeof bad_meta, "%s.bad.meta", model);
    FILE *in = fopen(meta, "r"), *o = fopen(bad_meta, "w");
    if (!in || !o) return fprintf(stderr, "cannot copy %s\n", meta), 1;
    char line[1 << 16];
    while (fgets(line, sizeof line, in)) fputs(strncmp(line, "blocks ", 7) ? line : "blocks 20\n", o);
    fclose(in);
    fclose(o);
    char *argv_meta[] = {app, "--load", bad, "--predict", "MUTAG", NULL};
    int rc = app_run(argv_meta, true, out, sizeof out);
    remove(bad_meta);
    if (rc != 1 || !strstr(out, "bad model settings"))
        return fprintf(stderr, "blocks 20 in the model description: exit %d\n%s\n", rc, out), 1;
    snprintf(missing, sizeof missing, "%s.nodir/pred.txt", model);
    char *argv_dir[] = {app, "--load", (char *)model, "--predict", "MUTAG", "--output", missing, NULL};
    rc = app_run(argv_dir, true, out, sizeof out);
    if (rc != 2 || !strstr(out, "is not a writable directory") || access(missing, F_OK) == 0) /* checked first */
        return fprintf(stderr, "--output %s: exit %d\n%s\n", missing, rc, out), 1;
    if (access("/dev/full", W_OK) == 0) { /* writes fail with ENOSPC */
        char *argv_full[] = {app, "--load", (char *)model, "--predict", "MUTAG", "--output", "/dev/full", NULL};
        rc = app_run(argv_full, true, out, sizeof out);
        if (rc != 1 || !strstr(out, "cannot write /dev/full"))
            return fprintf(stderr, "--output /dev/full: exit %d\n%s\n", rc, out), 1;
    }
    return 0;
}

/* A tiny TU dataset T in dir (6 graphs of 3 nodes, graph labels as given); 0 or 1. */
static int write_tiny_tu(const char *dir, const char *graph_labels)
{
    char path[320];
    const char *const files[][2] = {
        {"T_A.txt", "1, 2\n2, 1\n4, 5\n5, 4\n5, 6\n6, 5\n7, 8\n8, 7\n10, 11\n11, 10\n11, 12\n12, 11\n"
                    "13, 14\n14, 13\n16, 17\n17, 16\n17, 18\n18, 17\n"},
        {"T_graph_indicator.txt", "1\n1\n1\n2\n2\n2\n3\n3\n3\n4\n4\n4\n5\n5\n5\n6\n6\n6\n"},
        {"T_graph_labels.txt", graph_labels}};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
        FILE *f = fopen(path, "w");
        if (!f) return 1;
        fputs(files[i][1], f);
        fclose(f);
    }
    return 0;
}

/* --json with a TU folder whose name holds a quote: the output stays valid JSON (the name
 * escaped). A tiny dataset (6 graphs of 3 nodes) is written to a temporary folder. */
static int check_json_name(char *app)
{
    static char out[1 << 16];
    char top[] = "/tmp/gp_graphclass_json_XXXXXX", dir[256];
    if (!mkdtemp(top)) return 1;
    snprintf(dir, sizeof dir, "%s/a\"b", top);
    mkdir(dir, 0777);
    snprintf(dir, sizeof dir, "%s/a\"b/T", top); /* the folder's name is the dataset's: T */
    mkdir(dir, 0777);
    if (write_tiny_tu(dir, "0\n1\n0\n1\n0\n1\n")) return 1;
    char *argv_json[] = {app, "--dataset", dir, "--folds", "2", "--epochs", "1", "--hidden", "4", "--blocks", "1",
                         "--mlp", "4", "--batch-size", "2", "--quiet", "--json", NULL};
    int rc = app_run(argv_json, false, out, sizeof out);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", top);
    if (rc != 0 || !strstr(out, "a\\\"b/T\", \"graphs\": 6"))
        return fprintf(stderr, "--json with a quote in the folder name: exit %d\n%s\n", rc, out), 1;
    return 0;
}

/* A dataset whose graphs all have one label: an error naming it (it ran and reported accuracy 1). */
static int check_single_class(char *app)
{
    static char out[1 << 16];
    char dir[] = "/tmp/gp_graphclass_one_XXXXXX", ds[256];
    if (!mkdtemp(dir)) return 1;
    snprintf(ds, sizeof ds, "%s/T", dir);
    mkdir(ds, 0777);
    int bad = write_tiny_tu(ds, "3\n3\n3\n3\n3\n3\n");
    char *argv_one[] = {app, "--dataset", ds, "--folds", "2", "--epochs", "1", "--hidden", "4", "--blocks", "1",
                        "--mlp", "4", "--batch-size", "2", "--quiet", NULL};
    int rc = bad ? -1 : app_run(argv_one, true, out, sizeof out);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    if (rc != 1 || !strstr(out, "/T: all 6 graphs have the same label (3)"))
        return fprintf(stderr, "single-class dataset: exit %d, expected 1\n%s\n", rc, out), 1;
    return 0;
}

/* --save PATH writes PATH and PATH.meta both or neither: PATH.meta a dangling symbolic link (its
 * write fails after training) leaves no PATH (the model used to stay behind without its
 * description); PATH.meta a directory is refused before training; a good save loads. */
static int check_save_pair(char *app)
{
    static char out[1 << 16];
    char dir[] = "/tmp/gp_graphclass_save_XXXXXX", ds[256], model[256], meta[300], cmd[300];
    if (!mkdtemp(dir)) return 1;
    snprintf(ds, sizeof ds, "%s/T", dir);
    mkdir(ds, 0777);
    snprintf(model, sizeof model, "%s/m", dir);
    snprintf(meta, sizeof meta, "%s/m.meta", dir);
    char *argv_save[] = {app, "--dataset", ds, "--folds", "2", "--max-folds", "1", "--epochs", "1", "--hidden", "4",
                         "--blocks", "1", "--mlp", "4", "--batch-size", "2", "--quiet", "--save", model, NULL};
    int bad = write_tiny_tu(ds, "0\n1\n0\n1\n0\n1\n"), rc = -1;
    char target[300];
    snprintf(target, sizeof target, "%s/nodir/meta", dir);
    if (!bad && (symlink(target, meta) != 0 || (rc = app_run(argv_save, true, out, sizeof out)) != 1 ||
                 access(model, F_OK) == 0 || !strstr(out, "m.meta (No such file or directory)"))) {
        fprintf(stderr, "--save with an unwritable PATH.meta: a model file left, or no error\n%s\n", out);
        bad = 1;
    }
    remove(meta);
    if (!bad && (mkdir(meta, 0777) != 0 || (rc = app_run(argv_save, true, out, sizeof out)) != 2 ||
                 !strstr(out, "m.meta is a directory") || access(model, F_OK) == 0)) {
        fprintf(stderr, "--save with a directory PATH.meta: exit %d, expected 2\n%s\n", rc, out);
        bad = 1;
    }
    rmdir(meta);
    char *argv_pred[] = {app, "--load", model, "--predict", ds, NULL};
    if (!bad && ((rc = app_run(argv_save, true, out, sizeof out)) != 0 || access(meta, F_OK) != 0 ||
                 (rc = app_run(argv_pred, false, out, sizeof out)) != 0 || !strstr(out, "p_1"))) {
        fprintf(stderr, "--save, then --load --predict: exit %d\n%s\n", rc, out);
        bad = 1;
    }
    /* --save after a --grid over a string setting: the file records the selected readout (the
     * option pointed into a dead copy of the options, which the sanitized build reported) */
    char *argv_grid[] = {app, "--dataset", "MUTAG", "--folds", "2", "--max-folds", "1", "--epochs", "1", "--hidden",
                         "8", "--mlp", "8", "--grid", "readout=sum/max", "--save", model, NULL};
    if (!bad && (rc = app_run(argv_grid, false, out, sizeof out)) == 0) {
        const char *sel = strstr(out, "fold1 readout=");
        char want[64] = "", line[256];
        if (sel) snprintf(want, sizeof want, "readout %.3s\n", sel + strlen("fold1 readout="));
        FILE *mf = fopen(meta, "r");
        bool found = false;
        while (mf && fgets(line, sizeof line, mf)) found |= want[0] && strcmp(line, want) == 0;
        if (mf) fclose(mf);
        char *argv_pred_mutag[] = {app, "--load", model, "--predict", "MUTAG", NULL};
        if (!found || (rc = app_run(argv_pred_mutag, false, out, sizeof out)) != 0) {
            fprintf(stderr, "--grid readout=sum/max --save: '%s' not in %s, or --predict exit %d\n", want, meta, rc);
            bad = 1;
        }
    } else if (!bad) {
        fprintf(stderr, "--grid readout=sum/max --save: exit %d\n%s\n", rc, out);
        bad = 1;
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return bad;
}

/* The dataset as the one argument (gp-graphclass MUTAG ...) runs exactly as --dataset MUTAG;
 * two datasets, both forms, no dataset and --predict without --load are usage errors that say
 * which (no dataset printed the whole usage). Progress lines give the time left after every
 * fold run but the last. */
static int check_positional(char *app)
{
    static char a[1 << 16], b[1 << 16];
    char *with_opt[] = {app, "--dataset", "MUTAG", "--folds", "2", "--max-folds", "1", "--epochs", "2", "--hidden",
                        "8", "--mlp", "8", "--quiet", "--json", NULL};
    char *positional[] = {app, "--folds", "2", "--max-folds", "1", "MUTAG", "--epochs", "2", "--hidden", "8", "--mlp",
                          "8", "--quiet", "--json", NULL};
    int rc1 = app_run(with_opt, false, a, sizeof a), rc2 = app_run(positional, false, b, sizeof b);
    char *ta = strstr(a, "\"folds\""), *tb = strstr(b, "\"folds\""); /* past the timing-free head */
    if (rc1 != 0 || rc2 != 0 || !ta || !tb || app_json_number(a, "\"mean\"") != app_json_number(b, "\"mean\"") ||
        !strstr(b, "\"dataset\": \"MUTAG\""))
        return fprintf(stderr, "positional dataset: exit %d / %d\n%s\n%s\n", rc1, rc2, a, b), 1;
    const struct {
        char *args[4];
        const char *what;
    } bad[] = {{{"MUTAG", "PROTEINS", NULL}, "unexpected argument 'PROTEINS': one dataset at most"},
               {{"--dataset", "MUTAG", "MUTAG", NULL}, "unexpected argument 'MUTAG': give it or --dataset, not both"},
               {{"--quiet", NULL}, "no dataset: give --dataset NAME|DIR"},
               {{"--predict", "MUTAG", NULL}, "--predict DIR needs --load PATH"}};
    /* progress: the time left after every fold run but the last */
    char *progress[] = {app, "MUTAG", "--folds", "2", "--epochs", "1", "--hidden", "8", "--mlp", "8", NULL};
    int rc = app_run(progress, true, a, sizeof a);
    char *f1 = strstr(a, "topk fold 1: "), *f2 = strstr(a, "topk fold 2: ");
    if (rc != 0 || !f1 || !f2 || !strstr(f1, "); 1 fold run left, ~") || strstr(f1, "left") > f2 ||
        strstr(f2, "left"))
        return fprintf(stderr, "progress lines: exit %d\n%s\n", rc, a), 1;
    for (int i = 0; i < 4; i++) {
        char *argv_bad[6] = {app};
        for (int j = 0; j < 4 && bad[i].args[j]; j++) argv_bad[j + 1] = bad[i].args[j];
        rc = app_run(argv_bad, true, a, sizeof a);
        if (rc != 2 || !strstr(a, bad[i].what) || strstr(a, "usage:"))
            return fprintf(stderr, "case %d: exit %d, expected 2 and '%s'\n%s\n", i, rc, bad[i].what, a), 1;
    }
    return 0;
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
    int rc = app_run(train, false, out, sizeof out);
    if (rc != 0) {
        fprintf(stderr, "gp-graphclass exited with %d\n%s\n", rc, out);
        return 1;
    }
    double mean = app_json_number(out, "\"mean\""), majority = app_json_number(out, "\"majority_rate\"");
    printf("mean accuracy %.4f, majority rate %.4f\n", mean, majority);
    if (!(majority > 0.5 && mean > majority)) {
        fprintf(stderr, "accuracy does not beat the majority class\n%s\n", out);
        return 1;
    }
    char *pred[] = {argv[1], "--load", model, "--predict", "MUTAG", NULL};
    rc = app_run(pred, false, out, sizeof out);
    if (rc == 0 && check_bad_predict(argv[1], model)) rc = 1;
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
    if (check_select(argv[1], "acc") || check_select(argv[1], "loss")) return 1;
    char *bad_select[] = {argv[1], "--dataset", "MUTAG", "--select", "best", "--quiet", NULL};
    if ((rc = app_run(bad_select, false, out, sizeof out)) != 2)
        return fprintf(stderr, "--select best: exit %d, expected 2\n", rc), 1;
    /* numbers that do not parse or are too wide are usage errors (atoi wrapped 4294967304 to 8 and
     * 99999999999 to a width of 1215752191, which allocated tens of GB before failing). The
     * options before the bad one keep a run short should it be accepted. */
    const char *bad_num[][2] = {{"--hidden", "4294967304"}, {"--hidden", "4097"}, {"--epochs", "1x"},
                                {"--weight-decay", "abc"}, {"--mlp", "4097"}, {"--seed", "abc"}, {"--seed", "-1"}};
    for (int i = 0; i < 7; i++) {
        char *argv_num[] = {argv[1], "--dataset", "MUTAG", "--folds", "2", "--max-folds", "1", "--epochs", "1",
                            "--blocks", "1", "--hidden", "8", "--mlp", "8", (char *)bad_num[i][0],
                            (char *)bad_num[i][1], "--quiet", NULL};
        if ((rc = app_run(argv_num, false, out, sizeof out)) != 2)
            return fprintf(stderr, "%s %s: exit %d, expected 2\n", bad_num[i][0], bad_num[i][1], rc), 1;
    }
    /* a number out of its range names the option and its range, not the whole usage */
    const char *range[][3] = {{"--hidden", "4097", "--hidden must be 1..4096 (got 4097)"},
                              {"--eval-batch-size", "0", "--eval-batch-size must be at least 1 (got 0)"},
                              {"--dropout", "1", "--dropout must be in [0, 1) (got 1)"},
                              {"--folds", "1", "--folds must be at least 2 (got 1)"}};
    for (int i = 0; i < 4; i++) {
        char *argv_range[] = {argv[1], "--dataset", "MUTAG", (char *)range[i][0], (char *)range[i][1], "--quiet", NULL};
        if ((rc = app_run(argv_range, true, out, sizeof out)) != 2 || !strstr(out, range[i][2]) ||
            strstr(out, "Usage") || strstr(out, "usage"))
            return fprintf(stderr, "%s %s: exit %d, expected 2 and '%s'\n%s\n", range[i][0], range[i][1], rc,
                           range[i][2], out), 1;
    }
    /* --save in a missing directory: refused before training (it failed after the last fold) */
    char *argv_save[] = {argv[1], "--dataset", "MUTAG", "--folds", "2", "--max-folds", "1", "--epochs", "1",
                         "--save", "/nonexistent-gp-dir/model", "--quiet", NULL};
    if ((rc = app_run(argv_save, true, out, sizeof out)) != 2 || !strstr(out, "is not a writable directory"))
        return fprintf(stderr, "--save in a missing directory: exit %d, expected 2\n%s\n", rc, out), 1;
    return check_single_class(argv[1]) || check_save_pair(argv[1]) || check_grid(argv[1]) || check_fold_range(argv[1]) || check_resume(argv[1]) || check_blocks0(argv[1]) || check_json_name(argv[1]) ||
           check_topk_preset(argv[1]) || check_gnp_lr(argv[1]) || check_eval_batch(argv[1]) ||
           check_final_runs(argv[1]) || check_positional(argv[1]);
}
