"""Data-parallel training over torch.distributed ranks (``torchrun``, ``srun``): the same math as one process.

Every rank holds the whole model and draws the same model i at every step (the draw is a function of the step
alone); each reads an equal share of the step's images (:meth:`usae.activations.batches.TokenBatches.for_rank`).
What one process computes over the whole batch is computed over the ranks' shares and reduced:

- BatchNorm in training mode normalises with the global batch's mean and variance (:class:`GlobalBatchNorm1d`,
  two autograd-aware all-reduces; torch's SyncBatchNorm runs on CUDA only);
- every loss is a mean over the rank's tokens, and the shares are equal, so the global loss is the mean of the
  ranks' losses and its gradient the mean of theirs (:func:`mean_gradients`); clipping then sees the global norm;
- the log's loss, L0 and R2 are global (:func:`global_mean`, :func:`global_r2`), and so is "fired" (:func:`any_rank`).

Without a process group, or with one rank, every function here is the identity and nothing is communicated: a
single process computes exactly what it computed before this module existed.
"""

import contextlib
import datetime
import os

import torch
import torch.distributed as dist
from torch import nn

from usae.errors import UserError
from usae.sae.r2 import r2_score

# How long a rank waits for the others (to join, or at a collective) before it fails in one line, not a hang.
TIMEOUT_S = 600


def world():
    """``(rank, world size)`` of the default process group; ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def launched_ranks():
    """The number of ranks the launcher started: ``WORLD_SIZE`` (torchrun), else 1."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise UserError(f"WORLD_SIZE: '{os.environ['WORLD_SIZE']}' is not a number of ranks") from None


@contextlib.contextmanager
def process_group(device, timeout_s=TIMEOUT_S):
    """Join the process group of the ranks a launcher started (``torchrun`` sets ``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``), for the ``with`` block; with one rank, do nothing.

    The backend is NCCL for a CUDA device, gloo on CPU. Yields this rank's device on GPU: ``cuda:<LOCAL_RANK>``,
    or the one GPU it sees (:func:`rank_gpu`).

    Raises
    ------
    usae.errors.UserError
        A GPU run with a torch built without NCCL, or ranks that do not all join within ``timeout_s``.
    """
    if launched_ranks() <= 1:
        yield device
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl" and not dist.is_nccl_available():
        raise UserError("torch.distributed: this torch has no NCCL, which training on several GPUs needs")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", rank_gpu(int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()))
        torch.cuda.set_device(device)
    rank = os.environ.get("RANK", "?")
    try:
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    except (RuntimeError, ValueError) as error:  # the store's timeout, a bad address: one line, with the rank
        raise UserError(f"rank {rank}: could not join the other ranks ({str(error).splitlines()[0]})") from None
    try:
        yield device
    finally:
        dist.destroy_process_group()


def rank_gpu(local_rank, visible):
    """The CUDA index of the rank ``local_rank`` on its node, where it sees ``visible`` GPUs: ``local_rank``, or 0
    when it sees one (SLURM binds each task to its own GPU, ``--ntasks-per-gpu=1``).

    Raises
    ------
    usae.errors.UserError
        A rank that sees several GPUs but not its own.
    """
    if visible == 1:
        return 0
    if local_rank >= visible:
        raise UserError(f"rank with LOCAL_RANK {local_rank}: this node shows it {visible} GPUs, not its own")
    return local_rank


def distributed():
    """Whether training runs on several ranks."""
    return world()[1] > 1


def barrier():
    """Wait for every rank (nothing on one)."""
    if distributed():
        dist.barrier()


def mean_gradients(parameters):
    """Replace each parameter's gradient by its mean over the ranks (in place; the ones without a gradient stay)."""
    if not distributed():
        return
    _, size = world()
    for parameter in parameters:
        if parameter.grad is not None:
            dist.all_reduce(parameter.grad)
            parameter.grad.div_(size)


def global_mean(value):
    """The mean over the ranks of a tensor (a per-rank mean over equal shares: the global mean)."""
    if not distributed():
        return value
    value = value.detach().clone()
    dist.all_reduce(value)
    return value / world()[1]


def any_rank(mask):
    """A boolean mask, true where it is true on some rank."""
    if not distributed():
        return mask
    reduced = mask.to(torch.uint8)
    dist.all_reduce(reduced, op=dist.ReduceOp.MAX)
    return reduced.bool()


def global_r2(x_BD, x_hat_BD):
    """:func:`usae.sae.r2.r2_score` of the global batch, from sums reduced over the ranks (float64)."""
    if not distributed():
        return r2_score(x_BD, x_hat_BD)
    x, x_hat = x_BD.detach().double(), x_hat_BD.detach().double()
    sums = torch.stack([x.sum(), x.square().sum(), (x - x_hat).square().sum(), torch.tensor(x.numel(), dtype=x.dtype)])
    dist.all_reduce(sums)
    total, squares, errors, count = sums
    variance = squares / count - (total / count) ** 2
    return (1.0 - (errors / count) / (variance + 1e-6)).float()


def _summed(tensor):
    """The sum over the ranks, through torch's functional collective, whose backward sums the ranks' gradients."""
    from torch.distributed import _functional_collectives as collectives

    return collectives.wait_tensor(collectives.all_reduce(tensor, "sum", dist.group.WORLD))


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` whose training-mode statistics are the global batch's when training runs on several
    ranks (parameters, buffers and state dict are BatchNorm1d's). On one rank, and in eval mode, it is
    ``nn.BatchNorm1d`` itself.

    The mean and the (biased) variance are two-pass sums all-reduced with torch's functional ``all_reduce``
    (``torch.distributed._functional_collectives``, where ``torch.distributed.nn.functional`` now points), whose
    backward sums every rank's gradient: each rank's
    gradient then carries the other ranks' losses through the shared statistics, as one process's would. The
    running statistics move as BatchNorm's do (unbiased variance, ``momentum``).
    """

    def forward(self, x_BM):
        if not (self.training and distributed()):
            return super().forward(x_BM)
        count = x_BM.shape[0] * world()[1]
        mean_M = _summed(x_BM.sum(0)) / count
        centred_BM = x_BM - mean_M
        var_M = _summed(centred_BM.square().sum(0)) / count
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean_M)
            self.running_var.mul_(1 - self.momentum).add_(self.momentum * var_M * count / (count - 1))
        return centred_BM / torch.sqrt(var_M + self.eps) * self.weight + self.bias
