"""Extraction throughput: full pipeline vs the model's bare forward pass, and store I/O.

Prints images/s of ``extract_store`` (decode + preprocess + forward + resample + write) and of the
bare forward pass on the same, already preprocessed batches; their ratio shows whether data loading
dominates. Then store write and memory-mapped read MB/s.

--random-weights builds the model with random weights (timm ``pretrained=False``; nothing is downloaded),
e.g. ``--model vit_b16 --random-weights`` for ViT-B/16 without its checkpoint. On GPU both the extraction
and the bare forward pass run under bfloat16 autocast (``extract.autocast``, on by default; --no-autocast).

Usage: python benchmarks/extract.py [--model efficientnet_lite0] [--images 128] [--batch-size 32]
       [--random-weights] [--no-autocast] [--device auto]
"""

import argparse
import contextlib
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from usae.activations.extraction import ManifestImages, extract_store
from usae.activations.store import ActivationStore, write_store
from usae.data.manifest import build_manifest
from usae.data.sources import write_embedded_split
from usae.device import pick_device
from usae.models.loaders import load_token_model, model_spec
from usae.options import EmbeddedOptions


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--grid", type=int, default=7)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--random-weights", action="store_true", help="random weights: nothing is downloaded")
    parser.add_argument(
        "--autocast",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="bfloat16 autocast on GPU (default: on, as extract.autocast)",
    )
    args = parser.parse_args()
    device = pick_device(args.device)
    spec = model_spec(args.model)
    if args.random_weights:
        if spec.loader in ("hf", "torchhub"):  # these fetch a config or code even without weights
            parser.error(
                f"--random-weights: model {args.model} ({spec.loader}) would still download; "
                "use a timm, torchvision or hf_onnx model"
            )
        spec = dataclasses.replace(spec, weights="random")
    autocast = args.autocast and device.type == "cuda"
    token_model = load_token_model(spec).to(device)
    with tempfile.TemporaryDirectory() as tmp:
        options = EmbeddedOptions(n_train=args.images, n_val=1, size=288, min_scale=0.15, max_scale=1.0)
        records = write_embedded_split(tmp, "train", options, seed=0)
        manifest, _ = build_manifest(records)

        start = time.perf_counter()
        meta = extract_store(
            manifest,
            spec,
            Path(tmp) / "store",
            grid=args.grid,
            batch_size=args.batch_size,
            shard_images=args.images,
            device=args.device,
            autocast=args.autocast,
            token_model=token_model,
        )
        full = time.perf_counter() - start

        images = ManifestImages(manifest["path"], manifest["sha256"], spec, "the benchmark's manifest")
        batches = list(torch.utils.data.DataLoader(images, batch_size=args.batch_size))
        context = torch.autocast("cuda", dtype=torch.bfloat16) if autocast else contextlib.nullcontext()
        with torch.inference_mode(), context:
            token_model(batches[0].to(device))  # warm-up
            start = time.perf_counter()
            for images in batches:
                token_model(images.to(device))
            if device.type == "cuda":
                torch.cuda.synchronize()
            bare = time.perf_counter() - start
            # Why the registry reads a layer other than the head: share of exact zeros in each.
            read_layer = token_model(batches[0].to(device))
            head = token_model.model.forward_features(batches[0].to(device))

        acts_NTD = np.random.default_rng(0).normal(size=(2048, meta["tokens"], meta["dim"])).astype(np.float16)
        start = time.perf_counter()
        write_store(Path(tmp) / "io", acts_NTD, [str(i) for i in range(len(acts_NTD))], "io", shard_images=512)
        write = time.perf_counter() - start
        store = ActivationStore(Path(tmp) / "io")
        start = time.perf_counter()
        for i in range(0, len(acts_NTD), 256):
            store.images(i, i + 256)
        read = time.perf_counter() - start
    megabytes = acts_NTD.nbytes / 2**20
    weights = ", random weights" if args.random_weights else ""
    print(
        f"model {args.model}{weights} on {device}{', bfloat16 autocast' if autocast else ''}, {args.images} images, "
        f"batch {args.batch_size}, torch threads {torch.get_num_threads()}"
    )
    print(f"extraction (decode+preprocess+forward+write): {args.images / full:8.1f} images/s")
    print(f"bare forward pass, same batches:              {args.images / bare:8.1f} images/s")
    print(f"ratio extraction/forward:                     {bare / full:8.2f}  (1.0 = data loading costs nothing)")
    print(
        f"exact zeros: tokens read ({spec.layer}) {(read_layer == 0).float().mean().item():.1%}, "
        f"forward_features {(head == 0).float().mean().item():.1%}"
    )
    print(
        f"store write (incl. statistics): {megabytes / write:8.1f} MB/s   "
        f"read (memmap, page cache): {megabytes / read:8.1f} MB/s"
    )


if __name__ == "__main__":
    main()
