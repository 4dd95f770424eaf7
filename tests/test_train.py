import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from audiogender import train
from audiogender.features import FeatureConfig, compute_features
from audiogender.train import make_estimator, train_run
from helpers import harmonic_tone


def _voices(n_speakers=12, clips_each=4, seed=0):
    """Low buzzes (110-140 Hz) for 'male' speakers, high ones (200-250 Hz) for 'female'."""
    rng = np.random.default_rng(seed)
    rows, audio = [], []
    for s in range(n_speakers):
        gender = "female" if s % 2 else "male"
        for i in range(clips_each):
            f0 = rng.uniform(200, 250) if gender == "female" else rng.uniform(110, 140)
            audio.append(harmonic_tone(f0, 1.0) + 0.01 * rng.standard_normal(16_000).astype(np.float32))
            rows.append((f"s{s}_{i}.wav", f"s{s}", gender, "synthetic", "en", i))
    clips = pd.DataFrame(rows, columns=["path", "speaker", "gender", "corpus", "language", "digit"])
    return clips, compute_features(np.stack(audio), FeatureConfig("logmel"))


SPLIT = {"train": [f"s{i}" for i in range(8)], "validation": ["s8", "s9"], "test": ["s10", "s11"]}


def test_estimator_follows_scikit_learn_conventions_and_learns():
    clips, features = _voices()
    y = (clips["gender"] == "female").to_numpy().astype(np.int64)
    net = make_estimator("default", lr=0.003, epochs=8, batch_size=8, device="cpu", seed=0)
    assert clone(net).get_params()["lr"] == 0.003
    net.fit(features, y)
    proba = net.predict_proba(features)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert (net.predict(features) == y).mean() >= 0.9


def test_same_seed_same_weights():
    clips, features = _voices(n_speakers=4, clips_each=2)
    y = (clips["gender"] == "female").to_numpy().astype(np.int64)
    first = make_estimator("seed", epochs=1, device="cpu", seed=3, n_features=40).fit(features, y)
    second = make_estimator("seed", epochs=1, device="cpu", seed=3, n_features=40).fit(features, y)
    np.testing.assert_array_equal(first.predict_proba(features), second.predict_proba(features))


def test_a_run_writes_a_complete_folder(tmp_path):
    clips, features = _voices()
    run = train_run(clips, features, SPLIT, model="default", epochs=3, batch_size=8, device="cpu", outputs_dir=tmp_path)
    assert run.path == tmp_path / "run_1"
    names = {p.name for p in run.path.iterdir()}
    assert names == {"hyperparams.yml", "history.csv", "accuracy.png", "loss.png", "model.pt", "model.onnx", "split.json", "metrics.json", "test_predictions.csv"}
    history = pd.read_csv(run.path / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3] and {"train_acc", "valid_acc", "train_loss", "valid_loss"} <= set(history)
    assert 0 <= run.metrics["test"]["balanced_accuracy"] <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_1"]  # no temporary folder left behind


def test_a_failed_run_leaves_no_folder(tmp_path, monkeypatch):
    clips, features = _voices(n_speakers=12, clips_each=1)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(train, "write_json", broken)
    with pytest.raises(OSError, match="disk full"):
        train_run(clips, features, SPLIT, model="default", epochs=1, device="cpu", outputs_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_split_that_shares_speakers_is_refused(tmp_path):
    clips, features = _voices(n_speakers=12, clips_each=1)
    with pytest.raises(ValueError, match="in both train and test"):
        train_run(clips, features, {**SPLIT, "test": ["s0"]}, epochs=1, device="cpu", outputs_dir=tmp_path)


def test_cosine_schedule_anneals_the_learning_rate_and_unknown_schedules_are_refused():
    clips, features = _voices()
    y = (clips["gender"] == "female").to_numpy().astype(np.int64)
    net = make_estimator("default", lr=0.01, epochs=4, batch_size=16, device="cpu", lr_schedule="cosine").fit(features, y)
    assert net.optimizer_.param_groups[0]["lr"] < 1e-6  # annealed to zero by the last epoch
    with pytest.raises(ValueError, match="lr_schedule"):
        make_estimator("default", lr_schedule="step")


def test_speaker_weights_make_every_speaker_count_once():
    from audiogender.train import speaker_weights

    weights = speaker_weights(["a", "a", "a", "b", "c", "c"])
    assert list(np.round(weights, 3)) == [0.333, 0.333, 0.333, 1.0, 0.5, 0.5] and weights.sum() == pytest.approx(3)


def test_calibration_sets_a_temperature_that_lowers_the_validation_log_loss():
    from audiogender.train import clip_windows, fit_temperature, predict_clips, window_logits

    clips, features = _voices()
    y = (clips["gender"] == "female").to_numpy().astype(np.int64)
    net = make_estimator("default", lr=0.003, epochs=6, batch_size=8, device="cpu").fit(features, y)
    rows = np.arange(len(y))
    before = predict_clips(net.module_, features, rows)
    temperature = fit_temperature(net.module_, features, rows, y, speakers=clips["speaker"].to_numpy())
    after = predict_clips(net.module_, features, rows)
    log_loss = lambda p: -np.mean(y * np.log(np.clip(p, 1e-6, 1)) + (1 - y) * np.log(np.clip(1 - p, 1e-6, 1)))  # noqa: E731
    assert float(net.module_.temperature) == pytest.approx(temperature) and log_loss(after) <= log_loss(before) + 1e-9
    assert ((after >= 0.5) == (before >= 0.5)).all()  # a temperature never changes a decision
    windows, owner = clip_windows(features, rows)
    assert window_logits(net.module_, windows).shape == (len(y), 2) and list(owner) == list(rows)


def test_calibration_sharpens_right_but_timid_log_odds_below_a_quarter():
    # log-odds of +-0.3 that are always right want a temperature far below 1 (the old grid stopped at 0.25)
    from audiogender.model import Calibrated
    from audiogender.train import TEMPERATURE_RANGE, fit_temperature

    class Timid(Calibrated):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(0.3))

        def logits(self, x):
            sign = x[:, 0, 0]  # +1 for female, -1 for male
            return torch.stack([-sign, sign], dim=1) * self.scale / 2

    y = np.array([0, 1] * 20)
    features = np.zeros((len(y), 4, 1), np.float32)
    features[:, 0, 0] = 2 * y - 1
    temperature = fit_temperature(Timid(), features, np.arange(len(y)), y)
    assert TEMPERATURE_RANGE[0] <= temperature < 0.1
