/* libFuzzer target: ftfy.fix_text (cs_fix_text) and its mojibake repair on arbitrary bytes
 * (first byte even) and on arbitrary valid UTF-8 built from the input (first byte odd: pairs of
 * bytes pick a code point, biased towards the characters the repair's codecs and heuristic
 * know). Checks that the output is valid UTF-8 and that the buffer-size retry gives the same
 * text. See tests/fuzz/README.md. */
#include "clipsurgery.h"
#include "text/cpbuf.h"
#include "text/ftfy_badness.h"
#include "text/ftfy_repair.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int valid_utf8(const char *s, size_t n)
{
    cs_cpbuf b = {0};
    if (cs_utf8_decode(s, n, &b) != CS_OK) return 1;
    size_t len = 0;
    char *again = cs_cps_to_utf8(b.v, b.n, &len);
    int ok = !again || (len == n && memcmp(again, s, n) == 0);
    free(again);
    cs_cpbuf_free(&b);
    return ok;
}

/* Valid UTF-8 from the fuzz input. */
static char *make_utf8(const uint8_t *d, size_t n, size_t *len)
{
    char *s = malloc(n * 4 + 1);
    if (!s) return NULL;
    size_t k = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        unsigned a = d[i], b = d[i + 1];
        uint32_t cp;
        if (a < 0x50)
            cp = b & 0x7F; /* ASCII */
        else if (a < 0x80)
            cp = 0x80 + b + ((a & 1) << 8); /* Latin-1 and Latin Extended-A */
        else if (a < 0xC0)
            cp = cs_ftfy_decode_byte((int)(a % CS_FTFY_N_CODECS), b); /* codec characters */
        else if (a < 0xD0)
            cp = 0x2000 + b + ((a & 3) << 8); /* punctuation, symbols, box drawing */
        else if (i + 2 < n) {
            cp = (((uint32_t)a << 16) | ((uint32_t)b << 8) | d[i + 2]) % 0x110000u;
            i++;
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        } else {
            cp = 0xFFFD;
        }
        k += cs_utf8_encode_cp(cp, s + k);
    }
    s[k] = 0;
    *len = k;
    return s;
}

static void check(const char *text, size_t len)
{
    size_t cap = len * 3 + 16, n = 0;
    char *out = malloc(cap);
    if (!out) return;
    cs_status st = cs_fix_text(text, len, out, cap, &n);
    if (st == CS_ERR_BUFFER_TOO_SMALL) {
        char *big = malloc(n + 1);
        if (!big) {
            free(out);
            return;
        }
        free(out);
        out = big;
        st = cs_fix_text(text, len, out, n + 1, &n);
    }
    if (st == CS_OK) {
        if (!valid_utf8(out, n) || out[n] != 0) abort();
        /* too small a buffer: the same length is reported and nothing is written */
        if (n > 0) {
            char *small = malloc(n);
            size_t n2 = 0;
            if (small) {
                if (cs_fix_text(text, len, small, n, &n2) != CS_ERR_BUFFER_TOO_SMALL || n2 != n)
                    abort();
                free(small);
            }
        }
    }
    free(out);
    /* the encoding repair and the heuristic alone */
    cs_cpbuf cps = {0}, fixed = {0};
    if (cs_utf8_decode(text, len, &cps) == CS_OK) {
        (void)cs_ftfy_is_bad(cps.v, cps.n);
        if (cs_ftfy_fix_encoding(cps.v, cps.n, &fixed) == CS_OK) {
            for (size_t i = 0; i < fixed.n; i++)
                if (fixed.v[i] > 0x10FFFF || (fixed.v[i] >= 0xD800 && fixed.v[i] <= 0xDFFF)) abort();
        }
    }
    cs_cpbuf_free(&cps);
    cs_cpbuf_free(&fixed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    if (size > 4096) size = 4096;
    if (!(data[0] & 1)) {
        check((const char *)data + 1, size - 1);
        return 0;
    }
    size_t len = 0;
    char *s = make_utf8(data + 1, size - 1, &len);
    if (s) check(s, len);
    free(s);
    return 0;
}
