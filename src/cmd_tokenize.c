/* clipsurgery tokenize [--vocab PATH | --model MODEL] [--truncate] [--show-ftfy] [--] TEXT...
 * One line per TEXT: a JSON array of its ids with 49406/49407 and no padding; with --truncate a
 * text over 77 ids gives the 77 ids of the reference's truncate mode. With --show-ftfy: one
 * line per TEXT with the JSON string of its ftfy.fix_text output (cs_fix_text) instead. */
#include "cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const CMD = "tokenize";

static void help(FILE *f)
{
    fprintf(f,
            "usage: clipsurgery tokenize [--vocab PATH | --model MODEL] [--truncate] [--show-ftfy]\n"
            "                            [--] TEXT...\n"
            "Prints, for each TEXT in order, one line with the JSON array of its CLIP token ids\n"
            "(49406 first, 49407 last, no padding).\n"
            "  --vocab PATH   bpe_simple_vocab_16e6.txt.gz, vocab.json (merges.txt beside it),\n"
            "                 or a folder holding either\n"
            "  --model MODEL  use the vocabulary found with a model (with --vocab: override)\n"
            "  --truncate     texts over 77 ids give the 77 truncated ids (last = 49407)\n"
            "  --show-ftfy    print, for each TEXT, the JSON string of its ftfy.fix_text repair\n"
            "                 (the first cleaning step) instead of ids; needs no vocabulary\n"
            "  --             end of options (for texts starting with '-')\n"
            "exit codes: 0 ok, 1 runtime error, 2 usage error\n");
}

static int print_ids(const cs_tokenizer *tok, const char *text, int truncate)
{
    size_t len = strlen(text), n = 0;
    cs_status st;
    int32_t ctx[CS_CONTEXT_LENGTH];
    int32_t *ids = NULL;
    if (truncate) {
        /* truncate mode only matters for texts over the context: try the full list first */
        st = cs_tokenize(tok, text, len, ctx, CS_CONTEXT_LENGTH, &n);
        if (st == CS_ERR_BUFFER_TOO_SMALL)
            st = cs_tokenize_context(tok, text, len, 1, ctx, &n);
        if (st != CS_OK) return cli_status_error(CMD, "tokenize", st);
        ids = ctx;
    } else {
        st = cs_tokenize(tok, text, len, ctx, CS_CONTEXT_LENGTH, &n);
        if (st == CS_OK) {
            ids = ctx;
        } else if (st == CS_ERR_BUFFER_TOO_SMALL) {
            ids = malloc(n * sizeof(int32_t));
            if (!ids) {
                fprintf(stderr, "clipsurgery %s: out of memory\n", CMD);
                return CLI_RUNTIME;
            }
            size_t n2 = 0;
            st = cs_tokenize(tok, text, len, ids, n, &n2);
            n = n2;
        }
        if (st != CS_OK) {
            if (ids != ctx) free(ids);
            return cli_status_error(CMD, "tokenize", st);
        }
    }
    putchar('[');
    for (size_t i = 0; i < n; i++) printf(i ? ", %d" : "%d", (int)ids[i]);
    putchar(']');
    putchar('\n');
    if (ids != ctx) free(ids);
    return CLI_OK;
}

/* The fix_text output of text as one JSON string line (UTF-8 kept, as json.dumps with
 * ensure_ascii=False). */
static int print_fixed(const char *text)
{
    size_t len = strlen(text), n = 0;
    char small[256];
    char *buf = small;
    cs_status st = cs_fix_text(text, len, small, sizeof small, &n);
    if (st == CS_ERR_BUFFER_TOO_SMALL) {
        buf = malloc(n + 1);
        if (!buf) {
            fprintf(stderr, "clipsurgery %s: out of memory\n", CMD);
            return CLI_RUNTIME;
        }
        st = cs_fix_text(text, len, buf, n + 1, &n);
    }
    if (st != CS_OK) {
        if (buf != small) free(buf);
        return cli_status_error(CMD, "fix text", st);
    }
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        switch (c) {
        case '"': fputs("\\\"", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        case '\b': fputs("\\b", stdout); break;
        case '\f': fputs("\\f", stdout); break;
        default:
            if (c < 0x20)
                printf("\\u%04x", c);
            else
                putchar(c);
        }
    }
    putchar('"');
    putchar('\n');
    if (buf != small) free(buf);
    return CLI_OK;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *vocab = NULL, *model_path = NULL;
    int truncate = 0, show_ftfy = 0, i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            help(stdout);
            return CLI_OK;
        }
        if (strcmp(a, "--truncate") == 0) {
            truncate = 1;
        } else if (strcmp(a, "--show-ftfy") == 0) {
            show_ftfy = 1;
        } else if (strcmp(a, "--vocab") == 0 || strcmp(a, "--model") == 0) {
            if (i + 1 >= argc) return cli_usage_error(CMD, "%s needs a value", a);
            if (a[2] == 'v')
                vocab = argv[++i];
            else
                model_path = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage_error(CMD, "unknown option '%s' (use -- before a text starting "
                                        "with '-')",
                                   a);
        } else {
            break;
        }
    }
    if (i >= argc) return cli_usage_error(CMD, "no TEXT given");
    if (show_ftfy && !vocab && !model_path) {
        int rc = CLI_OK;
        for (; i < argc && rc == CLI_OK; i++) rc = print_fixed(argv[i]);
        if (fflush(stdout) != 0 && rc == CLI_OK) {
            fprintf(stderr, "clipsurgery %s: cannot write output\n", CMD);
            rc = CLI_RUNTIME;
        }
        return rc;
    }
    if (!vocab && !model_path) return cli_usage_error(CMD, "give --vocab PATH or --model MODEL");

    cs_tokenizer *own = NULL;
    cs_model *model = NULL;
    const cs_tokenizer *tok = NULL;
    if (model_path) {
        model = cli_load_model(CMD, model_path, vocab, 0);
        if (!model) return CLI_RUNTIME;
        tok = cs_model_tokenizer(model);
        if (!tok) {
            fprintf(stderr, "clipsurgery %s: %s: no vocabulary found with the model (give "
                            "--vocab)\n",
                    CMD, model_path);
            cs_model_free(model);
            return CLI_RUNTIME;
        }
    } else {
        cs_status st = cs_tokenizer_load(vocab, &own);
        if (st != CS_OK) return cli_status_error(CMD, vocab, st);
        tok = own;
    }
    int rc = CLI_OK;
    for (; i < argc && rc == CLI_OK; i++)
        rc = show_ftfy ? print_fixed(argv[i]) : print_ids(tok, argv[i], truncate);
    if (fflush(stdout) != 0 && rc == CLI_OK) {
        fprintf(stderr, "clipsurgery %s: cannot write output\n", CMD);
        rc = CLI_RUNTIME;
    }
    cs_tokenizer_free(own);
    cs_model_free(model);
    return rc;
}
