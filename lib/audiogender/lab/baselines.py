"""The baselines a CNN must beat: a voice's median pitch, and the ``voice2gender`` package.

Pitch is the obvious cue (men speak near 85-180 Hz, women near 165-255 Hz), and it
fails exactly where it matters: excited men reach women's range. The pitch
baseline fits a logistic regression on log median F0 (``librosa.pyin``) on the
training folds only, so its threshold is learnt, not chosen by looking at the test.

``voice2gender`` (PyPI) ships an XGBoost model on 20 spectral and pitch statistics;
it is used as published, fed what it asks for: mono int16 PCM at 44.1 kHz.
"""

from __future__ import annotations

import numpy as np
import soxr
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from ..audio import SAMPLE_RATE, frame_rms, load_audio, remove_dc
from .clips import loudest_stretch

PITCH_RATE = 8_000  # pyin runs at 8 kHz: voices' F0 and harmonics lie far below 4 kHz
PITCH_RANGE = (60.0, 400.0)  # Hz searched, from deep male to high female voices
PITCH_MAX_SECONDS = 10.0  # the loudest 10 s are plenty for a median
VOICED_WITHIN_DB = 25.0  # frames quieter than this below the loudest are background, whatever pyin says
VOICE2GENDER_RATE = 44_100


def median_f0(audio: np.ndarray) -> float:
    """Median fundamental frequency (Hz) of the voiced, loud frames of a 16 kHz waveform; NaN if none.

    pyin calls some background frames voiced at the bottom of its range, so frames
    more than 25 dB below the loudest are left out.
    """
    import librosa

    audio = loudest_stretch(remove_dc(np.asarray(audio, dtype=np.float32)), PITCH_MAX_SECONDS)
    narrow = soxr.resample(audio, SAMPLE_RATE, PITCH_RATE)
    hop = PITCH_RATE // 100
    f0, voiced, _ = librosa.pyin(narrow, fmin=PITCH_RANGE[0], fmax=PITCH_RANGE[1], sr=PITCH_RATE, frame_length=1024, hop_length=hop)
    rms = frame_rms(np.pad(narrow, 512), 1024, hop)[: len(f0)]
    loud = 20 * np.log10(np.maximum(rms, 1e-10)) >= 20 * np.log10(max(rms.max(), 1e-10)) - VOICED_WITHIN_DB
    chosen = voiced[: len(rms)] & loud[: len(voiced)]
    return float(np.median(f0[: len(chosen)][chosen])) if chosen.any() else float("nan")


def file_median_f0(path) -> float:
    return median_f0(load_audio(path))


class PitchBaseline(ClassifierMixin, BaseEstimator):
    """p(female) from median F0 alone: logistic regression on log F0, fitted on training clips.

    ``X`` is a column of median F0 in Hz (NaN where none was found, which is
    answered with the training clips' median). The classes are weighted by inverse
    frequency, so the threshold serves balanced accuracy, not the majority class.
    """

    CENTRE = np.log(150.0)  # log F0 is centred near the boundary, so the solver converges

    def fit(self, X, y):
        f0 = self._log_f0(X, fill=None)
        self.fill_ = float(np.nanmedian(f0))
        features = np.nan_to_num(f0, nan=self.fill_)[:, None] - self.CENTRE
        self.model_ = LogisticRegression(C=1e3, class_weight="balanced", max_iter=1000).fit(features, np.asarray(y))
        self.classes_ = self.model_.classes_
        return self

    @property
    def threshold_hz(self) -> float:
        """The pitch above which the baseline says female."""
        return float(np.exp(self.CENTRE - self.model_.intercept_[0] / self.model_.coef_[0, 0]))

    def predict_proba(self, X) -> np.ndarray:
        return self.model_.predict_proba(self._log_f0(X, self.fill_)[:, None] - self.CENTRE)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @staticmethod
    def _log_f0(X, fill: float | None) -> np.ndarray:
        f0 = np.log(np.asarray(X, dtype=float).reshape(-1))
        return f0 if fill is None else np.nan_to_num(f0, nan=fill)


def voice2gender_p_female(audio: np.ndarray) -> float:
    """``voice2gender``'s p(female) for a 16 kHz waveform; NaN where it refuses the audio.

    Install it with ``pip install xgboost-cpu && pip install --no-deps voice2gender``:
    it asks for xgboost >= 3.4.1, which PyPI does not offer for every platform,
    and its JSON model loads in the 3.2 release.
    """
    from voice2gender import predict

    audio = remove_dc(np.asarray(audio, dtype=np.float32))
    peak = np.abs(audio).max()
    if peak == 0:
        return float("nan")
    wide = soxr.resample(audio / peak * 0.9, SAMPLE_RATE, VOICE2GENDER_RATE)
    pcm = (np.clip(wide, -1, 1) * 32767).astype("<i2").tobytes()
    try:
        return float(predict([pcm], sample_rate=VOICE2GENDER_RATE)["female_probability"])
    except ValueError:  # too short, silent or without voiced frames, in its own judgement
        return float("nan")


def file_voice2gender(path) -> float:
    return voice2gender_p_female(load_audio(path))


def voice2gender_available() -> bool:
    """Whether ``voice2gender`` (and the xgboost it needs) can be imported."""
    try:
        import voice2gender  # noqa: F401
    except ImportError:
        return False
    return True
