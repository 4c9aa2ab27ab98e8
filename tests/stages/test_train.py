"""Stage train: a run's files from the training stores, and its plan records the library code."""

import pandas as pd

from usae import jobs
from usae.io import read_json
from usae.options import TrainOptions
from usae.provenance import code_digest
from usae.records import TrainRun
from usae.sae.checkpoint import load_trained
from usae.stages.train import train, train_group


def test_trained_run_files(tiny_trained):
    config, layout = tiny_trained
    for kind in ["usae", "independent"]:
        files = layout.run_files(kind)
        module, meta = load_trained(files["weights"], files["meta"])
        assert meta["kind"] == kind and meta["models"] == config["models"]
        assert len(pd.read_csv(files["log_csv"])) == meta["steps"]
        for model in config["models"]:
            store = read_json(jobs.store(config, layout, config["dataset"]["name"], "train", model))
            assert meta["model_specs"][model] == {"spec": store["source"]["spec"], "grid": [7, 7], "dtype": "float16"}
            assert (
                meta["model_specs"][model]["spec"]["image_size"]
                == {"efficientnet_lite0": 224, "efficientnet_lite1": 240}[model]
            )


def test_the_plan_holds_the_code_digest(tiny_trained, tmp_path):
    config, layout = tiny_trained
    stores = jobs.stores(config, layout, config["dataset"]["name"], "train")
    out = {
        key: str(tmp_path / name)
        for key, name in [("weights", "model.safetensors"), ("meta", "model.json"), ("log_csv", "log.csv")]
    }
    train(stores, **out, kind="usae", options=TrainOptions.from_config(config, epochs=1), seed=0)
    state = read_json(next((tmp_path / "checkpoints").glob("*/state.json")))
    assert state["plan"]["provenance"]["code"] == code_digest("usae.stages.train")


def test_a_run_writes_the_paths_it_is_given(tiny_trained, tmp_path):
    config, layout = tiny_trained
    stores = jobs.stores(config, layout, config["dataset"]["name"], "train")
    out = {"weights": tmp_path / "w.safetensors", "meta": tmp_path / "w.json", "log_csv": tmp_path / "steps.csv"}
    train(stores, **out, kind="independent", options=TrainOptions.from_config(config, epochs=1), seed=0)
    module, meta = load_trained(out["weights"], out["meta"])
    assert meta["kind"] == "independent" and len(pd.read_csv(out["log_csv"])) == meta["steps"]
    assert (tmp_path / "checkpoints").is_dir() and not (tmp_path / "model.safetensors").exists()


def test_a_group_writes_the_files_of_its_runs_trained_apart(tiny_trained, tmp_path):
    config, layout = tiny_trained
    stores = jobs.stores(config, layout, config["dataset"]["name"], "train")
    runs = [
        TrainRun("usae", TrainOptions.from_config(config, epochs=1, lr=0.001), 0),
        TrainRun("usae", TrainOptions.from_config(config, epochs=2, lr=0.003), 0),
        TrainRun("independent", TrainOptions.from_config(config, epochs=1), 0),
    ]

    def files(root, index):
        return {
            "weights": root / f"{index}/model.safetensors",
            "meta": root / f"{index}/model.json",
            "log_csv": root / f"{index}/log.csv",
        }

    for index, run in enumerate(runs):
        train(stores, **files(tmp_path / "apart", index), kind=run.kind, options=run.options, seed=run.seed)
    grouped = [files(tmp_path / "together", index) for index in range(len(runs))]
    train_group(stores, **{key: [f[key] for f in grouped] for key in grouped[0]}, runs=runs)
    for index in range(len(runs)):
        for name in ["model.safetensors", "model.json", "log.csv"]:
            assert (tmp_path / f"together/{index}/{name}").read_bytes() == (
                tmp_path / f"apart/{index}/{name}"
            ).read_bytes()
