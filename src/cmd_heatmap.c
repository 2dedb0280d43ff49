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
    "IMAGE: a PNG/JPEG file or a .safetensors holding \"pixel_values\" [3,S,S] or [B,3,S,S]. After\n"
    "MODEL, the first argument is an image, then every existing file is an image until the first\n"
    "argument that is not a file (or '--'); the rest are texts.\n"
    "options:\n"
    "  --vocab PATH        vocabulary (default: beside the weights)\n"
    "  --size S            encoder input size (default 224; 512 for high-resolution maps)\n"
    "  --empty-text        feature surgery with the ensemble of \"\" (default: label-set form when\n"
    "                      there are several texts; a single text always uses the empty-text form)\n"
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
        fprintf(stderr, "clipsurgery heatmap: --map-size differs from the image: no overlay for %s\n", in->path);
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
        s = cs_png_write(path, rgb, in->image->width, in->image->height, (size_t)in->image->width * 3, 3, NULL, 0);
        if (s != CS_OK) rc = cli_status_error("heatmap", path, s);
        else printf("%s\n", path);
    }
    free(rgb);
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
    cli_input *inputs = NULL;
    int n_inputs = 0;
    if (job.out_dir && mkdir(job.out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "clipsurgery heatmap: cannot create %s: %s\n", job.out_dir, strerror(errno));
        cli_job_free(&job);
        return CLI_RUNTIME;
    }
    rc = cli_job_prepare(&job);
    if (rc == CLI_OK) rc = cli_job_inputs(&job, &inputs, &n_inputs);
    float *all_sim = NULL, *all_maps = NULL;
    int n_tokens0 = 0;
    size_t map_elems = 0;
    if (rc == CLI_OK && job.maps_path) {
        for (int i = 1; i < n_inputs; i++)
            if (inputs[i].height != inputs[0].height || inputs[i].width != inputs[0].width ||
                inputs[i].map_h != inputs[0].map_h || inputs[i].map_w != inputs[0].map_w) {
                fprintf(stderr, "clipsurgery heatmap: --maps needs every input at one size and map size (use --map-size)\n");
                rc = CLI_RUNTIME;
                break;
            }
    }
    double t0 = cli_now();
    for (int i = 0; rc == CLI_OK && i < n_inputs; i++) {
        const cli_input *in = &inputs[i];
        float *feat = NULL, *sim = NULL, *maps = NULL;
        int nt, gh, gw;
        rc = cli_job_features(&job, in, &feat, &nt, &gh, &gw);
        if (rc == CLI_OK) rc = cli_job_similarity(&job, feat, nt, 0, &sim);
        size_t n_maps = (size_t)in->map_h * in->map_w * job.n_texts;
        if (rc == CLI_OK && !(maps = malloc(sizeof(float) * n_maps))) rc = CLI_RUNTIME;
        if (rc == CLI_OK) {
            cs_status s = cs_similarity_maps(sim, gh, gw, job.n_texts, in->map_h, in->map_w, maps, n_maps);
            if (s != CS_OK) rc = cli_status_error("heatmap", "similarity maps", s);
        }
        if (rc == CLI_OK && in->image) rc = write_overlays(&job, in, maps);
        else if (rc == CLI_OK && !job.maps_path)
            fprintf(stderr, "clipsurgery heatmap: %s holds pixel values, not an image: no overlay "
                            "(use --maps FILE to save the maps)\n", in->path);
        if (rc == CLI_OK && job.maps_path) {
            if (!all_sim) {
                n_tokens0 = nt;
                map_elems = n_maps;
                all_sim = malloc(sizeof(float) * (size_t)n_inputs * nt * job.n_texts);
                all_maps = malloc(sizeof(float) * (size_t)n_inputs * n_maps);
                if (!all_sim || !all_maps) rc = CLI_RUNTIME;
            }
            if (rc == CLI_OK) {
                memcpy(all_sim + (size_t)i * nt * job.n_texts, sim, sizeof(float) * (size_t)nt * job.n_texts);
                memcpy(all_maps + (size_t)i * n_maps, maps, sizeof(float) * n_maps);
            }
        }
        free(feat);
        free(sim);
        free(maps);
        cli_progress(&job, i + 1, n_inputs, t0);
    }
    if (rc == CLI_OK && job.maps_path && all_sim) {
        int64_t s_shape[3] = {n_inputs, n_tokens0, job.n_texts};
        int64_t m_shape[4] = {n_inputs, inputs[0].map_h, inputs[0].map_w, job.n_texts};
        cs_st_entry e[2] = {{"similarity", CS_DT_F32, 3, s_shape, all_sim},
                            {"maps", CS_DT_F32, 4, m_shape, all_maps}};
        cs_status s = cs_st_write(job.maps_path, e, 2, NULL, 0);
        if (s != CS_OK) rc = cli_status_error("heatmap", job.maps_path, s);
        (void)map_elems;
    }
    free(all_sim);
    free(all_maps);
    cli_inputs_free(inputs, n_inputs);
    free(inputs);
    cli_job_free(&job);
    return rc;
}
