"""Image folders: random square patches from every image file in a folder.

    from tinyae import datasets, images
    train = datasets.image_folder("photos/", patch=32, grey=False, exclude=["kodim23.png"])  # (N, 3, 32, 32)
    judge = images.read("photos/kodim23.png", mode="rgb")                                   # the held-out photo

``image_files(folder, recursive=False)``
    The image files of a folder, sorted: every file whose extension is one of :data:`EXTENSIONS`
    (in any case), hidden files and folders (names starting with ".") left out.
``image_folder(folder, patch=32, grey=True, count=None, seed=0, recursive=False, exclude=())``
    ``count`` random patch×patch patches drawn from those files, float32 (N, C, patch, patch) in [0, 1].

How the patches are drawn
-------------------------
Each file is read with :func:`tinyae.images.read` (mode "grey" or "rgb"; Pillow is needed), in sorted
order. An image smaller than the patch in either direction is skipped with a warning naming it (and
an error when no image is left). The patches are spread over the images in proportion to their areas
(H·W): image i gets ``count · area_i / Σ area`` of them, rounded by largest remainder so that they add
up to ``count`` exactly (ties go to the earlier file). Without ``count``, each image gives
``(H·W) // patch²`` patches, as many as would tile it, so the patches hold about as many pixels as the
images do. Inside an image each patch's top-left corner is drawn uniformly from every position where
the patch fits, independently (patches may overlap), with ``numpy.random.default_rng(seed)``; the
patches of all images are then shuffled with the same generator. The same folder, arguments and seed
give the same patches.

Holding out whole images: ``exclude`` names files to leave out, relative to the folder (or as
absolute paths inside it), e.g. ``exclude=["kodim23.png"]`` (``exclude=["city/night.jpg"]`` with
``recursive=True``). A name that is not an image file of the folder is an error, so a typo cannot
silently leave the held-out image in the training patches.

Memory: every image is held (float32) while its patches are cut, and the patches are copied once
more by the shuffle.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from numbers import Integral
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import DataError, DataNotFoundError

__all__ = ["image_folder", "image_files", "EXTENSIONS"]

#: The extensions of the files read as images (compared in lower case).
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif")
_LOOKED_FOR = " ".join(EXTENSIONS) + ", in any case"
_SHOWN = 5  # names listed in a message before "and N more"


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown if len(items) <= _SHOWN else f"{shown} and {len(items) - _SHOWN} more"


def _hidden(path: Path, folder: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def _check_folder(folder: Path) -> None:
    if not folder.exists():
        raise DataNotFoundError(f"image folder {folder}: no such folder (it should hold image files: {_LOOKED_FOR})")
    if not folder.is_dir():
        raise DataNotFoundError(f"image folder {folder}: is a file, not a folder (image_folder reads the image "
                                f"files of a folder: {_LOOKED_FOR}; tinyae.images.read reads one image)")


def image_files(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """The image files in ``folder`` (and its subfolders when ``recursive``), sorted by their paths.

    A file counts as an image when its extension is one of :data:`EXTENSIONS`, in any case (.png, .JPG,
    ...); hidden files and folders (names starting with ".", such as macOS's "._photo.jpg") are left out.
    The paths are ``folder / <relative path>``, sorted by the relative path (as text, "/" between
    folders), so the order is the same on every machine. An empty list when the folder holds no image.

    Raises
    ------
    DataNotFoundError
        ``folder`` does not exist or is not a folder; the message names it and the extensions looked for.
    """
    folder = Path(folder)
    _check_folder(folder)
    entries = folder.rglob("*") if recursive else folder.iterdir()
    files = [p for p in entries if p.suffix.lower() in EXTENSIONS and not _hidden(p, folder) and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def _no_images(folder: Path, recursive: bool) -> DataNotFoundError:
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    if not entries:
        return DataNotFoundError(f"image folder {folder}: the folder is empty; expected image files: {_LOOKED_FOR}")
    where = "in it or its subfolders" if recursive else "in it"
    others = [p.name for p in entries if not p.is_dir()]
    folders = [p.name + "/" for p in entries if p.is_dir()]
    held = []
    if others:
        held.append(f"{len(others)} other file(s): {_names(others)}")
    if folders:
        hint = "" if recursive else " (pass recursive=True to look in subfolders)"
        held.append(f"{len(folders)} folder(s): {_names(folders)}{hint}")
    return DataNotFoundError(f"image folder {folder}: no image files {where} (looked for {_LOOKED_FOR}); "
                             f"it holds {' and '.join(held)}")


def _excluding(files: list[Path], folder: Path, exclude) -> list[Path]:
    if exclude is None:
        return files
    names = [exclude] if isinstance(exclude, (str, os.PathLike)) else list(exclude)
    if not names:
        return files
    resolved = [p.resolve() for p in files]
    drop = set()
    for name in names:
        target = (folder / name).resolve()
        if target not in resolved:
            listed = _names([p.relative_to(folder).as_posix() for p in files])
            raise ValueError(f"image_folder: exclude names {os.fspath(name)!r}, which is not an image file of "
                             f"{folder} (names are relative to the folder; its images: {listed})")
        drop.add(target)
    kept = [p for p, r in zip(files, resolved) if r not in drop]
    if not kept:
        raise ValueError(f"image_folder: every image file of {folder} is excluded ({_names(list(map(str, names)))}); "
                         f"no image is left to draw patches from")
    return kept


def _apportion(count: int, areas: list[int]) -> list[int]:
    """``count`` split in proportion to ``areas`` by largest remainder (exact, in integers); ties go first."""
    total = sum(areas)
    shares = [count * a // total for a in areas]
    remainders = [count * a - s * total for a, s in zip(areas, shares)]
    left = count - sum(shares)
    for i in sorted(range(len(areas)), key=lambda i: -remainders[i])[:left]:
        shares[i] += 1
    return shares


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"image_folder: {what} must be a whole number of at least 1, got {value!r}")
    return int(value)


def image_folder(
    folder: str | os.PathLike,
    patch: int = 32,
    grey: bool = True,
    count: int | None = None,
    seed=0,
    recursive: bool = False,
    exclude: Iterable[str | os.PathLike] | str | os.PathLike | None = (),
) -> np.ndarray:
    """Random square patches from the image files of a folder, for training on photographs.

    Parameters
    ----------
    folder : path-like
        The folder; its image files are :func:`image_files` (extensions .png .jpg .jpeg .bmp .webp .tif
        .tiff .gif in any case, sorted, hidden files left out).
    patch : int
        Height and width of each patch in pixels.
    grey : bool
        True: one channel (Pillow's "L" conversion of colour files); False: three (RGB; grey files
        repeated).
    count : int, optional
        How many patches in all, spread over the images in proportion to their areas. Default: each
        image gives (H·W) // patch² patches (as many as would tile it).
    seed : int or numpy.random.Generator
        Seed of ``numpy.random.default_rng``; the same seed gives the same patches.
    recursive : bool
        Also read the image files of subfolders.
    exclude : sequence of str or path-like
        Image files to hold out, relative to ``folder`` (or absolute paths inside it); a single name
        may be given as a string. Each must be one of the folder's image files.

    Returns
    -------
    ndarray, float32, shape (N, C, patch, patch)
        Values in [0, 1]; C = 1 when ``grey``, else 3; N = ``count`` (or the default above); shuffled.

    Raises
    ------
    DataNotFoundError
        The folder is missing, not a folder, empty, or holds no image file; the message names the
        folder and the extensions looked for.
    DataError
        No image is at least ``patch`` × ``patch`` pixels (smaller ones are skipped with a warning
        when others fit); an ImageFileError (a DataError) names a file that cannot be read.
    ValueError
        ``patch`` or ``count`` is not a whole number ≥ 1; ``exclude`` names a file that is not an image
        of the folder, or every one of them.
    ImportError
        Pillow is not installed.
    """
    from .. import images  # imports Pillow (an optional extra) only when reading

    patch = _positive_int(patch, "patch")
    if count is not None:
        count = _positive_int(count, "count")
    folder = Path(folder)
    files = image_files(folder, recursive)
    if not files:
        raise _no_images(folder, recursive)
    files = _excluding(files, folder, exclude)

    pictures: list[np.ndarray] = []  # each (C, H, W), at least patch × patch
    small: list[str] = []
    for path in files:
        x = images.read(path, mode="grey" if grey else "rgb")[0]  # (C, H, W) float32 in [0, 1]
        h, w = x.shape[1:]
        if h < patch or w < patch:
            small.append(f"{path.relative_to(folder).as_posix()} ({h}×{w})")
        else:
            pictures.append(x)
    if not pictures:
        raise DataError(f"image folder {folder}: no image is at least {patch}×{patch} pixels, the patch size "
                        f"(H×W: {_names(small)}); pass a smaller patch=")
    if small:
        warnings.warn(f"image_folder: skipping {len(small)} image(s) of {folder} smaller than the {patch}×{patch} "
                      f"patch (H×W): {_names(small)}", stacklevel=2)

    areas = [x.shape[1] * x.shape[2] for x in pictures]
    counts = [a // (patch * patch) for a in areas] if count is None else _apportion(count, areas)
    rng = np.random.default_rng(seed)
    channels = pictures[0].shape[0]
    out = np.empty((sum(counts), channels, patch, patch), dtype=np.float32)
    at = 0
    for x, k in zip(pictures, counts):
        if k == 0:
            continue
        h, w = x.shape[1:]
        top = rng.integers(0, h - patch + 1, k)                        # (k,) top rows
        left = rng.integers(0, w - patch + 1, k)                       # (k,) left columns
        windows = sliding_window_view(x, (patch, patch), axis=(1, 2))  # (C, h-p+1, w-p+1, p, p), a view
        out[at:at + k] = windows[:, top, left].transpose(1, 0, 2, 3)   # (k, C, p, p)
        at += k
    return out[rng.permutation(len(out))]
