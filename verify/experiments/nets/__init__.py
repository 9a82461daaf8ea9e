"""Real architectures in PyTorch (optional extra ``kernel-flows[nets]``): models, training, autodiff instruments.

The modules import PyTorch and are not imported here, so ``verify`` works without it; importing one without
PyTorch raises an ImportError naming the extra; :func:`verify.experiments.nets.backend.torch_available` (which
imports nothing heavy) says whether they can be used.

- :mod:`~verify.experiments.nets.backend`: availability, devices, float64;
- :mod:`~verify.experiments.nets.models`: MLPs of depth 2–6, 1-D and 2-D CNNs, a transformer encoder, each a
  body φ(x) ∈ ℝ^m and a linear readout W (C × m);
- :mod:`~verify.experiments.nets.training`: GD, SGD with momentum, AdamW; batch sizes; learning-rate schedules;
  the kernel K = ΦᵀΦ of a probe set recorded along training;
- :mod:`~verify.experiments.nets.instruments`: exact Hessian-vector products and per-sample gradients by
  ``torch.func``, Hessian outliers by Lanczos.
"""
