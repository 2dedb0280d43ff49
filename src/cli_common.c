/* Helpers shared by the subcommands. */
#include "cli.h"

#include <errno.h>
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

cs_model *cli_load_model(const char *cmd, const char *path, const char *vocab)
{
    cs_model_params mp;
    cs_model_params_default(&mp);
    mp.vocab_path = vocab;
    cs_model *m = NULL;
    cs_status s = cs_model_load(path, &mp, &m);
    if (s != CS_OK) {
        cli_status_error(cmd, path, s);
        return NULL;
    }
    return m;
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}
