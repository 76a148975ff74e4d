"""The number format HandMDM's layers run in while sampling.

HandMDM's float32 linear layers already run at the cores' peak on a CPU (issue 21: 211-216
GFLOPS on 2 EPYC cores at the model's sizes), so classifier-free guidance's two halves cost
nearly twice one half however they are batched. A CPU that does bfloat16 dot products in
hardware (AVX512-BF16, AMX) runs the same linear layers about 4x faster in bfloat16 (838
GFLOPS measured on those cores). There sampling runs the model under ``torch.autocast``:
matrix products in bfloat16, layer norms, softmax, the step embedding and the sampler's own
arithmetic in float32 (the weights stay float32). Where bfloat16 would be emulated (other
CPUs, Apple's MPS) or is not supported, everything stays float32.

``SIGNFORGE_PRECISION``: ``auto`` (the default, as above), ``float32`` or ``bfloat16``
(bfloat16 anywhere torch supports it, however slow).
"""
from __future__ import annotations

import os
import sys

ENV = "SIGNFORGE_PRECISION"
CHOICES = ("auto", "float32", "bfloat16")


def native_bfloat16(device_type: str) -> bool:
    """Whether ``device_type``'s bfloat16 matrix products run in hardware: a CUDA device that
    supports bfloat16, or a CPU with AVX512-BF16 or AMX-BF16 (torch's own CPU feature probe)."""
    import torch

    if device_type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device_type != "cpu":
        return False
    try:
        caps = torch._C._cpu._get_cpu_capability()
    except (AttributeError, RuntimeError):   # an older or stripped torch: no probe, no claim
        return False
    return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))


def requested() -> str:
    """``SIGNFORGE_PRECISION`` (``auto`` when unset; a value it does not name is warned of on
    stderr and read as ``auto``)."""
    raw = os.environ.get(ENV, "").strip().lower() or "auto"
    if raw not in CHOICES:
        sys.stderr.write(f"warning: {ENV}={raw!r} is not one of {', '.join(CHOICES)}; using auto\n")
        return "auto"
    return raw


def autocast_dtype(device_type: str, precision: str | None = None):
    """The dtype sampling's layers run in on ``device_type`` (torch.bfloat16), or None for
    float32. ``precision``: one of ``CHOICES``; None reads ``SIGNFORGE_PRECISION``."""
    import torch

    precision = requested() if precision is None else precision
    if precision not in CHOICES:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(CHOICES)}")
    if precision == "float32" or device_type not in ("cpu", "cuda"):
        return None
    if precision == "bfloat16" or native_bfloat16(device_type):
        return torch.bfloat16
    return None
