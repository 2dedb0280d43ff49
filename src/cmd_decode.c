/* clipsurgery decode IMAGE --out FILE.png: the decoded RGB (PIL convert("RGB") semantics), to
 * check decoding. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f, "usage: clipsurgery decode [options] IMAGE --out FILE.png\n"
               "Decodes a PNG or JPEG to 8-bit RGB as PIL's Image.open(f).convert(\"RGB\") and\n"
               "writes it as an RGB PNG.\n"
               "options:\n"
               "  --out FILE          output PNG (required)\n"
               "  --exif              apply the EXIF orientation (default: stored layout)\n"
               "  --accept-warnings   accept decoder warnings (corrupt or truncated data)\n"
               "  --max-pixels N      pixel cap (default 178956970; 0 = none)\n"
               "exit codes: 0 ok, 1 runtime error, 2 usage error\n");
}

/* Shared option parsing for decode and preprocess lives in each file (small and local). */
static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s) return -1;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || s[0] == '-') return -1;
    *out = v;
    return 0;
}

int cmd_decode(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    cs_decode_params p;
    cs_decode_params_default(&p);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help(stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--out") == 0) {
            if (++i >= argc) return cli_usage_error("decode", "--out needs a path");
            out = argv[i];
        } else if (strcmp(argv[i], "--exif") == 0) {
            p.flags |= CS_DECODE_APPLY_EXIF_ORIENTATION;
        } else if (strcmp(argv[i], "--accept-warnings") == 0) {
            p.flags |= CS_DECODE_ACCEPT_WARNINGS;
        } else if (strcmp(argv[i], "--max-pixels") == 0) {
            if (++i >= argc || parse_u64(argv[i], &p.max_pixels) != 0)
                return cli_usage_error("decode", "--max-pixels needs a non-negative integer");
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("decode", "unknown option %s", argv[i]);
        } else if (!in) {
            in = argv[i];
        } else {
            return cli_usage_error("decode", "one IMAGE only");
        }
    }
    if (!in) return cli_usage_error("decode", "IMAGE is required");
    if (!out) return cli_usage_error("decode", "--out FILE.png is required");
    cs_image *img = NULL;
    cs_status s = cs_image_decode_file(in, &p, &img);
    if (s != CS_OK) return cli_status_error("decode", "cannot decode", s);
    s = cs_png_write(out, img->data, img->width, img->height, img->stride, 3, NULL, 0);
    cs_image_free(img);
    if (s != CS_OK) return cli_status_error("decode", out, s);
    return CLI_OK;
}
