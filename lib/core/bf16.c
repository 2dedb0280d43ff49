/* bfloat16 rounding and the model's table of bf16 weight copies (bf16.h). */
#include "core/bf16.h"

#include <stdlib.h>
#include <string.h>

/* Round to nearest even, NaN kept quiet; branch-free so the loop vectorises. */
static inline uint16_t round_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    uint32_t q = (u >> 16) | 0x40u;
    return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? q : r);
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__clang__)
#define CS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CS_CLONES
#endif

CS_CLONES void cs_bf16_from_f32(const float *src, size_t ld, size_t rows, size_t cols,
                                uint16_t *dst)
{
    for (size_t r = 0; r < rows; r++) {
        const float *s = src + r * ld;
        uint16_t *d = dst + r * cols;
        for (size_t i = 0; i < cols; i++) d[i] = round_bf16(s[i]);
    }
}

typedef struct entry {
    const float *w;
    size_t n;
    uint16_t *copy;
} entry;

struct cs_bf16_table {
    entry *e;
    size_t n, cap, bytes;
};

cs_bf16_table *cs_bf16_table_create(void) { return calloc(1, sizeof(cs_bf16_table)); }

void cs_bf16_table_free(cs_bf16_table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) free(t->e[i].copy);
    free(t->e);
    free(t);
}

int cs_bf16_table_add(cs_bf16_table *t, const float *w, size_t n)
{
    if (!w || n == 0) return 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].w == w && t->e[i].n == n) return 0;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        entry *e = realloc(t->e, cap * sizeof *e);
        if (!e) return -1;
        t->e = e;
        t->cap = cap;
    }
    if (n > SIZE_MAX / sizeof(uint16_t)) return -1;
    uint16_t *copy = malloc(n * sizeof *copy);
    if (!copy) return -1;
    cs_bf16_from_f32(w, n, 1, n, copy);
    t->e[t->n++] = (entry){w, n, copy};
    t->bytes += n * sizeof *copy;
    return 0;
}

static int by_address(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    uintptr_t p = (uintptr_t)x->w, q = (uintptr_t)y->w;
    return p < q ? -1 : p > q;
}

void cs_bf16_table_seal(cs_bf16_table *t)
{
    if (t && t->n > 1) qsort(t->e, t->n, sizeof *t->e, by_address);
}

const uint16_t *cs_bf16_table_find(const cs_bf16_table *t, const float *p, size_t ld,
                                   size_t rows, size_t cols)
{
    if (!t || t->n == 0 || rows == 0 || cols == 0) return NULL;
    uintptr_t a = (uintptr_t)p;
    size_t lo = 0, hi = t->n; /* last entry whose start <= p */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)t->e[mid].w <= a) lo = mid;
        else hi = mid;
    }
    const entry *e = &t->e[lo];
    if ((uintptr_t)e->w > a) return NULL;
    uintptr_t bytes = a - (uintptr_t)e->w;
    if (bytes % sizeof(float)) return NULL;
    size_t off = (size_t)(bytes / sizeof(float));
    if (off >= e->n) return NULL;
    size_t last = (rows - 1) * ld + cols; /* one past the last element read */
    if (last > e->n - off) return NULL;
    return e->copy + off;
}

size_t cs_bf16_table_bytes(const cs_bf16_table *t) { return t ? t->bytes : 0; }
