"""Sweeps: their config, their points and runs, and a sweep's summary of its points."""

import numpy as np
import pandas as pd
import pytest

from usae import jobs
from usae.analysis.sweep_summary import point_row
from usae.config import sweep_points, validate_config
from usae.errors import ConfigError
from usae.layout import Layout


def config_with(sweeps, **more):
    return validate_config({"train": {"n_concepts": 64, "k": 8}, "sweeps": sweeps, **more}, "cfg.yaml")


def test_points_are_the_cross_product_named_by_sorted_key():
    config = config_with({"lr_k": {"train": {"lr": [0.001, 0.003], "k": [4, 8], "loss": ["l2"]}}})
    points = sweep_points(config, "lr_k")
    assert list(points) == [
        "k~4_loss~l2_lr~0.001",
        "k~4_loss~l2_lr~0.003",
        "k~8_loss~l2_lr~0.001",
        "k~8_loss~l2_lr~0.003",
    ]
    assert points["k~8_loss~l2_lr~0.001"] == {"k": 8, "loss": "l2", "lr": 0.001}
    assert list(sweep_points(config_with({"a": {"train": {"autocast": [True, False]}}}), "a")) == [
        "autocast~true",
        "autocast~false",
    ]


@pytest.mark.parametrize(
    "sweep, expected",
    [
        ({"train": {"lrr": [1.0]}}, "cfg.yaml: unknown key 'sweeps.s.train.lrr' (did you mean 'lr'?) (not a train key"),
        ({"train": {"lr": []}}, "cfg.yaml: key 'sweeps.s.train.lr': [] should be non-empty"),
        ({"train": {"lr": [0.1, "fast"]}}, "cfg.yaml: key 'sweeps.s.train.lr[1]': 'fast' is not of type 'number'"),
        ({"train": {"lr": [0.1, 0.1]}}, "cfg.yaml: key 'sweeps.s.train.lr': a value is listed twice"),
        (
            {"train": {"replicates": [2, 3]}},
            "cfg.yaml: key 'sweeps.s.train.replicates': train.replicates cannot be swept",
        ),
        ({"train": {"k": [8, 128]}}, "cfg.yaml: key 'sweeps.s': point k~128 has k 128 > n_concepts 64"),
        (
            {"train": {"lr": [0.1]}, "extract": {"grid": [7, 14]}},
            "cfg.yaml: key 'sweeps.s.extract': its keys change the activation stores, which every point shares",
        ),
        ({"train": {"lr": [0.1]}, "metrics": {"threshold": [0.2]}}, "cfg.yaml: key 'sweeps.s.metrics': a sweep varies"),
        ({"lr": [0.1]}, "cfg.yaml: key 'sweeps.s': 'train' is a required property"),
        ({"train": {}}, "cfg.yaml: key 'sweeps.s.train'"),
        ({"together": 0, "train": {"lr": [0.1]}}, "cfg.yaml: key 'sweeps.s.together': 0 is less than the minimum of 1"),
    ],
)
def test_bad_sweeps_are_one_line_naming_the_key(sweep, expected):
    with pytest.raises(ConfigError) as error:
        config_with({"s": sweep})
    assert str(error.value).startswith(expected) and "\n" not in str(error.value)


def test_a_bad_sweep_name_is_refused():
    with pytest.raises(ConfigError, match="sweeps"):
        config_with({"../x": {"train": {"lr": [0.1]}}})


def test_each_point_trains_on_the_experiment_stores_with_its_values():
    config = config_with(
        {"lr": {"train": {"lr": [0.001, 0.003]}}}, eval_datasets=[{"name": "extra", "source": "folder", "root": "x"}]
    )
    layout = Layout("results")
    planned = jobs.planned_jobs(config, layout)
    main_train = next(job for job in planned if job.stage == "train")
    point_trains = [job for job in planned if job.stage == "train" and "/sweeps/" in job.output["weights"]]
    assert [job.output["weights"] for job in point_trains if job.wildcards["kind"] == "usae"] == [
        "results/sweeps/lr/lr~0.001/train/usae/model.safetensors",
        "results/sweeps/lr/lr~0.003/train/usae/model.safetensors",
    ]
    assert all(job.input == main_train.input for job in point_trains)
    point = jobs.point_config(config, "lr", "lr~0.003")
    assert point["train"]["lr"] == 0.003 and point["eval_datasets"] == [] and point["seed"] == config["seed"]
    point_metrics = [job for job in planned if job.stage == "metrics" and "/sweeps/" in job.output["summary"]]
    assert {job.wildcards["dataset"] for job in point_metrics} == {"embedded"}
    sweep, last = planned[-2:]
    assert last.stage == "record"
    assert sweep.stage == "sweep" and sweep.output["table"] == [
        "results/sweeps/lr/summary.csv",
        "results/sweeps/lr/summary.md",
    ]
    assert sweep.input["scorecards"] == [f"results/sweeps/lr/{p}/scorecard.json" for p in ("lr~0.001", "lr~0.003")]


def test_a_point_row_holds_the_headline_numbers():
    matrices = {"r2": [[0.5, 0.1], [0.3, 0.7]]}
    summary = {"dead_share": 0.25, "entropy_above_0.9_share": 0.4, "top_cofire_proportion_mean": {"a": 0.2, "b": 0.4}}
    baseline = pd.DataFrame(
        {"model": ["a", "random (a)", "b", "random (b)"], "share_cosine_above_0.5": [0.1, 0.0, 0.3, 0.0]}
    )
    scorecard = {
        "claims_holding": 1,
        "claims_not_holding": 2,
        "claims": [{"id": "x", "holds": "yes"}, {"id": "y", "holds": "no"}, {"id": "z", "holds": "no"}],
    }
    row = point_row({"lr": 0.1}, matrices, summary, baseline, scorecard)
    np.testing.assert_allclose(
        [row["usae_self_r2"], row["usae_cross_r2"], row["top_cofire_proportion"], row["fig7_matched_share"]],
        [0.6, 0.2, 0.3, 0.2],
    )
    assert row["lr"] == 0.1 and row["claims_holding"] == "1/3" and row["claims_held"] == "x"
