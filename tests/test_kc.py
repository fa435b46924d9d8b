"""Corpus shards and the two KCs: the real dump sample, the demo dump's sharding, and BYO documents."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import WIKI_SAMPLE, WIKI_VITAL, needs_wiki_sample, needs_wiki_vital
from more_ie.demo import INDEX_NAME, XML_NAME
from more_ie.wiki import (
    DocFields,
    DocsError,
    ImageKcOptions,
    build_docs_shard,
    build_dump_shard,
    build_image_kc,
    build_redirects,
    build_text_kc,
    read_redirects,
    read_stats,
)
from more_ie.wiki.kc import KC_ID_SHARD_BITS

ANCHOR = re.compile(r"<e: ([^>]+)> ")


def _build(dump: Path, index: Path | None, n_shards: int, out: Path) -> dict[str, list]:
    shards = [out / f"s{k}.parquet" for k in range(n_shards)]
    for k, path in enumerate(shards):
        build_dump_shard(dump, index, k, n_shards, path)
    build_redirects(shards, out / "redirects.parquet")
    kcs = [out / f"kc{k}.parquet" for k in range(n_shards)]
    for k, (shard, kc) in enumerate(zip(shards, kcs)):
        build_text_kc(shard, out / "redirects.parquet", k, kc)
    build_image_kc(shards, out / "redirects.parquet", out / "image_kc.parquet")
    return {"shards": shards, "kcs": kcs}


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not WIKI_SAMPLE.exists():
        pytest.skip(f"{WIKI_SAMPLE} is absent")
    out = tmp_path_factory.mktemp("real_kc")
    _build(WIKI_SAMPLE, None, 1, out)
    return out


# ------------------------------------------------------------------------------------------------
# The real dump sample
# ------------------------------------------------------------------------------------------------


@needs_wiki_sample
def test_real_article_and_redirect_counts(real: Path) -> None:
    stats = read_stats(real / "s0.parquet")
    assert stats["pages_seen"] == 206
    assert stats["articles"] == 106  # ns 0, not redirects
    assert stats["redirects"] == 99  # the 100th redirect is in ns 4
    assert stats["skipped_not_article_namespace"] == 1
    redirects = read_redirects(real / "redirects.parquet")
    assert len(redirects) == 99
    assert redirects["AccessibleComputing"] == "Computer_accessibility"
    assert redirects["ANOVA"] == "Analysis_of_variance"
    assert redirects["A.E._van_Vogt"] == "A._E._van_Vogt"


@needs_wiki_sample
def test_real_disambiguation_pages_are_flagged_and_left_out(real: Path) -> None:
    shard = pq.read_table(real / "s0.parquet").to_pandas()
    flagged = set(shard[shard.is_disambiguation].title)
    assert {"Austin (disambiguation)", "Aberdeen (disambiguation)", "Alien"} <= flagged
    assert "Anarchism" not in flagged
    kc_titles = set(pq.read_table(real / "kc0.parquet", columns=["title"]).column("title").to_pylist())
    assert not kc_titles & flagged


@needs_wiki_sample
def test_real_image_references(real: Path) -> None:
    images = pq.read_table(real / "image_kc.parquet").to_pandas()
    lincoln = images[images.title == "Abraham Lincoln"]
    assert ("Abraham_Lincoln_O-77_matte_collodion_print.jpg", "infobox") in set(
        zip(lincoln.file, lincoln.source)
    )
    assert set(images.source) == {"link", "gallery", "infobox"}
    assert not images.file.str.lower().str.endswith((".ogg", ".ogv", ".webm", ".pdf", ".djvu")).any()
    assert images.page_id.nunique() <= 82 + 6  # 82 pages with File/Image links, a few infobox-only
    # infobox value shapes from the sample's README
    files = set(images.file)
    assert "Apollo_of_the_Belvedere.jpg" in files  # "File:" prefix
    assert "Alain_Connes.jpg" in files  # underscores
    assert "Flag_of_Angola.svg" in files  # followed by "|200px"
    assert images[images.title == "Abortion"].query("source == 'infobox'").empty  # comment only
    row = lincoln.iloc[0]
    assert row.value.startswith("Abraham Lincoln. ")
    assert re.fullmatch(
        r"https://upload\.wikimedia\.org/wikipedia/commons/thumb/[0-9a-f]/[0-9a-f]{2}/.+/320px-.+", row.url
    )


@needs_wiki_sample
def test_real_sentences_and_paragraphs(real: Path) -> None:
    kc = pq.read_table(real / "kc0.parquet").to_pandas()
    anarchism = kc[kc.title == "Anarchism"]
    first = anarchism.iloc[0]
    assert first.sentence == (
        "Anarchism is a <e: Political_philosophy> political philosophy </e> that advocates "
        "<e: Self-governance> self-governed </e> societies based on voluntary institutions."
    )
    assert first.section == "" and first.paragraph.startswith(first.sentence)
    assert (
        "Anarchism considers the <e: State_(polity)> state </e> to be undesirable, unnecessary, and harmful."
        in set(anarchism.sentence)
    )
    assert kc.kc_id.is_unique and all(int(i) >> KC_ID_SHARD_BITS == 0 for i in kc.kc_id)
    assert all(sentence in paragraph for sentence, paragraph in zip(kc.sentence, kc.paragraph))


@needs_wiki_sample
def test_real_anchors_are_resolved_through_redirects(real: Path) -> None:
    redirects = read_redirects(real / "redirects.parquet")
    shard = pq.read_table(real / "s0.parquet").to_pylist()
    page = next(p for p in shard if p["title"] == "Affirming the consequent")
    raw_targets = {t for par in page["paragraphs"] for t in ANCHOR.findall(par["text"])}
    assert "Argument_form" in raw_targets and redirects["Argument_form"] == "Logical_form"
    kc = pq.read_table(real / "kc0.parquet").to_pandas()
    targets = {t for s in kc[kc.title == "Affirming the consequent"].sentence for t in ANCHOR.findall(s)}
    assert "Logical_form" in targets and "Argument_form" not in targets
    all_targets = {t for s in kc.sentence for t in ANCHOR.findall(s)}
    assert not all_targets & set(redirects)


# ------------------------------------------------------------------------------------------------
# The demo's multistream dump: sharding by stream offsets gives the same rows as one pass
# ------------------------------------------------------------------------------------------------


def test_demo_multistream_sharding_equals_single_pass(demo_world: Path, tmp_path: Path) -> None:
    dump, index = demo_world / "wiki" / XML_NAME, demo_world / "wiki" / INDEX_NAME
    rows = {}
    for label, (idx, n) in {
        "single": (None, 1),
        "ms1": (index, 1),
        "ms3": (index, 3),
        "ms7": (index, 7),
    }.items():
        out = tmp_path / label
        out.mkdir()
        built = _build(dump, idx, n, out)
        pages = [r for s in built["shards"] for r in pq.read_table(s).to_pylist()]
        kc = [
            {k: v for k, v in r.items() if k != "kc_id"}
            for path in built["kcs"]
            for r in pq.read_table(path).to_pylist()
        ]
        images = pq.read_table(out / "image_kc.parquet").drop(["image_id"]).to_pylist()
        rows[label] = (sorted(pages, key=lambda r: r["page_id"]), kc, images)
        if n > 1:
            assert all(read_stats(s).get("pages_seen", 0) > 0 for s in built["shards"])
    assert rows["single"] == rows["ms1"] == rows["ms3"] == rows["ms7"]


def test_demo_dump_skips_and_counts_odd_pages(demo_world: Path, tmp_path: Path) -> None:
    manifest = json.loads((demo_world / "MANIFEST.json").read_text())
    out = tmp_path / "s.parquet"
    stats = build_dump_shard(demo_world / "wiki" / XML_NAME, demo_world / "wiki" / INDEX_NAME, 0, 1, out)
    assert stats["skipped_empty_text"] == 1
    assert stats["skipped_not_article_namespace"] == 2
    assert stats["disambiguation_pages"] == 1
    assert stats["pages_seen"] == manifest["wiki"]["pages"]
    assert stats["articles"] == manifest["wiki"]["articles"]  # the empty page is not an article there either
    assert stats["redirects"] == manifest["wiki"]["redirects"]


# ------------------------------------------------------------------------------------------------
# Bring your own corpus
# ------------------------------------------------------------------------------------------------


def test_jsonl_documents_feed_both_kcs(tmp_path: Path) -> None:
    docs = tmp_path / "docs.jsonl"
    docs.write_text(
        json.dumps(
            {
                "title": "Zorbl",
                "text": "Zorbl is a town. It has a port.\n\nHistory starts here.",
                "images": ["Zorbl port.jpg", "clip.ogg", "https://example.org/a/b.png"],
            }
        )
        + "\n"
        + json.dumps({"title": "Quux", "text": "Quux is a river."})
        + "\n"
    )
    shards = [tmp_path / f"s{k}.parquet" for k in range(2)]
    for k, shard in enumerate(shards):
        build_docs_shard(docs, k, 2, shard)
    build_redirects(shards, tmp_path / "r.parquet")
    build_text_kc(shards[0], tmp_path / "r.parquet", 0, tmp_path / "kc0.parquet")
    kc = pq.read_table(tmp_path / "kc0.parquet").to_pandas()
    assert kc.sentence.tolist() == ["Zorbl is a town.", "It has a port.", "History starts here."]
    assert kc.paragraph.tolist()[0] == "Zorbl is a town. It has a port."
    build_image_kc(shards, tmp_path / "r.parquet", tmp_path / "im.parquet", ImageKcOptions(thumb_width=None))
    images = pq.read_table(tmp_path / "im.parquet").to_pandas()
    assert images.file.tolist() == ["Zorbl_port.jpg", "b.png"]
    assert images.url.iloc[1] == "https://example.org/a/b.png"
    assert images.value.iloc[0].startswith("Zorbl. Zorbl is a town. It has a port.")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"title": "A", "text": "x"}\n{"title": "A", "text": "y"}\n', r"docs\.jsonl:2: duplicate title 'A'"),
        ('{"title": "A", "text": "x"}\nnot json\n', r"docs\.jsonl:2: not a JSON object"),
        ('{"text": "x"}\n', r"docs\.jsonl:1: missing or empty 'title'"),
        ('{"title": "A", "text": "x", "images": "a.jpg"}\n', r"docs\.jsonl:1: 'images' must be a list"),
    ],
)
def test_bad_documents_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    docs = tmp_path / "docs.jsonl"
    docs.write_text(content)
    out = tmp_path / "s.parquet"
    with pytest.raises(DocsError, match=message):
        build_docs_shard(docs, 0, 1, out)
    assert not out.exists()


@needs_wiki_vital
def test_wiki_vital_is_a_knowledge_source(tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    stats = build_docs_shard(WIKI_VITAL, 0, 1, out, DocFields(text_field="extract"))
    assert stats["documents"] == 10_033
    titles = set(pq.read_table(out, columns=["title"]).column("title").to_pylist())
    assert {"Barack Obama", "New York City", "Apple Inc."} <= titles


def test_hostile_file_names_cannot_escape_in_the_image_kc(tmp_path: Path) -> None:
    text = (
        "Evil is a page. [[File:../../etc/passwd.png|thumb]] [[Image:..\\\\win.jpg]]\n"
        "{{Infobox thing\n| image = ../../../root.jpg\n}}\n"
    )
    page = (
        f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/"><page><title>Evil</title><ns>0</ns>'
        f"<id>1</id><revision><text>{text}</text></revision></page></mediawiki>"
    )
    (tmp_path / "d.xml").write_text(page)
    _build(tmp_path / "d.xml", None, 1, tmp_path)
    files = pq.read_table(tmp_path / "image_kc.parquet").column("file").to_pylist()
    assert files and all("/" not in f and "\\\\" not in f and not f.startswith(".") for f in files)
