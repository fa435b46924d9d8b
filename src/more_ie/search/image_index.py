"""Image retrieval: CLIP embeddings of the image KC in a Faiss inner-product index.

* ``encode_kc_images``: one shard of the image KC (rows whose file was downloaded), encoded once
  per distinct file, written as L2-normalized float32 ``.npy`` plus an ids Parquet (row -> image_id).
  A file shared by several articles yields one vector per KC row, so every hit is one KC row.
* ``build_image_index``: the shards in one index from a Faiss index-factory string. ``Flat`` is
  exact inner product (the paper); ``IVF4096,PQ64`` / ``HNSW32`` scale to millions of images
  (trained on the vectors themselves). Built and searched on the GPUs where
  ``retrieval.image.faiss_device`` asks for them (``auto``: when the installed Faiss has GPU
  support and sees a GPU); the written index is always a CPU index.
* ``retrieve_images``: each dataset image, encoded by the same CLIP, gets the top-k KC rows;
  samples without an image file get no rows (counted and logged). Image names come from the
  dataset and are joined to ``images_dir`` only through ``safe_child`` (never outside it).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from more_ie.search.bm25 import RETRIEVAL_SCHEMA
from more_ie.search.settings import ClipSettings, FaissIndexSettings, ImageSearchSettings
from more_ie.utils import ProgressLog, atomic_path, image_file, write_parquet

logger = logging.getLogger(__name__)

IDS_SCHEMA = pa.schema([pa.field("image_id", pa.int64(), nullable=False)])


def _save_npy(array: np.ndarray, path: str | Path) -> None:
    with atomic_path(path, suffix=".npy") as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, array.astype(np.float32, copy=False))


def encode_kc_images(
    image_kc: str | Path,
    shard: int,
    n_shards: int,
    emb_out: str | Path,
    ids_out: str | Path,
    clip: ClipSettings = ClipSettings(),
) -> dict[str, int]:
    from more_ie.search.clip import ClipEncoder  # torch and open_clip: only the commands that encode

    batch_size, workers, spec = clip.batch_size, clip.workers, clip.spec()
    table = pq.read_table(image_kc, columns=["image_id", "file", "local_path"]).to_pandas()
    table = table[table.index % n_shards == shard]
    have = table[table.local_path.notna()]
    files = sorted(set(have.local_path))
    encoder = ClipEncoder(spec)
    vectors: dict[str, np.ndarray] = {}
    unreadable = 0
    progress = ProgressLog(
        logger, f"CLIP shard {shard}: images", total=len(files), every=max(batch_size * 10, 1)
    )
    start = time.perf_counter()
    for indices, embeddings, bad in encoder.encode_image_files(files, batch_size, workers):
        for i, vector in zip(indices, embeddings):
            vectors[files[i]] = vector
        unreadable += len(bad)
        progress.update(len(indices) + len(bad))
    progress.close()
    elapsed = time.perf_counter() - start
    rows = have[have.local_path.isin(vectors)]
    dim = next(iter(vectors.values())).shape[0] if vectors else encoder.dim
    matrix = np.stack([vectors[p] for p in rows.local_path]) if len(rows) else np.zeros((0, dim), np.float32)
    _save_npy(matrix, emb_out)
    write_parquet(pa.table({"image_id": rows.image_id.to_numpy()}, schema=IDS_SCHEMA), ids_out)
    stats = {
        "kc_rows": len(table),
        "not_downloaded": int(table.local_path.isna().sum()),
        "files": len(files),
        "unreadable": unreadable,
        "vectors": len(rows),
    }
    logger.info(
        "CLIP shard %d/%d: %s; %.1f images/s", shard, n_shards, stats, len(files) / max(elapsed, 1e-9)
    )
    return stats


def set_search_parameters(index, params: str, where: str = "retrieval.image.faiss_search") -> None:  # type: ignore[no-untyped-def]
    """Apply Faiss search-time parameters, e.g. ``nprobe=16`` (IVF) or ``efSearch=128`` (HNSW),
    comma-separated, as ``faiss.ParameterSpace`` reads them. Empty: the index's own defaults
    (nprobe 1, efSearch 16), which lose recall on IVF and HNSW indexes (bench/RESULTS.md)."""
    import faiss

    if not params:
        return
    try:
        faiss.ParameterSpace().set_index_parameters(index, params)
    except RuntimeError as err:
        raise ValueError(f"{where}: {params!r} does not apply to this index ({err})") from None
    logger.info("Faiss search parameters: %s", params)


def faiss_gpus() -> int:
    """GPUs the installed Faiss can use: 0 for the CPU wheel (no StandardGpuResources)."""
    import faiss

    if not hasattr(faiss, "StandardGpuResources") or not hasattr(faiss, "get_num_gpus"):
        return 0
    return int(faiss.get_num_gpus())


def to_faiss_device(index, device: str, search_params: str = ""):  # type: ignore[no-untyped-def]
    """``index`` on the device that ``device`` (auto | cpu | cuda) names, with ``search_params``
    applied there. A GPU copy lives on every GPU the job sees (CUDA_VISIBLE_DEVICES: one under the
    gpu profiles), exact Flat search stays exact (fp32 vectors, no fp16 lookup tables). ``auto`` keeps
    an index type that Faiss cannot move to a GPU (HNSW) on the CPU; ``cuda`` fails instead."""
    import faiss

    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"retrieval.image.faiss_device must be auto, cpu or cuda, got {device!r}")
    gpus = 0 if device == "cpu" else faiss_gpus()
    if device == "cuda" and gpus == 0:
        raise RuntimeError(
            "retrieval.image.faiss_device is cuda, but the installed Faiss "
            + ("sees no GPU" if hasattr(faiss, "StandardGpuResources") else "has no GPU support")
            + " (pip install '.[gpu]' replaces faiss-cpu with the GPU wheel: README)"
        )
    if gpus == 0:
        set_search_parameters(index, search_params)
        logger.info("Faiss on the CPU (faiss_device %s)", device)
        return index
    try:
        work = faiss.index_cpu_to_all_gpus(index)
    except RuntimeError as err:  # e.g. HNSW, which has no GPU implementation
        if device == "cuda":
            raise
        logger.warning("Faiss: %s cannot run on a GPU (%s); searching on the CPU", type(index).__name__, err)
        set_search_parameters(index, search_params)
        return index
    if search_params:
        # GPU indexes take their search-time parameters through GpuParameterSpace
        try:
            faiss.GpuParameterSpace().set_index_parameters(work, search_params)
        except RuntimeError as err:
            raise ValueError(
                f"retrieval.image.faiss_search: {search_params!r} does not apply to this GPU index ({err})"
            ) from None
        logger.info("Faiss search parameters: %s", search_params)
    logger.info("Faiss on %d GPU(s) (faiss_device %s)", gpus, device)
    return work


def build_image_index(
    emb_paths: Sequence[str | Path],
    ids_paths: Sequence[str | Path],
    factory: str,
    index_out: str | Path,
    ids_out: str | Path,
    device: str = FaissIndexSettings().faiss_device,
) -> int:
    import faiss

    matrix = np.concatenate([np.load(p) for p in emb_paths]).astype(np.float32)
    ids = pa.concat_tables([pq.read_table(p) for p in ids_paths])
    if matrix.shape[0] != ids.num_rows:
        raise ValueError(
            f"{len(emb_paths)} embedding shards hold {matrix.shape[0]} vectors but ids list {ids.num_rows}"
        )
    if matrix.shape[0] == 0:
        raise ValueError("no image embeddings to index: were any image-KC files downloaded?")
    index = faiss.index_factory(matrix.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    work = to_faiss_device(index, device)
    if not work.is_trained:
        logger.info("Faiss %s: training on %d vectors", factory, matrix.shape[0])
        work.train(matrix)
    work.add(matrix)
    if work is not index:
        index = faiss.index_gpu_to_cpu(work)
    with atomic_path(index_out, suffix=".faiss") as tmp:
        faiss.write_index(index, str(tmp))
    write_parquet(ids, ids_out)
    logger.info(
        "Faiss index %s (%s): %d vectors of dim %d", index_out, factory, index.ntotal, matrix.shape[1]
    )
    return int(index.ntotal)


def retrieve_images(
    split: str | Path,
    images_dir: str | Path | None,
    index_path: str | Path,
    ids_path: str | Path,
    image_kc: str | Path,
    out: str | Path,
    clip: ClipSettings = ClipSettings(),
    search: ImageSearchSettings = ImageSearchSettings(),
) -> dict[str, float]:
    # torch (ClipEncoder's module) before faiss: the order this command always imported them in
    from more_ie.search.clip import ClipEncoder  # noqa: I001

    import faiss

    batch_size, workers, spec = clip.batch_size, clip.workers, clip.spec()
    k, search_params = search.k, search.faiss_search
    samples = pq.read_table(split, columns=["sample_id", "image"]).to_pylist()
    paths, owners = [], []
    for sample in samples:
        # image_file refuses names that leave images_dir (dataset-supplied: "../x", "/etc/passwd"),
        # exactly as check-images does, so both count the same images as missing.
        path = image_file(images_dir, sample["image"])
        if path is not None:
            paths.append(path)
            owners.append(sample["sample_id"])
    missing = len(samples) - len(paths)
    index = to_faiss_device(faiss.read_index(str(index_path)), search.faiss_device, search_params)
    row_to_image = pq.read_table(ids_path).column("image_id").to_numpy()
    kc = pq.read_table(image_kc, columns=["image_id", "value"])
    values = dict(zip(kc.column("image_id").to_pylist(), kc.column("value").to_pylist()))
    encoder = ClipEncoder(spec)
    columns: dict[str, list] = {name: [] for name in RETRIEVAL_SCHEMA.names}
    unreadable = 0
    start = time.perf_counter()
    for indices, embeddings, bad in encoder.encode_image_files(paths, batch_size, workers):
        unreadable += len(bad)
        if not indices:
            continue
        scores, rows = index.search(embeddings, min(k, index.ntotal))
        for i, score_row, hit_row in zip(indices, scores, rows):
            for rank, (score, row) in enumerate(((s, r) for s, r in zip(score_row, hit_row) if r >= 0), 1):
                image_id = int(row_to_image[row])
                columns["sample_id"].append(owners[i])
                columns["rank"].append(rank)
                columns["kc_id"].append(image_id)
                columns["score"].append(float(score))
                columns["text"].append(values[image_id])
    elapsed = time.perf_counter() - start
    write_parquet(
        pa.table(columns, schema=RETRIEVAL_SCHEMA),
        out,
        metadata={
            "more_ie.view": "image",
            "more_ie.k": str(k),
            "more_ie.clip": f"{spec.arch}/{spec.pretrained}",
            "more_ie.clip_precision": encoder.precision,
        },
    )
    rate = len(paths) / max(elapsed, 1e-9)
    logger.info(
        "image retrieval %s: %d of %d samples have an image (%d missing, %d unreadable); %.1f images/s",
        split,
        len(paths),
        len(samples),
        missing,
        unreadable,
        rate,
    )
    return {
        "samples": len(samples),
        "with_image": len(paths),
        "missing": missing,
        "unreadable": unreadable,
        "images_per_s": rate,
    }
