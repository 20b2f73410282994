"""Convolutions on NCHW images: Conv2d and its adjoint ConvTranspose2d, built on im2col.

Equations C1–C9 and T1–T7 are derived in docs/math/conv.md; read ``forward`` and
``backward`` beside it. Both layers are cross-correlations with PyTorch's weight layouts
and semantics, so weights can be compared with PyTorch directly:

* ``Conv2d``: ``W`` (out_channels, in_channels, kh, kw), ``b`` (out_channels,).
* ``ConvTranspose2d``: ``W`` (in_channels, out_channels, kh, kw), ``b`` (out_channels,).

Each is one matrix product (GEMM) plus an im2col or col2im (tinyae/im2col.py):

=================  ==============================  ==============================
                   Conv2d                          ConvTranspose2d
=================  ==============================  ==============================
forward            im2col, then GEMM (C3, C4b)     GEMM, then col2im (T4)
backward: dW, db   GEMM with the cached columns    im2col(dy), then GEMM (T5);
                   (C5, C6b)                       db as a sum of dy (T7)
backward: dx       GEMM, then col2im (C7, C8)      GEMM with those columns (T6)
=================  ==============================  ==============================

The bias costs no pass of its own: Conv2d's columns carry a row of ones, so the bias is
the last column of the weight matrix and its gradient the last column of the weight
gradient (eqs. C4b, C6b); ConvTranspose2d's col2im starts its sum from the bias instead
of from zeros (eq. T4). The weight gradients are computed as (columns · dyᵀ)ᵀ, the
operand with the long rows first: the same numbers as dy · columnsᵀ, measured faster
with OpenBLAS on the target shapes (conv2 of the `conv` model: 2.9 ms instead of 3.8).
The plain version of both layers, written as docs/math/conv.md first derives them (the
bias added after the GEMM, dW = dy · columnsᵀ, db = Σ dy), is the reference they are
tested against: ``plain_conv2d`` and ``plain_conv_transpose2d`` in tests/test_conv.py.

ConvTranspose2d's forward is Conv2d's input gradient and its backward is Conv2d's
forward: the two are adjoint linear maps (eq. T1, tested by the dot-product test).

Speed and memory (float32, batch 64, 2 cores; benchmarks/conv_layers.py prints the
table). The weight matrix is a free reshape of ``W`` (with a bias, W and b copied into one
reused (F, C·kh·kw + 1) buffer). Where the batch axis lies in the
columns' memory is chosen per call by ``im2col.prefer_batch_last`` (``layer.batch_last =
True`` or ``False`` forces one, for tests and benchmarks): batch first, the
products run image by image (one ``matmul`` call on a stack) straight from and into
NCHW; batch last, one GEMM covers the batch, its product is the output as a batch-last
view, and an input that is batch-last in memory (the output of an earlier batch-last
layer) is used as it is (see "Memory order travels with the arrays" in
tinyae/im2col.py). Either way the code below is the same, through ``per_image``,
``to_operand`` and ``from_operand``. The one column buffer is reused from one forward to the next while
the input shape stays the same, and Conv2d's backward writes the columns' gradient
(eq. C7) into it once the weight gradient (eq. C5) has used the columns: so a
backward that computes dx needs a new forward before the next backward.
"""
from __future__ import annotations

from .. import backend, init
from ..errors import ShapeError
from ..im2col import (buffer, check_output_padding, col2im, compact, conv_output_size, conv_transpose_output_size,
                      from_operand, im2col, is_batch_last, pair, per_image, prefer_batch_last, sum_over_images,
                      to_operand)
from .base import Layer, format_shape


class _ConvBase(Layer):
    """Shared by Conv2d and ConvTranspose2d: hyperparameters, shape checks, config."""

    batch_last: bool | None = None    # memory order of the columns: None = chosen per call; True/False forces it

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, bias, init_name):
        super().__init__()
        name = type(self).__name__
        for what, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: {what} must be a positive int, got {value!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, f"{name}: kernel_size")
        self.stride = pair(stride, f"{name}: stride")
        self.padding = pair(padding, f"{name}: padding", minimum=0)
        self.bias, self.init_name = bool(bias), init_name
        self._workspace = {}          # buffers reused between calls (see tinyae/im2col.py)
        self._x_shape = None          # forward's input shape, for backward
        self._y_shape = None
        self._batch_last = False      # memory order of the columns, chosen by forward

    def _spatial_out(self, h, w) -> tuple:
        """(OH, OW) for an (H, W) input, None where unknown; ShapeError naming this layer if it does not fit."""
        try:
            return tuple(None if size is None else self._size_out(size, axis) for axis, size in enumerate((h, w)))
        except ShapeError as exc:
            raise ShapeError(f"{self.label}: input of spatial size {h}×{w} does not fit: {exc}") from None

    def _size_out(self, size, axis) -> int:
        raise NotImplementedError

    def _order(self, x, column_rows: int, grid_width: int) -> bool:
        """True for batch-last columns: ``self.batch_last`` if set, else the cost model's choice for ``x``."""
        if self.batch_last is not None:
            return bool(self.batch_last)
        channels_moved = 0 if is_batch_last(x) else self.in_channels      # an NCHW input is transposed once
        return prefer_batch_last(column_rows, grid_width, channels_moved)

    def output_shape(self, input_shape):
        expected = (None, self.in_channels, None, None)
        if len(input_shape) != 4 or input_shape[1] not in (None, self.in_channels):
            raise ShapeError(f"{self.label}: expected input of shape {format_shape(expected)}, "
                             f"got {format_shape(input_shape)}" + self._shape_hint(expected, tuple(input_shape)))
        return (input_shape[0], self.out_channels, *self._spatial_out(input_shape[2], input_shape[3]))

    def _begin_forward(self, x):
        """Boundary checks (rank, channels, spatial size, dtype); returns x and the output shape."""
        x = self.check_input(x, (None, self.in_channels, None, None))
        n, _, h, w = x.shape
        oh, ow = self._spatial_out(h, w)                                  # eq. C1 / T2
        for p in self.params.values():
            p.start_pass()
        self._x_shape, self._y_shape = tuple(x.shape), (n, self.out_channels, oh, ow)
        return x, self._y_shape

    def config(self):
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": compact(self.kernel_size), "stride": compact(self.stride),
                "padding": compact(self.padding), "bias": self.bias, "init_name": self.init_name}


# Shapes in the comments of forward and backward are those of batch-first operands; with the
# batch last, an operand shown as (N, A, B) is the matrix (A, B·N) (see im2col.per_image).


class Conv2d(_ConvBase):
    """2-D convolution (cross-correlation, as in PyTorch) of NCHW images.

    Parameters: ``W`` (out_channels, in_channels, kh, kw), ``b`` (out_channels,).
    x: (N, in_channels, H, W) -> y: (N, out_channels, OH, OW) with
    OH = ⌊(H + 2·ph − kh) / sh⌋ + 1 and likewise OW (eq. C1).
    ``kernel_size``, ``stride``, ``padding``: int or (h, w). Zero padding. Default init:
    He uniform with fan_in = in_channels·kh·kw.

    Notes
    -----
    y[n, f, oh, ow] = b[f] + Σ_{c,i,j} W[f, c, i, j] · x_padded[n, c, sh·oh + i, sw·ow + j]   (eq. C2)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, bias: bool = True,
                 init_name: str = "he_uniform", rng=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias, init_name)
        kh, kw = self.kernel_size
        self.add_param("W", init.initialize(init_name, (out_channels, in_channels, kh, kw),
                                            fan_in=in_channels * kh * kw, fan_out=out_channels * kh * kw, rng=rng))
        if self.bias:
            self.add_param("b", init.zeros((out_channels,)))
        self._cols = None
        self._dx_workspace = {}       # the padded dy and its columns, for _dx_as_correlation

    def _size_out(self, size, axis):
        return conv_output_size(size, self.kernel_size[axis], self.stride[axis], self.padding[axis])   # eq. C1

    def forward(self, x):                                   # x: (N, C, H, W)
        x, y_shape = self._begin_forward(x)                 # y_shape: (N, F, OH, OW)
        n, f, oh, ow = y_shape
        kh, kw = self.kernel_size
        self._batch_last = last = self._order(x, self.in_channels * kh * kw, ow)
        cols = im2col(x, self.kernel_size, self.stride, self.padding,            # (C·kh·kw + 1, N·OH·OW)
                      batch_last=last, workspace=self._workspace, ones_row=self.bias)   # eqs. C3, C4b
        self._cols = cols                                   # kept for backward (eq. C5)
        y_mat = self._weight_matrix() @ per_image(cols, n, last)                # (N, F, OH·OW)  eqs. C4, C4b
        return from_operand(y_mat, y_shape, last)           # (N, F, OH, OW)

    def _weight_matrix(self):
        """(F, C·kh·kw + 1): W as a matrix and, with a bias, b as its last column (eq. C4b)."""
        f = self.out_channels
        w_mat = self.W.data.reshape(f, -1)                  # (F, C·kh·kw), a view
        if not self.bias:
            return w_mat
        xp = backend.get_array_module(w_mat)
        w_aug = buffer(xp, self._workspace, "w_aug", (f, w_mat.shape[1] + 1), w_mat.dtype)
        w_aug[:, :-1] = w_mat
        w_aug[:, -1] = self.b.data
        return w_aug

    def backward(self, dy, input_grad: bool = True):        # dy: (N, F, OH, OW)
        if self._cols is None:
            raise RuntimeError(f"{self.label}: backward needs a forward first (and a new forward after a "
                               f"backward that computed the input gradient: that one reused the columns' memory)")
        self.check_grad(dy, self._y_shape)
        n, f = dy.shape[0], self.out_channels
        last = self._batch_last
        rows = self.W.data[0].size                          # C·kh·kw (the ones row, if any, is row C·kh·kw)
        cols = per_image(self._cols, n, last)               # (N, C·kh·kw + 1, OH·OW)
        dy_mat = to_operand(dy, last)                       # (N, F, OH·OW)
        # the columns first: (C·kh·kw + 1, F), the faster order of the product (see the module doc)
        dw_t = sum_over_images(cols @ dy_mat.swapaxes(-1, -2))              # (C·kh·kw + 1, F)  eqs. C5, C6b
        self.W.accumulate(dw_t[:rows].T.reshape(self.W.data.shape))         # (F, C, kh, kw)    eq. C5
        if self.bias:
            self.b.accumulate(dw_t[rows])                   # (F,)  the ones row's gradient: Σ dy   eqs. C6, C6b
        if not input_grad:
            return None
        if self._dx_by_correlation():
            return self._dx_as_correlation(dy, last)        # (N, C, H, W)         eq. C10
        w_mat = self.W.data.reshape(f, -1)                  # (F, C·kh·kw)
        xp = backend.get_array_module(dy_mat)
        dcols = self._cols[:rows]                           # the columns' memory, without the ones row
        xp.matmul(w_mat.T, dy_mat, out=per_image(dcols, n, last))               # (N, C·kh·kw, OH·OW)  eq. C7
        self._cols = None                                   # the columns are used up
        return col2im(dcols, self._x_shape, self.kernel_size, self.stride, self.padding,   # (N, C, H, W)  eq. C8
                      batch_last=last, workspace=self._workspace)

    def _dx_by_correlation(self) -> bool:
        """Stride 1 and fewer output than input channels: the input gradient is cheaper as a correlation of dy."""
        return self.stride == (1, 1) and self.out_channels < self.in_channels and all(
            p <= k - 1 for p, k in zip(self.padding, self.kernel_size))

    def _dx_as_correlation(self, dy, last: bool):
        """dx as a stride-1 correlation of dy (padded by k − 1 − p) with the flipped, transposed kernel (eq. C10).

        Equal to col2im(Wᵀ dy) (eqs. C7, C8), but its columns have F·kh·kw rows instead of
        C·kh·kw: for the `denoise` model's last conv (32 → 1 channels) 9 rows instead of 288,
        a 3.6 MB buffer instead of 115 MB at batch 128, and no col2im.
        """
        n, c = dy.shape[0], self.in_channels
        kh, kw = self.kernel_size
        (ph, pw) = self.padding
        dy_cols = im2col(dy, self.kernel_size, 1, (kh - 1 - ph, kw - 1 - pw),    # (F·kh·kw, N·H·W)
                         batch_last=last, workspace=self._dx_workspace)
        w_flipped = self.W.data[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(c, -1)   # (C, F·kh·kw), a copy
        dx_mat = w_flipped @ per_image(dy_cols, n, last)    # (N, C, H·W)          eq. C10
        return from_operand(dx_mat, self._x_shape, last)    # (N, C, H, W)


class ConvTranspose2d(_ConvBase):
    """2-D transposed convolution: the adjoint of Conv2d (PyTorch's ConvTranspose2d).

    Parameters: ``W`` (in_channels, out_channels, kh, kw), ``b`` (out_channels,).
    x: (N, in_channels, H, W) -> y: (N, out_channels, OH, OW) with
    OH = (H − 1)·sh − 2·ph + kh + output_padding_h (eq. T2), likewise OW.
    ``output_padding`` (int or (h, w), each smaller than the stride) adds rows/columns at
    the bottom/right, to pick among the ``stride`` sizes that a Conv2d with the same
    settings maps to H (eq. T3). Those rows hold what the padding would otherwise have
    cut off (with k = 3, s = 2, p = 1, 7 → 14: the last row is reached by the last input
    row), or the bias alone where they lie beyond every window.
    Default init: He uniform with fan_in = in_channels·kh·kw / (sh·sw), the average
    number of products summed into one output.

    Notes
    -----
    Its forward is the input gradient of Conv2d(out_channels, in_channels, kernel_size,
    stride, padding) with the same ``W`` (eq. T1):
    y[n, o, sh·h + i − ph, sw·w + j − pw] += Σ_c x[n, c, h, w] · W[c, o, i, j]   (eq. T4)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 bias: bool = True, init_name: str = "he_uniform", rng=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias, init_name)
        self.output_padding = pair(output_padding, f"{type(self).__name__}: output_padding", minimum=0)
        for axis in range(2):                               # eq. T3: output_padding < stride, as in PyTorch
            try:
                check_output_padding(self.output_padding[axis], self.stride[axis])
            except ShapeError as exc:
                raise ShapeError(f"{type(self).__name__}: {exc}") from None
        kh, kw = self.kernel_size
        sh, sw = self.stride
        self.add_param("W", init.initialize(init_name, (in_channels, out_channels, kh, kw),
                                            fan_in=in_channels * kh * kw / (sh * sw),
                                            fan_out=out_channels * kh * kw, rng=rng))
        if self.bias:
            self.add_param("b", init.zeros((out_channels,)))
        self._x_mat = None

    def _size_out(self, size, axis):
        return conv_transpose_output_size(size, self.kernel_size[axis], self.stride[axis],        # eq. T2
                                          self.padding[axis], self.output_padding[axis])

    def forward(self, x):                                   # x: (N, C, H, W), C = in_channels
        x, y_shape = self._begin_forward(x)                 # y_shape: (N, O, OH, OW)
        n, c, h, w = x.shape
        o = self.out_channels
        kh, kw = self.kernel_size                           # the window grid is the input's H × W:
        self._batch_last = last = self._order(x, o * kh * kw, w)
        x_mat = to_operand(x, last, self._workspace, "x")   # (N, C, H·W)
        self._x_mat = x_mat                                 # kept for backward (eq. T5)
        w_mat = self.W.data.reshape(c, -1)                  # (C, O·kh·kw), a view
        xp = backend.get_array_module(x)
        cols = buffer(xp, self._workspace, "gemm", (o * kh * kw, n * h * w), x.dtype)  # (O·kh·kw, N·H·W)
        xp.matmul(w_mat.T, x_mat, out=per_image(cols, n, last))                 # (N, O·kh·kw, H·W)  eq. T4
        return col2im(cols, y_shape, self.kernel_size, self.stride, self.padding,  # (N, O, OH, OW)  eq. T4
                      batch_last=last, workspace=self._workspace,
                      start=self.b.data if self.bias else None)           # the sum starts at b   eq. T4

    def backward(self, dy, input_grad: bool = True):        # dy: (N, O, OH, OW)
        self.check_forward_called(self._x_mat)
        self.check_grad(dy, self._y_shape)
        n, c = dy.shape[0], self.in_channels
        last = self._batch_last
        dcols = im2col(dy, self.kernel_size, self.stride, self.padding,          # (O·kh·kw, N·H·W)  eq. T5
                       batch_last=last, workspace=self._workspace)
        dcols = per_image(dcols, n, last)                   # (N, O·kh·kw, H·W)
        dw_t = sum_over_images(dcols @ self._x_mat.swapaxes(-1, -2))        # (O·kh·kw, C)      eq. T5
        self.W.accumulate(dw_t.T.reshape(self.W.data.shape))                # (C, O, kh, kw)    eq. T5
        if self.bias:
            self.b.accumulate(dy.sum(axis=(0, 2, 3)))       # (O,)                  eq. T7
        if not input_grad:
            return None
        dx_mat = self.W.data.reshape(c, -1) @ dcols         # (N, C, H·W)           eq. T6
        return from_operand(dx_mat, self._x_shape, last)    # (N, C, H, W)          eq. T6

    def config(self):
        return {**super().config(), "output_padding": compact(self.output_padding)}

