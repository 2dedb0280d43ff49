/* clipsurgery labels: multi-label scores per text. */
#include "cli_job.h"

#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: clipsurgery labels MODEL IMAGE... [options] [--] TEXT...\n"
    "Scores per TEXT as JSON [{\"text\", \"probability\", \"peak\"}]: probability = softmax over the\n"
    "texts of 100 x cosine(class token, prompt ensemble) (CLIP zero-shot); peak = the largest\n"
    "value of the text's surgery similarity over the image tokens (after feature surgery:\n"
    "label-set form for several texts, empty-text form for one or with --empty-text). With\n"
    "several images, one JSON object {\"image\", \"results\"} per line.\n"
    "options: --vocab PATH, --size S, --empty-text, --batch LIST, --threads N,\n"
    "--surgery-blocks K, --no-cache\n";

int cmd_labels(int argc, char **argv)
{
    cli_job job;
    memset(&job, 0, sizeof job);
    job.cmd = "labels";
    int rc = cli_job_parse(&job, JOB_LABELS, argc, argv, help);
    if (rc >= 0) {
        cli_job_free(&job);
        return rc;
    }
    cli_input *inputs = NULL;
    int n_inputs = 0;
    rc = cli_job_prepare(&job);
    if (rc == CLI_OK) rc = cli_job_inputs(&job, &inputs, &n_inputs);
    double t0 = cli_now();
    for (int i = 0; rc == CLI_OK && i < n_inputs; i++) {
        const cli_input *in = &inputs[i];
        float *feat = NULL, *sim = NULL;
        int nt = 0, gh = 0, gw = 0;
        float *probs = malloc(sizeof(float) * job.n_texts), *peaks = malloc(sizeof(float) * job.n_texts);
        if (!probs || !peaks) rc = CLI_RUNTIME;
        if (rc == CLI_OK) rc = cli_job_features(&job, in, &feat, &nt, &gh, &gw);
        if (rc == CLI_OK) rc = cli_job_similarity(&job, feat, nt, 0, &sim);
        if (rc == CLI_OK) {
            cs_status s = cs_class_probabilities(feat, 1, nt, job.text_features, job.n_texts, job.dim,
                                                 100.0f, probs, (size_t)job.n_texts);
            if (s == CS_OK) s = cs_similarity_peaks(sim, 1, nt, job.n_texts, peaks, (size_t)job.n_texts);
            if (s != CS_OK) rc = cli_status_error("labels", "scores", s);
        }
        if (rc == CLI_OK) {
            if (n_inputs > 1) {
                printf("{\"image\": ");
                cli_json_string(stdout, in->path);
                printf(", \"results\": ");
            }
            printf("[");
            for (int t = 0; t < job.n_texts; t++) {
                printf("%s{\"text\": ", t ? ", " : "");
                cli_json_string(stdout, job.texts[t]);
                printf(", \"probability\": %.6g, \"peak\": %.6g}", (double)probs[t], (double)peaks[t]);
            }
            printf(n_inputs > 1 ? "]}\n" : "]\n");
        }
        free(probs);
        free(peaks);
        free(feat);
        free(sim);
        cli_progress(&job, i + 1, n_inputs, t0);
    }
    cli_inputs_free(inputs, n_inputs);
    free(inputs);
    cli_job_free(&job);
    return rc;
}
