"""The .tae file: N images compressed by a learned codec; its size in bytes is the rate.

A .tae file crosses a trust boundary like a model file does: the reader believes nothing
it reads until it has checked it, and never allocates from a count it read. The payload is
opaque here (the range coder's bytes, tinyae.coding.range_coder); this module holds the
container around it.

Layout, version 1 (every number little-endian; R is the code's rank, L the payload's length):

| offset        | size | type       | field                                                        |
|---------------|------|------------|--------------------------------------------------------------|
| 0             | 8    | bytes      | magic ``b"TINYAE\\x00C"``                                    |
| 8             | 2    | uint16     | format version (1)                                           |
| 10            | 32   | bytes      | model fingerprint: sha256 of its architecture and weights    |
| 42            | 8    | uint64     | N, the number of images (1 .. MAX_COUNT)                     |
| 50            | 1    | uint8      | C, channels per image (1 or 3)                               |
| 51            | 4    | uint32     | H, image height (1 .. MAX_IMAGE_SIDE)                        |
| 55            | 4    | uint32     | W, image width (1 .. MAX_IMAGE_SIDE)                         |
| 59            | 1    | uint8      | R, the rank of one image's code (1 .. MAX_CODE_RANK)         |
| 60            | 8    | float64    | Δ, the quantiser's step (finite, > 0)                        |
| 68            | 1    | uint8      | the coder's precision in bits (1 .. MAX_PRECISION)           |
| 69            | 8    | uint64     | L, the payload's length in bytes                             |
| 77            | 4·R  | uint32 × R | one image's code shape, e.g. (D,) or (C', H', W')            |
| 77 + 4R       | 4    | uint32     | CRC-32 (zlib.crc32) of bytes 0 .. 77 + 4R                    |
| 81 + 4R       | L    | bytes      | the payload                                                  |
| 81 + 4R + L   | 4    | uint32     | CRC-32 of the payload                                        |

The file is 85 + 4R + L bytes, exactly. Caps beyond the field widths: every code
dimension ≥ 1 and one image's code at most MAX_CODE_SIZE values, N·C·H·W ≤ MAX_IMAGE_VALUES,
N · (code size) ≤ MAX_CODE_VALUES (the symbols a decoder would step through).

The reader checks, in this order, and raises CompressedFileError naming the file and the
fault: empty; magic (naming a PNG, JPEG, gzip or zip file for what it is); version;
header length; code rank; the header's CRC; every field against its range; the payload's
declared length against the bytes present (truncated, or bytes after the end); the
payload's CRC. A file that passes is exactly what ``to_bytes`` wrote.

    tae = TaeFile(model_fingerprint(model), count=N, image_shape=(1, 28, 28), code_shape=(32,),
                  step=0.5, precision=16, payload=data)
    write("digits.tae", tae)
    tae = read("digits.tae"); check_fingerprint(tae, model, "digits.tae", model_source="dense.npz")
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .. import atomic
from ..errors import CompressedFileError
from ..models.architecture import architecture
from ..models.files import state_arrays
from .tables import MAX_PRECISION

MAGIC = b"TINYAE\x00C"
VERSION = 1
READS_VERSIONS = (1,)
FIXED = struct.Struct("<8sH32sQBIIBdBQ")       # offsets 0 .. 77 of the table above
CRC = struct.Struct("<I")
DIM = struct.Struct("<I")
FINGERPRINT_SIZE = 32

MAX_COUNT = 10**7                  # images in one file
MAX_IMAGE_SIDE = 65536             # pixels, for H and W
CHANNELS = (1, 3)
MAX_CODE_RANK = 4
MAX_CODE_SIZE = 10**7              # values in one image's code
MAX_IMAGE_VALUES = 10**9           # N·C·H·W: the images the file decodes to
MAX_CODE_VALUES = 10**8            # N · code size: the symbols the decoder steps through

_KNOWN_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "a PNG image", b"\xff\xd8\xff": "a JPEG image",
                     b"\x1f\x8b": "a gzip file", b"PK\x03\x04": "a zip archive, such as a tinyae model file (.npz)",
                     b"PK\x05\x06": "a zip archive, such as a tinyae model file (.npz)"}


# --- the file's contents ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TaeFile:
    """Everything a .tae file holds; constructing one checks every field (ValueError or TypeError naming it)."""

    fingerprint: bytes                       # model_fingerprint of the model that wrote it (32 bytes)
    count: int                               # N, the number of images
    image_shape: tuple[int, int, int]        # (C, H, W) of each image
    code_shape: tuple[int, ...]              # one image's code, 1 to 4 positive dimensions
    step: float                              # Δ, the quantiser's step
    precision: int                           # the range coder's precision in bits
    payload: bytes = dataclasses.field(repr=False)   # the range coder's bytes, opaque here (not in repr)
    version: int = VERSION

    def __post_init__(self):
        def set_field(name, value):                  # the dataclass is frozen; normalise once, here
            object.__setattr__(self, name, value)

        set_field("fingerprint", _as_bytes(self.fingerprint, "fingerprint"))
        set_field("payload", _as_bytes(self.payload, "payload"))
        set_field("count", _whole(self.count, "count"))
        set_field("image_shape", _shape(self.image_shape, "image_shape"))
        set_field("code_shape", _shape(self.code_shape, "code_shape"))
        set_field("precision", _whole(self.precision, "precision"))
        set_field("version", _whole(self.version, "version"))
        if isinstance(self.step, bool) or not isinstance(self.step, numbers.Real):
            raise TypeError(f"TaeFile: step must be a real number, got {self.step!r}")
        set_field("step", float(self.step))
        if self.version != VERSION:
            raise ValueError(f"TaeFile: version {self.version}: this tinyae writes version {VERSION}")
        if len(self.fingerprint) != FINGERPRINT_SIZE:
            raise ValueError(f"TaeFile: fingerprint has {len(self.fingerprint)} bytes, expected {FINGERPRINT_SIZE} "
                             f"(tinyae.coding.tae.model_fingerprint(model))")
        if len(self.image_shape) != 3:
            raise ValueError(f"TaeFile: image_shape {self.image_shape}: expected (C, H, W)")
        problem = field_problem(self.count, self.image_shape, self.code_shape, self.step, self.precision)
        if problem:
            raise ValueError(f"TaeFile: {problem}")

    @property
    def header_size(self) -> int:
        """Bytes before the payload: the fixed fields, the code shape and the header's CRC."""
        return FIXED.size + DIM.size * len(self.code_shape) + CRC.size

    @property
    def file_size(self) -> int:
        """The size of the .tae file in bytes, exactly: the rate, header included."""
        return self.header_size + len(self.payload) + CRC.size


def _as_bytes(value, name: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"TaeFile: {name} must be bytes, got {type(value).__name__}")
    return bytes(value)


def _whole(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"TaeFile: {name} must be a whole number, got {value!r}")
    return int(value)


def _shape(value, name: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"TaeFile: {name} must be a tuple of whole numbers, got {value!r}")
    return tuple(_whole(v, name) for v in value)


def field_problem(count: int, image_shape: tuple, code_shape: tuple, step: float, precision: int) -> str | None:
    """What is wrong with these fields (the first fault, in words), or None: the one set of rules for
    both the writer and the reader. Only Python integers are multiplied, so nothing overflows or allocates."""
    if not 1 <= count <= MAX_COUNT:
        return f"image count {count} is out of range: a .tae file holds 1 to {MAX_COUNT} images"
    c, h, w = image_shape
    if c not in CHANNELS:
        return f"{c} channels per image: expected 1 (grey) or 3 (RGB)"
    if not (1 <= h <= MAX_IMAGE_SIDE and 1 <= w <= MAX_IMAGE_SIDE):
        return f"image shape {c}×{h}×{w}: height and width must be 1 to {MAX_IMAGE_SIDE} pixels"
    if count * c * h * w > MAX_IMAGE_VALUES:
        return (f"{count} images of {c}×{h}×{w} are {count * c * h * w} values, more than the cap of "
                f"{MAX_IMAGE_VALUES} (tinyae.coding.tae.MAX_IMAGE_VALUES)")
    if not 1 <= len(code_shape) <= MAX_CODE_RANK:
        return f"code shape {code_shape}: a code has 1 to {MAX_CODE_RANK} dimensions, e.g. (D,) or (C, H, W)"
    if min(code_shape) < 1:
        return f"code shape {code_shape}: every dimension must be at least 1"
    size = math.prod(code_shape)
    if size > MAX_CODE_SIZE:
        return (f"code shape {code_shape}: {size} values per image, more than the cap of {MAX_CODE_SIZE} "
                f"(tinyae.coding.tae.MAX_CODE_SIZE)")
    if count * size > MAX_CODE_VALUES:
        return (f"{count} codes of {size} values are {count * size} symbols, more than the cap of "
                f"{MAX_CODE_VALUES} (tinyae.coding.tae.MAX_CODE_VALUES)")
    if not (math.isfinite(step) and step > 0):
        return f"quantiser step {step!r}: expected a finite number > 0"
    if not 1 <= precision <= MAX_PRECISION:
        return f"coder precision {precision} bits: expected 1 to {MAX_PRECISION}"
    return None


# --- the model it belongs to --------------------------------------------------------------------------

def model_fingerprint(model) -> bytes:
    """sha256 (32 bytes) of the model's architecture and every parameter and buffer: same model, same bytes.

    Hashed in this order, each variable-length part preceded by its length (uint64): the
    label b"tinyae-model-fingerprint-1"; the architecture as JSON (sorted keys, no spaces,
    ASCII); then for every array of ``state_arrays`` by name in sorted order: its name
    (UTF-8), its dtype (little-endian, e.g. "<f4"), its rank and dimensions (uint64 each),
    and its bytes in C order, little-endian. A model saved and loaded again keeps its
    fingerprint; one changed weight, dtype, shape or layer setting changes it.
    """
    digest = hashlib.sha256()

    def part(data: bytes) -> None:
        digest.update(struct.pack("<Q", len(data)))
        digest.update(data)

    part(b"tinyae-model-fingerprint-1")
    part(json.dumps(architecture(model), sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    arrays = state_arrays(model)
    for name in sorted(arrays):
        array = np.asarray(arrays[name])
        little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        part(name.encode("utf-8"))
        part(little.dtype.str.encode("ascii"))
        part(struct.pack(f"<{1 + array.ndim}Q", array.ndim, *array.shape))
        part(little.tobytes())
    return digest.digest()


def check_fingerprint(tae: TaeFile, model, source="the .tae file", model_source="the model given") -> None:
    """CompressedFileError unless ``tae`` was written by ``model`` (the same architecture and weights)."""
    mine = model_fingerprint(model)
    if tae.fingerprint != mine:
        raise CompressedFileError(
            f"{source}: was compressed by another model: its model fingerprint is {tae.fingerprint.hex()[:16]}…, "
            f"{model_source} has {mine.hex()[:16]}…; pass the model file it was compressed with (the model whose "
            f"tinyae.coding.tae.model_fingerprint begins {tae.fingerprint.hex()[:16]}; training a model further "
            f"changes its fingerprint)")


# --- writing -----------------------------------------------------------------------------------------

def to_bytes(tae: TaeFile) -> bytes:
    """The .tae file's bytes (the layout in this module's docstring)."""
    c, h, w = tae.image_shape
    header = FIXED.pack(MAGIC, tae.version, tae.fingerprint, tae.count, c, h, w, len(tae.code_shape), tae.step,
                        tae.precision, len(tae.payload))
    header += b"".join(DIM.pack(d) for d in tae.code_shape)
    return b"".join([header, CRC.pack(zlib.crc32(header)), tae.payload, CRC.pack(zlib.crc32(tae.payload))])


def write(path_or_file, tae: TaeFile):
    """Write ``tae`` to a path (atomically: a temporary file beside it, fsynced and renamed; returns the Path)
    or to an open binary file (returns None). The path is used as given; ".tae" is the convention."""
    data = to_bytes(tae)
    if hasattr(path_or_file, "write"):
        path_or_file.write(data)
        return None
    return atomic.write(Path(path_or_file), lambda f: f.write(data))


# --- reading -----------------------------------------------------------------------------------------

def from_bytes(data: bytes, source: str = "the .tae data") -> TaeFile:
    """The TaeFile in ``data``; CompressedFileError naming ``source`` and the fault if it is not a valid .tae file."""
    data = bytes(data)
    fields, start, length = _parse_header(data[:FIXED.size + DIM.size * MAX_CODE_RANK + CRC.size], len(data), source)
    payload = data[start:start + length]
    _check_payload_crc(payload, data[start + length:], source)
    return TaeFile(payload=payload, **fields)


def read(path) -> TaeFile:
    """The TaeFile stored at ``path``; CompressedFileError naming the file and the fault if it is not valid.

    The header is read and checked first; the payload is read only once its declared
    length matches the file's size, so a crafted or foreign file costs no more memory than its header.
    """
    path = Path(path)
    if not path.exists():
        raise CompressedFileError(f"{path}: no such file")
    if path.is_dir():
        raise CompressedFileError(f"{path}: is a folder, not a .tae file")
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        fields, start, length = _parse_header(f.read(FIXED.size + DIM.size * MAX_CODE_RANK + CRC.size), size, path)
        f.seek(start)
        payload, stored = f.read(length), f.read(CRC.size + 1)
    if len(payload) != length or len(stored) != CRC.size:
        raise CompressedFileError(f"{path}: changed while it was read (its size was {size} bytes)")
    _check_payload_crc(payload, stored, path)
    return TaeFile(payload=payload, **fields)


def _parse_header(head: bytes, size: int, source) -> tuple[dict, int, int]:
    """(TaeFile fields but the payload, the payload's offset, its length), from the file's first bytes
    ``head`` and its total ``size``; CompressedFileError at the first fault."""
    def fault(message: str) -> CompressedFileError:
        return CompressedFileError(f"{source}: {message}")

    if size == 0:
        raise fault("not a .tae file: it is empty (0 bytes); was its write interrupted?")
    if size < len(MAGIC) and MAGIC.startswith(head):
        raise fault(f"truncated header: the file has {size} bytes; a .tae file has at least {FIXED.size + 12}")
    if head[:len(MAGIC)] != MAGIC:
        kind = next((f" ({name})" for sig, name in _KNOWN_SIGNATURES.items() if head.startswith(sig)), "")
        raise fault(f"not a .tae file: its first bytes are {head[:len(MAGIC)]!r}{kind}, a .tae file starts with "
                    f"{MAGIC!r}; .tae files are written by tinyae.coding.tae.write")
    if size < len(MAGIC) + 2:
        raise fault(f"truncated header: the file has {size} bytes; a .tae file has at least {FIXED.size + 12}")
    (version,) = struct.unpack_from("<H", head, len(MAGIC))
    if version not in READS_VERSIONS:
        newer = " (written by a newer tinyae?)" if version > max(READS_VERSIONS) else ""
        raise fault(f"uses .tae format version {version}{newer}; this tinyae reads version "
                    f"{', '.join(map(str, READS_VERSIONS))}")
    if size < FIXED.size:
        raise fault(f"truncated header: the file has {size} bytes; a version-{version} .tae file has at least "
                    f"{FIXED.size + 12} (a {FIXED.size}-byte header, 4 per code dimension, two 4-byte checksums)")
    (_, _, fingerprint, count, c, h, w, rank, step, precision, length) = FIXED.unpack_from(head)
    if not 1 <= rank <= MAX_CODE_RANK:
        raise fault(f"code rank {rank}: a code has 1 to {MAX_CODE_RANK} dimensions, e.g. (D,) or (C, H, W)")
    start = FIXED.size + DIM.size * rank + CRC.size
    if size < start:
        raise fault(f"truncated header: the file has {size} bytes; its header needs {start} ({FIXED.size} fixed, "
                    f"4 × {rank} for the code shape, a 4-byte checksum)")
    code_shape = struct.unpack_from(f"<{rank}I", head, FIXED.size)
    (stored,) = CRC.unpack_from(head, start - CRC.size)
    computed = zlib.crc32(head[:start - CRC.size])
    if stored != computed:
        raise fault(f"the header is damaged: its CRC-32 is {computed:08x}, the file records {stored:08x}; "
                    f"the file was changed or corrupted after it was written")
    problem = field_problem(count, (c, h, w), code_shape, step, precision)
    if problem:
        raise fault(problem)
    expected = start + length + CRC.size
    if size < expected:
        raise fault(f"truncated payload: the header declares {length} bytes of payload and a 4-byte checksum "
                    f"after its {start}-byte header, {expected} bytes in all; the file has {size}")
    if size > expected:
        raise fault(f"{size - expected} unexpected bytes after the end: the header declares {length} bytes of "
                    f"payload, so the file ends at byte {expected}, but it has {size} (two files joined?)")
    fields = dict(version=version, fingerprint=fingerprint, count=count, image_shape=(c, h, w),
                  code_shape=code_shape, step=step, precision=precision)
    return fields, start, length


def _check_payload_crc(payload: bytes, stored: bytes, source) -> None:
    (recorded,) = CRC.unpack(stored)
    computed = zlib.crc32(payload)
    if recorded != computed:
        raise CompressedFileError(f"{source}: the payload is damaged: its CRC-32 is {computed:08x}, the file records "
                                  f"{recorded:08x}; the file was changed or corrupted after it was written, so its "
                                  f"codes cannot be decoded")
