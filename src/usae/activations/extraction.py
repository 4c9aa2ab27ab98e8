"""Activation extraction: images of a manifest -> one model's tokens on the common grid -> a store."""

import contextlib
import json
import platform
import shutil
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from usae.activations.store import Moments, StoreWriter, ids_digest, part_shards, shard_name
from usae.data.manifest import MISSING_REMEDY, checked_image, manifest_source
from usae.device import pick_device
from usae.errors import StoreError, UserError
from usae.io import read_json_object, write_json
from usae.models.loaders import load_token_model, preprocess
from usae.models.tokens import resample_grid
from usae.progress import Progress


class ManifestImages(torch.utils.data.Dataset):
    """Images of a manifest, preprocessed for one model; each checked against the sha256 the manifest
    recorded when it was fetched (``source``: the manifest, for the message)."""

    def __init__(self, paths, sha256s, spec, source):
        self.paths, self.sha256s = list(paths), list(sha256s)
        self.spec, self.source = spec, source

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        return preprocess(checked_image(self.paths[index], self.sha256s[index], self.source), self.spec)


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
    """Yield ``(raw_NDHW, acts_NTD)`` for each batch of ``loader``.

    ``raw_NDHW``: the model's own token grid (float32, on ``device``); ``acts_NTD``: the tokens
    resampled to the common ``grid x grid`` (float32 CPU array).
    """
    use_autocast = autocast and device.type == "cuda"
    context = torch.autocast("cuda", dtype=torch.bfloat16) if use_autocast else contextlib.nullcontext()
    with torch.inference_mode(), context:
        for images_NCHW in loader:
            raw_NDHW = token_model(images_NCHW.to(device, non_blocking=True)).float()
            yield raw_NDHW, resample_grid(raw_NDHW, grid).cpu().numpy()


def extract_shard(batches, stat_rows, progress):
    """Concatenate one shard's batches; return ``(acts_NTD, raw moments of its statistics images, the model's own
    token grid)``.

    Parameters
    ----------
    batches : iterable of (raw_NDHW, acts_NTD)
        The shard's batches, in order (:func:`token_batches`).
    stat_rows : numpy.ndarray
        Rows of the shard (counted within it) whose raw grid enters the statistics.
    progress : usae.progress.Progress
        Advanced by each batch's images.
    """
    parts, moments, offset, native = [], Moments(), 0, None
    for raw_NDHW, acts_NTD in batches:
        native = tuple(raw_NDHW.shape[2:])
        rows = stat_rows[(stat_rows >= offset) & (stat_rows < offset + len(acts_NTD))] - offset
        moments.add(raw_NDHW[torch.from_numpy(rows).to(raw_NDHW.device)].cpu().numpy())
        parts.append(acts_NTD)
        offset += len(acts_NTD)
        progress.update(len(acts_NTD))
    return np.concatenate(parts), moments, native


def manifest_digest(manifest):
    """Digest of the manifest's image ids with their files' sha256, in store order.

    Raises
    ------
    ValueError
        If the manifest has no ``sha256`` column.
    """
    if "sha256" not in manifest:
        raise UserError("manifest: no sha256 column (build it with usae.data.manifest.build_manifest)")
    return ids_digest([f"{image_id} {sha}" for image_id, sha in zip(manifest["image_id"], manifest["sha256"])])


def store_writer(
    manifest,
    spec,
    out_dir,
    grid,
    batch_size=32,
    shard_images=128,
    dtype="float16",
    autocast=True,
    stat_images=1000,
    seed=0,
):
    """The :class:`usae.activations.store.StoreWriter` of one model's store of a manifest (its plan names everything
    that shapes the shards, so a store, a part of it and a merge of parts agree on it)."""
    plan = {
        "model": spec.name,
        "spec": spec.describe(),
        "grid": grid,
        "batch_size": batch_size,
        "autocast": autocast,
        "images": manifest_digest(manifest),
    }
    return StoreWriter(
        out_dir, manifest["image_id"].tolist(), shard_images, dtype, plan_extra=plan, stat_images=stat_images, seed=seed
    )


def store_source(spec):
    """``meta.json``'s ``source``: model spec, preprocessing, package versions."""
    return {
        "spec": spec.describe(),
        "preprocessing": {
            "resize": [spec.image_size, spec.image_size],
            "interpolation": "bicubic",
            "antialias": True,
            "crop": None,
            "mean": list(spec.mean),
            "std": list(spec.std),
            "prefix_tokens_dropped": spec.prefix_tokens if spec.prefix_tokens is not None else "model default",
            "grid_resampling": "bilinear, antialiased",
        },
        "versions": package_versions(),
    }


def write_shards(writer, manifest, spec, shards, grid, batch_size, device, autocast, num_workers, token_model):
    """Compute and write the missing shards among ``shards`` (indices) of ``writer``."""
    missing = writer.missing_shards(shards)
    if not missing:
        return
    paths, sha256s = manifest["path"].tolist(), manifest["sha256"].tolist()
    source = manifest_source(manifest)
    absent = [path for path in paths if not Path(path).is_file()]  # all at once, before the model loads
    if absent:
        more = f" (and {len(absent) - 1} more)" if len(absent) > 1 else ""
        raise UserError(f"{source}: image {absent[0]} is missing{more}; {MISSING_REMEDY}")
    device = pick_device(device)
    token_model = (token_model or load_token_model(spec)).to(device)
    sizes = {index: writer.shard_slice(index).stop - writer.shard_slice(index).start for index in shards}
    total = sum(sizes.values())
    progress = Progress(total, f"extract {spec.name}", unit="img", initial=total - sum(sizes[i] for i in missing))
    for index in missing:
        loader = torch.utils.data.DataLoader(
            ManifestImages(paths[writer.shard_slice(index)], sha256s[writer.shard_slice(index)], spec, source),
            batch_size=batch_size,
            num_workers=num_workers,
            pin_memory=device.type == "cuda",
        )
        batches = token_batches(token_model, loader, grid, device, autocast)
        acts_NTD, raw_moments, native_grid = extract_shard(batches, writer.stat_rows(index), progress)
        writer.write_shard(index, acts_NTD, raw_moments=raw_moments, native_grid=native_grid)
    progress.close()


def resampling_note(meta):
    """How a store's tokens were resampled from the model's own grid, in words (the factor per side), and whether
    they were upsampled (stored tokens then are blurred copies of fewer real ones): ``(text, upsampled)``, or None
    when not resampled or unknown."""
    native, grid = meta.get("native_grid"), meta.get("grid")
    if not native or not grid or list(native) == list(grid):
        return None
    factor = ((grid[0] * grid[1]) / (native[0] * native[1])) ** 0.5
    way = f"{factor:.3g}x upsampled" if factor > 1 else f"{1 / factor:.3g}x downsampled"
    text = f"{meta['model']}: its {native[0]}x{native[1]} token grid is resampled to {grid[0]}x{grid[1]} ({way})"
    return text, factor > 1


def extract_store(
    manifest,
    spec,
    out_dir,
    grid,
    batch_size=32,
    shard_images=128,
    dtype="float16",
    device="auto",
    autocast=True,
    num_workers=0,
    stat_images=1000,
    seed=0,
    token_model=None,
    stats_grid="raw",
    origin=None,
):
    """Extract one model's activations for every image of a manifest into a store.

    Resumable: whole shards already on disk are kept (a damaged one is redone), and the run restarts
    at the first missing one. Each shard is computed from the same images in the same batches, so a
    resumed store is byte-identical to an uninterrupted one on the same machine. Changed image files
    (the manifest's sha256), model spec, grid, batch size, autocast, dtype or statistics images start
    afresh. ``stats_grid`` only changes ``meta.json``, which is rewritten on every call.

    Parameters
    ----------
    manifest : pandas.DataFrame
        Split manifest (``image_id``, ``path``, ``sha256``, ...), in store order.
    spec : usae.models.loaders.ModelSpec
    out_dir : path
        Store folder.
    grid : int
        Side of the common token grid.
    stat_images, seed : int
        The standardisation statistics cover ``stat_images`` seeded random images.
    token_model : usae.models.loaders.TokenModel, optional
        An already loaded model (else loaded from ``spec`` when there is work to do).
    stats_grid : {"raw", "resampled"}
        "raw" (the official code's): statistics over the model's own token grid before resampling
        (e.g. DinoV2's 16 x 16); "resampled": over the stored tokens on the common grid.
    origin : dict, optional
        ``{"data", "split"}``: the data folder and split the manifest is of, recorded in ``meta.json`` and checked
        by every reader of the store against the folders it lies in (:func:`store_origin`).

    Returns
    -------
    dict
        The store's metadata.
    """
    writer = store_writer(manifest, spec, out_dir, grid, batch_size, shard_images, dtype, autocast, stat_images, seed)
    write_shards(
        writer, manifest, spec, range(writer.n_shards), grid, batch_size, device, autocast, num_workers, token_model
    )
    return writer.finalize(spec.name, (grid, grid), source=store_source(spec), stats_grid=stats_grid, origin=origin)


def store_origin(manifest_path):
    """What a store extracted from the cache's manifest ``<data>/<split>.csv`` records as its origin."""
    return {"data": Path(manifest_path).parent.name, "split": Path(manifest_path).stem}


PART_FORMAT = "usae-activations-part"


def extract_part(
    manifest,
    spec,
    part_dir,
    part,
    parts,
    grid,
    batch_size=32,
    shard_images=128,
    dtype="float16",
    device="auto",
    autocast=True,
    num_workers=0,
    stat_images=1000,
    seed=0,
    token_model=None,
):
    """Extract part ``part`` of ``parts`` of a store: the shards of :func:`usae.activations.store.part_shards`.

    The part folder holds those shards and their sidecars exactly as a whole extraction writes them,
    and ``part.json`` (written last: the part is complete) with its shard range and the store's plan.
    Resumable like :func:`extract_store`. :func:`merge_parts` makes the store.

    Returns
    -------
    dict
        The contents of ``part.json``.
    """
    writer = store_writer(manifest, spec, part_dir, grid, batch_size, shard_images, dtype, autocast, stat_images, seed)
    shards = part_shards(writer.n_shards, part, parts)
    (Path(part_dir) / "part.json").unlink(missing_ok=True)
    write_shards(writer, manifest, spec, shards, grid, batch_size, device, autocast, num_workers, token_model)
    record = {
        "format": PART_FORMAT,
        "part": part,
        "parts": parts,
        "shards": [shards.start, shards.stop],
        "plan": writer.plan,
    }
    write_json(Path(part_dir) / "part.json", record)
    return record


def merge_parts(
    manifest,
    spec,
    part_dirs,
    out_dir,
    grid,
    batch_size=32,
    shard_images=128,
    dtype="float16",
    autocast=True,
    stat_images=1000,
    seed=0,
    stats_grid="raw",
    remove_parts=True,
    origin=None,
):
    """Assemble a store from the part folders of :func:`extract_part`; return its metadata.

    The shards and sidecars are hard-linked (copied where links fail) into ``out_dir``, and
    ``meta.json`` is computed as :func:`extract_store` computes it, with the raw-grid moments merged in
    shard order: the store's bytes equal a one-part extraction's. The part folders are then deleted
    (``remove_parts``). ``origin``: as :func:`extract_store`'s.

    Raises
    ------
    usae.activations.store.StoreError
        A part is incomplete, was extracted with other settings, or the parts do not cover every shard once.
    """
    writer = store_writer(manifest, spec, out_dir, grid, batch_size, shard_images, dtype, autocast, stat_images, seed)
    plan = json.loads(json.dumps(writer.plan))
    covered = []
    for part_dir in map(Path, part_dirs):
        record_path = part_dir / "part.json"
        if not record_path.exists():
            raise StoreError(f"{record_path}: part missing or incomplete (no part.json)")
        record = read_json_object(record_path, {"shards": list}, StoreError)
        if record.get("format") != PART_FORMAT or record.get("plan") != plan:
            raise StoreError(f"{record_path}: extracted with other settings than the store (plan differs)")
        if len(record["shards"]) != 2 or not all(type(bound) is int for bound in record["shards"]):
            raise StoreError(f"{record_path}: 'shards' must be [start, stop] shard indices")
        shards = range(*record["shards"])
        missing = store_writer(
            manifest, spec, part_dir, grid, batch_size, shard_images, dtype, autocast, stat_images, seed
        ).missing_shards(shards)
        if missing:
            raise StoreError(f"{part_dir / shard_name(missing[0])}: missing or damaged in its part")
        for index in shards:
            writer.adopt_shard(index, part_dir)
        covered.extend(shards)
    if sorted(covered) != list(range(writer.n_shards)):
        raise StoreError(f"{out_dir}: the parts cover shards {sorted(covered)}, the store has {writer.n_shards}")
    meta = writer.finalize(spec.name, (grid, grid), source=store_source(spec), stats_grid=stats_grid, origin=origin)
    if remove_parts:
        for part_dir in map(Path, part_dirs):
            shutil.rmtree(part_dir, ignore_errors=True)
            with contextlib.suppress(OSError):
                part_dir.parent.rmdir()  # the parts/ folder, once empty
    return meta
