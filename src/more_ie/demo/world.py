"""The fictional world: entities and the facts between them.

Everything downstream (wiki articles, tweets, relation labels) is rendered from this one model,
so the article text, the MNER tags and the MNRE labels can never disagree with each other.
Relation names are MNRE-2's label strings; a fact is directed (head, relation, tail) with the
head's type first in the label, e.g. ``/per/org/member_of`` has a person head and an org tail.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from itertools import combinations
from typing import Callable

from more_ie.demo.names import NameRegistry, combine, acronym

PER, LOC, ORG, MISC = "PER", "LOC", "ORG", "MISC"
NONE_RELATION = "None"

# When two entities are linked by more than one fact, the label of a tweet's pair is the first
# in this order: the most specific relation wins (a couple who also share a band are a couple).
RELATION_PRIORITY: tuple[str, ...] = (
    "/per/per/alternate_names", "/org/org/alternate_names", "/per/per/couple", "/per/per/siblings",
    "/per/per/parent", "/org/org/subsidiary", "/loc/loc/contain", "/misc/misc/part_of",
    "/per/loc/place_of_birth", "/per/loc/place_of_residence", "/per/misc/nationality",
    "/per/misc/awarded", "/per/misc/present_in", "/per/org/member_of", "/org/loc/locate_at",
    "/misc/loc/held_on", "/per/per/peer",
)
SYMMETRIC = frozenset({"/per/per/couple", "/per/per/siblings", "/per/per/peer"})

_ORG_KINDS = (
    "company", "band", "club", "university", "label", "band", "broadcaster", "company", "division",
    "club", "party", "band", "university", "label", "company", "division", "club", "broadcaster",
    "party", "band",
)
_MISC_KINDS = (
    "event", "award", "series", "work", "event", "work", "award", "event", "series", "work", "event",
    "work", "award", "event", "work", "event",
)
_OCCUPATIONS = {
    "band": ("singer", "guitarist", "drummer"), "label": ("singer", "record producer"),
    "club": ("footballer",), "university": ("physicist", "historian"),
    "company": ("engineer", "business executive"), "division": ("engineer", "business executive"),
    "broadcaster": ("television presenter", "journalist"), "party": ("politician",),
}
_BRAND_ENDINGS = ("tor", "ex", "ion", "ara", "is", "ono", "iq")


@dataclass(frozen=True)
class DemoScale:
    """Sizes of the demo world; the defaults keep the whole MoRe pipeline to a few CPU minutes."""

    n_people: int = 40
    n_places: int = 20
    n_orgs: int = 20
    n_misc: int = 16  # events, awards, series and works (the MISC type)
    ner_sizes: tuple[int, int, int] = (240, 60, 60)  # train/valid/test tweets
    re_sizes: tuple[int, int, int] = (300, 80, 80)  # train/val/test lines (entity-pair instances)
    pages_per_stream: int = 10  # real dumps put 100 pages in each bz2 stream
    image_size: int = 64

    def validate(self) -> None:
        minimum = {"n_people": 8, "n_places": 6, "n_orgs": 6, "n_misc": 6}
        for name, low in minimum.items():
            if getattr(self, name) < low:
                raise ValueError(f"DemoScale.{name} must be at least {low} (relations need both ends)")
        if min(self.ner_sizes) < 1 or min(self.re_sizes) < 1:
            raise ValueError("every split needs at least one tweet / line")
        if self.pages_per_stream < 1 or self.image_size < 16:
            raise ValueError("pages_per_stream must be >= 1 and image_size >= 16")


@dataclass
class Entity:
    key: str  # stable id, e.g. "per_007"
    etype: str  # PER / LOC / ORG / MISC (the MNER tag type)
    kind: str  # finer kind: singer, city, country, band, event, award, demonym, ...
    name: str  # article title and canonical surface
    short: str  # the short surface used in running text and tweets ("Brimwick", "KBC")
    year: int  # birth / founding / event / release year
    aliases: list[str] = field(default_factory=list)  # alternative names, each a redirect page
    redirect_to: str | None = None  # for entities without an article (demonyms): the target's key
    gender: str = "n"  # persons only: m / f / n, for pronouns
    occupation: str = ""

    @property
    def has_article(self) -> bool:
        return self.redirect_to is None

    @property
    def surfaces(self) -> list[str]:
        out = [self.name]
        for s in [self.short, *self.aliases]:
            if s not in out:
                out.append(s)
        return out


@dataclass(frozen=True)
class Fact:
    head: str
    relation: str
    tail: str


@dataclass
class World:
    entities: dict[str, Entity]
    facts: list[Fact]
    _pair_index: dict[tuple[str, str], Fact] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        rank = {r: i for i, r in enumerate(RELATION_PRIORITY)}
        for fact in sorted(self.facts, key=lambda f: rank[f.relation]):
            self._pair_index.setdefault(_pair(fact.head, fact.tail), fact)

    def of_type(self, etype: str, kind: str | None = None) -> list[Entity]:
        return [e for e in self.entities.values() if e.etype == etype and (kind is None or e.kind == kind)]

    def fact_between(self, a: str, b: str) -> Fact | None:
        """The highest-priority fact linking ``a`` and ``b`` in either direction."""
        return self._pair_index.get(_pair(a, b))

    def tails(self, head: str, relation: str) -> list[Entity]:
        return [self.entities[f.tail] for f in self.facts if f.head == head and f.relation == relation]

    def heads(self, tail: str, relation: str) -> list[Entity]:
        return [self.entities[f.head] for f in self.facts if f.tail == tail and f.relation == relation]

    def related(self, key: str, relation: str) -> list[Entity]:
        """Both directions; for symmetric relations that is "the other one"."""
        out = self.tails(key, relation) + self.heads(key, relation)
        return list({e.key: e for e in out}.values())


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def build_world(rng: random.Random, scale: DemoScale) -> World:
    """Draw the entities and their facts; all randomness comes from ``rng``."""
    names = NameRegistry(rng)
    ents: dict[str, Entity] = {}
    facts: list[Fact] = []

    def add(e: Entity) -> Entity:
        ents[e.key] = e
        return e

    # --- places: a few countries, each containing cities ---
    n_countries = max(2, scale.n_places // 5)
    countries = []
    for i in range(n_countries):
        country, demonym = names.country()
        c = add(Entity(f"loc_{i:03d}", LOC, "country", country, country, rng.randint(900, 1900)))
        countries.append(c)
        if rng.random() < 0.5 and names.claim(f"Republic of {country}"):
            c.aliases.append(f"Republic of {country}")
        # The demonym is a MISC surface (as "American" is in Twitter NER) whose page redirects to the country.
        add(Entity(f"dem_{i:03d}", MISC, "demonym", demonym, demonym, c.year, redirect_to=c.key))
    cities = []
    for i in range(n_countries, scale.n_places):
        name = names.city()
        city = add(Entity(f"loc_{i:03d}", LOC, "city", name, name, rng.randint(1100, 1950)))
        cities.append(city)
        if rng.random() < 0.3:
            alias = rng.choice((f"{name} City", f"Old {name}", f"{name}-on-Sea"))
            if names.claim(alias):
                city.aliases.append(alias)
        facts.append(Fact(countries[(i - n_countries) % n_countries].key, "/loc/loc/contain", city.key))
    country_of = {f.tail: f.head for f in facts if f.relation == "/loc/loc/contain"}
    demonym_of = {c.key: f"dem_{c.key[4:]}" for c in countries}

    def word() -> str:
        return combine(rng, ("Vant", "Kal", "Orv", "Dex", "Mar", "Sol", "Tes", "Quin", "Bel", "Zor", "Hel",
                             "Cor", "Ash", "Pry", "Wex"), _BRAND_ENDINGS)

    def brand() -> str:
        return names.unique(word)

    def named(make: Callable[[], tuple[str, Entity]], fallback: str) -> tuple[str, Entity]:
        """Draw (name, place) pairs until the name is new.

        Names built on a place ("University of Brimholt") run out when a scale has more such
        organisations than places; then ``fallback`` ("{} Institute") takes an invented word.
        """
        for attempt in range(400):
            name, where = make()
            if attempt >= 200:
                name = fallback.format(word())
            if names.claim(name):
                return name, where
        raise RuntimeError("name pool exhausted; lower the DemoScale counts")

    # --- organisations ---
    orgs: list[Entity] = []
    for i in range(scale.n_orgs):
        kind = _ORG_KINDS[i % len(_ORG_KINDS)]
        companies = [o for o in orgs if o.kind == "company"]
        if kind in ("label", "division") and not companies:
            kind = "company"
        home = rng.choice(cities)
        parent: Entity | None = None
        if kind == "company":
            b = brand()
            name = names.unique(lambda: f"{b} {rng.choice(('Industries', 'Dynamics', 'Holdings', 'Works'))}")
            short, alias = b, f"{b} Inc."
        elif kind in ("division", "label"):
            parent = rng.choice(companies)
            divisions = ("Aerospace", "Foods", "Logistics", "Media")
            suffix = "Records" if kind == "label" else rng.choice(divisions)
            # Sharing the parent's brand makes the short name "Vantor" ambiguous, as real brands are.
            name = f"{parent.short} {suffix}"
            if not names.claim(name):
                name = names.unique(lambda: f"{word()} {suffix}")
            short, alias = name, ""
        elif kind == "band":
            name = names.unique(lambda: f"The {names.adjective()} {names.noun()}s")
            short, alias = name[4:], ""
        elif kind == "club":
            def club() -> tuple[str, Entity]:
                h = rng.choice(cities)
                return rng.choice(("{} United", "{} Rovers", "FC {}", "{} Athletic")).format(h.name), h
            name, home = named(club, "{} Athletic")
            short, alias = name, (name.replace("United", "Utd") if "United" in name else "")
        elif kind == "university":
            def university() -> tuple[str, Entity]:
                h = rng.choice(cities)
                return f"University of {h.name}", h
            name, home = named(university, "{} Institute of Technology")
            short = name
            alias = f"{home.name} University" if name.startswith("University of") else acronym(name)
        elif kind == "broadcaster":
            name, _ = named(lambda: (f"{rng.choice(countries).name} Broadcasting Corporation", home),
                            "{} Broadcasting Corporation")
            short = alias = acronym(name)
        else:  # party
            name = names.unique(lambda: rng.choice((f"{names.adjective()} Union Party",
                                                     f"{rng.choice(countries).name} People's Party")))
            short = alias = acronym(name)
        org = add(Entity(f"org_{i:03d}", ORG, kind, name, short, rng.randint(1890, 2015)))
        if alias and rng.random() < 0.6 and names.claim(alias):
            org.aliases.append(alias)
        if parent is not None:
            facts.append(Fact(org.key, "/org/org/subsidiary", parent.key))
        facts.append(Fact(org.key, "/org/loc/locate_at", home.key))
        orgs.append(org)

    # --- MISC: events, awards, series and works ---
    miscs: list[Entity] = []
    series: list[Entity] = []
    for i in range(scale.n_misc):
        kind = _MISC_KINDS[i % len(_MISC_KINDS)]
        if kind == "work" and not series:
            kind = "series"
        year = rng.randint(2005, 2025)
        place = rng.choice(cities)
        alias = ""
        if kind == "event":
            def event() -> tuple[str, Entity]:
                p = rng.choice(cities)
                pattern = rng.choice(("{c} Festival of {n}s", "{c} {n} Fair", "{c} Marathon", "{y} {k} Cup"))
                return pattern.format(c=p.name, n=names.noun(), y=year, k=ents[country_of[p.key]].name), p
            name, place = named(event, "{} Festival")
            short = name
            alias = f"{place.name}fest" if "Festival of" in name else ""
        elif kind == "award":
            name = names.unique(lambda: rng.choice((f"{names.surname()} Prize",
                                                     f"Golden {names.noun()} Award",
                                                     f"{rng.choice(countries).name} Medal of Arts")))
            short = name
            alias = name.replace("Award", "Prize") if "Award" in name else ""
        elif kind == "series":
            name = names.unique(lambda: rng.choice((f"The {names.noun()} Chronicles",
                                                     f"{names.adjective()} {names.noun()} Saga")))
            short = name[4:] if name.startswith("The ") else name
        else:  # work: an album, novel or film that belongs to a series
            name = names.unique(lambda: rng.choice((f"{names.adjective()} {names.noun()}",
                                                     f"The {names.noun()} of {rng.choice(cities).name}")))
            short = name
        m = add(Entity(f"misc_{i:03d}", MISC, kind, name, short, year))
        if alias and rng.random() < 0.7 and names.claim(alias):
            m.aliases.append(alias)
        if kind == "event":
            facts.append(Fact(m.key, "/misc/loc/held_on", place.key))
        elif kind == "work":
            facts.append(Fact(m.key, "/misc/misc/part_of", rng.choice(series).key))
        elif kind == "series":
            series.append(m)
        miscs.append(m)
    awards = [m for m in miscs if m.kind == "award"]
    happenings = [m for m in miscs if m.kind in ("event", "work")]

    # --- people: families first (siblings and parents share a surname) ---
    people: list[Entity] = []
    member_orgs = list(orgs)
    rng.shuffle(member_orgs)
    n_sib = max(1, scale.n_people // 10)
    n_par = max(1, scale.n_people // 13)
    plan: list[tuple[str, int]] = []  # (relation to previous person, index of that person)
    for i in range(scale.n_people):
        plan.append(("", -1))
    for j in range(n_sib):
        plan[2 * j + 1] = ("/per/per/siblings", 2 * j)
    for j in range(n_par):
        k = 2 * n_sib + 2 * j
        if k + 1 < scale.n_people:
            plan[k + 1] = ("/per/per/parent", k)
    for i in range(scale.n_people):
        rel, other = plan[i]
        surname = people[other].name.split()[-1] if other >= 0 else None
        name = names.person(surname)
        org = member_orgs[i % len(member_orgs)]
        year = rng.randint(1950, 2002)
        if rel == "/per/per/parent":  # person i is a child of ``other``
            year = min(2004, people[other].year + rng.randint(24, 36))
        birth = rng.choice(cities)
        p = add(Entity(f"per_{i:03d}", PER, "person", name, name.split()[-1], year,
                       gender=rng.choice("mfmfn"), occupation=rng.choice(_OCCUPATIONS[org.kind])))
        people.append(p)
        if rel == "/per/per/siblings":
            facts.append(Fact(people[other].key, rel, p.key))
        elif rel == "/per/per/parent":
            facts.append(Fact(people[other].key, rel, p.key))  # head is the parent
        facts.append(Fact(p.key, "/per/org/member_of", org.key))
        if rng.random() < 0.2:
            second = rng.choice([o for o in orgs if o.key != org.key])
            facts.append(Fact(p.key, "/per/org/member_of", second.key))
        facts.append(Fact(p.key, "/per/loc/place_of_birth", birth.key))
        home = birth if rng.random() < 0.3 else rng.choice(cities)
        if home.key != birth.key:
            facts.append(Fact(p.key, "/per/loc/place_of_residence", home.key))
        facts.append(Fact(p.key, "/per/misc/nationality", demonym_of[country_of[birth.key]]))
        if awards and rng.random() < 0.4:
            facts.append(Fact(p.key, "/per/misc/awarded", rng.choice(awards).key))
        if happenings and rng.random() < 0.55:
            facts.append(Fact(p.key, "/per/misc/present_in", rng.choice(happenings).key))
        if rng.random() < 0.3:
            first, last = name.split()[0], name.split()[-1]
            alias = rng.choice((f"{first[0]}. {last}", f"{first} {names.noun()} {last}",
                                f"DJ {names.noun()}" if p.occupation == "singer" else f"{first[0]}. {last}"))
            if names.claim(alias):
                p.aliases.append(alias)
    # Couples: disjoint pairs of people who are not already family.
    family = {_pair(f.head, f.tail) for f in facts if f.relation in ("/per/per/siblings", "/per/per/parent")}
    singles = [p.key for p in people]
    rng.shuffle(singles)
    n_couples = max(1, scale.n_people // 8)
    while n_couples and len(singles) >= 2:
        a, b = singles.pop(), singles.pop()
        if _pair(a, b) not in family:
            facts.append(Fact(min(a, b), "/per/per/couple", max(a, b)))
            n_couples -= 1
    # Derived facts, stated so that every pair a tweet can mention gets a label that matches the world.
    by_org: dict[str, list[str]] = {}
    for f in facts:
        if f.relation == "/per/org/member_of":
            by_org.setdefault(f.tail, []).append(f.head)
    for org_key in sorted(by_org):
        for a, b in combinations(sorted(set(by_org[org_key])), 2):
            facts.append(Fact(a, "/per/per/peer", b))
    for f in list(facts):  # a person born in / living in a city also is in its country
        if f.relation in ("/per/loc/place_of_birth", "/per/loc/place_of_residence", "/org/loc/locate_at",
                          "/misc/loc/held_on") and f.tail in country_of:
            facts.append(Fact(f.head, f.relation, country_of[f.tail]))
    _top_up_aliases(rng, names, ents)
    # Alternate names are facts between an entity and itself; tweets turn them into two mentions.
    for e in ents.values():
        # "Name (kind)" redirects disambiguate titles; nobody writes them in a tweet.
        if any("(" not in a for a in e.aliases) and e.etype in (PER, ORG):
            facts.append(Fact(e.key, f"/{e.etype.lower()}/{e.etype.lower()}/alternate_names", e.key))
    return World(ents, _dedupe(facts))


def _top_up_aliases(rng: random.Random, names: NameRegistry, ents: dict[str, Entity]) -> None:
    """Add aliases until there is about one redirect (alias or demonym) per three articles, as asked
    of the demo; the per-entity coin flips above leave the count to chance."""
    articles = [e for e in ents.values() if e.has_article]
    have = sum(len(e.aliases) for e in articles) + sum(not e.has_article for e in ents.values())
    bare = [e for e in articles if not e.aliases]
    rng.shuffle(bare)
    for e in bare:
        if have >= len(articles) // 3:
            return
        words = e.name.split()
        if e.etype == PER:
            options = [f"{words[0][0]}. {words[-1]}", f"{words[0]} {names.noun()} {words[-1]}"]
        elif e.etype == LOC:
            options = [f"{e.name} City", f"Old {e.name}"]
        elif len(words) > 2 or (e.etype == ORG and len(words) > 1):
            options = [acronym(e.name), f"{e.name} ({e.kind})"]
        else:
            options = [f"{e.name} ({e.kind})"]
        alias = next((o for o in options if names.claim(o)), None)
        if alias:
            e.aliases.append(alias)
            have += 1


def _dedupe(facts: list[Fact]) -> list[Fact]:
    seen: dict[tuple[str, str, str], Fact] = {}
    for f in facts:
        seen.setdefault((f.head, f.relation, f.tail), f)
    return list(seen.values())
