"""The offline demo world: determinism, the multistream dump layout, images and the two data sets."""
from __future__ import annotations

import ast
import bz2
import hashlib
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from more_ie.demo import (
    INDEX_NAME, MNRE_FILES, XML_NAME, DemoScale, generate_demo_world, mw_sha1, upload_relpath,
)
from more_ie.wiki.titles import is_image_file, normalize_filename, normalize_title

NS = "{http://www.mediawiki.org/xml/export-0.10/}"
SMALL = DemoScale(n_people=10, n_places=6, n_orgs=6, n_misc=6, ner_sizes=(12, 4, 4), re_sizes=(15, 5, 5),
                  pages_per_stream=3, image_size=32)
MNRE_LABELS = {
    "/per/per/peer", "/per/org/member_of", "/loc/loc/contain", "/per/misc/present_in", "/org/loc/locate_at",
    "/per/loc/place_of_residence", "/misc/loc/held_on", "/org/org/subsidiary", "/per/per/alternate_names",
    "/per/per/couple", "/per/misc/nationality", "/misc/misc/part_of", "/org/org/alternate_names",
    "/per/loc/place_of_birth", "/per/misc/awarded", "/per/per/siblings", "/per/per/parent", "None",
}


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "world"
    generate_demo_world(out)
    return out


@pytest.fixture(scope="module")
def manifest(world_dir: Path) -> dict:
    return json.loads((world_dir / "MANIFEST.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pages(world_dir: Path) -> list[ET.Element]:
    root = ET.fromstring(bz2.decompress((world_dir / "wiki" / XML_NAME).read_bytes()))
    return root.findall(f"{NS}page")


def _text(page: ET.Element) -> str:
    return page.findtext(f"{NS}revision/{NS}text") or ""


def test_deterministic_bytes(world_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_demo_world(again)
    first, second = _hashes(world_dir), _hashes(again)
    assert len(first) > 500
    assert first == second


def test_readme_and_manifest(world_dir: Path, manifest: dict) -> None:
    readme = (world_dir / "README.md").read_text(encoding="utf-8")
    assert "MADE-UP" in readme and "fictional" in readme and "seed 13" in readme
    assert manifest["seed"] == 13 and manifest["made_up"] is True
    assert manifest["files"] == sum(1 for p in world_dir.rglob("*") if p.is_file())
    assert 100 <= manifest["wiki"]["pages"] <= 150


def test_multistream_layout(world_dir: Path, manifest: dict) -> None:
    raw = (world_dir / "wiki" / XML_NAME).read_bytes()
    streams: dict[int, bytes] = {}
    offset = 0
    while offset < len(raw):  # walk the file stream by stream
        dec = bz2.BZ2Decompressor()
        data = dec.decompress(raw[offset:])
        assert dec.eof
        streams[offset] = data
        offset = len(raw) - len(dec.unused_data)
    offsets = list(streams)
    assert len(offsets) == manifest["wiki"]["bz2_streams"]
    header, footer = streams[offsets[0]].decode(), streams[offsets[-1]].decode()
    assert header.startswith('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/"')
    assert 'version="0.10" xml:lang="en"' in header and "<siteinfo>" in header and "<page>" not in header
    assert "<dbname>demowiki</dbname>" in header and "<case>first-letter</case>" in header
    for key in (0, 4, 6, 10, 14):
        assert f'<namespace key="{key}"' in header
    assert footer.strip() == "</mediawiki>"

    index = bz2.decompress((world_dir / "wiki" / INDEX_NAME).read_bytes()).decode("utf-8").splitlines()
    entries = [line.split(":", 2) for line in index]
    assert len(entries) == manifest["wiki"]["pages"]
    by_offset: dict[int, list[tuple[int, str]]] = {}
    for off, pid, title in entries:
        by_offset.setdefault(int(off), []).append((int(pid), title))
    # Every page stream is in the index, and each decompresses alone into whole <page> elements.
    assert sorted(by_offset) == offsets[1:-1]
    for off, listed in by_offset.items():
        chunk = ET.fromstring(b"<chunk>" + streams[off] + b"</chunk>")
        got = [(int(p.findtext("id")), p.findtext("title")) for p in chunk]
        assert got == listed
        assert len(got) <= manifest["scale"]["pages_per_stream"]
    ids = [int(pid) for _, pid, _ in entries]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # The concatenation of all streams is one well-formed document.
    root = ET.fromstring(b"".join(streams.values()))
    assert root.tag == f"{NS}mediawiki" and len(root.findall(f"{NS}page")) == len(entries)


def test_page_shapes(pages: list[ET.Element], manifest: dict) -> None:
    # MediaWiki's base-36 sha1, checked against a real enwiki revision.
    assert mw_sha1("#REDIRECT [[Computer accessibility]]\n\n{{Redr|move|from CamelCase|up}}") == \
        "4ro7vvppa5kmm0o1egfjztzcwd0vabw"
    titles = {p.findtext(f"{NS}title"): p for p in pages}
    articles = {normalize_title(t) for t, p in titles.items()
                if p.findtext(f"{NS}ns") == "0" and p.find(f"{NS}redirect") is None}
    nss = [p.findtext(f"{NS}ns") for p in pages]
    assert {"0", "4", "10"} <= set(nss)
    n_redirects = 0
    for p in pages:
        rev = p.find(f"{NS}revision")
        text_el = rev.find(f"{NS}text")
        text = text_el.text or ""
        assert int(text_el.get("bytes")) == len(text.encode("utf-8"))
        assert rev.findtext(f"{NS}sha1") == mw_sha1(text)
        assert rev.findtext(f"{NS}model") == "wikitext"
        redirect = p.find(f"{NS}redirect")
        if redirect is not None:
            n_redirects += 1
            assert text.lower().startswith("#redirect")
            assert normalize_title(redirect.get("title")) in articles
    assert n_redirects == manifest["wiki"]["redirects"] >= len(articles) // 4
    assert any(not _text(p) for p in pages if p.findtext(f"{NS}ns") == "0")
    corpus = "\n".join(_text(p) for p in pages)
    for needle in ("{{Infobox person", "| image", "[[File:", "[[Image:", "<gallery>", "<ref name=", '" />',
                   '{| class="wikitable', "<!--", "=== ", "[http://example.org", "[[Category:", "[[fr:",
                   "'''", "''", "{{disambiguation", ".ogg", ".pdf", "]]'s", "|200px", "<!-- no image -->"):
        assert needle in corpus, needle
    assert re.search(r"\[\[[a-z][^\]|]*#[A-Z][a-z]+\|", corpus), "a [[target#Section|surface]] link"
    assert re.search(r"\[\[[a-z]+\]\]s\b", corpus), "a common-noun link trail like [[drum]]s"
    # Links through redirect titles.
    redirect_titles = {p.findtext(f"{NS}title") for p in pages if p.find(f"{NS}redirect") is not None}
    assert any(f"[[{t}]]" in corpus for t in redirect_titles)


def test_articles_state_the_facts(world_dir: Path, pages: list[ET.Element]) -> None:
    world = json.loads((world_dir / "world.json").read_text(encoding="utf-8"))
    text = {p.findtext(f"{NS}title"): _text(p).casefold() for p in pages}
    names = {e["name"]: e for e in world["entities"]}
    for fact in world["facts"]:
        head, tail = names[fact["head"]], names[fact["tail"]]
        if head["redirect_to"] is None and head is not tail:
            surfaces = [tail["name"], *tail["aliases"]]
            assert any(s.casefold() in text[head["name"]] for s in surfaces), fact


def _referenced_files(corpus: str) -> set[str]:
    found = set(re.findall(r"(?:File|Image|Media):([^|\]\n]+)", corpus))
    for value in re.findall(r"^\|\s*(?:image\w*|logo)\s*=\s*(.*)$", corpus, flags=re.M):
        value = re.sub(r"<!--.*?-->", "", value).strip().lstrip("[")
        if value:
            found.add(value.split("|")[0])
    in_gallery = re.findall(r"<gallery>(.*?)</gallery>", corpus, flags=re.S)
    for block in in_gallery:
        found.update(line.split("|")[0] for line in block.strip().splitlines())
    return {normalize_filename(f) for f in found}


def test_images_exist(world_dir: Path, pages: list[ET.Element], manifest: dict) -> None:
    upload = world_dir / "wiki_upload"
    referenced = _referenced_files("\n".join(_text(p) for p in pages if p.findtext(f"{NS}ns") == "0"))
    images = {f for f in referenced if is_image_file(f)}
    missing = set(manifest["images"]["missing_images"])
    assert len(missing) == 2 and missing <= images
    assert len(images) == manifest["images"]["referenced"]
    for name in images:
        assert (upload / upload_relpath(name)).is_file() == (name not in missing), name
    for name in referenced - images:  # .ogg / .pdf: linked, not images, never uploaded
        assert not (upload / upload_relpath(name)).exists()
    assert {n.rsplit(".", 1)[-1] for n in images} >= {"jpg", "png", "svg"}
    fakes = manifest["images"]["fake_png_as_jpg"]
    assert fakes and all((upload / upload_relpath(f)).read_bytes().startswith(b"\x89PNG") for f in fakes)
    for path in upload.rglob("*"):
        if path.suffix == ".svg":
            assert b"<svg" in path.read_bytes()
        elif path.is_file():
            with Image.open(path) as img:
                img.verify()


def _read_mner(path: Path) -> list[tuple[str, list[tuple[str, str]]]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n\n")
    tweets = []
    for block in text.strip("\n").split("\n\n"):
        lines = block.split("\n")
        assert lines[0].startswith("IMGID:")
        rows = [tuple(line.split("\t")) for line in lines[1:]]
        assert all(len(r) == 2 for r in rows)
        tweets.append((lines[0][6:], rows))
    return tweets


def test_mner(world_dir: Path, manifest: dict) -> None:
    all_ids: list[str] = []
    tokens: list[str] = []
    no_entity = 0
    for split, n in zip(("train", "valid", "test"), manifest["scale"]["ner_sizes"]):
        tweets = _read_mner(world_dir / "mner" / f"{split}.txt")
        assert len(tweets) == n
        missing = set(manifest["mner"][split]["missing_images"])
        for img_id, rows in tweets:
            assert re.fullmatch(r"17_06_\d+", img_id)
            all_ids.append(img_id)
            prev = "O"
            for tok, tag in rows:
                assert tag == "O" or re.fullmatch(r"[BI]-(PER|LOC|ORG|MISC)", tag)
                if tag.startswith("I-"):
                    assert prev[2:] == tag[2:] and prev != "O"
                prev = tag
                tokens.append(tok)
            no_entity += all(tag == "O" for _, tag in rows)
            exists = (world_dir / "mner_images" / f"{img_id}.jpg").is_file()
            assert exists == (f"{img_id}.jpg" not in missing)
        assert missing
    assert len(set(all_ids)) == len(all_ids)
    assert no_entity > 0 and "RT" in tokens and "@" in tokens and "#" in tokens
    assert not any(re.match(r"[@#]\w|https?:", t) for t in tokens)
    assert any(t and set(t) <= {"\ufe0f", "\u200b"} for t in tokens)


def test_mnre(world_dir: Path, manifest: dict) -> None:
    assert (world_dir / "mnre" / "mnre_val .txt").is_file()
    labels = set()
    per_image: dict[str, int] = {}
    for split, n in zip(("train", "val", "test"), manifest["scale"]["re_sizes"]):
        lines = (world_dir / "mnre" / MNRE_FILES[split]).read_text(encoding="utf-8").splitlines()
        assert len(lines) == n
        for line in lines:
            d = ast.literal_eval(line)
            assert list(d) == ["token", "h", "t", "img_id", "relation"]
            for arg in (d["h"], d["t"]):
                s, e = arg["pos"]
                assert " ".join(d["token"][s:e]) == arg["name"]
            assert d["relation"] in MNRE_LABELS
            assert re.fullmatch(r"twitter_stream_2026_01_01_\d+\.jpg", d["img_id"])
            labels.add(d["relation"])
            per_image[d["img_id"]] = per_image.get(d["img_id"], 0) + 1
    assert set(per_image.values()) <= {1, 3, 6} and len(labels) >= 12
    assert all((world_dir / "mnre_images" / img).is_file() for img in per_image)


def test_small_scale_and_stale_files(tmp_path: Path) -> None:
    out = tmp_path / "small"
    generate_demo_world(out, seed=5, scale=SMALL)
    stale = out / "mner_images" / "stale.jpg"
    stale.write_bytes(b"old")
    m = generate_demo_world(out, seed=5, scale=SMALL)
    assert not stale.exists()
    assert m["files"] == sum(1 for p in out.rglob("*") if p.is_file())
    assert sum(len(_read_mner(out / "mner" / f"{s}.txt")) for s in ("train", "valid", "test")) == 20
    with pytest.raises(ValueError):
        generate_demo_world(tmp_path / "bad", scale=DemoScale(n_people=2))
