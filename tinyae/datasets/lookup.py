"""Where data files are looked for: the root folders, in order, and the files' names inside them.

Each file of a data set is looked for in these root folders, in this order; the first root
that has it wins:

1. the ``data_dir`` argument, when given;
2. ``$TINYAE_DATA_DIR``, when set;
3. the cache folder, ``$XDG_CACHE_HOME/tinyae`` when ``XDG_CACHE_HOME`` is set, else
   ``~/.cache/tinyae`` (also where downloads go);
4. the system's data sets, :data:`SYSTEM_DATA_DIR` (``/usr/share/datasets``), where Debian's
   ``dataset-fashion-mnist`` package installs ``fashion-mnist/``;
5. otherwise the file is downloaded into the cache folder (download.py), unless ``download=False``
   or ``TINYAE_OFFLINE=1`` (:func:`offline`).

Inside a root, a data set has its own subfolder (``mnist/``, ``fashion-mnist/``) holding each
file under its original name, gzip-compressed (``<name>.gz``) or not (``<name>``).

``SYSTEM_DATA_DIR`` is read at each call, here: to point it elsewhere (tests do), set
``tinyae.datasets.lookup.SYSTEM_DATA_DIR``; ``tinyae.datasets.SYSTEM_DATA_DIR`` is a copy
of its value for reading.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dirs", "SYSTEM_DATA_DIR"]

#: Where an operating system's packages put data sets (Debian: dataset-fashion-mnist installs
#: /usr/share/datasets/fashion-mnist/); searched after the cache folder, before any download.
SYSTEM_DATA_DIR = Path("/usr/share/datasets")


def absolute(p: str | os.PathLike) -> Path:
    """Absolute and normalised (no '..'), symlinks kept."""
    return Path(os.path.abspath(Path(p).expanduser()))


def cache_root() -> Path:
    """The cache folder: ``$XDG_CACHE_HOME/tinyae``, else ``~/.cache/tinyae``."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return absolute(base / "tinyae")


def roots(data_dir: str | os.PathLike | None) -> list[tuple[Path, str]]:
    """The root folders searched, in order, each with where it came from."""
    found: list[tuple[Path, str]] = []
    if data_dir is not None:
        found.append((absolute(data_dir), "data_dir argument"))
    env = os.environ.get("TINYAE_DATA_DIR")
    if env:
        found.append((absolute(env), "$TINYAE_DATA_DIR"))
    found.append((cache_root(), "cache folder"))
    found.append((Path(SYSTEM_DATA_DIR), "system data sets"))
    return found


def data_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The root folders searched for data files, in order (absolute paths).

    ``[data_dir]`` when given, then ``$TINYAE_DATA_DIR`` when set, then the cache folder
    (``$XDG_CACHE_HOME/tinyae`` or ``~/.cache/tinyae``), which is also where downloads go, then
    the system's data sets (``SYSTEM_DATA_DIR``, /usr/share/datasets).
    A data set's files live in a subfolder of a root: ``<root>/mnist/``, ``<root>/fashion-mnist/``.
    """
    return [p for p, _ in roots(data_dir)]


def offline() -> bool:
    """Whether ``$TINYAE_OFFLINE`` forbids downloads (1, true, yes or on)."""
    return os.environ.get("TINYAE_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def candidates(root: Path, dataset: str, name: str) -> list[Path]:
    """The names a file may have in a root, in the order tried: gzip-compressed, then raw."""
    folder = root / dataset
    return [folder / (name + ".gz"), folder / name]


def find(dataset: str, name: str, searched: list[tuple[Path, str]]) -> tuple[Path, Path] | None:
    """(file, its root) for the first root of ``searched`` that holds the file, or None."""
    for root, _ in searched:
        for p in candidates(root, dataset, name):
            if p.is_file():
                return p, root
    return None


def is_cache(root: Path) -> bool:
    """Whether ``root`` is the cache folder (a bad file there is fetched again, not an error)."""
    try:
        return root.resolve() == cache_root().resolve()
    except OSError:
        return False
