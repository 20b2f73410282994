"""Entropy coding of integer codes: frequency tables from a probability model, and a range coder.

    tables = coding.Tables.from_pmf(pmf, lo=-8)     # pmf (D, S): one row per code dimension
    data = coding.encode(symbols, tables)           # symbols (N, D) integers -> bytes
    coding.decode(data, tables, len(symbols))       # -> the same (N, D) int64
    tables.bits(symbols)                            # the ideal size in bits, to compare with 8 * len(data)

The equations are in docs/math/coding.md (H1-H6).
"""
from .range_coder import decode, encode
from .tables import Tables, quantize_pmf

__all__ = ["Tables", "decode", "encode", "quantize_pmf"]
