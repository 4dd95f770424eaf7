"""The release gates: what a model must reach before it ships as the default, and why.

Every figure is measured by leaving one corpus out (``crossval``): each folder judged
by a model that never heard it, as users' recordings are judged by a model that
never heard anything like them. :func:`check` says, for one method, each gate's
figure per folder and whether it passes; :func:`reasons` is the table a reader
needs to make sense of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Gate:
    """A figure a shipped model must keep at least (or at most) at ``bound``, and the reason it matters."""

    name: str
    bound: float
    at_least: bool
    reason: str

    @property
    def required(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.bound:g}"

    def passes(self, value: float) -> bool:
        return bool(value >= self.bound if self.at_least else value <= self.bound)


MEAN = Gate("mean clip balanced accuracy over the folders", 0.97, True,
            "the answer on a corpus never heard, averaged so that every kind of recording counts once, whatever its size")  # fmt: skip
EACH_FOLDER = Gate("clip balanced accuracy", 0.95, True,
                   "no kind of recording may be left far behind: every folder with ten or more voices of each gender, and the phone line")  # fmt: skip
RECALL_GAP = Gate("|male recall - female recall|", 0.03, False, "neither women nor men may pay for the other's accuracy")
CALIBRATION = Gate("expected calibration error", 0.05, False, "p(female) = 0.8 must be right four times in five, on any channel")
EXCITED_MEN = Gate("male recall on excited speech", 0.95, True,
                   "anger, joy, fear and surprise lift men's pitch into women's range, where a model that listens to pitch alone fails")  # fmt: skip
TAUGHT = Gate("taught CNN behind its teacher (mean)", 0.02, False,
              "a small network taught by the encoder is worth shipping for its speed only if it keeps the encoder's accuracy")  # fmt: skip
GATES = (MEAN, EACH_FOLDER, RECALL_GAP, CALIBRATION, EXCITED_MEN, TAUGHT)
LARGE_FOLDER_SPEAKERS = 10  # folders with at least this many speakers of each gender are held to EACH_FOLDER
NARROWBAND = "telephone-8k"  # ... and the phone line, whatever its size


def reasons() -> pd.DataFrame:
    """Every gate, what it requires, and why."""
    return pd.DataFrame([{"gate": g.name, "required": g.required, "why": g.reason} for g in GATES]).set_index("gate")


def check(
    card: pd.DataFrame, emotions: pd.DataFrame, method: str, teacher: str = "encoder", student: str = "distilled", by: str = "group"
) -> pd.DataFrame:
    """Each gate for ``method``, per folder: the figure, what is required, whether it passes.

    ``card`` is a leave-one-corpus-out scorecard (``evaluate.scorecard``), ``emotions``
    its ``evaluate.emotion_recalls`` per ``by`` (the folder); the taught gate compares ``student`` with ``teacher`` (recipe names).
    """
    rows = []

    def add(gate: Gate, corpus: str, value: float) -> None:
        rows.append({"gate": gate.name, "corpus": corpus, "value": value, "required": gate.required, "met": gate.passes(value)})

    clip = card[(card["level"] == "clip") & (card["corpus"] != "all")]
    mine = clip[clip["method"] == method].set_index("corpus")
    add(MEAN, "all", mine["balanced_accuracy"].mean())
    for corpus, row in mine.iterrows():
        if min(row["female_speakers"], row["male_speakers"]) >= LARGE_FOLDER_SPEAKERS or corpus == NARROWBAND:
            add(EACH_FOLDER, corpus, row["balanced_accuracy"])
        gap = abs(row["recall_male"] - row["recall_female"])
        if not np.isnan(gap):
            add(RECALL_GAP, corpus, gap)
        if not np.isnan(row["ece"]):
            add(CALIBRATION, corpus, row["ece"])
    overall = card[(card["method"] == method) & (card["corpus"] == "all") & (card["level"] == "clip")]
    if len(overall):
        add(CALIBRATION, "all", overall["ece"].iloc[0])
    excited = emotions[(emotions["method"] == method) & emotions["excited"]] if len(emotions) else emotions
    for _, row in excited.iterrows():
        add(EXCITED_MEN, f"{row[by]}, {row['emotion']}", row["recall_male"])
    means = clip.groupby("method")["balanced_accuracy"].mean()
    if method == student and teacher in means and student in means:
        add(TAUGHT, "all", means[teacher] - means[student])
    return pd.DataFrame(rows, columns=["gate", "corpus", "value", "required", "met"])
