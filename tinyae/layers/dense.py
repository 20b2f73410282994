"""Dense (fully connected) layers: y = x W + b, and the tied decoder y = x Wᵀ + c.

Equations D1–D6 are derived in docs/math/dense.md.
"""
from __future__ import annotations

from .. import init
from ..errors import ShapeError
from .base import Layer, format_shape


class Dense(Layer):
    """Fully connected layer y = x W + b.

    Parameters: ``W`` of shape (in_features, out_features), ``b`` of shape (out_features,).
    x: (N, in_features) -> y: (N, out_features). Default init: Glorot uniform.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init_name: str = "glorot_uniform", rng=None):
        super().__init__()
        self.in_features, self.out_features, self.bias, self.init_name = in_features, out_features, bias, init_name
        self.add_param("W", init.initialize(init_name, (in_features, out_features), in_features, out_features, rng))
        if bias:
            self.add_param("b", init.zeros((out_features,)))
        self._x = None

    def forward(self, x):                                   # x: (N, in)
        x = self.check_input(x, (None, self.in_features))
        self._x = x
        for p in self.params.values():
            p.start_pass()
        y = x @ self.W.data                                 # (N, out)      eq. D1
        if self.bias:
            y += self.b.data                                # (N, out)      eq. D1
        return y

    def backward(self, dy, input_grad: bool = True):        # dy: (N, out)
        self.check_forward_called(self._x)
        self.check_grad(dy, (self._x.shape[0], self.out_features))
        x = self._x                                         # x: (N, in)
        self.W.accumulate(x.T @ dy)                         # (in, out)     eq. D3
        if self.bias:
            self.b.accumulate(dy.sum(axis=0))               # (out,)        eq. D4
        return dy @ self.W.data.T if input_grad else None   # (N, in)       eq. D2

    def output_shape(self, input_shape):
        return _features_out(self, input_shape)

    def config(self):
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.bias, "init_name": self.init_name}


class DenseTied(Layer):
    """Tied decoder: y = x Wᵀ + c, reusing the ``W`` of an encoder ``Dense``.

    ``W`` is the encoder's Parameter itself (shape (in_e, out_e)), so it receives the
    sum of the encoder's and this layer's gradient contributions (eq. D6). ``c`` is
    this layer's own bias, shape (in_e,).
    x: (N, out_e) -> y: (N, in_e).
    """

    def __init__(self, encoder: Dense, bias: bool = True):
        super().__init__()
        if not isinstance(encoder, Dense):
            raise TypeError(f"DenseTied needs the encoder Dense layer whose W it reuses, got {type(encoder).__name__}")
        self.encoder, self.bias = encoder, bias
        self.in_features, self.out_features = encoder.out_features, encoder.in_features
        self.params["W"] = encoder.W                        # shared, not copied
        self.W = encoder.W
        if bias:
            self.add_param("c", init.zeros((self.out_features,)))
        self._x = None

    def forward(self, x):                                   # x: (N, out_e)
        x = self.check_input(x, (None, self.in_features))
        self._x = x
        for p in self.params.values():
            p.start_pass()
        y = x @ self.W.data.T                               # (N, in_e)     eq. D5
        if self.bias:
            y += self.c.data
        return y

    def backward(self, dy, input_grad: bool = True):        # dy: (N, in_e)
        self.check_forward_called(self._x)
        self.check_grad(dy, (self._x.shape[0], self.out_features))
        self.W.accumulate(dy.T @ self._x)                   # (in_e, out_e) eq. D6
        if self.bias:
            self.c.accumulate(dy.sum(axis=0))               # (in_e,)       eq. D4
        return dy @ self.W.data if input_grad else None     # (N, out_e)    eq. D6

    def output_shape(self, input_shape):
        return _features_out(self, input_shape)

    def config(self):
        return {"bias": self.bias}


def _features_out(layer, input_shape) -> tuple:
    """Output shape of a layer mapping (N, in_features) to (N, out_features)."""
    if not (len(input_shape) == 2 and input_shape[1] in (None, layer.in_features)):
        raise ShapeError(f"{layer.label}: expected input of shape {format_shape((None, layer.in_features))}, "
                         f"got {format_shape(input_shape)}")
    return (input_shape[0], layer.out_features)
