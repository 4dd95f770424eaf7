import numpy as np
import pandas as pd
import pytest

from audiogender.audio import N_FRAMES
from audiogender.features import log_mel
from audiogender.lab import cache
from audiogender.lab.augment import Augmenter
from audiogender.lab.corpora import read_manifest
from audiogender.lab.datasets import ClipFeatures, CropDataset, FrameBank, clip_views, crop_starts, crops_per_clip, load_frame_bank
from helpers import SAMPLES, harmonic_tone


def _bank_of(waveforms, n_views=1):
    views = [clip_views(w, n_views, Augmenter(p_pitch=0.0), 40, random_state=0, clip=i) for i, w in enumerate(waveforms)]
    lengths = np.array([[len(v) for v in c] for c in views])
    ends = np.cumsum(lengths.ravel()).reshape(lengths.shape)
    frames = np.concatenate([v for c in views for v in c])
    from audiogender.lab.datasets import _unpack

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


def test_both_kinds_of_training_data_answer_the_same_questions():
    bank = _bank_of([harmonic_tone(120, 1.0), harmonic_tone(220, 3.0), harmonic_tone(130, 2.0)])
    clips = ClipFeatures(np.stack([bank.crop(c, 0, 0) for c in range(3)]))
    y = np.array([0, 1, 0])
    for data in (bank, clips):
        windows, owner = data.windows(np.array([False, True, True]))
        assert windows.shape[1:] == (N_FRAMES, 40) and set(owner) == {0, 1} and data.n_features == 40
        training = data.training_set(np.array([0, 1]), y)
        assert set(training.labels()) == {0, 1} and training.sample_features().shape[1:] == (N_FRAMES, 40)


def test_the_cache_is_found_from_any_working_directory_and_refreshed_when_the_code_changes(tmp_path, monkeypatch):
    clips = read_manifest(SAMPLES)
    clips = clips[clips["gender"] != "none"].head(2)
    load_frame_bank(clips, n_views=1, cache_dir=tmp_path, progress=False)
    monkeypatch.chdir(SAMPLES)
    relative = clips.assign(path=[p.rsplit("/", 1)[-1] for p in clips["path"]])  # the same files, named from elsewhere
    assert cache.cache_path(relative["path"], "s", tmp_path, "p", ".npy") == cache.cache_path(clips["path"], "s", tmp_path, "p", ".npy")
    load_frame_bank(relative, n_views=1, cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("bank-*.npz"))) == 1  # found, not computed again
    monkeypatch.setattr(cache, "code_version", lambda *modules: "edited")  # as if augment.py had changed
    load_frame_bank(clips, n_views=1, cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("bank-*.npz"))) == 2
