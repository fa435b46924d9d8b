"""The caveats that ``moe_f1.json``'s note and the summary's note state, worded from the data.

Kept apart from :mod:`more_ie.moe.train` and :mod:`more_ie.moe.summary` so that both say the same
thing, and so that nothing in them is a hard-coded number: the held-out share comes from
``moe.holdout``, the bootstrap's resolution from ``moe.bootstrap_resamples``, and whether the
held-out dev F1 is optimistic from the experts' own training records.
"""

from __future__ import annotations

from typing import Mapping, Sequence

AA_T_TEST = (
    "An A+A variant (text+text, image+image) pairs seed i with seed i+1 cyclically, so every expert is in two "
    "pairs: its t-test uses only disjoint pairs ((s1, s2), (s3, s4)...; not computed with fewer than 2, e.g. "
    "with 3 seeds), while its paired bootstrap, which holds the experts fixed and resamples test posts, uses "
    "all pairs."
)


def share(holdout: float) -> str:
    """0.2 -> "20 %"."""
    return f"{100 * holdout:g} %"


def expert_epochs(metrics: Mapping) -> int | None:
    """Epochs an expert trained, from its metrics.json: one ``history`` entry per epoch, else
    ``train_config.epochs``; None when neither was recorded."""
    history = metrics.get("history")
    if isinstance(history, list) and history:
        return len(history)
    epochs = (metrics.get("train_config") or {}).get("epochs")
    return int(epochs) if epochs is not None else None


def selected_on_dev(experts: Mapping[str, Mapping]) -> bool | None:
    """Whether any expert chose its checkpoint by F1 on dev (it trained more than one epoch);
    False when every expert trained exactly one epoch; None when some expert's epochs are unknown
    and none is known to have selected."""
    epochs = [e.get("epochs") for e in experts.values()]
    if any(n is not None and n > 1 for n in epochs):
        return True
    return False if epochs and all(n is not None for n in epochs) else None


def dev_holdout_note(holdout: float, selected: bool | None) -> str:
    """What ``dev_holdout_f1`` is, and how far it can be trusted."""
    base = (
        f"dev_holdout_f1 is measured on the {share(holdout)} of dev (moe.holdout) that did not fit the gate "
        "(the gate's epoch is picked by NLL on those rows, a milder optimism of its own)"
    )
    if selected is True:
        return (
            base + ". It is optimistic: the experts trained more than one epoch and each kept the epoch with "
            "the best F1 on all of dev, these rows included, so it is biased upwards; test F1 is unaffected."
        )
    if selected is False:
        return (
            base + ". Every expert trained one epoch, so no expert chose anything on dev and these rows are "
            "held out from the experts in spirit."
        )
    return (
        base + ". The experts' epochs are not recorded (no history in their metrics.json): if they chose an "
        "epoch on dev it is optimistic; test F1 is unaffected."
    )


def bootstrap_note(task: str | None, resamples: int) -> str:
    unit = {"ner": "sentences", "re": "posts (all relation instances of a post together)"}.get(
        task or "", "posts (NER: sentences; RE: all relation instances of a post together)"
    )
    return (
        f"The paired bootstrap resamples test {unit}, {resamples} times; a bootstrap p of 0 is shown as "
        f"< 1/(B+1) for B resamples."
    )


def by_dataset(values: Mapping[str, str]) -> str:
    """``{"a": "20 %", "b": "20 %"}`` -> ``"20 %"``; differing values -> ``"a: 20 %, b: 30 %"``."""
    distinct = set(values.values())
    if len(distinct) == 1:
        return distinct.pop()
    return ", ".join(f"{k}: {v}" for k, v in values.items())


def summary_dev_note(results: Sequence[Mapping]) -> str:
    """The summary's sentence on 'MoE dev' / 'average dev', per dataset's config and experts."""
    shares = by_dataset({r["dataset"]: share(r.get("moe_config", {}).get("holdout", 0.2)) for r in results})
    groups: dict[bool | None, list[str]] = {}
    for r in results:
        groups.setdefault(selected_on_dev(r["experts"]), []).append(r["dataset"])
    parts = []
    if groups.get(True):
        parts.append(
            f"optimistic for {', '.join(groups[True])}, whose experts trained more than one epoch and kept the "
            "epoch with the best F1 on all of dev, these rows included (test is unaffected)"
        )
    if groups.get(False):
        parts.append(
            f"held out from the experts in spirit for {', '.join(groups[False])}, whose experts trained one "
            "epoch (nothing chosen on dev)"
        )
    if groups.get(None):
        parts.append(
            f"possibly optimistic for {', '.join(groups[None])}, whose experts' epochs are not recorded"
        )
    return (
        f"'MoE dev' and 'average dev' are F1 on the {shares} of dev (moe.holdout) that did not fit the gate: "
        + "; ".join(parts)
        + "."
    )


def summary_bootstrap_note(results: Sequence[Mapping]) -> str:
    resamples = by_dataset(
        {r["dataset"]: str(r.get("moe_config", {}).get("bootstrap_resamples", "?")) for r in results}
    )
    return (
        "The paired bootstrap resamples test posts (NER: sentences; RE: all relation instances of a post "
        f"together), B = {resamples} times; a bootstrap p of 0 is shown as < 1/(B+1), the test's resolution. "
        "A '-' p was not computed; the significance table's note says why."
    )
