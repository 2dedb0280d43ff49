/* The shared run of heatmap, points, segment and labels: per image argument its inputs, their
 * surgery features handed to the command's step; progress, JSON result framing, output folders. */
#include "cli_job.h"

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

int cli_job_run(cli_job *job, cli_image_fn fn, void *user)
{
    int rc = cli_job_prepare(job);
    int total = rc == CLI_OK ? cli_job_count_inputs(job) : 0, done = 0;
    double t0 = cli_now();
    for (int a = 0; rc == CLI_OK && a < job->n_image_args; a++) {
        cli_input *inputs = NULL;
        int n_inputs = 0;
        rc = cli_job_load_arg(job, a, &inputs, &n_inputs);
        for (int i = 0; rc == CLI_OK && i < n_inputs; i++) {
            cli_image_step step = {&inputs[i], done, total, NULL, 0, 0, 0};
            float *features = NULL;
            if (!job->no_features)
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

void cli_json_number9(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

void cli_name_part(const char *text, char *out, size_t cap)
{
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && j + 1 < cap && j < 199; p++)
        out[j++] = (*p == '/' || *p == ' ' || *p == '\\' || *p < 0x20) ? '_' : (char)*p;
    out[j] = '\0';
    if (j == 0) snprintf(out, cap, "empty");
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
