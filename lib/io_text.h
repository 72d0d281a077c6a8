/*
 * Internal: the line reader and field parser shared by the text readers (lib/io_*.c).
 *
 * gp_i_text reads plain or gzip files through zlib (gzopen reads both; the gzip magic decides,
 * not the name) and hands out one line at a time, in place, NUL-terminated, without its
 * "\n" / "\r\n". It tracks the file name and line number so every error can say
 * "path:line: ...". Lines may be of any length (the buffer grows).
 */
#ifndef GP_IO_TEXT_H
#define GP_IO_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

typedef struct gp_i_text {
    void *gz;       /* gzFile */
    char *path;     /* copy of the name, for messages */
    int64_t line;   /* 1-based number of the line last returned (0 before the first) */
    char *buf;
    size_t cap, pos, end; /* unread bytes are buf[pos, end) */
    bool eof;
    int64_t size;   /* file size on disk (compressed for gzip), -1 if unknown */
    int64_t produced; /* bytes delivered by gzread so far */
} gp_i_text;

/* Open for reading; GP_E_IO naming the file and the system's reason if it cannot be opened. */
gp_status gp_i_text_open(gp_i_text **out, const char *path);
/* The next line (*line NULL at the end of the file). Errors (GP_E_IO): read error, corrupt
 * or truncated gzip stream, naming file and line. */
gp_status gp_i_text_next(gp_i_text *t, char **line, size_t *len);
/* Like gp_i_text_next, but skips blank lines and lines starting with '#' or '%' (after blanks). */
gp_status gp_i_text_data(gp_i_text *t, char **line);
void gp_i_text_close(gp_i_text **t);
/* Estimated total, for the whole file, of a count (lines, fields, ...) that has reached
 * so_far in the lines read so far, in proportion to the bytes: for reserving arrays once
 * instead of growing them; 0 if there is nothing to go on. */
int64_t gp_i_text_scale_hint(const gp_i_text *t, int64_t so_far);
static inline int64_t gp_i_text_lines_hint(const gp_i_text *t) { return gp_i_text_scale_hint(t, t->line); }

/* Record "path:line: message" (via gp_i_error, so the C file:line comes first) and return st. */
gp_status gp_i_text_fail(const gp_i_text *t, gp_status st, const char *cfile, int cline,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define GP_TEXT_FAIL(t, st, ...) gp_i_text_fail((t), (st), __FILE__, __LINE__, __VA_ARGS__)

/* Cursor over the fields of a line (see io.h for the separator rules). */
typedef struct gp_i_cursor {
    char *p;
    bool comma; /* a comma was consumed: a field must follow */
} gp_i_cursor;

/* The next field, NUL-terminated in place; "" for an empty field (",," or a trailing comma);
 * NULL at the end of the line. */
static inline char *gp_i_field(gp_i_cursor *c)
{
    char *p = c->p;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0') {
        c->p = p;
        if (c->comma) {
            c->comma = false;
            return p; /* empty field after a trailing comma */
        }
        return NULL;
    }
    if (*p == ',') { /* empty field before this comma */
        *p = '\0';
        c->p = p + 1;
        c->comma = true;
        return p;
    }
    char *s = p;
    while (*p && *p != ' ' && *p != '\t' && *p != ',') p++;
    char *e = p;
    while (*p == ' ' || *p == '\t') p++;
    c->comma = *p == ',';
    if (c->comma) p++;
    *e = '\0';
    c->p = p;
    return s;
}

/* Decimal integer with optional sign, the whole string; false if not a number or overflow. */
static inline bool gp_i_parse_int(const char *s, int64_t *v)
{
    bool neg = false;
    if (*s == '-' || *s == '+') neg = *s++ == '-';
    if (*s < '0' || *s > '9') return false;
    uint64_t x = 0;
    const uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (x > (lim - d) / 10) return false;
        x = x * 10 + d;
    }
    if (*s) return false;
    *v = neg ? (int64_t)(0 - x) : (int64_t)x;
    return true;
}

/* A finite number that fits a float, the whole string. */
bool gp_i_parse_float(const char *s, float *v);

/* Does the line hold one integer and nothing else (blanks around it)? The line is left as it
 * is, so that a message can quote it whole. */
static inline bool gp_i_lone_int(const char *line, int64_t *v)
{
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    const char *s = p;
    while (*p && *p != ' ' && *p != '\t' && *p != ',') p++;
    size_t n = (size_t)(p - s);
    while (*p == ' ' || *p == '\t') p++;
    char tok[64];
    if (*p || n == 0 || n >= sizeof tok) return false;
    memcpy(tok, s, n);
    tok[n] = '\0';
    return gp_i_parse_int(tok, v);
}

/*
 * Field parsers that report through GP_TEXT_FAIL (GP_E_PARSE, naming file and line; the C
 * location is the caller's, as with GP_TEXT_FAIL):
 *   GP_TEXT_LINE_INT(x, t, line): a data line of one integer ("bad number '...' (one integer
 *     per line is expected)", "unexpected column 2 ('...'): one integer per line is expected");
 *   GP_TEXT_INT_COLUMN(x, t, c, col, form) / GP_TEXT_FLOAT_COLUMN: the next field, column col
 *     (1-based) of a line of the given form ("missing column <col> (expected '<form>')" when it
 *     is absent or empty, "bad number '...' in column <col>").
 */
gp_status gp_i_text_line_int(int64_t *x, gp_i_text *t, char *line, const char *cfile, int cline);
gp_status gp_i_text_int_column(int64_t *x, gp_i_text *t, gp_i_cursor *c, int col, const char *form,
                               const char *cfile, int cline);
gp_status gp_i_text_float_column(float *x, gp_i_text *t, gp_i_cursor *c, int col, const char *form,
                                 const char *cfile, int cline);
#define GP_TEXT_LINE_INT(x, t, line) gp_i_text_line_int((x), (t), (line), __FILE__, __LINE__)
#define GP_TEXT_INT_COLUMN(x, t, c, col, form)                                                 \
    gp_i_text_int_column((x), (t), (c), (col), (form), __FILE__, __LINE__)
#define GP_TEXT_FLOAT_COLUMN(x, t, c, col, form)                                               \
    gp_i_text_float_column((x), (t), (c), (col), (form), __FILE__, __LINE__)

/* "s" shortened for messages (at most 40 characters, then "..."), in a thread-local buffer. */
const char *gp_i_quote(const char *s);

/* Growable int64 array. */
typedef struct gp_i_vec {
    int64_t *v;
    int64_t n, cap;
} gp_i_vec;
gp_status gp_i_vec_reserve(gp_i_vec *a, int64_t cap);
gp_status gp_i_vec_grow(gp_i_vec *a); /* double the capacity (at least 1024) */
static inline gp_status gp_i_vec_push(gp_i_vec *a, int64_t x)
{
    if (a->n == a->cap) {
        gp_status st = gp_i_vec_grow(a);
        if (st != GP_OK) return st;
    }
    a->v[a->n++] = x;
    return GP_OK;
}
/* Hand over the array (never NULL on success: an empty vector gives a 1-element allocation). */
gp_status gp_i_vec_take(int64_t **out, gp_i_vec *a);
void gp_i_vec_free(gp_i_vec *a);

/* "dir/name" (gp_i_malloc); NULL on out of memory. */
char *gp_i_path_join(const char *dir, const char *name);
/* Does a regular file (or anything stat can see) exist at path? */
bool gp_i_file_exists(const char *path);

#endif
