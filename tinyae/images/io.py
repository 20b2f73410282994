"""Image files in and out: (1, C, H, W) float32 in [0, 1], the form every tinyae model takes.

    x = images.read("photo.jpg")                    # (1, 3, H, W), or (1, 1, H, W) for a grey file
    x = images.read("photo.jpg", mode="grey")       # Pillow's "L" conversion (ITU-R 601-2 luma)
    batch = images.read_all(paths, size=(28, 28))   # (N, C, 28, 28), each resized (geometry.resize)
    images.write("out.png", model.reconstruct(x))   # 8 bits, the format chosen by the extension

Reading goes through Pillow (an optional extra: ``pip install -e ".[images]"``), so every format Pillow
reads is read: PNG, JPEG, BMP, WebP, GIF (its first frame), TIFF, .... Pillow's decompression-bomb limit
stays on (see tinyae/images/pillow.py). Every fault is an ImageFileError naming the file.

Channels (``mode``): "grey" gives C = 1, "rgb" C = 3; None keeps a grey file grey (modes 1, L, LA, the
16-bit I;16 family, and a palette image whose colours are all grey) and makes everything else RGB.
Alpha is dropped, not composited over a background: an RGBA pixel keeps its colour whatever its alpha.
16-bit grey files are scaled by 1/65535, 8-bit ones by 1/255 (Pillow itself reads a 16-bit colour PNG as
8-bit RGB). Pillow's 32-bit modes (I outside PNG, F) have no fixed scale and are refused.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import atomic
from ..errors import DTypeError, ImageFileError, NumericalError, ShapeError
from .pillow import describe, open_image, pil

MODES = (None, "grey", "rgb")
GREY_MODES = {"1", "L", "LA", "La"}
SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
PALETTE_MODES = {"P", "PA"}
QUALITY_FORMATS = {"JPEG", "WEBP"}


# --- 8 bits -------------------------------------------------------------------------------------------

def to_uint8(x) -> np.ndarray:
    """Floats in [0, 1] -> uint8 0..255: clipped to [0, 1], then round half up of x·255 (floor(x·255 + 0.5)),
    computed in float64. NaN is refused (NumericalError). ``to_uint8(from_uint8(a)) == a`` for every uint8 a."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise DTypeError(f"to_uint8: expected floats in [0, 1], got dtype {x.dtype} "
                         f"(0..255 integers are already 8 bits; from_uint8(a) makes floats of them)")
    if np.isnan(x).any():
        raise NumericalError("to_uint8: the image holds NaN; an 8-bit pixel needs a number")
    return np.floor(np.clip(x.astype(np.float64), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def from_uint8(a) -> np.ndarray:
    """uint8 0..255 -> float32 a / 255 in [0, 1] (exact inverse of to_uint8 on its outputs)."""
    a = np.asarray(a)
    if a.dtype != np.uint8:
        raise DTypeError(f"from_uint8: expected dtype uint8, got {a.dtype}")
    return a.astype(np.float32) / np.float32(255.0)


# --- Pillow images <-> arrays -------------------------------------------------------------------------

def check_mode(mode) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown image mode {mode!r}: choose 'grey' (1 channel), 'rgb' (3 channels) or None "
                         f"(grey files stay grey, all others become RGB)")


def _grey_palette(image) -> bool:
    rgb = np.asarray(image.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def is_grey(image) -> bool:
    """Whether a Pillow image holds grey values only (by its mode; a palette image by its colours)."""
    if image.mode in GREY_MODES or image.mode in SIXTEEN_BIT_MODES:
        return True
    if image.mode == "I" and image.format == "PNG":
        return True
    return image.mode in PALETTE_MODES and _grey_palette(image)


def _sixteen_bit_grey(image, source) -> np.ndarray | None:
    """(H, W) float32 of a 16-bit grey image (1/65535 scale), or None for any other image."""
    if image.mode in SIXTEEN_BIT_MODES or (image.mode == "I" and image.format == "PNG"):
        return np.asarray(image).astype(np.float32) / np.float32(65535.0)
    if image.mode in ("I", "F"):
        kind = "32-bit integer" if image.mode == "I" else "32-bit float"
        raise ImageFileError(f"{describe(source)}: {kind} pixels (Pillow mode {image.mode}) have no fixed scale to "
                             f"[0, 1]; save the image with 8 or 16 bits per channel")
    return None


def from_pil(image, mode=None, source="the image") -> np.ndarray:
    """A decoded Pillow image -> (1, C, H, W) float32 in [0, 1] (``mode`` as for read)."""
    check_mode(mode)
    grey16 = _sixteen_bit_grey(image, source)
    if mode is None:
        mode = "grey" if is_grey(image) else "rgb"
    if grey16 is not None:
        x = grey16[None]
        return (x if mode == "grey" else np.repeat(x, 3, axis=0))[None]
    if mode == "grey":
        return from_uint8(np.asarray(image.convert("L")))[None, None]
    return from_uint8(np.asarray(image.convert("RGB"))).transpose(2, 0, 1)[None].copy()


def one_image(x, what: str) -> np.ndarray:
    """``x`` as one image (C, H, W) of floats, C = 1 or 3; (1, C, H, W) is taken as (C, H, W)."""
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 3 or x.shape[0] not in (1, 3) or x.shape[1] == 0 or x.shape[2] == 0:
        raise ShapeError(f"{what}: expected one image (C, H, W) or (1, C, H, W) with C = 1 (grey) or 3 (RGB), "
                         f"got shape {tuple(x.shape)}")
    if not np.issubdtype(x.dtype, np.floating):
        raise DTypeError(f"{what}: expected floats in [0, 1], got dtype {x.dtype} (from_uint8(a) converts 0..255)")
    return x


def to_pil(x, what: str = "to_pil"):
    """One image (C, H, W) floats in [0, 1] -> a Pillow image, mode "L" (C = 1) or "RGB" (C = 3), 8 bits."""
    Image = pil()
    a = to_uint8(one_image(x, what))
    return Image.fromarray(a[0] if a.shape[0] == 1 else np.ascontiguousarray(a.transpose(1, 2, 0)))


# --- files ---------------------------------------------------------------------------------------------

def read(path, mode=None) -> np.ndarray:
    """The image file ``path`` as (1, C, H, W) float32 in [0, 1]; mode "grey", "rgb" or None (see the module)."""
    check_mode(mode)
    pil()                                               # without Pillow: say how to install it, first
    path = Path(path)
    if path.is_dir():
        raise ImageFileError(f"{path}: is a folder, not an image file")
    if not path.exists():
        raise ImageFileError(f"{path}: no such image file")
    with open(path, "rb") as f:
        if f.seek(0, 2) == 0:
            raise ImageFileError(f"{path}: the file is empty (0 bytes), not an image")
        f.seek(0)
        image = open_image(path, f)
        return from_pil(image, mode, path)


def read_all(paths, mode=None, size=None) -> np.ndarray:
    """The image files ``paths`` as one batch (N, C, H, W) float32 in [0, 1].

    They must all have the same size and channel count, or ``size=(h, w)`` resizes each (geometry.resize);
    with mode None a grey file among RGB ones is an error suggesting mode="rgb".
    """
    from .geometry import resize
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not paths:
        raise ValueError("read_all: no image files given")
    batch = []
    for path in paths:
        x = read(path, mode)
        if size is not None:
            x = resize(x, size)
        if batch and x.shape[1] != batch[0].shape[1]:
            raise ImageFileError(f"{path}: has {x.shape[1]} channel(s), but {paths[0]} has {batch[0].shape[1]}; "
                                 f"pass mode='rgb' (or 'grey') to read them all alike")
        if batch and x.shape[2:] != batch[0].shape[2:]:
            raise ImageFileError(f"{path}: is {x.shape[2]}×{x.shape[3]} pixels (H×W), but {paths[0]} is "
                                 f"{batch[0].shape[2]}×{batch[0].shape[3]}; images of one batch need one size: "
                                 f"pass size=(h, w) to resize each")
        batch.append(x)
    return np.concatenate(batch)


def format_of(path) -> str:
    """Pillow's format name for ``path``'s extension ("PNG" when it has none)."""
    Image = pil()
    path = Path(path)
    if not path.suffix:
        return "PNG"
    name = Image.registered_extensions().get(path.suffix.lower())
    if name is None or name not in Image.SAVE:
        raise ImageFileError(f"{path}: Pillow cannot write images with the extension {path.suffix!r}; "
                             f"use .png, .jpg, .webp, .bmp or .tif")
    return name


def write(path, x, quality: int | None = None) -> Path:
    """Write one image x (C, H, W) or (1, C, H, W), floats in [0, 1], to ``path``, atomically.

    The values are clipped and rounded to 8 bits (to_uint8). The format is chosen by the extension
    (PNG when there is none); ``quality`` (1..100) is for JPEG and WebP only. Returns the path.
    """
    path = Path(path)
    image = to_pil(x, f"write {path}")
    name = format_of(path)
    options = {}
    if quality is not None:
        if name not in QUALITY_FORMATS:
            raise ValueError(f"write {path}: quality is for JPEG and WebP files, not {name}")
        if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
            raise ValueError(f"write {path}: quality must be a whole number from 1 to 100, got {quality!r}")
        options["quality"] = quality
    return atomic.write(path, lambda f: image.save(f, format=name, **options))
