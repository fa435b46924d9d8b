"""Numeric precision of a torch stage (experts, CLIP, predict): fp32, or bf16 / fp16 autocast.

Autocast rather than casting the model: the weights and the optimizer state stay fp32, so small
updates are not lost; matmuls and convolutions run in the low precision, and torch itself keeps
softmax, layer norm and reductions in fp32. fp16's narrow exponent range underflows gradients,
so fp16 training adds a GradScaler; bf16 has fp32's range and needs none. Whatever runs outside
the autocast block (the CRF's forward-backward, the losses, the exported distributions) is fed
fp32 values: callers cast the scores with ``.float()`` when they leave the block.

``auto`` is bf16 on a CUDA device that supports it (Ampere and later) and fp32 everywhere else,
CPUs included: fp32 keeps every CPU result as it was, and bf16 pays on a CPU only where it has
native bf16 instructions (AVX512-BF16 / AMX); ``bench/RESULTS.md`` (issue 22) has the measurement.

Import-light: the settings modules import the choices and help from here without torch.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, ContextManager

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

PRECISIONS = ["auto", "fp32", "bf16", "fp16"]
PRECISION_HELP = (
    "Numeric precision: auto (bf16 on a CUDA device that supports it, else fp32), fp32, bf16 or fp16 "
    "(autocast; fp16 training adds a GradScaler); CRF and exported distributions stay fp32."
)


def resolve_precision(name: str, device: "torch.device") -> str:
    """``fp32``, ``bf16`` or ``fp16`` for ``name`` on ``device`` (``auto`` decided here)."""
    import torch

    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {name!r}")
    cuda = device.type == "cuda"
    if name == "auto":
        return "bf16" if cuda and torch.cuda.is_bf16_supported() else "fp32"
    if name == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        # pre-Ampere GPUs emulate bf16: it runs, slowly; fp16 is the fast choice there
        logger.warning("precision bf16 on %s, which has no native bf16: expect it to be slow", device)
    return name


def _dtype(precision: str) -> "torch.dtype":
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast(precision: str, device: "torch.device") -> ContextManager:
    """The autocast block of a resolved precision (fp32: no autocast at all)."""
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_dtype(precision))


def grad_scaler(precision: str, device: "torch.device") -> "torch.amp.GradScaler":
    """A GradScaler that scales only for fp16 (disabled, a pass-through, otherwise)."""
    import torch

    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


def allow_tf32(device: "torch.device") -> bool:
    """Let fp32 matmuls and convolutions use TF32 tensor cores on CUDA (Ampere and later): the
    fp32 parts of a run (all of it under fp32) then run several times faster, with a 10-bit
    mantissa in the products and fp32 accumulation. True if it was switched on."""
    import torch

    if device.type != "cuda":
        return False
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    return True


def setup_precision(name: str, device: "torch.device", what: str) -> str:
    """Resolve ``name`` on ``device``, allow TF32 there, and log what ``what`` runs in."""
    precision = resolve_precision(name, device)
    tf32 = allow_tf32(device)
    logger.info(
        "%s: precision %s%s on %s%s",
        what,
        precision,
        " (autocast)" if precision != "fp32" else "",
        device,
        ", TF32 matmuls allowed" if tf32 else "",
    )
    return precision
