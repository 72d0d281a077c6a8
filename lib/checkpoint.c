/*
 * Checkpoints: save / load a module tree's parameters and buffers (module.h has the format),
 * or any list of named tensors in the same format (gp_i_tensors_save / _load; training states).
 *
 * Safety: save writes a temporary file in the destination's directory (mkstemp), fsyncs it
 * and renames it over the destination, so readers see the old file or the complete new one.
 * The new file gets mode 0666 & ~umask (read with umask(), which is process-wide: saving while
 * another thread changes the umask may race).
 * Load reads the whole file, checks magic, version, CRC-32 and every size against the bytes
 * present, matches every name to the module (same shape, each once, none missing or extra),
 * and only then copies the values: a failed load leaves the module unchanged.
 * Values are stored little-endian; on a big-endian host they are byte-swapped.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <graphpool/module.h>

#include "internal.h"

static const char MAGIC[8] = {'G', 'P', 'C', 'K', 'P', 'T', '\r', '\n'};
enum { CKPT_VERSION = 1 };

/* CRC-32 (reflected polynomial 0xEDB88320, as zlib and PNG), bytewise with a 256-entry table. */
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) { /* idempotent: concurrent first calls compute the same values */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static bool host_little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

/* ---- growable byte buffer ---- */

typedef struct buf {
    unsigned char *data;
    size_t len, cap;
} buf;

static bool buf_put(buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        unsigned char *grown = gp_i_realloc(b->data, cap);
        if (!grown) return false;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return true;
}

/* Little-endian integer of `size` bytes. */
static bool buf_put_le(buf *b, uint64_t v, int size)
{
    unsigned char bytes[8];
    for (int i = 0; i < size; i++) bytes[i] = (unsigned char)(v >> (8 * i));
    return buf_put(b, bytes, (size_t)size);
}

static uint64_t get_le(const unsigned char *p, int size)
{
    uint64_t v = 0;
    for (int i = 0; i < size; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static bool put_floats(buf *b, const float *x, int64_t n)
{
    if (host_little_endian()) return buf_put(b, x, (size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if (!buf_put_le(b, u, 4)) return false;
    }
    return true;
}

static gp_status serialise(buf *b, const gp_param_list *l)
{
    bool ok = buf_put(b, MAGIC, sizeof MAGIC) && buf_put_le(b, CKPT_VERSION, 4) &&
              buf_put_le(b, (uint64_t)l->count, 4);
    for (int i = 0; ok && i < l->count; i++) {
        const gp_tensor *x = l->tensors[i];
        size_t len = strlen(l->names[i]);
        ok = buf_put_le(b, len, 4) && buf_put(b, l->names[i], len) &&
             buf_put_le(b, (uint64_t)x->rows, 8) && buf_put_le(b, (uint64_t)x->cols, 8) &&
             put_floats(b, x->data, gp_tensor_size(x));
    }
    if (ok) ok = buf_put_le(b, crc32_update(0, b->data, b->len), 4);
    return ok ? GP_OK : GP_ERR(GP_E_NOMEM, "checkpoint: out of memory");
}

gp_status gp_i_tensors_save(const gp_param_list *l, const char *path)
{
    if (!l || !path || !*path) return GP_ERR(GP_E_INVALID, "checkpoint: NULL argument");
    gp_status st = GP_OK;
    buf b = {0};
    char *tmp = NULL;
    int fd = -1;
    GP_TRY(serialise(&b, l));
    size_t plen = strlen(path);
    tmp = gp_i_malloc(plen + 16);
    if (!tmp) {
        st = GP_ERR(GP_E_NOMEM, "checkpoint: out of memory");
        goto fail;
    }
    snprintf(tmp, plen + 16, "%s.tmp-XXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        st = GP_ERR(GP_E_IO, "checkpoint: cannot create a temporary file next to %s (%s)", path,
                    strerror(errno));
        goto fail;
    }
    /* mkstemp creates the file 0600: give it the usual 0666 & ~umask of a new file */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        st = GP_ERR(GP_E_IO, "checkpoint: cannot set the mode of %s (%s)", tmp, strerror(errno));
        goto fail;
    }
    for (size_t done = 0; done < b.len;) {
        ssize_t w = write(fd, b.data + done, b.len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            st = GP_ERR(GP_E_IO, "checkpoint: cannot write %s (%s)", tmp, strerror(errno));
            goto fail;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        st = GP_ERR(GP_E_IO, "checkpoint: cannot flush %s (%s)", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = GP_ERR(GP_E_IO, "checkpoint: cannot rename %s to %s (%s)", tmp, path, strerror(errno));
        goto fail;
    }
    gp_i_free(tmp);
    gp_i_free(b.data);
    return GP_OK;
fail:
    if (fd >= 0) close(fd);
    if (tmp && tmp[0]) unlink(tmp); /* harmless if mkstemp failed: the XXXXXX name does not exist */
    gp_i_free(tmp);
    gp_i_free(b.data);
    return st;
}

gp_status gp_module_save(const gp_module *m, const char *path)
{
    if (!m || !path || !*path) return GP_ERR(GP_E_INVALID, "gp_module_save: NULL argument");
    gp_param_list l;
    gp_status st = gp_module_params(&l, m, true);
    if (st == GP_OK) st = gp_i_tensors_save(&l, path);
    gp_param_list_free(&l);
    return st;
}

/* Whole file into memory. */
static gp_status read_file(unsigned char **out, size_t *len, const char *path)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return GP_ERR(GP_E_IO, "checkpoint: cannot open %s (%s)", path, strerror(errno));
    buf b = {0};
    unsigned char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (!buf_put(&b, chunk, n)) {
            fclose(f);
            gp_i_free(b.data);
            return GP_ERR(GP_E_NOMEM, "checkpoint: out of memory reading %s", path);
        }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        gp_i_free(b.data);
        return GP_ERR(GP_E_IO, "checkpoint: cannot read %s", path);
    }
    *out = b.data;
    *len = b.len;
    return GP_OK;
}

gp_status gp_i_tensors_load(const gp_param_list *lp, const char *path)
{
    if (!lp || !path) return GP_ERR(GP_E_INVALID, "checkpoint: NULL argument");
    const gp_param_list l = *lp;
    gp_status st = GP_OK;
    unsigned char *d = NULL;
    size_t len = 0;
    size_t *offset = NULL; /* per module tensor: where its values start in d, 0 = not seen */
    GP_TRY(read_file(&d, &len, path));
    if (len < sizeof MAGIC + 12 || memcmp(d, MAGIC, sizeof MAGIC) != 0) {
        st = GP_ERR(GP_E_PARSE, "checkpoint %s: not a graphpool checkpoint (%s)", path,
                    len < sizeof MAGIC + 12 ? "too short" : "bad magic");
        goto fail;
    }
    size_t body = len - 4;
    uint32_t stored = (uint32_t)get_le(d + body, 4), actual = crc32_update(0, d, body);
    if (stored != actual) {
        st = GP_ERR(GP_E_PARSE, "checkpoint %s: checksum mismatch (stored %08x, computed %08x): "
                    "the file is damaged or truncated", path, stored, actual);
        goto fail;
    }
    uint32_t version = (uint32_t)get_le(d + 8, 4), count = (uint32_t)get_le(d + 12, 4);
    if (version != CKPT_VERSION) {
        st = GP_ERR(GP_E_PARSE, "checkpoint %s: version %u, this library reads %d", path, version,
                    CKPT_VERSION);
        goto fail;
    }
    offset = gp_i_calloc((size_t)(l.count > 0 ? l.count : 1), sizeof *offset);
    if (!offset) {
        st = GP_ERR(GP_E_NOMEM, "checkpoint: out of memory");
        goto fail;
    }
    size_t pos = sizeof MAGIC + 8;
    for (uint32_t e = 0; e < count; e++) {
        if (body - pos < 4) goto truncated;
        size_t nlen = (size_t)get_le(d + pos, 4);
        pos += 4;
        if (body - pos < nlen + 16) goto truncated;
        const char *name = (const char *)d + pos;
        pos += nlen;
        int64_t rows = (int64_t)get_le(d + pos, 8), cols = (int64_t)get_le(d + pos + 8, 8);
        pos += 16;
        int found = -1;
        for (int i = 0; i < l.count && found < 0; i++)
            if (strlen(l.names[i]) == nlen && memcmp(l.names[i], name, nlen) == 0) found = i;
        if (found < 0) {
            st = GP_ERR(GP_E_INVALID, "checkpoint %s: tensor '%.*s' is not in this model", path,
                        (int)(nlen > 200 ? 200 : nlen), name);
            goto fail;
        }
        const gp_tensor *x = l.tensors[found];
        if (rows != x->rows || cols != x->cols) {
            st = GP_ERR(GP_E_SHAPE,
                        "checkpoint %s: tensor '%s' is %lld x %lld in the file but %lld x %lld "
                        "in the model", path, l.names[found], (long long)rows, (long long)cols,
                        (long long)x->rows, (long long)x->cols);
            goto fail;
        }
        if (offset[found]) {
            st = GP_ERR(GP_E_PARSE, "checkpoint %s: tensor '%s' appears twice", path, l.names[found]);
            goto fail;
        }
        size_t bytes = (size_t)gp_tensor_size(x) * 4;
        if (body - pos < bytes) goto truncated;
        offset[found] = pos;
        pos += bytes;
    }
    if (pos != body) {
        st = GP_ERR(GP_E_PARSE, "checkpoint %s: %zu unexpected bytes after the last tensor", path, body - pos);
        goto fail;
    }
    for (int i = 0; i < l.count; i++)
        if (!offset[i]) {
            st = GP_ERR(GP_E_INVALID, "checkpoint %s: the model's tensor '%s' is missing", path, l.names[i]);
            goto fail;
        }
    for (int i = 0; i < l.count; i++) { /* everything checked: now write */
        gp_tensor *x = l.tensors[i];
        const unsigned char *src = d + offset[i];
        if (host_little_endian()) {
            memcpy(x->data, src, (size_t)gp_tensor_size(x) * 4);
        } else {
            for (int64_t k = 0; k < gp_tensor_size(x); k++) {
                uint32_t u = (uint32_t)get_le(src + 4 * k, 4);
                memcpy(&x->data[k], &u, 4);
            }
        }
    }
    st = GP_OK;
    goto done;
truncated:
    st = GP_ERR(GP_E_PARSE, "checkpoint %s: truncated (a tensor record runs past the end)", path);
fail:
done:
    gp_i_free(offset);
    gp_i_free(d);
    return st;
}

gp_status gp_module_load(gp_module *m, const char *path)
{
    if (!m || !path) return GP_ERR(GP_E_INVALID, "gp_module_load: NULL argument");
    gp_param_list l;
    gp_status st = gp_module_params(&l, m, true);
    if (st == GP_OK) st = gp_i_tensors_load(&l, path);
    gp_param_list_free(&l);
    return st;
}
