/* ftfy's character data and badness heuristic: see ftfy_badness.h. */
#include "text/ftfy_badness.h"

#include "text/cpbuf.h"

#include <utf8proc.h>

#include "text/ftfy_tables.inc"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const ftfy_char *find_char(uint32_t cp)
{
    size_t lo = 0, hi = N_ELEMS(ftfy_chars);
    if (cp < FTFY_DIRECT_LIMIT) return cp >= 0x80 && ftfy_direct[cp] ? &ftfy_chars[ftfy_direct[cp] - 1] : NULL;
    if (cp > ftfy_chars[hi - 1].cp) return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ftfy_chars[mid].cp == cp) return &ftfy_chars[mid];
        if (ftfy_chars[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void cs_ftfy_char_info(uint32_t cp, cs_ftfy_info *info)
{
    if (cp < 0x80) {
        info->clue = ftfy_ascii_clue[cp];
        info->codecs = 0;
        for (int c = 0; c < CS_FTFY_N_CODECS; c++) {
            /* in the sloppy code pages byte 0x1A means U+FFFD, so U+001A has no byte */
            if (cp == 0x1A && ftfy_codec_sloppy[c]) {
                info->byte[c] = 0;
                continue;
            }
            info->byte[c] = (unsigned char)cp;
            info->codecs |= 1u << c;
        }
        return;
    }
    const ftfy_char *e = find_char(cp);
    info->clue = e ? e->clue : 0;
    info->codecs = 0;
    for (int c = 0; c < CS_FTFY_N_CODECS; c++) {
        info->byte[c] = e ? e->byte[c] : 0;
        if (info->byte[c]) info->codecs |= 1u << c;
    }
}

unsigned cs_ftfy_clue(uint32_t cp)
{
    if (cp < 0x80) return ftfy_ascii_clue[cp];
    const ftfy_char *e = find_char(cp);
    return e ? e->clue : 0;
}

int cs_ftfy_nfc_inert(uint32_t cp)
{
    if (cp < FTFY_NFC_LIMIT) return (int)((ftfy_nfc_inert[cp >> 5] >> (cp & 31)) & 1u);
    return cp >= 0x4E00 && cp <= 0x9FFF; /* CJK unified ideographs */
}

uint32_t cs_ftfy_decode_byte(int codec, unsigned b) { return ftfy_codec_decode[codec][b & 0xFF]; }
int cs_ftfy_codec_sloppy(int codec) { return ftfy_codec_sloppy[codec]; }
const char *cs_ftfy_codec_name(int codec) { return ftfy_codec_names[codec]; }

/* Python's \w on str: alphanumeric (letters, and characters with a numeric value) or '_'. */
static int is_word(uint32_t c)
{
    if (c < 0x80)
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '_';
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return 1;
    default:
        return 0;
    }
}

/* The rule sets character c belongs to: its listed memberships plus its properties. */
static void char_sets(uint32_t c, uint64_t s[2])
{
    if (c < 0x80) {
        s[0] = ftfy_ascii_sets[c][0];
        s[1] = ftfy_ascii_sets[c][1];
    } else {
        const ftfy_char *e = find_char(c);
        s[0] = e ? e->sets[0] : 0;
        s[1] = e ? e->sets[1] : 0;
    }
    if (cs_py_isspace(c)) {
        s[0] |= FTFY_PROP_SPACE_LO;
        s[1] |= FTFY_PROP_SPACE_HI;
    }
    if (is_word(c)) {
        s[0] |= FTFY_PROP_WORD_LO;
        s[1] |= FTFY_PROP_WORD_HI;
    }
    if (c != '\n') {
        s[0] |= FTFY_PROP_NOT_NEWLINE_LO;
        s[1] |= FTFY_PROP_NOT_NEWLINE_HI;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
        s[0] |= FTFY_PROP_NOT_ASCII_LETTER_LO;
        s[1] |= FTFY_PROP_NOT_ASCII_LETTER_HI;
    }
}

static int in_set(const uint64_t s[2], unsigned set) { return (int)((s[set >> 6] >> (set & 63)) & 1u); }

int cs_ftfy_is_bad(const uint32_t *t, size_t n)
{
    /* sets that can start a rule: positions whose first character is in none are skipped */
    uint64_t first[2] = {0, 0};
    for (unsigned k = 0; k < FTFY_N_SETS; k++)
        if (ftfy_rules_first[k + 1] > ftfy_rules_first[k]) first[k >> 6] |= 1ull << (k & 63);
    /* ring of the sets of t[i..i+FTFY_MAX_RULE) */
    enum { RING = 8 };
    uint64_t ring[RING][2];
    for (size_t k = 0; k < FTFY_MAX_RULE - 1 && k < n; k++) char_sets(t[k], ring[k]);
    for (size_t i = 0; i < n; i++) {
        size_t ahead = i + FTFY_MAX_RULE - 1;
        if (ahead < n) char_sets(t[ahead], ring[ahead % RING]);
        const uint64_t *s0 = ring[i % RING];
        for (int w = 0; w < 2; w++) {
            uint64_t m = s0[w] & first[w];
            while (m) {
                unsigned set = (unsigned)w * 64u + (unsigned)__builtin_ctzll(m);
                m &= m - 1;
                for (unsigned r = ftfy_rules_first[set]; r < ftfy_rules_first[set + 1]; r++) {
                    const ftfy_rule *rule = &ftfy_rules[r];
                    if ((rule->anchored && i != 0) || rule->len > n - i) continue;
                    size_t k = 1;
                    while (k < rule->len && in_set(ring[(i + k) % RING], rule->pos[k])) k++;
                    if (k == rule->len) return 1;
                }
            }
        }
    }
    return 0;
}
