"""Writing files so that nothing is ever left half-written.

Everything goes to a temporary name beside its destination and is renamed into
place only once complete; a rename within one folder is atomic. What is not a
regular file (a pipe, a terminal, ``/dev/stdout``) is written through, and a link
is followed, so that its target gets the content and the link stays a link.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


class OutputError(OSError):
    """A destination that cannot be written, with the reason."""


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w"):
    """Open a temporary file that replaces ``path`` when the block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        existing = path.stat().st_mode if path.exists() else None
        os.chmod(tmp, stat.S_IMODE(existing) if existing is not None else 0o666 & ~_umask())  # mkstemp makes files private
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _is_regular_or_new(path: str) -> bool:
    return not os.path.exists(path) or stat.S_ISREG(os.stat(path).st_mode)


def check_output(path: str | os.PathLike) -> None:
    """Raise :class:`OutputError` now, before any work, if ``path`` cannot be written."""
    real = os.path.realpath(path)
    if os.path.isdir(real):
        raise OutputError(f"{path}: is a directory")
    if not _is_regular_or_new(real):
        if not os.access(real, os.W_OK):
            raise OutputError(f"{path}: cannot be written (permission denied)")
        return
    folder = Path(real).parent
    while not folder.exists():  # the folders it needs are made when it is written
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"{path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot be written in {folder} (permission denied)")


def write_output(path: str | os.PathLike, content: str | bytes) -> None:
    """Write ``content`` (text, or bytes) to ``path`` whole or not at all; a pipe or device is written through, a link's target is replaced.

    Raises :class:`OutputError` saying why it could not be written.
    """
    real = os.path.realpath(path)
    mode = "wb" if isinstance(content, bytes) else "w"
    try:
        if _is_regular_or_new(real):
            with atomic_file(real, mode) as f:
                f.write(content)
        else:
            with open(real, mode) as f:
                f.write(content)
    except OSError as error:  # a full disk, a device that takes nothing: what was there before stays
        raise OutputError(f"{path}: could not be written ({error.strerror or error})") from None
