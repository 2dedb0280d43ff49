/* clipsurgery encode-text MODEL [--vocab PATH] [--ensemble] [--threads N] [--out FILE]
 *                         [--] TEXT... */
#include "cli.h"
#include "io/safetensors.h"

#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
    fprintf(f,
            "usage: clipsurgery encode-text MODEL [--vocab PATH] [--ensemble] [--threads N]\n"
            "                               [--precision P] [--out FILE] [--] TEXT...\n"
            "Writes \"text_features\" [T, D] float32 for the T texts to FILE (safetensors;\n"
            "default text_features.safetensors in the current folder).\n"
            "  --ensemble   treat each TEXT as a class name: the L2-normalised prompt ensemble\n"
            "               over the 85 reference templates (\"\" gives the redundant feature);\n"
            "               without it: the raw text projection (not normalised)\n"
            "  --vocab PATH bpe_simple_vocab_16e6.txt.gz, vocab.json or a folder (default:\n"
            "               beside the model)\n"
            "  --threads N  threads for the library's own loops (default: all cores)\n"
            "  --precision P f32 (default) or bf16 (matrix products in bfloat16; needs a\n"
            "               GEMM=onednn build and a CPU with AVX512_BF16 or AMX)\n");
}

int cmd_encode_text(int argc, char **argv)
{
    const char *model_path = NULL, *vocab = NULL, *out = "text_features.safetensors";
    int ensemble = 0, threads = 0, n_texts = 0, dashdash = 0;
    unsigned precision = 0;
    const char **texts = calloc((size_t)argc + 1, sizeof(char *));
    if (!texts) {
        fprintf(stderr, "clipsurgery encode-text: out of memory\n");
        return CLI_RUNTIME;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            help(stdout);
            free(texts);
            return CLI_OK;
        } else if (!dashdash && strcmp(a, "--") == 0) {
            dashdash = 1;
        } else if (!dashdash && strcmp(a, "--vocab") == 0) {
            if (++i >= argc) {
                free(texts);
                return cli_usage_error("encode-text", "--vocab needs a path");
            }
            vocab = argv[i];
        } else if (!dashdash && strcmp(a, "--ensemble") == 0) {
            ensemble = 1;
        } else if (!dashdash && strcmp(a, "--threads") == 0) {
            if (++i >= argc || cli_parse_int(argv[i], 1, 256, &threads)) {
                free(texts);
                return cli_usage_error("encode-text", "--threads needs an integer 1..256");
            }
        } else if (!dashdash && strcmp(a, "--precision") == 0) {
            if (++i >= argc || cli_parse_precision(argv[i], &precision)) {
                free(texts);
                return cli_usage_error("encode-text", "--precision is f32 or bf16");
            }
        } else if (!dashdash && strcmp(a, "--out") == 0) {
            if (++i >= argc) {
                free(texts);
                return cli_usage_error("encode-text", "--out needs a path");
            }
            out = argv[i];
        } else if (!dashdash && a[0] == '-' && a[1]) {
            free(texts);
            return cli_usage_error("encode-text", "unknown option %s", a);
        } else if (!model_path) {
            model_path = a;
        } else {
            texts[n_texts++] = a;
        }
    }
    if (!model_path || n_texts == 0) {
        free(texts);
        return cli_usage_error("encode-text", "MODEL and at least one TEXT are required");
    }
    int rc = CLI_RUNTIME;
    cs_context *ctx = NULL;
    float *f = NULL;
    cs_model *m = cli_load_model("encode-text", model_path, vocab, precision);
    if (!m) goto done;
    cs_context_params cp;
    cs_context_params_default(&cp);
    cp.n_threads = threads;
    cs_status s = cs_context_create(m, &cp, &ctx);
    if (s != CS_OK) {
        rc = cli_status_error("encode-text", "context", s);
        goto done;
    }
    int d = cs_model_embed_dim(m);
    size_t n = (size_t)n_texts * (size_t)d;
    f = malloc(n * sizeof(float));
    if (!f) {
        fprintf(stderr, "clipsurgery encode-text: out of memory\n");
        goto done;
    }
    s = ensemble ? cs_prompt_ensemble(ctx, texts, n_texts, f, n)
                 : cs_encode_texts(ctx, texts, n_texts, f, n);
    if (s != CS_OK) {
        rc = cli_status_error("encode-text", ensemble ? "prompt ensemble" : "encode", s);
        goto done;
    }
    int64_t shape[2] = {n_texts, d};
    cs_st_entry e = {"text_features", CS_DT_F32, 2, shape, f};
    cs_st_meta meta[1] = {{(char *)"ensemble", (char *)(ensemble ? "1" : "0")}};
    s = cs_st_write(out, &e, 1, meta, 1);
    if (s != CS_OK) {
        rc = cli_status_error("encode-text", out, s);
        goto done;
    }
    rc = CLI_OK;
done:
    free(f);
    free(texts);
    cs_context_free(ctx);
    cs_model_free(m);
    return rc;
}
