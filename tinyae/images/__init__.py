"""Image files in and out, image sizes, and the standard codecs as references.

    from tinyae import images
    x = images.read("photo.png")                        # (1, C, H, W) float32 in [0, 1]
    padded, size = images.pad_to_multiple(x, 4)         # for a fully convolutional model of stride 4
    images.write("out.png", images.crop(model.reconstruct(padded), size))
    data = images.reference.jpeg_bytes(x[0], quality=75)

io.py: read, read_all, write, to_uint8, from_uint8. geometry.py: resize, fit_to, pad_to_multiple, crop.
reference.py: jpeg_bytes, webp_bytes, png_bytes, decode_bytes, and (from containers.py) jpeg_scan_data and
webp_vp8_chunk. fitting.py: which padding a model needs (size_multiple) and running it padded (apply_padded).

Pillow is an optional extra (``pip install -e ".[images]"``): this package imports without it, and each
function that needs it raises ImportError saying how to install it.
"""
from . import containers, fitting, geometry, io, reference
from .geometry import crop, fit_to, pad_to_multiple, resize
from .io import from_uint8, read, read_all, to_uint8, write

__all__ = ["containers", "fitting", "geometry", "io", "reference", "read", "read_all", "write", "to_uint8",
           "from_uint8", "resize", "fit_to", "pad_to_multiple", "crop"]
