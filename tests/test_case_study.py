"""The case-study page: built from a trained run's test posts, rendered in headless Chromium, and
part of the whole DAG (so `snakemake --report` links it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest

from fixtures import headless_chromium
from more_ie.predict.settings import CaseStudySettings, PredictSettings

pytest.importorskip("pyserini")
TEXT_IMAGE = PredictSettings(variant="text+image", device="cpu", threads=1)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TEST_POSTS = [
    (
        ["Ada", "Lovelace", "was", "born", "in", "Brimholt"],
        ["B-PER", "I-PER", "O", "O", "O", "B-LOC"],
        "p0.jpg",
    ),
    (["Kevin", "Durant", "joined", "the", "Warriors"], ["B-PER", "I-PER", "O", "O", "O"], None),
    (["Lovelace"], ["B-PER"], "broken.jpg"),
    (["The", "river", "Vant"], ["O", "O", "B-LOC"], "p1.jpg"),
]


def _test_split(run: Path) -> None:
    from more_ie.datasets.readers import NER_SCHEMA
    from more_ie.utils import write_parquet

    rows = [
        {"sample_id": i, "tokens": t, "image": img, "tags": tags}
        for i, (t, tags, img) in enumerate(TEST_POSTS)
    ]
    write_parquet(pa.Table.from_pylist(rows, schema=NER_SCHEMA), run / "toy_ner" / "data" / "test.parquet")


def _screenshot(page: Path, png: Path, profile: Path) -> None:
    assert CHROMIUM is not None
    subprocess.run(
        headless_chromium(
            CHROMIUM,
            profile,
            "--hide-scrollbars",
            "--window-size=1200,2400",
            f"--screenshot={png}",
            page.as_uri(),
        ),
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def test_case_study_page_shows_posts_experts_gate_and_gold(toy_run: Path, tmp_path: Path) -> None:
    from more_ie.predict.case_study import write_case_study

    _test_split(toy_run)
    page = tmp_path / "case_study.html"
    summary = write_case_study(toy_run, "toy_ner", page, CaseStudySettings(3, 1), TEXT_IMAGE)
    html = page.read_text()
    assert summary["posts"] == 3 and html.count("<div class='post'>") == 3
    # every sampled post shows both experts, the MoE row and the gold row, and the gate table
    assert html.count("<td>text-s1</td>") == 3 and html.count("<td>image-s1</td>") == 3
    assert html.count("<td>MoE (moe)</td>") == 3 and html.count("<th>gold</th>") == 3
    assert html.count("<tr><th>label</th><th>O</th><th>B-LOC</th>") == 3 and html.count("<tr><th>g</th>") == 3
    # text-s1 (followed by the gate) tags every word B-PER: the gold LOC is missed, each word a wrong PER
    assert 'class="ent bad"' in html and "ent gold miss" in html and "MoE wrong" in html
    assert "random weights" in html  # the tiny CLIP's weights are random, and the page says so
    assert "data:image/png;base64," in html or "image: none" in html
    same = tmp_path / "again.html"
    write_case_study(toy_run, "toy_ner", same, CaseStudySettings(3, 1), TEXT_IMAGE)
    assert same.read_text() == html  # seeded


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (make test installs it)")
def test_case_study_page_renders_in_headless_chromium(toy_run: Path, tmp_path: Path) -> None:
    from PIL import Image

    from more_ie.predict.case_study import write_case_study

    _test_split(toy_run)
    page = tmp_path / "case_study.html"
    write_case_study(toy_run, "toy_ner", page, CaseStudySettings(4, 0), TEXT_IMAGE)
    png = tmp_path / "case_study.png"
    _screenshot(page, png, tmp_path / "profile")
    with Image.open(png) as shot:
        assert shot.size == (1200, 2400)
        colours = shot.convert("RGB").getcolors(maxcolors=1 << 20)
    # the page drew something: more than a blank canvas (text, the green/red highlights, the images)
    assert colours is not None and len(colours) > 50


@pytest.mark.slow
def test_the_dag_writes_a_case_study_per_dataset_and_the_report_links_it(
    tiny_run: Path, tmp_path: Path
) -> None:
    from conftest import snakemake_command

    for dataset in ("demo_mner", "demo_mnre"):
        html = (tiny_run / "results" / dataset / "case_study.html").read_text()
        assert html.count("<div class='post'>") >= 1 and "<th>gold</th>" in html
    report = tmp_path / "report.html"
    result = subprocess.run(
        snakemake_command(tiny_run, "--report", str(report), cores=1),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = report.read_text()
    assert "case_study.html" in text and "Case study" in text
