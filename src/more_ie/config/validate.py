"""Config loading and validation against ``workflow/schemas/config.schema.yaml``.

Defaults from the schema are filled in (also inside named blocks such as ``knowledge.<name>``), and
every error names the offending key as a dotted path. Local input paths are checked by
:func:`check_local_path` when a run needs them: a path must exist unless a pipeline stage
produces it (it lies under the run's ``results_dir``, ``results`` by default).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import yaml
from jsonschema import validators

from more_ie.config.views import BUILTIN_VIEWS, check_views, context_file
from more_ie.student.settings import check_student

REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The config is invalid; the message names the file and the key."""


def _with_defaults(validator_class: type) -> type:
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # type: ignore[no-untyped-def]
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    # JSON Schema (draft 7) calls 2.0 an integer; YAML and Python do not: `shards: 2.0` would reach
    # range() as a float and fail far from the config with a bare TypeError. Integers must be ints.
    type_checker = validator_class.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return validators.extend(validator_class, {"properties": set_defaults}, type_checker=type_checker)


DefaultFillingValidator = _with_defaults(jsonschema.Draft7Validator)


def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    # libyaml's safe loader where PyYAML has it: the schema is read by every Snakemake process (each
    # SLURM job's too), and the pure-Python loader takes ~10x as long over its 27 KB (bench/RESULTS.md)
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _dotted(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _local_paths(config: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for name, kc in config.get("knowledge", {}).items():
        for key in ("path", "index_path"):
            if kc["source"].get(key):
                yield f"knowledge.{name}.source.{key}", kc["source"][key]
    for name, ds in config.get("datasets", {}).items():
        for split, spec in ds["splits"].items():
            if spec.get("path"):
                yield f"datasets.{name}.splits.{split}.path", spec["path"]
        for view in ds.get("contexts", {}):
            files = {context_file(config, name, view, split) for split in ("train", "dev", "test")}
            yield from sorted(files)


def _check_semantics(config: dict[str, Any], where: str) -> None:
    for name, kc in config.get("knowledge", {}).items():
        source = kc["source"]
        if not source.get("path") and not source.get("url"):
            raise ConfigError(f"{where}: knowledge.{name}.source: give a path or a url")
        if source["kind"] == "docs" and (source.get("index_path") or source.get("index_url")):
            raise ConfigError(f"{where}: knowledge.{name}.source: a docs source has no multistream index")
    for name, ds in config.get("datasets", {}).items():
        for split, spec in ds["splits"].items():
            if not spec.get("path") and not spec.get("url"):
                raise ConfigError(f"{where}: datasets.{name}.splits.{split}: give a path or a url")
    experts, moe = config.get("experts", {}), config.get("moe", {})
    if not config.get("datasets"):
        unknown = [v for v in experts.get("views", []) if v not in BUILTIN_VIEWS]
        if unknown:
            raise ConfigError(
                f"{where}: experts.views: {unknown[0]!r} is neither built in {list(BUILTIN_VIEWS)} nor "
                "imported by a dataset (datasets.<name>.contexts)"
            )
    for variant in moe.get("variants", []):
        views = set(variant.split("+"))
        missing = views - set(experts.get("views", []))
        if missing and not config.get("datasets"):
            raise ConfigError(
                f"{where}: moe.variants: {variant} needs experts.views to include {sorted(missing)}"
            )
        if len(views) == 1 and len(experts.get("seeds", [])) < 2:
            raise ConfigError(
                f"{where}: moe.variants: {variant} combines two seeds; experts.seeds has fewer than 2"
            )
    for name in config.get("datasets", {}):
        # each dataset's own views and variants (its overrides, or the top-level lists), and its
        # imported views (more_ie.config.views)
        problems = check_views(config, name) + check_student(config, name)
        if problems:
            raise ConfigError(f"{where}: " + "; ".join(problems))
    kc_names = list(config.get("knowledge", {}))
    for view in ("text", "image"):
        chosen = config.get("retrieval", {}).get(view, {}).get("kc")
        if chosen is not None and chosen not in kc_names:
            raise ConfigError(f"{where}: retrieval.{view}.kc: {chosen!r} is not one of knowledge: {kc_names}")


def _produced(path: str, results_dir: str) -> bool:
    """A stage writes this path: it lies under the results folder (compared as normalized paths)."""
    root = Path(results_dir.rstrip("/") or ".")
    return Path(path) == root or root in Path(path).parents


def check_local_path(
    key: str, path: str, base_dir: str | Path = ".", where: str = "config", results_dir: str = "results"
) -> str:
    """Return ``path`` if it exists or a stage produces it (under ``results_dir``); else name the key.

    Called lazily, for the inputs a run needs: the paper's config names datasets that must be
    placed by hand (SNAP, WikiDiverse), and a run for MNRE must not fail because they are absent.
    """
    if not _produced(path, results_dir) and not (Path(base_dir) / path).exists():
        raise ConfigError(f"{where}: {key}: file not found: {path}")
    return path


def missing_local_paths(config: dict[str, Any], base_dir: str | Path = ".") -> list[str]:
    """Every configured local input that does not exist (and is not produced by a stage)."""
    return [
        f"{key}: {path}"
        for key, path in _local_paths(config)
        if not _produced(path, config.get("results_dir", "results")) and not (Path(base_dir) / path).exists()
    ]


def validate_config(
    config: dict[str, Any],
    where: str = "config",
    schema_path: str | Path = SCHEMA_PATH,
) -> dict[str, Any]:
    """Validate ``config`` in place, filling defaults; raise :class:`ConfigError` naming the key."""
    from more_ie.config.env import expand_path_variables

    expand_path_variables(config, ConfigError, where)
    validator = DefaultFillingValidator(load_schema(schema_path))
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{_dotted(e.absolute_path)}: {e.message}" for e in errors[:10]]
        raise ConfigError(f"{where}: invalid config:\n  " + "\n  ".join(lines))
    _check_semantics(config, where)
    return config


def load_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: the config must be a mapping")
    return validate_config(config, where=str(path))


def retrieval_kc(config: dict, view: str) -> str:
    """The knowledge corpus a retrieval view ("text" or "image") reads: its ``kc``, else the first one."""
    return config["retrieval"][view]["kc"] or next(iter(config["knowledge"]))
