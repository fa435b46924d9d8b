"""Retrieval throughput (issue 3, section 6): BM25, CLIP and Faiss, each batched/threaded against
the paper's one-at-a-time setting, plus what that gives for Twitter-2017 + MNRE.

* BM25: a text KC of >= 1M sentences from real text (wiki_vital introductions + the dump sample,
  repeated with a copy number appended to reach the size); queries are the real Twitter-2017 and
  MNRE sentences. Sequential ``search`` loop against ``batch_search`` with threads.
* CLIP: ViT-B-32 (random weights: timing only, no weights can be downloaded here) on the real
  sample images, batch 1 in the main process against batches with decoding workers.
* Faiss: Flat inner product over N random unit vectors of CLIP's dimension.

    python bench/retrieval_bench.py [--sentences 1000000] [--queries 2000] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "src"))

from more_ie.datasets import read_conll_imgid, read_mnre  # noqa: E402
from more_ie.search.bm25 import Bm25Searcher, Bm25Settings, build_index, clean_query  # noqa: E402
from more_ie.utils import ParquetBatchWriter  # noqa: E402
from more_ie.wiki import build_dump_shard, build_redirects, build_text_kc  # noqa: E402
from more_ie.wiki.kc import TEXT_KC_SCHEMA, kc_id  # noqa: E402
from more_ie.wiki.sentences import split_sentences  # noqa: E402


def real_sentences(work: Path) -> list[tuple[str, str]]:
    """(sentence, paragraph) pairs from wiki_vital and the dump sample's text KC."""
    pairs = []
    vital = json.loads((DATA / "wiki_vital" / "summaries_en-us.json").read_text())
    for record in vital.values():
        paragraph = " ".join(record.get("extract", "").split())
        pairs += [(s, paragraph) for s in split_sentences(paragraph) if len(s) >= 10]
    dump = DATA / "wiki" / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
    build_dump_shard(dump, None, 0, 1, work / "s.parquet")
    build_redirects([work / "s.parquet"], work / "r.parquet")
    build_text_kc(work / "s.parquet", work / "r.parquet", 0, work / "dump_kc.parquet")
    kc = pq.read_table(work / "dump_kc.parquet", columns=["sentence", "paragraph"]).to_pylist()
    pairs += [(r["sentence"], r["paragraph"]) for r in kc]
    return pairs


def write_big_kc(pairs: list[tuple[str, str]], n: int, path: Path) -> None:
    with ParquetBatchWriter(path, TEXT_KC_SCHEMA, rows_per_batch=50_000) as writer:
        for row in range(n):
            sentence, paragraph = pairs[row % len(pairs)]
            copy = row // len(pairs)
            if copy:  # keep documents distinct, as 200M real sentences would be
                sentence = f"{sentence} copy{copy}"
            writer.append(
                {
                    "kc_id": kc_id(0, row),
                    "page_id": row % 100_000,
                    "title": "t",
                    "section": "",
                    "paragraph_idx": 0,
                    "sentence": sentence,
                    "paragraph": paragraph,
                }
            )


def dataset_queries() -> list[str]:
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


def bench_bm25(args: argparse.Namespace, work: Path) -> dict:
    pairs = real_sentences(work)
    start = time.perf_counter()
    write_big_kc(pairs, args.sentences, work / "00000.parquet")
    t_kc = time.perf_counter() - start
    start = time.perf_counter()
    build_index([work / "00000.parquet"], work / "index", threads=args.threads)
    t_index = time.perf_counter() - start
    size_mb = sum(f.stat().st_size for f in (work / "index").iterdir()) / 1e6
    all_queries = dataset_queries()
    queries = all_queries[: args.queries]
    seq = Bm25Searcher(work / "index", Bm25Settings(k=10, threads=1))
    seq.search(queries[:50])  # JIT warm-up
    start = time.perf_counter()
    for q in queries:
        seq.searcher.search(q, 10)
    t_seq = time.perf_counter() - start
    par = Bm25Searcher(work / "index", Bm25Settings(k=10, threads=args.threads, batch=1000))
    start = time.perf_counter()
    par.search(queries)
    t_par = time.perf_counter() - start
    return {
        "real_sentences": len(pairs),
        "kc_sentences": args.sentences,
        "kc_write_s": t_kc,
        "index_s": t_index,
        "index_mb": size_mb,
        "queries": len(queries),
        "all_dataset_queries": len(all_queries),
        "seq_qps": len(queries) / t_seq,
        "batch_qps": len(queries) / t_par,
    }


def bench_clip(args: argparse.Namespace) -> dict:
    import torch

    from more_ie.search.clip import ClipEncoder, ClipSpec

    images = sorted(p for p in (DATA / "images_sample").rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    paths = (images * (args.images // len(images) + 1))[: args.images]
    encoder = ClipEncoder(ClipSpec("ViT-B-32", None, "cpu"))
    from PIL import Image

    start = time.perf_counter()
    for p in paths:  # the paper's setting: one image at a time, decoded in the main process
        with Image.open(p) as image:
            encoder.encode_image_tensors(encoder.preprocess(image.convert("RGB")).unsqueeze(0))
    t_one = time.perf_counter() - start
    start = time.perf_counter()
    for _ in encoder.encode_image_files(paths, batch_size=args.clip_batch, workers=args.threads):
        pass
    t_batch = time.perf_counter() - start
    return {
        "images": len(paths),
        "torch_threads": torch.get_num_threads(),
        "batch1_ips": len(paths) / t_one,
        "batched_ips": len(paths) / t_batch,
        "batch_size": args.clip_batch,
        "workers": args.threads,
    }


def bench_faiss(args: argparse.Namespace) -> dict:
    import faiss

    rng = np.random.default_rng(0)
    xb = rng.standard_normal((args.vectors, 512), dtype=np.float32)
    xb /= np.linalg.norm(xb, axis=1, keepdims=True)
    index = faiss.index_factory(512, "Flat", faiss.METRIC_INNER_PRODUCT)
    index.add(xb)
    xq = xb[: args.faiss_queries] + 0.01
    start = time.perf_counter()
    for q in xq[:200]:
        index.search(q[None], 10)
    t_one = (time.perf_counter() - start) / 200
    start = time.perf_counter()
    index.search(xq, 10)
    t_batch = (time.perf_counter() - start) / len(xq)
    return {"vectors": args.vectors, "dim": 512, "one_qps": 1 / t_one, "batched_qps": 1 / t_batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--clip-batch", type=int, default=32)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--faiss-queries", type=int, default=2000)
    parser.add_argument("--skip", nargs="*", default=[], choices=["bm25", "clip", "faiss"])
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} not found")
    import logging

    logging.basicConfig(level=logging.WARNING)
    print(f"machine: {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        if "bm25" not in args.skip:
            r = bench_bm25(args, Path(tmp))
            print(
                f"BM25: KC of {r['kc_sentences']:,} sentences ({r['real_sentences']:,} real, repeated); "
                f"index built in {r['index_s']:.0f}s, {r['index_mb']:.0f} MB"
            )
            print(
                f"BM25: {r['queries']} real queries: sequential {r['seq_qps']:.0f} q/s, batch_search "
                f"{args.threads} threads {r['batch_qps']:.0f} q/s, ratio {r['batch_qps'] / r['seq_qps']:.2f}x "
                f"(paper: 64.6 q/s with Elasticsearch over 200M)"
            )
            print(
                f"BM25: all {r['all_dataset_queries']:,} Twitter-2017 + MNRE sentences would take "
                f"{r['all_dataset_queries'] / r['batch_qps']:.0f}s"
            )
    if "clip" not in args.skip:
        r = bench_clip(args)
        print(
            f"CLIP ViT-B-32: {r['images']} images, batch 1 {r['batch1_ips']:.1f} img/s, batch {r['batch_size']} "
            f"with {r['workers']} decoding workers {r['batched_ips']:.1f} img/s, ratio "
            f"{r['batched_ips'] / r['batch1_ips']:.2f}x (paper: 6.4/s for CLIP features, V100, batch 1)"
        )
    if "faiss" not in args.skip:
        r = bench_faiss(args)
        print(
            f"Faiss Flat IP over {r['vectors']:,} x {r['dim']}: one query at a time {r['one_qps']:.0f} q/s, "
            f"batched {r['batched_qps']:.0f} q/s, ratio {r['batched_qps'] / r['one_qps']:.1f}x "
            f"(paper: 650/s image retrieval)"
        )


if __name__ == "__main__":
    main()
