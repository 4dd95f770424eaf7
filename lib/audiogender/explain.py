"""What the model listened to: a relevance map over time and mel bands, by fading each patch.

Each patch of each window the network judged (0.1 s by four mel bands) is moved in
turn a small step (``FADE_STEP``, 2%) of the way to a typical window (the network's
``reference``: its training windows' mean per band; silence where the network does not
know it) and the recording judged again. How far that moves the recording's log-odds
away from its answer, divided by the step, is the patch's relevance: positive, the patch
spoke for the answer given; negative, against it. It needs nothing but the exported
network (ONNX Runtime, no gradients), so it explains either shipped model the same way.

Why a small step and not hiding the patch: a small step measures the network where it
is, to first order (the gradient times the patch's distance from the reference, which
is what layer-wise relevance propagation's epsilon rule computes for a ReLU network).
Hiding a whole patch asks what the network does with an input it never met, and
through max-pooling and batch normalisation the answer is far from additive; chapter 5
of the report and ``benchmarks/explain_agreement.py`` measure both against LRP.

:func:`audible` turns a map into sound: the recording filtered to the time and
frequency cells that spoke for the answer, so that a listener hears what mattered.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field

import numpy as np

from .audio import FRAMES_PER_SECOND, HOP_LENGTH, N_FFT, SAMPLE_RATE, stream_audio, to_model_rate
from .features import FeatureConfig, band_centres, mel_filters
from .labels import NO_VOICE, sigmoid
from .scheduler import Cancelled
from .windows import window_starts

EXPLAIN_SECONDS = 60.0  # one block: explaining costs a network call per patch, so longer recordings are cut to the part wanted
PATCH_FRAMES = 10  # 0.1 s
PATCH_BANDS = 4  # of the 40 mel bands
FADE_STEP = 0.02  # how far a patch moves to the reference: small enough that the network answers to first order
FREQUENCY_RANGES = ((0, 300), (300, 1000), (1000, 2500), (2500, 8000))  # Hz: pitch, first formants, upper formants, the rest


@dataclass
class Explanation:
    """A recording's answer and its relevance map: ``relevance[band, frame]``, one frame per 10 ms of the
    recording, a row per mel band (centre frequencies ``band_hz``), in log-odds of the answer per cell."""

    path: str | None
    label: str
    p_female: float | None
    band_hz: np.ndarray
    relevance: np.ndarray
    audio: np.ndarray = field(repr=False)  # the recording at 16 kHz, for :func:`audible`

    @property
    def frame_seconds(self) -> float:
        return 1.0 / FRAMES_PER_SECOND

    def by_frequency(self) -> dict[str, float]:
        """The share of the positive relevance in each of ``FREQUENCY_RANGES``: which frequencies the answer rests on."""
        positive = np.clip(self.relevance, 0, None).sum(axis=1)
        total = max(float(positive.sum()), 1e-12)
        return {f"{low}-{high} Hz": round(float(positive[(self.band_hz >= low) & (self.band_hz < high)].sum()) / total, 3)
                for low, high in FREQUENCY_RANGES}  # fmt: skip

    def to_dict(self, max_frames: int | None = None) -> dict:
        """The map as JSON: ``relevance`` rows per band, at most ``max_frames`` columns (cells averaged), four digits."""
        relevance, seconds = self.relevance, self.frame_seconds
        if max_frames and relevance.shape[1] > max_frames:
            step = -(-relevance.shape[1] // max_frames)
            padded = np.pad(relevance, ((0, 0), (0, -relevance.shape[1] % step)))
            relevance, seconds = padded.reshape(len(padded), -1, step).mean(axis=2), seconds * step
        return {"path": self.path, "label": self.label, "p_female": self.p_female, "frame_seconds": seconds,
                "band_hz": np.round(self.band_hz, 1).tolist(), "relevance": np.round(relevance, 4).tolist(),
                "by_frequency": self.by_frequency()}  # fmt: skip


def faded(window: np.ndarray, config: FeatureConfig, reference: np.ndarray | None = None, step: float = FADE_STEP
          ) -> tuple[np.ndarray, list[tuple[slice, slice]]]:  # fmt: skip
    """Copies of one window's features (frames x bands), each with one patch moved ``step`` of the way to
    ``reference`` (a value per band; None: silence, the window's floor), and the patches."""
    if config.kind == "mfcc":
        raise ValueError("explain needs a network that reads mel bands (logmel or mel); MFCCs mix every band into each coefficient")
    if reference is None:
        reference = np.full(window.shape[1], window.min() if config.kind == "logmel" else 0.0, np.float32)
    patches = [(slice(t, t + PATCH_FRAMES), slice(b, b + PATCH_BANDS))
               for t in range(0, window.shape[0], PATCH_FRAMES) for b in range(0, window.shape[1], PATCH_BANDS)]  # fmt: skip
    copies = np.repeat(window[None], len(patches), axis=0)
    for copy, (frames, bands) in zip(copies, patches):
        copy[frames, bands] += step * (reference[bands] - copy[frames, bands])
    return copies, patches


def read_waveform(audio, sample_rate: int | None = None) -> tuple[str | None, np.ndarray]:
    """(name, 16 kHz waveform) of a path or an array; a file past ``EXPLAIN_SECONDS`` raises ``audio.TooLong``."""
    if isinstance(audio, (str, bytes)) or hasattr(audio, "__fspath__"):
        blocks = list(stream_audio(audio, max_seconds=EXPLAIN_SECONDS))
        return str(audio), np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    waveform = to_model_rate(audio, SAMPLE_RATE if sample_rate is None else sample_rate)
    if waveform.size > EXPLAIN_SECONDS * SAMPLE_RATE:
        raise ValueError(f"explain takes at most {EXPLAIN_SECONDS:g} s of audio: cut out the part to explain")
    return None, waveform


def first_frames(voiced, config: FeatureConfig) -> np.ndarray:
    """The recording frame (10 ms each) on which each judged window's first frame is centred."""
    starts = np.concatenate([window_starts(s, e, config) for s, e in voiced.pieces])
    offset = 0 if config.kind == "mel" else N_FFT // 2
    return (starts + offset) // HOP_LENGTH


def map_frames(n_samples: int) -> int:
    """How many 10 ms frames a map of a 16 kHz recording has: frames centred every hop, as librosa counts them."""
    return n_samples // HOP_LENGTH + 1


def placed(patches: np.ndarray, firsts: np.ndarray, n_frames: int) -> np.ndarray:
    """A map over the recording (bands x frames) from each window's patch values (windows x time patches x
    band groups): each value spread over its patch's cells, and averaged where windows overlap."""
    n_groups = patches.shape[2]
    relevance, covered = np.zeros((n_groups * PATCH_BANDS, n_frames)), np.zeros(n_frames)
    for first, window in zip(firsts, patches):
        for t, values in enumerate(window):
            begin = first + t * PATCH_FRAMES
            cells = slice(max(0, begin), max(0, min(n_frames, begin + PATCH_FRAMES)))
            relevance[:, cells] += np.repeat(values, PATCH_BANDS)[:, None] / (PATCH_FRAMES * PATCH_BANDS)
            covered[cells] += 1
    return relevance / np.maximum(covered, 1)


def explain(
    model, audio, sample_rate: int | None = None, step: float = FADE_STEP, to_silence: bool = False, cancel: threading.Event | None = None
) -> Explanation:
    """The answer ``model`` (a ``predict.GenderClassifier``) gives a recording, and what in it drove that answer.

    ``step``: how far each patch moves (1.0 hides it, which is occlusion); ``to_silence``: move it toward
    silence, not the network's typical window. Once ``cancel`` is set, the work stops after the window in
    hand and ``scheduler.Cancelled`` is raised (a server's client went away: its core is freed)."""
    name, waveform = read_waveform(audio, sample_rate)
    config, network = model.features, model.network
    n_frames = map_frames(waveform.size)
    (voiced,) = list(model.voiced([waveform])) if waveform.size else [None]
    if voiced is None or not len(voiced.features):
        return Explanation(name, NO_VOICE, None, band_centres(config.n_mels), np.zeros((config.n_mels, n_frames)), waveform)
    outputs = model.window_outputs(voiced.features)
    base = network.pooled_log_odds(outputs)
    sign = 1.0 if base >= 0 else -1.0
    n_windows, window_frames, n_bands = voiced.features.shape
    patches = np.zeros((n_windows, -(-window_frames // PATCH_FRAMES), n_bands // PATCH_BANDS))
    for w, window in enumerate(voiced.features):
        if cancel is not None and cancel.is_set():
            raise Cancelled("stopped by the caller")
        copies, cut = faded(window, config, None if to_silence else network.reference, step)
        for copy_output, (frames, bands) in zip(model.window_outputs(copies), cut):
            trial = outputs.copy()
            trial[w] = copy_output
            patches[w, frames.start // PATCH_FRAMES, bands.start // PATCH_BANDS] = sign * (base - network.pooled_log_odds(trial)) / step
    p_female = float(sigmoid(base))
    label = model.settings.label_for(p_female)
    relevance = placed(patches, first_frames(voiced, config), n_frames)
    return Explanation(name, label, round(p_female, 4), band_centres(config.n_mels), relevance, waveform)


def audible(explanation: Explanation, floor: float = 0.05) -> np.ndarray:
    """The recording filtered to what spoke for its answer: each STFT cell kept in proportion to the positive
    relevance of its time and mel bands (at least ``floor``, so the result still sounds like the recording)."""
    audio = explanation.audio
    if not audio.size:
        return audio
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    padded = np.pad(audio, (N_FFT // 2, N_FFT // 2 + HOP_LENGTH))
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP_LENGTH]
    spectrum = np.fft.rfft(frames * window, axis=1)
    positive = np.clip(explanation.relevance, 0, None)
    peak = positive.max()
    mask_bands = positive / peak if peak > 0 else positive
    filters = mel_filters(len(mask_bands))
    # each FFT bin takes its mel bands' share; a bin no band covers (DC, the very top) takes its nearest covered bin's
    covered = np.flatnonzero(filters.sum(axis=0) > 0)
    nearest = covered[np.clip(np.searchsorted(covered, np.arange(filters.shape[1])), 0, len(covered) - 1)]
    weights = filters[:, nearest] / filters[:, nearest].sum(axis=0, keepdims=True)
    mask = (mask_bands.T @ weights)[: len(spectrum)]
    mask = np.pad(mask, ((0, len(spectrum) - len(mask)), (0, 0)), mode="edge")
    filtered = np.fft.irfft(spectrum * np.maximum(mask, floor), n=N_FFT, axis=1) * window
    out = np.zeros(padded.size)
    norm = np.zeros(padded.size)
    for i, frame in enumerate(filtered):
        out[i * HOP_LENGTH : i * HOP_LENGTH + N_FFT] += frame
        norm[i * HOP_LENGTH : i * HOP_LENGTH + N_FFT] += window**2
    out = (out / np.maximum(norm, 1e-8))[N_FFT // 2 : N_FFT // 2 + audio.size]
    return out.astype(np.float32)


def audible_wav(explanation: Explanation) -> bytes:
    """:func:`audible` as the bytes of a 16-bit WAV file."""
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, audible(explanation), SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def plot_explanation(explanation: Explanation) -> bytes:
    """A PNG of the recording's log-mel above its relevance map (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .features import log_mel

    seconds = explanation.relevance.shape[1] * explanation.frame_seconds
    extent = (0, seconds, 0, len(explanation.band_hz))
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4.5), sharex=True, constrained_layout=True)
    spectrum = log_mel(explanation.audio) if explanation.audio.size >= N_FFT else np.zeros((1, len(explanation.band_hz)))
    top.imshow(spectrum.T, origin="lower", aspect="auto", cmap="magma", extent=extent)
    top.set_title("log-mel (dB below the loudest cell)")
    limit = max(float(np.abs(explanation.relevance).max()), 1e-9)
    image = bottom.imshow(explanation.relevance, origin="lower", aspect="auto", cmap="BrBG_r", vmin=-limit, vmax=limit, extent=extent)
    p = "" if explanation.p_female is None else f", p(female) {explanation.p_female:.2f}"
    bottom.set_title(f"what spoke for the answer ({explanation.label}{p}): brown for it, teal against")
    bottom.set_xlabel("seconds")
    ticks = [i for i in range(0, len(explanation.band_hz), 8)]
    for axis in (top, bottom):
        axis.set_yticks([t + 0.5 for t in ticks], [f"{explanation.band_hz[t]:.0f}" for t in ticks])
        axis.set_ylabel("Hz")
    figure.colorbar(image, ax=bottom, label="log-odds per cell")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()
