"""The device a stage computes on."""

import torch


def pick_device(name="auto"):
    """Return ``torch.device``: CUDA when present for ``auto``, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
