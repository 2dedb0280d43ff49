/* clipsurgery boxes: masks and boxes from similarity maps (EXPLAIN.md 2), from a model and
 * images or from a saved maps tensor. */
#include "cli_job.h"

#include "io/maps_file.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: clipsurgery boxes MODEL IMAGE... [options] [--] TEXT...\n"
    "       clipsurgery boxes --from-maps FILE [--threshold KIND] [--min-area A]\n"
    "Boxes of each TEXT's similarity map (as heatmap computes it, at the image's size or\n"
    "--map-size): mask = map >= threshold, 8-connected components, sorted by area (largest\n"
    "first), then top, then left. JSON per text: \"threshold\", \"mask_pixels\", \"components\"\n"
    "[{\"box_xywh\": [x, y, w, h], \"area\", \"mean_map\", \"peak_map\", \"score\" (= mean_map),\n"
    "\"box_xyxy\": [x0, y0, x1, y1] (inclusive)}] and \"box_prompts\" (the box_xyxy list, SAM's\n"
    "box-prompt form). A constant map gives no mask and no box. One array per image (one JSON\n"
    "object {\"image\", \"results\"} per line with several images).\n"
    "--from-maps FILE: a \"maps\" tensor [B, H, W, T] or [H, W, T] (as heatmap --maps or\n"
    "explain-text --maps write it); one JSON object per line for every (b, t), with \"index\"\n"
    "(b, for [B, H, W, T]), \"text_index\" and \"text\" (when the file names its texts).\n"
    "options:\n"
    "  --threshold KIND    fixed:V, quantile:Q (0..1, numpy's linear quantile) or otsu\n"
    "                      (256 bins over the map's range; default)\n"
    "  --min-area A        drop components under A pixels (default 0)\n"
    "  --vocab PATH, --size S, --map-size HxW, --empty-text, --batch LIST, --threads N, --precision f32|bf16,\n"
    "  --surgery-blocks K, --no-cache (as heatmap)\n";

/* Boxes of one map; prints the fields of one result object (without braces). */
static int print_boxes(const char *cmd, const float *map, int h, int w, size_t stride,
                       const cs_threshold_params *thr, long long min_area)
{
    cs_component small[256], *comp = small;
    size_t nc = 0, px = 0;
    double tau = 0.0;
    cs_status s = cs_map_boxes(map, h, w, stride, thr, min_area, comp, 256, &nc, &tau, &px);
    if (s == CS_ERR_BUFFER_TOO_SMALL) {
        comp = malloc(nc * sizeof *comp);
        if (!comp) return CLI_RUNTIME;
        s = cs_map_boxes(map, h, w, stride, thr, min_area, comp, nc, &nc, &tau, &px);
    }
    if (s != CS_OK) {
        if (comp != small) free(comp);
        return cli_status_error(cmd, "boxes", s);
    }
    printf("\"threshold\": ");
    cli_json_number9(stdout, tau);
    printf(", \"mask_pixels\": %zu, \"n_components\": %zu, \"components\": [", px, nc);
    for (size_t k = 0; k < nc; k++) {
        const cs_component *c = &comp[k];
        printf("%s{\"box_xywh\": [%d, %d, %d, %d], \"area\": %lld, \"mean_map\": ", k ? ", " : "",
               c->x, c->y, c->width, c->height, (long long)c->area);
        cli_json_number9(stdout, c->mean_map);
        printf(", \"peak_map\": ");
        cli_json_number9(stdout, c->peak_map);
        printf(", \"score\": ");
        cli_json_number9(stdout, c->mean_map);
        printf(", \"box_xyxy\": [%d, %d, %d, %d]}", c->x, c->y, c->x + c->width - 1,
               c->y + c->height - 1);
    }
    printf("], \"box_prompts\": [");
    for (size_t k = 0; k < nc; k++)
        printf("%s[%d, %d, %d, %d]", k ? ", " : "", comp[k].x, comp[k].y,
               comp[k].x + comp[k].width - 1, comp[k].y + comp[k].height - 1);
    printf("]");
    if (comp != small) free(comp);
    return CLI_OK;
}

static int one_image(cli_job *job, const cli_image_step *st, void *user)
{
    (void)user;
    const cli_input *in = st->in;
    int T = job->n_texts;
    float *sim = NULL, *maps = NULL;
    int rc = cli_job_similarity(job, st->features, st->n_tokens, 0, &sim);
    size_t n_maps = (size_t)in->map_h * in->map_w * T;
    if (rc == CLI_OK && !(maps = malloc(sizeof(float) * n_maps))) rc = CLI_RUNTIME;
    if (rc == CLI_OK) {
        cs_status s = cs_similarity_maps(sim, st->grid_h, st->grid_w, T, in->map_h, in->map_w,
                                         maps, n_maps);
        if (s != CS_OK) rc = cli_status_error("boxes", "similarity maps", s);
    }
    if (rc == CLI_OK) {
        cli_results_begin(st);
        for (int t = 0; t < T && rc == CLI_OK; t++) {
            printf("%s{\"text\": ", t ? ", " : "");
            cli_json_string(stdout, job->texts[t]);
            printf(", \"map_size\": [%d, %d], ", in->map_h, in->map_w);
            rc = print_boxes("boxes", maps + t, in->map_h, in->map_w, (size_t)T,
                             &job->box_threshold, job->min_area);
            printf("}");
        }
        cli_results_end(st);
    }
    free(sim);
    free(maps);
    return rc;
}

static int from_maps(int argc, char **argv)
{
    const char *path = NULL;
    cs_threshold_params thr;
    cs_threshold_params_default(&thr);
    thr.kind = CS_THRESHOLD_OTSU;
    long long min_area = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            return CLI_OK;
        }
        if (strcmp(a, "--from-maps") != 0 && strcmp(a, "--threshold") != 0 &&
            strcmp(a, "--min-area") != 0)
            return cli_usage_error("boxes", "with --from-maps: unexpected argument %s", a);
        if (!next) return cli_usage_error("boxes", "%s needs a value", a);
        i++;
        if (strcmp(a, "--from-maps") == 0)
            path = next;
        else if (strcmp(a, "--threshold") == 0) {
            if (cli_parse_threshold(next, &thr))
                return cli_usage_error("boxes", "bad --threshold %s (fixed:V, quantile:Q with Q "
                                       "in 0..1, or otsu)", next);
        } else {
            char *end;
            min_area = strtoll(next, &end, 10);
            if (end == next || *end || min_area < 0)
                return cli_usage_error("boxes", "bad --min-area %s (pixels, >= 0)", next);
        }
    }
    cs_maps_file m;
    cs_status s = cs_maps_read_file(path, &m);
    if (s != CS_OK) return cli_status_error("boxes", path, s);
    const size_t per = (size_t)m.height * m.width * m.n_maps;
    /* every value checked before anything is printed (no half-written JSON on a bad map) */
    for (size_t i = 0; i < per * (size_t)m.batch; i++)
        if (!isfinite(m.values[i])) {
            size_t t = i % (size_t)m.n_maps, px = i / (size_t)m.n_maps;
            size_t x = px % (size_t)m.width, y = (px / (size_t)m.width) % (size_t)m.height;
            size_t b = px / ((size_t)m.width * (size_t)m.height);
            fprintf(stderr, "clipsurgery boxes: %s: maps[%zu, %zu, %zu, %zu] is %s\n", path, b, y, x,
                    t, isnan(m.values[i]) ? "NaN" : "infinite");
            cs_maps_file_free(&m);
            return CLI_RUNTIME;
        }
    int rc = CLI_OK;
    for (int b = 0; b < m.batch && rc == CLI_OK; b++)
        for (int t = 0; t < m.n_maps && rc == CLI_OK; t++) {
            printf("{");
            if (m.has_batch) printf("\"index\": %d, ", b);
            printf("\"text_index\": %d, ", t);
            if (m.texts) {
                printf("\"text\": ");
                cli_json_string(stdout, m.texts[t]);
                printf(", ");
            }
            printf("\"map_size\": [%d, %d], ", m.height, m.width);
            rc = print_boxes("boxes", m.values + (size_t)b * per + (size_t)t, m.height, m.width,
                             (size_t)m.n_maps, &thr, min_area);
            printf("}\n");
        }
    cs_maps_file_free(&m);
    return rc;
}

int cmd_boxes(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--from-maps") == 0) return from_maps(argc, argv);
    cli_job job;
    memset(&job, 0, sizeof job);
    job.cmd = "boxes";
    int rc = cli_job_parse(&job, JOB_BOXES, argc, argv, help);
    if (rc < 0) rc = cli_job_run(&job, one_image, NULL);
    cli_job_free(&job);
    return rc;
}
