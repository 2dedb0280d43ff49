/* Code point buffers and UTF-8: see cpbuf.h. */
#include "text/cpbuf.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

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

int cs_cpbuf_reserve(cs_cpbuf *b, size_t extra)
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

int cs_cpbuf_append(cs_cpbuf *b, const uint32_t *cps, size_t n)
{
    if (n == 0) return 1;
    if (!cs_cpbuf_reserve(b, n)) return 0;
    memcpy(b->v + b->n, cps, n * sizeof(uint32_t));
    b->n += n;
    return 1;
}

/* Appends UTF-8 text (valid, from our own tables or utf8proc) as code points. */
int cs_cpbuf_append_utf8(cs_cpbuf *b, const char *s, size_t len)
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

/* ---------------------------------------------------------------------------------------- */
/* UTF-8                                                                                    */
/* ---------------------------------------------------------------------------------------- */
cs_status cs_utf8_decode(const char *s, size_t len, cs_cpbuf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    if (!cs_cpbuf_reserve(out, len))
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory while decoding UTF-8");
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
char *cs_cps_to_utf8(const uint32_t *cps, size_t n, size_t *len)
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
