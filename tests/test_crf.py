"""LinearChainCRF against brute-force enumeration of every label sequence."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from more_ie.experts.crf import DISALLOWED, LinearChainCRF, bio_start_mask, bio_transition_mask

BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _random_case(seed: int, num_labels: int, length: int, lengths: list[int]):
    """A CRF with random (not small) potentials, emissions [B, T, L] and a prefix mask."""
    gen = torch.Generator().manual_seed(seed)
    crf = LinearChainCRF(num_labels)
    with torch.no_grad():
        for p in crf.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    emissions = torch.randn(len(lengths), length, num_labels, generator=gen) * 2
    mask = torch.arange(length).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    tags = torch.randint(num_labels, (len(lengths), length), generator=gen)
    return crf, emissions, mask, tags


def _brute_force(crf: LinearChainCRF, emissions: torch.Tensor, n: int):
    """(log Z, {path: score}, marginals [n, L]) of one row, in float64, from the effective
    (constrained) potentials, by enumerating all L**n paths."""
    trans, start, end = (x.detach().double() for x in crf._potentials())
    em = emissions.detach().double()
    num_labels = em.size(-1)
    scores = {}
    for path in itertools.product(range(num_labels), repeat=n):
        s = start[path[0]] + end[path[-1]] + sum(em[t, y] for t, y in enumerate(path))
        s = s + sum(trans[path[t - 1], path[t]] for t in range(1, n))
        scores[path] = float(s)
    log_z = math.log(sum(math.exp(s) for s in scores.values()))
    marg = torch.zeros(n, num_labels, dtype=torch.float64)
    for path, s in scores.items():
        for t, y in enumerate(path):
            marg[t, y] += math.exp(s - log_z)
    return log_z, scores, marg


CASES = [
    # (seed, L, T, lengths): length 1 rows, full rows and an empty row
    (0, 3, 5, [5, 1, 0]),
    (1, 4, 4, [2, 4, 1]),
    (2, 2, 5, [0, 5, 3]),
    (3, 4, 5, [5, 3, 1]),
    (4, 1, 3, [3, 0, 2]),
    (5, 3, 1, [1, 0, 1]),
]


@pytest.mark.parametrize("seed,num_labels,length,lengths", CASES)
def test_against_brute_force(seed: int, num_labels: int, length: int, lengths: list[int]) -> None:
    crf, emissions, mask, tags = _random_case(seed, num_labels, length, lengths)
    log_z = crf.log_partition(emissions, mask)
    nll = crf.nll(emissions, tags, mask, reduction="none")
    paths = crf.viterbi(emissions, mask)
    _, best_scores = crf.viterbi_tensor(emissions, mask)
    marginals = crf.marginals(emissions, mask)
    assert marginals.shape == emissions.shape
    for b, n in enumerate(lengths):
        if n == 0:  # the empty sequence: one empty path of score 0
            assert log_z[b].item() == 0.0 and nll[b].item() == 0.0 and paths[b] == []
            assert marginals[b].abs().sum().item() == 0.0
            continue
        ref_z, scores, ref_marg = _brute_force(crf, emissions[b], n)
        assert log_z[b].item() == pytest.approx(ref_z, abs=1e-4)
        gold = tuple(tags[b, :n].tolist())
        assert nll[b].item() == pytest.approx(ref_z - scores[gold], abs=1e-4)
        best = max(scores, key=scores.__getitem__)
        assert tuple(paths[b]) == best
        assert best_scores[b].item() == pytest.approx(scores[best], abs=1e-4)
        assert torch.allclose(marginals[b, :n].double(), ref_marg, atol=1e-5)
        assert marginals[b, n:].abs().sum().item() == 0.0  # padding
    valid = mask.float()
    assert torch.allclose(marginals.sum(-1), valid, atol=1e-5)  # 1 at valid positions, 0 at padding


def test_reductions_and_padding_tags() -> None:
    crf, emissions, mask, tags = _random_case(7, 4, 5, [5, 2, 0])
    per_row = crf.nll(emissions, tags, mask, reduction="none")
    assert crf.nll(emissions, tags, mask, reduction="sum").item() == pytest.approx(per_row.sum().item())
    assert crf.nll(emissions, tags, mask).item() == pytest.approx(per_row.mean().item())
    # Whatever sits in the tags at padding positions (-100, as HF collators use) is ignored.
    padded = tags.masked_fill(~mask, -100)
    assert torch.allclose(crf.nll(emissions, padded, mask, reduction="none"), per_row)
    with pytest.raises(ValueError):
        crf.nll(emissions, tags, mask, reduction="avg")
    with pytest.raises(ValueError):  # a hole in the mask is not a prefix mask
        crf.log_partition(emissions, torch.tensor([[1, 0, 1, 0, 0]] * 3).bool())


def test_marginals_are_the_gradient_of_log_partition() -> None:
    # d log Z / d emissions = marginals: an independent check of forward-backward.
    crf, emissions, mask, _ = _random_case(8, 4, 6, [6, 3, 1, 0])
    emissions.requires_grad_(True)
    crf.log_partition(emissions, mask).sum().backward()
    assert torch.allclose(emissions.grad, crf.marginals(emissions.detach(), mask), atol=1e-5)


def test_gradients_flow() -> None:
    crf, emissions, mask, tags = _random_case(9, 3, 4, [4, 2, 1])
    emissions.requires_grad_(True)
    crf.nll(emissions, tags, mask).backward()
    for tensor in (emissions, crf.transitions, crf.start_transitions, crf.end_transitions):
        assert tensor.grad is not None and torch.isfinite(tensor.grad).all()
        assert tensor.grad.abs().sum().item() > 0


def test_training_drives_nll_down() -> None:
    # Emissions carry no information; the label sequence 0 1 2 0 1 2 ... can only be learned
    # through the start and transition scores.
    torch.manual_seed(0)
    num_labels, length = 3, 6
    crf = LinearChainCRF(num_labels)
    emissions = torch.zeros(4, length, num_labels)
    lengths = torch.tensor([6, 5, 3, 1])
    mask = torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)
    tags = (torch.arange(length) % num_labels).expand(4, -1)
    optimizer = torch.optim.Adam(crf.parameters(), lr=0.1)
    first = crf.nll(emissions, tags, mask).item()
    for _ in range(100):
        optimizer.zero_grad()
        loss = crf.nll(emissions, tags, mask)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05 * first
    assert crf.viterbi(emissions, mask) == [tags[b, :n].tolist() for b, n in enumerate(lengths.tolist())]


def test_bio_masks() -> None:
    allowed = bio_transition_mask(BIO)
    # into I-PER only from B-PER / I-PER; into anything else from anywhere
    assert allowed[:, 2].tolist() == [False, True, True, False, False]
    assert allowed[:, 4].tolist() == [False, False, False, True, True]
    assert allowed[:, [0, 1, 3]].all()
    assert bio_start_mask(BIO).tolist() == [True, True, False, True, False]
    # Labels outside the scheme (a padding label) are left unrestricted.
    assert bio_transition_mask(["<pad>", "O", "I-X"])[:, 0].all()


def test_bio_constraint_in_viterbi_nll_and_marginals() -> None:
    crf = LinearChainCRF(len(BIO))
    # Emissions that want "O I-PER I-PER" (15) over "B-PER I-PER I-PER" (14): invalid BIO,
    # which an unconstrained CRF (transitions within +-0.1) outputs.
    emissions = torch.tensor([[[5.0, 4.0, 0, 0, 0], [0, 0, 5.0, 0, 0], [0, 0, 5.0, 0, 0]]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    assert crf.viterbi(emissions, mask) == [[0, 2, 2]]
    crf.constrain_bio(BIO)
    assert crf.viterbi(emissions, mask) == [[1, 2, 2]]  # B-PER I-PER I-PER

    gen = torch.Generator().manual_seed(11)
    emissions = torch.randn(64, 5, len(BIO), generator=gen) * 3
    lengths = torch.randint(0, 6, (64,), generator=gen)
    mask = torch.arange(5).unsqueeze(0) < lengths.unsqueeze(1)
    allowed, start_ok = bio_transition_mask(BIO), bio_start_mask(BIO)
    for path in crf.viterbi(emissions, mask):
        assert not path or start_ok[path[0]]
        assert all(allowed[a, b] for a, b in zip(path, path[1:]))
    # Disallowed states get (numerically) zero probability; brute force agrees on log Z.
    marginals = crf.marginals(emissions, mask)
    assert marginals[:, 0, [2, 4]].max().item() < 1e-6
    b = int(torch.argmax(lengths))
    n = int(lengths[b])
    ref_z, _, ref_marg = _brute_force(crf, emissions[b], n)
    assert crf.log_partition(emissions, mask)[b].item() == pytest.approx(ref_z, abs=1e-4)
    assert torch.allclose(marginals[b, :n].double(), ref_marg, atol=1e-5)
    # A gold path that breaks the constraint costs about |DISALLOWED|.
    bad = torch.tensor([[0, 2, 2]])
    assert crf.nll(emissions[:1, :3], bad, torch.ones(1, 3, dtype=torch.bool)).item() > -DISALLOWED / 2
    crf.constrain(None)  # lifting the constraints
    assert crf.transition_allowed is None and crf.start_allowed is None


def test_constraints_are_not_saved() -> None:
    # Checkpoints load the same whether or not constraints were on (non-persistent buffers).
    crf = LinearChainCRF(len(BIO))
    crf.constrain_bio(BIO)
    assert set(crf.state_dict()) == {"transitions", "start_transitions", "end_transitions"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu() -> None:
    crf, emissions, mask, tags = _random_case(12, 5, 7, [7, 3, 1, 0])
    crf.constrain_bio(BIO)
    gpu = LinearChainCRF(5).cuda()
    gpu.load_state_dict(crf.state_dict())
    gpu.constrain_bio(BIO)
    args = (emissions.cuda(), mask.cuda())
    assert torch.allclose(gpu.log_partition(*args).cpu(), crf.log_partition(emissions, mask), atol=1e-4)
    assert torch.allclose(
        gpu.nll(*args[:1], tags.cuda(), args[1], reduction="none").cpu(),
        crf.nll(emissions, tags, mask, reduction="none"),
        atol=1e-4,
    )
    assert torch.allclose(gpu.marginals(*args).cpu(), crf.marginals(emissions, mask), atol=1e-5)
    assert gpu.viterbi(*args) == crf.viterbi(emissions, mask)
