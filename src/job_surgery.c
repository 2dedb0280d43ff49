/* Feature surgery of a run (REFERENCE section 4): label-set or empty-text form. */
#include "cli_job.h"

#include <stdlib.h>

int cli_job_similarity(cli_job *job, const float *features, int n_tokens, int force_empty,
                       float **similarity)
{
    size_t n = (size_t)n_tokens * (size_t)job->n_texts;
    float *sim = malloc(sizeof(float) * n);
    if (!sim) return CLI_RUNTIME;
    cs_status s;
    if (!job->method_surgery && !job->empty_text)
        s = cs_similarity(features, 1, n_tokens, job->text_features, job->n_texts, job->dim, sim,
                          n);
    else if (job->n_texts > 1 && !job->empty_text && !force_empty)
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
