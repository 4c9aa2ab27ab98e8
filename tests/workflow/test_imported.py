"""An experiment of imported activations (``dataset.source: activations``): the whole DAG with no images."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.synthetic import planted_activations
from tests.workflow.test_workflow import copy_workflow, ran_rules, snakemake
from usae.activations.store import write_store

pytestmark = pytest.mark.integration

MODELS = {"alpha": 8, "beta": 12}
CONFIG = {
    "dataset": {"name": "mine", "source": "activations"},
    "models": list(MODELS),
    "train": {"n_concepts": 16, "k": 4, "batch_images": 4, "epochs": 2, "checkpoint_every": 4, "device": "cpu"},
    "metrics": {"batch_images": 4, "device": "cpu"},
    "baseline": {"top_cofiring": 5},
    "explorer": {"device": "cpu"},
}


def import_stores(results, n_images=None):
    """Planted activations of every model written with write_store into the experiment's train and val stores."""
    rng = np.random.default_rng(0)
    for split, count in (n_images or {"train": 16, "val": 8}).items():
        acts, _ = planted_activations(rng, count, 16, MODELS, n_shared=6, n_specific=3, active=2)
        ids = [f"{split}{i:03d}" for i in range(count)]
        for name, acts_NTD in acts.items():
            write_store(
                results / "activations" / "mine" / split / name, acts_NTD, ids, name, shard_images=8, dtype="float32"
            )


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """The DAG run to the end on imported stores; ``(workdir, snakemake result)``."""
    workdir = copy_workflow(tmp_path_factory.mktemp("imported"), yaml.safe_dump(CONFIG))
    import_stores(workdir / "results")
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir, run


def test_imported_experiment_runs_every_stage_but_fetch_extract_actmax(imported):
    workdir, run = imported
    results = workdir / "results"
    ran = ran_rules(run)
    assert ran == {"train", "metrics", "baseline", "figures", "tables", "explorer"}
    assert not (results / "data").exists() and not (results / "actmax").exists()
    for name in [
        "fig5_r2",
        "fig6a_entropy",
        "fig6b_cofire_proportion",
        "fig6c_cofire_energy",
        "fig7_matching",
        "fig16_matching_top_cofiring",
    ]:
        assert (results / f"figures/{name}.png").exists(), name
    for name in ["fig4_universal_concepts", "fig9_model_specific_concepts", "fig7b_matched_pairs", "fig8_actmax"]:
        assert not (results / f"figures/{name}.png").exists(), name
    for name in ["reconstruction", "universality", "baseline_matching"]:
        assert (results / f"tables/{name}.csv").exists()
    assert (results / "scorecard.md").exists() and (results / "scorecard.json").exists()
    site = results / "explorer"
    assert (site / "index.html").exists() and not (site / "thumbs").exists()
    assert '"thumbnails":false' in (site / "data" / "meta.js").read_text()
    assert "no images" in (results / "logs/figures.log").read_text()
    assert "no images" in (results / "logs/baseline.log").read_text()
    assert "no fetch, extract or actmax" in run.stderr
    again = snakemake(workdir, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_missing_imported_store_is_one_line_naming_its_meta_json(tmp_path):
    copy_workflow(tmp_path, yaml.safe_dump(CONFIG))
    import_stores(tmp_path / "results")
    (tmp_path / "results/activations/mine/val/beta/meta.json").unlink()
    result = snakemake(tmp_path, "-n")
    assert result.returncode != 0
    assert (
        "results/activations/mine/val/beta/meta.json: imported activation store missing"
        in result.stdout + result.stderr
    )


def test_cli_stages_on_imported_stores(imported, tmp_path):
    """``usae baseline / figures / tables / explorer`` on the finished imported run: no manifest is looked for."""
    workdir = Path(shutil.copytree(imported[0], tmp_path / "copy"))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "results": str(workdir / "results")}))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    for stage in ["baseline", "figures", "tables", "explorer"]:
        result = subprocess.run(
            [sys.executable, "-m", "usae.cli", stage, "--config", str(config)],
            capture_output=True,
            text=True,
            cwd=workdir,
            env=env,
        )
        assert result.returncode == 0, (stage, result.stderr[-2000:])
    actmax = subprocess.run(
        [sys.executable, "-m", "usae.cli", "actmax", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=workdir,
        env=env,
    )
    assert actmax.returncode == 2
    assert actmax.stderr.strip().splitlines() == [
        f"usae: error: {config}: dataset.source is 'activations': no model to optimise images for"
    ]
