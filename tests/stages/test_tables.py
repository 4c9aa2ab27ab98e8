"""Stage tables: Table 1, universality table, concept tables and the scorecard (Markdown and JSON)."""

import re

import pandas as pd
import pytest

from usae import jobs
from usae.analysis.sweep_summary import HEADLINE_METRICS
from usae.io import read_json
from usae.stages.tables import tables


def test_tables_and_scorecard(tiny_evaluated, tmp_path):
    config, layout = tiny_evaluated
    name = config["dataset"]["name"]
    out = dict(
        reconstruction=[tmp_path / "r.csv", tmp_path / "r.md"],
        universality=[tmp_path / "u.csv", tmp_path / "u.md"],
        concepts_all=tmp_path / "c.csv",
        concepts_top25=tmp_path / "c.md",
        scorecard_md=tmp_path / "s.md",
        scorecard_json=tmp_path / "s.json",
        headline=tmp_path / "h.json",
        coherence_table=[tmp_path / "coherence.csv", tmp_path / "coherence.md"],
        firing_sets=[tmp_path / "sets.csv", tmp_path / "sets.md"],
    )
    card = tables(
        [layout.metrics(name, "matrices.json")],
        [layout.metrics(name, "summary.json")],
        layout.metrics(name, "concepts.csv"),
        **out,
        coherence=layout.metrics(name, "coherence.json"),
        datasets=[name],
        experiment=name,
        labels=jobs.model_labels(config),
        families=jobs.families(config),
    )
    sets = pd.read_csv(tmp_path / "sets.csv")
    alive = pd.read_csv(layout.metrics(name, "concepts.csv")).query("not dead")
    assert sets["concepts"].sum() <= len(alive) and sets["share"].sum() == pytest.approx(1.0)
    assert len(pd.read_csv(tmp_path / "r.csv")) == len(config["models"])
    assert (tmp_path / "s.md").read_text().startswith("# Scorecard")
    # A reader sees display names, never a raw model id; the claims' ids keep the ids.
    shown = [(tmp_path / "s.md").read_text(), *card["claim"], *card["this run"], *card["paper"], *card["gate"]]
    assert not [text for text in shown for model in config["models"] if re.search(rf"{model}(?![\w-])", text)]
    assert all(label in shown[0] for label in jobs.model_labels(config).values())
    assert any(model in claim for claim in card["id"] for model in config["models"])
    counts = read_json(tmp_path / "s.json")
    assert sum(
        counts[f"claims_{verdict}"] for verdict in ("holding", "not_holding", "not_judged", "not_applicable", "not_run")
    ) == len(card)
    assert set(counts["r2"]) == set(config["models"])
    assert set(card.loc[card["source"] == "Fig. 7", "holds"]) == {"not run"}  # no independent SAEs
    headline = read_json(tmp_path / "h.json")
    assert set(HEADLINE_METRICS) < set(headline) and headline["fig7_matched_share"] is None
    assert headline["claims_not_run"] == counts["claims_not_run"] and len(headline) == 11  # fits dvc exp show
    evidence, coherence = read_json(layout.metrics(name, "coherence.json")), pd.read_csv(tmp_path / "coherence.csv")
    if evidence["run"]:
        first = coherence.iloc[0]
        assert first["group"] == "all" and first["pairs"] == evidence["all"]["tested"]
    else:
        assert coherence["statistic"].tolist() == [f"not run ({evidence['reason']})"]
