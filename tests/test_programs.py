"""Small training programs written the way PyTorch tutorials and projects write them, run with
``import rgrad as torch``. Each one once failed under rgrad, or behaved differently from
PyTorch; the expected values are closed forms, self-consistency (a resumed run against an
uninterrupted one), or numbers printed by PyTorch 2.15 for the same program (said so where
they are).
"""

import pytest

import rgrad as torch
import rgrad.nn as nn

# ------------------------------------------------------------- checks around the training loop


def test_nan_check_and_model_comparison_helpers():
    loss = torch.tensor(float("nan"))
    if torch.isnan(loss) or torch.isinf(loss):  # the usual "stop on divergence" guard
        stopped = True
    assert stopped
    assert not torch.isfinite(torch.tensor([1.0, float("inf")])).all()
    a = nn.Linear(3, 2)
    b = nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, 3)
    assert torch.allclose(a(x), b(x)) and torch.equal(a(x), b(x))
    assert a(x).allclose(b(x) + 1e-9) and not torch.allclose(a(x), b(x) + 1.0)
    assert not torch.equal(torch.ones(2), torch.ones(3))
    assert torch.isclose(
        torch.tensor([float("inf"), 1.0]), torch.tensor([float("inf"), 1.1])
    ).tolist() == [True, False]


def test_masks_combine_with_invert_and_or():
    x = torch.tensor([-2.0, -0.5, 0.5, 2.0])
    mask = x > 0
    assert x[~mask].tolist() == [-2.0, -0.5]
    assert (mask & (x < 1)).tolist() == [False, False, True, False]
    assert (mask | (x < -1)).tolist() == [True, False, True, True]
    assert (mask ^ (x > -1)).tolist() == [False, True, False, False]
    assert torch.logical_not(mask).tolist() == [True, True, False, False]
    assert (torch.tensor([6, 3]) & 2).tolist() == [2, 2]
    with pytest.raises(TypeError):
        _ = ~x


def test_topk_accuracy_loop():
    # Top-1 and top-2 accuracy as image-classification scripts compute them.
    logits = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    target = torch.tensor([1, 2, 0, 0])
    _, pred = logits.topk(2, dim=1, largest=True, sorted=True)
    pred = pred.t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    top1 = correct[:1].reshape(-1).float().sum(0, keepdim=True)
    top2 = correct[:2].reshape(-1).float().sum(0)
    assert top1.item() == 2 and top2.item() == 3
    values, order = torch.sort(torch.tensor([3.0, 1.0, 2.0]), descending=True)
    assert values.tolist() == [3.0, 2.0, 1.0] and order.tolist() == [0, 2, 1]
    assert torch.argsort(torch.tensor([3, 1, 2])).tolist() == [1, 2, 0]


def test_topk_passes_gradients_to_the_chosen_entries():
    x = torch.tensor([[3.0, 1.0, 2.0]], requires_grad=True)
    x.topk(2).values.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 1.0]]
    assert torch.square(torch.tensor([3.0])).item() == 9.0
