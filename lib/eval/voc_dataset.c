/* VOC-layout dataset text files (voc_dataset.h). */
#include "eval/voc_dataset.h"

#include "core/common.h"

#include <stdlib.h>
#include <string.h>

/* Next line of text[*pos..len): [*b, *e) without the newline and a trailing CR. 0 at the end. */
static int next_line(const char *text, size_t len, size_t *pos, size_t *b, size_t *e)
{
    if (*pos >= len) return 0;
    size_t s = *pos, i = s;
    while (i < len && text[i] != '\n') i++;
    *pos = i < len ? i + 1 : i;
    size_t end = i;
    if (end > s && text[end - 1] == '\r') end--;
    *b = s;
    *e = end;
    return 1;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void strip(const char *t, size_t *b, size_t *e)
{
    while (*b < *e && is_space(t[*b])) (*b)++;
    while (*e > *b && is_space(t[*e - 1])) (*e)--;
}

static char *dup_range(const char *t, size_t b, size_t e)
{
    char *s = malloc(e - b + 1);
    if (!s) return NULL;
    memcpy(s, t + b, e - b);
    s[e - b] = 0;
    return s;
}

void cs_voc_strings_free(char **strings, int n)
{
    if (!strings) return;
    for (int i = 0; i < n; i++) free(strings[i]);
    free(strings);
}

void cs_voc_classes_free(cs_voc_classes *c)
{
    if (!c) return;
    cs_voc_strings_free(c->names, c->n_classes);
    cs_voc_strings_free(c->queries, c->n_queries);
    free(c->query_class);
    free(c);
}

int cs_voc_class_index(const cs_voc_classes *c, const char *name)
{
    if (!c || !name) return -1;
    for (int i = 0; i < c->n_classes; i++)
        if (strcmp(c->names[i], name) == 0) return i;
    return -1;
}

static int grow(void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap) return 1;
    int nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return 0;
    *p = q;
    *cap = nc;
    return 1;
}

cs_status cs_voc_classes_parse(const char *text, size_t len, cs_voc_classes **out)
{
    if ((!text && len) || !out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "classes: NULL argument");
    if (len && memchr(text, 0, len)) return cs_fail(CS_ERR_FORMAT, "classes: the file holds a NUL byte");
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) { /* a UTF-8 byte order mark is not a name */
        text += 3;
        len -= 3;
    }
    cs_voc_classes *c = calloc(1, sizeof *c);
    if (!c) return cs_fail(CS_ERR_OUT_OF_MEMORY, "classes: out of memory");
    int cap_n = 0, cap_q = 0, cap_qc = 0, line = 0, blank_from = 0;
    size_t pos = 0, b, e;
    cs_status s = CS_OK;
    while (next_line(text, len, &pos, &b, &e)) {
        line++;
        if (e - b > CS_VOC_MAX_LINE) {
            s = cs_fail(CS_ERR_FORMAT, "line %d: longer than %d bytes", line, CS_VOC_MAX_LINE);
            goto fail;
        }
        size_t lb = b, le = e;
        strip(text, &lb, &le);
        if (lb == le) {
            if (!blank_from) blank_from = line;
            continue;
        }
        if (blank_from) {
            s = cs_fail(CS_ERR_FORMAT, "line %d: blank line inside the class list (line i is class "
                        "i, so a class cannot be empty)", blank_from);
            goto fail;
        }
        int k = c->n_classes;
        if (k >= CS_VOC_MAX_CLASSES) {
            s = cs_fail(CS_ERR_FORMAT, "line %d: more than %d classes", line, CS_VOC_MAX_CLASSES);
            goto fail;
        }
        int is_bg = k == 0 && le - lb == 10 && memcmp(text + lb, "background", 10) == 0;
        if (is_bg) c->has_background = 1;
        /* synonyms */
        int first = 1;
        size_t p = lb;
        while (p <= le) {
            size_t q = p;
            while (q < le && text[q] != ',') q++;
            size_t sb = p, se = q;
            strip(text, &sb, &se);
            if (sb < se) {
                char *syn = dup_range(text, sb, se);
                if (!syn) goto oom;
                if (first) {
                    if (!grow((void **)&c->names, &cap_n, k + 1, sizeof(char *))) {
                        free(syn);
                        goto oom;
                    }
                    for (int j = 0; j < k; j++)
                        if (strcmp(c->names[j], syn) == 0) {
                            s = cs_fail(CS_ERR_FORMAT, "line %d: class name '%s' is also class %d "
                                        "(line %d)", line, syn, j, j + 1);
                            free(syn);
                            goto fail;
                        }
                    c->names[k] = syn;
                    c->n_classes = k + 1;
                    first = 0;
                    if (is_bg) break;
                    syn = dup_range(text, sb, se);
                    if (!syn) goto oom;
                }
                if (!grow((void **)&c->queries, &cap_q, c->n_queries + 1, sizeof(char *)) ||
                    !grow((void **)&c->query_class, &cap_qc, c->n_queries + 1, sizeof(int))) {
                    free(syn);
                    goto oom;
                }
                c->queries[c->n_queries] = syn;
                c->query_class[c->n_queries++] = k;
            }
            p = q + 1;
        }
        if (first) {
            s = cs_fail(CS_ERR_FORMAT, "line %d: no class name (only commas and spaces)", line);
            goto fail;
        }
    }
    if (c->n_classes == 0) {
        s = cs_fail(CS_ERR_FORMAT, "no class names");
        goto fail;
    }
    *out = c;
    return CS_OK;
oom:
    s = cs_fail(CS_ERR_OUT_OF_MEMORY, "classes: out of memory");
fail:
    cs_voc_classes_free(c);
    return s;
}

cs_status cs_voc_ids_parse(const char *text, size_t len, char ***ids, int *n, int **lines)
{
    if ((!text && len) || !ids || !n) return cs_fail(CS_ERR_INVALID_ARGUMENT, "split: NULL argument");
    char **v = NULL;
    int *ln = NULL;
    int nv = 0, cap = 0, cap_l = 0, line = 0;
    size_t pos = 0, b, e;
    while (next_line(text, len, &pos, &b, &e)) {
        line++;
        strip(text, &b, &e);
        if (b == e) continue;
        for (size_t i = b; i < e; i++)
            if (is_space(text[i]) || text[i] == '/' || text[i] == '\\' || text[i] == 0) {
                cs_voc_strings_free(v, nv);
                free(ln);
                return cs_fail(CS_ERR_FORMAT, "line %d: an id must not hold whitespace, '/', '\\' "
                               "or NUL", line);
            }
        if ((e - b == 1 && text[b] == '.') || (e - b == 2 && text[b] == '.' && text[b + 1] == '.')) {
            cs_voc_strings_free(v, nv);
            free(ln);
            return cs_fail(CS_ERR_FORMAT, "line %d: '.' and '..' are not ids", line);
        }
        if (e - b > CS_VOC_MAX_LINE) {
            cs_voc_strings_free(v, nv);
            free(ln);
            return cs_fail(CS_ERR_FORMAT, "line %d: id longer than %d bytes", line, CS_VOC_MAX_LINE);
        }
        char *id = dup_range(text, b, e);
        if (!id || !grow((void **)&v, &cap, nv + 1, sizeof(char *)) ||
            !grow((void **)&ln, &cap_l, nv + 1, sizeof(int))) {
            free(id);
            cs_voc_strings_free(v, nv);
            free(ln);
            return cs_fail(CS_ERR_OUT_OF_MEMORY, "split: out of memory");
        }
        ln[nv] = line;
        v[nv++] = id;
    }
    *ids = v;
    *n = nv;
    if (lines) *lines = ln;
    else free(ln);
    return CS_OK;
}

void cs_voc_labels_free(cs_voc_labels *l)
{
    if (!l) return;
    cs_voc_strings_free(l->paths, l->n);
    free(l->labels);
    free(l->lines);
    free(l);
}

cs_status cs_voc_labels_parse(const char *text, size_t len, const cs_voc_classes *classes,
                              cs_voc_labels **out)
{
    if ((!text && len) || !classes || !out)
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "labels: NULL argument");
    const int K = classes->n_classes;
    cs_voc_labels *l = calloc(1, sizeof *l);
    if (!l) return cs_fail(CS_ERR_OUT_OF_MEMORY, "labels: out of memory");
    l->n_classes = K;
    int cap_p = 0, cap_l = 0, cap_n = 0, line = 0;
    size_t pos = 0, b, e;
    cs_status s;
    while (next_line(text, len, &pos, &b, &e)) {
        line++;
        size_t lb = b, le = e;
        strip(text, &lb, &le);
        if (lb == le) continue;
        if (memchr(text + b, 0, e - b)) {
            s = cs_fail(CS_ERR_FORMAT, "line %d: NUL byte", line);
            goto fail;
        }
        const char *tab = memchr(text + b, '\t', e - b);
        if (!tab) {
            s = cs_fail(CS_ERR_FORMAT, "line %d: no TAB between the image path and the names", line);
            goto fail;
        }
        size_t pb = b, pe = (size_t)(tab - text);
        while (pb < pe && (text[pb] == ' ')) pb++; /* leading spaces only; a path may end in one */
        if (pb == pe) {
            s = cs_fail(CS_ERR_FORMAT, "line %d: empty image path", line);
            goto fail;
        }
        if (pe - pb > CS_VOC_MAX_LINE) {
            s = cs_fail(CS_ERR_FORMAT, "line %d: path longer than %d bytes", line, CS_VOC_MAX_LINE);
            goto fail;
        }
        if (!grow((void **)&l->paths, &cap_p, l->n + 1, sizeof(char *)) ||
            !grow((void **)&l->lines, &cap_n, l->n + 1, sizeof(int)))
            goto oom;
        int labels_need = (l->n + 1) * K;
        if (!grow((void **)&l->labels, &cap_l, labels_need, 1)) goto oom;
        uint8_t *row = l->labels + (size_t)l->n * K;
        memset(row, 0, (size_t)K);
        char *path = dup_range(text, pb, pe);
        if (!path) goto oom;
        l->lines[l->n] = line;
        l->paths[l->n++] = path;
        size_t p = pe + 1;
        while (p <= e) {
            size_t q = p;
            while (q < e && text[q] != ',') q++;
            size_t sb = p, se = q;
            strip(text, &sb, &se);
            if (sb < se) {
                char name[CS_VOC_MAX_LINE + 1];
                size_t n = se - sb > CS_VOC_MAX_LINE ? CS_VOC_MAX_LINE : se - sb;
                memcpy(name, text + sb, n);
                name[n] = 0;
                int k = cs_voc_class_index(classes, name);
                if (k < 0) {
                    s = cs_fail(CS_ERR_FORMAT, "line %d: unknown class name '%.200s' (names are "
                                "the first synonyms of the class-names file)", line, name);
                    goto fail;
                }
                if (k == 0 && classes->has_background) {
                    s = cs_fail(CS_ERR_FORMAT, "line %d: 'background' is not a label (it is never "
                                "scored)", line);
                    goto fail;
                }
                row[k] = 1;
            }
            p = q + 1;
        }
    }
    *out = l;
    return CS_OK;
oom:
    s = cs_fail(CS_ERR_OUT_OF_MEMORY, "labels: out of memory");
fail:
    cs_voc_labels_free(l);
    return s;
}
