/* What ftfy 6.3.1 knows about characters, for the mojibake repair in text/ftfy_repair: the
 * single-byte codecs fix_encoding re-encodes with, the UTF-8 clue classes of its detector of
 * embedded mojibake, and the badness heuristic (ftfy.badness.is_bad) that decides whether a
 * text looks like mojibake at all. The data are generated into ftfy_tables.inc by
 * tools/gen_ftfy_tables.py. Internal; see docs/tokenizer.md. */
#ifndef CS_TEXT_FTFY_BADNESS_H
#define CS_TEXT_FTFY_BADNESS_H

#include <stddef.h>
#include <stdint.h>

/* Codecs, in the order fix_encoding tries them. */
enum {
    CS_FTFY_LATIN1 = 0,
    CS_FTFY_CP1252 = 1, /* the sloppy-windows-* ones are 1..6 */
    CS_FTFY_ISO8859_2 = 7,
    CS_FTFY_MACROMAN = 8,
    CS_FTFY_CP437 = 9,
    CS_FTFY_N_CODECS = 10
};

/* UTF-8 clue classes (bits of cs_ftfy_info.clue). */
#define CS_FTFY_LEAD2 0x01u       /* a lead byte 0xC2..0xDF in some Latin-1-like code page */
#define CS_FTFY_LEAD3 0x02u       /* a lead byte 0xE0..0xEF */
#define CS_FTFY_LEAD4 0x04u       /* a lead byte 0xF0 or 0xF3 */
#define CS_FTFY_CONT 0x08u        /* a continuation byte 0x80..0xBF, or a space */
#define CS_FTFY_CONT_STRICT 0x10u /* a continuation that rarely stands for itself */

typedef struct cs_ftfy_info {
    unsigned clue;                         /* CS_FTFY_* clue bits */
    unsigned codecs;                       /* bit c: codec c can encode the character */
    unsigned char byte[CS_FTFY_N_CODECS];  /* its byte in codec c (when bit c is set) */
} cs_ftfy_info;

/* Fills *info for code point cp. */
void cs_ftfy_char_info(uint32_t cp, cs_ftfy_info *info);
/* The clue bits of cp alone. */
unsigned cs_ftfy_clue(uint32_t cp);
/* Code point of byte b in codec c; nonzero when codec c is a sloppy Windows code page. */
uint32_t cs_ftfy_decode_byte(int codec, unsigned b);
int cs_ftfy_codec_sloppy(int codec);
const char *cs_ftfy_codec_name(int codec);

/* Nonzero when NFC leaves any text made only of such characters unchanged (from Python's
 * Unicode data: its own NFC form, canonical class 0, never the second of a composition);
 * zero means "not known to be", e.g. for every character from U+3000 on but CJK ideographs. */
int cs_ftfy_nfc_inert(uint32_t cp);

/* ftfy.badness.is_bad: nonzero when some rule of the heuristic matches somewhere in t[0..n)
 * (t[0] is the start of the text for the rules anchored there). */
int cs_ftfy_is_bad(const uint32_t *t, size_t n);

#endif
