"""Layer: the protocol every layer follows, and the checks made at its boundary.

A layer has

* ``params``: an ordered dict name -> Parameter (empty for activations),
* ``buffers``: an ordered dict name -> array of state that is saved but not trained
  (BatchNorm's ``running_mean``),
* ``training``: True in train mode, False in eval mode (``train()`` / ``eval()``),
* ``forward(x)`` -> y, which keeps on ``self`` what backward needs (the cache),
* ``backward(dy)`` -> dx, which also fills the ``.grad`` of its parameters and
  never modifies ``dy`` in place,
* ``penalty``: the term this layer adds to the objective, as computed by its last
  forward (0.0 for almost every layer; ActivityL1, KLSparsity and GaussianSample's KL
  set it). A layer that owns a penalty also adds the penalty's gradient to dx in its
  backward, so the gradient of data term + penalty flows without autograd,
* ``named_children()``: the layers a container is made of, as (name, layer) pairs
  (empty for a plain layer); ``leaves()`` and ``chain()`` below walk them.

Shapes are checked here, at the boundary, so that a wrong shape is reported with
the layer's name and both shapes instead of surfacing deep inside NumPy.
``label`` is the layer's name in messages: its class, or "layer 3 (Dense)" once a
Sequential has numbered it.

Input dtype rule (the same for every layer): floating input of another precision
than the layer's parameters is cast to the parameters' dtype, with one warning per
layer; integer, boolean or complex input raises `DTypeError` (integer images are
usually 0..255 and need scaling, which a silent cast would hide).
"""
from __future__ import annotations

import warnings
from collections import OrderedDict

from ..errors import DTypeError, ShapeError
from ..parameter import Parameter


def format_shape(shape) -> str:
    """(None, 784) -> "(N, 784)"; unknown sizes after the batch axis print as "?"."""
    parts = ["N" if (i == 0 and s is None) else ("?" if s is None else str(s)) for i, s in enumerate(shape)]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def shapes_match(expected, actual) -> bool:
    """True when ``actual`` has the rank of ``expected`` and agrees where ``expected`` is not None."""
    return len(expected) == len(actual) and all(e is None or a is None or e == a for e, a in zip(expected, actual))


class Layer:
    """Base class of all layers: parameters, train/eval mode and boundary checks."""

    penalty = 0.0          # the term added to the objective by the last forward (see the module doc)
    is_chain = False       # True for containers whose children run one after the other (Sequential, Autoencoder)

    def __init__(self):
        self.params: OrderedDict[str, Parameter] = OrderedDict()
        self.buffers: OrderedDict[str, object] = OrderedDict()   # saved state that is not trained (running_var)
        self.training = True
        self.label = type(self).__name__
        self._dtype_warned = False

    # --- the protocol -------------------------------------------------------
    def forward(self, x):
        raise NotImplementedError

    def backward(self, dy):
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    def output_shape(self, input_shape: tuple) -> tuple:
        """The output shape for ``input_shape`` (None for unknown sizes); raises ShapeError if it does not fit."""
        return tuple(input_shape)

    # --- parameters and modes -------------------------------------------------
    def add_param(self, name: str, data) -> Parameter:
        param = Parameter(data, name=name)
        self.params[name] = param
        setattr(self, name, param)
        return param

    def parameters(self) -> list[Parameter]:
        """Every Parameter once (a tied weight is listed once, though two layers use it)."""
        return list(self.named_parameters().values())

    def named_parameters(self) -> dict[str, Parameter]:
        """name -> Parameter, each Parameter once, under the name of its first use ("0.W", "encoder.1.W")."""
        seen, named = set(), {}
        for name, p in self.params.items():
            if id(p) not in seen:
                seen.add(id(p))
                named[name] = p
        return named

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def named_children(self) -> list[tuple[str, "Layer"]]:
        """(name, layer) of the layers this one is made of; empty for a plain layer."""
        return []

    def train(self, mode: bool = True):
        """Train mode (``mode`` True) or eval mode, for this layer and every layer inside it."""
        self.training = mode
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def config(self) -> dict:
        """The constructor arguments, as JSON-able values (used by save/load)."""
        return {}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config().items())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    # --- boundary checks ------------------------------------------------------
    def check_input(self, x, expected: tuple):
        """Check ``x`` against ``expected`` (None = any size) and apply the dtype rule; returns x (cast if needed)."""
        shape = getattr(x, "shape", None)
        if shape is None:
            raise DTypeError(f"{self.label}: expected an array of shape {format_shape(expected)}, got {type(x).__name__}")
        if not shapes_match(expected, shape):
            raise ShapeError(
                f"{self.label}: expected input of shape {format_shape(expected)}, got {tuple(shape)}"
                + self._shape_hint(expected, tuple(shape))
            )
        return self.check_dtype(x)

    def check_dtype(self, x):
        kind = x.dtype.kind
        if kind != "f":
            hint = " (images stored as 0..255 integers: use x.astype('float32') / 255)" if kind in "ui" else ""
            raise DTypeError(f"{self.label}: expected floating-point input, got dtype {x.dtype}{hint}")
        if self.params:
            want = next(iter(self.params.values())).data.dtype
            if x.dtype != want:
                if not self._dtype_warned:
                    warnings.warn(
                        f"{self.label}: input of dtype {x.dtype} cast to the parameters' dtype {want}",
                        stacklevel=3,
                    )
                    self._dtype_warned = True
                x = x.astype(want)
        return x

    def check_grad(self, dy, y_shape: tuple):
        """Check that the upstream gradient has the shape of this layer's last output."""
        shape = getattr(dy, "shape", None)
        if shape is None or tuple(shape) != tuple(y_shape):
            raise ShapeError(
                f"{self.label}: backward expected a gradient of the output's shape {tuple(y_shape)}, "
                f"got {None if shape is None else tuple(shape)}"
            )

    def check_forward_called(self, cached) -> None:
        if cached is None:
            raise RuntimeError(f"{self.label}: backward called before forward")

    @staticmethod
    def _shape_hint(expected: tuple, actual: tuple) -> str:
        if len(expected) == 2 and len(actual) == 4:
            return " (images are (N, C, H, W): put a Flatten() before this layer)"
        if len(expected) == 4 and len(actual) == 2:
            return " (this layer takes images (N, C, H, W): put a Reshape((C, H, W)) before it)"
        if len(expected) == len(actual) + 1:
            return " (a single sample? add the batch axis: x[None])"
        return ""



# --- walking a tree of layers ----------------------------------------------------------------

def leaves(layer: Layer, prefix: str = "") -> list[tuple[str, Layer]]:
    """Every plain layer inside ``layer`` with its path ("encoder.1"), in forward order.

    A parameter's name in a model file is its layer's path and its own name
    ("encoder.1.W"); a plain layer on its own has the path "".
    """
    children = layer.named_children()
    if not children:
        return [(prefix, layer)]
    found = []
    for name, child in children:
        found += leaves(child, f"{prefix}.{name}" if prefix else name)
    return found


def chain(layer: Layer, as_run: bool = False) -> list[Layer]:
    """The layers data runs through one after the other: Sequential and Autoencoder are opened,
    anything else (a plain layer, a SkipConcat) is one step.

    ``as_run``: without the layers the last forward skipped (a ReLU that the MaxPool2d after it
    ran, eq. P9), so that calling ``backward`` on each step in reverse order repeats that forward's
    backward."""
    if not layer.is_chain:
        return [layer]
    skipped = getattr(layer, "_skipped", set()) if as_run else set()
    return [step for i, (_, child) in enumerate(layer.named_children()) if i not in skipped
            for step in chain(child, as_run)]
