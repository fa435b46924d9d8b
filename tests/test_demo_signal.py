"""The demo demonstrates: on the tiny CI run the planted knowledge lifts the retrieval experts above
`none` and the MoE is no worse than average pooling; with the retrieval rows attached to the wrong
samples, the same checks fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import REPO
from more_ie.demo.signal import SignalCheck, hit_rate, signal_failures
from more_ie.utils.atomic import write_parquet

# The planted signal: none can only guess the type (NER) or relation (RE) of an unseen name, while
# about 70 % of the posts are resolvable by each retrieval view (bench/RESULTS.md has the retrieval
# hit rates). 10 F1 is far below what a reader of the retrieved introduction gains; whether the
# tiny config's training reaches it is recorded there too.
CHECK = SignalCheck(margin=0.10)
DATASETS = ("demo_mner", "demo_mnre")


# Known gap (issue 11, bench/RESULTS.md): on the tiny world's NER set, one epoch of MiniLM learns the
# training names' types instead of reading them from the retrieved introduction, so the +10 F1 margin
# is not reached there yet. Strict: the day it passes, this mark must go.
NER_GAP = pytest.mark.xfail(strict=True, reason="demo NER experts do not yet read the planted knowledge")


@pytest.mark.slow
@pytest.mark.parametrize("dataset", [pytest.param("demo_mner", marks=NER_GAP), "demo_mnre"])
def test_knowledge_lifts_the_experts_and_the_moe_holds(tiny_run: Path, dataset: str) -> None:
    assert signal_failures(tiny_run / "results", dataset, CHECK) == []


@pytest.mark.slow
@pytest.mark.parametrize("dataset", DATASETS)
def test_retrieval_finds_the_planted_article(tiny_run: Path, dataset: str) -> None:
    """Even the demo's random CLIP finds the article whose picture a post copies, and BM25 the named one."""
    world = tiny_run / "results" / "demo" / "world"
    for view, floor in (("image", 0.6), ("text", 0.7)):
        rate = hit_rate(world, tiny_run / "results", dataset, view, "test", ks=(1, 3))
        assert rate["posts"] >= 10 and rate["hit@1"] >= floor and rate["hit@3"] >= 0.8, (view, rate)


def _shuffle_sample_ids(path: Path, out: Path, seed: int) -> None:
    """Attach each sample's retrieval rows to another sample: the wiring bug the demo must catch."""
    table = pq.read_table(path)
    ids = np.array(sorted(set(table["sample_id"].to_pylist())))
    rng = np.random.default_rng(seed)
    moved = dict(zip(ids.tolist(), np.roll(ids, 1 + rng.integers(len(ids) - 1)).tolist()))  # no fixed point
    column = pa.array(
        [moved[s] for s in table["sample_id"].to_pylist()], type=table.schema.field("sample_id").type
    )
    write_parquet(
        table.set_column(table.schema.get_field_index("sample_id"), table.schema.field("sample_id"), column),
        out,
    )


@pytest.mark.slow
def test_shuffled_retrieval_wiring_fails_the_same_checks(tiny_run: Path, tmp_path: Path) -> None:
    """Retrain only the RE text and image experts (seed 1) on shuffled retrieval rows (RE: the set
    whose intact run passes the check, see NER_GAP)."""
    dataset, work = "demo_mnre", tmp_path / "broken"
    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    config["experts"]["seeds"], config["moe"]["variants"] = [1], ["text+image"]  # one seed: no Text+Text
    config["datasets"] = {dataset: config["datasets"][dataset]}  # only the set under test
    (work / "results" / dataset / "retrieval").mkdir(parents=True)
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    shutil.copytree(tiny_run / "results" / dataset / "data", work / "results" / dataset / "data")
    shutil.copytree(
        tiny_run / "results" / dataset / "experts" / "none-s1",
        work / "results" / dataset / "experts" / "none-s1",
    )
    for k, cache in enumerate(sorted((tiny_run / "results" / dataset / "retrieval").glob("*.parquet"))):
        _shuffle_sample_ids(cache, work / "results" / dataset / "retrieval" / cache.name, seed=k)
    targets = [f"results/{dataset}/experts/{view}-s1/metrics.json" for view in ("text", "image")]
    # Only train_expert may run: everything upstream is taken as it is, shuffled caches included.
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        *targets,  # before the options: --allowed-rules and --configfile take several values
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(work / "config.yaml"),
        "--cores",
        "2",
        "--allowed-rules",
        "train_expert",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    failures = signal_failures(work / "results", dataset, CHECK, with_moe=False)
    assert any(f.startswith(f"{dataset}: text ") for f in failures), failures
    assert any(f.startswith(f"{dataset}: image ") for f in failures), failures
    # The intact run passes the very same check: the failure is the wiring's, not the check's.
    assert signal_failures(tiny_run / "results", dataset, CHECK, with_moe=False) == []
