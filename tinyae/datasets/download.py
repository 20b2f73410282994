"""Downloads: fetch to a temporary file, verify, and only then rename to the final name.

:func:`fetch` tries each URL in turn. The bytes go to a temporary file beside the final name
(``.<name>.XXXX.part``); a file that the caller's ``verify`` accepts is synced to disk and renamed
(``os.replace``), and the folder synced; a failed, partial or unverified download never leaves a
file under the final name, and the temporary file is removed whatever happens.

``DOWNLOAD_TIMEOUT_S`` is read at each call, here: to change it, set
``tinyae.datasets.download.DOWNLOAD_TIMEOUT_S``.
"""

from __future__ import annotations

import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from .. import atomic
from ..errors import DataError, DownloadError

__all__ = ["fetch", "DOWNLOAD_TIMEOUT_S"]

#: Seconds before a connection or a read of a download gives up.
DOWNLOAD_TIMEOUT_S: float = 30.0
_CHUNK = 1 << 16


class _Failed(Exception):
    """One URL failed; the message says why."""


def fetch(urls: Sequence[str], dest_dir: Path, name: str, verify: Callable[[Path, str], str], *,
          what: str, advice: str) -> Path:
    """Download the first of ``urls`` whose file passes ``verify``; returns its final path in ``dest_dir``.

    Parameters
    ----------
    urls : sequence of str
        Tried in order.
    dest_dir : Path
        Where the file goes (created if missing); the temporary file is made here too.
    name : str
        The file's name, for the temporary file (``.<name>.XXXX.part``).
    verify : callable (path, url) -> str
        Checks the downloaded temporary file, raising DataError (whose message, less a leading
        ``"<url>: "``, is reported as that URL's failure), and returns the final file name.
    what, advice : str
        The DownloadError's message is ``"could not download {what}; tried:"``, one line per URL and
        why it failed, then ``advice``.
    """
    from tqdm.auto import tqdm

    dest_dir.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for url in urls:
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
                              desc=url.rsplit("/", 1)[-1], disable=None, leave=False) as bar:
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
                final_name = verify(tmp, url)
            except DataError as e:
                reason = str(e)
                reason = reason[len(url) + 2:] if reason.startswith(url + ": ") else reason
                raise _Failed(reason) from None
            final = dest_dir / final_name
            os.replace(tmp, final)
            atomic.fsync_dir(dest_dir)
            return final
        except _Failed as e:
            failures.append(f"  {url}: {e}")
        finally:
            if fd != -1:
                os.close(fd)
            tmp.unlink(missing_ok=True)
    tried = "\n".join(failures) if failures else "  (no mirrors configured)"
    raise DownloadError(f"could not download {what}; tried:\n{tried}\n{advice}")
