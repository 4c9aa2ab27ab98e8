import pytest

from usae.schedule import warmup_cosine_lr


def test_warmup_then_cosine_endpoints():
    lr = lambda step: warmup_cosine_lr(step, 1000, 100, 3e-4, 1e-6, 1e-6)  # noqa: E731
    assert lr(0) == pytest.approx(1e-6)
    assert lr(50) == pytest.approx(1e-6 + (3e-4 - 1e-6) / 2)
    assert lr(100) == pytest.approx(3e-4)
    assert lr(550) == pytest.approx(1e-6 + (3e-4 - 1e-6) / 2)
    assert lr(1000) == pytest.approx(1e-6) and lr(2000) == pytest.approx(1e-6)


def test_official_per_model_stepping_ends_near_2_3e_4():
    """Paper: 30 epochs, 1 warm-up epoch, 3 models; each model's schedule advances only when chosen."""
    per_epoch = 1000
    total = 30 * per_epoch
    final = warmup_cosine_lr(total // 3, total, per_epoch, 3e-4, 1e-6, 1e-6)
    assert 2.2e-4 < final < 2.4e-4
