"""The Snakemake DAG on a tiny embedded config, in a temporary working directory."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = {
    "dataset": {"name": "embedded", "source": "embedded", "embedded": {"n_train": 6, "n_val": 4, "size": 96}},
    "models": ["efficientnet_lite0", "efficientnet_lite1"],
    "extract": {"grid": 7, "batch_size": 4, "shard_images": 4, "stat_images": 4},
    "train": {"n_concepts": 64, "k": 8, "batch_images": 2, "epochs": 2, "checkpoint_every": 2},
    "actmax": {"steps": 2, "universal": 1, "specific_per_model": 1},
    "baseline": {"top_cofiring": 10},
}


def snakemake(workdir, *args):
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory",
               str(workdir), "--configfile", str(workdir / "config.yaml"), "--cores", "2", *args]
    return subprocess.run(command, capture_output=True, text=True)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("dag")
    (workdir / "config.yaml").write_text(yaml.safe_dump(TINY))
    return workdir


def test_dry_run_lists_the_stages(workdir):
    result = snakemake(workdir, "-n")
    assert result.returncode == 0, result.stderr[-2000:]
    for rule in ["fetch", "extract", "train", "metrics", "baseline", "actmax", "figures", "report_tables", "all"]:
        assert f"rule {rule}:" in result.stdout


def test_full_run_then_nothing_to_do(workdir):
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    for split in ["train", "val"]:
        assert (workdir / f"results/data/embedded/{split}.csv").exists()
        for model in TINY["models"]:
            assert (workdir / f"results/activations/embedded/{split}/{model}/meta.json").exists()
            assert (workdir / f"results/logs/extract/embedded_{split}_{model}.log").exists()
    for kind in ["usae", "independent"]:
        for name in ["model.safetensors", "model.json", "log.csv", "curves.png", "curves.pdf"]:
            assert (workdir / f"results/train/{kind}/{name}").exists(), (kind, name)
    for name in ["fig5_r2", "fig6a_entropy", "fig6b_cofire_proportion", "fig6c_cofire_energy",
                 "fig4_universal_concepts", "fig9_model_specific_concepts", "fig7_matching",
                 "fig16_matching_top_cofiring", "fig8_actmax"]:
        assert (workdir / f"results/figures/{name}.png").exists() and (workdir / f"results/figures/{name}.pdf").exists()
    for name in ["reconstruction.csv", "reconstruction.md", "universality.csv", "concepts.csv",
                 "baseline_matching.csv", "actmax_cross_activation.csv"]:
        assert (workdir / f"results/tables/{name}").exists(), name
    scorecard = (workdir / "results/scorecard.md").read_text()
    assert "| Fig. 5" in scorecard and "| Fig. 7" in scorecard
    assert len(list((workdir / "results/baseline").glob("pairs_*.csv"))) == 2
    again = snakemake(workdir, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_bad_config_fails_before_any_job(tmp_path):
    (tmp_path / "config.yaml").write_text("extract: {grid: 7, shards: 3}\n")
    result = snakemake(tmp_path, "-n")
    assert result.returncode != 0
    assert "unknown key 'extract.shards'" in result.stderr + result.stdout
