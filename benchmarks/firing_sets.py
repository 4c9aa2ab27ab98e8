"""Concepts counted by the set of models they fire in, over the runs of an experiment, at several co-firing levels.

Reads each run's ``concepts.csv`` and ``matrices.json`` (``results/metrics/<dataset>/`` of a run, or of each
replicate ``results/replicates/r<i>/``) and prints, for each ``--cofiring`` (``metrics.set_cofiring``), the sets
:func:`usae.analysis.firing_sets.firing_sets` finds, as mean ± sd of their concept counts over the runs (the largest
``--top`` sets of the first run, then the families' summary rows: all models, each family alone, each family
missing), and the concepts counted by how many models their set holds. Families and display names come from the
experiment's config.

Usage: python benchmarks/firing_sets.py --config config/zoo.yaml --runs R1 [R2 ...] [--cofiring 0 0.5] [--top 12]
       (R: a metrics folder holding concepts.csv and matrices.json)
"""

import argparse
from pathlib import Path

import pandas as pd

from usae.analysis.firing_sets import family_members, firing_sets, ordered_by_family
from usae.config import load_config
from usae.io import read_json
from usae.jobs import families, model_labels


def run_sets(folder, level, families_of):
    """``{models tuple: concepts}`` of one run's metrics folder, and the models in family order."""
    names = ordered_by_family(read_json(Path(folder) / "matrices.json")["models"], families_of)
    sets = firing_sets(pd.read_csv(Path(folder) / "concepts.csv"), names, level)
    return dict(zip(sets["models"], sets["concepts"])), names


def family_rows(names, families_of):
    """Named sets: every model; each family of two or more alone; every model but one family."""
    members = family_members(names, families_of)
    rows = {"all models": tuple(names)}
    for family, group in members.items():
        if len(group) > 1:
            rows[f"only {family}"] = tuple(group)
        rows[f"all but {family}"] = tuple(name for name in names if name not in group)
    return rows


def _mean_sd(values):
    values = pd.Series(values, dtype=float)
    return f"{values.mean():.1f} ± {values.std(ddof=1):.1f}" if len(values) > 1 else f"{values.iloc[0]:.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the experiment's config (families, display names)")
    parser.add_argument("--runs", nargs="+", required=True, help="metrics folders, one per run")
    parser.add_argument("--cofiring", nargs="+", type=float, default=[0.0, 0.5])
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    config = load_config(args.config)
    families_of, labels = families(config), model_labels(config)
    for level in args.cofiring:
        counts, names = zip(*(run_sets(folder, level, families_of) for folder in args.runs))
        names = names[0]
        first = sorted(counts[0], key=lambda models: -counts[0][models])[: args.top]
        named = {models: label for label, models in family_rows(names, families_of).items()}
        rows = [
            {
                "set": named.get(models) or " + ".join(labels.get(name, name) for name in models),
                "models": len(models),
                "concepts": _mean_sd([run.get(models, 0) for run in counts]),
            }
            for models in dict.fromkeys([*first, *named])
        ]
        alive = _mean_sd([sum(run.values()) for run in counts])
        print(f"set_cofiring {level:g}: {len(args.runs)} runs, {alive} concepts firing in some model\n")
        print(pd.DataFrame(rows).to_markdown(index=False))
        sizes = [
            f"{size}: {_mean_sd([sum(n for models, n in run.items() if len(models) == size) for run in counts])}"
            for size in range(1, len(names) + 1)
        ]
        print(f"\nconcepts by the number of models in their set: {'; '.join(sizes)}\n")


if __name__ == "__main__":
    main()
