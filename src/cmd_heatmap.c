/* clipsurgery heatmap: similarity maps after feature surgery and JET overlays (REFERENCE 4, 5). */
#include "cli_job.h"

#include "safetensors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: clipsurgery heatmap MODEL IMAGE... [options] [--] TEXT...\n"
    "Similarity maps of each TEXT on each IMAGE (CLIP Surgery: v-v dual path + feature surgery),\n"
    "written as JET overlays DIR/<image stem>_<text>.png.\n"
    "IMAGE: a PNG/JPEG file or a .safetensors holding \"pixel_values\" [3,S,S] or [B,3,S,S]. "
    "After\n"
    "MODEL, the first argument is an image, then every existing file is an image until the first\n"
    "argument that is not a file (or '--'); the rest are texts.\n"
    "options:\n"
    "  --vocab PATH        vocabulary (default: beside the weights)\n"
    "  --size S            encoder input size (default 224; 512 for high-resolution maps)\n"
    "  --empty-text        feature surgery with the ensemble of \"\" (default: label-set form "
    "when\n"
    "                      there are several texts; a single text always uses the empty-text "
    "form)\n"
    "  --out-dir DIR       overlay folder (default .; created when missing)\n"
    "  --maps FILE         write tensors \"similarity\" [B,1+N,T] and \"maps\" [B,H,W,T]\n"
    "  --map-size HxW      map size (default: the original image; needed for pixel_values)\n"
    "  --batch LIST        more images, one path a line\n"
    "  --threads N         threads (default: all cores)\n"
    "  --surgery-blocks K  dual-path blocks (default 6)\n"
    "  --no-cache          do not read or write the text-feature cache\n";

static void safe_name(char *dst, size_t cap, const char *text)
{
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && j + 1 < cap; p++)
        dst[j++] = (*p == '/' || *p == ' ' || *p == '\\' || *p < 0x20) ? '_' : (char)*p;
    dst[j] = '\0';
    if (j == 0) snprintf(dst, cap, "empty");
}

static int write_overlays(cli_job *job, const cli_input *in, const float *maps)
{
    const char *dir = job->out_dir ? job->out_dir : ".";
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "clipsurgery heatmap: cannot create %s: %s\n", dir, strerror(errno));
        return CLI_RUNTIME;
    }
    if (in->map_w != in->image->width || in->map_h != in->image->height) {
        fprintf(stderr,
                "clipsurgery heatmap: --map-size differs from the image: no overlay for %s\n",
                in->path);
        return CLI_OK;
    }
    size_t cap = (size_t)in->image->width * in->image->height * 3;
    uint8_t *rgb = malloc(cap);
    if (!rgb) return CLI_RUNTIME;
    int rc = CLI_OK;
    for (int t = 0; t < job->n_texts && rc == CLI_OK; t++) {
        cs_status s = cs_overlay_jet(in->image, maps + t, (size_t)job->n_texts, rgb, cap);
        if (s != CS_OK) {
            rc = cli_status_error("heatmap", "overlay", s);
            break;
        }
        char name[256], path[4096];
        safe_name(name, sizeof name, job->texts[t]);
        snprintf(path, sizeof path, "%s/%s_%s.png", dir, in->stem, name);
        s = cs_png_write(path, rgb, in->image->width, in->image->height,
                         (size_t)in->image->width * 3, 3, NULL, 0);
        if (s != CS_OK)
            rc = cli_status_error("heatmap", path, s);
        else
            printf("%s\n", path);
    }
    free(rgb);
    return rc;
}

/* --maps: every image's similarity and maps, gathered for one file. */
typedef struct gathered {
    float *sim, *maps;
    int n, n_tokens, map_h, map_w;
    size_t cap;
} gathered;

static int gather(cli_job *job, gathered *g, const cli_image_step *st, const float *sim,
                  const float *maps)
{
    const cli_input *in = st->in;
    size_t ns = (size_t)st->n_tokens * job->n_texts,
           nm = (size_t)in->map_h * in->map_w * job->n_texts;
    if (g->n == 0) {
        g->n_tokens = st->n_tokens;
        g->map_h = in->map_h;
        g->map_w = in->map_w;
        g->sim = malloc(sizeof(float) * ns * (size_t)st->count);
        g->maps = malloc(sizeof(float) * nm * (size_t)st->count);
        if (!g->sim || !g->maps) return CLI_RUNTIME;
    } else if (st->n_tokens != g->n_tokens || in->map_h != g->map_h || in->map_w != g->map_w) {
        fprintf(stderr,
                "clipsurgery heatmap: --maps needs every input at one size and map size "
                "(%s differs; use --size and --map-size)\n",
                in->path);
        return CLI_RUNTIME;
    }
    memcpy(g->sim + ns * (size_t)g->n, sim, sizeof(float) * ns);
    memcpy(g->maps + nm * (size_t)g->n, maps, sizeof(float) * nm);
    g->n++;
    return CLI_OK;
}

static int one_image(cli_job *job, const cli_image_step *st, void *user)
{
    const cli_input *in = st->in;
    float *sim = NULL, *maps = NULL;
    int rc = cli_job_similarity(job, st->features, st->n_tokens, 0, &sim);
    size_t n_maps = (size_t)in->map_h * in->map_w * job->n_texts;
    if (rc == CLI_OK && !(maps = malloc(sizeof(float) * n_maps))) rc = CLI_RUNTIME;
    if (rc == CLI_OK) {
        cs_status s = cs_similarity_maps(sim, st->grid_h, st->grid_w, job->n_texts, in->map_h,
                                         in->map_w, maps, n_maps);
        if (s != CS_OK) rc = cli_status_error("heatmap", "similarity maps", s);
    }
    if (rc == CLI_OK && in->image)
        rc = write_overlays(job, in, maps);
    else if (rc == CLI_OK && !job->maps_path)
        fprintf(stderr,
                "clipsurgery heatmap: %s holds pixel values, not an image: no overlay "
                "(use --maps FILE to save the maps)\n",
                in->path);
    if (rc == CLI_OK && job->maps_path) rc = gather(job, user, st, sim, maps);
    free(sim);
    free(maps);
    return rc;
}

int cmd_heatmap(int argc, char **argv)
{
    cli_job job;
    memset(&job, 0, sizeof job);
    job.cmd = "heatmap";
    int rc = cli_job_parse(&job, JOB_HEATMAP, argc, argv, help);
    if (rc >= 0) {
        cli_job_free(&job);
        return rc;
    }
    if (job.out_dir && mkdir(job.out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "clipsurgery heatmap: cannot create %s: %s\n", job.out_dir,
                strerror(errno));
        cli_job_free(&job);
        return CLI_RUNTIME;
    }
    gathered g;
    memset(&g, 0, sizeof g);
    rc = cli_job_run(&job, one_image, &g);
    if (rc == CLI_OK && job.maps_path && g.n > 0) {
        int64_t s_shape[3] = {g.n, g.n_tokens, job.n_texts};
        int64_t m_shape[4] = {g.n, g.map_h, g.map_w, job.n_texts};
        cs_st_entry e[2] = {{"similarity", CS_DT_F32, 3, s_shape, g.sim},
                            {"maps", CS_DT_F32, 4, m_shape, g.maps}};
        cs_status s = cs_st_write(job.maps_path, e, 2, NULL, 0);
        if (s != CS_OK) rc = cli_status_error("heatmap", job.maps_path, s);
    }
    free(g.sim);
    free(g.maps);
    cli_job_free(&job);
    return rc;
}
