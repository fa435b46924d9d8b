"""Which views and MoE variants a dataset has, and what each view's cache is made from.

Pure functions of the validated config (no Snakemake, no torch): the rules, the predict manifest
and the validator use the same answers.

A view is one of the built-in ones (``none``; ``text`` and ``image``, retrieved by BM25 and CLIP;
``random_text`` and ``random_image``, their Table 5 ablations), an **imported** one named under
``datasets.<name>.contexts`` (knowledge computed elsewhere, see :mod:`more_ie.contexts`), or
``random_<imported>``, that view's ablation. A dataset's own ``experts.views`` and ``moe.variants``
override the top-level lists for it, so one config can give Twitter-2017 its imported views and
leave MNRE without them.
"""

from __future__ import annotations

from typing import Any

BUILTIN_VIEWS = ("none", "text", "image", "random_text", "random_image")
RANDOM_PREFIX = "random_"


def dataset_views(config: dict[str, Any], dataset: str) -> list[str]:
    own = config["datasets"][dataset].get("experts", {}).get("views")
    return list(own if own is not None else config["experts"]["views"])


def dataset_variants(config: dict[str, Any], dataset: str) -> list[str]:
    own = config["datasets"][dataset].get("moe", {}).get("variants")
    return list(own if own is not None else config["moe"]["variants"])


def imported_contexts(config: dict[str, Any], dataset: str) -> dict[str, dict[str, Any]]:
    return dict(config["datasets"][dataset].get("contexts", {}))


def imported_base(config: dict[str, Any], dataset: str, view: str) -> str | None:
    """The imported view a view is made from (itself, or X for random_X), or None for a built-in one."""
    contexts = imported_contexts(config, dataset)
    if view in contexts:
        return view
    if view.startswith(RANDOM_PREFIX) and view[len(RANDOM_PREFIX) :] in contexts:
        return view[len(RANDOM_PREFIX) :]
    return None


def all_imported_views(config: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(imported names, their random_ names) over every dataset, sorted: the rules' wildcard choices."""
    names = sorted({name for ds in config.get("datasets", {}) for name in imported_contexts(config, ds)})
    return names, [RANDOM_PREFIX + n for n in names]


def context_file(config: dict[str, Any], dataset: str, view: str, split: str) -> tuple[str, str]:
    """(config key, path) of an imported view's file for a split: its own ``splits.<split>``, else ``path``."""
    spec = config["datasets"][dataset]["contexts"][view]
    key = f"datasets.{dataset}.contexts.{view}"
    if spec.get("splits", {}).get(split):
        return f"{key}.splits.{split}.path", spec["splits"][split]["path"]
    return f"{key}.path", spec["path"]


def imported_view_sources(config: dict[str, Any], dataset: str) -> dict[str, dict[str, Any]]:
    """What the summary and the report say of each imported view the dataset trains on."""
    out: dict[str, dict[str, Any]] = {}
    for view in dataset_views(config, dataset):
        base = imported_base(config, dataset, view)
        if base is None:
            continue
        spec = imported_contexts(config, dataset)[base]
        out[view] = {
            "imported": base,
            "random_ablation": view != base,
            "format": spec["format"],
            "source": spec.get("source", ""),
            "files": {s: context_file(config, dataset, base, s)[1] for s in ("train", "dev", "test")},
        }
    return out


def check_views(config: dict[str, Any], dataset: str) -> list[str]:
    """Problems with a dataset's views, variants and imported contexts, each naming its key."""
    problems = []
    key = f"datasets.{dataset}"
    contexts = imported_contexts(config, dataset)
    for name, spec in contexts.items():
        if name in BUILTIN_VIEWS or name.startswith(RANDOM_PREFIX):
            problems.append(f"{key}.contexts.{name}: the name is taken (built-in views and random_*)")
        splits = spec.get("splits", {})
        for split in ("train", "dev", "test"):
            if not splits.get(split) and not (spec.get("path") and spec["format"] == "per_image"):
                problems.append(
                    f"{key}.contexts.{name}: no file for split {split!r} (give splits.{split}"
                    + ("; or one `path` for every split" if spec["format"] == "per_image" else "")
                    + ")"
                )
    views = dataset_views(config, dataset)
    for view in views:
        if view not in BUILTIN_VIEWS and imported_base(config, dataset, view) is None:
            problems.append(
                f"{key}: view {view!r} is neither built in {list(BUILTIN_VIEWS)} nor imported "
                f"(datasets.{dataset}.contexts has {sorted(contexts) or 'none'})"
            )
    for variant in dataset_variants(config, dataset):
        missing = set(variant.split("+")) - set(views)
        if missing:
            problems.append(f"{key}: moe variant {variant} needs the views {sorted(missing)} among {views}")
    return problems
