"""The pretrained speaker encoder: Resemblyzer's GE2E network, frozen, and its ONNX export.

GE2E (Wan et al. 2018) as trained by Resemble AI on about 8,000 speakers of
LibriSpeech and VoxCeleb 1 and 2: a 3-layer LSTM (256 units) over 40 mel bands of
1.6 s windows, its last state through a dense layer and a ReLU, scaled to unit
length: a 256-dimensional embedding of who is speaking, which knows what a vocal
tract sounds like far better than a CNN trained on a few hundred voices. Its
weights come from the ``resemblyzer`` wheel on PyPI (Apache-2.0; see NOTICE.md),
read directly from the file, so neither that package nor its dependencies are
imported. The product runs the ONNX export (``assets/ge2e.onnx``) without torch.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import torch
from torch import nn

from ..features import FeatureConfig
from ..runtime import STATE_INPUTS, STATE_OUTPUTS, WEIGHTS_KEY, OnnxFile, SpeakerEncoder, file_sha256
from ..shipped import GE2E_FILE, asset_path
from .onnx_export import describe, onnx_graph_bytes, with_metadata, write_onnx

# Resemblyzer's partials: 160 centred frames (1.6 s; 25,440 samples give 160 frames), 1.3 partials a second
# shorter pieces end their window (left-padded): the LSTM's last state then follows speech, not silence
# (leave-one-corpus-out, logistic head: audiomnist-az 0.907 -> 0.921, ukrainian-digits 0.926 -> 0.944)
ENCODER_FEATURES = FeatureConfig("mel", n_mels=40, window_seconds=1.59, hop_seconds=0.77, pad_start=True)
EMBEDDING_SIZE = 256
HIDDEN_SIZE = 256
LAYERS = 3


class GE2E(nn.Module):
    """Resemblyzer's VoiceEncoder, layer for layer: (windows, 160, 40) mel power -> (windows, 256) unit embeddings."""

    def __init__(self, n_mels: int = ENCODER_FEATURES.n_mels, hidden: int = HIDDEN_SIZE, layers: int = LAYERS, size: int = EMBEDDING_SIZE):
        super().__init__()
        self.lstm = nn.LSTM(n_mels, hidden, layers, batch_first=True)
        self.linear = nn.Linear(hidden, size)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        return self.embedding(hidden[-1])

    def embedding(self, last: torch.Tensor) -> torch.Tensor:
        """The unit embedding of the LSTM's last state."""
        embedding = torch.relu(self.linear(last))
        return embedding / torch.norm(embedding, dim=1, keepdim=True).clamp_min(1e-12)


class GE2EFromState(nn.Module):
    """GE2E as exported: it starts from the LSTM state it is given and also gives the state it ends in, so prediction
    can start a window padded with silence from the state after that silence (``runtime.SpeakerEncoder``)."""

    def __init__(self, ge2e: GE2E):
        super().__init__()
        self.ge2e = ge2e

    def forward(self, mels: torch.Tensor, hidden: torch.Tensor, cell: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        _, (hidden, cell) = self.ge2e.lstm(mels, (hidden, cell))
        return self.ge2e.embedding(hidden[-1]), hidden, cell


def resemblyzer_weights() -> Path:
    """``pretrained.pt`` inside the installed resemblyzer wheel, found without importing the package."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("resemblyzer is not installed: pip install --no-deps resemblyzer (make install does)")
    return Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"


def load_ge2e(weights: str | os.PathLike | None = None) -> GE2E:
    """The GE2E network with Resemblyzer's weights, in eval mode."""
    weights = Path(weights) if weights else resemblyzer_weights()
    checkpoint = torch.load(weights, map_location="cpu", weights_only=False)  # a plain dict of tensors and a step count
    network = GE2E()
    state = {k: v for k, v in checkpoint["model_state"].items() if k.startswith(("lstm.", "linear."))}  # not the GE2E loss's scale
    network.load_state_dict(state)
    return network.eval()


def export_ge2e(path: str | os.PathLike | None = None, weights: str | os.PathLike | None = None) -> Path:
    """Write the GE2E encoder as ONNX (default: the package's ``assets/ge2e.onnx``), recording where its weights came from."""
    weights = Path(weights) if weights else resemblyzer_weights()
    path = Path(path) if path else asset_path(GE2E_FILE)
    state = torch.zeros(LAYERS, 2, HIDDEN_SIZE)
    example = (torch.rand(2, ENCODER_FEATURES.n_frames, ENCODER_FEATURES.n_mels), state, state)
    varying = {"features": {0: "windows", 1: "frames"}, "embedding": {0: "windows"}, **{name: {1: "windows"} for name in STATE_INPUTS + STATE_OUTPUTS}}
    model = onnx_graph_bytes(GE2EFromState(load_ge2e(weights)), example, ["features", *STATE_INPUTS], ["embedding", *STATE_OUTPUTS], varying)
    meta = {"network": "GE2E speaker encoder (Wan et al. 2018), weights of Resemblyzer 0.1.4 (Resemble AI, Apache-2.0)", WEIGHTS_KEY: file_sha256(weights)}
    write_onnx(path, with_metadata(model, describe(ENCODER_FEATURES, meta)))
    return path


def shipped_encoder(threads: int | None = None) -> SpeakerEncoder:
    """The GE2E encoder the package ships, as prediction runs it."""
    return SpeakerEncoder(OnnxFile(asset_path(GE2E_FILE), threads))


def shipped_encoder_weights() -> str:
    """The SHA-256 of the weights the package's ``ge2e.onnx`` was exported from (its own metadata says)."""
    return shipped_encoder(1).weights_sha256
