"""Activation extraction: images of a manifest -> one model's tokens on the common grid -> a store."""

import contextlib
import platform
from importlib import metadata

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from usae.device import pick_device
from usae.models import load_token_model, preprocess
from usae.store import StoreWriter
from usae.tokens import resample_grid


class ManifestImages(torch.utils.data.Dataset):
    """Images of a manifest, preprocessed for one model."""

    def __init__(self, paths, spec):
        self.paths = list(paths)
        self.spec = spec

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        with Image.open(self.paths[index]) as image:
            return preprocess(image, self.spec)


def package_versions(names=("torch", "timm", "transformers", "numpy", "pillow", "usae")):
    """Installed versions of the packages that shape activations."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def token_batches(token_model, loader, grid, device, autocast):
    """Yield ``acts_NTD`` float32 CPU arrays for each batch of ``loader``."""
    use_autocast = autocast and device.type == "cuda"
    context = torch.autocast("cuda", dtype=torch.bfloat16) if use_autocast else contextlib.nullcontext()
    with torch.inference_mode(), context:
        for images_NCHW in loader:
            grid_NDHW = token_model(images_NCHW.to(device, non_blocking=True))
            yield resample_grid(grid_NDHW.float(), grid).cpu().numpy()


def extract_store(manifest, spec, out_dir, grid, batch_size=32, shard_images=128, dtype="float16",
                  device="auto", autocast=True, num_workers=0, stat_images=1000, seed=0,
                  token_model=None, progress=True):
    """Extract one model's activations for every image of a manifest into a store.

    Resumable: shards already on disk are kept, and the run restarts at the first missing one.
    Each shard is computed from the same images in the same batches, so a resumed store is
    byte-identical to an uninterrupted one on the same machine.

    Parameters
    ----------
    manifest : pandas.DataFrame
        Split manifest (``image_id``, ``path``, ...), in store order.
    spec : usae.models.ModelSpec
    out_dir : path
        Store folder.
    grid : int
        Side of the common token grid.
    token_model : usae.models.TokenModel, optional
        An already loaded model (else loaded from ``spec`` when there is work to do).

    Returns
    -------
    dict
        The store's metadata.
    """
    writer = StoreWriter(
        out_dir, manifest["image_id"].tolist(), shard_images, dtype,
        plan_extra={"model": spec.name, "spec": spec.describe(), "grid": grid, "batch_size": batch_size},
    )
    missing = writer.missing_shards()
    if missing:
        device = pick_device(device)
        token_model = (token_model or load_token_model(spec)).to(device)
        paths = manifest["path"].tolist()
        bar = tqdm(total=len(paths), initial=len(paths) - sum(
            writer.shard_slice(i).stop - writer.shard_slice(i).start for i in missing),
            desc=f"extract {spec.name}", unit="img", disable=not progress)
        for index in missing:
            part = writer.shard_slice(index)
            loader = torch.utils.data.DataLoader(
                ManifestImages(paths[part], spec), batch_size=batch_size, num_workers=num_workers,
                pin_memory=device.type == "cuda",
            )
            batches = []
            for acts_NTD in token_batches(token_model, loader, grid, device, autocast):
                batches.append(acts_NTD)
                bar.update(len(acts_NTD))
            writer.write_shard(index, np.concatenate(batches))
        bar.close()
    source = {"spec": spec.describe(), "preprocessing": {
        "resize": [spec.image_size, spec.image_size], "interpolation": "bicubic", "antialias": True,
        "crop": None, "mean": list(spec.mean), "std": list(spec.std),
        "prefix_tokens_dropped": spec.prefix_tokens if spec.prefix_tokens is not None else "model default",
        "grid_resampling": "bilinear, antialiased"}, "versions": package_versions()}
    return writer.finalize(spec.name, (grid, grid), stat_images, seed, source=source)
