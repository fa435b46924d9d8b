"""Wikitext -> paragraphs with anchors, images and the disambiguation flag (more_ie.wiki.wikitext)."""

from __future__ import annotations

import bz2
import random
import time
import xml.etree.ElementTree as ET
from functools import cache, lru_cache

import pytest

from conftest import WIKI_SAMPLE, needs_wiki_sample
from more_ie.wiki.sentences import ANCHOR_RE, split_sentences, strip_anchors
from more_ie.wiki.titles import is_image_file
from more_ie.wiki.wikitext import IMAGE_SOURCES, ImageRef, Paragraph, ParsedArticle, parse_wikitext

NS = "{http://www.mediawiki.org/xml/export-0.10/}"


def texts(wikitext: str) -> list[str]:
    return [p.text for p in parse_wikitext(wikitext).paragraphs]


def one(wikitext: str) -> str:
    """The text of a page that must give exactly one paragraph."""
    paragraphs = texts(wikitext)
    assert len(paragraphs) == 1, paragraphs
    return paragraphs[0]


def images(wikitext: str) -> list[tuple[str, str]]:
    return [(i.file, i.source) for i in parse_wikitext(wikitext).images]


# --------------------------------------------------------------------------------------------
# Structure: empty pages, sections, paragraphs
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\n\n", "{{Only a template}}", "<!-- only a comment -->"])
def test_empty_or_textless_page_gives_empty_article(text):
    parsed = parse_wikitext(text)
    assert parsed.paragraphs == [] and parsed.images == [] and not parsed.is_disambiguation
    assert parsed.intro == ""


def test_redirect_page_gives_empty_article():
    assert parse_wikitext("#REDIRECT [[Computer accessibility]]\n\n{{Redr|move}}") == ParsedArticle()
    assert parse_wikitext("#redirect:[[Foo]]").paragraphs == []


def test_sections_and_intro():
    parsed = parse_wikitext(
        "Intro one.\n\nIntro two.\n== History ==\nOld times.\n"
        "=== Early [[Middle Ages|medieval]] ''era'' ===\n"
        "Knights.\n==See also==\n* [[Foo]]\n"
    )
    assert parsed.paragraphs == [
        Paragraph("", "Intro one."),
        Paragraph("", "Intro two."),
        Paragraph("History", "Old times."),
        Paragraph("Early medieval era", "Knights."),
        Paragraph("See also", "<e: Foo> Foo </e>"),
    ]
    assert parsed.intro == "Intro one.\nIntro two."


def test_headings_are_not_text_and_text_before_first_heading_is_intro():
    parsed = parse_wikitext("== Only heading ==\nBody.")
    assert parsed.paragraphs == [Paragraph("Only heading", "Body.")]
    assert parsed.intro == ""


def test_paragraph_lines_join_and_list_items_stand_alone():
    parsed = parse_wikitext(
        "First line\nsecond line of the same paragraph.\n\n\nNext paragraph.\n"
        "* item one\n** nested item\n# numbered\n: indented\n; term\nAfter list.\n----\nAfter rule."
    )
    assert [p.text for p in parsed.paragraphs] == [
        "First line second line of the same paragraph.",
        "Next paragraph.",
        "item one",
        "nested item",
        "numbered",
        "indented",
        "term",
        "After list.",
        "After rule.",
    ]


def test_empty_and_punctuation_only_paragraphs_are_dropped():
    assert texts("{{a}}\n\n.\n\n*\n\n{{b}} ,\n\nReal text.") == ["Real text."]


# --------------------------------------------------------------------------------------------
# Wikilinks -> anchors
# --------------------------------------------------------------------------------------------


def test_anchor_plain_and_piped():
    assert one("A [[political philosophy]] that advocates [[self-governance|self-governed]] societies.") == (
        "A <e: Political_philosophy> political philosophy </e> that advocates "
        "<e: Self-governance> self-governed </e> societies."
    )


@pytest.mark.parametrize(
    "wikitext, expected",
    [
        ("[[bank]]s", "<e: Bank> banks </e>"),
        ("[[bank|Bank]]ing", "<e: Bank> Banking </e>"),
        ("[[bank]]'s", "<e: Bank> bank </e>'s"),
        ("[[bank]]s2", "<e: Bank> banks </e>2"),
        ("[[bank]]Es", "<e: Bank> bank </e>Es"),  # MediaWiki's English trail is [a-z]+ only
        ("[[bank]]<nowiki/>s", "<e: Bank> bank </e>s"),
    ],
)
def test_link_trails(wikitext, expected):
    assert one(wikitext) == expected


def test_fragments_and_same_page_links():
    assert one("[[New York City#History|history of NYC]]") == "<e: New_York_City> history of NYC </e>"
    assert one("[[new york city#History]]") == "<e: New_york_city> new york city#History </e>"
    assert one("See [[#History]] and [[#Later years|later years]].") == "See History and later years."
    assert one("Empty [[ ]] link.") == "Empty link."


def test_target_normalization_and_surface_whitespace():
    assert (
        one("[[  united   states_of America ]]")
        == "<e: United_states_of_America> united states_of America </e>"
    )
    assert one("[[Foo|a\n   long\tsurface]]") == "<e: Foo> a long surface </e>"
    assert one("[[AT&amp;T|phone company]]") == "<e: AT&T> phone company </e>"
    assert one("[[Foo|''Bar'' &nbsp;baz]]") == "<e: Foo> Bar baz </e>"


@pytest.mark.parametrize(
    "wikitext, expected",
    [
        ("[[Wikipedia:Neutral point of view|neutral]]", "neutral"),
        ("[[Help:Contents]]", "Help:Contents"),
        ("[[Portal:Anarchism|portal]]", "portal"),
        ("[[wikt:anarchy|anarchy]]", "anarchy"),
        ("[[wiktionary:bank]]", "wiktionary:bank"),
        ("[[Special:BookSources/0-19|sources]]", "sources"),
        ("[[User:Example|me]]", "me"),
        ("[[Template:Infobox|the template]]", "the template"),
        ("[[:Category:Anarchism|the category]]", "the category"),
        ("[[:Category:Anarchism]]", "Category:Anarchism"),
        ("[[:File:Foo.jpg|the file]]", "the file"),
        ("[[:fr:Paris|Paris in French]]", "Paris in French"),
        ("[[WP:NPOV|policy]]", "policy"),
        ("[[s:Some text|the source]]", "the source"),
        ("[[doi:10.1000/182]]", "doi:10.1000/182"),
    ],
)
def test_links_into_other_namespaces_are_plain_text(wikitext, expected):
    assert one(f"x {wikitext} y") == f"x {expected} y"


def test_colon_in_article_title_is_still_an_anchor():
    assert one("[[Star Trek: The Next Generation|TNG]]") == "<e: Star_Trek:_The_Next_Generation> TNG </e>"
    assert one("[[:Paris]]") == "<e: Paris> Paris </e>"


def test_categories_and_interlanguage_links_are_removed():
    text = one(
        "Text.[[Category:Anarchism| ]] [[Category:Political ideologies]]\n[[fr:Anarchisme]]\n"
        "[[de:Anarchismus]][[zh-min-nan:Hui-thóng-tī-chú-gī]] [[simple:Anarchism]]"
    )
    assert text == "Text."


def test_pipe_trick_surface():
    assert one("[[Foo (band)|]]") == "<e: Foo_(band)> Foo </e>"
    assert one("[[Paris, Texas|]]") == "<e: Paris,_Texas> Paris </e>"


def test_surfaces_never_contain_anchors():
    # Captions of file links are dropped with the link; an invalid nested link is flattened.
    parsed = parse_wikitext(
        "A [[File:X.jpg|thumb|With [[Inner link]] in caption]] b [[Outer|text [[Inner]] more]] c."
    )
    for paragraph in parsed.paragraphs:
        for match in ANCHOR_RE.finditer(paragraph.text):
            assert "<e:" not in match.group(2) and "</e>" not in match.group(2)
    assert "caption" not in parsed.paragraphs[0].text


# --------------------------------------------------------------------------------------------
# What is dropped, and what keeps its text
# --------------------------------------------------------------------------------------------


def test_external_links():
    assert (
        one("See [http://x.org Some site] and [https://y.org/a?b=c ''Other''].") == "See Some site and Other."
    )
    assert one("Bare [http://x.org] and http://example.com/page here.") == "Bare and here."
    assert one("Relative [//example.org/x proto-relative link].") == "Relative proto-relative link."
    assert one("A [note: not a link] stays.") == "A [note: not a link] stays."


def test_templates_are_dropped():
    assert (
        one(
            "{{Infobox person\n| name = X\n| birth = {{birth date|1900|1|1}}\n}}\n"
            "It is {{convert|5|km|mi}} long{{citation needed|date=May 2016}} and {{{arg|default}}} done."
        )
        == "It is long and done."
    )


def test_refs_are_dropped():
    assert (
        one(
            'A<ref>Simple</ref> b<ref name="x" /> c<ref name=y>{{cite web|url=http://x.org|title=T}}</ref>'
            "<ref group=note>Note with [[Link]]</ref> d<REF>upper</REF>."
        )
        == "A b c d."
    )


def test_tables_are_dropped():
    wikitext = (
        "Before.\n{| class=wikitable\n|-\n| [[Cell link]] || {{flag|X}}\n|-\n|\n{|\n| nested\n|}\n|}\n"
        "After.\n:{| \n| indented table\n|}\nEnd."
    )
    assert texts(wikitext) == ["Before.", "After.", "End."]


def test_comments_are_dropped():
    assert one("A <!-- hidden [[Link]] {{t}} --> b.<!-- unclosed comment eats the rest\n\nZ") == "A b."


@pytest.mark.parametrize(
    "markup",
    [
        "<math>\\frac{a}{b}}}</math>",
        "<score>\\relative c' { c d e }</score>",
        "<syntaxhighlight lang=python>x = {{1}}</syntaxhighlight>",
        "<source lang=c>int x;</source>",
        "<timeline>ImageSize = width:100</timeline>",
        "<gallery>\nFile:A.jpg|Caption text\n</gallery>",
        "<chem>H2O</chem>",
        "<includeonly>only when transcluded</includeonly>",
        "<references />",
        "__TOC__",
        "__NOTOC__",
        "__NOEDITSECTION__",
    ],
)
def test_dropped_elements_and_magic_words(markup):
    assert one(f"Before {markup} after.") == "Before after."


def test_formatting_tags_keep_their_text():
    assert (
        one(
            '<b>Bold</b> <i>it</i> <span style="color:red">red</span> <small>small</small> '
            "H<sub>2</sub>O x<sup>2</sup> <code>code</code> a<br>b c<br />d <u>u</u> <s>s</s>"
        )
        == "Bold it red small H2O x2 code a b c d u s"
    )


def test_bold_and_italic_markup_is_removed():
    assert one("'''Anarchism''' is ''very'' '''''old''''' and l'amour's ''''x''''.") == (
        "Anarchism is very old and l'amour's 'x'."
    )


def test_html_entities_are_decoded():
    assert one("A&nbsp;B &amp; C&ndash;D &lt;tag&gt; &#91;1&#93; &eacute;") == "A B & C–D <tag> [1] é"


def test_nowiki_and_pre_are_literal():
    assert one("<nowiki>[[not a link]] {{not a template}} ''x''</nowiki>") == (
        "[[not a link]] {{not a template}} ''x''"
    )
    assert "<e:" not in one("<pre>[[X]]</pre>")
    assert one("<nowiki>&amp; &lt;b&gt; ----</nowiki>") == "& <b> ----"


def test_punctuation_tidying_keeps_anchors_and_code_intact():
    for wikitext in ("a [[(,]] b", "a [[Foo|; )x]] b", "a [[Foo|(; x]] b", "a [[()]] b", "a [[Foo|(,]] b"):
        body = one(wikitext)
        assert len(ANCHOR_RE.findall(body)) == body.count("<e: ") == body.count(" </e>") == 1, body
    assert one("A [[Full stop|.]] and [[Comma|,]] b.") == "A <e: Full_stop> . </e> and <e: Comma> , </e> b."
    assert one("<code>A(:,1)</code> and <code>(x,)</code> and f().") == "A(:,1) and (x,) and f()."


def test_orphaned_punctuation_from_removed_templates_is_tidied():
    assert one("Lincoln ({{IPAc-en|ˈ|l|ɪ|ŋ|k|ən}}; February 12, 1809) was {{x}}.") == (
        "Lincoln (February 12, 1809) was."
    )
    assert one("Albedo ({{IPAc-en|æ|l}}) or {{lang|grc|x}} , i.e. y. Call printf() now.") == (
        "Albedo or, i.e. y. Call printf() now."
    )


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def test_file_links_are_recorded_and_removed_from_text():
    wikitext = (
        "[[File:Foo bar.jpg|thumb|Caption with [[Link]] and [[Image:Nested.png|20px]].]]\n"
        "Text [[file:lower case.JPG|left]] and [[ Image : Spaced name.svg ]] here.\n"
        "[[File:Sound.ogg]] [[File:Video.ogv]] [[File:Clip.webm]] [[File:Doc.pdf]] [[File:Scan.djvu]]\n"
        "[[:File:Just a link.jpg|a link to the file page]] [[Media:Direct.jpg|direct]]"
    )
    parsed = parse_wikitext(wikitext)
    assert [(i.file, i.source) for i in parsed.images] == [
        ("Foo_bar.jpg", "link"),
        ("Nested.png", "link"),
        ("Lower_case.JPG", "link"),
        ("Spaced_name.svg", "link"),
    ]
    assert [p.text for p in parsed.paragraphs] == ["Text and here.", "a link to the file page direct"]


def test_gallery_lines_are_recorded():
    wikitext = (
        'Intro.\n<gallery mode="packed">\nFile:A one.jpg|Caption [[with link]]\n'
        "Image:B.png\nC_c.gif|alt=x|cap\n"
        "\n  D.tiff  \nE.ogg|sound\n</gallery>\nAfter."
    )
    parsed = parse_wikitext(wikitext)
    assert [(i.file, i.source) for i in parsed.images] == [
        ("A_one.jpg", "gallery"),
        ("B.png", "gallery"),
        ("C_c.gif", "gallery"),
        ("D.tiff", "gallery"),
    ]
    assert [p.text for p in parsed.paragraphs] == ["Intro.", "After."]


@pytest.mark.parametrize(
    "field, expected",
    [
        (
            "| image         = Abraham Lincoln O-77 matte collodion print.jpg",
            "Abraham_Lincoln_O-77_matte_collodion_print.jpg",
        ),
        ("| image = File:Apollo of the Belvedere.jpg", "Apollo_of_the_Belvedere.jpg"),
        ("| image = Image:Old prefix.png", "Old_prefix.png"),
        ("| image = [[File:Amperemeter hg.jpg|200px]] ", "Amperemeter_hg.jpg"),
        (
            "|image = [[File:Asia (orthographic projection).svg|alt=Globe centered on Asia",
            "Asia_(orthographic_projection).svg",
        ),
        ("|image             = Alain_Connes.jpg", "Alain_Connes.jpg"),
        ("|image =Flag of Angola.svg|200px", "Flag_of_Angola.svg"),
        ("|image = portrait.webp<!-- a comment after the name -->", "Portrait.webp"),
        ("| image =\n  Next line.jpeg", "Next_line.jpeg"),
    ],
)
def test_infobox_image_value_shapes(field, expected):
    assert images("{{Infobox thing\n" + field + "\n| caption = Something\n}}\nText.") == [
        (expected, "infobox")
    ]


@pytest.mark.parametrize(
    "key",
    [
        "image",
        "Image",
        "image1",
        "image2",
        "image_flag",
        "image_map",
        "image_coat",
        "logo",
        "flag",
        "image_name",
        "cover",
        "photo",
        "map_image",
        "image_skyline",
        "seal_image",
        "image skyline",
    ],
)
def test_image_like_template_keys(key):
    assert images("{{Infobox\n| " + key + " = Some picture.png\n}}") == [("Some_picture.png", "infobox")]


@pytest.mark.parametrize(
    "field",
    [
        "| image = <!-- Please do not add an image here -->",
        "| image = ",
        "| image = {{#property:P18}}",
        "| image = Sound.ogg",
        "| image = Video.webm",
        "| image_size = 250px",
        "| caption = Lincoln in 1863.jpg",
        "| signature = Signature.svg",
        "| name = Picture.jpg",
    ],
)
def test_fields_that_give_no_image(field):
    assert images("{{Infobox medical condition\n" + field + "\n| field = x\n}}") == []


def test_images_are_unique_and_in_page_order():
    wikitext = (
        "{{Infobox country\n| image_flag = Flag.svg\n| image_map = Map.png\n}}\n"
        "[[File:Photo.jpg|thumb|A]] text [[File:Flag.svg|thumb|again]]\n"
        "<gallery>\nPhoto.jpg|dup\nNew.jpg\n</gallery>\n"
        "{{Multiple image|image1=Left.jpg|image2=Right.jpg}}\n[[Image:Last.gif]]"
    )
    assert images(wikitext) == [
        ("Flag.svg", "infobox"),
        ("Map.png", "infobox"),
        ("Photo.jpg", "link"),
        ("New.jpg", "gallery"),
        ("Left.jpg", "infobox"),
        ("Right.jpg", "infobox"),
        ("Last.gif", "link"),
    ]
    assert all(isinstance(i, ImageRef) for i in parse_wikitext(wikitext).images)


def test_images_hidden_in_comments_refs_and_nowiki_are_not_recorded():
    assert (
        images("<!-- [[File:Hidden.jpg]] --><ref>[[File:InRef.jpg]]</ref><nowiki>[[File:Lit.jpg]]</nowiki>")
        == []
    )


# --------------------------------------------------------------------------------------------
# Disambiguation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{{disambiguation}}",
        "{{Disambiguation|geo|surname}}",
        "{{disambig}}",
        "{{Disambig}}",
        "{{dab}}",
        "{{Disamb}}",
        "{{hndis|Smith, John}}",
        "{{geodis}}",
        "{{numberdis}}",
        "{{schooldis}}",
        "{{Letter-NumberCombDisambig}}",
        "{{ disambiguation }}",
        "{{Human name disambiguation}}",
        "{{Template:Disambiguation}}",
        "{{disambiguation\n|geo}}",
    ],
)
def test_disambiguation_templates(template):
    assert parse_wikitext(f"'''Foo''' may refer to:\n* [[Foo (band)]]\n\n{template}").is_disambiguation


@pytest.mark.parametrize(
    "wikitext",
    [
        "{{Disambiguation needed|date=May 2016}}",
        "{{dablink|See also}}",
        "{{Redirect|X|Y (disambiguation)}}",
        "{{About|the animal|other uses|Foo (disambiguation)}}",
        "{{surname}}",
        "See [[Foo (disambiguation)]].",
        "<!-- {{disambiguation}} -->",
        "<nowiki>{{disambiguation}}</nowiki>",
        "Plain text.",
    ],
)
def test_not_disambiguation(wikitext):
    assert not parse_wikitext(wikitext).is_disambiguation


# --------------------------------------------------------------------------------------------
# Robustness and speed
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wikitext, survivor",
    [
        ("Intro {{unclosed template\n\nNext paragraph.", "Next paragraph."),
        ("Stray }} and ]] and |} here.\n\nNext paragraph.", "Next paragraph."),
        ("An [[unclosed link\n\nNext paragraph.", "Next paragraph."),
        ("A <ref>unclosed ref\n\nNext paragraph.", "Next paragraph."),
        ("{{a|{{b|{{c}}\n\nNext paragraph.", "Next paragraph."),
        ("[[File:X.jpg|thumb|unclosed caption\nNext paragraph.", "Next paragraph."),
        ("'''unbalanced bold\n\nNext paragraph.", "Next paragraph."),
        ("<gallery>\nA.jpg\n\nNext paragraph.", "Next paragraph."),
        ("<b>unclosed tag <span>\n\nNext paragraph.", "Next paragraph."),
        ("== Unclosed heading\n\nNext paragraph.", "Next paragraph."),
        ("{{{{{{deep}}}}}}\n\nNext paragraph.", "Next paragraph."),
        ("</ref></math></gallery>\n\nNext paragraph.", "Next paragraph."),
    ],
)
def test_unbalanced_markup_does_not_raise(wikitext, survivor):
    assert survivor in texts(wikitext)


def test_unclosed_table_runs_to_the_end_like_mediawiki():
    assert texts("Before.\n{|\n| cell\n\nStill in the table.") == ["Before."]


_FUZZ_PIECES = (
    "{{ }} [[ ]] {| |} | = == <ref> </ref> <!-- --> '' ''' * # : File: x.jpg ] <gallery> </gallery> "
    "<nowiki> </nowiki> <nowiki/> &amp; & &lt; &nbsp; &#91; word . , ; ( ) s - ---- image= {{{ }}} http:// "
    "<b> <br> __TOC__ Category: fr: wikt: Dr."
).split() + ["\n", "\n\n", " ", "[http://x.org "]


def test_random_markup_never_raises_and_keeps_anchors_well_formed():
    rng = random.Random(7)
    for _ in range(1000):
        text = "".join(rng.choice(_FUZZ_PIECES) for _ in range(rng.randrange(1, 80)))
        for paragraph in parse_wikitext(text).paragraphs:
            body = paragraph.text
            assert body == " ".join(body.split()) and "<e:" not in paragraph.section
            anchors = ANCHOR_RE.findall(body)
            assert body.count("<e: ") == body.count(" </e>") == len(anchors), (text, body)
            assert all(surface and "<e:" not in surface for _, surface in anchors), (text, body)
            sentences = split_sentences(body)
            assert "".join("".join(sentences).split()) == "".join(body.split())


_REALISTIC_CHUNK = """{{Infobox settlement
| name = Town
| image_skyline = Town skyline.jpg
| population = {{formatnum:12345}}<ref>{{cite web|url=http://x.org|title=Census}}</ref>
}}
'''Town''' is a [[town]] in [[Example County, Nw|Example County]], near the [[River Foo]]s.<ref name="a"/>
It was founded in 1820 by [[Dr. John Smith|Dr. Smith]] of the [[United States|U.S.]] Army.<!-- comment -->

== History ==
[[File:Old town.jpg|thumb|The [[old town]] in 1900]]
The town grew {{convert|5|km|mi}} along the ''river'' &ndash; see [http://example.org the archive].

{| class="wikitable"
|-
! Year !! Population
|-
| 1900 || {{n|100}}
|}
* Item with [[Link]]s.
* Another item.
[[Category:Towns]]
"""


def test_gigantic_page_is_fast():
    text = _REALISTIC_CHUNK * (5_000_000 // len(_REALISTIC_CHUNK) + 1)
    assert len(text) > 5_000_000
    start = time.perf_counter()
    parsed = parse_wikitext(text)
    sentences = sum(len(split_sentences(p.text)) for p in parsed.paragraphs)
    elapsed = time.perf_counter() - start
    copies = text.count("'''Town'''")
    assert len(parsed.paragraphs) == 4 * copies  # intro, history, two list items
    assert sentences == 5 * copies
    assert [(i.file, i.source) for i in parsed.images] == [
        ("Town_skyline.jpg", "infobox"),
        ("Old_town.jpg", "link"),
    ]
    assert elapsed < 10, f"{elapsed:.1f}s for {len(text)} chars"


@pytest.mark.parametrize(
    "text",
    [
        "{{foo|" * 100_000,
        "text <ref>abc " * 100_000,
        "[[File:a.jpg|x " * 100_000,
        "[[a|b " * 200_000,
        "<" * 1_000_000,
        "[" * 1_000_000,
        "*\n" * 500_000,
        "{{" * 50_000 + "x" + "}}" * 50_000,
        "\n{|\n|a\n" * 100_000,
    ],
    ids=[
        "unclosed-templates",
        "unclosed-refs",
        "unclosed-file-links",
        "unclosed-links",
        "lt",
        "brackets",
        "list-markers",
        "deep-nesting",
        "unclosed-tables",
    ],
)
def test_pathological_markup_stays_linear(text):
    start = time.perf_counter()
    parse_wikitext(text)
    assert time.perf_counter() - start < 5


# --------------------------------------------------------------------------------------------
# The real dump sample
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _dump_pages() -> dict[str, tuple[str, bool]]:
    """title -> (wikitext, is_redirect) for all 206 pages of the sample."""
    pages = {}
    with bz2.open(WIKI_SAMPLE) as f:
        for _, elem in ET.iterparse(f):
            if elem.tag == f"{NS}page":
                text = elem.find(f"{NS}revision/{NS}text").text or ""
                pages[elem.findtext(f"{NS}title")] = (text, elem.find(f"{NS}redirect") is not None)
                elem.clear()
    return pages


@cache
def _parsed(title: str) -> ParsedArticle:
    return parse_wikitext(_dump_pages()[title][0])


@needs_wiki_sample
def test_dump_abraham_lincoln_infobox_image():
    assert _parsed("Abraham Lincoln").images[0] == ImageRef(
        "Abraham_Lincoln_O-77_matte_collodion_print.jpg", "infobox"
    )


@needs_wiki_sample
@pytest.mark.parametrize(
    "title, file",
    [
        ("Apollo", "Apollo_of_the_Belvedere.jpg"),
        ("Ampere", "Amperemeter_hg.jpg"),
        ("Asia", "Asia_(orthographic_projection).svg"),
        ("Alain Connes", "Alain_Connes.jpg"),
        ("Angolan Armed Forces", "Flag_of_Angola.svg"),
        ("Animalia (book)", "Animalia_(book_cover).jpg"),
    ],
)
def test_dump_infobox_value_shapes(title, file):
    assert ImageRef(file, "infobox") in _parsed(title).images


@needs_wiki_sample
def test_dump_abortion_commented_out_infobox_image_gives_no_infobox_image():
    parsed = _parsed("Abortion")
    assert parsed.images, "the article has file links"
    assert [i for i in parsed.images if i.source == "infobox"] == []


@needs_wiki_sample
def test_dump_gallery_images():
    assert ImageRef("Kabylie-neige.jpg", "gallery") in _parsed("Algeria").images


@needs_wiki_sample
def test_dump_anarchism_intro_and_sections():
    parsed = _parsed("Anarchism")
    assert "<e: Political_philosophy> political philosophy </e>" in parsed.intro
    assert split_sentences(parsed.paragraphs[0].text)[0] == (
        "Anarchism is a <e: Political_philosophy> political philosophy </e> that advocates "
        "<e: Self-governance> self-governed </e> societies based on voluntary institutions."
    )
    sections = [p.section for p in parsed.paragraphs]
    # "History" has no text of its own: its subsections ("Origins", ...) follow it directly.
    assert "History" not in sections
    assert (
        sections.index("Etymology and terminology") < sections.index("Origins") < sections.index("Criticisms")
    )
    assert ImageRef("WilliamGodwin.jpg", "link") in parsed.images


@needs_wiki_sample
@pytest.mark.parametrize(
    "title, sentence",
    [
        (
            "Abraham Lincoln",
            "Abraham Lincoln (February 12, 1809 – April 15, 1865) was the "
            "<e: List_of_Presidents_of_the_United_States> 16th President of the United States </e>, "
            "serving from "
            "March 1861 until <e: Assassination_of_Abraham_Lincoln> his assassination in April 1865 </e>.",
        ),
        ("Actrius", "The film has no male actors, with all roles played by females."),
        (
            "Alain Connes",
            "He was an Invited Professor at the <e: Conservatoire_national_des_arts_et_métiers> "
            "Conservatoire national des arts et métiers </e> (2000).",
        ),
        (
            "Abortion",
            "An abortion which occurs spontaneously is also known as a <e: Miscarriage> miscarriage </e>.",
        ),
    ],
)
def test_dump_known_sentences(title, sentence):
    assert sentence in [s for p in _parsed(title).paragraphs for s in split_sentences(p.text)]


@needs_wiki_sample
def test_dump_disambiguation_flags():
    flagged = {
        t for t, (_, redirect) in _dump_pages().items() if not redirect and _parsed(t).is_disambiguation
    }
    assert flagged == {
        "Alien",
        "Ada",
        "Austin (disambiguation)",
        "Aberdeen (disambiguation)",
        "Argument (disambiguation)",
        "Animal (disambiguation)",
        "Asia Minor (disambiguation)",
        "Aa River",
    }


@needs_wiki_sample
def test_dump_every_page_converts_cleanly():
    pages = _dump_pages()
    assert len(pages) == 206
    for title, (_, redirect) in pages.items():
        parsed = _parsed(title)
        if redirect:
            assert parsed.paragraphs == []
            continue
        assert parsed.paragraphs, title
        for image in parsed.images:
            assert is_image_file(image.file) and image.source in IMAGE_SOURCES, image
        assert len({i.file for i in parsed.images}) == len(parsed.images)
        for paragraph in parsed.paragraphs:
            plain = strip_anchors(paragraph.text)
            for leftover in (
                "{{",
                "}}",
                "[[",
                "]]",
                "<ref",
                "</ref",
                "&nbsp;",
                "&amp;",
                "'''",
                "<!--",
                "__TOC__",
            ):
                assert leftover not in plain, (title, leftover, plain[:200])
            assert "<e:" not in plain and "<e:" not in paragraph.section, (title, paragraph)
            assert paragraph.text == " ".join(paragraph.text.split())
            for match in ANCHOR_RE.finditer(paragraph.text):
                assert match.group(2) and match.group(2) == match.group(2).strip(), (title, match.group())


def _mwparser_link_targets(wikitext: str) -> list[str]:
    """Article links that mwparserfromhell finds in rendered text (not in templates, refs, tables, files)."""
    import mwparserfromhell
    from mwparserfromhell.nodes import Argument, Comment, ExternalLink, Heading, Tag, Template, Wikilink

    from more_ie.wiki.titles import normalize_title
    from more_ie.wiki.wikitext_links import _NON_ARTICLE

    hidden_tags = {
        "ref",
        "gallery",
        "math",
        "table",
        "references",
        "score",
        "timeline",
        "source",
        "nowiki",
        "pre",
    }
    targets: list[str] = []

    def walk(code) -> None:
        for node in code.nodes:
            if isinstance(node, (Template, Argument, Comment, ExternalLink)):
                continue
            if isinstance(node, Tag):
                if str(node.tag).lower() not in hidden_tags and node.contents is not None:
                    walk(node.contents)
            elif isinstance(node, Heading):
                walk(node.title)
            elif isinstance(node, Wikilink):
                title = str(node.title).strip()
                prefix, colon, _ = title.lstrip(":").partition(":")
                if colon and prefix.strip().lower().replace("_", " ") in _NON_ARTICLE:
                    continue  # files, categories, interlanguage and other namespaces
                if normalize_title(title):
                    targets.append(normalize_title(title))

    walk(mwparserfromhell.parse(wikitext))
    return targets


@needs_wiki_sample
@pytest.mark.parametrize(
    "title",
    ["Anarchism", "Abraham Lincoln", "Algeria", "Ada", "ASCII", "Art", "Alain Connes", "Actrius", "Aa River"],
)
def test_dump_anchors_agree_with_mwparserfromhell(title):
    """Cross-check against a full mwparserfromhell parse: the same article links, in the same numbers.

    (On a few other pages, e.g. Alaska, mwparserfromhell misses where a table ends and so counts
    links inside it; those pages are not a fair reference.)
    """
    from collections import Counter

    ours = Counter(m.group(1) for p in _parsed(title).paragraphs for m in ANCHOR_RE.finditer(p.text))
    reference = Counter(_mwparser_link_targets(_dump_pages()[title][0]))
    common = sum((ours & reference).values())
    assert common >= 0.99 * max(sum(ours.values()), sum(reference.values())), (
        ours - reference,
        reference - ours,
    )
