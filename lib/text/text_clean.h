/* Text cleaning of the CLIP tokenizer (REFERENCE section 6): UTF-8 decoding with U+FFFD
 * replacement, ftfy.fix_text (text/ftfy_repair), html.unescape twice, whitespace collapsing,
 * strip and Unicode lower-casing. Internal; see docs/tokenizer.md. */
#ifndef CS_TEXT_CLEAN_H
#define CS_TEXT_CLEAN_H

#include "text/cpbuf.h"

/* The whole cleaning of SimpleTokenizer.encode: whitespace_clean(basic_clean(text)).lower(),
 * on UTF-8 input of `len` bytes. `out` receives code points (must be empty on entry). */
cs_status cs_clip_clean_text(const char *text, size_t len, cs_cpbuf *out);

#endif
