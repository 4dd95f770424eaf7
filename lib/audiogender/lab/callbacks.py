"""The skorch callbacks a CNN recipe trains with (``cnn.CnnRecipe.estimator``)."""

from __future__ import annotations

import copy

import numpy as np
import torch
from skorch.callbacks import Callback, LRScheduler

from ..labels import GENDERS


class InitialWeights(Callback):
    """Seed torch's random generator before the weights are drawn, so a run can be repeated exactly."""

    def __init__(self, random_state: int = 0):
        self.random_state = random_state

    def initialize(self):
        torch.manual_seed(self.random_state)
        return self


class FitInputs(Callback):
    """Fit the network's feature standardisation and the class weights on the training data.

    Class weights are the inverse class frequencies, so the loss treats the minority
    (12 female vs 48 male speakers on AudioMNIST) as much as the majority. The
    training set (``datasets.ClipDataset`` or ``CropDataset``) says what to fit on.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        dataset = net.get_dataset(X, y)
        net.module_.standardize.fit(dataset.sample_features())
        counts = np.bincount(dataset.labels(), minlength=len(GENDERS)).astype(np.float32)
        weight = counts.sum() / (len(counts) * np.maximum(counts, 1))
        net.criterion_.weight = torch.as_tensor(weight, device=net.device)


class RestoreBest(Callback):
    """Keep the weights of the epoch with the best validation balanced accuracy.

    Ties go to the lower validation loss. Validation speakers are disjoint from the
    training and test speakers, so this is early stopping without peeking at the test.
    """

    def on_train_begin(self, net, **kwargs):
        self.best_key, self.best_state = None, None

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        if "valid_bacc" not in row:
            return
        key = (row["valid_bacc"], -row["valid_loss"])
        if self.best_key is None or key > self.best_key:
            self.best_key, self.best_state = key, copy.deepcopy(net.module_.state_dict())
        net.history.record("best", key == self.best_key)

    def on_train_end(self, net, **kwargs):
        if self.best_state is not None:
            net.module_.load_state_dict(self.best_state)


class AnnealedLR(LRScheduler):
    """A learning-rate schedule over however many epochs the net runs (``T_max`` follows ``max_epochs``, also in a search)."""

    def on_train_begin(self, net, **kwargs):
        self.T_max = net.max_epochs
        super().on_train_begin(net, **kwargs)


def train_accuracy(net, X, y) -> float:
    """Accuracy on the training examples, whether their targets are labels or soft probabilities (distillation)."""
    y = np.asarray(y)
    return float(np.mean(net.predict(X) == (y.argmax(axis=1) if y.ndim == 2 else y)))
