"""The MNER (Twitter-2017 format) and MNRE (MNRE-2 format) files and their tweet images.

Formats follow the real releases (see shared/data/twitter2017/README.md and shared/data/mnre/README.md):

* MNER: ``IMGID:<id>`` line, ``token<TAB>tag`` lines (BIO over PER/LOC/ORG/MISC), a blank line after
  every tweet; the file ends with a blank line. ``@user``/``#tag`` are two tokens; no URLs.
* MNRE: one Python ``repr`` of a dict per line, keys ``token, h, t, img_id, relation``; ``pos`` is
  end-exclusive; a tweet with n entities gives C(n, 2) lines; ``None`` (a string) means no relation.

A tweet's image is a perturbed copy of its main entity's article picture, so image retrieval has a
right answer to find.
"""
from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Callable

from PIL import Image

from more_ie.demo.images import draw_picture, encode, perturb
from more_ie.demo.tweets import Mention, Tweet, TweetMaker
from more_ie.demo.world import MISC, NONE_RELATION, SYMMETRIC, World

log = logging.getLogger(__name__)

MNER_SPLITS = ("train", "valid", "test")
MNRE_SPLITS = ("train", "val", "test")
MNRE_FILES = {"train": "mnre_train.txt", "val": "mnre_val .txt", "test": "mnre_test.txt"}  # sic: the space
MNER_MISSING_IMAGE_RATE = 0.05

WriteBytes = Callable[[Path, bytes], None]


@dataclass
class SplitStats:
    file: str
    tweets: int = 0
    tokens: int = 0
    lines: int = 0
    entities: Counter = field(default_factory=Counter)
    relations: Counter = field(default_factory=Counter)
    images: int = 0
    no_entity_tweets: int = 0
    missing_images: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        out = {"file": self.file, "tweets": self.tweets, "tokens": self.tokens, "images": self.images}
        if self.lines:
            out |= {"lines": self.lines, "relations": dict(sorted(self.relations.items()))}
        else:
            out |= {"entities": dict(sorted(self.entities.items())),
                    "no_entity_tweets": self.no_entity_tweets, "missing_images": self.missing_images}
        return out


def bio_tags(tweet: Tweet) -> list[str]:
    tags = ["O"] * len(tweet.tokens)
    for m in tweet.mentions:
        tags[m.start] = f"B-{m.etype}"
        for i in range(m.start + 1, m.end):
            tags[i] = f"I-{m.etype}"
    return tags


class TweetImages:
    """Renders a tweet's picture from the main entity's article picture."""

    def __init__(self, world: World, pictures: dict[str, Image.Image], size: int, write: WriteBytes):
        self.world, self.pictures, self.size, self.write = world, pictures, size, write

    def save(self, path: Path, main: str | None, rng: random.Random) -> None:
        if main is not None and main in self.pictures:
            base = self.pictures[main]
        else:  # a tweet about nothing in the world: a picture of nothing in particular
            base = draw_picture(f"unrelated:{path.name}", MISC, "", 1, self.size)
        self.write(path, encode(perturb(base, rng, self.size).convert("RGB"), "JPEG"))


def write_mner(out_dir: Path, maker: TweetMaker, images: TweetImages, rng: random.Random,
               sizes: tuple[int, int, int], write: WriteBytes) -> dict[str, SplitStats]:
    stats: dict[str, SplitStats] = {}
    next_id = 1000
    for split, n in zip(MNER_SPLITS, sizes):
        st = stats[split] = SplitStats(f"mner/{split}.txt")
        missing = set(rng.sample(range(n), max(1, round(n * MNER_MISSING_IMAGE_RATE))))
        blocks: list[str] = []
        for i in range(n):
            x = rng.random()
            if x < 0.08:
                tweet = maker.empty_tweet()
            elif x < 0.33:
                tweet = maker.single_tweet()
            elif x < 0.48:
                tweet = maker.pair_tweet(rng.choice((2, 2, 3)))
            else:
                tweet = maker.relation_tweet(rng.choices((2, 3, 4), weights=(70, 25, 5))[0])
            if rng.random() < 0.1:
                tweet = maker.entity_hashtag(tweet)
            tweet = maker.add_noise(tweet, split_markers=True)
            next_id += rng.randint(1, 40)
            img_id = f"17_06_{next_id}"
            tags = bio_tags(tweet)
            rows = "".join(f"{tok}\t{tag}\n" for tok, tag in zip(tweet.tokens, tags))
            blocks.append(f"IMGID:{img_id}\n{rows}")
            st.tweets += 1
            st.tokens += len(tweet.tokens)
            st.entities.update(m.etype for m in tweet.mentions)
            st.no_entity_tweets += not tweet.mentions
            if i in missing:  # as in the real data, some tweets' images are simply not there
                st.missing_images.append(f"{img_id}.jpg")
            else:
                images.save(out_dir / "mner_images" / f"{img_id}.jpg", tweet.main, rng)
                st.images += 1
        write(out_dir / st.file, "\n".join(blocks).encode("utf-8") + b"\n")
        log.info("mner %s: %d tweets, %d entities", split, st.tweets, sum(st.entities.values()))
    return stats


def pair_lines(tweet: Tweet, world: World, img_id: str) -> list[dict]:
    """One MNRE instance per unordered pair of mentions, labelled from the world's facts."""
    lines = []
    for a, b in combinations(sorted(tweet.mentions, key=lambda m: m.start), 2):
        fact = world.fact_between(a.entity, b.entity)
        h, t = a, b
        label = NONE_RELATION
        if fact is not None:
            label = fact.relation
            # Directed facts put the head's type first; symmetric ones keep reading order.
            if fact.relation not in SYMMETRIC and fact.head != fact.tail and a.entity != fact.head:
                h, t = b, a
        lines.append({"token": list(tweet.tokens), "h": _arg(h), "t": _arg(t), "img_id": img_id,
                      "relation": label})
    return lines


def _arg(m: Mention) -> dict:
    return {"name": m.surface, "pos": [m.start, m.end]}


def write_mnre(out_dir: Path, maker: TweetMaker, images: TweetImages, world: World, rng: random.Random,
               sizes: tuple[int, int, int], write: WriteBytes) -> dict[str, SplitStats]:
    stats: dict[str, SplitStats] = {}
    counter = 0
    for split, target in zip(MNRE_SPLITS, sizes):
        st = stats[split] = SplitStats(f"mnre/{MNRE_FILES[split]}")
        lines: list[str] = []
        while len(lines) < target:
            room = target - len(lines)
            # n entities give n*(n-1)/2 lines: pick n so the split ends on exactly ``target`` lines.
            options = [(n, w) for n, w in ((2, 60), (3, 30), (4, 10)) if n * (n - 1) // 2 <= room]
            n = rng.choices([o[0] for o in options], weights=[o[1] for o in options])[0]
            tweet = maker.relation_tweet(n) if rng.random() < 0.85 else maker.pair_tweet(n)
            tweet = maker.add_noise(tweet, split_markers=False)
            counter += 1
            img_id = f"twitter_stream_2026_01_01_{counter}.jpg"
            for line in pair_lines(tweet, world, img_id):
                lines.append(repr(line))
                st.relations[line["relation"]] += 1
            images.save(out_dir / "mnre_images" / img_id, tweet.main, rng)
            st.tweets += 1
            st.images += 1
            st.tokens += len(tweet.tokens)
        st.lines = len(lines)
        write(out_dir / st.file, ("\n".join(lines) + "\n").encode("utf-8"))
        log.info("mnre %s: %d lines from %d tweets", split, st.lines, st.tweets)
    return stats
