"""Inline wikitext markup -> text with entity anchors (links, external links, formatting, HTML tags).

Runs on what :mod:`more_ie.wiki.wikitext_strip` leaves (no templates, refs, tables or comments).
Each step is one ``re.sub`` over the whole remaining page, so the per-character work happens in
the C regex engine and Python only runs once per link.

Anchor format: ``<e: Target_Title> surface </e>``; the target is :func:`normalize_title`'d, the
surface is plain text with its whitespace collapsed, and never contains another anchor.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left

from more_ie.wiki.titles import normalize_title
from more_ie.wiki.wikitext_strip import NOWIKI_MARK, splice

# --- link prefixes ---------------------------------------------------------------------------

# English Wikipedia namespaces and their aliases (lower case, spaces): a link into any of them is
# shown as text, not tagged as an entity.
NAMESPACES = frozenset(
    name.replace("_", " ")
    for name in """media special talk user user_talk wikipedia wikipedia_talk wp wt project project_talk
    file file_talk image image_talk mediawiki mediawiki_talk template template_talk help help_talk
    category category_talk portal portal_talk book book_talk draft draft_talk timedtext timedtext_talk
    module module_talk gadget gadget_talk gadget_definition gadget_definition_talk education_program
    education_program_talk topic cat h mos""".split()
)

# Interwiki prefixes (sister projects and common external wikis/resolvers).
INTERWIKI = frozenset(
    """w wikt wiktionary commons c s wikisource q wikiquote b wikibooks n wikinews v wikiversity voy
    wikivoyage species wikispecies d wikidata m meta metawikimedia metawikipedia mw mediawikiwiki
    foundation wmf wikimedia phab phabricator bugzilla incubator outreach oldwikisource betawikiversity
    doi hdl arxiv rfc google googlegroups iarchive gutenberg imdbname imdbtitle imdbcompany
    wikia fandom wikihow mailarchive translatewiki tools toollabs wikitech""".split()
)

# Wikipedia language editions: ``[[fr:Paris]]`` is an interlanguage link (dropped), ``[[:fr:Paris]]``
# an inline link to it (shown as text).
LANGUAGES = frozenset(
    """aa ab ace ady af ak als alt am ami an ang anp ar arc ary arz as ast atj av avk awa ay az azb ba
    ban bar bat-smg bbc bcl be be-tarask be-x-old bew bg bh bi bjn blk bm bn bo bpy br bs bug bxr ca
    cbk-zam cdo ce ceb ch cho chr chy ckb co cr crh cs csb cu cv cy da dag de dga din diq dsb dtp dty
    dv dz ee el eml en eo es et eu ext fa fat ff fi fiu-vro fj fo fon fr frp frr fur fy ga gag gan gcr
    gd gl glk gn gom gor got gpe gsw gu guc gur guw gv ha hak haw he hi hif ho hr hsb ht hu hy hyw hz
    ia iba id ie ig igl ii ik ilo inh io is it iu ja jam jbo jv ka kaa kab kbd kbp kcg kg kge ki kj kk
    kl km kn knc ko koi kr krc ks ksh ku kus kv kw ky la lad lb lbe lez lfn lg li lij lld lmo ln lo
    lrc lt ltg lv lzh mad mai map-bms mdf mg mh mhr mi min mk ml mn mni mnw mo mos mr mrj ms mt mus
    mwl my myv mzn na nah nan nap nds nds-nl ne new ng nia nl nn no nov nqo nr nrm nso nup nv ny oc
    olo om or os pa pag pam pap pcd pcm pdc pfl pi pih pl pms pnb pnt ps pt pwn qu rki rm rmy rn ro
    roa-rup roa-tara rsk ru rue rup rw sa sah sat sc scn sco sd se sg sgs sh shi shn shy si simple sk
    skr sl sm smn sn so sq sr srn ss st stq su sv sw syl szl szy ta tay tcy tdd te tet tg th ti tig tk
    tl tly tn to tpi tr trv ts tt tum tw ty tyv udm ug uk ur uz ve vec vep vi vls vo vro wa war wo wuu
    xal xh xmf yi yo yue za zea zgh zh zh-classical zh-min-nan zh-yue zu""".split()
)
_NON_ARTICLE = NAMESPACES | INTERWIKI | LANGUAGES

# --- patterns ----------------------------------------------------------------------------------

_FILE_LINK_START = re.compile(r"\[\[[ \t]*(?:file|image)[ \t]*:", re.I)
_BRACKETS = re.compile(r"\[\[|\]\]")
_MAX_FILE_LINK_TOKENS = 500  # real captions hold a few dozen links at most
_MAX_FILE_LINK_CHARS = 20_000
# [[target|surface]]trail. A target has none of the characters MediaWiki forbids in titles (nor a
# <nowiki/> mark: "[[<nowiki/>X]]" is not a link). The
# surface may hold single brackets but not "[[" (MediaWiki does not nest links outside file
# captions, which are gone by now); possessive quantifiers keep a long unclosed surface from
# backtracking.
_WIKILINK = re.compile(
    rf"\[\[([^\[\]|\n{{}}<>{NOWIKI_MARK}]*)(?:\|((?:[^\[\]]++|\[(?!\[)|\](?!\]))*+))?\]\]([a-z]*)"
)
_URL_SCHEMES = frozenset(
    """http https ftp ftps irc ircs gopher mailto news nntp telnet sftp ssh svn git worldwind geo tel
    urn xmpp sip sips sms magnet mms bitcoin wais""".split()
)
# "[scheme:rest label]" or "[//host/path label]"; the scheme is checked against _URL_SCHEMES in
# Python (an alternation tried at every "[" is slow on bracket-heavy text).
_EXTERNAL_LINK = re.compile(r"\[(?:([A-Za-z][A-Za-z0-9+.-]*):|//)[^\s\[\]<>\"]*(?:[ \t\xa0]+([^\]\[\n]*))?\]")
# Found by their literal "://" (a pattern that starts with a literal is searched for much faster by
# `re` than one starting with a scheme alternation); the scheme before it is checked in Python.
_URL_TAIL = re.compile(r"://[^\s\[\]<>\"]*")
_BARE_URL_SCHEMES = frozenset({"http", "https", "ftp"})
_QUOTES = re.compile(r"'{2,}")
# HTML tags removed with their inner text kept; block-level ones leave a space so that words on
# either side do not run together. Stray extension tags (an unclosed <ref>) are removed too.
_FORMAT_TAGS = frozenset(
    """b i u s em strong span small big sub sup code tt var kbd samp abbr cite dfn q font del ins
    strike mark bdi bdo rb rp rt ruby wbr time data center onlyinclude noinclude ref references
    gallery nowiki pre math includeonly section score source syntaxhighlight imagemap chem ce
    timeline hiero""".split()
)
_BLOCK_TAGS = frozenset(
    """br p div li ul ol dl dt dd hr blockquote poem table tr td th tbody thead caption h1 h2 h3 h4
    h5 h6""".split()
)
_HTML_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)(?=[\s/>])[^<>]*>")
_MAGIC_WORD = re.compile(r"__[A-Z]+__")
_PIPE_TRICK_PARENS = re.compile(r"\s*\([^()]*\)\s*$")
# Characters MediaWiki forbids in titles, and what a later pass would change ("''", <nowiki/> marks).
_BAD_TITLE_CHARS = re.compile(rf"[<>\[\]{{}}|\s{NOWIKI_MARK}]|''")


def _collapse(text: str) -> str:
    return " ".join(text.split())


# --- file links ------------------------------------------------------------------------------


def strip_file_links(text: str) -> str:
    """Removes ``[[File:...]]``/``[[Image:...]]`` with their captions (which may hold nested links).

    The matching ``]]`` is found by walking bracket tokens (found once, then bisected into). A
    caption may span lines (templates removed from it leave blank lines behind), so the walk is
    bounded by a size instead: an unclosed file link loses the rest of its line only.
    """
    starts = [m.start() for m in _FILE_LINK_START.finditer(text)]
    if not starts:
        return text
    tokens = [(m.start(), m.group() == "[[") for m in _BRACKETS.finditer(text)]
    positions = [p for p, _ in tokens]
    spans: list[tuple[int, int]] = []
    last_end = 0
    for start in starts:
        if start < last_end:
            continue  # a file link nested in the caption of one already removed
        first = bisect_left(positions, start)
        depth = 0
        end = -1
        for i in range(first, min(len(tokens), first + _MAX_FILE_LINK_TOKENS)):
            pos, opens = tokens[i]
            if pos - start > _MAX_FILE_LINK_CHARS:
                break
            depth += 1 if opens else -1
            if depth == 0:
                end = pos + 2
                break
        if end < 0:
            line_end = text.find("\n", start)
            end = len(text) if line_end < 0 else line_end
        spans.append((start, end))
        last_end = end
    return splice(text, spans)


# --- wikilinks -------------------------------------------------------------------------------


def _pipe_trick(target: str, prefix: str) -> str:
    """``[[Foo (bar)|]]`` shows "Foo", ``[[Paris, Texas|]]`` shows "Paris", as in MediaWiki.

    MediaWiki expands the pipe trick when an edit is saved, so a dump only has ``[[X|]]`` where a
    template inside the label was removed; the target's short form is then the best surface.
    """
    text = target.split(":", 1)[1] if prefix in _NON_ARTICLE else target
    stripped = _PIPE_TRICK_PARENS.sub("", text)
    if stripped == text:
        stripped = text.split(",", 1)[0]
    return stripped


def _valid_title(title: str) -> bool:
    """False for a title the anchor format or a later pass would break.

    Entities can smuggle forbidden characters in (``&lt;``, or ``<nowiki>`` content, which is
    entity-escaped); a title that still looks like it holds an entity is refused too, since the
    final entity decoding of the paragraph text would change it.
    """
    if _BAD_TITLE_CHARS.search(title):
        return False
    return "&" not in title or html.unescape(title) == title


def _link(match: re.Match) -> str:
    target, label, trail = match.group(1), match.group(2), match.group(3)
    raw = target.strip()
    leading_colon = raw.startswith(":")
    body = raw[1:].strip() if leading_colon else raw
    prefix, colon, _ = body.partition(":")
    prefix = prefix.strip().lower().replace("_", " ") if colon else ""
    if prefix and not leading_colon and (prefix in ("category", "file", "image") or prefix in LANGUAGES):
        return ""  # categorisation, interlanguage link or a stray file link: no text on the page
    if label is None:
        surface = body
    elif label.strip():
        surface = label
    else:
        surface = _pipe_trick(body, prefix)
    surface = _collapse(surface + trail)
    if prefix in _NON_ARTICLE:
        return surface
    if "&" in body:
        body = html.unescape(body)
    if "''" in body:  # the later bold/italic pass must not change a target: apply it now
        body = _QUOTES.sub(_quotes, body)
    title = normalize_title(body)
    if not title:  # [[#Section]] or [[]]: the section name is the text
        return surface.lstrip("#").strip() if label is None else surface
    if not _valid_title(title):
        return surface
    if not surface:
        return ""
    return f"<e: {title}> {surface} </e>"


def convert_links(text: str) -> str:
    """Wikilinks -> anchors or plain text; categories and interlanguage links removed."""
    return _WIKILINK.sub(_link, text) if "[[" in text else text


# --- everything else inline --------------------------------------------------------------------


def _external(match: re.Match) -> str:
    scheme = match.group(1)
    if scheme is not None and scheme.lower() not in _URL_SCHEMES:
        return match.group()  # "[note: see above]" is text, not a link
    return match.group(2) or ""


def _quotes(match: re.Match) -> str:
    n = len(match.group())
    # '' italic, ''' bold, ''''' both; four is a literal apostrophe plus bold; beyond five the
    # extra apostrophes are literal (MediaWiki's doQuotes).
    if n == 4:
        return "'"
    return "'" * (n - 5) if n > 5 else ""


def _tag(match: re.Match) -> str:
    name = match.group(1).lower()
    if name in _FORMAT_TAGS:
        return ""
    return " " if name in _BLOCK_TAGS else match.group()


def _drop_bare_urls(text: str) -> str:
    pieces = []
    last = 0
    for m in _URL_TAIL.finditer(text):
        start = scheme = m.start()
        while scheme > last and scheme > start - 6 and text[scheme - 1].isalpha():
            scheme -= 1
        if text[scheme:start].lower() in _BARE_URL_SCHEMES:
            pieces.append(text[last:scheme])
            last = m.end()
    pieces.append(text[last:])
    return "".join(pieces)


def convert_inline(text: str) -> str:
    """Magic words, links, external links, bold/italic and HTML tags -> text with anchors.

    Entities are *not* decoded here: literal ``[``/``|`` from ``<nowiki>`` are still entities at
    this point and must not become markup; :func:`finish_text` decodes them last.
    """
    if "__" in text:  # behaviour switches go first, as in MediaWiki: "[[X__TOC__]]" links to X
        text = _MAGIC_WORD.sub("", text)
    text = strip_file_links(text)
    # External links before wikilinks: a label then cannot swallow part of an anchor, and a URL
    # inside a wikilink's label ("[[X|see [http://y z]]]") is already text when the link is read.
    if "[" in text:
        text = _EXTERNAL_LINK.sub(_external, text)
    if "://" in text:
        text = _drop_bare_urls(text)
    text = convert_links(text)
    if "''" in text:
        text = _QUOTES.sub(_quotes, text)
    if "<" in text:
        text = _HTML_TAG.sub(_tag, text)
    return text
