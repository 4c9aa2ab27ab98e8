"""Stage fetch: one split's manifest (image id, path, label, sha256) and its rejects list."""

import logging
from pathlib import Path

from usae.data.manifest import build_manifest, recorded_paths, write_manifest
from usae.data.sources import FOLDER_SOURCES, split_records
from usae.errors import DatasetError
from usae.io import write_csv

log = logging.getLogger(__name__)


def fetch(manifest, rejects, images, seal=None, *, dataset, key, split, seed, cache):
    """Build and write the manifest and rejects list of one split; return the manifest (its paths as given, the
    file's relative to the data cache where they lie in it: :func:`usae.data.manifest.recorded_paths`).

    Parameters
    ----------
    manifest, rejects : path
        CSV files to write.
    seal : path, optional
        The manifest's seal, which :func:`usae.data.manifest.write_manifest` writes beside it (the job names it,
        for Snakemake).
    images : path
        Folder where sources that materialise images write this split's files (created, maybe empty).
    dataset : dict
        The dataset's validated config entry.
    key : str
        Its config key, for messages (``dataset``, ``eval_datasets[0]``).
    split : {"train", "val"}
    seed : int
        Seeds crops (embedded), sub-sampling and the val share of folder and package datasets.
    cache : path
        Folder of photographs fetched from registry packages (``packages`` source; kept across runs).
    """
    Path(images).mkdir(parents=True, exist_ok=True)
    records = split_records(dataset, split, images, seed, key=key, cache_dir=cache)
    table, rejected = build_manifest(
        records,
        dataset["max_images"][split],
        seed,
        source=key,
        root=dataset.get("root") if dataset["source"] in FOLDER_SOURCES else None,
    )
    write_csv(rejected, rejects)
    if table.empty:
        raise DatasetError(f"{key}: every image of split '{split}' was rejected (see {rejects})")
    write_manifest(table.assign(path=recorded_paths(table["path"], Path(manifest).parent)), manifest)
    log.info("%s/%s: %d images, %d rejected", dataset["name"], split, len(table), len(rejected))
    return table
