"""Seed stability: planted replicates are found stable, independent dictionaries are not."""

import numpy as np
import pandas as pd

from usae.analysis.stability import atom_stability, code_stability, pair_rows, stability_summary

NAMES = ["a", "b"]
M, DIMS = 64, (16, 24)


def _dictionaries(rng):
    return [rng.normal(size=(M, d)) for d in DIMS]


def _kinds():
    return np.array(
        ["universal"] * 20 + ["only a"] * 20 + ["only b"] * 10 + ["mixed"] * 10 + ["dead"] * 4, dtype=object
    )


def test_a_permuted_noisy_copy_is_stable_and_matched_jointly():
    rng = np.random.default_rng(0)
    atoms_a = _dictionaries(rng)
    order = rng.permutation(M)  # one concept index across models: the same permutation in every model
    atoms_b = [a[order] + 0.1 * rng.normal(size=a.shape) for a in atoms_a]
    measures = atom_stability(atoms_a, atoms_b, rng)
    assert (measures["atoms"] > 0.95).all() and measures["agree"].all()
    assert (measures["joint_match"][order] == np.arange(M)).all()
    assert measures["random"].mean() < 0.6


def test_independent_dictionaries_are_no_more_stable_than_random():
    rng = np.random.default_rng(1)
    measures = atom_stability(_dictionaries(rng), _dictionaries(rng), rng)
    assert abs(measures["atoms"].mean() - measures["random"].mean()) < 0.05
    assert measures["agree"].mean() < 0.5


def test_codes_are_matched_on_their_correlations():
    rng = np.random.default_rng(2)
    order = rng.permutation(M)
    correlation = np.full((M, M), 0.05)
    correlation[np.arange(M), order] = 0.9
    assert np.allclose(code_stability([correlation, correlation]), 0.9)


def test_the_summary_splits_by_kind_and_margins_over_random():
    rng = np.random.default_rng(3)
    atoms_a = _dictionaries(rng)
    kinds = _kinds()
    noise = np.where(kinds == "universal", 0.05, 1.5)[:, None]  # universal concepts come back, the rest barely
    atoms_b = [a + noise * rng.normal(size=a.shape) for a in atoms_a]
    measures = atom_stability(atoms_a, atoms_b, rng)
    table = pd.DataFrame(pair_rows(measures, NAMES, kinds, "r0-r1"))
    assert set(table["method"]) == {"atoms", "joint", "random"}
    assert table.loc[(table["kind"] == "specific") & (table["model"] == "b"), "concepts"].tolist() == [10, 10, 10]
    summary = stability_summary(table)
    assert summary["margin_above_random"] > 0.1 and summary["universal"]["mean"] > summary["specific"]["mean"] + 0.2
    assert summary["pairs"] == ["r0-r1"] and summary["universal"]["concepts"] == 40  # 20 concepts x 2 models
