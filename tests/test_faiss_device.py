"""retrieval.image.faiss_device: auto | cpu | cuda. On a CPU (the default install, CI) what each
choice does without a GPU; where CUDA and the GPU wheel exist (pip install .[gpu]), that GPU Flat
search returns the neighbours CPU Flat search returns."""

from __future__ import annotations

import numpy as np
import pytest

faiss = pytest.importorskip("faiss")


def _vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)  # unit vectors, as CLIP's


def _flat(base: np.ndarray):  # type: ignore[no-untyped-def]
    index = faiss.index_factory(base.shape[1], "Flat", faiss.METRIC_INNER_PRODUCT)
    index.add(base)
    return index


def _gpu_skip_reason() -> str | None:
    import torch

    if not torch.cuda.is_available():
        return "no CUDA device (torch.cuda.is_available() is False)"
    if not hasattr(faiss, "StandardGpuResources"):
        return "the installed Faiss has no GPU support (faiss-cpu; pip install .[gpu] for faiss-gpu)"
    return None


def test_cpu_and_auto_search_on_the_cpu_without_a_gpu() -> None:
    from more_ie.search.image_index import faiss_gpus, to_faiss_device

    index = _flat(_vectors(100, 16, 0))
    assert to_faiss_device(index, "cpu") is index
    if faiss_gpus() == 0:
        assert to_faiss_device(index, "auto") is index


def test_cuda_without_gpu_faiss_is_an_error_that_says_how_to_get_it() -> None:
    from more_ie.search.image_index import faiss_gpus, to_faiss_device

    if faiss_gpus() > 0:
        pytest.skip("this Faiss sees a GPU")
    with pytest.raises(RuntimeError, match=r"faiss_device is cuda.*pip install '\.\[gpu\]'"):
        to_faiss_device(_flat(_vectors(10, 8, 0)), "cuda")
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        to_faiss_device(_flat(_vectors(10, 8, 0)), "tpu")


def test_search_parameters_still_apply_on_the_cpu() -> None:
    from more_ie.search.image_index import to_faiss_device

    base = _vectors(2000, 16, 1)
    index = faiss.index_factory(16, "IVF8,Flat", faiss.METRIC_INNER_PRODUCT)
    index.train(base)
    index.add(base)
    assert faiss.extract_index_ivf(to_faiss_device(index, "cpu", "nprobe=4")).nprobe == 4


@pytest.mark.gpu
def test_gpu_flat_search_returns_the_cpu_flat_neighbours() -> None:
    reason = _gpu_skip_reason()
    if reason:
        pytest.skip(reason)
    from more_ie.search.image_index import to_faiss_device

    base, queries = _vectors(50_000, 512, 2), _vectors(1_000, 512, 3)
    cpu = _flat(base)
    cpu_scores, cpu_ids = cpu.search(queries, 10)
    gpu = to_faiss_device(_flat(base), "cuda")
    assert "Gpu" in type(gpu).__name__ or "Replicas" in type(gpu).__name__, type(gpu)
    gpu_scores, gpu_ids = gpu.search(queries, 10)
    # the same neighbours in the same order; a swap of two neighbours whose scores tie to float
    # rounding (different summation order on the GPU) is the only difference allowed
    same = gpu_ids == cpu_ids
    ties = np.isclose(gpu_scores, cpu_scores, atol=1e-5)
    assert np.all(same | ties), f"{(~(same | ties)).sum()} of {same.size} neighbours differ"
    np.testing.assert_allclose(gpu_scores, cpu_scores, atol=1e-4)


@pytest.mark.gpu
def test_an_index_built_on_the_gpu_is_written_as_a_cpu_index(tmp_path) -> None:  # type: ignore[no-untyped-def]
    reason = _gpu_skip_reason()
    if reason:
        pytest.skip(reason)
    import pyarrow as pa
    import pyarrow.parquet as pq

    from more_ie.search.image_index import build_image_index

    base = _vectors(5_000, 64, 4)
    np.save(tmp_path / "emb.npy", base)
    pq.write_table(pa.table({"image_id": np.arange(len(base), dtype=np.int64)}), tmp_path / "ids.parquet")
    out = tmp_path / "faiss.index"
    build_image_index(
        [tmp_path / "emb.npy"], [tmp_path / "ids.parquet"], "Flat", out, tmp_path / "o.parquet", "cuda"
    )
    index = faiss.read_index(str(out))
    assert index.ntotal == len(base)
    np.testing.assert_array_equal(index.search(base[:20], 1)[1][:, 0], np.arange(20))
