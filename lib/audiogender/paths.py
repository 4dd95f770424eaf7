"""Which audio files a user means: files, folders searched recursively, and glob patterns.

Folders are walked without following links to folders, so a link back to a parent
(``dir/loop -> .``) neither repeats files nor walks forever, and a file reached by two
paths is judged once. A folder that cannot be listed is reported, not skipped in
silence. Files named explicitly are kept whatever their extension, so that a file
that is not audio reaches the reader and gets an error, rather than vanishing.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from .audio import AUDIO_EXTENSIONS


@dataclass
class Named:
    """What one argument named: its audio files, and the folders that could not be listed (path, reason)."""

    argument: str
    files: list[Path] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)


def is_audio_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` has the extension of a format libsndfile or FFmpeg reads."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def _walk(root: Path, named: Named, depth: int | None = None):
    """(path relative to ``root`` as parts, path, is a folder) of everything below ``root``, links to folders not followed."""

    def failed(error: OSError) -> None:
        named.problems.append((str(error.filename), f"cannot be listed ({error.strerror or error})"))

    for folder, folders, files in os.walk(root, onerror=failed, followlinks=False):
        relative = Path(folder).relative_to(root).parts
        if depth is not None and len(relative) >= depth:
            folders[:] = []
        folders.sort()
        for name in folders:
            yield (*relative, name), Path(folder) / name, True
        for name in sorted(files):
            yield (*relative, name), Path(folder) / name, False


def _matches(parts: tuple, pattern: tuple) -> bool:
    """Whether path components match glob components, ``**`` standing for any number of folders."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_matches(parts[i:], rest) for i in range(len(parts) + 1))
    hidden = parts and parts[0].startswith(".") and not head.startswith(".")
    return bool(parts) and not hidden and fnmatch.fnmatchcase(parts[0], head) and _matches(parts[1:], rest)


def _audio_below(folder: Path, named: Named) -> list[Path]:
    return sorted(path for _, path, is_folder in _walk(folder, named) if not is_folder and is_audio_file(path))


def _expand_glob(pattern: str, named: Named) -> list[Path]:
    parts = Path(pattern).parts
    fixed = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
    root, rest = Path(*parts[:fixed]) if fixed else Path("."), parts[fixed:]
    found = []
    for relative, path, is_folder in _walk(root, named, None if "**" in rest else len(rest)):
        if _matches(relative, rest):
            found += _audio_below(path, named) if is_folder else [path] if is_audio_file(path) else []
    return found


def name_files(argument: str | os.PathLike) -> Named:
    """The audio files one argument names: a file, a folder's audio files, or a glob's."""
    named = Named(str(argument))
    path = Path(argument)
    if path.is_dir():
        files = _audio_below(path, named)
    elif not path.exists() and glob.has_magic(str(argument)):
        files = _expand_glob(str(argument), named)
    else:
        files = [path]
    seen = set()
    for file in files:  # a file reached by two paths (links) is judged once
        real = os.path.realpath(file)
        if real not in seen:
            seen.add(real)
            named.files.append(file)
    return named


def find_audio_files(arguments) -> list[Path]:
    """The audio files that files, folders and glob patterns name, in order (see :func:`name_files`)."""
    arguments = [arguments] if isinstance(arguments, (str, os.PathLike)) else arguments
    return [file for argument in arguments for file in name_files(argument).files]
