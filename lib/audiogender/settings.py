"""Every setting a user may change, with its default, defined once and checked once.

:class:`Settings` says how a recording is answered (the voice detector's threshold,
the least speech worth judging, the band of p(female) too close to call);
:class:`Limits` the bounds the HTTP service keeps. Both are frozen and refuse, when
made, a value that would make every answer wrong or a limit no limit. The command
line builds its options from their fields (``flag``, ``help`` and ``metavar`` in each
field's metadata), so a default is written here and nowhere else.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields

from .labels import GENDERS, MIXED, UNCERTAIN

MIXED_SECONDS = 2.0  # the least speech of each gender a mixed recording holds


def option(default, flag: str, help: str, metavar=None):
    """A field the command line offers as ``flag`` (a tuple default takes one value per entry)."""
    return field(default=default, metadata={"flag": flag, "help": help, "metavar": metavar})


def options(cls) -> list:
    """The fields of a settings class the command line offers, in order."""
    return [f for f in fields(cls) if "flag" in f.metadata]


def _finite(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class Settings:
    """How a recording is answered."""

    vad_threshold: float = option(0.5, "--vad-threshold", "the voice detector's speech probability threshold, between 0 and 1", "P")
    min_speech_seconds: float = option(0.25, "--min-speech", "less speech than this answers 'no voice'", "SECONDS")
    uncertain_band: tuple[float, float] = option(
        (0.4, 0.6), "--uncertain", "p_female strictly between LOW and HIGH answers 'uncertain' (0.5 0.5 turns it off)", ("LOW", "HIGH")
    )
    mixed_share: float = option(
        0.25, "--mixed-share", f"a recording whose female and male speech each reach this share of the two, and {MIXED_SECONDS:g} s, answers 'mixed' "
        "(above 0.5 turns it off)", "SHARE",
    )  # fmt: skip

    def __post_init__(self):
        threshold = _finite("the voice detector's threshold", self.vad_threshold)
        if not 0 < threshold < 1:
            raise ValueError(f"the voice detector's threshold is a probability between 0 and 1, not {self.vad_threshold}")
        minimum = _finite("the minimum of speech", self.min_speech_seconds)
        if minimum < 0:
            raise ValueError(f"the minimum of speech is a number of seconds, 0 or more, not {self.min_speech_seconds}")
        band = tuple(self.uncertain_band)
        if len(band) != 2:
            raise ValueError(f"the uncertain band is two numbers, LOW HIGH, not {self.uncertain_band!r}")
        low, high = (_finite("the uncertain band", value) for value in band)
        if not 0 <= low <= high <= 1:
            raise ValueError(f"the uncertain band is LOW HIGH with 0 <= LOW <= HIGH <= 1, not {low} {high}")
        share = _finite("the mixed share", self.mixed_share)
        if not 0 < share:
            raise ValueError(f"the mixed share is a fraction above 0 (above 0.5 turns 'mixed' off), not {self.mixed_share}")
        object.__setattr__(self, "mixed_share", share)
        object.__setattr__(self, "vad_threshold", threshold)
        object.__setattr__(self, "min_speech_seconds", minimum)
        object.__setattr__(self, "uncertain_band", (low, high))

    def label_for(self, p_female: float) -> str:
        """``female`` or ``male``, or ``uncertain`` strictly inside the uncertain band."""
        low, high = self.uncertain_band
        return UNCERTAIN if low < p_female < high else GENDERS[int(p_female >= 0.5)]

    def label_of_recording(self, p_female: float, female_seconds: float, male_seconds: float) -> str:
        """A whole recording's label: ``mixed`` where its timeline holds substantial speech of both genders, else :meth:`label_for`.

        Substantial: each at least ``MIXED_SECONDS`` and at least ``mixed_share`` of the
        two together, so that one piece of a single voice heard wrong does not make it mixed.
        """
        both = female_seconds + male_seconds
        if min(female_seconds, male_seconds) >= max(MIXED_SECONDS, self.mixed_share * both):
            return MIXED
        return self.label_for(p_female)


MB = 1024 * 1024
HOST, PORT = "127.0.0.1", 8000  # where audiogender serve listens unless told: this machine only


@dataclass(frozen=True)
class Limits:
    """The bounds a public service keeps."""

    max_upload_mb: float = option(50.0, "--max-upload-mb", "larger uploads answer 413", "MB")
    request_seconds: float = option(120.0, "--timeout", "a request's time limit, upload included", "SECONDS")
    concurrency: int = option(os.cpu_count() or 1, "--concurrency", "requests classified at once, one per core unless set", "N")
    queue_seconds: float = option(10.0, "--queue-timeout", "how long a request waits for its turn before answering 503", "SECONDS")
    max_audio_minutes: float = option(30.0, "--max-audio-minutes", "a recording that holds or decodes to more audio than this answers 413", "MINUTES")
    max_connections: int = option(64, "--max-connections", "open connections at most; beyond, new ones answer 503", "N")
    max_waiting: int = 64  # requests waiting beyond this answer 503 at once

    def __post_init__(self):
        named = {f.name: f"{f.name} ({f.metadata['flag']})" if "flag" in f.metadata else f.name for f in fields(self)}
        if not _finite(named["max_upload_mb"], self.max_upload_mb) > 0:
            raise ValueError(f"{named['max_upload_mb']} must be positive, not {self.max_upload_mb}")
        if not _finite(named["request_seconds"], self.request_seconds) > 0:
            raise ValueError(f"{named['request_seconds']} must be positive, not {self.request_seconds}")
        if not _finite(named["queue_seconds"], self.queue_seconds) >= 0:
            raise ValueError(f"{named['queue_seconds']} must be 0 or more, not {self.queue_seconds}")
        if not _finite(named["max_audio_minutes"], self.max_audio_minutes) > 0:
            raise ValueError(f"{named['max_audio_minutes']} must be positive, not {self.max_audio_minutes}")
        for name in ("concurrency", "max_connections", "max_waiting"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{named[name]} must be a whole number, at least 1, not {value!r}")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)

    @property
    def max_audio_seconds(self) -> float:
        return self.max_audio_minutes * 60
