/* JSON string escaping for the apps: node labels and file names come from the user's files and
 * may hold any bytes, but JSON text must be UTF-8 (RFC 8259). */
#include <stdio.h>
#include <string.h>

#include "app_json.h"

/* Length of the valid UTF-8 sequence at s (1 to 4 bytes), or 0 if there is none (RFC 3629: no
 * overlong forms, surrogates or code points above U+10FFFF). Reads no further than a NUL. */
static int utf8_len(const unsigned char *s)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (c < 0x80) return 1;
    int n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (n == 0 || s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return n;
}

void app_json_escape(char *out, size_t size, const char *s)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 7 < size;) {
        int n = utf8_len(p);
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p++;
        } else if (*p < 0x20) {
            o += (size_t)snprintf(out + o, size - o, "\\u%04x", *p++);
        } else if (n == 0) {
            o += (size_t)snprintf(out + o, size - o, "\\ufffd");
            p++;
        } else {
            memcpy(out + o, p, (size_t)n);
            o += (size_t)n;
            p += n;
        }
    }
    out[o] = '\0';
}
