import numpy as np

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
