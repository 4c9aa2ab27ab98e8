"""Wall time of the whole DAG on a config (default: the embedded default), per rule and in total.

Copies the workflow into a temporary folder, runs ``snakemake --cores all`` there, and prints each
heavy rule's seconds from Snakemake's ``benchmark:`` files and the total wall time.

Usage: python benchmarks/dag.py [--config config/config.yaml]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(REPO / "Snakefile", work / "Snakefile")
        for name in ["workflow", "src", "config"]:
            shutil.copytree(REPO / name, work / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(args.config, work / "config" / "config.yaml")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "snakemake", "--cores", "all", "--quiet"], cwd=work, check=True)
        total = time.perf_counter() - start
        rows = [(path.relative_to(work / "results" / "benchmarks").with_suffix("").as_posix(),
                 float(pd.read_csv(path, sep="\t")["s"].iloc[0]))
                for path in sorted((work / "results" / "benchmarks").rglob("*.tsv"))]
    for name, seconds in rows:
        print(f"{name:55s} {seconds:8.1f} s")
    print(f"{'whole DAG (wall)':55s} {total:8.1f} s")


if __name__ == "__main__":
    main()
