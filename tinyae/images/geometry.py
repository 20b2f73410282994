"""Image sizes: resizing (explicit, never silent), padding to a multiple of a model's stride, cropping back.

A fully convolutional model of total stride s takes any image whose height and width are multiples of s:

    padded, size = pad_to_multiple(x, 4)            # bottom and right, reflected
    y = crop(model.reconstruct(padded), size)       # back to the image's own size

A dense model takes one size only; ``fit_to(x, (28, 28))`` resizes to it, visibly in the code.
All functions take batches (N, C, H, W); pad_to_multiple and crop also take any (..., H, W).
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .pillow import pil

PAD_MODES = ("reflect", "edge", "constant")


def _size(size, what: str) -> tuple[int, int]:
    try:
        h, w = size
    except (TypeError, ValueError):
        raise ValueError(f"{what}: size must be (height, width), got {size!r}") from None
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in (h, w)):
        raise ValueError(f"{what}: size must be two whole numbers ≥ 1 (height, width), got {size!r}")
    return int(h), int(w)


def _batch(x, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ShapeError(f"{what}: expected a batch of images (N, C, H, W), got shape {tuple(x.shape)} "
                         f"(one image (C, H, W) needs x[None])")
    return x


def resize(x, size) -> np.ndarray:
    """x (N, C, H, W) -> (N, C, h, w) float32, ``size = (h, w)``, with Pillow's LANCZOS filter.

    Each channel of each image is resized as 32-bit floats (Pillow's mode "F"), so nothing is rounded to
    8 bits on the way. Lanczos rings slightly past the input's range at sharp edges; the result is clipped
    to [0, 1], the range of images.
    """
    Image = pil()
    x = _batch(x, "resize")
    h, w = _size(size, "resize")
    n, c = x.shape[:2]
    planes = np.asarray(x, np.float32).reshape(n * c, *x.shape[2:])
    out = np.empty((n * c, h, w), np.float32)
    for i, plane in enumerate(planes):
        out[i] = np.asarray(Image.fromarray(np.ascontiguousarray(plane)).resize((w, h), Image.Resampling.LANCZOS))
    return np.clip(out, 0.0, 1.0).reshape(n, c, h, w)


def fit_to(x, size) -> np.ndarray:
    """x (N, C, H, W) resized to ``size = (h, w)`` (see resize), or x itself when it has that size already."""
    x = _batch(x, "fit_to")
    size = _size(size, "fit_to")
    return x if tuple(x.shape[2:]) == size else resize(x, size)


def padding_to_multiple(height: int, width: int, multiple: int) -> tuple[int, int]:
    """The rows and columns to add (bottom, right) so that both sides become multiples of ``multiple``."""
    return -height % multiple, -width % multiple


def pad_to_multiple(x, multiple: int, mode: str = "reflect", value: float = 0.0):
    """(padded, (H, W)): x (..., H, W) padded at the bottom and right to multiples of ``multiple``.

    mode: "reflect" (mirrored about the last row and column, not repeating them; a single row or column is
    repeated), "edge" (the last row and column repeated) or "constant" (``value``). (H, W) is the original
    size, for crop.
    """
    if isinstance(multiple, bool) or not isinstance(multiple, (int, np.integer)) or multiple < 1:
        raise ValueError(f"pad_to_multiple: multiple must be a whole number ≥ 1, got {multiple!r}")
    if mode not in PAD_MODES:
        raise ValueError(f"pad_to_multiple: unknown mode {mode!r}: choose one of {', '.join(PAD_MODES)}")
    x = np.asarray(x)
    if x.ndim < 2:
        raise ShapeError(f"pad_to_multiple: expected images (..., H, W), got shape {tuple(x.shape)}")
    height, width = x.shape[-2:]
    rows, columns = padding_to_multiple(height, width, int(multiple))
    if rows == columns == 0:
        return x, (height, width)
    pads = [(0, 0)] * (x.ndim - 2) + [(0, rows), (0, columns)]
    options = {"constant_values": value} if mode == "constant" else {}
    return np.pad(x, pads, mode=mode, **options), (height, width)


def crop(x, size) -> np.ndarray:
    """x (..., H', W') cut to its top-left (H, W) = ``size``: the inverse of pad_to_multiple."""
    x = np.asarray(x)
    h, w = _size(size, "crop")
    if x.ndim < 2 or x.shape[-2] < h or x.shape[-1] < w:
        raise ShapeError(f"crop: cannot cut {h}×{w} out of an array of shape {tuple(x.shape)}")
    return x[..., :h, :w]
