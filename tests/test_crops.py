import numpy as np
import pandas as pd
import pytest

from audiogender.augment import Augmenter
from audiogender.crops import CropDataset, FrameBank, clip_views, crop_starts, crops_per_clip, load_frame_bank
from audiogender.data import read_manifest
from audiogender.features import N_FRAMES, log_mel
from helpers import SAMPLES, harmonic_tone


def _bank_of(waveforms, n_views=1):
    views = [clip_views(w, n_views, np.random.default_rng(i), Augmenter(p_pitch=0.0), 40) for i, w in enumerate(waveforms)]
    lengths = np.array([[len(v) for v in c] for c in views])
    ends = np.cumsum(lengths.ravel()).reshape(lengths.shape)
    frames = np.concatenate([v for c in views for v in c])
    from audiogender.crops import _unpack

    return _unpack(frames, np.stack([ends - lengths, ends], axis=-1))


def test_a_crop_equals_the_features_of_that_second_on_its_own():
    rng = np.random.default_rng(0)
    audio = np.concatenate([harmonic_tone(f0, 1.0) for f0 in (110, 160, 230)]) + 0.01 * rng.standard_normal(48_000).astype(np.float32)
    bank = _bank_of([audio])
    start = 137  # frames: 1.37 s in
    direct = log_mel(audio[start * 160 : start * 160 + 16_000])
    np.testing.assert_allclose(bank.crop(0, 0, start), direct, atol=0.25)  # the bank stores float16


def test_short_clips_are_padded_to_one_crop_and_quiet_stretches_are_not_drawn():
    short = harmonic_tone(150, 0.6)
    loud_then_silent = np.concatenate([harmonic_tone(150, 2.0), np.zeros(48_000, np.float32)])
    bank = _bank_of([short, loud_then_silent])
    assert bank.bounds[0, 0, 1] - bank.bounds[0, 0, 0] == N_FRAMES
    assert list(bank.starts[0][0]) == [0]
    starts = bank.starts[1][0]
    assert 100 < starts.max() <= 200 - N_FRAMES // 4  # at least a quarter of every crop is sound
    assert crop_starts(np.zeros((50, 40))).tolist() == [0]


def test_crop_dataset_gives_more_crops_to_long_clips_and_fresh_ones_each_visit():
    bank = _bank_of([harmonic_tone(120, 1.0), harmonic_tone(220, 4.0)], n_views=2)
    dataset = CropDataset(bank, np.array([0, 1]))
    assert list(crops_per_clip(np.array([0.5, 4.0, 30.0]))) == [1, 4, 6]
    assert len(dataset) == 1 + 4 and list(dataset.labels()) == [0, 1, 1, 1, 1]
    crops = [dataset[1][0] for _ in range(8)]
    assert all(c.shape == (N_FRAMES, 40) for c in crops)
    assert any(not np.array_equal(crops[0], c) for c in crops[1:])
    assert isinstance(bank.subset(np.array([True, False])), FrameBank) and bank.subset(np.array([1])).n_clips == 1


def test_frame_bank_of_real_files_is_cached(tmp_path):
    clips = read_manifest(SAMPLES)
    clips = clips[clips["gender"] != "none"].head(3)
    first = load_frame_bank(clips, n_views=2, augmenter=Augmenter(p_pitch=0.5), cache_dir=tmp_path, progress=False)
    assert first.n_clips == 3 and first.n_views == 2 and len(list(tmp_path.glob("bank-*.npz"))) == 1
    again = load_frame_bank(clips, n_views=2, augmenter=Augmenter(p_pitch=0.5), cache_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(first.frames, again.frames)
    assert not np.array_equal(first.crop(0, 0, 0), first.crop(0, 1, 0))  # the augmented view differs
    with pytest.raises(ValueError, match="log-mel"):
        from audiogender.features import FeatureConfig

        load_frame_bank(pd.DataFrame({"path": []}), FeatureConfig("mfcc"), cache_dir=None)
