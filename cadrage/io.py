"""Output helpers shared by the sub-commands."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Iterator, TextIO


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike | None, *, encoding: str = "utf-8") -> Iterator[TextIO]:
    """A text file that appears at `path` only once the block completes.

    Writes go to a temporary file in the same directory, which is fsync'ed and moved over `path`
    with os.replace at the end; if the block raises (or is interrupted), the temporary file is
    removed and `path` is left as it was. `None` or "-" yields standard output instead.
    """
    if path is None or str(path) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="\n") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
