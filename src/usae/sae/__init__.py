"""Sparse autoencoders: the modules, losses, learning-rate schedule, training loop, checkpoints and R²."""
