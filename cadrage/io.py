"""Output helpers shared by the sub-commands."""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
from typing import Callable, Iterator, TextIO


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


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that `finally` blocks and atomic outputs clean up
    (a BaseException, like KeyboardInterrupt: `except Exception` handlers do not swallow it)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


EXIT_SIGINT = 128 + signal.SIGINT  # 130, the shell's convention
EXIT_SIGTERM = 128 + signal.SIGTERM  # 143


def _raise_terminated(signum, frame):
    raise Terminated(signum)


def run_interruptible(prog: str, body: Callable[[], int]) -> int:
    """Run a command's body so that SIGINT (Ctrl-C) and SIGTERM end it cleanly: the exception
    unwinds through the writers (their temporary files are removed, the target is left as it
    was), one line goes to stderr, and the exit status is 130 or 143."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return body()
    except KeyboardInterrupt:
        _say(f"{prog}: interrupted (SIGINT); no output file was written")
        return EXIT_SIGINT
    except Terminated:
        _say(f"{prog}: terminated (SIGTERM); no output file was written")
        return EXIT_SIGTERM
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _say(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
