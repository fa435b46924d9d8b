"""Cross-view alignment as in the authors' code: direction, stop-gradient, reduction and weight."""

from __future__ import annotations

import pytest
import torch

from more_ie.experts.crf import LinearChainCRF
from more_ie.experts.cva import cva_loss, kl_sum_per_batch


def _dist(*rows: list[float]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def test_kl_direction_is_teacher_to_student() -> None:
    teacher, student = _dist([0.9, 0.1]), _dist([0.5, 0.5])
    expected = 0.9 * torch.log(torch.tensor(0.9 / 0.5)) + 0.1 * torch.log(torch.tensor(0.1 / 0.5))
    assert kl_sum_per_batch(teacher, student, None).item() == pytest.approx(expected.item(), rel=1e-6)
    reverse = 0.5 * torch.log(torch.tensor(0.5 / 0.9)) + 0.5 * torch.log(torch.tensor(0.5 / 0.1))
    assert kl_sum_per_batch(teacher, student, None).item() != pytest.approx(reverse.item(), rel=1e-3)


def test_ner_kl_sums_over_valid_tokens_and_divides_by_batch() -> None:
    # batch of 2 sentences, lengths 3 and 1; every valid token contributes the same KL k
    teacher = _dist([0.8, 0.2]).expand(2, 3, 2).clone()
    student = _dist([0.4, 0.6]).expand(2, 3, 2).clone()
    mask = torch.tensor([[True, True, True], [True, False, False]])
    k = kl_sum_per_batch(_dist([0.8, 0.2]), _dist([0.4, 0.6]), None).item()
    # 4 valid tokens / batch size 2 = 2k; a token mean would give k
    assert kl_sum_per_batch(teacher, student, mask).item() == pytest.approx(4 * k / 2)


def test_teacher_gets_no_gradient_student_does() -> None:
    teacher_logits = torch.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
    student_logits = torch.tensor([[0.0, 1.0, 0.0]], requires_grad=True)
    loss = kl_sum_per_batch(teacher_logits.softmax(-1), student_logits.softmax(-1), None)
    loss.backward()
    assert teacher_logits.grad is None or torch.count_nonzero(teacher_logits.grad) == 0
    assert torch.count_nonzero(student_logits.grad) > 0


def test_ner_weighting_is_the_authors_interpolation() -> None:
    p_ctx, p_alone = _dist([[0.7, 0.3]]), _dist([[0.2, 0.8]])
    kl = kl_sum_per_batch(p_ctx, p_alone, torch.tensor([[True]]))
    loss = cva_loss("ner", torch.tensor(2.0), torch.tensor(4.0), p_ctx, p_alone, torch.tensor([[True]]), 0.5)
    assert loss.item() == pytest.approx(0.5 * (2.0 + 4.0) + 0.5 * kl.item())
    loss = cva_loss("ner", torch.tensor(2.0), torch.tensor(4.0), p_ctx, p_alone, torch.tensor([[True]]), 0.8)
    assert loss.item() == pytest.approx(0.8 * 6.0 + 0.2 * kl.item())


def test_re_loss_is_the_unweighted_sum() -> None:
    p_ctx, p_alone = _dist([0.6, 0.3, 0.1], [0.1, 0.1, 0.8]), _dist([0.3, 0.3, 0.4], [0.2, 0.2, 0.6])
    kl = kl_sum_per_batch(p_ctx, p_alone, None)
    per_sample = [kl_sum_per_batch(p_ctx[i : i + 1], p_alone[i : i + 1], None).item() for i in range(2)]
    assert kl.item() == pytest.approx(sum(per_sample) / 2)  # a per-sample mean
    loss = cva_loss(
        "re", torch.tensor(1.0), torch.tensor(2.0), p_ctx, p_alone, None, 0.5
    )  # interpolation unused
    assert loss.item() == pytest.approx(3.0 + kl.item())


def test_crf_marginal_kl_flows_only_into_the_alone_view() -> None:
    torch.manual_seed(0)
    crf = LinearChainCRF(3)
    ctx = torch.randn(2, 4, 3, requires_grad=True)
    alone = torch.randn(2, 4, 3, requires_grad=True)
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    loss = kl_sum_per_batch(crf.marginals(ctx, mask), crf.marginals(alone, mask), mask)
    loss.backward()
    assert ctx.grad is None or torch.count_nonzero(ctx.grad) == 0
    assert torch.count_nonzero(alone.grad[0]) > 0
    assert loss.item() > 0
