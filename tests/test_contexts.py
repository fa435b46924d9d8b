"""Imported context views (issue 20): the importers on small hand-written files, and the real
PGIM / BLIP-2 files where ../shared/data has them."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SHARED_DATA
from more_ie.contexts.importer import import_contexts, randomize_contexts
from more_ie.contexts.readers import ContextFileError
from more_ie.contexts.settings import ImportSettings, RandomContextSettings
from more_ie.datasets.readers import NER_SCHEMA
from more_ie.utils import read_parquet_metadata, write_parquet

SENTENCES = [
    (["Citifield", "Fan", "View"], "a17.jpg"),
    (["RT", "@", "Mets", ":", "win"], "a18.jpg"),
    (["Go", "Yankees"], None),
    (["Hello", "Boston", "!"], "a20.jpg"),
]


def _split(path: Path, sentences: list = SENTENCES) -> Path:
    rows = [
        {"sample_id": i, "tokens": tokens, "image": image, "tags": ["O"] * len(tokens)}
        for i, (tokens, image) in enumerate(sentences)
    ]
    write_parquet(pa.Table.from_pylist(rows, schema=NER_SCHEMA), path, metadata={"more_ie.labels": "[]"})
    return path


def _eos_file(path: Path, blocks: list[tuple[list[str], str]]) -> Path:
    """AdaSeq CoNLL with <EOS>, CRLF line ends as PGIM's files have them."""
    lines = []
    for tokens, context in blocks:
        lines += [f"{t}\tO" for t in tokens] + ["<EOS>\tX"] + [f"{w}\tX" for w in context.split()] + [""]
    path.write_bytes("\r\n".join(lines).encode())
    return path


def _cache(path: Path) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for row in pq.read_table(path).to_pylist():
        out.setdefault(row["sample_id"], []).append(row["text"])
    return out


CONTEXTS = ["Citifield is a stadium", "the Mets are a team", "Yankees baseball club", "Boston is a city"]


def test_adaseq_eos_aligns_by_order_and_verifies_tokens(tmp_path: Path) -> None:
    split = _split(tmp_path / "dev.parquet")
    source = _eos_file(tmp_path / "valid.txt", [(t, c) for (t, _), c in zip(SENTENCES, CONTEXTS)])
    counts = import_contexts(
        split, source, tmp_path / "dev.pgim.parquet", "pgim", ImportSettings(source="PGIM")
    )
    assert counts["with_context"] == 4 and counts["without_context"] == 0
    assert _cache(tmp_path / "dev.pgim.parquet") == {i: [c] for i, c in enumerate(CONTEXTS)}
    imported = json.loads(read_parquet_metadata(tmp_path / "dev.pgim.parquet")["more_ie.imported"])
    assert imported["source"] == "PGIM" and imported["format"] == "adaseq_eos"


def test_a_file_one_block_short_leaves_the_last_sample_without_context(tmp_path: Path) -> None:
    split = _split(tmp_path / "dev.parquet")
    source = _eos_file(tmp_path / "valid.txt", [(t, c) for (t, _), c in zip(SENTENCES[:3], CONTEXTS)])
    out = tmp_path / "dev.pgim.parquet"
    # 1 of 4 missing = 25 %: over the default 1 %, an error that says so; nothing written
    with pytest.raises(
        ContextFileError, match=r"1 of 4 samples .* get no context \(25\.0 % > max_missing_share"
    ):
        import_contexts(split, source, out, "pgim")
    assert not out.exists()
    counts = import_contexts(split, source, out, "pgim", ImportSettings(max_missing_share=0.25))
    assert counts["without_context"] == 1 and counts["samples_after_last_block"] == 1
    assert sorted(_cache(out)) == [0, 1, 2]


def test_a_token_mismatch_names_file_block_and_token(tmp_path: Path) -> None:
    split = _split(tmp_path / "dev.parquet")
    blocks = [(t, c) for (t, _), c in zip(SENTENCES, CONTEXTS)]
    blocks[1] = (["RT", "@", "Metz", ":", "win"], CONTEXTS[1])
    source = _eos_file(tmp_path / "valid.txt", blocks)
    with pytest.raises(ContextFileError) as err:
        import_contexts(split, source, tmp_path / "o.parquet", "pgim")
    message = str(err.value)
    assert (
        str(source) in message and "block 2" in message and "(line 12)" in message
    )  # block 2 starts on line 10
    assert "token 3 is 'Metz'" in message and "'Mets'" in message


def test_a_file_with_more_blocks_than_the_split_is_an_error(tmp_path: Path) -> None:
    split = _split(tmp_path / "dev.parquet", SENTENCES[:2])
    source = _eos_file(tmp_path / "valid.txt", [(t, c) for (t, _), c in zip(SENTENCES, CONTEXTS)])
    with pytest.raises(ContextFileError, match=r"block 3 .*more blocks than the split's 2 samples"):
        import_contexts(split, source, tmp_path / "o.parquet", "pgim")


def test_captions_join_by_image_name_and_count_what_is_missing(tmp_path: Path) -> None:
    split = _split(tmp_path / "dev.parquet")
    # a17 by full name, a20 without its extension; a18 has no caption; sample 2 has no image
    captions = tmp_path / "captions.txt"
    captions.write_text("a17.jpg :a man at a stadium\nzz.jpg :unrelated\na20 :a city street\n")
    out = tmp_path / "dev.caption.parquet"
    with pytest.raises(ContextFileError, match=r"1 of 3 samples"):  # sample 2 has no image: not counted
        import_contexts(split, captions, out, "caption", ImportSettings(format="per_image"))
    counts = import_contexts(
        split, captions, out, "caption", ImportSettings(format="per_image", max_missing_share=0.5)
    )
    assert counts["samples_without_image"] == 1 and counts["without_context"] == 1
    assert _cache(out) == {0: ["a man at a stadium"], 3: ["a city street"]}
    # the JSONL form of the same file joins the same way
    jsonl = tmp_path / "captions.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps({"image": i, "text": t})
            for i, t in [("a17.jpg", "x"), ("a18.jpg", "y"), ("a20.jpg", "z")]
        )
    )
    import_contexts(split, jsonl, out, "caption", ImportSettings(format="per_image"))
    assert _cache(out) == {0: ["x"], 1: ["y"], 3: ["z"]}


def test_per_image_rejects_two_texts_for_one_image(tmp_path: Path) -> None:
    captions = tmp_path / "captions.txt"
    captions.write_text("a17.jpg :one\na17.jpg :two\n")
    with pytest.raises(
        ContextFileError, match=r"captions.txt:2: image 'a17.jpg' has a second, different text"
    ):
        import_contexts(
            _split(tmp_path / "d.parquet"), captions, tmp_path / "o", "c", ImportSettings(format="per_image")
        )


def test_jsonl_contexts_by_sample_id_or_line(tmp_path: Path) -> None:
    split = _split(tmp_path / "dev.parquet")
    source = tmp_path / "llm.jsonl"
    source.write_text(
        '{"sample_id": 0, "contexts": ["first", "second"]}\n{"line": 2, "contexts": ["mets"]}\n'
        '{"sample_id": 2, "contexts": ["yankees"]}\n{"sample_id": 3, "contexts": ["boston"]}\n'
    )
    import_contexts(split, source, tmp_path / "o.parquet", "llm", ImportSettings(format="jsonl"))
    assert _cache(tmp_path / "o.parquet") == {
        0: ["first", "second"],
        1: ["mets"],
        2: ["yankees"],
        3: ["boston"],
    }
    source.write_text('{"sample_id": 9, "contexts": ["x"]}\n')
    with pytest.raises(ContextFileError, match=r"llm.jsonl:1: sample 9 does not exist"):
        import_contexts(split, source, tmp_path / "o.parquet", "llm", ImportSettings(format="jsonl"))
    source.write_text('{"sample_id": 0, "contexts": "not a list"}\n')
    with pytest.raises(ContextFileError, match=r"llm.jsonl:1: \"contexts\" must be a list of strings"):
        import_contexts(split, source, tmp_path / "o.parquet", "llm", ImportSettings(format="jsonl"))


def test_random_ablation_gives_every_sample_another_samples_contexts(tmp_path: Path) -> None:
    split = _split(tmp_path / "dev.parquet")
    source = _eos_file(tmp_path / "valid.txt", [(t, c) for (t, _), c in zip(SENTENCES, CONTEXTS)])
    cache = tmp_path / "dev.pgim.parquet"
    import_contexts(split, source, cache, "pgim")
    out_a, out_b, out_c = (tmp_path / f"{x}.parquet" for x in "abc")
    randomize_contexts(cache, out_a, "random_pgim", RandomContextSettings(seed=1))
    randomize_contexts(cache, out_b, "random_pgim", RandomContextSettings(seed=1))
    randomize_contexts(cache, out_c, "random_pgim", RandomContextSettings(seed=2))
    drawn = _cache(out_a)
    assert sorted(drawn) == [0, 1, 2, 3]
    assert all(drawn[i] != [CONTEXTS[i]] for i in drawn)  # never its own
    assert sorted(t for texts in drawn.values() for t in texts) == sorted(CONTEXTS)  # same texts, moved
    assert drawn == _cache(out_b)  # seeded
    donors = pq.read_table(out_a).column("kc_id").to_pylist()  # kc_id names the donor sample
    assert all(d != s for d, s in zip(donors, pq.read_table(out_a).column("sample_id").to_pylist()))
    assert read_parquet_metadata(out_a)["more_ie.view"] == "random_pgim"
    assert len({json.dumps(_cache(out_a)), json.dumps(_cache(out_c))}) in (1, 2)


PGIM = SHARED_DATA / "pgim"


@pytest.mark.skipif(not (PGIM / "test.txt").exists(), reason=f"{PGIM} is absent")
def test_real_pgim_and_blip2_files_align_with_twitter2017_test(tmp_path: Path) -> None:
    from more_ie.datasets.normalize import normalize_split

    split = tmp_path / "test.parquet"
    normalize_split(SHARED_DATA / "twitter2017" / "test.txt", split, "conll_imgid")
    counts = import_contexts(split, PGIM / "test.txt", tmp_path / "pgim.parquet", "pgim")
    assert counts == {**counts, "samples": 723, "with_context": 723, "without_context": 0}
    counts = import_contexts(
        split,
        PGIM / "blip2_captions_2017.txt",
        tmp_path / "cap.parquet",
        "caption",
        ImportSettings(format="per_image"),
    )
    assert counts["with_context"] == 723
