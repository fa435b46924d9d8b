"""The GPU profiles on a CPU: which jobs hold a GPU under profiles/gpu, and what
profiles/slurm-gpu makes the SLURM executor plugin ask for (its own sbatch-argument code, no
cluster needed; tests/test_slurm.py submits to a real one)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from conftest import REPO, snakemake_command
from more_ie.utils.gpu_slot import GPU_COMMANDS

GPU_RULES = {
    "train_expert",
    "clip_encode_kc",
    "image_index",
    "retrieve_image",
    "gate_features",
    "student_teacher",
    "train_student",
    "train_fold_expert",
}


def _resources(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(", ") if "=" in item)


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Rule -> resources of its jobs, from a dry run of the tiny config under profiles/gpu."""
    workdir = tmp_path_factory.mktemp("gpu_profile")
    shutil.copy(REPO / "tests" / "config.tiny.yaml", workdir / "config.yaml")
    cmd = snakemake_command(workdir, "--profile", str(REPO / "profiles" / "gpu"), "--dry-run", cores=None)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rules: dict[str, dict[str, str]] = {}
    for block in re.split(r"^(?:local)?rule ", result.stdout, flags=re.MULTILINE)[1:]:
        name = block.split(":", 1)[0]
        found = re.search(r"^\s+resources: (.*)$", block, flags=re.MULTILINE)
        rules[name] = _resources(found.group(1)) if found else {}
    return rules


@pytest.mark.slow
def test_gpu_profile_reserves_a_gpu_for_the_gpu_jobs_only(planned: dict[str, dict[str, str]]) -> None:
    profile = yaml.safe_load((REPO / "profiles" / "gpu" / "config.yaml").read_text())
    assert profile["resources"] == ["gpu=1"]  # one GPU job at a time unless --resources says more
    gpu_rules = {rule for rule, res in planned.items() if int(res.get("gpu", 0)) > 0}
    # the tiny DAG trains no students; every other GPU rule is in it
    assert gpu_rules == GPU_RULES - {"student_teacher", "train_student", "train_fold_expert"}
    assert {"train-expert", "clip-encode-kc", "gate-features"} <= GPU_COMMANDS  # they claim their GPU


class _Resources(dict):
    """What the plugin reads: job.resources.get(name) and job.resources.name."""

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return self[name]


class _Job:
    def __init__(self, resources: dict) -> None:
        self.resources = _Resources(resources)


@pytest.mark.slow
def test_slurm_gpu_profile_asks_slurm_for_a_gpu_for_gpu_rules_only(
    planned: dict[str, dict[str, str]],
) -> None:
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    profile = yaml.safe_load((REPO / "profiles" / "slurm-gpu" / "config.yaml").read_text())
    assert set(profile["set-resources"]) == GPU_RULES  # the student rules too, though not in this DAG
    for rule, resources in planned.items():
        # Snakemake's order: default-resources, then the rule's, then set-resources
        merged = {
            **profile["default-resources"],
            **{k: int(v) for k, v in resources.items() if k == "gpu"},
            **profile["set-resources"].get(rule, {}),
        }
        request = set_gres_string(_Job(merged))
        if rule in GPU_RULES:
            assert request == " --gpus=1" and merged["slurm_partition"] == "gpu", (rule, request)
        else:
            assert request == "" and merged["slurm_partition"] == "cpu", (rule, request)


def test_slurm_gpu_profile_keeps_the_slurm_profile_settings() -> None:
    """Only the GPU requests differ from profiles/slurm: the same executor, retries and defaults."""
    gpu = yaml.safe_load((REPO / "profiles" / "slurm-gpu" / "config.yaml").read_text())
    cpu = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    own = ("set-resources", "set-threads")  # the GPU requests, and CPUs to decode images for a GPU
    assert {k: v for k, v in gpu.items() if k not in own} == {k: v for k, v in cpu.items() if k not in own}
    assert not any("gres" in res for res in gpu["set-resources"].values())  # --gpus only, never both


def test_every_gpu_rule_has_its_place_in_the_other_slurm_profiles() -> None:
    """profiles/slurm sends each GPU rule to the GPU partition (a GPU rule left on the CPU
    partition would ask it for a GPU it has not), and the test cluster's profile asks for none."""
    cluster = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())["set-resources"]
    test = yaml.safe_load((REPO / "profiles" / "slurm-test" / "config.yaml").read_text())["set-resources"]
    for rule in GPU_RULES:
        assert cluster[rule]["slurm_partition"] == "gpu", rule
        assert test[rule]["gpu"] == 0, rule
