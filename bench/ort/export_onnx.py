#!/usr/bin/env python3
"""Writes an ONNX model of the CLIP Surgery ViT image encoder from one of our f32 safetensors
checkpoints (OpenAI layout, "visual.*" names), for the ONNX Runtime baseline of `make bench`.

    export_onnx.py CHECKPOINT.safetensors OUT.onnx --size S [--mode surgery|raw]
                   [--surgery-blocks 6] [--heads H]

The graph is the computation of docs REFERENCE.md section 2 (the official xmed-lab/CLIP_Surgery
code), with no shortcut that code does not take: in each of the last 6 blocks both the q-k
attention and the v-v attention run over all tokens, the MLP runs on x_ori for all tokens (also in
the last block, where only its CLS row is used), and ln_post and proj run on all 1 + N tokens.

  input  "pixels"   float32 [1, 3, S, S]  (already CLIP-normalised)
  output "features" float32 [1 + N, D]    = ln_post(x_new) @ proj, CLS first, not normalised

Ops (opset 17): Conv (patch embedding, no bias), Reshape, Transpose, Concat, Add,
LayerNormalization (epsilon 1e-5), Gemm (transB = 1: the nn.Linear layers, y = x W^T + b, with the
checkpoint's [out, in] weights stored as they are), Gather (q, k, v out of the fused qkv
projection), MatMul, Mul, Softmax (axis -1), Sigmoid (QuickGELU x * sigmoid(1.702 x)), Slice.
Weights are initializers (raw_data, little-endian float32).

The ONNX protobuf is written here with the Python standard library (a small wire-format encoder
below): the onnx package and PyTorch are not available. numpy is used when importable (only to
resize the positional embedding); without it the same resize runs in plain Python.
"""
import argparse
import array
import json
import math
import struct
import sys

try:
    import numpy as np
except ImportError:  # plain-Python fallback for the positional-embedding resize
    np = None

IR_VERSION = 8
OPSET = 17
LN_EPS = 1e-5

# --- protobuf wire format ------------------------------------------------------------------
# A message is built as a list of byte chunks, so the ~350 MB of weights are never joined into
# one string: only the length prefixes are computed, and the chunks are written in order.


def _varint(n):
    if n < 0:
        n += 1 << 64  # int64 fields: two's complement, 10 bytes
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


class Msg(object):
    """A protobuf message under construction: chunks plus their total length."""

    __slots__ = ("chunks", "size")

    def __init__(self):
        self.chunks = []
        self.size = 0

    def _put(self, data):
        self.chunks.append(data)
        self.size += len(data)

    def varint(self, field, value):
        self._put(_varint(field << 3 | 0) + _varint(int(value)))
        return self

    def fixed32_float(self, field, value):
        self._put(_varint(field << 3 | 5) + struct.pack("<f", value))
        return self

    def bytes_(self, field, data):
        self._put(_varint(field << 3 | 2) + _varint(len(data)))
        self._put(data)
        return self

    def string(self, field, text):
        return self.bytes_(field, text.encode("utf-8"))

    def message(self, field, msg):
        self._put(_varint(field << 3 | 2) + _varint(msg.size))
        self.chunks.extend(msg.chunks)
        self.size += msg.size
        return self


# onnx.proto field numbers (onnx/onnx.proto, proto2)
F_FLOAT, F_INT64 = 1, 7          # TensorProto.DataType
A_FLOAT, A_INT, A_INTS = 1, 2, 7  # AttributeProto.AttributeType


def tensor_proto(name, dims, data_type, raw):
    t = Msg()
    for d in dims:
        t.varint(1, d)            # dims
    t.varint(2, data_type)        # data_type
    t.string(8, name)             # name
    t.bytes_(9, raw)              # raw_data
    return t


def attribute(name, value):
    a = Msg().string(1, name)
    if isinstance(value, float):
        a.fixed32_float(2, value).varint(20, A_FLOAT)
    elif isinstance(value, int):
        a.varint(3, value).varint(20, A_INT)
    else:
        for v in value:
            a.varint(8, v)
        a.varint(20, A_INTS)
    return a


def value_info(name, elem_type, dims):
    shape = Msg()
    for d in dims:
        shape.message(1, Msg().varint(1, d))        # TensorShapeProto.dim.dim_value
    tensor = Msg().varint(1, elem_type).message(2, shape)  # TypeProto.Tensor
    return Msg().string(1, name).message(2, Msg().message(1, tensor))


class Graph(object):
    def __init__(self):
        self.nodes = []
        self.inits = []
        self.count = 0
        self.consts = {}

    def node(self, op, inputs, n_out=1, out=None, **attrs):
        self.count += 1
        outs = [out] if out else ["%s_%d%s" % (op.lower(), self.count, "" if i == 0 else "_%d" % i)
                                  for i in range(n_out)]
        n = Msg()
        for i in inputs:
            n.string(1, i)
        for o in outs:
            n.string(2, o)
        n.string(3, "%s_%d" % (op, self.count)).string(4, op)
        for k in sorted(attrs):
            n.message(5, attribute(k, attrs[k]))
        self.nodes.append(n)
        return outs[0] if n_out == 1 else outs

    def init(self, name, dims, raw, data_type=F_FLOAT):
        self.inits.append(tensor_proto(name, dims, data_type, raw))
        return name

    def const_i64(self, values, scalar=False):
        key = (tuple(values), scalar)
        if key not in self.consts:
            name = "const_i64_%d" % len(self.consts)
            raw = struct.pack("<%dq" % len(values), *values)
            self.consts[key] = self.init(name, [] if scalar else [len(values)], raw, F_INT64)
        return self.consts[key]

    def const_f32(self, value):
        key = ("f", value)
        if key not in self.consts:
            name = "const_f32_%d" % len(self.consts)
            self.consts[key] = self.init(name, [], struct.pack("<f", value))
        return self.consts[key]

    def model(self, inputs, outputs, doc):
        g = Msg()
        for n in self.nodes:
            g.message(1, n)
        g.string(2, "clip_surgery_image_encoder")
        for t in self.inits:
            g.message(5, t)
        g.string(10, doc)
        for vi in inputs:
            g.message(11, vi)
        for vi in outputs:
            g.message(12, vi)
        m = Msg().varint(1, IR_VERSION)
        m.string(2, "libclipsurgery bench/ort/export_onnx.py").string(3, "1")
        m.string(6, doc)
        m.message(7, g)
        m.message(8, Msg().string(1, "").varint(2, OPSET))  # opset_import: default domain
        return m


# --- safetensors ---------------------------------------------------------------------------
class Checkpoint(object):
    def __init__(self, path):
        self.f = open(path, "rb")
        (n,) = struct.unpack("<Q", self.f.read(8))
        self.header = json.loads(self.f.read(n).decode("utf-8"))
        self.base = 8 + n

    def shape(self, name):
        if name not in self.header:
            raise SystemExit("export_onnx: the checkpoint has no tensor %s (OpenAI layout "
                             "'visual.*' expected)" % name)
        return list(self.header[name]["shape"])

    def raw(self, name, shape=None):
        """The tensor's little-endian F32 bytes (checked against shape when given)."""
        info = self.header.get(name)
        if info is None:
            self.shape(name)
        if info["dtype"] != "F32":
            raise SystemExit("export_onnx: %s is %s; an F32 checkpoint is needed" %
                             (name, info["dtype"]))
        if shape is not None and list(info["shape"]) != list(shape):
            raise SystemExit("export_onnx: %s has shape %s, expected %s" %
                             (name, info["shape"], shape))
        a, b = info["data_offsets"]
        self.f.seek(self.base + a)
        data = self.f.read(b - a)
        if len(data) != 4 * math.prod(info["shape"]):
            raise SystemExit("export_onnx: %s is truncated" % name)
        return data


# --- positional embedding resize -----------------------------------------------------------
def _taps(n_in, n_out):
    """Bilinear (align_corners = False, no antialias) source taps: (i0, i1, w0, w1) per output."""
    scale = n_in / n_out
    taps = []
    for o in range(n_out):
        src = max((o + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(src), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        w1 = src - i0
        taps.append((i0, i1, 1.0 - w1, w1))
    return taps


def resize_positions(raw, n_pos, width, new_side):
    """[n_pos, width] f32 bytes -> [1 + new_side^2, width]: the CLS row unchanged, the patch rows
    (a side x side grid, row-major) resized bilinearly to new_side x new_side."""
    side = int(round(math.sqrt(n_pos - 1)))
    if side * side != n_pos - 1:
        raise SystemExit("export_onnx: %d positions are not 1 + a square grid" % n_pos)
    if side == new_side:
        return raw
    taps = _taps(side, new_side)
    if np is not None:
        pos = np.frombuffer(raw, dtype="<f4").reshape(n_pos, width)
        grid = pos[1:].reshape(side, side, width)
        out = np.empty((new_side, new_side, width), dtype=np.float32)
        for y, (y0, y1, wy0, wy1) in enumerate(taps):
            for x, (x0, x1, wx0, wx1) in enumerate(taps):
                out[y, x] = (np.float32(wy0) * (np.float32(wx0) * grid[y0, x0] +
                                                np.float32(wx1) * grid[y0, x1]) +
                             np.float32(wy1) * (np.float32(wx0) * grid[y1, x0] +
                                                np.float32(wx1) * grid[y1, x1]))
        return pos[:1].astype("<f4").tobytes() + out.astype("<f4").tobytes()
    pos = array.array("f")
    pos.frombytes(raw)
    if sys.byteorder != "little":
        pos.byteswap()
    out = array.array("f", pos[:width])
    for (y0, y1, wy0, wy1) in taps:
        for (x0, x1, wx0, wx1) in taps:
            r00 = (1 + y0 * side + x0) * width
            r01 = (1 + y0 * side + x1) * width
            r10 = (1 + y1 * side + x0) * width
            r11 = (1 + y1 * side + x1) * width
            out.extend(wy0 * (wx0 * pos[r00 + c] + wx1 * pos[r01 + c]) +
                       wy1 * (wx0 * pos[r10 + c] + wx1 * pos[r11 + c]) for c in range(width))
    if sys.byteorder != "little":
        out.byteswap()
    return out.tobytes()


# --- the encoder ---------------------------------------------------------------------------
def graph_flops(width, heads, layers, patch, embed, n_tok, n_surgery):
    """Matrix-product FLOPs of the exported graph (Conv, Gemm, MatMul; 2 per multiply-add):
    what the official computation runs, for reading ORT's time as GFLOP/s."""
    t, c, d, n = float(n_tok), float(width), float(width // heads), float(n_tok - 1)
    attn = heads * (2 * t * t * d) * 2           # scores and P v, all tokens
    qkv, out, mlp = 2 * t * c * 3 * c, 2 * t * c * c, 2 * t * c * 4 * c * 2
    total = 2 * n * c * 3 * patch * patch         # patch embedding
    total += (layers - n_surgery) * (qkv + attn + out + mlp)
    total += n_surgery * (qkv + 2 * attn + 2 * out + mlp)  # both attentions, MLP on x_ori
    return total + 2 * t * c * embed              # proj on every token


def export(ckpt_path, out_path, size, mode="surgery", surgery_blocks=6, heads=0,
           flops_out=None):
    ck = Checkpoint(ckpt_path)
    width, c_in, patch, patch2 = ck.shape("visual.conv1.weight")
    if c_in != 3 or patch != patch2:
        raise SystemExit("export_onnx: unexpected conv1 shape %s" % ck.shape("visual.conv1.weight"))
    n_pos = ck.shape("visual.positional_embedding")[0]
    embed = ck.shape("visual.proj")[1]
    layers = 0
    while "visual.transformer.resblocks.%d.ln_1.weight" % layers in ck.header:
        layers += 1
    heads = heads or width // 64  # OpenAI CLIP: vision_heads = vision_width // 64
    if layers == 0 or width % heads:
        raise SystemExit("export_onnx: %d layers, width %d, %d heads" % (layers, width, heads))
    if size % patch:
        raise SystemExit("export_onnx: size %d is not a multiple of the patch %d" % (size, patch))
    side = size // patch
    n_tok = 1 + side * side
    d_head = width // heads
    n_surgery = min(surgery_blocks, layers) if mode == "surgery" else 0
    sys.stderr.write("export_onnx: width %d, %d heads, %d layers, patch %d, embed %d, %d stored "
                     "positions; size %d -> %d tokens; %d surgery blocks\n" %
                     (width, heads, layers, patch, embed, n_pos, size, n_tok, n_surgery))

    g = Graph()
    v = "visual."

    stored = {}

    def w(name, shape):
        # a checkpoint tensor as an initializer, once (out_proj serves both attentions)
        if name not in stored:
            stored[name] = g.init(v + name, shape, ck.raw(v + name, shape))
        return stored[name]

    def layer_norm(x, prefix):
        return g.node("LayerNormalization", [x, w(prefix + ".weight", [width]),
                                             w(prefix + ".bias", [width])],
                      axis=-1, epsilon=LN_EPS)

    def linear(x, prefix, n_out, n_in):
        # nn.Linear: x W^T + b with W [out, in] as stored
        return g.node("Gemm", [x, w(prefix + ".weight", [n_out, n_in]),
                               w(prefix + ".bias", [n_out])], transB=1)

    # 1. patch embedding: conv p x p stride p, no bias -> [1, C, side, side] -> [N, C]
    x = g.node("Conv", ["pixels", w("conv1.weight", [width, 3, patch, patch])],
               kernel_shape=[patch, patch], strides=[patch, patch])
    x = g.node("Reshape", [x, g.const_i64([width, side * side])])
    x = g.node("Transpose", [x], perm=[1, 0])
    # 2. class token first, then the positional embedding
    cls = g.init(v + "class_embedding", [1, width], ck.raw(v + "class_embedding", [width]))
    x = g.node("Concat", [cls, x], axis=0)
    pos_raw = ck.raw(v + "positional_embedding", [n_pos, width])
    # The official code resizes the stored patch positions at run time (bilinear,
    # align_corners = False) when the grid differs from the stored one; here the resize is done
    # once at export time and stored as a constant (its run-time cost is negligible).
    pos = g.init(v + "positional_embedding.resized_%d" % side, [n_tok, width],
                 resize_positions(pos_raw, n_pos, width, side))
    x = g.node("Add", [x, pos])
    # 3. ln_pre
    x = layer_norm(x, "ln_pre")

    scale = g.const_f32(d_head ** -0.5)
    heads_shape = g.const_i64([n_tok, 3, heads, d_head])
    merge_shape = g.const_i64([n_tok, width])

    def attention_probs(a, b):
        # softmax((a b^T) * d^-1/2) over the last axis; a, b [h, T, d]
        s = g.node("MatMul", [a, g.node("Transpose", [b], perm=[0, 2, 1])])
        return g.node("Softmax", [g.node("Mul", [s, scale])], axis=-1)

    def out_proj(p, vh, prefix):
        o = g.node("MatMul", [p, vh])                       # [h, T, d]
        o = g.node("Transpose", [o], perm=[1, 0, 2])        # [T, h, d]
        o = g.node("Reshape", [o, merge_shape])             # [T, C]
        return linear(o, prefix + ".attn.out_proj", width, width)

    def qkv_heads(a, prefix):
        # one fused in-projection [T, 3C], split into q, k, v [h, T, d]
        t = g.node("Gemm", [a, w(prefix + ".attn.in_proj_weight", [3 * width, width]),
                            w(prefix + ".attn.in_proj_bias", [3 * width])], transB=1)
        t = g.node("Reshape", [t, heads_shape])             # [T, 3, h, d]
        t = g.node("Transpose", [t], perm=[1, 2, 0, 3])     # [3, h, T, d]
        return [g.node("Gather", [t, g.const_i64([i], scalar=True)], axis=0) for i in range(3)]

    def mlp(x, prefix):
        hid = linear(g.node("LayerNormalization", [x, w(prefix + ".ln_2.weight", [width]),
                                                   w(prefix + ".ln_2.bias", [width])],
                            axis=-1, epsilon=LN_EPS),
                     prefix + ".mlp.c_fc", 4 * width, width)
        # QuickGELU: x * sigmoid(1.702 x)
        hid = g.node("Mul", [hid, g.node("Sigmoid", [g.node("Mul", [hid,
                                                                    g.const_f32(1.702)])])])
        return linear(hid, prefix + ".mlp.c_proj", width, 4 * width)

    # 4. ordinary pre-LN blocks
    for i in range(layers - n_surgery):
        prefix = "transformer.resblocks.%d" % i
        q, k, vv = qkv_heads(layer_norm(x, prefix + ".ln_1"), prefix)
        x = g.node("Add", [x, out_proj(attention_probs(q, k), vv, prefix)])
        x = g.node("Add", [x, mlp(x, prefix)])

    # 5. surgery blocks: two streams, both start as the x entering the first of them
    x_ori, x_new = x, x
    for i in range(layers - n_surgery, layers):
        prefix = "transformer.resblocks.%d" % i
        q, k, vv = qkv_heads(layer_norm(x_ori, prefix + ".ln_1"), prefix)
        o_ori = out_proj(attention_probs(q, k), vv, prefix)    # q-k attention, all tokens
        o_new = out_proj(attention_probs(vv, vv), vv, prefix)  # v-v attention, all tokens
        x_ori = g.node("Add", [x_ori, o_ori])
        x_ori = g.node("Add", [x_ori, mlp(x_ori, prefix)])     # MLP on all tokens of x_ori
        x_new = g.node("Add", [x_new, o_new])                  # no FFN on the new path

    # 6. CLS of x_new replaced by CLS of x_ori
    if n_surgery:
        zero, one, big = g.const_i64([0]), g.const_i64([1]), g.const_i64([n_tok])
        axis0 = g.const_i64([0])
        x = g.node("Concat", [g.node("Slice", [x_ori, zero, one, axis0]),
                              g.node("Slice", [x_new, one, big, axis0])], axis=0)
    # 7. ln_post on all tokens, @ proj
    x = layer_norm(x, "ln_post")
    g.node("MatMul", [x, w("proj", [width, embed])], out="features")

    doc = ("CLIP Surgery ViT image encoder (%s), exported by libclipsurgery bench/ort/export_onnx.py "
           "from %s; size %d, %d tokens, width %d, %d heads, %d layers, %d surgery blocks"
           % (mode, ckpt_path.rsplit("/", 1)[-1], size, n_tok, width, heads, layers, n_surgery))
    model = g.model([value_info("pixels", F_FLOAT, [1, 3, size, size])],
                    [value_info("features", F_FLOAT, [n_tok, embed])], doc)
    with open(out_path, "wb") as f:
        for c in model.chunks:
            f.write(c)
    flops = graph_flops(width, heads, layers, patch, embed, n_tok, n_surgery)
    sys.stderr.write("export_onnx: wrote %s (%.1f MB, %d nodes, %.2f GFLOP)\n" %
                     (out_path, model.size / 1e6, len(g.nodes), flops * 1e-9))
    if flops_out:
        with open(flops_out, "w") as f:
            f.write("%.4f\n" % (flops * 1e-9))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="f32 safetensors, OpenAI layout")
    ap.add_argument("out", help="the .onnx file to write")
    ap.add_argument("--size", type=int, default=224, help="input side S (a multiple of the patch)")
    ap.add_argument("--mode", choices=("surgery", "raw"), default="surgery")
    ap.add_argument("--surgery-blocks", type=int, default=6)
    ap.add_argument("--heads", type=int, default=0, help="default width / 64 (OpenAI CLIP)")
    ap.add_argument("--flops-out", help="write the graph's matrix-product GFLOP to this file")
    a = ap.parse_args(argv)
    export(a.checkpoint, a.out, a.size, a.mode, a.surgery_blocks, a.heads, a.flops_out)


if __name__ == "__main__":
    main()
