"""Passing an image of any size through a model: as it is, padded to the model's stride, or not at all.

A model with an ``input_shape`` takes that size. A fully convolutional one takes others too, if their
height and width are multiples of its total stride. Which multiple a model needs is found by asking the
model itself, not by reading its layers: the smallest power of two m for which the model gives back
images of the size it was given (``model.output_shape``, the shape arithmetic every tinyae layer has)
once the image is padded to multiples of m. A dense model gives back nothing but its own size, so no m
fits and it takes one size only (``geometry.fit_to`` resizes to it, when the user asks).
"""
from __future__ import annotations

from ..errors import ShapeError
from .geometry import crop, pad_to_multiple, padding_to_multiple

MAX_MULTIPLE = 64


def _gives_back(model, shape: tuple) -> bool:
    try:
        return tuple(model.output_shape((None, *shape))[1:]) == tuple(shape)
    except (ShapeError, ValueError):
        return False


def size_multiple(model, channels: int, height: int, width: int, max_multiple: int = MAX_MULTIPLE) -> int | None:
    """The smallest power of two m (1, 2, 4, ... ≤ max_multiple) for which ``model`` gives back images of
    (channels, height, width) padded to multiples of m at the same size; None if there is none."""
    multiple = 1
    while multiple <= max_multiple:
        rows, columns = padding_to_multiple(height, width, multiple)
        if _gives_back(model, (channels, height + rows, width + columns)):
            return multiple
        multiple *= 2
    return None


def apply_padded(function, x, multiple: int, mode: str = "reflect"):
    """``function`` (images -> images of the same size) applied to x (N, C, H, W) padded at the bottom and
    right to multiples of ``multiple`` (reflected), its output cut back to (H, W)."""
    padded, size = pad_to_multiple(x, multiple, mode=mode)
    out = function(padded)
    if tuple(out.shape[2:]) != tuple(padded.shape[2:]):
        raise ShapeError(f"the model gave back {tuple(out.shape[1:])} for images padded to "
                         f"{tuple(padded.shape[1:])}; it cannot take this size")
    return crop(out, size)
