"""Stage extract: one model's tokens of one split into a sharded, memory-mappable store.

With ``extract.parts`` > 1 the store is extracted in parts (ranges of whole shards, one job each:
:func:`extract` with ``part``) and assembled by :func:`extract_merge`; the merged store's bytes equal
a one-part extraction's.
"""

import logging
from pathlib import Path

from usae.activations.extraction import extract_part, extract_store, merge_parts, resampling_note, store_origin
from usae.data.manifest import read_manifest
from usae.models.loaders import model_spec

log = logging.getLogger(__name__)


def _spec(model, zoo_entry):
    return model_spec(model, {model: zoo_entry} if zoo_entry else None)


def _store_options(options):
    """The ``extract`` options that shape a store's files (not where or how fast it is computed)."""
    return dict(
        grid=options.grid,
        batch_size=options.batch_size,
        shard_images=options.shard_images,
        dtype=options.dtype,
        autocast=options.autocast,
        stat_images=options.stat_images,
    )


def extract(manifest, store=None, *, model, zoo_entry, options, seed, part=None, index=None):
    """Extract ``model``'s activations of the manifest's images into the store; return its metadata.

    Parameters
    ----------
    manifest : path
        The split's manifest CSV.
    store : path
        The store's ``meta.json`` (written last; shards go beside it). Not with ``part``.
    model : str
        Registry name.
    zoo_entry : dict or None
        The config's ``model_zoo`` entry of ``model``, if any (else the built-in registry's).
    options : usae.options.ExtractOptions
    seed : int
        Chooses the images of the standardisation statistics.
    part : path, optional
        Extract only part ``index`` of ``options.parts``: this is its ``part.json`` (written last; its
        shards go beside it). Returns the part record instead of the store's metadata.
    index : int, optional
        The part's number, from 0 (with ``part``).
    """
    if (store is None) == (part is None):
        raise ValueError("extract: give either store (a whole store) or part (with index), not both")
    spec = _spec(model, zoo_entry)
    common = dict(device=options.device, num_workers=options.num_workers, seed=seed, **_store_options(options))
    origin = store_origin(manifest)
    if part is not None:
        record = extract_part(read_manifest(manifest), spec, Path(part).parent, int(index), options.parts, **common)
        log.info("%s: shards %d to %d of part %d/%d", part, *record["shards"], int(index) + 1, options.parts)
        return record
    meta = extract_store(
        read_manifest(manifest), spec, Path(store).parent, stats_grid=options.stats_grid, origin=origin, **common
    )
    log.info("%s: %d images x %d tokens x %d dims", store, meta["n_images"], meta["tokens"], meta["dim"])
    log_resampling(meta)
    return meta


def log_resampling(meta):
    """Say when a store's grid is not the model's own: a warning when upsampled (blurred copies of its tokens)."""
    note = resampling_note(meta)
    if note:
        text, upsampled = note
        log.log(
            logging.WARNING if upsampled else logging.INFO, "%s%s", text, "; blurred copies of its tokens" * upsampled
        )


def extract_merge(manifest, parts, store, *, model, zoo_entry, options, seed):
    """Assemble a store from its parts (each part's ``part.json``, in order); return its metadata.

    Parameters are those of :func:`extract`; ``parts`` lists the ``part.json`` of every part. The
    part folders are deleted once ``meta.json`` is written (their files are hard-linked into the store).
    """
    meta = merge_parts(
        read_manifest(manifest),
        _spec(model, zoo_entry),
        [Path(p).parent for p in parts],
        Path(store).parent,
        seed=seed,
        stats_grid=options.stats_grid,
        origin=store_origin(manifest),
        **_store_options(options),
    )
    log.info(
        "%s: %d images x %d tokens x %d dims from %d parts",
        store,
        meta["n_images"],
        meta["tokens"],
        meta["dim"],
        len(parts),
    )
    log_resampling(meta)
    return meta
