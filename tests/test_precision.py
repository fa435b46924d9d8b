"""Numeric precision (more_ie.utils.precision): what auto picks, the autocast blocks, the scaler,
and CLIP under bf16 autocast on a CPU. The experts' bf16 test is in tests/test_experts.py."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from more_ie.utils.precision import autocast, grad_scaler, resolve_precision, setup_precision

CPU = torch.device("cpu")


def test_auto_is_fp32_on_a_cpu_and_explicit_choices_are_kept() -> None:
    assert resolve_precision("auto", CPU) == "fp32"
    assert [resolve_precision(p, CPU) for p in ("fp32", "bf16", "fp16")] == ["fp32", "bf16", "fp16"]
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("fp8", CPU)


@pytest.mark.parametrize(
    "precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)]
)
def test_autocast_runs_matmuls_in_the_precision(precision: str, dtype: torch.dtype) -> None:
    layer = torch.nn.Linear(8, 4)
    with autocast(precision, CPU):
        out = layer(torch.randn(2, 8))
    assert out.dtype == dtype and layer.weight.dtype == torch.float32  # the weights stay fp32


def test_the_grad_scaler_scales_for_fp16_only() -> None:
    assert grad_scaler("fp16", CPU).is_enabled()
    assert not grad_scaler("bf16", CPU).is_enabled() and not grad_scaler("fp32", CPU).is_enabled()


def test_the_log_says_which_precision_runs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="more_ie.utils.precision"):
        assert setup_precision("bf16", CPU, "CLIP tiny") == "bf16"
    assert "CLIP tiny: precision bf16 (autocast) on cpu" in caplog.text


def test_clip_under_bf16_autocast_gives_fp32_unit_vectors_close_to_fp32s() -> None:
    from more_ie.search.clip import ClipEncoder, ClipSpec

    full = ClipEncoder(ClipSpec("tiny-demo", None, "cpu", precision="fp32"))
    half = ClipEncoder(ClipSpec("tiny-demo", None, "cpu", precision="bf16"))
    size = full.model.visual.image_size
    images = torch.rand(4, 3, *(size if isinstance(size, tuple) else (size, size)))
    assert half.precision == "bf16" and full.precision == "fp32"
    a, b = full.encode_image_tensors(images), half.encode_image_tensors(images)
    assert b.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    # bf16 keeps 8 bits of mantissa: the same direction, to about 1e-2
    assert np.min(np.sum(a * b, axis=1)) > 0.99
    texts = full.encode_texts(["a cat", "a city"]), half.encode_texts(["a cat", "a city"])
    assert np.min(np.sum(texts[0] * texts[1], axis=1)) > 0.99


@pytest.mark.gpu
def test_auto_is_bf16_on_a_cuda_device_that_has_it() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device (torch.cuda.is_available() is False)")
    cuda = torch.device("cuda")
    expected = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    assert resolve_precision("auto", cuda) == expected
    layer = torch.nn.Linear(8, 4).to(cuda)
    with autocast("bf16", cuda):
        assert layer(torch.randn(2, 8, device=cuda)).dtype == torch.bfloat16
    assert setup_precision("fp32", cuda, "test") == "fp32" and torch.backends.cuda.matmul.allow_tf32
