/* clipsurgery labels: multi-label scores per text. */
#include "cli_job.h"

#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: clipsurgery labels MODEL IMAGE... [options] [--] TEXT...\n"
    "Scores per TEXT as JSON [{\"text\", \"probability\", \"peak\"}]: probability = softmax over "
    "the\n"
    "texts of 100 x cosine(CLIP's class token, prompt ensemble) (zero-shot); peak = the largest\n"
    "value of the text's surgery similarity over the image tokens (after feature surgery:\n"
    "label-set form for several texts, empty-text form for one or with --empty-text). With\n"
    "several images, one JSON object {\"image\", \"results\"} per line.\n"
    "options: --vocab PATH, --size S, --empty-text, --batch LIST, --threads N, --precision f32|bf16,\n"
    "--surgery-blocks K, --no-cache, --method NAME (clip-surgery [default], raw, maskclip,\n"
    "sclip, clearclip, naclip, gem; the others than clip-surgery and raw use plain cosines)\n";

/* The class token for the zero-shot probabilities: CLIP's pooled embedding. On a ViT it is the
 * surgery features' row 0 (the original path is raw CLIP); on a ResNet the surgery pool's class
 * token differs from CLIP's (RESNET.md quirk 2), so the raw pool is run. *raw: malloc'd or NULL. */
static int class_source(cli_job *job, const cli_image_step *st, float **raw, const float **cls)
{
    *raw = NULL;
    *cls = st->features;
    if (cs_model_backbone(job->model) != CS_BACKBONE_RESNET) return CLI_OK;
    size_t n = (size_t)st->n_tokens * (size_t)job->dim;
    float *f = malloc(sizeof(float) * n);
    if (!f) return CLI_RUNTIME;
    cs_status s = cs_encode_images(job->ctx, st->in->pixels, 1, st->in->height, st->in->width, f, n);
    if (s != CS_OK) {
        free(f);
        return cli_status_error("labels", st->in->path, s);
    }
    *raw = f;
    *cls = f;
    return CLI_OK;
}

static int one_image(cli_job *job, const cli_image_step *st, void *user)
{
    (void)user;
    int T = job->n_texts, rc = CLI_OK;
    float *sim = NULL, *raw = NULL;
    const float *cls = st->features;
    float *probs = malloc(sizeof(float) * T), *peaks = malloc(sizeof(float) * T);
    if (!probs || !peaks) rc = CLI_RUNTIME;
    if (rc == CLI_OK) rc = cli_job_similarity(job, st->features, st->n_tokens, 0, &sim);
    if (rc == CLI_OK) rc = class_source(job, st, &raw, &cls);
    if (rc == CLI_OK) {
        cs_status s = cs_class_probabilities(cls, 1, st->n_tokens, job->text_features, T,
                                             job->dim, 100.0f, probs, (size_t)T);
        if (s == CS_OK) s = cs_similarity_peaks(sim, 1, st->n_tokens, T, peaks, (size_t)T);
        if (s != CS_OK) rc = cli_status_error("labels", "scores", s);
    }
    if (rc == CLI_OK) {
        cli_results_begin(st);
        for (int t = 0; t < T; t++) {
            printf("%s{\"text\": ", t ? ", " : "");
            cli_json_string(stdout, job->texts[t]);
            printf(", \"probability\": ");
            cli_json_number(stdout, (double)probs[t]);
            printf(", \"peak\": ");
            cli_json_number(stdout, (double)peaks[t]);
            printf("}");
        }
        cli_results_end(st);
    }
    free(probs);
    free(peaks);
    free(sim);
    free(raw);
    return rc;
}

int cmd_labels(int argc, char **argv)
{
    cli_job job;
    memset(&job, 0, sizeof job);
    job.cmd = "labels";
    int rc = cli_job_parse(&job, JOB_LABELS, argc, argv, help);
    if (rc < 0) rc = cli_job_run(&job, one_image, NULL);
    cli_job_free(&job);
    return rc;
}
