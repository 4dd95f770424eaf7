import pytest
import torch
from torch import nn

from audiogender.device import pick_device
from audiogender.features import FeatureConfig
from audiogender.model import GenderCNN, SeedCNN, build_model, load_checkpoint, save_checkpoint


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
    network = build_model("default").eval()
    network.standardize.mean.fill_(3.0)
    save_checkpoint(tmp_path / "model.pt", network, "default", FeatureConfig("logmel"), note="x")
    loaded, features, meta = load_checkpoint(tmp_path)
    x = torch.randn(3, 98, 40)
    torch.testing.assert_close(loaded(x), network(x))
    assert features == FeatureConfig("logmel") and meta == {"note": "x"}


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet")


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
    assert "## Intended use" in card and "## Limitations" in card and "CV_RESULTS" not in card
