/* clipsurgery: command-line front end of libclipsurgery. */
#include "cli.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_command commands[] = {
    {"info", "print a model's architecture as JSON", cmd_info},
    {"tokenize", "print CLIP token ids of texts", cmd_tokenize},
    {"decode", "decode an image to RGB and write it as PNG", cmd_decode},
    {"preprocess", "write CLIP-normalised pixel_values of an image", cmd_preprocess},
    {"encode-image", "image features (raw CLIP or surgery)", cmd_encode_image},
    {"encode-text", "text features or prompt ensembles", cmd_encode_text},
    {"heatmap", "similarity maps and JET overlays", cmd_heatmap},
    {"points", "SAM point prompts as JSON", cmd_points},
    {"segment", "open-vocabulary segmentation label map", cmd_segment},
    {"labels", "multi-label scores as JSON", cmd_labels},
    {"eval", "segmentation mIoU, explainability mIoU/mSC, multi-label mAP on a dataset", cmd_eval},
    {"explain-text", "word-by-word maps and scores of a caption", cmd_explain_text},
    {"boxes", "masks and boxes (SAM box prompts) from maps", cmd_boxes},
    {"convert", "write a one-file model bundle", cmd_convert},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: clipsurgery <command> [options] ...   (libclipsurgery %s)\n\ncommands:\n",
            cs_version_string());
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'clipsurgery <command> --help' describes a command.\n"
               "exit codes: 0 ok, 1 runtime error, 2 usage error\n");
}

/* OpenBLAS 0.3.21 (Debian 12) does not recognise some recent or virtualised x86 CPUs and falls
 * back to its generic Prescott (SSE3) kernels, about ten times slower. OpenBLAS picks its kernels
 * when it is loaded, from OPENBLAS_CORETYPE. The CLI is an application, so it may choose for
 * itself: when OPENBLAS_CORETYPE is unset, OpenBLAS chose Prescott and the CPU has AVX2, it sets
 * OPENBLAS_CORETYPE (Haswell, or SkylakeX with AVX-512) and re-executes itself once. The library
 * never does this. CLIPSURGERY_KEEP_BLAS=1 turns it off. */
static void choose_blas_kernels(char **argv)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (getenv("OPENBLAS_CORETYPE") || getenv("CLIPSURGERY_KEEP_BLAS")) return;
    const char *core = openblas_get_corename();
    if (!core || strcmp(core, "Prescott") != 0) return;
    __builtin_cpu_init();
    const char *pick = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                       : __builtin_cpu_supports("avx2") ? "Haswell" : NULL;
    if (!pick || setenv("OPENBLAS_CORETYPE", pick, 1) != 0) return;
    execv("/proc/self/exe", argv); /* on failure: carry on with the generic kernels */
    unsetenv("OPENBLAS_CORETYPE");
#else
    (void)argv;
#endif
}

int main(int argc, char **argv)
{
    choose_blas_kernels(argv);
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("clipsurgery %s (GEMM engine %s)\n", cs_version_string(), cs_gemm_engine());
        return CLI_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "clipsurgery: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
