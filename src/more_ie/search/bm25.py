"""BM25 over the text KC's sentence keys with pyserini (Lucene), and the text-retrieval cache.

* The index holds only the sentence (anchors reduced to their surface) and its ``kc_id`` as the
  document id; no contents or raw JSON are stored. A hit maps back to its KC row through the
  id itself (``kc_id = shard << 32 | row``), so paragraphs are never stored twice.
* Large KCs: each text-KC shard is indexed by its own job, then the shard indexes are merged
  into one Lucene index (``IndexWriter.addIndexes``), so BM25 statistics are global and exact.
* Queries: the input sentence without Twitter noise (``RT``, ``@ handle`` pairs, URLs), hashtag
  words kept; searched with ``batch_search`` on several threads.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from more_ie.search.jvm import ensure_jvm, import_pyserini_index
from more_ie.search.settings import Bm25Settings
from more_ie.utils import ProgressLog, atomic_dir, write_parquet
from more_ie.wiki.kc import KC_ID_SHARD_BITS
from more_ie.wiki.sentences import strip_anchors

logger = logging.getLogger(__name__)

RETRIEVAL_SCHEMA = pa.schema(
    [
        pa.field("sample_id", pa.int64(), nullable=False),
        pa.field("rank", pa.int32(), nullable=False),
        pa.field("kc_id", pa.int64(), nullable=False),
        pa.field("score", pa.float32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
    ]
)
_URL = re.compile(r"^(https?://|www\.)\S*$", re.IGNORECASE)
_HANDLE = re.compile(r"^@\w+$")


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_ELLIPSIS = ("…", "...")


def clean_query(tokens: Sequence[str]) -> str:
    """The BM25 query of a post: Twitter noise out, hashtag words in.

    Dropped: ``RT`` with the retweeted handle and its colon (``RT @ user :`` or ``RT user :``),
    ``@`` + handle (one token or two), URLs, ``#``, and a trailing ``…`` with the word it cut
    (a truncated retweet). Hashtag words are kept and split at case changes
    (``#SummerInTheCity`` -> ``Summer In The City``), so they match the corpus's words.
    """
    tokens = list(tokens)
    if tokens and tokens[-1] in _ELLIPSIS:
        tokens = tokens[:-2]  # "... to see th …": the word before the ellipsis is cut
    kept: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "RT":
            j = i + 1
            j += 1 if j < len(tokens) and tokens[j] == "@" else 0
            if j + 1 < len(tokens) and tokens[j + 1] == ":":
                i = j + 2  # RT [@] handle :
                continue
            i += 1
            continue
        if _URL.match(token) or _HANDLE.match(token) or token == "#":
            i += 1
            continue
        if token == "@":
            i += 2
            continue
        if i > 0 and tokens[i - 1] == "#" or token.startswith("#"):
            kept.extend(_CAMEL.split(token.lstrip("#")))
        else:
            kept.append(token)
        i += 1
    return " ".join(t for t in kept if t.strip())


def _kc_shard_of(path: Path) -> int:
    return int(path.stem)


def build_index(
    kc_shard_paths: Iterable[str | Path], index_dir: str | Path, threads: int = 1, batch: int = 20_000
) -> int:
    """Index the sentences of one or more text-KC shards into a fresh Lucene index."""
    ensure_jvm()
    lucene_index = import_pyserini_index()
    n_docs = 0
    with atomic_dir(index_dir) as tmp:
        indexer = lucene_index.LuceneIndexer(str(tmp), threads=threads)
        progress = ProgressLog(logger, "BM25 index: sentences", every=batch * 5)
        for path in kc_shard_paths:
            for record_batch in pq.ParquetFile(path).iter_batches(
                batch_size=batch, columns=["kc_id", "sentence"]
            ):
                ids = record_batch.column("kc_id").to_pylist()
                sentences = record_batch.column("sentence").to_pylist()
                docs = [
                    json.dumps({"id": str(i), "contents": strip_anchors(s)}) for i, s in zip(ids, sentences)
                ]
                indexer.add_batch_raw(docs)
                n_docs += len(docs)
                progress.update(len(docs))
        indexer.close()
        progress.close()
    logger.info("BM25 index %s: %d sentences", index_dir, n_docs)
    return n_docs


def merge_indexes(shard_index_dirs: Sequence[str | Path], index_dir: str | Path) -> None:
    """Merge shard indexes into one (exact global BM25 statistics), with Lucene's addIndexes."""
    ensure_jvm()
    from jnius import autoclass

    fs_directory = autoclass("org.apache.lucene.store.FSDirectory")
    paths = autoclass("java.nio.file.Paths")
    writer_config = autoclass("org.apache.lucene.index.IndexWriterConfig")
    open_mode = autoclass("org.apache.lucene.index.IndexWriterConfig$OpenMode")
    index_writer = autoclass("org.apache.lucene.index.IndexWriter")
    with atomic_dir(index_dir) as tmp:
        config = writer_config()
        config.setOpenMode(open_mode.CREATE)
        writer = index_writer(fs_directory.open(paths.get(str(tmp))), config)
        # jnius cannot match a Python list to addIndexes(Directory...); spread as varargs it can.
        writer.addIndexes(*[fs_directory.open(paths.get(str(d))) for d in shard_index_dirs])
        writer.commit()
        writer.close()
    logger.info("merged %d shard indexes into %s", len(shard_index_dirs), index_dir)


class KcLookup:
    """``kc_id`` -> paragraph, reading only the text-KC shards (and rows) that hits point to."""

    def __init__(self, kc_dir: str | Path, column: str = "paragraph"):
        self.kc_dir = Path(kc_dir)
        self.column = column

    def fetch(self, kc_ids: Iterable[int]) -> dict[int, str]:
        by_shard: dict[int, set[int]] = defaultdict(set)
        for kc_id in kc_ids:
            by_shard[kc_id >> KC_ID_SHARD_BITS].add(kc_id)
        out: dict[int, str] = {}
        mask = (1 << KC_ID_SHARD_BITS) - 1
        for shard, wanted in sorted(by_shard.items()):
            path = self.kc_dir / f"{shard:05d}.parquet"
            table = pq.read_table(path, columns=["kc_id", self.column], memory_map=True)
            rows = sorted(k & mask for k in wanted)
            if rows[-1] >= table.num_rows:
                raise KeyError(
                    f"{path}: has {table.num_rows} rows; the index points to row {rows[-1]}: stale index?"
                )
            taken = table.take(pa.array(rows))
            got = dict(zip(taken.column("kc_id").to_pylist(), taken.column(self.column).to_pylist()))
            if got.keys() != wanted:
                raise KeyError(f"{path}: rows do not carry the kc_ids the index returned: stale index?")
            out.update(got)
        return out


class Bm25Searcher:
    """Anserini's ``SimpleSearcher`` driven directly through pyjnius.

    pyserini's ``LuceneSearcher`` is a thin wrapper of the same Java calls, but importing
    ``pyserini.search.lucene`` also imports its dense and impact encoders (torch, transformers,
    openai): 6 s of a 7-s retrieval job on the demo, paid by every job and by ``predict``.
    """

    def __init__(self, index_dir: str | Path, settings: Bm25Settings = Bm25Settings()):
        ensure_jvm()
        from jnius import autoclass

        self.settings = settings
        self._array_list = autoclass("java.util.ArrayList")
        self.searcher = autoclass("io.anserini.search.SimpleSearcher")(str(index_dir))
        self.searcher.set_bm25(float(settings.k1), float(settings.b))

    def _java_list(self, items: Sequence[str]):  # type: ignore[no-untyped-def]
        out = self._array_list()
        for item in items:
            out.add(item)
        return out

    def search(self, queries: Sequence[str]) -> list[list[tuple[int, float]]]:
        """Top-k ``(kc_id, score)`` for each query, searched in batches on several threads."""
        results: list[list[tuple[int, float]]] = []
        s = self.settings
        for start in range(0, len(queries), s.batch):
            chunk = queries[start : start + s.batch]
            qids = [str(start + i) for i in range(len(chunk))]
            hits = self.searcher.batch_search(self._java_list(chunk), self._java_list(qids), s.k, s.threads)
            for qid in qids:
                row = hits.get(qid)
                results.append([(int(h.docid), float(h.score)) for h in row] if row is not None else [])
        return results


def retrieve_text(
    split_path: str | Path,
    index_dir: str | Path,
    kc_dir: str | Path,
    out: str | Path,
    settings: Bm25Settings = Bm25Settings(),
) -> dict[str, float]:
    table = pq.read_table(split_path, columns=["sample_id", "tokens"])
    sample_ids = table.column("sample_id").to_pylist()
    queries = [clean_query(tokens) for tokens in table.column("tokens").to_pylist()]
    searcher = Bm25Searcher(index_dir, settings)
    start = time.perf_counter()
    hits = searcher.search(queries)
    elapsed = time.perf_counter() - start
    texts = KcLookup(kc_dir).fetch(kc for row in hits for kc, _ in row)
    columns: dict[str, list] = {name: [] for name in RETRIEVAL_SCHEMA.names}
    for sample_id, row in zip(sample_ids, hits):
        for rank, (kc, score) in enumerate(row, 1):
            columns["sample_id"].append(sample_id)
            columns["rank"].append(rank)
            columns["kc_id"].append(kc)
            columns["score"].append(score)
            columns["text"].append(texts[kc])
    empty = sum(1 for row in hits if not row)
    write_parquet(
        pa.table(columns, schema=RETRIEVAL_SCHEMA),
        out,
        metadata={"more_ie.view": "text", "more_ie.k": str(settings.k)},
    )
    rate = len(queries) / max(elapsed, 1e-9)
    logger.info(
        "text retrieval %s: %d queries in %.2fs (%.1f queries/s, %d threads); %d with no hit",
        split_path,
        len(queries),
        elapsed,
        rate,
        settings.threads,
        empty,
    )
    return {"queries": len(queries), "seconds": elapsed, "queries_per_s": rate, "no_hit": empty}
