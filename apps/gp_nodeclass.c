/*
 * gp-nodeclass: train a message-passing network on a node classification dataset in the
 * planetoid layout (edges, sparse features, labels, train/val/test index files; see
 * shared/data/README.md) and report accuracies.
 *
 * Model: `--layers` layers of the chosen kind (default 2), hidden width `--hidden`, activation
 * between layers (ReLU; ELU for GAT), dropout `--dropout` on the input and between layers;
 * features row-normalised (as Kipf & Welling and PyG's NormalizeFeatures) and kept sparse for
 * layers that accept sparse input. GAT: `--heads` heads of `--hidden` in hidden layers
 * (concatenated), `--out-heads` averaged heads in the last one, attention dropout
 * `--attn-dropout`. Adam with L2 weight decay `--weight-decay` (GCN: on the first layer only,
 * as in Kipf & Welling; others: on all parameters, `--wd-all` / `--wd-first` override).
 * Full-batch training for `--epochs` epochs; each epoch is evaluated (dropout off).
 *
 * Output: per-epoch progress on stderr (unless --quiet); on stdout one line per quantity:
 *   final_train_acc, final_val_acc, final_test_acc (after the last epoch),
 *   best_val_acc, test_acc_at_best_val (the epoch with the best validation accuracy, first on ties),
 *   ms_per_step (wall-clock mean over the epochs of forward + backward + Adam), cpu_ms_per_step
 *   (the same in process CPU time: all threads summed; less sensitive to a loaded machine),
 *   peak_rss_mb (maximum resident set size of the process).
 * Exit status: 0 ok, 1 failure, 2 usage error.
 */
#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <graphpool/graphpool.h>
#include <graphpool/io.h>
#include <graphpool/layers.h>
#include <graphpool/metrics.h>

#include "app_openmp.h"
#include "app_output.h"

typedef struct options {
    const char *layer, *dataset, *data_dir, *save, *aggr;
    int hidden, heads, out_heads, layers, epochs, threads, split;
    int wd_mode; /* weight decay on: 0 the layer's default, 1 the first layer, 2 all layers */
    float dropout, attn_dropout, lr, weight_decay;
    unsigned long seed;
    bool quiet, no_feature_norm;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gp-nodeclass [options] [[--dataset] NAME]\n"
            "  --layer gcn|sage|sage-max|gin|gat|graphconv|mlp   (default gcn)\n"
            "  --dataset NAME         planetoid or hetero dataset name (default cora)\n"
            "  --split K              split number for datasets with several (default 0)\n"
            "  --data-dir DIR         data directory (default $GP_DATA_DIR, ...)\n"
            "  --hidden N             hidden width (per head for GAT; default 16, GAT 8)\n"
            "  --heads N              GAT heads in hidden layers (default 8)\n"
            "  --out-heads N          GAT heads in the last layer, averaged (default 1)\n"
            "  --layers N             number of layers (default 2)\n"
            "  --dropout P            input and hidden dropout (default 0.5, GAT 0.6)\n"
            "  --attn-dropout P       GAT attention dropout (default 0.6)\n"
            "  --aggr sum|mean|max    GraphConv aggregation (default mean)\n"
            "  --lr X                 Adam learning rate (default 0.01, GAT 0.005)\n"
            "  --weight-decay X       L2 penalty (default 5e-4)\n"
            "  --wd-first | --wd-all  weight decay on the first layer only / on all layers\n"
            "  --epochs N             (default 200)\n"
            "  --seed S               (default 1)\n"
            "  --threads T            (default 1)\n"
            "  --no-feature-norm      keep raw feature values\n"
            "  --save PATH            write the trained parameters (gp_module_save)\n"
            "  --quiet                no per-epoch progress\n");
}

static double now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Row-normalised copy of the features (values 1/row sum; empty rows stay empty). */
static gp_status normalised_features(gp_csr **out, const gp_csr *f, bool normalise)
{
    gp_status st = gp_csr_new(out, f->rows, f->cols, f->nnz, true);
    if (st != GP_OK) return st;
    gp_csr *c = *out;
    memcpy(c->ptr, f->ptr, (size_t)(f->rows + 1) * sizeof(int64_t));
    memcpy(c->idx, f->idx, (size_t)f->nnz * sizeof(int64_t));
    for (int64_t i = 0; i < f->rows; i++) {
        double s = 0.0;
        for (int64_t k = f->ptr[i]; k < f->ptr[i + 1]; k++) s += f->val ? f->val[k] : 1.0;
        for (int64_t k = f->ptr[i]; k < f->ptr[i + 1]; k++) {
            float v = f->val ? f->val[k] : 1.0f;
            c->val[k] = normalise && s != 0.0 ? (float)(v / s) : v;
        }
    }
    return GP_OK;
}

/* One layer of the chosen kind; last = output layer. */
static gp_status make_layer(gp_module **out, const options *o, int64_t in, int64_t width, bool last,
                            gp_rng *rng)
{
    const char *k = o->layer;
    if (strcmp(k, "gcn") == 0) return gp_gcn_new(out, in, width, true, rng);
    if (strcmp(k, "mlp") == 0) return gp_linear_new(out, in, width, true, rng);
    if (strcmp(k, "sage") == 0 || strcmp(k, "sage-max") == 0) {
        gp_sage_options so = {.aggr = k[4] ? GP_AGGR_MAX : GP_AGGR_MEAN, .root_weight = true, .bias = true};
        return gp_sage_new(out, in, width, &so, rng);
    }
    if (strcmp(k, "graphconv") == 0) {
        gp_aggr a;
        gp_status st = gp_aggr_parse(&a, o->aggr);
        if (st != GP_OK) return st;
        return gp_graphconv_new(out, in, width, a, true, rng);
    }
    if (strcmp(k, "gin") == 0) {
        gp_module *mlp = NULL;
        int64_t hidden = o->hidden;
        gp_mlp_options mo = {.act = GP_ACT_RELU};
        gp_status st = gp_mlp_new(&mlp, in, 1, &hidden, width, &mo, rng);
        if (st != GP_OK) return st;
        gp_gin_options go = {.eps = 0.0f, .train_eps = true};
        st = gp_gin_new(out, &mlp, &go, rng);
        gp_module_free(&mlp);
        return st;
    }
    if (strcmp(k, "gat") == 0) {
        gp_gat_options go = {.heads = last ? o->out_heads : o->heads, .concat = !last,
                             .negative_slope = 0.2f, .attn_dropout = o->attn_dropout, .bias = true};
        return gp_gat_new(out, in, last ? width : o->hidden, &go, rng);
    }
    fprintf(stderr, "gp-nodeclass: unknown layer '%s'\n", k);
    return GP_E_INVALID;
}

static gp_status build_model(gp_module **out, const options *o, int64_t in, int64_t classes, gp_rng *rng)
{
    bool gat = strcmp(o->layer, "gat") == 0;
    gp_stack_options so = {.act = gat ? GP_ACT_ELU : GP_ACT_RELU, .dropout = o->dropout,
                           .input_dropout = o->dropout};
    gp_status st = gp_stack_new(out, &so, rng);
    if (st != GP_OK) return st;
    int64_t width = in;
    for (int l = 0; l < o->layers; l++) {
        bool last = l == o->layers - 1;
        gp_module *layer = NULL;
        st = make_layer(&layer, o, width, last ? classes : o->hidden, last, rng);
        if (st == GP_OK) {
            width = layer->out_dim;
            st = gp_stack_add(*out, &layer);
        }
        gp_module_free(&layer);
        if (st != GP_OK) {
            gp_module_free(out);
            return st;
        }
    }
    return GP_OK;
}

static double accuracy_on(const gp_tensor *logits, const int64_t *labels, const int64_t *idx, int64_t n)
{
    int64_t correct = 0;
    for (int64_t r = 0; r < n; r++) {
        int64_t i = idx[r], best = 0;
        for (int64_t c = 1; c < logits->cols; c++)
            if (gp_tensor_at(logits, i, c) > gp_tensor_at(logits, i, best)) best = c;
        correct += best == labels[i];
    }
    return n > 0 ? (double)correct / (double)n : 0.0;
}

/* Upper bounds (as gp-linkpred's): a typo such as --hidden 2000000000 would otherwise allocate and
 * touch tens of GB before any error. */
enum { MAX_WIDTH = 4096, MAX_HEADS = 64, MAX_LAYERS = 64 };

/* The whole string s as an int / a finite float; false otherwise. */
static bool int_arg(int *out, const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < INT_MIN || v > INT_MAX) return false;
    *out = (int)v;
    return true;
}

static bool float_arg(float *out, const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || fabs(v) > FLT_MAX) return false;
    *out = (float)v;
    return true;
}

/* --seed: a decimal integer, digits only (strtoul alone would take "-1", " 7" or "7x"). */
static bool seed_arg(unsigned long *out, const char *s)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s < '0' || *s > '9' || *end) return false;
    *out = v;
    return true;
}

static int parse_args(options *o, int argc, char **argv)
{
    enum { O_OUTHEADS = 256, O_SPLIT, O_ATTN, O_WD, O_WDFIRST, O_WDALL, O_NONORM, O_SAVE, O_AGGR, O_LAYERS };
    static const struct option longopts[] = {
        {"layer", required_argument, 0, 'l'},     {"dataset", required_argument, 0, 'D'},
        {"data-dir", required_argument, 0, 'd'},  {"hidden", required_argument, 0, 'H'},
        {"heads", required_argument, 0, 'k'},     {"out-heads", required_argument, 0, O_OUTHEADS},
        {"split", required_argument, 0, O_SPLIT},
        {"layers", required_argument, 0, O_LAYERS}, {"dropout", required_argument, 0, 'p'},
        {"attn-dropout", required_argument, 0, O_ATTN}, {"aggr", required_argument, 0, O_AGGR},
        {"lr", required_argument, 0, 'r'},        {"weight-decay", required_argument, 0, O_WD},
        {"wd-first", no_argument, 0, O_WDFIRST},  {"wd-all", no_argument, 0, O_WDALL},
        {"epochs", required_argument, 0, 'e'},    {"seed", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'},   {"no-feature-norm", no_argument, 0, O_NONORM},
        {"save", required_argument, 0, O_SAVE},   {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    int hidden = -1, epochs = 200;
    float dropout = -1.0f, lr = -1.0f;
    bool dataset_option = false;
    for (int c; (c = getopt_long(argc, argv, "l:D:d:H:k:p:r:e:s:t:qh", longopts, NULL)) != -1;) {
        bool ok = true; /* a number option parsed (ranges: below) */
        switch (c) {
        case 'l': o->layer = optarg; break;
        case 'D': o->dataset = optarg; dataset_option = true; break;
        case 'd': o->data_dir = optarg; break;
        case 'H': ok = int_arg(&hidden, optarg); break;
        case 'k': ok = int_arg(&o->heads, optarg); break;
        case O_OUTHEADS: ok = int_arg(&o->out_heads, optarg); break;
        case O_SPLIT: ok = int_arg(&o->split, optarg); break;
        case O_LAYERS: ok = int_arg(&o->layers, optarg); break;
        case 'p': ok = float_arg(&dropout, optarg); break;
        case O_ATTN: ok = float_arg(&o->attn_dropout, optarg); break;
        case O_AGGR: o->aggr = optarg; break;
        case 'r': ok = float_arg(&lr, optarg); break;
        case O_WD: ok = float_arg(&o->weight_decay, optarg); break;
        case O_WDFIRST: o->wd_mode = 1; break;
        case O_WDALL: o->wd_mode = 2; break;
        case 'e': ok = int_arg(&epochs, optarg); break;
        case 's': ok = seed_arg(&o->seed, optarg); break;
        case 't': ok = int_arg(&o->threads, optarg); break;
        case O_NONORM: o->no_feature_norm = true; break;
        case O_SAVE: o->save = optarg; break;
        case 'q': o->quiet = true; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return 2;
        }
        if (!ok) {
            const struct option *l = longopts;
            while (l->name && l->val != c) l++;
            fprintf(stderr, "gp-nodeclass: bad value '%s' for --%s\n", optarg, l->name ? l->name : "?");
            return 2;
        }
    }
    if (optind < argc) { /* gp-nodeclass [options] NAME: the same as --dataset NAME */
        const char *why = optind < argc - 1 ? "one dataset at most" : dataset_option ? "give it or --dataset, not both"
                                                                                    : NULL;
        if (why) {
            fprintf(stderr, "gp-nodeclass: unexpected argument '%s': %s\n", argv[argc - 1], why);
            return 2;
        }
        o->dataset = argv[optind];
    }
    static const char *const layers[] = {"gcn", "sage", "sage-max", "gin", "gat", "graphconv", "mlp"};
    bool known = false;
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) known |= strcmp(o->layer, layers[i]) == 0;
    if (!known) {
        fprintf(stderr, "gp-nodeclass: unknown layer '%s' (see --help)\n", o->layer);
        return 2;
    }
    /* -1: not given (the layer's default); a given value must be in range */
    bool gat = strcmp(o->layer, "gat") == 0;
    o->hidden = hidden != -1 ? hidden : gat ? 8 : 16;
    o->dropout = dropout != -1.0f ? dropout : gat ? 0.6f : 0.5f;
    o->lr = lr != -1.0f ? lr : gat ? 0.005f : 0.01f;
    o->epochs = epochs;
#define RANGE(cond, ...)                                    \
    if (!(cond)) {                                          \
        fprintf(stderr, "gp-nodeclass: " __VA_ARGS__);      \
        return 2;                                           \
    }
    RANGE(o->hidden >= 1 && o->hidden <= MAX_WIDTH, "--hidden must be 1..%d (got %d)\n", MAX_WIDTH, o->hidden);
    RANGE(o->dropout >= 0.0f && o->dropout < 1.0f, "--dropout must be in [0, 1) (got %g)\n", (double)o->dropout);
    RANGE(o->lr > 0.0f && o->lr <= 10.0f, "--lr must be in (0, 10] (got %g)\n", (double)o->lr); /* as gp-linkpred */
    RANGE(o->epochs >= 1, "--epochs must be at least 1 (got %d)\n", o->epochs);
    RANGE(o->threads >= 1, "--threads must be at least 1 (got %d)\n", o->threads);
    RANGE(o->split >= 0, "--split must be at least 0 (got %d)\n", o->split);
    RANGE(o->layers >= 1 && o->layers <= MAX_LAYERS, "--layers must be 1..%d (got %d)\n", MAX_LAYERS, o->layers);
    RANGE(o->heads >= 1 && o->heads <= MAX_HEADS, "--heads must be 1..%d (got %d)\n", MAX_HEADS, o->heads);
    RANGE(o->out_heads >= 1 && o->out_heads <= MAX_HEADS, "--out-heads must be 1..%d (got %d)\n", MAX_HEADS,
          o->out_heads);
    RANGE(o->attn_dropout >= 0.0f && o->attn_dropout < 1.0f, "--attn-dropout must be in [0, 1) (got %g)\n",
          (double)o->attn_dropout);
    RANGE(o->weight_decay >= 0.0f, "--weight-decay must be at least 0 (got %g)\n", (double)o->weight_decay);
#undef RANGE
    if (!app_output_path_ok("gp-nodeclass", "--save", o->save)) return 2; /* before training */
    return 0;
}

int main(int argc, char **argv)
{
    options o = {.layer = "gcn", .dataset = "cora", .aggr = "mean", .heads = 8, .out_heads = 1,
                 .layers = 2, .threads = 1, .attn_dropout = 0.6f, .weight_decay = 5e-4f, .seed = 1};
    int rc = parse_args(&o, argc, argv);
    if (rc) return rc;
    app_settle_thread_env(argv, o.threads);
    if (gp_init() != GP_OK) {
        fprintf(stderr, "gp-nodeclass: %s\n", gp_last_error_message());
        return 1;
    }
    gp_set_threads(o.threads);
    rc = 1;
    char *dir = NULL;
    gp_node_dataset *ds = NULL;
    gp_csr *feat = NULL;
    float *dense = NULL;
    gp_module *model = NULL;
    gp_tape *tape = NULL;
    gp_optim *opt_decay = NULL, *opt_rest = NULL;
    gp_param_list all = {0};
    int64_t *train_labels = NULL;
    gp_tensor **rest = NULL;
    gp_status st;
#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if ((st = (expr)) != GP_OK) {                                                              \
            fprintf(stderr, "gp-nodeclass: %s\n", gp_last_error_message());                                \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)
    CHECK(gp_data_dir(&dir, o.data_dir));
    CHECK(gp_data_read_nodes(&ds, dir, o.dataset, 0));
    if (!ds->features || ds->num_splits <= o.split) {
        fprintf(stderr, "gp-nodeclass: %s has no %s\n", o.dataset,
                ds->features ? "split of that number" : "features file");
        goto done;
    }
    const gp_node_split *split = &ds->splits[o.split];
    if (split->count[GP_NODES_TRAIN] == 0) {
        fprintf(stderr, "gp-nodeclass: %s: split %d has no training nodes (empty train_idx)\n", o.dataset, o.split);
        goto done;
    }
    CHECK(normalised_features(&feat, ds->features, !o.no_feature_norm));
    gp_rng rng;
    gp_rng_seed(&rng, o.seed);
    CHECK(build_model(&model, &o, ds->num_features, ds->num_classes, &rng));
    bool sparse = gp_module_accepts_csr(model);
    if (!sparse) CHECK(gp_csr_to_dense(&dense, feat));
    gp_tensor xview = sparse ? (gp_tensor){0} : gp_tensor_view(dense, feat->rows, feat->cols);

    /* Weight decay: on the first layer's parameters only (names "0.") or on all. */
    bool wd_first = o.wd_mode == 1 || (o.wd_mode == 0 && strcmp(o.layer, "gcn") == 0);
    CHECK(gp_module_params(&all, model, false));
    rest = malloc((size_t)all.count * sizeof *rest);
    gp_tensor **decay = malloc((size_t)all.count * sizeof *decay);
    int nd = 0, nr = 0;
    for (int i = 0; i < all.count; i++) {
        if (!wd_first || strncmp(all.names[i], "0.", 2) == 0) decay[nd++] = all.tensors[i];
        else rest[nr++] = all.tensors[i];
    }
    st = gp_adam_new(&opt_decay, decay, nd, o.lr, 0.9f, 0.999f, 1e-8f, o.weight_decay);
    free(decay);
    CHECK(st);
    if (nr > 0) CHECK(gp_adam_new(&opt_rest, rest, nr, o.lr, 0.9f, 0.999f, 1e-8f, 0.0f));
    CHECK(gp_tape_new(&tape));
    int64_t ntrain = split->count[GP_NODES_TRAIN];
    train_labels = malloc((size_t)(ntrain > 0 ? ntrain : 1) * sizeof(int64_t));
    for (int64_t r = 0; r < ntrain; r++) train_labels[r] = ds->labels[split->idx[GP_NODES_TRAIN][r]];
    if (!o.quiet)
        fprintf(stderr,
                "gp-nodeclass: %s on %s (%lld nodes, %lld features, %lld classes), %lld weights, "
                "%s input\n",
                o.layer, o.dataset, (long long)ds->num_nodes, (long long)ds->num_features,
                (long long)ds->num_classes, (long long)gp_module_num_weights(model),
                sparse ? "sparse" : "dense");

    double step_ms = 0.0, cpu_ms = 0.0, best_val = -1.0, test_at_best = 0.0, acc[GP_NODES_PARTS] = {0};
    int best_epoch = 0;
    for (int epoch = 1; epoch <= o.epochs; epoch++) {
        double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        gp_tape_reset(tape);
        gp_tape_set_training(tape, true);
        gp_tensor *logits = sparse ? gp_module_forward_csr(model, tape, ds->graph, feat, 0.0f)
                                   : gp_module_forward(model, tape, ds->graph, &xview);
        gp_tensor *loss = gp_cross_entropy_loss(
            tape, gp_gather_rows(tape, logits, split->idx[GP_NODES_TRAIN], ntrain), train_labels,
            GP_REDUCE_MEAN);
        CHECK(gp_tape_backward(tape, loss));
        CHECK(gp_optim_step(opt_decay));
        if (opt_rest) CHECK(gp_optim_step(opt_rest));
        gp_optim_zero_grad(opt_decay);
        if (opt_rest) gp_optim_zero_grad(opt_rest);
        step_ms += now_ms(CLOCK_MONOTONIC) - t0;
        cpu_ms += now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
        float loss_value = loss->data[0];

        gp_tape_reset(tape);
        gp_tape_set_training(tape, false);
        gp_tape_set_recording(tape, false);
        logits = sparse ? gp_module_forward_csr(model, tape, ds->graph, feat, 0.0f)
                        : gp_module_forward(model, tape, ds->graph, &xview);
        gp_tape_set_recording(tape, true);
        if (!logits) CHECK(gp_tape_status(tape));
        for (int p = 0; p < GP_NODES_PARTS; p++)
            acc[p] = accuracy_on(logits, ds->labels, split->idx[p], split->count[p]);
        if (acc[GP_NODES_VAL] > best_val) {
            best_val = acc[GP_NODES_VAL];
            test_at_best = acc[GP_NODES_TEST];
            best_epoch = epoch;
        }
        if (!o.quiet)
            fprintf(stderr, "epoch %3d  loss %.4f  train %.4f  val %.4f  test %.4f\n", epoch,
                    (double)loss_value, acc[GP_NODES_TRAIN], acc[GP_NODES_VAL], acc[GP_NODES_TEST]);
    }
    if (o.save) CHECK(gp_module_save(model, o.save));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("final_train_acc %.4f\nfinal_val_acc %.4f\nfinal_test_acc %.4f\n", acc[GP_NODES_TRAIN],
           acc[GP_NODES_VAL], acc[GP_NODES_TEST]);
    printf("best_val_acc %.4f\ntest_acc_at_best_val %.4f\nbest_epoch %d\n", best_val, test_at_best,
           best_epoch);
    printf("ms_per_step %.3f\ncpu_ms_per_step %.3f\npeak_rss_mb %.1f\n", step_ms / o.epochs,
           cpu_ms / o.epochs, ru.ru_maxrss / 1024.0);
    rc = 0;
done:
    free(train_labels);
    gp_param_list_free(&all);
    free(rest);
    gp_optim_free(&opt_decay);
    gp_optim_free(&opt_rest);
    gp_tape_free(&tape);
    gp_module_free(&model);
    gp_free(dense);
    gp_csr_free(&feat);
    gp_node_dataset_free(&ds);
    gp_free(dir);
    gp_finalize();
    return rc;
}
