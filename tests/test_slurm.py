"""The DAG through a real single-node SLURM (tests/slurm/start_cluster.sh): same results as the
local run, jobs of one stage side by side, and a cancelled job that is retried.

Runs where it can start the daemons (root, Linux, apt or the packages present); set
MORE_IE_SLURM_TEST=0 to skip it. CI runs it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from conftest import REPO

SLURM_DIR = REPO / "tests" / "slurm"
ENABLED = os.environ.get("MORE_IE_SLURM_TEST", "1") != "0" and sys.platform == "linux" and os.geteuid() == 0 and (
    shutil.which("slurmctld") is not None or shutil.which("apt-get") is not None)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not ENABLED, reason="needs root to run SLURM daemons here")]
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ", re.MULTILINE)


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    subprocess.run([str(SLURM_DIR / "start_cluster.sh")], check=True, timeout=600)
    yield
    subprocess.run(["scancel", "--user", "root"], check=False)
    subprocess.run([str(SLURM_DIR / "stop_cluster.sh")], check=False, timeout=120)


TARGET = "results/demo_mner/moe_f1.json"  # the NER half of the tiny DAG keeps CI time down


def _slurm_snakemake(workdir: Path, *args: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--profile", str(REPO / "profiles" / "slurm-test"), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _span(log: Path) -> tuple[datetime, datetime]:
    stamps = [datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f") for s in STAMP.findall(log.read_text())]
    return stamps[0], stamps[-1]


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    workdir = tmp_path_factory.mktemp("slurm_dag")
    shutil.copy(REPO / "tests" / "config.tiny.yaml", workdir / "config.yaml")
    process = _slurm_snakemake(workdir, TARGET)
    cancelled = None
    deadline = time.time() + 1500
    while process.poll() is None and time.time() < deadline:
        if cancelled is None:  # cancel the first training job that runs: it must be retried
            queue = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i %k"], capture_output=True, text=True).stdout
            for line in queue.splitlines():
                job, _, comment = line.partition(" ")
                if "train_expert" in comment:
                    time.sleep(3)
                    subprocess.run(["scancel", job], check=True)
                    cancelled = job
                    break
        time.sleep(2)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output[-5000:]
    assert cancelled is not None, "no training job was seen running"
    return workdir, output


def test_slurm_run_matches_the_local_run(slurm_run, tiny_run: Path) -> None:  # type: ignore[no-untyped-def]
    workdir, _ = slurm_run
    on_slurm = json.loads((workdir / TARGET).read_text())
    on_local = json.loads((tiny_run / TARGET).read_text())
    assert on_slurm == on_local


def test_jobs_of_one_stage_run_side_by_side(slurm_run) -> None:  # type: ignore[no-untyped-def]
    workdir, _ = slurm_run
    logs = workdir / "results" / "logs" / "knowledge" / "demowiki" / "shards"
    (start0, end0), (start1, end1) = _span(logs / "00000.log"), _span(logs / "00001.log")
    assert start0 < end1 and start1 < end0, "the two corpus shards did not overlap in time"


def test_a_cancelled_job_is_retried_and_leaves_no_partial_output(slurm_run) -> None:  # type: ignore[no-untyped-def]
    workdir, output = slurm_run
    assert re.search(r"(Trying to restart job|Retrying|restart)", output, re.IGNORECASE), output[-3000:]
    leftovers = [p for p in (workdir / "results").rglob("*") if ".tmp" in p.name]
    assert leftovers == []
    # a rerun picks up from there: nothing left to do
    again = _slurm_snakemake(workdir, TARGET, "--dry-run")
    text = again.communicate(timeout=300)[0]
    assert again.returncode == 0 and "Nothing to be done" in text, text[-2000:]
