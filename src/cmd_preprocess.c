/* clipsurgery preprocess --size S IMAGE --out FILE.safetensors: CLIP's normalised input
 * "pixel_values" [3, S, S] float32 (REFERENCE section 1). */
#include "cli.h"

#include "io/safetensors.h"

#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f, "usage: clipsurgery preprocess [options] IMAGE --out FILE.safetensors\n"
               "Decodes IMAGE, resizes it to SxS with PIL's bicubic filter and applies CLIP's\n"
               "mean/std normalisation; writes tensor \"pixel_values\" [3, S, S] float32 (CHW).\n"
               "options:\n"
               "  --size S            output side (default 224)\n"
               "  --out FILE          output .safetensors (required)\n"
               "  --exif              apply the EXIF orientation (default: stored layout)\n"
               "  --accept-warnings   accept decoder warnings (corrupt or truncated data)\n"
               "exit codes: 0 ok, 1 runtime error, 2 usage error\n");
}

int cmd_preprocess(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    int size = 224;
    cs_decode_params p;
    cs_decode_params_default(&p);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help(stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--out") == 0) {
            if (++i >= argc) return cli_usage_error("preprocess", "--out needs a path");
            out = argv[i];
        } else if (strcmp(argv[i], "--size") == 0) {
            if (++i >= argc || cli_parse_int(argv[i], 1, 8192, &size) != 0)
                return cli_usage_error("preprocess", "--size needs an integer in 1..8192");
        } else if (strcmp(argv[i], "--exif") == 0) {
            p.flags |= CS_DECODE_APPLY_EXIF_ORIENTATION;
        } else if (strcmp(argv[i], "--accept-warnings") == 0) {
            p.flags |= CS_DECODE_ACCEPT_WARNINGS;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("preprocess", "unknown option %s", argv[i]);
        } else if (!in) {
            in = argv[i];
        } else {
            return cli_usage_error("preprocess", "one IMAGE only");
        }
    }
    if (!in) return cli_usage_error("preprocess", "IMAGE is required");
    if (!out) return cli_usage_error("preprocess", "--out FILE.safetensors is required");
    cs_image *img = NULL;
    cs_status s = cs_image_decode_file(in, &p, &img);
    if (s != CS_OK) return cli_status_error("preprocess", "cannot decode", s);
    size_t n = 3 * (size_t)size * (size_t)size;
    float *px = malloc(n * sizeof *px);
    if (!px) {
        cs_image_free(img);
        fprintf(stderr, "clipsurgery preprocess: out of memory\n");
        return CLI_RUNTIME;
    }
    s = cs_image_preprocess(img, size, px, n);
    cs_image_free(img);
    if (s != CS_OK) {
        free(px);
        return cli_status_error("preprocess", in, s);
    }
    int64_t shape[3] = {3, size, size};
    cs_st_entry e = {"pixel_values", CS_DT_F32, 3, shape, px};
    s = cs_st_write(out, &e, 1, NULL, 0);
    free(px);
    if (s != CS_OK) return cli_status_error("preprocess", out, s);
    return CLI_OK;
}
