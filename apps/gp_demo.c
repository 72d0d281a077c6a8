/*
 * gp-demo: trains a 2-layer GCN (Kipf & Welling 2017) end to end on a generated stochastic
 * block model (4 communities of 60 nodes, p_in = 0.1, p_out = 0.01, seed 1) whose node
 * features carry only a weak, noisy community signal, so the graph structure must do the work.
 * 20 % of the nodes are labelled for training; prints the loss falling and the accuracy on
 * the unlabelled nodes. Usage: gp-demo [--epochs N] [--seed S] [--threads T]
 * An example of the public API alone: it builds outside the tree against an installed
 * graphpool (cc gp_demo.c $(pkg-config --cflags --libs graphpool); tests/check_install.sh).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <graphpool/graphpool.h>

enum { BLOCKS = 4, PER_BLOCK = 60, N = BLOCKS * PER_BLOCK, F = 8, HIDDEN = 16 };

static int argmax_row(const gp_tensor *z, int64_t i)
{
    int best = 0;
    for (int c = 1; c < z->cols; c++)
        if (gp_tensor_at(z, i, c) > gp_tensor_at(z, i, best)) best = c;
    return best;
}

int main(int argc, char **argv)
{
    int epochs = 200, threads = 1;
    unsigned long seed = 1;
    static const struct option opts[] = {{"epochs", required_argument, 0, 'e'},
                                          {"seed", required_argument, 0, 's'},
                                          {"threads", required_argument, 0, 't'},
                                          {"help", no_argument, 0, 'h'},
                                          {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "e:s:t:h", opts, NULL)) != -1;) {
        switch (c) {
        case 'e': epochs = atoi(optarg); break;
        case 's': seed = strtoul(optarg, NULL, 10); break;
        case 't': threads = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: gp-demo [--epochs N] [--seed S] [--threads T]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (epochs < 1 || threads < 1) {
        fprintf(stderr, "gp-demo: --epochs and --threads must be positive\n");
        return 2;
    }
    /* With several threads on cores shared with other jobs, run with GOMP_SPINCOUNT=30000
     * (README, "Threads"); the gp-* apps set it themselves. */
    if (gp_init() != GP_OK) {
        fprintf(stderr, "gp-demo: %s\n", gp_last_error_message());
        return 1;
    }
    gp_set_threads(threads);

    /* Stochastic block model and features: onehot(block) * 0.6 + N(0, 1) noise. */
    gp_rng rng;
    gp_rng_seed(&rng, seed);
    int64_t *src = malloc(sizeof(int64_t) * N * N / 2), *dst = malloc(sizeof(int64_t) * N * N / 2);
    int64_t labels[N], train_idx[N], train_labels[N], test_idx[N], ntrain = 0, ntest = 0, m = 0;
    float feat[N * F];
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            if (gp_rng_uniform(&rng) < (i / PER_BLOCK == j / PER_BLOCK ? 0.1f : 0.01f))
                src[m] = i, dst[m++] = j;
    for (int i = 0; i < N; i++) {
        labels[i] = i / PER_BLOCK;
        for (int f = 0; f < F; f++)
            feat[i * F + f] = gp_rng_normal(&rng) + (f % BLOCKS == labels[i] ? 0.6f : 0.0f);
        if (gp_rng_uniform(&rng) < 0.2f) train_labels[ntrain] = labels[i], train_idx[ntrain++] = i;
        else test_idx[ntest++] = i;
    }

    gp_graph *g = NULL;
    gp_tensor *w1 = NULL, *b1 = NULL, *w2 = NULL, *b2 = NULL;
    gp_tape *t = NULL;
    gp_optim *opt = NULL;
    const gp_graph *a = NULL;
    int rc = 1;
    if (gp_graph_from_edges(&g, N, m, src, dst, NULL, GP_EDGES_SYMMETRISE) != GP_OK ||
        gp_graph_gcn_norm(&a, g) != GP_OK || gp_param_new(&w1, "w1", F, HIDDEN) != GP_OK ||
        gp_param_new(&b1, "b1", 1, HIDDEN) != GP_OK ||
        gp_param_new(&w2, "w2", HIDDEN, BLOCKS) != GP_OK ||
        gp_param_new(&b2, "b2", 1, BLOCKS) != GP_OK || gp_tape_new(&t) != GP_OK)
        goto fail;
    gp_init_glorot_uniform(w1, &rng, 1.0f);
    gp_init_glorot_uniform(w2, &rng, 1.0f);
    gp_tensor *params[] = {w1, b1, w2, b2};
    if (gp_adam_new(&opt, params, 4, 0.01f, 0.9f, 0.999f, 1e-8f, 5e-4f) != GP_OK) goto fail;
    printf("gp-demo: 2-layer GCN on a stochastic block model, %d nodes, %lld edges, %lld labelled\n",
           N, (long long)m, (long long)ntrain);
    printf("%6s %10s %10s %10s\n", "epoch", "loss", "train_acc", "test_acc");

    gp_graph *an = (gp_graph *)a;
    for (int epoch = 1; epoch <= epochs; epoch++) {
        for (int train = 1; train >= 0; train--) {
            gp_tape_reset(t);
            gp_tape_set_training(t, train);
            gp_tensor *x = gp_tape_constant(t, feat, N, F);
            gp_tensor *h = gp_matmul(t, gp_dropout(t, x, 0.5f, &rng), w1, false, false);
            h = gp_relu(t, gp_add(t, gp_spmm(t, an, NULL, h), b1));
            gp_tensor *z = gp_matmul(t, gp_dropout(t, h, 0.5f, &rng), w2, false, false);
            z = gp_add(t, gp_spmm(t, an, NULL, z), b2);
            gp_tensor *loss = gp_cross_entropy_loss(t, gp_gather_rows(t, z, train_idx, ntrain),
                                                    train_labels, GP_REDUCE_MEAN);
            if (!loss) goto fail;
            if (train) {
                if (gp_tape_backward(t, loss) != GP_OK || gp_optim_step(opt) != GP_OK) goto fail;
                gp_optim_zero_grad(opt);
            } else if (epoch == 1 || epoch % 20 == 0 || epoch == epochs) {
                int ok_train = 0, ok_test = 0;
                for (int64_t k = 0; k < ntrain; k++)
                    ok_train += argmax_row(z, train_idx[k]) == labels[train_idx[k]];
                for (int64_t k = 0; k < ntest; k++)
                    ok_test += argmax_row(z, test_idx[k]) == labels[test_idx[k]];
                printf("%6d %10.4f %10.3f %10.3f\n", epoch, (double)loss->data[0],
                       (double)ok_train / ntrain, (double)ok_test / ntest);
            }
        }
    }
    rc = 0;
fail:
    if (rc) fprintf(stderr, "gp-demo: %s\n", gp_last_error_message());
    gp_optim_free(&opt);
    gp_tape_free(&t);
    gp_tensor_free(&w1);
    gp_tensor_free(&b1);
    gp_tensor_free(&w2);
    gp_tensor_free(&b2);
    gp_graph_free(&g);
    free(src);
    free(dst);
    gp_finalize();
    return rc;
}
