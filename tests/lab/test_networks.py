import re

import numpy as np
import pytest
import torch
from torch import nn

import audiogender
from audiogender import load_audio
from audiogender.features import FeatureConfig, compute_features
from audiogender.lab.clips import prepare_clip
from audiogender.lab.device import pick_device
from audiogender.lab.networks import GenderCNN, SeedCNN, TorchNetwork, build_network, export_twin, load_checkpoint, save_checkpoint
from audiogender.runtime import ModelError
from helpers import SAMPLES


def test_seed_cnn_is_the_seeds_layers():
    layers = [m for m in SeedCNN().modules() if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.Linear, nn.ReLU))]
    described = [
        (type(m).__name__, getattr(m, "out_channels", getattr(m, "out_features", None))) for m in layers
    ]
    assert described == [
        ("Conv2d", 32), ("ReLU", None), ("MaxPool2d", None), ("Conv2d", 64), ("ReLU", None), ("MaxPool2d", None),
        ("Linear", 128), ("ReLU", None), ("Linear", 2),
    ]  # fmt: skip
    assert all(m.kernel_size == (3, 3) for m in layers if isinstance(m, nn.Conv2d))
    assert SeedCNN()(torch.randn(5, 98, 12)).shape == (5, 2)


def test_default_cnn_reads_clips_of_any_length():
    network = GenderCNN().eval()
    for frames in (40, 98, 500):
        assert network(torch.randn(2, frames, 40)).shape == (2, 2)


def test_checkpoint_round_trip_gives_the_same_outputs(tmp_path):
    network = build_network("gender-cnn", 40).eval()
    network.standardize.mean.fill_(3.0)
    save_checkpoint(tmp_path / "model.pt", network, "gender-cnn", FeatureConfig("logmel"), note="x")
    loaded, features, meta = load_checkpoint(tmp_path)
    x = torch.randn(3, 98, 40)
    torch.testing.assert_close(loaded(x), network(x))
    assert features == FeatureConfig("logmel") and meta == {"note": "x"}


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown network"):
        build_network("resnet", 40)


def test_device_helper():
    assert pick_device("auto") in ("cuda", "mps", "cpu")
    assert pick_device("cpu") == pick_device("CPU") == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            pick_device("cuda")


def test_the_model_card_ships_with_the_package():
    import audiogender

    card = audiogender.model_card()
    assert "## Intended use" in card and "## Limitations" in card and not re.search(r"__[A-Z_]+__", card)  # every figure filled in


def test_the_shipped_checkpoint_and_its_onnx_twin_give_the_same_log_odds():
    onnx_model = audiogender.load_model(kind="cnn")
    network, features, _ = load_checkpoint()  # the shipped cnn.pt
    assert features == onnx_model.features
    torch_network = TorchNetwork(network, features, "cpu")
    clips = [prepare_clip(load_audio(p)) for p in sorted(SAMPLES.glob("*.wav"))]
    windows = compute_features(np.stack(clips), features)
    longer = compute_features(np.concatenate(clips[:3])[None], features)  # any number of frames
    for batch in (windows, longer):
        np.testing.assert_allclose(onnx_model.network.log_odds(batch), torch_network.log_odds(batch), atol=1e-5)


def test_a_stale_twin_is_refused_until_exported_again(tmp_path):
    network = build_network("gender-cnn", 40)
    save_checkpoint(tmp_path / "model.pt", network, "gender-cnn", FeatureConfig("logmel"), note="first")
    loaded = audiogender.load_model(tmp_path)
    assert loaded.meta == {"note": "first"}
    with torch.no_grad():
        network.classifier[-1].bias.add_(1.0)
    save_checkpoint(tmp_path / "model.pt", network, "gender-cnn", FeatureConfig("logmel"), onnx=False, note="second")
    with pytest.raises(ModelError, match="other weights"):
        audiogender.load_model(tmp_path / "model.pt")  # the twin still holds the first weights
    assert export_twin(tmp_path / "model.pt") == tmp_path / "model.onnx"
    assert audiogender.load_model(tmp_path / "model.pt").meta == {"note": "second"}


def test_a_checkpoint_keeps_its_network_options_and_exports(tmp_path):
    network = GenderCNN(n_features=40, width=32, dropout=0.3).eval()  # as -y 'overrides: {width: 32}' trains it
    save_checkpoint(tmp_path / "model.pt", network, "gender-cnn", FeatureConfig("logmel"), {"width": 32, "dropout": 0.3}, onnx=False)
    loaded, _, _ = load_checkpoint(tmp_path / "model.pt")
    x = torch.randn(2, 98, 40)
    np.testing.assert_allclose(loaded(x).detach().numpy(), network(x).detach().numpy(), atol=1e-5)
    export_twin(tmp_path / "model.pt")
    onnx_model = audiogender.load_model(tmp_path / "model.pt")
    assert isinstance(TorchNetwork(network, FeatureConfig("logmel"), "cpu"), audiogender.Network)  # what the lab scores meets prediction's protocol
    np.testing.assert_allclose(onnx_model.network.log_odds(x.numpy()), TorchNetwork(network, FeatureConfig("logmel"), "cpu").log_odds(x.numpy()), atol=1e-4)
