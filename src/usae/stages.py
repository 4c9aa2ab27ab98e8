"""Pipeline stages as functions of (validated config, output paths): what rules and the CLI call."""

import os
from pathlib import Path

from usae.datasets import DatasetError, split_records
from usae.extract import extract_store
from usae.manifest import build_manifest, read_manifest, write_csv
from usae.models import model_spec


def expose_library_to_jobs(src_dir):
    """Put ``src_dir`` first on ``PYTHONPATH`` so that rule scripts (subprocesses) import this checkout's usae."""
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src_dir), os.environ.get("PYTHONPATH")]))


def all_datasets(config):
    """Every dataset of the config by name: the experiment's dataset and the extra eval datasets."""
    datasets = {}
    for key, dataset in [("dataset", config["dataset"])] + [
        (f"eval_datasets[{i}]", d) for i, d in enumerate(config["eval_datasets"])
    ]:
        if dataset["name"] in datasets:
            raise DatasetError(f"{key}.name: dataset name '{dataset['name']}' is used twice")
        datasets[dataset["name"]] = (key, dataset)
    return datasets


def results_path(config, *parts):
    """A path under the config's results folder (the layout the Snakemake rules use)."""
    return Path(config["results"]).joinpath(*parts)


def data_dir(config, dataset_name):
    """Folder of a dataset's manifests (and of images the pipeline materialises)."""
    return results_path(config, "data", dataset_name)


def manifest_path(config, dataset_name, split):
    """Manifest CSV of one split."""
    return data_dir(config, dataset_name) / f"{split}.csv"


def store_path(config, dataset_name, split, model):
    """Activation store folder of one (dataset, split, model)."""
    return results_path(config, "activations", dataset_name, split, model)


def fetch_split(config, dataset_name, split, manifest_file=None, rejects_file=None):
    """Build and write the manifest (and rejects list) of one split; return the manifest."""
    key, dataset = all_datasets(config)[dataset_name]
    manifest_file = Path(manifest_file or manifest_path(config, dataset_name, split))
    rejects_file = Path(rejects_file or manifest_file.with_suffix(".rejects.csv"))
    records = split_records(dataset, split, data_dir(config, dataset_name) / "images", config["seed"], key=key)
    manifest, rejects = build_manifest(records, dataset["max_images"][split], config["seed"])
    if manifest.empty:
        raise DatasetError(f"{key}: every image of split '{split}' was rejected (see {rejects_file})")
    write_csv(rejects, rejects_file)
    write_csv(manifest, manifest_file)
    return manifest


def extract_split(config, dataset_name, split, model, manifest_file=None, store_dir=None, progress=True):
    """Extract one model's activations of one split into its store; return the store metadata."""
    manifest = read_manifest(manifest_file or manifest_path(config, dataset_name, split))
    options = config["extract"]
    return extract_store(
        manifest, model_spec(model, config["model_zoo"]),
        store_dir or store_path(config, dataset_name, split, model),
        grid=options["grid"], batch_size=options["batch_size"], shard_images=options["shard_images"],
        dtype=options["dtype"], device=options["device"], autocast=options["autocast"],
        num_workers=options["num_workers"], stat_images=options["stat_images"], seed=config["seed"],
        progress=progress,
    )


def split_stores(config, dataset_name, split, models):
    """Activation stores of one dataset split, one per model, in model order."""
    from usae.store import ActivationStore

    return {model: ActivationStore(store_path(config, dataset_name, split, model)) for model in models}


def train_stores(config):
    """The experiment's training stores, one per configured model."""
    return split_stores(config, config["dataset"]["name"], "train", config["models"])


def evaluation_batches(config, dataset_name, model_meta):
    """Val-split token batches of a dataset, standardised with a trained model's training statistics.

    Parameters
    ----------
    model_meta : dict
        ``model.json`` of a training run (its ``models`` and ``stats``).
    """
    from usae.batches import TokenBatches

    names = model_meta["models"]
    stats = {name: tuple(model_meta["stats"][name]) for name in names}
    return TokenBatches(split_stores(config, dataset_name, "val", names), batch_images=1, stats=stats)


def train_options(config):
    """The ``train`` section with the run seed."""
    return {**config["train"], "seed": config["seed"]}


def train_stage(config, kind, out_dir=None, progress=True):
    """Train the USAE (``kind="usae"``) or the independent SAEs (``"independent"``); return the module."""
    from usae.batches import TokenBatches
    from usae.figures import training_curves_file
    from usae.train import IndependentRun, UniversalRun

    options = train_options(config)
    batches = TokenBatches(train_stores(config), options["batch_images"], options["shuffle_shards"], config["seed"])
    run_class = UniversalRun if kind == "usae" else IndependentRun
    out_dir = Path(out_dir or results_path(config, "train", kind))
    module = run_class(batches, options, out_dir).run(progress=progress)
    training_curves_file(out_dir / "log.csv", out_dir / "curves.png", f"{kind} training ({', '.join(batches.names)})")
    return module
