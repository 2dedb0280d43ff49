/* HTML character references: see html_unescape.h. */
#include "text/html_unescape.h"

#include <string.h>

typedef struct cs_html_entity {
    const char *name;
    const char *value;
} cs_html_entity;

#include "text/html_entities.inc"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static cs_status oom(void) { return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory while unescaping HTML"); }

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
            if (!cs_cpbuf_append_utf8(out, v, strlen(v))) return oom();
            if (!cs_cpbuf_append(out, in + j + used, len - used)) return oom();
        } else {
            if (!cs_cpbuf_append(out, in + i, k - i)) return oom();
        }
        i = k;
    }
    return CS_OK;
}

static int is_ascii_alnum(uint32_t c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ftfy.fixes.unescape_html: entities matching &#?[0-9A-Za-z]{1,24}; that are HTML5 names
 * (with ';') or ftfy's upper-case aliases; numeric ones through html.unescape unless that
 * leaves a ';'. */
cs_status cs_ftfy_unescape_html(const uint32_t *in, size_t n, cs_cpbuf *out)
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
                    int ok = has_semi ? cs_cpbuf_append(out, in + i, end - i)
                                      : cs_cpbuf_append(out, tmp.v, tmp.n);
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
                    int ok = v ? cs_cpbuf_append_utf8(out, v, strlen(v))
                               : cs_cpbuf_append(out, in + i, end - i);
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
