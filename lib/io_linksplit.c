/*
 * Fixed link-prediction split files (SEAL / WalkPool "--use-splitted", converted to text):
 * "<part> u v" per line, part in train_pos, train_neg, val_pos, val_neg, test_pos, test_neg.
 * Pairs are collected per part in file order, stored with u < v, and copied into a
 * gp_link_split of exactly the right size.
 */
#include <string.h>
#include <strings.h>

#include "io_text.h"
#include <graphpool/io.h>

const char *const gp_i_link_part_name[GP_LINK_PARTS] = {"train_pos", "train_neg", "val_pos",
                                                        "val_neg", "test_pos", "test_neg"};

gp_status gp_link_split_read(gp_link_split **out, const char *path, int64_t num_nodes)
{
    if (!out || !path) return GP_ERR(GP_E_INVALID, "gp_link_split_read: NULL argument");
    *out = NULL;
    if (num_nodes < 0) return GP_ERR(GP_E_INVALID, "gp_link_split_read: num_nodes %lld < 0", (long long)num_nodes);
    size_t n = strlen(path);
    if (n > 4 && !strcasecmp(path + n - 4, ".mat")) return gp_i_link_split_read_mat(out, path, num_nodes);
    gp_status st = GP_OK;
    gp_i_text *t = NULL;
    gp_i_vec pairs[GP_LINK_PARTS];
    memset(pairs, 0, sizeof pairs);
    gp_link_split *s = NULL;
    int64_t max_id = -1, lines = 0;
    GP_TRY(gp_i_text_open(&t, path));
    for (;;) {
        char *l;
        GP_TRY(gp_i_text_data(t, &l));
        if (!l) break;
        lines++;
        gp_i_cursor c = {l, false};
        const char *f = gp_i_field(&c);
        int p = 0;
        while (p < GP_LINK_PARTS && strcmp(f, gp_i_link_part_name[p]) != 0) p++;
        if (p == GP_LINK_PARTS) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "unknown part '%s' in column 1 (expected train_pos, train_neg, "
                              "val_pos, val_neg, test_pos or test_neg)", gp_i_quote(f));
            goto fail;
        }
        int64_t id[2];
        for (int j = 0; j < 2; j++) {
            f = gp_i_field(&c);
            if (!f || !*f) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "missing column %d (expected '<part> u v')", j + 2);
                goto fail;
            }
            if (!gp_i_parse_int(f, &id[j])) {
                st = GP_TEXT_FAIL(t, GP_E_PARSE, "bad number '%s' in column %d", gp_i_quote(f), j + 2);
                goto fail;
            }
            if (id[j] < 0) {
                st = GP_TEXT_FAIL(t, GP_E_RANGE, "negative node id %lld in column %d", (long long)id[j], j + 2);
                goto fail;
            }
            if (num_nodes > 0 && id[j] >= num_nodes) {
                st = GP_TEXT_FAIL(t, GP_E_RANGE, "node id %lld in column %d is out of range (%lld nodes)",
                                  (long long)id[j], j + 2, (long long)num_nodes);
                goto fail;
            }
            if (num_nodes == 0 && id[j] > GP_READ_MAX_ID) {
                st = GP_TEXT_FAIL(t, GP_E_RANGE, "node id %lld in column %d is above %lld, the largest id read "
                                  "without a node count (GP_READ_MAX_ID)", (long long)id[j], j + 2,
                                  (long long)GP_READ_MAX_ID);
                goto fail;
            }
        }
        if ((f = gp_i_field(&c))) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "unexpected column 4 ('%s'): expected '<part> u v'", gp_i_quote(f));
            goto fail;
        }
        if (id[0] == id[1]) {
            st = GP_TEXT_FAIL(t, GP_E_PARSE, "pair %lld %lld is a self-loop", (long long)id[0], (long long)id[1]);
            goto fail;
        }
        int64_t u = id[0] < id[1] ? id[0] : id[1], v = id[0] < id[1] ? id[1] : id[0];
        if (v > max_id) max_id = v;
        GP_TRY(gp_i_vec_push(&pairs[p], u));
        GP_TRY(gp_i_vec_push(&pairs[p], v));
    }
    if (lines == 0) {
        st = GP_ERR(GP_E_PARSE, "%s: empty file (no pairs)", path);
        goto fail;
    }
    int64_t count[GP_LINK_PARTS];
    for (int p = 0; p < GP_LINK_PARTS; p++) count[p] = pairs[p].n / 2;
    GP_TRY(gp_link_split_new(&s, num_nodes > 0 ? num_nodes : max_id + 1, count));
    for (int p = 0; p < GP_LINK_PARTS; p++)
        if (count[p]) memcpy(s->pairs[p], pairs[p].v, (size_t)pairs[p].n * sizeof(int64_t));
    *out = s;
fail:
    gp_i_text_close(&t);
    for (int p = 0; p < GP_LINK_PARTS; p++) gp_i_vec_free(&pairs[p]);
    return st;
}
