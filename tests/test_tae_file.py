"""The .tae compressed-image file (tinyae/coding/tae.py): round trips, the model fingerprint, and bad files.

A .tae file crosses a trust boundary, so beside the round trips this proves that every kind
of broken or crafted file is refused with a CompressedFileError of its own message naming
the file, that a file declaring 2**40 images (or a payload of 2**63 bytes) is refused
without allocating from that count, and, by fuzzing mutated valid files and crafted headers
with correct checksums, that no input gives any other exception, a hang or a large
allocation. Crafted files come from tests/tae_files.py, written from the documented layout.
"""
from __future__ import annotations

import io
import math
import struct
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tae_files import FINGERPRINT, GOOD, MAGIC, craft, flip_bit, payload_offset, tiny_png
from tinyae import layers, models
from tinyae.coding import tae
from tinyae.coding.tae import TaeFile
from tinyae.errors import CompressedFileError, DataError

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def small_model(hidden=6, seed=0):
    return layers.Sequential(layers.Dense(12, hidden, rng=seed), layers.ReLU(), layers.BatchNorm1d(hidden),
                             layers.Dense(hidden, 12, rng=seed + 1), layers.Sigmoid(), input_shape=(12,))


def good_tae(**changes) -> TaeFile:
    fields = dict(fingerprint=FINGERPRINT, count=3, image_shape=(1, 28, 28), code_shape=(32,), step=0.5,
                  precision=16, payload=GOOD["payload"])
    return TaeFile(**{**fields, **changes})


def peak_bytes(function, *args) -> tuple[object, int]:
    """(what ``function(*args)`` returned or raised, the peak of Python allocations while it ran)."""
    tracemalloc.start()
    try:
        try:
            outcome = function(*args)
        except Exception as exc:              # noqa: BLE001 - the outcome is what the caller checks
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# --- round trips --------------------------------------------------------------------------------------

def test_one_image_round_trips_its_header_and_payload_through_a_file(tmp_path):
    written = good_tae(count=1, payload=b"\x00\x01\xfe\xff")
    path = tae.write(tmp_path / "one.tae", written)
    back = tae.read(path)
    assert back == written
    assert (back.count, back.image_shape, back.code_shape, back.step, back.precision, back.payload) == \
        (1, (1, 28, 28), (32,), 0.5, 16, b"\x00\x01\xfe\xff")
    assert path.stat().st_size == written.file_size


def test_many_rgb_images_with_image_shaped_codes_round_trip_through_bytes_and_an_open_file():
    payload = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    written = good_tae(count=500, image_shape=(3, 32, 32), code_shape=(8, 4, 4), step=1e-3, precision=24,
                       payload=payload)
    assert tae.from_bytes(tae.to_bytes(written)) == written
    buffer = io.BytesIO()
    assert tae.write(buffer, written) is None
    assert tae.from_bytes(buffer.getvalue()) == written


def test_an_empty_payload_and_a_rank_4_code_round_trip():
    written = good_tae(code_shape=(2, 3, 4, 5), payload=b"")
    assert tae.from_bytes(tae.to_bytes(written)) == written


def test_the_writer_follows_the_documented_layout_byte_for_byte():
    assert tae.to_bytes(good_tae()) == craft()
    assert tae.to_bytes(good_tae(code_shape=(8, 7, 7))) == craft(code_shape=(8, 7, 7))
    assert tae.to_bytes(good_tae()).startswith(b"TINYAE\x00C\x01\x00")


def test_file_size_counts_every_byte_written_85_plus_4_per_code_dimension_plus_the_payload():
    for code_shape in [(32,), (8, 7, 7)]:
        written = good_tae(code_shape=code_shape)
        assert written.file_size == len(tae.to_bytes(written)) == 85 + 4 * len(code_shape) + len(written.payload)


@pytest.mark.parametrize("changes, error", [
    (dict(count=0), "image count 0 is out of range"),
    (dict(image_shape=(2, 28, 28)), "2 channels per image"),
    (dict(image_shape=(28, 28)), "expected (C, H, W)"),
    (dict(code_shape=()), "a code has 1 to 4 dimensions"),
    (dict(code_shape=(4, 0)), "every dimension must be at least 1"),
    (dict(step=math.nan), "quantiser step nan"),
    (dict(step=-0.5), "quantiser step -0.5"),
    (dict(precision=25), "coder precision 25 bits"),
    (dict(fingerprint=b"short"), "fingerprint has 5 bytes, expected 32"),
    (dict(version=2), "this tinyae writes version 1"),
], ids=lambda v: str(v)[:30])
def test_the_writer_refuses_what_the_reader_would_refuse(changes, error):
    with pytest.raises(ValueError) as info:
        good_tae(**changes)
    assert error in str(info.value)


def test_the_writer_refuses_fields_of_the_wrong_type():
    for changes in [dict(count=True), dict(count=3.0), dict(step="0.5"), dict(payload="text"),
                    dict(code_shape=32)]:
        with pytest.raises(TypeError):
            good_tae(**changes)


def test_numpy_integers_and_lists_are_normalised_to_python_ints_and_tuples():
    made = good_tae(count=np.int64(3), image_shape=[1, np.int32(28), 28], code_shape=[np.uint8(32)],
                    step=np.float32(0.5), payload=bytearray(b"ab"))
    assert made == good_tae(payload=b"ab")
    assert type(made.count) is int and type(made.image_shape) is tuple and type(made.payload) is bytes


# --- the model fingerprint -----------------------------------------------------------------------------

def test_the_fingerprint_is_32_bytes_and_the_same_for_the_same_model_built_twice():
    first = tae.model_fingerprint(small_model())
    assert isinstance(first, bytes) and len(first) == 32
    assert tae.model_fingerprint(small_model()) == first


def test_the_fingerprint_survives_saving_and_loading_the_model(tmp_path):
    model = small_model()
    assert tae.model_fingerprint(models.load(models.save(model, tmp_path / "m.npz"))) == tae.model_fingerprint(model)


def test_the_fingerprint_changes_when_one_weight_moves_by_one_ulp():
    model = small_model()
    before = tae.model_fingerprint(model)
    w = model.layers[3].W.data
    w[2, 5] = np.nextafter(w[2, 5], np.float32(np.inf))
    assert tae.model_fingerprint(model) != before


def test_the_fingerprint_changes_with_a_buffer_the_dtype_or_the_architecture():
    before = tae.model_fingerprint(small_model())
    with_buffer = small_model()
    with_buffer.layers[2].buffers["running_var"][0] += 1
    other_output = layers.Sequential(*small_model().layers[:4], layers.Tanh(), input_shape=(12,))
    wider = small_model(hidden=7)
    fingerprints = {tae.model_fingerprint(m) for m in (with_buffer, other_output, wider)}
    assert before not in fingerprints and len(fingerprints) == 3


def test_check_fingerprint_accepts_a_file_written_for_the_same_model():
    model = small_model()
    tae.check_fingerprint(good_tae(fingerprint=tae.model_fingerprint(model)), small_model(), "x.tae")


def test_a_file_of_another_model_is_refused_naming_both_fingerprints_and_the_model_to_pass():
    written_by, given = small_model(hidden=6), small_model(hidden=8)
    theirs, mine = tae.model_fingerprint(written_by).hex()[:16], tae.model_fingerprint(given).hex()[:16]
    with pytest.raises(CompressedFileError) as info:
        tae.check_fingerprint(good_tae(fingerprint=tae.model_fingerprint(written_by)), given, "digits.tae",
                              model_source="wide.npz")
    message = str(info.value)
    assert message.startswith("digits.tae: was compressed by another model")
    assert theirs in message and mine in message and "wide.npz has" in message
    assert "pass the model file it was compressed with" in message


# --- bad files: each its own message ------------------------------------------------------------------

DAMAGED_STEP = flip_bit(craft(), 60 + 3)           # a bit of Δ (offset 60), after the header's CRC was made
BAD_FILES = [
    ("empty file", b"", "not a .tae file: it is empty (0 bytes)"),
    ("cut inside the magic", MAGIC[:5], "truncated header: the file has 5 bytes; a .tae file has at least 89"),
    ("cut inside the fixed header", craft()[:40],
     "truncated header: the file has 40 bytes; a version-1 .tae file has at least 89"),
    ("cut inside the code shape", craft(code_shape=(8, 7, 7))[:85],
     "truncated header: the file has 85 bytes; its header needs 93 (77 fixed, 4 × 3 for the code shape"),
    ("truncated payload", craft()[:-30], "truncated payload: the header declares 100 bytes of payload and a 4-byte "
                                         "checksum after its 85-byte header, 189 bytes in all; the file has 159"),
    ("payload length of 2**63", craft(length=2**63), "truncated payload: the header declares 9223372036854775808"),
    ("trailing bytes", craft() + b"garbage", "7 unexpected bytes after the end"),
    ("wrong magic", b"NOTATAE!" + craft()[8:], "not a .tae file: its first bytes are b'NOTATAE!', a .tae file starts"),
    ("a PNG image", tiny_png(), "(a PNG image), a .tae file starts with b'TINYAE\\x00C'"),
    ("a zip archive", b"PK\x03\x04" + bytes(100), "(a zip archive, such as a tinyae model file (.npz))"),
    ("unknown version", craft(version=2), "uses .tae format version 2 (written by a newer tinyae?); "
                                          "this tinyae reads version 1"),
    ("version 0", craft(version=0), "uses .tae format version 0; this tinyae reads version 1"),
    ("zero images", craft(count=0), "image count 0 is out of range: a .tae file holds 1 to 10000000 images"),
    ("2**40 images", craft(count=2**40), "image count 1099511627776 is out of range"),
    ("huge image", craft(height=100_000, width=100_000), "image shape 1×100000×100000: height and width must be 1 "
                                                         "to 65536 pixels"),
    ("zero width", craft(width=0), "image shape 1×28×0"),
    ("too many pixels", craft(count=10**7, height=1000, width=1000), "are 10000000000000 values, more than the cap"),
    ("2 channels", craft(channels=2), "2 channels per image: expected 1 (grey) or 3 (RGB)"),
    ("code rank 0", craft(rank=0, code_shape=()), "code rank 0: a code has 1 to 4 dimensions"),
    ("code rank 5", craft(code_shape=(1, 2, 3, 4, 5)), "code rank 5: a code has 1 to 4 dimensions"),
    ("zero code dimension", craft(code_shape=(8, 0, 7)), "code shape (8, 0, 7): every dimension must be at least 1"),
    ("huge code", craft(code_shape=(2**31, 2**31)), "code shape (2147483648, 2147483648): 4611686018427387904 "
                                                    "values per image, more than the cap of 10000000"),
    ("too many symbols", craft(count=10**6, code_shape=(1000,)), "symbols, more than the cap of 100000000"),
    ("NaN step", craft(step=math.nan), "quantiser step nan: expected a finite number > 0"),
    ("infinite step", craft(step=math.inf), "quantiser step inf: expected a finite number > 0"),
    ("negative step", craft(step=-0.5), "quantiser step -0.5: expected a finite number > 0"),
    ("zero step", craft(step=0.0), "quantiser step 0.0: expected a finite number > 0"),
    ("precision 0", craft(precision=0), "coder precision 0 bits: expected 1 to 24"),
    ("precision 30", craft(precision=30), "coder precision 30 bits: expected 1 to 24"),
    ("damaged header", DAMAGED_STEP, "the header is damaged: its CRC-32 is"),
    ("damaged payload", flip_bit(craft(), payload_offset() + 41, 6), "the payload is damaged: its CRC-32 is"),
]


@pytest.mark.parametrize("name, data, fragment", BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_each_bad_file_is_refused_by_read_naming_the_file(tmp_path, name, data, fragment):
    path = tmp_path / "images.tae"
    path.write_bytes(data)
    with pytest.raises(CompressedFileError) as info:
        tae.read(path)
    assert str(info.value).startswith(f"{path}: ")
    assert fragment in str(info.value)


@pytest.mark.parametrize("name, data, fragment", BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_each_bad_file_is_refused_by_from_bytes_naming_the_source(name, data, fragment):
    with pytest.raises(CompressedFileError) as info:
        tae.from_bytes(data, source="upload #7")
    assert str(info.value).startswith("upload #7: ") and fragment in str(info.value)


def test_every_bad_file_gets_its_own_message():
    messages = []
    for _, data, _ in BAD_FILES:
        with pytest.raises(CompressedFileError) as info:
            tae.from_bytes(data)
        messages.append(str(info.value))
    assert len(set(messages)) == len(BAD_FILES)


def test_the_file_error_is_a_data_error_and_a_value_error():
    assert issubclass(CompressedFileError, DataError) and issubclass(CompressedFileError, ValueError)


def test_a_missing_file_and_a_folder_are_refused_with_their_own_messages(tmp_path):
    with pytest.raises(CompressedFileError, match="no such file"):
        tae.read(tmp_path / "absent.tae")
    with pytest.raises(CompressedFileError, match="is a folder, not a .tae file"):
        tae.read(tmp_path)


def test_2_to_the_40_images_with_a_tiny_payload_fail_fast_without_allocating(tmp_path):
    data = craft(count=2**40, payload=b"\x01")
    (tmp_path / "huge.tae").write_bytes(data)
    for function, argument in [(tae.from_bytes, data), (tae.read, tmp_path / "huge.tae")]:
        start = time.perf_counter()
        outcome, peak = peak_bytes(function, argument)
        assert isinstance(outcome, CompressedFileError) and "image count 1099511627776" in str(outcome)
        assert peak < 64 * 1024, f"{function.__name__} allocated {peak} bytes"
        assert time.perf_counter() - start < 1.0


def test_a_declared_payload_of_2_to_the_63_bytes_allocates_nothing():
    outcome, peak = peak_bytes(tae.from_bytes, craft(length=2**63))
    assert isinstance(outcome, CompressedFileError) and peak < 64 * 1024


def test_a_large_foreign_file_is_refused_after_reading_only_its_header(tmp_path):
    path = tmp_path / "big.tae"
    path.write_bytes(craft(payload=b"")[:-4] + bytes(16 * 2**20))    # header says 0 bytes, 16 MiB follow
    outcome, peak = peak_bytes(tae.read, path)
    assert isinstance(outcome, CompressedFileError) and "unexpected bytes after the end" in str(outcome)
    assert peak < 64 * 1024


# --- fuzzing ---------------------------------------------------------------------------------------------

VALID_FILES = [craft(), craft(code_shape=(8, 7, 7), channels=3, payload=bytes(range(256)) * 2),
               craft(payload=b""), craft(count=1, code_shape=(2, 3, 4, 5), precision=24, step=1e-9)]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 16)),
    st.tuples(st.just("overwrite"), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
)


def mutate(data: bytes, steps) -> bytes:
    out = bytearray(data)
    for kind, position, *rest in steps:
        at = position % (len(out) + 1)
        if kind == "flip" and out:
            out[at % len(out)] ^= 1 << rest[0]
        elif kind == "truncate":
            del out[at:]
        elif kind == "insert":
            out[at:at] = rest[0]
        elif kind == "delete":
            del out[at:at + rest[0]]
        elif kind == "overwrite":
            out[at:at + len(rest[0])] = rest[0]
    return bytes(out)


def parse_within_bounds(data: bytes):
    """The property: a TaeFile or a CompressedFileError, in well under a second, allocating little."""
    start = time.perf_counter()
    outcome, peak = peak_bytes(tae.from_bytes, data)
    assert isinstance(outcome, (TaeFile, CompressedFileError)), f"{type(outcome).__name__}: {outcome}"
    assert peak < 4 * len(data) + 64 * 1024, f"allocated {peak} bytes for a {len(data)}-byte file"
    assert time.perf_counter() - start < 2.0
    return outcome


@FUZZ
@given(base=st.sampled_from(VALID_FILES), steps=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_valid_files_parse_or_raise_the_file_error_and_nothing_else(base, steps):
    data = mutate(base, steps)
    outcome = parse_within_bounds(data)
    event("parsed" if isinstance(outcome, TaeFile) else str(outcome).split(": ", 1)[1][:24])
    if isinstance(outcome, TaeFile):                  # only a file that re-encodes to exactly these bytes passes
        assert tae.to_bytes(outcome) == data


def mostly_in_range(low, high, width_max):
    """Integers in low..high most of the time (so that some crafted files pass), any value the field holds else."""
    return st.one_of(st.integers(low, high), st.integers(0, width_max))


@FUZZ
@given(count=mostly_in_range(1, 50, 2**64 - 1), channels=st.one_of(st.sampled_from([1, 3]), st.integers(0, 255)),
       height=mostly_in_range(1, 64, 2**32 - 1), width=mostly_in_range(1, 64, 2**32 - 1),
       code_shape=st.one_of(st.lists(st.integers(1, 16), min_size=1, max_size=4),
                            st.lists(mostly_in_range(1, 16, 2**32 - 1), min_size=0, max_size=6)),
       step=st.one_of(st.floats(1e-6, 10.0), st.floats(allow_nan=True, allow_infinity=True)),
       precision=mostly_in_range(1, 24, 255), version=st.sampled_from([1] * 12 + [0, 2, 65535]),
       payload=st.binary(max_size=64), length_error=st.sampled_from([0] * 6 + [1, -1, 2**40]))
def test_crafted_headers_with_valid_checksums_parse_or_raise_the_file_error(count, channels, height, width, code_shape,
                                                                            step, precision, version, payload,
                                                                            length_error):
    length = max(0, min(2**64 - 1, len(payload) + length_error))
    data = craft(count=count, channels=channels, height=height, width=width, code_shape=code_shape,
                 step=step, precision=precision, version=version, payload=payload, length=length)
    outcome = parse_within_bounds(data)
    event("parsed" if isinstance(outcome, TaeFile) else str(outcome).split(": ", 1)[1][:24])
    if isinstance(outcome, TaeFile):                  # passed: every field was within its documented range
        assert version == 1 and length == len(payload)
        assert 1 <= count <= tae.MAX_COUNT and channels in (1, 3) and 1 <= height <= 65536 and 1 <= width <= 65536
        assert count * channels * height * width <= tae.MAX_IMAGE_VALUES
        assert 1 <= len(code_shape) <= 4 and min(code_shape) >= 1
        assert count * math.prod(code_shape) <= tae.MAX_CODE_VALUES and math.isfinite(step) and step > 0
        assert 1 <= precision <= 24 and outcome.payload == payload
        assert (outcome.count, outcome.image_shape, outcome.code_shape) == (count, (channels, height, width),
                                                                            tuple(code_shape))


def test_the_layout_table_in_the_docstring_gives_the_offsets_and_sizes_the_reader_uses():
    rows = [line.split("|")[1:3] for line in tae.__doc__.splitlines() if line.startswith("| ") and "offset" not in line]
    fixed = [(int(offset), int(size)) for offset, size in rows[:11]]
    sizes = [struct.calcsize("<" + code) for code in ["8s", "H", "32s", "Q", "B", "I", "I", "B", "d", "B", "Q"]]
    assert [size for _, size in fixed] == sizes
    assert [offset for offset, _ in fixed] == [sum(sizes[:i]) for i in range(11)]
    assert tae.FIXED.size == sum(sizes) == 77 and payload_offset(1) == 85
