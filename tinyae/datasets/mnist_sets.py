"""MNIST and Fashion-MNIST: file names, mirrors, checksums, verification and loading.

``mnist(split, data_dir, download)``, ``fashion_mnist(split, data_dir, download)``
    ``(images, labels)``: images float32 in [0, 1], shape (N, 1, 28, 28) (the bytes / 255),
    labels uint8, shape (N,). N = 60000 for ``"train"``, 10000 for ``"test"``. The arrays
    are cached in memory per process and returned **read-only**: index them (which copies)
    rather than writing into them.

The four files of a data set are looked for as lookup.py says (``<root>/mnist/``,
``<root>/fashion-mnist/``, gzip-compressed or not) and downloaded as download.py says.

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
base URLs).

``_MEMORY_CACHE`` (key -> (images, labels)) lives here: tests replace
``tinyae.datasets.mnist_sets._MEMORY_CACHE``; ``tinyae.datasets._MEMORY_CACHE`` is the same dict.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import ChecksumError, DataError, DataNotFoundError
from . import lookup
from .download import fetch
from .idx import GZIP_MAGIC, decompress, dims_str, parse

__all__ = ["mnist", "fashion_mnist", "MIRRORS", "CHECKSUMS", "Checksum", "SPLITS"]


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


#: In-memory cache: key -> (images, labels), both read-only.
_MEMORY_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def _mirror_list(dataset: str, mirrors: Sequence[str] | None) -> list[str]:
    if mirrors is None:
        env = os.environ.get(_MIRROR_ENV[dataset], "")
        mirrors = [m.strip() for m in env.split(",") if m.strip()] or MIRRORS[dataset]
    elif isinstance(mirrors, str):
        mirrors = [mirrors]
    return list(mirrors)


def _url(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name + ".gz"


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
    data = decompress(raw, source)
    arr = parse(data, source)  # the format first: a clearer message than a bad checksum
    res = _check(dataset, name, raw, data, raw.startswith(GZIP_MAGIC))
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
    renamed to its final name (``<name>.gz`` or ``<name>``, by its content), and a stale
    copy in the other form is removed. Raises DownloadError listing each URL and why it failed.
    """

    def verify(tmp: Path, url: str) -> str:
        _load_file(dataset, name, tmp, source=url)
        return name + ".gz" if tmp.read_bytes()[:2] == GZIP_MAGIC else name

    final = fetch(
        [_url(base, name) for base in mirrors], dest_dir, name, verify,
        what=f"{_DISPLAY[dataset]} {name}.gz",
        advice=(f"Download the file by hand into {dest_dir}/, or point data_dir=... or TINYAE_DATA_DIR=... "
                f"at a folder that holds {dataset}/{name}.gz (mirrors: the mirrors= argument or "
                f"${_MIRROR_ENV[dataset]}, comma-separated base URLs)."),
    )
    for other in lookup.candidates(dest_dir.parent, dest_dir.name, name):
        if other != final:
            other.unlink(missing_ok=True)  # a stale copy in the other format
    return final


def _not_found(dataset: str, split: str, missing: list[str], roots: list[tuple[Path, str]]) -> DataNotFoundError:
    files = ", ".join(f"{n}.gz (or {n})" for n in missing)
    looked = "\n".join(f"  {root / dataset}/  ({label})" for root, label in roots)
    why = "TINYAE_OFFLINE is set" if lookup.offline() else "download=False"
    return DataNotFoundError(
        f"{_DISPLAY[dataset]} {split!r} split: {files} found nowhere. Looked in:\n{looked}\n"
        f"Not downloading ({why}). To use local files, pass data_dir=... or set TINYAE_DATA_DIR=... "
        f"to the folder that holds {dataset}/ (e.g. TINYAE_DATA_DIR=/path/to/data for "
        f"/path/to/data/{dataset}/{missing[0]}.gz), or allow the download."
    )


def _load(dataset: str, split: str, data_dir, download: bool, mirrors) -> tuple[np.ndarray, np.ndarray]:
    if split not in SPLITS:
        raise ValueError(f"{_DISPLAY[dataset]}: unknown split {split!r}; choose one of {', '.join(map(repr, SPLITS))}")
    can_fetch = download and not lookup.offline()
    roots = lookup.roots(data_dir)
    names = SPLITS[split]
    found = {n: lookup.find(dataset, n, roots) for n in names}
    missing = [n for n in names if found[n] is None]
    if missing and not can_fetch:
        raise _not_found(dataset, split, missing, roots)
    cache_dir = lookup.cache_root() / dataset
    mirror_list = _mirror_list(dataset, mirrors) if can_fetch else []
    for n in missing:
        found[n] = (_download(dataset, n, cache_dir, mirror_list), lookup.cache_root())

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
            if not lookup.is_cache(root):
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
            f"{images.dtype.name} {dims_str(images.shape)}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(
            f"{lbl_path}: expected {_DISPLAY[dataset]} labels, uint8 of 1 dimension; file holds "
            f"{labels.dtype.name} {dims_str(labels.shape)}"
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
        A folder holding ``mnist/<file>.gz``; searched first (see tinyae.datasets.lookup for
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
