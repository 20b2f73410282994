"""Integer frequency tables: a probability model the range coder can use exactly.

A table for one code dimension d covers the integer symbols lo_d .. lo_d + S - 1 and one
*escape* symbol (index S, stored last) for any value outside that range. Its frequencies
are positive integers that sum to exactly 2**precision, so encoder and decoder compute the
same intervals bit for bit (docs/math/coding.md, eq. H2). The escape is followed by the
value itself in a bypass code (Elias-gamma of a zigzag-mapped offset, eq. H1b); ``bits``
counts it as the coder spends it.

    tables = Tables.from_pmf(pmf, lo=-8)          # pmf (D, S) over -8 .. -8 + S - 1
    tables.bits(symbols)                          # ideal code length in bits, eq. H1
"""
from __future__ import annotations

import numbers

import numpy as np

from ..backend import to_numpy
from ..errors import DTypeError, ShapeError

MAX_PRECISION = 24     # the coder keeps range ≥ 2**24 (eq. H4), so ⌊range / 2**precision⌋ ≥ 1


def check_precision(precision) -> int:
    """``precision`` as an int in 1 .. MAX_PRECISION, or a ValueError saying what it was."""
    whole = isinstance(precision, numbers.Integral) and not isinstance(precision, bool)
    if not (whole and 1 <= precision <= MAX_PRECISION):
        raise ValueError(f"precision: expected a whole number of bits in 1..{MAX_PRECISION} (the coder keeps "
                         f"a range of at least 2**{MAX_PRECISION}), got {precision!r}")
    return int(precision)


def quantize_pmf(pmf, precision: int = 16) -> np.ndarray:
    """Integer frequencies (D, S), every one ≥ 1, each row summing to exactly 2**precision (eq. H2).

    Each row of ``pmf`` (D, S) is normalised to sum to 1; every symbol first gets a frequency
    of 1, and the remaining 2**precision - S are shared in proportion to the probabilities by
    the largest-remainder method (ties go to the lower index), so the result is deterministic.
    """
    precision = check_precision(precision)
    pmf = np.asarray(to_numpy(pmf))
    if pmf.dtype.kind not in "fiu":
        raise DTypeError(f"quantize_pmf: expected real probabilities, got dtype {pmf.dtype}")
    if pmf.ndim != 2 or pmf.shape[1] == 0:
        raise ShapeError(f"quantize_pmf: expected probabilities (D, S) with one row per dimension, got shape {pmf.shape}")
    pmf = pmf.astype(np.float64)
    if not np.all(np.isfinite(pmf)):
        raise ValueError("quantize_pmf: the probabilities contain NaN or infinity")
    if np.any(pmf < 0):
        raise ValueError(f"quantize_pmf: probabilities must be ≥ 0, got a minimum of {pmf.min()}")
    sums = pmf.sum(axis=1, keepdims=True)
    if np.any(sums <= 0):
        raise ValueError(f"quantize_pmf: rows {np.flatnonzero(sums[:, 0] <= 0).tolist()} have no probability mass")
    total, n_symbols = 1 << precision, pmf.shape[1]
    if n_symbols > total:
        raise ValueError(f"quantize_pmf: {n_symbols} symbols cannot each get a frequency ≥ 1 out of "
                         f"2**{precision} = {total}; raise the precision")
    spare = total - n_symbols                                        # eq. H2: R = 2^P - S' (S' columns)
    share = pmf / sums * spare
    whole = np.floor(share)
    short = spare - whole.sum(axis=1).astype(np.int64)               # 0 ≤ short ≤ S: what flooring lost
    order = np.argsort(-(share - whole), axis=1, kind="stable")      # largest remainder first, ties by index
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n_symbols)[None, :].repeat(len(pmf), axis=0), axis=1)
    freqs = 1 + whole.astype(np.int64) + (rank < short[:, None])     # eq. H2
    assert np.all(freqs.sum(axis=1) == total) and np.all(freqs >= 1)
    return freqs


class Tables:
    """Frequency tables for D code dimensions: symbols lo .. lo + S - 1 and an escape each.

    lo     (D,) int64        the smallest in-range symbol of each dimension
    freqs  (D, S + 1) int64  positive frequencies, the escape's last, rows summing to 2**precision
    cum    (D, S + 2) int64  cumulative frequencies: cum[:, s] = freqs[:, :s].sum(1), cum[:, -1] = 2**precision
    """

    def __init__(self, lo, freqs, precision: int = 16):
        self.precision = check_precision(precision)
        freqs, lo = np.asarray(to_numpy(freqs)), np.asarray(to_numpy(lo))
        if freqs.dtype.kind not in "iu":
            raise DTypeError(f"Tables: expected integer frequencies, got dtype {freqs.dtype} (see quantize_pmf)")
        if freqs.ndim != 2 or freqs.shape[1] < 2:
            raise ShapeError(f"Tables: expected frequencies (D, S + 1) with S ≥ 1 symbols and the escape last, "
                             f"got shape {freqs.shape}")
        if lo.ndim == 0:
            lo = np.full(len(freqs), lo)
        if lo.shape != (len(freqs),) or lo.dtype.kind not in "iu":
            raise ShapeError(f"Tables: expected lo as one integer per dimension, shape ({len(freqs)},), "
                             f"got {lo.dtype} of shape {lo.shape}")
        freqs, lo = freqs.astype(np.int64), lo.astype(np.int64)
        if np.any(freqs < 1):
            raise ValueError(f"Tables: every frequency (the escape's included) must be ≥ 1, got a minimum of {freqs.min()}")
        total = 1 << self.precision
        bad = np.flatnonzero(freqs.sum(axis=1) != total)
        if bad.size:
            raise ValueError(f"Tables: each row of frequencies must sum to 2**{self.precision} = {total}; "
                             f"rows {bad[:8].tolist()} sum to {freqs.sum(axis=1)[bad[:8]].tolist()}")
        self.lo, self.freqs = lo, freqs
        self.cum = np.concatenate([np.zeros((len(freqs), 1), np.int64), np.cumsum(freqs, axis=1)], axis=1)

    @classmethod
    def from_pmf(cls, pmf, lo, escape=0.0, precision: int = 16) -> Tables:
        """Tables from probabilities (D, S) over lo .. lo + S - 1, with ``escape`` (a number or (D,)) the
        probability of a value outside that range (0 still gives the escape a frequency of 1)."""
        pmf = np.asarray(to_numpy(pmf), dtype=np.float64)
        if pmf.ndim != 2:
            raise ShapeError(f"Tables.from_pmf: expected probabilities (D, S), got shape {pmf.shape}")
        escape = np.broadcast_to(np.asarray(escape, dtype=np.float64), (len(pmf),))[:, None]
        return cls(lo, quantize_pmf(np.concatenate([pmf, escape], axis=1), precision), precision)

    @property
    def dims(self) -> int:
        return self.freqs.shape[0]

    @property
    def n_symbols(self) -> int:
        """S: the in-range symbols per dimension (the escape not counted)."""
        return self.freqs.shape[1] - 1

    @property
    def hi(self) -> np.ndarray:
        """(D,) the largest in-range symbol of each dimension."""
        return self.lo + self.n_symbols - 1

    def probabilities(self) -> np.ndarray:
        """(D, S + 1) the quantised probabilities q = freqs / 2**precision (eq. H2)."""
        return self.freqs / float(1 << self.precision)

    def check_symbols(self, symbols, what: str = "symbols") -> np.ndarray:
        """``symbols`` as an (N, D) int64 NumPy array, or a ShapeError/DTypeError saying what was expected."""
        symbols = np.asarray(to_numpy(symbols))
        if symbols.dtype.kind not in "iu":
            raise DTypeError(f"{what}: expected integers (round and cast the codes, e.g. "
                             f"np.rint(codes).astype(np.int64)), got dtype {symbols.dtype}")
        if symbols.ndim != 2 or symbols.shape[1] != self.dims:
            raise ShapeError(f"{what}: expected (N, {self.dims}), one column per table, got shape {symbols.shape}")
        if symbols.dtype == np.uint64 and symbols.size and symbols.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{what}: values above 2**63 - 1 cannot be coded")
        return symbols.astype(np.int64)

    def indices(self, symbols: np.ndarray) -> np.ndarray:
        """(N, D) table index of each symbol: symbol - lo when in range, else S (the escape)."""
        offset = symbols - self.lo                     # int64; wraps only for values near ±2**63, caught below
        inside = (symbols >= self.lo) & (symbols <= self.hi)
        return np.where(inside, offset, self.n_symbols)

    def bits(self, symbols) -> float:
        """The ideal code length in bits of ``symbols`` (N, D) under these tables, eq. H1:
        −Σ log₂(freq / 2**precision), plus for every escape the 2L + 1 bypass bits of eq. H1b."""
        symbols = self.check_symbols(symbols, "Tables.bits")
        index = self.indices(symbols)
        freq = np.take_along_axis(self.freqs, index.T, axis=1).T                 # (N, D)
        total = float(-np.log2(freq / float(1 << self.precision)).sum())         # eq. H1
        rows, cols = np.nonzero(index == self.n_symbols)
        for value, d in zip(symbols[rows, cols].tolist(), cols.tolist()):
            total += 2 * gamma_length(escape_number(value, int(self.lo[d]), int(self.hi[d]))) + 1   # eq. H1b
        return total


def escape_number(value: int, lo: int, hi: int) -> int:
    """The number m ≥ 1 that the bypass code writes for a value outside lo..hi (eq. H1b):
    the offset past the nearer end, zigzag-mapped (above → even, below → odd), plus one."""
    zigzag = 2 * (value - hi - 1) if value > hi else 2 * (lo - 1 - value) + 1
    return zigzag + 1


def escape_value(number: int, lo: int, hi: int) -> int:
    """The inverse of ``escape_number``."""
    zigzag = number - 1
    return hi + 1 + zigzag // 2 if zigzag % 2 == 0 else lo - 1 - zigzag // 2


def gamma_length(number: int) -> int:
    """L = ⌊log₂ m⌋: Elias-gamma writes m ≥ 1 as L zeros, a one, and the L low bits of m."""
    return number.bit_length() - 1
