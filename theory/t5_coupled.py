"""T5 — coupled feature–readout dynamics: every stationary point has rank K ≤ rank W ≤ C.

Without time-scale separation, gradient flow on L(W, Φ) = Σ_i ℓ(Wφ_i, y_i) + (λ/2)‖W‖² + (μ/2)‖Φ‖²
(any differentiable ℓ) is

    Ẇ = −GΦᵀ − λW,      Φ̇ = −WᵀG − μΦ                   (chain rule, certified in theory.gradients)

Stationarity in Φ gives Φ = −WᵀG/μ: every column of Φ lies in range Wᵀ, so
K = ΦᵀΦ = GᵀWWᵀG/μ² has rank ≤ rank W ≤ C. When the columns of G sum to zero (derived from the
loss: softmax cross-entropy with probability-vector targets), stationarity in W gives
1ᵀW = −(1ᵀG)Φᵀ/λ = 0, so rank W ≤ C − 1. For the squared loss stationarity in W is T1's linear
equation, so coupled steady states are the adiabatic ones of T2–T3 (certified on an exact stationary
point built from the water-filling law). The fixed-feature model Φ = UΨ (weight decay on U) has
Φ̇ = −WᵀG·K_Ψ − μΦ, K̇ = −(FᵀG·K_Ψ + K_Ψ·GᵀF) − 2μK and the same rank bounds.

>>> from theory.losses import softmax_cross_entropy
>>> t5 = derive_coupled(softmax_cross_entropy(3))
>>> t5.rank_bound, t5.certified
('C - 1', True)
"""
from __future__ import annotations

import random
from functools import lru_cache

import sympy as sp

from theory import limits, notation as nt
from theory.certify import (
    AgainstTruth,
    AllOf,
    Derivation,
    ExactRank,
    Identity,
    Predicate,
    Step,
    compare,
    rational,
    rational_matrix,
    rational_orthogonal,
    standard_instance,
)
from theory.gradients import (
    chain_rule_instances,
    derive_gradients,
    entrywise_truth,
    gradient_at,
    objective,
    output_gradients,
    symbolic_matrix,
)
from theory.losses import Loss
from theory.matrix_algebra import coefficients
from theory.t2_kernel_ode import kernel_velocity


def coupled_instance(rng: random.Random, dims, zero_sums: bool = False) -> dict:
    """Exact values for the stationarity statements, which hold for *any* output gradient G: random
    rational W, Φ, Y, λ, μ and an independent random G (columns summing to 0 if ``zero_sums``)."""
    values = standard_instance(rng, dims)
    C, n = values[nt.C], values[nt.n]
    G = rational_matrix(rng, C, n)
    if zero_sums:
        G = sp.ImmutableMatrix(sp.Matrix.vstack(G[:-1, :], -sp.ones(1, C - 1) * G[:-1, :]))
    values[nt.G] = G
    return values


def fixed_feature_instances(loss: Loss, seed: int, sizes=((3, 2, 3), (2, 3, 2))) -> list:
    """[(label, values)] for Φ = UΨ: random rational W, U, Ψ, Y, λ, μ, with G = [∇_f ℓ] at F = WUΨ."""
    rng = random.Random(seed)
    out = []
    for n, m, p in sizes:
        C = loss.C
        W, U, Psi, Y = (rational_matrix(rng, C, m), rational_matrix(rng, m, p), rational_matrix(rng, p, n),
                        rational_matrix(rng, C, n))
        Phi = sp.ImmutableMatrix(U * Psi)
        values = {nt.n: n, nt.m: m, nt.p: p, nt.C: C, nt.W: W, nt.U: U, nt.Psi: Psi, nt.Y: Y, nt.Phi: Phi,
                  nt.F: sp.ImmutableMatrix(W * Phi), nt.K: sp.ImmutableMatrix(Phi.T * Phi),
                  nt.K_Psi: sp.ImmutableMatrix(Psi.T * Psi), nt.G: output_gradients(loss, W * Phi, Y),
                  nt.lam: rational(rng, positive=True), nt.mu: rational(rng, positive=True)}
        out.append((f"n={n}, m={m}, p={p}, C={C}", values))
    return out


def entrywise_U_gradient(loss: Loss, v: dict) -> sp.Matrix:
    """∂/∂U [L(W, UΨ) + (μ/2)‖U‖²] by scalar differentiation (W held fixed, no readout decay needed)."""
    U, Psi = v[nt.U], v[nt.Psi]
    free = symbolic_matrix("u", *U.shape)
    L = objective(loss, v[nt.W], free * Psi, v[nt.Y], v[nt.lam], 0) + v[nt.mu] / 2 * sum(x**2 for x in free)
    return sp.Matrix(*U.shape, gradient_at(L, free, dict(zip(free, U))))


class CoupledStationarity(Derivation):
    """T5 for one loss: stationary points of the coupled feature–readout flow (built by :func:`derive_coupled`).

    ``Phi_dot`` = −WᵀG − μΦ and ``W_dot`` = −GΦᵀ − λW are the two flows (from ``readout_gradient`` and
    ``feature_gradient``); at a stationary point ``Phi_stationary`` = −WᵀG/μ, ``W_stationary`` = −GΦᵀ/λ and
    ``K_stationary`` = GᵀWWᵀG/μ², so rank K ≤ rank G ≤ C. ``gradient_sum`` is Σ_c ∂ℓ/∂f_c and ``zero_column_sums``
    whether it vanishes (softmax cross-entropy), which gives ``rank_bound`` "C - 1" instead of "C"."""

    claim = "T5"

    def __init__(self, loss: Loss, seed: int = 0):
        self.loss = loss
        grads = derive_gradients(loss)
        steps = list(grads.steps)
        C = loss.C
        self.readout_gradient, self.feature_gradient = grads.readout_gradient, grads.feature_gradient
        self.W_dot = -grads.readout_gradient
        self.Phi_dot = -grads.feature_gradient
        chain = lambda s: (lambda: chain_rule_instances(loss, s))  # noqa: E731
        steps.append(Step("T5", "coupled flow", "Φ̇ = −∂L/∂Φ = −WᵀG − μΦ, run together with the readout flow",
                          sp.MatrixSymbol("dPhi/dt", nt.m, nt.n), self.Phi_dot,
                          AgainstTruth("Φ̇ = minus the entrywise derivative of L in Φ",
                                       lambda v: -entrywise_truth(loss, "Phi")(v), chain(seed))))
        steps.append(Step("T5", "readout flow", "Ẇ = −∂L/∂W = −GΦᵀ − λW (no time-scale separation)",
                          sp.MatrixSymbol("dW/dt", nt.C, nt.m), self.W_dot,
                          AgainstTruth("Ẇ = minus the entrywise derivative of L in W",
                                       lambda v: -entrywise_truth(loss, "W")(v), chain(seed + 1))))

        # stationarity in Φ: the gradient is μ·Φ + (the rest); solve for Φ
        parts = coefficients(grads.feature_gradient - nt.W.T * nt.G, {"phi": nt.Phi})
        self.Phi_stationary = -(nt.W.T * nt.G) / parts["phi"]
        steps.append(Step("T5", "feature stationarity", "Φ̇ = 0 ⇔ Φ = −WᵀG/μ: every column of Φ lies in range Wᵀ",
                          nt.Phi, self.Phi_stationary,
                          AgainstTruth("∂L/∂Φ (entrywise) = μ(Φ − Φ*), so it vanishes exactly at Φ = Φ*",
                                       entrywise_truth(loss, "Phi"), chain(seed + 2),
                                       side=lambda lhs, rhs: nt.mu * (nt.Phi - rhs))))
        self.K_stationary = (self.Phi_stationary.T * self.Phi_stationary).doit()
        big = {nt.n: C + 3, nt.m: C + 2, nt.C: C}
        steps.append(Step("T5", "kernel rank", "K = Φ*ᵀΦ* = GᵀWWᵀG/μ², so rank K ≤ rank W ≤ C (any G)",
                          self.Phi_stationary.T * self.Phi_stationary, self.K_stationary,
                          AllOf(Identity("Φ*ᵀΦ* = GᵀWWᵀG/μ²", sample=coupled_instance, seed=seed + 3,
                                         sizes=({nt.n: 3, nt.m: 2, nt.C: C}, {nt.n: 2, nt.m: 4, nt.C: C})),
                                ExactRank("rank K* ≤ C", lambda v: v[nt.C], sizes=(big,), sample=coupled_instance,
                                          seed=seed + 4))))

        self.gradient_sum = sp.cancel(sp.together(sum(loss.gradient())))
        self.zero_column_sums = columns_sum_to_zero(loss)
        w_parts = coefficients(grads.readout_gradient - nt.G * nt.Phi.T, {"w": nt.W})
        self.W_stationary = -(nt.G * nt.Phi.T) / w_parts["w"]
        steps.append(Step("T5", "readout stationarity", "Ẇ = 0 ⇔ W = −GΦᵀ/λ",
                          nt.W, self.W_stationary,
                          AgainstTruth("∂L/∂W (entrywise) = λ(W − W*), so it vanishes exactly at W = W*",
                                       entrywise_truth(loss, "W"), chain(seed + 5),
                                       side=lambda lhs, rhs: nt.lam * (nt.W - rhs))))
        if self.zero_column_sums:
            on_simplex = {loss.y[-1]: 1 - sum(loss.y[:-1])}
            steps.append(Step("T5", "zero column sums", "1ᵀg = 0 whenever the targets sum to 1 (derived from ℓ)",
                              sum(loss.gradient()).xreplace(on_simplex), sp.Integer(0),
                              Identity("Σ_k ∂ℓ/∂f_k = 0 for targets on the simplex", sizes=(),
                                       instances=lambda: _simplex_points(loss, seed + 6))))
            zero = lambda rng, dims: coupled_instance(rng, dims, zero_sums=True)  # noqa: E731
            steps.append(Step("T5", "readout in a hyperplane", "λW* = −GΦᵀ with 1ᵀG = 0 ⇒ 1ᵀW* = 0",
                              sp.OneMatrix(1, nt.C) * self.W_stationary, sp.ZeroMatrix(1, nt.m),
                              Identity("1ᵀW* = 0 when the columns of G sum to 0", sample=zero, seed=seed + 7,
                                       sizes=({nt.n: 4, nt.m: 3, nt.C: C}, {nt.n: 5, nt.m: 5, nt.C: C}))))
            K_collapsed = self.K_stationary.xreplace({nt.W: self.W_stationary})
            steps.append(Step("T5", "kernel rank C − 1", "K* = GᵀW*W*ᵀG/μ² with rank W* ≤ C − 1, so rank K* ≤ C − 1",
                              K_collapsed, K_collapsed.doit(),
                              AllOf(Identity("K* at W = W*", sample=zero, seed=seed + 8,
                                             sizes=({nt.n: 3, nt.m: 2, nt.C: C},)),
                                    ExactRank("rank K* ≤ C − 1", lambda v: v[nt.C] - 1, sample=zero, seed=seed + 9,
                                              sizes=({nt.n: C + 2, nt.m: C + 2, nt.C: C},)))))
            self.rank_bound = "C - 1"
        else:
            self.rank_bound = "C"
        if loss.affine_gradient() == (1, -1):
            from theory.t3_water_filling import derive_water_filling

            steps.append(Step("T5", "coupled = adiabatic (squared loss)",
                              "κ = κ*(s) = √(λs/μ) − λ on each label mode (the water-filling law) with W = W*(Φ) is an "
                              "exact stationary point of the coupled flow",
                              sp.Symbol("kappa"), derive_water_filling(loss).kappa_star, self._law_stationary_check(seed + 10)))
        steps += fixed_feature_steps(loss, seed + 11)
        self.steps = tuple(steps)

    def _law_stationary_check(self, seed) -> Predicate:
        """λ = μ = 1, label modes s_i = q_i² with q_i = 1 + r_i²: Φ = diag(√κ_i) V_Cᵀ with κ_i = rhs(s_i) and W = W*(Φ)
        solved exactly; both entrywise gradients of L must vanish (exactly, or at 60 digits for irrational κ)."""
        from theory.gradients import entrywise_gradient, exact_optimal_readout

        rng = random.Random(seed)
        C = self.loss.C
        cases = []
        for n in (C + 1, C + 2):
            V = rational_orthogonal(rng, n)
            r = [rational(rng, positive=True) for _ in range(C)]
            cases.append((n, V, [1 + x**2 for x in r]))

        def decide(lhs, rhs):
            trials = []
            for n, V, q in cases:
                label = f"n={n}, C={C}, λ = μ = 1"
                trials.append(label)
                kappas = [rhs.subs({nt.s: x**2, nt.lam: 1, nt.mu: 1}) for x in q]
                if any(not (k.is_real and k >= 0) for k in kappas):
                    return False, trials, f"κ = {kappas} is not a valid spectrum at {label}"
                Y = sp.Matrix(C, n, lambda i, j: q[i] if i == j else 0) * V.T
                Phi = sp.Matrix(C, n, lambda i, j: sp.sqrt(kappas[i]) if i == j else 0) * V.T
                W = exact_optimal_readout(self.loss, Phi, Y, 1)
                for which in ("W", "Phi"):
                    grad = entrywise_gradient(self.loss, which, W, Phi, Y, 1, 1)
                    ok, _, detail = compare(grad, sp.zeros(*grad.shape))
                    if not ok:
                        return False, trials, f"∂L/∂{which} ≠ 0 at {label}: {detail}"
            return True, trials, ""

        return Predicate("(Φ, W*(Φ)) with K = V diag(κ*(s)) Vᵀ is stationary for the coupled flow", decide,
                         "exact evaluation of both entrywise gradients")


def _simplex_points(loss: Loss, seed: int) -> list:
    """Random rational outputs f, with targets y_1..y_{C−1} (y_C = 1 − Σ is already substituted)."""
    rng = random.Random(seed)
    out = []
    for _ in range(3):
        f = [rational(rng) for _ in range(loss.C)]
        y = [rational(rng) for _ in range(loss.C - 1)]
        out.append((f"f={f}, y={y + [1 - sum(y)]}", dict(zip(loss.f, f)) | dict(zip(loss.y[:-1], y))))
    return out


def fixed_feature_steps(loss: Loss, seed: int) -> list[Step]:
    """Φ = UΨ with weight decay μ on U: gradient, feature flow, kernel flow and stationarity."""
    grad_U = nt.W.T * nt.G * nt.Psi.T + nt.mu * nt.U
    u_parts = coefficients(grad_U - nt.W.T * nt.G * nt.Psi.T, {"u": nt.U})
    U_stationary = -(nt.W.T * nt.G * nt.Psi.T) / u_parts["u"]
    phi_dot = -nt.W.T * nt.G * nt.K_Psi - nt.mu * nt.Phi
    k_dot = -(nt.F.T * nt.G * nt.K_Psi + nt.K_Psi * nt.G.T * nt.F) - 2 * nt.mu * nt.K
    cases = lambda s: (lambda: fixed_feature_instances(loss, s))  # noqa: E731
    gradient = lambda v: entrywise_U_gradient(loss, v)  # noqa: E731
    feature_velocity = lambda v: -gradient(v) * v[nt.Psi]  # noqa: E731
    C = loss.C

    def fixed_instance(rng, dims):  # any G: the stationarity statement is structural
        values = coupled_instance(rng, dims)
        values[nt.p], values[nt.Psi] = dims[nt.p], rational_matrix(rng, dims[nt.p], dims[nt.n])
        return values

    K_star = (U_stationary * nt.Psi).T * (U_stationary * nt.Psi)
    return [
        Step("T5", "fixed-feature gradient", "Φ = UΨ: ∂L/∂U = WᵀGΨᵀ + μU (entrywise derivative of L in U)",
             sp.MatrixSymbol("dL/dU", nt.m, nt.p), grad_U,
             AgainstTruth("∂L/∂U, matrix form vs the entrywise derivative", gradient, cases(seed))),
        Step("T5", "fixed-feature kernel flow", "K̇ = Φ̇ᵀΦ + ΦᵀΦ̇ = −(FᵀG·K_Ψ + K_Ψ·GᵀF) − 2μK",
             sp.MatrixSymbol("dK/dt", nt.n, nt.n), k_dot,
             AgainstTruth("K̇ = d/dt (Φ + tΦ̇)ᵀ(Φ + tΦ̇) with Φ̇ = −(entrywise ∂L/∂U)Ψ",
                          lambda v: kernel_velocity(v[nt.Phi], feature_velocity(v)), cases(seed + 1))),
        Step("T5", "fixed-feature stationarity", "U̇ = 0 ⇔ U = −WᵀGΨᵀ/μ, so Φ = UΨ ∈ range Wᵀ",
             nt.U, U_stationary,
             AgainstTruth("∂L/∂U (entrywise) = μ(U − U*), so it vanishes exactly at U = U*", gradient, cases(seed + 2),
                          side=lambda lhs, rhs: nt.mu * (nt.U - rhs))),
        Step("T5", "fixed-feature kernel rank", "K* = (U*Ψ)ᵀ(U*Ψ) = ΨᵀGᵀWWᵀGΨ·…/μ² has rank ≤ rank W ≤ C",
             K_star, K_star.doit(),
             AllOf(Identity("(U*Ψ)ᵀ(U*Ψ) expanded", sample=fixed_instance, seed=seed + 3,
                            sizes=({nt.n: 3, nt.m: 2, nt.p: 2, nt.C: C},)),
                   ExactRank("rank K* ≤ C", lambda v: v[nt.C], sample=fixed_instance, seed=seed + 4,
                             sizes=({nt.n: C + 3, nt.m: C + 2, nt.p: C + 2, nt.C: C},)))),
        Step("T5", "fixed-feature flow", "Φ̇ = U̇Ψ = −WᵀG·K_Ψ − μΦ: the feature flow carries K_Ψ (UFM: K_Ψ = I)",
             sp.MatrixSymbol("dPhi/dt", nt.m, nt.n), phi_dot,
             AgainstTruth("Φ̇ = −(entrywise ∂L/∂U)Ψ", feature_velocity, cases(seed + 5))),
    ]


@lru_cache(maxsize=None)
def columns_sum_to_zero(loss: Loss) -> bool:
    """Whether Σ_k ∂ℓ/∂f_k simplifies to 0 once the targets sum to 1 (then rank K ≤ C − 1 at stationarity)."""
    if loss.C < 2:
        return False
    on_simplex = {loss.y[-1]: 1 - sum(loss.y[:-1])}
    # together + cancel decides sums of fractions (softmax) quickly; a zero it misses only weakens the bound to C
    return sp.cancel(sp.together(sum(loss.gradient()).xreplace(on_simplex))) == 0


def rank_bound(loss: Loss) -> int:
    """The derived bound on rank K at stationary points of the coupled flow: C, or C − 1 (zero column sums)."""
    return loss.C - 1 if columns_sum_to_zero(loss) else loss.C


@lru_cache(maxsize=None)
def derive_coupled(loss: Loss) -> CoupledStationarity:
    """T5 for ``loss`` (any differentiable per-sample loss), certified and cached."""
    with limits.time_limit(f"derive_coupled({loss.name})"):
        return CoupledStationarity(loss)
