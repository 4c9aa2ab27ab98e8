"""Split manifests: the deterministic list of a split's images with their checksums.

A manifest is a CSV with columns ``image_id, path, label, name, sha256`` sorted by ``image_id``: ``label`` is
the image's class (what label coherence counts, "" for none) and ``name`` a finer caption (:mod:`usae.data.labels`).
Unreadable images go to a rejects CSV (``image_id, path, reason``) and are skipped.

An image inside the data cache (the folder above the manifest's: every data folder and the packages'
photographs) is recorded relative to the manifest's folder, so that a cache copied or mounted elsewhere still
finds its images; an image elsewhere (a dataset folder of the user's) by its absolute path. :func:`read_manifest`
gives every path as one to open from the working directory.
"""

import os
import posixpath
from pathlib import Path

import numpy as np
import pandas as pd

from usae.errors import ImageError, UserError
from usae.io import check_json_seal, file_sha256, read_image, read_json_object, seal_json, write_csv, write_json
from usae.layout import manifest_seal
from usae.progress import Progress

MANIFEST_COLUMNS = ["image_id", "path", "label", "name", "sha256"]


def image_problem(path):
    """Return why an image cannot be used (a short reason), or None if it decodes."""
    try:
        image = read_image(path)
    except ImageError as error:
        return error.reason
    return "empty image" if min(image.size) < 1 else None


def subsample(records, max_images, seed):
    """Keep a seeded random subset of at most ``max_images`` records (all if None)."""
    if max_images is None or len(records) <= max_images:
        return list(records)
    keep = np.random.default_rng(seed).choice(len(records), size=max_images, replace=False)
    return [records[i] for i in sorted(keep.tolist())]


def outside_problem(path, root):
    """Why ``path`` may not be read as part of the dataset folder ``root`` (it resolves outside it), or None."""
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(Path(root).resolve()):
        return f"a link to '{resolved}', outside the dataset folder '{root}'"
    return None


def build_manifest(records, max_images=None, seed=0, source="dataset", root=None):
    """Check, checksum and order a split's images.

    Parameters
    ----------
    records : list of (image_id, path, label, name)
    max_images : int or None
        Seeded sub-sampling before checking.
    seed : int
    source : str
        The dataset's config key, for messages.
    root : path, optional
        The dataset folder of a folder source: a file that resolves outside it (through a symlink) is
        rejected, not read.

    Returns
    -------
    manifest : pandas.DataFrame
        Columns ``MANIFEST_COLUMNS``, sorted by ``image_id``.
    rejects : pandas.DataFrame
        Columns ``image_id, path, reason``.
    """
    first_path = {}
    for image_id, path, *_ in records:
        if image_id in first_path:
            raise UserError(f"{source}: image id '{image_id}' names two files, {first_path[image_id]} and {path}")
        first_path[image_id] = path
    kept, rejected = [], []
    chosen = sorted(subsample(records, max_images, seed))
    with Progress(len(chosen), "check and hash images", unit="img") as progress:
        for image_id, path, label, name in chosen:
            reason = (root and outside_problem(path, root)) or image_problem(path)
            if reason:
                rejected.append((image_id, path, reason))
            else:
                kept.append((image_id, path, label, name, file_sha256(path)))
            progress.update()
    return (
        pd.DataFrame(kept, columns=MANIFEST_COLUMNS),
        pd.DataFrame(rejected, columns=["image_id", "path", "reason"]),
    )


def recorded_paths(paths, manifest_dir):
    """The ``path`` column a manifest in ``manifest_dir`` records for image files ``paths`` (see the module)."""
    folder = Path(manifest_dir).resolve()
    cache = folder.parent
    recorded = []
    for path in paths:
        resolved = Path(path).resolve()
        inside = resolved.is_relative_to(cache)
        recorded.append(Path(os.path.relpath(resolved, folder)).as_posix() if inside else resolved.as_posix())
    return recorded


def write_manifest(frame, path):
    """Write a manifest CSV, then its seal (:func:`usae.layout.manifest_seal`: its rows and the sha256 of its
    bytes, as a sealed JSON), each atomically: a manifest cut short or edited afterwards is refused."""
    write_csv(frame, path)
    write_json(manifest_seal(path), seal_json({"rows": len(frame), "file_sha256": file_sha256(path)}))


def read_manifest(path):
    """Read a manifest CSV (labels as strings), checked: its columns, one row per image id, a sha256 per image.

    Its image paths come back as paths to open from the working directory (a relative one is relative to the
    manifest's folder: :func:`recorded_paths`). The frame's ``attrs["source"]`` is ``path``, for messages about
    its images.

    Raises
    ------
    usae.errors.UserError
        One line naming the file: missing, not a CSV, other columns, a repeated image id, a sha256 that is not
        64 hex digits (a file cut short or edited), or no seal, or one that records other rows or bytes
        (:func:`write_manifest`).
    """
    redo = "remove it to fetch it again"
    try:
        frame = pd.read_csv(
            path, dtype=dict.fromkeys(["image_id", "label", "name", "sha256"], str), keep_default_na=False
        )
    except FileNotFoundError:
        raise UserError(f"{path}: missing; run 'usae fetch' first") from None
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"{path}: not a manifest CSV ({type(exc).__name__}); {redo}") from None
    if list(frame.columns) != MANIFEST_COLUMNS:
        columns = ", ".join(map(str, frame.columns))
        raise UserError(f"{path}: columns {columns}, not a manifest's {', '.join(MANIFEST_COLUMNS)}; {redo}")
    bad = ~frame["sha256"].astype(str).str.fullmatch(r"[0-9a-f]{64}")
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise UserError(f"{path}: row {row + 1} has no sha256 of 64 hex digits (cut short or edited); {redo}")
    repeated = frame["image_id"][frame["image_id"].duplicated()]
    if len(repeated):
        raise UserError(f"{path}: image id '{repeated.iloc[0]}' is listed twice; {redo}")
    check_manifest_seal(path, len(frame), redo)
    folder = posixpath.dirname(Path(path).as_posix())
    frame["path"] = [p if posixpath.isabs(p) else posixpath.normpath(posixpath.join(folder, p)) for p in frame["path"]]
    frame.attrs["source"] = str(path)
    return frame


def check_manifest_seal(path, rows, redo):
    """Raise UserError unless the manifest's seal is there, whole, and records its rows and bytes."""
    seal = Path(manifest_seal(path))
    if not seal.is_file():
        raise UserError(f"{path}: no seal {seal.name} beside it (not written by 'usae fetch', or cut short); {redo}")
    record = read_json_object(seal, {"rows": int, "file_sha256": str}, UserError)
    check_json_seal(seal, record, UserError)
    if record["rows"] != rows or record["file_sha256"] != file_sha256(path):
        raise UserError(f"{path}: changed since it was written (not the rows and bytes {seal.name} records); {redo}")


# What to do about an image missing from the cache, in every message that says so.
MISSING_REMEDY = "fetch again, or point data: at its cache"


def manifest_source(manifest):
    """The file a :func:`read_manifest` frame came from, for messages about its images."""
    return manifest.attrs.get("source", "the manifest")


def checked_image(path, sha256, source):
    """The image at ``path``, refused in one line if it is missing or its bytes are not those its manifest
    (``source``, for the message) recorded at the fetch (``sha256``)."""
    if not Path(path).is_file():
        raise UserError(f"{path}: missing (listed in {source}); {MISSING_REMEDY}")
    if file_sha256(path) != sha256:
        raise UserError(f"{path}: changed since it was fetched (its sha256 is not the one {source} records)")
    return read_image(path)


def manifest_image(manifest, index):
    """Image ``index`` (row, store order) of a :func:`read_manifest` frame, checked (:func:`checked_image`)."""
    return checked_image(manifest["path"].iloc[index], manifest["sha256"].iloc[index], manifest_source(manifest))


def split_labels(path, image_ids):
    """The labels of a manifest's images in the order of ``image_ids`` (a store's).

    Raises
    ------
    usae.errors.UserError
        An image id of the store is not in the manifest (one line naming it).
    """
    frame = read_manifest(path).set_index("image_id")
    missing = [image_id for image_id in image_ids if image_id not in frame.index]
    if missing:
        raise UserError(f"{path}: no row for image '{missing[0]}' of the store; fetch and extract again")
    return frame.loc[list(image_ids), "label"].tolist()
