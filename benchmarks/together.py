"""Speed-up of training G USAE runs together (one store read per step) over training them one after another.

For each G in --groups (default 1 2 4) it builds G UniversalRuns over one TokenBatches that differ only in
lr (lr_i = 1e-3 x (1 + i)), each cut to --steps steps, and times (a) the G runs trained one after another
(``run.run()`` each) and (b) ``usae.sae.training.train_together(runs)``, which reads each step's batch
once for all of them; an untimed 4-step run warms up first. Both include each run's one end-of-run
checkpoint and final model write (log_every and checkpoint_every are larger than the run). Each time is
the best of --repeats tries, (a) timed first on even tries and (b) on odd ones: on a shared machine one
try varies by 10-20%, more than the effect. Speed-up = a / b; "equal" says whether (a) and (b) gave
torch.equal weights for every run on every try, train_together's claim.

It also times the store read on its own, ``batches.batch(epoch, index)`` (every model) over the same
steps: (b) saves G - 1 of those reads per step, so the expected speed-up is a / (a - (G - 1) x read);
"read share" is the read's share of one run's step time in (a).

Sizes are the embedded default's (config/config.yaml): dinov2_vits14_imgfocus_block8 (d 384),
mobilenet_v2 (d 320), efficientnet_lite0 (d 320), 196 tokens per image, batch_images 4 (784 tokens),
n_concepts 1024, k 32, float16 stores of 64-image shards. Without --stores it writes random stores of
--images images (576: the default's train split) into a temporary folder; with --stores it reads real
ones (e.g. results/cache/activations/<dataset>-<digest>/train/, one folder per model). Torch runs --threads
threads (1: the default config's ``threads``).

Usage: python benchmarks/together.py [--steps 24] [--repeats 3] [--groups 1 2 4] [--images 576]
       [--threads 1] [--device cpu] [--stores DIR1 DIR2 DIR3]
"""

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from usae.activations.batches import TokenBatches
from usae.activations.store import ActivationStore, write_store
from usae.config import validate_config
from usae.options import TrainOptions
from usae.sae.training import UniversalRun, train_together

DIMS = {"dinov2_vits14_imgfocus_block8": 384, "mobilenet_v2": 320, "efficientnet_lite0": 320}
TOKENS, BATCH_IMAGES, N_CONCEPTS, K, SHARD_IMAGES = 196, 4, 1024, 32, 64


def synthetic_stores(root, n_images):
    """Random float16 stores of the default's sizes under ``root``: ``{model: ActivationStore}``."""
    rng = np.random.default_rng(0)
    ids = [str(i) for i in range(n_images)]
    for name, dim in DIMS.items():
        acts_NTD = rng.normal(size=(n_images, TOKENS, dim)).astype(np.float16)
        write_store(root / name, acts_NTD, ids, name, shard_images=SHARD_IMAGES)
    return {name: ActivationStore(root / name) for name in DIMS}


def make_runs(batches, g, steps, device, root):
    """G UniversalRuns over ``batches`` with lr 1e-3 x (1 + i), each cut to ``steps`` steps."""
    train = {
        "n_concepts": N_CONCEPTS,
        "k": K,
        "batch_images": BATCH_IMAGES,
        "device": device,
        "epochs": math.ceil(steps / batches.batches_per_epoch),
        "log_every": 10**9,
        "checkpoint_every": 10**9,
        "checkpoint_epochs": [],
    }
    runs = []
    for i in range(g):
        options = TrainOptions.from_config(validate_config({"train": {**train, "lr": 1e-3 * (1 + i)}}, "bench"))
        out = root / f"run{i}"
        run = UniversalRun(batches, options, out / "model.safetensors", out / "model.json", out / "log.csv")
        run.total_steps = steps  # the first `steps` steps of the run's schedule
        runs.append(run)
    return runs


def timed(function):
    """``function()``'s result and its wall seconds."""
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=24, help="steps per run")
    parser.add_argument("--groups", type=int, nargs="+", default=[1, 2, 4], help="values of G")
    parser.add_argument("--repeats", type=int, default=3, help="timings per figure (the best is kept)")
    parser.add_argument("--images", type=int, default=576, help="images of the synthetic stores")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--stores", nargs="+", type=Path, help="real store folders, one per model")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.stores:
            stores = {store.model: store for store in map(ActivationStore, args.stores)}
        else:
            stores = synthetic_stores(tmp / "stores", args.images)
        batches = TokenBatches(stores, BATCH_IMAGES)
        steps = args.steps
        print(
            f"device {args.device}, torch threads {torch.get_num_threads()}; models "
            + ", ".join(f"{name} (d {store.dim})" for name, store in stores.items())
            + f"; {batches.n_images} images ({'--stores' if args.stores else 'synthetic'}), "
            f"{batches.tokens_per_batch} tokens per step, m {N_CONCEPTS}, k {K}, {steps} steps per run"
        )

        def read_steps():
            return [batches.batch(*divmod(step, batches.batches_per_epoch)) for step in range(steps)]

        read_steps()  # into the page cache
        read = min(timed(read_steps)[1] for _ in range(args.repeats))
        print(
            f"store read alone (best of {args.repeats}): {read:.3f} s for {steps} batches "
            f"({1000 * read / steps:.1f} ms per step)"
        )
        make_runs(batches, 1, min(steps, 4), args.device, tmp / "warm-up")[0].run()  # untimed warm-up
        print("a: the G runs one after another; b: train_together; expected: a / (a - (G - 1) x read)")
        print(
            f"{'G':>2s} {'a s':>8s} {'b s':>8s} {'a steps/s':>9s} {'b steps/s':>9s} {'read share':>10s} "
            f"{'speed-up':>8s} {'expected':>8s} {'equal':>5s}"
        )
        for g in args.groups:
            a = b = float("inf")
            equal = True
            for r in range(args.repeats):  # best of --repeats, (a) first on even tries, (b) first on odd ones
                for kind in "ab" if r % 2 == 0 else "ba":
                    runs = make_runs(batches, g, steps, args.device, tmp / f"{kind}{g}-{r}")
                    if kind == "a":
                        apart, seconds = timed(lambda runs=runs: [run.run() for run in runs])
                        a = min(a, seconds)
                    else:
                        together, seconds = timed(lambda runs=runs: train_together(runs))
                        b = min(b, seconds)
                equal &= all(
                    torch.equal(x, y)
                    for one, two in zip(apart, together)
                    for x, y in zip(one.state_dict().values(), two.state_dict().values())
                )
            share = read / (a / g)
            print(
                f"{g:2d} {a:8.2f} {b:8.2f} {g * steps / a:9.2f} {g * steps / b:9.2f} {100 * share:9.1f}% "
                f"{a / b:8.3f} {a / (a - (g - 1) * read):8.3f} {'yes' if equal else 'no':>5s}"
            )


if __name__ == "__main__":
    main()
