/*
 * Bidirectional id map: label -> id through an open-addressing hash table (linear probing,
 * load <= 1/2), id -> label through an offset table into one character pool.
 *
 * The pool holds one record per label: its id (4 bytes), the label bytes and a NUL, so
 * id -> label is a pointer, not a copy. A table slot packs the upper 32 bits of the label's
 * hash with the record's pool offset + 1: a lookup touches the slot and, on a 32-bit hash
 * match, one record (label and id side by side): two cache misses for a large map, not
 * three. The full hashes are kept per id so growing never rehashes strings. Limits: fewer
 * than 2^32 - 1 labels, a pool below 4 GiB.
 * Hash: FNV-1a with a splitmix64 finaliser (FNV's low bits depend only on the inputs' low
 * bits, and digit strings differ in 4 bits per byte).
 */
#include <string.h>

#include "io_text.h"
#include <graphpool/io.h>

struct gp_idmap {
    char *chars;       /* records: uint32 id, label bytes, NUL */
    size_t used, cap;
    int64_t *off;      /* off[id] = offset of label id's bytes in chars */
    uint64_t *hash;    /* hash of label id */
    int64_t count, id_cap;
    uint64_t *slot;    /* (hash >> 32) << 32 | (record offset + 1); 0 = empty */
    uint64_t mask;     /* table size - 1 (power of 2) */
};

enum { ID_BYTES = 4 };
#define POOL_MAX ((size_t)UINT32_MAX - 1)

static uint64_t label_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

static inline uint64_t slot_of(uint64_t h, size_t record) { return (h >> 32) << 32 | (uint64_t)(record + 1); }
static inline size_t slot_record(uint64_t e) { return (size_t)(e & 0xffffffffu) - 1; }
static inline int64_t record_id(const gp_idmap *m, size_t record)
{
    uint32_t id;
    memcpy(&id, m->chars + record, sizeof id);
    return (int64_t)id;
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

/* Slot holding label (or the empty slot where it would go). */
static uint64_t probe(const gp_idmap *m, const char *s, size_t n, uint64_t h)
{
    uint64_t i = h & m->mask;
    for (;;) {
        uint64_t e = m->slot[i];
        if (e == 0) return i;
        if (e >> 32 == h >> 32) {
            const char *l = m->chars + slot_record(e) + ID_BYTES;
            if (strncmp(l, s, n) == 0 && l[n] == '\0') return i;
        }
        i = (i + 1) & m->mask;
    }
}

static gp_status grow_table(gp_idmap *m)
{
    uint64_t size = (m->mask + 1) * 2;
    size_t bytes = (size_t)size * sizeof(uint64_t);
    uint64_t *slot = gp_i_malloc(bytes);
    if (!slot) return GP_ERR(GP_E_NOMEM, "id map: out of memory for %llu slots", (unsigned long long)size);
    gp_i_advise_huge(slot, bytes);
    memset(slot, 0, bytes);
    uint64_t mask = size - 1;
    for (int64_t id = 0; id < m->count; id++) {
        uint64_t i = m->hash[id] & mask;
        while (slot[i]) i = (i + 1) & mask;
        slot[i] = slot_of(m->hash[id], (size_t)m->off[id] - ID_BYTES);
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
    uint64_t h = label_hash(label, len);
    uint64_t i = probe(m, label, len, h);
    if (m->slot[i]) {
        *id = record_id(m, slot_record(m->slot[i]));
        return GP_OK;
    }
    size_t rec = ID_BYTES + len + 1;
    if (m->count >= (int64_t)UINT32_MAX - 1 || m->used + rec > POOL_MAX)
        return GP_ERR(GP_E_RANGE, "id map: more than 2^32 - 2 labels or 4 GiB of label text");
    if (m->used + rec > m->cap) {
        size_t ncap = m->cap * 2;
        while (ncap < m->used + rec) ncap *= 2;
        char *nc = gp_i_realloc(m->chars, ncap);
        if (!nc) return GP_ERR(GP_E_NOMEM, "id map: out of memory for labels");
        gp_i_advise_huge(nc, ncap);
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
    uint32_t id32 = (uint32_t)nid;
    size_t at = m->used;
    memcpy(m->chars + at, &id32, sizeof id32);
    memcpy(m->chars + at + ID_BYTES, label, len);
    m->chars[at + ID_BYTES + len] = '\0';
    m->off[nid] = (int64_t)(at + ID_BYTES);
    m->hash[nid] = h;
    m->used += rec;
    m->slot[i] = slot_of(h, at);
    m->count++;
    if ((uint64_t)m->count * 2 > m->mask + 1) {
        gp_status st = grow_table(m);
        if (st != GP_OK) { /* undo: the map stays as it was */
            m->slot[i] = 0;
            m->count--;
            m->used -= rec;
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
    uint64_t i = probe(m, label, n, label_hash(label, n));
    return m->slot[i] ? record_id(m, slot_record(m->slot[i])) : -1;
}
