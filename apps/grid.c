/* Hyper-parameter grids for per-fold model selection; see grid.h. */
#include "grid.h"

#include <stdio.h>
#include <string.h>

int grid_parse(grid *g, const char *spec, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    if (strlen(spec) >= sizeof g->text) {
        snprintf(err, errlen, "grid specification longer than %zu characters", sizeof g->text - 1);
        return -1;
    }
    strcpy(g->text, spec);
    long configs = 1;
    char *save = NULL;
    for (char *item = strtok_r(g->text, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq || eq == item || !eq[1]) {
            snprintf(err, errlen, "'%s' is not KEY=V1/V2/...", item);
            return -1;
        }
        if (g->num_keys == GRID_MAX_KEYS) {
            snprintf(err, errlen, "more than %d keys", GRID_MAX_KEYS);
            return -1;
        }
        *eq = '\0';
        int k = g->num_keys++;
        g->key[k] = (short)(item - g->text);
        for (int j = 0; j < k; j++)
            if (!strcmp(grid_key(g, j), item)) {
                snprintf(err, errlen, "key '%s' given twice", item);
                return -1;
            }
        char *vsave = NULL;
        for (char *v = strtok_r(eq + 1, "/", &vsave); v; v = strtok_r(NULL, "/", &vsave)) {
            if (g->num_values[k] == GRID_MAX_VALUES) {
                snprintf(err, errlen, "more than %d values for '%s'", GRID_MAX_VALUES, item);
                return -1;
            }
            g->value[k][g->num_values[k]++] = (short)(v - g->text);
        }
        if (g->num_values[k] == 0) {
            snprintf(err, errlen, "no value for '%s'", item);
            return -1;
        }
        configs *= g->num_values[k];
        if (configs > GRID_MAX_CONFIGS) {
            snprintf(err, errlen, "more than %d configurations", GRID_MAX_CONFIGS);
            return -1;
        }
    }
    if (g->num_keys == 0) {
        snprintf(err, errlen, "empty grid");
        return -1;
    }
    return 0;
}

const char *grid_key(const grid *g, int k) { return g->text + g->key[k]; }

int grid_size(const grid *g)
{
    int n = 1;
    for (int k = 0; k < g->num_keys; k++) n *= g->num_values[k];
    return n;
}

const char *grid_value(const grid *g, int i, int k)
{
    int stride = 1;
    for (int j = k + 1; j < g->num_keys; j++) stride *= g->num_values[j];
    return g->text + g->value[k][(i / stride) % g->num_values[k]];
}

void grid_describe(const grid *g, int i, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < g->num_keys && used < size; k++) {
        int w = snprintf(buf + used, size - used, "%s%s=%s", k ? "," : "", grid_key(g, k), grid_value(g, i, k));
        if (w < 0) break;
        used += (size_t)w;
    }
}
