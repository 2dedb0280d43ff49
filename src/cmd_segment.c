/* clipsurgery segment: open-vocabulary segmentation label map (REFERENCE 5). */
#include "cli_job.h"
#include "io/safetensors.h"

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
    "--map-size HxW, --batch LIST, --threads N, --precision f32|bf16, --surgery-blocks K, --no-cache,\n"
    "--method NAME (clip-surgery [default], raw, maskclip, sclip, clearclip, naclip, gem;\n"
    "  methods other than clip-surgery and raw use plain cosines, no feature surgery)\n"
    "dense pipeline (SCLIP/NACLIP's official segmentation; any of these turns it on):\n"
    "  --preprocess squash|mmseg  squash: --size x --size PIL bicubic (default); mmseg: keep-ratio\n"
    "                             resize to --short-side N (default 336, long side <= 2048),\n"
    "                             cv2 bilinear on 8-bit pixels, mmseg mean/std\n"
    "  --slide CROP:STRIDE        sliding-window inference (e.g. 336:112); default: whole image\n"
    "  --pamr ITERS:D1,D2,...     PAMR refinement of the logits (NACLIP: 10:8,16); default off\n"
    "  --logit-scale S            softmax of S x cosines over the texts (default 40)\n"
    "  --bg-threshold P           top probability below P gives label 0, the first TEXT\n"
    "                             (SCLIP's prob_thd; default 0)\n"
    "  --logits FILE              writes \"logits\" [C, H, W] float32 (safetensors): the cosines\n"
    "                             at the resized size, window-averaged (after PAMR when given),\n"
    "                             before any scale or softmax\n"
    "  The mask is at the original image size (or --map-size).\n";

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

/* out path for image `stem` from the --out / --logits name when a run has several images */
static void output_name(char *path, size_t cap, const char *base_name, const cli_image_step *st,
                        const char *def_ext)
{
    if (st->count > 1) {
        const char *dot = strrchr(base_name, '.');
        int base = dot ? (int)(dot - base_name) : (int)strlen(base_name);
        snprintf(path, cap, "%.*s_%s%s", base, base_name, st->in->stem, dot ? dot : def_ext);
    } else {
        snprintf(path, cap, "%s", base_name);
    }
}

/* The dense pipeline: pixels (squash or mmseg), logits [C, H, W] of the method (whole image or
 * sliding windows), PAMR, --logits, then the labels at the map size. */
static int dense_labels(cli_job *job, const cli_image_step *st, uint8_t *mask)
{
    const cli_input *in = st->in;
    int T = job->n_texts, H = in->height, W = in->width, rc = CLI_OK;
    float *px = in->pixels, *own = NULL;
    cs_status s;
    if (job->mmseg) {
        if (!in->image) {
            fprintf(stderr, "clipsurgery segment: %s: --preprocess mmseg needs an image file\n",
                    in->path);
            return CLI_RUNTIME;
        }
        s = cs_mmseg_size(in->image->width, in->image->height, job->short_side, 2048, &H, &W);
        if (s != CS_OK) return cli_status_error("segment", in->path, s);
        size_t n = (size_t)3 * H * W;
        if (!(own = malloc(sizeof(float) * n))) return CLI_RUNTIME;
        s = cs_image_preprocess_mmseg(in->image, job->short_side, 2048, own, n, &H, &W);
        if (s != CS_OK) {
            free(own);
            return cli_status_error("segment", in->path, s);
        }
        px = own;
    }
    size_t nl = (size_t)T * H * W;
    float *logits = malloc(sizeof(float) * nl);
    if (!logits) rc = CLI_RUNTIME;
    if (rc == CLI_OK) {
        cs_method_params mp = job->method;
        if (job->surgery_blocks >= 0) mp.n_blocks = job->surgery_blocks;
        if (job->slide_crop)
            s = cs_slide_logits(job->ctx, &mp, px, H, W, job->slide_crop, job->slide_stride,
                                job->text_features, T, logits, nl);
        else
            s = cs_method_logits(job->ctx, &mp, px, H, W, job->text_features, T, logits, nl);
        if (s != CS_OK) rc = cli_status_error("segment", in->path, s);
    }
    if (rc == CLI_OK && job->n_pamr_dil > 0) {
        float *ref = malloc(sizeof(float) * nl);
        s = ref ? cs_pamr(px, H, W, logits, T, H, W, job->pamr_dil, job->n_pamr_dil,
                          job->pamr_iters, ref, nl)
                : CS_ERR_OUT_OF_MEMORY;
        if (s != CS_OK) {
            free(ref);
            rc = cli_status_error("segment", "pamr", s);
        } else {
            free(logits);
            logits = ref;
        }
    }
    if (rc == CLI_OK && job->logits_path) {
        char path[4096];
        output_name(path, sizeof path, job->logits_path, st, ".safetensors");
        int64_t shape[3] = {T, H, W};
        cs_st_entry e = {"logits", CS_DT_F32, 3, shape, logits};
        cs_st_meta meta[1] = {{(char *)"method", (char *)job->method_name}};
        if (cli_make_parent(path) != 0) {
            fprintf(stderr, "clipsurgery segment: cannot create the folder of %s\n", path);
            rc = CLI_RUNTIME;
        } else if ((s = cs_st_write(path, &e, 1, meta, 1)) != CS_OK) {
            rc = cli_status_error("segment", path, s);
        }
    }
    if (rc == CLI_OK) {
        s = cs_logits_to_labels(logits, T, H, W, in->map_h, in->map_w, job->logit_scale,
                                job->bg_threshold, mask, (size_t)in->map_h * in->map_w);
        if (s != CS_OK) rc = cli_status_error("segment", "labels", s);
    }
    free(logits);
    free(own);
    return rc;
}

static int one_image(cli_job *job, const cli_image_step *st, void *user)
{
    const uint8_t *palette = user;
    const cli_input *in = st->in;
    int T = job->n_texts, rc = CLI_OK;
    float *sim = NULL;
    size_t n_sim = (size_t)st->n_tokens * T;
    size_t n_px = (size_t)in->map_h * in->map_w;
    uint8_t *mask = NULL;
    if (job->dense) {
        if (!(mask = malloc(n_px)))
            rc = CLI_RUNTIME;
        else
            rc = dense_labels(job, st, mask);
    } else if (job->empty_text) {
        rc = cli_job_similarity(job, st->features, st->n_tokens, 1, &sim);
    } else if (!(sim = malloc(sizeof(float) * n_sim))) {
        rc = CLI_RUNTIME;
    } else {
        cs_status s = cs_similarity(st->features, 1, st->n_tokens, job->text_features, T, job->dim,
                                    sim, n_sim);
        if (s != CS_OK) rc = cli_status_error("segment", "similarity", s);
    }
    if (!job->dense && rc == CLI_OK && !(mask = malloc(n_px))) rc = CLI_RUNTIME;
    if (!job->dense && rc == CLI_OK) {
        cs_status s = cs_segment(sim, st->grid_h, st->grid_w, T, in->map_h, in->map_w, mask, n_px);
        if (s != CS_OK) rc = cli_status_error("segment", "segmentation", s);
    }
    char path[4096];
    output_name(path, sizeof path, job->out_mask, st, ".png");
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
