"""One rank of a job that :func:`usae.sae.data_parallel.spawn` started on this machine.

Usage: python -m usae.sae.rank_main JOB   (JOB: a pickle of (threads, function, arguments); RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR and MASTER_PORT in the environment)
"""

import pickle
import sys

from usae.errors import one_line_on_user_error
from usae.runtime import configure

if __name__ == "__main__":
    with open(sys.argv[1], "rb") as handle:
        threads, function, arguments = pickle.load(handle)
    configure(threads=threads)
    one_line_on_user_error(function, *arguments)
