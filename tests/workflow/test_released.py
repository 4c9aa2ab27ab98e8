"""The authors' released USAE through the DAG (config ``released``): imported in place of training, then evaluated.

The releases are stand-ins written from the released layout (tests/official_release.py): random tensors,
at the real sizes (m = 6144) for the paper's dry run and at small ones for the tiny config's whole run.
"""

import os

import pytest
import yaml

from tests.official_release import write_release
from tests.workflow.test_workflow import REPO, TINY_CONFIG, copy_workflow, planned_rules, ran_rules, snakemake
from usae.io import read_json

pytestmark = pytest.mark.integration

EVALUATED = {"released", "metrics", "actmax", "figures", "tables", "explorer"}
PAPER_DIMS = {"SigLIP": 768, "DinoV2": 384, "ViT": 768}  # the release's model_zoo input_shape values
TINY_DIMS = {"lite0": 320, "lite1": 320}  # efficientnet_lite0/1 blocks.6
TINY_STATS = {"lite0": (0.1, 1.5), "lite1": (-0.2, 2.0)}


def with_dataset_folders(workdir, name):
    """A config over ``config/<name>`` whose dataset folders (ImageNet, DTD, CelebA) are empty stand-ins in
    ``workdir``: the parse checks that every folder a config names exists."""
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    folders = {"dataset": workdir / "imagenet", **{d["name"]: workdir / d["name"] for d in paper["eval_datasets"]}}
    for folder in folders.values():
        folder.mkdir()
    layer = {
        "extends": name,
        "dataset": {**paper["dataset"], "root": str(folders["dataset"])},
        "eval_datasets": [{**entry, "root": str(folders[entry["name"]])} for entry in paper["eval_datasets"]],
    }
    (workdir / "config" / "standin.yaml").write_text(yaml.safe_dump(layer))
    return "config/standin.yaml"


def test_paper_released_plans_val_extraction_and_evaluation_only(tmp_path):
    copy_workflow(tmp_path, (REPO / "config" / "config.yaml").read_text())
    config, _ = write_release(tmp_path, dims=PAPER_DIMS, m=6144, k=32)
    assert sum(path.stat().st_size for path in config.parent.glob("*.pth")) > 90e6  # the real tensor sizes
    result = snakemake(tmp_path, "-n", "--configfile", with_dataset_folders(tmp_path, "paper_released.yaml"))
    assert planned_rules(result) == {"fetch", "extract", "extract_merge"} | EVALUATED
    assert "split: train" not in result.stdout and "split=train" not in result.stdout
    assert "no train-split extraction, and no baseline" in result.stdout + result.stderr
    assert "results/paper_released/train/usae/model.json" in result.stdout


def test_paper_released_refuses_a_missing_checkpoint_in_one_line(tmp_path):
    copy_workflow(tmp_path, (REPO / "config" / "config.yaml").read_text())
    config, _ = write_release(tmp_path, dims=PAPER_DIMS, m=64, k=32)
    (config.parent / "uni_ViT_checkpoint_29.pth").unlink()
    result = snakemake(tmp_path, "-n", "--configfile", with_dataset_folders(tmp_path, "paper_released.yaml"))
    assert result.returncode != 0
    assert (
        "key 'released.checkpoints': checkpoints/uni_ViT_checkpoint_29.pth missing (checkpoints/"
        "config_dino_siglip_vit.yaml: model_zoo.ViT.checkpoint_path)"
    ) in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def tiny_released_config():
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["released"] = {
        "config": "checkpoints/config_dino_siglip_vit.yaml",
        "models": {"lite0": "efficientnet_lite0", "lite1": "efficientnet_lite1"},
    }
    config["train"]["independent"] = False
    return config


@pytest.fixture(scope="module")
def released_run(tmp_path_factory):
    """The tiny config's DAG run to the end from an imported stand-in release (m = 640, k = 8)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("released"), yaml.safe_dump(tiny_released_config()))
    write_release(workdir, dims=TINY_DIMS, stats=TINY_STATS, m=640, k=8)
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir, run


def test_tiny_dag_runs_end_to_end_from_a_released_usae(released_run):
    workdir, run = released_run
    results = workdir / "results"
    ran = ran_rules(run)
    assert ran == {"fetch", "extract"} | EVALUATED
    assert not list((results / "cache/data").glob("embedded-*/train.csv"))
    assert not list((results / "cache/activations").glob("embedded-*/train"))
    assert list((results / "cache/activations").glob("embedded-*/val/*/meta.json"))
    meta = read_json(results / "train/usae/model.json")
    assert meta["stats"] == {"efficientnet_lite0": [0.1, 1.5], "efficientnet_lite1": [-0.2, 2.0]}
    assert meta["n_concepts"] == 640 and meta["k"] == 8
    matrices = read_json(results / "metrics/embedded/matrices.json")
    assert {
        name: [entry["mean"], entry["std"]] for name, entry in matrices["standardisation"]["models"].items()
    } == meta["stats"]  # evaluated with the release's statistics
    card = (results / "scorecard.md").read_text()
    assert "not run (no independent SAEs: train.independent is off)" in card
    assert not (results / "figures/fig7_matching.png").exists()
    assert (results / "explorer/index.html").exists() and (results / "figures/fig8_actmax.png").exists()
    assert "Nothing to be done" in (lambda r: r.stdout + r.stderr)(snakemake(workdir, "-n"))


def test_a_changed_release_file_reruns_the_import_and_what_depends_on_it(released_run):
    workdir, _ = released_run
    config = workdir / "checkpoints" / "config_dino_siglip_vit.yaml"
    official = yaml.safe_load(config.read_text())
    official["model_zoo"]["lite0"]["model_mean"] = 0.3  # a statistic
    config.write_text(yaml.safe_dump(official, sort_keys=False))
    assert planned_rules(snakemake(workdir, "-n")) == EVALUATED
    checkpoint = workdir / "checkpoints" / "uni_lite1_checkpoint_29.pth"
    os.utime(checkpoint, (checkpoint.stat().st_atime, checkpoint.stat().st_mtime + 10))
    assert planned_rules(snakemake(workdir, "-n")) == EVALUATED
