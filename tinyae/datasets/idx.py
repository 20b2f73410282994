"""The IDX format of the MNIST files: reading and writing.

A file is gzip-compressed or raw; which one is told by its first two bytes (1f 8b), never by
its name. Layout (all integers big-endian)::

    byte 0-1   0x00 0x00
    byte 2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                          0x0D float32, 0x0E float64
    byte 3     number of dimensions, d >= 1
    then       d uint32 sizes, then prod(sizes) items, C order, nothing after them

``decompress`` and ``parse`` are the two steps of ``read_idx`` on bytes in memory; the data
sets' loader (mnist_sets.py) uses them to verify a file's checksums on the bytes it parses.
"""

from __future__ import annotations

import gzip as _gzip
import math
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import atomic
from ..errors import DataError, DTypeError

__all__ = ["read_idx", "write_idx"]

#: IDX type code -> NumPy dtype of the items as stored (big-endian).
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def dims_str(dims: Sequence[int]) -> str:
    return "×".join(str(d) for d in dims) if dims else "(no dimensions)"


def decompress(raw: bytes, source: str) -> bytes:
    """The IDX bytes of a file's content: gunzipped when it starts with the gzip magic."""
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return _gzip.decompress(raw)
    except EOFError as e:
        raise DataError(f"{source}: truncated gzip stream ({e}); the file is incomplete") from None
    except (OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{source}: corrupt gzip stream ({e})") from None


def parse(data: bytes, source: str) -> np.ndarray:
    """Parse uncompressed IDX bytes; returns a read-only big-endian view of ``data``."""
    if len(data) < 4:
        raise DataError(f"{source}: not an IDX file: {len(data)} bytes, shorter than the 4-byte magic number")
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{source}: not an IDX file: bad magic number {data[:4].hex(' ')} "
            f"(an IDX file starts with two zero bytes, a type code and the number of dimensions)"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X} {t.name}" for c, t in IDX_TYPES.items())
        raise DataError(f"{source}: unknown IDX type code 0x{code:02X} in the magic number (known: {known})")
    if ndim == 0:
        raise DataError(f"{source}: bad IDX header: the magic number says 0 dimensions (at least 1 is needed)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{source}: truncated header: {ndim} dimensions need a {header}-byte header, file has {len(data)} bytes"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_TYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    got = len(data) - header
    if got != expected:
        what = "truncated" if got < expected else f"{got - expected} trailing bytes"
        raise DataError(
            f"{source}: {what}: header says {dims_str(dims)} = {expected} bytes of {dtype.name} data, "
            f"file has {got} after the {header}-byte header"
        )
    return np.frombuffer(data, dtype=dtype, count=math.prod(dims), offset=header).reshape(dims)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a NumPy array.

    Parameters
    ----------
    path : str or path-like
        The file. Compression is detected from its first bytes (1f 8b), not its name.

    Returns
    -------
    ndarray
        Shape as given by the file's header, dtype from its type code (uint8, int8, int16,
        int32, float32 or float64) in native byte order; a fresh, writable array.

    Raises
    ------
    DataError
        The file is not IDX, its gzip stream is corrupt or truncated, or its payload is
        shorter or longer than its header says. The message names the file.
    FileNotFoundError
        No such file.
    """
    path = Path(path)
    raw = path.read_bytes()
    arr = parse(decompress(raw, str(path)), str(path))
    return arr.astype(arr.dtype.newbyteorder("="))  # a copy, native order, writable


def _idx_code(dtype: np.dtype) -> int:
    for code, t in IDX_TYPES.items():
        if dtype.kind == t.kind and dtype.itemsize == t.itemsize:
            return code
    names = ", ".join(t.name for t in IDX_TYPES.values())
    raise DTypeError(f"write_idx: IDX cannot store dtype {dtype}; use one of {names}")


def write_idx(path: str | os.PathLike, array, gzip: bool = False) -> Path:
    """Write ``array`` to ``path`` in IDX format, gzip-compressed when ``gzip`` is true.

    Parameters
    ----------
    path : str or path-like
        The file to write (replaced atomically if it exists). The name is not changed:
        add ``.gz`` yourself if you want it.
    array : array_like
        Any shape with 1 to 255 dimensions, each below 2**32; dtype uint8, int8, int16,
        int32, float32 or float64 (stored big-endian, as the format requires).
    gzip : bool
        Compress with gzip (the header's timestamp is 0, so the output is reproducible).

    Returns
    -------
    Path
        ``path``.
    """
    arr = np.asarray(array)
    code = _idx_code(arr.dtype)
    if not 1 <= arr.ndim <= 255:
        raise ValueError(f"write_idx: IDX stores 1 to 255 dimensions, array has {arr.ndim}")
    if any(d >= 2**32 for d in arr.shape):
        raise ValueError(f"write_idx: every dimension must be below 2**32, shape is {arr.shape}")
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload = np.ascontiguousarray(arr, dtype=IDX_TYPES[code]).tobytes()
    data = header + payload
    if gzip:
        data = _gzip.compress(data, mtime=0)
    path = Path(path)
    atomic.write(path, lambda f: f.write(data), suffix=".part")
    return path
