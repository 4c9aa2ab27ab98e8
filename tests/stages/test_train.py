"""Stage train: a run's files from the training stores, and its plan records the library code."""

import pandas as pd

from usae.io import read_json
from usae.provenance import code_digest
from usae.sae.checkpoint import load_trained
from usae.stages.train import train


def _files(layout, kind):
    return dict(weights=layout.trained(kind, "model.safetensors"), meta=layout.trained(kind, "model.json"),
                log_csv=layout.trained(kind, "log.csv"), curves=layout.figure_files(f"curves_{kind}"))


def test_trained_run_files(tiny_trained):
    config, layout = tiny_trained
    for kind in ["usae", "independent"]:
        files = _files(layout, kind)
        module, meta = load_trained(files["weights"], files["meta"])
        assert meta["kind"] == kind and meta["models"] == config["models"]
        assert len(pd.read_csv(files["log_csv"])) == meta["steps"]


def test_the_plan_holds_the_code_digest(tiny_trained, tmp_path):
    config, layout = tiny_trained
    stores = [layout.store(config["dataset"]["name"], "train", model) for model in config["models"]]
    out = {key: str(tmp_path / name) for key, name in
           [("weights", "model.safetensors"), ("meta", "model.json"), ("log_csv", "log.csv")]}
    train(stores, **out, curves=[tmp_path / "c.png"], kind="usae", options={**config["train"], "epochs": 1}, seed=0)
    state = read_json(next((tmp_path / "checkpoints").glob("*/state.json")))
    assert state["plan"]["provenance"]["code"] == code_digest("usae.stages.train")
    assert (tmp_path / "c.png").stat().st_size > 1000
