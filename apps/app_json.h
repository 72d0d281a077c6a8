/* JSON strings in the apps' output (see app_json.c). */
#ifndef GP_APP_JSON_H
#define GP_APP_JSON_H

#include <stddef.h>

/* s as the inside of a JSON string, into out (size bytes, NUL-terminated, cut at a character
 * boundary if too long): quotes, backslashes and control characters escaped, and every byte that
 * is not part of valid UTF-8 (a label or file name in Latin-1, say) replaced by \ufffd, so that
 * the output always parses. */
void app_json_escape(char *out, size_t size, const char *s);

#endif
