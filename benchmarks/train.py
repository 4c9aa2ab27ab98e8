"""Training throughput of the USAE step and of the independent-SAE step, with an MFU-style line.

For each size (the paper's: d = 384/768/768, m = 6144, k = 32, 32 images x 196 tokens = 6272 tokens;
the embedded default's: d = 320/320/352, m = 2048, 16 x 49 = 784 tokens) it prints tokens/s of one
training step (batch already in memory) and of one step including reading the batch from a store.

FLOP count: every dense-equivalent matmul costs 2*d*m per token; a USAE step runs the chosen encoder
and, for every decoder, the reconstruction and the auxiliary reconstruction, so forward =
2*d_i*m + sum_j 2 * 2*m*d_j per token; fwd + bwd = 3 x forward (the usual convention; the sparse
top-k decode does far less real work than its dense equivalent, which is why it is counted at the
dense rate: the figure is comparable with a dense implementation). The independent step runs, per
model, one encoder and two decodes. 'peak' is this machine's measured float32 matmul rate.

Usage: python benchmarks/train.py [--sizes paper embedded] [--steps 3] [--device auto]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from usae.activations.batches import TokenBatches
from usae.activations.store import ActivationStore, write_store
from usae.config import validate_config
from usae.device import pick_device
from usae.sae.training import IndependentRun, UniversalRun, chosen_model

SIZES = {
    "paper": {"dims": {"siglip": 768, "dinov2": 384, "vit": 768}, "m": 6144, "images": 32, "tokens": 196},
    "embedded": {"dims": {"lite0": 320, "lite1": 320, "lite2": 352}, "m": 2048, "images": 16, "tokens": 49},
}


def measured_peak(device, size=2048, repeats=10):
    """float32 matmul FLOP/s of this device on (size x size) @ (size x size)."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    a @ b
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def sync(device):
    """Wait for queued GPU work."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def step_flops_per_token(kind, dims, m, chosen=None):
    """Dense-equivalent training FLOPs per token (fwd + bwd = 3 x forward)."""
    if kind == "usae":
        forward = 2 * dims[chosen] * m + sum(2 * 2 * m * d for d in dims.values())
    else:
        forward = sum(2 * d * m + 2 * 2 * m * d for d in dims.values())
    return 3 * forward


def bench(kind, size, steps, device, root):
    dims, m = size["dims"], size["m"]
    rng = np.random.default_rng(0)
    n_images = size["images"] * (steps + 1)
    stores = {}
    for name, dim in dims.items():
        acts_NTD = rng.normal(size=(n_images, size["tokens"], dim)).astype(np.float16)
        write_store(root / kind / name, acts_NTD, [str(i) for i in range(n_images)], name, shard_images=size["images"])
        stores[name] = ActivationStore(root / kind / name)
    batches = TokenBatches(stores, size["images"])
    options = {**validate_config({"train": {"n_concepts": m, "k": 32, "batch_images": size["images"], "epochs": 1,
                                            "device": str(device)}}, "bench")["train"], "seed": 0}
    run = (UniversalRun if kind == "usae" else IndependentRun)(batches, options, root / kind / "run")
    for module in run.modules.values():
        module.to(device).train()
    run.start_epoch()
    batch = {name: x.to(device) for name, x in batches.batch(0, 0).items()}
    run.train_step(batch, 0)  # warm-up
    sync(device)
    start = time.perf_counter()
    flops = 0
    for step in range(1, steps + 1):
        run.train_step(batch, step)
        chosen = run.usae.names[chosen_model(0, step, len(dims))] if kind == "usae" else None
        flops += step_flops_per_token(kind, dims, m, chosen) * batches.tokens_per_batch
    sync(device)
    compute = time.perf_counter() - start
    start = time.perf_counter()
    for step in range(1, steps + 1):
        run.train_step({name: x.to(device) for name, x in batches.batch(0, step).items()}, step)
    sync(device)
    with_io = time.perf_counter() - start
    tokens = steps * batches.tokens_per_batch
    return tokens / compute, tokens / with_io, flops / compute


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["embedded", "paper"], choices=list(SIZES))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    peak = measured_peak(device)
    print(f"device {device}, torch threads {torch.get_num_threads()}, measured fp32 matmul peak {peak / 1e9:.1f} GFLOP/s")
    with tempfile.TemporaryDirectory() as tmp:
        for size_name in args.sizes:
            size = SIZES[size_name]
            for kind in ["usae", "independent"]:
                step_rate, io_rate, flop_rate = bench(kind, size, args.steps, device, Path(tmp) / size_name)
                print(f"{size_name:9s} {kind:11s} m={size['m']} tokens/batch={size['images'] * size['tokens']}: "
                      f"{step_rate:9.0f} tokens/s (step), {io_rate:9.0f} tokens/s (with store reads), "
                      f"{flop_rate / 1e9:7.1f} GFLOP/s = {100 * flop_rate / peak:5.1f}% of peak")


if __name__ == "__main__":
    main()
