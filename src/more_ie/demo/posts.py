"""The MNER (Twitter-2017 IMGID-CoNLL) and MNRE (MNRE-2 dict-per-line) files and their images.

A post's words never give its answer away: the templates fit any entity type and any relation.
Each post resolves in one of three ways ("modes"), so that views complement each other and a gate
has something to learn:

* ``both``: the entity's name (BM25 finds its article) and a perturbed copy of its picture;
* ``text``: the name, and no picture (its image file is missing, as many real posts' are): the
  image view has nothing to retrieve, and a gate can see that (``has_image``);
* ``image``: the nickname (in no article sentence), with a perturbed copy of the picture.

Splits draw from their own entity pools (valid/val from dev), so test names are unseen in training.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from pathlib import Path
from typing import Callable

from PIL import Image

from more_ie.demo.pictures import encode, perturb
from more_ie.demo.world import Entity, World

log = logging.getLogger(__name__)

MNER_FILES = {"train": "train.txt", "dev": "valid.txt", "test": "test.txt"}
MNRE_FILES = {"train": "mnre_train.txt", "dev": "mnre_val .txt", "test": "mnre_test.txt"}  # sic: the space
MODES = (("both", 0.4), ("text", 0.3), ("image", 0.3))


def draw_modes(rng: random.Random, n: int) -> list[str]:
    """``n`` post modes by the MODES weights, with every mode at least once when n >= 3 (a split
    without text-only or image-only posts would give the gate nothing to learn there)."""
    names, weights = [m for m, _ in MODES], [w for _, w in MODES]
    modes = rng.choices(names, weights, k=n)
    if n >= len(names):
        head = names[:]
        rng.shuffle(head)
        modes[: len(names)] = head
    return modes


ONE = (
    "Everyone is talking about {X} today",
    "Big news about {X} tonight",
    "Can't stop thinking about {X}",
    "{X} is trending again",
    "Finally saw {X} !",
    "What a week for {X}",
    "Thoughts on {X} ?",
    "Photos : {X}",
)
TWO = (
    "{X} and {Y} trending right now",
    "{X} meets {Y} , finally",
    "Photos : {X} with {Y}",
    "{Y} and {X} together again",
    "Thoughts on {X} and {Y} ?",
)
Write = Callable[[Path, bytes], None]


class PostWriter:
    def __init__(self, world: World, pictures: dict[str, Image.Image], size: int, write: Write):
        self.world, self.pictures, self.size, self.write = world, pictures, size, write

    def _fill(self, rng: random.Random, template: str, slots: dict[str, str]) -> tuple[list[str], dict]:
        tokens: list[str] = []
        spans: dict[str, tuple[int, int]] = {}
        if rng.random() < 0.2:  # Twitter noise that retrieval must ignore
            tokens += ["RT", "@", "demo_news", ":"]
        for piece in template.split():
            slot = piece.strip("{}")
            if piece.startswith("{") and slot in slots:
                words = slots[slot].split()
                spans[slot] = (len(tokens), len(tokens) + len(words))
                tokens += words
            else:
                tokens.append(piece)
        return tokens, spans

    def _image(self, rng: random.Random, path: Path, main: Entity, mode: str) -> bool:
        """Write the post's picture, a perturbed copy of its entity's; False for a text-mode post.

        Not a distractor picture: its nearest KC picture would be a random article, whose type word
        misleads the image expert on a third of the posts (the demo's NER image experts then stayed
        at the level of `none` for some seeds, measured); a missing image is a clean "no knowledge"."""
        if mode == "text":
            return False
        self.write(path, encode(perturb(self.pictures[main.key], rng), "JPEG"))
        return True

    def mner(self, rng: random.Random, out_dir: Path, split: str, n: int, first_id: int) -> list[dict]:
        pool = self.world.in_pool(split)
        blocks, truth = [], []
        for i, mode in enumerate(draw_modes(rng, n)):
            main = rng.choice(pool)
            slots = {"X": main.nickname if mode == "image" else main.name}
            mentions = [("X", main)]
            if rng.random() < 0.3:
                other = rng.choice([e for e in pool if e.key != main.key])
                slots["Y"], mentions = other.name, mentions + [("Y", other)]
            tokens, spans = self._fill(rng, rng.choice(TWO if "Y" in slots else ONE), slots)
            tags = ["O"] * len(tokens)
            for slot, e in mentions:
                start, end = spans[slot]
                tags[start:end] = [f"B-{e.etype}"] + [f"I-{e.etype}"] * (end - start - 1)
            img_id = f"17_06_{first_id + 3 * i}"
            has_image = self._image(rng, out_dir / "mner_images" / f"{img_id}.jpg", main, mode)
            blocks.append(f"IMGID:{img_id}\n" + "".join(f"{t}\t{g}\n" for t, g in zip(tokens, tags)))
            truth.append(
                {"image": f"{img_id}.jpg", "mode": mode, "entity": main.name, "has_image": has_image}
            )
        self.write(out_dir / "mner" / MNER_FILES[split], "\n".join(blocks).encode("utf-8") + b"\n")
        return truth

    def mnre(self, rng: random.Random, out_dir: Path, split: str, n: int) -> list[dict]:
        pool = self.world.in_pool(split)
        by_relation: dict[str, list[tuple[Entity, str]]] = {}
        for e in pool:
            for relation, tail in e.facts:
                by_relation.setdefault(relation, []).append((e, tail))
        lines, truth = [], []
        for i, mode in enumerate(draw_modes(rng, n)):
            if rng.random() < 0.75:  # relations equally often, so that no label is a safe guess
                head, tail_key = rng.choice(by_relation[rng.choice(sorted(by_relation))])
                tail = self.world.entities[tail_key]
            else:  # a pair the world links by no fact
                head, tail = rng.sample(pool, 2)
            relation = self.world.relation(head.key, tail.key)
            slots = {"X": head.nickname if mode == "image" else head.name, "Y": tail.name}
            tokens, spans = self._fill(rng, rng.choice(TWO), slots)
            img_id = f"twitter_stream_2026_01_01_{split}_{i}.jpg"
            has_image = self._image(rng, out_dir / "mnre_images" / img_id, head, mode)
            line = {
                "token": tokens,
                "h": {"name": slots["X"], "pos": list(spans["X"])},
                "t": {"name": slots["Y"], "pos": list(spans["Y"])},
                "img_id": img_id,
                "relation": relation,
            }
            lines.append(repr(line))
            truth.append(
                {
                    "image": img_id,
                    "mode": mode,
                    "entity": head.name,
                    "relation": relation,
                    "has_image": has_image,
                }
            )
        self.write(out_dir / "mnre" / MNRE_FILES[split], ("\n".join(lines) + "\n").encode("utf-8"))
        log.info("mnre %s: %d lines, %s", split, n, dict(Counter(t["relation"] for t in truth)))
        return truth
