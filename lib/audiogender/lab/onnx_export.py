"""Writing a torch network as ONNX, the one way every network of the lab is exported.

Prediction runs the ONNX file without torch (``audiogender.runtime``). The file's
metadata says what the network reads (``features``), what it was trained on
(``meta``) and the checkpoint it came from (``runtime.SOURCE_KEY``), so it
describes itself and a twin left behind by other weights is refused.
"""

from __future__ import annotations

import io
import json
import os
import warnings

import torch
from torch import nn

from ..features import FeatureConfig
from ..files import atomic_file
from ..runtime import SOURCE_KEY, file_sha256


def onnx_bytes(module: nn.Module, example: torch.Tensor, input_name: str, output_name: str, varying: dict[int, str]) -> bytes:
    """``module`` (in eval mode) as ONNX bytes; ``varying`` names the axes of input and output that may change size."""
    output_axes = {axis: name for axis, name in varying.items() if axis == 0}  # only the batch passes through to the output
    return onnx_graph_bytes(module, (example,), [input_name], [output_name], {input_name: varying, output_name: output_axes})


def onnx_graph_bytes(module: nn.Module, examples: tuple, inputs: list[str], outputs: list[str], varying: dict[str, dict[int, str]]) -> bytes:
    """``module`` (in eval mode) of several named inputs and outputs as ONNX bytes; ``varying``: each one's axes that may change size."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated, but needs no onnxscript
        warnings.simplefilter("ignore")
        torch.onnx.export(module.cpu().eval(), examples, buffer, input_names=inputs, output_names=outputs, dynamic_axes=varying, dynamo=False)
    return buffer.getvalue()


def describe(features: FeatureConfig, meta: dict | None = None, source: str | os.PathLike | None = None, **more: str) -> dict[str, str]:
    """The metadata of an exported network: its features, ``meta``, the SHA-256 of its ``source`` checkpoint, and ``more``."""
    metadata = {"features": json.dumps(features.to_dict()), "meta": json.dumps(meta or {}, default=str), **more}
    if source is not None:
        metadata[SOURCE_KEY] = file_sha256(source)
    return metadata


def with_metadata(model: bytes, metadata: dict[str, str]) -> bytes:
    """ONNX bytes with ``metadata`` added to the file's own."""
    import onnx

    proto = onnx.load_from_string(model)
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    return proto.SerializeToString()


def write_onnx(path: str | os.PathLike, model: bytes) -> None:
    """Write ONNX bytes whole or not at all."""
    with atomic_file(path, "wb") as f:
        f.write(model)
