/* Text cleaning of the CLIP tokenizer (REFERENCE section 6): UTF-8 decoding with U+FFFD
 * replacement, the parts of ftfy.fix_text that apply to typed text, html.unescape, whitespace
 * collapsing, strip and Unicode lower-casing. Internal; see docs/tokenizer.md. */
#ifndef CS_TEXT_CLEAN_H
#define CS_TEXT_CLEAN_H

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
/* Appends one code point; returns 0 on allocation failure. */
int cs_cpbuf_push(cs_cpbuf *b, uint32_t cp);

/* Decodes `len` bytes of UTF-8 as Python's bytes.decode("utf-8", errors="replace"): every
 * maximal ill-formed subpart becomes one U+FFFD. NUL bytes are ordinary code points.
 * Returns CS_OK or CS_ERR_OUT_OF_MEMORY. */
cs_status cs_utf8_decode(const char *s, size_t len, cs_cpbuf *out);

/* Appends the UTF-8 encoding of cp (cp <= 0x10FFFF) to buf (>= 4 bytes); returns the count. */
size_t cs_utf8_encode_cp(uint32_t cp, char *buf);

/* Python's html.unescape on the code points of `in`, appended to `out`. */
cs_status cs_html_unescape(const uint32_t *in, size_t n, cs_cpbuf *out);

/* ftfy.fix_text with its default configuration, as far as docs/tokenizer.md says. */
cs_status cs_ftfy_fix_text(const uint32_t *in, size_t n, cs_cpbuf *out);

/* The whole cleaning of SimpleTokenizer.encode: whitespace_clean(basic_clean(text)).lower(),
 * on UTF-8 input of `len` bytes. `out` receives code points (must be empty on entry). */
cs_status cs_clip_clean_text(const char *text, size_t len, cs_cpbuf *out);

/* Python str.isspace(). */
int cs_py_isspace(uint32_t cp);

#endif
