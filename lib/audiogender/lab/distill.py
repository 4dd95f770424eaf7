"""Teaching the CNN what the speaker encoder knows: distillation.

The ``distilled`` recipe trains our CNN as the default recipe does, on random crops
of every clip's clean and augmented views, but each crop's target is a blend: its
clip's true label, and the encoder head's p(female) for that very view (the frame
bank's views and the embeddings' views are the same audio, ``augment.view``),
weighed by ``distill``. So the small, fast CNN learns from the judgement of an
encoder trained on 8,000 voices, hesitation included, and not only from the few
hundred voices it hears itself.

The teaching head is fitted on the training speakers only; its answers for them
come from heads that never heard them (speaker-grouped cross-fitting), then
calibrated, so the CNN learns how the encoder judges unheard voices, not what it remembers.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ..labels import sigmoid
from .calibrate import best_temperature
from .datasets import CropDataset, FrameBank, rows_index
from .embeddings import ClipEmbeddings
from .head import logistic_head

TEACHER_FOLDS = 5  # cross-fitting: each training speaker is judged by a head fitted without them


@dataclass
class TaughtFrames:
    """A frame bank with a teacher: what the ``distilled`` recipe trains on (the interface of ``datasets.FrameBank``)."""

    bank: FrameBank
    embeddings: ClipEmbeddings
    speakers: np.ndarray  # of every clip, to cross-fit the teacher by speaker
    teacher_C: float
    distill: float  # weight of the teacher's answer in each target; the rest is the true label

    @property
    def n_features(self) -> int:
        return self.bank.n_features

    def __str__(self) -> str:
        return f"{self.bank}, taught by a head on {self.embeddings}"

    def windows(self, rows) -> tuple[np.ndarray, np.ndarray]:
        return self.bank.windows(rows)

    def teacher_answers(self, rows, y: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
        """p(female) of every view of the clips at ``rows``, each from a head fitted on other training speakers, calibrated."""
        rows = rows_index(rows)
        y_all, y = y, np.asarray(y)[rows]
        weight = np.ones(len(self.speakers)) if weight is None else np.asarray(weight, dtype=float)
        views = self.embeddings.embeddings[rows]  # (clips, views, 256)
        log_odds = np.zeros(views.shape[:2])
        n_folds = min(TEACHER_FOLDS, *(len(set(self.speakers[rows][y == g])) for g in (0, 1)))
        with warnings.catch_warnings():  # folds of uneven sizes are fine
            warnings.simplefilter("ignore", UserWarning)
            folds = list(StratifiedGroupKFold(max(n_folds, 2)).split(rows, y, self.speakers[rows]))
        for fit_part, judged in folds:
            if len(set(y[fit_part])) < 2:  # too few speakers to leave these out: a head that heard them
                fit_part = np.arange(len(rows))
            head = logistic_head(*self.embeddings.training_set(rows[fit_part], np.asarray(y_all), 0, weight), self.teacher_C)
            log_odds[judged] = head.decision_function(views[judged].reshape(-1, views.shape[-1])).reshape(len(judged), -1)
        temperature = best_temperature(log_odds[:, 0], y, self.speakers[rows])
        return sigmoid(log_odds / temperature)

    def training_set(self, rows, y: np.ndarray, random_state: int = 0, weight: np.ndarray | None = None) -> CropDataset:
        """Random crops of the clips at ``rows``, each targeting its label blended with the teacher's answer for its view."""
        rows = rows_index(rows)
        labels = np.asarray(y)[rows].astype(float)[:, None]
        soft = (1 - self.distill) * labels + self.distill * self.teacher_answers(rows, y, weight)
        return CropDataset(self.bank.subset(rows), np.asarray(y)[rows], random_state=random_state,
                           weight=None if weight is None else np.asarray(weight)[rows], soft=soft)  # fmt: skip
