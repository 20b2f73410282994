"""Noise models for denoising and restoration: each a function and a layer.

    x_noisy = corrupt.gaussian(x_test, 0.4, seed=0)       # a fixed, seeded noisy copy (NumPy in, NumPy out)
    layers.GaussianCorruption(0.4, seed=0)                # the same noise, drawn afresh in train mode only

=================  ===================================================  =============================
noise              what it does to each image                            spec for ``apply``/the CLI
=================  ===================================================  =============================
gaussian           x + σ·ε, ε ~ N(0, 1), clipped to [0, 1]               ``gaussian:0.4``
masking            each pixel set to 0 with probability p                ``masking:0.5``
salt_pepper        each pixel set to 0 or 1 (½ each) with probability p  ``salt_pepper:0.2``
block              one s×s square at a random place set to 0 (inpaint)   ``block:12``
=================  ===================================================  =============================

Each noise is written once, as a function ``(x, amount, rng, xp) -> (noisy, keep)`` where
``keep`` is the derivative of the noisy image with respect to x (1 where the pixel still
depends on x, 0 where the noise replaced it or the clipping cut it off; eq. N2 in
docs/math/denoising.md). The functions of this module draw from a NumPy generator seeded
with ``seed``, so the same seed gives the same noisy set on every machine; the layers
(``tinyae.layers.corruption``) draw from the active backend's generator and use ``keep``
in backward. Images are (N, C, H, W) (or any (N, ...) for the pixelwise noises) with
values in [0, 1].
"""
from __future__ import annotations

import numbers

import numpy as np

from .errors import ShapeError

KINDS = ("gaussian", "masking", "salt_pepper", "block")
ALIASES = {"salt-and-pepper": "salt_pepper", "salt_and_pepper": "salt_pepper", "saltpepper": "salt_pepper",
           "salt-pepper": "salt_pepper", "mask": "masking", "inpaint": "block"}


# --- the noises, each written once ------------------------------------------------------------

def gaussian_core(x, std, rng, xp, clip: bool = True):
    """x + std·ε, ε ~ N(0, 1); clipped to [0, 1] when ``clip`` (eq. N1). Returns (noisy, keep)."""
    noisy = x + std * rng.standard_normal(x.shape, dtype=x.dtype)
    if not clip:
        return noisy, None
    keep = ((noisy > 0.0) & (noisy < 1.0)).astype(x.dtype)      # where the clipping did not bite
    return xp.clip(noisy, 0.0, 1.0, out=noisy), keep


def masking_core(x, fraction, rng, xp):
    """Each value set to 0 with probability ``fraction`` (the masking noise of Vincent et al. 2008)."""
    keep = (rng.random(x.shape, dtype=x.dtype) >= fraction).astype(x.dtype)
    return x * keep, keep


def salt_pepper_core(x, fraction, rng, xp):
    """Each value replaced with probability ``fraction``: by 0 (pepper) or 1 (salt), half of the time each."""
    r = rng.random(x.shape, dtype=x.dtype)
    keep = (r >= fraction).astype(x.dtype)
    salt = (r < 0.5 * fraction).astype(x.dtype)                 # the replaced values that become 1
    return x * keep + salt, keep


def block_core(x, size, rng, xp):
    """One size×size square per image, at a uniformly random place where it fits, set to 0 (inpainting)."""
    check_block_fits(tuple(x.shape), size)
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    top = rng.integers(0, h - size + 1, size=n).reshape(n, 1, 1, 1)
    left = rng.integers(0, w - size + 1, size=n).reshape(n, 1, 1, 1)
    rows = xp.arange(h).reshape(1, 1, h, 1)
    cols = xp.arange(w).reshape(1, 1, 1, w)
    inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)   # (N, 1, H, W)
    keep = xp.broadcast_to(~inside, x.shape).astype(x.dtype)
    return x * keep, keep


def check_block_fits(shape: tuple, size: int) -> None:
    """ShapeError unless ``shape`` is (N, C, H, W) with H and W (where known) at least ``size``."""
    if len(shape) != 4:
        raise ShapeError(f"block noise needs images (N, C, H, W), got shape {shape}")
    h, w = shape[-2:]
    if any(side is not None and size > side for side in (h, w)):
        raise ShapeError(f"block noise: a {size}×{size} block does not fit in {h}×{w} images")


CORES = {"gaussian": gaussian_core, "masking": masking_core, "salt_pepper": salt_pepper_core, "block": block_core}


def check_amount(kind: str, amount) -> float:
    """The noise's parameter, checked: σ ≥ 0 for gaussian, p in [0, 1) for masking and salt_pepper,
    a block size ≥ 1 (a whole number) for block."""
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real) or amount != amount:
        raise ValueError(f"{kind} noise: expected a number, got {amount!r}")
    if kind == "gaussian" and not amount >= 0:
        raise ValueError(f"gaussian noise: the standard deviation must be ≥ 0, got {amount}")
    if kind in ("masking", "salt_pepper") and not 0 <= amount < 1:
        raise ValueError(f"{kind} noise: the fraction of pixels must be in [0, 1), got {amount}")
    if kind == "block":
        if amount != int(amount) or amount < 1:
            raise ValueError(f"block noise: the block size must be a whole number of pixels ≥ 1, got {amount}")
        return int(amount)
    return float(amount)


# --- functions: a fixed, seeded noisy copy ----------------------------------------------------

def _fixed(kind: str, x, amount, seed: int, **options):
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise ValueError(f"{kind} noise: expected floating-point images in [0, 1], got dtype {x.dtype}")
    amount = check_amount(kind, amount)
    noisy, _ = CORES[kind](x, amount, np.random.default_rng(seed), np, **options)
    return noisy.astype(x.dtype, copy=False)


def gaussian(x, std: float, seed: int = 0, clip: bool = True) -> np.ndarray:
    """``x`` + std·N(0, 1) noise, clipped to [0, 1] (unless ``clip=False``), drawn from ``seed``."""
    return _fixed("gaussian", x, std, seed, clip=clip)


def masking(x, fraction: float, seed: int = 0) -> np.ndarray:
    """``x`` with each pixel set to 0 with probability ``fraction``, drawn from ``seed``."""
    return _fixed("masking", x, fraction, seed)


def salt_and_pepper(x, fraction: float, seed: int = 0) -> np.ndarray:
    """``x`` with a ``fraction`` of its pixels set to 0 or 1 (half each, on average), drawn from ``seed``."""
    return _fixed("salt_pepper", x, fraction, seed)


def block(x, size: int, seed: int = 0) -> np.ndarray:
    """``x`` with one ``size``×``size`` square per image set to 0 (to inpaint), placed from ``seed``."""
    return _fixed("block", x, size, seed)


# --- specs: "gaussian:0.4" ---------------------------------------------------------------------

def parse(spec: str) -> tuple[str, float]:
    """"gaussian:0.4" -> ("gaussian", 0.4); ValueError naming the kinds when it is not one."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"noise {spec!r}: expected KIND:AMOUNT, e.g. gaussian:0.4, masking:0.5, salt_pepper:0.2 "
                         f"or block:12")
    kind, _, text = spec.partition(":")
    kind = ALIASES.get(kind.strip().lower(), kind.strip().lower())
    if kind not in KINDS:
        raise ValueError(f"noise {spec!r}: unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    try:
        amount = float(text)
    except ValueError:
        raise ValueError(f"noise {spec!r}: {text!r} is not a number") from None
    return kind, check_amount(kind, amount)


def apply(spec: str, x, seed: int = 0) -> np.ndarray:
    """The fixed noisy copy of ``x`` that ``spec`` ("gaussian:0.4") describes, drawn from ``seed``."""
    kind, amount = parse(spec)
    return _fixed(kind, x, amount, seed)


def describe(spec: str) -> str:
    """A phrase for figure titles and printouts: "Gaussian noise σ = 0.4, clipped to [0, 1]"."""
    kind, amount = parse(spec)
    return {"gaussian": f"Gaussian noise σ = {amount:g}, clipped to [0, 1]",
            "masking": f"masking noise: {amount:.0%} of the pixels set to 0",
            "salt_pepper": f"salt-and-pepper noise: {amount:.0%} of the pixels set to 0 or 1",
            "block": f"a {int(amount)}×{int(amount)} block set to 0"}[kind]


def layer(spec: str, seed=None):
    """The train-mode-only layer for ``spec`` ("gaussian:0.4" -> GaussianCorruption(0.4))."""
    from .layers import corruption
    kind, amount = parse(spec)
    return corruption.BY_KIND[kind](amount, seed=seed)
