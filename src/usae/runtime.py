"""How a stage process runs, decided in one place for Snakemake rules and the ``usae`` command.

- Logging: the library logs through :mod:`logging` (logger ``usae.*``); a rule's lines go to its log
  file, the command's to the terminal.
- Threads: torch's CPU threads are set to the rule's ``threads`` or the config's ``threads``.
"""

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def configure(log_file=None, threads=None):
    """Set up logging (to ``log_file`` if given, else stderr) and torch's CPU thread count.

    Parameters
    ----------
    log_file : path, optional
        A rule's log file: every ``usae`` log line and anything printed to stdout/stderr go there.
    threads : int, optional
        CPU threads for torch (intra-op); None leaves torch's default.
    """
    root = logging.getLogger("usae")
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    if log_file is not None:
        stream = open(log_file, "a", buffering=1)
        sys.stdout = sys.stderr = stream
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
    root.addHandler(handler)
    if threads is not None:
        import torch

        torch.set_num_threads(int(threads))
