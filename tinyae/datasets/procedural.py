"""A procedural data set of filled shapes (circles, squares, triangles) that needs no files at all.

``shapes(n, size, channels, seed, kinds)`` -> (images, labels); see its docstring.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["shapes"]

_SQRT3_2 = math.sqrt(3) / 2


def _sd_circle(dx, dy, r):
    return np.sqrt(dx * dx + dy * dy) - 0.9 * r  # area ≈ 2.5 r²


def _sd_square(dx, dy, r):
    return np.maximum(np.abs(dx), np.abs(dy)) - 0.8 * r  # axis-aligned, side 1.6 r


def _sd_triangle(dx, dy, r):
    # Upright equilateral triangle, circumradius r, centroid at the centre (y points down):
    # apex (0, -r), base corners (±√3/2 r, r/2). Max of the three edges' signed distances,
    # and of the bounding box's, which keeps the anti-aliased apex and corners inside it.
    edges = np.maximum(dy - 0.5 * r, _SQRT3_2 * np.abs(dx) - 0.5 * (dy + r))
    box = np.maximum(-(dy + r), np.abs(dx) - _SQRT3_2 * r)
    return np.maximum(edges, box)


_SHAPES = {"circle": _sd_circle, "square": _sd_square, "triangle": _sd_triangle}


def shapes(
    n: int = 1000,
    size: int = 28,
    channels: int = 1,
    seed: int = 0,
    kinds: Sequence[str] = ("circle", "square", "triangle"),
) -> tuple[np.ndarray, np.ndarray]:
    """A procedural data set of filled shapes, one per image, needing no files.

    Each image holds one shape of a random position and size (its outer radius between
    0.15 and 0.35 of ``size``; it never touches the border). The edges are anti-aliased:
    a pixel's value is its coverage, clip(0.5 − d, 0, 1), with d the signed distance in
    pixels from its centre to the shape's edge. Grayscale images are white shapes on
    black; RGB images have a random bright colour per shape on a random dark background.
    The classes are balanced (their counts differ by at most one) and shuffled. The same
    seed gives the same images; ``channels=1`` and ``channels=3`` share the geometry.

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Height and width in pixels, at least 8.
    channels : {1, 3}
        Grayscale or RGB.
    seed : int
        Seed of ``numpy.random.default_rng``.
    kinds : sequence of str
        Which shapes, any of "circle", "square", "triangle"; label i is ``kinds[i]``.

    Returns
    -------
    images : ndarray, float32, shape (n, channels, size, size), in [0, 1]
    labels : ndarray, uint8, shape (n,), indices into ``kinds``
    """
    kinds = tuple(kinds)
    if not kinds or any(k not in _SHAPES for k in kinds):
        raise ValueError(f"shapes: kinds must be a non-empty sequence of {', '.join(map(repr, _SHAPES))}; got {kinds!r}")
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"shapes: kinds has duplicates: {kinds!r}")
    if channels not in (1, 3):
        raise ValueError(f"shapes: channels must be 1 or 3, got {channels!r}")
    if int(size) != size or size < 8:
        raise ValueError(f"shapes: size must be an integer of at least 8, got {size!r}")
    if int(n) != n or n < 0:
        raise ValueError(f"shapes: n must be a non-negative integer, got {n!r}")
    n, size = int(n), int(size)

    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(kinds)).astype(np.uint8)   # (n,)
    r = rng.uniform(0.15 * size, 0.35 * size, n)                          # (n,) outer radius
    cx = rng.uniform(r + 1.0, size - r - 1.0)                              # (n,) keeps a clear border
    cy = rng.uniform(r + 1.0, size - r - 1.0)                              # (n,)

    coords = np.arange(size, dtype=np.float64) + 0.5                       # pixel centres
    cover = np.zeros((n, size, size), dtype=np.float32)                    # (n, H, W) coverage
    for k, kind in enumerate(kinds):
        idx = np.flatnonzero(labels == k)                                  # (n_k,)
        if idx.size == 0:
            continue
        dx = coords[None, None, :] - cx[idx, None, None]                   # (n_k, 1, W)
        dy = coords[None, :, None] - cy[idx, None, None]                   # (n_k, H, 1)
        d = _SHAPES[kind](dx, dy, r[idx, None, None])                      # (n_k, H, W)
        cover[idx] = np.clip(0.5 - d, 0.0, 1.0)

    if channels == 1:
        images = cover[:, None]                                            # (n, 1, H, W)
    else:
        fg = rng.uniform(0.3, 1.0, (n, 3))                                 # (n, 3) colour per shape
        fg /= fg.max(axis=1, keepdims=True)                                # brightest channel = 1
        bg = rng.uniform(0.0, 0.15, (n, 3))                                # (n, 3) dark background
        c = cover[:, None]                                                 # (n, 1, H, W)
        images = bg[:, :, None, None] * (1 - c) + fg[:, :, None, None] * c  # (n, 3, H, W)
    return np.ascontiguousarray(images, dtype=np.float32), labels
