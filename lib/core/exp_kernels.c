/* Row kernels with an exponential (core/exp_kernels.h). */
#include "core/exp_kernels.h"

#include "clipsurgery.h"
#include "core/gram.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* exp by range reduction x = n ln2 + r, |r| <= ln2/2, and a degree-6 polynomial for e^r
 * (Cephes expf coefficients); 2^n built in the exponent bits. No calls: vectorises. */
static inline float exp_poly(float x)
{
    if (x != x) return x; /* NaN stays NaN (and never reaches the float-to-int conversion) */
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float fn = x * 1.44269504088896341f + 12582912.0f; /* round to nearest via 1.5 * 2^23 */
    fn -= 12582912.0f;
    float r = x - fn * 0.693359375f;
    r = r + fn * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)fn + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Vector versions (GCC/Clang vector extensions: 16 floats, one AVX-512 register, two AVX2
 * registers, four SSE registers on the baseline clone). exp_poly above is the same polynomial
 * for the tails of rows. */
#if defined(__GNUC__) && !defined(__clang__)
/* The helpers below are static and always inlined: no vector crosses a real call boundary. */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef float vf16 __attribute__((vector_size(64)));
typedef int32_t vi16 __attribute__((vector_size(64)));

static inline __attribute__((always_inline)) vf16 vload(const float *p)
{
    vf16 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline __attribute__((always_inline)) void vstore(float *p, vf16 v) { memcpy(p, &v, sizeof v); }
static inline __attribute__((always_inline)) vf16 vsel(vi16 m, vf16 a, vf16 b) { return (vf16)(((vi16)a & m) | ((vi16)b & ~m)); }

static inline __attribute__((always_inline)) vf16 vexp(vf16 x)
{
    const vf16 zero = {0};
    x = vsel(x < zero - 87.0f, zero - 87.0f, x);
    x = vsel(x > zero + 88.0f, zero + 88.0f, x);
    vf16 fn = x * 1.44269504088896341f + 12582912.0f;
    fn = fn - 12582912.0f;
    vf16 r = x - fn * 0.693359375f;
    r = r + fn * 2.12194440e-4f;
    vf16 p = zero + 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    vi16 bits = (__builtin_convertvector(fn, vi16) + 127) << 23;
    return p * (vf16)bits;
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__clang__)
#define CS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CS_CLONES
#endif

/* max of x[0..n) with two independent compare chains (one chain is latency-bound) */
static inline __attribute__((always_inline)) float row_max(const float *x, int n)
{
    int i = 0;
    float m = x[0];
    if (n >= 32) {
        vf16 m0 = vload(x), m1 = vload(x + 16);
        for (i = 32; i + 32 <= n; i += 32) {
            vf16 a = vload(x + i), b = vload(x + i + 16);
            m0 = vsel(a > m0, a, m0);
            m1 = vsel(b > m1, b, m1);
        }
        m0 = vsel(m1 > m0, m1, m0);
        for (int j = 0; j < 16; j++) m = m0[j] > m ? m0[j] : m;
    }
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

/* x[i] = exp(x[i] - max), returns the sum */
static inline __attribute__((always_inline)) float row_exp(float *x, int n)
{
    float m = row_max(x, n);
    vf16 vs = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        vf16 e = vexp(vload(x + i) - m);
        vstore(x + i, e);
        vs += e;
    }
    float s = 0.0f;
    for (; i < n; i++) {
        x[i] = exp_poly(x[i] - m);
        s += x[i];
    }
    for (int j = 0; j < 16; j++) s += vs[j];
    return s;
}

CS_CLONES float cs_row_softmax_exp(float *x, int n) { return row_exp(x, n); }

typedef uint16_t vu16 __attribute__((vector_size(32)));

/* bfloat16 bits of 16 floats, round to nearest even (as cs_bf16_from_f32) */
static inline __attribute__((always_inline)) vu16 vbf16(vf16 v)
{
    vi16 b = (vi16)v;
    b = b + 0x7fff + ((b >> 16) & 1);
    return __builtin_convertvector((b >> 16) & 0xffff, vu16);
}

static inline uint16_t bf16_one(float v)
{
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    b += 0x7fffu + ((b >> 16) & 1u);
    return (uint16_t)(b >> 16);
}

CS_CLONES float cs_row_softmax_exp_bf16(const float *x, int n, uint16_t *dst, int n_pad)
{
    float m = row_max(x, n);
    vf16 vs = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        vf16 e = vexp(vload(x + i) - m);
        vu16 h = vbf16(e);
        memcpy(dst + i, &h, sizeof h);
        vs += e;
    }
    float s = 0.0f;
    for (; i < n; i++) {
        float e = exp_poly(x[i] - m);
        dst[i] = bf16_one(e);
        s += e;
    }
    for (; i < n_pad; i++) dst[i] = 0;
    for (int j = 0; j < 16; j++) s += vs[j];
    return s;
}

CS_CLONES void cs_row_softmax(float *x, int n)
{
    float inv = 1.0f / row_exp(x, n);
    int i = 0;
    for (; i + 16 <= n; i += 16) vstore(x + i, vload(x + i) * inv);
    for (; i < n; i++) x[i] *= inv;
}

CS_CLONES void cs_row_bias_act(float *y, int n, const float *b, int act)
{
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        vf16 v = vload(y + i);
        if (b) v += vload(b + i);
        if (act == CS_ACT_QUICK_GELU) v = v / (1.0f + vexp(v * -1.702f));
        vstore(y + i, v);
    }
    for (; i < n; i++) {
        float v = y[i] + (b ? b[i] : 0.0f);
        if (act == CS_ACT_QUICK_GELU) v = v / (1.0f + exp_poly(-1.702f * v));
        y[i] = v;
    }
    if (act == CS_ACT_GELU)
        for (i = 0; i < n; i++) y[i] = 0.5f * y[i] * (1.0f + erff(y[i] * 0.70710678118654752f));
}

/* core/exp_kernels.h */
CS_CLONES void cs_sym_softmax(float *s, float *g, int n, int lds, float *m, float *z, float *cm)
{
    const vf16 zero = {0};
    const int bs = cs_gram_block(n);
    for (int i = 0; i < n; i++) {
        cm[i] = -INFINITY;
        z[i] = 0.0f;
    }
    for (int j = 0; j < n; j++) {
        const float *row = s + (size_t)j * lds;
        int i = j / bs * bs;
        float rm = row[i];
        vf16 vr = zero + rm;
        for (; i + 16 <= n; i += 16) {
            vf16 v = vload(row + i), c = vload(cm + i);
            vr = vsel(v > vr, v, vr);
            vstore(cm + i, vsel(v > c, v, c));
        }
        for (int q = 0; q < 16; q++) rm = vr[q] > rm ? vr[q] : rm;
        for (; i < n; i++) {
            rm = row[i] > rm ? row[i] : rm;
            cm[i] = row[i] > cm[i] ? row[i] : cm[i];
        }
        m[j] = rm;
    }
    for (int i = 0; i < n; i++) m[i] = cm[i] > m[i] ? cm[i] : m[i];
    /* cm now collects the column sums of g */
    for (int i = 0; i < n; i++) cm[i] = 0.0f;
    for (int j = 0; j < n; j++) {
        float *row = s + (size_t)j * lds, *grow = g + (size_t)j * lds;
        int i0 = j / bs * bs;
        int ib = i0 + bs < n ? i0 + bs : n;
        float mj = m[j];
        vf16 vs = zero;
        float sum = 0.0f;
        int i = i0;
        for (; i + 16 <= ib; i += 16) {
            vf16 e = vexp(vload(row + i) - mj);
            vstore(row + i, e);
            vs += e;
        }
        for (; i < ib; i++) {
            row[i] = exp_poly(row[i] - mj);
            sum += row[i];
        }
        for (; i + 16 <= n; i += 16) {
            vf16 x = vload(row + i);
            vf16 e = vexp(x - mj), ge = vexp(x - vload(m + i));
            vstore(row + i, e);
            vstore(grow + i, ge);
            vstore(cm + i, vload(cm + i) + ge);
            vs += e;
        }
        for (; i < n; i++) {
            float x = row[i], ge = exp_poly(x - m[i]);
            row[i] = exp_poly(x - mj);
            grow[i] = ge;
            cm[i] += ge;
            sum += row[i];
        }
        for (int q = 0; q < 16; q++) sum += vs[q];
        z[j] = sum;
    }
    for (int i = 0; i < n; i++) z[i] += cm[i];
}

