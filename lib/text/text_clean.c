/* Cleaning of the CLIP tokenizer: see text_clean.h and docs/tokenizer.md. */
#include "text/text_clean.h"

#include "text/ftfy_repair.h"
#include "text/html_unescape.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static cs_status oom(void) { return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory while cleaning text"); }

static utf8proc_category_t category(uint32_t c)
{
    return utf8proc_category((utf8proc_int32_t)c);
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

