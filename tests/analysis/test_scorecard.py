import re

import numpy as np
import pandas as pd
import pytest

from tests.analysis.frames import NAMES, concept_frame
from usae.analysis.report import reconstruction_table
from usae.analysis.scorecard import json_records, scorecard, scorecard_counts, scorecard_markdown, shown_verdict

R2 = [[0.8, 0.5, 0.4], [0.3, 0.7, 0.2], [0.1, 0.6, 0.5]]


def _summary(names, **fits):
    return {
        "tokens": 1000,
        "top_concepts": 1000,
        "min_cofires_scaled": 10.0,
        "top_cofire_proportion_mean": dict.fromkeys(names, 0.3),
        "cofire_energy_all": {"r": 0.5, "slope": 1.0, "n": 40},
        "cofire_energy_frequent": {"r": 0.7, "slope": 1.0, "n": 20},
        **fits,
    }


def _baseline(shares, random_shares):
    rows = [{"model": name, "share_cosine_above_0.5": shares[name], "auc": 0.3} for name in shares]
    rows += [
        {"model": f"random ({name})", "share_cosine_above_0.5": random_shares[name], "auc": 0.15} for name in shares
    ]
    return pd.DataFrame(rows)


def _card(r2=R2, independent=None, frame=None, baseline=None, names=NAMES, rng=None, **summary):
    matrices = {"models": names, "r2": r2, "mse": [[0.2] * len(names)] * len(names), "independent": independent or {}}
    frame = concept_frame(rng) if frame is None else frame
    card = scorecard(matrices, _summary(names, **summary), frame, reconstruction_table({"toy": matrices}), baseline)
    return card.set_index("id")


def test_scorecard_flags_directions(rng):
    card = _card(independent={"a": {"r2": 0.9, "mse": 0.1}}, rng=rng)
    assert card.loc["fig5_diagonal", "holds"] == "no"
    assert card.loc["fig5_cross_positive", "holds"] == "yes"
    assert card.loc["fig5_dinov2_best", "holds"] == "n/a"
    assert card.loc["fig5_independent_r2:a", "holds"] == "yes"
    assert card.loc["fig6c_r_frequent", "holds"] == "yes"
    judged = card[~card["holds"].isin(["not run", "n/a"])]  # Fig. 7: no baseline; n/a rows give their reason
    assert (judged["gate"] != "").sum() == 1 and card.loc["fig6a_bimodal", "holds"] == "not judged"  # 60 concepts
    assert card.loc["fig5_dinov2_best", "gate"] == "DinoV2 and another model not both in this run"


def test_claims_of_stages_not_run_read_not_run_never_a_number(rng):
    card = _card(rng=rng)  # no independent SAEs, no baseline: a released USAE evaluated alone
    unrun = card[card["holds"] == "not run"]
    assert sorted(unrun.index) == sorted(
        [
            *(f"fig5_independent_r2:{n}" for n in NAMES),
            *(f"fig7_share:{n}" for n in NAMES),
            "fig7_random_auc",
            "stability_above_random",
            "stability_universal_vs_specific",
        ]
    )
    assert unrun.loc["stability_above_random", "gate"] == "replicates: 1"
    assert set(unrun["this run"]) == {"not run"} and unrun["value"].isna().all()
    assert shown_verdict("not run", unrun["gate"].iloc[0]) == "not run (no independent SAEs: train.independent is off)"
    assert scorecard_counts(card.reset_index())["claims_not_run"] == len(unrun)


def test_any_dinov2_entry_counts_for_the_dinov2_claim(rng):
    names = ["dinov2_vits14_imgfocus_block8", "b", "c"]
    frame = concept_frame(rng).rename(columns=lambda c: c[:-2] + "_" + names[0] if c.endswith("_a") else c)
    assert _card(frame=frame, names=names)["holds"]["fig5_dinov2_best"] == "yes"


def test_negative_self_r2_leaves_every_r2_claim_not_judged(rng):
    # A 2-epoch run: every R2 negative. No R2 claim may read "yes", whatever the ordering says.
    r2 = (np.array(R2) - 1.0).tolist()
    names = ["dinov2_vits14", "b", "c"]
    frame = concept_frame(rng).rename(columns=lambda c: c[:-2] + "_" + names[0] if c.endswith("_a") else c)
    card = _card(r2=r2, names=names, frame=frame, independent={"b": {"r2": -0.1, "mse": 1.0}})
    for key in ["fig5_diagonal", "fig5_cross_positive", "fig5_dinov2_best", "fig5_independent_r2:b"]:
        assert card.loc[key, "holds"] == "not judged", key
        assert card.loc[key, "gate"].startswith("self R2 <= 0:"), key
    assert "b (independent)" in card.loc["fig5_independent_r2:b", "gate"]
    markdown = scorecard_markdown(card.reset_index(), "toy", names, 1000)
    assert "not judged (self R2 <= 0: dinov2_vits14, b, c)" in markdown


def test_matching_claims_need_both_saes_above_the_stated_r2(rng):
    independent = {"a": {"r2": 0.9, "mse": 0.1}, "b": {"r2": 0.1, "mse": 0.9}, "c": {"r2": 0.6, "mse": 0.4}}
    shares, random = {"a": 0.20, "b": 0.30, "c": 0.01}, dict.fromkeys(NAMES, 0.0)
    card = _card(independent=independent, baseline=_baseline(shares, random), rng=rng)
    assert card.loc["fig7_share:a", "holds"] == "yes" and card.loc["fig7_share:a", "value"] == 0.20
    assert card.loc["fig7_share:b", "holds"] == "not judged"
    assert card.loc["fig7_share:b", "gate"] == "self R2 <= 0.2: independent 0.10"
    assert card.loc["fig7_share:c", "holds"] == "no"  # 0.01 above random is not the 0.02 margin
    assert card.loc["fig7_random_auc", "holds"] == "n/a"


def test_bimodal_claim_needs_three_models_and_a_prominent_second_mode(rng):
    frame = concept_frame(rng, m=600)
    frame["dead"] = False
    frame["entropy"] = np.concatenate([np.full(300, 0.97), np.full(200, 0.62), rng.uniform(0, 1, 100)])
    card = _card(frame=frame)
    assert card.loc["fig6a_bimodal", "holds"] == "yes" and card.loc["fig6a_bimodal", "value"] > 0.5
    # Each mode's prominence is given with its unit, and as the share the claim is judged by.
    shown = card.loc["fig6a_bimodal", "this run"]
    share = f"{card.loc['fig6a_bimodal', 'value']:.2f} of the tallest mode"
    assert re.search(r"0\.6\d\d \(prominence \d+ concepts, ", shown) and share in shown, shown
    frame["entropy"] = np.concatenate([np.full(300, 0.97), rng.uniform(0, 1, 300)])
    assert _card(frame=frame).loc["fig6a_bimodal", "holds"] == "no"
    two = _card(r2=[[0.8, 0.5], [0.4, 0.7]], names=["a", "b"], frame=frame)
    assert two.loc["fig6a_bimodal", "holds"] == "not judged" and "3 or more models" in two.loc["fig6a_bimodal", "gate"]


def test_correlation_claims_need_enough_concepts_in_the_fit(rng):
    card = _card(rng=rng, cofire_energy_frequent={"r": 0.9, "slope": 1.0, "n": 4})
    assert card.loc["fig6c_r_frequent", "holds"] == "not judged"
    assert card.loc["fig6c_r_frequent", "gate"] == "4 concepts in the fit (needs 10)"
    assert card.loc["fig6c_r_all", "holds"] == "yes"


def test_counts_cover_every_claim_and_keep_n_a_apart_from_not_judged(rng):
    card = _card(rng=rng).reset_index()
    counts = scorecard_counts(card)
    verdicts = ("holding", "not_holding", "not_judged", "not_applicable", "not_run")
    assert sum(counts[f"claims_{verdict}"] for verdict in verdicts) == len(card)
    assert counts["claims_not_applicable"] == (card["holds"] == "n/a").sum() > 0  # the random AUC at least
    assert counts["claims_not_judged"] == (card["holds"] == "not judged").sum()


def test_every_scorecard_claim_has_a_stable_id_and_a_json_value(rng):
    frame = concept_frame(rng)
    matrices = {"models": NAMES, "r2": np.eye(3).tolist(), "mse": np.eye(3).tolist(), "independent": {}}
    summary = _summary(NAMES, top_concepts=10, cofire_energy_frequent={"r": float("nan"), "slope": 1.0, "n": 0})
    records = json_records(scorecard(matrices, summary, frame))
    ids = [record["id"] for record in records]
    assert len(ids) == len(set(ids)) and "fig5_diagonal" in ids and "fig6b_cfp:a" in ids
    by_id = {record["id"]: record for record in records}
    assert by_id["fig5_diagonal"]["value"] == 1.0 and by_id["fig6c_r_frequent"]["value"] is None
    assert all(
        set(record) == {"id", "source", "claim", "paper", "this run", "holds", "gate", "value"} for record in records
    )


def test_the_diagonal_over_channel_means_is_judged_beside_the_papers(rng):
    matrices = {
        "models": NAMES,
        "r2": R2,
        "r2_over_channel_means": [[0.5, 0.1, 0.1], [0.0, 0.4, 0.1], [0.0, 0.1, 0.3]],
        "mse": [[0.2] * 3] * 3,
        "independent": {},
    }
    card = scorecard(matrices, _summary(NAMES), concept_frame(rng)).set_index("id")
    assert card.loc["fig5_diagonal", "holds"] == "no"
    assert card.loc["fig5_diagonal_over_channel_means", "holds"] == "yes"
    assert card.loc["fig5_diagonal_over_channel_means", "value"] == pytest.approx(0.2)


def _coherence(run=True, tested=100, share=0.3, universal=(0.5, 40), specific=(0.4, 20), agree=(0.6, 30, 0.1, 1e-6)):
    figures = {
        "run": run,
        "reason": None if run else "no labels",
        "fdr": 0.05,
        "all": {"tested": tested, "coherent_share": share, "label_share_mean": 0.4},
        "universal": {"tested": universal[1], "coherent_share": 0.3, "label_share_mean": universal[0]},
        "specific": {"tested": specific[1], "coherent_share": 0.3, "label_share_mean": specific[0]},
        "agreement": dict(zip(("all_agree_share", "concepts", "chance", "p"), agree)),
    }
    return figures


def _evidence_card(coherence, replicated=False, rng=None):
    matrices = {"models": NAMES, "r2": R2, "mse": [[0.2] * 3] * 3, "independent": {}}
    frame = concept_frame(rng or np.random.default_rng(0))
    card = scorecard(matrices, _summary(NAMES), frame, coherence=coherence, replicated=replicated)
    return card.set_index("id")


COHERENCE_CLAIMS = ["coherence_above_chance", "coherence_universal_vs_specific", "label_agreement"]


def test_label_coherence_claims_are_judged_gated_or_not_run():
    card = _evidence_card(_coherence())
    assert card.loc[COHERENCE_CLAIMS, "holds"].tolist() == ["yes", "yes", "yes"]
    assert card.loc["coherence_universal_vs_specific", "value"] == pytest.approx(0.1)
    worse = _evidence_card(_coherence(share=0.01, universal=(0.3, 40), agree=(0.12, 30, 0.1, 0.4)))
    assert worse.loc[COHERENCE_CLAIMS, "holds"].tolist() == ["no", "no", "no"]
    few = _evidence_card(_coherence(tested=10, specific=(0.4, 2), agree=(1.0, 3, 0.1, 0.001)))
    assert set(few.loc[COHERENCE_CLAIMS, "holds"]) == {"not judged"}
    assert few.loc["coherence_universal_vs_specific", "gate"] == "pairs tested: specific 2 (needs 5 of each)"
    none = _evidence_card(_coherence(run=False))
    assert none.loc["label_agreement", "holds"] == "not run" and none.loc["label_agreement", "gate"] == "no labels"
    assert _evidence_card(None, replicated=True).loc["stability_above_random", "gate"].startswith("judged over the")


def test_a_claim_with_nothing_to_judge_says_why(rng):
    """Table 1 rows of models or datasets the paper did not report, and the random AUC, read "n/a (reason)"."""
    card = _card(rng=rng)
    rows = card[card.index.str.startswith("table1_r2:")]
    assert len(rows) == len(NAMES) and set(rows["holds"]) == {"n/a"}
    assert rows["gate"].str.startswith("the paper reports no R2 for ").all()
    assert shown_verdict("n/a", rows["gate"].iloc[0]).startswith("n/a (the paper reports no R2 for ")
    assert shown_verdict("n/a", "") == "n/a"
