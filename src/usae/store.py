"""Sharded on-disk activation store, readable by memory map.

Layout of one store (one dataset split, one model)::

    <store>/plan.json         what is being written (lets an interrupted write resume safely)
    <store>/shard_00000.npy   NumPy .npy arrays of shape (images_in_shard, T, D)
    <store>/shard_00001.npy   every shard but the last holds exactly ``shard_images`` images
    <store>/meta.json         written last: its presence means the store is complete

``meta.json`` holds: ``format`` ("usae-activations"), ``version`` (1), ``model``, ``n_images``,
``tokens`` (T), ``dim`` (D), ``grid`` ([H, W] or null), ``dtype``, ``shard_images``, ``shards``
(file names in order), ``image_ids`` (in store order), ``stats`` (``mean``, ``std``: one scalar each
over every token and channel of ``stats.images`` random images, seed ``stats.seed``), and free-form
``source`` (model spec, preprocessing, package versions). Any program that writes these files
writes a valid store.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

from usae.io import atomic_path, read_json, write_json

FORMAT = "usae-activations"
VERSION = 1


class StoreError(ValueError):
    """A store is missing, incomplete, corrupt or does not match its peers."""


def shard_name(index):
    """File name of shard ``index``."""
    return f"shard_{index:05d}.npy"


def ids_digest(image_ids):
    """Short digest of an ordered list of image ids."""
    return hashlib.sha256("\n".join(image_ids).encode()).hexdigest()[:16]


class StoreWriter:
    """Write a store shard by shard, resuming after an interruption.

    Parameters
    ----------
    path : path
        Store folder.
    image_ids : list of str
        Images in store order.
    shard_images : int
        Images per shard.
    dtype : {"float16", "float32"}
    plan_extra : dict
        Anything that must match for a resume to be valid (model spec, grid, ...).
    """

    def __init__(self, path, image_ids, shard_images, dtype, plan_extra=None):
        self.path = Path(path)
        self.image_ids = list(image_ids)
        if not self.image_ids:
            raise StoreError(f"{self.path}: no images to write")
        self.shard_images = shard_images
        self.dtype = np.dtype(dtype)
        self.n_shards = -(-len(self.image_ids) // shard_images)
        self.plan = {
            "ids": ids_digest(self.image_ids),
            "n_images": len(self.image_ids),
            "shard_images": shard_images,
            "dtype": self.dtype.name,
            **(plan_extra or {}),
        }
        self._start_or_resume()

    def _start_or_resume(self):
        plan_path = self.path / "plan.json"
        if plan_path.exists() and read_json(plan_path) == json.loads(json.dumps(self.plan)):
            return
        for stale in [*self.path.glob("shard_*.npy"), self.path / "meta.json"]:
            stale.unlink(missing_ok=True)
        write_json(plan_path, self.plan)

    def shard_slice(self, index):
        """Image index range ``slice(start, stop)`` of shard ``index``."""
        start = index * self.shard_images
        return slice(start, min(start + self.shard_images, len(self.image_ids)))

    def missing_shards(self):
        """Indices of shards not yet written (an interrupted run restarts at the first)."""
        return [i for i in range(self.n_shards) if not (self.path / shard_name(i)).exists()]

    def write_shard(self, index, acts_NTD):
        """Write shard ``index`` atomically from an ``(n, T, D)`` array."""
        part = self.shard_slice(index)
        acts_NTD = np.asarray(acts_NTD)
        if acts_NTD.ndim != 3 or acts_NTD.shape[0] != part.stop - part.start:
            raise StoreError(
                f"{self.path}/{shard_name(index)}: expected ({part.stop - part.start}, T, D), got {acts_NTD.shape}"
            )
        with atomic_path(self.path / shard_name(index)) as tmp:
            with open(tmp, "wb") as handle:
                np.save(handle, acts_NTD.astype(self.dtype, copy=False))

    def finalize(self, model, grid, stat_images, seed, source=None):
        """Compute standardisation statistics and write ``meta.json``; return the metadata dict."""
        missing = self.missing_shards()
        if missing:
            raise StoreError(f"{self.path}: shard {shard_name(missing[0])} was never written")
        first = np.load(self.path / shard_name(0), mmap_mode="r")
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "model": model,
            "n_images": len(self.image_ids),
            "tokens": int(first.shape[1]),
            "dim": int(first.shape[2]),
            "grid": list(grid) if grid else None,
            "dtype": self.dtype.name,
            "shard_images": self.shard_images,
            "shards": [shard_name(i) for i in range(self.n_shards)],
            "image_ids": self.image_ids,
            "source": source or {},
        }
        meta["stats"] = standardisation_stats(ActivationStore(self.path, meta=meta), stat_images, seed)
        write_json(self.path / "meta.json", meta)
        return meta


def standardisation_stats(store, stat_images, seed):
    """One scalar mean and std over all tokens and channels of ``stat_images`` random images.

    Returns
    -------
    dict
        ``{"mean", "std", "images", "seed"}``.
    """
    count = min(stat_images, store.n_images)
    chosen = np.sort(np.random.default_rng(seed).choice(store.n_images, size=count, replace=False))
    total = total_sq = 0.0
    n_values = 0
    for shard_index in np.unique(chosen // store.shard_images):
        local = chosen[chosen // store.shard_images == shard_index] - shard_index * store.shard_images
        values = np.asarray(store.shard(shard_index)[local], dtype=np.float64)
        total += values.sum()
        total_sq += np.square(values).sum()
        n_values += values.size
    if not np.isfinite(total_sq):
        raise StoreError(f"{store.path}: NaN or inf in activations")
    mean = total / n_values
    std = float(np.sqrt(max(total_sq / n_values - mean * mean, 0.0)))
    return {"mean": float(mean), "std": std, "images": int(count), "seed": int(seed)}


class ActivationStore:
    """Read a complete store through memory maps; nothing is loaded until asked for.

    Parameters
    ----------
    path : path
        Store folder containing ``meta.json``.
    meta : dict, optional
        Metadata to use instead of reading ``meta.json`` (used while finalising).
    """

    def __init__(self, path, meta=None):
        self.path = Path(path)
        if meta is None:
            meta_path = self.path / "meta.json"
            if not meta_path.exists():
                raise StoreError(f"{meta_path}: activation store missing or incomplete (no meta.json)")
            meta = read_json(meta_path)
            if meta.get("format") != FORMAT:
                raise StoreError(f"{meta_path}: not a usae activation store (format {meta.get('format')!r})")
        self.meta = meta
        self.n_images = meta["n_images"]
        self.tokens = meta["tokens"]
        self.dim = meta["dim"]
        self.shard_images = meta["shard_images"]
        self.image_ids = meta["image_ids"]
        self._shards = {}

    @property
    def model(self):
        """Name of the model whose activations these are."""
        return self.meta["model"]

    @property
    def mean(self):
        """Scalar standardisation mean."""
        return self.meta["stats"]["mean"]

    @property
    def std(self):
        """Scalar standardisation std."""
        return self.meta["stats"]["std"]

    def shard(self, index):
        """Memory map of shard ``index``, shape ``(n, T, D)``."""
        if index not in self._shards:
            path = self.path / self.meta["shards"][index]
            try:
                array = np.load(path, mmap_mode="r")
            except (OSError, ValueError) as exc:
                raise StoreError(f"{path}: unreadable shard ({exc})") from None
            if array.shape[1:] != (self.tokens, self.dim):
                raise StoreError(f"{path}: shape {array.shape}, metadata says (n, {self.tokens}, {self.dim})")
            self._shards[index] = array
        return self._shards[index]

    def images(self, start, stop):
        """Activations of images ``start:stop`` as an in-memory array ``(n, T, D)``."""
        parts = []
        for shard_index in range(start // self.shard_images, -(-stop // self.shard_images)):
            offset = shard_index * self.shard_images
            parts.append(self.shard(shard_index)[max(start - offset, 0) : stop - offset])
        return np.concatenate(parts) if len(parts) > 1 else np.array(parts[0])


def write_store(path, acts_NTD, image_ids, model, grid=None, shard_images=1024, dtype="float16",
                stat_images=1000, seed=0, source=None):
    """Write user-supplied activations ``(N, T, D)`` as a store (bring your own activations).

    Parameters
    ----------
    path : path
        Store folder to create.
    acts_NTD : array-like
        Patch tokens of N images, T tokens each (same positions across models), D channels.
        A NumPy memmap works: it is read one shard at a time.
    image_ids : list of str
        One id per image, in order; must match the other models' stores of the experiment.
    model : str
        Model name.
    grid : (int, int) or None
        Token grid; inferred when T is a perfect square.

    Returns
    -------
    dict
        The store's metadata.
    """
    if len(image_ids) != len(acts_NTD):
        raise StoreError(f"{path}: {len(image_ids)} image ids for {len(acts_NTD)} images")
    if np.ndim(acts_NTD) != 3:
        raise StoreError(f"{path}: activations must be (N, T, D), got shape {np.shape(acts_NTD)}")
    tokens = np.shape(acts_NTD)[1]
    side = int(round(tokens**0.5))
    grid = grid or ((side, side) if side * side == tokens else None)
    writer = StoreWriter(path, image_ids, shard_images, dtype, plan_extra={"model": model, "imported": True})
    for index in writer.missing_shards():
        writer.write_shard(index, acts_NTD[writer.shard_slice(index)])
    return writer.finalize(model, grid, stat_images, seed, source=source)


def check_aligned(stores):
    """Refuse stores of one experiment that do not cover the same images and token positions.

    Raises
    ------
    StoreError
        Naming the first store that differs from the first one.
    """
    reference = stores[0]
    for store in stores[1:]:
        if store.tokens != reference.tokens:
            raise StoreError(
                f"{store.path}: {store.tokens} tokens per image, but {reference.path} has {reference.tokens}"
            )
        if store.image_ids != reference.image_ids:
            raise StoreError(f"{store.path}: image ids differ from {reference.path} (same images, same order needed)")
