"""Atomic file writes: a crash at any moment leaves the old file or the new one, never a mixture.

The data goes to a temporary file in the same folder, is flushed and fsynced, and is
renamed over the final name (``os.replace`` is atomic on one file system); then the
folder is fsynced so that the rename itself survives a power cut.
"""
from __future__ import annotations

import os
from pathlib import Path


def write(path, fill, suffix: str = ".tmp") -> Path:
    """Write ``path`` atomically: ``fill(f)`` writes the content into the open binary file ``f``.

    The temporary file is ``.<name>.<pid><suffix>`` beside ``path``; it is removed if
    ``fill`` or the rename fails (a process killed meanwhile may leave it behind, never
    under the final name).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{suffix}")
    try:
        with open(tmp, "wb") as f:
            fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def fsync_dir(folder) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
