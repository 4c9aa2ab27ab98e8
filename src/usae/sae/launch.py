"""Start the ranks of a data-parallel job and watch them: on this machine, as ``torchrun --standalone`` would, or
across the nodes of a SLURM allocation with ``srun``.

Each rank is a ``python -m usae.sae.rank_main`` process given a JSON job (a named function and plain arguments: no
pickle), the environment of a torchrun rank (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``; under ``srun`` the rank maps SLURM's own, :func:`torch_environment`) and this process's stderr;
it joins the others through :func:`usae.sae.data_parallel.process_group`. A rank that stops on a
:class:`usae.errors.UserError` leaves its message in the job's folder, and this process raises it, with the rank's
name, as the job's one line.
"""

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from usae.errors import UserError

log = logging.getLogger(__name__)
# The file, in the job's folder, where rank r leaves the message of the UserError that stopped it.
ERROR_FILE = "rank{rank}.error"


def slurm_tasks(environ=os.environ, show_job=None):
    """The tasks of the SLURM job this process runs in; 1 outside SLURM.

    ``SLURM_NTASKS`` when it is set, else the job's ``NumTasks`` from ``scontrol show job`` (the SLURM plugin
    clears the task variables from a job's environment, keeping ``SLURM_JOB_ID``). ``show_job`` (the job id to
    ``scontrol``'s one-line record) is for tests.
    """
    if "SLURM_JOB_ID" not in environ:
        return 1
    if "SLURM_NTASKS" in environ:
        return int(environ["SLURM_NTASKS"])
    record = (show_job or _scontrol_show_job)(environ["SLURM_JOB_ID"])
    found = re.search(r"\bNumTasks=(\d+)", record)
    return int(found.group(1)) if found else 1


def _scontrol_show_job(job_id):
    try:
        done = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout


def torch_environment(environ):
    """The torchrun variables of an ``srun`` task (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``) from SLURM's
    (``SLURM_PROCID``, ``SLURM_LOCALID``, ``SLURM_NTASKS``); ``{}`` when the launcher set them already."""
    if "RANK" in environ or "SLURM_PROCID" not in environ:
        return {}
    slurm = {"RANK": "SLURM_PROCID", "LOCAL_RANK": "SLURM_LOCALID", "WORLD_SIZE": "SLURM_NTASKS"}
    return {name: environ[key] for name, key in slurm.items()}


def spawn(ranks, device, target, arguments, folder, poll_s=0.1):
    """Run the function ``target`` (``"package.module:function"``) with ``arguments`` (a JSON-ready list) on
    ``ranks`` ranks, one process each (``python -m usae.sae.rank_main``); each joins through
    :func:`usae.sae.data_parallel.process_group`.

    Inside a SLURM allocation of ``ranks`` tasks (a job the SLURM profile submits with ``tasks``, one node or
    several), ``srun`` starts them where SLURM placed the tasks. Otherwise they start here, as ``torchrun
    --standalone`` would start them. The ranks write to this process's stderr (a rule's log file) with its torch
    threads, and import the same ``usae`` as this process. When a rank fails, the others are stopped.

    Parameters
    ----------
    folder : path
        A folder every rank can reach (on SLURM, on the shared file system): the job's file and the ranks'
        errors go in a temporary folder inside it, removed at the end.

    Raises
    ------
    usae.errors.UserError
        Fewer GPUs than ranks on a GPU device here (it never runs fewer ranks than asked), or a rank that failed or
        was killed, named in one line (with its own message when it stopped on a UserError).
    """
    on_slurm = ranks > 1 and slurm_tasks() == ranks
    if not on_slurm and device.type == "cuda" and torch.cuda.device_count() < ranks:
        raise UserError(f"train.ranks: {ranks} ranks need {ranks} GPUs, this machine has {torch.cuda.device_count()}")
    with socket.socket() as probe:
        probe.bind(("", 0))
        port = probe.getsockname()[1]
    source = str(Path(__file__).resolve().parents[2])  # the folder holding this usae package
    path = os.pathsep.join([source, *filter(None, [os.environ.get("PYTHONPATH")])])
    Path(folder).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".ranks-") as shared:
        job = Path(shared) / "job.json"
        job.write_text(
            json.dumps({"threads": torch.get_num_threads(), "target": target, "arguments": arguments, "errors": shared})
        )
        command = [sys.executable, "-m", "usae.sae.rank_main", str(job)]
        env = {**os.environ, "PYTHONPATH": path}
        log.info("starting %d ranks %s", ranks, "as srun tasks" if on_slurm else "on this machine")
        if on_slurm:
            master = {"MASTER_ADDR": socket.gethostname(), "MASTER_PORT": str(port)}
            failed = _srun(ranks, device, command, {**env, **master})
        else:
            failed = _local(ranks, command, env, port, poll_s)
        if failed is not None:
            raise UserError(_failure(*failed, ranks, Path(shared)))


def _failure(rank, code, ranks, shared):
    """The job's one line for a failed rank (``rank`` None: srun did not say which)."""
    errors = sorted(shared.glob(ERROR_FILE.format(rank="*")))
    if rank is not None and (shared / ERROR_FILE.format(rank=rank)).exists():
        errors = [shared / ERROR_FILE.format(rank=rank)]
    if errors:  # a rank stopped on a UserError: its message
        named = int(errors[0].name.removeprefix("rank").removesuffix(".error"))
        return f"training rank {named} of {ranks}: {errors[0].read_text().strip()}"
    if rank is None:
        return f"training ranks (srun, {ranks} tasks) failed with status {code}, srun's lines above say which; rerun"
    how = f"was killed ({signal.Signals(-code).name})" if code < 0 else f"exited with status {code}"
    return f"training rank {rank} of {ranks} {how}; rerun to resume"


def _local(ranks, command, env, port, poll_s):
    """Start the ranks here; ``(rank, return code)`` of the first that fails, or None."""
    processes = [
        subprocess.Popen(
            command,
            env={**env, **_rank_environment(rank, ranks, port)},
            stdout=sys.stderr,
            stderr=sys.stderr,
        )
        for rank in range(ranks)
    ]
    return _wait(processes, poll_s)


def _srun(ranks, device, command, env):
    """Start the ranks as the ``ranks`` tasks of one ``srun`` step, each with this process's threads and, on GPUs,
    one GPU; ``(None, srun's status)`` if it fails, or None.

    ``--kill-on-bad-exit`` stops every task when one fails, so no rank waits for a dead one until its timeout.
    """
    per_task = [f"--cpus-per-task={torch.get_num_threads()}", *(["--gpus-per-task=1"] if device.type == "cuda" else [])]
    done = subprocess.run(
        ["srun", f"--ntasks={ranks}", *per_task, "--kill-on-bad-exit=1", "--export=ALL", *command],
        env=env,
        stdout=sys.stderr,
        stderr=sys.stderr,
    )
    return None if done.returncode == 0 else (None, done.returncode)


def _rank_environment(rank, ranks, port):
    env = {"RANK": rank, "LOCAL_RANK": rank, "WORLD_SIZE": ranks, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
    return {key: str(value) for key, value in env.items()}


def _wait(processes, poll_s):
    """Wait for every process; at the first that fails, stop the others: ``(its index, its return code)`` or None."""
    while True:
        codes = [process.poll() for process in processes]
        failed = [(index, code) for index, code in enumerate(codes) if code not in (None, 0)]
        if failed:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for process in processes:
                process.wait()
            return failed[0]
        if all(code == 0 for code in codes):
            return None
        time.sleep(poll_s)
