"""Prediction on new posts: input parsing, the full MoRe path (BM25 + CLIP/Faiss + experts + gate),
batched = one at a time, the retrieval-free path, RE pairs, and the command's exit status.

The trained run is built in seconds, once per session (conftest's ``toy_run``, built by
``fixtures.build_toy_run``: a tiny random BERT as the experts' encoder, a Lucene index over a
six-sentence text KC, the tiny random CLIP over eight images, gates saved with
``more_ie.moe.gate.save_gate``), laid out exactly as the Snakemake rules lay out a real run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, snakemake_command
from fixtures import toy_manifest

pytest.importorskip("pyserini")

# the toy run (fixtures.build_toy_run) is conftest's session fixture toy_run, shared with
# tests/test_case_study.py


def _posts(run: Path) -> list[dict]:
    images = run.parent / "post_images"
    return [
        {"id": "a", "text": "Ada Lovelace was born in Brimholt.", "image": str(images / "p0.jpg")},
        {
            "id": "b",
            "tokens": ["RT", "@", "bob", ":", "Kevin", "Durant", "joined", "the", "Warriors"],
            "image": str(images / "gone.jpg"),
        },
        {"id": "c", "text": "The river Vant", "image": str(images / "broken.jpg")},
        {"id": "d", "text": "Vantor Industries makes tools in Brimholt and the Warriors play there too"},
        {"id": "e", "text": "Lovelace", "image": str(images / "p1.jpg")},
    ]


# -- input ---------------------------------------------------------------------------------------------


def test_malformed_lines_are_named_and_the_others_read(tmp_path: Path) -> None:
    from more_ie.predict.io import read_posts

    path = tmp_path / "posts.jsonl"
    path.write_text(
        '{"id": 1, "text": "Ada visited Brimholt!"}\n\nnot json\n{"id": 2}\n["a list"]\n'
        '{"id": 3, "tokens": ["x", "y"], "head": [0, 1], "tail": [1, 3]}\n'
        '{"id": 1, "text": "again"}\n{"id": "img", "text": "a b", "image": "pics/x.jpg"}\n'
    )
    posts, errors = read_posts(path)
    assert [p.id for p in posts] == ["1", "img"]
    assert posts[0].tokens == ["Ada", "visited", "Brimholt", "!"]
    assert posts[1].image == tmp_path / "pics" / "x.jpg"  # relative to the input file's folder
    assert {e.line: e.message for e in errors} == {
        3: "not valid JSON (Expecting value at column 1)",
        4: "needs 'text' (a string) or 'tokens' (a list of strings)",
        5: "expected a JSON object, got list",
        6: "tail [1, 3] is outside the post's 2 words",
        7: "id '1' repeats the post on line 1",
    }
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match="empty.jsonl: no posts"):
        read_posts(empty)


# -- full MoRe -----------------------------------------------------------------------------------------


def test_moe_prediction_records_entities_retrieval_and_image_status(toy_run: Path) -> None:
    from more_ie.predict import MoRe

    model = MoRe.load(toy_run, "toy_ner", variant="text+image", device="cpu")
    assert model.describe()["experts"] == ["text-s1", "image-s1"] and model.mode == "moe"
    records = model.predict(_posts(toy_run), batch_size=2)
    assert [r["id"] for r in records] == ["a", "b", "c", "d", "e"]
    assert [r["image"]["status"] for r in records] == ["ok", "missing", "unreadable", "none", "ok"]
    assert [r["views"] for r in records] == [
        ["image", "text"],
        ["text"],
        ["text"],
        ["text"],
        ["image", "text"],
    ]
    assert [len(r["retrieved"]["image"]) for r in records] == [2, 0, 0, 0, 2]
    # BM25 found the KC sentence the post repeats (its kc_id is shard 0, row 0; its title is "Ada")
    assert records[0]["retrieved"]["text"][0] == {
        **records[0]["retrieved"]["text"][0],
        "kc_id": 0,
        "title": "Ada",
    }
    for record in records:
        assert record["entities"], record  # the gate (+8) follows text-s1, which tags every word B-PER
        for entity in record["entities"]:
            assert entity["type"] == "PER" and 0.5 < entity["confidence"] <= 1.0
            assert entity["text"] == " ".join(record["tokens"][entity["start"] : entity["end"]])
        assert record["gate"]["weight_first"] > 0.99


def test_the_gate_decides_which_expert_the_mixture_follows(toy_run: Path) -> None:
    from more_ie.predict import MoRe

    posts = _posts(toy_run)[:2]
    first = MoRe.load(toy_run, "toy_ner", variant="text+image", device="cpu").predict(posts, details=True)
    second = MoRe.load(toy_run, "toy_ner", variant="image+text", device="cpu").predict(posts, details=True)
    for a, b in zip(first, second):
        assert a["mixed_tags"] == a["experts"]["text-s1"] and set(a["mixed_tags"]) == {"B-PER"}
        assert b["mixed_tags"] == b["experts"]["image-s1"] and set(b["mixed_tags"]) == {"B-LOC"}
        assert [e["type"] for e in b["entities"]] == ["LOC"] * len(b["tokens"])


def test_mixtures_decode_as_the_run_scored_them(
    toy_run: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The manifest's moe.decode reaches the mixture's tags; a manifest from before the setting
    existed decodes by per-token argmax (as that run was scored) and says so in the log."""
    import logging

    from more_ie.predict import MoRe, RunError
    from more_ie.predict.layout import RunLayout

    model = MoRe.load(toy_run, "toy_ner", variant="text+image", mixing="average", device="cpu")
    assert model.decode == "constrained" and model.describe()["decode"] == "constrained"
    assert MoRe.load(toy_run, "toy_ner", no_retrieval=True, device="cpu").describe()["decode"] == "viterbi"
    # a mixture whose argmax is O I-PER: the run's decoder gives a legal path, argmax does not
    dist = np.array([[0.6, 0.05, 0.05, 0.3, 0.0], [0.1, 0.05, 0.05, 0.2, 0.6]])
    assert [model.labels[t] for t in model._path(dist, None)] == ["B-PER", "I-PER"]
    entities = model._entities(["Ada", "Lovelace"], dist, model._path(dist, None))
    assert [(e["start"], e["end"], e["type"], e["confidence"]) for e in entities] == [(0, 2, "PER", 0.45)]
    old = json.loads((toy_run / "toy_ner" / "predict" / "run.json").read_text())
    del old["moe"]["decode"]
    with caplog.at_level(logging.INFO, logger="more_ie.predict.layout"):
        assert RunLayout(tmp_path, "toy_ner", old).decode() == "argmax"
    assert "no moe.decode in the manifest" in caplog.text
    model.decode = "argmax"  # what an old run's model holds
    assert [model.labels[t] for t in model._path(dist, None)] == ["O", "I-PER"]
    with pytest.raises(RunError, match="moe.decode 'viterbi'"):
        RunLayout(tmp_path, "toy_ner", {**old, "moe": {**old["moe"], "decode": "viterbi"}}).decode()


def test_batched_prediction_equals_one_post_at_a_time(toy_run: Path) -> None:
    from more_ie.predict import MoRe

    model = MoRe.load(toy_run, "toy_ner", variant="text+image", mixing="average", device="cpu")
    posts = _posts(toy_run)
    batched = model.predict(posts, batch_size=8, details=True)
    single = [model.predict([p], batch_size=1, details=True)[0] for p in posts]
    assert [r["experts"] for r in batched] == [r["experts"] for r in single]
    for a, b in zip(batched, single):
        assert a["retrieved"] == b["retrieved"] and a["mixed_tags"] == b["mixed_tags"]
        assert [e["confidence"] for e in a["entities"]] == pytest.approx(
            [e["confidence"] for e in b["entities"]], abs=1e-3
        )
    assert model.timings.posts == 2 * len(posts) and model.timings.retrieval > 0 and model.timings.experts > 0


def test_bf16_prediction_keeps_the_fp32_tags_and_confidences_close(toy_run: Path) -> None:
    """precision bf16 on a CPU (autocast around the experts and CLIP; the CRF in fp32): the same
    tags, confidences within 0.05 of fp32's, and the CLIP retrieval unchanged on this run."""
    from more_ie.predict import MoRe

    posts = _posts(toy_run)
    runs = {
        p: MoRe.load(toy_run, "toy_ner", variant="text+image", device="cpu", precision=p).predict(
            posts, details=True
        )
        for p in ("fp32", "bf16")
    }
    assert [e.precision for e in MoRe.load(toy_run, "toy_ner", precision="bf16", device="cpu").experts] == [
        "bf16",
        "bf16",
    ]
    for full, half in zip(runs["fp32"], runs["bf16"]):
        assert half["mixed_tags"] == full["mixed_tags"]
        assert [k["kc_id"] for v in half["retrieved"].values() for k in v] == [
            k["kc_id"] for v in full["retrieved"].values() for k in v
        ]
        assert [e["confidence"] for e in half["entities"]] == pytest.approx(
            [e["confidence"] for e in full["entities"]], abs=0.05
        )


def test_no_retrieval_reads_the_sentence_alone_without_any_index(toy_run: Path) -> None:
    from more_ie.predict import MoRe

    model = MoRe.load(toy_run, "toy_ner", variant="text+image", no_retrieval=True, device="cpu")
    assert model.mode == "no_retrieval" and [r.name for r in model.experts] == ["text-s1"]
    assert model.text is None and model.images is None and model.clip is None and model.gate is None
    records = model.predict(_posts(toy_run), details=True)
    assert all(r["retrieved"] == {} and r["views"] == [] and "gate" not in r for r in records)
    from more_ie.predict.experts import Item

    # the student never sees retrieved text, even when some is handed to it
    assert (
        model.experts[0]
        .encode(Item(["Ada", "Lovelace"], {"text": ["Ada Lovelace was born"]}))
        .context_subtokens
        == 0
    )
    assert all(set(r["experts"]["text-s1"]) == {"B-PER"} for r in records)


def test_re_pairs_from_the_post_or_from_an_ner_run(toy_run: Path) -> None:
    from more_ie.predict import MoRe

    model = MoRe.load(toy_run, "toy_re", variant="text+image", device="cpu")
    given = model.predict(
        [{"id": "r", "text": "Ada Lovelace was born in Brimholt", "head": [0, 2], "tail": [5, 6]}]
    )
    relation = given[0]["relations"][0]
    assert relation["head_text"] == "Ada Lovelace" and relation["tail_text"] == "Brimholt"
    assert relation["label"] == "born_in" and 0.5 < relation["probability"] <= 1.0  # text-s1 favours born_in
    with pytest.raises(ValueError, match="no head/tail"):
        model.predict([{"id": "r", "text": "Ada Lovelace"}])
    paired = MoRe.load(toy_run, "toy_re", variant="text+image", ner_dataset="toy_ner", device="cpu")
    out = paired.predict([{"id": "n", "text": "Ada Lovelace"}])[0]
    # the NER run tags both words B-PER: two one-word entities, two ordered pairs
    assert [(r["head"], r["tail"]) for r in out["relations"]] == [([0, 1], [1, 2]), ([1, 2], [0, 1])]


def test_a_missing_gate_or_run_names_what_is_missing(toy_run: Path) -> None:
    from more_ie.predict import MoRe, RunError

    with pytest.raises(
        RunError, match=r"text\+text/pair0/gate.safetensors: no saved gate .*--mixing average"
    ):
        MoRe.load(toy_run, "toy_ner", variant="text+text", device="cpu")
    with pytest.raises(RunError, match="has no dataset 'nope'"):
        MoRe.load(toy_run, "nope", device="cpu")


# -- the command ---------------------------------------------------------------------------------------


def _cli(run: Path, *args: str) -> subprocess.CompletedProcess:
    """``predict`` on ``run``'s toy_ner."""
    return subprocess.run(
        [sys.executable, "-m", "more_ie", "predict", "--run-dir", str(run), "--dataset", "toy_ner", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
    )  # generous: CI machines may be shared


def test_command_predicts_the_good_lines_and_exits_2_for_bad_ones(toy_run: Path, tmp_path: Path) -> None:
    posts = tmp_path / "posts.jsonl"
    lines = [json.dumps(p) for p in _posts(toy_run)]
    posts.write_text("\n".join(lines[:2] + ["{broken"] + lines[2:]) + "\n")
    out = tmp_path / "pred.jsonl"
    result = _cli(
        toy_run,
        *("--variant", "text+image", "--input", str(posts), "--out", str(out), "--device", "cpu"),
        *("--threads", "1", "--chunk", "2"),
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"{posts}:3: not valid JSON" in result.stderr
    # the terminal shows the project's lines and the warnings a user must act on, not open_clip's
    # INFO lines (on the root logger) nor the JVM's warnings about Lucene's internals
    assert "RANDOM WEIGHTS" in result.stderr and "more_ie.search.jvm: JVM started" in result.stderr
    for chatter in (" INFO root: ", "sun.misc.Unsafe", "MMapDirectory", "SimpleIndexer"):
        assert chatter not in result.stderr + result.stdout, result.stderr[-2000:]
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a", "b", "c", "d", "e"]
    stdout = _cli(
        toy_run, "--variant", "text+image", "--no-retrieval", "--input", str(posts), "--device", "cpu"
    )
    assert stdout.returncode == 2 and len(stdout.stdout.splitlines()) == 5
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    failed = _cli(toy_run, "--input", str(empty))
    assert failed.returncode == 1 and "no posts (the file is empty)" in failed.stderr


def _keys(value: object, prefix: str = "") -> set[str]:
    if not isinstance(value, dict):
        return {prefix}
    return set().union(*(_keys(v, f"{prefix}.{k}") for k, v in value.items()))


def test_the_workflow_writes_the_manifest_the_loader_reads(tmp_path: Path) -> None:
    import shutil

    from more_ie.predict.layout import RunLayout

    shutil.copy(REPO / "tests" / "config.tiny.yaml", tmp_path / "config.yaml")
    result = subprocess.run(
        snakemake_command(tmp_path, "results/demo_mner/predict/run.json", cores=1),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    layout = RunLayout.open(tmp_path / "results", "demo_mner")
    assert _keys(layout.manifest) == _keys(
        toy_manifest("demo_mner", "ner", "x", "results")
    )  # the fixture runs mirror it
    assert layout.task == "ner" and layout.manifest["text"]["k"] == 1  # tests/config.tiny.yaml
    assert layout.images_dir() == tmp_path / "results" / "demo" / "world" / "mner_images"
    assert (
        layout.path(layout.manifest["text"]["index"]) == tmp_path / "results" / "index" / "demowiki" / "bm25"
    )
