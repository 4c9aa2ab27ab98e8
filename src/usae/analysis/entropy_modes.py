"""Modes of the firing-entropy histogram (Fig. 6a), by a stated prominence criterion.

A concept's firing entropy is 1.0 when all M models fire it equally often and ``log k / log M`` when k
of them share it equally, so the paper's bimodal histogram (peaks near 1.0 and 0.63 for M = 3) says
that concepts are shared by all models or by two of the three. A *mode* here is a peak of the 20-bin
histogram over [0, 1] (first and last bins included) that stands out from its surroundings by both

- a prominence (``scipy.signal.find_peaks``: its height above the higher of the two lowest points that
  separate it from a taller peak or the histogram's ends) of at least ``min_relative_prominence`` of the
  tallest bin, so that a bump of a few concepts beside a large peak is not a mode; and
- a prominence of at least ``noise_sigmas`` Poisson standard deviations of its own height
  (``noise_sigmas * sqrt(height)``), so that counting noise on a smooth slope is not a mode.
"""

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

BINS = 20
MIN_RELATIVE_PROMINENCE = 0.1
NOISE_SIGMAS = 2.0
# A mode is "near" a position when its bin centre is within this distance (1.6 bins of 0.05).
NEAR = 0.08


@dataclass(frozen=True)
class Mode:
    """One histogram mode: bin centre, height (concepts in the bin) and prominence (concepts)."""

    centre: float
    height: int
    prominence: float


def histogram_modes(entropy_N, bins=BINS, min_relative_prominence=MIN_RELATIVE_PROMINENCE, noise_sigmas=NOISE_SIGMAS):
    """The modes of the histogram of ``entropy_N`` (values in [0, 1]), tallest first.

    Parameters
    ----------
    entropy_N : array-like
        Firing entropies of the concepts that fire.
    bins : int
        Equal bins over [0, 1].
    min_relative_prominence, noise_sigmas : float
        The two prominence thresholds of the module docstring.

    Returns
    -------
    list of Mode
    """
    counts, edges = np.histogram(np.asarray(entropy_N, dtype=float), bins=bins, range=(0, 1))
    if counts.max(initial=0) == 0:
        return []
    centres = (edges[:-1] + edges[1:]) / 2
    padded = np.concatenate([[0], counts, [0]])  # so that the first and the last bin can be peaks
    peaks, properties = find_peaks(padded, prominence=min_relative_prominence * counts.max())
    modes = [
        Mode(round(float(centres[p - 1]), 6), int(padded[p]), float(prominence))
        for p, prominence in zip(peaks, properties["prominences"])
        if prominence >= noise_sigmas * np.sqrt(padded[p])
    ]
    return sorted(modes, key=lambda mode: (-mode.height, mode.centre))


def shared_by_k_positions(n_models):
    """Entropy of a concept fired equally by k of M models, ``log k / log M``, for k = 2 .. M - 1."""
    return [float(np.log(k) / np.log(n_models)) for k in range(2, n_models)]


def distinct_positions(n_models):
    """The k-of-M positions a histogram can tell from "all M models": those more than ``NEAR`` below 1.0.

    With M = 3 that is 0.63 (k = 2); with M = 8 it is k = 2 .. 6 (0.33 to 0.86): 7 of 8 (0.94) reads as all.
    """
    return [position for position in shared_by_k_positions(n_models) if position < 1 - NEAR]


def bimodal_verdict(modes, n_models):
    """Whether ``modes`` has one near 1.0 (all models) and another near a k-of-M position that is distinct from
    1.0 (:func:`distinct_positions`).

    Returns
    -------
    holds : bool
    strength : float
        The prominence of the strongest mode near a distinct k-of-M position, as a share of the tallest bin's
        height among the modes (0 when there is none): the number the claim is judged by.
    """
    near_one = any(mode.centre >= 1 - NEAR for mode in modes)
    positions = distinct_positions(n_models)
    shared = [
        share
        for mode, share in zip(modes, prominence_shares(modes))
        if mode.centre < 1 - NEAR and any(abs(mode.centre - p) <= NEAR for p in positions)
    ]
    return bool(near_one and shared), float(max(shared, default=0.0))


def prominence_shares(modes):
    """Each mode's prominence as a share of the tallest mode's height: what :func:`bimodal_verdict` judges."""
    tallest = max((mode.height for mode in modes), default=0)
    return [mode.prominence / tallest for mode in modes]
