/*
 * GNP extrapolation benchmark (Ko et al. 2021 on the setting of Xu et al. 2021, "How Neural
 * Networks Extrapolate"): predict the maximum degree of a graph.
 *   train: Erdos-Renyi graphs, n ~ U{20..30}, p ~ U[0.1, 0.3], node features [1, x], x ~ U[-5, 5]^3
 *   test:  n ~ U{50..100}, same p range (so degrees go far beyond the training range), x ~ U[-10, 10]^3
 *   "mixed" (third argument): every second graph is Barabasi-Albert (m ~ U{1,2,3}) instead, whose
 *   maximum degree is far from its mean degree (a mean readout cannot track it)
 * Models: two message-passing layers (width 32, ReLU) -> readout -> linear, trained with MSE.
 *   sum / mean / max: GraphConv (sum aggregation) + the sum / mean / max readout (max is the
 *                     algorithmically aligned choice of Xu et al.)
 *   gnp:              GNP aggregation (gp_gnpconv_new) + GNP readout, p and q learned (shared by the
 *                     features, or per feature with per_channel=true)
 *   sum+gnp:          GraphConv (sum aggregation) + the GNP readout: the readouts compared on
 *                     the same message passing
 * Reported: test MAPE (mean |pred - y| / y) and training-range MAPE for each model, and the learned
 * (p, q) of GNP (first feature for per-channel). Usage: bench_gnp_extrap [epochs] [seed] [er|mixed]
 * [lr of GNP's p and q, default 0.005 as the other weights] [models, ';'-separated, default all].
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <graphpool/generators.h>
#include <graphpool/graphpool.h>
#include <graphpool/layers.h>
#include <graphpool/pool.h>

enum { HIDDEN = 32, NTRAIN = 600, NTEST = 200, BATCH = 32, MAXG = 1024 };

typedef struct set {
    int count;
    gp_graph *g[MAXG];
    float *x[MAXG];
    float y[MAXG];
} set;

static int make_set(set *s, int count, int n_lo, int n_hi, float xr, bool mixed, gp_rng *rng)
{
    s->count = count;
    for (int i = 0; i < count; i++) {
        int64_t n = n_lo + (int64_t)gp_rng_below(rng, (uint64_t)(n_hi - n_lo + 1));
        double p = 0.1 + 0.2 * gp_rng_uniform(rng);
        gp_status st = mixed && i % 2 ? gp_gen_barabasi_albert(&s->g[i], n, 1 + (int64_t)gp_rng_below(rng, 3), gp_rng_u64(rng))
                                      : gp_gen_erdos_renyi(&s->g[i], n, p, gp_rng_u64(rng));
        if (st != GP_OK) return 1;
        s->x[i] = malloc((size_t)n * 4 * sizeof(float));
        if (!s->x[i]) return 1;
        int64_t maxd = 0;
        for (int64_t v = 0; v < n; v++) {
            int64_t d = s->g[i]->adj.ptr[v + 1] - s->g[i]->adj.ptr[v];
            if (d > maxd) maxd = d;
            s->x[i][v * 4] = 1.0f;
            for (int c = 1; c < 4; c++) s->x[i][v * 4 + c] = xr * (2.0f * gp_rng_uniform(rng) - 1.0f);
        }
        s->y[i] = (float)maxd;
    }
    return 0;
}

static void free_set(set *s)
{
    for (int i = 0; i < s->count; i++) {
        gp_graph_free(&s->g[i]);
        free(s->x[i]);
    }
}

typedef struct net {
    gp_module *l1, *l2, *readout, *head;
} net;

static int net_new(net *m, const char *kind, uint64_t seed)
{
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    memset(m, 0, sizeof *m);
    /* "sum+SPEC": sum aggregation and the readout SPEC; "gnp...": GNP aggregation and readout */
    bool gnp = !strncmp(kind, "gnp", 3), per = strstr(kind, "per_channel=true") != NULL;
    const char *readout = !strncmp(kind, "sum+", 4) ? kind + 4 : kind;
    gp_status st = gnp ? gp_gnpconv_new(&m->l1, 4, HIDDEN, per, 1.0f, 0.0f, &rng)
                       : gp_graphconv_new(&m->l1, 4, HIDDEN, GP_AGGR_SUM, true, &rng);
    if (st == GP_OK)
        st = gnp ? gp_gnpconv_new(&m->l2, HIDDEN, HIDDEN, per, 1.0f, 0.0f, &rng)
                 : gp_graphconv_new(&m->l2, HIDDEN, HIDDEN, GP_AGGR_SUM, true, &rng);
    if (st == GP_OK) st = gp_pool_new(&m->readout, readout, HIDDEN, &rng);
    if (st == GP_OK) st = gp_linear_new(&m->head, HIDDEN, 1, true, &rng);
    return st != GP_OK;
}

static void net_free(net *m)
{
    gp_module_free(&m->l1);
    gp_module_free(&m->l2);
    gp_module_free(&m->readout);
    gp_module_free(&m->head);
}

static gp_tensor *net_forward(net *m, gp_tape *t, gp_graph *g, gp_tensor *x)
{
    gp_tensor *h = gp_relu(t, gp_module_forward(m->l1, t, g, x));
    h = gp_relu(t, gp_module_forward(m->l2, t, g, h));
    return gp_module_forward(m->head, t, NULL, gp_module_forward(m->readout, t, g, h));
}

/* Batch graphs [i0, i1) of s: graph and features (tape constant). */
static gp_graph *batch(gp_tape *t, gp_tensor **x, set *s, const int *order, int i0, int i1)
{
    const gp_graph *gs[BATCH] = {0};
    int64_t n = 0;
    for (int i = i0; i < i1; i++) {
        gs[i - i0] = s->g[order[i]];
        n += gp_graph_nodes(s->g[order[i]]);
    }
    gp_graph *g = NULL;
    if (gp_graph_batch(&g, i1 - i0, gs) != GP_OK) return NULL;
    *x = gp_tape_tensor(t, n, 4);
    int64_t r = 0;
    for (int i = i0; i < i1; i++) {
        int64_t k = gp_graph_nodes(s->g[order[i]]);
        memcpy((*x)->data + r * 4, s->x[order[i]], (size_t)k * 4 * sizeof(float));
        r += k;
    }
    return g;
}

static double mape(net *m, gp_tape *t, set *s)
{
    int order[MAXG];
    for (int i = 0; i < s->count; i++) order[i] = i;
    gp_tape_set_recording(t, false);
    double err = 0;
    for (int i0 = 0; i0 < s->count; i0 += BATCH) {
        int i1 = i0 + BATCH < s->count ? i0 + BATCH : s->count;
        gp_tape_reset(t);
        gp_tensor *x = NULL;
        gp_graph *g = batch(t, &x, s, order, i0, i1);
        gp_tensor *pred = g ? net_forward(m, t, g, x) : NULL;
        for (int i = i0; pred && i < i1; i++) err += fabs(pred->data[i - i0] - s->y[i]) / s->y[i];
        if (!pred) err = INFINITY;
        gp_graph_free(&g);
    }
    gp_tape_set_recording(t, true);
    return err / s->count;
}

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 100;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    bool mixed = argc > 3 && !strcmp(argv[3], "mixed");
    float gnp_lr = argc > 4 ? (float)atof(argv[4]) : 0.005f; /* learning rate of GNP's p, q */
    if (gp_init() != GP_OK) return 1;
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    static set train, test;
    if (make_set(&train, NTRAIN, 20, 30, 5.0f, mixed, &rng) ||
        make_set(&test, NTEST, 50, 100, 10.0f, mixed, &rng)) {
        fprintf(stderr, "bench_gnp_extrap: %s\n", gp_last_error());
        return 1;
    }
    double ty = 0, sy = 0;
    for (int i = 0; i < train.count; i++) ty += train.y[i];
    for (int i = 0; i < test.count; i++) sy += test.y[i];
    printf("max degree of %s graphs: train mean %.1f (n 20-30), test mean %.1f (n 50-100); %d epochs, seed %llu\n",
           mixed ? "Erdos-Renyi / Barabasi-Albert" : "Erdos-Renyi", ty / train.count, sy / test.count,
           epochs, (unsigned long long)seed);
    printf("%-22s %12s %12s\n", "model", "train_mape", "test_mape");
    /* models: the list below, or the ';'-separated ones of the fifth argument (any readout
     * spec of gp_pool_new after "sum+", or "gnp..." for GNP aggregation and readout) */
    const char *kinds[16] = {"sum", "mean", "max", "gnp", "gnp:per_channel=true", "sum+gnp",
                             "sum+gnp:per_channel=true"};
    int num_kinds = 7;
    if (argc > 5) {
        num_kinds = 0;
        for (char *tok = strtok(argv[5], ";"); tok && num_kinds < 16; tok = strtok(NULL, ";"))
            kinds[num_kinds++] = tok;
    }
    gp_tape *t = NULL;
    if (gp_tape_new(&t) != GP_OK) return 1;
    for (int k = 0; k < num_kinds; k++) {
        net m;
        if (net_new(&m, kinds[k], seed + 17)) {
            fprintf(stderr, "bench_gnp_extrap: model %s: %s\n", kinds[k], gp_last_error());
            return 1;
        }
        gp_param_list pl[4];
        gp_tensor *params[64], *pq[8];
        int np = 0, npq = 0;
        gp_module *mods[4] = {m.l1, m.l2, m.readout, m.head};
        for (int j = 0; j < 4; j++) {
            if (gp_module_params(&pl[j], mods[j], false) != GP_OK) return 1;
            for (int i = 0; i < pl[j].count; i++) {
                bool is_pq = !strcmp(pl[j].names[i], "gnp");
                if (is_pq) pq[npq++] = pl[j].tensors[i];
                else params[np++] = pl[j].tensors[i];
            }
        }
        gp_optim *opt = NULL, *opt_pq = NULL;
        if (gp_adam_new(&opt, params, np, 0.005f, 0.9f, 0.999f, 1e-8f, 0.0f) != GP_OK) return 1;
        if (npq > 0 && gp_adam_new(&opt_pq, pq, npq, gnp_lr, 0.9f, 0.999f, 1e-8f, 0.0f) != GP_OK) return 1;
        int order[MAXG];
        for (int i = 0; i < train.count; i++) order[i] = i;
        gp_rng erng;
        gp_rng_seed(&erng, seed + 99);
        for (int ep = 0; ep < epochs; ep++) {
            for (int i = train.count - 1; i > 0; i--) {
                int j = (int)gp_rng_below(&erng, (uint64_t)i + 1), tmp = order[i];
                order[i] = order[j];
                order[j] = tmp;
            }
            for (int i0 = 0; i0 < train.count; i0 += BATCH) {
                int i1 = i0 + BATCH < train.count ? i0 + BATCH : train.count;
                gp_tape_reset(t);
                gp_tensor *x = NULL;
                gp_graph *g = batch(t, &x, &train, order, i0, i1);
                gp_tensor *y = gp_tape_tensor(t, i1 - i0, 1);
                for (int i = i0; y && i < i1; i++) y->data[i - i0] = train.y[order[i]];
                gp_tensor *loss = gp_mse_loss(t, net_forward(&m, t, g, x), y, GP_REDUCE_MEAN);
                if (gp_tape_backward(t, loss) == GP_OK) {
                    gp_clip_grad_norm(params, np, 10.0f);
                    gp_optim_step(opt);
                    if (opt_pq) gp_optim_step(opt_pq);
                }
                gp_optim_zero_grad(opt);
                if (opt_pq) gp_optim_zero_grad(opt_pq);
                gp_graph_free(&g);
            }
        }
        printf("%-22s %12.4f %12.4f", kinds[k], mape(&m, t, &train), mape(&m, t, &test));
        if (strstr(kinds[k], "gnp")) {
            bool agg = !strncmp(kinds[k], "gnp", 3); /* GNP aggregation: its layers' p, q too */
            gp_tensor *ps[3] = {m.readout->params[0], m.l1->params[0], m.l2->params[0]};
            const char *where[3] = {"readout", "layer1", "layer2"};
            printf("   learned (p+, q+, p-, q-)%s:", strstr(kinds[k], "per_channel") ? " of feature 0" : "");
            for (int j = 0; j < (agg ? 3 : 1); j++) {
                int64_t c = ps[j]->cols;
                printf(" %s %.2f %.2f %.2f %.2f", where[j], ps[j]->data[0], ps[j]->data[c],
                       ps[j]->data[2 * c], ps[j]->data[3 * c]);
            }
        }
        printf("\n");
        fflush(stdout);
        gp_optim_free(&opt);
        gp_optim_free(&opt_pq);
        for (int j = 0; j < 4; j++) gp_param_list_free(&pl[j]);
        net_free(&m);
    }
    gp_tape_free(&t);
    free_set(&train);
    free_set(&test);
    gp_finalize();
    return 0;
}
