/* Inputs of a run: image files decoded and preprocessed, pixel_values tensors expanded to one
 * input per batch entry, output stems made unique, sizes probed without keeping pixels. */
#include "cli_job.h"

#include "io/safetensors.h"

#include <stdlib.h>
#include <string.h>

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
int cli_job_count_inputs(cli_job *job)
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

/* --maps holds one [B, ...] tensor: checked before any work, so a run never stops half-way. */
int cli_job_check_uniform_inputs(cli_job *job)
{
    int h0 = 0, w0 = 0, mh0 = 0, mw0 = 0;
    for (int i = 0; i < job->n_image_args; i++) {
        int h = 0, w = 0, mh = 0, mw = 0, count = 0;
        int rc = cli_job_probe_arg(job, i, &h, &w, &mh, &mw, &count);
        if (rc != CLI_OK) return rc;
        if (i == 0) {
            h0 = h, w0 = w, mh0 = mh, mw0 = mw;
        } else if (h != h0 || w != w0 || mh != mh0 || mw != mw0) {
            fprintf(stderr,
                    "clipsurgery %s: --maps stores one [B, H, W, T] tensor, but %s gives "
                    "%dx%d maps from a %dx%d input and %s gives %dx%d from %dx%d: give "
                    "--map-size HxW (overlays keep each photo's own size)\n",
                    job->cmd, job->image_args[0], mh0, mw0, h0, w0, job->image_args[i], mh, mw, h, w);
            return CLI_RUNTIME;
        }
    }
    return -1;
}
