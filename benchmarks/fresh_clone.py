"""Wall time of ``make run`` on a fresh clone: the install (venv and pinned dependencies), then the DAG.

Clones the repository's committed HEAD into a work folder, runs ``make .venv/.installed`` (what ``make run``
does first) and then ``make run`` (the whole DAG on the embedded default), and prints the seconds of each
and their sum: the README's "make run on a fresh clone" figure; then the sizes of the shared cache it made
(``--sizes-only DIR`` prints them for a kept clone). Pip reads the same package index as a
user's machine would (here, the local wheel mirror), so the install time depends on it.

Usage: python benchmarks/fresh_clone.py [--keep DIR]
"""

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(command, cwd):
    """Run ``command`` in ``cwd`` (output to the console); return its wall seconds. Fails loudly."""
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True)
    return time.perf_counter() - start


def megabytes(folder):
    """Bytes of the files under ``folder``, in MB (10^6), as ``du`` counts file sizes."""
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file()) / 1e6


def cache_sizes(work):
    """The line of the default's shared cache sizes (docs/dvc.md quotes it)."""
    cache = Path(work) / "results" / "cache"
    parts = {
        "cache": cache,
        "activation stores": cache / "activations",
        "train stores": next((cache / "activations").glob("*/train"), cache / "none"),
        "data": cache / "data",
    }
    return "results/cache: " + ", ".join(f"{name} {megabytes(folder):.0f} MB" for name, folder in parts.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="clone into this folder (must not exist) and keep it")
    parser.add_argument("--sizes-only", type=Path, metavar="DIR", help="print a kept clone's cache sizes, and stop")
    args = parser.parse_args()
    if args.sizes_only:
        print(cache_sizes(args.sizes_only))
        return
    parent = None if args.keep else Path(tempfile.mkdtemp(prefix="usae_fresh_"))
    work = args.keep or parent / "usae"
    try:
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(work)], check=True)
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=work, check=True, capture_output=True, text=True
        ).stdout.strip()
        install = timed(["make", ".venv/.installed"], work)
        dag = timed(["make", "run"], work)
        load = " ".join(f"{value:.2f}" for value in os.getloadavg())
        print(
            f"commit {commit}: install {install:.1f} s, DAG {dag:.1f} s, make run {install + dag:.1f} s "
            f"({(install + dag) / 60:.1f} min); load average (1, 5, 15 min) at the end: {load} "
            f"on {os.cpu_count()} CPUs"
        )
        print(cache_sizes(work))
    finally:
        if parent is not None:
            shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
