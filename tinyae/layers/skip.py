"""SkipConcat: the skip-concat encoder of the recognition article, h_l = σ(W_lᵀ·[h_{l−1}; x] + b_l).

Each block after the first sees the previous block's output *and* the input itself,
concatenated along the features. The input is used L times, so its gradient is the sum
of its L contributions (the chain rule for a variable that branches), and each block's
input gradient is split back into the part for h_{l−1} and the part for x.

Equations S1–S3 are derived in docs/math/skip.md.
"""
from __future__ import annotations

from .. import backend
from ..errors import ShapeError
from .base import Layer, format_shape


class SkipConcat(Layer):
    """h_1 = f_1(x); h_l = f_l([h_{l−1}; x]) for l = 2..L; the output is h_L.

    x: (N, in_features) -> (N, k_L). Each block is a Layer (usually
    ``Sequential(Dense(...), ReLU())``); block 1 takes in_features inputs, block l takes
    k_{l−1} + in_features. Checked when built: a block that does not take its input
    raises ShapeError naming it.

    Notes
    -----
    h_1 = f_1(x),  h_l = f_l([h_{l−1}; x])                       (eq. S1)
    [dh_{l−1}; dx⁽ˡ⁾] = f_l.backward(dh_l)   (split after k_{l−1}) (eq. S2)
    dx = dx⁽¹⁾ + Σ_{l≥2} dx⁽ˡ⁾                                      (eq. S3)
    """

    def __init__(self, *blocks: Layer, in_features: int):
        super().__init__()
        if len(blocks) == 1 and isinstance(blocks[0], (list, tuple)):
            blocks = tuple(blocks[0])
        if not blocks:
            raise ValueError("SkipConcat: give at least one block")
        for i, block in enumerate(blocks):
            if not isinstance(block, Layer):
                raise TypeError(f"SkipConcat: block {i} is a {type(block).__name__}, not a Layer")
            block.label = f"block {i} ({type(block).__name__})"
        if isinstance(in_features, bool) or not isinstance(in_features, int) or in_features < 1:
            raise ValueError(f"SkipConcat: in_features must be a positive int, got {in_features!r}")
        self.blocks, self.in_features = list(blocks), in_features
        for i, block in enumerate(self.blocks):
            for name, p in block.params.items():
                self.params[f"{i}.{name}"] = p
        self.widths = self._widths()            # k_1 .. k_L
        self.out_features = self.widths[-1]
        self._split = None

    def _widths(self) -> list[int]:
        widths, width = [], None
        for i, block in enumerate(self.blocks):
            shape = (None, self.in_features if i == 0 else width + self.in_features)
            try:
                out = block.output_shape(shape)
            except ShapeError as exc:
                what = "the input x" if i == 0 else f"[h_{i}; x] ({width} + {self.in_features} features)"
                raise ShapeError(f"SkipConcat: block {i} does not take {what}: {exc}") from None
            if len(out) != 2 or out[1] is None:
                raise ShapeError(f"SkipConcat: block {i} must give (N, k) features, gives {format_shape(out)}")
            width = out[1]
            widths.append(width)
        return widths

    @property
    def penalty(self) -> float:
        return sum(block.penalty for block in self.blocks)

    def named_children(self):
        return [(str(i), block) for i, block in enumerate(self.blocks)]

    def forward(self, x):                                   # x: (N, D)
        x = self.check_input(x, (None, self.in_features))
        xp = backend.get_array_module(x)
        h = self.blocks[0].forward(x)                       # (N, k_1)          eq. S1
        for block in self.blocks[1:]:
            h = block.forward(xp.concatenate([h, x], axis=1))   # (N, k_l)      eq. S1
        self._split = x.shape
        return h

    def backward(self, dy, input_grad: bool = True):        # dy: (N, k_L)
        self.check_forward_called(self._split)
        self.check_grad(dy, (self._split[0], self.out_features))
        dh, dx_parts = dy, []
        for l in range(len(self.blocks) - 1, 0, -1):
            d_in = self.blocks[l].backward(dh)              # (N, k_{l−1} + D)  eq. S2
            k = self.widths[l - 1]
            dh = d_in[:, :k]                                # (N, k_{l−1})      eq. S2
            dx_parts.append(d_in[:, k:])                    # (N, D)            eq. S2
        if not input_grad:
            self.blocks[0].backward(dh, input_grad=False)
            return None
        dx = self.blocks[0].backward(dh)                    # (N, D)
        for part in dx_parts:
            dx = dx + part                                  # (N, D)            eq. S3
        return dx

    def output_shape(self, input_shape):
        if len(input_shape) != 2 or input_shape[1] not in (None, self.in_features):
            raise ShapeError(f"{self.label}: expected input of shape {format_shape((None, self.in_features))}, "
                             f"got {format_shape(input_shape)}" + self._shape_hint((None, self.in_features),
                                                                                   tuple(input_shape)))
        return (input_shape[0], self.out_features)

    def config(self):
        return {"in_features": self.in_features}

    def __repr__(self):
        return f"SkipConcat(in_features={self.in_features}, widths={self.widths})"
