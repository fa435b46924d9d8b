"""Cross-view alignment as in the authors' code: direction, stop-gradient, reduction and weight."""

from __future__ import annotations

import pytest
import torch

from more_ie.experts.crf import LinearChainCRF
from more_ie.experts.cva import cva_loss, kl_sum_per_batch, teacher_distribution


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


class _Head(torch.nn.Module):
    """The part of an Expert that teacher_distribution calls: distribution(scores, batch)."""

    def __init__(self, crf: LinearChainCRF | None = None):
        super().__init__()
        self.crf = crf

    def distribution(self, scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return scores.softmax(-1) if self.crf is None else self.crf.marginals(scores, mask)


def test_teacher_logits_get_no_gradient_student_does() -> None:
    teacher_logits = torch.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
    student_logits = torch.tensor([[0.0, 1.0, 0.0]], requires_grad=True)
    teacher = teacher_distribution(_Head(), teacher_logits, None)
    loss = kl_sum_per_batch(teacher, student_logits.softmax(-1), None)
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


def test_crf_kl_trains_transitions_through_both_views_and_never_the_context_encoder() -> None:
    """The authors detach the context view's emissions, not its posterior (issue 25)."""
    torch.manual_seed(0)
    crf = LinearChainCRF(3)
    head = _Head(crf)
    ctx = torch.randn(2, 4, 3, requires_grad=True)  # stands for the context view's encoder output
    alone = torch.randn(2, 4, 3, requires_grad=True)
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    teacher = teacher_distribution(head, ctx, mask)
    student = crf.marginals(alone, mask)
    loss = kl_sum_per_batch(teacher, student, mask)
    assert loss.item() > 0
    # the teacher side alone (student held fixed) moves the transitions ...
    (via_teacher,) = torch.autograd.grad(
        kl_sum_per_batch(teacher, student.detach(), mask), crf.transitions, retain_graph=True
    )
    # ... and so does the student side alone (teacher held fixed)
    (via_student,) = torch.autograd.grad(
        kl_sum_per_batch(teacher.detach(), student, mask), crf.transitions, retain_graph=True
    )
    assert torch.count_nonzero(via_teacher) > 0 and torch.count_nonzero(via_student) > 0
    loss.backward()
    assert torch.allclose(crf.transitions.grad, via_teacher + via_student, atol=1e-6)
    # the context view's encoder gets nothing from the KL; the alone view's does
    assert ctx.grad is None or torch.count_nonzero(ctx.grad) == 0
    assert torch.count_nonzero(alone.grad[0]) > 0


def test_detaching_the_whole_teacher_would_lose_the_teacher_path() -> None:
    """The form this project had before: same loss value, a different transitions gradient."""
    torch.manual_seed(1)
    crf = LinearChainCRF(3)
    ctx, alone = torch.randn(1, 5, 3), torch.randn(1, 5, 3)
    mask = torch.ones(1, 5, dtype=torch.bool)
    authors = kl_sum_per_batch(teacher_distribution(_Head(crf), ctx, mask), crf.marginals(alone, mask), mask)
    (g_authors,) = torch.autograd.grad(authors, crf.transitions)
    cut = kl_sum_per_batch(crf.marginals(ctx, mask).detach(), crf.marginals(alone, mask), mask)
    (g_cut,) = torch.autograd.grad(cut, crf.transitions)
    assert authors.item() == pytest.approx(cut.item(), rel=1e-6)
    assert not torch.allclose(g_authors, g_cut, atol=1e-6)
