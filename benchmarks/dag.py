"""Wall time of the whole DAG on a config (default: the embedded default), per rule and in total.

Copies the workflow (Snakefile, workflow/, src/, config/) into a work folder, runs
``snakemake --cores all`` there (with ``--configfile FILE ...``, each copied into the work folder's
``config/`` so that ``extends: config.yaml`` names its default config), and prints each heavy rule's
seconds from Snakemake's ``benchmark:`` files and the total wall time. With ``train.replicates`` the
run-level rules write their benchmark files under ``results/replicates/<run>/benchmarks/``: a row sums
a rule's jobs over the runs and counts them.
The rules import the copy's ``src/`` (workflow/scripts/stage.py puts it first on ``sys.path``); the
script prints which ``usae`` the copy's Snakefile imports, as a check.

The work folder is temporary and removed afterwards unless ``--keep DIR`` names a folder to run in and
keep (it must not exist or be empty); rerun parts of the DAG there with ``snakemake --cores 2 TARGET``.

Usage: python benchmarks/dag.py [--config config/config.yaml] [--configfile FILE ...] [--keep DIR] [--cores N]
       python benchmarks/dag.py --configfile config/replicates.yaml   (the default, 3 replicates)
       python benchmarks/dag.py --times-only DIR   (rule times of a kept folder, e.g. after partial reruns)
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def copy_workflow(work, config):
    """Copy the Snakefile, workflow/, src/ and config/ into ``work``, with ``config`` as its default config."""
    shutil.copy(REPO / "Snakefile", work / "Snakefile")
    for name in ["workflow", "src", "config"]:
        shutil.copytree(REPO / name, work / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(config, work / "config" / "config.yaml")


def rule_seconds(results):
    """``(rule/wildcards, jobs, wall s, CPU s)`` from every benchmark file under the folder ``results``: its
    own ``benchmarks/`` and each replicate's ``replicates/<run>/benchmarks/``, summed per rule/wildcards.

    CPU seconds depend less on other load on the machine than wall seconds do.
    """
    sums = {}
    for path in sorted(Path(results).rglob("benchmarks/**/*.tsv")):
        parts = path.relative_to(results).with_suffix("").parts
        name = "/".join(parts[parts.index("benchmarks") + 1 :])
        row = pd.read_csv(path, sep="\t").iloc[0]
        jobs, seconds, cpu = sums.get(name, (0, 0.0, 0.0))
        sums[name] = (jobs + 1, seconds + float(row["s"]), cpu + float(row["cpu_time"]))
    return [(name, *sums[name]) for name in sorted(sums)]


def print_times(rows, total=None):
    print(f"{'rule':55s} {'jobs':>4s} {'wall':>8s}   {'CPU':>8s}")
    for name, jobs, seconds, cpu in rows:
        print(f"{name:55s} {jobs:4d} {seconds:8.1f} s {cpu:8.1f} s")
    print(
        f"{'sum of benchmarked rules':55s} {sum(r[1] for r in rows):4d} {sum(r[2] for r in rows):8.1f} s "
        f"{sum(r[3] for r in rows):8.1f} s"
    )
    if total is not None:
        print(f"{'whole DAG (wall)':60s} {total:8.1f} s")


def run(work, config, cores, configfiles=()):
    copy_workflow(work, config)
    probe = "import sys; sys.path.insert(0, 'src'); import usae; print(usae.__file__)"
    print(
        "usae imported from:",
        subprocess.run(
            [sys.executable, "-c", probe], cwd=work, check=True, capture_output=True, text=True
        ).stdout.strip(),
        flush=True,
    )
    start = time.perf_counter()
    # Each config file goes into the copy's config/ folder, so that its `extends: config.yaml` names the copy's default.
    copies = [shutil.copy(file, work / "config" / Path(file).name) for file in configfiles]
    overlays = ["--configfile", *copies] if copies else []
    subprocess.run([sys.executable, "-m", "snakemake", "--cores", cores, "--quiet", *overlays], cwd=work, check=True)
    total = time.perf_counter() - start
    print_times(rule_seconds(work / "results"), total)
    print(
        f"load average (1, 5, 15 min) at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "config" / "config.yaml"))
    parser.add_argument(
        "--configfile",
        metavar="FILE",
        action="append",
        default=[],
        help="snakemake --configfile (repeatable), e.g. config/replicates.yaml, which extends the default",
    )
    parser.add_argument("--keep", metavar="DIR", help="run in DIR and keep it (results, logs) for inspection")
    parser.add_argument("--cores", default="all", help="snakemake --cores (default: all)")
    parser.add_argument("--times-only", metavar="DIR", help="only print the rule times of a kept work folder")
    args = parser.parse_args()
    if args.times_only:
        print_times(rule_seconds(Path(args.times_only) / "results"))
        return
    config = Path(args.config).resolve()
    configfiles = [str(Path(file).resolve()) for file in args.configfile]
    for file in configfiles:
        if not Path(file).is_file():
            parser.error(f"--configfile {file}: no such file")
    if args.keep:
        work = Path(args.keep).resolve()
        if work.exists() and any(work.iterdir()):
            parser.error(f"--keep {work}: exists and is not empty")
        work.mkdir(parents=True, exist_ok=True)
        run(work, config, args.cores, configfiles)
        print(f"kept: {work}")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(Path(tmp), config, args.cores, configfiles)


if __name__ == "__main__":
    main()
