"""Metrics as pure functions of tensors."""


def r2_score(x_BD, x_hat_BD):
    """``1 - mean((x - x_hat)^2) / (mean((x - mean(x))^2) + 1e-6)``, mean(x) the grand mean (docs/method.md)."""
    return 1.0 - (x_BD - x_hat_BD).square().mean() / ((x_BD - x_BD.mean()).square().mean() + 1e-6)
