"""Label coherence: planted concepts are found with their label, null data gives calibrated p-values."""

import numpy as np
import pytest

from usae.analysis.coherence import (
    agreement,
    agreement_test,
    chance_all_agree,
    coherence,
    encode_labels,
    majority,
    permutation_p,
)
from usae.analysis.coherence_table import coherence_table

N_IMAGES, N_LABELS, TOP = 200, 10, 8


def _labels():
    return np.array([f"class {i % N_LABELS}" for i in range(N_IMAGES)])


def _top_of_label(labels, label, rng):
    """Store indices of TOP images of one label, largest code first."""
    return rng.choice(np.flatnonzero(labels == label), size=TOP, replace=False)


def _planted(rng, labels, n_models=2, coherent=15, random=15):
    """Top images ``(M, TOP, m)``: the first ``coherent`` concepts fire on one label each, the rest at random."""
    m = coherent + random
    indices = np.zeros((n_models, TOP, m), dtype=np.int64)
    for model in range(n_models):
        for k in range(m):
            if k < coherent:
                indices[model, :, k] = _top_of_label(labels, f"class {k % N_LABELS}", rng)
            else:
                indices[model, :, k] = rng.choice(N_IMAGES, size=TOP, replace=False)
    values = np.sort(rng.uniform(0.5, 2.0, size=indices.shape), axis=1)[:, ::-1]
    return indices, values


def test_planted_concepts_are_coherent_with_their_label_and_random_ones_are_not():
    rng = np.random.default_rng(0)
    labels = _labels()
    indices, values = _planted(rng, labels)
    result = coherence(indices, values, labels, TOP, permutations=1000, fdr=0.05, seed=0)
    vocabulary = result["vocabulary"]
    assert result["problem"] is None and result["tested"].all()
    false_discoveries = result["coherent"][:, 15:].sum() / result["coherent"].sum()
    assert result["coherent"][:, :15].all() and false_discoveries < 0.15  # BH holds it near 0.05 on average
    assert [vocabulary[code] for code in result["label"][0, :15]] == [f"class {k % N_LABELS}" for k in range(15)]
    assert np.allclose(result["share"][:, :15], 1.0) and np.allclose(result["enrichment"][:, :15], N_LABELS)


def test_the_same_concepts_with_shuffled_labels_are_not_coherent():
    rng = np.random.default_rng(1)
    labels = _labels()
    indices, values = _planted(rng, labels, coherent=30, random=0)
    shuffled = rng.permutation(labels)
    result = coherence(indices, values, shuffled, TOP, permutations=1000, fdr=0.05, seed=0)
    assert result["coherent"].mean() < 0.1


def test_permutation_p_values_are_calibrated_on_null_data():
    rng = np.random.default_rng(2)
    labels = _labels()
    indices, values = _planted(rng, labels, n_models=1, coherent=0, random=4000)
    p = coherence(indices, values, labels, TOP, permutations=2000, fdr=0.05, seed=3)["p"].ravel()
    assert abs((p < 0.05).mean() - 0.05) < 0.012  # 4000 p-values: the sd of the share is 0.0034
    assert abs((p < 0.5).mean() - 0.5) < 0.03


def test_p_values_break_ties_uniformly():
    null = np.array([1, 1, 2, 2, 2, 3])
    p = permutation_p(np.full(20000, 2), null, np.random.default_rng(0))
    assert p.min() >= 1 / 7 and p.max() <= 5 / 7 and abs(p.mean() - 3 / 7) < 0.01  # (1 + U * 4) / 7


def test_a_concept_firing_on_fewer_images_than_the_top_is_not_tested():
    rng = np.random.default_rng(4)
    labels = _labels()
    indices, values = _planted(rng, labels, coherent=4, random=0)
    values[0, 5:, 0] = 0.0  # fires on 5 images only in model 0
    result = coherence(indices, values, labels, TOP, permutations=200, fdr=0.05, seed=0)
    assert not result["tested"][0, 0] and result["tested"][1, 0]
    assert np.isnan(result["share"][0, 0]) and result["label"][0, 0] == -1 and not result["coherent"][0, 0]


@pytest.mark.parametrize(
    "labels, top, problem",
    [
        ([""] * 20, 8, "no labels"),
        (["a"] * 20, 8, "one label only"),
        (["a", "b"] * 9 + ["", ""], 8, "labels missing for 2 of 20 images"),
        (["a", "b"] * 3, 8, "top 8 images asked of 6 images"),
    ],
)
def test_labels_that_cannot_be_judged_say_why(labels, top, problem):
    indices = np.zeros((2, top, 3), dtype=np.int64)
    result = coherence(indices, np.ones(indices.shape), np.array(labels), top, 100, 0.05, 0)
    assert result == {"problem": problem}


def test_labels_with_commas_quotes_and_markup_are_codes_like_any_other():
    codes, vocabulary = encode_labels(['a, "b"', "<script>x</script>", "", 'a, "b"'])
    assert vocabulary == ["<script>x</script>", 'a, "b"'] and codes.tolist() == [1, 0, -1, 1]


def test_majority_counts_rows_and_breaks_ties_to_the_smaller_label():
    label, count = majority(np.array([[2, 2, 1], [0, 1, 1], [3, 0, 0], [1, 0, 2]]), 4)
    assert label.tolist() == [2, 1, 0, 0] and count.tolist() == [2, 2, 2, 1]


def test_agreement_counts_models_sharing_a_top_label_among_the_tested():
    label = np.array([[0, 1, 2, 4], [0, 1, 3, 4], [0, 2, 3, 1]])
    tested = np.array([[True, True, True, False], [True, True, True, False], [True, True, True, False]])
    agreeing, agreed = agreement(label, tested)
    assert agreeing.tolist() == [3, 2, 2, 0] and agreed.tolist() == [0, 1, 3, -1]


def test_chance_agreement_and_its_test():
    assert chance_all_agree([0.5, 0.5], 3) == pytest.approx(0.25)
    share, p = agreement_test(np.array([True] * 8 + [False] * 2), 0.25)
    assert share == 0.8 and p < 1e-3
    share, p = agreement_test(np.array([True] * 2 + [False] * 6), 0.25)
    assert p > 0.5
    assert np.isnan(agreement_test(np.array([], dtype=bool), 0.25)[1])


def test_the_coherence_table_lists_every_group_beside_its_chance():
    figures = {"tested": 10, "coherent_share": 0.3, "label_share_mean": 0.4}
    summary = {
        "run": True,
        "fdr": 0.05,
        "null_label_share_mean": 0.2,
        **dict.fromkeys(("all", "universal", "specific"), figures),
        "per_model": {"a": figures, "b": figures},
        "agreement": {"concepts": 7, "all_agree_share": 0.5, "chance": 0.02, "p": 1e-6},
    }
    table = coherence_table(summary, {"a": "Model A"})
    assert table["group"].tolist()[::2] == ["all", "universal", "specific (own model)", "Model A", "b", "universal"]
    shares = table[table["statistic"] == "mean top-label share"]
    assert (shares["value"] == 0.4).all() and (shares["chance"] == 0.2).all()
    assert table.iloc[-1][["pairs", "value", "chance", "p"]].tolist() == [7, 0.5, 0.02, 1e-6]
    not_run = coherence_table({"run": False, "reason": "one label only"})
    assert not_run["statistic"].tolist() == ["not run (one label only)"]
