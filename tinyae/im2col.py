"""im2col / col2im and the output-size arithmetic, shared by the convolutions and pooling.

Equations C1, C3, C8, C9 and T2–T3 are derived in docs/math/conv.md.
A short loop-based reference implementation is in tests/test_im2col.py.

The one place for output sizes
------------------------------
``conv_output_size`` (eq. C1) and ``conv_transpose_output_size`` (eq. T2) are the only
functions in tinyae that compute an output size. An impossible configuration raises
`ShapeError` with the arithmetic written out, e.g. ``(5 + 2·0 − 7) / 1 + 1 = −1 < 1``.

Columns
-------
``im2col`` copies every receptive field of a padded image batch into one column of a
matrix, so that a convolution becomes one matrix product (eq. C4)::

    x: (N, C, H, W)  ->  cols: (C·kh·kw, N·OH·OW)
    cols[(c, i, j), (n, oh, ow)] = x_padded[n, c, sh·oh + dh·i, sw·ow + dw·j]        (eq. C3)

Rows are ordered (c, i, j), the order of ``W.reshape(F, C·kh·kw)`` for a Conv2d weight
(F, C, kh, kw), so the weight matrix is a free reshape. ``col2im`` is the adjoint
(eq. C8): it adds every column entry back onto the pixel it was copied from, so
overlapping windows add up. It is not an inverse.

How the copy is done: the input is padded once, then a loop over the kh·kw kernel
offsets (i, j) only; each iteration is one strided-slice copy of all N·C·OH·OW values
that sit at offset (i, j) of their window (``col2im``: the same loop with ``+=``). No
Python loop touches the batch, the channels or the output pixels, and the code is the
same for NumPy and CuPy.

Where the batch axis lies in memory (``batch_last``)
-----------------------------------------------------
The columns are always *indexed* (c, i, j, n, oh, ow) as above; where the batch axis
lies in memory is a separate choice, made for speed:

* ``batch_last=False``, memory (C·kh·kw, N·OH·OW). The columns of one image form a
  (C·kh·kw, OH·OW) matrix (``per_image``), so the matrix products run image by image:
  one ``xp.matmul`` call on the stack of N matrices (N GEMMs, the weight matrix
  broadcast), taking and giving NCHW arrays as they are, with no transposes. But each
  slice copy moves rows of only OW numbers, and NumPy pays a fixed cost per row.
* ``batch_last=True``, memory (C·kh·kw, OH·OW·N). Each slice copy moves runs of OW·N
  numbers (N for strides > 1), several times faster for small images, and one GEMM
  covers the whole batch. Its product (F, OH·OW·N) is the layer's output with the
  batch axis last in memory: ``from_operand`` hands it on as an (N, F, OH, OW) *view*
  (no copy), and ``to_operand`` takes such an array back as the (C, H·W·N) operand
  for free. Only an input laid out NCHW is transposed once, on the way in.

Memory order travels with the arrays
------------------------------------
Every array in tinyae is *indexed* (N, C, H, W); its memory order is free. A batch-last
convolution gives an array whose memory is (C, H, W, N) (``is_batch_last``); the
layers after it keep that order (ufuncs allocate their outputs in the order of their
inputs, the pooling layers use ``empty_image``), so in the `conv` model every
activation and gradient between the first and the last layer stays batch-last and is
never transposed. The operations then run along the batch axis, N contiguous numbers at
a time, also in the max-pool's stride-2 windows. Measured on the target model (float32,
batch 64, 2 cores), against the same code with NCHW copies between the layers: the
per-layer sum of forward and backward (benchmarks/conv_layers.py) 37.5 → 27.6 ms, a
whole training step about 10 % less time (0.93 in one process taking turns, 0.85–0.91
in separate processes). Users see NCHW shapes and indices as before;
``np.ascontiguousarray`` gives the NCHW memory order where a caller needs it.

`prefer_batch_last` picks the order per call with a two-term cost model measured on the
target model (benchmarks/conv_layers.py). ``per_image``, ``to_operand``,
``from_operand`` and ``sum_over_images`` let a layer write each product once for both
orders.

Buffers
-------
``im2col`` accepts a ``workspace`` dict that the caller keeps between calls: the padded
image and the column buffer are then allocated once and reused while the shapes stay
the same (the padding border is zeroed once and never written again). The columns
returned are then a view of that buffer, overwritten by the next call with the same
workspace; a layer keeps them only from its forward to its backward.
"""
from __future__ import annotations

import numbers

from . import backend
from .errors import ShapeError

# --- arguments --------------------------------------------------------------------------


def pair(value, name: str = "value", minimum: int = 1) -> tuple[int, int]:
    """An int, or an (h, w) pair of ints, as a tuple (h, w) of ints ≥ ``minimum``.

    pair(3) -> (3, 3); pair((3, 5)) -> (3, 5). Raises ValueError naming ``name`` otherwise.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        values = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        values = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{name} must be an int or a pair (h, w) of ints, got {value!r}")
    if min(values) < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}, got {value!r}")
    return values


def compact(values: tuple[int, int]):
    """(3, 3) -> 3, (3, 5) -> [3, 5]: the short JSON-able form used by ``config()``."""
    return values[0] if values[0] == values[1] else list(values)


# --- output sizes (the one place) ----------------------------------------------------------


def _num(v: int) -> str:
    """An int with a true minus sign, as the arithmetic in the messages is written."""
    return f"−{-v}" if v < 0 else str(v)


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution (or pooling) window sliding along one axis (eq. C1).

        out = ⌊(size + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1

    which is ⌊(size + 2·padding − kernel) / stride⌋ + 1 without dilation. PyTorch's
    formula (floor, i.e. a last partial window is dropped). Raises `ShapeError` with the
    arithmetic when the window does not fit once (out < 1), ValueError for a kernel,
    stride or dilation < 1 or a negative padding.
    """
    _check_hyper(kernel=kernel, stride=stride, dilation=dilation, padding=padding)
    span = dilation * (kernel - 1) + 1                      # the extent of one dilated window
    out = (size + 2 * padding - span) // stride + 1         # eq. C1 (floor division, as in PyTorch)
    if out < 1:
        if dilation == 1:
            expr = f"({size} + 2·{padding} − {kernel})"
        else:
            expr = f"({size} + 2·{padding} − {dilation}·({kernel} − 1) − 1)"
        expr = f"⌊{expr} / {stride}⌋" if stride > 1 else f"{expr} / {stride}"
        raise ShapeError(
            f"input size {size} too small for kernel {kernel}, stride {stride}, padding {padding}"
            + (f", dilation {dilation}" if dilation != 1 else "")
            + f": {expr} + 1 = {_num(out)} < 1")
    return out


def conv_transpose_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, dilation: int = 1) -> int:
    """Output length of a transposed convolution along one axis (eq. T2).

        out = (size − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1

    an input length that a convolution with the same kernel, stride, padding and dilation
    maps back to ``size``: the smallest such length plus ``output_padding``, which picks
    among the ``stride`` lengths that all give ``size`` (eq. T3). As in PyTorch it must be
    smaller than the stride or the dilation; otherwise, or when out < 1, `ShapeError`
    shows the arithmetic.
    """
    _check_hyper(kernel=kernel, stride=stride, dilation=dilation, padding=padding)
    check_output_padding(output_padding, stride, dilation)
    out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1    # eq. T2
    if out < 1:
        dk = f"({kernel} − 1)" if dilation == 1 else f"{dilation}·({kernel} − 1)"
        raise ShapeError(
            f"input size {size} too small for kernel {kernel}, stride {stride}, padding {padding}, "
            f"output_padding {output_padding}: ({size} − 1)·{stride} − 2·{padding} + {dk} + {output_padding} + 1 "
            f"= {_num(out)} < 1")
    return out


def check_output_padding(output_padding: int, stride: int, dilation: int = 1) -> None:
    """PyTorch's rule (eq. T3): 0 ≤ output_padding < max(stride, dilation); `ShapeError` otherwise."""
    if output_padding < 0:
        raise ValueError(f"output_padding must be ≥ 0, got {output_padding}")
    if output_padding >= max(stride, dilation):
        raise ShapeError(
            f"output_padding {output_padding} must be smaller than stride {stride} or dilation {dilation} "
            f"(as in PyTorch): output_padding < max({stride}, {dilation}) = {max(stride, dilation)} fails "
            f"(it picks one of the {stride} input sizes that a stride-{stride} convolution maps to the same output)")


def _check_hyper(kernel: int, stride: int, dilation: int, padding: int) -> None:
    for name, value, least in (("kernel", kernel, 1), ("stride", stride, 1), ("dilation", dilation, 1),
                               ("padding", padding, 0)):
        if value < least:
            raise ValueError(f"{name} must be ≥ {least}, got {value}")


# --- memory order ------------------------------------------------------------------------------


def prefer_batch_last(column_rows: int, grid_width: int, channels_moved: int) -> bool:
    """True when columns with the batch axis last should be faster (a cost model with measured constants).

    column_rows: rows of the column matrix (C·kh·kw); grid_width: OW, the width of the
    window grid; channels_moved: the channels of the layer's input when that input
    must be transposed into batch-last order (0 when it already is, see `is_batch_last`).

    Batch first, each strided copy moves rows of only OW values, and NumPy pays a fixed
    cost of about 10 ns per row: C·kh·kw·N·OH rows. Batch last, rows are N times longer,
    but an NCHW input, about channels_moved·N·OH·OW values, is transposed at about 1 ns
    per value (the output is a view). Batch last wins when 10·C·kh·kw > channels_moved·OW:
    always when the input is batch-last already, and for an NCHW input unless the image
    is wide and the kernel small (e.g. a 1×1 kernel on images wider than 10 pixels).
    On the target model (float32, batch 64, 2 cores; benchmarks/conv_layers.py) it picks
    batch last for all four layers, as measured best.
    """
    return 10 * column_rows > channels_moved * grid_width


def buffer(xp, workspace, name: str, shape: tuple, dtype, zero: bool = False):
    """An array of ``shape`` and ``dtype`` from ``workspace[name]`` if it fits, else a new one kept there.

    ``zero``: a new array starts at 0 (a reused one keeps its content).
    """
    if workspace is not None:
        buf = workspace.get(name)
        if buf is not None and buf.shape == shape and buf.dtype == dtype and backend.get_array_module(buf) is xp:
            return buf
    buf = xp.zeros(shape, dtype=dtype) if zero else xp.empty(shape, dtype=dtype)
    if workspace is not None:
        workspace[name] = buf
    return buf


def _batch_axis_view(buf, batch_last: bool):
    """The (C, N, A, B)-indexed view of a buffer stored (C, N, A, B) or, batch last, (C, A, B, N)."""
    return buf.transpose(0, 3, 1, 2) if batch_last else buf


def _cols_shape(c, kh, kw, n, oh, ow, batch_last):
    return (c, kh, kw, oh, ow, n) if batch_last else (c, kh, kw, n, oh, ow)


def _cols_view(cols2d, c, kh, kw, n, oh, ow, batch_last):
    """The 2-D columns (C·kh·kw, N·OH·OW or OH·OW·N) indexed [c, i, j, n, oh, ow] (a view)."""
    cols = cols2d.reshape(_cols_shape(c, kh, kw, n, oh, ow, batch_last))
    return cols.transpose(0, 1, 2, 5, 3, 4) if batch_last else cols


def _taps(i, j, dilation, stride, out_hw):
    """The rows and columns of the padded image at kernel offset (i, j) of every window (eq. C3)."""
    (dh, dw), (sh, sw), (oh, ow) = dilation, stride, out_hw
    rows = slice(dh * i, dh * i + sh * (oh - 1) + 1, sh)
    cols = slice(dw * j, dw * j + sw * (ow - 1) + 1, sw)
    return rows, cols


# --- im2col / col2im -----------------------------------------------------------------------------


def im2col(x, kernel_size, stride=1, padding=0, dilation=1, *, batch_last: bool = False, workspace=None,
           ones_row: bool = False):
    """The receptive fields of ``x`` as columns (eq. C3).

    Parameters
    ----------
    x : (N, C, H, W) array (NumPy or CuPy).
    kernel_size, stride, padding, dilation : int or (h, w).
    batch_last : memory order of the columns (see the module doc).
    workspace : optional dict kept by the caller; buffers are reused from it (see the module doc).
    ones_row : append one row of ones, the constant input that the bias multiplies (eq. C4b), so that
        one matrix product gives the output with its bias and the weight gradient with the bias's.

    Returns
    -------
    cols : (C·kh·kw, N·OH·OW) array, rows ordered (c, i, j) and columns (n, oh, ow);
        with ``batch_last`` the columns are ordered (oh, ow, n). OH, OW from eq. C1.
        With ``ones_row``, (C·kh·kw + 1, N·OH·OW), the last row all ones.

    Notes
    -----
    cols[(c, i, j), (n, oh, ow)] = x_padded[n, c, sh·oh + dh·i, sw·ow + dw·j], zero padding.
    """
    xp = backend.get_array_module(x)
    (kh, kw), (sh, sw) = pair(kernel_size, "kernel_size"), pair(stride, "stride")
    (ph, pw), (dh, dw) = pair(padding, "padding", 0), pair(dilation, "dilation")
    n, c, h, w = x.shape
    oh, ow = conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw)   # eq. C1
    hp, wp = h + 2 * ph, w + 2 * pw

    if ph == pw == 0 and not batch_last:
        padded = x.transpose(1, 0, 2, 3)                    # (C, N, H, W) view: nothing to copy
    else:                                                   # pad once (the border stays zero when reused)
        shape = (c, hp, wp, n) if batch_last else (c, n, hp, wp)
        padded = _batch_axis_view(buffer(xp, workspace, "padded", shape, x.dtype, zero=True), batch_last)
        padded[:, :, ph:ph + h, pw:pw + w] = x.transpose(1, 0, 2, 3)       # (C, N, Hp, Wp)
    rows_total = c * kh * kw + int(ones_row)
    cols2d = buffer(xp, workspace, "cols", (rows_total, n * oh * ow), x.dtype)
    cols = _cols_view(cols2d[:c * kh * kw], c, kh, kw, n, oh, ow, batch_last)   # [c, i, j, n, oh, ow]
    for i in range(kh):                                     # the only loop: kernel offsets
        for j in range(kw):
            rows, columns = _taps(i, j, (dh, dw), (sh, sw), (oh, ow))
            cols[:, i, j] = padded[:, :, rows, columns]     # (C, N, OH, OW)   eq. C3
    if ones_row:
        cols2d[-1] = 1                                      # the bias's input   eq. C4b
    return cols2d


def col2im(cols2d, image_shape, kernel_size, stride=1, padding=0, dilation=1, *, batch_last: bool = False,
           workspace=None, start=None):
    """The adjoint of ``im2col`` (eq. C9): every column entry added back onto its pixel (eq. C8).

    Parameters
    ----------
    cols2d : (C·kh·kw, N·OH·OW) array in the order ``im2col`` makes for ``batch_last``.
    image_shape : (N, C, H, W), the shape of the image the columns belong to.
    start : optional (C,) values every pixel of channel c starts from instead of 0: a transposed
        convolution's bias, added by the same pass that zeroes the sum (eq. T4).

    Returns
    -------
    (N, C, H, W) array, new (never a view of a workspace buffer); with ``batch_last`` its
    memory is batch-last (a cropped view of a new padded buffer). Where windows overlap
    the entries add up; padding entries are dropped; pixels no window reaches are 0.
    """
    xp = backend.get_array_module(cols2d)
    (kh, kw), (sh, sw) = pair(kernel_size, "kernel_size"), pair(stride, "stride")
    (ph, pw), (dh, dw) = pair(padding, "padding", 0), pair(dilation, "dilation")
    n, c, h, w = (int(s) for s in image_shape)
    oh, ow = conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw)   # eq. C1
    if cols2d.shape != (c * kh * kw, n * oh * ow):
        raise ShapeError(f"col2im: columns of shape {tuple(cols2d.shape)} do not fit image shape "
                         f"{tuple(image_shape)}: expected {(c * kh * kw, n * oh * ow)}")
    hp, wp = h + 2 * ph, w + 2 * pw
    if batch_last:                                          # a new buffer: the image returned is a view of it
        padded = _batch_axis_view(xp.empty((c, hp, wp, n), dtype=cols2d.dtype), True)
    else:
        padded = buffer(xp, workspace, "padded_sum", (c, n, hp, wp), cols2d.dtype)
    padded[...] = 0 if start is None else start.reshape(c, 1, 1, 1)        # (C, N, Hp, Wp)
    cols = _cols_view(cols2d, c, kh, kw, n, oh, ow, batch_last)             # [c, i, j, n, oh, ow]
    for i in range(kh):
        for j in range(kw):
            rows, columns = _taps(i, j, (dh, dw), (sh, sw), (oh, ow))
            padded[:, :, rows, columns] += cols[:, i, j]    # overlapping windows add   eq. C8
    if batch_last:                                          # crop the padding: an NCHW-indexed view, batch last
        return padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)
    image = xp.empty((n, c, h, w), dtype=cols2d.dtype)
    image[...] = padded[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)  # crop the padding, to NCHW
    return image


# --- the operands of the matrix products ---------------------------------------------------------


def per_image(cols2d, n: int, batch_last: bool = False):
    """The columns as the operand of the convolution's matrix products (a view, no copy).

    Batch first: (N, C·kh·kw, OH·OW), one matrix per image; ``xp.matmul`` multiplies all N
    at once (a stack of GEMMs, the weight matrix broadcast) and its result is already
    NCHW. Batch last: the (C·kh·kw, OH·OW·N) matrix itself, one GEMM for the whole batch.
    """
    if batch_last:
        return cols2d
    rows = cols2d.shape[0]
    return cols2d.reshape(rows, n, -1).transpose(1, 0, 2)


def to_operand(x, batch_last: bool = False, workspace=None, name: str = "operand"):
    """An (N, C, H, W) batch in the column order of ``per_image``.

    Batch first: (N, C, H·W), a view of an NCHW-contiguous ``x`` (a copy otherwise).
    Batch last: (C, H·W·N), a view when ``x`` is batch-last in memory already
    (`is_batch_last`), else a transposed copy (into ``workspace[name]`` when given).
    """
    n, c, h, w = x.shape
    if not batch_last:
        return x.reshape(n, c, h * w)
    if is_batch_last(x):                                    # (C, H, W, N) in memory already: a view
        return x.transpose(1, 2, 3, 0).reshape(c, -1)
    xp = backend.get_array_module(x)
    out = buffer(xp, workspace, name, (c, h, w, n), x.dtype)
    _batch_axis_view(out, True)[...] = x.transpose(1, 0, 2, 3)
    return out.reshape(c, -1)


def from_operand(m, image_shape, batch_last: bool = False):
    """The inverse of ``to_operand``: (N, C, H·W) or (C, H·W·N) -> (N, C, H, W).

    Batch first: a reshape (no copy when ``m`` is contiguous). Batch last: a view of ``m``,
    indexed NCHW and batch-last in memory.
    """
    n, c, h, w = (int(s) for s in image_shape)
    if not batch_last:
        return m.reshape(n, c, h, w)
    return m.reshape(c, h, w, n).transpose(3, 0, 1, 2)


def is_batch_last(x) -> bool:
    """True when the (N, C, H, W) array ``x`` is laid out (C, H, W, N) in memory, without gaps."""
    return x.transpose(1, 2, 3, 0).flags.c_contiguous


def empty_image(shape, like, dtype=None):
    """A new uninitialised (N, C, H, W) array of ``shape``, laid out in memory as ``like`` is.

    Batch last, (C, H, W, N) in memory, when ``like``'s batch axis has the smallest
    stride (so a gradient keeps the memory order of the activations); NCHW otherwise.
    ``dtype`` defaults to ``like.dtype``.
    """
    xp = backend.get_array_module(like)
    n, c, h, w = shape
    dtype = like.dtype if dtype is None else dtype
    if like.ndim == 4 and like.shape[0] > 1 and abs(like.strides[0]) == like.itemsize:
        return xp.empty((c, h, w, n), dtype=dtype).transpose(3, 0, 1, 2)
    return xp.empty(shape, dtype=dtype)


def sum_over_images(m):
    """A product of per-image operands, (N, A, B), summed over the images -> (A, B); a 2-D ``m`` as it is."""
    return m.sum(axis=0) if m.ndim == 3 else m
