"""The Snakemake DAG on a tiny embedded config, in a temporary working directory."""

import os
import shutil
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
    """Run Snakemake on the copy of the workflow in ``workdir`` (its config/config.yaml is the default)."""
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=workdir)


def copy_workflow(workdir, config):
    """Copy the workflow, library and DVC files into ``workdir`` with ``config`` as its default config."""
    for name in ["Snakefile", "dvc.yaml"]:
        shutil.copy(REPO / name, workdir / name)
    for name in ["workflow", "src", "config", ".dvc"]:
        shutil.copytree(REPO / name, workdir / name, ignore=shutil.ignore_patterns("__pycache__", "tmp", "cache"),
                        symlinks=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The workflow on TINY, plus a 'folder' evaluation dataset of 5 photographs (Table 1's extra columns)."""
    import skimage.data
    from PIL import Image

    workdir = tmp_path_factory.mktemp("dag")
    extra = workdir / "extra_images" / "texture"
    extra.mkdir(parents=True)
    for index, photo in enumerate([skimage.data.coffee(), skimage.data.rocket(), skimage.data.astronaut(),
                                   skimage.data.chelsea(), skimage.data.coffee()[::-1]]):
        Image.fromarray(photo[:256, :256]).save(extra / f"{index}.png")
    config = {**TINY, "eval_datasets": [{"name": "extra", "source": "folder", "root": "extra_images",
                                         "val_fraction": 1.0}]}
    return copy_workflow(workdir, config)


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
    import pandas as pd

    table1 = pd.read_csv(workdir / "results/tables/reconstruction.csv")
    assert sorted(set(table1["dataset"])) == ["embedded", "extra"] and len(table1) == 4
    assert (workdir / "results/activations/extra/val/efficientnet_lite1/meta.json").exists()
    scorecard = (workdir / "results/scorecard.md").read_text()
    assert "| Fig. 5" in scorecard and "| Fig. 7" in scorecard
    assert len(list((workdir / "results/baseline").glob("pairs_*.csv"))) == 2
    again = snakemake(workdir, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_bad_config_fails_before_any_job(tmp_path):
    copy_workflow(tmp_path, {})
    (tmp_path / "config" / "config.yaml").write_text("extract: {grid: 7, shards: 3}\n")
    result = snakemake(tmp_path, "-n")
    assert result.returncode != 0
    assert "unknown key 'extract.shards'" in result.stderr + result.stdout


def _changed_config(workdir, name, **sections):
    base = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    changed = {**base, **{key: {**base.get(key, {}), **value} for key, value in sections.items()}}
    path = workdir / name
    path.write_text(yaml.safe_dump(changed))
    return str(path)


def _planned_rules(result):
    return {line.split()[1].rstrip(":") for line in result.stdout.splitlines() if line.startswith("rule ")}


def test_training_change_reruns_training_and_after_but_not_extraction(workdir):
    result = snakemake(workdir, "-n", "--configfile", _changed_config(workdir, "lr.yaml", train={"lr": 0.002}))
    planned = _planned_rules(result)
    assert {"train", "metrics", "figures", "report_tables", "baseline", "actmax"} <= planned
    assert not {"fetch", "extract"} & planned


def test_plotting_change_reruns_only_figures(workdir):
    result = snakemake(workdir, "-n", "--configfile", _changed_config(workdir, "plot.yaml", figures={"gallery_images": 3}))
    assert _planned_rules(result) == {"figures", "all"}


def test_report_embeds_the_figures(workdir):
    result = snakemake(workdir, "--report", "results/report.html")
    assert result.returncode == 0, result.stderr[-2000:]
    html = (workdir / "results/report.html").read_text(errors="replace")
    assert "fig5_r2.png" in html and "fig8_actmax.png" in html


def test_lint_passes(workdir):
    result = snakemake(workdir, "--lint")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "your workflow is in a good condition" in result.stdout + result.stderr


def test_dvc_push_pull_restores_results_without_recomputation(workdir, tmp_path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def dvc(*args):
        result = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True, cwd=workdir,
                                env=env)
        assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
        return result

    dvc("config", "core.no_scm", "true")
    dvc("repro")
    dvc("remote", "add", "-d", "store", str(tmp_path / "remote"))
    dvc("push")
    shutil.rmtree(workdir / "results")
    shutil.rmtree(workdir / ".snakemake" / "metadata")
    dvc("pull")
    assert (workdir / "results/scorecard.md").exists()
    snakemake(workdir, "--touch")
    again = snakemake(workdir, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_use_conda_without_conda_falls_back_with_one_warning(workdir):
    result = snakemake(workdir, "-n", "--use-conda")
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("usae:")]
    assert warnings == ["usae: --use-conda given but no conda on PATH; running rules in the current environment"]


def test_local_profile_runs(workdir):
    result = subprocess.run([sys.executable, "-m", "snakemake", "--profile", str(REPO / "profiles" / "local"), "-n"],
                            capture_output=True, text=True, cwd=workdir)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_snakefmt_clean():
    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow/rules"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
