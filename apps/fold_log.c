/* The fold log of gp-graphclass --resume (see fold_log.h). */
#include "fold_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app_json.h"

/* ---- reading one line, field by field in the order fold_log_append writes them ---- */

static bool lit(const char **p, const char *s)
{
    size_t n = strlen(s);
    if (strncmp(*p, s, n) != 0) return false;
    *p += n;
    return true;
}

/* The inside of a JSON string (escapes kept as written) up to its closing quote, into out. */
static bool string_raw(const char **p, char *out, size_t size)
{
    const char *s = *p;
    size_t n = 0;
    while (s[n] && s[n] != '"') n += s[n] == '\\' && s[n + 1] ? 2 : 1;
    if (s[n] != '"' || n >= size) return false;
    memcpy(out, s, n);
    out[n] = '\0';
    *p = s + n + 1;
    return true;
}

static bool number(const char **p, double *v)
{
    if (lit(p, "null")) { /* a non-finite value (a validation loss that overflowed) */
        *v = NAN;
        return true;
    }
    char *end;
    errno = 0;
    *v = strtod(*p, &end);
    if (end == *p || errno == ERANGE) return false;
    *p = end;
    return true;
}

static bool integer(const char **p, int *v)
{
    char *end;
    errno = 0;
    long x = strtol(*p, &end, 10);
    if (end == *p || errno == ERANGE || x < INT_MIN || x > INT_MAX) return false;
    *v = (int)x;
    *p = end;
    return true;
}

/* Parse one line (without its newline) into key (raw) and e. */
static bool parse_line(const char *line, char *key, size_t key_size, fold_log_entry *e)
{
    const char *p = line;
    fold_result *r = &e->r;
    memset(e, 0, sizeof *e);
    bool ok = lit(&p, "{\"key\": \"") && string_raw(&p, key, key_size) && lit(&p, ", \"pool\": \"") &&
              string_raw(&p, e->pool, sizeof e->pool) && lit(&p, ", \"fold\": ") && integer(&p, &e->fold) &&
              lit(&p, ", \"test_acc\": ") && number(&p, &r->test_acc) && lit(&p, ", \"val_acc\": ") &&
              number(&p, &r->val_acc) && lit(&p, ", \"val_loss\": ") && number(&p, &r->val_loss) &&
              lit(&p, ", \"best_epoch\": ") && integer(&p, &r->best_epoch) && lit(&p, ", \"epochs\": ") &&
              integer(&p, &r->epochs) && lit(&p, ", \"epoch_ms\": ") && number(&p, &r->epoch_ms) &&
              lit(&p, ", \"epoch_cpu_ms\": ") && number(&p, &r->epoch_cpu_ms) && lit(&p, ", \"config\": ") &&
              integer(&p, &r->config) && lit(&p, ", \"run_acc\": [");
    if (!ok) return false;
    while (!lit(&p, "]")) {
        if (r->num_runs == FOLD_LOG_MAX_RUNS || (r->num_runs > 0 && !lit(&p, ", ")) ||
            !number(&p, &r->run_acc[r->num_runs]))
            return false;
        r->num_runs++;
    }
    return lit(&p, "}") && *p == '\0' && e->fold >= 1 && r->config >= 0 && isfinite(r->test_acc) &&
           r->test_acc >= 0 && r->test_acc <= 1;
}

/* entries hold the pool as written (escaped) */
static const fold_result *find_raw(const fold_log *l, const char *pool_esc, int fold)
{
    for (int i = 0; i < l->count; i++)
        if (l->entries[i].fold == fold && !strcmp(l->entries[i].pool, pool_esc)) return &l->entries[i].r;
    return NULL;
}

int fold_log_open(fold_log *l, const char *path, const char *key, char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->path = path;
    app_json_escape(l->key, sizeof l->key, key);
    if (strlen(l->key) + 8 >= sizeof l->key) {
        snprintf(err, errlen, "%s: the run's options are too long for a fold log key", path);
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "cannot read %s (%s)", path, strerror(errno));
        return -1;
    }
    char *line = NULL, *key_raw = malloc(sizeof l->key);
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = key_raw ? 0 : -1;
    if (!key_raw) snprintf(err, errlen, "out of memory reading %s", path);
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (n == 0 || line[n - 1] != '\n') break; /* a last line cut short: the writer was stopped */
        line[n - 1] = '\0';
        if (line[0] == '\0') continue;
        fold_log_entry e;
        if (!parse_line(line, key_raw, sizeof l->key, &e)) {
            snprintf(err, errlen, "%s:%ld: not a fold log line", path, lineno);
            rc = -1;
            break;
        }
        if (strcmp(key_raw, l->key) != 0) {
            l->other_keys++;
            continue;
        }
        if (find_raw(l, e.pool, e.fold)) continue; /* a fold logged twice: the first counts */
        if (l->count == l->cap) {
            int nc = l->cap ? 2 * l->cap : 16;
            fold_log_entry *ne = realloc(l->entries, (size_t)nc * sizeof *ne);
            if (!ne) {
                snprintf(err, errlen, "out of memory reading %s", path);
                rc = -1;
                break;
            }
            l->entries = ne, l->cap = nc;
        }
        l->entries[l->count++] = e;
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "cannot read %s (%s)", path, strerror(errno));
        rc = -1;
    }
    free(line);
    free(key_raw);
    fclose(f);
    if (rc != 0) fold_log_close(l);
    return rc;
}

const fold_result *fold_log_find(const fold_log *l, const char *pool, int fold)
{
    char esc[sizeof l->entries[0].pool];
    app_json_escape(esc, sizeof esc, pool);
    return find_raw(l, esc, fold);
}

/* x with 17 significant digits (round trip), or null when not finite */
static int put_number(char *buf, size_t size, double x)
{
    return isfinite(x) ? snprintf(buf, size, "%.17g", x) : snprintf(buf, size, "null");
}

int fold_log_append(fold_log *l, const char *pool, int fold, const fold_result *r, char *err, size_t errlen)
{
    static char buf[16384];
    char esc[sizeof l->entries[0].pool], v[8][32];
    app_json_escape(esc, sizeof esc, pool);
    const double nums[] = {r->test_acc, r->val_acc, r->val_loss, r->epoch_ms, r->epoch_cpu_ms};
    for (int i = 0; i < 5; i++) put_number(v[i], sizeof v[i], nums[i]);
    int n = snprintf(buf, sizeof buf,
                     "{\"key\": \"%s\", \"pool\": \"%s\", \"fold\": %d, \"test_acc\": %s, \"val_acc\": %s, "
                     "\"val_loss\": %s, \"best_epoch\": %d, \"epochs\": %d, \"epoch_ms\": %s, "
                     "\"epoch_cpu_ms\": %s, \"config\": %d, \"run_acc\": [",
                     l->key, esc, fold, v[0], v[1], v[2], r->best_epoch, r->epochs, v[3], v[4], r->config);
    for (int k = 0; k < r->num_runs && k < FOLD_LOG_MAX_RUNS && n > 0 && (size_t)n < sizeof buf; k++) {
        put_number(v[5], sizeof v[5], r->run_acc[k]);
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%s", k ? ", " : "", v[5]);
    }
    if (n > 0 && (size_t)n < sizeof buf) n += snprintf(buf + n, sizeof buf - (size_t)n, "]}\n");
    if (n <= 0 || (size_t)n >= sizeof buf) {
        snprintf(err, errlen, "%s: fold %d's line is too long", l->path, fold);
        return -1;
    }
    int fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s (%s)", l->path, strerror(errno));
        return -1;
    }
    ssize_t w = write(fd, buf, (size_t)n); /* one write: concurrent appenders do not interleave */
    int e = w == n ? 0 : w < 0 ? errno : EIO;
    if (e == 0 && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && e == 0) e = errno;
    if (e != 0) {
        snprintf(err, errlen, "cannot write %s (%s)", l->path, strerror(e));
        return -1;
    }
    return 0;
}

void fold_log_close(fold_log *l)
{
    free(l->entries);
    l->entries = NULL;
    l->count = l->cap = 0;
}
