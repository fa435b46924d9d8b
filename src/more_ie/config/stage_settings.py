"""Each stage's ``--settings`` JSON, from the validated config: what the rules pass (quoted with ``:q``).

The keys are fields of the stage command's settings dataclasses (``more_ie/*/settings.py``), which
check them again when the job runs; tests/test_settings.py runs each one through its command's
parser. A rule's ``params`` holds exactly its stage's values, so editing one reruns that stage
and what follows it, and nothing else. Pure functions of the config (no Snakemake here).
"""

from __future__ import annotations

import json
from typing import Any

# experts keys that choose which experts exist rather than how one trains (not TrainConfig fields)
EXPERT_SELECTION_KEYS = ("seeds", "views")
# the moe keys of other stages: gate-features (GateFeatureSettings) and the expert pairs (--variant)
MOE_NON_GATE_KEYS = ("variants", "gate_text_encoder", "gate_image_features")
CLIP_KEYS = ("clip_arch", "clip_pretrained", "batch_size")
# Keys added after runs existed (issue 22), passed only when set away from their default. The
# default is what those runs ran with (precision auto: fp32 on a CPU; faiss_device auto: the GPU
# where Faiss sees one, as before), so adding the keys reruns nothing; the command's own default
# (the same value) applies when a key is left out.
LATER_KEYS = {"precision": "auto", "faiss_device": "auto"}


def _later(block: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The ``keys`` of ``block`` (LATER_KEYS) that are set away from their default."""
    return {key: block[key] for key in keys if key in block and block[key] != LATER_KEYS[key]}


def as_settings(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True)


def demo_world(config: dict) -> str:
    """DemoScale: the demo block minus where it goes and its seed (the command's --out and --seed)."""
    return as_settings({k: v for k, v in config["demo"].items() if k not in ("out_dir", "seed")})


def prepare_dataset(config: dict, dataset: str) -> dict[str, list[str]]:
    """PrepareSettings of a dataset as its flags' values: ``--label-map`` OLD=NEW items (sorted) and
    ``--no-relation-labels``. The rule passes these two flags rather than ``--settings``, as it did
    before PrepareSettings existed: the same params and shell text, so finished run folders (whose
    every later stage follows the prepared splits) do not rerun."""
    spec = config["datasets"][dataset]
    return {
        "label_map": [f"{old}={new}" for old, new in sorted(spec["label_map"].items())],
        "no_relation_labels": list(spec["no_relation_labels"]),
    }


def corpus_shard(config: dict, kc: str, source: dict) -> str:
    """ShardOptions and DocFields of one source of a KC."""
    fields = {key: source[key] for key in ("title_field", "text_field", "images_field")}
    return as_settings({"max_page_chars": config["knowledge"][kc]["max_page_chars"], **fields})


def text_kc(config: dict, kc: str) -> str:
    cfg = config["knowledge"][kc]
    return as_settings({key: cfg[key] for key in ("include_disambiguation", "min_sentence_chars")})


def image_kc(config: dict, kc: str) -> str:
    cfg = config["knowledge"][kc]
    images = {key: cfg["images"][key] for key in ("upload_base", "thumb_width")}
    return as_settings({"include_disambiguation": cfg["include_disambiguation"], **images})


def download_images(config: dict, kc: str) -> str:
    """One download job's per-host budget is the configured total split over the shard jobs (all may run at once)."""
    images = config["knowledge"][kc]["images"]
    rate = images["requests_per_second"]
    per_job = None if rate is None else rate / images["download_shards"]
    return as_settings(
        {"max_in_flight": config["retrieval"]["image"]["max_in_flight"], "requests_per_second": per_job}
    )


def retrieve_text(config: dict) -> str:
    text = config["retrieval"]["text"]
    return as_settings({"k": text["k"], "k1": text["bm25_k1"], "b": text["bm25_b"]})


def retrieve_random(config: dict, view: str) -> str:
    k = config["retrieval"]["text" if view == "random_text" else "image"]["k"]
    return as_settings({"k": k, "seed": config["retrieval"]["seed"]})


def _clip(config: dict, *more: str) -> dict[str, Any]:
    """One CLIP for image retrieval and the gate's features."""
    image = config["retrieval"]["image"]
    return {**{key: image[key] for key in (*CLIP_KEYS, *more)}, **_later(image, "precision")}


def clip_encode_kc(config: dict) -> str:
    return as_settings(_clip(config))


def image_index(config: dict) -> str:
    image = config["retrieval"]["image"]
    return as_settings({"faiss_factory": image["faiss_factory"], **_later(image, "faiss_device")})


def retrieve_image(config: dict) -> str:
    return as_settings(
        {**_clip(config, "k", "faiss_search"), **_later(config["retrieval"]["image"], "faiss_device")}
    )


def gate_features(config: dict) -> str:
    moe = config["moe"]
    return as_settings(
        {**_clip(config), **{key: moe[key] for key in ("gate_text_encoder", "gate_image_features")}}
    )


def train_expert(config: dict, dataset: str) -> str:
    """TrainConfig: the experts block with the dataset's own ``experts`` overrides applied."""
    own = config["datasets"][dataset].get("experts", {})
    settings = {k: v for k, v in config["experts"].items() if k not in EXPERT_SELECTION_KEYS}
    settings.update({k: v for k, v in own.items() if k not in EXPERT_SELECTION_KEYS})
    # precision at its default is left out: the experts trained before it existed do not rerun
    return as_settings({k: v for k, v in settings.items() if LATER_KEYS.get(k, object()) != v})


def import_contexts(config: dict, dataset: str, view: str) -> str:
    """ImportSettings of one imported view (its file is the rule's input)."""
    spec = config["datasets"][dataset]["contexts"][view]
    return as_settings({key: spec[key] for key in ("format", "max_missing_share", "source")})


def randomize_contexts(config: dict) -> str:
    return as_settings({"seed": config["retrieval"]["seed"]})


def moe(config: dict) -> str:
    """MoeConfig: the moe block minus the other stages' keys."""
    return as_settings({k: v for k, v in config["moe"].items() if k not in MOE_NON_GATE_KEYS})


def student_teacher(config: dict, dataset: str) -> str:
    """The teacher's inference settings (TrainConfig fields): the experts' batch size and device."""
    experts = {**config["experts"], **config["datasets"][dataset].get("experts", {})}
    return as_settings({key: experts[key] for key in ("eval_batch_size", "device")})


def train_student(config: dict, dataset: str) -> str:
    """TrainConfig and StudentSettings of a dataset's students (more_ie.student.settings): the
    experts' training settings, student.train and student.encoder over them, alpha and temperature.
    Not the variant (a wildcard of the rule) nor the seeds (one job each)."""
    from more_ie.student.settings import student_block, student_train_settings

    block = student_block(config, dataset)
    return as_settings(
        {
            **student_train_settings(config, dataset),
            "alpha": block["alpha"],
            "temperature": block["temperature"],
        }
    )
