"""T9 — fixed features with orthonormal rows: the kernel flow is T2 in p dimensions with labels YΨᵀ.

Fixed-feature model (docs/theory.md#setting): Φ = UΨ with Ψ (p × n) fixed and U (m × p) trained with
weight decay μ. With M = UᵀU (p × p, PSD):

    K = ΦᵀΦ = ΨᵀMΨ,        ‖U‖² = tr M.

When Ψ has orthonormal rows (ΨΨᵀ = I_p; e.g. whitened inputs on the training set) the push-through
(Woodbury) identity (λI_n + ΨᵀMΨ)⁻¹ = (I_n − Ψᵀ(λI_p + MΨΨᵀ)⁻¹MΨ)/λ, valid for any Ψ, becomes

    (K + λI_n)⁻¹ = Ψᵀ(M + λI_p)⁻¹Ψ + (I_n − ΨᵀΨ)/λ,        (K + λI_n)⁻¹Ψᵀ = Ψᵀ(M + λI_p)⁻¹,

and tr K = tr M. Hence T1's reduced objective at K = ΨᵀMΨ is T1's reduced objective *at size p, in M,
with labels Ỹ = YΨᵀ* plus the constant ½‖Y(I_n − ΨᵀΨ)‖²; the adiabatic flow of M is T2's kernel ODE
at size p with labels Ỹ (and K̇ = ΨᵀṀΨ), so its steady state M∞ obeys T3 with s̃ = σ(Ỹ)². The
compressed kernel extends to new inputs, k∞(x, x') = ψ(x)ᵀM∞ψ(x'); kernel-ridge predictions are
f(ψ) = Y(K + λI)⁻¹ΨᵀMψ = Ỹ(M + λI)⁻¹Mψ; the effective degrees of freedom are
tr K(K + λI)⁻¹ = tr M(M + λI)⁻¹. At the steady state a label mode with singular value σ of Ỹ enters
the predictor with weight σκ∞/(κ∞ + λ) = σ − √(λμ): soft thresholding of the singular values of Ỹ
(so T5's nuclear-norm regression and T3 agree here, not only for K_Ψ = I).

Every step is certified by exact evaluation on rational instances (Ψ = rows of an exactly orthogonal
Cayley matrix); the reductions are also certified against independent ground truth — the objective at
the exactly solved readout, the entrywise U-gradient — and an exact stationary point built from the
law with Ỹ. :func:`reduction_certificate` re-runs the key identities with a generic (non-orthonormal)
Ψ: it must fail, and does.

>>> t9 = derive_fixed_features(2)
>>> t9.certified
True
>>> reduction_certificate("generic").passed
False
"""
from __future__ import annotations

import random
from collections.abc import Mapping
from functools import lru_cache

import sympy as sp

from theory import notation as nt
from theory.certify import (
    AgainstTruth,
    AllOf,
    Certificate,
    Definition,
    Derivation,
    Identity,
    Predicate,
    Step,
    SymbolicZero,
    compare,
    instances_at,
    rational,
    rational_matrix,
    rational_orthogonal,
)
from theory.gradients import (
    exact_optimal_readout,
    gradient_at,
    objective,
    symbolic_matrix,
)
from theory.losses import squared
from theory.matrix_algebra import from_scalar, to_scalar
from theory.t1_readout import derive_readout
from theory.t2_kernel_ode import derive_kernel_ode
from theory.t3_water_filling import derive_water_filling

#: M = UᵀU, the p × p kernel of the trainable layer; K = ΨᵀMΨ
M = sp.MatrixSymbol("M", nt.p, nt.p)
#: Ỹ = YΨᵀ, the labels seen through the fixed features (C × p)
Ytilde = sp.MatrixSymbol("Ytilde", nt.C, nt.p)
#: ψ(x), the fixed features of one new input (p × 1)
psi = sp.MatrixSymbol("psi", nt.p, 1)
I_p = sp.Identity(nt.p)
#: σ, a singular value of Ỹ (s = σ²)
sigma = sp.Symbol("sigma", positive=True)

ROWS = ("orthonormal", "generic")


def fixed_feature_instance(rng: random.Random, dims: Mapping, rows: str = "orthonormal") -> dict:
    """Exact values for the T9 symbols at sizes ``dims`` (n, p, m, C).

    Ψ: the first p rows of an exactly orthogonal rational n × n matrix (``rows="orthonormal"``), or a random
    rational p × n matrix (``rows="generic"``, for identities that hold for any Ψ and for negative controls);
    U random rational (m × p), M = UᵀU, Φ = UΨ, K = ΨᵀMΨ, Y random rational (C × n), Ỹ = YΨᵀ, ψ random (p × 1).
    """
    if rows not in ROWS:
        raise ValueError(f"rows must be one of {ROWS}, got {rows!r}")
    n, p, m, C = (int(dims[s]) for s in (nt.n, nt.p, nt.m, nt.C))
    if not 1 <= p <= n:
        raise ValueError(f"orthonormal rows need 1 <= p <= n, got p={p}, n={n}")
    Psi = (sp.ImmutableMatrix(rational_orthogonal(rng, n)[:p, :]) if rows == "orthonormal"
           else rational_matrix(rng, p, n))
    U = rational_matrix(rng, m, p)
    Y = rational_matrix(rng, C, n)
    Mv = sp.ImmutableMatrix(U.T * U)
    return {nt.n: n, nt.p: p, nt.m: m, nt.C: C, nt.Psi: Psi, nt.U: U, M: Mv, nt.Phi: sp.ImmutableMatrix(U * Psi),
            nt.K: sp.ImmutableMatrix(Psi.T * Mv * Psi), nt.K_Psi: sp.ImmutableMatrix(Psi.T * Psi), nt.Y: Y,
            Ytilde: sp.ImmutableMatrix(Y * Psi.T), psi: rational_matrix(rng, p, 1),
            nt.lam: rational(rng, positive=True), nt.mu: rational(rng, positive=True)}


def _sizes(C: int):
    """p < n with m < p (M singular, as at a steady state), p < n with m > p, and p = n (Ψ square)."""
    return ({nt.n: 3, nt.p: 2, nt.m: 1, nt.C: C}, {nt.n: 4, nt.p: 3, nt.m: 4, nt.C: C},
            {nt.n: 3, nt.p: 3, nt.m: 2, nt.C: C})


def _sampler(rows: str):
    return lambda rng, dims: fixed_feature_instance(rng, dims, rows)


def _label(dims: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in dims.items())


def at_size_p(expr, labels=Ytilde):
    """A T1/T2 expression in (K, Y) at size n, rewritten at size p in (M, ``labels``): n → p, K → M, Y → Ỹ."""
    moved = expr.subs(nt.n, nt.p)
    return moved.xreplace({sp.MatrixSymbol("K", nt.p, nt.p): M, sp.MatrixSymbol("Y", nt.C, nt.p): labels})


def matrix_function(function: sp.Expr, variable: sp.Symbol, X, identity):
    """r(X) for a rational r, written term by term from its partial fractions (c·I + Σ a(X + bI)⁻¹ ...)."""
    terms = sp.Add.make_args(sp.apart(sp.cancel(function), variable))
    parts = [from_scalar(term, variable, X, identity) for term in terms]
    return sp.MatAdd(*parts).doit() if len(parts) > 1 else parts[0]


class FixedFeatureCompression(Derivation):
    """T9: fixed features Φ = UΨ with orthonormal rows reduce T2/T3 to p dimensions (built by
    :func:`derive_fixed_features`).

    With M = UᵀU, ``K`` = ΨᵀMΨ; ``resolvent`` (K + λI)⁻¹ = Ψᵀ(M + λI)⁻¹Ψ + (I − ΨᵀΨ)/λ and ``push_through`` (K +
    λI)⁻¹Ψᵀ = Ψᵀ(M + λI)⁻¹ rewrite the resolvent in p dimensions, ``reduced_objective`` is min_W L as a function of M
    (``reduced_at_K`` before the reduction, ``constant`` the part that does not depend on M), and ``flow`` the kernel
    ODE for M with labels Ỹ = YΨᵀ, whose modes fill to ``kappa_star`` (T3). For held-out error: ``predictor``, the
    degrees of freedom ``dof`` = tr M(M + λI)⁻¹, and per mode ``mode_weight``, ``mode_dof``, ``mode_bias`` and
    ``mode_variance``. ``loss`` is the squared loss for C outputs."""

    claim = "T9"

    def __init__(self, C: int = 2, seed: int = 0):
        loss = squared(C)
        self.loss = loss
        sizes = _sizes(C)
        ortho, generic = _sampler("orthonormal"), _sampler("generic")
        Psi, lam, mu = nt.Psi, nt.lam, nt.mu
        steps = []

        self.K = Psi.T * M * Psi
        steps.append(Step("T9", "fixed-feature kernel", "Φ = UΨ ⇒ K = ΦᵀΦ = ΨᵀMΨ with M = UᵀU (any Ψ)",
                          nt.Phi.T * nt.Phi, self.K,
                          Definition("M := UᵀU; (UΨ)ᵀ(UΨ) = Ψᵀ(UᵀU)Ψ by associativity")))
        steps.append(Step("T9", "orthonormal rows", "assumption: ΨΨᵀ = I_p (whitened inputs; p ≤ n)",
                          Psi * Psi.T, I_p,
                          Definition("the hypothesis of the reduction (reduction_certificate('generic') shows it is "
                                     "needed)", kind="assumption")))
        steps.append(Step("T9", "penalty", "‖U‖² = tr M = tr ΨᵀMΨ = tr K: the decay on U is the decay on Φ",
                          sp.Trace(self.K), sp.Trace(M),
                          Identity("tr ΨᵀMΨ = tr M", sizes=sizes, sample=ortho,
                                           seed=seed + 2)))

        # push-through (I + AB)⁻¹ = I − A(I + BA)⁻¹B with A = Ψᵀ, B = MΨ/λ: holds for any Ψ
        resolvent = (self.K + lam * nt.I_n).I
        woodbury = (nt.I_n - Psi.T * (lam * I_p + M * Psi * Psi.T).I * M * Psi) / lam
        steps.append(Step("T9", "Woodbury", "(λI_n + ΨᵀMΨ)⁻¹ = (I_n − Ψᵀ(λI_p + MΨΨᵀ)⁻¹MΨ)/λ for any Ψ",
                          resolvent, woodbury,
                          Identity("push-through Woodbury", sizes=sizes, sample=generic,
                                           seed=seed + 3)))
        # ΨΨᵀ = I_p turns Woodbury's (λI_p + MΨΨᵀ)⁻¹M into (M + λI)⁻¹M = I − λ(M + λI)⁻¹ (a scalar function of
        # the eigenvalues of M); collected, the closed form below (certified against the resolvent itself)
        self.resolvent = (Psi.T * (M + lam * I_p).I * Psi + (nt.I_n - Psi.T * Psi) / lam)
        steps.append(Step("T9", "resolvent",
                          "ΨΨᵀ = I_p and (M + λI)⁻¹M = I − λ(M + λI)⁻¹ (derived as a scalar function of the "
                          "eigenvalue of M) give (K + λI)⁻¹ = Ψᵀ(M + λI)⁻¹Ψ + (I − ΨᵀΨ)/λ",
                          resolvent, self.resolvent,
                          Identity("(K + λI)⁻¹ = Ψᵀ(M + λI)⁻¹Ψ + (I − ΨᵀΨ)/λ for orthonormal Ψ", sizes=sizes,
                                   sample=ortho, seed=seed + 4)))
        self.push_through = Psi.T * (M + lam * I_p).I
        steps.append(Step("T9", "push-through", "(K + λI_n)⁻¹Ψᵀ = Ψᵀ(M + λI_p)⁻¹ since (I − ΨᵀΨ)Ψᵀ = 0",
                          resolvent * Psi.T, self.push_through,
                          Identity("(K + λI)⁻¹Ψᵀ = Ψᵀ(M + λI)⁻¹", sizes=sizes, sample=ortho, seed=seed + 5)))

        # T1's reduced objective, at K = ΨᵀMΨ, against the same derived expression at size p in (M, Ỹ)
        t1 = derive_readout(loss).reduced_objective
        self.reduced_at_K = t1.xreplace({nt.K: self.K})
        self.constant = sp.Trace(nt.Y * (nt.I_n - Psi.T * Psi) * nt.Y.T) / 2
        self.reduced_objective = at_size_p(t1) + self.constant
        steps.append(Step("T9", "reduced objective",
                          "min_W L(W, UΨ) = T1's reduced objective at size p in M with labels Ỹ = YΨᵀ, plus "
                          "½‖Y(I − ΨᵀΨ)‖² (independent of M)", self.reduced_at_K, self.reduced_objective,
                          self._objective_check(loss, sizes, seed + 6)))

        # the adiabatic flow: U̇ = −∂L/∂U at the optimal readout; Ṁ = U̇ᵀU + UᵀU̇ closes in M
        ode = derive_kernel_ode(loss)
        self.flow = at_size_p(ode.rhs)
        steps.append(Step("T9", "compressed flow",
                          "Ṁ = U̇ᵀU + UᵀU̇ = M·D̃ + D̃·M − 2μM, D̃ = λ(M + λI)⁻¹ỸᵀỸ(M + λI)⁻¹ (T2 at size p, "
                          "labels Ỹ); K̇ = ΨᵀṀΨ", sp.MatrixSymbol("dM/dt", nt.p, nt.p), self.flow,
                          AgainstTruth("Ṁ = U̇ᵀU + UᵀU̇ with U̇ the entrywise U-gradient of L(W*(UΨ), UΨ) + (μ/2)‖U‖²",
                                       lambda v: self._exact_M_dot(loss, v),
                                       lambda: instances_at(({nt.n: 3, nt.p: 2, nt.m: 2, nt.C: C},
                                                             {nt.n: 4, nt.p: 3, nt.m: 2, nt.C: C}), seed + 7, ortho))))
        self.kappa_star = derive_water_filling().kappa_star
        steps.append(Step("T9", "compressed steady state",
                          "M∞ = V diag(κ∞(s̃)) Vᵀ from the T3 law with s̃ = σ(YΨᵀ)² (V: right singular vectors of "
                          "Ỹ) makes ∂L/∂W and ∂L/∂U vanish: an exact stationary point of the fixed-feature model",
                          sp.Symbol("kappa(s~)"), self.kappa_star, self._steady_state_check(loss, seed + 8)))

        self.predictor = Ytilde * (M + lam * I_p).I * M * psi
        raw = nt.Y * resolvent * Psi.T * M * psi
        steps.append(Step("T9", "kernel-ridge predictor",
                          "f(x) = Y(K + λI)⁻¹k(x) with k(x) = ΨᵀMψ(x) equals Ỹ(M + λI)⁻¹Mψ(x) (p × n work)",
                          raw, self.predictor,
                          Identity("Y(K + λI)⁻¹ΨᵀMψ = Ỹ(M + λI)⁻¹Mψ", sizes=sizes, sample=ortho, seed=seed + 9)))
        self.dof = sp.Trace(M * (M + lam * I_p).I)
        dof_K = sp.Trace(self.K * resolvent)
        steps.append(Step("T9", "degrees of freedom", "Σκ/(κ + λ) = tr K(K + λI)⁻¹ = tr M(M + λI)⁻¹",
                          dof_K, self.dof,
                          Identity("tr K(K + λI)⁻¹ = tr M(M + λI)⁻¹", sizes=sizes, sample=ortho, seed=seed + 10)))

        star = self.kappa_star.subs(nt.s, sigma**2)
        self.mode_weight = sp.simplify(sigma * star / (star + lam))
        self.mode_dof = sp.simplify(star / (star + lam))
        steps.append(Step("T9", "soft thresholding",
                          "at κ∞ = √(λs̃/μ) − λ (s̃ = σ² > λμ): the predictor weight σκ∞/(κ∞ + λ) = σ − √(λμ) and "
                          "κ∞/(κ∞ + λ) = 1 − √(λμ)/σ < 1, so df(K∞) = Σ(1 − √(λμ)/σ)₊ < rank Ỹ ≤ C",
                          sp.Matrix([sigma * star / (star + lam), star / (star + lam)]),
                          sp.Matrix([sigma - sp.sqrt(lam * mu), 1 - sp.sqrt(lam * mu) / sigma]),
                          SymbolicZero("mode weight and df of the water-filled mode", assumptions="σ, λ, μ > 0")))

        # the textbook per-mode bias and variance of kernel ridge regression, for a kernel independent of the labels
        bias_op = nt.I_n - nt.K * (nt.K + lam * nt.I_n).I
        bias_closed = lam * (nt.K + lam * nt.I_n).I
        self.mode_bias = sp.factor(to_scalar(bias_closed, {nt.K: nt.kappa}))
        self.mode_variance = sp.factor(to_scalar(nt.K * (nt.K + lam * nt.I_n).I, {nt.K: nt.kappa}) ** 2)
        steps.append(Step("T9", "fixed-kernel bias and variance",
                          f"for fixed K and Y = Θ + noise: E f − Θ = −Θλ(K + λI)⁻¹ (per mode {self.mode_bias}, bias² "
                          f"∝ its square), noise passes through K(K + λI)⁻¹ (variance ∝ {self.mode_variance}); "
                          "K∞ depends on Y, so these hold for the raw kernel only", bias_op, bias_closed,
                          Identity("I − K(K + λI)⁻¹ = λ(K + λI)⁻¹", seed=seed + 11)))
        self.steps = tuple(steps)

    # ------------------------------------------------------------------------------------------
    def _objective_check(self, loss, sizes, seed, rows="orthonormal") -> AllOf:
        """Both forms evaluated exactly, and the rhs against L(W*, UΨ) + (μ/2)‖U‖² with W* solved entrywise."""
        sample = _sampler(rows)

        def truth(v):
            W = exact_optimal_readout(loss, v[nt.Phi], v[nt.Y], v[nt.lam])
            return objective(loss, W, v[nt.Phi], v[nt.Y], v[nt.lam], 0) + v[nt.mu] / 2 * sum(u**2 for u in v[nt.U])

        return AllOf(Identity("T1 at K = ΨᵀMΨ = T1 at size p in (M, Ỹ) + constant", sizes=sizes, sample=sample,
                              seed=seed),
                     AgainstTruth("min_W L(W, UΨ) + (μ/2)‖U‖² with W* solved entrywise", truth,
                                  lambda: instances_at(sizes, seed + 100, sample)))

    @staticmethod
    def _exact_M_dot(loss, v) -> sp.Matrix:
        U, Psi = v[nt.U], v[nt.Psi]
        W = exact_optimal_readout(loss, v[nt.Phi], v[nt.Y], v[nt.lam])
        free = symbolic_matrix("u", *U.shape)
        L = objective(loss, W, free * Psi, v[nt.Y], v[nt.lam], 0) + v[nt.mu] / 2 * sum(x**2 for x in free)
        U_dot = -sp.Matrix(*U.shape, gradient_at(L, free, dict(zip(free, U))))
        return U_dot.T * U + U.T * U_dot

    def _steady_state_check(self, loss, seed) -> Predicate:
        """λ = μ = 1, Ỹ = [diag(q) 0]Vᵀ with q_i = 1 + r_i²: κ_i = rhs(s̃ = q_i²) (for the law, q_i − 1 = r_i², a rational
        square), U∞ = diag(√κ_i)V₁ᵀ (V₁ the first C columns of V), Y = ỸΨ + Z(I − ΨᵀΨ) with a component outside the
        features (p < n); both entrywise gradients of the objective must vanish at (W*(U∞Ψ), U∞)."""
        rng = random.Random(seed)
        C = loss.C
        cases = []
        for n, p in ((C + 2, C + 1), (C + 3, C + 1)):
            Psi = sp.ImmutableMatrix(rational_orthogonal(rng, n)[:p, :])
            V = rational_orthogonal(rng, p)
            q = [1 + rational(rng, positive=True) ** 2 for _ in range(C)]
            Yt = sp.Matrix(C, p, lambda i, j, q=q: q[i] if i == j else 0) * V.T
            Y = Yt * Psi + rational_matrix(rng, C, n) * (sp.eye(n) - Psi.T * Psi)
            cases.append((f"n={n}, p={p}, C={C}, λ = μ = 1", Psi, V, q, Y))

        def decide(lhs, rhs):
            trials = []
            for label, Psi, V, q, Y in cases:
                trials.append(label)
                kappas = [rhs.subs({nt.s: x**2, nt.lam: 1, nt.mu: 1}) for x in q]
                if any(not (k.is_real and k >= 0) for k in kappas):
                    return False, trials, f"κ = {kappas} is not a valid spectrum at {label}"
                U = sp.Matrix(C, Psi.shape[0], lambda i, j: sp.sqrt(kappas[i]) if i == j else 0) * V.T
                W = exact_optimal_readout(loss, U * Psi, Y, 1)
                wfree, ufree = symbolic_matrix("w", *W.shape), symbolic_matrix("u", *U.shape)
                L = objective(loss, wfree, ufree * Psi, Y, 1, 0) + sum(x**2 for x in ufree) / 2
                point = dict(zip(wfree, W)) | dict(zip(ufree, U))
                grad = sp.Matrix(gradient_at(L, list(wfree) + list(ufree), point))
                ok, _, detail = compare(grad, sp.zeros(*grad.shape))
                if not ok:
                    return False, trials, f"∂L/∂(W, U) ≠ 0 at {label}: {detail}"
            return True, trials, ""

        return Predicate("the law with Ỹ = YΨᵀ gives an exact stationary point of the fixed-feature model", decide,
                         "exact evaluation of the entrywise gradient")


@lru_cache(maxsize=None)
def derive_fixed_features(C: int = 2) -> FixedFeatureCompression:
    """T9's reduction for C outputs (squared loss), certified and cached."""
    if isinstance(C, bool) or not isinstance(C, int) or C < 1:
        raise ValueError(f"C must be a positive int (number of outputs), got {C!r}")
    return FixedFeatureCompression(C)


@lru_cache(maxsize=None)
def reduction_certificate(rows: str = "orthonormal", C: int = 2, seed: int = 0) -> Certificate:
    """The resolvent, push-through and objective reduction re-certified with Ψ of the kind ``rows``.

    With ``rows="generic"`` (ΨΨᵀ ≠ I_p) the certificate fails: the reduction needs orthonormal rows.
    """
    if rows not in ROWS:
        raise ValueError(f"rows must be one of {ROWS}, got {rows!r}")
    t9 = derive_fixed_features(C)
    sizes, sample = _sizes(C), _sampler(rows)
    resolvent = (t9.K + nt.lam * nt.I_n).I
    parts = [Identity("resolvent", sizes=sizes, sample=sample, seed=seed).run(resolvent, t9.resolvent),
             Identity("push-through", sizes=sizes, sample=sample, seed=seed).run(resolvent * nt.Psi.T, t9.push_through),
             t9._objective_check(t9.loss, sizes, seed + 1, rows).run(t9.reduced_at_K, t9.reduced_objective)]

    def decide(lhs, rhs):
        failed = [c for c in parts if not c.passed]
        return not failed, [t for c in parts for t in c.trials], "; ".join(f"{c.identity}: {c.detail}" for c in failed)

    return Predicate(f"T9 reduction with {rows} Ψ", decide, "exact evaluation").run(sp.Symbol("T9 reduction"),
                                                                                    sp.Symbol(rows))
