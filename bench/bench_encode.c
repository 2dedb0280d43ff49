/* bench_encode MODEL [--vocab PATH] [--threads N] [--reps R] [--roof-f32 G] [--roof-bf16 G]
 *              [--photo IMAGE]...
 * Times, on a (generated) full-size checkpoint: model load, image encode per image (surgery and
 * raw at 224, surgery at 512; on a ViT also the sibling methods at 224), an 8-class prompt
 * ensemble; for each, the matrix-product FLOPs the call ran (cs_context_flops), the GFLOP/s
 * reached and the efficiency against the GEMM roof measured in the same run (bench_gemm's
 * roof_gflops, given by run.sh as --roof-f32 / --roof-bf16), and peak RSS.
 * Both precisions: when this build and CPU run bf16 (CS_MODEL_PRECISION_BF16), every task runs
 * again in bf16, then bf16 is compared with f32 on the same inputs: min cosine of the image
 * features over all tokens, max abs difference of the min-max similarity maps, and whether the
 * SAM points are identical (in order; and how many of the f32 points the bf16 run also gives,
 * with their label), on random pixels and on each --photo.
 * One JSON object per line; the first gives the engine, BLAS configuration and thread counts.
 * Works on a ViT or a ResNet model (lines carry "backbone"; on a ResNet "surgery" is the
 * surgery attention pool). */
#include "clipsurgery.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_PHOTOS 16
#define N_CLASSES 8

static const char *const classes[N_CLASSES] = {"person", "bench", "ground", "building",
                                               "sky",    "tree",  "grass",  "potted plant"};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

typedef struct bench {
    const char *backbone, *precision;
    double roof; /* GFLOP/s of the GEMM engine in this precision, 0 when not measured */
    int reps;
} bench;

/* A timed task: cs_method_apply with preset `method`, or (method -1) cs_surgery_apply with
 * n_blocks `blocks`. */
typedef struct task {
    cs_context *ctx;
    int method; /* -1: cs_surgery_apply with `blocks` */
    int blocks;
    const float *px;
    int size;
    float *f;
    size_t cap;
} task;

static cs_status run_task(const task *t)
{
    if (t->method < 0) {
        cs_surgery_params sp;
        cs_surgery_params_default(&sp);
        sp.n_blocks = t->blocks;
        return cs_surgery_apply(t->ctx, &sp, t->px, 1, t->size, t->size, t->f, t->cap);
    }
    cs_method_params mp;
    cs_method_params_default(&mp, (cs_method)t->method);
    return cs_method_apply(t->ctx, &mp, t->px, 1, t->size, t->size, t->f, t->cap);
}

static void print_rate(const bench *b, double gflop, double best)
{
    double rate = best > 0 ? gflop / best : 0;
    printf(", \"gflop\": %.2f, \"gflops\": %.1f", gflop, rate);
    if (b->roof > 0) printf(", \"roof_gflops\": %.1f, \"efficiency\": %.3f", b->roof, rate / b->roof);
}

/* Best and mean seconds over reps runs after one warm-up, and the FLOPs of one run. */
static int time_task(const bench *b, const char *mode, const task *t)
{
    cs_status s = run_task(t);
    double best = 1e30, total = 0, f0 = cs_context_flops(t->ctx), gflop = 0;
    for (int r = 0; r < b->reps && s == CS_OK; r++) {
        double t0 = now();
        s = run_task(t);
        double dt = now() - t0;
        total += dt;
        if (dt < best) best = dt;
        if (r == 0) gflop = (cs_context_flops(t->ctx) - f0) * 1e-9;
    }
    if (s != CS_OK) {
        fprintf(stderr, "bench_encode: %s %d: %s: %s\n", mode, t->size, cs_status_string(s),
                cs_last_error());
        return -1;
    }
    printf("{\"bench\": \"encode_image\", \"backbone\": \"%s\", \"engine\": \"%s\", "
           "\"precision\": \"%s\", \"mode\": \"%s\", \"size\": %d, \"reps\": %d, "
           "\"best_s\": %.4f, \"mean_s\": %.4f",
           b->backbone, cs_gemm_engine(), b->precision, mode, t->size, b->reps, best,
           total / b->reps);
    print_rate(b, gflop, best);
    printf(", \"peak_rss_mb\": %.1f}\n", peak_rss_mb());
    fflush(stdout);
    return 0;
}

static int time_ensemble(const bench *b, cs_context *ctx, int d)
{
    float *g = malloc((size_t)N_CLASSES * d * sizeof(float));
    if (!g) return -1;
    cs_status s = cs_prompt_ensemble(ctx, classes, 1, g, (size_t)N_CLASSES * d); /* warm-up */
    double best = 1e30, gflop = 0;
    for (int k = 0; k < b->reps && s == CS_OK; k++) {
        double f0 = cs_context_flops(ctx), t0 = now();
        s = cs_prompt_ensemble(ctx, classes, N_CLASSES, g, (size_t)N_CLASSES * d);
        double dt = now() - t0;
        if (dt < best) best = dt;
        gflop = (cs_context_flops(ctx) - f0) * 1e-9;
    }
    free(g);
    if (s != CS_OK) {
        fprintf(stderr, "bench_encode: ensemble: %s: %s\n", cs_status_string(s), cs_last_error());
        return -1;
    }
    printf("{\"bench\": \"prompt_ensemble\", \"backbone\": \"%s\", \"engine\": \"%s\", "
           "\"precision\": \"%s\", \"classes\": %d, \"texts\": %d, \"best_s\": %.4f",
           b->backbone, cs_gemm_engine(), b->precision, N_CLASSES,
           N_CLASSES * cs_prompt_template_count(), best);
    print_rate(b, gflop, best);
    printf(", \"peak_rss_mb\": %.1f}\n", peak_rss_mb());
    fflush(stdout);
    return 0;
}

/* Every timed task of one model/context. */
static int run_all(const bench *b, cs_context *ctx, const cs_model *m, const float *px, float *f,
                   size_t cap)
{
    int rc = 0;
    task t = {ctx, -1, 6, px, 224, f, cap};
    rc |= time_task(b, "surgery", &t);
    t.blocks = 0;
    rc |= time_task(b, "raw", &t);
    t.blocks = 6;
    t.size = 512;
    rc |= time_task(b, "surgery", &t);
    if (cs_model_backbone(m) == CS_BACKBONE_VIT) {
        static const cs_method methods[] = {CS_METHOD_MASKCLIP, CS_METHOD_SCLIP,
                                            CS_METHOD_CLEARCLIP, CS_METHOD_NACLIP, CS_METHOD_GEM};
        t.size = 224;
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
            t.method = (int)methods[i];
            rc |= time_task(b, cs_method_name(methods[i]), &t);
        }
    }
    if (cs_model_tokenizer(m)) rc |= time_ensemble(b, ctx, cs_model_embed_dim(m));
    return rc;
}

/* ---- bf16 against f32 ------------------------------------------------------------------- */

typedef struct result {
    float *features;   /* [T, D] */
    float *maps;       /* [S, S, N_CLASSES] */
    float *sim;        /* [T, N_CLASSES] label-set similarity */
    int tokens;
    int points[1024];  /* x, y pairs then labels of class 0 */
    size_t n_points;
} result;

/* Surgery features, label-set feature surgery with the 8 ensembles, min-max maps at the input
 * size and the SAM points of class 0 (threshold 0.8, down-sampling 2, as the reference). */
static int analyse(cs_context *ctx, const cs_model *m, const float *text, const float *px,
                   int size, result *r)
{
    int d = cs_model_embed_dim(m), gh, gw;
    int t = cs_model_image_tokens(m, size, size);
    if (t <= 1 || cs_model_image_grid(m, size, size, &gh, &gw) != CS_OK) return -1;
    size_t nf = (size_t)t * d, nm = (size_t)size * size * N_CLASSES, cells = (size_t)gh * gw;
    r->features = malloc(nf * sizeof(float));
    r->maps = malloc(nm * sizeof(float));
    float *sim = r->sim = malloc((size_t)t * N_CLASSES * sizeof(float));
    r->tokens = t;
    float *col = malloc(cells * sizeof(float));
    int ok = r->features && r->maps && sim && col &&
             cs_surgery_apply(ctx, NULL, px, 1, size, size, r->features, nf) == CS_OK &&
             cs_feature_surgery_label_set(r->features, 1, t, text, N_CLASSES, d, sim,
                                          (size_t)t * N_CLASSES) == CS_OK &&
             cs_similarity_maps(sim, gh, gw, N_CLASSES, size, size, r->maps, nm) == CS_OK;
    if (ok) {
        for (size_t c = 0; c < cells; c++) col[c] = sim[(c + 1) * N_CLASSES];
        int xy[2 * 512], labels[512];
        ok = cs_similarity_to_points(col, gh, gw, size, size, 0.8f, 2, xy, labels, 512,
                                     &r->n_points) == CS_OK;
        if (ok) {
            memcpy(r->points, xy, 2 * r->n_points * sizeof(int));
            memcpy(r->points + 2 * r->n_points, labels, r->n_points * sizeof(int));
        }
    }
    free(col);
    if (!ok) fprintf(stderr, "bench_encode: accuracy run: %s\n", cs_last_error());
    return ok ? 0 : -1;
}

static int compare(const char *source, int size, cs_context *c32, const cs_model *m32,
                   const float *text32, cs_context *c16, const cs_model *m16,
                   const float *text16, const float *px)
{
    result a = {0}, b = {0};
    int rc = analyse(c32, m32, text32, px, size, &a) | analyse(c16, m16, text16, px, size, &b);
    if (rc == 0) {
        int d = cs_model_embed_dim(m32), t = cs_model_image_tokens(m32, size, size);
        double min_cos = 1.0, max_map = 0.0;
        for (int i = 0; i < t; i++) {
            double ab = 0, aa = 0, bb = 0;
            for (int k = 0; k < d; k++) {
                double x = a.features[(size_t)i * d + k], y = b.features[(size_t)i * d + k];
                ab += x * y, aa += x * x, bb += y * y;
            }
            double c = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 1.0;
            if (c < min_cos) min_cos = c;
        }
        for (size_t i = 0; i < (size_t)size * size * N_CLASSES; i++) {
            double e = fabs((double)a.maps[i] - b.maps[i]);
            if (e > max_map) max_map = e;
        }
        int same = a.n_points == b.n_points &&
                   memcmp(a.points, b.points, 3 * a.n_points * sizeof(int)) == 0;
        /* points of the f32 run found, with the same label, among the bf16 run's (the order of
         * near-equal cells may swap without changing the prompt SAM gets) */
        size_t matching = 0;
        for (size_t i = 0; i < a.n_points; i++)
            for (size_t k = 0; k < b.n_points; k++)
                if (a.points[2 * i] == b.points[2 * k] &&
                    a.points[2 * i + 1] == b.points[2 * k + 1] &&
                    a.points[2 * a.n_points + i] == b.points[2 * b.n_points + k]) {
                    matching++;
                    break;
                }
        /* the maps are min-max normalised per class: read their difference against the spread
         * of the f32 similarity over the patches (a nearly flat map amplifies any rounding) */
        double max_sim = 0.0, min_range = 1e30;
        for (int c = 0; c < N_CLASSES; c++) {
            double lo = 1e30, hi = -1e30;
            for (int i = 1; i < t; i++) {
                double x = a.sim[(size_t)i * N_CLASSES + c], y = b.sim[(size_t)i * N_CLASSES + c];
                if (fabs(x - y) > max_sim) max_sim = fabs(x - y);
                lo = x < lo ? x : lo;
                hi = x > hi ? x : hi;
            }
            if (hi - lo < min_range) min_range = hi - lo;
        }
        printf("{\"bench\": \"bf16_accuracy\", \"engine\": \"%s\", \"input\": \"%s\", \"size\": "
               "%d, \"min_token_cosine\": %.6f, \"max_map_abs_diff\": %.4f, \"points\": %zu, "
               "\"points_identical\": %s, \"points_bf16\": %zu, \"points_matching\": %zu, "
               "\"max_similarity_abs_diff\": %.3g, "
               "\"min_similarity_range\": %.3g, \"targets\": {\"min_token_cosine\": 0.9999, "
               "\"max_map_abs_diff\": 0.02}}\n",
               cs_gemm_engine(), source, size, min_cos, max_map, a.n_points,
               same ? "true" : "false", b.n_points, matching, max_sim, min_range);
        fflush(stdout);
    }
    free(a.features);
    free(a.maps);
    free(a.sim);
    free(b.features);
    free(b.maps);
    free(b.sim);
    return rc;
}

static int accuracy(cs_context *c32, const cs_model *m32, cs_context *c16, const cs_model *m16,
                    const float *px, const char *const *photos, int n_photos)
{
    int d = cs_model_embed_dim(m32), rc = 0;
    float *t32 = malloc((size_t)N_CLASSES * d * sizeof(float));
    float *t16 = malloc((size_t)N_CLASSES * d * sizeof(float));
    float *img = malloc((size_t)3 * 512 * 512 * sizeof(float));
    if (!t32 || !t16 || !img) rc = -1;
    if (rc == 0 && (cs_prompt_ensemble(c32, classes, N_CLASSES, t32, (size_t)N_CLASSES * d) ||
                    cs_prompt_ensemble(c16, classes, N_CLASSES, t16, (size_t)N_CLASSES * d))) {
        fprintf(stderr, "bench_encode: accuracy: %s\n", cs_last_error());
        rc = -1;
    }
    for (int size = 224; rc == 0 && size <= 512; size += 288) {
        rc |= compare("random pixels", size, c32, m32, t32, c16, m16, t16, px);
        for (int p = 0; rc == 0 && p < n_photos; p++) {
            cs_image *im = NULL;
            if (cs_image_decode_file(photos[p], NULL, &im) != CS_OK ||
                cs_image_preprocess(im, size, img, (size_t)3 * 512 * 512) != CS_OK) {
                fprintf(stderr, "bench_encode: %s: %s\n", photos[p], cs_last_error());
                rc = -1;
            } else {
                const char *base = strrchr(photos[p], '/');
                rc |= compare(base ? base + 1 : photos[p], size, c32, m32, t32, c16, m16, t16,
                              img);
            }
            cs_image_free(im);
        }
    }
    free(t32);
    free(t16);
    free(img);
    return rc;
}

/* ---- main ------------------------------------------------------------------------------- */

static cs_model *load(const char *path, const char *vocab, unsigned flags, cs_status *st)
{
    cs_model_params mp;
    cs_model_params_default(&mp);
    mp.vocab_path = vocab;
    mp.flags = flags;
    cs_model *m = NULL;
    *st = cs_model_load(path, &mp, &m);
    return m;
}

/* A number argument, or exits with the usage line. */
static double number(const char *s, double lo, double hi, const char *what)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "bench_encode: bad %s %s (%g..%g)\n", what, s, lo, hi);
        exit(2);
    }
    return v;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_encode MODEL [--vocab PATH] [--threads N] [--reps R] "
                    "[--roof-f32 G] [--roof-bf16 G] [--photo IMAGE]...\n");
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *vocab = NULL, *photos[MAX_PHOTOS];
    int threads = 0, reps = 3, n_photos = 0;
    double roof32 = 0, roof16 = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--vocab") == 0 && i + 1 < argc) vocab = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = (int)number(argv[++i], 0, 256, "--threads");
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = (int)number(argv[++i], 1, 1000, "--reps");
        else if (strcmp(argv[i], "--roof-f32") == 0 && i + 1 < argc)
            roof32 = number(argv[++i], 0, 1e6, "--roof-f32");
        else if (strcmp(argv[i], "--roof-bf16") == 0 && i + 1 < argc)
            roof16 = number(argv[++i], 0, 1e6, "--roof-bf16");
        else if (strcmp(argv[i], "--photo") == 0 && i + 1 < argc) {
            if (n_photos == MAX_PHOTOS) {
                fprintf(stderr, "bench_encode: at most %d --photo\n", MAX_PHOTOS);
                return 2;
            }
            photos[n_photos++] = argv[++i];
        }
        else if (!model_path && argv[i][0] != '-') model_path = argv[i];
        else {
            usage();
            return 2;
        }
    }
    if (!model_path || reps < 1) {
        usage();
        return 2;
    }
    const char *env = getenv("OPENBLAS_NUM_THREADS"), *omp = getenv("OMP_NUM_THREADS");
    int par = openblas_get_parallel();
    printf("{\"bench\": \"config\", \"library\": \"%s\", \"engine\": \"%s\", \"blas\": \"%s\", "
           "\"blas_parallel\": \"%s\", \"blas_threads\": %d, \"OPENBLAS_NUM_THREADS\": \"%s\", "
           "\"OMP_NUM_THREADS\": \"%s\", \"threads\": %d, \"online_cores\": %ld}\n",
           cs_version_string(), cs_gemm_engine(), openblas_get_config(),
           par == 2 ? "openmp" : par == 1 ? "pthreads" : "serial", openblas_get_num_threads(),
           env ? env : "", omp ? omp : "", threads, sysconf(_SC_NPROCESSORS_ONLN));

    cs_status s;
    double t0 = now();
    cs_model *m = load(model_path, vocab, 0, &s);
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
    bench b = {cs_model_backbone(m) == CS_BACKBONE_RESNET ? "resnet" : "vit", "f32", roof32, reps};
    printf("{\"bench\": \"model_load\", \"backbone\": \"%s\", \"precision\": \"f32\", "
           "\"seconds\": %.4f, \"dtype_bits\": %d, \"layout\": \"%s\", \"vision_width\": %d, "
           "\"vision_layers\": %d, \"text_width\": %d, \"embed_dim\": %d, \"peak_rss_mb\": %.1f}\n",
           b.backbone, load_s, info.dtype_bits, info.layout == CS_LAYOUT_HF ? "hf" : "openai",
           info.vision_width, info.vision_layers, info.text_width, info.embed_dim, peak_rss_mb());
    fflush(stdout);

    cs_context_params cp;
    cs_context_params_default(&cp);
    cp.n_threads = threads;
    cs_context *ctx = NULL;
    if (cs_context_create(m, &cp, &ctx) != CS_OK) {
        fprintf(stderr, "bench_encode: context: %s\n", cs_last_error());
        return 1;
    }
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
    int rc = run_all(&b, ctx, m, px, f, cap);
    if (!cs_model_tokenizer(m))
        printf("{\"bench\": \"prompt_ensemble\", \"skipped\": \"no vocabulary (give --vocab)\"}\n");

    /* bf16: the same tasks, then the accuracy against f32 */
    t0 = now();
    cs_model *m16 = load(model_path, vocab, CS_MODEL_PRECISION_BF16, &s);
    load_s = now() - t0;
    if (s != CS_OK) {
        printf("{\"bench\": \"bf16\", \"skipped\": \"%s\"}\n",
               s == CS_ERR_UNSUPPORTED ? "not available in this build or on this CPU"
                                       : cs_status_string(s));
        fprintf(stderr, "bench_encode: bf16: %s\n", cs_last_error());
    } else {
        printf("{\"bench\": \"model_load\", \"backbone\": \"%s\", \"precision\": \"bf16\", "
               "\"seconds\": %.4f, \"peak_rss_mb\": %.1f}\n",
               b.backbone, load_s, peak_rss_mb());
        cs_context *c16 = NULL;
        if (cs_context_create(m16, &cp, &c16) != CS_OK) {
            fprintf(stderr, "bench_encode: context: %s\n", cs_last_error());
            return 1;
        }
        bench b16 = b;
        b16.precision = "bf16";
        b16.roof = roof16;
        rc |= run_all(&b16, c16, m16, px, f, cap);
        if (cs_model_tokenizer(m))
            rc |= accuracy(ctx, m, c16, m16, px, photos, n_photos);
        else
            printf("{\"bench\": \"bf16_accuracy\", \"skipped\": \"no vocabulary (give --vocab)\"}\n");
        cs_context_free(c16);
        cs_model_free(m16);
    }
    printf("{\"bench\": \"summary\", \"backbone\": \"%s\", \"peak_rss_mb\": %.1f}\n", b.backbone,
           peak_rss_mb());
    free(px);
    free(f);
    cs_context_free(ctx);
    cs_model_free(m);
    return rc ? 1 : 0;
}
