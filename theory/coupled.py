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

from theory import notation as nt
from theory.certify import (Derivation, Step, certify_values, evaluate, rational, rational_matrix,
                            rational_orthogonal)
from theory.gradients import derive_gradients, gradient_in, objective, output_gradients, symbolic_matrix
from theory.losses import Loss
from theory.matrix_algebra import coefficients



class CoupledStationarity(Derivation):
    claim = "T5"

    def __init__(self, loss: Loss, seed: int = 0):
        self.loss = loss
        grads = derive_gradients(loss)
        steps = list(grads.steps)
        self.readout_gradient, self.feature_gradient = grads.readout_gradient, grads.feature_gradient
        self.W_dot = -grads.readout_gradient
        self.Phi_dot = -grads.feature_gradient
        # stationarity in W, solved the same way: λ·W + GΦᵀ = 0
        w_parts = coefficients(grads.readout_gradient - nt.G * nt.Phi.T, {"w": nt.W})
        self.W_stationary = -(nt.G * nt.Phi.T) / w_parts["w"]
        steps.append(Step("T5", "coupled flow", "Ẇ = −∂L/∂W = −GΦᵀ − λW and Φ̇ = −∂L/∂Φ = −WᵀG − μΦ (both at once)",
                          sp.MatrixSymbol("dPhi/dt", nt.m, nt.n), self.Phi_dot, grads.step("feature gradient").certificate))

        # stationarity in Φ: the gradient is μ·Φ + (the rest); solve for Φ
        parts = coefficients(grads.feature_gradient - nt.W.T * nt.G, {"phi": nt.Phi})
        self.Phi_stationary = -(nt.W.T * nt.G) / parts["phi"]
        rng = random.Random(seed)
        steps.append(Step("T5", "feature stationarity", "Φ̇ = 0 ⇔ Φ = −WᵀG/μ: every column of Φ lies in range Wᵀ",
                          nt.Phi, self.Phi_stationary, self._certify_feature_stationarity(rng)))
        self.K_stationary = (self.Phi_stationary.T * self.Phi_stationary).doit()
        steps.append(Step("T5", "kernel rank", "K = ΦᵀΦ = GᵀWWᵀG/μ², so rank K ≤ rank W ≤ C",
                          nt.K, self.K_stationary, self._certify_kernel_rank(rng)))

        self.gradient_sum = sp.cancel(sp.together(sum(loss.gradient())))
        self.zero_column_sums = columns_sum_to_zero(loss)
        if self.zero_column_sums:
            steps.append(Step("T5", "zero column sums", "1ᵀg = 0 whenever the targets sum to 1 (derived from ℓ)",
                              sp.Symbol("1^T g"), self.gradient_sum, self._certify_zero_sums(rng)))
            steps.append(Step("T5", "readout in a hyperplane", "λW = −GΦᵀ ⇒ 1ᵀW = 0 ⇒ rank K ≤ rank W ≤ C − 1",
                              sp.Symbol("1^T W"), sp.Integer(0), self._certify_hyperplane(rng)))
            self.rank_bound = "C - 1"
        else:
            self.rank_bound = "C"
        if loss.affine_gradient() == (1, -1):
            steps.append(Step("T5", "coupled = adiabatic (squared loss)",
                              "∂L/∂W = 0 is T1's linear equation, so stationary points have W = W*(Φ) and K at a "
                              "T2 steady state: an exact stationary point built from the water-filling law",
                              sp.Symbol("grad L"), sp.Integer(0), self._certify_exact_stationary_point(rng)))
        steps += fixed_feature_steps(loss, rng)
        self.steps = tuple(steps)

    def _values(self, rng, n, m, C=None, p=None):
        """Random exact values for the symbols of the stationarity expressions (G arbitrary: the
        statements are about any output gradient)."""
        C = C if C is not None else self.loss.C
        values = {nt.n: n, nt.m: m, nt.C: C, nt.W: rational_matrix(rng, C, m), nt.G: rational_matrix(rng, C, n),
                  nt.Phi: rational_matrix(rng, m, n), nt.lam: rational(rng, positive=True),
                  nt.mu: rational(rng, positive=True)}
        if p is not None:
            values.update({nt.p: p, nt.Psi: rational_matrix(rng, p, n)})
        return values

    def _certify_feature_stationarity(self, rng):
        """The derived Φ* makes the (certified) feature gradient WᵀG + μΦ vanish."""
        pairs = []
        for n, m in ((3, 2), (4, 3)):
            values = self._values(rng, n, m)
            values[nt.Phi] = evaluate(self.Phi_stationary, values)
            pairs.append((f"n={n}, m={m}", evaluate(self.feature_gradient, values), sp.zeros(m, n)))
        return certify_values("∂L/∂Φ vanishes at the derived Φ*", pairs)

    def _certify_kernel_rank(self, rng):
        """The derived K* = Φ*ᵀΦ*, evaluated exactly, has rank ≤ C (exact rank over the rationals)."""
        pairs = []
        for n, m in ((5, 4), (6, 6)):
            values = self._values(rng, n, m)
            K = sp.Matrix(evaluate(self.K_stationary, values))
            Phi = sp.Matrix(evaluate(self.Phi_stationary, values))
            pairs.append((f"n={n}, m={m}: K* = Φ*ᵀΦ*", K, Phi.T * Phi))
            pairs.append((f"n={n}, m={m}: rank K* = {K.rank()} ≤ C = {self.loss.C}",
                          sp.Integer(int(K.rank() <= self.loss.C)), sp.Integer(1)))
        return certify_values("K* = Φ*ᵀΦ* with exact rank ≤ C", pairs)

    def _certify_zero_sums(self, rng):
        pairs = []
        for _ in range(3):
            f = [rational(rng) for _ in range(self.loss.C)]
            y = [rational(rng) for _ in range(self.loss.C - 1)]
            y.append(1 - sum(y))
            g = self.loss.gradient().xreplace(dict(zip(self.loss.f, f)) | dict(zip(self.loss.y, y)))
            pairs.append((f"f={f}, y={y}", sp.Matrix([sp.simplify(sum(g))]), sp.Matrix([0])))
        return certify_values("Σ_k ∂ℓ/∂f_k = 0 for targets on the simplex", pairs)

    def _certify_hyperplane(self, rng):
        """The derived W* = −GΦᵀ/λ (from ∂L/∂W = 0) satisfies 1ᵀW* = 0 when the columns of G sum to 0."""
        pairs = []
        C = self.loss.C
        for n, m in ((4, 3), (5, 5)):
            values = self._values(rng, n, m)
            G = rational_matrix(rng, C - 1, n)
            values[nt.G] = sp.ImmutableMatrix(sp.Matrix.vstack(G, -sp.ones(1, C - 1) * G))  # columns sum to 0
            W = sp.Matrix(evaluate(self.W_stationary, values))
            values[nt.W] = W
            pairs.append((f"n={n}, m={m}: ∂L/∂W at W*", evaluate(self.readout_gradient, values), sp.zeros(C, m)))
            pairs.append((f"n={n}, m={m}: 1ᵀW*", sp.ones(1, C) * W, sp.zeros(1, m)))
            pairs.append((f"n={n}, m={m}: rank W* ≤ C − 1", sp.Integer(int(W.rank() <= C - 1)), sp.Integer(1)))
        return certify_values("1ᵀW* = 0 for zero-sum G", pairs)

    def _certify_exact_stationary_point(self, rng):
        """λ = μ = 1, label modes s_i = q_i² with q_i = 1 + r_i²: then κ*_i = q_i − 1 = r_i² is a square and
        Φ = diag(r) Vᵀ (rows for filled modes) is exactly rational; W = W*(Φ) solved exactly."""
        from theory.gradients import entrywise_gradient, exact_optimal_readout

        pairs = []
        for n in (3, 4):
            C = self.loss.C
            V = rational_orthogonal(rng, n)
            r = [rational(rng, positive=True) for _ in range(C)]
            q = [1 + x**2 for x in r]
            Y = sp.Matrix(C, n, lambda i, j: q[i] if i == j else 0) * V.T
            Phi = sp.Matrix(C, n, lambda i, j: r[i] if i == j else 0) * V.T
            W = exact_optimal_readout(self.loss, Phi, Y, 1)
            grad_W = entrywise_gradient(self.loss, "W", W, Phi, Y, 1, 1)
            grad_Phi = entrywise_gradient(self.loss, "Phi", W, Phi, Y, 1, 1)
            pairs.append((f"n={n}, C={C}: ∂L/∂W", grad_W, sp.zeros(*grad_W.shape)))
            pairs.append((f"n={n}, C={C}: ∂L/∂Φ", grad_Phi, sp.zeros(*grad_Phi.shape)))
        return certify_values("(Φ, W*(Φ)) with K = V diag(κ∞) Vᵀ is stationary for the coupled flow", pairs)


def fixed_feature_steps(loss: Loss, rng: random.Random) -> list[Step]:
    """Φ = UΨ with weight decay μ on U: gradient, feature flow, kernel flow and stationarity."""
    grad_U = nt.W.T * nt.G * nt.Psi.T + nt.mu * nt.U  # certified against the entrywise derivative below
    u_parts = coefficients(grad_U - nt.W.T * nt.G * nt.Psi.T, {"u": nt.U})
    U_stationary = -(nt.W.T * nt.G * nt.Psi.T) / u_parts["u"]
    phi_dot = -nt.W.T * nt.G * nt.K_Psi - nt.mu * nt.Phi
    k_dot = -(nt.F.T * nt.G * nt.K_Psi + nt.K_Psi * nt.G.T * nt.F) - 2 * nt.mu * nt.K
    grad_pairs, phi_pairs, k_pairs, stat_pairs = [], [], [], []
    for n, m, p in ((3, 2, 3), (2, 3, 2)):
        C = loss.C
        W, U, Psi, Y = (rational_matrix(rng, C, m), rational_matrix(rng, m, p), rational_matrix(rng, p, n),
                        rational_matrix(rng, C, n))
        lam, mu = rational(rng, positive=True), rational(rng, positive=True)
        free = symbolic_matrix("u", m, p)
        L = objective(loss, W, free * Psi, Y, lam, 0) + mu / 2 * sum(x**2 for x in free)
        entrywise = sp.Matrix(m, p, gradient_in(L, free)).xreplace(dict(zip(free, U)))
        G = output_gradients(loss, W * U * Psi, Y)
        label = f"n={n}, m={m}, p={p}"
        grad_pairs.append((label, entrywise, W.T * G * Psi.T + mu * U))
        Phi, K_Psi = U * Psi, Psi.T * Psi
        Phi_dot = -entrywise * Psi
        F = W * Phi
        phi_pairs.append((label + ": Φ̇", Phi_dot, -W.T * G * K_Psi - mu * Phi))
        k_pairs.append((label + ": K̇", Phi_dot.T * Phi + Phi.T * Phi_dot,
                           -(F.T * G * K_Psi + K_Psi * G.T * F) - 2 * mu * Phi.T * Phi))
        # stationarity is structural (any G): exact ranks need rational entries, so G is drawn at random
        values = {nt.n: n, nt.m: m, nt.C: C, nt.p: p, nt.W: W, nt.G: rational_matrix(rng, C, n), nt.Psi: Psi,
                  nt.mu: mu}
        U_star = sp.Matrix(evaluate(U_stationary, values))
        stat_pairs.append((label + ": ∂L/∂U at the derived U*", evaluate(grad_U, {**values, nt.U: U_star}),
                           sp.zeros(m, p)))
        K_star = (U_star * Psi).T * (U_star * Psi)
        stat_pairs.append((label + f": rank K* = {K_star.rank()} ≤ C", sp.Integer(int(K_star.rank() <= C)),
                           sp.Integer(1)))
    return [
        Step("T5", "fixed-feature gradient", "Φ = UΨ: ∂L/∂U = WᵀGΨᵀ + μU (entrywise derivative of L in U)",
             sp.MatrixSymbol("dL/dU", nt.m, nt.p), grad_U, certify_values("∂L/∂U, entrywise vs matrix form", grad_pairs)),
        Step("T5", "fixed-feature kernel flow", "K̇ = Φ̇ᵀΦ + ΦᵀΦ̇ = −(FᵀG·K_Ψ + K_Ψ·GᵀF) − 2μK",
             sp.MatrixSymbol("dK/dt", nt.n, nt.n), k_dot,
             certify_values("K̇ from the entrywise U-gradient vs the closed form", k_pairs)),
        Step("T5", "fixed-feature stationarity", "U̇ = 0 ⇔ U = −WᵀGΨᵀ/μ, so Φ = UΨ ∈ range Wᵀ and rank K ≤ C",
             nt.U, U_stationary, certify_values("fixed-feature stationarity", stat_pairs)),
        Step("T5", "fixed-feature flow", "Φ̇ = U̇Ψ = −WᵀG·K_Ψ − μΦ: the feature flow carries K_Ψ (UFM: K_Ψ = I)",
             sp.MatrixSymbol("dPhi/dt", nt.m, nt.n), phi_dot,
             certify_values("Φ̇ from the entrywise U-gradient vs the closed form", phi_pairs)),
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
    return CoupledStationarity(loss)
