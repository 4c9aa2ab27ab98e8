# Config validation (defaults filled from workflow/schemas/config.schema.yaml) and path helpers.
import os
import shutil
import sys

from snakemake.settings.types import DeploymentMethod

# The rules' scripts import the usae library from this checkout, installed or not (conda envs
# carry only the dependencies).
SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)
from usae.stages import expose_library_to_jobs

expose_library_to_jobs(SRC)

from usae.config import validate_config
from usae.figures_stage import FIGURES
from usae.stages import all_datasets, manifest_path, store_path

# --use-conda without conda on PATH: run the rules in the current environment instead of failing.
_deployment = workflow.deployment_settings
if DeploymentMethod.CONDA in _deployment.deployment_method and not any(
    shutil.which(frontend)
    for frontend in (_deployment.conda_frontend, "conda", "mamba")
):
    print(
        "usae: --use-conda given but no conda on PATH; running rules in the current environment",
        file=sys.stderr,
    )
    _deployment.deployment_method = set(_deployment.deployment_method) - {
        DeploymentMethod.CONDA
    }

validate_config(config, ", ".join(map(str, workflow.configfiles)) or "config")
RESULTS = config["results"]
DATASETS = all_datasets(config)
EXPERIMENT = config["dataset"]["name"]
SPLITS = ["train", "val"]
EVAL_DATASETS = list(DATASETS)  # the experiment's dataset first


wildcard_constraints:
    dataset="|".join(DATASETS),
    split="train|val",
    model="|".join(config["models"]),
    kind="usae|independent",


def manifests():
    """Manifests of every split of the experiment's dataset and of the eval datasets' val split."""
    wanted = [manifest_path(config, EXPERIMENT, split) for split in SPLITS]
    wanted += [
        manifest_path(config, name, "val") for name in DATASETS if name != EXPERIMENT
    ]
    return [str(path) for path in wanted]


def stores():
    """Activation stores (their meta.json) of every model for every split the later stages read."""
    pairs = [(EXPERIMENT, split) for split in SPLITS] + [
        (name, "val") for name in DATASETS if name != EXPERIMENT
    ]
    return [
        str(store_path(config, dataset, split, model) / "meta.json")
        for dataset, split in pairs
        for model in config["models"]
    ]


def trained():
    """Final models of the USAE and, if configured, of the independent-SAE baseline."""
    kinds = ["usae", "independent"] if config["train"]["independent"] else ["usae"]
    return [f"{RESULTS}/train/{kind}/model.safetensors" for kind in kinds]


def independent_model():
    """The independent SAEs' model file when the baseline is configured (metrics also score it)."""
    return (
        [f"{RESULTS}/train/independent/model.safetensors"]
        if config["train"]["independent"]
        else []
    )


def all_outputs():
    """Everything `rule all` builds."""
    return (
        manifests()
        + stores()
        + trained()
        + [f"{RESULTS}/figures/{name}.png" for name in FIGURES]
        + [f"{RESULTS}/scorecard.md", f"{RESULTS}/tables/reconstruction.csv"]
        + baseline_outputs()
        + [f"{RESULTS}/figures/fig8_actmax.png"]
    )


def baseline_outputs():
    """The matching table and figures, when the independent-SAE baseline is configured."""
    if not config["train"]["independent"]:
        return []
    return [
        f"{RESULTS}/tables/baseline_matching.csv",
        f"{RESULTS}/figures/fig7_matching.png",
    ]
