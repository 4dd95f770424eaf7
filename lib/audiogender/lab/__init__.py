"""The lab: everything that makes and measures a model. ``audiogender predict`` never imports it.

Where things are:

* the roles every recipe and trained model play: ``base``; the recipes, each defined
  once by name (``seed``, ``default``, ``distilled``, ``encoder``): ``recipes``
* the CNN recipes, their estimator and the trained CNN: ``cnn``, with its skorch
  ``callbacks``; the networks and their checkpoints: ``networks``
* the pretrained speaker encoder: ``ge2e``; its embeddings: ``embeddings``; the head
  trained on them: ``head``; the encoder's answers as the CNN's soft targets: ``distill``
* writing any network as ONNX: ``onnx_export``
* what a CNN trains on (fixed clips, or crops of augmented views): ``datasets``;
  training clips: ``clips``; augmentation (noise, rooms, phone lines, codecs,
  pitch): ``augment``; sounds that are not a voice, made to order: ``signals``
* the voice detector (voice against no voice), measured leaving sources out and
  exported into the package: ``detector``
* what the models listened to over many clips (the product's maps beside LRP,
  band profiles, F0 against p(female)): ``listening``
* one recipe trained into a run folder: ``train``; calibration: ``calibrate``
* every way of dividing speakers (splits, search folds, leaky folds, corpora): ``splits``
* the hyperparameter search: ``search``; what cross-validation compares: ``methods``;
  cross-validation itself: ``crossval``
* figures of merit: ``evaluate``; the release gates: ``gates``; the baselines: ``baselines``
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
