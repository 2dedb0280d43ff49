/* The text files of a VOC-layout evaluation dataset (EVAL.md 1.1, 4): the class-names file,
 * the split list and labels.tsv. Parsers over memory buffers; every failure names the 1-based
 * line in cs_last_error() ("line 3: ..."), the caller adds the file name. Internal to the library
 * and the CLI's `eval`; not installed. */
#ifndef CS_EVAL_VOC_DATASET_H
#define CS_EVAL_VOC_DATASET_H

#include "clipsurgery.h"

#include <stddef.h>
#include <stdint.h>

#define CS_VOC_MAX_CLASSES 255 /* labels are uint8 and 255 is ignore */
#define CS_VOC_MAX_LINE 4096

typedef struct cs_voc_classes {
    int n_classes;      /* K (1..CS_VOC_MAX_CLASSES) */
    char **names;       /* [K] the first synonym of each line */
    int has_background; /* line 0 is exactly "background" (class 0 gets no text) */
    int n_queries;      /* Q: synonyms of the text classes, by class then line order */
    char **queries;     /* [Q] */
    int *query_class;   /* [Q] the class of each query */
} cs_voc_classes;

/* Class-names file: line i is class i, comma-separated synonyms, whitespace around each
 * stripped, empty synonyms dropped; CRLF accepted; blank lines only at the end. A line without a
 * synonym, two classes with the same first synonym, a NUL byte, a line over CS_VOC_MAX_LINE bytes
 * or more than CS_VOC_MAX_CLASSES classes is CS_ERR_FORMAT; no class at all too.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_FORMAT, CS_ERR_OUT_OF_MEMORY. */
cs_status cs_voc_classes_parse(const char *text, size_t len, cs_voc_classes **out);
void cs_voc_classes_free(cs_voc_classes *classes);
/* Class index of a first synonym, or -1. */
int cs_voc_class_index(const cs_voc_classes *classes, const char *name);

/* Split list (ImageSets/Segmentation/<split>.txt): one id a line, surrounding whitespace
 * stripped, blank lines skipped, CRLF accepted. An id holding whitespace, '/', '\\' or NUL, or
 * equal to "." or "..", is CS_ERR_FORMAT. *ids: malloc'd array of malloc'd strings (free with
 * cs_voc_strings_free); *n may be 0. lines (may be NULL): receives a malloc'd [n] array of the
 * 1-based line of each id (free()).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_FORMAT, CS_ERR_OUT_OF_MEMORY. */
cs_status cs_voc_ids_parse(const char *text, size_t len, char ***ids, int *n, int **lines);
void cs_voc_strings_free(char **strings, int n);

typedef struct cs_voc_labels {
    int n;          /* images, in file order */
    char **paths;   /* [n] as written (relative to the TSV's folder unless absolute) */
    uint8_t *labels;/* [n, K] 1 = positive */
    int n_classes;  /* K */
    int *lines;     /* [n] 1-based line of each entry */
} cs_voc_labels;

/* labels.tsv: each non-empty line is `image_path<TAB>name,name,...` (names = first synonyms;
 * whitespace around a name stripped; an empty field = no positive). A line without a TAB, an empty
 * path, an unknown name or the background class is CS_ERR_FORMAT naming the line and the name.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_FORMAT, CS_ERR_OUT_OF_MEMORY. */
cs_status cs_voc_labels_parse(const char *text, size_t len, const cs_voc_classes *classes,
                              cs_voc_labels **out);
void cs_voc_labels_free(cs_voc_labels *labels);

#endif
