"""Whether PyTorch is there, which device to use, and the import that names the extra when it is not.

Nothing here imports PyTorch at module import time, so :func:`torch_available` answers without it.

>>> isinstance(torch_available(), bool)
True
"""
from __future__ import annotations

import importlib.util

#: the optional extra that brings PyTorch (and MNIST-1D's generator)
EXTRA = "nets"
DEVICES = ("cpu", "cuda", "auto")


def torch_available() -> bool:
    """True when PyTorch can be imported."""
    return importlib.util.find_spec("torch") is not None


def require_torch():
    """The ``torch`` module, or an ImportError naming the extra to install."""
    try:
        import torch
    except ImportError as exc:  # the optional extra
        raise ImportError(f"the real-architecture experiments need PyTorch: pip install 'kernel-flows[{EXTRA}]' "
                          "(a CPU wheel is enough)") from exc
    return torch


def device_for(name: str = "cpu"):
    """``torch.device`` for "cpu", "cuda" (ValueError when CUDA is absent) or "auto" (CUDA when present)."""
    torch = require_torch()
    if name not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' was asked for but PyTorch sees no CUDA device; use device='cpu'")
    return torch.device(name)
