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
#define CS_VERSION_MINOR 1
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
} cs_model_params;

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
    int n_threads;   /* threads for the library's own loops; 0 = all online cores. Matrix
                        products run in OpenBLAS, whose thread count the library never changes
                        (set OPENBLAS_NUM_THREADS in the environment to bound it). */
} cs_context_params;

CS_API void cs_context_params_default(cs_context_params *params);

/* A context holds scratch memory that grows to the largest call and is reused. One thread at a
 * time per context; many contexts may share one model. The model must outlive the context.
 * Returns CS_OK, CS_ERR_INVALID_ARGUMENT, CS_ERR_OUT_OF_MEMORY. */
CS_API cs_status cs_context_create(const cs_model *model, const cs_context_params *params,
                                   cs_context **out);
CS_API void cs_context_free(cs_context *ctx);

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
    CS_ATTN_IDENTITY = 2,    /* MaskCLIP: v only (reserved; CS_ERR_UNSUPPORTED for now) */
    CS_ATTN_QQ_KK = 3,       /* SCLIP (reserved) */
    CS_ATTN_QQ = 4,          /* ClearCLIP (reserved) */
    CS_ATTN_KK_GAUSSIAN = 5  /* NACLIP (reserved) */
} cs_attention_kind;

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

#ifdef __cplusplus
}
#endif

#endif /* CLIPSURGERY_H */
