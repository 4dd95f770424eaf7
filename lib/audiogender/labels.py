"""The labels an answer can have, and the probability maths every part of the project shares.

Class 0 is male and class 1 is female, so a model's one number is p(female). Windows,
recordings and speakers are pooled in log-odds, log(p / (1 - p)), never in
probabilities: a mean of probabilities drifts towards 0.5 as more hesitant windows
are added, a mean of log-odds does not.
"""

from __future__ import annotations

import numpy as np

GENDERS = ("male", "female")  # class 0 and class 1
UNCERTAIN = "uncertain"  # p(female) too close to 0.5 to call
NO_VOICE = "no voice"  # too little speech to judge
MIXED = "mixed"  # substantial speech of both genders


def labels(genders) -> np.ndarray:
    """Class indices (0 male, 1 female) of a sequence of gender names."""
    return np.asarray([GENDERS.index(g) for g in genders], dtype=np.int64)


def female_log_odds(logits) -> np.ndarray:
    """log(p(female) / p(male)) of each row of (n, 2) logits: the difference of the two."""
    logits = np.asarray(logits, dtype=np.float64)
    return logits[:, 1] - logits[:, 0]


def sigmoid(log_odds) -> np.ndarray:
    """Probability from log-odds, without overflow at either end."""
    return np.exp(-np.logaddexp(0.0, -np.asarray(log_odds, dtype=np.float64)))


def log_odds(p_female, eps: float = 1e-6) -> np.ndarray:
    """log(p / (1 - p)), the inverse of :func:`sigmoid`, with p kept off 0 and 1 so the result stays finite."""
    p = np.clip(np.asarray(p_female, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)
