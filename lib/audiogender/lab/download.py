"""Downloading AudioMNIST (Becker et al. 2018): resumable, verified, never half-extracted."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from . import progress_bar
from .corpora import AUDIOMNIST_NAME, audiomnist_meta_path

AUDIOMNIST_URL = "https://github.com/soerenab/AudioMNIST/archive/refs/heads/master.zip"
AUDIOMNIST_CLIPS = 30_000


class DownloadError(OSError):
    """AudioMNIST could not be fetched: the message says from where, why, and how to use local data instead."""


def download_audiomnist(
    dest: str | os.PathLike = "data",
    url: str = AUDIOMNIST_URL,
    expected_clips: int = AUDIOMNIST_CLIPS,
    sha256: str | None = None,
    progress: bool = True,
) -> Path:
    """Download AudioMNIST into ``dest/AudioMNIST`` and return that folder.

    The archive is fetched into ``AudioMNIST.zip.part``, resuming from where an
    interrupted download stopped; it is verified (the size the server announced,
    every member's CRC, ``sha256`` when given, and the number of clips) before it is
    renamed to ``AudioMNIST.zip``, and extracted through a temporary folder, so
    ``dest/AudioMNIST`` is either complete or absent. A verified corpus already
    there is returned at once.
    """
    dest = Path(dest)
    target = dest / "AudioMNIST"
    if audiomnist_meta_path(target) is not None:
        return target
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "AudioMNIST.zip"
    if not archive.exists():
        partial = dest / "AudioMNIST.zip.part"
        try:
            _fetch_resumable(url, partial, progress)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            raise DownloadError(
                f"AudioMNIST could not be downloaded from {url} ({reason}). To use recordings you already have, point the "
                "report at them: AUDIOGENDER_DATA=path/to/corpus make report (a folder in AudioMNIST's layout, or with a "
                "manifest.csv; several folders separated by commas)"
            ) from None
        _verify_archive(partial, expected_clips, sha256)
        os.replace(partial, archive)
    else:
        _verify_archive(archive, expected_clips, sha256)
    _extract_data(archive, target)
    archive.unlink()
    return target


def _fetch_resumable(url: str, partial: Path, progress: bool, chunk: int = 1 << 20) -> None:
    """Fetch ``url`` into ``partial``, asking only for the bytes it lacks."""
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        if have and response.status != 206:  # the server ignored the range: start again
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        with open(partial, "ab" if have else "wb") as out, progress_bar(
            None, progress, total=total, initial=have, unit="B", unit_scale=True, desc="AudioMNIST"
        ) as bar:
            while block := response.read(chunk):
                out.write(block)
                bar.update(len(block))
    if total is not None and partial.stat().st_size != total:
        raise OSError(f"{url}: download stopped at {partial.stat().st_size} of {total} bytes; run again to resume")


def _verify_archive(archive: Path, expected_clips: int, sha256: str | None) -> None:
    """Raise unless ``archive`` is an intact zip holding AudioMNIST's metadata and clips."""
    if sha256 is not None:
        digest = hashlib.sha256()
        with open(archive, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != sha256:
            archive.unlink()
            raise OSError(f"{archive}: sha256 {digest.hexdigest()} is not the expected {sha256}; removed it")
    try:
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            names = zf.namelist()
    except zipfile.BadZipFile as error:
        archive.unlink()
        raise OSError(f"{archive}: not a valid zip archive ({error}); removed it, run again") from None
    if bad is not None:
        archive.unlink()
        raise OSError(f"{archive}: member {bad} is corrupt; removed it, run again")
    clips = sum(1 for n in names if "/data/" in n and AUDIOMNIST_NAME.match(n.rsplit("/", 1)[-1]))
    if not any(n.endswith("data/audioMNIST_meta.txt") for n in names) or clips != expected_clips:
        raise OSError(f"{archive}: holds {clips} clips and {'a' if clips else 'no'} metadata; expected {expected_clips}")


def _extract_data(archive: Path, target: Path) -> None:
    """Extract the archive's ``data/`` folder to ``target/data`` through a temporary folder."""
    tmp = Path(tempfile.mkdtemp(prefix=".AudioMNIST-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                parts = member.filename.split("/")
                if "data" not in parts or member.is_dir():
                    continue
                relative = Path(*parts[parts.index("data") :])
                (tmp / relative).parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(tmp / relative, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
