"""All datasets' ``moe_f1.json`` -> the paper's Tables 2-6 and a significance table as
``summary.csv`` / ``summary.md`` / ``summary.html``, and the plots the report shows.

Every score cell is ``mean ± sd (n=K)`` of test F1 x 100 over seeds (views) or seed pairs
(variants); sd is the sample sd (ddof=1) and is left out for a single seed. The numbers behind
the cells are in each dataset's ``moe_f1.json``.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Sequence

import pandas as pd

from more_ie.moe.notes import AA_T_TEST, summary_bootstrap_note, summary_dev_note
from more_ie.moe.stats import format_p, mean_sd
from more_ie.utils import atomic_open

logger = logging.getLogger(__name__)

# The paper's MoE F1 (Table 2), by this project's dataset names in config.yaml.
PAPER_MOE_F1 = {
    "twitter2015": 79.21,
    "twitter2017": 90.67,
    "snap": 91.10,
    "wikidiverse": 79.33,
    "mnre": 68.60,
}
MAIN_VIEWS = ("none", "text", "image")
RANDOM_VIEWS = ("text", "random_text", "image", "random_image")
ALPHA = 0.05
MARK = "*"
NOTE = (
    "Scores are test F1 x 100, as mean ± sample sd (ddof=1) over seeds, with the number of seeds n; for a variant, "
    "over its seed pairs (Text+Image pairs seed i with seed i; Text+Text seed i with seed i+1, cyclically; one gate "
    "per pair). NER: entity-level micro F1. RE: micro F1 over relations other than None. 'text (no retrieval)' is "
    "the text expert's retrieval-free student (the sentence-alone view trained with cross-view alignment). "
    "p-values are one-sided (claim: a > b): Student's "
    "t-test over seeds (equal variances; none for a single seed) and a paired bootstrap over test posts. "
    f"'{MARK}' marks a claim with p < {ALPHA} by both tests. The best single view is chosen by mean dev F1, not "
    "test F1. 'paper MoE' is the MoRe paper's reported number; empty where the dataset is not one of the paper's."
)


def cell(values: Sequence[float] | None) -> str:
    """``[0.8, 0.82]`` -> ``"81.00 ± 1.41 (n=2)"``; empty for no values."""
    if not values:
        return ""
    s = mean_sd([100 * v for v in values])
    return f"{s.mean:.2f} (n=1)" if s.sd is None else f"{s.mean:.2f} ± {s.sd:.2f} (n={s.n})"


def p_cell(p: float | None, resamples: int | None = None) -> str:
    """A t-test p, or with ``resamples`` a bootstrap p (0 shows as < 1/(resamples + 1))."""
    return format_p(p, resamples)


def boot_cell(claim: dict) -> str:
    return p_cell(claim["bootstrap_p"], claim.get("bootstrap_resamples"))


def significant(claim: dict | None) -> bool:
    return bool(claim) and all(claim[k] is not None and claim[k] < ALPHA for k in ("t_test_p", "bootstrap_p"))


def _claims(result: dict, kind: str) -> dict[tuple[str, str], dict]:
    return {(c["a"], c["b"]): c for c in result.get("significance", []) if c["kind"] == kind}


def _view_f1(result: dict, view: str) -> list[float] | None:
    entry = result["views"].get(view)
    return entry["test_f1"] if entry else None


def _main_table(r: dict) -> dict:
    row = {"dataset": r["dataset"], "task": r["task"]}
    for view in MAIN_VIEWS:
        row[view] = cell(_view_f1(r, view))
        if view == "text":
            alone = (r["views"].get("text") or {}).get("test_alone_f1")
            # only when every seed has it, so that it compares with the text column
            complete = alone and len(alone) == r["views"]["text"]["n"]
            row["text (no retrieval)"] = cell(alone) if complete else ""
    for view in _imported(r):  # the dataset's imported views (knowledge computed elsewhere)
        row[view] = cell(_view_f1(r, view))
    main = r["variants"][r["moe"]["variant"]]["moe"]
    row["MoE"] = cell(main["test_f1"])
    row["MoE variant"] = r["moe"]["variant"]
    # how NER mixtures were decoded (moe.decode); results from before it was recorded used argmax
    row["NER decode"] = r.get("decode", "argmax") if r["task"] == "ner" else ""
    row["paper MoE"] = PAPER_MOE_F1.get(r["dataset"], "")  # "", not None: pandas would print nan
    return row


def _variant_rows(r: dict) -> list[dict]:
    rows, claims = [], _claims(r, "moe_vs_average")
    for name, v in r["variants"].items():
        claim = claims.get((f"moe:{name}", f"average:{name}"))
        rows.append(
            {
                "dataset": r["dataset"],
                "variant": name,
                "pairs": "; ".join(" + ".join(p) for p in v["pairs"]),
                "average": cell(v["average"]["test_f1"]),
                "MoE": cell(v["moe"]["test_f1"]) + (f" {MARK}" if significant(claim) else ""),
                "p t-test": p_cell(claim["t_test_p"]) if claim else "-",
                "p bootstrap": boot_cell(claim) if claim else "-",
                "average dev": cell([p["dev_holdout_f1"] for p in v["average"]["per_pair"]]),
                "MoE dev": cell([p["dev_holdout_f1"] for p in v["moe"]["per_pair"]]),
                "gate weight on A (test)": _gate_moved(v["moe"]["per_pair"]),
                "gate best epoch": ", ".join(
                    str(p.get("gate", {}).get("best_epoch", "")) for p in v["moe"]["per_pair"]
                ),
            }
        )
    return rows


def _gate_moved(pairs: list[dict]) -> str:
    """Mean and spread over test posts of the gate's weight on the pair's first expert, per pair
    (0.50 ± 0.00: the gate never left average pooling)."""
    gates = [p.get("gate", {}) for p in pairs]
    if not all("test_weight_mean" in g for g in gates):
        return ""
    return "; ".join(f"{g['test_weight_mean']:.2f} ± {g['test_weight_sd']:.2f}" for g in gates)


def _labelwise_rows(r: dict) -> list[dict]:
    main = r["variants"][r["moe"]["variant"]]["moe"]["per_pair"]
    baseline = [r["experts"][n] for n in (r["views"].get("none") or {}).get("experts", [])]
    labels = sorted({label for p in main for label in p["test_per_label"]})
    rows = []
    for label in labels:
        moe = [p["test_per_label"][label] for p in main if label in p["test_per_label"]]
        base = [e["test_per_label"][label]["f1"] for e in baseline if label in e.get("test_per_label", {})]
        rows.append(
            {
                "dataset": r["dataset"],
                "label": label,
                "none expert": cell(base),
                "MoE": cell([m["f1"] for m in moe]),
                "support": moe[0]["n_gold"],
            }
        )
    return rows


def _imported(r: dict) -> list[str]:
    """The imported views of a result (not their random_ ablations), in name order."""
    return sorted(v for v, spec in r.get("imported_views", {}).items() if not spec.get("random_ablation"))


def _view_rows(r: dict) -> list[dict]:
    """Every view: its expert and the same expert fed the sentence alone (the retrieval-free student
    that cross-view alignment trains), and where its knowledge came from."""
    rows = []
    for view, entry in sorted(r["views"].items()):
        alone = entry.get("test_alone_f1")
        imported = r.get("imported_views", {}).get(view)
        if imported:
            origin = ("random ablation of " if imported.get("random_ablation") else "imported: ") + (
                f"{imported['format']}, {imported.get('source') or 'no source given'}"
            )
        else:
            origin = "no retrieval" if view == "none" else "built in (retrieved from the knowledge corpus)"
        rows.append(
            {
                "dataset": r["dataset"],
                "view": view,
                "expert": cell(entry["test_f1"]),
                "sentence alone": cell(alone)
                if alone and len(alone) == entry["n"] and view != "none"
                else "",
                "knowledge": origin,
            }
        )
    return rows


def _random_row(r: dict) -> dict:
    views = [
        *RANDOM_VIEWS,
        *(v for x in _imported(r) for v in (x, f"random_{x}") if f"random_{x}" in r["views"]),
    ]
    row = {"dataset": r["dataset"]} | {view: cell(_view_f1(r, view)) for view in views}
    for (a, b), claim in _claims(r, "real_vs_random").items():
        row[f"p {a} > {b} (t / bootstrap)"] = f"{p_cell(claim['t_test_p'])} / {boot_cell(claim)}"
    return row


def _marginal_rows(r: dict) -> list[dict]:
    """Each view's experts decoded three ways from their own test outputs. A column is filled only
    when every seed has it (so that it compares with Viterbi); results written before the moe stage
    recorded constrained decoding leave that column empty, and a view with neither is left out."""
    rows = []
    for view, entry in sorted(r["views"].items()):
        experts = [r["experts"][n] for n in entry["experts"]]
        columns = {}
        for column, key in (
            ("marginal argmax", "test_marginal_argmax"),
            ("marginal constrained", "test_marginal_constrained"),
        ):
            f1 = [e[key]["f1"] for e in experts if e.get(key)]
            columns[column] = cell(f1) if len(f1) == len(experts) else ""
        if any(columns.values()):
            rows.append({"dataset": r["dataset"], "view": view, "Viterbi": cell(entry["test_f1"]), **columns})
    return rows


def _significance_rows(r: dict) -> list[dict]:
    return [
        {
            "dataset": r["dataset"],
            "claim": c["claim"],
            "a": cell(c["a_f1"]),
            "b": cell(c["b_f1"]),
            "p t-test": p_cell(c["t_test_p"]),
            "p bootstrap": boot_cell(c),
            "significant": MARK if significant(c) else "",
            "note": "; ".join(x for x in (c.get("note"), c.get("t_test_note"), c.get("bootstrap_note")) if x),
        }
        for c in r.get("significance", [])
    ]


def build_tables(results: Sequence[dict]) -> dict[str, pd.DataFrame]:
    for r in results:
        if r.get("schema_version") != 2:
            raise ValueError(
                f"moe_f1.json of {r.get('dataset')!r}: schema_version {r.get('schema_version')}, "
                "expected 2 (rerun the moe rule)"
            )
    main, views, variants, labelwise, random, marginal, significance = [], [], [], [], [], [], []
    for r in results:
        main.append(_main_table(r))
        views += _view_rows(r)
        variants += _variant_rows(r)
        labelwise += _labelwise_rows(r)
        random.append(_random_row(r))
        if r["task"] == "ner":
            marginal += _marginal_rows(r)
        significance += _significance_rows(r)
    tables = {
        "Table 2: main results (test F1)": pd.DataFrame(main),
        "Views: every expert, its sentence-alone student, and where its knowledge came from (test F1)": pd.DataFrame(
            views
        ),
        "Table 3: variants, average pooling vs MoE (test F1; one-sided p of MoE > average)": pd.DataFrame(
            variants
        ),
        "Table 4: label-wise F1 (test, main variant)": pd.DataFrame(labelwise),
        "Table 5: random retrieval (test F1)": pd.DataFrame(random),
        "Table 6: Viterbi vs marginal argmax and constrained decoding (test F1, NER)": pd.DataFrame(marginal),
        "Significance of the paper's claims (one-sided, a > b)": pd.DataFrame(significance),
    }
    return {name: _blank_missing(table) for name, table in tables.items()}


def _blank_missing(table: pd.DataFrame) -> pd.DataFrame:
    """Empty cells, not nan: a row that lacks a column (a claim, or a paper number, only some
    datasets have) would print as nan in the md and html tables."""
    return table.astype(object).where(table.notna(), "")


def summary_note(results: Sequence[dict]) -> str:
    """NOTE plus what depends on the results: the held-out share and its honesty, the bootstrap."""
    return " ".join((NOTE, summary_dev_note(results), summary_bootstrap_note(results), AA_T_TEST))


def write_summary(
    result_paths: Sequence[str | Path],
    csv_out: str | Path,
    md_out: str | Path,
    html_out: str | Path,
    plots_dir: str | Path,
) -> None:
    from more_ie.moe.plots import write_plots

    results = []
    for path in result_paths:
        text = Path(path).read_text(encoding="utf-8")
        if not text.strip():
            raise ValueError(f"{path}: empty file")
        results.append(json.loads(text))
    tables, note = build_tables(results), summary_note(results)
    long = pd.concat([t.assign(table=name) for name, t in tables.items() if not t.empty], ignore_index=True)
    with atomic_open(csv_out) as handle:
        long.to_csv(handle, index=False)
    with atomic_open(md_out) as handle:
        handle.write("# Summary\n\n" + note + "\n")
        for name, table in tables.items():
            handle.write(f"\n## {name}\n\n")
            handle.write(table.to_markdown(index=False) if not table.empty else "(no rows)\n")
            handle.write("\n")
    with atomic_open(html_out) as handle:
        handle.write(f"<html><body><h1>Summary</h1><p>{html.escape(note)}</p>")
        for name, table in tables.items():
            handle.write(
                f"<h2>{name}</h2>"
                + (table.to_html(index=False, na_rep="") if not table.empty else "<p>(no rows)</p>")
            )
        handle.write("</body></html>\n")
    write_plots(results, Path(plots_dir))
    logger.info("summary of %d datasets -> %s, %s, %s", len(results), csv_out, md_out, html_out)
