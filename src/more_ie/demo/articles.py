"""Wikitext articles for the demo world's entities.

Every fact of the world is stated in prose in the articles of both its ends (with a wikilink), so
BM25 over the dump can find the sentence that supports a tweet's relation. The markup around the
facts (infoboxes, refs, tables, galleries, file links, comments) is there to exercise the parser.
"""
from __future__ import annotations

import random

from more_ie.demo.names import slug
from more_ie.demo.wikitext import (
    IMAGE_VALUE_SHAPES, FileNamer, ImageSpec, LinkStats, Linker, cite, date_text, image_value,
    infobox, wikitable,
)
from more_ie.demo.world import LOC, MISC, ORG, PER, Entity, World
from more_ie.wiki.titles import normalize_filename

_POSSESSIVE = {"m": "his", "f": "her", "n": "their"}
_SIBLING = {"m": "brother", "f": "sister", "n": "sibling"}
_CHILD = {"m": "son", "f": "daughter", "n": "child"}
_PARENT = {"m": "father", "f": "mother", "n": "parent"}
_ORG_PHRASE = {
    "company": "manufacturing company", "division": "division", "label": "record label",
    "band": "rock band", "club": "football club", "university": "public university",
    "broadcaster": "public broadcaster", "party": "political party",
}
_INFOBOX = {PER: "Infobox person", LOC: "Infobox settlement", ORG: "Infobox organization",
            MISC: "Infobox event"}


def _when(year: int) -> int:
    """Years in the demo never run past the dump date (2026)."""
    return min(year, 2025)


class ArticleWriter:
    """Writes one article per entity and records every file the articles reference."""

    def __init__(self, rng: random.Random, world: World):
        self.rng, self.world = rng, world
        self.stats = LinkStats()
        self.link = Linker(rng, world, self.stats)
        self.images: dict[str, ImageSpec] = {}
        self.files = FileNamer(rng, self.images)
        self.primary: dict[str, str] = {}  # entity key -> normalized name of its main picture
        self.non_image_files: list[str] = []
        self._n_infobox = 0
        self._n_gallery = 0

    # ---- shared pieces -------------------------------------------------------------------------
    def _lead_image(self, e: Entity, what: str, ext: str | None = None) -> tuple[list[tuple[str, str]], str]:
        """Infobox image fields and, when the infobox has none, the body thumb carrying the main picture.

        The value shape cycles through IMAGE_VALUE_SHAPES so every shape occurs in a small world.
        """
        shape = IMAGE_VALUE_SHAPES[self._n_infobox % len(IMAGE_VALUE_SHAPES)]
        self._n_infobox += 1
        display = self.files.photo(e, what, "primary", 0, ext=ext)
        self.primary[e.key] = normalize_filename(display)
        caption = (f"{e.name} in {_when(e.year + self.rng.randint(20, 40))}" if e.etype == PER
                   else f"{e.name}, {what}")
        fields = [("image", image_value(display, shape, e.name)), ("caption", caption)]
        if shape == "comment":
            return [("image", fields[0][1])], f"[[File:{display}|thumb|right|{e.short}, {what}]]\n"
        return fields, ""

    def _tail(self, e: Entity, categories: list[str]) -> str:
        cats = "\n".join(f"[[Category:{c}]]" for c in categories)
        archive = f"https://demo.example.org/wiki/{e.name.replace(' ', '_')}"
        langs = "".join(f"\n[[{lang}:{e.name}]]" for lang in self.rng.sample(("fr", "de", "es", "nl"), 2))
        return (f"\n\n== References ==\n{{{{Reflist}}}}\n\n== External links ==\n"
                f"* [http://example.org/{slug(e.name)} Official website]\n"
                f"* [{archive} {e.name}] at the Demo archive\n\n"
                f"{{{{Authority control}}}}\n\n{cats}{langs}\n")

    def _gallery(self, e: Entity, views: list[str], caption_link: str) -> str:
        lines = ["<gallery>"]
        for i, what in enumerate(views):
            display = self.files.photo(e, what, "gallery", 2 + i)
            # Gallery lines may carry File:, Image: or no prefix at all.
            prefix = ("File:", "", "Image:")[i % 3]
            lines.append(f"{prefix}{display}|{what.capitalize()} in {caption_link}")
        lines.append("</gallery>")
        self._n_gallery += 1
        return "\n".join(lines)

    # ---- per type ------------------------------------------------------------------------------
    def article(self, e: Entity) -> str:
        writer = {PER: self.person, LOC: self.place, ORG: self.org, MISC: self.misc}[e.etype]
        return writer(e)

    def person(self, e: Entity) -> str:
        w, L, r = self.world, self.link, self.rng
        births = w.tails(e.key, "/per/loc/place_of_birth")
        city = next(x for x in births if x.kind == "city")
        country = next(x for x in births if x.kind == "country")
        home = next((x for x in w.tails(e.key, "/per/loc/place_of_residence") if x.kind == "city"), city)
        orgs, dem = w.tails(e.key, "/per/org/member_of"), w.tails(e.key, "/per/misc/nationality")[0]
        spouses, sibs = w.related(e.key, "/per/per/couple"), w.related(e.key, "/per/per/siblings")
        parents, children = w.heads(e.key, "/per/per/parent"), w.tails(e.key, "/per/per/parent")
        awards, shows = w.tails(e.key, "/per/misc/awarded"), w.tails(e.key, "/per/misc/present_in")
        peers = [p for p in w.related(e.key, "/per/per/peer") if p.key != e.key]
        poss, born_text, born_tpl = _POSSESSIVE[e.gender], *date_text(r, e.year)
        view = {"singer": "in concert", "guitarist": "in concert", "drummer": "in concert",
                "politician": "at a rally", "footballer": "in training"}.get(e.occupation, "portrait")
        image_fields, body_thumb = self._lead_image(e, view)
        fields = [("name", e.name), *image_fields, ("birth_date", born_tpl),
                  ("birth_place", f"[[{city.name}]], [[{country.name}]]"), ("residence", f"[[{home.name}]]"),
                  ("nationality", dem.name), ("occupation", e.occupation.capitalize()),
                  ("spouse", " ".join(f"[[{s.name}]]" for s in spouses) or None),
                  ("relatives", "<br />".join(f"[[{s.name}]] ({_SIBLING[s.gender]})" for s in sibs) or None),
                  ("awards", ", ".join(f"[[{a.name}]]" for a in awards) or None)]
        aka = f", also known as '''{e.aliases[0]}'''," if e.aliases else ""
        quarter = L.trail(city) + " old quarter" if r.random() < 0.3 else "the old quarter of " + L(city)
        ref = f'<ref name="bio-{slug(e.name)}">{cite(e, "Biography of " + e.name, _when(e.year + 30))}</ref>'
        out = [infobox(_INFOBOX[PER], fields), body_thumb,
               f"'''{e.name}'''{aka} (born {born_text}) is a {L(dem)} {e.occupation} and a member of "
               f"{L.many(orgs)}.{ref} {e.short} was born in {L(city)} and lives in {L(home)}.",
               "", "== Early life ==",
               f"{e.short} was born in {quarter}, in "
               f"{L(country)}.<ref name=\"bio-{slug(e.name)}\" /> <!-- birth year from the census -->",
               f"{e.short} spent {poss} childhood in {city.name}."]
        out += [f"{e.short} is the {_SIBLING[e.gender]} of {L(s)}." for s in sibs]
        out += [f"{e.short} is the {_CHILD[e.gender]} of {L(p)}." for p in parents]
        out += [f"{e.short} is the {_PARENT[e.gender]} of {L(c)}, who was born in {c.year}."
                for c in children]
        if r.random() < 0.5:
            thumb = self.files.photo(e, "as a child", "thumb", 1)
            out.append(f"\n[[File:{thumb}|thumb|left|{e.short} as a child in [[{city.name}]]]]")
        out += ["", "== Career ==", f"In {e.year + r.randint(18, 25)}, {e.short} joined {L(orgs[0])}."]
        if peers:
            out.append(f"{e.short} works alongside {L.many(peers)}.")
        out += [f"{e.short} has also been a member of {L(o)} since {o.year + r.randint(1, 9)}."
                for o in orgs[1:]]
        # Link trails on common nouns ("[[drum]]s"): MediaWiki shows the trail as part of the link.
        hobby = {"drummer": "plays [[drum]]s", "guitarist": "collects [[guitar]]s",
                 "singer": "writes [[song]]s"}
        if e.occupation in hobby or r.random() < 0.3:
            self.stats.add("trail")
            out.append(f"{e.short} {hobby.get(e.occupation, 'collected [[stamp]]s as a child')}.")
        for s in shows:
            if s.kind == "event":
                out.append(f"{e.short} appeared at the {L(s)} in {s.year}."
                           f"<ref>{s.name} programme, {s.year}.</ref>")
            else:
                out.append(f"{e.short} starred in ''{L(s)}'' ({s.year}).")
        if awards:
            out += ["", "=== Awards ===", f"{e.short} has received {L.many(awards)}."]
            out.append(wikitable("Awards", ["Year", "Award", "Result"],
                                 [[str(_when(max(a.year, e.year + 18) + r.randint(0, 5))), f"[[{a.name}]]",
                                   "Won"] for a in awards]))
        home_country = w.heads(home.key, "/loc/loc/contain")[0]
        out += ["", "== Personal life ==", f"{e.short} lives in {L(home)}, {L(home_country)}."]
        out += [f"{e.short} is married to {L(s)}; they met in {r.choice((home, city)).name}."
                for s in spouses]
        if e.aliases:
            out.append(f"{e.short} performs and writes under the name ''{e.aliases[0]}''.")
        cats = [f"{dem.name} {e.occupation}s", f"People from {city.name}", "Demo people"]
        return "\n".join(out) + self._tail(e, cats)

    def place(self, e: Entity) -> str:
        w, L, r = self.world, self.link, self.rng
        image_fields, body_thumb = self._lead_image(e, r.choice(("skyline", "town square", "harbour")))
        is_country = e.kind == "country"
        flag = self.files.svg(e, "Flag of {}", "flag")
        fields = [("name", e.name), ("settlement_type", "Country" if is_country else "Town"), *image_fields,
                  ("image_flag", flag)]
        country = None if is_country else w.heads(e.key, "/loc/loc/contain")[0]
        if is_country:
            fields.append(("image_map", self.files.svg(e, "{} location map", "map")))
        else:
            fields += [("subdivision_type", "Country"), ("subdivision_name", f"[[{country.name}]]")]
        fields += [("established_date", str(e.year)), ("population_total", f"{r.randint(2, 900) * 1000:,}")]
        aka = f" (also '''{e.aliases[0]}''')" if e.aliases else ""
        born = w.heads(e.key, "/per/loc/place_of_birth")
        residents = w.heads(e.key, "/per/loc/place_of_residence")
        orgs, events = w.heads(e.key, "/org/loc/locate_at"), w.heads(e.key, "/misc/loc/held_on")
        out = [infobox(_INFOBOX[LOC], fields), body_thumb]
        if is_country:
            towns = w.tails(e.key, "/loc/loc/contain")
            dem = next(x for x in w.entities.values() if x.redirect_to == e.key)
            out += [f"'''{e.name}'''{aka} is a country. Its towns include {L.many(towns)}. Its people are "
                    f"called {dem.name}.<ref>{cite(e, 'Gazetteer of ' + e.name, 2020)}</ref>", "",
                    "== History ==", f"{e.name} became a state in {e.year}.",
                    f"[[Image:{flag}|thumb|upright|The flag of {e.name}]]", "", "== Towns ==",
                    wikitable("Towns", ["Town", "Founded"], [[f"[[{t.name}]]", str(t.year)] for t in towns])]
        else:
            out += [f"'''{e.name}'''{aka} is a town in {L(country)}.<!-- TODO: population source -->"
                    f"<ref name=\"gaz-{slug(e.name)}\">{cite(e, 'Gazetteer of ' + country.name, 2021)}</ref>",
                    "", "== History ==", f"{e.name} was founded in {e.year} and lies in {L(country)}."
                    f"<ref name=\"gaz-{slug(e.name)}\" />"]
        if orgs:
            out.append(f"{e.name} is home to {L.many(orgs)}.")
        out += [f"The {L(ev)} is held in {e.name} every year." for ev in events]
        if not is_country and self._n_gallery < 4 and r.random() < 0.5:
            out += ["", "== Gallery ==", self._gallery(e, ["market", "old bridge"], f"[[{e.name}]]")]
            if self._n_gallery == 1:  # one article carries two gallery blocks
                out += ["", "=== Old views ===", self._gallery(e, ["harbour at dusk"], e.name)]
        if born or residents:
            out += ["", "== Notable people =="]
            out += [f"* {L(p)} ({p.occupation}), born in {e.name} in {p.year}" for p in born]
            out += [f"* {L(p)} ({p.occupation}) lives in {e.name}" for p in residents]
        cats = ["Countries in the demo world" if is_country else f"Towns in {country.name}"]
        return "\n".join(out) + self._tail(e, cats)

    def org(self, e: Entity) -> str:
        w, L, r = self.world, self.link, self.rng
        view = {"band": "live", "club": "team photo", "party": "rally"}.get(e.kind, "headquarters")
        image_fields, body_thumb = self._lead_image(e, view)
        logo = self.files.svg(e, "{} logo", "logo")
        places = w.tails(e.key, "/org/loc/locate_at")
        city = next(x for x in places if x.kind == "city")
        country = next(x for x in places if x.kind == "country")
        parents, subs = w.tails(e.key, "/org/org/subsidiary"), w.heads(e.key, "/org/org/subsidiary")
        members = w.heads(e.key, "/per/org/member_of")
        fields = [("name", e.name), ("logo", f"{logo}|150px"), *image_fields, ("founded", str(e.year)),
                  ("location", f"[[{city.name}]], [[{country.name}]]"),
                  ("parent", ", ".join(f"[[{p.name}]]" for p in parents) or None)]
        aka = f" ('''{e.aliases[0]}''')" if e.aliases else ""
        out = [infobox(_INFOBOX[ORG], fields), body_thumb,
               f"'''{e.name}'''{aka} is a {_ORG_PHRASE[e.kind]} based in {L(city)}, {L(country)}.",
               "", "== History ==",
               f"{e.short} was founded in {L(city)} in {e.year}."
               f"<ref>{cite(e, 'History of ' + e.name, _when(e.year + 20))}</ref>"]
        out += [f"{e.name} is a subsidiary of {L(p)}." for p in parents]
        if subs:
            out.append(f"Its subsidiaries include {L.many(subs)}.")
        if e.kind == "band" and not any(f.endswith(".ogg") for f in self.non_image_files):
            sample = f"{e.name} - Live excerpt.ogg"
            self.non_image_files.append(normalize_filename(sample))
            out.append(f"[[File:{sample}|thumb|A live excerpt by {e.short}]]")
        if e.kind == "company" and not any(f.endswith(".pdf") for f in self.non_image_files):
            report = f"{e.short} annual report {e.year + 100 if e.year < 1926 else 2025}.pdf"
            self.non_image_files.append(normalize_filename(report))
            out.append(f"The [[Media:{report}|annual report]] is published each spring. "
                       f"[[File:{report}|page=1|thumb|Annual report]]")
        if members:
            out += ["", "== Members ==", f"Members of {e.short} include {L.many(members)}.",
                    wikitable("Members", ["Name", "Role", "Born in"],
                              [[f"[[{m.name}]]", m.occupation.capitalize(),
                                f"[[{w.tails(m.key, '/per/loc/place_of_birth')[0].name}]]"]
                               for m in members])]
        if r.random() < 0.5:
            thumb = self.files.photo(e, "building" if e.kind != "band" else "on stage", "thumb", 1)
            out.append(f"\n[[File:{thumb}|thumb|{e.short} in [[{city.name}]], {r.randint(1990, 2024)}]]")
        cats = [f"Organizations based in {city.name}", f"{e.kind.capitalize()}s"]
        return "\n".join(out) + self._tail(e, cats)

    def misc(self, e: Entity) -> str:
        w, L, r = self.world, self.link, self.rng
        what = {"event": "crowd", "award": "medal", "series": "poster", "work": "cover"}[e.kind]
        # One award's medal is a GIF: real dumps reference .gif files too.
        gif = e.kind == "award" and not any(i.fmt == "GIF" for i in self.images.values())
        image_fields, body_thumb = self._lead_image(e, what, ext="gif" if gif else None)
        fields = [("name", e.name), *image_fields, ("year", str(e.year))]
        people = w.heads(e.key, "/per/misc/present_in")
        winners = w.heads(e.key, "/per/misc/awarded")
        aka = f" (also '''{e.aliases[0]}''')" if e.aliases else ""
        out = [infobox(_INFOBOX[MISC], fields), body_thumb]
        if e.kind == "event":
            places = w.tails(e.key, "/misc/loc/held_on")
            city = next(x for x in places if x.kind == "city")
            country = next(x for x in places if x.kind == "country")
            out += [f"The '''{e.name}'''{aka} is an annual event held in {L(city)}, {L(country)}.", "",
                    "== History ==", f"It was first held in {e.year}.<ref>{cite(e, e.name, e.year)}</ref>"]
            if people:
                out.append(f"Participants have included {L.many(people)}.")
        elif e.kind == "award":
            out += [f"The '''{e.name}'''{aka} is an award for achievement in the arts and sport.", "",
                    "== History ==", f"It was first presented in {e.year}."]
            if winners:
                out += [f"Recipients include {L.many(winners)}.",
                        wikitable("Recipients", ["Recipient", "Occupation"],
                                  [[f"[[{p.name}]]", p.occupation] for p in winners])]
        elif e.kind == "series":
            parts = w.heads(e.key, "/misc/misc/part_of")
            out += [f"'''''{e.name}'''''{aka} is a series of films and novels.", "", "== History ==",
                    f"The series began in {e.year}." + (f" It includes {L.many(parts)}." if parts else "")]
        else:
            series = w.tails(e.key, "/misc/misc/part_of")[0]
            out += [f"'''''{e.name}'''''{aka} is a {e.year} film, part of {L(series)}.", "", "== History ==",
                    f"''{e.short}'' is the {r.choice(('second', 'third', 'fourth'))} instalment of "
                    f"''{series.name}''.<ref>{cite(e, e.name + ' review', e.year)}</ref>"]
            if people:
                out.append(f"The cast includes {L.many(people)}.")
        return "\n".join(out) + self._tail(e, [f"{e.kind.capitalize()}s of the demo world"])
