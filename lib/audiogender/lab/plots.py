"""The figures the notebooks and run folders show."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..audio import FRAMES_PER_SECOND, SAMPLE_RATE, load_audio, prepare
from ..features import FeatureConfig, compute_features
from .evaluate import CALIBRATION_BINS, calibration_table, expected_calibration_error
from .methods import title

ROLE_CODES = {"": 0, "train": 1, "validation": 2, "test": 3}


def plot_history(history: pd.DataFrame) -> dict[str, plt.Figure]:
    """Accuracy and loss per epoch, training and validation, as the seed drew them."""
    figures = {}
    for kind, train, valid in (("accuracy", "train_acc", "valid_acc"), ("loss", "train_loss", "valid_loss")):
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(history["epoch"], history[train], marker="o", label="train")
        if valid in history:
            ax.plot(history["epoch"], history[valid], marker="o", label="validation (held-out speakers)")
        ax.set(xlabel="epoch", ylabel=kind, title=f"model {kind}")
        ax.legend()
        figures[kind] = fig
        plt.close(fig)
    return figures


def plot_what_the_model_saw(path, classifier, title: str = ""):
    """A recording after DC removal and level normalisation, over its MFCCs (the seed's picture) and the classifier's own features."""
    waveform = prepare(load_audio(path))
    matrices = {"MFCC": compute_features(waveform, FeatureConfig("mfcc"))}
    if classifier.features.kind != "mfcc":
        read = compute_features(waveform, classifier.features)
        if classifier.features.kind == "mel":  # mel power itself: on a linear scale all but the loudest cells are black
            read = 10 * np.log10(np.maximum(read / max(float(read.max()), 1e-20), 1e-8))
        matrices[f"{classifier.features.kind}, dB (what the model reads)"] = read
    return plot_waveform_and_features(waveform, matrices, title)


def plot_waveform_and_features(audio: np.ndarray, features: dict[str, np.ndarray], title: str = ""):
    """The waveform over its feature matrices, like the seed's picture of a woman saying "zero".

    ``features`` maps a name (the y-axis label) to a (frames x width) matrix.
    """
    fig, axes = plt.subplots(1 + len(features), 1, figsize=(8, 2 + 2.2 * len(features)),
                             gridspec_kw={"height_ratios": [1] + [1.4] * len(features)})  # fmt: skip
    axes[0].plot(np.arange(audio.size) / SAMPLE_RATE, audio, linewidth=0.6)
    axes[0].set(xlabel="time (s)", ylabel="amplitude", title=title, xlim=(0, audio.size / SAMPLE_RATE))
    for ax, (name, matrix) in zip(axes[1:], features.items()):
        extent = (0, matrix.shape[0] / FRAMES_PER_SECOND, 0, matrix.shape[1])
        image = ax.imshow(matrix.T, origin="lower", aspect="auto", cmap="magma", extent=extent)
        ax.set(xlabel="time (s)", ylabel=name)
        fig.colorbar(image, ax=ax, pad=0.01)
    fig.tight_layout()
    return fig


def plot_assignment(table: pd.DataFrame):
    """Which speaker falls where in each split: a speakers x splits map of roles."""
    roles = table.drop(columns="gender")
    codes = roles.replace(ROLE_CODES).astype(int).T
    fig, ax = plt.subplots(figsize=(max(6, 0.18 * len(table)), 2 + 0.4 * len(roles.columns)))
    cmap = matplotlib.colors.ListedColormap(["#f0f0f0", "#4c72b0", "#dd8452", "#55a868"])
    ax.imshow(codes, aspect="auto", cmap=cmap, vmin=0, vmax=3, interpolation="nearest")
    ax.set_yticks(range(len(codes.index)), codes.index)
    ax.set_xticks(range(len(table)), [f"{s} {'♀' if g == 'female' else '♂'}" for s, g in zip(table.index, table["gender"])], rotation=90, fontsize=7)
    handles = [matplotlib.patches.Patch(color=cmap(i), label=r or "unused") for r, i in ROLE_CODES.items()]
    ax.legend(handles=handles, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.set_title("speaker-disjoint splits: each speaker's role in each split")
    fig.tight_layout()
    return fig


def plot_search_heatmap(results: pd.DataFrame, grid: dict):
    """Mean balanced accuracy over the first two grid parameters (the best over any others)."""
    names = list(grid)
    rows, cols = (names + [None])[:2]
    fig, ax = plt.subplots(figsize=(1.2 * (len(grid[cols]) if cols else 1) + 2.5, 0.6 * len(grid[rows]) + 1.8))
    if cols is None:
        table = results.groupby(rows)["mean_balanced_accuracy"].max().to_frame("balanced accuracy")
    else:
        table = results.pivot_table(index=rows, columns=cols, values="mean_balanced_accuracy", aggfunc="max")
    sns.heatmap(table, annot=True, fmt=".3f", cmap="viridis", ax=ax, cbar_kws={"label": "mean balanced accuracy"})
    extra = f" (best over {', '.join(names[2:])})" if len(names) > 2 else ""
    ax.set_title(f"speaker-grouped CV balanced accuracy{extra}")
    fig.tight_layout()
    plt.close(fig)
    return fig


LABEL_COLOURS = {"female": "#dd8452", "male": "#4c72b0", "uncertain": "#999999"}


def plot_timeline(audio: np.ndarray, timeline, title: str = ""):
    """The waveform with, under it, who speaks when: one bar per voiced stretch, coloured by label."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 3.6), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    top.plot(np.arange(audio.size) / SAMPLE_RATE, audio, linewidth=0.5, color="#444444")
    top.set(ylabel="amplitude", title=title, xlim=(0, audio.size / SAMPLE_RATE))
    for segment in timeline.segments:
        colour = LABEL_COLOURS[segment.label]
        bottom.barh(0, segment.end - segment.start, left=segment.start, color=colour, height=0.8)
        bottom.text((segment.start + segment.end) / 2, 0, f"{segment.p_female:.2f}", ha="center", va="center", fontsize=7, color="white")
    bottom.set(yticks=[], xlabel="time (s)", ylabel="p(female)")
    handles = [matplotlib.patches.Patch(color=c, label=label) for label, c in LABEL_COLOURS.items()]
    bottom.legend(handles=handles, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.45), frameon=False)
    fig.tight_layout()
    return fig


def plot_scorecard(card: pd.DataFrame, level: str = "clip", metric: str = "balanced_accuracy"):
    """One bar per method and corpus: ``metric`` at clip or speaker level, on held-out speakers."""
    data = card[card["level"] == level].assign(method=lambda t: t["method"].map(title))
    fig, ax = plt.subplots(figsize=(9, 3.8))
    sns.barplot(data=data, x="corpus", y=metric, hue="method", ax=ax)
    ax.set(ylim=(0.4, 1.0), ylabel=f"{metric.replace('_', ' ')} ({level} level)", xlabel="",
           title=f"{metric.replace('_', ' ')} on speakers each model never heard")  # fmt: skip
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    ax.tick_params(axis="x", labelrotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def plot_calibration(predictions: pd.DataFrame, n_bins: int = CALIBRATION_BINS):
    """Reliability diagram: predicted p(female) against the share of clips that are female, per method."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for method, group in predictions.groupby("method", sort=False):
        y = (group["gender"] == "female").to_numpy()
        table = calibration_table(y, group["p_female"], n_bins)
        ece = expected_calibration_error(y, group["p_female"], n_bins)
        ax.plot(table["predicted"], table["observed"], marker="o", label=f"{title(method)} (ECE {ece:.3f})")
    ax.set(xlabel="predicted p(female)", ylabel="share of clips that are female", title="calibration on held-out speakers")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_bank_views(bank, clip: int, title: str = ""):
    """The first crop of each view of one clip of a frame bank: as recorded, and as augmentation changed it."""
    views = {("as recorded" if v == 0 else f"augmented view {v}"): bank.crop(clip, v, int(bank.starts[clip][v][0])) for v in range(bank.n_views)}
    return plot_views(views, title)


def plot_views(views: dict[str, np.ndarray], title: str = ""):
    """Log-mel matrices side by side: one clip as recorded and as augmentation changed it."""
    fig, axes = plt.subplots(1, len(views), figsize=(3.2 * len(views), 3), sharey=True)
    for ax, (name, matrix) in zip(np.atleast_1d(axes), views.items()):
        ax.imshow(matrix.T, origin="lower", aspect="auto", cmap="magma", extent=(0, matrix.shape[0] / FRAMES_PER_SECOND, 0, matrix.shape[1]))
        ax.set(title=name, xlabel="time (s)")
    np.atleast_1d(axes)[0].set(ylabel="mel band")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_voice_rates(rates: pd.DataFrame):
    """The share of each kind of sound answered right, voice or no voice, by a decision that never heard its source."""
    table = rates.assign(kind=lambda t: np.where(t["voice"] == 1, "speech: " + t["source"], t["source"] + ": " + t["category"])).sort_values(["voice", "right"])
    fig, ax = plt.subplots(figsize=(8, 0.22 * len(table) + 1))
    colours = np.where(table["voice"] == 1, "#1f5fa8", "#888888")
    ax.barh(table["kind"], table["right"], color=colours)
    ax.set(xlim=(min(0.5, float(table["right"].min()) - 0.05), 1.0), xlabel="share answered right (voice for speech, no voice for the rest)",
           title="the voice decision on sources it never heard")  # fmt: skip
    ax.axvline(0.97, color="black", linewidth=0.8, linestyle=":")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def plot_intervals(intervals: pd.DataFrame, by: str = "source"):
    """Balanced accuracy per held-out folder with its interval from resampling speakers, a row per folder."""
    data = intervals.assign(method=lambda t: t["method"].map(title))
    groups = list(dict.fromkeys(data[by]))
    methods = list(dict.fromkeys(data["method"]))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(groups) + 1.2))
    for k, (method, rows) in enumerate(data.groupby("method", sort=False)):
        y = np.array([groups.index(g) for g in rows[by]]) + (k - (len(methods) - 1) / 2) * 0.8 / len(methods)
        ax.errorbar(rows["balanced_accuracy"], y, xerr=[rows["balanced_accuracy"] - rows["low"], rows["high"] - rows["balanced_accuracy"]],
                    fmt="o", markersize=4, capsize=2, label=method)  # fmt: skip
    labels = [f"{g} ({int(data.loc[data[by] == g, 'speakers'].iloc[0])} speakers)" for g in groups]
    ax.set_yticks(range(len(groups)), labels)
    ax.invert_yaxis()
    ax.set(xlabel="clip balanced accuracy, 95% interval from resampling speakers", xlim=(0.5, 1.01))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def plot_band_relevance(pooled: pd.DataFrame):
    """What spoke for the answer, by mel band: a panel per model and method, a line per gender and state."""
    panels = list(pooled.groupby(["model", "method"]).groups)
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), sharey=True, squeeze=False)
    for ax, (model, method) in zip(axes[0], panels):
        rows = pooled[(pooled["model"] == model) & (pooled["method"] == method)]
        for (gender, state), line in rows.groupby(["gender", "state"]):
            ax.plot(line["band_hz"], line["share"], color="tab:red" if gender == "female" else "tab:blue",
                    linestyle="-" if state == "calm" else "--", label=f"{gender}, {state}")  # fmt: skip
        ax.axvspan(80, 300, color="grey", alpha=0.12)
        ax.set(xscale="log", xlabel="mel band centre (Hz)", title=f"{model}: {method}")
    axes[0][0].set_ylabel("share of the relevance")
    axes[0][0].legend(fontsize=8)
    axes[0][0].annotate("F0 range", (90, axes[0][0].get_ylim()[1] * 0.92), fontsize=8, color="grey")
    fig.tight_layout()
    return fig


def plot_pitch_against_answer(pitch: pd.DataFrame):
    """Each speaker's median F0 against a method's mean p(female) on corpora it never heard, by true gender."""
    methods = list(dict.fromkeys(pitch["method"]))
    fig, axes = plt.subplots(1, len(methods), figsize=(5 * len(methods), 3.8), sharey=True, squeeze=False)
    for ax, method in zip(axes[0], methods):
        rows = pitch[pitch["method"] == method]
        for gender, colour in (("male", "tab:blue"), ("female", "tab:red")):
            voices = rows[rows["gender"] == gender]
            ax.scatter(voices["f0"], voices["p_female"], s=9, alpha=0.6, color=colour, label=f"{gender} ({len(voices)})")
        ax.axvspan(160, 185, color="grey", alpha=0.15)
        ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
        ax.set(xscale="log", xlabel="speaker's median F0 (Hz)", title=title(method), ylim=(-0.02, 1.02))
    axes[0][0].set_ylabel("mean p(female), corpus held out")
    axes[0][0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_error_factors(factors: pd.DataFrame):
    """The share of clips each method gets wrong, per level of each factor (pitch band, emotion, setting,
    language): a panel per factor, a bar per level and method."""
    data = factors.assign(method=lambda t: t["method"].map(title))
    names = list(dict.fromkeys(data["factor"]))
    heights = [data.loc[data["factor"] == f, "level"].nunique() for f in names]
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 0.32 * sum(heights) + 0.9 * len(names)), sharex=True,
                             gridspec_kw={"height_ratios": heights}, squeeze=False)  # fmt: skip
    for ax, factor in zip(axes[:, 0], names):
        sns.barplot(data=data[data["factor"] == factor], y="level", x="clip_error", hue="method", ax=ax, orient="h")
        ax.set(ylabel=factor, xlabel="")
        ax.grid(axis="x", alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        ax.get_legend().remove()
    axes[-1, 0].set_xlabel("share of clips given the wrong gender, corpus held out")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False)
    return fig


def plot_level_survey(survey: pd.DataFrame):
    """DC offset and loud level of the same recordings as recorded and prepared: what preprocessing fixes."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    for stage, rows in survey.groupby("stage", sort=False):
        left.hist(rows["dc_offset"], bins=40, alpha=0.6, label=stage)
        right.hist(np.log10(np.maximum(rows["level"], 1e-6)), bins=40, alpha=0.6, label=stage)
    left.set(xlabel="DC offset (mean sample)", ylabel="recordings", title="offset")
    right.set(xlabel="loud level, log10 RMS", title="level")
    left.legend(fontsize=8)
    fig.tight_layout()
    return fig


LABEL_COLOURS = {"female": "#c0392b", "male": "#1f5fa8", "uncertain": "#999999", "mixed": "#7a3e9d"}  # as on the web page


def plot_answers(predictions: pd.DataFrame, names, uncertain: tuple[float, float]):
    """Each recording's p(female) as a bar from 0.5 in its label's colour (male to the left, female to the right),
    the ``uncertain`` band shaded; a recording with no voice or an error is named, not drawn."""
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(predictions) + 1.1))
    for y, row in enumerate(predictions.itertuples()):
        if row.p_female is not None and np.isfinite(row.p_female):
            ax.barh(y, row.p_female - 0.5, left=0.5, color=LABEL_COLOURS.get(row.label, "#999999"))
        else:
            ax.text(0.5, y, "error" if getattr(row, "error", None) else row.label, ha="center", va="center", fontsize=8, color="#555")
    ax.axvspan(*uncertain, color="grey", alpha=0.12)
    ax.axvline(0.5, color="grey", linewidth=0.8)
    ax.set_yticks(range(len(predictions)), list(names), fontsize=8)
    ax.invert_yaxis()
    ax.set(xlim=(0, 1), xlabel="p(female): male to the left, female to the right; grey: answered uncertain", title="the answer for each recording")
    fig.tight_layout()
    return fig
