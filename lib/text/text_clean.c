/* Cleaning of the CLIP tokenizer: see text_clean.h and docs/tokenizer.md. */
#include "text/text_clean.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef struct cs_html_entity {
    const char *name;
    const char *value;
} cs_html_entity;

#include "text/html_entities.inc"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ftfy's max_decode_length: fix_text works on segments of at most this many code points. */
#define FTFY_MAX_SEGMENT 1000000u

/* ---------------------------------------------------------------------------------------- */
/* Code point buffers                                                                       */
/* ---------------------------------------------------------------------------------------- */
void cs_cpbuf_free(cs_cpbuf *b)
{
    if (!b) return;
    free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

static int cpbuf_reserve(cs_cpbuf *b, size_t extra)
{
    size_t need;
    if (!cs_add_size(b->n, extra, &need)) return 0;
    if (need <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    size_t bytes;
    if (!cs_mul_size(cap, sizeof(uint32_t), &bytes)) return 0;
    uint32_t *v = realloc(b->v, bytes);
    if (!v) return 0;
    b->v = v;
    b->cap = cap;
    return 1;
}

int cs_cpbuf_push(cs_cpbuf *b, uint32_t cp)
{
    if (b->n == b->cap && !cpbuf_reserve(b, 1)) return 0;
    b->v[b->n++] = cp;
    return 1;
}

static int cpbuf_append(cs_cpbuf *b, const uint32_t *cps, size_t n)
{
    if (n == 0) return 1;
    if (!cpbuf_reserve(b, n)) return 0;
    memcpy(b->v + b->n, cps, n * sizeof(uint32_t));
    b->n += n;
    return 1;
}

/* Appends UTF-8 text (valid, from our own tables or utf8proc) as code points. */
static int cpbuf_append_utf8(cs_cpbuf *b, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0) return 0;
        if (!cs_cpbuf_push(b, (uint32_t)cp)) return 0;
        i += (size_t)k;
    }
    return 1;
}

static cs_status oom(void) { return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory while cleaning text"); }

/* ---------------------------------------------------------------------------------------- */
/* UTF-8                                                                                    */
/* ---------------------------------------------------------------------------------------- */
cs_status cs_utf8_decode(const char *s, size_t len, cs_cpbuf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    if (!cpbuf_reserve(out, len)) return oom();
    size_t i = 0;
    while (i < len) {
        unsigned b = p[i];
        if (b < 0x80) {
            out->v[out->n++] = b;
            i++;
            continue;
        }
        int need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the first continuation byte */
        uint32_t cp;
        if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
            cp = b & 0x1F;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            cp = b & 0x0F;
            if (b == 0xE0) lo = 0xA0;
            if (b == 0xED) hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            cp = b & 0x07;
            if (b == 0xF0) lo = 0x90;
            if (b == 0xF4) hi = 0x8F;
        } else {
            out->v[out->n++] = 0xFFFD; /* stray continuation or invalid lead byte */
            i++;
            continue;
        }
        size_t j = i + 1;
        int ok = 1;
        for (int k = 0; k < need; k++, j++) {
            unsigned c = j < len ? p[j] : 0x100u;
            unsigned l = k == 0 ? lo : 0x80, h = k == 0 ? hi : 0xBF;
            if (c < l || c > h) {
                ok = 0;
                break;
            }
            cp = (cp << 6) | (c & 0x3F);
        }
        /* maximal subpart: the lead plus the valid continuation bytes seen become one U+FFFD */
        out->v[out->n++] = ok ? cp : 0xFFFD;
        i = j;
    }
    return CS_OK;
}

size_t cs_utf8_encode_cp(uint32_t cp, char *buf)
{
    unsigned char *b = (unsigned char *)buf;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (unsigned char)(0xF0 | (cp >> 18));
    b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Code points to a malloc'd UTF-8 string (NUL-terminated); NULL on allocation failure. */
static char *cps_to_utf8(const uint32_t *cps, size_t n, size_t *len)
{
    size_t bytes;
    if (!cs_mul_size(n, 4, &bytes) || !cs_add_size(bytes, 1, &bytes)) return NULL;
    char *s = malloc(bytes);
    if (!s) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += cs_utf8_encode_cp(cps[i], s + k);
    s[k] = 0;
    *len = k;
    return s;
}

/* ---------------------------------------------------------------------------------------- */
/* Character properties                                                                     */
/* ---------------------------------------------------------------------------------------- */
int cs_py_isspace(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

static utf8proc_category_t category(uint32_t c)
{
    return utf8proc_category((utf8proc_int32_t)c);
}

/* Windows-1252 for 0x80..0x9F, the five undefined bytes kept as themselves ("sloppy"), as
 * both ftfy's fix_c1_controls and html.unescape's invalid character references use. */
static const uint16_t cp1252_c1[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

/* ---------------------------------------------------------------------------------------- */
/* Entity tables                                                                            */
/* ---------------------------------------------------------------------------------------- */
static const char *entity_lookup(const cs_html_entity *table, size_t n, const char *name,
                                 size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = table[mid].name;
        size_t mlen = strlen(m);
        int c = memcmp(m, name, mlen < len ? mlen : len);
        if (c == 0) c = mlen < len ? -1 : (mlen > len ? 1 : 0);
        if (c == 0) return table[mid].value;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Looks up code points cps[0..n) (ASCII only can match) in the HTML5 table. */
static const char *html5_lookup_cps(const uint32_t *cps, size_t n)
{
    char name[40];
    if (n == 0 || n >= sizeof(name)) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (cps[i] >= 0x80) return NULL;
        name[i] = (char)cps[i];
    }
    return entity_lookup(cs_html5_entities, N_ELEMS(cs_html5_entities), name, n);
}

/* ---------------------------------------------------------------------------------------- */
/* html.unescape                                                                            */
/* ---------------------------------------------------------------------------------------- */
static int is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static int is_hex(uint32_t c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static unsigned hex_val(uint32_t c)
{
    return is_digit(c) ? c - '0' : ((c | 0x20) - 'a' + 10);
}

/* Python's html._replace_charref for a numeric reference with value num (saturated at
 * 0x110000). Appends the result. */
static int numeric_charref(cs_cpbuf *out, uint32_t num)
{
    if (num == 0) return cs_cpbuf_push(out, 0xFFFD);
    if (num == 0x0D) return cs_cpbuf_push(out, 0x0D);
    if (num >= 0x80 && num <= 0x9F) return cs_cpbuf_push(out, cp1252_c1[num - 0x80]);
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return cs_cpbuf_push(out, 0xFFFD);
    if ((num >= 0x01 && num <= 0x08) || num == 0x0B || (num >= 0x0E && num <= 0x1F) ||
        (num >= 0x7F && num <= 0x9F) || (num >= 0xFDD0 && num <= 0xFDEF) ||
        (num & 0xFFFE) == 0xFFFE)
        return 1; /* invalid code points are dropped */
    return cs_cpbuf_push(out, num);
}

cs_status cs_html_unescape(const uint32_t *in, size_t n, cs_cpbuf *out)
{
    size_t i = 0;
    while (i < n) {
        if (in[i] != '&') {
            if (!cs_cpbuf_push(out, in[i])) return oom();
            i++;
            continue;
        }
        size_t j = i + 1;
        if (j < n && in[j] == '#') {
            size_t k = j + 1;
            int hex = 0;
            if (k < n && (in[k] == 'x' || in[k] == 'X') && k + 1 < n && is_hex(in[k + 1])) {
                hex = 1;
                k++;
            } else if (!(k < n && is_digit(in[k]))) {
                /* "&#" with no digits: no reference here */
                if (!cs_cpbuf_push(out, '&')) return oom();
                i++;
                continue;
            }
            uint32_t num = 0;
            while (k < n && (hex ? is_hex(in[k]) : is_digit(in[k]))) {
                uint32_t d = hex ? hex_val(in[k]) : in[k] - '0';
                if (num < 0x110000u) num = num * (hex ? 16u : 10u) + d;
                if (num > 0x110000u) num = 0x110000u;
                k++;
            }
            if (k < n && in[k] == ';') k++;
            if (!numeric_charref(out, num)) return oom();
            i = k;
            continue;
        }
        /* named: [^\t\n\f <&#;]{1,32};? */
        size_t k = j;
        while (k < n && k - j < 32) {
            uint32_t c = in[k];
            if (c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' ||
                c == '#' || c == ';')
                break;
            k++;
        }
        if (k == j) {
            if (!cs_cpbuf_push(out, '&')) return oom();
            i++;
            continue;
        }
        if (k < n && in[k] == ';') k++;
        size_t len = k - j;
        const char *v = html5_lookup_cps(in + j, len);
        size_t used = len;
        if (!v) {
            for (size_t x = len - 1; x > 1; x--) {
                v = html5_lookup_cps(in + j, x);
                if (v) {
                    used = x;
                    break;
                }
            }
        }
        if (v) {
            if (!cpbuf_append_utf8(out, v, strlen(v))) return oom();
            if (!cpbuf_append(out, in + j + used, len - used)) return oom();
        } else {
            if (!cpbuf_append(out, in + i, k - i)) return oom();
        }
        i = k;
    }
    return CS_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* ftfy.fix_text                                                                            */
/* ---------------------------------------------------------------------------------------- */
static int is_ascii_alnum(uint32_t c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ftfy.fixes.unescape_html: entities matching &#?[0-9A-Za-z]{1,24}; that are HTML5 names
 * (with ';') or ftfy's upper-case aliases; numeric ones through html.unescape unless that
 * leaves a ';'. */
static cs_status ftfy_unescape_html(const uint32_t *in, size_t n, cs_cpbuf *out)
{
    size_t i = 0;
    while (i < n) {
        if (in[i] == '&') {
            size_t j = i + 1;
            int numeric = j < n && in[j] == '#';
            if (numeric) j++;
            size_t k = j;
            while (k < n && is_ascii_alnum(in[k]) && k - j <= 24) k++;
            size_t run = k - j;
            if (run >= 1 && run <= 24 && k < n && in[k] == ';') {
                size_t end = k + 1; /* match is in[i..end) */
                if (numeric) {
                    cs_cpbuf tmp = {0};
                    cs_status st = cs_html_unescape(in + i, end - i, &tmp);
                    if (st != CS_OK) {
                        cs_cpbuf_free(&tmp);
                        return st;
                    }
                    int has_semi = 0;
                    for (size_t t = 0; t < tmp.n; t++) has_semi |= tmp.v[t] == ';';
                    int ok = has_semi ? cpbuf_append(out, in + i, end - i)
                                      : cpbuf_append(out, tmp.v, tmp.n);
                    cs_cpbuf_free(&tmp);
                    if (!ok) return oom();
                } else {
                    char name[32];
                    size_t len = end - j; /* name with ';' */
                    for (size_t t = 0; t < len; t++) name[t] = (char)in[j + t];
                    const char *v = entity_lookup(cs_html5_entities, N_ELEMS(cs_html5_entities),
                                                  name, len);
                    if (!v)
                        v = entity_lookup(cs_ftfy_upper_entities,
                                          N_ELEMS(cs_ftfy_upper_entities), name, len);
                    int ok = v ? cpbuf_append_utf8(out, v, strlen(v))
                               : cpbuf_append(out, in + i, end - i);
                    if (!ok) return oom();
                }
                i = end;
                continue;
            }
        }
        if (!cs_cpbuf_push(out, in[i])) return oom();
        i++;
    }
    return CS_OK;
}

/* Latin ligatures and digraphs that ftfy.fixes.fix_latin_ligatures takes apart. */
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
        ok = cpbuf_append_utf8(out, (const char *)dst, (size_t)r);
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
        if (c >= 0x80 && c <= 0x9F) c = cp1252_c1[c - 0x80];
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
            while (k < b.n && (b.v[k] == ';' || category(b.v[k]) == UTF8PROC_CATEGORY_ND)) k++;
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
    int ascii = 1;
    for (size_t i = 0; i < in->n && ascii; i++) ascii = in->v[i] < 0x80;
    if (ascii) return cpbuf_append(out, in->v, in->n) ? CS_OK : oom();
    size_t len;
    char *s = cps_to_utf8(in->v, in->n, &len);
    if (!s) return oom();
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    free(s);
    if (r < 0) {
        free(dst);
        if (r == UTF8PROC_ERROR_NOMEM || r == UTF8PROC_ERROR_OVERFLOW) return oom();
        /* cannot happen for valid scalar values; keep the text unnormalised */
        return cpbuf_append(out, in->v, in->n) ? CS_OK : oom();
    }
    int ok = cpbuf_append_utf8(out, (const char *)dst, (size_t)r);
    free(dst);
    return ok ? CS_OK : oom();
}

static int same(const cs_cpbuf *a, const cs_cpbuf *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(uint32_t)) == 0);
}

/* ftfy.fix_and_explain: the fixers repeated until the text no longer changes. */
static cs_status ftfy_fix_segment(const uint32_t *in, size_t n, int unescape, cs_cpbuf *out)
{
    cs_cpbuf cur = {0}, t1 = {0}, t2 = {0};
    cs_status st = CS_OK;
    if (!cpbuf_append(&cur, in, n)) return oom();
    for (;;) {
        t1.n = t2.n = 0;
        const cs_cpbuf *src = &cur;
        if (unescape) {
            st = ftfy_unescape_html(cur.v, cur.n, &t1);
            if (st != CS_OK) break;
            src = &t1;
        }
        /* fix_encoding: mojibake repair is not reproduced (docs/tokenizer.md); the C1
         * controls it would reinterpret as Windows-1252 are handled by fix_c1_controls. */
        st = ftfy_char_fixes(src, &t2);
        if (st != CS_OK) break;
        t1.n = 0;
        st = nfc(&t2, &t1);
        if (st != CS_OK) break;
        if (same(&t1, &cur)) break;
        cs_cpbuf tmp = cur;
        cur = t1;
        t1 = tmp;
    }
    if (st == CS_OK && !cpbuf_append(out, cur.v, cur.n)) st = oom();
    cs_cpbuf_free(&cur);
    cs_cpbuf_free(&t1);
    cs_cpbuf_free(&t2);
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
/* Lower case (Python str.lower)                                                            */
/* ---------------------------------------------------------------------------------------- */
static int is_cased(uint32_t c)
{
    utf8proc_category_t cat = category(c);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
           cat == UTF8PROC_CATEGORY_LT || utf8proc_islower((utf8proc_int32_t)c) ||
           utf8proc_isupper((utf8proc_int32_t)c);
}

static int is_case_ignorable(uint32_t c)
{
    switch (category(c)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
        return 1;
    default:
        break;
    }
    /* Word_Break MidLetter, MidNumLet, Single_Quote */
    switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4:
    case 0x2018: case 0x2019: case 0x2024: case 0x2027: case 0xFE13: case 0xFE52:
    case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
        return 1;
    default:
        return 0;
    }
}

static uint32_t capital_sigma(const uint32_t *s, size_t n, size_t i)
{
    size_t j = i;
    uint32_t c = 0;
    int found = 0;
    while (j > 0) {
        c = s[--j];
        if (!is_case_ignorable(c)) {
            found = 1;
            break;
        }
    }
    int final = found && is_cased(c);
    if (final) {
        for (j = i + 1; j < n; j++) {
            if (!is_case_ignorable(s[j])) break;
        }
        final = j == n || !is_cased(s[j]);
    }
    return final ? 0x3C2 : 0x3C3;
}

/* ---------------------------------------------------------------------------------------- */
/* The whole cleaning                                                                       */
/* ---------------------------------------------------------------------------------------- */
cs_status cs_clip_clean_text(const char *text, size_t len, cs_cpbuf *out)
{
    cs_cpbuf a = {0}, b = {0};
    cs_status st = cs_utf8_decode(text, len, &a);
    /* basic_clean: ftfy.fix_text, html.unescape twice, strip */
    if (st == CS_OK) st = cs_ftfy_fix_text(a.v, a.n, &b);
    if (st == CS_OK) {
        a.n = 0;
        st = cs_html_unescape(b.v, b.n, &a);
    }
    if (st == CS_OK) {
        b.n = 0;
        st = cs_html_unescape(a.v, a.n, &b);
    }
    if (st == CS_OK) {
        /* strip, collapse \s+ to one space, strip; then lower() */
        a.n = 0;
        int pending_space = 0;
        for (size_t i = 0; i < b.n; i++) {
            uint32_t c = b.v[i];
            if (cs_py_isspace(c)) {
                pending_space = 1;
                continue;
            }
            if (pending_space && a.n > 0 && !cs_cpbuf_push(&a, ' ')) {
                st = oom();
                break;
            }
            pending_space = 0;
            if (!cs_cpbuf_push(&a, c)) {
                st = oom();
                break;
            }
        }
    }
    if (st == CS_OK) {
        for (size_t i = 0; i < a.n; i++) {
            uint32_t c = a.v[i];
            int ok;
            if (c < 0x80) {
                ok = cs_cpbuf_push(out, (c >= 'A' && c <= 'Z') ? c + 32 : c);
            } else if (c == 0x130) {
                ok = cs_cpbuf_push(out, 'i') && cs_cpbuf_push(out, 0x307);
            } else if (c == 0x3A3) {
                ok = cs_cpbuf_push(out, capital_sigma(a.v, a.n, i));
            } else {
                ok = cs_cpbuf_push(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
            }
            if (!ok) {
                st = oom();
                break;
            }
        }
    }
    cs_cpbuf_free(&a);
    cs_cpbuf_free(&b);
    return st;
}
