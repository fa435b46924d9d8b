"""Faiss at 1M x 512 clustered vectors (issue 15): Flat, HNSW32 and IVF-PQ compared.

No real CLIP weights exist offline, so the vectors are synthetic but shaped like CLIP image
embeddings rather than uniform noise: every vector shares a common direction (CLIP embeddings of
unrelated images still have cosine ~0.4-0.5), belongs to one of ``--topics`` topics and, inside
it, to one of ``--clusters`` clusters (near-duplicates: the same logo, person, place), with
Zipf-distributed cluster sizes; then L2-normalised (``clip_encode_kc`` writes unit vectors and the
index is inner product). Queries are new draws from the same mixture (dataset images are not KC
images). For each factory: build time (train + add), index bytes (serialised) and process peak
RSS, q/s for one batch of queries on ``--threads`` threads, recall@10 against ``Flat``.

    OMP_WAIT_POLICY=PASSIVE python bench/scale_faiss.py --vectors 1000000 --queries 1000 --out /tmp/faiss.json
    python bench/scale_faiss.py _plot /tmp/faiss.json docs/scaling_faiss.png

(OMP_WAIT_POLICY=PASSIVE: on a shared machine spinning OpenMP threads burn the CPU they wait for.)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger("scale_faiss")


def cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> tuple[float, float]:
    status = Path("/proc/self/status").read_text().splitlines()
    get = lambda key: next(int(line.split()[1]) for line in status if line.startswith(key)) / 1e3  # noqa: E731
    return get("VmRSS:"), get("VmHWM:")


def clustered(n: int, dim: int, topics: int, clusters: int, seed: int, chunk: int = 100_000) -> np.ndarray:
    """Unit vectors: common direction + topic + cluster + noise (norms of the parts set the cosines)."""
    rng = np.random.default_rng(1234)  # the mixture itself: the same for base and queries
    unit = lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True)  # noqa: E731
    common = unit(rng.standard_normal(dim)).astype(np.float32)
    topic_dirs = unit(rng.standard_normal((topics, dim))).astype(np.float32)
    cluster_dirs = unit(rng.standard_normal((clusters, dim))).astype(np.float32)
    cluster_topic = rng.integers(0, topics, clusters)
    weights = 1.0 / np.arange(1, clusters + 1) ** 0.8  # Zipf-like cluster sizes
    weights /= weights.sum()
    draw = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        c = draw.choice(clusters, size=hi - lo, p=weights)
        noise = draw.standard_normal((hi - lo, dim), dtype=np.float32) / np.sqrt(dim)
        x = 0.65 * common + 0.5 * topic_dirs[cluster_topic[c]] + 0.55 * cluster_dirs[c] + 0.45 * noise
        out[lo:hi] = unit(x)
    return out


def bench_factory(
    factory: str,
    xb: np.ndarray,
    xq: np.ndarray,
    gt: np.ndarray | None,
    k: int,
    search_params: list[tuple[str, int]],
    train_n: int,
) -> list[dict]:
    import faiss

    dim = xb.shape[1]
    index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    rss0, _ = rss_mb()
    start = time.perf_counter()
    cpu0 = cpu_s()
    train_s = 0.0
    if not index.is_trained:
        sample = xb[np.random.default_rng(0).choice(len(xb), size=min(train_n, len(xb)), replace=False)]
        index.train(sample)
        train_s = time.perf_counter() - start
    index.add(xb)
    build_s = time.perf_counter() - start
    build_cpu = cpu_s() - cpu0
    rss1, hwm = rss_mb()
    nbytes = len(faiss.serialize_index(index))
    out = []
    for name, value in search_params or [("", 0)]:
        if name:
            faiss.ParameterSpace().set_index_parameter(index, name, value)
        index.search(xq[:50], k)  # warm-up
        t0, c0 = time.perf_counter(), cpu_s()
        _, ids = index.search(xq, k)
        secs, cpu = time.perf_counter() - t0, cpu_s() - c0
        recall = None
        if gt is not None:
            recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ids, gt)]))
        row = {
            "factory": factory,
            "param": f"{name}={value}" if name else "",
            "build_s": build_s,
            "build_cpu_s": build_cpu,
            "train_s": train_s,
            "index_mb": nbytes / 1e6,
            "rss_growth_mb": rss1 - rss0,
            "rss_peak_mb": hwm,
            "qps": len(xq) / secs,
            "qps_per_2_busy_cores": len(xq) / (cpu / 2),
            f"recall@{k}": recall,
            "load": os.getloadavg()[0],
        }
        logger.info("%s", row)
        out.append(row)
    return out, ids if gt is None else None


def plot(path: Path, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    result = json.loads(path.read_text())
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for i, factory in enumerate(dict.fromkeys(r["factory"] for r in result["rows"])):
        rows = [r for r in result["rows"] if r["factory"] == factory]
        a1.semilogx(
            [r["qps_per_2_busy_cores"] for r in rows],
            [r["recall@10"] for r in rows],
            "o-",
            color=f"C{i}",
            label=factory,
        )
        for r in rows:
            if r["param"]:
                a1.annotate(r["param"], (r["qps_per_2_busy_cores"], r["recall@10"]), fontsize=6)
        a2.bar(i, rows[0]["index_mb"], color=f"C{i}")
        a2.text(
            i,
            rows[0]["index_mb"],
            f"{rows[0]['build_cpu_s']:.0f} core-s",
            ha="center",
            va="bottom",
            fontsize=7,
        )
    a1.set_xlabel("queries/s per 2 busy cores (CPU time)")
    a1.set_ylabel("recall@10 vs Flat")
    a1.grid(True, which="both", alpha=0.3)
    a1.legend(fontsize=7)
    names = list(dict.fromkeys(r["factory"] for r in result["rows"]))
    a2.set_xticks(range(len(names)), names, fontsize=7)
    a2.set_ylabel("index size MB (label: build CPU core-seconds)")
    fig.suptitle(f"Faiss, {result['vectors']:,} x {result['dim']} clustered unit vectors, inner product")
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_plot":
        plot(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--topics", type=int, default=300)
    parser.add_argument("--clusters", type=int, default=30_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--ivf", default="IVF1024,PQ64", help="the IVF-PQ factory (nlist ~ sqrt(N) to 4 sqrt(N))"
    )
    parser.add_argument("--train", type=int, default=100_000, help="training vectors for IVF/PQ")
    parser.add_argument("--skip", nargs="*", default=[], choices=["hnsw", "ivf", "ivfsq"])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import faiss

    faiss.omp_set_num_threads(args.threads)
    t0 = time.perf_counter()
    xb = clustered(args.vectors, args.dim, args.topics, args.clusters, seed=1)
    xq = clustered(args.queries, args.dim, args.topics, args.clusters, seed=2)
    sims = xq[:200] @ xb[:2000].T
    shape = {
        "mean_cos_query_base": float(sims.mean()),
        "p99_cos": float(np.quantile(sims, 0.99)),
        "max_cos_mean": float((xq[:200] @ xb[:200_000].T).max(axis=1).mean()),
        "gen_s": time.perf_counter() - t0,
    }
    logger.info("vectors: %s", shape)
    result: dict = {
        "vectors": args.vectors,
        "dim": args.dim,
        "queries": args.queries,
        "threads": args.threads,
        "machine": f"{os.cpu_count()} cores",
        "shape": shape,
        "rows": [],
    }
    save = lambda: Path(args.out).write_text(json.dumps(result, indent=2))  # noqa: E731
    rows, gt = bench_factory("Flat", xb, xq, None, args.k, [], args.train)
    for r in rows:
        r[f"recall@{args.k}"] = 1.0
    result["rows"] += rows
    save()
    if "hnsw" not in args.skip:
        result["rows"] += bench_factory(
            "HNSW32", xb, xq, gt, args.k, [("efSearch", 16), ("efSearch", 64), ("efSearch", 128)], args.train
        )[0]
        save()
    if "ivf" not in args.skip:
        result["rows"] += bench_factory(
            args.ivf, xb, xq, gt, args.k, [("nprobe", 8), ("nprobe", 32), ("nprobe", 64)], args.train
        )[0]
        save()
    if "ivfsq" not in args.skip:  # 8-bit scalar quantisation: 4x smaller than Flat, near-exact distances
        nlist = args.ivf.split(",")[0]
        result["rows"] += bench_factory(
            f"{nlist},SQ8", xb, xq, gt, args.k, [("nprobe", 8), ("nprobe", 32), ("nprobe", 64)], args.train
        )[0]
        save()


if __name__ == "__main__":
    main()
