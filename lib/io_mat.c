/*
 * MATLAB level-5 MAT-files (the format of `save -v7` and older; not the HDF5-based -v7.3):
 * one real 2-D numeric or logical variable, dense or sparse. SEAL, WLNM and WalkPool ship their
 * link-prediction networks this way (variable `net`, a sparse adjacency matrix).
 *
 * Layout (MathWorks, "MAT-File Format", level 5): a 128-byte header (text, subsystem offset,
 * version 0x0100, endian indicator "IM" for little-endian files) and then data elements, each
 * an 8-byte tag (type, byte count) and its data padded to 8 bytes; a tag whose upper 16 bits
 * are not zero is a "small element" (count and type in one word, up to 4 bytes of data in the
 * second). A variable is a miMATRIX element (type 14), possibly wrapped in a miCOMPRESSED one
 * (type 15, zlib). Inside: array flags (class in the low byte, 0x200 logical, 0x800 complex),
 * dimensions, name, then the real part (dense: rows * cols values, column-major; sparse: ir row
 * indices, jc column starts, values) in any numeric storage type (MATLAB stores integral
 * doubles as uint8 and the like to save space). Everything is bounds-checked; big-endian files,
 * complex values, more than 2 dimensions and the non-numeric classes (cell, struct, char,
 * object) of the variable asked for are GP_E_UNSUPPORTED, other variables are skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "internal.h"
#include <graphpool/io.h>

enum { MI_INT8 = 1, MI_UINT8, MI_INT16, MI_UINT16, MI_INT32, MI_UINT32, MI_SINGLE, MI_DOUBLE = 9,
       MI_INT64 = 12, MI_UINT64, MI_MATRIX, MI_COMPRESSED };
enum { MX_CELL = 1, MX_STRUCT, MX_OBJECT, MX_CHAR, MX_SPARSE, MX_DOUBLE, MX_SINGLE, MX_INT8, MX_UINT8,
       MX_INT16, MX_UINT16, MX_INT32, MX_UINT32, MX_INT64, MX_UINT64 };

/* Inflated variables larger than this are refused (a corrupt or hostile stream). */
#define MAT_MAX_INFLATED ((size_t)1 << 34)

/* Return the status of expr if it is an error. */
#define TRY(expr)                                                                              \
    do {                                                                                       \
        gp_status try_st_ = (expr);                                                            \
        if (try_st_ != GP_OK) return try_st_;                                                  \
    } while (0)

typedef struct span {
    const unsigned char *p;
    size_t n;
} span;

static uint32_t u32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static size_t type_size(uint32_t type)
{
    switch (type) {
    case MI_INT8: case MI_UINT8: return 1;
    case MI_INT16: case MI_UINT16: return 2;
    case MI_INT32: case MI_UINT32: case MI_SINGLE: return 4;
    case MI_DOUBLE: case MI_INT64: case MI_UINT64: return 8;
    default: return 0;
    }
}

/* Element i of a numeric array of storage type `type` as a double. */
static double value_at(const unsigned char *p, uint32_t type, size_t i)
{
    p += i * type_size(type);
    uint64_t w;
    switch (type) {
    case MI_INT8: return (int8_t)p[0];
    case MI_UINT8: return p[0];
    case MI_INT16: return (int16_t)(p[0] | p[1] << 8);
    case MI_UINT16: return (uint16_t)(p[0] | p[1] << 8);
    case MI_INT32: return (int32_t)u32(p);
    case MI_UINT32: return u32(p);
    case MI_SINGLE: {
        uint32_t b = u32(p);
        float f;
        memcpy(&f, &b, sizeof f);
        return f;
    }
    default: /* 8-byte types */
        w = (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32;
        if (type == MI_INT64) return (double)(int64_t)w;
        if (type == MI_UINT64) return (double)w;
        double d;
        memcpy(&d, &w, sizeof d);
        return d;
    }
}

/* The next element of *s: its type and data; *s advances past it (and its padding). */
static gp_status next_element(span *s, uint32_t *type, span *data, const char *path, bool top)
{
    if (s->n < 8) return GP_ERR(GP_E_PARSE, "%s: MAT-file truncated (a data element's tag is cut)", path);
    uint32_t w0 = u32(s->p), w1 = u32(s->p + 4);
    if (w0 >> 16) { /* small element: 2-byte count, 2-byte type, data in the next 4 bytes */
        *type = w0 & 0xffff;
        data->p = s->p + 4;
        data->n = w0 >> 16;
        if (data->n > 4) return GP_ERR(GP_E_PARSE, "%s: MAT-file element with a small-format size of %zu", path, data->n);
        s->p += 8, s->n -= 8;
        return GP_OK;
    }
    *type = w0;
    size_t n = w1;
    if (n > s->n - 8)
        return GP_ERR(GP_E_PARSE, "%s: MAT-file truncated (an element of %zu bytes, %zu left)", path, n, s->n - 8);
    data->p = s->p + 8;
    data->n = n;
    /* padding to 8 bytes, except after compressed elements (and at the end of the file) */
    size_t step = 8 + n;
    if (!(top && w0 == MI_COMPRESSED)) step += (8 - n % 8) % 8;
    if (step > s->n) step = s->n;
    s->p += step, s->n -= step;
    return GP_OK;
}

/* zlib stream -> malloc'ed buffer */
static gp_status inflate_all(unsigned char **out, size_t *outn, span in, const char *path)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) return GP_ERR(GP_E_NOMEM, "%s: cannot start zlib", path);
    size_t cap = in.n < ((size_t)1 << 24) ? in.n * 4 + 1024 : (size_t)1 << 26, n = 0; /* then doubled */
    unsigned char *buf = gp_i_malloc(cap);
    gp_status st = buf ? GP_OK : GP_ERR(GP_E_NOMEM, "%s: out of memory inflating a variable", path);
    z.next_in = (unsigned char *)in.p;
    size_t in_left = in.n;
    int zr = Z_OK;
    while (st == GP_OK && zr != Z_STREAM_END) {
        if (n == cap) {
            if (cap >= MAT_MAX_INFLATED) {
                st = GP_ERR(GP_E_UNSUPPORTED, "%s: a compressed variable inflates beyond %zu bytes", path, cap);
                break;
            }
            unsigned char *nb = gp_i_malloc(cap * 2);
            if (!nb) {
                st = GP_ERR(GP_E_NOMEM, "%s: out of memory inflating a variable", path);
                break;
            }
            memcpy(nb, buf, n);
            gp_i_free(buf);
            buf = nb, cap *= 2;
        }
        uInt chunk_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
        size_t room = cap - n;
        uInt chunk_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
        z.next_in = (unsigned char *)in.p + (in.n - in_left);
        z.avail_in = chunk_in;
        z.next_out = buf + n;
        z.avail_out = chunk_out;
        zr = inflate(&z, Z_NO_FLUSH);
        in_left -= chunk_in - z.avail_in;
        n += chunk_out - z.avail_out;
        if (zr == Z_STREAM_END) break;
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            st = GP_ERR(GP_E_PARSE, "%s: corrupt compressed variable (zlib: %s)", path, z.msg ? z.msg : "error");
        else if (zr == Z_BUF_ERROR && in_left == 0 && z.avail_out > 0)
            st = GP_ERR(GP_E_PARSE, "%s: MAT-file truncated (a compressed variable ends early)", path);
    }
    inflateEnd(&z);
    if (st != GP_OK) {
        gp_i_free(buf);
        return st;
    }
    *out = buf;
    *outn = n;
    return GP_OK;
}

static gp_status check_numeric(uint32_t type, const char *what, const char *path)
{
    if (!type_size(type)) return GP_ERR(GP_E_PARSE, "%s: %s has storage type %u, not a number type", path, what, type);
    return GP_OK;
}

/* Parse the miMATRIX element data m into a new slots[i] if its name is names[i] and slots[i] is
 * still empty (names NULL: into slots[0], if the variable is numeric, and square when `square`);
 * other variables are skipped. */
static gp_status parse_matrix(gp_mat_var **slots, const char *const *names, int nnames, bool square, span m,
                              const char *path)
{
    uint32_t type;
    span flags = {0}, dims = {0}, nm = {0}, ir = {0}, jc = {0}, pr = {0};
    TRY(next_element(&m, &type, &flags, path, false));
    if (type != MI_UINT32 || flags.n < 8) return GP_ERR(GP_E_PARSE, "%s: a variable without its array flags", path);
    uint32_t cls = u32(flags.p) & 0xff, fl = u32(flags.p) >> 8;
    TRY(next_element(&m, &type, &dims, path, false));
    if (type != MI_INT32 || dims.n % 4 || dims.n < 8) return GP_ERR(GP_E_PARSE, "%s: a variable without dimensions", path);
    TRY(next_element(&m, &type, &nm, path, false));
    if (type != MI_INT8 && type != MI_UINT8) return GP_ERR(GP_E_PARSE, "%s: a variable without a name", path);
    char vname[64];
    snprintf(vname, sizeof vname, "%.*s", (int)(nm.n < 63 ? nm.n : 63), (const char *)nm.p);
    bool numeric = cls == MX_SPARSE || (cls >= MX_DOUBLE && cls <= MX_UINT64);
    int slot = -1;
    for (int i = 0; names && i < nnames && slot < 0; i++)
        if (!slots[i] && !strcmp(vname, names[i])) slot = i;
    if (!names && numeric && !(square && (dims.n != 8 || u32(dims.p) != u32(dims.p + 4)))) slot = 0;
    if (slot < 0) return GP_OK;
    if (!numeric)
        return GP_ERR(GP_E_UNSUPPORTED, "%s: variable '%s' is a cell, struct, char or object array, not a matrix",
                      path, vname);
    if (fl & 0x08) return GP_ERR(GP_E_UNSUPPORTED, "%s: variable '%s' is complex", path, vname);
    if (dims.n != 8) return GP_ERR(GP_E_UNSUPPORTED, "%s: variable '%s' has %zu dimensions, not 2", path, vname, dims.n / 4);
    int32_t rows = (int32_t)u32(dims.p), cols = (int32_t)u32(dims.p + 4);
    if (rows < 0 || cols < 0) return GP_ERR(GP_E_PARSE, "%s: variable '%s' has negative dimensions", path, vname);
    gp_mat_var *v = slots[slot] = gp_i_calloc(1, sizeof *v); /* the caller frees it on any error */
    if (!v) return GP_ERR(GP_E_NOMEM, "%s: out of memory", path);
    snprintf(v->name, sizeof v->name, "%s", vname);
    v->rows = rows, v->cols = cols;
    v->sparse = cls == MX_SPARSE;
    v->logical = (fl & 0x02) != 0;
    uint32_t tir = 0, tjc = 0, tpr = 0;
    if (v->sparse) {
        TRY(next_element(&m, &tir, &ir, path, false));
        TRY(next_element(&m, &tjc, &jc, path, false));
        if (m.n >= 8) TRY(next_element(&m, &tpr, &pr, path, false)); /* logical: may be absent */
        TRY(check_numeric(tir, "its row index array", path));
        TRY(check_numeric(tjc, "its column start array", path));
        if (pr.n) TRY(check_numeric(tpr, "its value array", path));
        size_t nir = ir.n / type_size(tir), njc = jc.n / type_size(tjc);
        if (njc < (size_t)cols + 1)
            return GP_ERR(GP_E_PARSE, "%s: sparse variable '%s': %zu column starts for %d columns", path, vname, njc, cols);
        double nnz = value_at(jc.p, tjc, (size_t)cols);
        if (!(nnz >= 0 && nnz <= (double)nir) || (pr.n && nnz > (double)(pr.n / type_size(tpr))))
            return GP_ERR(GP_E_PARSE, "%s: sparse variable '%s': %g entries but %zu row indices", path, vname, nnz, nir);
        v->nnz = (int64_t)nnz;
        v->jc = gp_i_malloc(((size_t)cols + 1) * sizeof *v->jc);
        v->ir = gp_i_malloc(((size_t)v->nnz + 1) * sizeof *v->ir);
        v->values = gp_i_malloc(((size_t)v->nnz + 1) * sizeof *v->values);
        if (!v->jc || !v->ir || !v->values) return GP_ERR(GP_E_NOMEM, "%s: out of memory for '%s'", path, vname);
        for (int32_t j = 0; j <= cols; j++) {
            double x = value_at(jc.p, tjc, (size_t)j);
            if (!(x >= (j ? (double)v->jc[j - 1] : 0.0) && x <= nnz) || x != (double)(int64_t)x)
                return GP_ERR(GP_E_PARSE, "%s: sparse variable '%s': bad column start %g at column %d", path, vname, x, j);
            v->jc[j] = (int64_t)x;
        }
        for (int64_t k = 0; k < v->nnz; k++) {
            double x = value_at(ir.p, tir, (size_t)k);
            if (!(x >= 0 && x < rows) || x != (double)(int64_t)x)
                return GP_ERR(GP_E_PARSE, "%s: sparse variable '%s': row index %g outside [0, %d)", path, vname, x, rows);
            v->ir[k] = (int64_t)x;
            v->values[k] = pr.n ? value_at(pr.p, tpr, (size_t)k) : 1.0;
        }
    } else {
        TRY(next_element(&m, &tpr, &pr, path, false));
        size_t count = (size_t)rows * (size_t)cols;
        if (count && (check_numeric(tpr, "its value array", path) != GP_OK || pr.n / type_size(tpr) < count))
            return GP_ERR(GP_E_PARSE, "%s: variable '%s' (%d x %d) holds %zu bytes of values", path, vname, rows, cols, pr.n);
        v->values = gp_i_malloc((count + 1) * sizeof *v->values);
        if (!v->values) return GP_ERR(GP_E_NOMEM, "%s: out of memory for '%s'", path, vname);
        for (size_t k = 0; k < count; k++) v->values[k] = value_at(pr.p, tpr, k);
    }
    return GP_OK;
}

static gp_status read_file(unsigned char **buf, size_t *n, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return GP_ERR(GP_E_IO, "cannot open %s", path);
    gp_status st = GP_OK;
    long size = -1;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) st = GP_ERR(GP_E_IO, "%s: not a regular file", path);
    if (st == GP_OK && (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0))
        st = GP_ERR(GP_E_IO, "cannot read %s (not a regular file?)", path);
    if (st == GP_OK && !(*buf = gp_i_malloc((size_t)size + 1))) st = GP_ERR(GP_E_NOMEM, "%s: out of memory", path);
    if (st == GP_OK && fread(*buf, 1, (size_t)size, f) != (size_t)size) {
        gp_i_free(*buf);
        *buf = NULL;
        st = GP_ERR(GP_E_IO, "cannot read %s", path);
    }
    fclose(f);
    *n = (size_t)size;
    return st;
}

/* One pass over the file: slots[i] (i < nnames) gets the variable names[i], or stays NULL when
 * the file has none; names NULL: slots[0] gets the first numeric (and square when `square`)
 * variable, and its absence is an error. On error every slot is NULL. */
static gp_status mat_read(gp_mat_var **slots, const char *path, const char *const *names, int nnames, bool square)
{
    int count = names ? nnames : 1;
    for (int i = 0; i < count; i++) slots[i] = NULL;
    unsigned char *file = NULL, *inflated = NULL;
    size_t n = 0;
    gp_status st = read_file(&file, &n, path);
    if (st != GP_OK) return st;
    if (n < 128 || memcmp(file + 126, "IM", 2) != 0) {
        if (n >= 128 && memcmp(file + 126, "MI", 2) == 0)
            st = GP_ERR(GP_E_UNSUPPORTED, "%s: a big-endian MAT-file", path);
        else if (n >= 4 && memcmp(file, "\x89HDF", 4) == 0)
            st = GP_ERR(GP_E_UNSUPPORTED, "%s: an HDF5 file, not a level-5 MAT-file", path);
        else
            st = GP_ERR(GP_E_PARSE, "%s: not a MATLAB level-5 MAT-file (no 'IM' endian mark at byte 126)", path);
    } else if (file[124] == 0x00 && file[125] == 0x02) {
        st = GP_ERR(GP_E_UNSUPPORTED, "%s: a MAT-file v7.3 (HDF5); save it with -v7 instead", path);
    }
    span s = {file + 128, n >= 128 ? n - 128 : 0};
    int filled = 0;
    while (st == GP_OK && filled < count && s.n >= 8) {
        uint32_t type;
        span data;
        if ((st = next_element(&s, &type, &data, path, true)) != GP_OK) break;
        if (type == MI_COMPRESSED) {
            size_t m = 0;
            gp_i_free(inflated);
            inflated = NULL;
            if ((st = inflate_all(&inflated, &m, data, path)) != GP_OK) break;
            span in = {inflated, m};
            if ((st = next_element(&in, &type, &data, path, false)) != GP_OK) break;
        }
        if (type == MI_MATRIX) st = parse_matrix(slots, names, nnames, square, data, path);
        filled = 0;
        for (int i = 0; i < count; i++) filled += slots[i] != NULL;
    }
    if (st == GP_OK && !names && !slots[0])
        st = GP_ERR(GP_E_PARSE, "%s: no numeric %smatrix in the file", path, square ? "square " : "");
    gp_i_free(inflated);
    gp_i_free(file);
    if (st != GP_OK)
        for (int i = 0; i < count; i++) gp_mat_var_free(&slots[i]);
    return st;
}

gp_status gp_mat_read(gp_mat_var **out, const char *path, const char *name)
{
    if (!out || !path) return GP_ERR(GP_E_INVALID, "gp_mat_read: NULL argument");
    gp_status st = mat_read(out, path, name ? &name : NULL, 1, false);
    if (st == GP_OK && !*out) st = GP_ERR(GP_E_PARSE, "%s: no variable named '%s'", path, name);
    return st;
}

/* A sparse pair list as a dense one (in place). Node ids are >= 1, so every entry must be
 * stored; that also bounds the dense size by the file's. */
static gp_status densify(gp_mat_var *v, const char *path)
{
    if (v->nnz != v->rows * v->cols)
        return GP_ERR(GP_E_RANGE, "%s: sparse variable '%s' stores %lld of its %lld entries: node 0 is not a 1-based "
                      "id", path, v->name, (long long)v->nnz, (long long)(v->rows * v->cols));
    double *d = gp_i_calloc((size_t)v->nnz + 1, sizeof *d);
    if (!d) return GP_ERR(GP_E_NOMEM, "%s: out of memory", path);
    for (int64_t j = 0; j < v->cols; j++)
        for (int64_t k = v->jc[j]; k < v->jc[j + 1]; k++) d[j * v->rows + v->ir[k]] = v->values[k];
    gp_i_free(v->values);
    v->values = d;
    v->sparse = false;
    return GP_OK;
}

gp_status gp_i_link_split_read_mat(gp_link_split **out, const char *path, int64_t num_nodes)
{
    gp_mat_var *v[GP_LINK_PARTS];
    int64_t count[GP_LINK_PARTS] = {0}, max_id = -1;
    bool by_row[GP_LINK_PARTS] = {0}, any = false;
    gp_status st = mat_read(v, path, gp_i_link_part_name, GP_LINK_PARTS, false);
    if (st != GP_OK) return st;
    for (int p = 0; p < GP_LINK_PARTS && st == GP_OK; p++) {
        if (!v[p]) continue;
        any = true;
        if (v[p]->sparse) st = densify(v[p], path);
        if (st != GP_OK) break;
        by_row[p] = v[p]->cols == 2 || v[p]->rows * v[p]->cols == 0;
        if (!by_row[p] && v[p]->rows != 2) {
            st = GP_ERR(GP_E_PARSE, "%s: variable '%s' is %lld x %lld, not a list of pairs (k x 2)", path, v[p]->name,
                        (long long)v[p]->rows, (long long)v[p]->cols);
            break;
        }
        count[p] = by_row[p] ? v[p]->rows : v[p]->cols;
    }
    if (st == GP_OK && !any)
        st = GP_ERR(GP_E_PARSE, "%s: no variable train_pos, train_neg, val_pos, val_neg, test_pos or test_neg", path);
    gp_link_split *s = NULL;
    if (st == GP_OK) st = gp_link_split_new(&s, 1, count);
    for (int p = 0; p < GP_LINK_PARTS && st == GP_OK; p++) {
        for (int64_t k = 0; k < count[p] && st == GP_OK; k++) {
            double id[2] = {0, 0};
            for (int c = 0; c < 2; c++) {
                int64_t i = by_row[p] ? k : c, j = by_row[p] ? c : k; /* pair k, end c */
                id[c] = v[p]->values[j * v[p]->rows + i];
                double hi = num_nodes > 0 ? (double)num_nodes : (double)GP_READ_MAX_ID + 1;
                if (!(id[c] >= 1 && id[c] <= hi) || id[c] != (double)(int64_t)id[c]) {
                    st = GP_ERR(GP_E_RANGE, "%s: %s pair %lld: node %g is not a 1-based id%s%.0f", path, v[p]->name,
                                (long long)k + 1, id[c], num_nodes > 0 ? " of the graph's " : " up to ", hi);
                    break;
                }
            }
            if (st != GP_OK) break;
            int64_t u = (int64_t)id[0] - 1, w = (int64_t)id[1] - 1;
            if (u == w) {
                st = GP_ERR(GP_E_PARSE, "%s: %s pair %lld is a self-loop (node %lld)", path, v[p]->name,
                            (long long)k + 1, (long long)u + 1);
                break;
            }
            s->pairs[p][2 * k] = u < w ? u : w;
            s->pairs[p][2 * k + 1] = u < w ? w : u;
            if ((u > w ? u : w) > max_id) max_id = u > w ? u : w;
        }
    }
    for (int p = 0; p < GP_LINK_PARTS; p++) gp_mat_var_free(&v[p]);
    if (st != GP_OK) {
        gp_link_split_free(&s);
        return st;
    }
    s->num_nodes = num_nodes > 0 ? num_nodes : max_id + 1;
    *out = s;
    return GP_OK;
}

gp_status gp_graph_read_mat(gp_graph **out, const char *path, const gp_edgelist_options *opt)
{
    if (!out || !path) return GP_ERR(GP_E_INVALID, "gp_graph_read_mat: NULL argument");
    *out = NULL;
    gp_edgelist_options o = opt ? *opt : (gp_edgelist_options){0};
    gp_mat_var *v = NULL;
    gp_status st = mat_read(&v, path, NULL, 0, true);
    if (st != GP_OK) return st;
    int64_t n = v->rows, m = 0, cap = v->sparse ? v->nnz : n * n;
    int64_t *src = gp_i_malloc(((size_t)cap + 1) * sizeof *src), *dst = gp_i_malloc(((size_t)cap + 1) * sizeof *dst);
    if (!src || !dst) st = GP_ERR(GP_E_NOMEM, "%s: out of memory", path);
    for (int64_t j = 0; st == GP_OK && j < n; j++) { /* entry (i, j) is the edge j -> i, as in .mtx */
        int64_t k0 = v->sparse ? v->jc[j] : 0, k1 = v->sparse ? v->jc[j + 1] : n;
        for (int64_t k = k0; k < k1; k++) {
            int64_t i = v->sparse ? v->ir[k] : k;
            double x = v->values[v->sparse ? k : j * n + k];
            if (x == 0) continue;
            if (x != x) {
                st = GP_ERR(GP_E_NUMERIC, "%s: variable '%s': NaN at (%lld, %lld)", path, v->name, (long long)i + 1,
                            (long long)j + 1);
                break;
            }
            if (i == j && o.self_loops == GP_LOOP_FAIL) {
                st = GP_ERR(GP_E_PARSE, "%s: variable '%s': self-loop on node %lld (self-loop policy is FAIL)", path,
                            v->name, (long long)i + 1);
                break;
            }
            if (i == j && o.self_loops == GP_LOOP_DROP) continue;
            src[m] = j, dst[m] = i, m++;
        }
    }
    unsigned flags = GP_EDGES_DROP_DUPLICATES | ((o.flags & GP_READ_DIRECTED) ? 0u : GP_EDGES_SYMMETRISE);
    if (st == GP_OK) st = gp_graph_from_edges(out, n, m, src, dst, NULL, flags);
    gp_i_free(src);
    gp_i_free(dst);
    gp_mat_var_free(&v);
    return st;
}

void gp_mat_var_free(gp_mat_var **v)
{
    if (!v || !*v) return;
    gp_i_free((*v)->jc);
    gp_i_free((*v)->ir);
    gp_i_free((*v)->values);
    gp_i_free(*v);
    *v = NULL;
}
