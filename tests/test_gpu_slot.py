"""One GPU per job on one machine (more_ie.utils.gpu_slot), on a CPU: MORE_IE_GPUS stands in for
nvidia-smi, and the commands print the CUDA_VISIBLE_DEVICES they were given."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from more_ie.utils.gpu_slot import job_environment, machine_gpus, try_claim

PRINT_AND_WAIT = (
    "import os, sys, time; print(os.environ.get('CUDA_VISIBLE_DEVICES', '-'), flush=True); time.sleep({})"
)


def _start(lock_dir: Path, gpus: str | None, seconds: float, **env: str) -> subprocess.Popen:
    environ = {k: v for k, v in os.environ.items() if k not in ("CUDA_VISIBLE_DEVICES", "MORE_IE_GPUS")}
    environ.update(MORE_IE_GPU_LOCK_DIR=str(lock_dir), **env)
    if gpus is not None:
        environ["MORE_IE_GPUS"] = gpus
    command = [sys.executable, "-c", PRINT_AND_WAIT.format(seconds)]
    return subprocess.Popen(
        [sys.executable, "-m", "more_ie.utils.gpu_slot", "--", *command],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line(process: subprocess.Popen) -> str:
    assert process.stdout is not None
    return process.stdout.readline().strip()


def test_concurrent_jobs_get_different_gpus_and_a_third_waits_for_a_free_one(tmp_path: Path) -> None:
    first, second = _start(tmp_path, "0,1", 2), _start(tmp_path, "0,1", 30)
    held_by_first, held_by_second = _first_line(first), _first_line(second)
    assert {held_by_first, held_by_second} == {"0", "1"}  # each sees one GPU, not the same one
    third = _start(tmp_path, "0,1", 0)
    time.sleep(1.0)
    assert third.poll() is None  # both GPUs are held: it waits
    assert first.wait(timeout=30) == 0
    assert _first_line(third) == held_by_first  # the GPU the first job gave back
    assert third.wait(timeout=30) == 0
    assert third.stderr is not None and "waiting for one" in third.stderr.read()
    second.kill()
    second.wait(timeout=30)


def test_a_killed_job_releases_its_gpu(tmp_path: Path) -> None:
    holder = _start(tmp_path, "0", 60)
    assert _first_line(holder) == "0"
    assert try_claim(["0"], tmp_path) is None  # held by the running job (the exec'd command)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    got = try_claim(["0"], tmp_path)
    assert got is not None and got[0] == "0"
    os.close(got[1])


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"CUDA_VISIBLE_DEVICES": "3", "MORE_IE_GPUS": "0,1"}, "3"),  # SLURM (or the user) chose: kept
        ({"MORE_IE_GPUS": ""}, "-"),  # no GPU: the command runs as it is, nothing set
    ],
)
def test_nothing_is_claimed_when_a_device_is_chosen_or_there_is_none(
    tmp_path: Path, env: dict, expected: str
) -> None:
    gpus = env.pop("MORE_IE_GPUS")
    process = _start(tmp_path, gpus, 0, **env)
    assert _first_line(process) == expected
    assert process.wait(timeout=30) == 0
    assert not list(tmp_path.glob("*.lock"))


def test_gpu_list_and_environment(tmp_path: Path) -> None:
    assert machine_gpus({"MORE_IE_GPUS": " 0, 2 ,"}) == ["0", "2"]
    env, fd = job_environment({"MORE_IE_GPUS": "MIG-1/2", "PATH": "/bin"}, tmp_path)
    assert env["CUDA_VISIBLE_DEVICES"] == "MIG-1/2" and env["PATH"] == "/bin" and fd is not None
    os.close(fd)
    assert [p.name for p in tmp_path.glob("*.lock")] == ["gpu-MIG-1_2.lock"]  # ids made file-name safe


def test_a_gpu_command_claims_under_the_workflow_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from more_ie.utils import gpu_slot

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("MORE_IE_GPUS", "0,1")
    monkeypatch.setenv("MORE_IE_GPU_LOCK_DIR", str(tmp_path))
    assert gpu_slot.claim_for_command("train-expert") is None  # not under the workflow
    monkeypatch.setenv("MORE_IE_GPU_SLOT", "1")
    assert gpu_slot.claim_for_command("bm25-index") is None  # a CPU command
    try:
        assert gpu_slot.claim_for_command("train-expert") == "0"
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
        assert try_claim(["0"], tmp_path) is None  # held for the rest of the process
        assert gpu_slot.claim_for_command("clip-encode-kc") is None  # a device is chosen now
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
        assert gpu_slot.claim_for_command("image-index", ["cpu"]) is None  # faiss_device: cpu
        assert gpu_slot.claim_for_command("retrieve-image", ["cpu", "auto"]) == "1"  # CLIP may use one
    finally:
        while gpu_slot._HELD:
            os.close(gpu_slot._HELD.pop())
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_gpu_commands_are_the_commands_of_the_rules_that_declare_a_gpu() -> None:
    """The rules' `resources: gpu=...` and GPU_COMMANDS name the same stages, so that every job that
    holds one of Snakemake's GPU slots runs on a GPU of its own, and no CPU job takes one."""
    import re

    from conftest import REPO
    from more_ie.utils.gpu_slot import GPU_COMMANDS

    declared, commands = set(), set()
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        for block in re.split(r"^rule ", path.read_text(), flags=re.MULTILINE)[1:]:
            command = re.search(r"-m more_ie ([a-z0-9-]+)", block)
            if command is None:
                continue
            commands.add(command.group(1))
            if re.search(r"^\s+gpu=", block, flags=re.MULTILINE):
                declared.add(command.group(1))
    assert declared == set(GPU_COMMANDS)
    assert GPU_COMMANDS <= commands


def test_requested_devices_read_the_flags_and_the_settings_json() -> None:
    import argparse

    from more_ie.utils.gpu_slot import requested_devices

    args = argparse.Namespace(device="auto", settings='{"faiss_device": "cpu", "device": "cpu"}')
    assert requested_devices(args) == ["cpu", "cpu"]
    assert requested_devices(argparse.Namespace(settings="{not json")) == []
