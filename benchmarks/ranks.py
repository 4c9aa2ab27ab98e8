"""Data-parallel training throughput: tokens/s of a USAE step and an independent-SAE step on 1 and N ranks.

Each size of ``train.py`` (``SIZES``) is trained on random float16 stores for a warm-up step and ``--steps`` timed
steps, in one process and on N ranks of this machine (``usae.sae.launch.spawn``: gloo on CPU, NCCL on GPUs, one
GPU a rank; each reads its share of every batch, with one torch thread); tokens/s counts the global batch's tokens,
store reads included. It
also prints the bytes each rank all-reduces a step, from the code's reductions (``usae.sae.data_parallel``):

- USAE, chosen model i: its gradients (encoder weight m x d_i and bias m, BatchNorm weight and bias 2m,
  dictionary m x d_i), BatchNorm's two statistics forward and their gradients backward (4m), float32; fired
  (m bytes); loss and L0 (float32) and each decoder's R2 (4 float64 sums) for the log;
- independent: the same for every model, without the R2 of other decoders.

On a 2-core machine 2 ranks cannot beat 1 process: they share the cores and add the reductions. The bytes are
what an estimate of the scaling on GPUs starts from (docs/slurm.md).

Usage: python benchmarks/ranks.py [--sizes embedded paper] [--ranks 2] [--steps 5] [--device cpu|cuda]
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
import train as train_bench

from usae.activations.batches import TokenBatches
from usae.activations.store import ActivationStore
from usae.sae import data_parallel
from usae.sae.launch import spawn


def reduced_bytes(kind, dims, m):
    """Bytes each rank all-reduces in one step (mean over the chosen models for the USAE), per the docstring."""

    def model_step(d, decoders):
        gradients = 4 * (2 * m * d + 3 * m)
        batch_norm = 4 * 4 * m
        log = 4 * 2 + 8 * 4 * decoders  # loss and L0 (float32), each decoder's R2 (4 float64 sums)
        return gradients + batch_norm + m + log

    if kind == "usae":
        return sum(model_step(d, len(dims)) for d in dims.values()) / len(dims)
    return sum(model_step(d, 1) for d in dims.values())


def timed_steps(kind, size, steps, root, out, ranks, device="cpu"):
    """Train ``steps`` + 1 steps (the first untimed) on this rank's share, in the launcher's process group; rank 0
    writes tokens/s and the number of ranks that trained together to ``out``."""
    torch.set_num_threads(1)
    stores = {name: ActivationStore(Path(root) / kind / name) for name in size["dims"]}
    batches = TokenBatches(stores, size["images"])
    with data_parallel.process_group(torch.device(device)) as device:
        rank, world = data_parallel.world()
        if world != ranks:
            raise RuntimeError(f"rank {rank}: {world} ranks joined, {ranks} expected")
        if world > 1:
            batches = batches.for_rank(rank, world)
        run = train_bench.new_run(kind, size, batches, device, Path(root) / f"{kind}_{ranks}")
        for module in run.modules.values():
            module.to(device).train()
        run.start_epoch()
        run.train_step(batches.batch(0, 0), 0)
        train_bench.sync(device)
        data_parallel.barrier()
        start = time.perf_counter()
        for step in range(1, steps + 1):
            run.train_step(batches.batch(0, step), step)
        train_bench.sync(device)
        data_parallel.barrier()
        seconds = time.perf_counter() - start
        if rank == 0:
            tokens = size["images"] * size["tokens"] * steps
            Path(out).write_text(json.dumps({"tokens_per_s": tokens / seconds}))


def on_ranks(kind, size, steps, root, ranks, device="cpu"):
    """tokens/s of ``kind`` on ``ranks`` ranks (1: this process; gloo on CPU, NCCL on GPUs, one GPU each)."""
    out = Path(root) / f"{kind}_{ranks}.json"
    if not (Path(root) / kind).exists():
        train_bench.make_batches(kind, size, steps + 1, Path(root))  # the stores, once for every rank count
    if ranks == 1:
        timed_steps(kind, size, steps, root, out, 1, device)
    else:
        # The ranks import this file as module "ranks", and train.py beside it.
        os.environ["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
        target, arguments = "ranks:timed_steps", [kind, size, steps, str(root), str(out), ranks, device]
        spawn(ranks, torch.device(device), target, arguments, root)
    return json.loads(out.read_text())["tokens_per_s"]  # each rank checked the group's size


def print_table(sizes, ranks, steps, device="cpu"):
    """Print tokens/s on 1 and ``ranks`` ranks, and the bytes reduced, for each size name of ``sizes``."""
    where = f"gloo, {os.cpu_count()} cores" if device == "cpu" else f"nccl, {torch.cuda.device_count()} GPUs"
    print(f"{device}, {where}, one torch thread per rank; {steps} timed steps a row")
    print(f"{'size':9s} {'step':11s} {'ranks':>5s} {'tokens/s':>9s} {'speed-up':>8s} {'bytes reduced/step':>18s}")
    with tempfile.TemporaryDirectory() as tmp:
        for size_name in sizes:
            size = train_bench.SIZES[size_name]
            for kind in ["usae", "independent"]:
                root = Path(tmp) / size_name
                one = on_ranks(kind, size, steps, root, 1, device)
                many = on_ranks(kind, size, steps, root, ranks, device)
                moved = reduced_bytes(kind, size["dims"], size["m"])
                for count, rate in [(1, one), (ranks, many)]:
                    shown = f"{moved:18,.0f}" if count > 1 else f"{0:18d}"
                    print(f"{size_name:9s} {kind:11s} {count:5d} {rate:9.0f} {rate / one:8.2f} {shown}")
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["embedded", "paper"], choices=list(train_bench.SIZES))
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="cuda: NCCL ranks, one GPU each")
    args = parser.parse_args()
    print_table(args.sizes, args.ranks, args.steps, args.device)


if __name__ == "__main__":
    main()
