"""Training on two gloo ranks in two processes (torch.multiprocessing), for tests/sae/test_data_parallel.py."""

import os

import torch
import torch.distributed as dist

from tests.synthetic import run_files
from usae.activations.batches import TokenBatches
from usae.activations.store import ActivationStore
from usae.config import validate_config
from usae.options import TrainOptions
from usae.sae.training import IndependentRun, UniversalRun


class Interrupted(Exception):
    """Raised by ``on_step`` to stop a run after a step, as a kill would."""


def train(stores, out, train, kind="usae", stop_after=None, rank=0, ranks=1):
    """Train ``kind`` on the stores (``{name: folder}``) into ``out``, as rank ``rank`` of ``ranks``; stop after
    step ``stop_after`` (its checkpoints stay) if given."""
    torch.set_num_threads(1)
    batches = TokenBatches({name: ActivationStore(path) for name, path in stores.items()}, train["batch_images"])
    if ranks > 1:
        batches = batches.for_rank(rank, ranks)
    options = TrainOptions.from_config(validate_config({"train": train}, "test"))
    run = (UniversalRun if kind == "usae" else IndependentRun)(batches, options, *run_files(out))

    def on_step(done):
        if done == stop_after:
            raise Interrupted(done)

    try:
        run.run(on_step)
    except Interrupted:
        pass


def _rank_main(rank, ranks, rendezvous, arguments):
    os.environ["GLOO_SOCKET_IFNAME"] = os.environ.get("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=ranks)
    try:
        train(**arguments, rank=rank, ranks=ranks)
    finally:
        dist.destroy_process_group()


def train_on_ranks(ranks, rendezvous, **arguments):
    """:func:`train` on ``ranks`` gloo ranks, one process each (rendezvous through the file ``rendezvous``)."""
    torch.multiprocessing.spawn(_rank_main, args=(ranks, str(rendezvous), arguments), nprocs=ranks, join=True)
