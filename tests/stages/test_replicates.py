"""Stage replicates: the scorecard over replicate runs, from each run's scorecard.json."""

import pandas as pd
import pytest

from usae.io import read_json, write_json
from usae.stages.replicates import replicates


def _scorecard(path, share, holds):
    write_json(
        path,
        {
            "claims": [
                {
                    "id": "fig7_share:a",
                    "source": "Fig. 7",
                    "claim": "share of a matched",
                    "paper": "0.26",
                    "this run": f"{share:.3f}",
                    "holds": holds,
                    "value": share,
                }
            ]
        },
    )
    return path


def _stability(path, universal=(0.8, 40), specific=(0.5, 20), margin=0.3):
    figures = {
        "pairs": ["r0-r1"],
        "margin_above_random": margin,
        "atoms_mean": 0.7,
        "random_mean": 0.4,
        "universal": dict(zip(("mean", "concepts"), universal)),
        "specific": dict(zip(("mean", "concepts"), specific)),
    }
    write_json(path, figures)
    return path


def test_the_scorecard_over_replicates(tmp_path):
    cards = [
        _scorecard(tmp_path / f"{run}.json", share, holds)
        for run, share, holds in [("r0", 0.2, "yes"), ("r1", 0.0, "no")]
    ]
    out = dict(
        table=[tmp_path / "t.csv", tmp_path / "t.md"],
        scorecard_md=tmp_path / "s.md",
        scorecard_json=tmp_path / "s.json",
    )
    replicates(cards, _stability(tmp_path / "st.json"), **out, runs=["r0", "r1"], seeds=[0, 1000], experiment="toy")
    summary = read_json(tmp_path / "s.json")
    assert summary["claims_fragile"] == 1 and summary["seeds"] == [0, 1000]
    assert summary["claims"][0]["value:r0"] == 0.2 and summary["claims"][0]["holds"] == "1/2"
    page = (tmp_path / "s.md").read_text()
    assert page.startswith("# Scorecard over 2 replicates") and "r1 (seed 1000)" in page
    assert "0.100 ± 0.141 (0.000 to 0.200)" in page and "fragile" in page
    assert list(pd.read_csv(tmp_path / "t.csv")["holds"]) == ["1/2", "yes", "yes"]
    stability = {claim["id"]: claim for claim in summary["claims"][1:]}
    assert stability["stability_universal_vs_specific"]["mean"] == pytest.approx(0.3)
    assert summary["claims_holding_every_run"] == 2


def test_stability_claims_are_gated_on_the_concepts_of_each_kind(tmp_path):
    card = _scorecard(tmp_path / "r0.json", 0.2, "yes")
    out = dict(table=[tmp_path / "t.csv"], scorecard_md=tmp_path / "s.md", scorecard_json=tmp_path / "s.json")
    stability = _stability(tmp_path / "st.json", specific=(0.9, 2), margin=-0.1)
    replicates([card, card], stability, **out, runs=["r0", "r1"], seeds=[0, 1000], experiment="toy")
    claims = {claim["id"]: claim for claim in read_json(tmp_path / "s.json")["claims"]}
    assert claims["stability_above_random"]["holds"] == "no"
    assert claims["stability_universal_vs_specific"]["holds"] == "not judged"
    assert claims["stability_universal_vs_specific"]["gates"] == "concepts: specific 2 (needs 5 of each)"


def test_one_scorecard_per_run(tmp_path):
    with pytest.raises(ValueError, match="one scorecard per run"):
        replicates(
            [_scorecard(tmp_path / "a.json", 0.1, "yes")],
            _stability(tmp_path / "st.json"),
            [tmp_path / "t.csv"],
            tmp_path / "s.md",
            tmp_path / "s.json",
            runs=["r0", "r1"],
            seeds=[0, 1000],
            experiment="toy",
        )
