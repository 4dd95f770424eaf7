import numpy as np
import pandas as pd
import torch

from audiogender.lab.evaluate import speaker_bootstrap
from audiogender.lab.listening import LRP, MAP, agreement, band_shares, integrated_gradients, lrp
from audiogender.lab.networks import GenderCNN


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


def test_lrp_through_the_cnn_is_the_gradient_times_the_distance_from_the_training_mean():
    """For a ReLU network (max-pooling, batch norm folded), LRP's epsilon rule is the gradient times the input
    (Ancona et al. 2018); here the input is standardised, so the reference is the training mean."""
    torch.manual_seed(0)
    network = GenderCNN(width=4)
    for norm in (m for m in network.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        norm.running_mean.uniform_(-0.5, 0.5), norm.running_var.uniform_(0.5, 2.0), norm.weight.data.uniform_(0.5, 1.5)
    network.standardize.mean.fill_(-40.0), network.standardize.scale.fill_(10.0)
    network.eval()
    windows = np.random.default_rng(0).normal(-40, 10, (2, 98, 40)).astype(np.float32)
    relevance = lrp(network, windows, sign=-1.0)
    x = torch.as_tensor(windows).requires_grad_(True)
    logits = network.logits(x)
    (gradient,) = torch.autograd.grad(-(logits[:, 1] - logits[:, 0]).sum(), x)
    expected = (gradient * (x - network.standardize.mean)).detach().numpy()
    assert relevance.shape == windows.shape
    np.testing.assert_allclose(relevance, expected, atol=1e-2 * np.abs(expected).max())
    assert np.corrcoef(relevance.ravel(), expected.ravel())[0, 1] > 0.999


def test_band_shares_count_only_what_spoke_for_the_answer_and_two_identical_maps_agree():
    relevance = np.array([[1.0, -5.0], [3.0, 0.0], [-1.0, -1.0]])
    np.testing.assert_allclose(band_shares(relevance), [0.25, 0.75, 0.0])
    shares = np.random.default_rng(1).random(40)
    rows = [("a.wav", m, "cnn", "male", "calm", hz, s) for m in (MAP, LRP) for hz, s in zip(np.geomspace(60, 7000, 40), shares)]
    rows += [("b.wav", m, "cnn", "male", "calm", hz, s) for m in (MAP, LRP) for hz, s in zip(np.geomspace(60, 7000, 40), shares[:: 1 if m == MAP else -1])]
    found = agreement(pd.DataFrame(rows, columns=["path", "method", "model", "gender", "state", "band_hz", "share"])).set_index("path")
    assert found.loc["a.wav", "spearman"] == 1.0 and found.loc["a.wav", ["same_top_group", "same_top_range"]].all()
    assert found.loc["b.wav", "spearman"] < 0


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
