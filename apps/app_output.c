/*
 * Output files written whole or not at all: a failure (bad input found late, a full disk, an
 * interrupted run) leaves no partial file behind, and an existing file is replaced only by a
 * complete one (write to a temporary file next to it, then rename).
 */
#include "app_output.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int app_output_open(app_output *o, const char *path)
{
    o->f = NULL;
    o->tmp[0] = '\0';
    o->path = path;
    if (!path) {
        o->f = stdout;
        return 0;
    }
    struct stat sb; /* lstat: a rename would replace a symbolic link such as /dev/stdout itself */
    if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        if (S_ISDIR(sb.st_mode) || (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))) return EISDIR;
        o->f = fopen(path, "w");
        return o->f ? 0 : errno;
    }
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        int e = errno;
        o->tmp[0] = '\0';
        return e;
    }
    mode_t mask = umask(0); /* mkstemp creates 0600: give the mode fopen would */
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0 || !(o->f = fdopen(fd, "w"))) {
        int e = errno;
        close(fd);
        remove(o->tmp);
        o->tmp[0] = '\0';
        return e;
    }
    return 0;
}

int app_output_close(app_output *o, bool ok)
{
    if (!o->f || o->f == stdout) {
        if (o->f) fflush(stdout);
        o->f = NULL;
        return 0;
    }
    int err = ferror(o->f) ? (errno ? errno : EIO) : 0; /* errno of the failed write */
    if (fclose(o->f) != 0 && !err) err = errno ? errno : EIO;
    o->f = NULL;
    if (ok && !err && o->tmp[0] && rename(o->tmp, o->path) != 0) err = errno;
    if (o->tmp[0] && (!ok || err)) remove(o->tmp);
    o->tmp[0] = '\0';
    return ok ? err : 0;
}

bool app_output_path_ok(const char *app, const char *opt, const char *path)
{
    if (!path) return true;
    if (!*path) {
        fprintf(stderr, "%s: %s: empty file name\n", app, opt);
        return false;
    }
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "%s: %s %s: is a directory\n", app, opt, path);
        return false;
    }
    char *copy = strdup(path);
    if (!copy) return false;
    const char *dir = dirname(copy);
    bool ok = stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && access(dir, W_OK) == 0;
    if (!ok) fprintf(stderr, "%s: %s %s: %s is not a writable directory\n", app, opt, path, dir);
    free(copy);
    return ok;
}
