"""Pooling and upsampling of images (N, C, H, W): MaxPool2d, AvgPool2d, Upsample2d.

Equations P1–P10 are derived in docs/math/pooling.md.

No padding, no dilation, and PyTorch's output size (ceil_mode=False)::

    OH = floor((H − kh) / sh) + 1,   OW = floor((W − kw) / sw) + 1

(the rows and columns a window never reaches are dropped, as PyTorch drops them).

How the windows are read. Entry (i, j) of every window is the strided slice
``x[:, :, i::sh, j::sw]`` cut to (OH, OW): a view, no copy. Each layer loops over the
kh·kw kernel offsets only (4 iterations for a 2×2 window), and every iteration is one
vectorised operation over all of (N, C, OH, OW). This is the im2col pattern of the
convolutions and maps unchanged onto CuPy. It was measured faster than the
alternatives on the target shapes (float32, batch 64, 2 cores): for the 2×2 max-pool of
(64, 32, 28, 28), a reduction over the axes (3, 5) of the (N, C, OH, kh, OW, kw) view
took 29 ms, a transposed copy plus ``argmax`` 9.5 ms, the offset loop with its arg-max
1.6 ms (PyTorch's max_pool2d with indices, 2 threads: 4.3 ms).

Max-pool backward. Forward stores the arg-max of every window as one small integer
k + 1 for entry k = i·kw + j (uint8 for windows of up to 255 entries): a quarter of the
output's bytes in float32. Backward writes ``dy · [arg == k + 1]`` into slice k of dx, one
offset at a time (eq. P4). For non-overlapping windows (stride ≥ kernel) this is a plain
write into disjoint slices; for overlapping windows the slices overlap and the writes
add (+=). The 0 left free means "no winner": ``forward_after_relu`` computes
MaxPool2d(ReLU(x)) as max(0, window) in one pass (eq. P9) and stores 0 where the whole
window is ≤ 0, so backward sends nothing there, which is the ReLU's backward (eq. P10).
`Sequential` uses it for every ReLU directly followed by a MaxPool2d.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..errors import ShapeError
from ..im2col import conv_output_size, empty_image
from .base import Layer, format_shape

_IMAGE = (None, None, None, None)                       # (N, C, H, W), any sizes


def _pair(value, what: str, layer: str) -> tuple[int, int]:
    """An int or an (h, w) pair of positive ints -> (h, w); ValueError otherwise."""
    def positive_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1

    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(positive_int(v) for v in pair):
        raise ValueError(f"{layer}: {what} must be a positive int or a pair (h, w) of positive ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _config_value(pair: tuple[int, int]):
    """(2, 2) -> 2, (2, 3) -> [2, 3]: JSON-able, and the short form when square."""
    return pair[0] if pair[0] == pair[1] else list(pair)


def _window(a, i: int, j: int, oh: int, ow: int, sh: int, sw: int):
    """Entry (i, j) of every window: a[:, :, i + sh·p, j + sw·q] for p < OH, q < OW. (N, C, OH, OW), a view."""
    return a[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]


def _window_sum(a, kernel, stride, out_hw):
    """Σ over the kh·kw entries of every window of ``a`` (N, C, H, W) -> (N, C, OH, OW), a new array."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_hw
    total = _window(a, 0, 0, oh, ow, sh, sw).copy(order="K")     # in the memory order of ``a``
    for i in range(kh):
        for j in range(kw):
            if i or j:
                total += _window(a, i, j, oh, ow, sh, sw)
    return total


class _Pool2d(Layer):
    """Shared by MaxPool2d and AvgPool2d: kernel, stride, output size, shape checks."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _pair(kernel_size, "kernel_size", name)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", name)
        self._x_shape = None
        self._y_shape = None

    @property
    def _overlapping(self) -> bool:
        """True when neighbouring windows share input entries (stride < kernel along an axis)."""
        return self.stride[0] < self.kernel_size[0] or self.stride[1] < self.kernel_size[1]

    def _out_hw(self, input_shape) -> tuple:
        """(OH, OW) for (N, C, H, W); None where H or W is None; ShapeError if the window does not fit."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        h, w = input_shape[2], input_shape[3]
        try:
            oh = None if h is None else conv_output_size(h, kh, sh, 0)      # eq. P1
            ow = None if w is None else conv_output_size(w, kw, sw, 0)      # eq. P1
        except ShapeError as exc:
            raise ShapeError(f"{self.label}: expected input of shape (N, C, H ≥ {kh}, W ≥ {kw}) for its "
                             f"{kh}×{kw} window, got {format_shape(input_shape)} ({exc})") from None
        return oh, ow

    def _start(self, x):
        """Boundary checks of forward; returns (x, (OH, OW))."""
        x = self.check_input(x, _IMAGE)
        oh, ow = self._out_hw(x.shape)
        self._x_shape = x.shape
        self._y_shape = (x.shape[0], x.shape[1], oh, ow)
        return x, (oh, ow)

    def _check_backward(self, dy):
        self.check_forward_called(self._x_shape)
        self.check_grad(dy, self._y_shape)

    def _covers_input(self) -> bool:
        """True when the windows tile the input exactly: every entry of x lies in exactly one window."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        _, _, h, w = self._x_shape
        _, _, oh, ow = self._y_shape
        return (kh, kw) == (sh, sw) and h == oh * kh and w == ow * kw

    def _new_input_grad(self, dy):
        """A new dx of the input's shape in dy's memory order: zeros, or left unset when the windows tile the
        input (backward then writes every entry)."""
        dx = empty_image(self._x_shape, dy)                 # (N, C, H, W)
        if not self._covers_input():
            dx[...] = 0
        return dx

    def output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ShapeError(f"{self.label}: expected input of shape {format_shape(_IMAGE)}, "
                             f"got {format_shape(input_shape)}" + self._shape_hint(_IMAGE, tuple(input_shape)))
        return (input_shape[0], input_shape[1], *self._out_hw(input_shape))

    def config(self):
        return {"kernel_size": _config_value(self.kernel_size), "stride": _config_value(self.stride)}


class MaxPool2d(_Pool2d):
    """Max pooling: each output is the largest entry of its kh×kw window.

    Parameters
    ----------
    kernel_size : int or (kh, kw)
    stride : int or (sh, sw), default ``kernel_size`` (non-overlapping windows)

    x: (N, C, H, W) -> y: (N, C, OH, OW), OH = floor((H − kh)/sh) + 1 (eq. P1).

    Notes
    -----
    y[n, c, p, q] = max over (i, j) of x[n, c, sh·p + i, sw·q + j]              (eq. P2)

    The gradient goes to the arg-max only (eq. P4), and exactly one entry of each
    window wins: on ties, the first in row-major order within the window (eq. P3), as
    PyTorch does. After a ReLU, windows of all zeros are common, so this matters.
    """

    def __init__(self, kernel_size, stride=None):
        super().__init__(kernel_size, stride)
        self._arg = None              # the winner of each window: k + 1, or 0 for none (eq. P9)

    def forward(self, x):                                   # x: (N, C, H, W)
        return self._max(x, after_relu=False)

    def forward_after_relu(self, x):                        # x: (N, C, H, W), before the ReLU
        """MaxPool2d(ReLU(x)) in one pass over x, as max(0, entries of the window) (eq. P9).

        `Sequential` calls it for a ReLU directly followed by a MaxPool2d and skips the
        ReLU: the pair costs one pass instead of three, and ``backward`` gives the gradient
        with respect to x, the ReLU's input, equal to the two layers' gradient (eq. P10).
        """
        return self._max(x, after_relu=True)

    def _max(self, x, after_relu: bool):
        x, (oh, ow) = self._start(x)
        xp = backend.xp
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        index_dtype = xp.uint8 if kh * kw < 256 else xp.int32
        # the winner's number is stored as k + 1 for entry k = i·kw + j, and 0 for "no winner" (eq. P9)
        first = _window(x, 0, 0, oh, ow, sh, sw)            # (N, C, OH, OW)  view
        beats = xp.empty_like(first, dtype=bool)            # (N, C, OH, OW)  in x's memory order
        if after_relu:                                      # the running max starts at 0: max(0, …)  eq. P9
            y = xp.maximum(first, 0)                        # (N, C, OH, OW), in x's memory order
            xp.greater(first, 0, out=beats)                 # entry 0 wins where it is > 0
            arg = beats.astype(index_dtype)                 # 1 there, 0 ("no winner") elsewhere
        else:
            y = first.copy(order="K")                       # running max, starts at entry 0
            arg = xp.ones_like(first, dtype=index_dtype)    # entry 0 (stored as 1) is the first candidate
        step = xp.empty_like(arg)                           # (N, C, OH, OW)
        for k in range(1, kh * kw):
            i, j = divmod(k, kw)
            entry = _window(x, i, j, oh, ow, sh, sw)        # (N, C, OH, OW)  view
            xp.greater(entry, y, out=beats)                 # strictly: on a tie the earlier entry stays  eq. P3
            xp.maximum(y, entry, out=y)                     # eq. P2
            # k grows along the loop, so max(arg, (k+1)·beats) sets arg = k + 1 where entry k beats the rest
            xp.multiply(beats.view(xp.uint8), k + 1, out=step, dtype=index_dtype)
            xp.maximum(arg, step, out=arg)                  # eq. P3
        self._arg = arg
        return y

    def backward(self, dy):                                 # dy: (N, C, OH, OW)
        self._check_backward(dy)
        xp = backend.xp
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        _, _, oh, ow = self._y_shape
        arg = self._arg                                     # (N, C, OH, OW)
        dx = self._new_input_grad(dy)                       # (N, C, H, W)
        overlapping = self._overlapping
        for i in range(kh):
            for j in range(kw):
                slot = _window(dx, i, j, oh, ow, sh, sw)    # (N, C, OH, OW)  view into dx
                routed = (arg == i * kw + j + 1).view(xp.uint8)  # (N, C, OH, OW)  1 where (i, j) won
                if overlapping:
                    slot += dy * routed                     # eq. P4 (windows share entries: contributions add)
                else:
                    xp.multiply(dy, routed, out=slot)       # eq. P4 (disjoint windows: a plain write)
        return dx


class AvgPool2d(_Pool2d):
    """Average pooling: each output is the mean of its kh×kw window (no padding).

    Parameters
    ----------
    kernel_size : int or (kh, kw)
    stride : int or (sh, sw), default ``kernel_size``

    x: (N, C, H, W) -> y: (N, C, OH, OW) (eq. P1).

    Notes
    -----
    y[n, c, p, q] = (1 / kh·kw) Σ_(i, j) x[n, c, sh·p + i, sw·q + j]          (eq. P5)
    dx[n, c, sh·p + i, sw·q + j] += dy[n, c, p, q] / (kh·kw)                  (eq. P6)
    """

    def forward(self, x):                                   # x: (N, C, H, W)
        x, (oh, ow) = self._start(x)
        y = _window_sum(x, self.kernel_size, self.stride, (oh, ow))  # (N, C, OH, OW)
        y *= 1.0 / (self.kernel_size[0] * self.kernel_size[1])       # eq. P5
        return y

    def backward(self, dy):                                 # dy: (N, C, OH, OW)
        self._check_backward(dy)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        _, _, oh, ow = self._y_shape
        share = dy * (1.0 / (kh * kw))                      # (N, C, OH, OW)  eq. P6
        dx = self._new_input_grad(dy)                       # (N, C, H, W)
        overlapping = self._overlapping
        for i in range(kh):
            for j in range(kw):
                slot = _window(dx, i, j, oh, ow, sh, sw)    # (N, C, OH, OW)  view into dx
                if overlapping:
                    slot += share                           # eq. P6
                else:
                    slot[...] = share                       # eq. P6
        return dx


class Upsample2d(Layer):
    """Nearest-neighbour upsampling by an integer factor: each pixel becomes an sh×sw block.

    Parameters
    ----------
    scale_factor : int or (sh, sw)

    x: (N, C, H, W) -> y: (N, C, sh·H, sw·W).

    Notes
    -----
    y[n, c, r, s] = x[n, c, r // sh, s // sw]                                  (eq. P7)
    (PyTorch's ``interpolate(mode="nearest")`` with an integer scale.) Its adjoint sums
    each block: dx[n, c, h, w] = Σ_(i, j) dy[n, c, sh·h + i, sw·w + j]            (eq. P8),
    a sum-pooling with kernel = stride = (sh, sw).
    """

    def __init__(self, scale_factor):
        super().__init__()
        self.scale_factor = _pair(scale_factor, "scale_factor", type(self).__name__)
        self._x_shape = None

    def forward(self, x):                                   # x: (N, C, H, W)
        x = self.check_input(x, _IMAGE)
        n, c, h, w = x.shape
        sh, sw = self.scale_factor
        self._x_shape = x.shape
        y = empty_image((n, c, h * sh, w * sw), x)          # (N, C, sh·H, sw·W), in x's memory order
        for i in range(sh):                                 # one strided copy per block entry: measured 3.5×
            for j in range(sw):                             # faster than reshaping a broadcast (N, C, H, sh, W, sw)
                y[:, :, i::sh, j::sw] = x                   # eq. P7
        return y

    def backward(self, dy):                                 # dy: (N, C, sh·H, sw·W)
        self.check_forward_called(self._x_shape)
        n, c, h, w = self._x_shape
        sh, sw = self.scale_factor
        self.check_grad(dy, (n, c, h * sh, w * sw))
        return _window_sum(dy, self.scale_factor, self.scale_factor, (h, w))   # (N, C, H, W)  eq. P8

    def output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ShapeError(f"{self.label}: expected input of shape {format_shape(_IMAGE)}, "
                             f"got {format_shape(input_shape)}" + self._shape_hint(_IMAGE, tuple(input_shape)))
        n, c, h, w = input_shape
        sh, sw = self.scale_factor
        return (n, c, None if h is None else h * sh, None if w is None else w * sw)

    def config(self):
        return {"scale_factor": _config_value(self.scale_factor)}
