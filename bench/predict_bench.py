"""Speed (and F1) of `python -m more_ie predict` on a trained run's test posts (issue 13).

For full MoRe (retrieval + both experts + gate), the retrieval-free path (--no-retrieval) and, when
the run has one, the distilled student (--student, issue 23), in the same run:
  * posts/s batched (``--batch-size`` expert inputs per forward pass, all posts retrieved together)
    and one post at a time (each post its own retrieval, forward pass and gate);
  * the share of time in retrieval, the experts and the gate (``MoRe.timings``);
  * test F1 of the predictions against the split's gold (NER: entity micro F1 of the mixture's
    per-token argmax / of the student's Viterbi path; RE: micro F1 without the no-relation label).

    python bench/predict_bench.py --run-dir results --dataset demo_mner [--posts 64] [--threads 2]
    python bench/predict_bench.py --run-dir results/real --dataset twitter2017 --mixing moe --posts 3257

One-at-a-time runs on ``--single-posts`` posts (default: all of ``--posts``), since it is slow.
The student row is left out, with a line saying why, when the run has no trained student; its
speed ratio is its batched posts/s over full MoRe's.
The machine's load average is printed before and after: other jobs on the same cores slow both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402

from more_ie.experts.metrics import ner_scores, re_scores  # noqa: E402
from more_ie.predict.api import MoRe, Timings  # noqa: E402
from more_ie.predict.case_study import cached_contexts  # noqa: E402
from more_ie.predict.io import Post  # noqa: E402
from more_ie.predict.layout import RunError  # noqa: E402


def test_posts(model: MoRe, limit: int) -> tuple[list[Post], list]:
    layout = model.layout
    rows = pq.read_table(layout.run_dir / layout.dataset / "data" / "test.parquet").to_pylist()[:limit]
    images = layout.images_dir()
    # imported views (an LLM's text, a caption) come with the post: here from the run's test caches,
    # so their cost is not measured (it is the cost of the model that wrote them)
    cached = {
        view: cached_contexts(layout.run_dir / layout.dataset / "retrieval" / f"test.{view}.parquet")
        for view in getattr(model, "imported", {})
    }
    posts, gold = [], []
    for row in rows:
        pairs = [] if model.task == "ner" else [(tuple(row["head"]), tuple(row["tail"]))]
        image = images / row["image"] if images is not None and row.get("image") else None
        contexts = {view: by_id.get(row["sample_id"], []) for view, by_id in cached.items()}
        posts.append(
            Post(str(row["sample_id"]), list(row["tokens"]), image, row.get("image"), pairs, 0, contexts)
        )
        gold.append(row["tags"] if model.task == "ner" else row["relation"])
    return posts, gold


def f1(model: MoRe, records: list[dict], gold: list) -> float:
    if model.task == "ner":
        if model.mode in ("no_retrieval", "student"):
            pred = [r["experts"][model.experts[0].name] for r in records]
        else:
            pred = [r["mixed_tags"] for r in records]
        return ner_scores(gold, pred)["micro"].f1
    return re_scores(gold, [r["relations"][0]["label"] for r in records])["micro"].f1


def measure(model: MoRe, posts: list[Post], gold: list, batch_size: int, single_posts: int) -> dict:
    model.predict(posts[:2], batch_size=batch_size)  # warm-up: JVM, CLIP and encoder first calls
    model.timings = Timings()
    start = time.perf_counter()
    records = []
    for first in range(0, len(posts), 256):
        records += model.predict(posts[first : first + 256], batch_size=batch_size, details=True)
    batched_s = time.perf_counter() - start
    batched = model.timings
    model.timings = Timings()
    start = time.perf_counter()
    for post in posts[:single_posts]:
        model.predict([post], batch_size=1)
    single_s = time.perf_counter() - start
    single = model.timings

    def shares(t: Timings) -> dict:
        total = t.retrieval + t.experts + t.gate + t.decode
        return {
            k: round(100 * getattr(t, k) / max(total, 1e-9), 1)
            for k in ("retrieval", "experts", "gate", "decode")
        }

    return {
        "mode": model.mode,
        "experts": [r.name for r in model.experts],
        "posts": len(posts),
        "f1": round(f1(model, records, gold), 4),
        "batched_posts_per_s": round(len(posts) / batched_s, 2),
        "batched_shares_pct": shares(batched),
        "single_posts": single_posts,
        "single_posts_per_s": round(single_posts / single_s, 2),
        "single_shares_pct": shares(single),
        "speedup": round((len(posts) / batched_s) / (single_posts / single_s), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", default="results")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--variant", default=None)
    parser.add_argument("--mixing", default="moe", choices=["moe", "average"])
    parser.add_argument("--posts", type=int, default=64, help="test posts (the first N)")
    parser.add_argument("--single-posts", type=int, default=None, help="posts predicted one at a time")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-full", action="store_true", help="only the retrieval-free paths")
    parser.add_argument("--student-seed", type=int, default=None, help="the student's seed (default: lowest)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    results = []
    paths: list[dict] = [{"no_retrieval": True}] if args.skip_full else [{}, {"no_retrieval": True}]
    for path in paths + [{"student": True, "student_seed": args.student_seed}]:
        try:
            model = MoRe.load(
                args.run_dir,
                args.dataset,
                variant=args.variant,
                mixing=args.mixing,
                device="cpu",
                threads=args.threads,
                **path,
            )
        except RunError as err:
            if not path.get("student"):
                raise
            print(f"no student row: {err}", file=sys.stderr, flush=True)
            continue
        posts, gold = test_posts(model, args.posts)
        results.append(measure(model, posts, gold, args.batch_size, args.single_posts or len(posts)))
        print(json.dumps(results[-1]), flush=True)
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": args.threads,
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps({"machine": machine}))
    print(
        "\n| path | experts | posts | F1 | batched posts/s | one-at-a-time posts/s | speed-up | "
        "batched time: retrieval / experts / gate / decode % |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        s = r["batched_shares_pct"]
        print(
            f"| {r['mode']} | {' + '.join(r['experts'])} | {r['posts']} | {100 * r['f1']:.2f} | "
            f"{r['batched_posts_per_s']} | {r['single_posts_per_s']} ({r['single_posts']} posts) | {r['speedup']}x | "
            f"{s['retrieval']} / {s['experts']} / {s['gate']} / {s['decode']} |"
        )
    full = next((r for r in results if r["mode"] in ("moe", "average")), None)
    for r in results:
        if full is not None and r["mode"] != full["mode"]:
            ratio = r["batched_posts_per_s"] / full["batched_posts_per_s"]
            r["speed_ratio_vs_full"] = round(ratio, 2)
            gap = 100 * (r["f1"] - full["f1"])
            print(f"{r['mode']}: {ratio:.1f}x full MoRe's batched posts/s, F1 {gap:+.2f} against it")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "machine": machine}, indent=2))


if __name__ == "__main__":
    main()
