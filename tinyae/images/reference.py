"""The standard codecs as references for tinyae's compression: real bytes from Pillow's JPEG, WebP and PNG.

    data = jpeg_bytes(x, quality=75)            # the whole file, as a viewer would get it
    bits_per_pixel = 8 * len(data) / (h * w)
    scan = jpeg_scan_data(data)                 # the entropy-coded part only, without headers
    y = decode_bytes(data)                      # (1, C, H, W) float32, what the decoder gives back

Each encoder takes one image x (C, H, W) or (1, C, H, W), floats in [0, 1], rounded to 8 bits first
(io.to_uint8): the codecs see exactly the 8-bit image that io.write would store.
"""
from __future__ import annotations

import io as _io

import numpy as np

from .containers import JpegLayout, WebpLayout, jpeg_layout, jpeg_scan_data, webp_layout, webp_vp8_chunk
from .io import from_pil, to_pil
from .pillow import open_image

SUBSAMPLING = ("4:4:4", "4:2:2", "4:2:0")

__all__ = ["jpeg_bytes", "webp_bytes", "png_bytes", "decode_bytes", "jpeg_scan_data", "jpeg_layout", "JpegLayout",
           "webp_vp8_chunk", "webp_layout", "WebpLayout"]


def _quality(quality, low: int, what: str) -> int:
    if isinstance(quality, bool) or not isinstance(quality, int) or not low <= quality <= 100:
        raise ValueError(f"{what}: quality must be a whole number from {low} to 100, got {quality!r}")
    return quality


def _encode(x, what: str, **options) -> bytes:
    buffer = _io.BytesIO()
    to_pil(x, what).save(buffer, **options)
    return buffer.getvalue()


def jpeg_bytes(x, quality: int, optimize: bool = True, subsampling: str = "4:2:0",
               progressive: bool = False) -> bytes:
    """One image as a JPEG file (Pillow's libjpeg). ``quality`` 1..100; ``optimize``: Huffman tables made
    for this image (smaller files, the same pixels); ``subsampling`` of the colour planes, "4:2:0" (libjpeg's
    default), "4:2:2" or "4:4:4" (ignored for grey); ``progressive``: several scans instead of one."""
    if subsampling not in SUBSAMPLING:
        raise ValueError(f"jpeg_bytes: subsampling must be one of {', '.join(SUBSAMPLING)}, got {subsampling!r}")
    return _encode(x, "jpeg_bytes", format="JPEG", quality=_quality(quality, 1, "jpeg_bytes"),
                   optimize=bool(optimize), subsampling=subsampling, progressive=bool(progressive))


def webp_bytes(x, quality: int, lossless: bool = False, method: int = 6) -> bytes:
    """One image as a WebP file (libwebp). ``quality`` 0..100 (for lossless: the effort); ``method`` 0..6,
    the encoder's speed/size trade-off (6: slowest, smallest)."""
    if isinstance(method, bool) or not isinstance(method, int) or not 0 <= method <= 6:
        raise ValueError(f"webp_bytes: method must be a whole number from 0 to 6, got {method!r}")
    return _encode(x, "webp_bytes", format="WEBP", quality=_quality(quality, 0, "webp_bytes"),
                   lossless=bool(lossless), method=method)


def png_bytes(x) -> bytes:
    """One image as a PNG file (lossless, 8 bits, zlib at Pillow's maximum effort with optimize=True)."""
    return _encode(x, "png_bytes", format="PNG", optimize=True)


def decode_bytes(data: bytes, mode=None) -> np.ndarray:
    """The image in ``data`` (any format Pillow reads) as (1, C, H, W) float32 in [0, 1]; mode as io.read."""
    buffer = _io.BytesIO(bytes(data))
    return from_pil(open_image(None, buffer), mode, "the image bytes")
