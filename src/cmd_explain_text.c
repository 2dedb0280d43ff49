/* clipsurgery explain-text: a caption explained word by word (EXPLAIN.md 1): the per-token text
 * features as the label set of feature surgery; row 0 of the similarity scores each token,
 * rows 1..N map it. Built on the image-encoder calls only, so every backbone works. */
#include "cli_job.h"

#include "io/safetensors.h"

#include <jansson.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: clipsurgery explain-text MODEL IMAGE... [options] [--] CAPTION...\n"
    "Explains each CAPTION word by word on each IMAGE: every token from start to end of text is\n"
    "a class of label-set feature surgery (docs/explain.md). JSON per image: one object per\n"
    "caption with \"tokens\" [{\"index\", \"id\", \"text\", \"score\"}] (score = the class-token\n"
    "similarity; SOT and EOT included), \"top\" (the K best word tokens) and \"overlays\"; one\n"
    "JET overlay per word token DIR/<stem>_<caption>_<i>_<word>.png.\n"
    "options:\n"
    "  --vocab PATH        vocabulary (default: beside the weights)\n"
    "  --size S            encoder input size (default 224)\n"
    "  --map-size HxW      map size (default: the original image; needed for pixel_values)\n"
    "  --out-dir DIR       overlay folder (default .; created when missing)\n"
    "  --top K             words listed in \"top\" (default 3)\n"
    "  --maps FILE         write \"token_ids\" [n_tok] (int32), \"similarity\" [B,1+N,n_tok] and\n"
    "                      \"maps\" [B,H,W,n_tok] of the first caption; caption c >= 1 goes to\n"
    "                      FILE with _<c> before the extension\n"
    "  --batch LIST, --threads N, --precision f32|bf16, --surgery-blocks K\n";

typedef struct caption {
    int32_t ids[CS_CONTEXT_LENGTH];
    int n_tok;
    float *features;      /* [n_tok, dim] */
    char (*words)[128];   /* decoded text of each token */
    char name[256];       /* file-name part of the caption */
    float *sim, *maps;    /* gathered for --maps: [B, n_tokens, n_tok], [B, H, W, n_tok] */
} caption;

typedef struct explain_run {
    caption *caps;
    int ready, n, n_tokens, map_h, map_w;
} explain_run;

static int encode_captions(cli_job *job, explain_run *r)
{
    const cs_tokenizer *tok = cs_model_tokenizer(job->model);
    for (int c = 0; c < job->n_texts; c++) {
        caption *cp = &r->caps[c];
        cp->features = malloc(sizeof(float) * CS_CONTEXT_LENGTH * (size_t)job->dim);
        cp->words = calloc(CS_CONTEXT_LENGTH, sizeof *cp->words);
        if (!cp->features || !cp->words) return CLI_RUNTIME;
        cs_status s = cs_text_token_features(job->ctx, job->texts[c], cp->ids, CS_CONTEXT_LENGTH,
                                             cp->features,
                                             (size_t)CS_CONTEXT_LENGTH * (size_t)job->dim,
                                             &cp->n_tok);
        if (s != CS_OK) return cli_status_error("explain-text", job->texts[c], s);
        for (int i = 0; i < cp->n_tok; i++) {
            size_t len = 0;
            if (cp->ids[i] == CS_TOKEN_SOT)
                snprintf(cp->words[i], 128, "<|startoftext|>");
            else if (cp->ids[i] == CS_TOKEN_EOT)
                snprintf(cp->words[i], 128, "<|endoftext|>");
            else if (cs_detokenize(tok, &cp->ids[i], 1, cp->words[i], 128, &len) != CS_OK)
                snprintf(cp->words[i], 128, "%d", (int)cp->ids[i]);
            len = strlen(cp->words[i]);
            while (len > 0 && cp->words[i][len - 1] == ' ') cp->words[i][--len] = '\0';
        }
        cli_name_part(job->texts[c], cp->name, sizeof cp->name);
        for (int u = 0; u < c; u++)
            if (strcmp(r->caps[u].name, cp->name) == 0) {
                snprintf(cp->name + strlen(cp->name), sizeof cp->name - strlen(cp->name), "_%d", c);
                break;
            }
    }
    return CLI_OK;
}

static int is_word(const caption *cp, int i)
{
    return cp->ids[i] != CS_TOKEN_SOT && cp->ids[i] != CS_TOKEN_EOT;
}

/* One overlay per word token at the photo's own size; paths printed into the JSON. */
static int write_overlays(cli_job *job, const cli_input *in, const caption *cp, const float *sim,
                          int gh, int gw)
{
    const char *dir = job->out_dir ? job->out_dir : ".";
    int w = in->image->width, h = in->image->height, T = cp->n_tok, rc = CLI_OK;
    size_t n = (size_t)w * h * T, cap = (size_t)w * h * 3;
    float *maps = malloc(sizeof(float) * n);
    uint8_t *rgb = malloc(cap);
    if (!maps || !rgb) rc = CLI_RUNTIME;
    if (rc == CLI_OK) {
        cs_status s = cs_similarity_maps(sim, gh, gw, T, h, w, maps, n);
        if (s != CS_OK) rc = cli_status_error("explain-text", "similarity maps", s);
    }
    int first = 1;
    printf(", \"overlays\": [");
    for (int t = 0; t < T && rc == CLI_OK; t++) {
        if (!is_word(cp, t)) continue;
        cs_status s = cs_overlay_jet(in->image, maps + t, (size_t)T, rgb, cap);
        if (s != CS_OK) {
            rc = cli_status_error("explain-text", "overlay", s);
            break;
        }
        char word[256], path[4096];
        cli_name_part(cp->words[t], word, sizeof word);
        snprintf(path, sizeof path, "%s/%s_%s_%d_%s.png", dir, in->stem, cp->name, t, word);
        s = cs_png_write(path, rgb, w, h, (size_t)w * 3, 3, NULL, 0);
        if (s != CS_OK) {
            rc = cli_status_error("explain-text", path, s);
            break;
        }
        printf("%s", first ? "" : ", ");
        cli_json_string(stdout, path);
        first = 0;
    }
    printf("]");
    free(maps);
    free(rgb);
    return rc;
}

static void print_caption(const cli_job *job, const caption *cp, const float *sim)
{
    printf("\"tokens\": [");
    for (int i = 0; i < cp->n_tok; i++) {
        printf("%s{\"index\": %d, \"id\": %d, \"text\": ", i ? ", " : "", i, (int)cp->ids[i]);
        cli_json_string(stdout, cp->words[i]);
        printf(", \"score\": ");
        cli_json_number9(stdout, (double)sim[i]);
        printf("}");
    }
    /* top-K word tokens by score (ties: earlier token first) */
    int order[CS_CONTEXT_LENGTH], n = 0;
    for (int i = 0; i < cp->n_tok; i++)
        if (is_word(cp, i)) order[n++] = i;
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && sim[order[b]] > sim[order[b - 1]]; b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    printf("], \"top\": [");
    for (int k = 0; k < n && k < job->top_k; k++) {
        printf("%s{\"index\": %d, \"text\": ", k ? ", " : "", order[k]);
        cli_json_string(stdout, cp->words[order[k]]);
        printf(", \"score\": ");
        cli_json_number9(stdout, (double)sim[order[k]]);
        printf("}");
    }
    printf("]");
}

static int one_image(cli_job *job, const cli_image_step *st, void *user)
{
    explain_run *r = user;
    const cli_input *in = st->in;
    int rc = CLI_OK;
    if (!r->ready) {
        rc = encode_captions(job, r);
        if (rc != CLI_OK) return rc;
        r->ready = 1;
        r->n_tokens = st->n_tokens;
        r->map_h = in->map_h;
        r->map_w = in->map_w;
    }
    cli_results_begin(st);
    for (int c = 0; c < job->n_texts && rc == CLI_OK; c++) {
        caption *cp = &r->caps[c];
        const int T = cp->n_tok;
        size_t ns = (size_t)st->n_tokens * T, nm = (size_t)in->map_h * in->map_w * T;
        float *sim = malloc(sizeof(float) * ns);
        if (!sim) {
            rc = CLI_RUNTIME;
            break;
        }
        cs_status s = cs_feature_surgery_label_set(st->features, 1, st->n_tokens, cp->features, T,
                                                   job->dim, sim, ns);
        if (s != CS_OK) rc = cli_status_error("explain-text", "feature surgery", s);
        if (rc == CLI_OK) {
            printf("%s{\"caption\": ", c ? ", " : "");
            cli_json_string(stdout, job->texts[c]);
            printf(", ");
            print_caption(job, cp, sim);
            if (in->image) rc = write_overlays(job, in, cp, sim, st->grid_h, st->grid_w);
            printf("}");
        }
        if (rc == CLI_OK && job->maps_path) {
            if (!cp->sim) {
                cp->sim = malloc(sizeof(float) * ns * (size_t)st->count);
                cp->maps = malloc(sizeof(float) * nm * (size_t)st->count);
                if (!cp->sim || !cp->maps) rc = CLI_RUNTIME;
            }
            if (rc == CLI_OK) {
                memcpy(cp->sim + ns * (size_t)r->n, sim, sizeof(float) * ns);
                s = cs_similarity_maps(sim, st->grid_h, st->grid_w, T, in->map_h, in->map_w,
                                       cp->maps + nm * (size_t)r->n, nm);
                if (s != CS_OK) rc = cli_status_error("explain-text", "similarity maps", s);
            }
        }
        free(sim);
    }
    cli_results_end(st);
    if (rc == CLI_OK && job->maps_path) r->n++;
    return rc;
}

/* F for caption 0, F with _<c> before the extension for c >= 1. */
static void maps_name(const char *base, int c, char *out, size_t cap)
{
    if (c == 0) {
        snprintf(out, cap, "%s", base);
        return;
    }
    const char *slash = strrchr(base, '/'), *dot = strrchr(base, '.');
    if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : base))
        snprintf(out, cap, "%s_%d", base, c);
    else
        snprintf(out, cap, "%.*s_%d%s", (int)(dot - base), base, c, dot);
}

static int write_maps(cli_job *job, explain_run *r)
{
    for (int c = 0; c < job->n_texts; c++) {
        caption *cp = &r->caps[c];
        char path[4096];
        maps_name(job->maps_path, c, path, sizeof path);
        int64_t i_shape[1] = {cp->n_tok};
        int64_t s_shape[3] = {r->n, r->n_tokens, cp->n_tok};
        int64_t m_shape[4] = {r->n, r->map_h, r->map_w, cp->n_tok};
        cs_st_entry e[3] = {{"token_ids", CS_DT_I32, 1, i_shape, cp->ids},
                            {"similarity", CS_DT_F32, 3, s_shape, cp->sim},
                            {"maps", CS_DT_F32, 4, m_shape, cp->maps}};
        json_t *names = json_array();
        for (int t = 0; t < cp->n_tok; t++) json_array_append_new(names, json_string(cp->words[t]));
        char *names_json = json_dumps(names, JSON_COMPACT);
        json_decref(names);
        cs_st_meta meta[2] = {{"clipsurgery.texts", names_json ? names_json : "[]"},
                              {"clipsurgery.caption", job->texts[c]}};
        cs_status s = cs_st_write(path, e, 3, meta, 2);
        free(names_json);
        if (s != CS_OK) return cli_status_error("explain-text", path, s);
    }
    return CLI_OK;
}

int cmd_explain_text(int argc, char **argv)
{
    cli_job job;
    memset(&job, 0, sizeof job);
    job.cmd = "explain-text";
    int rc = cli_job_parse(&job, JOB_EXPLAIN, argc, argv, help);
    if (rc >= 0) {
        cli_job_free(&job);
        return rc;
    }
    job.no_ensembles = 1;
    if (job.out_dir && mkdir(job.out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "clipsurgery explain-text: cannot create %s: %s\n", job.out_dir,
                strerror(errno));
        cli_job_free(&job);
        return CLI_RUNTIME;
    }
    explain_run r;
    memset(&r, 0, sizeof r);
    r.caps = calloc((size_t)job.n_texts, sizeof *r.caps);
    if (!r.caps) rc = CLI_RUNTIME;
    if (rc < 0 && job.maps_path) rc = cli_job_check_uniform_inputs(&job);
    if (rc < 0 && job.maps_path && cli_make_parent(job.maps_path) != 0) {
        fprintf(stderr, "clipsurgery explain-text: cannot create the folder of %s: %s\n",
                job.maps_path, strerror(errno));
        rc = CLI_RUNTIME;
    }
    if (rc < 0) rc = cli_job_run(&job, one_image, &r);
    if (rc == CLI_OK && job.maps_path && r.n > 0) rc = write_maps(&job, &r);
    for (int c = 0; r.caps && c < job.n_texts; c++) {
        free(r.caps[c].features);
        free(r.caps[c].words);
        free(r.caps[c].sim);
        free(r.caps[c].maps);
    }
    free(r.caps);
    cli_job_free(&job);
    return rc;
}
