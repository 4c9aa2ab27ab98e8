"""One rank of a job that :func:`usae.sae.launch.spawn` started on this machine.

Usage: python -m usae.sae.rank_main JOB   (JOB: a JSON file {threads, target: "module:function", arguments: [...]};
RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in the environment)
"""

import importlib
import json
import sys

from usae.errors import one_line_on_user_error
from usae.runtime import configure

if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    configure(threads=job["threads"])
    module, _, name = job["target"].partition(":")
    one_line_on_user_error(getattr(importlib.import_module(module), name), *job["arguments"])
