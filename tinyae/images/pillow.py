"""Pillow, imported only when an image is read or written, and opened with its safety checks turned into
clear errors.

Pillow is an optional extra (``pip install -e ".[images]"``): ``import tinyae`` works without it, and
every function here raises ImportError saying how to install it.

Pillow's decompression-bomb check stays on. Pillow warns (``DecompressionBombWarning``) when an image
has more than ``PIL.Image.MAX_IMAGE_PIXELS`` pixels and refuses (``DecompressionBombError``) beyond twice
that; tinyae refuses both, with an ImageFileError naming the file, its pixel count and the limit.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

from ..errors import ImageFileError

INSTALL = 'pip install -e ".[images]"'


def pil():
    """The ``PIL.Image`` module, or ImportError saying how to install Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"reading and writing image files needs Pillow: {INSTALL} (or pip install Pillow)") from None
    return Image


def describe(source) -> str:
    """How a message names what is read: the path, or "image bytes" for data in memory."""
    return str(source) if isinstance(source, (str, Path)) else "the image bytes"


def bomb_message(source, exc: Exception) -> str:
    Image = pil()
    found = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = f"{int(found.group(1)):,} pixels" if found else "more pixels"
    return (f"{describe(source)}: the image has {pixels}, over Pillow's decompression-bomb limit of "
            f"{Image.MAX_IMAGE_PIXELS:,} pixels (PIL.Image.MAX_IMAGE_PIXELS); if you trust the file, raise the "
            f"limit before reading it: PIL.Image.MAX_IMAGE_PIXELS = {found.group(1) if found else 'N'} "
            f"(None turns the check off)")


def open_image(source, opened):
    """The image in ``source`` (a path, or a binary file ``opened`` already holds), fully decoded (first frame).

    Each fault Pillow can meet is an ImageFileError naming ``source``: not an image, truncated or
    damaged, over the decompression-bomb limit.
    """
    Image = pil()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(opened)
            image.seek(0)                                       # the first frame of a GIF, an animated WebP, a TIFF
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageFileError(bomb_message(source, exc)) from None
        except Image.UnidentifiedImageError:
            raise ImageFileError(f"{describe(source)}: not an image file Pillow can read (it starts with "
                                 f"{_head(opened)!r}); expected PNG, JPEG, BMP, WebP, GIF, TIFF or another format "
                                 f"Pillow knows") from None
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ImageFileError(f"{describe(source)}: the image is truncated or damaged ({exc})") from None
    return image


def _head(opened, n: int = 16) -> bytes:
    try:
        opened.seek(0)
        return opened.read(n)
    except (OSError, AttributeError):
        return b""
