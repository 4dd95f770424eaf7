import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from audiogender.features import FeatureConfig, compute_features
from audiogender.lab import train
from audiogender.lab.datasets import ClipFeatures
from audiogender.lab.recipes import get_recipe
from audiogender.lab.train import train_run
from helpers import harmonic_tone


def _voices(n_speakers=12, clips_each=4, random_state=0):
    """Low buzzes (110-140 Hz) for 'male' speakers, high ones (200-250 Hz) for 'female'."""
    rng = np.random.default_rng(random_state)
    rows, audio = [], []
    for s in range(n_speakers):
        gender = "female" if s % 2 else "male"
        for i in range(clips_each):
            f0 = rng.uniform(200, 250) if gender == "female" else rng.uniform(110, 140)
            audio.append(harmonic_tone(f0, 1.0) + 0.01 * rng.standard_normal(16_000).astype(np.float32))
            rows.append((f"s{s}_{i}.wav", f"s{s}", gender, "synthetic", "en", i))
    clips = pd.DataFrame(rows, columns=["path", "speaker", "gender", "corpus", "language", "digit"])
    return clips, ClipFeatures(compute_features(np.stack(audio), FeatureConfig("logmel")))


def _recipe(name="default", **changes):
    """A recipe that trains on fixed clips (the synthetic voices have no files to crop)."""
    return get_recipe(name, crops=False, **changes)


SPLIT = {"train": [f"s{i}" for i in range(8)], "validation": ["s8", "s9"], "test": ["s10", "s11"]}


def test_estimator_follows_scikit_learn_conventions_and_learns():
    clips, data = _voices()
    y = (clips["gender"] == "female").to_numpy().astype(np.int64)
    net = _recipe(lr=0.003, epochs=8, batch_size=8, lr_schedule=None).estimator(data.n_features, "cpu")
    assert clone(net).get_params()["lr"] == 0.003
    net.fit(data.features, y)  # plain arrays, as GridSearchCV gives them
    proba = net.predict_proba(data.features)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert (net.predict(data.features) == y).mean() >= 0.9


def test_same_random_state_same_weights():
    clips, data = _voices(n_speakers=4, clips_each=2)
    y = (clips["gender"] == "female").to_numpy().astype(np.int64)
    first = get_recipe("seed", epochs=1).estimator(40, "cpu", random_state=3).fit(data.features, y)
    second = get_recipe("seed", epochs=1).estimator(40, "cpu", random_state=3).fit(data.features, y)
    np.testing.assert_array_equal(first.predict_proba(data.features), second.predict_proba(data.features))


def test_a_run_writes_a_complete_folder_that_records_its_whole_recipe(tmp_path):
    import yaml

    from audiogender.lab.recipes import recipe_from_dict

    clips, data = _voices()
    recipe = _recipe(epochs=3, batch_size=8)
    run = train_run(clips, recipe, SPLIT, data=data, device="cpu", outputs_dir=tmp_path, progress=False)
    assert run.path == tmp_path / "run_1"
    names = {p.name for p in run.path.iterdir()}
    assert names == {"settings.yml", "history.csv", "accuracy.png", "loss.png", "model.pt", "model.onnx", "split.json", "metrics.json", "test_predictions.csv"}
    assert recipe_from_dict(yaml.safe_load((run.path / "settings.yml").read_text())["recipe"]) == recipe
    assert 0 < run.metrics["temperature"]  # the default recipe calibrates on the validation speakers
    history = pd.read_csv(run.path / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3] and {"train_acc", "valid_acc", "train_loss", "valid_loss"} <= set(history)
    assert 0 <= run.metrics["test"]["balanced_accuracy"] <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_1"]  # no temporary folder left behind


def test_a_failed_run_leaves_no_folder(tmp_path, monkeypatch):
    clips, data = _voices(n_speakers=12, clips_each=1)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(train, "write_json", broken)
    with pytest.raises(OSError, match="disk full"):
        train_run(clips, _recipe(epochs=1), SPLIT, data=data, device="cpu", outputs_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_split_that_shares_speakers_is_refused(tmp_path):
    clips, data = _voices(n_speakers=12, clips_each=1)
    with pytest.raises(ValueError, match="in both train and test"):
        train_run(clips, _recipe(epochs=1), {**SPLIT, "test": ["s0"]}, data=data, device="cpu", outputs_dir=tmp_path)


def test_cosine_schedule_anneals_the_learning_rate_over_however_many_epochs_run():
    clips, data = _voices()
    y = (clips["gender"] == "female").to_numpy().astype(np.int64)
    net = _recipe(lr=0.01, epochs=4, batch_size=16).estimator(data.n_features, "cpu")
    net.set_params(max_epochs=3)  # as a grid search sets it: the schedule follows
    net.fit(data.features, y)
    assert len(net.history) == 3 and net.optimizer_.param_groups[0]["lr"] < 1e-6  # annealed to zero by the last epoch


def test_speaker_weights_make_every_speaker_count_once():
    from audiogender.lab.calibrate import speaker_weights

    weights = speaker_weights(["a", "a", "a", "b", "c", "c"])
    assert list(np.round(weights, 3)) == [0.333, 0.333, 0.333, 1.0, 0.5, 0.5] and weights.sum() == pytest.approx(3)


def test_calibration_sets_a_temperature_that_lowers_the_validation_log_loss():
    from audiogender.lab.calibrate import fit_temperature, predict_clips, window_logits

    clips, data = _voices()
    y = (clips["gender"] == "female").to_numpy().astype(np.int64)
    net = _recipe(lr=0.003, epochs=6, batch_size=8, lr_schedule=None).estimator(data.n_features, "cpu").fit(data.features, y)
    rows = np.arange(len(y))
    before = predict_clips(net.module_, data, rows)
    temperature = fit_temperature(net.module_, data, rows, y, speakers=clips["speaker"].to_numpy())
    after = predict_clips(net.module_, data, rows)
    log_loss = lambda p: -np.mean(y * np.log(np.clip(p, 1e-6, 1)) + (1 - y) * np.log(np.clip(1 - p, 1e-6, 1)))  # noqa: E731
    assert float(net.module_.temperature) == pytest.approx(temperature) and log_loss(after) <= log_loss(before) + 1e-9
    assert ((after >= 0.5) == (before >= 0.5)).all()  # a temperature never changes a decision
    windows, owner = data.windows(rows)
    assert window_logits(net.module_, windows).shape == (len(y), 2) and list(owner) == list(rows)


def test_calibration_sharpens_right_but_timid_log_odds_below_a_quarter():
    # log-odds of +-0.3 that are always right want a temperature far below 1 (the old grid stopped at 0.25)
    from audiogender.lab.calibrate import TEMPERATURE_RANGE, fit_temperature
    from audiogender.lab.networks import Calibrated

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
    temperature = fit_temperature(Timid(), ClipFeatures(features), np.arange(len(y)), y)
    assert TEMPERATURE_RANGE[0] <= temperature < 0.1
