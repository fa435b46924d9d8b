"""Look at real retrieval (issue 10): 20 seeded Twitter-2017 test tweets, their BM25 query and top-3 values.

    python bench/real/retrieval_sample.py [--results results/real] [--out bench/real/retrieval_sample.md]

Reads the real-data run's outputs (`make real`). Values are shown as the experts see them (anchors
in the tagged form, duplicates of a higher-ranked value dropped), cut to 220 characters.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))

from more_ie.experts.data import read_contexts  # noqa: E402
from more_ie.search.bm25 import clean_query  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results/real")
    parser.add_argument("--out", default=str(REPO / "bench" / "real" / "retrieval_sample.md"))
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = Path(args.results) / "twitter2017"
    rows = pq.read_table(root / "data" / "test.parquet").to_pylist()
    retrieval = root / "retrieval" / "test.text.parquet"
    contexts = read_contexts(retrieval)
    raw = pq.read_table(retrieval, columns=["sample_id", "rank", "score"]).to_pandas()
    scores = {(r.sample_id, r.rank): r.score for r in raw.itertuples()}
    lines = [
        "# Retrieval on real Twitter-2017 test tweets (BM25 over wiki_vital + the dump sample)",
        "",
        f"{args.n} tweets drawn with seed {args.seed} by `bench/real/retrieval_sample.py` from `{retrieval}`. "
        "Entities are the gold spans. Values are what the text expert reads after `[X]`.",
        "",
    ]
    for row in random.Random(args.seed).sample(rows, args.n):
        entities = []
        for i, tag in enumerate(row["tags"]):
            if tag.startswith("B-"):
                j = i + 1
                while j < len(row["tags"]) and row["tags"][j].startswith("I-"):
                    j += 1
                entities.append(f"{' '.join(row['tokens'][i:j])} ({tag[2:]})")
        lines += [
            f"## sample {row['sample_id']}",
            "",
            f"* tweet: {' '.join(row['tokens'])}",
            f"* query: `{clean_query(row['tokens'])}`",
            f"* gold entities: {', '.join(entities) or '-'}",
        ]
        for rank, value in enumerate(contexts.get(row["sample_id"], [])[:3], 1):
            lines.append(f"  {rank}. {value[:220]}{'…' if len(value) > 220 else ''}")
        if row["sample_id"] not in contexts:
            lines.append("  (no hit)")
        lines.append("")
    Path(args.out).write_text("\n".join(lines))
    print(f"wrote {args.out} ({len(scores)} scored hits in the cache)")


if __name__ == "__main__":
    main()
