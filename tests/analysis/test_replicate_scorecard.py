import numpy as np

from usae.analysis.replicate_scorecard import replicate_counts, replicate_scorecard, replicate_scorecard_markdown


def _claim(key, value, holds, text="a claim", gate=""):
    return {
        "id": key,
        "source": "Fig. 7",
        "claim": text,
        "paper": "0.26",
        "this run": f"{value}",
        "holds": holds,
        "gate": gate,
        "value": value,
    }


def test_replicate_scorecard_counts_spread_and_fragile_claims():
    claims = {
        "r0": [
            _claim("steady", 0.30, "yes", "text of r0"),
            _claim("fragile", 0.10, "yes"),
            _claim("never", -1.0, "no"),
            _claim("unjudged", 0.5, "n/a"),
            _claim("gated", 0.1, "not judged", gate="self R2 <= 0: a"),
        ],
        "r1": [
            _claim("steady", 0.40, "yes", "text of r1"),
            _claim("fragile", -0.10, "no"),
            _claim("never", -2.0, "no"),
            _claim("unjudged", None, "n/a"),
            _claim("gated", 0.2, "yes"),
        ],
        "r2": [
            _claim("steady", 0.50, "yes"),
            _claim("fragile", 0.20, "yes"),
            _claim("never", -3.0, "no"),
            _claim("unjudged", 0.7, "n/a"),
            _claim("gated", 0.3, "no"),
        ],
    }
    table = replicate_scorecard(claims).set_index("id")
    assert table.loc["steady", "holds"] == "3/3" and not table.loc["steady", "fragile"]
    assert table.loc["steady", "claim"] == "text of r0"
    np.testing.assert_allclose(table.loc["steady", ["mean", "sd", "min", "max"]].astype(float), [0.4, 0.1, 0.3, 0.5])
    assert table.loc["fragile", "holds"] == "2/3" and table.loc["fragile", "fragile"]
    assert table.loc["never", "holds"] == "0/3"
    assert table.loc["unjudged", "holds"] == "n/a" and table.loc["unjudged", "mean"] == 0.6
    assert np.isnan(table.loc["unjudged", "value:r1"])
    assert table.loc["gated", "holds"] == "1/2" and table.loc["gated", "gates"] == "r0: self R2 <= 0: a"
    assert replicate_counts(table.reset_index()) == {
        "claims_holding_every_run": 1,
        "claims_fragile": 2,
        "claims_holding_in_no_run": 1,
        "claims_not_judged": 0,  # "unjudged" has nothing to judge in any run: n/a, not a failed gate
        "claims_not_applicable": 1,
        "claims_not_run": 0,
    }
    assert "r0: self R2 <= 0: a" in replicate_scorecard_markdown(
        table.reset_index(), "toy", list(claims), [0, 1000, 2000]
    )


def test_a_claim_gated_in_every_run_is_not_judged():
    table = replicate_scorecard(
        {run: [_claim("g", 0.1, "not judged", gate="needs 3 or more models")] for run in ["r0", "r1"]}
    )
    assert table.loc[0, "holds"] == "not judged" and table.loc[0, "runs_judged"] == 0
    assert replicate_counts(table)["claims_not_judged"] == 1
    assert replicate_counts(table)["claims_not_applicable"] == 0
