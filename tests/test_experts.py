"""Experts on tiny local models: context building, PURE markers, training, save/load, export."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from fixtures import tiny_train_config, write_split
from more_ie.utils import write_parquet
from tiny_models import make_tiny_bert

WORDS = ["Ada", "Lovelace", "visited", "Brimholt", "with", "Vantor", "Industries", "today", "\ufe0f"]
TAGS = ["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG", "O", "O"]


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = [" ".join(WORDS), "the town of brimholt lies on the river", "vantor industries makes tools"] * 20
    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"), corpus)


def test_context_is_cut_but_never_the_sentence(encoder_dir: Path) -> None:
    from more_ie.experts.context import ContextError, InputBuilder
    from more_ie.experts.encoder import load_tokenizer

    tokenizer = load_tokenizer(str(encoder_dir), "ner")
    builder = InputBuilder(tokenizer, max_subtokens=24)
    long_context = ["brimholt lies on the river " * 20, "never reached"]
    encoded = builder.ner(WORDS, long_context)
    assert len(encoded.input_ids) == 24
    alone = builder.ner(WORDS)
    n_sentence = alone.input_ids.index(tokenizer.sep_token_id)
    assert encoded.input_ids[:n_sentence] == alone.input_ids[:n_sentence]  # the sentence is intact
    assert encoded.input_ids[n_sentence] == tokenizer.convert_tokens_to_ids("[X]")
    assert len(encoded.word_starts) == len(WORDS)
    # the invisible token has a position of its own (the unknown token), so it keeps its label
    assert encoded.input_ids[encoded.word_starts[-1]] == tokenizer.unk_token_id
    with pytest.raises(ContextError, match="sample 7: the sentence alone"):
        InputBuilder(tokenizer, max_subtokens=6).ner(WORDS, where="sample 7")


def test_pure_markers_sit_around_subject_and_object(encoder_dir: Path) -> None:
    from more_ie.experts.context import InputBuilder
    from more_ie.experts.encoder import load_tokenizer

    tokenizer = load_tokenizer(str(encoder_dir), "re")
    encoded = InputBuilder(tokenizer, 64).re(WORDS, head=(0, 2), tail=(5, 7), contexts=["brimholt"])
    tokens = tokenizer.convert_ids_to_tokens(encoded.input_ids)
    s, o = encoded.marker_positions
    assert tokens[s] == "<S>" and tokens[o] == "<O>"
    close_s, close_o = tokens.index("</S>"), tokens.index("</O>")
    assert tokenizer.convert_tokens_to_string(tokens[s + 1 : close_s]).replace(" ", "") == "adalovelace"
    assert tokenizer.convert_tokens_to_string(tokens[o + 1 : close_o]).replace(" ", "") == "vantorindustries"
    assert s < close_s < o < close_o < tokens.index("[X]")


def _ner_split(path: Path, n: int) -> None:
    rows = [{"sample_id": i, "tokens": WORDS, "image": None, "tags": TAGS} for i in range(n)]
    write_split(path, rows, "ner", ["LOC", "ORG", "PER"])


def _retrieval(path: Path, n: int) -> None:
    rows = [
        {"sample_id": i, "rank": 1, "kc_id": 0, "score": 1.0, "text": "<e: Brimholt> Brimholt </e> is a town"}
        for i in range(n)
    ]
    from more_ie.search.bm25 import RETRIEVAL_SCHEMA

    write_parquet(pa.Table.from_pylist(rows, schema=RETRIEVAL_SCHEMA), path)


def _config(encoder_dir: Path, epochs: int):  # type: ignore[no-untyped-def]
    return tiny_train_config(encoder_dir, epochs)


@pytest.mark.slow
def test_ner_expert_trains_saves_loads_and_exports(encoder_dir: Path, tmp_path: Path) -> None:
    from more_ie.experts.model import Expert
    from more_ie.experts.train import ExpertTrainer

    splits = {s: tmp_path / f"{s}.parquet" for s in ("train", "dev", "test")}
    retrieval = {s: tmp_path / f"{s}.text.parquet" for s in splits}
    for split, n in (("train", 16), ("dev", 4), ("test", 4)):
        _ner_split(splits[split], n)
        _retrieval(retrieval[split], n)
    metrics = ExpertTrainer("ner", "text", _config(encoder_dir, 6)).run(
        splits, retrieval, tmp_path / "expert"
    )
    losses = [h["train_loss"] for h in metrics["history"]]
    assert losses[-1] < 0.5 * losses[0]
    assert metrics["test"]["micro"]["f1"] == pytest.approx(1.0)
    assert set(metrics["test"]["per_label"]) == {"PER", "LOC", "ORG"}
    assert "marginal_argmax_micro" in metrics["test"]
    assert metrics["test_alone"]["micro"]["f1"] == pytest.approx(1.0)  # the CVA student, without retrieval

    table = pq.read_table(tmp_path / "expert" / "test.marginals.parquet")
    labels = json.loads(table.schema.metadata[b"more_ie.labels"])
    assert labels[0] == "O" and len(labels) == 7
    marginals = table.column("marginals").to_pylist()[0]
    assert len(marginals) == len(WORDS) and all(abs(sum(row) - 1) < 1e-4 for row in marginals)
    assert table.column("viterbi").to_pylist()[0] == TAGS

    # save -> load gives identical outputs, without pickle
    from more_ie.experts.context import InputBuilder
    from more_ie.experts.data import collate, load_examples

    model, tokenizer = Expert.load(tmp_path / "expert" / "model")
    examples = load_examples(splits["test"], retrieval["test"], InputBuilder(tokenizer, 48), "ner", labels)
    batch = collate(examples, "ner", tokenizer.pad_token_id)
    again, _ = Expert.load(tmp_path / "expert" / "model")
    with torch.inference_mode():
        first = model.distribution(model.scores(batch), batch)
        second = again.distribution(again.scores(batch), batch)
    assert torch.equal(first, second)
    assert torch.allclose(first[0, : len(WORDS)], torch.tensor(marginals), atol=1e-5)


@pytest.mark.slow
def test_the_dev_export_is_the_selected_epochs_pass_not_the_last(encoder_dir: Path, tmp_path: Path) -> None:
    """The dev export reuses the dev pass of the epoch that model selection keeps (no second pass):
    with epoch 1 made the best, dev.marginals.parquet must be what the saved (epoch-1) model gives,
    which is not what the last epoch's weights gave."""
    import numpy as np

    from more_ie.experts.model import Expert
    from more_ie.experts.train import ExpertTrainer

    passes: list = []
    context_passes: list[int] = []  # the number of posts of each pass over posts with their contexts

    class FirstEpochBest(ExpertTrainer):
        def _dev_pass(self, model, examples):  # type: ignore[no-untyped-def]
            _, inferred = super()._dev_pass(model, examples)
            passes.append(inferred)
            return 1.0 / len(passes), inferred  # falling dev F1: epoch 1 is selected

        def _infer(self, model, examples, use_context=True):  # type: ignore[no-untyped-def]
            if use_context:
                context_passes.append(len(examples))
            return super()._infer(model, examples, use_context)

    splits = {s: tmp_path / f"{s}.parquet" for s in ("train", "dev", "test")}
    retrieval = {s: tmp_path / f"{s}.text.parquet" for s in splits}
    for split, n in (("train", 16), ("dev", 4), ("test", 4)):
        _ner_split(splits[split], n)
        _retrieval(retrieval[split], n)
    trainer = FirstEpochBest("ner", "text", _config(encoder_dir, 3))
    trainer.run(splits, retrieval, tmp_path / "expert")
    assert len(passes) == 3
    # with their contexts: dev once per epoch, then test; dev is not passed over again for its export
    assert context_passes == [4, 4, 4, 4]
    exported = pq.read_table(tmp_path / "expert" / "dev.marginals.parquet").column("marginals").to_pylist()
    model, _ = Expert.load(tmp_path / "expert" / "model")
    _, data = trainer._load(splits, retrieval, ("train", "dev"))
    _, fresh, _ = trainer._infer(model, data["dev"])
    assert [np.asarray(d).tolist() for d in fresh] == exported  # the kept weights' pass, exactly
    assert [d.tolist() for d in passes[0][1]] == exported
    assert [d.tolist() for d in passes[-1][1]] != exported


@pytest.mark.slow
def test_re_expert_learns_and_is_deterministic(encoder_dir: Path, tmp_path: Path) -> None:
    from more_ie.experts.train import ExpertTrainer

    rows = []
    for i in range(12):
        relation = "/per/org/member_of" if i % 2 == 0 else "None"
        head, tail = ((0, 2), (5, 7)) if i % 2 == 0 else ((3, 4), (7, 8))
        rows.append(
            {
                "sample_id": i,
                "tokens": WORDS,
                "image": None,
                "head": list(head),
                "tail": list(tail),
                "relation": relation,
            }
        )
    splits = {s: tmp_path / f"{s}.parquet" for s in ("train", "dev", "test")}
    for path in splits.values():
        write_split(path, rows, "re", ["/per/org/member_of", "None"])
    runs = [
        ExpertTrainer("re", "none", _config(encoder_dir, 5)).run(splits, {}, tmp_path / f"run{k}")
        for k in range(2)
    ]
    assert runs[0]["test"]["micro"]["f1"] == pytest.approx(1.0)
    assert runs[0]["test"]["none_excluded"] is True
    assert [h["train_loss"] for h in runs[0]["history"]] == [h["train_loss"] for h in runs[1]["history"]]
    probs = pq.read_table(tmp_path / "run0" / "test.marginals.parquet").column("probs").to_pylist()
    assert all(abs(sum(p) - 1) < 1e-5 for p in probs)


def test_contexts_keep_tagged_anchors_and_drop_repeated_values(tmp_path: Path) -> None:
    from more_ie.experts.data import read_contexts
    from more_ie.search.bm25 import RETRIEVAL_SCHEMA

    para = "<e: Brimholt> Brimholt </e> is a town."
    rows = [
        {"sample_id": 0, "rank": r, "kc_id": r, "score": 1.0, "text": t}
        for r, t in ((3, "Other text."), (1, para), (2, para))
    ]
    path = tmp_path / "r.parquet"
    write_parquet(pa.Table.from_pylist(rows, schema=RETRIEVAL_SCHEMA), path)
    assert read_contexts(path)[0] == [para, "Other text."]
    assert read_contexts(path, dedup=False)[0] == [para, para, "Other text."]
    assert read_contexts(path, anchors="surface")[0] == ["Brimholt is a town.", "Other text."]
    with pytest.raises(ValueError, match="anchors"):
        read_contexts(path, anchors="html")


def test_labels_come_from_train_and_unknown_gold_counts_as_missed(
    encoder_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from more_ie.experts.context import InputBuilder
    from more_ie.experts.data import load_examples, read_labels
    from more_ie.experts.encoder import load_tokenizer

    train, test = tmp_path / "train.parquet", tmp_path / "test.parquet"
    write_split(
        train, [{"sample_id": 0, "tokens": WORDS, "image": None, "tags": ["O"] * len(WORDS)}], "ner", ["PER"]
    )
    _ner_split(test, 1)  # has LOC and ORG, which train lacks
    labels = read_labels(train, "ner")
    assert labels == ["O", "B-PER", "I-PER"]
    builder = InputBuilder(load_tokenizer(str(encoder_dir), "ner"), 48)
    with caplog.at_level("WARNING"):
        (example,) = load_examples(test, None, builder, "ner", labels)
    assert example.gold == TAGS  # kept as written, so scoring counts them as missed
    assert "'B-LOC' occurs" in caplog.text and str(test) in caplog.text


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_half_precision_on_a_cpu_keeps_marginals_normalised_and_f1_near_fp32(
    encoder_dir: Path, tmp_path: Path, precision: str
) -> None:
    """Autocast on a CPU (issue 22): the encoder and emissions in bf16 / fp16 (fp16 with its
    GradScaler), the CRF in fp32. The exported marginals still sum to 1 per word (to 1e-4, fp32's
    tolerance above), dev/test F1 stay within 0.05 of fp32's on the same seed (the stated
    tolerance: one tag in 20 words may differ), and bf16's marginals within 0.15 of fp32's."""
    from dataclasses import replace

    from more_ie.experts.train import ExpertTrainer

    splits = {s: tmp_path / f"{s}.parquet" for s in ("train", "dev", "test")}
    retrieval = {s: tmp_path / f"{s}.text.parquet" for s in splits}
    for split, n in (("train", 16), ("dev", 4), ("test", 4)):
        _ner_split(splits[split], n)
        _retrieval(retrieval[split], n)
    results = {}
    for name in ("fp32", precision):
        config = replace(_config(encoder_dir, 6), precision=name)
        metrics = ExpertTrainer("ner", "text", config).run(splits, retrieval, tmp_path / name)
        assert metrics["precision"] == name
        table = pq.read_table(tmp_path / name / "test.marginals.parquet")
        results[name] = (metrics, torch.tensor(table.column("marginals").to_pylist()))
    (full, full_marginals), (half, half_marginals) = results["fp32"], results[precision]
    assert torch.allclose(half_marginals.sum(-1), torch.ones(half_marginals.shape[:-1]), atol=1e-4)
    assert half_marginals.dtype == torch.float32  # exported from the fp32 CRF
    for split in ("dev", "test"):
        assert abs(half[split]["micro"]["f1"] - full[split]["micro"]["f1"]) <= 0.05
    if precision == "bf16":
        # fp16 is not compared so: its GradScaler skips the first steps while it finds a scale that
        # does not overflow (from 2**16 down), a good share of this test's 24 steps, so the model
        # trains less far, as fp16 runs do at their start
        assert float((half_marginals - full_marginals).abs().max()) <= 0.15
