"""Posts in, predictions out: the JSONL formats of ``python -m more_ie predict``.

Input, one JSON object per line::

    {"id": "p1", "text": "Kevin Durant joins the Warriors", "image": "p1.jpg"}
    {"id": "p2", "tokens": ["Kevin", "Durant", ...], "head": [0, 2], "tail": [4, 5]}

``text`` is split into words by blingfire (the same word splitter family the KC uses);
``tokens`` is taken as is (the datasets' own tokenization). ``image`` is optional; a relative
path is resolved against ``images_dir`` when given, else against the input file's folder. RE
posts carry ``head`` and ``tail`` word spans ``[start, end)`` (the datasets' convention), or
``pairs`` (a list of ``[head, tail]``), or nothing when the entity pairs come from an NER run.

A line that is not a JSON object, or lacks the fields above, is a :class:`LineError` naming
its line number; reading goes on, so one bad line never costs the other posts.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterable

logger = logging.getLogger(__name__)

Span = tuple[int, int]


@dataclass
class Post:
    id: str
    tokens: list[str]
    image: Path | None = None  # resolved path; None when the post names no image
    image_name: str | None = None  # as written in the input (reported back)
    pairs: list[tuple[Span, Span]] = field(default_factory=list)  # RE: head/tail spans
    line: int = 0  # 1-based line in the input file (0: built in Python)
    # imported views (knowledge computed elsewhere, e.g. an LLM's or a captioner's): view -> texts
    contexts: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def split_words(text: str) -> list[str]:
    import blingfire

    return blingfire.text_to_words(text).split()


def _span(value: Any, n_words: int, name: str) -> Span:
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise ValueError(f"{name} must be a [start, end) pair of word indices, got {value!r}")
    start, end = value
    if not 0 <= start < end <= n_words:
        raise ValueError(f"{name} {[start, end]} is outside the post's {n_words} words")
    return start, end


def post_from_record(record: Any, line: int = 0, base_dir: Path | None = None) -> Post:
    """One input object -> :class:`Post`; a ``ValueError`` says what is wrong with it."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    if "id" not in record or not isinstance(record["id"], (str, int)) or isinstance(record["id"], bool):
        raise ValueError("needs an 'id' (string or integer)")
    if "tokens" in record:
        tokens = record["tokens"]
        if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
            raise ValueError("'tokens' must be a list of non-empty strings")
    elif isinstance(record.get("text"), str):
        tokens = split_words(record["text"])
    else:
        raise ValueError("needs 'text' (a string) or 'tokens' (a list of strings)")
    if not tokens:
        raise ValueError("the post has no words")
    image_name = record.get("image")
    if image_name is not None and not isinstance(image_name, str):
        raise ValueError("'image' must be a path string or absent")
    image = None
    if image_name:
        image = Path(image_name)
        if not image.is_absolute() and base_dir is not None:
            image = base_dir / image
    pairs: list[tuple[Span, Span]] = []
    if "head" in record or "tail" in record:
        pairs.append(
            (_span(record.get("head"), len(tokens), "head"), _span(record.get("tail"), len(tokens), "tail"))
        )
    for i, pair in enumerate(record.get("pairs") or []):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"pairs[{i}] must be [head, tail]")
        pairs.append(
            (_span(pair[0], len(tokens), f"pairs[{i}] head"), _span(pair[1], len(tokens), f"pairs[{i}] tail"))
        )
    contexts = record.get("contexts") or {}
    if not isinstance(contexts, dict):
        raise ValueError("'contexts' must be an object: view name -> text or list of texts")
    texts: dict[str, list[str]] = {}
    for view, value in contexts.items():
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise ValueError(f"contexts[{view!r}] must be a text or a list of texts")
        texts[str(view)] = [t for t in value if t.strip()]
    return Post(str(record["id"]), list(tokens), image, image_name or None, pairs, line, texts)


def parse_posts(lines: Iterable[str], base_dir: Path | None = None) -> tuple[list[Post], list[LineError]]:
    """Parse JSONL lines; blank lines are skipped, bad ones become :class:`LineError`."""
    posts: list[Post] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            post = post_from_record(json.loads(text), number, base_dir)
            if post.id in seen:
                raise ValueError(f"id {post.id!r} repeats the post on line {seen[post.id]}")
        except json.JSONDecodeError as err:
            errors.append(LineError(number, f"not valid JSON ({err.msg} at column {err.colno})"))
            continue
        except ValueError as err:
            errors.append(LineError(number, str(err)))
            continue
        seen[post.id] = number
        posts.append(post)
    return posts, errors


def read_posts(path: str | Path, images_dir: str | Path | None = None) -> tuple[list[Post], list[LineError]]:
    """Read a JSONL file of posts. An empty file (no non-blank line) is an error naming it."""
    path = Path(path)
    base = Path(images_dir) if images_dir else path.parent
    with open(path, encoding="utf-8") as handle:
        posts, errors = parse_posts(handle, base)
    if not posts and not errors:
        raise ValueError(f"{path}: no posts (the file is empty)")
    for error in errors:
        logger.error("%s:%d: %s", path, error.line, error.message)
    return posts, errors


def write_jsonl(records: Iterable[dict], handle: IO[str]) -> int:
    n = 0
    for record in records:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        n += 1
    return n
