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
