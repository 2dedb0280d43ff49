/* The dataset side of `clipsurgery eval`: classes file, split list or labels.tsv, and the
 * existence of every image and mask, checked before the model is loaded (EVAL.md 1.1, 4). */
#include "eval.h"

#include "core/common.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static char *join(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + (c ? strlen(c) : 0) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s%s", a, *a && a[strlen(a) - 1] != '/' ? "/" : "", b, c ? c : "");
    return s;
}

static int read_text(const eval_run *run, const char *path, char **text, size_t *len)
{
    cs_status s = cs_read_file(path, (size_t)64 << 20, text, len);
    if (s != CS_OK) {
        fprintf(stderr, "clipsurgery %s: %s: %s\n", run->cmd, path, cs_last_error());
        return CLI_RUNTIME;
    }
    return CLI_OK;
}

/* A parser's "line N: ..." message as "FILE:N: ..." */
static int parse_error(const eval_run *run, const char *path)
{
    const char *m = cs_last_error();
    int line;
    char rest[1024];
    if (sscanf(m, "line %d: %1023[^\n]", &line, rest) == 2)
        fprintf(stderr, "clipsurgery %s: %s:%d: %s\n", run->cmd, path, line, rest);
    else
        fprintf(stderr, "clipsurgery %s: %s: %s\n", run->cmd, path, m);
    return CLI_RUNTIME;
}

char *eval_image_path(const eval_run *run, int i)
{
    if (run->tool == EVAL_MULTILABEL) {
        const char *p = run->labels->paths[i];
        if (p[0] == '/') return strdup(p);
        return join(run->labels_dir, p, NULL);
    }
    char *dir = join(run->root, "JPEGImages", NULL);
    char *p = dir ? join(dir, run->ids[i], ".jpg") : NULL;
    free(dir);
    return p;
}

char *eval_mask_path(const eval_run *run, int i)
{
    char *dir = join(run->root, "SegmentationClass", NULL);
    char *p = dir ? join(dir, run->ids[i], ".png") : NULL;
    free(dir);
    return p;
}

static int read_classes(eval_run *run)
{
    char *text;
    size_t len;
    if (read_text(run, run->classes_path, &text, &len) != CLI_OK) return CLI_RUNTIME;
    cs_status s = cs_voc_classes_parse(text, len, &run->classes);
    free(text);
    if (s != CS_OK) return parse_error(run, run->classes_path);
    const cs_voc_classes *c = run->classes;
    run->n_text = c->n_classes - (c->has_background ? 1 : 0);
    if (run->n_text < 1) {
        fprintf(stderr, "clipsurgery %s: %s: no class besides the background\n", run->cmd,
                run->classes_path);
        return CLI_RUNTIME;
    }
    run->text_class = malloc(sizeof(int) * (size_t)run->n_text);
    run->query_text = malloc(sizeof(int) * (size_t)c->n_queries);
    if (!run->text_class || !run->query_text) return CLI_RUNTIME;
    for (int j = 0; j < run->n_text; j++) run->text_class[j] = j + (c->has_background ? 1 : 0);
    for (int q = 0; q < c->n_queries; q++)
        run->query_text[q] = c->query_class[q] - (c->has_background ? 1 : 0);
    if (run->have_bg_threshold && !c->has_background) {
        fprintf(stderr,
                "clipsurgery %s: %s:1: --bg-threshold needs a background class (line 1 must be "
                "exactly 'background'; it is '%s')\n",
                run->cmd, run->classes_path, c->names[0]);
        return CLI_RUNTIME;
    }
    if (run->reduce_zero_label && c->has_background)
        return cli_usage_error(run->cmd, "--reduce-zero-label: %s starts with a background line; "
                               "the reduced class list has none", run->classes_path);
    if (run->tool != EVAL_SEGMENT && c->n_queries < 2) {
        fprintf(stderr, "clipsurgery %s: %s: label-set feature surgery needs at least two "
                "queries, the file gives %d\n", run->cmd, run->classes_path, c->n_queries);
        return CLI_RUNTIME;
    }
    return CLI_OK;
}

static int open_voc(eval_run *run)
{
    if (!is_dir(run->root)) {
        fprintf(stderr, "clipsurgery %s: %s: not a folder\n", run->cmd, run->root);
        return CLI_RUNTIME;
    }
    static const char *const need[] = {"JPEGImages", "SegmentationClass", "ImageSets/Segmentation"};
    for (int k = 0; k < 3; k++) {
        char *d = join(run->root, need[k], NULL);
        int ok = d && is_dir(d);
        if (!ok) fprintf(stderr, "clipsurgery %s: %s: missing folder (a VOC layout has "
                         "JPEGImages/, SegmentationClass/ and ImageSets/Segmentation/)\n",
                         run->cmd, d ? d : need[k]);
        free(d);
        if (!ok) return CLI_RUNTIME;
    }
    char *dir = join(run->root, "ImageSets/Segmentation", NULL);
    char *split = dir ? join(dir, run->split, ".txt") : NULL;
    free(dir);
    if (!split) return CLI_RUNTIME;
    char *text;
    size_t len;
    int rc = read_text(run, split, &text, &len);
    if (rc == CLI_OK) {
        cs_status s = cs_voc_ids_parse(text, len, &run->ids, &run->n_ids, &run->id_lines);
        free(text);
        if (s != CS_OK) rc = parse_error(run, split);
    }
    if (rc == CLI_OK && run->n_ids == 0) {
        fprintf(stderr, "clipsurgery %s: %s: empty split (no id)\n", run->cmd, split);
        rc = CLI_RUNTIME;
    }
    for (int i = 0; rc == CLI_OK && i < run->n_ids; i++) {
        char *img = eval_image_path(run, i), *mask = eval_mask_path(run, i);
        if (!img || !mask) rc = CLI_RUNTIME;
        else if (!is_file(img)) {
            fprintf(stderr, "clipsurgery %s: %s:%d: id '%s' has no JPEG (%s)\n", run->cmd, split,
                    run->id_lines[i], run->ids[i], img);
            rc = CLI_RUNTIME;
        } else if (!is_file(mask)) {
            fprintf(stderr, "clipsurgery %s: %s:%d: id '%s' has no mask (%s)\n", run->cmd, split,
                    run->id_lines[i], run->ids[i], mask);
            rc = CLI_RUNTIME;
        }
        free(img);
        free(mask);
    }
    run->split_path = split;
    return rc;
}

static int open_labels(eval_run *run)
{
    char *text;
    size_t len;
    if (read_text(run, run->labels_path, &text, &len) != CLI_OK) return CLI_RUNTIME;
    cs_status s = cs_voc_labels_parse(text, len, run->classes, &run->labels);
    free(text);
    if (s != CS_OK) return parse_error(run, run->labels_path);
    if (run->labels->n == 0) {
        fprintf(stderr, "clipsurgery %s: %s: no image listed\n", run->cmd, run->labels_path);
        return CLI_RUNTIME;
    }
    const char *slash = strrchr(run->labels_path, '/');
    size_t n = slash ? (size_t)(slash - run->labels_path) + 1 : 0;
    run->labels_dir = malloc(n + 1);
    if (!run->labels_dir) return CLI_RUNTIME;
    memcpy(run->labels_dir, run->labels_path, n);
    run->labels_dir[n] = 0;
    for (int i = 0; i < run->labels->n; i++) {
        char *img = eval_image_path(run, i);
        if (!img) return CLI_RUNTIME;
        int ok = is_file(img);
        if (!ok)
            fprintf(stderr, "clipsurgery %s: %s:%d: image %s does not exist\n", run->cmd,
                    run->labels_path, run->labels->lines[i], img);
        free(img);
        if (!ok) return CLI_RUNTIME;
    }
    return CLI_OK;
}

int eval_dataset_open(eval_run *run)
{
    int rc = read_classes(run);
    if (rc != CLI_OK) return rc;
    return run->tool == EVAL_MULTILABEL ? open_labels(run) : open_voc(run);
}

void eval_dataset_close(eval_run *run)
{
    cs_voc_classes_free(run->classes);
    cs_voc_strings_free(run->ids, run->n_ids);
    free(run->id_lines);
    free(run->split_path);
    cs_voc_labels_free(run->labels);
    free(run->labels_dir);
    free(run->text_class);
    free(run->query_text);
    cs_voc_strings_free(run->corrupt, run->n_corrupt);
}
