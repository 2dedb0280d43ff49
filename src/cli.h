/* The clipsurgery command-line program: one file per subcommand (cmd_<name>.c), shared helpers
 * in cli_common.c. Exit codes everywhere: 0 ok, 1 runtime error (message on stderr),
 * 2 usage error. */
#ifndef CS_CLI_H
#define CS_CLI_H

#include "clipsurgery.h"

#include <stdio.h>

#define CLI_OK 0
#define CLI_RUNTIME 1
#define CLI_USAGE 2

typedef int (*cli_command_fn)(int argc, char **argv);

typedef struct cli_command {
    const char *name;
    const char *summary;
    cli_command_fn run;
} cli_command;

int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_preprocess(int argc, char **argv);
int cmd_encode_image(int argc, char **argv);
int cmd_encode_text(int argc, char **argv);
int cmd_heatmap(int argc, char **argv);
int cmd_points(int argc, char **argv);
int cmd_segment(int argc, char **argv);
int cmd_labels(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_explain_text(int argc, char **argv);
int cmd_boxes(int argc, char **argv);

/* Prints "clipsurgery <cmd>: <message>" and returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Prints "clipsurgery <cmd>: <what>: <status string>: <cs_last_error()>" and returns
 * CLI_RUNTIME. */
int cli_status_error(const char *cmd, const char *what, cs_status status);

/* Parses a positive integer option value; returns 0 on success. */
int cli_parse_int(const char *s, int min, int max, int *out);

/* Loads a model with an optional vocabulary path; prints the error and returns NULL on failure. */
/* Loads MODEL (cs_model_load) with the cs_model_params flags `flags` (0, or
 * CS_MODEL_PRECISION_BF16 from cli_parse_precision); prints the error and returns NULL on
 * failure. */
cs_model *cli_load_model(const char *cmd, const char *path, const char *vocab, unsigned flags);
/* --precision VALUE: "f32" (flags 0) or "bf16" (CS_MODEL_PRECISION_BF16). Returns 0, or -1 for
 * another value. */
int cli_parse_precision(const char *s, unsigned *flags);

/* Nonzero when the file holds safetensors (by content, not by name). */
int cli_is_safetensors(const char *path);

/* Opens a safetensors file holding "pixel_values" [3, H, W] or [B, 3, H, W] (float) and gives
 * its batch and size; with px non-NULL also the values [B, 3, H, W] as f32 (malloc'd), refusing
 * NaN or infinity. Prints the error (unless cmd is NULL) and returns an exit code, or CLI_OK. */
int cli_read_pixel_values(const char *cmd, const char *path, float **px, int *b, int *h, int *w);

/* Writes a JSON string literal (with quotes and escapes) to f. */
void cli_json_string(FILE *f, const char *s);

#endif
