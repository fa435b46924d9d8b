"""Constrained decoding of (mixed) CRF marginals: the best legal BIO sequence, checked against brute
force; the MoE stage's average pooling and moe_f1.json use the configured decoder."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import torch

from more_ie.experts.crf import bio_start_mask, bio_transition_mask
from more_ie.moe.decode import (
    DECODE_METHODS,
    constrained_decode,
    constrained_decode_batch,
    decode_batch,
    decode_marginals,
)

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _follows(previous: str, tag: str) -> bool:
    """The BIO rule written out on the strings (independent of the masks): I-X only after B-X or I-X."""
    return not tag.startswith("I-") or previous in (f"B-{tag[2:]}", tag)


def _legal(path: list[int], labels: list[str]) -> bool:
    """No I-X first (as if after an O), and every move allowed."""
    tags = ["O", *(labels[j] for j in path)]
    return all(_follows(a, b) for a, b in zip(tags, tags[1:]))


def _log_score(marginals: np.ndarray, path: list[int]) -> float:
    return float(sum(np.log(max(float(marginals[t, j]), 1e-12)) for t, j in enumerate(path)))


def _random_marginals(rng: np.random.Generator, length: int, n_labels: int = len(LABELS)) -> np.ndarray:
    # sharp Dirichlet rows: the per-token argmax is often illegal, which is what is tested
    return rng.dirichlet(np.full(n_labels, 0.3), size=length).astype(np.float32)


@pytest.mark.parametrize("seed", range(6))
def test_decoder_finds_the_best_legal_sequence_by_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for length in range(1, 6):
        marginals = _random_marginals(rng, length)
        legal = [
            list(p) for p in itertools.product(range(len(LABELS)), repeat=length) if _legal(list(p), LABELS)
        ]
        best = max(_log_score(marginals, p) for p in legal)
        path = constrained_decode(marginals, LABELS)
        assert len(path) == length and _legal(path, LABELS), [LABELS[j] for j in path]
        assert _log_score(marginals, path) == pytest.approx(best, abs=1e-6)
        # nothing the CRF forbids: the masks agree with the string rule
        allowed, start = bio_transition_mask(LABELS).numpy(), bio_start_mask(LABELS).numpy()
        assert start[path[0]] and all(allowed[a, b] for a, b in zip(path, path[1:]))


def test_masks_are_the_string_rule() -> None:
    allowed, start = bio_transition_mask(LABELS).numpy(), bio_start_mask(LABELS).numpy()
    for i, j in itertools.product(range(len(LABELS)), repeat=2):
        assert allowed[i, j] == _follows(LABELS[i], LABELS[j])
    assert start.tolist() == [_follows("O", tag) for tag in LABELS]


def test_an_argmax_of_o_then_i_per_becomes_legal() -> None:
    # argmax: O I-PER (and a sentence starting with I-LOC); both illegal
    marginals = np.array(
        [
            [0.60, 0.30, 0.05, 0.03, 0.02],
            [0.10, 0.20, 0.60, 0.05, 0.05],
            [0.70, 0.10, 0.10, 0.05, 0.05],
        ]
    )
    assert [LABELS[j] for j in decode_marginals(marginals, LABELS, "argmax")] == ["O", "I-PER", "O"]
    path = [LABELS[j] for j in decode_marginals(marginals, LABELS, "constrained")]
    # B-PER I-PER (0.3 * 0.6) beats O B-PER (0.6 * 0.2): the entity keeps both words
    assert path == ["B-PER", "I-PER", "O"]
    first = np.array([[0.1, 0.1, 0.1, 0.2, 0.5], [0.9, 0.025, 0.025, 0.025, 0.025]])
    assert decode_marginals(first, LABELS, "argmax")[0] == LABELS.index("I-LOC")
    assert [LABELS[j] for j in constrained_decode(first, LABELS)] == ["B-LOC", "O"]


def test_zero_marginals_and_labels_outside_bio() -> None:
    # exact zeros (a CRF forbidding a label) are clamped, not -inf: a legal path still exists
    zeros = np.zeros((3, len(LABELS)))
    zeros[:, 2] = 1.0  # all mass on I-PER, which cannot start
    path = constrained_decode(zeros, LABELS)
    assert _legal(path, LABELS) and path[1:] == [2, 2] and path[0] == LABELS.index("B-PER")
    # a label outside the scheme (padding) is unrestricted, as in the CRF
    labels = ["<pad>", "O", "I-X", "B-X"]
    marginals = np.array(
        [[0.9, 0.1, 0.0, 0.0], [0.1, 0.1, 0.1, 0.7], [0.1, 0.1, 0.8, 0.0], [0.9, 0.1, 0.0, 0.0]]
    )
    assert constrained_decode(marginals, labels) == [0, 3, 2, 0]  # it may start and follow I-X
    # ... but it is no B-X: I-X after it is as illegal as after O
    assert constrained_decode(np.array([[0.9, 0.0, 0.1, 0.0], [0.1, 0.0, 0.9, 0.0]]), labels) == [0, 0]
    with pytest.raises(ValueError, match="no label sequence"):
        constrained_decode(np.ones((2, 1)), ["I-X"])


def test_batch_with_padding_equals_one_sentence_at_a_time() -> None:
    rng = np.random.default_rng(7)
    lengths = [4, 1, 0, 7, 3]
    batch = rng.random((len(lengths), 7, len(LABELS)))  # padding holds junk: it must be ignored
    expected = [constrained_decode(batch[i, :n], LABELS) if n else [] for i, n in enumerate(lengths)]
    assert constrained_decode_batch(batch, lengths, LABELS) == expected
    assert decode_batch(batch, lengths, LABELS, "constrained") == expected
    assert decode_batch(batch, lengths, LABELS, "argmax") == [
        batch[i, :n].argmax(-1).tolist() for i, n in enumerate(lengths)
    ]
    assert constrained_decode(np.zeros((0, len(LABELS))), LABELS) == []
    with pytest.raises(ValueError, match="decode method"):
        decode_marginals(batch[0], LABELS, "viterbi")
    with pytest.raises(ValueError, match="lengths"):
        constrained_decode_batch(batch, [8, 1, 0, 7, 3], LABELS)
    assert DECODE_METHODS == ("constrained", "argmax")


def _split(marginals: list[np.ndarray], gold: list[list[str]]):  # type: ignore[no-untyped-def]
    from more_ie.moe.train import SplitData

    n = len(marginals)
    return SplitData(
        sample_ids=list(range(n)),
        gold=gold,
        features=np.zeros((n, 2), dtype=np.float32),
        dists={"a": marginals},
        preds={"a": [[LABELS[j] for j in m.argmax(-1)] for m in marginals]},
    )


def test_average_pooling_of_an_expert_with_itself_is_its_constrained_decoding() -> None:
    from more_ie.moe.gate import Gate
    from more_ie.moe.scoring import score
    from more_ie.moe.train import evaluate_pair

    rng = np.random.default_rng(3)
    marginals = [_random_marginals(rng, int(rng.integers(1, 9))) for _ in range(60)]
    gold = [[LABELS[j] for j in constrained_decode(m, LABELS)] for m in marginals]
    data = _split(marginals, gold)
    constrained, _ = evaluate_pair("ner", data, "a", "a", LABELS, None, decode="constrained")
    assert constrained["prf"].f1 == 1.0  # gold is the expert's own constrained decoding
    argmax, _ = evaluate_pair("ner", data, "a", "a", LABELS, None, decode="argmax")
    expected, _ = score("ner", gold, [[LABELS[j] for j in m.argmax(-1)] for m in marginals])
    assert argmax["prf"] == expected and argmax["prf"].f1 < 1.0  # the sharp rows have illegal argmaxes
    # a gate of weight 1 (on an expert paired with itself, any weight) decodes the same way
    gate = Gate(2, len(LABELS), "per_label")
    with torch.no_grad():
        gate.linear.bias.fill_(30.0)
    gated, _ = evaluate_pair("ner", data, "a", "a", LABELS, gate, decode="constrained")
    assert gated["prf"] == constrained["prf"]


@pytest.mark.parametrize("decode", ["constrained", "argmax"])
def test_the_decoder_reaches_moe_f1_json_and_the_summary(tmp_path: Path, decode: str) -> None:
    from more_ie.moe import MoeConfig, run_moe, variant_pairs
    from more_ie.moe.summary import build_tables
    from test_moe import SCHEMA, _fixture

    rng = np.random.default_rng(0)
    dev_split, dev_features = _fixture(tmp_path, 30, "dev", rng)
    test_split, test_features = _fixture(tmp_path, 20, "test", rng)
    experts = {f"{v}-s{s}": tmp_path / f"{v}-s{s}" for v in ("none", "text", "image") for s in (1, 2)}
    result = run_moe(
        "ner",
        experts,
        {"text+image": variant_pairs("text+image", [1, 2])},
        {"dev": dev_split, "test": test_split},
        {"dev": dev_features, "test": test_features},
        tmp_path / "moe_f1.json",
        MoeConfig(epochs=2, bootstrap_resamples=20, decode=decode),
        "h",
        "fixture",
    )
    written = json.loads((tmp_path / "moe_f1.json").read_text())
    jsonschema.validate(written, SCHEMA)
    assert written["decode"] == decode and written["moe_config"]["decode"] == decode
    assert build_tables([result])["Table 2: main results (test F1)"].iloc[0]["NER decode"] == decode
    # the experts' own constrained decoding does not depend on the MoE's decoder
    for entry in written["experts"].values():
        assert 0 <= entry["test_marginal_constrained"]["f1"] <= 1
    table = build_tables([result])[
        "Table 6: Viterbi vs marginal argmax and constrained decoding (test F1, NER)"
    ]
    assert list(table.view) == ["image", "none", "text"]
    # the fixture's experts record no marginal-argmax F1 (as older experts): that cell stays empty
    assert (table["marginal argmax"] == "").all() and table["marginal constrained"].str.contains("n=2").all()
    old = json.loads(json.dumps(result))
    for entry in old["experts"].values():
        del entry["test_marginal_constrained"]
    assert build_tables([old])[
        "Table 6: Viterbi vs marginal argmax and constrained decoding (test F1, NER)"
    ].empty
