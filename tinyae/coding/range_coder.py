"""A range coder over integer symbols: ``encode(symbols, tables) -> bytes`` and back.

The coder is LZMA's: a 32-bit ``range``, a ``low`` that may carry into the byte before it
(held back as ``cache`` with a count of pending 0xFF bytes), one byte out whenever the
range falls below 2**24. Symbol (n, d) is coded with table d, in row-major order
(docs/math/coding.md: interval update eq. H3, renormalisation H4, decoding H5, the size
bound H6). A value outside lo..hi is coded as the escape symbol followed by the value in
the bypass code of eq. H1b (Elias-gamma of a zigzag-mapped offset, each bit at probability
½ through the same coder), so every int64 value round-trips exactly.

The loop over symbols is plain Python: it is the project's one allowed exception to
"vectorise it", since each step depends on the state the previous one left. Everything
around it (checking, table look-ups, finding escapes) is NumPy.

Format: the bytes of ``low`` as they leave the coder, without the first (always 0) byte and
without trailing zero bytes (the decoder reads zeros past the end). There is no header:
the decoder is given the tables and the number of rows.

Decoding corrupt or truncated bytes never hangs: it takes exactly n × D symbol steps (plus
at most MAX_GAMMA_LENGTH + 6 bit steps per escape), reads zeros past the end, and raises
`tinyae.errors.DataError` when the bytes cannot come from any encoding under these tables.
"""
from __future__ import annotations

import numbers
from bisect import bisect_right

import numpy as np

from ..errors import DataError
from .tables import Tables, escape_number, escape_value, gamma_length

TOP = 1 << 24                  # renormalise when range < TOP (eq. H4)
MASK32 = (1 << 32) - 1
MAX_GAMMA_LENGTH = 66          # L of the largest escape: an int64 value outside any int64 lo..hi needs L ≤ 65
BYPASS_CHUNK = 16              # the low bits of an escape go through the coder 16 at a time


class _Encoder:
    def __init__(self):
        self.low, self.range = 0, MASK32
        self.cache, self.pending = 0, 1          # LZMA starts with one (zero) byte held back
        self.out = bytearray()

    def put(self, cum: int, freq: int, precision: int) -> None:
        r = self.range >> precision
        self.low += r * cum                      # eq. H3
        self.range = r * freq                    # eq. H3
        while self.range < TOP:                  # eq. H4
            self.range <<= 8
            self.shift_low()

    def shift_low(self) -> None:
        """Move the top byte of low out; hold it back while a carry could still change it (eq. H4)."""
        if self.low < 0xFF000000 or self.low > MASK32:
            carry = self.low >> 32
            self.out.append((self.cache + carry) & 0xFF)
            self.out.extend(((0xFF + carry) & 0xFF,) * (self.pending - 1))
            self.cache, self.pending = (self.low >> 24) & 0xFF, 0
        self.pending += 1
        self.low = (self.low << 8) & MASK32

    def put_bits(self, value: int, n_bits: int) -> None:
        """``n_bits`` raw bits of ``value``, most significant first, each at probability ½."""
        while n_bits > 0:
            k = min(n_bits, BYPASS_CHUNK)
            n_bits -= k
            self.put((value >> n_bits) & ((1 << k) - 1), 1, k)

    def finish(self) -> bytes:
        """Pick the value in [low, low + range) with the most trailing zero bits, flush it (eq. H6)."""
        for k in range(32, -1, -1):
            value = -(-self.low >> k) << k       # low rounded up to a multiple of 2**k
            if value < self.low + self.range:
                break
        self.low = value
        for _ in range(5):
            self.shift_low()
        assert self.out[0] == 0, "the first byte is the integer part of a number in [0, 1)"
        return bytes(self.out[1:]).rstrip(b"\0")


class _Decoder:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0
        self.range, self.code = MASK32, 0
        for _ in range(4):
            self.code = (self.code << 8) | self.next_byte()

    def next_byte(self) -> int:
        pos, self.pos = self.pos, self.pos + 1
        return self.data[pos] if pos < len(self.data) else 0

    def get(self, cum: list, freqs: list, precision: int) -> int:
        """The index s of the next symbol under the table (cum, freqs) (eq. H5)."""
        r = self.range >> precision
        target = self.code // r                                   # eq. H5
        if target >> precision:
            raise DataError(f"range decoder: corrupt data at byte {self.pos}: the code lies past the table's "
                            f"last interval (no encoder under these tables writes it)")
        s = bisect_right(cum, target) - 1                         # eq. H5: cum[s] ≤ target < cum[s + 1]
        self.code -= r * cum[s]
        self.range = r * freqs[s]
        while self.range < TOP:                                   # eq. H4
            self.code = (self.code << 8) | self.next_byte()
            self.range <<= 8
        return s

    def get_bits(self, n_bits: int) -> int:
        """``n_bits`` raw bits, most significant first: eq. H5 with the uniform table cum = s, freq = 1."""
        value = 0
        while n_bits > 0:
            k = min(n_bits, BYPASS_CHUNK)
            n_bits -= k
            r = self.range >> k
            bits = self.code // r                                 # eq. H5
            if bits >> k:
                raise DataError(f"range decoder: corrupt data at byte {self.pos}: the code lies past the "
                                f"last interval of the bypass bits")
            self.code -= r * bits
            self.range = r
            while self.range < TOP:                               # eq. H4
                self.code = (self.code << 8) | self.next_byte()
                self.range <<= 8
            value = (value << k) | bits
        return value


def _put_escape(encoder: _Encoder, value: int, lo: int, hi: int) -> None:
    number = escape_number(value, lo, hi)                         # eq. H1b
    length = gamma_length(number)
    for _ in range(length):                                       # L zeros, one bit per step as the decoder reads them,
        encoder.put_bits(0, 1)
    encoder.put_bits(1, 1)                                        # the leading 1 of m,
    encoder.put_bits(number, length)                              # then its L low bits (16 per step)


def _get_escape(decoder: _Decoder, lo: int, hi: int) -> int:
    length = 0
    while decoder.get_bits(1) == 0:                               # the unary part, bounded
        length += 1
        if length > MAX_GAMMA_LENGTH:
            raise DataError(f"range decoder: corrupt data at byte {decoder.pos}: an escape longer than "
                            f"{MAX_GAMMA_LENGTH} bits")
    number = (1 << length) | decoder.get_bits(length)             # put_bits masks m to its L low bits
    value = escape_value(number, lo, hi)
    if not -(1 << 63) <= value < (1 << 63):
        raise DataError(f"range decoder: corrupt data at byte {decoder.pos}: an escaped value outside int64")
    return value


def _check_tables(tables, what: str) -> None:
    if not isinstance(tables, Tables):
        raise TypeError(f"{what}: expected tinyae.coding.Tables (e.g. Tables.from_pmf(pmf, lo)), "
                        f"got {type(tables).__name__}")


def encode(symbols, tables: Tables) -> bytes:
    """The bytes of ``symbols`` (N, D) integers, symbol (n, d) coded with table d in row-major order."""
    _check_tables(tables, "encode")
    symbols = tables.check_symbols(symbols, "encode")
    index = tables.indices(symbols)
    escape = tables.n_symbols
    escaped = iter(symbols[index == escape].tolist())             # row-major, as the loop meets them
    cums, freqs = tables.cum.tolist(), tables.freqs.tolist()
    los, his = tables.lo.tolist(), tables.hi.tolist()
    precision = tables.precision
    encoder = _Encoder()
    put = encoder.put
    for row in index.tolist():
        for d, s in enumerate(row):
            put(cums[d][s], freqs[d][s], precision)
            if s == escape:
                _put_escape(encoder, next(escaped), los[d], his[d])
    return encoder.finish()


def decode(data: bytes, tables: Tables, n: int) -> np.ndarray:
    """The (n, D) int64 symbols that ``encode`` turned into ``data``; DataError if data cannot be such bytes."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"decode: expected bytes, got {type(data).__name__}")
    _check_tables(tables, "decode")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"decode: expected the number of rows n as an int ≥ 0, got {n!r}")
    decoder = _Decoder(bytes(data))
    get = decoder.get
    escape, precision = tables.n_symbols, tables.precision
    cums = [row[:-1] for row in tables.cum.tolist()]              # cum[s] for s = 0..S: bisect finds s
    freqs = tables.freqs.tolist()
    los, his = tables.lo.tolist(), tables.hi.tolist()
    columns = list(zip(cums, freqs, los))
    out = []
    for _ in range(int(n)):
        for d, (cum, freq, lo) in enumerate(columns):
            s = get(cum, freq, precision)
            out.append(lo + s if s != escape else _get_escape(decoder, lo, his[d]))
    return np.array(out, dtype=np.int64).reshape(int(n), tables.dims)
