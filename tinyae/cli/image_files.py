"""Image files through a saved model, for ``tinyae reconstruct --images`` and ``tinyae denoise --images``.

Each file is read with the model's channel count (grey for a 1-channel model, RGB for a 3-channel one) and
passed through the model on its own, at the size the model can take:

- its own size, when the model takes it (a fully convolutional model takes a multiple of its total stride:
  the image is padded at the bottom and right by reflection to the next multiple, and the output cut back);
- the model's input size, with ``--resize`` (Lanczos, tinyae.images.fit_to); without --resize a model that
  takes one size only (a dense model) refuses an image of another size, saying to pass --resize.

The PSNR and MSE are of the output against the image the model was given (the resized one, with --resize).
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import ShapeError
from .common import CommandError


class FileInput(NamedTuple):
    path: Path
    image: np.ndarray        # (1, C, H, W): what the model is given (resized with --resize)
    multiple: int            # pad to multiples of this before the model (1: no padding)
    note: str                # how the image was fitted to the model, for the report


def read_mode(model) -> str | None:
    """"grey" or "rgb" for a model taking 1 or 3 channels; None (grey stays grey) when the model does not say."""
    shape = getattr(model, "input_shape", None)
    if shape is None or len(shape) != 3:
        return None
    return {1: "grey", 3: "rgb"}.get(shape[0])


def _size(shape) -> str:
    return f"{shape[-2]}×{shape[-1]}"


def fit_file(model, path: Path, x: np.ndarray, resize: bool) -> FileInput:
    """How the image x (1, C, H, W) read from ``path`` goes through ``model`` (see the module)."""
    from ..images import fit_to
    from ..images.fitting import size_multiple
    want = getattr(model, "input_shape", None)
    channels, height, width = x.shape[1:]
    if resize:
        if want is None or len(want) != 3:
            raise CommandError("--resize needs a model with a fixed input size; this one does not declare it")
        if (height, width) == tuple(want[1:]):
            return FileInput(path, x, 1, f"{_size(x.shape)}")
        return FileInput(path, fit_to(x, want[1:]), 1, f"{_size(x.shape)} resized to {_size(want)}")
    multiple = size_multiple(model, channels, height, width)
    if multiple is None:
        takes = f"{_size(want)} images only" if want is not None else "no image of this size"
        raise CommandError(f"{path}: the image is {height}×{width} pixels (H×W), but the model takes {takes}; "
                           f"pass --resize to resize each image to the model's size (Lanczos)")
    padded = (-height % multiple, -width % multiple) != (0, 0)
    note = (f"{height}×{width}, padded to {height + -height % multiple}×{width + -width % multiple} (stride "
            f"{multiple}) and cropped back" if padded else f"{height}×{width}")
    return FileInput(path, x, multiple, note)


def read_files(model, paths, resize: bool) -> list[FileInput]:
    from ..images import read
    mode = read_mode(model)
    return [fit_file(model, Path(p), read(p, mode), resize) for p in paths]


def run(model, item: FileInput, x: np.ndarray) -> np.ndarray:
    """The model's output for x (an image the size of item.image, e.g. its noisy copy), padded and cropped."""
    from ..images.fitting import apply_padded
    from ..train import predict
    try:
        return apply_padded(lambda padded: predict(model, padded), x, item.multiple)
    except ShapeError as exc:
        raise CommandError(f"{item.path}: {exc}") from None


def canvas(arrays) -> np.ndarray:
    """Images of several sizes (each (1, C, H, W)) as one batch for a figure: padded with black at the bottom
    and right to the largest height and width, grey repeated to RGB if the batch mixes both."""
    height = max(a.shape[2] for a in arrays)
    width = max(a.shape[3] for a in arrays)
    channels = max(a.shape[1] for a in arrays)
    out = np.zeros((len(arrays), channels, height, width), np.float32)
    for i, a in enumerate(arrays):
        out[i, :, :a.shape[2], :a.shape[3]] = a[0]
    return out


def output_names(paths, suffix: str = "") -> list[str]:
    """A file name per input (its stem + suffix + .png), numbered where two inputs share a stem."""
    stems = [Path(p).stem for p in paths]
    return [f"{stem}{suffix}.png" if stems.count(stem) == 1 else f"{stem}.{i + 1}{suffix}.png"
            for i, stem in enumerate(stems)]


def write_outputs(folder, named) -> list[Path]:
    """Write each (file name, image (1, C, H, W)) into ``folder`` (created) as 8-bit PNG."""
    from ..images import write
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [write(folder / name, image) for name, image in named]
