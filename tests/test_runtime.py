import subprocess
import sys

import pytest

import audiogender
from audiogender.predict import shipped_model_path
from audiogender.runtime import CnnNetwork, EncoderNetwork, ModelError, Network, load_network
from audiogender.shipped import DEFAULT_MODEL
from helpers import SAMPLES


def test_the_shipped_models_are_onnx_files_that_describe_themselves():
    network = audiogender.load_model(kind="cnn").network
    assert isinstance(network, CnnNetwork) and network.path == shipped_model_path("cnn") and network.features.kind == "logmel"
    assert network.source_sha256 and network.device == "cpu" and "cnn.onnx" in network.describe()
    default = audiogender.load_model().network  # the encoder: a head that names the encoder beneath it
    assert isinstance(default, EncoderNetwork) and default.path == shipped_model_path(DEFAULT_MODEL) == shipped_model_path("encoder")
    assert default.features.kind == "mel" and default.encoder.path.name == "ge2e.onnx" and default.source_sha256
    assert default.meta["recipe"]["name"] == "encoder" and "ge2e.onnx" in default.describe()
    assert isinstance(network, Network) and isinstance(default, Network)  # both meet the protocol prediction needs


def test_windows_padded_with_silence_start_from_the_state_after_it_and_embed_the_same():
    import numpy as np

    from audiogender.runtime import SILENCE_STEP_FRAMES, silent_frames

    encoder = audiogender.load_model(kind="encoder").network.encoder
    assert encoder.state_shape == (3, 256)  # the shipped export takes and gives its LSTM state
    rng = np.random.default_rng(0)
    windows = (rng.normal(size=(4, encoder.features.n_frames, encoder.features.n_features)) ** 2).astype(np.float32)
    for i, silent in enumerate((61, 70, 100, 45)):  # as stretch_windows pads short pieces: silence first
        windows[i, :silent] = 0
    assert silent_frames(windows) == 45 and silent_frames(windows[:0]) == 0 and silent_frames(np.zeros((1, 5, 40))) == 4
    zero = np.zeros((3, len(windows), 256), np.float32)
    heard_whole = encoder._run(windows, zero, zero)[0]  # every frame, from the LSTM's zero state
    np.testing.assert_allclose(encoder.embed(windows), heard_whole, atol=1e-6)
    assert set(encoder._after_silence) >= {45 // SILENCE_STEP_FRAMES * SILENCE_STEP_FRAMES}
    np.testing.assert_allclose(encoder.embed(windows[2:3]), heard_whole[2:3], atol=1e-6)  # alone: all 100 silent frames skipped
    assert encoder.embed(windows[:0]).shape == (0, 256)


def test_a_model_is_named_by_its_onnx_file_its_checkpoint_or_its_run_folder(tmp_path):
    import shutil

    shutil.copy(shipped_model_path("cnn"), tmp_path / "model.onnx")
    shutil.copy(shipped_model_path("cnn").with_suffix(".pt"), tmp_path / "model.pt")
    for name in (tmp_path, tmp_path / "model.pt", tmp_path / "model.onnx"):
        assert load_network(name).path == tmp_path / "model.onnx"


def test_missing_unreadable_twinless_and_stale_models_are_refused_clearly(tmp_path):
    import shutil

    with pytest.raises(ModelError, match="no such model file"):
        audiogender.load_model(tmp_path / "nothing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a network")
    with pytest.raises(ModelError, match="not a model audiogender can run"):
        audiogender.load_model(tmp_path / "junk.onnx")
    shutil.copy(shipped_model_path("cnn").with_suffix(".pt"), tmp_path / "model.pt")
    with pytest.raises(ModelError, match="has no ONNX twin"):
        audiogender.load_model(tmp_path / "model.pt")
    shutil.copy(shipped_model_path("cnn"), tmp_path / "model.onnx")
    (tmp_path / "model.pt").write_bytes((tmp_path / "model.pt").read_bytes() + b"\0")  # other weights than the twin's
    with pytest.raises(ModelError, match="exported from other weights"):
        audiogender.load_model(tmp_path / "model.pt")


def test_classifying_a_file_imports_neither_torch_nor_the_lab():
    code = (
        "import sys, audiogender.cli; m = audiogender.load_model(); "
        f"p = m.predict({str(SAMPLES / 'p260_00000.mp3')!r}); "
        "assert p.label == 'male', p; "
        "heavy = sorted(n for n in sys.modules if n.split('.')[0] in ('torch', 'sklearn', 'pandas', 'librosa', 'skorch') or n == 'audiogender.lab' or n.startswith('audiogender.lab.')); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
