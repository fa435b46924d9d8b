"""A dataset split in its source format -> ``results/{dataset}/data/{split}.parquet``.

Checks made here, once, so later stages can trust a split: the file is not empty and yields at
least one sample; an RE split's no-relation label (``None``, ``none``, ``NA``, ``no_relation``...,
from the configured list, case-insensitively) is renamed to the one name scoring excludes
(:data:`NO_RELATION`), and a split without any is an error; image names that would leave the
images folder (``../x``, ``/etc/passwd``) are counted and logged (they are kept, and every reader
of images refuses them through ``safe_child``).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable, Mapping, Sequence

import pyarrow as pa

from more_ie.datasets.readers import (
    DEFAULT_NO_RELATION_LABELS,
    NER_SCHEMA,
    NO_RELATION,
    RE_SCHEMA,
    DatasetError,
    ReSample,
    read_conll_imgid,
    read_mnre,
)
from more_ie.utils import image_file, write_parquet
from more_ie.utils.images import decode_error

logger = logging.getLogger(__name__)

FORMATS = {"conll_imgid": "ner", "mnre_dict": "re"}


def _check_not_empty(source: str | Path) -> None:
    path = Path(source)
    if not path.is_file():
        raise DatasetError(f"{path}: dataset file not found")
    with open(path, "rb") as handle:
        if not any(line.strip() for line in handle):
            raise DatasetError(f"{path}: the dataset file is empty")


def _unsafe_image_name(name: str | None) -> bool:
    if not name:
        return False
    pure = PurePosixPath(name)
    return pure.is_absolute() or ".." in pure.parts or "\x00" in name


def _normalize_no_relation(
    samples: list[ReSample], source: str | Path, labels: Sequence[str], stats: Counter
) -> list[str]:
    """Rename every no-relation spelling to NO_RELATION in place; return the spellings found."""
    wanted = {label.casefold() for label in labels}
    taken = Counter(s.relation for s in samples if s.relation.casefold() in wanted)
    if not taken:
        seen = Counter(s.relation for s in samples).most_common(5)
        raise DatasetError(
            f"{source}: no sample has a no-relation label (any case of {list(labels)}); most frequent labels: "
            f"{seen}. Set datasets.<name>.no_relation_labels to this dataset's spelling"
        )
    for sample in samples:
        if sample.relation in taken:
            sample.relation = NO_RELATION
    stats["no_relation"] = sum(taken.values())
    logger.info(
        "%s: no-relation label %s taken as %r (%d samples)",
        source,
        " + ".join(repr(k) for k in sorted(taken)),
        NO_RELATION,
        sum(taken.values()),
    )
    return sorted(taken)


def normalize_split(
    source: str | Path,
    out: str | Path,
    fmt: str,
    label_map: Mapping[str, str] | None = None,
    no_relation_labels: Sequence[str] = DEFAULT_NO_RELATION_LABELS,
) -> Counter:
    if fmt not in FORMATS:
        raise DatasetError(f"unknown dataset format {fmt!r}; known: {sorted(FORMATS)}")
    if FORMATS[fmt] == "re" and not no_relation_labels:
        raise DatasetError(f"{source}: no_relation_labels is empty")
    _check_not_empty(source)
    stats: Counter = Counter()
    metadata = {"more_ie.task": FORMATS[fmt], "more_ie.source": str(source)}
    if fmt == "conll_imgid":
        samples = list(read_conll_imgid(source, label_map, stats))
        table = pa.table(
            {
                "sample_id": list(range(len(samples))),
                "tokens": [s.tokens for s in samples],
                "image": [s.image for s in samples],
                "tags": [s.tags for s in samples],
            },
            schema=NER_SCHEMA,
        )
        labels = sorted({t[2:] for s in samples for t in s.tags if t != "O"})
        stats["entities"] = sum(t.startswith("B-") for s in samples for t in s.tags)
        images: Iterable[str | None] = (s.image for s in samples)
    else:
        samples_re = list(read_mnre(source, stats))
        if samples_re:
            taken = _normalize_no_relation(samples_re, source, no_relation_labels, stats)
            metadata["more_ie.no_relation_labels"] = json.dumps(taken)
        table = pa.table(
            {
                "sample_id": list(range(len(samples_re))),
                "tokens": [s.tokens for s in samples_re],
                "image": [s.image for s in samples_re],
                "head": [list(s.head) for s in samples_re],
                "tail": [list(s.tail) for s in samples_re],
                "relation": [s.relation for s in samples_re],
            },
            schema=RE_SCHEMA,
        )
        labels = sorted({s.relation for s in samples_re})
        images = (s.image for s in samples_re)
    if table.num_rows == 0:
        raise DatasetError(f"{source}: no samples in the file (is it really {fmt}?)")
    unsafe = sorted({name for name in images if _unsafe_image_name(name)})
    if unsafe:
        stats["unsafe_image_names"] = len(unsafe)
        logger.warning(
            "%s: %d image names point outside the images folder and will be treated as missing " "(e.g. %s)",
            source,
            len(unsafe),
            ", ".join(repr(n) for n in unsafe[:3]),
        )
    stats["samples"] = table.num_rows
    metadata["more_ie.labels"] = json.dumps(labels)
    write_parquet(table, out, metadata=metadata)
    logger.info("%s -> %s: %s", source, out, dict(stats))
    return stats


@dataclass
class ImageCheck:
    """What ``check-images`` found: each distinct image name in exactly one list, or usable."""

    n_samples: int  # samples that name an image
    missing: list[str] = field(default_factory=list)  # absent, or not a plain name inside the folder
    undecodable: list[tuple[str, str]] = field(default_factory=list)  # (name, decoder error)


def check_images(
    split_paths: Sequence[str | Path], images_dir: str | Path | None, decode: bool = True
) -> ImageCheck:
    """Sort the images the splits name into usable, missing and (with ``decode``) undecodable.

    "Missing" is decided exactly as image retrieval and the gate features decide it
    (:func:`more_ie.utils.image_file`), and "undecodable" with the same decoder they use.
    """
    import pyarrow.parquet as pq

    names: list[str] = []
    for path in split_paths:
        names += [n for n in pq.read_table(path, columns=["image"]).column("image").to_pylist() if n]
    result = ImageCheck(len(names))
    for name in sorted(set(names)):
        path = image_file(images_dir, name)
        if path is None:
            result.missing.append(name)
        elif decode and (error := decode_error(path)) is not None:
            result.undecodable.append((name, error))
    return result


def missing_images(split_paths: list[str | Path], images_dir: str | Path | None) -> tuple[int, list[str]]:
    """(samples with an image name, image names that are missing or unsafe), without decoding."""
    result = check_images(split_paths, images_dir, decode=False)
    return result.n_samples, result.missing
