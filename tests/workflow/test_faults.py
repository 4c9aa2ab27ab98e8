"""Faults and bad input: killed runs, damaged stores, bad folders and configs, locks, determinism, security."""

import fcntl
import hashlib
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.synthetic import drop_digests, planted_activations
from tests.workflow.test_workflow import REPO, TINY_CONFIG, copy_workflow, snakemake
from usae import jobs
from usae.activations.store import write_store
from usae.cli import main
from usae.config import validate_config
from usae.errors import UserError
from usae.layout import Layout
from usae.sae.checkpoint import latest_checkpoint, load_trained, save_checkpoint
from usae.stages.fetch import fetch

SRC = Path(__file__).resolve().parents[2] / "src"
# Progress and log lines the command prints before an error (usae.runtime.FORMAT).
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (INFO|WARNING) ")


# ---------------------------------------------------------------- the usae command: user errors and bugs


def write_config(tmp_path, **config):
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "results": str(tmp_path / "results"),
                "data": str(tmp_path / "results/cache/data"),
                "activations": str(tmp_path / "results/cache/activations"),
                **config,
            }
        )
    )
    return path


def one_line_error(capsys, argv):
    """Run ``usae argv``; assert exit code 2 and a single stderr line; return it without the prefix."""
    assert main(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if not LOG_LINE.match(line)]
    assert len(lines) == 1 and lines[0].startswith("usae: error: "), lines
    return lines[0][len("usae: error: ") :]


def test_a_bug_shows_its_traceback_and_asks_for_a_report(tmp_path, capsys, monkeypatch):
    import usae.jobs

    def broken(config, layout):
        return {}["no such key"]  # a KeyError from a bug, not from the user's input

    monkeypatch.setattr(usae.jobs, "planned_jobs", broken)
    assert main(["tables", "--config", str(write_config(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'no such key'" in err and "this is a bug in usae" in err


def test_user_error_is_one_line_and_debug_shows_the_traceback(tmp_path, capsys):
    config = write_config(tmp_path)
    message = one_line_error(capsys, ["metrics", "--config", str(config)])
    assert message == f"{tmp_path}/results/train/usae/model.safetensors: missing; run 'usae train' first"
    with pytest.raises(UserError):
        main(["--debug", "metrics", "--config", str(config)])


# ---------------------------------------------------------------- config


@pytest.mark.parametrize(
    "config, message",
    [
        ({"train": {"kk": 3}}, "unknown key 'train.kk'"),
        ({"train": {"k": "eight"}}, "key 'train.k': 'eight' is not of type 'integer'"),
        ({"train": {"k": 65, "n_concepts": 64}}, "key 'train.k': 65 active concepts, more than train.n_concepts (64)"),
        ({"train": {"n_concepts": 0}}, "key 'train.n_concepts': 0 is less than the minimum of 2"),
        (
            {"train": {"batch_images": 8}, "dataset": {"name": "e", "source": "embedded", "embedded": {"n_train": 4}}},
            "key 'train.batch_images': 8 images per batch, more than dataset.embedded.n_train (4)",
        ),
        ({"models": ["efficientnet_lite0", "resnet9000"]}, "key 'models': unknown model 'resnet9000'"),
        ({"dataset": {"name": "../up", "source": "embedded"}}, "key 'dataset.name': '../up' does not match"),
        ({"models": ["efficientnet_lite0", "a/b"]}, "key 'models.1': 'a/b' does not match"),
    ],
)
def test_config_errors_are_one_line_naming_the_file_and_key(tmp_path, capsys, config, message):
    path = write_config(tmp_path, **config)
    assert one_line_error(capsys, ["train", "--config", str(path)]).startswith(f"{path}: {message}")


def test_imported_models_need_not_be_in_the_registry():
    config = {"dataset": {"name": "mine", "source": "activations"}, "models": ["mine_a", "mine_b"]}
    assert validate_config(config, "c.yaml")["models"] == ["mine_a", "mine_b"]


def test_results_outside_the_working_directory_is_the_users_output_root():
    """``results: ../x`` is allowed: it is where the user wants outputs; every path stays under it, and the
    shared cache stays where the config says (default ``results/cache``)."""
    config = validate_config({"results": "../x"}, "c.yaml")
    layout = Layout(config["results"])
    assert layout.imported_store("d", "train", "m").startswith("../x/") and layout.explorer() == "../x/explorer"
    assert jobs.store(config, layout, "embedded", "train", "efficientnet_lite0").startswith(
        "results/cache/activations/"
    )


def test_a_layer_the_model_lacks_is_one_line(tmp_path, capsys):
    zoo = {"mine": {"loader": "timm", "arch": "efficientnet_lite0", "weights": "random", "layer": "blocks.99"}}
    config = write_config(
        tmp_path,
        dataset={"name": "e", "source": "embedded", "embedded": {"n_train": 2, "n_val": 2, "size": 64}},
        models=["mine", "efficientnet_lite0"],
        model_zoo=zoo,
        train={"batch_images": 2},
    )
    assert main(["fetch", "--config", str(config), "--split", "train"]) == 0
    capsys.readouterr()
    message = one_line_error(capsys, ["extract", "--config", str(config), "--model", "mine", "--split", "train"])
    assert message == "model_zoo.mine.layer: no module named 'blocks.99' in efficientnet_lite0"


# ---------------------------------------------------------------- folder datasets


def test_folder_dataset_rejects_bad_files_and_reads_odd_names(tmp_path, image_folder):
    root = tmp_path / "my phötos"
    (root / "sub dir é").mkdir(parents=True)
    for index, path in enumerate(image_folder[:4]):
        shutil.copy(path, root / "sub dir é" / f"bild {index} ü.jpg")
    (root / "corrupt.jpg").write_bytes(image_folder[0].read_bytes()[:300])
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("not an image")
    (root / "fake.jpg").write_text("not an image either")
    dataset = {
        "name": "mine",
        "source": "folder",
        "root": str(root),
        "val_fraction": 0.0,
        "label_depth": 1,
        "max_images": {"train": None},
    }
    out = tmp_path / "out"
    table = fetch(
        out / "train.csv",
        out / "train.rejects.csv",
        out / "images",
        dataset=dataset,
        key="dataset",
        split="train",
        seed=0,
        cache=None,
    )
    assert len(table) == 4 and all("sub dir é" in path for path in table["path"])
    assert set(table["label"]) == {"sub dir é"} and "bild 0 ü" in set(table["name"])
    rejects = (out / "train.rejects.csv").read_text()
    assert all(name in rejects for name in ["corrupt.jpg", "empty.png", "fake.jpg"]) and "notes.txt" not in rejects


@pytest.mark.parametrize(
    "make_root, message",
    [
        (lambda tmp: tmp / "missing", "{config}: key 'dataset.root': dataset folder '{root}' does not exist"),
        (
            lambda tmp: (tmp / "empty").mkdir() or tmp / "empty",
            "dataset.root: no images for split 'train' under '{root}'",
        ),
    ],
)
def test_empty_or_missing_folder_is_one_line_naming_dataset_root(tmp_path, capsys, make_root, message):
    root = make_root(tmp_path)
    config = write_config(tmp_path, dataset={"name": "mine", "source": "folder", "root": str(root)})
    assert one_line_error(capsys, ["fetch", "--config", str(config)]) == message.format(root=root, config=config)


# ---------------------------------------------------------------- bad stores

MODELS = {"alpha": 6, "beta": 10}
IMPORTED = {
    "dataset": {"name": "mine", "source": "activations"},
    "models": list(MODELS),
    "train": {"n_concepts": 8, "k": 2, "batch_images": 4, "epochs": 1, "device": "cpu"},
}


@pytest.fixture
def imported_stores(tmp_path):
    """Training stores of two models imported with write_store; ``(config file, {model: store folder})``."""
    acts, _ = planted_activations(np.random.default_rng(0), 8, 4, MODELS, n_shared=4, n_specific=2, active=1)
    ids = [f"i{n}" for n in range(8)]
    folders = {name: tmp_path / "results/activations/mine/train" / name for name in MODELS}
    for name, acts_NTD in acts.items():
        write_store(folders[name], acts_NTD, ids, name, shard_images=4, dtype="float32")
    return write_config(tmp_path, **IMPORTED), folders


def _truncate(folders):
    shard = folders["beta"] / "shard_00001.npy"
    shard.write_bytes(shard.read_bytes()[:200])
    return shard


def _poison(value, digests=False):
    """Write ``value`` into a shard; without ``digests``, as in a store another program wrote (no sha256 recorded)."""

    def poison(folders):
        shard = folders["beta"] / "shard_00001.npy"
        array = np.load(shard, mmap_mode="r+")
        array[1, 2, 3] = value
        array.flush()
        if not digests:
            drop_digests(folders["beta"])
        return shard

    return poison


def _drop_meta(folders):
    (folders["beta"] / "meta.json").unlink()
    return folders["beta"] / "meta.json"


def _rewrite_beta(tokens, ids):
    def rewrite(folders):
        shutil.rmtree(folders["beta"])
        write_store(folders["beta"], np.ones((8, tokens, 10), np.float32), ids, "beta", shard_images=4)
        return folders["beta"]

    return rewrite


@pytest.mark.parametrize(
    "damage, message",
    [
        (_truncate, "unreadable shard"),
        (_poison(np.nan), "NaN or inf in activations"),
        (_poison(np.inf), "NaN or inf in activations"),
        (_poison(7.0, digests=True), "damaged (its sha256 differs from the one"),
        (_drop_meta, "activation store missing or incomplete (no meta.json)"),
        (_rewrite_beta(9, [f"i{n}" for n in range(8)]), "9 tokens per image, but"),
        (_rewrite_beta(4, [f"other{n}" for n in range(8)]), "image ids differ from"),
    ],
)
def test_bad_store_is_one_line_naming_it_and_leaves_no_output(imported_stores, capsys, damage, message):
    config, folders = imported_stores
    named = damage(folders)
    err = one_line_error(capsys, ["train", "--kind", "usae", "--config", str(config)])
    assert err.startswith(str(named)) and message in err, err
    trained = config.parent / "results/train/usae"
    assert not any((trained / name).exists() for name in ["model.safetensors", "model.json", "log.csv"])


def test_batch_larger_than_the_stores_is_one_line(imported_stores, capsys):
    config, folders = imported_stores
    config.write_text(config.read_text().replace("batch_images: 4", "batch_images: 9"))
    err = one_line_error(capsys, ["train", "--config", str(config)])
    assert err == f"{folders['alpha']}: 8 images, fewer than one batch of 9 (train.batch_images)"


# ---------------------------------------------------------------- security

FORBIDDEN = [
    r"\bimport pickle\b",
    r"\bpickle\.load",
    r"allow_pickle\s*=\s*True",
    r"trust_remote_code\s*=\s*True",
    r"shell\s*=\s*True",
    r"os\.system\(",
    r"os\.popen\(",
    r"(?<![.\w])eval\(",
    r"(?<![.\w])exec\(",
]


def test_no_unpickling_remote_code_or_shell_strings_in_the_library():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        found += [f"{path.relative_to(SRC)}: {pattern}" for pattern in FORBIDDEN if re.search(pattern, text)]
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            if "weights_only=True" not in call:
                found.append(f"{path.relative_to(SRC)}: {call}")
    assert found == []


class Payload:
    """Unpickling this creates ``marker``: proof that a pickle was executed."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_pickle_posing_as_weights_is_refused_without_running(tmp_path):
    import torch

    marker = tmp_path / "executed"
    folder = tmp_path / "checkpoints" / "latest"
    save_checkpoint(folder, {"m": torch.nn.Linear(2, 2)}, {}, {"step": 3, "plan": {}})
    (folder / "weights.safetensors").write_bytes(pickle.dumps(Payload(marker)))
    from usae.sae.checkpoint import load_checkpoint

    with pytest.raises(UserError, match=r"weights.safetensors: not a safetensors file, refused"):
        load_checkpoint(folder, {"m": torch.nn.Linear(2, 2)}, {})
    (tmp_path / "model.json").write_text('{"kind": "usae", "dims": {"a": 2}, "n_concepts": 4, "k": 1}')
    with pytest.raises(UserError, match=r"model.safetensors: not a safetensors file, refused"):
        (tmp_path / "model.safetensors").write_bytes(pickle.dumps(Payload(marker)))
        load_trained(tmp_path / "model.safetensors", tmp_path / "model.json")
    assert not marker.exists()


@pytest.mark.parametrize(
    "state",
    ['["step", 3]', '{"step": "3; rm -rf /", "plan": {}, "optimizers": {}}', '{"__class__": "os.system"}', "not json"],
)
def test_a_checkpoint_state_that_usae_did_not_write_is_refused(tmp_path, state):
    folder = tmp_path / "latest"
    folder.mkdir()
    (folder / "state.json").write_text(state)
    with pytest.raises(UserError, match=r"latest/state.json: not"):
        latest_checkpoint(tmp_path)


# ---------------------------------------------------------------- killed runs (Snakemake, SIGKILL)

FAULT_CONFIG = yaml.safe_load(TINY_CONFIG.read_text())
# Long enough training (90 steps a kind) to be caught between a checkpoint and its end.
FAULT_CONFIG["train"].update({"epochs": 30, "checkpoint_every": 5})


def digests(workdir):
    """sha256 of every activation shard, trained model and table CSV of a run."""
    results = Path(workdir) / "results"
    files = [
        *results.glob("cache/activations/*/*/*/shard_*.npy"),
        *results.glob("train/*/model.safetensors"),
        *results.glob("tables/*.csv"),
    ]
    return {str(path.relative_to(results)): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(files)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The fault config's DAG run to the end once, uninterrupted."""
    workdir = copy_workflow(tmp_path_factory.mktemp("reference"), yaml.safe_dump(FAULT_CONFIG))
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


def start_snakemake(workdir, *args):
    """Snakemake in its own process group (so that SIGKILL reaches every job it started)."""
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    return subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def wait_for(workdir, pattern, process, timeout=600):
    """Poll until a file matching ``pattern`` exists under ``workdir``; fail if the run ends first."""
    deadline = time.monotonic() + timeout
    while not list(Path(workdir).glob(pattern)):
        assert process.poll() is None, f"the run ended before {pattern} appeared"
        assert time.monotonic() < deadline, f"no {pattern} after {timeout} s"
        time.sleep(0.02)


def live_members(group):
    """Processes of a process group that are alive (zombies, dead but not yet reaped, excluded)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while listed
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(stat.parent.name)
    return members


def kill_group(process):
    """SIGKILL the whole process group of ``process`` (Snakemake and its jobs) and check none survives."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    time.sleep(0.5)
    assert live_members(process.pid) == []


# How Snakemake refuses to run over an unfinished or running run: incomplete outputs, or the lock.
REFUSALS = ("IncompleteFilesException", "Directory cannot be locked")

KILL_POINTS = {
    # kill point: (what to remove or force in a copy of the finished run, file whose appearance means "during").
    # Extraction runs from scratch: with later outputs present, Snakemake would not remake deleted stores.
    "extract": (["results", ".snakemake"], [], "results/cache/activations/embedded-*/*/*/shard_00000.npy"),
    "train": ([], ["--forcerun", "train"], "results/train/usae/checkpoints/*/state.json"),
    "metrics": ([], ["--forcerun", "metrics"], "results/logs/metrics/*.log"),
    "figures": ([], ["--forcerun", "figures"], "results/logs/figures.log"),
}


@pytest.mark.integration
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_killed_run_resumes_to_the_uninterrupted_result(reference, tmp_path, point):
    removed, forced, during = KILL_POINTS[point]
    workdir = Path(shutil.copytree(reference, tmp_path / "run", symlinks=True))
    for name in removed:
        shutil.rmtree(workdir / name)
    for earlier in workdir.glob(during):  # the finished run's: only the new run's mean "during"
        earlier.unlink()
    process = start_snakemake(workdir, *forced)
    wait_for(workdir, during, process)
    if point == "train":
        assert not (workdir / "results/train/usae/model.safetensors").exists(), "training ended before the kill"
    kill_group(process)

    # A plain rerun stops: on outputs of killed jobs marked incomplete that exist (training's log.csv,
    # written as it goes; a store's meta.json if the kill came while it was written), naming them; else on
    # the killed run's lock. Which one depends on where the kill landed.
    plain = snakemake(workdir)
    told = plain.stdout + plain.stderr
    assert plain.returncode != 0
    assert REFUSALS[0] in told or REFUSALS[1] in told, told
    if point == "train":
        assert REFUSALS[0] in told, told
    locked = snakemake(workdir, "--rerun-incomplete")
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    assert snakemake(workdir, "--unlock").returncode == 0
    resumed = snakemake(workdir, "--rerun-incomplete")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert digests(workdir) == digests(reference)


@pytest.mark.integration
def test_make_runs_dag_recovers_from_a_kill_in_one_command(reference, tmp_path):
    """workflow/run_dag.sh (make run) after a SIGKILL during training: no --unlock, no second round."""
    workdir = Path(shutil.copytree(reference, tmp_path / "run", symlinks=True))
    _, forced, during = KILL_POINTS["train"]
    process = start_snakemake(workdir, *forced)
    wait_for(workdir, during, process)
    kill_group(process)
    command = [str(REPO / "workflow/run_dag.sh"), str(Path(sys.executable).parent)]
    resumed = subprocess.run(command, capture_output=True, text=True, cwd=workdir)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert digests(workdir) == digests(reference)
    # While one holds its lock, a second is refused in one line (exit 75), and touches nothing.
    with open(workdir / ".snakemake/make-run.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        second = subprocess.run(command, capture_output=True, text=True, cwd=workdir)
    assert second.returncode == 75 and second.stderr.strip() == (
        "make run: another 'make run' is running in this folder; wait for it to end"
    )


@pytest.mark.integration
def test_a_second_snakemake_on_the_same_folder_is_refused_by_the_lock(reference, tmp_path):
    workdir = Path(shutil.copytree(reference, tmp_path / "run", symlinks=True))
    first = start_snakemake(workdir, "--forcerun", "train")
    wait_for(workdir, ".snakemake/locks/*", first)
    second = snakemake(workdir)
    kill_group(first)
    told = second.stdout + second.stderr
    # The lock, or, when the first run's jobs are writing at that moment, their incomplete outputs.
    assert second.returncode != 0 and (REFUSALS[0] in told or REFUSALS[1] in told), told


@pytest.mark.integration
def test_two_runs_from_scratch_are_byte_identical(reference, tmp_path):
    workdir = copy_workflow(tmp_path, yaml.safe_dump(FAULT_CONFIG))
    run = snakemake(workdir)
    assert run.returncode == 0, run.stderr[-3000:]
    found = digests(workdir)
    assert len(found) > 10 and found == digests(reference)


@pytest.mark.integration
def test_a_user_error_inside_a_snakemake_job_is_one_line(tmp_path):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["eval_datasets"] = [{"name": "extra", "source": "folder", "root": "empty_folder", "val_fraction": 1.0}]
    workdir = copy_workflow(tmp_path, yaml.safe_dump(config))
    (workdir / "empty_folder").mkdir()
    result = snakemake(workdir, jobs.manifest(validate_config(config, "tiny"), "extra", "val"))
    line = "usae: error: eval_datasets[0].root: no images for split 'val' under 'empty_folder'"
    assert result.returncode != 0 and line in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    log = next((workdir / "results/logs/fetch").glob("extra-*_val.log")).read_text()
    assert line in log and "Traceback" not in log


@pytest.mark.integration
@pytest.mark.parametrize(
    "change, line",
    [
        (
            {"eval_datasets": [{"name": "extra", "source": "folder", "root": "no_such_folder"}]},
            "usae: error: config/config.yaml: key 'eval_datasets[0].root': dataset folder 'no_such_folder' does not "
            "exist",
        ),
        ({"train": {"lrr": 0.1}}, "usae: error: config/config.yaml: unknown key 'train.lrr' (did you mean 'lr'?)"),
    ],
    ids=["missing dataset folder", "unknown key"],
)
def test_a_config_error_stops_the_parse_with_one_line(tmp_path, change, line):
    """Under Snakemake as under usae: the dry run refuses, in one line on stderr and exit status 2."""
    config = {**yaml.safe_load(TINY_CONFIG.read_text()), **change}
    workdir = copy_workflow(tmp_path, yaml.safe_dump(config))
    result = snakemake(workdir, "-n")
    assert result.returncode == 2 and result.stderr.strip() == line, result.stderr
