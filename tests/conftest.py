"""Shared fixtures. Tests that read ../shared/data skip cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MORE_IE_SHARED_DATA", REPO.parent / "shared" / "data"))
WIKI_SAMPLE = SHARED_DATA / "wiki" / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
WIKI_VITAL = SHARED_DATA / "wiki_vital" / "summaries_en-us.json"

# Subprocesses (python -m more_ie, python -c) run this checkout's code too, as pytest's own imports
# do (pyproject: pythonpath), whichever checkout the venv's editable install points at.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))

needs_wiki_sample = pytest.mark.skipif(not WIKI_SAMPLE.exists(), reason=f"{WIKI_SAMPLE} is absent")
needs_wiki_vital = pytest.mark.skipif(not WIKI_VITAL.exists(), reason=f"{WIKI_VITAL} is absent")


# `make test` runs two pytest-xdist workers (-n 2 --dist loadscope), and these files' tests run on
# one worker, in file order, as one unit: the tiny_dag files run Snakemake in the session's tiny
# run (tiny_run) or copy it, so none may see another's half-written files or Snakemake lock there;
# test_slurm.py starts and stops the one SLURM cluster. Every other test is a unit of its own.
# (xdist's own --dist loadgroup marks do not reach the scheduler under pytest 9.2: it renames
# items through an attribute that pytest no longer reads.)
XDIST_GROUPS = {
    "tiny_dag": (
        "test_case_study.py",
        "test_demo_signal.py",
        "test_imported_view_dag.py",
        "test_kill.py",
        "test_workflow.py",
    ),
    "slurm": ("test_slurm.py",),
}


@pytest.hookimpl(optionalhook=True)  # the hook exists only where pytest-xdist is installed
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # type: ignore[no-untyped-def]
    if config.getvalue("dist") != "loadscope":
        return None  # xdist's own scheduler for the other modes
    from xdist.scheduler import LoadScopeScheduling

    group_of = {name: group for group, names in XDIST_GROUPS.items() for name in names}

    class FileGroups(LoadScopeScheduling):
        """xdist's scope scheduler with XDIST_GROUPS as the scopes; larger units go out first, so
        the two long groups start at once, one per worker."""

        def _split_scope(self, nodeid: str) -> str:
            return group_of.get(Path(nodeid.split("::", 1)[0]).name, nodeid)

    return FileGroups(config, log)


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
    """The whole DAG of tests/config.tiny.yaml, run locally once per test session.

    Under pytest-xdist (``make test`` runs 2 workers) the workers share one run: the first to ask
    runs it under a file lock, and the others wait for it and read its outcome. The tests that
    change files in it are in one xdist group (``tiny_dag``), so they do not run side by side.
    """
    import json
    import shutil
    import subprocess

    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above each worker's own
    workdir, outcome = root / "tiny_dag", root / "tiny_dag.outcome.json"
    with FileLock(str(root / "tiny_dag.lock")):
        if not outcome.exists():
            workdir.mkdir()
            shutil.copy(REPO / "tests" / "config.tiny.yaml", workdir / "config.yaml")
            # one thread a job, as `make demo` runs
            cmd = snakemake_command(workdir, "--profile", str(REPO / "profiles" / "small-cpu"))
            try:
                result = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
                output = result.stdout[-4000:] + result.stderr[-4000:]
                ran = {"returncode": result.returncode, "output": output}
            except subprocess.TimeoutExpired as timeout:  # recorded: the other workers must not rerun it
                ran = {"returncode": None, "output": f"the tiny DAG ran past {timeout.timeout} s"}
            outcome.write_text(json.dumps(ran))
        done = json.loads(outcome.read_text())
    assert done["returncode"] == 0, done["output"]
    return workdir
