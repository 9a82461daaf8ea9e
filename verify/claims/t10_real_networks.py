"""T10 — real networks: where the theory holds and where it stops (digits and Gaussian mixtures).

The claim passes when its instruments are sound — the collapse metrics on an exact simplex frame;
exact Hessian-vector products (R-operator) on a trained ReLU network against the dense Hessian built
from finite differences that keep the activation pattern, their linearity and symmetry, vᵀHv against
second differences of the objective, Lanczos against the dense Hessian; and GD on the fixed-feature
model tracking the coupled flow at first order on the data — each with a negative control the same
check rejects (the former finite-difference product, whose step crosses ReLU kinks, among them).
Every training run uses η = STEP_FRACTION/λ_max(∇²L(θ_0)) and reports η·λ_max along training.
What trained two-layer networks do (kernel rank, neural collapse, Hessian and gradient-noise
outliers, whether GD stays in the gradient-flow regime) is reported as findings with rules fixed in
advance (:mod:`verify.core.findings`), never as a pass or a fail.
"""
from __future__ import annotations

import math

import numpy as np

from verify.claims.common import combine
from verify.claims.registry import Claim, Context, register
from verify.claims.shared import digits_available
from verify.core.tolerances import TOL
from verify.core.verdict import judge
from verify.experiments import data as datasets, hessian
from verify.experiments.collapse import collapse_metrics
from verify.experiments.networks import TwoLayer
from verify.experiments.real_networks import (
    STEP_FRACTION,
    hessian_study,
    tracking_study,
    training_study,
)


def load(ctx: Context, n: int):
    """Digits when scikit-learn is present, else the Gaussian-mixture twin; normalised inputs."""
    name = "digits" if digits_available() else "gaussian-mixture"
    return datasets.load(name, n=n, seed=ctx.seed).normalised()


def collapse_instrument(ctx: Context):
    """NC metrics of an exact simplex frame (all 0, agreement 1) and, as the control, of random features."""
    C = 4
    frame = np.eye(C) - 1.0 / C
    rotation = np.linalg.qr(ctx.rng(100).standard_normal((12, 12)))[0][:, :C]
    labels = np.repeat(np.arange(C), 5)
    H = rotation @ frame[:, labels]
    W = (rotation @ frame).T

    def defect(H, W):
        m = collapse_metrics(H, labels, C, W)
        return max(m.nc1, m.cosine_deviation, m.norm_variation, m.self_duality, 1.0 - m.ncc_agreement)

    exact = judge("T10", [defect(H, W)], TOL.generated_code, ctx.seed, what="collapse defect of a simplex frame")
    noise = ctx.rng(101).standard_normal(H.shape)
    control = judge("T10", [defect(noise, ctx.rng(102).standard_normal(W.shape))], TOL.generated_code, ctx.seed,
                    what="collapse defect of random features")
    return exact, control


def trained_relu_network(ctx: Context):
    """A small two-layer ReLU network trained by GD (η = STEP_FRACTION/λ_max(θ_0)) on a Gaussian mixture until
    some pre-activations sit near their kinks (weight decay drives unused units towards 0): the Hessian
    instruments are checked where a kink-crossing finite difference goes wrong. Returns (model, loss, data)."""
    import theory
    from verify.experiments.networks import train
    from verify.experiments.real_networks import step_size
    from verify.truth.instances import gaussian_mixture

    rng = ctx.rng(110)
    X, Y = gaussian_mixture(rng, 60, 4, 16)
    small = datasets.from_arrays(X, np.argmax(Y, axis=0), "mixture C=4").normalised()
    loss = theory.losses.squared(small.C)
    model = TwoLayer.random(rng, 16, 16, small.C, 1.0, 1.0, "relu")
    lr, _ = step_size(model, loss, small, seed=ctx.seed)
    return train(model, loss, small.X, small.Y, steps=3000, lr=lr).model, loss, small


def hessian_instruments(ctx: Context):
    """The exact Hessian-vector product (R-operator) on a trained ReLU network against the dense Hessian built
    column by column from pattern-preserving finite differences of the gradient (control: the former
    finite-difference product, whose step crosses ReLU kinks); its linearity (control: the same finite
    difference); vᵀHv against second differences of the objective on a linear network (control: the product
    without the decay term); Lanczos top eigenvalues against the dense Hessian's."""
    import theory

    model, loss, small = trained_relu_network(ctx)
    reference = hessian.finite_difference_hessian(model, loss, small.X, small.Y)
    operator = hessian.HessianOperator(model, loss, small.X, small.Y)
    rng = ctx.rng(111)
    theta = hessian.flatten(model)
    exact, crossing, linear, nonlinear, symmetry = [], [], [], [], []
    for _ in range(3):
        u, w = rng.standard_normal(theta.size), rng.standard_normal(theta.size)
        expected = reference @ u
        Hu, Hw, Huw = operator.matvec(u), operator.matvec(w), operator.matvec(u + w)
        exact.append(np.linalg.norm(Hu - expected) / np.linalg.norm(expected))
        old = [hessian.finite_difference_hvp(model, loss, small.X, small.Y, x) for x in (u, w, u + w)]
        crossing.append(np.linalg.norm(old[0] - expected) / np.linalg.norm(expected))
        linear.append(np.linalg.norm(Huw - Hu - Hw) / np.linalg.norm(Huw))
        nonlinear.append(np.linalg.norm(old[2] - old[0] - old[1]) / np.linalg.norm(old[2]))
        symmetry.append(abs(u @ Hw - w @ Hu) / (np.linalg.norm(u) * np.linalg.norm(Hw)))
    hvp = judge("T10", exact, TOL.finite_differences, ctx.seed,
                what="‖Hv − H_fd v‖/‖H_fd v‖ (exact product against the pattern-preserving dense Hessian)")
    hvp_control = judge("T10", crossing, TOL.finite_differences, ctx.seed,
                        what="the same error of the finite-difference product with step 1e-5·‖θ‖")
    linearity = judge("T10", linear + symmetry, TOL.round_off, ctx.seed,
                      what="‖H(u+w) − Hu − Hw‖/‖H(u+w)‖ and |uᵀHw − wᵀHu|/(‖u‖‖Hw‖)")
    linearity_control = judge("T10", nonlinear, TOL.round_off, ctx.seed,
                              what="‖H(u+w) − Hu − Hw‖/‖H(u+w)‖ of the finite-difference product")

    smooth = TwoLayer.random(rng, small.X.shape[0], 6, small.C, 0.5, 0.5, "linear")
    squared = theory.losses.squared(small.C)
    theta = hessian.flatten(smooth)
    errors, wrong = [], []
    objective = lambda t: hessian.unflatten(smooth, t).objective(squared, small.X, small.Y)  # noqa: E731
    centre = objective(theta)
    for _ in range(3):
        v = rng.standard_normal(theta.size)
        h = 1e-3 * np.linalg.norm(theta) / np.linalg.norm(v)
        difference = lambda h, v=v: (objective(theta + h * v) - 2 * centre  # noqa: E731
                                     + objective(theta - h * v)) / h ** 2
        second = (4 * difference(h / 2) - difference(h)) / 3  # Richardson: O(h⁴)
        Hv = hessian.hessian_vector_product(smooth, squared, small.X, small.Y, v)
        errors.append(abs(v @ Hv - second) / abs(second))
        wrong.append(abs(v @ Hv - 0.5 * (v @ v) - second) / abs(second))  # decay 0.5 on every layer dropped
    second = judge("T10", errors, TOL.finite_differences, ctx.seed, what="vᵀHv against second differences")
    second_control = judge("T10", wrong, TOL.finite_differences, ctx.seed, what="vᵀHv without decay")

    dense = np.linalg.eigvalsh(hessian.dense_hessian(model, loss, small.X, small.Y))[::-1]
    k = 2 * small.C
    top, _ = hessian.top_hessian_eigenpairs(model, loss, small.X, small.Y, k, seed=ctx.seed)
    lanczos = judge("T10", [np.max(np.abs(top - dense[:k])) / abs(dense[0])], TOL.closed_form_vs_solver, ctx.seed,
                    what="Lanczos against the dense eigenvalues")
    near = int(np.sum(np.abs(model.A @ small.X + model.b[:, None]) < 1e-6))
    figures = {"exact product error": max(exact), "finite-difference product error": max(crossing),
               "exact product linearity defect": max(linear), "finite-difference linearity defect": max(nonlinear),
               "pre-activations within 1e-6 of a kink": near}
    return (hvp, hvp_control, linearity, linearity_control, second, second_control, lanczos), figures


def tracking(ctx: Context, data):
    """First-order convergence of GD to the coupled flow on the data: log₂(e(η)/e(η/2)) within
    TOL.convergence_order of 1. Control: the distance of GD from the initial kernel, which does not shrink with η."""
    small = data.subset(np.arange(ctx.pick(40, 100)))
    rows = tracking_study(small, rates=(0.25, 0.125), time=ctx.pick(0.5, 1.0), seed=ctx.seed)
    order = math.log2(rows[0]["max relative kernel error"] / rows[1]["max relative kernel error"])
    still = math.log2(rows[0]["max relative distance from K(0)"] / rows[1]["max relative distance from K(0)"])
    for row in rows:
        row["observed order"] = order
    verdict = judge("T10", [abs(order - 1.0)], TOL.convergence_order, ctx.seed, what="|observed order − 1|")
    control = judge("T10", [abs(still - 1.0)], TOL.convergence_order, ctx.seed,
                    what="|order of the distance from K(0)| − 1")
    return verdict, control, rows


#: flow time t = η·(number of steps) of every training run: the horizon the former rule η = 1/n reached
#: (1500 steps on n = 300 digits, 300 on n = 60); with the step set by the curvature, a fixed number of
#: steps would end each run at a different point of the flow
HORIZON = 5.0


def network_runs(ctx: Context, data, mixture):
    """The training runs of the profile: (data, keyword arguments) pairs, each to flow time HORIZON."""
    widths = ctx.pick((32,), (256, 1024))  # 4096 took 2 × 260 s of the profile's 15 minutes (2026-12-01)
    length = {"horizon": HORIZON}
    runs = [(data, {"activation": a, "width": w, **length}) for w in widths for a in ("relu", "linear")]
    if ctx.profile == "full":
        runs += [(data, {"activation": "relu", "width": 256, "decay": d, "batch_size": b, **length})
                 for d in (0.3, 3.0) for b in (None, 32)]
        runs += [(data, {"activation": "relu", "width": 256, "batch_size": 32, **length})]
        runs += [(data, {"activation": "relu", "width": 256, "loss": "cross-entropy", **length})]
        runs += [(mixture(C), {"activation": "relu", "width": 256, **length}) for C in (2, 5)]
    return runs


def check(ctx: Context):
    """The check of T10: the instruments are judged (collapse metrics on a simplex frame, exact Hessian-vector
    products against the dense Hessian and second differences, Lanczos, GD tracking the coupled flow at first order),
    each with a control that must fail; the trained networks (two-layer NumPy networks on digits or Gaussian
    mixtures, and the PyTorch architectures when installed) answer their questions as findings in the details.

    Returns the combined :class:`~verify.core.verdict.Verdict`."""
    data = load(ctx, ctx.pick(60, 300))

    def mixture(C):
        from verify.truth.instances import gaussian_mixture

        X, Y = gaussian_mixture(ctx.rng(120 + C), data.n, C, data.X.shape[0])
        return datasets.from_arrays(X, np.argmax(Y, axis=0), f"mixture C={C}").normalised()

    exact, collapse_control = collapse_instrument(ctx)
    (hvp, hvp_control, linearity, linearity_control, second, second_control, lanczos), instrument = \
        hessian_instruments(ctx)
    order, order_control, tracking_rows = tracking(ctx, data)

    studies = [training_study(d, seed=ctx.seed, **kw) for d, kw in network_runs(ctx, data, mixture)]
    found = [f.to_dict() for s in studies for f in s["findings"]]
    curvature = []
    for s in studies:
        summary = s["summary"]
        if summary["data"] == data.name and summary["width"] == min(st["summary"]["width"] for st in studies) \
                and summary["decay"] == 1.0 and summary["training"] == "GD" and summary["loss"] == "squared":
            h = hessian_study(data, s["model"], s["models"][1], label=s["label"], seed=ctx.seed)
            curvature.append((summary["hidden"], h))
            found += [h[k].to_dict() for k in ("hessian finding", "overlap finding", "noise finding")]
    outliers = [{"hidden": hidden, "Hessian outliers": h["hessian outliers"],
                 "gradient overlap with top-C Hessian (1/8 of training)": h["gradient overlap top-C"],
                 "gradient-noise outliers": h["noise outliers"]} for hidden, h in curvature]
    details = {"data": data.name + ("" if data.name == "digits" else " (scikit-learn missing: digits skipped)"),
               "learning rate": (f"η = {STEP_FRACTION:g}/λ_max(∇²L(θ_0)) (STEP_FRACTION), the top Hessian "
                                 "eigenvalue at initialisation from exact Hessian-vector products (for "
                                 "cross-entropy times c_0/(1/2), the room its loss curvature has to grow); every "
                                 f"run to flow time t = η·steps = {HORIZON:g}; η·λ_max at every checkpoint and the "
                                 "steps that raised the objective in the training runs"),
               "Hessian instruments (trained ReLU network)": instrument, "findings": found,
               "training runs": [s["summary"] for s in studies], "fixed-feature tracking": tracking_rows,
               "curvature": outliers, "figures": figures(studies, curvature, data)}
    found += real_architectures(ctx, details)
    return combine("T10", ctx.seed, {"collapse metrics on a simplex frame": exact,
                                     "exact Hessian-vector products vs the pattern-preserving dense Hessian "
                                     "(trained ReLU network)": hvp,
                                     "Hessian-vector products are linear and symmetric": linearity,
                                     "vᵀHv vs second differences of the objective (linear network)": second,
                                     "Lanczos vs dense Hessian (trained ReLU network)": lanczos,
                                     "GD tracks the coupled flow at first order (data)": order},
                   controls={"collapse metrics of random features": collapse_control,
                             "finite-difference Hessian-vector products (step 1e-5·‖θ‖ crosses ReLU kinks)":
                                 hvp_control,
                             "linearity of the finite-difference products": linearity_control,
                             "Hessian-vector products without the decay term": second_control,
                             "GD against the initial kernel instead of the flow": order_control},
                   details=details)


def real_architectures(ctx: Context, details: dict) -> list[dict]:
    """The PyTorch studies of :mod:`verify.experiments.nets.studies` (deep MLPs, CNNs, a transformer on digits and
    MNIST-1D): their findings; their rows and figures go into ``details``. Skipped, and said so, without PyTorch."""
    from verify.experiments.nets.backend import EXTRA, torch_available

    key = "real architectures (PyTorch)"
    if not torch_available():
        details[key] = f"skipped: PyTorch is not installed (pip install 'kernel-flows[{EXTRA}]')"
        return []
    from verify.experiments.nets.studies import BUDGETS, run_studies

    nets = run_studies(BUDGETS[ctx.profile], seed=ctx.seed, device=ctx.device, progress=ctx.progress)
    for name, rows in nets["details"].items():  # top-level entries: the report renders lists of rows as tables
        details[f"{key}: {name}"] = rows
    details["figures"] = details["figures"] + nets["figures"]
    return [f.to_dict() for f in nets["findings"]]


def figures(studies, curvature, data) -> list[dict]:
    """The report's figures of T10 (figure specs, :mod:`verify.campaign.figures`): trace outside the top-C eigenspace
    and NC1 over training at the smallest width, the last-layer kernel rank against width (when several widths ran),
    and the top Hessian and gradient-noise eigenvalues of the ``curvature`` runs."""
    main = [s for s in studies if s["summary"]["data"] == data.name and s["summary"]["decay"] == 1.0
            and s["summary"]["training"] == "GD" and s["summary"]["loss"] == "squared"]
    smallest = min(s["summary"]["width"] for s in main)
    first = [s for s in main if s["summary"]["width"] == smallest]
    x = first[0]["series"]["flow time"]  # every run ends at t = HORIZON, with checkpoints at the same t
    floor = 1e-16
    out = [{"name": "trace-outside-top-C", "title": f"T10: {data.name}, width {smallest}: trace outside the top-C eigenspace",
            "xlabel": "flow time t = η·step", "ylabel": "fraction of tr K", "x": x, "logy": True,
            "series": {s["summary"]["hidden"]: [max(v, floor) for v in s["series"]["outside top-C"]] for s in first}},
           {"name": "collapse", "title": f"T10: {data.name}, width {smallest}: NC1 = tr(Σ_W Σ_B⁺)/C over training",
            "xlabel": "flow time t = η·step", "ylabel": "NC1", "x": x, "logy": True,
            "series": {s["summary"]["hidden"]: s["series"]["NC1"] for s in first}}]
    widths = sorted({s["summary"]["width"] for s in main})
    if len(widths) > 1:
        series = {}
        for hidden in ("relu", "linear"):
            by_width = {s["summary"]["width"]: s["summary"] for s in main if s["summary"]["hidden"] == hidden}
            series[f"{hidden}: effective rank"] = [by_width[w]["effective rank"] for w in widths]
            series[f"{hidden}: numerical rank"] = [by_width[w]["numerical rank"] for w in widths]
        series["C"] = [data.C] * len(widths)
        out.append({"name": "rank-vs-width", "title": f"T10: {data.name}: last-layer kernel rank against width",
                    "xlabel": "width m", "ylabel": "rank", "x": widths, "logx": True, "logy": True, "series": series,
                    "styles": {"C": "k--"}})
    for key, name, title in (("hessian top", "hessian-spectrum", "Hessian: top 3C eigenvalues"),
                             ("noise top", "noise-spectrum", "gradient-noise covariance: top eigenvalues")):
        if curvature:
            size = min(len(h[key]) for _, h in curvature)
            out.append({"name": name, "title": f"T10: {data.name}, {title} (C = {data.C})", "xlabel": "index",
                        "ylabel": "eigenvalue / largest", "x": list(range(1, size + 1)), "logy": True,
                        "series": {hidden: list(np.asarray(h[key][:size]) / h[key][0]) for hidden, h in curvature}})
    return out


register(Claim(
    "T10", "Real networks (scope)",
    "Trained two-layer networks (ReLU and linear hidden layer, GD and SGD, weight decay on all layers) on digits "
    "and Gaussian mixtures: does the last-layer kernel approach rank ≤ C, does neural collapse appear, are there "
    "≈ C Hessian and gradient-noise outliers, does GD follow the coupled flow? Answered by findings with fixed rules.",
    "two-layer networks trained to a fixed flow time t = η·steps with η = STEP_FRACTION/λ_max(∇²L(θ_0)) (exact "
    "Hessian-vector products), decay on every layer; instruments validated on exact cases",
    check, profiles=("full",)))
