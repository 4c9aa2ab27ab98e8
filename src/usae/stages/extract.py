"""Stage extract: one model's tokens of one split into a sharded, memory-mappable store."""

import logging
from pathlib import Path

from usae.extract import extract_store
from usae.manifest import read_manifest
from usae.models import model_spec

log = logging.getLogger(__name__)


def extract(manifest, store, *, model, zoo_entry, options, seed):
    """Extract ``model``'s activations of the manifest's images into the store; return its metadata.

    Parameters
    ----------
    manifest : path
        The split's manifest CSV.
    store : path
        The store's ``meta.json`` (written last; shards go beside it).
    model : str
        Registry name.
    zoo_entry : dict or None
        The config's ``model_zoo`` entry of ``model``, if any (else the built-in registry's).
    options : dict
        The config's ``extract`` section.
    seed : int
        Chooses the images of the standardisation statistics.
    """
    spec = model_spec(model, {model: zoo_entry} if zoo_entry else None)
    meta = extract_store(
        read_manifest(manifest), spec, Path(store).parent,
        grid=options["grid"], batch_size=options["batch_size"], shard_images=options["shard_images"],
        dtype=options["dtype"], device=options["device"], autocast=options["autocast"],
        num_workers=options["num_workers"], stat_images=options["stat_images"], seed=seed,
        stats_grid=options["stats_grid"],
    )
    log.info("%s: %d images x %d tokens x %d dims", store, meta["n_images"], meta["tokens"], meta["dim"])
    return meta
