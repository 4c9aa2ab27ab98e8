import torch

from usae.models.tokens import feature_map_to_tokens, resample_grid


def test_known_pattern_survives_16_to_14():
    # Left half bright, right half dark; top rows one channel, bottom rows another.
    grid = torch.zeros(1, 2, 16, 16)
    grid[0, 0, :, :8] = 1.0
    grid[0, 1, 8:, :] = 1.0
    acts_NTD = resample_grid(grid, 14)
    assert acts_NTD.shape == (1, 196, 2)
    image = acts_NTD[0].T.reshape(2, 14, 14)
    assert torch.allclose(image[0, :, :6], torch.ones(14, 6), atol=1e-6)
    assert torch.allclose(image[0, :, 8:], torch.zeros(14, 6), atol=1e-6)
    assert torch.allclose(image[1, 8:, :], torch.ones(6, 14), atol=1e-6)
    assert torch.allclose(image[1, :6, :], torch.zeros(6, 14), atol=1e-6)
    # Antialiased bilinear keeps the mean of a smooth pattern.
    assert abs(image[0].mean().item() - 0.5) < 1e-2


def test_same_grid_is_only_flattened_row_major():
    grid = torch.arange(2 * 3 * 3, dtype=torch.float32).reshape(1, 2, 3, 3)
    acts_NTD = resample_grid(grid, 3)
    assert torch.equal(acts_NTD[0, :, 0], torch.arange(9, dtype=torch.float32))
    assert torch.equal(acts_NTD[0, 4], torch.tensor([4.0, 13.0]))


def test_cls_token_dropped_and_grid_restored():
    tokens = torch.randn(2, 1 + 16, 5)
    grid = feature_map_to_tokens(tokens, prefix_tokens=1)
    assert grid.shape == (2, 5, 4, 4)
    assert torch.equal(grid[1, :, 0, 1], tokens[1, 2])


def test_no_prefix_and_feature_maps():
    tokens = torch.randn(1, 9, 4)
    assert torch.equal(feature_map_to_tokens(tokens, 0)[0, :, 2, 2], tokens[0, 8])
    fmap = torch.randn(1, 8, 7, 7)
    assert feature_map_to_tokens(fmap, 1) is fmap


def test_non_square_token_count_is_refused():
    import pytest

    with pytest.raises(ValueError, match="do not form a square grid"):
        feature_map_to_tokens(torch.randn(1, 10, 4), prefix_tokens=0)
