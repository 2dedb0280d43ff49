/* Growable code point buffers, UTF-8 decoding (Python's errors="replace") and encoding, and
 * Python's str.isspace. Internal. */
#ifndef CS_TEXT_CPBUF_H
#define CS_TEXT_CPBUF_H

#include "core/common.h"

#include <stddef.h>
#include <stdint.h>

/* Growable array of code points. */
typedef struct cs_cpbuf {
    uint32_t *v;
    size_t n;
    size_t cap;
} cs_cpbuf;

void cs_cpbuf_free(cs_cpbuf *b);
/* Make room for `extra` more code points; returns 0 on allocation failure (b unchanged). */
int cs_cpbuf_reserve(cs_cpbuf *b, size_t extra);
/* Appends one code point / n code points; returns 0 on allocation failure. */
static inline int cs_cpbuf_push(cs_cpbuf *b, uint32_t cp)
{
    if (b->n == b->cap && !cs_cpbuf_reserve(b, 1)) return 0;
    b->v[b->n++] = cp;
    return 1;
}
int cs_cpbuf_append(cs_cpbuf *b, const uint32_t *cps, size_t n);
/* Appends valid UTF-8 (from our own tables or utf8proc) as code points; 0 on failure. */
int cs_cpbuf_append_utf8(cs_cpbuf *b, const char *s, size_t len);

/* Decodes `len` bytes of UTF-8 as Python's bytes.decode("utf-8", errors="replace"): every
 * maximal ill-formed subpart becomes one U+FFFD. NUL bytes are ordinary code points.
 * Returns CS_OK or CS_ERR_OUT_OF_MEMORY. */
cs_status cs_utf8_decode(const char *s, size_t len, cs_cpbuf *out);

/* Appends the UTF-8 encoding of cp (cp <= 0x10FFFF) to buf (>= 4 bytes); returns the count. */
size_t cs_utf8_encode_cp(uint32_t cp, char *buf);

/* Code points to a malloc'd NUL-terminated UTF-8 string (*len without the NUL); NULL on
 * allocation failure. */
char *cs_cps_to_utf8(const uint32_t *cps, size_t n, size_t *len);

/* Python str.isspace(). */
int cs_py_isspace(uint32_t cp);

#endif
