"""Join an imported context file to a prepared split and write it as a retrieval cache.

The cache has the columns BM25 and CLIP retrieval write (``sample_id, rank, kc_id, score, text``),
so experts, marginals, gate features, MoE and the summary read an imported view unchanged. ``kc_id``
says where a text came from in the file (the block number, or the line); ``score`` is 0. The
metadata records the view, its format, source and file, and how many samples got no context.

A sample without context stays in the split and is read alone (its context view equals its
sentence-alone view); their count is logged and stored, and above ``max_missing_share`` it is an
error, since that is what a wrong or truncated file looks like.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from more_ie.contexts.readers import ContextFileError, read_adaseq_eos, read_jsonl, read_per_image
from more_ie.contexts.settings import ImportSettings, RandomContextSettings
from more_ie.search.bm25 import RETRIEVAL_SCHEMA  # the cache form every retrieval view writes
from more_ie.utils import read_parquet_metadata, write_parquet

logger = logging.getLogger(__name__)


@dataclass
class Joined:
    """Per sample id: its texts with where each came from; plus the counts the log reports."""

    texts: dict[int, list[tuple[int, str]]]
    missing: int
    eligible: int  # samples that could have had a context (per_image: those with an image)
    notes: dict[str, int]


def align_adaseq_eos(path: Path, tokens: Sequence[Sequence[str]]) -> Joined:
    """Block i <-> sample i, each verified token by token (the files carry no ids)."""
    texts: dict[int, list[tuple[int, str]]] = {}
    n_blocks, no_eos = 0, 0
    for block in read_adaseq_eos(path):
        i = block.number - 1
        if i >= len(tokens):
            raise ContextFileError(
                f"{path}: block {block.number} (line {block.line}): the file has more blocks than the "
                f"split's {len(tokens)} samples"
            )
        expected = list(tokens[i])
        if block.tokens != expected:
            pos = next(
                (j for j, (a, b) in enumerate(zip(block.tokens, expected)) if a != b),
                min(len(block.tokens), len(expected)),
            )
            found = block.tokens[pos] if pos < len(block.tokens) else "<end of sentence>"
            wanted = expected[pos] if pos < len(expected) else "<end of sentence>"
            raise ContextFileError(
                f"{path}: block {block.number} (line {block.line + pos}): token {pos + 1} is {found!r}, "
                f"but sample {i} of the split has {wanted!r} there (alignment is by order: is this the "
                "file of this split?)"
            )
        n_blocks += 1
        if not block.has_eos:
            no_eos += 1
        if block.context:
            texts[i] = [(block.number, " ".join(block.context))]
    missing = len(tokens) - len(texts)
    return Joined(
        texts,
        missing,
        len(tokens),
        {
            "blocks": n_blocks,
            "samples_after_last_block": len(tokens) - n_blocks,
            "blocks_without_eos": no_eos,
        },
    )


def _image_key(name: str) -> str:
    return PurePosixPath(name.replace("\\", "/")).name


def join_per_image(path: Path, images: Sequence[str | None]) -> Joined:
    """Texts joined to samples by image file name (the extension may be left out in the file)."""
    by_name = read_per_image(path)
    by_key: dict[str, tuple[str, int]] = {}
    for name, value in by_name.items():
        by_key.setdefault(_image_key(name), value)
        by_key.setdefault(PurePosixPath(_image_key(name)).stem, value)
    texts: dict[int, list[tuple[int, str]]] = {}
    no_image = 0
    for i, image in enumerate(images):
        if not image:
            no_image += 1
            continue
        key = _image_key(image)
        hit = by_key.get(key) or by_key.get(PurePosixPath(key).stem)
        if hit and hit[0]:
            texts[i] = [(hit[1], hit[0])]
    eligible = len(images) - no_image
    return Joined(
        texts,
        eligible - len(texts),
        eligible,
        {"file_images": len(by_name), "samples_without_image": no_image},
    )


def join_jsonl(path: Path, n_samples: int) -> Joined:
    texts: dict[int, list[tuple[int, str]]] = {}
    for line_no, sample_id, contexts in read_jsonl(path):
        if sample_id >= n_samples:
            raise ContextFileError(
                f"{path}:{line_no}: sample {sample_id} does not exist (the split has {n_samples})"
            )
        if sample_id in texts:
            raise ContextFileError(f"{path}:{line_no}: sample {sample_id} appears twice")
        kept = [(line_no, c.strip()) for c in contexts if c.strip()]
        if kept:
            texts[sample_id] = kept
    return Joined(texts, n_samples - len(texts), n_samples, {})


def import_contexts(
    split_path: str | Path,
    source_path: str | Path,
    out: str | Path,
    view: str,
    settings: ImportSettings = ImportSettings(),
) -> dict:
    """One split's imported view -> its retrieval cache. Returns the counts it logged."""
    split_path, source_path = Path(split_path), Path(source_path)
    split = pq.read_table(split_path, columns=["sample_id", "tokens", "image"]).to_pydict()
    ids: list[int] = split["sample_id"]
    if ids != list(range(len(ids))):
        raise ContextFileError(f"{split_path}: sample ids are not 0..n-1 in order; prepare the split again")
    if settings.format == "adaseq_eos":
        joined = align_adaseq_eos(source_path, split["tokens"])
    elif settings.format == "per_image":
        joined = join_per_image(source_path, split["image"])
    elif settings.format == "jsonl":
        joined = join_jsonl(source_path, len(ids))
    else:
        raise ValueError(f"unknown context format {settings.format!r}")
    share = joined.missing / max(joined.eligible, 1)
    counts = {
        "samples": len(ids),
        "with_context": len(joined.texts),
        "without_context": joined.missing,
        **joined.notes,
    }
    logger.info(
        "%s view %s from %s (%s): %d of %d samples with context, %d without (%.2f %%) %s",
        split_path.name,
        view,
        source_path,
        settings.format,
        len(joined.texts),
        len(ids),
        joined.missing,
        100 * share,
        joined.notes,
    )
    if share > settings.max_missing_share:
        raise ContextFileError(
            f"{source_path}: {joined.missing} of {joined.eligible} samples of {split_path} get no context "
            f"({100 * share:.1f} % > max_missing_share {100 * settings.max_missing_share:.1f} %)"
        )
    rows = [
        (sid, rank, where, text)
        for sid in sorted(joined.texts)
        for rank, (where, text) in enumerate(joined.texts[sid], 1)
    ]
    _write_cache(
        rows,
        out,
        {
            "more_ie.view": view,
            "more_ie.imported": json.dumps(
                {"format": settings.format, "source": settings.source, "file": str(source_path), **counts}
            ),
        },
    )
    return counts


def randomize_contexts(
    cache_path: str | Path, out: str | Path, view: str, settings: RandomContextSettings
) -> None:
    """``random_<view>``: every sample that has contexts gets those of another sample, drawn under
    the seed (a derangement over those samples), so the text is of the same kind but not about the post."""
    table = pq.read_table(cache_path).to_pydict()
    by_sample: dict[int, list[tuple[int, str]]] = {}
    for sid, text in zip(table["sample_id"], table["text"]):
        by_sample.setdefault(sid, []).append((sid, text))
    donors_of = sorted(by_sample)
    rng = np.random.default_rng(settings.seed)
    order = list(donors_of)
    if len(order) > 1:
        # a random cyclic shift of a random permutation: no sample keeps its own contexts
        perm = rng.permutation(len(order))
        shifted = np.roll(perm, 1)
        mapping = {order[perm[j]]: order[shifted[j]] for j in range(len(order))}
    else:
        mapping = {s: s for s in order}
    rows = [
        (sid, rank, donor, text)
        for sid in donors_of
        for rank, (donor, text) in enumerate(by_sample[mapping[sid]], 1)
    ]
    meta = read_parquet_metadata(cache_path)
    imported = json.loads(meta.get("more_ie.imported", "{}"))
    _write_cache(
        rows,
        out,
        {
            "more_ie.view": view,
            "more_ie.seed": str(settings.seed),
            "more_ie.imported": json.dumps({**imported, "randomized_from": str(cache_path)}),
        },
    )
    logger.info(
        "%s: %d samples given another sample's contexts (seed %d)", view, len(donors_of), settings.seed
    )


def _write_cache(rows: list[tuple[int, int, int, str]], out: str | Path, metadata: dict[str, str]) -> None:
    table = pa.table(
        {
            "sample_id": [r[0] for r in rows],
            "rank": [r[1] for r in rows],
            "kc_id": [r[2] for r in rows],
            "score": [0.0] * len(rows),
            "text": [r[3] for r in rows],
        },
        schema=RETRIEVAL_SCHEMA,
    )
    write_parquet(table, out, metadata=metadata)
