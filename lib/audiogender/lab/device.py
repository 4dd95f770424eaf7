"""Picking the device the network runs on (torch is imported only when asked)."""

from __future__ import annotations

DEVICES = ("auto", "cpu", "cuda", "mps")


def mps_available() -> bool:
    import torch

    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def pick_device(device: str | None = "auto") -> str:
    """``"auto"`` (or None) picks cuda, then mps, then cpu; a named device is checked, not guessed."""
    device = (device or "auto").lower()
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}: use one of {', '.join(DEVICES)}")
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but torch sees no CUDA GPU")
    if device == "mps" and not mps_available():
        raise RuntimeError("device 'mps' was asked for, but torch sees no Apple GPU")
    return device
