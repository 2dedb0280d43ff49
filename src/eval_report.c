/* Reports of `clipsurgery eval`: JSON (what was run + the metrics), per-class CSV and the SVG
 * chart. Undefined values are written as null (JSON) or empty (CSV), never as 0. */
#include "cli_job.h"
#include "eval.h"

#include "core/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.17g", v);
    else fputs("null", f);
}

static void csv_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.17g", v);
}

/* A CSV field: quoted when it holds a comma, quote or newline. */
static void csv_str(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void ints(FILE *f, const int64_t *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%lld", i ? ", " : "", (long long)v[i]);
    fputc(']', f);
}

static void nums(FILE *f, const double *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        if (i) fputs(", ", f);
        num(f, v[i]);
    }
    fputc(']', f);
}

static FILE *open_out(const eval_run *r, const char *path, int *close_it)
{
    *close_it = 0;
    if (!path || !strcmp(path, "-")) return stdout;
    if (cli_make_parent(path) != 0) {
        fprintf(stderr, "clipsurgery %s: cannot create the folder of %s\n", r->cmd, path);
        return NULL;
    }
    char *target = NULL; /* the library's rule: a FIFO would block the open, a device is no report */
    cs_status ts = cs_output_target(path, &target);
    if (ts != CS_OK) {
        fprintf(stderr, "clipsurgery %s: %s\n", r->cmd, cs_last_error());
        return NULL;
    }
    free(target);
    FILE *f = fopen(path, "w");
    if (!f) fprintf(stderr, "clipsurgery %s: cannot write %s\n", r->cmd, path);
    else *close_it = 1;
    return f;
}

static int close_out(const eval_run *r, FILE *f, int close_it, const char *path)
{
    int bad = ferror(f);
    if (close_it) bad |= fclose(f) != 0;
    else fflush(f);
    if (bad) {
        fprintf(stderr, "clipsurgery %s: error writing %s\n", r->cmd, path ? path : "stdout");
        return CLI_RUNTIME;
    }
    return CLI_OK;
}

/* "what was run" */
static void header(FILE *f, const eval_run *r)
{
    static const char *const tools[] = {"segment", "explain", "multilabel"};
    const cs_voc_classes *c = r->classes;
    fprintf(f, "{\n  \"tool\": \"%s\",\n  \"protocol\": \"EVAL.md v1\",\n  \"model\": ",
            tools[r->tool]);
    cli_json_string(f, r->model_path);
    fprintf(f, ",\n  \"size\": %d,\n  \"grid\": %d,\n  \"method\": ", r->size,
            r->size / cs_model_patch_size(r->model));
    cli_json_string(f, r->method);
    fprintf(f, ",\n  \"precision\": \"%s\",\n  \"gemm_engine\": \"%s\"",
            r->precision_flags & CS_MODEL_PRECISION_BF16 ? "bf16" : "f32", cs_gemm_engine());
    if (r->tool == EVAL_MULTILABEL) {
        fputs(",\n  \"labels\": ", f);
        cli_json_string(f, r->labels_path);
        fprintf(f, ",\n  \"score\": \"%s\"", r->baseline ? "baseline" : "surgery");
    } else {
        fputs(",\n  \"root\": ", f);
        cli_json_string(f, r->root);
        fputs(",\n  \"split\": ", f);
        cli_json_string(f, r->split);
    }
    fputs(",\n  \"classes_file\": ", f);
    cli_json_string(f, r->classes_path);
    fputs(",\n  \"classes\": [", f);
    for (int k = 0; k < c->n_classes; k++) {
        if (k) fputs(", ", f);
        cli_json_string(f, c->names[k]);
    }
    fputs("],\n  \"queries\": [", f);
    for (int q = 0; q < c->n_queries; q++) {
        if (q) fputs(", ", f);
        cli_json_string(f, c->queries[q]);
    }
    fprintf(f, "],\n  \"background_class\": %s,\n  \"text_classes\": [",
            c->has_background ? "0" : "null");
    for (int j = 0; j < r->n_text; j++) fprintf(f, "%s%d", j ? ", " : "", r->text_class[j]);
    int total = r->tool == EVAL_MULTILABEL ? r->labels->n : r->n_ids;
    fprintf(f, "],\n  \"n_images\": %d,\n  \"n_evaluated\": %d,\n  \"n_corrupt\": %d,\n"
            "  \"corrupt\": [", total, r->n_done, r->n_corrupt);
    for (int i = 0; i < r->n_corrupt; i++) {
        if (i) fputs(", ", f);
        cli_json_string(f, r->corrupt[i]);
    }
    fprintf(f, "],\n  \"seconds\": %.3f,\n", r->seconds);
}

static int write_csv_header(const eval_run *r, FILE **f, int *close_it)
{
    *f = open_out(r, r->csv_path, close_it);
    return *f ? CLI_OK : CLI_RUNTIME;
}

int eval_report_segment(eval_run *r, const cs_seg_metrics *m, const int64_t *per_image)
{
    const int K = r->classes->n_classes;
    double *iou = malloc(sizeof(double) * 2 * K), aacc, miou, macc;
    int64_t *a = malloc(sizeof(int64_t) * 4 * K);
    if (!iou || !a) {
        free(iou);
        free(a);
        return CLI_RUNTIME;
    }
    double *acc = iou + K;
    cs_seg_metrics_compute(m, iou, acc, (size_t)K, &aacc, &miou, &macc);
    cs_seg_metrics_areas(m, a, a + K, a + 2 * K, a + 3 * K, (size_t)K);
    int close_it, rc = CLI_OK;
    FILE *f = open_out(r, r->out_path, &close_it);
    if (!f) rc = CLI_RUNTIME;
    if (f) {
        header(f, r);
        fputs("  \"bg_threshold\": ", f);
        num(f, r->have_bg_threshold ? r->bg_threshold : NAN);
        fprintf(f, ",\n  \"gt_class0_as_ignore\": %s,\n  \"reduce_zero_label\": %s,\n",
                r->classes->has_background && !r->have_bg_threshold ? "true" : "false",
                r->reduce_zero_label ? "true" : "false");
        fputs("  \"IoU\": ", f);
        nums(f, iou, K);
        fputs(",\n  \"Acc\": ", f);
        nums(f, acc, K);
        fputs(",\n  \"aAcc\": ", f);
        num(f, aacc);
        fputs(",\n  \"mIoU\": ", f);
        num(f, miou);
        fputs(",\n  \"mAcc\": ", f);
        num(f, macc);
        static const char *const names[4] = {"area_intersect", "area_union", "area_pred_label",
                                             "area_label"};
        for (int k = 0; k < 4; k++) {
            fprintf(f, ",\n  \"%s\": ", names[k]);
            ints(f, a + (size_t)k * K, K);
        }
        fputs(",\n  \"per_image\": {", f);
        int first = 1;
        for (int i = 0; i < r->n_ids; i++) {
            const int64_t *p = per_image + (size_t)i * 4 * K;
            if (p[0] == INT64_MIN) continue;
            fprintf(f, "%s\n    ", first ? "" : ",");
            first = 0;
            cli_json_string(f, r->ids[i]);
            fputs(": {", f);
            for (int k = 0; k < 4; k++) {
                fprintf(f, "%s\"%s\": ", k ? ", " : "", names[k]);
                ints(f, p + (size_t)k * K, K);
            }
            fputc('}', f);
        }
        fputs("\n  }\n}\n", f);
        rc = close_out(r, f, close_it, r->out_path);
    }
    if (rc == CLI_OK && r->csv_path) {
        rc = write_csv_header(r, &f, &close_it);
        if (rc == CLI_OK) {
            fputs("class,name,IoU,Acc,area_intersect,area_union,area_pred_label,area_label\n", f);
            for (int k = 0; k < K; k++) {
                fprintf(f, "%d,", k);
                csv_str(f, r->classes->names[k]);
                fputc(',', f);
                csv_num(f, iou[k]);
                fputc(',', f);
                csv_num(f, acc[k]);
                fprintf(f, ",%lld,%lld,%lld,%lld\n", (long long)a[k], (long long)a[K + k],
                        (long long)a[2 * K + k], (long long)a[3 * K + k]);
            }
            rc = close_out(r, f, close_it, r->csv_path);
        }
    }
    if (rc == CLI_OK && r->plot_path) {
        char title[256];
        snprintf(title, sizeof title, "eval segment: per-class IoU (mIoU %.4f, aAcc %.4f)", miou,
                 aacc);
        rc = eval_plot_svg(r, r->plot_path, title, "IoU",
                           (const char *const *)r->classes->names, iou, K, NULL, -1);
    }
    free(iou);
    free(a);
    return rc;
}

int eval_report_explain(eval_run *r, const cs_explain_metrics *m)
{
    const int K = r->classes->n_classes, NT = CS_EXPLAIN_N_TAUS;
    double curve[CS_EXPLAIN_N_TAUS], best_miou, msc;
    int best, nc;
    cs_explain_metrics_compute(m, curve, &best, &best_miou, &msc, &nc);
    int close_it, rc = CLI_OK;
    FILE *f = open_out(r, r->out_path, &close_it);
    if (!f) return CLI_RUNTIME;
    header(f, r);
    fputs("  \"taus\": [", f);
    for (int k = 0; k < NT; k++) fprintf(f, "%s%.2f", k ? ", " : "", cs_explain_tau(k));
    fputs("],\n  \"classes_evaluated\": [", f);
    int first = 1;
    for (int c = 0; c < K; c++) {
        int ev;
        cs_explain_metrics_counts(m, c, NULL, NULL, &ev);
        if (ev) fprintf(f, "%s%d", first ? "" : ", ", c), first = 0;
    }
    fputs("],\n  \"curve\": ", f);
    nums(f, curve, NT);
    fprintf(f, ",\n  \"best_index\": %d,\n  \"best_tau\": ", best);
    num(f, best >= 0 ? cs_explain_tau(best) : NAN);
    fputs(",\n  \"best_mIoU\": ", f);
    num(f, best_miou);
    fputs(",\n  \"mSC\": ", f);
    num(f, msc);
    size_t np = cs_explain_metrics_n_pairs(m);
    fprintf(f, ",\n  \"n_sc_pairs\": %zu,\n  \"sc_pairs\": [", np);
    /* image numbers count evaluated images only: map back to the split's ids */
    int *evaluated_ids = malloc(sizeof(int) * (size_t)(r->n_ids + 1));
    if (!evaluated_ids) return CLI_RUNTIME;
    {
        int e = 0, ci = 0;
        for (int i = 0; i < r->n_ids; i++) {
            if (ci < r->n_corrupt && !strcmp(r->corrupt[ci], r->ids[i])) {
                ci++;
                continue;
            }
            evaluated_ids[e++] = i;
        }
    }
    for (size_t p = 0; p < np; p++) {
        int64_t img;
        int c;
        cs_explain_metrics_pair(m, p, &img, &c, NULL);
        fprintf(f, "%s[", p ? ", " : "");
        cli_json_string(f, r->ids[evaluated_ids[img]]);
        fprintf(f, ", %d]", c);
    }
    fputs("],\n  \"sc\": [", f);
    for (size_t p = 0; p < np; p++) {
        double sc;
        cs_explain_metrics_pair(m, p, NULL, NULL, &sc);
        if (p) fputs(", ", f);
        num(f, sc);
    }
    free(evaluated_ids);
    fputc(']', f);
    for (int which = 0; which < 2; which++) {
        fprintf(f, ",\n  \"%s\": {", which ? "U" : "I");
        first = 1;
        for (int c = 0; c < K; c++) {
            int64_t I[CS_EXPLAIN_N_TAUS], U[CS_EXPLAIN_N_TAUS];
            int ev;
            cs_explain_metrics_counts(m, c, I, U, &ev);
            if (!ev) continue;
            fprintf(f, "%s\"%d\": ", first ? "" : ", ", c);
            first = 0;
            ints(f, which ? U : I, NT);
        }
        fputc('}', f);
    }
    fputs("\n}\n", f);
    rc = close_out(r, f, close_it, r->out_path);
    /* per-class IoU at the best tau */
    double *iou = malloc(sizeof(double) * K);
    if (!iou) return CLI_RUNTIME;
    for (int c = 0; c < K; c++) {
        int64_t I[CS_EXPLAIN_N_TAUS], U[CS_EXPLAIN_N_TAUS];
        int ev;
        cs_explain_metrics_counts(m, c, I, U, &ev);
        iou[c] = ev && best >= 0 ? (double)I[best] / (double)U[best] : NAN;
    }
    if (rc == CLI_OK && r->csv_path) {
        rc = write_csv_header(r, &f, &close_it);
        if (rc == CLI_OK) {
            fputs("class,name,evaluated,IoU_at_best_tau", f);
            for (int k = 0; k < NT; k++) fprintf(f, ",IoU_tau_%.2f", cs_explain_tau(k));
            fputc('\n', f);
            for (int c = 0; c < K; c++) {
                int64_t I[CS_EXPLAIN_N_TAUS], U[CS_EXPLAIN_N_TAUS];
                int ev;
                cs_explain_metrics_counts(m, c, I, U, &ev);
                fprintf(f, "%d,", c);
                csv_str(f, r->classes->names[c]);
                fprintf(f, ",%d,", ev);
                csv_num(f, iou[c]);
                for (int k = 0; k < NT; k++) {
                    fputc(',', f);
                    if (ev) csv_num(f, (double)I[k] / (double)U[k]);
                }
                fputc('\n', f);
            }
            rc = close_out(r, f, close_it, r->csv_path);
        }
    }
    if (rc == CLI_OK && r->plot_path) {
        char title[256];
        snprintf(title, sizeof title, "eval explain: best tau %.2f, mIoU %.4f, mSC %.4f",
                 best >= 0 ? cs_explain_tau(best) : NAN, best_miou, msc);
        rc = eval_plot_svg(r, r->plot_path, title, "IoU at best tau",
                           (const char *const *)r->classes->names, iou, K, curve, best);
    }
    free(iou);
    return rc;
}

int eval_report_multilabel(eval_run *r, const double *scores, const uint8_t *kept)
{
    const int K = r->classes->n_classes, Kt = r->n_text, n = r->labels->n;
    double *ap_t = malloc(sizeof(double) * Kt), *ap = malloc(sizeof(double) * K), map = NAN;
    int64_t *np_t = calloc((size_t)Kt, sizeof(int64_t)), *np = calloc((size_t)K, sizeof(int64_t));
    double *s2 = malloc(sizeof(double) * (size_t)(n ? n : 1) * Kt);
    uint8_t *l2 = malloc((size_t)(n ? n : 1) * Kt);
    int rc = CLI_OK;
    if (!ap_t || !ap || !np_t || !np || !s2 || !l2) rc = CLI_RUNTIME;
    int m = 0;
    for (int i = 0; rc == CLI_OK && i < n; i++) {
        if (!kept[i]) continue;
        for (int j = 0; j < Kt; j++) {
            s2[(size_t)m * Kt + j] = scores[(size_t)i * Kt + j];
            l2[(size_t)m * Kt + j] = r->labels->labels[(size_t)i * K + r->text_class[j]];
        }
        m++;
    }
    for (int k = 0; ap && k < K; k++) ap[k] = NAN;
    if (rc == CLI_OK && m > 0) {
        cs_status s = cs_average_precision(s2, l2, (size_t)m, Kt, ap_t, np_t, &map);
        if (s != CS_OK) rc = cli_status_error(r->cmd, "average precision", s);
        for (int j = 0; rc == CLI_OK && j < Kt; j++) {
            ap[r->text_class[j]] = ap_t[j];
            np[r->text_class[j]] = np_t[j];
        }
    }
    FILE *f = NULL;
    int close_it = 0;
    if (rc == CLI_OK && !(f = open_out(r, r->out_path, &close_it))) rc = CLI_RUNTIME;
    if (rc == CLI_OK) {
        header(f, r);
        fputs("  \"images\": [", f);
        for (int i = 0; i < n; i++) {
            if (i) fputs(", ", f);
            cli_json_string(f, r->labels->paths[i]);
        }
        fputs("],\n  \"scores\": [", f);
        for (int i = 0; i < n; i++) {
            fputs(i ? ",\n    " : "\n    ", f);
            nums(f, scores + (size_t)i * Kt, Kt);
        }
        fputs("],\n  \"n_pos\": [", f);
        for (int k = 0; k < K; k++) {
            if (k) fputs(", ", f);
            if (r->classes->has_background && k == 0) fputs("null", f);
            else fprintf(f, "%lld", (long long)np[k]);
        }
        fputs("],\n  \"AP\": ", f);
        nums(f, ap, K);
        fputs(",\n  \"mAP\": ", f);
        num(f, map);
        fputs("\n}\n", f);
        rc = close_out(r, f, close_it, r->out_path);
    }
    if (rc == CLI_OK && r->csv_path) {
        rc = write_csv_header(r, &f, &close_it);
        if (rc == CLI_OK) {
            fputs("class,name,n_pos,AP\n", f);
            for (int k = 0; k < K; k++) {
                fprintf(f, "%d,", k);
                csv_str(f, r->classes->names[k]);
                fprintf(f, ",%lld,", (long long)np[k]);
                csv_num(f, ap[k]);
                fputc('\n', f);
            }
            rc = close_out(r, f, close_it, r->csv_path);
        }
    }
    if (rc == CLI_OK && r->plot_path) {
        char title[256];
        snprintf(title, sizeof title, "eval multilabel (%s): per-class AP (mAP %.4f)",
                 r->baseline ? "baseline" : "surgery", map);
        rc = eval_plot_svg(r, r->plot_path, title, "AP",
                           (const char *const *)r->classes->names, ap, K, NULL, -1);
    }
    free(ap_t);
    free(ap);
    free(np_t);
    free(np);
    free(s2);
    free(l2);
    return rc;
}
