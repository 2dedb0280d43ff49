"""Results as numpy arrays when numpy is importable, else as a small Array wrapper; inputs from
numpy arrays, Array, nested lists or flat lists."""
import array
import ctypes
import os

try:
    if os.environ.get("CLIPSURGERY_NO_NUMPY"):
        raise ImportError("disabled by CLIPSURGERY_NO_NUMPY")
    import numpy as _np
except ImportError:
    _np = None

_CTYPES = {"f": ctypes.c_float, "i": ctypes.c_int32, "B": ctypes.c_uint8}
_NP_DTYPES = {"f": "float32", "i": "int32", "B": "uint8"}


def have_numpy():
    return _np is not None


def _product(shape):
    n = 1
    for d in shape:
        n *= d
    return n


class Array(object):
    """A row-major tensor without numpy: .shape (tuple), .tolist() (nested lists), len(),
    indexing along the first axis (a sub-Array, or a number for 1-D), iteration, and .data (the
    flat array.array of float32 'f', int32 'i' or uint8 'B')."""

    __slots__ = ("data", "shape")

    def __init__(self, data, shape):
        shape = tuple(int(d) for d in shape)
        if len(data) != _product(shape):
            raise ValueError("Array: %d values do not fill shape %r" % (len(data), shape))
        self.data = data
        self.shape = shape

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return len(self.data)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d Array")
        return self.shape[0]

    def __getitem__(self, i):
        if not self.shape:
            raise IndexError("0-d Array")
        n = self.shape[0]
        if isinstance(i, slice):
            raise TypeError("Array supports integer indexing only; use .tolist() or numpy")
        i = int(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("index %d out of range for axis of size %d" % (i, n))
        if len(self.shape) == 1:
            return self.data[i]
        step = _product(self.shape[1:])
        return Array(self.data[i * step:(i + 1) * step], self.shape[1:])

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def tolist(self):
        flat = self.data.tolist()

        def build(offset, dims):
            if len(dims) == 1:
                return flat[offset:offset + dims[0]]
            step = _product(dims[1:])
            return [build(offset + k * step, dims[1:]) for k in range(dims[0])]

        if not self.shape:
            return flat[0]
        if 0 in self.shape:
            return build(0, self.shape) if self.shape[0] else []
        return build(0, self.shape)

    def __repr__(self):
        return "Array(shape=%r, typecode=%r)" % (self.shape, self.data.typecode)


def zeros(typecode, n):
    """A zero-filled flat array.array of n elements."""
    return array.array(typecode, bytes(array.array(typecode).itemsize * n))


def cbuf(arr):
    """A ctypes array sharing memory with the array.array `arr` (passes as a pointer)."""
    ctype = _CTYPES[arr.typecode]
    n = len(arr)
    if n == 0:
        return (ctype * 1)()
    return (ctype * n).from_buffer(arr)


def wrap(arr, shape):
    """Result tensor: numpy.ndarray when numpy is importable, else Array. The ndarray is a view
    of the array.array the library wrote into (no copy; it keeps that buffer alive)."""
    shape = tuple(int(d) for d in shape)
    if _np is not None:
        if len(arr) == 0:
            return _np.zeros(shape, dtype=_NP_DTYPES[arr.typecode])
        return _np.frombuffer(arr, dtype=_NP_DTYPES[arr.typecode]).reshape(shape)
    return Array(arr, shape)


def as_int32(obj):
    """Input integer tensor -> (buffer, shape, int32* pointer): numpy arrays without a copy when
    already contiguous int32; otherwise (nested) lists, Array or array.array."""
    if _np is not None and isinstance(obj, _np.ndarray):
        a = _np.ascontiguousarray(obj, dtype=_np.int32)
        return a, tuple(a.shape), a.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
    if isinstance(obj, Array):
        obj = obj.tolist()
    elif isinstance(obj, array.array):
        obj = obj.tolist()
    elif hasattr(obj, "tolist"):
        obj = obj.tolist()
    flat, shape = _flatten(obj)
    data = array.array("i", [int(v) for v in flat])
    return data, shape, cbuf(data)


def float_pointer(obj):
    """(keep-alive object, float* pointer) of a result tensor (numpy array or Array), without a
    copy when it is contiguous float32 already."""
    buf, _, ptr = as_float32(obj)
    return buf, ptr


def _flatten(obj):
    """Nested lists/tuples of numbers -> (flat list, shape); raises ValueError if ragged."""
    if not isinstance(obj, (list, tuple)):
        return [obj], ()
    if len(obj) == 0:
        return [], (0,)
    parts = [_flatten(x) for x in obj]
    inner = parts[0][1]
    for _, s in parts:
        if s != inner:
            raise ValueError("ragged nested list: sub-shapes %r and %r" % (inner, s))
    flat = []
    for f, _ in parts:
        flat.extend(f)
    return flat, (len(obj),) + inner


def as_float32(obj):
    """Input tensor -> (flat array.array('f') or contiguous numpy float32 array, shape tuple,
    pointer usable as float*). Accepts numpy arrays, Array, array.array and (nested) lists."""
    if _np is not None and isinstance(obj, _np.ndarray):
        a = _np.ascontiguousarray(obj, dtype=_np.float32)
        ptr = a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        return a, tuple(a.shape), ptr
    if isinstance(obj, Array):
        data = obj.data if obj.data.typecode == "f" else array.array("f", obj.data)
        return data, obj.shape, cbuf(data)
    if isinstance(obj, array.array):
        data = obj if obj.typecode == "f" else array.array("f", obj)
        return data, (len(data),), cbuf(data)
    if hasattr(obj, "__array_interface__") or hasattr(obj, "tolist"):
        obj = obj.tolist()
    flat, shape = _flatten(obj)
    try:
        data = array.array("f", flat)
    except TypeError:
        raise TypeError("expected numbers in the input tensor")
    return data, shape, cbuf(data)
