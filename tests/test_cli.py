import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from usae import jobs
from usae.activations.store import ActivationStore
from usae.cli import main


def test_help_lists_the_stages():
    result = subprocess.run([sys.executable, "-m", "usae.cli", "--help"], capture_output=True, text=True, check=True)
    for stage in [
        "fetch",
        "extract",
        "train",
        "metrics",
        "baseline",
        "actmax",
        "figures",
        "tables",
        "explorer",
        "import-acts",
    ]:
        assert stage in result.stdout


def test_import_acts_writes_a_store(tmp_path, rng):
    acts_NTD = rng.normal(size=(5, 9, 3)).astype(np.float32)
    np.save(tmp_path / "acts.npy", acts_NTD)
    (tmp_path / "ids.txt").write_text("\n".join(f"x{i}" for i in range(5)) + "\n")
    code = main(
        [
            "import-acts",
            "--acts",
            str(tmp_path / "acts.npy"),
            "--ids",
            str(tmp_path / "ids.txt"),
            "--model",
            "mine",
            "--out",
            str(tmp_path / "store"),
            "--dtype",
            "float32",
            "--shard-images",
            "2",
        ]
    )
    assert code == 0
    store = ActivationStore(tmp_path / "store")
    assert store.model == "mine" and store.meta["grid"] == [3, 3]
    np.testing.assert_array_equal(store.images(0, 5), acts_NTD)


def test_bad_config_is_one_line_and_exit_2(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("extract: {grd: 3}\n")
    assert main(["fetch", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"usae: error: {config}: unknown key 'extract.grd' (did you mean 'grid'?)"


def test_missing_dataset_is_one_line(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(
        f"results: {tmp_path}/r\ndata: {tmp_path}/d\nactivations: {tmp_path}/a\n"
        f"dataset: {{name: inet, source: imagenet_folder, root: {tmp_path}/none}}\n"
    )
    assert main(["fetch", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"usae: error: {config}: key 'dataset.root': dataset folder '{tmp_path}/none' does not exist"


def test_stage_without_its_inputs_is_one_line(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"results: {tmp_path}/r\ndata: {tmp_path}/d\nactivations: {tmp_path}/a\n")
    assert main(["metrics", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("usae: error:") and "model.safetensors: missing" in err


def test_unknown_dataset_name_is_one_line(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"results: {tmp_path}/r\ndata: {tmp_path}/d\nactivations: {tmp_path}/a\n")
    assert main(["fetch", "--config", str(config), "--dataset", "nosuch"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"usae: error: {config}: --dataset 'nosuch': no dataset of that name (known: embedded)"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["extract", "--model", "../../evil"], "--model '../../evil': a model name, not a path"),
        (["extract", "--model", "resnet"], "--model 'resnet': no model of that name (known: efficientnet_lite0, "),
        (["fetch", "--dataset", "../x"], "--dataset '../x': a dataset name, not a path"),
    ],
)
def test_a_name_option_is_refused_for_what_is_wrong_with_it(tmp_path, capsys, argv, message):
    config = tmp_path / "c.yaml"
    config.write_text(f"results: {tmp_path}/r\ndata: {tmp_path}/d\nactivations: {tmp_path}/a\n")
    assert main([*argv, "--config", str(config)]) == 2
    assert capsys.readouterr().err.strip().startswith(f"usae: error: {config}: {message}")


def test_import_acts_refuses_bad_numbers_and_grids_before_writing(tmp_path, rng, capsys):
    np.save(tmp_path / "acts.npy", rng.normal(size=(4, 9, 3)).astype(np.float32))
    (tmp_path / "ids.txt").write_text("\n".join(f"x{i}" for i in range(4)) + "\n")
    base = [
        "import-acts",
        "--acts",
        str(tmp_path / "acts.npy"),
        "--ids",
        str(tmp_path / "ids.txt"),
        "--model",
        "m",
        "--out",
        str(tmp_path / "store"),
    ]
    with pytest.raises(SystemExit):
        main(base + ["--shard-images", "0"])
    assert "--shard-images: must be at least 1, got 0" in capsys.readouterr().err
    assert main(base + ["--grid", "2", "2"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == f"usae: error: {tmp_path / 'store'}: grid 2 x 2 does not hold the 9 tokens per image"
    )
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize(
    "stage, reason",
    [
        ("replicates", "train.replicates is 1: no replicate runs to score together"),
        ("sweep", "sweeps is empty: no sweep to summarise"),
    ],
)
def test_a_stage_without_jobs_says_why(tmp_path, capsys, stage, reason):
    config = tmp_path / "c.yaml"
    config.write_text(f"results: {tmp_path}/r\ndata: {tmp_path}/d\nactivations: {tmp_path}/a\n")
    assert main([stage, "--config", str(config)]) == 2
    assert capsys.readouterr().err.strip() == f"usae: error: {config}: {reason}"


def test_usae_train_also_trains_a_sweep_s_groups(tiny_trained, tmp_path, monkeypatch):
    import yaml

    import usae.stages.train

    config = {
        **tiny_trained[0],
        "results": str(tmp_path / "r"),
        "sweeps": {"lr": {"together": 2, "train": {"lr": [0.001, 0.003]}}},
    }
    for path in jobs.stores(config, tiny_trained[1], config["dataset"]["name"], "train"):
        target = tmp_path / "r" / Path(path).relative_to(tiny_trained[1].root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("{}")  # present: the stage functions are replaced below
    called = []
    monkeypatch.setattr(usae.stages.train, "train", lambda **kwargs: called.append(("train", kwargs["kind"])))
    monkeypatch.setattr(
        usae.stages.train, "train_group", lambda **kwargs: called.append(("train_group", len(kwargs["weights"])))
    )
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", "--config", str(path)]) == 0
    assert called == [("train", "usae"), ("train", "independent"), ("train_group", 4)]


class Payload:
    """Unpickling this creates ``marker``: proof that a pickle was executed."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _write_acts(tmp_path, kind, rng):
    """``acts.npy`` in one of the ways an import must refuse; returns the expected error after the file name."""
    path = tmp_path / "acts.npy"
    good = rng.normal(size=(4, 9, 3)).astype(np.float32)
    if kind == "truncated":
        np.save(path, good)
        path.write_bytes(path.read_bytes()[:150])
        return "unreadable activations (mmap length is greater than file size)"
    if kind == "pickle":
        path.write_bytes(pickle.dumps(Payload(tmp_path / "executed")))
        return "not a .npy file, refused (nothing is unpickled)"
    if kind == "object array":
        np.save(path, np.array([Payload(tmp_path / "executed")] * 4, dtype=object), allow_pickle=True)
        return "unreadable activations (Array can't be memory-mapped: Python objects in dtype.)"
    if kind == "missing":
        return "missing"
    arrays = {"strings": np.full((4, 9, 3), "a"), "complex": good.astype(np.complex64)}
    np.save(path, arrays[kind])
    return None


@pytest.mark.parametrize("kind", ["missing", "truncated", "pickle", "object array"])
def test_import_acts_refuses_a_bad_npy_in_one_line_without_unpickling(tmp_path, rng, capsys, kind):
    message = _write_acts(tmp_path, kind, rng)
    (tmp_path / "ids.txt").write_text("\n".join(f"x{i}" for i in range(4)) + "\n")
    assert (
        main(
            [
                "import-acts",
                "--acts",
                str(tmp_path / "acts.npy"),
                "--ids",
                str(tmp_path / "ids.txt"),
                "--model",
                "m",
                "--out",
                str(tmp_path / "store"),
            ]
        )
        == 2
    )
    assert capsys.readouterr().err.strip() == f"usae: error: {tmp_path / 'acts.npy'}: {message}"
    assert not (tmp_path / "executed").exists() and not (tmp_path / "store").exists()


@pytest.mark.parametrize(
    "kind, ids, model, out, message",
    [
        ("strings", "x0 x1 x2 x3", "m", "store", "{out}: activations need a real numeric dtype, got <U1"),
        ("complex", "x0 x1 x2 x3", "m", "store", "{out}: activations need a real numeric dtype, got complex64"),
        ("good", "x0 x1 x0 x3", "m", "store", "{out}: image id 'x0' appears 2 times (ids must be distinct)"),
        (
            "good",
            "x0 x1 x2 x3",
            "../x",
            "store",
            "{out}: model name '../x' must be a plain name (not empty, '.' or '..', no '/' or '\\')",
        ),
        ("good", "x0 x1 x2 x3", "m", "ids.txt", "{out}: cannot be a store folder ({out} is a file)"),
        ("good", None, "m", "store", "{ids}: missing"),
    ],
)
def test_import_acts_refuses_bad_arrays_ids_names_and_outputs(tmp_path, rng, capsys, kind, ids, model, out, message):
    if kind == "good":
        np.save(tmp_path / "acts.npy", rng.normal(size=(4, 9, 3)).astype(np.float32))
    else:
        _write_acts(tmp_path, kind, rng)
    if ids is not None:
        (tmp_path / "ids.txt").write_text("\n".join(ids.split()) + "\n")
    assert (
        main(
            [
                "import-acts",
                "--acts",
                str(tmp_path / "acts.npy"),
                "--ids",
                str(tmp_path / "ids.txt"),
                "--model",
                model,
                "--out",
                str(tmp_path / out),
            ]
        )
        == 2
    )
    expected = message.format(out=tmp_path / out, ids=tmp_path / "ids.txt")
    assert capsys.readouterr().err.strip() == f"usae: error: {expected}"
    assert not (tmp_path / "store").exists()


def test_stage_options_choose_jobs_by_dataset_split_and_model_names():
    """usae fetch/extract --dataset/--split/--model choose by names, though the jobs' folders are digests."""
    import argparse

    from usae.cli import _chosen
    from usae.config import load_config
    from usae.layout import Layout

    config = load_config(Path(__file__).resolve().parents[1] / ".test" / "config" / "config.yaml")
    planned = jobs.planned_jobs(config, Layout(config["results"]))
    fetch = argparse.Namespace(dataset="embedded", split=["val"])  # fetch has no --model
    extract = argparse.Namespace(dataset="embedded", split=["val"], model=["efficientnet_lite1"])
    chosen = [
        job
        for job in planned
        if (job.module == "fetch" and _chosen(job, fetch)) or (job.module == "extract" and _chosen(job, extract))
    ]
    assert [(job.stage, job.names["split"], job.names.get("model")) for job in chosen] == [
        ("fetch", "val", None),
        ("extract", "val", "efficientnet_lite1"),
    ]
    assert not [job for job in planned if job.module == "fetch" and _chosen(job, argparse.Namespace(dataset="other"))]
