"""Concepts counted by the set of models they fire in, on a hand-made case."""

import pandas as pd

from usae.analysis.firing_sets import (
    family_ordered_matrix,
    firing_membership,
    firing_set_table,
    firing_sets,
    ordered_by_family,
)

NAMES = ["vit", "lite0", "lite1", "mnv2"]
FAMILIES = {"vit": "ViT", "lite0": "EfficientNet", "mnv2": "MobileNet", "lite1": "EfficientNet"}


def _frame(rows):
    """``rows``: per concept, the models it fires in; a concept firing nowhere, and one dead, are added."""
    fires = {name: [int(name in row) * 7 for row in rows] + [0, 5] for name in NAMES}
    dead = [False] * len(rows) + [False, True]
    columns = {f"{column}_{name}": fires[name] for column in ("fires", "fires_with_top") for name in NAMES}
    return pd.DataFrame({**columns, "dead": dead})


def test_concepts_are_counted_by_the_exact_set_of_models_they_fire_in():
    rows = [set(NAMES)] * 4 + [{"lite0", "lite1", "mnv2"}] * 3 + [{"lite0", "lite1"}] * 3 + [{"vit"}] * 2
    sets = firing_sets(_frame(rows), NAMES)
    assert sets["models"].tolist() == [tuple(NAMES), ("lite0", "lite1"), ("lite0", "lite1", "mnv2"), ("vit",)]
    assert sets["concepts"].tolist() == [4, 3, 3, 2] and sets["size"].tolist() == [4, 2, 3, 1]
    assert sets["share"].tolist() == [4 / 12, 3 / 12, 3 / 12, 2 / 12]  # of the alive concepts that fire


def test_a_model_counts_when_its_firings_are_alike_the_most_firing_models():
    """vit fires each concept most (100 tokens). Concept 0: lite0 fires it on 25 tokens, all with vit (cosine
    25 / sqrt(25 * 100) = 0.5, in: rarer, but the same concept); lite1 on 100, 40 of them with vit (0.4, out: a
    latent lite1 fires for something else). Concept 1: lite0 twice, once with vit (0.07, out: a filler); lite1 on
    64, 48 with vit (0.6, in)."""
    frame = pd.DataFrame(
        {
            "fires_vit": [100, 100, 0],
            "fires_lite0": [25, 2, 0],
            "fires_lite1": [100, 64, 0],
            "fires_mnv2": [0, 0, 0],
            "fires_with_top_vit": [100, 100, 0],
            "fires_with_top_lite0": [25, 1, 0],
            "fires_with_top_lite1": [40, 48, 0],
            "fires_with_top_mnv2": [0, 0, 0],
        }
    ).assign(dead=[False, False, True])
    assert firing_sets(frame, NAMES)["models"].tolist() == [("vit", "lite0"), ("vit", "lite1")]
    assert firing_sets(frame, NAMES, min_cofiring=0.0)["models"].tolist() == [("vit", "lite0", "lite1")]
    assert firing_sets(frame, NAMES, min_cofiring=0.0)["concepts"].tolist() == [2]
    assert firing_membership(frame, NAMES, 0.1).tolist() == [
        [True, True, True, False],
        [True, False, True, False],
        [False, False, False, False],
    ]
    assert firing_sets(frame, NAMES, min_cofiring=1.0)["models"].tolist() == [("vit",)]


def test_models_are_ordered_by_family_and_the_table_names_whole_families():
    ordered = ordered_by_family(NAMES, FAMILIES)
    assert ordered == ["vit", "lite0", "lite1", "mnv2"] and ordered_by_family(["b", "a"]) == ["b", "a"]
    assert ordered_by_family(["mnv2", "lite0", "vit", "lite1"], FAMILIES) == ["mnv2", "lite0", "lite1", "vit"]
    rows = [{"lite0", "lite1", "mnv2"}] * 2 + [{"lite0", "mnv2"}]
    table = firing_set_table(firing_sets(_frame(rows), ordered), {"lite0": "Lite0", "lite1": "Lite1"}, FAMILIES)
    assert table["models"].tolist() == ["Lite0 + Lite1 + mnv2", "Lite0 + mnv2"]
    assert table["families wholly in it"].tolist() == ["all EfficientNet", ""]  # one-model families not named


def test_a_models_by_models_matrix_is_reordered_by_family():
    names = ["mnv2", "lite0", "vit", "lite1"]
    r2 = [[10 * row + column for column in range(4)] for row in range(4)]
    matrix, ordered = family_ordered_matrix(r2, names, FAMILIES)
    assert ordered == ["mnv2", "lite0", "lite1", "vit"]
    assert matrix.tolist() == [[0, 1, 3, 2], [10, 11, 13, 12], [30, 31, 33, 32], [20, 21, 23, 22]]
