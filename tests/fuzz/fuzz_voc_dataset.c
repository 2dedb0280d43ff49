/* libFuzzer target: the VOC dataset text readers (lib/eval/voc_dataset.c). The input is split at
 * its first 0x00 byte: the part before is a class-names file, the part after a labels.tsv that
 * is parsed against those classes and, separately, a split list; the whole input is also parsed
 * as a split list and as a classes file. Seeds: fixtures/eval/voc-tiny/classes.txt + "\0" +
 * labels.tsv, and ImageSets/Segmentation/val.txt. */
#include "eval/voc_dataset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, 0, size);
    size_t n1 = nul ? (size_t)(nul - text) : size;
    const char *rest = nul ? nul + 1 : text + size;
    size_t n2 = nul ? size - n1 - 1 : 0;
    cs_voc_classes *c = NULL;
    if (cs_voc_classes_parse(text, n1, &c) == CS_OK) {
        for (int q = 0; q < c->n_queries; q++)
            if (c->query_class[q] < 0 || c->query_class[q] >= c->n_classes) abort();
        cs_voc_labels *l = NULL;
        if (cs_voc_labels_parse(rest, n2, c, &l) == CS_OK) {
            for (int i = 0; i < l->n; i++) {
                volatile size_t len = strlen(l->paths[i]) + l->labels[(size_t)i * c->n_classes];
                (void)len;
            }
            cs_voc_labels_free(l);
        }
        (void)cs_voc_class_index(c, "background");
        cs_voc_classes_free(c);
    }
    char **ids = NULL;
    int n = 0, *lines = NULL;
    if (cs_voc_ids_parse(text, size, &ids, &n, &lines) == CS_OK) {
        for (int i = 0; i < n; i++)
            if (!ids[i][0] || lines[i] < 1) abort();
        cs_voc_strings_free(ids, n);
        free(lines);
    }
    if (cs_voc_classes_parse(text, size, &c) == CS_OK) cs_voc_classes_free(c);
    return 0;
}
