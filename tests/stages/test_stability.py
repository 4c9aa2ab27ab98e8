"""Stage stability: a run matched with an exact copy of itself is perfectly stable, and random atoms are not."""

import pandas as pd
import pytest

from usae import jobs
from usae.io import read_json
from usae.options import MetricsOptions
from usae.stages.stability import stability


def test_a_run_matched_with_its_copy_is_perfectly_stable(tiny_evaluated, tmp_path):
    config, layout = tiny_evaluated
    name = config["dataset"]["name"]
    run = layout.run_files("usae")
    concepts = layout.metrics(name, "concepts.csv")
    figures = stability(
        [run["weights"]] * 2,
        [run["meta"]] * 2,
        [concepts] * 2,
        jobs.stores(config, layout, name, "val"),
        [tmp_path / "t.csv", tmp_path / "t.md"],
        tmp_path / "c.csv",
        tmp_path / "s.json",
        [tmp_path / "f.png", tmp_path / "f.pdf"],
        runs=["r0", "r1"],
        labels={config["models"][0]: "First Model"},
        options=MetricsOptions.from_config(config),
        images=3,
        seed=0,
    )
    table = pd.read_csv(tmp_path / "t.csv")
    markdown = (tmp_path / "t.md").read_text()
    assert (
        "First Model" in markdown
        and config["models"][0] not in markdown
        and set(table["model"]) == set(config["models"])
    )
    alive = table[table["kind"] == "all"].set_index(["model", "method"])["mean"]
    for model in config["models"]:
        assert alive[(model, "atoms")] == pytest.approx(1.0) and alive[(model, "joint")] == pytest.approx(1.0)
        assert alive[(model, "random")] < 0.6
    assert figures["margin_above_random"] > 0.4 and figures["code_images"] == 3
    assert read_json(tmp_path / "s.json")["pairs"] == ["r0-r1"]
    per_concept = pd.read_csv(tmp_path / "c.csv")
    assert len(per_concept) == config["train"]["n_concepts"] and set(per_concept.columns) >= {"kind", "joint_stability"}
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "f.pdf").read_bytes()[:4] == b"%PDF"
