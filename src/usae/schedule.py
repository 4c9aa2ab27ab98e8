"""Learning-rate schedule: linear warm-up then cosine decay."""

import math


def warmup_cosine_lr(step, total_steps, warmup_steps, peak_lr, start_lr, end_lr):
    """Learning rate after ``step`` optimizer steps.

    Linear from ``start_lr`` to ``peak_lr`` over ``warmup_steps``, then cosine from ``peak_lr`` down to
    ``end_lr`` at ``total_steps`` (held there after).
    """
    if step < warmup_steps:
        return start_lr + (peak_lr - start_lr) * step / warmup_steps
    progress = min((step - warmup_steps) / max(total_steps - warmup_steps, 1), 1.0)
    return end_lr + 0.5 * (peak_lr - end_lr) * (1.0 + math.cos(math.pi * progress))
