"""Data-parallel training on 2 gloo ranks equals one process on the same global batches (issue 35)."""

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file

from tests.sae.ranks import train, train_on_ranks
from tests.synthetic import planted_activations, write_planted_stores

DIMS = {"a": 12, "b": 8, "c": 10}
# Two epochs of 12 batches: 24 steps. The per-model schedule (the official one), the auxiliary loss and a clip
# small enough that every step clips.
TRAIN = {
    "n_concepts": 32,
    "k": 4,
    "batch_images": 8,
    "epochs": 2,
    "lr": 3e-3,
    "warmup_epochs": 0.5,
    "grad_clip": 0.05,
    "aux_penalty": 0.1,
    "checkpoint_every": 10,
    "log_every": 5,
    "checkpoint_epochs": [],
}
# The encoder bias feeds BatchNorm, so its gradient is zero but for rounding, which AdamW turns into lr-sized
# steps (UniversalRun's docstring; tests/sae/test_official_parity.py leaves them out too).
NOISY = ("encoder.linear.bias", "encoder.norm.running_mean")


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    acts, _ = planted_activations(np.random.default_rng(0), 96, 4, DIMS, n_shared=12, n_specific=2, active=2)
    root = tmp_path_factory.mktemp("dp_stores")
    return {name: str(store.path) for name, store in write_planted_stores(root, acts, shard_images=32).items()}


def _compare(one, two):
    """Losses of every step and every weight but the noisy ones, within float32 reduction tolerance.

    Two ranks sum each mean, BatchNorm statistic and gradient in another order than one process (two partial sums
    then their sum), so results differ by float32 rounding: measured, at most 1.3e-7 relative on the losses and
    1.2e-7 on the weights (one unit in the last place of values near 1) after 24 steps. The tolerances, 1e-6, leave
    8 times that; a per-rank BatchNorm or an unreduced gradient misses them by 1e-3 to 1e-2 from the first steps.
    """
    log_one, log_two = pd.read_csv(one / "log.csv"), pd.read_csv(two / "log.csv")
    assert len(log_one) == len(log_two) == 24
    np.testing.assert_allclose(log_two["loss"], log_one["loss"], rtol=1e-6)
    weights_one, weights_two = load_file(one / "model.safetensors"), load_file(two / "model.safetensors")
    assert weights_one.keys() == weights_two.keys()
    for key, value in weights_one.items():
        if not key.endswith(NOISY):
            np.testing.assert_allclose(weights_two[key], value, rtol=0, atol=1e-6, err_msg=key)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["usae", "independent"])
def test_two_ranks_train_what_one_process_trains(stores, tmp_path, kind):
    train(stores, tmp_path / "one", TRAIN, kind)
    train_on_ranks(2, tmp_path / "rendezvous", stores=stores, out=tmp_path / "two", train=TRAIN, kind=kind)
    _compare(tmp_path / "one", tmp_path / "two")


@pytest.mark.slow
def test_a_two_rank_checkpoint_resumes_in_one_process(stores, tmp_path):
    train(stores, tmp_path / "one", TRAIN)
    train_on_ranks(2, tmp_path / "rendezvous", stores=stores, out=tmp_path / "resumed", train=TRAIN, stop_after=13)
    assert (tmp_path / "resumed" / "checkpoints" / "latest").is_dir()
    train(stores, tmp_path / "resumed", TRAIN)
    _compare(tmp_path / "one", tmp_path / "resumed")


@pytest.mark.slow
def test_the_train_stage_under_torchrun_equals_one_process(stores, tmp_path):
    """``torchrun --nproc-per-node 2``: the stage joins the ranks from the environment and trains on shares."""
    import json
    import subprocess
    import sys

    script = "tests/sae/torchrun_train.py"
    for out, ranks, launcher in [
        (tmp_path / "one", 1, [sys.executable]),
        (tmp_path / "two", 2, [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]),
    ]:
        arguments = [json.dumps(stores), str(out), json.dumps({**TRAIN, "ranks": ranks}), "usae"]
        done = subprocess.run([*launcher, script, *arguments], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        ranks = {line.split(":")[0] for line in done.stderr.splitlines() if " of 2: 4 of each batch's 8 images" in line}
        assert ranks == (set() if len(launcher) == 1 else {"rank 0 of 2", "rank 1 of 2"}), done.stderr[-2000:]
    _compare(tmp_path / "one", tmp_path / "two")


def test_a_rank_that_cannot_reach_the_others_fails_in_one_line(monkeypatch):
    """Rank 0 of 2 alone: it waits ``timeout_s`` for rank 1, then stops with one line naming itself, not a hang."""
    import socket

    import torch

    from usae.errors import UserError
    from usae.sae.data_parallel import process_group

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(UserError, match="^rank 0: could not join the other ranks \\(") as error:
        with process_group(torch.device("cpu"), timeout_s=2):
            pass
    assert "\n" not in str(error.value)


@pytest.mark.slow
def test_train_ranks_2_starts_two_ranks_and_refuses_more_gpus_than_there_are(stores, tmp_path):
    """``train.ranks: 2`` without a launcher: the stage starts 2 gloo ranks here, and equals one process."""
    import torch

    from usae.config import validate_config
    from usae.errors import UserError
    from usae.options import TrainOptions
    from usae.stages.train import train as train_stage

    metas = [f"{path}/meta.json" for path in stores.values()]
    for out, ranks in [(tmp_path / "one", 1), (tmp_path / "two", 2)]:
        options = TrainOptions.from_config(validate_config({"train": {**TRAIN, "ranks": ranks}}, "test"))
        train_stage(
            metas, out / "model.safetensors", out / "model.json", out / "log.csv", kind="usae", options=options, seed=0
        )
    _compare(tmp_path / "one", tmp_path / "two")
    if torch.cuda.device_count() < 64:
        options = TrainOptions.from_config(
            validate_config({"train": {**TRAIN, "ranks": 64, "device": "cuda", "batch_images": 64}}, "t")
        )
        with pytest.raises(UserError, match="^train.ranks: 64 ranks need 64 GPUs, this machine has \\d+$"):
            train_stage(metas, tmp_path / "w", tmp_path / "m", tmp_path / "l", kind="usae", options=options, seed=0)


@pytest.mark.slow
def test_a_killed_rank_fails_the_job_in_one_line_and_the_rerun_resumes_byte_for_byte(stores, tmp_path):
    """SIGKILL one of 2 ranks after the first checkpoint: the stage fails naming the rank; rerun, it resumes and
    ends with the bytes of an uninterrupted 2-rank run."""
    import json
    import signal
    import subprocess
    import sys
    import time

    import psutil

    longer = {**TRAIN, "ranks": 2, "epochs": 20}  # 240 steps, a checkpoint every 10

    def command(out):
        return [sys.executable, "tests/sae/torchrun_train.py", json.dumps(stores), str(out), json.dumps(longer), "usae"]

    subprocess.run(command(tmp_path / "whole"), check=True, capture_output=True, timeout=600)
    job = subprocess.Popen(command(tmp_path / "killed"), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "killed" / "checkpoints" / "latest" / "state.json").exists():
        assert time.monotonic() < deadline and job.poll() is None, "no checkpoint before the end"
        time.sleep(0.05)
    ranks = [child for child in psutil.Process(job.pid).children() if "usae.sae.rank_main" in child.cmdline()]
    assert len(ranks) == 2
    ranks[-1].send_signal(signal.SIGKILL)
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 2
    errors = [line for line in stderr.splitlines() if line.startswith("usae: error:")]
    assert len(errors) == 1 and errors[0].endswith("was killed (SIGKILL); rerun to resume"), stderr[-2000:]
    assert "training rank " in errors[0] and " of 2 " in errors[0]
    subprocess.run(command(tmp_path / "killed"), check=True, capture_output=True, timeout=600)
    for name in ("model.safetensors", "log.csv"):
        assert (tmp_path / "killed" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name


def _stage_options(**train):
    from usae.config import validate_config
    from usae.options import TrainOptions

    return TrainOptions.from_config(validate_config({"train": {**TRAIN, **train}}, "test"))


def _files(out):
    return [out / "model.safetensors", out / "model.json", out / "log.csv"]


@pytest.mark.slow
def test_a_group_trained_together_on_two_ranks_equals_each_run_alone(stores, tmp_path):
    """A sweep's group (``train_group``) with ``train.ranks: 2`` starts 2 ranks, and each run equals one process."""
    from usae.records import TrainRun
    from usae.stages.train import train_group

    metas = [f"{path}/meta.json" for path in stores.values()]
    lrs = [3e-3, 1e-2]
    for index, lr in enumerate(lrs):
        train(stores, tmp_path / f"one{index}", {**TRAIN, "lr": lr})
    runs = [TrainRun("usae", _stage_options(lr=lr, ranks=2), 0) for lr in lrs]
    grouped = [_files(tmp_path / f"two{index}") for index in range(len(lrs))]
    assert train_group(metas, *map(list, zip(*grouped)), runs=runs) is None  # the ranks wrote the files
    for index in range(len(lrs)):
        _compare(tmp_path / f"one{index}", tmp_path / f"two{index}")
        assert not list((tmp_path / f"two{index}").glob(".ranks-*"))  # the job's folder is gone


@pytest.mark.slow
def test_a_rank_that_stops_on_a_user_error_is_the_jobs_one_line(stores, tmp_path):
    """Both ranks find a store missing: the job's stderr has one error line, the rank's message with its name."""
    import json
    import subprocess
    import sys

    broken = {**stores, "a": str(tmp_path / "no_store")}
    command = [sys.executable, "tests/sae/torchrun_train.py", json.dumps(broken), str(tmp_path / "out")]
    done = subprocess.run([*command, json.dumps({**TRAIN, "ranks": 2}), "usae"], capture_output=True, text=True)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("usae: error: training rank "), done.stderr[-2000:]
    assert " of 2: " in errors[0] and "no_store" in errors[0]


def test_a_launcher_with_another_number_of_ranks_is_refused(monkeypatch, tmp_path):
    """torchrun's WORLD_SIZE must be train.ranks: the config check on batch_images was made for train.ranks."""
    from usae.errors import UserError
    from usae.stages.train import train as train_stage

    monkeypatch.setenv("WORLD_SIZE", "4")
    expected = "^train.ranks: 2, but the launcher started 4 ranks \\(WORLD_SIZE\\)$"
    with pytest.raises(UserError, match=expected):
        train_stage([], *_files(tmp_path), kind="usae", options=_stage_options(ranks=2), seed=0)


def test_ranks_take_slurm_task_variables_and_their_gpu():
    """An srun task's rank comes from SLURM's variables unless a launcher set torch's; a rank bound to one GPU
    (SLURM's --ntasks-per-gpu=1) uses it, one that sees several uses its LOCAL_RANK, and one that cannot is refused."""
    from usae.errors import UserError
    from usae.sae.data_parallel import rank_gpu
    from usae.sae.launch import slurm_tasks, torch_environment

    task = {"SLURM_JOB_ID": "7", "SLURM_PROCID": "5", "SLURM_LOCALID": "1", "SLURM_NTASKS": "8"}
    assert torch_environment(task) == {"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8"}
    assert torch_environment({**task, "RANK": "0"}) == {} and torch_environment({}) == {}
    assert slurm_tasks(task) == 8 and slurm_tasks({"SLURM_NTASKS": "8"}) == 1 and slurm_tasks({}) == 1
    record = "JobId=7 JobName=x NumNodes=2 NumCPUs=16 NumTasks=8 CPUs/Task=2"  # the plugin cleared SLURM_NTASKS
    assert slurm_tasks({"SLURM_JOB_ID": "7"}, show_job={"7": record}.get) == 8
    assert slurm_tasks({"SLURM_JOB_ID": "7"}, show_job=lambda job: "") == 1  # no scontrol: not a tasks job
    assert rank_gpu(1, 1) == 0 and rank_gpu(1, 4) == 1 and rank_gpu(0, 4) == 0
    with pytest.raises(UserError, match="^rank with LOCAL_RANK 4: this node shows it 2 GPUs, not its own$"):
        rank_gpu(4, 2)


def test_a_torch_without_nccl_is_refused_for_gpu_ranks(monkeypatch):
    """Ranks on a CUDA device need NCCL: a torch built without it stops in one line before joining anything."""
    import torch
    import torch.distributed as dist

    from usae.errors import UserError
    from usae.sae.data_parallel import process_group

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(dist, "is_nccl_available", lambda: False)
    with pytest.raises(UserError, match="^torch.distributed: this torch has no NCCL, which training on several GPUs"):
        with process_group(torch.device("cuda")):
            pass
