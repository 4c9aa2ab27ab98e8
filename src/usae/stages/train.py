"""Stage train: the USAE (kind ``usae``) or the independent-SAE baseline (``independent``); resumable."""

import contextlib
import logging
from dataclasses import replace
from pathlib import Path

from usae.activations.batches import TokenBatches, open_stores
from usae.device import pick_device
from usae.errors import UserError
from usae.provenance import code_digest
from usae.records import TrainRun, plain, typed
from usae.sae import data_parallel
from usae.sae.launch import spawn
from usae.sae.training import IndependentRun, UniversalRun, train_together

RUNS = {"usae": UniversalRun, "independent": IndependentRun}
log = logging.getLogger(__name__)


def _trainer(batches, run, files):
    """The :class:`usae.records.TrainRun` ``run`` on ``batches``, writing ``files`` (weights, meta, log_csv)."""
    return RUNS[run.kind](batches, run.options, *files, seed=run.seed, provenance={"code": code_digest(__name__)})


def _ranks_to_start(options):
    """How many ranks this call must start itself: ``options.ranks`` without a launcher, else 0 (it is a rank).

    Raises
    ------
    usae.errors.UserError
        A launcher (torchrun, ``WORLD_SIZE``) that started another number of ranks than ``train.ranks``.
    """
    launched = data_parallel.launched_ranks()
    if launched > 1 and launched != options.ranks:
        raise UserError(f"train.ranks: {options.ranks}, but the launcher started {launched} ranks (WORLD_SIZE)")
    return options.ranks if options.ranks > 1 and launched == 1 else 0


@contextlib.contextmanager
def _on_ranks(batches, options):
    """Join the launcher's ranks for the ``with`` block; yield this rank's share of every batch and a function
    that gives a run this rank's device (on one rank, ``batches`` and the identity)."""
    with data_parallel.process_group(pick_device(options.device)) as device:
        rank, ranks = data_parallel.world()
        if ranks == 1:
            yield batches, lambda run: run
            return
        share = options.batch_images // ranks
        log.info("rank %d of %d: %d of each batch's %d images, on %s", rank, ranks, share, options.batch_images, device)
        if rank:  # rank 0 logs the run (its progress is every rank's); the others only what goes wrong
            logging.getLogger("usae").setLevel(logging.WARNING)
        yield batches.for_rank(rank, ranks), lambda run: replace(run, options=replace(run.options, device=str(device)))


def train(stores, weights, meta, log_csv, *, kind, options, seed):
    """Train on the experiment's training stores; write the model and its log; return the module.

    Checkpoints go to ``checkpoints/`` beside ``weights``. A run resumes from them only when its plan
    (hyper-parameters, stores, library code) is unchanged and it had not finished.

    Under ``torchrun`` (``WORLD_SIZE`` = ``options.ranks``) every rank trains on its share of each batch and rank 0
    writes (:mod:`usae.sae.data_parallel`); the files equal one process's to float32 rounding, and resume with any
    number of ranks. With ``options.ranks`` > 1 and no launcher, the stage starts those ranks itself
    (:func:`usae.sae.launch.spawn`: here, or with ``srun`` in a SLURM job of that many tasks) and returns None (the
    model is in the files).

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
    run = TrainRun(kind, options, seed)
    if ranks := _ranks_to_start(options):
        files = [[str(path) for path in stores], str(weights), str(meta), str(log_csv)]
        spawn(ranks, pick_device(options.device), f"{__name__}:train_rank", [files, plain(run)], Path(weights).parent)
        return None
    batches = TokenBatches(open_stores(stores), options.batch_images, options.shuffle_shards, seed)
    with _on_ranks(batches, options) as (batches, on_rank):
        return _trainer(batches, on_rank(run), (weights, meta, log_csv)).run()


def train_rank(files, run):
    """:func:`train` in one of the ranks :func:`train` started, from the plain arguments it passed them."""
    run = typed(run)
    train(*files, kind=run.kind, options=run.options, seed=run.seed)


def train_group(stores, weights, meta, log_csv, *, runs):
    """Train several runs on the same training stores together, reading each batch once; return the modules.

    Each run's files equal those of :func:`train` with its kind, options and seed (tested): the runs
    share one batch stream, so they must agree on ``batch_images``, ``shuffle_shards``, the seed and ``ranks``.
    On several ranks the group is split as :func:`train` splits one run (and returns None when it started them).

    Parameters
    ----------
    stores : list of path
    weights, meta, log_csv : list of path
        Each run's ``model.safetensors``, ``model.json`` and ``log.csv``, in the order of ``runs``.
    runs : list of usae.records.TrainRun
    """
    shared = {(run.options.batch_images, run.options.shuffle_shards, run.seed, run.options.ranks) for run in runs}
    if len(shared) != 1 or not len(weights) == len(meta) == len(log_csv) == len(runs):
        raise ValueError(
            f"{', '.join(map(str, weights))}: runs trained together need one batch_images, "
            "shuffle_shards, seed and ranks, and one set of files each"
        )
    options = runs[0].options
    if ranks := _ranks_to_start(options):
        files = [[str(path) for path in paths] for paths in (stores, weights, meta, log_csv)]
        spawn(
            ranks,
            pick_device(options.device),
            f"{__name__}:train_group_rank",
            [files, plain(runs)],
            Path(weights[0]).parent,
        )
        return None
    batches = TokenBatches(open_stores(stores), options.batch_images, options.shuffle_shards, runs[0].seed)
    with _on_ranks(batches, options) as (batches, on_rank):
        return train_together(
            [_trainer(batches, on_rank(run), files) for run, files in zip(runs, zip(weights, meta, log_csv))]
        )


def train_group_rank(files, runs):
    """:func:`train_group` in one of the ranks it started, from the plain arguments it passed them."""
    train_group(*files, runs=typed(runs))
