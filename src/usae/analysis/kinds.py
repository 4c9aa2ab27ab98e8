"""Concept kinds: universal, specific to one model, mixed or dead, by the firing counts of ``concepts.csv``.

The explorer shows them, and label coherence and seed stability are split by them.
"""

import numpy as np

UNIVERSAL, MIXED, DEAD = "universal", "mixed", "dead"


def concept_kinds(frame, names, universal_entropy, specific_share, min_cofires):
    """``"universal"``, ``"only <model>"``, ``"mixed"`` or ``"dead"`` per concept.

    Universal: firing entropy above ``universal_entropy`` and at least ``min_cofires`` co-firings (as
    :func:`usae.analysis.gallery.universal_concepts`); model-specific: at least ``specific_share`` of the
    concept's firings are one model's (as :func:`usae.analysis.gallery.model_specific_concepts`).
    """
    fires = frame[[f"fires_{name}" for name in names]].to_numpy(dtype=float)
    totals = fires.sum(1, keepdims=True)
    share = np.divide(fires, totals, out=np.zeros_like(fires), where=totals > 0)
    kinds = np.full(len(frame), MIXED, dtype=object)
    specific = share.max(1) >= specific_share
    kinds[specific] = [f"only {names[i]}" for i in share.argmax(1)[specific]]
    universal = (frame["entropy"].to_numpy() > universal_entropy) & (frame["cofires"].to_numpy() >= max(min_cofires, 1))
    kinds[universal] = UNIVERSAL
    kinds[frame["dead"].to_numpy(dtype=bool)] = DEAD
    return kinds


def kind_rule(universal_entropy, specific_share, min_cofires):
    """The thresholds of :func:`concept_kinds` in words, for the reader."""
    return (
        f"universal: firing entropy > {universal_entropy:g} and >= {max(min_cofires, 1):.0f} co-fires; "
        "only <model>: that model has "
        f">= {specific_share:.0%} of the firings; mixed: neither"
    )


def specific_model(kinds_m, names):
    """Index of the model a concept is specific to (``"only <model>"``), -1 for every other kind."""
    index = {f"only {name}": i for i, name in enumerate(names)}
    return np.array([index.get(kind, -1) for kind in kinds_m], dtype=np.int64)
