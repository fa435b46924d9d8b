"""Config loading and validation, and the path helpers every rule file uses."""

import json
import os
import shlex
import sys
from pathlib import Path
from urllib.parse import unquote

from snakemake.utils import min_version

min_version("9.0")

REPO = Path(workflow.basedir)
sys.path.insert(0, str(REPO / "src"))  # the more_ie package, also when it is not installed

from more_ie.config import ConfigError, check_local_path, validate_config  # noqa: E402
from more_ie.config import retrieval_kc as config_retrieval_kc  # noqa: E402
from more_ie.config import views as config_views  # noqa: E402  (each dataset's views and variants)

# Each rule's --settings JSON (its stage's config values): stage_settings.<rule>(config, ...)
from more_ie.config import stage_settings  # noqa: E402
from more_ie.predict.settings import CaseStudySettings  # noqa: E402
from more_ie.moe.pairs import variant_pairs  # noqa: E402  (torch-free: the MoE variants' expert pairs)

# config.yaml (the paper's setup) is the default. A --configfile replaces it rather than being
# merged into it: otherwise the demo would inherit every dataset of the paper's config.
if not workflow.overwrite_configfiles:
    workflow.configfile(str(REPO / "config.yaml"))
_config_names = ", ".join(str(p) for p in workflow.overwrite_configfiles) or "config.yaml"
try:
    validate_config(config, where=_config_names)
except ConfigError as err:
    raise WorkflowError(str(err)) from None

ENV = str(REPO / "envs" / "more.yaml")
from snakemake_interface_executor_plugins.settings import DeploymentMethod  # noqa: E402

# Rules run `$MORE_IE_PYTHON -m more_ie ...`: the conda env's python under
# --software-deployment-method conda, otherwise the interpreter running Snakemake (the venv's, even
# when it is not activated). The prefix exports it, and PYTHONPATH, so that the package imports in
# any environment (venv, conda env, a cluster node sharing this file system). Both paths are
# shell-quoted: a checkout or venv whose path holds a space or a quote must still run. Snakemake
# formats the prefix too, hence the doubled braces.
PYTHON = (
    "python"
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
    else shlex.quote(sys.executable)
)
shell.prefix(
    f"set -euo pipefail; export MORE_IE_PYTHON={PYTHON}; export PYTHONPATH={shlex.quote(str(REPO / 'src'))}".replace(
        "{", "{{"
    ).replace(
        "}", "}}"
    )
    + "${{PYTHONPATH:+:$PYTHONPATH}}; "
    # A GPU command (the rules with resources gpu=1) claims one free GPU of the machine and sees only
    # it (CUDA_VISIBLE_DEVICES), which Snakemake does not do itself; a no-op without GPUs or where
    # SLURM chose (more_ie.utils.gpu_slot; profiles/gpu). In the prefix, not the rules' commands:
    # editing those would rerun every job whose command changed (rerun-triggers: code).
    + "export MORE_IE_GPU_SLOT=1; "
)
RESULTS = config["results_dir"].rstrip("/")
# Datasets, knowledge corpora, indexes and retrieval run before the experts (which wait on them): on 2 cores,
# a retrieval job left until the experts finish serialised the end of the demo (measured).
RETRIEVAL_PRIORITY = 10


def split_data(split="{split}", dataset="{dataset}"):
    """A normalized split's Parquet (the prepare_dataset rule's output, most rules' input): by
    default a pattern with the {dataset} and {split} wildcards; name either to fix it."""
    return f"{RESULTS}/{dataset}/data/{split}.parquet"


LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
DEMO = config["demo"]["out_dir"].rstrip("/")


def mem(base_mb):
    """mem_mb growing with the attempt: a job killed for memory is retried with more (profiles set retries)."""
    return lambda wildcards, attempt: base_mb * attempt


wildcard_constraints:
    kc="[A-Za-z0-9_-]+",
    shard=r"\d{5}",


# ----------------------------------------------------------------------------------------------
# knowledge corpora
# ----------------------------------------------------------------------------------------------


def kc_config(kc):
    return config["knowledge"][kc]


def kc_sources(kc):
    """(config key, source, shard count) of each source of a KC: `source` with `shards`, then each
    `extra_sources` entry with its own. Shard numbers run on across sources, so kc_ids stay unique."""
    cfg = kc_config(kc)
    sources = [(f"knowledge.{kc}.source", cfg["source"], cfg["shards"])]
    for i, extra in enumerate(cfg.get("extra_sources", [])):
        sources.append((f"knowledge.{kc}.extra_sources[{i}].source", extra["source"], extra["shards"]))
    return sources


def shard_ids(kc):
    return [f"{i:05d}" for i in range(sum(n for _, _, n in kc_sources(kc)))]


def kc_shard_source(kc, shard):
    """(config key, source, shard within that source, the source's shard count) of a KC shard."""
    index = int(shard)
    for key, source, count in kc_sources(kc):
        if index < count:
            return key, source, index, count
        index -= count
    raise WorkflowError(f"knowledge.{kc}: no shard {shard}")


def download_path(kind, name, url):
    # MNRE's validation file really is "mnre_val .txt": keep names shell- and cluster-friendly.
    file_name = unquote(os.path.basename(url.split("?", 1)[0])).replace(" ", "_")
    return f"{RESULTS}/downloads/{kind}/{name}/{file_name}"


def local_input(key, path):
    """A configured local input; a missing one fails DAG building with the config key named."""
    try:
        return check_local_path(key, path, where=_config_names, results_dir=RESULTS)
    except ConfigError as err:
        raise WorkflowError(str(err)) from None


def kc_source_file(kc, shard="00000"):
    key, source, _, _ = kc_shard_source(kc, shard)
    if source["path"]:
        return local_input(f"{key}.path", source["path"])
    return download_path("knowledge", kc, source["url"])


def kc_index_file(kc, shard="00000"):
    """The multistream index, or None: without one a dump is sharded by page order."""
    key, source, _, _ = kc_shard_source(kc, shard)
    if source.get("index_path"):
        return local_input(f"{key}.index_path", source["index_path"])
    if source.get("index_url"):
        return download_path("knowledge", kc, source["index_url"])
    return None


def kc_outputs(kc):
    return expand(f"{RESULTS}/knowledge/{kc}/text_kc/{{shard}}.parquet", shard=shard_ids(kc)) + [
        f"{RESULTS}/knowledge/{kc}/image_kc.parquet"
    ]


def dataset_views(dataset):
    """The dataset's views: its own experts.views, else the top-level list (more_ie.config.views)."""
    return config_views.dataset_views(config, dataset)


def dataset_outputs(dataset):
    # every view but "none" reads a retrieval cache (built-in or imported)
    views = [v for v in dataset_views(dataset) if v != "none"]
    return (
        [split_data(split, dataset) for split in ("train", "dev", "test")]
        + [f"{RESULTS}/{dataset}/data/missing_images.tsv"]
        + expand(
            f"{RESULTS}/{dataset}/retrieval/{{split}}.{{view}}.parquet",
            split=["train", "dev", "test"],
            view=views,
        )
        + [
            f"{RESULTS}/{dataset}/experts/{view}-s{seed}/metrics.json"
            for view in dataset_views(dataset)
            for seed in expert_seeds(view)
        ]
        + [f"{RESULTS}/{dataset}/moe_f1.json", f"{RESULTS}/{dataset}/case_study.html"]
    )


def expert_seeds(view):
    """Every view trains one expert per seed (the paper reports the mean of three)."""
    return config["experts"]["seeds"]


def all_targets():
    targets = []
    for kc in config["knowledge"]:
        targets += kc_outputs(kc)
    for dataset in config["datasets"]:
        targets += dataset_outputs(dataset)
    if config["datasets"]:
        targets += [f"{RESULTS}/summary.csv", f"{RESULTS}/summary.md"]
    return targets


# ----------------------------------------------------------------------------------------------
# datasets (datasets.smk)
# ----------------------------------------------------------------------------------------------


SPLITS = ["train", "dev", "test"]


def dataset_config(dataset):
    return config["datasets"][dataset]


def dataset_source_file(dataset, split):
    spec = dataset_config(dataset)["splits"][split]
    if spec["path"]:
        return local_input(f"datasets.{dataset}.splits.{split}.path", spec["path"])
    return download_path("datasets", dataset, spec["url"])


# ----------------------------------------------------------------------------------------------
# download (download.smk)
# ----------------------------------------------------------------------------------------------


def _download_spec(wildcards):
    """Find the URL (and checksum) in the config that maps to this download path."""
    wanted = f"{RESULTS}/downloads/{wildcards.kind}/{wildcards.name}/{wildcards.file}"
    if wildcards.kind == "knowledge" and wildcards.name in config["knowledge"]:
        for _, source, _ in kc_sources(wildcards.name):
            for url_key, sha_key in (("url", "sha256"), ("index_url", None)):
                url = source.get(url_key)
                if url and download_path("knowledge", wildcards.name, url) == wanted:
                    return {"url": url, "sha256": source.get(sha_key) if sha_key else None}
    if wildcards.kind == "datasets" and wildcards.name in config["datasets"]:
        for spec in config["datasets"][wildcards.name]["splits"].values():
            if spec.get("url") and download_path("datasets", wildcards.name, spec["url"]) == wanted:
                return {"url": spec["url"], "sha256": spec.get("sha256")}
    raise WorkflowError(f"no URL in the config downloads to {wanted}")


# ----------------------------------------------------------------------------------------------
# retrieval (retrieval.smk)
# ----------------------------------------------------------------------------------------------


def retrieval_kc(view):
    return config_retrieval_kc(config, view)


def text_kc_shards(kc):
    return expand(f"{RESULTS}/knowledge/{kc}/text_kc/{{shard}}.parquet", shard=shard_ids(kc))


def random_view_kc(view):
    if view == "random_text":
        return text_kc_shards(retrieval_kc("text"))
    return [f"{RESULTS}/knowledge/{retrieval_kc('image')}/image_kc.parquet"]


IMAGE = config["retrieval"]["image"]
# Imported views over all datasets and their random_ ablations: the import rules' wildcard choices
# ("(?!)" matches nothing when no dataset imports a view).
IMPORTED_VIEWS, RANDOM_IMPORTED_VIEWS = config_views.all_imported_views(config)
IMPORTED_VIEW_PATTERN = "|".join(IMPORTED_VIEWS) or "(?!)"
RANDOM_IMPORTED_VIEW_PATTERN = "|".join(RANDOM_IMPORTED_VIEWS) or "(?!)"
EXPERT_VIEW_PATTERN = "|".join([*config_views.BUILTIN_VIEWS, *IMPORTED_VIEWS, *RANDOM_IMPORTED_VIEWS])


def context_source_file(w):
    """An imported view's file for this split (a missing one fails with the config key named)."""
    key, path = config_views.context_file(config, w.dataset, w.view, w.split)
    return local_input(key, path)


def clip_shard_ids():
    return [f"{i:05d}" for i in range(IMAGE["shards"])]


def image_download_shard_ids(kc):
    return [f"{i:05d}" for i in range(kc_config(kc)["images"]["download_shards"])]


# ----------------------------------------------------------------------------------------------
# experts (experts.smk)
# ----------------------------------------------------------------------------------------------


def expert_dir(dataset, view, seed):
    return f"{RESULTS}/{dataset}/experts/{view}-s{seed}"


def expert_retrieval(w, split):
    if w.view == "none":
        return []
    return [f"{RESULTS}/{w.dataset}/retrieval/{split}.{w.view}.parquet"]


# ----------------------------------------------------------------------------------------------
# moe (moe.smk)
# ----------------------------------------------------------------------------------------------


MOE = config["moe"]


def moe_variant_args(dataset):
    """One NAME=A,B item per expert pair (more_ie.moe.pairs.variant_pairs: one pair per seed)."""
    seeds = config["experts"]["seeds"]
    return [
        f"{v}={a},{b}"
        for v in config_views.dataset_variants(config, dataset)
        for a, b in variant_pairs(v, seeds)
    ]


def dataset_experts(dataset):
    return {
        f"{view}-s{seed}": expert_dir(dataset, view, seed)
        for view in dataset_views(dataset)
        for seed in expert_seeds(view)
    }


def result_config_hash(dataset):
    """Hash of the config blocks a dataset's result depends on (recorded in moe_f1.json)."""
    from more_ie.moe import config_hash

    kcs = {retrieval_kc("text"), retrieval_kc("image")}
    return config_hash(
        {
            "knowledge": {k: config["knowledge"][k] for k in sorted(kcs)},
            # its student block trains students only: moe_f1.json does not depend on it
            "dataset": {k: v for k, v in config["datasets"][dataset].items() if k != "student"},
            **{key: config[key] for key in ("retrieval", "experts", "moe")},
        }
    )


# ----------------------------------------------------------------------------------------------
# predict (predict.smk)
# ----------------------------------------------------------------------------------------------


# The case-study page: a seeded sample of test posts (the paper's Figure 2 and Table 7, for any run),
# with the predict command's defaults.
CASE_STUDY = CaseStudySettings()


def predict_manifest(dataset):
    """What prediction needs to know about the run (more_ie.predict.layout.build_manifest)."""
    from more_ie.predict.layout import build_manifest

    return build_manifest(config, dataset, RESULTS)


def case_study_inputs(w):
    manifest = predict_manifest(w.dataset)
    return {
        "manifest": f"{RESULTS}/{w.dataset}/predict/run.json",
        "result": f"{RESULTS}/{w.dataset}/moe_f1.json",
        "gates": f"{RESULTS}/{w.dataset}/moe/gates",
        "test": split_data("test", w.dataset),
        "experts": [f"{d}/model" for d in dataset_experts(w.dataset).values()],
        "retrieval": case_study_retrieval(manifest),
    }


def case_study_retrieval(manifest):
    """The indexes and KCs of the views the experts read (a run without an image view builds no image index)."""
    views = dataset_views(manifest["dataset"])
    files = []
    if "text" in views:
        files += [f"{RESULTS}/{manifest['text']['index']}"] + text_kc_shards(manifest["text"]["kc"])
    if "image" in views:
        files += [f"{RESULTS}/{manifest['image'][k]}" for k in ("index", "ids", "image_kc")]
    # imported views have no retriever: the case study reads the test posts' texts from their caches
    files += [
        f"{RESULTS}/{manifest['dataset']}/retrieval/test.{view}.parquet"
        for view in manifest.get("imported_views", {})
    ]
    return files


def write_manifest(path, manifest_json, log_path):
    """The predict_manifest rule's body: the manifest, atomically, and a one-line log."""
    from more_ie.utils import write_json

    write_json(path, json.loads(manifest_json))
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    Path(log_path).write_text(f"wrote {path}\n")


# ----------------------------------------------------------------------------------------------
# student (student.smk)
# ----------------------------------------------------------------------------------------------


from more_ie.moe.pairs import expert_view  # noqa: E402
from more_ie.student.settings import student_block, student_variant, teacher_pair  # noqa: E402

VARIANT_PATTERN = r"[a-z][a-z0-9_]*\+[a-z][a-z0-9_]*"


def student_seeds(dataset):
    return student_block(config, dataset)["seeds"]


def student_dir(dataset, variant, seed):
    return f"{RESULTS}/{dataset}/student/{variant}-s{seed}"


def teacher_file(dataset, variant, pair):
    return f"{RESULTS}/{dataset}/student/teacher/{variant}-pair{pair}.train.parquet"


def student_pair(dataset, seed):
    """The pair index that teaches the student of `seed` (more_ie.student.settings.teacher_pair)."""
    return teacher_pair(config["experts"]["seeds"], student_seeds(dataset), int(seed))


def teacher_experts(w):
    """The pair's two expert names, in the gate's order."""
    variants = config_views.dataset_variants(config, w.dataset)
    if w.variant not in variants:
        raise WorkflowError(f"{w.dataset}: {w.variant} is not one of its MoE variants {variants}")
    pairs = variant_pairs(w.variant, config["experts"]["seeds"])
    if int(w.pair) >= len(pairs):
        raise WorkflowError(f"{w.variant}: no pair {w.pair} ({len(pairs)} pairs)")
    return pairs[int(w.pair)]


def teacher_fit(dataset):
    """(student.teacher_fit, student.teacher_folds) of a dataset."""
    block = student_block(config, dataset)
    return block["teacher_fit"], block["teacher_folds"]


def fold_expert_dir(dataset, view, seed, fold, folds):
    return f"{RESULTS}/{dataset}/student/folds/{view}-s{seed}/fold{fold}-of{folds}"


def teacher_heldout(w):
    """Cross-fitting: NAME=PARQUET per expert of the pair and fold ([] for an in-sample teacher)."""
    fit, folds = teacher_fit(w.dataset)
    if fit != "cross_fit":
        return []
    return [
        f"{name}={fold_expert_dir(w.dataset, *name.rsplit('-s', 1), fold, folds)}/heldout.train.parquet"
        for name in teacher_experts(w)
        for fold in range(folds)
    ]


def teacher_inputs(w):
    """In-sample: the pair's experts and train's retrieval caches; cross-fitted: the fold experts'
    held-out exports instead. Both: train, the fitted gates and train's gate features."""
    experts = teacher_experts(w)
    heldout = teacher_heldout(w)
    views = [v for v in dict.fromkeys(expert_view(n) for n in experts) if v != "none"]
    in_sample = not heldout
    return {
        "models": [f"{expert_dir(w.dataset, *n.rsplit('-s', 1))}/model" for n in experts if in_sample],
        "metrics": [
            f"{expert_dir(w.dataset, *n.rsplit('-s', 1))}/metrics.json" for n in experts if in_sample
        ],
        "heldout": [item.split("=", 1)[1] for item in heldout],
        "train": split_data("train", w.dataset),
        "retrieval": [f"{RESULTS}/{w.dataset}/retrieval/train.{v}.parquet" for v in views if in_sample],
        "gates": f"{RESULTS}/{w.dataset}/moe/gates",
        "features": f"{RESULTS}/{w.dataset}/moe/features/train.parquet",
    }


def student_outputs(dataset):
    """A dataset's students of its configured variant, one per seed, and their summary."""
    variant = student_variant(config, dataset)
    return [f"{student_dir(dataset, variant, seed)}/metrics.json" for seed in student_seeds(dataset)] + [
        f"{RESULTS}/{dataset}/student/summary.json"
    ]


def student_targets():
    """What the default target adds: the students of every dataset whose student block is enabled."""
    return [
        target
        for dataset in config["datasets"]
        if student_block(config, dataset)["enabled"]
        for target in student_outputs(dataset)
    ]
