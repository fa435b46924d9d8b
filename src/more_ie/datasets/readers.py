"""Readers for the benchmark formats, normalized to one table per split.

* **IMGID-CoNLL** (Twitter-2015/2017, SNAP, WikiDiverse-NER): ``IMGID:<id>`` opens a post, then
  ``token<TAB>tag`` lines, a blank line after each post. Entity types are renamed through a label
  map (Twitter-2015's ``OTHER`` -> ``MISC``); a stray ``I-X`` after ``O`` or another type becomes
  ``B-X`` (counted). Tokens made only of invisible characters (U+FE0F, U+200B, ...) are kept with
  their labels: a subword tokenizer gives them zero pieces, and the experts handle that.
* **MNRE**: one Python dict literal per line, read with :func:`ast.literal_eval` (never ``eval``).
  ``pos`` is 0-based and end-exclusive.
"""

from __future__ import annotations

import ast
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping

import pyarrow as pa

# spellings of "no relation" recognised by default (why these: more_ie.datasets.settings)
from more_ie.datasets.settings import DEFAULT_NO_RELATION_LABELS  # noqa: F401  (re-exported)

logger = logging.getLogger(__name__)


class DatasetError(ValueError):
    """A dataset file is malformed; the message names the file and line."""


# The one name the pipeline gives "no relation" after preparation (MNRE's own spelling); scoring
# excludes exactly this label. The dataset's own spelling is matched by normalize_split.
NO_RELATION = "None"


NER_SCHEMA = pa.schema(
    [
        pa.field("sample_id", pa.int64(), nullable=False),
        pa.field("tokens", pa.list_(pa.string()), nullable=False),
        pa.field("image", pa.string()),
        pa.field("tags", pa.list_(pa.string()), nullable=False),
    ]
)
RE_SCHEMA = pa.schema(
    [
        pa.field("sample_id", pa.int64(), nullable=False),
        pa.field("tokens", pa.list_(pa.string()), nullable=False),
        pa.field("image", pa.string()),
        pa.field("head", pa.list_(pa.int32(), 2), nullable=False),
        pa.field("tail", pa.list_(pa.int32(), 2), nullable=False),
        pa.field("relation", pa.string(), nullable=False),
    ]
)


@dataclass
class NerSample:
    tokens: list[str]
    tags: list[str]
    image: str | None
    line: int  # where the post starts, for messages


@dataclass
class ReSample:
    tokens: list[str]
    head: tuple[int, int]
    tail: tuple[int, int]
    relation: str
    image: str | None
    line: int


@dataclass
class ReadStats:
    counts: Counter = field(default_factory=Counter)


# ---------------------------------------------------------------------------------------------
# IMGID-CoNLL
# ---------------------------------------------------------------------------------------------


def _fix_tag(tag: str, previous: str, label_map: Mapping[str, str], where: str, stats: Counter) -> str:
    if tag == "O":
        return tag
    prefix, sep, etype = tag.partition("-")
    if not sep or prefix not in ("B", "I") or not etype:
        raise DatasetError(f"{where}: tag {tag!r} is not O, B-TYPE or I-TYPE")
    etype = label_map.get(etype, etype)
    if prefix == "I" and (previous == "O" or previous[2:] != etype):
        stats["stray_I_fixed"] += 1
        prefix = "B"
    return f"{prefix}-{etype}"


def read_conll_imgid(
    path: str | Path, label_map: Mapping[str, str] | None = None, stats: Counter | None = None
) -> Iterator[NerSample]:
    label_map = label_map or {}
    stats = stats if stats is not None else Counter()
    tokens: list[str] = []
    tags: list[str] = []
    image: str | None = None
    start = 0

    def finish() -> NerSample | None:
        if not tokens:
            return None
        sample = NerSample(list(tokens), list(tags), image, start)
        stats["invisible_tokens"] += sum(1 for t in tokens if not t.strip() or all(_invisible(c) for c in t))
        tokens.clear()
        tags.clear()
        return sample

    with open(path, encoding="utf-8") as handle:
        for line_no, raw in enumerate(handle, 1):
            line = raw.rstrip("\n").rstrip("\r")
            where = f"{path}:{line_no}"
            if line.startswith("IMGID:"):
                if (done := finish()) is not None:
                    yield done
                image_id = line[len("IMGID:") :].strip()
                image = f"{image_id}.jpg" if image_id else None
                start = line_no
                continue
            if not line.strip() and "\t" not in line:
                if (done := finish()) is not None:
                    yield done
                    image = None
                continue
            parts = line.split("\t")
            if len(parts) != 2:
                raise DatasetError(
                    f"{where}: expected 'token<TAB>tag', got {len(parts) - 1} tabs: {line[:80]!r}"
                )
            if not tokens:
                start = start or line_no
            tags.append(_fix_tag(parts[1].strip(), tags[-1] if tags else "O", label_map, where, stats))
            tokens.append(parts[0])
    if (done := finish()) is not None:
        yield done


def _invisible(char: str) -> bool:
    import unicodedata

    return unicodedata.category(char) in ("Mn", "Cf", "Cc", "Zs") or char in "\ufe0f\u200b\u200d"


# ---------------------------------------------------------------------------------------------
# MNRE
# ---------------------------------------------------------------------------------------------


def _span(entity: object, n_tokens: int, where: str, key: str) -> tuple[int, int]:
    if not isinstance(entity, dict) or "pos" not in entity:
        raise DatasetError(f"{where}: {key!r} must be a dict with 'name' and 'pos'")
    pos = entity["pos"]
    if not (isinstance(pos, (list, tuple)) and len(pos) == 2 and all(isinstance(p, int) for p in pos)):
        raise DatasetError(f"{where}: {key}.pos must be [start, end], got {pos!r}")
    start, end = pos
    if not 0 <= start < end <= n_tokens:
        raise DatasetError(f"{where}: {key}.pos {pos} is outside the {n_tokens} tokens")
    return start, end


def read_mnre(path: str | Path, stats: Counter | None = None) -> Iterator[ReSample]:
    stats = stats if stats is not None else Counter()
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                record = ast.literal_eval(line.strip())
            except (ValueError, SyntaxError) as err:
                raise DatasetError(f"{where}: not a Python dict literal: {err}") from err
            if not isinstance(record, dict):
                raise DatasetError(f"{where}: expected a dict, got {type(record).__name__}")
            missing = {"token", "h", "t", "relation"} - record.keys()
            if missing:
                raise DatasetError(f"{where}: missing keys {sorted(missing)}")
            tokens = record["token"]
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise DatasetError(f"{where}: 'token' must be a list of strings")
            head = _span(record["h"], len(tokens), where, "h")
            tail = _span(record["t"], len(tokens), where, "t")
            image = record.get("img_id")
            relation = str(record["relation"])
            yield ReSample(tokens, head, tail, relation, str(image) if image is not None else None, line_no)
