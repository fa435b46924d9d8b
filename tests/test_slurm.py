"""The DAG through a real single-node SLURM (tests/slurm/start_cluster.sh): same results as the
local run, jobs of one stage side by side, and a cancelled job that is retried; and what
profiles/slurm-gpu asks SLURM for (a GPU for the GPU rules only; the test node declares stand-in
GPUs, so SLURM schedules and records the requests although no job can use a GPU there).

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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from conftest import REPO, snakemake_command
from fixtures import without_rates

SLURM_DIR = REPO / "tests" / "slurm"
ENABLED = (
    os.environ.get("MORE_IE_SLURM_TEST", "1") != "0"
    and sys.platform == "linux"
    and os.geteuid() == 0
    and (shutil.which("slurmctld") is not None or shutil.which("apt-get") is not None)
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ENABLED, reason="needs root to run SLURM daemons here"),
]


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    subprocess.run([str(SLURM_DIR / "start_cluster.sh")], check=True, timeout=600)
    yield
    subprocess.run(["scancel", "--user", "root"], check=False)
    subprocess.run([str(SLURM_DIR / "stop_cluster.sh")], check=False, timeout=120)


TARGET = "results/demo_mner/moe_f1.json"
# The NER half of the tiny DAG, seed 1 only (the seed is a wildcard value: every rule of that half
# still runs through SLURM, the cross-seed summary included), keeps CI time down. The paper's
# Text+Image is the one MoE variant that pairs two views of one seed.
SLURM_SEEDS, SLURM_VARIANTS = [1], ["text+image"]
# What the comparison with the local run leaves out: logs, benchmarks and Snakemake's markers say
# when and where a job ran; Lucene's segment ids are random in the shard indexes and the merged one
# (the retrieval they answer is compared).
NOT_COMPARED = re.compile(
    r"^results/(logs|benchmarks)/|^results/index/[^/]+/bm25(_shards/[^/]+)?/|\.snakemake_timestamp$"
)


def _slurm_snakemake(workdir: Path, *args: str) -> subprocess.Popen:
    cmd = snakemake_command(workdir, "--profile", str(REPO / "profiles" / "slurm-test"), *args, cores=None)
    # Output goes to a file, not a pipe: the fixture polls SLURM while the run goes on and reads the
    # output only at the end, and a pipe that nobody reads blocks Snakemake once it holds 64 KiB.
    with open(workdir / "snakemake.out", "w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)


@dataclass
class SlurmJobs:
    """What SLURM itself recorded about the run's jobs (not what the jobs logged)."""

    records: dict[str, dict[str, str]] = field(default_factory=dict)  # job id -> comment, state, start, end
    running: list[set[str]] = field(default_factory=list)  # job ids in state RUNNING, one set per poll

    def poll(self) -> None:
        queue = subprocess.run(
            ["squeue", "-h", "-t", "all", "-o", "%i|%T|%k"], capture_output=True, text=True
        ).stdout
        running = set()
        for line in queue.splitlines():
            job, state, comment = line.split("|", 2)
            self.records.setdefault(job, {})["comment"] = comment
            if state == "RUNNING":
                running.add(job)
        self.running.append(running)
        # scontrol keeps a finished job's real start and end for MinJobAge (120 s; polled every 2 s)
        shown = subprocess.run(["scontrol", "-o", "show", "job"], capture_output=True, text=True).stdout
        for line in shown.splitlines():
            fields = {key: JOB_FIELD[key].search(line) for key in JOB_FIELD}
            if fields["id"] is None:
                continue
            record = self.records.setdefault(fields["id"].group(1), {})
            record.update({key: m.group(1) for key, m in fields.items() if m is not None and key != "id"})


JOB_FIELD = {
    "id": re.compile(r"\bJobId=(\d+)"),
    "state": re.compile(r"\bJobState=(\S+)"),
    "start": re.compile(r"\bStartTime=(\S+)"),
    "end": re.compile(r"\bEndTime=(\S+)"),
    # what the job asked for beyond CPUs and memory: `sbatch --gpus=1` shows as gres:gpu:1 (or gres/gpu:1)
    "tres_per_job": re.compile(r"\bTresPerJob=(\S+)"),
    "name": re.compile(r"\bJobName=(\S+)"),
}


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, SlurmJobs]:  # type: ignore[no-untyped-def]
    workdir = tmp_path_factory.mktemp("slurm_dag")
    config = yaml.safe_load((REPO / "tests" / "config.tiny.yaml").read_text())
    config["experts"]["seeds"], config["moe"]["variants"] = SLURM_SEEDS, SLURM_VARIANTS
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    process = _slurm_snakemake(workdir, TARGET)
    jobs = SlurmJobs()
    cancelled = None
    deadline = time.time() + 1500
    while process.poll() is None and time.time() < deadline:
        jobs.poll()
        if cancelled is None:  # cancel the first training job that runs: it must be retried
            queue = subprocess.run(
                ["squeue", "-h", "-t", "R", "-o", "%i %k"], capture_output=True, text=True
            ).stdout
            for line in queue.splitlines():
                job, _, comment = line.partition(" ")
                if "train_expert" in comment:
                    time.sleep(3)
                    subprocess.run(["scancel", job], check=True)
                    cancelled = job
                    break
        time.sleep(2)
    process.wait(timeout=60)
    output = (workdir / "snakemake.out").read_text()
    jobs.poll()
    assert process.returncode == 0, output[-5000:]
    assert cancelled is not None, "no training job was seen running"
    return workdir, output, jobs


def _seed_one_summary(summary: dict) -> dict:
    """moe_f1.json's per-seed parts: each seed-1 expert and each seed-1 pair of every variant (its
    means and sds are over the run's seeds, so they differ between one seed and two)."""
    experts = {name: v for name, v in summary["experts"].items() if name.endswith(f"-s{SLURM_SEEDS[0]}")}
    pairs = {
        (variant, method): [p for p in v[method]["per_pair"] if p["seed"] == SLURM_SEEDS[0]]
        for variant, v in summary["variants"].items()
        if variant in SLURM_VARIANTS
        for method in v
        if isinstance(v[method], dict) and "per_pair" in v[method]
    }
    assert experts and pairs and all(pairs.values()), f"no seed-1 results in {sorted(summary)}"
    return {"experts": experts, "pairs": pairs, "labels": summary["labels"], "task": summary["task"]}


def test_slurm_run_matches_the_local_run(slurm_run, request: pytest.FixtureRequest) -> None:  # type: ignore[no-untyped-def]
    """Every result the SLURM run wrote equals the local run's: Parquet and safetensors byte for
    byte, JSON but for measured speeds, and the summary's per-seed parts."""
    workdir, _, _ = slurm_run
    # asked for only now: as an argument, the session-scoped local run would be set up first, and
    # under pytest-xdist this worker would wait for the other's tiny DAG before starting SLURM's
    tiny_run: Path = request.getfixturevalue("tiny_run")
    written = sorted(
        str(p.relative_to(workdir))
        for p in (workdir / "results").rglob("*")
        if p.is_file() and not NOT_COMPARED.search(str(p.relative_to(workdir)))
    )
    assert any("/experts/" in name for name in written) and any("/moe/gates/" in name for name in written)
    differing = []
    for name in written:
        slurm_file, local_file = workdir / name, tiny_run / name
        if name == TARGET:
            same = _seed_one_summary(json.loads(slurm_file.read_text())) == _seed_one_summary(
                json.loads(local_file.read_text())
            )
        elif name.endswith(".json"):
            same = without_rates(json.loads(slurm_file.read_text())) == without_rates(
                json.loads(local_file.read_text())
            )
        else:
            same = local_file.is_file() and slurm_file.read_bytes() == local_file.read_bytes()
        if not same:
            differing.append(name)
    assert (
        differing == []
    ), f"{len(differing)} of {len(written)} results differ from the local run's: {differing[:10]}"


def test_jobs_of_one_stage_run_side_by_side(slurm_run) -> None:  # type: ignore[no-untyped-def]
    """SLURM ran both corpus shard jobs at once: seen RUNNING together, or by SLURM's start/end times.

    Evidence from SLURM's own records, not from the jobs' log lines (a short job's first and last
    log lines say little about when it held its allocation, least of all on a busy machine).
    """
    _, _, jobs = slurm_run
    shards = {job: r for job, r in jobs.records.items() if "corpus_shard" in r.get("comment", "")}
    assert len(shards) == 2, f"expected the two corpus shard jobs in SLURM's records, got {shards}"
    seen_together = any(set(shards) <= running for running in jobs.running)
    overlap = False
    if all(r.get("state") == "COMPLETED" for r in shards.values()):
        (s0, e0), (s1, e1) = [
            (datetime.fromisoformat(r["start"]), datetime.fromisoformat(r["end"])) for r in shards.values()
        ]
        # whole seconds: s1 < e0 on the truncated times implies it on the true ones
        overlap = s0 < e1 and s1 < e0
    assert seen_together or overlap, f"SLURM did not run the two corpus shards at the same time: {shards}"


def test_a_cancelled_job_is_retried_and_leaves_no_partial_output(slurm_run) -> None:  # type: ignore[no-untyped-def]
    workdir, output, _ = slurm_run
    assert re.search(r"(Trying to restart job|Retrying|restart)", output, re.IGNORECASE), output[-3000:]
    leftovers = [p for p in (workdir / "results").rglob("*") if ".tmp" in p.name]
    assert leftovers == []
    # a rerun picks up from there: nothing left to do
    again = _slurm_snakemake(workdir, TARGET, "--dry-run")
    again.wait(timeout=300)
    text = (workdir / "snakemake.out").read_text()
    assert again.returncode == 0 and "Nothing to be done" in text, text[-2000:]


def test_the_test_profile_asks_for_no_gpu(slurm_run) -> None:  # type: ignore[no-untyped-def]
    _, _, jobs = slurm_run
    asked = {job: r for job, r in jobs.records.items() if "gpu" in r.get("tres_per_job", "")}
    assert not asked, f"profiles/slurm-test asked SLURM for GPUs: {asked}"


GPU_TARGET = "results/demo_mner/moe/features/dev.parquet"  # gate_features (a GPU rule) after CPU rules


def test_slurm_gpu_profile_asks_a_gpu_for_gpu_rules_and_none_for_cpu_rules(cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copy(REPO / "tests" / "config.tiny.yaml", tmp_path / "config.yaml")
    # the profile's own settings, polling faster: a small target on an idle test cluster
    fast = ["--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "3"]
    # the target last: right after --configfile (no --cores between them here) Snakemake would read
    # it as a second config file
    cmd = snakemake_command(
        tmp_path,
        "--profile",
        str(REPO / "profiles" / "slurm-gpu"),
        *fast,
        "--latency-wait",
        "10",
        GPU_TARGET,
        cores=None,
    )
    jobs = SlurmJobs()
    with open(tmp_path / "snakemake.out", "w") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 900
    while process.poll() is None and time.time() < deadline:
        jobs.poll()
        time.sleep(2)
    process.wait(timeout=60)
    jobs.poll()
    output = (tmp_path / "snakemake.out").read_text()
    assert process.returncode == 0, output[-5000:]
    # this run's jobs only (SLURM still shows the earlier run's for MinJobAge): named by the run's id
    run_id = re.search(r"SLURM run ID: (\S+)", output)
    assert run_id is not None, output[-3000:]
    by_rule: dict[str, list[dict[str, str]]] = {}
    for record in jobs.records.values():
        if record.get("name") != run_id.group(1):
            continue
        rule = record.get("comment", "").split()[0] if record.get("comment") else ""
        by_rule.setdefault(rule.removeprefix("rule_"), []).append(record)
    gpu = [r for rule, rs in by_rule.items() if "gate_features" in rule for r in rs]
    cpu = [r for rule, rs in by_rule.items() if "gate_features" not in rule for r in rs]
    assert gpu and cpu, f"expected gate_features and CPU jobs in SLURM's records: {jobs.records}"
    for record in gpu:
        assert re.fullmatch(r"gres[:/]gpu:1", record.get("tres_per_job", "")), record
    for record in cpu:
        assert "gpu" not in record.get("tres_per_job", ""), record
