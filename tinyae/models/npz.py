"""Reading and writing .npz archives safely: model files and checkpoints cross a trust boundary.

``read_npz`` reads the archive with ``zipfile`` and inspects each .npy header before any
data: an object array (which only pickle could rebuild, and unpickling can run arbitrary
code) is refused unread, a header that promises more data than the entry holds is
reported as truncated without allocating, and every other fault gets its own
ModelFileError naming the file. ``write_npz_atomically`` writes to a temporary file
beside the target and renames it, so a crash never leaves half a file.
"""
from __future__ import annotations

import json
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from .. import atomic
from ..errors import ModelFileError


def write_npz_atomically(path: Path, arrays: dict) -> None:
    """np.savez to a temporary file beside ``path``, fsync, rename over ``path``, fsync the folder.

    A crash at any moment leaves either the previous file or the new one under ``path``,
    never a mixture (the temporary file ``.<name>.<pid>.tmp`` may be left behind).
    """
    atomic.write(path, lambda f: np.savez(f, **arrays))


_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")   # a local file header; an empty archive


def read_npz(path) -> dict[str, np.ndarray]:
    """All arrays of an .npz file, without pickle; ModelFileError (a distinct message per fault) if unsafe or unreadable.

    The archive is read with ``zipfile`` and each .npy header is inspected before any
    data is: an object array (which only pickle could rebuild, and unpickling can run
    arbitrary code) is refused without reading it, and a header that promises more
    data than the entry holds is reported as truncated without allocating the array.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such file")
    if path.is_dir():
        raise ModelFileError(f"{path}: is a folder, not a model or checkpoint file")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise ModelFileError(f"{path}: not a readable .npz file: it is empty (0 bytes); was its write interrupted?")
    if head not in _ZIP_SIGNATURES:
        raise ModelFileError(f"{path}: not a readable .npz file: it is not a zip archive (its first bytes are {head!r}; "
                             f"an .npz file starts with b'PK\\x03\\x04'); model and checkpoint files are written by "
                             f"tinyae.models.save and fit(checkpoint=...)")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ModelFileError(f"{path}: not a readable .npz file: truncated or damaged, its zip directory is missing "
                             f"or unreadable ({exc}); was its write interrupted?") from None
    arrays: dict[str, np.ndarray] = {}
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ModelFileError(f"{path}: not a readable .npz file: entry {info.filename!r} is not a .npy array")
            key = info.filename[:-4]
            if key in arrays:
                raise ModelFileError(f"{path}: not a readable .npz file: entry {key!r} appears twice")
            try:
                arrays[key] = _read_npy_entry(archive, info, key, path)
            except ModelFileError:
                raise
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, TypeError,
                    SyntaxError, NotImplementedError) as exc:
                raise ModelFileError(f"{path}: not a readable .npz file: entry {key!r} is damaged "
                                     f"({type(exc).__name__}: {exc})") from None
    return arrays


def _read_npy_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, path: Path) -> np.ndarray:
    with archive.open(info) as f:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = npy_format.read_array_header_2_0(f)
        else:
            raise ModelFileError(f"{path}: entry {key!r} uses .npy format version {version[0]}.{version[1]}, "
                                 f"which tinyae does not read")
        if dtype.hasobject:
            raise ModelFileError(f"{path}: entry {key!r} is an object array (dtype {dtype}): loading it would need "
                                 f"pickle, which can run arbitrary code; refused (tinyae files hold only numeric arrays)")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        held = info.file_size - f.tell()
        if held != nbytes:
            raise ModelFileError(f"{path}: not a readable .npz file: entry {key!r} is truncated or padded: its header "
                                 f"says {dtype} {tuple(shape)} ({nbytes} bytes), the entry holds {held}")
        data = bytearray(f.read(nbytes))
        if len(data) != nbytes or f.read(1):     # reading to the end also checks the entry's CRC-32
            raise ModelFileError(f"{path}: not a readable .npz file: entry {key!r} is truncated")
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)


def decode_json(entry: np.ndarray, path, what: str):
    """The JSON value stored as UTF-8 bytes in a uint8 array (as ``save`` writes ARCH_KEY)."""
    if entry.dtype != np.uint8 or entry.ndim != 1:
        raise ModelFileError(f"{path}: the {what} entry is not JSON text (dtype {entry.dtype}, shape {entry.shape})")
    try:
        return json.loads(entry.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: the {what} entry is not valid JSON ({exc})") from None
