/* clipsurgery eval: the three evaluations of ../shared/docs/EVAL.md (segment, explain,
 * multilabel) over a VOC-layout dataset. cmd_eval.c parses and runs; eval_dataset.c reads the
 * dataset; eval_features.c maps --method to image features; eval_report.c writes JSON and CSV;
 * eval_plot.c writes the SVG chart. */
#ifndef CS_CLI_EVAL_H
#define CS_CLI_EVAL_H

#include "cli.h"

#include "eval/voc_dataset.h"

enum { EVAL_SEGMENT = 0, EVAL_EXPLAIN = 1, EVAL_MULTILABEL = 2 };

typedef struct eval_run {
    int tool;          /* EVAL_* */
    const char *cmd;   /* "eval segment", ... */
    const char *model_path, *root, *split, *classes_path, *labels_path, *vocab;
    const char *pred_dir, *out_path, *csv_path, *plot_path, *method;
    int size, threads, no_cache, reduce_zero_label, baseline, strict;
    unsigned precision_flags; /* --precision: 0 or CS_MODEL_PRECISION_BF16 */
    int have_bg_threshold;
    double bg_threshold;
    /* dataset */
    cs_voc_classes *classes;
    char **ids;        /* segment / explain: split ids */
    int *id_lines;     /* [n_ids] line of each id in the split file */
    char *split_path;  /* ROOT/ImageSets/Segmentation/<split>.txt */
    int n_ids;
    cs_voc_labels *labels; /* multilabel */
    char *labels_dir;  /* folder of labels.tsv */
    int n_text;        /* K_t text classes */
    int *text_class;   /* [K_t] class index of text class j */
    int *query_text;   /* [Q] text-class column of each query */
    /* model */
    cs_model *model;
    cs_context *ctx;
    int dim;
    float *G;          /* [Q, dim] prompt ensembles (normalised) */
    /* bookkeeping */
    int n_done, n_corrupt;
    char **corrupt;    /* ids/paths of images that failed to decode */
    double seconds;
} eval_run;

/* --- eval_dataset.c ------------------------------------------------------------------------- */
/* Reads the classes file, the split (segment/explain) or labels.tsv (multilabel) and checks that
 * every image and mask exists. Prints "clipsurgery eval X: FILE:LINE: message" and returns
 * CLI_RUNTIME on a bad dataset, CLI_USAGE for contradictory options. */
int eval_dataset_open(eval_run *run);
void eval_dataset_close(eval_run *run);
/* Path of image i: ROOT/JPEGImages/<id>.jpg, or the labels.tsv entry resolved against its folder
 * (malloc'd). */
char *eval_image_path(const eval_run *run, int i);
/* ROOT/SegmentationClass/<id>.png (malloc'd). */
char *eval_mask_path(const eval_run *run, int i);

/* --- eval_features.c ------------------------------------------------------------------------ */
/* 1 when --method names a method this build evaluates. */
int eval_method_known(const char *method);
/* Comma-separated list of the known methods (for messages and --help). */
const char *eval_methods_list(void);
/* Image features of the method for one preprocessed input [3, S, S]: [1 + g*g, dim], each token
 * L2-normalised (EVAL.md 1.3), malloc'd. Returns CLI_OK or an exit code (message printed). */
int eval_image_features(eval_run *run, const float *pixels, float **features, int *n_tokens,
                        int *grid);

/* --- eval_report.c -------------------------------------------------------------------------- */
/* The report (JSON to --out or stdout), the per-class CSV (--csv) and the chart (--plot) of each
 * tool. per_image: [n_ids][4][K] areas (intersect, union, pred, label), a first entry of
 * INT64_MIN marking a skipped image. scores: [n_images, K_t]; kept[i] nonzero when image i was
 * scored. Return CLI_OK or CLI_RUNTIME (message printed). */
int eval_report_segment(eval_run *run, const cs_seg_metrics *m, const int64_t *per_image);
int eval_report_explain(eval_run *run, const cs_explain_metrics *m);
int eval_report_multilabel(eval_run *run, const double *scores, const uint8_t *kept);

/* --- eval_plot.c ---------------------------------------------------------------------------- */
/* Self-contained SVG: one bar per entry of values[n] (NaN bars drawn as "n/a") labelled with
 * names[n]; with curve (20 values, may be NULL) also the mIoU(tau) line with best marked.
 * Returns CLI_OK or CLI_RUNTIME (message printed). */
int eval_plot_svg(const eval_run *run, const char *path, const char *title, const char *axis,
                  const char *const *names, const double *values, int n, const double *curve,
                  int best);

#endif
