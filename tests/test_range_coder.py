"""The entropy coder (tinyae.coding): quantised tables (docs/math/coding.md H1, H1b, H2), the range coder's
exact round trip (H3–H5), its size against the ideal code length (H6) and against constriction's range
coder, and decoding of corrupt bytes that ends quickly (H5) with a clear error or n × D symbols."""
from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyae.coding import Tables, decode, encode, quantize_pmf, range_coder
from tinyae.coding.tables import escape_number, gamma_length
from tinyae.errors import DataError, DTypeError, ShapeError

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def draw_from(tables: Tables, n: int, rng) -> np.ndarray:
    """(n, D) in-range symbols drawn from the tables' own quantised probabilities (escape excluded)."""
    q = tables.probabilities()[:, :-1]
    q = q / q.sum(axis=1, keepdims=True)
    return np.stack([rng.choice(tables.n_symbols, size=n, p=q[d]) for d in range(tables.dims)], axis=1) + tables.lo


def truncation_bound_bits(tables: Tables, symbols: np.ndarray) -> float:
    """Σ δ over the coder's steps (eq. H6): one step per symbol, and per escape L + 1 one-bit steps plus
    ⌈L / 16⌉ steps of up to 16 raw bits; δ taken at precision max(P, 16) for every step, an upper bound."""
    steps = symbols.size
    index = tables.indices(symbols)
    for value, d in zip(symbols[index == tables.n_symbols].tolist(), np.nonzero(index == tables.n_symbols)[1].tolist()):
        length = gamma_length(escape_number(value, int(tables.lo[d]), int(tables.hi[d])))
        steps += length + 1 + math.ceil(length / 16)
    delta = math.log2(1 + 2.0 ** (max(tables.precision, 16) - 24))
    return steps * delta


# --- quantize_pmf and the tables (eq. H2) ------------------------------------------------------------------

def test_quantized_frequencies_sum_to_two_to_the_precision_and_are_at_least_one_eq_H2():
    rng = np.random.default_rng(0)
    pmf = rng.dirichlet(np.full(40, 0.05), size=7)            # very skewed rows, many near-zero entries
    pmf[0, :5] = 0.0
    for precision in (6, 12, 16, 24):
        freqs = quantize_pmf(pmf, precision)
        assert freqs.dtype == np.int64 and freqs.shape == pmf.shape
        assert np.all(freqs >= 1)
        assert np.all(freqs.sum(axis=1) == 2 ** precision)


def test_quantized_frequencies_are_deterministic_and_close_to_the_probabilities_eq_H2():
    rng = np.random.default_rng(1)
    pmf = rng.dirichlet(np.ones(17), size=5)
    first, second = quantize_pmf(pmf, 16), quantize_pmf(pmf.copy(), 16)
    assert np.array_equal(first, second)
    error = first - pmf * 2 ** 16                                # eq. H2: −S'p < f − 2^P p ≤ 2
    assert np.all(error <= 2) and np.all(error > -pmf.shape[1] * pmf - 1e-9)
    q = first / 2 ** 16
    kl = np.sum(pmf * np.log2(pmf / q), axis=1)
    assert np.all(kl < 1e-3)                                    # the quantisation costs < 0.001 bit/symbol here


def test_quantize_pmf_normalises_rows_and_breaks_ties_by_index_eq_H2():
    assert quantize_pmf([[1, 1, 1]], 2).tolist() == [[2, 1, 1]]          # R = 1 goes to the first of the ties
    assert np.array_equal(quantize_pmf([[2.0, 6.0]], 4), quantize_pmf([[0.25, 0.75]], 4))


@pytest.mark.parametrize("pmf, fragment", [
    ([[0.5, -0.1, 0.6]], "≥ 0"),
    ([[0.5, np.nan]], "NaN"),
    ([[0.5, np.inf]], "NaN or infinity"),
    ([[0.0, 0.0], [0.5, 0.5]], "rows [0] have no probability mass"),
    ([0.5, 0.5], "expected probabilities (D, S)"),
    (np.zeros((2, 0)), "expected probabilities (D, S)"),
])
def test_quantize_pmf_rejects_bad_probabilities_naming_the_fault(pmf, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        quantize_pmf(np.asarray(pmf, dtype=float), 16)


@pytest.mark.parametrize("precision", [0, 25, -3, 16.0, True, "16"])
def test_precision_outside_one_to_twenty_four_bits_is_rejected(precision):
    with pytest.raises(ValueError, match="precision"):
        quantize_pmf([[0.5, 0.5]], precision)


def test_more_symbols_than_the_precision_can_hold_is_rejected():
    with pytest.raises(ValueError, match="raise the precision"):
        quantize_pmf(np.ones((1, 9)), 3)


def test_tables_reject_frequencies_that_do_not_sum_to_two_to_the_precision_or_are_zero():
    with pytest.raises(ValueError, match="sum to 2\\*\\*4 = 16"):
        Tables(0, [[8, 7]], precision=4)
    with pytest.raises(ValueError, match="must be ≥ 1"):
        Tables(0, [[16, 0]], precision=4)
    with pytest.raises(ShapeError, match="one integer per dimension"):
        Tables([0, 1, 2], [[8, 8], [8, 8]], precision=4)
    with pytest.raises(ShapeError, match="escape last"):
        Tables(0, [[16]], precision=4)
    with pytest.raises(DTypeError, match="integer frequencies"):
        Tables(0, [[8.0, 8.0]], precision=4)


def test_tables_hold_lo_hi_and_cumulative_frequencies_with_the_escape_last():
    tables = Tables.from_pmf([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]], lo=[-1, 4], escape=[0.0, 0.01], precision=10)
    assert tables.lo.tolist() == [-1, 4] and tables.hi.tolist() == [1, 6] and tables.n_symbols == 3
    assert tables.freqs.shape == (2, 4) and tables.cum.shape == (2, 5)
    assert np.all(tables.cum[:, 0] == 0) and np.all(tables.cum[:, -1] == 2 ** 10)
    assert np.array_equal(np.diff(tables.cum, axis=1), tables.freqs)
    assert tables.freqs[0, -1] == 1 and tables.freqs[1, -1] > 1          # escape 0 still gets frequency 1


# --- the ideal code length (eq. H1, H1b) -----------------------------------------------------------------

def test_bits_counts_minus_log2_q_and_the_gamma_bits_of_each_escape_eq_H1_H1b():
    tables = Tables(0, [[1, 2, 1]], precision=2)                # q = ¼, ½, and ¼ for the escape; lo..hi = 0..1
    # 0: 2 bits; 1: 1 bit; 2 = hi + 1: escape 2 bits + m = 1 (L = 0) 1 bit; −1 = lo − 1: escape 2 + m = 2 (L = 1) 3
    assert tables.bits(np.array([[0], [1], [2], [-1]])) == pytest.approx(2 + 1 + 3 + 5)
    assert escape_number(2, 0, 1) == 1 and escape_number(-1, 0, 1) == 2 and escape_number(3, 0, 1) == 3


# --- the round trip (eq. H3–H5) --------------------------------------------------------------------------

@st.composite
def message(draw):
    """A table set (any precision that fits, pmfs from flat to extreme skew, zeros included) and symbols
    with escapes of every size up to the int64 limits."""
    dims = draw(st.integers(1, 4))
    n_symbols = draw(st.integers(1, 24))
    precision = draw(st.integers(max(1, math.ceil(math.log2(n_symbols + 1))), 24))
    weights = st.one_of(st.just(0.0), st.floats(1e-12, 1.0), st.floats(0.9, 1e6))
    pmf = np.array(draw(st.lists(st.lists(weights, min_size=n_symbols, max_size=n_symbols),
                                 min_size=dims, max_size=dims)))
    pmf[:, 0] += 1e-300 if draw(st.booleans()) else 1.0      # every row has some mass
    escape = draw(st.sampled_from([0.0, 1e-6, 0.3]))
    lo = np.array(draw(st.lists(st.integers(-1000, 1000), min_size=dims, max_size=dims)))
    tables = Tables.from_pmf(pmf, lo, escape=escape, precision=precision)
    n = draw(st.integers(0, 30))
    inside = st.integers(0, n_symbols - 1)
    outside = st.one_of(st.integers(-2 ** 40, 2 ** 40), st.integers(INT64_MIN, INT64_MAX),
                        st.sampled_from([INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1]))
    rows = draw(st.lists(st.lists(st.one_of(inside.map(lambda s: ("in", s)), outside.map(lambda v: ("out", v))),
                                  min_size=dims, max_size=dims), min_size=n, max_size=n))
    symbols = np.array([[int(lo[d]) + v if kind == "in" else v for d, (kind, v) in enumerate(row)] for row in rows],
                       dtype=np.int64).reshape(n, dims)
    return tables, symbols


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(message())
def test_round_trip_is_exact_on_random_symbols_and_tables_eq_H4(case):
    tables, symbols = case
    data = encode(symbols, tables)
    decoded = decode(data, tables, len(symbols))
    assert decoded.dtype == np.int64 and decoded.shape == symbols.shape
    assert np.array_equal(decoded, symbols)
    assert 8 * len(data) < tables.bits(symbols) + truncation_bound_bits(tables, symbols) + 8 + 1e-6   # eq. H6


def test_round_trip_of_symbols_with_zero_probability_and_of_long_runs_of_the_likeliest_eq_H3_H5():
    tables = Tables.from_pmf([[1.0, 0.0, 0.0], [1e-9, 1.0, 1e-9]], lo=[0, -1], precision=16)
    symbols = np.zeros((5000, 2), dtype=np.int64)
    symbols[:, 1] = 0                                             # the likeliest symbol of dimension 1
    symbols[[7, 4000], 0] = [1, 2]                               # symbols the pmf gave probability 0
    symbols[[9, 10], 1] = [-1, 1]
    data = encode(symbols, tables)
    assert np.array_equal(decode(data, tables, 5000), symbols)
    assert len(data) < 20                                        # ≈ 10000 · 2 · 2^-16 + the rare ones


def test_empty_message_encodes_to_no_bytes_and_decodes_to_zero_rows():
    tables = Tables.from_pmf(np.ones((3, 4)), lo=0)
    assert encode(np.zeros((0, 3), dtype=np.int64), tables) == b""
    assert decode(b"", tables, 0).shape == (0, 3)


def test_encode_takes_any_integer_dtype_and_rejects_floats_and_wrong_widths():
    tables = Tables.from_pmf(np.ones((2, 4)), lo=0)
    symbols = np.array([[0, 3], [1, 200]], dtype=np.uint8)
    assert np.array_equal(decode(encode(symbols, tables), tables, 2), symbols)
    with pytest.raises(DTypeError, match="expected integers"):
        encode(symbols.astype(np.float32), tables)
    with pytest.raises(ShapeError, match=r"expected \(N, 2\)"):
        encode(np.zeros((4, 3), dtype=np.int64), tables)
    with pytest.raises(ShapeError, match=r"expected \(N, 2\)"):
        encode(np.zeros(4, dtype=np.int64), tables)


def test_decode_rejects_a_bad_row_count_and_non_bytes():
    tables = Tables.from_pmf(np.ones((2, 4)), lo=0)
    for n in (-1, 2.0, True, None):
        with pytest.raises(ValueError, match="number of rows"):
            decode(b"", tables, n)
    with pytest.raises(TypeError, match="expected bytes"):
        decode("abc", tables, 1)


# --- the size (eq. H6) -------------------------------------------------------------------------------------

def test_encoded_size_within_1_percent_plus_8_bytes_of_ideal_bits_eq_H6():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(16, 33)) * 1.5                    # a discretised-latent-like pmf over −16..16
    pmf = np.exp(logits - (np.arange(-16, 17) ** 2 / 20.0))
    tables = Tables.from_pmf(pmf, lo=-16, escape=1e-4)
    symbols = draw_from(tables, 10_000, rng)
    data = encode(symbols, tables)
    ideal = tables.bits(symbols)
    assert len(data) <= 1.01 * ideal / 8 + 8
    assert 8 * len(data) < ideal + truncation_bound_bits(tables, symbols) + 8       # eq. H6, the bound itself
    assert np.array_equal(decode(data, tables, 10_000), symbols)


def test_encode_and_decode_10000_by_32_symbols_take_a_few_seconds():
    rng = np.random.default_rng(3)
    tables = Tables.from_pmf(rng.dirichlet(np.full(16, 0.5), size=32), lo=-8, escape=1e-3)
    symbols = draw_from(tables, 10_000, rng)
    start = time.perf_counter()
    data = encode(symbols, tables)
    decoded = decode(data, tables, 10_000)
    assert time.perf_counter() - start < 10.0                    # ≈ 0.4 s on one core
    assert np.array_equal(decoded, symbols)


# --- against constriction's range coder --------------------------------------------------------------------

def test_size_agrees_with_constrictions_range_coder_on_the_same_quantised_probabilities_eq_H6():
    constriction = pytest.importorskip("constriction")
    rng = np.random.default_rng(4)
    tables = Tables.from_pmf(rng.dirichlet(np.ones(12), size=16), lo=0)
    symbols = draw_from(tables, 10_000, rng)                      # in range: constriction has no escape
    ours = encode(symbols, tables)
    probabilities = np.tile(tables.probabilities(), (len(symbols), 1))       # (N·D, S + 1), row-major like ours
    family = constriction.stream.model.Categorical(perfect=False)
    encoder = constriction.stream.queue.RangeEncoder()
    encoder.encode(symbols.reshape(-1).astype(np.int32), family, probabilities)
    theirs = encoder.get_compressed()
    ideal_bytes = tables.bits(symbols) / 8
    assert abs(len(ours) - theirs.nbytes) <= 0.001 * ideal_bytes + 8
    assert abs(len(ours) - ideal_bytes) <= 0.001 * ideal_bytes + 8
    assert abs(theirs.nbytes - ideal_bytes) <= 0.001 * ideal_bytes + 8
    back = constriction.stream.queue.RangeDecoder(theirs).decode(family, probabilities)
    assert np.array_equal(back.reshape(symbols.shape), symbols)
    assert np.array_equal(decode(ours, tables, len(symbols)), symbols)


# --- corrupt bytes (eq. H5) ---------------------------------------------------------------------------------

def decode_counting_steps(monkeypatch, data, tables, n):
    """decode(), counting the symbol steps it takes; returns (result or the exception, steps)."""
    steps = [0]
    original = range_coder._Decoder.get

    def counted(self, *args):
        steps[0] += 1
        return original(self, *args)

    monkeypatch.setattr(range_coder._Decoder, "get", counted)
    try:
        result = decode(data, tables, n)
    except DataError as error:
        result = error
    finally:
        monkeypatch.setattr(range_coder._Decoder, "get", original)
    return result, steps[0]


def corrupt_variants(data: bytes, rng):
    yield b""
    yield b"\xff" * 64
    yield b"\x00" * 64
    for cut in (1, len(data) // 2, len(data) - 1):
        yield data[:cut]
    for _ in range(20):
        flipped = bytearray(data)
        flipped[rng.integers(len(flipped))] ^= 1 << int(rng.integers(8))
        yield bytes(flipped)
    for _ in range(20):
        yield rng.integers(0, 256, size=int(rng.integers(1, 2 * len(data)))).astype(np.uint8).tobytes()


def test_corrupt_truncated_or_random_bytes_decode_to_n_by_D_symbols_or_raise_within_n_by_D_steps_eq_H5(monkeypatch):
    rng = np.random.default_rng(5)
    tables = Tables.from_pmf(rng.dirichlet(np.full(9, 0.3), size=6), lo=-4, escape=0.05)
    symbols = draw_from(tables, 300, rng)
    symbols[rng.random(symbols.shape) < 0.05] = rng.integers(-2 ** 40, 2 ** 40)   # escapes too
    data = encode(symbols, tables)
    start = time.perf_counter()
    for bad in corrupt_variants(data, rng):
        result, steps = decode_counting_steps(monkeypatch, bad, tables, 300)
        assert steps <= 300 * 6
        if isinstance(result, DataError):
            assert "corrupt data" in str(result)
        else:
            assert result.shape == (300, 6) and result.dtype == np.int64
    assert time.perf_counter() - start < 20.0


def test_a_run_of_zero_bits_after_an_escape_raises_instead_of_reading_forever_eq_H1b():
    tables = Tables(0, [[2 ** 15, 2 ** 15]], precision=16)       # symbol 0 and the escape, half each
    # code = r · cum_escape exactly (r = (2^32 − 1) >> 16 = 65535): the escape, then zeros past the end
    data = (65535 * 2 ** 15).to_bytes(4, "big").rstrip(b"\0")
    with pytest.raises(DataError, match="escape longer than"):
        decode(data, tables, 1)


def test_a_code_in_the_slack_past_the_last_interval_is_reported_as_corrupt_eq_H3():
    tables = Tables(0, [[2 ** 15, 2 ** 15]], precision=16)
    with pytest.raises(DataError, match="past the table's last interval"):
        decode(b"\xff\xff\xff\xff", tables, 1)                  # code 2^32 − 1 ≥ r · 2^16 = 2^32 − 2^16
