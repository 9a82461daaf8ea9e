"""Network experiments reported (not judged) next to the claims: how far real training goes.

- :func:`tracking_errors`: GD on the fixed-feature network against the integrated coupled flow,
  for halving learning rates (the error should halve: GD is the flow's explicit Euler scheme);
- :func:`two_layer_kernel_ranks`: the last-hidden-layer kernel of two-layer networks (ReLU and
  linear hidden layer) trained by GD and SGD with weight decay on a Gaussian mixture, as numerical
  rank, effective rank and trace fraction outside the top-C eigenspace, against C. The theory (T5)
  proves nothing here (T10 is an empirical question); these are measurements.
"""
from __future__ import annotations

import numpy as np

import theory
from verify.experiments.networks import (
    FixedFeatures,
    TwoLayer,
    kernel_flow_tracking_error,
    kernel_rank_report,
    train,
)
from verify.truth import instances


def tracking_errors(seed: int = 0, rates=(0.01, 0.005, 0.0025)) -> list[dict]:
    """max_k ‖K_net(kη) − K_flow(kη)‖/‖K_flow‖ over t ∈ [0, 2] for each learning rate η (n=12, p=8, m=10, C=2)."""
    rows = []
    for lr in rates:
        rng = np.random.default_rng(seed)
        X, Y = instances.gaussian_mixture(rng, 12, 2, 5)
        model = FixedFeatures.random(rng, 5, 8, 10, 2, 0.3, 0.3)
        error = kernel_flow_tracking_error(model, X, Y, lr=lr, steps=int(round(2.0 / lr)))
        rows.append({"lr": lr, "max relative kernel error": error})
    return rows


def two_layer_kernel_ranks(seed: int = 0, *, classes=(2, 3, 5), width: int = 64, n: int = 60, steps: int = 40000,
                           decay: float = 0.05, lr: float = 1e-3) -> list[dict]:
    """Rank reports of the trained last-hidden-layer kernel for ReLU/linear hidden layers, GD and SGD
    (inputs: a Gaussian mixture in d = 10 scaled by 1/√d; weight decay ``decay`` on every layer)."""
    rows = []
    for C in classes:
        for activation in ("relu", "linear"):
            for batch in (None, 10):
                rng = np.random.default_rng([seed, C])
                X, Y = instances.gaussian_mixture(rng, n, C, 10)
                X = X / np.sqrt(10)
                model = TwoLayer.random(rng, 10, width, C, decay, decay, activation)
                record = train(model, theory.losses.squared(C), X, Y, steps=steps, lr=lr, batch_size=batch,
                               seed=seed)
                report = kernel_rank_report(record.kernels[-1], C)
                rows.append({"C": C, "hidden": activation, "training": "GD" if batch is None else f"SGD (batch {batch})",
                             "numerical rank": report.numerical_rank, "effective rank": round(report.effective_rank, 3),
                             "trace outside top-C": float(report.outside_top_C), "final loss": float(record.losses[-1])})
    return rows


def per_sample_gradients(model, loss, X, Y) -> np.ndarray:
    """n × D matrix: row i = ∂ℓ(f_i, y_i)/∂θ over all parameters θ (weight decay excluded)."""
    from verify.experiments.networks import minibatch_gradient

    n = Y.shape[1]
    decays = model.decays()
    rows = []
    for i in range(n):
        full = minibatch_gradient(model, loss, X, Y, np.array([i]))  # n·∇ℓ_i + decay·θ
        rows.append(np.concatenate([((full[k] - decays[k] * getattr(model, k)) / n).ravel()
                                    for k in model.parameter_names]))
    return np.array(rows)


def outlier_count(eigenvalues: np.ndarray, search: int) -> int:
    """Outliers above the bulk: the position of the largest ratio between consecutive eigenvalues among
    the top ``search`` (descending, positive). A plain, stated rule, not tuned to any expected count."""
    values = np.sort(eigenvalues[eigenvalues > 0])[::-1][: search + 1]
    if values.size < 2:
        return int(values.size)
    ratios = values[:-1] / values[1:]
    return int(np.argmax(ratios) + 1)


def gradient_noise_outliers(seed: int = 0, *, classes=(2, 3, 5), width: int = 64, n: int = 60, steps: int = 20000,
                            decay: float = 0.05, lr: float = 1e-3) -> list[dict]:
    """Per-sample gradient covariance (parameter space) of trained two-layer ReLU networks: spectrum head and
    outlier count against C (Gur-Ari et al. 2018; Papyan 2019 report about C). Measured, not judged."""
    rows = []
    for C in classes:
        rng = np.random.default_rng([seed, C])
        X, Y = instances.gaussian_mixture(rng, n, C, 10)
        X = X / np.sqrt(10)
        model = TwoLayer.random(rng, 10, width, C, decay, decay, "relu")
        for loss in (theory.losses.squared(C), theory.losses.softmax_cross_entropy(C)):
            trained = train(model, loss, X, Y, steps=steps, lr=lr, seed=seed).model
            P = per_sample_gradients(trained, loss, X, Y)
            centred = P - P.mean(axis=0)
            eig = np.linalg.svd(centred, compute_uv=False) ** 2 / n  # nonzero eigenvalues of the D × D covariance
            rows.append({"C": C, "loss": loss.name, "parameters": P.shape[1],
                         "outliers (largest gap in top 3C)": outlier_count(eig, 3 * C),
                         "top eigenvalues / 1st": ", ".join(f"{x:.2g}" for x in eig[: 2 * C + 2] / eig[0])})
    return rows
