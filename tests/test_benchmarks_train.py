"""benchmarks/train.py's FLOP count: a hand-computed case, and FlopCounterMode on real training steps."""

import importlib.util
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "train.py"
TINY = {"dims": {"a": 8, "b": 12, "c": 4}, "m": 64, "k": 4, "images": 2, "tokens": 5}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmarks_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hand_computed_usae_step(bench):
    # d_a = 2 (chosen), d_b = 3, m = 4, k = 1, B = 5 tokens.
    matmul = (
        2 * 5 * 2 * 4 * 2  # encoder forward, encoder weight gradient (no input gradient)
        + 2 * 5 * 4 * (2 + 3) * 2  # auxiliary decode forward and aux-codes gradient, both decoders
        + 2 * 5 * 4 * 2
    )  # chosen dictionary's gradient through the auxiliary decode
    gather = 2 * 5 * 1 * (2 + 3) * 2 + 2 * 5 * 1 * 2  # top-k decode forward and values gradient; chosen dictionary
    dense = 3 * (2 * 5 * 2 * 4 + 2 * 2 * 5 * 4 * (2 + 3))
    assert (matmul, gather, dense) == (640, 120, 1440)
    assert bench.step_flops("usae", {"a": 2, "b": 3}, 4, 1, 5, "a") == {
        "matmul": 640,
        "gather": 120,
        "performed": 760,
        "dense_equivalent": 1440,
    }


def test_hand_computed_independent_step(bench):
    # Per model: 10*m*d matmul, 6*k*d gather, 18*m*d dense-equivalent per token; d = 2 and 3, m = 4, k = 1, B = 5.
    assert bench.step_flops("independent", {"a": 2, "b": 3}, 4, 1, 5) == {
        "matmul": 1000,
        "gather": 150,
        "performed": 1150,
        "dense_equivalent": 1800,
    }


GATHERS = {
    # _embedding_bag(weight (m, d), indices (B*k,), ...)
    torch.ops.aten._embedding_bag: lambda weight, indices, *a, out_shape=None, **kw: 2 * indices[0] * weight[1],
    # _embedding_bag_per_sample_weights_backward(grad (B, d), weight, indices (B*k,), ...): the values' gradient
    torch.ops.aten._embedding_bag_per_sample_weights_backward: lambda grad, weight, indices, *a, out_shape=None, **kw: (
        2 * indices[0] * grad[1]
    ),
    # _embedding_bag_backward(grad (B, d), indices (B*k,), ...): the dictionary's gradient
    torch.ops.aten._embedding_bag_backward: lambda grad, indices, *a, out_shape=None, **kw: 2 * indices[0] * grad[1],
}


@pytest.mark.parametrize("kind", ["usae", "independent"])
def test_flop_counter_on_real_steps(bench, kind, tmp_path):
    """FlopCounterMode's matmul count equals the formula's matmul part, and with the top-k gathers
    (embedding_bag, which it does not count) added, the performed count; for every chosen encoder."""
    run, batches = bench.make_run(kind, TINY, 1, torch.device("cpu"), tmp_path)
    batch = batches.batch(0, 0)
    names = list(TINY["dims"])
    chosen_seen = set()
    for step in range(12):
        chosen = names[bench.chosen_model(0, step, len(names))] if kind == "usae" else None
        chosen_seen.add(chosen)
        expected = bench.step_flops(kind, TINY["dims"], TINY["m"], TINY["k"], batches.tokens_per_batch, chosen)
        with FlopCounterMode(display=False) as matmuls:
            run.train_step(batch, step)
        with FlopCounterMode(display=False, custom_mapping=GATHERS) as everything:
            run.train_step(batch, step)
        assert matmuls.get_total_flops() == expected["matmul"], (step, chosen)
        assert everything.get_total_flops() == expected["performed"], (step, chosen)
    assert kind == "independent" or chosen_seen == set(names)


def test_more_models_cycle_the_widths_and_their_work_grows_with_them(bench):
    assert bench.with_models(TINY, 5)["dims"] == {"model0": 8, "model1": 12, "model2": 4, "model3": 8, "model4": 12}
    assert bench.step_flops_ratio("independent", TINY, 3, 6) == pytest.approx(2.0)  # twice the same SAEs
    # USAE, per token, mean over the chosen encoder i: 6 m d_i + 4 m D (matmuls) + 2 k d_i + 4 k D (gathers).
    m, k = TINY["m"], TINY["k"]
    three = 6 * m * 8 + 4 * m * 24 + 2 * k * 8 + 4 * k * 24  # mean d_i = 8, D = 24
    six = 6 * m * 8 + 4 * m * 48 + 2 * k * 8 + 4 * k * 48
    assert bench.step_flops_ratio("usae", TINY, 3, 6) == pytest.approx(six / three)
