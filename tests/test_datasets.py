"""Dataset readers: counts on the real data, the fixes they make, and errors that name the line."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import SHARED_DATA
from more_ie.datasets import DatasetError, missing_images, normalize_split, read_conll_imgid, read_mnre

TWITTER17 = SHARED_DATA / "twitter2017"
MNRE = SHARED_DATA / "mnre" / "mnre_txt"
needs_twitter = pytest.mark.skipif(not TWITTER17.exists(), reason="../shared/data/twitter2017 is absent")
needs_mnre = pytest.mark.skipif(not MNRE.exists(), reason="../shared/data/mnre is absent")


@needs_twitter
@pytest.mark.parametrize(
    ("split", "tweets", "tokens", "entities"),
    [("train", 3373, 53007, 6049), ("valid", 723, 11309, 1324), ("test", 723, 11330, 1351)],
)
def test_twitter2017_counts_match_the_paper(split: str, tweets: int, tokens: int, entities: int) -> None:
    stats: Counter = Counter()
    samples = list(read_conll_imgid(TWITTER17 / f"{split}.txt", stats=stats))
    assert len(samples) == tweets
    assert sum(len(s.tokens) for s in samples) == tokens
    assert sum(t.startswith("B-") for s in samples for t in s.tags) == entities
    assert stats["stray_I_fixed"] == 0  # the README checked: no stray I- in this set
    assert samples[0].image == "17_06_12483.jpg" if split == "train" else True


@needs_twitter
def test_invisible_tokens_are_kept_with_their_labels() -> None:
    samples = [
        s for split in ("train", "valid", "test") for s in read_conll_imgid(TWITTER17 / f"{split}.txt")
    ]
    fe0f = [(s, i) for s in samples for i, t in enumerate(s.tokens) if t == "\ufe0f"]
    assert len(fe0f) == 142
    assert all(len(s.tokens) == len(s.tags) for s in samples)


@needs_mnre
@pytest.mark.parametrize(
    ("name", "lines", "none"),
    [("mnre_train.txt", 12247, 7744), ("mnre_val .txt", 1624, 1000), ("mnre_test.txt", 1614, 974)],
)
def test_mnre_counts_match_the_paper(name: str, lines: int, none: int) -> None:
    samples = list(read_mnre(MNRE / name))
    assert len(samples) == lines
    assert sum(s.relation == "None" for s in samples) == none
    first = samples[0]
    if name == "mnre_train.txt":
        assert first.tokens[first.head[0] : first.head[1]] == ["Circle", "Undone"]
        assert first.relation == "/misc/misc/part_of" and first.image == "twitter_19_31_16_6.jpg"


def test_label_map_and_stray_i_fix(tmp_path: Path) -> None:
    path = tmp_path / "t15.txt"
    path.write_text("IMGID:1\nThe\tO\nWorld\tI-OTHER\nCup\tI-OTHER\nin\tO\nRio\tI-LOC\n\nIMGID:2\nhi\tO\n")
    stats: Counter = Counter()
    samples = list(read_conll_imgid(path, {"OTHER": "MISC"}, stats))
    assert samples[0].tags == ["O", "B-MISC", "I-MISC", "O", "B-LOC"]
    assert stats["stray_I_fixed"] == 2
    assert [s.image for s in samples] == ["1.jpg", "2.jpg"]


def test_conll_without_final_blank_line(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("IMGID:9\nA\tB-PER\nB\tI-PER")
    assert [s.tags for s in read_conll_imgid(path)] == [["B-PER", "I-PER"]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("IMGID:1\nA\tB-PER\tX\n", r"x\.txt:2: expected 'token<TAB>tag'"),
        ("IMGID:1\nA B-PER\n", r"x\.txt:2: expected"),
        ("IMGID:1\nA\tQ-PER\n", r"x\.txt:2: tag 'Q-PER'"),
    ],
)
def test_malformed_conll_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.txt"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message):
        list(read_conll_imgid(path))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{'token': ['a'], 'h': {'name': 'a', 'pos': [0, 1]}", r"m\.txt:2: not a Python dict literal"),
        (
            "{'token': ['a', 'b'], 'h': {'name': 'a', 'pos': [0, 1]}, 't': {'name': 'b', 'pos': [1, 5]}, 'relation': 'None'}",  # noqa: E501
            r"m\.txt:2: t\.pos \[1, 5\] is outside",
        ),
        ("{'token': ['a'], 'h': {}, 'relation': 'None'}", r"m\.txt:2: missing keys \['t'\]"),
        ("__import__('os').system('echo pwned')", r"m\.txt:2: not a Python dict literal"),
    ],
)
def test_malformed_mnre_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    good = "{'token': ['a', 'b'], 'h': {'name': 'a', 'pos': [0, 1]}, 't': {'name': 'b', 'pos': [1, 2]}, 'img_id': 'x.jpg', 'relation': 'None'}"  # noqa: E501
    path = tmp_path / "m.txt"
    path.write_text(good + "\n" + line + "\n")
    with pytest.raises(DatasetError, match=message):
        list(read_mnre(path))


def test_normalized_split_and_missing_images(tmp_path: Path) -> None:
    src = tmp_path / "train.txt"
    src.write_text("IMGID:a\nBob\tB-PER\n\nIMGID:b\nParis\tB-LOC\n\n")
    out = tmp_path / "train.parquet"
    normalize_split(src, out, "conll_imgid")
    table = pq.read_table(out)
    assert table.column("tokens").to_pylist() == [["Bob"], ["Paris"]]
    assert table.schema.metadata[b"more_ie.labels"] == b'["LOC", "PER"]'
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(b"x")
    assert missing_images([out], images) == (2, ["b.jpg"])


# -- empty inputs ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "text"), [("conll_imgid", ""), ("conll_imgid", "\n\n  \n"), ("mnre_dict", "")]
)
def test_an_empty_split_file_is_an_error_naming_it(tmp_path: Path, fmt: str, text: str) -> None:
    path = tmp_path / "test.txt"
    path.write_text(text)
    with pytest.raises(DatasetError, match=r"test\.txt: the dataset file is empty"):
        normalize_split(path, tmp_path / "test.parquet", fmt)
    assert not (tmp_path / "test.parquet").exists()


def test_a_split_without_samples_after_parsing_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "test.txt"
    path.write_text("IMGID:1\n\nIMGID:2\n")  # posts without tokens
    with pytest.raises(DatasetError, match=r"test\.txt: no samples"):
        normalize_split(path, tmp_path / "test.parquet", "conll_imgid")


# -- the no-relation label -------------------------------------------------------------------
def _mnre_line(relation: str, image: str = "x.jpg") -> str:
    return (
        f"{{'token': ['a', 'b'], 'h': {{'name': 'a', 'pos': [0, 1]}}, 't': {{'name': 'b', 'pos': [1, 2]}}, "
        f"'img_id': {image!r}, 'relation': {relation!r}}}"
    )


@pytest.mark.parametrize("spelling", ["None", "none", "NA", "no_relation", "NO_RELATION"])
def test_no_relation_spellings_become_none(
    tmp_path: Path, spelling: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "re.txt"
    path.write_text(
        "\n".join([_mnre_line(spelling), _mnre_line("/per/org/member_of"), _mnre_line(spelling)]) + "\n"
    )
    with caplog.at_level("INFO"):
        stats = normalize_split(path, tmp_path / "re.parquet", "mnre_dict")
    table = pq.read_table(tmp_path / "re.parquet")
    assert table.column("relation").to_pylist() == ["None", "/per/org/member_of", "None"]
    assert stats["no_relation"] == 2
    assert table.schema.metadata[b"more_ie.no_relation_labels"].decode() == f'["{spelling}"]'
    assert f"no-relation label {spelling!r} taken as 'None'" in caplog.text


def test_no_relation_labels_are_configurable(tmp_path: Path) -> None:
    path = tmp_path / "re.txt"
    path.write_text("\n".join([_mnre_line("other"), _mnre_line("/per/org/member_of")]) + "\n")
    with pytest.raises(DatasetError, match=r"re\.txt: no sample has a no-relation label"):
        normalize_split(path, tmp_path / "re.parquet", "mnre_dict")
    normalize_split(path, tmp_path / "re.parquet", "mnre_dict", no_relation_labels=["Other"])
    assert pq.read_table(tmp_path / "re.parquet").column("relation").to_pylist() == [
        "None",
        "/per/org/member_of",
    ]


def test_scores_exclude_a_normalized_no_relation(tmp_path: Path) -> None:
    from more_ie.experts.metrics import re_scores

    path = tmp_path / "re.txt"
    path.write_text("\n".join([_mnre_line("NA"), _mnre_line("/per/org/member_of")]) + "\n")
    normalize_split(path, tmp_path / "re.parquet", "mnre_dict")
    gold = pq.read_table(tmp_path / "re.parquet").column("relation").to_pylist()
    # predicting no relation for the NA pair is right, and must not count as a relation found
    scores = re_scores(gold, ["None", "/per/org/member_of"])["micro"]
    assert (scores.tp, scores.n_pred, scores.n_gold) == (1, 1, 1)


# -- image names and image files -------------------------------------------------------------
def test_check_images_lists_missing_unsafe_and_undecodable_apart(tmp_path: Path) -> None:
    from PIL import Image

    from more_ie.datasets import check_images

    images = tmp_path / "images"
    images.mkdir()
    (tmp_path / "outside").mkdir()
    Image.new("RGB", (8, 8), "red").save(tmp_path / "outside" / "secret.png")
    Image.new("RGB", (8, 8), "red").save(images / "good.jpg")
    Image.new("RGB", (8, 8), "red").save(images / "png_named.jpg", format="PNG")  # decodes: PIL sniffs
    (images / "text.jpg").write_text("this is text, not a JPEG")
    jpeg = (images / "good.jpg").read_bytes()
    (images / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (images / "link.jpg").symlink_to(tmp_path / "outside" / "secret.png")
    names = [
        "good.jpg",
        "png_named.jpg",
        "text.jpg",
        "truncated.jpg",
        "absent.jpg",
        "../outside/secret.png",
        "/etc/passwd",
        "link.jpg",
    ]
    src = tmp_path / "re.txt"
    src.write_text("\n".join(_mnre_line("None", n) for n in names) + "\n")
    normalize_split(src, tmp_path / "re.parquet", "mnre_dict")
    found = check_images([tmp_path / "re.parquet"], images)
    assert found.n_samples == len(names)
    assert found.missing == sorted(["absent.jpg", "../outside/secret.png", "/etc/passwd", "link.jpg"])
    assert [n for n, _ in found.undecodable] == ["text.jpg", "truncated.jpg"]
    assert missing_images([tmp_path / "re.parquet"], images) == (len(names), found.missing)


def test_check_images_command_writes_both_kinds(tmp_path: Path) -> None:
    from more_ie.cli import main

    images = tmp_path / "images"
    images.mkdir()
    (images / "text.jpg").write_text("not an image")
    src = tmp_path / "re.txt"
    src.write_text("\n".join([_mnre_line("None", "text.jpg"), _mnre_line("None", "../x.jpg")]) + "\n")
    normalize_split(src, tmp_path / "re.parquet", "mnre_dict")
    assert (
        main(
            [
                "check-images",
                "--images-dir",
                str(images),
                "--out",
                str(tmp_path / "m.tsv"),
                str(tmp_path / "re.parquet"),
            ]
        )
        == 0
    )
    assert (tmp_path / "m.tsv").read_text() == "image\tproblem\n../x.jpg\tmissing\ntext.jpg\tundecodable\n"


def test_readers_flag_image_names_outside_the_folder(tmp_path: Path) -> None:
    src = tmp_path / "re.txt"
    src.write_text(
        "\n".join([_mnre_line("None", "../../../../etc/passwd"), _mnre_line("None", "ok.jpg")]) + "\n"
    )
    stats = normalize_split(src, tmp_path / "re.parquet", "mnre_dict")
    assert stats["unsafe_image_names"] == 1
