"""Corruption layers: the noises of tinyae.corrupt, drawn afresh at every forward in train mode only.

Put one first in the encoder of a denoising autoencoder trained on clean targets
(``fit(model, x, x)``): in train mode the model sees a new corruption of every batch
(Vincent et al. 2008); in eval mode the layer is the identity, so ``encode`` and
``reconstruct`` see the images as given. Random numbers come from
``tinyae.backend.default_rng(seed)``, the active backend's generator, made at the first
forward (checkpoints save its state). The noise itself is written once, in tinyae.corrupt.

backward: dx = dy ⊙ keep, where keep = ∂(noisy)/∂x is 1 where the pixel still depends on
x and 0 where the noise replaced it or the clipping cut it off (eq. N2 in
docs/math/denoising.md). The training of a denoiser never needs dx (the corruption is
the first layer), but a corruption in the middle of a model gets the right gradient.
"""
from __future__ import annotations

from .. import backend, corrupt, init
from .base import Layer


class _Corruption(Layer):
    """A corruption ``kind`` of strength ``amount``: train mode only, identity in eval mode."""

    kind = ""

    def __init__(self, amount, seed=None):
        super().__init__()
        self.amount = corrupt.check_amount(self.kind, amount)
        self.seed = int(init.generator().integers(2**31)) if seed is None else seed
        self._rng = None
        self._keep = None
        self._shape = None

    def forward(self, x):                                   # x: (N, ...), values in [0, 1]
        x = self.check_dtype(x)
        self._shape = x.shape
        if not self.training or self.amount == 0:
            self._keep = None
            return x
        if self._rng is None:
            self._rng = backend.default_rng(self.seed)
        noisy, self._keep = self._corrupt(x)                # eq. N1
        return noisy

    def _corrupt(self, x):
        return corrupt.CORES[self.kind](x, self.amount, self._rng, backend.get_array_module(x))

    def backward(self, dy):                                 # dy: shape of x, never modified in place
        self.check_forward_called(self._shape)
        self.check_grad(dy, self._shape)
        return dy if self._keep is None else dy * self._keep               # eq. N2

    def config(self):
        return {"amount": self.amount, "seed": self.seed}


class GaussianCorruption(_Corruption):
    """y = clip(x + amount·ε, 0, 1), ε ~ N(0, 1), in train mode (``clip=False``: no clipping)."""

    kind = "gaussian"

    def __init__(self, amount: float, seed=None, clip: bool = True):
        super().__init__(amount, seed)
        self.clip = bool(clip)

    def _corrupt(self, x):
        return corrupt.gaussian_core(x, self.amount, self._rng, backend.get_array_module(x), clip=self.clip)

    def config(self):
        return {**super().config(), "clip": self.clip}


class MaskingNoise(_Corruption):
    """Each value set to 0 with probability ``amount``, in train mode."""

    kind = "masking"


class SaltAndPepperNoise(_Corruption):
    """Each value set to 0 or 1 (half each) with probability ``amount``, in train mode."""

    kind = "salt_pepper"


class BlockMask(_Corruption):
    """One ``amount``×``amount`` square per image set to 0 (inpainting), in train mode; images (N, C, H, W) only."""

    kind = "block"

    def forward(self, x):
        corrupt.check_block_fits(tuple(x.shape), self.amount)
        return super().forward(x)

    def output_shape(self, input_shape):
        corrupt.check_block_fits(tuple(input_shape), self.amount)
        return tuple(input_shape)


BY_KIND = {cls.kind: cls for cls in (GaussianCorruption, MaskingNoise, SaltAndPepperNoise, BlockMask)}
