/* clipsurgery points: SAM point prompts from CLIP Surgery maps (REFERENCE 5). */
#include "cli_job.h"

#include "io/safetensors.h"

#include <jansson.h>

#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: clipsurgery points MODEL IMAGE... [options] [--] TEXT...\n"
    "SAM point prompts per TEXT (the reference's similarity_map_to_points on the empty-text\n"
    "feature-surgery similarity, down-sample 2). Prints JSON [{\"text\", \"points\": [[x, y], "
    "...],\n"
    "\"labels\": [1, ..., 0, ...]}] with (x, y) pixel coordinates of the original image; labels 1\n"
    "for positives, 0 for negatives. A TEXT holding '+' (\"person+bench\") is the multi-target\n"
    "form: negatives from the mean of the normalised maps, positives per part. With several\n"
    "images, one JSON object {\"image\", \"results\"} per line.\n"
    "       clipsurgery points --similarity FILE --map-size HxW [--threshold T] [--] TEXT...\n"
    "       (points from a similarity tensor [B, 1+N, K], e.g. heatmap --empty-text --maps;\n"
    "       its K columns are the unique '+'-parts of the TEXTs in order)\n"
    "options: --threshold T (default 0.8), --vocab PATH, --size S, --map-size HxW (coordinates\n"
    "for pixel_values input), --batch LIST, --threads N, --precision f32|bf16, --surgery-blocks K, --no-cache,\n"
    "--method NAME (clip-surgery [default], raw, maskclip, sclip, clearclip, naclip, gem; the\n"
    "others than clip-surgery and raw use plain cosines)\n";

/* Splits every TEXT on '+' into parts; job->texts becomes the unique parts. */
typedef struct target {
    const char *text;
    int n_parts;
    int *parts; /* indices into the unique part list */
} target;

static void free_targets(target *tg, int n)
{
    for (int i = 0; tg && i < n; i++) free(tg[i].parts);
    free(tg);
}

static void free_storage(char **store, int n)
{
    for (int i = 0; store && i < n; i++) free(store[i]);
    free(store);
}

/* Returns 0, -1 (out of memory) or -2 (a TEXT with no part, such as "+"; message printed).
 * A part repeated inside one TEXT ("a+a") counts once. On failure nothing is kept. */
static int expand(cli_job *job, target **out_targets, int *n_targets, char ***storage,
                  int *n_storage)
{
    int n = job->n_texts, rc = 0;
    target *tg = calloc((size_t)n, sizeof *tg);
    char **uniq = NULL;
    int n_uniq = 0, cap = 0;
    char **store = calloc((size_t)n, sizeof *store);
    if (!tg || !store) rc = -1;
    for (int i = 0; rc == 0 && i < n; i++) {
        tg[i].text = job->texts[i];
        store[i] = strdup(job->texts[i]);
        if (!store[i]) {
            rc = -1;
            break;
        }
        int np = 1;
        for (const char *p = store[i]; *p; p++) np += *p == '+';
        tg[i].parts = calloc((size_t)np, sizeof(int));
        if (!tg[i].parts) {
            rc = -1;
            break;
        }
        char *save = NULL;
        for (char *tok = strchr(store[i], '+') ? strtok_r(store[i], "+", &save) : store[i];
             rc == 0 && tok; tok = strchr(job->texts[i], '+') ? strtok_r(NULL, "+", &save) : NULL) {
            int k = 0;
            while (k < n_uniq && strcmp(uniq[k], tok) != 0) k++;
            if (k == n_uniq) {
                if (n_uniq == cap) {
                    cap = cap ? cap * 2 : 8;
                    char **nu = realloc(uniq, sizeof *nu * (size_t)cap);
                    if (!nu) {
                        rc = -1;
                        break;
                    }
                    uniq = nu;
                }
                uniq[n_uniq++] = tok;
            }
            int seen = 0;
            for (int j = 0; j < tg[i].n_parts; j++) seen |= tg[i].parts[j] == k;
            if (!seen) tg[i].parts[tg[i].n_parts++] = k;
        }
        if (rc == 0 && tg[i].n_parts == 0) {
            cli_usage_error(job->cmd, "TEXT '%s' has no part between its '+' signs", job->texts[i]);
            rc = -2;
        }
    }
    if (rc != 0) {
        free_targets(tg, n);
        free_storage(store, n);
        free(uniq);
        return rc;
    }
    job->texts = uniq; /* job->texts (argv pointers) is replaced; the old array is freed below */
    job->n_texts = n_uniq;
    *out_targets = tg;
    *n_targets = n;
    *storage = store;
    *n_storage = n;
    return 0;
}

static void print_points(const char *text, const int *xy, const int *labels, size_t n)
{
    printf("{\"text\": ");
    cli_json_string(stdout, text);
    printf(", \"points\": [");
    for (size_t i = 0; i < n; i++) printf("%s[%d, %d]", i ? ", " : "", xy[2 * i], xy[2 * i + 1]);
    printf("], \"labels\": [");
    for (size_t i = 0; i < n; i++) printf("%s%d", i ? ", " : "", labels[i]);
    printf("]}");
}

/* Prints the points of every target for one image's similarity [1 + gh*gw, job->n_texts]. */
static int emit(cli_job *job, const target *tg, int n_tg, const float *sim, int gh, int gw,
                int map_w, int map_h, const char *image_path)
{
    int rc = CLI_OK;
    float *sub = NULL;
    size_t cells = (size_t)gh * gw;
    size_t cap = cells * (size_t)(job->n_texts + 1) + 16;
    int *xy = malloc(sizeof(int) * 2 * cap), *labels = malloc(sizeof(int) * cap);
    if (rc == CLI_OK && (!xy || !labels || !(sub = malloc(sizeof(float) * cells * job->n_texts))))
        rc = CLI_RUNTIME;
    if (rc == CLI_OK) {
        if (image_path) {
            printf("{\"image\": ");
            cli_json_string(stdout, image_path);
            printf(", \"results\": ");
        }
        printf("[");
    }
    for (int t = 0; rc == CLI_OK && t < n_tg; t++) {
        size_t n_points = 0;
        cs_status s;
        if (tg[t].n_parts == 1) {
            int k = tg[t].parts[0];
            for (size_t c = 0; c < cells; c++) sub[c] = sim[(c + 1) * job->n_texts + k];
            s = cs_similarity_to_points(sub, gh, gw, map_w, map_h, job->threshold, 2, xy, labels,
                                        cap, &n_points);
        } else {
            int np = tg[t].n_parts;
            for (size_t c = 0; c < cells; c++)
                for (int j = 0; j < np; j++)
                    sub[c * np + j] = sim[(c + 1) * job->n_texts + tg[t].parts[j]];
            s = cs_similarity_to_points_multi(sub, gh, gw, np, map_w, map_h, job->threshold, 2, xy,
                                              labels, cap, &n_points);
        }
        if (s != CS_OK) {
            rc = cli_status_error("points", tg[t].text, s);
            break;
        }
        if (t) printf(", ");
        print_points(tg[t].text, xy, labels, n_points);
    }
    if (rc == CLI_OK) printf(image_path ? "]}\n" : "]\n");
    free(xy);
    free(labels);
    free(sub);
    return rc;
}

/* points --similarity FILE --map-size HxW [--threshold T] [--] TEXT...: points from a similarity
 * tensor [B, 1 + N, K] or [1 + N, K] (as heatmap --empty-text --maps writes), whose K columns are
 * the unique parts of the TEXTs in order of appearance; the grid is square. */
static int from_similarity(int argc, char **argv)
{
    cli_job job;
    memset(&job, 0, sizeof job);
    job.cmd = "points";
    job.threshold = 0.8f;
    const char *file = NULL;
    job.texts = calloc((size_t)argc + 1, sizeof *job.texts);
    if (!job.texts) return CLI_RUNTIME;
    int dd = 0, rc = -1;
    for (int i = 1; i < argc && rc < 0; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (dd || a[0] != '-' || !a[1])
            job.texts[job.n_texts++] = argv[i];
        else if (strcmp(a, "--") == 0)
            dd = 1;
        else if (!next)
            rc = cli_usage_error("points", "%s needs a value", a);
        else if (strcmp(a, "--similarity") == 0)
            file = argv[++i];
        else if (strcmp(a, "--map-size") == 0) {
            char *end;
            job.map_h = (int)strtol(argv[++i], &end, 10);
            job.map_w = (*end == 'x' || *end == 'X') ? (int)strtol(end + 1, &end, 10) : 0;
            if (*end || job.map_h < 1 || job.map_w < 1 || job.map_h > 65535 || job.map_w > 65535)
                rc = cli_usage_error("points", "bad --map-size %s (HxW)", argv[i]);
        } else if (strcmp(a, "--threshold") == 0) {
            char *end;
            job.threshold = strtof(argv[++i], &end);
            if (*end || !(job.threshold >= 0.0f && job.threshold <= 1.0f))
                rc = cli_usage_error("points", "bad --threshold %s (0..1)", argv[i]);
        } else
            rc = cli_usage_error("points", "unknown option %s with --similarity", a);
    }
    if (rc < 0 && !job.map_h) rc = cli_usage_error("points", "--similarity needs --map-size HxW");
    if (rc < 0 && !job.n_texts) rc = cli_usage_error("points", "at least one TEXT is required");
    if (rc >= 0) {
        free(job.texts);
        return rc;
    }
    target *tg = NULL;
    int n_tg = 0, n_store = 0;
    char **store = NULL, **argv_texts = job.texts;
    int erc = expand(&job, &tg, &n_tg, &store, &n_store);
    if (erc != 0) {
        if (erc == -1) fprintf(stderr, "clipsurgery points: out of memory\n");
        free(argv_texts);
        return erc == -2 ? CLI_USAGE : CLI_RUNTIME;
    }
    free(argv_texts);
    cs_safetensors *st = NULL;
    cs_status s = cs_st_open(file, &st);
    rc = s == CS_OK ? CLI_OK : cli_status_error("points", file, s);
    const cs_st_tensor *t = rc == CLI_OK ? cs_st_find(st, "similarity") : NULL;
    int b = 1, n_tok = 0, k = 0, gh = 0, gw = 0;
    /* heatmap --maps records the column names, the grid and the feature-surgery form */
    const char *names_json = rc == CLI_OK ? cs_st_meta_get(st, "clipsurgery.texts") : NULL;
    const char *grid = rc == CLI_OK ? cs_st_meta_get(st, "clipsurgery.grid") : NULL;
    const char *form = rc == CLI_OK ? cs_st_meta_get(st, "clipsurgery.form") : NULL;
    if (rc == CLI_OK) {
        if (t && (t->ndim == 2 || t->ndim == 3) && t->dtype == CS_DT_F32) {
            b = t->ndim == 3 ? (int)t->shape[0] : 1;
            n_tok = (int)t->shape[t->ndim - 2];
            k = (int)t->shape[t->ndim - 1];
            if (!grid || sscanf(grid, "%dx%d", &gh, &gw) != 2) {
                gh = 0;
                while ((long)(gh + 1) * (gh + 1) <= n_tok - 1) gh++;
                gw = gh;
            }
        }
        if (!t || n_tok < 2 || gh < 1 || gw < 1 || (long)gh * gw != n_tok - 1 || k < 1 || b < 1 ||
            (!names_json && k != job.n_texts)) {
            fprintf(stderr,
                    "clipsurgery points: %s needs an F32 tensor \"similarity\" [B, 1 + cells, K] "
                    "(K = %d columns, one per unique text part, unless the file names them)\n",
                    file, job.n_texts);
            rc = CLI_RUNTIME;
        }
    }
    if (rc == CLI_OK && form && strcmp(form, "empty-text") != 0)
        fprintf(stderr, "clipsurgery points: warning: %s holds %s similarities; the reference "
                        "points use the empty-text form (heatmap --empty-text --maps)\n",
                file, form);
    /* column of each unique part: by name when the file names its columns, else in order */
    int *col = rc == CLI_OK ? calloc((size_t)job.n_texts, sizeof *col) : NULL;
    if (rc == CLI_OK && !col) rc = CLI_RUNTIME;
    for (int j = 0; rc == CLI_OK && j < job.n_texts; j++) col[j] = j;
    if (rc == CLI_OK && names_json) {
        json_error_t err;
        json_t *arr = json_loads(names_json, 0, &err);
        if (!json_is_array(arr) || json_array_size(arr) != (size_t)k) {
            fprintf(stderr, "clipsurgery points: %s: clipsurgery.texts is not a list of %d names\n",
                    file, k);
            rc = CLI_RUNTIME;
        }
        for (int j = 0; rc == CLI_OK && j < job.n_texts; j++) {
            col[j] = -1;
            for (int c = 0; c < k && col[j] < 0; c++) {
                const char *nm = json_string_value(json_array_get(arr, (size_t)c));
                if (nm && strcmp(nm, job.texts[j]) == 0) col[j] = c;
            }
            if (col[j] < 0) {
                fprintf(stderr, "clipsurgery points: '%s' is not among the texts of %s: %s\n",
                        job.texts[j], file, names_json);
                rc = CLI_RUNTIME;
            }
        }
        json_decref(arr);
    }
    float *all = rc == CLI_OK ? malloc(sizeof(float) * t->n_elements) : NULL;
    float *sel = rc == CLI_OK ? malloc(sizeof(float) * (size_t)n_tok * job.n_texts) : NULL;
    if (rc == CLI_OK && (!all || !sel || cs_st_to_f32(t, all) != CS_OK)) rc = CLI_RUNTIME;
    for (int i = 0; rc == CLI_OK && i < b; i++) {
        const float *src = all + (size_t)i * n_tok * k;
        for (int n = 0; n < n_tok; n++)
            for (int j = 0; j < job.n_texts; j++)
                sel[(size_t)n * job.n_texts + j] = src[(size_t)n * k + col[j]];
        rc = emit(&job, tg, n_tg, sel, gh, gw, job.map_w, job.map_h, b > 1 ? file : NULL);
    }
    free(col);
    free(sel);
    free(all);
    cs_st_close(st);
    free_targets(tg, n_tg);
    free_storage(store, n_store);
    free(job.texts);
    return rc;
}

typedef struct targets {
    target *tg;
    int n;
} targets;

static int one_image(cli_job *job, const cli_image_step *st, void *user)
{
    const targets *t = user;
    float *sim = NULL;
    int rc = cli_job_similarity(job, st->features, st->n_tokens, 1, &sim);
    if (rc == CLI_OK)
        rc = emit(job, t->tg, t->n, sim, st->grid_h, st->grid_w, st->in->map_w, st->in->map_h,
                  st->count > 1 ? st->in->path : NULL);
    free(sim);
    return rc;
}

int cmd_points(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--similarity") == 0) return from_similarity(argc, argv);
    cli_job job;
    memset(&job, 0, sizeof job);
    job.cmd = "points";
    int rc = cli_job_parse(&job, JOB_POINTS, argc, argv, help);
    targets t = {NULL, 0};
    int n_store = 0;
    char **store = NULL;
    if (rc < 0) {
        char **argv_texts = job.texts;
        int erc = expand(&job, &t.tg, &t.n, &store, &n_store);
        if (erc != 0) {
            if (erc == -1) fprintf(stderr, "clipsurgery points: out of memory\n");
            rc = erc == -2 ? CLI_USAGE : CLI_RUNTIME;
        } else {
            free(argv_texts);
            rc = cli_job_run(&job, one_image, &t);
        }
    }
    free_targets(t.tg, t.n);
    free_storage(store, n_store);
    cli_job_free(&job);
    return rc;
}
