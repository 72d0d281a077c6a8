/* Output files of the apps, written whole or not at all (see app_output.c). */
#ifndef GP_APP_OUTPUT_H
#define GP_APP_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

typedef struct app_output {
    FILE *f;        /* write here */
    char tmp[4096]; /* the temporary file, "" when writing path directly (or stdout) */
    const char *path;
} app_output;

/* Open path for writing (NULL: stdout). A regular or new file is written to path.tmp-XXXXXX
 * (mode as fopen would give), renamed over path by app_output_close; an existing path that is not
 * a regular file (a symbolic link such as /dev/stdout, a device, a pipe) is written directly,
 * never replaced. 0, or an errno value (EISDIR for a directory). */
int app_output_open(app_output *o, const char *path);

/* Close o. With ok and no write error: rename the temporary file over path. Otherwise, or if
 * the rename fails, remove it. 0, or the errno value of the failed write, close or rename (EIO
 * if none was set); always 0 without ok. */
int app_output_close(app_output *o, bool ok);

/* Can the output file path of option opt be written (checked before any work, not after it):
 * is it named, not a directory, and is its directory an existing, writable one? true for NULL;
 * false with "APP: OPT PATH: why" on stderr. */
bool app_output_path_ok(const char *app, const char *opt, const char *path);

#endif
