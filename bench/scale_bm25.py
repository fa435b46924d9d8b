"""BM25 growth curves with the project's own stages (issue 15): shard index, merge, batch_search.

Reads the text-KC shards that ``bench/scale_kc.py generate`` wrote (vocabulary growing by the
Heaps fit of real Wikipedia), and for each size in ``--sizes`` (sentences; a prefix of the shards):

* indexes every shard once with ``python -m more_ie bm25-index --threads 2`` (the
  ``bm25_shard_index`` rule), then merges the first shards with ``python -m more_ie bm25-merge``
  (the ``bm25_index`` rule): time, index size on disk, Lucene segments;
* searches the real Twitter-2017 + MNRE queries (all splits, read with the project's readers,
  cleaned as ``retrieve-text`` cleans them) with ``Bm25Searcher`` (``batch_search``, 2 threads,
  k=10, the configured k1=0.9, b=0.4): q/s, twice (the first pass includes JIT warm-up);
* per stage, in a fresh process each: the JVM's peak heap (MemoryMXBean pools, via pyjnius) and
  the process's peak RSS (VmHWM: JVM + Python).

``--force-merge`` adds the same search on a copy of the largest index merged to one segment
(``IndexWriter.forceMerge(1)``, a Lucene setting the pipeline does not use today).

    python bench/scale_bm25.py --kc /tmp/scale_kc --work /tmp/scale_bm25 --sizes 1000000 3000000 10000000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "src"))

logger = logging.getLogger("scale_bm25")


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def load_avg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---------------------------------------------------------------------------------------------
# child processes: one stage each, reporting its own time and peaks as JSON on the last line
# ---------------------------------------------------------------------------------------------


def jvm_peaks() -> dict:
    from jnius import autoclass

    factory = autoclass("java.lang.management.ManagementFactory")
    heap_type = autoclass("java.lang.management.MemoryType").HEAP
    pools = factory.getMemoryPoolMXBeans()
    peak = committed = 0
    for i in range(pools.size()):
        pool = pools.get(i)
        if pool.getType() == heap_type:
            usage = pool.getPeakUsage()
            peak += usage.getUsed()
            committed += usage.getCommitted()
    hwm = next(
        int(line.split()[1])
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    return {
        "jvm_heap_peak_mb": peak / 1e6,
        "jvm_heap_committed_peak_mb": committed / 1e6,
        "rss_peak_mb": hwm / 1e3,
    }


def cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def segments(index: Path) -> int:
    from jnius import autoclass

    reader = autoclass("org.apache.lucene.index.DirectoryReader").open(
        autoclass("org.apache.lucene.store.FSDirectory").open(
            autoclass("java.nio.file.Paths").get(str(index))
        )
    )
    n = reader.leaves().size()
    reader.close()
    return n


def dataset_queries() -> list[str]:
    from more_ie.datasets import read_conll_imgid, read_mnre
    from more_ie.search.bm25 import clean_query

    queries = []
    for split in ("train", "valid", "test"):
        queries += [clean_query(s.tokens) for s in read_conll_imgid(DATA / "twitter2017" / f"{split}.txt")]
    seen = set()
    for name in ("mnre_train.txt", "mnre_val .txt", "mnre_test.txt"):
        for s in read_mnre(DATA / "mnre" / "mnre_txt" / name):
            key = " ".join(s.tokens)
            if key not in seen:  # MNRE repeats a tweet once per entity pair; retrieval is per sentence
                seen.add(key)
                queries.append(clean_query(s.tokens))
    return queries


def open_lucene(index: Path):  # type: ignore[no-untyped-def]
    """(reader, BM25 searcher with k1=0.9 b=0.4, Anserini's analyzer) of a Lucene index, via pyjnius."""
    from jnius import autoclass

    paths = autoclass("java.nio.file.Paths")
    reader = autoclass("org.apache.lucene.index.DirectoryReader").open(
        autoclass("org.apache.lucene.store.FSDirectory").open(paths.get(str(index)))
    )
    searcher = autoclass("org.apache.lucene.search.IndexSearcher")(
        reader, signature="(Lorg/apache/lucene/index/IndexReader;)V"
    )  # not the IndexReaderContext overload
    searcher.setSimilarity(autoclass("org.apache.lucene.search.similarities.BM25Similarity")(0.9, 0.4))
    analyzer = autoclass("io.anserini.analysis.DefaultEnglishAnalyzer").newDefaultInstance()
    return reader, searcher, analyzer


def collectors(index: Path, n_queries: int) -> dict:
    """CPU per query of one Lucene search per query, with and without top-k pruning.

    The same BM25 (k1=0.9, b=0.4) bag-of-words queries as Anserini builds, on one thread:
    ``search(q, 10)`` (TopScoreDocCollector: stops counting hits after 1,000, so Lucene may skip
    blocks that cannot enter the top 10: block-max WAND/MAXSCORE), against a collector that must
    count every hit (no skipping), and against a sorted search (as Anserini's, which sorts by score
    then by id).
    """
    from jnius import autoclass

    reader, searcher, analyzer = open_lucene(index)
    generator = autoclass("io.anserini.search.query.BagOfWordsQueryGenerator")()
    top_score = autoclass("org.apache.lucene.search.TopScoreDocCollector")
    relevance = autoclass("org.apache.lucene.search.Sort").RELEVANCE  # score, ties by doc id
    queries = [generator.buildQuery("contents", analyzer, q) for q in dataset_queries()[:n_queries]]
    modes = {
        "top10_pruned": lambda q: searcher.search(q, 10),
        # a fresh manager per query (it keeps its collectors); count every hit, so nothing is skipped
        "top10_count_all_hits": lambda q: searcher.search(
            q, top_score.createSharedManager(10, None, 2**31 - 1)
        ),
        "top10_sort_relevance": lambda q: searcher.search(q, 10, relevance, True),
    }
    for q in queries[:300]:  # JIT warm-up of every path
        for run in modes.values():
            run(q)
    out = {"collector_queries": len(queries)}
    for name, run in modes.items():
        c0, t0 = cpu_seconds(), time.perf_counter()
        for q in queries:
            run(q)
        out[f"{name}_cpu_ms_per_query"] = 1000 * (cpu_seconds() - c0) / len(queries)
        out[f"{name}_wall_ms_per_query"] = 1000 * (time.perf_counter() - t0) / len(queries)
    reader.close()
    return out


def child(argv: list[str]) -> None:
    from more_ie.search.jvm import ensure_jvm

    stage, args = argv[0], argv[1:]
    ensure_jvm()  # JVM start-up is not part of the stage's time
    out: dict = {}
    start = time.perf_counter()
    cpu0 = cpu_seconds()
    if stage == "index":
        from more_ie.search.bm25 import build_index

        out["docs"] = build_index([args[1]], args[0], threads=2)
    elif stage == "merge":
        from more_ie.search.bm25 import merge_indexes

        merge_indexes(args[1:], args[0])
    elif stage == "force_merge":
        from jnius import autoclass

        cfg = autoclass("org.apache.lucene.index.IndexWriterConfig")()
        cfg.setOpenMode(autoclass("org.apache.lucene.index.IndexWriterConfig$OpenMode").APPEND)
        writer = autoclass("org.apache.lucene.index.IndexWriter")(
            autoclass("org.apache.lucene.store.FSDirectory").open(
                autoclass("java.nio.file.Paths").get(args[0])
            ),
            cfg,
        )
        writer.forceMerge(1)
        writer.commit()
        writer.close()
    elif stage == "search":
        from more_ie.search.bm25 import Bm25Searcher, Bm25Settings

        queries = dataset_queries()
        searcher = Bm25Searcher(args[0], Bm25Settings(k=10, k1=0.9, b=0.4, threads=int(args[1]), batch=1000))
        out["queries"] = len(queries)
        searcher.search(queries[:2000])  # JIT warm-up and the OS page cache; not timed
        cpu_mid = cpu_seconds()
        t0 = time.perf_counter()
        hits = searcher.search(queries)
        out["qps"] = len(queries) / (time.perf_counter() - t0)
        out["cpu_s_warm_pass"] = cpu_seconds() - cpu_mid
        out["no_hit"] = sum(1 for h in hits if not h)
        out["mean_query_terms"] = sum(len(q.split()) for q in queries) / len(queries)
    elif stage == "collectors":
        out |= collectors(Path(args[0]), int(args[1]))
    else:
        raise SystemExit(f"unknown stage {stage}")
    out["seconds"] = time.perf_counter() - start
    out["cpu_seconds"] = cpu_seconds() - cpu0  # all threads, JVM's included: robust to other load
    if stage in ("merge", "force_merge", "index"):
        out["segments"] = segments(Path(args[0]))
    out |= jvm_peaks()
    print(json.dumps(out))


def run_child(*args: str) -> dict:
    load_before = load_avg()
    proc = subprocess.run([sys.executable, __file__, "_child", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["load_before"] = load_before
    result["load_after"] = load_avg()
    return result


# ---------------------------------------------------------------------------------------------


def power_fit(n: list[float], y: list[float], at: float) -> dict:
    """log y = log a + b log n by least squares; the value at ``at`` with the slope +- 1 s.e."""
    import numpy as np
    from scipy import stats

    x, z = np.log(n), np.log(y)
    fit = stats.linregress(x, z)
    x0 = float(np.mean(x))
    center = float(np.mean(z))

    def value(slope: float) -> float:  # the line through the data's centroid with this slope
        return float(np.exp(center + slope * (np.log(at) - x0)))

    se = float(fit.stderr) if len(n) > 2 else float("nan")
    lo, hi = sorted((value(fit.slope - se), value(fit.slope + se))) if se == se else (float("nan"),) * 2
    return {
        "a": float(np.exp(fit.intercept)),
        "b": float(fit.slope),
        "b_se": se,
        "at": at,
        "value": value(fit.slope),
        "low": lo,
        "high": hi,
    }


def report(path: Path, png: Path, at: float) -> dict:
    """Growth fits of every curve, extrapolated to ``at`` sentences, and the plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    result = json.loads(path.read_text())
    sizes = sorted(result["sizes"], key=lambda e: e["sentences"])
    n = [e["sentences"] for e in sizes]
    threads = 2
    cpu_qps = [e["search"]["queries"] / (e["search"]["cpu_s_warm_pass"] / threads) for e in sizes]
    curves = {
        "merged index MB": [e["merged_mb"] for e in sizes],
        "index CPU core-s": [
            sum(r["cpu_seconds"] for r in sorted(result["shards"], key=lambda r: r["shard"])[: e["shards"]])
            for e in sizes
        ],
        "merge CPU s": [e["merge"]["cpu_seconds"] for e in sizes],
        "q/s per 2 busy cores (CPU time)": cpu_qps,
    }
    # wall times and heap peaks depend on the other jobs and on GC timing: shown, not extrapolated
    shown = {
        "q/s wall (2 threads, under load)": [e["search"]["qps"] for e in sizes],
        "search JVM heap peak MB": [e["search"]["jvm_heap_peak_mb"] for e in sizes],
        "search RSS peak MB": [e["search"]["rss_peak_mb"] for e in sizes],
        "index JVM heap peak MB (max over shards)": [
            max(
                r["jvm_heap_peak_mb"]
                for r in sorted(result["shards"], key=lambda r: r["shard"])[: e["shards"]]
            )
            for e in sizes
        ],
    }
    fits = {name: power_fit(n, y, at) for name, y in curves.items()}
    fig, axes = plt.subplots(2, 3, figsize=(12, 7))
    grid = np.geomspace(min(n), at, 30)
    panels = [
        ("merged index MB",),
        ("index CPU core-s", "merge CPU s"),
        ("q/s per 2 busy cores (CPU time)", "q/s wall (2 threads, under load)"),
        ("search JVM heap peak MB", "search RSS peak MB", "index JVM heap peak MB (max over shards)"),
    ]
    for ax, names in zip(axes.flat, panels):
        for name in names:
            if name in fits:
                f = fits[name]
                (line,) = ax.loglog(n, curves[name], "o", label=f"{name}: ~N^{f['b']:.2f}")
                ax.loglog(
                    grid, [f["value"] * (g / at) ** f["b"] for g in grid], "--", color=line.get_color(), lw=1
                )
                if f["b_se"] == f["b_se"]:
                    band = [power_fit(n, curves[name], g) for g in grid]
                    ax.fill_between(
                        grid,
                        [b["low"] for b in band],
                        [b["high"] for b in band],
                        color=line.get_color(),
                        alpha=0.15,
                    )
            else:
                ax.loglog(n, shown[name], "s", label=name)
        if "q/s" in names[0]:
            ax.axhline(646, color="red", lw=1, label="goal 646 q/s")
            ax.axhline(64.6, color="gray", lw=1, label="paper 64.6 q/s")
        ax.set_xlabel("sentences")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    axes.flat[-1].text(
        0,
        0.5,
        "dashed: power-law fit to 200M, shaded: slope +- 1 s.e.\n"
        "CPU-time rates: wall clock was inflated by other jobs\n"
        f"(load {sizes[-1]['search']['load_after']} at the last search)",
        fontsize=8,
    )
    fig.suptitle("BM25 (pyserini/Lucene) on generated Heaps-law text KCs: the project's shard-index + merge")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    return fits


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_report":
        fits = report(Path(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 2e8)
        print(json.dumps(fits, indent=1))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        logging.basicConfig(level=logging.WARNING)
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kc", required=True, help="folder of generated text-KC shards")
    parser.add_argument("--work", required=True, help="folder for the indexes (big)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--force-merge", action="store_true")
    parser.add_argument("--out", required=True, help="results JSON (rewritten after every step)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    kc, work = Path(args.kc), Path(args.work)
    shards = sorted(kc.glob("[0-9][0-9][0-9][0-9][0-9].parquet"))
    import pyarrow.parquet as pq

    rows = [pq.ParquetFile(s).metadata.num_rows for s in shards]
    result: dict = {"machine": f"{os.cpu_count()} cores", "shards": [], "sizes": [], "force_merge": None}
    prev = Path(args.out)
    if prev.exists():  # resume: keep what was measured
        result = json.loads(prev.read_text())

    def save() -> None:
        tmp = prev.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2))
        tmp.replace(prev)

    done_shards = {r["shard"] for r in result["shards"]}
    done_sizes = {r["sentences"] for r in result["sizes"]}
    total = 0
    for size in sorted(args.sizes):
        need = []
        total = 0
        for shard, n in zip(shards, rows):
            if total >= size:
                break
            need.append(shard)
            total += n
        if total < size:
            logger.warning("only %d sentences generated: size %d skipped", total, size)
            continue
        for shard in need:
            out = work / "shards" / shard.stem
            if shard.stem in done_shards:
                continue
            r = run_child("index", str(out), str(shard))
            r |= {"shard": shard.stem, "mb": dir_mb(out)}
            result["shards"].append(r)
            done_shards.add(shard.stem)
            save()
            logger.info(
                "indexed %s: %d docs in %.1fs, %.0f MB, heap peak %.0f MB (load %s)",
                shard.stem,
                r["docs"],
                r["seconds"],
                r["mb"],
                r["jvm_heap_peak_mb"],
                r["load_after"],
            )
        if size in done_sizes:
            continue
        merged = work / f"merged_{size}"
        m = run_child("merge", str(merged), *[str(work / "shards" / s.stem) for s in need])
        s = run_child("search", str(merged), str(args.threads))
        index_s = sum(r["seconds"] for r in result["shards"] if r["shard"] in {x.stem for x in need})
        index_cpu = sum(
            r.get("cpu_seconds", float("nan"))
            for r in result["shards"]
            if r["shard"] in {x.stem for x in need}
        )
        entry = {
            "sentences": total,
            "shards": len(need),
            "index_seconds": index_s,
            "index_rate": total / index_s,
            "index_cpu_seconds": index_cpu,
            "shard_index_mb": sum(r["mb"] for r in result["shards"] if r["shard"] in {x.stem for x in need}),
            "merge": m,
            "merged_mb": dir_mb(merged),
            "search": s,
        }
        result["sizes"].append(entry)
        done_sizes.add(size)
        save()
        logger.info(
            "%d sentences: index %.0fs (%.0f/s), merge %.0fs, %.0f MB, %d segments; %d queries %.0f q/s "
            "(%.0f q/s per 2 busy cores by CPU time), load %s",
            total,
            index_s,
            total / index_s,
            m["seconds"],
            entry["merged_mb"],
            m["segments"],
            s["queries"],
            s["qps"],
            s["queries"] / (s["cpu_s_warm_pass"] / args.threads),
            s["load_after"],
        )
    if args.force_merge and result["sizes"]:
        biggest = max(result["sizes"], key=lambda e: e["sentences"])
        src = work / f"merged_{biggest['sentences']}"
        dst = work / f"merged_{biggest['sentences']}_fm1"
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src, dst)
        f = run_child("force_merge", str(dst))
        s = run_child("search", str(dst), str(args.threads))
        result["force_merge"] = {
            "sentences": biggest["sentences"],
            "force_merge": f,
            "mb": dir_mb(dst),
            "search": s,
        }
        save()
        logger.info("forceMerge(1) of %d: %.0fs, then %.0f q/s", biggest["sentences"], f["seconds"], s["qps"])


if __name__ == "__main__":
    main()
