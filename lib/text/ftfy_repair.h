/* ftfy.fix_text (ftfy 6.3.1) with its default configuration, on code points: segmentation by
 * line (at most 1,000,000 code points a segment), and per segment, repeated until it no longer
 * changes, unescape_html, fix_encoding (the mojibake repair: re-encoding with the codecs of
 * text/ftfy_badness, restore_byte_a0, replace_lossy_sequences, decode_inconsistent_utf8,
 * fix_c1_controls), the character fixers and NFC. Internal; see docs/tokenizer.md. */
#ifndef CS_TEXT_FTFY_REPAIR_H
#define CS_TEXT_FTFY_REPAIR_H

#include "text/cpbuf.h"

/* ftfy.fix_text on in[0..n), appended to out.
 * Returns CS_OK or CS_ERR_OUT_OF_MEMORY. */
cs_status cs_ftfy_fix_text(const uint32_t *in, size_t n, cs_cpbuf *out);

/* ftfy.fix_encoding alone (the mojibake repair of one segment), appended to out.
 * Returns CS_OK or CS_ERR_OUT_OF_MEMORY. */
cs_status cs_ftfy_fix_encoding(const uint32_t *in, size_t n, cs_cpbuf *out);

#endif
