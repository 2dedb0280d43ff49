/* clipsurgery segment: open-vocabulary segmentation label map (REFERENCE 5). */
#include "cli_job.h"

#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: clipsurgery segment MODEL IMAGE... --out MASK.png [options] [--] TEXT...\n"
    "Per pixel, the TEXT with the highest similarity on the surgery path (cosine of the v-v\n"
    "path's tokens with the prompt ensembles, bilinearly upsampled). Writes a palette PNG whose\n"
    "values are text indices, and prints a JSON legend {\"image\", \"mask\", \"labels\": "
    "[{\"index\",\n"
    "\"text\", \"color\", \"pixels\"}]}. With several images the mask name gets _<image stem>.\n"
    "options: --empty-text (apply empty-text feature surgery first), --vocab PATH, --size S,\n"
    "--map-size HxW, --batch LIST, --threads N, --surgery-blocks K, --no-cache\n";

/* A palette of distinct colours: index i gets a colour from the bits of i (as in VOC). */
static void palette_color(int i, uint8_t rgb[3])
{
    int r = 0, g = 0, b = 0, c = i + 1;
    for (int j = 0; j < 8; j++) {
        r |= ((c >> 0) & 1) << (7 - j);
        g |= ((c >> 1) & 1) << (7 - j);
        b |= ((c >> 2) & 1) << (7 - j);
        c >>= 3;
    }
    rgb[0] = (uint8_t)r;
    rgb[1] = (uint8_t)g;
    rgb[2] = (uint8_t)b;
}

static int one_image(cli_job *job, const cli_image_step *st, void *user)
{
    const uint8_t *palette = user;
    const cli_input *in = st->in;
    int T = job->n_texts, rc = CLI_OK;
    float *sim = NULL;
    size_t n_sim = (size_t)st->n_tokens * T;
    if (job->empty_text) {
        rc = cli_job_similarity(job, st->features, st->n_tokens, 1, &sim);
    } else if (!(sim = malloc(sizeof(float) * n_sim))) {
        rc = CLI_RUNTIME;
    } else {
        cs_status s = cs_similarity(st->features, 1, st->n_tokens, job->text_features, T, job->dim,
                                    sim, n_sim);
        if (s != CS_OK) rc = cli_status_error("segment", "similarity", s);
    }
    size_t n_px = (size_t)in->map_h * in->map_w;
    uint8_t *mask = rc == CLI_OK ? malloc(n_px) : NULL;
    if (rc == CLI_OK && !mask) rc = CLI_RUNTIME;
    if (rc == CLI_OK) {
        cs_status s = cs_segment(sim, st->grid_h, st->grid_w, T, in->map_h, in->map_w, mask, n_px);
        if (s != CS_OK) rc = cli_status_error("segment", "segmentation", s);
    }
    char path[4096];
    if (st->count > 1) {
        const char *dot = strrchr(job->out_mask, '.');
        int base = dot ? (int)(dot - job->out_mask) : (int)strlen(job->out_mask);
        snprintf(path, sizeof path, "%.*s_%s%s", base, job->out_mask, in->stem, dot ? dot : ".png");
    } else {
        snprintf(path, sizeof path, "%s", job->out_mask);
    }
    if (rc == CLI_OK) {
        cs_status s =
            cs_png_write(path, mask, in->map_w, in->map_h, (size_t)in->map_w, 1, palette, T);
        if (s != CS_OK) rc = cli_status_error("segment", path, s);
    }
    if (rc == CLI_OK) {
        size_t *count = calloc((size_t)T, sizeof *count);
        for (size_t p = 0; count && p < n_px; p++) count[mask[p]]++;
        printf("{\"image\": ");
        cli_json_string(stdout, in->path);
        printf(", \"mask\": ");
        cli_json_string(stdout, path);
        printf(", \"labels\": [");
        for (int t = 0; t < T; t++) {
            printf("%s{\"index\": %d, \"text\": ", t ? ", " : "", t);
            cli_json_string(stdout, job->texts[t]);
            printf(", \"color\": [%d, %d, %d], \"pixels\": %zu}", palette[3 * t],
                   palette[3 * t + 1], palette[3 * t + 2], count ? count[t] : 0);
        }
        printf("]}\n");
        free(count);
    }
    free(mask);
    free(sim);
    return rc;
}

int cmd_segment(int argc, char **argv)
{
    cli_job job;
    memset(&job, 0, sizeof job);
    job.cmd = "segment";
    int rc = cli_job_parse(&job, JOB_SEGMENT, argc, argv, help);
    uint8_t palette[256 * 3];
    for (int i = 0; i < 256; i++) palette_color(i, palette + 3 * i);
    if (rc < 0 && cli_make_parent(job.out_mask) != 0) {
        fprintf(stderr, "clipsurgery segment: cannot create the folder of %s\n", job.out_mask);
        rc = CLI_RUNTIME;
    }
    if (rc < 0) rc = cli_job_run(&job, one_image, palette);
    cli_job_free(&job);
    return rc;
}
