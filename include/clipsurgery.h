/*
 * libclipsurgery — CLIP Surgery (Li et al., "A Closer Look at the Explainability of Contrastive
 * Language-Image Pre-training", Pattern Recognition 2025) as an embeddable C library.
 *
 * One public header. Plain C (C99 and C++ compatible); includes only <stddef.h> and <stdint.h>.
 *
 * Conventions used by every call below:
 *  - Every fallible call returns a cs_status; CS_OK (0) is success. Results come back through
 *    out-parameters. On failure, outputs are left untouched unless the doc comment says otherwise.
 *  - A detailed message for the last failure on the calling thread: cs_last_error().
 *  - Tensors cross the API as row-major float32 with the shape spelled out in the comment.
 *  - Caller-owned output buffers come with an explicit capacity in elements; a buffer too small
 *    gives CS_ERR_BUFFER_TOO_SMALL and nothing is written.
 *  - Library-owned objects have a matching _free() that accepts NULL.
 *  - A cs_model is immutable after load and may be shared by any number of threads. A cs_context
 *    (scratch memory) is used by one thread at a time.
 *  - Parameter structs begin with their size; fill them with the matching _default() call.
 */
#ifndef CLIPSURGERY_H
#define CLIPSURGERY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CS_VERSION_MAJOR 0
#define CS_VERSION_MINOR 3
#define CS_VERSION_PATCH 0
#define CS_VERSION_NUMBER (CS_VERSION_MAJOR * 10000 + CS_VERSION_MINOR * 100 + CS_VERSION_PATCH)

#if defined(_WIN32)
#  if defined(CS_BUILDING_LIBRARY)
#    define CS_API __declspec(dllexport)
#  else
#    define CS_API
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define CS_API __attribute__((visibility("default")))
#else
#  define CS_API
#endif

#if defined(__GNUC__)
#  define CS_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#  define CS_DEPRECATED(msg)
#endif

/* ------------------------------------------------------------------------------------------ */
/* Status codes. Values are part of the ABI and are never renumbered.                         */
/* ------------------------------------------------------------------------------------------ */
typedef enum cs_status {
    CS_OK = 0,
    CS_ERR_INVALID_ARGUMENT = 1,  /* NULL pointer, size out of range, bad enum value */
    CS_ERR_OUT_OF_MEMORY = 2,
    CS_ERR_IO = 3,                /* file cannot be opened, read, mapped or written */
    CS_ERR_FORMAT = 4,            /* malformed file: safetensors, JSON, PNG, JPEG, vocabulary */
    CS_ERR_UNSUPPORTED = 5,       /* well-formed but not supported (dtype, JPEG coding, ...) */
    CS_ERR_MISSING_TENSOR = 6,    /* a required checkpoint tensor is absent (message names it) */
    CS_ERR_SHAPE = 7,             /* shapes contradict each other or the architecture */
    CS_ERR_TOO_LARGE = 8,         /* over a limit: pixel cap, header size, element count */
    CS_ERR_TEXT_TOO_LONG = 9,     /* more than context_length ids and truncation not requested */
    CS_ERR_NO_VOCABULARY = 10,    /* text call on a model loaded without a vocabulary */
    CS_ERR_BUFFER_TOO_SMALL = 11, /* caller's output capacity too small; nothing written */
    CS_ERR_DEGENERATE = 12,       /* computation undefined for this input (e.g. label-set
                                     feature surgery with a single text) */
    CS_ERR_CORRUPT_DATA = 13,     /* decoder warning (e.g. "Corrupt JPEG data") treated as error */
    CS_ERR_INTERNAL = 14
} cs_status;

/* Static English description of a status; never NULL (unknown values give "unknown status"). */
CS_API const char *cs_status_string(cs_status status);

/* Detailed message of the last failing call on the calling thread (thread-local storage).
 * Never NULL. Read it right after the failing call: calls may clear it on entry, so after a
 * later successful call it can be "" again. Valid until the next library call on the same
 * thread. */
CS_API const char *cs_last_error(void);

/* Runtime version: CS_VERSION_NUMBER of the library actually loaded. */
CS_API unsigned cs_version(void);
/* Runtime version as "MAJOR.MINOR.PATCH"; static storage. */
CS_API const char *cs_version_string(void);

/* ------------------------------------------------------------------------------------------ */
/* Models                                                                                     */
/* ------------------------------------------------------------------------------------------ */
typedef struct cs_model cs_model;

typedef struct cs_model_params {
    size_t size;             /* sizeof(cs_model_params), set by cs_model_params_default() */
    const char *vocab_path;  /* NULL: look beside the weights; else bpe_simple_vocab_16e6.txt.gz,
                                a vocab.json (merges.txt beside it), or a folder with either */
    int require_vocabulary;  /* nonzero: loading fails with CS_ERR_NO_VOCABULARY when none found */
    /* --- since 0.2 (a caller built against 0.1 passes the shorter struct: these keep their
     *     defaults) --- */
    const void *vocab_data;  /* NULL, or a vocabulary in memory: the content of
                                bpe_simple_vocab_16e6.txt.gz (gzip) or of a plain merges file;
                                read during the load call only (copied). Used when vocab_path is
                                NULL; a bundle's own vocabulary is used before it. */
    size_t vocab_size;       /* bytes at vocab_data */
    uint32_t flags;          /* CS_MODEL_* flags below; 0 by default */
} cs_model_params;

/* cs_model_params.flags: cs_model_load_memory copies the caller's buffer (the model then owns
 * its copy and the buffer may be freed once the call returns). */
#define CS_MODEL_COPY_BUFFER 1u
/* cs_model_params.flags (since 0.3): matrix products in bfloat16 (operands rounded to bf16, f32
 * accumulation and output; layer norm, softmax, residuals and everything else stay f32). The
 * weight matrices get bf16 copies at load (about half the f32 size again); the model stays
 * immutable and shareable. Needs a build with the oneDNN engine (make GEMM=onednn) and a CPU
 * with AVX512_BF16 or AMX: otherwise the load fails with CS_ERR_UNSUPPORTED, saying which.
 * Results differ from f32 by the rounding (docs/PRECISION.md gives the measured accuracy). */
#define CS_MODEL_PRECISION_BF16 2u

/* Precision of a model's matrix products (cs_model_precision). Since 0.3. */
typedef enum cs_precision {
    CS_PRECISION_F32 = 0,
    CS_PRECISION_BF16 = 1
} cs_precision;

CS_API void cs_model_params_default(cs_model_params *params);

/* Loads a CLIP checkpoint.
 * path: a .safetensors file, or a folder holding model.safetensors, open_clip_model.safetensors
 *       or exactly one *.safetensors. Both namings are accepted (Hugging Face transformers
 *       "vision_model.*"/"text_model.*" and OpenAI/OpenCLIP "visual.*"/"transformer.*"), with
 *       tensors in F32, F16 or BF16. A config.json beside the weights gives hidden_act and
 *       layer_norm_eps. The file is memory-mapped for the model's lifetime.
 * params: NULL for defaults.
 * *out: receives a model to release with cs_model_free(); untouched on failure.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_IO, CS_ERR_FORMAT, CS_ERR_UNSUPPORTED,
 *         CS_ERR_MISSING_TENSOR, CS_ERR_SHAPE, CS_ERR_TOO_LARGE, CS_ERR_OUT_OF_MEMORY,
 *         CS_ERR_NO_VOCABULARY. */
CS_API cs_status cs_model_load(const char *path, const cs_model_params *params, cs_model **out);
CS_API void cs_model_free(cs_model *model);

/* Loads a checkpoint or a one-file bundle (clipsurgery convert) from a caller buffer: the bytes
 * of a .safetensors file, e.g. from an SDK's own asset store. Same validation, architecture
 * inference and statuses as cs_model_load; no config.json is read (a bundle carries its
 * configuration in its metadata) and no folder is searched for a vocabulary: a bundle brings
 * its own, else give params->vocab_data or params->vocab_path.
 * Ownership: zero-copy by default — F32 tensors at 4-byte-aligned addresses are used in place
 * and the buffer must stay valid and unchanged until cs_model_free(); with params->flags
 * CS_MODEL_COPY_BUFFER the model copies the buffer first and the caller may free it as soon as
 * the call returns. The buffer is only read, never written or released by the library.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL data or out, unknown flags, vocab_size without
 *         vocab_data), CS_ERR_FORMAT, CS_ERR_UNSUPPORTED, CS_ERR_MISSING_TENSOR, CS_ERR_SHAPE,
 *         CS_ERR_TOO_LARGE, CS_ERR_OUT_OF_MEMORY, CS_ERR_NO_VOCABULARY. *out untouched on
 *         failure. Since 0.2. */
CS_API cs_status cs_model_load_memory(const void *data, size_t size, const cs_model_params *params,
                                      cs_model **out);

typedef enum cs_layout { CS_LAYOUT_OPENAI = 0, CS_LAYOUT_HF = 1 } cs_layout;
typedef enum cs_activation { CS_ACT_QUICK_GELU = 0, CS_ACT_GELU = 1 } cs_activation;

/* Architecture of a loaded model, inferred from tensor shapes. */
typedef struct cs_model_info {
    size_t size;              /* caller sets sizeof(cs_model_info) before cs_model_get_info() */
    cs_layout layout;         /* naming of the file it came from */
    int dtype_bits;           /* 32 (F32), 16 (F16 or BF16 stored; widened to f32 on load) */
    int is_bf16;              /* nonzero when stored as BF16 */
    int vision_width, vision_layers, vision_heads, patch_size, image_size, grid;
    int text_width, text_layers, text_heads, context_length, vocab_size;
    int embed_dim;
    cs_activation activation;
    float layer_norm_eps;
    int has_vocabulary;       /* nonzero when a tokenizer was found and loaded */
    float logit_scale;        /* exp() of the stored logit_scale; 0 when absent */
} cs_model_info;

/* Fills *info (info->size must be set). Returns CS_OK or CS_ERR_INVALID_ARGUMENT. */
CS_API cs_status cs_model_get_info(const cs_model *model, cs_model_info *info);
/* Single getters (0 for a NULL model). */
CS_API int cs_model_embed_dim(const cs_model *model);
/* Precision of the model's matrix products: CS_PRECISION_BF16 when it was loaded with
 * CS_MODEL_PRECISION_BF16, else CS_PRECISION_F32 (also for NULL). Since 0.3. */
CS_API cs_precision cs_model_precision(const cs_model *model);
CS_API int cs_model_patch_size(const cs_model *model);
CS_API int cs_model_vision_width(const cs_model *model);
CS_API int cs_model_vision_layers(const cs_model *model);
CS_API int cs_model_image_size(const cs_model *model);
CS_API int cs_model_text_width(const cs_model *model);
CS_API int cs_model_text_layers(const cs_model *model);
CS_API int cs_model_context_length(const cs_model *model);

/* ------------------------------------------------------------------------------------------ */
/* Tokenizer (OpenAI CLIP SimpleTokenizer, REFERENCE section 6)                               */
/* ------------------------------------------------------------------------------------------ */
#define CS_CONTEXT_LENGTH 77
#define CS_TOKEN_SOT 49406 /* <|startoftext|> */
#define CS_TOKEN_EOT 49407 /* <|endoftext|> */

typedef struct cs_tokenizer cs_tokenizer;

/* Loads a vocabulary: bpe_simple_vocab_16e6.txt.gz (OpenAI), vocab.json (with merges.txt in the
 * same folder, Hugging Face), or a folder holding either (the .gz preferred); both forms give
 * identical ids. Immutable and thread-safe after load (encoding keeps no shared state).
 * *out: receives the tokenizer (release with cs_tokenizer_free); NULL on failure.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_IO (missing file, folder without either
 *         form), CS_ERR_FORMAT (malformed merges/JSON, missing byte symbols or special tokens),
 *         CS_ERR_TOO_LARGE (file over 256 MiB), CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_tokenizer_load(const char *path, cs_tokenizer **out);
/* Loads a vocabulary from memory: the content of bpe_simple_vocab_16e6.txt.gz (gzip, recognised
 * by its magic bytes) or of a plain merges file (the OpenAI form; the header line first). The
 * buffer is read during the call only. Gives the same ids as cs_tokenizer_load on that file.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL data or out), CS_ERR_FORMAT (corrupt gzip,
 *         malformed merges), CS_ERR_TOO_LARGE (over 256 MiB uncompressed),
 *         CS_ERR_OUT_OF_MEMORY. Since 0.2. */
CS_API cs_status cs_tokenizer_load_memory(const void *data, size_t size, cs_tokenizer **out);
CS_API void cs_tokenizer_free(cs_tokenizer *tok);
/* The model's tokenizer (owned by the model), or NULL when it has none. */
CS_API const cs_tokenizer *cs_model_tokenizer(const cs_model *model);

/* Encodes text (UTF-8, `len` bytes, may hold NUL; invalid UTF-8 is replaced by U+FFFD as
 * Python's decode(errors="replace") does) to the full id list: CS_TOKEN_SOT, ids, CS_TOKEN_EOT,
 * with no padding and no length limit. Cleaning as SimpleTokenizer.encode (ftfy.fix_text as
 * cs_fix_text, html.unescape twice, whitespace collapse, lower-case; see docs/tokenizer.md);
 * a literal "<|endoftext|>" in the text gives CS_TOKEN_EOT. text may be NULL when len is 0. Linear time (1 MB in about 0.2 s).
 * ids: caller buffer of `capacity` elements; *n_ids receives the count (also when the result is
 * CS_ERR_BUFFER_TOO_SMALL, so a caller can size a retry).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_BUFFER_TOO_SMALL, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_tokenize(const cs_tokenizer *tok, const char *text, size_t len,
                             int32_t *ids, size_t capacity, size_t *n_ids);

/* Encodes to the fixed context as the reference's clip.tokenize: ids[0..76] = SOT, ids, EOT,
 * zeros. More than 77 ids: CS_ERR_TEXT_TOO_LONG (message gives the count) unless `truncate`,
 * which keeps 77 ids and sets ids[76] = EOT. *n_used (may be NULL) receives the ids before padding.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_TEXT_TOO_LONG, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_tokenize_context(const cs_tokenizer *tok, const char *text, size_t len,
                                     int truncate, int32_t ids[CS_CONTEXT_LENGTH], size_t *n_used);

/* Decodes ids back to text (SOT/EOT skipped, zeros after the last EOT taken as padding;
 * bytes decoded as UTF-8 with U+FFFD replacement; "</w>" becomes a space, as the reference's
 * decode). buf: caller buffer of `capacity` bytes, NUL-terminated on success;
 * *len receives the length without the NUL (also on CS_ERR_BUFFER_TOO_SMALL).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL argument, id out of range),
 *         CS_ERR_BUFFER_TOO_SMALL, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_detokenize(const cs_tokenizer *tok, const int32_t *ids, size_t n_ids,
                               char *buf, size_t capacity, size_t *len);

/* ===== Text repair (ftfy) ===== */
/* ftfy.fix_text (ftfy 6.3.1, default configuration) alone: the first step of the tokenizer's
 * cleaning (REFERENCE section 6; docs/tokenizer.md), before html.unescape, whitespace
 * collapsing and lower-casing. Repairs mojibake (UTF-8 read as Latin-1, Windows-1250..1254,
 * 1257, ISO-8859-2, MacRoman or cp437, also twice or mixed with good text), C1 controls, lost
 * 0xA0 bytes and lossy U+FFFD sequences; unescapes HTML entities (until a line holding '<');
 * takes apart Latin ligatures; maps fullwidth forms, curly quotes and line breaks; removes
 * terminal escapes and control characters; NFC. Works line by line, each line at most
 * 1,000,000 code points at a time. Thread-safe, no state.
 * text: UTF-8, `len` bytes (may hold NUL; invalid UTF-8 becomes U+FFFD first, as Python's
 * decode(errors="replace")); may be NULL when len is 0.
 * buf: caller buffer of `capacity` bytes, receives the fixed text as UTF-8, NUL-terminated;
 * *out_len receives its length without the NUL (also on CS_ERR_BUFFER_TOO_SMALL, so a caller
 * can retry with capacity *out_len + 1).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL buf or out_len, NULL text with len > 0),
 *         CS_ERR_BUFFER_TOO_SMALL, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_fix_text(const char *text, size_t len, char *buf, size_t capacity,
                             size_t *out_len);

/* ------------------------------------------------------------------------------------------ */
/* Images: decoding, preprocessing, resizing, PNG output, JET overlays (REFERENCE section 1, 5) */
/* ------------------------------------------------------------------------------------------ */

/* 8-bit RGB image, rows of `stride` bytes (>= 3 * width), pixels R,G,B. Images returned by the
 * decoder are owned by the library (release with cs_image_free); a caller may also fill this
 * struct to describe its own pixels for calls taking `const cs_image *`. */
typedef struct cs_image {
    int width;
    int height;
    size_t stride;
    uint8_t *data;
} cs_image;

#define CS_DEFAULT_MAX_PIXELS 178956970ULL /* PIL's hard limit (2 * Image.MAX_IMAGE_PIXELS) */

enum {
    CS_DECODE_APPLY_EXIF_ORIENTATION = 1u << 0, /* rotate/flip per EXIF (reference ignores it) */
    CS_DECODE_ACCEPT_WARNINGS = 1u << 1         /* accept libjpeg/libpng warnings (corrupt data) */
};

typedef struct cs_decode_params {
    size_t size;          /* sizeof(cs_decode_params) */
    uint64_t max_pixels;  /* width*height cap checked before any allocation; 0 = no cap */
    uint32_t flags;       /* CS_DECODE_* */
} cs_decode_params;

CS_API void cs_decode_params_default(cs_decode_params *params);

/* Decodes PNG or JPEG (detected from the signature) to 8-bit RGB as PIL's
 * Image.open(f).convert("RGB"): gray replicated, palette expanded (tRNS ignored), alpha dropped,
 * 16-bit samples keep the high byte, CMYK/YCCK converted as PIL does (every 4-component JPEG
 * read as inverted Adobe CMYK, then PIL's naive CMYK -> RGB). params may be NULL (defaults).
 * EXIF orientation is ignored unless CS_DECODE_APPLY_EXIF_ORIENTATION (JPEG APP1, PNG eXIf).
 * The header's width/height are checked (0 rejected, pixel cap, size_t overflow) before any
 * pixel buffer is allocated. libpng/libjpeg errors become CS_ERR_FORMAT (CS_ERR_UNSUPPORTED for
 * codings the library lacks) with the library's message in cs_last_error(); libjpeg warnings
 * ("Corrupt JPEG data", "Premature end of JPEG file") give CS_ERR_CORRUPT_DATA unless
 * CS_DECODE_ACCEPT_WARNINGS; a PNG CRC error fails in any chunk unless that flag (then bad
 * ancillary chunks are skipped). A missing IEND is accepted, as PIL does.
 * *out: a library-owned image (stride 3 * width) to release with cs_image_free(); untouched
 * on failure.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, params->size too small, unknown flags),
 *         CS_ERR_IO, CS_ERR_FORMAT (unknown signature, empty, malformed, zero width/height),
 *         CS_ERR_UNSUPPORTED, CS_ERR_TOO_LARGE (pixel cap), CS_ERR_CORRUPT_DATA,
 *         CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_image_decode_file(const char *path, const cs_decode_params *params,
                                      cs_image **out);
CS_API cs_status cs_image_decode_memory(const void *data, size_t size,
                                        const cs_decode_params *params, cs_image **out);
CS_API void cs_image_free(cs_image *image);

/* CLIP preprocessing (REFERENCE 1): resize to size x size with PIL's BICUBIC (antialiased, PIL's
 * fixed-point arithmetic), then (v/255 - mean)/std with CLIP's mean/std, in float32 as
 * torchvision's ToTensor + Normalize. size: 1..65536 (224 default CLIP, 512 high resolution).
 * out: [3, size, size] float32, CHW, caller-owned, capacity in floats.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_BUFFER_TOO_SMALL, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_image_preprocess(const cs_image *image, int size, float *out,
                                     size_t capacity);

/* Resize 8-bit RGB as PIL's Image.resize((out_w, out_h), BICUBIC), bit-exact (Pillow's
 * libImaging/Resample.c arithmetic: horizontal then vertical pass, unchanged axes skipped,
 * 22-bit fixed-point weights). out: caller-owned [out_h, out_w, 3] uint8 (stride 3*out_w),
 * capacity in bytes.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_BUFFER_TOO_SMALL, CS_ERR_TOO_LARGE,
 *         CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_image_resize_bicubic(const cs_image *image, int out_w, int out_h,
                                         uint8_t *out, size_t capacity);

/* Bilinear resize of float planes, align_corners = false, no antialias (torch
 * F.interpolate(mode="bilinear", align_corners=False)); any size up or down.
 * src: [src_h, src_w, channels] row-major (channels interleaved); dst: [dst_h, dst_w, channels],
 * caller-owned, dst_capacity in floats; dst must not overlap src. Per axis, in float32:
 * src_i = max(0, (in/out) * (dst_i + 0.5) - 0.5); an axis whose size is unchanged is copied.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, a size <= 0), CS_ERR_TOO_LARGE (element count
 * overflows size_t), CS_ERR_BUFFER_TOO_SMALL. */
CS_API cs_status cs_resize_bilinear(const float *src, int src_h, int src_w, int channels,
                                    float *dst, int dst_h, int dst_w, size_t dst_capacity);

/* Writes an 8-bit PNG. pixels: height rows of `stride` bytes. channels: 1 (gray) or 3 (RGB);
 * palette (may be NULL): n_palette (1..256) RGB triples for a channels == 1 paletted image whose
 * values index it (an index >= n_palette is CS_ERR_INVALID_ARGUMENT). Written to path.tmp and
 * renamed, so a failure leaves no partial file.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_IO, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_png_write(const char *path, const uint8_t *pixels, int width, int height,
                              size_t stride, int channels, const uint8_t *palette,
                              int n_palette);

/* OpenCV's COLORMAP_JET exactly as cv2.applyColorMap builds it, in RGB order: 256 triples
 * (static, read-only). Entry 0 is (0, 0, 128), entry 255 is (128, 0, 0). */
CS_API const uint8_t *cs_colormap_jet(void);

/* Reference overlay: m8 = trunc(255 * map), colour = JET(m8), out = trunc(0.4*image + 0.6*colour)
 * per channel. map: values in [0,1] for pixel (y, x) at map[(y * image->width + x) * map_stride]
 * (map_stride = T and an offset of t selects text t of a [H, W, T] map tensor).
 * out: caller-owned [height, width, 3] uint8 RGB, capacity in bytes. The 255 * map product is
 * in float32 and the blend in double, as the reference demo (numpy/cv2); the demo blends in BGR
 * and converts to RGB, which is the same per-channel result as blending RGB image with RGB JET.
 * Map values outside [0, 1] (and NaN) are clamped to the table's ends (NaN -> entry 0).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_BUFFER_TOO_SMALL, CS_ERR_TOO_LARGE. */
CS_API cs_status cs_overlay_jet(const cs_image *image, const float *map, size_t map_stride,
                                uint8_t *out, size_t capacity);

/* ------------------------------------------------------------------------------------------ */
/* Contexts: per-thread scratch for the encoders                                              */
/* ------------------------------------------------------------------------------------------ */
typedef struct cs_context cs_context;

typedef struct cs_context_params {
    size_t size;     /* sizeof(cs_context_params) */
    int n_threads;   /* threads for the library's own loops (and the attention heads, which
                        run side by side); 0 = all online cores. Matrix products run in the
                        GEMM engine (cs_gemm_engine()) on OpenMP threads whose count the
                        library never changes: set OMP_NUM_THREADS in the environment to bound
                        it (OPENBLAS_NUM_THREADS when OpenBLAS's pthread build is loaded). */
} cs_context_params;

CS_API void cs_context_params_default(cs_context_params *params);

/* A context holds scratch memory that grows to the largest call and is reused. One thread at a
 * time per context; many contexts may share one model. The model must outlive the context.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_context_create(const cs_model *model, const cs_context_params *params,
                                   cs_context **out);
CS_API void cs_context_free(cs_context *ctx);
/* Floating-point operations of the matrix products run on this context since it was created,
 * counting 2*m*n*k per product of [m,k] by [k,n] (what the library computes, after its exact
 * FLOP cuts; elementwise work is not counted). 0 for NULL. Since 0.3. */
CS_API double cs_context_flops(const cs_context *ctx);
/* The GEMM engine this library was built with: "openblas" (the default) or "onednn"
 * (make GEMM=onednn). Static string. Since 0.3. */
CS_API const char *cs_gemm_engine(void);

/* Number of image tokens 1 + (height/patch) * (width/patch) for an input of height x width, or
 * 0 when the size is not a positive multiple of the patch size. */
CS_API int cs_model_image_tokens(const cs_model *model, int height, int width);

/* ------------------------------------------------------------------------------------------ */
/* Image encoder (REFERENCE 2) and architecture surgery                                       */
/* ------------------------------------------------------------------------------------------ */

/* Attention used by the new path of a dual-path block. Values are ABI. */
typedef enum cs_attention_kind {
    CS_ATTN_QK = 0,          /* original softmax(q k^T / sqrt(d)) v */
    CS_ATTN_VV = 1,          /* CLIP Surgery v-v self-attention softmax(v v^T / sqrt(d)) v */
    CS_ATTN_IDENTITY = 2,    /* MaskCLIP: the value path, out = v (no attention) */
    CS_ATTN_QQ_KK = 3,       /* SCLIP: (softmax(q q^T/sqrt(d)) + softmax(k k^T/sqrt(d))) v */
    CS_ATTN_QQ = 4,          /* ClearCLIP: softmax(q q^T/sqrt(d)) v */
    CS_ATTN_KK_GAUSSIAN = 5, /* NACLIP: softmax(k k^T/sqrt(d) + Omega) v (Gaussian bias) */
    CS_ATTN_SELF_SELF = 6    /* GEM: mean over z in {v,k,q} of iterated self-self attention */
} cs_attention_kind;
/* Kinds 2..6 are computed by the training-free dense method calls (cs_method_apply,
 * cs_method_block, cs_method_attention; a dual path with any kind is a cs_method_params with
 * parallel_path); cs_surgery_apply, cs_dual_path_block and cs_block_attention take only
 * CS_ATTN_QK and CS_ATTN_VV and return CS_ERR_UNSUPPORTED for the others. */

typedef struct cs_surgery_params {
    size_t size;                 /* sizeof(cs_surgery_params) */
    int n_blocks;                /* dual-path blocks, counted from the last; 0 = raw CLIP.
                                    Default 6 (the reference, every ViT). */
    cs_attention_kind attention; /* new-path attention; default CS_ATTN_VV */
    int new_path_ffn;            /* nonzero: the new path also runs the MLP; default 0 */
    int cls_from_new_path;       /* nonzero: keep the new path's class token; default 0
                                    (class token from the original path, as the reference) */
} cs_surgery_params;

CS_API void cs_surgery_params_default(cs_surgery_params *params);

/* Raw CLIP image encoder on every token: ln_post(x) @ proj for the class token and all patches.
 * pixels: [batch, 3, height, width] float32 normalised (cs_image_preprocess); height and width
 *         positive multiples of the patch size (any grid; positions interpolated from the stored
 *         table every time).
 * features: [batch, n_tokens, embed_dim], n_tokens = cs_model_image_tokens(); not normalised.
 * Deterministic: the same input gives the same bits whatever was encoded before (the
 * positional table is resized from the stored one on every call, never cached).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, batch <= 0, size <= 0, a NaN or
 *         infinite pixel), CS_ERR_SHAPE (size not
 *         a multiple of the patch), CS_ERR_TOO_LARGE (grid over 65536 cells),
 *         CS_ERR_BUFFER_TOO_SMALL, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_encode_images(cs_context *ctx, const float *pixels, int batch, int height,
                                  int width, float *features, size_t capacity);

/* Image encoder with architecture surgery (REFERENCE 2, clip_surgery_model.py VisionTransformer
 * forward): blocks before the last n_blocks are plain; the last n_blocks are dual-path; the output
 * is ln_post(x_new) @ proj with the class token from the original path. surgery NULL gives
 * the defaults of cs_surgery_params_default() (the paper's: last 6 blocks, v-v); n_blocks == 0
 * is raw CLIP (as cs_encode_images). Same shapes and statuses as cs_encode_images, plus
 * CS_ERR_INVALID_ARGUMENT for n_blocks outside 0..vision_layers, a bad size field or an
 * attention value outside the enum, and CS_ERR_UNSUPPORTED for a reserved attention kind. */
CS_API cs_status cs_surgery_apply(cs_context *ctx, const cs_surgery_params *surgery,
                                  const float *pixels, int batch, int height, int width,
                                  float *features, size_t capacity);

/* Building blocks, for other compositions. Token arrays are [n_tokens, vision_width] row-major,
 * n_tokens = cs_model_image_tokens() (the block calls accept any 1..65537 tokens). Each returns
 * CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, block outside 0..vision_layers-1, n_tokens out of
 * range, x_ori == x_new), CS_ERR_UNSUPPORTED (reserved attention kind), CS_ERR_OUT_OF_MEMORY;
 * cs_vision_embed and cs_vision_project also CS_ERR_SHAPE / CS_ERR_TOO_LARGE (sizes, as
 * cs_encode_images) and CS_ERR_BUFFER_TOO_SMALL (capacity in floats).
 * cs_surgery_apply(s, ...) equals: cs_vision_embed; cs_vision_block for blocks
 * 0..L-K-1; x_new = copy of x_ori; cs_dual_path_block for blocks L-K..L-1; x_new[0] = x_ori[0];
 * cs_vision_project(x_new). */

/* Patch embedding, class token, positional embeddings (resized bilinearly from the stored table
 * when the grid differs), ln_pre. pixels: [3, height, width]. tokens: [n_tokens, width]. */
CS_API cs_status cs_vision_embed(cs_context *ctx, const float *pixels, int height, int width,
                                 float *tokens, size_t capacity);
/* One plain pre-LN block in place: x += attn(ln_1(x)); x += mlp(ln_2(x)). */
CS_API cs_status cs_vision_block(cs_context *ctx, int block, float *tokens, int n_tokens);
/* Multi-head attention of `block` of the given kind on tokens that are already the block's
 * input (ln_1 is applied inside): out = out_proj(concat_heads(attention)). out: [n_tokens, width].*/
CS_API cs_status cs_block_attention(cs_context *ctx, int block, cs_attention_kind kind,
                                    const float *tokens, int n_tokens, float *out);
/* One dual-path block step in place (REFERENCE 2 step 5): a = ln_1(x_ori); x_ori += attn_qk(a);
 * x_ori += mlp(ln_2(x_ori)); x_new += attn_kind(a) (+ mlp(ln_2(x_new)) when
 * surgery->new_path_ffn). surgery NULL: the default (v-v, no FFN); n_blocks is ignored. */
CS_API cs_status cs_dual_path_block(cs_context *ctx, int block, const cs_surgery_params *surgery,
                                    float *x_ori, float *x_new, int n_tokens);
/* ln_post then projection for every token. tokens: [n_tokens, width]; features:
 * [n_tokens, embed_dim]. */
CS_API cs_status cs_vision_project(cs_context *ctx, const float *tokens, int n_tokens,
                                   float *features, size_t capacity);

/* ===== Training-free dense methods ===== */
/* MaskCLIP, SCLIP, ClearCLIP, NACLIP and GEM beside CLIP Surgery on the same loaded model, each
 * reproducing its official code (../shared/docs/METHODS.md; docs/methods.md compares them).
 * Every call here needs a ViT model (patch embedding and transformer blocks) and gives
 * CS_ERR_UNSUPPORTED on a ResNet model, except cs_method_apply with the raw or clip-surgery
 * settings, which runs the ResNet's raw or surgery attention pool (as cs_surgery_apply). Pixels are
 * [batch, 3, height, width] float32 normalised, as cs_encode_images. */

/* Method presets. Values are ABI. */
typedef enum cs_method {
    CS_METHOD_RAW = 0,          /* plain CLIP on every token (cs_encode_images) */
    CS_METHOD_CLIP_SURGERY = 1, /* dual path, last 6 blocks, v-v (cs_surgery_apply defaults) */
    CS_METHOD_MASKCLIP = 2,     /* last block: value path, residual and FFN kept */
    CS_METHOD_SCLIP = 3,        /* last block: q-q + k-k summed, residual and FFN kept */
    CS_METHOD_CLEARCLIP = 4,    /* last block: q-q, no residual, no FFN */
    CS_METHOD_NACLIP = 5,       /* last block: k-k + Gaussian bias (sigma 5), no residual/FFN */
    CS_METHOD_GEM = 6           /* parallel path over the last 6 blocks: self-self attention */
} cs_method;
#define CS_METHOD_COUNT 7

/* Positional-embedding resize rules (METHODS.md 0.1). Every rule keeps the class row and
 * resamples the stored g x g patch grid to grid_h x grid_w; the table is used as stored exactly
 * when the grid equals g x g, and resized whenever the grid SHAPE differs (the official code
 * tests only the token count, METHODS.md 8.1). Values are ABI. */
typedef enum cs_pos_resize {
    CS_POS_BILINEAR = 0,      /* CLIP Surgery: bilinear, align_corners false (cs_vision_embed) */
    CS_POS_BICUBIC_SCALE = 1, /* SCLIP, ClearCLIP, NACLIP: bicubic (A = -0.75) called with the
                                 scale factors ((grid_h+0.1)/g, (grid_w+0.1)/g), so an axis of
                                 length g is still resampled when the other differs */
    CS_POS_BICUBIC_SIZE = 2,  /* MaskCLIP: bicubic (A = -0.75) to size (grid_h, grid_w) */
    CS_POS_BICUBIC_AA = 3     /* GEM: antialiased bicubic (A = -0.5, normalised window) to size */
} cs_pos_resize;

/* Prompt template sets (cs_method_prompt_ensemble). Values are ABI. */
typedef enum cs_template_set {
    CS_TEMPLATES_85 = 0,       /* the 85 of the reference ensemble (default for every method;
                                  MaskCLIP's own set, same order) */
    CS_TEMPLATES_IMAGENET_80 = 1, /* SCLIP, ClearCLIP, NACLIP: the 80 OpenAI ImageNet templates
                                     (the first 80 of the 85) */
    CS_TEMPLATES_PHOTO = 2     /* GEM: the single template "a photo of a {}." */
} cs_template_set;

/* A method as data. Fill with cs_method_params_default(p, preset), then change any field to
 * build a variant (ClearCLIP with the residual, GEM on 4 blocks, ...).
 * The last n_blocks blocks are "modified". For a modified block with input x (original path)
 * and y = ln_1(x), q|k|v = y W_in^T + b_in, and out = out_proj(attention(q, k, v)):
 *   parallel_path == 0: the blocks are replaced in sequence: x = (keep_residual ? x : 0) + out,
 *     then x += MLP(ln_2(x)) when keep_ffn; the next block reads that x.
 *   parallel_path != 0: a second stream z starts as a copy of the input of the first modified
 *     block; every modified block runs the standard block on x and z = (keep_residual ? z : 0)
 *     + out (+ MLP(ln_2(z)) when keep_ffn), with q, k, v always from ln_1 of x.
 * The output is ln_post(z or x) @ proj on every token; with parallel_path and
 * !cls_from_new_path the class row comes from the original path (CLIP Surgery). */
typedef struct cs_method_params {
    size_t size;                 /* sizeof(cs_method_params) */
    cs_method method;            /* the preset these values started from (informative) */
    int n_blocks;                /* modified blocks counted from the last; 0..vision_layers */
    cs_attention_kind attention; /* attention of the modified blocks */
    int parallel_path;           /* see above: 1 for CLIP Surgery and GEM, 0 otherwise */
    int keep_residual;           /* 1: MaskCLIP, SCLIP, CLIP Surgery, GEM; 0: ClearCLIP, NACLIP */
    int keep_ffn;                /* 1: MaskCLIP, SCLIP; 0: the others */
    int cls_from_new_path;       /* 0 only for CLIP Surgery (class row of the original path) */
    cs_pos_resize pos_resize;    /* positional rule (per preset, see cs_pos_resize) */
    float gaussian_sigma;        /* CS_ATTN_KK_GAUSSIAN: sigma in patches (NACLIP 5); > 0 */
    int gem_iterations;          /* CS_ATTN_SELF_SELF: iterations 0..16 (GEM 1) */
    float gem_temperature;       /* CS_ATTN_SELF_SELF: inverse temperature; 0 (GEM default):
                                    per image, (1/sqrt(d)) * mean over tokens of ||ln_1(x)||_2 */
    cs_template_set templates;   /* text side for cs_method_prompt_ensemble; CS_TEMPLATES_85 for
                                    every preset (the official sets are an option) */
} cs_method_params;

/* Fills *params with the preset's official settings (table in docs/methods.md): n_blocks 0 / 6 /
 * 1 / 1 / 1 / 1 / 6 (GEM: gem_depth 7 modifies the last 6), attentions QK / VV / IDENTITY /
 * QQ_KK / QQ / KK_GAUSSIAN / SELF_SELF, positional rules BILINEAR / BILINEAR / BICUBIC_SIZE /
 * BICUBIC_SCALE / BICUBIC_SCALE / BICUBIC_SCALE / BICUBIC_AA, sigma 5, 1 iteration,
 * temperature 0 (per image), templates CS_TEMPLATES_85. A preset's n_blocks larger than the
 * model's depth is rejected by the calls (CS_ERR_INVALID_ARGUMENT), never clamped.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, method outside cs_method). */
CS_API cs_status cs_method_params_default(cs_method_params *params, cs_method method);

/* Name of a preset ("raw", "clip-surgery", "maskclip", "sclip", "clearclip", "naclip", "gem"),
 * static storage, NULL outside the enum; and the inverse (case-sensitive; also accepts
 * "surgery" for clip-surgery). cs_method_from_name returns CS_OK or CS_ERR_INVALID_ARGUMENT. */
CS_API const char *cs_method_name(cs_method method);
CS_API cs_status cs_method_from_name(const char *name, cs_method *out);

/* Runs a method on a batch of images: final tokens [batch, 1 + grid_h*grid_w, embed_dim] (row 0
 * the class row as defined above, rows 1.. the patches row-major), after ln_post and proj, not
 * normalised. Cosines with the text are the source of each method's maps (METHODS.md 0).
 * params NULL: CS_METHOD_CLIP_SURGERY. CLIP Surgery and raw settings (parallel path, residual,
 * attention QK or VV, bilinear positions) give exactly cs_surgery_apply's bits.
 * Deterministic whatever was encoded before (positions resized from the stored table per call).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, batch <= 0, size <= 0, NaN/inf pixel, bad
 *         size field, n_blocks outside 0..vision_layers, enum value outside its enum, sigma not
 *         positive and finite, iterations outside 0..16, temperature negative or not finite),
 *         CS_ERR_UNSUPPORTED (model without a ViT), CS_ERR_SHAPE (size not a multiple of the
 *         patch), CS_ERR_TOO_LARGE (grid over 65536 cells), CS_ERR_BUFFER_TOO_SMALL,
 *         CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_method_apply(cs_context *ctx, const cs_method_params *params,
                                 const float *pixels, int batch, int height, int width,
                                 float *features, size_t capacity);

/* Building blocks of cs_method_apply. Token arrays are [n_tokens, vision_width] with n_tokens
 * = 1 + grid_h * grid_w (the grid is needed by CS_ATTN_KK_GAUSSIAN only, but always checked).
 * cs_method_attention: out = out_proj(attention of params->attention) of ln_1(tokens) for
 * `block` (no residual); out: [n_tokens, width], must not overlap tokens.
 * cs_method_block: one modified block step as described at cs_method_params. With
 * parallel_path, x_ori gets the standard block and x_new the modified update (x_new must
 * differ from x_ori); without it x_new is ignored (may be NULL) and x_ori is replaced.
 * Both return CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, block outside 0..vision_layers-1,
 * n_tokens != 1 + grid_h*grid_w, bad params), CS_ERR_UNSUPPORTED (no ViT),
 * CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_method_attention(cs_context *ctx, int block, const cs_method_params *params,
                                     const float *tokens, int grid_h, int grid_w,
                                     int n_tokens, float *out);
CS_API cs_status cs_method_block(cs_context *ctx, int block, const cs_method_params *params,
                                 float *x_ori, float *x_new, int grid_h, int grid_w,
                                 int n_tokens);

/* The positional table a rule gives for a grid_h x grid_w grid: [1 + grid_h*grid_w,
 * vision_width] (row 0 the class position, unchanged), from the model's stored table.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, grid <= 0, rule outside the enum),
 *         CS_ERR_UNSUPPORTED (no ViT), CS_ERR_TOO_LARGE (over 65536 cells),
 *         CS_ERR_BUFFER_TOO_SMALL, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_positional_table(const cs_model *model, cs_pos_resize rule, int grid_h,
                                     int grid_w, float *out, size_t capacity);

/* NACLIP's additive attention bias Omega (METHODS.md 4): [1 + N, 1 + N], N = grid_h * grid_w;
 * row 0 and column 0 zero; Omega[p, p'] = exp(-((i-i')^2 + (j-j')^2) / (2 sigma^2)) for
 * patches p = (i, j), p' = (i', j') (token 1 + i*grid_w + j), over the whole grid.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, grid <= 0, sigma not positive and finite),
 *         CS_ERR_TOO_LARGE (over 65536 cells), CS_ERR_BUFFER_TOO_SMALL. */
CS_API cs_status cs_naclip_bias(int grid_h, int grid_w, float sigma, float *out,
                                size_t capacity);

/* Prompt ensemble with the template set of params->templates (params NULL: the 85): per class,
 * each template encoded, L2-normalised, averaged, re-normalised (as cs_prompt_ensemble, which
 * equals CS_TEMPLATES_85). features: [n_classes, embed_dim]. Statuses as cs_prompt_ensemble,
 * plus CS_ERR_INVALID_ARGUMENT for a template set outside the enum. */
CS_API cs_status cs_method_prompt_ensemble(cs_context *ctx, const cs_method_params *params,
                                           const char *const *class_names, int n_classes,
                                           float *features, size_t capacity);

/* Patch cosines of a method, upsampled: the image is encoded on its floor(height/patch) x
 * floor(width/patch) grid (trailing rows/columns that do not fill a patch are not seen, as the
 * official convolution), the patch rows L2-normalised and multiplied by text_features^T
 * (normalised by the caller), and each class map bilinearly upsampled (align_corners false)
 * to height x width (SCLIP/NACLIP forward_feature). pixels: [3, height, width] (one image);
 * logits: [n_texts, height, width], raw cosines (no scale, no softmax).
 * Returns as cs_method_apply (CS_ERR_SHAPE when a side is below one patch). */
CS_API cs_status cs_method_logits(cs_context *ctx, const cs_method_params *params,
                                  const float *pixels, int height, int width,
                                  const float *text_features, int n_texts, float *logits,
                                  size_t capacity);

/* Sliding-window inference (SCLIP clip_segmentor.forward_slide): per axis of length L,
 * n = max(L - crop + stride - 1, 0) / stride + 1 windows, window i = [a, b) with a = i*stride,
 * b = min(a + crop, L), a = max(b - crop, 0); each window's cs_method_logits (no padding) is
 * added at its place and the sum divided by the per-pixel count. Same arguments as
 * cs_method_logits plus crop (>= patch) and stride (1..crop). logits: [n_texts, height, width].
 * Returns as cs_method_logits, plus CS_ERR_INVALID_ARGUMENT for crop or stride out of range. */
CS_API cs_status cs_slide_logits(cs_context *ctx, const cs_method_params *params,
                                 const float *pixels, int height, int width, int crop,
                                 int stride, const float *text_features, int n_texts,
                                 float *logits, size_t capacity);

/* PAMR (pixel-adaptive mask refinement, SCLIP/NACLIP pamr.py, METHODS.md 6).
 * image: [3, height, width] the normalised network input; mask: [n_classes, mask_h, mask_w]
 * (resized bilinearly with align_corners true to height x width first, when the sizes differ);
 * dilations: n_dilations values >= 1 (NACLIP: 8, 16); iterations >= 0 (NACLIP 10).
 * out: [n_classes, height, width], caller-owned, must not overlap the inputs.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, a size <= 0, a dilation < 1, n_dilations outside
 *         1..64, iterations outside 0..1000), CS_ERR_TOO_LARGE, CS_ERR_BUFFER_TOO_SMALL,
 *         CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_pamr(const float *image, int height, int width, const float *mask,
                         int n_classes, int mask_h, int mask_w, const int *dilations,
                         int n_dilations, int iterations, float *out, size_t capacity);

/* SCLIP postprocess_result: logits [n_texts, height, width] bilinearly resized (align_corners
 * false) to out_h x out_w, per pixel softmax over the texts of logit_scale * logits, label = the
 * first maximum; when its probability is below bg_threshold the label is 0 (the first text, by
 * convention the background query). labels: [out_h, out_w] uint8 (n_texts <= 256).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, a size <= 0, n_texts > 256, scale or threshold
 *         not finite), CS_ERR_TOO_LARGE, CS_ERR_BUFFER_TOO_SMALL, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_logits_to_labels(const float *logits, int n_texts, int height, int width,
                                     int out_h, int out_w, float logit_scale,
                                     float bg_threshold, uint8_t *labels, size_t capacity);

/* The mmseg test pipeline (METHODS.md 7): mmcv Resize(scale=(long_side, short_side),
 * keep_ratio=True): f = min(long_side / max(W0, H0), short_side / min(W0, H0)),
 * W = int(W0 f + 0.5), H = int(H0 f + 0.5); cv2 INTER_LINEAR on the 8-bit pixels (bit-exact
 * for downscales; see cs_image_resize_cv2_linear), then float32 (v - mean) / std with mmseg's
 * constants mean (122.771, 116.746, 104.094), std (68.501, 66.632, 70.323).
 * cs_mmseg_size gives (H, W) only. out: [3, H, W] float32 CHW, capacity in floats.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, a side <= 0 or over 65536),
 *         CS_ERR_TOO_LARGE (result over 2^28 pixels), CS_ERR_BUFFER_TOO_SMALL (out_h and out_w
 *         still set), CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_mmseg_size(int width, int height, int short_side, int long_side,
                               int *out_h, int *out_w);
CS_API cs_status cs_image_preprocess_mmseg(const cs_image *image, int short_side, int long_side,
                                           float *out, size_t capacity, int *out_h, int *out_w);
/* cv2.resize(INTER_LINEAR) of 8-bit RGB (fixed-point weights of 2048, cv2's vectorised vertical
 * rounding; METHODS.md 7). out: [out_h, out_w, 3] uint8, capacity in bytes.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_TOO_LARGE, CS_ERR_BUFFER_TOO_SMALL,
 *         CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_image_resize_cv2_linear(const cs_image *image, int out_w, int out_h,
                                            uint8_t *out, size_t capacity);

/* ===== ResNet backbone ===== */
/* ResNet CLIP image towers (the reference's ModifiedResNet + AttentionPool2d: RN50, RN101,
 * RN50x4, RN50x16, RN50x64) with CLIP Surgery, as ../shared/docs/RESNET.md writes out the
 * official code (clip_surgery_model.py); details in docs/resnet.md.
 *
 * cs_model_load recognises a ResNet checkpoint by "visual.layer1.0.conv1.weight" (OpenAI/OpenCLIP
 * naming, F32/F16/BF16; num_batches_tracked and the "visual.attnpool.attn.*" keys a checkpoint
 * saved after a forward carries are ignored). The geometry comes from the shapes alone; every
 * BatchNorm (eval mode, eps 1e-5) is folded into the convolution before it at load. A malformed
 * tower (missing tensor, channels that do not chain, running_var <= 0, absurd width or block
 * count) gives CS_ERR_MISSING_TENSOR or CS_ERR_FORMAT naming the tensor.
 *
 * The general calls work on a ResNet model with the same shapes and meaning:
 *  - cs_model_get_info / getters: vision_width = D (attention-pool dimension, 32 x width),
 *    vision_layers = number of bottlenecks, vision_heads = D / 64, patch_size = 32 (the trunk's
 *    total stride), image_size = native resolution (grid x 32), grid = side of the stored
 *    positional table; layout CS_LAYOUT_OPENAI.
 *  - cs_model_image_tokens: 1 + grid_h * grid_w with the grid of cs_model_image_grid, for ANY
 *    height and width >= 31 (not only multiples of 32; pools floor, RESNET.md quirk 5).
 *  - cs_encode_images: raw CLIP attention pool on all tokens, [batch, 1 + grid_h*grid_w,
 *    embed_dim] (row 0 = CLIP's pooled embedding; RESNET.md section 5).
 *  - cs_surgery_apply: n_blocks 0 = raw pool; n_blocks > 0 (any positive value, default 6) = the
 *    surgery attention pool (RESNET.md section 4), whose attention must be CS_ATTN_VV (any other
 *    kind gives CS_ERR_UNSUPPORTED); new_path_ffn nonzero gives CS_ERR_UNSUPPORTED (the pool has
 *    no MLP); cls_from_new_path is ignored (both paths give the same class token).
 *  - features are not normalised; feature surgery, maps, points, segmentation and class scores
 *    take them exactly as a ViT's.
 *  - cs_vision_embed, cs_vision_block, cs_block_attention, cs_dual_path_block and
 *    cs_vision_project return CS_ERR_UNSUPPORTED on a ResNet model.
 * Two deliberate differences from the reference: the positional table is resized from the
 * stored one on every call (the reference overwrites it in place, so its results depend on the
 * sizes encoded before; RESNET.md quirk 3), and non-square grids work, the table being resized
 * on both axes (the reference handles square grids only; quirk 4). */

typedef enum cs_backbone { CS_BACKBONE_VIT = 0, CS_BACKBONE_RESNET = 1 } cs_backbone;

/* Image tower of a loaded model (CS_BACKBONE_VIT for NULL). */
CS_API cs_backbone cs_model_backbone(const cs_model *model);

typedef struct cs_resnet_info {
    size_t size;          /* caller sets sizeof(cs_resnet_info) */
    int stage_blocks[4];  /* bottlenecks per stage: RN50 3,4,6,3; RN101 3,4,23,3 */
    int width;            /* stem output / stage-1 planes (64 for RN50) */
    int dim;              /* attention-pool dimension D = 32 x width */
    int heads;            /* D / 64 */
    int embed_dim;        /* c_proj output */
    int image_size;       /* native resolution = grid x 32 */
    int grid;             /* side of the stored positional table */
} cs_resnet_info;

/* Fills *info (info->size must be set). Returns CS_OK, CS_ERR_INVALID_ARGUMENT,
 * CS_ERR_UNSUPPORTED (not a ResNet model). */
CS_API cs_status cs_resnet_get_info(const cs_model *model, cs_resnet_info *info);

/* Token grid of an input of height x width. ViT: height / patch x width / patch (multiples of
 * the patch only). ResNet: each side n goes n -> floor((n-1)/2)+1 (stem conv, stride 2) -> /2
 * (stem pool) -> /2 three times (stages 2-4), every division flooring, so any side >= 31 works.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, a size <= 0), CS_ERR_SHAPE (ViT: not a multiple
 * of the patch; ResNet: a side below 31), CS_ERR_TOO_LARGE (over 65536 cells). */
CS_API cs_status cs_model_image_grid(const cs_model *model, int height, int width, int *grid_h,
                                     int *grid_w);

/* Attention used by the ResNet attention pool. Values are ABI. */
typedef enum cs_resnet_pool {
    CS_RN_POOL_RAW = 0,      /* CLIP: softmax(q k^T / 8) v with q_proj, k_proj, v_proj (RESNET 5) */
    CS_RN_POOL_SURGERY = 1,  /* CLIP Surgery as the reference runs: softmax(v v^T / 8) v on every
                                token, v = v_proj (RESNET 4; q_proj/k_proj unused) */
    CS_RN_POOL_SURGERY_RESNET_SETTINGS = 2 /* the reference's UNEXECUTED settings='resnet'
                                branch (RESNET quirk 1, never the default): per head
                                softmax(vn vn^T) v with vn = v / (||v|| + 1e-6) in the logits
                                only; the class token row from CS_RN_POOL_SURGERY */
} cs_resnet_pool;

/* The trunk (RESNET 1-3): stem (three 3x3 conv + BN + ReLU, AvgPool 2), then the bottleneck
 * stages with anti-aliasing average pools, up to and including `stage`: 0 = after the stem,
 * 1..4 = after layer1..layer4 (4 = the attention pool's input). pixels: [3, height, width]
 * float32 normalised, one image, any height and width >= 31. features: [channels, out_h,
 * out_w] row-major (CHW), caller-owned, capacity in floats; channels = width (stage 0) or
 * 4 x width x 2^(stage-1); out_h/out_w per the flooring rule of cs_model_image_grid (stage 4:
 * the grid). channels, out_h, out_w may be NULL; they are written also on
 * CS_ERR_BUFFER_TOO_SMALL so a caller can size a retry.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, stage outside 0..4, a NaN or infinite pixel),
 *         CS_ERR_UNSUPPORTED (not a ResNet model), CS_ERR_SHAPE / CS_ERR_TOO_LARGE (sizes, as
 *         cs_model_image_grid), CS_ERR_BUFFER_TOO_SMALL, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_resnet_trunk(cs_context *ctx, const float *pixels, int height, int width,
                                 int stage, float *features, size_t capacity, int *channels,
                                 int *out_h, int *out_w);

/* Attention pool (RESNET 4-5) on a layer-4 map. features: [D, grid_h, grid_w] (CHW, as
 * cs_resnet_trunk stage 4 gives; any grid of 1..65536 cells, square or not). Tokens: their mean
 * (token 0), then the cells in row-major order, plus the positional table (bilinearly resized,
 * align_corners = false, from the STORED table to grid_h x grid_w on every call; row 0 kept).
 * out: [1 + grid_h*grid_w, embed_dim], c_proj applied to every token, not normalised.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, a grid size <= 0, kind outside the enum),
 *         CS_ERR_UNSUPPORTED (not a ResNet model), CS_ERR_TOO_LARGE, CS_ERR_BUFFER_TOO_SMALL,
 *         CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_resnet_attnpool(cs_context *ctx, cs_resnet_pool kind, const float *features,
                                    int grid_h, int grid_w, float *out, size_t capacity);

/* Trunk then attention pool of `kind` for a batch: pixels [batch, 3, height, width];
 * features [batch, 1 + grid_h*grid_w, embed_dim]. cs_encode_images is kind CS_RN_POOL_RAW and
 * cs_surgery_apply (n_blocks > 0) CS_RN_POOL_SURGERY. Deterministic whatever was encoded
 * before. Statuses as cs_resnet_trunk and cs_resnet_attnpool (batch <= 0:
 * CS_ERR_INVALID_ARGUMENT). */
CS_API cs_status cs_resnet_encode(cs_context *ctx, cs_resnet_pool kind, const float *pixels,
                                  int batch, int height, int width, float *features,
                                  size_t capacity);

/* ------------------------------------------------------------------------------------------ */
/* Text encoder and prompt ensembles (REFERENCE 3)                                            */
/* ------------------------------------------------------------------------------------------ */

/* Text features from token ids. ids: [n_texts, context_length] int32 as cs_tokenize_context
 * gives; the end-of-text position is the first maximum id (the reference's argmax) and must hold
 * CS_TOKEN_EOT; only positions up to it are computed (causal mask), and texts of any lengths
 * share every matrix product. features: [n_texts, embed_dim], raw projection output (not
 * normalised).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (id out of range, no EOT), CS_ERR_BUFFER_TOO_SMALL,
 *         CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_encode_token_ids(cs_context *ctx, const int32_t *ids, int n_texts,
                                     float *features, size_t capacity);
/* Text features from NUL-terminated UTF-8 strings (tokenized with the model's vocabulary).
 * Returns as cs_encode_token_ids plus CS_ERR_NO_VOCABULARY, CS_ERR_TEXT_TOO_LONG. */
CS_API cs_status cs_encode_texts(cs_context *ctx, const char *const *texts, int n_texts,
                                 float *features, size_t capacity);

/* Number of prompt templates of the reference ensemble (85) and template i ("{}" = class;
 * static storage; NULL when index is out of range). */
CS_API int cs_prompt_template_count(void);
CS_API const char *cs_prompt_template(int index);

/* Prompt ensemble (REFERENCE 3, clip_surgery_model encode_text_with_prompt_ensemble): per class
 * name, the 85 templates encoded, each L2-normalised, averaged, re-normalised.
 * features: [n_classes, embed_dim], L2-normalised rows. Statuses as cs_encode_texts. */
CS_API cs_status cs_prompt_ensemble(cs_context *ctx, const char *const *class_names,
                                    int n_classes, float *features, size_t capacity);
/* The redundant feature r = the prompt ensemble of "" (REFERENCE 3). out: [embed_dim]. */
CS_API cs_status cs_redundant_feature(cs_context *ctx, float *out, size_t capacity);

/* L2-normalises each of `rows` rows of `dim` floats in place (a zero row stays zero). */
CS_API void cs_l2_normalize(float *x, size_t rows, size_t dim);

/* ------------------------------------------------------------------------------------------ */
/* Feature surgery and similarities (REFERENCE 4)                                             */
/* ------------------------------------------------------------------------------------------ */

/* Raw similarity S = F G^T per image. image_features: [batch, n_tokens, dim] (each token
 * L2-normalised by the caller); text_features: [n_texts, dim] (normalised);
 * similarity: [batch, n_tokens, n_texts], caller-owned, capacity in floats.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, a size <= 0), CS_ERR_TOO_LARGE (element count
 * overflows), CS_ERR_BUFFER_TOO_SMALL. */
CS_API cs_status cs_similarity(const float *image_features, int batch, int n_tokens,
                               const float *text_features, int n_texts, int dim,
                               float *similarity, size_t capacity);

/* Feature surgery, label-set form (clip.py clip_feature_surgery without redundant features).
 * Per image, weights from its class token: p = softmax_t(2 <F_0,G_t>), w_t = p_t / mean(p),
 * S[n,t] = w_t <F_n,G_t> - (1/T) sum_t' w_t' <F_n,G_t'>, from one [n_tokens, T] product per
 * image (no [n_tokens, T, dim] temporary). Inputs, output and statuses as cs_similarity, plus
 * CS_ERR_OUT_OF_MEMORY (only for n_texts > 256). With n_texts == 1 the result is identically 0:
 * the output is written (zeros) and CS_ERR_DEGENERATE is returned. */
CS_API cs_status cs_feature_surgery_label_set(const float *image_features, int batch,
                                              int n_tokens, const float *text_features,
                                              int n_texts, int dim, float *similarity,
                                              size_t capacity);
/* Feature surgery, empty-text form (clip_feature_surgery with redundant features):
 * S = F (G - r)^T, G - r not re-normalised. redundant: [dim] (cs_redundant_feature).
 * Statuses as cs_similarity plus CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_feature_surgery_empty_text(const float *image_features, int batch,
                                               int n_tokens, const float *text_features,
                                               int n_texts, const float *redundant, int dim,
                                               float *similarity, size_t capacity);

/* ------------------------------------------------------------------------------------------ */
/* Maps, SAM point prompts, segmentation, multi-label scores (REFERENCE 5)                    */
/* ------------------------------------------------------------------------------------------ */

/* Similarity maps (clip_surgery_model.get_similarity_map): per text, min-max over the image
 * tokens (rows 1..n_tokens-1; a constant column gives 0), reshape to grid_h x grid_w, bilinear
 * resize (align_corners = false) to out_h x out_w.
 * similarity: [n_tokens, n_texts] with n_tokens = 1 + grid_h*grid_w (row 0, the class token, is
 * skipped). maps: [out_h, out_w, n_texts] in [0, 1], caller-owned, capacity in floats.
 * One image per call (step through a batch with offsets of n_tokens * n_texts).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, a size <= 0), CS_ERR_TOO_LARGE,
 *         CS_ERR_BUFFER_TOO_SMALL, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_similarity_maps(const float *similarity, int grid_h, int grid_w,
                                    int n_texts, int out_h, int out_w, float *maps,
                                    size_t capacity);

/* SAM point prompts (clip.py similarity_map_to_points): map: [grid_h * grid_w] raw
 * similarity of one text (no class token); bilinearly down-sampled (align_corners = false) to
 * (grid_h / down_sample) x (grid_w / down_sample) cells (reference: down_sample 2), min-maxed,
 * sorted ascending (ties by cell index); num = min(count(value >= threshold), cells / 2)
 * (reference threshold 0.8); positives are the top num cells in ascending order, negatives the
 * bottom num. Cell i gives x = trunc(min((i % w + 0.5) * image_w / w, image_w - 1)) and
 * y = trunc(min((i / w + 0.5) * image_h / h, image_h - 1)), in float32 as the reference.
 * A constant map (NaN in the reference) gives no points.
 * points_xy: [capacity, 2] int (x, y); labels: [capacity] (1 positive, 0 negative); positives
 * first. *n_points receives the count (0 is a valid result). capacity >= grid cells suffices.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, a size <= 0, down_sample larger than the grid),
 *         CS_ERR_TOO_LARGE (image_w or image_h over 2^24, the float32 coordinates' exact range),
 *         CS_ERR_BUFFER_TOO_SMALL (nothing written; *n_points receives the count needed),
 *         CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_similarity_to_points(const float *map, int grid_h, int grid_w, int image_w,
                                         int image_h, float threshold, int down_sample,
                                         int *points_xy, int *labels, size_t capacity,
                                         size_t *n_points);

/* Open-vocabulary segmentation: per output pixel, the index of the text with the highest
 * bilinearly upsampled similarity (align_corners = false; ties go to the lower index).
 * similarity: [n_tokens, n_texts] as cs_similarity_maps (raw values, not min-maxed; row 0 is
 * skipped). labels: [out_h, out_w] uint8, caller-owned, capacity in bytes (n_texts <= 256).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_TOO_LARGE, CS_ERR_BUFFER_TOO_SMALL. */
CS_API cs_status cs_segment(const float *similarity, int grid_h, int grid_w, int n_texts,
                            int out_h, int out_w, uint8_t *labels, size_t capacity);

/* SAM points for several targets at once (demo.py "person+bench"; REFERENCE 5).
 * similarity: [grid_h * grid_w, n_texts], the empty-text feature-surgery similarity of the image
 * tokens (no class token: pass similarity + n_texts to skip row 0 of a [1 + cells, T] result).
 * Each column is min-maxed over the cells (a constant column gives 0) and the mean of the
 * normalised columns gives the NEGATIVES; each raw column gives its own POSITIVES; every set is
 * chosen as cs_similarity_to_points does. Order as the reference: the negatives first, then the
 * positives of text 0, text 1, ... . points_xy: [capacity, 2] int (x, y); labels: [capacity].
 * *n_points receives the count (0 is a valid result).
 * capacity >= (n_texts + 1) * (grid_h / down_sample) * (grid_w / down_sample) / 2 suffices.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_TOO_LARGE, CS_ERR_BUFFER_TOO_SMALL (nothing
 * written; *n_points receives the count needed), CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_similarity_to_points_multi(const float *similarity, int grid_h, int grid_w,
                                               int n_texts, int image_w, int image_h,
                                               float threshold, int down_sample, int *points_xy,
                                               int *labels, size_t capacity, size_t *n_points);

/* Multi-label score 1: class-token probabilities, softmax over the texts of
 * scale * cosine(F_b[0], G_t) (CLIP's zero-shot head; the reference uses scale = 100).
 * image_features: [batch, n_tokens, dim] (token 0 is the class token; need not be normalised);
 * text_features: [n_texts, dim] (need not be normalised; a zero vector has cosine 0).
 * probs: [batch, n_texts], caller-owned, capacity in floats; each row sums to 1.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, a size <= 0, scale not finite),
 * CS_ERR_TOO_LARGE, CS_ERR_BUFFER_TOO_SMALL, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_class_probabilities(const float *image_features, int batch, int n_tokens,
                                        const float *text_features, int n_texts, int dim,
                                        float scale, float *probs, size_t capacity);

/* Multi-label score 2: the peak of each surgery map before min-max, i.e. the largest similarity
 * over the image tokens: peaks[b, t] = max_{n >= 1} similarity[b, n, t].
 * similarity: [batch, n_tokens, n_texts] (n_tokens >= 2: row 0, the class token, is skipped).
 * peaks: [batch, n_texts], caller-owned, capacity in floats.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_TOO_LARGE, CS_ERR_BUFFER_TOO_SMALL. */
CS_API cs_status cs_similarity_peaks(const float *similarity, int batch, int n_tokens,
                                     int n_texts, float *peaks, size_t capacity);

/* ===== Evaluation metrics ===== */
/* Metric accumulators of `clipsurgery eval`, usable on a caller's own predictions. The protocol
 * and the arithmetic are ../shared/docs/EVAL.md (sections 3-5; docs/eval.md). Counts are
 * int64 and ratios double; an undefined value (0/0, a class without positives, an empty mean)
 * is NaN, never 0. */

/* --- Segmentation: mmsegmentation IoUMetric (EVAL.md 5.1) ---------------------------------- */
typedef struct cs_seg_metrics cs_seg_metrics;

/* Creates an accumulator of the four per-class areas (intersect, union, pred, label).
 * num_classes: K, 1..256. ignore_index: the gt value that is skipped (mmseg: 255), or -1 for none.
 * reduce_zero_label: nonzero applies mmseg's LoadAnnotations rule to every gt value first
 * (0 -> 255, 255 -> 255, k -> k - 1).
 * *out: release with cs_seg_metrics_free().
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_seg_metrics_create(int num_classes, int ignore_index, int reduce_zero_label,
                                       cs_seg_metrics **out);
CS_API void cs_seg_metrics_free(cs_seg_metrics *metrics);
/* Number of classes K of the accumulator (0 for NULL). */
CS_API int cs_seg_metrics_num_classes(const cs_seg_metrics *metrics);

/* Adds one image: pred and gt are [n_pixels] uint8 class indices (any layout, the same for both;
 * gt as stored). Pixels whose (reduced) gt is ignore_index are skipped; then, as mmseg's
 * torch.histc over bins 0..K-1, values outside 0..K-1 are dropped from each histogram, so a gt
 * value >= K that is not ignore_index adds the prediction to area_pred and area_union but no
 * label area. Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL with n_pixels > 0). */
CS_API cs_status cs_seg_metrics_add(cs_seg_metrics *metrics, const uint8_t *pred,
                                    const uint8_t *gt, size_t n_pixels);

/* The four total areas over the images added so far, [K] each; any pointer may be NULL.
 * capacity: elements of each array. area_union = pred + label - intersect.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_BUFFER_TOO_SMALL (capacity < K). */
CS_API cs_status cs_seg_metrics_areas(const cs_seg_metrics *metrics, int64_t *area_intersect,
                                      int64_t *area_union, int64_t *area_pred_label,
                                      int64_t *area_label, size_t capacity);

/* mmseg total_area_to_metrics: iou[c] = I_c / U_c and acc[c] = I_c / label_c ([K] each, NaN for
 * 0/0; a class predicted but absent from the gt has IoU 0 and Acc NaN), aacc = sum I / sum label,
 * miou / macc = nanmean of iou / acc (NaN when every entry is NaN). Any pointer may be NULL;
 * capacity: elements of iou and acc.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_BUFFER_TOO_SMALL (capacity < K). */
CS_API cs_status cs_seg_metrics_compute(const cs_seg_metrics *metrics, double *iou, double *acc,
                                        size_t capacity, double *aacc, double *miou,
                                        double *macc);

/* --- Average precision: scikit-learn average_precision_score (EVAL.md 4, 5.2) -------------- */
/* Per class c, over the n_samples images: sort scores high to low, each distinct value is one
 * threshold (tied scores form one step), AP_c = sum_k (R_k - R_{k-1}) P_k with R_0 = 0.
 * scores: [n_samples, n_classes] row-major (no NaN); labels: [n_samples, n_classes], nonzero =
 * positive. ap: [n_classes], NaN for a class without positives. n_pos: [n_classes] positives per
 * class (may be NULL). *map (may be NULL): mean AP over the classes with a positive (NaN if none).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, a size 0, a NaN score), CS_ERR_TOO_LARGE,
 *         CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_average_precision(const double *scores, const uint8_t *labels,
                                      size_t n_samples, int n_classes, double *ap,
                                      int64_t *n_pos, double *map);

/* --- Explainability: mIoU over thresholds and score contrast (EVAL.md 3) -------------------- */
#define CS_EXPLAIN_N_TAUS 20 /* tau_k = k / 20, k = 0..19 */
typedef struct cs_explain_metrics cs_explain_metrics;

/* tau_k = k / 20 in double (NaN for k outside 0..19). */
CS_API double cs_explain_tau(int k);

/* Creates an accumulator of per-class I_c[k], U_c[k] and the (image, class) score contrasts.
 * num_classes: K, 1..256; ignore_index: gt value counted nowhere (255), or -1; background_class:
 * a class never evaluated (its pixels still count as "not c"), or -1.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_explain_metrics_create(int num_classes, int ignore_index,
                                           int background_class, cs_explain_metrics **out);
CS_API void cs_explain_metrics_free(cs_explain_metrics *metrics);

/* Adds one image. gt: [n_pixels] uint8. maps: the image's maps in [0, 1] (float32), the value of
 * class c at pixel i being maps[i * map_stride + (c - class_offset)] (so cs_similarity_maps'
 * [H, W, T] output over classes class_offset.. is passed as is). Only classes present in the gt
 * (not ignore_index, not the background class, < K) are read and evaluated: per tau_k,
 * I_c[k] += #{map_c >= tau_k and gt = c}, U_c[k] += #{(map_c >= tau_k or gt = c), gt != ignore};
 * SC = mean(map_c | gt = c) - mean(map_c | gt != c, gt != ignore), kept when the second set is
 * not empty. Images are numbered 0, 1, ... in the order added.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, n_pixels 0, a present class without a map
 *         column), CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_explain_metrics_add(cs_explain_metrics *metrics, const uint8_t *gt,
                                        size_t n_pixels, const float *maps, size_t map_stride,
                                        int class_offset);

/* Summary: curve[k] = mean over the evaluated classes (present in at least one image) of
 * I_c[k] / U_c[k]; *best_index = the first k with the highest value (-1 when no class was
 * evaluated, the curve then NaN); *best_miou = curve[best]; *msc = mean SC over the kept pairs
 * (NaN if none); *n_classes = evaluated classes. Any pointer may be NULL.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT. */
CS_API cs_status cs_explain_metrics_compute(const cs_explain_metrics *metrics,
                                            double curve[CS_EXPLAIN_N_TAUS], int *best_index,
                                            double *best_miou, double *msc, int *n_classes);
/* Counts of class cls: intersect[k] = I_c[k], union_[k] = U_c[k]; *evaluated nonzero when the
 * class was present in some image. Any pointer may be NULL.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (cls outside 0..K-1). */
CS_API cs_status cs_explain_metrics_counts(const cs_explain_metrics *metrics, int cls,
                                           int64_t intersect[CS_EXPLAIN_N_TAUS],
                                           int64_t union_[CS_EXPLAIN_N_TAUS], int *evaluated);
/* Number of kept (image, class) SC pairs, and pair i (in image order, then class order).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (i out of range). */
CS_API size_t cs_explain_metrics_n_pairs(const cs_explain_metrics *metrics);
CS_API cs_status cs_explain_metrics_pair(const cs_explain_metrics *metrics, size_t i,
                                         int64_t *image, int *cls, double *sc);

/* ===== Explanations: token maps, masks, boxes ===== */
/* Text-side maps (the paper's multimodal visualization, fig. 5) and masks and boxes from any map
 * (../shared/docs/EXPLAIN.md; docs/explain.md). A caption is explained word by word by taking
 * its per-token features as the label set of cs_feature_surgery_label_set: row 0 of the
 * similarity is each token's score, rows 1..N (through cs_similarity_maps) each token's map.
 * These calls only consume image features from cs_surgery_apply (or any other image encoder of
 * the library), so they work for every backbone. */

/* Per-token text features of one text (EXPLAIN.md 1): ONE pass of the text transformer (causal
 * mask) over positions 0..n_tokens-1, i.e. from the start token to the end-of-text token (the
 * first maximum id, as the reference's argmax) inclusive; ln_final and text_projection applied
 * to EVERY position, each row L2-normalised. The last row equals the normalised ordinary text
 * feature (cs_encode_token_ids) of the same ids.
 * ids: [context_length] int32 as cs_tokenize_context gives.
 * features: [n_tokens, embed_dim] row-major, L2-normalised rows, caller-owned, capacity in
 * floats (context_length * embed_dim always suffices). *n_tokens receives the count (also on
 * CS_ERR_BUFFER_TOO_SMALL, so a caller can size a retry).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, id out of range, no EOT),
 *         CS_ERR_BUFFER_TOO_SMALL, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_encode_token_features(cs_context *ctx, const int32_t *ids, float *features,
                                          size_t capacity, int *n_tokens);

/* As cs_encode_token_features for a NUL-terminated UTF-8 text tokenized with the model's
 * vocabulary (cs_tokenize_context, no truncation). token_ids: caller buffer of id_capacity
 * int32 that receives the n_tokens ids SOT, ..., EOT (CS_CONTEXT_LENGTH always suffices; may be
 * NULL when id_capacity is 0). features, capacity, *n_tokens as cs_encode_token_features.
 * Decode token i to text with cs_detokenize(tok, token_ids + i, 1, ...).
 * Returns as cs_encode_token_features plus CS_ERR_NO_VOCABULARY, CS_ERR_TEXT_TOO_LONG,
 *         CS_ERR_UNSUPPORTED (model context length is not 77). */
CS_API cs_status cs_text_token_features(cs_context *ctx, const char *text, int32_t *token_ids,
                                        size_t id_capacity, float *features, size_t capacity,
                                        int *n_tokens);

/* How a map becomes a mask (EXPLAIN.md 2). Values are ABI. */
typedef enum cs_threshold_kind {
    CS_THRESHOLD_FIXED = 0,    /* tau = value */
    CS_THRESHOLD_QUANTILE = 1, /* tau = the value-quantile (0..1) of the map's values, linear
                                  interpolation between order statistics (numpy's default) */
    CS_THRESHOLD_OTSU = 2      /* Otsu over a 256-bin histogram spanning the map's min..max, as
                                  scikit-image threshold_otsu(nbins=256); value ignored */
} cs_threshold_kind;

typedef struct cs_threshold_params {
    size_t size;            /* sizeof(cs_threshold_params) */
    cs_threshold_kind kind; /* default CS_THRESHOLD_FIXED */
    double value;           /* fixed: tau (finite); quantile: q in [0, 1]; default 0.5 */
} cs_threshold_params;

CS_API void cs_threshold_params_default(cs_threshold_params *params);

/* Thresholds one map: mask[i] = 1 when map value i >= tau, else 0. A constant map (max == min)
 * has nothing to explain: the mask is all 0 whatever the kind (EXPLAIN.md 2).
 * map: the value of pixel (y, x) is map[(y * width + x) * pixel_stride] (pixel_stride = 1 for a
 * plain [height, width] map; T, with map offset by t, for text t of a [height, width, T] tensor
 * as cs_similarity_maps writes). params NULL: the defaults (fixed 0.5).
 * mask: [height, width] uint8 (0/1), caller-owned, capacity in bytes.
 * *threshold (may be NULL) receives tau (for a constant map: the fixed value, else the map's
 * value). *mask_pixels (may be NULL) receives the number of 1s. Computed in double.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL, a size <= 0, pixel_stride 0, a NaN or infinite
 *         map value, bad kind, fixed value not finite, quantile outside [0, 1]),
 *         CS_ERR_TOO_LARGE (pixel count overflows), CS_ERR_BUFFER_TOO_SMALL,
 *         CS_ERR_OUT_OF_MEMORY (quantile sorts a copy of the map). */
CS_API cs_status cs_map_threshold(const float *map, int height, int width, size_t pixel_stride,
                                  const cs_threshold_params *params, uint8_t *mask,
                                  size_t capacity, double *threshold, size_t *mask_pixels);

/* One 8-connected component of a mask. */
typedef struct cs_component {
    int x, y;          /* top-left pixel of the bounding box */
    int width, height; /* box size in pixels (a single pixel is 1 x 1) */
    int64_t area;      /* pixels of the component */
    double mean_map;   /* mean of the map over the component's pixels */
    double peak_map;   /* largest map value over the component's pixels */
} cs_component;

/* 8-connected components of a mask (nonzero = foreground), with their boxes, areas and the mean
 * and peak of the map inside each; components smaller than min_area pixels are dropped.
 * Order (EXPLAIN.md 2): area descending, then box top (y), then box left (x), then the raster
 * order of the first pixel.
 * mask: [height, width] (as cs_map_threshold gives); map: as cs_map_threshold (pixel_stride);
 * map may be NULL (mean_map and peak_map are then 0).
 * components: caller-owned array of capacity entries (may be NULL when capacity is 0);
 * *n_components receives the count (also on CS_ERR_BUFFER_TOO_SMALL, nothing written then).
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT (NULL mask or n_components, a size <= 0,
 *         pixel_stride 0, min_area < 0), CS_ERR_TOO_LARGE, CS_ERR_BUFFER_TOO_SMALL,
 *         CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_mask_components(const uint8_t *mask, const float *map, int height,
                                    int width, size_t pixel_stride, int64_t min_area,
                                    cs_component *components, size_t capacity,
                                    size_t *n_components);

/* Boxes of a map in one call: cs_map_threshold then cs_mask_components (scratch mask
 * allocated inside). *threshold and *mask_pixels (may be NULL) as cs_map_threshold;
 * components, capacity, *n_components as cs_mask_components.
 * Returns the statuses of both calls. */
CS_API cs_status cs_map_boxes(const float *map, int height, int width, size_t pixel_stride,
                              const cs_threshold_params *params, int64_t min_area,
                              cs_component *components, size_t capacity, size_t *n_components,
                              double *threshold, size_t *mask_pixels);

#ifdef __cplusplus
}
#endif

#endif /* CLIPSURGERY_H */
