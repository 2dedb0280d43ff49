/* CLIP BPE tokenizer (OpenAI SimpleTokenizer, REFERENCE section 6): vocabulary loading from
 * bpe_simple_vocab_16e6.txt.gz or vocab.json + merges.txt, pre-tokenisation, byte-level BPE,
 * context encoding and decoding. Cleaning is in text_clean.c. See docs/tokenizer.md. */
#include "text/tokenizer.h"
#include "text/text_clean.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>
#include <zlib.h>

#define MAX_VOCAB_FILE (256u * 1024u * 1024u)
#define N_MERGES_OPENAI (49152 - 256 - 2) /* lines[1 : 49152-256-2+1] of the merges file */
#define MAX_VOCAB_IDS (1u << 24)

struct cs_tokenizer {
    size_t n_ids;          /* ids are 0..n_ids-1 */
    char *blob;            /* raw bytes of every id's string (byte-decoded) */
    size_t *offset;        /* n_ids + 1 offsets into blob; an id without a string is empty */
    uint8_t *has_string;   /* n_ids flags */
    int32_t byte_id[256];  /* id of the one-byte symbol (not word-final) */
    int32_t byte_end_id[256]; /* id of the one-byte symbol + "</w>" */
    int32_t sot, eot;
    /* merge table: open addressing on (left id, right id) */
    uint64_t *mkey;
    int32_t *mrank;
    int32_t *mresult;
    size_t mcap; /* power of two */
    size_t n_ranks; /* merges read (ranks are 0..n_ranks-1) */
};

/* ---------------------------------------------------------------------------------------- */
/* GPT-2 byte <-> unicode map                                                               */
/* ---------------------------------------------------------------------------------------- */
static int byte_is_printable(unsigned b)
{
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

/* byte -> code point, and the order of the 256 one-byte symbols in the OpenAI vocabulary. */
static void byte_map(uint32_t cp_of_byte[256], unsigned order[256])
{
    unsigned k = 0, extra = 0;
    for (unsigned b = 0; b < 256; b++)
        if (byte_is_printable(b)) {
            cp_of_byte[b] = b;
            order[k++] = b;
        }
    for (unsigned b = 0; b < 256; b++)
        if (!byte_is_printable(b)) {
            cp_of_byte[b] = 256 + extra++;
            order[k++] = b;
        }
}

/* ---------------------------------------------------------------------------------------- */
/* String -> id hash (load time only)                                                       */
/* ---------------------------------------------------------------------------------------- */
typedef struct strmap {
    const char **key; /* NUL-terminated, not owned */
    size_t *klen;
    int32_t *val;
    size_t cap;
} strmap;

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int strmap_init(strmap *m, size_t n)
{
    size_t cap = 64;
    while (cap < 2 * n + 1) cap *= 2;
    m->cap = cap;
    m->key = calloc(cap, sizeof(*m->key));
    m->klen = calloc(cap, sizeof(*m->klen));
    m->val = calloc(cap, sizeof(*m->val));
    return m->key && m->klen && m->val;
}

static void strmap_free(strmap *m)
{
    free(m->key);
    free(m->klen);
    free(m->val);
}

/* Inserts or overwrites (later wins, as a Python dict built from a list). */
static void strmap_put(strmap *m, const char *k, size_t n, int32_t v)
{
    size_t i = (size_t)hash_bytes(k, n) & (m->cap - 1);
    while (m->key[i] && !(m->klen[i] == n && memcmp(m->key[i], k, n) == 0))
        i = (i + 1) & (m->cap - 1);
    m->key[i] = k;
    m->klen[i] = n;
    m->val[i] = v;
}

static int32_t strmap_get(const strmap *m, const char *k, size_t n)
{
    size_t i = (size_t)hash_bytes(k, n) & (m->cap - 1);
    while (m->key[i]) {
        if (m->klen[i] == n && memcmp(m->key[i], k, n) == 0) return m->val[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------- */
/* Merge table                                                                              */
/* ---------------------------------------------------------------------------------------- */
#define MKEY_EMPTY UINT64_MAX

static uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static size_t pair_slot(uint64_t key, size_t cap)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

static void merge_put(cs_tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t result)
{
    uint64_t key = pair_key(a, b);
    size_t i = pair_slot(key, t->mcap);
    while (t->mkey[i] != MKEY_EMPTY && t->mkey[i] != key) i = (i + 1) & (t->mcap - 1);
    t->mkey[i] = key;
    t->mrank[i] = rank;
    t->mresult[i] = result;
}

static int merge_get(const cs_tokenizer *t, int32_t a, int32_t b, int32_t *rank, int32_t *result)
{
    uint64_t key = pair_key(a, b);
    size_t i = pair_slot(key, t->mcap);
    while (t->mkey[i] != MKEY_EMPTY) {
        if (t->mkey[i] == key) {
            *rank = t->mrank[i];
            *result = t->mresult[i];
            return 1;
        }
        i = (i + 1) & (t->mcap - 1);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Loading                                                                                  */
/* ---------------------------------------------------------------------------------------- */
CS_API void cs_tokenizer_free(cs_tokenizer *tok)
{
    if (!tok) return;
    free(tok->blob);
    free(tok->offset);
    free(tok->has_string);
    free(tok->mkey);
    free(tok->mrank);
    free(tok->mresult);
    free(tok);
}

/* A vocabulary in the making: id -> string (UTF-8 of the byte-unicode form), string -> id. */
typedef struct vocab_src {
    size_t n_ids;
    const char **str; /* n_ids entries, NULL when the id has no string */
    size_t *len;
    strmap enc;       /* string -> id (later id wins for duplicate strings) */
} vocab_src;

/* Decodes a byte-unicode string to raw bytes (appended at dst, which has room for len bytes);
 * returns the byte count or (size_t)-1 if a character is not in the byte map. */
static size_t unicode_to_bytes(const char *s, size_t len, const int16_t byte_of_cp[512], char *dst)
{
    size_t i = 0, k = 0;
    while (i < len) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(len - i), &cp);
        if (r <= 0 || cp < 0 || cp >= 512 || byte_of_cp[cp] < 0) return (size_t)-1;
        dst[k++] = (char)byte_of_cp[cp];
        i += (size_t)r;
    }
    return k;
}

/* Merges text: lines[1 : 1 + max_merges], each "first second". Fills firsts/seconds with
 * pointers into `text` (modified: separators become NUL). Returns the merge count or -1
 * (message set) on a malformed line. */
static cs_status parse_merges(char *text, size_t size, long max_merges, char ***first_out,
                              char ***second_out, long *n_out, const char *what)
{
    char **first = cs_alloc_array((size_t)max_merges, sizeof(char *));
    char **second = cs_alloc_array((size_t)max_merges, sizeof(char *));
    if (!first || !second) {
        free(first);
        free(second);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory reading %s", what);
    }
    char *p = text, *end = text + size;
    /* skip the first line (version header) */
    char *nl = memchr(p, '\n', (size_t)(end - p));
    p = nl ? nl + 1 : end;
    long n = 0;
    long line_no = 2;
    while (p < end && n < max_merges) {
        nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        *le = '\0';
        /* split on ASCII whitespace (the merge symbols never hold any) */
        char *parts[3] = {0};
        int np = 0;
        char *q = p;
        while (q < le) {
            while (q < le && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\v' || *q == '\f'))
                *q++ = '\0';
            if (q >= le) break;
            if (np < 3) parts[np] = q;
            np++;
            while (q < le && !(*q == ' ' || *q == '\t' || *q == '\r' || *q == '\v' || *q == '\f'))
                q++;
        }
        if (np == 0 && !nl) break; /* trailing empty line */
        if (np != 2) {
            free(first);
            free(second);
            return cs_fail(CS_ERR_FORMAT, "%s line %ld: expected two symbols, found %d", what,
                           line_no, np);
        }
        first[n] = parts[0];
        second[n] = parts[1];
        n++;
        line_no++;
        p = nl ? nl + 1 : end;
    }
    *first_out = first;
    *second_out = second;
    *n_out = n;
    return CS_OK;
}

/* Builds the tokenizer from a vocabulary source and merges (pairs of strings). */
static cs_status build(const vocab_src *v, char **first, char **second, long n_merges,
                       const char *what, cs_tokenizer **out)
{
    uint32_t cp_of_byte[256];
    unsigned order[256];
    int16_t byte_of_cp[512];
    byte_map(cp_of_byte, order);
    for (int i = 0; i < 512; i++) byte_of_cp[i] = -1;
    for (int b = 0; b < 256; b++) byte_of_cp[cp_of_byte[b]] = (int16_t)b;

    cs_tokenizer *t = calloc(1, sizeof(*t));
    if (!t) return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory loading %s", what);
    t->n_ids = v->n_ids;
    size_t total = 0;
    for (size_t i = 0; i < v->n_ids; i++)
        if (v->str[i] && !cs_add_size(total, v->len[i], &total)) {
            cs_tokenizer_free(t);
            return cs_fail(CS_ERR_TOO_LARGE, "vocabulary too large");
        }
    t->blob = malloc(total + 1);
    t->offset = cs_alloc_array(v->n_ids + 1, sizeof(size_t));
    t->has_string = calloc(v->n_ids ? v->n_ids : 1, 1);
    if (!t->blob || !t->offset || !t->has_string) {
        cs_tokenizer_free(t);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory loading %s", what);
    }
    size_t k = 0;
    for (size_t i = 0; i < v->n_ids; i++) {
        t->offset[i] = k;
        if (!v->str[i]) continue;
        size_t r = unicode_to_bytes(v->str[i], v->len[i], byte_of_cp, t->blob + k);
        if (r == (size_t)-1) {
            cs_tokenizer_free(t);
            return cs_fail(CS_ERR_FORMAT, "%s: token %zu has a character outside the byte map",
                           what, i);
        }
        t->has_string[i] = 1;
        k += r;
    }
    t->offset[v->n_ids] = k;

    /* initial symbols */
    for (int b = 0; b < 256; b++) {
        char s[16];
        size_t n = cs_utf8_encode_cp(cp_of_byte[b], s);
        t->byte_id[b] = strmap_get(&v->enc, s, n);
        memcpy(s + n, "</w>", 4);
        t->byte_end_id[b] = strmap_get(&v->enc, s, n + 4);
        if (t->byte_id[b] < 0 || t->byte_end_id[b] < 0) {
            cs_tokenizer_free(t);
            return cs_fail(CS_ERR_FORMAT, "%s: byte %d has no symbol in the vocabulary", what, b);
        }
    }
    t->sot = strmap_get(&v->enc, "<|startoftext|>", 15);
    t->eot = strmap_get(&v->enc, "<|endoftext|>", 13);
    if (t->sot < 0 || t->eot < 0) {
        cs_tokenizer_free(t);
        return cs_fail(CS_ERR_FORMAT, "%s: <|startoftext|> or <|endoftext|> missing", what);
    }

    /* merges: (id, id) -> (rank, merged id); a later duplicate overrides (dict semantics) */
    size_t cap = 64;
    while (cap < 2 * (size_t)n_merges + 1) cap *= 2;
    t->mcap = cap;
    t->mkey = cs_alloc_array(cap, sizeof(uint64_t));
    t->mrank = cs_alloc_array(cap, sizeof(int32_t));
    t->mresult = cs_alloc_array(cap, sizeof(int32_t));
    char *joined = NULL;
    size_t joined_cap = 0;
    if (!t->mkey || !t->mrank || !t->mresult) {
        cs_tokenizer_free(t);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory loading %s", what);
    }
    for (size_t i = 0; i < cap; i++) t->mkey[i] = MKEY_EMPTY;
    t->n_ranks = (size_t)n_merges;
    for (long r = 0; r < n_merges; r++) {
        size_t la = strlen(first[r]), lb = strlen(second[r]);
        int32_t a = strmap_get(&v->enc, first[r], la);
        int32_t b = strmap_get(&v->enc, second[r], lb);
        if (a < 0 || b < 0) continue; /* a symbol no word can ever hold: never applies */
        if (la + lb > joined_cap) {
            joined_cap = 2 * (la + lb);
            char *nj = realloc(joined, joined_cap);
            if (!nj) {
                free(joined);
                cs_tokenizer_free(t);
                return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory loading %s", what);
            }
            joined = nj;
        }
        memcpy(joined, first[r], la);
        memcpy(joined + la, second[r], lb);
        int32_t m = strmap_get(&v->enc, joined, la + lb);
        if (m < 0) {
            free(joined);
            cs_tokenizer_free(t);
            return cs_fail(CS_ERR_FORMAT, "%s: merge %ld (\"%s %s\") has no vocabulary entry",
                           what, r + 1, first[r], second[r]);
        }
        merge_put(t, a, b, (int32_t)r, m);
    }
    free(joined);
    *out = t;
    return CS_OK;
}

static cs_status read_gz(const char *path, char **data, size_t *size)
{
    gzFile f = gzopen(path, "rb");
    if (!f) return cs_fail(CS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1u << 21, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        gzclose(f);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_VOCAB_FILE) {
                free(buf);
                gzclose(f);
                return cs_fail(CS_ERR_TOO_LARGE, "%s: over %u bytes uncompressed", path,
                               MAX_VOCAB_FILE);
            }
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                gzclose(f);
                return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory reading %s", path);
            }
            buf = nb;
        }
        size_t want = cap - n;
        if (want > (1u << 30)) want = 1u << 30;
        int r = gzread(f, buf + n, (unsigned)want);
        if (r < 0) {
            int err;
            const char *msg = gzerror(f, &err);
            cs_status st = cs_fail(CS_ERR_FORMAT, "%s: %s", path, msg ? msg : "gzip error");
            free(buf);
            gzclose(f);
            return st;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    gzclose(f);
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return CS_OK;
}

/* OpenAI form from merges text (takes ownership of text, size bytes + NUL). */
static cs_status load_openai_text(char *text, size_t size, const char *path, cs_tokenizer **out);

/* OpenAI form: bpe_simple_vocab_16e6.txt(.gz). */
static cs_status load_openai(const char *path, cs_tokenizer **out)
{
    char *text = NULL;
    size_t size = 0;
    cs_status st = read_gz(path, &text, &size);
    if (st != CS_OK) return st;
    return load_openai_text(text, size, path, out);
}

cs_status cs_read_merges_file(const char *path, char **text, size_t *size)
{
    char *t = NULL;
    size_t n = 0;
    cs_status st = read_gz(path, &t, &n);
    if (st != CS_OK) return st;
    /* keep the header line and the merges the tokenizer uses */
    size_t pos = 0;
    for (long line = 0; pos < n && line < 1 + N_MERGES_OPENAI; line++) {
        const char *nl = memchr(t + pos, '\n', n - pos);
        pos = nl ? (size_t)(nl - t) + 1 : n;
    }
    t[pos] = '\0';
    *text = t;
    *size = pos;
    return CS_OK;
}

cs_status cs_tokenizer_from_merges(const char *text, size_t size, const char *name,
                                   cs_tokenizer **out)
{
    if ((!text && size) || !name || !out)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_tokenizer_from_merges: NULL argument");
    /* only the header line and the merges the tokenizer uses are copied (a huge tensor is not) */
    size_t pos = 0;
    for (long line = 0; pos < size && line < 1 + N_MERGES_OPENAI; line++) {
        const char *nl = memchr(text + pos, '\n', size - pos);
        pos = nl ? (size_t)(nl - text) + 1 : size;
    }
    size = pos;
    char *copy = malloc(size + 1);
    if (!copy) return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory loading %s", name);
    if (size) memcpy(copy, text, size);
    copy[size] = '\0';
    return load_openai_text(copy, size, name, out);
}

static cs_status load_openai_text(char *text, size_t size, const char *path, cs_tokenizer **out)
{
    cs_status st;
    char **first = NULL, **second = NULL;
    long n = 0;
    st = parse_merges(text, size, N_MERGES_OPENAI, &first, &second, &n, path);
    if (st != CS_OK) {
        free(text);
        return st;
    }
    if (n != N_MERGES_OPENAI) {
        free(text);
        free(first);
        free(second);
        return cs_fail(CS_ERR_FORMAT, "%s: %ld merges, expected %d", path, n, N_MERGES_OPENAI);
    }
    /* vocab: 256 byte symbols, the same + "</w>", the joined merges, the two special tokens */
    uint32_t cp_of_byte[256];
    unsigned order[256];
    byte_map(cp_of_byte, order);
    vocab_src v = {0};
    v.n_ids = 512 + (size_t)n + 2;
    v.str = calloc(v.n_ids, sizeof(*v.str));
    v.len = calloc(v.n_ids, sizeof(*v.len));
    char *small = malloc(512 * 8); /* byte symbols */
    char *joined = malloc(size + 1);
    if (!v.str || !v.len || !small || !joined || !strmap_init(&v.enc, v.n_ids)) {
        st = cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory loading %s", path);
        goto done;
    }
    for (int i = 0; i < 256; i++) {
        char *s = small + 8 * i, *e = small + 8 * (256 + i);
        size_t len = cs_utf8_encode_cp(cp_of_byte[order[i]], s);
        memcpy(e, s, len);
        memcpy(e + len, "</w>", 4);
        v.str[i] = s;
        v.len[i] = len;
        v.str[256 + i] = e;
        v.len[256 + i] = len + 4;
    }
    size_t jk = 0;
    for (long r = 0; r < n; r++) {
        size_t la = strlen(first[r]), lb = strlen(second[r]);
        memcpy(joined + jk, first[r], la);
        memcpy(joined + jk + la, second[r], lb);
        v.str[512 + r] = joined + jk;
        v.len[512 + r] = la + lb;
        jk += la + lb;
    }
    v.str[512 + n] = "<|startoftext|>";
    v.len[512 + n] = 15;
    v.str[512 + n + 1] = "<|endoftext|>";
    v.len[512 + n + 1] = 13;
    for (size_t i = 0; i < v.n_ids; i++) strmap_put(&v.enc, v.str[i], v.len[i], (int32_t)i);
    st = build(&v, first, second, n, path, out);
done:
    strmap_free(&v.enc);
    free(v.str);
    free(v.len);
    free(small);
    free(joined);
    free(first);
    free(second);
    free(text);
    return st;
}

/* Hugging Face form: vocab.json + merges.txt beside it. */
static cs_status load_hf(const char *vocab_path, cs_tokenizer **out)
{
    /* merges.txt in the same folder */
    const char *slash = strrchr(vocab_path, '/');
    size_t dir_len = slash ? (size_t)(slash - vocab_path + 1) : 0;
    char *merges_path = malloc(dir_len + sizeof(CS_MERGES_HF_NAME));
    if (!merges_path) return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(merges_path, vocab_path, dir_len);
    memcpy(merges_path + dir_len, CS_MERGES_HF_NAME, sizeof(CS_MERGES_HF_NAME));

    char *jtext = NULL, *mtext = NULL;
    size_t jsize = 0, msize = 0;
    char **first = NULL, **second = NULL;
    json_t *root = NULL;
    vocab_src v = {0};
    cs_status st = cs_read_file(vocab_path, MAX_VOCAB_FILE, &jtext, &jsize);
    if (st != CS_OK) goto done;
    st = cs_read_file(merges_path, MAX_VOCAB_FILE, &mtext, &msize);
    if (st != CS_OK) goto done;
    json_error_t jerr;
    root = json_loadb(jtext, jsize, 0, &jerr);
    if (!root || !json_is_object(root)) {
        st = cs_fail(CS_ERR_FORMAT, "%s: not a JSON object (%s, line %d)", vocab_path,
                     root ? "wrong type" : jerr.text, root ? 0 : jerr.line);
        goto done;
    }
    size_t max_id = 0, count = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (!json_is_integer(val) || json_integer_value(val) < 0 ||
            json_integer_value(val) >= (json_int_t)MAX_VOCAB_IDS) {
            st = cs_fail(CS_ERR_FORMAT, "%s: id of \"%s\" is not an integer in [0, %u)",
                         vocab_path, key, MAX_VOCAB_IDS);
            goto done;
        }
        size_t id = (size_t)json_integer_value(val);
        if (id > max_id) max_id = id;
        count++;
    }
    if (count == 0) {
        st = cs_fail(CS_ERR_FORMAT, "%s: empty vocabulary", vocab_path);
        goto done;
    }
    v.n_ids = max_id + 1;
    v.str = calloc(v.n_ids, sizeof(*v.str));
    v.len = calloc(v.n_ids, sizeof(*v.len));
    if (!v.str || !v.len || !strmap_init(&v.enc, count)) {
        st = cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory loading %s", vocab_path);
        goto done;
    }
    json_object_foreach(root, key, val)
    {
        size_t id = (size_t)json_integer_value(val);
        size_t len = strlen(key);
        if (v.str[id]) {
            st = cs_fail(CS_ERR_FORMAT, "%s: id %zu is given twice", vocab_path, id);
            goto done;
        }
        v.str[id] = key;
        v.len[id] = len;
        strmap_put(&v.enc, key, len, (int32_t)id);
    }
    /* strip trailing whitespace as the reference's read().strip() before splitting */
    while (msize > 0 && (mtext[msize - 1] == '\n' || mtext[msize - 1] == ' ' ||
                         mtext[msize - 1] == '\r' || mtext[msize - 1] == '\t'))
        mtext[--msize] = '\0';
    long n = 0;
    st = parse_merges(mtext, msize, N_MERGES_OPENAI, &first, &second, &n, merges_path);
    if (st != CS_OK) goto done;
    st = build(&v, first, second, n, vocab_path, out);
done:
    strmap_free(&v.enc);
    free(v.str);
    free(v.len);
    if (root) json_decref(root);
    free(first);
    free(second);
    free(jtext);
    free(mtext);
    free(merges_path);
    return st;
}

static int is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static char *join_path(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (k > 0 && p[k - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

/* Nonzero when the file starts (after whitespace) with '{': a vocab.json. */
static int looks_like_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int c;
    do c = fgetc(f);
    while (c == ' ' || c == '\n' || c == '\r' || c == '\t');
    fclose(f);
    return c == '{';
}

int cs_tokenizer_folder_has_vocab(const char *folder)
{
    if (!folder) return 0;
    const char *names[2] = {CS_VOCAB_OPENAI_NAME, CS_VOCAB_HF_NAME};
    for (int i = 0; i < 2; i++) {
        char *p = join_path(folder, names[i]);
        int ok = p && is_file(p);
        free(p);
        if (ok) return 1;
    }
    return 0;
}

CS_API cs_status cs_tokenizer_load(const char *path, cs_tokenizer **out)
{
    cs_clear_error();
    if (!out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_tokenizer_load: out is NULL");
    *out = NULL;
    if (!path || !*path) return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_tokenizer_load: no path");
    if (is_dir(path)) {
        char *p = join_path(path, CS_VOCAB_OPENAI_NAME);
        if (!p) return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory");
        if (is_file(p)) {
            cs_status st = load_openai(p, out);
            free(p);
            return st;
        }
        free(p);
        p = join_path(path, CS_VOCAB_HF_NAME);
        if (!p) return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory");
        if (is_file(p)) {
            cs_status st = load_hf(p, out);
            free(p);
            return st;
        }
        free(p);
        return cs_fail(CS_ERR_IO, "%s holds neither %s nor %s", path, CS_VOCAB_OPENAI_NAME,
                       CS_VOCAB_HF_NAME);
    }
    if (!is_file(path)) return cs_fail(CS_ERR_IO, "cannot open %s: no such file", path);
    if (looks_like_json(path)) return load_hf(path, out);
    return load_openai(path, out);
}


/* ---------------------------------------------------------------------------------------- */
/* Encoding                                                                                 */
/* ---------------------------------------------------------------------------------------- */
typedef struct idbuf {
    int32_t *v;
    size_t n, cap;
} idbuf;

static int idbuf_push(idbuf *b, int32_t id)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256, bytes;
        if (!cs_mul_size(cap, sizeof(int32_t), &bytes)) return 0;
        int32_t *v = realloc(b->v, bytes);
        if (!v) return 0;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = id;
    return 1;
}

/* Work space of the BPE of one call (never shared between threads). Candidate merges are kept
 * in one list per rank (in insertion order) and a min-heap holds the ranks whose list is not
 * empty. */
typedef struct bpe_node {
    uint32_t pos; /* left symbol's position */
    int32_t a, b; /* the pair's ids when queued: a stale candidate is recognised by them */
    int32_t next; /* next node of the same rank, -1 at the end */
} bpe_node;

typedef struct bpe_work {
    int32_t *sym;   /* symbol id at a start position; -1 when merged away */
    uint32_t *next; /* next live position (n = end) */
    uint32_t *prev; /* previous live position (UINT32_MAX = none) */
    uint32_t *merged; /* positions merged in the current batch */
    size_t cap;       /* capacity of sym/next/prev/merged */
    bpe_node *node;
    size_t n_node, node_cap;
    bpe_node *batch;
    size_t batch_cap;
    int32_t *head, *tail; /* per rank: first and last node + 1, 0 when empty (calloc'd: the
                           * pages of ranks a call never queues are never touched) */
    size_t n_ranks;
    int32_t *rheap; /* ranks with a non-empty list */
    size_t rheap_n, rheap_cap;
} bpe_work;

static void work_free(bpe_work *w)
{
    free(w->sym);
    free(w->next);
    free(w->prev);
    free(w->merged);
    free(w->node);
    free(w->batch);
    free(w->head);
    free(w->tail);
    free(w->rheap);
}

static int work_reserve(bpe_work *w, size_t n)
{
    if (n <= w->cap) return 1;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < n) cap *= 2;
    int32_t *s = realloc(w->sym, cap * sizeof(int32_t));
    if (s) w->sym = s;
    uint32_t *nx = realloc(w->next, cap * sizeof(uint32_t));
    if (nx) w->next = nx;
    uint32_t *pv = realloc(w->prev, cap * sizeof(uint32_t));
    if (pv) w->prev = pv;
    uint32_t *mg = realloc(w->merged, cap * sizeof(uint32_t));
    if (mg) w->merged = mg;
    if (!s || !nx || !pv || !mg) return 0;
    w->cap = cap;
    return 1;
}

static int work_init_ranks(bpe_work *w, size_t n_ranks)
{
    if (w->head) return 1;
    w->head = cs_calloc_array(n_ranks ? n_ranks : 1, sizeof(int32_t));
    w->tail = cs_calloc_array(n_ranks ? n_ranks : 1, sizeof(int32_t));
    if (!w->head || !w->tail) return 0;
    w->n_ranks = n_ranks;
    return 1;
}

static int rheap_push(bpe_work *w, int32_t r)
{
    if (w->rheap_n == w->rheap_cap) {
        size_t cap = w->rheap_cap ? 2 * w->rheap_cap : 64;
        int32_t *h = realloc(w->rheap, cap * sizeof(int32_t));
        if (!h) return 0;
        w->rheap = h;
        w->rheap_cap = cap;
    }
    size_t i = w->rheap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (r >= w->rheap[p]) break;
        w->rheap[i] = w->rheap[p];
        i = p;
    }
    w->rheap[i] = r;
    return 1;
}

static int32_t rheap_pop(bpe_work *w)
{
    int32_t top = w->rheap[0];
    int32_t last = w->rheap[--w->rheap_n];
    size_t i = 0, n = w->rheap_n;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= n) break;
        size_t m = (l + 1 < n && w->rheap[l + 1] < w->rheap[l]) ? l + 1 : l;
        if (w->rheap[m] >= last) break;
        w->rheap[i] = w->rheap[m];
        i = m;
    }
    if (n > 0) w->rheap[i] = last;
    return top;
}

/* Queues the candidate merge (pos, next(pos)) when the pair has a rank. */
static int push_pair(const cs_tokenizer *t, bpe_work *w, uint32_t pos, uint32_t n)
{
    uint32_t q = w->next[pos];
    if (q >= n) return 1;
    int32_t rank, result;
    if (!merge_get(t, w->sym[pos], w->sym[q], &rank, &result)) return 1;
    if (w->n_node == w->node_cap) {
        size_t cap = w->node_cap ? 2 * w->node_cap : 256;
        if (cap > INT32_MAX) return 0;
        bpe_node *nd = realloc(w->node, cap * sizeof(bpe_node));
        if (!nd) return 0;
        w->node = nd;
        w->node_cap = cap;
    }
    int32_t k = (int32_t)w->n_node++;
    bpe_node *nd = &w->node[k];
    nd->pos = pos;
    nd->a = w->sym[pos];
    nd->b = w->sym[q];
    nd->next = -1;
    if (w->head[rank] == 0) {
        if (!rheap_push(w, rank)) return 0;
        w->head[rank] = k + 1;
    } else {
        w->node[w->tail[rank] - 1].next = k;
    }
    w->tail[rank] = k + 1;
    return 1;
}

static int node_cmp(const void *x, const void *y)
{
    const bpe_node *a = x, *b = y;
    return a->pos < b->pos ? -1 : (a->pos > b->pos);
}

/* BPE of one word (raw bytes), appending ids. The reference repeatedly takes the
 * lowest-ranked adjacent pair and merges all its non-overlapping occurrences left to right;
 * here each rank's queued occurrences are taken in position order and merged as one batch
 * (new neighbour pairs are queued after the batch), which gives the same result in
 * O(L log L) instead of O(L^2). */
static int bpe_word(const cs_tokenizer *t, bpe_work *w, const unsigned char *s, size_t len,
                    idbuf *out)
{
    if (len == 1) return idbuf_push(out, t->byte_end_id[s[0]]);
    if (len > UINT32_MAX - 1 || !work_reserve(w, len) || !work_init_ranks(w, t->n_ranks))
        return 0;
    uint32_t n = (uint32_t)len;
    for (uint32_t i = 0; i < n; i++) {
        w->sym[i] = i + 1 == n ? t->byte_end_id[s[i]] : t->byte_id[s[i]];
        w->next[i] = i + 1;
        w->prev[i] = i == 0 ? UINT32_MAX : i - 1;
    }
    w->n_node = 0;
    w->rheap_n = 0;
    int ok = 1;
    for (uint32_t i = 0; ok && i + 1 < n; i++) ok = push_pair(t, w, i, n);
    while (ok && w->rheap_n > 0) {
        int32_t rank = rheap_pop(w);
        /* gather this rank's candidates, in position order */
        size_t nb = 0;
        int sorted = 1;
        for (int32_t k = w->head[rank] - 1; k >= 0; k = w->node[k].next) {
            if (nb == w->batch_cap) {
                size_t cap = w->batch_cap ? 2 * w->batch_cap : 256;
                bpe_node *b = realloc(w->batch, cap * sizeof(bpe_node));
                if (!b) {
                    ok = 0;
                    break;
                }
                w->batch = b;
                w->batch_cap = cap;
            }
            w->batch[nb] = w->node[k];
            if (nb > 0 && w->batch[nb].pos < w->batch[nb - 1].pos) sorted = 0;
            nb++;
        }
        w->head[rank] = w->tail[rank] = 0;
        if (!ok) break;
        if (!sorted) qsort(w->batch, nb, sizeof(bpe_node), node_cmp);
        size_t nm = 0;
        int32_t result = -1;
        for (size_t k = 0; k < nb; k++) {
            uint32_t p = w->batch[k].pos;
            if (w->sym[p] != w->batch[k].a) continue; /* merged away or changed */
            uint32_t q = w->next[p];
            if (q >= n || w->sym[q] != w->batch[k].b) continue;
            if (result < 0) {
                int32_t r2;
                if (!merge_get(t, w->sym[p], w->sym[q], &r2, &result)) continue;
            }
            w->sym[p] = result;
            w->sym[q] = -1;
            w->next[p] = w->next[q];
            if (w->next[q] < n) w->prev[w->next[q]] = p;
            w->merged[nm++] = p;
        }
        for (size_t k = 0; ok && k < nm; k++) {
            uint32_t p = w->merged[k];
            if (w->sym[p] < 0) continue;
            if (w->prev[p] != UINT32_MAX) ok = push_pair(t, w, w->prev[p], n);
            if (ok) ok = push_pair(t, w, p, n);
        }
    }
    /* leave every rank list empty for the next word */
    while (w->rheap_n > 0) {
        int32_t r = rheap_pop(w);
        w->head[r] = w->tail[r] = 0;
    }
    for (uint32_t p = 0; ok && p < n; p = w->next[p]) ok = idbuf_push(out, w->sym[p]);
    return ok;
}

static int is_letter(uint32_t c)
{
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return 1;
    default:
        return 0;
    }
}

static int is_number(uint32_t c)
{
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
    return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL ||
           cat == UTF8PROC_CATEGORY_NO;
}

static int is_regex_space(uint32_t c) { return cs_py_isspace(c); }

static int match_ascii(const uint32_t *s, size_t n, size_t i, const char *lit)
{
    size_t k = 0;
    for (; lit[k]; k++)
        if (i + k >= n || s[i + k] != (unsigned char)lit[k]) return 0;
    return (int)k;
}

/* Length of a contraction at s[i] ('s 't 're 've 'm 'll 'd, case-insensitive), or 0. */
static size_t contraction(const uint32_t *s, size_t n, size_t i)
{
    if (s[i] != '\'' || i + 1 >= n) return 0;
    uint32_t c = s[i + 1];
    if (c < 0x80 && c >= 'A' && c <= 'Z') c += 32;
    if (c == 's' || c == 0x17F /* long s folds to s */ || c == 't' || c == 'm' || c == 'd')
        return 2;
    if (i + 2 >= n) return 0;
    uint32_t d = s[i + 2];
    if (d < 0x80 && d >= 'A' && d <= 'Z') d += 32;
    if ((c == 'r' && d == 'e') || (c == 'v' && d == 'e') || (c == 'l' && d == 'l')) return 3;
    return 0;
}

cs_status cs_tokenizer_encode_alloc(const cs_tokenizer *tok, const char *text, size_t len,
                                    int32_t **ids, size_t *n_ids)
{
    if (!tok || (!text && len > 0) || !ids || !n_ids)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "tokenize: NULL argument");
    *ids = NULL;
    *n_ids = 0;
    cs_cpbuf cps = {0};
    cs_status st = cs_clip_clean_text(text ? text : "", len, &cps);
    if (st != CS_OK) {
        cs_cpbuf_free(&cps);
        return st;
    }
    idbuf out = {0};
    bpe_work w = {0};
    unsigned char *word = NULL;
    size_t word_cap = 0;
    int ok = idbuf_push(&out, tok->sot);
    size_t i = 0, n = cps.n;
    const uint32_t *s = cps.v;
    while (ok && i < n) {
        uint32_t c = s[i];
        size_t end;
        if (c == '<' && match_ascii(s, n, i, "<|startoftext|>")) {
            ok = idbuf_push(&out, tok->sot);
            i += 15;
            continue;
        }
        if (c == '<' && match_ascii(s, n, i, "<|endoftext|>")) {
            ok = idbuf_push(&out, tok->eot);
            i += 13;
            continue;
        }
        size_t cl = contraction(s, n, i);
        if (cl) {
            end = i + cl;
        } else if (is_letter(c)) {
            end = i + 1;
            while (end < n && is_letter(s[end])) end++;
        } else if (is_number(c)) {
            end = i + 1;
        } else if (is_regex_space(c)) {
            i++;
            continue;
        } else {
            end = i + 1;
            while (end < n && !is_regex_space(s[end]) && !is_letter(s[end]) &&
                   !is_number(s[end]))
                end++;
        }
        /* UTF-8 bytes of the piece */
        size_t need;
        if (!cs_mul_size(end - i, 4, &need)) {
            ok = 0;
            break;
        }
        if (need > word_cap) {
            unsigned char *nw = realloc(word, need);
            if (!nw) {
                ok = 0;
                break;
            }
            word = nw;
            word_cap = need;
        }
        size_t wl = 0;
        for (size_t k = i; k < end; k++) wl += cs_utf8_encode_cp(s[k], (char *)word + wl);
        ok = bpe_word(tok, &w, word, wl, &out);
        i = end;
    }
    if (ok) ok = idbuf_push(&out, tok->eot);
    free(word);
    work_free(&w);
    cs_cpbuf_free(&cps);
    if (!ok) {
        free(out.v);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory while tokenizing");
    }
    *ids = out.v;
    *n_ids = out.n;
    return CS_OK;
}

CS_API cs_status cs_tokenize(const cs_tokenizer *tok, const char *text, size_t len, int32_t *ids,
                             size_t capacity, size_t *n_ids)
{
    cs_clear_error();
    if (!tok || (!text && len > 0) || !n_ids || (!ids && capacity > 0))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_tokenize: NULL argument");
    int32_t *all = NULL;
    size_t n = 0;
    cs_status st = cs_tokenizer_encode_alloc(tok, text, len, &all, &n);
    if (st != CS_OK) return st;
    *n_ids = n;
    if (n > capacity) {
        free(all);
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "cs_tokenize: %zu ids, capacity %zu", n,
                       capacity);
    }
    memcpy(ids, all, n * sizeof(int32_t));
    free(all);
    return CS_OK;
}

CS_API cs_status cs_tokenize_context(const cs_tokenizer *tok, const char *text, size_t len,
                                     int truncate, int32_t ids[CS_CONTEXT_LENGTH],
                                     size_t *n_used)
{
    cs_clear_error();
    if (!tok || (!text && len > 0) || !ids)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_tokenize_context: NULL argument");
    int32_t *all = NULL;
    size_t n = 0;
    cs_status st = cs_tokenizer_encode_alloc(tok, text, len, &all, &n);
    if (st != CS_OK) return st;
    if (n > CS_CONTEXT_LENGTH && !truncate) {
        free(all);
        return cs_fail(CS_ERR_TEXT_TOO_LONG,
                       "text is %zu tokens with start and end, over the context of %d", n,
                       CS_CONTEXT_LENGTH);
    }
    size_t used = n > CS_CONTEXT_LENGTH ? CS_CONTEXT_LENGTH : n;
    memcpy(ids, all, used * sizeof(int32_t));
    for (size_t i = used; i < CS_CONTEXT_LENGTH; i++) ids[i] = 0;
    if (n > CS_CONTEXT_LENGTH) ids[CS_CONTEXT_LENGTH - 1] = tok->eot;
    free(all);
    if (n_used) *n_used = used;
    return CS_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Decoding                                                                                 */
/* ---------------------------------------------------------------------------------------- */
CS_API cs_status cs_detokenize(const cs_tokenizer *tok, const int32_t *ids, size_t n_ids,
                               char *buf, size_t capacity, size_t *len)
{
    cs_clear_error();
    if (!tok || (!ids && n_ids > 0) || !len || (!buf && capacity > 0))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_detokenize: NULL argument");
    *len = 0;
    /* padding: zeros after the last end-of-text id */
    size_t end = n_ids;
    for (size_t i = n_ids; i > 0; i--) {
        if (ids[i - 1] == tok->eot) {
            size_t j = i;
            while (j < n_ids && ids[j] == 0) j++;
            if (j == n_ids) end = i;
            break;
        }
    }
    size_t total = 0;
    for (size_t i = 0; i < end; i++) {
        int32_t id = ids[i];
        if (id < 0 || (size_t)id >= tok->n_ids || !tok->has_string[id])
            return cs_fail(CS_ERR_INVALID_ARGUMENT, "cs_detokenize: id %d at %zu out of range",
                           (int)id, i);
        if (id == tok->sot || id == tok->eot) continue;
        total += tok->offset[id + 1] - tok->offset[id];
    }
    char *raw = malloc(total + 1);
    if (!raw) return cs_fail(CS_ERR_OUT_OF_MEMORY, "out of memory decoding ids");
    size_t k = 0;
    for (size_t i = 0; i < end; i++) {
        int32_t id = ids[i];
        if (id == tok->sot || id == tok->eot) continue;
        size_t l = tok->offset[id + 1] - tok->offset[id];
        memcpy(raw + k, tok->blob + tok->offset[id], l);
        k += l;
    }
    /* bytes -> UTF-8 with replacement, then "</w>" -> " " */
    cs_cpbuf cps = {0};
    cs_status st = cs_utf8_decode(raw, k, &cps);
    free(raw);
    if (st != CS_OK) return st;
    size_t out_len = 0;
    char tmp[4];
    for (size_t i = 0; i < cps.n; i++) {
        if (match_ascii(cps.v, cps.n, i, "</w>")) {
            out_len += 1;
            i += 3;
        } else {
            out_len += cs_utf8_encode_cp(cps.v[i], tmp);
        }
    }
    *len = out_len;
    if (out_len + 1 > capacity) {
        cs_cpbuf_free(&cps);
        return cs_fail(CS_ERR_BUFFER_TOO_SMALL, "cs_detokenize: %zu bytes, capacity %zu",
                       out_len + 1, capacity);
    }
    size_t o = 0;
    for (size_t i = 0; i < cps.n; i++) {
        if (match_ascii(cps.v, cps.n, i, "</w>")) {
            buf[o++] = ' ';
            i += 3;
        } else {
            o += cs_utf8_encode_cp(cps.v[i], buf + o);
        }
    }
    buf[o] = '\0';
    cs_cpbuf_free(&cps);
    return CS_OK;
}
