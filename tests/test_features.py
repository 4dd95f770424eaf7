import librosa
import numpy as np
import pytest
import scipy.fft
import scipy.signal

from audiogender.audio import N_FRAMES, load_audio
from audiogender.features import FeatureConfig, compute_features, mel_filters, mfcc, pre_emphasis
from audiogender.lab.clips import prepare_clip
from helpers import SAMPLES


@pytest.fixture(scope="module")
def clip():
    return prepare_clip(load_audio(SAMPLES / "cmu_arctic_us_axb_a0004.wav"))


def test_mfcc_is_the_seeds_recipe_as_librosa_computes_it(clip):
    ours = mfcc(clip)
    reference = librosa.feature.mfcc(
        y=pre_emphasis(clip), sr=16_000, n_mfcc=12, n_fft=400, win_length=400, hop_length=160,
        window="hann", center=False, n_mels=40, lifter=22,
    ).T  # fmt: skip
    assert ours.shape == (98, 12) == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-2)


def test_window_and_dct_are_scipys(clip):
    from audiogender.features import _dct_matrix, _window

    np.testing.assert_allclose(_window(), scipy.signal.get_window("hann", 400, fftbins=True), atol=1e-7)
    db = np.random.default_rng(0).standard_normal((5, 40)).astype(np.float32)
    np.testing.assert_allclose(db @ _dct_matrix(12, 40).T, scipy.fft.dct(db, type=2, norm="ortho")[:, :12], atol=1e-4)


def test_pre_emphasis_is_the_first_order_filter(clip):
    expected = scipy.signal.lfilter([1, -0.97], [1], clip)
    np.testing.assert_allclose(pre_emphasis(clip)[1:], expected[1:], atol=1e-6)


def test_log_mel_does_not_change_with_level(clip):
    config = FeatureConfig("logmel")
    loud, quiet = compute_features(clip, config), compute_features(0.1 * clip, config)
    assert loud.shape == (N_FRAMES, 40)
    np.testing.assert_allclose(loud, quiet, atol=1e-3)


def test_a_batch_gives_the_same_features_as_single_clips(clip):
    batch = compute_features(np.stack([clip, clip[::-1].copy()]))
    np.testing.assert_allclose(batch[0], compute_features(clip), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(batch[1], compute_features(clip[::-1].copy()), rtol=1e-5, atol=1e-4)


def test_mel_filters_are_loaded_once_and_are_librosas():
    assert mel_filters(40) is mel_filters(40)
    assert mel_filters(40).shape == (40, 201)
    np.testing.assert_allclose(mel_filters(40), librosa.filters.mel(sr=16_000, n_fft=400, n_mels=40), rtol=1e-6)
    for n_mels in (64, 80):  # sizes not stored are built, without librosa
        np.testing.assert_allclose(mel_filters(n_mels), librosa.filters.mel(sr=16_000, n_fft=400, n_mels=n_mels), rtol=1e-5, atol=1e-8)


def test_mel_power_is_what_librosa_and_the_ge2e_encoder_read():
    config = FeatureConfig("mel", window_seconds=1.59, hop_seconds=0.77)
    window = load_audio(SAMPLES / "cmu_arctic_us_axb_a0004.wav")[: config.window_samples]
    ours = compute_features(window, config)
    reference = librosa.feature.melspectrogram(y=window, sr=16_000, n_fft=400, hop_length=160, n_mels=40).T
    assert ours.shape == reference.shape == (config.n_frames, 40) == (160, 40)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-6)


def test_windows_are_part_of_the_features():
    assert (FeatureConfig("logmel").n_frames, FeatureConfig("logmel").window_samples, FeatureConfig("logmel").hop_samples) == (98, 16_000, 8_000)
    assert FeatureConfig("mfcc") != FeatureConfig("mfcc", window_seconds=2.0)
    assert FeatureConfig(**FeatureConfig("mel", window_seconds=1.59).to_dict()).n_frames == 160


def test_unknown_feature_kind_is_refused():
    with pytest.raises(ValueError, match="unknown feature kind"):
        FeatureConfig("cqt")
