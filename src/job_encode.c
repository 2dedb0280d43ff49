/* The model side of a run: model, context and text features (prompt ensembles of the texts and
 * of "", through the cache), then the surgery image encoder per input. */
#include "cli_job.h"

#include <stdio.h>
#include <stdlib.h>

int cli_job_prepare(cli_job *job)
{
    if (job->batch_list) {
        int rc = cli_job_read_batch_list(job);
        if (rc != CLI_OK) return rc;
        job->owns_image_args = 1;
        if (job->n_image_args == 0)
            return cli_usage_error(job->cmd, "the --batch list names no image");
    }
    job->model = cli_load_model(job->cmd, job->model_path, job->vocab, job->precision_flags);
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
    if (job->no_ensembles) return CLI_OK; /* the command encodes its texts itself */
    job->text_features = malloc(sizeof(float) * (size_t)job->n_texts * (size_t)job->dim);
    job->redundant = malloc(sizeof(float) * (size_t)job->dim);
    if (!job->text_features || !job->redundant) {
        fprintf(stderr, "clipsurgery %s: out of memory\n", job->cmd);
        return CLI_RUNTIME;
    }
    int rc = cli_cached_ensemble(job->cmd, job->ctx, job->model_path, job->vocab, job->precision_flags,
                                 !job->no_cache,
                                 (const char *const *)job->texts, job->n_texts, job->dim,
                                 job->text_features);
    if (rc != CLI_OK) return rc;
    const char *empty[1] = {""};
    return cli_cached_ensemble(job->cmd, job->ctx, job->model_path, job->vocab, job->precision_flags,
                                 !job->no_cache,
                               empty, 1, job->dim, job->redundant);
}

int cli_job_features(cli_job *job, const cli_input *in, float **features, int *n_tokens,
                     int *grid_h, int *grid_w)
{
    int nt = cs_model_image_tokens(job->model, in->height, in->width);
    if (nt <= 0) {
        int gh, gw;
        cs_model_image_grid(job->model, in->height, in->width, &gh, &gw); /* says why */
        fprintf(stderr, "clipsurgery %s: %s: input %dx%d: %s\n", job->cmd, in->path, in->height,
                in->width, cs_last_error());
        return CLI_RUNTIME;
    }
    size_t n = (size_t)nt * (size_t)job->dim;
    float *f = malloc(sizeof(float) * n);
    if (!f) return CLI_RUNTIME;
    cs_method_params mp = job->method;
    if (job->surgery_blocks >= 0) mp.n_blocks = job->surgery_blocks;
    cs_status s = cs_method_apply(job->ctx, &mp, in->pixels, 1, in->height, in->width, f, n);
    if (s != CS_OK) {
        free(f);
        return cli_status_error(job->cmd, in->path, s);
    }
    cs_l2_normalize(f, (size_t)nt, (size_t)job->dim);
    *features = f;
    *n_tokens = nt;
    if (cs_model_image_grid(job->model, in->height, in->width, grid_h, grid_w) != CS_OK) {
        free(f);
        return cli_status_error(job->cmd, in->path, CS_ERR_SHAPE);
    }
    return CLI_OK;
}
