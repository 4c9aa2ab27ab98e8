"""Cost of the concept-evidence steps (label coherence, seed stability) at the paper's size, on synthetic data.

Times, each step in its own process (so that each peak resident memory, ``ru_maxrss``, is its own):

- **coherence** (one run): :func:`usae.analysis.coherence.coherence` on ``(M, K, m)`` top-image indices and codes
  of M = 3 models (m = 6144 concepts, K = n = 8 top images) over 5000 images with 1000 labels (5 images each),
  1000 permutations, fdr 0.05; then :func:`usae.analysis.coherence_table.coherence_columns` and
  ``coherence_summary`` (``MetricsOptions()`` defaults, random concept kinds). A quarter of the concepts take
  their top images from one label, so some are coherent; a tenth are dead (zero codes: untested).
- **atoms** (one pair of runs): :func:`usae.analysis.stability.atom_stability` on per-model ``(m, D_i)`` float32
  dictionaries, D = 768, 1024, 1280. Run b's atoms are run a's, permuted (one permutation for every model) and
  noised, for half of the concepts, random for the rest.
- **codes** (one pair): per model, :class:`usae.analysis.matching.CodeCorrelation` over 200 images x 256 tokens
  (51,200 tokens) in batches of 100 images (``MetricsOptions().batch_images``), then
  :func:`usae.analysis.stability.code_stability`. The codes are random TopK-like codes (k = 16 positive entries
  per token, dense ``(tokens, m)`` float32 tensors as the encoder returns them); run b's are run a's permuted for
  half of the concepts and shuffled over the tokens for the rest. The USAE encoder's forward pass is not
  included: the time counts ``update``, ``correlation()`` and ``code_stability`` only, not drawing the codes
  (the peak memory does count the drawn batches, as it would count the encoder's output).
- **tables**: :func:`usae.analysis.stability.pair_rows` for every pair and ``stability_summary`` on them all.

The total for R replicates is R x coherence + R (R - 1) / 2 x (atoms + codes) + tables: one run and one pair are
measured and multiplied, not run R times.

Usage: python benchmarks/evidence.py [--m 6144] [--dims 768 1024 1280] [--images 5000] [--labels 1000]
       [--permutations 1000] [--replicates 3] [--code-images 200] [--tokens 256] [--k 16]
       (smoke run: --m 512 --images 500 --labels 100)
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import torch

from usae.analysis.coherence import coherence
from usae.analysis.coherence_table import coherence_columns, coherence_summary
from usae.analysis.kinds import DEAD, MIXED, UNIVERSAL
from usae.analysis.matching import CodeCorrelation
from usae.analysis.stability import atom_stability, code_stability, pair_rows, stability_summary
from usae.options import MetricsOptions

STEPS = ("coherence", "atoms", "codes", "tables")
COHERENT_SHARE, DEAD_SHARE, STABLE_SHARE, NOISE = 0.25, 0.1, 0.5, 0.5


def parse_args(argv=None):
    """The command line; the defaults are the paper's sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=6144, help="concepts")
    parser.add_argument("--dims", type=int, nargs="+", default=[768, 1024, 1280], help="one width per model")
    parser.add_argument("--images", type=int, default=5000, help="val images")
    parser.add_argument("--labels", type=int, default=1000, help="distinct labels (image i has label i %% labels)")
    parser.add_argument("--top", type=int, default=8, help="top images per concept (n = K)")
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--fdr", type=float, default=0.05)
    parser.add_argument("--replicates", type=int, default=3, help="runs; every pair of them is matched")
    parser.add_argument("--code-images", type=int, default=200, help="images the codes are matched on")
    parser.add_argument("--tokens", type=int, default=256, help="tokens per image")
    parser.add_argument("--batch-images", type=int, default=MetricsOptions().batch_images)
    parser.add_argument("--k", type=int, default=16, help="nonzero codes per token")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--step", choices=STEPS, help="run this step only, in this process, and print JSON")
    return parser.parse_args(argv)


def model_names(dims):
    """One name per model, from its place and width: ``m0_d768``, ``m1_d1024``, ..."""
    return [f"m{i}_d{dim}" for i, dim in enumerate(dims)]


def concept_kinds(names, m, rng):
    """Random concept kinds: universal, mixed, ``only <model>`` or dead (a tenth)."""
    choices = np.array([UNIVERSAL, MIXED, *[f"only {name}" for name in names]], dtype=object)
    kinds_m = rng.choice(choices, size=m)
    kinds_m[rng.random(m) < DEAD_SHARE] = DEAD
    return kinds_m


def top_images(args, kinds_m, rng):
    """Synthetic ``top_images.npz`` arrays: ``(indices_Mnm, values_Mnm)``, largest code first.

    A quarter of the (model, concept) pairs take their first top images from one label; dead concepts have
    zero codes.
    """
    shape = (len(args.dims), args.top, args.m)
    indices = rng.integers(0, args.images, size=shape)
    coherent = rng.random((shape[0], args.m)) < COHERENT_SHARE
    label = rng.integers(0, min(args.labels, args.images), size=(shape[0], args.m))
    per_label = min(args.top, max(args.images // args.labels, 1))
    for slot in range(per_label):
        indices[:, slot] = np.where(coherent, (label + slot * args.labels) % args.images, indices[:, slot])
    values = -np.sort(-rng.gamma(2.0, size=shape), axis=1)
    values[:, :, kinds_m == DEAD] = 0.0
    return indices, values


def step_coherence(args, rng):
    """Coherence of one run, then its columns and summary: ``{part: seconds}``."""
    names = model_names(args.dims)
    kinds_m = concept_kinds(names, args.m, rng)
    indices, values = top_images(args, kinds_m, rng)
    labels_N = [f"class{i % args.labels:04d}" for i in range(args.images)]
    options = MetricsOptions(coherence_images=args.top, permutations=args.permutations, fdr=args.fdr)
    start = time.perf_counter()
    result = coherence(indices, values, labels_N, args.top, args.permutations, args.fdr, args.seed)
    middle = time.perf_counter()
    coherence_columns(result, names, args.m)
    coherence_summary(result, names, kinds_m, labels_N, options)
    end = time.perf_counter()
    return {"coherence": middle - start, "columns + summary": end - middle}, {
        "coherent share": float(result["coherent"][result["tested"]].mean())
    }


def pair_of_runs(m, rng):
    """Run b's concept for each of run a's, and which of a's concepts come back: ``(permutation_m, stable_m)``."""
    return rng.permutation(m), rng.random(m) < STABLE_SHARE


def step_atoms(args, rng):
    """Atom stability of one pair of runs: ``{part: seconds}``."""
    permutation, stable = pair_of_runs(args.m, rng)
    atoms_a, atoms_b = [], []
    for dim in args.dims:
        a = rng.normal(size=(args.m, dim)).astype(np.float32)
        b = rng.normal(size=(args.m, dim)).astype(np.float32)
        noise = NOISE * rng.normal(size=(int(stable.sum()), dim)).astype(np.float32)
        b[permutation[stable]] = a[stable] + noise
        atoms_a.append(a)
        atoms_b.append(b)
    start = time.perf_counter()
    measures = atom_stability(atoms_a, atoms_b, rng)
    seconds = time.perf_counter() - start
    return {"atom_stability": seconds}, {"mean matched cosine": float(np.nanmean(measures["atoms"]))}


def code_batch(tokens, m, k, permutation, stable, generator):
    """Two runs' dense ``(tokens, m)`` codes of the same tokens, k random positive entries per token in run a."""
    codes_a = torch.zeros(tokens, m)
    concepts = torch.randint(0, m, (tokens, k), generator=generator)
    codes_a.scatter_(1, concepts, torch.rand(tokens, k, generator=generator) + 0.1)
    source = codes_a.clone()
    unstable = torch.from_numpy(~stable)
    source[:, unstable] = codes_a[torch.randperm(tokens, generator=generator)][:, unstable]
    codes_b = torch.empty_like(codes_a)
    codes_b[:, torch.from_numpy(permutation)] = source
    return codes_a, codes_b


def step_codes(args, rng):
    """Code stability of one pair of runs, every model: ``{part: seconds}`` (drawing the codes not counted)."""
    permutation, stable = pair_of_runs(args.m, rng)
    generator = torch.Generator().manual_seed(args.seed)
    correlate, correlations = 0.0, []
    for _ in args.dims:
        correlation = CodeCorrelation(args.m, args.m)
        for start_image in range(0, args.code_images, args.batch_images):
            tokens = min(args.batch_images, args.code_images - start_image) * args.tokens
            codes_a, codes_b = code_batch(tokens, args.m, args.k, permutation, stable, generator)
            start = time.perf_counter()
            correlation.update(codes_a, codes_b)
            correlate += time.perf_counter() - start
            del codes_a, codes_b
        start = time.perf_counter()
        correlations.append(correlation.correlation())
        correlate += time.perf_counter() - start
        del correlation
    start = time.perf_counter()
    matched = code_stability(correlations)
    seconds = time.perf_counter() - start
    return {"correlation": correlate, "code_stability": seconds}, {"mean matched correlation": float(matched.mean())}


def step_tables(args, rng):
    """``pair_rows`` of every pair and ``stability_summary`` on them: ``{part: seconds}``."""
    names = model_names(args.dims)
    kinds_m = concept_kinds(names, args.m, rng)
    shape = (len(args.dims), args.m)
    measures = {
        "atoms": rng.random(shape),
        "joint": rng.random(shape),
        "agree": rng.random(shape) < 0.5,
        "random": rng.random(shape) * 0.2,
        "codes": rng.random(shape),
    }
    pairs = [f"r{a}-r{b}" for a in range(args.replicates) for b in range(a + 1, args.replicates)]
    start = time.perf_counter()
    rows = [row for pair in pairs for row in pair_rows(measures, names, kinds_m, pair)]
    stability_summary(pd.DataFrame(rows))
    return {"pair_rows + stability_summary": time.perf_counter() - start}, {}


def run_step(args):
    """Run ``args.step`` here and print its seconds, checks and peak RSS as one JSON line."""
    rng = np.random.default_rng(args.seed)
    step = {"coherence": step_coherence, "atoms": step_atoms, "codes": step_codes, "tables": step_tables}
    parts, checks = step[args.step](args, rng)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"parts": parts, "checks": checks, "peak_mb": peak_mb}))


def spawn_step(step, argv):
    """Run one step in a fresh Python process: its parsed JSON line."""
    command = [sys.executable, __file__, *argv, "--step", step]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def step_line(label, result):
    """One printed line: the step's seconds, its parts, its peak RSS and its checks."""
    seconds = sum(result["parts"].values())
    parts = ", ".join(f"{name} {value:.3f} s" for name, value in result["parts"].items())
    checks = "".join(f"; {name} {value:.3f}" for name, value in result["checks"].items())
    return f"{label}: {seconds:.2f} s ({parts}), peak RSS {result['peak_mb']:.0f} MB{checks}"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.step:
        run_step(args)
        return
    pairs = args.replicates * (args.replicates - 1) // 2
    print(
        f"m = {args.m}, models of width {' / '.join(map(str, args.dims))}, {args.images} images "
        f"({args.labels} labels), top {args.top}, {args.permutations} permutations, {args.replicates} replicates "
        f"({pairs} pairs), codes on {args.code_images} images x {args.tokens} tokens "
        f"({args.code_images * args.tokens} tokens, k {args.k}, batches of {args.batch_images} images), "
        f"torch threads {torch.get_num_threads()}; each step in its own process"
    )
    labels = {
        "coherence": "coherence (1 run)",
        "atoms": "stability, atoms (1 pair)",
        "codes": "stability, codes (1 pair, no encoder)",
        "tables": f"stability tables ({pairs} pairs)",
    }
    results = {}
    for step in STEPS:
        results[step] = spawn_step(step, argv)
        print(step_line(labels[step], results[step]), flush=True)
    seconds = {step: sum(result["parts"].values()) for step, result in results.items()}
    total = args.replicates * seconds["coherence"] + pairs * (seconds["atoms"] + seconds["codes"]) + seconds["tables"]
    peak = max(result["peak_mb"] for result in results.values())
    print(
        f"total for {args.replicates} replicates: {args.replicates} x {seconds['coherence']:.2f} + {pairs} x "
        f"({seconds['atoms']:.2f} + {seconds['codes']:.2f}) + {seconds['tables']:.2f} = {total:.1f} s "
        f"({total / 60:.1f} min), largest step peak RSS {peak:.0f} MB"
    )


if __name__ == "__main__":
    main()
