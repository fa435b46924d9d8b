"""Span decoding and NER / RE scores: hand-worked cases, and agreement with seqeval."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import pytest

from conftest import SHARED_DATA
from more_ie.experts.metrics import PRF, entity_types, ner_scores, re_scores
from more_ie.experts.spans import argmax_tags, bio_to_spans

seqeval_metrics = pytest.importorskip("seqeval.metrics")
from seqeval.metrics.sequence_labeling import get_entities  # noqa: E402

TWITTER2017_TEST = SHARED_DATA / "twitter2017" / "test.txt"


def _prf(p: PRF) -> tuple[float, float, float, int, int, int]:
    return (p.precision, p.recall, p.f1, p.tp, p.n_pred, p.n_gold)


# -- spans -----------------------------------------------------------------------------------
def test_bio_to_spans_hand_cases() -> None:
    assert bio_to_spans([]) == []
    assert bio_to_spans(["B-PER", "I-PER", "O", "B-LOC"]) == [(0, 2, "PER"), (3, 4, "LOC")]
    # A stray I- starts an entity (conlleval / seqeval lenient reading) ...
    assert bio_to_spans(["O", "I-PER", "I-PER"]) == [(1, 3, "PER")]
    # ... a type change ends one, and B- after I- splits.
    assert bio_to_spans(["B-PER", "I-LOC"]) == [(0, 1, "PER"), (1, 2, "LOC")]
    assert bio_to_spans(["I-ORG", "I-ORG", "B-ORG"]) == [(0, 2, "ORG"), (2, 3, "ORG")]
    assert bio_to_spans(["B-MISC", "I-MISC"]) == [(0, 2, "MISC")]  # runs to the end


def test_bio_to_spans_equals_seqeval_get_entities_on_random_sequences() -> None:
    rng = random.Random(0)
    vocab = ["O", "O", "O", "B-A", "I-A", "B-B", "I-B", "E-A", "S-B", "B", "I", "B-A-x", "I-A-x"]
    for _ in range(3000):
        tags = [rng.choice(vocab) for _ in range(rng.randint(0, 8))]
        expected = [(start, end + 1, type_) for type_, start, end in get_entities(tags)]
        assert bio_to_spans(tags) == expected, tags


def test_argmax_tags() -> None:
    labels = ["O", "B-PER", "I-PER"]
    assert argmax_tags([[0.1, 0.7, 0.2], [0.2, 0.3, 0.5], [0.5, 0.5, 0.0]], labels) == ["B-PER", "I-PER", "O"]
    assert argmax_tags([], labels) == []
    with pytest.raises(ValueError):
        argmax_tags([[0.5, 0.5]], labels)


# -- NER -------------------------------------------------------------------------------------
def test_ner_scores_hand_worked() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "B-MISC", "I-MISC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "O", "I-MISC"]]
    # gold entities: PER[0,2) LOC[3,4) | ORG[0,1) MISC[2,4)                 -> 4
    # pred entities: PER[0,2) ORG[3,4) | ORG[0,1) MISC[3,4) (stray I- starts) -> 4
    # correct: PER[0,2), ORG[0,1) in sentence 2                              -> tp 2
    scores = ner_scores(gold, pred)
    assert _prf(scores["micro"]) == (0.5, 0.5, 0.5, 2, 4, 4)  # 2/4, 2/4, 2*.5*.5/(.5+.5)
    per = scores["per_label"]
    assert list(per) == ["LOC", "MISC", "ORG", "PER"]
    assert _prf(per["PER"]) == (1.0, 1.0, 1.0, 1, 1, 1)
    assert _prf(per["LOC"]) == (0.0, 0.0, 0.0, 0, 0, 1)  # no prediction: P = 0/0 := 0
    assert _prf(per["MISC"]) == (0.0, 0.0, 0.0, 0, 1, 1)
    p = per["ORG"]  # tp 1, pred 2, gold 1: P 1/2, R 1/1, F1 2*.5*1/(.5+1) = 2/3
    assert (p.precision, p.recall, p.tp, p.n_pred, p.n_gold) == (0.5, 1.0, 1, 2, 1)
    assert p.f1 == pytest.approx(2 / 3, abs=1e-12)
    assert p.to_dict() == {"precision": 0.5, "recall": 1.0, "f1": p.f1, "tp": 1, "n_pred": 2, "n_gold": 1}


def test_ner_scores_degenerate() -> None:
    assert _prf(ner_scores([["O", "O"]], [["O", "O"]])["micro"]) == (0.0, 0.0, 0.0, 0, 0, 0)
    assert ner_scores([], [])["per_label"] == {}
    with pytest.raises(ValueError):
        ner_scores([["O"]], [["O", "O"]])


def _read_conll(path: Path) -> list[list[str]]:
    sentences: list[list[str]] = []
    current: list[str] = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.startswith("IMGID:"):
            continue
        if not line.strip():
            if current:
                sentences.append(current)
            current = []
            continue
        current.append(line.rsplit("\t", 1)[1])
    if current:
        sentences.append(current)
    return sentences


def _corrupt(gold: list[list[str]], seed: int) -> list[list[str]]:
    """Deterministic, tagger-like mistakes: dropped entities, boundary shifts, wrong types, B-
    turned into I-, a type switch inside an entity, and stray I-/B- tags on O tokens."""
    rng = random.Random(seed)
    types = ["PER", "LOC", "ORG", "MISC"]
    pred = []
    for sentence in gold:
        tags = list(sentence)
        for start, end, type_ in bio_to_spans(sentence):
            r = rng.random()
            if r < 0.08:  # drop
                tags[start:end] = ["O"] * (end - start)
            elif r < 0.16:  # wrong type
                new = rng.choice([t for t in types if t != type_])
                tags[start:end] = [f"B-{new}"] + [f"I-{new}"] * (end - start - 1)
            elif r < 0.22 and start > 0 and tags[start - 1] == "O":  # extend left
                tags[start - 1], tags[start] = f"B-{type_}", f"I-{type_}"
            elif r < 0.28 and end < len(tags) and tags[end] == "O":  # extend right
                tags[end] = f"I-{type_}"
            elif r < 0.34 and end - start > 1:  # cut the last token
                tags[end - 1] = "O"
            elif r < 0.38:  # B- -> I- (stray I- start)
                tags[start] = f"I-{type_}"
            elif r < 0.42 and end - start > 1:  # type switch inside the entity
                tags[end - 1] = f"I-{rng.choice([t for t in types if t != type_])}"
        for i, tag in enumerate(tags):
            if tag == "O" and rng.random() < 0.015:
                tags[i] = f"{rng.choice('BI')}-{rng.choice(types)}"
        pred.append(tags)
    return pred


def _assert_equal_to_seqeval(gold: list[list[str]], pred: list[list[str]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval's UndefinedMetricWarning on empty labels
        report = seqeval_metrics.classification_report(gold, pred, output_dict=True)
        expected = (
            seqeval_metrics.precision_score(gold, pred),
            seqeval_metrics.recall_score(gold, pred),
            seqeval_metrics.f1_score(gold, pred),
        )
    ours = ner_scores(gold, pred)
    micro = ours["micro"]
    assert (micro.precision, micro.recall, micro.f1) == pytest.approx(expected, abs=1e-9)
    assert micro.n_gold == report["micro avg"]["support"]
    labels = {k for k in report if not k.endswith(" avg")}
    assert set(ours["per_label"]) == labels
    for label in labels:
        p = ours["per_label"][label]
        row = report[label]
        assert (p.precision, p.recall, p.f1) == pytest.approx(
            (row["precision"], row["recall"], row["f1-score"]), abs=1e-9
        ), label
        assert p.n_gold == row["support"]


@pytest.mark.shared_data
@pytest.mark.skipif(not TWITTER2017_TEST.exists(), reason=f"{TWITTER2017_TEST} is absent")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ner_scores_equal_seqeval_on_twitter2017(seed: int) -> None:
    gold = _read_conll(TWITTER2017_TEST)
    assert len(gold) == 723  # tweets in the test split (see the data README)
    pred = _corrupt(gold, seed)
    assert pred != gold
    _assert_equal_to_seqeval(gold, pred)
    assert ner_scores(gold, pred)["micro"].n_gold == 1351  # entities in the test split (data README)
    # A perfect tagger scores 1.
    assert ner_scores(gold, gold)["micro"].f1 == 1.0


def test_ner_scores_equal_seqeval_on_random_tags() -> None:
    # No data needed: random (often invalid) BIO, including types only in gold or only in pred.
    rng = random.Random(5)
    vocab = ["O", "O", "O", "B-A", "I-A", "B-B", "I-B", "I-C"]
    for _ in range(50):
        lengths = [rng.randint(0, 7) for _ in range(rng.randint(1, 6))]
        gold = [[rng.choice(vocab) for _ in range(n)] for n in lengths]
        pred = [[rng.choice(vocab[:-1] + ["B-D"]) for _ in range(n)] for n in lengths]
        if not any(bio_to_spans(s) for s in gold + pred):
            continue  # seqeval's report fails on a corpus with no entity at all
        _assert_equal_to_seqeval(gold, pred)


# -- RE --------------------------------------------------------------------------------------
def test_entity_types() -> None:
    assert entity_types("/per/org/member_of") == ("per", "org")
    assert entity_types("/per/per/peer") == ("per",)  # counted once
    assert entity_types("None") == ()
    assert entity_types("member_of") == ()


def test_re_scores_hand_worked() -> None:
    gold = ["/per/org/member_of", "None", "/per/per/peer", "/loc/loc/contain", "None", "/per/org/member_of"]
    pred = [
        "/per/org/member_of",
        "/per/per/peer",
        "/per/per/peer",
        "None",
        "None",
        "/per/loc/place_of_residence",
    ]
    # correct non-None: #0 member_of, #2 peer                -> tp 2
    # predicted non-None: #0, #1, #2, #5                     -> 4  (#1 is a false alarm on a None pair)
    # gold non-None: #0, #2, #3, #5                          -> 4  (#3 missed as None)
    # #4 (None, None) counts nowhere: None is excluded, not a class to get right.
    scores = re_scores(gold, pred)
    assert scores["none_excluded"] is True
    assert _prf(scores["micro"]) == (0.5, 0.5, 0.5, 2, 4, 4)

    rel = scores["per_relation"]
    assert list(rel) == [
        "/loc/loc/contain",
        "/per/loc/place_of_residence",
        "/per/org/member_of",
        "/per/per/peer",
    ]
    # member_of: tp 1, pred 1 (#0), gold 2 (#0, #5): P 1, R 1/2, F1 2*1*.5/1.5 = 2/3
    assert _prf(rel["/per/org/member_of"])[:2] == (1.0, 0.5)
    assert rel["/per/org/member_of"].f1 == pytest.approx(2 / 3, abs=1e-12)
    # peer: tp 1, pred 2 (#1, #2), gold 1 (#2): P 1/2, R 1, F1 2/3
    assert _prf(rel["/per/per/peer"])[:2] == (0.5, 1.0)
    assert rel["/per/per/peer"].f1 == pytest.approx(2 / 3, abs=1e-12)
    assert _prf(rel["/loc/loc/contain"]) == (0.0, 0.0, 0.0, 0, 0, 1)
    assert _prf(rel["/per/loc/place_of_residence"]) == (0.0, 0.0, 0.0, 0, 1, 0)

    ent = scores["per_entity_type"]
    assert list(ent) == ["loc", "org", "per"]
    # Each relation counts once per distinct type of its head and tail:
    #   tp:   #0 member_of -> per, org;  #2 peer -> per                   => per 2, org 1
    #   pred: #0 -> per, org; #1 -> per; #2 -> per; #5 -> per, loc        => per 4, org 1, loc 1
    #   gold: #0 -> per, org; #2 -> per; #3 contain -> loc (once); #5 -> per, org
    #                                                                     => per 3, org 2, loc 1
    per = ent["per"]  # P 2/4, R 2/3, F1 2*(1/2)(2/3)/(1/2+2/3) = (2/3)/(7/6) = 4/7
    assert (per.tp, per.n_pred, per.n_gold, per.precision) == (2, 4, 3, 0.5)
    assert per.recall == pytest.approx(2 / 3, abs=1e-12) and per.f1 == pytest.approx(4 / 7, abs=1e-12)
    org = ent["org"]  # P 1/1, R 1/2, F1 2/3
    assert (org.tp, org.n_pred, org.n_gold, org.precision, org.recall) == (1, 1, 2, 1.0, 0.5)
    assert org.f1 == pytest.approx(2 / 3, abs=1e-12)
    assert _prf(ent["loc"]) == (0.0, 0.0, 0.0, 0, 1, 1)


def test_re_scores_degenerate_and_custom_none() -> None:
    # Only None: nothing to find and nothing predicted -> every score 0, no ZeroDivisionError.
    scores = re_scores(["None", "None"], ["None", "None"])
    assert _prf(scores["micro"]) == (0.0, 0.0, 0.0, 0, 0, 0)
    assert scores["per_relation"] == {} and scores["per_entity_type"] == {}
    # A different none label; "None" is then an ordinary (typeless) relation.
    scores = re_scores(["NA", "/a/b/r"], ["/a/b/r", "/a/b/r"], none_label="NA")
    assert _prf(scores["micro"]) == (0.5, 1.0, 2 * 0.5 * 1.0 / 1.5, 1, 2, 1)
    with pytest.raises(ValueError):
        re_scores(["None"], [])
