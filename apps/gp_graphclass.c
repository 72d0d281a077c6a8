/*
 * gp-graphclass: graph classification on TU datasets with any pooling operator (graphpool/pool.h),
 * under one protocol so operators compare on equal terms.
 *
 * Model: [optional encoder] -> B blocks of (message passing layer + ReLU -> pooling) ->
 * readouts (after each block's pooling, summed over blocks as in Cangea et al. 2018, or only the
 * last: --jk last) -> MLP (ReLU, dropout, optional LayerNorm) -> log-softmax; NLL loss, Adam (L2
 * weight decay). Encoder: linear + ReLU (--encoder) or the official GPN input MLP (--encoder=mlp:
 * linear, LayerNorm, ReLU, dropout, linear). --blocks 0 with a readout operator (gpn, gnp, ...)
 * reads out the encoded input directly (the official GPN layout: encoder -> GPN -> MLP).
 * --pool names a coarsening operator (topk, sagpool, ...: applied after every block; the readout is
 * --readout) or a readout operator (sum, mean, max, meanmax, gnp, ...: no coarsening, that operator
 * is the readout), or "none" (no coarsening, --readout).
 *
 * Node features (--features auto): one-hot node labels if the dataset has them, else the node
 * attributes, else one-hot degree (degree capped at 256) -- or normalised degree for datasets whose
 * maximum degree is above 256. The choice is reported. --features all: labels and attributes where
 * the dataset has them plus the degree (the official GPN input); or any of labels, attr, degree,
 * degree-norm, ones joined by '+' (apps/node_features.h).
 *
 * Protocol: k-fold stratified cross-validation (--folds, default 10) with a stratified validation
 * split (--val-ratio, default 0.1) carved from each fold's training part (Errica et al. 2020), or the
 * dataset's fixed 10fold_idx files (--fold-files). Each fold trains with early stopping on the
 * validation loss (--patience; the test accuracy is that of the epoch with the best validation loss,
 * earliest on ties) and reports its test accuracy; then mean and standard deviation over folds.
 * --select acc uses the validation accuracy instead (ties: lower validation loss, then earliest),
 * for both the kept epoch and the patience.
 * --pool a,b,c runs every operator on the same folds with the same seeds and prints one table.
 * --grid selects hyper-parameters per fold on the validation split, as Errica et al. do, and
 * --final-runs R > 1 trains the chosen model R times per fold (their R = 3: fresh trainings of
 * the selected configuration with a grid; without one, the fold's run and R - 1 more) and reports
 * the mean test accuracy of the R runs as the fold's accuracy.
 * --fold-range A-B runs some of the folds with the splits and seeds of the whole run; --resume FILE
 * logs every finished fold (apps/fold_log.h) and takes the folds already logged for the same
 * options, so long runs continue after a stop and chunks combine into the whole table.
 *
 * Output: progress on stderr; the table on stdout (or JSON with --json): per fold accuracy, mean,
 * std, mean training epoch time (wall and process CPU ms, epoch 1 excluded) and peak RSS. --save PATH writes the model of the
 * last fold (PATH, gp_module_save) and its configuration (PATH.meta); --load PATH with --predict DIR
 * (a TU folder; its NAME_graph_labels.txt must exist, its values are ignored) writes one line per
 * graph: index, predicted class value, class probabilities.
 * Training options: --clip-norm X scales the gradients to global L2 norm <= X before every step;
 * --gnp-lr LR trains GNP's p and q (tensors named "gnp") with a second Adam at rate LR and no
 * weight decay (extrapolation needs them to move faster than the other weights);
 * --cosine uses lr_t = gp_lr_cosine(lr, t, warmup, total) per step (linear warm-up over
 * --warmup-epochs, then cosine to 0 at --epochs; the HF get_cosine_schedule_with_warmup).
 * --preset gpn-PROTEINS|gpn-NCI1|gpn-NCI109|gpn-DD (or gpn: chosen by dataset name) sets the
 * official GPN model (input MLP -> GPN -> MLP with LayerNorm, --blocks 0) and per-dataset
 * hyper-parameters (research notes gpn_nodedrop.md A4, A6) as defaults, with its input features
 * (--features all: one-hot labels, attributes, one-hot degree); options given on the command line
 * override them. --preset topk-PROTEINS|topk-DD|topk-ENZYMES|topk-COLLAB (or topk: by dataset name)
 * sets Cangea et al.'s per-dataset width, learning rate and epoch count for the default (their)
 * top-k model, with --patience 0. --write-parse DIR writes, after training, the GPN parse hierarchy
 * of every graph of the dataset (last fold's model) as DIR/graph_<i>.json (i = 1-based graph index;
 * gp_gpn_hierarchy_write_json), each through a temporary file renamed into place.
 * Exit status: 0 ok, 1 failure, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <graphpool/gpn.h>
#include <graphpool/graphpool.h>
#include <graphpool/io.h>
#include <graphpool/layers.h>
#include <graphpool/metrics.h>
#include <graphpool/pool.h>
#include <graphpool/splits.h>

#include "app_duration.h"
#include "app_json.h"
#include "app_output.h"
#include "app_openmp.h"
#include "fold_log.h"
#include "grid.h"
#include "node_features.h"

/* MAX_WIDTH bounds --hidden and --mlp (as gp-linkpred's --hidden): a typo such as 2000000000 would
 * otherwise allocate and touch tens of GB before any error. */
enum { MAX_POOLS = 16, MAX_BLOCKS = 8, MAX_MLP = 8, MAX_WIDTH = 4096, MAX_FINAL_RUNS = 16 };

typedef struct options {
    const char *dataset, *data_dir, *layer, *readout, *jk, *features, *save, *load, *predict, *output;
    const char *preset, *write_parse;
    const char *resume; /* --resume FILE: the fold log (fold_log.h) */
    char key[4096];     /* the run's key in the fold log: the options that change results */
    grid grid; /* --grid: per-fold model selection over these settings (num_keys 0: none) */
    char *pools[MAX_POOLS];
    int num_pools;
    int hidden, blocks, epochs, patience, batch, eval_batch, threads, warmup_epochs;
    int final_runs; /* --final-runs R: trainings per fold whose test accuracies are averaged */
    int folds, max_folds, first_fold, last_fold; /* --fold-range A-B: first_fold A, last_fold B (0: all) */
    int64_t mlp[MAX_MLP];
    int num_mlp;
    double ratio, dropout, lr, weight_decay, val_ratio, clip_norm;
    double gnp_lr; /* > 0: GNP's p and q train with their own Adam at this rate, no decay */
    unsigned long seed;
    bool fold_files, json, quiet, cosine;
    int encoder;  /* ENC_NONE, ENC_LINEAR (linear + ReLU), ENC_MLP (linear, LayerNorm, ReLU, dropout, linear) */
    int mlp_norm; /* GP_NORM_NONE or GP_NORM_LAYER between the output MLP's layers */
    bool select_acc; /* --select acc: keep the epoch of best validation accuracy (not loss) */
} options;

enum { ENC_NONE = 0, ENC_LINEAR = 1, ENC_MLP = 2 };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gp-graphclass [--dataset] NAME|DIR [options]\n"
            "  --dataset NAME|DIR    TU dataset name in the data directory, or a TU folder\n"
            "  --data-dir DIR        data directory (default $GP_DATA_DIR, ...)\n"
            "  --layer graphconv|gcn|gin|sage|gat|gnpconv   message passing (default graphconv)\n"
            "  --hidden N            width (default 128)\n"
            "  --blocks N            blocks of (layer -> pooling) (default 3); 0 with a readout\n"
            "                        operator (e.g. gpn, gnp): readout of the encoded input\n"
            "  --encoder[=linear|mlp]  input encoder before the blocks: linear + ReLU, or the\n"
            "                        official GPN input MLP (linear, LayerNorm, ReLU, dropout, linear)\n"
            "  --pool SPEC[,SPEC]    pooling operator(s), e.g. topk, sagpool:ratio=0.5, gnp, none\n"
            "                        (default topk); several are compared on the same folds\n"
            "  --ratio R             keep ratio for node-drop operators without ratio= (default 0.8)\n"
            "  --readout SPEC        readout after coarsening operators (default maxmean)\n"
            "  --jk sum|last         sum the readouts of all blocks (default) or the last only\n"
            "  --mlp N,N,...         MLP hidden widths (default 128,64)\n"
            "  --mlp-norm none|layer LayerNorm between the MLP's layers (default none)\n"
            "  --dropout P           MLP dropout (default 0.5)\n"
            "  --lr X                Adam learning rate (default 5e-4)\n"
            "  --weight-decay X      L2 penalty (default 0)\n"
            "  --batch-size N        (default 60)\n"
            "  --eval-batch-size N   graphs per batch when scoring validation and test graphs\n"
            "                        (default 256; smaller needs less memory)\n"
            "  --epochs N            maximum epochs (default 100)\n"
            "  --patience N          early stopping on validation loss (default 20, 0 = off)\n"
            "  --select loss|acc     what the kept epoch and --patience go by: validation loss\n"
            "                        (default) or accuracy (ties: lower loss, then earliest)\n"
            "  --clip-norm X         clip the gradients' global L2 norm to X (default 0 = off)\n"
            "  --gnp-lr LR           p and q of every GNP operator (readout or aggregation) train\n"
            "                        with their own Adam at rate LR, without weight decay (default:\n"
            "                        with the other weights); 0.2 extrapolates best in\n"
            "                        docs/benchmarks.md, \"GNP extrapolation\"\n"
            "  --cosine              cosine learning-rate schedule per step, to 0 at --epochs\n"
            "  --warmup-epochs N     linear warm-up of --cosine (default 0)\n"
            );
    /* two literals: one would pass the 4095 characters ISO C guarantees */
    fprintf(f,
            "  --preset gpn|gpn-PROTEINS|gpn-NCI1|gpn-NCI109|gpn-DD\n"
            "                        official GPN model and hyper-parameters (gpn: by dataset name):\n"
            "                        --encoder=mlp --blocks 0 --pool gpn:... --mlp HIDDEN --mlp-norm layer,\n"
            "                        hidden, dropout,\n"
            "                        lr, weight decay 1e-4, batch size, --epochs 500 --patience 50,\n"
            "                        --clip-norm 1, --cosine --warmup-epochs 50 (not NCI109),\n"
            "                        --features all (the official input);\n"
            "  --preset topk|topk-PROTEINS|topk-DD|topk-ENZYMES|topk-COLLAB\n"
            "                        Cangea et al.'s per-dataset top-k settings (topk: by dataset\n"
            "                        name): --pool topk --ratio 0.8, hidden, lr, epochs (PROTEINS\n"
            "                        64, 5e-3, 40; DD 64, 5e-4, 20; ENZYMES 128, 5e-4, 100; COLLAB\n"
            "                        128, 5e-4, 30), --patience 0 (every epoch trained; the one with\n"
            "                        the best validation loss kept), the default model otherwise;\n"
            "                        options on the command line override the preset\n"
            "  --write-parse DIR     after training, write the GPN parse hierarchy (cluster of every\n"
            "                        node per level) of each graph as DIR/graph_<i>.json (last fold's\n"
            "                        model; DIR must exist)\n"
            "  --final-runs R        train each fold's model R times (different seeds) and report\n"
            "                        the mean test accuracy of the R runs (default 1; Errica et\n"
            "                        al. use 3); with --grid and R > 1, R fresh trainings of the\n"
            "                        selected configuration (the selection runs not counted)\n"
            "  --grid KEY=V/V[,KEY=V/V...]  model selection in every fold: train each combination\n"
            "                        on the fold's training part, keep the one with the best\n"
            "                        validation accuracy (ties: lower validation loss), report its\n"
            "                        test accuracy (Errica et al. 2020); keys: lr, weight-decay,\n"
            "                        hidden, blocks, dropout, batch-size, ratio, epochs, layer,\n"
            "                        readout, jk; e.g. --grid lr=5e-4/5e-3,hidden=64/128\n"
            "  --folds K             stratified K-fold CV (default 10)\n"
            "  --fold-files          use the dataset's 10fold_idx files\n"
            "  --val-ratio R         validation share of each training part (default 0.1)\n"
            "  --max-folds N         run only the first N folds\n"
            "  --fold-range A-B      run only folds A..B (1-based; each fold's split and seed are\n"
            "                        those of the full run, so ranges run apart give its numbers)\n"
            "  --resume FILE         append each finished fold's result to FILE (one JSON line) and\n"
            "                        take the folds FILE already holds for these options instead of\n"
            "                        training them: a stopped run continues, and --fold-range chunks\n"
            "                        logged to one FILE (also at the same time) give the whole table\n"
            "                        when run again without --fold-range (the log does not know the\n"
            "                        program's version: start a new FILE after changing the code)\n"
            "  --features auto|all|PARTS  PARTS: labels, attr, degree, degree-norm, ones joined by '+'\n"
            "  --seed S              (default 1)\n"
            "  --threads T           (default 1)\n"
            "  --json                results as JSON on stdout\n"
            "  --save PATH           save the last fold's model (and PATH.meta)\n"
            "  --load PATH --predict DIR [--output FILE]   class probabilities for a TU folder\n"
            "  --quiet               no progress on stderr\n");
}

static double now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- the model ---- */

typedef struct model {
    gp_module *root; /* container owning everything below */
    gp_module *expand; /* expanding operator (rp, klgnn): runs on the input batch */
    gp_module *encoder, *conv[MAX_BLOCKS], *pool[MAX_BLOCKS], *readout[MAX_BLOCKS], *mlp;
    gp_pool_batch expanded; /* the expanded batch of the last forward */
    int blocks;       /* 0: readout[0] reads the encoded input */
    int encoder_kind; /* ENC_* */
    bool jk_sum;
    gp_pool_batch batches[MAX_BLOCKS]; /* coarsened batches of the last forward */
} model;

static gp_tensor *container_forward(gp_module *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    (void)m, (void)t, (void)g, (void)x; /* the container only owns the model's modules */
    return NULL;
}
static const gp_module_ops container_ops = {"graphclass", container_forward, NULL, NULL};

static gp_status add_child(model *md, gp_module **slot, gp_module *child)
{
    gp_module *c = child;
    gp_status st = gp_module_add_child(md->root, &c);
    if (st != GP_OK) {
        gp_module_free(&c);
        return st;
    }
    *slot = child;
    return GP_OK;
}

static gp_status make_conv(gp_module **out, const char *layer, int64_t in, int64_t hid, gp_rng *rng)
{
    if (!strcmp(layer, "graphconv")) return gp_graphconv_new(out, in, hid, GP_AGGR_SUM, true, rng);
    if (!strcmp(layer, "gcn")) return gp_gcn_new(out, in, hid, true, rng);
    if (!strcmp(layer, "sage")) return gp_sage_new(out, in, hid, NULL, rng);
    if (!strcmp(layer, "gat")) return gp_gat_new(out, in, hid, NULL, rng);
    if (!strcmp(layer, "gnpconv")) return gp_gnpconv_new(out, in, hid, false, 1.0f, 0.0f, rng);
    if (!strcmp(layer, "gin")) {
        gp_module *mlp = NULL;
        gp_mlp_options mo = {GP_ACT_RELU, 0.0f, GP_NORM_BATCH};
        gp_status st = gp_mlp_new(&mlp, in, 1, (int64_t[]){hid}, hid, &mo, rng);
        if (st != GP_OK) return st;
        st = gp_gin_new(out, &mlp, &(gp_gin_options){0.0f, false}, rng);
        gp_module_free(&mlp);
        return st;
    }
    fprintf(stderr, "gp-graphclass: unknown --layer %s\n", layer);
    return GP_E_INVALID;
}

/* The pool spec with ratio=R appended for node-drop operators that do not set it. */
static void pool_spec_with_ratio(char *buf, size_t size, const char *spec, double ratio)
{
    const gp_pool_class *cls = NULL;
    char name[64];
    size_t n = strcspn(spec, ":");
    snprintf(name, sizeof name, "%.*s", (int)(n < 63 ? n : 63), spec);
    cls = gp_pool_class_find(name);
    bool node_drop = cls && (!strcmp(cls->name, "topk") || !strcmp(cls->name, "sagpool"));
    if (node_drop && !strstr(spec, "ratio="))
        snprintf(buf, size, "%s%sratio=%g", spec, spec[n] ? "," : ":", ratio);
    else
        snprintf(buf, size, "%s", spec);
}

static void model_free(model *md)
{
    for (int b = 0; b < MAX_BLOCKS; b++) gp_pool_batch_release(&md->batches[b]);
    gp_pool_batch_release(&md->expanded);
    gp_module_free(&md->root);
    memset(md, 0, sizeof *md);
}

static gp_status model_new(model *md, const options *o, const char *pool_spec, int64_t in_dim,
                           int64_t classes, uint64_t seed)
{
    memset(md, 0, sizeof *md);
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    gp_status st;
    gp_module *tmp = NULL;
    st = gp_module_alloc(&md->root, &container_ops, in_dim, classes, 0, &rng);
    if (st != GP_OK) return st;
    md->blocks = o->blocks;
    md->jk_sum = strcmp(o->jk, "last") != 0;
    int64_t width = in_dim;
    char spec[256];
    pool_spec_with_ratio(spec, sizeof spec, pool_spec, o->ratio);
    bool coarsen = false, expand = false, has_readout = false;
    if (strcmp(pool_spec, "none") != 0) {
        /* probe the operator's kind */
        if ((st = gp_pool_new(&tmp, spec, o->hidden, &rng)) != GP_OK) goto fail;
        coarsen = gp_pool_caps(tmp) & GP_POOL_COARSEN;
        expand = gp_pool_caps(tmp) & GP_POOL_EXPAND;
        has_readout = gp_pool_caps(tmp) & GP_POOL_READOUT;
        gp_module_free(&tmp);
    }
    if (expand) {
        if ((st = gp_pool_new(&tmp, spec, width, &rng)) != GP_OK) goto fail;
        if ((st = add_child(md, &md->expand, tmp)) != GP_OK) goto fail;
        width = gp_pool_node_dim(md->expand);
    }
    md->encoder_kind = o->encoder;
    if (o->encoder == ENC_LINEAR) {
        if ((st = gp_linear_new(&tmp, width, o->hidden, true, &rng)) != GP_OK) goto fail;
        if ((st = add_child(md, &md->encoder, tmp)) != GP_OK) goto fail;
        width = o->hidden;
    } else if (o->encoder == ENC_MLP) {
        int64_t hid[1] = {o->hidden};
        gp_mlp_options eo = {GP_ACT_RELU, (float)o->dropout, GP_NORM_LAYER};
        if ((st = gp_mlp_new(&tmp, width, 1, hid, o->hidden, &eo, &rng)) != GP_OK) goto fail;
        if ((st = add_child(md, &md->encoder, tmp)) != GP_OK) goto fail;
        width = o->hidden;
    }
    const char *readout =
        coarsen || !strcmp(pool_spec, "none") || (expand && !has_readout) ? o->readout : spec;
    int64_t rdim = 0;
    if (o->blocks == 0) { /* the readout operator on the encoded input */
        if ((st = gp_pool_new(&tmp, readout, width, &rng)) != GP_OK) goto fail;
        if (coarsen || !(gp_pool_caps(tmp) & GP_POOL_READOUT)) {
            gp_module_free(&tmp);
            fprintf(stderr, "gp-graphclass: --blocks 0 needs a readout operator (%s is not one)\n", spec);
            st = GP_E_INVALID;
            goto fail;
        }
        if ((st = add_child(md, &md->readout[0], tmp)) != GP_OK) goto fail;
        rdim = gp_pool_readout_dim(md->readout[0]);
    }
    for (int b = 0; b < o->blocks; b++) {
        if ((st = make_conv(&tmp, o->layer, width, o->hidden, &rng)) != GP_OK) goto fail;
        if ((st = add_child(md, &md->conv[b], tmp)) != GP_OK) goto fail;
        width = md->conv[b]->out_dim;
        if (coarsen) {
            if ((st = gp_pool_new(&tmp, spec, width, &rng)) != GP_OK) goto fail;
            if ((st = add_child(md, &md->pool[b], tmp)) != GP_OK) goto fail;
        }
        if (md->jk_sum || b == o->blocks - 1) {
            if ((st = gp_pool_new(&tmp, readout, width, &rng)) != GP_OK) goto fail;
            if (!(gp_pool_caps(tmp) & GP_POOL_READOUT)) {
                gp_module_free(&tmp);
                fprintf(stderr, "gp-graphclass: %s has no readout operation\n", readout);
                st = GP_E_INVALID;
                goto fail;
            }
            if ((st = add_child(md, &md->readout[b], tmp)) != GP_OK) goto fail;
            rdim = gp_pool_readout_dim(md->readout[b]);
        }
    }
    gp_mlp_options mo = {GP_ACT_RELU, (float)o->dropout, (gp_norm_kind)o->mlp_norm};
    if ((st = gp_mlp_new(&tmp, rdim, o->num_mlp, o->mlp, classes, &mo, &rng)) != GP_OK) goto fail;
    if ((st = add_child(md, &md->mlp, tmp)) != GP_OK) goto fail;
    return GP_OK;
fail:
    model_free(md);
    return st;
}

/* The encoder's output for input features x (x itself without an encoder). */
static gp_tensor *encode(model *md, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    if (!md->encoder) return x;
    gp_tensor *h = gp_module_forward(md->encoder, t, g, x);
    return md->encoder_kind == ENC_LINEAR ? gp_relu(t, h) : h;
}

/* Log-probabilities for a batch (graph, x). Coarsened batches are kept in md->batches until
 * model_release (after backward). */
static gp_tensor *model_forward(model *md, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    gp_pool_batch cur = gp_pool_batch_of(g, x);
    if (md->expand) {
        if (gp_pool_expand(md->expand, t, &cur, &md->expanded) != GP_OK) return NULL;
        cur = md->expanded;
    }
    gp_tensor *h = encode(md, t, cur.graph, cur.x), *acc = NULL;
    if (md->blocks == 0) {
        cur.x = h;
        return h ? gp_log_softmax(t, gp_module_forward(md->mlp, t, NULL, gp_pool_readout(md->readout[0], t, &cur)))
                 : NULL;
    }
    for (int b = 0; b < md->blocks; b++) {
        h = gp_module_forward_relu(md->conv[b], t, cur.graph, h); /* one op for GCN and GraphConv */
        if (!h) return NULL;
        cur.x = h;
        if (md->pool[b]) {
            if (gp_pool_coarsen(md->pool[b], t, &cur, &md->batches[b]) != GP_OK) return NULL;
            cur = md->batches[b];
            h = cur.x;
        }
        if (md->readout[b]) {
            gp_tensor *r = gp_pool_readout(md->readout[b], t, &cur);
            acc = acc ? gp_add(t, acc, r) : r;
        }
    }
    return gp_log_softmax(t, gp_module_forward(md->mlp, t, NULL, acc));
}

static void model_release(model *md)
{
    for (int b = 0; b < MAX_BLOCKS; b++) gp_pool_batch_release(&md->batches[b]);
    gp_pool_batch_release(&md->expanded);
}

/* ---- training and evaluation ---- */

typedef struct run_ctx {
    const options *o;
    const gp_graph_dataset *ds;
    const node_features *fs; /* the input features, written per batch from ix */
    const node_features_index *ix;
    int64_t dim;
    gp_tape *tape;
} run_ctx;

static gp_tensor *batch_features(gp_tape *t, const run_ctx *c, const gp_minibatch_info *info)
{
    gp_tensor *x = gp_tape_tensor(t, info->num_nodes, c->dim);
    if (!x) return NULL;
    node_features_rows(x->data, c->fs, c->ix, c->ds, info->nodes, info->num_nodes);
    return x;
}

/* Mean NLL and accuracy over a set of graphs (no gradients); probs (optional, count x classes). */
static gp_status evaluate(double *loss, double *acc, float *probs, model *md, run_ctx *c,
                          int64_t count, const int64_t *idx)
{
    *loss = 0, *acc = 0;
    if (count == 0) return GP_OK;
    gp_minibatch *mb = NULL;
    gp_status st = gp_minibatch_new(&mb, c->ds, count, idx, c->o->eval_batch, false, 0);
    if (st != GP_OK) return st;
    gp_tape *t = c->tape;
    gp_tape_set_training(t, false);
    gp_tape_set_recording(t, false);
    int64_t correct = 0, done = 0;
    double total = 0;
    for (;;) {
        gp_graph *g = NULL;
        gp_minibatch_info info;
        if ((st = gp_minibatch_next(&g, &info, mb)) != GP_OK || !g) break;
        gp_tape_reset(t);
        gp_tensor *logp = model_forward(md, t, g, batch_features(t, c, &info));
        if (!logp) {
            st = gp_tape_status(t);
            model_release(md);
            gp_graph_free(&g);
            break;
        }
        int64_t k = logp->cols;
        for (int64_t i = 0; i < info.count; i++) {
            const float *row = logp->data + i * k;
            int64_t best = 0;
            for (int64_t j = 1; j < k; j++)
                if (row[j] > row[best]) best = j;
            correct += best == info.labels[i];
            total -= row[info.labels[i]];
            if (probs)
                for (int64_t j = 0; j < k; j++) probs[(done + i) * k + j] = expf(row[j]);
        }
        done += info.count;
        model_release(md);
        gp_graph_free(&g);
    }
    gp_tape_set_training(t, true);
    gp_tape_set_recording(t, true);
    gp_minibatch_free(&mb);
    *loss = total / (double)count;
    *acc = (double)correct / (double)count;
    return st;
}

_Static_assert((int)MAX_FINAL_RUNS <= (int)FOLD_LOG_MAX_RUNS, "fold_result holds every final run");

static gp_status snapshot(float *dst, const gp_param_list *pl, bool restore)
{
    size_t off = 0;
    for (int i = 0; i < pl->count; i++) {
        size_t n = (size_t)gp_tensor_size(pl->tensors[i]);
        if (restore) memcpy(pl->tensors[i]->data, dst + off, n * sizeof(float));
        else memcpy(dst + off, pl->tensors[i]->data, n * sizeof(float));
        off += n;
    }
    return GP_OK;
}

static gp_status train_fold(fold_result *res, model *md, run_ctx *c, const gp_cv_folds *folds,
                            int f, uint64_t seed, const char *label)
{
    const options *o = c->o;
    memset(res, 0, sizeof *res);
    gp_param_list all, train;
    gp_optim *opt = NULL, *opt_pq = NULL;
    gp_tensor **pq = NULL, **rest = NULL;
    int npq = 0, nrest = 0;
    gp_minibatch *mb = NULL;
    float *best = NULL;
    gp_status st = gp_module_params(&all, md->root, true);
    if (st != GP_OK) return st;
    if ((st = gp_module_params(&train, md->root, false)) != GP_OK) {
        gp_param_list_free(&all);
        return st;
    }
    size_t total = 0;
    for (int i = 0; i < all.count; i++) total += (size_t)gp_tensor_size(all.tensors[i]);
    best = malloc((total ? total : 1) * sizeof(float));
    if (!best) {
        st = GP_E_NOMEM;
        goto done;
    }
    /* --gnp-lr: the parameters named "gnp" (GNP's p and q) go to a second optimiser */
    pq = malloc((size_t)(train.count > 0 ? train.count : 1) * sizeof *pq);
    rest = malloc((size_t)(train.count > 0 ? train.count : 1) * sizeof *rest);
    if (!pq || !rest) {
        st = GP_E_NOMEM;
        goto done;
    }
    for (int i = 0; i < train.count; i++) {
        if (o->gnp_lr > 0 && !strcmp(train.tensors[i]->name, "gnp")) pq[npq++] = train.tensors[i];
        else rest[nrest++] = train.tensors[i];
    }
    if ((st = gp_adam_new(&opt, rest, nrest, (float)o->lr, 0.9f, 0.999f, 1e-8f,
                          (float)o->weight_decay)) != GP_OK)
        goto done;
    if (npq > 0 && (st = gp_adam_new(&opt_pq, pq, npq, (float)o->gnp_lr, 0.9f, 0.999f, 1e-8f, 0.0f)) != GP_OK)
        goto done;
    int64_t ntr = folds->count[f][GP_CV_TRAIN], nva = folds->count[f][GP_CV_VAL];
    if ((st = gp_minibatch_new(&mb, c->ds, ntr, folds->idx[f][GP_CV_TRAIN], o->batch, true, seed)) != GP_OK)
        goto done;
    double best_loss = INFINITY, best_acc = -1.0;
    int since = 0;
    snapshot(best, &all, false);
    gp_tape *t = c->tape;
    long step = 0, steps_per_epoch = (long)gp_minibatch_batches(mb);
    for (int ep = 1; ep <= o->epochs; ep++) {
        double w0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID), loss_sum = 0;
        int64_t seen = 0;
        if (ep > 1) gp_minibatch_reset(mb);
        for (;;) {
            gp_graph *g = NULL;
            gp_minibatch_info info;
            if ((st = gp_minibatch_next(&g, &info, mb)) != GP_OK) goto done;
            if (!g) break;
            gp_tape_reset(t);
            gp_tensor *logp = model_forward(md, t, g, batch_features(t, c, &info));
            gp_tensor *loss = gp_nll_loss(t, logp, info.labels, GP_REDUCE_MEAN);
            st = gp_tape_backward(t, loss);
            if (st == GP_OK && o->clip_norm > 0)
                gp_clip_grad_norm(train.tensors, train.count, (float)o->clip_norm);
            if (o->cosine) {
                long warm = (long)o->warmup_epochs * steps_per_epoch, all_steps = (long)o->epochs * steps_per_epoch;
                gp_optim_set_lr(opt, gp_lr_cosine((float)o->lr, step, warm, all_steps, 0.0f));
                if (opt_pq) gp_optim_set_lr(opt_pq, gp_lr_cosine((float)o->gnp_lr, step, warm, all_steps, 0.0f));
            }
            step++;
            if (st == GP_OK) st = gp_optim_step(opt);
            if (st == GP_OK && opt_pq) st = gp_optim_step(opt_pq);
            if (st == GP_OK) loss_sum += loss->data[0] * (double)info.count, seen += info.count;
            gp_optim_zero_grad(opt);
            if (opt_pq) gp_optim_zero_grad(opt_pq);
            model_release(md);
            gp_graph_free(&g);
            if (st != GP_OK) goto done;
        }
        /* epoch 1 (arena growth, first-touch of memory) is left out of the timing when there
         * are more epochs */
        if (ep == 2) res->epoch_ms = res->epoch_cpu_ms = 0;
        res->epoch_ms += now_ms(CLOCK_MONOTONIC) - w0;
        res->epoch_cpu_ms += now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
        res->epochs = ep;
        double vl = 0, va = 0;
        if (nva > 0 && (st = evaluate(&vl, &va, NULL, md, c, nva, folds->idx[f][GP_CV_VAL])) != GP_OK)
            goto done;
        bool better = o->select_acc ? va > best_acc || (va == best_acc && vl < best_loss) : vl < best_loss;
        if (nva == 0 || better) {
            best_loss = vl;
            best_acc = va;
            res->val_loss = vl;
            res->val_acc = va;
            res->best_epoch = ep;
            snapshot(best, &all, false);
            since = 0;
        } else {
            since++;
        }
        if (!o->quiet)
            fprintf(stderr, "%s fold %d epoch %3d  train_loss %.4f  val_loss %.4f  val_acc %.4f  %.0f ms\n",
                    label, f + 1, ep, seen ? loss_sum / (double)seen : 0.0, vl, va,
                    now_ms(CLOCK_MONOTONIC) - w0);
        if (o->patience > 0 && nva > 0 && since >= o->patience) break;
    }
    snapshot(best, &all, true);
    double tl;
    st = evaluate(&tl, &res->test_acc, NULL, md, c, folds->count[f][GP_CV_TEST], folds->idx[f][GP_CV_TEST]);
    int timed = res->epochs > 1 ? res->epochs - 1 : 1;
    res->epoch_ms /= timed;
    res->epoch_cpu_ms /= timed;
done:
    free(best);
    free(pq);
    free(rest);
    gp_minibatch_free(&mb);
    gp_optim_free(&opt);
    gp_optim_free(&opt_pq);
    gp_param_list_free(&all);
    gp_param_list_free(&train);
    return st;
}

/* ---- model files ---- */

static void write_meta(FILE *f, const options *o, const char *pool, const node_features *fs, const gp_graph_dataset *ds)
{
    fprintf(f, "gp-graphclass-model 1\nlayer %s\nhidden %d\nblocks %d\nencoder %d\npool %s\nratio %.17g\n"
               "readout %s\njk %s\ndropout %.17g\nmlp",
            o->layer, o->hidden, o->blocks, o->encoder, pool, o->ratio, o->readout, o->jk, o->dropout);
    for (int i = 0; i < o->num_mlp; i++) fprintf(f, " %lld", (long long)o->mlp[i]);
    fprintf(f, "\nmlp_norm %d", o->mlp_norm);
    char features[64];
    node_features_name(fs->parts, features, sizeof features);
    fprintf(f, "\nfeatures %s\nin_dim %lld\nnum_attr %lld\nmax_degree %lld\ndeg_mean %.17g\ndeg_std %.17g\nlabel_values",
            features, (long long)fs->dim, (long long)fs->num_attr, (long long)fs->max_degree,
            fs->deg_mean, fs->deg_std);
    for (int64_t i = 0; i < fs->num_label_values; i++) fprintf(f, " %lld", (long long)fs->label_values[i]);
    fprintf(f, "\nattr_mean");
    for (int64_t a = 0; a < fs->num_attr; a++) fprintf(f, " %.17g", fs->attr_mean[a]);
    fprintf(f, "\nattr_std");
    for (int64_t a = 0; a < fs->num_attr; a++) fprintf(f, " %.17g", fs->attr_std[a]);
    fprintf(f, "\nclass_values");
    for (int64_t i = 0; i < ds->num_classes; i++)
        fprintf(f, " %lld", (long long)(ds->class_values ? ds->class_values[i] : i));
    fprintf(f, "\n");
}

/* --save: the model (path) and its description (path.meta), both or neither. Each is written to
 * a temporary file next to its name first (the model: path.tmp-XXXXXX, which gp_module_save in
 * turn replaces atomically; the meta: app_output); only when both are complete are they renamed,
 * and if the second rename fails the first file is removed again. 0, or 1 with a message. */
static int save_model(const char *path, const gp_module *m, const options *o, const char *pool,
                      const node_features *fs, const gp_graph_dataset *ds)
{
    char mp[4096], tmp[4096];
    snprintf(mp, sizeof mp, "%s.meta", path);
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return fprintf(stderr, "gp-graphclass: cannot write %s (%s)\n", path, strerror(errno)), 1;
    close(fd);
    if (gp_module_save(m, tmp) != GP_OK) {
        fprintf(stderr, "gp-graphclass: cannot write %s: %s\n", path, gp_last_error_message());
        remove(tmp);
        return 1;
    }
    app_output meta;
    int e = app_output_open(&meta, mp);
    if (e == 0) {
        write_meta(meta.f, o, pool, fs, ds);
        if (rename(tmp, path) != 0) {
            e = errno;
            app_output_close(&meta, false);
            remove(tmp);
            return fprintf(stderr, "gp-graphclass: cannot write %s (%s)\n", path, strerror(e)), 1;
        }
        if ((e = app_output_close(&meta, true)) == 0) return 0;
        remove(path); /* the model without its description could not be loaded */
    } else {
        remove(tmp);
    }
    return fprintf(stderr, "gp-graphclass: cannot write %s (%s); %s not saved either\n", mp, strerror(e), path), 1;
}

typedef struct meta {
    char layer[64], pool[256], readout[256], jk[16], features[64];
    int64_t label_values[4096], class_values[1024];
    int64_t num_label_values, num_classes;
    double attr_mean[4096], attr_std[4096];
    int64_t num_attr_mean, num_attr_std;
} meta;

static int64_t read_list(char *line, int64_t *out, int64_t cap)
{
    int64_t n = 0;
    for (char *tok = strtok(line, " \n"); tok && n < cap; tok = strtok(NULL, " \n")) out[n++] = atoll(tok);
    return n;
}

static int64_t read_doubles(char *line, double *out, int64_t cap)
{
    int64_t n = 0;
    for (char *tok = strtok(line, " \n"); tok && n < cap; tok = strtok(NULL, " \n")) out[n++] = atof(tok);
    return n;
}

static bool options_valid(const options *o);

static int load_meta(meta *m, options *o, node_features *fs, const char *path)
{
    char mp[4096], line[65536];
    snprintf(mp, sizeof mp, "%s.meta", path);
    FILE *f = fopen(mp, "r");
    if (!f) return fprintf(stderr, "gp-graphclass: cannot read %s\n", mp), 1;
    memset(m, 0, sizeof *m);
    memset(fs, 0, sizeof *fs);
    int ok = 0;
    while (fgets(line, sizeof line, f)) {
        char key[64];
        int n = 0;
        if (sscanf(line, "%63s %n", key, &n) != 1) continue;
        char *v = line + n;
        v[strcspn(v, "\n")] = '\0';
        if (!strcmp(key, "gp-graphclass-model")) ok = 1;
        else if (!strcmp(key, "layer")) snprintf(m->layer, sizeof m->layer, "%s", v);
        else if (!strcmp(key, "hidden")) o->hidden = atoi(v);
        else if (!strcmp(key, "blocks")) o->blocks = atoi(v);
        else if (!strcmp(key, "encoder")) o->encoder = atoi(v);
        else if (!strcmp(key, "mlp_norm")) o->mlp_norm = atoi(v);
        else if (!strcmp(key, "pool")) snprintf(m->pool, sizeof m->pool, "%s", v);
        else if (!strcmp(key, "ratio")) o->ratio = atof(v);
        else if (!strcmp(key, "readout")) snprintf(m->readout, sizeof m->readout, "%s", v);
        else if (!strcmp(key, "jk")) snprintf(m->jk, sizeof m->jk, "%s", v);
        else if (!strcmp(key, "dropout")) o->dropout = atof(v);
        else if (!strcmp(key, "mlp")) o->num_mlp = (int)read_list(v, o->mlp, MAX_MLP);
        else if (!strcmp(key, "features")) snprintf(m->features, sizeof m->features, "%s", v);
        else if (!strcmp(key, "in_dim")) fs->dim = atoll(v);
        else if (!strcmp(key, "num_attr")) fs->num_attr = atoll(v);
        else if (!strcmp(key, "max_degree")) fs->max_degree = atoll(v);
        else if (!strcmp(key, "deg_mean")) fs->deg_mean = atof(v);
        else if (!strcmp(key, "deg_std")) fs->deg_std = atof(v);
        else if (!strcmp(key, "label_values")) m->num_label_values = read_list(v, m->label_values, 4096);
        else if (!strcmp(key, "class_values")) m->num_classes = read_list(v, m->class_values, 1024);
        else if (!strcmp(key, "attr_mean")) m->num_attr_mean = read_doubles(v, m->attr_mean, 4096);
        else if (!strcmp(key, "attr_std")) m->num_attr_std = read_doubles(v, m->attr_std, 4096);
    }
    fclose(f);
    unsigned parts = node_features_parse(m->features);
    if (!ok || !parts || m->num_classes < 1 || fs->dim < 1 || fs->num_attr < 0 || fs->num_attr > 4096 ||
        m->num_attr_mean != fs->num_attr || m->num_attr_std != fs->num_attr)
        return fprintf(stderr, "gp-graphclass: %s is not a gp-graphclass model description\n", mp), 1;
    fs->attr_mean = m->attr_mean;
    fs->attr_std = m->attr_std;
    fs->parts = parts;
    fs->num_label_values = m->num_label_values;
    fs->label_values = m->label_values;
    o->layer = m->layer;
    o->readout = m->readout;
    o->jk = m->jk;
    /* values the model is built from (blocks index fixed arrays, in_dim sizes feature rows) */
    bool valid = options_valid(o) && fs->max_degree >= 0 && fs->dim == node_features_dim(fs) && o->encoder >= ENC_NONE &&
                 o->encoder <= ENC_MLP && (o->mlp_norm == GP_NORM_NONE || o->mlp_norm == GP_NORM_LAYER);
    for (int i = 0; i < o->num_mlp; i++) valid = valid && o->mlp[i] >= 1;
    if (!valid)
        return fprintf(stderr, "gp-graphclass: %s: bad model settings (blocks 0..%d, hidden, dropout, ratio, "
                               "jk, mlp, encoder, mlp_norm or in_dim out of range)\n", mp, MAX_BLOCKS), 1;
    return 0;
}

/* ---- dataset by name or folder ---- */

static gp_status read_dataset(gp_graph_dataset **ds, char **where, const char *arg, const char *data_dir)
{
    FILE *probe = NULL;
    char path[4096];
    if (strchr(arg, '/')) {
        char *copy = strdup(arg), *copy2 = strdup(arg);
        if (!copy || !copy2) {
            free(copy);
            free(copy2);
            return GP_E_NOMEM;
        }
        size_t n = strlen(copy2);
        while (n > 1 && copy2[n - 1] == '/') copy2[--n] = '\0';
        const char *name = basename(copy2);
        gp_status st = gp_graph_dataset_read_tu(ds, copy, name);
        *where = strdup(arg);
        free(copy);
        free(copy2);
        return st;
    }
    (void)probe, (void)path;
    char *dir = NULL;
    gp_status st = gp_data_dir(&dir, data_dir);
    if (st != GP_OK) return st;
    st = gp_data_read_tu(ds, dir, arg);
    char *found = NULL;
    if (st == GP_OK && gp_data_find(&found, NULL, NULL, dir, arg) == GP_OK) {
        *where = strdup(found);
        gp_free(found);
    } else {
        *where = strdup(arg);
    }
    gp_free(dir);
    return st;
}

/* ---- GPN presets: the official best_params/DATASET.yaml (research notes gpn_nodedrop.md A6) ---- */

typedef struct gpn_preset {
    const char *dataset;
    int hidden, gnn_layers, ds_layers, batch;
    bool act_final, gnn2_identity, cosine;
    double dropout, lr;
} gpn_preset;

static const gpn_preset gpn_presets[] = {
    {"PROTEINS", 128, 3, 1, 128, true, false, true, 0.1, 5e-4},
    {"NCI1", 256, 2, 3, 256, false, false, true, 0.4, 5e-4},
    {"NCI109", 128, 3, 1, 64, false, false, false, 0.2, 5e-4},
    {"DD", 128, 2, 1, 64, false, true, true, 0.2, 1e-4},
};

/* ---- top-k presets: Cangea et al. 2018's per-dataset table (research notes gpn_nodedrop.md) ---- */

typedef struct topk_preset {
    const char *dataset;
    int hidden, epochs;
    double lr;
} topk_preset;

static const topk_preset topk_presets[] = {
    {"PROTEINS", 64, 40, 5e-3},
    {"DD", 64, 20, 5e-4},
    {"ENZYMES", 128, 100, 5e-4},
    {"COLLAB", 128, 30, 5e-4},
};

/* The dataset name a preset names ("FAMILY-NAME"), or that of --dataset for "FAMILY" alone
 * (a name or a TU folder: its last component). False if neither form applies. */
static bool preset_dataset(char *name, size_t size, const char *preset, const char *family,
                           const char *dataset)
{
    size_t f = strlen(family);
    if (!strncasecmp(preset, family, f) && preset[f] == '-') {
        snprintf(name, size, "%s", preset + f + 1);
        return true;
    }
    if (strcasecmp(preset, family) || !dataset) return false;
    snprintf(name, size, "%s", dataset);
    size_t n = strlen(name);
    while (n > 1 && name[n - 1] == '/') name[--n] = '\0';
    const char *slash = strrchr(name, '/');
    if (slash) memmove(name, slash + 1, strlen(slash + 1) + 1);
    return true;
}

/* Set o's defaults (and *pool_arg) from --preset; called before the other options are parsed so
 * that they override it. 0, or 2 (usage error) for an unknown preset or dataset. */
static int apply_preset(options *o, const char **pool_arg, const char *preset, const char *dataset)
{
    static char spec[192];
    char name[256] = "";
    if (preset_dataset(name, sizeof name, preset, "topk", dataset)) {
        const topk_preset *p = NULL;
        for (size_t i = 0; i < sizeof topk_presets / sizeof topk_presets[0]; i++)
            if (!strcasecmp(name, topk_presets[i].dataset)) p = &topk_presets[i];
        if (!p) {
            fprintf(stderr, "gp-graphclass: --preset %s: no top-k preset for '%s' "
                            "(PROTEINS, DD, ENZYMES, COLLAB; use --preset topk-NAME)\n", preset, name);
            return 2;
        }
        /* the app's default model is Cangea et al.'s (GraphConv, 3 blocks, ratio 0.8, max||mean
         * readouts summed, MLP); the table sets width, learning rate and epochs, all trained */
        *pool_arg = "topk";
        o->ratio = 0.8; /* as --ratio, so that --ratio and --grid ratio=... can change it */
        o->hidden = p->hidden;
        o->lr = p->lr;
        o->epochs = p->epochs;
        o->patience = 0;
        return 0;
    }
    if (!preset_dataset(name, sizeof name, preset, "gpn", dataset)) {
        fprintf(stderr, "gp-graphclass: unknown --preset %s (gpn, gpn-PROTEINS, gpn-NCI1, gpn-NCI109, "
                        "gpn-DD, topk, topk-PROTEINS, topk-DD, topk-ENZYMES, topk-COLLAB)\n", preset);
        return 2;
    }
    const gpn_preset *p = NULL;
    for (size_t i = 0; i < sizeof gpn_presets / sizeof gpn_presets[0]; i++)
        if (!strcasecmp(name, gpn_presets[i].dataset)) p = &gpn_presets[i];
    if (!p) {
        fprintf(stderr, "gp-graphclass: --preset %s: no official GPN preset for '%s' "
                        "(PROTEINS, NCI1, NCI109, DD; use --preset gpn-NAME)\n", preset, name);
        return 2;
    }
    snprintf(spec, sizeof spec, "gpn:gnn_layers=%d,ds_layers=%d,dropout=%g%s%s", p->gnn_layers,
             p->ds_layers, p->dropout, p->act_final ? ",act_final=true" : "",
             p->gnn2_identity ? ",gnn2=identity" : "");
    *pool_arg = spec;
    o->layer = "gcn"; /* GPN's own GNN is GCN; no block runs before it */
    o->blocks = 0;
    o->encoder = ENC_MLP;
    o->mlp_norm = GP_NORM_LAYER;
    o->hidden = p->hidden;
    o->num_mlp = 1;
    o->mlp[0] = p->hidden;
    o->dropout = p->dropout;
    o->lr = p->lr;
    o->weight_decay = 1e-4;
    o->batch = p->batch;
    o->epochs = 500;
    o->patience = 50;
    o->clip_norm = 1.0;
    o->cosine = p->cosine;
    o->warmup_epochs = p->cosine ? 50 : 0; /* official: warm-up = patience epochs */
    o->features = "all"; /* official: use_node_attr=True plus OneHotDegree */
    return 0;
}

/* ---- --write-parse ---- */

static bool is_gpn(const gp_module *m)
{
    return m && gp_pool_class_of(m) == gp_pool_class_find("gpn");
}

/* The parse hierarchy of every graph of c->ds under the last block's GPN readout, written as
 * dir/graph_<i>.json through a temporary file and rename. 0 ok, 1 failure (message printed). */
static int write_parses(model *md, run_ctx *c, const char *dir)
{
    int b = (md->blocks > 0 ? md->blocks : 1) - 1; /* --blocks 0: readout[0] */
    while (b >= 0 && !is_gpn(md->readout[b])) b--;
    bool coarsened = md->expand != NULL;
    for (int k = 0; k <= b; k++) coarsened |= md->pool[k] != NULL;
    if (b < 0 || coarsened) {
        fprintf(stderr, "gp-graphclass: --write-parse needs a model with a gpn readout and no coarsening\n");
        return 1;
    }
    const gp_graph_dataset *ds = c->ds;
    int64_t *idx = malloc((size_t)(ds->num_graphs + 1) * sizeof(int64_t));
    gp_minibatch *mb = NULL;
    if (!idx) return 1;
    for (int64_t i = 0; i < ds->num_graphs; i++) idx[i] = i;
    int rc = 1;
    gp_tape *t = c->tape;
    gp_tape_set_training(t, false);
    gp_tape_set_recording(t, false);
    if (gp_minibatch_new(&mb, ds, ds->num_graphs, idx, 1, false, 0) != GP_OK) {
        fprintf(stderr, "gp-graphclass: %s\n", gp_last_error_message());
        goto done;
    }
    for (;;) {
        gp_graph *g = NULL;
        gp_minibatch_info info;
        if (gp_minibatch_next(&g, &info, mb) != GP_OK) {
            fprintf(stderr, "gp-graphclass: %s\n", gp_last_error_message());
            goto done;
        }
        if (!g) break;
        gp_tape_reset(t);
        gp_tensor *h = batch_features(t, c, &info);
        h = encode(md, t, g, h);
        for (int k = 0; k <= b && k < md->blocks; k++) h = gp_module_forward_relu(md->conv[k], t, g, h);
        gp_gpn_hierarchy hier;
        memset(&hier, 0, sizeof hier);
        gp_status st = h ? gp_gpn_parse(&hier, md->readout[b], g, h) : gp_tape_status(t);
        gp_graph_free(&g);
        if (st != GP_OK) {
            fprintf(stderr, "gp-graphclass: --write-parse: graph %lld: %s\n", (long long)(info.graphs[0] + 1),
                    gp_last_error_message());
            goto done;
        }
        char path[4096], tmp[4200];
        snprintf(path, sizeof path, "%s/graph_%lld.json", dir, (long long)(info.graphs[0] + 1));
        snprintf(tmp, sizeof tmp, "%s/.graph_%lld.json.tmp%ld", dir, (long long)(info.graphs[0] + 1),
                 (long)getpid());
        FILE *f = fopen(tmp, "w");
        st = f ? gp_gpn_hierarchy_write_json(&hier, f) : GP_E_IO;
        gp_gpn_hierarchy_free(&hier);
        if (f && fclose(f) != 0 && st == GP_OK) st = GP_E_IO;
        if (st != GP_OK || rename(tmp, path) != 0) {
            fprintf(stderr, "gp-graphclass: --write-parse: cannot write %s\n", path);
            if (f) remove(tmp);
            goto done;
        }
    }
    rc = 0;
done:
    gp_tape_set_training(t, true);
    gp_tape_set_recording(t, true);
    gp_minibatch_free(&mb);
    free(idx);
    return rc;
}

/* ---- option checks and --grid settings ---- */

static bool layer_known(const char *layer)
{
    static const char *const known[] = {"graphconv", "gcn", "gin", "sage", "gat", "gnpconv"}; /* make_conv */
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(layer, known[i])) return true;
    return false;
}

/* The first option out of its range, described for the user ("--hidden must be 1..4096"), or
 * NULL if all are in range. */
static const char *option_out_of_range(const options *o)
{
    static char msg[128];
#define RANGE(cond, ...) \
    if (!(cond)) return snprintf(msg, sizeof msg, __VA_ARGS__), msg
    RANGE(o->hidden >= 1 && o->hidden <= MAX_WIDTH, "--hidden must be 1..%d (got %d)", MAX_WIDTH, o->hidden);
    RANGE(o->blocks >= 0 && o->blocks <= MAX_BLOCKS, "--blocks must be 0..%d (got %d)", MAX_BLOCKS, o->blocks);
    RANGE(o->epochs >= 1, "--epochs must be at least 1 (got %d)", o->epochs);
    RANGE(o->batch >= 1, "--batch-size must be at least 1 (got %d)", o->batch);
    RANGE(o->eval_batch >= 1, "--eval-batch-size must be at least 1 (got %d)", o->eval_batch);
    RANGE(o->threads >= 1, "--threads must be at least 1 (got %d)", o->threads);
    RANGE(o->folds >= 2, "--folds must be at least 2 (got %d)", o->folds);
    RANGE(o->max_folds >= 0, "--max-folds must be at least 0 (got %d)", o->max_folds);
    RANGE(o->patience >= 0, "--patience must be at least 0 (got %d)", o->patience);
    RANGE(o->ratio > 0 && o->ratio <= 1, "--ratio must be in (0, 1] (got %g)", o->ratio);
    RANGE(o->dropout >= 0 && o->dropout < 1, "--dropout must be in [0, 1) (got %g)", o->dropout);
    RANGE(o->val_ratio >= 0 && o->val_ratio < 1, "--val-ratio must be in [0, 1) (got %g)", o->val_ratio);
    RANGE(o->lr > 0 && o->lr <= 10, "--lr must be in (0, 10] (got %g)", o->lr); /* as gp-linkpred */
    RANGE(o->gnp_lr >= 0, "--gnp-lr must be at least 0 (got %g)", o->gnp_lr);
    RANGE(o->clip_norm >= 0, "--clip-norm must be at least 0 (got %g)", o->clip_norm);
    RANGE(o->warmup_epochs >= 0, "--warmup-epochs must be at least 0 (got %d)", o->warmup_epochs);
    RANGE(o->final_runs >= 1 && o->final_runs <= MAX_FINAL_RUNS, "--final-runs must be 1..%d (got %d)",
          MAX_FINAL_RUNS, o->final_runs);
    RANGE(!strcmp(o->jk, "sum") || !strcmp(o->jk, "last"), "--jk must be sum or last (got %s)", o->jk);
    RANGE(layer_known(o->layer), "--layer must be graphconv, gcn, gin, sage, gat or gnpconv (got %s)", o->layer);
#undef RANGE
    return NULL;
}

static bool options_valid(const options *o) { return !option_out_of_range(o); }

static bool parse_double(double *out, const char *s)
{
    char *end = NULL;
    *out = strtod(s, &end);
    return end != s && *end == '\0' && isfinite(*out);
}

static bool parse_int(int *out, const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    *out = (int)v;
    return end != s && *end == '\0' && v >= INT_MIN && v <= INT_MAX;
}

/* --seed: a decimal integer, digits only (strtoul alone would take "-1", " 7" or "7x"). */
static bool parse_seed(unsigned long *out, const char *s)
{
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s < '0' || *s > '9' || *end) return false;
    *out = v;
    return true;
}

/* Set the option named key (a --grid key) from val; false if the key is unknown or val does
 * not parse. Range checks are left to options_valid. */
static bool apply_setting(options *o, const char *key, const char *val)
{
    if (!strcmp(key, "lr")) return parse_double(&o->lr, val);
    if (!strcmp(key, "weight-decay")) return parse_double(&o->weight_decay, val);
    if (!strcmp(key, "dropout")) return parse_double(&o->dropout, val);
    if (!strcmp(key, "ratio")) return parse_double(&o->ratio, val);
    if (!strcmp(key, "hidden")) return parse_int(&o->hidden, val);
    if (!strcmp(key, "blocks")) return parse_int(&o->blocks, val);
    if (!strcmp(key, "batch-size")) return parse_int(&o->batch, val);
    if (!strcmp(key, "epochs")) return parse_int(&o->epochs, val);
    if (!strcmp(key, "layer")) return o->layer = val, true;
    if (!strcmp(key, "readout")) return o->readout = val, true;
    if (!strcmp(key, "jk")) return o->jk = val, true;
    return false;
}

/* Whether --readout names an operator with a readout (sum, maxmean, gnp, ...); says why not. */
static bool readout_usable(const char *readout)
{
    gp_module *probe = NULL;
    gp_rng rng;
    gp_rng_seed(&rng, 1);
    bool ok = gp_pool_new(&probe, readout, 8, &rng) == GP_OK;
    if (!ok) fprintf(stderr, "gp-graphclass: --readout: %s\n", gp_last_error_message());
    else if (!(gp_pool_caps(probe) & GP_POOL_READOUT) || (gp_pool_caps(probe) & (GP_POOL_COARSEN | GP_POOL_EXPAND))) {
        fprintf(stderr, "gp-graphclass: --readout %s: not a readout operator (sum, mean, max, maxmean, gnp, ...)\n",
                readout);
        ok = false;
    }
    gp_module_free(&probe);
    return ok;
}

/* The options of grid configuration i (o itself without a grid). */
static options grid_options(const options *o, int i)
{
    options oc = *o;
    for (int k = 0; k < o->grid.num_keys; k++)
        apply_setting(&oc, grid_key(&o->grid, k), grid_value(&o->grid, i, k));
    return oc;
}

/* Every configuration of o->grid applies and passes options_valid; 0 or 2 (usage error). */
static int check_grid(const options *o)
{
    for (int i = 0; i < grid_size(&o->grid); i++) {
        options oc = *o;
        for (int k = 0; k < o->grid.num_keys; k++) {
            const char *key = grid_key(&o->grid, k), *val = grid_value(&o->grid, i, k);
            if (!apply_setting(&oc, key, val)) {
                fprintf(stderr, "gp-graphclass: --grid: bad setting %s=%s\n", key, val);
                return 2;
            }
        }
        const char *range = option_out_of_range(&oc);
        if (range) {
            char desc[512];
            grid_describe(&o->grid, i, desc, sizeof desc);
            fprintf(stderr, "gp-graphclass: --grid: %s is out of range: %s\n", desc, range);
            return 2;
        }
    }
    return 0;
}

/*
 * Train fold f of one pooling spec: one model with o, or with --grid one model per
 * configuration, keeping the one of best validation accuracy (ties: lower validation loss;
 * then the first). On return *md is that model (the caller frees it, also after an error; it is
 * all zero if none was trained), *o its options, *res its result with res->config set.
 */
static gp_status select_and_train(fold_result *res, model *md, options *o, run_ctx *c,
                                  const gp_cv_folds *folds, int f, uint64_t seed, const char *pool)
{
    /* The configurations come from the run's options (c->o, alive for the whole run), not from
     * a copy here: the grid's string values (layer, readout, jk) are pointers into the options
     * they were made from, and *o keeps the chosen ones after this returns (a local copy left
     * --save reading a dead stack frame: ASan, fuzz_options seed 9). */
    const options *base = c->o;
    int configs = base->grid.num_keys > 0 ? grid_size(&base->grid) : 1;
    memset(md, 0, sizeof *md);
    gp_status st = GP_OK;
    for (int i = 0; i < configs; i++) {
        options oc = grid_options(base, i);
        run_ctx cc = *c;
        cc.o = &oc;
        model m;
        fold_result r;
        char label[768];
        if (configs > 1) {
            char desc[512];
            grid_describe(&base->grid, i, desc, sizeof desc);
            snprintf(label, sizeof label, "%s [%s]", pool, desc);
        } else {
            snprintf(label, sizeof label, "%s", pool);
        }
        if ((st = model_new(&m, &oc, pool, c->dim, c->ds->num_classes, seed)) != GP_OK) return st;
        st = train_fold(&r, &m, &cc, folds, f, seed, label);
        if (st != GP_OK) {
            model_free(&m);
            return st;
        }
        r.config = i;
        bool better = !md->root || r.val_acc > res->val_acc ||
                      (r.val_acc == res->val_acc && r.val_loss < res->val_loss);
        if (better) {
            if (md->root) model_free(md);
            *md = m;
            *res = r;
            *o = oc;
        } else {
            model_free(&m);
        }
    }
    return st;
}

/* Seed of final run k of a fold (k = 0: the fold's own seed). */
static uint64_t run_seed(uint64_t seed, int k)
{
    return seed + (uint64_t)k * 0x9E3779B97F4A7C15ull;
}

/*
 * --final-runs R after select_and_train: res holds the fold's (selected) run and o its options.
 * Without a grid that run is run 1 and R - 1 more are trained with new seeds; with a grid the
 * selection runs are not counted (their test accuracy is not independent of the choice) and R
 * fresh trainings of the selected configuration are. res->test_acc becomes the mean of the runs
 * (res->run_acc each); the other fields stay those of the fold's run.
 */
static gp_status final_runs(fold_result *res, const options *o, run_ctx *c, const gp_cv_folds *folds, int f,
                            uint64_t seed, const char *pool)
{
    bool fresh = c->o->grid.num_keys > 0;
    int runs = o->final_runs;
    double sum = 0;
    options oc = *o;
    oc.grid.num_keys = 0;
    run_ctx cc = *c;
    cc.o = &oc;
    for (int k = 0; k < runs; k++) {
        double acc = res->test_acc;
        if (fresh || k > 0) {
            uint64_t s = run_seed(seed, fresh ? k + 1 : k);
            char label[600];
            snprintf(label, sizeof label, "%s [run %d of %d]", pool, k + 1, runs);
            model m;
            fold_result r;
            gp_status st = model_new(&m, &oc, pool, c->dim, c->ds->num_classes, s);
            if (st != GP_OK) return st;
            st = train_fold(&r, &m, &cc, folds, f, s, label);
            model_free(&m);
            if (st != GP_OK) return st;
            acc = r.test_acc;
        }
        res->run_acc[k] = acc;
        sum += acc;
    }
    res->num_runs = runs;
    res->test_acc = sum / runs;
    return GP_OK;
}

/* ---- main ---- */

/* Can --save PATH and PATH.meta be written (app_output_path_ok, and PATH.meta no directory)?
 * false with a message. */
static bool save_path_ok(const char *path)
{
    struct stat sb;
    char mp[4096];
    snprintf(mp, sizeof mp, "%s.meta", path);
    if (*path && stat(mp, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "gp-graphclass: --save %s: %s is a directory\n", path, mp);
        return false;
    }
    return app_output_path_ok("gp-graphclass", "--save", path);
}

static int parse_list(int64_t *out, int cap, const char *s)
{
    int n = 0;
    char *copy = strdup(s), *save = NULL;
    if (!copy) return -1;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == cap || atoll(tok) < 1 || atoll(tok) > MAX_WIDTH) {
            free(copy);
            return -1;
        }
        out[n++] = atoll(tok);
    }
    free(copy);
    return n;
}

/* Split "a:k=v,k=v,b,c:k=v" into operator specs: a token starts a new operator unless it is a
 * key=value option (an '=' before any ':'). */
static int parse_pools(options *o, const char *s)
{
    char *copy = strdup(s), *save = NULL;
    if (!copy) return -1;
    o->num_pools = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t colon = strcspn(tok, ":"), eq = strcspn(tok, "=");
        bool option = tok[eq] && eq < colon;
        if (option && o->num_pools > 0) {
            char *prev = o->pools[o->num_pools - 1];
            size_t len = strlen(prev) + strlen(tok) + 2;
            char *joined = malloc(len);
            if (!joined) break;
            snprintf(joined, len, "%s,%s", prev, tok);
            free(prev);
            o->pools[o->num_pools - 1] = joined;
        } else if (!option && o->num_pools < MAX_POOLS) {
            o->pools[o->num_pools++] = strdup(tok);
        } else {
            free(copy);
            return -1;
        }
    }
    free(copy);
    return o->num_pools;
}

static void stats(double *mean, double *std, const double *v, int n)
{
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += v[i];
    *mean = n ? s / n : 0;
    for (int i = 0; i < n; i++) s2 += (v[i] - *mean) * (v[i] - *mean);
    *std = n ? sqrt(s2 / n) : 0; /* population std over folds, as usually reported */
}

static int predict(const options *o_in)
{
    options o = *o_in;
    meta mt;
    node_features fs;
    if (load_meta(&mt, &o, &fs, o.load)) return 1;
    gp_graph_dataset *ds = NULL;
    char *where = NULL;
    int rc = 1;
    model md;
    memset(&md, 0, sizeof md);
    node_features_index ix = {0};
    float *probs = NULL;
    gp_tape *t = NULL;
    FILE *out = stdout;
    app_output outf = {0}; /* --output (app_output.c: written whole or not at all) */
    int64_t *idx = NULL;
    if (read_dataset(&ds, &where, o.predict, o.data_dir) != GP_OK) {
        fprintf(stderr, "gp-graphclass: %s\n", gp_last_error_message());
        goto done;
    }
    if (node_features_index_build(&ix, &fs, ds) != 0) goto done;
    if (model_new(&md, &o, mt.pool, fs.dim, mt.num_classes, 1) != GP_OK ||
        gp_module_load(md.root, o.load) != GP_OK || gp_tape_new(&t) != GP_OK) {
        fprintf(stderr, "gp-graphclass: %s\n", gp_last_error_message());
        goto done;
    }
    idx = malloc((size_t)(ds->num_graphs + 1) * sizeof(int64_t));
    probs = malloc((size_t)(ds->num_graphs * mt.num_classes + 1) * sizeof(float));
    if (!idx || !probs) goto done;
    for (int64_t i = 0; i < ds->num_graphs; i++) idx[i] = i;
    run_ctx c = {&o, ds, &fs, &ix, fs.dim, t};
    double loss, acc;
    if (evaluate(&loss, &acc, probs, &md, &c, ds->num_graphs, idx) != GP_OK) {
        fprintf(stderr, "gp-graphclass: %s\n", gp_last_error_message());
        goto done;
    }
    if (o.output) {
        int e = app_output_open(&outf, o.output);
        if (e) {
            fprintf(stderr, "gp-graphclass: cannot write %s (%s)\n", o.output, strerror(e));
            goto done;
        }
        out = outf.f;
    }
    fprintf(out, "graph\tpredicted");
    for (int64_t k = 0; k < mt.num_classes; k++) fprintf(out, "\tp_%lld", (long long)mt.class_values[k]);
    fprintf(out, "\n");
    for (int64_t i = 0; i < ds->num_graphs; i++) {
        const float *p = probs + i * mt.num_classes;
        int64_t best = 0;
        for (int64_t k = 1; k < mt.num_classes; k++)
            if (p[k] > p[best]) best = k;
        fprintf(out, "%lld\t%lld", (long long)(i + 1), (long long)mt.class_values[best]);
        for (int64_t k = 0; k < mt.num_classes; k++) fprintf(out, "\t%.6f", p[k]);
        fprintf(out, "\n");
    }
    rc = 0;
done:
    if (outf.f) {
        int e = app_output_close(&outf, rc == 0);
        if (e) fprintf(stderr, "gp-graphclass: cannot write %s (%s)\n", o.output, strerror(e)), rc = 1;
    }
    free(idx);
    free(probs);
    node_features_index_free(&ix);
    free(where);
    model_free(&md);
    gp_tape_free(&t);
    gp_graph_dataset_free(&ds);
    return rc;
}

/* Append option `opt` (its value v, or NULL) to the --resume key unless it only chooses what is
 * run or shown (the folds, the output, files and directories): the key names the options, with
 * presets by name, in command-line order; a run with other options starts its own folds. */
static bool key_add(char *key, size_t size, const struct option *opt, const char *v)
{
    static const char *const ignored[] = {"json", "quiet", "fold-range", "max-folds", "resume", "data-dir",
                                          "save", "write-parse", "output", "load", "predict", "help"};
    for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++)
        if (!strcmp(opt->name, ignored[i])) return true;
    size_t n = strlen(key);
    int w = snprintf(key + n, size - n, "%s--%s%s%s", n ? " " : "", opt->name, v ? "=" : "", v ? v : "");
    return w >= 0 && (size_t)w < size - n;
}

int main(int argc, char **argv)
{
    options o = {.layer = "graphconv", .readout = "maxmean", .jk = "sum", .features = "auto",
                 .hidden = 128, .blocks = 3, .epochs = 100, .patience = 20, .batch = 60,
                 .eval_batch = 256, .threads = 1, .folds = 10, .ratio = 0.8, .dropout = 0.5,
                 .lr = 5e-4, .val_ratio = 0.1, .seed = 1, .num_mlp = 2, .mlp = {128, 64},
                 .final_runs = 1};
    o.clip_norm = 0.0;
    enum { O_ENC = 256, O_MLPNORM, O_RATIO, O_READOUT, O_JK, O_MLP, O_DROP, O_LR, O_WD, O_BATCH, O_EPOCHS,
           O_PAT, O_FOLDS, O_FFILES, O_VAL, O_MAXF, O_FRANGE, O_FEAT, O_JSON, O_SAVE, O_LOAD, O_PRED, O_OUT,
           O_QUIET, O_DATADIR, O_HELP, O_CLIP, O_COSINE, O_WARMUP, O_PRESET, O_WPARSE, O_GRID, O_SELECT,
           O_GNPLR, O_FRUNS, O_RESUME, O_EBATCH };
    static const struct option longs[] = {
        {"dataset", required_argument, 0, 'd'}, {"data-dir", required_argument, 0, O_DATADIR},
        {"layer", required_argument, 0, 'l'},   {"hidden", required_argument, 0, 'h'},
        {"blocks", required_argument, 0, 'b'},  {"encoder", optional_argument, 0, O_ENC},
        {"pool", required_argument, 0, 'p'},    {"ratio", required_argument, 0, O_RATIO},
        {"readout", required_argument, 0, O_READOUT}, {"jk", required_argument, 0, O_JK},
        {"mlp", required_argument, 0, O_MLP},   {"mlp-norm", required_argument, 0, O_MLPNORM},
        {"dropout", required_argument, 0, O_DROP},
        {"lr", required_argument, 0, O_LR},     {"weight-decay", required_argument, 0, O_WD},
        {"batch-size", required_argument, 0, O_BATCH}, {"eval-batch-size", required_argument, 0, O_EBATCH}, {"epochs", required_argument, 0, O_EPOCHS},
        {"patience", required_argument, 0, O_PAT}, {"select", required_argument, 0, O_SELECT},
        {"folds", required_argument, 0, O_FOLDS},
        {"fold-files", no_argument, 0, O_FFILES}, {"val-ratio", required_argument, 0, O_VAL},
        {"max-folds", required_argument, 0, O_MAXF}, {"fold-range", required_argument, 0, O_FRANGE},
        {"features", required_argument, 0, O_FEAT},
        {"seed", required_argument, 0, 's'},    {"threads", required_argument, 0, 't'},
        {"json", no_argument, 0, O_JSON},       {"save", required_argument, 0, O_SAVE},
        {"load", required_argument, 0, O_LOAD}, {"predict", required_argument, 0, O_PRED},
        {"output", required_argument, 0, O_OUT}, {"quiet", no_argument, 0, O_QUIET},
        {"help", no_argument, 0, O_HELP},       {"clip-norm", required_argument, 0, O_CLIP},
        {"gnp-lr", required_argument, 0, O_GNPLR},
        {"cosine", no_argument, 0, O_COSINE},   {"warmup-epochs", required_argument, 0, O_WARMUP},
        {"preset", required_argument, 0, O_PRESET}, {"write-parse", required_argument, 0, O_WPARSE},
        {"grid", required_argument, 0, O_GRID}, {"final-runs", required_argument, 0, O_FRUNS},
        {"resume", required_argument, 0, O_RESUME}, {0, 0, 0, 0}};
    const char *pool_arg = "topk";
    bool ratio_given = false; /* --ratio on the command line */
    bool key_too_long = false;
    int c;
    /* first pass: --preset (and --dataset, which "--preset gpn" reads) set defaults that the
     * options of the second pass override */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'd') o.dataset = optarg;
        if (c == O_PRESET) o.preset = optarg;
    }
    if (!o.dataset && optind < argc) o.dataset = argv[optind]; /* gp-graphclass DIR (for a preset by name) */
    if (o.preset && apply_preset(&o, &pool_arg, o.preset, o.dataset) != 0) return 2;
    opterr = 1;
    optind = 0; /* restart getopt (GNU) */
    bool dataset_option = false;
    for (int li = -1; (c = getopt_long(argc, argv, "", longs, &li)) != -1; li = -1) {
        bool ok = true; /* a number option parsed (ranges: options_valid) */
        switch (c) {
        case 'd': o.dataset = optarg; dataset_option = true; break;
        case O_DATADIR: o.data_dir = optarg; break;
        case 'l': o.layer = optarg; break;
        case 'h': ok = parse_int(&o.hidden, optarg); break;
        case 'b': ok = parse_int(&o.blocks, optarg); break;
        case O_ENC: /* --encoder alone: linear */
            o.encoder = !optarg || !strcmp(optarg, "linear") ? ENC_LINEAR : !strcmp(optarg, "mlp") ? ENC_MLP : -1;
            ok = o.encoder >= 0;
            break;
        case O_MLPNORM:
            o.mlp_norm = !strcmp(optarg, "none") ? GP_NORM_NONE : !strcmp(optarg, "layer") ? GP_NORM_LAYER : -1;
            ok = o.mlp_norm >= 0;
            break;
        case 'p': pool_arg = optarg; break;
        case O_RATIO: ok = parse_double(&o.ratio, optarg); ratio_given = true; break;
        case O_READOUT: o.readout = optarg; break;
        case O_JK: o.jk = optarg; break;
        case O_MLP:
            if ((o.num_mlp = parse_list(o.mlp, MAX_MLP, optarg)) < 0) {
                fprintf(stderr, "gp-graphclass: bad --mlp %s\n", optarg);
                return 2;
            }
            break;
        case O_DROP: ok = parse_double(&o.dropout, optarg); break;
        case O_LR: ok = parse_double(&o.lr, optarg); break;
        case O_WD: ok = parse_double(&o.weight_decay, optarg); break;
        case O_BATCH: ok = parse_int(&o.batch, optarg); break;
        case O_EBATCH: ok = parse_int(&o.eval_batch, optarg); break;
        case O_EPOCHS: ok = parse_int(&o.epochs, optarg); break;
        case O_PAT: ok = parse_int(&o.patience, optarg); break;
        case O_SELECT:
            if (strcmp(optarg, "loss") && strcmp(optarg, "acc")) {
                fprintf(stderr, "gp-graphclass: --select must be loss or acc, not '%s'\n", optarg);
                return 2;
            }
            o.select_acc = !strcmp(optarg, "acc");
            break;
        case O_FOLDS: ok = parse_int(&o.folds, optarg); break;
        case O_FFILES: o.fold_files = true; break;
        case O_VAL: ok = parse_double(&o.val_ratio, optarg); break;
        case O_MAXF: ok = parse_int(&o.max_folds, optarg); break;
        case O_FRANGE: {
            char *end = NULL;
            long a = strtol(optarg, &end, 10), b = a;
            if (end != optarg && *end == '-') b = strtol(end + 1, &end, 10);
            ok = end != optarg && *end == '\0' && a >= 1 && b >= a && b <= 64; /* A-B, 1 <= A <= B */
            o.first_fold = (int)a;
            o.last_fold = (int)b;
            break;
        }
        case O_FEAT: o.features = optarg; break;
        case 's': ok = parse_seed(&o.seed, optarg); break;
        case 't': ok = parse_int(&o.threads, optarg); break;
        case O_JSON: o.json = true; break;
        case O_SAVE: o.save = optarg; break;
        case O_LOAD: o.load = optarg; break;
        case O_PRED: o.predict = optarg; break;
        case O_OUT: o.output = optarg; break;
        case O_QUIET: o.quiet = true; break;
        case O_CLIP: ok = parse_double(&o.clip_norm, optarg); break;
        case O_GNPLR: ok = parse_double(&o.gnp_lr, optarg); break;
        case O_FRUNS: ok = parse_int(&o.final_runs, optarg); break;
        case O_COSINE: o.cosine = true; break;
        case O_WARMUP: ok = parse_int(&o.warmup_epochs, optarg); break;
        case O_PRESET: break; /* applied above */
        case O_WPARSE: o.write_parse = optarg; break;
        case O_RESUME: o.resume = optarg; break;
        case O_GRID: {
            char err[256];
            if (grid_parse(&o.grid, optarg, err, sizeof err) != 0) {
                fprintf(stderr, "gp-graphclass: --grid: %s\n", err);
                return 2;
            }
            break;
        }
        case O_HELP: usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (!ok) {
            fprintf(stderr, "gp-graphclass: bad value '%s' for --%s\n", optarg, li >= 0 ? longs[li].name : "?");
            for (int j = 0; j < o.num_pools; j++) free(o.pools[j]);
            return 2;
        }
        if (li >= 0 && !key_add(o.key, sizeof o.key, &longs[li], optarg)) key_too_long = true;
    }
    if (o.resume && key_too_long) {
        fprintf(stderr, "gp-graphclass: the options are too long for a --resume key\n");
        for (int j = 0; j < o.num_pools; j++) free(o.pools[j]);
        return 2;
    }
    const char *range = option_out_of_range(&o);
    if (range) {
        fprintf(stderr, "gp-graphclass: %s\n", range);
        for (int j = 0; j < o.num_pools; j++) free(o.pools[j]);
        return 2;
    }
    if (optind < argc) { /* gp-graphclass [options] NAME|DIR: the same as --dataset */
        const char *why = optind < argc - 1 ? "one dataset at most" : dataset_option ? "give it or --dataset, not both"
                                                                                    : NULL;
        if (why) {
            fprintf(stderr, "gp-graphclass: unexpected argument '%s': %s\n", argv[argc - 1], why);
            return 2;
        }
        o.dataset = argv[optind];
    }
    if (o.predict && !o.load) {
        fprintf(stderr, "gp-graphclass: --predict DIR needs --load PATH (a model saved with --save)\n");
        return 2;
    }
    if (!o.dataset && !o.predict) {
        fprintf(stderr, "gp-graphclass: no dataset: give --dataset NAME|DIR (or --load PATH --predict DIR); "
                        "--help lists the options\n");
        return 2;
    }
    if (o.grid.num_keys > 0 && (o.predict || o.val_ratio <= 0)) {
        fprintf(stderr, "gp-graphclass: --grid selects on the validation split: it needs training "
                        "and --val-ratio > 0\n");
        return 2;
    }
    if (o.grid.num_keys > 0 && check_grid(&o) != 0) return 2;
    if (parse_pools(&o, pool_arg) < 1) {
        fprintf(stderr, "gp-graphclass: bad --pool %s\n", pool_arg);
        return 2;
    }
    /* --ratio (or a grid over it) does not reach an operator whose spec sets ratio= itself */
    bool grid_ratio = false;
    for (int k = 0; k < o.grid.num_keys; k++) grid_ratio |= !strcmp(grid_key(&o.grid, k), "ratio");
    for (int i = 0; i < o.num_pools && (ratio_given || grid_ratio); i++)
        if (strstr(o.pools[i], "ratio=")) {
            fprintf(stderr, "gp-graphclass: %s would be ignored: --pool %s sets the ratio itself\n",
                    grid_ratio ? "--grid ratio=..." : "--ratio", o.pools[i]);
            for (int j = 0; j < o.num_pools; j++) free(o.pools[j]);
            return 2;
        }
    if (o.write_parse) {
        struct stat sb;
        size_t n = strcspn(o.pools[o.num_pools - 1], ":");
        if (stat(o.write_parse, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "gp-graphclass: --write-parse %s: no such directory\n", o.write_parse);
            for (int j = 0; j < o.num_pools; j++) free(o.pools[j]);
            return 2;
        }
        if (o.predict || n != 3 || strncmp(o.pools[o.num_pools - 1], "gpn", 3) != 0) {
            fprintf(stderr, "gp-graphclass: --write-parse needs --pool gpn (as the last --pool) and training\n");
            for (int j = 0; j < o.num_pools; j++) free(o.pools[j]);
            return 2;
        }
    }
    if (o.resume && (o.predict || o.save || o.write_parse)) { /* a resumed fold has no model */
        fprintf(stderr, "gp-graphclass: --resume does not combine with --save, --write-parse or --predict\n");
        for (int j = 0; j < o.num_pools; j++) free(o.pools[j]);
        return 2;
    }
    const char *named[][2] = {{"--load", o.load}, {"--predict", o.predict}}; /* inputs: named at least */
    bool paths_ok = app_output_path_ok("gp-graphclass", "--output", o.output) &&
                    app_output_path_ok("gp-graphclass", "--resume", o.resume);
    for (size_t i = 0; i < sizeof named / sizeof named[0] && paths_ok; i++)
        if (named[i][1] && !*named[i][1]) {
            fprintf(stderr, "gp-graphclass: %s: empty file name\n", named[i][0]);
            paths_ok = false;
        }
    if (!paths_ok || (o.save && !o.predict && !save_path_ok(o.save))) { /* before training, not after the last fold */
        for (int j = 0; j < o.num_pools; j++) free(o.pools[j]);
        return 2;
    }
    app_settle_thread_env(argv, o.threads);
    if (gp_init() != GP_OK) return 1;
    gp_set_threads(o.threads);
    int rc = 1;
    for (int i = 0; i < o.num_pools && !o.predict; i++) { /* a bad spec is a usage error */
        char spec[256];
        gp_module *probe = NULL;
        gp_rng rng;
        gp_rng_seed(&rng, 1);
        pool_spec_with_ratio(spec, sizeof spec, o.pools[i], o.ratio);
        bool bad = strcmp(spec, "none") != 0 && gp_pool_new(&probe, spec, 8, &rng) != GP_OK;
        if (bad) fprintf(stderr, "gp-graphclass: --pool: %s\n", gp_last_error_message());
        if (!bad && o.blocks == 0 && (!probe || !(gp_pool_caps(probe) & GP_POOL_READOUT) ||
                                      (gp_pool_caps(probe) & (GP_POOL_COARSEN | GP_POOL_EXPAND)))) {
            fprintf(stderr, "gp-graphclass: --blocks 0 needs a readout operator (gpn, gnp, sum, ...), not %s\n", spec);
            bad = true;
        }
        gp_module_free(&probe);
        if (bad) {
            for (int j = 0; j < o.num_pools; j++) free(o.pools[j]);
            gp_finalize();
            return 2;
        }
    }
    /* --readout (and the grid's readouts): a readout operator, checked before any loading */
    for (int i = 0; i < (o.grid.num_keys > 0 ? grid_size(&o.grid) : 1) && !o.predict; i++) {
        options oc = grid_options(&o, i);
        if (!readout_usable(oc.readout)) {
            for (int j = 0; j < o.num_pools; j++) free(o.pools[j]);
            gp_finalize();
            return 2;
        }
    }
    if (o.predict) {
        rc = predict(&o);
        for (int i = 0; i < o.num_pools; i++) free(o.pools[i]);
        gp_finalize();
        return rc;
    }
    gp_graph_dataset *ds = NULL;
    gp_cv_folds *folds = NULL;
    gp_tape *tape = NULL;
    node_features_index ix = {0};
    char *where = NULL;
    node_features fs;
    memset(&fs, 0, sizeof fs);
    double (*acc)[64] = NULL;
    fold_result *fr = NULL;
    fold_log log;
    memset(&log, 0, sizeof log);
    if (read_dataset(&ds, &where, o.dataset, o.data_dir) != GP_OK) {
        fprintf(stderr, "gp-graphclass: %s\n", gp_last_error_message());
        goto done;
    }
    if (ds->num_classes < 2) { /* stratified folds would work, and report accuracy 1 for nothing learnt */
        fprintf(stderr, "gp-graphclass: %s: all %lld graphs have the same label (%lld): classification needs at "
                        "least 2 classes\n", o.dataset, (long long)ds->num_graphs,
                (long long)(ds->class_values ? ds->class_values[0] : 0));
        goto done;
    }
    if ((rc = node_features_choose(&fs, ds, o.features)) != 0) goto done;
    rc = 1;
    char feat_name[64];
    node_features_name(fs.parts, feat_name, sizeof feat_name);
    if (node_features_index_build(&ix, &fs, ds) != 0) goto done;
    gp_status st;
    if (o.fold_files) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/10fold_idx", where);
        st = gp_cv_read_folds(&folds, dir, 10, ds->num_graphs, ds->labels, o.val_ratio, o.seed);
    } else {
        st = gp_cv_stratified(&folds, ds->num_graphs, ds->labels, o.folds, o.val_ratio, o.seed);
    }
    if (st != GP_OK || gp_tape_new(&tape) != GP_OK) {
        fprintf(stderr, "gp-graphclass: %s\n", gp_last_error_message());
        goto done;
    }
    /* folds f0 .. f0+nf-1 (0-based) of the k-fold split */
    int f0 = 0, nf = (int)folds->k;
    if (o.max_folds > 0 && o.max_folds < nf) nf = o.max_folds;
    if (o.first_fold > 0) {
        if (o.last_fold > (int)folds->k) {
            fprintf(stderr, "gp-graphclass: --fold-range %d-%d: the split has %d folds\n", o.first_fold,
                    o.last_fold, (int)folds->k);
            goto done;
        }
        f0 = o.first_fold - 1;
        nf = o.last_fold - o.first_fold + 1;
    }
    if (nf > 64) nf = 64;
    int64_t *count = calloc((size_t)ds->num_classes, sizeof(int64_t));
    if (!count) goto done;
    for (int64_t i = 0; i < ds->num_graphs; i++) count[ds->labels[i]]++;
    int64_t maj = 0;
    for (int64_t k = 0; k < ds->num_classes; k++)
        if (count[k] > maj) maj = count[k];
    free(count);
    double majority = (double)maj / (double)ds->num_graphs;
    if (!o.quiet)
        fprintf(stderr, "gp-graphclass: %s: %lld graphs, %lld classes, features %s (%lld), %d fold(s)\n",
                o.dataset, (long long)ds->num_graphs, (long long)ds->num_classes, feat_name,
                (long long)fs.dim, nf);
    acc = calloc((size_t)o.num_pools, sizeof *acc);
    fr = calloc((size_t)o.num_pools * (size_t)nf, sizeof *fr);
    if (!acc || !fr) goto done;
    int from_log = 0, trained = 0;    /* fold runs taken from --resume's log / trained now */
    double train_start = now_ms(CLOCK_MONOTONIC); /* for the time left after each fold run */
    if (o.resume) { /* the key also holds the data's size: other files under the same name start anew */
        char key[sizeof o.key + 128], err[8704];
        snprintf(key, sizeof key, "%s | graphs %lld nodes %lld edges %lld", o.key, (long long)ds->num_graphs,
                 (long long)ds->num_nodes, (long long)ds->num_edges);
        if (fold_log_open(&log, o.resume, key, err, sizeof err) != 0) {
            fprintf(stderr, "gp-graphclass: --resume: %s\n", err);
            goto done;
        }
        for (int pi = 0; pi < o.num_pools; pi++)
            for (int j = 0; j < nf; j++) from_log += fold_log_find(&log, o.pools[pi], f0 + j + 1) != NULL;
        if (!o.quiet)
            fprintf(stderr, "gp-graphclass: --resume %s: %d of %d fold run(s) logged (%d line(s) of other runs)\n",
                    o.resume, from_log, o.num_pools * nf, log.other_keys);
    }
    run_ctx ctx = {&o, ds, &fs, &ix, fs.dim, tape};
    for (int pi = 0; pi < o.num_pools; pi++) {
        for (int j = 0; j < nf; j++) {
            model md;
            int f = f0 + j;
            uint64_t seed = (uint64_t)o.seed * 1000003u + (uint64_t)f;
            fold_result *r = &fr[pi * nf + j];
            const fold_result *logged = o.resume ? fold_log_find(&log, o.pools[pi], f + 1) : NULL;
            if (logged) {
                *r = *logged;
                acc[pi][j] = r->test_acc;
                if (!o.quiet)
                    fprintf(stderr, "%s fold %d: test_acc %.4f (best epoch %d of %d, %.1f ms/epoch; from %s)\n",
                            o.pools[pi], f + 1, r->test_acc, r->best_epoch, r->epochs, r->epoch_ms, o.resume);
                continue;
            }
            options best_o = o;
            st = select_and_train(r, &md, &best_o, &ctx, folds, f, seed, o.pools[pi]);
            if (st == GP_OK && o.final_runs > 1)
                st = final_runs(r, &best_o, &ctx, folds, f, seed, o.pools[pi]);
            bool last = pi == o.num_pools - 1 && j == nf - 1;
            if (st == GP_OK && o.write_parse && last && write_parses(&md, &ctx, o.write_parse) != 0)
                st = GP_E_IO;
            if (st == GP_OK && o.save && last && save_model(o.save, md.root, &best_o, o.pools[pi], &fs, ds) != 0) {
                model_free(&md); /* the message is out */
                goto done;
            }
            model_free(&md);
            if (st != GP_OK) {
                fprintf(stderr, "gp-graphclass: %s fold %d: %s\n", o.pools[pi], f + 1, gp_last_error_message());
                goto done;
            }
            acc[pi][j] = r->test_acc;
            char err[8704];
            if (o.resume && fold_log_append(&log, o.pools[pi], f + 1, r, err, sizeof err) != 0) {
                fprintf(stderr, "gp-graphclass: --resume: %s\n", err);
                goto done;
            }
            trained++;
            if (!o.quiet) {
                char desc[512] = "";
                if (o.grid.num_keys > 0) grid_describe(&o.grid, r->config, desc, sizeof desc);
                char runs[64] = "";
                if (o.final_runs > 1) snprintf(runs, sizeof runs, ", mean of %d runs", o.final_runs);
                /* time left at the mean pace of the fold runs trained so far (operators differ:
                 * an estimate) */
                int left_runs = o.num_pools * nf - from_log - trained;
                char left[96] = "", dur[32];
                if (left_runs > 0) {
                    app_duration(dur, sizeof dur, (now_ms(CLOCK_MONOTONIC) - train_start) / 1000.0 / trained * left_runs);
                    snprintf(left, sizeof left, "; %d fold run%s left, ~%s", left_runs, left_runs > 1 ? "s" : "", dur);
                }
                fprintf(stderr, "%s fold %d: test_acc %.4f (best epoch %d of %d, %.1f ms/epoch%s%s%s)%s\n",
                        o.pools[pi], f + 1, r->test_acc, r->best_epoch, r->epochs, r->epoch_ms,
                        desc[0] ? ", selected " : "", desc, runs, left);
            }
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (o.json) {
        char name[8192]; /* the folder given may hold quotes or non-UTF-8 bytes */
        app_json_escape(name, sizeof name, o.dataset);
        printf("{\"dataset\": \"%s\", \"graphs\": %lld, \"classes\": %lld, \"features\": \"%s\", "
               "\"feature_dim\": %lld, \"protocol\": \"%s\", \"folds\": %d, \"majority_rate\": %.6f, "
               "\"peak_rss_mb\": %.1f, \"results\": [",
               name, (long long)ds->num_graphs, (long long)ds->num_classes, feat_name,
               (long long)fs.dim, o.fold_files ? "10fold_idx" : "stratified", nf, majority,
               ru.ru_maxrss / 1024.0);
        for (int pi = 0; pi < o.num_pools; pi++) {
            double m, s, ms = 0, cms = 0;
            stats(&m, &s, acc[pi], nf);
            printf("%s{\"pool\": \"%s\", \"fold_ids\": [", pi ? ", " : "", o.pools[pi]);
            for (int f = 0; f < nf; f++) printf("%s%d", f ? ", " : "", f0 + f + 1);
            printf("], \"fold_acc\": [");
            for (int f = 0; f < nf; f++) {
                printf("%s%.6f", f ? ", " : "", acc[pi][f]);
                ms += fr[pi * nf + f].epoch_ms / nf;
                cms += fr[pi * nf + f].epoch_cpu_ms / nf;
            }
            printf("], \"mean\": %.6f, \"std\": %.6f, \"epoch_ms\": %.3f, \"epoch_cpu_ms\": %.3f", m, s, ms, cms);
            if (o.final_runs > 1) {
                printf(", \"final_runs\": %d, \"run_acc\": [", o.final_runs);
                for (int f = 0; f < nf; f++) {
                    printf("%s[", f ? ", " : "");
                    for (int k = 0; k < o.final_runs; k++)
                        printf("%s%.6f", k ? ", " : "", fr[pi * nf + f].run_acc[k]);
                    printf("]");
                }
                printf("]");
            }
            if (o.grid.num_keys > 0) {
                printf(", \"selected\": [");
                for (int f = 0; f < nf; f++) {
                    char desc[512];
                    grid_describe(&o.grid, fr[pi * nf + f].config, desc, sizeof desc);
                    printf("%s\"%s\"", f ? ", " : "", desc);
                }
                printf("]");
            }
            printf("}");
        }
        printf("]}\n");
    } else {
        printf("dataset %s  graphs %lld  classes %lld  features %s (%lld)  protocol %s  folds %d\n",
               o.dataset, (long long)ds->num_graphs, (long long)ds->num_classes, feat_name,
               (long long)fs.dim, o.fold_files ? "10fold_idx" : "stratified", nf);
        printf("majority_rate %.4f\n", majority);
        printf("%-28s", "pool");
        for (int f = 0; f < nf; f++) printf(" fold%-3d", f0 + f + 1);
        printf("   mean     std  epoch_ms  cpu_ms\n");
        for (int pi = 0; pi < o.num_pools; pi++) {
            double m, s, ms = 0, cms = 0;
            stats(&m, &s, acc[pi], nf);
            printf("%-28s", o.pools[pi]);
            for (int f = 0; f < nf; f++) {
                printf(" %7.2f", 100 * acc[pi][f]);
                ms += fr[pi * nf + f].epoch_ms / nf;
                cms += fr[pi * nf + f].epoch_cpu_ms / nf;
            }
            printf(" %7.2f %7.2f %9.1f %7.1f\n", 100 * m, 100 * s, ms, cms);
        }
        for (int pi = 0; pi < o.num_pools && o.grid.num_keys > 0; pi++) {
            printf("selected (%s):", o.pools[pi]);
            for (int f = 0; f < nf; f++) {
                char desc[512];
                grid_describe(&o.grid, fr[pi * nf + f].config, desc, sizeof desc);
                printf(" fold%d %s%s", f0 + f + 1, desc, f + 1 < nf ? ";" : "\n");
            }
        }
        for (int pi = 0; pi < o.num_pools && o.final_runs > 1; pi++) {
            printf("runs (%s):", o.pools[pi]);
            for (int f = 0; f < nf; f++) {
                printf(" fold%d", f0 + f + 1);
                for (int k = 0; k < o.final_runs; k++)
                    printf("%c%.2f", k ? '/' : ' ', 100 * fr[pi * nf + f].run_acc[k]);
                printf("%s", f + 1 < nf ? ";" : "\n");
            }
        }
        printf("peak_rss_mb %.1f\n", ru.ru_maxrss / 1024.0);
    }
    rc = 0;
done:
    fold_log_close(&log);
    free(acc);
    free(fr);
    node_features_index_free(&ix);
    free(where);
    node_features_free(&fs);
    gp_tape_free(&tape);
    gp_cv_folds_free(&folds);
    gp_graph_dataset_free(&ds);
    for (int i = 0; i < o.num_pools; i++) free(o.pools[i]);
    gp_finalize();
    return rc;
}
