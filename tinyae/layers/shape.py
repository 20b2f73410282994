"""Layers that only change the shape: Flatten and Reshape (views, no copy)."""
from __future__ import annotations

import math

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
