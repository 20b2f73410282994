"""Sequential: layers applied in order, gradients passed back in reverse order."""
from __future__ import annotations

from ..errors import ShapeError
from .activations import ReLU
from .base import Layer, format_shape
from .pooling import MaxPool2d


class Sequential(Layer):
    """y = layer_k(… layer_2(layer_1(x))); backward runs the layers in reverse.

    ``input_shape`` (without the batch axis, e.g. (1, 28, 28)) lets the model check
    when it is built that its layers fit together, and lets ``summary()`` show shapes.
    ``penalty`` is the sum of its layers' penalties after a forward.

    A ReLU directly followed by a MaxPool2d runs as one pass: the pool computes
    max(0, window) on the ReLU's input and the ReLU's own forward and backward are
    skipped (eqs. P9–P10: the result and the gradients are the same, bit for bit).
    ``fuse_relu_max_pool = False`` (on the class or on one model) runs every layer on its own.
    """

    is_chain = True
    fuse_relu_max_pool = True

    def __init__(self, *layers: Layer, input_shape: tuple | None = None):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: item {i} is a {type(layer).__name__}, not a Layer")
            layer.label = f"layer {i} ({type(layer).__name__})"
        self.layers = list(layers)
        self.input_shape = None if input_shape is None else tuple(input_shape)
        for i, layer in enumerate(self.layers):
            for name, p in layer.params.items():
                self.params[f"{i}.{name}"] = p
        self._first_param_layer = next((i for i, l in enumerate(self.layers) if l.params), len(self.layers))
        self._skipped = set()         # the ReLUs the last forward skipped (eq. P9)
        self.shapes()   # fails now, naming both layers, if they do not fit together

    # --- forward and backward -------------------------------------------------
    def forward(self, x):
        self._skipped = relus_before_max_pool(self.layers) if self.fuse_relu_max_pool else set()
        for i, layer in enumerate(self.layers):
            if i in self._skipped:                          # the MaxPool2d after it does its work  eq. P9
                continue
            x = layer.forward_after_relu(x) if i - 1 in self._skipped else layer.forward(x)
        return x

    def backward(self, dy, input_grad: bool = True):
        """Backpropagate ``dy`` through every layer; returns dx (None if ``input_grad`` is False).

        With ``input_grad=False`` (what training uses) the layers before the first one
        with parameters are skipped and that layer does not compute its input gradient.
        """
        stop = 0 if input_grad else self._first_param_layer
        skipped = self._skipped                             # the ReLUs the forward left to a MaxPool2d
        for i in range(len(self.layers) - 1, stop, -1):
            if i not in skipped:                            # the pool's gradient is the pair's  eq. P10
                dy = self.layers[i].backward(dy)
        if stop >= len(self.layers):
            return None
        if stop in skipped:
            return dy
        return self.layers[stop].backward(dy) if input_grad else self.layers[stop].backward(dy, input_grad=False)

    @property
    def penalty(self) -> float:
        """The sum of the layers' penalties from the last forward (0.0 when none has one)."""
        return sum(layer.penalty for layer in self.layers)

    def named_children(self):
        return [(str(i), layer) for i, layer in enumerate(self.layers)]

    # --- shapes -------------------------------------------------------------------
    def shapes(self, input_shape: tuple | None = None) -> list[tuple]:
        """The output shape of every layer for a batch of ``input_shape`` (None: the model's own).

        Without any input shape, the check starts at the first layer that declares its
        input (a Dense's in_features, a Conv2d's in_channels); the layers before it get
        None. Raises ShapeError naming the two layers that do not fit together.
        """
        sample_shape = input_shape or self.input_shape
        first = 0
        if sample_shape is None:
            first, shape = self._first_declared_input()
            if shape is None:
                return []
        else:
            shape = (None, *sample_shape)
        out = [None] * first
        for i in range(first, len(self.layers)):
            layer = self.layers[i]
            try:
                shape = layer.output_shape(shape)
            except ShapeError as exc:
                before = f"layer {i - 1} ({type(self.layers[i - 1]).__name__}) gives {format_shape(shape)}" if i else \
                    f"the model's input is {format_shape(shape)}"
                raise ShapeError(f"layers do not fit together: {before}, but {exc}") from None
            out.append(shape)
        return out

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def _first_declared_input(self):
        """(index, input batch shape) of the first layer that declares its input size, or (0, None)."""
        for i, layer in enumerate(self.layers):
            if hasattr(layer, "in_features"):
                return i, (None, layer.in_features)
            if hasattr(layer, "in_channels"):
                return i, (None, layer.in_channels, None, None)
        return 0, None

    # --- the layers as a list ---------------------------------------------------------------
    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    # --- display -------------------------------------------------------------------
    def summary(self, input_shape: tuple | None = None) -> str:
        """A table of the layers with their output shapes and parameter counts."""
        rows = self.summary_rows(self.shapes(input_shape), seen=set())
        return format_summary(rows, self.num_parameters())

    def summary_rows(self, shapes: list, seen: set, prefix: str = "") -> list[tuple[str, str, str, str]]:
        """(index, layer, output shape, parameter count) for each layer; ``seen`` holds the ids of the
        Parameters counted already (a tied weight is counted once, where it is first used)."""
        rows = []
        for i, layer in enumerate(self.layers):
            count = sum(p.size for p in layer.parameters() if id(p) not in seen)
            shared = any(id(p) in seen for p in layer.parameters())
            seen.update(id(p) for p in layer.parameters())
            shape = format_shape(shapes[i]) if shapes and shapes[i] is not None else "?"
            rows.append((f"{prefix}{i}", repr(layer), shape, f"{count:,}" + (" (+ tied)" if shared else "")))
        return rows

    def __repr__(self):
        inner = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"Sequential(\n{inner}\n)"


def relus_before_max_pool(layers: list) -> set:
    """The indices of the ReLUs directly followed by a MaxPool2d in a list of layers (eq. P9)."""
    return {i for i in range(len(layers) - 1) if type(layers[i]) is ReLU and type(layers[i + 1]) is MaxPool2d}


def format_summary(rows: list, total: int, header=("#", "layer", "output shape", "params")) -> str:
    """The summary table: a header, the rows (a row of one string is a full-width line), the total."""
    table = [r for r in rows if len(r) == 4]
    widths = [max(len(r[c]) for r in [header, *table]) for c in range(4)]
    line = lambda r: "  ".join(r[c].ljust(widths[c]) if c < 3 else r[c].rjust(widths[c]) for c in range(4))
    rule = "-" * len(line(header))
    body = [line(header), rule] + [line(r) if len(r) == 4 else r[0] for r in rows] + [rule]
    body.append(f"total parameters: {total:,}")
    return "\n".join(body)
