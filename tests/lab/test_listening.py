import numpy as np
import pandas as pd
import torch

from audiogender.lab.evaluate import speaker_bootstrap
from audiogender.lab.listening import agreement, band_shares, integrated_gradients


def test_integrated_gradients_sum_to_the_change_from_silence():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6 * 4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    windows = np.random.default_rng(0).normal(size=(3, 6, 4)).astype(np.float32)
    relevance = integrated_gradients(module, windows, sign=1.0, steps=64)
    x = torch.as_tensor(windows)
    with torch.no_grad():
        log_odds = lambda t: (module(t)[:, 1] - module(t)[:, 0]).mean()  # noqa: E731
        change = log_odds(x) - log_odds(x.amin(dim=(1, 2), keepdim=True).expand_as(x))
    assert relevance.shape == windows.shape
    assert abs(relevance.sum() - float(change)) < 0.01 * max(1.0, abs(float(change)))


def test_band_shares_count_only_what_spoke_for_the_answer_and_two_identical_maps_agree():
    relevance = np.array([[1.0, -5.0], [3.0, 0.0], [-1.0, -1.0]])
    np.testing.assert_allclose(band_shares(relevance), [0.25, 0.75, 0.0])
    shares = np.random.default_rng(1).random(40)
    rows = [("a.wav", m, "cnn", hz, s) for m in ("occlusion", "integrated gradients") for hz, s in zip(np.geomspace(60, 7000, 40), shares)]
    found = agreement(pd.DataFrame(rows, columns=["path", "method", "model", "band_hz", "share"]))
    assert found["spearman"].iloc[0] == 1.0 and found["same_top_range"].iloc[0]


def test_intervals_from_resampling_speakers_hold_the_figure_and_narrow_with_more_speakers():
    rng = np.random.default_rng(0)

    def folder(name, speakers):
        rows = []
        for s in range(speakers):
            gender, skill = ("female", "male")[s % 2], rng.uniform(0.6, 1.0)
            truth = gender == "female"
            rows += [(name, f"{name}{s}", gender, float(truth == (rng.random() < skill))) for _ in range(20)]
        return pd.DataFrame(rows, columns=["source", "speaker", "gender", "p_female"]).assign(method="m")

    found = speaker_bootstrap(pd.concat([folder("small", 8), folder("large", 200)])).set_index("source")
    assert ((found["low"] <= found["balanced_accuracy"]) & (found["balanced_accuracy"] <= found["high"])).all()
    width = found["high"] - found["low"]
    assert width["small"] > 2 * width["large"]
