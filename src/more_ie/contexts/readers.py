"""Readers of imported context files: each yields what the file says, with where it says it.

Three forms (see :class:`more_ie.contexts.settings.ImportSettings`):

* ``adaseq_eos``: AdaSeq's CoNLL form, as the MoRe authors released their pre-retrieved contexts
  and PGIM its LLM knowledge: one ``token<TAB>label`` line per word, a ``<EOS><TAB>X`` line, then the
  context one token a line (label ``X``), a blank line between samples. No ids: alignment is by
  order, so each block keeps its sentence tokens for the token-by-token check.
* ``per_image``: one text per image, as captioning tools write them: ``IMGID.jpg :caption`` lines
  (BLIP-2's form in PGIM) or JSONL ``{"image": ..., "text": ...}``.
* ``jsonl``: ``{"sample_id" | "line": ..., "contexts": [...]}``, one record per sample.

Every malformed line is an error naming the file and the line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

EOS = "<EOS>"


class ContextFileError(ValueError):
    """An imported context file is malformed or does not fit its split; the message says where."""


@dataclass
class EosBlock:
    number: int  # 1-based block number in the file
    line: int  # line of its first token
    tokens: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    has_eos: bool = False


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8") as handle:
            for line_no, raw in enumerate(handle, 1):
                yield line_no, raw.rstrip("\n").rstrip("\r")
    except UnicodeDecodeError as err:
        raise ContextFileError(f"{path}: not UTF-8 text ({err})") from None


def read_adaseq_eos(path: str | Path) -> Iterator[EosBlock]:
    """The blocks of an AdaSeq CoNLL file with ``<EOS>`` contexts, in file order."""
    path = Path(path)
    block: EosBlock | None = None
    number = 0
    for line_no, line in _lines(path):
        if not line.strip():
            if block is not None:
                yield block
                block = None
            continue
        if block is None and line.startswith("IMGID:"):
            continue  # some AdaSeq files keep the image line; the split has the image already
        parts = line.split("\t") if "\t" in line else line.rsplit(None, 1)
        if len(parts) != 2 or not parts[0]:
            raise ContextFileError(f"{path}:{line_no}: expected 'token<TAB>label', got {line[:80]!r}")
        token = parts[0]
        if block is None:
            number += 1
            block = EosBlock(number, line_no)
        if token == EOS and not block.has_eos:
            block.has_eos = True
        elif block.has_eos:
            block.context.append(token)
        else:
            block.tokens.append(token)
    if block is not None:
        yield block


def read_per_image(path: str | Path) -> dict[str, tuple[str, int]]:
    """image name -> (text, line). ``IMGID.jpg :caption`` lines, or JSONL ``{"image", "text"}``.

    An image named twice with different texts is an error (which one the user meant is unknown);
    the same text twice is kept once."""
    path = Path(path)
    out: dict[str, tuple[str, int]] = {}
    for line_no, line in _lines(path):
        if not line.strip():
            continue
        where = f"{path}:{line_no}"
        if line.lstrip().startswith("{"):
            record = _json_record(line, where)
            image, text = record.get("image"), record.get("text")
            if not isinstance(image, str) or not isinstance(text, str):
                raise ContextFileError(f'{where}: expected {{"image": str, "text": str}}, got {line[:80]!r}')
        else:
            image, sep, text = line.partition(" :")
            if not sep:
                raise ContextFileError(f"{where}: expected 'IMAGE :text' or a JSON line, got {line[:80]!r}")
        image, text = image.strip(), text.strip()
        if not image:
            raise ContextFileError(f"{where}: no image name")
        if image in out and out[image][0] != text:
            raise ContextFileError(
                f"{where}: image {image!r} has a second, different text (first on line {out[image][1]})"
            )
        out.setdefault(image, (text, line_no))
    return out


def read_jsonl(path: str | Path) -> Iterator[tuple[int, int, list[str]]]:
    """(line, 0-based sample id, contexts) per record. ``sample_id`` is the sample's 0-based position
    in its split (the prepared split's id); ``line`` is the same position counted from 1."""
    path = Path(path)
    for line_no, line in _lines(path):
        if not line.strip():
            continue
        where = f"{path}:{line_no}"
        record = _json_record(line, where)
        if "sample_id" in record:
            sample_id = record["sample_id"]
        elif "line" in record:
            sample_id = record["line"] - 1 if isinstance(record["line"], int) else None
        else:
            raise ContextFileError(f'{where}: a record needs "sample_id" or "line"')
        if not isinstance(sample_id, int) or isinstance(sample_id, bool) or sample_id < 0:
            raise ContextFileError(f"{where}: sample_id / line must be a non-negative integer (line >= 1)")
        contexts = record.get("contexts")
        if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
            raise ContextFileError(f'{where}: "contexts" must be a list of strings')
        yield line_no, sample_id, contexts


def _json_record(line: str, where: str) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise ContextFileError(f"{where}: not valid JSON ({err.msg})") from None
    if not isinstance(record, dict):
        raise ContextFileError(f"{where}: a JSON object per line is expected")
    return record
