/* libFuzzer target: "pixel_values" safetensors as the CLI reads them (src/cli_common.c,
 * cli_is_safetensors and cli_read_pixel_values, as encode-image and the map commands do): the
 * input is written to a file in a temporary folder (one per process), probed for its size, then
 * read as f32. See tests/fuzz/README.md. */
/* CLI sources: src/cli_common.c */
#include "cli.h"

#include "fuzz_util.h"

#include <math.h>
#include <stdint.h>

static const char *path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    path = fz_tmpfile("pixel_values", "pixel_values.safetensors");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_write(path, data, size, NULL, 0, NULL, 0);
    (void)cli_is_safetensors(path);
    int b = 0, h = 0, w = 0;
    /* the probe (no pixels), as cli_job_count_inputs does */
    if (cli_read_pixel_values(NULL, path, NULL, &b, &h, &w) != CLI_OK) return 0;
    if (b < 1 || h < 1 || w < 1 || b > 4096 || h > 16384 || w > 16384) abort();
    float *px = NULL;
    int b2 = 0, h2 = 0, w2 = 0;
    if (cli_read_pixel_values(NULL, path, &px, &b2, &h2, &w2) == CLI_OK) {
        if (b2 != b || h2 != h || w2 != w || !px) abort();
        size_t n = (size_t)b * 3 * (size_t)h * (size_t)w;
        if (!isfinite(px[0]) || !isfinite(px[n - 1])) abort(); /* the whole batch is there */
        free(px);
    } else if (px) {
        abort();
    }
    return 0;
}
