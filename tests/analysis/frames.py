"""A synthetic ``concepts.csv`` frame for the analysis tests."""

import numpy as np
import pandas as pd

NAMES = ["a", "b", "c"]


def concept_frame(rng, m=60):
    """``m`` concepts of three models (NAMES) with random firings, entropies, co-fire proportions and energies."""
    fires = rng.integers(0, 50, size=(m, 3))
    frame = pd.DataFrame({"concept": np.arange(m)})
    for i, name in enumerate(NAMES):
        frame[f"fires_{name}"] = fires[:, i]
    frame["cofires"] = fires.min(1)
    frame["entropy"] = rng.uniform(0, 1, m)
    for name in NAMES:
        frame[f"cofire_proportion_{name}"] = rng.uniform(0, 1, m)
        frame[f"energy_{name}"] = rng.uniform(0, 1, m)
    for i, name in enumerate(NAMES):
        top = fires[:, i] == fires.max(1)
        frame[f"fires_with_top_{name}"] = np.where(top, fires[:, i], np.minimum(fires[:, i], fires.max(1) // 2))
    frame["energy_total"] = frame[[f"energy_{n}" for n in NAMES]].sum(axis=1)
    frame["dead"] = fires.sum(1) == 0
    return frame
