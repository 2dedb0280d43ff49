/* clipsurgery info MODEL: the architecture as one JSON object. */
#include "cli.h"

#include <string.h>

static void help(FILE *f)
{
    fprintf(f, "usage: clipsurgery info [--vocab PATH] MODEL\n"
               "Prints the model's architecture as one JSON object: layout, dtype, vision and text\n"
               "widths/layers/heads, patch size, image size, grid, context length, vocabulary\n"
               "size, embed dim, activation, layer norm eps.\n");
}

int cmd_info(int argc, char **argv)
{
    const char *path = NULL, *vocab = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            help(stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--vocab") == 0) {
            if (++i >= argc) return cli_usage_error("info", "--vocab needs a path");
            vocab = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("info", "unknown option %s", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage_error("info", "one MODEL only");
        }
    }
    if (!path) return cli_usage_error("info", "MODEL is required");
    cs_model *m = cli_load_model("info", path, vocab, 0);
    if (!m) return CLI_RUNTIME;
    cs_model_info in;
    memset(&in, 0, sizeof in);
    in.size = sizeof in;
    cs_model_get_info(m, &in);
    char backbone[160] = "\"vit\"";
    cs_resnet_info ri;
    memset(&ri, 0, sizeof ri);
    ri.size = sizeof ri;
    if (cs_model_backbone(m) == CS_BACKBONE_RESNET && cs_resnet_get_info(m, &ri) == CS_OK)
        snprintf(backbone, sizeof backbone,
                 "\"resnet\", \"resnet\": {\"stage_blocks\": [%d, %d, %d, %d], \"width\": %d}",
                 ri.stage_blocks[0], ri.stage_blocks[1], ri.stage_blocks[2], ri.stage_blocks[3],
                 ri.width);
    printf("{\"backbone\": %s, \"layout\": \"%s\", \"dtype\": \"%s\", "
           "\"vision\": {\"width\": %d, \"layers\": %d, \"heads\": %d, \"patch_size\": %d, "
           "\"image_size\": %d, \"grid\": %d}, "
           "\"text\": {\"width\": %d, \"layers\": %d, \"heads\": %d, \"context_length\": %d, "
           "\"vocab_size\": %d}, \"embed_dim\": %d, \"activation\": \"%s\", "
           "\"layer_norm_eps\": %g, \"has_vocabulary\": %s, \"gemm_engine\": \"%s\"}\n",
           backbone, in.layout == CS_LAYOUT_HF ? "hf" : "openai",
           in.dtype_bits == 32 ? "F32" : (in.is_bf16 ? "BF16" : "F16"), in.vision_width,
           in.vision_layers, in.vision_heads, in.patch_size, in.image_size, in.grid, in.text_width,
           in.text_layers, in.text_heads, in.context_length, in.vocab_size, in.embed_dim,
           in.activation == CS_ACT_GELU ? "gelu" : "quick_gelu", (double)in.layer_norm_eps,
           in.has_vocabulary ? "true" : "false", cs_gemm_engine());
    cs_model_free(m);
    return CLI_OK;
}
