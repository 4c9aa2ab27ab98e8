"""Concepts planted in known subsets of six synthetic models: does the USAE recover each in its subset?

The planted data and training are tests/planted_subsets.py's (four concepts in all six models, three in each of
three overlapping groups of four; m = 24, k = 3). On the held-out images each planted concept is matched to the
learned concept whose atoms are most alike in the concept's own models (mean cosine), and that concept's firing
set (:func:`usae.analysis.firing_sets.firing_membership`, at each ``--level``) is compared with the planted
subset. Prints, per planted concept, its subset, the match, its cosine and the set found; then how many of each
kind came back in their subset exactly, and how many alive learned concepts have a model in their set that
does not carry the planted concept they stand for (read in their most-firing model).

Usage: python benchmarks/planted_subsets.py [--epochs 100 300] [--cofiring 0 0.25 0.5] [--seed 0 1]
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' planted data and training helper
from tests.planted_subsets import (  # noqa: E402
    NAMES,
    SUBSETS,
    best_matches,
    exactly_recovered,
    planted_reading,
    trained_planted,
    wider_than_planted,
)
from usae.analysis.firing_sets import firing_membership  # noqa: E402


def joined(models):
    return "".join(map(str, models)) or "-"


def report(run, levels):
    """Print one run's table and summary lines."""
    matches = best_matches(run)
    members = {level: firing_membership(run["frame"], NAMES, level) for level in levels}
    print(
        f"{'planted':>7s}  {'subset':8s} {'learned':>7s} {'cosine':>6s}  " + "  ".join(f"set at {s:g}" for s in levels)
    )
    for concept, (subset, (best, cosine)) in enumerate(zip(SUBSETS, matches)):
        found = [joined(np.flatnonzero(members[level][best])) for level in levels]
        print(f"{concept:7d}  {joined(subset):8s} {best:7d} {cosine:6.3f}  " + "  ".join(f"{f:>9s}" for f in found))
    for level in levels:
        exact = {}
        for subset, hit in zip(SUBSETS, exactly_recovered(run, level)):
            exact.setdefault(subset, []).append(hit)
        recovered = ", ".join(f"{joined(subset)}: {sum(hits)}/{len(hits)}" for subset, hits in exact.items())
        alive = len(planted_reading(run, level))
        print(
            f"set_cofiring {level:g}: in their subset exactly {recovered}; sets wider than the planted subset: "
            f"{len(wider_than_planted(run, level))} of {alive} alive"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", nargs="+", type=int, default=[100, 300])
    parser.add_argument("--cofiring", nargs="+", type=float, default=[0.0, 0.25, 0.5])
    parser.add_argument("--seed", nargs="+", type=int, default=[0, 1])
    args = parser.parse_args()
    for seed in args.seed:
        for epochs in args.epochs:
            with tempfile.TemporaryDirectory() as folder:
                run = trained_planted(Path(folder), epochs, seed)
            print(f"\nseed {seed}, {epochs} epochs ({epochs * 32} steps), trained in {run['seconds']:.1f} s")
            report(run, args.cofiring)


if __name__ == "__main__":
    main()
