"""Dump reading and sharding: the real sample, the demo multistream dump, and bad input."""

from __future__ import annotations

import bz2
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import WIKI_SAMPLE, needs_wiki_sample
from more_ie.wiki import DumpError, build_dump_shard, iter_pages, make_shard, plan_shards, read_stream_offsets

NS = "http://www.mediawiki.org/xml/export-0.10/"


def _page_xml(page_id: int, title: str, text: str, ns: int = 0, redirect: str | None = None) -> str:
    redirect_el = f'<redirect title="{redirect}" />' if redirect else ""
    return (
        f"<page><title>{title}</title><ns>{ns}</ns><id>{page_id}</id>{redirect_el}"
        f'<revision><id>{page_id * 10}</id><text xml:space="preserve">{text}</text></revision></page>'
    )


def _dump_xml(pages: list[str], schema: str = "0.10") -> str:
    return (
        f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-{schema}/" version="{schema}" xml:lang="en">'
        "<siteinfo><sitename>Test</sitename></siteinfo>" + "".join(pages) + "</mediawiki>"
    )


# ------------------------------------------------------------------------------------------------
# The real dump sample (206 pages)
# ------------------------------------------------------------------------------------------------


@needs_wiki_sample
def test_real_sample_page_counts() -> None:
    pages = list(iter_pages(make_shard(WIKI_SAMPLE, None, 0, 1)))
    assert len(pages) == 206
    assert sum(p.redirect is not None for p in pages) == 100
    assert sum(p.ns == 0 for p in pages) == 205
    assert sum(p.ns == 0 and p.redirect is None for p in pages) == 106
    first = pages[0]
    assert (first.page_id, first.title, first.redirect) == (
        10,
        "AccessibleComputing",
        "Computer accessibility",
    )


@needs_wiki_sample
def test_real_sample_modulo_shards_partition_the_pages() -> None:
    whole = [p.page_id for p in iter_pages(make_shard(WIKI_SAMPLE, None, 0, 1))]
    parts = [[p.page_id for p in iter_pages(make_shard(WIKI_SAMPLE, None, k, 3))] for k in range(3)]
    assert sorted(sum(parts, [])) == sorted(whole)
    assert all(parts)


# ------------------------------------------------------------------------------------------------
# Formats and schemas
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("schema", ["0.8", "0.9", "0.10", "0.11"])
@pytest.mark.parametrize("compression", ["xml", "bz2"])
def test_plain_and_bz2_dumps_of_every_schema(tmp_path: Path, schema: str, compression: str) -> None:
    xml = _dump_xml(
        [
            _page_xml(1, "Alpha", "Alpha is a letter."),
            _page_xml(2, "A", "#REDIRECT [[Alpha]]", redirect="Alpha"),
        ],
        schema,
    )
    path = tmp_path / f"dump.{compression}"
    path.write_bytes(bz2.compress(xml.encode()) if compression == "bz2" else xml.encode())
    pages = list(iter_pages(make_shard(path, None, 0, 1)))
    assert [(p.page_id, p.title, p.redirect) for p in pages] == [(1, "Alpha", None), (2, "A", "Alpha")]


def test_empty_redirect_element_reads_target_from_text(tmp_path: Path) -> None:
    page = "<page><title>B</title><ns>0</ns><id>3</id><redirect/><revision><text>#REDIRECT [[Beta|x]]</text></revision></page>"  # noqa: E501
    path = tmp_path / "old.xml"
    path.write_text(_dump_xml([page], "0.8"))
    assert next(iter_pages(make_shard(path, None, 0, 1))).redirect == "Beta"


# ------------------------------------------------------------------------------------------------
# Shard planning
# ------------------------------------------------------------------------------------------------


def test_plan_shards_covers_every_stream_once() -> None:
    offsets = [100, 250, 400, 900, 1000, 1500]
    for n in range(1, 9):
        plan = plan_shards(offsets, 2000, n)
        assert len(plan) == n
        ranges = [r for shard in plan for r in shard]
        assert ranges[0].start == 100 and ranges[-1].end == 2000
        assert all(a.end == b.start for a, b in zip(ranges, ranges[1:]))
        assert {r.start for r in ranges} <= set(offsets)


def test_index_errors_name_the_line(tmp_path: Path) -> None:
    index = tmp_path / "index.txt"
    index.write_text("0:1:A\nnot-an-offset\n")
    with pytest.raises(DumpError, match=r"index.txt:2"):
        read_stream_offsets(index)


# ------------------------------------------------------------------------------------------------
# Bad input: clear errors, nothing half-written
# ------------------------------------------------------------------------------------------------


def test_truncated_bz2_is_a_clear_error_and_leaves_no_output(tmp_path: Path) -> None:
    xml = _dump_xml([_page_xml(i, f"P{i}", "Some text. " * 200) for i in range(1, 40)])
    data = bz2.compress(xml.encode())
    path = tmp_path / "cut.xml.bz2"
    path.write_bytes(data[: len(data) // 2])
    out = tmp_path / "shard.parquet"
    with pytest.raises(DumpError, match=r"cut\.xml\.bz2.*truncated"):
        build_dump_shard(path, None, 0, 1, out)
    assert not out.exists()
    assert not list(tmp_path.glob(".shard.parquet*"))


def test_malformed_xml_names_file_and_line(tmp_path: Path) -> None:
    xml = _dump_xml(
        [_page_xml(1, "Good", "fine"), "<page><title>Bad</title><ns>0</ns>\n<id>2</id><oops></page>"]
    )
    path = tmp_path / "bad.xml"
    path.write_text(xml)
    out = tmp_path / "shard.parquet"
    with pytest.raises(DumpError, match=r"bad\.xml.*malformed XML at line 2.*after page 'Good'"):
        build_dump_shard(path, None, 0, 1, out)
    assert not out.exists()


def test_wrong_root_element(tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    path.write_text("<html><body/></html>")
    with pytest.raises(DumpError, match="not <mediawiki>"):
        list(iter_pages(make_shard(path, None, 0, 1)))


def test_empty_and_gigantic_pages_are_skipped_and_counted(tmp_path: Path) -> None:
    pages = [
        _page_xml(1, "Empty", ""),
        _page_xml(2, "Huge", "word " * 300_000),
        _page_xml(3, "Fine", "A fine page about [[Alpha]]."),
        _page_xml(4, "Talk:Fine", "not an article", ns=1),
    ]
    path = tmp_path / "d.xml"
    path.write_text(_dump_xml(pages))
    out = tmp_path / "shard.parquet"
    stats = build_dump_shard(path, None, 0, 1, out, _options(max_page_chars=1_000_000))
    assert stats["skipped_empty_text"] == 1
    assert stats["skipped_too_large"] == 1
    assert stats["skipped_not_article_namespace"] == 1
    assert pq.read_table(out).column("title").to_pylist() == ["Fine"]


def _options(**kwargs):
    from more_ie.wiki import ShardOptions

    return ShardOptions(**kwargs)
