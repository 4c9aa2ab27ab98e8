"""A training-budget search: candidate training settings, replicated, and which claims hold.

A candidates file (``benchmarks/search_default.yaml`` for the embedded default, ``search_zoo.yaml`` for the
eight-network zoo) names the config every candidate extends (``extends``, a file of ``config/``), the number of
replicates (``replicates``), and under ``usae_only`` and ``full`` each candidate's ``train`` keys. A candidate
runs as the replicates mechanism runs any experiment (``train.replicates``, seeds 0, 1000, 2000, ..., on the
shared activation stores), with its results under ``results/search/<candidate>/`` of a work folder, and
Snakemake builds its scorecard only (no figures, actmax or explorer). Fetch and extraction run once for
every candidate (the content-addressed cache). Candidates under ``usae_only`` train without the independent
SAEs (``train.independent: false``): the Fig. 5 and 6 claims only, at about a third of the CPU.

Prints two Markdown tables: per candidate, the claims holding in each run (of those judged), Fig. 6a's
and Fig. 7's verdicts and the training time (wall and CPU seconds summed over the runs' ``train`` jobs,
from Snakemake's benchmark files); then every scorecard number and R2 entry as mean ± sd over the runs.

Usage: python benchmarks/search.py --work DIR [--candidates FILE] [--only NAME ...] [--cores N]
                                   [--cache DIR] [--rerun-triggers mtime input]
DIR is created with a copy of the workflow (as ``dag.py`` copies it) when it does not exist, and reused
when it does: candidates already finished there are not recomputed, so a second call prints the tables.
``--cache`` links DIR's ``results/cache`` (fetched data and activation stores) to a folder that already
holds them. ``--rerun-triggers`` is passed to Snakemake (e.g. to reuse stores a work folder of an older
checkout extracted).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dag import REPO, copy_workflow, rule_seconds  # noqa: E402


def candidate_config(name, keys, independent, base="config.yaml", replicates=3):
    """The config file of one candidate: ``base`` (``extends``) with its train keys and ``replicates`` runs."""
    train = {"replicates": replicates, **({} if independent else {"independent": False}), **keys}
    return {"extends": base, "results": f"results/search/{name}", "train": train}


def run_candidate(work, config, cores, triggers):
    """Write a candidate's ``config`` (from :func:`candidate_config`) into ``work`` and build its scorecard."""
    name = Path(config["results"]).name
    path = work / "config" / f"search_{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    trigger_args = ["--rerun-triggers", *triggers] if triggers else []
    print(f"{name}: train {config['train']}", flush=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            cores,
            "--quiet",
            "--configfile",
            str(path),
            *trigger_args,
            "--",
            f"results/search/{name}/scorecard.md",
        ],
        cwd=work,
        check=True,
    )


def _mean_sd(values):
    values = pd.Series(values, dtype=float).dropna()
    if len(values) < 2:
        return f"{values.iloc[0]:.3f}" if len(values) else "—"
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"


def read_candidate(results):
    """A finished candidate's per-run ``scorecard.json`` objects, in run order, and its ``tables/replicates.csv``."""
    runs = sorted((results / "replicates").glob("r*/scorecard.json"), key=lambda path: int(path.parent.name[1:]))
    return [json.loads(path.read_text()) for path in runs], pd.read_csv(results / "tables" / "replicates.csv")


def candidate_row(results, name, keys, independent):
    """One row of the verdict table, from a finished candidate's folder ``results``."""
    cards, claims = read_candidate(results)
    claims = claims.set_index("id")
    per_run = [f"{card['claims_holding']}/{card['claims_holding'] + card['claims_not_holding']}" for card in cards]
    fig7 = claims.loc[[i for i in claims.index if i.startswith("fig7_share:")], "holds"]
    times = [row for row in rule_seconds(results) if row[0].startswith("train/")]
    return {
        "candidate": name,
        "train keys": ", ".join(f"{k} {v}" for k, v in keys.items()) or "(default)",
        "independent SAEs": "yes" if independent else "no",
        "claims holding per run": ", ".join(per_run),
        "Fig. 6a": claims.at["fig6a_bimodal", "holds"],
        "Fig. 5 diagonal": claims.at["fig5_diagonal", "holds"],
        "Fig. 7 (per model)": " / ".join(fig7) if independent else "not run",
        "train wall s": round(sum(row[2] for row in times), 1),
        "train CPU s": round(sum(row[3] for row in times), 1),
    }


def candidate_numbers(results):
    """``{number: "mean ± sd"}`` of a finished candidate: every scorecard claim's value (a claim judged on pairs of
    runs, seed stability, has one value: its mean), each R2 entry, and per run the self R2 range and the
    off-diagonal R2's mean and minimum."""
    cards, claims = read_candidate(results)
    numbers = {}
    for _, row in claims.iterrows():
        values = [row[f"value:r{i}"] for i in range(len(cards))]
        numbers[row["id"]] = _mean_sd(values if pd.notna(values).any() else [row["mean"]])
    for encoder, row in cards[0]["r2"].items():
        for decoder in row:
            numbers[f"R2 {encoder} -> {decoder}"] = _mean_sd([card["r2"][encoder][decoder] for card in cards])
    matrices = [pd.DataFrame(card["r2"]).to_numpy() for card in cards]  # columns: encoders (a square matrix)
    off = [matrix[~np.eye(len(matrix), dtype=bool)] for matrix in matrices]
    numbers["R2 self, lowest"] = _mean_sd([matrix.diagonal().min() for matrix in matrices])
    numbers["R2 self, highest"] = _mean_sd([matrix.diagonal().max() for matrix in matrices])
    numbers["R2 off-diagonal, mean"] = _mean_sd([values.mean() for values in off])
    numbers["R2 off-diagonal, lowest"] = _mean_sd([values.min() for values in off])
    return numbers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", required=True, help="work folder (created with the workflow, or reused)")
    parser.add_argument("--candidates", default=str(REPO / "benchmarks" / "search_default.yaml"))
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these candidates only")
    parser.add_argument("--cores", default="all")
    parser.add_argument("--cache", type=Path, help="a results/cache folder to link (its data and stores)")
    parser.add_argument("--rerun-triggers", nargs="+", default=[], metavar="TRIGGER")
    args = parser.parse_args()
    if args.cache and not args.cache.is_dir():  # a dangling link would fail inside Snakemake, far from the cause
        parser.error(f"--cache {args.cache}: not a folder (a results/cache that a run of the base config filled)")
    work = Path(args.work).resolve()
    if not (work / "Snakefile").exists():
        work.mkdir(parents=True, exist_ok=True)
        copy_workflow(work, REPO / "config" / "config.yaml")
    if args.cache and not (work / "results" / "cache").exists():
        (work / "results").mkdir(exist_ok=True)
        (work / "results" / "cache").symlink_to(args.cache.resolve(), target_is_directory=True)
    groups = yaml.safe_load(Path(args.candidates).read_text())
    candidates = [
        (name, keys or {}, group == "full")
        for group in ("usae_only", "full")
        for name, keys in (groups.get(group) or {}).items()
        if not args.only or name in args.only
    ]
    for name, keys, independent in candidates:
        config = candidate_config(name, keys, independent, groups["extends"], groups["replicates"])
        run_candidate(work, config, args.cores, args.rerun_triggers)
    folders = {name: work / "results" / "search" / name for name, _, _ in candidates}
    rows = [candidate_row(folders[name], name, keys, independent) for name, keys, independent in candidates]
    print(pd.DataFrame(rows).to_markdown(index=False))
    print()
    numbers = pd.DataFrame({name: candidate_numbers(folder) for name, folder in folders.items()})
    print(numbers.rename_axis("number").to_markdown())


if __name__ == "__main__":
    main()
