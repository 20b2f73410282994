"""Data sets: an IDX reader and writer, MNIST and Fashion-MNIST, procedural shapes, image folders.

Everything here returns NumPy arrays on the CPU; the training loop moves batches to the
active backend.

Public functions
----------------
``read_idx(path)``, ``write_idx(path, array, gzip=False)``
    The IDX format of the MNIST files (idx.py).
``mnist(split, data_dir, download)``, ``fashion_mnist(split, data_dir, download)``
    ``(images, labels)``: images float32 in [0, 1], shape (N, 1, 28, 28), labels uint8, shape (N,),
    both read-only; looked up, verified and downloaded as described in mnist_sets.py.
``shapes(n, size, channels, seed, kinds)``
    A procedural data set (circles, squares, triangles) that needs no files at all (procedural.py).
``image_folder(folder, patch, grey, count, seed, recursive, exclude)``, ``image_files(folder, recursive)``
    Random patches from the image files of a folder, holding out whole images by name (folders.py).
``data_dirs(data_dir)``
    The folders searched for data files, in order (lookup.py).

One idea per module
-------------------
idx.py          the IDX format: read_idx, write_idx, and the parsing they share with the loader
lookup.py       where files are looked for: data_dir, $TINYAE_DATA_DIR, the cache, SYSTEM_DATA_DIR
download.py     fetch to a temporary file, verify, rename; DOWNLOAD_TIMEOUT_S
mnist_sets.py   MNIST and Fashion-MNIST: SPLITS, MIRRORS, CHECKSUMS, verification, loading, the
                in-memory cache (named so that the module is not hidden by the function ``mnist``)
procedural.py   shapes
folders.py      image_files, image_folder

The tables ``MIRRORS`` and ``CHECKSUMS`` and the in-memory cache are the modules' own dicts: changing
their entries here changes them there. The settings ``SYSTEM_DATA_DIR`` and ``DOWNLOAD_TIMEOUT_S``
are read in their modules at each call; rebinding them here has no effect: set
``datasets.lookup.SYSTEM_DATA_DIR`` and ``datasets.download.DOWNLOAD_TIMEOUT_S``.
"""

from __future__ import annotations

from . import download, folders, idx, lookup, mnist_sets, procedural
from .download import DOWNLOAD_TIMEOUT_S
from .folders import EXTENSIONS, image_files, image_folder
from .idx import read_idx, write_idx
from .lookup import SYSTEM_DATA_DIR, data_dirs
from .mnist_sets import (  # noqa: F401
    _MEMORY_CACHE,
    CHECKSUMS,
    MIRRORS,
    SPLITS,
    Checksum,
    fashion_mnist,
    mnist,
)
from .procedural import shapes

__all__ = [
    "read_idx",
    "write_idx",
    "mnist",
    "fashion_mnist",
    "shapes",
    "image_folder",
    "image_files",
    "data_dirs",
    "MIRRORS",
    "CHECKSUMS",
    "SYSTEM_DATA_DIR",
    "Checksum",
    "SPLITS",
    "DOWNLOAD_TIMEOUT_S",
    "EXTENSIONS",
    "download",
    "folders",
    "idx",
    "lookup",
    "mnist_sets",
    "procedural",
]
