"""The bytes inside JPEG and WebP files: how many carry the picture, how many are headers.

A JPEG file (ITU-T T.81, Annex B) is SOI (FF D8), then segments, each a marker FF xx and a 2-byte
big-endian length that counts itself (APPn, DQT, SOF, DHT, DRI, COM, ...), then SOS (start of scan)
followed by the entropy-coded scan data, ..., EOI (FF D9). Inside scan data a 0xFF byte is stuffed as
FF 00, and restart markers FF D0..FF D7 belong to the scan; any other marker ends it. A progressive
JPEG has several scans (and may carry DHT segments between them): their scan data are concatenated.

A WebP file is a RIFF container: "RIFF", a little-endian 32-bit size of what follows, "WEBP", then chunks
(FourCC, little-endian 32-bit size, data, one pad byte when the size is odd). The picture is the "VP8 "
(lossy) or "VP8L" (lossless) chunk; "VP8X" files add ALPH, ICCP, EXIF, ... chunks around it.
"""
from __future__ import annotations

import struct
from typing import NamedTuple

from ..errors import ImageFileError

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
RESTART = range(0xD0, 0xD8)
STANDALONE = {0x01, *RESTART}                           # TEM and RSTn carry no length


class JpegLayout(NamedTuple):
    scan: bytes              # the entropy-coded data of every scan, concatenated in file order
    header_bytes: int        # everything else: markers, segments (SOS's included), EOI, bytes after EOI
    scans: int               # number of SOS segments (1 for a baseline JPEG)


class WebpLayout(NamedTuple):
    kind: str                # "VP8 " (lossy) or "VP8L" (lossless)
    payload: bytes           # that chunk's data, without its 8-byte chunk header and pad byte
    header_bytes: int        # everything else in the file


def _jpeg_error(message: str) -> ImageFileError:
    return ImageFileError(f"JPEG data: {message}")


def _scan_end(data: bytes, start: int) -> int:
    """The offset of the marker that ends the scan data beginning at ``start``."""
    i = start
    while True:
        i = data.find(b"\xff", i)
        if i < 0 or i + 1 >= len(data):
            raise _jpeg_error(f"truncated: the scan data starting at byte {start} runs to the end of the data "
                              f"({len(data)} bytes) without an EOI marker (FF D9)")
        following = data[i + 1]
        if following == 0x00 or following in RESTART:
            i += 2                                      # a stuffed 0xFF, or a restart marker: still scan data
            continue
        return i


def jpeg_layout(data: bytes) -> JpegLayout:
    """Walk the markers of a JPEG file; see JpegLayout. Malformed data is an ImageFileError saying where."""
    data = bytes(data)
    if data[:2] != b"\xff\xd8":
        raise _jpeg_error(f"missing the SOI marker (FF D8) at the start: it begins with {data[:4]!r}")
    position, scan, scans = 2, bytearray(), 0
    while True:
        if position >= len(data):
            raise _jpeg_error(f"truncated: the data ends at byte {len(data)} without an EOI marker (FF D9)")
        if data[position] != 0xFF:
            raise _jpeg_error(f"expected a marker (FF xx) at byte {position}, found 0x{data[position]:02X}")
        while position + 1 < len(data) and data[position + 1] == 0xFF:
            position += 1                               # fill bytes before a marker
        if position + 1 >= len(data):
            raise _jpeg_error(f"truncated: a marker is cut off at byte {position}")
        marker = data[position + 1]
        if marker == EOI:
            break
        if marker in STANDALONE:
            position += 2
            continue
        if position + 4 > len(data):
            raise _jpeg_error(f"truncated: the length of segment FF {marker:02X} at byte {position} is cut off")
        (length,) = struct.unpack(">H", data[position + 2:position + 4])
        if length < 2:
            raise _jpeg_error(f"segment FF {marker:02X} at byte {position} declares length {length}; at least 2")
        end = position + 2 + length
        if end > len(data):
            raise _jpeg_error(f"truncated: segment FF {marker:02X} at byte {position} declares {length} bytes, "
                              f"only {len(data) - position - 2} are left")
        position = end
        if marker == SOS:
            scans += 1
            stop = _scan_end(data, position)
            scan += data[position:stop]
            position = stop
    if scans == 0:
        raise _jpeg_error("no SOS (start of scan, FF DA) segment before the EOI marker: no image data")
    return JpegLayout(bytes(scan), len(data) - len(scan), scans)


def jpeg_scan_data(data: bytes) -> bytes:
    """The entropy-coded scan data of a JPEG file (of all its scans, for a progressive one, concatenated).

    ``len(data) - len(jpeg_scan_data(data))`` bytes are headers; jpeg_layout gives that count and the
    number of scans too.
    """
    return jpeg_layout(data).scan


def webp_layout(data: bytes) -> WebpLayout:
    """Walk the chunks of a WebP file; see WebpLayout. Malformed data is an ImageFileError saying where."""
    data = bytes(data)
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ImageFileError(f"WebP data: expected 'RIFF', a size and 'WEBP' in the first 12 bytes, found "
                             f"{data[:12]!r}")
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = 8 + riff_size
    if end > len(data):
        raise ImageFileError(f"WebP data: truncated: the RIFF header declares {riff_size} bytes after its first 8, "
                             f"only {len(data) - 8} are there")
    position, kinds = 12, []
    while position < end:
        if position + 8 > end:
            raise ImageFileError(f"WebP data: truncated: the chunk header at byte {position} is cut off")
        kind = data[position:position + 4].decode("latin-1")
        (size,) = struct.unpack("<I", data[position + 4:position + 8])
        if position + 8 + size > end:
            raise ImageFileError(f"WebP data: truncated: chunk {kind!r} at byte {position} declares {size} bytes, "
                                 f"only {end - position - 8} are left")
        if kind in ("VP8 ", "VP8L"):
            return WebpLayout(kind, data[position + 8:position + 8 + size], len(data) - size)
        kinds.append(kind)
        position += 8 + size + (size & 1)
    if "ANIM" in kinds:
        raise ImageFileError("WebP data: an animated WebP (its frames sit in ANMF chunks); expected a still image")
    raise ImageFileError(f"WebP data: no 'VP8 ' or 'VP8L' chunk (found {kinds})")


def webp_vp8_chunk(data: bytes) -> bytes:
    """The data of a WebP file's "VP8 " (lossy) or "VP8L" (lossless) chunk: the compressed picture.

    ``len(data) - len(webp_vp8_chunk(data))`` bytes are headers (RIFF, chunk headers, VP8X, ALPH, ...).
    """
    return webp_layout(data).payload
