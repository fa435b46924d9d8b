"""The demo world as the pipeline reads it, and the properties that make its knowledge decide."""

from __future__ import annotations

import bz2
import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from more_ie.datasets import normalize_split
from more_ie.demo import XML_NAME, DemoScale, generate_demo_world

SMALL = DemoScale(per_type=8, ner_sizes=(24, 12, 12), re_sizes=(24, 12, 12), pages_per_stream=4)


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo_small")
    generate_demo_world(out, seed=5, scale=SMALL)
    return out


def test_same_seed_same_bytes_and_stale_files_go(small: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    (again / "mner_images").mkdir(parents=True)
    (again / "mner_images" / "stale.jpg").write_bytes(b"from an earlier run")
    generate_demo_world(again, seed=5, scale=SMALL)
    assert _hashes(again) == _hashes(small)


def test_the_pipeline_readers_take_every_split(small: Path, tmp_path: Path) -> None:
    manifest = json.loads((small / "MANIFEST.json").read_text())
    for name in ("train.txt", "valid.txt", "test.txt"):
        normalize_split(small / "mner" / name, tmp_path / f"mner_{name}.parquet", "conll_imgid")
    for name in ("mnre_train.txt", "mnre_val .txt", "mnre_test.txt"):  # sic: MNRE's file name has a space
        normalize_split(small / "mnre" / name, tmp_path / f"mnre_{name}.parquet", "mnre_dict")
    missing = [p.name for p in (small / "mner_images").iterdir()]
    assert manifest["mner_missing_images"] and not set(manifest["mner_missing_images"]) & set(missing)
    assert len(manifest["images"]["missing"]) == 2 and len(manifest["images"]["png_named_jpg"]) == 1
    assert manifest["wiki"]["redirects"] == 4 * SMALL.per_type  # one nickname redirect per entity


def test_posts_leave_the_answer_to_the_knowledge(small: Path) -> None:
    truth = json.loads((small / "world.json").read_text())
    entities = {e["name"]: e for e in truth["entities"]}
    nicknames = {e["nickname"] for e in truth["entities"]}
    # 1. No test entity is ever named in training posts: names cannot be memorised.
    train_words = {
        w for line in (small / "mner" / "train.txt").read_text().splitlines() for w in line.split("\t")[:1]
    }
    test_names = {e["name"] for e in truth["entities"] if e["pool"] == "test"}
    assert test_names and not {w for n in test_names for w in n.split()} & train_words
    # 2. A post's words fit every type: no template that occurs four times or more shows only one type.
    types_by_template: dict[str, list[str]] = defaultdict(list)
    for split in ("train", "valid", "test"):
        for block in (small / "mner" / f"{split}.txt").read_text().strip().split("\n\n"):
            rows = [
                r.split("\t")
                for r in block.splitlines()[1:]
                if not r.startswith(("RT\t", "@\t", "demo_news\t", ":\t"))
            ]
            template = re.sub(r"(X )+", "X ", " ".join("X" if tag != "O" else tok for tok, tag in rows) + " ")
            types_by_template[template] += [tag[2:] for _, tag in rows if tag.startswith("B-")]
    frequent = [set(types) for types in types_by_template.values() if len(types) >= 4]
    assert len(frequent) >= 5 and all(len(types) >= 2 for types in frequent)
    # 3. Nicknames are in no article (only redirect titles), so text retrieval cannot resolve them.
    dump = bz2.decompress((small / "wiki" / XML_NAME).read_bytes()).decode()
    articles = re.findall(r"<text [^>]*>(.*?)</text>", dump, flags=re.S)
    assert not any(
        nick in text
        for nick in nicknames
        for text in articles
        if not text.lstrip().lower().startswith("#redirect")
    )
    # 4. Each type's article states it, and every mode of post occurs in every split.
    assert all(re.search(f"'''{name}''' is a {e['kind']}\\.", dump) for name, e in entities.items())
    assert all(
        set(modes) == {"both", "text", "image"}
        for task in truth["posts"].values()
        for modes in [[p["mode"] for p in rows] for rows in task.values()]
    )


def test_a_scale_too_small_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="per_type"):
        generate_demo_world(tmp_path, scale=DemoScale(per_type=3))
