import math

import numpy as np
import pytest
import torch

from usae.analysis.universality import ConceptAccumulator, cofire_proportion, concept_energy, firing_entropy, loglog_fit
from usae.sae.r2 import r2_score


def test_entropy_known_answers():
    fires = np.array([[10, 5, 4, 0], [0, 5, 4, 0], [0, 5, 0, 0]])  # A only; all equal; 2 of 3; never
    entropy = firing_entropy(fires)
    assert entropy[0] == 0.0
    assert entropy[1] == pytest.approx(1.0)
    assert entropy[2] == pytest.approx(math.log(2) / math.log(3)) and entropy[2] == pytest.approx(0.631, abs=1e-3)
    assert entropy[3] == 0.0


def test_cofire_proportion_known_answers():
    fires = np.array([[10, 4, 0], [0, 8, 0]])
    cofires = np.array([0, 4, 0])
    assert np.array_equal(cofire_proportion(cofires, fires), [[0.0, 1.0, 0.0], [0.0, 0.5, 0.0]])


def test_accumulator_counts_on_a_hand_made_case():
    accumulator = ConceptAccumulator(["a", "b"], n_concepts=3, threshold=0.1, top_images=2)
    codes_a = torch.tensor([[1.0, 0.0, 0.05], [0.5, 0.2, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, 0.0]])
    codes_b = torch.tensor([[0.9, 0.0, 0.0], [0.0, 0.2, 0.0], [0.0, 0.3, 0.2], [0.0, 0.0, 0.0]])
    accumulator.update({"a": codes_a, "b": codes_b}, first_image=0, tokens_per_image=2)
    assert accumulator.fires.tolist() == [[2, 2, 0], [1, 2, 1]]
    assert accumulator.cofires.tolist() == [1, 2, 0]
    assert accumulator.n_tokens == 4
    # Images: tokens 0-1 are image 0, tokens 2-3 image 1; concept 1 of model a peaks at 0.3 in image 1.
    assert accumulator.top_indices[0, 0, 1].item() == 1 and accumulator.top_values[0, 0, 1].item() == pytest.approx(0.3)
    table = accumulator.table(np.ones((2, 3)))
    assert table["energy"][0].tolist() == pytest.approx([1.5 / 4, 0.5 / 4, 0.05 / 4])
    assert table["dead"].tolist() == [False, False, False]
    assert table["cofire_proportion"][1].tolist() == pytest.approx([1.0, 1.0, 0.0])


def test_fires_with_top_counts_firing_on_the_same_tokens():
    # Concept 0: a fires on tokens 0-2, b on 0-1, c on 3 only (as often as b, never with a).
    # Concept 1: b fires most (tokens 0-3), a with it on token 3; c never. Concept 2 never fires.
    codes = {
        "a": torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
        "b": torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]),
        "c": torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]),
    }
    accumulator = ConceptAccumulator(["a", "b", "c"], n_concepts=3, threshold=0.1, top_images=1)
    accumulator.update(codes, first_image=0, tokens_per_image=4)
    table = accumulator.table(np.ones((3, 3)))
    assert table["fires"].tolist() == [[3, 1, 0], [2, 4, 0], [1, 0, 0]]
    assert table["fires_with_top"].tolist() == [[3, 1, 0], [2, 4, 0], [0, 0, 0]]
    assert accumulator.pair_fires[:, :, 0].tolist() == [[3, 2, 0], [2, 2, 0], [0, 0, 1]]


def test_accumulator_memory_does_not_grow_with_tokens():
    accumulator = ConceptAccumulator(["a", "b", "c"], n_concepts=64, top_images=4)

    def footprint():
        return sum(t.numel() * t.element_size() for t in vars(accumulator).values() if torch.is_tensor(t))

    before = footprint()
    for batch in range(50):
        codes = {name: torch.relu(torch.randn(40, 64)) for name in "abc"}
        accumulator.update(codes, first_image=batch * 10, tokens_per_image=4)
    assert footprint() == before and accumulator.n_tokens == 2000
    assert accumulator.top_indices.max().item() < 500


def test_top_images_track_the_largest_over_batches():
    accumulator = ConceptAccumulator(["a", "b"], n_concepts=1, top_images=2)
    for first, value in [(0, 0.5), (1, 2.0), (2, 1.0), (3, 0.1)]:
        codes = torch.tensor([[value], [0.0]])
        accumulator.update({"a": codes, "b": codes}, first_image=first, tokens_per_image=2)
    assert accumulator.top_indices[0, :, 0].tolist() == [1, 2]


def test_energy_code_and_paper_forms():
    assert concept_energy([[0.5]], [[2.0]]).item() == 1.0
    assert concept_energy([[0.5]], [[2.0]], power=2).item() == 1.0
    assert concept_energy([[0.25]], [[2.0]], power=2).item() == 0.25


def test_loglog_fit_of_a_power_law():
    x = np.array([1, 10, 100, 1000, 0])
    fit = loglog_fit(x, 3 * x.astype(float) ** 0.5)
    assert fit["r"] == pytest.approx(1.0) and fit["slope"] == pytest.approx(0.5) and fit["n"] == 4
    assert math.isnan(loglog_fit([1, 2], [1, 2])["r"])


def test_r2_of_perfect_and_mean_reconstructions():
    x = torch.randn(100, 8)
    assert r2_score(x, x).item() == pytest.approx(1.0)
    assert r2_score(x, torch.full_like(x, x.mean().item())).item() == pytest.approx(0.0, abs=1e-5)
