"""Tweets about the demo world, built from templates around the world's facts.

A tweet is tokens plus entity mentions. Most tweets put two entities linked by a fact into a
template that says so ("{h} signs a new deal with {t}"); some add more entities, some mention
one entity or none. Surfaces vary between full names, short names and redirect aliases, so the
retrieval step meets the same ambiguity as with real tweets.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from more_ie.demo.world import LOC, MISC, ORG, PER, Entity, Fact, World

# (label, weight, templates); weights loosely follow MNRE-2's label frequencies.
RELATION_TEMPLATES: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("/per/per/peer", 10, (
        "{h} and {t} back in the studio today", "{h} joins {t} on stage tonight !",
        "Great performance from {h} and {t}", "{h} , {t} and the rest of the team celebrate")),
    ("/per/org/member_of", 9, (
        "{h} signs a new deal with {t}", "{h} of {t} speaks to reporters",
        "{t} confirm {h} will stay until 2027", "Huge night for {h} and {t}")),
    ("/loc/loc/contain", 6, (
        "Sunset over {t} , {h}", "Travel guide : the best of {t} in {h}",
        "{t} is the prettiest town in {h}")),
    ("/per/misc/present_in", 5, (
        "{h} at the {t} tonight", "{h} is part of {t} this year", "Watching {h} at {t} right now")),
    ("/org/loc/locate_at", 4, (
        "{h} opens a new office in {t}", "{h} headquarters in {t} evacuated",
        "Big night for {h} fans in {t}")),
    ("/per/loc/place_of_residence", 3, (
        "{h} spotted at a cafe in {t}", "{h} says {t} is home now", "{h} buys a house in {t}")),
    ("/misc/loc/held_on", 3, (
        "The {h} returns to {t} this weekend", "Crowds gather in {t} for the {h}",
        "{t} gets ready for the {h}")),
    ("/org/org/subsidiary", 2, (
        "{t} announces restructuring of {h}", "{h} , the {t} subsidiary , reports record profits",
        "{t} to sell {h}")),
    ("/per/per/alternate_names", 2, (
        "{h} , better known as {t} , drops a new single", "{t} aka {h} live tonight")),
    ("/per/per/couple", 2, (
        "{h} and {t} celebrate their wedding anniversary", "{h} with spouse {t} at the gala")),
    ("/per/misc/nationality", 2, (
        "{t} star {h} wins again", "{h} becomes the first {t} to win", "Proud {t} moment for {h}")),
    ("/misc/misc/part_of", 2, (
        "{h} is the best chapter of {t}", "New trailer for {h} , the next {t} film")),
    ("/org/org/alternate_names", 1, (
        "{h} ( {t} ) announces new schedule", "{t} , or {h} , replies to fans")),
    ("/per/loc/place_of_birth", 2, (
        "{h} returns to hometown {t}", "{t} native {h} visits old school",
        "{h} was born in {t} , did you know ?")),
    ("/per/misc/awarded", 2, (
        "{h} wins the {t} !", "Congratulations {h} on the {t}", "{h} receives the {t} tonight")),
    ("/per/per/siblings", 1.5, ("{h} and sibling {t} together again", "{h} shares a photo with sibling {t}")),
    ("/per/per/parent", 1, ("{h} and child {t} at the premiere", "{t} thanks parent {h} in speech")),
)
PAIR_TEMPLATES = ("{X} and {Y} trending right now", "{X} vs {Y} : who wins ?", "Thoughts on {X} and {Y} ?",
                  "Breaking : {X} , {Y} comment on the news", "{X} meets {Y} , finally")
SINGLE_TEMPLATES = {
    PER: ("Happy birthday {X} !", "{X} is trending again", "New interview with {X} out now"),
    LOC: ("Beautiful morning in {X}", "Heavy rain expected in {X} tomorrow", "Live from {X}"),
    ORG: ("{X} announce a new signing", "{X} share prices up today", "Statement from {X} :"),
    MISC: ("Can't wait for the {X}", "Tickets for the {X} sold out", "Who else is watching {X} ?"),
}
EXTRA_CLAUSES = {PER: "with {X}", LOC: "live from {X}", ORG: "via {X}", MISC: "ahead of the {X}"}
EMPTY_TEMPLATES = ("Good morning everyone , have a great day !", "Can't believe it's Monday already",
                   "This weather though ...", "Who is up for coffee ?", "Best day ever , thank you all")
HANDLES = ("demogazette", "nightowl_fm", "sportsdesk", "cityreporter", "the_daily_quill", "lanternnews")
HASHTAGS = ("news", "Monday", "live", "tbt", "music", "football", "weekend")
INVISIBLE = ("\ufe0f", "\ufe0f", "\u200b")


@dataclass
class Mention:
    start: int
    end: int  # exclusive
    entity: str
    etype: str
    surface: str


@dataclass
class Tweet:
    tokens: list[str]
    mentions: list[Mention]
    main: str | None  # the entity the tweet's picture shows (None: a picture of nothing in the world)
    core: Fact | None = None


class TweetMaker:
    def __init__(self, rng: random.Random, world: World):
        self.rng, self.world = rng, world
        by_label: dict[str, list[Fact]] = {}
        for f in world.facts:
            by_label.setdefault(f.relation, []).append(f)
        self.choices = [(lbl, w, tpl, by_label[lbl]) for lbl, w, tpl in RELATION_TEMPLATES if lbl in by_label]
        self.article_entities = [e for e in world.entities.values() if e.has_article]

    def surface(self, e: Entity, avoid: str | None = None) -> str:
        spoken = [a for a in e.aliases if "(" not in a]  # not "Name (work)" disambiguation titles
        options = [e.name] * 6 + [e.short] * 3 + spoken * 2
        options = [s for s in options if s != avoid] or [e.name]
        return self.rng.choice(options)

    def _fill(self, template: str, slots: dict[str, tuple[Entity, str]], tokens: list[str],
              mentions: list[Mention]) -> None:
        for piece in template.split():
            if piece.startswith("{") and piece.endswith("}") and piece[1:-1] in slots:
                e, surface = slots[piece[1:-1]]
                words = surface.split()
                mentions.append(Mention(len(tokens), len(tokens) + len(words), e.key, e.etype, surface))
                tokens.extend(words)
            else:
                tokens.append(piece)

    def relation_tweet(self, n_entities: int) -> Tweet:
        """A tweet whose first two mentions are linked by a fact, plus ``n_entities - 2`` others."""
        r, ents = self.rng, self.world.entities
        _, _, templates, facts = r.choices(self.choices, weights=[c[1] for c in self.choices])[0]
        fact = r.choice(facts)
        head, tail = ents[fact.head], ents[fact.tail]
        h_surface = self.surface(head)
        if fact.head == fact.tail:  # alternate names: the same entity under two surfaces
            h_surface, t_surface = head.name, r.choice([a for a in head.aliases if "(" not in a])
        else:
            t_surface = self.surface(tail)
        tokens: list[str] = []
        mentions: list[Mention] = []
        self._fill(r.choice(templates), {"h": (head, h_surface), "t": (tail, t_surface)}, tokens, mentions)
        self._extras(n_entities - 2, tokens, mentions)
        return Tweet(tokens, mentions, head.key, fact)

    def pair_tweet(self, n_entities: int) -> Tweet:
        x, y = self.rng.sample(self.article_entities, 2)
        tokens: list[str] = []
        mentions: list[Mention] = []
        self._fill(self.rng.choice(PAIR_TEMPLATES), {"X": (x, self.surface(x)), "Y": (y, self.surface(y))},
                   tokens, mentions)
        self._extras(n_entities - 2, tokens, mentions)
        return Tweet(tokens, mentions, x.key)

    def single_tweet(self) -> Tweet:
        x = self.rng.choice(self.article_entities)
        tokens: list[str] = []
        mentions: list[Mention] = []
        self._fill(self.rng.choice(SINGLE_TEMPLATES[x.etype]), {"X": (x, self.surface(x))}, tokens, mentions)
        return Tweet(tokens, mentions, x.key)

    def empty_tweet(self) -> Tweet:
        return Tweet(self.rng.choice(EMPTY_TEMPLATES).split(), [], None)

    def _extras(self, n: int, tokens: list[str], mentions: list[Mention]) -> None:
        present = {m.entity for m in mentions}
        for _ in range(max(0, n)):
            pool = [e for e in self.world.entities.values() if e.key not in present]
            e = self.rng.choice(pool)
            present.add(e.key)
            clause = EXTRA_CLAUSES[e.etype] if e.has_article else "{X} fans rejoice"
            tokens.append(self.rng.choice((",", "-", "|")))
            self._fill(clause, {"X": (e, self.surface(e))}, tokens, mentions)

    # ---- Twitter noise -------------------------------------------------------------------------
    def add_noise(self, tweet: Tweet, split_markers: bool) -> Tweet:
        """Prefix ``RT @handle :``, trailing hashtags and invisible-character tokens.

        ``split_markers``: Twitter-2017 splits ``@user``/``#tag`` into two tokens, MNRE keeps them whole.
        """
        r = self.rng
        prefix: list[str] = []
        if r.random() < 0.3:
            handle = r.choice(HANDLES)
            prefix = ["RT", "@", handle, ":"] if split_markers else ["RT", f"@{handle}", ":"]
        suffix: list[str] = []
        if r.random() < 0.3:
            tag = r.choice(HASHTAGS)
            suffix = ["#", tag] if split_markers else [f"#{tag}"]
        if split_markers and r.random() < 0.06:  # MNER only: tokens of invisible characters, tag O
            suffix.insert(0, r.choice(INVISIBLE))
        shift = len(prefix)
        mentions = [Mention(m.start + shift, m.end + shift, m.entity, m.etype, m.surface)
                    for m in tweet.mentions]
        return Tweet(prefix + tweet.tokens + suffix, mentions, tweet.main, tweet.core)

    def entity_hashtag(self, tweet: Tweet) -> Tweet:
        """Append ``# QuellanBrimwick`` as an entity mention on one token (as ``# NBAAwards`` is B-MISC)."""
        e = self.rng.choice(self.article_entities)
        tag = "".join(w for w in e.name.split() if w.isalnum())
        if not tag or any(m.entity == e.key for m in tweet.mentions):
            return tweet
        start = len(tweet.tokens) + 1
        mention = Mention(start, start + 1, e.key, e.etype, tag)
        return Tweet(tweet.tokens + ["#", tag], tweet.mentions + [mention], tweet.main, tweet.core)
