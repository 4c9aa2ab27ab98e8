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
    replicates(cards, **out, runs=["r0", "r1"], seeds=[0, 1000], experiment="toy")
    summary = read_json(tmp_path / "s.json")
    assert summary["claims_fragile"] == 1 and summary["seeds"] == [0, 1000]
    assert summary["claims"][0]["value:r0"] == 0.2 and summary["claims"][0]["holds"] == "1/2"
    page = (tmp_path / "s.md").read_text()
    assert page.startswith("# Scorecard over 2 replicates") and "r1 (seed 1000)" in page
    assert "0.100 ± 0.141 (0.000 to 0.200)" in page and "fragile" in page
    assert list(pd.read_csv(tmp_path / "t.csv")["holds"]) == ["1/2"]


def test_one_scorecard_per_run(tmp_path):
    with pytest.raises(ValueError, match="one scorecard per run"):
        replicates(
            [_scorecard(tmp_path / "a.json", 0.1, "yes")],
            [tmp_path / "t.csv"],
            tmp_path / "s.md",
            tmp_path / "s.json",
            runs=["r0", "r1"],
            seeds=[0, 1000],
            experiment="toy",
        )
