"""Stage metrics: R2 matrices, per-concept statistics, top images and the summary of one dataset."""

import numpy as np
import pandas as pd

from usae import jobs
from usae.io import read_json
from usae.options import MetricsOptions
from usae.stages.metrics import metrics


def test_metrics_files(tiny_trained, tmp_path):
    config, layout = tiny_trained
    name = config["dataset"]["name"]
    stores = jobs.stores(config, layout, name, "val")
    independent = [layout.run_files("independent")["weights"], layout.run_files("independent")["meta"]]
    out = {
        key: tmp_path / f
        for key, f in [("matrices", "m.json"), ("concepts", "c.csv"), ("top_images", "t.npz"), ("summary", "s.json")]
    }
    summary = metrics(
        layout.run_files("usae")["weights"],
        layout.run_files("usae")["meta"],
        stores,
        **out,
        dataset=name,
        options=MetricsOptions.from_config(config),
        independent=independent,
    )
    matrices = read_json(out["matrices"])
    n_models = len(config["models"])
    assert np.array(matrices["r2"]).shape == (n_models, n_models) and set(matrices["independent"]) == set(
        config["models"]
    )
    run_stats = read_json(layout.run_files("usae")["meta"])["stats"]
    standardisation = matrices["standardisation"]
    assert standardisation["from"] == "model.json" and {
        model: [entry["mean"], entry["std"]] for model, entry in standardisation["models"].items()
    } == {model: list(run_stats[model]) for model in config["models"]}
    frame = pd.read_csv(out["concepts"])
    assert len(frame) == config["train"]["n_concepts"] and frame["entropy"].between(0, 1).all()
    top = np.load(out["top_images"])
    assert top["indices"].shape == (n_models, config["metrics"]["top_images"], config["train"]["n_concepts"])
    n_val = config["dataset"]["embedded"]["n_val"]
    assert summary["tokens"] == n_val * 49 == read_json(out["summary"])["tokens"]


def test_without_independent_saes(tiny_trained, tmp_path):
    config, layout = tiny_trained
    name = config["dataset"]["name"]
    stores = jobs.stores(config, layout, name, "val")
    metrics(
        layout.run_files("usae")["weights"],
        layout.run_files("usae")["meta"],
        stores,
        tmp_path / "m.json",
        tmp_path / "c.csv",
        tmp_path / "t.npz",
        tmp_path / "s.json",
        dataset=name,
        options=MetricsOptions.from_config(config),
    )
    assert read_json(tmp_path / "m.json")["independent"] == {}
