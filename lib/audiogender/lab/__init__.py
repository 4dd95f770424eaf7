"""The lab: everything that makes and measures a model. ``audiogender predict`` never imports it.

Where things are:

* the recipes, each defined once by name (``seed``, ``default``, ``distilled``, ``encoder``): ``recipes``
* the networks (the seed's CNN, ours), checkpoints and ONNX export: ``networks``
* the pretrained speaker encoder and its head: ``encoder``; its embeddings: ``embeddings``;
  the encoder's answers as the CNN's soft targets: ``distill``
* what a network trains on (fixed clips, or crops of augmented views): ``datasets``
* augmentation (noise, rooms, phone lines, codecs, pitch): ``augment``
* training, its callbacks and run folders: ``train``; calibration: ``calibrate``
* every way of dividing speakers (splits, search folds, leaky folds): ``splits``
* the hyperparameter search: ``search``; cross-validation: ``crossval``
* figures of merit: ``evaluate``; the baselines a model must beat: ``baselines``
* corpora as clip tables: ``corpora``; AudioMNIST's downloader: ``download``
* per-clip results cached on disk: ``cache``; figures: ``plots``
* where the notebooks find the project's folders and data: ``project``
"""

import os
import warnings

# librosa imports pooch lazily, which imports tqdm.auto, which warns (naming this machine's paths) without ipywidgets
warnings.filterwarnings("ignore", message="IProgress not found")


def progress_bar(iterable=None, progress: bool = True, **kwargs):
    """tqdm's text bar, unless ``progress`` is False or ``TQDM_DISABLE`` is set (as ``make report`` sets it:
    in a saved notebook every update would be an output box). tqdm reads that variable only for arguments not given."""
    from tqdm import tqdm

    off = not progress or os.environ.get("TQDM_DISABLE", "").lower() not in ("", "0", "false")
    return tqdm(iterable, disable=off, **kwargs)
