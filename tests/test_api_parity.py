"""API details checked item by item against PyTorch 2.15; the expected values are PyTorch's
behaviour, hard-coded (PyTorch is not needed to run these)."""

import math

import rgrad
import rgrad.nn.functional as F


def test_nll_loss_mean_all_ignored_has_zero_gradient():
    # PyTorch: loss nan (0 / 0 total weight), gradient exactly 0 for ignored entries.
    x = rgrad.tensor([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]], requires_grad=True)
    loss = F.nll_loss(x, rgrad.tensor([2, 2]), ignore_index=2)
    loss.backward()
    assert math.isnan(loss.item())
    assert x.grad.tolist() == [[0.0] * 3] * 2


def test_nll_loss_mean_zero_total_weight_nan_only_where_counted():
    # PyTorch: counted entries of weight 0 get 0 * inf = nan; the ignored one (target 0) gets 0.
    x = rgrad.tensor([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [0.5, 0.1, 0.1]], requires_grad=True)
    w = rgrad.tensor([1.0, 0.0, 0.0])
    F.nll_loss(x, rgrad.tensor([2, 1, 0]), weight=w, ignore_index=0).backward()
    nan_at = [[math.isnan(v) for v in row] for row in x.grad.tolist()]
    assert nan_at == [[False, False, True], [False, True, False], [False, False, False]]
