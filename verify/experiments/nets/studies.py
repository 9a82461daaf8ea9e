"""T10 on real architectures: the paper's three open checks, answered by findings whose rules are fixed here.

The theory proves rank ≤ C, water-filling and low-rank SGD noise for a linear readout on trained features; it
says nothing about how deep, convolutional or attention bodies get there. Each study trains the models of
:mod:`verify.experiments.nets.models` on digits (8 × 8) and MNIST-1D (40 values) with the first C classes,
``per_class`` samples each (inputs standardised), and measures; the rules (:mod:`verify.core.findings`) do not
look at the results.

1. :func:`rank_study` — open checks 1 and 2: the last-layer kernel K = ΦᵀΦ of every architecture × data set
   against C, with weight decay and (at the largest C) without, along training (AdamW, full batch, decoupled decay
   ``RANK_DECAY``). Rule of :func:`collapse_finding`: holds when numerical rank ≤ C; approximately when the trace
   outside the top-C eigenspace is ≤ TOL.approximate both for K and for the centred kernel HKH (top C − 1;
   H = I − 11ᵀ/n), the latter so that a kernel dominated by its mean feature — as deep GELU networks and the
   transformer are at initialisation — does not pass by default.
2. :func:`law_study` — the paper's first experiment: a depth-2 linear network without biases on inputs with
   orthonormal rows Ψ (whitened principal components) is T9's fixed-feature model, so GD must end at the
   water-filled spectrum of the labels YΨᵀ (T3); deeper linear and non-linear networks on the same data, same
   decays and the same GD are measured against the same law. Rule: holds when the top-C spectrum's relative error
   is ≤ LAW_TOLERANCE; approximately when ≤ TOL.approximate.
3. :func:`noise_study` — open check 3: SGD with momentum at batch sizes × learning-rate schedules; at the end
   the SGD-noise covariance (per-sample gradients, :func:`~verify.experiments.nets.instruments.sgd_noise_spectrum`)
   of the readout W and of the layer producing φ: numerical rank, effective rank, fraction outside its top-C
   eigenvalues (rule as in 1, on that covariance); and, at practitioners' step sizes, the Hessian's outliers
   (largest-gap rule among the top 3C, as for the NumPy networks) and the gradient's overlap with the top-C
   Hessian subspace part-way through training.

Sizes come from a :class:`Budget` (``"test"`` for the test suite and ``"quick"`` for ``kflow verify --claims T10``
in the quick profile, both a few samples and tens of steps; ``"full"`` for ``--profile full``); ``device`` runs them
on a GPU.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from verify.core import findings
from verify.core.linalg import numerical_rank
from verify.core.tolerances import TOL
from verify.experiments import data as datasets
from verify.experiments.collapse import collapse_metrics
from verify.experiments.hessian import gradient_overlap
from verify.experiments.nets import instruments
from verify.experiments.nets.backend import device_for, require_torch
from verify.experiments.nets.models import build
from verify.experiments.nets.training import TrainingSpec, train
from verify.experiments.networks import kernel_rank_report
from verify.experiments.studies import outlier_count

torch = require_torch()

#: the sample shape of each data set as the bodies see it
SHAPES = {"digits": (8, 8), "mnist1d": (40,)}
#: (label, architecture, options) of the models trained on each data set
MODELS = {
    "digits": (("MLP depth 2, ReLU", "mlp", {"depth": 2, "activation": "relu"}),
               ("MLP depth 4, GELU", "mlp", {"depth": 4, "activation": "gelu"}),
               ("MLP depth 4, linear", "mlp", {"depth": 4, "activation": "linear"}),
               ("2-D CNN", "cnn2d", {}),
               ("transformer (rows as tokens)", "transformer", {})),
    "mnist1d": (("MLP depth 2, ReLU", "mlp", {"depth": 2, "activation": "relu"}),
                ("MLP depth 4, GELU", "mlp", {"depth": 4, "activation": "gelu"}),
                ("1-D CNN", "cnn1d", {}),
                ("transformer (patches of 4 positions as tokens)", "transformer", {})),
}
#: AdamW's decoupled decay in the rank study (strong enough to act within the budget's steps), and its step
RANK_DECAY, RANK_LR = 1.0, 3e-3
#: ℓ2 decay λ = μ of the law study and of the noise study (sum objective)
DECAY = 0.5
#: relative error of the top-C spectrum within which the T3 law "holds" for a GD run that ended at its criterion
LAW_TOLERANCE = 1e-3
#: the noise study's SGD learning rate in units of the mean loss (η = this/n for the sum objective), momentum 0.9
SGD_MEAN_LR = 0.05


@dataclass(frozen=True)
class Budget:
    """How much each study trains: samples per class, classes, steps, widths, batch sizes and schedules."""

    per_class: int
    classes: tuple
    steps: int
    width: int
    law_components: int
    law_max_steps: int
    batch_sizes: tuple
    schedules: tuple
    noise_models: tuple


BUDGETS = {
    "quick": Budget(per_class=4, classes=(2, 3), steps=40, width=16, law_components=6, law_max_steps=3000,
                    batch_sizes=(4, None), schedules=("constant", "cosine"), noise_models=("MLP depth 2, ReLU",)),
    "test": Budget(per_class=4, classes=(2, 3), steps=40, width=16, law_components=6, law_max_steps=3000,
                   batch_sizes=(4, None), schedules=("constant", "cosine"), noise_models=("MLP depth 2, ReLU",)),
    "full": Budget(per_class=10, classes=(2, 5, 10), steps=1000, width=64, law_components=20, law_max_steps=20000,
                   batch_sizes=(8, 32, None), schedules=("constant", "step", "cosine", "warmup"),
                   noise_models=("MLP depth 2, ReLU", "2-D CNN")),
}


def prepare(name: str, C: int, per_class: int, seed: int = 0):
    """(X rows n × d standardised per feature, one-hot Y n × C, labels) of the first C classes of ``name``,
    ``per_class`` samples of each (the first ones in a seeded order)."""
    if name not in SHAPES:
        raise ValueError(f"name must be one of {tuple(SHAPES)}, got {name!r}")
    full = datasets.load(name, n=None if name == "digits" else max(10 * per_class, 100), seed=seed)
    order = np.random.default_rng(seed).permutation(full.n)
    picks = np.concatenate([order[full.labels[order] == c][:per_class] for c in range(C)])
    if picks.size < C * per_class:
        raise ValueError(f"per_class: {name} has fewer than {per_class} samples of some class among the first {C}")
    picks = np.sort(picks)
    X = full.X[:, picks].T
    X = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    labels = full.labels[picks]
    return X, np.eye(C)[labels], labels


def kernel_metrics(K: np.ndarray, C: int) -> dict:
    """Numerical and effective rank, trace fraction outside the top-C eigenspace, and the same fraction for the
    centred kernel HKH outside its top C − 1."""
    report = kernel_rank_report((K + K.T) / 2, C)
    n = K.shape[0]
    H = np.eye(n) - 1.0 / n
    centred = np.clip(np.linalg.eigvalsh(H @ K @ H)[::-1], 0.0, None)
    outside_centred = float(max(0.0, 1 - centred[: max(C - 1, 1)].sum() / centred.sum())) if centred.sum() > 0 else 0.0
    return {"numerical rank": report.numerical_rank, "effective rank": report.effective_rank,
            "outside top-C": report.outside_top_C, "centred outside top-(C-1)": outside_centred}


def collapse_finding(question: str, end: dict, C: int, *, start: dict | None = None, control: dict | None = None):
    """Holds: numerical rank ≤ C; approximately: both outside fractions ≤ TOL.approximate (module docstring)."""
    observed = (f"numerical rank {end['numerical rank']}, effective rank {end['effective rank']:.2f}, "
                f"{100 * end['outside top-C']:.2f}% of tr K outside the top-{C} eigenspace, "
                f"{100 * end['centred outside top-(C-1)']:.2f}% of tr HKH outside its top {C - 1}")
    if start is not None:
        observed += (f"; at initialisation {100 * start['outside top-C']:.2f}% and "
                     f"{100 * start['centred outside top-(C-1)']:.2f}%")
    if control is not None:
        observed += (f"; without weight decay {100 * control['outside top-C']:.2f}% and "
                     f"{100 * control['centred outside top-(C-1)']:.2f}% (effective rank {control['effective rank']:.2f})")
    defect = max(end["outside top-C"], end["centred outside top-(C-1)"])
    return findings.graded(question, exact=end["numerical rank"] <= C, defect=defect, observed=observed,
                           property_=f"numerical rank ≤ C (relative threshold {TOL.rank_rtol:g})",
                           defect_name="trace fraction outside the top-C eigenspace of K and of HKH (top C − 1)")


def _tensor(a, device):
    return torch.as_tensor(a, dtype=torch.float64, device=device)


def rank_study(budget: Budget, *, seed: int = 0, device: str = "cpu", progress=None) -> dict:
    """Study 1 (module docstring): rows per (data set, model, C, decay) and one finding per (data set, model)."""
    device = device_for(device)
    rows, found, series = [], [], {}
    for name, models in MODELS.items():
        for label, architecture, options in models:
            for C in budget.classes:
                for decay in ((RANK_DECAY, 0.0) if C == max(budget.classes) else (RANK_DECAY,)):
                    X, Y, labels = prepare(name, C, budget.per_class, seed)
                    net = build(architecture, SHAPES[name], C, seed=seed, width=_width(architecture, budget),
                                device=device, **options)
                    spec = TrainingSpec(optimizer="adamw", lr=RANK_LR, steps=budget.steps, lam=decay, mu=decay,
                                        record_every=max(budget.steps // 10, 1), seed=seed)
                    start = time.perf_counter()
                    Xt = _tensor(X, device)
                    record = train(net, Xt, _tensor(Y, device), spec, observe=lambda m: _features(m, Xt))
                    metrics = [kernel_metrics(K, C) for K in record.kernels]
                    nc1 = [collapse_metrics(Phi, labels, C).nc1 for Phi in (record.observations[0],
                                                                             record.observations[-1])]
                    row = {"data": name, "model": label, "C": C, "decay": decay, "n": len(labels),
                           **{f"{k} start": metrics[0][k] for k in metrics[0]}, **metrics[-1],
                           "NC1 start": nc1[0], "NC1 end": nc1[1], "objective end": float(record.losses[-1]),
                           "seconds": time.perf_counter() - start}
                    if C == max(budget.classes) and decay > 0:  # the per-architecture curvature and noise
                        values, _ = instruments.hessian_top(net, spec, Xt, _tensor(Y, device), 3 * C, seed=seed)
                        row["Hessian outliers"] = outlier_count(values, 3 * C)
                        gradients = instruments.per_sample_gradients(net, spec, Xt, _tensor(Y, device), "last")
                        row.update(_spectrum_metrics(instruments.sgd_noise_spectrum(gradients, 1), C, "noise (last)"))
                    rows.append(row)
                    if C == max(budget.classes):
                        series[f"{name} | {label} | decay {decay:g}"] = {"steps": record.steps.tolist(),
                                                        "outside top-C": [m["outside top-C"] for m in metrics],
                                                        "effective rank": [m["effective rank"] for m in metrics]}
                    if progress is not None:
                        progress(f"rank study: {name}, {label}, C = {C}, decay {decay:g}")
            top = max(budget.classes)
            with_decay = next(r for r in rows if r["data"] == name and r["model"] == label and r["C"] == top
                              and r["decay"] > 0)
            without = next(r for r in rows if r["data"] == name and r["model"] == label and r["C"] == top
                           and r["decay"] == 0)
            found.append(collapse_finding(
                f"{name}, {label}: does weight decay bring the last-layer kernel to rank ≤ C (C = {top})?",
                _metrics(with_decay), top, start=_metrics(with_decay, " start"), control=_metrics(without)))
    return {"rows": rows, "findings": found, "series": series}


def _width(architecture: str, budget: Budget) -> int:
    return budget.width // 2 if architecture == "transformer" else budget.width


def _features(model, X) -> np.ndarray:
    """Φ = m × n features of the rows X (for the collapse metrics)."""
    with torch.no_grad():
        return model.features(X).double().cpu().numpy().T


def _metrics(row: dict, suffix: str = "") -> dict:
    keys = ("numerical rank", "effective rank", "outside top-C", "centred outside top-(C-1)")
    return {k: row[k + suffix] for k in keys}


def orthonormal_inputs(X: np.ndarray, p: int) -> np.ndarray:
    """The top-p principal components of the rows X as an n × p matrix U with orthonormal columns: as inputs
    (one row per sample) they make the theory's Ψ = Uᵀ (p × n) have orthonormal rows — T9's fixed features."""
    centred = X - X.mean(axis=0)
    U, _, _ = np.linalg.svd(centred, full_matrices=False)
    return U[:, :p]


def law_study(budget: Budget, *, seed: int = 0, device: str = "cpu", progress=None) -> dict:
    """Study 2 (module docstring): the top-C spectrum of K after GD against T3's law for the labels YΨᵀ."""
    from verify.flows.water_filling import water_filling_spectrum

    device = device_for(device)
    C = max(budget.classes)
    X, Y, _ = prepare("digits", C, budget.per_class, seed)
    Psi = orthonormal_inputs(X, budget.law_components)
    law = water_filling_spectrum(Y.T @ Psi, DECAY, DECAY)[:C]
    variants = (("linear, depth 2 (T9's model)", {"depth": 2, "activation": "linear", "bias": False}),
                ("linear, depth 3", {"depth": 3, "activation": "linear", "bias": False}),
                ("linear, depth 4", {"depth": 4, "activation": "linear", "bias": False}),
                ("ReLU, depth 2", {"depth": 2, "activation": "relu", "bias": False}),
                ("GELU, depth 2", {"depth": 2, "activation": "gelu", "bias": False}))
    rows, found = [], []
    for label, options in variants:
        net = build("mlp", (budget.law_components,), C, seed=seed, width=budget.width, device=device, **options)
        Xt, Yt = _tensor(Psi, device), _tensor(Y, device)
        spec = TrainingSpec(optimizer="gd", lam=DECAY, mu=DECAY, steps=1, seed=seed)
        values, _ = instruments.hessian_top(net, spec, Xt, Yt, 1, seed=seed)
        lr = 0.5 / values[0]
        start = time.perf_counter()
        steps, gradient_norm = _gd_to_stationarity(net, spec, Xt, Yt, lr, budget.law_max_steps)
        spectrum = np.sort(np.linalg.eigvalsh(net.kernel(Xt)))[::-1][:C]
        error = float(np.abs(spectrum - law).max() / law.max())
        rows.append({"model": label, "steps": steps, "η·λ_max(θ0)": 0.5, "final ‖∇L‖/‖θ‖": gradient_norm,
                     "top-C relative error": error, "seconds": time.perf_counter() - start})
        found.append(findings.graded(
            f"digits (top {budget.law_components} whitened components), {label}: is the last-layer spectrum the "
            f"water-filling law of T3 for the labels YΨᵀ?", exact=error <= LAW_TOLERANCE, defect=error,
            observed=f"top-{C} eigenvalues of K against the law: relative error {error:.2e} after {steps} GD steps "
                     f"(‖∇L‖/‖θ‖ = {gradient_norm:.1e})",
            property_=f"relative error ≤ {LAW_TOLERANCE:g}", defect_name="relative error"))
        if progress is not None:
            progress(f"law study: {label}")
    return {"rows": rows, "findings": found, "law": law.tolist()}


def _gd_to_stationarity(net, spec, X, Y, lr, max_steps, tol: float = 1e-9):
    """GD with step ``lr`` until ‖∇L‖ ≤ tol·‖θ‖ (checked every 100 steps) or ``max_steps``: (steps, ‖∇L‖/‖θ‖)."""
    optimizer = torch.optim.SGD(net.parameters(), lr=float(lr))
    from verify.experiments.nets.training import data_loss

    ratio = np.inf
    for step in range(1, max_steps + 1):
        optimizer.zero_grad()
        total = data_loss(spec.loss, net(X), Y) + net.decay_penalty(spec.lam, spec.mu)
        total.backward()
        if step % 100 == 0 or step == max_steps:
            with torch.no_grad():
                g = torch.sqrt(sum((p.grad ** 2).sum() for p in net.parameters()))
                theta = torch.sqrt(sum((p ** 2).sum() for p in net.parameters()))
                ratio = float(g / theta)
            if ratio <= tol:
                return step, ratio
        optimizer.step()
    return max_steps, ratio


def noise_study(budget: Budget, *, seed: int = 0, device: str = "cpu", progress=None) -> dict:
    """Study 3 (module docstring): SGD-noise spectra and Hessian outliers after SGD with momentum, by batch size
    and learning-rate schedule, on digits with C = max(classes)."""
    device = device_for(device)
    C = max(budget.classes)
    X, Y, _ = prepare("digits", C, budget.per_class, seed)
    n = X.shape[0]
    Xt, Yt = _tensor(X, device), _tensor(Y, device)
    models = {label: (architecture, options) for label, architecture, options in MODELS["digits"]}
    rows, found = [], []
    for label in budget.noise_models:
        architecture, options = models[label]
        for batch in budget.batch_sizes:
            for schedule in budget.schedules:
                net = build(architecture, SHAPES["digits"], C, seed=seed, width=budget.width, device=device,
                            **options)
                spec = TrainingSpec(optimizer="sgd", momentum=0.9, lr=SGD_MEAN_LR / n, steps=budget.steps,
                                    batch_size=batch, schedule=schedule, lam=DECAY, mu=DECAY, seed=seed,
                                    record_every=max(budget.steps // 8, 1))
                start = time.perf_counter()
                record = train(net, Xt, Yt, spec)
                row = {"model": label, "batch size": batch or n, "schedule": schedule}
                for group in ("readout", "last"):
                    # the batch size scales the noise covariance, never its shape: its spectrum for b = 1
                    spectrum = instruments.sgd_noise_spectrum(
                        instruments.per_sample_gradients(net, spec, Xt, Yt, group), 1)
                    row.update(_spectrum_metrics(spectrum, C, f"noise ({group})"))
                values, vectors = instruments.hessian_top(net, spec, Xt, Yt, min(3 * C, sum(
                    p.numel() for p in net.parameters()) - 1), seed=seed)
                row["Hessian outliers"] = outlier_count(values, 3 * C)
                # the gradient part-way (1/8 of training) against the top-C Hessian subspace there
                early_net = build(architecture, SHAPES["digits"], C, seed=seed, width=budget.width, device=device,
                                  **options)
                train(early_net, Xt, Yt, TrainingSpec(**{**spec.__dict__, "steps": max(budget.steps // 8, 1),
                                                         "record_every": None}))
                _, early_vectors = instruments.hessian_top(early_net, spec, Xt, Yt, C, seed=seed)
                row["gradient overlap top-C"] = gradient_overlap(instruments.gradient(early_net, spec, Xt, Yt),
                                                                 early_vectors)
                row["objective end"] = float(record.losses[-1])
                row["seconds"] = time.perf_counter() - start
                rows.append(row)
                if progress is not None:
                    progress(f"noise study: {label}, batch {batch or n}, {schedule}")
        mine = [r for r in rows if r["model"] == label]
        worst = max(mine, key=lambda r: r["noise (last) outside top-C"])
        found.append(findings.graded(
            f"digits (C = {C}), {label}, SGD with momentum: is the SGD noise of the layer producing φ confined to "
            f"≈ C directions at every batch size and schedule?",
            exact=all(r["noise (last) numerical rank"] <= C for r in mine), defect=worst["noise (last) outside top-C"],
            observed="; ".join(f"batch {r['batch size']}, {r['schedule']}: rank {r['noise (last) numerical rank']}, "
                               f"{100 * r['noise (last) outside top-C']:.1f}% outside top-{C}" for r in mine),
            property_="numerical rank ≤ C in every run", defect_name="largest fraction outside the top-C eigenvalues"))
        counts = [r["Hessian outliers"] for r in mine]
        found.append(findings.graded(
            f"digits (C = {C}), {label}, SGD with momentum: ≈ C Hessian outliers at every batch size and schedule?",
            exact=all(c == C for c in counts), defect=max(abs(c - C) for c in counts) / C,
            observed=f"outlier counts {counts} (largest gap among the top {3 * C}); gradient overlap with the top-{C} "
                     f"Hessian subspace at 1/8 of training {min(r['gradient overlap top-C'] for r in mine):.2f}–"
                     f"{max(r['gradient overlap top-C'] for r in mine):.2f}",
            property_="outlier count = C in every run", defect_name="largest abs(count − C)/C"))
    return {"rows": rows, "findings": found}


def _spectrum_metrics(values: np.ndarray, C: int, prefix: str) -> dict:
    values = np.clip(np.sort(values)[::-1], 0.0, None)
    total = values.sum()
    if total == 0:
        return {f"{prefix} numerical rank": 0, f"{prefix} effective rank": 0.0, f"{prefix} outside top-C": 0.0}
    p = values[values > 0] / total
    return {f"{prefix} numerical rank": numerical_rank(np.diag(values), TOL.rank_rtol),
            f"{prefix} effective rank": float(np.exp(-np.sum(p * np.log(p)))),
            f"{prefix} outside top-C": float(max(0.0, 1 - values[:C].sum() / total))}


def run_studies(budget: Budget, *, seed: int = 0, device: str = "cpu", progress: bool = False) -> dict:
    """The three studies at ``budget``: {"findings", "details", "figures"} for the T10 report, with a progress bar
    over the training runs when ``progress``."""
    # one intra-op thread: the studies are many small models (threads cost more than they give), and a process forked
    # from one that already ran PyTorch's thread pool (the campaign's worker) must not enter a parallel region
    torch.set_num_threads(1)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=_run_count(budget), unit="run", leave=False, desc="T10 real architectures", position=1)

    def tick(message):
        if bar is not None:
            bar.set_postfix_str(message[:60])
            bar.update()

    try:
        rank = rank_study(budget, seed=seed, device=device, progress=tick)
        law = law_study(budget, seed=seed, device=device, progress=tick)
        noise = noise_study(budget, seed=seed, device=device, progress=tick)
    finally:
        if bar is not None:
            bar.close()
    details = {"rank against C (AdamW, decoupled decay {:g}, lr {:g}, {} full-batch steps, {} per class)".format(
                   RANK_DECAY, RANK_LR, budget.steps, budget.per_class): rank["rows"],
               "T3 law on whitened digits (GD to ‖∇L‖ ≤ 1e-9‖θ‖, λ = μ = {:g})".format(DECAY): law["rows"],
               "SGD noise and Hessian by batch size and schedule (momentum 0.9, η = {:g}/n)".format(SGD_MEAN_LR):
                   noise["rows"], "device": str(device_for(device))}
    return {"findings": rank["findings"] + law["findings"] + noise["findings"], "details": details,
            "figures": study_figures(rank, noise, budget)}


def _run_count(budget: Budget) -> int:
    models = sum(len(m) for m in MODELS.values())
    return (models * (len(budget.classes) + 1) + 5
            + len(budget.noise_models) * len(budget.batch_sizes) * len(budget.schedules))


def study_figures(rank: dict, noise: dict, budget: Budget) -> list[dict]:
    """Rank against C per architecture (effective rank, and the trace outside the top-C eigenspace), and the noise
    spectrum's effective rank against batch size for each schedule."""
    out = []
    classes = list(budget.classes)
    for name in MODELS:
        decayed = [r for r in rank["rows"] if r["data"] == name and r["decay"] > 0]
        labels = sorted({r["model"] for r in decayed}, key=lambda m: [x[0] for x in MODELS[name]].index(m))
        series = {label: [next(r["effective rank"] for r in decayed if r["model"] == label and r["C"] == C)
                          for C in classes] for label in labels}
        series["C"] = classes
        out.append({"name": f"nets-rank-vs-C-{name}", "title": f"T10: {name}, effective rank of the last-layer kernel "
                    "against C (weight decay)", "xlabel": "C (classes)", "ylabel": "effective rank", "x": classes,
                    "series": series, "styles": {"C": "k--"}})
        outside = {label: [max(next(r["outside top-C"] for r in decayed if r["model"] == label and r["C"] == C), 1e-16)
                           for C in classes] for label in labels}
        out.append({"name": f"nets-outside-top-C-{name}", "title": f"T10: {name}, trace of K outside the top-C "
                    "eigenspace against C (weight decay)", "xlabel": "C (classes)", "ylabel": "fraction of tr K",
                    "x": classes, "series": outside, "logy": True})
    for model in budget.noise_models:
        rows = [r for r in noise["rows"] if r["model"] == model]
        batches = sorted({r["batch size"] for r in rows})
        series = {schedule: [next(r["noise (last) effective rank"] for r in rows if r["schedule"] == schedule and
                                  r["batch size"] == b) for b in batches] for schedule in budget.schedules}
        series["C"] = [max(classes)] * len(batches)
        out.append({"name": f"nets-noise-rank-{model.split(',')[0].replace(' ', '-').lower()}",
                    "title": f"T10: digits, {model}: effective rank of the SGD noise (layer producing φ) against batch "
                             "size", "xlabel": "batch size", "ylabel": "effective rank", "x": batches, "logx": True,
                    "series": series, "styles": {"C": "k--"}})
    return out
