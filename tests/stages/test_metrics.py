"""Stage metrics: R2 matrices, per-concept statistics, top images and the summary of one dataset."""

import numpy as np
import pandas as pd

from usae import jobs
from usae.io import read_json
from usae.options import ExplorerOptions, MetricsOptions
from usae.stages.metrics import metrics


def test_metrics_files(tiny_trained, tmp_path):
    config, layout = tiny_trained
    name = config["dataset"]["name"]
    stores = jobs.stores(config, layout, name, "val")
    independent = [layout.run_files("independent")["weights"], layout.run_files("independent")["meta"]]
    out = {
        key: tmp_path / f
        for key, f in [
            ("matrices", "m.json"),
            ("concepts", "c.csv"),
            ("top_images", "t.npz"),
            ("summary", "s.json"),
            ("coherence", "h.json"),
        ]
    }
    summary = metrics(
        layout.run_files("usae")["weights"],
        layout.run_files("usae")["meta"],
        stores,
        **out,
        dataset=name,
        options=MetricsOptions.from_config(config, coherence_images=4, top_images=3),
        kinds=ExplorerOptions.from_config(config),
        seed=0,
        independent=independent,
        manifest=[jobs.manifest(config, name, "val")],
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
    assert top["indices"].shape == (n_models, 4, config["train"]["n_concepts"])  # at least coherence_images
    n_val = config["dataset"]["embedded"]["n_val"]
    assert summary["tokens"] == n_val * 49 == read_json(out["summary"])["tokens"]
    coherence = read_json(out["coherence"])
    assert coherence["run"] and coherence["top_images"] == 4 and sum(coherence["labels"].values()) == n_val
    assert coherence["all"]["tested"] == sum(frame[f"label_share_{m}"].notna().sum() for m in config["models"])
    assert set(frame["kind"]) <= {"universal", "mixed", "dead", *(f"only {m}" for m in config["models"])}
    tested = frame[f"label_share_{config['models'][0]}"].notna()
    assert frame.loc[tested, f"label_{config['models'][0]}"].isin(list(coherence["labels"])).all()


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
        tmp_path / "h.json",
        dataset=name,
        options=MetricsOptions.from_config(config),
        kinds=ExplorerOptions.from_config(config),
        seed=0,
    )
    assert read_json(tmp_path / "m.json")["independent"] == {}
    assert read_json(tmp_path / "h.json")["reason"] == "no labels"  # no manifest: imported activations
    assert pd.read_csv(tmp_path / "c.csv")[f"label_share_{config['models'][0]}"].isna().all()
