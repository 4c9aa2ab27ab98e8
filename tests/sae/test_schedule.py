import numpy as np
import pytest

from usae.sae.schedule import OfficialCosineSchedule, official_schedule_lengths, warmup_cosine_lr


def f32(value):
    """A rate as the official float32 table holds it."""
    return float(np.float32(value))


# Issue 13's example, derived from the official code's rules (overcomplete CosineScheduler as uni_demo.py
# builds it, stepped after each update of its model by universal_sae/train.py):
# 100 images, 25 per batch: T = int(100 / 25 * 3 epochs) = 12, W = int(100 / 25 * 0.75 warm-up epochs) = 3;
# peak 3e-3, start = end = 1e-6.
# - update 0 runs at the optimizer's initial lr, the peak: 3e-3 (a Python float, not from the table);
# - updates 1, 2: np.linspace(1e-6, 3e-3, 3)[1:] = 1e-6 + 2.999e-3 / 2, 3e-3 (table[0] = 1e-6 is never used);
# - updates 3..11: 1e-6 + 0.5 * 2.999e-3 * (1 + cos(pi * i / 9)), i = update - 3, cos(i * 20 degrees) =
#   1, .9396926208, .7660444431, .5, .1736481777, -.1736481777, -.5, -.7660444431, -.9396926208;
# - updates >= 12 = T: end_lr, 1e-6 (a Python float).
OFFICIAL_RATES_T12_W3 = (
    [3e-3]
    + [f32(r) for r in (1.5005e-3, 3e-3)]
    + [
        f32(r)
        for r in (
            3e-3,
            2.909569085e-3,
            2.649183642e-3,
            2.25025e-3,
            1.760885442e-3,
            1.240114558e-3,
            7.5075e-4,
            3.518163575e-4,
            9.143091513e-5,
        )
    ]
    + [1e-6] * 8
)


def test_official_lengths_count_fractional_batches():
    assert official_schedule_lengths(100, 25, 3, 0.75) == (12, 3)
    assert official_schedule_lengths(1281167, 32, 30, 1) == (1201094, 40036)


def test_official_per_model_rates_exactly():
    schedule = OfficialCosineSchedule(12, 3, 3e-3, 1e-6, 1e-6)
    assert [schedule.lr(update) for update in range(20)] == OFFICIAL_RATES_T12_W3


def test_official_schedule_without_warmup_starts_the_cosine_at_update_1():
    schedule = OfficialCosineSchedule(4, 0, 1.0, 0.5, 0.0)
    # table = 0.5 (1 + cos(pi i / 4)), i = 0..3; update 0 at the peak, update 1 at table[1]
    assert [schedule.lr(u) for u in range(5)] == [1.0, f32(0.8535533906), f32(0.5), f32(0.1464466094), 0.0]


def test_official_schedule_refuses_warmup_longer_than_training():
    with pytest.raises(ValueError, match="train.warmup_epochs"):
        OfficialCosineSchedule(4, 5, 1.0, 0.5, 0.0)


def test_warmup_then_cosine_endpoints():
    lr = lambda step: warmup_cosine_lr(step, 1000, 100, 3e-4, 1e-6, 1e-6)  # noqa: E731
    assert lr(0) == pytest.approx(1e-6)
    assert lr(50) == pytest.approx(1e-6 + (3e-4 - 1e-6) / 2)
    assert lr(100) == pytest.approx(3e-4)
    assert lr(550) == pytest.approx(1e-6 + (3e-4 - 1e-6) / 2)
    assert lr(1000) == pytest.approx(1e-6) and lr(2000) == pytest.approx(1e-6)


def test_official_per_model_stepping_ends_near_2_3e_4():
    """Paper: ImageNet (1281167 images), 32 per batch, 30 epochs, 1 warm-up epoch, 3 models.

    Each model's schedule advances only when it is chosen, about T / 3 times: its last rate is
    1e-6 + 0.5 (3e-4 - 1e-6)(1 + cos(pi (400365 - 40036) / 1161058)) = 2.34e-4.
    """
    total, warmup = official_schedule_lengths(1281167, 32, 30, 1)
    final = OfficialCosineSchedule(total, warmup, 3e-4, 1e-6, 1e-6).lr(total // 3)
    assert final == pytest.approx(2.342e-4, rel=1e-3)
