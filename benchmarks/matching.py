"""Hungarian matching cost at the paper's size: time and peak memory of a (m x m) assignment.

Matches two random (m, d) dictionaries (m = 6144, d = 768 by default) by 1 - cosine with
scipy.optimize.linear_sum_assignment, and prints the seconds for the cosine matrix and for the
assignment, and the process's peak resident memory.

Usage: python benchmarks/matching.py [--m 6144] [--d 768]
"""

import argparse
import resource
import time

import numpy as np

from usae.analysis.matching import cosine_matrix, hungarian_match


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=6144)
    parser.add_argument("--d", type=int, default=768)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(args.m, args.d)), rng.normal(size=(args.m, args.d))
    start = time.perf_counter()
    similarity = cosine_matrix(a, b)
    cosine_seconds = time.perf_counter() - start
    start = time.perf_counter()
    _, _, matched = hungarian_match(similarity)
    assignment_seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"m = {args.m}, d = {args.d}: cosine matrix {cosine_seconds:.2f} s, "
        f"linear_sum_assignment {assignment_seconds:.2f} s, peak RSS {peak_mb:.0f} MB, "
        f"mean matched cosine {matched.mean():.3f}"
    )


if __name__ == "__main__":
    main()
