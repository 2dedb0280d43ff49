/* ftfy.fix_text and its mojibake repair: see ftfy_repair.h and docs/tokenizer.md. */
#include "text/ftfy_repair.h"

#include "text/ftfy_badness.h"
#include "text/html_unescape.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ftfy's max_decode_length: fix_text works on segments of at most this many code points. */
#define FTFY_MAX_SEGMENT 1000000u
/* Safety nets against inputs that would never settle (ftfy itself has none; no known text
 * reaches them): rounds of fix_encoding on one text, and nesting of the repair of embedded
 * mojibake inside a repair. */
#define MAX_ENCODING_ROUNDS 256
#define MAX_NESTING 16

static cs_status oom(void) { return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory while fixing text"); }

static int same_cps(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof(uint32_t)) == 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Byte strings                                                                             */
/* ---------------------------------------------------------------------------------------- */
typedef struct bytes {
    unsigned char *v;
    size_t n, cap;
} bytes;

static int bytes_reserve(bytes *b, size_t extra)
{
    size_t need;
    if (!cs_add_size(b->n, extra, &need)) return 0;
    if (need <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    unsigned char *v = realloc(b->v, cap);
    if (!v) return 0;
    b->v = v;
    b->cap = cap;
    return 1;
}

static int bytes_put(bytes *b, const unsigned char *s, size_t n)
{
    if (!bytes_reserve(b, n)) return 0;
    memcpy(b->v + b->n, s, n);
    b->n += n;
    return 1;
}

static void bytes_swap(bytes *a, bytes *b)
{
    bytes t = *a;
    *a = *b;
    *b = t;
}

/* ---------------------------------------------------------------------------------------- */
/* restore_byte_a0: spaces that stand for a lost 0xA0 inside UTF-8 sequences                */
/* ---------------------------------------------------------------------------------------- */
/* A continuation byte other than 0x85 and 0xA0 (the two a space is most likely not). */
static int cont_not_85_a0(unsigned b)
{
    return (b >= 0x80 && b <= 0x84) || (b >= 0x86 && b <= 0x9F) || (b >= 0xA1 && b <= 0xBF);
}
static int is_cont(unsigned b) { return b >= 0x80 && b <= 0xBF; }

/* Length of the "altered UTF-8" sequence (a lead byte with a space where a continuation byte
 * should be) starting at s[0], or 0. The forms are tried in ftfy's order. */
static size_t altered_at(const unsigned char *s, size_t n)
{
    unsigned b0 = s[0];
    if (n >= 2 && s[1] == ' ' &&
        (b0 == 0xC2 || b0 == 0xC3 || b0 == 0xC5 || b0 == 0xCE || b0 == 0xD0 || b0 == 0xD9))
        return 2;
    if (n >= 3 && (b0 == 0xE2 || b0 == 0xE3) && s[1] == ' ' && cont_not_85_a0(s[2])) return 3;
    if (n >= 3 && b0 >= 0xE0 && b0 <= 0xE3 && cont_not_85_a0(s[1]) && s[2] == ' ') return 3;
    if (n >= 4 && b0 == 0xF0) {
        unsigned b1 = s[1], b2 = s[2], b3 = s[3];
        if (b1 == ' ' && is_cont(b2) && is_cont(b3)) return 4;
        if (is_cont(b1) && b2 == ' ' && is_cont(b3)) return 4;
        if (is_cont(b1) && is_cont(b2) && b3 == ' ') return 4;
    }
    return 0;
}

static int has_altered(const bytes *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i] >= 0xC2 && altered_at(b->v + i, b->n - i)) return 1;
    return 0;
}

/* After "C3 20" (a-grave whose 0xA0 became a space), words where the space is the 0xA0 itself
 * rather than a separate one: a second space, and Portuguese "às", "àquele/a", "àquilo". */
static int a_grave_keeps_space(const unsigned char *s, size_t n)
{
    static const char *const after[] = {" ", "quele", "quela", "quilo", "s "};
    for (size_t k = 0; k < N_ELEMS(after); k++) {
        size_t l = strlen(after[k]);
        if (n >= l && memcmp(s, after[k], l) == 0) return 1;
    }
    return 0;
}

/* ftfy.fixes.restore_byte_a0 from in to out (out empty). */
static int restore_byte_a0(const bytes *in, bytes *out, bytes *tmp)
{
    /* "C3 20" as a word of its own keeps its space and gets the 0xA0 back */
    tmp->n = 0;
    for (size_t i = 0; i < in->n;) {
        if (in->v[i] == 0xC3 && i + 1 < in->n && in->v[i + 1] == ' ' &&
            !a_grave_keeps_space(in->v + i + 2, in->n - i - 2)) {
            static const unsigned char rep[3] = {0xC3, 0xA0, ' '};
            if (!bytes_put(tmp, rep, 3)) return 0;
            i += 2;
            continue;
        }
        if (!bytes_put(tmp, in->v + i, 1)) return 0;
        i++;
    }
    /* then every altered sequence gets 0xA0 for its spaces */
    for (size_t i = 0; i < tmp->n;) {
        size_t l = tmp->v[i] >= 0xC2 ? altered_at(tmp->v + i, tmp->n - i) : 0;
        if (l) {
            if (!bytes_reserve(out, l)) return 0;
            for (size_t k = 0; k < l; k++)
                out->v[out->n++] = tmp->v[i + k] == ' ' ? 0xA0 : tmp->v[i + k];
            i += l;
            continue;
        }
        if (!bytes_put(out, tmp->v + i, 1)) return 0;
        i++;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* replace_lossy_sequences: UTF-8 sequences with a byte lost to U+FFFD (0x1A) or '?'        */
/* ---------------------------------------------------------------------------------------- */
static int is_lost(unsigned b) { return b == 0x1A || b == '?'; }
static int is_sub_or_cont(unsigned b) { return b == 0x1A || is_cont(b); }
static int is_lost_or_cont(unsigned b) { return is_lost(b) || is_cont(b); }

/* Length of a lossy sequence at s[0] in ftfy's order of forms, or 0. */
static size_t lossy_at(const unsigned char *s, size_t n)
{
    unsigned b0 = s[0];
    if (b0 == 0x1A && n >= 1) {
        /* a lone 0x1A is the last form; no form starts with 0x1A otherwise */
        return 1;
    }
    if (n >= 2 && b0 >= 0xC2 && b0 <= 0xDF && s[1] == 0x1A) return 2;
    if (n >= 2 && (b0 == 0xC2 || b0 == 0xC3) && s[1] == '?') return 2;
    if (n >= 6 && b0 == 0xED && s[1] >= 0xA0 && s[1] <= 0xAF && s[3] == 0xED && s[4] >= 0xB0 &&
        s[4] <= 0xBF) {
        /* a CESU-8 surrogate pair */
        if (is_lost(s[2]) && is_lost_or_cont(s[5])) return 6;
        if (is_lost_or_cont(s[2]) && is_lost(s[5])) return 6;
    }
    if (n >= 3 && b0 >= 0xE0 && b0 <= 0xEF) {
        if (is_lost(s[1]) && is_sub_or_cont(s[2])) return 3;
        if (is_sub_or_cont(s[1]) && is_lost(s[2])) return 3;
    }
    if (n >= 4 && b0 >= 0xF0 && b0 <= 0xF4) {
        for (int k = 1; k <= 3; k++) {
            int ok = 1;
            for (int j = 1; j <= 3 && ok; j++) ok = j == k ? is_lost(s[j]) : is_sub_or_cont(s[j]);
            if (ok) return 4;
        }
    }
    return 0;
}

/* ftfy.fixes.replace_lossy_sequences from in to out (out empty): each sequence becomes the
 * UTF-8 of U+FFFD. */
static int replace_lossy(const bytes *in, bytes *out)
{
    static const unsigned char fffd[3] = {0xEF, 0xBF, 0xBD};
    for (size_t i = 0; i < in->n;) {
        unsigned b = in->v[i];
        size_t l = (b == 0x1A || b >= 0xC2) ? lossy_at(in->v + i, in->n - i) : 0;
        if (l) {
            if (!bytes_put(out, fffd, 3)) return 0;
            i += l;
            continue;
        }
        if (!bytes_put(out, in->v + i, 1)) return 0;
        i++;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* UTF-8 decoding, strict, and ftfy's "utf-8-variants" (CESU-8 pairs, Java's C0 80)         */
/* ---------------------------------------------------------------------------------------- */
/* Decodes one well-formed UTF-8 sequence at s[0]; returns its length, 0 when ill-formed. */
static size_t utf8_strict_at(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned b = s[0];
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    uint32_t c;
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
        c = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        c = b & 0x0F;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        c = b & 0x07;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (n < need + 1) return 0;
    for (size_t k = 1; k <= need; k++) {
        unsigned x = s[k];
        if (x < (k == 1 ? lo : 0x80) || x > (k == 1 ? hi : 0xBF)) return 0;
        c = (c << 6) | (x & 0x3F);
    }
    *cp = c;
    return need + 1;
}

/* Decodes b as UTF-8 (variants: also a CESU-8 surrogate pair as one character and C0 80 as
 * U+0000, as ftfy's utf-8-variants codec) into out (empty). Returns 1, 0 when the bytes do not
 * decode, -1 on allocation failure. */
static int utf8_decode_strict(const bytes *b, int variants, cs_cpbuf *out)
{
    if (!cs_cpbuf_reserve(out, b->n)) return -1;
    const unsigned char *s = b->v;
    size_t n = b->n;
    for (size_t i = 0; i < n;) {
        if (variants && s[i] == 0xC0) {
            /* that codec's pattern also accepts C0 before a final "\n" (a regex '$'), and
             * then consumes the newline with it */
            if (i + 1 < n && (s[i + 1] == 0x80 || (s[i + 1] == '\n' && i + 2 == n))) {
                out->v[out->n++] = 0;
                i += 2;
                continue;
            }
            return 0;
        }
        if (variants && s[i] == 0xED && i + 1 < n && s[i + 1] >= 0xA0) {
            /* ED A0..AF xx ED B0..BF xx (the last may be a final "\n", as above) */
            if (n - i >= 6 && s[i + 1] <= 0xAF && is_cont(s[i + 2]) && s[i + 3] == 0xED &&
                s[i + 4] >= 0xB0 && s[i + 4] <= 0xBF &&
                (is_cont(s[i + 5]) || (s[i + 5] == '\n' && i + 6 == n))) {
                uint32_t cp = (((uint32_t)s[i + 1] & 0x0F) << 16) +
                              (((uint32_t)s[i + 2] & 0x3F) << 10) +
                              (((uint32_t)s[i + 4] & 0x0F) << 6) + ((uint32_t)s[i + 5] & 0x3F) +
                              0x10000;
                out->v[out->n++] = cp;
                i += 6;
                continue;
            }
            return 0;
        }
        uint32_t cp;
        size_t l = utf8_strict_at(s + i, n - i, &cp);
        if (!l) return 0;
        out->v[out->n++] = cp;
        i += l;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* fix_encoding                                                                             */
/* ---------------------------------------------------------------------------------------- */
static cs_status fix_encoding_loop(const uint32_t *t, size_t n, cs_cpbuf *out, int depth);

static int is_c1(uint32_t c) { return c >= 0x80 && c <= 0x9F; }

/* ftfy.fixes.decode_inconsistent_utf8: every run that looks like UTF-8 mojibake (a lead
 * character and its continuation characters, repeated; not right after a strict continuation
 * character), shorter than the text and bad by itself, is fixed on its own. Appends to out. */
static cs_status decode_inconsistent(const uint32_t *t, size_t n, cs_cpbuf *out, int depth)
{
    size_t pos = 0, i = 0;
    while (i < n) {
        if (i > 0 && (cs_ftfy_clue(t[i - 1]) & CS_FTFY_CONT_STRICT)) {
            i++;
            continue;
        }
        size_t q = i;
        while (q < n) {
            /* the alternatives in ftfy's order: 2-, 3-, then 4-character sequences */
            unsigned c = cs_ftfy_clue(t[q]);
            size_t l = 0;
            if ((c & CS_FTFY_LEAD2) && n - q >= 2 && (cs_ftfy_clue(t[q + 1]) & CS_FTFY_CONT))
                l = 2;
            else if ((c & CS_FTFY_LEAD3) && n - q >= 3 && (cs_ftfy_clue(t[q + 1]) & CS_FTFY_CONT) &&
                     (cs_ftfy_clue(t[q + 2]) & CS_FTFY_CONT))
                l = 3;
            else if ((c & CS_FTFY_LEAD4) && n - q >= 4 && (cs_ftfy_clue(t[q + 1]) & CS_FTFY_CONT) &&
                     (cs_ftfy_clue(t[q + 2]) & CS_FTFY_CONT) &&
                     (cs_ftfy_clue(t[q + 3]) & CS_FTFY_CONT))
                l = 4;
            if (!l) break;
            q += l;
        }
        if (q == i) {
            i++;
            continue;
        }
        if (!cs_cpbuf_append(out, t + pos, i - pos)) return oom();
        if (q - i < n && cs_ftfy_is_bad(t + i, q - i)) {
            cs_status st = fix_encoding_loop(t + i, q - i, out, depth + 1);
            if (st != CS_OK) return st;
        } else if (!cs_cpbuf_append(out, t + i, q - i)) {
            return oom();
        }
        pos = i = q;
    }
    if (!cs_cpbuf_append(out, t + pos, n - pos)) return oom();
    return CS_OK;
}

/* One step of ftfy's fix_encoding on t[0..n): the fixed text into out (empty). */
static cs_status fix_encoding_step(const uint32_t *t, size_t n, cs_cpbuf *out, int depth)
{
    int ascii = 1;
    for (size_t i = 0; i < n && ascii; i++) ascii = t[i] < 0x80;
    if (n == 0 || ascii || depth > MAX_NESTING || !cs_ftfy_is_bad(t, n))
        return cs_cpbuf_append(out, t, n) ? CS_OK : oom();

    /* the codecs that can encode the whole text */
    unsigned possible = (1u << CS_FTFY_N_CODECS) - 1;
    int has_c1 = 0;
    for (size_t i = 0; i < n && possible; i++) {
        cs_ftfy_info info;
        cs_ftfy_char_info(t[i], &info);
        possible &= info.codecs;
        has_c1 |= is_c1(t[i]);
    }
    for (size_t i = 0; i < n && !has_c1; i++) has_c1 = is_c1(t[i]);

    cs_status st = CS_OK;
    bytes enc = {0}, alt = {0}, tmp = {0};
    for (int c = 0; c < CS_FTFY_N_CODECS && st == CS_OK; c++) {
        if (!(possible & (1u << c))) continue;
        enc.n = 0;
        if (!bytes_reserve(&enc, n)) {
            st = oom();
            break;
        }
        for (size_t i = 0; i < n; i++) {
            cs_ftfy_info info;
            cs_ftfy_char_info(t[i], &info);
            enc.v[enc.n++] = info.byte[c];
        }
        if (c != CS_FTFY_MACROMAN && has_altered(&enc)) {
            alt.n = 0;
            if (!restore_byte_a0(&enc, &alt, &tmp)) {
                st = oom();
                break;
            }
            bytes_swap(&enc, &alt);
        }
        if (cs_ftfy_codec_sloppy(c)) {
            alt.n = 0;
            if (!replace_lossy(&enc, &alt)) {
                st = oom();
                break;
            }
            bytes_swap(&enc, &alt);
        }
        int variants = memchr(enc.v, 0xED, enc.n) != NULL || memchr(enc.v, 0xC0, enc.n) != NULL;
        out->n = 0;
        int r = utf8_decode_strict(&enc, variants, out);
        if (r < 0) st = oom();
        if (r != 0) goto done;
    }
    if (st != CS_OK) goto done;
    out->n = 0;

    /* mojibake embedded in other text */
    st = decode_inconsistent(t, n, out, depth);
    if (st != CS_OK || !same_cps(out->v, out->n, t, n)) goto done;
    out->n = 0;

    /* C1 controls as Windows-1252. (ftfy first tries Latin-1 -> strict Windows-1252 on text
     * Latin-1 can encode: that succeeds only when no C1 control is one of the five undefined
     * bytes, and then gives exactly this result.) */
    if (!cs_cpbuf_reserve(out, n)) {
        st = oom();
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        out->v[out->n++] = has_c1 && is_c1(t[i]) ? cs_ftfy_decode_byte(CS_FTFY_CP1252, t[i]) : t[i];
done:
    free(enc.v);
    free(alt.v);
    free(tmp.v);
    return st;
}

/* ftfy.fix_encoding: steps until the text no longer changes; appended to out. */
static cs_status fix_encoding_loop(const uint32_t *t, size_t n, cs_cpbuf *out, int depth)
{
    cs_cpbuf cur = {0}, next = {0};
    /* the first step straight from t: most text is left as it is */
    cs_status st = fix_encoding_step(t, n, &next, depth);
    if (st == CS_OK && same_cps(next.v, next.n, t, n)) {
        st = cs_cpbuf_append(out, t, n) ? CS_OK : oom();
        cs_cpbuf_free(&next);
        return st;
    }
    for (int round = 1; st == CS_OK; round++) {
        cs_cpbuf x = cur;
        cur = next;
        next = x;
        if (round >= MAX_ENCODING_ROUNDS) break;
        next.n = 0;
        st = fix_encoding_step(cur.v, cur.n, &next, depth);
        if (st != CS_OK || same_cps(next.v, next.n, cur.v, cur.n)) break;
    }
    if (st == CS_OK && !cs_cpbuf_append(out, cur.v, cur.n)) st = oom();
    cs_cpbuf_free(&cur);
    cs_cpbuf_free(&next);
    return st;
}

cs_status cs_ftfy_fix_encoding(const uint32_t *in, size_t n, cs_cpbuf *out)
{
    return fix_encoding_loop(in, n, out, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* The character fixers, NFC, and fix_text                                                  */
/* ---------------------------------------------------------------------------------------- */
static const struct {
    uint32_t cp;
    uint32_t out[3];
} ligatures[] = {
    {0x0132, {'I', 'J', 0}},      {0x0133, {'i', 'j', 0}},      {0x0149, {0x02BC, 'n', 0}},
    {0x01C4, {'D', 0x017D, 0}},   {0x01C5, {'D', 0x017E, 0}},   {0x01C6, {'d', 0x017E, 0}},
    {0x01C7, {'L', 'J', 0}},      {0x01C8, {'L', 'j', 0}},      {0x01C9, {'l', 'j', 0}},
    {0x01CA, {'N', 'J', 0}},      {0x01CB, {'N', 'j', 0}},      {0x01CC, {'n', 'j', 0}},
    {0x01F1, {'D', 'Z', 0}},      {0x01F2, {'D', 'z', 0}},      {0x01F3, {'d', 'z', 0}},
    {0xFB00, {'f', 'f', 0}},      {0xFB01, {'f', 'i', 0}},      {0xFB02, {'f', 'l', 0}},
    {0xFB03, {'f', 'f', 'i'}},    {0xFB04, {'f', 'f', 'l'}},    {0xFB05, {0x017F, 't', 0}},
    {0xFB06, {'s', 't', 0}},
};

/* NFKC of a single code point, appended (the width map of ftfy.fixes.fix_character_width). */
static int append_nfkc_char(cs_cpbuf *out, uint32_t cp)
{
    char buf[4];
    size_t len = cs_utf8_encode_cp(cp, buf);
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)buf, (utf8proc_ssize_t)len, &dst,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
    int ok;
    if (r < 0)
        ok = cs_cpbuf_push(out, cp);
    else
        ok = cs_cpbuf_append_utf8(out, (const char *)dst, (size_t)r);
    free(dst);
    return ok;
}

static int is_terminal_final(uint32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int is_ftfy_control(uint32_t c)
{
    return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
           (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

/* The character fixers of ftfy.fix_and_explain after fix_encoding, in their order, fused in
 * one pass each where they are per-character maps. */
static cs_status ftfy_char_fixes(const cs_cpbuf *in, cs_cpbuf *out)
{
    /* fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes: per char */
    cs_cpbuf a = {0};
    for (size_t i = 0; i < in->n; i++) {
        uint32_t c = in->v[i];
        if (is_c1(c)) c = cs_ftfy_decode_byte(CS_FTFY_CP1252, c); /* fix_c1_controls */
        int done = 0;
        if ((c >= 0x0132 && c <= 0x01F3) || (c >= 0xFB00 && c <= 0xFB06)) {
            for (size_t l = 0; l < N_ELEMS(ligatures); l++) {
                if (ligatures[l].cp == c) {
                    for (int t = 0; t < 3 && ligatures[l].out[t]; t++) {
                        uint32_t o = ligatures[l].out[t];
                        if (o == 0x02BC) o = '\''; /* uncurl_quotes runs after */
                        if (!cs_cpbuf_push(&a, o)) goto fail;
                    }
                    done = 1;
                    break;
                }
            }
        }
        if (done) continue;
        if (c == 0x3000) {
            if (!cs_cpbuf_push(&a, ' ')) goto fail;
            continue;
        }
        if (c >= 0xFF01 && c <= 0xFFEF) {
            size_t before = a.n;
            if (!append_nfkc_char(&a, c)) goto fail;
            /* uncurl whatever the width map produced */
            for (size_t t = before; t < a.n; t++) {
                uint32_t o = a.v[t];
                if (o == 0x02BC || (o >= 0x2018 && o <= 0x201B)) a.v[t] = '\'';
                else if (o >= 0x201C && o <= 0x201F) a.v[t] = '"';
            }
            continue;
        }
        if (c == 0x02BC || (c >= 0x2018 && c <= 0x201B)) c = '\'';
        else if (c >= 0x201C && c <= 0x201F) c = '"';
        if (!cs_cpbuf_push(&a, c)) goto fail;
    }
    /* fix_line_breaks, (fix_surrogates: none can occur), remove_terminal_escapes,
     * remove_control_chars */
    cs_cpbuf b = {0};
    for (size_t i = 0; i < a.n; i++) {
        uint32_t c = a.v[i];
        if (c == '\r') {
            if (i + 1 < a.n && a.v[i + 1] == '\n') i++;
            c = '\n';
        } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
            c = '\n';
        }
        if (!cs_cpbuf_push(&b, c)) {
            cs_cpbuf_free(&b);
            goto fail;
        }
    }
    cs_cpbuf_free(&a);
    /* remove_terminal_escapes: ESC '[' (\d|;)* [A-Za-z] */
    cs_cpbuf c2 = {0};
    for (size_t i = 0; i < b.n; i++) {
        if (b.v[i] == 0x1B && i + 1 < b.n && b.v[i + 1] == '[') {
            size_t k = i + 2;
            while (k < b.n && (b.v[k] == ';' || utf8proc_category((utf8proc_int32_t)b.v[k]) == UTF8PROC_CATEGORY_ND)) k++;
            if (k < b.n && is_terminal_final(b.v[k])) {
                i = k;
                continue;
            }
        }
        if (!cs_cpbuf_push(&c2, b.v[i])) {
            cs_cpbuf_free(&b);
            cs_cpbuf_free(&c2);
            return oom();
        }
    }
    cs_cpbuf_free(&b);
    for (size_t i = 0; i < c2.n; i++) {
        if (is_ftfy_control(c2.v[i])) continue;
        if (!cs_cpbuf_push(out, c2.v[i])) {
            cs_cpbuf_free(&c2);
            return oom();
        }
    }
    cs_cpbuf_free(&c2);
    return CS_OK;
fail:
    cs_cpbuf_free(&a);
    return oom();
}

/* Unicode NFC of in, appended to out. */
static cs_status nfc(const cs_cpbuf *in, cs_cpbuf *out)
{
    int inert = 1; /* ASCII and most typed text: nothing for NFC to do */
    for (size_t i = 0; i < in->n && inert; i++) inert = in->v[i] < 0x80 || cs_ftfy_nfc_inert(in->v[i]);
    if (inert) return cs_cpbuf_append(out, in->v, in->n) ? CS_OK : oom();
    size_t len;
    char *s = cs_cps_to_utf8(in->v, in->n, &len);
    if (!s) return oom();
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    free(s);
    if (r < 0) {
        free(dst);
        if (r == UTF8PROC_ERROR_NOMEM || r == UTF8PROC_ERROR_OVERFLOW) return oom();
        /* cannot happen for valid scalar values; keep the text unnormalised */
        return cs_cpbuf_append(out, in->v, in->n) ? CS_OK : oom();
    }
    int ok = cs_cpbuf_append_utf8(out, (const char *)dst, (size_t)r);
    free(dst);
    return ok ? CS_OK : oom();
}

static int same(const cs_cpbuf *a, const cs_cpbuf *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(uint32_t)) == 0);
}

/* Passes of ftfy_fix_segment at most. ftfy repeats until the text no longer changes, and each
 * pass peels one level of nested HTML entities ("&amp;amp;amp;..."), so a long nest made it
 * quadratic (1 MB of them: about an hour). Real text settles in two or three passes; after this
 * many the text is taken as it stands (the one deviation from ftfy, docs/tokenizer.md). */
#define CS_FTFY_MAX_PASSES 64

/* ftfy.fix_and_explain: the fixers repeated until the text no longer changes. */
static cs_status ftfy_fix_segment(const uint32_t *in, size_t n, int unescape, cs_cpbuf *out)
{
    cs_cpbuf cur = {0}, a = {0}, b = {0};
    cs_status st = CS_OK;
    if (!cs_cpbuf_append(&cur, in, n)) return oom();
    for (int pass = 0; pass < CS_FTFY_MAX_PASSES; pass++) {
        const cs_cpbuf *src = &cur;
        a.n = b.n = 0;
        if (unescape) {
            st = cs_ftfy_unescape_html(cur.v, cur.n, &a);
            if (st != CS_OK) break;
            src = &a;
        }
        st = fix_encoding_loop(src->v, src->n, &b, 0);
        if (st != CS_OK) break;
        a.n = 0;
        st = ftfy_char_fixes(&b, &a);
        if (st != CS_OK) break;
        b.n = 0;
        st = nfc(&a, &b);
        if (st != CS_OK || same(&b, &cur)) break;
        cs_cpbuf t = cur;
        cur = b;
        b = t;
    }
    if (st == CS_OK && !cs_cpbuf_append(out, cur.v, cur.n)) st = oom();
    cs_cpbuf_free(&cur);
    cs_cpbuf_free(&a);
    cs_cpbuf_free(&b);
    return st;
}

cs_status cs_ftfy_fix_text(const uint32_t *in, size_t n, cs_cpbuf *out)
{
    int unescape = 1; /* unescape_html="auto": off from the first segment holding '<' on */
    size_t pos = 0;
    while (pos < n) {
        size_t end = pos;
        while (end < n && in[end] != '\n') end++;
        end = end < n ? end + 1 : n;
        if (end - pos > FTFY_MAX_SEGMENT) end = pos + FTFY_MAX_SEGMENT;
        if (unescape) {
            for (size_t i = pos; i < end; i++) {
                if (in[i] == '<') {
                    unescape = 0;
                    break;
                }
            }
        }
        cs_status st = ftfy_fix_segment(in + pos, end - pos, unescape, out);
        if (st != CS_OK) return st;
        pos = end;
    }
    return CS_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Public entry point                                                                       */
/* ---------------------------------------------------------------------------------------- */
cs_status cs_fix_text(const char *text, size_t len, char *buf, size_t capacity, size_t *out_len)
{
    if (!buf || !out_len || (!text && len > 0))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_fix_text: NULL argument");
    cs_cpbuf a = {0}, b = {0};
    cs_status st = cs_utf8_decode(text ? text : "", len, &a);
    if (st == CS_OK) st = cs_ftfy_fix_text(a.v, a.n, &b);
    cs_cpbuf_free(&a);
    if (st != CS_OK) {
        cs_cpbuf_free(&b);
        return st;
    }
    size_t need = 0;
    char tmp[4];
    for (size_t i = 0; i < b.n; i++) need += cs_utf8_encode_cp(b.v[i], tmp);
    *out_len = need;
    if (need >= capacity) {
        cs_cpbuf_free(&b);
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "cs_fix_text: %zu bytes and a NUL, capacity %zu",
                       need, capacity);
    }
    size_t k = 0;
    for (size_t i = 0; i < b.n; i++) k += cs_utf8_encode_cp(b.v[i], buf + k);
    buf[k] = 0;
    cs_cpbuf_free(&b);
    return CS_OK;
}
