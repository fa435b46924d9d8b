"""Builders that several test files share (session fixtures that use them are in conftest.py).

* random images, a tiny image KC and its CLIP/Faiss index (the random-weights ``tiny-demo`` CLIP);
* a tiny text KC shard, tiny dataset splits;
* the training settings of a tiny expert or student (a few posts, the tiny random BERT);
* the headless Chromium command line (the report and case-study pages);
* JSON results without their measured speeds (two runs' results compared);
* made-up RE experts' exports and gate features, as the MoE reads them;
* the toy trained run of tests/test_predict.py and tests/test_case_study.py (conftest's ``toy_run``):
  a tiny random BERT as the experts' encoder, a Lucene index over a six-sentence text KC, the tiny
  CLIP over eight images, gates saved with ``more_ie.moe.gate.save_gate``, laid out exactly as the
  Snakemake rules lay out a real run.

Heavy imports (torch, the search stack) stay inside the functions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
from PIL import Image

from more_ie.search.settings import ClipSettings
from tiny_models import make_tiny_bert

# The demo's random-weights CLIP, on the CPU, in-process
TINY_CLIP = ClipSettings("tiny-demo", None, device="cpu", workers=0)


def random_image(path: Path, rng: np.random.Generator, size: int = 32) -> Path:
    """A ``size`` x ``size`` image of random pixels (its format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def image_kc_row(image_id: int, file: str, title: str, value: str, local_path: str | None) -> dict:
    """One image-KC row (``more_ie.wiki.kc.IMAGE_KC_SCHEMA``) of a local file."""
    return dict(
        image_id=image_id,
        file=file,
        url="file:x",
        source="link",
        page_id=image_id,
        title=title,
        value=value,
        local_path=local_path,
    )


def image_kc_rows(
    folder: Path,
    n: int,
    rng: np.random.Generator,
    size: int = 32,
    name: str = "img{i}.png",
    title: str = "P{i}",
    value: str = "value {i}",
) -> list[dict]:
    """``n`` random images in ``folder`` (drawn from ``rng`` in order) and their image-KC rows;
    ``name``, ``title`` and ``value`` are formatted with the row number ``i``."""
    rows = []
    for i in range(n):
        path = random_image(folder / name.format(i=i), rng, size)
        rows.append(image_kc_row(i, path.name, title.format(i=i), value.format(i=i), str(path)))
    return rows


def write_image_kc(rows: list[dict], path: Path) -> Path:
    from more_ie.utils import write_parquet
    from more_ie.wiki.kc import IMAGE_KC_SCHEMA

    write_parquet(pa.Table.from_pylist(rows, schema=IMAGE_KC_SCHEMA), path)
    return path


def clip_index(kc: Path, folder: Path, clip: ClipSettings = TINY_CLIP) -> tuple[Path, Path]:
    """The image KC encoded in one shard and its Flat Faiss index, in ``folder`` as the rules name
    them (``faiss.index``, ``faiss_ids.parquet``): those two paths."""
    from more_ie.search.image_index import build_image_index, encode_kc_images

    encode_kc_images(kc, 0, 1, folder / "e.npy", folder / "i.parquet", clip)
    build_image_index(
        [folder / "e.npy"],
        [folder / "i.parquet"],
        "Flat",
        folder / "faiss.index",
        folder / "faiss_ids.parquet",
    )
    return folder / "faiss.index", folder / "faiss_ids.parquet"


def write_text_kc(path: Path, shard: int, sentences: list[str]) -> Path:
    """A text-KC shard: one page ``T{shard}``, one row per sentence (its paragraph: "paragraph of ...")."""
    from more_ie.utils import write_parquet
    from more_ie.wiki.kc import TEXT_KC_SCHEMA, kc_id

    rows = [
        dict(
            kc_id=kc_id(shard, i),
            page_id=shard,
            title=f"T{shard}",
            section="",
            paragraph_idx=i,
            sentence=s,
            paragraph=f"paragraph of {s}",
        )
        for i, s in enumerate(sentences)
    ]
    write_parquet(pa.Table.from_pylist(rows, schema=TEXT_KC_SCHEMA), path)
    return path


def write_split(path: Path, rows: list[dict], task: str, labels: list[str]) -> Path:
    """A normalized split (``NER_SCHEMA`` or ``RE_SCHEMA`` rows) with the metadata prepare-dataset
    writes: its task and its entity types or relations."""
    from more_ie.datasets.readers import NER_SCHEMA, RE_SCHEMA
    from more_ie.utils import write_parquet

    write_parquet(
        pa.Table.from_pylist(rows, schema=NER_SCHEMA if task == "ner" else RE_SCHEMA),
        path,
        metadata={"more_ie.labels": json.dumps(labels), "more_ie.task": task},
    )
    return path


def headless_chromium(chromium: str, profile: Path, *args: str) -> list[str]:
    """Chromium, headless and offline (no sync, updates or first-run work), with its own profile."""
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]


# -- the toy trained run ---------------------------------------------------------------------------

KB = "kb"
NER_LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
RE_LABELS = ["None", "born_in", "member_of"]
SENTENCES = [
    "Ada Lovelace was born in Brimholt",
    "Brimholt lies on the river Vant",
    "Vantor Industries makes tools in Brimholt",
    "Kevin Durant joined the Warriors",
    "The Warriors play in San Francisco",
    "Lovelace wrote the first program",
]


def toy_manifest(dataset: str, task: str, images_dir: str, results_dir: str) -> dict:
    """The run manifest of a toy run, by the predict_manifest rule's own function."""
    from more_ie.predict.layout import build_manifest

    text = {"kc": None, "k": 3, "bm25_k1": 0.9, "bm25_b": 0.4}
    image = {"kc": None, "k": 2, "faiss_search": "", "clip_arch": "tiny-demo", "clip_pretrained": None}
    config = {
        "knowledge": {KB: {}},
        "datasets": {dataset: {"task": task, "images_dir": images_dir}},
        "retrieval": {"text": text, "image": image},
        "experts": {"views": ["none", "text", "image"], "seeds": [1]},
        "moe": {"variants": ["text+image"], "gate": "per_label", "decode": "constrained"},
    }
    return build_manifest(config, dataset, results_dir)


def _expert(folder: Path, encoder_dir: Path, task: str, labels: list[str], view: str, favour: int) -> None:
    """A random expert whose output layer strongly prefers label ``favour`` (so that tests can tell
    the two experts of a pair apart in the mixture)."""
    import torch

    from more_ie.experts.encoder import load_encoder, load_tokenizer
    from more_ie.experts.model import Expert, ExpertConfig

    tokenizer = load_tokenizer(str(encoder_dir), task)
    torch.manual_seed(len(view) + favour)
    expert = Expert(
        ExpertConfig(task, labels, str(encoder_dir), 64, view), load_encoder(str(encoder_dir), len(tokenizer))
    )
    # the emission (NER) or classifier (RE) layer: the head's Linear with one output per label
    layer = [
        m
        for name, m in expert.named_modules()
        if isinstance(m, torch.nn.Linear)
        and not name.startswith("encoder.")
        and m.out_features == len(labels)
    ][-1]
    with torch.no_grad():
        layer.weight.mul_(0.01)
        layer.bias.zero_()
        layer.bias[favour] = 6.0
    expert.save(folder / "model", tokenizer)
    (folder / "metrics.json").write_text(
        json.dumps({"train_config": {"context_anchors": "surface", "dedup_contexts": True}})
    )


def save_gate(
    run: Path, dataset: str, variant: str, pair: tuple[str, str], labels: list[str], bias: float
) -> Path:
    """A gate whose every label weight is sigmoid(bias): +large follows the pair's first expert."""
    import torch

    from more_ie.moe.gate import Gate
    from more_ie.moe.gate import save_gate as moe_save_gate

    dim = 64 * 2 + 1  # tiny-demo CLIP text + image + has_image
    gate = Gate(dim, len(labels), "per_label")
    with torch.no_grad():
        gate.linear.bias.fill_(bias)
    spec = {
        "text": "clip:tiny-demo/RANDOM-WEIGHTS",
        "text_dim": 64,
        "image": "clip:tiny-demo/RANDOM-WEIGHTS",
        "image_dim": 64,
        "has_image": True,
        "dim": dim,
    }
    folder = run / dataset / "moe" / "gates" / variant / "pair0"
    moe_save_gate(
        gate, folder, {"pair": list(pair), "labels": labels, "feature_spec": spec, "variant": variant}
    )
    return folder


def build_toy_run(root: Path) -> Path:
    """``root/results``: a run of two datasets (toy_ner, toy_re) laid out as the rules do; its
    posts' images (p0.jpg, p1.jpg, p2.jpg and a broken.jpg) are in ``root/post_images``."""
    from more_ie.search.bm25 import build_index
    from more_ie.utils import write_parquet
    from more_ie.wiki.kc import TEXT_KC_SCHEMA, kc_id

    run = root / "results"
    encoder_dir = make_tiny_bert(root / "bert", [s.lower() for s in SENTENCES] * 10)
    rows = [
        dict(
            kc_id=kc_id(0, i),
            page_id=i,
            title=s.split()[0],
            section="",
            paragraph_idx=0,
            sentence=s,
            paragraph=f"<e: {s.split()[0]}> {s.split()[0]} </e> {' '.join(s.split()[1:])}.",
        )
        for i, s in enumerate(SENTENCES)
    ]
    write_parquet(
        pa.Table.from_pylist(rows, schema=TEXT_KC_SCHEMA),
        run / "knowledge" / KB / "text_kc" / "00000.parquet",
    )
    build_index([run / "knowledge" / KB / "text_kc" / "00000.parquet"], run / "index" / KB / "bm25")
    rng = np.random.default_rng(0)
    image_rows = image_kc_rows(
        root / "kc_images", 8, rng, title="Page {i}", value="Page {i}: an article about picture {i}"
    )
    kc = write_image_kc(image_rows, run / "knowledge" / KB / "image_kc.parquet")
    clip_index(kc, run / "index" / KB / "clip")
    posts_images = root / "post_images"
    for i in range(3):
        random_image(posts_images / f"p{i}.jpg", rng, size=40)
    (posts_images / "broken.jpg").write_bytes(b"not a jpeg")
    for dataset, task, labels in (("toy_ner", "ner", NER_LABELS), ("toy_re", "re", RE_LABELS)):
        (run / dataset / "predict").mkdir(parents=True)
        (run / dataset / "predict" / "run.json").write_text(
            json.dumps(toy_manifest(dataset, task, str(posts_images), str(run)))
        )
        favour = {"text": 3, "image": 1, "none": 0} if task == "ner" else {"text": 1, "image": 2, "none": 0}
        for view in ("text", "image", "none"):
            _expert(run / dataset / "experts" / f"{view}-s1", encoder_dir, task, labels, view, favour[view])
        save_gate(run, dataset, "text+image", ("text-s1", "image-s1"), labels, 8.0)
        save_gate(run, dataset, "image+text", ("text-s1", "image-s1"), labels, -8.0)
    return run


def tiny_train_config(encoder_dir: Path, epochs: int, **overrides: object):  # type: ignore[no-untyped-def]
    """TrainConfig of a tiny expert or student: the tiny BERT at ``encoder_dir``, high rates so that a
    few posts and epochs suffice, seed 3, on the CPU; ``overrides`` replace any of them."""
    from more_ie.experts.settings import TrainConfig

    values: dict = dict(
        encoder=str(encoder_dir),
        max_subtokens=48,
        lr=1e-3,
        head_lr=5e-2,
        batch_size=4,
        epochs=epochs,
        seed=3,
        device="cpu",
    )
    return TrainConfig(**{**values, **overrides})


def without_rates(obj: object) -> object:
    """JSON results without the measured speeds (keys ``*_per_s``), which differ between any two
    runs of the same job: what two runs' results are compared by."""
    if isinstance(obj, dict):
        return {k: without_rates(v) for k, v in obj.items() if not k.endswith("_per_s")}
    if isinstance(obj, list):
        return [without_rates(v) for v in obj]
    return obj


def write_re_split_for_moe(folder: Path, rows: list[dict]) -> Path:
    """``folder``/data.parquet (RE rows) and features.parquet (a 2-d gate feature that alternates
    with the sample id) for the MoE's tests; returns ``folder``."""
    from more_ie.datasets.readers import RE_SCHEMA
    from more_ie.utils import write_parquet

    folder.mkdir()
    write_parquet(pa.Table.from_pylist(rows, schema=RE_SCHEMA), folder / "data.parquet")
    feats = [np.array([float(i % 2), float(1 - i % 2)], dtype=np.float32) for i in range(len(rows))]
    write_parquet(
        pa.table({"sample_id": list(range(len(rows))), "features": feats}), folder / "features.parquet"
    )
    return folder


def write_re_expert_split(
    expert: Path, split: str, probs: list[list[float]], labels: list[str], epochs: int | None = None
) -> None:
    """A made-up RE expert's export of ``split`` as the MoE reads it: the class probabilities of
    samples 0..n-1 and its metrics.json entry (F1 0.5; with ``epochs``, a dev history that long)."""
    from more_ie.utils import write_json, write_parquet

    expert.mkdir(exist_ok=True)
    write_parquet(
        pa.table({"sample_id": list(range(len(probs))), "probs": probs}),
        expert / f"{split}.marginals.parquet",
        metadata={"more_ie.labels": json.dumps(labels)},
    )
    metrics_path = expert / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    micro = {"precision": 0.5, "recall": 0.5, "f1": 0.5, "tp": 1, "n_pred": 2, "n_gold": 2}
    metrics[split] = {"micro": micro, "per_entity_type": {}}
    if epochs is not None:
        metrics["history"] = [{"epoch": e + 1, "dev_f1": 0.5} for e in range(epochs)]
    write_json(metrics_path, metrics)
