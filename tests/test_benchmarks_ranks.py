"""benchmarks/ranks.py's count of the bytes a rank all-reduces, against the tensors the code reduces."""

import importlib.util
import sys
from pathlib import Path

import pytest

from usae.sae.modules import TopKSAE

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def ranks():
    sys.path.insert(0, str(BENCHMARKS))  # ranks.py imports train.py by name, as it runs from benchmarks/
    try:
        spec = importlib.util.spec_from_file_location("benchmarks_ranks", BENCHMARKS / "ranks.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_reduced_bytes_are_the_gradients_statistics_and_log_of_a_step(ranks):
    dims, m = {"a": 8, "b": 12}, 16
    gradients = {name: 4 * sum(p.numel() for p in TopKSAE(d, m, 4).parameters()) for name, d in dims.items()}
    statistics, fired = 4 * 4 * m, m  # BatchNorm's mean and variance, forward and backward; one byte a concept
    usae_log, independent_log = 8 + 32 * len(dims), 8 + 32  # loss and L0 (float32), each decoder's R2 (4 float64)
    expected_usae = sum(g + statistics + fired + usae_log for g in gradients.values()) / len(dims)
    assert ranks.reduced_bytes("usae", dims, m) == expected_usae
    assert ranks.reduced_bytes("independent", dims, m) == sum(
        g + statistics + fired + independent_log for g in gradients.values()
    )


@pytest.mark.slow
def test_the_ranks_train_together(ranks, tmp_path, monkeypatch):
    """The N-rank row is N ranks in one process group, each on its share (the benchmark checks the group's size:
    ranks that never joined would each train the whole batch alone, and their tokens/s would mean nothing)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    tiny = {"dims": {"a": 8, "b": 12}, "m": 16, "k": 4, "images": 4, "tokens": 4}
    for count in (1, 2):
        assert ranks.on_ranks("usae", tiny, 1, tmp_path, count) > 0
