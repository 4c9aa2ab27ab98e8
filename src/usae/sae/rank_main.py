"""One rank of a job that :func:`usae.sae.launch.spawn` started, here or as an ``srun`` task.

Usage: python -m usae.sae.rank_main JOB   (JOB: a JSON file {threads, target: "module:function", arguments: [...],
errors: folder}; RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in the environment, or under srun
SLURM's task variables)

A :class:`usae.errors.UserError` is not printed here: its message goes to ``errors``, and the process that started
the ranks makes it the job's one line, with this rank's name.
"""

import importlib
import json
import os
import sys
from pathlib import Path

from usae.errors import UserError
from usae.runtime import configure
from usae.sae.launch import ERROR_FILE, torch_environment

if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    os.environ.update(torch_environment(os.environ))
    configure(threads=job["threads"])
    module, _, name = job["target"].partition(":")
    try:
        getattr(importlib.import_module(module), name)(*job["arguments"])
    except UserError as error:
        (Path(job["errors"]) / ERROR_FILE.format(rank=os.environ["RANK"])).write_text(str(error))
        raise SystemExit(2) from None
