"""Tests of tinyae.datasets: the IDX reader/writer, MNIST lookup/verification/download, shapes().

No test touches the real cache folder or the network: HOME, XDG_CACHE_HOME and the TINYAE_*
variables are redirected into tmp_path, and downloads go to a local http.server on
127.0.0.1 serving small synthetic IDX files whose checksums are injected into
``datasets.CHECKSUMS``. The real MNIST files are used when present (``$TINYAE_DATA_DIR`` or
``../shared/data`` beside the repository), else that test is skipped.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinyae import datasets as ds
from tinyae.datasets import download, lookup, mnist_sets
from tinyae.errors import ChecksumError, DataError, DataNotFoundError, DownloadError, DTypeError

IMAGES, LABELS = ds.SPLITS["test"]  # "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


# ----------------------------------------------------------------------------------------
# helpers and fixtures
# ----------------------------------------------------------------------------------------

_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(arr: np.ndarray) -> bytes:
    """An independent IDX encoder (the format spelled out), to check write_idx against."""
    code = _CODES[arr.dtype.str[1:]]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def synthetic_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def put_split(root: Path, images: np.ndarray, labels: np.ndarray, dataset: str = "mnist",
              split: str = "test", compress: bool = True) -> None:
    folder = root / dataset
    folder.mkdir(parents=True, exist_ok=True)
    img_name, lbl_name = ds.SPLITS[split]
    suffix = ".gz" if compress else ""
    ds.write_idx(folder / (img_name + suffix), images, gzip=compress)
    ds.write_idx(folder / (lbl_name + suffix), labels, gzip=compress)


def leftovers(folder: Path) -> list[str]:
    """Temporary download files left behind."""
    return sorted(p.name for p in folder.glob("*.part")) if folder.exists() else []


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test: a private HOME and XDG cache, no TINYAE_* variables, no proxy, empty memory cache."""
    home, xdg = tmp_path / "home", tmp_path / "xdg"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    for var in ("TINYAE_DATA_DIR", "TINYAE_OFFLINE", "TINYAE_MNIST_MIRRORS", "TINYAE_FASHION_MNIST_MIRRORS",
                "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(mnist_sets, "_MEMORY_CACHE", {})
    monkeypatch.setattr(download, "DOWNLOAD_TIMEOUT_S", 5.0)
    monkeypatch.setattr(lookup, "SYSTEM_DATA_DIR", tmp_path / "usr-share-datasets")   # never the machine's own
    return SimpleNamespace(home=home, cache=xdg / "tinyae", system=tmp_path / "usr-share-datasets")


@pytest.fixture
def fake_mnist(monkeypatch):
    """A small synthetic MNIST test split (17 images) and its sha256 sums injected as the published ones."""
    images, labels = synthetic_split(17, seed=1)
    raw = {IMAGES: idx_bytes(images), LABELS: idx_bytes(labels)}
    monkeypatch.setitem(ds.CHECKSUMS, "mnist", {n: ds.Checksum("sha256", sha256(b)) for n, b in raw.items()})
    gz = {n: gzip.compress(b, mtime=0) for n, b in raw.items()}
    # A valid IDX file of the right shape but other content: passes the format, fails the sum.
    other_images, other_labels = synthetic_split(17, seed=2)
    wrong = {IMAGES: gzip.compress(idx_bytes(other_images)), LABELS: gzip.compress(idx_bytes(other_labels))}
    return SimpleNamespace(images=images, labels=labels, raw=raw, gz=gz, wrong=wrong)


class LocalServer:
    """An HTTP server on 127.0.0.1 (port 0) in a daemon thread, with per-path behaviours.

    ``serve(prefix, files, mode)`` makes ``/<prefix>/<name>.gz`` answer with: "ok" the bytes;
    "truncate" a Content-Length of the full size but only half the bytes, then a closed
    connection; "slow" the bytes after a sleep longer than the client's timeout; or an
    integer HTTP status. Anything else is a 404. ``requests`` lists the paths asked for.
    """

    def __init__(self):
        self.routes: dict[str, tuple[object, bytes]] = {}
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                mode, body = outer.routes.get(self.path, (404, b""))
                if isinstance(mode, int):
                    self.send_error(mode)
                    return
                if mode == "slow":
                    time.sleep(1.0)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def serve(self, prefix: str, files: dict[str, bytes], mode: object = "ok") -> str:
        for name, body in files.items():
            self.routes[f"/{prefix}/{name}.gz"] = (mode, body)
        return f"http://127.0.0.1:{self.port}/{prefix}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    srv = LocalServer()
    yield srv
    srv.close()


def refused_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connection refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing/"


# ----------------------------------------------------------------------------------------
# IDX format
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_idx_round_trip_keeps_dtype_shape_and_values(tmp_path, dtype, compress):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    path = ds.write_idx(tmp_path / "a.idx", arr, gzip=compress)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compress
    back = ds.read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    assert back.shape == (3, 4, 5)
    np.testing.assert_array_equal(back, arr)
    assert back.flags.writeable


@settings(max_examples=40, deadline=None)
@given(arr=hnp.arrays(dtype=st.sampled_from([np.uint8, np.int16, np.int32, np.float64]),
                      shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5)))
def test_idx_round_trip_any_shape_including_empty_dimensions(tmp_path_factory, arr):
    path = tmp_path_factory.mktemp("idx") / "x.idx.gz"
    back = ds.read_idx(ds.write_idx(path, arr, gzip=True))
    assert back.shape == arr.shape and back.dtype == arr.dtype
    np.testing.assert_array_equal(back, arr)  # NaN compares equal here, bit-exact storage


def test_write_idx_matches_the_format_byte_for_byte(tmp_path):
    arr = np.arange(24, dtype=np.int16).reshape(2, 3, 4) - 5
    raw = ds.write_idx(tmp_path / "raw", arr).read_bytes()
    assert raw == idx_bytes(arr)
    assert raw[:4] == b"\x00\x00\x0b\x03" and raw[4:16] == struct.pack(">III", 2, 3, 4)
    assert gzip.decompress(ds.write_idx(tmp_path / "z", arr, gzip=True).read_bytes()) == raw


def test_read_idx_detects_gzip_by_magic_bytes_not_by_file_name(tmp_path):
    arr = np.arange(10, dtype=np.uint8)
    (tmp_path / "compressed.idx").write_bytes(gzip.compress(idx_bytes(arr)))
    (tmp_path / "plain.gz").write_bytes(idx_bytes(arr))
    np.testing.assert_array_equal(ds.read_idx(tmp_path / "compressed.idx"), arr)
    np.testing.assert_array_equal(ds.read_idx(str(tmp_path / "plain.gz")), arr)


def test_write_idx_rejects_dtypes_and_shapes_idx_cannot_store(tmp_path):
    for bad in (np.zeros(3, np.int64), np.zeros(3, bool), np.zeros(3, np.float16), np.zeros(3, np.uint16)):
        with pytest.raises(DTypeError, match="IDX cannot store dtype"):
            ds.write_idx(tmp_path / "x", bad)
    with pytest.raises(ValueError, match="1 to 255 dimensions"):
        ds.write_idx(tmp_path / "x", np.uint8(3))
    assert not (tmp_path / "x").exists()


_GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
_GOOD_GZ = gzip.compress(_GOOD, mtime=0)


def _flip_crc(gz: bytes) -> bytes:
    b = bytearray(gz)
    b[-8] ^= 0xFF  # first byte of the CRC32 trailer
    return bytes(b)


def _garble_deflate(gz: bytes) -> bytes:
    b = bytearray(gz)
    b[10:14] = b"\xff\xff\xff\xff"  # the deflate stream right after the 10-byte gzip header
    return bytes(b)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"\x00\x00", "shorter than the 4-byte magic number"),
        (b"\x01\x02" + _GOOD[2:], "bad magic number 01 02 08 03"),
        (_GOOD[:2] + b"\x0a" + _GOOD[3:], "unknown IDX type code 0x0A"),
        (_GOOD[:3] + b"\x00" + _GOOD[4:], "0 dimensions"),
        (_GOOD[:10], "truncated header: 3 dimensions need a 16-byte header, file has 10 bytes"),
        (_GOOD[:-4], "truncated: header says 2×3×4 = 24 bytes of uint8 data, file has 20 after the 16-byte header"),
        (_GOOD + b"abc", "3 trailing bytes: header says 2×3×4 = 24 bytes of uint8 data, file has 27"),
        (gzip.compress(_GOOD[:-4]), "truncated: header says 2×3×4 = 24 bytes"),
        (_GOOD_GZ[: len(_GOOD_GZ) // 2], "truncated gzip stream"),
        (_flip_crc(_GOOD_GZ), "corrupt gzip stream (CRC check failed"),
        (_garble_deflate(_GOOD_GZ), "corrupt gzip stream"),
        (_GOOD_GZ + b"garbage!", "corrupt gzip stream"),
    ],
    ids=["too-short", "bad-magic", "unknown-type", "zero-ndim", "truncated-header", "truncated-payload",
         "trailing-bytes", "truncated-payload-in-gzip", "truncated-gzip", "gzip-crc", "gzip-deflate",
         "gzip-trailing-garbage"],
)
def test_corrupt_idx_raises_data_error_naming_the_file_and_the_reason(tmp_path, content, reason):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        ds.read_idx(path)
    msg = str(info.value)
    assert msg.startswith(str(path) + ": "), msg
    assert reason in msg, msg


def test_idx_header_with_huge_dimensions_is_reported_without_allocating(tmp_path):
    path = tmp_path / "huge.idx"
    path.write_bytes(b"\x00\x00\x0e\x02" + struct.pack(">II", 2**32 - 1, 2**32 - 1) + b"\x00" * 8)
    with pytest.raises(DataError, match=r"truncated: header says 4294967295×4294967295 = \d+ bytes of float64"):
        ds.read_idx(path)


# ----------------------------------------------------------------------------------------
# Real MNIST, when the files are at hand
# ----------------------------------------------------------------------------------------


def _real_data_root() -> Path | None:
    candidates = [os.environ.get("TINYAE_DATA_DIR")] if os.environ.get("TINYAE_DATA_DIR") else []
    candidates.append(str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    for c in candidates:
        if (Path(c) / "mnist" / "train-images-idx3-ubyte.gz").is_file():
            return Path(c)
    return None


_REAL_ROOT = _real_data_root()  # read before the autouse fixture clears TINYAE_DATA_DIR


@pytest.mark.skipif(_REAL_ROOT is None, reason="real MNIST files not found ($TINYAE_DATA_DIR or ../shared/data)")
def test_real_mnist_loads_with_documented_shapes_dtypes_ranges_and_label_counts(monkeypatch):
    monkeypatch.setenv("TINYAE_DATA_DIR", str(_REAL_ROOT))
    for split, n in (("train", 60000), ("test", 10000)):
        x, y = ds.mnist(split, download=False)  # verified against the published sha256 sums
        assert x.shape == (n, 1, 28, 28) and x.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.uint8
        assert x.min() == 0.0 and x.max() == 1.0
        counts = np.bincount(y, minlength=10)
        assert counts.shape == (10,) and counts.sum() == n and counts.min() > 800
        assert not x.flags.writeable and not y.flags.writeable
    # Well-known facts about the original files: the test set's digit counts, the first training labels.
    np.testing.assert_array_equal(np.bincount(y), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    x_train, y_train = ds.mnist("train", download=False)  # from the memory cache now
    assert list(y_train[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


# ----------------------------------------------------------------------------------------
# Loading, lookup, verification
# ----------------------------------------------------------------------------------------


def test_mnist_returns_float_images_in_unit_range_and_uint8_labels(tmp_path, fake_mnist):
    put_split(tmp_path / "data", fake_mnist.images, fake_mnist.labels)
    x, y = ds.mnist("test", data_dir=tmp_path / "data", download=False)
    assert x.shape == (17, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 0], fake_mnist.images.astype(np.float32) / 255)
    assert y.dtype == np.uint8
    np.testing.assert_array_equal(y, fake_mnist.labels)


def test_repeated_calls_share_a_read_only_memory_cache_that_notices_a_changed_file(tmp_path, fake_mnist, monkeypatch):
    root = tmp_path / "data"
    put_split(root, fake_mnist.images, fake_mnist.labels)
    x1, y1 = ds.mnist("test", data_dir=root, download=False)
    x2, y2 = ds.mnist("test", data_dir=str(root), download=False)
    assert x1 is x2 and y1 is y2
    with pytest.raises(ValueError):
        x1[0, 0, 0, 0] = 1.0
    with pytest.raises(ValueError):
        y1[0] = 3
    # Replace the files (other content, other size): they are read again.
    monkeypatch.setitem(ds.CHECKSUMS, "mnist", {})
    images, labels = synthetic_split(5, seed=9)
    put_split(root, images, labels)
    x3, _ = ds.mnist("test", data_dir=root, download=False)
    assert x3.shape[0] == 5


def test_data_dirs_lists_argument_then_env_var_then_xdg_cache_then_system(tmp_path, monkeypatch, isolated):
    monkeypatch.setenv("TINYAE_DATA_DIR", str(tmp_path / "env"))
    assert ds.data_dirs(tmp_path / "arg") == [tmp_path / "arg", tmp_path / "env", isolated.cache, isolated.system]
    monkeypatch.delenv("TINYAE_DATA_DIR")
    assert ds.data_dirs() == [isolated.cache, isolated.system]


def test_cache_folder_is_home_dot_cache_when_xdg_cache_home_is_unset(monkeypatch, isolated):
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert ds.data_dirs() == [isolated.home / ".cache" / "tinyae", isolated.system]


def test_relative_data_dir_is_made_absolute_and_normalised(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    assert ds.data_dirs("../data")[0] == tmp_path / "data"


def test_explicit_data_dir_beats_env_var_beats_cache(tmp_path, monkeypatch, isolated):
    monkeypatch.setitem(ds.CHECKSUMS, "mnist", {})  # three different synthetic sets: no published sums
    for root, n in ((tmp_path / "arg", 3), (tmp_path / "env", 4), (isolated.cache, 5)):
        put_split(root, *synthetic_split(n, seed=n))
    monkeypatch.setenv("TINYAE_DATA_DIR", str(tmp_path / "env"))
    assert ds.mnist("test", data_dir=tmp_path / "arg", download=False)[0].shape[0] == 3
    assert ds.mnist("test", download=False)[0].shape[0] == 4
    monkeypatch.delenv("TINYAE_DATA_DIR")
    assert ds.mnist("test", download=False)[0].shape[0] == 5


def test_uncompressed_file_names_are_accepted(tmp_path, fake_mnist):
    put_split(tmp_path, fake_mnist.images, fake_mnist.labels, compress=False)
    assert not list((tmp_path / "mnist").glob("*.gz"))
    x, y = ds.mnist("test", data_dir=tmp_path, download=False)
    np.testing.assert_array_equal(y, fake_mnist.labels)


def test_file_in_data_dir_with_wrong_checksum_raises_checksum_error_with_file_expected_and_actual(tmp_path, fake_mnist):
    other_images, _ = synthetic_split(17, seed=2)
    put_split(tmp_path, other_images, fake_mnist.labels)
    with pytest.raises(ChecksumError) as info:
        ds.mnist("test", data_dir=tmp_path, download=False)
    msg = str(info.value)
    assert str(tmp_path / "mnist" / f"{IMAGES}.gz") in msg
    assert ds.CHECKSUMS["mnist"][IMAGES].hexdigest in msg  # expected
    assert sha256(idx_bytes(other_images)) in msg  # actual, of the uncompressed bytes
    assert isinstance(info.value, DataError)


def test_checksum_is_of_the_uncompressed_bytes_so_recompressed_files_pass(tmp_path, fake_mnist):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name, raw in fake_mnist.raw.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(raw, compresslevel=1, mtime=12345))
    ds.mnist("test", data_dir=tmp_path, download=False)


def test_images_of_the_wrong_shape_or_mismatched_labels_raise_data_error_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setitem(ds.CHECKSUMS, "mnist", {})
    images, labels = synthetic_split(6, seed=0)
    put_split(tmp_path, images.reshape(6, 784), labels)  # 2 dimensions instead of 3
    with pytest.raises(DataError, match=rf"{IMAGES}\.gz: expected MNIST images, uint8 N×28×28; file holds uint8 6×784"):
        ds.mnist("test", data_dir=tmp_path, download=False)
    put_split(tmp_path, images, labels[:5])
    with pytest.raises(DataError, match=rf"{LABELS}\.gz: 5 labels for the 6 images"):
        ds.mnist("test", data_dir=tmp_path, download=False)


def test_unknown_split_raises_value_error_naming_the_valid_choices():
    for fn in (ds.mnist, ds.fashion_mnist):
        with pytest.raises(ValueError, match=r"unknown split 'validation'; choose one of 'train', 'test'"):
            fn("validation", download=False)


@pytest.mark.parametrize("how", ["download=False", "TINYAE_OFFLINE=1"])
def test_not_found_offline_lists_every_folder_searched_and_how_to_point_at_files(tmp_path, monkeypatch, isolated,
                                                                                 server, how):
    monkeypatch.setenv("TINYAE_DATA_DIR", str(tmp_path / "env"))
    if how == "TINYAE_OFFLINE=1":
        monkeypatch.setenv("TINYAE_OFFLINE", "1")
    with pytest.raises(DataNotFoundError) as info:
        ds.mnist("test", data_dir=tmp_path / "arg", download=how != "download=False",
                 mirrors=[server.serve("m", {})])
    msg = str(info.value)
    for folder in (tmp_path / "arg" / "mnist", tmp_path / "env" / "mnist", isolated.cache / "mnist"):
        assert str(folder) in msg, msg
    assert msg.index(str(tmp_path / "arg")) < msg.index(str(tmp_path / "env")) < msg.index(str(isolated.cache))
    assert f"{IMAGES}.gz" in msg and f"{LABELS}.gz" in msg
    assert "data_dir=" in msg and "TINYAE_DATA_DIR=" in msg
    assert server.requests == []  # nothing was fetched
    assert isinstance(info.value, FileNotFoundError)


def test_fashion_mnist_reads_its_own_subfolder_and_checks_the_published_gz_md5(tmp_path, monkeypatch):
    images, labels = synthetic_split(8, seed=3)
    put_split(tmp_path, images, labels, dataset="fashion-mnist")
    put_split(tmp_path, *synthetic_split(4, seed=4), dataset="mnist")  # must not be picked up
    folder = tmp_path / "fashion-mnist"
    md5 = {n: hashlib.md5((folder / f"{n}.gz").read_bytes()).hexdigest() for n in (IMAGES, LABELS)}
    monkeypatch.setitem(ds.CHECKSUMS, "fashion-mnist", {n: ds.Checksum("md5", h, "gz") for n, h in md5.items()})
    x, y = ds.fashion_mnist("test", data_dir=tmp_path, download=False)
    assert x.shape == (8, 1, 28, 28)
    np.testing.assert_array_equal(y, labels)
    # The same IDX bytes in another gzip wrapper no longer match the published .gz md5.
    (folder / f"{IMAGES}.gz").write_bytes(gzip.compress(idx_bytes(images), mtime=1))
    with pytest.raises(ChecksumError, match=rf"{IMAGES}\.gz: checksum mismatch: md5 of the \.gz file is [0-9a-f]{{32}}"):
        ds.fashion_mnist("test", data_dir=tmp_path, download=False)


def test_real_checksum_tables_hold_well_formed_published_digests():
    assert ds.CHECKSUMS["mnist"][IMAGES] == ds.Checksum(
        "sha256", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", "uncompressed")
    lengths = {"sha256": 64, "md5": 32}
    for dataset in ("mnist", "fashion-mnist"):
        table = ds.CHECKSUMS[dataset]
        assert set(table) == {n for pair in ds.SPLITS.values() for n in pair}
        for entry in table.values():
            for c in (entry,) if isinstance(entry, ds.Checksum) else entry:
                assert len(c.hexdigest) == lengths[c.algorithm] and int(c.hexdigest, 16) >= 0
    fashion = ds.CHECKSUMS["fashion-mnist"][IMAGES]                    # the uncompressed sha256 first, then Zalando's
    assert [(c.algorithm, c.of) for c in fashion] == [("sha256", "uncompressed"), ("md5", "gz")]


# ----------------------------------------------------------------------------------------
# Download (from a local server)
# ----------------------------------------------------------------------------------------


def test_download_writes_the_verified_file_atomically_into_the_cache(server, fake_mnist, isolated, monkeypatch):
    url = server.serve("good", fake_mnist.gz)
    folder = isolated.cache / "mnist"
    replaced = []
    real_replace = os.replace

    def spy_replace(src, dst):
        src, dst = Path(src), Path(dst)
        # At the moment of the rename: the final name does not exist yet, the complete
        # verified bytes are in a temporary file in the same folder.
        assert not dst.exists()
        assert src.parent == dst.parent == folder and src.name.endswith(".part")
        assert src.read_bytes() == fake_mnist.gz[dst.name[:-3]]
        replaced.append(dst.name)
        real_replace(src, dst)

    monkeypatch.setattr(download.os, "replace", spy_replace)
    x, y = ds.mnist("test", mirrors=[url])
    assert sorted(replaced) == sorted([f"{IMAGES}.gz", f"{LABELS}.gz"])
    np.testing.assert_array_equal(y, fake_mnist.labels)
    np.testing.assert_array_equal(x[:, 0] * 255, fake_mnist.images)
    assert (folder / f"{IMAGES}.gz").read_bytes() == fake_mnist.gz[IMAGES]
    assert leftovers(folder) == []
    assert sorted(server.requests) == sorted([f"/good/{IMAGES}.gz", f"/good/{LABELS}.gz"])
    # Now cached: a second process (empty memory cache) reads the files, no request.
    monkeypatch.setattr(mnist_sets, "_MEMORY_CACHE", {})
    ds.mnist("test", mirrors=[url])
    assert len(server.requests) == 2


@pytest.mark.parametrize("bad", ["wrong-bytes", "truncated", "http-404", "http-500", "not-idx"])
def test_a_failing_mirror_falls_through_to_the_next_one(server, fake_mnist, isolated, bad):
    mode, files = {
        "wrong-bytes": ("ok", fake_mnist.wrong),
        "truncated": ("truncate", fake_mnist.gz),
        "http-404": (404, {}),
        "http-500": (500, fake_mnist.gz),
        "not-idx": ("ok", {n: b"<html>not found</html>" for n in fake_mnist.gz}),
    }[bad]
    first = server.serve("bad", files, mode)
    second = server.serve("good", fake_mnist.gz)
    x, y = ds.mnist("test", mirrors=[first, second])
    np.testing.assert_array_equal(y, fake_mnist.labels)
    folder = isolated.cache / "mnist"
    assert (folder / f"{IMAGES}.gz").read_bytes() == fake_mnist.gz[IMAGES]
    assert leftovers(folder) == []
    assert f"/bad/{IMAGES}.gz" in server.requests and f"/good/{IMAGES}.gz" in server.requests


def test_all_mirrors_failing_raises_download_error_naming_each_url_and_why(server, fake_mnist, isolated):
    mirrors = [
        server.serve("missing", {}, 404),
        server.serve("corrupt", fake_mnist.wrong),
        server.serve("short", fake_mnist.gz, "truncate"),
        refused_url(),
    ]
    with pytest.raises(DownloadError) as info:
        ds.mnist("test", mirrors=mirrors)
    msg = str(info.value)
    for base in mirrors:
        assert base + f"{IMAGES}.gz" in msg, msg
    assert "HTTP 404" in msg
    assert "checksum mismatch: sha256 of the uncompressed IDX bytes is" in msg
    assert "truncated: received" in msg
    assert "refused" in msg.lower()
    assert "data_dir=" in msg and "TINYAE_DATA_DIR=" in msg
    assert isinstance(info.value, OSError)
    folder = isolated.cache / "mnist"
    assert not (folder / f"{IMAGES}.gz").exists() and not (folder / IMAGES).exists()
    assert leftovers(folder) == []


def test_truncated_response_leaves_no_file_under_the_final_name(server, fake_mnist, isolated):
    url = server.serve("short", fake_mnist.gz, "truncate")
    with pytest.raises(DownloadError, match=rf"short/{IMAGES}\.gz: truncated: received (\d+) of \d+ bytes"):
        ds.mnist("test", mirrors=[url])
    folder = isolated.cache / "mnist"
    assert [p.name for p in folder.iterdir()] == []


def test_a_mirror_slower_than_the_timeout_is_given_up(server, fake_mnist, monkeypatch):
    monkeypatch.setattr(download, "DOWNLOAD_TIMEOUT_S", 0.3)
    url = server.serve("slow", fake_mnist.gz, "slow")
    t0 = time.perf_counter()
    with pytest.raises(DownloadError, match="timed out"):
        ds.mnist("test", mirrors=[url])
    assert time.perf_counter() - t0 < 3


def test_cached_file_with_bad_checksum_is_warned_about_and_fetched_again(server, fake_mnist, isolated):
    folder = isolated.cache / "mnist"
    folder.mkdir(parents=True)
    (folder / f"{IMAGES}.gz").write_bytes(fake_mnist.wrong[IMAGES])
    (folder / f"{LABELS}.gz").write_bytes(fake_mnist.gz[LABELS])
    url = server.serve("good", fake_mnist.gz)
    with pytest.warns(UserWarning, match=rf"(?s){IMAGES}\.gz: checksum mismatch.*Fetching it again"):
        x, y = ds.mnist("test", mirrors=[url])
    np.testing.assert_array_equal(x[:, 0] * 255, fake_mnist.images)
    assert (folder / f"{IMAGES}.gz").read_bytes() == fake_mnist.gz[IMAGES]
    assert server.requests == [f"/good/{IMAGES}.gz"]  # the good labels file was kept


def test_cached_corrupt_file_is_fetched_again_and_an_uncompressed_stale_copy_is_replaced(server, fake_mnist, isolated):
    folder = isolated.cache / "mnist"
    folder.mkdir(parents=True)
    (folder / IMAGES).write_bytes(fake_mnist.raw[IMAGES][:-100])  # truncated, uncompressed name
    url = server.serve("good", fake_mnist.gz)
    with pytest.warns(UserWarning, match="truncated"):
        ds.mnist("test", mirrors=[url])
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{IMAGES}.gz", f"{LABELS}.gz"])


def test_cached_file_with_bad_checksum_while_offline_raises_checksum_error(fake_mnist, isolated):
    put_split(isolated.cache, synthetic_split(17, seed=2)[0], fake_mnist.labels)
    with pytest.raises(ChecksumError, match="allow downloads to fetch it again"):
        ds.mnist("test", download=False)


def test_mirrors_come_from_the_env_var_when_no_argument_is_given(server, fake_mnist, monkeypatch):
    bad = server.serve("bad", fake_mnist.wrong)
    good = server.serve("good", fake_mnist.gz)
    monkeypatch.setenv("TINYAE_MNIST_MIRRORS", f" {bad} ,{good},")
    x, y = ds.mnist("test")
    np.testing.assert_array_equal(y, fake_mnist.labels)
    assert server.requests[0] == f"/bad/{IMAGES}.gz"


def test_default_mirrors_are_the_published_ones():
    assert ds.MIRRORS["mnist"] == ["https://ossci-datasets.s3.amazonaws.com/mnist/",
                                   "https://storage.googleapis.com/cvdf-datasets/mnist/"]
    assert ds.MIRRORS["fashion-mnist"] == ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]


# ----------------------------------------------------------------------------------------
# shapes()
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [8, 16, 28, 33])
def test_shapes_returns_documented_shape_dtype_and_range(size):
    x, y = ds.shapes(n=50, size=size, seed=1)
    assert x.shape == (50, 1, size, size) and x.dtype == np.float32 and x.flags.c_contiguous
    assert y.shape == (50,) and y.dtype == np.uint8 and set(np.unique(y)) <= {0, 1, 2}
    assert x.min() >= 0.0 and x.max() <= 1.0
    peak = x.reshape(50, -1).max(axis=1)
    assert (peak > 0.3).all()
    if size >= 16:
        assert (peak == 1.0).all()  # every image has a fully covered pixel


def test_shapes_is_deterministic_per_seed():
    a, la = ds.shapes(n=64, seed=7)
    b, lb = ds.shapes(n=64, seed=7)
    c, lc = ds.shapes(n=64, seed=8)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(a, c)


def test_shapes_labels_are_balanced_within_one_and_shuffled():
    _, y = ds.shapes(n=1000, seed=0)
    counts = np.bincount(y, minlength=3)
    assert counts.sum() == 1000 and counts.max() - counts.min() <= 1
    assert not np.array_equal(y, np.sort(y))


def test_shapes_never_touch_the_border():
    x, _ = ds.shapes(n=300, size=20, seed=3)
    border = np.concatenate([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], axis=-1)
    assert border.max() == 0.0


def test_shapes_labels_index_into_kinds_and_each_kind_has_its_fill_ratio():
    # Fraction of the bounding box a shape fills: square 1, circle pi/4, triangle 1/2.
    kinds = ("triangle", "circle", "square")
    x, y = ds.shapes(n=300, size=40, seed=5, kinds=kinds)
    inside = x[:, 0] > 0.5                                          # (n, H, W)
    rows, cols = inside.any(axis=2), inside.any(axis=1)             # (n, H), (n, W)
    ratio = inside.sum(axis=(1, 2)) / (rows.sum(axis=1) * cols.sum(axis=1))
    expected = {"triangle": 0.5, "circle": np.pi / 4, "square": 1.0}
    for k, kind in enumerate(kinds):
        assert abs(np.median(ratio[y == k]) - expected[kind]) < 0.08, (kind, np.median(ratio[y == k]))


def test_shapes_single_kind_gives_one_label():
    x, y = ds.shapes(n=10, kinds=["circle"])
    assert (y == 0).all() and x.shape == (10, 1, 28, 28)


def test_shapes_rgb_shares_geometry_with_gray_colours_the_shape_and_darkens_the_background():
    gray, yg = ds.shapes(n=40, channels=1, seed=2)
    rgb, yc = ds.shapes(n=40, channels=3, seed=2)
    assert rgb.shape == (40, 3, 28, 28) and rgb.dtype == np.float32
    np.testing.assert_array_equal(yg, yc)
    inside, outside = gray[:, 0] == 1.0, gray[:, 0] == 0.0          # (n, H, W)
    brightest = rgb.max(axis=1)                                      # (n, H, W)
    np.testing.assert_allclose(brightest[inside], 1.0, rtol=1e-6)    # brightest channel of each colour is 1
    assert rgb.transpose(1, 0, 2, 3)[:, outside].max() <= 0.15       # dark background
    colours = np.stack([rgb[i][:, inside[i]].mean(axis=1) for i in range(40)])
    assert len(np.unique(colours.round(3), axis=0)) == 40            # a colour per shape


def test_shapes_rejects_bad_arguments():
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        ds.shapes(n=2, channels=2)
    with pytest.raises(ValueError, match="kinds must be"):
        ds.shapes(n=2, kinds=("hexagon",))
    with pytest.raises(ValueError, match="size must be"):
        ds.shapes(n=2, size=4)
    with pytest.raises(ValueError, match="n must be"):
        ds.shapes(n=-1)
    x, y = ds.shapes(n=0)
    assert x.shape == (0, 1, 28, 28) and y.shape == (0,)


# ----------------------------------------------------------------------------------------
# Fashion-MNIST as Debian ships it
# ----------------------------------------------------------------------------------------

def fashion_dir() -> Path | None:
    """The folder holding fashion-mnist/ (Debian's recompressed files), if it is here."""
    env = os.environ.get("TINYAE_DATA_DIR")
    roots = [Path(env)] if env else []
    roots.append(Path(__file__).resolve().parent.parent.parent / "shared" / "data")
    for root in roots:
        root = root if root.is_absolute() else Path.cwd() / root
        if all((root / "fashion-mnist" / f"{n}.gz").is_file() for pair in ds.SPLITS.values() for n in pair):
            return root
    return None


def test_fashion_mnist_as_debian_ships_it_loads_by_the_sha256_of_its_uncompressed_bytes(isolated):
    root = fashion_dir()
    if root is None:
        pytest.skip("the Fashion-MNIST files are not here")
    raw = (root / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").read_bytes()
    assert hashlib.md5(raw).hexdigest() != "bef4ecab320f06d8554ea6380940ec79"       # not Zalando's .gz bytes
    x, y = ds.fashion_mnist("test", data_dir=root, download=False)
    assert x.shape == (10000, 1, 28, 28) and np.bincount(y).tolist() == [1000] * 10
    x_train, y_train = ds.fashion_mnist("train", data_dir=root, download=False)
    assert x_train.shape == (60000, 1, 28, 28) and np.bincount(y_train).tolist() == [6000] * 10


def test_fashion_mnist_with_a_changed_byte_is_refused(tmp_path, isolated):
    root = fashion_dir()
    if root is None:
        pytest.skip("the Fashion-MNIST files are not here")
    data = bytearray(gzip.decompress((root / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    data[100] = (data[100] + 1) % 10                                                 # one label changed
    folder = tmp_path / "bad" / "fashion-mnist"
    folder.mkdir(parents=True)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(data), mtime=0))
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes((root / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").read_bytes())
    with pytest.raises(ChecksumError, match=r"sha256 of the uncompressed IDX bytes is .*the published Fashion-MNIST "
                                            r"t10k-labels-idx1-ubyte has 0402a96d"):
        ds.fashion_mnist("test", data_dir=tmp_path / "bad", download=False)


def test_zalandos_original_gz_files_still_pass_by_their_md5(tmp_path, isolated, monkeypatch):
    """A .gz whose md5 is the published one passes even where the sha256 check would not (here a synthetic
    file with its md5 injected as Zalando's, its sha256 left at the real one)."""
    images, labels = synthetic_split(7, seed=3)
    folder = tmp_path / "z" / "fashion-mnist"
    folder.mkdir(parents=True)
    gz = {IMAGES: gzip.compress(idx_bytes(images), mtime=0), LABELS: gzip.compress(idx_bytes(labels), mtime=0)}
    for name, data in gz.items():
        (folder / f"{name}.gz").write_bytes(data)
    table = {name: (ds.CHECKSUMS["fashion-mnist"][name][0], ds.Checksum("md5", hashlib.md5(data).hexdigest(), "gz"))
             for name, data in gz.items()}
    monkeypatch.setitem(ds.CHECKSUMS, "fashion-mnist", table)
    x, y = ds.fashion_mnist("test", data_dir=tmp_path / "z", download=False)
    assert x.shape == (7, 1, 28, 28)


def test_the_system_data_folder_is_searched_before_any_download(tmp_path, isolated, fake_mnist):
    put_split(isolated.system, fake_mnist.images, fake_mnist.labels)
    x, _ = ds.mnist("test", download=False)
    assert x.shape == (17, 1, 28, 28)
