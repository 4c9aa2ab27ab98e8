import pytest
import torch

from usae.sae.losses import LOSSES, auxiliary_codes

# Hand case: m = 4 concepts, d = 2; top-2 codes chose concepts 0 and 2.
X = torch.tensor([[4.0, 1.0]])
PRE = torch.tensor([[3.0, -1.0, 2.0, 0.5]])
CODES = torch.tensor([[3.0, 0.0, 2.0, 0.0]])
D = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
X_HAT = CODES @ D  # [5, 0]; residual r = [-1, 1]


def test_auxiliary_codes_keep_unselected_positive_precodes():
    aux = auxiliary_codes(PRE, CODES)
    assert torch.allclose(aux, torch.tensor([[0.0, 0.0, 0.0, 0.5]]))


def test_l1_hand_computed():
    # mean|r| = 1; Z_aux D = [0, 0.5]; mean|r - Z_aux D| = mean(1, 0.5) = 0.75
    assert LOSSES["l1"](X, X_HAT, PRE, CODES, D).item() == pytest.approx(1.0 + 0.1 * 0.75)


def test_l2_hand_computed():
    # mean r^2 = 1; mean (r - Z_aux D)^2 = mean(1, 0.25) = 0.625
    assert LOSSES["l2"](X, X_HAT, PRE, CODES, D).item() == pytest.approx(1.0 + 0.1 * 0.625)


def test_penalty_and_perfect_reconstruction():
    assert LOSSES["l1"](X, X_HAT, PRE, CODES, D, penalty=0.0).item() == pytest.approx(1.0)
    no_leftover = torch.tensor([[3.0, -1.0, 2.0, 0.0]])
    assert LOSSES["l1"](X_HAT, X_HAT, no_leftover, CODES, D).item() == 0.0


def test_threshold_selection_equals_top_half():
    torch.manual_seed(0)
    pre_codes = torch.randn(64, 30)
    codes = torch.zeros_like(pre_codes)
    top = torch.topk(torch.relu(pre_codes), 4, dim=1)
    codes.scatter_(1, top.indices, top.values)
    leftover = torch.relu(pre_codes) - codes
    half = torch.topk(leftover, 15, dim=1)
    expected = torch.zeros_like(leftover).scatter(1, half.indices, half.values)
    assert torch.equal(auxiliary_codes(pre_codes, codes), expected)


def test_precomputed_aux_codes_give_the_same_loss():
    aux = auxiliary_codes(PRE, CODES)
    assert LOSSES["l1"](X, X_HAT, PRE, CODES, D, aux_codes=aux).item() == LOSSES["l1"](X, X_HAT, PRE, CODES, D).item()
