/* clipsurgery eval segment|explain|multilabel: the paper's three evaluations under one protocol
 * (../shared/docs/EVAL.md; docs/eval.md). One model load, text features through the cache,
 * images decoded one at a time, metrics accumulated by the library (Evaluation metrics section
 * of clipsurgery.h). */
#include "cli_job.h"
#include "eval.h"

#include "eval/label_png.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char help_main[] =
    "usage: clipsurgery eval segment    MODEL ROOT [--split val] [--classes FILE] "
    "[--bg-threshold P]\n"
    "                                   [--reduce-zero-label] [--pred-dir DIR]\n"
    "       clipsurgery eval explain    MODEL ROOT [--split val] [--classes FILE]\n"
    "       clipsurgery eval multilabel MODEL LABELS.tsv --classes FILE [--baseline]\n"
    "common: [--size S] [--method M] [--vocab PATH] [--threads N] [--precision f32|bf16]\n"
    "        [--no-cache] [--strict]\n"
    "        [--out REPORT.json] [--csv PER_CLASS.csv] [--plot CHART.svg]\n"
    "ROOT is a VOC-layout folder: JPEGImages/<id>.jpg, SegmentationClass/<id>.png (palette or\n"
    "gray class indices, 255 = ignore), ImageSets/Segmentation/<split>.txt, classes.txt (line i =\n"
    "class i, comma-separated synonyms; line 0 'background' = background class).\n"
    "segment: mIoU of the argmax over the text classes of the upsampled patch cosines (mmseg\n"
    "  IoUMetric); --bg-threshold P labels background where the softmax(100 U) maximum is < P.\n"
    "explain: mIoU of the feature-surgery maps thresholded at tau = 0, 0.05, .., 0.95, the best\n"
    "  tau and the mean score contrast mSC.\n"
    "multilabel: AP per class and mAP of the CLS feature-surgery score (--baseline: the raw CLIP\n"
    "  softmax).\n"
    "--size defaults to the model's input resolution; --method: clip-surgery (default), raw,\n"
    "maskclip, sclip, clearclip, naclip, gem (each with its official preset).\n"
    "The report (JSON) goes to --out or stdout; a progress line goes to stderr; a corrupt JPEG is\n"
    "reported and skipped (--strict: fatal). Exit codes: 0 ok, 1 runtime error or bad dataset,\n"
    "2 usage error. See docs/eval.md.\n";

/* ---- arguments ------------------------------------------------------------------------------ */

static int parse_args(eval_run *r, int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL};
    int n_pos = 0;
    r->split = "val";
    r->method = "clip-surgery";
    r->size = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-' || a[1] == 0) {
            if (n_pos == 2) return cli_usage_error(r->cmd, "unexpected argument %s", a);
            pos[n_pos++] = a;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help_main, stdout);
            return CLI_OK;
        }
        int seg = r->tool == EVAL_SEGMENT, voc = r->tool != EVAL_MULTILABEL;
        if (!strcmp(a, "--no-cache")) r->no_cache = 1;
        else if (!strcmp(a, "--strict")) r->strict = 1;
        else if (!strcmp(a, "--reduce-zero-label") && seg) r->reduce_zero_label = 1;
        else if (!strcmp(a, "--baseline") && r->tool == EVAL_MULTILABEL) r->baseline = 1;
        else {
            static const char *const valued[] = {"--split", "--classes", "--bg-threshold",
                                                 "--pred-dir", "--size", "--method", "--vocab",
                                                 "--threads", "--out", "--csv", "--plot",
                                                 "--precision", NULL};
            int known = 0;
            for (int k = 0; valued[k]; k++) known |= !strcmp(a, valued[k]);
            if (!known) return cli_usage_error(r->cmd, "unknown option %s", a);
            if (!v) return cli_usage_error(r->cmd, "%s needs a value", a);
            i++;
            if (!strcmp(a, "--split") && voc) r->split = v;
            else if (!strcmp(a, "--classes")) r->classes_path = v;
            else if (!strcmp(a, "--bg-threshold") && seg) {
                char *end;
                r->bg_threshold = strtod(v, &end);
                if (*end || end == v || !(r->bg_threshold >= 0 && r->bg_threshold <= 1))
                    return cli_usage_error(r->cmd, "--bg-threshold %s: a probability in [0, 1]",
                                           v);
                r->have_bg_threshold = 1;
            } else if (!strcmp(a, "--pred-dir") && seg) r->pred_dir = v;
            else if (!strcmp(a, "--size")) {
                if (cli_parse_int(v, 1, 65536, &r->size) != 0)
                    return cli_usage_error(r->cmd, "--size %s: an integer in 1..65536", v);
            } else if (!strcmp(a, "--method")) {
                if (!eval_method_known(v))
                    return cli_usage_error(r->cmd, "unknown --method %s (this build has: %s)", v,
                                           eval_methods_list());
                r->method = v;
            } else if (!strcmp(a, "--vocab")) r->vocab = v;
            else if (!strcmp(a, "--threads")) {
                if (cli_parse_int(v, 0, 4096, &r->threads) != 0)
                    return cli_usage_error(r->cmd, "--threads %s: an integer in 0..4096", v);
            } else if (!strcmp(a, "--precision")) {
                if (cli_parse_precision(v, &r->precision_flags) != 0)
                    return cli_usage_error(r->cmd, "--precision %s: f32 or bf16", v);
            } else if (!strcmp(a, "--out")) r->out_path = v;
            else if (!strcmp(a, "--csv")) r->csv_path = v;
            else if (!strcmp(a, "--plot")) r->plot_path = v;
            else return cli_usage_error(r->cmd, "%s does not apply to %s", a, r->cmd);
        }
    }
    if (n_pos < 2)
        return cli_usage_error(r->cmd, r->tool == EVAL_MULTILABEL ? "needs MODEL and LABELS.tsv"
                                                                  : "needs MODEL and ROOT");
    r->model_path = pos[0];
    if (r->tool == EVAL_MULTILABEL) {
        r->labels_path = pos[1];
        if (!r->classes_path)
            return cli_usage_error(r->cmd, "--classes FILE is required (labels.tsv names classes "
                                   "by their first synonym)");
    } else {
        r->root = pos[1];
    }
    return -1;
}

/* ---- model and text features --------------------------------------------------------------- */

static int prepare_model(eval_run *r)
{
    r->model = cli_load_model(r->cmd, r->model_path, r->vocab, r->precision_flags);
    if (!r->model) return CLI_RUNTIME;
    if (!cs_model_tokenizer(r->model)) {
        fprintf(stderr, "clipsurgery %s: %s has no vocabulary beside it: give --vocab PATH\n",
                r->cmd, r->model_path);
        return CLI_RUNTIME;
    }
    if (r->size == 0) r->size = cs_model_image_size(r->model); /* EVAL.md 2: native size */
    if (cs_model_image_tokens(r->model, r->size, r->size) <= 0)
        return cli_usage_error(r->cmd, "--size %d is not a multiple of the patch size %d",
                               r->size, cs_model_patch_size(r->model));
    cs_context_params cp;
    cs_context_params_default(&cp);
    cp.n_threads = r->threads;
    cs_status s = cs_context_create(r->model, &cp, &r->ctx);
    if (s != CS_OK) return cli_status_error(r->cmd, "context", s);
    r->dim = cs_model_embed_dim(r->model);
    int Q = r->classes->n_queries;
    r->G = malloc(sizeof(float) * (size_t)Q * (size_t)r->dim);
    if (!r->G) return CLI_RUNTIME;
    return cli_cached_ensemble(r->cmd, r->ctx, r->model_path, r->vocab, r->precision_flags,
                               !r->no_cache,
                               (const char *const *)r->classes->queries, Q, r->dim, r->G);
}

/* ---- per-image helpers --------------------------------------------------------------------- */

static void progress(const eval_run *r, int done, int total, double t0)
{
    double dt = cli_now() - t0, rate = dt > 0 ? done / dt : 0;
    double left = rate > 0 ? (total - done) / rate : 0;
    fprintf(stderr, "clipsurgery %s: [%d/%d] %.2f images/s, %.0f s left\n", r->cmd, done, total,
            rate, left);
}

static int note_corrupt(eval_run *r, const char *what)
{
    char **c = realloc(r->corrupt, sizeof *c * (size_t)(r->n_corrupt + 1));
    if (!c) return CLI_RUNTIME;
    r->corrupt = c;
    if (!(c[r->n_corrupt] = strdup(what))) return CLI_RUNTIME;
    r->n_corrupt++;
    return CLI_OK;
}

/* Decodes and preprocesses image i. Returns CLI_OK, 3 for "skip (corrupt, counted)" or an exit
 * code. */
#define SKIP 3
static int load_image(eval_run *r, int i, cs_image **img, float **pixels)
{
    char *path = eval_image_path(r, i);
    if (!path) return CLI_RUNTIME;
    cs_decode_params dp;
    cs_decode_params_default(&dp);
    cs_status s = cs_image_decode_file(path, &dp, img);
    int rc = CLI_OK;
    if (s != CS_OK) {
        const char *line_file = r->tool == EVAL_MULTILABEL ? r->labels_path : r->split_path;
        int line = r->tool == EVAL_MULTILABEL ? r->labels->lines[i] : r->id_lines[i];
        fprintf(stderr, "clipsurgery %s: %s%s: %s: %s%s%s (%s:%d)\n", r->cmd,
                r->strict ? "" : "warning: ", path, cs_status_string(s),
                cs_last_error(), r->strict ? "" : "; skipped and counted", "", line_file, line);
        if (r->strict) rc = CLI_RUNTIME;
        else rc = note_corrupt(r, r->tool == EVAL_MULTILABEL ? path : r->ids[i]) == CLI_OK ? SKIP
                                                                                    : CLI_RUNTIME;
        free(path);
        return rc;
    }
    size_t n = (size_t)3 * r->size * r->size;
    *pixels = malloc(sizeof(float) * n);
    if (!*pixels) rc = CLI_RUNTIME;
    else if ((s = cs_image_preprocess(*img, r->size, *pixels, n)) != CS_OK)
        rc = cli_status_error(r->cmd, path, s);
    free(path);
    return rc;
}

/* The mask of id i at the JPEG's size, with the one-warning-per-file check of values that are
 * neither a class nor 255 (EVAL.md 5.1). */
static int load_mask(eval_run *r, int i, const cs_image *img, uint8_t **mask)
{
    char *path = eval_mask_path(r, i);
    if (!path) return CLI_RUNTIME;
    int w, h, rc = CLI_OK;
    cs_status s = cs_label_png_read(path, CS_DEFAULT_MAX_PIXELS, mask, &w, &h);
    if (s != CS_OK) {
        fprintf(stderr, "clipsurgery %s: %s: %s (id '%s', %s:%d)\n", r->cmd, path,
                cs_last_error(), r->ids[i], r->split_path, r->id_lines[i]);
        free(path);
        return CLI_RUNTIME;
    }
    if (w != img->width || h != img->height) {
        fprintf(stderr, "clipsurgery %s: %s: mask is %dx%d but its JPEG is %dx%d (id '%s', "
                "%s:%d)\n", r->cmd, path, w, h, img->width, img->height, r->ids[i],
                r->split_path, r->id_lines[i]);
        free(*mask);
        *mask = NULL;
        rc = CLI_RUNTIME;
    } else {
        int K = r->classes->n_classes, bad = -1;
        size_t nbad = 0;
        for (size_t p = 0; p < (size_t)w * h; p++) {
            int v = (*mask)[p];
            if (r->reduce_zero_label) v = v == 0 || v == 255 ? 255 : v - 1;
            if (v != 255 && v >= K) {
                if (bad < 0) bad = (*mask)[p];
                nbad++;
            }
        }
        if (nbad)
            fprintf(stderr, "clipsurgery %s: warning: %s: %zu pixels hold %d or another value that "
                    "is neither a class (0..%d) nor 255; counted the mmseg way (prediction area, "
                    "no label area)\n", r->cmd, path, nbad, bad, K - 1);
    }
    free(path);
    return rc;
}

/* Max over each class's queries (EVAL.md 1.5): sim [rows, Q] -> out [rows, K_t]. */
static void pool_synonyms(const eval_run *r, const float *sim, int rows, float *out)
{
    const int Q = r->classes->n_queries, Kt = r->n_text;
    for (int t = 0; t < rows; t++) {
        const float *s = sim + (size_t)t * Q;
        float *o = out + (size_t)t * Kt;
        for (int j = 0; j < Kt; j++) o[j] = -INFINITY;
        for (int q = 0; q < Q; q++) {
            int j = r->query_text[q];
            if (s[q] > o[j]) o[j] = s[q];
        }
    }
}

/* Pooled similarity of one image: label-set feature surgery (surgery != 0) or cosines. */
static int pooled_similarity(eval_run *r, const float *F, int nt, int surgery, float **out)
{
    const int Q = r->classes->n_queries;
    size_t n = (size_t)nt * Q;
    float *sim = malloc(sizeof(float) * n);
    float *pool = malloc(sizeof(float) * (size_t)nt * r->n_text);
    if (!sim || !pool) {
        free(sim);
        free(pool);
        return CLI_RUNTIME;
    }
    cs_status s = surgery ? cs_feature_surgery_label_set(F, 1, nt, r->G, Q, r->dim, sim, n)
                          : cs_similarity(F, 1, nt, r->G, Q, r->dim, sim, n);
    if (s != CS_OK) {
        free(sim);
        free(pool);
        return cli_status_error(r->cmd, surgery ? "feature surgery" : "similarity", s);
    }
    pool_synonyms(r, sim, nt, pool);
    free(sim);
    *out = pool;
    return CLI_OK;
}

/* VOC colour map (index = label; 255 is (224, 224, 192) by construction). */
static void voc_palette(uint8_t pal[768])
{
    for (int i = 0; i < 256; i++) {
        int r = 0, g = 0, b = 0, c = i;
        for (int j = 0; j < 8; j++) {
            r |= ((c >> 0) & 1) << (7 - j);
            g |= ((c >> 1) & 1) << (7 - j);
            b |= ((c >> 2) & 1) << (7 - j);
            c >>= 3;
        }
        pal[3 * i] = (uint8_t)r;
        pal[3 * i + 1] = (uint8_t)g;
        pal[3 * i + 2] = (uint8_t)b;
    }
}

/* ---- segment ------------------------------------------------------------------------------- */

/* Labels of one image (EVAL.md 2 steps 2-5) into pred [H, W]. */
static int segment_image(eval_run *r, const float *F, int nt, int g, int H, int W, uint8_t *pred)
{
    float *pool;
    int rc = pooled_similarity(r, F, nt, 0, &pool);
    if (rc != CLI_OK) return rc;
    const int Kt = r->n_text;
    size_t n = (size_t)H * W * Kt;
    float *U = malloc(sizeof(float) * n);
    if (!U) {
        free(pool);
        return CLI_RUNTIME;
    }
    cs_status s = cs_resize_bilinear(pool + Kt, g, g, Kt, U, H, W, n);
    free(pool);
    if (s != CS_OK) {
        free(U);
        return cli_status_error(r->cmd, "bilinear resize", s);
    }
    for (size_t p = 0; p < (size_t)H * W; p++) {
        const float *u = U + p * Kt;
        int best = 0;
        for (int j = 1; j < Kt; j++)
            if (u[j] > u[best]) best = j;
        int label = r->text_class[best];
        if (r->have_bg_threshold) {
            double sum = 0; /* max p = 1 / sum_j exp(100 (u_j - u_max)) */
            for (int j = 0; j < Kt; j++) sum += exp(100.0 * ((double)u[j] - (double)u[best]));
            if (1.0 / sum < r->bg_threshold) label = 0;
        }
        pred[p] = (uint8_t)label;
    }
    free(U);
    return CLI_OK;
}

static int run_segment(eval_run *r, cs_seg_metrics *m, int64_t *per_image)
{
    const int K = r->classes->n_classes;
    uint8_t pal[768];
    voc_palette(pal);
    double t0 = cli_now();
    int rc = CLI_OK;
    for (int i = 0; rc == CLI_OK && i < r->n_ids; i++) {
        cs_image *img = NULL;
        float *px = NULL, *F = NULL;
        uint8_t *mask = NULL, *pred = NULL;
        int nt, g;
        rc = load_image(r, i, &img, &px);
        if (rc == SKIP) {
            per_image[(size_t)i * 4 * K] = INT64_MIN;
            rc = CLI_OK;
            goto next;
        }
        if (rc == CLI_OK) rc = load_mask(r, i, img, &mask);
        if (rc == CLI_OK) rc = eval_image_features(r, px, &F, &nt, &g);
        if (rc == CLI_OK && !(pred = malloc((size_t)img->width * img->height))) rc = CLI_RUNTIME;
        if (rc == CLI_OK) rc = segment_image(r, F, nt, g, img->height, img->width, pred);
        if (rc == CLI_OK) {
            size_t n = (size_t)img->width * img->height;
            if (r->classes->has_background && !r->have_bg_threshold)
                for (size_t p = 0; p < n; p++)
                    if (mask[p] == 0) mask[p] = 255; /* EVAL.md 2 step 6 */
            cs_seg_metrics *one = NULL;
            cs_status s = cs_seg_metrics_create(K, 255, r->reduce_zero_label, &one);
            if (s == CS_OK) s = cs_seg_metrics_add(one, pred, mask, n);
            if (s == CS_OK) s = cs_seg_metrics_add(m, pred, mask, n);
            int64_t *a = per_image + (size_t)i * 4 * K;
            if (s == CS_OK) s = cs_seg_metrics_areas(one, a, a + K, a + 2 * K, a + 3 * K, (size_t)K);
            cs_seg_metrics_free(one);
            if (s != CS_OK) rc = cli_status_error(r->cmd, "metrics", s);
        }
        if (rc == CLI_OK && r->pred_dir) {
            size_t len = strlen(r->pred_dir) + strlen(r->ids[i]) + 8;
            char *path = malloc(len);
            if (!path) rc = CLI_RUNTIME;
            else {
                snprintf(path, len, "%s/%s.png", r->pred_dir, r->ids[i]);
                if (cli_make_parent(path) != 0) {
                    fprintf(stderr, "clipsurgery %s: cannot create %s\n", r->cmd, r->pred_dir);
                    rc = CLI_RUNTIME;
                } else {
                    cs_status s = cs_png_write(path, pred, img->width, img->height,
                                               (size_t)img->width, 1, pal, 256);
                    if (s != CS_OK) rc = cli_status_error(r->cmd, path, s);
                }
                free(path);
            }
        }
        if (rc == CLI_OK) r->n_done++;
    next:
        free(pred);
        free(mask);
        free(F);
        free(px);
        cs_image_free(img);
        if (rc == CLI_OK) progress(r, i + 1, r->n_ids, t0);
    }
    r->seconds = cli_now() - t0;
    return rc;
}

/* ---- explain ------------------------------------------------------------------------------- */

static int run_explain(eval_run *r, cs_explain_metrics *m)
{
    const int Kt = r->n_text;
    double t0 = cli_now();
    int rc = CLI_OK;
    for (int i = 0; rc == CLI_OK && i < r->n_ids; i++) {
        cs_image *img = NULL;
        float *px = NULL, *F = NULL, *pool = NULL, *maps = NULL;
        uint8_t *mask = NULL;
        int nt, g;
        rc = load_image(r, i, &img, &px);
        if (rc == SKIP) {
            rc = CLI_OK;
            goto next;
        }
        if (rc == CLI_OK) rc = load_mask(r, i, img, &mask);
        if (rc == CLI_OK) rc = eval_image_features(r, px, &F, &nt, &g);
        if (rc == CLI_OK) rc = pooled_similarity(r, F, nt, 1, &pool);
        size_t n = (size_t)img->width * img->height * Kt;
        if (rc == CLI_OK && !(maps = malloc(sizeof(float) * n))) rc = CLI_RUNTIME;
        if (rc == CLI_OK) {
            cs_status s = cs_similarity_maps(pool, g, g, Kt, img->height, img->width, maps, n);
            if (s == CS_OK)
                s = cs_explain_metrics_add(m, mask, (size_t)img->width * img->height, maps,
                                           (size_t)Kt, r->classes->has_background ? 1 : 0);
            if (s != CS_OK) rc = cli_status_error(r->cmd, r->ids[i], s);
        }
        if (rc == CLI_OK) r->n_done++;
    next:
        free(maps);
        free(pool);
        free(mask);
        free(F);
        free(px);
        cs_image_free(img);
        if (rc == CLI_OK) progress(r, i + 1, r->n_ids, t0);
    }
    r->seconds = cli_now() - t0;
    return rc;
}

/* ---- multilabel ---------------------------------------------------------------------------- */

/* scores: [n, K_t] (rows of skipped images stay NaN); kept[i] = 1 when image i was scored. */
static int run_multilabel(eval_run *r, double *scores, uint8_t *kept)
{
    const int Kt = r->n_text, n_img = r->labels->n;
    double t0 = cli_now();
    int rc = CLI_OK;
    for (int i = 0; rc == CLI_OK && i < n_img; i++) {
        cs_image *img = NULL;
        float *px = NULL, *F = NULL, *pool = NULL;
        int nt, g;
        double *row = scores + (size_t)i * Kt;
        rc = load_image(r, i, &img, &px);
        if (rc == SKIP) {
            rc = CLI_OK;
            goto next;
        }
        if (rc == CLI_OK) rc = eval_image_features(r, px, &F, &nt, &g);
        if (rc == CLI_OK && !r->baseline) {
            rc = pooled_similarity(r, F, nt, 1, &pool); /* EVAL.md 4: row 0 of S */
            for (int j = 0; rc == CLI_OK && j < Kt; j++) row[j] = pool[j];
        } else if (rc == CLI_OK) {
            /* softmax_c(100 max_q cos(F[0], G_q)) over the text classes */
            rc = pooled_similarity(r, F, 1, 0, &pool);
            if (rc == CLI_OK) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < Kt; j++) mx = pool[j] > mx ? pool[j] : mx;
                for (int j = 0; j < Kt; j++) sum += row[j] = exp(100.0 * (pool[j] - mx));
                for (int j = 0; j < Kt; j++) row[j] /= sum;
            }
        }
        if (rc == CLI_OK) {
            kept[i] = 1;
            r->n_done++;
        }
    next:
        free(pool);
        free(F);
        free(px);
        cs_image_free(img);
        if (rc == CLI_OK) progress(r, i + 1, n_img, t0);
    }
    r->seconds = cli_now() - t0;
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(help_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    eval_run r;
    memset(&r, 0, sizeof r);
    if (!strcmp(argv[1], "segment")) r.tool = EVAL_SEGMENT, r.cmd = "eval segment";
    else if (!strcmp(argv[1], "explain")) r.tool = EVAL_EXPLAIN, r.cmd = "eval explain";
    else if (!strcmp(argv[1], "multilabel")) r.tool = EVAL_MULTILABEL, r.cmd = "eval multilabel";
    else return cli_usage_error("eval", "unknown evaluation '%s' (segment, explain, multilabel)",
                                argv[1]);
    int rc = parse_args(&r, argc, argv);
    if (rc >= 0) return rc;
    char *classes_default = NULL;
    if (!r.classes_path) {
        size_t n = strlen(r.root) + 16;
        classes_default = malloc(n);
        if (!classes_default) return CLI_RUNTIME;
        snprintf(classes_default, n, "%s/classes.txt", r.root);
        r.classes_path = classes_default;
    }
    rc = eval_dataset_open(&r);
    if (rc == CLI_OK) rc = prepare_model(&r);
    const int K = r.classes ? r.classes->n_classes : 0;
    if (rc == CLI_OK && r.tool == EVAL_SEGMENT) {
        cs_seg_metrics *m = NULL;
        int64_t *per = calloc((size_t)r.n_ids * 4 * K, sizeof(int64_t));
        cs_status s = cs_seg_metrics_create(K, 255, r.reduce_zero_label, &m);
        if (s != CS_OK || !per) rc = cli_status_error(r.cmd, "metrics", s);
        if (rc == CLI_OK) rc = run_segment(&r, m, per);
        if (rc == CLI_OK) rc = eval_report_segment(&r, m, per);
        cs_seg_metrics_free(m);
        free(per);
    } else if (rc == CLI_OK && r.tool == EVAL_EXPLAIN) {
        cs_explain_metrics *m = NULL;
        cs_status s = cs_explain_metrics_create(K, 255, r.classes->has_background ? 0 : -1, &m);
        if (s != CS_OK) rc = cli_status_error(r.cmd, "metrics", s);
        if (rc == CLI_OK) rc = run_explain(&r, m);
        if (rc == CLI_OK) rc = eval_report_explain(&r, m);
        cs_explain_metrics_free(m);
    } else if (rc == CLI_OK) {
        size_t n = (size_t)r.labels->n * r.n_text;
        double *scores = malloc(sizeof(double) * n);
        uint8_t *kept = calloc((size_t)r.labels->n, 1);
        if (!scores || !kept) rc = CLI_RUNTIME;
        for (size_t k = 0; scores && k < n; k++) scores[k] = NAN;
        if (rc == CLI_OK) rc = run_multilabel(&r, scores, kept);
        if (rc == CLI_OK) rc = eval_report_multilabel(&r, scores, kept);
        free(scores);
        free(kept);
    }
    free(r.G);
    cs_context_free(r.ctx);
    cs_model_free(r.model);
    eval_dataset_close(&r);
    free(classes_default);
    return rc;
}
