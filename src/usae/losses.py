"""Reconstruction losses, all with one signature: ``loss(x, x_hat, pre_codes, codes, dictionary)``.

``x``/``x_hat`` are ``(B, d)``; ``pre_codes``/``codes`` ``(B, m)``; ``dictionary`` the normalised ``(m, d)``.
"""

import torch
import torch.nn.functional as F


def auxiliary_codes(pre_codes_BM, codes_BM):
    """Keep the top m/2 of the positive pre-codes that top-k did not select (``ReLU(pre_codes) - codes``)."""
    leftover_BM = F.relu(pre_codes_BM) - codes_BM
    top = torch.topk(leftover_BM, leftover_BM.shape[1] // 2, dim=1)
    return torch.zeros_like(leftover_BM).scatter(1, top.indices, top.values)


def _top_k_auxiliary_loss(x, x_hat, pre_codes, codes, dictionary, error, penalty):
    residual = x - x_hat
    residual_hat = auxiliary_codes(pre_codes, codes) @ dictionary
    return error(residual).mean() + penalty * error(residual - residual_hat).mean()


def top_k_auxiliary_l1(x, x_hat, pre_codes, codes, dictionary, penalty=0.1):
    """``mean|r| + penalty * mean|r - Z_aux D|`` with ``r = x - x_hat`` (the official code's default)."""
    return _top_k_auxiliary_loss(x, x_hat, pre_codes, codes, dictionary, torch.abs, penalty)


def top_k_auxiliary_l2(x, x_hat, pre_codes, codes, dictionary, penalty=0.1):
    """``mean r^2 + penalty * mean (r - Z_aux D)^2`` (the paper's Eq. 5 form)."""
    return _top_k_auxiliary_loss(x, x_hat, pre_codes, codes, dictionary, torch.square, penalty)


LOSSES = {"l1": top_k_auxiliary_l1, "l2": top_k_auxiliary_l2}
