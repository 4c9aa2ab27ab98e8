"""Sharded on-disk activation store, readable by memory map.

Layout of one store (one dataset split, one model)::

    <store>/plan.json         what is being written (lets an interrupted write resume safely)
    <store>/shard_00000.npy   NumPy .npy arrays of shape (images_in_shard, T, D)
    <store>/shard_00001.npy   every shard but the last holds exactly ``shard_images`` images
    <store>/shard_00000.json  written after its shard: its shape, its sha256 (``shard_sha256``) and its
                              images' part of the raw-grid statistics, sealed (a resume keeps only shards
                              that match theirs)
    <store>/meta.json         written last: its presence means the store is complete

``meta.json`` holds: ``format`` ("usae-activations"), ``version`` (1), ``model``, ``n_images``,
``tokens`` (T), ``dim`` (D), ``grid`` ([H, W] or null), ``dtype``, ``shard_images``, ``shards``
(file names in order), ``image_ids`` (in store order), ``stats`` (``mean``, ``std``: one scalar each
over every token and channel of ``stats.images`` random images, seed ``stats.seed``, std unbiased as
``torch.std``; ``stats.grid``: "raw" = the model's own token grid before resampling, as the official
code computes them, or "resampled" = the stored tokens), and free-form ``source`` (model spec,
preprocessing, package versions). Any program that writes the shards and ``meta.json`` writes a
valid store. usae also writes ``shard_sha256`` (each shard file's sha256, in order) and ``sha256``, the
seal of the other keys (:func:`usae.io.seal_json`); a reader checks them when present, so a damaged
file is refused, never read as other numbers (:func:`read_meta`, :meth:`ActivationStore.shard`).

A store may be written in parts (``extract.parts``): each part is a range of whole shards
(:func:`part_shards`) written by its own :class:`StoreWriter` into ``<store>/parts/<i>/``, and
:meth:`StoreWriter.adopt_shard` links the parts' shards and sidecars into the store before
:meth:`StoreWriter.finalize`, which merges the per-shard moments in shard order as for a store
written in one go (see :func:`usae.activations.extraction.merge_parts`).
"""

import hashlib
import json
import logging
import math
import os
import shutil
import tokenize
from collections import Counter
from pathlib import Path

import numpy as np

from usae.errors import StoreError, first_line
from usae.io import (
    SEAL,
    atomic_path,
    check_json_seal,
    check_keys,
    file_sha256,
    is_plain_name,
    read_json_object,
    seal_json,
    write_json,
)

log = logging.getLogger(__name__)

FORMAT = "usae-activations"
VERSION = 1
# Keys of meta.json every store has, with their JSON types.
META_KEYS = {
    "format": str,
    "version": int,
    "model": str,
    "n_images": int,
    "tokens": int,
    "dim": int,
    "grid": (list, type(None)),
    "dtype": str,
    "shard_images": int,
    "shards": list,
    "image_ids": list,
    "stats": dict,
}
# Keys of a shard's sidecar (only usae writes them: always sealed), with their JSON types.
SIDECAR_KEYS = {"shape": list, "shard_sha256": str, SEAL: str}
# What np.load raises on a damaged .npy header (its parser evaluates the header as a Python literal).
NPY_ERRORS = (OSError, ValueError, EOFError, TypeError, SyntaxError, tokenize.TokenError)
NPY_MAGIC = b"\x93NUMPY"
# Shard dtypes a store may have.
FLOAT_DTYPES = ("float16", "float32", "float64")


def shard_name(index):
    return f"shard_{index:05d}.npy"


def sidecar_name(index):
    """File name of shard ``index``'s sidecar."""
    return f"shard_{index:05d}.json"


def ids_digest(image_ids):
    """Short digest of an ordered list of strings (image ids, or ids with their file hashes)."""
    return hashlib.sha256("\n".join(image_ids).encode()).hexdigest()[:16]


def open_npy(path, what):
    """Memory map of a .npy file; StoreError naming it if it is missing, damaged or no .npy (a pickle, an .npz).

    Nothing is unpickled: an object array is refused (``allow_pickle=False``).
    """
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(NPY_MAGIC))
    except FileNotFoundError:
        raise StoreError(f"{path}: missing") from None
    except OSError as exc:
        raise StoreError(f"{path}: unreadable {what} ({first_line(exc)})") from None
    if magic != NPY_MAGIC:
        raise StoreError(f"{path}: not a .npy file, refused (nothing is unpickled)")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except NPY_ERRORS as exc:
        raise StoreError(f"{path}: unreadable {what} ({first_line(exc)})") from None


def model_name_problem(model):
    """Why ``model`` cannot name a model (its stores and outputs are folders named after it), or None."""
    if is_plain_name(model):
        return None
    return f"model name {model!r} must be a plain name (not empty, '.' or '..', no '/' or '\\')"


def _finite(value):
    """Whether a JSON value is a finite number."""
    return isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and math.isfinite(value)


def meta_problem(meta):
    """What is out of range or inconsistent in a store's metadata (its :data:`META_KEYS` well typed), or None."""
    n, per_shard, ids, shards, grid = (meta[key] for key in ("n_images", "shard_images", "image_ids", "shards", "grid"))
    small = [key for key in ("n_images", "tokens", "dim", "shard_images") if meta[key] < 1]
    stats = [meta["stats"].get(key) for key in ("mean", "std")]
    digests = meta.get("shard_sha256", [""] * len(shards))
    if meta["version"] != VERSION:
        return f"version {meta['version']}, this usae reads version {VERSION}"
    if small:
        return f"'{small[0]}' is {meta[small[0]]}, must be at least 1"
    if len(ids) != n or not all(isinstance(image_id, str) for image_id in ids) or len(set(ids)) != n:
        return f"image_ids must be n_images = {n} distinct strings, got {len(ids)} ids"
    if len(shards) != -(-n // per_shard) or not all(map(is_plain_name, shards)):
        return f"shards must name {-(-n // per_shard)} files of the store ({n} images, {per_shard} a shard)"
    if grid is not None and (
        len(grid) != 2
        or not all(type(side) is int and side > 0 for side in grid)
        or grid[0] * grid[1] != meta["tokens"]
    ):
        return f"grid {grid} does not hold the {meta['tokens']} tokens per image"
    if meta["dtype"] not in FLOAT_DTYPES:
        return f"dtype {meta['dtype']!r} is not one of {', '.join(FLOAT_DTYPES)}"
    if not all(map(_finite, stats)) or stats[1] < 0:
        return f"stats.mean and stats.std must be finite numbers, std >= 0, got {stats[0]!r} and {stats[1]!r}"
    if not isinstance(digests, list) or len(digests) != len(shards) or not all(isinstance(x, str) for x in digests):
        return "shard_sha256 must list one sha256 per shard"
    origin = meta.get("origin")
    if origin is not None and not (
        isinstance(origin, dict) and set(origin) == {"data", "split"} and all(map(is_plain_name, origin.values()))
    ):
        return f"origin must be null or {{data, split}}, two plain names, got {origin!r}"
    return model_name_problem(meta["model"])


def read_meta(meta_path):
    """A store's ``meta.json``, checked (seal, keys, types, ranges, consistency); StoreError naming the file and key."""
    if not Path(meta_path).exists():
        raise StoreError(f"{meta_path}: activation store missing or incomplete (no meta.json)")
    meta = read_json_object(meta_path, error=StoreError)
    if meta.get("format") != FORMAT:
        raise StoreError(f"{meta_path}: not a usae activation store (format {meta.get('format')!r})")
    check_json_seal(meta_path, meta, StoreError)
    check_keys(meta_path, meta, META_KEYS, StoreError)
    problem = meta_problem(meta)
    if problem:
        raise StoreError(f"{meta_path}: {problem}")
    return meta


def part_shards(n_shards, part, parts):
    """Shards ``range(start, stop)`` of part ``part`` (0-based) of ``parts``: consecutive, as even as can be.

    Parts are ranges of whole shards, so every shard is computed from the same images in the same
    batches whatever the number of parts; parts beyond the number of shards are empty.
    """
    if not 0 <= part < parts:
        raise ValueError(f"part {part} of {parts}: expected 0 <= part < parts")
    return range(part * n_shards // parts, (part + 1) * n_shards // parts)


def stat_indices(n_images, stat_images, seed):
    """Sorted indices of the ``min(stat_images, n_images)`` seeded random images behind the statistics."""
    count = min(stat_images, n_images)
    return np.sort(np.random.default_rng(seed).choice(n_images, size=count, replace=False))


class Moments:
    """Count, mean and sum of squared deviations of a stream of values (merged as Chan et al.).

    Parameters
    ----------
    count, mean, m2 : float
    """

    def __init__(self, count=0, mean=0.0, m2=0.0):
        self.count, self.mean, self.m2 = count, mean, m2

    def add(self, values):
        """Include every element of an array (in float64)."""
        values = np.asarray(values, dtype=np.float64)
        if values.size:
            mean = float(values.mean())
            self.merge(Moments(values.size, mean, float(np.square(values - mean).sum())))

    def merge(self, other):
        """Include another stream's moments."""
        count = self.count + other.count
        if count:
            delta = other.mean - self.mean
            self.mean += delta * other.count / count
            self.m2 += other.m2 + delta * delta * self.count * other.count / count
            self.count = count

    @property
    def std(self):
        """Unbiased standard deviation (``ddof=1``, as ``torch.std``)."""
        return float(np.sqrt(self.m2 / (self.count - 1)))

    def as_json(self):
        """``{"count", "mean", "m2"}``."""
        return {"count": self.count, "mean": self.mean, "m2": self.m2}


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
        Anything else that must match for a resume to be valid (model spec, grid, image hashes, ...).
    stat_images, seed : int
        The statistics cover the ``stat_images`` images of :func:`stat_indices`.
    """

    def __init__(self, path, image_ids, shard_images, dtype, plan_extra=None, stat_images=1000, seed=0):
        self.path = Path(path)
        blocking = next((folder for folder in (self.path, *self.path.parents) if folder.exists()), None)
        if blocking is not None and not blocking.is_dir():
            raise StoreError(f"{self.path}: cannot be a store folder ({blocking} is a file)")
        self.image_ids = list(image_ids)
        if not self.image_ids:
            raise StoreError(f"{self.path}: no images to write")
        self.shard_images = shard_images
        self.dtype = np.dtype(dtype)
        if self.dtype.name not in FLOAT_DTYPES:
            raise StoreError(f"{self.path}: dtype {self.dtype}, expected one of {', '.join(FLOAT_DTYPES)}")
        self.n_shards = -(-len(self.image_ids) // shard_images)
        self.seed = seed
        self.stat_index = stat_indices(len(self.image_ids), stat_images, seed)
        self.plan = {
            "ids": ids_digest(self.image_ids),
            "n_images": len(self.image_ids),
            "shard_images": shard_images,
            "dtype": self.dtype.name,
            "stat_images": stat_images,
            "seed": seed,
            **(plan_extra or {}),
        }
        self._start_or_resume()

    def _start_or_resume(self):
        plan_path = self.path / "plan.json"
        plan = json.loads(json.dumps(self.plan))
        try:
            old = read_json_object(plan_path, error=StoreError) if plan_path.exists() else None
        except StoreError as exc:  # only a resume aid: start afresh
            log.info("%s; writing the store afresh", exc)
            old = None
        if old == plan:
            return
        if old is not None:
            changed = sorted(key for key in old.keys() | plan.keys() if old.get(key) != plan.get(key))
            log.info(
                "%s: %s changed since the last extraction; writing the store afresh", self.path, ", ".join(changed)
            )
        for stale in [*self.path.glob("shard_*.npy"), *self.path.glob("shard_*.json"), self.path / "meta.json"]:
            stale.unlink(missing_ok=True)
        write_json(plan_path, self.plan)

    def shard_slice(self, index):
        """Image index range ``slice(start, stop)`` of shard ``index``."""
        start = index * self.shard_images
        return slice(start, min(start + self.shard_images, len(self.image_ids)))

    def stat_rows(self, index):
        """Rows of shard ``index`` (counted within the shard) that are statistics images."""
        part = self.shard_slice(index)
        return self.stat_index[(self.stat_index >= part.start) & (self.stat_index < part.stop)] - part.start

    def missing_shards(self, indices=None):
        """Indices of shards to (re)write: absent, damaged, or with other (T, D) than most shards.

        An interrupted run restarts at the first.

        Parameters
        ----------
        indices : iterable of int, optional
            Look only at these shards (a part of the store, see :func:`part_shards`); default all.
        """
        indices = list(range(self.n_shards) if indices is None else indices)
        shapes = [self._checked_shape(index) for index in indices]
        common = Counter(shape[1:] for shape in shapes if shape).most_common(1)
        return [index for index, shape in zip(indices, shapes) if shape is None or shape[1:] != common[0][0]]

    def adopt_shard(self, index, folder):
        """Take shard ``index`` and its sidecar from another writer's ``folder`` (same plan).

        Hard links (no copy, so the store's bytes are the part's bytes) where the file system allows,
        else copies; each file arrives by one rename, the sidecar after its shard.
        """
        for name in (shard_name(index), sidecar_name(index)):
            with atomic_path(self.path / name) as tmp:
                tmp.unlink()
                try:
                    os.link(Path(folder) / name, tmp)
                except OSError:
                    shutil.copyfile(Path(folder) / name, tmp)

    def read_sidecar(self, index):
        """Shard ``index``'s sidecar, checked (seal, keys); StoreError naming it."""
        path = self.path / sidecar_name(index)
        sidecar = read_json_object(path, SIDECAR_KEYS, StoreError)
        check_json_seal(path, sidecar, StoreError)
        return sidecar

    def _checked_shape(self, index):
        """Shape of shard ``index`` if its .npy is whole and fits its sidecar (shape, sha256) and plan, else None."""
        path = self.path / shard_name(index)
        part = self.shard_slice(index)
        try:
            sidecar = self.read_sidecar(index)
            array = open_npy(path, "shard")
        except StoreError:
            return None
        whole = array.offset + array.nbytes == path.stat().st_size and array.dtype == self.dtype
        shape_ok = array.ndim == 3 and list(array.shape) == sidecar["shape"] and len(array) == part.stop - part.start
        if not (whole and shape_ok):
            return None
        return array.shape if file_sha256(path) == sidecar["shard_sha256"] else None

    def write_shard(self, index, acts_NTD, raw_moments=None, native_grid=None):
        """Write shard ``index`` atomically from an ``(n, T, D)`` array, then its sidecar.

        Parameters
        ----------
        raw_moments : Moments, optional
            Moments of the shard's statistics images on the model's raw token grid.
        native_grid : (int, int), optional
            The model's own token grid (rows, columns) before resampling to the store's.
        """
        part = self.shard_slice(index)
        acts_NTD = np.asarray(acts_NTD)
        if acts_NTD.ndim != 3 or acts_NTD.shape[0] != part.stop - part.start:
            raise StoreError(
                f"{self.path}/{shard_name(index)}: expected ({part.stop - part.start}, T, D), got {acts_NTD.shape}"
            )
        (self.path / sidecar_name(index)).unlink(missing_ok=True)
        with atomic_path(self.path / shard_name(index)) as tmp:
            with open(tmp, "wb") as handle:
                np.save(handle, acts_NTD.astype(self.dtype, copy=False))
            sidecar = {"shape": list(acts_NTD.shape), "shard_sha256": file_sha256(tmp)}
        if raw_moments is not None:
            sidecar["raw_moments"] = raw_moments.as_json()
        if native_grid is not None:
            sidecar["native_grid"] = [int(side) for side in native_grid]
        write_json(self.path / sidecar_name(index), seal_json(sidecar))

    def finalize(self, model, grid, source=None, stats_grid="resampled", origin=None):
        """Compute standardisation statistics and write ``meta.json``; return the metadata dict.

        Parameters
        ----------
        origin : dict, optional
            ``{"data", "split"}`` the store was made from; its readers check it against the folders it lies in
            (``<data>/<split>/<store>``, the cache's layout). None: not recorded, not checked.
        stats_grid : {"raw", "resampled"}
            "raw": from the moments recorded with each shard (``write_shard(raw_moments=...)``);
            "resampled": from the stored tokens.
        """
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
            "native_grid": self._native_grid(),
            "dtype": self.dtype.name,
            "shard_images": self.shard_images,
            "shards": [shard_name(i) for i in range(self.n_shards)],
            "shard_sha256": [self.read_sidecar(i)["shard_sha256"] for i in range(self.n_shards)],
            "image_ids": self.image_ids,
            "source": source or {},
            "origin": origin,
        }
        if stats_grid == "raw":
            moments = self._raw_moments()
        else:
            moments = standardisation_moments(ActivationStore(self.path, meta=meta), self.stat_index)
        if not (np.isfinite(moments.mean) and np.isfinite(moments.m2)):
            raise StoreError(f"{self.path}: NaN or inf in activations")
        meta["stats"] = {
            "mean": moments.mean,
            "std": moments.std,
            "images": len(self.stat_index),
            "seed": self.seed,
            "grid": stats_grid,
        }
        meta = seal_json(meta)
        write_json(self.path / "meta.json", meta)
        return meta

    def _native_grid(self):
        """The model's own token grid that every shard recorded, or None (an imported store's: unknown)."""
        grids = {tuple(self.read_sidecar(i).get("native_grid") or ()) for i in range(self.n_shards)}
        if len(grids) > 1:
            raise StoreError(f"{self.path}: shards record different native grids {sorted(grids)}; extract it again")
        grid = grids.pop()
        return list(grid) if grid else None

    def _raw_moments(self):
        moments = Moments()
        for index in range(self.n_shards):
            recorded = self.read_sidecar(index).get("raw_moments")
            if recorded is None:
                raise StoreError(
                    f"{self.path / sidecar_name(index)}: no raw-grid statistics recorded (use stats_grid='resampled')"
                )
            moments.merge(Moments(**recorded))
        return moments


def standardisation_moments(store, image_indices):
    """Moments of every token and channel of the given images of a store (one scalar mean and std)."""
    moments = Moments()
    for shard_index in np.unique(image_indices // store.shard_images):
        local = image_indices[image_indices // store.shard_images == shard_index] - shard_index * store.shard_images
        moments.add(store.shard(shard_index)[local])
    return moments


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
        self.meta = read_meta(self.path / "meta.json") if meta is None else meta
        origin = self.meta.get("origin")
        if origin and [self.path.parent.parent.name, self.path.parent.name] != [origin["data"], origin["split"]]:
            raise StoreError(
                f"{self.path / 'meta.json'}: a store of {origin['data']}/{origin['split']}, not of the "
                f"{self.path.parent.parent.name}/{self.path.parent.name} its folders name; extract it again"
            )
        self.n_images = self.meta["n_images"]
        self.tokens = self.meta["tokens"]
        self.dim = self.meta["dim"]
        self.shard_images = self.meta["shard_images"]
        self.image_ids = self.meta["image_ids"]
        self.dtype = np.dtype(self.meta["dtype"])
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
        """Memory map of shard ``index``, shape ``(n, T, D)``.

        On first use its shape and dtype are checked against the metadata, and its bytes against their
        sha256 in ``shard_sha256`` (when recorded: one pass over the file).
        """
        if index not in self._shards:
            path = self.path / self.meta["shards"][index]
            array = open_npy(path, "shard")
            rows = min(self.shard_images, self.n_images - index * self.shard_images)
            if array.shape != (rows, self.tokens, self.dim):
                raise StoreError(f"{path}: shape {array.shape}, metadata says ({rows}, {self.tokens}, {self.dim})")
            if array.dtype != self.dtype:
                raise StoreError(f"{path}: dtype {array.dtype}, metadata says {self.dtype}")
            if "shard_sha256" in self.meta and file_sha256(path) != self.meta["shard_sha256"][index]:
                raise StoreError(f"{path}: damaged (its sha256 differs from the one {self.path / 'meta.json'} records)")
            self._shards[index] = array
        return self._shards[index]

    def images(self, start, stop):
        """Activations of images ``start:stop`` as an in-memory array ``(n, T, D)``."""
        parts = []
        for shard_index in range(start // self.shard_images, -(-stop // self.shard_images)):
            offset = shard_index * self.shard_images
            parts.append(self.shard(shard_index)[max(start - offset, 0) : stop - offset])
        return np.concatenate(parts) if len(parts) > 1 else np.array(parts[0])


def write_store(
    path,
    acts_NTD,
    image_ids,
    model,
    grid=None,
    shard_images=1024,
    dtype="float16",
    stat_images=1000,
    seed=0,
    source=None,
):
    """Write user-supplied activations ``(N, T, D)`` as a store (bring your own activations).

    Parameters
    ----------
    path : path
        Store folder to create.
    acts_NTD : array-like
        Patch tokens of N images, T tokens each (same positions across models), D channels, of a real
        numeric dtype. A NumPy memmap works: it is read one shard at a time.
    image_ids : list of str
        One distinct id per image, in order; must match the other models' stores of the experiment.
    model : str
        Model name: a plain name (not empty, '.' or '..', no path separator).
    grid : (int, int) or None
        Token grid; inferred when T is a perfect square.

    Returns
    -------
    dict
        The store's metadata. Its statistics are over the given tokens (``stats.grid`` "resampled"):
        an imported store has no raw grid.

    Raises
    ------
    StoreError
        Before anything is written, for any of the above not met, or a ``path`` that is (or lies under) a file.
    """
    acts_NTD = np.asanyarray(acts_NTD)
    if acts_NTD.ndim != 3 or 0 in acts_NTD.shape:
        raise StoreError(f"{path}: activations must be (N, T, D), got shape {acts_NTD.shape}")
    if acts_NTD.dtype.kind not in "iuf":
        raise StoreError(f"{path}: activations need a real numeric dtype, got {acts_NTD.dtype}")
    check_image_ids(path, image_ids, len(acts_NTD))
    problem = model_name_problem(model)
    if problem:
        raise StoreError(f"{path}: {problem}")
    tokens = acts_NTD.shape[1]
    side = int(round(tokens**0.5))
    grid = grid or ((side, side) if side * side == tokens else None)
    if grid is not None and grid[0] * grid[1] != tokens:
        raise StoreError(f"{path}: grid {grid[0]} x {grid[1]} does not hold the {tokens} tokens per image")
    if shard_images < 1 or stat_images < 1:
        raise StoreError(f"{path}: shard_images and stat_images must be at least 1")
    writer = StoreWriter(
        path,
        image_ids,
        shard_images,
        dtype,
        plan_extra={"model": model, "imported": True},
        stat_images=stat_images,
        seed=seed,
    )
    for index in writer.missing_shards():
        writer.write_shard(index, acts_NTD[writer.shard_slice(index)])
    return writer.finalize(model, grid, source=source, stats_grid="resampled")


def check_image_ids(path, image_ids, n_images):
    """Refuse image ids that are not ``n_images`` distinct strings, naming the store ``path`` (and a duplicate)."""
    if len(image_ids) != n_images:
        raise StoreError(f"{path}: {len(image_ids)} image ids for {n_images} images")
    if not all(isinstance(image_id, str) for image_id in image_ids):
        raise StoreError(f"{path}: image ids must be strings")
    repeated = [(image_id, count) for image_id, count in Counter(image_ids).items() if count > 1]
    if repeated:
        raise StoreError(f"{path}: image id {repeated[0][0]!r} appears {repeated[0][1]} times (ids must be distinct)")


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
