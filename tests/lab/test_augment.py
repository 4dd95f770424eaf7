import numpy as np
import pytest

from audiogender.audio import SAMPLE_RATE
from audiogender.lab import augment
from helpers import harmonic_tone


def _spectrum_peak(audio: np.ndarray, low: float, high: float) -> float:
    """Frequency (Hz) of the strongest bin between ``low`` and ``high``."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    freqs = np.fft.rfftfreq(audio.size, 1 / SAMPLE_RATE)
    band = (freqs >= low) & (freqs <= high)
    return float(freqs[band][np.argmax(spectrum[band])])


def test_noise_lands_at_the_asked_snr():
    rng = np.random.default_rng(0)
    clean = harmonic_tone(120)
    noisy = augment.add_noise(clean, 10.0, rng)
    snr = 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2))
    assert snr == pytest.approx(10.0, abs=0.1)


def test_reverb_keeps_length_and_smears_in_time():
    rng = np.random.default_rng(0)
    click = np.zeros(SAMPLE_RATE, np.float32)
    click[100] = 1.0
    wet = augment.reverberate(click, 0.5, rng)
    assert wet.shape == click.shape
    tail = np.abs(wet[100 + SAMPLE_RATE // 10 :]).max()  # energy 0.1 s after the click: a room's tail
    assert 1e-4 < tail < 0.3


def test_telephone_removes_what_a_phone_line_cannot_carry():
    rng = np.random.default_rng(0)
    wide = rng.standard_normal(SAMPLE_RATE).astype(np.float32) * 0.1
    narrow = augment.telephone(wide)
    spectrum = np.abs(np.fft.rfft(narrow)) ** 2
    freqs = np.fft.rfftfreq(narrow.size, 1 / SAMPLE_RATE)
    assert narrow.shape == wide.shape
    assert spectrum[freqs > 4500].sum() < 1e-3 * spectrum[(freqs > 500) & (freqs < 3000)].sum()


def test_codec_round_trip_keeps_length_and_level():
    tone = harmonic_tone(150)
    decoded = augment.codec(tone, "MP3")
    assert decoded.shape == tone.shape
    assert np.sqrt(np.mean(decoded**2)) == pytest.approx(np.sqrt(np.mean(tone**2)), rel=0.2)


def test_world_moves_the_pitch_and_keeps_the_length():
    tone = harmonic_tone(120, amplitude=0.5)
    shifted = augment.shift_pitch(tone, 1.5)
    assert shifted.shape == tone.shape
    assert _spectrum_peak(tone, 60, 400) == pytest.approx(120, abs=5)
    assert _spectrum_peak(shifted, 60, 400) == pytest.approx(180, abs=10)


@pytest.mark.parametrize("f0", [110, 210])
def test_world_moves_the_median_pitch_to_a_target_whoever_speaks(f0):
    shifted = augment.shift_pitch(harmonic_tone(f0, amplitude=0.5), target_hz=160)
    assert _spectrum_peak(shifted, 60, 400) == pytest.approx(160, abs=10)
    with pytest.raises(ValueError, match="either"):
        augment.shift_pitch(harmonic_tone(f0), 1.2, target_hz=160)


def test_augmenter_is_repeatable_and_keeps_length():
    tone = harmonic_tone(200)
    a = augment.Augmenter(p_pitch=0.0)(tone, np.random.default_rng(3))
    b = augment.Augmenter(p_pitch=0.0)(tone, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.shape == tone.shape and np.all(np.isfinite(a))


def test_augmenter_from_notebook_options():
    made = augment.Augmenter.from_options({"p_pitch": 0.6, "pitch_range": [0.7, 1.5]})
    assert made == augment.Augmenter(p_pitch=0.6, pitch_range=(0.7, 1.5)) and augment.Augmenter.from_options(None) == augment.Augmenter()
    with pytest.raises(ValueError, match="p_pitchh"):
        augment.Augmenter.from_options({"p_pitchh": 0.6})
