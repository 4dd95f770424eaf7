"""Do the product's occlusion maps and a gradient method name the same band? Prints figures; checks nothing.

    python benchmarks/explain_agreement.py [--data ../shared/data] [--every 2]

On BAVED's calm and excited clips, the shipped CNN's relevance is computed both by
occlusion (as ``audiogender.explain`` does, and three variants of it) and by integrated
gradients on its torch twin (``lab.listening.integrated_gradients``), at occlusion's own
grid: each window cut into 0.1 s x 4 mel-band patches, integrated gradients summed over
each patch. Per clip, the positive relevance of each of the ten 4-band groups is added
over windows and patches. Printed: how often the two methods name the same top group and
the same top frequency range (``explain.FREQUENCY_RANGES``), their median Pearson
correlation over the ten groups, and each method's mean profile for men and women.

Variants: what a hidden patch is set to (``silence``: the window's floor, as shipped;
``mean``: the training clips' mean of that band, the CNN's own standardisation), and what
is hidden (``patch``: 0.1 s x 4 bands, as shipped; ``band``: 4 bands over the whole
window). Integrated gradients starts from the same reference as each variant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

VARIANTS = (("silence", "patch"), ("mean", "patch"), ("silence", "band"), ("mean", "band"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--every", type=int, default=2, help="take every Nth calm or excited clip (default: %(default)s)")
    args = parser.parse_args()

    import torch

    import audiogender
    from audiogender.explain import FREQUENCY_RANGES, PATCH_BANDS, PATCH_FRAMES, read_waveform
    from audiogender.features import band_centres
    from audiogender.lab import listening
    from audiogender.lab.corpora import read_corpora
    from audiogender.lab.networks import load_checkpoint

    baved = Path(args.data) / "baved"
    if not baved.exists():
        sys.exit(f"{baved} not found: this benchmark needs BAVED (../shared/data)")
    clips = listening.calm_and_excited(read_corpora([baved])).iloc[:: args.every]
    model = audiogender.load_model(kind="cnn")
    module = load_checkpoint()[0]
    mean = module.standardize.mean.numpy()
    n_groups = model.features.n_mels // PATCH_BANDS
    centres = band_centres(model.features.n_mels).reshape(n_groups, PATCH_BANDS).mean(axis=1)
    in_range = np.array([next(k for k, (low, high) in enumerate(FREQUENCY_RANGES) if low <= hz < high) for hz in centres])

    def log_odds(windows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = module(torch.as_tensor(windows, dtype=torch.float32)).numpy()
        return logits[:, 1] - logits[:, 0]

    found = {variant: [] for variant in VARIANTS}
    for clip in clips.itertuples():
        _, waveform = read_waveform(clip.path)
        (voiced,) = list(model.voiced([waveform]))
        windows = voiced.features
        if not len(windows):
            continue
        per_window = log_odds(windows)
        base = per_window.mean()
        sign = 1.0 if base >= 0 else -1.0
        n_windows, n_frames, n_bands = windows.shape
        for fill, span in VARIANTS:
            occlusion = np.zeros(n_groups)
            step = n_frames if span == "band" else PATCH_FRAMES
            for w, window in enumerate(windows):
                copies, groups = [], []
                for t in range(0, n_frames, step):
                    for b in range(0, n_bands, PATCH_BANDS):
                        copy = window.copy()
                        copy[t : t + step, b : b + PATCH_BANDS] = window.min() if fill == "silence" else mean[b : b + PATCH_BANDS]
                        copies.append(copy)
                        groups.append(b // PATCH_BANDS)
                for group, changed in zip(groups, log_odds(np.stack(copies))):
                    trial = per_window.copy()
                    trial[w] = changed
                    occlusion[group] += max(sign * (base - trial.mean()), 0.0)
            reference = windows.min(axis=(1, 2), keepdims=True) if fill == "silence" else mean[None, None, :]
            gradients = listening.integrated_gradients(module, windows, sign, baseline=reference)
            padded = np.pad(gradients, ((0, 0), (0, -n_frames % PATCH_FRAMES), (0, 0)))
            patches = padded.reshape(n_windows, -1, PATCH_FRAMES, n_groups, PATCH_BANDS).sum(axis=(2, 4))
            gradient = np.clip(patches, 0, None).sum(axis=(0, 1))
            ranges = [np.bincount(in_range, weights=profile, minlength=len(FREQUENCY_RANGES)) for profile in (occlusion, gradient)]
            found[(fill, span)].append((occlusion.argmax() == gradient.argmax(), ranges[0].argmax() == ranges[1].argmax(),
                                        np.corrcoef(occlusion, gradient)[0, 1], occlusion / max(occlusion.sum(), 1e-12),
                                        gradient / max(gradient.sum(), 1e-12), clip.gender))  # fmt: skip

    chance = 1 / n_groups
    print(f"{len(clips)} BAVED clips (calm and excited), the shipped CNN; chance of the same top group {chance:.0%}")
    print(f"{'fill':8s} {'hidden':6s} {'clips':>5s} {'same top group':>15s} {'same top range':>15s} {'median r':>9s}")
    for (fill, span), rows in found.items():
        same_group, same_range, r = (np.array([row[k] for row in rows], dtype=float) for k in range(3))
        print(f"{fill:8s} {span:6s} {len(rows):5d} {same_group.mean():15.0%} {same_range.mean():15.0%} {np.nanmedian(r):9.2f}")
    print(f"mean share per 4-band group (centres {', '.join(f'{hz:.0f}' for hz in centres)} Hz):")
    for (fill, span), rows in found.items():
        for gender in ("male", "female"):
            for k, method in ((3, "occlusion"), (4, "integrated gradients")):
                profile = np.mean([row[k] for row in rows if row[5] == gender], axis=0)
                print(f"  {fill:8s} {span:6s} {gender:7s} {method:21s} " + " ".join(f"{share:.2f}" for share in profile))


if __name__ == "__main__":
    main()
