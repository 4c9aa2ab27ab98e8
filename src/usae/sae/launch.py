"""Start the ranks of a data-parallel job on this machine, as ``torchrun --standalone`` would, and watch them.

Each rank is a ``python -m usae.sae.rank_main`` process given a JSON job (a named function and plain arguments: no
pickle), the environment of a torchrun rank (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
``MASTER_PORT``) and this process's stderr; it joins the others through
:func:`usae.sae.data_parallel.process_group`.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from usae.errors import UserError


def spawn(ranks, device, target, arguments, poll_s=0.1):
    """Run the function ``target`` (``"package.module:function"``) with ``arguments`` (a JSON-ready list) on
    ``ranks`` ranks of this machine, one process each (``python -m usae.sae.rank_main``, what ``torchrun
    --standalone`` would start): each joins through
    :func:`usae.sae.data_parallel.process_group`.

    The ranks write to this process's stderr (a rule's log file) with its torch threads, and import the same
    ``usae`` as this process. When a rank fails, the others are stopped.

    Raises
    ------
    usae.errors.UserError
        Fewer GPUs than ranks on a GPU device (it never runs fewer ranks than asked), or a rank that failed or was
        killed, named in one line.
    """
    if device.type == "cuda" and torch.cuda.device_count() < ranks:
        raise UserError(f"train.ranks: {ranks} ranks need {ranks} GPUs, this machine has {torch.cuda.device_count()}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = str(Path(__file__).resolve().parents[2])  # the folder holding this usae package
    path = os.pathsep.join([source, *filter(None, [os.environ.get("PYTHONPATH")])])
    with tempfile.TemporaryDirectory() as folder:
        job = Path(folder) / "job.json"
        job.write_text(json.dumps({"threads": torch.get_num_threads(), "target": target, "arguments": arguments}))
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "usae.sae.rank_main", str(job)],
                env={**os.environ, "PYTHONPATH": path, **_rank_environment(rank, ranks, port)},
                stdout=sys.stderr,
                stderr=sys.stderr,
            )
            for rank in range(ranks)
        ]
        failed = _wait(processes, poll_s)
    if failed is not None:
        rank, code = failed
        how = f"was killed ({signal.Signals(-code).name})" if code < 0 else f"exited with status {code}"
        raise UserError(f"training rank {rank} of {ranks} {how}; rerun to resume")


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
