"""T10 experiments: trained two-layer networks on real and synthetic data, measured against the theory.

Nothing here is proved by the theory; each experiment returns numbers, a figure spec and a
:class:`verify.findings.Finding` whose rule is fixed in advance. The learning rate follows one stated
rule, η = LR_SCALE / n (the objective is a sum over n samples, so its curvature grows like n), and is
never adjusted to a result. Networks of width m > REFERENCE_WIDTH start at the scale √(REFERENCE_WIDTH/m) (both layers), so
that K(0) = ΦᵀΦ, a sum over m units, has the same size at every width; without it the curvature, and
the stable step, would change with m.

- :func:`training_study`: the last-hidden-layer kernel K = ΦᵀΦ along training (numerical rank,
  effective rank, trace fraction outside the top-C eigenspace) and the neural-collapse metrics of
  :mod:`verify.collapse` (Papyan, Han and Donoho 2020);
- :func:`hessian_study`: the Hessian's top 3C eigenvalues, the outlier count (largest gap rule of
  :func:`verify.experiments.outlier_count`) and the gradient's overlap with the top-C eigenvectors
  (Gur-Ari, Roberts and Dyer 2018), plus the same outlier count for the per-sample gradient covariance
  (the SGD noise of T7, in parameter space);
- :func:`tracking_study`: GD on the fixed-feature model over the data against the integrated coupled
  flow for halving learning rates (GD is its explicit Euler scheme: the error must halve).
"""
from __future__ import annotations

import numpy as np

import theory
from verify import findings, hessian
from verify.collapse import collapse_metrics
from verify.experiments import outlier_count, per_sample_gradients
from verify.networks import FixedFeatures, TwoLayer, kernel_flow_tracking_error, kernel_rank_report, train
from verify.tolerances import TOL

#: η = LR_SCALE / n for every network experiment (stable for inputs of mean squared norm 1)
LR_SCALE = 1.0
#: initial scale √(REFERENCE_WIDTH / m) above this width: the kernel at initialisation stops growing with m
REFERENCE_WIDTH = 256


def _loss(name: str, C: int):
    if name == "squared":
        return theory.losses.squared(C)
    if name == "cross-entropy":
        return theory.losses.softmax_cross_entropy(C)
    raise ValueError(f"loss must be 'squared' or 'cross-entropy', got {name!r}")


def training_study(data, *, activation: str = "relu", width: int = 256, decay: float = 1.0, steps: int = 2000,
                   records: int = 8, batch_size: int | None = None, loss: str = "squared", seed: int = 0) -> dict:
    """Train TwoLayer(``activation``, ``width``) with weight decay ``decay`` on every layer by GD (or SGD with
    ``batch_size``) for ``steps`` steps of η = LR_SCALE/n on ``data`` (a :class:`verify.data.Dataset`, inputs
    normalised) and measure the kernel spectrum and the collapse metrics at ``records`` + 1 points."""
    C, n = data.C, data.n
    model = TwoLayer.random(np.random.default_rng([seed, width]), data.X.shape[0], width, C, decay, decay, activation,
                            scale=min(1.0, np.sqrt(REFERENCE_WIDTH / width)))
    record = train(model, _loss(loss, C), data.X, data.Y, steps=steps, lr=LR_SCALE / n, batch_size=batch_size,
                   seed=seed, record_every=max(1, steps // records),
                   observe=lambda m: (collapse_metrics(m.features(data.X), data.labels, C, m.W), m))
    metrics = [o[0] for o in record.observations]
    reports = [kernel_rank_report(K, C) for K in record.kernels]
    series = {
        "step": [int(s) for s in record.steps],
        "numerical rank": [r.numerical_rank for r in reports],
        "effective rank": [r.effective_rank for r in reports],
        "outside top-C": [r.outside_top_C for r in reports],
        "NC1": [o.nc1 for o in metrics],
        "cosine deviation": [o.cosine_deviation for o in metrics],
        "NCC agreement": [o.ncc_agreement for o in metrics],
        "objective": [float(x) for x in record.losses],
    }
    training = "GD" if batch_size is None else f"SGD (batch {batch_size})"
    label = f"{data.name}, {activation}, width {width}, decay {decay:g}, {training}, {loss}"
    last, first, end = reports[-1], metrics[0], metrics[-1]
    rank = findings.rank_finding(f"{label}: last-layer kernel rank ≤ C", numerical_rank=last.numerical_rank,
                                 effective_rank=last.effective_rank, outside_top_C=last.outside_top_C, C=C)
    collapse = findings.graded(
        f"{label}: neural collapse (NC1 → 0)", exact=end.nc1 <= TOL.rank_rtol, defect=end.nc1,
        observed=(f"NC1 {first.nc1:.3g} → {end.nc1:.3g}; class-mean cosines deviate from −1/(C−1) by "
                  f"{first.cosine_deviation:.3g} → {end.cosine_deviation:.3g}; readout agrees with the nearest "
                  f"class mean on {100 * end.ncc_agreement:.1f}% of samples"),
        property_=f"NC1 ≤ {TOL.rank_rtol:g}", defect_name="NC1")
    summary = {"data": data.name, "hidden": activation, "width": width, "decay": decay, "training": training,
               "loss": loss, "steps": steps, "C": C, "numerical rank": last.numerical_rank,
               "effective rank": round(last.effective_rank, 3), "outside top-C": last.outside_top_C,
               "NC1 start": first.nc1, "NC1 end": end.nc1, "cosine deviation end": end.cosine_deviation,
               "NCC agreement end": end.ncc_agreement}
    return {"summary": summary, "series": series, "findings": [rank, collapse], "model": record.model,
            "models": [o[1] for o in record.observations], "label": label}


def hessian_study(data, model, during, *, label: str = "", loss: str = "squared", seed: int = 0) -> dict:
    """At the trained ``model``: the top 3C Hessian eigenvalues of the training objective and their outlier
    count, and the outlier count of the per-sample gradient covariance (SGD noise). At ``during`` (a model
    part-way through training, where the gradient is not yet ≈ 0): the gradient's overlap with the top-C
    Hessian eigenvectors."""
    C = data.C
    objective = _loss(loss, C)
    values, _ = hessian.top_hessian_eigenpairs(model, objective, data.X, data.Y, 3 * C, seed=seed)
    _, early = hessian.top_hessian_eigenpairs(during, objective, data.X, data.Y, C, seed=seed)
    gradient = hessian.flat_gradient(during, objective, data.X, data.Y)
    P = per_sample_gradients(model, objective, data.X, data.Y)
    noise = np.linalg.svd(P - P.mean(axis=0), compute_uv=False) ** 2 / data.n
    result = {"hessian top": values, "hessian outliers": outlier_count(values, 3 * C),
              "gradient overlap top-C": hessian.gradient_overlap(gradient, early),
              "noise top": noise[: 3 * C + 1], "noise outliers": outlier_count(noise, 3 * C)}
    for name in ("hessian", "noise"):
        count = result[f"{name} outliers"]
        result[f"{name} finding"] = findings.graded(
            f"{label or data.name}: {name} outliers ≈ C = {C}", exact=count == C, defect=abs(count - C) / C,
            observed=f"{count} outliers (largest gap among the top {3 * C} eigenvalues)",
            property_="outlier count = C", defect_name="abs(count − C)/C")
    overlap = result["gradient overlap top-C"]
    result["overlap finding"] = findings.graded(
        f"{label or data.name}: the gradient lies in the top-C Hessian subspace", exact=False, defect=1.0 - overlap,
        observed=f"‖V_Cᵀg‖²/‖g‖² = {overlap:.3g} part-way through training",
        property_="overlap 1 (never exactly)", defect_name="1 − overlap")
    return result


def tracking_study(data, *, width: int = 16, rates=(0.004, 0.002), time: float = 1.0, decay: float = 0.3,
                   seed: int = 0) -> list[dict]:
    """GD on the fixed-feature model Φ = UΨ with Ψ = the inputs (p = d), width m = ``width``, against the
    integrated coupled flow over t ∈ [0, ``time``]: the max relative kernel error for each η = rate/n, and how
    far GD moved the kernel from K(0) (the scale the error is compared with)."""
    rows = []
    p = data.X.shape[0]
    for rate in rates:
        rng = np.random.default_rng(seed)
        model = FixedFeatures(U=rng.standard_normal((width, p)) / np.sqrt(p),
                              W=rng.standard_normal((data.C, width)) / np.sqrt(width), lam=decay, mu=decay)
        lr = rate / data.n
        steps = int(round(time / lr))
        error = kernel_flow_tracking_error(model, data.X, data.Y, lr=lr, steps=steps)
        kernels = train(model, theory.losses.squared(data.C), data.X, data.Y, steps=steps, lr=lr,
                        record_every=max(1, steps // 20)).kernels
        moved = max(np.linalg.norm(K - kernels[0]) / np.linalg.norm(kernels[0]) for K in kernels)
        rows.append({"data": data.name, "lr·n": rate, "steps": steps, "max relative kernel error": error,
                     "max relative distance from K(0)": float(moved)})
    return rows
