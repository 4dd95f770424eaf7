"""The lab: everything that makes and measures a model. ``audiogender predict`` never imports it.

Where things are:

* the recipes, each defined once by name (``seed``, ``default``): ``recipes``
* the networks (the seed's CNN, ours), checkpoints and ONNX export: ``networks``
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
