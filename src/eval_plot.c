/* --plot: a self-contained SVG chart (no script, no external reference): one bar per class with
 * its name, value labels, and for explain the mIoU(tau) curve with the best tau marked. */
#include "cli_job.h"
#include "eval.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Text with XML's five special characters escaped; control bytes (invalid in XML 1.0) become '?'. */
static void xml_text(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if (*p < 0x20 && *p != '\t') fputc('?', f);
            else fputc(*p, f);
        }
    }
}

int eval_plot_svg(const eval_run *r, const char *path, const char *title, const char *axis,
                  const char *const *names, const double *values, int n, const double *curve,
                  int best)
{
    if (cli_make_parent(path) != 0) {
        fprintf(stderr, "clipsurgery %s: cannot create the folder of %s\n", r->cmd, path);
        return CLI_RUNTIME;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "clipsurgery %s: cannot write %s\n", r->cmd, path);
        return CLI_RUNTIME;
    }
    const int left = 70, top = 50, ph = 260, bw = 36, gap = 12;
    const int pw = n * (bw + gap) + gap > 400 ? n * (bw + gap) + gap : 400;
    const int curve_h = curve ? 300 : 0;
    const int width = left + pw + 40, height = top + ph + 130 + curve_h;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
            width, height, width, height);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", width, height);
    fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"15\" font-weight=\"bold\">", left);
    xml_text(f, title);
    fputs("</text>\n", f);
    /* axes and grid 0..1 */
    for (int k = 0; k <= 4; k++) {
        double y = top + ph - ph * k / 4.0;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", left,
                y, left + pw, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", left - 6,
                y + 4, k / 4.0);
    }
    fprintf(f, "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" text-anchor=\"middle\">",
            top + ph / 2, top + ph / 2);
    xml_text(f, axis);
    fputs("</text>\n", f);
    for (int i = 0; i < n; i++) {
        int x = left + gap + i * (bw + gap);
        double v = values[i];
        if (isfinite(v)) {
            double vv = v < 0 ? 0 : v > 1 ? 1 : v;
            double h = ph * vv;
            fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"#4878a8\">"
                       "<title>", x, top + ph - h, bw, h);
            xml_text(f, names[i]);
            fprintf(f, ": %.6f</title></rect>\n", v);
            fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\">%.3f"
                       "</text>\n", x + bw / 2, top + ph - h - 4, v);
        } else {
            fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\" "
                       "fill=\"#999\">n/a</text>\n", x + bw / 2, top + ph - 4);
        }
        int ty = top + ph + 14;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" transform=\"rotate(-45 %d %d)\">",
                x + bw / 2, ty, x + bw / 2, ty);
        xml_text(f, names[i]);
        fputs("</text>\n", f);
    }
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", left,
            top + ph, left + pw, top + ph);
    if (curve) {
        const int ct = top + ph + 150, ch = 220;
        double lo = INFINITY, hi = -INFINITY;
        for (int k = 0; k < CS_EXPLAIN_N_TAUS; k++)
            if (isfinite(curve[k])) lo = fmin(lo, curve[k]), hi = fmax(hi, curve[k]);
        if (!isfinite(lo)) lo = 0, hi = 1;
        if (hi - lo < 1e-9) lo -= 0.05, hi += 0.05;
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">mIoU(tau), tau = k/20</text>\n",
                left, ct - 12);
        for (int k = 0; k <= 4; k++) {
            double v = lo + (hi - lo) * k / 4.0, y = ct + ch - ch * k / 4.0;
            fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                    left, y, left + pw, y);
            fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.4f</text>\n", left - 6,
                    y + 4, v);
        }
        fputs("<polyline fill=\"none\" stroke=\"#c0504d\" stroke-width=\"2\" points=\"", f);
        for (int k = 0; k < CS_EXPLAIN_N_TAUS; k++) {
            if (!isfinite(curve[k])) continue;
            double x = left + pw * k / 19.0, y = ct + ch - ch * (curve[k] - lo) / (hi - lo);
            fprintf(f, "%s%.1f,%.1f", k ? " " : "", x, y);
        }
        fputs("\"/>\n", f);
        for (int k = 0; k < CS_EXPLAIN_N_TAUS; k += 2)
            fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.2f</text>\n",
                    left + pw * k / 19.0, ct + ch + 16, cs_explain_tau(k));
        if (best >= 0 && isfinite(curve[best])) {
            double x = left + pw * best / 19.0, y = ct + ch - ch * (curve[best] - lo) / (hi - lo);
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#c0504d\"/>\n", x, y);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">best tau %.2f: %.4f</text>\n",
                    x + 8, y - 8, cs_explain_tau(best), curve[best]);
        }
    }
    fputs("</svg>\n", f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad) {
        fprintf(stderr, "clipsurgery %s: error writing %s\n", r->cmd, path);
        return CLI_RUNTIME;
    }
    return CLI_OK;
}
