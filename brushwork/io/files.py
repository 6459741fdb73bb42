"""The one atomic file write: every writer in brushwork (images, videos, SVG, JSON, weights,
checkpoints) goes through `atomic_write`, so a reader never sees a half-written file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask is process-global, and setting it to read it is not thread-safe (the
# web server writes files from several threads).
UMASK = _current_umask()


def atomic_write(path: str | os.PathLike, write: Callable[[str], object], suffix: str = ".tmp") -> Path:
    """Call ``write(tmp_path)``, flush it to disk, then rename it over ``path``.

    The temporary file lies in the same folder (created if needed); on any failure it is removed and an
    existing ``path`` is untouched.  ``suffix``: the temporary file's extension, for writers that pick a
    format from it.  The file gets the usual permissions (0666 less the umask), not mkstemp's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~UMASK)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def truncate_log(path: str | os.PathLike, column: str, upto: float) -> int:
    """Drop the rows of a CSV log whose ``column`` is past ``upto`` (atomically): a run resumed from a checkpoint
    at ``upto`` repeats the rows a killed run logged after it, and its curve must hold each of them once.
    Returns the number of rows dropped (0 when there is no such file)."""
    import csv

    path = Path(path)
    if not path.is_file():
        return 0
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or column not in rows[0]:
        return 0
    i = rows[0].index(column)
    keep = [rows[0]] + [r for r in rows[1:] if len(r) > i and r[i] != "" and float(r[i]) <= upto]
    if len(keep) == len(rows):
        return 0

    def write(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows(keep)

    atomic_write(path, write)
    return len(rows) - len(keep)
