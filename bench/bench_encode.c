/* bench_encode MODEL [--vocab PATH] [--threads N] [--reps R]
 * Times, on a (generated) full-size checkpoint: model load, image encode per image (surgery and
 * raw) at 224 and 512, an 8-class prompt ensemble, and reports peak RSS. One JSON object per line,
 * the first with the BLAS configuration and thread counts. Works on a ViT or a ResNet model (the
 * encode lines carry "backbone"; on a ResNet "surgery" is the surgery attention pool). */
#include "clipsurgery.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int encode(cs_context *ctx, int blocks, const float *px, int size, float *f, size_t cap)
{
    cs_surgery_params sp;
    cs_surgery_params_default(&sp);
    sp.n_blocks = blocks;
    cs_status s = cs_surgery_apply(ctx, &sp, px, 1, size, size, f, cap);
    if (s != CS_OK) {
        fprintf(stderr, "bench_encode: encode %d: %s: %s\n", size, cs_status_string(s),
                cs_last_error());
        return -1;
    }
    return 0;
}

static const char *backbone = "vit";

/* Best and mean seconds over reps runs after one warm-up. */
static int time_encode(cs_context *ctx, const char *mode, int blocks, const float *px, int size,
                       int reps, float *f, size_t cap)
{
    if (encode(ctx, blocks, px, size, f, cap)) return -1;
    double best = 1e30, total = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (encode(ctx, blocks, px, size, f, cap)) return -1;
        double dt = now() - t0;
        total += dt;
        if (dt < best) best = dt;
    }
    printf("{\"bench\": \"encode_image\", \"backbone\": \"%s\", \"mode\": \"%s\", \"size\": %d, "
           "\"reps\": %d, \"best_s\": %.4f, \"mean_s\": %.4f, \"peak_rss_mb\": %.1f}\n",
           backbone, mode, size, reps, best, total / reps, peak_rss_kb() / 1024.0);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *vocab = NULL;
    int threads = 0, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--vocab") == 0 && i + 1 < argc) vocab = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!model_path && argv[i][0] != '-') model_path = argv[i];
        else {
            fprintf(stderr, "usage: bench_encode MODEL [--vocab PATH] [--threads N] [--reps R]\n");
            return 2;
        }
    }
    if (!model_path || reps < 1) {
        fprintf(stderr, "usage: bench_encode MODEL [--vocab PATH] [--threads N] [--reps R]\n");
        return 2;
    }
    const char *env = getenv("OPENBLAS_NUM_THREADS");
    printf("{\"bench\": \"config\", \"library\": \"%s\", \"engine\": \"%s\", \"blas\": \"%s\", \"blas_threads\": %d, "
           "\"OPENBLAS_NUM_THREADS\": \"%s\", \"threads\": %d, \"online_cores\": %ld}\n",
           cs_version_string(), cs_gemm_engine(), openblas_get_config(), openblas_get_num_threads(),
           env ? env : "", threads, sysconf(_SC_NPROCESSORS_ONLN));

    cs_model_params mp;
    cs_model_params_default(&mp);
    mp.vocab_path = vocab;
    cs_model *m = NULL;
    double t0 = now();
    cs_status s = cs_model_load(model_path, &mp, &m);
    double load_s = now() - t0;
    if (s != CS_OK) {
        fprintf(stderr, "bench_encode: %s: %s: %s\n", model_path, cs_status_string(s),
                cs_last_error());
        return 1;
    }
    cs_model_info info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    cs_model_get_info(m, &info);
    if (cs_model_backbone(m) == CS_BACKBONE_RESNET) backbone = "resnet";
    printf("{\"bench\": \"model_load\", \"backbone\": \"%s\", \"seconds\": %.4f, \"dtype_bits\": %d, \"layout\": \"%s\", "
           "\"vision_width\": %d, \"vision_layers\": %d, \"text_width\": %d, \"embed_dim\": %d, "
           "\"peak_rss_mb\": %.1f}\n",
           backbone, load_s, info.dtype_bits, info.layout == CS_LAYOUT_HF ? "hf" : "openai",
           info.vision_width, info.vision_layers, info.text_width, info.embed_dim,
           peak_rss_kb() / 1024.0);
    fflush(stdout);

    cs_context_params cp;
    cs_context_params_default(&cp);
    cp.n_threads = threads;
    cs_context *ctx = NULL;
    if (cs_context_create(m, &cp, &ctx) != CS_OK) return 1;
    size_t npx = (size_t)3 * 512 * 512;
    float *px = malloc(npx * sizeof(float));
    int d = cs_model_embed_dim(m);
    size_t cap = (size_t)cs_model_image_tokens(m, 512, 512) * d;
    float *f = malloc(cap * sizeof(float));
    if (!px || !f) return 1;
    uint32_t r = 12345;
    for (size_t i = 0; i < npx; i++) {
        r = r * 1664525u + 1013904223u;
        px[i] = (float)(r >> 8) / 16777216.0f * 4.0f - 2.0f;
    }
    int rc = 0;
    rc |= time_encode(ctx, "surgery", 6, px, 224, reps, f, cap);
    rc |= time_encode(ctx, "raw", 0, px, 224, reps, f, cap);
    rc |= time_encode(ctx, "surgery", 6, px, 512, reps, f, cap);

    /* 8-class prompt ensemble (8 x 85 texts) */
    static const char *const classes[8] = {"person", "bench", "ground", "building",
                                           "sky",    "tree",  "grass",  "potted plant"};
    float *g = malloc((size_t)8 * d * sizeof(float));
    if (cs_model_tokenizer(m)) {
        s = cs_prompt_ensemble(ctx, classes, 1, g, (size_t)8 * d); /* warm-up */
        double best = 1e30;
        for (int k = 0; k < reps && s == CS_OK; k++) {
            t0 = now();
            s = cs_prompt_ensemble(ctx, classes, 8, g, (size_t)8 * d);
            double dt = now() - t0;
            if (dt < best) best = dt;
        }
        if (s != CS_OK) {
            fprintf(stderr, "bench_encode: ensemble: %s: %s\n", cs_status_string(s),
                    cs_last_error());
            rc = 1;
        } else {
            printf("{\"bench\": \"prompt_ensemble\", \"classes\": 8, \"texts\": %d, "
                   "\"best_s\": %.4f, \"peak_rss_mb\": %.1f}\n",
                   8 * cs_prompt_template_count(), best, peak_rss_kb() / 1024.0);
        }
    } else {
        printf("{\"bench\": \"prompt_ensemble\", \"skipped\": \"no vocabulary (give --vocab)\"}\n");
    }
    printf("{\"bench\": \"summary\", \"peak_rss_mb\": %.1f}\n", peak_rss_kb() / 1024.0);
    free(g);
    free(px);
    free(f);
    cs_context_free(ctx);
    cs_model_free(m);
    return rc ? 1 : 0;
}
