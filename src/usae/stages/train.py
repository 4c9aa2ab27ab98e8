"""Stage train: the USAE (kind ``usae``) or the independent-SAE baseline (``independent``); resumable."""

import logging
from dataclasses import replace

from usae.activations.batches import TokenBatches, open_stores
from usae.device import pick_device
from usae.provenance import code_digest
from usae.records import plain, typed
from usae.sae import data_parallel
from usae.sae.launch import spawn
from usae.sae.training import IndependentRun, UniversalRun, train_together

RUNS = {"usae": UniversalRun, "independent": IndependentRun}
log = logging.getLogger(__name__)


def _trainer(batches, kind, options, seed, files):
    """The run of ``kind`` on ``batches``, writing ``files`` (weights, meta, log_csv)."""
    return RUNS[kind](batches, options, *files, seed=seed, provenance={"code": code_digest(__name__)})


def train(stores, weights, meta, log_csv, *, kind, options, seed):
    """Train on the experiment's training stores; write the model and its log; return the module.

    Checkpoints go to ``checkpoints/`` beside ``weights``. A run resumes from them only when its plan
    (hyper-parameters, stores, library code) is unchanged and it had not finished.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) every rank trains on its share of each batch and rank 0 writes
    (:mod:`usae.sae.data_parallel`); the files equal one process's to float32 rounding, and resume with any
    number of ranks. With ``options.ranks`` > 1 and no launcher, the stage starts those ranks on this machine
    and returns None (the model is in the files).

    Parameters
    ----------
    stores : list of path
        ``meta.json`` of each model's training store, in model order.
    weights, meta, log_csv : path
        ``model.safetensors``, ``model.json`` and ``log.csv`` to write.
    kind : {"usae", "independent"}
    options : usae.options.TrainOptions
    seed : int
    """
    if options.ranks > 1 and data_parallel.launched_ranks() == 1:  # start them here (torchrun did not)
        files = [[str(path) for path in stores], str(weights), str(meta), str(log_csv)]
        arguments = [files, kind, plain(options), seed]
        spawn(options.ranks, pick_device(options.device), f"{__name__}:train_rank", arguments)
        return None
    batches = TokenBatches(open_stores(stores), options.batch_images, options.shuffle_shards, seed)
    with data_parallel.process_group(pick_device(options.device)) as device:
        rank, ranks = data_parallel.world()
        if ranks > 1:
            log.info(
                "rank %d of %d: %d of each batch's %d images, on %s",
                rank,
                ranks,
                options.batch_images // ranks,
                options.batch_images,
                device,
            )
            batches, options = batches.for_rank(rank, ranks), replace(options, device=str(device))
            if rank:  # rank 0 logs the run (its progress is every rank's); the others only what goes wrong
                logging.getLogger("usae").setLevel(logging.WARNING)
        return _trainer(batches, kind, options, seed, (weights, meta, log_csv)).run()


def train_rank(files, kind, options, seed):
    """:func:`train` in one of the ranks :func:`train` started, from the plain arguments it passed them."""
    train(*files, kind=kind, options=typed(options), seed=seed)


def train_group(stores, weights, meta, log_csv, *, runs):
    """Train several runs on the same training stores together, reading each batch once; return the modules.

    Each run's files equal those of :func:`train` with its kind, options and seed (tested): the runs
    share one batch stream, so they must agree on ``batch_images``, ``shuffle_shards`` and the seed.

    Parameters
    ----------
    stores : list of path
    weights, meta, log_csv : list of path
        Each run's ``model.safetensors``, ``model.json`` and ``log.csv``, in the order of ``runs``.
    runs : list of usae.records.TrainRun
    """
    shared = {(run.options.batch_images, run.options.shuffle_shards, run.seed) for run in runs}
    if len(shared) != 1 or not len(weights) == len(meta) == len(log_csv) == len(runs):
        raise ValueError(
            f"{', '.join(map(str, weights))}: runs trained together need one batch_images, "
            "shuffle_shards and seed, and one set of files each"
        )
    ((batch_images, shuffle_shards, seed),) = shared
    batches = TokenBatches(open_stores(stores), batch_images, shuffle_shards, seed)
    return train_together(
        [
            _trainer(batches, run.kind, run.options, run.seed, files)
            for run, files in zip(runs, zip(weights, meta, log_csv))
        ]
    )
