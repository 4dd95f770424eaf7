"""Augmentation: the same voice as other rooms, microphones, lines and moods would give it.

Each transform keeps what tells voices apart (the spectral envelope: formants,
vocal-tract length) and changes what must not matter: level, background noise,
room reverberation, telephone bandwidth, lossy codecs, and the pitch itself,
moved by the WORLD vocoder while the envelope stays where it was, because excited
men speak at 180-220 Hz, in women's neutral range.

Everything works on 16 kHz mono float32 and takes a ``numpy.random.Generator``,
so a run's augmentations can be repeated exactly.
"""

from __future__ import annotations

import dataclasses
import io
import warnings
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

from ..audio import SAMPLE_RATE, load_audio, prepare
from .clips import loudest_stretch

TELEPHONE_RATE = 8_000  # narrowband lines sample at 8 kHz
TELEPHONE_BAND = (300.0, 3400.0)  # Hz passed by a telephone line


def gain(audio: np.ndarray, db: float) -> np.ndarray:
    """Scale by ``db`` decibels."""
    return (audio * 10 ** (db / 20)).astype(np.float32)


def coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with power falling as 1/f^exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    noise = np.fft.irfft(spectrum / freqs ** (exponent / 2), n)
    return (noise / max(np.sqrt(np.mean(noise**2)), 1e-12)).astype(np.float32)


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator, exponent: float = 1.0) -> np.ndarray:
    """Add coloured noise ``snr_db`` below the signal's RMS."""
    rms = np.sqrt(np.mean(np.square(audio, dtype=np.float64)))
    noise = coloured_noise(audio.size, exponent, rng) * rms * 10 ** (-snr_db / 20)
    return (audio + noise).astype(np.float32)


def room_impulse(rt60: float, rng: np.random.Generator, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A synthetic room: a direct path, then exponentially decaying noise reaching -60 dB at ``rt60`` s."""
    n = max(int(rt60 * sample_rate), 16)
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)  # ln(1000) = 6.9: -60 dB at rt60
    tail[: int(0.002 * sample_rate)] = 0.0  # first reflections arrive after a couple of milliseconds
    impulse = 0.3 * tail / np.sqrt(np.sum(tail**2))
    impulse[0] = 1.0
    return impulse.astype(np.float32)


def reverberate(audio: np.ndarray, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve with a synthetic room of reverberation time ``rt60`` seconds, keeping the length."""
    impulse = room_impulse(rt60, rng)
    n = audio.size + impulse.size - 1
    size = 1 << (n - 1).bit_length()
    wet = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(impulse, size), size)[: audio.size]
    return wet.astype(np.float32)


def telephone(audio: np.ndarray) -> np.ndarray:
    """A narrowband line: down to 8 kHz, 300-3400 Hz, 8-bit mu-law, and back up to 16 kHz."""
    narrow = soxr.resample(audio, SAMPLE_RATE, TELEPHONE_RATE)
    spectrum = np.fft.rfft(narrow)
    freqs = np.fft.rfftfreq(narrow.size, 1 / TELEPHONE_RATE)
    spectrum[(freqs < TELEPHONE_BAND[0]) | (freqs > TELEPHONE_BAND[1])] = 0
    narrow = np.fft.irfft(spectrum, narrow.size)
    peak = max(np.abs(narrow).max(), 1e-9)
    x = np.clip(narrow / peak, -1, 1)
    mu = 255.0  # G.711 mu-law companding, quantised to 8 bits
    coded = np.round(np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu) * 127) / 127
    decoded = np.sign(coded) * np.expm1(np.abs(coded) * np.log1p(mu)) / mu * peak
    wide = soxr.resample(decoded.astype(np.float32), TELEPHONE_RATE, SAMPLE_RATE)
    return np.pad(wide, (0, max(0, audio.size - wide.size)))[: audio.size].astype(np.float32)


def codec(audio: np.ndarray, format: str = "MP3") -> np.ndarray:
    """Encode and decode through a lossy codec (``"MP3"`` or ``"OGG"``) in memory, keeping the length."""
    peak = max(np.abs(audio).max(), 1e-9)
    buffer = io.BytesIO()
    sf.write(buffer, audio / peak * 0.9, SAMPLE_RATE, format=format)
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32")
    decoded = np.pad(decoded, (0, max(0, audio.size - decoded.size)))[: audio.size]
    return (decoded * peak / 0.9).astype(np.float32)


def shift_pitch(audio: np.ndarray, factor: float | None = None, frame_ms: float = 5.0, target_hz: float | None = None) -> np.ndarray:
    """Multiply the pitch by ``factor``, or move its median to ``target_hz``, with the WORLD vocoder, keeping the spectral envelope.

    WORLD splits speech into pitch, envelope and aperiodicity; only the pitch is
    changed before resynthesis, so formants (what says "male" or "female") stay put.
    """
    if (factor is None) == (target_hz is None):
        raise ValueError("shift_pitch takes either a factor or a target_hz")
    with warnings.catch_warnings():  # pyworld imports the deprecated pkg_resources
        warnings.simplefilter("ignore", UserWarning)
        import pyworld

    x = audio.astype(np.float64)
    f0, times = pyworld.dio(x, SAMPLE_RATE, frame_period=frame_ms)
    f0 = pyworld.stonemask(x, f0, times, SAMPLE_RATE)
    envelope = pyworld.cheaptrick(x, f0, times, SAMPLE_RATE)
    aperiodicity = pyworld.d4c(x, f0, times, SAMPLE_RATE)
    if target_hz is not None:
        voiced = f0[f0 > 0]
        factor = target_hz / float(np.median(voiced)) if voiced.size else 1.0
    y = pyworld.synthesize(f0 * factor, envelope, aperiodicity, SAMPLE_RATE, frame_ms)
    return np.pad(y, (0, max(0, audio.size - y.size)))[: audio.size].astype(np.float32)


@dataclass(frozen=True)
class Augmenter:
    """A random chain of the transforms above, each applied with its own probability.

    The defaults span what the shipped model must survive: levels tenfold apart,
    noise from 5 to 30 dB SNR, rooms up to 0.8 s, phone lines, MP3, and pitch
    moved from a quarter-octave down to half an octave up.
    """

    p_pitch: float = 0.3
    pitch_range: tuple[float, float] = (0.85, 1.4)
    pitch_target_hz: tuple[float, float] | None = None  # if set, the median pitch is moved to a random value here, whoever speaks
    p_reverb: float = 0.3
    rt60_range: tuple[float, float] = (0.15, 0.8)
    p_noise: float = 0.5
    snr_range: tuple[float, float] = (5.0, 30.0)
    p_telephone: float = 0.2
    p_codec: float = 0.1
    gain_range: tuple[float, float] = (-20.0, 6.0)

    @classmethod
    def from_options(cls, options: dict | None) -> "Augmenter":
        """An Augmenter from a notebook parameter such as ``{"p_pitch": 0.6, "pitch_range": [0.7, 1.5]}``."""
        return cls().with_options(options)

    def with_options(self, options: dict | None) -> "Augmenter":
        """This augmenter with the fields named in ``options`` changed.

        Lists (what YAML and papermill give) become tuples; an unknown name is refused.
        """
        options = dict(options or {})
        unknown = set(options) - set(self.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown augmentation options {sorted(unknown)}: use some of {', '.join(self.__dataclass_fields__)}")
        return dataclasses.replace(self, **{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()})

    def to_dict(self) -> dict:
        """Every field, tuples as lists (what YAML writes and :meth:`from_options` reads back)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def __call__(self, audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One random augmentation of a 16 kHz waveform, of the same length."""
        audio = np.asarray(audio, dtype=np.float32)
        if rng.random() < self.p_pitch:
            if self.pitch_target_hz is None:
                audio = shift_pitch(audio, float(np.exp(rng.uniform(*np.log(self.pitch_range)))))
            else:
                audio = shift_pitch(audio, target_hz=float(np.exp(rng.uniform(*np.log(self.pitch_target_hz)))))
        if rng.random() < self.p_reverb:
            audio = reverberate(audio, float(rng.uniform(*self.rt60_range)), rng)
        if rng.random() < self.p_noise:
            audio = add_noise(audio, float(rng.uniform(*self.snr_range)), rng, exponent=float(rng.choice([0.0, 1.0, 2.0])))
        if rng.random() < self.p_telephone:
            audio = telephone(audio)
        if rng.random() < self.p_codec:
            audio = codec(audio, str(rng.choice(["MP3", "OGG"])))
        return gain(audio, float(rng.uniform(*self.gain_range)))


MAX_SECONDS = 20.0  # a clip's views keep its loudest stretch of this length


def clip_audio(path) -> np.ndarray:
    """A clip as every view of it starts: read, without DC, at a normal level, its loudest 20 s at most."""
    return loudest_stretch(prepare(load_audio(path)), MAX_SECONDS)


def view(audio: np.ndarray, view: int, augmenter: Augmenter, random_state: int, clip: int) -> np.ndarray:
    """View ``view`` of a clip's audio: 0 as recorded, the others augmented, each with its own generator seeded by
    (``random_state``, ``clip``, ``view``), so a view is the same whichever data is built from it (frame bank, embeddings)."""
    if view == 0:
        return audio
    return prepare(augmenter(audio, np.random.default_rng([random_state, clip, view])))
