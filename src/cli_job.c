/* Shared pipeline of heatmap, points, segment and labels. */
#include "cli_job.h"

#include "safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress(const cli_job *job, int done, int total, double t0)
{
    if (total <= 1) return;
    double dt = cli_now() - t0;
    fprintf(stderr, "clipsurgery %s: [%d/%d] %.2f images/s\n", job->cmd, done, total,
            dt > 0 ? done / dt : 0.0);
}

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
    *h = (int)a;
    *w = (int)b;
    return 0;
}

int cli_job_parse(cli_job *job, int kind, int argc, char **argv, const char *help)
{
    const char *cmd = job->cmd;
    job->size = 224;
    job->threshold = 0.8f;
    job->surgery_blocks = -1;
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
            "--threads", "--surgery-blocks", "--map-size", "--threshold", NULL};
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
        else if (strcmp(a, "--out-dir") == 0 && (kind & JOB_HEATMAP))
            job->out_dir = argv[++i];
        else if (strcmp(a, "--maps") == 0 && (kind & JOB_HEATMAP))
            job->maps_path = argv[++i];
        else if (strcmp(a, "--out") == 0 && (kind & JOB_SEGMENT))
            job->out_mask = argv[++i];
        else if (strcmp(a, "--size") == 0) {
            if (cli_parse_int(argv[++i], 1, 8192, &job->size))
                rc = cli_usage_error(cmd, "bad --size %s", argv[i]);
        } else if (strcmp(a, "--threads") == 0) {
            if (cli_parse_int(argv[++i], 0, 1024, &job->threads))
                rc = cli_usage_error(cmd, "bad --threads %s", argv[i]);
        } else if (strcmp(a, "--surgery-blocks") == 0) {
            if (cli_parse_int(argv[++i], 0, 1024, &job->surgery_blocks))
                rc = cli_usage_error(cmd, "bad --surgery-blocks %s", argv[i]);
        } else if (strcmp(a, "--map-size") == 0) {
            if (parse_map_size(argv[++i], &job->map_h, &job->map_w))
                rc = cli_usage_error(cmd, "bad --map-size %s (HxW, e.g. 375x500)", argv[i]);
        } else if (strcmp(a, "--threshold") == 0 && (kind & JOB_POINTS)) {
            char *end;
            job->threshold = strtof(argv[++i], &end);
            if (*end || !(job->threshold >= 0.0f && job->threshold <= 1.0f))
                rc = cli_usage_error(cmd, "bad --threshold %s (0..1)", argv[i]);
        } else
            rc = cli_usage_error(cmd, "unknown option %s", a);
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
        if (rc < 0 && (kind & JOB_SEGMENT) && !job->out_mask)
            rc = cli_usage_error(cmd, "--out MASK.png is required");
        if (rc < 0 && (kind & JOB_SEGMENT) && job->n_texts > 255)
            rc = cli_usage_error(cmd, "at most 255 texts");
    }
    free(pos);
    free(after_dd);
    return rc;
}

/* Reads --batch LIST: one path a line (blank or whitespace-only lines and lines starting with #
 * skipped; CRLF line ends accepted). */
static int read_batch_list(cli_job *job)
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

int cli_job_prepare(cli_job *job)
{
    if (job->batch_list) {
        int rc = read_batch_list(job);
        if (rc != CLI_OK) return rc;
        job->owns_image_args = 1;
        if (job->n_image_args == 0)
            return cli_usage_error(job->cmd, "the --batch list names no image");
    }
    job->model = cli_load_model(job->cmd, job->model_path, job->vocab);
    if (!job->model) return CLI_RUNTIME;
    if (!cs_model_tokenizer(job->model)) {
        fprintf(stderr,
                "clipsurgery %s: %s has no vocabulary beside it: give --vocab PATH "
                "(bpe_simple_vocab_16e6.txt.gz, vocab.json or a folder)\n",
                job->cmd, job->model_path);
        return CLI_RUNTIME;
    }
    cs_context_params cp;
    cs_context_params_default(&cp);
    cp.n_threads = job->threads;
    cs_status s = cs_context_create(job->model, &cp, &job->ctx);
    if (s != CS_OK) return cli_status_error(job->cmd, "context", s);
    job->dim = cs_model_embed_dim(job->model);
    job->text_features = malloc(sizeof(float) * (size_t)job->n_texts * (size_t)job->dim);
    job->redundant = malloc(sizeof(float) * (size_t)job->dim);
    if (!job->text_features || !job->redundant) {
        fprintf(stderr, "clipsurgery %s: out of memory\n", job->cmd);
        return CLI_RUNTIME;
    }
    int rc = cli_cached_ensemble(job->cmd, job->ctx, job->model_path, job->vocab, !job->no_cache,
                                 (const char *const *)job->texts, job->n_texts, job->dim,
                                 job->text_features);
    if (rc != CLI_OK) return rc;
    const char *empty[1] = {""};
    return cli_cached_ensemble(job->cmd, job->ctx, job->model_path, job->vocab, !job->no_cache,
                               empty, 1, job->dim, job->redundant);
}

static char *stem_of(const char *path, int index)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    char *s = malloc(n + 16);
    if (!s) return NULL;
    memcpy(s, base, n);
    s[n] = '\0';
    if (index >= 0) snprintf(s + n, 16, "_%d", index);
    return s;
}

static int push(cli_input **list, int *n, int *cap, cli_input in)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        cli_input *nl = realloc(*list, sizeof *nl * (size_t)nc);
        if (!nl) return -1;
        *list = nl;
        *cap = nc;
    }
    (*list)[(*n)++] = in;
    return 0;
}

/* Makes *stem unique within the run (appends _2, _3, ... on repeats) and records it. */
static int unique_stem(cli_job *job, char **stem)
{
    char *s = *stem;
    for (int k = 2;; k++) {
        int seen = 0;
        for (int i = 0; i < job->n_used_stems && !seen; i++)
            seen = strcmp(job->used_stems[i], s) == 0;
        if (!seen) break;
        size_t len = strlen(*stem) + 16;
        char *t = malloc(len);
        if (!t) return -1;
        snprintf(t, len, "%s_%d", *stem, k);
        if (s != *stem) free(s);
        s = t;
    }
    if (s != *stem) {
        free(*stem);
        *stem = s;
    }
    char **u = realloc(job->used_stems, sizeof *u * (size_t)(job->n_used_stems + 1));
    if (!u) return -1;
    job->used_stems = u;
    if (!(u[job->n_used_stems] = strdup(s))) return -1;
    job->n_used_stems++;
    return 0;
}

static int load_pixel_values(cli_job *job, const char *path, cli_input **list, int *n, int *cap)
{
    float *all = NULL;
    int b, h, w;
    int rc = cli_read_pixel_values(job->cmd, path, &all, &b, &h, &w);
    if (rc != CLI_OK) return rc;
    size_t per = (size_t)3 * h * w;
    for (int i = 0; rc == CLI_OK && i < b; i++) {
        cli_input in;
        memset(&in, 0, sizeof in);
        in.path = strdup(path);
        in.stem = stem_of(path, b > 1 ? i : -1);
        in.batch_index = b > 1 ? i : -1;
        in.pixels = malloc(sizeof(float) * per);
        if (!in.path || !in.stem || !in.pixels || unique_stem(job, &in.stem) != 0) {
            free(in.path);
            free(in.stem);
            free(in.pixels);
            rc = CLI_RUNTIME;
            break;
        }
        memcpy(in.pixels, all + per * (size_t)i, sizeof(float) * per);
        in.height = h;
        in.width = w;
        in.map_h = job->map_h ? job->map_h : h;
        in.map_w = job->map_w ? job->map_w : w;
        if (push(list, n, cap, in) != 0) rc = CLI_RUNTIME;
    }
    free(all);
    return rc;
}

static int load_image(cli_job *job, const char *path, cli_input *in)
{
    memset(in, 0, sizeof *in);
    cs_decode_params dp;
    cs_decode_params_default(&dp);
    cs_status s = cs_image_decode_file(path, &dp, &in->image);
    if (s != CS_OK) return cli_status_error(job->cmd, path, s);
    size_t n = (size_t)3 * job->size * job->size;
    in->pixels = malloc(sizeof(float) * n);
    in->path = strdup(path);
    in->stem = stem_of(path, -1);
    in->batch_index = -1;
    if (!in->pixels || !in->path || !in->stem || unique_stem(job, &in->stem) != 0)
        return CLI_RUNTIME;
    s = cs_image_preprocess(in->image, job->size, in->pixels, n);
    if (s != CS_OK) return cli_status_error(job->cmd, path, s);
    in->height = in->width = job->size;
    in->map_h = job->map_h ? job->map_h : in->image->height;
    in->map_w = job->map_w ? job->map_w : in->image->width;
    return CLI_OK;
}

int cli_job_load_arg(cli_job *job, int i, cli_input **inputs, int *n_inputs)
{
    cli_input *list = NULL;
    int n = 0, cap = 0, rc = CLI_OK;
    const char *p = job->image_args[i];
    if (cli_is_safetensors(p)) {
        rc = load_pixel_values(job, p, &list, &n, &cap);
    } else {
        cli_input in;
        rc = load_image(job, p, &in);
        if (rc == CLI_OK && push(&list, &n, &cap, in) != 0) rc = CLI_RUNTIME;
        if (rc != CLI_OK) cli_inputs_free(&in, 1);
    }
    if (rc != CLI_OK) {
        cli_inputs_free(list, n);
        free(list);
        return rc;
    }
    *inputs = list;
    *n_inputs = n;
    return CLI_OK;
}

void cli_inputs_free(cli_input *inputs, int n)
{
    for (int i = 0; inputs && i < n; i++) {
        free(inputs[i].path);
        free(inputs[i].stem);
        free(inputs[i].pixels);
        cs_image_free(inputs[i].image);
    }
}

int cli_job_features(cli_job *job, const cli_input *in, float **features, int *n_tokens,
                     int *grid_h, int *grid_w)
{
    int nt = cs_model_image_tokens(job->model, in->height, in->width);
    if (nt <= 0) {
        fprintf(stderr, "clipsurgery %s: %s: input %dx%d is not a multiple of the patch size %d\n",
                job->cmd, in->path, in->height, in->width, cs_model_patch_size(job->model));
        return CLI_RUNTIME;
    }
    size_t n = (size_t)nt * (size_t)job->dim;
    float *f = malloc(sizeof(float) * n);
    if (!f) return CLI_RUNTIME;
    cs_surgery_params sp;
    cs_surgery_params_default(&sp);
    if (job->surgery_blocks >= 0) sp.n_blocks = job->surgery_blocks;
    cs_status s = cs_surgery_apply(job->ctx, &sp, in->pixels, 1, in->height, in->width, f, n);
    if (s != CS_OK) {
        free(f);
        return cli_status_error(job->cmd, in->path, s);
    }
    cs_l2_normalize(f, (size_t)nt, (size_t)job->dim);
    *features = f;
    *n_tokens = nt;
    int p = cs_model_patch_size(job->model);
    *grid_h = in->height / p;
    *grid_w = in->width / p;
    return CLI_OK;
}

int cli_job_similarity(cli_job *job, const float *features, int n_tokens, int force_empty,
                       float **similarity)
{
    size_t n = (size_t)n_tokens * (size_t)job->n_texts;
    float *sim = malloc(sizeof(float) * n);
    if (!sim) return CLI_RUNTIME;
    cs_status s;
    if (job->n_texts > 1 && !job->empty_text && !force_empty)
        s = cs_feature_surgery_label_set(features, 1, n_tokens, job->text_features, job->n_texts,
                                         job->dim, sim, n);
    else
        s = cs_feature_surgery_empty_text(features, 1, n_tokens, job->text_features, job->n_texts,
                                          job->redundant, job->dim, sim, n);
    if (s != CS_OK) {
        free(sim);
        return cli_status_error(job->cmd, "feature surgery", s);
    }
    *similarity = sim;
    return CLI_OK;
}

int cli_job_probe_arg(cli_job *job, int i, int *height, int *width, int *map_h, int *map_w,
                      int *count)
{
    const char *p = job->image_args[i];
    if (cli_is_safetensors(p)) {
        int rc = cli_read_pixel_values(job->cmd, p, NULL, count, height, width);
        *map_h = job->map_h ? job->map_h : *height;
        *map_w = job->map_w ? job->map_w : *width;
        return rc;
    }
    cs_decode_params dp;
    cs_decode_params_default(&dp);
    cs_image *img = NULL;
    cs_status s = cs_image_decode_file(p, &dp, &img);
    if (s != CS_OK) return cli_status_error(job->cmd, p, s);
    *height = *width = job->size;
    *map_h = job->map_h ? job->map_h : img->height;
    *map_w = job->map_w ? job->map_w : img->width;
    *count = 1;
    cs_image_free(img);
    return CLI_OK;
}

/* Number of inputs the run will give (pixel_values batches counted from their headers). */
static int count_inputs(cli_job *job)
{
    int total = 0;
    for (int i = 0; i < job->n_image_args; i++) {
        int b = 1;
        int h, w;
        if (cli_is_safetensors(job->image_args[i]) &&
            cli_read_pixel_values(NULL, job->image_args[i], NULL, &b, &h, &w) != CLI_OK)
            b = 1; /* reported again, as the run's error, when the argument is loaded */
        total += b;
    }
    return total;
}

int cli_job_run(cli_job *job, cli_image_fn fn, void *user)
{
    int rc = cli_job_prepare(job);
    int total = rc == CLI_OK ? count_inputs(job) : 0, done = 0;
    double t0 = cli_now();
    for (int a = 0; rc == CLI_OK && a < job->n_image_args; a++) {
        cli_input *inputs = NULL;
        int n_inputs = 0;
        rc = cli_job_load_arg(job, a, &inputs, &n_inputs);
        for (int i = 0; rc == CLI_OK && i < n_inputs; i++) {
            cli_image_step step = {&inputs[i], done, total, NULL, 0, 0, 0};
            float *features = NULL;
            rc = cli_job_features(job, &inputs[i], &features, &step.n_tokens, &step.grid_h,
                                  &step.grid_w);
            step.features = features;
            if (rc == CLI_OK) rc = fn(job, &step, user);
            free(features);
            if (rc == CLI_OK) cli_progress(job, ++done, total, t0);
        }
        cli_inputs_free(inputs, n_inputs);
        free(inputs);
    }
    return rc;
}

void cli_results_begin(const cli_image_step *step)
{
    if (step->count > 1) {
        printf("{\"image\": ");
        cli_json_string(stdout, step->in->path);
        if (step->in->batch_index >= 0) printf(", \"index\": %d", step->in->batch_index);
        printf(", \"results\": ");
    }
    printf("[");
}

void cli_results_end(const cli_image_step *step) { printf(step->count > 1 ? "]}\n" : "]\n"); }

void cli_job_free(cli_job *job)
{
    for (int i = 0; i < job->n_used_stems; i++) free(job->used_stems[i]);
    free(job->used_stems);
    if (job->owns_image_args)
        for (int i = 0; i < job->n_image_args; i++) free(job->image_args[i]);
    free(job->image_args);
    free(job->texts);
    free(job->text_features);
    free(job->redundant);
    cs_context_free(job->ctx);
    cs_model_free(job->model);
}

void cli_json_number(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

int cli_make_parent(const char *path)
{
    char buf[4096];
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0;
    size_t n = (size_t)(slash - path);
    if (n >= sizeof buf) return -1;
    memcpy(buf, path, n);
    buf[n] = '\0';
    for (char *q = buf + 1; *q; q++) {
        if (*q != '/') continue;
        *q = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        *q = '/';
    }
    return mkdir(buf, 0755) == 0 || errno == EEXIST ? 0 : -1;
}
