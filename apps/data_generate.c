/*
 * gp-data generate KIND[:key=value,...] [--seed S] [--output FILE]: one of the library's
 * generators (graphpool/generators.h) written as an edge list that every app reads: a comment
 * line naming the command, then one "u v" line per undirected edge (0-based ids, u < v, sorted).
 * So a benchmark or a bug report on a synthetic graph is one command anyone can repeat:
 *
 *   ba:n=N[,m=3]               Barabasi-Albert, each new node links to m earlier ones
 *   ws:n=N[,k=3,p=0.1]         Watts-Strogatz ring, k neighbours a side, rewiring p
 *                              (ws:n=300 with seed 1: the graph of gp-linkpred's demo; read
 *                              from the file its nodes are numbered in file order, so the
 *                              split and the numbers differ from the demo's)
 *   er:n=N,p=P                 Erdos-Renyi G(n, p)
 *   lattice:rows=R,cols=C[,periodic=0]     square lattice (periodic: torus)
 *   trilattice:rows=R,cols=C[,periodic=0]  triangular lattice
 *
 * Nodes without edges (possible in er) have no line; the comment gives the node count.
 * Output is written whole or not at all (app_output.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <graphpool/generators.h>
#include <graphpool/graphpool.h>

#include "app_output.h"
#include "data_generate.h"

const char data_generate_help[] =
    "generate KIND[:key=value,...] [--seed S] [--output FILE]   a synthetic edge list:\n"
    "  ba:n=N[,m=3]  ws:n=N[,k=3,p=0.1]  er:n=N,p=P  lattice:rows=R,cols=C[,periodic=0]\n"
    "  trilattice:rows=R,cols=C[,periodic=0]   (seed default 1; to stdout without --output)\n";

enum { MAX_KEYS = 4 };

typedef struct kind {
    const char *name;
    const char *keys[MAX_KEYS]; /* NULL-terminated */
    double defaults[MAX_KEYS];  /* NAN: required */
} kind;

static const kind kinds[] = {
    {"ba", {"n", "m", NULL}, {NAN, 3}},
    {"ws", {"n", "k", "p", NULL}, {NAN, 3, 0.1}},
    {"er", {"n", "p", NULL}, {NAN, NAN}},
    {"lattice", {"rows", "cols", "periodic", NULL}, {NAN, NAN, 0}},
    {"trilattice", {"rows", "cols", "periodic", NULL}, {NAN, NAN, 0}},
};

/* Parse spec into *k and v[] (the kind's keys in order); 0, or 2 with a message. */
static int parse_spec(const kind **k, double v[MAX_KEYS], const char *spec)
{
    size_t len = strcspn(spec, ":");
    *k = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strlen(kinds[i].name) == len && strncmp(spec, kinds[i].name, len) == 0) *k = &kinds[i];
    if (!*k) {
        fprintf(stderr, "gp-data: generate: unknown kind '%.*s' (ba, ws, er, lattice, trilattice)\n", (int)len, spec);
        return 2;
    }
    for (int i = 0; i < MAX_KEYS; i++) v[i] = (*k)->defaults[i];
    const char *p = spec[len] == ':' ? spec + len + 1 : spec + len;
    while (*p) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        int key = -1;
        for (int i = 0; eq && (*k)->keys[i]; i++)
            if (strlen((*k)->keys[i]) == (size_t)(eq - p) && strncmp(p, (*k)->keys[i], (size_t)(eq - p)) == 0) key = i;
        char *end = NULL;
        double x = eq ? strtod(eq + 1, &end) : 0;
        if (key < 0 || end == eq + 1 || end != p + n || !isfinite(x)) {
            fprintf(stderr, "gp-data: generate: bad setting '%.*s' for %s (keys:", (int)n, p, (*k)->name);
            for (int i = 0; (*k)->keys[i]; i++) fprintf(stderr, " %s", (*k)->keys[i]);
            fprintf(stderr, ")\n");
            return 2;
        }
        v[key] = x;
        p += n + (p[n] == ',');
    }
    for (int i = 0; (*k)->keys[i]; i++) {
        if (isnan(v[i])) {
            fprintf(stderr, "gp-data: generate: %s needs %s=\n", (*k)->name, (*k)->keys[i]);
            return 2;
        }
        bool prob = !strcmp((*k)->keys[i], "p"), flag = !strcmp((*k)->keys[i], "periodic");
        bool ok = prob ? v[i] >= 0 && v[i] <= 1
                       : v[i] == (double)(int64_t)v[i] && v[i] >= (flag ? 0 : 1) && v[i] <= (flag ? 1 : 1e9);
        if (!ok) {
            fprintf(stderr, "gp-data: generate: %s=%g is out of range (%s)\n", (*k)->keys[i], v[i],
                    prob ? "a probability in [0, 1]" : flag ? "0 or 1" : "an integer from 1 to 1e9");
            return 2;
        }
    }
    return 0;
}

int data_generate(const char *spec, uint64_t seed, const char *output)
{
    const kind *k;
    double v[MAX_KEYS];
    int rc = parse_spec(&k, v, spec);
    if (rc) return rc;
    gp_graph *g = NULL;
    gp_status st;
    const char *name = k->name;
    if (!strcmp(name, "ba")) st = gp_gen_barabasi_albert(&g, (int64_t)v[0], (int64_t)v[1], seed);
    else if (!strcmp(name, "ws")) st = gp_gen_watts_strogatz(&g, (int64_t)v[0], (int64_t)v[1], v[2], seed);
    else if (!strcmp(name, "er")) st = gp_gen_erdos_renyi(&g, (int64_t)v[0], v[1], seed);
    else if (!strcmp(name, "lattice")) st = gp_gen_square_lattice(&g, (int64_t)v[0], (int64_t)v[1], v[2] != 0);
    else st = gp_gen_triangle_lattice(&g, (int64_t)v[0], (int64_t)v[1], v[2] != 0);
    if (st != GP_OK) {
        fprintf(stderr, "gp-data: generate %s: %s\n", spec, gp_last_error_message());
        return st == GP_E_INVALID ? 2 : 1;
    }
    app_output o = {0};
    int e = app_output_open(&o, output);
    if (e) {
        fprintf(stderr, "gp-data: %s: cannot write (%s)\n", output, strerror(e));
        gp_graph_free(&g);
        return 1;
    }
    int64_t n = gp_graph_nodes(g), isolated = 0;
    for (int64_t u = 0; u < n; u++) isolated += g->adj.ptr[u] == g->adj.ptr[u + 1];
    fprintf(o.f, "# gp-data generate %s --seed %" PRIu64 ": %" PRId64 " nodes (%" PRId64 " without edges, not "
                 "listed), %" PRId64 " edges\n", spec, seed, n, isolated, gp_graph_edges(g) / 2);
    for (int64_t u = 0; u < n; u++)
        for (int64_t j = g->adj.ptr[u]; j < g->adj.ptr[u + 1]; j++)
            if (g->adj.idx[j] > u) fprintf(o.f, "%" PRId64 " %" PRId64 "\n", u, g->adj.idx[j]);
    gp_graph_free(&g);
    e = app_output_close(&o, true);
    if (e) {
        fprintf(stderr, "gp-data: %s: write failed (%s)\n", output ? output : "stdout", strerror(e));
        return 1;
    }
    return 0;
}
