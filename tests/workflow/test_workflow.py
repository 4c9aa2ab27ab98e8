"""The Snakemake DAG on the tiny config (.test/config/config.yaml), in temporary working directories."""

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.explorer_fixture import read_script

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / ".test" / "config" / "config.yaml"
RULES = {"fetch", "extract", "train", "metrics", "baseline", "actmax", "figures", "tables", "explorer"}

pytestmark = pytest.mark.integration


def snakemake(workdir, *args):
    """Run Snakemake in ``workdir`` (its config/config.yaml is the default config)."""
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=workdir)


def copy_workflow(workdir, config_text):
    """Copy the workflow, library and DVC files into ``workdir`` with ``config_text`` as its default config."""
    for name in ["Snakefile", "dvc.yaml", "params.yaml", "requirements.lock", ".dvcignore"]:
        shutil.copy(REPO / name, workdir / name)
    for name in ["workflow", "src", "config", ".dvc"]:
        shutil.copytree(
            REPO / name,
            workdir / name,
            ignore=shutil.ignore_patterns("__pycache__", "tmp", "cache", "node_modules"),
            symlinks=True,
        )
    (workdir / "config" / "config.yaml").write_text(config_text)
    return workdir


# Rules that follow any change: ``all`` and ``record`` (the resolved config, rewritten after every run).
FOLLOWERS = {"all", "record"}


def planned_rules(result):
    """Rules a dry run plans (without :data:`FOLLOWERS`)."""
    assert result.returncode == 0, result.stderr[-3000:]
    planned = {
        line.split()[1].rstrip(":") for line in result.stdout.splitlines() if line.startswith(("rule ", "localrule "))
    }
    return planned - FOLLOWERS


def outputs_of(result):
    """The output lines of a dry run's jobs, but the record's (which follows every change)."""
    lines = [line for line in result.stdout.splitlines() if line.strip().startswith("output:")]
    return [line for line in lines if not line.strip().endswith("/config.yaml")]


def ran_rules(result):
    """Rules a real run ran (without :data:`FOLLOWERS`), from its log."""
    return {
        line.split()[1].rstrip(":") for line in result.stderr.splitlines() if line.startswith(("rule ", "localrule "))
    } - FOLLOWERS


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The tiny DAG run to the end, plus a 'folder' evaluation dataset of 5 photographs (Table 1's columns)."""
    import skimage.data
    from PIL import Image

    workdir = tmp_path_factory.mktemp("dag")
    extra = workdir / "extra_images" / "texture"
    extra.mkdir(parents=True)
    for index, photo in enumerate(
        [
            skimage.data.coffee(),
            skimage.data.rocket(),
            skimage.data.astronaut(),
            skimage.data.chelsea(),
            skimage.data.coffee()[::-1],
        ]
    ):
        Image.fromarray(photo[:256, :256]).save(extra / f"{index}.png")
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["eval_datasets"] = [{"name": "extra", "source": "folder", "root": "extra_images", "val_fraction": 1.0}]
    copy_workflow(workdir, yaml.safe_dump(config))
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


@pytest.fixture
def copy_of_finished(finished, tmp_path):
    """A private copy of the finished run (results and Snakemake's records) that a test may change."""
    return Path(shutil.copytree(finished, tmp_path / "copy", symlinks=True))


def test_dry_run_plans_every_rule(tmp_path):
    copy_workflow(tmp_path, TINY_CONFIG.read_text())
    assert planned_rules(snakemake(tmp_path, "-n")) == RULES


def test_train_ranks_ask_snakemake_for_that_many_gpus_and_tasks(tmp_path):
    """train.ranks on a GPU device: each train job asks for that many GPUs (SLURM: --gpus) and tasks, one a GPU
    (SLURM: --ntasks, --ntasks-per-gpu; mpi: the job starts them with srun); on CPU, tasks and no GPU. A local
    run given fewer GPUs (--resources gpu) is refused in one line, before Snakemake's own message."""
    copy_workflow(tmp_path, TINY_CONFIG.read_text())
    for train, asked in [
        ("{ranks: 2, device: cuda}", ["gpu=2", "tasks=2", "mpi=srun", "tasks_per_gpu=1"]),
        ("{ranks: 2, device: cpu}", ["gpu=0", "tasks=2", "mpi=srun"]),
        ("{ranks: 1, device: cpu}", ["gpu=0"]),
    ]:
        plan = snakemake(tmp_path, "-n", "--config", f"train={train}")
        assert plan.returncode == 0, plan.stderr[-2000:]
        trains = re.findall(r"^rule train:\n(?:    .*\n)+", plan.stdout, re.MULTILINE)  # each job's indented lines
        resources = [line for block in trains for line in block.splitlines() if line.strip().startswith("resources:")]
        assert len(trains) == len(resources) == 2, resources
        for line in resources:
            given = set(line.split(":", 1)[1].replace(" ", "").split(","))
            assert set(asked) <= given and ("tasks=2" in given) == ("tasks=2" in asked), line
    refused = snakemake(tmp_path, "-n", "--resources", "gpu=1", "--config", "train={ranks: 2, device: cuda}")
    errors = [line for line in refused.stderr.splitlines() if "error" in line.lower()]
    assert refused.returncode != 0 and errors == [
        "usae: error: key 'train.ranks': 2 ranks need gpu=2, but Snakemake was given gpu=1 (--resources or the "
        "profile's resources: set it to this machine's GPU count)"
    ], refused.stderr[-2000:]


def test_a_dry_run_writes_nothing_and_the_record_is_what_usae_resolves(copy_of_finished, monkeypatch):
    """results/config.yaml is written by the record job, once the outputs it describes exist: a dry run with
    other values leaves it as it was, and it equals what the usae command resolves from the same files."""
    from usae.config import load_config, resolve_config

    workdir = copy_of_finished
    monkeypatch.chdir(workdir)  # the config's dataset folders are relative to the working folder
    record = workdir / "results" / "config.yaml"
    written = record.read_bytes()
    assert yaml.safe_load(written) == load_config(workdir / "config" / "config.yaml")
    mine = workdir / "config" / "mine.yaml"
    mine.write_text(yaml.safe_dump({"extends": "config.yaml", "results": "results_mine", "train": {"lr": 0.5}}))
    for args in [("--config", "train={lr: 0.001}"), ("--configfile", "config/mine.yaml")]:
        assert snakemake(workdir, "-n", *args).returncode == 0
    assert record.read_bytes() == written and not (workdir / "results_mine").exists()
    # A real run of a change that reruns little: the record follows it, typed as the schema wants.
    run = snakemake(workdir, "--config", "explorer={neighbours: 5}")
    assert run.returncode == 0, run.stderr[-3000:]
    resolved = yaml.safe_load(record.read_text())
    overrides = {"explorer": {"neighbours": "5"}}  # as Snakemake passes a nested value: a text
    assert resolved == resolve_config([workdir / "config" / "config.yaml"], overrides)
    assert resolved["explorer"]["neighbours"] == 5 and resolved["train"] == yaml.safe_load(written)["train"]


def test_full_run_writes_every_output_then_nothing_to_do(finished):
    results = finished / "results"
    for name in [
        "fig5_r2",
        "fig6a_entropy",
        "fig6b_cofire_proportion",
        "fig6c_cofire_energy",
        "fig4_universal_concepts",
        "fig9_model_specific_concepts",
        "fig7_matching",
        "fig7b_matched_pairs",
        "fig16_matching_top_cofiring",
        "fig8_actmax",
    ]:
        assert (results / f"figures/{name}.png").exists() and (results / f"figures/{name}.pdf").exists()
    for name in ["reconstruction", "universality", "baseline_matching", "actmax_cross_activation"]:
        assert (results / f"tables/{name}.csv").exists() and (results / f"tables/{name}.md").exists()
    table1 = pd.read_csv(results / "tables/reconstruction.csv")
    assert sorted(set(table1["dataset"])) == ["embedded", "extra"] and len(table1) == 4
    assert "| Fig. 7" in (results / "scorecard.md").read_text()
    log = (results / "logs/train/usae.log").read_text()
    assert "\r" not in log and "train usae: 6/6 step (100%)" in log
    assert (results / "explorer/index.html").exists()
    again = snakemake(finished, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_library_edit_reruns_training_and_after_not_extraction(copy_of_finished):
    with open(copy_of_finished / "src/usae/sae/modules.py", "a") as handle:
        handle.write("\n# a change of the SAE code\n")
    assert planned_rules(snakemake(copy_of_finished, "-n")) == RULES - {"fetch", "extract"}


def test_a_second_experiment_reuses_the_cached_data_and_stores(copy_of_finished):
    """Another results folder and learning rate: no fetch or extract job; another grid: its own stores only."""

    def outputs(result):
        return [line.split("output:")[1] for line in result.stdout.splitlines() if line.strip().startswith("output:")]

    second = snakemake(copy_of_finished, "-n", "--config", "results=results_lr", "train={lr: 0.01}")
    assert planned_rules(second) == RULES - {"fetch", "extract"}
    assert all("results_lr/" in line for line in outputs(second)), outputs(second)
    grid = snakemake(copy_of_finished, "-n", "--config", "results=results_grid", "extract={grid: 5}")
    assert planned_rules(grid) == RULES - {"fetch"}
    new = [line for line in outputs(grid) if "results/cache/" in line]
    assert len(new) == 6 and all(
        "/cache/activations/embedded-" in line or "/cache/activations/extra-" in line for line in new
    )
    cached = {str(p.relative_to(copy_of_finished)) for p in (copy_of_finished / "results/cache").rglob("meta.json")}
    assert len(cached) == 6 and not any(path in line for path in cached for line in new)
    first = snakemake(copy_of_finished, "-n")
    assert "Nothing to be done" in first.stdout + first.stderr


def test_a_moved_cache_serves_an_experiment_run_from_another_directory(finished, tmp_path):
    """The finished run's cache copied elsewhere (its first home gone) and named by data: and activations: in a
    new working directory: a new grid extracts from the moved images, nothing is fetched again, and the
    galleries and the explorer find the images."""
    moved = Path(shutil.copytree(finished / "results" / "cache", tmp_path / "shared" / "cache", symlinks=True))
    manifest = next((moved / "data").glob("embedded-*/val.csv"))
    assert not pd.read_csv(manifest)["path"].str.contains("results/cache").any()  # recorded relative to the cache
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config.update(
        data=str(moved / "data"), activations=str(moved / "activations"), extract={**config["extract"], "grid": 5}
    )
    copy_workflow(workdir, yaml.safe_dump(config))
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "fetch" not in ran_rules(run) and "extract" in ran_rules(run)
    assert list((workdir / "results" / "explorer" / "thumbs").glob("*.jpg"))
    assert not (workdir / "results" / "cache").exists()


def test_seed_reruns_fetch_and_extraction(finished):
    planned = planned_rules(snakemake(finished, "-n", "--config", "seed=1"))
    assert planned == RULES


def changed_config(folder, name, workdir, **sections):
    """A config file in ``folder`` over ``workdir``'s default config, with some keys changed (for --configfile)."""
    path = folder / name
    path.write_text(yaml.safe_dump({"extends": str(workdir / "config" / "config.yaml"), **sections}))
    return str(path)


def test_figure_keys_rerun_only_the_rules_that_read_them(finished, tmp_path):
    gallery = changed_config(tmp_path, "g.yaml", finished, figures={"universal_concepts": 2})
    assert planned_rules(snakemake(finished, "-n", "--configfile", gallery)) == {"figures", "explorer"}
    images = changed_config(tmp_path, "i.yaml", finished, figures={"gallery_images": 3})
    # Both draw galleries; the tables read the baseline's matching table, the explorer shows the figures.
    rerun = {"figures", "baseline", "tables", "explorer"}
    assert planned_rules(snakemake(finished, "-n", "--configfile", images)) == rerun
    explorer_only = changed_config(tmp_path, "e.yaml", finished, explorer={"neighbours": 3})
    assert planned_rules(snakemake(finished, "-n", "--configfile", explorer_only)) == {"explorer"}


def test_bad_config_fails_before_any_job(tmp_path):
    copy_workflow(tmp_path, "extract: {grid: 7, shards: 3}\n")
    result = snakemake(tmp_path, "-n")
    assert result.returncode != 0
    assert "unknown key 'extract.shards'" in result.stderr + result.stdout


def test_report_embeds_the_figures(copy_of_finished):
    result = snakemake(copy_of_finished, "--report", "results/report.html")
    assert result.returncode == 0, result.stderr[-2000:]
    html = (copy_of_finished / "results/report.html").read_text(errors="replace")
    assert "fig5_r2.png" in html and "fig8_actmax.png" in html


def test_lint_passes(tmp_path):
    copy_workflow(tmp_path, TINY_CONFIG.read_text())
    result = snakemake(tmp_path, "--lint")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "your workflow is in a good condition" in result.stdout + result.stderr


def test_local_profile_plans_like_the_command_line(finished):
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", str(REPO / "profiles" / "local"), "-n"],
        capture_output=True,
        text=True,
        cwd=finished,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def _git(workdir, *args):
    subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *args],
        cwd=workdir,
        check=True,
        capture_output=True,
    )


def _dvc(workdir, *args):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True, cwd=workdir, env=env)
    assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
    return result


def test_dvc_repro_runs_without_the_venv_activated(copy_of_finished):
    """The checkout's .venv is used when PATH has no snakemake (a shell where the venv is not activated)."""
    venv = Path(sys.executable).parents[1]
    (copy_of_finished / ".venv").symlink_to(venv)
    _git(copy_of_finished, "init", "-q")
    path = os.pathsep.join(
        folder for folder in os.environ["PATH"].split(os.pathsep) if not (Path(folder) / "snakemake").exists()
    )
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "repro"],
        capture_output=True,
        text=True,
        cwd=copy_of_finished,
        env={**os.environ, "PATH": path},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "command not found" not in result.stdout + result.stderr


def test_dvc_plots_show_draws_the_training_curves_offline(copy_of_finished):
    """The page loads Vega from .dvc/plots/node_modules (make installs it from npm), and Chromium draws it."""
    scripts = REPO / ".dvc" / "plots" / "node_modules"
    if not scripts.is_dir():
        pytest.skip(f"{scripts} missing: make installs it with npm")
    (copy_of_finished / ".dvc" / "plots" / "node_modules").symlink_to(scripts)
    _git(copy_of_finished, "init", "-q")
    _dvc(copy_of_finished, "plots", "show")
    page = (copy_of_finished / "dvc_plots" / "index.html").read_text()
    sources = re.findall(r'<script src="([^"]+)"', page)
    assert len(sources) == 3 and all((copy_of_finished / "dvc_plots" / src).resolve().is_file() for src in sources)
    assert "USAE training loss" in page
    if shutil.which("chromium"):
        dom = subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--virtual-time-budget=10000",
                "--dump-dom",
                (copy_of_finished / "dvc_plots" / "index.html").as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
        assert dom.count('class="marks"') >= 2  # both training-loss plots drawn (Fig. 5 is an image)


def _committed_repro(workdir):
    """``dvc repro`` in a new git repository of ``workdir``, committed with its dvc.lock."""
    shutil.copy(REPO / ".gitignore", workdir / ".gitignore")
    _git(workdir, "init", "-q")
    _dvc(workdir, "repro")
    _git(workdir, "add", "-A")
    _git(workdir, "commit", "-q", "-m", "results")


def test_dvc_repro_recomputes_after_a_library_edit(copy_of_finished):
    _committed_repro(copy_of_finished)
    assert "up to date" in _dvc(copy_of_finished, "status").stdout
    matrices = copy_of_finished / "results/metrics/embedded/matrices.json"
    before = matrices.stat().st_mtime_ns
    with open(copy_of_finished / "src/usae/analysis/evaluation.py", "a") as handle:
        handle.write("\n# a change of the evaluation code\n")
    assert "src/usae" in _dvc(copy_of_finished, "status").stdout
    _dvc(copy_of_finished, "repro")
    assert matrices.stat().st_mtime_ns > before
    assert "up to date" in _dvc(copy_of_finished, "status").stdout
    shown = _dvc(copy_of_finished, "metrics", "show").stdout
    assert "claims_holding" in shown and "dead_share" in shown
    params = copy_of_finished / "params.yaml"
    params.write_text(params.read_text().replace("epochs: null", "epochs: 3"))
    assert "train.epochs" in _dvc(copy_of_finished, "params", "diff").stdout
    config = copy_of_finished / "config" / "config.yaml"
    config.write_text(config.read_text().replace("epochs: 2", "epochs: 4"))
    assert "config/config.yaml" in _dvc(copy_of_finished, "status").stdout


def test_dvc_exp_run_sets_one_key_and_exp_show_fits_a_screen(copy_of_finished):
    """`dvc exp run -S train.lr=…` edits params.yaml only, reruns training onwards, and is shown beside main."""
    _committed_repro(copy_of_finished)
    config = (copy_of_finished / "config/config.yaml").read_text()
    before = (copy_of_finished / "results/train/usae/model.safetensors").read_bytes()
    _dvc(copy_of_finished, "exp", "run", "-S", "train.lr=0.01", "-n", "lr01")
    assert (copy_of_finished / "config/config.yaml").read_text() == config
    params = yaml.safe_load((copy_of_finished / "params.yaml").read_text())
    assert params["train"]["lr"] == 0.01 and params["train"]["epochs"] is None  # null: the config file's value
    resolved = yaml.safe_load((copy_of_finished / "results/config.yaml").read_text())
    assert resolved["train"]["lr"] == 0.01 and resolved["train"]["epochs"] == yaml.safe_load(config)["train"]["epochs"]
    assert (copy_of_finished / "results/train/usae/model.safetensors").read_bytes() != before
    shown = pd.read_csv(io.StringIO(_dvc(copy_of_finished, "exp", "show", "--csv").stdout))
    metrics = [
        column
        for column in shown.columns
        if column in json.loads((copy_of_finished / "results/headline.json").read_text())
    ]
    assert 5 <= len(metrics) <= 12
    assert shown[metrics].notna().all().all() and not shown[metrics].isin(["!"]).any().any()  # main row too
    row = shown[shown["Experiment"] == "lr01"]
    assert len(row) == 1 and float(row["train.lr"].iloc[0]) == 0.01


def test_dvc_push_pull_restores_results_without_recomputation(copy_of_finished, tmp_path):
    _dvc(copy_of_finished, "config", "core.no_scm", "true")
    _dvc(copy_of_finished, "repro")
    _dvc(copy_of_finished, "remote", "add", "-d", "store", str(tmp_path / "remote"))
    _dvc(copy_of_finished, "push")
    shutil.rmtree(copy_of_finished / "results")
    shutil.rmtree(copy_of_finished / ".snakemake" / "metadata")
    _dvc(copy_of_finished, "pull")
    assert (copy_of_finished / "results/scorecard.md").exists()
    snakemake(copy_of_finished, "--touch")
    again = snakemake(copy_of_finished, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr


def bash_blocks(markdown):
    """The command lines of every ``bash`` block of a Markdown file, comments kept as their own lines."""
    blocks = re.findall(r"```bash\n(.*?)```", markdown, flags=re.S)
    return [[line.strip() for line in block.splitlines() if line.strip()] for block in blocks]


def test_the_dvc_sequence_of_the_docs_runs_verbatim(finished, tmp_path):
    """docs/dvc.md's experiment and versioning blocks, in order, command by command: commit the results, run
    and apply an experiment, push to a remote, then on a fresh git clone pull and find nothing to do."""
    workdir = Path(shutil.copytree(finished, tmp_path / "work", symlinks=True))
    shutil.copy(REPO / ".gitignore", workdir / ".gitignore")
    _git(workdir, "init", "-q")
    _git(workdir, "add", "-A")
    _git(workdir, "commit", "-q", "-m", "a clone after make run")
    remote, clone = tmp_path / "dvc-store", tmp_path / "clone"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        **{
            f"GIT_{who}_{what}": value
            for who in ("AUTHOR", "COMMITTER")
            for what, value in (("NAME", "test"), ("EMAIL", "t@example.org"))
        },
    }
    here = workdir
    lines = [line for block in bash_blocks((REPO / "docs" / "dvc.md").read_text())[:2] for line in block]
    assert lines[0].startswith("dvc repro") and lines[-1].startswith("snakemake --cores all -n")
    for line in lines:
        command = line.split(" #", 1)[0].strip() if not line.startswith("#") else ""
        if line.startswith("# on a fresh clone"):
            subprocess.run(["git", "clone", "-q", str(workdir), str(clone)], check=True)
            here = clone
        if not command:
            continue
        command = command.replace("/path/to/dvc-store", str(remote)).replace("dvc ", f"{sys.executable} -m dvc ")
        result = subprocess.run(["bash", "-c", command], cwd=here, env=env, capture_output=True, text=True)
        assert result.returncode == 0, (line, result.stdout[-2000:], result.stderr[-2000:])
    assert here == clone and "Nothing to be done" in result.stdout + result.stderr
    assert (clone / "results" / "scorecard.md").read_bytes() == (workdir / "results" / "scorecard.md").read_bytes()
    assert yaml.safe_load((clone / "params.yaml").read_text())["train"]["lr"] == 0.001  # the applied experiment


@pytest.fixture(scope="module")
def replicated(tmp_path_factory):
    """The tiny DAG with two replicate training runs, run to the end."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["train"]["replicates"] = 2
    workdir = copy_workflow(tmp_path_factory.mktemp("replicated"), yaml.safe_dump(config))
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


def test_replicates_share_the_stores_and_the_first_equals_the_single_run(replicated, finished):
    ours, single = replicated / "results", finished / "results"
    stores = sorted(p.relative_to(ours) for p in (ours / "cache/activations").rglob("*") if p.is_file())
    assert stores and all((ours / p).read_bytes() == (single / p).read_bytes() for p in stores)
    for kind in ["usae", "independent"]:
        first = (ours / f"replicates/r0/train/{kind}/model.safetensors").read_bytes()
        assert first == (single / f"train/{kind}/model.safetensors").read_bytes()
        assert first != (ours / f"replicates/r1/train/{kind}/model.safetensors").read_bytes()
    assert (ours / "scorecard.md").read_text().startswith("# Scorecard over 2 replicates")
    claims = yaml.safe_load((ours / "scorecard.json").read_text())["claims"]
    assert all({"value:r0", "value:r1", "holds", "fragile"} <= set(claim) for claim in claims)
    assert (ours / "replicates/r0/explorer/index.html").exists() and not (ours / "replicates/r1/explorer").exists()
    # The explorer reads the run's label coherence and r0's seed stability.
    meta = read_script(ours / "replicates/r0/explorer/data/meta.js", "window.USAE_META = ")
    evidence = json.loads((ours / "replicates/r0/metrics/embedded/coherence.json").read_text())
    assert meta["coherence"]["run"] == evidence["run"] and meta["coherence"].get("reason") == evidence["reason"]
    assert meta["stability"] is True and (ours / "figures/stability_by_kind.png").exists()
    by_id = {claim["id"]: claim for claim in claims}
    assert (
        by_id["stability_above_random"]["holds"] in ("yes", "no")
        and "r0-r1" in by_id["stability_above_random"]["claim"]
    )
    pairs = pd.read_csv(ours / "tables/stability.csv")
    assert set(pairs["method"]) == {"atoms", "joint", "codes", "random"} and set(pairs["pair"]) == {"r0-r1"}
    single_card = yaml.safe_load((single / "scorecard.json").read_text())["claims"]
    assert {c["id"]: c["gate"] for c in single_card}["stability_above_random"] == "replicates: 1"


def test_one_more_replicate_trains_only_that_run(replicated, tmp_path):
    more = changed_config(tmp_path, "r.yaml", replicated, train={"replicates": 3})
    result = snakemake(replicated, "-n", "--configfile", more)
    # r0's per-concept stability (a mean over the other runs) takes in r2, and r0's explorer shows it.
    rules = {"train", "metrics", "baseline", "figures", "tables", "stability", "replicates", "explorer"}
    assert planned_rules(result) == rules
    outputs = outputs_of(result)
    stability = ("results/tables/stability", "results/figures/stability_by_kind", "r0/metrics/embedded/stability.csv")
    experiment = ("replicates/r2/", "results/scorecard.md", "replicates/r0/explorer", *stability)
    assert [line for line in outputs if not any(part in line for part in experiment)] == []


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The tiny DAG with a two-point learning-rate sweep, run to the end."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["sweeps"] = {"lr": {"train": {"lr": [0.001, 0.003]}}}
    workdir = copy_workflow(tmp_path_factory.mktemp("swept"), yaml.safe_dump(config))
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


def test_a_sweep_scores_every_point_on_the_shared_stores(swept, finished):
    results = swept / "results"
    summary = pd.read_csv(results / "sweeps/lr/summary.csv")
    assert list(summary["point"]) == ["lr~0.001", "lr~0.003"] and list(summary["lr"]) == [0.001, 0.003]
    assert summary[["usae_self_r2", "fig7_matched_share", "dead_share"]].notna().all().all()
    assert (results / "sweeps/lr/metrics.png").stat().st_size > 1000
    stores = [p.relative_to(results) for p in (results / "cache/activations").rglob("*") if p.is_file()]
    assert stores and all((results / p).read_bytes() == (finished / "results" / p).read_bytes() for p in stores)
    points = [(results / f"sweeps/lr/{p}/train/usae/model.safetensors").read_bytes() for p in summary["point"]]
    assert points[0] != points[1] != (results / "train/usae/model.safetensors").read_bytes()


def test_changing_one_value_of_a_sweep_runs_that_point_only(swept, tmp_path):
    changed = changed_config(tmp_path, "s.yaml", swept, sweeps={"lr": {"train": {"lr": [0.001, 0.002]}}})
    result = snakemake(swept, "-n", "--configfile", changed)
    assert planned_rules(result) == {"sweep_train", "sweep_metrics", "sweep_baseline", "sweep_tables", "sweep"}
    outputs = outputs_of(result)
    assert all("sweeps/lr/lr~0.002/" in line or "sweeps/lr/summary" in line for line in outputs), outputs


def test_points_trained_together_equal_the_points_trained_apart(swept, tmp_path):
    workdir = Path(shutil.copytree(swept, tmp_path / "copy", symlinks=True))
    together = changed_config(
        tmp_path, "t.yaml", workdir, sweeps={"lr": {"together": 2, "train": {"lr": [0.001, 0.003]}}}
    )
    result = snakemake(workdir, "--configfile", together, "--forcerun", "sweep_train_group_lr_0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rule sweep_train_group_lr_0:" in result.stdout + result.stderr
    for point in ["lr~0.001", "lr~0.003"]:
        for kind in ["usae", "independent"]:
            for name in ["model.safetensors", "model.json", "log.csv"]:
                path = f"results/sweeps/lr/{point}/train/{kind}/{name}"
                assert (workdir / path).read_bytes() == (swept / path).read_bytes(), path
