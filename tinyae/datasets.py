"""Data sets: an IDX reader and writer, MNIST and Fashion-MNIST, and procedural shapes.

Everything here returns NumPy arrays on the CPU; the training loop moves batches to the
active backend.

Public functions
----------------
``read_idx(path)``, ``write_idx(path, array, gzip=False)``
    The IDX format of the MNIST files. A file is gzip-compressed or raw; which one is told
    by its first two bytes (1f 8b), never by its name. Layout (all integers big-endian)::

        byte 0-1   0x00 0x00
        byte 2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                              0x0D float32, 0x0E float64
        byte 3     number of dimensions, d >= 1
        then       d uint32 sizes, then prod(sizes) items, C order, nothing after them

``mnist(split, data_dir, download)``, ``fashion_mnist(split, data_dir, download)``
    ``(images, labels)``: images float32 in [0, 1], shape (N, 1, 28, 28) (the bytes / 255),
    labels uint8, shape (N,). N = 60000 for ``"train"``, 10000 for ``"test"``. The arrays
    are cached in memory per process and returned **read-only**: index them (which copies)
    rather than writing into them.

``shapes(n, size, channels, seed, kinds)``
    A procedural data set (circles, squares, triangles) that needs no files at all.

``data_dirs(data_dir)``
    The folders searched, in order.

Where the files are looked for
------------------------------
Each of the two files of a split (images, labels) is looked for in these root folders, in
this order; the first root that has it wins:

1. the ``data_dir`` argument, when given;
2. ``$TINYAE_DATA_DIR``, when set;
3. the cache folder, ``$XDG_CACHE_HOME/tinyae`` when ``XDG_CACHE_HOME`` is set, else
   ``~/.cache/tinyae``;
4. the system's data sets, ``/usr/share/datasets`` (:data:`SYSTEM_DATA_DIR`), where Debian's
   ``dataset-fashion-mnist`` package installs ``fashion-mnist/``;
5. otherwise the file is downloaded into the cache folder (unless ``download=False`` or
   ``TINYAE_OFFLINE=1``, in which case :class:`~tinyae.errors.DataNotFoundError` lists the
   folders searched).

Inside a root, a data set has its own subfolder, ``mnist/`` or ``fashion-mnist/``, holding
the four files under their original names, gzip-compressed or not::

    <root>/mnist/train-images-idx3-ubyte.gz   (or train-images-idx3-ubyte)
    <root>/mnist/train-labels-idx1-ubyte.gz
    <root>/mnist/t10k-images-idx3-ubyte.gz
    <root>/mnist/t10k-labels-idx1-ubyte.gz
    <root>/fashion-mnist/...                  (the same four names)

so that, for example, ``TINYAE_DATA_DIR=../shared/data`` finds ``../shared/data/mnist/``.

Verification
------------
Every file is checked against the checksums in :data:`CHECKSUMS`: the sha256 of the
*uncompressed* IDX bytes, so a file recompressed by someone else still passes (Debian's
``dataset-fashion-mnist`` package recompressed Zalando's files: their .gz bytes differ, the
IDX bytes inside do not). For Fashion-MNIST the md5 of each ``.gz`` file as Zalando publishes
it is accepted too: a file passes when any of its checksums that applies to it matches.
A mismatch in a folder you pointed at (``data_dir``, ``$TINYAE_DATA_DIR``) raises
:class:`~tinyae.errors.ChecksumError`; a mismatch in the cache folder is warned about and
the file is downloaded again.

Downloads try each mirror of :data:`MIRRORS` in turn (overridden by the ``mirrors``
argument, or by ``$TINYAE_MNIST_MIRRORS`` / ``$TINYAE_FASHION_MNIST_MIRRORS``, comma-separated
base URLs). A download goes to a temporary file beside its final name, is verified, synced
to disk and only then renamed (``os.replace``) to the final name, so a failed or partial
download never leaves a file under that name.
"""

from __future__ import annotations

import gzip as _gzip
import hashlib
import http.client
import math
import os
import struct
import tempfile
import urllib.error
import urllib.request
import warnings
import zlib
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from . import atomic
from .errors import ChecksumError, DataError, DataNotFoundError, DownloadError, DTypeError

__all__ = [
    "read_idx",
    "write_idx",
    "mnist",
    "fashion_mnist",
    "shapes",
    "data_dirs",
    "MIRRORS",
    "CHECKSUMS",
    "SYSTEM_DATA_DIR",
    "Checksum",
]

# --------------------------------------------------------------------------------------
# IDX format
# --------------------------------------------------------------------------------------

#: IDX type code -> NumPy dtype of the items as stored (big-endian).
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _dims_str(dims: Sequence[int]) -> str:
    return "×".join(str(d) for d in dims) if dims else "(no dimensions)"


def _decompress(raw: bytes, source: str) -> bytes:
    """The IDX bytes of a file's content: gunzipped when it starts with the gzip magic."""
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return _gzip.decompress(raw)
    except EOFError as e:
        raise DataError(f"{source}: truncated gzip stream ({e}); the file is incomplete") from None
    except (OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{source}: corrupt gzip stream ({e})") from None


def _parse_idx(data: bytes, source: str) -> np.ndarray:
    """Parse uncompressed IDX bytes; returns a read-only big-endian view of ``data``."""
    if len(data) < 4:
        raise DataError(f"{source}: not an IDX file: {len(data)} bytes, shorter than the 4-byte magic number")
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{source}: not an IDX file: bad magic number {data[:4].hex(' ')} "
            f"(an IDX file starts with two zero bytes, a type code and the number of dimensions)"
        )
    code, ndim = data[2], data[3]
    if code not in _IDX_TYPES:
        known = ", ".join(f"0x{c:02X} {t.name}" for c, t in _IDX_TYPES.items())
        raise DataError(f"{source}: unknown IDX type code 0x{code:02X} in the magic number (known: {known})")
    if ndim == 0:
        raise DataError(f"{source}: bad IDX header: the magic number says 0 dimensions (at least 1 is needed)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{source}: truncated header: {ndim} dimensions need a {header}-byte header, file has {len(data)} bytes"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _IDX_TYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    got = len(data) - header
    if got != expected:
        what = "truncated" if got < expected else f"{got - expected} trailing bytes"
        raise DataError(
            f"{source}: {what}: header says {_dims_str(dims)} = {expected} bytes of {dtype.name} data, "
            f"file has {got} after the {header}-byte header"
        )
    return np.frombuffer(data, dtype=dtype, count=math.prod(dims), offset=header).reshape(dims)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw) into a NumPy array.

    Parameters
    ----------
    path : str or path-like
        The file. Compression is detected from its first bytes (1f 8b), not its name.

    Returns
    -------
    ndarray
        Shape as given by the file's header, dtype from its type code (uint8, int8, int16,
        int32, float32 or float64) in native byte order; a fresh, writable array.

    Raises
    ------
    DataError
        The file is not IDX, its gzip stream is corrupt or truncated, or its payload is
        shorter or longer than its header says. The message names the file.
    FileNotFoundError
        No such file.
    """
    path = Path(path)
    raw = path.read_bytes()
    arr = _parse_idx(_decompress(raw, str(path)), str(path))
    return arr.astype(arr.dtype.newbyteorder("="))  # a copy, native order, writable


def _idx_code(dtype: np.dtype) -> int:
    for code, t in _IDX_TYPES.items():
        if dtype.kind == t.kind and dtype.itemsize == t.itemsize:
            return code
    names = ", ".join(t.name for t in _IDX_TYPES.values())
    raise DTypeError(f"write_idx: IDX cannot store dtype {dtype}; use one of {names}")


def write_idx(path: str | os.PathLike, array, gzip: bool = False) -> Path:
    """Write ``array`` to ``path`` in IDX format, gzip-compressed when ``gzip`` is true.

    Parameters
    ----------
    path : str or path-like
        The file to write (replaced atomically if it exists). The name is not changed:
        add ``.gz`` yourself if you want it.
    array : array_like
        Any shape with 1 to 255 dimensions, each below 2**32; dtype uint8, int8, int16,
        int32, float32 or float64 (stored big-endian, as the format requires).
    gzip : bool
        Compress with gzip (the header's timestamp is 0, so the output is reproducible).

    Returns
    -------
    Path
        ``path``.
    """
    arr = np.asarray(array)
    code = _idx_code(arr.dtype)
    if not 1 <= arr.ndim <= 255:
        raise ValueError(f"write_idx: IDX stores 1 to 255 dimensions, array has {arr.ndim}")
    if any(d >= 2**32 for d in arr.shape):
        raise ValueError(f"write_idx: every dimension must be below 2**32, shape is {arr.shape}")
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload = np.ascontiguousarray(arr, dtype=_IDX_TYPES[code]).tobytes()
    data = header + payload
    if gzip:
        data = _gzip.compress(data, mtime=0)
    path = Path(path)
    _atomic_write(path, data)
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    atomic.write(path, lambda f: f.write(data), suffix=".part")


# --------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST: names, mirrors, checksums
# --------------------------------------------------------------------------------------


class Checksum(NamedTuple):
    """A published checksum of one data file.

    ``of`` is ``"uncompressed"`` (the hash of the IDX bytes, whatever the compression) or
    ``"gz"`` (the hash of the ``.gz`` file exactly as published).
    """

    algorithm: str  # "sha256" or "md5" (any name hashlib.new accepts)
    hexdigest: str
    of: str = "uncompressed"


#: The splits and their (images, labels) file names, without ``.gz``.
SPLITS: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_DISPLAY = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
_MIRROR_ENV = {"mnist": "TINYAE_MNIST_MIRRORS", "fashion-mnist": "TINYAE_FASHION_MNIST_MIRRORS"}

#: Base URLs tried in order, per data set (the subfolder name); ``<base><file>.gz`` is fetched.
MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
}

#: Published checksums per data set and file name (without ``.gz``). A file with no entry
#: is not verified (tests inject their own tables here).
CHECKSUMS: dict[str, dict[str, Checksum]] = {
    # sha256 of the uncompressed original files (LeCun, Cortes, Burges).
    "mnist": {
        "train-images-idx3-ubyte": Checksum("sha256", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        "train-labels-idx1-ubyte": Checksum("sha256", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        "t10k-images-idx3-ubyte": Checksum("sha256", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        "t10k-labels-idx1-ubyte": Checksum("sha256", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    },
    # Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): the sha256 of the uncompressed IDX bytes (as
    # `zcat FILE | sha256sum` gives them for Debian's dataset-fashion-mnist package, whose .gz files
    # are recompressed), and the md5 of each .gz file as Zalando publishes it (the README of
    # github.com/zalandoresearch/fashion-mnist, "Get the Data"; torchvision uses the same sums).
    "fashion-mnist": {
        "train-images-idx3-ubyte": (
            Checksum("sha256", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
            Checksum("md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "gz")),
        "train-labels-idx1-ubyte": (
            Checksum("sha256", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
            Checksum("md5", "25c81989df183df01b3e8a0aad5dffbe", "gz")),
        "t10k-images-idx3-ubyte": (
            Checksum("sha256", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
            Checksum("md5", "bef4ecab320f06d8554ea6380940ec79", "gz")),
        "t10k-labels-idx1-ubyte": (
            Checksum("sha256", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
            Checksum("md5", "bb300cfdad3c16e7a12a480ee83cd310", "gz")),
    },
}

#: Seconds before a connection or a read of a download gives up.
DOWNLOAD_TIMEOUT_S: float = 30.0
_CHUNK = 1 << 16

#: In-memory cache: key -> (images, labels), both read-only.
_MEMORY_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _cache_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return _abs(base / "tinyae")


def _abs(p: str | os.PathLike) -> Path:
    """Absolute and normalised (no '..'), symlinks kept."""
    return Path(os.path.abspath(Path(p).expanduser()))


#: Where an operating system's packages put data sets (Debian: dataset-fashion-mnist installs
#: /usr/share/datasets/fashion-mnist/); searched after the cache folder, before any download.
SYSTEM_DATA_DIR = Path("/usr/share/datasets")


def _roots(data_dir: str | os.PathLike | None) -> list[tuple[Path, str]]:
    """The root folders searched, in order, each with where it came from."""
    roots: list[tuple[Path, str]] = []
    if data_dir is not None:
        roots.append((_abs(data_dir), "data_dir argument"))
    env = os.environ.get("TINYAE_DATA_DIR")
    if env:
        roots.append((_abs(env), "$TINYAE_DATA_DIR"))
    roots.append((_cache_root(), "cache folder"))
    roots.append((Path(SYSTEM_DATA_DIR), "system data sets"))
    return roots


def data_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The root folders searched for data files, in order (absolute paths).

    ``[data_dir]`` when given, then ``$TINYAE_DATA_DIR`` when set, then the cache folder
    (``$XDG_CACHE_HOME/tinyae`` or ``~/.cache/tinyae``), which is also where downloads go, then
    the system's data sets (``SYSTEM_DATA_DIR``, /usr/share/datasets).
    A data set's files live in a subfolder of a root: ``<root>/mnist/``, ``<root>/fashion-mnist/``.
    """
    return [p for p, _ in _roots(data_dir)]


def _offline() -> bool:
    return os.environ.get("TINYAE_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _mirror_list(dataset: str, mirrors: Sequence[str] | None) -> list[str]:
    if mirrors is None:
        env = os.environ.get(_MIRROR_ENV[dataset], "")
        mirrors = [m.strip() for m in env.split(",") if m.strip()] or MIRRORS[dataset]
    elif isinstance(mirrors, str):
        mirrors = [mirrors]
    return list(mirrors)


def _url(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name + ".gz"


def _candidates(root: Path, dataset: str, name: str) -> list[Path]:
    folder = root / dataset
    return [folder / (name + ".gz"), folder / name]


def _is_cache(root: Path) -> bool:
    try:
        return root.resolve() == _cache_root().resolve()
    except OSError:
        return False


# --------------------------------------------------------------------------------------
# Verification and download
# --------------------------------------------------------------------------------------


def _checksums(dataset: str, name: str) -> tuple[Checksum, ...]:
    """The checksums of a file: none, one, or several (any one that applies and matches will do)."""
    entry = CHECKSUMS.get(dataset, {}).get(name)
    if entry is None:
        return ()
    return (entry,) if isinstance(entry, Checksum) else tuple(entry)


def _check(dataset: str, name: str, raw: bytes, data: bytes, is_gz: bool) -> tuple[bool, str, str, str] | None:
    """Compare a file with its published checksums.

    Returns None when none applies (a .gz sum for an uncompressed file), else (ok,
    description, actual, expected): ok when any applicable checksum matches; otherwise the
    first applicable one's figures, for the message.
    """
    results = []
    for ck in _checksums(dataset, name):
        if ck.of == "gz":
            if not is_gz:
                continue  # only the .gz bytes have this sum
            actual = hashlib.new(ck.algorithm, raw).hexdigest()
            what = f"{ck.algorithm} of the .gz file"
        else:
            actual = hashlib.new(ck.algorithm, data).hexdigest()
            what = f"{ck.algorithm} of the uncompressed IDX bytes"
        if actual == ck.hexdigest.lower():
            return True, what, actual, ck.hexdigest
        results.append((False, what, actual, ck.hexdigest))
    return results[0] if results else None


def _load_file(dataset: str, name: str, path: Path, source: str | None = None) -> np.ndarray:
    """Read, verify and parse one data file; raises DataError / ChecksumError."""
    source = source or str(path)
    raw = path.read_bytes()
    data = _decompress(raw, source)
    arr = _parse_idx(data, source)  # the format first: a clearer message than a bad checksum
    res = _check(dataset, name, raw, data, raw.startswith(_GZIP_MAGIC))
    if res is not None and not res[0]:
        _, what, actual, expected = res
        raise ChecksumError(
            f"{source}: checksum mismatch: {what} is {actual}, the published {_DISPLAY[dataset]} "
            f"{name} has {expected}. The file is corrupt or not the original; replace it, or delete "
            f"it to have it downloaded again."
        )
    return arr


def _download(dataset: str, name: str, dest_dir: Path, mirrors: list[str]) -> Path:
    """Fetch ``name`` from the first mirror that serves a file passing verification.

    The bytes go to a temporary file in ``dest_dir``; only a verified, fsynced file is
    renamed to its final name. Raises DownloadError listing each URL and why it failed.
    """
    from tqdm.auto import tqdm

    dest_dir.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for base in mirrors:
        url = _url(base, name)
        fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{name}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            try:
                req = urllib.request.Request(url, headers={"User-Agent": "tinyae"})
                with urllib.request.urlopen(req, timeout=DOWNLOAD_TIMEOUT_S) as resp, os.fdopen(fd, "wb") as f:
                    fd = -1
                    length = resp.headers.get("Content-Length")
                    length = int(length) if length and length.isdigit() else None
                    got = 0
                    with tqdm(total=length, unit="B", unit_scale=True, unit_divisor=1024,
                              desc=f"{name}.gz", disable=None, leave=False) as bar:
                        while chunk := resp.read(_CHUNK):
                            f.write(chunk)
                            got += len(chunk)
                            bar.update(len(chunk))
                    if length is not None and got != length:
                        raise _Failed(f"truncated: received {got} of {length} bytes")
                    f.flush()
                    os.fsync(f.fileno())
            except urllib.error.HTTPError as e:
                raise _Failed(f"HTTP {e.code} {e.reason}") from None
            except urllib.error.URLError as e:
                raise _Failed(f"{e.reason}") from None
            except TimeoutError:
                raise _Failed(f"timed out after {DOWNLOAD_TIMEOUT_S:g} s") from None
            except (OSError, http.client.HTTPException) as e:  # connection reset, bad response, disk
                raise _Failed(f"{type(e).__name__}: {e}") from None
            try:
                _load_file(dataset, name, tmp, source=url)
            except DataError as e:
                reason = str(e)
                reason = reason[len(url) + 2:] if reason.startswith(url + ": ") else reason
                raise _Failed(reason) from None
            final = dest_dir / (name + ".gz" if tmp.read_bytes()[:2] == _GZIP_MAGIC else name)
            os.replace(tmp, final)
            atomic.fsync_dir(dest_dir)
            for other in _candidates(dest_dir.parent, dest_dir.name, name):
                if other != final:
                    other.unlink(missing_ok=True)  # a stale copy in the other format
            return final
        except _Failed as e:
            failures.append(f"  {url}: {e}")
        finally:
            if fd != -1:
                os.close(fd)
            tmp.unlink(missing_ok=True)
    tried = "\n".join(failures) if failures else "  (no mirrors configured)"
    raise DownloadError(
        f"could not download {_DISPLAY[dataset]} {name}.gz; tried:\n{tried}\n"
        f"Download the file by hand into {dest_dir}/, or point data_dir=... or TINYAE_DATA_DIR=... "
        f"at a folder that holds {dataset}/{name}.gz (mirrors: the mirrors= argument or "
        f"${_MIRROR_ENV[dataset]}, comma-separated base URLs)."
    )


class _Failed(Exception):
    """One mirror failed; the message says why."""


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def _find(dataset: str, name: str, roots: list[tuple[Path, str]]) -> tuple[Path, Path] | None:
    for root, _ in roots:
        for p in _candidates(root, dataset, name):
            if p.is_file():
                return p, root
    return None


def _not_found(dataset: str, split: str, missing: list[str], roots: list[tuple[Path, str]]) -> DataNotFoundError:
    files = ", ".join(f"{n}.gz (or {n})" for n in missing)
    looked = "\n".join(f"  {root / dataset}/  ({label})" for root, label in roots)
    why = "TINYAE_OFFLINE is set" if _offline() else "download=False"
    return DataNotFoundError(
        f"{_DISPLAY[dataset]} {split!r} split: {files} found nowhere. Looked in:\n{looked}\n"
        f"Not downloading ({why}). To use local files, pass data_dir=... or set TINYAE_DATA_DIR=... "
        f"to the folder that holds {dataset}/ (e.g. TINYAE_DATA_DIR=/path/to/data for "
        f"/path/to/data/{dataset}/{missing[0]}.gz), or allow the download."
    )


def _load(dataset: str, split: str, data_dir, download: bool, mirrors) -> tuple[np.ndarray, np.ndarray]:
    if split not in SPLITS:
        raise ValueError(f"{_DISPLAY[dataset]}: unknown split {split!r}; choose one of {', '.join(map(repr, SPLITS))}")
    can_fetch = download and not _offline()
    roots = _roots(data_dir)
    names = SPLITS[split]
    found = {n: _find(dataset, n, roots) for n in names}
    missing = [n for n in names if found[n] is None]
    if missing and not can_fetch:
        raise _not_found(dataset, split, missing, roots)
    cache_dir = _cache_root() / dataset
    mirror_list = _mirror_list(dataset, mirrors) if can_fetch else []
    for n in missing:
        found[n] = (_download(dataset, n, cache_dir, mirror_list), _cache_root())

    def key() -> tuple:
        parts = []
        for n in names:
            st = found[n][0].stat()
            parts.append((str(found[n][0].resolve()), st.st_mtime_ns, st.st_size))
        return (dataset, split, tuple(parts))

    k = key()
    if k in _MEMORY_CACHE:
        return _MEMORY_CACHE[k]

    arrays = {}
    for n in names:
        path, root = found[n]
        try:
            arrays[n] = _load_file(dataset, n, path)
        except DataError as e:
            if not _is_cache(root):
                raise
            if not can_fetch:
                raise type(e)(f"{e}\n(This file is in the cache folder; allow downloads to fetch it again.)") from None
            warnings.warn(f"{e}\nFetching it again.", stacklevel=3)
            found[n] = (_download(dataset, n, cache_dir, _mirror_list(dataset, mirrors)), root)
            arrays[n] = _load_file(dataset, n, found[n][0])

    img_name, lbl_name = names
    images, labels = arrays[img_name], arrays[lbl_name]
    img_path, lbl_path = found[img_name][0], found[lbl_name][0]
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(
            f"{img_path}: expected {_DISPLAY[dataset]} images, uint8 N×28×28; file holds "
            f"{images.dtype.name} {_dims_str(images.shape)}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(
            f"{lbl_path}: expected {_DISPLAY[dataset]} labels, uint8 of 1 dimension; file holds "
            f"{labels.dtype.name} {_dims_str(labels.shape)}"
        )
    if labels.shape[0] != images.shape[0]:
        raise DataError(
            f"{lbl_path}: {labels.shape[0]} labels for the {images.shape[0]} images of {img_path}"
        )
    if labels.size and labels.max() > 9:
        raise DataError(f"{lbl_path}: label {int(labels.max())} out of range 0..9")

    x = np.divide(images.reshape(-1, 1, 28, 28), 255, dtype=np.float32)  # (N, 1, 28, 28) in [0, 1]
    y = labels.copy()  # (N,) uint8; a copy owns its memory, unlike the view of the file bytes
    x.flags.writeable = False
    y.flags.writeable = False
    _MEMORY_CACHE[key()] = (x, y)
    return x, y


def mnist(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    *,
    mirrors: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST handwritten digits.

    Parameters
    ----------
    split : {"train", "test"}
        60000 training or 10000 test images.
    data_dir : path-like, optional
        A folder holding ``mnist/<file>.gz``; searched first (see the module docstring for
        the order: ``data_dir``, ``$TINYAE_DATA_DIR``, the cache folder, download).
    download : bool
        Download missing files into the cache folder (also off when ``TINYAE_OFFLINE=1``).
    mirrors : sequence of str, optional
        Base URLs to download from, in order (default ``$TINYAE_MNIST_MIRRORS`` or
        ``MIRRORS["mnist"]``).

    Returns
    -------
    images : ndarray, float32, shape (N, 1, 28, 28)
        Pixel values / 255, in [0, 1]. Read-only (shared with an in-memory cache).
    labels : ndarray, uint8, shape (N,)
        The digits 0..9. Read-only.

    Raises
    ------
    ValueError
        ``split`` is not "train" or "test".
    DataNotFoundError
        The files are nowhere and downloading is off; the message lists where it looked.
    DownloadError
        Every mirror failed; the message lists each URL and why.
    ChecksumError, DataError
        A file is corrupt, truncated or not the published one; the message names it.
    """
    return _load("mnist", split, data_dir, download, mirrors)


def fashion_mnist(
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    *,
    mirrors: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Zalando's Fashion-MNIST (10 classes of clothing), a drop-in for MNIST.

    Same arguments, shapes and errors as :func:`mnist`; the files live in
    ``<root>/fashion-mnist/`` and the mirrors come from ``mirrors``,
    ``$TINYAE_FASHION_MNIST_MIRRORS`` or ``MIRRORS["fashion-mnist"]``. Labels: 0 T-shirt/top,
    1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.

    Returns
    -------
    images : ndarray, float32, shape (N, 1, 28, 28), in [0, 1], read-only
    labels : ndarray, uint8, shape (N,), read-only
    """
    return _load("fashion-mnist", split, data_dir, download, mirrors)


# --------------------------------------------------------------------------------------
# Procedural shapes
# --------------------------------------------------------------------------------------

_SQRT3_2 = math.sqrt(3) / 2


def _sd_circle(dx, dy, r):
    return np.sqrt(dx * dx + dy * dy) - 0.9 * r  # area ≈ 2.5 r²


def _sd_square(dx, dy, r):
    return np.maximum(np.abs(dx), np.abs(dy)) - 0.8 * r  # axis-aligned, side 1.6 r


def _sd_triangle(dx, dy, r):
    # Upright equilateral triangle, circumradius r, centroid at the centre (y points down):
    # apex (0, -r), base corners (±√3/2 r, r/2). Max of the three edges' signed distances,
    # and of the bounding box's, which keeps the anti-aliased apex and corners inside it.
    edges = np.maximum(dy - 0.5 * r, _SQRT3_2 * np.abs(dx) - 0.5 * (dy + r))
    box = np.maximum(-(dy + r), np.abs(dx) - _SQRT3_2 * r)
    return np.maximum(edges, box)


_SHAPES = {"circle": _sd_circle, "square": _sd_square, "triangle": _sd_triangle}


def shapes(
    n: int = 1000,
    size: int = 28,
    channels: int = 1,
    seed: int = 0,
    kinds: Sequence[str] = ("circle", "square", "triangle"),
) -> tuple[np.ndarray, np.ndarray]:
    """A procedural data set of filled shapes, one per image, needing no files.

    Each image holds one shape of a random position and size (its outer radius between
    0.15 and 0.35 of ``size``; it never touches the border). The edges are anti-aliased:
    a pixel's value is its coverage, clip(0.5 − d, 0, 1), with d the signed distance in
    pixels from its centre to the shape's edge. Grayscale images are white shapes on
    black; RGB images have a random bright colour per shape on a random dark background.
    The classes are balanced (their counts differ by at most one) and shuffled. The same
    seed gives the same images; ``channels=1`` and ``channels=3`` share the geometry.

    Parameters
    ----------
    n : int
        Number of images.
    size : int
        Height and width in pixels, at least 8.
    channels : {1, 3}
        Grayscale or RGB.
    seed : int
        Seed of ``numpy.random.default_rng``.
    kinds : sequence of str
        Which shapes, any of "circle", "square", "triangle"; label i is ``kinds[i]``.

    Returns
    -------
    images : ndarray, float32, shape (n, channels, size, size), in [0, 1]
    labels : ndarray, uint8, shape (n,), indices into ``kinds``
    """
    kinds = tuple(kinds)
    if not kinds or any(k not in _SHAPES for k in kinds):
        raise ValueError(f"shapes: kinds must be a non-empty sequence of {', '.join(map(repr, _SHAPES))}; got {kinds!r}")
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"shapes: kinds has duplicates: {kinds!r}")
    if channels not in (1, 3):
        raise ValueError(f"shapes: channels must be 1 or 3, got {channels!r}")
    if int(size) != size or size < 8:
        raise ValueError(f"shapes: size must be an integer of at least 8, got {size!r}")
    if int(n) != n or n < 0:
        raise ValueError(f"shapes: n must be a non-negative integer, got {n!r}")
    n, size = int(n), int(size)

    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(kinds)).astype(np.uint8)   # (n,)
    r = rng.uniform(0.15 * size, 0.35 * size, n)                          # (n,) outer radius
    cx = rng.uniform(r + 1.0, size - r - 1.0)                              # (n,) keeps a clear border
    cy = rng.uniform(r + 1.0, size - r - 1.0)                              # (n,)

    coords = np.arange(size, dtype=np.float64) + 0.5                       # pixel centres
    cover = np.zeros((n, size, size), dtype=np.float32)                    # (n, H, W) coverage
    for k, kind in enumerate(kinds):
        idx = np.flatnonzero(labels == k)                                  # (n_k,)
        if idx.size == 0:
            continue
        dx = coords[None, None, :] - cx[idx, None, None]                   # (n_k, 1, W)
        dy = coords[None, :, None] - cy[idx, None, None]                   # (n_k, H, 1)
        d = _SHAPES[kind](dx, dy, r[idx, None, None])                      # (n_k, H, W)
        cover[idx] = np.clip(0.5 - d, 0.0, 1.0)

    if channels == 1:
        images = cover[:, None]                                            # (n, 1, H, W)
    else:
        fg = rng.uniform(0.3, 1.0, (n, 3))                                 # (n, 3) colour per shape
        fg /= fg.max(axis=1, keepdims=True)                                # brightest channel = 1
        bg = rng.uniform(0.0, 0.15, (n, 3))                                # (n, 3) dark background
        c = cover[:, None]                                                 # (n, 1, H, W)
        images = bg[:, :, None, None] * (1 - c) + fg[:, :, None, None] * c  # (n, 3, H, W)
    return np.ascontiguousarray(images, dtype=np.float32), labels
