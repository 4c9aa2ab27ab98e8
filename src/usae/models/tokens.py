"""Turn a layer's output into patch tokens on a grid shared by every model.

Token ``t`` of every model must mean the same image region, so that one token is one training
sample for all models at once (docs/method.md, "Models and activations").
"""

import math

import torch.nn.functional as F

from usae.errors import UserError


def feature_map_to_tokens(output, prefix_tokens):
    """Return patch tokens as a square grid ``(N, D, H, W)``.

    Parameters
    ----------
    output : torch.Tensor
        ``(N, C, H, W)`` for a convolutional feature map, or ``(N, T, D)`` for a transformer's
        tokens, whose first ``prefix_tokens`` are CLS/register tokens.
    prefix_tokens : int
        Leading tokens to drop from a ``(N, T, D)`` output; ignored for feature maps.

    Returns
    -------
    torch.Tensor
        ``grid_NDHW`` with ``H == W``.
    """
    if output.ndim == 4:
        return output
    if output.ndim != 3:
        raise UserError(f"expected (N, C, H, W) or (N, T, D) activations, got shape {tuple(output.shape)}")
    patches_NTD = output[:, prefix_tokens:]
    side = math.isqrt(patches_NTD.shape[1])
    if side * side != patches_NTD.shape[1]:
        raise UserError(
            f"{patches_NTD.shape[1]} patch tokens after dropping {prefix_tokens} prefix tokens "
            "do not form a square grid; set the model's prefix_tokens"
        )
    return patches_NTD.transpose(1, 2).reshape(output.shape[0], output.shape[2], side, side)


def resample_grid(grid_NDHW, side):
    """Resample a token grid to ``side x side`` (bilinear, antialiased) and flatten to tokens.

    Parameters
    ----------
    grid_NDHW : torch.Tensor
        Tokens laid out on their spatial grid.
    side : int
        Side of the common grid.

    Returns
    -------
    torch.Tensor
        ``acts_NTD`` with ``T = side * side``, row-major over the grid.
    """
    if grid_NDHW.shape[-2:] != (side, side):
        grid_NDHW = F.interpolate(
            grid_NDHW.float(), size=(side, side), mode="bilinear", antialias=True, align_corners=False
        )
    return grid_NDHW.flatten(2).transpose(1, 2)
