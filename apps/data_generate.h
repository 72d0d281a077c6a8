/* gp-data generate: a synthetic graph written as an edge list (see data_generate.c). */
#ifndef GP_APP_DATA_GENERATE_H
#define GP_APP_DATA_GENERATE_H

#include <stdint.h>

/* Generate the graph of spec ("KIND[:key=value,...]") with seed and write it to output (NULL:
 * stdout). Returns the exit status: 0, 1 (out of memory, write error), 2 (bad spec). */
int data_generate(const char *spec, uint64_t seed, const char *output);

/* The kinds and their keys, for the usage text. */
extern const char data_generate_help[];

#endif
