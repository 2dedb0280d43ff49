/* The shared pipeline of the map-producing subcommands (heatmap, points, segment, labels):
 * argument parsing, inputs (image files or pixel_values tensors), the text-feature cache, and
 * the surgery image encoder + feature surgery per image. */
#ifndef CS_CLI_JOB_H
#define CS_CLI_JOB_H

#include "cli.h"

typedef struct cli_input {
    char *path;        /* as given */
    char *stem;        /* file name without folder and extension (+ "_<b>" inside a batch),
                          made unique within a run ("_2", "_3", ... for repeats) */
    int batch_index;   /* entry of a [B, 3, H, W] pixel_values tensor, or -1 */
    cs_image *image;   /* decoded image; NULL for pixel_values input */
    float *pixels;     /* [3, height, width] normalised */
    int height, width; /* encoder input size */
    int map_h, map_w;  /* output map size: the original image, or --map-size */
} cli_input;

typedef struct cli_job {
    const char *cmd;
    const char *model_path, *vocab, *out_dir, *maps_path, *out_mask, *batch_list;
    int size, threads, empty_text, no_cache, map_h, map_w, surgery_blocks;
    unsigned precision_flags; /* --precision: 0 or CS_MODEL_PRECISION_BF16 */
    float threshold;
    /* --method (default clip-surgery); method_surgery: raw or clip-surgery, whose maps go
     * through feature surgery (the other methods use plain cosines unless --empty-text) */
    const char *method_name;
    cs_method_params method;
    int method_surgery;
    /* segment's dense pipeline (--preprocess mmseg, --slide, --pamr, --logit-scale,
     * --bg-threshold, --logits): dense != 0 when any is given */
    int dense, mmseg, short_side, slide_crop, slide_stride, pamr_iters, n_pamr_dil;
    int pamr_dil[16];
    float logit_scale, bg_threshold;
    const char *logits_path;
    int no_features; /* cli_job_run hands NULL features (the step computes its own) */
    char **image_args;
    int n_image_args, owns_image_args;
    char **texts;
    int n_texts;
    /* explain-text, boxes, heatmap --masks */
    const char *masks_dir;          /* heatmap --masks DIR */
    cs_threshold_params box_threshold; /* --threshold KIND[:VALUE] of heatmap/boxes */
    int have_box_threshold;
    long long min_area;             /* boxes --min-area */
    int top_k;                      /* explain-text --top */
    int no_ensembles;               /* explain-text: texts are captions, no prompt ensembles */
    char **used_stems; /* stems given out so far in this run (unique output names) */
    int n_used_stems;
    /* filled by cli_job_prepare */
    cs_model *model;
    cs_context *ctx;
    int dim;
    float *text_features; /* [n_texts, dim] prompt ensembles, normalised */
    float *redundant;     /* [dim] ensemble of "" */
} cli_job;

enum { JOB_HEATMAP = 1, JOB_POINTS = 2, JOB_SEGMENT = 4, JOB_LABELS = 8, JOB_EXPLAIN = 16,
       JOB_BOXES = 32 };

/* --- job_args.c ---------------------------------------------------------------------------- */
/* Parses argv (argv[0] is the subcommand). Returns -1 to continue, or an exit code (help printed,
 * usage error). */
int cli_job_parse(cli_job *job, int kind, int argc, char **argv, const char *help);
/* Reads --batch LIST (job->batch_list) into job->image_args: one path a line, blank lines and
 * lines starting with # skipped, CRLF accepted. Returns CLI_OK or an exit code. */
int cli_job_read_batch_list(cli_job *job);

/* Parses a --threshold spec: "fixed:V" (any finite V), "quantile:Q" (0..1) or "otsu".
 * Returns 0 on success. */
int cli_parse_threshold(const char *s, cs_threshold_params *p);

/* --- job_inputs.c -------------------------------------------------------------------------- */
/* Loads image argument i (a pixel_values file expands to one input per batch entry) into a
 * malloc'd array. Returns CLI_OK or an exit code. */
int cli_job_load_arg(cli_job *job, int i, cli_input **inputs, int *n_inputs);
/* Size of image argument i without keeping its pixels: the encoder input (height, width) and
 * the map size; *count receives the number of inputs it gives. Returns CLI_OK or an exit code. */
int cli_job_probe_arg(cli_job *job, int i, int *height, int *width, int *map_h, int *map_w,
                      int *count);
void cli_inputs_free(cli_input *inputs, int n);
/* Checks before any work that every input gives the same encoder size and map size (one
 * [B, ...] tensor file needs it). Returns -1 when fine, else an exit code (message printed). */
int cli_job_check_uniform_inputs(cli_job *job);
/* Number of inputs the run will give (pixel_values batches counted from their headers). */
int cli_job_count_inputs(cli_job *job);

/* --- job_encode.c -------------------------------------------------------------------------- */
/* Reads the --batch list, loads model, context, text features (through the cache). Returns CLI_OK
 * or an exit code. */
int cli_job_prepare(cli_job *job);
/* Features of one input with the job's method (CLIP Surgery by default), L2-normalised per
 * token: [n_tokens, dim] malloc'd. */
int cli_job_features(cli_job *job, const cli_input *in, float **features, int *n_tokens,
                     int *grid_h, int *grid_w);
/* --- job_surgery.c ------------------------------------------------------------------------- */
/* Similarity after feature surgery: label-set form when n_texts > 1 and not empty_text (or
 * force_empty), else the empty-text form; for a --method other than raw and clip-surgery, the
 * plain cosines unless --empty-text. [n_tokens, n_texts] malloc'd. */
int cli_job_similarity(cli_job *job, const float *features, int n_tokens, int force_empty,
                       float **similarity);

/* --- job_run.c ----------------------------------------------------------------------------- */
void cli_job_free(cli_job *job);

/* One image of a run, with its surgery features (L2-normalised per token). */
typedef struct cli_image_step {
    const cli_input *in;
    int index, count;      /* position in the run */
    const float *features; /* [n_tokens, dim] */
    int n_tokens, grid_h, grid_w;
} cli_image_step;
typedef int (*cli_image_fn)(cli_job *job, const cli_image_step *step, void *user);

/* The shared run of heatmap, points, segment and labels: cli_job_prepare, then per image argument
 * its inputs (loaded one argument at a time, so a long --batch list does not accumulate), their
 * surgery features handed to fn, with progress on stderr. Returns an exit code. */
int cli_job_run(cli_job *job, cli_image_fn fn, void *user);

/* JSON results of one image: a bare array for a single image; with several images one object
 * {"image", ["index",] "results": [...]} per line ("index": the entry of a pixel_values batch). */
void cli_results_begin(const cli_image_step *step);
void cli_results_end(const cli_image_step *step);
/* Progress line on stderr when total > 1: "[done/total] x images/s". */
void cli_progress(const cli_job *job, int done, int total, double t0);
double cli_now(void);
/* Writes v as a JSON number (%.6g), or null when it is not finite. */
void cli_json_number(FILE *f, double v);
/* File-name part of a text: '/', '\\', spaces and control characters become '_', at most
 * 199 bytes, "" becomes "empty". out: cap bytes (>= 8). */
void cli_name_part(const char *text, char *out, size_t cap);
/* Writes v as a JSON number with 9 significant digits (float32 round trip), or null. */
void cli_json_number9(FILE *f, double v);
/* Creates the folder that will hold `path` (and its parents) when missing. 0 on success. */
int cli_make_parent(const char *path);

/* Text-feature cache (text_cache.c): prompt ensembles cached per (model file identity,
 * vocabulary, library version, GEMM engine, precision flags, class name) under
 * $XDG_CACHE_HOME/clipsurgery (or ~/.cache/clipsurgery), written to a temporary file then
 * renamed, so concurrent writers are safe. out: [n, dim]. */
int cli_cached_ensemble(const char *cmd, cs_context *ctx, const char *model_path, const char *vocab,
                        unsigned precision_flags,
                        int use_cache, const char *const *names, int n, int dim, float *out);
/* Parses one cache entry (size bytes): "CSTF1\n", dim and the name's length (uint32, host order),
 * the name, dim floats, nothing after. Fills out[dim] and returns 0 when the entry is for this
 * name and dim and every value is finite, else -1 (out may then be partly written). */
int cli_text_cache_parse(const void *data, size_t size, const char *name, int dim, float *out);

#endif
