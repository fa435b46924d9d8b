"""The project's layout promises: pins agree, the Snakefile stays thin, CI runs the README's command."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from conftest import REPO


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        match = re.match(r"^([A-Za-z0-9_.-]+)\s*([=<>!~].*)$", line)
        if match:
            pins[match.group(1).lower()] = match.group(2).replace(" ", "")
    return pins


def test_conda_env_matches_pip_pins() -> None:
    env = yaml.safe_load((REPO / "envs" / "more.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == _pins((REPO / "requirements.txt").read_text().splitlines())


def test_torch_pins_are_the_pair_that_imports_here() -> None:
    pins = _pins((REPO / "requirements.txt").read_text().splitlines())
    assert pins["torch"] == "==2.14.1" and pins["torchvision"] == "==0.29.1"


def test_snakefile_holds_only_includes_and_rule_all() -> None:
    code = [
        line
        for line in (REPO / "Snakefile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    rule_all = code.index("rule all:")
    assert all(line.startswith("include: ") for line in code[:rule_all])
    assert not any(line.startswith(("rule ", "include:", "def ")) for line in code[rule_all + 1 :])


def test_every_rule_declares_threads_resources_and_log() -> None:
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        blocks = re.split(r"\n(?=rule \w+:)", smk.read_text())
        for block in blocks:
            if not block.startswith("rule "):
                continue
            name = block.split(":", 1)[0]
            for keyword in ("threads:", "resources:", "log:", "mem_mb=", "runtime="):
                assert keyword in block, f"{smk.name}: {name} lacks {keyword}"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    command = ci.strip().splitlines()[-1]
    assert f"\n{command}\n" in readme


def test_cli_lists_every_stage() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "more_ie", "--help"], capture_output=True, text=True, check=True
    )
    for command in (
        "check-config",
        "demo-world",
        "download",
        "corpus-shard",
        "redirects",
        "text-kc",
        "image-kc",
    ):
        assert command in out.stdout
