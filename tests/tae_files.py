"""Valid and crafted .tae files for the tests (tests/test_tae_file.py and tests/test_error_table.py).

``craft`` packs the fields with ``struct`` straight from the layout table in
tinyae/coding/tae.py, not with ``tae.to_bytes``: a test comparing the two checks that the
writer follows the documented layout, and a crafted file can hold any value a field's width
allows, with checksums that are right (unless told otherwise), so that each of the reader's
checks can be reached on its own.
"""
from __future__ import annotations

import struct
import zlib

MAGIC = b"TINYAE\x00C"
FIXED = "<8sH32sQBIIBdBQ"          # magic, version, fingerprint, N, C, H, W, rank, step, precision, payload length
FINGERPRINT = bytes(range(32))
GOOD = dict(magic=MAGIC, version=1, fingerprint=FINGERPRINT, count=3, channels=1, height=28, width=28,
            code_shape=(32,), step=0.5, precision=16, payload=bytes(range(7, 107)))


def craft(*, rank=None, length=None, header_crc=None, payload_crc=None, **changes) -> bytes:
    """The bytes of a .tae file with GOOD's fields but ``changes``; ``rank``, ``length`` and the two CRCs
    default to the true ones (the code shape's rank, the payload's length, the CRC-32s of what precedes)."""
    f = {**GOOD, **changes}
    shape, payload = tuple(f["code_shape"]), f["payload"]
    header = struct.pack(FIXED, f["magic"], f["version"], f["fingerprint"], f["count"], f["channels"], f["height"],
                         f["width"], len(shape) if rank is None else rank, f["step"], f["precision"],
                         len(payload) if length is None else length)
    header += struct.pack(f"<{len(shape)}I", *shape)
    header += struct.pack("<I", zlib.crc32(header) if header_crc is None else header_crc)
    return header + payload + struct.pack("<I", zlib.crc32(payload) if payload_crc is None else payload_crc)


def payload_offset(rank: int = 1) -> int:
    return struct.calcsize(FIXED) + 4 * rank + 4


def flip_bit(data: bytes, offset: int, bit: int = 0) -> bytes:
    changed = bytearray(data)
    changed[offset] ^= 1 << bit
    return bytes(changed)


def tiny_png() -> bytes:
    """A valid 1×1 grey PNG image (signature, IHDR, IDAT, IEND)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b""))
