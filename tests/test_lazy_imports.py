"""Jobs that use no CLIP, torch or transformers do not import them (open_clip alone costs seconds).

Each case imports, in a fresh interpreter, the modules that a torch-free command's ``run_*``
function imports (the command modules keep their heavy imports inside ``run_*``), and names the
first module after which a heavy package is in ``sys.modules``. Commands that do use them
(train-expert, gate-features, moe, student-teacher, train-student, clip-encode-kc, retrieve-image,
predict) are not listed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("open_clip", "torch", "transformers")

# case -> the modules it imports, in order (one interpreter per case)
CASES: dict[str, tuple[str, ...]] = {
    # the CLI entry: every command module, and the parser they build (python -m more_ie --help)
    "cli": ("more_ie.cli:build_parser",),
    "prepare-dataset, check-images, demo-world, download": (
        "more_ie.datasets",
        "more_ie.demo",
        "more_ie.download",
    ),
    "download-images, merge-image-manifests": ("more_ie.download.images",),
    "corpus-shard, redirects, text-kc, image-kc": (
        "more_ie.wiki.shards",
        "more_ie.wiki.docs",
        "more_ie.wiki.kc",
    ),
    "bm25-index, bm25-merge, retrieve-text, retrieve-random, import/randomize-contexts": (
        "more_ie.search.bm25",
        "more_ie.search.random_kc",
        "more_ie.contexts.importer",
    ),
    "image-index (Faiss over stored embeddings)": ("more_ie.search.image_index",),
    "summary, student-summary": ("more_ie.moe.summary", "more_ie.moe.plots", "more_ie.student.summary"),
    # what Snakemake imports while it plans and schedules (workflow/rules/common.smk)
    "workflow scheduling": (
        "more_ie.config",
        "more_ie.config.stage_settings",
        "more_ie.config.views",
        "more_ie.moe.pairs",
        "more_ie.moe:config_hash",
        "more_ie.predict.settings",
        "more_ie.predict.layout",
        "more_ie.student.settings",
    ),
}

# "pkg.mod" imports the module; "pkg.mod:name" also reads the attribute (a lazy export), and calls
# it when it is the CLI's build_parser (every command's add_*_arguments)
_PROBE = """
import importlib, json, sys
heavy, targets = {heavy!r}, {targets!r}
for target in targets:
    module, _, name = target.partition(":")
    obj = importlib.import_module(module)
    if name:
        obj = getattr(obj, name)
        if name == "build_parser":
            obj()
    loaded = [m for m in heavy if m in sys.modules]
    if loaded:
        print(json.dumps({{"after": target, "loaded": loaded}}))
        break
else:
    print(json.dumps({{"after": None, "loaded": []}}))
"""


@pytest.mark.parametrize("case", list(CASES))
def test_torch_free_commands_do_not_import_heavy_packages(case: str) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    code = _PROBE.format(heavy=HEAVY, targets=CASES[case])
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert not found["loaded"], f"{case}: {found['loaded']} imported by {found['after']}"
