"""Query pruning at scale (issue 15): keep each query's m rarest terms; speed against recall.

The BM25 cost at 10M sentences is in the postings of the queries' terms (``docs/SCALING.md``
section 2): a cleaned tweet has 13.5 terms on average, each a disjunct. This measures, on a merged
index of ``bench/scale_bm25.py``, one Lucene search per query on one thread (BM25 k1=0.9, b=0.4,
top 10, block-max skipping on) for the full bag-of-words query (as Anserini builds it) and for the
same query cut to its ``m`` terms of lowest document frequency:

* CPU ms per query (JIT warmed up on the first 300 queries of each variant);
* overlap@10: the share of the full query's top-10 sentences that the pruned query also returns.

    python bench/scale_bm25_pruning.py --index /tmp/scale/bm25/merged_10000000 --queries 3000 --keep 8 5 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from more_ie.search.jvm import ensure_jvm  # noqa: E402
from scale_bm25 import cpu_seconds, dataset_queries, open_lucene  # noqa: E402

FIELD = "contents"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", required=True, help="a merged BM25 index (scale_bm25.py's merged_N)")
    parser.add_argument("--queries", type=int, default=3000, help="the first N real queries")
    parser.add_argument("--keep", type=int, nargs="+", default=[8, 5, 3], help="terms kept per query")
    args = parser.parse_args()
    ensure_jvm()
    from jnius import autoclass

    reader, searcher, analyzer = open_lucene(Path(args.index))
    analyze = autoclass("io.anserini.analysis.AnalyzerUtils").analyze
    term_cls = autoclass("org.apache.lucene.index.Term")
    term_query = autoclass("org.apache.lucene.search.TermQuery")
    builder_cls = autoclass("org.apache.lucene.search.BooleanQuery$Builder")
    should = autoclass("org.apache.lucene.search.BooleanClause$Occur").SHOULD

    def build(terms: list[str]):  # type: ignore[no-untyped-def]
        # as Anserini's BagOfWordsQueryGenerator: one SHOULD clause per term, boosted by its count
        builder = builder_cls()
        for term in dict.fromkeys(terms):
            query = term_query(term_cls(FIELD, term))
            count = terms.count(term)
            if count > 1:
                query = autoclass("org.apache.lucene.search.BoostQuery")(query, float(count))
            builder.add(query, should)
        return builder.build()

    texts = dataset_queries()[: args.queries]
    analysed = [list(analyze(analyzer, q).toArray()) for q in texts]
    df: dict[str, int] = {}
    for terms in analysed:
        for t in terms:
            if t not in df:
                df[t] = reader.docFreq(term_cls(FIELD, t))

    def pruned(terms: list[str], m: int) -> list[str]:
        keep = set(sorted(dict.fromkeys(terms), key=lambda t: (df[t], t))[:m])
        return [t for t in terms if t in keep]

    variants = {"full": analysed} | {f"keep {m}": [pruned(t, m) for t in analysed] for m in args.keep}
    results: dict[str, dict] = {}
    top: dict[str, list[set[int]]] = {}
    for name, queries in variants.items():
        built = [build(t) for t in queries]
        for q in built[:300]:
            searcher.search(q, 10)
        c0, t0 = cpu_seconds(), time.perf_counter()
        hits = [searcher.search(q, 10).scoreDocs for q in built]
        cpu, wall = cpu_seconds() - c0, time.perf_counter() - t0
        top[name] = [{int(h.doc) for h in row} for row in hits]
        results[name] = {
            "mean_terms": sum(len(set(t)) for t in queries) / len(queries),
            "cpu_ms_per_query": 1000 * cpu / len(built),
            "wall_ms_per_query": 1000 * wall / len(built),
        }
    for name in variants:
        pairs = [(a, b) for a, b in zip(top["full"], top[name]) if a]
        results[name]["overlap_at_10"] = sum(len(a & b) / len(a) for a, b in pairs) / len(pairs)
        results[name]["speedup"] = results["full"]["cpu_ms_per_query"] / results[name]["cpu_ms_per_query"]
    reader.close()
    print(json.dumps({"index": args.index, "queries": len(texts), "results": results}, indent=1))


if __name__ == "__main__":
    main()
