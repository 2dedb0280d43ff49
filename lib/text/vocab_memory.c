/* A vocabulary from caller memory (cs_tokenizer_load_memory): the bytes of
 * bpe_simple_vocab_16e6.txt.gz, inflated here with zlib, or of a plain merges file. */
#include "text/tokenizer.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CS_VOCAB_MEMORY_MAX ((size_t)256 << 20) /* as cs_tokenizer_load: 256 MiB uncompressed */

/* Inflates a whole gzip stream (one or more members) into a malloc'd, NUL-terminated buffer. */
static cs_status gunzip(const uint8_t *data, size_t size, char **out, size_t *out_size)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "vocabulary in memory: cannot start zlib");
    size_t cap = (size_t)1 << 21, n = 0, in_left = size;
    const uint8_t *in = data;
    char *buf = malloc(cap + 1);
    cs_status s = buf ? CS_OK : cs_fail(CS_ERR_OUT_OF_MEMORY, "vocabulary in memory: out of memory");
    int r = Z_OK;
    while (s == CS_OK) {
        if (n == cap) {
            if (cap >= CS_VOCAB_MEMORY_MAX) {
                s = cs_fail(CS_ERR_TOO_LARGE, "vocabulary in memory: over %zu bytes uncompressed",
                            CS_VOCAB_MEMORY_MAX);
                break;
            }
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                s = cs_fail(CS_ERR_OUT_OF_MEMORY, "vocabulary in memory: out of memory");
                break;
            }
            buf = nb;
            cap *= 2;
        }
        if (z.avail_in == 0 && in_left) {
            unsigned chunk = in_left > (1u << 30) ? (1u << 30) : (unsigned)in_left;
            z.next_in = (Bytef *)(uintptr_t)in;
            z.avail_in = chunk;
            in += chunk;
            in_left -= chunk;
        }
        size_t room = cap - n;
        z.next_out = (Bytef *)buf + n;
        z.avail_out = room > (1u << 30) ? (1u << 30) : (unsigned)room;
        unsigned before = z.avail_out;
        r = inflate(&z, Z_NO_FLUSH);
        n += before - z.avail_out;
        if (r == Z_STREAM_END) {
            /* a further gzip member may follow (as gzread reads concatenated members) */
            if (z.avail_in == 0 && in_left == 0) break;
            if (inflateReset(&z) != Z_OK) {
                s = cs_fail(CS_ERR_FORMAT, "vocabulary in memory: corrupt gzip stream");
                break;
            }
            continue;
        }
        if (r == Z_BUF_ERROR && z.avail_in == 0 && in_left == 0) {
            s = cs_fail(CS_ERR_FORMAT, "vocabulary in memory: truncated gzip stream");
            break;
        }
        if (r != Z_OK && r != Z_BUF_ERROR) {
            s = cs_fail(CS_ERR_FORMAT, "vocabulary in memory: corrupt gzip stream (%s)",
                        z.msg ? z.msg : "zlib error");
            break;
        }
    }
    inflateEnd(&z);
    if (s != CS_OK) {
        free(buf);
        return s;
    }
    buf[n] = '\0';
    *out = buf;
    *out_size = n;
    return CS_OK;
}

CS_API cs_status cs_tokenizer_load_memory(const void *data, size_t size, cs_tokenizer **out)
{
    cs_clear_error();
    if (!data || !out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_tokenizer_load_memory: NULL argument");
    const uint8_t *d = data;
    if (size >= 2 && d[0] == 0x1f && d[1] == 0x8b) {
        char *text = NULL;
        size_t n = 0;
        cs_status s = gunzip(d, size, &text, &n);
        if (s != CS_OK) return s;
        s = cs_tokenizer_from_merges(text, n, "vocabulary in memory", out);
        free(text);
        return s;
    }
    if (size > CS_VOCAB_MEMORY_MAX)
        return cs_fail(CS_ERR_TOO_LARGE, "vocabulary in memory: %zu bytes, over %zu", size,
                       CS_VOCAB_MEMORY_MAX);
    return cs_tokenizer_from_merges((const char *)data, size, "vocabulary in memory", out);
}
