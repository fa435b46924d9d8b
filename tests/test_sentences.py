"""Anchor-tagged text: sentence splitting that never cuts an anchor, anchor removal, redirects."""

from __future__ import annotations

import bz2
import random
import xml.etree.ElementTree as ET

import pytest

from conftest import WIKI_SAMPLE, needs_wiki_sample
from more_ie.wiki import sentences
from more_ie.wiki.sentences import ANCHOR_RE, resolve_anchors, resolve_target, split_sentences, strip_anchors
from more_ie.wiki.wikitext import parse_wikitext

NS = "{http://www.mediawiki.org/xml/export-0.10/}"


def nospace(text: str) -> str:
    return "".join(text.split())


def assert_well_formed(paragraph: str, result: list[str]) -> None:
    """Stripped, non-empty sentences that hold the whole paragraph and whole anchors only."""
    assert all(s and s == s.strip() for s in result)
    assert nospace("".join(result)) == nospace(paragraph)
    for sentence in result:
        assert sentence.count("<e: ") == sentence.count(" </e>") == len(ANCHOR_RE.findall(sentence)), sentence


# --------------------------------------------------------------------------------------------
# ANCHOR_RE, strip_anchors
# --------------------------------------------------------------------------------------------


def test_anchor_re_groups():
    matches = [
        m.groups()
        for m in ANCHOR_RE.finditer("a <e: New_York_City> the Big Apple </e> and <e: U.S.> U.S. </e>.")
    ]
    assert matches == [("New_York_City", "the Big Apple"), ("U.S.", "U.S.")]


def test_strip_anchors():
    assert strip_anchors("in <e: Paris> Paris </e>, <e: France> the French capital </e>.") == (
        "in Paris, the French capital."
    )
    assert strip_anchors("no anchors here") == "no anchors here"


# --------------------------------------------------------------------------------------------
# split_sentences
# --------------------------------------------------------------------------------------------


def test_plain_sentences_with_abbreviations():
    assert split_sentences("Dr. Smith went home. He slept.") == ["Dr. Smith went home.", "He slept."]


@pytest.mark.parametrize("paragraph", ["", "   ", "\t\n"])
def test_empty_paragraph(paragraph):
    assert split_sentences(paragraph) == []


def test_single_sentence_without_final_period():
    assert split_sentences("A list item with <e: Link> a link </e>") == [
        "A list item with <e: Link> a link </e>"
    ]


def test_boundaries_between_anchored_sentences():
    paragraph = (
        "<e: Anarchism> Anarchism </e> is a <e: Political_philosophy> political philosophy </e>. "
        "It was described by <e: Pierre-Joseph_Proudhon> Proudhon </e>. "
        "<e: Peter_Kropotkin> Kropotkin </e> agreed."
    )
    assert split_sentences(paragraph) == [
        "<e: Anarchism> Anarchism </e> is a <e: Political_philosophy> political philosophy </e>.",
        "It was described by <e: Pierre-Joseph_Proudhon> Proudhon </e>.",
        "<e: Peter_Kropotkin> Kropotkin </e> agreed.",
    ]


def test_a_boundary_inside_an_anchor_is_discarded():
    plain = "I read Part one. Part two yesterday. Then more."
    assert len(split_sentences(plain)) == 3  # the splitter does cut the plain text after "one."
    paragraph = "I read <e: Book> Part one. Part two </e> yesterday. Then <e: More> more </e>."
    result = split_sentences(paragraph)
    assert result == ["I read <e: Book> Part one. Part two </e> yesterday.", "Then <e: More> more </e>."]


@pytest.mark.parametrize(
    "paragraph",
    [
        "He served in the <e: United_States_Army> U.S. Army </e> for years. He retired.",
        "She met <e: John_Smith> Dr. John Smith Jr. </e> in "
        "<e: Washington,_D.C.> Washington, D.C. </e> in 1990.",
        "They moved to <e: St._Louis> St. Louis </e>. It was cold.",
        "The <e: U.S._Route_1> U.S. Rte. 1 </e> runs north. "
        "<e: E._B._White> E. B. White </e> wrote about it.",
        "Read <e: Book> Vol. 1. Ch. 2. The End. A New Start </e> now. Done.",
    ],
)
def test_anchors_with_periods_are_never_split(paragraph):
    result = split_sentences(paragraph)
    assert_well_formed(paragraph, result)
    anchors = ANCHOR_RE.findall(paragraph)
    assert [a for s in result for a in ANCHOR_RE.findall(s)] == anchors


def test_adjacent_anchors_and_anchor_at_sentence_start():
    paragraph = (
        "It ended. <e: A> First </e><e: B> second </e> began. <e: C> Third. </e> <e: D> Fourth </e> too."
    )
    result = split_sentences(paragraph)
    assert_well_formed(paragraph, result)
    assert result[:2] == ["It ended.", "<e: A> First </e><e: B> second </e> began."]


def test_non_ascii_offsets():
    paragraph = "Café ĉu “hi”. <e: Ünïcode> Ünïcode é </e> is fun 😀. Third <e: X> one </e> here. Last."
    assert split_sentences(paragraph) == [
        "Café ĉu “hi”.",
        "<e: Ünïcode> Ünïcode é </e> is fun 😀.",
        "Third <e: X> one </e> here.",
        "Last.",
    ]


def test_native_and_fallback_splitters_agree(monkeypatch):
    paragraphs = [
        "Dr. Smith went home. He slept.",
        "Café ĉu “hi”. <e: Ü> Ünïcode é </e> is fun 😀. Third <e: X> one. Two </e> here. Last.",
        "One. Two. Three.",
    ]
    native = [split_sentences(p) for p in paragraphs]
    monkeypatch.setattr(sentences, "_SPLIT_WITH_OFFSETS", None)
    assert [split_sentences(p) for p in paragraphs] == native


def test_concatenation_keeps_every_character_on_random_paragraphs():
    rng = random.Random(3)
    words = [
        "The",
        "U.S.",
        "Dr.",
        "went",
        "home.",
        "He",
        "slept!",
        "Why?",
        "e.g.",
        "St.",
        "Louis",
        "(1990).",
        "“Quoted.”",
        "end.",
        "No.",
        "5",
        "...",
        "Mr.",
        "Jr.",
        "é",
        "😀.",
    ]
    for _ in range(300):
        parts = []
        for _ in range(rng.randrange(1, 30)):
            if rng.random() < 0.25:
                surface = " ".join(rng.choice(words) for _ in range(rng.randrange(1, 4)))
                parts.append(f"<e: T{rng.randrange(9)}> {surface} </e>")
            else:
                parts.append(rng.choice(words))
        paragraph = " ".join(parts)
        assert_well_formed(paragraph, split_sentences(paragraph))


# --------------------------------------------------------------------------------------------
# resolve_anchors
# --------------------------------------------------------------------------------------------

REDIRECTS = {
    "USA": "United_States",
    "U.S.": "USA",  # chain: U.S. -> USA -> United_States
    "A1": "A2",
    "A2": "A3",
    "A3": "A4",
    "A4": "A5",
    "A5": "A6",
    "A6": "A7",  # longer than 5 hops
    "Loop_a": "Loop_b",
    "Loop_b": "Loop_a",  # cycle
    "Self": "Self",
}


def test_resolve_one_hop_and_chain():
    text = "The <e: USA> US </e> and the <e: U.S.> U.S. </e> and <e: France> France </e>."
    assert resolve_anchors(text, REDIRECTS) == (
        "The <e: United_States> US </e> and the <e: United_States> U.S. </e> and <e: France> France </e>."
    )


def test_resolve_stops_after_five_hops():
    assert resolve_target("A1", REDIRECTS) == "A6"
    assert resolve_anchors("<e: A1> x </e>", REDIRECTS) == "<e: A6> x </e>"


@pytest.mark.parametrize("title", ["Loop_a", "Loop_b", "Self"])
def test_resolve_cycles_leave_the_target_unchanged(title):
    assert resolve_target(title, REDIRECTS) == title
    assert resolve_anchors(f"<e: {title}> x </e>", REDIRECTS) == f"<e: {title}> x </e>"


def test_resolve_unknown_targets_and_plain_text_unchanged():
    assert resolve_anchors("<e: Unknown> u </e> text", REDIRECTS) == "<e: Unknown> u </e> text"
    assert resolve_anchors("plain text", REDIRECTS) == "plain text"
    assert resolve_anchors("<e: USA> US </e>", {}) == "<e: USA> US </e>"


# --------------------------------------------------------------------------------------------
# Real paragraphs
# --------------------------------------------------------------------------------------------


@needs_wiki_sample
def test_dump_paragraphs_split_into_whole_sentences():
    count = 0
    with bz2.open(WIKI_SAMPLE) as f:
        for _, elem in ET.iterparse(f):
            if elem.tag != f"{NS}page":
                continue
            text = elem.find(f"{NS}revision/{NS}text").text or ""
            elem.clear()
            for paragraph in parse_wikitext(text).paragraphs:
                result = split_sentences(paragraph.text)
                assert_well_formed(paragraph.text, result)
                count += len(result)
    assert count > 20_000
