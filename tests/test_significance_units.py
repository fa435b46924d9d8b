"""p-values that do not overstate: independent t-test units for A+A variants, the RE bootstrap over
posts, the bootstrap's resolution, empty cells (no nan), and notes that follow the config and the
experts' training records. Each on a small hand-made example whose answer is known."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml
from scipy import stats

from conftest import REPO
from fixtures import write_re_expert_split, write_re_split_for_moe
from more_ie.moe import MoeConfig, run_moe, variant_pairs
from more_ie.moe.claims import significance
from more_ie.moe.notes import dev_holdout_note, selected_on_dev, summary_dev_note
from more_ie.moe.pairs import disjoint_pairs
from more_ie.moe.scoring import post_units
from more_ie.moe.stats import format_p, paired_bootstrap_greater, sum_by_unit
from more_ie.utils import write_json


# -- A+A: the t-test over disjoint pairs only ------------------------------------------------------
def test_disjoint_pairs_keep_each_expert_once() -> None:
    assert disjoint_pairs(variant_pairs("text+text", [1, 2, 3, 4])) == [0, 2]  # (s1,s2), (s3,s4)
    assert disjoint_pairs(variant_pairs("text+text", [1, 2, 3, 4, 5])) == [0, 2]  # s5 left out
    assert disjoint_pairs(variant_pairs("text+text", [1, 2, 3])) == [0]
    assert disjoint_pairs(variant_pairs("text+image", [1, 2, 3])) == [0, 1, 2]  # A != B: all


def _counts(rng: np.random.Generator, k: int) -> list[np.ndarray]:
    tp = rng.integers(0, 3, size=(k, 30))
    return [np.stack([t, np.full(30, 2), np.full(30, 2)], axis=1) for t in tp]


def _claims(seeds: list[int], moe: list[float], avg: list[float]) -> dict[str, dict]:
    """text+text and text+image over ``seeds``; text+text's MoE/average scores per cyclic pair."""
    rng = np.random.default_rng(0)
    n = len(seeds)
    views = {"text": {"test_f1": [0.5 + 0.01 * i for i in range(n)], "dev_f1_mean": 0.5}}
    pairs = {v: [list(p) for p in variant_pairs(v, seeds)] for v in ("text+text", "text+image")}
    variants = {
        "text+text": {"pairs": pairs["text+text"], "moe": {"test_f1": moe}, "average": {"test_f1": avg}},
        "text+image": {"pairs": pairs["text+image"], "moe": {"test_f1": moe}, "average": {"test_f1": avg}},
    }
    counts = {"text": _counts(rng, n)} | {
        f"{m}:{v}": _counts(rng, n) for m in ("moe", "average") for v in variants
    }
    return {c["claim"]: c for c in significance(views, variants, counts, resamples=100, seed=0)}


def test_a_plus_a_t_test_uses_only_disjoint_pairs() -> None:
    # pairs 1 and 3 share both their experts with pairs 0 and 2; they look bad, the disjoint ones good
    moe, avg = [0.70, 0.10, 0.74, 0.12], [0.50, 0.90, 0.52, 0.88]
    claims = _claims([1, 2, 3, 4], moe, avg)
    aa = claims["MoE text+text > average pooling text+text"]
    assert aa["t_test_pairs"] == [0, 2]
    expected = stats.ttest_ind([0.70, 0.74], [0.50, 0.52], alternative="greater").pvalue
    assert aa["t_test_p"] == pytest.approx(expected) and aa["t_test_p"] < 0.05
    assert "disjoint pairs [0, 2]" in aa["note"] and aa["bootstrap_p"] is not None
    best = claims["MoE text+text > best single view (text)"]  # b, the view's 4 seeds, stays whole
    whole = stats.ttest_ind([0.70, 0.74], [0.50, 0.51, 0.52, 0.53], alternative="greater").pvalue
    assert best["t_test_pairs"] == [0, 2] and best["t_test_p"] == pytest.approx(whole)
    ab = claims["MoE text+image > average pooling text+image"]  # A != B: every pair, no thinning
    assert "t_test_pairs" not in ab
    assert ab["t_test_p"] == pytest.approx(stats.ttest_ind(moe, avg, alternative="greater").pvalue)


def test_a_plus_a_t_test_is_not_computed_with_one_disjoint_pair() -> None:
    claims = _claims([1, 2, 3], [0.70, 0.72, 0.71], [0.50, 0.52, 0.51])
    for claim in ("MoE text+text > average pooling text+text", "MoE text+text > best single view (text)"):
        entry = claims[claim]
        assert entry["t_test_p"] is None and entry["t_test_pairs"] == [0]
        assert "leaves 1 disjoint pair(s) of 3" in entry["t_test_note"]
        assert entry["bootstrap_p"] is not None  # the bootstrap holds experts fixed: all 3 pairs
    assert claims["MoE text+image > average pooling text+image"]["t_test_p"] is not None


# -- RE: the bootstrap resamples posts ------------------------------------------------------------
def test_re_rows_are_grouped_by_post() -> None:
    rows = [
        {"tokens": ["a", "b"], "image": "1.jpg"},
        {"tokens": ["a", "b"], "image": "1.jpg"},  # a second entity pair of the same post
        {"tokens": ["c"], "image": "2.jpg"},
        {"tokens": ["a", "b"], "image": "3.jpg"},  # same text, another image: another post
        {"tokens": ["a", "b"], "image": "1.jpg"},  # not adjacent, still post 0
    ]
    assert post_units("re", rows).tolist() == [0, 0, 1, 2, 0]
    assert post_units("ner", rows).tolist() == [0, 1, 2, 3, 4]  # NER: one row is one sentence
    counts = np.array([[1, 1, 1], [0, 1, 1], [1, 1, 1], [0, 0, 1], [1, 1, 0]])
    assert sum_by_unit(counts, post_units("re", rows)).tolist() == [[2, 3, 2], [1, 1, 1], [0, 0, 1]]


def test_post_level_bootstrap_differs_from_instance_level() -> None:
    """a beats b on 40 relation instances of one post, b beats a on 3 one-instance posts. Drawn
    instance by instance, a's lead looks certain; drawn by post, a resample without the big post
    (about (3/4)^4 = 32 % of them) has b ahead."""
    right, wrong = [1, 1, 1], [0, 1, 1]
    a = np.array([right] * 40 + [wrong] * 3)
    b = np.array([wrong] * 40 + [right] * 3)
    posts = np.array([0] * 40 + [1, 2, 3])
    instance_p = paired_bootstrap_greater([a], [b], resamples=1000, seed=0).p
    post_a, post_b = sum_by_unit(a, posts), sum_by_unit(b, posts)
    assert post_a.tolist() == [[40, 40, 40], [0, 1, 1], [0, 1, 1], [0, 1, 1]]
    post_p = paired_bootstrap_greater([post_a], [post_b], resamples=1000, seed=0).p
    assert instance_p < 0.01 and 0.2 < post_p < 0.45


# -- the bootstrap's resolution -------------------------------------------------------------------
def test_a_bootstrap_p_of_zero_shows_the_resolution() -> None:
    assert format_p(0.0, 100) == "<0.0099"  # 1/101
    assert format_p(0.0, 200) == "<0.005"
    assert format_p(0.0, 999) == "<0.001" and format_p(0.0, 1000) == "<0.001"
    assert format_p(0.01, 100) == "0.010" and format_p(0.2345, 100) == "0.234"
    assert format_p(1e-6) == "<0.001"  # a t-test p has no resolution limit
    assert format_p(None) == "-"


# -- run_moe on RE with several relation instances per post ---------------------------------------
LABELS = ["None", "/per/org/member_of", "/per/loc/born_in"]
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "moe_f1.schema.yaml").read_text())


def _re_fixture(tmp_path: Path, epochs: int) -> dict:
    """2 seeds of text and none. Test: 30 posts of 1-3 relation instances each. Every expert's
    metrics.json records ``epochs`` history entries."""
    rng = np.random.default_rng(1)
    paths: dict[str, Path] = {}
    for split, n_posts in (("dev", 40), ("test", 30)):
        rows = []
        for post in range(n_posts):
            for _ in range(1 + post % 3):
                relation = LABELS[int(rng.integers(0, 3))]
                rows.append(
                    {
                        "sample_id": len(rows),
                        "tokens": ["w", str(post)],
                        "image": f"{post}.jpg",
                        "head": [0, 1],
                        "tail": [1, 2],
                        "relation": relation,
                    }
                )
        folder = write_re_split_for_moe(tmp_path / split, rows)
        for view in ("text", "none"):
            for seed in (1, 2):
                probs = []
                for row in rows:
                    p = np.full(3, 0.1)
                    gold = LABELS.index(row["relation"])
                    p[gold if rng.random() < (0.8 if view == "text" else 0.5) else (gold + 1) % 3] = 0.8
                    probs.append(p.tolist())
                write_re_expert_split(tmp_path / f"{view}-s{seed}", split, probs, LABELS, epochs)
        paths[split] = folder
    experts = {f"{v}-s{s}": tmp_path / f"{v}-s{s}" for v in ("text", "none") for s in (1, 2)}
    return run_moe(
        "re",
        experts,
        {v: variant_pairs(v, [1, 2]) for v in ("text+none", "text+text")},
        {s: paths[s] / "data.parquet" for s in paths},
        {s: paths[s] / "features.parquet" for s in paths},
        tmp_path / "moe_f1.json",
        MoeConfig(epochs=5, lr=0.1, holdout=0.25, bootstrap_resamples=100),
        "h",
        "toy_re",
    )


@pytest.fixture(scope="module")
def re_result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _re_fixture(tmp_path_factory.mktemp("re_posts"), epochs=3)


def test_run_moe_resamples_re_posts_and_says_so(re_result: dict) -> None:
    # 30 posts of 1, 2, 3, 1, 2, 3... instances: 60 rows
    assert re_result["bootstrap_units"] == {"rows": 60, "posts": 30}
    jsonschema.validate(re_result, SCHEMA)  # the new keys are declared
    aa = next(c for c in re_result["significance"] if c["claim"].startswith("MoE text+text > average"))
    assert aa["t_test_p"] is None and aa["t_test_pairs"] == [0]  # 2 seeds: (s1,s2), (s2,s1) share both
    assert "resamples test posts (all relation instances of a post together), 100 times" in re_result["note"]
    assert "disjoint pairs" in re_result["note"]


def test_the_notes_follow_the_holdout_and_the_experts_epochs(re_result: dict) -> None:
    from more_ie.moe.summary import summary_note

    assert re_result["moe_config"]["holdout"] == 0.25
    assert "25 % of dev" in re_result["note"] and "20 %" not in re_result["note"]
    assert re_result["dev_holdout_optimistic"] is True and "It is optimistic" in re_result["note"]
    assert all(e["epochs"] == 3 for e in re_result["experts"].values())
    note = summary_note([re_result])
    assert "25 % of dev" in note and "20 %" not in note and "optimistic for toy_re" in note
    # one epoch each: nothing was chosen on dev; unrecorded epochs: say so
    one = {name: {"epochs": 1} for name in ("text-s1", "text-s2")}
    assert selected_on_dev(one) is False and "in spirit" in dev_holdout_note(0.3, False)
    assert "30 % of dev" in dev_holdout_note(0.3, False)
    assert selected_on_dev({"text-s1": {"epochs": None}}) is None
    single = copy.deepcopy(re_result) | {"experts": one}
    assert "in spirit for toy_re" in summary_dev_note([single])


def test_summary_of_a_non_paper_dataset_has_no_nan(re_result: dict, tmp_path: Path) -> None:
    from more_ie.moe.summary import build_tables, write_summary

    # a second dataset that is one of the paper's, with a claim toy_re lacks (a column only it has)
    mnre = copy.deepcopy(re_result) | {"dataset": "mnre"}
    random_claim = copy.deepcopy(mnre["significance"][0])
    random_claim.update(kind="real_vs_random", claim="text > random_text", a="text", b="random_text")
    random_claim.update(bootstrap_p=0.0, bootstrap_resamples=100)
    mnre["significance"].append(random_claim)
    tables = build_tables([re_result, mnre])
    main = tables["Table 2: main results (test F1)"].set_index("dataset")["paper MoE"]
    assert main["toy_re"] == "" and main["mnre"] == pytest.approx(68.60)
    random = tables["Table 5: random retrieval (test F1)"].set_index("dataset")
    assert random.loc["toy_re", "p text > random_text (t / bootstrap)"] == ""
    assert random.loc["mnre", "p text > random_text (t / bootstrap)"].endswith(" / <0.0099")
    paths = [tmp_path / "toy.json", tmp_path / "mnre.json"]
    for path, result in zip(paths, (re_result, mnre)):
        write_json(path, result)
    out = tmp_path / "summary"
    write_summary(paths, out / "s.csv", out / "s.md", out / "s.html", out / "plots")
    for name in ("s.csv", "s.md", "s.html"):
        assert not re.search(r"\bnan\b", (out / name).read_text(), re.IGNORECASE), name
    significance = tables["Significance of the paper's claims (one-sided, a > b)"]
    assert "<0.001" not in set(significance["p bootstrap"])  # B = 100 cannot resolve 0.001
    md = (out / "s.md").read_text()
    assert "<0.0099" in md and "25 % of dev" in md
