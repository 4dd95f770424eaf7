"""Learning the voice decision (``audiogender.voice``): is there a voice in this sound at all?

The detector is our CNN, narrower, taught voice against no voice on 1 s crops of
clean and augmented views of every voiced clip of the speech folders, against the
``nonspeech`` folder (UrbanSound8K's street and machine sounds, ten kinds of
animals, instruments) and made-up signals (``signals``), each source and each
class weighed alike. Its head (``voice.VoiceHead``) weighs the windows' summary and
Silero's, fitted on answers the CNN gave for sources it never heard, which is how
it will meet users' sounds.

:func:`leave_sources_out` measures the whole decision that way: each source
(UrbanSound8K, the animals, the instruments, each speech folder) judged by a
detector and a head trained on all the others, never on it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch
from sklearn.linear_model import LogisticRegression

from ..audio import SAMPLE_RATE, load_audio
from ..features import FeatureConfig
from ..labels import female_log_odds
from ..settings import Settings
from ..shipped import VOICE_FILE, asset_path
from ..vad import SHORT_CLIP_SECONDS, short_clip_probabilities
from ..voice import HEAD_KEY, VoiceHead, active_span, silero_summary, window_summary
from ..windows import level_for_detection, piece_features
from . import progress_bar, project, signals
from .augment import Augmenter
from .cache import FEATURE_CODE, per_clip_cached
from .cnn import CnnRecipe
from .corpora import read_corpora, read_corpus
from .datasets import example_weights, load_frame_bank
from .networks import export_onnx

SPEECH_FOLDERS = ("audiomnist-az", "librispeech-251", "audiomnist-sample", "samples", "nemo", "baved", "urdu", "telephone-8k", "ukrainian-digits",
                  "voxceleb-sample")  # fmt: skip
NONSPEECH_FOLDER = "nonspeech"
SYNTHETIC_SIGNALS = 720  # made-up sounds, every kind of ``signals`` alike, 0.25-6 s
DETECTOR = CnnRecipe(
    "voice", "gender-cnn", FeatureConfig("logmel"), epochs=8, crops=True, n_views=3, augment=Augmenter(p_pitch=0.0),
    network_options={"width": 16}, lr_schedule="cosine",
)  # fmt: skip
SUMMARY = ("mean", "max", "q75")  # voice.window_summary
SILERO = ("silero_max", "silero_share")  # voice.silero_summary
MISSED_SPEECH = 0.001  # the head's threshold lets at most this share of the training sources' speech through as no voice
SURE = (0.0005, 0.005)  # the CNN decides alone below the speech's 0.05% quantile and above the non-speech's 99.5%


def family(source: str) -> str:
    """A non-speech recording's family, as ``nonspeech``'s manifest names its sources."""
    return "UrbanSound8K" if source == "UrbanSound8K" else "animals" if "Animal" in source else "instruments"


def voice_clips(data: str | os.PathLike, cache_dir: str | os.PathLike, synthetic: int = SYNTHETIC_SIGNALS, random_state: int = 0) -> pd.DataFrame:
    """Every recording the detector learns from: ``voice`` 1 for the speech folders' voiced clips, 0 for ``nonspeech`` and
    ``synthetic`` made-up signals (written once into ``cache_dir/signals``). ``source`` is what is left out together."""
    data = Path(data)
    speech = read_corpora([data / f for f in SPEECH_FOLDERS]).assign(voice=1)
    speech["category"] = speech["source"]
    manifest = pd.read_csv(data / NONSPEECH_FOLDER / "manifest.csv", dtype={"speaker": str})
    none = read_corpus(data / NONSPEECH_FOLDER).assign(category=manifest["category"].values, source=manifest["source"].map(family).values, voice=0)
    none["speaker"] = "nonspeech:" + none["speaker"].astype(str)
    rows, folder = [], Path(cache_dir) / "signals"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(random_state)
    for i in range(synthetic):
        kind, seconds = signals.KINDS[i % len(signals.KINDS)], float(np.exp(rng.uniform(np.log(0.25), np.log(6.0))))
        wave = signals.signal(kind, seconds, rng)
        path = folder / f"{random_state}_{i:04d}.wav"
        if not path.exists():
            sf.write(path, wave, SAMPLE_RATE, subtype="FLOAT")
        rows.append({"path": str(path), "speaker": f"synthetic:{i}", "gender": "none", "corpus": "synthetic", "source": "synthetic", "category": kind, "voice": 0})
    return pd.concat([speech, none, pd.DataFrame(rows)], ignore_index=True)


def weights(clips: pd.DataFrame) -> np.ndarray:
    """Each source's voices and its sounds without one weigh alike, every speaker (or source recording) once."""
    return example_weights(clips.assign(gender=np.where(clips["voice"] == 1, "voice", "none")), "folder-gender")


def training_bank(clips: pd.DataFrame, cache_dir, random_state: int = 0, progress: bool = True):
    """The detector's frame bank: every recording, clean and augmented (cached)."""
    return load_frame_bank(clips, DETECTOR.features, DETECTOR.n_views, DETECTOR.augment, random_state, cache_dir, progress=progress)


def fit_detector(clips: pd.DataFrame, bank, rows: np.ndarray, device: str = "cpu", random_state: int = 0) -> torch.nn.Module:
    """The detector trained on the recordings at ``rows`` (class 1: a voice)."""
    net = DETECTOR.estimator(bank.n_features, device, random_state)
    net.fit(bank.training_set(rows, clips["voice"].to_numpy(), random_state, weights(clips)), None)
    return net.module_.cpu().eval()


def judged_part(audio: np.ndarray) -> np.ndarray:
    """What the detector judges of a prepared recording: a short one's sounding part (``voice.active_span``), a long one whole."""
    if audio.size > SHORT_CLIP_SECONDS * SAMPLE_RATE:
        return audio
    start, end = active_span(audio)
    return audio[start:end] if end > start else audio


def window_features(path) -> np.ndarray:
    """The detector's windows of one recording (as ``windows`` cuts a piece)."""
    return piece_features(judged_part(level_for_detection(load_audio(path))[0]), DETECTOR.features)


def window_log_odds(module: torch.nn.Module, clips: pd.DataFrame, rows, progress: bool = True) -> dict[int, np.ndarray]:
    """Each recording's windows' voice log-odds, by row."""
    out = {}
    with torch.inference_mode():
        for i in progress_bar(np.flatnonzero(rows) if np.asarray(rows).dtype == bool else rows, progress, desc="windows"):
            out[int(i)] = female_log_odds(module(torch.as_tensor(window_features(clips["path"].iloc[i]))).numpy())
    return out


def silero_features(clips: pd.DataFrame, cache_dir, settings: Settings = Settings(), progress: bool = True) -> np.ndarray:
    """Silero's summary of every recording heard whole as a short clip is (``vad.short_clip_probabilities``): (clips, 2), cached."""

    def summary(path) -> np.ndarray:
        audio, has_signal = level_for_detection(load_audio(path))
        return np.array(silero_summary(short_clip_probabilities(audio) if has_signal else np.zeros(0), settings.vad_threshold))

    return per_clip_cached(clips, summary, f"silero-{settings.vad_threshold}", "silero", cache_dir, progress=progress,
                           code=(*FEATURE_CODE, "audiogender.vad", "audiogender.windows", "audiogender.voice"))  # fmt: skip


def summaries(log_odds: dict[int, np.ndarray], silero: np.ndarray, clips: pd.DataFrame) -> pd.DataFrame:
    """What the head reads of each recording, with what it is."""
    columns = [c for c in ("path", "speaker", "source", "category", "emotion", "voice") if c in clips]
    table = clips[columns].iloc[sorted(log_odds)].reset_index(drop=True)
    table[list(SUMMARY)] = [window_summary(log_odds[i]) for i in sorted(log_odds)]
    table[list(SILERO)] = silero[sorted(log_odds)]
    return table


def leave_sources_out(clips: pd.DataFrame, cache_dir, device: str = "cpu", progress: bool = True) -> pd.DataFrame:
    """Every recording's summary from a detector that never heard its source (the made-up signals always train)."""
    bank, silero = training_bank(clips, cache_dir, progress=progress), silero_features(clips, cache_dir, progress=progress)
    log_odds = {}
    for held in progress_bar(sorted(set(clips["source"]) - {"synthetic"}), progress, desc="sources left out"):
        test = (clips["source"] == held).to_numpy()
        log_odds.update(window_log_odds(fit_detector(clips, bank, ~test, device), clips, test, progress=False))
    return summaries(log_odds, silero, clips)


def fit_head(table: pd.DataFrame, missed_speech: float = MISSED_SPEECH, sure: tuple[float, float] = SURE) -> VoiceHead:
    """The head fitted on summaries the detector gave for sources it never heard, its threshold set so that at most
    ``missed_speech`` of their speech is called no voice, and its sure band where the CNN alone errs that rarely."""
    y, w = table["voice"].to_numpy(), weights(table)
    models = []
    for columns in (SUMMARY, SUMMARY + SILERO):
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000).fit(table[list(columns)], y, sample_weight=w)
        models.append(((model.coef_[0].tolist(), float(model.intercept_[0])), model.decision_function(table[list(columns)])))
    (alone, alone_score), (both, both_score) = models
    low, high = float(np.quantile(alone_score[y == 1], sure[0])), float(np.quantile(alone_score[y == 0], 1 - sure[1]))
    return VoiceHead(alone, both, (low, max(low, high)), float(np.quantile(both_score[y == 1], missed_speech)))


def decide(table: pd.DataFrame, head: VoiceHead) -> pd.DataFrame:
    """Each recording's decision by ``head``, as ``voice.VoiceDetector.decide`` makes it: ``said`` a voice, ``asked`` Silero."""
    said, asked = [], []
    for row in table[list(SUMMARY + SILERO)].itertuples(index=False):
        alone = head.score(head.alone, list(row[:3]))
        sure = not head.sure[0] < alone < head.sure[1]
        said.append(alone >= head.sure[1] if sure else head.score(head.with_silero, list(row)) >= head.threshold)
        asked.append(not sure)
    return table.assign(said=said, asked=asked)


def nested_decisions(table: pd.DataFrame) -> pd.DataFrame:
    """Each source's decisions by a head fitted without it too: the whole decision, judged on sources it never met."""
    parts = [decide(table[table["source"] == held], fit_head(table[table["source"] != held])) for held in table["source"].unique()]
    return pd.concat(parts).loc[table.index]


def rates(decided: pd.DataFrame) -> pd.DataFrame:
    """Per source and category: recordings, and the share answered right (no voice for a sound, a voice for speech)."""
    right = decided.assign(right=decided["said"] == (decided["voice"] == 1))
    table = right.groupby(["voice", "source", "category"]).agg(recordings=("right", "size"), right=("right", "mean"), asked_silero=("asked", "mean"))
    return table.reset_index()


def export_detector(module: torch.nn.Module, head: VoiceHead, path: str | os.PathLike, meta: dict | None = None) -> None:
    """The detector as ONNX with its head in the metadata (``voice.VoiceDetector`` reads it)."""
    export_onnx(module, DETECTOR.features, path, meta={**(meta or {}), "recipe": DETECTOR.to_dict()}, extra={HEAD_KEY: head.to_json()})

PUBLISHED = "book/results/voice"  # the leave-sources-out summaries and decisions, as published for the report and the shipped head


def publish(table: pd.DataFrame, folder: str | os.PathLike) -> Path:
    """Write the leave-sources-out summaries and the nested decisions on them (``summaries.csv.gz``, ``decisions.csv.gz``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    relative = table.assign(path=[project.relative(p) for p in table["path"]])
    relative.to_csv(folder / "summaries.csv.gz", index=False)
    nested_decisions(relative).to_csv(folder / "decisions.csv.gz", index=False)
    return folder


def load_summaries(folder: str | os.PathLike) -> pd.DataFrame:
    return pd.read_csv(Path(folder) / "summaries.csv.gz", dtype={"speaker": str})


def train_shipped(clips: pd.DataFrame, published: str | os.PathLike, cache_dir, device: str = "cpu") -> Path:
    """Train the detector on every recording, fit its head on the published summaries, export it into the package."""
    head = fit_head(load_summaries(published))
    module = fit_detector(clips, training_bank(clips, cache_dir), np.ones(len(clips), bool), device)
    path = asset_path(VOICE_FILE)
    export_detector(module, head, path, meta={"trained_on": sorted(set(clips["source"])), "recordings": len(clips)})
    return path


def load_decisions(folder: str | os.PathLike) -> pd.DataFrame:
    """The published decisions, leaving each source out."""
    return pd.read_csv(Path(folder) / "decisions.csv.gz", dtype={"speaker": str})


def emotion_rates(decided: pd.DataFrame) -> pd.DataFrame:
    """On the acted corpora, the share of each emotion's clips heard as a voice (all should be)."""
    acted = decided.dropna(subset=["emotion"]) if "emotion" in decided else decided[:0]
    table = acted.groupby(["source", "emotion"])["said"].agg(clips="size", heard="mean").reset_index()
    return table.pivot_table(index="emotion", columns="source", values="heard").round(3)
