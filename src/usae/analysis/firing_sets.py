"""Which models a concept fires in: concepts counted by the *set* of models (an UpSet-style view).

With M models there are 2^M - 1 sets. A concept's set holds the model where it fires most and every model that
fires it *on the same tokens*: whose firings of it, as a 0/1 vector over the evaluation tokens, have a cosine of at
least ``min_cofiring`` (``metrics.set_cofiring``) with the most-firing model's, ``c / sqrt(f_model f_top)`` with
``c`` the tokens where both fire it (``fires_with_top_<model>`` of ``concepts.csv``) and ``f`` each one's firing
count (codes above ``metrics.threshold``). Firing counts alone would overstate sharing twice over. TopK makes every
encoder choose k concepts on every token, so an encoder can fire a concept its model does not carry, as a filler;
and a latent can stand for one concept in some models and for another in the rest (encoders fire it often, but not
together). Neither co-fires with the most-firing model. The cosine is symmetric: a model that fires the concept
more rarely than the most-firing one, but only with it, still counts. A dead concept fires in none and is not
counted. Models are ordered by family, so that the sets a family shares (every CNN, every MobileNet) read as one
block.
"""

import numpy as np
import pandas as pd


def ordered_by_family(names, families=None):
    """``names`` ordered by family (families in order of first appearance), keeping the order within one; a
    model without a family is a family of its own."""
    return [name for group in family_members(names, families).values() for name in group]


def family_members(names, families=None):
    """``{family: [its models in names order]}``, families in order of first appearance; a model without a family is
    a family of its own."""
    members = {}
    for name in names:
        members.setdefault((families or {}).get(name, name), []).append(name)
    return members


def family_ordered_matrix(matrix_MM, names, families=None):
    """A models x models matrix (Fig. 5's R2) with rows and columns in :func:`ordered_by_family` order:
    ``(matrix, ordered names)``."""
    ordered = ordered_by_family(names, families)
    at = [names.index(name) for name in ordered]
    return np.asarray(matrix_MM)[np.ix_(at, at)], ordered


def firing_membership(frame, names, min_cofiring=0.5):
    """``(m, M)`` bool: whether each model (``names`` order) is in each concept's set.

    A model is in the set when it fires the concept together with the concept's most-firing model on one token at
    least, and the cosine of the two models' firings over the tokens is at least ``min_cofiring`` (see the
    module's note). ``frame`` is ``concepts.csv`` (``fires_<model>``, ``fires_with_top_<model>``).
    """
    fires_mM = frame[[f"fires_{name}" for name in names]].to_numpy(dtype=float)
    with_top_mM = frame[[f"fires_with_top_{name}" for name in names]].to_numpy(dtype=float)
    top_m1 = with_top_mM.max(1, keepdims=True)  # the most-firing model's own count
    cosine_mM = with_top_mM / np.maximum(np.sqrt(fires_mM * top_m1), 1.0)
    return (with_top_mM > 0) & (cosine_mM >= min_cofiring)


def firing_sets(frame, names, min_cofiring=0.5):
    """Concepts per set of models they fire in.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``concepts.csv`` (``fires_<model>``, ``fires_with_top_<model>``, ``dead``).
    names : list of str
        The models, in the order the sets list them.
    min_cofiring : float
        See :func:`firing_membership`.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty set that some concept fires in, most concepts first (ties: fewer models, then
        ``names`` order): ``models`` (tuple of names), ``size``, ``concepts`` and ``share`` of the alive
        concepts.
    """
    fires_mM = firing_membership(frame, names, min_cofiring)
    alive = ~frame["dead"].to_numpy(dtype=bool) & fires_mM.any(1)
    keys, counts = np.unique(fires_mM[alive], axis=0, return_counts=True)
    rows = [
        {
            "models": tuple(name for name, member in zip(names, key) if member),
            "size": int(key.sum()),
            "concepts": int(count),
            "share": count / max(int(alive.sum()), 1),
            "order": tuple(~key),
        }
        for key, count in zip(keys, counts)
    ]
    table = pd.DataFrame(rows, columns=["models", "size", "concepts", "share", "order"])
    table = table.sort_values(["concepts", "size", "order"], ascending=[False, True, True], kind="stable")
    return table.drop(columns="order").reset_index(drop=True)


def firing_set_table(sets, labels=None, families=None):
    """:func:`firing_sets` for a reader: each set as its models' display names joined by " + ", and the families
    of two models or more that it covers wholly ("all EfficientNet") where ``families`` is given."""
    labels, families = labels or {}, families or {}
    members = family_members(list(families), families)

    def described(models):
        whole = [family for family, names in members.items() if len(names) > 1 and set(names) <= set(models)]
        return ", ".join(f"all {family}" for family in whole)

    return pd.DataFrame(
        {
            "models": [" + ".join(labels.get(name, name) for name in models) for models in sets["models"]],
            "families wholly in it": [described(models) for models in sets["models"]],
            "size": sets["size"],
            "concepts": sets["concepts"],
            "share": sets["share"],
        }
    )
