/* safetensors reader (validated, memory-mapped) and writer. */
#include "io/safetensors.h"

#include "core/common.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *name;
    cs_dtype dt;
    size_t size;
} dtypes[] = {
    {"F32", CS_DT_F32, 4}, {"F16", CS_DT_F16, 2}, {"BF16", CS_DT_BF16, 2}, {"F64", CS_DT_F64, 8},
    {"I64", CS_DT_I64, 8}, {"I32", CS_DT_I32, 4}, {"I16", CS_DT_I16, 2},  {"I8", CS_DT_I8, 1},
    {"U8", CS_DT_U8, 1},   {"BOOL", CS_DT_BOOL, 1},
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

size_t cs_dtype_size(cs_dtype dt)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].dt == dt) return dtypes[i].size;
    return 0;
}

const char *cs_dtype_name(cs_dtype dt)
{
    for (size_t i = 0; i < N_DTYPES; i++)
        if (dtypes[i].dt == dt) return dtypes[i].name;
    return "?";
}

static void st_free_contents(cs_safetensors *st)
{
    for (size_t i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    free(st->tensors);
    for (size_t i = 0; i < st->n_metadata; i++) {
        free(st->metadata[i].key);
        free(st->metadata[i].value);
    }
    free(st->metadata);
}

void cs_st_close(cs_safetensors *st)
{
    if (!st) return;
    st_free_contents(st);
    if (st->map) munmap(st->map, st->map_size);
    free(st);
}

static int cmp_offset(const void *a, const void *b)
{
    const cs_st_tensor *x = a, *y = b;
    if (x->data != y->data) return x->data < y->data ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return 0;
}

static cs_status parse_metadata(cs_safetensors *st, json_t *obj)
{
    if (!json_is_object(obj))
        return cs_fail(CS_ERR_FORMAT, "safetensors: __metadata__ is not an object of strings");
    size_t n = json_object_size(obj);
    if (n == 0) return CS_OK;
    st->metadata = calloc(n, sizeof *st->metadata);
    if (!st->metadata) return cs_fail(CS_ERR_OUT_OF_MEMORY, "safetensors: out of memory");
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        if (!json_is_string(val))
            return cs_fail(CS_ERR_FORMAT, "safetensors: __metadata__ value of \"%s\" is not a string",
                           key);
        cs_st_meta *m = &st->metadata[st->n_metadata];
        m->key = strdup(key);
        m->value = strdup(json_string_value(val));
        st->n_metadata++;
        if (!m->key || !m->value) return cs_fail(CS_ERR_OUT_OF_MEMORY, "safetensors: out of memory");
    }
    return CS_OK;
}

static cs_status parse_tensor(cs_st_tensor *t, const char *name, json_t *obj,
                              const uint8_t *data_start, size_t data_size)
{
    if (!json_is_object(obj))
        return cs_fail(CS_ERR_FORMAT, "safetensors: entry \"%s\" is not an object", name);
    json_t *jd = json_object_get(obj, "dtype");
    json_t *js = json_object_get(obj, "shape");
    json_t *jo = json_object_get(obj, "data_offsets");
    if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) || json_array_size(jo) != 2)
        return cs_fail(CS_ERR_FORMAT,
                       "safetensors: tensor \"%s\" needs dtype, shape and data_offsets [begin, end]",
                       name);
    const char *dname = json_string_value(jd);
    size_t esize = 0;
    for (size_t i = 0; i < N_DTYPES; i++)
        if (strcmp(dtypes[i].name, dname) == 0) {
            t->dtype = dtypes[i].dt;
            esize = dtypes[i].size;
        }
    if (esize == 0)
        return cs_fail(CS_ERR_UNSUPPORTED, "safetensors: tensor \"%s\" has unsupported dtype %s",
                       name, dname);
    size_t ndim = json_array_size(js);
    if (ndim > CS_ST_MAX_DIMS)
        return cs_fail(CS_ERR_UNSUPPORTED, "safetensors: tensor \"%s\" has %zu dimensions (max %d)",
                       name, ndim, CS_ST_MAX_DIMS);
    t->ndim = (int)ndim;
    size_t count = 1;
    for (size_t i = 0; i < ndim; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return cs_fail(CS_ERR_FORMAT, "safetensors: tensor \"%s\" has a bad shape entry", name);
        t->shape[i] = json_integer_value(d);
        if ((uint64_t)t->shape[i] > SIZE_MAX || !cs_mul_size(count, (size_t)t->shape[i], &count))
            return cs_fail(CS_ERR_TOO_LARGE, "safetensors: tensor \"%s\": element count overflows",
                           name);
    }
    size_t nbytes;
    if (!cs_mul_size(count, esize, &nbytes))
        return cs_fail(CS_ERR_TOO_LARGE, "safetensors: tensor \"%s\": byte size overflows", name);
    json_t *jb = json_array_get(jo, 0), *je = json_array_get(jo, 1);
    if (!json_is_integer(jb) || !json_is_integer(je) || json_integer_value(jb) < 0 ||
        json_integer_value(je) < 0)
        return cs_fail(CS_ERR_FORMAT, "safetensors: tensor \"%s\" has bad data_offsets", name);
    uint64_t b = (uint64_t)json_integer_value(jb), e = (uint64_t)json_integer_value(je);
    if (e < b)
        return cs_fail(CS_ERR_FORMAT, "safetensors: tensor \"%s\" has reversed data_offsets", name);
    if (e > data_size)
        return cs_fail(CS_ERR_FORMAT,
                       "safetensors: tensor \"%s\" data [%llu, %llu) outside the data section (%zu bytes)",
                       name, (unsigned long long)b, (unsigned long long)e, data_size);
    if (e - b != nbytes)
        return cs_fail(CS_ERR_FORMAT,
                       "safetensors: tensor \"%s\" spans %llu bytes but %zu elements of %s need %zu",
                       name, (unsigned long long)(e - b), count, dname, nbytes);
    t->n_elements = count;
    t->nbytes = nbytes;
    t->data = data_start + b;
    t->name = strdup(name);
    if (!t->name) return cs_fail(CS_ERR_OUT_OF_MEMORY, "safetensors: out of memory");
    return CS_OK;
}

cs_status cs_st_parse(const void *data, size_t size, cs_safetensors **out)
{
    if (!data && size) return cs_fail(CS_ERR_INVALID_ARGUMENT, "safetensors: NULL data");
    if (!out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "safetensors: NULL output");
    const uint8_t *p = data;
    if (size < 8)
        return cs_fail(CS_ERR_FORMAT, "safetensors: file of %zu bytes is shorter than the 8-byte header length", size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
    if (hlen == 0) return cs_fail(CS_ERR_FORMAT, "safetensors: header length is 0");
    if (hlen > CS_ST_MAX_HEADER)
        return cs_fail(CS_ERR_TOO_LARGE,
                       "safetensors: header length %llu is over the 100 MB limit (not a safetensors file?)",
                       (unsigned long long)hlen);
    if (hlen > size - 8)
        return cs_fail(CS_ERR_FORMAT,
                       "safetensors: header length %llu runs past the end of the file (%zu bytes)",
                       (unsigned long long)hlen, size);
    const uint8_t *data_start = p + 8 + hlen;
    size_t data_size = size - 8 - (size_t)hlen;

    json_error_t jerr;
    json_t *root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return cs_fail(CS_ERR_FORMAT, "safetensors: header is not valid JSON: %s (offset %d)",
                       jerr.text, jerr.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return cs_fail(CS_ERR_FORMAT, "safetensors: header is not a JSON object");
    }
    cs_safetensors *st = calloc(1, sizeof *st);
    size_t n = json_object_size(root);
    if (!st || (n && !(st->tensors = calloc(n, sizeof *st->tensors)))) {
        json_decref(root);
        free(st);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "safetensors: out of memory");
    }
    cs_status s = CS_OK;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            if (st->metadata || st->n_metadata) {
                s = cs_fail(CS_ERR_FORMAT, "safetensors: duplicate __metadata__");
                break;
            }
            if ((s = parse_metadata(st, val)) != CS_OK) break;
            continue;
        }
        if ((s = parse_tensor(&st->tensors[st->n_tensors], key, val, data_start, data_size)) != CS_OK)
            break;
        st->n_tensors++;
    }
    json_decref(root);
    if (s == CS_OK && st->n_tensors > 1)
        qsort(st->tensors, st->n_tensors, sizeof *st->tensors, cmp_offset);
    /* The data section must be covered exactly: sorted spans, no overlap, no gap. */
    size_t pos = 0;
    for (size_t i = 0; s == CS_OK && i < st->n_tensors; i++) {
        size_t b = (size_t)(st->tensors[i].data - data_start);
        if (b < pos)
            s = cs_fail(CS_ERR_FORMAT, "safetensors: tensor \"%s\" overlaps the previous tensor",
                        st->tensors[i].name);
        else if (b > pos)
            s = cs_fail(CS_ERR_FORMAT, "safetensors: gap of %zu bytes before tensor \"%s\"", b - pos,
                        st->tensors[i].name);
        pos = b + st->tensors[i].nbytes;
    }
    if (s == CS_OK && pos != data_size)
        s = cs_fail(CS_ERR_FORMAT,
                    "safetensors: the data section has %zu bytes but the tensors cover %zu",
                    data_size, pos);
    if (s != CS_OK) {
        st_free_contents(st);
        free(st);
        return s;
    }
    *out = st;
    return CS_OK;
}

cs_status cs_st_open(const char *path, cs_safetensors **out)
{
    if (!path || !out) return cs_fail(CS_ERR_INVALID_ARGUMENT, "safetensors: NULL argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return cs_fail(CS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return cs_fail(CS_ERR_IO, "%s is not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return cs_fail(CS_ERR_FORMAT, "%s: file of %zu bytes is too short for safetensors", path,
                       size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return cs_fail(CS_ERR_IO, "cannot map %s: %s", path, strerror(errno));
    cs_safetensors *st = NULL;
    cs_status s = cs_st_parse(map, size, &st);
    if (s != CS_OK) {
        munmap(map, size);
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", cs_last_error());
        return cs_fail(s, "%s: %s", path, msg);
    }
    st->map = map;
    st->map_size = size;
    *out = st;
    return CS_OK;
}

const cs_st_tensor *cs_st_find(const cs_safetensors *st, const char *name)
{
    if (!st || !name) return NULL;
    for (size_t i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

const char *cs_st_meta_get(const cs_safetensors *st, const char *key)
{
    if (!st || !key) return NULL;
    for (size_t i = 0; i < st->n_metadata; i++)
        if (strcmp(st->metadata[i].key, key) == 0) return st->metadata[i].value;
    return NULL;
}

float cs_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while ((man & 0x400u) == 0);
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float cs_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t cs_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xff;
    uint32_t man = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000u;
        int shift = 14 - e;
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = (uint32_t)(e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) half++;
    return (uint16_t)(sign | half);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
/* CPUID leaf 1: F16C (ecx bit 29) and AVX (bit 28) with the OS saving YMM state (OSXSAVE, bit 27,
 * and XCR0 bits 1-2). Read with <cpuid.h>, which gcc and clang both provide (clang 14 rejects
 * __builtin_cpu_supports("f16c")). Stateless: asked again on every call, no cached global. */
static int cpu_has_f16c(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 29)) || !(c & (1u << 28)) || !(c & (1u << 27))) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return (lo & 6u) == 6u;
}
/* F16C: 8 halves per instruction, exact (subnormals, inf; NaN stays NaN). */
__attribute__((target("avx,f16c"))) static void f16_rows_f16c(const uint8_t *p, float *out,
                                                               size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h;
        memcpy(&h, p + 2 * i, 16);
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++) out[i] = cs_f16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
}
#endif

cs_status cs_st_to_f32(const cs_st_tensor *t, float *out)
{
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case CS_DT_F32:
        memcpy(out, p, t->n_elements * 4);
        return CS_OK;
    case CS_DT_F16:
#if defined(__x86_64__) && defined(__GNUC__)
        if (cpu_has_f16c()) {
            f16_rows_f16c(p, out, t->n_elements);
            return CS_OK;
        }
#endif
        for (size_t i = 0; i < t->n_elements; i++)
            out[i] = cs_f16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        return CS_OK;
    case CS_DT_BF16:
        for (size_t i = 0; i < t->n_elements; i++)
            out[i] = cs_bf16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        return CS_OK;
    default:
        return cs_fail(CS_ERR_UNSUPPORTED, "tensor \"%s\": dtype %s cannot be widened to f32",
                       t->name, cs_dtype_name(t->dtype));
    }
}

cs_status cs_st_write(const char *path, const cs_st_entry *entries, size_t n_entries,
                      const cs_st_meta *metadata, size_t n_metadata)
{
    if (!path || (!entries && n_entries))
        return cs_fail(CS_ERR_INVALID_ARGUMENT, "safetensors write: NULL argument");
    json_t *root = json_object();
    if (!root) return cs_fail(CS_ERR_OUT_OF_MEMORY, "safetensors write: out of memory");
    cs_status s = CS_OK;
    if (n_metadata) {
        json_t *m = json_object();
        for (size_t i = 0; i < n_metadata; i++)
            json_object_set_new(m, metadata[i].key, json_string(metadata[i].value));
        json_object_set_new(root, "__metadata__", m);
    }
    size_t offset = 0;
    size_t *sizes = n_entries ? calloc(n_entries, sizeof *sizes) : NULL;
    if (n_entries && !sizes) s = cs_fail(CS_ERR_OUT_OF_MEMORY, "safetensors write: out of memory");
    for (size_t i = 0; s == CS_OK && i < n_entries; i++) {
        const cs_st_entry *e = &entries[i];
        size_t count = 1;
        if (!e->name || e->ndim < 0 || e->ndim > CS_ST_MAX_DIMS || cs_dtype_size(e->dtype) == 0) {
            s = cs_fail(CS_ERR_INVALID_ARGUMENT, "safetensors write: bad entry %zu", i);
            break;
        }
        json_t *shape = json_array();
        for (int d = 0; d < e->ndim; d++) {
            json_array_append_new(shape, json_integer(e->shape[d]));
            if (e->shape[d] < 0 || !cs_mul_size(count, (size_t)e->shape[d], &count))
                s = cs_fail(CS_ERR_INVALID_ARGUMENT, "safetensors write: bad shape for %s", e->name);
        }
        if (s != CS_OK || !cs_mul_size(count, cs_dtype_size(e->dtype), &sizes[i])) {
            json_decref(shape);
            if (s == CS_OK) s = cs_fail(CS_ERR_INVALID_ARGUMENT, "safetensors write: size overflow");
            break;
        }
        json_t *obj = json_object();
        json_object_set_new(obj, "dtype", json_string(cs_dtype_name(e->dtype)));
        json_object_set_new(obj, "shape", shape);
        json_t *offs = json_array();
        json_array_append_new(offs, json_integer((json_int_t)offset));
        json_array_append_new(offs, json_integer((json_int_t)(offset + sizes[i])));
        json_object_set_new(obj, "data_offsets", offs);
        json_object_set_new(root, e->name, obj);
        offset += sizes[i];
    }
    char *header = s == CS_OK ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (s == CS_OK && !header) s = cs_fail(CS_ERR_OUT_OF_MEMORY, "safetensors write: out of memory");
    if (s != CS_OK) {
        free(sizes);
        free(header);
        return s;
    }
    size_t hlen = strlen(header);
    size_t padded = (hlen + 7) & ~(size_t)7; /* keep the data section 8-byte aligned */
    char *target = NULL; /* a symlink's final file; a device or FIFO is refused */
    s = cs_output_target(path, &target);
    if (s != CS_OK) {
        free(sizes);
        free(header);
        return s;
    }
    path = target;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) {
        free(target);
        free(sizes);
        free(header);
        return cs_fail(CS_ERR_OUT_OF_MEMORY, "safetensors write: out of memory");
    }
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        s = cs_fail(CS_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    } else {
        uint8_t len8[8];
        for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
        int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(header, 1, hlen, f) == hlen;
        for (size_t i = hlen; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
        for (size_t i = 0; ok && i < n_entries; i++)
            ok = sizes[i] == 0 || fwrite(entries[i].data, 1, sizes[i], f) == sizes[i];
        if (fclose(f) != 0) ok = 0;
        if (!ok) {
            s = cs_fail(CS_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
            remove(tmp);
        } else if (rename(tmp, path) != 0) {
            s = cs_fail(CS_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
            remove(tmp);
        }
    }
    free(tmp);
    free(target);
    free(sizes);
    free(header);
    return s;
}
