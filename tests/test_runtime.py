import subprocess
import sys

import numpy as np
import pytest

import audiogender
from audiogender import load_audio
from audiogender.audio import prepare_clip
from audiogender.features import compute_features
from audiogender.runtime import OnnxNetwork, onnx_twin, shipped_model_path
from helpers import SAMPLES


def test_the_shipped_twin_is_exported_from_the_shipped_weights():
    twin = onnx_twin(shipped_model_path())
    assert isinstance(twin, OnnxNetwork) and twin.features.kind == "logmel"
    assert audiogender.load_model().network.path == audiogender.load_model(device="cpu").network.path == twin.path


def test_onnx_and_torch_give_the_same_log_odds():
    onnx_model = audiogender.load_model()
    pytest.importorskip("torch")
    from audiogender.model import TorchNetwork, load_checkpoint

    network, features, _ = load_checkpoint()
    torch_network = TorchNetwork(network, "cpu")
    clips = [prepare_clip(load_audio(p)) for p in sorted(SAMPLES.glob("*.wav"))]
    windows = compute_features(np.stack(clips), features)
    longer = compute_features(np.concatenate(clips[:3])[None], features)  # any number of frames
    for batch in (windows, longer):
        np.testing.assert_allclose(onnx_model.network.log_odds(batch), torch_network.log_odds(batch), atol=1e-5)


def test_a_stale_twin_is_not_used(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from audiogender.model import build_model, save_checkpoint

    network = build_model("default")
    save_checkpoint(tmp_path / "model.pt", network, "default", audiogender.FeatureConfig("logmel"), note="first")
    assert (tmp_path / "model.onnx").exists()
    loaded = audiogender.load_model(tmp_path)
    assert isinstance(loaded.network, OnnxNetwork) and loaded.meta == {"note": "first"}
    with torch.no_grad():
        network.classifier[-1].bias.add_(1.0)
    save_checkpoint(tmp_path / "model.pt", network, "default", audiogender.FeatureConfig("logmel"), onnx=False)
    assert onnx_twin(tmp_path / "model.pt") is None  # the twin still holds the first weights
    assert type(audiogender.load_model(tmp_path).network).__name__ == "TorchNetwork"


def test_classifying_a_file_never_imports_torch():
    code = (
        "import sys, audiogender; m = audiogender.load_model(); "
        f"p = m.predict({str(SAMPLES / 'p260_00000.mp3')!r}); "
        "assert p.label == 'male', p; assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
