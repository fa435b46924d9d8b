"""Where a trained run keeps what prediction needs, found from the run folder and the dataset name.

The Snakemake rules fix the layout under the run folder (``results`` by default):

* ``{dataset}/predict/run.json``: the run's manifest, written by the ``predict_manifest`` rule from
  the config that trained it (task, the KCs and retrieval settings, CLIP, views, seeds, variants,
  the MoE's NER decoder);
* ``{dataset}/experts/{view}-s{seed}/model/``: the experts;
* ``{dataset}/moe/gates/{variant}/pair{i}/``: each fitted gate (safetensors + a JSON naming the
  pair and the labels);
* ``index/{kc}/bm25`` and ``knowledge/{kc}/text_kc/``: text retrieval; ``index/{kc}/clip/`` and
  ``knowledge/{kc}/image_kc.parquet``: image retrieval.

Nothing here is configured twice: the manifest is the config the run was trained with.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from more_ie.config.views import dataset_variants, dataset_views, imported_view_sources

logger = logging.getLogger(__name__)

MANIFEST = "predict/run.json"
RETRIEVAL_VIEWS = ("text", "image")  # views whose retrieval prediction can run on a new post


class RunError(ValueError):
    """A trained run lacks something prediction needs (the message names the file)."""


def build_manifest(config: dict, dataset: str, results_dir: str) -> dict:
    """What prediction needs to know about a run, from the validated config that trained it (the
    predict_manifest rule writes it to MANIFEST). Paths are relative to the run folder
    (``results_dir``), so a copied or moved run folder still works; a path configured absolute
    stays absolute."""
    from more_ie.config import retrieval_kc

    text_kc, image_kc = retrieval_kc(config, "text"), retrieval_kc(config, "image")
    images = config["datasets"][dataset]["images_dir"]
    text, image = config["retrieval"]["text"], config["retrieval"]["image"]
    return {
        "dataset": dataset,
        "task": config["datasets"][dataset]["task"],
        "images_dir": (
            None if not images else images if os.path.isabs(images) else os.path.relpath(images, results_dir)
        ),
        "text": {
            "kc": text_kc,
            "index": f"index/{text_kc}/bm25",
            "kc_dir": f"knowledge/{text_kc}/text_kc",
            "k": text["k"],
            "k1": text["bm25_k1"],
            "b": text["bm25_b"],
        },
        "image": {
            "kc": image_kc,
            "index": f"index/{image_kc}/clip/faiss.index",
            "ids": f"index/{image_kc}/clip/faiss_ids.parquet",
            "image_kc": f"knowledge/{image_kc}/image_kc.parquet",
            "k": image["k"],
            "faiss_search": image["faiss_search"],
            "clip_arch": image["clip_arch"],
            "clip_pretrained": image["clip_pretrained"],
        },
        "experts": {"views": dataset_views(config, dataset), "seeds": list(config["experts"]["seeds"])},
        # views whose context cannot be computed for a new post: predict takes it from the input
        "imported_views": imported_view_sources(config, dataset),
        "moe": {
            "variants": dataset_variants(config, dataset),
            "gate": config["moe"]["gate"],
            # how the moe stage decoded NER mixtures; prediction decodes them the same way
            "decode": config["moe"]["decode"],
        },
    }


def imported_views(layout: "RunLayout") -> set[str]:
    """The run's imported views that a new post can bring its own text for (not the random_ ablations)."""
    return {
        v for v, spec in layout.manifest.get("imported_views", {}).items() if not spec.get("random_ablation")
    }


def _read_json(path: Path, hint: str = "") -> Any:
    if not path.is_file():
        raise RunError(f"{path}: not found{hint}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise RunError(f"{path}: not valid JSON ({err})") from None


@dataclass
class RunLayout:
    run_dir: Path
    dataset: str
    manifest: dict = field(repr=False)

    @classmethod
    def open(cls, run_dir: str | Path, dataset: str) -> "RunLayout":
        run_dir = Path(run_dir)
        if not (run_dir / dataset).is_dir():
            known = sorted(p.parent.parent.name for p in run_dir.glob(f"*/{MANIFEST}"))
            raise RunError(
                f"{run_dir}: has no dataset {dataset!r} (datasets with a manifest: {known or 'none'})"
            )
        hint = (
            f"; build it with `snakemake {run_dir}/{dataset}/{MANIFEST}` and the run's --configfile "
            "(it is part of the default target)"
        )
        manifest = _read_json(run_dir / dataset / MANIFEST, hint)
        for key in ("task", "text", "image", "experts", "moe"):
            if key not in manifest:
                raise RunError(f"{run_dir / dataset / MANIFEST}: lacks the key {key!r}")
        return cls(run_dir, dataset, manifest)

    @property
    def task(self) -> str:
        return self.manifest["task"]

    def path(self, relative: str) -> Path:
        """A manifest path (relative to the run folder) made concrete."""
        return self.run_dir / relative

    def expert_dir(self, name: str) -> Path:
        return self.run_dir / self.dataset / "experts" / name

    def model_dir(self, name: str) -> Path:
        folder = self.expert_dir(name) / "model"
        if not folder.is_dir():
            known = sorted(
                p.name for p in (self.run_dir / self.dataset / "experts").glob("*") if (p / "model").is_dir()
            )
            raise RunError(f"{folder}: no trained expert {name!r} (trained: {known or 'none'})")
        return folder

    def student(self, variant: str | None, seed: int | None) -> tuple[str, int, Path]:
        """(variant, seed, folder) of a distilled student (``{dataset}/student/{variant}-s{seed}``,
        :mod:`more_ie.student`). variant None: the one variant with students, else the headline;
        seed None: the lowest trained for it."""
        root = self.run_dir / self.dataset / "student"
        trained = sorted(
            (m.group(1), int(m.group(2)))
            for p in root.glob("*-s*")
            if (p / "model").is_dir() and (m := re.fullmatch(r"(.+)-s(\d+)", p.name))
        )
        if variant is None:
            variants = sorted({v for v, _ in trained})
            variant = variants[0] if len(variants) == 1 else self.default_variant()
        seeds = [s for v, s in trained if v == variant]
        if seed is None and seeds:
            seed = seeds[0]
        if seed is None or seed not in seeds:
            names = [f"{v}-s{s}" for v, s in trained]
            raise RunError(
                f"{root}: no trained student {variant}-s{seed if seed is not None else '*'} (trained: "
                f"{names or 'none'}); build one with `snakemake {root}/{variant}-s1/metrics.json` and the "
                "run's --configfile"
            )
        return variant, seed, root / f"{variant}-s{seed}"

    def gate_dir(self, variant: str, pair: int) -> Path:
        return self.run_dir / self.dataset / "moe" / "gates" / variant / f"pair{pair}"

    def moe_result(self) -> dict | None:
        path = self.run_dir / self.dataset / "moe_f1.json"
        return _read_json(path) if path.is_file() else None

    def default_variant(self) -> str:
        """The headline MoE variant of ``moe_f1.json``, else the first configured one."""
        result = self.moe_result()
        if result and isinstance(result.get("moe"), dict) and result["moe"].get("variant"):
            return str(result["moe"]["variant"])
        return self.manifest["moe"]["variants"][0]

    def decode(self) -> str:
        """How a NER mixture is decoded: the run's ``moe.decode``, the decoder its ``moe_f1.json``
        was scored with. A manifest written before that setting existed names none; such runs were
        scored by per-token argmax, so that is what they keep (and the log says so)."""
        from more_ie.moe.decode import DECODE_METHODS

        decode = self.manifest["moe"].get("decode")
        if decode is None:
            logger.info(
                "%s: no moe.decode in the manifest (written before the setting existed): NER mixtures "
                "are decoded by per-token argmax, as the run was scored",
                self.run_dir / self.dataset / MANIFEST,
            )
            return "argmax"
        if decode not in DECODE_METHODS:
            raise RunError(
                f"{self.run_dir / self.dataset / MANIFEST}: moe.decode {decode!r} is not one of "
                f"{list(DECODE_METHODS)}"
            )
        return str(decode)

    def images_dir(self) -> Path | None:
        """The dataset's image folder (the manifest holds it relative to the run folder)."""
        images = self.manifest.get("images_dir")
        return None if not images else self.run_dir / images


@dataclass
class SavedGate:
    gate: Any  # more_ie.moe.gate.Gate
    experts: tuple[str, str]
    labels: list[str]
    feature_spec: (
        dict | None
    )  # more_ie.moe.features.FeatureSpec as a dict; None: [CLIP text; CLIP image; has_image]
    folder: Path


def load_gate(folder: str | Path) -> SavedGate:
    """A fitted gate saved by the MoE stage (``more_ie.moe.gate.save_gate``), with its pair and labels."""
    from more_ie.moe.gate import GATE_INFO, GATE_WEIGHTS
    from more_ie.moe.gate import load_gate as moe_load_gate

    folder = Path(folder)
    for name in (GATE_WEIGHTS, GATE_INFO):
        if not (folder / name).is_file():
            variants = (
                sorted(p.name for p in folder.parent.parent.glob("*"))
                if folder.parent.parent.is_dir()
                else []
            )
            raise RunError(
                f"{folder / name}: no saved gate (the MoE stage saves one per variant and pair; "
                f"saved variants: {variants or 'none'}); --mixing average needs no gate"
            )
    gate, info = moe_load_gate(folder)
    pair, labels = info.get("pair"), info.get("labels")
    if not (isinstance(pair, list) and len(pair) == 2 and isinstance(labels, list) and labels):
        raise RunError(f"{folder / GATE_INFO}: needs 'pair' (two expert names) and 'labels'")
    return SavedGate(
        gate, (str(pair[0]), str(pair[1])), [str(x) for x in labels], info.get("feature_spec"), folder
    )
