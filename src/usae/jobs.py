"""Each stage's jobs: the files a job reads and writes and the params it takes, spelled once.

The Snakemake rules (``workflow/rules/<stage>.smk``) and the ``usae <stage>`` command both describe
a stage's jobs with these functions, so they read and write the same files with the same params.

A rule calls a stage's function once, with wildcard patterns (``train(config, layout, kind="{kind}")``):
its ``output`` is then a static pattern, since a job's paths depend on its wildcards through string
formatting only, and so is its ``input``, but for the metrics stage's: its stores depend on its
dataset through their content addresses, so it is a function, evaluated for a real job only (in a
rule: ``input: unpack(job_input("metrics"))``). Params may look wildcard values up in the config, so
they are a function too (``params: job=job_params("train")``, see ``workflow/rules/common.smk``).
The command takes the same jobs from :func:`planned_jobs`.

The fetched datasets and the activation stores live in the shared :class:`usae.layout.Cache`, in
folders named by a digest of the job's params (:func:`data_key`, :func:`store_digest`): two
experiments that would fetch or extract the same bytes, with the same params, use one folder, so
Snakemake's rerun triggers never see one experiment's params on the other's files.

Imports nothing heavy: the Snakefile uses it at parse time.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from usae.config import all_datasets, dataset_splits, has_images, sweep_points
from usae.io import json_sha256
from usae.layout import Cache, drawn_figures, manifest_seal, site_figures
from usae.models.registry import BUILTIN_MODELS, display_names, model_families
from usae.options import ActmaxOptions, ExplorerOptions, ExtractOptions, FiguresOptions, MetricsOptions, TrainOptions
from usae.records import TrainRun
from usae.sae.official_yaml import read_config, released_models


@dataclass(frozen=True)
class Job:
    """One job of a stage: ``usae.stages.<module>.<stage>(**input, **output, **params())``.

    Attributes
    ----------
    stage : str
        The stage (rule) name: a function of :mod:`usae.stages`.
    wildcards : dict of str to str
        The job's wildcard values (patterns when a rule describes its jobs).
    inputs : dict of str to (path or list of path), or callable
        Named files (an empty list stands for an optional file that the job does not have), or
        ``inputs() -> dict`` when they are looked up from real wildcard values: read them as :attr:`input`.
    output : dict of str to (path or list of path)
        Named files.
    params : callable
        ``params() -> dict``: the stage's keyword-only arguments.
    """

    stage: str
    wildcards: dict
    inputs: dict | Callable = field(repr=False)
    output: dict
    params: Callable[[], dict] = field(repr=False)

    @property
    def input(self):
        return self.inputs() if callable(self.inputs) else self.inputs

    @property
    def module(self):
        """The stage module, ``usae.stages.<module>``, whose function ``stage`` runs the job (and the
        ``usae`` command that runs it): ``train`` for ``train`` and ``train_group``."""
        return stage_module(self.stage)

    def function(self):
        """The stage function that runs the job (imports its module, and so torch)."""
        return stage_function(self.stage)

    @property
    def names(self):
        """The wildcards, with ``dataset`` named for a data folder's (``embedded-<digest>``: ``embedded``):
        what the ``usae`` command's options (``--dataset``, ``--split``, ``--model``, ``--kind``) choose."""
        data = self.wildcards.get("data")
        return {**self.wildcards, "dataset": data.rsplit("-", 1)[0]} if data else self.wildcards

    def input_paths(self):
        """Every input file, flattened."""
        return _flattened(self.input)

    def output_paths(self):
        """Every output file, flattened."""
        return _flattened(self.output)


def stage_module(stage):
    """The module of ``usae.stages`` that holds the function ``stage`` (``train_group``: ``train``)."""
    return stage.split("_")[0]


def stage_function(stage):
    """The function ``stage`` of :mod:`usae.stages` (``extract_merge``: ``usae.stages.extract.extract_merge``)."""
    return getattr(importlib.import_module(f"usae.stages.{stage_module(stage)}"), stage)


def _flattened(files):
    return [path for value in files.values() for path in ([value] if isinstance(value, str) else value)]


# Replicate r trains with seed ``seed + REPLICATE_SEED_STEP * r``: far enough apart that no replicate's
# USAE starts from another's independent SAEs (those use their run's seed + 1).
REPLICATE_SEED_STEP = 1000


# Stages whose jobs serve every training run: their files lie under the results root (or the shared cache),
# not under a replicate's folder. The others run once per run (:func:`runs`).
SHARED_STAGES = ("fetch", "extract", "extract_merge", "train_group", "stability", "replicates", "sweep", "record")


def runs(config):
    """The training runs of an experiment: ``[None]`` (the results folder's own run) without replicates,
    else one folder per ``train.replicates``: ``["replicates/r0", "replicates/r1", ...]``."""
    count = config["train"]["replicates"]
    return [None] if count == 1 else [f"replicates/r{index}" for index in range(count)]


def run_seed(config, run):
    """The training seed of ``run`` (initialisation, model choice, shuffling, random baselines); the data
    seed (fetch, extraction) is ``seed`` for every run, and a sweep point trains with it too."""
    replicate = run.removeprefix("replicates/r") if run and run.startswith("replicates/r") else None
    return config["seed"] + (0 if replicate is None else REPLICATE_SEED_STEP * int(replicate))


def points_config(config):
    """What the sweeps' points share: the experiment's config with one run, no eval datasets, no sweeps."""
    return {**config, "train": {**config["train"], "replicates": 1}, "eval_datasets": [], "sweeps": {}}


def point_config(config, sweep, point):
    """The config of one point of a sweep: :func:`points_config` with the point's train values."""
    shared = points_config(config)
    return {**shared, "train": {**shared["train"], **sweep_points(config, sweep)[point]}}


def train_options(config):
    """The ``train`` options of one run: ``replicates`` is 1, as each replicate is one run, so that a run's
    params do not change with the number of runs."""
    return TrainOptions.from_config(config, replicates=1)


def _experiment(config):
    return config["dataset"]["name"]


def _images(config):
    return has_images(config["dataset"])


def _trained(layout, kind):
    files = layout.run_files(kind)
    return files["weights"], files["meta"]


def _usae_input(layout):
    weights, meta = _trained(layout, "usae")
    return {"usae_weights": weights, "usae_meta": meta}


def cache(config):
    """The shared folders of fetched datasets and activation stores (config ``data`` and ``activations``)."""
    return Cache(config["data"], config["activations"])


def zoo_entry(config, model):
    """The config's ``model_zoo`` entry of ``model`` (None: the built-in registry's), carrying the
    ``remote_code`` permission when the config lists the model there."""
    entry = config["model_zoo"].get(model)
    if model in config["remote_code"]:
        return {**(entry or BUILTIN_MODELS[model]), "remote_code": True}
    return entry


def model_labels(config):
    """Each model's name in figures (:func:`usae.models.registry.display_names`)."""
    return display_names(config["models"], config["model_zoo"])


def families(config):
    """Each model's architecture family (:func:`usae.models.registry.model_families`)."""
    return model_families(config["models"], config["model_zoo"])


def store_options(config):
    """The ``extract`` options a store's bytes depend on: all but ``parts``, which only spreads the work."""
    return {key: value for key, value in config["extract"].items() if key != "parts"}


def extract_options(config, whole_store=True):
    """The ``extract`` options of a job: for one that writes a whole store (extract in one part, or the merge
    of the parts), ``parts`` is 1, so that its params do not change with how the work is spread."""
    return ExtractOptions.from_config(config, **({"parts": 1} if whole_store else {}))


# Hex digits of a content address: 48 bits, so that two settings share a folder by chance with odds of
# about n^2 / 2^49 for n settings.
DIGEST_CHARS = 12


# Dataset keys added after data folders were first named: left out of the folder's digest at their default,
# so that a cache made before them keeps its name.
LATER_DATASET_DEFAULTS = {"label_depth": 1}


def _data_params(config, dataset):
    """The fetch params of every split of ``dataset``: its config entry, its config key and the seed."""
    key, entry = all_datasets(config)[dataset]
    return {"dataset": entry, "key": key, "seed": config["seed"]}


def _named_params(config, dataset):
    """:func:`_data_params` less the :data:`LATER_DATASET_DEFAULTS` at their default: what names the data folder."""
    params = _data_params(config, dataset)
    entry = {k: v for k, v in params["dataset"].items() if LATER_DATASET_DEFAULTS.get(k, object()) != v}
    return {**params, "dataset": entry}


def data_key(config, dataset):
    """The data folder of ``dataset`` in the cache: ``<name>-<digest>``, the digest of the fetch params that
    its manifests and images depend on (:func:`_named_params`)."""
    return f"{dataset}-{json_sha256(_named_params(config, dataset))[:DIGEST_CHARS]}"


def _extract_params(config, model, whole_store=True):
    return {
        "model": model,
        "zoo_entry": zoo_entry(config, model),
        "options": extract_options(config, whole_store),
        "seed": config["seed"],
    }


def store_digest(config, dataset, split, model):
    """The digest in the name of a store's folder: of its data folder, split, the model, its config entry,
    the :func:`store_options`, the seed, and the model's resolved spec (the built-in registry's when the
    config has no entry for it)."""
    entry = zoo_entry(config, model)
    spec = entry or BUILTIN_MODELS.get(model)
    values = {
        "data": data_key(config, dataset),
        "split": split,
        "model": model,
        "zoo_entry": entry,
        "options": store_options(config),
        "seed": config["seed"],
        "spec": spec,
    }
    return json_sha256(values)[:DIGEST_CHARS]


def store(config, layout, dataset, split, model):
    """The store (its ``meta.json``) of ``model`` on a split of ``dataset``: in the cache, or in the results
    folder for an imported dataset (source ``activations``)."""
    if not has_images(all_datasets(config)[dataset][1]):
        return layout.imported_store(dataset, split, model)
    return cache(config).store(data_key(config, dataset), split, model, store_digest(config, dataset, split, model))


def stores(config, layout, dataset, split):
    """The store of every model of one dataset split, in model order."""
    return [store(config, layout, dataset, split, model) for model in config["models"]]


def manifest(config, dataset, split):
    """The manifest of one split of a dataset with images."""
    return cache(config).manifest(data_key(config, dataset), split)


def _val_manifest(config):
    """The experiment's val manifest, or none when its dataset has no images (imported activations)."""
    return manifest(config, _experiment(config), "val") if _images(config) else []


def _val_stores(config, layout, dataset=None):
    return stores(config, layout, dataset or _experiment(config), "val")


def _metrics_files(config, layout, *names):
    return {name.split(".")[0]: layout.metrics(_experiment(config), name) for name in names}


def _dataset_of(config, data):
    """The name of the dataset whose data folder is ``data`` (a real one: params need real values)."""
    found = {data_key(config, name): name for name, (_, entry) in all_datasets(config).items() if has_images(entry)}
    return found[data]


def fetch(config, layout, data, split):
    """One split's manifest (image id, path, label, sha256), its rejects and its image files, in data folder
    ``data`` (:func:`data_key`)."""
    folders = cache(config)

    def params():
        return {**_data_params(config, _dataset_of(config, data)), "split": split, "cache": folders.packages()}

    return Job(
        "fetch",
        {"data": data, "split": split},
        {},
        {
            "manifest": folders.manifest(data, split),
            "seal": manifest_seal(folders.manifest(data, split)),
            "rejects": folders.rejects(data, split),
            "images": folders.images(data, split),
        },
        params,
    )


def extract(config, layout, data, split, model, digest, part=None):
    """One model's store of one split of data folder ``data``, named by ``digest`` (:func:`store_digest`);
    with ``part``, that part of ``extract.parts`` (a range of shards)."""
    folders = cache(config)
    wildcards = {"data": data, "split": split, "model": model, "digest": digest}
    files = {"manifest": folders.manifest(data, split)}
    if part is None:
        return Job(
            "extract",
            wildcards,
            files,
            {"store": folders.store(data, split, model, digest)},
            lambda: _extract_params(config, model),
        )

    def params():
        return {**_extract_params(config, model, whole_store=False), "index": int(part)}

    return Job(
        "extract",
        {**wildcards, "part": part},
        files,
        {"part": folders.store_part(data, split, model, digest, part)},
        params,
    )


def extract_merge(config, layout, data, split, model, digest):
    """One store assembled from its ``extract.parts`` parts."""
    folders = cache(config)
    parts = [folders.store_part(data, split, model, digest, str(i)) for i in range(config["extract"]["parts"])]
    return Job(
        "extract_merge",
        {"data": data, "split": split, "model": model, "digest": digest},
        {"manifest": folders.manifest(data, split), "parts": parts},
        {"store": folders.store(data, split, model, digest)},
        lambda: _extract_params(config, model),
    )


def train(config, layout, kind):
    """The USAE (``usae``) or the independent SAEs (``independent``) on the experiment's training stores."""
    return Job(
        "train",
        {"kind": kind},
        {"stores": stores(config, layout, _experiment(config), "train")},
        layout.run_files(kind),
        lambda: {"kind": kind, "options": train_options(config), "seed": run_seed(config, layout.run)},
    )


def released(config, layout):
    """The authors' released USAE (config ``released``) as the run's trained USAE, in place of its training."""
    entry = config["released"]
    found = released_models(read_config(entry["config"]), entry["config"], entry["checkpoints"], entry["models"])
    files = layout.run_files("usae")
    return Job(
        "released",
        {},
        {
            "config_yaml": entry["config"],
            "checkpoints": [str(pth) for _, pth in found.values()],
            "stores": _val_stores(config, layout),
        },
        {"weights": files["weights"], "meta": files["meta"]},
        lambda: {"checkpoint_folder": entry["checkpoints"], "names": entry["models"]},
    )


def kind_options(config):
    """The explorer's concept-kind thresholds alone (its other keys at their defaults), which the metrics read:
    so that a key the metrics do not read reruns the explorer only."""
    explorer = ExplorerOptions.from_config(config)
    return ExplorerOptions(universal_entropy=explorer.universal_entropy, specific_share=explorer.specific_share)


def metrics(config, layout, dataset):
    """Universality and importance metrics of the trained USAE on one dataset's val split."""
    independent = list(_trained(layout, "independent")) if config["train"]["independent"] else []
    return Job(
        "metrics",
        {"dataset": dataset},
        lambda: {
            **_usae_input(layout),
            "independent": independent,
            "stores": _val_stores(config, layout, dataset),
            "manifest": [manifest(config, dataset, "val")] if has_images(all_datasets(config)[dataset][1]) else [],
        },
        {
            name.split(".")[0]: layout.metrics(dataset, name)
            for name in ("matrices.json", "concepts.csv", "top_images.npz", "summary.json", "coherence.json")
        },
        lambda: {
            "dataset": dataset,
            "options": MetricsOptions.from_config(config),
            "kinds": kind_options(config),
            "seed": run_seed(config, layout.run),
        },
    )


def baseline(config, layout):
    """Hungarian matching of the independent SAEs' concepts to the USAE's (Figs. 7, 7b and 16)."""
    weights, meta = _trained(layout, "independent")
    return Job(
        "baseline",
        {},
        {
            **_usae_input(layout),
            "independent_weights": weights,
            "independent_meta": meta,
            **_metrics_files(config, layout, "concepts.csv"),
            "stores": _val_stores(config, layout),
            "manifest": _val_manifest(config),
        },
        {
            **_baseline_files(config, layout),
            "table": layout.table_files("baseline_matching"),
            "fig7": layout.figure_files("fig7_matching"),
            "fig16": layout.figure_files("fig16_matching_top_cofiring"),
            "fig7b": layout.figure_files("fig7b_matched_pairs") if _images(config) else [],
        },
        lambda: {
            "top_cofiring": config["baseline"]["top_cofiring"],
            "batch_images": config["metrics"]["batch_images"],
            "gallery_images": config["figures"]["gallery_images"],
            "seed": run_seed(config, layout.run),
            "labels": model_labels(config),
        },
    )


def actmax(config, layout):
    """Coordinated activation maximisation of the chosen concepts in every model (Fig. 8)."""

    def params():
        zoo = {model: entry for model in config["models"] if (entry := zoo_entry(config, model))}
        return {
            "options": ActmaxOptions.from_config(config),
            "model_zoo": zoo,
            "grid": config["extract"]["grid"],
            "seed": run_seed(config, layout.run),
            "labels": model_labels(config),
        }

    return Job(
        "actmax",
        {},
        {**_usae_input(layout), **_metrics_files(config, layout, "concepts.csv", "summary.json")},
        {
            "figure": layout.figure_files("fig8_actmax"),
            "table": layout.table_files("actmax_cross_activation"),
            "images": layout.actmax_images(),
        },
        params,
    )


def _evaluated(config, layout):
    """The experiment's metrics files (label coherence's too), the trained USAE, its val stores and manifest (figures,
    explorer)."""
    return {
        **_metrics_files(
            config, layout, "matrices.json", "summary.json", "concepts.csv", "top_images.npz", "coherence.json"
        ),
        **_usae_input(layout),
        "stores": _val_stores(config, layout),
        "manifest": _val_manifest(config),
    }


def figures(config, layout):
    """The paper's figures from the experiment's metrics (without images, no galleries), and the training
    curves of each trained kind."""
    kinds = trained_kinds(config)
    return Job(
        "figures",
        {},
        {
            **_evaluated(config, layout),
            "logs": [layout.run_files(kind)["log_csv"] for kind in kinds],
        },
        {
            **{name: layout.figure_files(name) for name in drawn_figures(_images(config))},
            "curves": [path for kind in kinds for path in layout.figure_files(f"training_curves_{kind}")],
        },
        lambda: {
            "options": FiguresOptions.from_config(config),
            "top_concepts": config["metrics"]["top_concepts"],
            "set_cofiring": config["metrics"]["set_cofiring"],
            "labels": model_labels(config),
            "families": families(config),
            "kinds": kinds,
        },
    )


def tables(config, layout):
    """Tables of every evaluated dataset, and the scorecard beside the paper."""
    datasets = list(all_datasets(config))
    baseline_table = [layout.table("baseline_matching") + ".csv"] if config["train"]["independent"] else []
    return Job(
        "tables",
        {},
        {
            "matrices": [layout.metrics(name, "matrices.json") for name in datasets],
            "summaries": [layout.metrics(name, "summary.json") for name in datasets],
            **_metrics_files(config, layout, "concepts.csv", "coherence.json"),
            "baseline": baseline_table,
        },
        {
            "reconstruction": layout.table_files("reconstruction"),
            "universality": layout.table_files("universality"),
            "concepts_all": layout.table("concepts") + ".csv",
            "concepts_top25": layout.table("concepts_top25") + ".md",
            "scorecard_md": layout.scorecard(".md"),
            "scorecard_json": layout.scorecard(".json"),
            "headline": layout.headline(),
            "coherence_table": layout.table_files("coherence"),
            "firing_sets": layout.table_files("firing_sets"),
        },
        lambda: {
            "datasets": datasets,
            "experiment": _experiment(config),
            "replicated": config["train"]["replicates"] > 1,
            "labels": model_labels(config),
            "families": families(config),
            "set_cofiring": config["metrics"]["set_cofiring"],
        },
    )


def explorer(config, layout):
    """The concept explorer: a static site that opens from disk."""
    images = _images(config)
    shown = site_figures(images, config["train"]["independent"])
    return Job(
        "explorer",
        {},
        {
            **_evaluated(config, layout),
            "figures": [layout.figure(name) + ".png" for name in shown],
            "actmax_table": layout.table("actmax_cross_activation") + ".csv" if images else [],
            "actmax_images": layout.actmax_images() if images else [],
            **_baseline_files(config, layout),
            "baseline_table": layout.table("baseline_matching") + ".csv" if config["train"]["independent"] else [],
            "stability": layout.metrics(_experiment(config), "stability.csv") if len(runs(config)) > 1 else [],
        },
        {"site": layout.explorer()},
        lambda: {"options": ExplorerOptions.from_config(config), "labels": model_labels(config)},
    )


def _baseline_files(config, layout):
    """The baseline's pairs files (run's model order) and independent SAEs' top images, for the explorer's
    twins; empty without independent SAEs."""
    if not config["train"]["independent"]:
        return {"pairs": [], "independent_top": []}
    return {
        "pairs": [layout.pairs(model) for model in config["models"]],
        "independent_top": layout.independent_top_images(),
    }


def replicates(config, layout):
    """The scorecard over the replicates: each claim's value as mean, sd and range, and how many hold."""
    names = runs(config)
    return Job(
        "replicates",
        {},
        {
            "scorecards": [layout.for_run(run).scorecard(".json") for run in names],
            "stability": layout.table("stability") + ".json",
        },
        {
            "table": layout.table_files("replicates"),
            "scorecard_md": layout.scorecard(".md"),
            "scorecard_json": layout.scorecard(".json"),
        },
        lambda: {
            "runs": [run.rsplit("/", 1)[1] for run in names],
            "seeds": [run_seed(config, run) for run in names],
            "experiment": _experiment(config),
        },
    )


def stability(config, layout):
    """Seed stability: every pair of replicate runs' concepts matched, by atoms, jointly, and by codes."""
    names = runs(config)
    folders = [layout.for_run(run) for run in names]
    experiment = _experiment(config)
    return Job(
        "stability",
        {},
        {
            "weights": [folder.run_files("usae")["weights"] for folder in folders],
            "metas": [folder.run_files("usae")["meta"] for folder in folders],
            "concepts": [folder.metrics(experiment, "concepts.csv") for folder in folders],
            "stores": _val_stores(config, layout),
        },
        {
            "table": layout.table_files("stability"),
            "concepts_stability": folders[0].metrics(experiment, "stability.csv"),
            "figure": layout.figure_files("stability_by_kind"),
            "summary": layout.table("stability") + ".json",
        },
        lambda: {
            "runs": [run.rsplit("/", 1)[1] for run in names],
            "options": MetricsOptions.from_config(config),
            "images": config["metrics"]["stability_images"],
            "seed": config["seed"],
            "labels": model_labels(config),
        },
    )


def sweep(config, layout, sweep):
    """One sweep's summary table (a row per point) and its figure of the main metrics against each key.

    Its inputs depend on the sweep's points: with a pattern for ``sweep`` they are empty, and the rule
    takes them from a function of its wildcards.
    """
    points = sweep_points(config, sweep) if sweep in config["sweeps"] else {}
    folders = [layout.for_run(f"sweeps/{sweep}/{point}") for point in points]
    experiment = _experiment(config)
    baselines = [folder.table("baseline_matching") + ".csv" for folder in folders]
    return Job(
        "sweep",
        {"sweep": sweep},
        {
            "summaries": [folder.metrics(experiment, "summary.json") for folder in folders],
            "matrices": [folder.metrics(experiment, "matrices.json") for folder in folders],
            "scorecards": [folder.scorecard(".json") for folder in folders],
            "baselines": baselines,
        },
        {
            "table": layout.sweep_table(sweep),
            "metrics": layout.sweep_metrics(sweep),
            "figure": layout.sweep_figure(sweep),
        },
        lambda: {"name": sweep, "points": points},
    )


def sweep_groups(config, sweep):
    """The sweep's points in training groups of ``sweeps.<sweep>.together``: consecutive points (in grid
    order) whose runs can share one batch stream, that is with equal ``batch_images`` and ``shuffle_shards``."""
    size, by_batches = config["sweeps"][sweep]["together"], {}
    for point in sweep_points(config, sweep):
        train = point_config(config, sweep, point)["train"]
        by_batches.setdefault((train["batch_images"], train["shuffle_shards"]), []).append(point)
    return [group[i : i + size] for group in by_batches.values() for i in range(0, len(group), size)]


def _kinds(config):
    return ["usae", "independent"] if config["train"]["independent"] else ["usae"]


def trained_kinds(config):
    """The kinds the train stage trains: every kind, but the USAE when it is the ``released`` one."""
    return [kind for kind in _kinds(config) if not (kind == "usae" and config["released"] is not None)]


def train_group(config, layout, sweep, index):
    """Group ``index`` of a sweep's points trained in one job: every kind of every point, each batch read once."""
    runs = [(point, kind) for point in sweep_groups(config, sweep)[index] for kind in _kinds(config)]
    files = [layout.for_run(f"sweeps/{sweep}/{point}").run_files(kind) for point, kind in runs]

    def params():
        return {
            "runs": [
                TrainRun(kind, train_options(point_config(config, sweep, point)), config["seed"])
                for point, kind in runs
            ]
        }

    return Job(
        "train_group",
        {"sweep": sweep, "group": str(index)},
        {"stores": stores(config, layout, _experiment(config), "train")},
        {key: [f[key] for f in files] for key in ("weights", "meta", "log_csv")},
        params,
    )


def record(config, layout, planned=None):
    """The record of the experiment (``results/config.yaml``): its resolved config, written once every other
    output of the run exists.

    ``planned``: the run's other jobs, when the caller has them (default: they are planned here).
    """
    outputs = [path for job in planned or _planned(config, layout) for path in job.output_paths()]
    return Job("record", {}, {"outputs": outputs}, {"resolved": layout.resolved_config()}, lambda: {"config": config})


def _run_jobs(config, layout):
    """Training of each kind (the released USAE imported instead of trained), metrics of every dataset and the
    baseline (with independent SAEs) of one run."""
    return [
        *([released(config, layout)] if config["released"] is not None else []),
        *(train(config, layout, kind) for kind in trained_kinds(config)),
        *(metrics(config, layout, name) for name in all_datasets(config)),
        *([baseline(config, layout)] if config["train"]["independent"] else []),
    ]


def planned_jobs(config, layout):
    """Every job of a whole run, in stage order (extraction in one job per store), and last the :func:`record`
    of its resolved config.

    Returns
    -------
    list of Job
        fetch and extract for datasets with images; then for each training run (:func:`runs`):
        training of each kind (the ``released`` USAE imported instead of trained), metrics of every
        dataset, the baseline (with independent SAEs),
        figures and tables; actmax (with images) and the explorer of the first run; with replicates,
        their seed stability and the scorecard over them; and for each point of each sweep
        (:func:`usae.config.sweep_points`) training, metrics of the experiment's dataset, the baseline and
        tables (training by groups of points with ``sweeps.<name>.together`` above 1), then each sweep's
        summary.
    """
    planned = _planned(config, layout)
    return [*planned, record(config, layout, planned)]


def _planned(config, layout):
    """Every job of a whole run but its record (:func:`planned_jobs`)."""
    datasets = all_datasets(config)
    images = [(name, key) for name, (key, entry) in datasets.items() if has_images(entry)]
    first = layout.for_run(runs(config)[0])
    planned = [
        *(
            fetch(config, layout, data_key(config, name), split)
            for name, key in images
            for split in dataset_splits(config, key)
        ),
        *(
            extract(config, layout, data_key(config, name), split, model, store_digest(config, name, split, model))
            for name, key in images
            for split in dataset_splits(config, key)
            for model in config["models"]
        ),
    ]
    for run in map(layout.for_run, runs(config)):
        planned += [*_run_jobs(config, run), figures(config, run), tables(config, run)]
    planned += [stability(config, layout), replicates(config, layout)] if runs(config) != [None] else []
    planned += [*([actmax(config, first)] if _images(config) else []), explorer(config, first)]
    for name in config["sweeps"]:
        together = config["sweeps"][name]["together"] > 1
        planned += [
            train_group(config, layout, name, index) for index in range(len(sweep_groups(config, name))) if together
        ]
        for point in sweep_points(config, name):
            values, run = point_config(config, name, point), layout.for_run(f"sweeps/{name}/{point}")
            planned += [job for job in _run_jobs(values, run) if not (together and job.stage == "train")]
            planned.append(tables(values, run))
    return planned + [sweep(config, layout, name) for name in config["sweeps"]]
