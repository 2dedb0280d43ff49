/* Helpers shared by the subcommands. */
#include "cli.h"

#include "io/safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "clipsurgery %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'clipsurgery %s --help')\n", cmd);
    return CLI_USAGE;
}

int cli_status_error(const char *cmd, const char *what, cs_status status)
{
    const char *detail = cs_last_error();
    fprintf(stderr, "clipsurgery %s: %s: %s%s%s\n", cmd, what, cs_status_string(status),
            *detail ? ": " : "", detail);
    return CLI_RUNTIME;
}

int cli_parse_int(const char *s, int min, int max, int *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = (int)v;
    return 0;
}

int cli_parse_precision(const char *s, unsigned *flags)
{
    if (s && strcmp(s, "f32") == 0) *flags = 0;
    else if (s && strcmp(s, "bf16") == 0) *flags = CS_MODEL_PRECISION_BF16;
    else return -1;
    return 0;
}

cs_model *cli_load_model(const char *cmd, const char *path, const char *vocab, unsigned flags)
{
    cs_model_params mp;
    cs_model_params_default(&mp);
    mp.vocab_path = vocab;
    mp.flags |= flags;
    cs_model *m = NULL;
    cs_status s = cs_model_load(path, &mp, &m);
    if (s != CS_OK) {
        cli_status_error(cmd, path, s);
        return NULL;
    }
    return m;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates, at
 * most U+10FFFF), or 0. */
static int utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        return p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* Writes s as a JSON string; bytes that are not well-formed UTF-8 (a class name or caption in
 * another encoding) become U+FFFD, as Python's decode(errors="replace"), so the output is always
 * valid JSON. */
void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x80) {
            int n = utf8_len(p);
            if (n == 0) {
                fputs("\xef\xbf\xbd", f);
            } else {
                fwrite(p, 1, (size_t)n, f);
                p += n - 1;
            }
            continue;
        }
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

int cli_is_safetensors(const char *path)
{
    unsigned char b[9];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    return n == sizeof b && b[8] == '{' && b[5] == 0 && b[6] == 0 && b[7] == 0;
}

int cli_read_pixel_values(const char *cmd, const char *path, float **px, int *b, int *h, int *w)
{
    cs_safetensors *st = NULL;
    cs_status s = cs_st_open(path, &st);
    if (s != CS_OK) return cmd ? cli_status_error(cmd, path, s) : CLI_RUNTIME;
    const cs_st_tensor *t = cs_st_find(st, "pixel_values");
    int nd = t ? t->ndim : 0;
    if (!t || (nd != 3 && nd != 4) || t->shape[nd - 3] != 3 || t->shape[nd - 1] < 1 ||
        t->shape[nd - 2] < 1 || t->shape[nd - 1] > 16384 || t->shape[nd - 2] > 16384 ||
        (nd == 4 && (t->shape[0] < 1 || t->shape[0] > 4096)) ||
        (t->dtype != CS_DT_F32 && t->dtype != CS_DT_F16 && t->dtype != CS_DT_BF16)) {
        if (cmd)
            fprintf(stderr,
                    "clipsurgery %s: %s: needs a float tensor \"pixel_values\" [3, H, W] or "
                    "[B, 3, H, W]\n",
                    cmd, path);
        cs_st_close(st);
        return CLI_RUNTIME;
    }
    *b = nd == 4 ? (int)t->shape[0] : 1;
    *h = (int)t->shape[nd - 2];
    *w = (int)t->shape[nd - 1];
    int rc = CLI_OK;
    if (px) {
        float *all = malloc(sizeof(float) * t->n_elements);
        if (!all || cs_st_to_f32(t, all) != CS_OK) {
            if (cmd) fprintf(stderr, "clipsurgery %s: %s: cannot read pixel_values\n", cmd, path);
            rc = CLI_RUNTIME;
        }
        for (size_t i = 0; rc == CLI_OK && i < t->n_elements; i++)
            if (!isfinite(all[i])) {
                if (cmd)
                    fprintf(stderr, "clipsurgery %s: %s: pixel_values holds NaN or infinity\n",
                            cmd, path);
                rc = CLI_RUNTIME;
            }
        if (rc == CLI_OK)
            *px = all;
        else
            free(all);
    }
    cs_st_close(st);
    return rc;
}
