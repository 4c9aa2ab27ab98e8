"""How long the Snakemake driver and the ``usae`` command take before any work: ``snakemake -n`` on a
config, and ``usae --help``; and whether either imported a heavy library (torch, seaborn, transformers).

Target: each under 3 s on the 2-core machines (issue: light parse). Prints the best of ``--repeat`` runs.

Usage: python benchmarks/parse.py [--config config/config.yaml] [--repeat 3]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dag import copy_workflow  # this folder's benchmarks/dag.py

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "seaborn", "transformers", "timm", "lucent")
PROBE = """
import runpy, sys
sys.argv = {argv!r}
try:
    runpy.run_module({module!r}, run_name="__main__")
except SystemExit as exit:
    if exit.code:
        raise
print("HEAVY:" + ",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def timed(command, cwd):
    """Wall seconds of one run of ``command`` and the heavy modules it imported."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    heavy = [line[len("HEAVY:") :] for line in result.stderr.splitlines() if line.startswith("HEAVY:")]
    return seconds, heavy[-1] if heavy else "?"


def probe(module, argv):
    """A python -c command running ``module`` as __main__ with ``argv``, then listing heavy imports."""
    return [sys.executable, "-c", PROBE.format(argv=argv, module=module, heavy=HEAVY)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        copy_workflow(work, args.config)
        commands = {
            "snakemake -n": probe("snakemake", ["snakemake", "--cores", "2", "-n", "--quiet"]),
            "usae --help": probe("usae.cli", ["usae", "--help"]),
        }
        for label, command in commands.items():
            runs = [timed(command, work) for _ in range(args.repeat)]
            best = min(seconds for seconds, _ in runs)
            print(f"{label:14s} {best:6.2f} s (best of {args.repeat}); heavy modules imported: {runs[0][1] or 'none'}")


if __name__ == "__main__":
    main()
