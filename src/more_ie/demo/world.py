"""The made-up world: entities whose invented names say nothing about what they are, and facts.

Every name is drawn from one pool of syllables whatever the entity's type, so "Vorlan" may be a
singer, a city, a club or a festival: only the knowledge corpus says which. Entities (and the
facts between them) are split into train / dev / test pools, so a test post never names an entity
that the training posts did: an expert cannot memorise name -> type, it has to read the retrieved
knowledge. Each entity also has a nickname that no article sentence contains (only a redirect
page), so a post that uses it can be resolved through its image but not through BM25.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

PER, LOC, ORG, MISC = "PER", "LOC", "ORG", "MISC"
TYPES = (PER, LOC, ORG, MISC)
POOLS = ("train", "dev", "test")
NONE_RELATION = "None"
# The word that gives an entity's type away; it appears in the article, never in a post. One word
# per type keeps the reading task small enough for a small encoder trained a few hundred steps.
KINDS = {
    PER: ("singer",),
    LOC: ("city",),
    ORG: ("club",),
    MISC: ("festival",),
}
# MNRE-2 label -> (head type, tail type, how the head's article states it).
RELATIONS = {
    "/per/org/member_of": (PER, ORG, "{h} is a member of {t}."),
    "/per/loc/place_of_birth": (PER, LOC, "{h} was born in {t}."),
    "/per/misc/awarded": (PER, MISC, "{h} won the {t}."),
    "/org/loc/locate_at": (ORG, LOC, "{h} is based in {t}."),
    "/misc/loc/held_on": (MISC, LOC, "{h} is held in {t}."),
}
_ONSETS = (
    "Vor",
    "Kes",
    "Tal",
    "Bryn",
    "Ost",
    "Quel",
    "Dren",
    "Mar",
    "Yar",
    "Fen",
    "Hal",
    "Sav",
    "Zan",
    "Cor",
    "Ulm",
    "Pell",
    "Rud",
    "Thal",
    "Gald",
    "Nim",
    "Ard",
    "Wex",
    "Lor",
    "Brim",
    "Esk",
    "Jov",
)
_ENDINGS = (
    "lan",
    "mir",
    "dra",
    "wick",
    "holt",
    "ora",
    "vik",
    "ett",
    "ando",
    "ux",
    "bel",
    "ston",
    "ira",
    "goth",
    "ane",
    "ric",
    "ula",
    "mont",
    "esh",
    "ivo",
)
_NICK_ENDINGS = ("zy", "ko", "pip", "xo", "bo")
# An optional middle syllable: enough names that a world can hold hundreds of entities, each
# named in only one or two training posts (so an expert cannot learn names, only to read).
_MIDDLES = ("", "", "", "a", "e", "i", "o", "ar", "en", "il")


@dataclass
class Entity:
    key: str
    etype: str
    kind: str
    name: str  # article title; the surface in posts that text retrieval can find
    nickname: str  # a redirect title only: BM25 cannot find it, the post's image can
    pool: str
    facts: list[tuple[str, str]] = field(default_factory=list)  # (relation, tail key), head = self


@dataclass
class World:
    entities: dict[str, Entity]

    def in_pool(self, pool: str, etype: str | None = None) -> list[Entity]:
        return [e for e in self.entities.values() if e.pool == pool and etype in (None, e.etype)]

    def relation(self, head: str, tail: str) -> str:
        return next((r for r, t in self.entities[head].facts if t == tail), NONE_RELATION)


def _word(rng: random.Random, endings: tuple[str, ...]) -> str:
    while True:
        a, m, b = rng.choice(_ONSETS), rng.choice(_MIDDLES), rng.choice(endings)
        if (a + m)[-1].lower() != b[0] and (not m or a[-1].lower() != m[0]):
            return a + m + b


def build_world(rng: random.Random, per_type: int) -> World:
    """``per_type`` entities of each type, dealt round-robin: half to train, a quarter each to dev and test."""
    used: set[str] = set()
    words: set[str] = set()

    def fresh(make) -> str:  # type: ignore[no-untyped-def]
        for _ in range(10_000):
            name = make()
            # No word may be shared between two names: BM25 would then find the wrong article.
            if name.casefold() not in used and not set(name.split()) & words:
                used.add(name.casefold())
                words.update(name.split())
                return name
        raise RuntimeError(f"the name pool is exhausted: lower demo entities per type ({per_type})")

    ents: dict[str, Entity] = {}
    for etype in TYPES:
        for i in range(per_type):
            two = rng.random() < 0.3  # some two-word names, so that posts have I- tags too
            name = fresh(lambda two=two: _word(rng, _ENDINGS) + (f" {_word(rng, _ENDINGS)}" if two else ""))
            nick = fresh(lambda: _word(rng, _NICK_ENDINGS))
            key = f"{etype.lower()}_{i:03d}"
            ents[key] = Entity(
                key, etype, rng.choice(KINDS[etype]), name, nick, ("train", "train", "dev", "test")[i % 4]
            )
    world = World(ents)
    # One fact per head, inside its pool (a test pair was never seen in training): the head's article
    # then states exactly one relation, which a small encoder learns to read in a few hundred steps.
    for pool in POOLS:
        for head in world.in_pool(pool):
            relations = [r for r, (h, _, _) in RELATIONS.items() if h == head.etype]
            if relations:
                relation = rng.choice(relations)
                tail = rng.choice(world.in_pool(pool, RELATIONS[relation][1]))
                head.facts.append((relation, tail.key))
    return world
