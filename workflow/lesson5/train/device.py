"""Where and in what precision a fit runs."""

from __future__ import annotations

import torch

from lesson5.errors import PipelineError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise PipelineError("device 'cuda' was asked for but torch sees no GPU; use device: auto or cpu")
    return torch.device(name)


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux's /proc/cpuinfo; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next((set(line.split(":", 1)[1].split()) for line in f if line.startswith("flags")), set())
    except OSError:
        return set()


def resolve_precision(name: str, device: torch.device) -> str:
    """auto: bf16 where the hardware computes it natively (a CUDA GPU that supports it, a CPU with
    AVX512-BF16 or AMX), else fp32. Emulated bf16 would be slower than fp32."""
    if name == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        return "bf16" if cpu_flags() & {"avx512_bf16", "amx_bf16"} else "fp32"
    if name not in ("fp32", "bf16"):
        raise PipelineError(f"precision {name!r}: use fp32, bf16 or auto")
    return name
