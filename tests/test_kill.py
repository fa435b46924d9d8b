"""Fault injection: kill -9 a run of part of the tiny DAG at a few points, rerun, compare.

The session's clean run of the whole tiny DAG (the ``tiny_run`` fixture, which other tests need
anyway) is the reference: these targets are part of it. The interrupted run is started as its own
session (process group), and SIGKILLed, jobs and all, shortly after a given stage's log first
appears (a seeded delay moves the kill around inside the stage). After the reruns the results
must be byte-identical to the clean run's (Parquet; JSON but for measured speeds) and no
temporary may remain. What the test asserts does not depend on timing: wherever a kill lands, the
outcome must be the same.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from conftest import REPO, snakemake_command
from fixtures import without_rates

pytestmark = pytest.mark.slow
pytest.importorskip("pyserini")

SEED = 20261125
# The subset: corpus parsing, BM25 shard indexes and their merge, text retrieval, one expert.
TARGETS = [
    "results/knowledge/demowiki/text_kc/00000.parquet",
    "results/knowledge/demowiki/text_kc/00001.parquet",
    "results/demo_mner/retrieval/dev.text.parquet",
    "results/demo_mner/experts/none-s1/metrics.json",
]
# Kill points, in DAG order: (the output that shows the stage is done, the folder to watch, what
# appearing there triggers the kill). Two are a stage's temporary output appearing (the kill then
# lands mid-write: corpus parsing, the BM25 merge), one is the training log (mid-training).
KILL_AT = [
    (
        "results/knowledge/demowiki/shards/00001.parquet",
        "results/knowledge/demowiki/shards",
        r"^\.00001\.parquet\.[a-z0-9_]{8}\.tmp",
    ),
    ("results/index/demowiki/bm25", "results/index/demowiki", r"^\.bm25\.[a-z0-9_]{8}\.tmp$"),
    ("results/demo_mner/experts/none-s1/metrics.json", "results/logs/demo_mner/experts", r"^none-s1\.log$"),
]
# The results compared byte for byte (the Lucene index is not byte-stable: segment ids are random;
# the retrieval it answers is compared instead).
COMPARED = [
    "results/knowledge/demowiki/shards/00000.parquet",
    "results/knowledge/demowiki/shards/00001.parquet",
    "results/knowledge/demowiki/redirects.parquet",
    "results/knowledge/demowiki/text_kc/00000.parquet",
    "results/knowledge/demowiki/text_kc/00001.parquet",
    "results/demo_mner/data/train.parquet",
    "results/demo_mner/data/dev.parquet",
    "results/demo_mner/retrieval/dev.text.parquet",
    "results/demo_mner/experts/none-s1/metrics.json",
    "results/demo_mner/experts/none-s1/dev.marginals.parquet",
    "results/demo_mner/experts/none-s1/test.marginals.parquet",
]
TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$")


def _content(path: Path) -> object:
    """The bytes of a file; for JSON, everything but the measured speeds (``*_per_s``)."""
    if path.suffix == ".json":
        return without_rates(json.loads(path.read_text()))
    return path.read_bytes()


def _command(workdir: Path, *args: str) -> list[str]:
    # one thread a job, as the reference (tiny_run) was made: torch's sums depend on the thread count
    return snakemake_command(workdir, "--profile", str(REPO / "profiles" / "small-cpu"), *args)


def _run(workdir: Path, *args: str) -> None:
    process = subprocess.Popen(
        _command(workdir, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=1500)
    finally:
        if process.poll() is None:  # timed out (or the test was interrupted): leave no job running
            _kill_session(process)
    assert process.returncode == 0, stdout[-3000:] + stderr[-5000:]


def _workdir(tmp_path: Path, name: str) -> Path:
    workdir = tmp_path / name
    workdir.mkdir()
    shutil.copy(REPO / "tests" / "config.tiny.yaml", workdir / "config.yaml")
    return workdir


def _kill_session(process: subprocess.Popen) -> None:
    """SIGKILL Snakemake's process group, then any job of its session that left the group."""
    sid = process.pid  # start_new_session: Snakemake leads its own session and process group
    os.killpg(sid, signal.SIGKILL)
    process.wait(timeout=60)
    for _ in range(100):
        members = []
        for proc in psutil.process_iter():
            try:
                if os.getsid(proc.pid) == sid:
                    members.append(proc)
            except (ProcessLookupError, psutil.Error):
                continue
        if not members:
            return
        for proc in members:
            try:
                proc.kill()
            except psutil.Error:
                pass
        time.sleep(0.1)
    raise AssertionError(f"processes of session {sid} survived SIGKILL")


def _appeared(folder: Path, pattern: re.Pattern[str], since: float) -> bool:
    if not folder.is_dir():
        return False
    for entry in os.scandir(folder):
        try:
            if pattern.match(entry.name) and entry.stat().st_mtime >= since:
                return True
        except FileNotFoundError:  # renamed away meanwhile
            continue
    return False


def _start_and_kill(workdir: Path, folder: Path, pattern: re.Pattern[str], delay: float) -> bool:
    """Run the targets; SIGKILL everything ``delay`` s after a match appears. False if none did."""
    since = time.time() - 1  # file systems with coarse mtimes
    process = subprocess.Popen(
        _command(workdir, "--rerun-incomplete", *TARGETS),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while not _appeared(folder, pattern, since):
            if process.poll() is not None:
                return False  # finished (or failed) before reaching the kill point: the rerun shows which
            time.sleep(0.02)
        time.sleep(delay)
        return process.poll() is None
    finally:
        if process.poll() is None:
            _kill_session(process)


def _temporaries(workdir: Path) -> list[str]:
    return sorted(
        str(p.relative_to(workdir)) for p in (workdir / "results").rglob("*") if TEMPORARY.match(p.name)
    )


def test_kill_9_at_seeded_points_then_rerun_gives_the_clean_results(
    tiny_run: Path, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    clean = tiny_run  # the same config and profile; other tests add to it but rewrite none of COMPARED

    killed = _workdir(tmp_path, "killed")
    rng = random.Random(SEED)
    kills, left_behind = 0, []
    for done, folder, pattern in KILL_AT:
        delay = rng.uniform(0.0, 0.05) if "tmp" in pattern else rng.uniform(0.5, 3.0)
        if (killed / done).exists():
            continue  # this stage already ran in an earlier round (jobs run in parallel)
        if _start_and_kill(killed, killed / folder, re.compile(pattern), delay):
            kills += 1
            left_behind += _temporaries(killed)
        _run(killed, "--unlock")
    assert kills >= 2, "the run finished before most kill points: nothing was interrupted"
    # what the kills left (usually the shard's and the merge's temporaries): the rerun must sweep it
    record_property("temporaries_left_by_kills", left_behind)
    _run(killed, "--rerun-incomplete", *TARGETS)

    differing = [name for name in COMPARED if _content(clean / name) != _content(killed / name)]
    assert differing == []
    assert _temporaries(killed) == [], f"temporaries survived the rerun (the kills left {left_behind})"
