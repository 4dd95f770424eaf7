import numpy as np
import pytest

from audiogender.audio import N_SAMPLES, loud_level
from audiogender.lab.clips import loudest_stretch, pad_or_trim, prepare_clip
from helpers import harmonic_tone


def test_pad_or_trim_pads_short_clips_and_keeps_the_loudest_second():
    short = harmonic_tone(150, 0.4)
    assert pad_or_trim(short).size == N_SAMPLES
    long = np.concatenate([np.zeros(2 * N_SAMPLES, np.float32), harmonic_tone(150, 1.0), np.zeros(N_SAMPLES, np.float32)])
    kept = pad_or_trim(long)
    assert kept.size == N_SAMPLES and loud_level(kept) > 0.9 * loud_level(harmonic_tone(150))
    assert prepare_clip(long).size == N_SAMPLES


def test_loudest_stretch_keeps_the_loud_seconds_of_a_long_waveform():
    quiet, loud = np.full(48_000, 0.01, np.float32), np.full(32_000, 0.5, np.float32)
    audio = np.concatenate([quiet, loud, quiet])
    kept = loudest_stretch(audio, 2.0)
    assert kept.size == 32_000 and np.all(kept == 0.5)
    assert loudest_stretch(loud, 5.0) is loud


def test_level_survey_shows_what_preparation_fixes(tmp_path):
    import soundfile as sf

    from audiogender.lab.clips import level_survey

    rng = np.random.default_rng(0)
    paths = []
    for k, (offset, gain) in enumerate([(-0.085, 0.02), (0.0, 0.2), (0.05, 0.5)]):
        path = tmp_path / f"{k}.wav"
        sf.write(path, offset + gain * np.sin(np.linspace(0, 400 * np.pi, 16000)) + 0.001 * rng.standard_normal(16000), 16000)
        paths.append(str(path))
    survey = level_survey(paths, n=5).set_index(["path", "stage"])
    assert len(survey) == 6
    assert survey.loc[(paths[0], "as recorded"), "dc_offset"] == pytest.approx(-0.085, abs=1e-3)
    prepared = survey.xs("prepared", level="stage")
    assert prepared["dc_offset"].abs().max() < 1e-3 and prepared["level"].max() / prepared["level"].min() < 1.01
