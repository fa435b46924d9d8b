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


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo world, generated once per test session."""
    from more_ie.demo import generate_demo_world

    out = tmp_path_factory.mktemp("demo_world")
    generate_demo_world(out, seed=13)
    return out
