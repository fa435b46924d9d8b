"""All datasets' ``moe_f1.json`` -> the paper's Tables 2-6 as ``summary.csv`` / ``summary.md``,
an HTML page of the same tables, and the plots the report shows."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

import pandas as pd

from more_ie.utils import atomic_open, atomic_path

logger = logging.getLogger(__name__)

# The paper's MoE F1 (Table 2), by this project's dataset names in config.yaml.
PAPER_MOE_F1 = {"twitter2015": 79.21, "twitter2017": 90.67, "snap": 91.10, "wikidiverse": 79.33, "mnre": 68.60}
MAIN_VIEWS = ("none", "text", "image")
RANDOM_VIEWS = ("text", "random_text", "image", "random_image")


def _f1(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 2)


def _expert(result: dict, view: str) -> dict | None:
    """The first-seed expert of a view."""
    names = sorted(n for n in result["experts"] if n.rsplit("-s", 1)[0] == view)
    return result["experts"][names[0]] if names else None


def build_tables(results: Sequence[dict]) -> dict[str, pd.DataFrame]:
    main, variants, labelwise, random, marginal = [], [], [], [], []
    for r in results:
        ds = r["dataset"]
        row = {"dataset": ds, "task": r["task"]}
        for view in MAIN_VIEWS:
            e = _expert(r, view)
            row[f"{view} expert"] = _f1(e["test"]["f1"]) if e else None
        row["MoE"] = _f1(r["moe"]["f1"])
        row["MoE variant"] = r["moe"]["variant"]
        row["paper MoE"] = PAPER_MOE_F1.get(ds)
        main.append(row)
        for name, v in r["variants"].items():
            variants.append({"dataset": ds, "variant": name, "experts": " + ".join(v["experts"]),
                             "average": _f1(v["average"]["test"]["f1"]), "MoE": _f1(v["moe"]["test"]["f1"]),
                             "MoE dev": _f1(v["moe"]["dev_f1"])})
        main_variant = r["variants"][r["moe"]["variant"]]["moe"]
        baseline = _expert(r, "none")
        for label, prf in sorted(main_variant["test_per_label"].items()):
            base = (baseline or {}).get("test_per_label", {}).get(label)
            labelwise.append({"dataset": ds, "label": label, "none expert": _f1(base["f1"]) if base else None,
                              "MoE": _f1(prf["f1"]), "support": prf["n_gold"]})
        row = {"dataset": ds}
        for view in RANDOM_VIEWS:
            e = _expert(r, view)
            row[view] = _f1(e["test"]["f1"]) if e else None
        random.append(row)
        if r["task"] == "ner":
            for name, e in sorted(r["experts"].items()):
                if e.get("test_marginal_argmax"):
                    marginal.append({"dataset": ds, "expert": name, "Viterbi": _f1(e["test"]["f1"]),
                                     "marginal argmax": _f1(e["test_marginal_argmax"]["f1"])})
    return {
        "Table 2: main results (test F1)": pd.DataFrame(main),
        "Table 3: variants (test F1)": pd.DataFrame(variants),
        "Table 4: label-wise F1 (test)": pd.DataFrame(labelwise),
        "Table 5: random retrieval (test F1)": pd.DataFrame(random),
        "Table 6: marginal argmax vs Viterbi (test F1, NER)": pd.DataFrame(marginal),
    }


def write_summary(result_paths: Sequence[str | Path], csv_out: str | Path, md_out: str | Path,
                  html_out: str | Path, plots_dir: str | Path) -> None:
    results = [json.loads(Path(p).read_text()) for p in result_paths]
    tables = build_tables(results)
    long = pd.concat([t.assign(table=name) for name, t in tables.items() if not t.empty], ignore_index=True)
    with atomic_open(csv_out) as handle:
        long.to_csv(handle, index=False)
    note = ("Scores are test F1 x 100. NER: entity-level micro F1. RE: micro F1 over relations other than None. "
            "'paper MoE' is the MoRe paper's reported number; empty where the dataset is not one of the paper's.")
    with atomic_open(md_out) as handle:
        handle.write("# Summary\n\n" + note + "\n")
        for name, table in tables.items():
            handle.write(f"\n## {name}\n\n")
            handle.write(table.to_markdown(index=False) if not table.empty else "(no rows)\n")
            handle.write("\n")
    with atomic_open(html_out) as handle:
        handle.write(f"<html><body><h1>Summary</h1><p>{note}</p>")
        for name, table in tables.items():
            handle.write(f"<h2>{name}</h2>" + (table.to_html(index=False, na_rep="") if not table.empty else "<p>(no rows)</p>"))
        handle.write("</body></html>\n")
    write_plots(results, tables, Path(plots_dir))
    logger.info("summary of %d datasets -> %s, %s, %s", len(results), csv_out, md_out, html_out)


def write_plots(results: Sequence[dict], tables: dict[str, pd.DataFrame], folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    variants = tables["Table 3: variants (test F1)"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if not variants.empty:
        pivot = variants.assign(key=variants.variant).pivot_table(index="dataset", columns="key", values=["average", "MoE"])
        pivot.plot.bar(ax=ax)
    ax.set_ylabel("test F1")
    ax.set_title("F1 per variant: average pooling and MoE")
    _save(fig, folder / "f1_variants.png")

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for r in results:
        weights = r["variants"][r["moe"]["variant"]]["moe"].get("test_gate_weights", [])
        ax.hist(weights, bins=20, range=(0, 1), alpha=0.6, label=r["dataset"])
    ax.set_xlabel("gate weight of the first expert (mean over labels)")
    ax.set_ylabel("test samples")
    ax.set_title("Gate weights per dataset")
    ax.legend()
    _save(fig, folder / "gate_weights.png")

    labelwise = tables["Table 4: label-wise F1 (test)"]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if not labelwise.empty:
        labelwise.assign(key=labelwise.dataset + ":" + labelwise.label).set_index("key")[["none expert", "MoE"]].plot.bar(ax=ax)
    ax.set_ylabel("test F1")
    ax.set_title("Label-wise F1")
    _save(fig, folder / "labelwise_f1.png")


def _save(fig, path: Path) -> None:  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
