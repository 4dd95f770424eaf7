"""What the lab writes: JSON and YAML files written whole, and numbered output folders (``run_N``, ``crossval_N``) that appear only when complete."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import yaml

from ..files import atomic_file


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
