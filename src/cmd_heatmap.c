/* clipsurgery heatmap: similarity maps after feature surgery and JET overlays (REFERENCE 4, 5). */
#include "cli_job.h"

#include "io/safetensors.h"

#include <jansson.h>

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
    "  --masks DIR         also write binary masks DIR/<image stem>_<text>.png (8-bit, 0/255,\n"
    "                      at the map size; a constant map gives an empty mask)\n"
    "  --threshold KIND    mask threshold: fixed:V, quantile:Q or otsu (default otsu;\n"
    "                      mask = map >= threshold; docs/explain.md)\n"
    "  --batch LIST        more images, one path a line\n"
    "  --threads N         threads (default: all cores)\n"
    "  --precision P       f32 (default) or bf16: matrix products in bfloat16 (needs a\n"
    "                      GEMM=onednn build, a CPU with AVX512_BF16 or AMX;\n"
    "                      docs/PRECISION.md)\n"
    "  --surgery-blocks K  dual-path blocks (default 6; modified blocks of --method)\n"
    "  --method NAME       clip-surgery (default), raw, maskclip, sclip, clearclip, naclip,\n"
    "                      gem; methods other than clip-surgery and raw map their plain\n"
    "                      cosines (no feature surgery unless --empty-text)\n"
    "  --no-cache          do not read or write the text-feature cache\n";

/* File-name part of each text: '/', '\\', spaces and control characters become '_', "" becomes
 * "empty", and a name already taken by an earlier text gets "_<index>" (so no overlay overwrites
 * another). names: n_texts strings of 256 bytes. */
static void text_names(const cli_job *job, char (*names)[256])
{
    for (int t = 0; t < job->n_texts; t++) {
        cli_name_part(job->texts[t], names[t], 256);
        for (int u = 0; u < t; u++)
            if (strcmp(names[u], names[t]) == 0) {
                snprintf(names[t] + strlen(names[t]), 256 - strlen(names[t]), "_%d", t);
                break;
            }
    }
}

/* Overlays at the photo's own size (recomputed there when --map-size asks for another size). */
static int write_overlays(cli_job *job, const cli_input *in, const float *sim, int gh, int gw,
                          const float *maps, char (*names)[256])
{
    const char *dir = job->out_dir ? job->out_dir : ".";
    int w = in->image->width, h = in->image->height, T = job->n_texts;
    float *own = NULL;
    if (in->map_w != w || in->map_h != h) {
        size_t n = (size_t)w * h * T;
        if (!(own = malloc(sizeof(float) * n))) return CLI_RUNTIME;
        cs_status s = cs_similarity_maps(sim, gh, gw, T, h, w, own, n);
        if (s != CS_OK) {
            free(own);
            return cli_status_error("heatmap", "similarity maps", s);
        }
        maps = own;
    }
    size_t cap = (size_t)w * h * 3;
    uint8_t *rgb = malloc(cap);
    int rc = rgb ? CLI_OK : CLI_RUNTIME;
    for (int t = 0; t < T && rc == CLI_OK; t++) {
        cs_status s = cs_overlay_jet(in->image, maps + t, (size_t)T, rgb, cap);
        if (s != CS_OK) {
            rc = cli_status_error("heatmap", "overlay", s);
            break;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s_%s.png", dir, in->stem, names[t]);
        s = cs_png_write(path, rgb, w, h, (size_t)w * 3, 3, NULL, 0);
        if (s != CS_OK)
            rc = cli_status_error("heatmap", path, s);
        else
            printf("%s\n", path);
    }
    free(rgb);
    free(own);
    return rc;
}

/* --maps: every image's similarity and maps, gathered for one file; the overlay names. */
typedef struct gathered {
    char (*names)[256];
    float *sim, *maps;
    int n, n_tokens, map_h, map_w, grid_h, grid_w;
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
        g->grid_h = st->grid_h;
        g->grid_w = st->grid_w;
        g->map_h = in->map_h;
        g->map_w = in->map_w;
        g->sim = malloc(sizeof(float) * ns * (size_t)st->count);
        g->maps = malloc(sizeof(float) * nm * (size_t)st->count);
        if (!g->sim || !g->maps) return CLI_RUNTIME;
    } else if (st->n_tokens != g->n_tokens || in->map_h != g->map_h || in->map_w != g->map_w) {
        fprintf(stderr,
                "clipsurgery heatmap: --maps needs every input at one size and map size "
                "(%s differs; give --map-size HxW)\n",
                in->path);
        return CLI_RUNTIME;
    }
    memcpy(g->sim + ns * (size_t)g->n, sim, sizeof(float) * ns);
    memcpy(g->maps + nm * (size_t)g->n, maps, sizeof(float) * nm);
    g->n++;
    return CLI_OK;
}

/* --masks: one 0/255 PNG per text at the map size. */
static int write_masks(cli_job *job, const cli_input *in, const float *maps, char (*names)[256])
{
    int h = in->map_h, w = in->map_w, T = job->n_texts, rc = CLI_OK;
    size_t n = (size_t)h * w;
    uint8_t *mask = malloc(n);
    if (!mask) return CLI_RUNTIME;
    for (int t = 0; t < T && rc == CLI_OK; t++) {
        cs_status s = cs_map_threshold(maps + t, h, w, (size_t)T, &job->box_threshold, mask, n,
                                       NULL, NULL);
        if (s != CS_OK) {
            rc = cli_status_error("heatmap", "mask threshold", s);
            break;
        }
        for (size_t i = 0; i < n; i++) mask[i] = mask[i] ? 255 : 0;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s_%s.png", job->masks_dir, in->stem, names[t]);
        s = cs_png_write(path, mask, w, h, (size_t)w, 1, NULL, 0);
        if (s != CS_OK)
            rc = cli_status_error("heatmap", path, s);
        else
            printf("%s\n", path);
    }
    free(mask);
    return rc;
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
        rc = write_overlays(job, in, sim, st->grid_h, st->grid_w, maps, ((gathered *)user)->names);
    else if (rc == CLI_OK && !job->maps_path && !job->masks_dir)
        fprintf(stderr,
                "clipsurgery heatmap: %s holds pixel values, not an image: no overlay "
                "(use --maps FILE to save the maps)\n",
                in->path);
    if (rc == CLI_OK && job->masks_dir)
        rc = write_masks(job, in, maps, ((gathered *)user)->names);
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
    if (job.masks_dir && mkdir(job.masks_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "clipsurgery heatmap: cannot create %s: %s\n", job.masks_dir,
                strerror(errno));
        cli_job_free(&job);
        return CLI_RUNTIME;
    }
    gathered g;
    memset(&g, 0, sizeof g);
    g.names = calloc((size_t)job.n_texts, sizeof *g.names);
    if (!g.names) rc = CLI_RUNTIME;
    else text_names(&job, g.names);
    if (rc < 0 && job.maps_path) rc = cli_job_check_uniform_inputs(&job);
    if (rc < 0 && job.maps_path && cli_make_parent(job.maps_path) != 0) {
        fprintf(stderr, "clipsurgery heatmap: cannot create the folder of %s: %s\n", job.maps_path,
                strerror(errno));
        rc = CLI_RUNTIME;
    }
    if (rc < 0) rc = cli_job_run(&job, one_image, &g);
    if (rc == CLI_OK && job.maps_path && g.n > 0) {
        int64_t s_shape[3] = {g.n, g.n_tokens, job.n_texts};
        int64_t m_shape[4] = {g.n, g.map_h, g.map_w, job.n_texts};
        cs_st_entry e[2] = {{"similarity", CS_DT_F32, 3, s_shape, g.sim},
                            {"maps", CS_DT_F32, 4, m_shape, g.maps}};
        /* the column names, grid and form, so that points --similarity can use the file alone */
        json_t *names = json_array();
        for (int t = 0; t < job.n_texts; t++) json_array_append_new(names, json_string(job.texts[t]));
        char *names_json = json_dumps(names, JSON_COMPACT);
        json_decref(names);
        char grid[32];
        snprintf(grid, sizeof grid, "%dx%d", g.grid_h, g.grid_w);
        int empty_form = job.empty_text || job.n_texts == 1;
        const char *form = empty_form ? "empty-text" : "label-set";
        if (!job.method_surgery && !job.empty_text) form = "cosine"; /* --method, plain cosines */
        cs_st_meta meta[4] = {{"clipsurgery.grid", grid},
                              {"clipsurgery.form", (char *)form},
                              {"clipsurgery.method", (char *)job.method_name},
                              {"clipsurgery.texts", names_json ? names_json : "[]"}};
        cs_status s = cs_st_write(job.maps_path, e, 2, meta, names_json ? 4 : 3);
        free(names_json);
        if (s != CS_OK) rc = cli_status_error("heatmap", job.maps_path, s);
    }
    free(g.sim);
    free(g.maps);
    free(g.names);
    cli_job_free(&job);
    return rc;
}
