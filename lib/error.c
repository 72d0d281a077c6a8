/* Thread-local last-error message: "file.c:line: message". */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local char last_error[1024];
static _Thread_local int message_start; /* where the message after "file.c:line: " begins */

const char *gp_last_error(void) { return last_error; }
const char *gp_last_error_message(void) { return last_error + message_start; }
void gp_clear_error(void) { last_error[0] = '\0', message_start = 0; }

const char *gp_status_name(gp_status s)
{
    switch (s) {
    case GP_OK: return "GP_OK";
    case GP_E_NOMEM: return "GP_E_NOMEM";
    case GP_E_INVALID: return "GP_E_INVALID";
    case GP_E_SHAPE: return "GP_E_SHAPE";
    case GP_E_IO: return "GP_E_IO";
    case GP_E_PARSE: return "GP_E_PARSE";
    case GP_E_RANGE: return "GP_E_RANGE";
    case GP_E_FOREIGN: return "GP_E_FOREIGN";
    case GP_E_NUMERIC: return "GP_E_NUMERIC";
    case GP_E_STATE: return "GP_E_STATE";
    case GP_E_UNSUPPORTED: return "GP_E_UNSUPPORTED";
    }
    return "GP_E_UNKNOWN";
}

/* Formatted in a local buffer first: the arguments may point into last_error (a message that
 * wraps the previous one). */
static void vset(const char *file, int line, const char *fmt, va_list ap)
{
    char buf[sizeof last_error];
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    int n = snprintf(buf, sizeof buf, "%s:%d: ", base, line);
    if (n < 0 || (size_t)n >= sizeof buf) n = 0, buf[0] = '\0';
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    memcpy(last_error, buf, sizeof buf);
    message_start = n;
}

gp_status gp_i_error(gp_status st, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(file, line, fmt, ap);
    va_end(ap);
    return st;
}
