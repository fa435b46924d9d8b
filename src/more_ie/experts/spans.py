"""Tag sequences -> entity spans, and per-position distributions -> tags. Pure Python, no torch.

:func:`bio_to_spans` is a line-for-line port of ``seqeval.metrics.sequence_labeling.get_entities``
(seqeval 1.2.2, default mode, prefix tags) so that our scores equal seqeval's, which is what the
multimodal-NER papers (MoRe included) report. In particular an ``I-X`` that does not continue an
``X`` chunk starts a new chunk (conlleval's lenient reading), a change of type ends a chunk, and
``E-``/``S-`` tags are understood as in seqeval. Unlike seqeval, spans are returned as
``(start, end_exclusive, type)``.
"""

from __future__ import annotations

from typing import Sequence


def _tag_and_type(chunk: str) -> tuple[str, str]:
    # seqeval: the first character is the tag; the type is what follows the first "-" after it
    # ("O" has type "_", so "O" never equals a real type).
    return chunk[0], chunk[1:].split("-", maxsplit=1)[-1] or "_"


def _end_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag not in ("O", ".") and prev_type != type_


def _start_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    if tag in ("B", "S"):
        return True
    if prev_tag in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag not in ("O", ".") and prev_type != type_


def bio_to_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """Entity chunks of one tag sequence, in order, as ``(start, end_exclusive, type)``."""
    spans: list[tuple[int, int, str]] = []
    prev_tag, prev_type, begin = "O", "", 0
    # A trailing "O" closes a chunk that runs to the end, as in seqeval.
    for i, chunk in enumerate([*tags, "O"]):
        tag, type_ = _tag_and_type(chunk)
        if _end_of_chunk(prev_tag, tag, prev_type, type_):
            spans.append((begin, i, prev_type))
        if _start_of_chunk(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return spans


def argmax_tags(marginals: Sequence[Sequence[float]], labels: Sequence[str]) -> list[str]:
    """The most probable label at each position (ties go to the first label, as ``argmax``).

    Decoding marginals position by position can produce invalid BIO (``O I-X``); the span reader
    above handles that leniently, which is how the marginal-argmax F1 is scored.
    """
    tags = []
    for t, row in enumerate(marginals):
        if len(row) != len(labels):
            raise ValueError(f"position {t}: {len(row)} probabilities for {len(labels)} labels")
        tags.append(labels[max(range(len(row)), key=row.__getitem__)])
    return tags
