"""Invented names for the demo world.

Every name is assembled from syllables that were picked to sound plausible but to avoid real
people, companies and places; a full name ("Quellan Brimwick") is never a real person's. The
generator keeps a registry so that no two entities (or redirects) share a title.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

_FIRST_ONSETS = (
    "Quel", "Or", "Teo", "Mae", "Bryn", "Ilv", "Cas", "Wen", "Dov", "Saph", "Ald", "Kes", "Jov", "Mer",
    "Tal", "Ysol", "Fen", "Hal", "Lio", "Nim", "Rud", "Sel", "Vor", "Zan", "Eb", "Gar", "Pell", "Ul",
)
_FIRST_ENDINGS = (
    "lan", "sa", "dric", "lis", "don", "ara", "tor", "na", "rik", "ine", "tra", "al", "rin", "wen",
    "ette", "o", "ia", "ek", "mira", "yn",
)
_SURNAME_ONSETS = (
    "Brim", "Vant", "Kell", "Ash", "Dun", "Hollo", "Marr", "Pern", "Quist", "Rav", "Stra", "Thorn",
    "Wyn", "Ebb", "Grell", "Lark", "Morr", "Nesh", "Osk", "Tull", "Cairn", "Fallo", "Jessa", "Orm",
)
_SURNAME_ENDINGS = (
    "wick", "ley", "mont", "gard", "ford", "stone", "vik", "more", "sby", "ell", "ane", "holm", "wyn",
    "ridge", "croft",
)
_PLACE_STEMS = (
    "Brim", "Ost", "Kal", "Dren", "Yarl", "Fal", "Merr", "Quor", "Sav", "Tirr", "Ulm", "Whel", "Corr",
    "Hask", "Lun", "Pell", "Rood", "Esk", "Gald", "Nor", "Vell", "Thal", "Ard", "Bex",
)
_CITY_ENDINGS = ("holt", "vale", "mere", "haven", "stad", "burgh", "moor", "ford", "dale", "port", "wyck")
# (country ending, demonym ending): "Vestria" / "Vestrian", "Kalora" / "Kaloran", ...
_COUNTRY_ENDINGS = (("ria", "rian"), ("ora", "oran"), ("esh", "eshi"), ("land", "lish"), ("avia", "avian"))
_ADJECTIVES = (
    "Copper", "Silent", "Velvet", "Hollow", "Amber", "Northern", "Lantern", "Iron", "Paper", "Glass",
    "Crimson", "Quiet", "Salt", "Ember", "Silver", "Wandering",
)
_NOUNS = (
    "Lantern", "Harbour", "Orchard", "Sparrow", "Meridian", "Kestrel", "Tide", "Anvil", "Beacon",
    "Willow", "Comet", "Falcon", "Loom", "Quill", "Cinder", "Thistle", "Heron",
)


_VOWELS = frozenset("aeiouy")


def _joins(a: str, b: str) -> bool:
    """Rejects the ugly junctions ("Lio"+"o", "Dex"+"ex", "Wyn"+"wyn") that mark a name as generated."""
    x, y = a[-1].lower(), b[0].lower()
    if x == y or (x in _VOWELS and y in _VOWELS):
        return False
    return b.lower() not in a.lower()


def combine(rng: random.Random, onsets: tuple[str, ...], endings: tuple[str, ...]) -> str:
    while True:
        a, b = rng.choice(onsets), rng.choice(endings)
        if _joins(a, b):
            return a + b


@dataclass
class NameRegistry:
    """Draws names from ``rng`` and guarantees that titles are unique (case-insensitively)."""

    rng: random.Random
    used: dict[str, str] = field(default_factory=dict)
    stems: dict[str, str] = field(default_factory=dict)  # place stems already taken: one stem, one place
    surnames: dict[str, str] = field(default_factory=dict)

    def claim(self, name: str) -> bool:
        key = name.casefold()
        if key in self.used:
            return False
        self.used[key] = name
        return True

    def _unique(self, make: Callable[[], str], tries: int = 500) -> str:
        for _ in range(tries):
            name = make()
            if self.claim(name):
                return name
        raise RuntimeError("name pool exhausted; lower the DemoScale counts")

    def first_name(self) -> str:
        # First names are not registered: two people may share one, as in reality.
        return combine(self.rng, _FIRST_ONSETS, _FIRST_ENDINGS)

    def surname(self) -> str:
        """A surname no one has yet (unless the pool runs dry): only families share one."""
        name = combine(self.rng, _SURNAME_ONSETS, _SURNAME_ENDINGS)
        for _ in range(200):
            if name not in self.surnames:
                break
            name = combine(self.rng, _SURNAME_ONSETS, _SURNAME_ENDINGS)
        self.surnames[name] = name
        return name

    def _stem(self) -> str:
        free = [s for s in _PLACE_STEMS if s not in self.stems]
        stem = self.rng.choice(free or list(_PLACE_STEMS))
        self.stems[stem] = stem
        return stem

    def person(self, surname: str | None = None) -> str:
        def make() -> str:
            return f"{self.first_name()} {surname or self.surname()}"
        return self._unique(make)

    def city(self) -> str:
        return self._unique(lambda: combine(self.rng, (self._stem(),), _CITY_ENDINGS))

    def country(self) -> tuple[str, str]:
        """Returns (country, demonym); the demonym is registered too because it becomes a redirect."""
        for _ in range(500):
            stem = self._stem()
            ending, dem = self.rng.choice(_COUNTRY_ENDINGS)
            if not _joins(stem, ending):
                continue
            country, demonym = stem + ending, stem + dem
            if country.casefold() not in self.used and demonym.casefold() not in self.used:
                self.claim(country)
                self.claim(demonym)
                return country, demonym
        raise RuntimeError("country name pool exhausted")

    def adjective(self) -> str:
        return self.rng.choice(_ADJECTIVES)

    def noun(self) -> str:
        return self.rng.choice(_NOUNS)

    def unique(self, make: Callable[[], str]) -> str:
        return self._unique(make)


def acronym(name: str) -> str:
    """``"Kaloran Broadcasting Corporation"`` -> ``"KBC"``; words like "of"/"the" are skipped."""
    skip = {"of", "the", "and", "for"}
    return "".join(w[0].upper() for w in name.split() if w.lower() not in skip)


def slug(name: str) -> str:
    return "-".join(name.lower().split())
