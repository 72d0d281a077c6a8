/*
 * Training states: everything a training loop needs to continue after a stop exactly as if it
 * had not stopped (the model's tensors, their copy at the best epoch so far, the optimiser's
 * moments and step count, the random streams, the sample order, the epoch and the selection
 * so far), saved after an epoch and loaded before the next.
 *
 * The file is a checkpoint (module.h format: named float32 tensors, CRC-32, written to a
 * temporary file and renamed into place, so a stop while saving leaves the previous state):
 *   model.<name>   every tensor of the list `all` (parameters, then buffers)
 *   best.<name>    the same at the best epoch
 *   adam.m.<name>, adam.v.<name>   the optimiser's moments of the trainable ones (those it keeps)
 *   order          1 x n: the sample order, one 32-bit word per entry
 *   meta           1 x k: 32-bit words: version, the run's 32-byte fingerprint, epoch, best
 *                  epoch, optimiser step (2 words), best_val, val_auc, val_ap, test_auc,
 *                  test_ap (2 words each, IEEE double), the number of random streams, then
 *                  each stream's 4 x 64-bit state.
 * "order" and "meta" carry integer bits in float slots (copied with memcpy, never computed on).
 * Loading checks the whole file and the fingerprint before it changes the model, the random
 * streams or the order; the best copy and the moments are read in place and put back on failure
 * (the moments to zero: load into a fresh optimiser).
 */
#include <stdio.h>
#include <string.h>

#include <graphpool/module.h>
#include <graphpool/optim.h>

#include "internal.h"

enum { STATE_VERSION = 1, META_FIXED = 24 }; /* words before the random streams */

static int64_t meta_words(const gp_i_train_state *s) { return META_FIXED + 8 * (int64_t)s->nrngs; }

static void put_u64(uint32_t *w, uint64_t v)
{
    w[0] = (uint32_t)v;
    w[1] = (uint32_t)(v >> 32);
}

static uint64_t get_u64(const uint32_t *w) { return (uint64_t)w[0] | (uint64_t)w[1] << 32; }

static void put_f64(uint32_t *w, double x)
{
    uint64_t v;
    memcpy(&v, &x, 8);
    put_u64(w, v);
}

static double get_f64(const uint32_t *w)
{
    uint64_t v = get_u64(w);
    double x;
    memcpy(&x, &v, 8);
    return x;
}

/* The named tensors of a state file over the given storage: model values from `model` (n
 * floats laid out as s->all, or NULL for the live tensors), moments from the optimiser. */
typedef struct state_list {
    gp_param_list list;
    gp_tensor *views;
} state_list;

static void state_list_free(state_list *l)
{
    for (int i = 0; i < l->list.count; i++) gp_i_free(l->list.names[i]);
    gp_i_free(l->list.names);
    gp_i_free(l->list.tensors);
    gp_i_free(l->views);
    memset(l, 0, sizeof *l);
}

static gp_status add(state_list *l, int cap, const char *prefix, const char *name, float *data, int64_t rows,
                     int64_t cols)
{
    if (l->list.count >= cap) return GP_ERR(GP_E_STATE, "train state: too many tensors");
    size_t len = strlen(prefix) + strlen(name) + 1;
    char *full = gp_i_malloc(len);
    if (!full) return GP_ERR(GP_E_NOMEM, "train state: out of memory");
    snprintf(full, len, "%s%s", prefix, name);
    int i = l->list.count++;
    l->list.names[i] = full;
    l->views[i] = gp_tensor_view(data, rows, cols);
    l->list.tensors[i] = &l->views[i];
    return GP_OK;
}

static gp_status state_list_new(state_list *l, const gp_i_train_state *s, float *model, float *order,
                                float *meta)
{
    memset(l, 0, sizeof *l);
    int cap = 4 * s->all->count + 2; /* model, best and two moments each; order, meta */
    l->list.names = gp_i_calloc((size_t)cap, sizeof *l->list.names);
    l->list.tensors = gp_i_calloc((size_t)cap, sizeof *l->list.tensors);
    l->views = gp_i_calloc((size_t)cap, sizeof *l->views);
    if (!l->list.names || !l->list.tensors || !l->views) {
        state_list_free(l);
        return GP_ERR(GP_E_NOMEM, "train state: out of memory");
    }
    gp_status st = GP_OK;
    int64_t off = 0;
    for (int i = 0; i < s->all->count && st == GP_OK; i++) {
        gp_tensor *t = s->all->tensors[i];
        int64_t size = gp_tensor_size(t);
        st = add(l, cap, "model.", s->all->names[i], model ? model + off : t->data, t->rows, t->cols);
        if (st == GP_OK) st = add(l, cap, "best.", s->all->names[i], s->best + off, t->rows, t->cols);
        for (int which = 0; which < 2 && st == GP_OK && i < s->nparams; which++) {
            float *mom = gp_optim_moment(s->opt, which, i);
            if (mom) st = add(l, cap, which == 0 ? "adam.m." : "adam.v.", s->all->names[i], mom, t->rows, t->cols);
        }
        off += size;
    }
    if (st == GP_OK) st = add(l, cap, "", "order", order, 1, s->count > 0 ? s->count : 1);
    if (st == GP_OK) st = add(l, cap, "", "meta", meta, 1, meta_words(s));
    if (st != GP_OK) state_list_free(l);
    return st;
}

static int64_t all_size(const gp_param_list *all)
{
    int64_t n = 0;
    for (int i = 0; i < all->count; i++) n += gp_tensor_size(all->tensors[i]);
    return n;
}

gp_status gp_i_train_state_save(const gp_i_train_state *s, const char *path)
{
    int64_t nmeta = meta_words(s), norder = s->count > 0 ? s->count : 1;
    uint32_t *meta = gp_i_calloc((size_t)nmeta, 4), *order = gp_i_calloc((size_t)norder, 4);
    if (!meta || !order) {
        gp_i_free(meta);
        gp_i_free(order);
        return GP_ERR(GP_E_NOMEM, "train state: out of memory");
    }
    meta[0] = STATE_VERSION;
    memcpy(meta + 1, s->fingerprint, 32);
    meta[9] = (uint32_t)s->epoch;
    meta[10] = (uint32_t)s->best_epoch;
    put_u64(meta + 11, (uint64_t)gp_optim_get_step(s->opt));
    const double d[5] = {s->best_val, s->val_auc, s->val_ap, s->test_auc, s->test_ap};
    for (int i = 0; i < 5; i++) put_f64(meta + 13 + 2 * i, d[i]);
    meta[23] = (uint32_t)s->nrngs;
    for (int r = 0; r < s->nrngs; r++)
        for (int k = 0; k < 4; k++) put_u64(meta + META_FIXED + 8 * r + 2 * k, s->rngs[r]->s[k]);
    for (int64_t i = 0; i < s->count; i++) order[i] = (uint32_t)s->order[i];
    state_list l;
    gp_status st = state_list_new(&l, s, NULL, (float *)order, (float *)meta);
    if (st == GP_OK) st = gp_i_tensors_save(&l.list, path);
    state_list_free(&l);
    gp_i_free(meta);
    gp_i_free(order);
    return st;
}

gp_status gp_i_train_state_load(gp_i_train_state *s, const char *path)
{
    int64_t nmeta = meta_words(s), norder = s->count > 0 ? s->count : 1, nmodel = all_size(s->all);
    uint32_t *meta = gp_i_calloc((size_t)nmeta, 4), *order = gp_i_calloc((size_t)norder, 4);
    float *model = gp_i_malloc((size_t)(nmodel > 0 ? nmodel : 1) * sizeof(float));
    /* the best copy and the moments are loaded in place: keep them to put back on failure */
    float *best = gp_i_malloc((size_t)(nmodel > 0 ? nmodel : 1) * sizeof(float));
    state_list l = {0};
    gp_status st = GP_OK;
    if (!meta || !order || !model || !best) GP_TRY(GP_ERR(GP_E_NOMEM, "train state: out of memory"));
    memcpy(best, s->best, (size_t)nmodel * sizeof(float));
    GP_TRY(state_list_new(&l, s, model, (float *)order, (float *)meta));
    st = gp_i_tensors_load(&l.list, path);
    if (st == GP_E_SHAPE || st == GP_E_INVALID) /* another model, thread count or sample count */
        st = GP_ERR(GP_E_INVALID, "%s holds the state of another run (%s)", path, gp_last_error_message());
    if (st == GP_OK && meta[0] != STATE_VERSION)
        st = GP_ERR(GP_E_PARSE, "%s: training state version %u, this library writes %d", path, meta[0], STATE_VERSION);
    if (st == GP_OK && memcmp(meta + 1, s->fingerprint, 32) != 0)
        st = GP_ERR(GP_E_INVALID, "%s holds the state of another run (different data, options, thread count or "
                    "starting weights)", path);
    if (st == GP_OK && (meta[23] != (uint32_t)s->nrngs || meta[10] > meta[9]))
        st = GP_ERR(GP_E_PARSE, "%s: inconsistent training state", path);
    if (st == GP_OK && meta[9] > (uint32_t)s->max_epoch)
        st = GP_ERR(GP_E_INVALID, "%s holds %u completed epochs, more than the %d of this run", path, meta[9],
                    s->max_epoch);
    for (int64_t i = 0; i < s->count && st == GP_OK; i++)
        if (order[i] >= (uint64_t)s->count) st = GP_ERR(GP_E_PARSE, "%s: sample order entry %lld out of range", path,
                                                        (long long)i);
    if (st != GP_OK) { /* the moments are zero before the first step: put them and the best copy back */
        memcpy(s->best, best, (size_t)nmodel * sizeof(float));
        for (int i = 0; i < s->nparams; i++)
            for (int which = 0; which < 2; which++) {
                float *mom = gp_optim_moment(s->opt, which, i);
                if (mom) memset(mom, 0, (size_t)gp_tensor_size(s->all->tensors[i]) * sizeof(float));
            }
        goto fail;
    }
    int64_t off = 0;
    for (int i = 0; i < s->all->count; i++) {
        gp_tensor *t = s->all->tensors[i];
        memcpy(t->data, model + off, (size_t)gp_tensor_size(t) * sizeof(float));
        off += gp_tensor_size(t);
    }
    s->epoch = (int)meta[9];
    s->best_epoch = (int)meta[10];
    gp_optim_set_step(s->opt, (long)get_u64(meta + 11));
    double *d[5] = {&s->best_val, &s->val_auc, &s->val_ap, &s->test_auc, &s->test_ap};
    for (int i = 0; i < 5; i++) *d[i] = get_f64(meta + 13 + 2 * i);
    for (int r = 0; r < s->nrngs; r++)
        for (int k = 0; k < 4; k++) s->rngs[r]->s[k] = get_u64(meta + META_FIXED + 8 * r + 2 * k);
    for (int64_t i = 0; i < s->count; i++) s->order[i] = (int64_t)order[i];
fail:
    state_list_free(&l);
    gp_i_free(meta);
    gp_i_free(order);
    gp_i_free(model);
    gp_i_free(best);
    return st;
}
