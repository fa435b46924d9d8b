"""Shared fixtures. Tests that read ../shared/data skip cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MORE_IE_SHARED_DATA", REPO.parent / "shared" / "data"))
WIKI_SAMPLE = SHARED_DATA / "wiki" / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
WIKI_VITAL = SHARED_DATA / "wiki_vital" / "summaries_en-us.json"

needs_wiki_sample = pytest.mark.skipif(not WIKI_SAMPLE.exists(), reason=f"{WIKI_SAMPLE} is absent")
needs_wiki_vital = pytest.mark.skipif(not WIKI_VITAL.exists(), reason=f"{WIKI_VITAL} is absent")


def snakemake_command(
    workdir: Path, *args: str, config: Path | None = None, cores: int | None = 2
) -> list[str]:
    """This repository's workflow run in ``workdir`` on ``cores`` cores (None: no --cores, e.g.
    where a profile sets the jobs), with ``workdir/config.yaml`` (or ``config``); ``args`` go last
    (targets before options such as --allowed-rules, which take several values)."""
    import sys

    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config or workdir / "config.yaml"),
        *(["--cores", str(cores)] if cores is not None else []),
        *args,
    ]


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo world, generated once per test session."""
    from more_ie.demo import generate_demo_world

    out = tmp_path_factory.mktemp("demo_world")
    generate_demo_world(out, seed=13)
    return out


@pytest.fixture(scope="session")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained run of two toy datasets laid out as the rules lay one out (fixtures.build_toy_run:
    seconds, no Snakemake), built once per session; tests/test_predict.py reads it, and
    tests/test_case_study.py adds toy_ner's test split to it."""
    from fixtures import build_toy_run

    return build_toy_run(tmp_path_factory.mktemp("toy_run"))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole DAG of tests/config.tiny.yaml, run locally once per test session."""
    import shutil
    import subprocess

    workdir = tmp_path_factory.mktemp("tiny_dag")
    shutil.copy(REPO / "tests" / "config.tiny.yaml", workdir / "config.yaml")
    # one thread a job, as `make demo` runs
    cmd = snakemake_command(workdir, "--profile", str(REPO / "profiles" / "small-cpu"))
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return workdir
