/* HTML character references: Python's html.unescape and ftfy's stricter unescape_html, on code
 * points, with the WHATWG table generated into html_entities.inc. Internal; see
 * docs/tokenizer.md. */
#ifndef CS_TEXT_HTML_UNESCAPE_H
#define CS_TEXT_HTML_UNESCAPE_H

#include "text/cpbuf.h"

/* Python's html.unescape on the code points of `in`, appended to `out`.
 * Returns CS_OK or CS_ERR_OUT_OF_MEMORY. */
cs_status cs_html_unescape(const uint32_t *in, size_t n, cs_cpbuf *out);

/* ftfy.fixes.unescape_html: references matching &#?[0-9A-Za-z]{1,24}; that are HTML5 names
 * (with ';') or ftfy's upper-case aliases; numeric ones through html.unescape unless that
 * leaves a ';'. Appended to `out`. Returns CS_OK or CS_ERR_OUT_OF_MEMORY. */
cs_status cs_ftfy_unescape_html(const uint32_t *in, size_t n, cs_cpbuf *out);

#endif
