"""Anchor-tagged text (``<e: Target> surface </e>``): sentence splitting, anchor removal, redirects.

Sentences are split by blingfire (a compiled, model-based splitter: it keeps "Dr. Smith" and
"U.S. Army" together, and is orders of magnitude faster than pysbd or syntok) on the *plain* text,
so the anchor markup cannot confuse it; a boundary that falls strictly inside an anchor's
surface is discarded, so an anchor is never cut in two.
"""

from __future__ import annotations

import ctypes
import re
import threading
from bisect import bisect_right
from collections.abc import Mapping

import blingfire
from blingfire import text_to_sentences_and_offsets

# Targets are normalized titles (no whitespace, no "<>"); the surface has no newline and no anchor.
ANCHOR_RE = re.compile(r"<e: ([^<>\s]+)> (.*?) </e>")

MAX_REDIRECT_HOPS = 5


def strip_anchors(text: str) -> str:
    """``"in <e: Paris> Paris </e>."`` -> ``"in Paris."``"""
    return ANCHOR_RE.sub(r"\2", text) if "<e: " in text else text


def resolve_target(title: str, redirects: Mapping[str, str], max_hops: int = MAX_REDIRECT_HOPS) -> str:
    """Follows ``title`` through the redirect map for at most ``max_hops`` hops.

    A cycle (A -> B -> A) has no article at its end, so the title is returned unchanged rather
    than an arbitrary member of the cycle; a title that is not a redirect is returned as is.
    """
    current = title
    seen = {title}
    for _ in range(max_hops):
        nxt = redirects.get(current)
        if nxt is None or nxt == current:
            break
        if nxt in seen:
            return title
        seen.add(nxt)
        current = nxt
    return current


def resolve_anchors(text: str, redirects: Mapping[str, str]) -> str:
    """Rewrites each anchor target through ``redirects`` (normalized title -> normalized target)."""
    if "<e: " not in text or not redirects:
        return text
    cache: dict[str, str] = {}

    def repl(match: re.Match) -> str:
        target = match.group(1)
        resolved = cache.get(target)
        if resolved is None:
            resolved = cache[target] = resolve_target(target, redirects)
        if resolved == target:
            return match.group(0)
        return f"<e: {resolved}> {match.group(2)} </e>"

    return ANCHOR_RE.sub(repl, text)


# blingfire's own ``text_to_sentences_and_offsets`` maps UTF-8 offsets back to str offsets with a
# Python loop over every byte, which costs more than the splitting itself (0.67 s against 0.15 s
# on the sample dump). So the library function is called directly through the wrapper's ctypes
# handle, with per-thread reusable buffers, and only the few boundary offsets are converted.
_SPLIT_WITH_OFFSETS = getattr(getattr(blingfire, "blingfire", None), "TextToSentencesWithOffsets", None)
_buffers = threading.local()


def _native_starts(plain: str) -> list[int] | None:
    """Sentence start offsets (str indices) via the C entry point; None if it reports an error."""
    data = plain.encode("utf-8")
    size = len(data) * 2 + 16  # the wrapper's sizing: output text and offset arrays alike
    bufs = getattr(_buffers, "bufs", None)
    if bufs is None or bufs[0] < size:
        size = max(size, 1 << 16)
        bufs = _buffers.bufs = (
            size,
            ctypes.create_string_buffer(size),
            (ctypes.c_int32 * size)(),
            (ctypes.c_int32 * size)(),
        )
    size, out, starts, ends = bufs
    out_len = _SPLIT_WITH_OFFSETS(data, len(data), out, starts, ends, size)
    if out_len < 0 or out_len > size:
        return None
    count = ctypes.string_at(out, out_len).rstrip(b"\0").count(b"\n") + 1
    byte_starts = starts[1:count]
    if len(data) == len(plain):  # ASCII: byte offsets are str offsets
        return byte_starts
    result = []
    char_pos = byte_pos = 0
    for byte_start in byte_starts:  # offsets fall on character starts, so each slice decodes
        char_pos += len(data[byte_pos:byte_start].decode("utf-8", "replace"))
        byte_pos = byte_start
        result.append(char_pos)
    return result


def _boundaries(plain: str) -> list[int]:
    """Start offsets (in ``plain``) of every sentence after the first."""
    if not plain.strip():
        return []  # blingfire's wrapper fails on an empty string
    if _SPLIT_WITH_OFFSETS is not None:
        starts = _native_starts(plain)
        if starts is not None:
            return starts
    _, offsets = text_to_sentences_and_offsets(plain)
    return [start for start, _ in offsets[1:]]


def split_sentences(paragraph: str) -> list[str]:
    """Splits an anchor-tagged paragraph into anchor-tagged sentences, never inside an anchor.

    Every returned sentence is stripped and non-empty; joined in order they hold every
    non-whitespace character of ``paragraph``, in order.
    """
    if "<e: " not in paragraph:
        plain = paragraph
        cuts = _boundaries(plain)
    else:
        # Plain text plus, per anchor, where its surface lies in the plain and the tagged strings.
        pieces: list[str] = []
        plain_starts: list[int] = []  # surface start in plain
        plain_ends: list[int] = []  # surface end in plain
        tagged_starts: list[int] = []  # anchor start in the tagged string
        tagged_ends: list[int] = []  # anchor end in the tagged string
        plain_len = 0
        last = 0
        for m in ANCHOR_RE.finditer(paragraph):
            pieces.append(paragraph[last : m.start()])
            plain_len += m.start() - last
            surface = m.group(2)
            plain_starts.append(plain_len)
            pieces.append(surface)
            plain_len += len(surface)
            plain_ends.append(plain_len)
            tagged_starts.append(m.start())
            tagged_ends.append(m.end())
            last = m.end()
        pieces.append(paragraph[last:])
        plain = "".join(pieces)
        cuts = []
        for cut in _boundaries(plain):
            i = bisect_right(plain_starts, cut) - 1  # the last anchor starting at or before the cut
            if i >= 0 and cut < plain_ends[i]:
                if cut > plain_starts[i]:
                    continue  # inside a surface: no boundary here
                cuts.append(tagged_starts[i])  # at the anchor's start
            elif i >= 0:
                cuts.append(tagged_ends[i] + cut - plain_ends[i])  # in the text after anchor i
            else:
                cuts.append(cut)  # before the first anchor
    sentences = []
    last = 0
    for cut in cuts + [len(paragraph)]:
        sentence = paragraph[last:cut].strip()
        if sentence:
            sentences.append(sentence)
        last = cut
    return sentences
