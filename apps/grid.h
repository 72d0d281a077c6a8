/*
 * Hyper-parameter grids for per-fold model selection (gp-graphclass --grid).
 *
 * Syntax: KEY=V1/V2/...[,KEY=V1/...]. The grid is the Cartesian product of the value lists;
 * configuration i takes, for key k (the first key varying slowest), value
 * (i / prod_{j>k} |values_j|) mod |values_k|. Keys and values are kept as strings; the caller
 * decides which keys exist and parses the values.
 */
#ifndef GP_APP_GRID_H
#define GP_APP_GRID_H

#include <stddef.h>

enum { GRID_MAX_KEYS = 8, GRID_MAX_VALUES = 8, GRID_MAX_CONFIGS = 64 };

/* Keys and values are offsets into text (the parsed copy), so a grid may be copied by value. */
typedef struct grid {
    char text[512];
    short key[GRID_MAX_KEYS];
    short value[GRID_MAX_KEYS][GRID_MAX_VALUES];
    int num_keys, num_values[GRID_MAX_KEYS];
} grid;

/* Parse spec into g. 0 on success; -1 with a message in err (size errlen) otherwise. */
int grid_parse(grid *g, const char *spec, char *err, size_t errlen);

/* Number of configurations (1 for an empty grid). */
int grid_size(const grid *g);

/* Key k. */
const char *grid_key(const grid *g, int k);

/* The value of key k in configuration i. */
const char *grid_value(const grid *g, int i, int k);

/* "key=value,key=value" of configuration i into buf. */
void grid_describe(const grid *g, int i, char *buf, size_t size);

#endif
