/*
 * Bidirectional id map: label -> id through an open-addressing hash table (linear probing,
 * load <= 1/2). A slot packs the upper 32 bits of the label's FNV-1a hash with id + 1, so a
 * probe touches the label bytes only on a 32-bit hash match; the full hashes are also kept
 * per id so growing never rehashes strings. Ids are below 2^32 - 1. id -> label
 * through an offset table into one character pool (labels NUL-terminated, so the id -> label
 * direction is a pointer, not a copy).
 */
#include <string.h>

#include "internal.h"
#include <graphpool/io.h>

struct gp_idmap {
    char *chars;       /* label bytes, each followed by NUL */
    size_t used, cap;
    int64_t *off;      /* off[id] = start of label id in chars */
    uint64_t *hash;    /* hash of label id */
    int64_t count, id_cap;
    uint64_t *slot;    /* (hash >> 32) << 32 | (id + 1); 0 = empty */
    uint64_t mask;     /* table size - 1 (power of 2) */
};

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 32);
}

gp_status gp_idmap_new(gp_idmap **out)
{
    if (!out) return GP_ERR(GP_E_INVALID, "gp_idmap_new: out is NULL");
    *out = NULL;
    gp_idmap *m = gp_i_calloc(1, sizeof *m);
    if (!m) return GP_ERR(GP_E_NOMEM, "gp_idmap_new: out of memory");
    m->mask = 1023;
    m->cap = 4096;
    m->id_cap = 256;
    m->slot = gp_i_calloc(m->mask + 1, sizeof(uint64_t));
    m->chars = gp_i_malloc(m->cap);
    m->off = gp_i_malloc((size_t)m->id_cap * sizeof(int64_t));
    m->hash = gp_i_malloc((size_t)m->id_cap * sizeof(uint64_t));
    if (!m->slot || !m->chars || !m->off || !m->hash) {
        gp_idmap_free(&m);
        return GP_ERR(GP_E_NOMEM, "gp_idmap_new: out of memory");
    }
    *out = m;
    return GP_OK;
}

void gp_idmap_free(gp_idmap **m)
{
    if (!m || !*m) return;
    gp_i_free((*m)->chars);
    gp_i_free((*m)->off);
    gp_i_free((*m)->hash);
    gp_i_free((*m)->slot);
    gp_i_free(*m);
    *m = NULL;
}

int64_t gp_idmap_size(const gp_idmap *m) { return m ? m->count : 0; }

const char *gp_idmap_label(const gp_idmap *m, int64_t id)
{
    if (!m || id < 0 || id >= m->count) return NULL;
    return m->chars + m->off[id];
}

static inline uint64_t slot_of(uint64_t h, int64_t id) { return (h >> 32) << 32 | (uint64_t)(id + 1); }
static inline int64_t slot_id(uint64_t e) { return (int64_t)(e & 0xffffffffu) - 1; }

/* Slot holding label (or the empty slot where it would go). */
static uint64_t probe(const gp_idmap *m, const char *s, size_t n, uint64_t h)
{
    uint64_t i = h & m->mask;
    for (;;) {
        uint64_t e = m->slot[i];
        if (e == 0) return i;
        if (e >> 32 == h >> 32) {
            const char *l = m->chars + m->off[slot_id(e)];
            if (strncmp(l, s, n) == 0 && l[n] == '\0') return i;
        }
        i = (i + 1) & m->mask;
    }
}

static gp_status grow_table(gp_idmap *m)
{
    uint64_t size = (m->mask + 1) * 2;
    uint64_t *slot = gp_i_calloc((size_t)size, sizeof(uint64_t));
    if (!slot) return GP_ERR(GP_E_NOMEM, "id map: out of memory for %llu slots", (unsigned long long)size);
    uint64_t mask = size - 1;
    for (int64_t id = 0; id < m->count; id++) {
        uint64_t i = m->hash[id] & mask;
        while (slot[i]) i = (i + 1) & mask;
        slot[i] = slot_of(m->hash[id], id);
    }
    gp_i_free(m->slot);
    m->slot = slot;
    m->mask = mask;
    return GP_OK;
}

gp_status gp_idmap_add(int64_t *id, bool *added, gp_idmap *m, const char *label, size_t len)
{
    if (!id || !m || (!label && len)) return GP_ERR(GP_E_INVALID, "gp_idmap_add: NULL argument");
    if (added) *added = false;
    if (memchr(label, '\0', len)) return GP_ERR(GP_E_INVALID, "gp_idmap_add: label contains NUL");
    uint64_t h = fnv1a(label, len);
    uint64_t i = probe(m, label, len, h);
    if (m->slot[i]) {
        *id = slot_id(m->slot[i]);
        return GP_OK;
    }
    if (m->count >= (int64_t)UINT32_MAX - 1)
        return GP_ERR(GP_E_RANGE, "id map: more than 2^32 - 2 labels");
    if (m->used + len + 1 > m->cap) {
        size_t ncap = m->cap * 2;
        while (ncap < m->used + len + 1) ncap *= 2;
        char *nc = gp_i_realloc(m->chars, ncap);
        if (!nc) return GP_ERR(GP_E_NOMEM, "id map: out of memory for labels");
        m->chars = nc;
        m->cap = ncap;
    }
    if (m->count == m->id_cap) {
        int64_t ncap = m->id_cap * 2;
        int64_t *no = gp_i_realloc(m->off, (size_t)ncap * sizeof(int64_t));
        if (!no) return GP_ERR(GP_E_NOMEM, "id map: out of memory for %lld ids", (long long)ncap);
        m->off = no;
        uint64_t *nh = gp_i_realloc(m->hash, (size_t)ncap * sizeof(uint64_t));
        if (!nh) return GP_ERR(GP_E_NOMEM, "id map: out of memory for %lld ids", (long long)ncap);
        m->hash = nh;
        m->id_cap = ncap;
    }
    int64_t nid = m->count;
    memcpy(m->chars + m->used, label, len);
    m->chars[m->used + len] = '\0';
    m->off[nid] = (int64_t)m->used;
    m->hash[nid] = h;
    m->used += len + 1;
    m->slot[i] = slot_of(h, nid);
    m->count++;
    if ((uint64_t)m->count * 2 > m->mask + 1) {
        gp_status st = grow_table(m);
        if (st != GP_OK) { /* undo: the map stays as it was */
            m->slot[i] = 0;
            m->count--;
            m->used -= len + 1;
            return st;
        }
    }
    *id = nid;
    if (added) *added = true;
    return GP_OK;
}

int64_t gp_idmap_find(const gp_idmap *m, const char *label)
{
    if (!m || !label) return -1;
    size_t n = strlen(label);
    uint64_t i = probe(m, label, n, fnv1a(label, n));
    return m->slot[i] ? slot_id(m->slot[i]) : -1;
}
