/*
 * The fold log of gp-graphclass --resume FILE: one JSON line per finished fold, so that a long
 * cross-validation that was stopped (a killed job, a session's end) continues where it stopped,
 * and runs of different --fold-range chunks (concurrent ones too) combine into one table.
 *
 * A line: {"key": K, "pool": P, "fold": F, "test_acc": ..., "val_acc": ..., "val_loss": ...,
 * "best_epoch": ..., "epochs": ..., "epoch_ms": ..., "epoch_cpu_ms": ..., "config": ...,
 * "run_acc": [...]} with K the run's key (every option that changes the results, and the
 * dataset's size: see gp_graphclass.c, run_key), P the pooling spec, F the 1-based fold; numbers
 * with 17 significant digits, so a resumed run reports the same figures as one that was never
 * stopped. Lines of other keys are kept in the file and ignored. The key does not name the
 * program's version or build: a log is only as good as the binary that wrote it. Each line is appended with one
 * write(2) to a file opened with O_APPEND, so runs appending at the same time do not interleave.
 */
#ifndef GP_APP_FOLD_LOG_H
#define GP_APP_FOLD_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum { FOLD_LOG_MAX_RUNS = 16 };

/* What a fold reports (gp-graphclass keeps the same record for the folds it trains). */
typedef struct fold_result {
    double test_acc, val_acc, val_loss;
    int best_epoch, epochs;
    double epoch_ms, epoch_cpu_ms;
    int config;                        /* the --grid configuration selected (0 without a grid) */
    int num_runs;                      /* entries of run_acc in use (--final-runs R: R, else 0) */
    double run_acc[FOLD_LOG_MAX_RUNS]; /* test accuracy of each run (test_acc: their mean) */
} fold_result;

typedef struct fold_log_entry {
    char pool[256];
    int fold;
    fold_result r;
} fold_log_entry;

typedef struct fold_log {
    const char *path;
    char key[8192]; /* the run's key, JSON-escaped */
    fold_log_entry *entries; /* the lines of this key read at open, first occurrence per (pool, fold) */
    int count, cap;
    int other_keys; /* lines of other runs (kept, ignored) */
} fold_log;

/* Open the log at path for the run with this key (a missing file is an empty log; it is created
 * at the first append). 0, or -1 with a message naming the file (and line) in err. A last line
 * without its newline (the writer stopped mid-line) is ignored; any other line that does not
 * parse is an error. */
int fold_log_open(fold_log *l, const char *path, const char *key, char *err, size_t errlen);

/* The logged result of (pool, fold), or NULL. */
const fold_result *fold_log_find(const fold_log *l, const char *pool, int fold);

/* Append the line of (pool, fold, r) and flush it to the file. 0, or -1 with a message in err. */
int fold_log_append(fold_log *l, const char *pool, int fold, const fold_result *r, char *err, size_t errlen);

void fold_log_close(fold_log *l);

#endif
