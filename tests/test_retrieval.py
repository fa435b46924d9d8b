"""Retrieval: exact BM25 on a fixture, self-retrieval (text and image), query cleaning, random caches."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fixtures import TINY_CLIP, image_kc_row, image_kc_rows, write_image_kc, write_text_kc
from more_ie.utils import write_parquet

pytest.importorskip("pyserini")


def _lucene_bm25(tf: int, dl: int, avgdl: float, df: int, n: int, k1: float, b: float) -> float:
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))


def test_bm25_exact_scores_on_three_documents(tmp_path: Path) -> None:
    from more_ie.search.bm25 import Bm25Searcher, Bm25Settings, build_index

    write_text_kc(
        tmp_path / "00000.parquet", 0, ["alpha beta gamma", "alpha alpha delta", "epsilon zeta eta theta"]
    )
    build_index([tmp_path / "00000.parquet"], tmp_path / "index")
    hits = Bm25Searcher(tmp_path / "index", Bm25Settings(k=3, k1=0.9, b=0.4)).search(["alpha"])[0]
    avgdl = (3 + 3 + 4) / 3
    expected = [
        (1, _lucene_bm25(2, 3, avgdl, 2, 3, 0.9, 0.4)),
        (0, _lucene_bm25(1, 3, avgdl, 2, 3, 0.9, 0.4)),
    ]
    assert [doc for doc, _ in hits] == [doc for doc, _ in expected]
    for (_, score), (_, want) in zip(hits, expected):
        assert score == pytest.approx(want, abs=1e-4)  # Anserini rounds scores to 4 decimals


def test_merged_shard_indexes_score_like_one_index(tmp_path: Path) -> None:
    from more_ie.search.bm25 import Bm25Searcher, build_index, merge_indexes

    write_text_kc(tmp_path / "00000.parquet", 0, ["the cat sat on the mat", "dogs chase cats"])
    write_text_kc(tmp_path / "00001.parquet", 1, ["a bird in the hand", "the cat and the bird"])
    build_index([tmp_path / "00000.parquet"], tmp_path / "i0")
    build_index([tmp_path / "00001.parquet"], tmp_path / "i1")
    merge_indexes([tmp_path / "i0", tmp_path / "i1"], tmp_path / "merged")
    build_index([tmp_path / "00000.parquet", tmp_path / "00001.parquet"], tmp_path / "single")
    queries = ["cat bird", "hand", "dogs"]
    assert Bm25Searcher(tmp_path / "merged").search(queries) == Bm25Searcher(tmp_path / "single").search(
        queries
    )


def test_query_cleaning_removes_twitter_noise() -> None:
    from more_ie.search.bm25 import clean_query

    tokens = ["RT", "@", "WLWT", ":", "Bill", "Cosby", "#", "Hollywood", "https://t.co/x", "@user", "#NBA"]
    assert clean_query(tokens) == "Bill Cosby Hollywood NBA"
    # a retweet without "@", a camel-case hashtag, and a retweet cut off by an ellipsis
    tokens = "RT ChrisGibsonNews : Trudeau visits # FortMcMurray , to see th …".split()
    assert clean_query(tokens) == "Trudeau visits Fort Mc Murray , to see"
    assert clean_query(["RT", "hello"]) == "hello" and clean_query(["#"]) == ""


def test_text_self_retrieval_of_200_kc_sentences(demo_world: Path, tmp_path: Path) -> None:
    from more_ie.demo import INDEX_NAME, XML_NAME
    from more_ie.search.bm25 import Bm25Searcher, Bm25Settings, build_index
    from more_ie.wiki import build_dump_shard, build_redirects, build_text_kc
    from more_ie.wiki.sentences import strip_anchors

    build_dump_shard(
        demo_world / "wiki" / XML_NAME, demo_world / "wiki" / INDEX_NAME, 0, 1, tmp_path / "s.parquet"
    )
    build_redirects([tmp_path / "s.parquet"], tmp_path / "r.parquet")
    build_text_kc(tmp_path / "s.parquet", tmp_path / "r.parquet", 0, tmp_path / "00000.parquet")
    build_index([tmp_path / "00000.parquet"], tmp_path / "index")
    kc = pq.read_table(tmp_path / "00000.parquet").to_pandas()
    kc["plain"] = kc.sentence.map(strip_anchors)
    bags = kc.plain.map(lambda s: tuple(sorted(s.lower().split())))
    unique = kc[~bags.duplicated(keep=False)]  # a query whose exact words occur twice has no single answer
    picked = unique.sample(n=min(200, len(unique)), random_state=0)
    assert len(picked) == 200
    hits = Bm25Searcher(tmp_path / "index", Bm25Settings(k=1, threads=2)).search(picked.plain.tolist())
    assert [h[0][0] for h in hits] == picked.kc_id.tolist()


def test_image_self_retrieval_and_missing_images(tmp_path: Path) -> None:
    from more_ie.search.image_index import build_image_index, encode_kc_images, retrieve_images
    from more_ie.search.settings import ImageSearchSettings

    rng = np.random.default_rng(0)
    images = tmp_path / "kc_images"
    rows = image_kc_rows(images, 24, rng, size=48)
    (images / "broken.jpg").write_bytes(b"not an image")
    rows.append(image_kc_row(24, "broken.jpg", "B", "broken", str(images / "broken.jpg")))
    rows.append(image_kc_row(25, "gone.jpg", "G", "gone", None))
    write_image_kc(rows, tmp_path / "kc.parquet")
    clip = dataclasses.replace(TINY_CLIP, batch_size=8)
    stats = [
        encode_kc_images(
            tmp_path / "kc.parquet",
            k,
            2,
            tmp_path / f"e{k}.npy",
            tmp_path / f"i{k}.parquet",
            clip,
        )
        for k in range(2)
    ]
    assert sum(s["unreadable"] for s in stats) == 1 and sum(s["not_downloaded"] for s in stats) == 1
    assert sum(s["vectors"] for s in stats) == 24
    build_image_index(
        [tmp_path / "e0.npy", tmp_path / "e1.npy"],
        [tmp_path / "i0.parquet", tmp_path / "i1.parquet"],
        "Flat",
        tmp_path / "faiss.index",
        tmp_path / "ids.parquet",
    )
    split = [{"sample_id": i, "image": f"img{i}.png"} for i in range(24)] + [
        {"sample_id": 99, "image": "absent.jpg"}
    ]
    write_parquet(pa.Table.from_pylist(split), tmp_path / "split.parquet")
    result = retrieve_images(
        tmp_path / "split.parquet",
        images,
        tmp_path / "faiss.index",
        tmp_path / "ids.parquet",
        tmp_path / "kc.parquet",
        tmp_path / "out.parquet",
        clip,
        ImageSearchSettings(k=3),
    )
    assert result["missing"] == 1
    out = pq.read_table(tmp_path / "out.parquet").to_pandas()
    top = out[out["rank"] == 1]
    assert (top.sample_id == top.kc_id).all() and len(top) == 24
    assert top.text.tolist() == [f"value {i}" for i in top.kc_id]
    assert 99 not in set(out.sample_id)


def test_random_caches_are_seeded_and_shaped_like_real_ones(tmp_path: Path) -> None:
    from more_ie.search.bm25 import RETRIEVAL_SCHEMA
    from more_ie.search.random_kc import retrieve_random
    from more_ie.search.settings import RandomRetrievalSettings

    write_text_kc(tmp_path / "00000.parquet", 0, [f"sentence {i}" for i in range(50)])
    write_parquet(pa.Table.from_pylist([{"sample_id": i} for i in range(7)]), tmp_path / "split.parquet")
    for name in ("a", "b"):
        retrieve_random(
            tmp_path / "split.parquet",
            [tmp_path / "00000.parquet"],
            tmp_path / f"{name}.parquet",
            settings=RandomRetrievalSettings(k=5, seed=3),
        )
    a, b = pq.read_table(tmp_path / "a.parquet"), pq.read_table(tmp_path / "b.parquet")
    assert a.schema.remove_metadata() == RETRIEVAL_SCHEMA and a.equals(b)
    df = a.to_pandas()
    assert df.groupby("sample_id").kc_id.nunique().eq(5).all()
    retrieve_random(
        tmp_path / "split.parquet",
        [tmp_path / "00000.parquet"],
        tmp_path / "c.parquet",
        settings=RandomRetrievalSettings(k=5, seed=4),
    )
    assert not pq.read_table(tmp_path / "c.parquet").equals(a)


def test_faiss_search_parameters_reach_the_index() -> None:
    """retrieval.image.faiss_search sets nprobe (IVF) / efSearch (HNSW); a wrong one names the key."""
    import faiss

    from more_ie.search.image_index import set_search_parameters

    vectors = np.random.default_rng(0).standard_normal((400, 16)).astype("float32")
    ivf = faiss.index_factory(16, "IVF8,Flat", faiss.METRIC_INNER_PRODUCT)
    ivf.train(vectors)
    set_search_parameters(ivf, "nprobe=5")
    assert faiss.extract_index_ivf(ivf).nprobe == 5
    hnsw = faiss.index_factory(16, "HNSW8", faiss.METRIC_INNER_PRODUCT)
    set_search_parameters(hnsw, "efSearch=77")
    assert hnsw.hnsw.efSearch == 77
    flat = faiss.index_factory(16, "Flat", faiss.METRIC_INNER_PRODUCT)
    set_search_parameters(flat, "")  # nothing to set: exact search
    with pytest.raises(ValueError, match=r"retrieval\.image\.faiss_search: 'nprobe=4'"):
        set_search_parameters(flat, "nprobe=4")
