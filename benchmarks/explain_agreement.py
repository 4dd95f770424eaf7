"""Does the product's map name the band LRP names? Prints figures; checks nothing.

    python benchmarks/explain_agreement.py [--data ../shared/data] [--folder baved] [--every 1]

On the calm and excited clips of one acted folder, the shipped CNN's relevance is
computed by the product (``audiogender.explain``: each 0.1 s x 4 mel-band patch faded
2% toward the training mean), by the same with larger steps up to hiding the patch
(occlusion, toward the mean or toward silence, as the product did before), and by two
gradient methods on its torch twin: LRP's epsilon rule (``lab.listening.lrp``, the
method of AudioMNIST's paper) and integrated gradients from the training mean. Every
map is on the product's grid (patches spread over the recording's frames). Printed per
method against LRP and against integrated gradients: how often the two name the same
top group of four mel bands (chance 10%) and the same top frequency range
(``explain.FREQUENCY_RANGES``), their median Spearman correlation over the 40 bands,
and the seconds per clip.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

PERTURBATIONS = {  # name -> explain's options
    "fade 2% (shipped)": {},
    "fade 10%": {"step": 0.1},
    "fade 50%": {"step": 0.5},
    "occlusion to the mean": {"step": 1.0},
    "occlusion to silence": {"step": 1.0, "to_silence": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--folder", default="baved", help="an acted folder with an emotion column (default: %(default)s)")
    parser.add_argument("--every", type=int, default=1, help="take every Nth calm or excited clip (default: %(default)s)")
    args = parser.parse_args()

    import audiogender
    from audiogender.explain import FREQUENCY_RANGES
    from audiogender.lab import listening
    from audiogender.lab.corpora import read_corpora
    from audiogender.lab.networks import feature_mean, load_checkpoint

    folder = Path(args.data) / args.folder
    if not folder.exists():
        sys.exit(f"{folder} not found: this benchmark needs ../shared/data")
    clips = listening.calm_and_excited(read_corpora([folder])).iloc[:: args.every]
    model = audiogender.load_model(kind="cnn")
    module = load_checkpoint()[0].eval()
    mean = feature_mean(module)[None, None, :]

    rows, seconds = [], {name: 0.0 for name in PERTURBATIONS}
    for clip in clips.itertuples():
        maps = {}
        for name, options in PERTURBATIONS.items():
            began = time.perf_counter()
            explanation = model.explain(clip.path, **options)
            seconds[name] += time.perf_counter() - began
            maps[name] = explanation.relevance
        if explanation.p_female is None:
            continue
        sign = 1.0 if explanation.p_female >= 0.5 else -1.0
        (voiced,) = list(model.voiced([explanation.audio]))
        gradients = listening.integrated_gradients(module, voiced.features, sign, baseline=mean)
        references = {"LRP": listening.lrp_map(module, model, explanation.audio, sign),
                      "integrated gradients": listening.on_map_grid(gradients, voiced, model.features, len(explanation.audio))}  # fmt: skip
        band_hz = explanation.band_hz
        for against, reference in references.items():
            wanted = listening.band_shares(reference)
            for name, relevance in maps.items():
                found = listening.band_shares(relevance)
                ranges = [listening.range_shares(shares, band_hz) for shares in (found, wanted)]
                rows.append((name, against, clip.gender, clip.state, listening.top_group(found) == listening.top_group(wanted),
                             max(ranges[0], key=ranges[0].get) == max(ranges[1], key=ranges[1].get),
                             pd.Series(found).corr(pd.Series(wanted), method="spearman")))  # fmt: skip
    found = pd.DataFrame(rows, columns=["method", "against", "gender", "state", "same_group", "same_range", "spearman"])
    n = found["method"].eq(next(iter(PERTURBATIONS))).sum() // 2
    print(f"{n} {args.folder} clips (calm and excited), the shipped CNN; ranges {', '.join(f'{lo}-{hi}' for lo, hi in FREQUENCY_RANGES)} Hz")
    table = found.groupby(["against", "method"], sort=False).agg(
        same_top_group=("same_group", "mean"), same_top_range=("same_range", "mean"), median_spearman=("spearman", "median"))
    table["s_per_clip"] = [seconds[method] / len(clips) for _, method in table.index]
    print(table.round(3).to_string())
    shipped = found[found["method"] == next(iter(PERTURBATIONS))]
    print("\nthe shipped map against each reference, by gender and state (same top group, same top range):")
    print(shipped.groupby(["against", "gender", "state"])[["same_group", "same_range"]].mean().round(2).to_string())


if __name__ == "__main__":
    main()
