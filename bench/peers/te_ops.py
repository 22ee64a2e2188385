"""crosstune's operators as TVM tensor expressions, with NumPy references: the definitions the MetaSchedule
peers (metaschedule_tune.py, metaschedule_network.py) tune, the same DAGs as crosstune's builders.

Import after TVM_NUM_THREADS is set. Each builder returns (tensors, flops): the placeholders then the
output, as te.create_prim_func takes them. Each reference takes the inputs as NumPy arrays in that order.
"""
import json

import numpy as np
import tvm
from tvm import te, topi


def gemm(m, n, k):
    """C = A·B, A M×K, B K×N."""
    a = te.placeholder((m, k), name="A")
    b = te.placeholder((k, n), name="B")
    r = te.reduce_axis((0, k), name="k")
    c = te.compute((m, n), lambda i, j: te.sum(a[i, r] * b[r, j], axis=r), name="C")
    return [a, b, c], 2.0 * m * n * k


def _padded(data, pads, spatial, value=0.0):
    """`data` padded by pads = (top, left, bottom, right) on its two spatial axes (indices in `spatial`)."""
    top, left, bottom, right = pads
    if max(pads) == 0:
        return data
    shape = list(data.shape)
    hi, wi = spatial
    h, w = int(shape[hi]), int(shape[wi])
    shape[hi], shape[wi] = h + top + bottom, w + left + right

    def at(*idx):
        src = list(idx)
        src[hi], src[wi] = idx[hi] - top, idx[wi] - left
        inside = tvm.tirx.all(idx[hi] >= top, idx[hi] < h + top, idx[wi] >= left, idx[wi] < w + left)
        return tvm.tirx.if_then_else(inside, data[tuple(src)], tvm.tirx.const(value, "float32"))

    return te.compute(shape, at, name="pad")


def conv2d(n, c, h, w, k, r, s, pads, strides, layout="NCHW"):
    """NCHW with filters OIHW, or NHWC with filters HWIO; pads (top, left, bottom, right), strides (h, w)."""
    sh, sw = strides
    oh = (h + pads[0] + pads[2] - r) // sh + 1
    ow = (w + pads[1] + pads[3] - s) // sw + 1
    rc = te.reduce_axis((0, c), name="rc")
    ry = te.reduce_axis((0, r), name="ry")
    rx = te.reduce_axis((0, s), name="rx")
    if layout == "NHWC":
        data = te.placeholder((n, h, w, c), name="data")
        weight = te.placeholder((r, s, c, k), name="weight")
        padded = _padded(data, pads, (1, 2))
        out = te.compute(
            (n, oh, ow, k),
            lambda nn, y, x, kk: te.sum(
                padded[nn, y * sh + ry, x * sw + rx, rc] * weight[ry, rx, rc, kk], axis=[ry, rx, rc]
            ),
            name="conv",
        )
    else:
        data = te.placeholder((n, c, h, w), name="data")
        weight = te.placeholder((k, c, r, s), name="weight")
        padded = _padded(data, pads, (2, 3))
        out = te.compute(
            (n, k, oh, ow),
            lambda nn, kk, y, x: te.sum(
                padded[nn, rc, y * sh + ry, x * sw + rx] * weight[kk, rc, ry, rx], axis=[rc, ry, rx]
            ),
            name="conv",
        )
    return [data, weight, out], 2.0 * n * k * oh * ow * c * r * s


def pool2d(kind, layout, n, c, h, w, kernel, strides, pads, count_include_pad):
    data = te.placeholder((n, h, w, c) if layout == "NHWC" else (n, c, h, w), name="data")
    out = topi.nn.pool2d(data, kernel, strides, (1, 1), pads, kind, layout=layout,
                         count_include_pad=count_include_pad)
    return [data, out], float(np.prod([int(d) for d in out.shape]) * kernel[0] * kernel[1])


def dense(m, k, n, bias):
    """out = data·weightᵀ (+ bias): data M×K, weight N×K."""
    data = te.placeholder((m, k), name="data")
    weight = te.placeholder((n, k), name="weight")
    r = te.reduce_axis((0, k), name="k")
    out = te.compute((m, n), lambda i, j: te.sum(data[i, r] * weight[j, r], axis=r), name="dense")
    tensors = [data, weight]
    if bias:
        b = te.placeholder((n,), name="bias")
        product = out
        out = te.compute((m, n), lambda i, j: product[i, j] + b[j], name="T_add")
        tensors.append(b)
    return tensors + [out], 2.0 * m * n * k


def add(shape):
    a = te.placeholder(shape, name="A")
    b = te.placeholder(shape, name="B")
    return [a, b, topi.add(a, b)], float(np.prod(shape))


def softmax(shape, axis):
    data = te.placeholder(shape, name="data")
    return [data, topi.nn.softmax(data, axis)], 5.0 * float(np.prod(shape))


def from_workload_key(key):
    """(tensors, flops, reference) for a crosstune workload key of the CNN networks' operators: conv2d,
    pool2d, dense, binary add and softmax. Other keys raise ValueError."""
    k = json.loads(key)
    name = k[0]
    if name == "crosstune.conv2d":
        layout, n, c, h, w, co, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups = k[1:]
        if (dh, dw, groups) != (1, 1, 1):
            raise ValueError(f"{key}: dilated or grouped convolutions are not built here")
        tensors, flops = conv2d(n, c, h, w, co, kh, kw, (pt, pl, pb, pr), (sh, sw), layout)
        return tensors, flops, lambda d, wt: conv2d_reference(d, wt, (pt, pl, pb, pr), (sh, sw), layout)
    if name == "crosstune.pool2d":
        kind, layout, n, c, h, w, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, include = k[1:]
        if (dh, dw) != (1, 1):
            raise ValueError(f"{key}: dilated pooling is not built here")
        tensors, flops = pool2d(kind, layout, n, c, h, w, (kh, kw), (sh, sw), (pt, pl, pb, pr), include)
        return tensors, flops, lambda d: pool2d_reference(d, kind, layout, (kh, kw), (sh, sw), (pt, pl, pb, pr),
                                                          include)
    if name == "crosstune.dense":
        m, kk, n, bias, activation = k[1:]
        if activation != "none":
            raise ValueError(f"{key}: dense with an activation is not built here")
        tensors, flops = dense(m, kk, n, bias)
        return tensors, flops, lambda d, wt, *b: d @ wt.T + (b[0] if b else 0)
    if name == "crosstune.binary" and k[1] == "add" and k[2] == k[3]:
        tensors, flops = add(k[2])
        return tensors, flops, lambda a, b: a + b
    if name == "crosstune.softmax":
        shape, axis = k[1], k[2]
        tensors, flops = softmax(shape, axis)

        def reference(x):
            e = np.exp(x - x.max(axis=axis, keepdims=True))
            return e / e.sum(axis=axis, keepdims=True)

        return tensors, flops, reference
    raise ValueError(f"{key}: no tensor expression for this operator here")


def conv2d_reference(data, weight, pads, strides, layout="NCHW"):
    if layout == "NHWC":  # the same convolution, transposed in and out
        out = conv2d_reference(data.transpose(0, 3, 1, 2), weight.transpose(3, 2, 0, 1), pads, strides)
        return out.transpose(0, 2, 3, 1)
    top, left, bottom, right = pads
    padded = np.pad(data, ((0, 0), (0, 0), (top, bottom), (left, right)))
    r, s = weight.shape[2], weight.shape[3]
    windows = np.lib.stride_tricks.sliding_window_view(padded, (r, s), axis=(2, 3))
    windows = windows[:, :, :: strides[0], :: strides[1]]
    return np.einsum("ncyxrs,kcrs->nkyx", windows, weight, optimize=True)


def pool2d_reference(data, kind, layout, kernel, strides, pads, count_include_pad):
    x = data.transpose(0, 3, 1, 2) if layout == "NHWC" else data
    top, left, bottom, right = pads
    fill = -np.inf if kind == "max" else 0.0
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel, axis=(2, 3))
    windows = windows[:, :, :: strides[0], :: strides[1]]
    if kind == "max":
        out = windows.max(axis=(4, 5))
    else:
        ones = np.pad(np.ones_like(x), ((0, 0), (0, 0), (top, bottom), (left, right)))
        count = np.lib.stride_tricks.sliding_window_view(ones, kernel, axis=(2, 3))[:, :, :: strides[0], :: strides[1]]
        divisor = kernel[0] * kernel[1] if count_include_pad else count.sum(axis=(4, 5))
        out = windows.sum(axis=(4, 5)) / divisor
    return out.transpose(0, 2, 3, 1) if layout == "NHWC" else out
