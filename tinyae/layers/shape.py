"""Layers that only change the shape: Flatten and Reshape (views, no copy), Crop2d."""
from __future__ import annotations

import math

from ..im2col import empty_image
from ..errors import ShapeError
from .base import Layer, format_shape


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1·d2·...)."""

    def __init__(self):
        super().__init__()
        self._x_shape = None

    def forward(self, x):
        if getattr(x, "ndim", 0) < 2:
            raise ShapeError(f"{self.label}: expected input with a batch axis, (N, ...), got {getattr(x, 'shape', None)}")
        self._x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        self.check_forward_called(self._x_shape)
        self.check_grad(dy, (self._x_shape[0], math.prod(self._x_shape[1:])))
        return dy.reshape(self._x_shape)

    def output_shape(self, input_shape):
        if len(input_shape) < 2:
            raise ShapeError(f"{self.label}: expected input with a batch axis, (N, ...), got {format_shape(input_shape)}")
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))


class Reshape(Layer):
    """(N, ...) -> (N, *shape), e.g. Reshape((1, 28, 28)) after a Dense(…, 784)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        self._x_shape = None

    def forward(self, x):
        if getattr(x, "ndim", 0) < 2 or math.prod(x.shape[1:]) != math.prod(self.shape):
            raise ShapeError(f"{self.label}: cannot reshape input of shape {getattr(x, 'shape', None)} to "
                             f"{format_shape((None, *self.shape))}: {math.prod(self.shape)} values per sample needed")
        self._x_shape = x.shape
        return x.reshape((x.shape[0],) + self.shape)

    def backward(self, dy):
        self.check_forward_called(self._x_shape)
        self.check_grad(dy, (self._x_shape[0],) + self.shape)
        return dy.reshape(self._x_shape)

    def output_shape(self, input_shape):
        rest = input_shape[1:]
        if len(input_shape) < 2:
            raise ShapeError(f"{self.label}: expected input with a batch axis, (N, ...), got {format_shape(input_shape)}")
        if None not in rest and math.prod(rest) != math.prod(self.shape):
            raise ShapeError(f"{self.label}: cannot reshape {format_shape(input_shape)} to "
                             f"{format_shape((None, *self.shape))}")
        return (input_shape[0],) + self.shape

    def config(self):
        return {"shape": list(self.shape)}


class Crop2d(Layer):
    """Drop rows and columns at the edges of NCHW images (Keras's Cropping2D).

    ``cropping``: an int (the same on all four sides), (rows, cols) (symmetric), or
    ((top, bottom), (left, right)). (N, C, H, W) -> (N, C, H − top − bottom, W − left − right).
    The gradient puts dy back where the kept pixels were and zeros on the cropped edges.

    Keras's ``Conv2DTranspose(..., strides=2, padding="same")`` with a 3×3 kernel is a
    transposed convolution with no padding (H → 2H + 1) followed by Crop2d(((0, 1), (0, 1))):
    TensorFlow puts the odd padding of 'same' at the bottom and right. PyTorch's
    ``padding=1, output_padding=1`` gives the same size, 2H, but crops one row at the top
    instead: the same numbers one pixel apart.
    """

    def __init__(self, cropping=((0, 0), (0, 0))):
        super().__init__()
        self.cropping = _cropping(cropping)
        self._x_shape = None

    def _kept(self, h, w) -> tuple[int, int]:
        (top, bottom), (left, right) = self.cropping
        return h - top - bottom, w - left - right

    def forward(self, x):                                   # x: (N, C, H, W)
        if getattr(x, "ndim", 0) != 4:
            raise ShapeError(f"{self.label}: expected images (N, C, H, W), got shape {getattr(x, 'shape', None)}")
        (top, bottom), (left, right) = self.cropping
        n, c, h, w = x.shape
        kh, kw = self._kept(h, w)
        if kh < 1 or kw < 1:
            raise ShapeError(f"{self.label}: cannot crop {self.cropping} from a {h}×{w} image")
        self._x_shape = x.shape
        return x[:, :, top:top + kh, left:left + kw]

    def backward(self, dy):                                 # dy: (N, C, H', W')
        self.check_forward_called(self._x_shape)
        n, c, h, w = self._x_shape
        self.check_grad(dy, (n, c, *self._kept(h, w)))
        (top, _), (left, _) = self.cropping
        kh, kw = dy.shape[2], dy.shape[3]
        dx = empty_image(self._x_shape, dy)                 # in dy's memory order: a copy along its strides
        dx[:, :, top:top + kh, left:left + kw] = dy
        dx[:, :, :top] = 0                                  # the cropped edges get no gradient
        dx[:, :, top + kh:] = 0
        dx[:, :, top:top + kh, :left] = 0
        dx[:, :, top:top + kh, left + kw:] = 0
        return dx

    def output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ShapeError(f"{self.label}: expected images (N, C, H, W), got {format_shape(input_shape)}")
        n, c, h, w = input_shape
        kh, kw = self._kept(h or 0, w or 0)
        if (h is not None and kh < 1) or (w is not None and kw < 1):
            raise ShapeError(f"{self.label}: cannot crop {self.cropping} from a {h}×{w} image")
        return (n, c, None if h is None else kh, None if w is None else kw)

    def config(self):
        return {"cropping": [list(pair) for pair in self.cropping]}


def _cropping(value) -> tuple[tuple[int, int], tuple[int, int]]:
    """int | (rows, cols) | ((top, bottom), (left, right)) -> ((top, bottom), (left, right))."""
    def count(v):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"Crop2d: cropping must be made of whole numbers ≥ 0, got {value!r}")
        return v
    if isinstance(value, int) and not isinstance(value, bool):
        v = count(value)
        return ((v, v), (v, v))
    if isinstance(value, (list, tuple)) and len(value) == 2:
        if all(isinstance(v, (list, tuple)) for v in value):
            if not all(len(v) == 2 for v in value):
                raise ValueError(f"Crop2d: cropping must be ((top, bottom), (left, right)), got {value!r}")
            return ((count(value[0][0]), count(value[0][1])), (count(value[1][0]), count(value[1][1])))
        rows, cols = count(value[0]), count(value[1])
        return ((rows, rows), (cols, cols))
    raise ValueError(f"Crop2d: cropping must be an int, (rows, cols) or ((top, bottom), (left, right)), got {value!r}")
