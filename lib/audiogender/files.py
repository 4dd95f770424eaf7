"""Writing files so that a run never leaves anything half-written.

Everything goes to a temporary name beside its destination and is renamed into
place only once complete; a rename within one folder is atomic.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import yaml


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w"):
    """Open a temporary file that replaces ``path`` when the block ends without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes files private; give them the usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path, data) -> None:
    with atomic_file(path) as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def write_yaml(path, data) -> None:
    with atomic_file(path) as f:
        yaml.safe_dump(data, f, sort_keys=False)


def next_numbered(parent: str | os.PathLike, prefix: str) -> int:
    """1 + the highest N of the folders ``parent/{prefix}_N`` (1 when there are none)."""
    pattern = re.compile(rf"^{re.escape(prefix)}_(\d+)$")
    numbers = [int(m.group(1)) for p in Path(parent).glob(f"{prefix}_*") if (m := pattern.match(p.name))]
    return max(numbers, default=0) + 1


@contextlib.contextmanager
def atomic_directory(parent: str | os.PathLike, prefix: str = "run"):
    """Yield a temporary folder that becomes ``parent/{prefix}_N`` when the block succeeds.

    N is the next free number, taken at the moment of the rename, so two runs
    finishing together each get their own folder. On error the folder is removed.
    The final path is available as ``folder.final`` after the block.
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{prefix}-", dir=parent))
    box = _Folder(tmp)
    try:
        yield box
        while True:
            final = parent / f"{prefix}_{next_numbered(parent, prefix)}"
            try:
                os.rename(tmp, final)  # fails if another run took this number first
                break
            except OSError:
                if not final.exists():
                    raise
        box.final = final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _Folder(type(Path())):
    """A Path to the temporary folder, with ``final`` set once it has been renamed."""

    final: Path | None = None
