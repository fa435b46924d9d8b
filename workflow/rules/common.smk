"""Config loading and validation, and the path helpers every rule file uses."""

import os
import sys
from pathlib import Path
from urllib.parse import unquote

from snakemake.utils import min_version

min_version("9.0")

REPO = Path(workflow.basedir)
sys.path.insert(0, str(REPO / "src"))  # the more_ie package, also when it is not installed

from more_ie.config import ConfigError, check_local_path, validate_config  # noqa: E402

# config.yaml (the paper's setup) is the default. A --configfile replaces it rather than being
# merged into it: otherwise the demo would inherit every dataset of the paper's config.
if not workflow.overwrite_configfiles:
    workflow.configfile(str(REPO / "config.yaml"))
_config_names = ", ".join(str(p) for p in workflow.overwrite_configfiles) or "config.yaml"
try:
    validate_config(config, where=_config_names)
except ConfigError as err:
    raise WorkflowError(str(err)) from None

# Rules call the package's CLI; PYTHONPATH makes it importable in any environment
# (venv, conda env, or a cluster node sharing this file system).
# (Snakemake formats the prefix too, hence the doubled braces.)
shell.prefix("set -euo pipefail; export PYTHONPATH=" + str(REPO / "src") + "${{PYTHONPATH:+:$PYTHONPATH}}; ")

ENV = str(REPO / "envs" / "more.yaml")
# Rules run `{PYTHON} -m more_ie ...`: the conda env's python under --software-deployment-method
# conda, otherwise the interpreter running Snakemake (the venv's, even when it is not activated).
from snakemake_interface_executor_plugins.settings import DeploymentMethod  # noqa: E402

PYTHON = "python" if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method else sys.executable
RESULTS = "results"
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


def shard_ids(kc):
    return [f"{i:05d}" for i in range(kc_config(kc)["shards"])]


def download_path(kind, name, url):
    # MNRE's validation file really is "mnre_val .txt": keep names shell- and cluster-friendly.
    file_name = unquote(os.path.basename(url.split("?", 1)[0])).replace(" ", "_")
    return f"{RESULTS}/downloads/{kind}/{name}/{file_name}"


def local_input(key, path):
    """A configured local input; a missing one fails DAG building with the config key named."""
    try:
        return check_local_path(key, path, where=_config_names)
    except ConfigError as err:
        raise WorkflowError(str(err)) from None


def kc_source_file(kc):
    source = kc_config(kc)["source"]
    if source["path"]:
        return local_input(f"knowledge.{kc}.source.path", source["path"])
    return download_path("knowledge", kc, source["url"])


def kc_index_file(kc):
    """The multistream index, or None: without one a dump is sharded by page order."""
    source = kc_config(kc)["source"]
    if source.get("index_path"):
        return local_input(f"knowledge.{kc}.source.index_path", source["index_path"])
    if source.get("index_url"):
        return download_path("knowledge", kc, source["index_url"])
    return None


def kc_outputs(kc):
    return expand(f"{RESULTS}/knowledge/{kc}/text_kc/{{shard}}.parquet", shard=shard_ids(kc)) + [
        f"{RESULTS}/knowledge/{kc}/image_kc.parquet"
    ]


# Retrieval views with a cache stage (the "none" view needs no retrieval).
BUILT_VIEWS = ("text", "image", "random_text", "random_image")


def dataset_outputs(dataset):
    views = [v for v in config["experts"]["views"] if v in BUILT_VIEWS]
    return (
        expand(f"{RESULTS}/{dataset}/data/{{split}}.parquet", split=["train", "dev", "test"])
        + [f"{RESULTS}/{dataset}/data/missing_images.tsv"]
        + expand(f"{RESULTS}/{dataset}/retrieval/{{split}}.{{view}}.parquet", split=["train", "dev", "test"], view=views)
        + [f"{RESULTS}/{dataset}/experts/{view}-s{seed}/metrics.json"
           for view in config["experts"]["views"] for seed in expert_seeds(view)]
        + [f"{RESULTS}/{dataset}/moe_f1.json"]
    )


def expert_seeds(view):
    """Text and image experts get every seed (Text+Text, Image+Image variants); the others the first."""
    seeds = config["experts"]["seeds"]
    return seeds if view in ("text", "image") else seeds[:1]


def all_targets():
    targets = []
    for kc in config["knowledge"]:
        targets += kc_outputs(kc)
    for dataset in config["datasets"]:
        targets += dataset_outputs(dataset)
    if config["datasets"]:
        targets += [f"{RESULTS}/summary.csv", f"{RESULTS}/summary.md"]
    return targets
