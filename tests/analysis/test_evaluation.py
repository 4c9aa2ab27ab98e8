import torch

from usae.analysis.evaluation import evaluate_independent


class _ShiftOnShortBatches(torch.nn.Module):
    """An "SAE" that reconstructs a full batch of 100 tokens exactly and any other batch shifted by 1."""

    def forward(self, x_BD):
        return None, None, x_BD + (0.0 if len(x_BD) == 100 else 1.0)


class _Batches:
    """Two evaluation batches of unequal size, as in 150 tokens evaluated in batches of 100."""

    def __init__(self, generator):
        self.data = [torch.randn(100, 4, generator=generator), torch.randn(50, 4, generator=generator)]

    def sequential(self, batch_images, desc):
        return [{"a": x} for x in self.data]


def test_batch_means_are_weighted_by_tokens_so_a_short_last_batch_counts_less():
    result = evaluate_independent(
        torch.nn.ModuleDict({"a": _ShiftOnShortBatches()}), _Batches(torch.Generator().manual_seed(0))
    )
    r2, mse = result["a"]
    assert abs(mse - 50 / 150) < 1e-6  # the plain mean over the two batches would give 0.5
    assert r2 > 0.5


def test_r2_over_channel_means_starts_from_the_per_channel_floor():
    from usae.analysis.evaluation import r2_over_channel_means
    from usae.sae.r2 import r2_score

    x = torch.randn(1000, 3, generator=torch.Generator().manual_seed(1)) + torch.tensor([10.0, -10.0, 0.0])
    channel_means = x.mean(0).expand_as(x)
    assert r2_score(x, channel_means) > 0.9  # the paper's R2 rewards the offsets alone
    assert abs(r2_over_channel_means(x, channel_means)) < 1e-5
    assert abs(r2_over_channel_means(x, x) - 1.0) < 1e-5
