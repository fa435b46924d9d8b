"""An imported view through the whole DAG (issue 20): import -> expert with cross-view alignment ->
marginals -> MoE variant -> summary and predict, on a copy of the tiny run (its other experts are
reused, so only the imported view's jobs run)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from conftest import REPO, snakemake_command


def _hints(split: Path, out: Path) -> None:
    """An imported file in the jsonl form: for each post, its entities and their types (knowledge
    about the post that the post alone does not give)."""
    with open(out, "w") as handle:
        for row in pq.read_table(split).to_pylist():
            facts, words, kind = [], [], None
            for token, tag in [*zip(row["tokens"], row["tags"]), ("", "O")]:
                if tag.startswith("I-"):
                    words.append(token)
                    continue
                if words:
                    facts.append(f"{' '.join(words)} is a {kind}.")
                words, kind = ([token], tag[2:]) if tag.startswith("B-") else ([], None)
            handle.write(json.dumps({"sample_id": row["sample_id"], "contexts": facts}) + "\n")


@pytest.mark.slow
def test_an_imported_view_feeds_an_expert_a_moe_variant_the_summary_and_predict(
    tiny_run: Path, tmp_path: Path
) -> None:
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir, symlinks=True)  # copy2: mtimes kept, so nothing else reruns
    data = workdir / "results" / "demo_mner" / "data"
    for split in ("train", "dev", "test"):
        _hints(data / f"{split}.parquet", workdir / f"hints_{split}.jsonl")
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    ds = config["datasets"]["demo_mner"]
    ds["contexts"] = {
        "hint": {
            "format": "jsonl",
            "source": "the test's own hand-written hints",
            "splits": {s: {"path": f"hints_{s}.jsonl"} for s in ("train", "dev", "test")},
        }
    }
    ds["experts"]["views"] = ["none", "hint", "random_hint"]
    ds["moe"] = {"variants": ["hint+none"]}
    (workdir / "imported.yaml").write_text(yaml.safe_dump(config))
    target = "results/demo_mner/moe_f1.json"
    result = subprocess.run(
        snakemake_command(  # one thread a job, as the tiny run: its 4 experts train 2 at a time
            workdir,
            target,
            "results/demo_mner/case_study.html",
            "--profile",
            str(REPO / "profiles" / "small-cpu"),
            config=workdir / "imported.yaml",
        ),
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    log = result.stdout + result.stderr
    assert "rule import_contexts" in log and "rule randomize_contexts" in log
    stats = log.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    jobs = {
        line.split()[0]: int(line.split()[1]) for line in stats.splitlines()[3:] if len(line.split()) == 2
    }
    assert jobs["train_expert"] == 4  # hint and random_hint x 2 seeds; the none experts are reused

    moe = json.loads((workdir / target).read_text())
    assert set(moe["experts"]) == {f"{v}-s{s}" for v in ("none", "hint", "random_hint") for s in (1, 2)}
    assert set(moe["variants"]) == {"hint+none"}
    assert moe["imported_views"]["hint"]["source"] == "the test's own hand-written hints"
    assert moe["imported_views"]["random_hint"]["random_ablation"] is True
    # knowledge about the post that names the answer: the expert reads it, its random ablation cannot
    hint, none = moe["views"]["hint"]["test_f1_mean"], moe["views"]["none"]["test_f1_mean"]
    assert hint > none + 0.10, (hint, none)
    assert hint > moe["views"]["random_hint"]["test_f1_mean"] + 0.10

    # predict: the imported view's text comes with the post, and its absence is an error naming it
    from more_ie.predict import MoRe

    model = MoRe.load(workdir / "results", "demo_mner", variant="hint+none")
    test = pq.read_table(data / "test.parquet").to_pylist()[0]
    post = {"id": "p", "tokens": test["tokens"], "contexts": {"hint": ["nothing to see"]}}
    assert model.predict([post])[0]["views"] == ["hint"]
    with pytest.raises(ValueError, match=r"the 'hint' view is imported \(jsonl: the test's own"):
        model.predict([{"id": "q", "tokens": test["tokens"]}])
    assert (workdir / "results" / "demo_mner" / "case_study.html").is_file()
