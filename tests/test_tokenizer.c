/* CLIP BPE tokenizer: golden parity (tokenizer.json, tokenizer_more.json, tokenizer_mojibake.json)
 * with both vocabulary forms, the ftfy stage alone (cs_fix_text against the mojibake golden's
 * `fixed`), context encoding, decoding, bad input, speed and thread safety. */
#include "testutil.h"
#include "text/text_clean.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static cs_tokenizer *load_form(const char *rel)
{
    char *p = tu_fixture(rel);
    cs_tokenizer *t = NULL;
    cs_status st = cs_tokenizer_load(p, &t);
    ck_assert_msg(st == CS_OK, "loading %s: %s: %s", p, cs_status_string(st), cs_last_error());
    free(p);
    return t;
}

static cs_tokenizer *load_gz(void) { return load_form("vocab/bpe_simple_vocab_16e6.txt.gz"); }
static cs_tokenizer *load_hf(void) { return load_form("vocab/vocab.json"); }

static json_t *load_cases(const char *rel)
{
    char *p = tu_fixture(rel);
    json_error_t err;
    json_t *root = json_load_file(p, 0, &err);
    ck_assert_msg(root && json_is_array(root), "cannot read %s: %s", p, err.text);
    free(p);
    return root;
}

static void print_ids(FILE *f, const int32_t *ids, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) fprintf(f, i ? ", %d" : "%d", (int)ids[i]);
    fputc(']', f);
}

/* Runs every case of a golden file; returns the number of mismatches (printed to stderr). */
static size_t run_golden(const cs_tokenizer *tok, const char *rel, size_t *n_cases,
                         size_t *n_truncated)
{
    json_t *root = load_cases(rel);
    size_t bad = 0, idx;
    json_t *c;
    *n_cases = 0;
    *n_truncated = 0;
    json_array_foreach(root, idx, c)
    {
        json_t *jt = json_object_get(c, "text"), *jids = json_object_get(c, "ids");
        ck_assert(json_is_string(jt) && json_is_array(jids));
        const char *text = json_string_value(jt);
        size_t len = json_string_length(jt);
        size_t want_n = json_array_size(jids);
        int32_t *want = malloc((want_n + 1) * sizeof(int32_t));
        int32_t *got = malloc((want_n + 8) * sizeof(int32_t));
        ck_assert(want && got);
        for (size_t i = 0; i < want_n; i++)
            want[i] = (int32_t)json_integer_value(json_array_get(jids, i));
        size_t got_n = 0;
        cs_status st = cs_tokenize(tok, text, len, got, want_n + 8, &got_n);
        int ok = st == CS_OK && got_n == want_n && memcmp(got, want, want_n * 4) == 0;
        /* context form */
        int32_t ctx[CS_CONTEXT_LENGTH];
        size_t used = 0;
        json_t *jtr = json_object_get(c, "truncated");
        if (want_n <= CS_CONTEXT_LENGTH) {
            st = cs_tokenize_context(tok, text, len, 0, ctx, &used);
            ok = ok && st == CS_OK && used == want_n && memcmp(ctx, want, want_n * 4) == 0;
            for (size_t i = want_n; ok && i < CS_CONTEXT_LENGTH; i++) ok = ctx[i] == 0;
        } else {
            st = cs_tokenize_context(tok, text, len, 0, ctx, &used);
            ok = ok && st == CS_ERR_TEXT_TOO_LONG;
        }
        if (jtr) {
            ck_assert(json_array_size(jtr) == CS_CONTEXT_LENGTH);
            (*n_truncated)++;
            st = cs_tokenize_context(tok, text, len, 1, ctx, &used);
            ok = ok && st == CS_OK && used == CS_CONTEXT_LENGTH;
            for (size_t i = 0; ok && i < CS_CONTEXT_LENGTH; i++)
                ok = ctx[i] == (int32_t)json_integer_value(json_array_get(jtr, i));
        }
        if (!ok) {
            bad++;
            if (bad <= 20) {
                fprintf(stderr, "%s case %zu mismatch: %s\n  want ", rel, idx, text);
                print_ids(stderr, want, want_n);
                fprintf(stderr, "\n  got  ");
                print_ids(stderr, got, got_n < want_n + 8 ? got_n : want_n + 8);
                fprintf(stderr, "\n");
            }
        }
        free(want);
        free(got);
        (*n_cases)++;
    }
    json_decref(root);
    return bad;
}

static void golden_with(cs_tokenizer *(*loader)(void), const char *form)
{
    cs_tokenizer *tok = loader();
    const char *files[3] = {"golden/tokenizer.json", "golden/tokenizer_more.json",
                            "golden/tokenizer_mojibake.json"};
    for (int f = 0; f < 3; f++) {
        size_t n = 0, nt = 0;
        size_t bad = run_golden(tok, files[f], &n, &nt);
        fprintf(stderr, "[%s] %s: %zu/%zu cases exact (%zu with truncation)\n", form, files[f],
                n - bad, n, nt);
        ck_assert_msg(bad == 0, "%s with %s: %zu of %zu cases differ", files[f], form, bad, n);
        ck_assert_uint_gt(n, 0);
    }
    cs_tokenizer_free(tok);
}

START_TEST(golden_openai_vocab) { golden_with(load_gz, "bpe_simple_vocab_16e6.txt.gz"); }
END_TEST

START_TEST(golden_hf_vocab) { golden_with(load_hf, "vocab.json+merges.txt"); }
END_TEST

/* The ftfy stage alone: cs_fix_text gives each case's `fixed` (what ftfy.fix_text returns). */
START_TEST(ftfy_fixed_field)
{
    json_t *root = load_cases("golden/tokenizer_mojibake.json");
    size_t idx, bad = 0, n = 0, changed = 0;
    json_t *c;
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    json_array_foreach(root, idx, c)
    {
        json_t *jt = json_object_get(c, "text"), *jf = json_object_get(c, "fixed");
        ck_assert(json_is_string(jt) && json_is_string(jf));
        size_t len = 0;
        cs_status st = cs_fix_text(json_string_value(jt), json_string_length(jt), buf, cap, &len);
        ck_assert_int_eq(st, CS_OK);
        int same = len == json_string_length(jf) && memcmp(buf, json_string_value(jf), len) == 0;
        if (!same && ++bad <= 20)
            fprintf(stderr, "fix_text case %zu: %s\n  want %s\n  got  %s\n", idx,
                    json_string_value(jt), json_string_value(jf), buf);
        changed += json_is_true(json_object_get(c, "changed_by_ftfy"));
        n++;
    }
    fprintf(stderr, "golden/tokenizer_mojibake.json: fixed text exact in %zu/%zu cases (%zu changed "
                    "by ftfy)\n",
            n - bad, n, changed);
    ck_assert_msg(bad == 0, "%zu of %zu fix_text results differ", bad, n);
    ck_assert_uint_eq(n, 1500);
    json_decref(root);
    free(buf);
}
END_TEST

/* Single steps of the repair and the corner cases of its codecs (expected values are ftfy
 * 6.3.1's fix_text). */
static void expect_fix(const char *in, size_t len, const char *want)
{
    char got[512];
    size_t n = 0;
    ck_assert_int_eq(cs_fix_text(in, len, got, sizeof got, &n), CS_OK);
    ck_assert_msg(n == strlen(want) && memcmp(got, want, n) == 0, "fix_text(%s) = \"%s\", want \"%s\"",
                  in, got, want);
}
#define EXPECT_FIX(in, want) expect_fix(in, sizeof(in) - 1, want)

START_TEST(ftfy_repair_steps)
{
    EXPECT_FIX("sch\xC3\x83\xC2\xB6n",
               "sch\xC3\xB6n"); /* latin-1 */
    EXPECT_FIX("sch\xC3\x83\xC2\x83\xC3\x82\xC2\xB6n",
               "sch\xC3\xB6n"); /* latin-1 twice */
    EXPECT_FIX("\xC3\xA2\xC5\x93\xE2\x80\x9D No problems",
               "\xE2\x9C\x94 No problems"); /* cp1252 */
    EXPECT_FIX("\xD0\xA0\xD1\x97\xD0\xA1\xD0\x82\xD0\xA0\xD1\x91\xD0\xA0\xD0\x86\xD0\xA0\xC2\xB5\xD0\xA1\xE2\x80\x9A \xD0\xA0\xD1\x98\xD0\xA0\xD1\x91\xD0\xA1\xD0\x82",
               "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD0\xBC\xD0\xB8\xD1\x80"); /* cp1251 */
    EXPECT_FIX("caf\xE2\x88\x9A\xC2\xA9 r\xE2\x88\x9A\xC2\xA9sum\xE2\x88\x9A\xC2\xA9",
               "caf\xC3\xA9 r\xC3\xA9sum\xC3\xA9"); /* macroman */
    EXPECT_FIX("na\xE2\x94\x9C\xC2\xBBve caf\xE2\x94\x9C\xE2\x8C\x90",
               "na\xC3\xAFve caf\xC3\xA9"); /* cp437 */
    EXPECT_FIX("voil\xC3\x83  le travail",
               "voil\xC3\xA0 le travail"); /* restore_byte_a0 */
    EXPECT_FIX("\xC3\xA2\xE2\x82\xAC\xC5\x93 like this \xC3\xA2\xE2\x82\xAC\xEF\xBF\xBD",
               "\x22 like this \xEF\xBF\xBD"); /* lossy */
    EXPECT_FIX("\xC2\x80 x",
               "\xE2\x82\xAC x"); /* C1 control */
    EXPECT_FIX("caf\xC3\xA9 and \xD0\xA0\xD1\x97\xD0\xA1\xD0\x82\xD0\xA0\xD1\x91\xD0\xA0\xD0\x86\xD0\xA0\xC2\xB5\xD0\xA1\xE2\x80\x9A and \xCE\x9E\xEF\xBF\xBD\xCE\x9E\xC2\xB1\xCE\x9E\xC2\xBB\xCE\x9E\xC2\xB7\xCE\x9E\xCE\x8C\xCE\x9E\xC2\xAD\xCE\x9F\xEF\xBF\xBD\xCE\x9E\xC2\xB1",
               "caf\xC3\xA9 and \xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 and \xCE\x9E\xEF\xBF\xBD\xCE\xB1\xCE\xBB\xCE\xB7\xCE\xBC\xCE\xAD\xCE\x9F\xEF\xBF\xBD\xCE\x9E\xC2\xB1"); /* mixed good and bad */
    EXPECT_FIX("se\xCE\x93\xC2\xB1or",
               "se\xCE\x93\xC2\xB1or"); /* look-alike */
    EXPECT_FIX("\xC2\xAF\x5C_(\xE3\x83\x84)_/\xC2\xAF",
               "\xC2\xAF\x5C_(\xE3\x83\x84)_/\xC2\xAF"); /* kaomoji */
    EXPECT_FIX("\xC3\x83\xC2\xA9\xC3\x80\xC2\x80!",
               "\xC3\xA9!"); /* Java's C0 80 */
    EXPECT_FIX("\xC3\x83\xC2\xA9\xC3\x80\x0A",
               "\xC3\xA9"); /* C0 before the final newline */
    EXPECT_FIX("\xC3\xAD\xC2\xA0\xC2\xBD\xC3\xAD\xC2\xB8\xC2\x80",
               "\xF0\x9F\x98\x80"); /* CESU-8 pair */
    EXPECT_FIX("caf\xC3\x83\xC2\xA9\x0Ana\xC3\xAFve\x0A",
               "caf\xC3\xA9\x0Ana\xC3\xAFve\x0A"); /* line by line */
    size_t n = 0;
    char small[4];
    ck_assert_int_eq(cs_fix_text("caf\xC3\x83\xC2\xA9", 7, small, sizeof small, &n),
                     CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(cs_fix_text(NULL, 0, small, sizeof small, &n), CS_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(cs_fix_text(NULL, 3, small, sizeof small, &n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_fix_text("x", 1, NULL, 0, &n), CS_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(folder_load_same_ids)
{
    char *dir = tu_fixture("vocab");
    cs_tokenizer *a = NULL;
    ck_assert_int_eq(cs_tokenizer_load(dir, &a), CS_OK);
    cs_tokenizer *b = load_hf();
    const char *t = "a photo of a Ünïcödé cat 日本語";
    int32_t x[64], y[64];
    size_t nx = 0, ny = 0;
    ck_assert_int_eq(cs_tokenize(a, t, strlen(t), x, 64, &nx), CS_OK);
    ck_assert_int_eq(cs_tokenize(b, t, strlen(t), y, 64, &ny), CS_OK);
    ck_assert_uint_eq(nx, ny);
    ck_assert(memcmp(x, y, nx * 4) == 0);
    cs_tokenizer_free(a);
    cs_tokenizer_free(b);
    free(dir);
}
END_TEST

/* ---- bad input ---------------------------------------------------------------------------- */
static size_t tok_n(const cs_tokenizer *t, const char *s, size_t len, int32_t *ids, size_t cap)
{
    size_t n = 0;
    cs_status st = cs_tokenize(t, s, len, ids, cap, &n);
    ck_assert_msg(st == CS_OK, "%s: %s", cs_status_string(st), cs_last_error());
    return n;
}

START_TEST(invalid_utf8_is_replaced)
{
    cs_tokenizer *t = load_gz();
    int32_t a[32], b[32];
    /* lone continuation byte, truncated sequence, overlong, surrogate encoding, bad lead */
    const char bad[] = "a\x80 b\xE2\x82 c\xC0\xAF d\xED\xA0\x80 e\xFF";
    const char good[] = "a\xEF\xBF\xBD b\xEF\xBF\xBD c\xEF\xBF\xBD\xEF\xBF\xBD "
                        "d\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD e\xEF\xBF\xBD";
    size_t na = tok_n(t, bad, sizeof bad - 1, a, 32);
    size_t nb = tok_n(t, good, sizeof good - 1, b, 32);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(a, b, na * 4) == 0);
    /* U+FFFD really appears (not dropped): differs from the text without it */
    size_t nc = tok_n(t, "a b c d e", 9, b, 32);
    ck_assert_uint_ne(na, nc);
    cs_tokenizer_free(t);
}
END_TEST

START_TEST(embedded_nul_is_length_delimited)
{
    cs_tokenizer *t = load_gz();
    int32_t a[32], b[32];
    /* NUL is a control character ftfy removes: "cat\0dog" cleans to "catdog" */
    size_t na = tok_n(t, "cat\0dog", 7, a, 32);
    size_t nb = tok_n(t, "catdog", 6, b, 32);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(a, b, na * 4) == 0);
    /* the text after the NUL is not lost */
    size_t nc = tok_n(t, "cat", 3, b, 32);
    ck_assert_uint_ne(na, nc);
    cs_tokenizer_free(t);
}
END_TEST

START_TEST(only_spaces_or_punctuation)
{
    cs_tokenizer *t = load_gz();
    int32_t a[32];
    size_t n = tok_n(t, " \t\n\r  \xC2\xA0 ", 9, a, 32);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(a[0], CS_TOKEN_SOT);
    ck_assert_int_eq(a[1], CS_TOKEN_EOT);
    n = tok_n(t, "!!! ... ???", 11, a, 32);
    ck_assert_uint_ge(n, 3);
    ck_assert_int_eq(a[0], CS_TOKEN_SOT);
    ck_assert_int_eq(a[n - 1], CS_TOKEN_EOT);
    n = tok_n(t, "", 0, a, 32);
    ck_assert_uint_eq(n, 2);
    n = tok_n(t, NULL, 0, a, 32);
    ck_assert_uint_eq(n, 2);
    cs_tokenizer_free(t);
}
END_TEST

START_TEST(literal_endoftext_becomes_special)
{
    cs_tokenizer *t = load_gz();
    int32_t a[32];
    size_t n = tok_n(t, "a<|endoftext|>b", 15, a, 32);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(a[2], CS_TOKEN_EOT);
    n = tok_n(t, "<|startoftext|>", 15, a, 32);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(a[1], CS_TOKEN_SOT);
    cs_tokenizer_free(t);
}
END_TEST

START_TEST(html_entities)
{
    cs_tokenizer *t = load_gz();
    int32_t a[32], b[32];
    struct {
        const char *in, *same_as;
    } cases[] = {
        {"&eacute;t&eacute;", "\xC3\xA9t\xC3\xA9"},
        {"&#233;", "\xC3\xA9"},
        {"&#xE9;", "\xC3\xA9"},
        {"&#XE9", "\xC3\xA9"},
        {"caf&EACUTE;", "caf\xC3\x89"},
        {"&amp;amp;amp;amp;", "&"},
        {"&copy2026", "\xC2\xA9" "2026"},
        {"&notit;", "\xC2\xACit;"},
        {"&#128;", "\xE2\x82\xAC"},
        {"&#0;", "\xEF\xBF\xBD"},
        {"&#1114112;", "\xEF\xBF\xBD"},
        {"&nosuchentity;", "& nosuchentity;"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t na = tok_n(t, cases[i].in, strlen(cases[i].in), a, 32);
        size_t nb = tok_n(t, cases[i].same_as, strlen(cases[i].same_as), b, 32);
        ck_assert_msg(na == nb && memcmp(a, b, na * 4) == 0, "entity case %s", cases[i].in);
    }
    cs_tokenizer_free(t);
}
END_TEST

START_TEST(too_long_and_truncate)
{
    cs_tokenizer *t = load_gz();
    char text[400];
    for (int i = 0; i < 100; i++) memcpy(text + 2 * i, "a ", 2);
    int32_t ctx[CS_CONTEXT_LENGTH];
    size_t used = 0;
    ck_assert_int_eq(cs_tokenize_context(t, text, 200, 0, ctx, &used), CS_ERR_TEXT_TOO_LONG);
    ck_assert_ptr_nonnull(strstr(cs_last_error(), "102"));
    ck_assert_int_eq(cs_tokenize_context(t, text, 200, 1, ctx, &used), CS_OK);
    ck_assert_uint_eq(used, CS_CONTEXT_LENGTH);
    ck_assert_int_eq(ctx[0], CS_TOKEN_SOT);
    ck_assert_int_eq(ctx[76], CS_TOKEN_EOT);
    ck_assert_int_eq(ctx[75], 320);
    /* buffer too small reports the count */
    int32_t small[4];
    size_t n = 0;
    ck_assert_int_eq(cs_tokenize(t, text, 200, small, 4, &n), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(n, 102);
    cs_tokenizer_free(t);
}
END_TEST

START_TEST(null_arguments)
{
    cs_tokenizer *t = load_gz();
    int32_t ids[CS_CONTEXT_LENGTH];
    size_t n;
    cs_tokenizer *other = NULL;
    ck_assert_int_eq(cs_tokenizer_load(NULL, &other), CS_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(other);
    ck_assert_int_eq(cs_tokenizer_load("x", NULL), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_tokenize(NULL, "a", 1, ids, 77, &n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_tokenize(t, NULL, 3, ids, 77, &n), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_tokenize(t, "a", 1, ids, 77, NULL), CS_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(cs_tokenize_context(t, "a", 1, 0, NULL, &n), CS_ERR_INVALID_ARGUMENT);
    char buf[8];
    ck_assert_int_eq(cs_detokenize(t, NULL, 2, buf, 8, &n), CS_ERR_INVALID_ARGUMENT);
    cs_tokenizer_free(t);
    cs_tokenizer_free(NULL);
}
END_TEST

/* ---- cleaning rules (ftfy subset, html.unescape, whitespace, lower) ----------------------- */
static void expect_clean(const char *in, size_t len, const char *want)
{
    cs_cpbuf out = {0};
    ck_assert_int_eq(cs_clip_clean_text(in, len, &out), CS_OK);
    char got[256];
    size_t k = 0;
    for (size_t i = 0; i < out.n; i++) {
        ck_assert_uint_lt(k + 4, sizeof got);
        k += cs_utf8_encode_cp(out.v[i], got + k);
    }
    got[k] = 0;
    ck_assert_msg(strcmp(got, want) == 0, "clean(%s) = \"%s\", want \"%s\"", in, got, want);
    cs_cpbuf_free(&out);
}
#define EXPECT_CLEAN(in, want) expect_clean(in, sizeof(in) - 1, want)

START_TEST(cleaning_rules)
{
    EXPECT_CLEAN("\x1b[31;1mRed\x1b[0m text", "red text");      /* terminal escapes */
    EXPECT_CLEAN("a\r\nb\rc\xE2\x80\xA8" "d", "a b c d");       /* line breaks */
    EXPECT_CLEAN("x\xC2\x85y\xC2\x80", "x\xE2\x80\xA6y\xE2\x82\xAC"); /* C1 as cp1252 */
    EXPECT_CLEAN("\xC5\x89 \xEF\xAC\x83", "'n ffi");              /* ligatures */
    EXPECT_CLEAN("\xEF\xBC\xA1\xEF\xBD\x82\xE3\x80\x80\xEF\xBC\x91", "ab 1"); /* width */
    EXPECT_CLEAN("\xE2\x80\x9Cq\xE2\x80\x9D \xE2\x80\x98s\xE2\x80\x99 \xCA\xBC",
                 "\"q\" 's' '");                                     /* quotes */
    EXPECT_CLEAN("a\x01\x7f\xEF\xBB\xBF" "b\x0b", "ab");              /* controls, BOM */
    EXPECT_CLEAN("e\xCC\x81", "\xC3\xA9");                          /* NFC */
    EXPECT_CLEAN("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\xA3\xCE\x91 \xCE\xA3",
                 "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82 \xCF\x83\xCE\xB1 \xCF\x83"); /* sigma */
    EXPECT_CLEAN("\xC4\xB0", "i\xCC\x87");                          /* dotted capital I */
    EXPECT_CLEAN("  many \t\n spaces\xC2\xA0 ", "many spaces");
    /* ftfy unescapes to a fixed point, unless the text holds '<' (then only html.unescape
     * twice) */
    EXPECT_CLEAN("&amp;amp;amp;amp;", "&");
    EXPECT_CLEAN("<&amp;amp;amp;", "<&amp;");
    EXPECT_CLEAN("P&EACUTE;REZ &SZLIG;", "p\xC3\xA9rez ss");
    EXPECT_CLEAN("&#x1F600;&#128512", "\xF0\x9F\x98\x80\xF0\x9F\x98\x80");
    EXPECT_CLEAN("&#65abc;", "aabc;");
}
END_TEST

/* ---- vocabulary files --------------------------------------------------------------------- */
static char *tmp_dir(void)
{
    char tmpl[] = "/tmp/cs_tok_XXXXXX";
    char *d = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(d);
    return strdup(d);
}

static void write_file(const char *dir, const char *name, const char *data)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(data, f);
    fclose(f);
}

START_TEST(bad_vocabulary_files)
{
    cs_tokenizer *t = NULL;
    ck_assert_int_eq(cs_tokenizer_load("/nonexistent/vocab.json", &t), CS_ERR_IO);
    ck_assert_ptr_null(t);
    char *d = tmp_dir();
    ck_assert_int_eq(cs_tokenizer_load(d, &t), CS_ERR_IO); /* empty folder */
    char p[512];
    /* truncated merges file */
    write_file(d, "bpe_simple_vocab_16e6.txt.gz", "#version: 0.2\nh e\n");
    snprintf(p, sizeof p, "%s/bpe_simple_vocab_16e6.txt.gz", d);
    ck_assert_int_eq(cs_tokenizer_load(p, &t), CS_ERR_FORMAT);
    ck_assert_int_eq(cs_tokenizer_load(d, &t), CS_ERR_FORMAT);
    /* malformed merge line */
    write_file(d, "bpe_simple_vocab_16e6.txt.gz", "#version: 0.2\nh e x\n");
    ck_assert_int_eq(cs_tokenizer_load(p, &t), CS_ERR_FORMAT);
    remove(p);
    /* vocab.json: not JSON, wrong types, missing merges.txt, missing specials */
    snprintf(p, sizeof p, "%s/vocab.json", d);
    write_file(d, "vocab.json", "{\"a\": ");
    ck_assert_int_eq(cs_tokenizer_load(p, &t), CS_ERR_IO); /* merges.txt missing */
    write_file(d, "merges.txt", "#version: 0.2\n");
    ck_assert_int_eq(cs_tokenizer_load(p, &t), CS_ERR_FORMAT);
    write_file(d, "vocab.json", "{\"a\": \"x\"}");
    ck_assert_int_eq(cs_tokenizer_load(p, &t), CS_ERR_FORMAT);
    write_file(d, "vocab.json", "{\"a\": 0, \"b\": 1}");
    ck_assert_int_eq(cs_tokenizer_load(p, &t), CS_ERR_FORMAT);
    ck_assert_ptr_null(t);
    snprintf(p, sizeof p, "%s/merges.txt", d);
    remove(p);
    snprintf(p, sizeof p, "%s/vocab.json", d);
    remove(p);
    remove(d);
    free(d);
}
END_TEST

/* ---- decoding ----------------------------------------------------------------------------- */
START_TEST(detokenize_round_trip)
{
    cs_tokenizer *t = load_gz();
    const char *text = "a photo of a caf\xC3\xA9, 日本語!";
    int32_t ctx[CS_CONTEXT_LENGTH];
    size_t used = 0, len = 0;
    ck_assert_int_eq(cs_tokenize_context(t, text, strlen(text), 0, ctx, &used), CS_OK);
    char buf[256];
    ck_assert_int_eq(cs_detokenize(t, ctx, CS_CONTEXT_LENGTH, buf, sizeof buf, &len), CS_OK);
    ck_assert_str_eq(buf, "a photo of a caf\xC3\xA9 , 日本語 ! ");
    ck_assert_uint_eq(len, strlen(buf));
    char tiny[4];
    ck_assert_int_eq(cs_detokenize(t, ctx, used, tiny, sizeof tiny, &len), CS_ERR_BUFFER_TOO_SMALL);
    ck_assert_uint_eq(len, strlen(buf));
    int32_t badid[2] = {320, 49408};
    ck_assert_int_eq(cs_detokenize(t, badid, 2, buf, sizeof buf, &len), CS_ERR_INVALID_ARGUMENT);
    badid[1] = -1;
    ck_assert_int_eq(cs_detokenize(t, badid, 2, buf, sizeof buf, &len), CS_ERR_INVALID_ARGUMENT);
    /* a byte symbol alone is invalid UTF-8: replaced by U+FFFD */
    int32_t partial[1] = {162}; /* the byte 0xE6 (ids 106..187 are bytes 174..255) */
    ck_assert_int_eq(cs_detokenize(t, partial, 1, buf, sizeof buf, &len), CS_OK);
    ck_assert_str_eq(buf, "\xEF\xBF\xBD");
    ck_assert_uint_eq(len, 3);
    cs_tokenizer_free(t);
}
END_TEST

/* ---- speed and threads -------------------------------------------------------------------- */
#if defined(__SANITIZE_ADDRESS__)
#define TIME_LIMIT 4.0 /* sanitizer builds are several times slower */
#else
#define TIME_LIMIT 1.0
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

START_TEST(one_megabyte_is_fast)
{
    cs_tokenizer *t = load_gz();
    size_t len = 1u << 20;
    char *text = malloc(len);
    ck_assert_ptr_nonnull(text);
    const char *words = "A photo of the Café; 日本語 42 &amp; don't “quote” ﬁne ";
    size_t wl = strlen(words);
    for (size_t i = 0; i < len; i++) text[i] = words[i % wl];
    len -= len % wl;
    int32_t *ids = malloc(len * sizeof(int32_t));
    size_t n = 0;
    double t0 = now_s();
    ck_assert_int_eq(cs_tokenize(t, text, len, ids, len, &n), CS_OK);
    double dt = now_s() - t0;
    fprintf(stderr, "1 MB mixed text: %zu ids in %.3f s\n", n, dt);
    ck_assert_msg(dt < TIME_LIMIT, "1 MB took %.3f s", dt);
    /* 1 MB of mojibake: short lines, then one line (each segment repaired by fix_encoding) */
    const char *moji[2] = {"sch\xC3\x83\xC2\xB6n caf\xC3\x83\xC2\xA9 \xC3\xA2\xE2\x82\xAC\xC5\x93q\xC3\xA2\xE2\x82\xAC\xC2\x9D "
                           "\xC3\x90\xC2\xBF\xC3\x91\xE2\x82\xAC\xC3\x90\xC2\xB8\n",
                           "sch\xC3\x83\xC2\xB6n caf\xC3\x83\xC2\xA9 \xC3\xA2\xE2\x82\xAC\xC5\x93q\xC3\xA2\xE2\x82\xAC\xC2\x9D "
                           "\xC3\x90\xC2\xBF\xC3\x91\xE2\x82\xAC\xC3\x90\xC2\xB8 "};
    for (int m = 0; m < 2; m++) {
        size_t ml = strlen(moji[m]), total = (1u << 20) - (1u << 20) % ml;
        for (size_t i = 0; i < total; i++) text[i] = moji[m][i % ml];
        t0 = now_s();
        ck_assert_int_eq(cs_tokenize(t, text, total, ids, len, &n), CS_OK);
        dt = now_s() - t0;
        fprintf(stderr, "1 MB mojibake (%s): %zu ids in %.3f s\n", m ? "one line" : "lines", n, dt);
        ck_assert_msg(dt < TIME_LIMIT, "1 MB mojibake took %.3f s", dt);
    }
    /* one 1 MB word (worst case for BPE) */
    memset(text, 'a', 1u << 20);
    t0 = now_s();
    ck_assert_int_eq(cs_tokenize(t, text, 1u << 20, ids, len, &n), CS_OK);
    dt = now_s() - t0;
    fprintf(stderr, "1 MB single word: %zu ids in %.3f s\n", n, dt);
    ck_assert_msg(dt < TIME_LIMIT, "1 MB word took %.3f s", dt);
    /* one 1 MB punctuation run and 1 MB of spaces */
    memset(text, '!', 1u << 20);
    t0 = now_s();
    ck_assert_int_eq(cs_tokenize(t, text, 1u << 20, ids, len, &n), CS_OK);
    dt = now_s() - t0;
    fprintf(stderr, "1 MB punctuation: %zu ids in %.3f s\n", n, dt);
    ck_assert_msg(dt < TIME_LIMIT, "1 MB punctuation took %.3f s", dt);
    free(ids);
    free(text);
    cs_tokenizer_free(t);
}
END_TEST

START_TEST(random_bytes_never_fail)
{
    cs_tokenizer *t = load_gz();
    uint32_t x = 12345;
    char text[200];
    int32_t ids[1024];
    const char pieces[] = "&#;<|>'sxA\xC3\xA9\xE2\x80\x9C\x1b[\r\n \xCE\xA3\xEF\xBC";
    for (int it = 0; it < 2000; it++) {
        size_t len = (size_t)(it % 200);
        for (size_t i = 0; i < len; i++) {
            x = x * 1664525u + 1013904223u;
            /* half random bytes, half pieces of the syntax the cleaner handles */
            text[i] = (x >> 31) ? (char)(x >> 8) : pieces[(x >> 8) % (sizeof pieces - 1)];
        }
        size_t n = 0;
        ck_assert_int_eq(cs_tokenize(t, text, len, ids, 1024, &n), CS_OK);
        ck_assert_uint_ge(n, 2);
        ck_assert_int_eq(ids[0], CS_TOKEN_SOT);
        ck_assert_int_eq(ids[n - 1], CS_TOKEN_EOT);
        for (size_t i = 0; i < n; i++) ck_assert(ids[i] >= 0 && ids[i] < 49408);
    }
    cs_tokenizer_free(t);
}
END_TEST

typedef struct thread_arg {
    const cs_tokenizer *tok;
    int mismatches;
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *a = p;
    const char *texts[3] = {"a photo of a cat.", "naïve résumé ﬁne", "two dogs &amp; a frisbee"};
    int32_t ref[3][CS_CONTEXT_LENGTH];
    for (int k = 0; k < 3; k++)
        cs_tokenize_context(a->tok, texts[k], strlen(texts[k]), 0, ref[k], NULL);
    for (int it = 0; it < 300; it++) {
        int k = it % 3;
        int32_t ids[CS_CONTEXT_LENGTH];
        if (cs_tokenize_context(a->tok, texts[k], strlen(texts[k]), 0, ids, NULL) != CS_OK ||
            memcmp(ids, ref[k], sizeof ids) != 0)
            a->mismatches++;
    }
    return NULL;
}

START_TEST(shared_across_threads)
{
    cs_tokenizer *t = load_gz();
    pthread_t th[8];
    thread_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i].tok = t;
        args[i].mismatches = 0;
        ck_assert_int_eq(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(args[i].mismatches, 0);
    }
    cs_tokenizer_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *g = tcase_create("golden");
    tcase_set_timeout(g, 120);
    tcase_add_test(g, golden_openai_vocab);
    tcase_add_test(g, golden_hf_vocab);
    tcase_add_test(g, folder_load_same_ids);
    tcase_add_test(g, ftfy_fixed_field);
    tcase_add_test(g, ftfy_repair_steps);
    suite_add_tcase(s, g);
    TCase *b = tcase_create("bad_input");
    tcase_set_timeout(b, 60);
    tcase_add_test(b, invalid_utf8_is_replaced);
    tcase_add_test(b, embedded_nul_is_length_delimited);
    tcase_add_test(b, only_spaces_or_punctuation);
    tcase_add_test(b, literal_endoftext_becomes_special);
    tcase_add_test(b, html_entities);
    tcase_add_test(b, cleaning_rules);
    tcase_add_test(b, too_long_and_truncate);
    tcase_add_test(b, null_arguments);
    tcase_add_test(b, bad_vocabulary_files);
    tcase_add_test(b, detokenize_round_trip);
    tcase_add_test(b, random_bytes_never_fail);
    suite_add_tcase(s, b);
    TCase *p = tcase_create("performance");
    tcase_set_timeout(p, 60);
    tcase_add_test(p, one_megabyte_is_fast);
    tcase_add_test(p, shared_across_threads);
    suite_add_tcase(s, p);
    return tu_run_suite(s);
}
