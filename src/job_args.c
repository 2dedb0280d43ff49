/* Arguments of heatmap, points, segment and labels: options, the split of positionals into
 * images and texts, and the --batch list. */
#include "cli_job.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_regular_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int parse_map_size(const char *s, int *h, int *w)
{
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || (*end != 'x' && *end != 'X')) return -1;
    const char *q = end + 1;
    long b = strtol(q, &end, 10);
    if (end == q || *end || a < 1 || b < 1 || a > 65535 || b > 65535) return -1;
    /* one float per pixel and text: as many pixels as an image may have (the decoder's cap) */
    if ((unsigned long long)a * (unsigned long long)b > CS_DEFAULT_MAX_PIXELS) return -1;
    *h = (int)a;
    *w = (int)b;
    return 0;
}

/* --slide CROP:STRIDE */
static int parse_slide(const char *s, int *crop, int *stride)
{
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || *end != ':') return -1;
    const char *q = end + 1;
    long b = strtol(q, &end, 10);
    if (end == q || *end || a < 1 || a > 65536 || b < 1 || b > a) return -1;
    *crop = (int)a;
    *stride = (int)b;
    return 0;
}

/* --pamr ITERS:D1,D2,... */
static int parse_pamr(const char *s, int *iters, int *dil, int *n_dil)
{
    char *end;
    long it = strtol(s, &end, 10);
    if (end == s || *end != ':' || it < 0 || it > 1000) return -1;
    int n = 0;
    const char *q = end + 1;
    for (;;) {
        long d = strtol(q, &end, 10);
        if (end == q || d < 1 || d > 65536 || n == 16) return -1;
        dil[n++] = (int)d;
        if (*end == '\0') break;
        if (*end != ',') return -1;
        q = end + 1;
    }
    *iters = (int)it;
    *n_dil = n;
    return 0;
}

static int parse_float(const char *s, float lo, float hi, float *out)
{
    char *end;
    float v = strtof(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) return -1;
    *out = v;
    return 0;
}

int cli_job_parse(cli_job *job, int kind, int argc, char **argv, const char *help)
{
    const char *cmd = job->cmd;
    job->size = 224;
    job->threshold = 0.8f;
    job->surgery_blocks = -1;
    job->method_name = "clip-surgery";
    job->short_side = 336;
    job->logit_scale = 40.0f;
    job->top_k = 3;
    cs_threshold_params_default(&job->box_threshold);
    job->box_threshold.kind = CS_THRESHOLD_OTSU;
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int *after_dd = calloc((size_t)argc + 1, sizeof *after_dd);
    if (!pos || !after_dd) {
        free(pos);
        free(after_dd);
        fprintf(stderr, "clipsurgery %s: out of memory\n", cmd);
        return CLI_RUNTIME;
    }
    int n_pos = 0, dd = 0, rc = -1;
    for (int i = 1; i < argc && rc < 0; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (dd || a[0] != '-' || a[1] == '\0') {
            after_dd[n_pos] = dd;
            pos[n_pos++] = argv[i];
            continue;
        }
        static const char *const valued[] = {
            "--vocab",   "--batch",          "--out-dir",  "--maps",      "--out", "--size",
            "--threads", "--surgery-blocks", "--map-size", "--threshold", "--method",
            "--preprocess", "--short-side", "--slide", "--pamr", "--logit-scale",
            "--bg-threshold", "--logits", "--masks", "--min-area", "--top", "--precision", NULL};
        int known = 0;
        for (int k = 0; valued[k]; k++) known |= strcmp(a, valued[k]) == 0;
        if (strcmp(a, "--") == 0)
            dd = 1;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            rc = CLI_OK;
        } else if (strcmp(a, "--empty-text") == 0 &&
                   (kind & (JOB_HEATMAP | JOB_SEGMENT | JOB_LABELS)))
            job->empty_text = 1;
        else if (strcmp(a, "--no-cache") == 0)
            job->no_cache = 1;
        else if (!known)
            rc = cli_usage_error(cmd, "unknown option %s", a);
        else if (!next)
            rc = cli_usage_error(cmd, "%s needs a value", a);
        else if (strcmp(a, "--vocab") == 0)
            job->vocab = argv[++i];
        else if (strcmp(a, "--batch") == 0)
            job->batch_list = argv[++i];
        else if (strcmp(a, "--out-dir") == 0 && (kind & (JOB_HEATMAP | JOB_EXPLAIN)))
            job->out_dir = argv[++i];
        else if (strcmp(a, "--maps") == 0 && (kind & (JOB_HEATMAP | JOB_EXPLAIN)))
            job->maps_path = argv[++i];
        else if (strcmp(a, "--masks") == 0 && (kind & JOB_HEATMAP))
            job->masks_dir = argv[++i];
        else if (strcmp(a, "--threshold") == 0 && (kind & (JOB_HEATMAP | JOB_BOXES))) {
            if (cli_parse_threshold(argv[++i], &job->box_threshold))
                rc = cli_usage_error(cmd, "bad --threshold %s (fixed:V, quantile:Q with Q in "
                                     "0..1, or otsu)", argv[i]);
            job->have_box_threshold = 1;
        } else if (strcmp(a, "--min-area") == 0 && (kind & JOB_BOXES)) {
            char *end;
            job->min_area = strtoll(argv[++i], &end, 10);
            if (end == argv[i] || *end || job->min_area < 0)
                rc = cli_usage_error(cmd, "bad --min-area %s (pixels, >= 0)", argv[i]);
        } else if (strcmp(a, "--top") == 0 && (kind & JOB_EXPLAIN)) {
            if (cli_parse_int(argv[++i], 0, 77, &job->top_k))
                rc = cli_usage_error(cmd, "bad --top %s (0..77)", argv[i]);
        }
        else if (strcmp(a, "--out") == 0 && (kind & JOB_SEGMENT))
            job->out_mask = argv[++i];
        else if (strcmp(a, "--size") == 0) {
            if (cli_parse_int(argv[++i], 1, 8192, &job->size))
                rc = cli_usage_error(cmd, "bad --size %s", argv[i]);
        } else if (strcmp(a, "--threads") == 0) {
            if (cli_parse_int(argv[++i], 0, 1024, &job->threads))
                rc = cli_usage_error(cmd, "bad --threads %s", argv[i]);
        } else if (strcmp(a, "--precision") == 0) {
            if (cli_parse_precision(argv[++i], &job->precision_flags))
                rc = cli_usage_error(cmd, "bad --precision %s (f32 or bf16)", argv[i]);
        } else if (strcmp(a, "--surgery-blocks") == 0) {
            if (cli_parse_int(argv[++i], 0, 1024, &job->surgery_blocks))
                rc = cli_usage_error(cmd, "bad --surgery-blocks %s", argv[i]);
        } else if (strcmp(a, "--map-size") == 0) {
            if (parse_map_size(argv[++i], &job->map_h, &job->map_w))
                rc = cli_usage_error(cmd, "bad --map-size %s (HxW, e.g. 375x500; at most %llu pixels)",
                                     argv[i], (unsigned long long)CS_DEFAULT_MAX_PIXELS);
        } else if (strcmp(a, "--threshold") == 0 && (kind & JOB_POINTS)) {
            char *end;
            job->threshold = strtof(argv[++i], &end);
            if (*end || !(job->threshold >= 0.0f && job->threshold <= 1.0f))
                rc = cli_usage_error(cmd, "bad --threshold %s (0..1)", argv[i]);
        } else if (strcmp(a, "--method") == 0) {
            cs_method k;
            job->method_name = argv[++i];
            if (cs_method_from_name(job->method_name, &k) != CS_OK)
                rc = cli_usage_error(cmd,
                                     "bad --method %s (clip-surgery, raw, maskclip, sclip, "
                                     "clearclip, naclip, gem)", argv[i]);
        } else if (!(kind & JOB_SEGMENT)) {
            rc = cli_usage_error(cmd, "unknown option %s", a);
        } else if (strcmp(a, "--preprocess") == 0) {
            job->dense = 1;
            if (strcmp(argv[++i], "mmseg") == 0)
                job->mmseg = 1;
            else if (strcmp(argv[i], "squash") == 0)
                job->mmseg = 0;
            else
                rc = cli_usage_error(cmd, "bad --preprocess %s (squash or mmseg)", argv[i]);
        } else if (strcmp(a, "--short-side") == 0) {
            if (cli_parse_int(argv[++i], 1, 65536, &job->short_side))
                rc = cli_usage_error(cmd, "bad --short-side %s", argv[i]);
        } else if (strcmp(a, "--slide") == 0) {
            job->dense = 1;
            if (parse_slide(argv[++i], &job->slide_crop, &job->slide_stride))
                rc = cli_usage_error(cmd, "bad --slide %s (CROP:STRIDE, 1 <= STRIDE <= CROP)",
                                     argv[i]);
        } else if (strcmp(a, "--pamr") == 0) {
            job->dense = 1;
            if (parse_pamr(argv[++i], &job->pamr_iters, job->pamr_dil, &job->n_pamr_dil))
                rc = cli_usage_error(cmd, "bad --pamr %s (ITERS:D1,D2,..., e.g. 10:8,16)",
                                     argv[i]);
        } else if (strcmp(a, "--logit-scale") == 0) {
            job->dense = 1;
            if (parse_float(argv[++i], 0.0f, 1e6f, &job->logit_scale))
                rc = cli_usage_error(cmd, "bad --logit-scale %s", argv[i]);
        } else if (strcmp(a, "--bg-threshold") == 0) {
            job->dense = 1;
            if (parse_float(argv[++i], 0.0f, 1.0f, &job->bg_threshold))
                rc = cli_usage_error(cmd, "bad --bg-threshold %s (0..1)", argv[i]);
        } else if (strcmp(a, "--logits") == 0) {
            job->dense = 1;
            job->logits_path = argv[++i];
        } else
            rc = cli_usage_error(cmd, "unknown option %s", a);
    }
    if (rc < 0) {
        cs_method k = CS_METHOD_CLIP_SURGERY;
        cs_method_from_name(job->method_name, &k);
        cs_method_params_default(&job->method, k);
        job->method_surgery = k == CS_METHOD_CLIP_SURGERY || k == CS_METHOD_RAW;
        job->no_features = job->dense;
    }
    if (rc < 0 && n_pos < 1) rc = cli_usage_error(cmd, "MODEL is required");
    if (rc < 0) {
        job->model_path = pos[0];
        job->image_args = calloc((size_t)n_pos + 1, sizeof *job->image_args);
        job->texts = calloc((size_t)n_pos + 1, sizeof *job->texts);
        if (!job->image_args || !job->texts) rc = CLI_RUNTIME;
        int k = 1;
        /* images: the first positional (unless --batch), then existing files until "--" */
        if (rc < 0 && !job->batch_list && k < n_pos && !after_dd[k])
            job->image_args[job->n_image_args++] = pos[k++];
        while (rc < 0 && k < n_pos && !after_dd[k] && is_regular_file(pos[k]))
            job->image_args[job->n_image_args++] = pos[k++];
        while (rc < 0 && k < n_pos) {
            const char *t = pos[k];
            size_t len = strlen(t);
            int looks_like_path =
                strchr(t, '/') != NULL ||
                (len > 4 && (strcmp(t + len - 4, ".png") == 0 || strcmp(t + len - 4, ".jpg") == 0 ||
                             strcmp(t + len - 5, ".jpeg") == 0));
            if (!after_dd[k] && looks_like_path)
                fprintf(stderr,
                        "clipsurgery %s: warning: '%s' is not a file, so it is taken as a text\n",
                        cmd, t);
            job->texts[job->n_texts++] = pos[k++];
        }
        if (rc < 0 && job->n_image_args == 0 && !job->batch_list)
            rc = cli_usage_error(cmd, "IMAGE is required");
        if (rc < 0 && job->n_texts == 0) rc = cli_usage_error(cmd, "at least one TEXT is required");
        if (rc < 0 && (kind & JOB_HEATMAP) && job->have_box_threshold && !job->masks_dir)
            rc = cli_usage_error(cmd, "--threshold needs --masks DIR");
        if (rc < 0 && (kind & JOB_SEGMENT) && !job->out_mask)
            rc = cli_usage_error(cmd, "--out MASK.png is required");
        if (rc < 0 && (kind & JOB_SEGMENT) && job->n_texts > 255)
            rc = cli_usage_error(cmd, "at most 255 texts");
        if (rc < 0 && job->out_mask && job->logits_path && strcmp(job->out_mask, job->logits_path) == 0)
            rc = cli_usage_error(cmd, "--out and --logits name the same file %s", job->out_mask);
    }
    free(pos);
    free(after_dd);
    return rc;
}

int cli_parse_threshold(const char *s, cs_threshold_params *p)
{
    cs_threshold_params_default(p);
    if (strcmp(s, "otsu") == 0) {
        p->kind = CS_THRESHOLD_OTSU;
        return 0;
    }
    const char *v;
    if (strncmp(s, "fixed:", 6) == 0) {
        p->kind = CS_THRESHOLD_FIXED;
        v = s + 6;
    } else if (strncmp(s, "quantile:", 9) == 0) {
        p->kind = CS_THRESHOLD_QUANTILE;
        v = s + 9;
    } else
        return -1;
    char *end;
    p->value = strtod(v, &end);
    if (end == v || *end || !isfinite(p->value)) return -1;
    if (p->kind == CS_THRESHOLD_QUANTILE && !(p->value >= 0.0 && p->value <= 1.0)) return -1;
    return 0;
}

/* Reads --batch LIST: one path a line (blank or whitespace-only lines and lines starting with #
 * skipped; CRLF line ends accepted). */
int cli_job_read_batch_list(cli_job *job)
{
    FILE *f = fopen(job->batch_list, "r");
    if (!f) {
        fprintf(stderr, "clipsurgery %s: cannot open --batch list %s\n", job->cmd, job->batch_list);
        return CLI_RUNTIME;
    }
    char *line = NULL;
    size_t line_cap = 0;
    int cap = job->n_image_args + 16;
    char **list = malloc(sizeof *list * (size_t)cap);
    int n = 0;
    for (int i = 0; list && i < job->n_image_args; i++) list[n++] = strdup(job->image_args[i]);
    while (list && getline(&line, &line_cap, f) >= 0) {
        size_t len = strcspn(line, "\r\n");
        line[len] = '\0';
        /* blank lines (spaces, tabs, CRLF) and comments are skipped */
        if (strspn(line, " \t") == len || line[0] == '#') continue;
        if (n == cap) {
            cap *= 2;
            char **nl = realloc(list, sizeof *list * (size_t)cap);
            if (!nl) break;
            list = nl;
        }
        list[n++] = strdup(line);
    }
    free(line);
    fclose(f);
    if (!list) return CLI_RUNTIME;
    free(job->image_args);
    job->image_args = list;
    job->n_image_args = n;
    job->batch_list = NULL; /* the list now owns its strings: freed in cli_job_free */
    return CLI_OK;
}
