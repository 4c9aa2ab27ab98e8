"""Seed stability: does a concept come back when the USAE is trained again with another seed?

For two replicate runs a and b of one experiment (same stores, different seeds, so different initialisations):

- **atoms**, per model i: the Hungarian matching of a's atoms to b's by cosine (the code of Fig. 7), and the
  matched cosine of each of a's concepts;
- **joint**: a USAE concept is one index across all models, so the concepts are also matched once for all models,
  on the sum of the per-model cosine matrices; per model, the share of concepts whose own match is the joint one;
- **codes**, per model: the Hungarian matching on the Pearson correlation of both runs' codes on the same val
  tokens;
- **random**, per model: a's atoms matched to random atoms drawn as Fig. 7 draws them (a normal with b's
  dictionary's mean and sd).

docs/concept_evidence.md gives the definitions with their outputs.
"""

import numpy as np
from scipy.optimize import linear_sum_assignment

from usae.analysis.kinds import UNIVERSAL, specific_model
from usae.analysis.matching import cosine_matrix, hungarian_match, random_like

THRESHOLDS = (0.5, 0.7)


def matched_by_concept(similarity_AB):
    """Hungarian matching of every row concept: ``(match_m, similarity_m)``, indexed by the row's concept."""
    rows, columns, matched = hungarian_match(similarity_AB)
    match, value = np.full(len(similarity_AB), -1), np.full(len(similarity_AB), np.nan)
    match[rows], value[rows] = columns, matched
    return match, value


def atom_stability(atoms_a, atoms_b, rng):
    """Matchings of one pair of runs' dictionaries.

    Parameters
    ----------
    atoms_a, atoms_b : list of numpy.ndarray
        Per model, ``(m, D_i)`` decoder atoms of runs a and b, models in the same order.
    rng : numpy.random.Generator
        Draws the random atoms.

    Returns
    -------
    dict of numpy.ndarray
        ``(M, m)`` arrays indexed by a's concepts: ``atoms`` (per-model matched cosine), ``joint`` (cosine at the
        joint match), ``agree`` (the per-model match is the joint one) and ``random`` (cosine matched to random
        atoms); ``joint_match`` ``(m,)``.
    """
    similarities = [cosine_matrix(a, b) for a, b in zip(atoms_a, atoms_b)]
    per_model = [matched_by_concept(similarity) for similarity in similarities]
    rows, columns = linear_sum_assignment(-np.sum(similarities, axis=0))
    joint_match = np.full(len(similarities[0]), -1)
    joint_match[rows] = columns
    random = [matched_by_concept(cosine_matrix(a, random_like(b, rng)))[1] for a, b in zip(atoms_a, atoms_b)]
    m = np.arange(len(joint_match))
    return {
        "atoms": np.stack([value for _, value in per_model]),
        "joint": np.stack([similarity[m, joint_match] for similarity in similarities]),
        "agree": np.stack([match == joint_match for match, _ in per_model]),
        "random": np.stack(random),
        "joint_match": joint_match,
    }


def code_stability(correlations):
    """Per model, each of a's concepts' matched code correlation: ``(M, m)`` (Hungarian on the correlations)."""
    return np.stack([matched_by_concept(correlation)[1] for correlation in correlations])


def _figures(values):
    values = values[np.isfinite(values)]
    if not values.size:
        return {"concepts": 0, "mean": None, **{f"share_above_{t}": None for t in THRESHOLDS}}
    return {
        "concepts": int(values.size),
        "mean": float(values.mean()),
        **{f"share_above_{t}": float((values > t).mean()) for t in THRESHOLDS},
    }


def pair_rows(measures, names, kinds_m, pair):
    """One pair's table rows: per model, method and concept kind, the concepts, mean matched similarity and
    the shares above 0.5 and 0.7; and the share of per-model matches that agree with the joint one.

    Parameters
    ----------
    measures : dict
        :func:`atom_stability` with a ``codes`` entry from :func:`code_stability` (optional).
    kinds_m : numpy.ndarray
        Run a's concept kinds (:func:`usae.analysis.kinds.concept_kinds`); dead concepts are left out, and a
        model-specific concept counts in its own model only.
    pair : str
        ``"r0-r1"``.
    """
    own = specific_model(kinds_m, names)
    alive = kinds_m != "dead"
    rows = []
    for i, name in enumerate(names):
        groups = {"all": alive, "universal": kinds_m == UNIVERSAL, "specific": own == i}
        for method in ("atoms", "joint", "codes", "random"):
            if method not in measures:
                continue
            for kind, mask in groups.items():
                figures = _figures(measures[method][i][mask])
                agree = measures["agree"][i][mask].mean() if method == "joint" and mask.any() else None
                rows.append(
                    {"pair": pair, "model": name, "method": method, "kind": kind, **figures, "agree_share": agree}
                )
    return rows


def stability_summary(table):
    """What the scorecard judges from the pairs table (:func:`pair_rows` of every pair, as a DataFrame).

    Returns
    -------
    dict
        ``margin_above_random``: the smallest, over pairs and models, of the mean matched atom cosine minus the
        random atoms' (all alive concepts); ``universal`` and ``specific``: the mean matched atom cosine over
        pairs and models, with the concepts behind it; ``pairs``.
    """
    atoms = table[(table["method"] == "atoms") & (table["kind"] == "all")].set_index(["pair", "model"])
    random = table[(table["method"] == "random") & (table["kind"] == "all")].set_index(["pair", "model"])
    margins = (atoms["mean"] - random["mean"]).dropna()

    def kind(name):
        rows = table[(table["method"] == "atoms") & (table["kind"] == name) & (table["concepts"] > 0)]
        weights = rows["concepts"].to_numpy(float)
        mean = float(np.average(rows["mean"], weights=weights)) if weights.sum() else None
        return {"mean": mean, "concepts": int(weights.sum() / max(table["pair"].nunique(), 1))}

    return {
        "pairs": sorted(table["pair"].unique().tolist()),
        "margin_above_random": float(margins.min()) if len(margins) else None,
        "atoms_mean": float(atoms["mean"].mean()),
        "random_mean": float(random["mean"].mean()),
        "universal": kind("universal"),
        "specific": kind("specific"),
    }
