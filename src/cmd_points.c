/* clipsurgery points: SAM point prompts from CLIP Surgery maps (REFERENCE 5). */
#include "cli_job.h"

#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: clipsurgery points MODEL IMAGE... [options] [--] TEXT...\n"
    "SAM point prompts per TEXT (the reference's similarity_map_to_points on the empty-text\n"
    "feature-surgery similarity, down-sample 2). Prints JSON [{\"text\", \"points\": [[x, y], ...],\n"
    "\"labels\": [1, ..., 0, ...]}] with (x, y) pixel coordinates of the original image; labels 1\n"
    "for positives, 0 for negatives. A TEXT holding '+' (\"person+bench\") is the multi-target\n"
    "form: negatives from the mean of the normalised maps, positives per part. With several\n"
    "images, one JSON object {\"image\", \"results\"} per line.\n"
    "options: --threshold T (default 0.8), --vocab PATH, --size S, --map-size HxW (coordinates\n"
    "for pixel_values input), --batch LIST, --threads N, --surgery-blocks K, --no-cache\n";

/* Splits every TEXT on '+' into parts; job->texts becomes the unique parts. */
typedef struct target {
    const char *text;
    int n_parts;
    int *parts; /* indices into the unique part list */
} target;

static int expand(cli_job *job, target **out_targets, int *n_targets, char ***storage, int *n_storage)
{
    int n = job->n_texts;
    target *tg = calloc((size_t)n, sizeof *tg);
    char **uniq = NULL;
    int n_uniq = 0, cap = 0;
    char **store = calloc((size_t)n, sizeof *store);
    if (!tg || !store) return -1;
    for (int i = 0; i < n; i++) {
        tg[i].text = job->texts[i];
        store[i] = strdup(job->texts[i]);
        if (!store[i]) return -1;
        int np = 1;
        for (const char *p = store[i]; *p; p++) np += *p == '+';
        tg[i].parts = calloc((size_t)np, sizeof(int));
        if (!tg[i].parts) return -1;
        char *save = NULL;
        for (char *tok = strchr(store[i], '+') ? strtok_r(store[i], "+", &save) : store[i]; tok;
             tok = strchr(job->texts[i], '+') ? strtok_r(NULL, "+", &save) : NULL) {
            int k = 0;
            while (k < n_uniq && strcmp(uniq[k], tok) != 0) k++;
            if (k == n_uniq) {
                if (n_uniq == cap) {
                    cap = cap ? cap * 2 : 8;
                    char **nu = realloc(uniq, sizeof *nu * (size_t)cap);
                    if (!nu) return -1;
                    uniq = nu;
                }
                uniq[n_uniq++] = tok;
            }
            tg[i].parts[tg[i].n_parts++] = k;
        }
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

int cmd_points(int argc, char **argv)
{
    cli_job job;
    memset(&job, 0, sizeof job);
    job.cmd = "points";
    int rc = cli_job_parse(&job, JOB_POINTS, argc, argv, help);
    if (rc >= 0) {
        cli_job_free(&job);
        return rc;
    }
    target *tg = NULL;
    int n_tg = 0, n_store = 0;
    char **store = NULL;
    char **argv_texts = job.texts;
    if (expand(&job, &tg, &n_tg, &store, &n_store) != 0) {
        fprintf(stderr, "clipsurgery points: out of memory\n");
        return CLI_RUNTIME;
    }
    free(argv_texts);
    cli_input *inputs = NULL;
    int n_inputs = 0;
    rc = cli_job_prepare(&job);
    if (rc == CLI_OK) rc = cli_job_inputs(&job, &inputs, &n_inputs);
    double t0 = cli_now();
    for (int i = 0; rc == CLI_OK && i < n_inputs; i++) {
        const cli_input *in = &inputs[i];
        float *feat = NULL, *sim = NULL, *sub = NULL;
        int nt = 0, gh = 0, gw = 0;
        rc = cli_job_features(&job, in, &feat, &nt, &gh, &gw);
        if (rc == CLI_OK) rc = cli_job_similarity(&job, feat, nt, 1, &sim);
        size_t cells = (size_t)gh * gw;
        size_t cap = cells * (size_t)(job.n_texts + 1) + 16;
        int *xy = malloc(sizeof(int) * 2 * cap), *labels = malloc(sizeof(int) * cap);
        if (rc == CLI_OK && (!xy || !labels || !(sub = malloc(sizeof(float) * cells * job.n_texts))))
            rc = CLI_RUNTIME;
        if (rc == CLI_OK) {
            if (n_inputs > 1) {
                printf("{\"image\": ");
                cli_json_string(stdout, in->path);
                printf(", \"results\": ");
            }
            printf("[");
        }
        for (int t = 0; rc == CLI_OK && t < n_tg; t++) {
            size_t n_points = 0;
            cs_status s;
            if (tg[t].n_parts == 1) {
                int k = tg[t].parts[0];
                for (size_t c = 0; c < cells; c++) sub[c] = sim[(c + 1) * job.n_texts + k];
                s = cs_similarity_to_points(sub, gh, gw, in->map_w, in->map_h, job.threshold, 2, xy,
                                            labels, cap, &n_points);
            } else {
                int np = tg[t].n_parts;
                for (size_t c = 0; c < cells; c++)
                    for (int j = 0; j < np; j++) sub[c * np + j] = sim[(c + 1) * job.n_texts + tg[t].parts[j]];
                s = cs_similarity_to_points_multi(sub, gh, gw, np, in->map_w, in->map_h, job.threshold,
                                                  2, xy, labels, cap, &n_points);
            }
            if (s != CS_OK) {
                rc = cli_status_error("points", tg[t].text, s);
                break;
            }
            if (t) printf(", ");
            print_points(tg[t].text, xy, labels, n_points);
        }
        if (rc == CLI_OK) printf(n_inputs > 1 ? "]}\n" : "]\n");
        free(xy);
        free(labels);
        free(sub);
        free(feat);
        free(sim);
        cli_progress(&job, i + 1, n_inputs, t0);
    }
    for (int t = 0; t < n_tg; t++) free(tg[t].parts);
    free(tg);
    for (int i = 0; i < n_store; i++) free(store[i]);
    free(store);
    cli_inputs_free(inputs, n_inputs);
    free(inputs);
    cli_job_free(&job);
    return rc;
}
