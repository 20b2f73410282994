"""Autoencoder: an encoder and a decoder as two halves you can use apart.

    model = Autoencoder(encoder=Sequential(Flatten(), Dense(784, 32), ReLU()),
                        decoder=Sequential(Dense(32, 784), Sigmoid(), Reshape((1, 28, 28))))
    codes = model.encode(x)            # (N, 32) NumPy: what recognition and compression use
    images = model.decode(codes)       # (N, 1, 28, 28): what generation uses
    fit(model, x)                      # trains both halves on x -> x, as one model

Training sees one model: ``forward`` is decode(encode(x)) and ``backward`` runs the
decoder's backward, then the encoder's. A Parameter may be used in both halves (a
``DenseTied`` decoder reusing an encoder Dense's ``W``): it receives the sum of both
contributions, by the Parameter rule of tinyae/parameter.py. Parameters are named
``encoder.<i>.<name>`` and ``decoder.<i>.<name>`` (in files, in checkpoints, in
``named_parameters()``). ``penalty`` is the sum of both halves' penalties.

``encode``, ``decode`` and ``reconstruct`` take and return NumPy arrays, run in eval mode
(the mode is restored), in batches, like ``predict``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import batches
from ..errors import ShapeError
from ..layers import Layer, Sequential, chain
from ..layers.base import format_shape
from ..layers.container import format_summary


def as_half(half, what: str) -> Layer:
    """A Layer, or a list of layers made into a Sequential."""
    if isinstance(half, (list, tuple)):
        half = Sequential(*half)
    if not isinstance(half, Layer):
        raise TypeError(f"Autoencoder: the {what} must be a Layer (e.g. a Sequential), got {type(half).__name__}")
    return half


class Autoencoder(Layer):
    """x -> encoder -> code -> decoder -> reconstruction.

    encoder, decoder: Layers (usually Sequentials; a list of layers is made into one).
    loss: the model's own objective, the name of a loss (``tinyae.losses.get``), used by
    ``fit`` and ``evaluate`` when they are not given one ("mse" when None).
    The encoder's ``input_shape`` (if it has one) is the model's; the decoder is checked,
    when the model is built, to take the code the encoder gives.
    """

    is_chain = True

    def __init__(self, encoder, decoder, loss: str | None = None, name: str | None = None):
        super().__init__()
        self.encoder, self.decoder = as_half(encoder, "encoder"), as_half(decoder, "decoder")
        self.loss, self.name = loss, name
        for half_name, half in self.named_children():
            steps = half.layers if isinstance(half, Sequential) else [half]
            for i, layer in enumerate(steps):                # "decoder layer 0 (Dense)", however often built
                layer.label = f"{half_name} layer {i} ({type(layer).__name__})"
            for pname, p in half.params.items():
                self.params[f"{half_name}.{pname}"] = p
        self.shapes()        # the decoder must take the encoder's code: fails now, naming both, if not

    # --- the two halves as one model ---------------------------------------------------------
    def named_children(self):
        return [("encoder", self.encoder), ("decoder", self.decoder)]

    @property
    def layers(self) -> list[Layer]:
        """Every layer in the order data runs through them: the encoder's, then the decoder's."""
        return chain(self)

    @property
    def penalty(self) -> float:
        return self.encoder.penalty + self.decoder.penalty

    def forward(self, x):
        return self.decoder.forward(self.encoder.forward(x))

    def backward(self, dy, input_grad: bool = True):
        """The decoder's backward, then the encoder's; dx (None if ``input_grad`` is False)."""
        return self.encoder.backward(self.decoder.backward(dy), input_grad=input_grad)

    # --- shapes -----------------------------------------------------------------------------
    @property
    def input_shape(self):
        return getattr(self.encoder, "input_shape", None)

    @property
    def code_shape(self) -> tuple | None:
        """The shape of one image's code, without the batch axis ((32,) or (64, 7, 7)); None if unknown."""
        if self.input_shape is None:
            return None
        shape = self.encoder.output_shape((None, *self.input_shape))
        return None if None in shape[1:] else tuple(shape[1:])

    @property
    def code_size(self) -> int | None:
        """How many numbers the code of one image holds."""
        shape = self.code_shape
        return None if shape is None else math.prod(shape)

    def shapes(self, input_shape: tuple | None = None) -> list[tuple]:
        """The output shape of every layer (encoder's, then decoder's) for a batch of ``input_shape``."""
        enc = self.encoder.shapes(input_shape) if isinstance(self.encoder, Sequential) else \
            [self.encoder.output_shape((None, *(input_shape or self.input_shape)))]
        code = enc[-1] if enc else None
        if code is None:
            return enc + (self.decoder.shapes() if isinstance(self.decoder, Sequential) else [])
        try:
            dec = self.decoder.shapes(code[1:]) if isinstance(self.decoder, Sequential) else \
                [self.decoder.output_shape(code)]
        except ShapeError as exc:
            raise ShapeError(f"the decoder does not take the encoder's code {format_shape(code)}: {exc}") from None
        return enc + dec

    def output_shape(self, input_shape):
        return self.decoder.output_shape(self.encoder.output_shape(input_shape))

    # --- the halves apart: NumPy in, NumPy out -------------------------------------------------
    def encode(self, x, batch_size: int = 256) -> np.ndarray:
        """The codes of ``x`` (N, ...) -> (N, *code_shape), eval mode, as NumPy."""
        batches.check_samples(x, "x", "encode")
        return batches.forward_in_batches(self.encoder, x, batch_size, batches.model_dtype(self))

    def decode(self, codes, batch_size: int = 256) -> np.ndarray:
        """The images the decoder makes of ``codes`` (N, *code_shape), eval mode, as NumPy."""
        batches.check_samples(codes, "codes", "decode")
        return batches.forward_in_batches(self.decoder, codes, batch_size, batches.model_dtype(self))

    def reconstruct(self, x, batch_size: int = 256) -> np.ndarray:
        """decode(encode(x)) in one pass per batch, eval mode, as NumPy."""
        batches.check_samples(x, "x", "reconstruct")
        return batches.forward_in_batches(self, x, batch_size)

    def interpolate(self, x_a, x_b, steps: int = 10) -> np.ndarray:
        """The decoder's images along the straight line from the code of ``x_a`` to that of ``x_b``.

        x_a, x_b: one image each ((C, H, W), or (1, C, H, W)). Returns (steps, C, H, W), the
        first the decoding of x_a's code, the last of x_b's. For a plain autoencoder the
        images between need not look like anything; a VAE's latent space is made for it.
        """
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise ValueError(f"interpolate: steps must be a whole number ≥ 2, got {steps!r}")
        pair = np.concatenate([self._one_image(x_a, "x_a"), self._one_image(x_b, "x_b")])
        code_a, code_b = self.encode(pair)
        t = np.linspace(0.0, 1.0, steps, dtype=code_a.dtype).reshape(-1, *([1] * code_a.ndim))
        return self.decode((1.0 - t) * code_a + t * code_b)

    # --- display --------------------------------------------------------------------------------
    def summary(self, input_shape: tuple | None = None) -> str:
        """The layers of both halves with their output shapes and parameter counts, and the code between."""
        shapes = self.shapes(input_shape)
        n_enc = len(self.encoder.layers) if isinstance(self.encoder, Sequential) else 1
        seen: set = set()
        rows = [("encoder",)] + _rows(self.encoder, shapes[:n_enc], seen, "encoder.")
        rows.append((self._code_line(shapes[n_enc - 1] if shapes and n_enc else None),))
        rows += [("decoder",)] + _rows(self.decoder, shapes[n_enc:], seen, "decoder.")
        return format_summary(rows, self.num_parameters())

    def _code_line(self, code_shape) -> str:
        if code_shape is None:
            return "-- code: shape unknown (give the encoder an input_shape) --"
        size = math.prod(s for s in code_shape[1:])
        ratio = ""
        if self.input_shape is not None:
            pixels = math.prod(self.input_shape)
            ratio = (f" ({pixels:,} in: {pixels / size:.3g}x fewer)" if size <= pixels else
                     f" ({pixels:,} in: {size / pixels:.3g}x more, an overcomplete code)")
        return f"-- code: {format_shape(code_shape)}, {size:,} numbers per image{ratio} --"

    def _one_image(self, x, what: str) -> np.ndarray:
        """One image as a batch of one: (C, H, W) -> (1, C, H, W); (1, C, H, W) as it is."""
        x = np.asarray(x)
        want = self.input_shape
        if want is not None and tuple(x.shape) == tuple(want):
            return x[None]
        if want is not None and tuple(x.shape) == (1, *want):
            return x
        if want is None and x.ndim >= 2 and x.shape[0] == 1:
            return x
        if want is None:
            return x[None]
        raise ShapeError(f"interpolate: {what} must be one image of shape {tuple(want)}, got {tuple(x.shape)}")

    def __repr__(self):
        return f"{type(self).__name__}(\n  encoder={self.encoder!r},\n  decoder={self.decoder!r}\n)"


def _rows(half, shapes, seen, prefix):
    if isinstance(half, Sequential):
        return half.summary_rows(shapes, seen, prefix)
    count = sum(p.size for p in half.parameters() if id(p) not in seen)
    seen.update(id(p) for p in half.parameters())
    shape = format_shape(shapes[0]) if shapes and shapes[0] is not None else "?"
    return [(prefix.rstrip("."), repr(half), shape, f"{count:,}")]
