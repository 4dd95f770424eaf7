import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
import torch

import audiogender
from audiogender.features import compute_features
from audiogender.lab.base import TrainedInEpochs, TrainedModel
from audiogender.lab.corpora import read_corpora
from audiogender.lab.ge2e import EMBEDDING_SIZE, ENCODER_FEATURES, load_ge2e, resemblyzer_weights, shipped_encoder
from audiogender.lab.head import EncoderRecipe, TrainedHead
from audiogender.lab.recipes import RECIPES, get_recipe, recipe_from_dict
from audiogender.lab.splits import role_masks
from audiogender.runtime import EncoderNetwork, file_sha256, unit_mean
from audiogender.shipped import GE2E_FILE, asset_path
from audiogender.windows import voiced_block
from helpers import SAMPLES

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("resemblyzer") is None, reason="the encoder's weights come from the resemblyzer wheel (make install installs it)"
)


def test_the_shipped_encoder_is_resemblyzers_ge2e_in_onnx():
    onnx_encoder = shipped_encoder()
    assert onnx_encoder.features == ENCODER_FEATURES and onnx_encoder.weights_sha256 == file_sha256(resemblyzer_weights())
    n = ENCODER_FEATURES.window_samples
    windows = [np.pad(audiogender.load_audio(p)[:n], (0, max(0, n - audiogender.load_audio(p).size))) for p in sorted(SAMPLES.glob("*.wav"))]
    mels = compute_features(np.stack(windows), ENCODER_FEATURES)
    with torch.no_grad():
        expected = load_ge2e()(torch.as_tensor(mels)).numpy()
    got = onnx_encoder.embed(mels)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    padded = compute_features(np.stack([np.pad(w[: n // 3], (n - n // 3, 0)) for w in windows]), ENCODER_FEATURES)  # silence first
    with torch.no_grad():
        np.testing.assert_allclose(onnx_encoder.embed(padded), load_ge2e()(torch.as_tensor(padded)).numpy(), atol=1e-5)


def test_an_encoder_exported_without_its_state_embeds_the_same(tmp_path):
    from audiogender.lab.onnx_export import onnx_bytes, with_metadata
    from audiogender.runtime import OnnxFile, SpeakerEncoder

    stateless = onnx_bytes(load_ge2e(), torch.rand(2, ENCODER_FEATURES.n_frames, ENCODER_FEATURES.n_mels), "features", "embedding", {0: "windows", 1: "frames"})
    (tmp_path / "ge2e.onnx").write_bytes(with_metadata(stateless, {"features": json.dumps(ENCODER_FEATURES.to_dict())}))
    old = SpeakerEncoder(OnnxFile(tmp_path / "ge2e.onnx"))
    assert old.state_shape is None
    mels = np.abs(np.random.default_rng(1).normal(size=(3, ENCODER_FEATURES.n_frames, ENCODER_FEATURES.n_mels))).astype(np.float32)
    mels[:, :50] = 0
    np.testing.assert_allclose(old.embed(mels), shipped_encoder().embed(mels), atol=1e-5)


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    clips = read_corpora([SAMPLES])
    recipe = get_recipe("encoder", C=1.0)
    return clips, recipe, recipe.training_data(clips, tmp_path_factory.mktemp("cache"), progress=False)


def test_embeddings_are_what_prediction_computes(voices):
    clips, recipe, data = voices
    assert data.embeddings.shape == (len(clips), 1, EMBEDDING_SIZE) and data.voiced.all()
    path = clips["path"].iloc[0]
    block = voiced_block(audiogender.load_audio(path), ENCODER_FEATURES, whole=True)  # a whole recording, as prediction reads it
    windows = shipped_encoder().embed(block.features)
    np.testing.assert_allclose(data.embeddings[0, 0], unit_mean(windows), atol=1e-5)


def test_a_head_trains_saves_and_predicts_as_audiogender_predict_does(voices, tmp_path):
    clips, recipe, data = voices
    everyone = {"train": list(clips["speaker"].unique()), "validation": [], "test": []}
    head = recipe.fit(data, clips, role_masks(clips, everyone))
    assert isinstance(head, TrainedModel) and not isinstance(head, TrainedInEpochs)  # fitted in one step: no learning curves
    p, silent = head.score_clips(clips, data, np.ones(len(clips), bool))
    assert ((p >= 0.5) == (clips["gender"] == "female")).mean() >= 0.9 and not silent.any()
    head.save(tmp_path / "model.pt", note="x")
    model = audiogender.load_model(tmp_path)
    assert isinstance(model.network, EncoderNetwork) and model.meta["note"] == "x" and model.meta["recipe"]["name"] == "encoder"
    answers = list(model.predict_files(clips["path"]))
    np.testing.assert_allclose([a.p_female for a in answers], p, atol=1e-3)  # the pooled embedding, judged by the head
    timeline = model.segment(SAMPLES / "3436-172162-0000.ogg")
    assert len(timeline.segments) >= 3 and timeline.prediction.label in ("male", "female")


def test_the_encoder_recipe_is_named_once_and_round_trips():
    recipe = RECIPES["encoder"]
    assert isinstance(recipe, EncoderRecipe) and recipe.features == ENCODER_FEATURES and recipe.uses_validation
    changed = get_recipe("encoder", n_views=3, augment={"p_pitch": 0.6})
    assert recipe_from_dict(json.loads(json.dumps(changed.to_dict()))) == changed
    with pytest.raises(ValueError, match="unknown encoder recipe settings"):
        get_recipe("encoder", epochs=3)


def test_a_head_calibrates_on_validation_speakers():
    clips = pd.DataFrame({"speaker": list("abcdef"), "gender": ["male", "female"] * 3, "source": "x", "path": list("abcdef")})

    class Data:
        embeddings = np.stack([np.eye(EMBEDDING_SIZE)[0] * (1 if g == "female" else -1) for g in clips["gender"]])[:, None].astype(np.float32)

        def training_set(self, rows, y, random_state=0, weight=None):
            return self.embeddings[rows, 0], y[rows], weight[rows]

        def windows(self, rows):
            return self.embeddings[rows, 0], np.arange(int(np.sum(rows)))

    masks = {"train": np.array([1, 1, 1, 1, 0, 0], bool), "validation": np.array([0, 0, 0, 0, 1, 1], bool), "test": np.zeros(6, bool)}
    head = EncoderRecipe(C=0.01).fit(Data(), clips, masks)
    assert isinstance(head, TrainedHead) and head.temperature < 1.0  # right but timid: sharpened


def test_a_head_runs_on_the_very_encoder_it_was_trained_on(tmp_path):
    import shutil

    head = TrainedHead(EncoderRecipe(), np.ones(EMBEDDING_SIZE, np.float32), 0.0)
    head.save(tmp_path / "model.pt")
    (tmp_path / "ge2e.onnx").write_bytes(b"another encoder, or none")  # beside the head, but not its encoder
    model = audiogender.load_model(tmp_path)
    assert model.network.encoder.path == asset_path(GE2E_FILE)
    shutil.copy(asset_path(GE2E_FILE), tmp_path / "ge2e.onnx")
    assert audiogender.load_model(tmp_path).network.encoder.path == tmp_path / "ge2e.onnx"
