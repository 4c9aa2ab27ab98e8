"""Reconstruction losses, all with one signature: ``loss(x, x_hat, pre_codes, codes, dictionary)``.

``x``/``x_hat`` are ``(B, d)``; ``pre_codes``/``codes`` ``(B, m)``; ``dictionary`` the normalised ``(m, d)``.
"""

import torch
import torch.nn.functional as F


def auxiliary_codes(pre_codes_BM, codes_BM):
    """Keep the top m/2 of the positive pre-codes that top-k did not select (``ReLU(pre_codes) - codes``).

    Selected by a per-row threshold (``kthvalue``, half the cost of ``topk`` at m/2 on CPU): entries at or
    above the (m/2)-th largest value are kept. The result equals top-m/2 selection but for exact ties at
    a positive threshold; ties at zero add nothing.
    """
    leftover_BM = F.relu(pre_codes_BM) - codes_BM
    n_concepts = leftover_BM.shape[1]
    threshold_B1 = torch.kthvalue(leftover_BM.detach(), n_concepts - n_concepts // 2 + 1, dim=1, keepdim=True).values
    return leftover_BM * (leftover_BM >= threshold_B1)


def _top_k_auxiliary_loss(x, x_hat, pre_codes, codes, dictionary, error, penalty, aux_codes):
    residual = x - x_hat
    if aux_codes is None:
        aux_codes = auxiliary_codes(pre_codes, codes)
    return error(residual).mean() + penalty * error(residual - aux_codes @ dictionary).mean()


def top_k_auxiliary_l1(x, x_hat, pre_codes, codes, dictionary, penalty=0.1, aux_codes=None):
    """``mean|r| + penalty * mean|r - Z_aux D|`` with ``r = x - x_hat`` (the official code's default).

    ``aux_codes``, if given, is ``auxiliary_codes(pre_codes, codes)`` computed once for several decoders.
    """
    return _top_k_auxiliary_loss(x, x_hat, pre_codes, codes, dictionary, torch.abs, penalty, aux_codes)


def top_k_auxiliary_l2(x, x_hat, pre_codes, codes, dictionary, penalty=0.1, aux_codes=None):
    """``mean r^2 + penalty * mean (r - Z_aux D)^2`` (the paper's Eq. 5 form)."""
    return _top_k_auxiliary_loss(x, x_hat, pre_codes, codes, dictionary, torch.square, penalty, aux_codes)


LOSSES = {"l1": top_k_auxiliary_l1, "l2": top_k_auxiliary_l2}
