"""Training throughput of the USAE step and of the independent-SAE step, with an MFU-style line.

For each size (the paper's: d = 384/768/768, m = 6144, k = 32, 32 images x 196 tokens = 6272 tokens;
the former embedded default's (config/efficientnet.yaml): d = 320/320/352, m = 2048, 16 x 49 = 784 tokens; the
default's (config/config.yaml): d = 384/320/320, m = 1024, 4 x 196 = 784 tokens) it prints tokens/s of one
training step (batch already in memory) and of one step including reading the batch from a store,
and two FLOP rates. 'peak' is this machine's float32 matmul rate, the best of 10 timed 2048^3 matmuls,
measured just before each row's timed steps (step rates are means over --steps): on a machine shared
with other jobs both vary from run to run.

Performed FLOPs, what this implementation computes (src/usae/sae/training.py, modules.py, losses.py),
per token, for a USAE step whose encoder i is chosen (D = sum of every model's d_j):

    dense matmuls    6*m*d_i + 4*m*D    encoder 2*d_i*m forward and 2*d_i*m for its weight gradient (the
                                        activations are data: no input gradient); for every decoder j the
                                        auxiliary decode aux_codes @ dictionary, (B, m) x (m, d_j), 2*m*d_j
                                        forward and 2*m*d_j for the aux codes' gradient, plus 2*m*d_i for
                                        the chosen dictionary's gradient (the others are detached)
    top-k gathers    2*k*d_i + 4*k*D    F.embedding_bag over the k active codes: 2*k*d_j forward and 2*k*d_j
                                        for the values' gradient per decoder, 2*k*d_i for the chosen
                                        dictionary's gradient

An independent step runs each model once as its own chosen model: sum_j (10*m*d_j + 6*k*d_j).
Elementwise work (BatchNorm, ReLU, top-k and kthvalue selection, losses, dictionary normalisation,
AdamW) is left out: on one step the other ops read about 1-2% as many elements as these FLOPs at the
embedded size, 0.3-0.5% at the paper's. torch.utils.flop_counter.FlopCounterMode counts the dense
matmuls only (embedding_bag has no formula there); the 'matmul check' column is its count on the
warm-up step divided by the formula's.

Dense-equivalent FLOPs, as if every decode were a dense m x d matmul (comparable with dense
implementations): 2*d*m per token per matmul, forward = 2*d_i*m + sum_j 2 * 2*m*d_j, fwd + bwd =
3 x forward; the independent step runs, per model, one encoder and two decodes.

--autocast runs every step under the runs' bfloat16 autocast (train.autocast: on GPU only; on CPU it
changes nothing). --together G adds a column: tokens/s of G runs of the row's kind (seeds 0..G-1) trained
by ``usae.sae.training.train_together`` over one TokenBatches, counting all G runs' tokens; like
'w/ reads' it includes each step's store read (once for all G) and each run's copy to the device, and
excludes a warm-up step and the last step (which writes each run's checkpoint and final model).

--models M [M ...] times each size with M models (widths cycled through the size's, e.g. 320/320/352/320/320
for M = 5 at the embedded size), one set of rows per M, and prints how a step's time grows with M beside the
growth of its performed FLOPs (the work it must do).

--ranks N prints, instead, data-parallel training's tokens/s on 1 and N ranks for each size, and the bytes each rank
all-reduces a step (``ranks.py``'s table: its steps run on stores, one process a rank, gloo on CPU and NCCL on GPUs).

Usage: python benchmarks/train.py [--sizes paper embedded default] [--steps 3] [--device auto] [--autocast]
       [--together G] [--models M ...] [--ranks N]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from usae.activations.batches import TokenBatches
from usae.activations.store import ActivationStore, write_store
from usae.config import validate_config
from usae.device import pick_device
from usae.options import TrainOptions
from usae.sae.training import IndependentRun, UniversalRun, chosen_model, train_together

SIZES = {
    "paper": {"dims": {"siglip": 768, "dinov2": 384, "vit": 768}, "m": 6144, "k": 32, "images": 32, "tokens": 196},
    "embedded": {"dims": {"lite0": 320, "lite1": 320, "lite2": 352}, "m": 2048, "k": 32, "images": 16, "tokens": 49},
    # config/config.yaml (and config/zoo.yaml, which extends it): DINOv2 block 8, MobileNet-V2, EfficientNet-Lite0
    "default": {
        "dims": {"dinov2": 384, "mobilenet_v2": 320, "lite0": 320},
        "m": 1024,
        "k": 32,
        "images": 4,
        "tokens": 196,
    },
}


def with_models(size, n_models):
    """``size`` with ``n_models`` models, their widths cycled through the size's own."""
    widths = list(size["dims"].values())
    return {**size, "dims": {f"model{i}": widths[i % len(widths)] for i in range(n_models)}}


def measured_peak(device, size=2048, repeats=10):
    """float32 matmul FLOP/s of this device on (size x size) @ (size x size): the best of ``repeats``."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def sync(device):
    """Wait for queued GPU work."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_flops(kind, dims, m, k, tokens, chosen=None):
    """FLOPs of one training step on ``tokens`` tokens (see the module docstring).

    Returns ``{"matmul", "gather", "performed", "dense_equivalent"}``: performed = matmul + gather.
    ``kind`` is "usae" (``chosen``: the model whose encoder runs) or "independent".
    """
    if kind == "independent":
        parts = [step_flops("usae", {name: d}, m, k, tokens, name) for name, d in dims.items()]
        return {key: sum(part[key] for part in parts) for key in parts[0]}
    d_i, total_d = dims[chosen], sum(dims.values())
    matmul = tokens * (6 * m * d_i + 4 * m * total_d)
    gather = tokens * (2 * k * d_i + 4 * k * total_d)
    dense = tokens * 3 * (2 * d_i * m + 2 * 2 * m * total_d)
    return {"matmul": matmul, "gather": gather, "performed": matmul + gather, "dense_equivalent": dense}


def make_batches(kind, size, n_batches, root):
    """TokenBatches over random float16 stores of ``n_batches`` batches under ``root / kind``."""
    rng = np.random.default_rng(0)
    n_images = size["images"] * n_batches
    stores = {}
    for name, dim in size["dims"].items():
        acts_NTD = rng.normal(size=(n_images, size["tokens"], dim)).astype(np.float16)
        write_store(root / kind / name, acts_NTD, [str(i) for i in range(n_images)], name, shard_images=size["images"])
        stores[name] = ActivationStore(root / kind / name)
    return TokenBatches(stores, size["images"])


def new_run(kind, size, batches, device, out, autocast=False, seed=0, **train):
    """A run of ``kind`` over ``batches`` writing under ``out`` (``train``: more config train keys)."""
    train = {
        "n_concepts": size["m"],
        "k": size["k"],
        "batch_images": size["images"],
        "epochs": 1,
        "device": str(device),
        "autocast": autocast,
        **train,
    }
    options = TrainOptions.from_config(validate_config({"train": train}, "bench"))
    return (UniversalRun if kind == "usae" else IndependentRun)(
        batches, options, out / "model.safetensors", out / "model.json", out / "log.csv", seed=seed
    )


def make_run(kind, size, n_batches, device, root, autocast=False):
    """A run of ``kind`` on random float16 stores of ``n_batches`` batches under ``root``; and its batches."""
    batches = make_batches(kind, size, n_batches, root)
    run = new_run(kind, size, batches, device, root / kind / "run", autocast)
    for module in run.modules.values():
        module.to(device).train()
    run.start_epoch()
    return run, batches


def bench_together(kind, size, steps, device, root, groups, autocast=False):
    """tokens/s of ``groups`` runs trained by ``train_together`` over one TokenBatches (all runs' tokens).

    Each run has steps + 2 steps: a warm-up, ``steps`` timed ones, and a last one (it writes each run's
    checkpoint and final model) left out of the time.
    """
    batches = make_batches(f"{kind}_together", size, steps + 2, root)
    quiet = {"log_every": 10**9, "checkpoint_every": 10**9, "checkpoint_epochs": []}
    runs = [
        new_run(kind, size, batches, device, root / f"{kind}_together" / f"run{i}", autocast, seed=i, **quiet)
        for i in range(groups)
    ]
    times = {}

    def on_step(done):
        if done in (1, steps + 1):
            sync(device)
            times[done] = time.perf_counter()

    train_together(runs, on_step)
    return groups * steps * batches.tokens_per_batch / (times[steps + 1] - times[1])


def bench(kind, size, steps, device, root, autocast=False):
    """Return peak FLOP/s, tokens/s (step, with store reads), performed and dense-equivalent FLOP/s, matmul check."""
    dims, m, k = size["dims"], size["m"], size["k"]
    run, batches = make_run(kind, size, steps + 1, device, root, autocast)
    tokens = batches.tokens_per_batch

    def flops(step):
        chosen = run.usae.names[chosen_model(0, step, len(dims))] if kind == "usae" else None
        return step_flops(kind, dims, m, k, tokens, chosen)

    batch = {name: x.to(device) for name, x in batches.batch(0, 0).items()}
    with FlopCounterMode(display=False) as counter:
        run.train_step(batch, 0)  # warm-up
    check = counter.get_total_flops() / flops(0)["matmul"]
    peak = measured_peak(device)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        run.train_step(batch, step)
    sync(device)
    compute = time.perf_counter() - start
    start = time.perf_counter()
    for step in range(1, steps + 1):
        run.train_step({name: x.to(device) for name, x in batches.batch(0, step).items()}, step)
    sync(device)
    with_io = time.perf_counter() - start
    performed = sum(flops(step)["performed"] for step in range(1, steps + 1))
    dense = sum(flops(step)["dense_equivalent"] for step in range(1, steps + 1))
    return peak, steps * tokens / compute, steps * tokens / with_io, performed / compute, dense / compute, check


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["embedded", "paper"], choices=list(SIZES))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--autocast", action="store_true", help="bfloat16 autocast (train.autocast; GPU only)")
    parser.add_argument("--together", type=int, metavar="G", help="also time G runs trained together")
    parser.add_argument("--models", type=int, nargs="+", metavar="M", help="time each size with M models")
    parser.add_argument("--ranks", type=int, metavar="N", help="instead: tokens/s on 1 and N ranks (ranks.py)")
    args = parser.parse_args()
    if args.ranks:  # data-parallel steps on stores, one process a rank: ranks.py's table for these sizes
        import ranks

        ranks.print_table(args.sizes, args.ranks, args.steps, pick_device(args.device).type)
        return
    if args.together is not None and args.together < 1:
        parser.error("--together G: G must be at least 1")
    device = pick_device(args.device)
    autocast = " (ignored on CPU)" if device.type != "cuda" else ""
    print(
        f"device {device}, torch threads {torch.get_num_threads()}"
        + (f", bfloat16 autocast{autocast}" if args.autocast else "")
    )
    print("peak: fp32 matmul GFLOP/s measured just before the row's timed steps (best of 10 2048^3 matmuls)")
    print("tokens/s: one step, batch in memory; w/ reads: one step including reading its batch from the store")
    print("performed: GFLOP/s this implementation computes (dense matmuls + top-k gathers); % peak: its share")
    print("dense-eq: GFLOP/s as if every decode were a dense m x d matmul, comparable with dense implementations")
    print("matmul check: FlopCounterMode's matmul FLOPs on the warm-up step / the formula's")
    together = f" {f'x{args.together} tok/s':>11s}" if args.together else ""
    if args.together:
        print(
            f"x{args.together} tok/s: {args.together} runs trained together (train_together), all their tokens, "
            "store reads included"
        )
    print(
        f"{'size':9s} {'M':>2s} {'step':11s} {'m':>5s} {'tokens':>6s} {'tokens/s':>9s} {'w/ reads':>9s} "
        f"{'peak':>6s} {'performed':>9s} {'% peak':>6s} {'dense-eq':>9s} {'matmul check':>12s}{together}"
    )
    growth = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size_name in args.sizes:
            for n_models in args.models or [len(SIZES[size_name]["dims"])]:
                size = with_models(SIZES[size_name], n_models)
                for kind in ["usae", "independent"]:
                    root = Path(tmp) / f"{size_name}_{n_models}"
                    peak, step_rate, io_rate, performed, dense, check = bench(
                        kind, size, args.steps, device, root, args.autocast
                    )
                    if args.together:
                        rate = bench_together(kind, size, args.steps, device, root, args.together, args.autocast)
                        together = f" {rate:11.0f}"
                    tokens = size["images"] * size["tokens"]
                    growth.setdefault((size_name, kind), []).append((n_models, tokens / step_rate, performed / peak))
                    print(
                        f"{size_name:9s} {n_models:2d} {kind:11s} {size['m']:5d} {tokens:6d} "
                        f"{step_rate:9.0f} {io_rate:9.0f} {peak / 1e9:6.1f} {performed / 1e9:9.1f} "
                        f"{100 * performed / peak:6.1f} {dense / 1e9:9.1f} {check:12.4f}{together}"
                    )
    for (size_name, kind), rows in growth.items():
        (first, seconds, _), *others = rows
        for n_models, later, _ in others:
            work = step_flops_ratio(kind, SIZES[size_name], first, n_models)
            print(
                f"{size_name} {kind}: a step with M = {n_models} takes {later / seconds:.2f}x the time of M = {first}; "
                f"its performed FLOPs grow {work:.2f}x"
            )


def step_flops_ratio(kind, size, first, later):
    """How the performed FLOPs of a step (mean over the chosen models) grow from ``first`` to ``later`` models."""

    def mean_flops(n_models):
        dims = with_models(size, n_models)["dims"]
        chosen = list(dims) if kind == "usae" else [None]
        tokens = size["images"] * size["tokens"]
        return np.mean([step_flops(kind, dims, size["m"], size["k"], tokens, i)["performed"] for i in chosen])

    return mean_flops(later) / mean_flops(first)


if __name__ == "__main__":
    main()
