"""Learning-rate schedules: linear warm-up then cosine decay.

Two forms of the same shape:

- :func:`warmup_cosine_lr`, a continuous rule: the rate *of* update ``step`` starts at ``start_lr``
  and rises by ``(peak - start) / warmup_steps`` per step (schedules ``global`` and
  ``per_model_warmup_from_start``).
- :class:`OfficialCosineSchedule`, the official code's scheduler (``overcomplete`` ``CosineScheduler``
  as ``uni_demo.py`` builds it, stepped by ``universal_sae/train.py``; schedule ``per_model``). It
  holds a float32 table ``np.linspace(start, peak, W)`` (end point included) followed by
  ``end + 0.5 (peak - end) (1 + cos(pi i / (T - W)))`` for ``i = 0 .. T - W - 1``. The optimizer is
  created with ``lr = peak`` and the scheduler sets the rate *after* each update, so update ``u``
  of a model runs at ``peak`` for ``u = 0``, at ``table[u]`` for ``0 < u < T`` and at ``end`` from
  ``u = T`` on; ``table[0] = start`` is never used.
"""

import math

import numpy as np

from usae.errors import UserError


def warmup_cosine_lr(step, total_steps, warmup_steps, peak_lr, start_lr, end_lr):
    """Learning rate after ``step`` optimizer steps.

    Linear from ``start_lr`` to ``peak_lr`` over ``warmup_steps``, then cosine from ``peak_lr`` down to
    ``end_lr`` at ``total_steps`` (held there after).
    """
    if step < warmup_steps:
        return start_lr + (peak_lr - start_lr) * step / warmup_steps
    progress = min((step - warmup_steps) / max(total_steps - warmup_steps, 1), 1.0)
    return end_lr + 0.5 * (peak_lr - end_lr) * (1.0 + math.cos(math.pi * progress))


def official_schedule_lengths(n_images, batch_images, epochs, warmup_epochs):
    """``(total_steps, warmup_steps)`` as the official code defines them from the data set size.

    ``int(n_images / batch_images * epochs)`` and ``int(n_images / batch_images * warmup_epochs)``:
    fractional batches count, and the global number of steps is every model's schedule length.
    """
    return int(n_images / batch_images * epochs), int(n_images / batch_images * warmup_epochs)


class OfficialCosineSchedule:
    """The official per-model learning-rate table (see the module docstring).

    Parameters
    ----------
    total_steps, warmup_steps : int
        T and W, from :func:`official_schedule_lengths`.
    peak_lr, start_lr, end_lr : float
    """

    def __init__(self, total_steps, warmup_steps, peak_lr, start_lr, end_lr):
        if not 0 <= warmup_steps <= total_steps:
            raise UserError(f"train.warmup_epochs: {warmup_steps} warm-up steps for {total_steps} steps in all")
        self.total_steps, self.peak_lr, self.end_lr = total_steps, peak_lr, end_lr
        decay_steps = total_steps - warmup_steps
        warmup = np.linspace(start_lr, peak_lr, warmup_steps)
        cosine = end_lr + 0.5 * (peak_lr - end_lr) * (1 + np.cos(np.pi * np.arange(decay_steps) / decay_steps))
        self.table = np.concatenate((warmup, cosine)).astype(np.float32)

    def lr(self, update):
        """Learning rate of a model's update number ``update`` (0-based count of its earlier updates)."""
        if update == 0:
            return self.peak_lr
        if update >= self.total_steps:
            return self.end_lr
        return float(self.table[update])
