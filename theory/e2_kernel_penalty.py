"""E2 — a penalty on the kernel itself: (ν/4)‖K‖²_F added to the decay, derived with the public builder.

    L(W, Φ) = ½‖WΦ − Y‖²_F + (λ/2)‖W‖²_F + (μ/2)‖Φ‖²_F + (ν/4)‖ΦᵀΦ‖²_F.

The penalty does not involve W, so the readout is eliminated as in T1 (W* = Y(K + λI)⁻¹Φᵀ, certified again by
the exact derivative of this L, and T1's push-through reused); the feature flow and the kernel ODE become

    Φ̇ = Φ(D − μI − νK),   dK/dt = K D + D K − 2μK − 2νK²,   D = λ(K + λI)⁻¹S(K + λI)⁻¹.

Steady states: with A = D − μI − νK, KA + AK = 0 and K ⪰ 0 give AK = 0 (T4's lemma, reused), and then
K = (μI + νK)⁻¹ D K, so rank K ≤ rank D ≤ C still. On a common eigenbasis of K and S a mode follows
κ̇ = 2κ g(κ), g(κ) = λs/(κ + λ)² − μ − νκ; g is strictly decreasing with g(0) = s/λ − μ, so a mode fills iff
s > λμ — **the threshold of T3 is unchanged** — to the unique root of (κ + λ)²(μ + νκ) = λs (a cubic, below
T3's level √(λs/μ) − λ), and that root is stable. The law is "water-filling with a rising floor".

>>> e2 = derive_kernel_penalty(2)
>>> e2.certified
True
>>> e2.results["level_equation"]
-lambda*s + (kappa + lambda)**2*(kappa*nu + mu)
"""
from __future__ import annotations

import random
from functools import lru_cache

import sympy as sp

from theory import limits, losses, notation as nt
from theory.certify import AllOf, Predicate, Signs, SymbolicZero, evaluate, rational, standard_instance
from theory.derivation_builder import BuiltDerivation, DerivationBuilder
from theory.matrix_algebra import to_scalar
from theory.t1_readout import derive_readout
from theory.t2_kernel_ode import K_dot, Phi_dot
from theory.t4_rank_lemma import derive_rank_lemma

#: the strength of the penalty on K
nu = sp.Symbol("nu", positive=True)
dL_dW, dL_dPhi = sp.MatrixSymbol("dL/dW", nt.C, nt.m), sp.MatrixSymbol("dL/dPhi", nt.m, nt.n)
#: a mode's value where it is a positive fixed point (for the stability sign)
kappa_pos = sp.Symbol("kappa", positive=True)


def objective(W, Phi):
    """L(W, Φ) = ½ tr(RRᵀ) + (λ/2) tr(WWᵀ) + (μ/2) tr(ΦΦᵀ) + (ν/4) tr((ΦᵀΦ)²), R = WΦ − Y."""
    residual = W * Phi - nt.Y
    return (sp.Trace(residual * residual.T) / 2 + nt.lam / 2 * sp.Trace(W * W.T) + nt.mu / 2 * sp.Trace(Phi * Phi.T)
            + nu / 4 * sp.Trace(Phi.T * Phi * Phi.T * Phi))


def _with_nu(rng: random.Random, dims) -> dict:
    values = standard_instance(rng, dims)
    values[nu] = rational(rng, positive=True)
    return values


def _diagonal(seed: int):
    """Commuting K, S: diagonal with random rational eigenvalues (κ ≥ 0, s > 0), and ν > 0."""
    rng = random.Random(seed)
    cases = []
    for size in (3, 4):
        kappas = [rational(rng, positive=True) for _ in range(size - 1)] + [sp.Integer(0)]
        ss = [rational(rng, positive=True) for _ in range(size)]
        values = {nt.n: size, nt.K: sp.ImmutableMatrix(sp.diag(*kappas)), nt.S: sp.ImmutableMatrix(sp.diag(*ss)),
                  nt.lam: rational(rng, positive=True), nt.mu: rational(rng, positive=True),
                  nu: rational(rng, positive=True)}
        cases.append((f"n={size}, diagonal K and S", values))
    return cases


SIZES = ({nt.n: 3, nt.m: 3, nt.C: 2}, {nt.n: 4, nt.m: 2, nt.C: 2}, {nt.n: 3, nt.m: 4, nt.C: 3})


def build_kernel_penalty(C: int = 2, seed: int = 0) -> BuiltDerivation:
    """E2's derivation (module docstring) for C outputs, built step by step with :class:`DerivationBuilder`."""
    C = limits.check_outputs(C)
    sizes = tuple({**d, nt.C: C} for d in SIZES)
    build = DerivationBuilder("E2", "a penalty (ν/4)‖K‖²_F on the kernel: kernel ODE, rank ≤ C, the same threshold, "
                              "a cubic level", seed=seed)
    L = objective(nt.W, nt.Phi)
    build.define("model", "squared loss, ℓ2 decay on W and Φ, and (ν/4)‖K‖²_F with K = ΦᵀΦ", sp.Symbol("L"), L)
    grad_W = (nt.W * nt.Phi - nt.Y) * nt.Phi.T + nt.lam * nt.W
    build.gradient("readout gradient", "∂L/∂W = (WΦ − Y)Φᵀ + λW: the penalty does not involve W", dL_dW, grad_W,
                   objective=L, variable=nt.W, sizes=sizes, sample=_with_nu)
    W_star = nt.Y * (nt.K + nt.lam * nt.I_n).I * nt.Phi.T
    build.reuse(derive_readout(losses.squared(C)), "push-through")
    build.identity("optimal readout", "W* = Y(K + λI)⁻¹Φᵀ (T1's readout) solves ∂L/∂W = 0",
                   grad_W.xreplace({nt.W: W_star}), sp.ZeroMatrix(nt.C, nt.m), sizes=sizes, sample=_with_nu)

    K_of_Phi = {nt.K: nt.Phi.T * nt.Phi}
    drive = nt.lam * (nt.K + nt.lam * nt.I_n).I * nt.S * (nt.K + nt.lam * nt.I_n).I
    grad_Phi = nt.Phi * (nt.mu * nt.I_n + nu * nt.K - drive)
    build.gradient("feature gradient", "∇_Φ L(W*(Φ), Φ) = Φ(μI + νK − D), D = λ(K + λI)⁻¹S(K + λI)⁻¹", dL_dPhi,
                   grad_Phi, objective=L.xreplace({nt.W: W_star}).xreplace(K_of_Phi), variable=nt.Phi,
                   sizes=sizes, sample=_with_nu, substitute=K_of_Phi)
    flow = -grad_Phi
    rhs = nt.K * drive + drive * nt.K - 2 * nt.mu * nt.K - 2 * nu * nt.K * nt.K
    build.identity("kernel ODE", "K̇ = Φ̇ᵀΦ + ΦᵀΦ̇ = K D + D K − 2μK − 2νK² (closed in K)", K_dot, rhs,
                   sizes=sizes, sample=_with_nu, substitute={K_dot: flow.T * nt.Phi + nt.Phi.T * flow, Phi_dot: flow})

    build.reuse(derive_rank_lemma(), "range K ⊆ ker A")
    A = drive - nt.mu * nt.I_n - nu * nt.K
    P = (nt.mu * nt.I_n + nu * nt.K).I
    build.identity("rank at steady states", "K − (μI + νK)⁻¹DK = −(μI + νK)⁻¹(D − μI − νK)K: where AK = 0, "
                   "K = (μI + νK)⁻¹DK, so rank K ≤ rank D ≤ C", nt.K - P * drive * nt.K, -P * A * nt.K,
                   sizes=sizes, sample=_with_nu)

    # the mode function by SymPy from the derived rhs (each matrix → its eigenvalue), checked on diagonal K, S
    mode_rhs = sp.factor(sp.together(to_scalar(rhs, {nt.K: nt.kappa, nt.S: nt.s})))
    build.add("mode ODE", "commuting K, S: each eigenpair (κ, s) follows κ̇ = 2κ(λs/(κ + λ)² − μ − νκ)",
              sp.Symbol("dkappa/dt"), mode_rhs,
              Predicate("the mode function at each eigenpair = the diagonal of K̇ on diagonal K, S (off-diagonal 0)",
                        lambda lhs, mode: _on_diagonals(rhs, mode, _diagonal(seed + 11)),
                        "exact evaluation on diagonal K, S"))
    g = sp.cancel(mode_rhs / (2 * nt.kappa))  # κ̇ = 2κ·g(κ)
    build.symbolic("empty mode", "g(0) = s/λ − μ: an empty mode grows iff s > λμ (T3's threshold)",
                   g.subs(nt.kappa, 0), nt.s / nt.lam - nt.mu)
    build.add("g decreasing", "g′(κ) = −2λs/(κ + λ)³ − ν < 0 for κ ≥ 0: at most one filled level, stable "
              "(d/dκ 2κg = 2κg′ < 0 at a root)", sp.Derivative(g, nt.kappa),
              -2 * nt.lam * nt.s / (nt.kappa + nt.lam) ** 3 - nu,
              AllOf(SymbolicZero("g′ by SymPy's diff = the stated form", lambda lhs, rhs: lhs.doit() - rhs),
                    Signs("g′ < 0 and 2κg′ < 0 at κ > 0", lambda lhs, rhs: [
                        ("g′(κ)", rhs, "negative"),
                        ("2κg′(κ), κ > 0", 2 * kappa_pos * rhs.subs(nt.kappa, kappa_pos), "negative")],
                        "λ, μ, ν, s > 0, κ ≥ 0")))
    build.symbolic("filled level", "g(κ)(κ + λ)² = λs − (κ + λ)²(μ + νκ): a filled level is the positive root of "
                   "the cubic (κ + λ)²(μ + νκ) = λs (ν = 0 gives T3's √(λs/μ) − λ)",
                   g * (nt.kappa + nt.lam) ** 2, nt.lam * nt.s - (nt.kappa + nt.lam) ** 2 * (nt.mu + nu * nt.kappa))
    return build.build(objective=L, readout=W_star, drive=drive, rhs=rhs, mode_rhs=mode_rhs,
                       level_equation=(nt.kappa + nt.lam) ** 2 * (nt.mu + nu * nt.kappa) - nt.lam * nt.s)


def _on_diagonals(rhs, mode, cases):
    """(passed, trials, detail): the matrix ``rhs`` evaluated exactly on diagonal K, S is diagonal, with entry i equal
    to ``mode`` at (κ, s) = (K_ii, S_ii)."""
    trials = []
    for label, values in cases:
        value = sp.Matrix(evaluate(rhs, values))
        trials.append(label)
        for i in range(value.rows):
            at = {nt.kappa: values[nt.K][i, i], nt.s: values[nt.S][i, i],
                  **{k: v for k, v in values.items() if isinstance(k, sp.Symbol)}}
            if sp.simplify(sp.sympify(mode).xreplace(at) - value[i, i]) != 0:
                return False, trials, f"at {label}, mode {i}: {sp.sympify(mode).xreplace(at)} ≠ {value[i, i]}"
            if any(value[i, j] != 0 for j in range(value.cols) if j != i):
                return False, trials, f"at {label}: K̇ is not diagonal"
    return True, trials, ""


@lru_cache(maxsize=None)
def derive_kernel_penalty(C: int = 2) -> BuiltDerivation:
    """E2 for C outputs (cached): every step certified; ``results`` hold the drive, the kernel ODE's rhs (in K, S,
    λ, μ, ν), the mode ODE and the cubic whose positive root is a filled level."""
    with limits.time_limit(f"derive_kernel_penalty({C})"):
        return build_kernel_penalty(C)

