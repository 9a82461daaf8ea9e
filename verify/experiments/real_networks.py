"""T10 experiments: trained two-layer networks on real and synthetic data, measured against the theory.

Nothing here is proved by the theory; each experiment returns numbers, a figure spec and a
:class:`verify.core.findings.Finding` whose rule is fixed in advance. The learning rate follows one stated
rule, never adjusted to a result: η = STEP_FRACTION / λ_max(∇²L(θ_0)), the top eigenvalue of the
training objective's Hessian at initialisation (exact Hessian-vector products and Lanczos,
:mod:`verify.experiments.hessian`), so η·λ_max(θ_0) = STEP_FRACTION, well inside the stability limit
η·λ_max < 2 of GD (for softmax cross-entropy, whose loss curvature grows from 1/C at initialisation
to at most 1/2, η is smaller by that ratio: :func:`step_size`). A fixed rule such as η = 1/n ignores
that the readout block of the Hessian is (ΦΦᵀ + λI) ⊗ I_C for the squared loss, whose top eigenvalue
λ_max(K) grows like n·m/d at initialisation (for standardised iris at width 256, η = 1/n diverges).
The training runs check the rule where it matters: η·λ_max at every recorded step and the number of
steps that raised the objective are reported, and a GD run is said to be in the gradient-flow regime
only when η·λ_max < 2 at every checkpoint and the objective never rises. A run's length can be given
as a flow time t = η·steps, which does not depend on the step rule. Networks of width
m > REFERENCE_WIDTH start at the scale √(REFERENCE_WIDTH/m) (both layers), so that K(0) = ΦᵀΦ, a sum
over m units, has the same size at every width.

- :func:`training_study`: the last-hidden-layer kernel K = ΦᵀΦ along training (numerical rank,
  effective rank, trace fraction outside the top-C eigenspace) and the neural-collapse metrics of
  :mod:`verify.experiments.collapse` (Papyan, Han and Donoho 2020);
- :func:`hessian_study`: the Hessian's top 3C eigenvalues, the outlier count (largest gap rule of
  :func:`verify.experiments.studies.outlier_count`) and the gradient's overlap with the top-C eigenvectors
  (Gur-Ari, Roberts and Dyer 2018), plus the same outlier count for the per-sample gradient covariance
  (the SGD noise of T7, in parameter space);
- :func:`tracking_study`: GD on the fixed-feature model over the data against the integrated coupled
  flow for halving learning rates (GD is its explicit Euler scheme: the error must halve).
"""
from __future__ import annotations

import numpy as np

import theory
from verify.core import findings, validation as v
from verify.core.loss_numeric import numeric_hessian
from verify.core.tolerances import TOL
from verify.experiments import data as datasets, hessian
from verify.experiments.collapse import collapse_metrics
from verify.experiments.networks import (
    FixedFeatures,
    TwoLayer,
    kernel_flow_tracking_error,
    kernel_rank_report,
    train,
)
from verify.experiments.studies import outlier_count, per_sample_gradients

#: η·λ_max(∇²L(θ_0)) of every network experiment: η = STEP_FRACTION / λ_max at initialisation. GD is stable
#: for η·λ_max < 2; a quarter of that leaves room for the sharpening of the Hessian during training (on digits
#: η·λ_max grows by a third after initialisation, and η·λ_max(θ_0) = 1 let late steps raise the objective)
STEP_FRACTION = 0.5
#: sup_f λ_max(∇²_f ℓ(f, y)) of each loss whose Hessian is not constant: softmax cross-entropy's
#: diag(p) − ppᵀ has top eigenvalue ≤ 1/2, but only 1/C at the near-uniform outputs of initialisation, so its
#: curvature — and the Hessian's — grows during training (see :func:`step_size`)
LOSS_CURVATURE_SUP = {"squared": None, "cross-entropy": 0.5}
#: GD on a quadratic is stable only while η·λ_max < STABILITY_LIMIT
STABILITY_LIMIT = 2.0
#: initial scale √(REFERENCE_WIDTH / m) above this width: the kernel at initialisation stops growing with m
REFERENCE_WIDTH = 256


def _loss(name: str, C: int):
    if name == "squared":
        return theory.losses.squared(C)
    if name == "cross-entropy":
        return theory.losses.softmax_cross_entropy(C)
    raise ValueError(f"loss must be 'squared' or 'cross-entropy', got {name!r}")


def step_size(model, loss, data, *, fraction: float = STEP_FRACTION, curvature_sup: float | None = None,
              seed: int = 0) -> tuple[float, float]:
    """(η, λ_max) with λ_max = λ_max(∇²L(θ_0)), the algebraically largest Hessian eigenvalue of the objective L
    of ``loss`` on ``data`` at the parameters of ``model`` (Lanczos on exact Hessian-vector products), and

        η = ``fraction`` / λ_max · min(1, c_0 / ``curvature_sup``),
        c_0 = max_i λ_max(∇²_f ℓ(f_i(θ_0), y_i)).

    ``curvature_sup``: sup_f λ_max(∇²_f ℓ(f, y)), for a loss whose curvature can grow during training (softmax
    cross-entropy: 1/2, against 1/C at uniform outputs); the Gauss–Newton part of the Hessian scales with it.
    None for a loss with a constant Hessian (the squared loss). ValueError when λ_max ≤ 0."""
    fraction = v.positive("fraction", fraction)
    top = hessian.top_hessian_eigenvalue(model, loss, data.X, data.Y, seed=seed)
    if not top > 0:
        raise ValueError(f"the Hessian at the initial parameters has λ_max = {top:.3g} ≤ 0; give lr explicitly")
    eta = fraction / top
    if curvature_sup is not None:
        curvature_sup = v.positive("curvature_sup", curvature_sup)
        per_sample = numeric_hessian(loss)(model.outputs(data.X), data.Y)  # C × C × n
        start = max(np.linalg.eigvalsh(per_sample[:, :, i])[-1] for i in range(data.n))
        eta *= min(1.0, start / curvature_sup)
    return float(eta), top


def _check_data(data):
    if not isinstance(data, datasets.Dataset):
        raise TypeError(f"data must be a verify.experiments.data.Dataset, got {type(data).__name__}")
    return data


def training_study(data, *, activation: str = "relu", width: int = 256, decay: float = 1.0, steps: int | None = None,
                   horizon: float | None = None, records: int = 8, batch_size: int | None = None,
                   loss: str = "squared", seed: int = 0, lr: float | None = None) -> dict:
    """Train TwoLayer(``activation``, ``width``) with weight decay ``decay`` on every layer by GD (or SGD with
    ``batch_size``) on ``data`` (a :class:`verify.experiments.data.Dataset`, inputs normalised or standardised) and measure
    the kernel spectrum and the collapse metrics at ``records`` + 1 points.

    Length: ``steps`` steps, or the flow time ``horizon`` = t, run as the least multiple k of ``records``
    with kη ≥ t (GD after k steps approximates the gradient flow at t = kη, so a horizon in flow time does
    not depend on the step rule); give one of them (neither: 2000 steps).

    Step: η = STEP_FRACTION / λ_max(∇²L(θ_0)), times c_0/sup c for cross-entropy (:func:`step_size`), unless
    ``lr`` is given. Checked along the run: η·λ_max(∇²L(θ_k)) at every recorded step k and
    #{k: L(θ_k) > L(θ_{k−1})}, the steps that raised the full objective; for GD the finding "in the
    gradient-flow regime" holds when η·λ_max < 2 at every checkpoint and no step raised the objective."""
    data = _check_data(data)
    width = v.count("width", width, 1)
    if steps is not None and horizon is not None:
        raise ValueError(f"give steps or horizon (a flow time), not both; got steps={steps!r}, horizon={horizon!r}")
    if horizon is not None:
        horizon = v.positive("horizon", horizon)
    else:
        steps = v.count("steps", 2000 if steps is None else steps, 1)
    records = v.count("records", records, 1)
    decay = v.nonnegative("decay", decay)
    C, n = data.C, data.n
    objective = _loss(loss, C)
    model = TwoLayer.random(np.random.default_rng([seed, width]), data.X.shape[0], width, C, decay, decay, activation,
                            scale=min(1.0, np.sqrt(REFERENCE_WIDTH / width)))
    if lr is None:
        lr, _ = step_size(model, objective, data, curvature_sup=LOSS_CURVATURE_SUP[loss], seed=seed)
    else:
        lr = v.positive("lr", lr)
    if horizon is not None:  # a multiple of records, so that the checkpoints fall at t = j·horizon/records
        steps = records * max(1, int(np.ceil(horizon / (lr * records) - 1e-9)))

    def observe(m):
        top = hessian.top_hessian_eigenvalue(m, objective, data.X, data.Y, seed=seed)
        return collapse_metrics(m.features(data.X), data.labels, C, m.W), m, top

    record = train(model, objective, data.X, data.Y, steps=steps, lr=lr, batch_size=batch_size,
                   seed=seed, record_every=max(1, steps // records), observe=observe, track_objective=True)
    metrics = [o[0] for o in record.observations]
    sharpness = [float(lr * o[2]) for o in record.observations]
    increases = record.increases()
    objectives = record.step_objectives
    rise = float(np.max(np.diff(objectives) / np.maximum(np.abs(objectives[:-1]), np.finfo(float).tiny),
                        initial=0.0))  # the largest relative rise, 0 when the objective never rises
    reports = [kernel_rank_report(K, C) for K in record.kernels]
    series = {
        "step": [int(s) for s in record.steps],
        "flow time": [float(s * lr) for s in record.steps],
        "numerical rank": [r.numerical_rank for r in reports],
        "effective rank": [r.effective_rank for r in reports],
        "outside top-C": [r.outside_top_C for r in reports],
        "NC1": [o.nc1 for o in metrics],
        "cosine deviation": [o.cosine_deviation for o in metrics],
        "NCC agreement": [o.ncc_agreement for o in metrics],
        "objective": [float(x) for x in record.losses],
        "η·λ_max": sharpness,
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
    steps_seen = (f"{steps} steps of η = {lr:.3g} (flow time {lr * steps:.3g}); η·λ_max(H) = {sharpness[0]:.3g} at "
                  f"initialisation, at most {max(sharpness):.3g} over the {len(sharpness)} checkpoints; {increases} "
                  f"of {steps} steps raised the objective"
                  + (f" (by at most {rise:.2g} of its value)" if increases else ""))
    found = [rank, collapse]
    if batch_size is None:
        found.append(findings.graded(
            f"{label}: GD in the gradient-flow regime (stable step, objective decreasing)",
            exact=max(sharpness) < STABILITY_LIMIT and increases == 0, defect=increases / steps, observed=steps_seen,
            property_=f"η·λ_max(H) < {STABILITY_LIMIT:g} at every checkpoint and no step raises the objective",
            defect_name="fraction of steps that raised the objective"))
    summary = {"data": data.name, "hidden": activation, "width": width, "decay": decay, "training": training,
               "loss": loss, "steps": steps, "flow time": float(lr * steps), "C": C, "η·n": float(lr * n),
               "η·λ_max init": sharpness[0], "η·λ_max max": max(sharpness), "objective increases": increases,
               "largest relative rise": rise,
               "objective start": float(objectives[0]), "objective end": float(objectives[-1]),
               "numerical rank": last.numerical_rank,
               "effective rank": round(last.effective_rank, 3), "outside top-C": last.outside_top_C,
               "NC1 start": first.nc1, "NC1 end": end.nc1, "cosine deviation end": end.cosine_deviation,
               "NCC agreement end": end.ncc_agreement}
    return {"summary": summary, "series": series, "findings": found, "model": record.model,
            "models": [o[1] for o in record.observations], "label": label, "lr": lr,
            "step objectives": objectives}


def hessian_study(data, model, during, *, label: str = "", loss: str = "squared", seed: int = 0) -> dict:
    """At the trained ``model``: the top 3C Hessian eigenvalues of the training objective and their outlier
    count, and the outlier count of the per-sample gradient covariance (SGD noise). At ``during`` (a model
    part-way through training, where the gradient is not yet ≈ 0): the gradient's overlap with the top-C
    Hessian eigenvectors, ‖V_Cᵀg‖²/‖g‖². Hessian eigenpairs by Lanczos on exact Hessian-vector products
    (:class:`verify.experiments.hessian.HessianOperator`); noise eigenvalues: σ_i(P − 1p̄ᵀ)²/n with P the n × D
    per-sample gradients."""
    data = _check_data(data)
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
            observed=f"{count} outliers (largest gap among the top {3 * C} eigenvalues"
                     + (", exact Hessian-vector products)" if name == "hessian" else ")"),
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
    integrated coupled flow over t ∈ [0, ``time``]: the max relative kernel error for each η = rate/n, how
    far GD moved the kernel from K(0) (the scale the error is compared with), and η·λ_max(∇²L(θ_0)) (GD can
    follow the flow only while it is well below 2)."""
    data = _check_data(data)
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
        top = hessian.top_hessian_eigenvalue(model, theory.losses.squared(data.C), data.X, data.Y, seed=seed)
        rows.append({"data": data.name, "lr·n": rate, "steps": steps, "η·λ_max init": lr * top,
                     "max relative kernel error": error, "max relative distance from K(0)": float(moved)})
    return rows
