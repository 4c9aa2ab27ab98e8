"""Stage baseline: matched pairs per model, the matching table and Figs. 7, 7b and 16."""

import pandas as pd

from usae import jobs
from usae.stages.baseline import baseline


def test_baseline_files(tiny_evaluated, tmp_path):
    config, layout = tiny_evaluated
    name = config["dataset"]["name"]
    pairs = [tmp_path / f"pairs_{model}.csv" for model in config["models"]]
    figures = {key: [tmp_path / f"{key}.png", tmp_path / f"{key}.pdf"] for key in ("fig7", "fig16", "fig7b")}
    table = baseline(layout.run_files("usae")["weights"], layout.run_files("usae")["meta"],
                     layout.run_files("independent")["weights"], layout.run_files("independent")["meta"],
                     layout.metrics(name, "concepts.csv"), jobs.stores(config, layout, name, "val"),
                     jobs.manifest(config, name, "val"), pairs, [tmp_path / "t.csv", tmp_path / "t.md"], **figures,
                     top_cofiring=10, batch_images=2, gallery_images=2, seed=0)
    assert list(table["model"]) == [label for m in config["models"] for label in (m, f"random ({m})")]
    for path in pairs:
        matched = pd.read_csv(path)
        assert sorted(matched["usae_concept"]) == list(range(config["train"]["n_concepts"]))
        assert matched["cosine"].between(-1, 1).all()
    for paths in figures.values():
        assert all(path.stat().st_size > 1000 for path in paths)
    assert len(pd.read_csv(tmp_path / "t.csv")) == len(table) and (tmp_path / "t.md").read_text().startswith("| model")
