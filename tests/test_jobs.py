"""usae.jobs: every stage's files and params, as the rules and the command use them."""

import importlib
import inspect
import io
import pickle
from pathlib import Path

import pytest
import yaml

from usae import jobs
from usae.config import validate_config
from usae.explorer.build import ExplorerFiles
from usae.layout import Layout
from usae.records import plain, typed

TINY_CONFIG = Path(__file__).resolve().parents[1] / ".test" / "config" / "config.yaml"


def tiny(**changes):
    config = {**yaml.safe_load(TINY_CONFIG.read_text()), **changes}
    validate_config(config, "tiny.yaml")
    return config, Layout(config["results"])


def stage_function(job):
    return getattr(importlib.import_module(f"usae.stages.{job.module}"), job.stage)


CONFIGS = {
    "tiny": {},
    "eval datasets": {"eval_datasets": [{"name": "extra", "source": "folder", "root": "x", "val_fraction": 1.0}]},
    "no independent SAEs": {"train": {"n_concepts": 64, "k": 8, "batch_images": 2, "independent": False}},
    "imported activations": {"dataset": {"name": "mine", "source": "activations"}},
    "replicates": {"train": {"n_concepts": 64, "k": 8, "batch_images": 2, "replicates": 3}},
    "replicates and a sweep": {
        "train": {"n_concepts": 64, "k": 8, "batch_images": 2, "replicates": 2},
        "sweeps": {"lr_k": {"train": {"lr": [0.001, 0.003], "k": [4, 8]}}},
    },
    "a sweep trained together": {
        "train": {"n_concepts": 64, "k": 8, "batch_images": 2},
        "sweeps": {"lr_b": {"together": 2, "train": {"lr": [0.001, 0.003], "batch_images": [2, 4]}}},
    },
}


@pytest.mark.parametrize("changes", CONFIGS.values(), ids=CONFIGS.keys())
def test_every_job_binds_its_stage_function_exactly(changes):
    config, layout = tiny(**changes)
    for job in jobs.planned_jobs(config, layout):
        # bind raises TypeError on a missing required argument or an unknown one
        inspect.signature(stage_function(job)).bind(**job.input, **job.output, **job.params())
        if job.stage == "explorer":  # its files travel as one record, which names each of them
            ExplorerFiles(**job.input)


@pytest.mark.parametrize("changes", CONFIGS.values(), ids=CONFIGS.keys())
def test_jobs_write_distinct_files_and_read_only_what_an_earlier_job_wrote(changes):
    config, layout = tiny(**changes)
    written = {}
    for job in jobs.planned_jobs(config, layout):
        for path in job.input_paths():
            # Imported stores are the run's sources: no job writes them.
            assert path in written or "/activations/" in path, (job.stage, path)
        for path in job.output_paths():
            assert path not in written, (job.stage, path, written.get(path))
            written[path] = job.stage


def test_the_stages_of_a_run():
    config, layout = tiny()
    stages = [job.stage for job in jobs.planned_jobs(config, layout)]
    assert stages == ["fetch"] * 2 + ["extract"] * 4 + ["train"] * 2 + [
        "metrics",
        "baseline",
        "figures",
        "tables",
        "actmax",
        "explorer",
        "record",
    ]
    imported = [job.stage for job in jobs.planned_jobs(*tiny(**CONFIGS["imported activations"]))]
    assert "fetch" not in imported and "extract" not in imported and "actmax" not in imported


def test_patterns_give_static_paths_and_params_need_real_values():
    config, layout = tiny()
    pattern = jobs.fetch(config, layout, "{data}", "{split}")
    assert pattern.output["manifest"] == jobs.cache(config).manifest("{data}", "{split}")
    with pytest.raises(KeyError):
        pattern.params()
    real = jobs.fetch(config, layout, jobs.data_key(config, "embedded"), "val")
    assert real.params()["key"] == "dataset" and real.params()["split"] == "val"
    assert real.names["dataset"] == "embedded"
    metrics = jobs.metrics(config, layout, "{dataset}")  # its stores are found from a real dataset only
    assert metrics.output["summary"] == layout.metrics("{dataset}", "summary.json")
    with pytest.raises(KeyError):
        _ = metrics.input


def test_extract_parts_and_their_merge_describe_one_store():
    config, layout = tiny(extract={**yaml.safe_load(TINY_CONFIG.read_text())["extract"], "parts": 3})
    store = (
        jobs.data_key(config, "embedded"),
        "train",
        "efficientnet_lite0",
        jobs.store_digest(config, "embedded", "train", "efficientnet_lite0"),
    )
    part = jobs.extract(config, layout, *store, part="2")
    merge = jobs.extract_merge(config, layout, *store)
    assert part.params()["index"] == 2 and part.params()["options"].parts == 3
    assert part.output["part"] == merge.input["parts"][2] and len(merge.input["parts"]) == 3
    # The store's job has the params of a one-part extraction: spreading the work never reruns it.
    assert merge.params() == jobs.extract(tiny()[0], layout, *store).params()
    for job in (part, merge):
        signature = inspect.signature(stage_function(job))
        signature.bind(**job.input, **job.output, **job.params())


def test_replicates_train_each_run_apart_on_the_same_stores():
    config, layout = tiny(**CONFIGS["replicates"])
    assert jobs.runs(config) == ["replicates/r0", "replicates/r1", "replicates/r2"] and jobs.runs(tiny()[0]) == [None]
    planned = jobs.planned_jobs(config, layout)
    trains = [job for job in planned if job.stage == "train" and job.wildcards["kind"] == "usae"]
    assert [job.params()["seed"] for job in trains] == [0, 1000, 2000]
    assert [job.input["stores"] for job in trains] == [trains[0].input["stores"]] * 3
    assert trains[1].output["weights"] == f"{layout.root}/replicates/r1/train/usae/model.safetensors"
    single = {**config, "train": {**config["train"], "replicates": 1}}
    assert trains[0].params()["options"] == jobs.train(single, layout, "usae").params()["options"]
    assert sum(job.stage == "extract" for job in planned) == 4
    assert [job.stage for job in planned].count("explorer") == 1 and planned[-2].stage == "explorer"
    over_runs = next(job for job in planned if job.stage == "replicates")
    assert over_runs.input["scorecards"] == [layout.for_run(run).scorecard(".json") for run in jobs.runs(config)]
    assert over_runs.params()["runs"] == ["r0", "r1", "r2"]
    assert over_runs.output["scorecard_md"] == layout.scorecard(".md")
    assert planned[-2].input["stability"] == layout.for_run("replicates/r0").metrics("embedded", "stability.csv")
    assert planned[-1].stage == "record" and planned[-1].output["resolved"] == layout.resolved_config()


def test_replicate_r0_has_the_params_of_the_single_run():
    single, replicated = tiny(), tiny(**CONFIGS["replicates"])
    for stage in ["train", "baseline", "actmax"]:
        args = {"kind": "usae"} if stage == "train" else {}
        one = getattr(jobs, stage)(single[0], single[1], **args).params()
        first = getattr(jobs, stage)(replicated[0], replicated[1].for_run("replicates/r0"), **args).params()
        assert one["seed"] == first["seed"], stage


def test_points_train_together_in_groups_that_share_their_batches():
    config, layout = tiny(**CONFIGS["a sweep trained together"])
    assert jobs.sweep_groups(config, "lr_b") == [
        ["batch_images~2_lr~0.001", "batch_images~2_lr~0.003"],
        ["batch_images~4_lr~0.001", "batch_images~4_lr~0.003"],
    ]
    planned = jobs.planned_jobs(config, layout)
    groups = [job for job in planned if job.stage == "train_group"]
    assert len(groups) == 2 and not any(job.stage == "train" and "/sweeps/" in job.output["weights"] for job in planned)
    first = groups[0]
    assert first.module == "train"  # usae train runs it, and names it when its files are missing
    assert [run.kind for run in first.params()["runs"]] == ["usae", "independent"] * 2
    assert [run.options.lr for run in first.params()["runs"]] == [0.001, 0.001, 0.003, 0.003]
    assert (
        first.output["weights"][2] == f"{layout.root}/sweeps/lr_b/batch_images~2_lr~0.003/train/usae/model.safetensors"
    )
    assert set(first.output) == {"weights", "meta", "log_csv"}  # the curves are the figures stage's


def _stores(config):
    return [
        path
        for job in jobs.planned_jobs(config, Layout(config["results"]))
        if job.stage == "extract"
        for path in job.output_paths()
    ]


def _with(config, section, **values):
    return validate_config({**config, section: {**config[section], **values}}, "tiny.yaml")


def test_experiments_that_extract_the_same_bytes_share_the_cache_and_others_do_not():
    config, _ = tiny()
    shared = _stores(config)
    assert all(path.startswith(f"{config['activations']}/embedded-") for path in shared)
    # What a store's bytes do not depend on: where the experiment's results go, training, how extraction is split.
    assert _stores(tiny(results="results_lr")[0]) == shared
    assert _stores(_with(config, "train", lr=0.01, n_concepts=128)) == shared
    assert _stores(_with(config, "extract", parts=3)) == shared
    # What they do depend on: each extract option, the seed, the dataset's settings, the model spec.
    for section, values in [
        ("extract", {"grid": 5}),
        ("extract", {"dtype": "float32"}),
        ("extract", {"stat_images": 7}),
        ("extract", {"stats_grid": "resampled"}),
    ]:
        changed = _stores(_with(config, section, **values))
        assert set(changed).isdisjoint(shared), values
    assert set(_stores(tiny(seed=1)[0])).isdisjoint(shared)
    dataset = {**config["dataset"], "embedded": {**config["dataset"]["embedded"], "n_train": 10}}
    other_data = _stores(tiny(dataset=dataset)[0])
    assert set(other_data).isdisjoint(shared)
    zoo = {
        "efficientnet_lite0": {"loader": "timm", "arch": "efficientnet_lite0", "weights": "random", "image_size": 256}
    }
    respecified = _stores(tiny(model_zoo=zoo)[0])
    assert [a == b for a, b in zip(respecified, shared)] == [False, True, False, True]  # lite0 train, val


def test_a_store_folder_names_its_data_split_and_model_and_the_cache_roots_are_config_keys():
    config, _ = tiny(data="/d", activations="/a")
    key, digest = jobs.data_key(config, "embedded"), jobs.store_digest(config, "embedded", "val", "efficientnet_lite1")
    assert key.startswith("embedded-") and len(key.rsplit("-", 1)[1]) == jobs.DIGEST_CHARS
    assert jobs.manifest(config, "embedded", "val") == f"/d/{key}/val.csv"
    assert (
        jobs.store(config, Layout(config["results"]), "embedded", "val", "efficientnet_lite1")
        == f"/a/{key}/val/efficientnet_lite1-{digest}/meta.json"
    )
    imported, layout = tiny(**CONFIGS["imported activations"])
    assert jobs.store(imported, layout, "mine", "val", "x") == f"{layout.root}/activations/mine/val/x/meta.json"


@pytest.mark.parametrize("changes", CONFIGS.values(), ids=CONFIGS.keys())
def test_a_rules_params_unpickle_without_usae_and_give_the_jobs_params_back(changes):
    """A rule script unpickles its params before it puts this checkout's src/ on the path (and under
    --use-conda usae is not installed): they must name no usae class."""
    config, layout = tiny(**changes)
    planned = jobs.planned_jobs(config, layout)
    groups = [jobs.train_group(config, layout, name, 0) for name in config["sweeps"] if jobs.sweep_groups(config, name)]
    for job in planned + groups:
        params = job.params()
        pickled = io.BytesIO(pickle.dumps(plain(params), protocol=4))
        assert typed(WithoutUsae(pickled).load()) == params, job.stage
    with pytest.raises(pickle.UnpicklingError, match="usae.options"):  # what the records themselves would need
        WithoutUsae(io.BytesIO(pickle.dumps(next(job for job in planned if job.stage == "train").params()))).load()


class WithoutUsae(pickle.Unpickler):
    """An unpickler for a process where usae cannot be imported."""

    def find_class(self, module, name):
        if module.split(".")[0] == "usae":
            raise pickle.UnpicklingError(f"{module}.{name}: usae is not importable here")
        return super().find_class(module, name)
